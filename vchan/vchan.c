/* vchan/vchan.c - channel setup over grant/ and xenstore/: the server's
 * offer, the client's connection, closing, and watching the peer's domain. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "grant/backend.h"
#include "grant/grant.h"
#include "vchan/channel.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"
#include "vchan/wait.h"
#include "xenstore/xs.h"

#define KEY_REF "ring-ref"
#define KEY_EVT "event-channel"
/* grants[] holds at most (4096 - 24) / 4 references. */
#define MAX_GRANTS ((VCHAN_PAGE_SIZE - sizeof(struct vchan_wire)) / 4u)

/* Note a failed release: the first error is the one reported. */
static void release(int rc, int *err)
{
	if (rc < 0 && *err == 0)
		*err = errno;
}

/* Give back a ring's own pages, if it has any. */
static void release_ring(struct vchan *ch, struct ring_pages *r, int *err)
{
	if (r->addr == NULL)
		return;
	release(ch->server ? vchan_gnt_unshare(ch->gnt, r->addr, r->count)
			   : vchan_gnt_unmap(ch->gnt, r->addr, r->count),
		err);
}

/* A ring's memory: `count` pages of its own, shared with `peer` (server;
 * their grant references written to refs[]) or mapped from it (client;
 * read from refs[], `writable` or not), kept in *r; when count is 0,
 * the control page at `offset`. Returns its address, or NULL + errno. */
void *vchan_ring_memory(struct vchan *ch, struct ring_pages *r, uint32_t peer,
			uint32_t count, uint32_t *refs, int writable,
			uint32_t offset)
{
	if (count == 0)
		return (uint8_t *)ch->page + offset;
	r->addr =
	    ch->server
		? vchan_gnt_share(ch->gnt, peer, count, refs, 1, NULL)
		: vchan_gnt_map(ch->gnt, peer, count, refs, writable, NULL);
	if (r->addr != NULL)
		r->count = count;
	return r->addr;
}

/* Release everything and free the handle. Returns 0, or the errno of the
 * first release that failed (errno itself is left as it was). */
int vchan_free_handle(struct vchan *ch)
{
	int saved = errno, err = 0;

	if (ch->page != NULL) {
		release_ring(ch, &ch->left, &err);
		release_ring(ch, &ch->right, &err);
		release(ch->server ? vchan_gnt_unshare(ch->gnt, ch->page, 1)
				   : vchan_gnt_unmap(ch->gnt, ch->page, 1),
			&err);
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

struct vchan *vchan_new_handle(int server)
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
	vchan_free_handle(ch);
	return NULL;
}

/* On Xen, a peer *domain* that is destroyed runs no unmap-notify: its
 * live byte stays set and no event comes (Xen closes its end of the event
 * channel silently), so a channel would wait forever. Watch XenStore for
 * the domain going (@releaseDomain, and its /local/domain/<id> directory,
 * which the tool stack removes) and make vchan_fd wake on either. The sim
 * backend needs none of this: a dead process's bytes are cleared. */
int vchan_watch_peer(struct vchan *ch)
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

/* The peer's domain is gone: clear its live byte ourselves, as its
 * unmap-notify would have. Nobody else writes that byte any more, and the
 * page stays mapped until we close. */
static void mark_peer_closed(struct vchan *ch)
{
	size_t off = ch->server ? offsetof(struct vchan_wire, cli_live)
				: offsetof(struct vchan_wire, srv_live);

	__atomic_store_n((uint8_t *)ch->page + off, (uint8_t)VCHAN_CLOSED,
			 __ATOMIC_SEQ_CST);
}

/* After a watch fired: when the peer's domain is gone, mark it closed. */
void vchan_check_peer(struct vchan *ch)
{
	char dir[32], *p, *t, *v;
	int fired = 0;
	size_t len;

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
	mark_peer_closed(ch);
}

/* A XenStore node name fit to be a port: 1..VCHAN_PORT_MAX bytes of
 * [A-Za-z0-9_@-]. */
int vchan_port_ok(const char *port)
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
int vchan_build_path(vchan_xs *xs, char *buf, size_t size, uint32_t owner,
		     uint32_t peer, const char *port)
{
	int n;

	if (buf == NULL || !vchan_port_ok(port) ||
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
	return vchan_build_path(NULL, buf, size, owner, peer, port);
}

/* Whether a live server already offers at `path`: its keys name an event
 * channel port of our domain (a server publishes under its own domain's
 * directory), and a live server holds that port; a dead one's port is
 * free (its holder's death released it) or gone. Keys that cannot be read
 * or parsed, or a backend that cannot tell, are taken over as a dead
 * server's would be. Returns 0 when the path is free to take, -1 + errno
 * (EADDRINUSE) when it is not. See docs/vchan-wire.md. */
static int path_in_use(struct vchan *ch, const char *path)
{
	uint32_t ref, evport;

	if (vchan_read_keys(ch->xs, path, &ref, &evport) != 1)
		return 0;
	if (vchan_evt_port_held(ch->evt, evport) != 1)
		return 0;
	errno = EADDRINUSE;
	return -1;
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

	if ((path == NULL &&
	     (!vchan_port_ok(port) || peer >= VCHAN_DOMID_SELF)) ||
	    vchan_ring_layout(lo, ro, &lay) < 0) {
		errno = EINVAL;
		return NULL;
	}
	ch = vchan_new_handle(1);
	if (ch == NULL)
		return NULL;
	if (path == NULL) {
		if (vchan_build_path(ch->xs, buf, sizeof(buf), VCHAN_DOMID_SELF,
				     peer, port) < 0)
			goto fail;
		path = buf;
	}
	ch->path = strdup(path);
	if (ch->path == NULL)
		goto fail;
	/* Before our own port is allocated: it could be the dead server's
	 * number again. */
	if (path_in_use(ch, path) < 0)
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
	left = vchan_ring_memory(ch, &ch->left, peer, lay.left_pages,
				 page->grants, 1, lay.left_offset);
	if (left == NULL)
		goto fail;
	right = vchan_ring_memory(ch, &ch->right, peer, lay.right_pages,
				  page->grants + lay.left_pages, 1,
				  lay.right_offset);
	if (right == NULL)
		goto fail;
	vchan_ring_server_init(&ch->ring, page, lo, ro, left, right);

	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sevt, sizeof(sevt), "%u", ch->port);
	if (vchan_xs_publish(ch->xs, path, kv, 2, peer) < 0)
		goto fail;
	ch->published = 1;
	ch->peer = peer;
	if (vchan_watch_peer(ch) < 0)
		goto fail;
	return ch;
fail:
	vchan_free_handle(ch);
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

	if (!vchan_port_ok(port)) {
		errno = EINVAL;
		return NULL;
	}
	if (vchan_ring_orders(read_min, write_min, &lo, &ro) < 0)
		return NULL;
	return server_create(peer, NULL, port, lo, ro);
}

int vchan_unpublish(struct vchan *ch)
{
	if (!ch->published)
		return 0;
	ch->published = 0;
	return vchan_xs_rm(ch->xs, ch->path);
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
	rest = vchan_free_handle(ch);
	if (err == 0)
		err = rest;
	if (err != 0) {
		errno = err;
		return -1;
	}
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
	int st;

	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	st = vchan_ring_state(&ch->ring);
	/* In a unikernel no watch tells of a destroyed peer domain (see
	 * vchan_check_peer): ask Xen about our end of the event channel. */
	if (st == VCHAN_CONNECTED &&
	    vchan_evt_peer_gone(ch->evt, ch->port) == 1) {
		mark_peer_closed(ch);
		st = vchan_ring_state(&ch->ring);
	}
	return st;
}
