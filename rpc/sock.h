/* rpc/sock.h - the socket transport of the rpc runtime (internal): the
 * "unix:PATH", "tcp:HOST:PORT" and (under rpc/tls.h) "tls:HOST:PORT"
 * addresses.
 *
 * libvchan-rpc links sock.c; a build without sockets links sock_none.c,
 * where every function fails with EAFNOSUPPORT (such addresses still
 * parse, and then fail to open with a clear error). The fds made here are
 * non-blocking and close-on-exec. */
#ifndef VCHAN_RPC_SOCK_H
#define VCHAN_RPC_SOCK_H

#include <stddef.h>
#include <sys/types.h>

struct vchan_rpc_addr;

/* Start connecting to `a` (a unix: or tcp: address). Returns the fd (to
 * pass to rpc_sock_setup), with
 * *pending set to 1 while the connect goes on (see rpc_sock_connected),
 * else 0; or -1 + errno (EHOSTUNREACH: the host did not resolve). */
int rpc_sock_connect(const struct vchan_rpc_addr *a, int *pending);

/* The connect in progress on `fd` finished (it polled writable): 0 when
 * connected, else -1 + errno (why it failed). */
int rpc_sock_connected(int fd);

/* Wait up to timeout_ms (-1: for ever) for the connect in progress on
 * `fd` to finish. Returns 0 when connected, else -1 + errno (ETIMEDOUT
 * when time ran out). */
int rpc_sock_wait_connected(int fd, int timeout_ms);

/* Make an fd handed to us ready for the transport: non-blocking,
 * close-on-exec, no Nagle delay (calls are small and latency-bound).
 * Returns 0 or -1 + errno. */
int rpc_sock_setup(int fd);

/* A listening socket on `a`. A Unix socket file already there (left by a
 * server that died) is replaced. A tcp: address (in the clear) must be
 * loopback unless `insecure` is set; a tls: one may be any. Returns the
 * fd or -1 + errno (EADDRNOTAVAIL: the host did not resolve; EPERM: a
 * tcp: address that is not loopback). */
int rpc_sock_listen(const struct vchan_rpc_addr *a, int insecure);

/* A descriptor kept free for rpc_sock_accept, or -1 + errno. Close it
 * with rpc_sock_close. */
int rpc_sock_spare(void);

/* The next connection waiting on listener `lfd` (to pass to
 * rpc_sock_setup): its fd, or -1 + errno (EAGAIN: none now;
 * ECONNABORTED: try again). Out of descriptors, a client would wait in
 * the backlog until its deadline while the listener stays readable (the
 * loop spinning on it): with *spare (from rpc_sock_spare) >= 0, it is
 * taken in the spare's place and closed at once, so that its calls end
 * with "peer gone"; that returns -1 + ECONNABORTED, and *spare is opened
 * again (-1 when it cannot be). */
int rpc_sock_accept(int lfd, int *spare);

/* Close listener `lfd` of address `a`, removing a Unix socket's file. */
void rpc_sock_unlisten(int lfd, const struct vchan_rpc_addr *a);

/* Read up to len bytes. Returns how many (0: none now), or -1 + errno:
 * EPIPE when the peer's stream has ended, else the connection failed. */
ssize_t rpc_sock_read(int fd, void *buf, size_t len);

/* Write up to len bytes. Returns how many (0: no room now), or -1 +
 * errno: the connection failed (never a SIGPIPE). */
ssize_t rpc_sock_write(int fd, const void *buf, size_t len);

void rpc_sock_close(int fd);

#endif
