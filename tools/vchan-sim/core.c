/* tools/vchan-sim/core.c - the calls libxenevtchn.so.1 lends to
 * libxengnttab.so.1 (dropin.h): the sim backend's grant half, with unmap
 * notifications that name a port of any open event handle. */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "grant/backend.h"
#include "grant/sim.h"
#include "tools/vchan-sim/dropin.h"

vchan_gnt *vchan_sim_dropin_gnt_open(void)
{
	return vchan_gnt_sim_open();
}

int vchan_sim_dropin_gnt_close(vchan_gnt *g)
{
	if (g == NULL) {
		errno = EINVAL;
		return -1;
	}
	return sim_gnt_close_unmapped(g);
}

/* Xen's (offset, port) pair as grant.h's notification; NULL + errno when
 * the port is in no open event handle. *use is NULL when nothing is to be
 * done on unmap. */
static int make_notify(uint32_t offset, uint32_t port,
		       struct vchan_unmap_notify *n,
		       const struct vchan_unmap_notify **use)
{
	*use = NULL;
	if (offset == DROPIN_NONE && port == DROPIN_NONE)
		return 0;
	n->offset = offset == DROPIN_NONE ? VCHAN_NOTIFY_NO_BYTE : offset;
	n->port = port == DROPIN_NONE ? 0 : port;
	n->evt = NULL;
	if (port != DROPIN_NONE) {
		n->evt = dropin_evt_for_port(port);
		if (n->evt == NULL) {
			errno = EINVAL;
			return -1;
		}
	}
	*use = n;
	return 0;
}

void *vchan_sim_dropin_share(vchan_gnt *g, uint32_t peer, uint32_t count,
			     uint32_t *refs, int writable,
			     uint32_t notify_offset, uint32_t notify_port)
{
	const struct vchan_unmap_notify *use;
	struct vchan_unmap_notify n;

	if (make_notify(notify_offset, notify_port, &n, &use) < 0)
		return NULL;
	return vchan_gnt_share(g, peer, count, refs, writable, use);
}

int vchan_sim_dropin_unshare(vchan_gnt *g, void *addr, uint32_t count)
{
	return vchan_gnt_unshare(g, addr, count);
}

void *vchan_sim_dropin_map(vchan_gnt *g, uint32_t domid, uint32_t count,
			   const uint32_t *refs, int writable,
			   uint32_t notify_offset, uint32_t notify_port)
{
	const struct vchan_unmap_notify *use;
	struct vchan_unmap_notify n;

	if (make_notify(notify_offset, notify_port, &n, &use) < 0)
		return NULL;
	return vchan_gnt_map(g, domid, count, refs, writable, use);
}

int vchan_sim_dropin_unmap(vchan_gnt *g, void *addr, uint32_t count)
{
	return vchan_gnt_unmap(g, addr, count);
}
