/* unikernel/absent.c - what a unikernel does not have: files, sockets,
 * signals and resource limits.
 *
 * A service's source is the same for Linux and for the unikernel. The
 * paths that use these (a TCP listener, a port file, a SIGTERM handler)
 * are chosen by its options at run time, so they are linked in; musl's
 * versions would make system calls (hypercalls here, see libc.c). These
 * replace them and fail the way a Linux program already handles, with
 * an errno its message can name: no files is ENOENT/EROFS (EBADF for
 * calls on a file, none being open), no sockets EAFNOSUPPORT. Signal calls succeed and change nothing: there is no one
 * to send a signal, so nothing is ever delivered. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unikernel/pv.h"

/* --- files: there is no file system. Reading finds nothing, writing is
 * refused. */
FILE *fopen(const char *restrict path, const char *restrict mode)
{
	(void)path;
	errno = mode[0] == 'r' && mode[1] != '+' ? ENOENT : EROFS;
	return NULL;
}

int open(const char *path, int flags, ...)
{
	(void)path;
	errno = (flags & O_ACCMODE) == O_RDONLY && !(flags & O_CREAT) ? ENOENT
								      : EROFS;
	return -1;
}

/* No file can be open, so every call on one is EBADF. */
static int no_file(void)
{
	errno = EBADF;
	return -1;
}

int fstat(int fd, struct stat *st)
{
	(void)fd, (void)st;
	return no_file();
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	(void)fd, (void)buf, (void)n, (void)off;
	return no_file();
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	(void)fd, (void)buf, (void)n, (void)off;
	return no_file();
}

int fsync(int fd)
{
	(void)fd;
	return no_file();
}

int fdatasync(int fd)
{
	(void)fd;
	return no_file();
}

int ftruncate(int fd, off_t size)
{
	(void)fd, (void)size;
	return no_file();
}

int rename(const char *from, const char *to)
{
	(void)from, (void)to;
	errno = EROFS;
	return -1;
}

int unlink(const char *path)
{
	(void)path;
	errno = ENOENT;
	return -1;
}

/* --- sockets: a unikernel's network is its vchans. */
static int no_sockets(void)
{
	errno = EAFNOSUPPORT;
	return -1;
}

int socket(int domain, int type, int protocol)
{
	(void)domain, (void)type, (void)protocol;
	return no_sockets();
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)sa, (void)len;
	return no_sockets();
}

int listen(int fd, int backlog)
{
	(void)fd, (void)backlog;
	return no_sockets();
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)sa, (void)len;
	return no_sockets();
}

int accept4(int fd, struct sockaddr *restrict sa, socklen_t *restrict len,
	    int flags)
{
	(void)fd, (void)sa, (void)len, (void)flags;
	return no_sockets();
}

int accept(int fd, struct sockaddr *restrict sa, socklen_t *restrict len)
{
	return accept4(fd, sa, len, 0);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags,
	       const struct sockaddr *sa, socklen_t salen)
{
	(void)fd, (void)buf, (void)len, (void)flags, (void)sa, (void)salen;
	return no_sockets();
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	return sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t recvfrom(int fd, void *restrict buf, size_t len, int flags,
		 struct sockaddr *restrict sa, socklen_t *restrict salen)
{
	(void)fd, (void)buf, (void)len, (void)flags, (void)sa, (void)salen;
	return no_sockets();
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}

int getsockopt(int fd, int level, int name, void *restrict val,
	       socklen_t *restrict len)
{
	(void)fd, (void)level, (void)name, (void)val, (void)len;
	return no_sockets();
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	(void)fd, (void)level, (void)name, (void)val, (void)len;
	return no_sockets();
}

int getsockname(int fd, struct sockaddr *restrict sa, socklen_t *restrict len)
{
	(void)fd, (void)sa, (void)len;
	return no_sockets();
}

int shutdown(int fd, int how)
{
	(void)fd, (void)how;
	return no_sockets();
}

int getaddrinfo(const char *restrict host, const char *restrict serv,
		const struct addrinfo *restrict hint,
		struct addrinfo **restrict res)
{
	(void)host, (void)serv, (void)hint;
	*res = NULL;
	return EAI_FAMILY;
}

void freeaddrinfo(struct addrinfo *p)
{
	(void)p;
}

/* read and write: the runtime's descriptors stand for event channels and
 * XenStore, which are used through their own calls, never read (only
 * polled). stdout and stderr go through stdio (libc.c). */
ssize_t read(int fd, void *buf, size_t len)
{
	(void)buf, (void)len;
	errno = uk_fd_ready(fd) < 0 ? EBADF : EINVAL;
	return -1;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	(void)buf, (void)len;
	errno = uk_fd_ready(fd) < 0 ? EBADF : EINVAL;
	return -1;
}

/* fcntl on the runtime's descriptors: their flags are fixed (none of
 * them ever blocks a read), so setting them changes nothing. */
int fcntl(int fd, int cmd, ...)
{
	if (uk_fd_ready(fd) < 0) {
		errno = EBADF;
		return -1;
	}
	switch (cmd) {
	case F_GETFL:
		return O_RDWR | O_NONBLOCK;
	case F_GETFD:
		return FD_CLOEXEC;
	case F_SETFL:
	case F_SETFD:
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

/* --- processes and randomness: one program, no entropy source. Callers
 * fall back (the storage log seeds its hash from the clock). */
pid_t getpid(void)
{
	return 1;
}

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
	(void)buf, (void)n, (void)flags;
	errno = ENOSYS;
	return -1;
}

/* --- resource limits: the descriptor table has a fixed size. */
int getrlimit(int resource, struct rlimit *rlim)
{
	rlim->rlim_cur = rlim->rlim_max =
	    resource == RLIMIT_NOFILE ? UK_MAX_FDS : RLIM_INFINITY;
	return 0;
}

int setrlimit(int resource, const struct rlimit *rlim)
{
	struct rlimit now;

	getrlimit(resource, &now);
	if (rlim->rlim_cur > now.rlim_max || rlim->rlim_max > now.rlim_max) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* --- signals: none is ever delivered. */
int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict old)
{
	(void)how, (void)set;
	if (old != NULL)
		sigemptyset(old);
	return 0;
}

int pthread_sigmask(int how, const sigset_t *restrict set,
		    sigset_t *restrict old)
{
	return sigprocmask(how, set, old);
}

int sigaction(int sig, const struct sigaction *restrict sa,
	      struct sigaction *restrict old)
{
	(void)sa;
	if (sig <= 0 || sig >= _NSIG) {
		errno = EINVAL;
		return -1;
	}
	if (old != NULL) {
		*old = (struct sigaction){0};
		old->sa_handler = SIG_DFL;
	}
	return 0;
}

void (*signal(int sig, void (*handler)(int)))(int)
{
	(void)handler;
	if (sig <= 0 || sig >= _NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	return SIG_DFL;
}
