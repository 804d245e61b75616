/* tests/unikernel/uk_xs_pv.c - the XenStore ring backend (xenstore/pv.c)
 * against a fake runtime and a fake xenstored (fake_pv.c): requests and
 * replies, publish's transaction and its retries, errors, watches routed
 * to the handle that set them, the fd, messages larger than the ring, and
 * a server that misbehaves or stops answering. The backend is called
 * through its ops, as xs.c would after checking the arguments. */
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

#include "tests/unikernel/fake_pv.h"
#include "unikernel/pv.h"
#include "xenstore/backend.h"

#define SEC	  1000000000ull
#define HOME	  "/local/domain/5"
#define QUEUE_MAX 256 /* pv.c's bound on queued events per handle */
#define PUB_TRIES 16  /* pv.c's transaction attempts */
#define MAX_OPEN  4

/* Handles a test has open: a test that fails half-way leaves them to the
 * teardown, so that the next test starts without a ring context. */
static vchan_xs *open_handles[MAX_OPEN];

static int setup(void **state)
{
	(void)state;
	fake_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (open_handles[i] != NULL) {
			open_handles[i]->ops->close(open_handles[i]);
			open_handles[i] = NULL;
		}
	fake_free();
	return 0;
}

static vchan_xs *open_xs(void)
{
	vchan_xs *xs = vchan_xs_pv_open();
	size_t i = 0;

	assert_non_null(xs);
	while (i < MAX_OPEN && open_handles[i] != NULL)
		i++;
	assert_true(i < MAX_OPEN);
	open_handles[i] = xs;
	return xs;
}

static void close_xs(vchan_xs *xs)
{
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (open_handles[i] == xs)
			open_handles[i] = NULL;
	xs->ops->close(xs);
}

static void assert_value(vchan_xs *xs, const char *path, const char *want)
{
	size_t len = 12345;
	char *v = xs->ops->read(xs, path, &len);

	assert_non_null(v);
	assert_string_equal(v, want);
	assert_int_equal(len, strlen(want));
	free(v);
}

static void assert_read_fails(vchan_xs *xs, const char *path, int err)
{
	errno = 0;
	assert_null(xs->ops->read(xs, path, NULL));
	assert_int_equal(errno, err);
}

static void expect_event(vchan_xs *xs, const char *path, const char *token)
{
	char *p = NULL, *t = NULL;

	assert_int_equal(xs->ops->read_watch(xs, &p, &t), 1);
	assert_string_equal(p, path);
	assert_string_equal(t, token);
	free(p);
	free(t);
}

static void expect_no_event(vchan_xs *xs)
{
	char *p = NULL, *t = NULL;

	assert_int_equal(xs->ops->read_watch(xs, &p, &t), 0);
}

static int watch(vchan_xs *xs, const char *path, const char *token)
{
	return xs->ops->watch(xs, path, token);
}

static int unwatch(vchan_xs *xs, const char *path, const char *token)
{
	return xs->ops->unwatch(xs, path, token);
}

/* The backend's publish with xs.c's list: {self: none} + {peer: read}. */
static int publish_kv(vchan_xs *xs, const char *dir,
		      const struct vchan_xs_kv *kv, size_t n, uint32_t peer)
{
	struct vchan_xs_perm perms[2] = {{0, VCHAN_XS_NONE},
					 {peer, VCHAN_XS_READ}};
	int self = xs->ops->domid(xs);

	if (self < 0)
		return -1;
	perms[0].domid = (uint32_t)self;
	return xs->ops->publish(xs, dir, kv, n, perms, 2);
}

static int publish(vchan_xs *xs, const char *dir, const char *key,
		   const char *value, uint32_t peer)
{
	struct vchan_xs_kv kv = {key, value};

	return publish_kv(xs, dir, &kv, 1, peer);
}

/* ---- plain requests ---- */

static void test_domid(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	assert_int_equal(xs->ops->domid(xs), 5);
	assert_int_equal(xs->ops->domid(xs), 5);
	/* Read once, from the relative key. */
	assert_int_equal(fake_stats.requests[XS_READ], 1);
	close_xs(xs);
}

static void test_domid_bad(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_set(HOME "/domid", "five", "n0,r5");
	errno = 0;
	assert_int_equal(xs->ops->domid(xs), -1);
	assert_int_equal(errno, EPROTO);
	fake_set(HOME "/domid", "32752", "n0,r5");
	errno = 0;
	assert_int_equal(xs->ops->domid(xs), -1);
	assert_int_equal(errno, EPROTO);
	fake_set(HOME "/domid", "5", "n0,r5");
	assert_int_equal(xs->ops->domid(xs), 5);
	close_xs(xs);
}

static void test_read_rm(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	assert_value(xs, "domid", "5");
	assert_value(xs, HOME "/domid", "5");
	assert_value(xs, HOME "/data", "");
	assert_read_fails(xs, "data/none", ENOENT);
	assert_read_fails(xs, "/local/domain/0/secret", EACCES);

	fake_write(HOME "/data/x/y", "1");
	assert_value(xs, "data/x/y", "1");
	assert_int_equal(xs->ops->rm(xs, "data/x"), 0);
	assert_null(fake_value(HOME "/data/x/y", NULL));
	assert_null(fake_value(HOME "/data/x", NULL));
	/* Gone already, and even its parent gone: still 0. */
	assert_int_equal(xs->ops->rm(xs, "data/x"), 0);
	assert_int_equal(xs->ops->rm(xs, "data/x/y/z"), 0);
	errno = 0;
	assert_int_equal(xs->ops->rm(xs, "/local/domain/0/secret"), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(fake_value("/local/domain/0/secret", NULL));
	close_xs(xs);
}

/* ---- publish ---- */

static void test_publish(void **state)
{
	static const char dir[] = HOME "/data/vchan/7/1";
	struct vchan_xs_kv kv[] = {{"ring-ref", "12"}, {"event-channel", "9"}};
	vchan_xs *xs = open_xs();

	(void)state;
	assert_int_equal(publish_kv(xs, dir, kv, 2, 7), 0);
	assert_string_equal(fake_value(HOME "/data/vchan/7/1/ring-ref", NULL),
			    "12");
	assert_string_equal(
	    fake_value(HOME "/data/vchan/7/1/event-channel", NULL), "9");
	/* {owner: self, others: none} + {peer: read} on the directory and
	 * on every key; the parents made on the way are just ours. */
	assert_string_equal(fake_perms(dir), "n5,r7");
	assert_string_equal(fake_perms(HOME "/data/vchan/7/1/ring-ref"),
			    "n5,r7");
	assert_string_equal(fake_perms(HOME "/data/vchan/7/1/event-channel"),
			    "n5,r7");
	assert_string_equal(fake_perms(HOME "/data/vchan"), "n5");
	/* One transaction, committed at once. */
	assert_int_equal(fake_stats.requests[XS_TRANSACTION_START], 1);
	assert_int_equal(fake_stats.commits, 1);
	assert_int_equal(fake_stats.aborts, 0);
	assert_int_equal(fake_stats.requests[XS_WRITE], 2);
	assert_int_equal(fake_stats.requests[XS_SET_PERMS], 3);

	/* No keys: just the directory; a relative one lands in the home. */
	assert_int_equal(publish_kv(xs, "data/empty", NULL, 0, 3), 0);
	assert_string_equal(fake_perms(HOME "/data/empty"), "n5,r3");
	close_xs(xs);
}

static void test_publish_retry(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.end_eagain = 1;
	assert_int_equal(publish(xs, "data/p", "k", "v", 7), 0);
	assert_string_equal(fake_value(HOME "/data/p/k", NULL), "v");
	assert_int_equal(fake_stats.requests[XS_TRANSACTION_START], 2);
	assert_int_equal(fake_stats.commits, 2);
	assert_int_equal(fake_stats.aborts, 0);
	close_xs(xs);
}

static void test_publish_gives_up(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.end_eagain = 1000;
	errno = 0;
	assert_int_equal(publish(xs, "data/p", "k", "v", 7), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fake_stats.requests[XS_TRANSACTION_START], PUB_TRIES);
	assert_int_equal(fake_stats.commits, PUB_TRIES);
	assert_null(fake_value(HOME "/data/p", NULL));
	close_xs(xs);
}

static void test_publish_denied(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	errno = 0;
	assert_int_equal(publish(xs, "/local/domain/0/x", "k", "v", 7), -1);
	assert_int_equal(errno, EACCES);
	/* The transaction was abandoned, not left open. */
	assert_int_equal(fake_stats.aborts, 1);
	assert_int_equal(fake_stats.commits, 0);
	assert_null(fake_value("/local/domain/0/x", NULL));
	/* The ring still works. */
	assert_int_equal(publish(xs, "data/ok", "k", "v", 7), 0);
	close_xs(xs);
}

/* ---- messages larger than the ring ---- */

static void test_big_messages(void **state)
{
	vchan_xs *xs = open_xs();
	char *big = malloc(XS_VALUE_MAX + 1);
	size_t len = 0;
	char *v;

	(void)state;
	assert_non_null(big);
	memset(big, 'v', 4000);
	big[4000] = '\0';
	assert_int_equal(publish(xs, "data/big", "v", big, 7), 0);
	/* Both ways the ring (1024 bytes) was too small for one message. */
	assert_true(fake_stats.max_req > 4000);
	v = xs->ops->read(xs, "data/big/v", &len);
	assert_non_null(v);
	assert_int_equal(len, 4000);
	assert_memory_equal(v, big, 4000);
	assert_int_equal(v[4000], '\0');
	free(v);
	assert_true(fake_stats.max_rsp > 4000);

	/* More than a payload is refused before it is sent, and the
	 * transaction abandoned. */
	memset(big, 'w', XS_VALUE_MAX);
	big[XS_VALUE_MAX] = '\0';
	errno = 0;
	assert_int_equal(publish(xs, "data/big", "w", big, 7), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(fake_stats.requests[XS_WRITE], 1);
	assert_int_equal(fake_stats.aborts, 1);
	assert_null(fake_value(HOME "/data/big/w", NULL));
	free(big);
	close_xs(xs);
}

/* ---- watches ---- */

static void test_watch(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	expect_no_event(xs);
	assert_int_equal(watch(xs, HOME "/data/w", "tok"), 0);
	/* The server's own first event. */
	expect_event(xs, HOME "/data/w", "tok");
	expect_no_event(xs);

	fake_write(HOME "/data/w/x", "1");
	expect_event(xs, HOME "/data/w/x", "tok");
	expect_no_event(xs);
	fake_write(HOME "/data/other", "1");
	expect_no_event(xs);

	errno = 0;
	assert_int_equal(watch(xs, HOME "/data/w", "tok"), -1);
	assert_int_equal(errno, EEXIST);
	/* The failed duplicate did not take the first watch's events. */
	fake_write(HOME "/data/w/y", "1");
	expect_event(xs, HOME "/data/w/y", "tok");

	assert_int_equal(unwatch(xs, HOME "/data/w", "tok"), 0);
	fake_write(HOME "/data/w/z", "1");
	expect_no_event(xs);
	errno = 0;
	assert_int_equal(unwatch(xs, HOME "/data/w", "tok"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fake_watches(), 0);
	close_xs(xs);
}

static void test_watch_relative(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	assert_int_equal(watch(xs, "data/r", "t"), 0);
	expect_event(xs, "data/r", "t");
	fake_write(HOME "/data/r/k", "1");
	expect_event(xs, "data/r/k", "t");
	/* The other spelling of the path names the same watch. */
	assert_int_equal(unwatch(xs, HOME "/data/r", "t"), 0);
	assert_int_equal(fake_watches(), 0);
	close_xs(xs);
	/* ... and close knew the watch was gone. */
	assert_int_equal(fake_stats.requests[XS_UNWATCH], 1);
}

static void test_watch_event_before_reply(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.event_first = true;
	assert_int_equal(watch(xs, "data/e", "t"), 0);
	expect_event(xs, "data/e", "t");
	expect_no_event(xs);
	close_xs(xs);
}

static void test_unwatch_drops_queued(void **state)
{
	vchan_xs *xs = open_xs();
	int fd;

	(void)state;
	fd = xs->ops->fd(xs);
	assert_int_equal(watch(xs, "data/q", "a"), 0);
	assert_int_equal(watch(xs, "data/q2", "b"), 0);
	fake_write(HOME "/data/q/1", "1");
	fake_write(HOME "/data/q2/1", "1");
	assert_int_equal(fake_fd_ready(fd), 1);
	assert_int_equal(unwatch(xs, "data/q", "a"), 0);
	/* What "a" had queued is gone; "b" keeps its own. */
	expect_event(xs, "data/q2", "b");
	expect_event(xs, "data/q2/1", "b");
	expect_no_event(xs);
	close_xs(xs);
	assert_int_equal(fake_watches(), 0);
}

static void test_two_handles_same_token(void **state)
{
	vchan_xs *a = open_xs(), *b = open_xs(), *c;

	(void)state;
	assert_int_equal(watch(a, "data/a", "t"), 0);
	assert_int_equal(watch(b, "data/b", "t"), 0);
	expect_event(a, "data/a", "t");
	expect_no_event(a);
	expect_event(b, "data/b", "t");
	expect_no_event(b);

	fake_write(HOME "/data/a/1", "1");
	fake_write(HOME "/data/b/1", "1");
	expect_event(a, "data/a/1", "t");
	expect_no_event(a);
	expect_event(b, "data/b/1", "t");
	expect_no_event(b);

	/* Closing one handle takes its watch off the server, and the other
	 * handle keeps working on the shared ring. */
	close_xs(a);
	assert_int_equal(fake_watches(), 1);
	fake_write(HOME "/data/a/2", "1");
	fake_write(HOME "/data/b/2", "1");
	expect_event(b, "data/b/2", "t");
	expect_no_event(b);
	assert_int_equal(b->ops->domid(b), 5);
	close_xs(b);
	assert_int_equal(fake_watches(), 0);

	/* The last close freed the context; a new open makes another. */
	c = open_xs();
	assert_value(c, "domid", "5");
	close_xs(c);
}

static void test_fd(void **state)
{
	vchan_xs *a = open_xs(), *b = open_xs();
	uint32_t ports[2] = {0, 0};
	int fa, fb;

	(void)state;
	fa = a->ops->fd(a);
	fb = b->ops->fd(b);
	assert_true(fa >= 3);
	assert_true(fb >= 3);
	assert_int_not_equal(fa, fb);
	assert_int_equal(a->ops->fd(a), fa);
	assert_int_equal(fake_fd_ports(fa, ports, 2), 1);
	assert_int_equal(ports[0], FAKE_XS_PORT);
	assert_int_equal(fake_fd_ports(fa, ports, 0), 0);
	assert_int_equal(fake_fd_ready(fa), 0);

	assert_int_equal(watch(a, "data/f", "t"), 0);
	assert_int_equal(fake_fd_ready(fa), 1);
	assert_int_equal(fake_fd_ready(fb), 0);
	expect_event(a, "data/f", "t");
	assert_int_equal(fake_fd_ready(fa), 0);

	/* An event written while nobody looks: the port is pending; ready()
	 * takes the bit before reading the ring, and finds the event. */
	fake_write(HOME "/data/f/x", "1");
	assert_int_equal(uk_evtchn_pending(FAKE_XS_PORT), 1);
	assert_int_equal(fake_fd_ready(fb), 0);
	assert_int_equal(uk_evtchn_pending(FAKE_XS_PORT), 0);
	assert_int_equal(fake_fd_ready(fa), 1);
	expect_event(a, "data/f/x", "t");
	assert_int_equal(fake_fd_ready(fa), 0);
	close_xs(a);
	close_xs(b);
}

static void test_queue_bound(void **state)
{
	vchan_xs *xs = open_xs();
	char path[64], *p, *t;
	int fd, n = 0, r;

	(void)state;
	fd = xs->ops->fd(xs);
	assert_int_equal(watch(xs, "data/many", "t"), 0);
	expect_event(xs, "data/many", "t");
	for (int i = 0; i < QUEUE_MAX + 44; i++) {
		snprintf(path, sizeof(path), HOME "/data/many/%d", i);
		fake_write(path, "1");
	}
	/* Take in everything before reading any of it. */
	for (int i = 0; i < 1000 && fake_unsent() > 0; i++)
		assert_int_equal(fake_fd_ready(fd), 1);
	assert_int_equal(fake_unsent(), 0);
	assert_int_equal(fake_fd_ready(fd), 1);
	/* QUEUE_MAX events, then one that stands for the rest. */
	while ((r = xs->ops->read_watch(xs, &p, &t)) == 1) {
		if (++n == QUEUE_MAX + 1)
			assert_string_equal(p, "data/many");
		assert_string_equal(t, "t");
		free(p);
		free(t);
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, QUEUE_MAX + 1);
	assert_int_equal(fake_fd_ready(fd), 0);
	close_xs(xs);
}

/* ---- a server that misbehaves ---- */

static void test_error_names(void **state)
{
	static const struct {
		const char *name;
		int err;
	} cases[] = {
	    {"EQUOTA", EDQUOT}, {"EISCONN", EISCONN}, {"E2BIG", E2BIG},
	    {"EROFS", EROFS},	{"EBADNAME", EIO},
	};
	vchan_xs *xs = open_xs();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_cfg.bad = FAKE_ERROR_NAME;
		fake_cfg.bad_type = XS_READ;
		fake_cfg.error_name = cases[i].name;
		assert_read_fails(xs, "domid", cases[i].err);
	}
	assert_value(xs, "domid", "5");
	close_xs(xs);
}

/* After a break in the framing, everything fails with EIO: the call that
 * saw it, later calls, and the fd wakes its caller to see the error. */
static void assert_broken(vchan_xs *xs)
{
	char *p, *t;
	int fd = xs->ops->fd(xs);

	assert_read_fails(xs, "domid", EIO);
	errno = 0;
	assert_int_equal(xs->ops->read_watch(xs, &p, &t), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fake_fd_ready(fd), 1);
}

static void test_reply_too_long(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.bad = FAKE_BIG_LEN;
	fake_cfg.bad_type = XS_READ;
	assert_read_fails(xs, "domid", EIO);
	assert_broken(xs);
	close_xs(xs);
}

static void test_rsp_indexes(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.bad = FAKE_BAD_RSP_IDX;
	fake_cfg.bad_type = XS_READ;
	assert_read_fails(xs, "domid", EIO);
	assert_broken(xs);
	close_xs(xs);
}

static void test_req_indexes(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.bad = FAKE_BAD_REQ_IDX;
	fake_cfg.bad_type = XS_RM;
	assert_int_equal(xs->ops->rm(xs, "data/x"), 0);
	/* The next request finds req_prod - req_cons > 1024. */
	assert_broken(xs);
	close_xs(xs);
}

static void test_wrong_type(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.bad = FAKE_WRONG_TYPE;
	fake_cfg.bad_type = XS_READ;
	assert_read_fails(xs, "domid", EIO);
	/* The framing held: the next request works. */
	assert_value(xs, "domid", "5");
	close_xs(xs);
}

static void test_stale_reply(void **state)
{
	vchan_xs *xs = open_xs();

	(void)state;
	fake_cfg.bad = FAKE_STALE_ID;
	fake_cfg.bad_type = XS_READ;
	assert_value(xs, "domid", "5");
	close_xs(xs);
}

static void test_timeout(void **state)
{
	vchan_xs *xs = open_xs();
	uint64_t t0 = fake_clock();

	(void)state;
	fake_set(HOME "/data/a", "A", "n5");
	fake_set(HOME "/data/b", "B", "n5");
	fake_cfg.silent = true;
	assert_read_fails(xs, "data/a", ETIMEDOUT);
	assert_true(fake_clock() - t0 >= 30 * SEC);
	assert_true(fake_clock() - t0 < 31 * SEC);
	/* The late answer to "data/a" is not taken for the answer to the
	 * next request. */
	fake_cfg.silent = false;
	fake_release();
	assert_value(xs, "data/b", "B");
	close_xs(xs);
}

static void test_timeout_writing(void **state)
{
	vchan_xs *xs = open_xs();
	char path[2100];

	(void)state;
	/* A request longer than the ring, to a server that reads nothing:
	 * it stays half-written. */
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memcpy(path, HOME "/data/", strlen(HOME "/data/"));
	fake_cfg.stuck = true;
	assert_read_fails(xs, path, ETIMEDOUT);
	/* The server would take our next bytes for the rest of it. */
	assert_broken(xs);
	close_xs(xs);
}

static void test_server_gave_up(void **state)
{
	vchan_xs *xs = open_xs();
	uint64_t t0 = fake_clock();

	(void)state;
	fake_cfg.bad = FAKE_GAVE_UP;
	fake_cfg.bad_type = XS_READ;
	assert_read_fails(xs, "domid", EIO);
	/* Seen at once, without waiting out the deadline. */
	assert_true(fake_clock() - t0 < SEC);
	close_xs(xs);
}

static void test_close_silent(void **state)
{
	vchan_xs *xs = open_xs();
	uint64_t t0 = fake_clock();

	(void)state;
	assert_int_equal(watch(xs, "data/s1", "t"), 0);
	assert_int_equal(watch(xs, "data/s2", "t"), 0);
	fake_cfg.silent = true;
	close_xs(xs);
	/* One deadline, not one per watch. */
	assert_int_equal(fake_stats.requests[XS_UNWATCH], 1);
	assert_true(fake_clock() - t0 < 31 * SEC);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_domid),
	    T(test_domid_bad),
	    T(test_read_rm),
	    T(test_publish),
	    T(test_publish_retry),
	    T(test_publish_gives_up),
	    T(test_publish_denied),
	    T(test_big_messages),
	    T(test_watch),
	    T(test_watch_relative),
	    T(test_watch_event_before_reply),
	    T(test_unwatch_drops_queued),
	    T(test_two_handles_same_token),
	    T(test_fd),
	    T(test_queue_bound),
	    T(test_error_names),
	    T(test_reply_too_long),
	    T(test_rsp_indexes),
	    T(test_req_indexes),
	    T(test_wrong_type),
	    T(test_stale_reply),
	    T(test_timeout),
	    T(test_timeout_writing),
	    T(test_server_gave_up),
	    T(test_close_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
