/* tests/interop/ours_vchan.c - one end of a channel made with OUR library
 * (vchan/vchan.h), the counterpart of tests/interop/xvchan (Debian's
 * libxenvchan), run by the interop tests as a simulated domain (the
 * environment gives VCHAN_PLATFORM=sim, VCHAN_DOMID, VCHAN_SIM_DIR and
 * XENSTORED_PATH, so the rendezvous goes through the real xenstored).
 *
 *   ours_vchan server PEER PATH READ_MIN WRITE_MIN SEND RECV
 *   ours_vchan client PEER PATH SEND RECV
 *
 * Same arguments, byte patterns and output as xvchan, so that either end
 * can face either: sends SEND bytes and receives RECV bytes at once, each
 * received byte checked against the peer's pattern; -1 means "until the
 * channel closes". When done the server closes; the client waits until it
 * sees the close. Prints "ok SENT RECEIVED" or, when the channel closed
 * under it, "closed SENT RECEIVED NS" (NS: CLOCK_REALTIME nanoseconds when
 * the close was seen). On stderr it says "rings READ WRITE" (the sizes it
 * uses) at once, and "receiving" when the first byte arrives. Exits 0 on
 * success, 1 on an error (one line on stderr), 2 on bad usage. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vchan/vchan.h"

#define CHUNK 65536

struct end {
	struct vchan *ch;
	int server;
	long long send, recv; /* -1: until closed */
	long long sent, got;
	uint8_t buf[CHUNK];
};

/* Byte `i` of the stream sent by a server (seed 1) or a client (seed 2);
 * must stay equal to xvchan's, which checks what we send. */
static uint8_t pattern(long long i, int seed)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)seed;

	return (uint8_t)(x >> 56 ^ x >> 29 ^ (uint64_t)i >> 12);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int parse_count(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' && end != s && *v >= -1 ? 0 : -1;
}

static int parse_size(const char *s, size_t *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || end == s || n > VCHAN_RING_SIZE_MAX)
		return -1;
	*v = n;
	return 0;
}

static int want(long long target, long long done)
{
	return target < 0 || done < target;
}

static int send_some(struct end *e, int *wclosed)
{
	long long n = CHUNK;
	int seed = e->server ? 1 : 2;
	ssize_t w;

	if (e->send >= 0 && e->send - e->sent < n)
		n = e->send - e->sent;
	for (long long i = 0; i < n; i++)
		e->buf[i] = pattern(e->sent + i, seed);
	/* Non-blocking: writes what fits, and a short or empty write has
	 * asked the peer for an event when it frees space. */
	w = vchan_write(e->ch, e->buf, (size_t)n);
	if (w < 0) {
		if (errno != EPIPE) {
			fprintf(stderr, "ours_vchan: write: %s\n",
				strerror(errno));
			return -1;
		}
		*wclosed = 1;
		return 0;
	}
	e->sent += w;
	return w > 0;
}

/* Returns 1 progress, 0 nothing ready, 2 end of stream, -1 error. */
static int recv_some(struct end *e)
{
	long long n = CHUNK;
	int seed = e->server ? 2 : 1;
	ssize_t r;

	if (e->recv >= 0 && e->recv - e->got < n)
		n = e->recv - e->got;
	r = vchan_read(e->ch, e->buf, (size_t)n);
	if (r < 0) {
		if (errno == EPIPE)
			return 2; /* closed, and every byte read */
		fprintf(stderr, "ours_vchan: read: %s\n", strerror(errno));
		return -1;
	}
	for (ssize_t i = 0; i < r; i++) {
		if (e->buf[i] != pattern(e->got + i, seed)) {
			fprintf(stderr, "ours_vchan: byte %lld differs\n",
				e->got + i);
			return -1;
		}
	}
	/* Tell a watching test that the peer is there and data flows. */
	if (e->got == 0 && r > 0)
		fprintf(stderr, "receiving\n");
	e->got += r;
	return r > 0;
}

/* Move data both ways until both counts are reached. Returns 0 done,
 * 1 error, 2 the channel closed first. What the peer wrote before it
 * closed is still read: only EPIPE from the read ends the receiving. */
static int pump(struct end *e)
{
	int wclosed = 0;

	while (want(e->send, e->sent) || want(e->recv, e->got)) {
		int progress = 0, rc, state;

		if (want(e->send, e->sent) && !wclosed) {
			rc = send_some(e, &wclosed);
			if (rc < 0)
				return 1;
			progress |= rc;
		}
		if (want(e->recv, e->got)) {
			rc = recv_some(e);
			if (rc < 0)
				return 1;
			if (rc == 2)
				return 2;
			progress |= rc;
		} else if (wclosed) {
			return 2;
		}
		if (progress)
			continue;
		state = vchan_is_open(e->ch);
		if (state < 0) {
			fprintf(stderr, "ours_vchan: %s\n", strerror(errno));
			return 1;
		}
		/* Closed: go round again, so that the read drains the ring
		 * and then reports EPIPE (or the write does). */
		if (state == VCHAN_CLOSED)
			continue;
		if (vchan_wait(e->ch, -1) < 0) {
			fprintf(stderr, "ours_vchan: wait: %s\n",
				strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* The client, done, waits until it sees the server's close. */
static int await_close(struct vchan *ch)
{
	for (;;) {
		int state = vchan_is_open(ch);

		if (state < 0)
			return 1;
		if (state == VCHAN_CLOSED)
			return 2;
		if (vchan_wait(ch, -1) < 0)
			return 1;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: ours_vchan server PEER PATH READ_MIN WRITE_MIN "
			"SEND RECV\n"
			"       ours_vchan client PEER PATH SEND RECV\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct end e;
	long long peer;
	size_t rd = 0, wr = 0;
	int rc;

	if (argc < 2)
		return usage();
	e.server = strcmp(argv[1], "server") == 0;
	if (!e.server && strcmp(argv[1], "client") != 0)
		return usage();
	if (argc != (e.server ? 8 : 6) || parse_count(argv[2], &peer) < 0 ||
	    peer < 0)
		return usage();
	if (e.server &&
	    (parse_size(argv[4], &rd) < 0 || parse_size(argv[5], &wr) < 0 ||
	     parse_count(argv[6], &e.send) < 0 ||
	     parse_count(argv[7], &e.recv) < 0))
		return usage();
	if (!e.server && (parse_count(argv[4], &e.send) < 0 ||
			  parse_count(argv[5], &e.recv) < 0))
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (e.server)
		e.ch = vchan_server_create((uint32_t)peer, argv[3], rd, wr);
	else /* the server may not have published yet */
		e.ch = vchan_client_connect((uint32_t)peer, argv[3], 10000);
	if (e.ch == NULL) {
		fprintf(stderr, "ours_vchan: %s init failed: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	fprintf(stderr, "rings %zu %zu\n", vchan_read_size(e.ch),
		vchan_write_size(e.ch));
	vchan_set_blocking(e.ch, 0);
	rc = pump(&e);
	if (rc == 0 && !e.server)
		rc = await_close(e.ch);
	if (rc == 0) {
		printf("ok %lld %lld\n", e.sent, e.got);
	} else if (rc == 2) {
		printf("closed %lld %lld %lld\n", e.sent, e.got, now_ns());
		/* A close is the expected end only once fixed counts are met.
		 */
		if ((e.send >= 0 && e.sent < e.send) ||
		    (e.recv >= 0 && e.got < e.recv)) {
			fprintf(stderr,
				"ours_vchan: the channel closed early\n");
			rc = 1;
		} else {
			rc = 0;
		}
	}
	vchan_close(e.ch);
	return rc;
}
