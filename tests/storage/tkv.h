/* tests/storage/tkv.h - helpers for the kvlog tests: logs written byte by
 * byte in the format kvlog.h documents (so that old logs are what the
 * tests feed it), files compared whole, a private directory, and failures
 * on demand in the C library calls kvlog makes.
 *
 * The failures work through the linker: the test programs are linked with
 * -Wl,--wrap=NAME for every NAME below (TKV_WRAP in
 * examples/Makemodule.am), so that each call goes through tkv.c, which
 * passes it on unless a test has armed a failure. The switches are one
 * global: a wrapped function has no other way to reach them. */
#ifndef VCHAN_TKV_H
#define VCHAN_TKV_H

#include <stddef.h>
#include <stdint.h>

#include "tests/testutil.h"

#define CHECK TU_CHECK

struct tkv_faults {
	/* malloc, calloc and realloc: fail the n-th call from now (1: the
	 * next one; 0: none). `allocs` counts calls while counting. */
	long alloc_fail_at;
	long allocs;
	int counting;
	int alloc_failed; /* a failure was injected */
	/* write and pwrite: when set, the next one writes at most
	 * write_part bytes (when above 0) and the one after that (or the
	 * next, when write_part is 0) fails with EIO; then disarmed. */
	int write_fail;
	size_t write_part;
	int truncate_fail; /* ftruncate fails with EIO while set */
	int sync_fail;	   /* the next sync_fail fsync/fdatasync fail: EIO */
	/* strcmp and memcmp calls while counting. */
	long compares;
	/* What fsync and fdatasync were called on (readlink of the fd). */
	char synced[32][512];
	int nsynced;
};

extern struct tkv_faults tkv;

/* Make a private directory under VCHAN_TEST_TMP (else /tmp) into buf. */
int tkv_tmpdir(char *buf, size_t size);

/* Remove a directory and everything in it. */
void tkv_rmtree(const char *dir);

/* Append one record (op, key of klen bytes, value of vlen) to buf at *n,
 * in the log's format, with a correct CRC. Returns its offset. */
size_t tkv_record(uint8_t *buf, size_t *n, unsigned op, const char *key,
		  size_t klen, const void *val, size_t vlen);

/* A put of NUL-terminated key and value. */
size_t tkv_put(uint8_t *buf, size_t *n, const char *key, const char *val);

/* CRC-32 as the log uses it. */
uint32_t tkv_crc32(const uint8_t *p, size_t n);

/* Write a whole file / read one (malloc'd, *n its size; NULL on error). */
int tkv_write_file(const char *path, const void *buf, size_t n);
uint8_t *tkv_read_file(const char *path, size_t *n);

/* 1 when the file at path holds exactly buf[0..n-1]. */
int tkv_same(const char *path, const void *buf, size_t n);

#endif
