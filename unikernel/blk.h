/* unikernel/blk.h - a virtual disk of the unikernel: the front end of Xen's
 * PV block protocol (xen/io/blkif.h), talking to dom0's blkback.
 *
 * The disk is one that the domain's xl config attaches (`disk = [...]`); it
 * appears under the domain's device/vbd/ in XenStore. Opening it does the
 * XenStore handshake with the back end, shares one ring page and a pool of
 * data pages, and binds an event channel. The calls are synchronous: each
 * returns once the back end has answered every request it made, or failed.
 *
 * Units. A sector here is 512 bytes (UK_BLK_SECTOR), the unit of the ring
 * protocol for a front end that does not claim feature-large-sector-size,
 * and the unit Linux's blkback uses for "sectors". A disk whose logical
 * block size (uk_blk_info's sector_size) is larger takes requests only at
 * multiples of it: sector and count must both be multiples of
 * sector_size / 512 (else EINVAL).
 *
 * Buffers may have any alignment and any length that the count gives: data
 * is copied through pages of the domain that the back end is granted, so
 * the caller's memory is never shared.
 *
 * Durability. uk_blk_write returns once the back end has completed the
 * writes; that is durable only after uk_blk_flush. uk_blk_flush sends
 * BLKIF_OP_FLUSH_DISKCACHE when the back end offers feature-flush-cache,
 * else BLKIF_OP_WRITE_BARRIER (with no data) when it offers
 * feature-barrier. When it offers neither, the back end says that its
 * device has no volatile write cache: Linux's blkback offers
 * feature-flush-cache exactly when the block device it serves has one
 * (and then also feature-barrier), and Linux's blkfront, offered neither,
 * tells its block layer that the disk writes through and sends no
 * flushes at all. Completed writes are then already on stable storage as
 * far as the back end can tell, and uk_blk_flush returns 0 without a
 * request (uk_blk_info's flush says which case holds: UK_BLK_FLUSH_NONE).
 * A back end that answers a flush or barrier with BLKIF_RSP_EOPNOTSUPP
 * makes uk_blk_flush fail with EOPNOTSUPP: it offered what it cannot do,
 * and the writes' durability is unknown.
 *
 * Failures. Every index and response the back end writes into the shared
 * ring is read once and checked; a response that names no outstanding
 * request, has the wrong operation or an unknown status, or a response
 * index that runs past the requests made is a protocol error (EPROTO). A
 * back end that does not answer within the timeout (30 s by default) is
 * ETIMEDOUT. After either, the handle is broken: its pages may still be
 * written by the back end, so they are never reused, and every further call
 * fails with EIO; close it.
 *
 * All functions return >= 0 (or a pointer) on success and -1 (or NULL) with
 * errno set. A NULL handle fails with EINVAL, except that uk_blk_close
 * accepts NULL. A handle is not thread-safe (the runtime has no threads).
 */
#ifndef VCHAN_UK_BLK_H
#define VCHAN_UK_BLK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UK_BLK_SECTOR 512u

typedef struct uk_blk uk_blk;

/* How uk_blk_flush makes writes durable. */
enum uk_blk_flush {
	UK_BLK_FLUSH_NONE = 0,	  /* no cache to flush: writes are durable */
	UK_BLK_FLUSH_CACHE = 1,	  /* BLKIF_OP_FLUSH_DISKCACHE */
	UK_BLK_FLUSH_BARRIER = 2, /* BLKIF_OP_WRITE_BARRIER */
};

struct uk_blk_info {
	uint64_t sectors;     /* size in 512-byte sectors */
	uint32_t sector_size; /* logical block size in bytes (512, 4096...) */
	int read_only;	      /* 1: writes fail with EROFS */
	enum uk_blk_flush flush;
	uint32_t backend_id; /* the back end's domain */
	char vdev[16];	     /* the device's id under device/vbd/ */
};

/* Open the disk `name`: NULL or "" for the first one (lowest id) under
 * device/vbd/; a decimal id as in XenStore (e.g. "51712"); or an xl
 * virtual device name "xvdX" (xvda..xvdz, no partitions), which names the
 * id 51712 + 16 * X (Xen's xvd numbering for the first 16 disks, 202 << 8
 * + 16 * X). Waits (at most the timeout) for the back end to connect.
 * Returns the handle or NULL + errno: ENOENT no such disk (or no disk at
 * all), EINVAL a bad name, ENOMEM, ETIMEDOUT the back end did not connect
 * in time, EPROTO the back end's keys are missing or malformed, ENODEV the
 * back end went away (closed) during the handshake, or an errno of
 * XenStore, grants or event channels. */
uk_blk *uk_blk_open(const char *name);

/* The disk's size and features (filled at open). Returns 0, or -1 +
 * EINVAL when blk or info is NULL. */
int uk_blk_info(const uk_blk *blk, struct uk_blk_info *info);

/* Read `count` sectors from `sector` into buf (count * 512 bytes).
 * count 0 does nothing. Returns 0 or -1 + errno: EINVAL a NULL buffer or a
 * sector or count not aligned to the block size, ERANGE the range passes
 * the end of the disk (nothing is sent), EIO the back end answered
 * BLKIF_RSP_ERROR (or the handle is broken), EOPNOTSUPP it answered
 * BLKIF_RSP_EOPNOTSUPP, EPROTO a bad response, ETIMEDOUT no answer. After
 * a failure the contents of buf are undefined. */
int uk_blk_read(uk_blk *blk, uint64_t sector, void *buf, size_t count);

/* Write `count` sectors from buf to the disk at `sector`. Errors as
 * uk_blk_read, and EROFS for a read-only disk. After a failure some of the
 * sectors may have been written. Not durable before uk_blk_flush. */
int uk_blk_write(uk_blk *blk, uint64_t sector, const void *buf, size_t count);

/* Make every write that returned before it durable (see Durability
 * above). Returns 0 or -1 + errno: EOPNOTSUPP the back end refused the
 * flush or barrier, EIO it failed it (or the handle is broken), EROFS a
 * read-only disk (there is nothing to flush), EPROTO, ETIMEDOUT. */
int uk_blk_flush(uk_blk *blk);

/* How long a call waits for the back end before ETIMEDOUT, in
 * milliseconds (at least 1; the default is 30000). Returns 0 or -1 +
 * EINVAL. */
int uk_blk_set_timeout(uk_blk *blk, unsigned ms);

/* Disconnect from the back end (XenStore states Closing, then Closed) and
 * free the handle. Pages the back end still holds stay granted and are
 * freed once it lets go. Returns 0 (also for NULL), or -1 + errno when the
 * back end did not acknowledge the close in time (ETIMEDOUT); the handle
 * is freed in any case. */
int uk_blk_close(uk_blk *blk);

#ifdef __cplusplus
}
#endif

#endif
