/* tools/vchan-bench/rpc.c - the rpc mode: echo calls through the rpc/
 * runtime over a vchan and over a Unix socket.
 *
 * One server process (domain BENCH_SRV_DOMID) carries the Echo service of
 * echo.proto on both addresses; one client process (domain
 * BENCH_CLI_DOMID) measures each in turn, so both transports run the same
 * code on both sides. Per transport: a checking warm-up, then the rate
 * with many calls in flight, then the latency with one call in flight.
 * Every reply is checked (sequence number, text, payload bytes).
 *
 * The grpc-unix row is the same measurement made by vchan-bench-grpc
 * (grpc-echo.cc: gRPC C++), run afterwards as a server and a client
 * process of its own over a Unix socket; the other rows get a second pair
 * of ratios, against it. */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc/rpc.h"
#include "tools/vchan-bench/echo.pb-c.h"
#include "tools/vchan-bench/bench.h"
#include "tools/vchan-bench/transport.h"

#define RPC_PORT      "bench"
#define RPC_SIZE      64u /* payload bytes each way */
#define RPC_IN_FLIGHT 64u
#define RPC_WARMUP    1000u
/* calls timed for the rate (many in flight) and the latency (one) */
#define RPC_RATE_CALLS(quick) ((quick) ? 20000u : 200000u)
#define RPC_LAT_CALLS(quick)  ((quick) ? 2000u : 20000u)
#define RPC_TEXT	      "vchan-bench"

/* ---- the server ---- */

static void bench_echo(Vchanbench__Echo_Service *service,
		       const Vchanbench__EchoRequest *in,
		       Vchanbench__EchoReply_Closure closure, void *data)
{
	Vchanbench__EchoReply r = VCHANBENCH__ECHO_REPLY__INIT;

	(void)service;
	r.text = in->text;
	r.seq = in->seq;
	r.blob = in->blob;
	closure(&r, data);
}

static void bench_fail(Vchanbench__Echo_Service *service,
		       const Vchanbench__EchoRequest *in,
		       Vchanbench__EchoReply_Closure closure, void *data)
{
	(void)service;
	(void)in;
	closure(NULL, data);
}

static void on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Serve Echo on both addresses until SIGTERM. Returns the exit status. */
static int serve(const char *unix_addr, int want_vchan, int want_unix)
{
	Vchanbench__Echo_Service cli = VCHANBENCH__ECHO__INIT(bench_);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv =
	    loop ? vchan_rpc_server_new(loop, NULL) : NULL;
	char vaddr[64];
	ev_signal sig;
	int rc = 1;

	snprintf(vaddr, sizeof(vaddr), "vchan:%u/%s", BENCH_CLI_DOMID,
		 RPC_PORT);
	if (srv == NULL || vchan_rpc_server_add_service(srv, &cli.base) < 0)
		goto out;
	if (want_vchan && vchan_rpc_server_listen(srv, vaddr) < 0) {
		perror("vchan-bench rpc server: listen vchan");
		goto out;
	}
	if (want_unix && vchan_rpc_server_listen(srv, unix_addr) < 0) {
		perror("vchan-bench rpc server: listen unix");
		goto out;
	}
	ev_signal_init(&sig, on_term, SIGTERM);
	ev_signal_start(loop, &sig);
	ev_run(loop, 0);
	ev_signal_stop(loop, &sig);
	rc = 0;
out:
	vchan_rpc_server_free(srv);
	if (loop != NULL)
		ev_loop_destroy(loop);
	return rc;
}

/* ---- the client ---- */

struct load {
	struct vchan_rpc_client *cli;
	struct ev_loop *loop;
	uint8_t payload[RPC_SIZE];
	uint32_t next, total, done, bad;
	uint8_t *seen;
	/* One call in flight: when it was made, and each call's round trip
	 * (from the call to its callback) by sequence number. */
	uint64_t sent_ns, *lat;
	char why[128];
};

static void send_next(struct load *l);

static void check_reply(struct load *l, const Vchanbench__EchoReply *r)
{
	if (r == NULL) {
		snprintf(l->why, sizeof(l->why), "call failed: %s",
			 vchan_rpc_status_str(vchan_rpc_client_status(l->cli)));
	} else if (r->seq >= l->total || l->seen[r->seq]) {
		snprintf(l->why, sizeof(l->why), "reply of unknown call %u",
			 r->seq);
	} else if (r->text == NULL || strcmp(r->text, RPC_TEXT) != 0 ||
		   r->blob.len != RPC_SIZE ||
		   memcmp(r->blob.data, l->payload, RPC_SIZE) != 0 ||
		   r->blob.data[0] != (uint8_t)r->seq) {
		snprintf(l->why, sizeof(l->why), "wrong reply to call %u",
			 r->seq);
	} else {
		l->seen[r->seq] = 1;
		return;
	}
	l->bad++;
}

static void on_reply(const Vchanbench__EchoReply *r, void *data)
{
	struct load *l = data;

	if (l->lat != NULL && r != NULL && r->seq < l->total)
		l->lat[r->seq] = bench_now_ns() - l->sent_ns;

	/* The payload's first byte carries the sequence number, so a reply
	 * with another call's payload shows. */
	if (r != NULL)
		l->payload[0] = (uint8_t)r->seq;
	check_reply(l, r);
	l->done++;
	if (l->next < l->total && l->bad == 0)
		send_next(l);
}

static void send_next(struct load *l)
{
	Vchanbench__EchoRequest req = VCHANBENCH__ECHO_REQUEST__INIT;

	req.text = RPC_TEXT;
	req.seq = l->next++;
	l->payload[0] = (uint8_t)req.seq;
	req.blob.data = l->payload;
	req.blob.len = RPC_SIZE;
	l->sent_ns = bench_now_ns();
	vchanbench__echo__echo(vchan_rpc_client_service(l->cli), &req, on_reply,
			       l);
}

/* `total` calls with `in_flight` at once; with one in flight each call's
 * round trip goes to lat[] (NULL: not kept). Each reply's callback makes
 * the next call, as an application does, so that a call is timed from
 * the stub to its callback and nothing else. Returns the elapsed ns or 0
 * on failure. */
static uint64_t run_calls(struct load *l, uint32_t total, unsigned in_flight,
			  uint64_t *lat)
{
	uint64_t t0;

	free(l->seen);
	l->seen = calloc(total, 1);
	if (l->seen == NULL)
		return 0;
	l->next = l->done = l->bad = 0;
	l->total = total;
	l->lat = in_flight == 1 ? lat : NULL;
	t0 = bench_now_ns();
	for (unsigned i = 0; i < in_flight && l->next < total; i++)
		send_next(l);
	while (l->done < l->next)
		ev_run(l->loop, EVRUN_ONCE);
	l->lat = NULL;
	if (l->bad != 0 || l->done != total)
		return 0;
	return bench_now_ns() - t0 + 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Measure one address, writing "R <calls/s> <p50_ns> <p99_ns> <count>" or
 * "E <why>" to res. */
static void measure_addr(const char *addr, int quick, int res)
{
	uint32_t rate_calls = RPC_RATE_CALLS(quick);
	uint32_t lat_calls = RPC_LAT_CALLS(quick);
	struct load l;
	uint64_t *lat = calloc(lat_calls, sizeof(*lat));
	uint64_t ns;

	memset(&l, 0, sizeof(l));
	for (unsigned i = 0; i < RPC_SIZE; i++)
		l.payload[i] = (uint8_t)(i * 13 + 5);
	l.loop = ev_loop_new(EVFLAG_AUTO);
	if (lat == NULL || l.loop == NULL) {
		bench_report(res, "E %s: out of memory", addr);
		goto out;
	}
	/* A socket's path appears when the server listens; a vchan client
	 * waits for its XenStore keys by itself. */
	for (int i = 0; strncmp(addr, "unix:", 5) == 0 && i < 1000 &&
			access(addr + 5, F_OK) != 0;
	     i++)
		usleep(10000);
	l.cli = vchan_rpc_client_new(l.loop, addr,
				     &vchanbench__echo__descriptor, NULL);
	if (l.cli == NULL || vchan_rpc_client_connect(l.cli, 10000) < 0) {
		bench_report(res, "E %s: connect: %s", addr, strerror(errno));
		goto out;
	}
	if (run_calls(&l, RPC_WARMUP, RPC_IN_FLIGHT, NULL) == 0) {
		bench_report(res, "E %s: warm-up: %s", addr, l.why);
		goto out;
	}
	ns = run_calls(&l, rate_calls, RPC_IN_FLIGHT, NULL);
	if (ns == 0) {
		bench_report(res, "E %s: rate: %s", addr, l.why);
		goto out;
	}
	if (run_calls(&l, lat_calls, 1, lat) == 0) {
		bench_report(res, "E %s: latency: %s", addr, l.why);
		goto out;
	}
	qsort(lat, lat_calls, sizeof(*lat), cmp_u64);
	bench_report(res, "R %.1f %llu %llu %u",
		     (double)rate_calls * 1e9 / (double)ns,
		     (unsigned long long)lat[lat_calls / 2],
		     (unsigned long long)lat[(uint64_t)lat_calls * 99 / 100],
		     rate_calls);
out:
	vchan_rpc_client_free(l.cli);
	if (l.loop != NULL)
		ev_loop_destroy(l.loop);
	free(l.seen);
	free(lat);
}

/* ---- the parent ---- */

static pid_t spawn(unsigned domid, int close_fd)
{
	char dom[16];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	if (close_fd >= 0)
		close(close_fd);
	snprintf(dom, sizeof(dom), "%u", domid);
	setenv("VCHAN_DOMID", dom, 1);
	return 0;
}

/* Read one line from fd within `deadline_ns`. Returns its length, 0 at end
 * of file, -1 on timeout. */
static ssize_t read_line(int fd, char *buf, size_t size, uint64_t deadline_ns)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = bench_now_ns();
		ssize_t k;

		if (now >= deadline_ns)
			return -1;
		if (poll(&p, 1, (int)((deadline_ns - now) / 1000000 + 1)) <= 0)
			continue;
		k = read(fd, buf + n, 1);
		if (k <= 0)
			break;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static void stop_child(pid_t pid, int kill_it)
{
	if (pid <= 0)
		return;
	kill(pid, kill_it ? SIGKILL : SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Fill row x from what a client (ours or the gRPC helper) said: `line`, of
 * length n as read_line returned it. */
static void take_result(struct bench_row *x, const char *line, ssize_t n)
{
	double rate;
	unsigned long long p50, p99;
	unsigned count;

	if (n <= 0) {
		snprintf(x->why, sizeof(x->why), "%s",
			 n < 0 ? "timed out" : "client ended early");
	} else if (line[0] == 'E') {
		snprintf(x->why, sizeof(x->why), "%.240s",
			 n > 2 ? line + 2 : "");
	} else if (sscanf(line, "R %lf %llu %llu %u", &rate, &p50, &p99,
			  &count) == 4) {
		x->ok = 1;
		x->verified = 1;
		x->rate = rate;
		x->p50 = (double)p50 / 1e3;
		x->p99 = (double)p99 / 1e3;
		x->count = count;
	} else {
		snprintf(x->why, sizeof(x->why), "bad result line");
	}
}

/* Our server and client, over the addresses wanted. Returns the number of
 * rows that failed. */
static int measure_ours(const struct bench_xopts *o, char addr[2][300],
			struct bench_row *row[2])
{
	char line[512];
	int pr[2], failures = 0, timed_out = 0;
	pid_t srv, cli = -1;
	uint64_t deadline;

	srv = spawn(BENCH_SRV_DOMID, -1);
	if (srv == 0)
		_exit(serve(addr[1], row[0] != NULL, row[1] != NULL));
	if (srv < 0 || pipe(pr) < 0) {
		for (int i = 0; i < 2; i++)
			if (row[i] != NULL) {
				snprintf(row[i]->why, sizeof(row[i]->why),
					 "fork: %s", strerror(errno));
				failures++;
			}
		stop_child(srv, 1);
		return failures;
	}
	cli = spawn(BENCH_CLI_DOMID, pr[0]);
	if (cli == 0) {
		for (int i = 0; i < 2; i++)
			if (row[i] != NULL)
				measure_addr(addr[i], o->quick, pr[1]);
		_exit(0);
	}
	close(pr[1]);
	deadline = bench_now_ns() + (uint64_t)o->timeout_s * 2 * 1000000000u;
	for (int i = 0; i < 2; i++) {
		ssize_t n;

		if (row[i] == NULL)
			continue;
		n = cli > 0 && !timed_out
			? read_line(pr[0], line, sizeof(line), deadline)
			: -1;
		if (n < 0)
			timed_out = 1;
		take_result(row[i], line, n);
		if (row[i]->ok != 1)
			failures++;
	}
	close(pr[0]);
	stop_child(cli, 1);
	stop_child(srv, timed_out);
	return failures;
}

#ifdef HAVE_GRPC
/* vchan-bench-grpc: $VCHAN_BENCH_GRPC_HELPER, else next to our executable
 * (or one level up, from a libtool build tree's .libs), else installed. */
static int find_grpc_helper(char *out, size_t size)
{
	static const char *const rel[] = {"vchan-bench-grpc",
					  "../vchan-bench-grpc", NULL};
	const char *e = getenv("VCHAN_BENCH_GRPC_HELPER");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (e == NULL) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL)
			*slash = '\0';
		for (int i = 0; n > 0 && rel[i] != NULL; i++) {
			if (snprintf(out, size, "%s/%s", self, rel[i]) <
				(int)size &&
			    access(out, X_OK) == 0)
				return 1;
		}
		e = PKGLIBEXECDIR "/vchan-bench-grpc";
	}
	snprintf(out, size, "%s", e);
	return out[0] != '\0' && access(out, X_OK) == 0;
}

/* Run the helper with argv, its standard output on out_fd (-1: none) and
 * its standard error appended to errf. Returns its pid or -1. */
static pid_t spawn_helper(char *const argv[], int out_fd, int close_fd,
			  const char *errf)
{
	pid_t parent = getpid(), pid;
	int e, o;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* Ended with us, even by SIGKILL: a gRPC server left behind would
	 * serve for ever. Checked after, in case we ended before. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(127);
	if (close_fd >= 0)
		close(close_fd);
	e = open(errf, O_WRONLY | O_CREAT | O_APPEND, 0600);
	o = out_fd >= 0 ? out_fd : open("/dev/null", O_WRONLY);
	if (e < 0 || o < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		_exit(127);
	execv(argv[0], argv);
	fprintf(stderr, "vchan-bench: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* SIGTERM, then SIGKILL if it has not ended within a second. */
static void stop_helper(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	stop_child(pid, 1);
}

/* The last line the helpers wrote to errf, for a reason. */
static void last_err(const char *errf, char *out, size_t size)
{
	char buf[4096], *p;
	ssize_t n = -1;
	int fd = open(errf, O_RDONLY);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	p = strrchr(buf, '\n');
	p = p != NULL ? p + 1 : buf;
	/* Cut to fit: the start of the line says enough. */
	n = (ssize_t)strlen(p);
	if ((size_t)n >= size)
		n = (ssize_t)size - 1;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
}

/* The grpc-unix row: vchan-bench-grpc's server and client, the same
 * calls as measure_addr's. Returns 1 if the row failed, else 0. */
static int measure_grpc(const struct bench_xopts *o, struct bench_row *g)
{
	char prog[PATH_MAX], addr[300], errf[PATH_MAX], line[512], err[160];
	char a_serve[] = "serve", a_call[] = "call", a_num[5][16];
	char *sargv[] = {prog, a_serve, addr, NULL};
	char *cargv[] = {prog,	   a_call,   addr,     a_num[0], a_num[1],
			 a_num[2], a_num[3], a_num[4], NULL};
	int pr[2];
	pid_t srv, cli;
	ssize_t n;

	if (!find_grpc_helper(prog, sizeof(prog))) {
		g->ok = -1;
		snprintf(g->why, sizeof(g->why),
			 "no vchan-bench-grpc helper (tried %.150s)", prog);
		return 0;
	}
	snprintf(addr, sizeof(addr), "unix:%s/grpc.sock", o->dir);
	snprintf(errf, sizeof(errf), "%s/grpc.err", o->dir);
	snprintf(a_num[0], sizeof(a_num[0]), "%u", RPC_SIZE);
	snprintf(a_num[1], sizeof(a_num[1]), "%u", RPC_IN_FLIGHT);
	snprintf(a_num[2], sizeof(a_num[2]), "%u", RPC_WARMUP);
	snprintf(a_num[3], sizeof(a_num[3]), "%u", RPC_RATE_CALLS(o->quick));
	snprintf(a_num[4], sizeof(a_num[4]), "%u", RPC_LAT_CALLS(o->quick));
	/* The server first, so that it holds no end of the client's pipe. */
	srv = spawn_helper(sargv, -1, -1, errf);
	if (srv < 0 || pipe(pr) < 0) {
		snprintf(g->why, sizeof(g->why), "%s: %s",
			 srv < 0 ? "fork" : "pipe", strerror(errno));
		stop_helper(srv);
		return 1;
	}
	cli = spawn_helper(cargv, pr[1], pr[0], errf);
	close(pr[1]);
	n = cli > 0 ? read_line(pr[0], line, sizeof(line),
				bench_now_ns() +
				    (uint64_t)o->timeout_s * 2 * 1000000000u)
		    : 0;
	close(pr[0]);
	take_result(g, line, n);
	stop_child(cli, 1);
	stop_helper(srv);
	if (g->ok == 1)
		return 0;
	/* Nothing said on the pipe: the helper's last word, if any. */
	last_err(errf, err, sizeof(err));
	if (n <= 0 && err[0] != '\0')
		snprintf(g->why + strlen(g->why),
			 sizeof(g->why) - strlen(g->why), ": %s", err);
	return 1;
}
#endif

int bench_rpc_run(const struct bench_xopts *o, struct bench_rows *rows)
{
	const char *names[2] = {"vchan", "unix"};
	int want[2] = {o->want_vchan, o->want_unix};
	char addr[2][300];
	struct bench_row *row[2] = {NULL, NULL}, *g;
	int failures = 0;

	snprintf(addr[0], sizeof(addr[0]), "vchan:%u/%s", BENCH_SRV_DOMID,
		 RPC_PORT);
	snprintf(addr[1], sizeof(addr[1]), "unix:%s/rpc.sock", o->dir);
	/* Add every row first: adding may move the earlier ones. */
	for (int i = 0; i < 2; i++)
		if (want[i])
			bench_rows_add(rows, "rpc");
	bench_rows_add(rows, "rpc");
	for (int i = 0, k = (int)rows->n - 1 - want[0] - want[1]; i < 2; i++) {
		if (!want[i])
			continue;
		row[i] = &rows->v[k++];
		snprintf(row[i]->transport, sizeof(row[i]->transport), "%s",
			 names[i]);
		row[i]->size = RPC_SIZE;
		row[i]->in_flight = RPC_IN_FLIGHT;
		row[i]->base = i == 0 && want[1] ? "unix" : NULL;
	}
	g = &rows->v[rows->n - 1];
	snprintf(g->transport, sizeof(g->transport), "%s", BENCH_GRPC_ROW);
	g->size = RPC_SIZE;
	g->in_flight = RPC_IN_FLIGHT;
	if (want[0] || want[1])
		failures += measure_ours(o, addr, row);
		/* gRPC after ours, never at the same time: the two share the
		 * CPUs. */
#ifdef HAVE_GRPC
	failures += measure_grpc(o, g);
#else
	g->ok = -1;
	snprintf(g->why, sizeof(g->why), "gRPC helper not built (%s)",
		 GRPC_MISSING);
#endif
	return failures;
}
