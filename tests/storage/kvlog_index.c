/* tests/storage/kvlog_index.c - the map's index. Against a plain model of
 * the same changes (puts, overwrites, deletes, empty values, keys that
 * share prefixes): every Get answers as the model does, and List returns
 * the model's keys for a prefix, sorted; after replay and after live
 * changes, before and after reopening. And lookups cost O(1): replaying n
 * records and then getting n keys makes at most a few key comparisons
 * per operation (counted, not timed: a linear scan makes thousands), so
 * the test cannot flake on a loaded machine. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/storage/kvlog.h"
#include "tests/storage/tkv.h"

#define NKEYS 1500

struct model {
	char key[NKEYS][24];
	uint8_t val[NKEYS][40];
	size_t len[NKEYS];
	int present[NKEYS];
};

static const char *const prefixes[] = {"", "a/", "ab/", "b/", "a", "zz"};
#define NPREFIX (sizeof(prefixes) / sizeof(prefixes[0]))

static void make_keys(struct model *m)
{
	for (int i = 0; i < NKEYS; i++)
		snprintf(m->key[i], sizeof(m->key[i]), "%s%d",
			 prefixes[i % NPREFIX], i);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The map answers as the model does, for every key and every prefix. */
static int agrees(struct kvlog *kv, const struct model *m)
{
	static const char *const ask[] = {"",	  "a",	"a/", "ab",
					  "ab/1", "b/", "c",  "1"};
	const char *want[NKEYS];

	for (int i = 0; i < NKEYS; i++) {
		size_t len = 12345;
		const uint8_t *v = kvlog_get(kv, m->key[i], &len);

		if (!m->present[i]) {
			CHECK(v == NULL);
			continue;
		}
		CHECK(v != NULL && len == m->len[i]);
		CHECK(len == 0 || memcmp(v, m->val[i], len) == 0);
	}
	for (size_t a = 0; a < sizeof(ask) / sizeof(ask[0]); a++) {
		size_t n = 0, k = 0, pl = strlen(ask[a]);
		const char **got = kvlog_list(kv, ask[a], &n);

		CHECK(got != NULL);
		for (int i = 0; i < NKEYS; i++)
			if (m->present[i] &&
			    strncmp(m->key[i], ask[a], pl) == 0)
				want[k++] = m->key[i];
		qsort(want, k, sizeof(want[0]), cmp_str);
		if (n != k)
			fprintf(stderr, "list '%s': %zu keys, not %zu\n",
				ask[a], n, k);
		CHECK(n == k);
		for (size_t i = 0; i < k; i++)
			CHECK(strcmp(got[i], want[i]) == 0);
		free(got);
	}
	return 0;
}

/* One random change, to the model and (as a record) to buf. */
static void change(struct model *m, unsigned *seed, uint8_t *buf, size_t *n)
{
	int i = rand_r(seed) % NKEYS;

	if (m->present[i] && rand_r(seed) % 3 == 0) {
		m->present[i] = 0;
		tkv_record(buf, n, 2, m->key[i], strlen(m->key[i]), NULL, 0);
		return;
	}
	m->len[i] = (size_t)rand_r(seed) % 5 == 0
			? 0
			: (size_t)rand_r(seed) % sizeof(m->val[i]);
	for (size_t k = 0; k < m->len[i]; k++)
		m->val[i][k] = (uint8_t)rand_r(seed);
	m->present[i] = 1;
	tkv_record(buf, n, 1, m->key[i], strlen(m->key[i]), m->val[i],
		   m->len[i]);
}

static int model_test(const char *path)
{
	static struct model m;
	static uint8_t buf[8 * NKEYS * 80];
	unsigned seed = 7;
	struct kvlog *kv;
	size_t n = 0;

	make_keys(&m);
	for (int i = 0; i < 8 * NKEYS; i++)
		change(&m, &seed, buf, &n);
	CHECK(tkv_write_file(path, buf, n) == 0);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	CHECK(agrees(kv, &m) == 0);
	/* Live changes through the API (each one synced: a few hundred). */
	for (int c = 0; c < 300; c++) {
		int i = rand_r(&seed) % NKEYS;

		if (m.present[i] && c % 3 == 0) {
			CHECK(kvlog_delete(kv, m.key[i]) == 1);
			CHECK(kvlog_delete(kv, m.key[i]) == 0);
			m.present[i] = 0;
			continue;
		}
		m.len[i] = (size_t)(c % 7);
		memset(m.val[i], c, m.len[i]);
		m.present[i] = 1;
		CHECK(kvlog_put(kv, m.key[i], m.len[i] ? m.val[i] : NULL,
				m.len[i]) == 0);
	}
	CHECK(agrees(kv, &m) == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	CHECK(agrees(kv, &m) == 0);
	kvlog_close(kv);
	return 0;
}

/* n distinct keys, a fifth overwritten and a fifth deleted after. */
#define NCOUNT 5000

static int cost_test(const char *path)
{
	static uint8_t buf[NCOUNT * 2 * 48];
	char key[32];
	struct kvlog *kv;
	size_t n = 0, len;
	long records = 0, replay, gets, wrong = 0;

	for (int i = 0; i < NCOUNT; i++, records++) {
		snprintf(key, sizeof(key), "key/%08d", i);
		tkv_record(buf, &n, 1, key, strlen(key), "value", 5);
	}
	for (int i = 0; i < NCOUNT; i += 5, records += 2) {
		snprintf(key, sizeof(key), "key/%08d", i);
		tkv_record(buf, &n, 1, key, strlen(key), "other", 5);
		snprintf(key, sizeof(key), "key/%08d", i + 1);
		tkv_record(buf, &n, 2, key, strlen(key), NULL, 0);
	}
	CHECK(tkv_write_file(path, buf, n) == 0);
	tkv.compares = 0;
	tkv.counting = 1;
	kv = kvlog_open(path, NULL);
	tkv.counting = 0;
	replay = tkv.compares;
	CHECK(kv != NULL);
	tkv.compares = 0;
	tkv.counting = 1;
	for (int i = 0; i < NCOUNT; i++) {
		snprintf(key, sizeof(key), "key/%08d", i);
		if ((kvlog_get(kv, key, &len) == NULL) != (i % 5 == 1))
			wrong++;
	}
	tkv.counting = 0;
	gets = tkv.compares;
	kvlog_close(kv);
	fprintf(stderr,
		"%ld records: %ld key comparisons to replay, %ld for %d "
		"gets\n",
		records, replay, gets, NCOUNT);
	CHECK(wrong == 0);
	CHECK(replay <= 2 * records);
	CHECK(gets <= 2 * NCOUNT);
	return 0;
}

int main(void)
{
	char dir[512], path[600];
	struct tu_scenarios r = {0};

	CHECK(tkv_tmpdir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/kv.log", dir);
	TU_SCENARIO(&r, "model", model_test(path));
	TU_SCENARIO(&r, "cost", cost_test(path));
	tkv_rmtree(dir);
	return tu_scenarios_done(&r);
}
