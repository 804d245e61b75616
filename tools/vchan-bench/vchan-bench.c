/* tools/vchan-bench/vchan-bench.c - throughput, latency, notification and
 * set-up time of vchan against the channels one would use instead, all in
 * one run on one machine, printed with ratios. See man/vchan-bench.1. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/vchan-bench/run.h"

#ifndef BINDIR
#define BINDIR "/usr/local/bin"
#endif

const char *const mode_names[MODE_COUNT] = {"throughput", "latency", "notify",
					    "setup",	  "rpc",     "e2e"};

/* ---- small helpers ---- */

void die(const char *msg)
{
	fprintf(stderr, "vchan-bench: %s\n", msg);
	exit(2);
}

/* A bad value of option `opt`: say which, and what it takes; exit 2. */
void bad_arg(const char *opt, const char *val, const char *expected)
{
	fprintf(stderr, "vchan-bench: %s: '%s' is not %s\n", opt, val,
		expected);
	fprintf(stderr, "Try 'vchan-bench --help'.\n");
	exit(2);
}

const char *human(size_t v, char *buf, size_t size)
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

int is_exec(const char *p)
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
	res->load = r->load;
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

static size_t smallest(const size_t *v, int n)
{
	size_t m = v[0];

	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* ---- CPU hogs: the load beside the rows ---- */

/* Start n processes that only burn CPU (as `yes >/dev/null` would, without
 * the system calls), at the priority of the rows, each dying with us.
 * Their ids go to pids[0..n-1]. */
static void hogs_start(unsigned n, pid_t *pids)
{
	pid_t parent = getpid();

	fflush(NULL);
	for (unsigned i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("cannot fork a CPU hog");
		if (pids[i] > 0)
			continue;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (volatile unsigned long x = 0;; x++)
			;
	}
}

static void hogs_stop(unsigned n, const pid_t *pids)
{
	for (unsigned i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (unsigned i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
}

/* One pass of the plan. `few`: only the rows that contention is about,
 * for the loaded pass of a run without --load: writes of the ring sweep's
 * size through the default ring (and, unless --quick, through the
 * smallest ring of the sweep), the smallest ping-pong, and notify. */
static void run_pass(struct run *r, int few)
{
	struct opts *o = &r->o;

	for (int t = 0; t < TR_COUNT; t++) {
		enum transport tr = (enum transport)t;

		if (!o->want_tr[t])
			continue;
		if (o->want_mode[BENCH_THROUGHPUT] && few) {
			size_t small = smallest(o->tp_rings, o->n_tp_rings);

			measure(r, tr, BENCH_THROUGHPUT, o->tp_msg, o->ring);
			if (!o->quick && bench_transport_has_ring(tr) &&
			    small != o->ring)
				measure(r, tr, BENCH_THROUGHPUT, o->tp_msg,
					small);
		} else if (o->want_mode[BENCH_THROUGHPUT]) {
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
		if (o->want_mode[BENCH_LATENCY] && few)
			measure(r, tr, BENCH_LATENCY,
				smallest(o->lat_msgs, o->n_lat_msgs), o->ring);
		else if (o->want_mode[BENCH_LATENCY])
			for (int i = 0; i < o->n_lat_msgs; i++)
				measure(r, tr, BENCH_LATENCY, o->lat_msgs[i],
					o->ring);
		/* Notification latency is about sleeping: a transport that
		 * only spins has none, and vchan's is measured as
		 * vchan-nospin. */
		if (o->want_mode[BENCH_NOTIFY] && tr != TR_SHM &&
		    tr != TR_VCHAN)
			measure(r, tr, BENCH_NOTIFY, 64, o->ring);
		if (o->want_mode[MODE_SETUP] && !few)
			measure(r, tr, MODE_SETUP, 64, o->ring);
	}
}

/* Every pass: one per load, with its hogs running throughout. */
static void run_all(struct run *r)
{
	struct opts *o = &r->o;
	pid_t hogs[LOAD_MAX];

	for (int l = 0; l < o->n_loads; l++) {
		r->load = o->loads[l];
		hogs_start(r->load, hogs);
		run_pass(r, !o->loads_given && l > 0);
		hogs_stop(r->load, hogs);
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
	if (o->xen_port > 0)
		snprintf(x->transport, sizeof(x->transport), "https-xen");
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
	    .xen_port = r->o.xen_port,
	    .xen_cert = r->o.xen_cert,
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
	pid_t hogs[LOAD_MAX];

	/* The web example's programs: named by the environment, else in the
	 * build tree next to ours, else installed. */
	for (int i = 0; i < 3; i++)
		if (r->o.want_mode[MODE_E2E] &&
		    find_prog(ex[i], ex_env[i], ex_rel[i], ex_inst[i]))
			xo.prog[i] = ex[i];

	/* At the first load of the run, with its hogs. */
	r->load = r->o.loads[0];
	hogs_start(r->load, hogs);
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
	hogs_stop(r->load, hogs);
	for (size_t i = 0; i < r->rows.n; i++)
		r->rows.v[i].load = r->load;
	if (r->o.progress)
		fprintf(stderr, "%70s\r", "");
}

/* Give each rpc row over vchan the p50 of the 64-byte vchan ping-pong
 * measured at its load: the raw round trip its calls add to (the rpc
 * payload is 64 bytes each way). */
static void link_pingpong(struct run *r)
{
	for (size_t i = 0; i < r->rows.n; i++) {
		struct bench_row *x = &r->rows.v[i];

		if (strcmp(x->mode, "rpc") != 0 ||
		    strcmp(x->transport, "vchan") != 0 || x->ok != 1)
			continue;
		for (size_t k = 0; k < r->n_res; k++) {
			const struct result *p = &r->res[k];

			if (p->mode == BENCH_LATENCY && p->tr == TR_VCHAN &&
			    p->msg == x->size && p->load == x->load &&
			    p->ok == 1 && p->p50 > 0)
				x->pingpong_p50 = p->p50;
		}
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
	link_pingpong(&r);
	print_results(&r);
	rc = r.failures ? 1 : 0;
	if (r.o.plot != NULL && plot(&r, r.o.plot) < 0)
		rc = 1;
	nftw(r.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(r.res);
	free(r.rows.v);
	return rc;
}
