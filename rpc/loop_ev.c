/* rpc/loop_ev.c - the loop adapter of rpc/loop.h on libev: the
 * `struct rpc_loop *` the core holds is the application's libev loop. */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>

#include "rpc/loop.h"

#define EVL(l) ((struct ev_loop *)(l))

struct rpc_io {
	ev_io w; /* first: a callback's watcher is its rpc_io */
	struct ev_loop *loop;
	void (*cb)(void *arg, int events);
	void *arg;
};

struct rpc_timer {
	ev_timer w;
	struct ev_loop *loop;
	void (*cb)(void *arg);
	void *arg;
};

/* libev blocks right after running its prepare watchers unless an idle
 * watcher is active: the hook's idle watcher, started when the hook found
 * work, makes that iteration only poll. */
struct rpc_hook {
	ev_prepare prep;
	ev_idle idle;
	struct ev_loop *loop;
	int (*cb)(void *arg);
	void *arg;
	int running; /* cb is on the stack */
	int freed;   /* ...and freed the hook: free it once cb returns */
};

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_io *io = (struct rpc_io *)w;
	int ev = (revents & EV_READ ? RPC_READ : 0) |
		 (revents & EV_WRITE ? RPC_WRITE : 0);

	(void)loop;
	io->cb(io->arg, ev);
}

struct rpc_io *rpc_io_new(struct rpc_loop *l, int fd,
			  void (*cb)(void *arg, int events), void *arg)
{
	struct rpc_io *io = malloc(sizeof(*io));

	if (io == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ev_io_init(&io->w, io_cb, fd, 0);
	io->loop = EVL(l);
	io->cb = cb;
	io->arg = arg;
	return io;
}

void rpc_io_want(struct rpc_io *io, int events)
{
	int ev = (events & RPC_READ ? EV_READ : 0) |
		 (events & RPC_WRITE ? EV_WRITE : 0);

	if (ev_is_active(&io->w)) {
		if ((io->w.events & (EV_READ | EV_WRITE)) == ev)
			return;
		ev_io_stop(io->loop, &io->w);
	}
	if (ev == 0)
		return;
	ev_io_set(&io->w, io->w.fd, ev);
	ev_io_start(io->loop, &io->w);
}

int rpc_io_wanted(const struct rpc_io *io)
{
	if (!ev_is_active(&io->w))
		return 0;
	return (io->w.events & EV_READ ? RPC_READ : 0) |
	       (io->w.events & EV_WRITE ? RPC_WRITE : 0);
}

void rpc_io_free(struct rpc_io *io)
{
	if (io == NULL)
		return;
	ev_io_stop(io->loop, &io->w);
	free(io);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rpc_timer *t = (struct rpc_timer *)w;

	(void)loop;
	(void)revents;
	t->cb(t->arg);
}

struct rpc_timer *rpc_timer_new(struct rpc_loop *l, void (*cb)(void *arg),
				void *arg)
{
	struct rpc_timer *t = malloc(sizeof(*t));

	if (t == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ev_timer_init(&t->w, timer_cb, 0., 0.);
	t->loop = EVL(l);
	t->cb = cb;
	t->arg = arg;
	return t;
}

void rpc_timer_arm(struct rpc_timer *t, double after_s)
{
	/* A running timer is moved in place (one adjustment of the loop's
	 * timers where a stop and a start cost two); `repeat` is only the
	 * way to say where to, and is cleared at once: it still fires once.
	 * ev_timer_again does not arm for 0 s. */
	if (after_s > 0.) {
		t->w.repeat = after_s;
		ev_timer_again(t->loop, &t->w);
		t->w.repeat = 0.;
		return;
	}
	ev_timer_stop(t->loop, &t->w);
	ev_timer_set(&t->w, after_s, 0.);
	ev_timer_start(t->loop, &t->w);
}

void rpc_timer_stop(struct rpc_timer *t)
{
	ev_timer_stop(t->loop, &t->w);
}

int rpc_timer_armed(const struct rpc_timer *t)
{
	return ev_is_active(&t->w);
}

void rpc_timer_free(struct rpc_timer *t)
{
	if (t == NULL)
		return;
	ev_timer_stop(t->loop, &t->w);
	free(t);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(loop, w);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct rpc_hook *h = (struct rpc_hook *)w;
	int work;

	(void)revents;
	h->running = 1;
	work = h->cb(h->arg);
	h->running = 0;
	if (h->freed) {
		free(h);
		return;
	}
	/* A hook stopped by its own callback does not keep the loop awake. */
	if (work && ev_is_active(&h->prep))
		ev_idle_start(loop, &h->idle);
}

struct rpc_hook *rpc_hook_new(struct rpc_loop *l, int (*cb)(void *arg),
			      void *arg)
{
	struct rpc_hook *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ev_prepare_init(&h->prep, prepare_cb);
	ev_idle_init(&h->idle, idle_cb);
	h->loop = EVL(l);
	h->cb = cb;
	h->arg = arg;
	return h;
}

void rpc_hook_start(struct rpc_hook *h)
{
	ev_prepare_start(h->loop, &h->prep);
}

void rpc_hook_stop(struct rpc_hook *h)
{
	ev_prepare_stop(h->loop, &h->prep);
	ev_idle_stop(h->loop, &h->idle);
}

void rpc_hook_free(struct rpc_hook *h)
{
	if (h == NULL)
		return;
	rpc_hook_stop(h);
	if (h->running)
		h->freed = 1;
	else
		free(h);
}

void rpc_loop_run_once(struct rpc_loop *l)
{
	ev_run(EVL(l), EVRUN_ONCE);
}

double rpc_loop_now(struct rpc_loop *l)
{
	return ev_now(EVL(l));
}
