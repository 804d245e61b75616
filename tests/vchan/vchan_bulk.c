/* tests/vchan/vchan_bulk.c - 1 GiB (64 MiB under VCHAN_TEST_QUICK) from
 * server to client over 1 MiB rings, written in uneven pieces, checked by
 * a hash of everything sent against a hash of everything received. The
 * first half goes through write/read, the second through the zero-copy
 * calls (reserve/commit, peek/consume). */
#include "config.h"

#include <stdlib.h>

#include "tests/vchan/vtest.h"

#define BLOCK	 (1u << 20)
#define LIMIT_MS 60000

struct ctx {
	struct tu_chan pipe;
	char path[256];
	size_t blocks;
};

static uint64_t hash_block(uint64_t h, const uint8_t *b)
{
	for (size_t i = 0; i < BLOCK; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 31;
	}
	return h;
}

static void gen_block(uint8_t *b, uint64_t *state)
{
	uint64_t x = *state;

	for (size_t i = 0; i < BLOCK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	*state = x;
}

static int send_zero_copy(struct vchan *ch, const uint8_t *b, size_t n)
{
	while (n > 0) {
		struct iovec seg[2];
		size_t k = n < 200000 ? n : 200000, off = 0;
		int s = vchan_reserve(ch, k, seg);

		CHECK(s == 1 || s == 2);
		for (int i = 0; i < s; i++) {
			memcpy(seg[i].iov_base, b + off, seg[i].iov_len);
			off += seg[i].iov_len;
		}
		CHECK(off == k);
		CHECK(vchan_commit(ch, k) == 0);
		b += k;
		n -= k;
	}
	return 0;
}

static int server(void *arg)
{
	static const size_t sizes[] = {65521, 4099, 1, 300007, 131072, 77};
	struct ctx *c = arg;
	uint8_t *b = malloc(BLOCK);
	uint64_t state = 0x1234567887654321ull, h = 0;
	struct vchan *ch;
	size_t z = 0;

	CHECK(b != NULL);
	ch = vchan_server_create(CLI_DOMID, c->path, 1u << 20, 1u << 20);
	CHECK(ch != NULL);
	for (size_t blk = 0; blk < c->blocks; blk++) {
		gen_block(b, &state);
		h = hash_block(h, b);
		if (blk >= c->blocks / 2) {
			CHECK(send_zero_copy(ch, b, BLOCK) == 0);
			continue;
		}
		for (size_t off = 0; off < BLOCK;) {
			size_t k = sizes[z++ % 6];

			if (k > BLOCK - off)
				k = BLOCK - off;
			CHECK(vt_write_all(ch, b + off, k) == 0);
			off += k;
		}
	}
	CHECK(tu_send(&c->pipe, 1, &h, sizeof(h)) == 0);
	CHECK(vchan_close(ch) == 0);
	free(b);
	return 0;
}

static int recv_zero_copy(struct vchan *ch, uint8_t *b, size_t n)
{
	while (n > 0) {
		struct iovec seg[2];
		size_t got = 0;
		int s = vchan_peek(ch, 1, seg);

		CHECK(s == 1 || s == 2);
		for (int i = 0; i < s && got < n; i++) {
			size_t k =
			    seg[i].iov_len < n - got ? seg[i].iov_len : n - got;

			memcpy(b + got, seg[i].iov_base, k);
			got += k;
		}
		CHECK(vchan_consume(ch, got) == 0);
		b += got;
		n -= got;
	}
	return 0;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	uint8_t *b = malloc(BLOCK);
	uint64_t h = 0;
	struct vchan *ch;
	int64_t t0;
	double secs;

	CHECK(b != NULL);
	ch = vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	CHECK(ch != NULL);
	t0 = tu_now_us();
	for (size_t blk = 0; blk < c->blocks; blk++) {
		if (blk >= c->blocks / 2) {
			CHECK(recv_zero_copy(ch, b, BLOCK) == 0);
		} else {
			for (size_t off = 0; off < BLOCK;) {
				ssize_t r =
				    vchan_read(ch, b + off, BLOCK - off);

				CHECK(r > 0);
				off += (size_t)r;
			}
		}
		h = hash_block(h, b);
	}
	secs = (double)(tu_now_us() - t0) / 1e6;
	fprintf(stderr, "%zu MiB in %.2f s (%.0f MiB/s)\n", c->blocks, secs,
		(double)c->blocks / secs);
	{
		uint8_t x;

		CHECK(vchan_read(ch, &x, 1) == -1 && errno == EPIPE);
	}
	CHECK(tu_send(&c->pipe, 1, &h, sizeof(h)) == 0);
	CHECK(vchan_close(ch) == 0);
	free(b);
	return 0;
}

int main(void)
{
	struct ctx c;
	uint64_t h1, h2;
	pid_t s, k;
	int rs, rc;

	c.blocks = tu_quick() ? 64 : 1024;
	vt_path(c.path, sizeof(c.path), "bulk");
	CHECK(tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, server, &c);
	k = tu_spawn(CLI_DOMID, client, &c);
	CHECK(s > 0 && k > 0);
	rs = tu_recv(&c.pipe, 0, &h1, sizeof(h1));
	rc = tu_recv(&c.pipe, 0, &h2, sizeof(h2));
	CHECK(rs == 0 && rc == 0);
	rc = tu_wait(k, LIMIT_MS);
	rs = tu_wait(s, LIMIT_MS);
	CHECK(rs == 0 && rc == 0);
	CHECK(h1 == h2);
	tu_chan_close(&c.pipe);
	return 0;
}
