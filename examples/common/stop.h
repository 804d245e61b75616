/* examples/common/stop.h - SIGTERM and SIGINT start a graceful stop.
 *
 * The first of them calls the program's `begin`: it takes no new work and
 * breaks its loop once nothing is owed to anyone. If the loop still runs
 * `grace_s` seconds later, it is broken anyway, with a message. Later
 * signals change nothing: they are blocked from the first one on, until
 * the process exits. The struct is embedded in the program's state
 * (its fields are the module's own).
 */
#ifndef EXAMPLES_COMMON_STOP_H
#define EXAMPLES_COMMON_STOP_H

#include <ev.h>

struct stopper {
	ev_signal term, intr;
	ev_timer grace;
	const char *name; /* for the message */
	double grace_s;
	void (*begin)(void *ctx);
	void *ctx;
	int begun;
};

/* Watch for the signals on `loop`. `name` (borrowed) names the program in
 * the message; `begin` is called with `ctx` on the first signal. */
void stopper_start(struct stopper *s, struct ev_loop *loop, const char *name,
		   double grace_s, void (*begin)(void *ctx), void *ctx);

#endif
