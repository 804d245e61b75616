/* vchan/vchan.h - a bidirectional byte channel between two domains.
 *
 * Wire-compatible with Xen's libxenvchan: the peer may be this library,
 * libxenvchan, ocaml-vchan or anything else that follows the same shared
 * page layout, notification rules and XenStore keys.
 *
 * One side is the server: it shares a control page (and the ring pages)
 * with one peer domain and publishes "ring-ref" and "event-channel" under a
 * XenStore path. The other side, the client, connects to that path. Each
 * direction has its own ring; the server's read ring is the client's write
 * ring and the other way round.
 *
 * Conventions: functions return >= 0 on success and -1 (or NULL) with
 * errno set on failure; a NULL handle fails with EINVAL (the two size
 * functions return 0 for it), except that vchan_close accepts NULL and
 * returns 0. Functions that move data return 0 for "would block"
 * in non-blocking mode. Once the peer has broken the protocol (an
 * impossible index, a changed order, a garbage live byte) the channel is
 * poisoned: every later call fails with EPROTO, before it looks at its
 * other arguments (so a size above the ring is EPROTO too, not EMSGSIZE)
 * and without spinning. Only vchan_close, vchan_fd, the ring sizes and the
 * two settings still work. A handle is not thread-safe.
 *
 * Errors common to the data functions: EPROTO (poisoned), EPIPE (the peer
 * has closed and nothing more can come or go), EINVAL (bad argument).
 */
#ifndef VCHAN_VCHAN_H
#define VCHAN_VCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <vchan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vchan;

/* vchan_is_open's answers, equal to the live values on the wire. */
enum vchan_state {
	VCHAN_CLOSED = 0,    /* the peer has gone (data left may be read) */
	VCHAN_CONNECTED = 1, /* both sides are there */
	VCHAN_WAITING = 2,   /* server only: no client yet */
};

/* Largest ring: 1 MiB per direction. */
#define VCHAN_RING_SIZE_MAX (1u << 20)

/* Create a server for domain `peer` and publish it under XenStore `path`
 * (usually /local/domain/<own id>/data/vchan/<peer>/<name>: see
 * vchan_path and vchan_server_create_port), readable by
 * `peer` only. The rings hold at least `read_min` bytes (client to server)
 * and `write_min` bytes (server to client), at most VCHAN_RING_SIZE_MAX
 * each; sizes are chosen as libxenvchan chooses them (rings of 1 KiB and
 * 2 KiB live in the control page when they fit).
 * Does not wait for the client: vchan_is_open() says VCHAN_WAITING until it
 * comes, and vchan_fd() becomes readable when it does. Data may be written
 * before the client connects.
 * Keys at `path` of a live server (one that still holds the event channel
 * they name) are not taken: EADDRINUSE. Keys a dead server left are
 * replaced. See docs/vchan-wire.md.
 * Returns a handle (free it with vchan_close) or NULL + errno: EINVAL bad
 * argument, EADDRINUSE a live server is at `path`, or an error of the
 * grant, event or XenStore layer. */
VCHAN_API struct vchan *vchan_server_create(uint32_t peer, const char *path,
					    size_t read_min, size_t write_min);

/* As vchan_server_create with exact ring orders (log2 of the size, 10..20;
 * 10 and 11 are placed in the control page and may not both be the same).
 * For peers that need a particular layout and for tests. EINVAL when the
 * pair is not a valid layout. */
VCHAN_API struct vchan *vchan_server_create_orders(uint32_t peer,
						   const char *path,
						   unsigned read_order,
						   unsigned write_order);

/* Connect to the server of domain `server` published at `path`, waiting up
 * to `timeout_ms` milliseconds (-1: forever, 0: do not wait) for its keys to
 * appear (through a XenStore watch). The server's page is checked: orders
 * 10..20 and not both in-page of one order, a grant list clear of the
 * rings, sane initial indexes.
 * Returns a handle (free it with vchan_close) or NULL + errno: ETIMEDOUT no
 * server in time, ECONNREFUSED the keys name a port or page that is gone
 * (a server that died without removing them) or a page that already had
 * its client (one server page serves one client), EPROTO a malformed
 * server page or keys, EACCES the keys stayed unreadable to us until the
 * timeout (on Xen a missing key under a directory we may not read looks
 * the same as a key we may not read, so this is waited out), EDQUOT or
 * ENOSPC the request to a listener (port form) kept meeting XenStore's
 * quota until the timeout, EINVAL bad argument, or an error of the layers
 * below. */
VCHAN_API struct vchan *vchan_client_connect(uint32_t server, const char *path,
					     int timeout_ms);

/* Xen's DOMID_SELF: in vchan_path, "this domain". Ids from here up are
 * reserved by Xen and name no domain. */
#define VCHAN_DOMID_SELF UINT32_C(0x7FF0)

/* Longest port name, and a buffer size that holds any path vchan_path
 * builds (terminating NUL included). */
#define VCHAN_PORT_MAX 255u
#define VCHAN_PATH_MAX 320u

/* Build the usual XenStore path of a channel,
 * "/local/domain/<owner>/data/vchan/<peer>/<port>", into buf (size bytes):
 * `owner` is the server's domain, `peer` its client's. Either may be
 * VCHAN_DOMID_SELF, which is replaced by this domain's id (learnt from the
 * XenStore layer: only then does the call open a store handle). `port` is
 * a XenStore node name: 1..VCHAN_PORT_MAX bytes of [A-Za-z0-9_@-].
 * Returns the length of the path (without the NUL) or -1 + errno: EINVAL
 * a bad port name, a reserved domain id, or buf NULL; ENAMETOOLONG the
 * path does not fit in size bytes (VCHAN_PATH_MAX always does); or an
 * error of the XenStore layer when looking up this domain's id. */
VCHAN_API int vchan_path(char *buf, size_t size, uint32_t owner, uint32_t peer,
			 const char *port);

/* The domain that `name` stands for: a decimal number is the domain id
 * itself (0 to 32751); any other text is a domain's name, as xl shows it,
 * looked up in XenStore at each call (a domain that is destroyed and
 * created again under the same name gets a new id). Looking a name up
 * lists /local/domain, which on Xen only a privileged domain (dom0) may;
 * a domain that may not reads the name in the map the tool stack may
 * publish, /local/domain/0/data/vchan-names/<name> = <id> (readable by
 * the domains that look names up; see docs/vchan-wire.md, "Names").
 * Returns the id, or -1 + errno: EINVAL name NULL, empty, longer than 255
 * bytes or a number out of range; ENOENT no domain has that name (or the
 * map has none); EACCES this domain may not list the domains and there is
 * no map it may read; EPROTO the map's entry is no domain id; or an error
 * of the store. */
VCHAN_API int vchan_domid_lookup(const char *name);

/* vchan_server_create at the usual path for a port name, as Qubes'
 * libvchan_server_init(domain, port, ...) does:
 * /local/domain/<own id>/data/vchan/<peer>/<port>. Returns a handle or
 * NULL + errno as vchan_server_create, and EINVAL for a port name that
 * vchan_path refuses or a reserved peer id. */
VCHAN_API struct vchan *vchan_server_create_port(uint32_t peer,
						 const char *port,
						 size_t read_min,
						 size_t write_min);

/* vchan_client_connect to the server of domain `server` at the usual path
 * for a port name: /local/domain/<server>/data/vchan/<own id>/<port>.
 * Returns a handle or NULL + errno as vchan_client_connect, and EINVAL for
 * a port name that vchan_path refuses or a reserved server id. */
VCHAN_API struct vchan *
vchan_client_connect_port(uint32_t server, const char *port, int timeout_ms);

/* ---- Connecting without blocking, for event loops ---- */

/* A connect in progress. */
struct vchan_connect;

/* Start connecting to port name `port` of domain `server`, as
 * vchan_client_connect_port does, or to the server published at `path`
 * (vchan_connect_start_path). Nothing is waited for: drive it with
 * vchan_connect_step. Returns the attempt (free it with
 * vchan_connect_cancel, also after it succeeded) or NULL + errno: EINVAL a
 * bad port name, path or server id, or an error of the XenStore layer. */
VCHAN_API struct vchan_connect *vchan_connect_start(uint32_t server,
						    const char *port);
VCHAN_API struct vchan_connect *vchan_connect_start_path(uint32_t server,
							 const char *path);

/* Look once at the server's offer and take it if it is there. Never
 * blocks. Returns the channel (blocking mode, as vchan_client_connect's)
 * or NULL + errno: EAGAIN not yet (wait until vchan_connect_fd is
 * readable, or vchan_connect_timeout's milliseconds have passed, then
 * step again), or a failure as vchan_client_connect's (ECONNREFUSED,
 * EPROTO...; the attempt is then over). Keys the server left unreadable to
 * us are waited on as keys not there yet (EAGAIN). */
VCHAN_API struct vchan *vchan_connect_step(struct vchan_connect *c);

/* The fd that becomes readable when the server's offer may have changed
 * (a XenStore watch); valid once vchan_connect_step has said EAGAIN, until
 * vchan_connect_cancel. Owned by the attempt. -1 + EINVAL for NULL. */
VCHAN_API int vchan_connect_fd(const struct vchan_connect *c);

/* Milliseconds after which vchan_connect_step must be called even if the
 * fd stays quiet (a request the store turned away for contention is posted
 * again after a back-off), or -1 when only the fd matters (also for NULL,
 * with EINVAL). */
VCHAN_API int vchan_connect_timeout(const struct vchan_connect *c);

/* Whether the attempt waits for a listener's answer to its request (1), or
 * for a server that is not there yet (0): a caller that does not want to
 * wait for absent servers gives up on 0 and waits on 1. -1 + EINVAL for
 * NULL. */
VCHAN_API int vchan_connect_requested(const struct vchan_connect *c);

/* Free the attempt, withdrawing a request it posted to a listener. A
 * channel vchan_connect_step returned is not touched. Returns 0 (also for
 * NULL); errno is left as it was. */
VCHAN_API int vchan_connect_cancel(struct vchan_connect *c);

/* ---- A listener: one port, many client domains ---- */

/* A server that offers a port to many clients at once. */
struct vchan_listener;

/* Most domains an allow-list may name. */
#define VCHAN_LISTEN_ALLOW_MAX 63u

/* Offer port name `port` to any number of clients, each on a channel of
 * its own with rings of at least `read_min` and `write_min` bytes (as
 * vchan_server_create). `allow` lists the client domains permitted
 * (n_allow of them, 1..VCHAN_LISTEN_ALLOW_MAX); NULL with n_allow 0 lets
 * any domain connect. XenStore's permissions enforce the choice.
 * Clients call vchan_client_connect_port(<this domain>, port, ...) or
 * vchan_connect_start, as for a plain server: they ask for a channel
 * under the listener's directory and it makes one for them. For each
 * domain of an allow-list a plain offer also waits at the usual path
 * (vchan_path(<this domain>, domain, port)), so that clients which know
 * nothing of listeners (libxenvchan's) connect as to a plain server.
 * The wire format is in docs/vchan-wire.md ("Listener").
 * Returns a handle (vchan_listener_close) or NULL + errno: EINVAL a bad
 * port name or allow-list, EADDRINUSE a live listener has this port (or a
 * live plain server the usual path of an allowed domain), or an error of
 * the grant, event or XenStore layer. */
VCHAN_API struct vchan_listener *vchan_listen(const char *port,
					     const uint32_t *allow,
					     size_t n_allow, size_t read_min,
					     size_t write_min);

/* Take the next client that has connected, waiting up to `timeout_ms`
 * (-1: forever, 0: not at all). *peer (when peer is not NULL) gets the
 * client's domain. The channel is the caller's (vchan_close), in blocking
 * mode. Also serves new requests and withdraws offers that nobody took
 * within a few seconds (a client that died; a live one asks again), so
 * call it whenever vchan_listener_fd is readable. Returns the channel or
 * NULL + errno: EAGAIN nobody has connected (timeout_ms 0) or ETIMEDOUT
 * (in time), EINTR, EINVAL l is NULL, or an error of the layers below.
 * A request that cannot be served (the channel could not be made) is
 * dropped, and its client asks again. */
VCHAN_API struct vchan *vchan_accept(struct vchan_listener *l,
				     uint32_t *peer, int timeout_ms);

/* Readable when vchan_accept has something to do. Owned by the listener.
 * -1 + EINVAL for NULL. */
VCHAN_API int vchan_listener_fd(const struct vchan_listener *l);

/* Stop listening: the offer and every channel not yet accepted are
 * withdrawn (accepted channels are the caller's and stay open). The
 * handle is always freed. Returns 0 (also for NULL) or -1 + errno when
 * removing something from XenStore failed. */
VCHAN_API int vchan_listener_close(struct vchan_listener *l);

/* Close the channel and free the handle. The peer is told at once and can
 * still read everything written before. A server also removes its
 * XenStore path. The handle is always freed. Returns 0 (also for NULL), or
 * -1 + errno when releasing something failed (the XenStore path, a page
 * or the event channel: the error of the first that failed). */
VCHAN_API int vchan_close(struct vchan *ch);

/* Stream read: copy up to `len` bytes. Blocking mode waits until at least
 * one byte is there. Returns the bytes read, 0 when none are ready
 * (non-blocking) or len is 0, -1 + errno: EPIPE the peer closed and every
 * byte it wrote has been read (end of stream), EPROTO. */
VCHAN_API ssize_t vchan_read(struct vchan *ch, void *buf, size_t len);

/* Stream write. Blocking mode writes all `len` bytes, waiting for room;
 * non-blocking mode writes what fits. Returns the bytes written (possibly
 * fewer than len; 0 when the ring is full and non-blocking), -1 + errno:
 * EPIPE the peer has closed (no byte written by this call), EPROTO. */
VCHAN_API ssize_t vchan_write(struct vchan *ch, const void *buf, size_t len);

/* vchan_read / vchan_write on a list of buffers (iovcnt 0..IOV_MAX). */
VCHAN_API ssize_t vchan_readv(struct vchan *ch, const struct iovec *iov,
			      int iovcnt);
VCHAN_API ssize_t vchan_writev(struct vchan *ch, const struct iovec *iov,
			       int iovcnt);

/* Packet receive: all `len` bytes or none. Blocking mode waits until len
 * bytes are ready. Returns len, 0 when fewer are ready (non-blocking), -1
 * + errno: EMSGSIZE len exceeds the read ring, EPIPE the peer closed with
 * fewer than len bytes left, EPROTO. */
VCHAN_API ssize_t vchan_recv(struct vchan *ch, void *buf, size_t len);

/* Packet send: all `len` bytes or none. Blocking mode waits for room.
 * Returns len, 0 when it does not fit now (non-blocking), -1 + errno:
 * EMSGSIZE len exceeds the write ring, EPIPE, EPROTO. */
VCHAN_API ssize_t vchan_send(struct vchan *ch, const void *buf, size_t len);

/* Zero copy, write side: reserve `len` bytes (1..write ring size) of the
 * write ring, waiting for room in blocking mode. The space is described by
 * seg[0] and, where the ring wraps, seg[1]; the memory belongs to the ring
 * and is valid until vchan_commit or any other write call. Returns the
 * number of segments (1 or 2), 0 when there is no room (non-blocking), -1
 * + errno: EMSGSIZE, EPIPE, EPROTO. */
VCHAN_API int vchan_reserve(struct vchan *ch, size_t len, struct iovec seg[2]);

/* Publish the first `len` bytes of the reservation (len may be less than
 * reserved; the rest is dropped). Returns 0 or -1 + errno: EINVAL len
 * exceeds the reservation, EPROTO. */
VCHAN_API int vchan_commit(struct vchan *ch, size_t len);

/* Zero copy, read side: describe the bytes ready to read, waiting in
 * blocking mode until at least `min` (1..read ring size) are. Returns the
 * number of segments (1 or 2, total length = bytes ready), 0 when fewer
 * than min are ready (non-blocking), -1 + errno: EMSGSIZE, EPIPE (closed
 * with fewer than min left), EPROTO. The bytes stay in shared memory that
 * a hostile peer may still change: copy before validating. */
VCHAN_API int vchan_peek(struct vchan *ch, size_t min, struct iovec seg[2]);

/* Release `len` bytes from the front (at most what vchan_peek described).
 * Returns 0 or -1 + errno: EINVAL, EPROTO. */
VCHAN_API int vchan_consume(struct vchan *ch, size_t len);

/* Bytes ready to read now, or -1 + EPROTO. Also asks the peer for an event
 * when more arrive. */
VCHAN_API ssize_t vchan_data_ready(struct vchan *ch);

/* Bytes that can be written now, or -1 + EPROTO. Also asks the peer for
 * an event when it frees space. */
VCHAN_API ssize_t vchan_buffer_space(struct vchan *ch);

/* Sizes of the read and write rings in bytes, or 0 + EINVAL when ch is
 * NULL. */
VCHAN_API size_t vchan_read_size(const struct vchan *ch);
VCHAN_API size_t vchan_write_size(const struct vchan *ch);

/* Wait for something to happen: data to read, room to write after a short
 * write, a peer connecting or leaving. Consumes pending events. Waits up
 * to `timeout_ms` (-1: forever, 0: just consume what is pending), spinning
 * first within the spin budget. Returns 1 when something may have
 * happened, 0 on timeout, -1 + errno (EPROTO, EINTR, or an event layer
 * error). Right after a vchan_spin that returned 1, vchan_wait(ch, 0)
 * makes no system call when the peer cannot have sent an event for what
 * the spin saw: an event sent for anything else stays pending and the fd
 * readable, for the loop's next poll (level-triggered). */
VCHAN_API int vchan_wait(struct vchan *ch, int timeout_ms);

/* For an event loop, just before it would sleep on vchan_fd: spin on the
 * shared indexes, within the spin budget (vchan_set_spin) and only as long
 * as the peer's recent answers make worthwhile, until the peer writes data,
 * frees space a short write waits for, or changes the channel's state.
 * Never sleeps and consumes no event. While it spins, the peer is not
 * asked for events (so an answer caught here costs the peer no system
 * call); when it gives up, the requests that were pending are made again,
 * so the fd still becomes readable for whatever the loop sleeps on.
 * Returns 1 when something changed (go and read or write now instead of
 * sleeping), 0 when nothing did or spinning does not pay, -1 + errno:
 * EPROTO the channel is poisoned (go and read: the read says so too),
 * EINVAL ch is NULL. */
VCHAN_API int vchan_spin(struct vchan *ch);

/* Spin first: the caller's event loop promises to call vchan_spin or
 * vchan_ask on this channel every time before it polls vchan_fd. Then a
 * non-blocking call that returns 0 or a short count, and vchan_wait(ch,
 * 0), ask the peer for no event: vchan_spin asks once, when it gives up,
 * and a peer whose answer the spin catches sends no event for it (a
 * system call on each side saved). Blocking calls and waits ask as
 * always. Off by default: a loop that polls without calling either would
 * sleep through what it waits for. Returns 0, or -1 + EINVAL (ch NULL). */
VCHAN_API int vchan_set_spin_first(struct vchan *ch, int on);

/* Ask the peer for an event on what the channel waits for (data; space,
 * after a short write), without spinning, then look once more: for a
 * spin-first loop about to poll when it expects nothing soon. Returns 1
 * when the peer moved already (read or write now), 0 (poll the fd), -1 +
 * errno: EPROTO the channel is poisoned, EINVAL ch is NULL. */
VCHAN_API int vchan_ask(struct vchan *ch);

/* The channel's pollable file descriptor: readable when an event is
 * pending. Owned by the handle: do not read or close it. For an event loop
 * (non-blocking mode): a call that returns 0 or a short count has asked the
 * peer for the event it needs (in spin-first mode, vchan_spin or vchan_ask
 * asks instead, before the poll); when the fd polls readable, call
 * vchan_wait(ch, 0) to consume the events, then retry the calls. Nothing
 * else consumes events in non-blocking mode, so none is lost between a
 * read and a write. */
VCHAN_API int vchan_fd(const struct vchan *ch);

/* The peer's state: VCHAN_WAITING, VCHAN_CONNECTED or VCHAN_CLOSED, or -1
 * + EPROTO when the channel is poisoned. Does not consume events: a peer's
 * sudden death (its live byte cleared and an event sent for it) may only
 * show after vchan_wait or a blocking call has consumed that event. In a
 * unikernel, where nothing tells of a peer domain that was destroyed, it
 * also asks Xen whether the peer's end of the event channel is still
 * there (one hypercall), and says VCHAN_CLOSED when it is not. */
VCHAN_API int vchan_is_open(struct vchan *ch);

/* Blocking (non-zero, the default) or non-blocking (0) data calls.
 * Returns 0, or -1 + EINVAL when ch is NULL. */
VCHAN_API int vchan_set_blocking(struct vchan *ch, int blocking);

/* Spin up to `usec` microseconds on the shared indexes before sleeping on
 * the event channel (0: never spin). Spinning avoids a kernel wake-up, which
 * costs tens of microseconds, when the peer answers quickly; the peer still
 * gets every event it asks for. Within this budget the handle spins only
 * as long as the peer's recent answers suggest is worth it, and not at all
 * while the peer takes longer than the budget (so a slow or descheduled
 * peer does not cost a spinning CPU). After its first microseconds a spin
 * offers the CPU to other runnable tasks (sched_yield) every few
 * microseconds, so a peer sharing the CPU is not starved. A budget below
 * the cost of a wake-up keeps a ping-pong pair sleeping: each side then
 * waits a wake-up for the other. Spinning or not, a blocking call offers
 * the CPU once (one sched_yield, no spinning) and looks again before each
 * sleep. On a busy host, where a spin or that offer loses the CPU to
 * another task while the peer does not move, the handle stops both for a
 * while (a multiple of the time lost, doubling while the host stays busy,
 * at most a second) and only sleeps, then tries again. The default is
 * VCHAN_SPIN_DEFAULT_US.
 * Returns 0, or -1 + EINVAL when ch is NULL. */
VCHAN_API int vchan_set_spin(struct vchan *ch, unsigned usec);

#define VCHAN_SPIN_DEFAULT_US 200u

#ifdef __cplusplus
}
#endif

#endif
