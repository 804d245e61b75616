/* rpc/rpc.h, installed as <vchan/rpc.h> - typed remote calls between
 * domains: protobuf-c services carried over a vchan, a Unix socket or TCP,
 * asynchronous on libev (link with -lvchan-rpc, pkg-config vchan-rpc).
 *
 * Every name this header declares starts with vchan_rpc_ or VCHAN_RPC_,
 * clear of Sun RPC's rpc_* (glibc, TI-RPC <rpc/rpc.h>).
 *
 * Schemas are .proto files compiled by protoc-c. A client (struct
 * vchan_rpc_client) calls one service; it offers itself as a
 * ProtobufCService of that service's descriptor, so the generated stubs
 * (foo__bar__method(service, request, closure, data)) are the client API.
 * A server carries any number of services (the generated FOO__INIT
 * structures filled with handlers) to any number of clients.
 *
 * Addresses:
 *   vchan:DOMID/PORT  client: the server of domain DOMID, XenStore path
 *                     /local/domain/DOMID/data/vchan/<own domid>/PORT
 *                     (a plain server's), or that domain's listener.
 *                     server: a channel for client domain DOMID, one
 *                     client at a time.
 *   vchan:ANY/PORT    (ANY written as the character '*') server: any
 *                     number of clients of any domain, each on a channel
 *                     of its own (a listener: vchan_listen).
 *   vchan:1,2/PORT    server: the same for the domains listed (ids), and a
 *                     plain offer for each (libxenvchan clients).
 *   unix:PATH         a Unix stream socket.
 *   tcp:HOST:PORT     TCP (HOST may be a name, an IPv4 or [IPv6] address;
 *                     PORT 1..65535), in the clear: anyone who reaches the
 *                     port may call. A listener on an address that is not
 *                     loopback (127.0.0.0/8, ::1) is refused unless
 *                     vchan_rpc_options.insecure_tcp says otherwise.
 *   tls:HOST:PORT     TCP with TLS (1.2 or later, 1.3 preferred) and
 *                     mutual authentication: each side shows a certificate
 *                     that the other's CA signed, the client checks that
 *                     the server's names HOST, the server that the
 *                     client's names an allowed client (see
 *                     vchan_rpc_client_set_tls, docs/rpc-tls.md).
 * DOMID may also be a domain's name, looked up for each connection or
 * offer (vchan_domid_lookup: a domain recreated under its name is found
 * at its new id; needs dom0's rights on Xen).
 * PORT of a vchan address is a name of [A-Za-z0-9_-].
 *
 * Everything runs on the caller's libev loop (no default loop is assumed)
 * in the caller's thread; a client or server is not thread-safe.
 * The wire format is described in docs/rpc-wire.md.
 *
 * Conventions: functions return >= 0 on success and -1 (or NULL) with
 * errno set on failure.
 */
#ifndef VCHAN_RPC_H
#define VCHAN_RPC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>
#include <vchan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

/* How a call ended. The numbers are also the wire's status codes.
 * Besides those the runtime sets, a handler may end a call with any of
 * 1-6 and VCHAN_RPC_INVALID_ARGUMENT (see vchan_rpc_server_fail); 7-10 are only
 * ever set by the client itself. */
enum vchan_rpc_status {
	VCHAN_RPC_OK = 0,
	/* the server does not carry the service */
	VCHAN_RPC_UNKNOWN_SERVICE = 1,
	/* the service has no such method there */
	VCHAN_RPC_UNKNOWN_METHOD = 2,
	/* the request (or reply) did not decode */
	VCHAN_RPC_MALFORMED = 3,
	/* the handler answered NULL */
	VCHAN_RPC_HANDLER_FAILED = 4,
	/* no answer before the call's deadline */
	VCHAN_RPC_DEADLINE_EXCEEDED = 5,
	/* request or reply above the size limit */
	VCHAN_RPC_TOO_LARGE = 6,
	/* the connection ended or none could be made */
	VCHAN_RPC_PEER_GONE = 7,
	/* too many calls in flight or bytes queued */
	VCHAN_RPC_QUEUE_FULL = 8,
	/* the peer broke the wire format */
	VCHAN_RPC_PROTOCOL_ERROR = 9,
	/* the client was freed first */
	VCHAN_RPC_CANCELLED = 10,
	/* The request decoded but the handler refuses what it says (a field
	 * out of range, a name of the wrong form...). A client built before
	 * this status existed sees VCHAN_RPC_PROTOCOL_ERROR instead. */
	VCHAN_RPC_INVALID_ARGUMENT = 11,
};

/* Longest message, in bytes, that a failed call carries from the server
 * to the caller (see vchan_rpc_server_fail and vchan_rpc_client_message). */
#define VCHAN_RPC_MESSAGE_MAX 255

/* A short English name of a status ("ok", "peer gone"...); never NULL. */
VCHAN_API const char *vchan_rpc_status_str(enum vchan_rpc_status status);

/* Limits of a client or server. Start from vchan_rpc_options_init. */
struct vchan_rpc_options {
	/* Largest request or reply body in bytes (default 4 MiB). */
	size_t max_message;
	/* Client: most calls in flight at once; more end at once with
	 * VCHAN_RPC_QUEUE_FULL (default 1024, at most 65535). Server: most
	 * calls of one connection waiting for their handler; the server stops
	 * reading that connection beyond it. */
	unsigned max_in_flight;
	/* Most bytes waiting to be written on one connection. A client call
	 * that would queue more ends with VCHAN_RPC_QUEUE_FULL; a server stops
	 * reading a connection whose replies pile up (default 8 MiB). */
	size_t max_queued;
	/* Client: default deadline of each call in ms (0: none; default
	 * 10000). The deadline goes to the server with the call (see
	 * vchan_rpc_server_time_left). */
	int timeout_ms;
	/* Client: what a call made while there is no connection does. 0
	 * (default): it ends at once with VCHAN_RPC_PEER_GONE when no server
	 * is there (a vchan listener that has our request counts as there).
	 * Non-zero: it waits within its deadline while the client connects
	 * by itself: a vchan address is watched in XenStore until its server
	 * comes (back); a socket is tried again after 10 ms, doubling up to
	 * 1 s. The calls are sent once connected (one that ended by its
	 * deadline meanwhile may still reach the server). */
	int wait_for_server;
	/* Server: 1 lets a tcp: listener take an address that is not
	 * loopback, serving anyone who reaches it in the clear (default 0:
	 * refused with EPERM; tls: is the safe way across hosts). */
	int insecure_tcp;
};

/* Fill `o` with the defaults. */
VCHAN_API void vchan_rpc_options_init(struct vchan_rpc_options *o);

/* What a tls: client or server shows and trusts: paths of PEM files. */
struct vchan_rpc_tls {
	/* The CA certificate(s) that sign the peers' certificates: the
	 * only ones trusted (the system's store is not used). */
	const char *ca_file;
	/* This side's certificate, possibly followed by its chain. */
	const char *cert_file;
	/* Its private key, not encrypted. */
	const char *key_file;
	/* Server: the clients allowed, a NULL-terminated list of names. A
	 * client is allowed when its certificate's common name (CN) or one
	 * of its DNS subjectAltNames equals one of them (ASCII case
	 * ignored); "*" allows any client whose certificate the CA signed.
	 * Client: not used (the server's certificate must name the HOST of
	 * the address instead, as a DNS or IP subjectAltName). */
	const char *const *allow;
};

/* ---- client ---------------------------------------------------------- */

/* A client of one service at one address (opaque). */
struct vchan_rpc_client;

/* Create a client for the service `desc` at `address` on `loop`; `opts`
 * may be NULL for the defaults (it is copied). Does not connect yet: the
 * first call does, or vchan_rpc_client_connect. Calls go through
 * vchan_rpc_call, vchan_rpc_call_sync or the generated stubs given
 * vchan_rpc_client_service(client). A lost connection fails the calls in
 * flight with VCHAN_RPC_PEER_GONE; the next call connects again.
 * Returns the client (the caller frees it with vchan_rpc_client_free) or
 * NULL + errno: EINVAL loop or desc NULL, bad address or options, ENOMEM. */
VCHAN_API struct vchan_rpc_client *
vchan_rpc_client_new(struct ev_loop *loop, const char *address,
		     const ProtobufCServiceDescriptor *desc,
		     const struct vchan_rpc_options *opts);

/* The client as a ProtobufCService of its descriptor, to pass to the
 * generated stubs (foo__bar__method(service, request, closure, data)).
 * It belongs to the client and lives as long as it;
 * protobuf_c_service_destroy on it is vchan_rpc_client_free.
 * Returns it, or NULL + EINVAL when client is NULL. */
VCHAN_API ProtobufCService *
vchan_rpc_client_service(struct vchan_rpc_client *client);

/* The client whose service (vchan_rpc_client_service) `service` is.
 * Returns it, or NULL + EINVAL when `service` is NULL or not a client's
 * (a server-side service, another library's). */
VCHAN_API struct vchan_rpc_client *
vchan_rpc_client_of(ProtobufCService *service);

/* Connect now, waiting up to `timeout_ms` (-1: forever) for the server to
 * appear (for a vchan, its XenStore keys; for sockets, retrying a refused
 * connection every 20 ms). 0 makes one attempt: a missing socket or a
 * refused connection fails at once. Blocks the loop meanwhile: meant for
 * program start. Returns 0 (also when already connected) or -1 + errno,
 * when the time is out the error of the last attempt: ENOENT no such
 * socket (unix:), ECONNREFUSED nothing listens there, or a vchan server's
 * keys name a channel that is gone, ETIMEDOUT no vchan server published its
 * keys, or a TCP handshake did not finish; also EINVAL client is NULL,
 * ECANCELED a closure run while dropping a connection still in progress
 * freed the client (it is gone), or an error of the transport. A tls:
 * client also runs the handshake within the time: ENOKEY no
 * vchan_rpc_client_set_tls yet, the errors of a failed handshake there
 * (with vchan_rpc_client_status VCHAN_RPC_PEER_GONE and
 * vchan_rpc_client_message saying why), or ETIMEDOUT. */
VCHAN_API int vchan_rpc_client_connect(struct vchan_rpc_client *client,
				       int timeout_ms);

/* Settings of a client of a tls: address, once, before it connects
 * (`tls` and its strings are copied; the files are read now). A tls:
 * client without them fails every connection (ENOKEY).
 * Returns 0 or -1 + errno: EINVAL client or tls NULL, or a path NULL;
 * EBUSY they were set already;
 * ENOENT or EACCES a file cannot be opened; EBADMSG a file holds no valid
 * PEM certificate or key; EKEYREJECTED the key does not belong to the
 * certificate; EAFNOSUPPORT the library was built without TLS; ENOMEM.
 *
 * A connection whose handshake fails is lost as any other (its calls end
 * with VCHAN_RPC_PEER_GONE, vchan_rpc_client_connect fails), and
 * vchan_rpc_client_message then says why, e.g. "TLS: the server's
 * certificate has expired". errno of vchan_rpc_client_connect:
 * EKEYREJECTED the server's certificate is not signed by our CA, or does
 * not name HOST; EKEYEXPIRED it has expired or is not valid yet; EACCES
 * the server refused our certificate (not signed by its CA, expired, not
 * on its allow-list); EPROTO another TLS failure (no TLS there, no
 * common version). */
VCHAN_API int vchan_rpc_client_set_tls(struct vchan_rpc_client *client,
				       const struct vchan_rpc_tls *tls);

/* 1 when the client has a live connection, else 0 (also for NULL). */
VCHAN_API int
vchan_rpc_client_is_connected(const struct vchan_rpc_client *client);

/* Number of calls in flight (sent or queued, not yet answered); 0 for
 * NULL. */
VCHAN_API size_t
vchan_rpc_client_in_flight(const struct vchan_rpc_client *client);

/* Deadline in ms of the calls started by the stubs from now on (0: none).
 * Returns 0 or -1 + EINVAL (client NULL, timeout_ms < 0). */
VCHAN_API int vchan_rpc_client_set_timeout(struct vchan_rpc_client *client,
					   int timeout_ms);

/* The status of the call whose closure is running (call it from the
 * closure: a closure given NULL learns why). Outside closures: the status
 * of the last call that ended (after vchan_rpc_call_sync: of that call).
 * `client` must not be NULL. */
VCHAN_API enum vchan_rpc_status
vchan_rpc_client_status(const struct vchan_rpc_client *client);

/* The message the server gave with the status of the same call as
 * vchan_rpc_client_status (the reason a handler passed to
 * vchan_rpc_server_fail, or the runtime's own, such as which method was
 * unknown): at most VCHAN_RPC_MESSAGE_MAX bytes of text, control
 * characters replaced by '?'.
 * "" when there is none: a call that succeeded, ended on the client's
 * side (deadline, peer gone...), or was answered by an older server.
 * Never NULL; the string belongs to the client and is valid until the
 * next call of this client ends or the client is freed. `client` must not
 * be NULL. */
VCHAN_API const char *
vchan_rpc_client_message(const struct vchan_rpc_client *client);

/* Called once when a call ends. `reply` is the decoded reply when status
 * is VCHAN_RPC_OK, else NULL; it belongs to the client and is freed when
 * the callback returns. The server's message of a failed call is
 * vchan_rpc_client_message(client), read from the callback. */
typedef void vchan_rpc_done_fn(enum vchan_rpc_status status,
			       const ProtobufCMessage *reply, void *data);

/* Call method `method_index` of the client's service with `request`
 * (which must be of the method's input type; it is packed at once and may
 * be freed on return), with a deadline of `timeout_ms` ms (0: none,
 * -1: the client's default), which the server is told. `done` is always
 * called exactly once, never from within vchan_rpc_call itself: a call
 * that cannot start (no connection, too large, queue full) ends on the
 * next loop iteration.
 * Returns 0, or -1 + errno (done is then not called): EINVAL client or
 * done NULL, bad index or request type; ENOMEM. */
VCHAN_API int vchan_rpc_call(struct vchan_rpc_client *client,
			     unsigned method_index,
			     const ProtobufCMessage *request, int timeout_ms,
			     vchan_rpc_done_fn *done, void *data);

/* Blocking call for simple programs: runs the client's loop until the call
 * ends. On VCHAN_RPC_OK *reply gets the reply, which the caller frees with
 * protobuf_c_message_free_unpacked(*reply, NULL); otherwise *reply is NULL.
 * Other watchers of the loop run meanwhile; once it returns,
 * vchan_rpc_client_status and vchan_rpc_client_message tell of this call
 * even if other calls ended meanwhile. Returns the status, or -1 + errno:
 * EINVAL client NULL, bad index or request type; ENOMEM. */
VCHAN_API int vchan_rpc_call_sync(struct vchan_rpc_client *client,
				  unsigned method_index,
				  const ProtobufCMessage *request,
				  int timeout_ms, ProtobufCMessage **reply);

/* Free the client, closing its connection. Calls still in flight end with
 * VCHAN_RPC_CANCELLED (their closures get NULL). May be called from a
 * closure of this client. NULL is accepted. */
VCHAN_API void vchan_rpc_client_free(struct vchan_rpc_client *client);

/* ---- server ---------------------------------------------------------- */

struct vchan_rpc_server;

/* Create a server on `loop`; `opts` may be NULL (copied). Returns the
 * server (free it with vchan_rpc_server_free) or NULL + errno (EINVAL, ENOMEM).
 */
VCHAN_API struct vchan_rpc_server *
vchan_rpc_server_new(struct ev_loop *loop,
		     const struct vchan_rpc_options *opts);

/* Carry `service` (a generated FOO__INIT structure with its handlers
 * filled in; borrowed: it must outlive the server). A handler gets the
 * decoded request (valid until it answers) and answers once, at once or
 * later from the loop, in one of two ways: by calling the closure with
 * the reply (copied at once; the handler keeps ownership) or with NULL
 * for VCHAN_RPC_HANDLER_FAILED; or by vchan_rpc_server_fail with the closure's
 * data (the `closure_data` argument of the handler, which names the call). A
 * handler must answer every call even when the client has gone meanwhile (the
 * answer is then dropped); calls not answered when the server is freed are
 * freed with it, and must not be answered afterwards. A call whose deadline
 * (see vchan_rpc_server_time_left) has passed when the server comes to it is
 * not given to its handler: the server answers VCHAN_RPC_DEADLINE_EXCEEDED
 * itself. Returns 0 or -1 + errno: EEXIST a service of that name (or hash) or
 * two methods of one hash, EINVAL, ENOMEM. */
VCHAN_API int vchan_rpc_server_add_service(struct vchan_rpc_server *srv,
					   ProtobufCService *service);

/* End the call named by `call` (the closure data its handler was given)
 * with `status` instead of a reply, with `message` for the caller (NULL:
 * none; copied; UTF-8 text longer than VCHAN_RPC_MESSAGE_MAX bytes is cut
 * where a character starts). The
 * caller sees both (vchan_rpc_client_status, vchan_rpc_client_message). This is
 * an answer: the call is over and `call` is invalid afterwards. A handler may
 * choose VCHAN_RPC_INVALID_ARGUMENT, VCHAN_RPC_MALFORMED,
 * VCHAN_RPC_HANDLER_FAILED, VCHAN_RPC_DEADLINE_EXCEEDED, VCHAN_RPC_TOO_LARGE,
 * VCHAN_RPC_UNKNOWN_METHOD or VCHAN_RPC_UNKNOWN_SERVICE (the last two, say, for
 * a proxy passing on a backend's status). Returns 0, or -1 + EINVAL when
 * `status` is another one (VCHAN_RPC_OK, or a status only a client may set):
 * the call then ends all the same, with VCHAN_RPC_HANDLER_FAILED and
 * `message`. -1 + EINVAL also when `call` is NULL (nothing is answered).
 */
VCHAN_API int vchan_rpc_server_fail(void *call, enum vchan_rpc_status status,
				    const char *message);

/* Milliseconds left before the deadline of the call named by `call` (the
 * closure data its handler was given; valid until the call is answered),
 * rounded down: 0 once it has passed. The deadline is the client's
 * timeout for the call (exact up to 4095 ms, above rounded down by under
 * 1/2048), counted from when the server read the request; the time the
 * request spent in transit is not known to the server, so the client's
 * deadline may come a little earlier.
 * Returns the time left (>= 0), or -1 + errno: ENOENT the call has no
 * deadline (the client gave none, or is older than deadlines on the
 * wire), EINVAL `call` is NULL. */
VCHAN_API int vchan_rpc_server_time_left(const void *call);

/* Accept clients at `address` (see the top of this file); call once per
 * address. A vchan address whose DOMID is '*' serves any number of clients
 * from any domain at once, and "vchan:1,2,3/PORT" those of the domains
 * listed (a listener, see vchan_listen: each client on a channel of its
 * own). A
 * vchan address naming one domain serves one client at a time and offers
 * a fresh channel when its client has gone. A server out of file
 * descriptors turns a new socket client away at once (its calls end with
 * VCHAN_RPC_PEER_GONE) rather than leave it waiting. Returns 0 or -1 +
 * errno (EINVAL bad address, EADDRINUSE a live server is at the address
 * already, EEXIST a unix: path that is no socket, EPERM a tcp: address
 * that is not loopback without vchan_rpc_options.insecure_tcp, ENOKEY a
 * tls: address before vchan_rpc_server_set_tls, EAFNOSUPPORT a tls:
 * address in a library built without TLS, or an error of the
 * transport). A unix: socket file or vchan keys that a dead server left
 * are taken over. */
VCHAN_API int vchan_rpc_server_listen(struct vchan_rpc_server *srv,
				      const char *address);

/* Settings of the server's tls: listeners, as vchan_rpc_client_set_tls
 * (same errors; EINVAL also when tls->allow is NULL or empty). Call it
 * once, before listening at a tls: address. A client that fails the handshake
 * (a certificate not signed by our CA, expired, or whose names are not on
 * the allow-list) is told so by an alert and dropped. */
VCHAN_API int vchan_rpc_server_set_tls(struct vchan_rpc_server *srv,
				       const struct vchan_rpc_tls *tls);

/* Number of connected clients. */
VCHAN_API size_t vchan_rpc_server_clients(const struct vchan_rpc_server *srv);

/* Close every listener and connection and free the server. Must not be
 * called from a handler. NULL is accepted. */
VCHAN_API void vchan_rpc_server_free(struct vchan_rpc_server *srv);

#ifdef __cplusplus
}
#endif

#endif
