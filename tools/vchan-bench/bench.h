/* tools/vchan-bench/bench.h - the measuring core shared by vchan-bench and
 * its libxenvchan helper (vchan-bench-xen).
 *
 * A measurement runs in two processes, the server ("srv") and the client
 * ("cli"), joined by one transport. The transport is reached only through
 * struct bench_ep, so every transport runs exactly the same loops. Each
 * side reports to the parent through a file descriptor, one text line per
 * result (see "Result lines" below); the parent combines both sides.
 */
#ifndef VCHAN_BENCH_H
#define VCHAN_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One end of a connected transport. */
struct bench_ep;
struct bench_ep_ops {
	/* Send all n bytes. Returns 0 or -1 + errno. */
	int (*send)(struct bench_ep *ep, const void *buf, size_t n);
	/* Receive 1..n bytes, waiting for at least one. Returns the count or
	 * -1 + errno (EPIPE at end of stream). */
	ssize_t (*recv)(struct bench_ep *ep, void *buf, size_t n);
};

struct bench_ep {
	const struct bench_ep_ops *ops;
	void *priv;
};

enum bench_mode {
	BENCH_THROUGHPUT = 0, /* srv streams `bytes` to cli */
	BENCH_LATENCY,	      /* cli sends msg, srv echoes it: round trip */
	BENCH_NOTIFY,	      /* cli sends a timestamp to a sleeping srv */
	BENCH_MODES
};

/* What both sides of one measurement agree on (given on their command
 * lines or inherited through fork). */
struct bench_job {
	enum bench_mode mode;
	size_t msg;	  /* write size / message size */
	uint64_t bytes;	  /* throughput: bytes per repeat */
	unsigned iters;	  /* latency/notify: samples per repeat */
	unsigned repeats; /* timed repeats; one verified pass comes first */
	unsigned notify_gap_us; /* notify: idle time before each message */
};

/* Result lines, written with one write() each:
 *   T S <start_ns> <cpu_ns>                 throughput, sender side
 *   T R <end_ns> <cpu_ns> <verified>        throughput, receiver side
 *   L <p50_ns> <p99_ns> <p999_ns> <verified> [q0 .. q100]
 *                                           latency/notify percentiles and
 *                                           101 quantiles for a CDF
 *   U <setup_ns>                            one connection set-up
 *   E <message>                             failure
 * <verified> is 1 for the first (checking) pass, 0 for the timed ones.
 * Times are CLOCK_MONOTONIC nanoseconds, comparable between processes. */

/* Run one side of a throughput, latency or notify job on a connected
 * endpoint, writing result lines to res_fd. Returns 0, or -1 after an "E"
 * line was written. */
int bench_run_srv(struct bench_ep *ep, const struct bench_job *job, int res_fd);
int bench_run_cli(struct bench_ep *ep, const struct bench_job *job, int res_fd);

/* Write one formatted result line to fd (a newline is added). */
void bench_report(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* User + system CPU time of this process in nanoseconds. */
uint64_t bench_cpu_ns(void);

/* Set-up timing rendezvous between the two sides (a pipe both inherit):
 * the server posts the time it began creating its end, and one more value
 * the client needs (a TCP port; 0 otherwise), once the client may connect.
 * The client polls the pipe without sleeping (yielding the CPU only), so
 * no wake-up latency is added, and gets both. Return 0 or -1 + errno. */
int bench_setup_post(int fd, uint64_t start_ns, uint64_t aux);
int bench_setup_take(int fd, uint64_t *start_ns, uint64_t *aux);

/* ---- the rpc and e2e modes (rpc.c, e2e.c, rows.c) ----
 * Their figures are rates and call latencies, not the byte figures above,
 * so they are kept as rows of their own and printed after the others. */
/* How vchan-bench prints its results: a table, or --csv, --json. */
enum bench_format { BENCH_TABLE, BENCH_CSV, BENCH_JSON };

struct bench_row {
	const char *mode;   /* "rpc" or "e2e" */
	char transport[32]; /* rpc: vchan, unix, grpc-unix; e2e: see e2e.c */
	int ok;		    /* 1 measured, 0 failed, -1 unavailable */
	int verified;	    /* every reply was checked and right */
	double rate;	    /* calls (rpc) or requests (e2e) per second */
	double p50, p99;    /* microseconds */
	unsigned count;	    /* calls or requests timed */
	unsigned in_flight; /* at once, for the rate */
	unsigned size;	    /* rpc: payload bytes each way; e2e: 0 */
	unsigned load;	    /* CPU hogs that ran beside it */
	const char *base;   /* transport of the row the ratios are against */
	/* rpc over vchan: the p50 (µs) of the run's 64-byte vchan ping-pong
	 * at the same load, which the call's p50 is also compared with; 0:
	 * not measured in this run. */
	double pingpong_p50;
	char why[256];
};

struct bench_rows {
	struct bench_row *v;
	size_t n, cap;
};

/* The transport of the rpc mode's gRPC row (vchan-bench-grpc). */
#define BENCH_GRPC_ROW "grpc-unix"

/* Where the helpers are installed: the build defines it; this default is
 * for a compile by hand. */
#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/local/libexec/vchan"
#endif

/* What the rpc and e2e modes are told. */
struct bench_xopts {
	int quick;
	unsigned timeout_s; /* per measurement */
	int want_vchan, want_unix;
	const char *dir; /* private directory: sockets, logs, data */
	/* e2e: storage-server, web, tls-terminator (NULL: not found) */
	const char *prog[3];
	/* e2e: an HTTPS front already running on 127.0.0.1:xen_port (0:
	 * none), its certificate to verify (NULL: not verified) */
	int xen_port;
	const char *xen_cert;
};

/* Append a zeroed row of `mode` (rows.c). Exits the program when out of
 * memory. The rows may move: a pointer to one is good until the next
 * call. */
struct bench_row *bench_rows_add(struct bench_rows *rows, const char *mode);

/* Measure rpc echo calls over vchan and a Unix socket (and the gRPC row,
 * unavailable unless a helper exists), appending rows. Returns the number
 * of rows that failed. */
int bench_rpc_run(const struct bench_xopts *o, struct bench_rows *rows);

/* Measure HTTPS requests through the example's three domains and the
 * plain-TCP baseline (see the man page), appending rows. Returns the
 * number of rows that failed. */
int bench_e2e_run(const struct bench_xopts *o, struct bench_rows *rows);

/* Print the rows (rows.c): a table, CSV lines (no header: the caller's
 * header has the same columns) or JSON Lines. */
void bench_rows_print(const struct bench_rows *rows, enum bench_format format);

/* Print `s` on stdout as a JSON string, quotes included (vchan-bench.c). */
void bench_json_str(const char *s);

/* ---- the vchan rows across two domains (peer.c) ----
 * `vchan-bench --peer D` measures throughput and latency of vchan with
 * its other end in domain D, where `vchan-bench --serve <our id>` runs;
 * see peer.c for the protocol. */
struct pair;

/* A domain id of 0..32751 from text. Returns it or -1. */
int bench_peer_parse_domid(const char *s);

/* Fork a process that measures p's job (a vchan or vchan-nospin pair)
 * against domain `peer`, waiting up to wait_s seconds for it to connect.
 * Result lines (see above) of the serving side go to the pipe read by
 * fds[0], those of this side to fds[1], both in this domain's clock; the
 * caller closes them and reaps the pid. Returns the pid or -1 + errno. */
pid_t bench_peer_spawn(uint32_t peer, struct pair *p, unsigned wait_s,
		       int fds[2]);

/* Tell domain `peer`'s serving side to exit (waiting up to 10 s for it to
 * take the message). Returns 0 or -1 + errno. */
int bench_peer_quit(uint32_t peer);

/* The serving side: connect to the measuring side of domain `peer` for
 * one job after another until it says quit (returns 0), or until no job
 * came for idle_s seconds or the store failed (returns -1, said on
 * standard error). */
int bench_peer_serve(uint32_t peer, unsigned idle_s);

#endif
