/* grant/grant.h - shared pages and event channels between domains.
 *
 * One interface, two backends chosen at run time:
 *   xen  grant tables and event channels of the Xen hypervisor
 *        (libxengnttab, libxengntshr, libxenevtchn);
 *   sim  ordinary processes play the domains; pages and events live in
 *        one private directory.
 * The backend comes from VCHAN_PLATFORM (xen | sim), else "xen" when
 * /dev/xen/evtchn exists, else "sim". The sim backend also reads
 * VCHAN_SIM_DIR (its directory, which must exist, be owned by this user and
 * have mode 0700; the default, $XDG_RUNTIME_DIR/vchan-sim or
 * /tmp/vchan-sim-<uid>, is created when missing) and VCHAN_DOMID (this
 * process's domain id, default 0).
 * A bad value makes the open calls fail with EINVAL and print one line on
 * stderr naming the variable and what it accepts; a missing or shared
 * VCHAN_SIM_DIR fails with ENOENT or EPERM, with one line naming it too.
 *
 * All functions return >= 0 (or a pointer) on success and -1 (or NULL) with
 * errno set on failure; a NULL handle fails with EINVAL, except that the
 * close functions accept NULL (and return 0). Handles are not thread-safe;
 * use one per thread. vchan_gnt_share and vchan_gnt_map take their
 * arguments in one order: handle, peer domain, count, refs, writable,
 * notify.
 */
#ifndef VCHAN_GRANT_H
#define VCHAN_GRANT_H

#include <stdint.h>

#include <vchan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCHAN_PAGE_SIZE 4096u
/* Most pages one share or map call takes. */
#define VCHAN_GNT_MAX_PAGES 256u
/* No byte to clear on unmap (struct vchan_unmap_notify.offset). */
#define VCHAN_NOTIFY_NO_BYTE UINT32_MAX

typedef struct vchan_gnt vchan_gnt; /* grant handle: shares and maps */
typedef struct vchan_evt vchan_evt; /* event channel handle: one fd */

/* pv: inside a unikernel (unikernel/), the only backend there. */
enum vchan_backend {
	VCHAN_BACKEND_XEN = 1,
	VCHAN_BACKEND_SIM = 2,
	VCHAN_BACKEND_PV = 3
};

/* The backend the environment selects (enum vchan_backend), or -1 with
 * errno EINVAL and a message on stderr when VCHAN_PLATFORM is invalid. */
VCHAN_API int vchan_backend_select(void);

/* Check the platform's whole environment before using it, as the open
 * calls would, without opening anything: VCHAN_PLATFORM; on sim
 * VCHAN_DOMID, VCHAN_SIM_DIR (the default directory is created when
 * missing) and XENSTORED_PATH when set (it must exist); on xen, that this
 * machine is a Xen domain (/dev/xen/evtchn exists). A program calls it
 * first to report a bad environment in one line and stop.
 * Returns the backend (enum vchan_backend), or -1 + errno after printing
 * one line on stderr that names the variable at fault: EINVAL a bad value,
 * ENOENT/ENOTDIR/EPERM VCHAN_SIM_DIR missing, not a directory or not
 * private, ENODEV VCHAN_PLATFORM=xen on a machine without Xen, ENOSYS the
 * xen backend was not built, or an error of stat or mkdir. */
VCHAN_API int vchan_platform_check(void);

/* Notify-on-unmap, as Xen's gntalloc/gntdev give it. When the share or map
 * goes away for any reason (unmap, close, exit, SIGKILL of its holder), the
 * byte at `offset` of the first page is cleared (unless offset is
 * VCHAN_NOTIFY_NO_BYTE) and an event is sent on local `port` of `evt`
 * (unless evt is NULL). Clearing a byte needs a writable page. On the sim
 * backend a holder's death is applied by the peer's event handle: the byte
 * is cleared and the port reported when the peer calls vchan_evt_pending,
 * which its fd signals at once. The port must be bound in `evt` (EINVAL
 * otherwise) and `evt` must stay open while the share or map exists. */
struct vchan_unmap_notify {
	vchan_evt *evt;
	uint32_t port;
	uint32_t offset;
};

/* Open a grant handle. NULL + errno on failure (EINVAL bad environment,
 * ENOSYS the xen backend was not built). On xen the devices are opened by
 * the first share (/dev/xen/gntalloc) or map (/dev/xen/gntdev), so a
 * missing device shows there, as ENOENT or EACCES. */
VCHAN_API vchan_gnt *vchan_gnt_open(void);

/* Close the handle; shares and maps still outstanding are released (with
 * their unmap notifications). The handle is always freed. Returns 0 (also
 * for NULL), or -1 + errno when releasing something failed. */
VCHAN_API int vchan_gnt_close(vchan_gnt *h);

/* Share `count` (1..VCHAN_GNT_MAX_PAGES) fresh zeroed pages with domain
 * `peer`, writable by it when `writable` != 0. The grant references (never
 * 0) are stored in refs[0..count-1]. `notify` may be NULL; when given,
 * count must be 1 (as Xen's interface) and offset < VCHAN_PAGE_SIZE.
 * Returns the local mapping of the pages (page-aligned, contiguous, owned
 * by the handle until vchan_gnt_unshare) or NULL + errno: EINVAL bad
 * argument, ENOMEM/ENOSPC no pages or references left, EIO Xen handed out
 * reference 0, ENOENT/EACCES no /dev/xen/gntalloc (xen). */
VCHAN_API void *vchan_gnt_share(vchan_gnt *h, uint32_t peer, uint32_t count,
				uint32_t *refs, int writable,
				const struct vchan_unmap_notify *notify);

/* Stop sharing pages returned by vchan_gnt_share (addr and count as
 * given to it). Fires the unmap notification. Returns 0 or -1 + EINVAL
 * when addr/count do not name a share of this handle. */
VCHAN_API int vchan_gnt_unshare(vchan_gnt *h, void *addr, uint32_t count);

/* Map the `count` (1..VCHAN_GNT_MAX_PAGES) pages that domain `peer`
 * granted as refs[0..count-1], in that order, into one contiguous mapping,
 * writable when `writable` != 0. `notify` as for vchan_gnt_share (count 1,
 * and a writable mapping when a byte is to be cleared).
 * Returns the mapping (owned by the handle until vchan_gnt_unmap) or NULL +
 * errno: EINVAL bad argument, ENOENT no such grant (on xen also: no
 * /dev/xen/gntdev), EPERM the grant is for another domain or is read-only
 * and a writable mapping was asked for, EPROTO (sim) the granting domain's
 * pages are not sealed against shrinking, so touching them could kill us
 * with SIGBUS. */
VCHAN_API void *vchan_gnt_map(vchan_gnt *h, uint32_t peer, uint32_t count,
			      const uint32_t *refs, int writable,
			      const struct vchan_unmap_notify *notify);

/* Unmap a mapping returned by vchan_gnt_map. Fires the unmap notification.
 * Returns 0 or -1 + EINVAL when addr/count do not name a mapping. */
VCHAN_API int vchan_gnt_unmap(vchan_gnt *h, void *addr, uint32_t count);

/* Open an event channel handle. NULL + errno on failure. */
VCHAN_API vchan_evt *vchan_evt_open(void);

/* Close the handle, unbinding every port. The handle is always freed.
 * Returns 0 (also for NULL), or -1 + errno when an unbind failed. */
VCHAN_API int vchan_evt_close(vchan_evt *h);

/* The handle's file descriptor: readable when vchan_evt_pending may have a
 * port to report. Owned by the handle; do not read it or close it. */
VCHAN_API int vchan_evt_fd(const vchan_evt *h);

/* Allocate a local port that domain `remote` may bind to. Returns the port
 * (> 0) or -1 + errno. */
VCHAN_API int vchan_evt_alloc_unbound(vchan_evt *h, uint32_t remote);

/* Bind a local port to port `remote_port` of domain `remote`. Returns the
 * local port (> 0) or -1 + errno: EINVAL no such unbound port, EPERM the
 * port was allocated for another domain. */
VCHAN_API int vchan_evt_bind(vchan_evt *h, uint32_t remote,
			     uint32_t remote_port);

/* Send an event on local `port`. Events coalesce: any number sent before
 * the peer consumes them are seen as one. A port whose peer is gone or not
 * yet bound drops the event and returns 0, as Xen does. Returns 0 or -1 +
 * EINVAL (port not bound in this handle). */
VCHAN_API int vchan_evt_notify(vchan_evt *h, uint32_t port);

/* Consume one pending event without blocking. Returns the port (> 0) that
 * had an event, 0 when none is pending, -1 + errno on failure. Call until
 * it returns 0 to drain; the port is ready for further events at once. */
VCHAN_API int vchan_evt_pending(vchan_evt *h);

/* Block until an event is pending and consume it, as poll() on
 * vchan_evt_fd followed by vchan_evt_pending would, in fewer system calls
 * where the backend can sleep on the port itself. Returns the port (> 0)
 * or -1 + errno: EINTR when a signal came first (whatever its handler's
 * SA_RESTART), EINVAL h is NULL, or a backend error. */
VCHAN_API int vchan_evt_wait(vchan_evt *h);

/* Unbind local `port`. Returns 0 or -1 + EINVAL. */
VCHAN_API int vchan_evt_unbind(vchan_evt *h, uint32_t port);

/* How long the calling thread has been runnable but kept from a CPU by
 * other tasks, in ns since it started: a growing count, to compare
 * between two calls. On Linux (sim and xen backends) the kernel's
 * run_delay of the thread (/proc/thread-self/schedstat). Returns 0 with
 * *ns set, or -1 + errno: EINVAL h or ns NULL, ENOSYS the platform does
 * not tell (pv), or the error of reading it. */
VCHAN_API int vchan_evt_stolen(vchan_evt *h, uint64_t *ns);

#ifdef __cplusplus
}
#endif

#endif
