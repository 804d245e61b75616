/* tests/storage/kvlog_recover.c - recovery cuts only a torn end of the
 * log. A damaged record anywhere else (a flipped bit, a wrong length, an
 * operation this version does not know, even as the last record) fails
 * the open with EBADMSG, naming its offset and the cause, and leaves the
 * file as it was; so does a failed allocation, with ENOMEM, whichever
 * allocation it is. kvlog_repair moves the damaged parts aside, byte for
 * byte, and keeps every valid record. Logs are written by hand in the
 * documented format, as an older version wrote them. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "examples/storage/kvlog.h"
#include "tests/storage/tkv.h"

#define NREC 10

struct log {
	uint8_t b[8192];
	size_t n;
	size_t off[NREC + 2]; /* of each record, then of the end */
};

static void key_of(char *buf, size_t size, int i)
{
	snprintf(buf, size, "key-%d", i);
}

/* Values of different lengths, so that records differ in size. */
static void value_of(char *buf, size_t size, int i)
{
	snprintf(buf, size, "value-%d-%.*s", i, i * 3,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
}

/* Records 0..NREC-1, each a put of key-i; record `odd` (when >= 0) is of
 * operation `op` instead, with a correct checksum. */
static void make_log(struct log *l, int odd, unsigned op)
{
	char k[32], v[128];

	l->n = 0;
	for (int i = 0; i < NREC; i++) {
		key_of(k, sizeof(k), i);
		value_of(v, sizeof(v), i);
		l->off[i] = tkv_record(l->b, &l->n, i == odd ? op : 1, k,
				       strlen(k), v, strlen(v));
	}
	l->off[NREC] = l->n;
}

/* Exactly the records whose bit is set in `present` are in kv. */
static int holds(struct kvlog *kv, unsigned present)
{
	char k[32], v[128];
	const uint8_t *got;
	size_t len;

	for (int i = 0; i < NREC; i++) {
		key_of(k, sizeof(k), i);
		value_of(v, sizeof(v), i);
		got = kvlog_get(kv, k, &len);
		if (!(present & 1u << i)) {
			CHECK(got == NULL);
			continue;
		}
		if (got == NULL)
			fprintf(stderr, "lost %s\n", k);
		CHECK(got != NULL && len == strlen(v) &&
		      memcmp(got, v, len) == 0);
	}
	return 0;
}

#define ALL ((1u << NREC) - 1)

/* The log buf[0..n-1] must be refused at `off` for a reason that
 * mentions `word`, and stay as it was. */
static int refused(const char *path, const uint8_t *buf, size_t n, size_t off,
		   const char *word)
{
	struct kvlog_status st;
	struct kvlog *kv;

	CHECK(tkv_write_file(path, buf, n) == 0);
	errno = 0;
	kv = kvlog_open(path, &st);
	if (kv != NULL) {
		fprintf(stderr, "opened a log damaged at %zu (%s)\n", off,
			word);
		kvlog_close(kv);
		return 1;
	}
	if (errno != EBADMSG || st.offset != off ||
	    strstr(st.why, word) == NULL)
		fprintf(stderr, "offset %llu, why \"%s\"\n",
			(unsigned long long)st.offset, st.why);
	CHECK(errno == EBADMSG);
	CHECK(st.offset == off);
	CHECK(strstr(st.why, word) != NULL);
	CHECK(tkv_same(path, buf, n));
	return 0;
}

static void set32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int damaged(const char *path)
{
	struct log l, m;

	/* One bad byte in record 4 of 10 (a value byte). */
	make_log(&l, -1, 0);
	l.b[l.off[3] + 20] ^= 0x10;
	CHECK(refused(path, l.b, l.n, l.off[3], "checksum") == 0);
	/* Record 4's length runs one byte past the end of the file: not a
	 * torn end, since whole records follow. */
	make_log(&l, -1, 0);
	set32(l.b + l.off[3], (uint32_t)(l.n - l.off[3] - 8 + 1));
	CHECK(refused(path, l.b, l.n, l.off[3], "valid record") == 0);
	/* The same damage to the last record: its bytes are all there. */
	make_log(&l, -1, 0);
	set32(l.b + l.off[NREC - 1], (uint32_t)(l.n - l.off[NREC - 1] - 8 + 1));
	CHECK(refused(path, l.b, l.n, l.off[NREC - 1], "length") == 0);
	/* A length no record can have. */
	make_log(&l, -1, 0);
	set32(l.b + l.off[5], 0x7fffffffu);
	CHECK(refused(path, l.b, l.n, l.off[5], "limit") == 0);
	/* A valid record of an operation from the future, in the middle and
	 * at the end. */
	make_log(&l, 3, 7);
	CHECK(refused(path, l.b, l.n, l.off[3], "unknown") == 0);
	make_log(&m, -1, 0);
	tkv_record(m.b, &m.n, 9, "k", 1, "v", 1);
	CHECK(refused(path, m.b, m.n, m.off[NREC], "unknown") == 0);
	/* A payload too short for any operation, with a good checksum. */
	make_log(&m, -1, 0);
	{
		uint8_t *p = m.b + m.n;

		set32(p, 2);
		p[8] = 1;
		p[9] = 0;
		set32(p + 4, tkv_crc32(p + 8, 2));
		m.n += 10;
	}
	CHECK(refused(path, m.b, m.n, m.off[NREC], "short") == 0);
	return 0;
}

/* A record cut short by the end of the file is cut off, and only it. */
static int torn(const char *path)
{
	static const size_t cuts[] = {1, 3, 7, 8, 12, 20};
	struct kvlog_status st;
	struct kvlog *kv;
	struct log l;

	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		make_log(&l, -1, 0);
		/* Record NREC-1 again, cut after cuts[c] bytes. */
		memcpy(l.b + l.n, l.b + l.off[NREC - 1], cuts[c]);
		CHECK(tkv_write_file(path, l.b, l.n + cuts[c]) == 0);
		kv = kvlog_open(path, &st);
		CHECK(kv != NULL);
		CHECK(st.dropped == cuts[c]);
		CHECK(holds(kv, ALL) == 0);
		CHECK(tkv_same(path, l.b, l.n));
		/* New records follow the last whole one. */
		CHECK(kvlog_put(kv, "after", (const uint8_t *)"x", 1) == 0);
		kvlog_close(kv);
		kv = kvlog_open(path, &st);
		CHECK(kv != NULL && st.dropped == 0);
		CHECK(holds(kv, ALL) == 0);
		CHECK(kvlog_get(kv, "after", &(size_t){0}) != NULL);
		kvlog_close(kv);
	}
	return 0;
}

/* Fail each allocation of an open in turn: the open fails with ENOMEM and
 * the file (which ends in a torn record) is not touched, or it succeeds
 * with every record. */
static int no_memory(const char *path)
{
	struct kvlog_status st;
	struct kvlog *kv;
	struct log l;
	size_t whole;
	long k;

	make_log(&l, -1, 0);
	whole = l.n;
	memcpy(l.b + l.n, l.b + l.off[2], 11);
	l.n += 11;
	for (k = 1; k < 100000; k++) {
		int failed;

		CHECK(tkv_write_file(path, l.b, l.n) == 0);
		tkv = (struct tkv_faults){.counting = 1, .alloc_fail_at = k};
		errno = 0;
		kv = kvlog_open(path, &st);
		failed = tkv.alloc_failed;
		tkv.counting = 0;
		if (!failed) {
			CHECK(kv != NULL && st.dropped == 11);
			CHECK(holds(kv, ALL) == 0);
			CHECK(tkv_same(path, l.b, whole));
			kvlog_close(kv);
			break;
		}
		if (kv != NULL) {
			fprintf(stderr,
				"allocation %ld failed, yet the open "
				"succeeded\n",
				k);
			holds(kv, ALL);
			kvlog_close(kv);
			return 1;
		}
		CHECK(errno == ENOMEM);
		CHECK(tkv_same(path, l.b, l.n));
	}
	fprintf(stderr, "an open makes %ld allocations\n", k - 1);
	CHECK(k > 2);
	return 0;
}

struct notes {
	uint64_t off[8], len[8];
	int n;
};

static void note(void *arg, uint64_t off, uint64_t len, const char *why)
{
	struct notes *ns = arg;

	fprintf(stderr, "aside: %llu bytes at %llu: %s\n",
		(unsigned long long)len, (unsigned long long)off, why);
	if (ns->n < 8) {
		ns->off[ns->n] = off;
		ns->len[ns->n] = len;
	}
	ns->n++;
}

/* Record 3 damaged, record 6 of an unknown operation, a torn end: three
 * parts go aside, exactly those bytes; the other eight records stay. */
static int repair(const char *path)
{
	struct notes ns = {0};
	struct kvlog_status st;
	struct kvlog *kv;
	struct log l;
	uint8_t good[8192], bad[8192];
	size_t ng = 0, nb = 0, tail;
	char aside[600], name[600];
	struct stat sb;

	make_log(&l, 6, 42);
	l.b[l.off[3] + 14] ^= 0x01;
	memcpy(l.b + l.n, l.b + l.off[1], 5);
	tail = l.n;
	l.n += 5;
	for (int i = 0; i < NREC; i++) {
		size_t len = l.off[i + 1] - l.off[i];

		if (i == 3 || i == 6) {
			memcpy(bad + nb, l.b + l.off[i], len);
			nb += len;
		} else {
			memcpy(good + ng, l.b + l.off[i], len);
			ng += len;
		}
	}
	memcpy(bad + nb, l.b + tail, 5);
	nb += 5;
	CHECK(tkv_write_file(path, l.b, l.n) == 0);
	CHECK(kvlog_repair(path, aside, sizeof(aside), note, &ns) == 3);
	CHECK(ns.n == 3);
	CHECK(ns.off[0] == l.off[3] && ns.len[0] == l.off[4] - l.off[3]);
	CHECK(ns.off[1] == l.off[6] && ns.len[1] == l.off[7] - l.off[6]);
	CHECK(ns.off[2] == tail && ns.len[2] == 5);
	snprintf(name, sizeof(name), "%s.bad", path);
	CHECK(strcmp(aside, name) == 0);
	CHECK(tkv_same(name, bad, nb));
	CHECK(tkv_same(path, good, ng));
	kv = kvlog_open(path, &st);
	CHECK(kv != NULL && st.dropped == 0);
	CHECK(holds(kv, ALL & ~(1u << 3 | 1u << 6)) == 0);
	kvlog_close(kv);
	/* A sound log: nothing to do, nothing touched. */
	ns.n = 0;
	CHECK(kvlog_repair(path, aside, sizeof(aside), note, &ns) == 0);
	CHECK(ns.n == 0 && tkv_same(path, good, ng));
	snprintf(name, sizeof(name), "%s.bad.1", path);
	CHECK(stat(name, &sb) < 0 && errno == ENOENT);
	/* The first side file is never overwritten. */
	memcpy(good + ng, "\x30\0\0", 3);
	CHECK(tkv_write_file(path, good, ng + 3) == 0);
	CHECK(kvlog_repair(path, aside, sizeof(aside), note, &ns) == 1);
	CHECK(strcmp(aside, name) == 0 && tkv_same(name, "\x30\0\0", 3));
	CHECK(tkv_same(path, good, ng));
	return 0;
}

/* Logs from before keys were checked may hold an empty key. */
static int old_logs(const char *path)
{
	struct kvlog *kv;
	struct log l;
	size_t len = 9;

	make_log(&l, -1, 0);
	tkv_record(l.b, &l.n, 1, "", 0, "empty key", 9);
	CHECK(tkv_write_file(path, l.b, l.n) == 0);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	CHECK(holds(kv, ALL) == 0);
	CHECK(kvlog_get(kv, "", &len) != NULL && len == 9);
	kvlog_close(kv);
	return 0;
}

int main(void)
{
	char dir[512], path[600];
	struct tu_scenarios r = {0};

	CHECK(tkv_tmpdir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/kv.log", dir);
	TU_SCENARIO(&r, "damaged", damaged(path));
	TU_SCENARIO(&r, "torn", torn(path));
	TU_SCENARIO(&r, "no memory", no_memory(path));
	TU_SCENARIO(&r, "repair", repair(path));
	TU_SCENARIO(&r, "old logs", old_logs(path));
	tkv_rmtree(dir);
	return tu_scenarios_done(&r);
}
