/* tests/storage/kvlog_append.c - a failed append leaves no garbage that
 * later records would follow. When a write fails part-way and the
 * truncate that should undo it fails too, every later Put and Delete is
 * refused with EIO (none is acknowledged behind the garbage) until the log
 * is opened again, which cuts the torn part off; every acknowledged record
 * survives. The same when a sync fails and so does the undo's. When the
 * undo works, the log goes on. An empty value (from a
 * NULL pointer) is stored and read back. A file that may not grow (a file
 * size limit) is a full log: the Put that crosses it fails with ENOSPC,
 * the part written is cut off, and every answered record is kept. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "examples/storage/kvlog.h"
#include "tests/storage/tkv.h"

static int has(struct kvlog *kv, const char *key, const char *val)
{
	size_t len;
	const uint8_t *v = kvlog_get(kv, key, &len);

	if (val == NULL) {
		CHECK(v == NULL);
		return 0;
	}
	if (v == NULL)
		fprintf(stderr, "lost %s\n", key);
	CHECK(v != NULL && len == strlen(val) && memcmp(v, val, len) == 0);
	return 0;
}

static int put(struct kvlog *kv, const char *key, const char *val)
{
	return kvlog_put(kv, key, (const uint8_t *)val, strlen(val));
}

static long long size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The write fails after 5 bytes and so does the truncate. */
static int undo_fails(const char *path)
{
	struct kvlog_status st;
	struct kvlog *kv = kvlog_open(path, NULL);
	long long before;

	CHECK(kv != NULL);
	CHECK(put(kv, "a", "1") == 0 && put(kv, "b", "2") == 0);
	before = size_of(path);
	tkv.write_fail = 1;
	tkv.write_part = 5;
	tkv.truncate_fail = 1;
	CHECK(put(kv, "c", "3") == -1 && errno == EIO);
	tkv.write_fail = 0;
	tkv.truncate_fail = 0;
	CHECK(size_of(path) == before + 5);
	/* Acknowledged now, this would be cut with the garbage later. */
	errno = 0;
	if (put(kv, "d", "4") == 0)
		fprintf(stderr, "a put after the garbage was acknowledged\n");
	CHECK(errno == EIO);
	CHECK(kvlog_delete(kv, "a") == -1 && errno == EIO);
	CHECK(has(kv, "a", "1") == 0 && has(kv, "c", NULL) == 0 &&
	      has(kv, "d", NULL) == 0);
	CHECK(size_of(path) == before + 5);
	kvlog_close(kv);
	/* Reopened: the torn part is cut, the log takes changes again. */
	kv = kvlog_open(path, &st);
	CHECK(kv != NULL);
	CHECK(st.dropped == 5 && size_of(path) == before);
	CHECK(has(kv, "a", "1") == 0 && has(kv, "b", "2") == 0 &&
	      has(kv, "c", NULL) == 0);
	CHECK(put(kv, "e", "5") == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, &st);
	CHECK(kv != NULL && st.dropped == 0);
	CHECK(has(kv, "e", "5") == 0 && has(kv, "b", "2") == 0);
	kvlog_close(kv);
	return 0;
}

/* A failed write or sync that is undone: the log goes on. */
static int undone(const char *path)
{
	struct kvlog_status st;
	struct kvlog *kv = kvlog_open(path, NULL);
	long long before;

	CHECK(kv != NULL);
	before = size_of(path);
	tkv.write_fail = 1;
	tkv.write_part = 7;
	CHECK(put(kv, "f", "6") == -1 && errno == EIO);
	CHECK(size_of(path) == before && has(kv, "f", NULL) == 0);
	/* The record's sync fails, the undo's works. */
	tkv.sync_fail = 1;
	CHECK(put(kv, "g", "7") == -1 && errno == EIO);
	CHECK(size_of(path) == before && has(kv, "g", NULL) == 0);
	CHECK(put(kv, "h", "8") == 0 && has(kv, "h", "8") == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, &st);
	CHECK(kv != NULL && st.dropped == 0);
	CHECK(has(kv, "h", "8") == 0 && has(kv, "e", "5") == 0 &&
	      has(kv, "f", NULL) == 0 && has(kv, "g", NULL) == 0);
	kvlog_close(kv);
	return 0;
}

/* The record's sync fails and so does the undo's: whether the cut is on
 * disk is unknown, so no record may follow. */
static int sync_undo_fails(const char *path)
{
	struct kvlog *kv = kvlog_open(path, NULL);

	CHECK(kv != NULL);
	tkv.sync_fail = 2;
	CHECK(put(kv, "i", "9") == -1 && errno == EIO);
	tkv.sync_fail = 0;
	errno = 0;
	CHECK(put(kv, "j", "10") == -1 && errno == EIO);
	CHECK(has(kv, "i", NULL) == 0 && has(kv, "j", NULL) == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	CHECK(has(kv, "j", NULL) == 0 && has(kv, "h", "8") == 0);
	CHECK(put(kv, "j", "10") == 0);
	kvlog_close(kv);
	return 0;
}

/* An empty value from a NULL pointer (what protobuf-c hands over for an
 * empty bytes field). */
static int empty_value(const char *path)
{
	struct kvlog *kv = kvlog_open(path, NULL);
	size_t len = 99;

	CHECK(kv != NULL);
	CHECK(kvlog_put(kv, "empty", NULL, 0) == 0);
	CHECK(kvlog_get(kv, "empty", &len) != NULL && len == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	len = 99;
	CHECK(kvlog_get(kv, "empty", &len) != NULL && len == 0);
	kvlog_close(kv);
	return 0;
}

/* The process may not make files larger than the log plus 4 KiB: Puts of
 * 1000 bytes fill that, the next one fails as a full log would. */
static int size_limit(const char *path)
{
	struct kvlog *kv = kvlog_open(path, NULL);
	struct rlimit old, lim;
	char key[32], val[1000];
	long long before;
	int i, answered = 0, e;

	CHECK(kv != NULL && getrlimit(RLIMIT_FSIZE, &old) == 0);
	before = size_of(path);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 4096;
	CHECK(old.rlim_cur == RLIM_INFINITY || old.rlim_cur > lim.rlim_cur);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "l%d", i);
		if (put(kv, key, val) < 0)
			break;
		answered++;
	}
	e = errno;
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(i < 100 && e == ENOSPC && answered == 4);
	/* The part that did fit was cut off again: nothing torn remains. */
	CHECK(size_of(path) == before + answered * (8 + 5 + 2 + 999));
	CHECK(has(kv, key, NULL) == 0 && has(kv, "l0", val) == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL && has(kv, "l3", val) == 0 &&
	      has(kv, "l4", NULL) == 0);
	CHECK(put(kv, "l4", "fits now") == 0);
	kvlog_close(kv);
	return 0;
}

int main(void)
{
	char dir[512], path[600];
	struct tu_scenarios r = {0};

	CHECK(tkv_tmpdir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/kv.log", dir);
	/* One log for all: each scenario goes on from the log the ones
	 * before left (undone reads back what undo_fails wrote), so a
	 * failure early may show again later. */
	TU_SCENARIO(&r, "undo fails", undo_fails(path));
	TU_SCENARIO(&r, "undone", undone(path));
	TU_SCENARIO(&r, "sync of the undo fails", sync_undo_fails(path));
	TU_SCENARIO(&r, "empty value", empty_value(path));
	TU_SCENARIO(&r, "size limit", size_limit(path));
	tkv_rmtree(dir);
	return tu_scenarios_done(&r);
}
