/* unikernel/pv.h - the unikernel runtime's platform interface for the pv
 * backends of grant/ and xenstore/ (internal to the project).
 *
 * Everything here runs on the domain's one vCPU with event upcalls masked:
 * nothing is ever interrupted, so no locking is needed. Functions return
 * >= 0 on success and -1 with errno set on failure unless said otherwise.
 */
#ifndef VCHAN_UK_PV_H
#define VCHAN_UK_PV_H

#include <stddef.h>
#include <stdint.h>

/* Time: monotonic nanoseconds (Xen's system time of this vCPU). */
uint64_t uk_now_ns(void);

/* This domain's start_info values. */
struct xenstore_domain_interface *uk_xs_ring(void); /* mapped XenStore ring */
uint32_t uk_xs_port(void);			    /* its event channel */

/* Event channels (ports are Xen's local port numbers). */
int uk_evtchn_alloc_unbound(uint32_t remote);		   /* the port, or -1 */
int uk_evtchn_bind(uint32_t remote, uint32_t remote_port); /* local port */
int uk_evtchn_send(uint32_t port);
int uk_evtchn_close(uint32_t port);
/* A port's state, EVTCHNSTAT_* of xen/event_channel.h (an interdomain
 * port whose remote domain was destroyed reads as unbound), or -1. */
int uk_evtchn_status(uint32_t port);
/* 1 when the port's pending bit is set, else 0. */
int uk_evtchn_pending(uint32_t port);
/* Clear the port's pending bit; 1 when it was set. */
int uk_evtchn_take(uint32_t port);

/* Block until one of ports[0..n-1] is pending or the monotonic time
 * `deadline_ns` (0: none) passes. Returns 1 when a port is pending, 0 at
 * the deadline. Does not clear pending bits. n may be 0 (a plain sleep,
 * which then needs a deadline). At most UK_WAIT_PORTS ports. */
#define UK_WAIT_PORTS 64u
int uk_wait_ports(const uint32_t *ports, unsigned n, uint64_t deadline_ns);

/* Pseudo file descriptors: the fds that grant/ and xenstore/ hand out
 * (vchan_evt_fd, vchan_xs_fd) and that poll() understands. An fd is
 * readable while ready(obj) returns non-zero; poll sleeps on the event
 * ports that ports(obj) lists. */
struct uk_fd_ops {
	int (*ready)(void *obj);
	unsigned (*ports)(void *obj, uint32_t *out, unsigned max);
	/* Optional: close() of the fd frees obj with this (the objects of
	 * grant/ and xenstore/ are freed by their own close calls). */
	void (*close)(void *obj);
};
#define UK_MAX_FDS 256
/* A new fd for obj (3 to UK_MAX_FDS - 1), or -1 + EMFILE. */
int uk_fd_open(const struct uk_fd_ops *ops, void *obj);
void uk_fd_close(int fd);
/* For poll() and the event loop: 1 ready, 0 not, -1 for an fd that is not
 * open; and the ports to sleep on for it (at most `max`). */
int uk_fd_ready(int fd);
unsigned uk_fd_ports(int fd, uint32_t *out, unsigned max);
/* The object of fd when it was opened with `ops`, else NULL. */
void *uk_fd_obj(int fd, const struct uk_fd_ops *ops);

/* Pages of this domain: allocate `count` contiguous zeroed pages (NULL +
 * ENOMEM), free them, and the machine frame of a page of ours. */
void *uk_pages_alloc(size_t count);
void uk_pages_free(void *addr, size_t count);
uint64_t uk_virt_to_mfn(const void *addr);

/* Virtual address space for foreign mappings: `count` contiguous pages
 * whose page-table entries exist and are empty (NULL + ENOMEM). Release
 * with uk_va_free once nothing is mapped there. */
void *uk_va_alloc(size_t count);
void uk_va_free(void *addr, size_t count);
/* Map machine frame `mfn` at `va` (from uk_va_alloc), writable or not, or
 * clear that mapping (mfn UK_NO_MFN). */
#define UK_NO_MFN UINT64_MAX
int uk_va_map(void *va, uint64_t mfn, int writable);

/* Hypercalls (arguments as Xen's public headers give them). Returns Xen's
 * result: >= 0, or a negative Xen errno. */
long uk_hypercall(unsigned nr, unsigned long a1, unsigned long a2,
		  unsigned long a3, unsigned long a4, unsigned long a5);

#endif
