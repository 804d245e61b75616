/* unikernel/ev.c - the unikernel's event loop (see include/ev.h).
 *
 * Watchers sit on one list per kind; a pass of ev_run calls the prepare
 * watchers, waits (SCHEDOP_poll on the ports behind the read-watched
 * descriptors, until the nearest timer), then queues the callbacks of
 * what happened and calls them in order. Queued callbacks are found
 * through a slot index kept in the watcher, so that stopping a watcher
 * (or freeing it after stopping it) from another callback of the same
 * pass removes it from the queue: nothing is called after its stop.
 *
 * The lists are walked in full each pass. A service has a few dozen
 * watchers at most, so this costs less than one hypercall. */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>

#include "unikernel/pv.h"
#include "unikernel/uk.h"

struct pending {
	ev_watcher *w; /* NULL: stopped after it was queued */
	int revents;
};

struct ev_loop {
	ev_watcher *ios, *timers, *idles, *prepares, *signals;
	int active; /* watchers started, of every kind */
	struct pending *queue;
	int head, queued, cap; /* queue[head..queued) is still to call */
	int brk;
	ev_tstamp now;
};

static struct ev_loop *default_loop;

static ev_tstamp clock_now(void)
{
	return (ev_tstamp)uk_now_ns() / 1e9;
}

struct ev_loop *ev_loop_new(unsigned flags)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));

	(void)flags;
	if (loop == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	loop->now = clock_now();
	return loop;
}

struct ev_loop *ev_default_loop(unsigned flags)
{
	if (default_loop == NULL)
		default_loop = ev_loop_new(flags);
	return default_loop;
}

void ev_loop_destroy(struct ev_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop == default_loop)
		default_loop = NULL;
	free(loop->queue);
	free(loop);
}

ev_tstamp ev_now(struct ev_loop *loop)
{
	return loop->now;
}

void ev_now_update(struct ev_loop *loop)
{
	loop->now = clock_now();
}

void ev_break(struct ev_loop *loop, int how)
{
	loop->brk = how;
}

/* --- the queue of callbacks to call */

void ev_feed_event(struct ev_loop *loop, void *wp, int revents)
{
	ev_watcher *w = wp;

	if (w->pending) {
		loop->queue[w->pending - 1].revents |= revents;
		return;
	}
	if (loop->queued == loop->cap) {
		int cap = loop->cap ? loop->cap * 2 : 64;
		struct pending *q = realloc(loop->queue, sizeof(*q) * cap);

		/* Out of memory: the event is lost for this pass; a level
		 * (an fd still readable, a timer still due) comes back at
		 * the next one. */
		if (q == NULL)
			return;
		loop->queue = q;
		loop->cap = cap;
	}
	loop->queue[loop->queued].w = w;
	loop->queue[loop->queued].revents = revents;
	w->pending = ++loop->queued;
}

int ev_clear_pending(struct ev_loop *loop, void *wp)
{
	ev_watcher *w = wp;
	int revents;

	if (!w->pending)
		return 0;
	revents = loop->queue[w->pending - 1].revents;
	loop->queue[w->pending - 1].w = NULL;
	w->pending = 0;
	return revents;
}

/* Call what is queued, including what the callbacks queue meanwhile. The
 * head moves before each call: a callback that runs the loop itself (a
 * blocking RPC call does) carries on from the next entry, and nothing is
 * called twice. */
static void invoke_pending(struct ev_loop *loop)
{
	while (loop->head < loop->queued) {
		struct pending *e = &loop->queue[loop->head++];
		ev_watcher *w = e->w;

		if (w == NULL)
			continue;
		e->w = NULL;
		w->pending = 0;
		w->cb(loop, w, e->revents);
	}
	loop->head = loop->queued = 0;
}

/* --- starting and stopping */

static void link_in(struct ev_loop *loop, ev_watcher **list, ev_watcher *w)
{
	if (w->active)
		return;
	w->active = 1;
	w->next_ = *list;
	*list = w;
	loop->active++;
}

static void unlink_from(struct ev_loop *loop, ev_watcher **list, ev_watcher *w)
{
	ev_clear_pending(loop, w);
	if (!w->active)
		return;
	for (ev_watcher **p = list; *p != NULL; p = &(*p)->next_)
		if (*p == w) {
			*p = w->next_;
			break;
		}
	w->active = 0;
	w->next_ = NULL;
	loop->active--;
}

void ev_io_start(struct ev_loop *loop, ev_io *w)
{
	link_in(loop, &loop->ios, (ev_watcher *)w);
}

void ev_io_stop(struct ev_loop *loop, ev_io *w)
{
	unlink_from(loop, &loop->ios, (ev_watcher *)w);
}

void ev_idle_start(struct ev_loop *loop, ev_idle *w)
{
	link_in(loop, &loop->idles, (ev_watcher *)w);
}

void ev_idle_stop(struct ev_loop *loop, ev_idle *w)
{
	unlink_from(loop, &loop->idles, (ev_watcher *)w);
}

void ev_prepare_start(struct ev_loop *loop, ev_prepare *w)
{
	link_in(loop, &loop->prepares, (ev_watcher *)w);
}

void ev_prepare_stop(struct ev_loop *loop, ev_prepare *w)
{
	unlink_from(loop, &loop->prepares, (ev_watcher *)w);
}

/* No signal ever comes; the watcher still counts as active, so that a
 * service's loop runs until it breaks it, as on Linux. */
void ev_signal_start(struct ev_loop *loop, ev_signal *w)
{
	link_in(loop, &loop->signals, (ev_watcher *)w);
}

void ev_signal_stop(struct ev_loop *loop, ev_signal *w)
{
	unlink_from(loop, &loop->signals, (ev_watcher *)w);
}

/* While a timer is active, `at` is its absolute time; while stopped, the
 * time left (libev's rule: a stopped and restarted timer keeps what was
 * left of its delay). */
void ev_timer_start(struct ev_loop *loop, ev_timer *w)
{
	if (w->active)
		return;
	w->at += loop->now;
	link_in(loop, &loop->timers, (ev_watcher *)w);
}

void ev_timer_stop(struct ev_loop *loop, ev_timer *w)
{
	ev_clear_pending(loop, w);
	if (!w->active)
		return;
	unlink_from(loop, &loop->timers, (ev_watcher *)w);
	w->at -= loop->now;
}

void ev_timer_again(struct ev_loop *loop, ev_timer *w)
{
	ev_clear_pending(loop, w);
	if (w->active) {
		if (w->repeat > 0)
			w->at = loop->now + w->repeat;
		else
			ev_timer_stop(loop, w);
	} else if (w->repeat > 0) {
		w->at = w->repeat;
		ev_timer_start(loop, w);
	}
}

ev_tstamp ev_timer_remaining(struct ev_loop *loop, ev_timer *w)
{
	return w->active ? w->at - loop->now : w->at;
}

/* --- a pass of the loop */

/* Queue the io watchers whose descriptor is ready; returns how many.
 * A descriptor that is not (or no longer) open counts as readable: the
 * watcher's read then fails with EBADF, as it would on Linux. */
static int queue_ready_io(struct ev_loop *loop)
{
	int n = 0;

	for (ev_watcher *p = loop->ios; p != NULL; p = p->next_) {
		ev_io *w = (ev_io *)p;
		int revents = w->events & EV_WRITE;

		if ((w->events & EV_READ) && uk_fd_ready(w->fd) != 0)
			revents |= EV_READ;
		if (revents != 0) {
			ev_feed_event(loop, w, revents);
			n++;
		}
	}
	return n;
}

static void queue_due_timers(struct ev_loop *loop)
{
	ev_watcher *p = loop->timers;

	while (p != NULL) {
		ev_timer *w = (ev_timer *)p;

		p = p->next_; /* w may leave the list */
		if (w->at > loop->now)
			continue;
		if (w->repeat > 0) {
			w->at += w->repeat;
			if (w->at <= loop->now)
				w->at = loop->now + w->repeat;
		} else {
			ev_timer_stop(loop, w);
		}
		ev_feed_event(loop, w, EV_TIMER);
	}
}

/* The nearest timer, in Xen system time (ns); 0 for none. */
static uint64_t next_deadline(struct ev_loop *loop)
{
	ev_tstamp at = 0;
	int any = 0;

	for (ev_watcher *p = loop->timers; p != NULL; p = p->next_) {
		ev_timer *w = (ev_timer *)p;

		if (!any || w->at < at)
			at = w->at;
		any = 1;
	}
	if (!any)
		return 0;
	/* 0 would mean "no timeout" to the hypervisor; a due timer asks for
	 * the earliest instant there is. */
	return at <= 0 ? 1 : (uint64_t)(at * 1e9) + 1;
}

/* Sleep until an event on a read-watched descriptor or the deadline. */
static void wait_for_events(struct ev_loop *loop, uint64_t deadline)
{
	uint32_t ports[UK_WAIT_PORTS];
	unsigned n = 0;
	int all = 1;

	for (ev_watcher *p = loop->ios; p != NULL; p = p->next_) {
		ev_io *w = (ev_io *)p;
		uint32_t more[UK_WAIT_PORTS];
		unsigned k;

		if (!(w->events & EV_READ))
			continue;
		k = uk_fd_ports(w->fd, more, UK_WAIT_PORTS);
		for (unsigned i = 0; i < k; i++) {
			if (n == UK_WAIT_PORTS) {
				all = 0;
				break;
			}
			ports[n++] = more[i];
		}
	}
	/* More ports than one poll hypercall takes: the ones left out are
	 * looked at again within a millisecond. */
	if (!all) {
		uint64_t soon = uk_now_ns() + 1000000u;

		if (deadline == 0 || deadline > soon)
			deadline = soon;
	}
	uk_wait_ports(ports, n, deadline);
}

int ev_run(struct ev_loop *loop, int flags)
{
	loop->brk = EVBREAK_CANCEL;
	do {
		for (ev_watcher *p = loop->prepares; p != NULL; p = p->next_)
			ev_feed_event(loop, p, EV_PREPARE);
		invoke_pending(loop);
		if (loop->brk != EVBREAK_CANCEL)
			break;

		ev_now_update(loop);
		int nowait = (flags & EVRUN_NOWAIT) || loop->idles != NULL ||
			     loop->queued > loop->head;
		if (queue_ready_io(loop) == 0 && !nowait) {
			uint64_t deadline = next_deadline(loop);

			if (deadline == 0 || deadline > uk_now_ns())
				wait_for_events(loop, deadline);
			queue_ready_io(loop);
		}
		ev_now_update(loop);
		queue_due_timers(loop);
		/* Idle watchers run in a pass where nothing else happened. */
		if (loop->queued == loop->head)
			for (ev_watcher *p = loop->idles; p != NULL;
			     p = p->next_)
				ev_feed_event(loop, p, EV_IDLE);
		invoke_pending(loop);
	} while (loop->brk == EVBREAK_CANCEL && loop->active > 0 &&
		 !(flags & (EVRUN_ONCE | EVRUN_NOWAIT)));
	if (loop->brk == EVBREAK_ONE)
		loop->brk = EVBREAK_CANCEL;
	return loop->active;
}
