/* tests/unikernel/uk-blk.c - the block front end against a real back end:
 * open the disk the xl config attached (argv[1]: its name, default the
 * first), print its size and features, write a pattern over up to 4 MiB
 * of it in requests of many sizes (one sector, a full request of 11
 * pages, several requests in flight) from buffers at odd addresses,
 * flush, read it all back (one call, and again in other pieces) and
 * compare, check that reading past the end fails at once, then close,
 * open again and read the start once more. Prints one line
 * "uk-blk: PASS ..." and exits 0, or "uk-blk: FAIL <why>" and exits 1.
 * Each sector starts with the text "uk-blk sector NNNNNNNN", which dom0
 * can look for in the disk's file afterwards. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unikernel/blk.h"
#include "unikernel/uk.h"

#define MAX_SECTORS 8192u /* 4 MiB */

static void fill(uint8_t *p, uint64_t sector, size_t count)
{
	for (size_t s = 0; s < count; s++, p += UK_BLK_SECTOR) {
		int n =
		    snprintf((char *)p, UK_BLK_SECTOR, "uk-blk sector %08llu\n",
			     (unsigned long long)(sector + s));

		for (size_t i = (size_t)n; i < UK_BLK_SECTOR; i++)
			p[i] = (uint8_t)((sector + s) * 131u + i * 7u);
	}
}

static int fail(const char *what, int err)
{
	printf("uk-blk: FAIL %s: %s\n", what, strerror(err));
	return 1;
}

static double mbps(size_t sectors, uint64_t ns)
{
	return ns == 0 ? 0 : (double)sectors * UK_BLK_SECTOR * 1e3 / (double)ns;
}

int main(int argc, char **argv)
{
	/* Pieces to write in, in sectors: one, one page, a page and one,
	 * a full request (11 pages), one sector more (two requests), and
	 * the rest in large calls that keep every slot busy. */
	static const size_t pieces[] = {1, 8, 9, 88, 89, 3, 704, 1000};
	const char *name = argc > 1 ? argv[1] : NULL;
	struct uk_blk_info info;
	uint8_t *want, *wbase, *rbase, *got;
	uint64_t t0, t_w, t_r, n;
	size_t done = 0, calls = 0, k = 0;
	uk_blk *b;
	int err;

	t0 = uk_now_ns();
	b = uk_blk_open(name);
	if (b == NULL)
		return fail("open", errno);
	uk_blk_info(b, &info);
	printf("uk-blk: disk %s of domain %u: %llu sectors (%llu KiB), "
	       "block %u bytes, %s, flush %s, open took %llu ms\n",
	       info.vdev, info.backend_id, (unsigned long long)info.sectors,
	       (unsigned long long)info.sectors / 2, info.sector_size,
	       info.read_only ? "read-only" : "read-write",
	       info.flush == UK_BLK_FLUSH_CACHE	    ? "cache"
	       : info.flush == UK_BLK_FLUSH_BARRIER ? "barrier"
						    : "none (write-through)",
	       (unsigned long long)((uk_now_ns() - t0) / 1000000));
	if (info.read_only)
		return fail("disk", EROFS);
	if (info.sector_size != UK_BLK_SECTOR)
		return fail("this test needs 512-byte blocks", EINVAL);
	n = info.sectors < MAX_SECTORS ? info.sectors : MAX_SECTORS;
	/* One byte and three bytes past malloc's alignment. */
	wbase = malloc(n * UK_BLK_SECTOR + 1);
	rbase = malloc(n * UK_BLK_SECTOR + 3);
	if (wbase == NULL || rbase == NULL)
		return fail("malloc", ENOMEM);
	want = wbase + 1;
	got = rbase + 3;
	fill(want, 0, n);

	t0 = uk_now_ns();
	while (done < n) {
		size_t c = pieces[k];

		if (k + 1 < sizeof(pieces) / sizeof(pieces[0]))
			k++;
		if (c > n - done)
			c = n - done;
		if (uk_blk_write(b, done, want + done * UK_BLK_SECTOR, c) < 0)
			return fail("write", errno);
		done += c;
		calls++;
	}
	if (uk_blk_flush(b) < 0)
		return fail("flush", errno);
	t_w = uk_now_ns() - t0;

	memset(got, 0, n * UK_BLK_SECTOR);
	t0 = uk_now_ns();
	if (uk_blk_read(b, 0, got, n) < 0)
		return fail("read", errno);
	t_r = uk_now_ns() - t0;
	if (memcmp(got, want, n * UK_BLK_SECTOR) != 0)
		return fail("read back (one call) differs", EIO);
	/* Again in odd pieces, into an odd place. */
	memset(got, 0, n * UK_BLK_SECTOR);
	for (size_t s = 0; s < n;) {
		size_t c = n - s < 37 ? n - s : 37;

		if (uk_blk_read(b, s, got + s * UK_BLK_SECTOR, c) < 0)
			return fail("read in pieces", errno);
		s += c;
	}
	if (memcmp(got, want, n * UK_BLK_SECTOR) != 0)
		return fail("read back (pieces) differs", EIO);

	/* Past the end: refused at once, never sent. */
	if (uk_blk_read(b, info.sectors - 1, got, 2) == 0 || errno != ERANGE)
		return fail("read across the end did not fail with ERANGE",
			    errno);
	if (uk_blk_read(b, info.sectors, got, 1) == 0 || errno != ERANGE)
		return fail("read past the end did not fail with ERANGE",
			    errno);
	if (uk_blk_read(b, 0, got, 0) < 0)
		return fail("read of nothing", errno);

	/* Close, open again (the back end reconnects), read the start. */
	if (uk_blk_close(b) < 0)
		return fail("close", errno);
	b = uk_blk_open(name);
	if (b == NULL)
		return fail("second open", errno);
	memset(got, 0, 64 * UK_BLK_SECTOR);
	if (uk_blk_read(b, 0, got, 64) < 0)
		return fail("read after the second open", errno);
	if (memcmp(got, want, 64 * UK_BLK_SECTOR) != 0)
		return fail("data after the second open differs", EIO);
	err = uk_blk_close(b) < 0 ? errno : 0;
	if (err != 0)
		return fail("second close", err);
	printf("uk-blk: PASS %llu sectors written in %zu calls, flushed, "
	       "read back equal (one call and 37-sector pieces); writes+flush "
	       "%.2f MB/s, one read %.2f MB/s; past the end: ERANGE; closed, "
	       "reopened, data still there\n",
	       (unsigned long long)n, calls, mbps(n, t_w), mbps(n, t_r));
	return 0;
}
