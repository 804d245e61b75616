/* examples/storage/kvlog.h - a key-value map kept in memory and persisted
 * in an append-only log file.
 *
 * Each change is one record: u32 length, u32 CRC-32 of the payload, then
 * the payload (u8 op 1 = put, 2 = delete; u32 key length; key; value), all
 * little-endian. A change is durable once kvlog_put/kvlog_delete return
 * (the file is fdatasync'd, and its directory is fsync'd when the log is
 * opened, so that a new log's name survives a crash too). On open the log
 * is replayed; a record cut short or with a bad CRC (a write torn by a
 * crash) ends the log, and the file is truncated there. */
#ifndef STORAGE_KVLOG_H
#define STORAGE_KVLOG_H

#include <stddef.h>
#include <stdint.h>

struct kvlog;

/* Open (creating) the log at `path` and replay it. Returns the map or
 * NULL + errno. *dropped, when not NULL, gets the bytes of torn tail cut
 * off. */
struct kvlog *kvlog_open(const char *path, size_t *dropped);

void kvlog_close(struct kvlog *kv);

/* Value of `key` (owned by the map, valid until the next change), or NULL
 * when absent. */
const uint8_t *kvlog_get(const struct kvlog *kv, const char *key, size_t *len);

/* Store or remove, durably. Return 0 (kvlog_delete: 1 when the key
 * existed) or -1 + errno (the map is unchanged): EFBIG a record above
 * 64 MiB, ENOMEM, the error of a failed write or sync, or EIO once a
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

#endif
