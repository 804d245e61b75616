/* rpc/tls.h - TLS over the socket transport of the rpc runtime
 * (internal): the "tls:HOST:PORT" addresses.
 *
 * libvchan-rpc links tls.c (OpenSSL) when it is built with OpenSSL, else
 * tls_none.c, where rpc_tls_ctx_new fails with EAFNOSUPPORT; the core
 * (conn.c, client.c, server.c) never sees OpenSSL. A session reads and
 * writes its socket through rpc_sock_read and rpc_sock_write (sock.h):
 * non-blocking, and never a SIGPIPE. The handshake is done by the first
 * reads and writes (or rpc_tls_handshake): nothing here blocks but
 * rpc_tls_wait_handshake. */
#ifndef VCHAN_RPC_TLS_H
#define VCHAN_RPC_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct vchan_rpc_tls;

/* The settings of one client or server: its CA, certificate and key
 * loaded, and the server's allow-list. */
struct rpc_tls_ctx;
/* One connection's TLS session. */
struct rpc_tls;

/* Load `cfg` for a server (server = 1) or a client. Returns the context or
 * NULL + errno: EINVAL a path missing (or, for a server, the allow-list),
 * ENOENT / EACCES a file cannot be opened, EBADMSG a file holds no valid
 * PEM certificate or key, EKEYREJECTED the key is not the certificate's,
 * ENOMEM, EAFNOSUPPORT built without TLS. */
struct rpc_tls_ctx *rpc_tls_ctx_new(const struct vchan_rpc_tls *cfg,
				    int server);
void rpc_tls_ctx_free(struct rpc_tls_ctx *x);

/* A session on connected (or connecting) socket `fd`, which stays the
 * caller's. A client checks that the server's certificate names `host`
 * (a DNS name or an IP address); a server gives NULL. Returns it or NULL +
 * errno (ENOMEM). */
struct rpc_tls *rpc_tls_new(struct rpc_tls_ctx *x, int fd, const char *host);

/* Send the peer our end of the stream if the handshake is done (nothing
 * is waited for), and free the session. NULL is accepted. */
void rpc_tls_free(struct rpc_tls *t);

/* Go on with the handshake. Returns 1 once it is done, 0 when it waits for
 * the socket (see rpc_tls_want_write), or -1 + errno as rpc_tls_read. A
 * client's is done once the server has accepted its certificate: write
 * nothing before (a refused client's data would make the server's close
 * a reset, which loses the alert that says why). */
int rpc_tls_handshake(struct rpc_tls *t);

/* Run the handshake to its end, waiting up to timeout_ms (-1: for ever).
 * Returns 0, or -1 + errno: ETIMEDOUT, or as rpc_tls_read. */
int rpc_tls_wait_handshake(struct rpc_tls *t, int timeout_ms);

/* As rpc_sock_read and rpc_sock_write: up to len bytes, 0 for none now,
 * -1 + errno: EPIPE the peer's stream has ended; EKEYREJECTED we refused
 * the peer's certificate (not signed by our CA, not its name, not on the
 * allow-list), EKEYEXPIRED it has expired (or is not valid yet), EACCES
 * the peer refused the handshake (its alert: our certificate, say),
 * EPROTO another TLS failure (the peer speaks no TLS, no common version),
 * or an error of the socket. rpc_tls_why tells more. */
ssize_t rpc_tls_read(struct rpc_tls *t, void *buf, size_t len);
ssize_t rpc_tls_write(struct rpc_tls *t, const void *buf, size_t len);

/* 1 when the session waits for the socket to take bytes (a handshake, a
 * read, or a write that returned 0 waits for writability), else 0 (it
 * waits, if at all, for bytes to read). */
int rpc_tls_want_write(const struct rpc_tls *t);

/* Why the session failed, in a sentence for people ("" when it has not):
 * the certificate error or the peer's alert, with a hint at the cause.
 * Valid until the session is freed. */
const char *rpc_tls_why(const struct rpc_tls *t);

#endif
