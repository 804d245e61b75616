/* grant/xen.c - the xen backend: grant tables through libxengntshr (share)
 * and libxengnttab (map), event channels through libxenevtchn.
 *
 * The handles remember every share, map and port they hold, so that a bad
 * address or port is refused here (EINVAL) instead of reaching the kernel
 * drivers, and so that close can release whatever is still outstanding. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "common/env.h"
#include "grant/backend.h"

/* The drivers take "no port" as all ones, and "no byte" too, which is
 * what VCHAN_NOTIFY_NO_BYTE is: offsets pass through unchanged. */
#define XEN_NO_PORT ((evtchn_port_t)-1)
_Static_assert(VCHAN_NOTIFY_NO_BYTE == (uint32_t)-1,
	       "VCHAN_NOTIFY_NO_BYTE must be the drivers' \"no byte\"");

struct region {
	void *addr;
	uint32_t count;
};

/* A small unordered set of regions; a handle holds only a few. */
struct regions {
	struct region *v;
	size_t len, cap;
};

struct xen_gnt {
	struct vchan_gnt base; /* first: grant.c sees only this */
	xengntshr_handle *shr; /* opened on the first share */
	xengnttab_handle *tab; /* opened on the first map */
	int shr_warned, tab_warned;
	struct regions shares, maps;
};

struct xen_evt {
	struct vchan_evt base; /* first: grant.c sees only this */
	xenevtchn_handle *xce;
	int fd;
	uint32_t *ports; /* bound ports, unordered */
	int *marks;	 /* per port: its mark (port_mark), or -1 */
	size_t nports, cap;
};

static int fail(int err)
{
	errno = err;
	return -1;
}

/* Make room for one more region, so that a share or map that succeeded
 * can always be recorded: one we could not record could never be released. */
static int regions_reserve(struct regions *r)
{
	size_t cap;
	struct region *v;

	if (r->len < r->cap)
		return 0;
	cap = r->cap ? r->cap * 2 : 8;
	v = realloc(r->v, cap * sizeof(*v));
	if (v == NULL)
		return fail(ENOMEM);
	r->v = v;
	r->cap = cap;
	return 0;
}

/* Only after regions_reserve. */
static void regions_add(struct regions *r, void *addr, uint32_t count)
{
	r->v[r->len].addr = addr;
	r->v[r->len].count = count;
	r->len++;
}

/* Index of the region (addr, count), or -1 when there is none. */
static long regions_find(const struct regions *r, const void *addr,
			 uint32_t count)
{
	for (size_t i = 0; i < r->len; i++)
		if (r->v[i].addr == addr && r->v[i].count == count)
			return (long)i;
	return -1;
}

static void regions_del(struct regions *r, size_t i)
{
	r->v[i] = r->v[--r->len];
}

static int evt_find(const struct xen_evt *e, uint32_t port)
{
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i] == port)
			return (int)i;
	return -1;
}

/* The port the drivers take for a notification: all ones for none. */
static evtchn_port_t notify_port(const struct vchan_unmap_notify *n)
{
	return n->evt == NULL ? XEN_NO_PORT : n->port;
}

/* grant.c has checked that notify->evt is a xen handle; its port must be
 * one that handle has bound, or the driver would signal someone else's. */
static int notify_check(const struct vchan_unmap_notify *n)
{
	if (n == NULL || n->evt == NULL)
		return 0;
	if (evt_find((const struct xen_evt *)n->evt, n->port) < 0)
		return fail(EINVAL);
	return 0;
}

/* Opening the device fails most often because the module is not loaded:
 * say so once per handle, keeping the library's errno. */
static void warn_open(int *warned, const char *dev, const char *module)
{
	int err = errno;

	if (!*warned)
		fprintf(
		    stderr,
		    "vchan: cannot open %s (%s): is the %s module loaded?\n",
		    dev, strerror(err), module);
	*warned = 1;
	errno = err;
}

static void *gnt_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		       uint32_t *refs, int writable,
		       const struct vchan_unmap_notify *notify)
{
	struct xen_gnt *g = (struct xen_gnt *)h;
	void *addr;

	if (notify_check(notify) < 0)
		return NULL;
	if (g->shr == NULL) {
		g->shr = xengntshr_open(NULL, 0);
		if (g->shr == NULL) {
			warn_open(&g->shr_warned, "/dev/xen/gntalloc",
				  "xen-gntalloc");
			return NULL;
		}
	}
	if (regions_reserve(&g->shares) < 0)
		return NULL;

	if (notify == NULL) {
		addr = xengntshr_share_pages(g->shr, peer, (int)count, refs,
					     writable);
	} else {
		addr = xengntshr_share_page_notify(g->shr, peer, refs, writable,
						   notify->offset,
						   notify_port(notify));
	}
	if (addr == NULL)
		return NULL;

	/* The vchan protocol reads a ref of 0 as "no ring": never hand it
	 * out, even if Xen would. */
	for (uint32_t i = 0; i < count; i++) {
		if (refs[i] != 0)
			continue;
		xengntshr_unshare(g->shr, addr, count);
		errno = EIO;
		return NULL;
	}
	regions_add(&g->shares, addr, count);
	return addr;
}

static int gnt_unshare(vchan_gnt *h, void *addr, uint32_t count)
{
	struct xen_gnt *g = (struct xen_gnt *)h;
	long i = regions_find(&g->shares, addr, count);

	if (i < 0)
		return fail(EINVAL);
	if (xengntshr_unshare(g->shr, addr, count) < 0)
		return -1;
	regions_del(&g->shares, (size_t)i);
	return 0;
}

static void *gnt_map(vchan_gnt *h, uint32_t peer, uint32_t count,
		     const uint32_t *refs, int writable,
		     const struct vchan_unmap_notify *notify)
{
	struct xen_gnt *g = (struct xen_gnt *)h;
	int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	uint32_t copy[VCHAN_GNT_MAX_PAGES];
	void *addr;

	if (notify_check(notify) < 0)
		return NULL;
	if (g->tab == NULL) {
		g->tab = xengnttab_open(NULL, 0);
		if (g->tab == NULL) {
			warn_open(&g->tab_warned, "/dev/xen/gntdev",
				  "xen-gntdev");
			return NULL;
		}
	}
	if (regions_reserve(&g->maps) < 0)
		return NULL;

	if (notify == NULL) {
		/* libxengnttab takes the refs non-const; keep ours intact. */
		memcpy(copy, refs, count * sizeof(*refs));
		addr = xengnttab_map_domain_grant_refs(g->tab, count, peer,
						       copy, prot);
	} else {
		addr = xengnttab_map_grant_ref_notify(g->tab, peer, refs[0],
						      prot, notify->offset,
						      notify_port(notify));
	}
	if (addr == NULL)
		return NULL;
	regions_add(&g->maps, addr, count);
	return addr;
}

static int gnt_unmap(vchan_gnt *h, void *addr, uint32_t count)
{
	struct xen_gnt *g = (struct xen_gnt *)h;
	long i = regions_find(&g->maps, addr, count);

	if (i < 0)
		return fail(EINVAL);
	if (xengnttab_unmap(g->tab, addr, count) < 0)
		return -1;
	regions_del(&g->maps, (size_t)i);
	return 0;
}

/* Releases everything even when a step fails; reports the first failure. */
static int gnt_close(vchan_gnt *h)
{
	struct xen_gnt *g = (struct xen_gnt *)h;
	int err = 0;

	for (size_t i = 0; i < g->shares.len; i++)
		if (xengntshr_unshare(g->shr, g->shares.v[i].addr,
				      g->shares.v[i].count) < 0 &&
		    err == 0)
			err = errno;
	for (size_t i = 0; i < g->maps.len; i++)
		if (xengnttab_unmap(g->tab, g->maps.v[i].addr,
				    g->maps.v[i].count) < 0 &&
		    err == 0)
			err = errno;
	if (g->shr != NULL && xengntshr_close(g->shr) < 0 && err == 0)
		err = errno;
	if (g->tab != NULL && xengnttab_close(g->tab) < 0 && err == 0)
		err = errno;
	free(g->shares.v);
	free(g->maps.v);
	free(g);
	return err ? fail(err) : 0;
}

static const struct gnt_ops xen_gnt_ops = {
    .close = gnt_close,
    .share = gnt_share,
    .unshare = gnt_unshare,
    .map = gnt_map,
    .unmap = gnt_unmap,
};

vchan_gnt *vchan_gnt_xen_open(void)
{
	struct xen_gnt *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->base.ops = &xen_gnt_ops;
	g->base.backend = VCHAN_BACKEND_XEN;
	return &g->base;
}

static int evt_reserve(struct xen_evt *e)
{
	size_t cap;
	uint32_t *v;
	int *m;

	if (e->nports < e->cap)
		return 0;
	cap = e->cap ? e->cap * 2 : 8;
	v = realloc(e->ports, cap * sizeof(*v));
	if (v == NULL)
		return fail(ENOMEM);
	e->ports = v;
	m = realloc(e->marks, cap * sizeof(*m));
	if (m == NULL)
		return fail(ENOMEM);
	e->marks = m;
	e->cap = cap;
	return 0;
}

/* A port we offer (alloc_unbound) is marked, for as long as we hold it,
 * by a socket bound to the abstract name "vchan-evtchn/<port>". Port
 * numbers belong to the domain, and a domain is one kernel: whoever holds
 * the name holds the port, and the kernel frees the name when its holder
 * dies. Returns the socket, or -1 when the name is taken (EADDRINUSE) or
 * cannot be had. */
static int port_mark(uint32_t port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int n;

	if (fd < 0)
		return -1;
	n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "vchan-evtchn/%u",
		     port);
	if (bind(fd, (struct sockaddr *)&a,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			     (size_t)n)) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static void drop_port(struct xen_evt *e, size_t i)
{
	if (e->marks[i] >= 0)
		close(e->marks[i]);
	e->nports--;
	e->ports[i] = e->ports[e->nports];
	e->marks[i] = e->marks[e->nports];
}

static int evt_close(vchan_evt *h)
{
	struct xen_evt *e = (struct xen_evt *)h;
	int err = 0;

	for (size_t i = 0; i < e->nports; i++) {
		if (xenevtchn_unbind(e->xce, e->ports[i]) < 0 && err == 0)
			err = errno;
		if (e->marks[i] >= 0)
			close(e->marks[i]);
	}
	if (xenevtchn_close(e->xce) < 0 && err == 0)
		err = errno;
	free(e->ports);
	free(e->marks);
	free(e);
	return err ? fail(err) : 0;
}

static int evt_fd(const vchan_evt *h)
{
	return ((const struct xen_evt *)h)->fd;
}

static int evt_alloc_unbound(vchan_evt *h, uint32_t remote)
{
	struct xen_evt *e = (struct xen_evt *)h;
	int port;

	if (evt_reserve(e) < 0)
		return -1;
	port = xenevtchn_bind_unbound_port(e->xce, remote);
	if (port < 0)
		return -1;
	e->marks[e->nports] = port_mark((uint32_t)port);
	e->ports[e->nports++] = (uint32_t)port;
	return port;
}

static int evt_bind(vchan_evt *h, uint32_t remote, uint32_t remote_port)
{
	struct xen_evt *e = (struct xen_evt *)h;
	int port;

	if (evt_reserve(e) < 0)
		return -1;
	port = xenevtchn_bind_interdomain(e->xce, remote, remote_port);
	if (port < 0)
		return -1;
	e->marks[e->nports] = -1;
	e->ports[e->nports++] = (uint32_t)port;
	return port;
}

static int evt_notify(vchan_evt *h, uint32_t port)
{
	struct xen_evt *e = (struct xen_evt *)h;

	if (evt_find(e, port) < 0)
		return fail(EINVAL);
	return xenevtchn_notify(e->xce, port) < 0 ? -1 : 0;
}

static int evt_pending(vchan_evt *h)
{
	struct xen_evt *e = (struct xen_evt *)h;
	struct pollfd p = {.fd = e->fd, .events = POLLIN};
	int n, port;

	/* xenevtchn_pending may block even on a non-blocking fd (see
	 * xenevtchn.h): only read when poll says there is something. */
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0 || !(p.revents & POLLIN))
		return 0;
	port = xenevtchn_pending(e->xce);
	if (port < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	/* The driver masks a port when it delivers an event; unmask at once
	 * so the next event is not lost. */
	if (xenevtchn_unmask(e->xce, (evtchn_port_t)port) < 0)
		return -1;
	return port;
}

static int evt_unbind(vchan_evt *h, uint32_t port)
{
	struct xen_evt *e = (struct xen_evt *)h;
	int i = evt_find(e, port);

	if (i < 0)
		return fail(EINVAL);
	if (xenevtchn_unbind(e->xce, port) < 0)
		return -1;
	drop_port(e, (size_t)i);
	return 0;
}

/* Held: ours, or its mark's name is taken (port_mark). */
static int evt_held(vchan_evt *h, uint32_t port)
{
	struct xen_evt *e = (struct xen_evt *)h;
	int fd;

	if (evt_find(e, port) >= 0)
		return 1;
	fd = port_mark(port);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EADDRINUSE ? 1 : -1;
}

static const struct evt_ops xen_evt_ops = {
    .close = evt_close,
    .fd = evt_fd,
    .alloc_unbound = evt_alloc_unbound,
    .bind = evt_bind,
    .notify = evt_notify,
    .pending = evt_pending,
    .unbind = evt_unbind,
    .held = evt_held,
    .stolen = vchan_linux_stolen,
};

vchan_evt *vchan_evt_xen_open(void)
{
	struct xen_evt *e = calloc(1, sizeof(*e));
	int err;

	if (e == NULL)
		return NULL;
	e->xce = xenevtchn_open(NULL, 0);
	if (e->xce == NULL) {
		err = errno;
		if (!vchan_env_xen_absent())
			fprintf(stderr,
				"vchan: cannot open /dev/xen/evtchn (%s): is "
				"this a Xen domain with the xen-evtchn module "
				"loaded?\n",
				strerror(err));
		free(e);
		errno = err;
		return NULL;
	}
	e->fd = xenevtchn_fd(e->xce);
	if (e->fd < 0) {
		err = errno;
		xenevtchn_close(e->xce);
		free(e);
		errno = err;
		return NULL;
	}
	e->base.ops = &xen_evt_ops;
	e->base.backend = VCHAN_BACKEND_XEN;
	return &e->base;
}
