/* examples/common/buf.h - a growable byte buffer, read from the front and
 * written at the back.
 *
 * The examples keep bytes that are not yet taken on (a connection's input
 * until its request is complete, output until the socket or channel takes
 * it). The struct is embedded in theirs, so its fields are visible; use
 * the functions. A zeroed struct buf is an empty buffer.
 */
#ifndef EXAMPLES_COMMON_BUF_H
#define EXAMPLES_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;
	size_t off; /* bytes before it have been consumed */
	size_t len; /* bytes written, consumed ones included */
	size_t cap;
};

/* Make room for `n` more bytes at the back and count them as written.
 * Returns where they go (the caller fills them), or NULL + ENOMEM with the
 * buffer unchanged. Pointers into the buffer are stale afterwards. */
void *buf_extend(struct buf *b, size_t n);

/* Append `n` bytes. Returns 0 or -1 + ENOMEM (nothing appended). */
int buf_add(struct buf *b, const void *p, size_t n);

/* The unconsumed bytes, and how many there are. */
static inline uint8_t *buf_data(const struct buf *b)
{
	return b->p + b->off;
}

static inline size_t buf_size(const struct buf *b)
{
	return b->len - b->off;
}

/* The first `n` unconsumed bytes (n <= buf_size) have been taken. */
void buf_consume(struct buf *b, size_t n);

/* Free the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);

#endif
