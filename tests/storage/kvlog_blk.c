/* tests/storage/kvlog_blk.c - the log on a block device (logdev_blk.c),
 * on a disk image through blkdev_file.c:
 * - a blank disk is formatted, and what was put is there after reopening;
 * - bytes written after the last sync (a crash before the answer) are past
 *   the log's length: the next open sees the log as of that sync;
 * - a header torn by a crash leaves the other one in charge;
 * - a disk holding something else is refused (EMEDIUMTYPE) and left as it
 *   was; both headers damaged is EBADMSG; a disk too small is ENOSPC;
 * - a full disk: the Put fails with ENOSPC, the map is unchanged, and
 *   every Put answered before is there after reopening;
 * - an explicit format lays out an empty log over anything but a log of
 *   ours: one with records (EEXIST) or with both headers damaged
 *   (EBADMSG) is left as it was;
 * - damage inside the log's length is refused (EBADMSG) with nothing
 *   changed, in the middle and at the end alike: the length covers
 *   answered records only, so a last record it cuts short is not an
 *   append torn by a crash (that one lies past the length, above). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/storage/kvlog.h"
#include "examples/storage/logdev.h"
#include "tests/testutil.h"

#define CHECK TU_CHECK

static char img[256];

static int make_image(size_t bytes, int fill)
{
	uint8_t *z = malloc(bytes);
	int fd, ok;

	if (z == NULL)
		return -1;
	memset(z, fill, bytes);
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok = fd >= 0 && write(fd, z, bytes) == (ssize_t)bytes;
	if (fd >= 0)
		close(fd);
	free(z);
	return ok ? 0 : -1;
}

static struct logdev *open_log(char *why, size_t size)
{
	return logdev_blk_open(blkdev_open(img), why, size);
}

static struct kvlog *open_kv(void)
{
	char why[160];

	return kvlog_open_dev(open_log(why, sizeof(why)), NULL);
}

static int has(struct kvlog *kv, const char *key, const char *val)
{
	size_t n;
	const uint8_t *v = kvlog_get(kv, key, &n);

	return v != NULL && n == strlen(val) && memcmp(v, val, n) == 0;
}

static int put_str(struct kvlog *kv, const char *key, const char *val)
{
	return kvlog_put(kv, key, (const uint8_t *)val, strlen(val));
}

static int formats_and_keeps(void)
{
	char why[160], key[32], val[64];
	struct kvlog *kv;
	struct logdev *d;

	CHECK(make_image(1 << 20, 0) == 0);
	d = open_log(why, sizeof(why));
	CHECK(d != NULL && strstr(why, "formatted a blank disk") != NULL);
	kv = kvlog_open_dev(d, NULL);
	CHECK(kv != NULL);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value %d of a record", i);
		CHECK(put_str(kv, key, val) == 0);
	}
	CHECK(kvlog_delete(kv, "k7") == 1);
	kvlog_close(kv);
	d = open_log(why, sizeof(why));
	CHECK(d != NULL && why[0] == '\0');
	kv = kvlog_open_dev(d, NULL);
	CHECK(kv != NULL);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "value %d of a record", i);
		CHECK(i == 7 ? kvlog_get(kv, key, &(size_t){0}) == NULL
			     : has(kv, key, val));
	}
	kvlog_close(kv);
	return 0;
}

/* Bytes written but never synced are not part of the log. */
static int unsynced_is_past_the_end(void)
{
	char why[160];
	uint64_t size, after;
	struct logdev *d = open_log(why, sizeof(why));
	struct kvlog *kv;

	CHECK(d != NULL && d->ops->size(d, &size) == 0 && size > 0);
	CHECK(d->ops->write_at(d, size, "garbage that no sync covers", 27) ==
	      0);
	d->ops->close(d);
	d = open_log(why, sizeof(why));
	CHECK(d != NULL && d->ops->size(d, &after) == 0 && after == size);
	kv = kvlog_open_dev(d, NULL);
	CHECK(kv != NULL && has(kv, "k1", "value 1 of a record"));
	kvlog_close(kv);
	return 0;
}

/* Flip one byte of the sector at `off` of the image. */
static int damage(off_t off)
{
	uint8_t c;
	int fd = open(img, O_RDWR);

	if (fd < 0 || pread(fd, &c, 1, off) != 1)
		return -1;
	c ^= 0x5a;
	if (pwrite(fd, &c, 1, off) != 1)
		return -1;
	return close(fd);
}

static int torn_header(void)
{
	struct kvlog *kv = open_kv();
	uint64_t before;
	char why[160];
	struct logdev *d;

	CHECK(kv != NULL && put_str(kv, "last", "one") == 0);
	kvlog_close(kv);
	/* The header written last is in one slot of two; tear each in turn
	 * (a crash in the middle of writing it): the other takes over. */
	d = open_log(why, sizeof(why));
	CHECK(d != NULL && d->ops->size(d, &before) == 0);
	d->ops->close(d);
	for (int slot = 0; slot < 2; slot++) {
		uint64_t size;

		CHECK(damage(slot * 4096 + 20) == 0);
		d = open_log(why, sizeof(why));
		CHECK(d != NULL && d->ops->size(d, &size) == 0);
		CHECK(size <= before);
		d->ops->close(d);
		CHECK(damage(slot * 4096 + 20) == 0); /* mended */
	}
	/* Both damaged: refused, nothing guessed. */
	CHECK(damage(20) == 0 && damage(4096 + 20) == 0);
	errno = 0;
	CHECK(open_log(why, sizeof(why)) == NULL && errno == EBADMSG);
	CHECK(strstr(why, "both headers") != NULL);
	CHECK(damage(20) == 0 && damage(4096 + 20) == 0);
	kv = open_kv();
	CHECK(kv != NULL && has(kv, "last", "one"));
	kvlog_close(kv);
	return 0;
}

static int refusals(void)
{
	char why[160];
	uint8_t b;
	int fd;

	/* Something else on the disk: refused, and not one byte changed. */
	CHECK(make_image(1 << 20, 0x33) == 0);
	errno = 0;
	CHECK(open_log(why, sizeof(why)) == NULL && errno == EMEDIUMTYPE);
	CHECK(strstr(why, "something else") != NULL);
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &b, 1, 0) == 1 && b == 0x33);
	close(fd);
	/* Too small for a log. */
	CHECK(make_image(LOGDEV_BLK_MIN_BYTES - 512, 0) == 0);
	errno = 0;
	CHECK(open_log(why, sizeof(why)) == NULL && errno == ENOSPC);
	CHECK(strstr(why, "needs at least") != NULL);
	/* Not a disk at all. */
	errno = 0;
	CHECK(logdev_blk_open(blkdev_open("/nonexistent/disk.img"), why,
			      sizeof(why)) == NULL &&
	      errno == ENOENT);
	return 0;
}

static int full_disk(void)
{
	char key[32], val[1000];
	struct kvlog *kv;
	int i, answered = 0;

	CHECK(make_image(LOGDEV_BLK_MIN_BYTES, 0) == 0);
	kv = open_kv();
	CHECK(kv != NULL);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		if (put_str(kv, key, val) < 0)
			break;
		answered++;
	}
	CHECK(i < 1000 && errno == ENOSPC && answered > 0);
	CHECK(kvlog_get(kv, key, &(size_t){0}) == NULL);
	/* Still usable: reads go on, and the next Put is refused as full
	 * again (not as a broken log). A delete makes room for nothing: it
	 * is a record too, refused the same way; deleting a key that is not
	 * there writes nothing. */
	CHECK(has(kv, "f0", val));
	errno = 0;
	CHECK(put_str(kv, key, val) < 0 && errno == ENOSPC);
	/* Smaller records fill what is left, down to a record of 14 bytes
	 * (key "z", no value): then even the delete of "f0" (15) cannot fit. */
	for (size_t n = sizeof(val) - 1; n-- > 0;)
		while (kvlog_put(kv, "z", (const uint8_t *)val, n) == 0)
			;
	CHECK(errno == ENOSPC);
	errno = 0;
	CHECK(kvlog_delete(kv, "f0") < 0 && errno == ENOSPC &&
	      has(kv, "f0", val));
	CHECK(kvlog_delete(kv, "absent") == 0);
	kvlog_close(kv);
	kv = open_kv();
	CHECK(kv != NULL);
	for (i = 0; i < answered; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		CHECK(has(kv, key, val));
	}
	kvlog_close(kv);
	return 0;
}

/* A copy of the whole image, to tell that nothing was changed. */
static uint8_t *image(size_t *n)
{
	int fd = open(img, O_RDONLY);
	off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	uint8_t *p = end > 0 ? malloc((size_t)end) : NULL;

	if (p != NULL && pread(fd, p, (size_t)end, 0) != (ssize_t)end) {
		free(p);
		p = NULL;
	}
	if (fd >= 0)
		close(fd);
	*n = (size_t)end;
	return p;
}

static int unchanged(const uint8_t *before, size_t n)
{
	size_t m;
	uint8_t *now = image(&m);
	int same = now != NULL && m == n && memcmp(now, before, n) == 0;

	free(now);
	return same;
}

static int format(void)
{
	const char **keys;
	char why[160];
	uint8_t *before;
	size_t n;
	struct kvlog *kv;

	/* Something else on the disk: formatted when asked. */
	CHECK(make_image(1 << 20, 0x33) == 0);
	CHECK(logdev_blk_format(blkdev_open(img), why, sizeof(why)) == 0);
	CHECK(strstr(why, "formatted the disk") != NULL);
	kv = open_kv();
	CHECK(kv != NULL);
	keys = kvlog_list(kv, "", &n);
	CHECK(keys != NULL && n == 0);
	free(keys);
	/* An empty log of ours may be formatted again; one with records is
	 * never thrown away. */
	kvlog_close(kv);
	CHECK(logdev_blk_format(blkdev_open(img), why, sizeof(why)) == 0);
	kv = open_kv();
	CHECK(kv != NULL && put_str(kv, "kept", "yes") == 0);
	kvlog_close(kv);
	before = image(&n);
	CHECK(before != NULL);
	errno = 0;
	CHECK(logdev_blk_format(blkdev_open(img), why, sizeof(why)) < 0 &&
	      errno == EEXIST && strstr(why, "a format would lose") != NULL);
	CHECK(unchanged(before, n));
	/* Both headers damaged: records may be behind them. */
	CHECK(damage(20) == 0 && damage(4096 + 20) == 0);
	free(before);
	before = image(&n);
	CHECK(before != NULL);
	errno = 0;
	CHECK(logdev_blk_format(blkdev_open(img), why, sizeof(why)) < 0 &&
	      errno == EBADMSG && strstr(why, "both headers") != NULL);
	CHECK(unchanged(before, n));
	free(before);
	CHECK(damage(20) == 0 && damage(4096 + 20) == 0);
	kv = open_kv();
	CHECK(kv != NULL && has(kv, "kept", "yes"));
	kvlog_close(kv);
	/* Too small is too small, asked or not. */
	CHECK(make_image(LOGDEV_BLK_MIN_BYTES - 512, 0x33) == 0);
	errno = 0;
	CHECK(logdev_blk_format(blkdev_open(img), why, sizeof(why)) < 0 &&
	      errno == ENOSPC && strstr(why, "needs at least") != NULL);
	return 0;
}

/* Records k0..k4 of 17 bytes each ("kN" = "vN") on a new disk. */
static int five_records(void)
{
	struct kvlog *kv;
	char key[16], val[16];

	CHECK(make_image(1 << 20, 0) == 0);
	kv = open_kv();
	CHECK(kv != NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i);
		CHECK(put_str(kv, key, val) == 0);
	}
	kvlog_close(kv);
	return 0;
}

/* Open the log on the image expecting EBADMSG at `at`, with `text` in
 * the reason, and the image unchanged. */
static int refused_at(uint64_t at, const char *text)
{
	struct kvlog_status st;
	uint8_t *before;
	size_t n;
	struct kvlog *kv;
	char why[160];

	before = image(&n);
	CHECK(before != NULL);
	errno = 0;
	kv = kvlog_open_dev(open_log(why, sizeof(why)), &st);
	if (kv != NULL || errno != EBADMSG || st.offset != at ||
	    strstr(st.why, text) == NULL)
		fprintf(stderr, "open: %s, at %llu: %s\n", strerror(errno),
			(unsigned long long)st.offset, st.why);
	CHECK(kv == NULL && errno == EBADMSG && st.offset == at);
	CHECK(strstr(st.why, text) != NULL);
	CHECK(unchanged(before, n));
	free(before);
	return 0;
}

static int damaged_log(void)
{
	char why[160];
	struct logdev *d;
	uint64_t size;

	/* A bad byte in the key of the third record (at 34 + 13). */
	CHECK(five_records() == 0);
	CHECK(damage(8192 + 34 + 13) == 0);
	CHECK(refused_at(34, "checksum") == 0);
	/* The header's length cuts the last record short: on a file that
	 * would be a torn append, cut off; here it was answered. */
	CHECK(five_records() == 0);
	d = open_log(why, sizeof(why));
	CHECK(d != NULL && d->ops->size(d, &size) == 0 && size == 85);
	CHECK(d->ops->truncate(d, 80) == 0 && d->ops->sync(d) == 0);
	d->ops->close(d);
	CHECK(refused_at(68, "synced") == 0);
	return 0;
}

int main(void)
{
	const char *dir = getenv("VCHAN_TEST_TMP");
	struct tu_scenarios r = {0};

	snprintf(img, sizeof(img), "%s/kvlog_blk.%d.img", dir ? dir : "/tmp",
		 (int)getpid());
	TU_SCENARIO(&r, "formats and keeps", formats_and_keeps());
	TU_SCENARIO(&r, "unsynced is past the end", unsynced_is_past_the_end());
	TU_SCENARIO(&r, "torn header", torn_header());
	TU_SCENARIO(&r, "refusals", refusals());
	TU_SCENARIO(&r, "full disk", full_disk());
	TU_SCENARIO(&r, "format", format());
	TU_SCENARIO(&r, "damaged log", damaged_log());
	unlink(img);
	return tu_scenarios_done(&r);
}
