/* tests/xenstore/xs_watch.c - watches of the embedded store: the first
 * event, events on writes (also by another domain), on nodes created after
 * the watch, on removal, relative paths, unwatch. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/testutil.h"
#include "tests/xenstore/xtest.h"
#include "xenstore/xs.h"

/* Long enough for any event to arrive on a loaded machine; quiet periods
 * (no event expected) are shorter. */
#define EVENT_MS 5000
#define QUIET_MS 200

static vchan_xs *open_xs(void)
{
	vchan_xs *xs = vchan_xs_open();

	assert_non_null(xs);
	return xs;
}

/* Nothing for `token`, even after a quiet period. */
static void assert_quiet(vchan_xs *xs, const char *token)
{
	assert_int_equal(xt_wait(xs, token, NULL, QUIET_MS), 0);
}

static void test_initial_event(void **state)
{
	vchan_xs *xs = open_xs();
	char *path, *token;
	int fd;

	(void)state;
	fd = vchan_xs_fd(xs);
	assert_true(fd >= 0);
	assert_int_equal(vchan_xs_fd(xs), fd);
	assert_int_equal(tu_readable(fd, 0), 0);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 0);

	/* Fires at once, whether the node exists or not. */
	assert_int_equal(vchan_xs_watch(xs, "/local/domain/0/data/none", "t1"),
			 0);
	assert_int_equal(tu_readable(fd, 0), 1);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 1);
	assert_string_equal(path, "/local/domain/0/data/none");
	assert_string_equal(token, "t1");
	free(path);
	free(token);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 0);
	assert_int_equal(tu_readable(fd, 0), 0);

	/* Same path and token twice: EEXIST; another token is another watch. */
	errno = 0;
	assert_int_equal(vchan_xs_watch(xs, "/local/domain/0/data/none", "t1"),
			 -1);
	assert_int_equal(errno, EEXIST);
	errno = 0;
	assert_int_equal(vchan_xs_watch(xs, "data/none", "t1"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(vchan_xs_watch(xs, "/local/domain/0/data/none", "t2"),
			 0);
	assert_int_equal(xt_drain(xs, "t2", "/local/domain/0/data/none"), 1);
	assert_int_equal(
	    vchan_xs_unwatch(xs, "/local/domain/0/data/none", "t1"), 0);
	assert_int_equal(
	    vchan_xs_unwatch(xs, "/local/domain/0/data/none", "t2"), 0);
	vchan_xs_close(xs);
}

static void test_fires_on_write(void **state)
{
	vchan_xs *xs = open_xs();
	const char *dir = "/local/domain/0/data/ww";

	(void)state;
	assert_int_equal(xt_put(xs, dir, "k", "1", 1), 0);
	assert_int_equal(vchan_xs_watch(xs, dir, "w"), 0);
	assert_int_equal(xt_drain(xs, "w", dir), 1);
	assert_int_equal(tu_readable(vchan_xs_fd(xs), 0), 0);

	/* A new value of an existing key. */
	assert_int_equal(xt_put(xs, dir, "k", "2", 1), 0);
	assert_int_equal(
	    xt_wait(xs, "w", "/local/domain/0/data/ww/k", EVENT_MS), 1);
	assert_true(xt_drain(xs, "w", NULL) >= 0);
	assert_int_equal(tu_readable(vchan_xs_fd(xs), 0), 0);
	/* A new key. */
	assert_int_equal(xt_put(xs, dir, "new", "x", 1), 0);
	assert_int_equal(
	    xt_wait(xs, "w", "/local/domain/0/data/ww/new", EVENT_MS), 1);
	/* A new subtree deep below, then a change down there. */
	assert_int_equal(xt_put(xs, "data/ww/a/b/c", "d", "1", 1), 0);
	assert_int_equal(
	    xt_wait(xs, "w", "/local/domain/0/data/ww/a", EVENT_MS), 1);
	assert_true(xt_drain(xs, "w", NULL) >= 0);
	assert_int_equal(xt_put(xs, "data/ww/a/b/c", "d", "2", 1), 0);
	assert_int_equal(
	    xt_wait(xs, "w", "/local/domain/0/data/ww/a/b/c/d", EVENT_MS), 1);

	/* Changes elsewhere are not events of this watch. */
	assert_true(xt_drain(xs, "w", NULL) >= 0);
	assert_int_equal(xt_put(xs, "data/other", "k", "1", 1), 0);
	assert_int_equal(xt_put(xs, "data/wwx", "k", "1", 1), 0);
	assert_quiet(xs, "w");

	assert_int_equal(vchan_xs_unwatch(xs, dir, "w"), 0);
	assert_int_equal(vchan_xs_rm(xs, dir), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/other"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/wwx"), 0);
	vchan_xs_close(xs);
}

static void test_created_later(void **state)
{
	vchan_xs *xs = open_xs();
	const char *path = "/local/domain/0/data/p/q/r";

	(void)state;
	assert_int_equal(vchan_xs_watch(xs, path, "later"), 0);
	assert_int_equal(xt_drain(xs, "later", path), 1);

	/* Nodes appearing beside it or above it are not its events. */
	assert_int_equal(xt_put(xs, "data/p/x", "k", "1", 1), 0);
	assert_quiet(xs, "later");
	assert_int_equal(xt_put(xs, "data/p/q", "k", "1", 1), 0);
	assert_quiet(xs, "later");
	/* Its own creation is. */
	assert_int_equal(xt_put(xs, "data/p/q/r", "k", "1", 1), 0);
	assert_int_equal(xt_wait(xs, "later", path, EVENT_MS), 1);
	assert_true(xt_drain(xs, "later", NULL) >= 0);
	/* And so are changes below it from then on. */
	assert_int_equal(xt_put(xs, "data/p/q/r/s", "t", "1", 1), 0);
	assert_int_equal(
	    xt_wait(xs, "later", "/local/domain/0/data/p/q/r/s", EVENT_MS), 1);

	assert_int_equal(vchan_xs_unwatch(xs, path, "later"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/p"), 0);
	vchan_xs_close(xs);
}

static void test_fires_on_remove(void **state)
{
	vchan_xs *xs = open_xs();
	const char *path = "/local/domain/0/data/rm/a/b";

	(void)state;
	assert_int_equal(xt_put(xs, "data/rm/a/b", "k", "1", 1), 0);
	assert_int_equal(vchan_xs_watch(xs, path, "rm"), 0);
	assert_int_equal(xt_drain(xs, "rm", path), 1);

	/* Removing a key below, the node itself, an ancestor. */
	assert_int_equal(vchan_xs_rm(xs, "data/rm/a/b/k"), 0);
	assert_int_equal(
	    xt_wait(xs, "rm", "/local/domain/0/data/rm/a/b/k", EVENT_MS), 1);
	assert_int_equal(vchan_xs_rm(xs, path), 0);
	assert_int_equal(xt_wait(xs, "rm", path, EVENT_MS), 1);
	assert_true(xt_drain(xs, "rm", NULL) >= 0);

	/* Re-created, then gone with its grandparent. */
	assert_int_equal(xt_put(xs, "data/rm/a/b", "k", "2", 1), 0);
	assert_int_equal(xt_wait(xs, "rm", path, EVENT_MS), 1);
	assert_true(xt_drain(xs, "rm", NULL) >= 0);
	assert_int_equal(vchan_xs_rm(xs, "data/rm"), 0);
	assert_int_equal(xt_wait(xs, "rm", path, EVENT_MS), 1);
	assert_true(xt_drain(xs, "rm", NULL) >= 0);

	/* Removing what is not there is no event. */
	assert_int_equal(vchan_xs_rm(xs, "data/rm"), 0);
	assert_quiet(xs, "rm");
	assert_int_equal(vchan_xs_unwatch(xs, path, "rm"), 0);
	vchan_xs_close(xs);
}

static void test_unwatch(void **state)
{
	vchan_xs *xs = open_xs();
	char *path, *token;

	(void)state;
	assert_int_equal(vchan_xs_watch(xs, "data/uw", "u"), 0);
	/* Its pending first event goes with it. */
	assert_int_equal(vchan_xs_unwatch(xs, "data/uw", "u"), 0);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 0);
	assert_int_equal(tu_readable(vchan_xs_fd(xs), 0), 0);
	errno = 0;
	assert_int_equal(vchan_xs_unwatch(xs, "data/uw", "u"), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(vchan_xs_unwatch(xs, "data/never", "u"), -1);
	assert_int_equal(errno, ENOENT);

	/* No more events once unwatched; another watch still gets its own. */
	assert_int_equal(vchan_xs_watch(xs, "data/uw", "u"), 0);
	assert_int_equal(xt_drain(xs, "u", NULL), 1);
	assert_int_equal(vchan_xs_watch(xs, "data/uw2", "v"), 0);
	assert_int_equal(xt_drain(xs, "v", NULL), 1);
	assert_int_equal(vchan_xs_unwatch(xs, "data/uw", "u"), 0);
	assert_int_equal(xt_put(xs, "data/uw", "k", "1", 1), 0);
	assert_int_equal(xt_put(xs, "data/uw2", "k", "1", 1), 0);
	assert_int_equal(xt_wait(xs, "v", "data/uw2", EVENT_MS), 1);
	assert_quiet(xs, "u");
	assert_int_equal(vchan_xs_unwatch(xs, "data/uw2", "v"), 0);
	assert_int_equal(xt_put(xs, "data/uw2", "k", "2", 1), 0);
	assert_quiet(xs, "v");
	assert_int_equal(vchan_xs_rm(xs, "data/uw"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/uw2"), 0);
	vchan_xs_close(xs);
}

/* Watched as relative, reported as relative (as xenstored does). */
static void test_relative(void **state)
{
	vchan_xs *xs = open_xs();
	char *path, *token;

	(void)state;
	assert_int_equal(vchan_xs_watch(xs, "data/rel", "r"), 0);
	assert_int_equal(vchan_xs_read_watch(xs, &path, &token), 1);
	assert_string_equal(path, "data/rel");
	free(path);
	free(token);
	assert_int_equal(xt_put(xs, "data/rel", "k", "1", 1), 0);
	assert_int_equal(xt_wait(xs, "r", "data/rel", EVENT_MS), 1);
	assert_int_equal(xt_put(xs, "data/rel", "k", "2", 1), 0);
	assert_int_equal(xt_wait(xs, "r", "data/rel/k", EVENT_MS), 1);
	assert_int_equal(vchan_xs_unwatch(xs, "data/rel", "r"), 0);
	assert_int_equal(vchan_xs_rm(xs, "data/rel"), 0);
	vchan_xs_close(xs);
}

/* The whole store under one watch on "/". */
static void test_root(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	assert_int_equal(vchan_xs_watch(xs, "/", "all"), 0);
	assert_int_equal(xt_drain(xs, "all", "/"), 1);
	assert_int_equal(xt_put(xs, "data/r", "k", "1", 1), 0);
	assert_int_equal(xt_wait(xs, "all", "/local/domain/0/data/r", EVENT_MS),
			 1);
	assert_int_equal(vchan_xs_rm(xs, "data/r"), 0);
	assert_int_equal(xt_wait(xs, "all", "/local/domain/0/data/r", EVENT_MS),
			 1);
	vchan_xs_close(xs);
}

struct cross_arg {
	struct tu_chan ch;
};

/* Domain 6 publishes for domain 0, then removes, each step when told. */
static int cross_child(void *arg)
{
	struct cross_arg *a = arg;
	vchan_xs *xs = vchan_xs_open();
	char step;
	int rc = 0;

	if (xs == NULL)
		return 10;
	if (tu_recv(&a->ch, 1, &step, 1) < 0)
		rc = 11;
	else if (xt_put(xs, "data/x", "ring-ref", "5", 0) < 0)
		rc = 12;
	else if (tu_recv(&a->ch, 1, &step, 1) < 0)
		rc = 13;
	else if (vchan_xs_rm(xs, "data/x") < 0)
		rc = 14;
	vchan_xs_close(xs);
	return rc;
}

/* Another process, another domain: the watch still fires. */
static void test_other_domain(void **state)
{
	const char *path = "/local/domain/6/data/x";
	struct cross_arg a;
	vchan_xs *xs;
	char *v;
	pid_t pid;

	(void)state;
	/* The child first, so that it does not inherit the watcher's handle;
	 * it acts only when told. */
	assert_int_equal(tu_chan_init(&a.ch), 0);
	pid = tu_spawn(6, cross_child, &a);
	assert_true(pid > 0);
	xs = open_xs();
	assert_int_equal(vchan_xs_watch(xs, path, "x"), 0);
	assert_int_equal(xt_drain(xs, "x", path), 1);
	assert_int_equal(tu_send(&a.ch, 0, "1", 1), 0);
	assert_int_equal(xt_wait(xs, "x", path, EVENT_MS), 1);
	v = vchan_xs_read(xs, "/local/domain/6/data/x/ring-ref", NULL);
	assert_non_null(v);
	assert_string_equal(v, "5");
	free(v);
	assert_true(xt_drain(xs, "x", NULL) >= 0);
	assert_int_equal(tu_send(&a.ch, 0, "2", 1), 0);
	assert_int_equal(xt_wait(xs, "x", path, EVENT_MS), 1);
	assert_int_equal(tu_wait(pid, 20000), 0);
	tu_chan_close(&a.ch);
	errno = 0;
	assert_null(vchan_xs_read(xs, "/local/domain/6/data/x/ring-ref", NULL));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(vchan_xs_rm(xs, "/local/domain/6"), 0);
	vchan_xs_close(xs);
}

/* A flood of changes coalesces; nothing is lost and the queue stays
 * bounded. */
static void test_many_changes(void **state)
{
	vchan_xs *xs = open_xs();
	char key[16];
	int seen[300] = {0}, n = 0, r;
	char *path, *token;

	(void)state;
	/* The directory first: keys added to it are events of their own. */
	assert_int_equal(vchan_xs_publish(xs, "data/many", NULL, 0, 1), 0);
	assert_int_equal(vchan_xs_watch(xs, "data/many", "m"), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(xt_put(xs, "data/many", key, "v", 1), 0);
	}
	assert_int_equal(tu_readable(vchan_xs_fd(xs), EVENT_MS), 1);
	while ((r = vchan_xs_read_watch(xs, &path, &token)) == 1) {
		int k;

		if (sscanf(path, "data/many/k%d", &k) == 1 && k >= 0 && k < 300)
			seen[k] = 1;
		free(path);
		free(token);
		n++;
	}
	assert_int_equal(r, 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(seen[i], 1);
	print_message("300 keys written: %d events\n", n);
	assert_int_equal(vchan_xs_rm(xs, "data/many"), 0);
	vchan_xs_close(xs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_initial_event),
	    cmocka_unit_test(test_fires_on_write),
	    cmocka_unit_test(test_created_later),
	    cmocka_unit_test(test_fires_on_remove),
	    cmocka_unit_test(test_unwatch),
	    cmocka_unit_test(test_relative),
	    cmocka_unit_test(test_root),
	    cmocka_unit_test_teardown(test_other_domain, tu_teardown),
	    cmocka_unit_test(test_many_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
