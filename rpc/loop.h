/* rpc/loop.h - what the rpc core (client.c, server.c) needs of an event
 * loop (internal, not installed).
 *
 * The core knows no event library: it is driven through these watchers
 * by an adapter chosen at link time. libvchan-rpc links loop_ev.c
 * (libev); a build without libev links another file implementing the
 * same functions.
 *
 * The public API passes a `struct ev_loop *`; the core casts it to a
 * `struct rpc_loop *` and hands it on untouched: what it points to is the
 * adapter's business (loop_ev.c casts it back to a libev loop).
 *
 * Rules every adapter keeps, and the core relies on:
 * - Callbacks run only from within the loop (rpc_loop_run_once or the
 *   application's own run of it), never from the functions below.
 * - Once rpc_io_want(io, 0), rpc_io_free, rpc_timer_stop, rpc_timer_free,
 *   rpc_hook_stop or rpc_hook_free has returned, that watcher's callback
 *   is not called again, not even for an event the loop has already
 *   collected in the current iteration. The core frees watchers from
 *   inside callbacks, including a watcher's own.
 * - A watcher's callback may free that watcher; the adapter touches it no
 *   more after the callback returns.
 * - io watchers are level-triggered: a watcher's callback is called in
 *   every iteration in which its fd is ready, whether or not it was
 *   called for it before. A vchan may leave an event unconsumed after a
 *   spin that saw what it was waiting for (vchan_wait with timeout 0
 *   then makes no system call): the next look at the fd takes it.
 * - Nothing here sets errno except on failure of a _new function. */
#ifndef VCHAN_RPC_LOOP_H
#define VCHAN_RPC_LOOP_H

struct rpc_loop;
struct rpc_io;
struct rpc_timer;
struct rpc_hook;

enum { RPC_READ = 1, RPC_WRITE = 2 };

/* A watcher of `fd` for the events of rpc_io_want, created idle. cb gets
 * `arg` and the events that happened (RPC_READ and/or RPC_WRITE, only
 * among those wanted). Returns NULL + ENOMEM. The fd stays the caller's:
 * free the watcher before closing it. */
struct rpc_io *rpc_io_new(struct rpc_loop *l, int fd,
			  void (*cb)(void *arg, int events), void *arg);

/* Watch for `events` (RPC_READ | RPC_WRITE; 0 stops). Cheap when they are
 * those already wanted: call it freely. */
void rpc_io_want(struct rpc_io *io, int events);

/* The events wanted now (0: stopped). */
int rpc_io_wanted(const struct rpc_io *io);

/* Stop and free. NULL is fine. */
void rpc_io_free(struct rpc_io *io);

/* A one-shot timer, created stopped. Returns NULL + ENOMEM. */
struct rpc_timer *rpc_timer_new(struct rpc_loop *l, void (*cb)(void *arg),
				void *arg);

/* Call cb once, after_s seconds from now (0: in the next iteration of the
 * loop, after it has looked for io). Arming an armed timer moves it. */
void rpc_timer_arm(struct rpc_timer *t, double after_s);

void rpc_timer_stop(struct rpc_timer *t);

/* 1 while armed, else 0 (so 0 inside its own callback). */
int rpc_timer_armed(const struct rpc_timer *t);

/* Stop and free. NULL is fine. */
void rpc_timer_free(struct rpc_timer *t);

/* A hook run each time the loop is about to wait for events, created
 * stopped. cb returns 1 when it found work (and did it): the loop then
 * only looks for events, without sleeping, and comes back to the hook
 * before it next waits; 0 lets the loop sleep. This is what lets a vchan
 * spin for its peer (vchan_spin) instead of sleeping and being woken.
 * Returns NULL + ENOMEM. */
struct rpc_hook *rpc_hook_new(struct rpc_loop *l, int (*cb)(void *arg),
			      void *arg);
void rpc_hook_start(struct rpc_hook *h);
void rpc_hook_stop(struct rpc_hook *h);
/* Stop and free. NULL is fine. */
void rpc_hook_free(struct rpc_hook *h);

/* Run one iteration of the loop: wait for events (unless a hook said
 * there is work) and run the callbacks of those that came. */
void rpc_loop_run_once(struct rpc_loop *l);

/* The loop's idea of now, in seconds (of an unspecified epoch). */
double rpc_loop_now(struct rpc_loop *l);

#endif
