/* tests/soak/soak_cycles.c - 10,000 connect/close cycles between two
 * domains (by default 1,000: VCHAN_SOAK_SCALE=1 runs all 10,000). In each cycle
 * the server creates a channel, the client connects, a byte goes each way, the
 * client closes and the server sees the end of the stream and closes.
 * Each side measures its file descriptors, VmRSS and heap in use once
 * warmed up and again at the end, prints both, and fails when they grew;
 * the simulator directory and the store are left as they were. */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "tests/soak/soak.h"
#include "tests/vchan/vtest.h"
#include "xenstore/xs.h"

#define FULL	 10000
#define LIMIT_MS 240000

/* Growth allowed between the two measurements. Heap in use counts the
 * exact bytes malloc has handed out: a leak of 8 bytes a cycle is 8 KiB
 * per thousand cycles, so 16 KiB lets through only a one-time allocation
 * that stays (a stdio buffer, a table grown once), never a per-cycle leak
 * at full size. VmRSS moves by whole pages and with how the allocator
 * trims its arena (it keeps up to 128 KiB free at the top, and a freed
 * chunk below a live one stays resident): 1 MiB. */
#define HEAP_SLACK  (16 * 1024)
#define RSS_SLACK_K 1024

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

struct ctx {
	long n, warm;
};

static void port_name(char *buf, size_t size, long i)
{
	snprintf(buf, size, "cycle%ld", i);
}

/* Compare the two measurements of one side; 0 when nothing grew. */
static int no_growth(const char *who, const struct soak_use *a,
		     const struct soak_use *b, long cycles)
{
	soak_print(who, "warmed up", a);
	soak_print(who, "at the end", b);
	fprintf(stderr,
		"%s: over %ld cycles: fds %+ld, VmRSS %+ld KiB, heap %+ld B\n",
		who, cycles, b->fds - a->fds, b->rss_kib - a->rss_kib,
		b->heap - a->heap);
	CHECK(b->fds <= a->fds);
	CHECK(b->heap - a->heap <= HEAP_SLACK);
	/* A sanitizer's allocator keeps freed memory in quarantine, and
	 * valgrind (VCHAN_TEST_QUICK) its own: RSS says nothing of leaks
	 * there (LeakSanitizer and valgrind's leak check do). */
	CHECK(SANITIZED || tu_quick() ||
	      b->rss_kib - a->rss_kib <= RSS_SLACK_K);
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	struct soak_use a = {0}, b;
	char port[32];

	for (long i = 0; i < c->n; i++) {
		struct vchan *ch;
		uint8_t v;

		if (i == c->warm)
			soak_measure(&a);
		port_name(port, sizeof(port), i);
		ch = vchan_server_create_port(CLI_DOMID, port, 1024, 1024);
		if (ch == NULL)
			fprintf(stderr, "server: cycle %ld: %s\n", i,
				strerror(errno));
		CHECK(ch != NULL);
		CHECK(vchan_recv(ch, &v, 1) == 1 && v == (uint8_t)i);
		v++;
		CHECK(vchan_send(ch, &v, 1) == 1);
		CHECK(vchan_read(ch, &v, 1) == -1 && errno == EPIPE);
		CHECK(vchan_close(ch) == 0);
	}
	soak_measure(&b);
	return no_growth("server", &a, &b, c->n - c->warm);
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct soak_use a = {0}, b;
	char port[32];

	for (long i = 0; i < c->n; i++) {
		struct vchan *ch;
		uint8_t v = (uint8_t)i;

		if (i == c->warm)
			soak_measure(&a);
		port_name(port, sizeof(port), i);
		ch = vchan_client_connect_port(SRV_DOMID, port, tu_ms(20000));
		if (ch == NULL)
			fprintf(stderr, "client: cycle %ld: %s\n", i,
				strerror(errno));
		CHECK(ch != NULL);
		CHECK(vchan_send(ch, &v, 1) == 1);
		CHECK(vchan_recv(ch, &v, 1) == 1 && v == (uint8_t)(i + 1));
		CHECK(vchan_close(ch) == 0);
	}
	soak_measure(&b);
	return no_growth("client", &a, &b, c->n - c->warm);
}

/* No channel's keys are left in the store. */
static int store_clean(long n)
{
	char path[VCHAN_PATH_MAX], port[32];
	long left = 0;
	vchan_xs *xs = vchan_xs_open();

	CHECK(xs != NULL);
	for (long i = 0; i < n; i++) {
		char *v;

		port_name(port, sizeof(port), i);
		CHECK(vchan_path(path, sizeof(path), SRV_DOMID, CLI_DOMID,
				 port) > 0);
		v = vchan_xs_read(xs, path, NULL);
		if (v != NULL || errno != ENOENT) {
			if (left++ == 0)
				fprintf(stderr, "left in the store: %s\n",
					path);
		}
		free(v);
	}
	vchan_xs_close(xs);
	return left == 0 ? 0 : 1;
}

int main(void)
{
	struct ctx c;
	int64_t t0 = tu_now_us();
	int r;

	/* A cycle costs some 10 ms, nearly all of it waiting while the kernel
	 * tears down the inotify instance of the client's store handle (the
	 * embedded store watches for the server's keys with one); by default
	 * a tenth of the full 10,000 keeps the run short. */
	c.n = soak_n(FULL, 0.1, 50);
	/* Warm up on the first tenth: the allocator's arenas and the
	 * library's one-time allocations reach their size there. */
	c.warm = c.n / 10;
	fprintf(stderr, "%ld connect/close cycles\n", c.n);
	r = vt_run_pair(server, client, &c, tu_ms(LIMIT_MS));
	fprintf(stderr, "took %.1f s\n", (double)(tu_now_us() - t0) / 1e6);
	CHECK(r == 0);
	CHECK(soak_sim_left() == 0);
	setenv("VCHAN_DOMID", "0", 1);
	return store_clean(c.n);
}
