/* grant/backend.h - what a grant/event-channel backend provides (internal).
 *
 * grant.c checks every argument before calling a backend, so backends may
 * assume: count in 1..VCHAN_GNT_MAX_PAGES, refs non-NULL, notify NULL or
 * {count == 1, offset < VCHAN_PAGE_SIZE or VCHAN_NOTIFY_NO_BYTE, evt NULL or a
 * handle of the same backend (same `backend` field), byte clearing only on
 * writable pages}. */
#ifndef VCHAN_GRANT_BACKEND_H
#define VCHAN_GRANT_BACKEND_H

#include "grant/grant.h"

struct gnt_ops {
	int (*close)(vchan_gnt *h);
	void *(*share)(vchan_gnt *h, uint32_t peer, uint32_t count,
		       uint32_t *refs, int writable,
		       const struct vchan_unmap_notify *notify);
	int (*unshare)(vchan_gnt *h, void *addr, uint32_t count);
	void *(*map)(vchan_gnt *h, uint32_t peer, uint32_t count,
		     const uint32_t *refs, int writable,
		     const struct vchan_unmap_notify *notify);
	int (*unmap)(vchan_gnt *h, void *addr, uint32_t count);
};

struct evt_ops {
	int (*close)(vchan_evt *h);
	int (*fd)(const vchan_evt *h);
	int (*alloc_unbound)(vchan_evt *h, uint32_t remote);
	int (*bind)(vchan_evt *h, uint32_t remote, uint32_t remote_port);
	int (*notify)(vchan_evt *h, uint32_t port);
	int (*pending)(vchan_evt *h);
	/* Optional: block until an event and consume it (a port > 0, or -1
	 * + errno), or return 0 when this handle cannot block on its own
	 * and vchan_evt_wait should poll the fd instead. */
	int (*wait)(vchan_evt *h);
	int (*unbind)(vchan_evt *h, uint32_t port);
	/* Optional: whether local port `port` of our domain is held by a
	 * live event handle (of any process of this domain): 1 yes, 0 no,
	 * -1 + errno. Absent: vchan_evt_port_held fails with ENOSYS. */
	int (*held)(vchan_evt *h, uint32_t port);
	/* Optional: vchan_evt_stolen (ENOSYS when absent). */
	int (*stolen)(vchan_evt *h, uint64_t *ns);
	/* Optional: whether the remote end of bound port `port` is gone
	 * (its domain destroyed): 1 yes, 0 no, -1 + errno. */
	int (*peer_gone)(vchan_evt *h, uint32_t port);
};

/* Every backend's handle starts with one of these. */
struct vchan_gnt {
	const struct gnt_ops *ops;
	int backend; /* enum vchan_backend */
};
struct vchan_evt {
	const struct evt_ops *ops;
	int backend;
};

/* Whether port `port` of our own domain is still held by a live event
 * handle, in this process or another of our domain: 1 held, 0 free (its
 * holder is gone, or it never existed), -1 + errno (ENOSYS: this backend
 * cannot tell). vchan uses it to tell a live server's keys from a dead
 * one's. */
int vchan_evt_port_held(vchan_evt *h, uint32_t port);

/* Whether the remote end of our bound port has gone: 1 yes, 0 no (or the
 * backend cannot tell: there the peer's death shows otherwise), -1 +
 * EINVAL. */
int vchan_evt_peer_gone(vchan_evt *h, uint32_t port);

/* The stolen op of the Linux backends (grant/linux.c). */
int vchan_linux_stolen(vchan_evt *h, uint64_t *ns);

vchan_gnt *vchan_gnt_sim_open(void);
vchan_evt *vchan_evt_sim_open(void);
#ifdef HAVE_XEN
vchan_gnt *vchan_gnt_xen_open(void);
vchan_evt *vchan_evt_xen_open(void);
#endif
#ifdef HAVE_PV
vchan_gnt *vchan_gnt_pv_open(void);
vchan_evt *vchan_evt_pv_open(void);
#endif

#endif
