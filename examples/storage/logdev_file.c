/* examples/storage/logdev_file.c - the log in a file (see logdev.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/storage/logdev.h"

struct filedev {
	struct logdev base; /* first */
	int fd;
};

static int fd_of(struct logdev *d)
{
	return ((struct filedev *)d)->fd;
}

static int file_size(struct logdev *d, uint64_t *size)
{
	struct stat st;

	if (fstat(fd_of(d), &st) < 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

int logdev_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);

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

int logdev_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

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

static int file_read_at(struct logdev *d, uint64_t off, void *buf, size_t n)
{
	return logdev_pread_all(fd_of(d), buf, n, off);
}

/* A file that may not grow further (the process's file size limit, with
 * SIGXFSZ ignored) is a full log to the caller, like a full file system. */
static int file_write_at(struct logdev *d, uint64_t off, const void *buf,
			 size_t n)
{
	int r = logdev_pwrite_all(fd_of(d), buf, n, off);

	if (r < 0 && errno == EFBIG)
		errno = ENOSPC;
	return r;
}

/* fdatasync covers the file's size too (it is needed to read the data). */
static int file_sync(struct logdev *d)
{
	return fdatasync(fd_of(d));
}

static int file_truncate(struct logdev *d, uint64_t size)
{
	return ftruncate(fd_of(d), (off_t)size);
}

static void file_close(struct logdev *d)
{
	close(fd_of(d));
	free(d);
}

static const struct logdev_ops file_ops = {file_size,	  file_read_at,
					   file_write_at, file_sync,
					   file_truncate, file_close};

int logdev_sync_dir(const char *path)
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

struct logdev *logdev_file_open(const char *path, enum logdev_file_mode mode)
{
	static const int flags[] = {
	    [LOGDEV_FILE_LOG] = O_RDWR | O_CREAT,
	    [LOGDEV_FILE_READ] = O_RDONLY,
	    [LOGDEV_FILE_NEW] = O_WRONLY | O_CREAT | O_TRUNC,
	    [LOGDEV_FILE_EXCL] = O_WRONLY | O_CREAT | O_EXCL};
	struct filedev *f = malloc(sizeof(*f));
	int e;

	if (f == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	f->base.ops = &file_ops;
	f->base.exact_end = 0;
	f->fd = open(path, flags[mode] | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		e = errno;
		free(f);
		errno = e;
		return NULL;
	}
	/* The log's directory is synced at every open, not only after a
	 * creation: an earlier open may have created the file and then
	 * failed before its own sync. */
	if (mode == LOGDEV_FILE_LOG && logdev_sync_dir(path) < 0) {
		e = errno;
		file_close(&f->base);
		errno = e;
		return NULL;
	}
	return &f->base;
}

void logdev_close(struct logdev *d)
{
	if (d != NULL)
		d->ops->close(d);
}
