/* tests/vchan/vchan_orders.c - every valid pair of ring orders 10..20,
 * between two processes (domains SRV_DOMID and CLI_DOMID), both directions
 * with data crossing each ring's end several times, in blocking mode (one
 * direction after the other) and in non-blocking mode (both at once,
 * driven by poll()). Each channel ends with the server closing and the
 * client seeing the end of the stream after the last byte. */
#include "config.h"

#include <poll.h>
#include <stdlib.h>

#include "tests/vchan/vtest.h"
#include "vchan/ring.h"

#define LIMIT_MS 120000

static int valid(unsigned lo, unsigned ro)
{
	struct vchan_layout lay;

	return vchan_ring_layout(lo, ro, &lay) == 0;
}

static void name(char *buf, size_t size, unsigned lo, unsigned ro, int nb)
{
	char n[32];

	snprintf(n, sizeof(n), "o%u_%u_%s", lo, ro, nb ? "nb" : "b");
	vt_path(buf, size, n);
}

/* Bytes each side sends: a couple of times around the ring and then some. */
static size_t amount(unsigned order, unsigned extra)
{
	return ((size_t)2 << order) + extra;
}

/* Blocking: read exactly n bytes of stream `seed`. */
static int read_all(struct vchan *ch, uint8_t *buf, size_t n, unsigned seed)
{
	size_t got = 0;

	while (got < n) {
		size_t want = n - got < 70001 ? n - got : 70001;
		ssize_t r = vchan_read(ch, buf, want);

		CHECK(r > 0);
		CHECK(vt_check(buf, (size_t)r, got, seed) == (size_t)r);
		got += (size_t)r;
	}
	return 0;
}

/* Non-blocking, both directions at once: send n_out bytes of seed_out,
 * receive n_in bytes of seed_in. */
static int duplex(struct vchan *ch, uint8_t *buf, size_t n_out,
		  unsigned seed_out, size_t n_in, unsigned seed_in)
{
	size_t sent = 0, got = 0;
	uint8_t *out = buf + (1u << 21);
	int64_t end = tu_now_us() + 20 * 1000000;

	while (sent < n_out || got < n_in) {
		int idle = 1;
		ssize_t r;

		CHECK(tu_now_us() < end);
		if (sent < n_out) {
			size_t k = n_out - sent < 50000 ? n_out - sent : 50000;

			vt_fill(out, k, sent, seed_out);
			r = vchan_write(ch, out, k);
			CHECK(r >= 0);
			sent += (size_t)r;
			if ((size_t)r == k)
				idle = 0;
		}
		if (got < n_in) {
			size_t k = n_in - got < 60000 ? n_in - got : 60000;

			r = vchan_read(ch, buf, k);
			CHECK(r >= 0);
			CHECK(vt_check(buf, (size_t)r, got, seed_in) ==
			      (size_t)r);
			got += (size_t)r;
			if ((size_t)r == k)
				idle = 0;
		}
		if (!idle)
			continue;
		/* Both calls came up short, so both asked for the event they
		 * need: sleep on it, then consume it. */
		CHECK(tu_readable(vchan_fd(ch), tu_ms(30000)) == 1);
		CHECK(vchan_wait(ch, 0) >= 0);
	}
	return 0;
}

/* Wait (non-blocking mode) for the end of the stream. */
static int wait_eof(struct vchan *ch)
{
	uint8_t b;
	int64_t end = tu_now_us() + 10 * 1000000;

	for (;;) {
		ssize_t r = vchan_read(ch, &b, 1);

		if (r < 0) {
			CHECK(errno == EPIPE);
			CHECK(vchan_is_open(ch) == VCHAN_CLOSED);
			return 0;
		}
		CHECK(r == 0);
		CHECK(tu_now_us() < end);
		CHECK(tu_readable(vchan_fd(ch), tu_ms(30000)) == 1);
		CHECK(vchan_wait(ch, 0) >= 0);
	}
}

static int server(void *arg)
{
	uint8_t *buf = malloc(4u << 20);
	char path[256];

	(void)arg;
	CHECK(buf != NULL);
	for (int nb = 0; nb < 2; nb++) {
		for (unsigned lo = 10; lo <= 20; lo++) {
			for (unsigned ro = 10; ro <= 20; ro++) {
				struct vchan *ch;
				unsigned seed_out = lo * 64 + ro,
					 seed_in = ro * 64 + lo + 7;

				if (!valid(lo, ro))
					continue;
				name(path, sizeof(path), lo, ro, nb);
				ch = vchan_server_create_orders(CLI_DOMID, path,
								lo, ro);
				CHECK(ch != NULL);
				CHECK(vchan_read_size(ch) == (size_t)1 << lo);
				CHECK(vchan_write_size(ch) == (size_t)1 << ro);
				CHECK(vchan_is_open(ch) == VCHAN_WAITING ||
				      vchan_is_open(ch) == VCHAN_CONNECTED);
				if (nb) {
					CHECK(vchan_set_blocking(ch, 0) == 0);
					CHECK(duplex(ch, buf, amount(ro, 123),
						     seed_out, amount(lo, 77),
						     seed_in) == 0);
				} else {
					size_t n = amount(ro, 123);

					vt_fill(buf, n, 0, seed_out);
					CHECK(vt_write_all(ch, buf, n) == 0);
					CHECK(read_all(ch, buf, amount(lo, 77),
						       seed_in) == 0);
				}
				CHECK(vchan_is_open(ch) == VCHAN_CONNECTED);
				CHECK(vchan_close(ch) == 0);
			}
		}
	}
	free(buf);
	return 0;
}

static int client(void *arg)
{
	uint8_t *buf = malloc(4u << 20);
	char path[256];

	(void)arg;
	CHECK(buf != NULL);
	for (int nb = 0; nb < 2; nb++) {
		for (unsigned lo = 10; lo <= 20; lo++) {
			for (unsigned ro = 10; ro <= 20; ro++) {
				struct vchan *ch;
				unsigned seed_in = lo * 64 + ro,
					 seed_out = ro * 64 + lo + 7;
				uint8_t b;

				if (!valid(lo, ro))
					continue;
				name(path, sizeof(path), lo, ro, nb);
				ch = vchan_client_connect(SRV_DOMID, path,
							  10000);
				CHECK(ch != NULL);
				CHECK(vchan_write_size(ch) == (size_t)1 << lo);
				CHECK(vchan_read_size(ch) == (size_t)1 << ro);
				if (nb) {
					CHECK(vchan_set_blocking(ch, 0) == 0);
					CHECK(duplex(ch, buf, amount(lo, 77),
						     seed_out, amount(ro, 123),
						     seed_in) == 0);
					CHECK(wait_eof(ch) == 0);
				} else {
					size_t n = amount(lo, 77);

					CHECK(read_all(ch, buf, amount(ro, 123),
						       seed_in) == 0);
					vt_fill(buf, n, 0, seed_out);
					CHECK(vt_write_all(ch, buf, n) == 0);
					/* The server closes after reading:
					 * then the stream ends. */
					CHECK(vchan_read(ch, &b, 1) == -1);
					CHECK(errno == EPIPE);
				}
				CHECK(vchan_close(ch) == 0);
			}
		}
	}
	free(buf);
	return 0;
}

int main(void)
{
	pid_t s = tu_spawn(SRV_DOMID, server, NULL);
	pid_t c = tu_spawn(CLI_DOMID, client, NULL);
	int rs, rc;

	if (s < 0 || c < 0) {
		perror("fork");
		return 99;
	}
	rc = tu_wait(c, LIMIT_MS);
	rs = tu_wait(s, rc == 0 ? LIMIT_MS : 1000);
	return rs == 0 && rc == 0 ? 0 : 1;
}
