/* tests/grant-xen/grant_xen.c - the xen backend against fake Xen
 * libraries.
 *
 * No hypervisor runs here, so this program does not link libxengnttab or
 * libxenevtchn: it defines every function grant/xen.c calls, records the
 * arguments and hands out real page-aligned memory and a pipe as the event
 * fd. The tests go through the public API (grant.h) with
 * VCHAN_PLATFORM=xen and check what reaches "Xen", and what must not.
 * The sim backend is not linked either: its two entry points are stubs that
 * only count calls, to see that selection never mixes the backends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "grant/backend.h"
#include "grant/grant.h"

#define PAGE	  VCHAN_PAGE_SIZE
#define MAX_LIVE  64
#define NO_OFFSET ((uint32_t)-1)
#define NO_PORT	  ((evtchn_port_t)-1)

/* ---- the fake Xen libraries ------------------------------------------ */

enum kind { SHR = 1, TAB = 2 };

struct xengntdev_handle {
	enum kind kind;
};

struct xenevtchn_handle {
	int rd, wr; /* a pipe: the test writes to wr to make the fd readable */
};

struct live {
	void *addr;
	uint32_t count;
	enum kind kind;
};

/* Everything the fakes saw and what they are told to do. */
static struct fake {
	int calls; /* every fake Xen call */

	/* failures to inject: an errno value, 0 for success */
	int shr_open_err, tab_open_err, evt_open_err;
	int share_err, map_err, bind_err, pending_err;
	int zero_ref_at; /* 1 + index of a ref to hand out as 0 */

	int shr_opens, shr_closes, tab_opens, tab_closes;
	int evt_opens, evt_closes;
	int handles; /* handles opened and not yet closed */

	/* last share/map call */
	int shares, share_notifies, maps, map_notifies;
	uint32_t domid, count, offset, ref;
	evtchn_port_t port;
	int writable, prot;
	uint32_t *refs_arg;
	uint32_t refs[VCHAN_GNT_MAX_PAGES];
	uint32_t next_ref;

	/* unshare/unmap calls, in order */
	int unshares, unmaps;
	void *released[MAX_LIVE];
	uint32_t released_count[MAX_LIVE];
	int nreleased;

	struct live live[MAX_LIVE];

	/* event channels */
	int evt_fd, evt_wr;
	int unbound_calls, interdomain_calls, notifies, pendings, unmasks;
	int unbinds;
	uint32_t remote, remote_port, notified, unmasked;
	uint32_t unbound[16];
	int nunbound;
	int next_port;
	int pending_port;
} fx;

static void *fake_pages(uint32_t count, enum kind kind)
{
	void *p = aligned_alloc(PAGE, (size_t)count * PAGE);

	assert_non_null(p);
	memset(p, 0, (size_t)count * PAGE);
	for (int i = 0; i < MAX_LIVE; i++) {
		if (fx.live[i].addr != NULL)
			continue;
		fx.live[i] = (struct live){p, count, kind};
		return p;
	}
	fail_msg("fake: too many live regions");
	return NULL;
}

/* xen.c must only ever release what the fake handed out, with its count. */
static int fake_release(void *addr, uint32_t count, enum kind kind)
{
	assert_true(fx.nreleased < MAX_LIVE);
	fx.released[fx.nreleased] = addr;
	fx.released_count[fx.nreleased] = count;
	fx.nreleased++;
	for (int i = 0; i < MAX_LIVE; i++) {
		if (fx.live[i].addr != addr)
			continue;
		assert_int_equal(fx.live[i].count, count);
		assert_int_equal(fx.live[i].kind, kind);
		free(addr);
		fx.live[i].addr = NULL;
		return 0;
	}
	fail_msg("fake: release of %p that Xen never handed out", addr);
	return -1;
}

static int live_count(void)
{
	int n = 0;

	for (int i = 0; i < MAX_LIVE; i++)
		n += fx.live[i].addr != NULL;
	return n;
}

static struct xengntdev_handle *fake_open(int err, enum kind kind)
{
	struct xengntdev_handle *h;

	if (err) {
		errno = err;
		return NULL;
	}
	h = malloc(sizeof(*h));
	assert_non_null(h);
	h->kind = kind;
	fx.handles++;
	return h;
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	fx.calls++;
	fx.shr_opens++;
	return fake_open(fx.shr_open_err, SHR);
}

int xengntshr_close(xengntshr_handle *xgs)
{
	fx.calls++;
	fx.shr_closes++;
	assert_int_equal(xgs->kind, SHR);
	free(xgs);
	fx.handles--;
	return 0;
}

static void give_refs(uint32_t *refs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		refs[i] = fx.zero_ref_at == (int)i + 1 ? 0 : fx.next_ref++;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count,
			    uint32_t *refs, int writable)
{
	fx.calls++;
	fx.shares++;
	assert_int_equal(xgs->kind, SHR);
	fx.domid = domid;
	fx.count = (uint32_t)count;
	fx.refs_arg = refs;
	fx.writable = writable;
	if (fx.share_err) {
		errno = fx.share_err;
		return NULL;
	}
	give_refs(refs, (uint32_t)count);
	return fake_pages((uint32_t)count, SHR);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
				  uint32_t *ref, int writable,
				  uint32_t notify_offset,
				  evtchn_port_t notify_port)
{
	fx.calls++;
	fx.share_notifies++;
	assert_int_equal(xgs->kind, SHR);
	fx.domid = domid;
	fx.refs_arg = ref;
	fx.writable = writable;
	fx.offset = notify_offset;
	fx.port = notify_port;
	if (fx.share_err) {
		errno = fx.share_err;
		return NULL;
	}
	give_refs(ref, 1);
	return fake_pages(1, SHR);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
		      uint32_t count)
{
	fx.calls++;
	fx.unshares++;
	assert_int_equal(xgs->kind, SHR);
	return fake_release(start_address, count, SHR);
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	fx.calls++;
	fx.tab_opens++;
	return fake_open(fx.tab_open_err, TAB);
}

int xengnttab_close(xengnttab_handle *xgt)
{
	fx.calls++;
	fx.tab_closes++;
	assert_int_equal(xgt->kind, TAB);
	free(xgt);
	fx.handles--;
	return 0;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
				      uint32_t domid, uint32_t *refs, int prot)
{
	fx.calls++;
	fx.maps++;
	assert_int_equal(xgt->kind, TAB);
	fx.count = count;
	fx.domid = domid;
	fx.prot = prot;
	memcpy(fx.refs, refs, count * sizeof(*refs));
	if (fx.map_err) {
		errno = fx.map_err;
		return NULL;
	}
	return fake_pages(count, TAB);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
				     uint32_t ref, int prot,
				     uint32_t notify_offset,
				     evtchn_port_t notify_port)
{
	fx.calls++;
	fx.map_notifies++;
	assert_int_equal(xgt->kind, TAB);
	fx.domid = domid;
	fx.ref = ref;
	fx.prot = prot;
	fx.offset = notify_offset;
	fx.port = notify_port;
	if (fx.map_err) {
		errno = fx.map_err;
		return NULL;
	}
	return fake_pages(1, TAB);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	fx.calls++;
	fx.unmaps++;
	assert_int_equal(xgt->kind, TAB);
	return fake_release(start_address, count, TAB);
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int flags)
{
	struct xenevtchn_handle *h;
	int p[2];

	(void)logger;
	(void)flags;
	fx.calls++;
	fx.evt_opens++;
	if (fx.evt_open_err) {
		errno = fx.evt_open_err;
		return NULL;
	}
	h = malloc(sizeof(*h));
	assert_non_null(h);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	h->rd = p[0];
	h->wr = p[1];
	fx.evt_fd = p[0];
	fx.evt_wr = p[1];
	fx.handles++;
	return h;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	fx.calls++;
	fx.evt_closes++;
	close(xce->rd);
	close(xce->wr);
	free(xce);
	fx.handles--;
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	fx.calls++;
	return xce->rd;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
						      uint32_t domid)
{
	(void)xce;
	fx.calls++;
	fx.unbound_calls++;
	fx.remote = domid;
	if (fx.bind_err) {
		errno = fx.bind_err;
		return -1;
	}
	return fx.next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote_port)
{
	(void)xce;
	fx.calls++;
	fx.interdomain_calls++;
	fx.remote = domid;
	fx.remote_port = remote_port;
	if (fx.bind_err) {
		errno = fx.bind_err;
		return -1;
	}
	return fx.next_port++;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	fx.calls++;
	fx.notifies++;
	fx.notified = port;
	return 0;
}

/* As the driver: one read of the fd gives the port. Called on an empty
 * pipe it would block on the real device, so that is a test failure. */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	char c;

	fx.calls++;
	fx.pendings++;
	assert_int_equal(read(xce->rd, &c, 1), 1);
	if (fx.pending_err) {
		errno = fx.pending_err;
		return -1;
	}
	return fx.pending_port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	fx.calls++;
	fx.unmasks++;
	fx.unmasked = port;
	return 0;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	fx.calls++;
	assert_true(fx.nunbound < 16);
	fx.unbound[fx.nunbound++] = port;
	fx.unbinds++;
	return 0;
}

/* ---- the sim backend's entry points ------------------------------------ */

static int sim_opens;

vchan_gnt *vchan_gnt_sim_open(void)
{
	sim_opens++;
	errno = ENOSYS;
	return NULL;
}

vchan_evt *vchan_evt_sim_open(void)
{
	sim_opens++;
	errno = ENOSYS;
	return NULL;
}

/* ---- helpers ---------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	sim_opens = 0;
	fx.next_ref = 8;
	fx.next_port = 5;
	setenv("VCHAN_PLATFORM", "xen", 1);
	return 0;
}

/* Whatever a test did, nothing it got from "Xen" may be left over. */
static int teardown(void **state)
{
	(void)state;
	assert_int_equal(live_count(), 0);
	assert_int_equal(fx.handles, 0);
	assert_int_equal(sim_opens, 0);
	return 0;
}

static vchan_gnt *gnt(void)
{
	vchan_gnt *h = vchan_gnt_open();

	assert_non_null(h);
	return h;
}

static vchan_evt *evt(void)
{
	vchan_evt *e = vchan_evt_open();

	assert_non_null(e);
	return e;
}

/* Redirect stderr into a temporary file to read what the library said. */
struct capture {
	int saved;
	FILE *f;
};

static void capture_begin(struct capture *c)
{
	c->f = tmpfile();
	assert_non_null(c->f);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

static void capture_end(struct capture *c, char *buf, size_t size)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	rewind(c->f);
	n = fread(buf, 1, size - 1, c->f);
	buf[n] = '\0';
	fclose(c->f);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

#define assert_einval_ptr(expr)                                                \
	do {                                                                   \
		errno = 0;                                                     \
		assert_null(expr);                                             \
		assert_int_equal(errno, EINVAL);                               \
	} while (0)

#define assert_einval_int(expr)                                                \
	do {                                                                   \
		errno = 0;                                                     \
		assert_int_equal((expr), -1);                                  \
		assert_int_equal(errno, EINVAL);                               \
	} while (0)

/* ---- selection -------------------------------------------------------- */

static void test_select_xen(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;

	(void)state;
	assert_int_equal(vchan_backend_select(), VCHAN_BACKEND_XEN);

	/* The grant handle opens nothing until it is used: a domU that only
	 * maps need not have gntalloc. */
	h = gnt();
	assert_int_equal(h->backend, VCHAN_BACKEND_XEN);
	assert_int_equal(fx.calls, 0);

	e = evt();
	assert_int_equal(e->backend, VCHAN_BACKEND_XEN);
	assert_int_equal(fx.evt_opens, 1);
	assert_int_equal(vchan_evt_fd(e), fx.evt_fd);

	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.shr_opens + fx.tab_opens, 0);
	assert_int_equal(vchan_evt_close(e), 0);
	assert_int_equal(fx.evt_closes, 1);
}

static void test_select_sim(void **state)
{
	(void)state;
	setenv("VCHAN_PLATFORM", "sim", 1);
	assert_int_equal(vchan_backend_select(), VCHAN_BACKEND_SIM);
	assert_null(vchan_gnt_open());
	assert_null(vchan_evt_open());
	assert_int_equal(sim_opens, 2);
	assert_int_equal(fx.calls, 0);
	sim_opens = 0;
}

static void test_select_bad_value(void **state)
{
	struct capture c;
	char out[512];

	(void)state;
	setenv("VCHAN_PLATFORM", "xne", 1);
	capture_begin(&c);
	errno = 0;
	assert_null(vchan_gnt_open());
	assert_int_equal(errno, EINVAL);
	capture_end(&c, out, sizeof(out));
	assert_non_null(strstr(out, "VCHAN_PLATFORM"));
	assert_int_equal(fx.calls, 0);
}

/* ---- argument checks: EINVAL and no Xen call ------------------------- */

static void test_gnt_args(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;
	struct vchan_evt other = {.ops = NULL, .backend = VCHAN_BACKEND_SIM};
	uint32_t refs[2] = {8, 9};
	int port, calls;
	char page[PAGE];

	(void)state;
	h = gnt();
	e = evt();
	port = vchan_evt_alloc_unbound(e, 1);
	assert_true(port > 0);
	calls = fx.calls;

	struct vchan_unmap_notify byte = {
	    .evt = e, .port = (uint32_t)port, .offset = 20};
	struct vchan_unmap_notify far = {
	    .evt = e, .port = (uint32_t)port, .offset = PAGE};
	struct vchan_unmap_notify foreign = {
	    .evt = &other, .port = 3, .offset = VCHAN_NOTIFY_NO_BYTE};
	struct vchan_unmap_notify port0 = {
	    .evt = e, .port = 0, .offset = VCHAN_NOTIFY_NO_BYTE};
	struct vchan_unmap_notify unbound = {.evt = e,
					     .port = (uint32_t)port + 100,
					     .offset = VCHAN_NOTIFY_NO_BYTE};

	assert_einval_ptr(vchan_gnt_share(NULL, 1, 1, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_share(h, 1, 0, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_share(h, 1, 257, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, NULL, 1, NULL));
	assert_einval_ptr(vchan_gnt_share(h, 1, 2, refs, 1, &byte));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, refs, 1, &far));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, refs, 0, &byte));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, refs, 1, &foreign));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, refs, 1, &port0));
	assert_einval_ptr(vchan_gnt_share(h, 1, 1, refs, 1, &unbound));

	assert_einval_ptr(vchan_gnt_map(NULL, 1, 1, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_map(h, 1, 0, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_map(h, 1, 257, refs, 1, NULL));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, NULL, 1, NULL));
	assert_einval_ptr(vchan_gnt_map(h, 1, 2, refs, 1, &byte));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, refs, 1, &far));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, refs, 0, &byte));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, refs, 1, &foreign));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, refs, 1, &port0));
	assert_einval_ptr(vchan_gnt_map(h, 1, 1, refs, 1, &unbound));

	assert_einval_int(vchan_gnt_unshare(NULL, page, 1));
	assert_einval_int(vchan_gnt_unshare(h, NULL, 1));
	assert_einval_int(vchan_gnt_unshare(h, page, 0));
	assert_einval_int(vchan_gnt_unshare(h, page, 257));
	assert_einval_int(vchan_gnt_unmap(NULL, page, 1));
	assert_einval_int(vchan_gnt_unmap(h, NULL, 1));
	assert_einval_int(vchan_gnt_unmap(h, page, 0));
	assert_einval_int(vchan_gnt_unmap(h, page, 257));
	assert_int_equal(vchan_gnt_close(NULL), 0); /* accepted, as free() */

	assert_int_equal(fx.calls, calls);
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

static void test_evt_args(void **state)
{
	vchan_evt *e;
	int port, calls;

	(void)state;
	assert_int_equal(vchan_evt_close(NULL), 0);
	assert_einval_int(vchan_evt_fd(NULL));
	assert_einval_int(vchan_evt_alloc_unbound(NULL, 1));
	assert_einval_int(vchan_evt_bind(NULL, 1, 3));
	assert_einval_int(vchan_evt_notify(NULL, 3));
	assert_einval_int(vchan_evt_pending(NULL));
	assert_einval_int(vchan_evt_unbind(NULL, 3));
	assert_int_equal(fx.calls, 0);

	e = evt();
	port = vchan_evt_alloc_unbound(e, 1);
	assert_true(port > 0);
	calls = fx.calls;
	assert_einval_int(vchan_evt_bind(e, 1, 0));
	assert_einval_int(vchan_evt_notify(e, 0));
	assert_einval_int(vchan_evt_unbind(e, 0));
	/* Ports this handle never bound must not reach the driver. */
	assert_einval_int(vchan_evt_notify(e, (uint32_t)port + 1));
	assert_einval_int(vchan_evt_unbind(e, (uint32_t)port + 1));
	assert_int_equal(fx.calls, calls);
	assert_int_equal(vchan_evt_close(e), 0);
}

/* ---- the calls that reach Xen ------------------------------------------ */

static void test_share(void **state)
{
	vchan_gnt *h;
	uint32_t refs[VCHAN_GNT_MAX_PAGES];
	uint8_t *a, *b, *c;

	(void)state;
	h = gnt();

	a = vchan_gnt_share(h, 7, 3, refs, 1, NULL);
	assert_non_null(a);
	assert_int_equal(fx.shr_opens, 1);
	assert_int_equal(fx.tab_opens, 0);
	assert_int_equal(fx.shares, 1);
	assert_int_equal(fx.domid, 7);
	assert_int_equal(fx.count, 3);
	assert_int_equal(fx.writable, 1);
	assert_ptr_equal(fx.refs_arg, refs);
	assert_int_equal(refs[0], 8);
	assert_int_equal(refs[1], 9);
	assert_int_equal(refs[2], 10);
	a[3 * PAGE - 1] = 1; /* the whole range is usable */

	/* Any non-zero value means writable; Xen is told 0 or 1. */
	b = vchan_gnt_share(h, 9, 1, refs, 0, NULL);
	assert_non_null(b);
	assert_int_equal(fx.writable, 0);
	assert_int_equal(fx.domid, 9);
	assert_int_equal(fx.count, 1);

	c = vchan_gnt_share(h, 2, VCHAN_GNT_MAX_PAGES, refs, 1, NULL);
	assert_non_null(c);
	assert_int_equal(fx.count, VCHAN_GNT_MAX_PAGES);
	assert_int_equal(refs[VCHAN_GNT_MAX_PAGES - 1],
			 12 + VCHAN_GNT_MAX_PAGES - 1);

	/* Opened once, lazily, for all shares. */
	assert_int_equal(fx.shr_opens, 1);

	assert_int_equal(vchan_gnt_unshare(h, a, 3), 0);
	assert_int_equal(fx.unshares, 1);
	assert_ptr_equal(fx.released[0], a);
	assert_int_equal(fx.released_count[0], 3);
	/* Gone from the handle: a second unshare is refused here. */
	assert_einval_int(vchan_gnt_unshare(h, a, 3));
	assert_int_equal(fx.unshares, 1);

	assert_int_equal(vchan_gnt_unshare(h, b, 1), 0);
	assert_int_equal(vchan_gnt_unshare(h, c, VCHAN_GNT_MAX_PAGES), 0);
	assert_int_equal(fx.unshares, 3);
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.shr_closes, 1);
	assert_int_equal(fx.tab_opens, 0);
}

static void test_share_notify(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;
	uint32_t ref = 0;
	int port;
	void *a, *b, *c;

	(void)state;
	h = gnt();
	e = evt();
	port = vchan_evt_alloc_unbound(e, 3);
	assert_int_equal(port, 5);

	struct vchan_unmap_notify both = {.evt = e, .port = 5, .offset = 21};
	a = vchan_gnt_share(h, 3, 1, &ref, 1, &both);
	assert_non_null(a);
	assert_int_equal(fx.share_notifies, 1);
	assert_int_equal(fx.shares, 0);
	assert_int_equal(fx.domid, 3);
	assert_ptr_equal(fx.refs_arg, &ref);
	assert_int_equal(ref, 8);
	assert_int_equal(fx.writable, 1);
	assert_int_equal(fx.offset, 21);
	assert_int_equal(fx.port, 5);

	/* No event handle: Xen is told "no port". */
	struct vchan_unmap_notify byte_only = {
	    .evt = NULL, .port = 5, .offset = 0};
	b = vchan_gnt_share(h, 3, 1, &ref, 1, &byte_only);
	assert_non_null(b);
	assert_int_equal(fx.offset, 0);
	assert_int_equal(fx.port, NO_PORT);

	/* No byte: allowed on a read-only share; Xen is told "no offset". */
	struct vchan_unmap_notify port_only = {
	    .evt = e, .port = 5, .offset = VCHAN_NOTIFY_NO_BYTE};
	c = vchan_gnt_share(h, 4, 1, &ref, 0, &port_only);
	assert_non_null(c);
	assert_int_equal(fx.domid, 4);
	assert_int_equal(fx.writable, 0);
	assert_int_equal(fx.offset, NO_OFFSET);
	assert_int_equal(fx.port, 5);
	assert_int_equal(fx.share_notifies, 3);

	assert_int_equal(vchan_gnt_unshare(h, a, 1), 0);
	assert_int_equal(vchan_gnt_unshare(h, b, 1), 0);
	assert_int_equal(vchan_gnt_unshare(h, c, 1), 0);
	assert_int_equal(fx.unshares, 3);
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

static void test_share_ref_zero(void **state)
{
	vchan_gnt *h;
	uint32_t refs[3];

	(void)state;
	h = gnt();

	fx.zero_ref_at = 2; /* refs[1] comes back 0 */
	errno = 0;
	assert_null(vchan_gnt_share(h, 1, 3, refs, 1, NULL));
	assert_int_equal(errno, EIO);
	assert_int_equal(fx.shares, 1);
	/* The pages were given back to Xen, with what Xen handed out. */
	assert_int_equal(fx.unshares, 1);
	assert_int_equal(fx.released_count[0], 3);

	fx.zero_ref_at = 1;
	struct vchan_unmap_notify n = {.evt = NULL,
				       .offset = VCHAN_NOTIFY_NO_BYTE};
	errno = 0;
	assert_null(vchan_gnt_share(h, 1, 1, refs, 1, &n));
	assert_int_equal(errno, EIO);
	assert_int_equal(fx.unshares, 2);
	assert_int_equal(fx.released_count[1], 1);

	/* Nothing was recorded: close has nothing to release. */
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.unshares, 2);
}

static void test_map(void **state)
{
	vchan_gnt *h;
	uint32_t refs[VCHAN_GNT_MAX_PAGES];
	void *a, *b, *c;

	(void)state;
	for (uint32_t i = 0; i < VCHAN_GNT_MAX_PAGES; i++)
		refs[i] = 1000 + i;
	h = gnt();

	a = vchan_gnt_map(h, 3, 2, refs, 1, NULL);
	assert_non_null(a);
	assert_int_equal(fx.tab_opens, 1);
	assert_int_equal(fx.shr_opens, 0);
	assert_int_equal(fx.maps, 1);
	assert_int_equal(fx.count, 2);
	assert_int_equal(fx.domid, 3);
	assert_int_equal(fx.prot, PROT_READ | PROT_WRITE);
	assert_int_equal(fx.refs[0], 1000);
	assert_int_equal(fx.refs[1], 1001);

	b = vchan_gnt_map(h, 4, 1, refs + 5, 0, NULL);
	assert_non_null(b);
	assert_int_equal(fx.prot, PROT_READ);
	assert_int_equal(fx.domid, 4);
	assert_int_equal(fx.count, 1);
	assert_int_equal(fx.refs[0], 1005);

	c = vchan_gnt_map(h, 0, VCHAN_GNT_MAX_PAGES, refs, 7, NULL);
	assert_non_null(c);
	assert_int_equal(fx.count, VCHAN_GNT_MAX_PAGES);
	assert_int_equal(fx.domid, 0);
	assert_int_equal(fx.prot, PROT_READ | PROT_WRITE);
	assert_memory_equal(fx.refs, refs, sizeof(refs));
	assert_int_equal(fx.tab_opens, 1);

	assert_int_equal(vchan_gnt_unmap(h, a, 2), 0);
	assert_int_equal(fx.unmaps, 1);
	assert_ptr_equal(fx.released[0], a);
	assert_int_equal(fx.released_count[0], 2);
	assert_einval_int(vchan_gnt_unmap(h, a, 2));
	assert_int_equal(vchan_gnt_unmap(h, b, 1), 0);
	assert_int_equal(vchan_gnt_unmap(h, c, VCHAN_GNT_MAX_PAGES), 0);
	assert_int_equal(fx.unmaps, 3);
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.tab_closes, 1);
}

static void test_map_notify(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;
	uint32_t ref = 77;
	int port;
	void *a, *b, *c;

	(void)state;
	h = gnt();
	e = evt();
	port = vchan_evt_bind(e, 2, 40);
	assert_int_equal(port, 5);
	assert_int_equal(fx.remote, 2);
	assert_int_equal(fx.remote_port, 40);

	struct vchan_unmap_notify both = {.evt = e, .port = 5, .offset = 20};
	a = vchan_gnt_map(h, 2, 1, &ref, 1, &both);
	assert_non_null(a);
	assert_int_equal(fx.map_notifies, 1);
	assert_int_equal(fx.maps, 0);
	assert_int_equal(fx.domid, 2);
	assert_int_equal(fx.ref, 77);
	assert_int_equal(fx.prot, PROT_READ | PROT_WRITE);
	assert_int_equal(fx.offset, 20);
	assert_int_equal(fx.port, 5);

	struct vchan_unmap_notify port_only = {
	    .evt = e, .port = 5, .offset = VCHAN_NOTIFY_NO_BYTE};
	b = vchan_gnt_map(h, 2, 1, &ref, 0, &port_only);
	assert_non_null(b);
	assert_int_equal(fx.prot, PROT_READ);
	assert_int_equal(fx.offset, NO_OFFSET);
	assert_int_equal(fx.port, 5);

	struct vchan_unmap_notify byte_only = {.evt = NULL, .offset = 4095};
	c = vchan_gnt_map(h, 6, 1, &ref, 1, &byte_only);
	assert_non_null(c);
	assert_int_equal(fx.domid, 6);
	assert_int_equal(fx.offset, 4095);
	assert_int_equal(fx.port, NO_PORT);
	assert_int_equal(fx.map_notifies, 3);

	assert_int_equal(vchan_gnt_unmap(h, a, 1), 0);
	assert_int_equal(vchan_gnt_unmap(h, b, 1), 0);
	assert_int_equal(vchan_gnt_unmap(h, c, 1), 0);
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(vchan_evt_close(e), 0);
}

static void test_unknown_region(void **state)
{
	vchan_gnt *h;
	uint32_t refs[2] = {8, 9};
	uint8_t *s, *m;
	int calls;

	(void)state;
	h = gnt();
	s = vchan_gnt_share(h, 1, 2, refs, 1, NULL);
	m = vchan_gnt_map(h, 1, 2, refs, 1, NULL);
	assert_non_null(s);
	assert_non_null(m);
	calls = fx.calls;

	assert_einval_int(vchan_gnt_unshare(h, s + PAGE, 1)); /* inside */
	assert_einval_int(vchan_gnt_unshare(h, s, 1));	      /* count */
	assert_einval_int(vchan_gnt_unshare(h, m, 2));	      /* a map */
	assert_einval_int(vchan_gnt_unmap(h, m + PAGE, 1));
	assert_einval_int(vchan_gnt_unmap(h, m, 1));
	assert_einval_int(vchan_gnt_unmap(h, s, 2)); /* a share */
	assert_einval_int(vchan_gnt_unmap(h, &calls, 1));
	assert_int_equal(fx.calls, calls);

	assert_int_equal(vchan_gnt_unshare(h, s, 2), 0);
	assert_int_equal(vchan_gnt_unmap(h, m, 2), 0);
	assert_int_equal(vchan_gnt_close(h), 0);
}

static void test_close_releases(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;
	uint32_t refs[4] = {100, 101, 102, 103};
	void *got[4];
	int port;

	(void)state;
	h = gnt();
	e = evt();
	port = vchan_evt_alloc_unbound(e, 1);
	struct vchan_unmap_notify n = {
	    .evt = e, .port = (uint32_t)port, .offset = 21};

	got[0] = vchan_gnt_share(h, 1, 2, refs, 1, NULL);
	got[1] = vchan_gnt_share(h, 1, 1, refs, 1, &n);
	got[2] = vchan_gnt_map(h, 1, 4, refs, 0, NULL);
	got[3] = vchan_gnt_map(h, 1, 1, refs, 1, &n);
	for (int i = 0; i < 4; i++)
		assert_non_null(got[i]);
	assert_int_equal(live_count(), 4);

	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.unshares, 2);
	assert_int_equal(fx.unmaps, 2);
	assert_int_equal(live_count(), 0);
	assert_int_equal(fx.shr_closes, 1);
	assert_int_equal(fx.tab_closes, 1);
	for (int i = 0; i < 4; i++) {
		int seen = 0;

		for (int j = 0; j < fx.nreleased; j++)
			seen += fx.released[j] == got[i];
		assert_int_equal(seen, 1);
	}
	assert_int_equal(vchan_evt_close(e), 0);
}

/* ---- failures from Xen ----------------------------------------------------
 */

static void test_open_failures(void **state)
{
	vchan_gnt *h;
	uint32_t refs[1];
	struct capture c;
	char out[1024];

	(void)state;
	h = gnt();

	fx.shr_open_err = ENOENT;
	capture_begin(&c);
	errno = 0;
	assert_null(vchan_gnt_share(h, 1, 1, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(vchan_gnt_share(h, 1, 1, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);
	capture_end(&c, out, sizeof(out));
	assert_int_equal(fx.shr_opens, 2); /* retried: the module may load */
	assert_int_equal(fx.shares, 0);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "/dev/xen/gntalloc"));
	assert_non_null(strstr(out, "module"));

	/* Maps do not need gntalloc. */
	refs[0] = 8;
	void *m = vchan_gnt_map(h, 1, 1, refs, 1, NULL);
	assert_non_null(m);
	assert_int_equal(vchan_gnt_unmap(h, m, 1), 0);
	assert_int_equal(vchan_gnt_close(h), 0);

	h = gnt();
	fx.tab_open_err = EACCES;
	capture_begin(&c);
	errno = 0;
	assert_null(vchan_gnt_map(h, 1, 1, refs, 1, NULL));
	assert_int_equal(errno, EACCES);
	errno = 0;
	assert_null(vchan_gnt_map(h, 1, 1, refs, 0, NULL));
	assert_int_equal(errno, EACCES);
	capture_end(&c, out, sizeof(out));
	assert_int_equal(fx.maps, 1); /* only the successful one above */
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "/dev/xen/gntdev"));
	assert_int_equal(vchan_gnt_close(h), 0);

	fx.evt_open_err = ENOENT;
	capture_begin(&c);
	errno = 0;
	assert_null(vchan_evt_open());
	assert_int_equal(errno, ENOENT);
	capture_end(&c, out, sizeof(out));
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, "/dev/xen/evtchn"));
}

static void test_call_failures(void **state)
{
	vchan_gnt *h;
	vchan_evt *e;
	uint32_t refs[2] = {8, 9};

	(void)state;
	h = gnt();
	e = evt();

	fx.share_err = ENOSPC;
	errno = 0;
	assert_null(vchan_gnt_share(h, 1, 2, refs, 1, NULL));
	assert_int_equal(errno, ENOSPC);
	fx.map_err = ENOENT;
	errno = 0;
	assert_null(vchan_gnt_map(h, 1, 2, refs, 1, NULL));
	assert_int_equal(errno, ENOENT);

	fx.bind_err = EPERM;
	errno = 0;
	assert_int_equal(vchan_evt_bind(e, 1, 9), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(vchan_evt_alloc_unbound(e, 1), -1);
	assert_int_equal(errno, EPERM);

	/* Nothing failed is tracked, so nothing is released at close. */
	assert_int_equal(vchan_gnt_close(h), 0);
	assert_int_equal(fx.unshares + fx.unmaps, 0);
	assert_int_equal(vchan_evt_close(e), 0);
	assert_int_equal(fx.unbinds, 0);
}

/* ---- event channels --------------------------------------------------------
 */

static void test_evt_calls(void **state)
{
	vchan_evt *e;
	int a, b;

	(void)state;
	e = evt();

	a = vchan_evt_alloc_unbound(e, 4);
	assert_int_equal(a, 5);
	assert_int_equal(fx.unbound_calls, 1);
	assert_int_equal(fx.remote, 4);

	b = vchan_evt_bind(e, 6, 33);
	assert_int_equal(b, 6);
	assert_int_equal(fx.interdomain_calls, 1);
	assert_int_equal(fx.remote, 6);
	assert_int_equal(fx.remote_port, 33);

	assert_int_equal(vchan_evt_notify(e, 5), 0);
	assert_int_equal(fx.notifies, 1);
	assert_int_equal(fx.notified, 5);
	assert_int_equal(vchan_evt_notify(e, 6), 0);
	assert_int_equal(fx.notified, 6);

	assert_int_equal(vchan_evt_unbind(e, 5), 0);
	assert_int_equal(fx.unbinds, 1);
	assert_int_equal(fx.unbound[0], 5);
	assert_einval_int(vchan_evt_notify(e, 5));
	assert_einval_int(vchan_evt_unbind(e, 5));
	assert_int_equal(fx.notifies, 2);
	assert_int_equal(fx.unbinds, 1);

	/* Close unbinds what is left, then closes the driver handle. */
	assert_int_equal(vchan_evt_close(e), 0);
	assert_int_equal(fx.unbinds, 2);
	assert_int_equal(fx.unbound[1], 6);
	assert_int_equal(fx.evt_closes, 1);
}

static void test_evt_many_ports(void **state)
{
	vchan_evt *e;

	(void)state;
	e = evt();
	for (int i = 0; i < 12; i++)
		assert_int_equal(vchan_evt_alloc_unbound(e, 1), 5 + i);
	for (int i = 0; i < 12; i++)
		assert_int_equal(vchan_evt_notify(e, (uint32_t)(5 + i)), 0);
	assert_int_equal(vchan_evt_unbind(e, 9), 0);
	assert_int_equal(vchan_evt_close(e), 0);
	assert_int_equal(fx.unbinds, 12);
}

static void test_pending(void **state)
{
	vchan_evt *e;
	int port;

	(void)state;
	e = evt();
	port = vchan_evt_alloc_unbound(e, 1);
	fx.pending_port = port;

	/* Nothing readable: 0, and the driver is not asked (it could block). */
	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(fx.pendings, 0);
	assert_int_equal(fx.unmasks, 0);

	assert_int_equal(write(fx.evt_wr, "x", 1), 1);
	assert_int_equal(vchan_evt_pending(e), port);
	assert_int_equal(fx.pendings, 1);
	assert_int_equal(fx.unmasks, 1);
	assert_int_equal(fx.unmasked, port);

	assert_int_equal(vchan_evt_pending(e), 0);
	assert_int_equal(fx.pendings, 1);

	fx.pending_err = EIO;
	assert_int_equal(write(fx.evt_wr, "x", 1), 1);
	errno = 0;
	assert_int_equal(vchan_evt_pending(e), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(fx.unmasks, 1);

	assert_int_equal(vchan_evt_close(e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_select_xen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_select_sim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_select_bad_value, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evt_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_share_ref_zero, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_region, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_close_releases, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_open_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_call_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_evt_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evt_many_ports, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
