/* grant/grant.c - opening the platform's backend, and the argument checks
 * every backend relies on. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <poll.h>

#include "common/platform.h"
#include "grant/backend.h"

/* The platform choice is common/'s; grant.h publishes it with these
 * names. */
_Static_assert((int)VCHAN_BACKEND_XEN == (int)VCHAN_PLATFORM_XEN &&
		   (int)VCHAN_BACKEND_SIM == (int)VCHAN_PLATFORM_SIM &&
		   (int)VCHAN_BACKEND_PV == (int)VCHAN_PLATFORM_PV,
	       "enum vchan_backend is enum vchan_platform");

/* A unikernel has the pv backend alone: sim is not built into it. */
vchan_gnt *vchan_gnt_open(void)
{
	switch (vchan_backend_select()) {
#ifndef HAVE_PV
	case VCHAN_BACKEND_SIM:
		return vchan_gnt_sim_open();
#endif
#ifdef HAVE_XEN
	case VCHAN_BACKEND_XEN:
		return vchan_gnt_xen_open();
#endif
#ifdef HAVE_PV
	case VCHAN_BACKEND_PV:
		return vchan_gnt_pv_open();
#endif
	default:
		return NULL;
	}
}

vchan_evt *vchan_evt_open(void)
{
	switch (vchan_backend_select()) {
#ifndef HAVE_PV
	case VCHAN_BACKEND_SIM:
		return vchan_evt_sim_open();
#endif
#ifdef HAVE_XEN
	case VCHAN_BACKEND_XEN:
		return vchan_evt_xen_open();
#endif
#ifdef HAVE_PV
	case VCHAN_BACKEND_PV:
		return vchan_evt_pv_open();
#endif
	default:
		return NULL;
	}
}

static int einval(void)
{
	errno = EINVAL;
	return -1;
}

static int check_pages(const vchan_gnt *h, uint32_t count, const void *refs,
		       int writable, const struct vchan_unmap_notify *n)
{
	if (h == NULL || refs == NULL || count == 0 ||
	    count > VCHAN_GNT_MAX_PAGES)
		return einval();
	if (n == NULL)
		return 0;
	/* Xen's gntalloc/gntdev take one notification per single-page share. */
	if (count != 1)
		return einval();
	if (n->offset != VCHAN_NOTIFY_NO_BYTE &&
	    (n->offset >= VCHAN_PAGE_SIZE || !writable))
		return einval();
	/* The event handle must belong to the same backend as the pages. */
	if (n->evt != NULL && (n->port == 0 || n->evt->backend != h->backend))
		return einval();
	return 0;
}

int vchan_gnt_close(vchan_gnt *h)
{
	if (h == NULL)
		return 0;
	return h->ops->close(h);
}

void *vchan_gnt_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		      uint32_t *refs, int writable,
		      const struct vchan_unmap_notify *notify)
{
	if (check_pages(h, count, refs, writable, notify) < 0)
		return NULL;
	return h->ops->share(h, peer, count, refs, writable, notify);
}

int vchan_gnt_unshare(vchan_gnt *h, void *addr, uint32_t count)
{
	if (h == NULL || addr == NULL || count == 0 ||
	    count > VCHAN_GNT_MAX_PAGES)
		return einval();
	return h->ops->unshare(h, addr, count);
}

void *vchan_gnt_map(vchan_gnt *h, uint32_t peer, uint32_t count,
		    const uint32_t *refs, int writable,
		    const struct vchan_unmap_notify *notify)
{
	if (check_pages(h, count, refs, writable, notify) < 0)
		return NULL;
	return h->ops->map(h, peer, count, refs, writable, notify);
}

int vchan_gnt_unmap(vchan_gnt *h, void *addr, uint32_t count)
{
	if (h == NULL || addr == NULL || count == 0 ||
	    count > VCHAN_GNT_MAX_PAGES)
		return einval();
	return h->ops->unmap(h, addr, count);
}

int vchan_evt_close(vchan_evt *h)
{
	if (h == NULL)
		return 0;
	return h->ops->close(h);
}

int vchan_evt_fd(const vchan_evt *h)
{
	if (h == NULL)
		return einval();
	return h->ops->fd(h);
}

int vchan_evt_alloc_unbound(vchan_evt *h, uint32_t remote)
{
	if (h == NULL)
		return einval();
	return h->ops->alloc_unbound(h, remote);
}

int vchan_evt_bind(vchan_evt *h, uint32_t remote, uint32_t remote_port)
{
	if (h == NULL || remote_port == 0)
		return einval();
	return h->ops->bind(h, remote, remote_port);
}

int vchan_evt_notify(vchan_evt *h, uint32_t port)
{
	if (h == NULL || port == 0)
		return einval();
	return h->ops->notify(h, port);
}

int vchan_evt_pending(vchan_evt *h)
{
	if (h == NULL)
		return einval();
	return h->ops->pending(h);
}

int vchan_evt_wait(vchan_evt *h)
{
	if (h == NULL)
		return einval();
	if (h->ops->wait != NULL) {
		int r = h->ops->wait(h);

		if (r != 0)
			return r;
	}
	for (;;) {
		struct pollfd pfd = {.fd = h->ops->fd(h), .events = POLLIN};
		int r = poll(&pfd, 1, -1);

		if (r < 0)
			return -1;
		r = h->ops->pending(h);
		if (r != 0)
			return r;
	}
}

int vchan_evt_stolen(vchan_evt *h, uint64_t *ns)
{
	if (h == NULL || ns == NULL)
		return einval();
	if (h->ops->stolen == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return h->ops->stolen(h, ns);
}

int vchan_evt_unbind(vchan_evt *h, uint32_t port)
{
	if (h == NULL || port == 0)
		return einval();
	return h->ops->unbind(h, port);
}

int vchan_evt_peer_gone(vchan_evt *h, uint32_t port)
{
	if (h == NULL || port == 0)
		return einval();
	return h->ops->peer_gone != NULL ? h->ops->peer_gone(h, port) : 0;
}

int vchan_evt_port_held(vchan_evt *h, uint32_t port)
{
	if (h == NULL || port == 0)
		return einval();
	if (h->ops->held == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return h->ops->held(h, port);
}
