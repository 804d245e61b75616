/* examples/storage/kvlog.c - the append-only log and its in-memory map. */
#include "config.h"

#include "examples/storage/kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OP_PUT	  1
#define OP_DELETE 2
/* Largest record accepted on replay: a longer length is a torn or
 * corrupt header, not a record. */
#define MAX_RECORD (64u << 20)

struct entry {
	char *key;
	uint8_t *val;
	size_t len;
};

/* ---- Storage: every access to the log's bytes goes through these. (On a
 * block device the same five operations would be sectors; only io_open and
 * sync_dir are file-system matters.) */

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

/* ---- The map and its log. */

struct kvlog {
	struct logfile f;
	uint64_t end; /* where the next record goes */
	int broken;   /* a failed append could not be undone */
	struct entry *e;
	size_t n, cap;
};

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

	if (v == NULL)
		return -1;
	/* An empty value may come as NULL (protobuf-c's empty bytes). */
	if (len > 0)
		memcpy(v, val, len);
	k = strndup(key, klen);
	if (k == NULL) {
		free(v);
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

/* Replay the record payload p[0..n-1]. */
static int replay(struct kvlog *kv, const uint8_t *p, size_t n)
{
	uint32_t klen;
	char *k;
	int r;

	if (n < 5)
		return -1;
	klen = get32(p + 1);
	if (klen > n - 5)
		return -1;
	if (p[0] == OP_PUT)
		return apply_put(kv, (const char *)p + 5, klen, p + 5 + klen,
				 n - 5 - klen);
	if (p[0] != OP_DELETE)
		return -1;
	k = strndup((const char *)p + 5, klen);
	if (k == NULL)
		return -1;
	r = apply_delete(kv, k);
	free(k);
	return r < 0 ? -1 : 0;
}

static int load(struct kvlog *kv, size_t *dropped)
{
	uint64_t fsize;
	uint8_t *buf;
	size_t off = 0, size;

	if (io_size(&kv->f, &fsize) < 0)
		return -1;
	size = (size_t)fsize;
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return -1;
	if (io_read_at(&kv->f, 0, buf, size) < 0) {
		free(buf);
		return -1;
	}
	while (size - off >= 8) {
		uint32_t len = get32(buf + off), crc = get32(buf + off + 4);

		if (len > MAX_RECORD || len > size - off - 8 ||
		    crc32(buf + off + 8, len) != crc)
			break;
		if (replay(kv, buf + off + 8, len) < 0)
			break;
		off += 8 + len;
	}
	free(buf);
	if (dropped != NULL)
		*dropped = size - off;
	/* Cut the torn tail so that new records follow the last whole one. */
	if (off < size && (io_truncate(&kv->f, off) < 0 || io_sync(&kv->f) < 0))
		return -1;
	kv->end = off;
	return 0;
}

struct kvlog *kvlog_open(const char *path, size_t *dropped)
{
	struct kvlog *kv = calloc(1, sizeof(*kv));

	if (kv == NULL)
		return NULL;
	kv->f.fd = -1;
	if (io_open(&kv->f, path) < 0 || load(kv, dropped) < 0) {
		int e = errno;

		kvlog_close(kv);
		errno = e;
		return NULL;
	}
	return kv;
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

/* Append one record and make it durable. A failed append is cut back off:
 * left there, it would be a torn record in the middle of the log once
 * later records followed it, and the next recovery would cut them with it.
 * When the cut fails too, the log is broken: no record may follow. */
static int append(struct kvlog *kv, int op, const char *key, const uint8_t *val,
		  size_t len)
{
	size_t klen = strlen(key), n;
	uint8_t *r;
	int e;

	if (kv->broken) {
		errno = EIO;
		return -1;
	}
	if (klen > MAX_RECORD - 5 || len > MAX_RECORD - 5 - klen) {
		errno = EFBIG;
		return -1;
	}
	n = 8 + 5 + klen + len;
	r = malloc(n);
	if (r == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r[8] = (uint8_t)op;
	put32(r + 9, (uint32_t)klen);
	memcpy(r + 13, key, klen);
	if (len > 0)
		memcpy(r + 13 + klen, val, len);
	put32(r, (uint32_t)(n - 8));
	put32(r + 4, crc32(r + 8, n - 8));
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
	if (append(kv, OP_PUT, key, val, len) < 0)
		return -1;
	return apply_put(kv, key, strlen(key), val, len);
}

int kvlog_delete(struct kvlog *kv, const char *key)
{
	if (find(kv, key) == NULL)
		return 0;
	if (append(kv, OP_DELETE, key, NULL, 0) < 0)
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
