/* examples/web/http.c - parsing HTTP/1.x requests (see http.h). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "examples/web/http.h"

/* strchr finds the terminator of its string: NUL is no tchar. */
static int is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Trim spaces and tabs around [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static int token_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && strncasecmp(s, word, n) == 0;
}

/* Whether a Connection header's comma-separated list holds `word`. */
static int list_has(const char *s, const char *e, const char *word)
{
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *t = c ? c : e;
		const char *a = s, *b = t;

		trim(&a, &b);
		if (token_is(a, b, word))
			return 1;
		s = c ? c + 1 : e;
	}
	return 0;
}

static int request_line(const char *s, const char *e, struct http_request *r)
{
	const char *sp1, *sp2;
	size_t n;

	sp1 = memchr(s, ' ', (size_t)(e - s));
	if (sp1 == NULL || sp1 == s)
		return -400;
	n = (size_t)(sp1 - s);
	if (n >= sizeof(r->method))
		return -400;
	for (const char *p = s; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return -400;
	memcpy(r->method, s, n);
	r->method[n] = '\0';
	sp2 = memchr(sp1 + 1, ' ', (size_t)(e - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return -400;
	n = (size_t)(sp2 - sp1 - 1);
	if (n >= sizeof(r->target))
		return -414;
	for (const char *p = sp1 + 1; p < sp2; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -400;
	memcpy(r->target, sp1 + 1, n);
	r->target[n] = '\0';
	if (e - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 ||
	    sp2[7] != '.' || sp2[8] < '0' || sp2[8] > '9')
		return -400;
	if (sp2[6] != '1')
		return -505;
	r->minor = sp2[8] - '0';
	return 0;
}

int http_parse(const char *buf, size_t len, struct http_request *r)
{
	const char *end = NULL, *p, *e;
	int have_len = 0, close = 0, keep = 0, rc;
	size_t clen = 0, head;

	/* Look for the end of the head only within the limit. */
	for (size_t i = 0; i + 3 < len && i + 3 < HTTP_HEAD_MAX; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	if (end == NULL) {
		/* A control byte, which no part of a head may hold but a
		 * tab in a header value, says early that this is not HTTP.
		 * No more than that: a head that arrives in pieces must not
		 * be refused for bytes the whole head may hold (a tab, or
		 * bytes above 0x7e in a header value). */
		for (size_t i = 0; i < len && i < HTTP_HEAD_MAX; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c < ' ' && c != '\t' && c != '\r' && c != '\n')
				return -400;
		}
		return len >= HTTP_HEAD_MAX ? -431 : 0;
	}
	head = (size_t)(end - buf) + 4;
	memset(r, 0, sizeof(*r));
	p = buf;
	e = memchr(p, '\r', (size_t)(end - p) + 1);
	if (e == NULL || e[1] != '\n')
		return -400;
	rc = request_line(p, e, r);
	if (rc < 0)
		return rc;
	for (p = e + 2; p < end; p = e + 2) {
		const char *colon, *v, *ve;

		e = memchr(p, '\r', (size_t)(end - p) + 1);
		if (e == NULL || e[1] != '\n')
			return -400;
		colon = memchr(p, ':', (size_t)(e - p));
		if (colon == NULL || colon == p)
			return -400;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return -400;
		v = colon + 1;
		ve = e;
		trim(&v, &ve);
		for (const char *q = v; q < ve; q++)
			if ((unsigned char)*q < ' ' && *q != '\t')
				return -400;
		if (token_is(p, colon, "content-length")) {
			size_t n = 0;

			if (v == ve || have_len)
				return -400;
			for (const char *q = v; q < ve; q++) {
				if (*q < '0' || *q > '9')
					return -400;
				n = n * 10 + (size_t)(*q - '0');
				if (n > HTTP_BODY_MAX)
					return -413;
			}
			have_len = 1;
			clen = n;
		} else if (token_is(p, colon, "transfer-encoding")) {
			return -501;
		} else if (token_is(p, colon, "connection")) {
			close |= list_has(v, ve, "close");
			keep |= list_has(v, ve, "keep-alive");
		}
	}
	if (len - head < clen)
		return 0;
	r->keep_alive = r->minor >= 1 ? !close : keep && !close;
	r->body = buf + head;
	r->body_len = clen;
	r->total = head + clen;
	return 1;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_unescape(const char *in, size_t inlen, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= inlen)
				return -1;
			h = hexval((unsigned char)in[i + 1]);
			l = hexval((unsigned char)in[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0 || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

int http_utf8_ok(const char *s, size_t len, int controls)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		unsigned n, min;
		uint32_t cp;

		if (c < 0x80) {
			if (!controls && (c < 0x20 || c == 0x7f))
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}
