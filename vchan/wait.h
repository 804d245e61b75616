/* vchan/wait.h - how a call waits for the peer (internal to the library):
 * spin while the peer answers quickly, else ask for an event and sleep. */
#ifndef VCHAN_WAIT_H
#define VCHAN_WAIT_H

#include <stdint.h>

#include "vchan/channel.h"

/* Progress of one call that cannot go on yet: spin, then ask for an event
 * and look again, then offer the CPU and look again, then sleep. */
enum stall_phase {
	STALL_SPIN,  /* first: spin for the window, if there is one */
	STALL_ASK,   /* ask the peer for an event, then look again */
	STALL_SLEEP, /* would block; blocking, offer the CPU once and look
		      * again, then sleep until an event (and ask again) */
};

struct stall {
	enum stall_phase phase;
	uint64_t deadline; /* end of spinning, 0 = not started */
	uint64_t start;	   /* when the call first stalled, 0 = not yet */
	int offered;	   /* the CPU was offered since the last sleep */
};

/* Non-blocking in a spin-first loop (vchan_set_spin_first): a call that
 * stalls asks the peer for no event; the loop's vchan_spin or vchan_ask
 * does, once, before it polls. */
static inline int vchan_asks_later(const struct vchan *ch)
{
	return !ch->blocking && ch->spin_first;
}

/* The monotonic clock, in ns. */
uint64_t vchan_now_ns(void);

/* The call cannot progress (it waits for `bits`, VCHAN_RING_NOTIFY_*, of
 * the peer): returns 1 to look again, 0 for "would block", -1 + errno. `s`
 * starts zeroed (STALL_SPIN) for each call and is kept between its looks. */
int vchan_stall(struct vchan *ch, struct stall *s, unsigned bits);

#endif
