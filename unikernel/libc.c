/* unikernel/libc.c - the C library functions the runtime provides itself,
 * because musl's make system calls (and a `syscall` instruction in a PV
 * kernel is a hypercall: musl's write(2) would be mmu_update).
 *
 * Which musl members may be linked is checked after the link by
 * check-syscalls.py: no function that can be reached from the entry
 * point or the trap handlers may hold a `syscall` instruction. The
 * overrides below exist to keep that true: stdio's write/seek/close, its
 * FILE and internal locks and single-character output, exit and abort,
 * time, sleeping and poll. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"
#include "unikernel/uk.h"

/* --- stdio: musl's FILE calls these through pointers set in its stdout
 * and stderr objects. The first fields of musl 1.2's struct _IO_FILE
 * (src/internal/stdio_impl.h), the ones a write function must keep. */
struct musl_file {
	unsigned flags;
	unsigned char *rpos, *rend;
	int (*close)(FILE *);
	unsigned char *wend, *wpos;
	unsigned char *mustbezero_1;
	unsigned char *wbase;
	size_t (*read)(FILE *, unsigned char *, size_t);
	size_t (*write)(FILE *, const unsigned char *, size_t);
	off_t (*seek)(FILE *, off_t, int);
	unsigned char *buf;
	size_t buf_size;
};

size_t __stdio_write(FILE *f, const unsigned char *buf, size_t len);
size_t __stdout_write(FILE *f, const unsigned char *buf, size_t len);
off_t __stdio_seek(FILE *f, off_t off, int whence);
int __stdio_close(FILE *f);
int __lockfile(FILE *f);
void __unlockfile(FILE *f);

/* Everything buffered, then buf: both go to the console. */
size_t __stdio_write(FILE *file, const unsigned char *buf, size_t len)
{
	struct musl_file *f = (struct musl_file *)file;

	uk_console_write((const char *)f->wbase, (size_t)(f->wpos - f->wbase));
	uk_console_write((const char *)buf, len);
	f->wend = f->buf + f->buf_size;
	f->wpos = f->wbase = f->buf;
	return len;
}

size_t __stdout_write(FILE *f, const unsigned char *buf, size_t len)
{
	return __stdio_write(f, buf, len);
}

off_t __stdio_seek(FILE *f, off_t off, int whence)
{
	(void)f, (void)off, (void)whence;
	errno = ESPIPE;
	return -1;
}

int __stdio_close(FILE *f)
{
	(void)f;
	return 0;
}

/* One thread: a FILE, or libc's own state, is never contended. */
void __lock(volatile int *l);
void __unlock(volatile int *l);

void __lock(volatile int *l)
{
	(void)l;
}

void __unlock(volatile int *l)
{
	(void)l;
}

int __lockfile(FILE *f)
{
	(void)f;
	return 0;
}

void __unlockfile(FILE *f)
{
	(void)f;
}

/* musl's single-character functions carry an inline FILE lock that wakes
 * waiters with a futex system call; ours go through fwrite, whose lock is
 * __lockfile above. */
int fputc(int c, FILE *f)
{
	unsigned char ch = (unsigned char)c;

	return fwrite(&ch, 1, 1, f) == 1 ? ch : EOF;
}

int putc(int c, FILE *f)
{
	return fputc(c, f);
}

int _IO_putc(int c, FILE *f);

int _IO_putc(int c, FILE *f)
{
	return fputc(c, f);
}

int putchar(int c)
{
	return fputc(c, stdout);
}

/* --- ending the program. */
_Noreturn void exit(int status)
{
	fflush(stdout);
	fflush(stderr);
	if (status != 0)
		uk_printk("unikernel: exit status %d\n", status);
	uk_shutdown(status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}

_Noreturn void _Exit(int status)
{
	uk_shutdown(status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}

_Noreturn void abort(void)
{
	fflush(stdout);
	uk_printk("unikernel: abort()\n");
	uk_shutdown(SHUTDOWN_crash);
}

_Noreturn void __assert_fail(const char *expr, const char *file, int line,
			     const char *func);

_Noreturn void __assert_fail(const char *expr, const char *file, int line,
			     const char *func)
{
	uk_printk("unikernel: %s:%d: %s: assertion '%s' failed\n", file, line,
		  func, expr);
	abort();
}

/* --- time. The clocks are Xen system time; the real-time clock adds the
 * wall-clock base Xen keeps in shared_info, and the boot-time clock counts
 * from the domain's first instruction. */
int clock_gettime(clockid_t clk, struct timespec *ts)
{
	uint64_t ns = uk_now_ns();

	if (clk == CLOCK_BOOTTIME) {
		ns = uk_uptime_ns();
	} else if (clk == CLOCK_REALTIME) {
		volatile shared_info_t *s = uk_rt.shared;
		uint32_t v;
		uint64_t base;

		do {
			v = s->wc_version;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			base = (uint64_t)s->wc_sec * 1000000000u + s->wc_nsec;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
		} while ((v & 1) != 0 || v != s->wc_version);
		ns += base;
	} else if (clk != CLOCK_MONOTONIC && clk != CLOCK_MONOTONIC_RAW) {
		errno = EINVAL;
		return -1;
	}
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return 0;
}

time_t time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	uint64_t end;

	if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
		errno = EINVAL;
		return -1;
	}
	end = uk_now_ns() + (uint64_t)req->tv_sec * 1000000000u +
	      (uint64_t)req->tv_nsec;
	while (uk_now_ns() < end)
		uk_wait_ports(NULL, 0, end);
	if (rem != NULL)
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

int usleep(useconds_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
			      .tv_nsec = (long)(us % 1000000) * 1000};

	return nanosleep(&ts, NULL);
}

int sched_yield(void)
{
	uk_hypercall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0, 0, 0);
	return 0;
}

/* --- poll over the runtime's pseudo descriptors (pv.h): ready ones are
 * reported at once, else the domain sleeps on all of their ports. */
int poll(struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	uint64_t deadline =
	    timeout_ms > 0 ? uk_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;

	for (;;) {
		uint32_t ports[UK_WAIT_PORTS];
		unsigned nports = 0;
		int ready = 0;

		for (nfds_t i = 0; i < n; i++) {
			int r = pfd[i].fd < 0 ? 0 : uk_fd_ready(pfd[i].fd);

			pfd[i].revents = 0;
			if (r < 0)
				pfd[i].revents = POLLNVAL;
			else if (r > 0)
				pfd[i].revents = (short)(pfd[i].events &
							 (POLLIN | POLLRDNORM));
			if (pfd[i].revents != 0)
				ready++;
			else if (pfd[i].fd >= 0)
				nports += uk_fd_ports(pfd[i].fd, ports + nports,
						      UK_WAIT_PORTS - nports);
		}
		if (ready > 0 || timeout_ms == 0)
			return ready;
		if (deadline != 0 && uk_now_ns() >= deadline)
			return 0;
		uk_wait_ports(ports, nports, deadline);
	}
}

int close(int fd)
{
	if (uk_fd_ready(fd) < 0) {
		errno = EBADF;
		return -1;
	}
	uk_fd_close(fd);
	return 0;
}

/* epoll, as far as the library uses it: a set of fds that polls readable
 * while one of its members does (vchan_listener_fd). Edge-triggered
 * events and epoll_wait are not provided. */
#define EPOLL_MAX 64

struct epoll_set {
	int fd[EPOLL_MAX];
	unsigned n;
};

static int epoll_ready(void *obj)
{
	struct epoll_set *e = obj;

	for (unsigned i = 0; i < e->n; i++)
		if (uk_fd_ready(e->fd[i]) > 0)
			return 1;
	return 0;
}

static unsigned epoll_ports(void *obj, uint32_t *out, unsigned max)
{
	struct epoll_set *e = obj;
	unsigned k = 0;

	for (unsigned i = 0; i < e->n && k < max; i++)
		k += uk_fd_ports(e->fd[i], out + k, max - k);
	return k;
}

static const struct uk_fd_ops epoll_ops = {epoll_ready, epoll_ports, free};

int epoll_create1(int flags)
{
	struct epoll_set *e = calloc(1, sizeof(*e));
	int fd;

	(void)flags;
	if (e == NULL)
		return -1;
	fd = uk_fd_open(&epoll_ops, e);
	if (fd < 0)
		free(e);
	return fd;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct epoll_set *e = uk_fd_obj(epfd, &epoll_ops);
	unsigned i;

	(void)ev;
	if (e == NULL || uk_fd_ready(fd) < 0 || fd == epfd) {
		errno = e == NULL ? EBADF : EINVAL;
		return -1;
	}
	for (i = 0; i < e->n && e->fd[i] != fd; i++)
		;
	switch (op) {
	case EPOLL_CTL_ADD:
		if (i < e->n) {
			errno = EEXIST;
			return -1;
		}
		if (e->n == EPOLL_MAX) {
			errno = ENOSPC;
			return -1;
		}
		e->fd[e->n++] = fd;
		return 0;
	case EPOLL_CTL_DEL:
		if (i == e->n) {
			errno = ENOENT;
			return -1;
		}
		e->fd[i] = e->fd[--e->n];
		return 0;
	case EPOLL_CTL_MOD:
		return i < e->n ? 0 : (errno = ENOENT, -1);
	default:
		errno = EINVAL;
		return -1;
	}
}
