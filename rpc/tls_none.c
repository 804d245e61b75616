/* rpc/tls_none.c - rpc/tls.h for builds without OpenSSL (and without
 * sockets): "tls:" addresses parse, and then fail with EAFNOSUPPORT, as
 * vchan_rpc_client_set_tls and vchan_rpc_server_set_tls do. */
#include "config.h"

#include "rpc/tls.h"

#include <errno.h>

struct rpc_tls_ctx *rpc_tls_ctx_new(const struct vchan_rpc_tls *cfg, int server)
{
	(void)cfg;
	(void)server;
	errno = EAFNOSUPPORT;
	return NULL;
}

void rpc_tls_ctx_free(struct rpc_tls_ctx *x)
{
	(void)x;
}

/* Nothing below is reached: there is never a context to start from. */
struct rpc_tls *rpc_tls_new(struct rpc_tls_ctx *x, int fd, const char *host)
{
	(void)x;
	(void)fd;
	(void)host;
	errno = EAFNOSUPPORT;
	return NULL;
}

void rpc_tls_free(struct rpc_tls *t)
{
	(void)t;
}

int rpc_tls_handshake(struct rpc_tls *t)
{
	(void)t;
	errno = EAFNOSUPPORT;
	return -1;
}

int rpc_tls_wait_handshake(struct rpc_tls *t, int timeout_ms)
{
	(void)t;
	(void)timeout_ms;
	errno = EAFNOSUPPORT;
	return -1;
}

ssize_t rpc_tls_read(struct rpc_tls *t, void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = EAFNOSUPPORT;
	return -1;
}

ssize_t rpc_tls_write(struct rpc_tls *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = EAFNOSUPPORT;
	return -1;
}

int rpc_tls_want_write(const struct rpc_tls *t)
{
	(void)t;
	return 0;
}

const char *rpc_tls_why(const struct rpc_tls *t)
{
	(void)t;
	return "";
}
