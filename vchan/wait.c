/* vchan/wait.c - the waiting strategy around the ring protocol of ring.c:
 * how long to spin, when to offer the CPU, when to sleep on the event
 * channel; vchan_wait and vchan_spin for event loops. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <time.h>

#include "vchan/channel.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"
#include "vchan/wait.h"

/* Shortest spin worth starting, when the peer usually answers at all: long
 * enough that one late answer (an interrupt, a preempted peer) does not
 * make us sleep, which would make the peer's next wait a wake-up long and
 * both sides fall back to sleeping. */
#define SPIN_MIN_NS 50000u
/* Spin without yielding the CPU for this long first: a peer running on
 * another CPU answers within it. */
#define SPIN_PURE_NS 2000u
/* Two looks of a spin at the ring are a fraction of a microsecond apart, a
 * sched_yield that returns at once included. When they are further apart
 * than this, our CPU was taken from us in between: another task ran on it
 * (after our yield, or preempting us), or the hypervisor ran another vCPU
 * there. Schedulers hand the CPU over for a time slice, hundreds of
 * microseconds at least, while an interrupt takes a few: any bound in
 * between sorts the two alike, and the shortest spin window is one. */
#define LOST_CPU_NS SPIN_MIN_NS
/* How long a back-off lasts, as a multiple of the time the CPU was away in
 * the spin that caused it: a probe that fails costs at most that long, so
 * probing costs at most 1/(1 + BACKOFF_RATIO) of the time under load. */
#define BACKOFF_RATIO 16u
/* Longest back-off: once the host is quiet again, spinning comes back
 * within this time. */
#define BACKOFF_MAX_NS 1000000000u
/* How often, at most, a channel about to spin or offer the CPU reads how
 * long its thread was kept from a CPU (vchan_evt_stolen): often enough to
 * see contention within a time slice, rarely enough that the read (about
 * a microsecond) costs at most a thousandth of the time. */
#define STEAL_PERIOD_NS (20u * SPIN_MIN_NS)

uint64_t vchan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Consume every pending event. Returns how many, or -1 + errno. */
static int drain(struct vchan *ch)
{
	int n = 0;

	/* The events of the requests the peer took so far were sent before
	 * we saw them taken: they are consumed below, or else came so late
	 * that the fd is still readable for them. */
	ch->ring.taken = 0;
	vchan_check_peer(ch);
	for (;;) {
		int p = vchan_evt_pending(ch->evt);

		if (p < 0)
			return -1;
		if (p == 0)
			return n;
		n++;
	}
}

/* Woken from a sleep on the event channel (ours, or the loop's after
 * vchan_spin): the sleep after a sign is done, and watch_steal allows for
 * the wake-up. */
static void slept(struct vchan *ch)
{
	ch->sleep_once = 0;
	ch->steal_sleeps++;
}

/* Sleep on the event channel. Returns 1 after an event, 0 on timeout, -1 +
 * errno. */
static int sleep_events(struct vchan *ch, int timeout_ms)
{
	/* With the peer watch, the epoll set: a dying peer wakes us too. */
	int fd = ch->efd >= 0 ? ch->efd : vchan_evt_fd(ch->evt);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int r;

	/* With no time limit and nothing else to watch, the event layer can
	 * sleep and consume the event in one system call. */
	if (timeout_ms < 0 && ch->efd < 0) {
		if (vchan_evt_wait(ch->evt) < 0)
			return -1;
		slept(ch);
		return 1;
	}
	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return r;
	/* The handle has one port, whose events coalesce: one pending call
	 * takes what woke us. Looking until none is left would cost one more
	 * system call per wake-up, and an event that came meanwhile keeps
	 * the fd readable anyway. */
	vchan_check_peer(ch);
	if (vchan_evt_pending(ch->evt) < 0)
		return -1;
	slept(ch);
	return 1;
}

/* Contention. A spin pays only while the peer runs on another CPU. On a
 * busy host (more runnable tasks than CPUs, or vCPUs overcommitted) it
 * does not: the peer waits for a CPU that our spin holds, each yield hands
 * our CPU to some other task for a whole time slice, and a task that spins
 * looks CPU-bound to the scheduler, so its wake-ups no longer preempt the
 * others, while a task that sleeps keeps that claim. Spinning then makes
 * every wait a time slice long instead of a wake-up long.
 *
 * The signs: a spin (or the CPU offered before a sleep) that lost its CPU
 * (two looks further apart than LOST_CPU_NS: another task ran on it, or
 * the hypervisor ran another vCPU there) and found the peer still where it
 * was, or twice in a row found it moved (see lost_cpu). And, where the
 * platform tells (vchan_evt_stolen: on Linux the thread's run_delay, the
 * time it was runnable but kept from a CPU), read at most every
 * STEAL_PERIOD_NS when about to spin or offer the CPU: a share of the time
 * since the last reading above 1/(1 + BACKOFF_RATIO), less what the
 * wake-ups from our sleeps meanwhile account for (see watch_steal). The
 * second sees what the clock of a spin does not: a pair that hands one CPU
 * back and forth with quick yields (beside a third task, or beside an idle
 * CPU: two processes of one kernel that the scheduler put on one CPU stay
 * there while both keep running, and sleeping then beats yielding), or
 * waits whose wake-ups queue behind other tasks for longer than a wake-up
 * takes. In a unikernel there is no such reading, and the first works
 * alone. Both cost nothing more than the clock reads a spin makes anyway
 * (and one small read a millisecond), under any scheduler, with or without
 * a hypervisor below, and in a unikernel (where sched_yield is
 * SCHEDOP_yield, and a lost CPU is another vCPU's turn).
 *
 * One sign is not contention yet. On an idle host a task of the kernel's
 * own, an interrupt burst or a migration takes a CPU for a moment, and a
 * back-off of BACKOFF_RATIO times that long would stop spinning for far
 * longer than the disturbance lasted (a call-and-answer pair then pays a
 * wake-up per message where it paid a spin). So the first sign only makes
 * the next wait sleep, without spinning or offering the CPU first: it
 * costs one wake-up, and leaves the CPU to whoever wanted it meanwhile.
 *
 * A second sign within the back-off that the first would have started
 * (BACKOFF_RATIO times as long as the CPU was away) is contention: someone
 * else wants this CPU. Then the channel backs off: no spinning, and no CPU
 * offered before a sleep, for BACKOFF_RATIO times as long as the CPU was
 * away, at least twice the previous back-off while they come one after
 * the other, at most BACKOFF_MAX_NS. Blocking calls and loops only sleep
 * meanwhile, as libxenvchan does. After a back-off the channel spins
 * again: a probe, which costs at most one time slice and so at most
 * 1/(1 + BACKOFF_RATIO) of the time. A sign within one back-off of the
 * end of the last is contention at once: while the host stays busy the
 * probes soon lose the CPU again and the back-offs double up to
 * BACKOFF_MAX_NS, so they cost next to nothing; once it is quiet, the
 * first probe finds no contender and spinning stays, within
 * BACKOFF_MAX_NS. Even spins that got their answers do not keep spinning
 * on at a busy host: each lost CPU costs a time slice, the price of
 * hundreds of wake-ups. */

/* Contention at `now`: the CPU was away for `away` ns. Back off for
 * BACKOFF_RATIO times that; within one back-off of the end of the last
 * one, the host is still busy, and the back-off doubles. */
static void contended(struct vchan *ch, uint64_t now, uint64_t away)
{
	uint64_t b = away * BACKOFF_RATIO;

	if (ch->calm_from != 0 && now < ch->calm_from + ch->backoff_ns &&
	    b < 2 * ch->backoff_ns)
		b = 2 * ch->backoff_ns;
	if (b > BACKOFF_MAX_NS)
		b = BACKOFF_MAX_NS;
	ch->backoff_ns = b;
	ch->calm_from = now + b;
	ch->suspect_until = ch->calm_from + b;
}

/* A sign of contention: the CPU was away (or taken from us) for `away`
 * ns. The first is followed by one sleep; a second soon after backs off. */
static void contention_sign(struct vchan *ch, uint64_t away)
{
	uint64_t now = vchan_now_ns(), b = away * BACKOFF_RATIO;

	if (now < ch->suspect_until) {
		contended(ch, now, away);
		return;
	}
	ch->suspect_until = now + (b < BACKOFF_MAX_NS ? b : BACKOFF_MAX_NS);
	ch->sleep_once = 1;
}

/* Since the last look (at most every STEAL_PERIOD_NS), other tasks kept
 * our thread from a CPU more than 1/(1 + BACKOFF_RATIO) of the time: more
 * than a failed probe may cost. That is a sign, of that long. Each sleep
 * since may account for LOST_CPU_NS of it: the time from an event to our
 * running again counts too, and on an idle host that is the wake-up of a
 * halted CPU, tens of microseconds, where a task ahead of us in the queue
 * holds the CPU for a time slice. Without the allowance, a pair sleeping on
 * two idle CPUs (as it does through a back-off) would read as contended,
 * and never spin again. */
static void watch_steal(struct vchan *ch, uint64_t now)
{
	uint64_t st, stolen, woken, span = now - ch->steal_at;

	if (ch->steal_unknown || span < STEAL_PERIOD_NS)
		return;
	if (vchan_evt_stolen(ch->evt, &st) < 0) {
		ch->steal_unknown = 1; /* the platform does not tell */
		return;
	}
	stolen = st - ch->steal_ns;
	woken = (uint64_t)ch->steal_sleeps * LOST_CPU_NS;
	stolen = stolen > woken ? stolen - woken : 0;
	if (ch->steal_at != 0 && stolen > span / (1 + BACKOFF_RATIO))
		contention_sign(ch, stolen);
	ch->steal_at = now;
	ch->steal_ns = st;
	ch->steal_sleeps = 0;
}

/* Whether to skip spinning and offering the CPU at `now`: backing off,
 * or the sleep after a first sign. backing_off looks for a sign first. */
static int held_back(const struct vchan *ch, uint64_t now)
{
	return ch->sleep_once || (ch->calm_from != 0 && now < ch->calm_from);
}

static int backing_off(struct vchan *ch)
{
	uint64_t now = vchan_now_ns();

	if (!held_back(ch, now))
		watch_steal(ch, now);
	return held_back(ch, now);
}

/* A spin or a yield lost the CPU for `away` ns: a sign when the peer did
 * not move meanwhile, or when it moved but this is the second time in a
 * row (once may be the peer itself doing a long piece of work on our CPU;
 * when it keeps happening, another task takes our CPU for a time slice
 * while the peer answers on another, and a sleep would have been woken
 * sooner). Returns whether the peer moved (for `bits`). */
static int lost_cpu(struct vchan *ch, unsigned bits, uint64_t away)
{
	if (!vchan_ring_changed(&ch->ring, bits)) {
		contention_sign(ch, away);
		return 0;
	}
	if (++ch->lost_moved >= 2) {
		ch->lost_moved = 0;
		contention_sign(ch, away);
	}
	return 1;
}

/* How long to spin before sleeping, in ns. Spinning pays only when the
 * peer answers within the window; a window shorter than the peer's usual
 * answer is pure loss twice over: the CPU burnt spinning, then the
 * wake-up anyway. Worse, when both sides spin less than a kernel wake-up
 * takes, each side sleeps because the other slept: a ping-pong never
 * leaves that state. So the window follows the waits actually seen: a few
 * times their average while that is within the budget (so a peer that
 * answers in microseconds is caught, and a sleeping pair falls back into
 * spinning once one answer comes fast), and none while the peer takes
 * longer than the budget anyway (a slow or descheduled peer, where
 * spinning only steals the CPU it needs). Sleeping waits keep being
 * measured, so spinning resumes when the peer speeds up. */
static uint64_t spin_window(struct vchan *ch)
{
	uint64_t cap = (uint64_t)ch->spin_us * 1000u, w;

	if (cap == 0 || ch->wait_avg_ns >= cap || backing_off(ch))
		return 0;
	w = 4 * ch->wait_avg_ns;
	if (w < SPIN_MIN_NS)
		w = SPIN_MIN_NS;
	return w < cap ? w : cap;
}

/* A stalled call saw the peer move after waiting `ns`: fold it into the
 * average (weight 1/8, so one long wait does not switch spinning off). */
static void note_wait(struct vchan *ch, uint64_t ns)
{
	ch->wait_avg_ns = ch->wait_avg_ns - ch->wait_avg_ns / 8 + ns / 8;
}

/* Spin until the peer moves (for `bits`), *deadline (set on first use,
 * `window` ns from now) passes, or the CPU is lost to another task (see
 * contended, which starts a back-off). Returns 1 when something changed,
 * else 0. */
static int spin(struct vchan *ch, unsigned bits, uint64_t window,
		uint64_t *deadline)
{
	uint64_t now = vchan_now_ns(), yield_from = now + SPIN_PURE_NS;
	uint64_t last = now;

	if (*deadline == 0)
		*deadline = now + window;
	else if (now >= *deadline)
		return 0;
	for (unsigned i = 1;; i++) {
		if (vchan_ring_changed(&ch->ring, bits)) {
			ch->lost_moved = 0;
			return 1;
		}
		cpu_relax();
		if ((i & 15) != 0)
			continue;
		now = vchan_now_ns();
		if (now - last > LOST_CPU_NS)
			return lost_cpu(ch, bits, now - last);
		last = now;
		if (now >= *deadline)
			return 0;
		/* Past the first microseconds (a running peer answers
		 * within them), offer the CPU every few microseconds: on a
		 * loaded machine the peer we wait for is often queued
		 * behind us on this CPU, and a spin that keeps it only
		 * delays the answer. With nothing else to run, the call
		 * returns at once. */
		if (now >= yield_from && (i & 63) == 0)
			sched_yield();
	}
}

/* The bits a loop about to sleep on the fd waits for. */
static unsigned loop_bits(const struct vchan *ch)
{
	return VCHAN_RING_NOTIFY_WRITE |
	       (ch->want_space ? VCHAN_RING_NOTIFY_READ : 0u);
}

/* The call cannot progress: returns 1 to look again, 0 for "would block",
 * -1 + errno. Looking again after asking for the event closes the race
 * with a peer that moved just before the request was visible. */
int vchan_stall(struct vchan *ch, struct stall *s, unsigned bits)
{
	if (s->phase == STALL_SPIN) {
		uint64_t window = ch->blocking ? spin_window(ch) : 0;

		s->phase = STALL_ASK;
		if (ch->blocking && s->start == 0)
			s->start = vchan_now_ns();
		if (window != 0) {
			/* Past its first microseconds a spin yields. */
			s->offered = 1;
			if (spin(ch, bits, window, &s->deadline)) {
				note_wait(ch, vchan_now_ns() - s->start);
				s->phase = STALL_SPIN;
				s->start = 0;
				return 1;
			}
		}
	}
	if (s->phase == STALL_ASK) {
		if (bits & VCHAN_RING_NOTIFY_READ)
			ch->want_space = 1;
		/* Nothing asked, no race to close by looking again. */
		if (vchan_asks_later(ch))
			return 0;
		vchan_ring_request(&ch->ring, bits);
		/* Events are consumed only after a sleep, not here: in
		 * non-blocking mode the caller polls the fd for every kind
		 * of event, and one eaten here (say "space freed", during a
		 * read) would be lost to it; in blocking mode a stale event
		 * costs one early wake-up, which is rarer than the syscall
		 * that draining before every sleep would cost. */
		s->phase = STALL_SLEEP;
		return 1;
	}
	if (!ch->blocking)
		return 0;
	/* Before sleeping, offer the CPU once and look again. The peer we
	 * last woke is often queued on this CPU (the scheduler puts a wakee
	 * next to its waker): it runs now instead of after our sleep
	 * begins, and when it answers at once the sleep is saved. With
	 * nothing else to run the call returns at once, and a peer on the
	 * other CPU (say, a reader half-way through a copy) has had that
	 * long to move. A sleep and its wake-up cost tens of times more. */
	if (!s->offered) {
		uint64_t t;

		s->offered = 1;
		/* Under contention the yield would hand our CPU over for a
		 * time slice: sleep at once instead. */
		if (backing_off(ch))
			return 1;
		t = vchan_now_ns();
		sched_yield();
		t = vchan_now_ns() - t;
		if (t > LOST_CPU_NS)
			lost_cpu(ch, bits, t);
		else
			ch->lost_moved = 0;
		return 1;
	}
	if (sleep_events(ch, -1) < 0)
		return -1;
	s->offered = 0;
	/* Woken: the wait counts whether or not it brought progress (an
	 * extra wake-up is as long a wait as any). */
	if (ch->spin_us != 0) {
		uint64_t now = vchan_now_ns();

		note_wait(ch, now - s->start);
		s->start = now;
	}
	s->phase = STALL_ASK;
	return 1;
}

int vchan_wait(struct vchan *ch, int timeout_ms)
{
	uint64_t deadline = 0;
	long ready, space = 0;
	unsigned bits;
	int prev, st, n, spun;

	if (ch != NULL && vchan_poisoned(ch))
		return -1;
	if (ch == NULL || timeout_ms < -1) {
		errno = EINVAL;
		return -1;
	}
	spun = ch->spun;
	ch->spun = 0;
	prev = ch->ring.peer_state;
	/* Right after a vchan_spin that saw the peer move, the caller comes
	 * here on its way to read or write what the spin saw. When the peer
	 * took none of our requests since the events were last consumed, it
	 * sent no event for what it did (the spin had taken the requests
	 * back), and looking for one would be a system call for nothing. An
	 * event sent for anything else (a request taken just before the
	 * last consumption, whose event came after it) stays pending and
	 * the fd readable: a loop polls it level-triggered and comes back. A
	 * change of the peer's state comes with an event of its own, which
	 * is consumed below. */
	if (timeout_ms == 0 && spun && ch->ring.taken == 0) {
		st = vchan_ring_state(&ch->ring);
		if (st < 0)
			return -1;
		/* What the spin saw counts as seen, read or not: a caller
		 * that leaves it in the ring for now (a throttled server)
		 * must not be shown it again by the next spin. */
		if (st == prev && vchan_ring_ready(&ch->ring) >= 0)
			return 1;
	}
	bits = loop_bits(ch);
	if (ch->loop_wait_from != 0) {
		/* The loop slept after vchan_spin gave up: that was a wait. */
		note_wait(ch, vchan_now_ns() - ch->loop_wait_from);
		ch->loop_wait_from = 0;
		slept(ch);
	}
	if (timeout_ms != 0 && spin_window(ch) != 0 &&
	    spin(ch, bits, spin_window(ch), &deadline))
		return 1;
	/* A spin-first loop only consumes the events here and retries its
	 * calls: it asks again before its next poll. */
	if (timeout_ms != 0 || !vchan_asks_later(ch))
		vchan_ring_request(&ch->ring, bits);
	n = drain(ch);
	if (n < 0)
		return -1;
	st = vchan_ring_state(&ch->ring);
	if (st < 0)
		return -1;
	ready = vchan_ring_ready(&ch->ring);
	if (ready >= 0 && ch->want_space)
		space = vchan_ring_space(&ch->ring);
	if (ready < 0 || space < 0)
		return -1;
	if (n > 0 || st != prev || st == VCHAN_CLOSED || ready > 0 || space > 0)
		return 1;
	return sleep_events(ch, timeout_ms);
}

/* Ask for `asked` of `bits` before the loop sleeps, then look once more:
 * the peer may have moved after our last look but before it could see
 * the request (vchan_ring_request's barrier orders the two). Returns 1
 * when it did, else 0. */
static int ask_and_look(struct vchan *ch, unsigned bits, unsigned asked)
{
	if (asked == 0)
		return 0;
	vchan_ring_request(&ch->ring, asked);
	return vchan_ring_changed(&ch->ring, bits);
}

/* What vchan_spin and vchan_ask do first: check ch, and find what the
 * loop waits for. Returns 0, or -1 + errno. */
static int loop_start(struct vchan *ch, unsigned *bits)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (vchan_poisoned(ch))
		return -1;
	ch->spun = 0;
	*bits = loop_bits(ch);
	return 0;
}

/* The peer moved before the loop slept: its wait (since `from`) counts. */
static int caught(struct vchan *ch, uint64_t from)
{
	note_wait(ch, vchan_now_ns() - from);
	ch->loop_wait_from = 0;
	return 1;
}

int vchan_spin(struct vchan *ch)
{
	uint64_t deadline = 0, window, now;
	unsigned bits, asked = 0;

	if (loop_start(ch, &bits) < 0)
		return -1;
	now = vchan_now_ns();
	window = spin_window(ch);
	if (window != 0) {
		/* Take back the requests the last stalled call made: a peer
		 * that answers within the spin would otherwise send an event
		 * (a system call on its side, and one more here to consume
		 * it) for an answer we have already seen. */
		asked = vchan_ring_withdraw(&ch->ring, bits);
		if (spin(ch, bits, window, &deadline)) {
			/* Caught with our requests taken back: vchan_wait(ch,
			 * 0) need not look for an event (unless the peer had
			 * taken one, which vchan_ring_withdraw noted). */
			ch->spun = 1;
			return caught(ch, now);
		}
	}
	/* A spin-first loop's calls asked for nothing: ask now. */
	if (vchan_asks_later(ch))
		asked = bits;
	if (ask_and_look(ch, bits, asked))
		return caught(ch, now);
	/* The peer took longer than the window: count that now, since an
	 * idle peer may never wake the loop for this channel, and a loop
	 * busy with others would spin here before every sleep. The loop
	 * sleeps now; vchan_wait, when it wakes, measures how long the peer
	 * took, so that spinning resumes once it is quick again. */
	if (window != 0)
		note_wait(ch, window);
	if (ch->spin_us != 0)
		ch->loop_wait_from = now;
	return 0;
}

int vchan_ask(struct vchan *ch)
{
	unsigned bits;

	if (loop_start(ch, &bits) < 0)
		return -1;
	return ask_and_look(ch, bits, bits);
}

int vchan_set_spin_first(struct vchan *ch, int on)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	ch->spin_first = on != 0;
	return 0;
}

int vchan_set_blocking(struct vchan *ch, int blocking)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	ch->blocking = blocking != 0;
	return 0;
}

int vchan_set_spin(struct vchan *ch, unsigned usec)
{
	if (ch == NULL) {
		errno = EINVAL;
		return -1;
	}
	ch->spin_us = usec;
	ch->wait_avg_ns = (uint64_t)usec * 1000u / 4u;
	return 0;
}
