/* tests/testutil.c - helpers for tests that play several domains. */
#include "config.h"

#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The children this process started and has not reaped yet, so that a
 * check that returns early cannot leave one running. A test helper's state,
 * one per process: a child starts with an empty list. */
struct child {
	pid_t pid;
	uint32_t domid;
	const char *name;
	int killed;	   /* by tu_kill: SIGKILL is the expected end */
	unsigned long seq; /* order of starting, for scenarios */
};
static struct child *children;
static size_t n_children, cap_children;
static unsigned long next_seq;

static struct child *child_of(pid_t pid)
{
	for (size_t i = 0; i < n_children; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

static void forget(pid_t pid)
{
	struct child *c = child_of(pid);

	if (c != NULL)
		*c = children[--n_children];
}

static void describe(pid_t pid, const char *what)
{
	struct child *c = child_of(pid);

	if (c != NULL)
		fprintf(stderr, "child %s (domain %u, pid %d) %s\n", c->name,
			c->domid, (int)pid, what);
	else
		fprintf(stderr, "child pid %d %s\n", (int)pid, what);
}

/* A test whose main returns early (a failed TU_CHECK) ends its children
 * too. */
static void reap_at_exit(void)
{
	tu_reap_all();
}

pid_t tu_spawn_named(const char *name, uint32_t domid, int (*fn)(void *),
		     void *arg)
{
	char buf[16];
	pid_t pid;

	if (children == NULL && atexit(reap_at_exit) != 0)
		return -1;
	if (n_children == cap_children) {
		size_t cap = cap_children ? 2 * cap_children : 16;
		struct child *p = realloc(children, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		children = p;
		cap_children = cap;
	}
	fflush(NULL);
	pid = fork();
	if (pid > 0)
		children[n_children++] = (struct child){.pid = pid,
							.domid = domid,
							.name = name,
							.seq = next_seq++};
	if (pid != 0)
		return pid;
	n_children = 0; /* the parent's children are not this one's */
	snprintf(buf, sizeof(buf), "%u", domid);
	setenv("VCHAN_DOMID", buf, 1);
	_exit(fn(arg) & 0xff);
}

int64_t tu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A pidfd is readable once the process has ended: a wait on the condition
 * itself. Returns -1 where the kernel has none (then we poll). */
static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* Reap pid within timeout_ms: 1 reaped (*st set), 0 still running, -1
 * error (not our child). */
static int reap_within(pid_t pid, int timeout_ms, int *st)
{
	int64_t end = tu_now_us() + (int64_t)timeout_ms * 1000;
	int fd = pidfd_of(pid), rc;

	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		int64_t left = (end - tu_now_us()) / 1000;

		if (r == pid || (r < 0 && errno != EINTR)) {
			rc = r == pid ? 1 : -1;
			break;
		}
		if (left <= 0) {
			rc = 0;
			break;
		}
		if (fd >= 0 && tu_readable(fd, (int)left) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0)
			usleep(1000);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The status of a reaped child, reported unless it is the expected one. */
static int outcome(pid_t pid, int st)
{
	struct child *c = child_of(pid);
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	char what[64];

	if (WIFEXITED(st) && status != 0) {
		snprintf(what, sizeof(what), "exited %d", status);
		describe(pid, what);
	} else if (WIFSIGNALED(st) &&
		   !(c != NULL && c->killed && WTERMSIG(st) == SIGKILL)) {
		snprintf(what, sizeof(what), "killed by signal %d (%s)",
			 WTERMSIG(st), strsignal(WTERMSIG(st)));
		describe(pid, what);
	}
	forget(pid);
	return status;
}

/* A pid from a failed tu_spawn (-1) must reach neither waitpid (any
 * child) nor kill (every process we may signal). */
static int bad_pid(pid_t pid)
{
	if (pid > 0)
		return 0;
	errno = EINVAL;
	return 1;
}

int tu_wait(pid_t pid, int timeout_ms)
{
	int st, r;
	char what[64];

	if (bad_pid(pid))
		return -1;
	r = reap_within(pid, timeout_ms, &st);

	if (r > 0)
		return outcome(pid, st);
	if (r == 0) {
		snprintf(what, sizeof(what),
			 "still running after %d ms: killed", timeout_ms);
		describe(pid, what);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	forget(pid);
	return -1;
}

int tu_ended(pid_t pid, int *status)
{
	int st;
	pid_t r;

	if (bad_pid(pid))
		return -1;
	r = waitpid(pid, &st, WNOHANG);
	if (r == 0)
		return 0;
	if (r != pid) {
		forget(pid);
		return -1;
	}
	*status = outcome(pid, st);
	return 1;
}

int tu_stop(pid_t pid, int timeout_ms)
{
	if (bad_pid(pid))
		return -1;
	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	return tu_wait(pid, timeout_ms);
}

int tu_kill(pid_t pid, int timeout_ms)
{
	struct child *c = child_of(pid);

	if (bad_pid(pid))
		return -1;
	if (c != NULL)
		c->killed = 1;
	kill(pid, SIGKILL);
	return tu_wait(pid, timeout_ms);
}

/* End the children started since the seq'th, so that a scenario ends its
 * own but not those it shares with the ones after it. */
static int reap_since(unsigned long seq)
{
	int n = 0;
	size_t i = 0;

	while (i < n_children) {
		pid_t pid = children[i].pid;
		int st;

		if (children[i].seq < seq) {
			i++;
			continue;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			describe(pid, "ended, never waited for");
		} else {
			describe(pid, "still running: killed");
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		forget(pid);
		n++;
	}
	return n;
}

int tu_reap_all(void)
{
	return reap_since(0);
}

int tu_teardown(void **state)
{
	(void)state;
	return tu_reap_all() == 0 ? 0 : -1;
}

void tu_scenario_begin(struct tu_scenarios *r, const char *name)
{
	r->first_child = next_seq;
	fprintf(stderr, "--- %s\n", name);
}

int tu_scenario_end(struct tu_scenarios *r, const char *name, int rc)
{
	size_t len = strlen(r->failed_names);

	if (reap_since(r->first_child) > 0) {
		fprintf(stderr, "%s: left children behind\n", name);
		rc = 1;
	}
	r->run++;
	fprintf(stderr, "%s: %s\n", rc == 0 ? "ok" : "FAIL", name);
	if (rc != 0) {
		r->failed++;
		snprintf(r->failed_names + len, sizeof(r->failed_names) - len,
			 "%s%s", len > 0 ? ", " : " ", name);
	}
	return rc;
}

int tu_scenarios_done(const struct tu_scenarios *r)
{
	if (r->failed > 0)
		fprintf(stderr, "%d of %d scenarios failed:%s\n", r->failed,
			r->run, r->failed_names);
	else
		fprintf(stderr, "all %d scenarios passed\n", r->run);
	return r->failed > 0 || r->run == 0;
}

int tu_wait_path(const char *path, int timeout_ms)
{
	int64_t end = tu_now_us() + (int64_t)timeout_ms * 1000;

	/* Polled: a socket's appearing has no event short of inotify, and
	 * the wait is bounded and short. */
	while (access(path, F_OK) != 0) {
		if (tu_now_us() > end)
			return -1;
		usleep(10000);
	}
	return 0;
}

int tu_readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;
}

int tu_chan_init(struct tu_chan *c)
{
	if (pipe(c->up) < 0)
		return -1;
	if (pipe(c->down) < 0) {
		close(c->up[0]);
		close(c->up[1]);
		return -1;
	}
	return 0;
}

void tu_chan_close(struct tu_chan *c)
{
	close(c->up[0]);
	close(c->up[1]);
	close(c->down[0]);
	close(c->down[1]);
}

int tu_send(struct tu_chan *c, int child, const void *buf, size_t len)
{
	int fd = child ? c->up[1] : c->down[1];
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tu_recv(struct tu_chan *c, int child, void *buf, size_t len)
{
	int fd = child ? c->down[0] : c->up[0];
	char *p = buf;

	while (len > 0) {
		ssize_t n;

		if (tu_readable(fd, 20000) != 1)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tu_sim_dir_entries(void)
{
	const char *dir = getenv("VCHAN_SIM_DIR");
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (dir == NULL || (d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "xs") == 0)
			continue;
		fprintf(stderr, "left in the simulator directory: %s\n",
			de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

int tu_quick(void)
{
	const char *q = getenv("VCHAN_TEST_QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

int tu_ms(int ms)
{
	const char *f = getenv("VCHAN_TEST_TIME_FACTOR");
	int k = f != NULL ? atoi(f) : 1;

	return k > 1 && k < 1000 ? ms * k : ms;
}
