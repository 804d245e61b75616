/* examples/storage/logdev.h - where the log's bytes live.
 *
 * The log (kvlog.c) reaches its bytes through the five operations of a
 * struct logdev only, and does not know what is behind them:
 *  - a file (logdev_file.c): the Linux storage-server's LOGFILE;
 *  - a block device (logdev_blk.c): a disk of sectors with a small header
 *    of its own, which is how the storage unikernel keeps its log, and
 *    which works on Linux too, on a disk image or a block device
 *    (storage-server --disk). The sectors come from a struct blkdev:
 *    blkdev_file.c on Linux, blkdev_uk.c in a unikernel.
 * Functions return 0 (or a pointer) on success, -1 (or NULL) + errno. */
#ifndef STORAGE_LOGDEV_H
#define STORAGE_LOGDEV_H

#include <stddef.h>
#include <stdint.h>

struct logdev;

struct logdev_ops {
	/* The log's length in bytes. */
	int (*size)(struct logdev *d, uint64_t *size);
	/* Exactly n bytes at `off` (within the length): EIO when short. */
	int (*read_at)(struct logdev *d, uint64_t off, void *buf, size_t n);
	/* All n bytes at `off`, growing the length when past it (ENOSPC past
	 * the end of a device). Durable only after sync. */
	int (*write_at)(struct logdev *d, uint64_t off, const void *buf,
			size_t n);
	/* Make what was written, and the length, durable. */
	int (*sync)(struct logdev *d);
	/* Set the length (durable after the next sync). */
	int (*truncate)(struct logdev *d, uint64_t size);
	/* Free; NULL is accepted by logdev_close. */
	void (*close)(struct logdev *d);
};

/* Every implementation's handle starts with this. */
struct logdev {
	const struct logdev_ops *ops;
	/* The length covers only records whose sync returned (a block
	 * device's header says so): a record that the end cuts short was
	 * answered and then damaged, never an append torn by a crash. A
	 * file's length can end inside a torn append: 0. */
	int exact_end;
};

void logdev_close(struct logdev *d);

/* ---- files (logdev_file.c) */

enum logdev_file_mode {
	LOGDEV_FILE_LOG,  /* read-write, created when missing, its
			   * directory synced (a new log's name survives) */
	LOGDEV_FILE_READ, /* read only; must exist */
	LOGDEV_FILE_NEW,  /* write, created or emptied */
	LOGDEV_FILE_EXCL  /* write, created; EEXIST when it is there */
};

struct logdev *logdev_file_open(const char *path, enum logdev_file_mode mode);

/* pread/pwrite of all n bytes at `off`, through EINTR and short counts;
 * the file ending first is EIO (the caller asked for bytes it knows are
 * there). */
int logdev_pread_all(int fd, void *buf, size_t n, uint64_t off);
int logdev_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);

/* fsync the directory holding `path`: a file created or renamed there can
 * otherwise vanish at a crash, whatever was synced inside it. */
int logdev_sync_dir(const char *path);

/* ---- block devices */

struct blkdev;

struct blkdev_ops {
	/* `count` whole sectors from `sector`. */
	int (*read)(struct blkdev *b, uint64_t sector, void *buf, size_t count);
	int (*write)(struct blkdev *b, uint64_t sector, const void *buf,
		     size_t count);
	/* Every write that returned is durable once this returns. */
	int (*flush)(struct blkdev *b);
	void (*close)(struct blkdev *b);
};

struct blkdev {
	const struct blkdev_ops *ops;
	uint32_t sector_size; /* a power of two, 512 to 4096 */
	uint64_t sectors;
};

/* The platform's block device `name` (blkdev_file.c: a file or block
 * device path; blkdev_uk.c: a disk of this domain, "" for the first).
 * Returns it or NULL + errno. */
struct blkdev *blkdev_open(const char *name);

/* The smallest device that takes a log: its headers and 64 KiB. */
#define LOGDEV_BLK_MIN_BYTES (64u * 1024u + 8192u)

/* The log on block device `b` (owned by the log from now on, closed on
 * failure too). A device whose first sectors are all zero is formatted
 * (nothing can be lost); one holding anything else but this format is
 * refused. Returns the log or NULL + errno, with a sentence in why: ENOSPC
 * the device is smaller than LOGDEV_BLK_MIN_BYTES; EMEDIUMTYPE it holds
 * something else (not formatted for the log); EBADMSG both headers are
 * damaged; EINVAL a sector size it cannot use; or the device's error. */
struct logdev *logdev_blk_open(struct blkdev *b, char *why, size_t why_size);

/* Lay out an empty log on `b` (closed before returning), whatever else it
 * holds, when asked to explicitly (storage-server --format). A log of
 * this format is never thrown away: one with records is EEXIST, one whose
 * headers are both damaged EBADMSG, and nothing is changed. Returns 0 or
 * -1 + errno, with a sentence in why; the errors of logdev_blk_open
 * otherwise (ENOSPC too small, EINVAL, the device's). */
int logdev_blk_format(struct blkdev *b, char *why, size_t why_size);

/* The generation of the header in charge of a log that logdev_blk_open
 * returned: every sync that changed the log wrote a higher one. */
uint64_t logdev_blk_generation(struct logdev *d);

#endif
