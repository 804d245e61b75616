/* unikernel/include/ev.h - the unikernel's event loop, with the part of
 * libev's API that vchan's libraries and services use.
 *
 * The services are written once against libev (their io watchers are on
 * the descriptors vchan_fd() returns, their timers are deadlines and
 * retries). On Linux they link libev; in a unikernel they get this loop,
 * which waits with SCHEDOP_poll on the event-channel ports behind those
 * descriptors and wakes at the nearest timer (unikernel/ev.c). Names,
 * fields and semantics follow libev 4 for what is here:
 *
 *   ev_loop_new/ev_default_loop/ev_loop_destroy, ev_run (flags 0,
 *   EVRUN_ONCE, EVRUN_NOWAIT), ev_break, ev_now, ev_now_update;
 *   ev_io, ev_timer (incl. ev_timer_again, ev_timer_remaining), ev_idle,
 *   ev_prepare, ev_signal; ev_init, ev_*_init, ev_*_set, ev_is_active,
 *   ev_is_pending, ev_feed_event, ev_clear_pending.
 *
 * Differences a user may meet: there are no signals in a unikernel, so an
 * ev_signal watcher is accepted and never fires (it does keep ev_run
 * going, as an active watcher does); there are no priorities; a
 * descriptor is always writable (a vchan's room is reported through its
 * readable event, as on Linux). One loop per program is the normal case;
 * several work, and none is shared between threads (there are none).
 */
#ifndef VCHAN_UK_EV_H
#define VCHAN_UK_EV_H

#ifdef __cplusplus
extern "C" {
#endif

typedef double ev_tstamp;

struct ev_loop;

enum {
	EV_UNDEF = (int)0xFFFFFFFF,
	EV_NONE = 0x00,
	EV_READ = 0x01,
	EV_WRITE = 0x02,
	EV_TIMER = 0x00000100,
	EV_SIGNAL = 0x00000400,
	EV_IDLE = 0x00002000,
	EV_PREPARE = 0x00004000,
	EV_CUSTOM = 0x01000000,
	EV_ERROR = (int)0x80000000
};

enum { EVFLAG_AUTO = 0, EVFLAG_NOENV = 0x01000000 };
enum { EVRUN_NOWAIT = 1, EVRUN_ONCE = 2 };
enum { EVBREAK_CANCEL = 0, EVBREAK_ONE = 1, EVBREAK_ALL = 2 };

/* What every watcher starts with: `active` is nonzero while started,
 * `pending` is its slot + 1 in the loop's queue of callbacks to call. */
#define EV_WATCHER_(type)                                                      \
	int active;                                                            \
	int pending;                                                           \
	void *data;                                                            \
	void (*cb)(struct ev_loop * loop, struct type * w, int revents);       \
	struct ev_watcher *next_

typedef struct ev_watcher {
	EV_WATCHER_(ev_watcher);
} ev_watcher;

typedef struct ev_io {
	EV_WATCHER_(ev_io);
	int fd;
	int events;
} ev_io;

typedef struct ev_timer {
	EV_WATCHER_(ev_timer);
	ev_tstamp at; /* absolute, on ev_now's clock, while active */
	ev_tstamp repeat;
} ev_timer;

typedef struct ev_idle {
	EV_WATCHER_(ev_idle);
} ev_idle;

typedef struct ev_prepare {
	EV_WATCHER_(ev_prepare);
} ev_prepare;

typedef struct ev_signal {
	EV_WATCHER_(ev_signal);
	int signum;
} ev_signal;

#define ev_init(w, cb_)                                                        \
	do {                                                                   \
		(w)->active = 0;                                               \
		(w)->pending = 0;                                              \
		(w)->data = 0;                                                 \
		(w)->cb = (cb_);                                               \
		(w)->next_ = 0;                                                \
	} while (0)
#define ev_io_set(w, fd_, events_)                                             \
	do {                                                                   \
		(w)->fd = (fd_);                                               \
		(w)->events = (events_);                                       \
	} while (0)
#define ev_timer_set(w, after_, repeat_)                                       \
	do {                                                                   \
		(w)->at = (after_);                                            \
		(w)->repeat = (repeat_);                                       \
	} while (0)
#define ev_signal_set(w, signum_)                                              \
	do {                                                                   \
		(w)->signum = (signum_);                                       \
	} while (0)
#define ev_io_init(w, cb, fd, events)                                          \
	do {                                                                   \
		ev_init((w), (cb));                                            \
		ev_io_set((w), (fd), (events));                                \
	} while (0)
#define ev_timer_init(w, cb, after, repeat)                                    \
	do {                                                                   \
		ev_init((w), (cb));                                            \
		ev_timer_set((w), (after), (repeat));                          \
	} while (0)
#define ev_signal_init(w, cb, signum)                                          \
	do {                                                                   \
		ev_init((w), (cb));                                            \
		ev_signal_set((w), (signum));                                  \
	} while (0)
#define ev_idle_init(w, cb)    ev_init((w), (cb))
#define ev_prepare_init(w, cb) ev_init((w), (cb))
#define ev_is_active(w)	       (0 + (w)->active)
#define ev_is_pending(w)       (0 + (w)->pending)
#define ev_cb(w)	       ((w)->cb)

/* A new loop, or NULL + ENOMEM. `flags` are accepted and ignored. */
struct ev_loop *ev_loop_new(unsigned flags);
/* The program's first loop, made on the first call. */
struct ev_loop *ev_default_loop(unsigned flags);
/* Frees the loop; its watchers are left as they are (stop them first). */
void ev_loop_destroy(struct ev_loop *loop);

/* Runs until ev_break, or no watcher is active; EVRUN_ONCE: until
 * something happened (one wait at most), EVRUN_NOWAIT: one pass without
 * waiting. Returns nonzero when watchers are still active. */
int ev_run(struct ev_loop *loop, int flags);
void ev_break(struct ev_loop *loop, int how);

/* Seconds, Xen system time, as of the start of this iteration. */
ev_tstamp ev_now(struct ev_loop *loop);
void ev_now_update(struct ev_loop *loop);

void ev_io_start(struct ev_loop *loop, ev_io *w);
void ev_io_stop(struct ev_loop *loop, ev_io *w);
void ev_timer_start(struct ev_loop *loop, ev_timer *w);
void ev_timer_stop(struct ev_loop *loop, ev_timer *w);
void ev_timer_again(struct ev_loop *loop, ev_timer *w);
ev_tstamp ev_timer_remaining(struct ev_loop *loop, ev_timer *w);
void ev_idle_start(struct ev_loop *loop, ev_idle *w);
void ev_idle_stop(struct ev_loop *loop, ev_idle *w);
void ev_prepare_start(struct ev_loop *loop, ev_prepare *w);
void ev_prepare_stop(struct ev_loop *loop, ev_prepare *w);
void ev_signal_start(struct ev_loop *loop, ev_signal *w);
void ev_signal_stop(struct ev_loop *loop, ev_signal *w);

/* Queue a call of w's callback with `revents`, as if the event happened
 * (whether or not w is active). */
void ev_feed_event(struct ev_loop *loop, void *w, int revents);
/* Unqueue it; returns the events it would have had, or 0. */
int ev_clear_pending(struct ev_loop *loop, void *w);

#ifdef __cplusplus
}
#endif

#endif
