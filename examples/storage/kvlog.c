/* examples/storage/kvlog.c - the append-only log and its in-memory map. */
#include "config.h"

#include "examples/storage/kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "examples/storage/logdev.h"

#define OP_PUT	  1
#define OP_DELETE 2
/* Record header: u32 payload length, u32 CRC-32 of the payload. */
#define HDR 8
/* Payload before the key: u8 op, u32 key length. */
#define PAYLOAD_MIN 5
/* Largest record payload: a longer length is corruption, never a record
 * (kvlog_put refuses to write one). */
#define MAX_RECORD (64u << 20)
/* Replay reads the log in pieces of this size (or of one record, when
 * larger). */
#define READ_CHUNK (1u << 20)
/* Before cutting a torn end, recovery looks for a valid record inside it
 * (which would make it corruption instead). A search that would checksum
 * more than this many bytes gives up and calls it corruption: refusing to
 * start is safe, cutting is not. */
#define SEARCH_BUDGET (256u << 20)
/* Slots in a new map's index. */
#define SLOTS_MIN 64u

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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- Storage: every access to the log's bytes goes through its logdev
 * (logdev.h): a file or a block device, the same five operations. */

static int io_size(struct logdev *d, uint64_t *size)
{
	return d->ops->size(d, size);
}

static int io_read_at(struct logdev *d, uint64_t off, void *buf, size_t n)
{
	return d->ops->read_at(d, off, buf, n);
}

static int io_write_at(struct logdev *d, uint64_t off, const void *buf,
		       size_t n)
{
	return d->ops->write_at(d, off, buf, n);
}

static int io_sync(struct logdev *d)
{
	return d->ops->sync(d);
}

static int io_truncate(struct logdev *d, uint64_t size)
{
	return d->ops->truncate(d, size);
}

/* ---- Reading and checking records. */

/* A window on the log for one pass from start to end. */
struct reader {
	struct logdev *f;
	uint64_t size; /* of the file when the pass began */
	uint8_t *buf;
	size_t cap, have; /* buf holds the file's bytes [at, at + have) */
	uint64_t at;
};

/* The n bytes at `off` (off + n <= r->size), valid until the next call,
 * or NULL + errno (ENOMEM, or a read error). */
static const uint8_t *view(struct reader *r, uint64_t off, size_t n)
{
	size_t keep = 0, want = n > READ_CHUNK ? n : READ_CHUNK;

	if (off >= r->at && off - r->at <= r->have && n <= r->have &&
	    off - r->at <= r->have - n)
		return r->buf + (off - r->at);
	if (want > r->size - off)
		want = (size_t)(r->size - off);
	if (want > r->cap) {
		uint8_t *b = realloc(r->buf, want);

		if (b == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		r->buf = b;
		r->cap = want;
	}
	/* What was read already from `off` on is not read again. */
	if (off >= r->at && off - r->at < r->have) {
		keep = r->have - (size_t)(off - r->at);
		memmove(r->buf, r->buf + (off - r->at), keep);
	}
	r->at = off;
	r->have = keep;
	if (io_read_at(r->f, off + keep, r->buf + keep, want - keep) < 0)
		return NULL;
	r->have = want;
	return r->buf;
}

/* One record as check_record found it. */
struct rec {
	const uint8_t *p; /* the payload, valid until the next view */
	uint32_t len;
	int torn; /* the file ends inside the record */
	char why[160];
};

/* The payload makes sense to this version. Returns 1, or 0 with rec->why. */
static int well_formed(struct rec *rec)
{
	const uint8_t *p = rec->p;
	uint32_t klen;

	if (rec->len < PAYLOAD_MIN) {
		snprintf(rec->why, sizeof(rec->why),
			 "a payload of %u bytes, too short for any operation",
			 (unsigned)rec->len);
		return 0;
	}
	if (p[0] != OP_PUT && p[0] != OP_DELETE) {
		snprintf(rec->why, sizeof(rec->why),
			 "a record of operation %u, unknown to this version "
			 "(written by a newer one?)",
			 (unsigned)p[0]);
		return 0;
	}
	klen = get32(p + 1);
	if (klen > rec->len - PAYLOAD_MIN) {
		snprintf(rec->why, sizeof(rec->why),
			 "a key length of %u bytes past the end of its record",
			 (unsigned)klen);
		return 0;
	}
	/* kvlog_put takes C strings: no log of ours holds such a key. */
	if (memchr(p + PAYLOAD_MIN, 0, klen) != NULL) {
		snprintf(rec->why, sizeof(rec->why),
			 "a key with a NUL byte in it");
		return 0;
	}
	return 1;
}

/* Check the record at `off`. Returns 1 when it is valid (rec->p and
 * rec->len set), 0 when not (rec->why says why, rec->torn whether the
 * file ends inside it), -1 + errno when it could not be read. */
static int check_record(struct reader *r, uint64_t off, struct rec *rec)
{
	uint64_t left = r->size - off;
	const uint8_t *h;
	uint32_t len;

	rec->torn = 0;
	if (left < HDR) {
		rec->torn = 1;
		snprintf(rec->why, sizeof(rec->why),
			 "a record header cut short (%u of %u bytes)",
			 (unsigned)left, HDR);
		return 0;
	}
	h = view(r, off, HDR);
	if (h == NULL)
		return -1;
	len = get32(h);
	if (len > MAX_RECORD) {
		snprintf(rec->why, sizeof(rec->why),
			 "a record length of %u bytes, above the limit of %u",
			 (unsigned)len, MAX_RECORD);
		return 0;
	}
	if (len > left - HDR) {
		rec->torn = 1;
		snprintf(rec->why, sizeof(rec->why),
			 "a record of %u bytes cut short at %llu by the end "
			 "of the file",
			 (unsigned)len, (unsigned long long)(left - HDR));
		return 0;
	}
	h = view(r, off, HDR + (size_t)len);
	if (h == NULL)
		return -1;
	rec->p = h + HDR;
	rec->len = len;
	if (crc32(rec->p, len) != get32(h + 4)) {
		snprintf(rec->why, sizeof(rec->why),
			 "a record of %u bytes whose checksum does not match",
			 (unsigned)len);
		return 0;
	}
	return well_formed(rec);
}

/* Find the first valid record that starts in [from, r->size), checksumming
 * at most *budget bytes of candidates (the budget is used up). Returns 1
 * with *next its offset, 0 when there is none, 2 when the budget ran out,
 * -1 + errno. Bytes inside a value can look like a whole record (a client
 * chose them): recovery only ever refuses on a find, and repair keeps the
 * bytes it skips in the side file. */
static int find_valid(struct reader *r, uint64_t from, uint64_t *budget,
		      uint64_t *next)
{
	for (uint64_t p = from; p < r->size && r->size - p >= HDR + PAYLOAD_MIN;
	     p++) {
		const uint8_t *h = view(r, p, HDR + PAYLOAD_MIN);
		struct rec rec;
		uint32_t len;
		int c;

		if (h == NULL)
			return -1;
		/* Cheap tests first: they turn away nearly every offset. */
		len = get32(h);
		if (len < PAYLOAD_MIN || len > MAX_RECORD ||
		    len > r->size - p - HDR ||
		    (h[HDR] != OP_PUT && h[HDR] != OP_DELETE) ||
		    get32(h + HDR + 1) > len - PAYLOAD_MIN)
			continue;
		if (*budget < len)
			return 2;
		*budget -= len;
		c = check_record(r, p, &rec);
		if (c < 0)
			return -1;
		if (c > 0) {
			*next = p;
			return 1;
		}
	}
	return 0;
}

/* The record at `off` is not valid and the file ends inside it. Returns 1
 * when it can only be an append torn by a crash, 0 when it is corruption
 * (rec->why says why), -1 + errno. */
static int torn_end(struct reader *r, uint64_t off, struct rec *rec)
{
	uint64_t budget = SEARCH_BUDGET, next;
	const uint8_t *h;
	size_t n;
	char why[sizeof(rec->why)];
	int c;

	if (r->size - off < HDR)
		return 1;
	/* A length damaged in the last whole record looks like a torn one:
	 * its checksum still matches the bytes that are there. */
	n = (size_t)(r->size - off);
	h = view(r, off, n);
	if (h == NULL)
		return -1;
	if (crc32(h + HDR, n - HDR) == get32(h + 4)) {
		snprintf(rec->why, sizeof(rec->why),
			 "a record whose length field is damaged (its "
			 "checksum matches the %zu bytes up to the end)",
			 n - HDR);
		return 0;
	}
	/* A valid record further on means the length is wrong, not cut. */
	c = find_valid(r, off + 1, &budget, &next);
	if (c < 0)
		return -1;
	if (c == 0)
		return 1;
	memcpy(why, rec->why, sizeof(why));
	if (c == 1)
		snprintf(rec->why, sizeof(rec->why),
			 "%.100s, but a valid record starts at %llu", why,
			 (unsigned long long)next);
	else
		snprintf(rec->why, sizeof(rec->why),
			 "%.100s, which could not be told from corruption",
			 why);
	return 0;
}

/* ---- The index: open addressing with linear probing over a dense array
 * of entries. A hand-written table rather than a library's because its
 * hash is keyed (SipHash-1-3 with a random key per map): any RPC client
 * picks the keys, and with an unkeyed hash it could pick thousands that
 * collide and make every lookup a scan. */

struct entry {
	uint64_t hash;
	char *key; /* the key, a NUL, then the value: one allocation */
	size_t klen, vlen;
};

struct kvlog {
	struct logdev *f; /* the log's bytes */
	uint64_t end;	  /* where the next record goes */
	int broken;	  /* a failed append could not be undone */
	struct entry *e;
	size_t n, cap;
	size_t *slot; /* 0: empty, else an index into e, plus 1 */
	size_t mask;  /* slots - 1; the table is at most half full */
	uint64_t k0, k1;
};

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

static uint64_t key_hash(const struct kvlog *kv, const char *key, size_t n)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t v[4] = {
	    kv->k0 ^ 0x736f6d6570736575ull, kv->k1 ^ 0x646f72616e646f6dull,
	    kv->k0 ^ 0x6c7967656e657261ull, kv->k1 ^ 0x7465646279746573ull};
	uint64_t m, b = (uint64_t)n << 56;
	size_t i;

	for (i = 0; n - i >= 8; i += 8) {
		m = 0;
		for (int k = 0; k < 8; k++)
			m |= (uint64_t)p[i + (size_t)k] << (8 * k);
		v[3] ^= m;
		sipround(v);
		v[0] ^= m;
	}
	for (int k = 0; i < n; i++, k++)
		b |= (uint64_t)p[i] << (8 * k);
	v[3] ^= b;
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The hash key. Without the kernel's randomness (it never fails on Linux
 * once booted) the clock still keeps collisions from being precomputed. */
static void seed(struct kvlog *kv)
{
	uint64_t k[2];
	struct timespec ts;

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k)) {
		kv->k0 = k[0];
		kv->k1 = k[1];
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	kv->k0 = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		 (uint64_t)(uintptr_t)kv;
	kv->k1 =
	    (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ (uint64_t)getpid();
}

/* The slot that holds `key` (*found = 1), or the empty one where it would
 * go (*found = 0). */
static size_t probe(const struct kvlog *kv, const char *key, size_t klen,
		    uint64_t h, int *found)
{
	for (size_t i = (size_t)h & kv->mask;; i = (i + 1) & kv->mask) {
		const struct entry *e;

		if (kv->slot[i] == 0) {
			*found = 0;
			return i;
		}
		e = &kv->e[kv->slot[i] - 1];
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0) {
			*found = 1;
			return i;
		}
	}
}

/* Rebuild the index with `slots` slots (a power of two). Returns 0 or -1 +
 * ENOMEM (the old index stays). */
static int rehash(struct kvlog *kv, size_t slots)
{
	size_t *s = calloc(slots, sizeof(*s)), mask = slots - 1;

	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < kv->n; i++) {
		size_t j = (size_t)kv->e[i].hash & mask;

		while (s[j] != 0)
			j = (j + 1) & mask;
		s[j] = i + 1;
	}
	free(kv->slot);
	kv->slot = s;
	kv->mask = mask;
	return 0;
}

/* Room for one more entry, so that adding it cannot fail. Returns 0 or -1
 * + ENOMEM (the map is unchanged either way). */
static int reserve_one(struct kvlog *kv)
{
	if (kv->n == kv->cap) {
		size_t cap = kv->cap * 2;
		struct entry *e;

		if (cap > SIZE_MAX / sizeof(*e)) {
			errno = ENOMEM;
			return -1;
		}
		e = realloc(kv->e, cap * sizeof(*e));
		if (e == NULL) {
			errno = ENOMEM;
			return -1;
		}
		kv->e = e;
		kv->cap = cap;
	}
	if ((kv->n + 1) * 2 > kv->mask + 1) {
		if (kv->mask + 1 > SIZE_MAX / 2 / sizeof(size_t)) {
			errno = ENOMEM;
			return -1;
		}
		return rehash(kv, (kv->mask + 1) * 2);
	}
	return 0;
}

/* Empty slot i, moving later entries of its cluster back so that every
 * entry stays reachable from its home slot (no tombstones). */
static void unslot(struct kvlog *kv, size_t i)
{
	size_t j = i;

	kv->slot[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & kv->mask;
		if (kv->slot[j] == 0)
			return;
		home = (size_t)kv->e[kv->slot[j] - 1].hash & kv->mask;
		/* An entry whose home lies after the hole stays. */
		if (((j - home) & kv->mask) < ((j - i) & kv->mask))
			continue;
		kv->slot[i] = kv->slot[j];
		kv->slot[j] = 0;
		i = j;
	}
}

/* Remove the entry in slot `pos`; the last entry takes its place in the
 * dense array. */
static void remove_at(struct kvlog *kv, size_t pos)
{
	size_t idx = kv->slot[pos] - 1, last = kv->n - 1;

	free(kv->e[idx].key);
	unslot(kv, pos);
	if (idx != last) {
		size_t j = (size_t)kv->e[last].hash & kv->mask;

		while (kv->slot[j] != last + 1)
			j = (j + 1) & kv->mask;
		kv->slot[j] = idx + 1;
		kv->e[idx] = kv->e[last];
	}
	kv->n--;
}

/* A put made ready: everything it needs is allocated, so that once its
 * record is durable, applying it cannot fail. */
struct change {
	uint64_t hash;
	size_t pos;
	int found;
	char *block;
	size_t klen, vlen;
};

static int prepare_put(struct kvlog *kv, const char *key, size_t klen,
		       const uint8_t *val, size_t vlen, struct change *c)
{
	if (klen > SIZE_MAX - 1 - vlen) {
		errno = ENOMEM;
		return -1;
	}
	c->block = malloc(klen + 1 + vlen);
	if (c->block == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(c->block, key, klen);
	c->block[klen] = '\0';
	if (vlen > 0)
		memcpy(c->block + klen + 1, val, vlen);
	c->klen = klen;
	c->vlen = vlen;
	c->hash = key_hash(kv, key, klen);
	c->pos = probe(kv, key, klen, c->hash, &c->found);
	if (c->found)
		return 0;
	if (reserve_one(kv) < 0) {
		free(c->block);
		return -1;
	}
	/* The index may have grown: find the free slot again. */
	c->pos = probe(kv, key, klen, c->hash, &c->found);
	return 0;
}

static void commit_put(struct kvlog *kv, const struct change *c)
{
	struct entry *e;

	if (c->found) {
		e = &kv->e[kv->slot[c->pos] - 1];
		free(e->key);
		e->key = c->block;
		e->vlen = c->vlen;
		return;
	}
	kv->e[kv->n++] = (struct entry){c->hash, c->block, c->klen, c->vlen};
	kv->slot[c->pos] = kv->n;
}

/* Apply a valid record's payload. Returns 0 or -1 + ENOMEM. */
static int apply(struct kvlog *kv, const uint8_t *p, uint32_t len)
{
	uint32_t klen = get32(p + 1);
	const char *key = (const char *)p + PAYLOAD_MIN;
	struct change c;
	size_t pos;
	int found;

	if (p[0] == OP_DELETE) {
		pos = probe(kv, key, klen, key_hash(kv, key, klen), &found);
		if (found)
			remove_at(kv, pos);
		return 0;
	}
	if (prepare_put(kv, key, klen, p + PAYLOAD_MIN + klen,
			len - PAYLOAD_MIN - klen, &c) < 0)
		return -1;
	commit_put(kv, &c);
	return 0;
}

/* ---- Opening: replay, and the one change recovery may make. */

/* Replay stopped at `off` on a record that is not valid: cut it when it
 * is a torn end, else fail with EBADMSG. */
static int stop_at(struct kvlog *kv, struct reader *r, uint64_t off,
		   struct rec *rec, struct kvlog_status *st)
{
	int c = rec->torn && !kv->f->exact_end ? torn_end(r, off, rec) : 0;
	char why[sizeof(rec->why)];

	/* Where the length covers answered records only, a record it cuts
	 * short was answered: damage, never a torn append to cut off. */
	if (rec->torn && kv->f->exact_end) {
		memcpy(why, rec->why, sizeof(why));
		snprintf(rec->why, sizeof(rec->why),
			 "%.100s, inside the length the log's header says "
			 "was synced",
			 why);
	}

	if (c < 0)
		return -1;
	if (c == 0) {
		st->offset = off;
		snprintf(st->why, sizeof(st->why), "%s", rec->why);
		errno = EBADMSG;
		return -1;
	}
	/* Never acknowledged (an append returns only once its record is
	 * whole and synced): new records must follow the last whole one. */
	if (io_truncate(kv->f, off) < 0 || io_sync(kv->f) < 0)
		return -1;
	st->dropped = r->size - off;
	kv->end = off;
	return 0;
}

static int replay(struct kvlog *kv, struct kvlog_status *st)
{
	struct reader r = {.f = kv->f};
	uint64_t off = 0;
	int rc = 0;

	if (io_size(kv->f, &r.size) < 0)
		return -1;
	while (off < r.size) {
		struct rec rec;
		int c = check_record(&r, off, &rec);

		if (c == 0) {
			rc = stop_at(kv, &r, off, &rec, st);
			free(r.buf);
			return rc;
		}
		if (c < 0 || apply(kv, rec.p, rec.len) < 0) {
			rc = -1;
			break;
		}
		off += HDR + rec.len;
	}
	free(r.buf);
	kv->end = off;
	return rc;
}

struct kvlog *kvlog_open_dev(struct logdev *dev, struct kvlog_status *st)
{
	struct kvlog_status ignored;
	struct kvlog *kv;
	int e;

	if (st == NULL)
		st = &ignored;
	memset(st, 0, sizeof(*st));
	if (dev == NULL)
		return NULL;
	kv = calloc(1, sizeof(*kv));
	if (kv == NULL) {
		logdev_close(dev);
		errno = ENOMEM;
		return NULL;
	}
	kv->f = dev;
	seed(kv);
	kv->cap = SLOTS_MIN / 2;
	kv->e = malloc(kv->cap * sizeof(*kv->e));
	if (kv->e == NULL || rehash(kv, SLOTS_MIN) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	if (replay(kv, st) < 0)
		goto fail;
	return kv;
fail:
	e = errno;
	kvlog_close(kv);
	errno = e;
	return NULL;
}

struct kvlog *kvlog_open(const char *path, struct kvlog_status *st)
{
	struct logdev *dev = logdev_file_open(path, LOGDEV_FILE_LOG);

	if (dev == NULL && st != NULL)
		memset(st, 0, sizeof(*st));
	return dev == NULL ? NULL : kvlog_open_dev(dev, st);
}

void kvlog_close(struct kvlog *kv)
{
	if (kv == NULL)
		return;
	logdev_close(kv->f);
	for (size_t i = 0; i < kv->n; i++)
		free(kv->e[i].key);
	free(kv->e);
	free(kv->slot);
	free(kv);
}

const uint8_t *kvlog_get(const struct kvlog *kv, const char *key, size_t *len)
{
	size_t klen = strlen(key), pos;
	const struct entry *e;
	int found;

	pos = probe(kv, key, klen, key_hash(kv, key, klen), &found);
	if (!found)
		return NULL;
	e = &kv->e[kv->slot[pos] - 1];
	*len = e->vlen;
	return (const uint8_t *)e->key + e->klen + 1;
}

/* ---- Changes. */

/* Append one record and make it durable. A failed append is cut back off:
 * left there, it would be a torn record in the middle of the log once
 * later records followed it, and recovery would refuse the log. When the
 * cut fails too, the log is broken: no record may follow. */
static int append(struct kvlog *kv, int op, const char *key, size_t klen,
		  const uint8_t *val, size_t len)
{
	size_t n;
	uint8_t *r;
	int e;

	if (kv->broken) {
		errno = EIO;
		return -1;
	}
	if (klen > MAX_RECORD - PAYLOAD_MIN ||
	    len > MAX_RECORD - PAYLOAD_MIN - klen) {
		errno = EFBIG;
		return -1;
	}
	n = HDR + PAYLOAD_MIN + klen + len;
	r = malloc(n);
	if (r == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r[HDR] = (uint8_t)op;
	put32(r + HDR + 1, (uint32_t)klen);
	memcpy(r + HDR + PAYLOAD_MIN, key, klen);
	if (len > 0)
		memcpy(r + HDR + PAYLOAD_MIN + klen, val, len);
	put32(r, (uint32_t)(n - HDR));
	put32(r + 4, crc32(r + HDR, n - HDR));
	if (io_write_at(kv->f, kv->end, r, n) == 0 && io_sync(kv->f) == 0) {
		free(r);
		kv->end += n;
		return 0;
	}
	e = errno;
	free(r);
	if (io_truncate(kv->f, kv->end) < 0 || io_sync(kv->f) < 0)
		kv->broken = 1;
	errno = e;
	return -1;
}

int kvlog_put(struct kvlog *kv, const char *key, const uint8_t *val, size_t len)
{
	struct change c;

	if (kv->broken) {
		errno = EIO;
		return -1;
	}
	if (prepare_put(kv, key, strlen(key), val, len, &c) < 0)
		return -1;
	if (append(kv, OP_PUT, key, c.klen, val, len) < 0) {
		int e = errno;

		free(c.block);
		errno = e;
		return -1;
	}
	commit_put(kv, &c);
	return 0;
}

int kvlog_delete(struct kvlog *kv, const char *key)
{
	size_t klen = strlen(key), pos;
	int found;

	pos = probe(kv, key, klen, key_hash(kv, key, klen), &found);
	if (!found)
		return 0;
	if (append(kv, OP_DELETE, key, klen, NULL, 0) < 0)
		return -1;
	remove_at(kv, pos);
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **kvlog_list(const struct kvlog *kv, const char *prefix, size_t *n)
{
	const char **out = malloc((kv->n ? kv->n : 1) * sizeof(*out));
	size_t pl = strlen(prefix), k = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < kv->n; i++)
		if (strncmp(kv->e[i].key, prefix, pl) == 0)
			out[k++] = kv->e[i].key;
	qsort(out, k, sizeof(*out), cmp_str);
	*n = k;
	return out;
}

/* ---- Repair. */

/* Copy the log's bytes [from, to) to `dst` at *at. */
static int copy_range(struct reader *r, uint64_t from, uint64_t to,
		      struct logdev *dst, uint64_t *at)
{
	while (from < to) {
		size_t n =
		    to - from > READ_CHUNK ? READ_CHUNK : (size_t)(to - from);
		const uint8_t *p = view(r, from, n);

		if (p == NULL || io_write_at(dst, *at, p, n) < 0)
			return -1;
		from += n;
		*at += n;
	}
	return 0;
}

/* Offset of the first record that is not valid, or r->size. */
static int first_bad(struct reader *r, uint64_t *off, struct rec *rec)
{
	for (*off = 0; *off < r->size;) {
		int c = check_record(r, *off, rec);

		if (c <= 0)
			return c;
		*off += HDR + rec->len;
	}
	return 1;
}

/* A new file next to the log: `path`.bad, else .bad.1, .bad.2, ... */
static struct logdev *create_aside(const char *path, char *name, size_t size)
{
	for (int i = 0; i < 1000; i++) {
		int n = i == 0 ? snprintf(name, size, "%s.bad", path)
			       : snprintf(name, size, "%s.bad.%d", path, i);
		struct logdev *d;

		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		d = logdev_file_open(name, LOGDEV_FILE_EXCL);
		if (d != NULL || errno != EEXIST)
			return d;
	}
	errno = EEXIST;
	return NULL;
}

/* Copy the valid records from `bad` on into `out` and the other parts into
 * `side`. Returns the number of parts, or -1 + errno. */
static int sort_out(struct reader *r, uint64_t bad, struct logdev *out,
		    struct logdev *side,
		    void (*note)(void *, uint64_t, uint64_t, const char *),
		    void *arg)
{
	uint64_t off = bad, kept = 0, wout = 0, wside = 0;
	int parts = 0;

	while (off < r->size) {
		uint64_t budget = UINT64_MAX, next = r->size;
		struct rec rec;
		int c = check_record(r, off, &rec);

		if (c < 0)
			return -1;
		if (c > 0) {
			off += HDR + rec.len;
			continue;
		}
		/* The good run before this bad part goes to the log. */
		if (copy_range(r, kept, off, out, &wout) < 0)
			return -1;
		c = find_valid(r, off + 1, &budget, &next);
		if (c < 0)
			return -1;
		if (c == 0)
			next = r->size;
		if (copy_range(r, off, next, side, &wside) < 0)
			return -1;
		if (note != NULL)
			note(arg, off, next - off, rec.why);
		parts++;
		off = kept = next;
	}
	if (copy_range(r, kept, off, out, &wout) < 0)
		return -1;
	return parts;
}

int kvlog_sort_out(struct logdev *in, const char *out_path,
		   const char *side_base, char *aside, size_t aside_size,
		   void (*note)(void *arg, uint64_t offset, uint64_t len,
				const char *why),
		   void *arg)
{
	struct logdev *out = NULL, *side = NULL;
	struct reader r = {.f = in};
	char name[PATH_MAX];
	uint64_t bad;
	struct rec rec;
	int parts = -1, e;

	if (io_size(in, &r.size) < 0)
		goto done;
	e = first_bad(&r, &bad, &rec);
	if (e != 0) {
		parts = e > 0 ? 0 : -1;
		goto done;
	}
	out = logdev_file_open(out_path, LOGDEV_FILE_NEW);
	if (out == NULL ||
	    (side = create_aside(side_base, name, sizeof(name))) == NULL)
		goto done;
	parts = sort_out(&r, bad, out, side, note, arg);
	/* The bad parts are safe on disk before the log loses them. */
	if (parts < 0 || io_sync(side) < 0 || io_sync(out) < 0 ||
	    logdev_sync_dir(name) < 0) {
		parts = -1;
		goto done;
	}
	if (aside != NULL && aside_size > 0)
		snprintf(aside, aside_size, "%s", name);
done:
	e = errno;
	if (parts < 0 && out != NULL)
		unlink(out_path);
	if (parts < 0 && side != NULL)
		unlink(name);
	logdev_close(out);
	logdev_close(side);
	free(r.buf);
	errno = e;
	return parts;
}

int kvlog_repair(const char *path, char *aside, size_t aside_size,
		 void (*note)(void *arg, uint64_t offset, uint64_t len,
			      const char *why),
		 void *arg)
{
	struct logdev *in = logdev_file_open(path, LOGDEV_FILE_READ);
	char tmp[PATH_MAX];
	int parts = -1, e;

	if (in == NULL)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.repair", path) >= (int)sizeof(tmp))
		errno = ENAMETOOLONG;
	else
		parts =
		    kvlog_sort_out(in, tmp, path, aside, aside_size, note, arg);
	e = errno;
	logdev_close(in);
	/* The repaired log replaces the old one atomically. */
	if (parts > 0 && (rename(tmp, path) < 0 || logdev_sync_dir(path) < 0)) {
		e = errno;
		unlink(tmp);
		parts = -1;
	}
	errno = e;
	return parts;
}
