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

/* Fork a process that sets VCHAN_DOMID=domid, runs fn(arg) and exits with
 * its return value. Returns the pid, or -1. */
pid_t tu_spawn(uint32_t domid, int (*fn)(void *), void *arg);

/* Wait for pid at most timeout_ms; a process still running then is killed.
 * Returns its exit status (0..255), 128 + signal when killed by one, or -1
 * on timeout. */
int tu_wait(pid_t pid, int timeout_ms);

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
