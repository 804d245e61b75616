/* examples/storage/kvlog.c - the append-only log and its in-memory map. */
#include "config.h"

#include "examples/storage/kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- Storage: every access to the log's bytes goes through these.
 * (On a block device the same five operations would be sectors; only
 * io_open, sync_dir and kvlog_repair's renames are file-system matters.) */

struct logfile {
	int fd;
};

static int io_size(const struct logfile *f, uint64_t *size)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Read exactly n bytes at `off`. The file ending first is EIO: the caller
 * asked for bytes that io_size said were there. */
static int io_read_at(const struct logfile *f, uint64_t off, void *buf,
		      size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pread(f->fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* Write all n bytes at `off`. */
static int io_write_at(struct logfile *f, uint64_t off, const void *buf,
		       size_t n)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(f->fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make what was written (and the file's size) durable. */
static int io_sync(struct logfile *f)
{
	return fdatasync(f->fd);
}

static int io_truncate(struct logfile *f, uint64_t size)
{
	return ftruncate(f->fd, (off_t)size);
}

static void io_close(struct logfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* fsync the directory that holds `path`: a file just created (or renamed
 * there) can otherwise vanish at a crash, whatever was synced inside it. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t n;
	int fd, r, e;

	if (slash == NULL) {
		strcpy(dir, ".");
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* Open the log, creating it when missing. The directory is synced every
 * time, not only after a creation: an earlier open may have created the
 * file and then failed before its own sync. */
static int io_open(struct logfile *f, const char *path)
{
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return -1;
	return sync_dir(path);
}

/* ---- Reading and checking records. */

/* A window on the log for one pass from start to end. */
struct reader {
	const struct logfile *f;
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

/* ---- The map. */

struct entry {
	char *key;
	uint8_t *val;
	size_t len;
};

struct kvlog {
	struct logfile f;
	uint64_t end; /* where the next record goes */
	int broken;   /* a failed append could not be undone */
	struct entry *e;
	size_t n, cap;
};

static struct entry *find(const struct kvlog *kv, const char *key)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->e[i].key, key) == 0)
			return &kv->e[i];
	return NULL;
}

static int apply_put(struct kvlog *kv, const char *key, size_t klen,
		     const uint8_t *val, size_t len)
{
	uint8_t *v = malloc(len ? len : 1);
	struct entry *e;
	char *k;

	if (v == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* An empty value may come as NULL (protobuf-c's empty bytes). */
	if (len > 0)
		memcpy(v, val, len);
	k = strndup(key, klen);
	if (k == NULL) {
		free(v);
		errno = ENOMEM;
		return -1;
	}
	e = find(kv, k);
	if (e != NULL) {
		free(k);
		free(e->val);
		e->val = v;
		e->len = len;
		return 0;
	}
	if (kv->n == kv->cap) {
		size_t cap = kv->cap ? kv->cap * 2 : 64;
		struct entry *ne = realloc(kv->e, cap * sizeof(*ne));

		if (ne == NULL) {
			free(k);
			free(v);
			errno = ENOMEM;
			return -1;
		}
		kv->e = ne;
		kv->cap = cap;
	}
	kv->e[kv->n++] = (struct entry){k, v, len};
	return 0;
}

static int apply_delete(struct kvlog *kv, const char *key)
{
	struct entry *e = find(kv, key);

	if (e == NULL)
		return 0;
	free(e->key);
	free(e->val);
	*e = kv->e[--kv->n];
	return 1;
}

/* Apply a valid record's payload. Returns 0 or -1 + ENOMEM. */
static int apply(struct kvlog *kv, const uint8_t *p, uint32_t len)
{
	uint32_t klen = get32(p + 1);
	const char *key = (const char *)p + PAYLOAD_MIN;
	char *k;

	if (p[0] == OP_PUT)
		return apply_put(kv, key, klen, p + PAYLOAD_MIN + klen,
				 len - PAYLOAD_MIN - klen);
	k = strndup(key, klen);
	if (k == NULL) {
		errno = ENOMEM;
		return -1;
	}
	apply_delete(kv, k);
	free(k);
	return 0;
}

/* ---- Opening: replay, and the one change recovery may make. */

/* Replay stopped at `off` on a record that is not valid: cut it when it
 * is a torn end, else fail with EBADMSG. */
static int stop_at(struct kvlog *kv, struct reader *r, uint64_t off,
		   struct rec *rec, struct kvlog_status *st)
{
	int c = rec->torn ? torn_end(r, off, rec) : 0;

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
	if (io_truncate(&kv->f, off) < 0 || io_sync(&kv->f) < 0)
		return -1;
	st->dropped = r->size - off;
	kv->end = off;
	return 0;
}

static int replay(struct kvlog *kv, struct kvlog_status *st)
{
	struct reader r = {.f = &kv->f};
	uint64_t off = 0;
	int rc = 0;

	if (io_size(&kv->f, &r.size) < 0)
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

struct kvlog *kvlog_open(const char *path, struct kvlog_status *st)
{
	struct kvlog_status ignored;
	struct kvlog *kv = calloc(1, sizeof(*kv));
	int e;

	if (st == NULL)
		st = &ignored;
	memset(st, 0, sizeof(*st));
	if (kv == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	kv->f.fd = -1;
	if (io_open(&kv->f, path) < 0 || replay(kv, st) < 0)
		goto fail;
	return kv;
fail:
	e = errno;
	kvlog_close(kv);
	errno = e;
	return NULL;
}

void kvlog_close(struct kvlog *kv)
{
	if (kv == NULL)
		return;
	io_close(&kv->f);
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->e[i].key);
		free(kv->e[i].val);
	}
	free(kv->e);
	free(kv);
}

const uint8_t *kvlog_get(const struct kvlog *kv, const char *key, size_t *len)
{
	const struct entry *e = find(kv, key);

	if (e == NULL)
		return NULL;
	*len = e->len;
	return e->val;
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
	if (io_write_at(&kv->f, kv->end, r, n) == 0 && io_sync(&kv->f) == 0) {
		free(r);
		kv->end += n;
		return 0;
	}
	e = errno;
	free(r);
	if (io_truncate(&kv->f, kv->end) < 0 || io_sync(&kv->f) < 0)
		kv->broken = 1;
	errno = e;
	return -1;
}

int kvlog_put(struct kvlog *kv, const char *key, const uint8_t *val, size_t len)
{
	if (append(kv, OP_PUT, key, strlen(key), val, len) < 0)
		return -1;
	return apply_put(kv, key, strlen(key), val, len);
}

int kvlog_delete(struct kvlog *kv, const char *key)
{
	if (find(kv, key) == NULL)
		return 0;
	if (append(kv, OP_DELETE, key, strlen(key), NULL, 0) < 0)
		return -1;
	return apply_delete(kv, key);
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
		      struct logfile *dst, uint64_t *at)
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
static int create_aside(const char *path, char *name, size_t size,
			struct logfile *f)
{
	for (int i = 0; i < 1000; i++) {
		int n = i == 0 ? snprintf(name, size, "%s.bad", path)
			       : snprintf(name, size, "%s.bad.%d", path, i);

		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		f->fd =
		    open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd >= 0 || errno != EEXIST)
			return f->fd < 0 ? -1 : 0;
	}
	errno = EEXIST;
	return -1;
}

/* Copy the valid records from `bad` on into `out` and the other parts into
 * `side`. Returns the number of parts, or -1 + errno. */
static int sort_out(struct reader *r, uint64_t bad, struct logfile *out,
		    struct logfile *side,
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

int kvlog_repair(const char *path, char *aside, size_t aside_size,
		 void (*note)(void *arg, uint64_t offset, uint64_t len,
			      const char *why),
		 void *arg)
{
	struct logfile in = {-1}, out = {-1}, side = {-1};
	struct reader r = {.f = &in};
	char tmp[PATH_MAX], name[PATH_MAX];
	uint64_t bad;
	struct rec rec;
	int parts = -1, e;

	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0 || io_size(&in, &r.size) < 0)
		goto done;
	e = first_bad(&r, &bad, &rec);
	if (e != 0) {
		parts = e > 0 ? 0 : -1;
		goto done;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.repair", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto done;
	}
	out.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out.fd < 0 || create_aside(path, name, sizeof(name), &side) < 0)
		goto done;
	parts = sort_out(&r, bad, &out, &side, note, arg);
	/* The bad parts are safe on disk before the log loses them. */
	if (parts < 0 || io_sync(&side) < 0 || io_sync(&out) < 0 ||
	    sync_dir(name) < 0 || rename(tmp, path) < 0 || sync_dir(path) < 0) {
		parts = -1;
		goto done;
	}
	if (aside != NULL && aside_size > 0)
		snprintf(aside, aside_size, "%s", name);
done:
	e = errno;
	if (parts < 0 && out.fd >= 0)
		unlink(tmp);
	if (parts < 0 && side.fd >= 0)
		unlink(name);
	io_close(&in);
	io_close(&out);
	io_close(&side);
	free(r.buf);
	errno = e;
	return parts;
}
