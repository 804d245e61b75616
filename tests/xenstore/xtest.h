/* tests/xenstore/xtest.h - helpers shared by the store tests. */
#ifndef VCHAN_XTEST_H
#define VCHAN_XTEST_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "xenstore/xs.h"

/* Is p the path base or below it? */
static inline bool xt_under(const char *p, const char *base)
{
	size_t n = strlen(base);

	return strncmp(p, base, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* Take every pending event; count those with `token` whose path is under
 * `base` (any path when base is NULL). Returns the count, or -1 when
 * vchan_xs_read_watch fails. */
static inline int xt_drain(vchan_xs *xs, const char *token, const char *base)
{
	char *path, *tok;
	int n = 0, r;

	while ((r = vchan_xs_read_watch(xs, &path, &tok)) == 1) {
		if (strcmp(tok, token) == 0 &&
		    (base == NULL || xt_under(path, base)))
			n++;
		free(path);
		free(tok);
	}
	return r < 0 ? -1 : n;
}

/* Wait at most timeout_ms for an event with `token` under `base`; other
 * events are consumed. Returns 1 when seen, 0 on timeout, -1 on error. */
static inline int xt_wait(vchan_xs *xs, const char *token, const char *base,
			  int timeout_ms)
{
	int64_t end = tu_now_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		int64_t left = (end - tu_now_us()) / 1000;
		int n = xt_drain(xs, token, base);

		if (n != 0)
			return n > 0 ? 1 : -1;
		if (left <= 0)
			return 0;
		if (tu_readable(vchan_xs_fd(xs), (int)left) < 0)
			return -1;
	}
}

/* Publish one key; 0 or -1. */
static inline int xt_put(vchan_xs *xs, const char *dir, const char *key,
			 const char *value, uint32_t peer)
{
	struct vchan_xs_kv kv = {.key = key, .value = value};

	return vchan_xs_publish(xs, dir, &kv, 1, peer);
}

#endif
