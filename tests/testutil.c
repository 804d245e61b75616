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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t tu_spawn(uint32_t domid, int (*fn)(void *), void *arg)
{
	char buf[16];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
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

int tu_wait(pid_t pid, int timeout_ms)
{
	int64_t end = tu_now_us() + (int64_t)timeout_ms * 1000;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (tu_now_us() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(1000);
	}
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
