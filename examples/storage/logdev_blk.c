/* examples/storage/logdev_blk.c - the log on a block device (logdev.h).
 *
 * Layout, little-endian:
 *   bytes 0 and 4096: two header slots, each one sector written whole:
 *     "VCHANKV\0", u32 version (1), u32 sector size, u64 generation,
 *     u64 log length, u64 data start (8192), u64 device bytes at format,
 *     u32 CRC-32 of the 52 bytes before it
 *   bytes 8192 on: the log's bytes, as in a log file.
 * The valid slot with the higher generation is current. A sync flushes
 * the data written since the last one, then writes the new length into
 * the other slot with the next generation, then flushes again: the
 * length never covers bytes that are not durable, and a header torn by a
 * crash leaves the previous one valid (a sector write either happens or
 * not; the CRC catches one that did half). So a record is part of the log
 * exactly when a sync after it returned, which is when kvlog answers; an
 * append cut by a crash is simply past the length, never seen again.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/storage/logdev.h"

#define SLOT_B	    4096u
#define DATA_START  8192u
#define HDR_BYTES   56u
#define LOG_VERSION 1u
static const char MAGIC[8] = "VCHANKV";

struct blklog {
	struct logdev base; /* first */
	struct blkdev *b;
	uint32_t ss;	  /* sector size */
	uint64_t cap;	  /* bytes of log the device holds */
	uint64_t len;	  /* the log's length, as written */
	uint64_t durable; /* the length the current header holds */
	uint64_t gen;	  /* the current header's generation */
	int slot;	  /* which slot holds it: 0 or 1 */
	int dirty;	  /* written since the last sync */
	uint8_t *sec;	  /* one sector of scratch */
};

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static struct blklog *to_log(struct logdev *d)
{
	return (struct blklog *)d;
}

static uint64_t slot_sector(const struct blklog *l, int slot)
{
	return slot == 0 ? 0 : SLOT_B / l->ss;
}

/* ---- sectors: the device moves whole ones; the log's bytes are any
 * range. Partial sectors at either end go through the scratch sector;
 * whole ones straight from or to the caller's buffer. */

static int dev_read(struct blklog *l, uint64_t at, uint8_t *p, size_t n)
{
	while (n > 0) {
		uint64_t s = at / l->ss;
		size_t in = (size_t)(at % l->ss), k;

		if (in != 0 || n < l->ss) {
			if (l->b->ops->read(l->b, s, l->sec, 1) < 0)
				return -1;
			k = l->ss - in < n ? l->ss - in : n;
			memcpy(p, l->sec + in, k);
		} else {
			k = n - n % l->ss;
			if (l->b->ops->read(l->b, s, p, k / l->ss) < 0)
				return -1;
		}
		p += k;
		at += k;
		n -= k;
	}
	return 0;
}

static int dev_write(struct blklog *l, uint64_t at, const uint8_t *p, size_t n)
{
	while (n > 0) {
		uint64_t s = at / l->ss;
		size_t in = (size_t)(at % l->ss), k;

		if (in != 0 || n < l->ss) {
			k = l->ss - in < n ? l->ss - in : n;
			if (l->b->ops->read(l->b, s, l->sec, 1) < 0)
				return -1;
			memcpy(l->sec + in, p, k);
			if (l->b->ops->write(l->b, s, l->sec, 1) < 0)
				return -1;
		} else {
			k = n - n % l->ss;
			if (l->b->ops->write(l->b, s, p, k / l->ss) < 0)
				return -1;
		}
		p += k;
		at += k;
		n -= k;
	}
	return 0;
}

/* ---- headers */

static int write_header(struct blklog *l, int slot, uint64_t gen, uint64_t len)
{
	memset(l->sec, 0, l->ss);
	memcpy(l->sec, MAGIC, 8);
	put32(l->sec + 8, LOG_VERSION);
	put32(l->sec + 12, l->ss);
	put64(l->sec + 16, gen);
	put64(l->sec + 24, len);
	put64(l->sec + 32, DATA_START);
	put64(l->sec + 40, l->cap + DATA_START);
	put32(l->sec + 48, 0); /* reserved */
	put32(l->sec + HDR_BYTES - 4, crc32(l->sec, HDR_BYTES - 4));
	return l->b->ops->write(l->b, slot_sector(l, slot), l->sec, 1);
}

/* Slot `slot`: 1 valid (its generation and length in *gen, *len), 0 not
 * one of ours at all, -1 + errno the read failed; 2 ours but damaged. */
static int read_header(struct blklog *l, int slot, uint64_t *gen, uint64_t *len)
{
	if (l->b->ops->read(l->b, slot_sector(l, slot), l->sec, 1) < 0)
		return -1;
	if (memcmp(l->sec, MAGIC, 8) != 0)
		return 0;
	if (get32(l->sec + HDR_BYTES - 4) != crc32(l->sec, HDR_BYTES - 4) ||
	    get32(l->sec + 8) != LOG_VERSION || get32(l->sec + 12) != l->ss ||
	    get64(l->sec + 32) != DATA_START || get64(l->sec + 24) > l->cap)
		return 2;
	*gen = get64(l->sec + 16);
	*len = get64(l->sec + 24);
	return 1;
}

/* ---- the five operations */

static int blk_size(struct logdev *d, uint64_t *size)
{
	*size = to_log(d)->len;
	return 0;
}

static int blk_read_at(struct logdev *d, uint64_t off, void *buf, size_t n)
{
	struct blklog *l = to_log(d);

	if (off > l->len || n > l->len - off) {
		errno = EIO;
		return -1;
	}
	return dev_read(l, DATA_START + off, buf, n);
}

static int blk_write_at(struct logdev *d, uint64_t off, const void *buf,
			size_t n)
{
	struct blklog *l = to_log(d);

	if (off > l->cap || n > l->cap - off) {
		errno = ENOSPC;
		return -1;
	}
	l->dirty = 1;
	if (dev_write(l, DATA_START + off, buf, n) < 0)
		return -1;
	if (off + n > l->len)
		l->len = off + n;
	return 0;
}

static int blk_sync(struct logdev *d)
{
	struct blklog *l = to_log(d);
	int next = 1 - l->slot;

	if (!l->dirty && l->len == l->durable)
		return 0;
	/* The data first: the new length must never name bytes that a
	 * crash could still lose. */
	if (l->b->ops->flush(l->b) < 0 ||
	    write_header(l, next, l->gen + 1, l->len) < 0 ||
	    l->b->ops->flush(l->b) < 0)
		return -1;
	l->slot = next;
	l->gen++;
	l->durable = l->len;
	l->dirty = 0;
	return 0;
}

static int blk_truncate(struct logdev *d, uint64_t size)
{
	struct blklog *l = to_log(d);

	if (size > l->cap) {
		errno = ENOSPC;
		return -1;
	}
	l->len = size;
	return 0;
}

static void blk_close(struct logdev *d)
{
	struct blklog *l = to_log(d);

	l->b->ops->close(l->b);
	free(l->sec);
	free(l);
}

static const struct logdev_ops blk_ops = {blk_size, blk_read_at,  blk_write_at,
					  blk_sync, blk_truncate, blk_close};

/* 1 when the first DATA_START bytes are all zero (a new disk). */
static int blank(struct blklog *l)
{
	for (uint64_t s = 0; s < DATA_START / l->ss; s++) {
		if (l->b->ops->read(l->b, s, l->sec, 1) < 0)
			return -1;
		for (uint32_t i = 0; i < l->ss; i++)
			if (l->sec[i] != 0)
				return 0;
	}
	return 1;
}

static struct logdev *refuse(struct blklog *l, int err, char *why,
			     size_t why_size, const char *text)
{
	if (why != NULL && why_size > 0)
		snprintf(why, why_size, "%s", text);
	blk_close(&l->base);
	errno = err;
	return NULL;
}

/* The log's handle on `b` with both header slots read (h[], gen[],
 * len[] as read_header says), or NULL + errno after refusing (b closed). */
static struct blklog *load(struct blkdev *b, int h[2], uint64_t gen[2],
			   uint64_t len[2], char *why, size_t why_size)
{
	struct blklog *l;
	char text[160];
	int e;

	if (why != NULL && why_size > 0)
		why[0] = '\0';
	if (b == NULL)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		b->ops->close(b);
		errno = ENOMEM;
		return NULL;
	}
	l->base.ops = &blk_ops;
	l->base.exact_end = 1;
	l->b = b;
	l->ss = b->sector_size;
	if (l->ss < 512 || l->ss > 4096 || (l->ss & (l->ss - 1)) != 0) {
		snprintf(text, sizeof(text),
			 "sectors of %u bytes: 512 to 4096, a power of two, "
			 "are needed",
			 (unsigned)l->ss);
		l->ss = 512; /* for blk_close's sake */
		refuse(l, EINVAL, why, why_size, text);
		return NULL;
	}
	l->sec = malloc(l->ss);
	if (l->sec == NULL) {
		refuse(l, ENOMEM, why, why_size, "out of memory");
		return NULL;
	}
	if (b->sectors > UINT64_MAX / l->ss ||
	    b->sectors * l->ss < LOGDEV_BLK_MIN_BYTES) {
		snprintf(text, sizeof(text),
			 "the disk has %llu bytes; the log needs at least %u",
			 (unsigned long long)(b->sectors * l->ss),
			 LOGDEV_BLK_MIN_BYTES);
		refuse(l, ENOSPC, why, why_size, text);
		return NULL;
	}
	l->cap = b->sectors * l->ss - DATA_START;
	for (int s = 0; s < 2; s++) {
		h[s] = read_header(l, s, &gen[s], &len[s]);
		if (h[s] < 0) {
			e = errno;
			snprintf(text, sizeof(text), "reading header %d: %s", s,
				 strerror(e));
			refuse(l, e, why, why_size, text);
			return NULL;
		}
	}
	return l;
}

/* An empty log: slot 1 gets generation 1, so the first sync writes slot
 * 0. Slot 0 is cleared, lest what was there pass for a header. */
static int lay_out(struct blklog *l)
{
	l->slot = 1;
	l->gen = 1;
	l->len = l->durable = 0;
	memset(l->sec, 0, l->ss);
	if (l->b->ops->write(l->b, slot_sector(l, 0), l->sec, 1) < 0 ||
	    write_header(l, 1, 1, 0) < 0)
		return -1;
	return l->b->ops->flush(l->b);
}

struct logdev *logdev_blk_open(struct blkdev *b, char *why, size_t why_size)
{
	struct blklog *l;
	uint64_t gen[2] = {0, 0}, len[2] = {0, 0};
	int h[2], e;
	char text[160];

	l = load(b, h, gen, len, why, why_size);
	if (l == NULL)
		return NULL;
	if (h[0] == 1 || h[1] == 1) {
		l->slot = h[1] == 1 && (h[0] != 1 || gen[1] > gen[0]) ? 1 : 0;
		l->gen = gen[l->slot];
		l->len = l->durable = len[l->slot];
		return &l->base;
	}
	if (h[0] == 2 || h[1] == 2)
		return refuse(l, EBADMSG, why, why_size,
			      "both headers of the log are damaged; nothing "
			      "was changed");
	e = blank(l);
	if (e < 0) {
		e = errno;
		snprintf(text, sizeof(text), "reading the disk: %s",
			 strerror(e));
		return refuse(l, e, why, why_size, text);
	}
	if (e == 0)
		return refuse(l, EMEDIUMTYPE, why, why_size,
			      "the disk holds something else (no log header, "
			      "and its first 8 KiB are not blank); nothing was "
			      "changed");
	if (lay_out(l) < 0) {
		e = errno;
		snprintf(text, sizeof(text), "formatting: %s", strerror(e));
		return refuse(l, e, why, why_size, text);
	}
	if (why != NULL && why_size > 0)
		snprintf(why, why_size,
			 "formatted a blank disk of %llu bytes for the log",
			 (unsigned long long)(b->sectors * l->ss));
	return &l->base;
}

int logdev_blk_format(struct blkdev *b, char *why, size_t why_size)
{
	struct blklog *l;
	uint64_t gen[2] = {0, 0}, len[2] = {0, 0};
	int h[2], e, s;
	char text[160];

	l = load(b, h, gen, len, why, why_size);
	if (l == NULL)
		return -1;
	/* Records of ours are never thrown away by a format: only what
	 * this program cannot read. */
	s = h[1] == 1 && (h[0] != 1 || gen[1] > gen[0]) ? 1 : 0;
	if (h[s] == 1 && len[s] > 0) {
		snprintf(text, sizeof(text),
			 "the disk holds a log of %llu bytes, which a format "
			 "would lose; nothing was changed",
			 (unsigned long long)len[s]);
		refuse(l, EEXIST, why, why_size, text);
		return -1;
	}
	if (h[s] != 1 && (h[0] == 2 || h[1] == 2)) {
		refuse(l, EBADMSG, why, why_size,
		       "both headers of the log are damaged: its records may "
		       "still be there, which a format would lose; nothing "
		       "was changed");
		return -1;
	}
	if (lay_out(l) < 0) {
		e = errno;
		snprintf(text, sizeof(text), "formatting: %s", strerror(e));
		refuse(l, e, why, why_size, text);
		return -1;
	}
	if (why != NULL && why_size > 0)
		snprintf(why, why_size,
			 "formatted the disk (%llu bytes): an empty log",
			 (unsigned long long)(b->sectors * l->ss));
	blk_close(&l->base);
	return 0;
}

uint64_t logdev_blk_generation(struct logdev *d)
{
	return to_log(d)->gen;
}
