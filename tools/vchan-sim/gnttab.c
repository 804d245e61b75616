/* tools/vchan-sim/gnttab.c - libxengnttab.so.1 for the simulator: Xen's
 * grant table (xengnttab_*) and grant sharing (xengntshr_*) APIs on top of
 * the sim backend that libxenevtchn.so.1 carries (dropin.h).
 *
 * As with Xen's library, closing a handle does not unmap what it mapped or
 * shared: libxenvchan releases its multi-page rings with a plain munmap and
 * closes the handle afterwards. xengnttab_map_grant_refs takes one domain
 * for all pages (EINVAL otherwise); grant copy, dma-bufs and the handles'
 * file descriptors do not exist here (ENOSYS). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xengnttab.h>

#include "tools/vchan-sim/dropin.h"

struct xengntdev_handle {
	vchan_gnt *g;
};

static struct xengntdev_handle *open_handle(void)
{
	struct xengntdev_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->g = vchan_sim_dropin_gnt_open();
	if (h->g == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

static int close_handle(struct xengntdev_handle *h)
{
	int rc;

	if (h == NULL)
		return 0;
	rc = vchan_sim_dropin_gnt_close(h->g);
	free(h);
	return rc;
}

static int enosys(void)
{
	errno = ENOSYS;
	return -1;
}

static int writable(int prot)
{
	return (prot & PROT_WRITE) != 0;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	return open_handle();
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return close_handle(xgt);
}

int xengnttab_fd(xengnttab_handle *xgt)
{
	(void)xgt;
	return enosys();
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	return vchan_sim_dropin_map(xgt->g, domid, 1, &ref, writable(prot),
				    DROPIN_NONE, DROPIN_NONE);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count,
			       uint32_t *domids, uint32_t *refs, int prot)
{
	if (count == 0 || domids == NULL) {
		errno = EINVAL;
		return NULL;
	}
	/* One sim mapping comes from one domain. */
	for (uint32_t i = 1; i < count; i++) {
		if (domids[i] != domids[0]) {
			errno = EINVAL;
			return NULL;
		}
	}
	return vchan_sim_dropin_map(xgt->g, domids[0], count, refs,
				    writable(prot), DROPIN_NONE, DROPIN_NONE);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count,
				      uint32_t domid, uint32_t *refs, int prot)
{
	return vchan_sim_dropin_map(xgt->g, domid, count, refs, writable(prot),
				    DROPIN_NONE, DROPIN_NONE);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid,
				     uint32_t ref, int prot,
				     uint32_t notify_offset,
				     evtchn_port_t notify_port)
{
	return vchan_sim_dropin_map(xgt->g, domid, 1, &ref, writable(prot),
				    notify_offset, notify_port);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	return vchan_sim_dropin_unmap(xgt->g, start_address, count);
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	/* The sim backend has no per-handle limit to set. */
	(void)xgt;
	(void)nr_grants;
	return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	(void)xgt;
	(void)count;
	(void)segs;
	return enosys();
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid,
				   uint32_t flags, uint32_t count,
				   const uint32_t *refs, uint32_t *fd)
{
	(void)xgt;
	(void)domid;
	(void)flags;
	(void)count;
	(void)refs;
	(void)fd;
	return enosys();
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
				       uint32_t wait_to_ms)
{
	(void)xgt;
	(void)fd;
	(void)wait_to_ms;
	return enosys();
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid,
				 uint32_t fd, uint32_t count, uint32_t *refs)
{
	(void)xgt;
	(void)domid;
	(void)fd;
	(void)count;
	(void)refs;
	return enosys();
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
	(void)xgt;
	(void)fd;
	return enosys();
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
				 unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	return open_handle();
}

int xengntshr_close(xengntshr_handle *xgs)
{
	return close_handle(xgs);
}

int xengntshr_fd(xengntshr_handle *xgs)
{
	(void)xgs;
	return enosys();
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count,
			    uint32_t *refs, int writable_)
{
	if (count <= 0) {
		errno = EINVAL;
		return NULL;
	}
	return vchan_sim_dropin_share(xgs->g, domid, (uint32_t)count, refs,
				      writable_, DROPIN_NONE, DROPIN_NONE);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
				  uint32_t *ref, int writable_,
				  uint32_t notify_offset,
				  evtchn_port_t notify_port)
{
	return vchan_sim_dropin_share(xgs->g, domid, 1, ref, writable_,
				      notify_offset, notify_port);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address,
		      uint32_t count)
{
	return vchan_sim_dropin_unshare(xgs->g, start_address, count);
}
