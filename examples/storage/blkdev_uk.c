/* examples/storage/blkdev_uk.c - a block device in a unikernel (logdev.h):
 * one of the domain's virtual disks, through the runtime's block front end
 * (unikernel/blk.h). The log's sectors are the disk's logical blocks; the
 * front end counts in 512-byte units. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "examples/storage/logdev.h"
#include "unikernel/blk.h"

struct ukblk {
	struct blkdev base; /* first */
	uk_blk *disk;
	uint32_t per; /* 512-byte units per sector */
};

static struct ukblk *to_uk(struct blkdev *b)
{
	return (struct ukblk *)b;
}

static int ub_read(struct blkdev *b, uint64_t sector, void *buf, size_t count)
{
	struct ukblk *u = to_uk(b);

	return uk_blk_read(u->disk, sector * u->per, buf, count * u->per);
}

static int ub_write(struct blkdev *b, uint64_t sector, const void *buf,
		    size_t count)
{
	struct ukblk *u = to_uk(b);

	return uk_blk_write(u->disk, sector * u->per, buf, count * u->per);
}

static int ub_flush(struct blkdev *b)
{
	return uk_blk_flush(to_uk(b)->disk);
}

static void ub_close(struct blkdev *b)
{
	uk_blk_close(to_uk(b)->disk);
	free(b);
}

static const struct blkdev_ops ub_ops = {ub_read, ub_write, ub_flush,
					 ub_close};

struct blkdev *blkdev_open(const char *name)
{
	struct ukblk *u = calloc(1, sizeof(*u));
	struct uk_blk_info info;
	int e;

	if (u == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	u->disk = uk_blk_open(name);
	if (u->disk == NULL || uk_blk_info(u->disk, &info) < 0)
		goto fail;
	if (info.read_only) {
		errno = EROFS;
		goto fail;
	}
	if (info.sector_size < UK_BLK_SECTOR ||
	    info.sector_size % UK_BLK_SECTOR != 0) {
		errno = EINVAL;
		goto fail;
	}
	u->base.ops = &ub_ops;
	u->base.sector_size = info.sector_size;
	u->per = info.sector_size / UK_BLK_SECTOR;
	u->base.sectors = info.sectors / u->per;
	return &u->base;
fail:
	e = errno;
	uk_blk_close(u->disk);
	free(u);
	errno = e;
	return NULL;
}
