/* rpc/sock.c - the socket transport of the rpc runtime: Unix and TCP
 * stream sockets (and the TCP under TLS, rpc/tls.h). */
#include "config.h"

#include "rpc/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/conn.h"

/* The sockaddr of `a`: a Unix one in *sun, or the first that getaddrinfo
 * gives in *res (to free). Returns 0, or the getaddrinfo error. */
static int resolve(const struct vchan_rpc_addr *a, int passive,
		   struct sockaddr_un *sun, struct addrinfo **res,
		   const struct sockaddr **sa, socklen_t *salen, int *family)
{
	struct addrinfo hints;
	int e;

	*res = NULL;
	if (a->kind == VCHAN_RPC_ADDR_UNIX) {
		memset(sun, 0, sizeof(*sun));
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, a->name);
		*sa = (const struct sockaddr *)sun;
		*salen = sizeof(*sun);
		*family = AF_UNIX;
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	e = getaddrinfo(a->host, a->service, &hints, res);
	if (e != 0)
		return e;
	*sa = (*res)->ai_addr;
	*salen = (*res)->ai_addrlen;
	*family = (*res)->ai_family;
	return 0;
}

int rpc_sock_connect(const struct vchan_rpc_addr *a, int *pending)
{
	struct sockaddr_un sun;
	struct addrinfo *res;
	const struct sockaddr *sa;
	socklen_t salen;
	int fd, e, family;

	*pending = 0;
	e = resolve(a, 0, &sun, &res, &sa, &salen, &family);
	if (e != 0) {
		errno = e == EAI_SYSTEM ? errno : EHOSTUNREACH;
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		*pending = 1;
	}
	if (res != NULL)
		freeaddrinfo(res);
	return fd;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	errno = e;
	return -1;
}

int rpc_sock_connected(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int rpc_sock_wait_connected(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n = poll(&p, 1, timeout_ms);

	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0)
		return -1;
	return rpc_sock_connected(fd);
}

int rpc_sock_setup(int fd)
{
	int fl = fcntl(fd, F_GETFL), one = 1;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	/* Fails harmlessly on a Unix socket. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* Make way for a listener at Unix address `sun`: nothing there, or a
 * socket nobody listens on any more (connect is refused), which is
 * removed. Returns 0, or -1 + errno: EADDRINUSE a live server listens
 * there, EEXIST the path is no socket (it is left alone). */
static int unix_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, r;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	/* Non-blocking: a live server with a full backlog answers EAGAIN at
	 * once instead of holding us up. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (r < 0)
		r = -errno;
	close(fd);
	errno = -r;
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED && errno != ENOENT)
		return -1;
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* 1 when `sa` is a loopback address: 127.0.0.0/8, ::1, or the first as
 * an IPv4-mapped IPv6 address. */
static int loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(in6) ||
		       (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
	}
	return 0;
}

int rpc_sock_listen(const struct vchan_rpc_addr *a, int insecure)
{
	struct sockaddr_un sun;
	struct addrinfo *res;
	const struct sockaddr *sa;
	socklen_t salen;
	int fd, e, family, one = 1;

	e = resolve(a, 1, &sun, &res, &sa, &salen, &family);
	if (e != 0) {
		errno = e == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
		return -1;
	}
	/* In the clear, only this host's own programs may be let in
	 * without being asked for (rpc.h): the wildcard address or an
	 * interface's would serve anyone who reaches the port. */
	if (a->kind == VCHAN_RPC_ADDR_TCP && !insecure && !loopback(sa)) {
		freeaddrinfo(res);
		errno = EPERM;
		return -1;
	}
	/* A socket file left by a server that died is in the way; one a
	 * live server listens on is not ours to take. */
	if (a->kind == VCHAN_RPC_ADDR_UNIX && unix_stale(&sun) < 0) {
		e = errno;
		if (res != NULL)
			freeaddrinfo(res);
		errno = e;
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, 128) < 0)
		goto fail;
	if (res != NULL)
		freeaddrinfo(res);
	return fd;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	errno = e;
	return -1;
}

int rpc_sock_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int rpc_sock_accept(int lfd, int *spare)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || *spare < 0)
		return fd;
	close(*spare);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	*spare = rpc_sock_spare();
	if (fd < 0)
		return -1; /* EAGAIN, say: nobody was waiting after all */
	errno = ECONNABORTED;
	return -1;
}

void rpc_sock_unlisten(int lfd, const struct vchan_rpc_addr *a)
{
	close(lfd);
	if (a->kind == VCHAN_RPC_ADDR_UNIX)
		unlink(a->name);
}

ssize_t rpc_sock_read(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n == 0) {
		errno = EPIPE;
		return -1;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return n;
}

ssize_t rpc_sock_write(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return n;
}

void rpc_sock_close(int fd)
{
	close(fd);
}
