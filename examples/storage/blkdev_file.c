/* examples/storage/blkdev_file.c - a block device on Linux (logdev.h): a
 * disk image file or a block device, in sectors of 512 bytes (a block
 * device's own logical sector size when it says one). A disk image does
 * not grow: its size when opened is the device's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/storage/logdev.h"

struct fileblk {
	struct blkdev base; /* first */
	int fd;
};

static int fd_of(struct blkdev *b)
{
	return ((struct fileblk *)b)->fd;
}

/* Whole sectors within the device, else EIO (a device does not end in the
 * middle of a request). */
static int in_range(struct blkdev *b, uint64_t sector, size_t count)
{
	if (sector > b->sectors || count > b->sectors - sector) {
		errno = EIO;
		return 0;
	}
	return 1;
}

static int fb_read(struct blkdev *b, uint64_t sector, void *buf, size_t count)
{
	if (!in_range(b, sector, count))
		return -1;
	return logdev_pread_all(fd_of(b), buf, count * b->sector_size,
				sector * b->sector_size);
}

static int fb_write(struct blkdev *b, uint64_t sector, const void *buf,
		    size_t count)
{
	if (!in_range(b, sector, count))
		return -1;
	return logdev_pwrite_all(fd_of(b), buf, count * b->sector_size,
				 sector * b->sector_size);
}

static int fb_flush(struct blkdev *b)
{
	return fdatasync(fd_of(b));
}

static void fb_close(struct blkdev *b)
{
	close(fd_of(b));
	free(b);
}

static const struct blkdev_ops fb_ops = {fb_read, fb_write, fb_flush, fb_close};

struct blkdev *blkdev_open(const char *name)
{
	struct fileblk *f = calloc(1, sizeof(*f));
	struct stat st;
	uint64_t bytes;
	int ss = 512, e;

	if (f == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	f->base.ops = &fb_ops;
	f->fd = open(name, O_RDWR | O_CLOEXEC);
	if (f->fd < 0 || fstat(f->fd, &st) < 0)
		goto fail;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &bytes) < 0 ||
		    ioctl(f->fd, BLKSSZGET, &ss) < 0)
			goto fail;
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else {
		errno = ENOTBLK;
		goto fail;
	}
	f->base.sector_size = (uint32_t)ss;
	f->base.sectors = bytes / (uint64_t)ss;
	return &f->base;
fail:
	e = errno;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	errno = e;
	return NULL;
}
