/* examples/web/http.h - parsing HTTP/1.x requests from a byte buffer.
 *
 * Only what the web domain needs: a request line, headers, and a body of
 * Content-Length bytes (chunked bodies are refused). The parser keeps no
 * state between calls: it looks at the buffered bytes each time, which is
 * cheap because requests are small and bounded.
 */
#ifndef EXAMPLES_WEB_HTTP_H
#define EXAMPLES_WEB_HTTP_H

#include <stddef.h>

/* Largest request head (request line and headers) and body. */
#define HTTP_HEAD_MAX 8192u
#define HTTP_BODY_MAX 65536u

struct http_request {
	char method[8];
	char target[2048]; /* as sent, not decoded */
	int minor;	   /* HTTP/1.<minor> */
	int keep_alive;	   /* the connection stays open after the answer */
	const char *body;  /* into the caller's buffer */
	size_t body_len;
	size_t total; /* bytes of the buffer this request uses */
};

/* Parse one request from buf[0..len). Returns 1 and fills *r when a whole
 * request is there, 0 when more bytes are needed, or a negative HTTP
 * status (-400 malformed, -413 body too large, -414 target too long, -431 head
 * too large, -501 a transfer coding, -505 not HTTP/1.x) when the bytes cannot
 * be a request we serve. */
int http_parse(const char *buf, size_t len, struct http_request *r);

/* The reason phrase of `status` ("OK", "Not Found"...). */
const char *http_reason(int status);

/* Decode %XX escapes of `in` (inlen bytes) into out (outsz bytes, NUL
 * terminated). Returns the decoded length or -1 when an escape is bad, the
 * result contains a NUL or does not fit. */
int http_unescape(const char *in, size_t inlen, char *out, size_t outsz);

/* 1 when s[0..len) is valid UTF-8 (shortest forms, no surrogates) and,
 * unless `controls` is set, free of control characters; else 0. */
int http_utf8_ok(const char *s, size_t len, int controls);

#endif
