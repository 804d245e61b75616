/* tests/vchan/vtest.h - small helpers shared by the vchan integration
 * tests (two processes playing two domains). */
#ifndef VCHAN_VTEST_H
#define VCHAN_VTEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/testutil.h"
#include "vchan/vchan.h"

#define SRV_DOMID 3u
#define CLI_DOMID 5u
#define CHECK	  TU_CHECK

/* The server's XenStore path for a channel called `name`. */
static inline void vt_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/local/domain/%u/data/vchan/%u/%s", SRV_DOMID,
		 CLI_DOMID, name);
}

/* Byte k of test stream `seed`: not periodic with any ring size. */
static inline uint8_t vt_byte(uint64_t k, unsigned seed)
{
	uint64_t x = (k + 1) * 0x9e3779b97f4a7c15ull + seed;

	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 11) ^ (k >> 20));
}

static inline void vt_fill(uint8_t *b, size_t n, uint64_t from, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = vt_byte(from + i, seed);
}

/* Index of the first byte of b[0..n-1] that is not stream byte from+i, or
 * n when all match. */
static inline size_t vt_check(const uint8_t *b, size_t n, uint64_t from,
			      unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != vt_byte(from + i, seed))
			return i;
	return n;
}

/* Write all of b (blocking channel). Returns 0 or -1. */
static inline int vt_write_all(struct vchan *ch, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = vchan_write(ch, b, n);

		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Wait (30 s at most each time) until the client of server channel ch has
 * connected. Returns 0, or -1. */
static inline int vt_await_client(struct vchan *ch)
{
	while (vchan_is_open(ch) == VCHAN_WAITING)
		if (vchan_wait(ch, tu_ms(30000)) != 1)
			return -1;
	return 0;
}

/* Voluntary context switches of this process so far: each is a sleep. -1
 * on error. */
static inline long vt_sleeps(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_nvcsw : -1;
}

/* Run server and client (each given arg) as the two domains and wait for
 * both, each within limit_ms. Returns 0 when both exited 0, else 1. */
static inline int vt_run_pair(int (*server)(void *), int (*client)(void *),
			      void *arg, int limit_ms)
{
	pid_t s = tu_spawn(SRV_DOMID, server, arg);
	pid_t k = tu_spawn(CLI_DOMID, client, arg);
	int rs, rc;

	CHECK(s > 0 && k > 0);
	rc = tu_wait(k, limit_ms);
	rs = tu_wait(s, limit_ms);
	return rs == 0 && rc == 0 ? 0 : 1;
}

#endif
