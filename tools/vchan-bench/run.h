/* tools/vchan-bench/run.h - one run of vchan-bench: its options and its
 * results, shared by the program's files. vchan-bench.c measures,
 * options.c reads the command line, output.c prints the results and
 * plot.c draws them. */
#ifndef VCHAN_BENCH_RUN_H
#define VCHAN_BENCH_RUN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/vchan-bench/bench.h"
#include "tools/vchan-bench/transport.h"

#define MAX_SIZES 16
#define MIB	  (1024u * 1024u)
/* Room for the timed repeats of one figure: --repeats stays below it. */
#define MAX_REPS 64
/* The loaded pass of a run without --load, and the most hogs --load takes. */
#define LOAD_DEFAULT 2u
#define LOAD_MAX     64u

/* Result modes: the three of bench.h and connection set-up; then the
 * modes that report rates as rows of their own (rpc.c, e2e.c). */
#define MODE_SETUP BENCH_MODES
#define MODE_RPC   (BENCH_MODES + 1)
#define MODE_E2E   (BENCH_MODES + 2)
#define MODE_COUNT (BENCH_MODES + 3)
extern const char *const mode_names[MODE_COUNT];

struct opts {
	int quick;
	enum bench_format format;
	const char *plot;
	uint64_t bytes;
	uint64_t max_writes;
	unsigned repeats;
	unsigned lat_iters, notify_iters, setups;
	unsigned timeout_s;
	int spin_us; /* -1: vchan's default */
	/* CPU hogs beside the rows, one pass of the plan per entry. Not
	 * given (loads_given 0): 0, then LOAD_DEFAULT with only the rows
	 * the contention is about (see run_all). */
	unsigned loads[MAX_SIZES];
	int n_loads, loads_given;
	int want_tr[TR_COUNT];
	int want_mode[MODE_COUNT];
	size_t tp_msgs[MAX_SIZES], tp_rings[MAX_SIZES], lat_msgs[MAX_SIZES];
	int n_tp_msgs, n_tp_rings, n_lat_msgs;
	size_t ring;   /* ring of the message-size sweeps */
	size_t tp_msg; /* message size of the ring sweep */
	int progress;
	int peer, serve; /* --peer, --serve DOMID (peer.c); -1: not given */
	int xen_port;	 /* --xen PORT; 0: not given */
	const char *xen_cert;
};

struct result {
	int mode;
	unsigned load; /* CPU hogs that ran beside it */
	enum transport tr;
	size_t msg, ring; /* ring 0: the transport has none */
	int ok;		  /* 1 measured, 0 failed, -1 unavailable */
	int verified;
	unsigned repeats;
	uint64_t bytes;
	double mbps, cpu_gb;
	double p50, p99, p999; /* microseconds */
	double q[101];	       /* latency quantiles (µs), for the CDF */
	char why[256];
};

struct run {
	struct opts o;
	struct result *res;
	size_t n_res, cap_res;
	char dir[256];	      /* private: sim dir, fifos, sockets */
	char sim[PATH_MAX];   /* vchan-sim */
	char xhelp[PATH_MAX]; /* vchan-bench-xen */
	char xs_path[PATH_MAX];
	char xs_pid[32];
	int xen_ok;
	char xen_why[256];
	unsigned seq;
	unsigned load; /* of the pass being measured */
	int failures;
	struct bench_rows rows; /* rpc and e2e */
};

/* vchan-bench.c */

/* Print "vchan-bench: msg" on stderr and exit 2. */
void die(const char *msg) __attribute__((noreturn));

/* A bad value of option `opt`: say which, and what it takes; exit 2. */
void bad_arg(const char *opt, const char *val, const char *expected)
    __attribute__((noreturn));

/* v as 64, 4K or 1M ("-" for 0), in buf. Returns buf. */
const char *human(size_t v, char *buf, size_t size);

/* 1 when p names an executable file. */
int is_exec(const char *p);

/* options.c: the command line into *o, with its defaults; exits 2 after
 * one line on a bad one (0 after --help or --version). */
void parse_opts(struct opts *o, int argc, char **argv);

/* output.c: the results, then the rows of the rate modes, on stdout in
 * r->o.format. */
void print_results(const struct run *r);

/* plot.c: --plot FILE, checked before anything is measured (exits 2 when
 * it cannot be done); then drawn from the results. plot returns 0 or -1
 * after a line on stderr. */
void plot_check(const char *file);
int plot(const struct run *r, const char *file);

#endif
