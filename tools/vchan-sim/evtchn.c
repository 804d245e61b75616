/* tools/vchan-sim/evtchn.c - libxenevtchn.so.1 for the simulator: Xen's
 * event channel API on top of grant.h's sim backend.
 *
 * Differences from Xen's library that programs may notice:
 *   - the handle's fd is the sim handle's epoll fd; xenevtchn_pending blocks
 *     on it unless the caller made it non-blocking (O_NONBLOCK), as a read of
 *     /dev/xen/evtchn would;
 *   - xenevtchn_unmask does nothing: a sim port is ready for the next event
 *     as soon as xenevtchn_pending reported it;
 *   - xenevtchn_bind_virq gives a port that never fires (there is no
 *     hypervisor to raise a virtual interrupt);
 *   - xenevtchn_fdopen and xenevtchn_restrict fail with ENOSYS.
 *
 * One piece of process-wide state, on purpose: the list of open handles.
 * On Xen the kernel knows every port of the process, so an unmap
 * notification (xengntshr_share_page_notify, xengnttab_map_grant_ref_notify)
 * just names a port number. Here a port belongs to one sim handle, so
 * libxengnttab.so.1 asks this list which handle has the port. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>

#include <xenevtchn.h>

#include "grant/backend.h"
#include "grant/sim.h"
#include "tools/vchan-sim/dropin.h"

/* Xen's DOMID_SELF: no simulated domain ever binds to it. */
#define NOBODY 0x7ff0u

struct xenevtchn_handle {
	struct xenevtchn_handle *next;
	vchan_evt *evt;
};

/* The process-wide list of open handles (see the top of the file). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xenevtchn_handle *registry;

static void registry_add(struct xenevtchn_handle *x)
{
	pthread_mutex_lock(&registry_lock);
	x->next = registry;
	registry = x;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_del(struct xenevtchn_handle *x)
{
	pthread_mutex_lock(&registry_lock);
	for (struct xenevtchn_handle **pp = &registry; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
}

vchan_evt *dropin_evt_for_port(uint32_t port)
{
	vchan_evt *found = NULL;

	pthread_mutex_lock(&registry_lock);
	for (struct xenevtchn_handle *x = registry; x != NULL; x = x->next) {
		if (sim_evt_record(x->evt, port, NULL) == 0) {
			found = x->evt;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return found;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
				 unsigned int flags)
{
	struct xenevtchn_handle *x = calloc(1, sizeof(*x));

	(void)logger;
	(void)flags; /* the sim fds are always close-on-exec */
	if (x == NULL)
		return NULL;
	x->evt = vchan_evt_sim_open();
	if (x->evt == NULL) {
		free(x);
		return NULL;
	}
	registry_add(x);
	return x;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
				   unsigned open_flags)
{
	(void)logger;
	(void)fd;
	(void)open_flags;
	errno = ENOSYS;
	return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	int rc;

	if (xce == NULL)
		return 0;
	registry_del(xce);
	rc = vchan_evt_close(xce->evt);
	free(xce);
	return rc;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return vchan_evt_fd(xce->evt);
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	return vchan_evt_notify(xce->evt, port);
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce,
						      uint32_t domid)
{
	return vchan_evt_alloc_unbound(xce->evt, domid);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						     uint32_t domid,
						     evtchn_port_t remote_port)
{
	return vchan_evt_bind(xce->evt, domid, remote_port);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
					      unsigned int virq)
{
	(void)virq;
	return vchan_evt_alloc_unbound(xce->evt, NOBODY);
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	return vchan_evt_unbind(xce->evt, port);
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	int fd = vchan_evt_fd(xce->evt);
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK) {
		int port = vchan_evt_pending(xce->evt);

		if (port == 0)
			errno = EAGAIN;
		return port != 0 ? port : -1;
	}
	/* A blocking read of /dev/xen/evtchn is one system call that
	 * sleeps until an event; vchan_evt_wait is the same here, so that
	 * libxenvchan pays on the simulator what it pays on Xen. */
	for (;;) {
		int port = vchan_evt_wait(xce->evt);

		if (port >= 0 || errno != EINTR)
			return port;
	}
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	(void)xce;
	(void)domid;
	errno = ENOSYS;
	return -1;
}
