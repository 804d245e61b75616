/* unikernel/console.c - the PV console: a ring of bytes in a page that
 * xenconsoled reads in dom0, kicked through an event channel. stdout and
 * stderr (libc.c) and the fault dump all end here. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>
#include <xen/sched.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"
#include "unikernel/uk.h"

/* How long a full ring may make a writer wait for xenconsoled before the
 * output is dropped: a console nobody reads must not hang the program. */
#define STALL_NS 2000000000ull

static struct xencons_interface *ring(void)
{
	return uk_pfn_to_virt(uk_mfn_to_pfn(uk_rt.si->console.domU.mfn));
}

static uint32_t port(void)
{
	return uk_rt.si->console.domU.evtchn;
}

void uk_console_init(void)
{
	/* Nothing to set up: the builder made the ring and its port. */
}

/* Wait (bounded) until xenconsoled has taken bytes up to `want`
 * (want == out_prod: everything). Returns 0, or -1 when it stalled. */
static int wait_room(struct xencons_interface *c, uint32_t want_free)
{
	uint64_t deadline = uk_now_ns() + STALL_NS;
	uint32_t p = port();

	for (;;) {
		uint32_t cons = __atomic_load_n(&c->out_cons, __ATOMIC_ACQUIRE);
		uint32_t used = c->out_prod - cons;

		if (used <= sizeof(c->out) &&
		    sizeof(c->out) - used >= want_free)
			return 0;
		uk_evtchn_send(p);
		uk_evtchn_take(p);
		if (uk_now_ns() >= deadline)
			return -1;
		uk_wait_ports(&p, 1, uk_now_ns() + 10000000u);
	}
}

void uk_console_write(const char *s, size_t len)
{
	struct xencons_interface *c = ring();

	while (len > 0) {
		uint32_t prod = c->out_prod, room, n, i;

		if (wait_room(c, 1) < 0)
			return;
		room = (uint32_t)sizeof(c->out) -
		       (prod - __atomic_load_n(&c->out_cons, __ATOMIC_ACQUIRE));
		n = len < room ? (uint32_t)len : room;
		for (i = 0; i < n; i++)
			c->out[MASK_XENCONS_IDX(prod + i, c->out)] = s[i];
		/* The bytes before the index that publishes them. */
		__atomic_store_n(&c->out_prod, prod + n, __ATOMIC_RELEASE);
		uk_evtchn_send(port());
		s += n;
		len -= n;
	}
}

void uk_console_flush(void)
{
	struct xencons_interface *c = ring();

	/* Everything taken: as much room as the whole ring. */
	wait_room(c, sizeof(c->out));
}

void uk_printk(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	uk_console_write(buf,
			 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}
