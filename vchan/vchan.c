/* vchan/vchan.c - channel setup over grant/ and xenstore/, and the waiting
 * strategy around the ring protocol of ring.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "grant/grant.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"
#include "xenstore/xs.h"

#define KEY_REF "ring-ref"
#define KEY_EVT "event-channel"
/* grants[] holds at most (4096 - 24) / 4 references. */
#define MAX_GRANTS ((VCHAN_PAGE_SIZE - sizeof(struct vchan_wire)) / 4u)

struct vchan {
	struct vchan_ring_ctl ring;
	vchan_gnt *gnt;
	vchan_evt *evt;
	vchan_xs *xs;  /* server: kept to remove its path on close; xen:
			* watches for the peer domain's death */
	char *path;    /* server: the published XenStore directory */
	int published; /* server: path written */
	uint32_t port; /* local event port */
	void *page;    /* control page (shared or mapped) */
	void *left;    /* granted ring mappings, NULL when in-page */
	void *right;
	uint32_t left_pages;
	uint32_t right_pages;
	int server;
	int blocking;
	int want_space; /* a write came up short: wait for space as well */
	unsigned spin_us;
	/* Moving average of how long a stalled call waited for the peer
	 * (spinning and sleeping), in ns: the spin window follows it. */
	uint64_t wait_avg_ns;
	uint64_t loop_wait_from; /* vchan_spin gave up then (ns), or 0 */
	uint32_t peer;		 /* the other domain */
	int efd; /* xen: epoll set of the event and XenStore fds, or -1 */
};

/* Progress of one call that cannot go on yet: spin, then ask for an event
 * and look again, then offer the CPU and look again, then sleep. */
struct stall {
	int phase;
	uint64_t deadline; /* end of spinning, 0 = not started */
	uint64_t start;	   /* when the call first stalled, 0 = not yet */
	int offered;	   /* the CPU was offered since the last sleep */
};

/* Shortest spin worth starting, when the peer usually answers at all: long
 * enough that one late answer (an interrupt, a preempted peer) does not
 * make us sleep, which would make the peer's next wait a wake-up long and
 * both sides fall back to sleeping. */
#define SPIN_MIN_NS 50000u
/* Spin without yielding the CPU for this long first: a peer running on
 * another CPU answers within it. */
#define SPIN_PURE_NS 2000u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Note a failed release: the first error is the one reported. */
static void release(int rc, int *err)
{
	if (rc < 0 && *err == 0)
		*err = errno;
}

/* Release everything and free the handle. Returns 0, or the errno of the
 * first release that failed (errno itself is left as it was). */
static int free_handle(struct vchan *ch)
{
	int saved = errno, err = 0;

	if (ch->page != NULL) {
		if (ch->server) {
			if (ch->left != NULL)
				release(vchan_gnt_unshare(ch->gnt, ch->left,
							  ch->left_pages),
					&err);
			if (ch->right != NULL)
				release(vchan_gnt_unshare(ch->gnt, ch->right,
							  ch->right_pages),
					&err);
			release(vchan_gnt_unshare(ch->gnt, ch->page, 1), &err);
		} else {
			if (ch->left != NULL)
				release(vchan_gnt_unmap(ch->gnt, ch->left,
							ch->left_pages),
					&err);
			if (ch->right != NULL)
				release(vchan_gnt_unmap(ch->gnt, ch->right,
							ch->right_pages),
					&err);
			release(vchan_gnt_unmap(ch->gnt, ch->page, 1), &err);
		}
	}
	if (ch->published)
		release(vchan_xs_rm(ch->xs, ch->path), &err);
	release(vchan_evt_close(ch->evt), &err);
	release(vchan_gnt_close(ch->gnt), &err);
	if (ch->efd >= 0)
		close(ch->efd);
	release(vchan_xs_close(ch->xs), &err);
	free(ch->path);
	free(ch);
	errno = saved;
	return err;
}

static struct vchan *new_handle(int server)
{
	struct vchan *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return NULL;
	ch->server = server;
	ch->efd = -1;
	ch->blocking = 1;
	ch->spin_us = VCHAN_SPIN_DEFAULT_US;
	ch->wait_avg_ns = (uint64_t)VCHAN_SPIN_DEFAULT_US * 1000u / 4u;
	ch->gnt = vchan_gnt_open();
	if (ch->gnt == NULL)
		goto fail;
	ch->evt = vchan_evt_open();
	if (ch->evt == NULL)
		goto fail;
	ch->xs = vchan_xs_open();
	if (ch->xs == NULL)
		goto fail;
	return ch;
fail:
	free_handle(ch);
	return NULL;
}

/* On Xen, a peer *domain* that is destroyed runs no unmap-notify: its
 * live byte stays set and no event comes (Xen closes its end of the event
 * channel silently), so a channel would wait forever. Watch XenStore for
 * the domain going (@releaseDomain, and its /local/domain/<id> directory,
 * which the tool stack removes) and make vchan_fd wake on either. The sim
 * backend needs none of this: a dead process's bytes are cleared. */
static int watch_peer(struct vchan *ch)
{
	struct epoll_event ev = {.events = EPOLLIN};
	char dir[32];

	if (vchan_backend_select() != VCHAN_BACKEND_XEN)
		return 0;
	snprintf(dir, sizeof(dir), "/local/domain/%u", ch->peer);
	/* Best effort: an unprivileged domain may not be allowed to watch
	 * these; the channel then works as libxenvchan's does. */
	if (vchan_xs_watch(ch->xs, "@releaseDomain", "vchan-peer") < 0)
		return 0;
	if (vchan_xs_watch(ch->xs, dir, "vchan-peer") < 0) {
		vchan_xs_unwatch(ch->xs, "@releaseDomain", "vchan-peer");
		return 0;
	}
	ch->efd = epoll_create1(EPOLL_CLOEXEC);
	if (ch->efd < 0)
		return -1;
	ev.data.fd = vchan_evt_fd(ch->evt);
	if (epoll_ctl(ch->efd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -1;
	ev.data.fd = vchan_xs_fd(ch->xs);
	return epoll_ctl(ch->efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
}

/* After a watch fired: when the peer's domain is gone, clear its live
 * byte ourselves, as its unmap-notify would have. Nobody else writes that
 * byte any more, and the page stays mapped until we close. */
static void check_peer(struct vchan *ch)
{
	char dir[32], *p, *t, *v;
	int fired = 0;
	size_t len, off;

	if (ch->efd < 0)
		return;
	while (vchan_xs_read_watch(ch->xs, &p, &t) == 1) {
		free(p);
		free(t);
		fired = 1;
	}
	if (!fired)
		return;
	snprintf(dir, sizeof(dir), "/local/domain/%u", ch->peer);
	v = vchan_xs_read(ch->xs, dir, &len);
	if (v != NULL || errno != ENOENT) {
		free(v);
		return;
	}
	off = ch->server ? offsetof(struct vchan_wire, cli_live)
			 : offsetof(struct vchan_wire, srv_live);
	__atomic_store_n((uint8_t *)ch->page + off, (uint8_t)VCHAN_CLOSED,
			 __ATOMIC_SEQ_CST);
}

/* A XenStore node name fit to be a port: 1..VCHAN_PORT_MAX bytes of
 * [A-Za-z0-9_@-]. */
static int port_ok(const char *port)
{
	size_t n;

	if (port == NULL)
		return 0;
	for (n = 0; port[n] != '\0'; n++) {
		char c = port[n];

		if (n == VCHAN_PORT_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '@' ||
		      c == '-'))
			return 0;
	}
	return n > 0;
}

/* vchan_path, asking `xs` (or, when NULL, a handle of its own) for our
 * domain id where VCHAN_DOMID_SELF stands. */
static int build_path(vchan_xs *xs, char *buf, size_t size, uint32_t owner,
		      uint32_t peer, const char *port)
{
	int n;

	if (buf == NULL || !port_ok(port) ||
	    (owner > VCHAN_DOMID_SELF || peer > VCHAN_DOMID_SELF)) {
		errno = EINVAL;
		return -1;
	}
	if (owner == VCHAN_DOMID_SELF || peer == VCHAN_DOMID_SELF) {
		vchan_xs *own = xs != NULL ? xs : vchan_xs_open();
		int self = own != NULL ? vchan_xs_domid(own) : -1;
		int e = errno;

		if (own != xs)
			vchan_xs_close(own);
		if (self < 0) {
			errno = e;
			return -1;
		}
		if (owner == VCHAN_DOMID_SELF)
			owner = (uint32_t)self;
		if (peer == VCHAN_DOMID_SELF)
			peer = (uint32_t)self;
	}
	n = snprintf(buf, size, "/local/domain/%u/data/vchan/%u/%s",
		     (unsigned)owner, (unsigned)peer, port);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

int vchan_path(char *buf, size_t size, uint32_t owner, uint32_t peer,
	       const char *port)
{
	return build_path(NULL, buf, size, owner, peer, port);
}

static struct vchan *server_create(uint32_t peer, const char *path,
				   const char *port, unsigned lo, unsigned ro)
{
	struct vchan_layout lay;
	struct vchan_unmap_notify nt;
	struct vchan_wire *page;
	struct vchan *ch;
	uint32_t ref;
	char sref[16], sevt[16], buf[VCHAN_PATH_MAX];
	struct vchan_xs_kv kv[2] = {{KEY_REF, sref}, {KEY_EVT, sevt}};
	void *left, *right;
	int evport;

	if ((path == NULL && (!port_ok(port) || peer >= VCHAN_DOMID_SELF)) ||
	    vchan_ring_layout(lo, ro, &lay) < 0) {
		errno = EINVAL;
		return NULL;
	}
	ch = new_handle(1);
	if (ch == NULL)
		return NULL;
	if (path == NULL) {
		if (build_path(ch->xs, buf, sizeof(buf), VCHAN_DOMID_SELF, peer,
			       port) < 0)
			goto fail;
		path = buf;
	}
	ch->path = strdup(path);
	if (ch->path == NULL)
		goto fail;
	evport = vchan_evt_alloc_unbound(ch->evt, peer);
	if (evport < 0)
		goto fail;
	ch->port = (uint32_t)evport;

	/* If we die, the peer sees srv_live cleared and gets an event. */
	nt.evt = ch->evt;
	nt.port = ch->port;
	nt.offset = offsetof(struct vchan_wire, srv_live);
	ch->page = vchan_gnt_share(ch->gnt, peer, 1, &ref, 1, &nt);
	if (ch->page == NULL)
		goto fail;
	page = ch->page;

	/* The page is not published yet: writing the grant list straight
	 * into it races with nobody. */
	if (lay.left_pages != 0) {
		ch->left = vchan_gnt_share(ch->gnt, peer, lay.left_pages,
					   page->grants, 1, NULL);
		if (ch->left == NULL)
			goto fail;
		ch->left_pages = lay.left_pages;
		left = ch->left;
	} else {
		left = (uint8_t *)page + lay.left_offset;
	}
	if (lay.right_pages != 0) {
		ch->right =
		    vchan_gnt_share(ch->gnt, peer, lay.right_pages,
				    page->grants + lay.left_pages, 1, NULL);
		if (ch->right == NULL)
			goto fail;
		ch->right_pages = lay.right_pages;
		right = ch->right;
	} else {
		right = (uint8_t *)page + lay.right_offset;
	}
	vchan_ring_server_init(&ch->ring, page, lo, ro, left, right);

	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sevt, sizeof(sevt), "%u", ch->port);
	if (vchan_xs_publish(ch->xs, path, kv, 2, peer) < 0)
		goto fail;
	ch->published = 1;
	ch->peer = peer;
	if (watch_peer(ch) < 0)
		goto fail;
	return ch;
fail:
	free_handle(ch);
	return NULL;
}

struct vchan *vchan_server_create(uint32_t peer, const char *path,
				  size_t read_min, size_t write_min)
{
	unsigned lo, ro;

	if (vchan_ring_orders(read_min, write_min, &lo, &ro) < 0)
		return NULL;
	return server_create(peer, path, NULL, lo, ro);
}

struct vchan *vchan_server_create_orders(uint32_t peer, const char *path,
					 unsigned read_order,
					 unsigned write_order)
{
	return server_create(peer, path, NULL, read_order, write_order);
}

struct vchan *vchan_server_create_port(uint32_t peer, const char *port,
				       size_t read_min, size_t write_min)
{
	unsigned lo, ro;

	if (!port_ok(port)) {
		errno = EINVAL;
		return NULL;
	}
	if (vchan_ring_orders(read_min, write_min, &lo, &ro) < 0)
		return NULL;
	return server_create(peer, NULL, port, lo, ro);
}

/* A XenStore value that must be a decimal u32 other than 0. */
static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Read one key under dir. Returns 1 with *out set, 0 when it is not there
 * yet, -1 + errno. */
static int read_key(vchan_xs *xs, const char *dir, const char *key,
		    uint32_t *out)
{
	char path[3200];
	char *val;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >=
	    (int)sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	val = vchan_xs_read(xs, path, NULL);
	if (val == NULL)
		return errno == ENOENT ? 0 : -1;
	r = parse_u32(val, out);
	free(val);
	if (r < 0) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

static int read_keys(vchan_xs *xs, const char *dir, uint32_t *ref,
		     uint32_t *port)
{
	int r = read_key(xs, dir, KEY_REF, ref);

	if (r <= 0)
		return r;
	return read_key(xs, dir, KEY_EVT, port);
}

static void drain_watch(vchan_xs *xs)
{
	char *p, *t;

	while (vchan_xs_read_watch(xs, &p, &t) == 1) {
		free(p);
		free(t);
	}
}

/* Wait (on a watch, not by polling the store) until the server's keys
 * exist, and read them. */
static int wait_keys(vchan_xs *xs, const char *dir, int timeout_ms,
		     uint32_t *ref, uint32_t *port)
{
	static const char token[] = "vchan-connect";
	uint64_t deadline =
	    now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
	int r, denied = 0;

	/* A server already there needs no watch (nor, on the simulator, the
	 * inotify instance one costs). */
	r = read_keys(xs, dir, ref, port);
	if (r != 0 && !(r < 0 && errno == EACCES))
		return r < 0 ? -1 : 0;
	if (vchan_xs_watch(xs, dir, token) < 0)
		return -1;
	for (;;) {
		struct pollfd pfd = {.fd = vchan_xs_fd(xs), .events = POLLIN};
		int wait_ms = -1;

		/* Take the events first: a change after this is signalled
		 * on the fd, so the read below cannot miss it. */
		drain_watch(xs);
		r = read_keys(xs, dir, ref, port);
		/* xenstored answers EACCES for a missing key under a directory
		 * we may not read (one a server of ours left behind), just as
		 * for a key we may not read: keep waiting for a server to
		 * publish keys we can read, and say "denied" only if none
		 * comes in time. */
		if (r < 0 && errno == EACCES) {
			denied = 1;
			r = 0;
		}
		if (r != 0)
			break;
		if (timeout_ms >= 0) {
			uint64_t now = now_ns();

			if (now >= deadline) {
				errno = denied ? EACCES : ETIMEDOUT;
				r = -1;
				break;
			}
			wait_ms = (int)((deadline - now + 999999u) / 1000000u);
		}
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			r = -1;
			break;
		}
	}
	vchan_xs_unwatch(xs, dir, token);
	return r < 0 ? -1 : 0;
}

/* Whether the page behind `ref` is a server's fresh offer, looked at
 * without taking it. The server's event port accepts one binder only (the
 * sim backend never lets it be bound again), so the page is checked before
 * the port is bound: a client that bound it and only then found the page
 * not for it would leave that server's offer with a port nobody can bind,
 * and the server would never learn why. The two keys are separate reads:
 * while a new server replaces the keys of one that died, a client can read
 * the old page's ref and the new server's port. */
static int page_on_offer(struct vchan *ch, uint32_t server, uint32_t ref)
{
	struct vchan_wire *page =
	    vchan_gnt_map(ch->gnt, server, 1, &ref, 0, NULL);
	uint8_t live;

	if (page == NULL) {
		if (errno == ENOENT)
			errno = ECONNREFUSED;
		return -1;
	}
	live = __atomic_load_n(&page->cli_live, __ATOMIC_ACQUIRE);
	vchan_gnt_unmap(ch->gnt, page, 1);
	if (live != VCHAN_RING_LIVE_WAITING) {
		errno = ECONNREFUSED;
		return -1;
	}
	return 0;
}

/* vchan_client_connect at `path`, or when it is NULL at the usual path of
 * port name `pname`. */
static struct vchan *client_connect(uint32_t server, const char *path,
				    const char *pname, int timeout_ms)
{
	struct vchan_layout lay;
	struct vchan_unmap_notify nt;
	uint32_t refs[MAX_GRANTS];
	uint32_t ref, evport;
	unsigned lo, ro;
	struct vchan *ch;
	void *left, *right;
	char buf[VCHAN_PATH_MAX];
	int port;

	if ((path == NULL && (!port_ok(pname) || server >= VCHAN_DOMID_SELF)) ||
	    timeout_ms < -1) {
		errno = EINVAL;
		return NULL;
	}
	ch = new_handle(0);
	if (ch == NULL)
		return NULL;
	if (path == NULL) {
		if (build_path(ch->xs, buf, sizeof(buf), server,
			       VCHAN_DOMID_SELF, pname) < 0)
			goto fail;
		path = buf;
	}
	if (wait_keys(ch->xs, path, timeout_ms, &ref, &evport) < 0)
		goto fail;
	if (page_on_offer(ch, server, ref) < 0)
		goto fail;
	/* Keys whose port or page is gone are a server that died without
	 * removing them: say so, rather than the layer's EINVAL or ENOENT. */
	port = vchan_evt_bind(ch->evt, server, evport);
	if (port < 0) {
		if (errno == EINVAL)
			errno = ECONNREFUSED;
		goto fail;
	}
	ch->port = (uint32_t)port;

	/* If we die, the server sees cli_live cleared and gets an event. */
	nt.evt = ch->evt;
	nt.port = ch->port;
	nt.offset = offsetof(struct vchan_wire, cli_live);
	ch->page = vchan_gnt_map(ch->gnt, server, 1, &ref, 1, &nt);
	if (ch->page == NULL) {
		if (errno == ENOENT)
			errno = ECONNREFUSED;
		goto fail;
	}

	/* Orders and grants are read once, into our own copies: the server
	 * could change the page under us at any time. */
	vchan_ring_read_orders(ch->page, &lo, &ro);
	if (vchan_ring_layout(lo, ro, &lay) < 0)
		goto fail;
	vchan_ring_read_grants(ch->page, refs,
			       lay.left_pages + lay.right_pages);
	if (lay.left_pages != 0) {
		ch->left = vchan_gnt_map(ch->gnt, server, lay.left_pages, refs,
					 1, NULL);
		if (ch->left == NULL)
			goto fail;
		ch->left_pages = lay.left_pages;
		left = ch->left;
	} else {
		left = (uint8_t *)ch->page + lay.left_offset;
	}
	/* We only read the right ring: map it read-only. */
	if (lay.right_pages != 0) {
		ch->right = vchan_gnt_map(ch->gnt, server, lay.right_pages,
					  refs + lay.left_pages, 0, NULL);
		if (ch->right == NULL)
			goto fail;
		ch->right_pages = lay.right_pages;
		right = ch->right;
	} else {
		right = (uint8_t *)ch->page + lay.right_offset;
	}
	if (vchan_ring_client_init(&ch->ring, ch->page, lo, ro, left, right) <
	    0)
		goto fail;
	if (vchan_evt_notify(ch->evt, ch->port) < 0)
		goto fail;
	ch->peer = server;
	if (watch_peer(ch) < 0)
		goto fail;
	/* Without the watch, the client needs the store no more. */
	if (ch->efd < 0) {
		vchan_xs_close(ch->xs);
		ch->xs = NULL;
	}
	return ch;
fail:
	free_handle(ch);
	return NULL;
}

struct vchan *vchan_client_connect(uint32_t server, const char *path,
				   int timeout_ms)
{
	return client_connect(server, path, NULL, timeout_ms);
}

struct vchan *vchan_client_connect_port(uint32_t server, const char *port,
					int timeout_ms)
{
	return client_connect(server, NULL, port, timeout_ms);
}

int vchan_close(struct vchan *ch)
{
	int err = 0, rest;

	if (ch == NULL)
		return 0;
	/* Keys first: a peer that sees us close finds them gone, and no new
	 * client connects to a server on its way out. */
	if (ch->published) {
		release(vchan_xs_rm(ch->xs, ch->path), &err);
		ch->published = 0;
	}
	if (ch->page != NULL) {
		/* Say goodbye before the pages go: the peer may keep reading
		 * what we wrote (its mappings stay valid). */
		vchan_ring_close(&ch->ring);
		release(vchan_evt_notify(ch->evt, ch->port), &err);
	}
	rest = free_handle(ch);
	if (err == 0)
		err = rest;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Consume every pending event. Returns how many, or -1 + errno. */
static int drain(struct vchan *ch)
{
	int n = 0;

	check_peer(ch);
	for (;;) {
		int p = vchan_evt_pending(ch->evt);

		if (p < 0)
			return -1;
		if (p == 0)
			return n;
		n++;
	}
}

/* Sleep on the event channel. Returns 1 after an event, 0 on timeout, -1 +
 * errno. */
static int sleep_events(struct vchan *ch, int timeout_ms)
{
	/* With the peer watch, the epoll set: a dying peer wakes us too. */
	int fd = ch->efd >= 0 ? ch->efd : vchan_evt_fd(ch->evt);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;

	/* With no time limit and nothing else to watch, the event layer can
	 * sleep and consume the event in one system call. */
	if (timeout_ms < 0 && ch->efd < 0)
		return vchan_evt_wait(ch->evt) < 0 ? -1 : 1;
	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return r;
	/* The handle has one port, whose events coalesce: one pending call
	 * takes what woke us. Looking until none is left would cost one more
	 * system call per wake-up, and an event that came meanwhile keeps
	 * the fd readable anyway. */
	check_peer(ch);
	if (vchan_evt_pending(ch->evt) < 0)
		return -1;
	return 1;
}

/* How long to spin before sleeping, in ns. Spinning pays only when the
 * peer answers within the window; a window shorter than the peer's usual
 * answer is pure loss twice over: the CPU burnt spinning, then the
 * wake-up anyway. Worse, when both sides spin less than a kernel wake-up
 * takes, each side sleeps because the other slept: a ping-pong never
 * leaves that state. So the window follows the waits actually seen: a few
 * times their average while that is within the budget (so a peer that
 * answers in microseconds is caught, and a sleeping pair falls back into
 * spinning once one answer comes fast), and none while the peer takes
 * longer than the budget anyway (a slow or descheduled peer, where
 * spinning only steals the CPU it needs). Sleeping waits keep being
 * measured, so spinning resumes when the peer speeds up. */
static uint64_t spin_window(const struct vchan *ch)
{
	uint64_t cap = (uint64_t)ch->spin_us * 1000u, w;

	if (cap == 0 || ch->wait_avg_ns >= cap)
		return 0;
	w = 4 * ch->wait_avg_ns;
	if (w < SPIN_MIN_NS)
		w = SPIN_MIN_NS;
	return w < cap ? w : cap;
}

/* A stalled call saw the peer move after waiting `ns`: fold it into the
 * average (weight 1/8, so one long wait does not switch spinning off). */
static void note_wait(struct vchan *ch, uint64_t ns)
{
	ch->wait_avg_ns = ch->wait_avg_ns - ch->wait_avg_ns / 8 + ns / 8;
}

/* Spin until the peer moves (for `bits`) or *deadline (set on first use,
 * `window` ns from now) passes. Returns 1 when something changed. */
static int spin(struct vchan *ch, unsigned bits, uint64_t window,
		uint64_t *deadline)
{
	uint64_t now = now_ns(), yield_from = now + SPIN_PURE_NS;

	if (*deadline == 0)
		*deadline = now + window;
	else if (now >= *deadline)
		return 0;
	for (unsigned i = 1;; i++) {
		if (vchan_ring_changed(&ch->ring, bits))
			return 1;
		cpu_relax();
		if ((i & 15) != 0)
			continue;
		now = now_ns();
		if (now >= *deadline)
			return 0;
		/* Past the first microseconds (a running peer answers
		 * within them), offer the CPU every few microseconds: on a
		 * loaded machine the peer we wait for is often queued
		 * behind us on this CPU, and a spin that keeps it only
		 * delays the answer. With nothing else to run, the call
		 * returns at once. */
		if (now >= yield_from && (i & 63) == 0)
			sched_yield();
	}
}

/* The call cannot progress: returns 1 to look again, 0 for "would block",
 * -1 + errno. Looking again after asking for the event closes the race
 * with a peer that moved just before the request was visible. */
static int stall(struct vchan *ch, struct stall *s, unsigned bits)
{
	if (s->phase == 0) {
		uint64_t window = ch->blocking ? spin_window(ch) : 0;

		s->phase = 1;
		if (ch->blocking && s->start == 0)
			s->start = now_ns();
		if (window != 0) {
			/* Past its first microseconds a spin yields. */
			s->offered = 1;
			if (spin(ch, bits, window, &s->deadline)) {
				note_wait(ch, now_ns() - s->start);
				s->phase = 0;
				s->start = 0;
				return 1;
			}
		}
	}
	if (s->phase == 1) {
		vchan_ring_request(&ch->ring, bits);
		if (bits & VCHAN_RING_NOTIFY_READ)
			ch->want_space = 1;
		/* Events are consumed only after a sleep, not here: in
		 * non-blocking mode the caller polls the fd for every kind
		 * of event, and one eaten here (say "space freed", during a
		 * read) would be lost to it; in blocking mode a stale event
		 * costs one early wake-up, which is rarer than the syscall
		 * that draining before every sleep would cost. */
		s->phase = 2;
		return 1;
	}
	if (!ch->blocking)
		return 0;
	/* Before sleeping, offer the CPU once and look again. The peer we
	 * last woke is often queued on this CPU (the scheduler puts a wakee
	 * next to its waker): it runs now instead of after our sleep
	 * begins, and when it answers at once the sleep is saved. With
	 * nothing else to run the call returns at once, and a peer on the
	 * other CPU (say, a reader half-way through a copy) has had that
	 * long to move. A sleep and its wake-up cost tens of times more. */
	if (!s->offered) {
		s->offered = 1;
		sched_yield();
		return 1;
	}
	if (sleep_events(ch, -1) < 0)
		return -1;
	s->offered = 0;
	/* Woken: the wait counts whether or not it brought progress (an
	 * extra wake-up is as long a wait as any). */
	if (ch->spin_us != 0) {
		uint64_t now = now_ns();

		note_wait(ch, now - s->start);
		s->start = now;
	}
	s->phase = 1;
	return 1;
}

static int kick(struct vchan *ch, int k)
{
	return k ? vchan_evt_notify(ch->evt, ch->port) : 0;
}

static int epipe(void)
{
	errno = EPIPE;
	return -1;
}

/* A poisoned channel fails every call with EPROTO, whatever its arguments
 * (a size above the ring, a zero length) and before any spin: the peer
 * broke the protocol, and nothing else is worth telling the caller. */
static int poisoned(const struct vchan *ch)
{
	if (!ch->ring.poisoned)
		return 0;
	errno = EPROTO;
	return 1;
}

static int iov_total(const struct iovec *iov, int iovcnt, size_t *total)
{
	size_t t = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0))
		goto bad;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - t)
			goto bad;
		if (iov[i].iov_base == NULL && iov[i].iov_len != 0)
			goto bad;
		t += iov[i].iov_len;
	}
	*total = t;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Read `total` bytes (all of them when `all`) into iov. */
static ssize_t do_read(struct vchan *ch, const struct iovec *iov, int iovcnt,
		       size_t total, int all)
{
	struct stall s = {0};
	size_t done = 0;

	if (all && total > ch->ring.rd.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int k = 0, st = vchan_ring_state(&ch->ring);
		long n;

		if (st < 0)
			return -1;
		n = vchan_ring_read(&ch->ring, iov, iovcnt, done, total - done,
				    all, &k);
		if (n < 0)
			return -1;
		if (n > 0) {
			if (kick(ch, k) < 0)
				return -1;
			done += (size_t)n;
			if (done == total)
				return (ssize_t)done;
			/* A short read: ask for the next write before looking
			 * once more, so that a caller who polls the fd after
			 * a short count is woken when more comes. */
			vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_WRITE);
			continue;
		}
		if (done > 0)
			return (ssize_t)done;
		/* The state was loaded before the indexes: closed and empty
		 * means nothing more can come. */
		if (st == VCHAN_CLOSED)
			return epipe();
		n = stall(ch, &s, VCHAN_RING_NOTIFY_WRITE);
		if (n <= 0)
			return n;
	}
}

/* Write iov (`total` bytes): as a packet when `all`, else as a stream
 * (everything when blocking, what fits otherwise). */
static ssize_t do_write(struct vchan *ch, const struct iovec *iov, int iovcnt,
			size_t total, int all)
{
	struct stall s = {0};
	size_t done = 0;

	if (all && total > ch->ring.wr.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int k = 0, st = vchan_ring_state(&ch->ring);
		long n;

		if (st < 0)
			return -1;
		if (st == VCHAN_CLOSED)
			return done > 0 ? (ssize_t)done : epipe();
		n = vchan_ring_write(&ch->ring, iov, iovcnt, done, total - done,
				     all, &k);
		if (n < 0)
			return -1;
		if (n > 0) {
			if (kick(ch, k) < 0)
				return -1;
			done += (size_t)n;
			if (done == total) {
				ch->want_space = 0;
				return (ssize_t)done;
			}
			s = (struct stall){0};
		}
		n = stall(ch, &s, VCHAN_RING_NOTIFY_READ);
		if (n < 0)
			return done > 0 && errno == EINTR ? (ssize_t)done : -1;
		if (n == 0)
			return (ssize_t)done;
	}
}

ssize_t vchan_readv(struct vchan *ch, const struct iovec *iov, int iovcnt)
{
	size_t total;

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(iov, iovcnt, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (total == 0)
		return 0;
	return do_read(ch, iov, iovcnt, total, 0);
}

ssize_t vchan_writev(struct vchan *ch, const struct iovec *iov, int iovcnt)
{
	size_t total;

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(iov, iovcnt, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (total == 0)
		return 0;
	return do_write(ch, iov, iovcnt, total, 0);
}

ssize_t vchan_read(struct vchan *ch, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};

	return vchan_readv(ch, &iov, 1);
}

ssize_t vchan_write(struct vchan *ch, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};

	return vchan_writev(ch, &iov, 1);
}

ssize_t vchan_recv(struct vchan *ch, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	size_t total;

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(&iov, 1, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 0;
	return do_read(ch, &iov, 1, len, 1);
}

ssize_t vchan_send(struct vchan *ch, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	size_t total;

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || iov_total(&iov, 1, &total) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 0;
	return do_write(ch, &iov, 1, len, 1);
}

int vchan_reserve(struct vchan *ch, size_t len, struct iovec seg[2])
{
	struct stall s = {0};

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || seg == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (len > ch->ring.wr.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int n, st = vchan_ring_state(&ch->ring);

		if (st < 0)
			return -1;
		if (st == VCHAN_CLOSED)
			return epipe();
		n = vchan_ring_reserve(&ch->ring, len, seg);
		if (n != 0)
			return n;
		n = stall(ch, &s, VCHAN_RING_NOTIFY_READ);
		if (n <= 0)
			return n;
	}
}

int vchan_commit(struct vchan *ch, size_t len)
{
	int k = 0;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_ring_commit(&ch->ring, len, &k) < 0)
		return -1;
	if (len > 0)
		ch->want_space = 0;
	return kick(ch, k);
}

static size_t seg_total(const struct iovec *seg, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += seg[i].iov_len;
	return t;
}

int vchan_peek(struct vchan *ch, size_t min, struct iovec seg[2])
{
	struct stall s = {0};

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || seg == NULL || min == 0) {
		errno = EINVAL;
		return -1;
	}
	if (min > ch->ring.rd.size) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		int n, st = vchan_ring_state(&ch->ring);

		if (st < 0)
			return -1;
		n = vchan_ring_peek(&ch->ring, seg);
		if (n < 0)
			return -1;
		if (n > 0 && seg_total(seg, n) >= min)
			return n;
		if (st == VCHAN_CLOSED)
			return epipe();
		n = stall(ch, &s, VCHAN_RING_NOTIFY_WRITE);
		if (n <= 0)
			return n;
	}
}

int vchan_consume(struct vchan *ch, size_t len)
{
	int k = 0;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_ring_consume(&ch->ring, len, &k) < 0)
		return -1;
	return kick(ch, k);
}

ssize_t vchan_data_ready(struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (poisoned(ch))
		return -1;
	vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_WRITE);
	return vchan_ring_ready(&ch->ring);
}

ssize_t vchan_buffer_space(struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (poisoned(ch))
		return -1;
	vchan_ring_request(&ch->ring, VCHAN_RING_NOTIFY_READ);
	ch->want_space = 1;
	return vchan_ring_space(&ch->ring);
}

size_t vchan_read_size(const struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return 0;
	}
	return ch->ring.rd.size;
}

size_t vchan_write_size(const struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return 0;
	}
	return ch->ring.wr.size;
}

int vchan_wait(struct vchan *ch, int timeout_ms)
{
	unsigned bits = VCHAN_RING_NOTIFY_WRITE;
	uint64_t deadline = 0;
	long ready, space = 0;
	int prev, st, n;

	if (ch != NULL && poisoned(ch))
		return -1;
	if (ch == NULL || timeout_ms < -1) {
		errno = EINVAL;
		return -1;
	}
	prev = ch->ring.peer_state;
	if (ch->want_space)
		bits |= VCHAN_RING_NOTIFY_READ;
	if (ch->loop_wait_from != 0) {
		/* The loop slept after vchan_spin gave up: that was a wait. */
		note_wait(ch, now_ns() - ch->loop_wait_from);
		ch->loop_wait_from = 0;
	}
	if (timeout_ms != 0 && spin_window(ch) != 0 &&
	    spin(ch, bits, spin_window(ch), &deadline))
		return 1;
	vchan_ring_request(&ch->ring, bits);
	n = drain(ch);
	if (n < 0)
		return -1;
	st = vchan_ring_state(&ch->ring);
	if (st < 0)
		return -1;
	ready = vchan_ring_ready(&ch->ring);
	if (ready >= 0 && ch->want_space)
		space = vchan_ring_space(&ch->ring);
	if (ready < 0 || space < 0)
		return -1;
	if (n > 0 || st != prev || st == VCHAN_CLOSED || ready > 0 || space > 0)
		return 1;
	return sleep_events(ch, timeout_ms);
}

int vchan_spin(struct vchan *ch)
{
	unsigned bits = VCHAN_RING_NOTIFY_WRITE;
	uint64_t deadline = 0, window, now;
	unsigned asked;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (poisoned(ch))
		return -1;
	if (ch->want_space)
		bits |= VCHAN_RING_NOTIFY_READ;
	now = now_ns();
	window = spin_window(ch);
	if (window == 0)
		goto sleep;
	/* Take back the requests the last stalled call made: a peer that
	 * answers within the spin would otherwise send an event (a system
	 * call on its side, and one more here to consume it) for an answer
	 * we have already seen. */
	asked = vchan_ring_withdraw(&ch->ring, bits);
	if (spin(ch, bits, window, &deadline)) {
		note_wait(ch, now_ns() - now);
		ch->loop_wait_from = 0;
		return 1;
	}
	/* Ask again before the loop sleeps, then look once more: the peer
	 * may have moved after the spin's last look but before it could
	 * see the request (vchan_ring_request's barrier orders the two). */
	if (asked != 0) {
		vchan_ring_request(&ch->ring, asked);
		if (vchan_ring_changed(&ch->ring, bits)) {
			note_wait(ch, now_ns() - now);
			ch->loop_wait_from = 0;
			return 1;
		}
	}
	/* The peer took longer than the window: count that now, since an
	 * idle peer may never wake the loop for this channel, and a loop
	 * busy with others would spin here before every sleep. The loop
	 * sleeps now; vchan_wait, when it wakes, measures how long the peer
	 * took, so that spinning resumes once it is quick again. */
	note_wait(ch, window);
sleep:
	if (ch->spin_us != 0)
		ch->loop_wait_from = now;
	return 0;
}

int vchan_fd(const struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	return ch->efd >= 0 ? ch->efd : vchan_evt_fd(ch->evt);
}

int vchan_is_open(struct vchan *ch)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	return vchan_ring_state(&ch->ring);
}

int vchan_set_blocking(struct vchan *ch, int blocking)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	ch->blocking = blocking != 0;
	return 0;
}

int vchan_set_spin(struct vchan *ch, unsigned usec)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	ch->spin_us = usec;
	ch->wait_avg_ns = (uint64_t)usec * 1000u / 4u;
	return 0;
}
