/* tests/storage/tkv.c - see tkv.h. */
#include "config.h"

#include "tests/storage/tkv.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tkv_faults tkv;

/* The real functions, which the linker's --wrap names so. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
int __real_ftruncate(int fd, off_t size);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_strcmp(const char *a, const char *b);
int __real_memcmp(const void *a, const void *b, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off);
int __wrap_ftruncate(int fd, off_t size);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_strcmp(const char *a, const char *b);
int __wrap_memcmp(const void *a, const void *b, size_t n);

/* 1 when this allocation is to fail. */
static int alloc_fails(void)
{
	if (!tkv.counting)
		return 0;
	tkv.allocs++;
	if (tkv.alloc_fail_at == 0 || tkv.allocs != tkv.alloc_fail_at)
		return 0;
	tkv.alloc_failed = 1;
	errno = ENOMEM;
	return 1;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return alloc_fails() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

/* How much of an n-byte write to let through: n, fewer, or -1 to fail. */
static ssize_t write_allowed(size_t n)
{
	size_t part = tkv.write_part;

	if (!tkv.write_fail)
		return (ssize_t)n;
	if (part > 0 && part < n) {
		tkv.write_part = 0;
		return (ssize_t)part;
	}
	tkv.write_fail = 0;
	errno = EIO;
	return -1;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	ssize_t k = write_allowed(n);

	return k < 0 ? -1 : __real_write(fd, buf, (size_t)k);
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t k = write_allowed(n);

	return k < 0 ? -1 : __real_pwrite(fd, buf, (size_t)k, off);
}

int __wrap_ftruncate(int fd, off_t size)
{
	if (tkv.truncate_fail) {
		errno = EIO;
		return -1;
	}
	return __real_ftruncate(fd, size);
}

static int synced(int fd)
{
	char link[64];
	ssize_t n;

	if (tkv.sync_fail > 0) {
		tkv.sync_fail--;
		errno = EIO;
		return -1;
	}
	if (tkv.nsynced < (int)(sizeof(tkv.synced) / sizeof(tkv.synced[0]))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, tkv.synced[tkv.nsynced],
			     sizeof(tkv.synced[0]) - 1);
		tkv.synced[tkv.nsynced][n > 0 ? n : 0] = '\0';
		tkv.nsynced++;
	}
	return 0;
}

int __wrap_fsync(int fd)
{
	return synced(fd) < 0 ? -1 : __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
	return synced(fd) < 0 ? -1 : __real_fdatasync(fd);
}

int __wrap_strcmp(const char *a, const char *b)
{
	if (tkv.counting)
		tkv.compares++;
	return __real_strcmp(a, b);
}

int __wrap_memcmp(const void *a, const void *b, size_t n)
{
	if (tkv.counting)
		tkv.compares++;
	return __real_memcmp(a, b, n);
}

int tkv_tmpdir(char *buf, size_t size)
{
	const char *d = getenv("VCHAN_TEST_TMP");

	if (snprintf(buf, size, "%s/kvlog.XXXXXX", d != NULL ? d : "/tmp") >=
	    (int)size)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void tkv_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint32_t tkv_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t tkv_record(uint8_t *buf, size_t *n, unsigned op, const char *key,
		  size_t klen, const void *val, size_t vlen)
{
	size_t at = *n, len = 5 + klen + vlen;
	uint8_t *p = buf + at;

	p[8] = (uint8_t)op;
	le32(p + 9, (uint32_t)klen);
	memcpy(p + 13, key, klen);
	if (vlen > 0)
		memcpy(p + 13 + klen, val, vlen);
	le32(p, (uint32_t)len);
	le32(p + 4, tkv_crc32(p + 8, len));
	*n += 8 + len;
	return at;
}

size_t tkv_put(uint8_t *buf, size_t *n, const char *key, const char *val)
{
	return tkv_record(buf, n, 1, key, strlen(key), val, strlen(val));
}

int tkv_write_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const uint8_t *p = buf;

	if (fd < 0)
		return -1;
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return close(fd);
}

uint8_t *tkv_read_file(const char *path, size_t *n)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	b = malloc((size_t)st.st_size + 1);
	while (b != NULL && got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r <= 0) {
			free(b);
			b = NULL;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	*n = got;
	return b;
}

int tkv_same(const char *path, const void *buf, size_t n)
{
	size_t m;
	uint8_t *b = tkv_read_file(path, &m);
	int same = b != NULL && m == n && memcmp(b, buf, n) == 0;

	free(b);
	return same;
}
