/* examples/common/stop.c - a graceful stop on SIGTERM or SIGINT (see
 * stop.h). */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "examples/common/stop.h"

static void on_signal(struct ev_loop *loop, ev_signal *sig, int revents)
{
	struct stopper *s = sig->data;

	(void)revents;
	if (s->begun)
		return;
	s->begun = 1;
	/* Later signals stay pending until exit, which discards them. Not
	 * merely ignored by this watcher: once the program stops its
	 * watchers (or destroys the loop) on the way out, the default action
	 * would be back, and a second SIGTERM during the final cleanup (a
	 * log being closed) would kill the process with status 143. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ev_timer_start(loop, &s->grace);
	s->begin(s->ctx);
}

static void on_grace(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct stopper *s = t->data;

	(void)revents;
	fprintf(stderr, "%s: answers still owed after %.0f s; stopping\n",
		s->name, s->grace_s);
	ev_break(loop, EVBREAK_ALL);
}

void stopper_start(struct stopper *s, struct ev_loop *loop, const char *name,
		   double grace_s, void (*begin)(void *ctx), void *ctx)
{
	s->name = name;
	s->grace_s = grace_s;
	s->begin = begin;
	s->ctx = ctx;
	s->begun = 0;
	ev_timer_init(&s->grace, on_grace, grace_s, 0);
	s->grace.data = s;
	ev_signal_init(&s->term, on_signal, SIGTERM);
	s->term.data = s;
	ev_signal_start(loop, &s->term);
	ev_signal_init(&s->intr, on_signal, SIGINT);
	s->intr.data = s;
	ev_signal_start(loop, &s->intr);
}
