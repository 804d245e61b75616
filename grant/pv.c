/* grant/pv.c - the pv backend: grant tables and event channels through
 * hypercalls, inside a unikernel (unikernel/).
 *
 * The domain has one grant table. It is set up on first use, holds one
 * frame at first and grows (GNTTABOP_setup_table with more frames, all
 * remapped at one contiguous range of addresses) when its references run
 * out, up to the maximum Xen allows the domain. That table and its free
 * list are the one piece of state all handles share: `table` below. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/xen.h>

#include "grant/backend.h"
#include "unikernel/pv.h"

/* Xen reserves the first references of a table for its tool stack. */
#define FIRST_REF      8u
#define REFS_PER_FRAME (VCHAN_PAGE_SIZE / sizeof(grant_entry_v1_t))
#define MAX_BOUND      64u

struct gnt_table {
	grant_entry_v1_t *entries; /* mapped at a range of max_frames pages */
	uint32_t frames, max_frames;
	uint32_t *free_refs; /* stack of free references */
	uint32_t nfree;
	unsigned users; /* open grant handles */
	/* Pages whose peer kept them mapped when we unshared: they cannot
	 * be reused until it lets go, so they are kept here and tried
	 * again. */
	struct region *lingering;
};

static struct gnt_table *table;

/* A share or a map this handle made. */
struct region {
	struct region *next;
	void *addr;
	uint32_t count;
	int mapped; /* 1: a peer's pages mapped here; 0: ours shared */
	int writable;
	struct vchan_unmap_notify notify;
	int has_notify;
	uint32_t refs[VCHAN_GNT_MAX_PAGES];	     /* shared: our refs */
	grant_handle_t handles[VCHAN_GNT_MAX_PAGES]; /* mapped: Xen's */
};

struct pv_gnt {
	vchan_gnt base;
	struct region *regions;
};

struct pv_evt {
	vchan_evt base;
	int fd;
	uint32_t ports[MAX_BOUND];
	unsigned n;
};

static long gnttab_op(unsigned cmd, void *arg, unsigned count)
{
	return uk_hypercall(__HYPERVISOR_grant_table_op, cmd,
			    (unsigned long)arg, count, 0, 0);
}

/* Ask Xen for `frames` frames in all and map them in order. */
static int table_grow(uint32_t frames)
{
	xen_pfn_t list[64];
	struct gnttab_setup_table setup = {.dom = DOMID_SELF,
					   .nr_frames = frames};
	uint32_t *refs;

	if (frames > table->max_frames || frames > 64) {
		errno = ENOSPC;
		return -1;
	}
	set_xen_guest_handle(setup.frame_list, list);
	if (gnttab_op(GNTTABOP_setup_table, &setup, 1) < 0 ||
	    setup.status != GNTST_okay) {
		errno = ENOSPC;
		return -1;
	}
	refs =
	    realloc(table->free_refs, frames * REFS_PER_FRAME * sizeof(*refs));
	if (refs == NULL)
		return -1;
	table->free_refs = refs;
	for (uint32_t i = 0; i < frames; i++)
		if (uk_va_map((char *)table->entries + i * VCHAN_PAGE_SIZE,
			      list[i], 1) < 0)
			return -1;
	/* The new frames' references are free; push them highest first so
	 * that low ones go out first. */
	for (uint32_t r = frames * REFS_PER_FRAME;
	     r-- > table->frames * REFS_PER_FRAME;)
		if (r >= FIRST_REF)
			refs[table->nfree++] = r;
	table->frames = frames;
	return 0;
}

static int table_open(void)
{
	struct gnttab_query_size q = {.dom = DOMID_SELF};

	if (table != NULL) {
		table->users++;
		return 0;
	}
	if (gnttab_op(GNTTABOP_query_size, &q, 1) < 0 ||
	    q.status != GNTST_okay) {
		errno = EIO;
		return -1;
	}
	table = calloc(1, sizeof(*table));
	if (table == NULL)
		return -1;
	table->max_frames = q.max_nr_frames < 64 ? q.max_nr_frames : 64;
	table->entries = uk_va_alloc(table->max_frames);
	if (table->entries == NULL ||
	    table_grow(q.nr_frames ? q.nr_frames : 1) < 0) {
		/* The addresses stay reserved: Xen may have mapped frames. */
		free(table->free_refs);
		free(table);
		table = NULL;
		return -1;
	}
	table->users = 1;
	return 0;
}

static int ref_alloc(uint32_t *ref)
{
	if (table->nfree == 0 && table_grow(table->frames + 1) < 0)
		return -1;
	*ref = table->free_refs[--table->nfree];
	return 0;
}

/* Withdraw access to `ref`. Fails (EBUSY) while the peer still has the
 * page mapped: Xen's flags then say reading or writing, and the page
 * must not be reused. */
static int ref_end(uint32_t ref)
{
	uint16_t *flags = &table->entries[ref].flags;
	uint16_t f = __atomic_load_n(flags, __ATOMIC_ACQUIRE);

	do {
		if (f & (GTF_reading | GTF_writing)) {
			errno = EBUSY;
			return -1;
		}
	} while (!__atomic_compare_exchange_n(flags, &f, 0, 0, __ATOMIC_SEQ_CST,
					      __ATOMIC_ACQUIRE));
	table->free_refs[table->nfree++] = ref;
	return 0;
}

static void fire(const struct region *r)
{
	if (!r->has_notify)
		return;
	if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE && r->writable)
		__atomic_store_n((uint8_t *)r->addr + r->notify.offset, 0,
				 __ATOMIC_SEQ_CST);
	if (r->notify.evt != NULL)
		vchan_evt_notify(r->notify.evt, r->notify.port);
}

static struct region *new_region(struct pv_gnt *g, void *addr, uint32_t count,
				 int mapped, int writable,
				 const struct vchan_unmap_notify *n)
{
	struct region *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->addr = addr;
	r->count = count;
	r->mapped = mapped;
	r->writable = writable;
	if (n != NULL) {
		r->notify = *n;
		r->has_notify = 1;
	}
	r->next = g->regions;
	g->regions = r;
	return r;
}

static struct region *take_region(struct pv_gnt *g, void *addr, uint32_t count,
				  int mapped)
{
	for (struct region **p = &g->regions; *p != NULL; p = &(*p)->next) {
		struct region *r = *p;

		if (r->addr == addr && r->count == count &&
		    r->mapped == mapped) {
			*p = r->next;
			return r;
		}
	}
	return NULL;
}

static void release_shared(struct region *r)
{
	uint32_t busy = 0;

	for (uint32_t i = 0; i < r->count; i++) {
		if (r->refs[i] == 0)
			continue;
		if (ref_end(r->refs[i]) == 0)
			r->refs[i] = 0;
		else
			busy++;
	}
	if (busy == 0) {
		uk_pages_free(r->addr, r->count);
		free(r);
		return;
	}
	r->next = table->lingering;
	table->lingering = r;
}

static void retry_lingering(void)
{
	struct region *r = table->lingering;

	table->lingering = NULL;
	while (r != NULL) {
		struct region *next = r->next;

		release_shared(r);
		r = next;
	}
}

static void *pv_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		      uint32_t *refs, int writable,
		      const struct vchan_unmap_notify *notify)
{
	struct pv_gnt *g = (struct pv_gnt *)h;
	struct region *r;
	uint8_t *pages;
	uint32_t i;

	retry_lingering();
	pages = uk_pages_alloc(count);
	if (pages == NULL)
		return NULL;
	r = new_region(g, pages, count, 0, writable, notify);
	if (r == NULL) {
		uk_pages_free(pages, count);
		return NULL;
	}
	for (i = 0; i < count; i++) {
		grant_entry_v1_t *e;

		if (ref_alloc(&r->refs[i]) < 0)
			goto fail;
		e = &table->entries[r->refs[i]];
		e->frame =
		    (uint32_t)uk_virt_to_mfn(pages + i * VCHAN_PAGE_SIZE);
		e->domid = (domid_t)peer;
		/* Frame and domain before the flags that make them live. */
		__atomic_store_n(&e->flags,
				 (uint16_t)(GTF_permit_access |
					    (writable ? 0 : GTF_readonly)),
				 __ATOMIC_RELEASE);
		refs[i] = r->refs[i];
	}
	return pages;
fail:
	take_region(g, pages, count, 0);
	r->has_notify = 0;
	release_shared(r);
	return NULL;
}

static int pv_unshare(vchan_gnt *h, void *addr, uint32_t count)
{
	struct region *r = take_region((struct pv_gnt *)h, addr, count, 0);

	if (r == NULL) {
		errno = EINVAL;
		return -1;
	}
	fire(r);
	release_shared(r);
	return 0;
}

static int unmap_pages(struct region *r, uint32_t n)
{
	int rc = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct gnttab_unmap_grant_ref u = {
		    .host_addr =
			(uint64_t)(uintptr_t)r->addr + i * VCHAN_PAGE_SIZE,
		    .handle = r->handles[i]};

		if (gnttab_op(GNTTABOP_unmap_grant_ref, &u, 1) < 0 ||
		    u.status != GNTST_okay)
			rc = -1;
	}
	return rc;
}

static int map_errno(int16_t status)
{
	switch (status) {
	case GNTST_permission_denied:
		return EPERM;
	case GNTST_no_device_space:
		return ENOSPC;
	case GNTST_eagain:
		return EAGAIN;
	default:
		/* A bad reference, a domain that is gone, or an entry that
		 * is not (or no longer) a grant to us. */
		return ENOENT;
	}
}

static void *pv_map(vchan_gnt *h, uint32_t peer, uint32_t count,
		    const uint32_t *refs, int writable,
		    const struct vchan_unmap_notify *notify)
{
	struct pv_gnt *g = (struct pv_gnt *)h;
	struct region *r;
	void *va = uk_va_alloc(count);
	uint32_t i;

	if (va == NULL)
		return NULL;
	r = new_region(g, va, count, 1, writable, notify);
	if (r == NULL) {
		uk_va_free(va, count);
		return NULL;
	}
	for (i = 0; i < count; i++) {
		struct gnttab_map_grant_ref m = {
		    .host_addr = (uint64_t)(uintptr_t)va + i * VCHAN_PAGE_SIZE,
		    .flags = GNTMAP_host_map | (writable ? 0 : GNTMAP_readonly),
		    .ref = refs[i],
		    .dom = (domid_t)peer};

		if (gnttab_op(GNTTABOP_map_grant_ref, &m, 1) < 0 ||
		    m.status != GNTST_okay) {
			int err = map_errno(m.status);

			unmap_pages(r, i);
			take_region(g, va, count, 1);
			free(r);
			uk_va_free(va, count);
			errno = err;
			return NULL;
		}
		r->handles[i] = m.handle;
	}
	return va;
}

static int pv_unmap(vchan_gnt *h, void *addr, uint32_t count)
{
	struct region *r = take_region((struct pv_gnt *)h, addr, count, 1);
	int rc;

	if (r == NULL) {
		errno = EINVAL;
		return -1;
	}
	fire(r);
	rc = unmap_pages(r, r->count);
	uk_va_free(r->addr, r->count);
	free(r);
	if (rc < 0)
		errno = EIO;
	return rc;
}

static int pv_gnt_close(vchan_gnt *h)
{
	struct pv_gnt *g = (struct pv_gnt *)h;
	int rc = 0;

	while (g->regions != NULL) {
		struct region *r = g->regions;

		if ((r->mapped ? pv_unmap(h, r->addr, r->count)
			       : pv_unshare(h, r->addr, r->count)) < 0)
			rc = -1;
	}
	if (--table->users == 0)
		retry_lingering();
	free(g);
	return rc;
}

static const struct gnt_ops pv_gnt_ops = {
    .close = pv_gnt_close,
    .share = pv_share,
    .unshare = pv_unshare,
    .map = pv_map,
    .unmap = pv_unmap,
};

vchan_gnt *vchan_gnt_pv_open(void)
{
	struct pv_gnt *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	if (table_open() < 0) {
		free(g);
		return NULL;
	}
	g->base.ops = &pv_gnt_ops;
	g->base.backend = VCHAN_BACKEND_PV;
	return &g->base;
}

/* --- event channels. */
static int evt_find(const struct pv_evt *e, uint32_t port)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->ports[i] == port)
			return (int)i;
	return -1;
}

static int evt_ready(void *obj)
{
	const struct pv_evt *e = obj;

	for (unsigned i = 0; i < e->n; i++)
		if (uk_evtchn_pending(e->ports[i]))
			return 1;
	return 0;
}

static unsigned evt_ports(void *obj, uint32_t *out, unsigned max)
{
	const struct pv_evt *e = obj;
	unsigned n = e->n < max ? e->n : max;

	memcpy(out, e->ports, n * sizeof(*out));
	return n;
}

static const struct uk_fd_ops evt_fd_ops = {evt_ready, evt_ports, NULL};

static int add_port(struct pv_evt *e, int port)
{
	if (port < 0)
		return -1;
	e->ports[e->n++] = (uint32_t)port;
	return port;
}

static int pv_alloc_unbound(vchan_evt *h, uint32_t remote)
{
	struct pv_evt *e = (struct pv_evt *)h;

	if (e->n == MAX_BOUND) {
		errno = ENOSPC;
		return -1;
	}
	return add_port(e, uk_evtchn_alloc_unbound(remote));
}

static int pv_bind(vchan_evt *h, uint32_t remote, uint32_t remote_port)
{
	struct pv_evt *e = (struct pv_evt *)h;

	if (e->n == MAX_BOUND) {
		errno = ENOSPC;
		return -1;
	}
	return add_port(e, uk_evtchn_bind(remote, remote_port));
}

static int pv_notify(vchan_evt *h, uint32_t port)
{
	if (evt_find((struct pv_evt *)h, port) < 0) {
		errno = EINVAL;
		return -1;
	}
	/* A peer that is gone or not bound yet: Xen drops the event or
	 * keeps it pending for the binder, as the interface allows. */
	uk_evtchn_send(port);
	return 0;
}

static int pv_pending(vchan_evt *h)
{
	struct pv_evt *e = (struct pv_evt *)h;

	for (unsigned i = 0; i < e->n; i++)
		if (uk_evtchn_take(e->ports[i]))
			return (int)e->ports[i];
	return 0;
}

static int pv_wait(vchan_evt *h)
{
	struct pv_evt *e = (struct pv_evt *)h;

	for (;;) {
		int p = pv_pending(h);

		if (p != 0)
			return p;
		uk_wait_ports(e->ports, e->n, 0);
	}
}

static int pv_unbind(vchan_evt *h, uint32_t port)
{
	struct pv_evt *e = (struct pv_evt *)h;
	int i = evt_find(e, port);

	if (i < 0) {
		errno = EINVAL;
		return -1;
	}
	e->ports[i] = e->ports[--e->n];
	return uk_evtchn_close(port);
}

/* A destroyed domain's end of an interdomain channel is closed by Xen,
 * which leaves ours unbound and sends no event. */
static int pv_peer_gone(vchan_evt *h, uint32_t port)
{
	int st;

	if (evt_find((struct pv_evt *)h, port) < 0) {
		errno = EINVAL;
		return -1;
	}
	st = uk_evtchn_status(port);
	if (st < 0)
		return -1;
	return st != EVTCHNSTAT_interdomain;
}

static int pv_fd(const vchan_evt *h)
{
	return ((const struct pv_evt *)h)->fd;
}

static int pv_evt_close(vchan_evt *h)
{
	struct pv_evt *e = (struct pv_evt *)h;
	int rc = 0;

	while (e->n > 0)
		if (pv_unbind(h, e->ports[e->n - 1]) < 0)
			rc = -1;
	uk_fd_close(e->fd);
	free(e);
	return rc;
}

static const struct evt_ops pv_evt_ops = {
    .close = pv_evt_close,
    .fd = pv_fd,
    .alloc_unbound = pv_alloc_unbound,
    .bind = pv_bind,
    .notify = pv_notify,
    .pending = pv_pending,
    .wait = pv_wait,
    .unbind = pv_unbind,
    .peer_gone = pv_peer_gone,
};

vchan_evt *vchan_evt_pv_open(void)
{
	struct pv_evt *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->fd = uk_fd_open(&evt_fd_ops, e);
	if (e->fd < 0) {
		free(e);
		return NULL;
	}
	e->base.ops = &pv_evt_ops;
	e->base.backend = VCHAN_BACKEND_PV;
	return &e->base;
}
