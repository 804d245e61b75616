/* examples/storage/kvlog.h - a key-value map kept in memory and persisted
 * in an append-only log file.
 *
 * Each change is one record: u32 length, u32 CRC-32 of the payload, then
 * the payload (u8 op 1 = put, 2 = delete; u32 key length; key; value), all
 * little-endian. A change is durable once kvlog_put/kvlog_delete return
 * (the file is fdatasync'd, and its directory is fsync'd when the log is
 * opened, so that a new log's name survives a crash too).
 *
 * Recovery (kvlog_open) replays the records in order. A record is valid
 * when its header is whole, its length is at most 64 MiB, its payload is
 * all there and matches its CRC, and the payload is well formed with an op
 * this version knows. Replay stops at the first record that is not valid:
 *  - When the file ends inside that record (its header or its payload is
 *    cut short) and no valid record starts within those last bytes, they
 *    are an append torn by a crash, never acknowledged: they are cut off
 *    (the only change recovery ever makes to the file). When a whole
 *    valid record does start within them (as one may inside a value a
 *    client chose), recovery does not guess: that is the next case.
 *  - Anything else (a bad CRC, a malformed payload, an unknown op, a
 *    length that cannot be right) is corruption or a newer format: the
 *    open fails with EBADMSG, says where and why, and changes nothing.
 *    Every later record may still be good: kvlog_repair moves the bad
 *    parts aside and keeps them.
 * On a block device (logdev_blk.c) the log's length is in a header
 * written only after the records it covers are synced: an append torn by
 * a crash lies past it and is never seen, so a record cut short by the
 * length is damage like any other (EBADMSG), never cut off.
 * An open that fails for any other reason (ENOMEM, an I/O error) changes
 * nothing either.
 *
 * The map is indexed by a hash table with a per-map random key: Get, Put
 * and Delete cost O(1) whatever keys the clients chose, and replay O(n). */
#ifndef STORAGE_KVLOG_H
#define STORAGE_KVLOG_H

#include <stddef.h>
#include <stdint.h>

struct kvlog;

/* What kvlog_open found. */
struct kvlog_status {
	uint64_t dropped; /* bytes of a torn final record cut off */
	uint64_t offset;  /* EBADMSG: where the bad part starts */
	char why[160];	  /* EBADMSG: what is wrong there */
};

/* Open (creating) the log at `path` and replay it. Returns the map or
 * NULL + errno: EBADMSG the log holds a record that is not valid and is
 * not a torn end (st->offset and st->why say which; the file is left as
 * it was), ENOMEM, or the error of a failed system call. `st` may be
 * NULL. */
struct kvlog *kvlog_open(const char *path, struct kvlog_status *st);

/* The same on the log's bytes wherever they are (logdev.h): a file, a
 * block device. The map owns `dev` from now on (it is closed on failure
 * too; NULL is a failure with errno as it is). */
struct logdev;
struct kvlog *kvlog_open_dev(struct logdev *dev, struct kvlog_status *st);

void kvlog_close(struct kvlog *kv);

/* Value of `key` (owned by the map, valid until the next change), or NULL
 * when absent. */
const uint8_t *kvlog_get(const struct kvlog *kv, const char *key, size_t *len);

/* Store or remove, durably. Return 0 (kvlog_delete: 1 when the key
 * existed) or -1 + errno (the map is unchanged): EFBIG a record above
 * 64 MiB, ENOMEM, ENOSPC the log is full (no room on its device or file
 * system, or a file that may not grow): the part written is cut off again
 * and the log goes on serving reads. A delete is a record too, so on a
 * full log deleting a key that exists fails the same way (deleting one
 * that does not exists writes nothing and succeeds). Else the error of a
 * failed write or sync, or EIO once a
 * failed append could not be undone. In that last case the end of the
 * file holds part of a record that was not acknowledged; a record written
 * after it would be cut with it at the next recovery, so every later Put
 * and Delete fails with EIO until the log is opened again (which cuts the
 * torn part off). */
int kvlog_put(struct kvlog *kv, const char *key, const uint8_t *val,
	      size_t len);
int kvlog_delete(struct kvlog *kv, const char *key);

/* The keys that start with `prefix`, sorted: a malloc'd array of *n
 * pointers owned by the map (valid until the next change); free the array
 * only. Returns NULL + ENOMEM, or an array (possibly of 0) */
const char **kvlog_list(const struct kvlog *kv, const char *prefix, size_t *n);

/* Repair the log at `path`, which must not be open: every valid record is
 * kept, in order, and every other byte (a bad record, a torn end, records
 * of an op this version does not know) is moved aside to a new file next
 * to the log, `path`.bad (or `path`.bad.1, .2, ... when that exists),
 * which gets the bad parts one after the other. note(arg, offset, len,
 * why) is called for each part (may be NULL). The side file is made
 * durable before the log is replaced (atomically, by a rename).
 * Returns the number of parts moved (0: nothing was wrong, nothing was
 * changed) or -1 + errno (nothing was changed). `aside` gets the side
 * file's path when parts were moved. */
int kvlog_repair(const char *path, char *aside, size_t aside_size,
		 void (*note)(void *arg, uint64_t offset, uint64_t len,
			      const char *why),
		 void *arg);

/* The sorting of kvlog_repair, for a log wherever it is (`in`, which is
 * only read): when something is wrong, the valid records go, in order,
 * to a new file `out_path` and the other bytes to a new side file
 * `side_base`.bad (or .bad.1, ...), both made durable; its path in
 * `aside`. Replacing the log with out_path is the caller's part. Returns
 * the number of parts moved (0: nothing was wrong, no file was made) or
 * -1 + errno (the files it made are removed). */
int kvlog_sort_out(struct logdev *in, const char *out_path,
		   const char *side_base, char *aside, size_t aside_size,
		   void (*note)(void *arg, uint64_t offset, uint64_t len,
				const char *why),
		   void *arg);

#endif
