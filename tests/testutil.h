/* tests/testutil.h - helpers for tests that play several domains. */
#ifndef VCHAN_TESTUTIL_H
#define VCHAN_TESTUTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* For test functions returning int: fail (return 1) with a message naming
 * the condition and errno. (cmocka tests use cmocka's asserts instead.) */
#define TU_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"%s:%d: check failed: %s (errno %d: %s)\n",    \
				__FILE__, __LINE__, #cond, errno,              \
				strerror(errno));                              \
			return 1;                                              \
		}                                                              \
	} while (0)

/* ---- Child processes ----
 * A test plays each domain in a process of its own. tu_spawn starts one and
 * remembers it, by the name of its function, until it is reaped. Every wait
 * is bounded: a child still running at its deadline is killed. An outcome
 * other than exit 0 (or the signal tu_kill sent) is reported on stderr by
 * name, so tests need not print their children's statuses. tu_reap_all()
 * ends the children a failed check left behind: TU_SCENARIO does it after
 * each scenario, and cmocka tests call it from their teardown.
 *
 * Statuses: the exit status (0..255), 128 + signal when killed by one, -1
 * when the deadline passed (the child is killed and reaped then). A pid of
 * 0 or less (a failed tu_spawn) is refused: -1, EINVAL. */

/* Fork a process that sets VCHAN_DOMID=domid, runs fn(arg) and exits with
 * its return value. Returns the pid, or -1. */
#define tu_spawn(domid, fn, arg) tu_spawn_named(#fn, (domid), (fn), (arg))
pid_t tu_spawn_named(const char *name, uint32_t domid, int (*fn)(void *),
		     void *arg);

/* Wait for pid at most timeout_ms; returns its status. */
int tu_wait(pid_t pid, int timeout_ms);

/* Has pid ended? 1 and *status when it has (it is reaped then), 0 while it
 * runs, -1 on error. Does not block. */
int tu_ended(pid_t pid, int *status);

/* Stop a child that runs until told: SIGCONT (it may be stopped on
 * purpose), SIGTERM, then tu_wait. Servers catch SIGTERM and exit 0. */
int tu_stop(pid_t pid, int timeout_ms);

/* SIGKILL pid and reap it; returns its status, 128 + SIGKILL normally. */
int tu_kill(pid_t pid, int timeout_ms);

/* SIGKILL and reap every child still remembered, naming each on stderr.
 * Returns how many there were. */
int tu_reap_all(void);

/* A cmocka teardown (cmocka_unit_test_teardown): a failed assert leaves
 * the test's children running; they are ended here, and the test fails. */
int tu_teardown(void **state);

/* ---- Named scenarios ----
 * A test that checks several things runs each as a scenario, so a failed
 * one does not hide the ones after it:
 *
 *	struct tu_scenarios r = {0};
 *	TU_SCENARIO(&r, "unix", over_unix(&c));
 *	TU_SCENARIO(&r, "tcp", over_tcp(&c));
 *	return tu_scenarios_done(&r);
 *
 * `call` is an int expression, 0 for success (a TU_CHECK function). Each
 * scenario is reported by name; one that leaves a child it started running
 * fails (children started before it, say a server several scenarios use,
 * are left alone). */
struct tu_scenarios {
	unsigned long first_child;
	int run, failed;
	char failed_names[512];
};
#define TU_SCENARIO(r, name, call)                                             \
	(tu_scenario_begin((r), (name)), tu_scenario_end((r), (name), (call)))
void tu_scenario_begin(struct tu_scenarios *r, const char *name);
/* Returns rc (1 when the scenario left children behind). */
int tu_scenario_end(struct tu_scenarios *r, const char *name, int rc);
/* Prints the summary; returns main's exit status: 0 when all passed. */
int tu_scenarios_done(const struct tu_scenarios *r);

/* Wait at most timeout_ms until path exists (a server's Unix socket, before
 * its client tries it once). Returns 0, or -1 when it never appeared. */
int tu_wait_path(const char *path, int timeout_ms);

/* Monotonic clock in microseconds. */
int64_t tu_now_us(void);

/* Wait until fd is readable, at most timeout_ms. Returns 1 readable, 0 timed
 * out, -1 error. */
int tu_readable(int fd, int timeout_ms);

/* A pair of pipes between a parent and its child, for small messages. */
struct tu_chan {
	int up[2];   /* child -> parent */
	int down[2]; /* parent -> child */
};
int tu_chan_init(struct tu_chan *c);
void tu_chan_close(struct tu_chan *c);
/* Send or receive exactly len bytes (receive waits at most 20 s). Returns 0
 * or -1. `child` is 1 on the child's side. */
int tu_send(struct tu_chan *c, int child, const void *buf, size_t len);
int tu_recv(struct tu_chan *c, int child, void *buf, size_t len);

/* Number of entries in the simulator directory, not counting the store's
 * "xs" directory. */
int tu_sim_dir_entries(void);

/* 1 when VCHAN_TEST_QUICK is set (slow wrappers such as valgrind). */
int tu_quick(void);

/* A time limit of `ms` stretched by VCHAN_TEST_TIME_FACTOR (default 1), for
 * runs that load the machine on purpose (tests/parallel.sh). */
int tu_ms(int ms);

#endif
