/* unikernel/events.c - event channels and waiting.
 *
 * The runtime takes no event upcalls: the vCPU's upcall mask stays set,
 * and waiting is SCHEDOP_poll on the ports of interest. Xen sets a port's
 * pending bit in shared_info whatever its mask, and wakes a vCPU polling
 * on it; the bit stays set until we clear it. Polling keeps the runtime
 * free of interrupts (no locking anywhere, no code running at odd times)
 * at the price of naming the ports at every wait, which vchan and the
 * XenStore client know anyway. */
#include "config.h"

#include <errno.h>
#include <xen/event_channel.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"

#define BITS_PER_WORD 64u

static int xen_err(long rc)
{
	errno = (int)-rc;
	return -1;
}

void uk_events_init(void)
{
	/* Nothing: the upcall mask was set at boot (boot.c). */
}

int uk_evtchn_alloc_unbound(uint32_t remote)
{
	evtchn_alloc_unbound_t op = {.dom = DOMID_SELF,
				     .remote_dom = (domid_t)remote};
	long rc =
	    uk_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound,
			 (unsigned long)&op, 0, 0, 0);

	if (rc < 0)
		return xen_err(rc);
	uk_evtchn_take(op.port);
	return (int)op.port;
}

int uk_evtchn_bind(uint32_t remote, uint32_t remote_port)
{
	evtchn_bind_interdomain_t op = {.remote_dom = (domid_t)remote,
					.remote_port = remote_port};
	long rc = uk_hypercall(__HYPERVISOR_event_channel_op,
			       EVTCHNOP_bind_interdomain, (unsigned long)&op, 0,
			       0, 0);

	if (rc < 0)
		return xen_err(rc);
	return (int)op.local_port;
}

int uk_evtchn_status(uint32_t port)
{
	evtchn_status_t op = {.dom = DOMID_SELF, .port = port};
	long rc = uk_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_status,
			       (unsigned long)&op, 0, 0, 0);

	return rc < 0 ? xen_err(rc) : (int)op.status;
}

int uk_evtchn_send(uint32_t port)
{
	evtchn_send_t op = {.port = port};
	long rc = uk_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_send,
			       (unsigned long)&op, 0, 0, 0);

	return rc < 0 ? xen_err(rc) : 0;
}

int uk_evtchn_close(uint32_t port)
{
	evtchn_close_t op = {.port = port};
	long rc = uk_hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_close,
			       (unsigned long)&op, 0, 0, 0);

	uk_evtchn_take(port);
	return rc < 0 ? xen_err(rc) : 0;
}

static unsigned long *pending_word(uint32_t port)
{
	return (unsigned long *)&uk_rt.shared
	    ->evtchn_pending[port / BITS_PER_WORD];
}

int uk_evtchn_pending(uint32_t port)
{
	if (port >= sizeof(uk_rt.shared->evtchn_pending) * 8)
		return 0;
	return (int)((__atomic_load_n(pending_word(port), __ATOMIC_ACQUIRE) >>
		      (port % BITS_PER_WORD)) &
		     1u);
}

int uk_evtchn_take(uint32_t port)
{
	unsigned long bit = 1ul << (port % BITS_PER_WORD);

	if (port >= sizeof(uk_rt.shared->evtchn_pending) * 8)
		return 0;
	/* Atomic: Xen sets bits of the same word from another CPU. */
	return (__atomic_fetch_and(pending_word(port), ~bit, __ATOMIC_SEQ_CST) &
		bit) != 0;
}

int uk_wait_ports(const uint32_t *ports, unsigned n, uint64_t deadline_ns)
{
	evtchn_port_t list[UK_WAIT_PORTS];
	struct sched_poll poll;

	if (n > UK_WAIT_PORTS)
		n = UK_WAIT_PORTS;
	for (unsigned i = 0; i < n; i++) {
		if (uk_evtchn_pending(ports[i]))
			return 1;
		list[i] = ports[i];
	}
	if (deadline_ns != 0 && uk_now_ns() >= deadline_ns)
		return 0;
	/* Xen returns at once when a listed port is pending, else blocks
	 * until one is or until the timeout (absolute system time; 0 is
	 * none). A plain sleep lists no port. */
	set_xen_guest_handle(poll.ports, list);
	poll.nr_ports = n;
	poll.timeout = deadline_ns;
	uk_hypercall(__HYPERVISOR_sched_op, SCHEDOP_poll, (unsigned long)&poll,
		     0, 0, 0);
	for (unsigned i = 0; i < n; i++)
		if (uk_evtchn_pending(ports[i]))
			return 1;
	return 0;
}

/* Pseudo file descriptors (see pv.h). */

static struct {
	const struct uk_fd_ops *ops;
	void *obj;
} fds[UK_MAX_FDS];

int uk_fd_open(const struct uk_fd_ops *ops, void *obj)
{
	for (int fd = 3; fd < UK_MAX_FDS; fd++)
		if (fds[fd].ops == NULL) {
			fds[fd].ops = ops;
			fds[fd].obj = obj;
			return fd;
		}
	errno = EMFILE;
	return -1;
}

void uk_fd_close(int fd)
{
	const struct uk_fd_ops *ops;

	if (fd < 0 || fd >= UK_MAX_FDS || fds[fd].ops == NULL)
		return;
	ops = fds[fd].ops;
	fds[fd].ops = NULL;
	if (ops->close != NULL)
		ops->close(fds[fd].obj);
}

int uk_fd_ready(int fd)
{
	if (fd < 0 || fd >= UK_MAX_FDS || fds[fd].ops == NULL)
		return -1;
	return fds[fd].ops->ready(fds[fd].obj) != 0;
}

void *uk_fd_obj(int fd, const struct uk_fd_ops *ops)
{
	if (fd < 0 || fd >= UK_MAX_FDS || fds[fd].ops != ops)
		return NULL;
	return fds[fd].obj;
}

unsigned uk_fd_ports(int fd, uint32_t *out, unsigned max)
{
	if (fd < 0 || fd >= UK_MAX_FDS || fds[fd].ops == NULL)
		return 0;
	return fds[fd].ops->ports(fds[fd].obj, out, max);
}
