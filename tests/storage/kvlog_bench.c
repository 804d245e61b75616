/* tests/storage/kvlog_bench.c - how the storage log scales: for logs of n
 * distinct keys (default 10,000, 100,000 and 1,000,000), the time to open
 * one (replay), the cost of a Get, and the cost of a Put of a new key
 * (fdatasync included, which dominates). Built by `make check`, never run
 * by it: it prints, it asserts nothing about time. kvlog.c is built here
 * with the build's CFLAGS (-O2 by default).
 *
 *   kvlog_bench [N...]    (logs go to $TMPDIR, else /tmp, and are removed)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "examples/storage/kvlog.h"

#define VLEN 32

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A put record, as kvlog.h documents the format. Returns its size. */
static size_t record(uint8_t *p, const char *key, const uint8_t *val)
{
	size_t klen = strlen(key), len = 5 + klen + VLEN;

	p[8] = 1;
	le32(p + 9, (uint32_t)klen);
	memcpy(p + 13, key, klen);
	memcpy(p + 13 + klen, val, VLEN);
	le32(p, (uint32_t)len);
	le32(p + 4, crc32(p + 8, len));
	return 8 + len;
}

/* Write a log of n puts of distinct keys. Returns its size, or 0. */
static size_t write_log(const char *path, long n)
{
	FILE *f = fopen(path, "wb");
	uint8_t rec[128], val[VLEN];
	char key[32];
	size_t total = 0;

	if (f == NULL)
		return 0;
	for (long i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "user/%010ld", i);
		memset(val, 'a' + (int)(i % 26), sizeof(val));
		total += fwrite(rec, 1, record(rec, key, val), f);
	}
	return fclose(f) == 0 ? total : 0;
}

static int bench(const char *dir, long n)
{
	char path[512], key[32];
	uint8_t val[VLEN] = {0};
	struct kvlog_status st;
	struct kvlog *kv;
	double t0, open_s, fmt_s, get_ns, put_us;
	size_t size, len;
	long gets = n < 1000000 ? 1000000 : n, puts = 200, found = 0;
	unsigned seed = 1;

	if (n <= 0) {
		fprintf(stderr, "usage: kvlog_bench [N...] (N > 0)\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench-%ld.log", dir, n);
	size = write_log(path, n);
	if (size == 0) {
		perror(path);
		return 1;
	}
	t0 = now_s();
	kv = kvlog_open(path, &st);
	open_s = now_s() - t0;
	if (kv == NULL) {
		perror("kvlog_open");
		unlink(path);
		return 1;
	}
	/* Making the keys costs as much as looking them up: time it alone
	 * and take it off. */
	t0 = now_s();
	for (long i = 0; i < gets; i++) {
		snprintf(key, sizeof(key), "user/%010ld",
			 (long)(rand_r(&seed) % (unsigned)n));
		found += key[0] == 'u';
	}
	fmt_s = now_s() - t0;
	seed = 1;
	t0 = now_s();
	for (long i = 0; i < gets; i++) {
		snprintf(key, sizeof(key), "user/%010ld",
			 (long)(rand_r(&seed) % (unsigned)n));
		found += kvlog_get(kv, key, &len) != NULL;
	}
	get_ns = (now_s() - t0 - fmt_s) * 1e9 / (double)gets;
	found -= gets;
	t0 = now_s();
	for (long i = 0; i < puts; i++) {
		snprintf(key, sizeof(key), "new/%010ld", i);
		if (kvlog_put(kv, key, val, sizeof(val)) < 0) {
			perror("kvlog_put");
			break;
		}
	}
	put_us = (now_s() - t0) * 1e6 / (double)puts;
	kvlog_close(kv);
	unlink(path);
	printf("%9ld %8.1f %10.3f %10.0f %12.0f%s\n", n, (double)size / 1e6,
	       open_s, get_ns, put_us, found == gets ? "" : "  (keys lost!)");
	return found == gets ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const long dflt[] = {10000, 100000, 1000000};
	const char *dir = getenv("TMPDIR");
	int rc = 0;

	if (dir == NULL)
		dir = "/tmp";
	printf("     keys   log MB   replay s  get ns/op    put us/op\n");
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			rc |= bench(dir, atol(argv[i]));
	else
		for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
			rc |= bench(dir, dflt[i]);
	printf("(a Put includes its fdatasync; a Get is a random key of the "
	       "log)\n");
	return rc;
}
