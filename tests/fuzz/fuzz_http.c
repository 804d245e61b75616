/* tests/fuzz/fuzz_http.c - the HTTP request parser (examples/web/http.c).
 *
 * The input is the bytes a client sent. Invariants checked:
 *  - http_parse returns 1, 0 or one of the statuses http.h lists;
 *  - a parsed request lies inside the buffer (total <= len, the body is
 *    its last body_len bytes), its method and target are NUL-terminated
 *    and within their limits;
 *  - the parse depends only on the request's own bytes: buf[0..total)
 *    alone parses to the same request;
 *  - every proper prefix of a whole request asks for more bytes (0): a
 *    request that arrives in pieces is never refused when it would be
 *    served in one piece;
 *  - http_unescape and http_utf8_ok stay inside their buffers and agree
 *    with what they return.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/web/http.h"
#include "tests/fuzz/fuzz.h"

static int status_ok(int rc)
{
	return rc == 1 || rc == 0 || rc == -400 || rc == -413 || rc == -414 ||
	       rc == -431 || rc == -501 || rc == -505;
}

static void check_unescape(const char *in, size_t len)
{
	char out[64];
	int n = http_unescape(in, len, out, sizeof(out));

	CHECK(n >= -1 && n < (int)sizeof(out));
	if (n >= 0) {
		CHECK(out[n] == '\0');
		CHECK(strlen(out) == (size_t)n);
		CHECK((size_t)n <= len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes, so ASan sees any read past it. */
	char *buf = malloc(size ? size : 1);
	struct http_request r, r2;
	int rc;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	rc = http_parse(buf, size, &r);
	CHECK(status_ok(rc));
	if (rc == 1) {
		CHECK(r.total <= size);
		CHECK(r.body_len <= HTTP_BODY_MAX);
		CHECK(r.body_len <= r.total);
		CHECK(r.body == buf + r.total - r.body_len);
		CHECK(memchr(r.method, '\0', sizeof(r.method)) != NULL);
		CHECK(memchr(r.target, '\0', sizeof(r.target)) != NULL);
		CHECK(r.minor >= 0 && r.minor <= 9);
		CHECK(r.keep_alive == 0 || r.keep_alive == 1);
		CHECK(r.total - r.body_len <= HTTP_HEAD_MAX);

		/* The request alone parses the same. */
		CHECK(http_parse(buf, r.total, &r2) == 1);
		CHECK(r2.total == r.total && r2.body_len == r.body_len);
		CHECK(strcmp(r2.method, r.method) == 0);
		CHECK(strcmp(r2.target, r.target) == 0);
		CHECK(r2.keep_alive == r.keep_alive && r2.minor == r.minor);

		/* Its prefixes (a few of them: all would be quadratic) wait
		 * for more. */
		for (size_t cut = 0; cut < r.total;
		     cut += 1 + cut / 8 + (size_t)data[cut] % 4)
			CHECK(http_parse(buf, cut, &r2) == 0);
		CHECK(http_parse(buf, r.total - 1, &r2) == 0);

		check_unescape(r.target, strlen(r.target));
	}
	check_unescape(buf, size < 128 ? size : 128);
	CHECK(http_utf8_ok(buf, size, 0) <= http_utf8_ok(buf, size, 1));
	free(buf);
	return 0;
}
