/* rpc/sock_none.c - rpc/sock.h for builds without sockets (a unikernel):
 * "unix:", "tcp:" and "tls:" addresses parse, and then fail to open or listen
 * with EAFNOSUPPORT. Only vchan: addresses work there. */
#include "config.h"

#include "rpc/sock.h"

#include <errno.h>

static int none(void)
{
	errno = EAFNOSUPPORT;
	return -1;
}

int rpc_sock_connect(const struct vchan_rpc_addr *a, int *pending)
{
	(void)a;
	*pending = 0;
	return none();
}

int rpc_sock_connected(int fd)
{
	(void)fd;
	return none();
}

int rpc_sock_wait_connected(int fd, int timeout_ms)
{
	(void)fd;
	(void)timeout_ms;
	return none();
}

int rpc_sock_setup(int fd)
{
	(void)fd;
	return none();
}

int rpc_sock_listen(const struct vchan_rpc_addr *a, int insecure)
{
	(void)a;
	(void)insecure;
	return none();
}

int rpc_sock_spare(void)
{
	return none();
}

int rpc_sock_accept(int lfd, int *spare)
{
	(void)lfd;
	(void)spare;
	return none();
}

void rpc_sock_unlisten(int lfd, const struct vchan_rpc_addr *a)
{
	(void)lfd;
	(void)a;
}

ssize_t rpc_sock_read(int fd, void *buf, size_t len)
{
	(void)fd;
	(void)buf;
	(void)len;
	return none();
}

ssize_t rpc_sock_write(int fd, const void *buf, size_t len)
{
	(void)fd;
	(void)buf;
	(void)len;
	return none();
}

void rpc_sock_close(int fd)
{
	(void)fd;
}
