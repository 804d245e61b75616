/* tests/fuzz/fuzz_kvlog.c - recovery and repair of the storage log
 * (examples/storage/kvlog.c) on damaged files.
 *
 * The input's first part is a few Puts and Deletes on a handful of keys,
 * each answered (appended and synced) by kvlog_put/kvlog_delete; the
 * harness notes where each record lies. Its second part damages the
 * closed file: bytes flipped, the file cut short, bytes appended. Then
 * the log is opened again, and when the open refuses, repaired and
 * opened once more. Records are checked by a reader of the documented
 * format here. Invariants:
 *  - an open either succeeds or fails with EBADMSG, at an offset no
 *    earlier than the first damaged record (exactly there when no valid
 *    record was made up by the damage);
 *  - after an open that succeeds, every key whose last answered record
 *    is intact (its bytes all there, unchanged) has that record's value,
 *    or is absent when it was a Delete: nothing answered is lost unless
 *    its bytes changed. Keys some record made up by the damage names are
 *    left out, and when there is such a record, so are the keys whose
 *    record lies after the damage (a record made up may span theirs);
 *  - repair moves at least one part aside, and the log opens after it
 *    with the same guarantee.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/storage/kvlog.h"
#include "tests/fuzz/fuzz.h"

#define NKEYS	4
#define MAXREC	24
#define HDR	8
#define PAYMIN	5
#define MAXFILE 65536

struct rec {
	size_t start, end;
	int key;
	int del;
	uint8_t val[64];
	size_t vlen;
};

struct st {
	const uint8_t *p, *end;
	struct rec r[MAXREC];
	size_t nrec;
	int last[NKEYS]; /* each key's last answered record, or -1 */
	uint8_t orig[MAXFILE], now[MAXFILE * 2];
	size_t olen, nlen;
	int foreign_key[NKEYS];
	int foreign;   /* a valid record at or after the damage is not ours */
	size_t damage; /* start of the first record changed */
};

static char dir[64];
static char path[96];

static unsigned next8(struct st *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void key_name(char *buf, int k)
{
	snprintf(buf, 8, "k%d", k);
}

/* The key a valid record at `off` of the damaged file names: its index,
 * NKEYS for another key, or -1 when there is no valid record there. */
static int valid_at(const struct st *s, size_t off)
{
	const uint8_t *h = s->now + off;
	uint32_t len, klen;
	char name[8];

	if (s->nlen - off < HDR)
		return -1;
	len = get32(h);
	if (len < PAYMIN || len > s->nlen - off - HDR)
		return -1;
	if (crc32(h + HDR, len) != get32(h + 4))
		return -1;
	if (h[HDR] != 1 && h[HDR] != 2)
		return -1;
	klen = get32(h + HDR + 1);
	if (klen > len - PAYMIN || memchr(h + HDR + PAYMIN, 0, klen) != NULL)
		return -1;
	for (int k = 0; k < NKEYS; k++) {
		key_name(name, k);
		if (klen == strlen(name) &&
		    memcmp(h + HDR + PAYMIN, name, klen) == 0)
			return k;
	}
	return NKEYS;
}

static int intact(const struct st *s, const struct rec *r)
{
	return r->end <= s->nlen &&
	       memcmp(s->orig + r->start, s->now + r->start,
		      r->end - r->start) == 0;
}

static void survey(struct st *s)
{
	size_t i;

	s->damage = s->olen;
	for (i = 0; i < s->nrec; i++)
		if (!intact(s, &s->r[i])) {
			s->damage = s->r[i].start;
			break;
		}
	memset(s->foreign_key, 0, sizeof(s->foreign_key));
	s->foreign = 0;
	for (size_t off = s->damage; off < s->nlen; off++) {
		int k = valid_at(s, off), ours = 0;

		if (k < 0)
			continue;
		for (i = 0; i < s->nrec; i++)
			if (s->r[i].start == off && intact(s, &s->r[i]))
				ours = 1;
		if (ours)
			continue;
		s->foreign = 1;
		if (k < NKEYS)
			s->foreign_key[k] = 1;
	}
}

static void check_map(const struct st *s, const struct kvlog *kv)
{
	char name[8];

	for (int k = 0; k < NKEYS; k++) {
		const struct rec *r;
		const uint8_t *v;
		size_t len;

		if (s->last[k] < 0 || s->foreign_key[k])
			continue;
		r = &s->r[s->last[k]];
		if (!intact(s, r) || (s->foreign && r->start >= s->damage))
			continue;
		key_name(name, k);
		v = kvlog_get(kv, name, &len);
		if (r->del) {
			CHECK(v == NULL);
		} else {
			CHECK(v != NULL);
			CHECK(len == r->vlen);
			CHECK(len == 0 || memcmp(v, r->val, len) == 0);
		}
	}
}

static void remove_files(void)
{
	char p[128];

	unlink(path);
	snprintf(p, sizeof(p), "%s.repair", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.bad", path);
	unlink(p);
	for (int i = 1; i < 4; i++) {
		snprintf(p, sizeof(p), "%s.bad.%d", path, i);
		unlink(p);
	}
}

static size_t file_size(void)
{
	struct stat sb;

	CHECK(stat(path, &sb) == 0);
	return (size_t)sb.st_size;
}

static void write_file(const uint8_t *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, b, n) == (ssize_t)n);
	close(fd);
}

static void read_file(uint8_t *b, size_t cap, size_t *n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	CHECK(fd >= 0);
	r = read(fd, b, cap);
	CHECK(r >= 0 && (size_t)r < cap);
	*n = (size_t)r;
	close(fd);
}

/* Part one: the answered changes. */
static void build(struct st *s)
{
	struct kvlog *kv = kvlog_open(path, NULL);
	unsigned n = next8(s) % MAXREC;
	char name[8];

	CHECK(kv != NULL);
	for (int k = 0; k < NKEYS; k++)
		s->last[k] = -1;
	for (unsigned i = 0; i < n && s->nrec < MAXREC; i++) {
		unsigned op = next8(s);
		struct rec *r = &s->r[s->nrec];
		size_t before = file_size();
		int rc;

		r->key = (int)(op % NKEYS);
		key_name(name, r->key);
		r->del = (op & 0x80) != 0;
		if (r->del) {
			rc = kvlog_delete(kv, name);
			CHECK(rc == 0 || rc == 1);
			CHECK(rc == (s->last[r->key] >= 0 &&
				     !s->r[s->last[r->key]].del));
			if (rc == 0) {
				CHECK(file_size() == before);
				continue;
			}
		} else {
			r->vlen = (op >> 2) % sizeof(r->val);
			for (size_t j = 0; j < r->vlen; j++)
				r->val[j] = (uint8_t)next8(s);
			CHECK(kvlog_put(kv, name, r->val, r->vlen) == 0);
		}
		r->start = before;
		r->end = file_size();
		CHECK(r->end - r->start ==
		      HDR + PAYMIN + strlen(name) + r->vlen);
		s->last[r->key] = (int)s->nrec++;
	}
	kvlog_close(kv);
}

/* Part two: damage. */
static void damage(struct st *s)
{
	unsigned n = next8(s) % 6 + 1;

	read_file(s->orig, sizeof(s->orig), &s->olen);
	memcpy(s->now, s->orig, s->olen);
	s->nlen = s->olen;
	for (unsigned i = 0; i < n; i++) {
		unsigned op = next8(s), at = next8(s) | next8(s) << 8;
		size_t k;

		switch (op % 4) {
		case 0:
		case 1: /* flip */
			if (s->nlen > 0)
				s->now[at % s->nlen] ^= (uint8_t)(next8(s) | 1);
			break;
		case 2: /* cut */
			s->nlen = at % (s->nlen + 1);
			break;
		case 3: /* append */
			k = op >> 2;
			if (k > (size_t)(s->end - s->p))
				k = (size_t)(s->end - s->p);
			if (k > sizeof(s->now) - s->nlen)
				k = sizeof(s->now) - s->nlen;
			memcpy(s->now + s->nlen, s->p, k);
			s->p += k;
			s->nlen += k;
			break;
		}
	}
	write_file(s->now, s->nlen);
}

static void recover(struct st *s)
{
	struct kvlog_status ls;
	struct kvlog *kv;
	int parts;

	survey(s);
	kv = kvlog_open(path, &ls);
	if (kv != NULL) {
		check_map(s, kv);
		kvlog_close(kv);
		return;
	}
	CHECK(errno == EBADMSG);
	CHECK(ls.offset >= s->damage);
	if (!s->foreign)
		CHECK(ls.offset == s->damage);
	parts = kvlog_repair(path, NULL, 0, NULL, NULL);
	CHECK(parts >= 1);
	kv = kvlog_open(path, &ls);
	CHECK(kv != NULL);
	CHECK(ls.dropped == 0);
	check_map(s, kv);
	kvlog_close(kv);
}

static void cleanup(void)
{
	remove_files();
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st *s;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/fuzz_kvlog.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/log", dir);
		atexit(cleanup);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	remove_files();
	build(s);
	damage(s);
	recover(s);
	remove_files();
	free(s);
	return 0;
}
