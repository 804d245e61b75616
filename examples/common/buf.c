/* examples/common/buf.c - a growable byte buffer (see buf.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/buf.h"

#define BUF_MIN 1024u

void *buf_extend(struct buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	/* Reclaim the consumed front before growing: a buffer that is read
	 * as fast as it is written then stays small. */
	if (b->off > 0 && b->len + n > b->cap) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return NULL;
	}
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : BUF_MIN;
		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL)
			return NULL;
		b->p = p;
		b->cap = cap;
	}
	p = b->p + b->len;
	b->len += n;
	return p;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	void *to;

	if (n == 0)
		return 0;
	to = buf_extend(b, n);
	if (to == NULL)
		return -1;
	memcpy(to, p, n);
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
