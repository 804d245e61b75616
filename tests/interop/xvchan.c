/* tests/interop/xvchan.c - one end of a channel made with Debian's real
 * libxenvchan, run by the interop tests as a simulated domain (vchan-sim
 * run), so that libxenvchan talks to the simulator's drop-in libraries.
 *
 *   xvchan server PEER PATH READ_MIN WRITE_MIN SEND RECV
 *   xvchan client PEER PATH SEND RECV
 *
 * Sends SEND bytes of a pattern and receives RECV bytes, checking each
 * against the peer's pattern, both at once. A count of -1 means "until the
 * channel closes". When done the server closes; the client waits until it
 * sees the close. Prints "ok SENT RECEIVED" or, when the channel closed
 * under it, "closed SENT RECEIVED NS" (NS: CLOCK_REALTIME nanoseconds at
 * the moment the close was seen). On stderr it says "receiving" when the
 * first byte arrives. Exits 0 on success, 1 on an error (one line on
 * stderr), 2 on bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xentoollog.h>

#define CHUNK 65536

struct end {
	struct libxenvchan *ch;
	int server;
	long long send, recv; /* -1: until closed */
	long long sent, got;
};

/* Byte `i` of the stream that a server (seed 1) or client (seed 2)
 * sends: position-dependent, so a lost, repeated or misplaced byte shows. */
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

static long long parse_count(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < -1) {
		fprintf(stderr, "xvchan: bad count '%s'\n", s);
		exit(2);
	}
	return v;
}

static int want(long long target, long long done)
{
	return target < 0 || done < target;
}

static int closed(struct end *e)
{
	printf("closed %lld %lld %lld\n", e->sent, e->got, now_ns());
	/* Closing is the expected end only once the fixed counts are done. */
	if ((e->send >= 0 && e->sent < e->send) ||
	    (e->recv >= 0 && e->got < e->recv)) {
		fprintf(stderr, "xvchan: the channel closed early\n");
		return 1;
	}
	return 0;
}

/* Move data both ways until both counts are reached. Returns 0 done,
 * 1 error, 2 the channel closed first. Data already in the ring is read
 * even after the peer closed, as libxenvchan_read gives it. */
static int pump(struct end *e)
{
	static uint8_t buf[CHUNK];
	int seed_out = e->server ? 1 : 2, seed_in = e->server ? 2 : 1;
	int wclosed = 0;

	while (want(e->send, e->sent) || want(e->recv, e->got)) {
		int progress = 0;

		if (want(e->send, e->sent) && !wclosed) {
			long long n = CHUNK;
			int w;

			int space = libxenvchan_buffer_space(e->ch);

			if (e->send >= 0 && e->send - e->sent < n)
				n = e->send - e->sent;
			/* Make only what fits now (at least a byte, so that a
			 * full ring still asks to be told of space). */
			if (space > 0 && space < n)
				n = space;
			for (long long i = 0; i < n; i++)
				buf[i] = pattern(e->sent + i, seed_out);
			w = libxenvchan_write(e->ch, buf, (size_t)n);
			wclosed = w < 0;
			e->sent += w > 0 ? w : 0;
			progress |= w > 0;
		}
		if (want(e->recv, e->got)) {
			long long n = CHUNK;
			int r;

			if (e->recv >= 0 && e->recv - e->got < n)
				n = e->recv - e->got;
			r = libxenvchan_read(e->ch, buf, (size_t)n);
			if (r < 0)
				return 2; /* closed, and nothing left to read */
			for (int i = 0; i < r; i++) {
				if (buf[i] != pattern(e->got + i, seed_in)) {
					fprintf(stderr,
						"xvchan: byte %lld differs\n",
						e->got + i);
					return 1;
				}
			}
			/* Tell a watching test that the peer is there and
			 * data flows. */
			if (e->got == 0 && r > 0)
				fprintf(stderr, "receiving\n");
			e->got += r;
			progress |= r > 0;
		}
		if (progress)
			continue;
		if (wclosed || !libxenvchan_is_open(e->ch))
			return 2;
		if (libxenvchan_wait(e->ch) < 0)
			return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	xentoollog_logger_stdiostream *log;
	struct end e = {0};
	int peer, rc;

	if (argc < 2 || (strcmp(argv[1], "server") == 0 && argc != 8) ||
	    (strcmp(argv[1], "client") == 0 && argc != 6) ||
	    (strcmp(argv[1], "server") != 0 &&
	     strcmp(argv[1], "client") != 0)) {
		fprintf(
		    stderr,
		    "usage: xvchan server PEER PATH READ_MIN WRITE_MIN "
		    "SEND RECV\n       xvchan client PEER PATH SEND RECV\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	peer = atoi(argv[2]);
	e.server = strcmp(argv[1], "server") == 0;
	if (e.server) {
		e.send = parse_count(argv[6]);
		e.recv = parse_count(argv[7]);
		e.ch = libxenvchan_server_init(
		    (xentoollog_logger *)log, peer, argv[3],
		    strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0));
	} else {
		e.send = parse_count(argv[4]);
		e.recv = parse_count(argv[5]);
		/* The server may not have published yet: retry for 10 s. */
		for (int i = 0; i < 1000 && e.ch == NULL; i++) {
			e.ch = libxenvchan_client_init((xentoollog_logger *)log,
						       peer, argv[3]);
			if (e.ch == NULL)
				usleep(10000);
		}
	}
	if (e.ch == NULL) {
		fprintf(stderr, "xvchan: %s init failed: %s\n", argv[1],
			strerror(errno));
		xtl_logger_destroy((xentoollog_logger *)log);
		return 1;
	}
	e.ch->blocking = 0;
	rc = pump(&e);
	if (rc == 0 && !e.server) {
		/* Done: wait for the server's close, as a peer should see it.
		 */
		while (libxenvchan_is_open(e.ch))
			if (libxenvchan_wait(e.ch) < 0)
				break;
		rc = 2;
	}
	if (rc == 0)
		printf("ok %lld %lld\n", e.sent, e.got);
	else if (rc == 2)
		rc = closed(&e);
	libxenvchan_close(e.ch);
	xtl_logger_destroy((xentoollog_logger *)log);
	return rc;
}
