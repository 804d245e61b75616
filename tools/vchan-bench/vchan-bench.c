/* tools/vchan-bench/vchan-bench.c - throughput, latency, notification and
 * set-up time of vchan against the channels one would use instead, all in
 * one run on one machine, printed with ratios. See man/vchan-bench.1. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/vchan-bench/bench.h"
#include "tools/vchan-bench/transport.h"

#ifndef BINDIR
#define BINDIR "/usr/local/bin"
#endif

#define MAX_SIZES 16
#define MIB	  (1024u * 1024u)
/* Bounds of --bytes and --max-writes: a row must finish. */
#define BYTES_MIN      (64u * 1024u)
#define BYTES_MAX      (64ull << 30)
#define MAX_WRITES_MAX (1u << 30)

/* Result modes: the three of bench.h and connection set-up; then the
 * modes that report rates as rows of their own (rpc.c, e2e.c). */
#define MODE_SETUP BENCH_MODES
#define MODE_RPC   (BENCH_MODES + 1)
#define MODE_E2E   (BENCH_MODES + 2)
#define MODE_COUNT (BENCH_MODES + 3)
static const char *const mode_names[] = {"throughput", "latency", "notify",
					 "setup",      "rpc",	  "e2e"};

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
	int want_tr[TR_COUNT];
	int want_mode[MODE_COUNT];
	size_t tp_msgs[MAX_SIZES], tp_rings[MAX_SIZES], lat_msgs[MAX_SIZES];
	int n_tp_msgs, n_tp_rings, n_lat_msgs;
	size_t ring;   /* ring of the message-size sweeps */
	size_t tp_msg; /* message size of the ring sweep */
	int progress;
	int peer, serve; /* --peer, --serve DOMID (peer.c); -1: not given */
};

struct result {
	int mode;
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
	int failures;
	struct bench_rows rows; /* rpc and e2e */
};

/* ---- small helpers ---- */

static void die(const char *msg)
{
	fprintf(stderr, "vchan-bench: %s\n", msg);
	exit(2);
}

/* A bad value of option `opt`: say which, and what it takes; exit 2. */
static void bad_arg(const char *opt, const char *val, const char *expected)
{
	fprintf(stderr, "vchan-bench: %s: '%s' is not %s\n", opt, val,
		expected);
	fprintf(stderr, "Try 'vchan-bench --help'.\n");
	exit(2);
}

/* A positive number with an optional K, M or G suffix (powers of 1024).
 * Anything else, a sign or blank included, is refused, as is a value
 * that the suffix would carry past 64 bits. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift != 0)
		end++;
	if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_list(const char *s, size_t *out, int *n, size_t max)
{
	char buf[512], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (*n >= MAX_SIZES || parse_size(t, &v) < 0 || v > max)
			return -1;
		out[(*n)++] = (size_t)v;
	}
	return *n > 0 ? 0 : -1;
}

static const char *human(size_t v, char *buf, size_t size)
{
	if (v == 0)
		snprintf(buf, size, "-");
	else if (v % MIB == 0)
		snprintf(buf, size, "%zuM", v / MIB);
	else if (v % 1024 == 0)
		snprintf(buf, size, "%zuK", v / 1024);
	else
		snprintf(buf, size, "%zu", v);
	return buf;
}

static int is_exec(const char *p)
{
	return p[0] != '\0' && access(p, X_OK) == 0;
}

/* Find a program: $env, then next to our executable (also one level up,
 * for a libtool build tree's .libs), then `installed`. */
static int find_prog(char *out, const char *env, const char *const rel[],
		     const char *installed)
{
	char self[PATH_MAX], *slash;
	const char *e = getenv(env);
	ssize_t n;

	if (e != NULL) {
		snprintf(out, PATH_MAX, "%s", e);
		return is_exec(out);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL)
			*slash = '\0';
		for (int i = 0; rel[i] != NULL; i++) {
			if (snprintf(out, PATH_MAX, "%s/%s", self, rel[i]) <
				PATH_MAX &&
			    is_exec(out))
				return 1;
		}
	}
	snprintf(out, PATH_MAX, "%s", installed);
	return is_exec(out);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static struct result *add_result(struct run *r)
{
	if (r->n_res == r->cap_res) {
		size_t cap = r->cap_res ? 2 * r->cap_res : 64;
		struct result *n = realloc(r->res, cap * sizeof(*n));

		if (n == NULL)
			die("out of memory");
		r->res = n;
		r->cap_res = cap;
	}
	memset(&r->res[r->n_res], 0, sizeof(r->res[0]));
	return &r->res[r->n_res++];
}

/* ---- xenstored on the simulator, for libxenvchan ---- */

static void read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* Run `vchan-sim xenstored [--stop]`, collecting its standard output and
 * error through files: the xenstored it leaves running keeps them open,
 * so a pipe would never end. Returns its exit status or -1. */
static int run_sim_cmd(struct run *r, int stop, char *out, size_t size,
		       char *err, size_t esize)
{
	char fo[PATH_MAX], fe[PATH_MAX];
	int st;
	pid_t pid;

	snprintf(fo, sizeof(fo), "%s/sim-cmd.out", r->dir);
	snprintf(fe, sizeof(fe), "%s/sim-cmd.err", r->dir);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(r->sim, "vchan-sim", "xenstored", stop ? "--stop" : NULL,
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	read_file(fo, out, size);
	read_file(fe, err, esize);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Take `export NAME='value'` from vchan-sim's output. */
static int export_value(const char *out, const char *name, char *val,
			size_t size)
{
	char key[64];
	const char *p, *q;

	snprintf(key, sizeof(key), "export %s=", name);
	p = strstr(out, key);
	if (p == NULL)
		return -1;
	p += strlen(key);
	if (*p == '\'')
		p++;
	q = p + strcspn(p, "'\n");
	if ((size_t)(q - p) >= size)
		return -1;
	memcpy(val, p, (size_t)(q - p));
	val[q - p] = '\0';
	return 0;
}

static void first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

static void xen_start(struct run *r)
{
	static const char *const sim_rel[] = {"../vchan-sim/vchan-sim",
					      "../../vchan-sim/vchan-sim",
					      "vchan-sim", NULL};
	static const char *const help_rel[] = {"vchan-bench-xen",
					       "../vchan-bench-xen", NULL};
	char out[4096], err[1024];
	int st;

	if (!r->o.want_tr[TR_LIBXENVCHAN])
		return;
	if (!find_prog(r->xhelp, "VCHAN_BENCH_XEN_HELPER", help_rel,
		       PKGLIBEXECDIR "/vchan-bench-xen")) {
		snprintf(r->xen_why, sizeof(r->xen_why),
			 "no vchan-bench-xen helper (built only with "
			 "libxen-dev; tried %.150s)",
			 r->xhelp);
		return;
	}
	if (!find_prog(r->sim, "VCHAN_BENCH_SIM", sim_rel,
		       BINDIR "/vchan-sim")) {
		snprintf(
		    r->xen_why, sizeof(r->xen_why),
		    "tools/vchan-sim not built or installed (tried %.150s)",
		    r->sim);
		return;
	}
	st = run_sim_cmd(r, 0, out, sizeof(out), err, sizeof(err));
	if (st != 0 || export_value(out, "XENSTORED_PATH", r->xs_path,
				    sizeof(r->xs_path)) < 0) {
		first_line(err);
		snprintf(
		    r->xen_why, sizeof(r->xen_why),
		    "vchan-sim xenstored failed (needs xen-utils-4.17): %.150s",
		    err[0] ? err : "no XENSTORED_PATH printed");
		return;
	}
	export_value(out, "VCHAN_SIM_XENSTORED_PID", r->xs_pid,
		     sizeof(r->xs_pid));
	r->xen_ok = 1;
}

static void xen_stop(struct run *r)
{
	char out[1024], err[1024];

	if (!r->xen_ok)
		return;
	if (r->xs_pid[0] != '\0')
		setenv("VCHAN_SIM_XENSTORED_PID", r->xs_pid, 1);
	setenv("XENSTORED_PATH", r->xs_path, 1);
	run_sim_cmd(r, 1, out, sizeof(out), err, sizeof(err));
	unsetenv("XENSTORED_PATH");
	unsetenv("VCHAN_SIM_XENSTORED_PID");
}

/* ---- running a pair ---- */

static void xen_exec(struct run *r, struct pair *p, int srv, int mode)
{
	char a[9][40];
	const char *m = mode_names[mode];

	snprintf(a[0], 40, "%u", srv ? BENCH_SRV_DOMID : BENCH_CLI_DOMID);
	snprintf(a[1], 40, "%zu", p->job.msg);
	snprintf(a[2], 40, "%" PRIu64, p->job.bytes);
	snprintf(a[3], 40, "%u", p->job.iters);
	snprintf(a[4], 40, "%u", p->job.repeats);
	snprintf(a[5], 40, "%u", p->job.notify_gap_us);
	snprintf(a[6], 40, "%zu", p->ring);
	snprintf(a[7], 40, "%u", p->setups);
	snprintf(a[8], 40, "%d", p->sync[srv ? 1 : 0]);
	setenv("XENSTORED_PATH", r->xs_path, 1);
	execl(r->sim, "vchan-sim", "run", "--domid", a[0], "--", r->xhelp,
	      srv ? "srv" : "cli", m, a[1], a[2], a[3], a[4], a[5], a[6],
	      p->path, a[7], a[8], (char *)NULL);
}

static pid_t spawn_side(struct run *r, struct pair *p, int srv, int mode,
			int *res_rd)
{
	char dom[16], errf[PATH_MAX];
	int pr[2];
	pid_t pid;

	if (pipe(pr) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pr[0]);
		close(pr[1]);
		return -1;
	}
	if (pid > 0) {
		close(pr[1]);
		*res_rd = pr[0];
		return pid;
	}
	close(pr[0]);
	if (mode == MODE_SETUP)
		close(p->sync[srv ? 0 : 1]);
	snprintf(dom, sizeof(dom), "%u",
		 srv ? BENCH_SRV_DOMID : BENCH_CLI_DOMID);
	setenv("VCHAN_DOMID", dom, 1);
	if (p->transport == TR_LIBXENVCHAN) {
		int fd;

		snprintf(errf, sizeof(errf), "%s/xen-%s.err", r->dir,
			 srv ? "srv" : "cli");
		fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		dup2(pr[1], 1);
		close(pr[1]);
		xen_exec(r, p, srv, mode);
		bench_report(1, "E exec %s: %s", r->sim, strerror(errno));
		_exit(1);
	}
	if (mode == MODE_SETUP)
		_exit(bench_setup_run(p, srv, pr[1]) < 0);
	_exit(bench_side_run(p, srv, pr[1]) < 0);
}

struct lines {
	char *buf;
	size_t len, cap;
};

static int lines_add(struct lines *l, const char *b, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->len + n + 1) * 2;
		char *nb = realloc(l->buf, cap);

		if (nb == NULL)
			return -1;
		l->buf = nb;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, b, n);
	l->len += n;
	l->buf[l->len] = '\0';
	return 0;
}

/* Read both result pipes to their ends, within the time limit. Returns 0,
 * or -1 on time-out. */
static int collect(int fds[2], struct lines out[2], unsigned timeout_s)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_s * 1000000000u;
	int open_n = 2;

	while (open_n > 0) {
		struct pollfd pfd[2];
		int n = 0, idx[2];
		uint64_t now = bench_now_ns();

		if (now >= deadline)
			return -1;
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0)
				continue;
			pfd[n].fd = fds[i];
			pfd[n].events = POLLIN;
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n,
			 (int)((deadline - now) / 1000000u) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int j = 0; j < n; j++) {
			char b[4096];
			ssize_t k;

			if (pfd[j].revents == 0)
				continue;
			k = read(fds[idx[j]], b, sizeof(b));
			if (k > 0) {
				lines_add(&out[idx[j]], b, (size_t)k);
				continue;
			}
			close(fds[idx[j]]);
			fds[idx[j]] = -1;
			open_n--;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The first "E" line of either side, if any. */
static int find_error(struct lines out[2], char *why, size_t size)
{
	for (int i = 0; i < 2; i++) {
		const char *s = out[i].buf;

		for (; s != NULL && *s != '\0'; s = strchr(s, '\n')) {
			if (*s == '\n')
				s++;
			if (s[0] == 'E' && s[1] == ' ') {
				snprintf(why, size, "%s: %.*s",
					 i ? "client" : "server",
					 (int)strcspn(s + 2, "\n"), s + 2);
				return 1;
			}
		}
	}
	return 0;
}

/* Lines of out starting with `tag`, as pointers to what follows it. */
static unsigned lines_with(struct lines *l, const char *tag, char **v,
			   unsigned max)
{
	size_t tl = strlen(tag);
	unsigned n = 0;

	for (char *s = l->buf; s != NULL && *s != '\0' && n < max;) {
		if (strncmp(s, tag, tl) == 0)
			v[n++] = s + tl;
		s = strchr(s, '\n');
		if (s != NULL)
			s++;
	}
	return n;
}

#define MAX_REPS 64

static void parse_tp(struct result *res, struct lines out[2], uint64_t bytes)
{
	char *s[MAX_REPS], *c[MAX_REPS];
	unsigned ns = lines_with(&out[0], "T S ", s, MAX_REPS);
	unsigned nc = lines_with(&out[1], "T R ", c, MAX_REPS);
	double mb[MAX_REPS], cpu[MAX_REPS];
	unsigned n = 0;

	if (ns != nc || ns < 2) {
		snprintf(res->why, sizeof(res->why),
			 "incomplete results (%u sender, %u receiver lines)",
			 ns, nc);
		return;
	}
	for (unsigned i = 0; i < ns; i++) {
		unsigned long long start, scpu, end, rcpu;
		int ver;

		if (sscanf(s[i], "%llu %llu", &start, &scpu) != 2 ||
		    sscanf(c[i], "%llu %llu %d", &end, &rcpu, &ver) != 3 ||
		    end <= start) {
			snprintf(res->why, sizeof(res->why), "bad result line");
			return;
		}
		if (i == 0) {
			res->verified = ver == 1;
			continue;
		}
		mb[n] = (double)bytes * 1e3 / (double)(end - start);
		cpu[n++] = (double)(scpu + rcpu) / (double)bytes;
	}
	res->mbps = median(mb, n);
	res->cpu_gb = median(cpu, n);
	res->repeats = n;
	res->ok = res->verified;
	if (!res->verified)
		snprintf(res->why, sizeof(res->why), "data not verified");
}

static void parse_lat(struct result *res, struct lines *l)
{
	char *v[MAX_REPS];
	unsigned n = lines_with(l, "L ", v, MAX_REPS), k = 0;
	double p50[MAX_REPS], p99[MAX_REPS], p999[MAX_REPS];
	double best = -1;

	if (n < 2) {
		snprintf(res->why, sizeof(res->why), "incomplete results");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned long long a, b, c;
		int ver, used;
		char *q;

		if (sscanf(v[i], "%llu %llu %llu %d%n", &a, &b, &c, &ver,
			   &used) != 4) {
			snprintf(res->why, sizeof(res->why), "bad result line");
			return;
		}
		if (i == 0) {
			res->verified = ver == 1;
			continue;
		}
		p50[k] = (double)a / 1e3;
		p99[k] = (double)b / 1e3;
		p999[k++] = (double)c / 1e3;
		/* Keep the quantiles of the repeat closest to the median,
		 * known at the end: take the first, then any closer later. */
		(void)best;
		q = v[i] + used;
		if (i == 1) {
			for (int j = 0; j <= 100; j++)
				res->q[j] = (double)strtoull(q, &q, 10) / 1e3;
		}
	}
	res->p50 = median(p50, k);
	res->p99 = median(p99, k);
	res->p999 = median(p999, k);
	res->repeats = k;
	res->ok = res->verified;
	if (!res->verified)
		snprintf(res->why, sizeof(res->why), "data not verified");
}

static void parse_setup(struct result *res, struct lines *l)
{
	char *v[256];
	unsigned n = lines_with(l, "U ", v, 256);
	double t[256];

	if (n == 0) {
		snprintf(res->why, sizeof(res->why), "no set-up times");
		return;
	}
	for (unsigned i = 0; i < n; i++)
		t[i] = strtod(v[i], NULL) / 1e3;
	res->p50 = median(t, n);
	res->repeats = n;
	/* A connection that carried its byte is a verified one. */
	res->verified = 1;
	res->ok = 1;
}

/* With --peer, vchan's rows run against the other domain (peer.c); the
 * baselines stay here. */
static int peer_row(const struct run *r, enum transport tr)
{
	return r->o.peer >= 0 && (tr == TR_VCHAN || tr == TR_VCHAN_NOSPIN);
}

static void measure(struct run *r, enum transport tr, int mode, size_t msg,
		    size_t ring)
{
	struct result *res = add_result(r);
	struct lines out[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
	struct pair p;
	int fds[2] = {-1, -1}, st[2] = {0, 0};
	pid_t pid[2] = {-1, -1};
	char why[256] = "";

	res->mode = mode;
	res->tr = tr;
	res->msg = msg;
	res->ring = bench_transport_has_ring(tr) ? ring : 0;
	if (tr == TR_LIBXENVCHAN && !r->xen_ok) {
		res->ok = -1;
		snprintf(res->why, sizeof(res->why), "%s", r->xen_why);
		return;
	}
	if (peer_row(r, tr) && (mode == BENCH_NOTIFY || mode == MODE_SETUP)) {
		res->ok = -1;
		snprintf(res->why, sizeof(res->why),
			 "not measured across domains (needs both clocks)");
		return;
	}
	memset(&p, 0, sizeof(p));
	p.transport = tr;
	p.ring = ring;
	p.dir = r->dir;
	p.spin_us = r->o.spin_us;
	p.sync[0] = p.sync[1] = -1;
	p.job.mode =
	    mode == MODE_SETUP ? BENCH_THROUGHPUT : (enum bench_mode)mode;
	p.job.msg = msg;
	p.job.repeats = r->o.repeats;
	p.job.notify_gap_us = 300;
	p.job.bytes = r->o.bytes;
	if (p.job.bytes > (uint64_t)msg * r->o.max_writes)
		p.job.bytes = (uint64_t)msg * r->o.max_writes;
	res->bytes = p.job.bytes;
	p.job.iters = mode == BENCH_NOTIFY ? r->o.notify_iters : r->o.lat_iters;
	if (mode == MODE_SETUP)
		p.setups = r->o.setups;
	snprintf(p.path, sizeof(p.path), "/local/domain/%u/data/vchan/%u/b%u",
		 BENCH_SRV_DOMID, BENCH_CLI_DOMID, r->seq++);
	if (r->o.progress) {
		char a[24], b[24];

		fprintf(stderr, "vchan-bench: %-10s %-12s msg %-5s ring %-5s\r",
			mode_names[mode], bench_transport_names[tr],
			human(msg, a, sizeof(a)),
			human(res->ring, b, sizeof(b)));
	}
	if ((mode == MODE_SETUP && pipe(p.sync) < 0) ||
	    bench_pair_prepare(&p) < 0) {
		snprintf(res->why, sizeof(res->why), "prepare: %s",
			 strerror(errno));
		goto out;
	}
	if (peer_row(r, tr)) {
		/* One process: its peer is the other domain's. */
		pid[0] = bench_peer_spawn((uint32_t)r->o.peer, &p,
					  r->o.timeout_s / 2 + 1, fds);
		pid[1] = 0;
	} else {
		pid[0] = spawn_side(r, &p, 1, mode, &fds[0]);
		p.srv_pid = pid[0];
		if (pid[0] > 0)
			pid[1] = spawn_side(r, &p, 0, mode, &fds[1]);
	}
	if (pid[0] < 0 || pid[1] < 0) {
		snprintf(res->why, sizeof(res->why), "fork: %s",
			 strerror(errno));
		goto out;
	}
	/* The children hold what they need; closing our copies lets a
	 * side's death show to the other as an end of file. */
	bench_pair_release(&p);
	if (p.sync[0] >= 0)
		close(p.sync[0]);
	if (p.sync[1] >= 0)
		close(p.sync[1]);
	p.sync[0] = p.sync[1] = -1;
	if (collect(fds, out, r->o.timeout_s) < 0)
		snprintf(why, sizeof(why), "timed out after %u s",
			 r->o.timeout_s);
out:
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (pid[i] <= 0)
			continue;
		if (why[0] != '\0')
			kill(pid[i], SIGKILL);
		waitpid(pid[i], &st[i], 0);
	}
	bench_pair_release(&p);
	if (p.sync[0] >= 0)
		close(p.sync[0]);
	if (p.sync[1] >= 0)
		close(p.sync[1]);
	if (why[0] != '\0') {
		snprintf(res->why, sizeof(res->why), "%s", why);
	} else if (res->why[0] != '\0') {
		/* failed before the run */
	} else if (find_error(out, res->why, sizeof(res->why))) {
		/* an "E" line says why */
	} else if (mode == BENCH_THROUGHPUT) {
		parse_tp(res, out, p.job.bytes);
	} else if (mode == BENCH_LATENCY) {
		parse_lat(res, &out[1]);
	} else if (mode == BENCH_NOTIFY) {
		parse_lat(res, &out[0]);
	} else {
		parse_setup(res, &out[1]);
	}
	if (res->ok == 1 && (!WIFEXITED(st[0]) || WEXITSTATUS(st[0]) != 0 ||
			     !WIFEXITED(st[1]) || WEXITSTATUS(st[1]) != 0)) {
		res->ok = 0;
		snprintf(res->why, sizeof(res->why),
			 "a side failed (status %d, %d)", st[0], st[1]);
	}
	if (res->ok != 1)
		r->failures++;
	free(out[0].buf);
	free(out[1].buf);
}

/* ---- the plan ---- */

static int size_in(const size_t *v, int n, size_t x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

static void run_all(struct run *r)
{
	struct opts *o = &r->o;

	for (int t = 0; t < TR_COUNT; t++) {
		enum transport tr = (enum transport)t;

		if (!o->want_tr[t])
			continue;
		if (o->want_mode[BENCH_THROUGHPUT]) {
			for (int i = 0; i < o->n_tp_msgs; i++)
				measure(r, tr, BENCH_THROUGHPUT, o->tp_msgs[i],
					o->ring);
			/* The ring sweep, for transports that have one. */
			for (int i = 0;
			     bench_transport_has_ring(tr) && i < o->n_tp_rings;
			     i++) {
				if (o->tp_rings[i] == o->ring &&
				    size_in(o->tp_msgs, o->n_tp_msgs,
					    o->tp_msg))
					continue;
				measure(r, tr, BENCH_THROUGHPUT, o->tp_msg,
					o->tp_rings[i]);
			}
		}
		if (o->want_mode[BENCH_LATENCY])
			for (int i = 0; i < o->n_lat_msgs; i++)
				measure(r, tr, BENCH_LATENCY, o->lat_msgs[i],
					o->ring);
		/* Notification latency is about sleeping: a transport that
		 * only spins has none, and vchan's is measured as
		 * vchan-nospin. */
		if (o->want_mode[BENCH_NOTIFY] && tr != TR_SHM &&
		    tr != TR_VCHAN)
			measure(r, tr, BENCH_NOTIFY, 64, o->ring);
		if (o->want_mode[MODE_SETUP])
			measure(r, tr, MODE_SETUP, 64, o->ring);
	}
	if (o->progress)
		fprintf(stderr, "%70s\r", "");
}

#ifndef BENCH_HAVE_RPC
static int unavailable_rows(struct bench_rows *rows, const char *mode,
			    const char *const *names, const char *why)
{
	for (int i = 0; names[i] != NULL; i++) {
		struct bench_row *x = bench_rows_add(rows, mode);

		snprintf(x->transport, sizeof(x->transport), "%s", names[i]);
		x->ok = -1;
		snprintf(x->why, sizeof(x->why), "%s", why);
	}
	return 0;
}

int bench_rpc_run(const struct bench_xopts *o, struct bench_rows *rows)
{
	static const char *const names[] = {"vchan", "unix", BENCH_GRPC_ROW,
					    NULL};

	(void)o;
	return unavailable_rows(rows, "rpc", names,
				"built without rpc/ (protobuf-c, libev)");
}
#endif

#ifndef BENCH_HAVE_E2E
int bench_e2e_run(const struct bench_xopts *o, struct bench_rows *rows)
{
	struct bench_row *x = bench_rows_add(rows, "e2e");

	(void)o;
	snprintf(x->transport, sizeof(x->transport), "https-3dom");
	x->ok = -1;
	snprintf(x->why, sizeof(x->why),
		 "built without the web example (rpc/ and OpenSSL)");
	return 0;
}
#endif

/* The modes that report rates: after the others, each in fresh
 * processes of their own. */
static void run_rows(struct run *r)
{
	struct bench_xopts xo = {
	    .quick = r->o.quick,
	    .timeout_s = r->o.timeout_s,
	    .want_vchan = r->o.want_tr[TR_VCHAN],
	    .want_unix = r->o.want_tr[TR_UNIX],
	    .dir = r->dir,
	};
	static const char *const ex_rel[3][3] = {
	    {"../../examples/storage/storage-server",
	     "../../../examples/storage/storage-server", NULL},
	    {"../../examples/web/web", "../../../examples/web/web", NULL},
	    {"../../examples/tls-terminator/tls-terminator",
	     "../../../examples/tls-terminator/tls-terminator", NULL}};
	static const char *const ex_env[3] = {
	    "VCHAN_BENCH_STORAGE", "VCHAN_BENCH_WEB", "VCHAN_BENCH_TERMINATOR"};
	static const char *const ex_inst[3] = {
	    PKGLIBEXECDIR "/examples/storage-server",
	    PKGLIBEXECDIR "/examples/web",
	    PKGLIBEXECDIR "/examples/tls-terminator"};
	char ex[3][PATH_MAX];

	/* The web example's programs: named by the environment, else in the
	 * build tree next to ours, else installed. */
	for (int i = 0; i < 3; i++)
		if (r->o.want_mode[MODE_E2E] &&
		    find_prog(ex[i], ex_env[i], ex_rel[i], ex_inst[i]))
			xo.prog[i] = ex[i];

	if (r->o.want_mode[MODE_RPC]) {
		if (r->o.progress)
			fprintf(stderr, "vchan-bench: rpc%60s\r", "");
		r->failures += bench_rpc_run(&xo, &r->rows);
	}
	if (r->o.want_mode[MODE_E2E]) {
		if (r->o.progress)
			fprintf(stderr, "vchan-bench: e2e%60s\r", "");
		r->failures += bench_e2e_run(&xo, &r->rows);
	}
	if (r->o.progress)
		fprintf(stderr, "%70s\r", "");
}

/* ---- output ---- */

static const struct result *find(const struct run *r, int mode,
				 enum transport tr, size_t msg, size_t ring)
{
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];

		if (x->mode == mode && x->tr == tr && x->msg == msg &&
		    x->ok == 1 && (x->ring == 0 || x->ring == ring))
			return x;
	}
	return NULL;
}

/* The headline figure: MB/s for throughput (higher is better), else p50. */
static double figure(const struct result *x)
{
	return x->mode == BENCH_THROUGHPUT ? x->mbps : x->p50;
}

/* x against the baseline transport at the same message and ring size:
 * how many times better (throughput) or how many times the time
 * (latencies). 0 when there is no baseline. */
static double ratio(const struct run *r, const struct result *x,
		    enum transport base)
{
	const struct result *b = find(r, x->mode, base, x->msg, x->ring);

	if (b == NULL || x->ok != 1 || figure(b) <= 0)
		return 0;
	return figure(x) / figure(b);
}

static void print_ratio(double v)
{
	if (v > 0)
		printf(" %9.2fx", v);
	else
		printf(" %10s", "-");
}

static void print_table(const struct run *r)
{
	static const char *const titles[] = {
	    "throughput: stream from server to client (MB/s: higher is "
	    "better; ratios are MB/s over the baseline's)",
	    "latency: ping-pong round trip in microseconds (ratios are p50 "
	    "over the baseline's: lower is better)",
	    "notification: one-way latency to a sleeping receiver, in "
	    "microseconds (ratios: p50 over the baseline's)",
	    "connection set-up: server init to client connected, median in "
	    "microseconds"};

	for (int m = 0; m <= MODE_SETUP; m++) {
		int first = 1;

		for (size_t i = 0; i < r->n_res; i++) {
			const struct result *x = &r->res[i];
			char a[24], b[24];

			if (x->mode != m)
				continue;
			if (first) {
				printf("\n%s\n", titles[m]);
				printf("%-13s %6s %6s", "transport", "msg",
				       "ring");
				if (m == BENCH_THROUGHPUT)
					printf(" %10s %10s", "MB/s",
					       "CPU s/GB");
				else if (m == MODE_SETUP)
					printf(" %10s", "median");
				else
					printf(" %10s %10s %10s", "p50", "p99",
					       "p99.9");
				printf(" %10s %10s\n", "x unix", "x libxenv");
				first = 0;
			}
			printf("%-13s %6s %6s", bench_transport_names[x->tr],
			       human(x->msg, a, sizeof(a)),
			       human(x->ring, b, sizeof(b)));
			if (x->ok != 1) {
				printf("  %s: %s\n",
				       x->ok < 0 ? "unavailable" : "FAILED",
				       x->why);
				continue;
			}
			if (m == BENCH_THROUGHPUT)
				printf(" %10.0f %10.3f", x->mbps, x->cpu_gb);
			else if (m == MODE_SETUP)
				printf(" %10.1f", x->p50);
			else
				printf(" %10.1f %10.1f %10.1f", x->p50, x->p99,
				       x->p999);
			print_ratio(ratio(r, x, TR_UNIX));
			print_ratio(ratio(r, x, TR_LIBXENVCHAN));
			printf("\n");
		}
	}
}

static void num_or_empty(double v, int have, int decimals)
{
	if (have)
		printf("%.*f", decimals, v);
}

static void print_csv(const struct run *r)
{
	printf("mode,transport,msg_size,ring_size,mb_per_s,cpu_s_per_gb,"
	       "p50_us,p99_us,p999_us,vs_unix,vs_libxenvchan,repeats,"
	       "verified,status,note,per_s\n");
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];
		int ok = x->ok == 1, tp = x->mode == BENCH_THROUGHPUT;
		double ru = ratio(r, x, TR_UNIX),
		       rx = ratio(r, x, TR_LIBXENVCHAN);

		printf("%s,%s,%zu,%zu,", mode_names[x->mode],
		       bench_transport_names[x->tr], x->msg, x->ring);
		num_or_empty(x->mbps, ok && tp, 1);
		printf(",");
		num_or_empty(x->cpu_gb, ok && tp, 4);
		printf(",");
		num_or_empty(x->p50, ok && !tp, 2);
		printf(",");
		num_or_empty(x->p99, ok && !tp && x->mode != MODE_SETUP, 2);
		printf(",");
		num_or_empty(x->p999, ok && !tp && x->mode != MODE_SETUP, 2);
		printf(",");
		num_or_empty(ru, ru > 0, 3);
		printf(",");
		num_or_empty(rx, rx > 0, 3);
		printf(",%u,%d,%s,", x->repeats, x->verified,
		       ok	   ? "ok"
		       : x->ok < 0 ? "unavailable"
				   : "failed");
		/* Notes never hold a double quote (ours are plain), but keep
		 * the field well-formed whatever the layers below said. */
		printf("\"");
		for (const char *c = x->why; *c; c++)
			putchar(*c == '"' ? '\'' : *c);
		printf("\",\n"); /* per_s: rpc and e2e rows only */
	}
}

void bench_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct run *r)
{
	for (size_t i = 0; i < r->n_res; i++) {
		const struct result *x = &r->res[i];
		double ru = ratio(r, x, TR_UNIX),
		       rx = ratio(r, x, TR_LIBXENVCHAN);

		printf("{\"mode\":\"%s\",\"transport\":\"%s\",\"msg_size\":%zu,"
		       "\"ring_size\":%zu,\"status\":\"%s\"",
		       mode_names[x->mode], bench_transport_names[x->tr],
		       x->msg, x->ring,
		       x->ok == 1  ? "ok"
		       : x->ok < 0 ? "unavailable"
				   : "failed");
		if (x->ok == 1 && x->mode == BENCH_THROUGHPUT)
			printf(",\"bytes\":%" PRIu64 ",\"mb_per_s\":%.1f,"
			       "\"cpu_s_per_gb\":%.4f",
			       x->bytes, x->mbps, x->cpu_gb);
		else if (x->ok == 1 && x->mode == MODE_SETUP)
			printf(",\"p50_us\":%.2f", x->p50);
		else if (x->ok == 1)
			printf(
			    ",\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f",
			    x->p50, x->p99, x->p999);
		if (ru > 0)
			printf(",\"vs_unix\":%.3f", ru);
		if (rx > 0)
			printf(",\"vs_libxenvchan\":%.3f", rx);
		printf(",\"repeats\":%u,\"verified\":%s", x->repeats,
		       x->verified ? "true" : "false");
		if (x->ok != 1) {
			printf(",\"reason\":");
			bench_json_str(x->why);
		}
		printf("}\n");
	}
}

static int find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name) <
			(int)sizeof(buf) &&
		    is_exec(buf))
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

/* --plot FILE, before anything is measured: the name can be given to
 * gnuplot, gnuplot is there, and FILE can be written (tried: an existing
 * file is opened for writing, untouched; a new one is made and removed).
 * Exits 2 after one line saying why not. */
static void plot_check(const char *file)
{
	int fd;

	if (strpbrk(file, "'\"\\\n") != NULL)
		bad_arg("--plot", file,
			"a file name without quotes, backslashes or newlines");
	if (!find_in_path("gnuplot"))
		die("--plot: gnuplot not found (Debian: apt-get install "
		    "gnuplot-nox)");
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0)
			unlink(file);
	}
	if (fd < 0) {
		fprintf(stderr, "vchan-bench: --plot: cannot write %s: %s\n",
			file, strerror(errno));
		exit(2);
	}
	close(fd);
}

/* gnuplot: throughput against message size (at the sweep's ring size),
 * and the CDF of the smallest ping-pong's round trips; on white, each
 * legend to the right of its plot, clear of the curves. */
static int plot(const struct run *r, const char *file)
{
	size_t lat_msg = r->o.n_lat_msgs ? r->o.lat_msgs[0] : 0;
	FILE *g;
	int first;

	fflush(NULL);
	g = popen("gnuplot", "w");
	if (g == NULL)
		return -1;
	fprintf(g,
		"set terminal svg size 1400,500 dynamic background rgb "
		"'white'\n"
		"set output '%s'\n"
		"set multiplot layout 1,2\n"
		"set key outside right top vertical Left reverse\n",
		file);
	for (int t = 0; t < TR_COUNT; t++) {
		fprintf(g, "$tp%d << EOD\n", t);
		for (size_t i = 0; i < r->n_res; i++) {
			const struct result *x = &r->res[i];

			if (x->tr == (enum transport)t && x->ok == 1 &&
			    x->mode == BENCH_THROUGHPUT &&
			    (x->ring == 0 || x->ring == r->o.ring))
				fprintf(g, "%zu %.1f\n", x->msg, x->mbps);
		}
		fprintf(g, "EOD\n$lat%d << EOD\n", t);
		for (size_t i = 0; i < r->n_res; i++) {
			const struct result *x = &r->res[i];

			if (x->tr != (enum transport)t || x->ok != 1 ||
			    x->mode != BENCH_LATENCY || x->msg != lat_msg)
				continue;
			for (int k = 0; k <= 100; k++)
				fprintf(g, "%.3f %.2f\n", x->q[k], k / 100.0);
		}
		fprintf(g, "EOD\n");
	}
	fprintf(g,
		"set title 'throughput (ring %zu KiB)'\n"
		"set logscale xy\nset xlabel 'write size (bytes)'\n"
		"set ylabel 'MB/s'\nplot ",
		r->o.ring / 1024);
	first = 1;
	for (int t = 0; t < TR_COUNT; t++) {
		if (!r->o.want_tr[t])
			continue;
		fprintf(g, "%s$tp%d with linespoints title '%s'",
			first ? "" : ", ", t, bench_transport_names[t]);
		first = 0;
	}
	fprintf(g,
		"\nunset logscale\nset logscale x\n"
		"set title 'ping-pong round trip, %zu B: CDF'\n"
		"set xlabel 'microseconds'\nset ylabel 'fraction'\n"
		"set yrange [0:1]\nplot ",
		lat_msg);
	first = 1;
	for (int t = 0; t < TR_COUNT; t++) {
		if (!r->o.want_tr[t])
			continue;
		fprintf(g, "%s$lat%d with lines title '%s'", first ? "" : ", ",
			t, bench_transport_names[t]);
		first = 0;
	}
	fprintf(g, "\nunset multiplot\n");
	if (pclose(g) != 0) {
		fprintf(stderr, "vchan-bench: gnuplot failed\n");
		return -1;
	}
	return 0;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vchan-bench [OPTIONS] [MODE...]\n"
	    "Measure vchan against a pipe, a Unix socket, TCP, libxenvchan and "
	    "a\n"
	    "spin-only ring, in one run, with ratios (man vchan-bench).\n"
	    "\n"
	    "  -q, --quick           a one-minute subset (changes the defaults "
	    "below)\n"
	    "      --csv, --json     CSV or JSON Lines instead of the table\n"
	    "      --plot FILE.svg   also plot throughput and latency with "
	    "gnuplot\n"
	    "      --bytes N         bytes per throughput repeat, 64K to 64G\n"
	    "                        (default 1G; --quick 32M)\n"
	    "      --max-writes N    most writes per repeat, 1 to 1G\n"
	    "                        (default 1M; --quick 64K)\n"
	    "      --repeats N       timed repeats per figure, 1 to 63\n"
	    "                        (default 5; --quick 3)\n"
	    "      --transports LIST default: all of vchan,vchan-nospin,pipe,"
	    "unix,\n"
	    "                        tcp,libxenvchan,shm-spin\n"
	    "      --modes LIST      default: all of throughput,latency,"
	    "notify,\n"
	    "                        setup,rpc,e2e (also as arguments: "
	    "vchan-bench rpc)\n"
	    "      --msg-sizes LIST  throughput write sizes (default "
	    "64,1K,4K,64K,1M;\n"
	    "                        --quick 64,64K)\n"
	    "      --ring-sizes LIST ring sizes swept (default "
	    "4K,64K,256K,1M;\n"
	    "                        --quick 4K,256K)\n"
	    "      --latency-sizes LIST  ping-pong sizes (default "
	    "64,1K,4K,64K;\n"
	    "                        --quick 64,4K)\n"
	    "      --ring N          ring of the size sweeps, a power of two "
	    "from\n"
	    "                        1K to 1M (default 256K)\n"
	    "      --iterations N    messages per latency and notify repeat,\n"
	    "                        1 to 10000000 (default 10000 and 2000;\n"
	    "                        --quick 500 and 100)\n"
	    "      --timeout S       give up a measurement after S seconds,\n"
	    "                        1 to 86400 (default 600; --quick 60)\n"
	    "      --spin USEC       vchan's spin budget, 1 to 1000000 "
	    "(default:\n"
	    "                        the library's, 200)\n"
	    "      --peer DOMID      measure vchan against --serve in domain "
	    "DOMID\n"
	    "      --serve DOMID     serve the measurements of domain DOMID\n"
	    "  -h, --help            show this text\n"
	    "      --version         show the version\n"
	    "Sizes take K, M, G suffixes (powers of 1024).\n");
}

/* Names from `names` in the comma-separated list s: want[i] set for each.
 * Returns 0, or -1 with the first name not in `names` (or s, when it is
 * too long or empty) in bad[]. */
static int name_list(const char *s, const char *const *names, int count,
		     int *want, char *bad, size_t badsz)
{
	char buf[256], *save = NULL;
	int n = 0;

	snprintf(bad, badsz, "%s", s);
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	memset(want, 0, sizeof(int) * (size_t)count);
	for (char *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save), n++) {
		int i = 0;

		while (i < count && strcmp(t, names[i]) != 0)
			i++;
		if (i == count) {
			snprintf(bad, badsz, "%s", t);
			return -1;
		}
		want[i] = 1;
	}
	return n > 0 ? 0 : -1;
}

/* An unknown name of a list: echo it, with the names there are. */
static void bad_name(const char *what, const char *bad,
		     const char *const *names, int count)
{
	fprintf(stderr, "vchan-bench: unknown %s '%s' (%ss:", what, bad, what);
	for (int i = 0; i < count; i++)
		fprintf(stderr, "%s %s", i ? "," : "", names[i]);
	fprintf(stderr, ")\nTry 'vchan-bench --help'.\n");
	exit(2);
}

static void defaults(struct opts *o, int quick)
{
	static const size_t tp_full[] = {64, 1024, 4096, 65536, 1u << 20};
	static const size_t rings[] = {4096, 65536, 262144, 1u << 20};
	static const size_t lat_full[] = {64, 1024, 4096, 65536};

	o->quick = quick;
	o->bytes = quick ? 32u * MIB : 1024u * MIB;
	o->max_writes = quick ? 65536 : 1u << 20;
	o->repeats = quick ? 3 : 5;
	o->lat_iters = quick ? 500 : 10000;
	o->notify_iters = quick ? 100 : 2000;
	o->setups = quick ? 5 : 21;
	o->timeout_s = quick ? 60 : 600;
	o->ring = 262144;
	o->tp_msg = 65536;
	if (quick) {
		o->tp_msgs[0] = 64;
		o->tp_msgs[1] = 65536;
		o->n_tp_msgs = 2;
		o->tp_rings[0] = 4096;
		o->tp_rings[1] = 262144;
		o->n_tp_rings = 2;
		o->lat_msgs[0] = 64;
		o->lat_msgs[1] = 4096;
		o->n_lat_msgs = 2;
		return;
	}
	memcpy(o->tp_msgs, tp_full, sizeof(tp_full));
	o->n_tp_msgs = 5;
	memcpy(o->tp_rings, rings, sizeof(rings));
	o->n_tp_rings = 4;
	memcpy(o->lat_msgs, lat_full, sizeof(lat_full));
	o->n_lat_msgs = 4;
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	enum {
		O_CSV = 256,
		O_JSON,
		O_PLOT,
		O_BYTES,
		O_MAXW,
		O_REP,
		O_TR,
		O_MODES,
		O_MSGS,
		O_RINGS,
		O_LATS,
		O_RING,
		O_ITERS,
		O_TIMEOUT,
		O_SPIN,
		O_VERSION,
		O_PEER,
		O_SERVE,
	};
	static const struct option lo[] = {
	    {"quick", no_argument, NULL, 'q'},
	    {"csv", no_argument, NULL, O_CSV},
	    {"json", no_argument, NULL, O_JSON},
	    {"plot", required_argument, NULL, O_PLOT},
	    {"bytes", required_argument, NULL, O_BYTES},
	    {"max-writes", required_argument, NULL, O_MAXW},
	    {"repeats", required_argument, NULL, O_REP},
	    {"transports", required_argument, NULL, O_TR},
	    {"modes", required_argument, NULL, O_MODES},
	    {"msg-sizes", required_argument, NULL, O_MSGS},
	    {"ring-sizes", required_argument, NULL, O_RINGS},
	    {"latency-sizes", required_argument, NULL, O_LATS},
	    {"ring", required_argument, NULL, O_RING},
	    {"iterations", required_argument, NULL, O_ITERS},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"spin", required_argument, NULL, O_SPIN},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VERSION},
	    {"peer", required_argument, NULL, O_PEER},
	    {"serve", required_argument, NULL, O_SERVE},
	    {NULL, 0, NULL, 0}};
	int c, quick = 0, tr_given = 0, modes_given = 0;
	char bad[256];
	uint64_t v;

	/* --quick changes the defaults the other options override. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0 ||
		    strcmp(argv[i], "-q") == 0)
			quick = 1;
	memset(o, 0, sizeof(*o));
	defaults(o, quick);
	for (int i = 0; i < TR_COUNT; i++)
		o->want_tr[i] = 1;
	for (int i = 0; i < MODE_COUNT; i++)
		o->want_mode[i] = 1;
	o->progress = isatty(2);
	o->spin_us = -1;
	o->peer = o->serve = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			break;
		case O_CSV:
		case O_JSON:
			if (o->format != BENCH_TABLE)
				die("--csv and --json exclude each other");
			o->format = c == O_CSV ? BENCH_CSV : BENCH_JSON;
			break;
		case O_PLOT:
			o->plot = optarg;
			break;
		case O_BYTES:
			if (parse_size(optarg, &o->bytes) < 0 ||
			    o->bytes < BYTES_MIN || o->bytes > BYTES_MAX)
				bad_arg("--bytes", optarg,
					"a size from 64K to 64G (K, M, G: "
					"powers of 1024)");
			break;
		case O_MAXW:
			if (parse_size(optarg, &o->max_writes) < 0 ||
			    o->max_writes > MAX_WRITES_MAX)
				bad_arg("--max-writes", optarg,
					"a number from 1 to 1G");
			break;
		case O_REP:
			if (parse_size(optarg, &v) < 0 || v >= MAX_REPS)
				bad_arg("--repeats", optarg,
					"a number from 1 to 63");
			o->repeats = (unsigned)v;
			break;
		case O_TR:
			if (name_list(optarg, bench_transport_names, TR_COUNT,
				      o->want_tr, bad, sizeof(bad)) < 0)
				bad_name("transport", bad,
					 bench_transport_names, TR_COUNT);
			tr_given = 1;
			break;
		case O_MODES:
			if (name_list(optarg, mode_names, MODE_COUNT,
				      o->want_mode, bad, sizeof(bad)) < 0)
				bad_name("mode", bad, mode_names, MODE_COUNT);
			modes_given = 1;
			break;
		case O_MSGS:
			if (parse_list(optarg, o->tp_msgs, &o->n_tp_msgs, MIB) <
			    0)
				bad_arg("--msg-sizes", optarg,
					"a list of sizes from 1 to 1M, "
					"comma-separated");
			break;
		case O_RINGS:
			if (parse_list(optarg, o->tp_rings, &o->n_tp_rings,
				       MIB) < 0)
				bad_arg("--ring-sizes", optarg,
					"a list of powers of two from 1K to "
					"1M, comma-separated");
			break;
		case O_LATS:
			if (parse_list(optarg, o->lat_msgs, &o->n_lat_msgs,
				       MIB) < 0)
				bad_arg("--latency-sizes", optarg,
					"a list of sizes from 1 to 1M, "
					"comma-separated");
			break;
		case O_RING:
			if (parse_size(optarg, &v) < 0 || v < 1024 || v > MIB ||
			    (v & (v - 1)) != 0)
				bad_arg("--ring", optarg,
					"a power of two from 1K to 1M");
			o->ring = (size_t)v;
			break;
		case O_ITERS:
			if (parse_size(optarg, &v) < 0 || v > 10000000)
				bad_arg("--iterations", optarg,
					"a number from 1 to 10000000");
			o->lat_iters = (unsigned)v;
			o->notify_iters = (unsigned)v;
			break;
		case O_TIMEOUT:
			if (parse_size(optarg, &v) < 0 || v > 86400)
				bad_arg("--timeout", optarg,
					"a number of seconds from 1 to 86400");
			o->timeout_s = (unsigned)v;
			break;
		case O_SPIN:
			if (parse_size(optarg, &v) < 0 || v > 1000000)
				bad_arg("--spin", optarg,
					"a number of microseconds from 1 to "
					"1000000");
			o->spin_us = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("vchan-bench %s\n", PACKAGE_VERSION);
			exit(0);
		case O_PEER:
			o->peer = bench_peer_parse_domid(optarg);
			if (o->peer < 0)
				bad_arg("--peer", optarg,
					"a domain id from 0 to 32751");
			break;
		case O_SERVE:
			o->serve = bench_peer_parse_domid(optarg);
			if (o->serve < 0)
				bad_arg("--serve", optarg,
					"a domain id from 0 to 32751");
			break;
		case ':':
			fprintf(stderr,
				"vchan-bench: option '%s' needs a value\n"
				"Try 'vchan-bench --help'.\n",
				argv[optind - 1]);
			exit(2);
		default:
			if (optopt != 0)
				fprintf(stderr,
					"vchan-bench: unknown option '-%c'\n",
					optopt);
			else
				fprintf(stderr,
					"vchan-bench: unknown option '%s'\n",
					argv[optind - 1]);
			fprintf(stderr, "Try 'vchan-bench --help'.\n");
			exit(2);
		}
	}
	/* Modes may also be given as arguments: `vchan-bench rpc e2e`. */
	if (optind < argc) {
		int want[MODE_COUNT] = {0};

		for (; optind < argc; optind++) {
			int m[MODE_COUNT];

			if (name_list(argv[optind], mode_names, MODE_COUNT, m,
				      bad, sizeof(bad)) < 0)
				bad_name("mode", bad, mode_names, MODE_COUNT);
			for (int i = 0; i < MODE_COUNT; i++)
				want[i] |= m[i];
		}
		memcpy(o->want_mode, want, sizeof(want));
		modes_given = 1;
	}
	/* Across domains: vchan's rows there, the baselines here; what
	 * runs only on the simulator (libxenvchan under vchan-sim, the rpc
	 * and e2e modes' domains) is not offered. */
	if (o->peer >= 0 && o->serve >= 0)
		die("--peer and --serve exclude each other");
	if (o->peer >= 0) {
		if (!tr_given)
			for (int i = 0; i < TR_COUNT; i++)
				o->want_tr[i] =
				    i == TR_VCHAN || i == TR_VCHAN_NOSPIN ||
				    i == TR_PIPE || i == TR_UNIX || i == TR_TCP;
		if (!modes_given)
			for (int i = 0; i < MODE_COUNT; i++)
				o->want_mode[i] =
				    i == BENCH_THROUGHPUT || i == BENCH_LATENCY;
		if (o->want_tr[TR_LIBXENVCHAN] || o->want_mode[MODE_RPC] ||
		    o->want_mode[MODE_E2E])
			die("--peer: libxenvchan, rpc and e2e run on the "
			    "simulator only");
	}
	for (int i = 0; i < o->n_tp_rings; i++)
		if (o->tp_rings[i] < 1024 ||
		    (o->tp_rings[i] & (o->tp_rings[i] - 1))) {
			char val[32];

			snprintf(val, sizeof(val), "%zu", o->tp_rings[i]);
			bad_arg("--ring-sizes", val,
				"a power of two from 1K to 1M");
		}
}

int main(int argc, char **argv)
{
	static struct run r;
	const char *tmp = getenv("TMPDIR");
	char sim[300];
	int rc;

	parse_opts(&r.o, argc, argv);
	if (r.o.plot != NULL && r.o.serve < 0)
		plot_check(r.o.plot);
	signal(SIGPIPE, SIG_IGN);
	if (r.o.serve >= 0)
		return bench_peer_serve((uint32_t)r.o.serve, r.o.timeout_s) < 0;
	snprintf(r.dir, sizeof(r.dir), "%s/vchan-bench.XXXXXX",
		 tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(r.dir) == NULL)
		die("cannot create a private directory");
	/* Our own simulation, private to this run; the embedded store for
	 * vchan (XENSTORED_PATH only reaches the libxenvchan sides). */
	snprintf(sim, sizeof(sim), "%s/sim", r.dir);
	/* --peer: the platform is the caller's (Xen, or a simulation that
	 * the other domain shares). */
	if (r.o.peer < 0) {
		if (mkdir(sim, 0700) < 0)
			die("cannot create the simulator's directory");
		setenv("VCHAN_SIM_DIR", sim, 1);
		setenv("VCHAN_PLATFORM", "sim", 1);
		unsetenv("XENSTORED_PATH");
		unsetenv("VCHAN_SIM_XENSTORED_PID");
	}
	xen_start(&r);
	run_all(&r);
	if (r.o.peer >= 0 && bench_peer_quit((uint32_t)r.o.peer) < 0)
		fprintf(stderr,
			"vchan-bench: domain %d's --serve did not "
			"take its quit: %s\n",
			r.o.peer, strerror(errno));
	xen_stop(&r);
	run_rows(&r);
	if (r.o.format == BENCH_CSV)
		print_csv(&r);
	else if (r.o.format == BENCH_JSON)
		print_json(&r);
	else
		print_table(&r);
	bench_rows_print(&r.rows, r.o.format);
	rc = r.failures ? 1 : 0;
	if (r.o.plot != NULL && plot(&r, r.o.plot) < 0)
		rc = 1;
	nftw(r.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(r.res);
	free(r.rows.v);
	return rc;
}
