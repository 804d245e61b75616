/* tools/vchan-echo/vchan-echo.c - echo every byte of a channel back.
 *
 *   vchan-echo serve PEER PORT [-r SIZE] [-w SIZE] [-n COUNT] [-t SECONDS]
 *   vchan-echo connect SERVER PORT [-t SECONDS]
 *
 * serve offers a channel to domain PEER under this domain's
 * data/vchan/PEER/PORT and echoes what its client sends until the client
 * closes, COUNT times (default 1; 0: for ever). connect finds the server
 * of domain SERVER at /local/domain/SERVER/data/vchan/<own id>/PORT and
 * echoes the same way. -t bounds the wait for the peer (default 60 s;
 * 0: no bound). Ring sizes take K and M suffixes (default 64K).
 *
 * Written against the public vchan API only: built as a unikernel image
 * (vchan-echo.xen, arguments from the xl config's extra= line), it prints
 * on the domain console; the status of main is the domain's end (0
 * powers off, anything else crashes it). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grant/grant.h"
#include "vchan/vchan.h"

#define BUF_SIZE 65536

struct opts {
	int serve;
	unsigned long peer;
	const char *port;
	size_t rsize, wsize;
	unsigned long count;
	long timeout_s;
};

static int usage(const char *why)
{
	fprintf(stderr,
		"vchan-echo: %s\n"
		"usage: vchan-echo serve PEER PORT [-r SIZE] [-w SIZE] "
		"[-n COUNT] [-t SECONDS]\n"
		"       vchan-echo connect SERVER PORT [-t SECONDS]\n",
		why);
	return 2;
}

static uint64_t ms_of(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t ms_now(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

/* In a unikernel, the time since the domain's first instruction. */
static uint64_t ms_since_boot(void)
{
	return ms_of(CLOCK_BOOTTIME);
}

/* A decimal number (with K/M suffix when `sizes`), or -1. */
static long long number(const char *s, int sizes)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > (1ull << 40))
		return -1;
	if (sizes && (*end == 'K' || *end == 'k'))
		v <<= 10, end++;
	else if (sizes && (*end == 'M' || *end == 'm'))
		v <<= 20, end++;
	return *end == '\0' ? (long long)v : -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
	long long v;
	char msg[128];

	if (argc < 4)
		return usage("a mode, a domain and a port are needed");
	if (strcmp(argv[1], "serve") == 0)
		o->serve = 1;
	else if (strcmp(argv[1], "connect") != 0)
		return usage("the mode is 'serve' or 'connect'");
	v = number(argv[2], 0);
	if (v < 0 || v >= 0x7FF0) {
		snprintf(msg, sizeof(msg), "bad domain id '%s'", argv[2]);
		return usage(msg);
	}
	o->peer = (unsigned long)v;
	o->port = argv[3];
	if (*o->port == '\0' || strchr(o->port, '/') != NULL)
		return usage("the port is one XenStore node name");
	for (int i = 4; i < argc; i += 2) {
		const char *opt = argv[i];

		if (i + 1 >= argc) {
			snprintf(msg, sizeof(msg), "%s needs a value", opt);
			return usage(msg);
		}
		v = number(argv[i + 1], opt[1] == 'r' || opt[1] == 'w');
		if (v < 0 || strlen(opt) != 2 || opt[0] != '-' ||
		    strchr("rwnt", opt[1]) == NULL ||
		    (!o->serve && opt[1] != 't')) {
			snprintf(msg, sizeof(msg), "bad option '%s %s'", opt,
				 argv[i + 1]);
			return usage(msg);
		}
		if (opt[1] == 'r')
			o->rsize = (size_t)v;
		else if (opt[1] == 'w')
			o->wsize = (size_t)v;
		else if (opt[1] == 'n')
			o->count = (unsigned long)v;
		else
			o->timeout_s = (long)v;
	}
	if (o->rsize > VCHAN_RING_SIZE_MAX || o->wsize > VCHAN_RING_SIZE_MAX)
		return usage("ring sizes are at most 1M");
	return 0;
}

/* Echo until the peer closes. Returns the bytes echoed, or -1. */
static long long echo(struct vchan *ch, char *buf)
{
	long long total = 0;

	for (;;) {
		ssize_t n = vchan_read(ch, buf, BUF_SIZE);

		if (n < 0)
			return errno == EPIPE ? total : -1;
		if (vchan_write(ch, buf, (size_t)n) < 0)
			return errno == EPIPE ? total : -1;
		total += n;
	}
}

/* Wait for the client of a fresh server, within the time limit. */
static int await_client(struct vchan *ch, long timeout_s)
{
	uint64_t end = ms_now() + (uint64_t)timeout_s * 1000u;

	while (vchan_is_open(ch) == VCHAN_WAITING) {
		int wait_ms = -1;

		if (timeout_s > 0) {
			uint64_t now = ms_now();

			if (now >= end) {
				errno = ETIMEDOUT;
				return -1;
			}
			wait_ms = (int)(end - now);
		}
		if (vchan_wait(ch, wait_ms) < 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .rsize = 65536, .wsize = 65536, .count = 1, .timeout_s = 60};
	char path[VCHAN_PATH_MAX], *buf;
	unsigned long served = 0;
	int rc;

	rc = parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	/* A bad environment is one line, the library's, naming the
	 * variable. */
	if (vchan_platform_check() < 0)
		return 1;
	printf("vchan-echo: started %llu ms after boot\n",
	       (unsigned long long)ms_since_boot());
	/* The name first, with ids that need no store. */
	if (vchan_path(path, sizeof(path), 0, 0, o.port) < 0) {
		fprintf(stderr, "vchan-echo: bad port '%s': %s\n", o.port,
			strerror(errno));
		return 1;
	}
	/* The server is this domain when serving, PEER when connecting. */
	if (vchan_path(path, sizeof(path),
		       o.serve ? VCHAN_DOMID_SELF : (uint32_t)o.peer,
		       o.serve ? (uint32_t)o.peer : VCHAN_DOMID_SELF,
		       o.port) < 0) {
		fprintf(stderr,
			"vchan-echo: cannot read this domain's id "
			"from XenStore: %s\n",
			strerror(errno));
		return 1;
	}
	buf = malloc(BUF_SIZE);
	if (buf == NULL) {
		fprintf(stderr, "vchan-echo: %s\n", strerror(errno));
		return 1;
	}
	do {
		struct vchan *ch;
		long long n;

		if (o.serve) {
			ch = vchan_server_create((uint32_t)o.peer, path,
						 o.rsize, o.wsize);
			if (ch == NULL) {
				fprintf(stderr,
					"vchan-echo: cannot serve %s: %s\n",
					path, strerror(errno));
				free(buf);
				return 1;
			}
			printf("vchan-echo: channel published at %s after "
			       "%llu ms\n",
			       path, (unsigned long long)ms_since_boot());
			/* Said when it happens, also into a file or a pipe
			 * (block-buffered): whoever watches for the offer,
			 * a client or a test, learns of it now, not at our
			 * exit. */
			fflush(stdout);
			if (await_client(ch, o.timeout_s) < 0) {
				fprintf(stderr,
					"vchan-echo: no client from domain "
					"%lu: %s\n",
					o.peer, strerror(errno));
				vchan_close(ch);
				free(buf);
				return 1;
			}
		} else {
			ch = vchan_client_connect(
			    (uint32_t)o.peer, path,
			    o.timeout_s > 0 ? (int)(o.timeout_s * 1000) : -1);
			if (ch == NULL) {
				fprintf(stderr,
					"vchan-echo: cannot connect to %s: "
					"%s\n",
					path, strerror(errno));
				free(buf);
				return 1;
			}
		}
		printf("vchan-echo: connected to domain %lu (rings %zu/%zu)\n",
		       o.peer, vchan_read_size(ch), vchan_write_size(ch));
		n = echo(ch, buf);
		vchan_close(ch);
		if (n < 0) {
			fprintf(stderr, "vchan-echo: channel failed: %s\n",
				strerror(errno));
			free(buf);
			return 1;
		}
		printf("vchan-echo: peer closed after %lld bytes echoed\n", n);
		fflush(stdout);
	} while (o.serve && (o.count == 0 || ++served < o.count));
	free(buf);
	return 0;
}
