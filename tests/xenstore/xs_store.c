/* tests/xenstore/xs_store.c - the embedded store between "domains"
 * (processes with their own VCHAN_DOMID): publish and read back, atomic
 * publish under concurrent reads, XenStore's permissions, subtree removal,
 * recovery from a killed writer, nothing left behind. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/testutil.h"
#include "tests/xenstore/xtest.h"
#include "xenstore/xs.h"

#define CHILD_MS 20000

static void assert_value(vchan_xs *xs, const char *path, const char *want)
{
	size_t len = 12345;
	char *v = vchan_xs_read(xs, path, &len);

	assert_non_null(v);
	assert_string_equal(v, want);
	assert_int_equal(len, strlen(want));
	free(v);
}

static void assert_errno_read(vchan_xs *xs, const char *path, int err)
{
	errno = 0;
	assert_null(vchan_xs_read(xs, path, NULL));
	assert_int_equal(errno, err);
}

static void test_missing(void **state)
{
	vchan_xs *xs = vchan_xs_open();

	(void)state;
	assert_non_null(xs);
	assert_errno_read(xs, "/local/domain/0/data/nope", ENOENT);
	assert_errno_read(xs, "data/nope/deeper/still", ENOENT);
	assert_int_equal(vchan_xs_rm(xs, "data/nope"), 0);
	assert_int_equal(vchan_xs_rm(xs, "/no/such/parent/either"), 0);
	vchan_xs_close(xs);
}

static void test_publish_read(void **state)
{
	struct vchan_xs_kv kv[] = {
	    {"ring-ref", "12"},
	    {"event-channel", "7"},
	};
	vchan_xs *xs = vchan_xs_open();

	(void)state;
	assert_non_null(xs);
	assert_int_equal(vchan_xs_domid(xs), 0);
	/* The home, laid out as Xen's toolstack does. */
	assert_value(xs, "domid", "0");
	assert_value(xs, "/local/domain/0/domid", "0");

	assert_int_equal(vchan_xs_publish(xs, "data/vchan/1/5", kv, 2, 1), 0);
	assert_value(xs, "data/vchan/1/5/ring-ref", "12");
	assert_value(xs, "/local/domain/0/data/vchan/1/5/event-channel", "7");
	assert_value(xs, "data/vchan/1/5", "");
	assert_value(xs, "data/vchan", "");

	/* Again, over the existing nodes, with a key more. */
	kv[0].value = "13";
	kv[1].key = "extra";
	kv[1].value = "x";
	assert_int_equal(vchan_xs_publish(xs, "data/vchan/1/5", kv, 2, 1), 0);
	assert_value(xs, "data/vchan/1/5/ring-ref", "13");
	assert_value(xs, "data/vchan/1/5/event-channel", "7");
	assert_value(xs, "data/vchan/1/5/extra", "x");

	/* No keys: the directory alone. A key given twice: the last wins. */
	assert_int_equal(vchan_xs_publish(xs, "data/empty", NULL, 0, 3), 0);
	assert_value(xs, "data/empty", "");
	kv[0].key = kv[1].key = "dup";
	kv[0].value = "first";
	kv[1].value = "second";
	assert_int_equal(vchan_xs_publish(xs, "data/twice", kv, 2, 3), 0);
	assert_value(xs, "data/twice/dup", "second");
	assert_int_equal(vchan_xs_publish(xs, "data/twice", kv, 2, 3), 0);
	assert_value(xs, "data/twice/dup", "second");

	/* Removal takes the subtree. */
	assert_int_equal(vchan_xs_rm(xs, "data/vchan"), 0);
	assert_errno_read(xs, "data/vchan/1/5/ring-ref", ENOENT);
	assert_errno_read(xs, "data/vchan/1/5", ENOENT);
	assert_errno_read(xs, "data/vchan", ENOENT);
	assert_value(xs, "data/empty", "");
	assert_int_equal(vchan_xs_rm(xs, "data/vchan"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/empty"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/twice"), 0);
	vchan_xs_close(xs);
}

/* ---- atomic publish ---- */

#define ATOM_KEYS  8
#define ATOM_VALUE 600

static const char *const atom_keys[ATOM_KEYS] = {"k0", "k1", "k2", "k3",
						 "k4", "k5", "k6", "k7"};

/* "<gen>:" then a letter of the generation up to ATOM_VALUE bytes, so a
 * torn value shows as well as a mixed set. */
static void atom_value(char *buf, unsigned gen)
{
	int n = snprintf(buf, ATOM_VALUE + 1, "%u:", gen);

	memset(buf + n, 'a' + (int)(gen % 26), ATOM_VALUE - (size_t)n);
	buf[ATOM_VALUE] = '\0';
}

/* Generation of a value, or -1 when malformed. */
static long atom_parse(const char *v)
{
	char want[ATOM_VALUE + 1];
	unsigned long gen;
	char *end;

	gen = strtoul(v, &end, 10);
	if (end == v || *end != ':')
		return -1;
	atom_value(want, (unsigned)gen);
	return strcmp(v, want) == 0 ? (long)gen : -1;
}

static unsigned atom_gens(void)
{
	return tu_quick() ? 100 : 400;
}

/* Domain 4 publishes every generation of all keys, for domain 0; after
 * the first one it waits for the reader to have seen it, so that the
 * reads overlap the writes however slow either side runs. */
static int atom_writer(void *arg)
{
	static char vals[ATOM_KEYS][ATOM_VALUE + 1];
	struct vchan_xs_kv kv[ATOM_KEYS];
	struct tu_chan *ch = arg;
	vchan_xs *xs = vchan_xs_open();
	char go;

	if (xs == NULL)
		return 10;
	for (unsigned gen = 1; gen <= atom_gens(); gen++) {
		for (int i = 0; i < ATOM_KEYS; i++) {
			atom_value(vals[i], gen);
			kv[i].key = atom_keys[i];
			kv[i].value = vals[i];
		}
		if (vchan_xs_publish(xs, "data/atom", kv, ATOM_KEYS, 0) < 0) {
			vchan_xs_close(xs);
			return 11;
		}
		if (gen == 1 && tu_recv(ch, 1, &go, 1) < 0) {
			vchan_xs_close(xs);
			return 12;
		}
	}
	vchan_xs_close(xs);
	return 0;
}

/* The writer writes k0..k7 in order; reading them in the same order, a
 * publish that is not atomic shows as a later key older than an earlier
 * one (the reader overtook the writer), or as some keys there and others
 * not yet. Atomic ones never do. */
static void test_atomic_publish(void **state)
{
	vchan_xs *xs;
	long first = -1, last = -1;
	unsigned sweeps = 0, changes = 0;
	int64_t end = tu_now_us() + (int64_t)tu_ms(15000) * 1000;
	struct tu_chan ch;
	pid_t pid;
	int st = -1;

	(void)state;
	/* The child first, so that it does not inherit the reader's handle. */
	assert_int_equal(tu_chan_init(&ch), 0);
	pid = tu_spawn(4, atom_writer, &ch);
	assert_true(pid > 0);
	xs = vchan_xs_open();
	assert_non_null(xs);
	for (;;) {
		long prev = -1, gen = -1;
		int present = 0;
		int ended = tu_ended(pid, &st);

		assert_true(ended >= 0);
		for (int i = 0; i < ATOM_KEYS; i++) {
			char path[64];
			char *v;

			snprintf(path, sizeof(path),
				 "/local/domain/4/data/atom/%s", atom_keys[i]);
			v = vchan_xs_read(xs, path, NULL);
			if (v == NULL) {
				/* Keys, once there, stay: one missing after
				 * another was there is a publish seen
				 * half-done. */
				assert_int_equal(errno, ENOENT);
				assert_int_equal(present, 0);
				continue;
			}
			present++;
			gen = atom_parse(v);
			free(v);
			assert_true(gen > 0);
			assert_true(gen >= prev);
			prev = gen;
		}
		if (present == ATOM_KEYS) {
			if (first < 0) {
				first = gen;
				assert_int_equal(tu_send(&ch, 0, "g", 1), 0);
			}
			changes += gen != last;
			last = gen;
		}
		sweeps++;
		if (ended)
			break;
		assert_true(tu_now_us() < end);
	}
	tu_chan_close(&ch);
	assert_int_equal(st, 0);
	/* The reads really ran while the writes went on. */
	assert_int_equal(first, 1);
	assert_int_equal(last, (long)atom_gens());
	print_message("atomic publish: %u sweeps saw %u generations of %u\n",
		      sweeps, changes, atom_gens());
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/4"), 0);
	vchan_xs_close(xs);
}

/* Domain 4 publishes new generations until killed. */
static int endless_writer(void *arg)
{
	static char vals[ATOM_KEYS][ATOM_VALUE + 1];
	struct vchan_xs_kv kv[ATOM_KEYS];
	struct tu_chan *ch = arg;
	vchan_xs *xs = vchan_xs_open();

	if (xs == NULL)
		return 10;
	for (unsigned gen = 1;; gen++) {
		for (int i = 0; i < ATOM_KEYS; i++) {
			atom_value(vals[i], gen);
			kv[i].key = atom_keys[i];
			kv[i].value = vals[i];
		}
		if (vchan_xs_publish(xs, "data/atom", kv, ATOM_KEYS, 0) < 0)
			return 11;
		if (gen == 1 && tu_send(ch, 1, "1", 1) < 0)
			return 12;
	}
}

/* A writer killed at any point (perhaps holding the lock, perhaps half-way
 * through its scratch) neither blocks the store nor leaves a torn value. */
static void test_killed_writer(void **state)
{
	struct tu_chan ch;
	vchan_xs *xs;
	char one;

	(void)state;
	for (int round = 0; round < 5; round++) {
		pid_t pid;

		assert_int_equal(tu_chan_init(&ch), 0);
		pid = tu_spawn(4, endless_writer, &ch);
		assert_true(pid > 0);
		assert_int_equal(tu_recv(&ch, 0, &one, 1), 0);
		usleep(1000 + 3000 * (useconds_t)round);
		assert_int_equal(tu_kill(pid, CHILD_MS), 128 + SIGKILL);
		tu_chan_close(&ch);

		xs = vchan_xs_open();
		assert_non_null(xs);
		for (int i = 0; i < ATOM_KEYS; i++) {
			char path[64];
			char *v;

			snprintf(path, sizeof(path),
				 "/local/domain/4/data/atom/%s", atom_keys[i]);
			v = vchan_xs_read(xs, path, NULL);
			assert_non_null(v);
			assert_true(atom_parse(v) > 0);
			free(v);
		}
		/* The store takes writes at once. */
		assert_int_equal(xt_put(xs, "data/after-kill", "k", "v", 1), 0);
		assert_value(xs, "data/after-kill/k", "v");
		assert_int_equal(vchan_xs_rm(xs, "data/after-kill"), 0);
		vchan_xs_close(xs);
	}
	xs = vchan_xs_open();
	assert_non_null(xs);
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/4"), 0);
	vchan_xs_close(xs);
}

/* ---- permissions ---- */

#define PUB_DIR "/local/domain/5/data/vchan/7/1"

/* Domain 5 publishes for peer 7. */
static int perm_owner(void *arg)
{
	struct vchan_xs_kv kv[] = {{"ring-ref", "42"}, {"event-channel", "9"}};
	vchan_xs *xs = vchan_xs_open();
	int rc = 0;

	(void)arg;
	if (xs == NULL)
		return 10;
	if (vchan_xs_domid(xs) != 5)
		rc = 11;
	else if (vchan_xs_publish(xs, "data/vchan/7/1", kv, 2, 7) < 0)
		rc = 12;
	/* Its own nodes for dom0 only, for a later check by domain 7. */
	else if (xt_put(xs, "data/private", "k", "v", 0) < 0)
		rc = 13;
	vchan_xs_close(xs);
	return rc;
}

static int expect_read_errno(vchan_xs *xs, const char *path, int err)
{
	char *v;

	errno = 0;
	v = vchan_xs_read(xs, path, NULL);
	free(v);
	return v == NULL && errno == err;
}

/* Domain 9, a stranger: no read, no write, no removal. */
static int perm_stranger(void *arg)
{
	vchan_xs *xs = vchan_xs_open();
	int rc = 0;

	(void)arg;
	if (xs == NULL)
		return 10;
	if (!expect_read_errno(xs, PUB_DIR "/ring-ref", EACCES))
		rc = 11;
	else if (!expect_read_errno(xs, PUB_DIR, EACCES))
		rc = 12;
	else if (vchan_xs_rm(xs, PUB_DIR) != -1 || errno != EACCES)
		rc = 13;
	else if (vchan_xs_rm(xs, PUB_DIR "/ring-ref") != -1 || errno != EACCES)
		rc = 14;
	else if (xt_put(xs, PUB_DIR, "ring-ref", "666", 9) != -1 ||
		 errno != EACCES)
		rc = 15;
	else if (xt_put(xs, "/local/domain/5/data/evil", "k", "v", 9) != -1 ||
		 errno != EACCES)
		rc = 16;
	/* Its own home works. */
	else if (xt_put(xs, "data/mine", "k", "v", 5) < 0)
		rc = 17;
	else if (!expect_read_errno(xs, "data/mine/nope", ENOENT))
		rc = 18;
	vchan_xs_close(xs);
	return rc;
}

/* Domain 7, the named peer: reads, cannot write or remove. */
static int perm_peer(void *arg)
{
	vchan_xs *xs = vchan_xs_open();
	size_t len = 0;
	char *v;
	int rc = 0;

	(void)arg;
	if (xs == NULL)
		return 10;
	v = vchan_xs_read(xs, PUB_DIR "/ring-ref", &len);
	if (v == NULL || strcmp(v, "42") != 0 || len != 2)
		rc = 11;
	free(v);
	v = vchan_xs_read(xs, PUB_DIR, NULL);
	if (rc == 0 && (v == NULL || *v != '\0'))
		rc = 12;
	free(v);
	if (rc != 0)
		;
	else if (vchan_xs_rm(xs, PUB_DIR) != -1 || errno != EACCES)
		rc = 13;
	else if (xt_put(xs, PUB_DIR, "ring-ref", "0", 7) != -1 ||
		 errno != EACCES)
		rc = 14;
	else if (!expect_read_errno(xs, "/local/domain/5/data/private/k",
				    EACCES))
		rc = 15;
	vchan_xs_close(xs);
	return rc;
}

/* Domain 5 again: as under Xen, its home itself belongs to domain 0. */
static int perm_home(void *arg)
{
	vchan_xs *xs = vchan_xs_open();
	int rc = 0;

	(void)arg;
	if (xs == NULL)
		return 10;
	if (xt_put(xs, "toplevel", "k", "v", 0) != -1 || errno != EACCES)
		rc = 11;
	else if (vchan_xs_rm(xs, "domid") != -1 || errno != EACCES)
		rc = 12;
	else if (xt_put(xs, "/local/domain/0/data/x", "k", "v", 0) != -1 ||
		 errno != EACCES)
		rc = 13;
	else if (vchan_xs_rm(xs, "data/vchan") < 0)
		rc = 14;
	else if (!expect_read_errno(xs, PUB_DIR, ENOENT))
		rc = 15;
	vchan_xs_close(xs);
	return rc;
}

static void run_as(const char *name, uint32_t domid, int (*fn)(void *))
{
	pid_t pid = tu_spawn_named(name, domid, fn, NULL);

	assert_true(pid > 0);
	assert_int_equal(tu_wait(pid, CHILD_MS), 0);
}

static void test_permissions(void **state)
{
	vchan_xs *xs;

	(void)state;
	run_as("perm_owner", 5, perm_owner);
	run_as("perm_stranger", 9, perm_stranger);
	run_as("perm_peer", 7, perm_peer);
	/* Domain 0 reads everything, and nothing was changed. */
	xs = vchan_xs_open();
	assert_non_null(xs);
	assert_value(xs, PUB_DIR "/ring-ref", "42");
	assert_value(xs, PUB_DIR "/event-channel", "9");
	assert_errno_read(xs, "/local/domain/5/data/evil", ENOENT);
	assert_value(xs, "/local/domain/9/data/mine/k", "v");
	/* Children never inherit a handle of ours. */
	vchan_xs_close(xs);
	run_as("perm_home", 5, perm_home);
	xs = vchan_xs_open();
	assert_non_null(xs);
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/5"), 0);
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/9"), 0);
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/7"), 0);
	vchan_xs_close(xs);
}

/* ---- what is on disk ---- */

static char *xs_dir_path(const char *sub)
{
	const char *sim = getenv("VCHAN_SIM_DIR");
	char *p;

	assert_non_null(sim);
	assert_true(asprintf(&p, "%s/xs%s", sim, sub) > 0);
	return p;
}

/* A writer killed half-way leaves its scratch behind: the next writer
 * clears it and the tree never shows it. */
static void test_stale_scratch(void **state)
{
	char *stage = xs_dir_path("/.stage"), *trash = xs_dir_path("/.trash");
	char *junk;
	vchan_xs *xs = vchan_xs_open();
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(xs);
	assert_int_equal(mkdir(stage, 0700), 0);
	assert_int_equal(mkdir(trash, 0700), 0);
	assert_true(asprintf(&junk, "%s/half", trash) > 0);
	assert_int_equal(mkdir(junk, 0700), 0);
	free(junk);
	assert_true(asprintf(&junk, "%s/.v", stage) > 0);
	f = fopen(junk, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	free(junk);
	assert_int_equal(xt_put(xs, "data/after", "k", "v", 1), 0);
	assert_value(xs, "data/after/k", "v");
	assert_int_equal(lstat(stage, &st), -1);
	assert_int_equal(lstat(trash, &st), -1);
	assert_int_equal(vchan_xs_rm(xs, "data/after"), 0);
	free(stage);
	free(trash);
	vchan_xs_close(xs);
}

/* Once everything is removed, the store directory holds only the root's
 * own files and the lock: handles leave nothing of their own. */
static void test_nothing_left(void **state)
{
	static const char *const allowed[] = {".", "..", ".lock", ".p", ".v"};
	char *dir = xs_dir_path("");
	vchan_xs *a = vchan_xs_open(), *b;
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	assert_non_null(a);
	setenv("VCHAN_DOMID", "3", 1);
	b = vchan_xs_open();
	unsetenv("VCHAN_DOMID");
	assert_non_null(b);
	assert_int_equal(xt_put(b, "data/vchan/0/1", "ring-ref", "8", 0), 0);
	assert_int_equal(vchan_xs_watch(a, "/local/domain/3/data", "w"), 0);
	assert_int_equal(vchan_xs_watch(b, "data/vchan/0/2", "w"), 0);
	assert_true(vchan_xs_fd(a) >= 0);
	assert_true(xt_drain(a, "w", NULL) >= 1);
	assert_int_equal(vchan_xs_rm(b, "data/vchan"), 0);
	vchan_xs_close(b);
	assert_int_equal(vchan_xs_rm(a, "/local"), 0);
	vchan_xs_close(a);

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		bool ok = false;

		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]);
		     i++)
			ok = ok || strcmp(de->d_name, allowed[i]) == 0;
		if (!ok)
			print_error("left in the store: %s\n", de->d_name);
		n += !ok;
	}
	closedir(d);
	free(dir);
	assert_int_equal(n, 0);
	assert_int_equal(tu_sim_dir_entries(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_missing, tu_teardown),
	    cmocka_unit_test_teardown(test_publish_read, tu_teardown),
	    cmocka_unit_test_teardown(test_atomic_publish, tu_teardown),
	    cmocka_unit_test_teardown(test_killed_writer, tu_teardown),
	    cmocka_unit_test_teardown(test_permissions, tu_teardown),
	    cmocka_unit_test_teardown(test_stale_scratch, tu_teardown),
	    cmocka_unit_test_teardown(test_nothing_left, tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
