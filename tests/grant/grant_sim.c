/* Grant and event channel behaviour of the sim backend, between processes
 * that play separate domains. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "grant/grant.h"
#include "grant/sim.h"
#include "tests/testutil.h"

#define SERVER	   1
#define CLIENT	   2
#define OTHER	   3
#define TIMEOUT_MS 60000

/* What a parent tells its child about a share. */
struct offer {
	uint32_t count;
	uint32_t writable;
	uint32_t port;
	uint32_t refs[VCHAN_GNT_MAX_PAGES];
};

struct ctx {
	struct tu_chan ch;
	struct offer offer;
	int arg;
};

static void set_domid(uint32_t d)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", d);
	setenv("VCHAN_DOMID", buf, 1);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(tu_chan_init(&c->ch), 0);
	set_domid(SERVER);
	*state = c;
	return 0;
}

/* For tests that kill a holder: its files stay for a while (sim.h). A
 * failed assert leaves the test's child running: it is ended here. */
static int teardown_killed(void **state)
{
	struct ctx *c = *state;
	int left = tu_reap_all();

	tu_chan_close(&c->ch);
	free(c);
	return left == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	int rc = teardown_killed(state);

	/* Every test closes what it opened: nothing may be left behind. */
	assert_int_equal(tu_sim_dir_entries(), 0);
	return rc;
}

static uint8_t pattern(uint32_t page, uint32_t i, uint8_t salt)
{
	return (uint8_t)(page * 31 + i * 7 + salt);
}

/* Child: map the offered pages, check the parent's pattern in the first half
 * of each page and write its own into the second half. */
static int child_map_and_write(void *arg)
{
	struct ctx *c = arg;
	struct offer o;
	vchan_gnt *g = vchan_gnt_open();
	uint8_t *p;

	if (g == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	p = vchan_gnt_map(g, SERVER, o.count, o.refs, 1, NULL);
	if (p == NULL)
		return 11;
	for (uint32_t pg = 0; pg < o.count; pg++) {
		uint8_t *page = p + (size_t)pg * VCHAN_PAGE_SIZE;

		for (uint32_t i = 0; i < VCHAN_PAGE_SIZE / 2; i++)
			if (page[i] != pattern(pg, i, 1))
				return 12;
		for (uint32_t i = VCHAN_PAGE_SIZE / 2; i < VCHAN_PAGE_SIZE; i++)
			page[i] = pattern(pg, i, 2);
	}
	if (tu_send(&c->ch, 1, "k", 1) < 0 ||
	    tu_recv(&c->ch, 1, &o.count, 1) < 0)
		return 13;
	if (vchan_gnt_unmap(g, p, o.count) < 0 || vchan_gnt_close(g) < 0)
		return 14;
	return 0;
}

static void share_pages(struct ctx *c, uint32_t count)
{
	vchan_gnt *g;
	uint8_t *p;
	char k;
	pid_t pid;

	pid = tu_spawn(CLIENT, child_map_and_write, c);
	assert_true(pid > 0);
	g = vchan_gnt_open();
	assert_non_null(g);
	c->offer.count = count;
	p = vchan_gnt_share(g, CLIENT, count, c->offer.refs, 1, NULL);
	assert_non_null(p);
	for (uint32_t pg = 0; pg < count; pg++) {
		assert_int_not_equal(c->offer.refs[pg], 0);
		for (uint32_t i = 0; i < VCHAN_PAGE_SIZE; i++)
			assert_int_equal(p[(size_t)pg * VCHAN_PAGE_SIZE + i],
					 0);
		for (uint32_t i = 0; i < VCHAN_PAGE_SIZE / 2; i++)
			p[(size_t)pg * VCHAN_PAGE_SIZE + i] = pattern(pg, i, 1);
	}
	assert_true(pid > 0);
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_recv(&c->ch, 0, &k, 1), 0);
	for (uint32_t pg = 0; pg < count; pg++)
		for (uint32_t i = VCHAN_PAGE_SIZE / 2; i < VCHAN_PAGE_SIZE; i++)
			assert_int_equal(p[(size_t)pg * VCHAN_PAGE_SIZE + i],
					 pattern(pg, i, 2));
	assert_int_equal(tu_send(&c->ch, 0, &c->offer.count, 1), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	assert_int_equal(vchan_gnt_unshare(g, p, count), 0);
	assert_int_equal(vchan_gnt_close(g), 0);
}

static void test_share_1(void **state)
{
	share_pages(*state, 1);
}
static void test_share_2(void **state)
{
	share_pages(*state, 2);
}
static void test_share_17(void **state)
{
	share_pages(*state, 17);
}
static void test_share_256(void **state)
{
	share_pages(*state, 256);
}

/* Child of test_readonly: RO maps work, writes do not. */
static int child_readonly(void *arg)
{
	struct ctx *c = arg;
	struct offer o;
	vchan_gnt *g = vchan_gnt_open();
	uint8_t *p;
	int pfd[2];

	if (g == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	errno = 0;
	if (vchan_gnt_map(g, SERVER, o.count, o.refs, 1, NULL) != NULL ||
	    errno != EPERM)
		return 11;
	p = vchan_gnt_map(g, SERVER, o.count, o.refs, 0, NULL);
	if (p == NULL || p[0] != 0xab)
		return 12;
	if (mprotect(p, VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE) == 0)
		return 13;
	/* The kernel itself refuses to store into the page: a read() into it
	 * fails with EFAULT (a plain store would die with SIGSEGV). */
	if (pipe(pfd) < 0 || write(pfd[1], "x", 1) != 1)
		return 14;
	errno = 0;
	if (read(pfd[0], p, 1) != -1 || errno != EFAULT || p[0] != 0xab)
		return 16;
	close(pfd[0]);
	close(pfd[1]);
	if (vchan_gnt_unmap(g, p, o.count) < 0)
		return 15;
	vchan_gnt_close(g);
	return 0;
}

static void test_readonly(void **state)
{
	struct ctx *c = *state;
	vchan_gnt *g;
	uint8_t *p;
	pid_t pid;

	pid = tu_spawn(CLIENT, child_readonly, c);
	assert_true(pid > 0);
	g = vchan_gnt_open();
	assert_non_null(g);
	c->offer.count = 1;
	p = vchan_gnt_share(g, CLIENT, 1, c->offer.refs, 0, NULL);
	assert_non_null(p);
	p[0] = 0xab;
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	assert_int_equal(p[0], 0xab);
	assert_int_equal(vchan_gnt_unshare(g, p, 1), 0);
	vchan_gnt_close(g);
}

/* Child of test_third_domain: neither RO nor RW maps are allowed. */
static int child_foreign(void *arg)
{
	struct ctx *c = arg;
	struct offer o;
	vchan_gnt *g = vchan_gnt_open();
	int ok;

	if (g == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	errno = 0;
	ok = vchan_gnt_map(g, SERVER, o.count, o.refs, 0, NULL) == NULL &&
	     errno == EPERM;
	errno = 0;
	ok = ok && vchan_gnt_map(g, SERVER, o.count, o.refs, 1, NULL) == NULL &&
	     errno == EPERM;
	vchan_gnt_close(g);
	return ok ? 0 : 11;
}

static void test_third_domain(void **state)
{
	struct ctx *c = *state;
	vchan_gnt *g;
	void *p;
	pid_t pid;

	pid = tu_spawn(OTHER, child_foreign, c);
	assert_true(pid > 0);
	g = vchan_gnt_open();
	assert_non_null(g);
	c->offer.count = 3;
	p = vchan_gnt_share(g, CLIENT, 3, c->offer.refs, 1, NULL);
	assert_non_null(p);
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	assert_int_equal(vchan_gnt_unshare(g, p, 3), 0);
	vchan_gnt_close(g);
}

static void test_bad_arguments(void **state)
{
	vchan_gnt *g = vchan_gnt_open();
	vchan_evt *e = vchan_evt_open();
	uint32_t refs[VCHAN_GNT_MAX_PAGES + 1] = {0};
	struct vchan_unmap_notify n = {NULL, 0, 20};
	char *p;
	int port;

	(void)state;
	assert_non_null(g);
	assert_non_null(e);
	errno = 0;
	assert_null(vchan_gnt_share(g, CLIENT, 0, refs, 1, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(
	    vchan_gnt_share(g, CLIENT, VCHAN_GNT_MAX_PAGES + 1, refs, 1, NULL));
	assert_null(vchan_gnt_share(g, CLIENT, 1, NULL, 1, NULL));
	assert_null(vchan_gnt_share(NULL, CLIENT, 1, refs, 1, NULL));
	/* notify: one page only, offset inside it, a writable page to clear */
	assert_null(vchan_gnt_share(g, CLIENT, 2, refs, 1, &n));
	n.offset = VCHAN_PAGE_SIZE;
	assert_null(vchan_gnt_share(g, CLIENT, 1, refs, 1, &n));
	n.offset = 20;
	assert_null(vchan_gnt_map(g, SERVER, 1, refs, 0, &n));
	assert_int_equal(errno, EINVAL);
	/* an unknown port of the event handle */
	n.evt = e;
	n.port = 12345;
	assert_null(vchan_gnt_share(g, CLIENT, 1, refs, 1, &n));
	assert_int_equal(errno, EINVAL);
	n.offset = VCHAN_NOTIFY_NO_BYTE;
	errno = 0;
	assert_null(vchan_gnt_share(g, CLIENT, 1, refs, 1, &n));
	assert_int_equal(errno, EINVAL);
	n.offset = 20;
	/* references that name nothing */
	refs[0] = 0;
	errno = 0;
	assert_null(vchan_gnt_map(g, SERVER, 1, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);
	refs[0] = 0x7fffff00;
	assert_null(vchan_gnt_map(g, SERVER, 1, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);
	/* a reference past the end of its share */
	p = vchan_gnt_share(g, SERVER, 2, refs, 1, NULL);
	assert_non_null(p);
	refs[2] = refs[1] + 1;
	assert_null(vchan_gnt_map(g, SERVER, 3, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);
	/* unshare/unmap only what was given */
	assert_int_equal(vchan_gnt_unshare(g, p + VCHAN_PAGE_SIZE, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vchan_gnt_unshare(g, p, 1), -1);
	assert_int_equal(vchan_gnt_unmap(g, p, 2), -1);
	assert_int_equal(vchan_gnt_unshare(g, p, 2), 0);
	/* events */
	assert_int_equal(vchan_evt_notify(e, 999), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vchan_evt_unbind(e, 999), -1);
	assert_int_equal(vchan_evt_bind(e, CLIENT, 4242), -1);
	assert_int_equal(errno, EINVAL);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	/* notify of a port nobody bound yet is dropped, as on Xen */
	assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(vchan_evt_unbind(e, (uint32_t)port), 0);
	assert_int_equal(vchan_evt_close(e), 0);
	assert_int_equal(vchan_gnt_close(g), 0);
	/* The close functions accept NULL, as vchan_close and vchan_xs_close
	 * do. */
	errno = 0;
	assert_int_equal(vchan_gnt_close(NULL), 0);
	assert_int_equal(vchan_evt_close(NULL), 0);
	assert_int_equal(errno, 0);
}

static void test_environment(void **state)
{
	char *dir = getenv("VCHAN_SIM_DIR");
	char saved[512], sub[600];

	(void)state;
	assert_non_null(dir);
	snprintf(saved, sizeof(saved), "%s", dir);
	setenv("VCHAN_PLATFORM", "kvm", 1);
	errno = 0;
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, EINVAL);
	assert_null(vchan_evt_open());
	assert_int_equal(vchan_backend_select(), -1);
	setenv("VCHAN_PLATFORM", "sim", 1);
	assert_int_equal(vchan_backend_select(), VCHAN_BACKEND_SIM);
	setenv("VCHAN_DOMID", "two", 1);
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, EINVAL);
	setenv("VCHAN_DOMID", "40000", 1);
	assert_null(vchan_evt_open());
	assert_int_equal(errno, EINVAL);
	set_domid(SERVER);
	setenv("VCHAN_SIM_DIR", "relative/dir", 1);
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, EINVAL);
	/* a directory others can read is refused */
	snprintf(sub, sizeof(sub), "%s/open", saved);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(chmod(sub, 0755), 0);
	setenv("VCHAN_SIM_DIR", sub, 1);
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, EPERM);
	/* a missing one is refused, and never created */
	snprintf(sub, sizeof(sub), "%s/new/deeper", saved);
	setenv("VCHAN_SIM_DIR", sub, 1);
	errno = 0;
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, ENOENT);
	assert_null(vchan_evt_open());
	assert_int_equal(errno, ENOENT);
	snprintf(sub, sizeof(sub), "%s/new", saved);
	assert_int_equal(access(sub, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	/* one that exists, private, is taken as it is */
	assert_int_equal(mkdir(sub, 0700), 0);
	setenv("VCHAN_SIM_DIR", sub, 1);
	vchan_gnt *g = vchan_gnt_open();
	assert_non_null(g);
	vchan_gnt_close(g);
	setenv("VCHAN_SIM_DIR", saved, 1);
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/open", saved);
	assert_int_equal(rmdir(sub), 0);
}

/* Wait for one event on e (at most 10 s); returns its port or -1. */
static int wait_event(vchan_evt *e)
{
	for (;;) {
		int port = vchan_evt_pending(e);

		if (port != 0)
			return port;
		if (tu_readable(vchan_evt_fd(e), 10000) != 1)
			return -1;
	}
}

/* A counter the other side bumps: ping at 0, pong at 64 (own cache lines). */
static volatile uint32_t *slot(void *page, int which)
{
	return (volatile uint32_t *)((char *)page + which * 64);
}

/* Wait (by events only) until *v == want; a lost wake-up times out. */
static int await_value(vchan_evt *e, volatile uint32_t *v, uint32_t want)
{
	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) != want)
		if (wait_event(e) < 0)
			return -1;
	return 0;
}

static int child_pingpong(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e = vchan_evt_open();
	vchan_gnt *g = vchan_gnt_open();
	struct offer o;
	void *page;
	int local;

	if (e == NULL || g == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	page = vchan_gnt_map(g, SERVER, 1, o.refs, 1, NULL);
	local = vchan_evt_bind(e, SERVER, o.port);
	if (page == NULL || local <= 0 || tu_send(&c->ch, 1, "b", 1) < 0)
		return 11;
	for (uint32_t i = 1; i <= (uint32_t)c->arg; i++) {
		if (await_value(e, slot(page, 0), i) < 0)
			return 12;
		__atomic_store_n(slot(page, 1), i, __ATOMIC_RELEASE);
		if (vchan_evt_notify(e, (uint32_t)local) < 0)
			return 13;
	}
	vchan_gnt_unmap(g, page, 1);
	vchan_gnt_close(g);
	vchan_evt_close(e);
	return 0;
}

static void test_pingpong(void **state)
{
	struct ctx *c = *state;
	vchan_evt *e;
	vchan_gnt *g;
	int64_t t0;
	void *page;
	char b;
	int port;
	pid_t pid;

	c->arg = tu_quick() ? 2000 : 100000;
	pid = tu_spawn(CLIENT, child_pingpong, c);
	assert_true(pid > 0);
	e = vchan_evt_open();
	g = vchan_gnt_open();
	assert_non_null(e);
	assert_non_null(g);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	page = vchan_gnt_share(g, CLIENT, 1, c->offer.refs, 1, NULL);
	assert_non_null(page);
	c->offer.count = 1;
	c->offer.port = (uint32_t)port;
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_recv(&c->ch, 0, &b, 1), 0);
	t0 = tu_now_us();
	for (uint32_t i = 1; i <= (uint32_t)c->arg; i++) {
		__atomic_store_n(slot(page, 0), i, __ATOMIC_RELEASE);
		assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
		assert_int_equal(await_value(e, slot(page, 1), i), 0);
	}
	print_message("%d event round trips in %.2f s\n", c->arg,
		      (double)(tu_now_us() - t0) / 1e6);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS * 3), 0);
	assert_int_equal(vchan_gnt_unshare(g, page, 1), 0);
	assert_int_equal(vchan_gnt_close(g), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* A child's start: open an event handle and bind to the port the parent
 * offers. Returns the local port, or 0 (the handle, if any, is left for
 * the child's exit to close). */
static int bind_offer(struct ctx *c, vchan_evt **e)
{
	struct offer o;
	int local;

	*e = vchan_evt_open();
	if (*e == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 0;
	local = vchan_evt_bind(*e, SERVER, o.port);
	return local > 0 ? local : 0;
}

/* Child of test_coalescing: bind, notify many times, report, repeat once. */
static int child_notify_burst(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e;
	char b;
	int local = bind_offer(c, &e);

	if (local <= 0)
		return 10;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++)
			if (vchan_evt_notify(e, (uint32_t)local) < 0)
				return 12;
		if (tu_send(&c->ch, 1, "n", 1) < 0 ||
		    tu_recv(&c->ch, 1, &b, 1) < 0)
			return 13;
	}
	vchan_evt_close(e);
	return 0;
}

static void test_coalescing(void **state)
{
	struct ctx *c = *state;
	vchan_evt *e;
	char b;
	int port;
	pid_t pid;

	pid = tu_spawn(CLIENT, child_notify_burst, c);
	assert_true(pid > 0);
	e = vchan_evt_open();
	assert_non_null(e);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	c->offer.port = (uint32_t)port;
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(tu_recv(&c->ch, 0, &b, 1), 0);
		/* 1000 notifies read as one event, then nothing */
		assert_int_equal(tu_readable(vchan_evt_fd(e), 5000), 1);
		assert_int_equal(vchan_evt_pending(e), port);
		assert_int_equal(vchan_evt_pending(e), 0);
		assert_int_equal(tu_readable(vchan_evt_fd(e), 0), 0);
		assert_int_equal(tu_send(&c->ch, 0, "g", 1), 0);
	}
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	/* the peer closed: one event for that, then the port stays quiet */
	assert_int_equal(wait_event(e), port);
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* Child of the death tests. c->arg: 0 map with notify (the client's side of
 * a vchan: clears byte 20), 1 share with notify (the server's: byte 21).
 * It then waits to be killed, or unmaps cleanly when told to. */
static int child_holder(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e = vchan_evt_open();
	vchan_gnt *g = vchan_gnt_open();
	struct vchan_unmap_notify n;
	struct offer o;
	uint8_t *page;
	char b;
	int local;

	if (e == NULL || g == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	local = vchan_evt_bind(e, SERVER, o.port);
	if (local <= 0)
		return 11;
	n = (struct vchan_unmap_notify){e, (uint32_t)local, c->arg ? 21 : 20};
	if (c->arg == 0)
		page = vchan_gnt_map(g, SERVER, 1, o.refs, 1, &n);
	else
		page = vchan_gnt_share(g, SERVER, 1, o.refs, 1, &n);
	if (page == NULL)
		return 12;
	page[n.offset] = 1;
	if (tu_send(&c->ch, 1, &o, sizeof(o)) < 0 ||
	    tu_recv(&c->ch, 1, &b, 1) < 0)
		return 13;
	if (c->arg == 0 ? vchan_gnt_unmap(g, page, 1)
			: vchan_gnt_unshare(g, page, 1))
		return 14;
	if (tu_send(&c->ch, 1, "u", 1) < 0 || tu_recv(&c->ch, 1, &b, 1) < 0)
		return 15;
	vchan_gnt_close(g);
	vchan_evt_close(e);
	return 0;
}

/* The holder goes away (SIGKILL when kill_it, else a clean unmap): the byte
 * must read 0 and the event arrive within 100 ms. */
static void holder_goes(struct ctx *c, int share_side, int kill_it)
{
	vchan_evt *e;
	vchan_gnt *g;
	volatile uint8_t *page;
	uint32_t off = share_side ? 21 : 20;
	int64_t t0, waited;
	int port;
	pid_t pid;
	char b;

	c->arg = share_side;
	pid = tu_spawn(CLIENT, child_holder, c);
	assert_true(pid > 0);
	e = vchan_evt_open();
	g = vchan_gnt_open();
	assert_non_null(e);
	assert_non_null(g);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	c->offer.port = (uint32_t)port;
	if (!share_side) {
		page = vchan_gnt_share(g, CLIENT, 1, c->offer.refs, 1, NULL);
		assert_non_null(page);
	}
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_recv(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	if (share_side) {
		page = vchan_gnt_map(g, CLIENT, 1, c->offer.refs, 1, NULL);
		assert_non_null(page);
	}
	assert_int_equal(page[off], 1);
	while (vchan_evt_pending(e) > 0)
		;
	t0 = tu_now_us();
	/* Not tu_kill: the event must come before the child is reaped. */
	if (kill_it)
		assert_int_equal(kill(pid, SIGKILL), 0);
	else
		assert_int_equal(tu_send(&c->ch, 0, "u", 1), 0);
	assert_int_equal(tu_readable(vchan_evt_fd(e), tu_ms(100)), 1);
	assert_int_equal(vchan_evt_pending(e), port);
	waited = tu_now_us() - t0;
	assert_int_equal(page[off], 0);
	print_message("%s %s: byte cleared, event after %lld us\n",
		      share_side ? "sharer" : "mapper",
		      kill_it ? "killed" : "unmapped", (long long)waited);
	if (kill_it) {
		assert_int_equal(tu_wait(pid, TIMEOUT_MS), 128 + SIGKILL);
	} else {
		assert_int_equal(tu_recv(&c->ch, 0, &b, 1), 0);
		assert_int_equal(tu_send(&c->ch, 0, "x", 1), 0);
		assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	}
	if (share_side)
		assert_int_equal(vchan_gnt_unmap(g, (void *)page, 1), 0);
	else
		assert_int_equal(vchan_gnt_unshare(g, (void *)page, 1), 0);
	assert_int_equal(vchan_gnt_close(g), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

static void test_mapper_killed(void **state)
{
	holder_goes(*state, 0, 1);
}
static void test_sharer_killed(void **state)
{
	holder_goes(*state, 1, 1);
}
static void test_mapper_unmaps(void **state)
{
	holder_goes(*state, 0, 0);
}
static void test_sharer_unshares(void **state)
{
	holder_goes(*state, 1, 0);
}

static int child_bind_foreign(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e = vchan_evt_open();
	struct offer o;
	int r;

	if (e == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	errno = 0;
	r = vchan_evt_bind(e, SERVER, o.port) == -1 && errno == EPERM ? 0 : 11;
	vchan_evt_close(e);
	return r;
}

static void test_bind_foreign(void **state)
{
	struct ctx *c = *state;
	vchan_evt *e;
	pid_t pid;
	int port;

	pid = tu_spawn(OTHER, child_bind_foreign, c);
	assert_true(pid > 0);
	e = vchan_evt_open();
	assert_non_null(e);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	c->offer.port = (uint32_t)port;
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* Child of test_rebind: bind, notify, wait for the parent's event, then
 * close (arg 0) or die (arg 1). */
static int child_bind_once(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e;
	int local = bind_offer(c, &e);

	if (local <= 0)
		return 10;
	if (vchan_evt_notify(e, (uint32_t)local) < 0)
		return 12;
	if (wait_event(e) != local)
		return 13;
	if (c->arg)
		raise(SIGKILL);
	return vchan_evt_close(e) < 0 ? 14 : 0;
}

/* As on Xen, the end we allocated unbound becomes unbound again when its
 * binder leaves, cleanly or killed: the next binder gets the port, and
 * events flow both ways with it. */
static void test_rebind(void **state)
{
	struct ctx *c = *state;
	vchan_evt *e = vchan_evt_open();
	int port;

	assert_non_null(e);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	c->offer.port = (uint32_t)port;
	for (int round = 0; round < 3; round++) {
		int st;
		pid_t pid;

		c->arg = round == 1; /* the second binder is killed */
		pid = tu_spawn(CLIENT, child_bind_once, c);
		assert_true(pid > 0);
		assert_int_equal(
		    tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
		assert_int_equal(wait_event(e), port);
		assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
		st = tu_wait(pid, TIMEOUT_MS);
		assert_int_equal(st, round == 1 ? 128 + SIGKILL : 0);
		/* Its leaving is an event too; then the port is free. */
		assert_int_equal(wait_event(e), port);
	}
	assert_int_equal(vchan_evt_close(e), 0);
}

/* Child of test_wait: bind, answer c->arg events with events (sleeping
 * in vchan_evt_wait), then send a burst when told to, twice, and leave
 * when told to. */
static int child_wait(void *arg)
{
	struct ctx *c = arg;
	vchan_evt *e;
	char b;
	int local = bind_offer(c, &e);

	if (local <= 0 || tu_send(&c->ch, 1, "b", 1) < 0)
		return 10;
	for (int i = 0; i < c->arg; i++)
		if (vchan_evt_wait(e) != local ||
		    vchan_evt_notify(e, (uint32_t)local) < 0)
			return 12;
	for (int round = 0; round < 2; round++) {
		if (tu_recv(&c->ch, 1, &b, 1) < 0)
			return 13;
		for (int i = 0; i < 1000; i++)
			if (vchan_evt_notify(e, (uint32_t)local) < 0)
				return 14;
		if (tu_send(&c->ch, 1, "n", 1) < 0)
			return 15;
	}
	if (tu_recv(&c->ch, 1, &b, 1) < 0)
		return 16;
	vchan_evt_close(e);
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* vchan_evt_wait: events both ways with no lost wake-up, a burst consumed
 * as one event, a signal ends the wait even with SA_RESTART, the peer's
 * leaving is an event; on a handle with two ports it polls instead, with
 * the same results. */
static void test_wait(void **state)
{
	struct ctx *c = *state;
	struct sigaction sa, old;
	struct itimerval it = {{0, 0}, {0, 50000}};
	vchan_evt *e = vchan_evt_open();
	int port, other;
	pid_t pid;
	char b;

	assert_non_null(e);
	assert_int_equal(vchan_evt_wait(NULL), -1);
	assert_int_equal(errno, EINVAL);
	c->arg = tu_quick() ? 1000 : 20000;
	pid = tu_spawn(CLIENT, child_wait, c);
	assert_true(pid > 0);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	c->offer.port = (uint32_t)port;
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_recv(&c->ch, 0, &b, 1), 0);
	/* The binder's hello may still be unread: the first wait polls. */
	for (int i = 0; i < c->arg; i++) {
		assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
		assert_int_equal(vchan_evt_wait(e), port);
	}
	assert_int_equal(vchan_evt_pending(e), 0);
	/* A signal whose handler asks for restarts still ends the wait. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	errno = 0;
	assert_int_equal(vchan_evt_wait(e), -1);
	assert_int_equal(errno, EINTR);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	for (int round = 0; round < 2; round++) {
		/* The second round waits on a handle of two ports. */
		if (round == 1) {
			other = vchan_evt_alloc_unbound(e, OTHER);
			assert_true(other > 0);
		}
		assert_int_equal(tu_send(&c->ch, 0, "g", 1), 0);
		assert_int_equal(tu_recv(&c->ch, 0, &b, 1), 0);
		/* 1000 notifies are one event, then nothing */
		assert_int_equal(vchan_evt_wait(e), port);
		assert_int_equal(vchan_evt_pending(e), 0);
	}
	assert_int_equal(tu_send(&c->ch, 0, "q", 1), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	/* the peer closed: one event for that */
	assert_int_equal(vchan_evt_wait(e), port);
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* A killed process's files stay behind for a while; they never stop the
 * next run from working. */
static void test_stale_state(void **state)
{
	struct ctx *c = *state;

	holder_goes(c, 1, 1);
	share_pages(c, 2);
	holder_goes(c, 0, 1);
	share_pages(c, 1);
}

/* Shrink to nothing every file of the simulator's directory whose name
 * starts with `prefix`, as any process of the simulated host can. Returns
 * how many shrank. */
static int truncate_sim_files(const char *prefix)
{
	const char *dir = getenv("VCHAN_SIM_DIR");
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ftruncate(fd, 0) == 0)
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}

/* Shrink to nothing every memfd process `pid` holds, reopened through
 * /proc (its link reads "/memfd:NAME (deleted)"). Only memfds: the
 * process's other files include the test's log. Returns how many shrank. */
static int truncate_memfds(pid_t pid)
{
	char path[64], link[256];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		ssize_t len =
		    readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		int fd;

		if (len < 7 || strncmp(link, "/memfd:", 7) != 0)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ftruncate(fd, 0) == 0)
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}

/* Child of the truncation tests: the honest side, domain CLIENT. c->arg 1:
 * it maps the parent's pages, 0: it shares pages with the parent; either
 * way it binds the parent's port. Once the parent has done its worst, it
 * reads and writes every byte and exchanges an event each way. */
static int child_honest(void *arg)
{
	struct ctx *c = arg;
	vchan_gnt *g = vchan_gnt_open();
	vchan_evt *e = vchan_evt_open();
	const size_t half = VCHAN_PAGE_SIZE / 2;
	struct offer o;
	uint8_t *p;
	char b;
	int local;

	/* The test runner's handler is inherited: a SIGBUS must kill this
	 * process, as it would kill any program, for the parent to see it. */
	signal(SIGBUS, SIG_DFL);
	if (g == NULL || e == NULL || tu_recv(&c->ch, 1, &o, sizeof(o)) < 0)
		return 10;
	local = vchan_evt_bind(e, SERVER, o.port);
	p = c->arg ? vchan_gnt_map(g, SERVER, o.count, o.refs, 1, NULL)
		   : vchan_gnt_share(g, SERVER, o.count, o.refs, 1, NULL);
	if (local <= 0 || p == NULL)
		return 11;
	if (tu_send(&c->ch, 1, &o, sizeof(o)) < 0 ||
	    tu_recv(&c->ch, 1, &b, 1) < 0)
		return 12;
	for (uint32_t pg = 0; pg < o.count; pg++) {
		uint8_t *page = p + (size_t)pg * VCHAN_PAGE_SIZE;

		for (uint32_t i = 0; i < half; i++)
			if (page[i] != pattern(pg, i, 1))
				return 13;
		for (uint32_t i = half; i < VCHAN_PAGE_SIZE; i++)
			page[i] = pattern(pg, i, 2);
	}
	if (vchan_evt_notify(e, (uint32_t)local) < 0 ||
	    tu_send(&c->ch, 1, "w", 1) < 0)
		return 14;
	if (wait_event(e) != local)
		return 15;
	if ((c->arg ? vchan_gnt_unmap(g, p, o.count)
		    : vchan_gnt_unshare(g, p, o.count)) < 0)
		return 16;
	vchan_gnt_close(g);
	vchan_evt_close(e);
	return 0;
}

/* A hostile domain shrinks everything it can reach that backs the pages
 * it shares (parent_shares) or maps, and the pending bits of the event
 * channel between them: the simulator's files, its own memfds and the
 * honest child's. The child must not die (SIGBUS, before sealed pages):
 * its data stays, and events still flow both ways. */
static void truncating_peer(struct ctx *c, int parent_shares)
{
	const uint32_t count = 4;
	const size_t half = VCHAN_PAGE_SIZE / 2;
	vchan_evt *e = vchan_evt_open();
	vchan_gnt *g = vchan_gnt_open();
	uint8_t *p = NULL;
	int port, shrank;
	pid_t pid;
	char b;

	assert_non_null(e);
	assert_non_null(g);
	c->arg = parent_shares;
	pid = tu_spawn(CLIENT, child_honest, c);
	assert_true(pid > 0);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	c->offer.count = count;
	c->offer.port = (uint32_t)port;
	if (parent_shares) {
		p = vchan_gnt_share(g, CLIENT, count, c->offer.refs, 1, NULL);
		assert_non_null(p);
	}
	assert_int_equal(tu_send(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	assert_int_equal(tu_recv(&c->ch, 0, &c->offer, sizeof(c->offer)), 0);
	if (!parent_shares) {
		p = vchan_gnt_map(g, CLIENT, count, c->offer.refs, 1, NULL);
		assert_non_null(p);
	}
	for (uint32_t pg = 0; pg < count; pg++)
		for (uint32_t i = 0; i < half; i++)
			p[(size_t)pg * VCHAN_PAGE_SIZE + i] = pattern(pg, i, 1);
	/* The child has bound: take its hello before the attack. */
	while (vchan_evt_pending(e) > 0)
		;
	shrank = truncate_sim_files("g.") + truncate_memfds(getpid()) +
		 truncate_memfds(pid);
	print_message("%s: the hostile side shrank %d files\n",
		      parent_shares ? "sharer" : "mapper", shrank);
	assert_int_equal(tu_send(&c->ch, 0, "t", 1), 0);
	if (tu_recv(&c->ch, 0, &b, 1) < 0) {
		/* No word from the child: say how it ended. */
		assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
		fail_msg("the honest side went silent");
	}
	assert_int_equal(wait_event(e), port);
	for (uint32_t pg = 0; pg < count; pg++) {
		const uint8_t *page = p + (size_t)pg * VCHAN_PAGE_SIZE;

		for (uint32_t i = 0; i < half; i++)
			assert_int_equal(page[i], pattern(pg, i, 1));
		for (uint32_t i = half; i < VCHAN_PAGE_SIZE; i++)
			assert_int_equal(page[i], pattern(pg, i, 2));
	}
	assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	if (parent_shares)
		assert_int_equal(vchan_gnt_unshare(g, p, count), 0);
	else
		assert_int_equal(vchan_gnt_unmap(g, p, count), 0);
	assert_int_equal(vchan_gnt_close(g), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

static void test_truncating_sharer(void **state)
{
	truncating_peer(*state, 1);
}
static void test_truncating_mapper(void **state)
{
	truncating_peer(*state, 0);
}

/* Connect to the listening socket of port `port` of domain `dom` as a
 * binder does, saying nothing yet. Returns the socket or -1. */
static int rogue_connect(uint32_t dom, uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int dfd =
	    open(getenv("VCHAN_SIM_DIR"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (dfd < 0 || fd < 0)
		goto fail;
	/* Through the directory's fd: sun_path is short. */
	snprintf(a.sun_path, sizeof(a.sun_path),
		 "/proc/self/fd/%d/e.%u.%u.sock", dfd, dom, port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	close(dfd);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return -1;
}

/* Say hello as domain CLIENT's port 4242 would, with `memfd` as the
 * pending-bits page. Returns 0 or -1. */
static int rogue_hello(int fd, int memfd)
{
	struct sim_hello hi = {SIM_PORT_MAGIC, SIM_HELLO_VERSION, CLIENT, 4242};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {&hi, sizeof(hi)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf)};
	struct cmsghdr *cm;

	memset(&cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == sizeof(hi) ? 0 : -1;
}

/* A client that connects to a port's socket and never says hello must not
 * stall the port's holder: notifies return at once (they waited up to 1 s
 * each), the events wait for the hello as one pending event, as Xen's
 * pending bit keeps them, and the port works once the hello comes. */
static void test_silent_binder(void **state)
{
	const int kicks = 10;
	vchan_evt *e = vchan_evt_open();
	_Atomic uint32_t *bits;
	int64_t t0, took;
	int port, fd, memfd;
	char b;

	(void)state;
	assert_non_null(e);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	fd = rogue_connect(SERVER, (uint32_t)port);
	assert_true(fd >= 0);
	/* The port takes the connection and waits for its hello. */
	assert_int_equal(vchan_evt_pending(e), 0);
	t0 = tu_now_us();
	for (int i = 0; i < kicks; i++)
		assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
	took = tu_now_us() - t0;
	print_message("%d notifies before the hello took %lld us\n", kicks,
		      (long long)took);
	/* A bound on behaviour, not speed: each notify used to wait 1 s. */
	assert_true(took < 2000000);
	memfd = memfd_create("rogue-bits", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, VCHAN_PAGE_SIZE), 0);
	assert_int_equal(fcntl(memfd, F_ADD_SEALS,
			       F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 0);
	bits = mmap(NULL, VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    memfd, 0);
	assert_true(bits != MAP_FAILED);
	assert_int_equal(rogue_hello(fd, memfd), 0);
	close(memfd);
	/* The hello is taken: the kicks before it are one event now. */
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(tu_readable(fd, 5000), 1);
	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), 1);
	assert_int_equal(atomic_exchange(&bits[1], 0), 1);
	assert_int_equal(tu_readable(fd, 0), 0);
	/* An event the other way. */
	atomic_store(&bits[0], 1);
	assert_int_equal(send(fd, "n", 1, MSG_NOSIGNAL), 1);
	assert_int_equal(wait_event(e), port);
	assert_int_equal(vchan_evt_pending(e), 0);
	/* It leaves: an event, and the port waits for a binder again. */
	close(fd);
	assert_int_equal(wait_event(e), port);
	fd = rogue_connect(SERVER, (uint32_t)port);
	assert_true(fd >= 0);
	close(fd);
	munmap((void *)bits, VCHAN_PAGE_SIZE);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* A binder whose pending-bits page could shrink is refused: the holder of
 * the port would die with SIGBUS at its next notify once it shrank. */
static void test_unsealed_bits(void **state)
{
	vchan_evt *e = vchan_evt_open();
	int port, fd, memfd;
	char b;

	(void)state;
	assert_non_null(e);
	port = vchan_evt_alloc_unbound(e, CLIENT);
	assert_true(port > 0);
	fd = rogue_connect(SERVER, (uint32_t)port);
	assert_true(fd >= 0);
	memfd = memfd_create("rogue-bits", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, VCHAN_PAGE_SIZE), 0);
	assert_int_equal(rogue_hello(fd, memfd), 0);
	assert_int_equal(ftruncate(memfd, 0), 0);
	close(memfd);
	/* The notify takes the hello and refuses it: the event is dropped,
	 * and the binder's leaving is one. */
	assert_int_equal(vchan_evt_notify(e, (uint32_t)port), 0);
	assert_int_equal(vchan_evt_pending(e), port);
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(tu_readable(fd, 5000), 1);
	assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), 0);
	close(fd);
	/* and the port waits for a binder again */
	fd = rogue_connect(SERVER, (uint32_t)port);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* A path in the simulator's directory. */
static void sim_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", getenv("VCHAN_SIM_DIR"), name);
}

/* Child of test_fifo_names: each call must fail, and at once. */
static int child_fifo_names(void *arg)
{
	vchan_gnt *g = vchan_gnt_open();
	vchan_evt *e = vchan_evt_open();
	uint32_t ref;
	int r = 0;

	(void)arg;
	if (g == NULL || e == NULL)
		return 10;
	ref = 777u << 8;
	errno = 0;
	if (vchan_gnt_map(g, SERVER, 1, &ref, 0, NULL) != NULL ||
	    errno != ENOENT)
		r = 11;
	ref = 778u << 8;
	errno = 0;
	if (r == 0 && (vchan_gnt_map(g, SERVER, 1, &ref, 0, NULL) != NULL ||
		       (errno != EPROTO && errno != ENOENT)))
		r = 12;
	errno = 0;
	if (r == 0 &&
	    (vchan_evt_bind(e, SERVER, 4242) != -1 || errno != EINVAL))
		r = 13;
	vchan_evt_close(e);
	vchan_gnt_close(g);
	return r;
}

/* A peer can put a FIFO wherever we open a file it names: a share's file,
 * a port's file, the pages a share's description points at. Opening a FIFO
 * for reading waits for a writer, for ever: each must fail at once. */
static void test_fifo_names(void **state)
{
	struct sim_gnt_meta meta = {.magic = SIM_GNT_MAGIC,
				    .owner = SERVER,
				    .peer = CLIENT,
				    .writable = 1,
				    .count = 1};
	char share[600], fake[600], port[600], fifo[600];
	struct stat st;
	int fd, pfd;
	pid_t pid;

	(void)state;
	sim_path(share, sizeof(share), "g.1.777");
	sim_path(fake, sizeof(fake), "g.1.778");
	sim_path(port, sizeof(port), "e.1.4242");
	sim_path(fifo, sizeof(fifo), "fifo");
	assert_int_equal(mkfifo(share, 0600), 0);
	assert_int_equal(mkfifo(port, 0600), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* A share described as our fd of a FIFO (opened both ways: that
	 * does not wait), held as its owner holds a share. */
	pfd = open(fifo, O_RDWR | O_CLOEXEC);
	assert_true(pfd >= 0);
	assert_int_equal(fstat(pfd, &st), 0);
	meta.pid = (int32_t)getpid();
	meta.fd = pfd;
	meta.dev = (uint64_t)st.st_dev;
	meta.ino = (uint64_t)st.st_ino;
	fd = open(fake, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	assert_int_equal(pwrite(fd, &meta, sizeof(meta), 0), sizeof(meta));
	pid = tu_spawn(CLIENT, child_fifo_names, NULL);
	assert_true(pid > 0);
	assert_int_equal(tu_wait(pid, TIMEOUT_MS), 0);
	close(fd);
	close(pfd);
	unlink(share);
	unlink(fake);
	unlink(port);
	unlink(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_share_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_17, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_256, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_third_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pingpong, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coalescing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mapper_unmaps, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_sharer_unshares, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_truncating_sharer, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_truncating_mapper, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_silent_binder, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unsealed_bits, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fifo_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mapper_killed, setup,
					    teardown_killed),
	    cmocka_unit_test_setup_teardown(test_sharer_killed, setup,
					    teardown_killed),
	    cmocka_unit_test_setup_teardown(test_rebind, setup,
					    teardown_killed),
	    cmocka_unit_test_setup_teardown(test_bind_foreign, setup,
					    teardown_killed),
	    cmocka_unit_test_setup_teardown(test_stale_state, setup,
					    teardown_killed),
	};

	return cmocka_run_group_tests_name("grant-sim", tests, NULL, NULL);
}
