/* tools/vchan-bench/transport.h - the transports vchan-bench runs in its
 * own processes (libxenvchan runs in a helper program instead). */
#ifndef VCHAN_BENCH_TRANSPORT_H
#define VCHAN_BENCH_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/vchan-bench/bench.h"

/* Simulated domains of the two sides. */
#define BENCH_SRV_DOMID 1u
#define BENCH_CLI_DOMID 2u

enum transport {
	TR_VCHAN = 0,
	TR_VCHAN_NOSPIN,
	TR_PIPE,
	TR_UNIX,
	TR_TCP,
	TR_LIBXENVCHAN,
	TR_SHM,
	TR_COUNT
};

extern const char *const bench_transport_names[TR_COUNT];

/* 1 when the transport has a ring whose size the run chooses. */
int bench_transport_has_ring(enum transport t);

/* One measurement: two processes on one transport. */
struct pair {
	enum transport transport;
	struct bench_job job;
	size_t ring;	 /* ring size, for transports with one */
	unsigned setups; /* set-up mode: connections to time (else 0) */
	int spin_us;	 /* vchan's spin budget, -1: the library's default */
	char path[128];	 /* vchan: XenStore path (set-up: a prefix) */
	const char *dir; /* a private directory for fifos and sockets */
	int sync[2];	 /* set-up rendezvous pipe */
	pid_t srv_pid;	 /* known to the client (set before it forks) */
	/* Made before the fork by bench_pair_prepare. */
	int fd[4];
	uint16_t port;
	void *shm;
	size_t shm_len;
};

/* Make what both sides must inherit (pipes, sockets, shared memory).
 * Returns 0 or -1 + errno; bench_pair_release frees it in any case. */
int bench_pair_prepare(struct pair *p);
void bench_pair_release(struct pair *p);

/* In a child: connect as the server (srv = 1) or the client and run the
 * job, writing result lines to res. Returns 0 or -1. */
int bench_side_run(struct pair *p, int srv, int res);

/* In a child: time p->setups connections, the client reporting "U" lines.
 * Returns 0 or -1. */
int bench_setup_run(struct pair *p, int srv, int res);

#endif
