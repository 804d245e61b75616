/* tools/vchan-bench/xen-helper.c - vchan-bench-xen: one side of a
 * vchan-bench measurement made with Debian's libxenvchan. vchan-bench runs
 * it as a simulated domain (vchan-sim run), so libxenvchan works on the
 * simulator's drop-in libraries and a real xenstored.
 *
 *   vchan-bench-xen srv|cli MODE MSG BYTES ITERS REPEATS GAP_US RING PATH
 *                   SETUPS SYNC_FD
 *
 * MODE is throughput, latency, notify or setup. The server is domain 1
 * serving domain 2, the client domain 2. Result lines (bench.h) go to
 * standard output. Exits 0, 1 after an error (an "E" line), 2 on bad
 * usage. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "tools/vchan-bench/bench.h"

#define SRV_DOMID 1
#define CLI_DOMID 2

static int xv_send(struct bench_ep *ep, const void *buf, size_t n)
{
	const char *b = buf;

	/* Blocking libxenvchan_write takes at most what it can ever fit in
	 * one go on some versions: feed it pieces no larger than the ring. */
	while (n > 0) {
		size_t k = n;
		int w;

		if (k > (size_t)1 << 20)
			k = (size_t)1 << 20;
		w = libxenvchan_write(ep->priv, b, k);
		if (w <= 0) {
			errno = EPIPE;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t xv_recv(struct bench_ep *ep, void *buf, size_t n)
{
	int r = libxenvchan_read(ep->priv, buf, n);

	if (r < 0) {
		errno = EPIPE;
		return -1;
	}
	return r;
}

static const struct bench_ep_ops xv_ops = {xv_send, xv_recv};

/* The client may start before the server has published its keys, and
 * libxenvchan_client_init does not wait: it retries for `wait_ms`. */
static struct libxenvchan *open_end(int srv, const char *path, size_t ring,
				    int wait_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)wait_ms * 1000000u;
	struct libxenvchan *ch;

	for (;;) {
		if (srv)
			ch = libxenvchan_server_init(NULL, CLI_DOMID, path,
						     ring, ring);
		else
			ch = libxenvchan_client_init(NULL, SRV_DOMID, path);
		if (ch != NULL || srv || bench_now_ns() >= deadline)
			break;
		usleep(2000);
	}
	if (ch != NULL)
		ch->blocking = 1;
	return ch;
}

static int run_setup(int srv, const char *path, size_t ring, unsigned n,
		     int sync)
{
	char name[200];

	for (unsigned k = 0; k < n; k++) {
		uint64_t t0, t1, aux;
		struct libxenvchan *ch;
		char b;

		snprintf(name, sizeof(name), "%s-%u", path, k);
		if (srv) {
			t0 = bench_now_ns();
			ch = open_end(1, name, ring, 0);
			if (ch == NULL) {
				bench_report(1, "E libxenvchan_server_init: %s",
					     strerror(errno));
				return -1;
			}
			if (bench_setup_post(sync, t0, 0) < 0 ||
			    libxenvchan_read(ch, &b, 1) != 1) {
				bench_report(1, "E set-up: no client");
				libxenvchan_close(ch);
				return -1;
			}
			libxenvchan_close(ch);
			continue;
		}
		if (bench_setup_take(sync, &t0, &aux) < 0) {
			bench_report(1, "E set-up: no server");
			return -1;
		}
		ch = open_end(0, name, ring, 0);
		t1 = bench_now_ns();
		if (ch == NULL) {
			bench_report(1, "E libxenvchan_client_init: %s",
				     strerror(errno));
			return -1;
		}
		bench_report(1, "U %llu", (unsigned long long)(t1 - t0));
		if (libxenvchan_write(ch, "c", 1) != 1) {
			bench_report(1, "E set-up: write failed");
			libxenvchan_close(ch);
			return -1;
		}
		libxenvchan_close(ch);
	}
	return 0;
}

static int num(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' || *s == '\0' ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {"throughput", "latency", "notify",
					    "setup"};
	unsigned long long v[8];
	struct bench_job job = {0};
	struct bench_ep ep = {&xv_ops, NULL};
	int srv, mode = -1, r;

	if (argc != 12 || (strcmp(argv[1], "srv") && strcmp(argv[1], "cli")))
		goto usage;
	srv = strcmp(argv[1], "srv") == 0;
	for (int i = 0; i < 4; i++)
		if (strcmp(argv[2], modes[i]) == 0)
			mode = i;
	if (mode < 0 || num(argv[3], &v[0]) || num(argv[4], &v[1]) ||
	    num(argv[5], &v[2]) || num(argv[6], &v[3]) || num(argv[7], &v[4]) ||
	    num(argv[8], &v[5]) || num(argv[10], &v[6]) || num(argv[11], &v[7]))
		goto usage;
	if (mode == 3)
		return run_setup(srv, argv[9], v[5], (unsigned)v[6],
				 (int)v[7]) < 0;
	job.mode = (enum bench_mode)mode;
	job.msg = v[0];
	job.bytes = v[1];
	job.iters = (unsigned)v[2];
	job.repeats = (unsigned)v[3];
	job.notify_gap_us = (unsigned)v[4];
	ep.priv = open_end(srv, argv[9], v[5], 20000);
	if (ep.priv == NULL) {
		bench_report(1, "E libxenvchan %s: %s",
			     srv ? "server_init" : "client_init",
			     strerror(errno));
		return 1;
	}
	r = srv ? bench_run_srv(&ep, &job, 1) : bench_run_cli(&ep, &job, 1);
	libxenvchan_close(ep.priv);
	return r < 0;
usage:
	fprintf(stderr, "usage: vchan-bench-xen srv|cli MODE MSG BYTES ITERS "
			"REPEATS GAP_US RING PATH SETUPS SYNC_FD\n");
	return 2;
}
