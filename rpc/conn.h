/* rpc/conn.h - one connection of the rpc runtime (internal): addresses,
 * the byte transport (vchan, or a socket through sock.h), buffering and
 * framing.
 *
 * Frames are those of docs/rpc-wire.md. This module knows nothing of
 * loops, calls or services: client.c and server.c drive it from their
 * watchers (loop.h). */
#ifndef VCHAN_RPC_CONN_H
#define VCHAN_RPC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define VCHAN_RPC_WIRE_VERSION 1
#define VCHAN_RPC_HDR_SIZE     20
#define VCHAN_RPC_KIND_REQUEST 1
#define VCHAN_RPC_KIND_REPLY   2

#include "vchan/vchan.h"

struct vchan;
struct rpc_tls_ctx;
struct rpc_codec_prep;
struct rpc_codec_plan;

enum vchan_rpc_addr_kind {
	VCHAN_RPC_ADDR_VCHAN,
	VCHAN_RPC_ADDR_UNIX,
	VCHAN_RPC_ADDR_TCP,
	VCHAN_RPC_ADDR_TLS /* host and service as TCP's */
};

struct vchan_rpc_addr {
	enum vchan_rpc_addr_kind kind;
	uint32_t domid;	  /* vchan: the peer domain, when given by id */
	char domain[256]; /* vchan: the peer domain's name; "": by id */
	/* vchan server: "*" (any) or a list of ids "1,2,3": many client
	 * domains through a listener (vchan_listen); nallow 0 with many
	 * set: any domain. */
	int many;
	size_t nallow;
	uint32_t allow[VCHAN_LISTEN_ALLOW_MAX];
	char name[108];	  /* vchan: port name; unix: socket path */
	char host[256];	  /* tcp, tls */
	char service[16]; /* tcp, tls: port number */
};

/* Parse "vchan:DOMAIN/PORT" (DOMAIN: an id, a domain's name, "*" or a
 * comma-separated list of ids; the last two only for a server),
 * "unix:PATH", "tcp:HOST:PORT" or "tls:HOST:PORT". Returns 0 or -1 +
 * EINVAL. */
int vchan_rpc_addr_parse(const char *s, struct vchan_rpc_addr *a);

/* A vchan address's peer domain id: the id given, or the named domain's
 * id now (vchan_domid_lookup). Returns it or -1 + errno (ENOENT no domain
 * has that name yet, EACCES this domain may not look names up). */
int vchan_rpc_addr_domid(const struct vchan_rpc_addr *a);

struct vchan_rpc_hdr {
	uint8_t version;
	uint8_t kind;
	uint16_t status; /* reply: its status; request: its deadline */
	uint32_t id;
	uint32_t service;
	uint32_t method;
	uint32_t len;
};

/* FNV-1a (32 bits) of a NUL-terminated name: the wire's service and
 * method identifiers. */
uint32_t vchan_rpc_name_hash(const char *name);

/* A request's deadline as its `status` field carries it: m << e ms with
 * e in the top 4 bits and m in the low 12; m = 0: none. Encoding rounds
 * down (the server never thinks it has more time than the client gave)
 * and keeps deadlines beyond the largest (about 37 hours) at that. */
uint16_t vchan_rpc_deadline_encode(int64_t ms);
/* The deadline in ms, or -1 for none. */
int64_t vchan_rpc_deadline_decode(uint16_t v);

/* 1 when a server may send `status` in a failed reply, else 0 (VCHAN_RPC_OK and
 * the statuses only a client sets). */
int vchan_rpc_status_sendable(int status);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t vchan_rpc_now_ns(void);

struct vchan_rpc_conn;

/* Client side: open a connection to `a`. For vchan, waits up to
 * timeout_ms for the server's keys (0: not at all). For sockets the
 * connect is non-blocking: *pending is set to 1 while it goes on (finish
 * it with vchan_rpc_conn_connected when the fd is writable). Returns the
 * connection or NULL + errno. */
struct vchan_rpc_conn *vchan_rpc_conn_open(const struct vchan_rpc_addr *a,
					   int timeout_ms, size_t max_message,
					   int *pending);

/* vchan_rpc_conn_open's timeout for a vchan connect that does not block:
 * the connection is returned pending (a listener answers later); drive it
 * with vchan_rpc_conn_step when its fd polls readable. */
#define VCHAN_RPC_CONN_ASYNC (-2)
/* The same, and pending too while the server is not there at all. */
#define VCHAN_RPC_CONN_ASYNC_WAIT (-3)

/* A connection without a transport yet: calls queue on it until
 * vchan_rpc_conn_adopt hands its bytes to a real one. Its fd is -1. */
struct vchan_rpc_conn *vchan_rpc_conn_idle(size_t max_message);

/* Move the bytes queued on `from` (an idle connection) to `to`, which has
 * sent and queued nothing yet. */
void vchan_rpc_conn_adopt(struct vchan_rpc_conn *to,
			  struct vchan_rpc_conn *from);

/* A pending vchan connect: look again. Returns 1 connected (the fd has
 * changed: watch vchan_rpc_conn_fd anew), 0 still pending, -1 + errno
 * failed. 1 at once for a connection that is not pending. */
int vchan_rpc_conn_step(struct vchan_rpc_conn *c);

/* Wrap an accepted socket or a vchan (ownership moves to the connection;
 * on failure the fd or vchan is closed). */
struct vchan_rpc_conn *vchan_rpc_conn_from_fd(int fd, size_t max_message);
struct vchan_rpc_conn *vchan_rpc_conn_from_vchan(struct vchan *vc,
						 size_t max_message);

/* Run TLS with the settings `x` over the socket of `c` (a tls: address;
 * a client gives the server's HOST, a server NULL). The handshake runs
 * with the reads and writes that follow. Returns 0 or -1 + errno (ENOMEM;
 * `c` is left as it was). */
int vchan_rpc_conn_start_tls(struct vchan_rpc_conn *c, struct rpc_tls_ctx *x,
			     const char *host);

/* A socket connect in progress finished: 0 connected or -1 + errno. */
int vchan_rpc_conn_connected(struct vchan_rpc_conn *c);

/* Wait up to timeout_ms (-1: for ever) for a socket connect in progress
 * to finish, and for a TLS handshake: 0 connected or -1 + errno
 * (ETIMEDOUT: out of time; a failed handshake's, see rpc/tls.h). */
int vchan_rpc_conn_wait_connected(struct vchan_rpc_conn *c, int timeout_ms);

void vchan_rpc_conn_free(struct vchan_rpc_conn *c);

/* The fd to watch for reading (and, when vchan_rpc_conn_is_socket, writing). */
int vchan_rpc_conn_fd(const struct vchan_rpc_conn *c);
int vchan_rpc_conn_is_socket(const struct vchan_rpc_conn *c);

/* vchan: 1 when the peer has gone (vchan_is_open says closed: in a
 * unikernel, also a peer domain that was destroyed), else 0. */
int vchan_rpc_conn_peer_gone(struct vchan_rpc_conn *c);

/* vchan: 1 while its server still waits for the client. */
int vchan_rpc_conn_waiting(struct vchan_rpc_conn *c);

/* The fd polled readable: consume the vchan's pending events. */
void vchan_rpc_conn_events(struct vchan_rpc_conn *c);

/* Read what is there into the input buffer. Returns 1 when the buffer
 * filled up (call again after taking frames), 0 when everything was read,
 * the stream has ended (see vchan_rpc_conn_eof) or the peer has gone (see
 * vchan_rpc_conn_dead). */
int vchan_rpc_conn_fill(struct vchan_rpc_conn *c);

/* 1 once the peer's stream has ended (a socket's EOF, a vchan closed and
 * drained): nothing more will come, but the frames in the buffer are
 * still to be taken, and the connection can still be written (a socket
 * peer may have shut down only its writing side). Else 0. */
int vchan_rpc_conn_eof(const struct vchan_rpc_conn *c);

/* Take the next whole frame. Returns 1 with *h and *body (valid until the
 * next fill or next call; NULL when the body exceeded max_message and is
 * being skipped), 0 when more bytes are needed, -1 when the frame breaks
 * the wire format (the connection is then dead, status
 * VCHAN_RPC_PROTOCOL_ERROR). */
int vchan_rpc_conn_next(struct vchan_rpc_conn *c, struct vchan_rpc_hdr *h,
			const uint8_t **body);

/* Append a frame with the message measured in `msg` (rpc/codec.h; NULL:
 * empty body) packed as its body; h->len is set here. Returns 0 or -1 +
 * ENOMEM. */
int vchan_rpc_conn_queue(struct vchan_rpc_conn *c, struct vchan_rpc_hdr *h,
			 const struct rpc_codec_prep *msg);

/* Append a frame whose body is `len` bytes at `body`; h->len is set here.
 * Returns 0 or -1 + ENOMEM. */
int vchan_rpc_conn_queue_bytes(struct vchan_rpc_conn *c,
			       struct vchan_rpc_hdr *h, const void *body,
			       size_t len);

/* 1 when a socket's writability is to be watched: frames are queued
 * (and no TLS handshake holds them back), or TLS waits for the socket to
 * take bytes (a handshake's, maybe with nothing queued); else 0. */
int vchan_rpc_conn_want_write(const struct vchan_rpc_conn *c);

/* Why the connection failed, for people: a TLS handshake's failure, else
 * "". */
const char *vchan_rpc_conn_why(const struct vchan_rpc_conn *c);

/* Bytes waiting to be written. */
size_t vchan_rpc_conn_queued(const struct vchan_rpc_conn *c);

/* Write what can be written. Returns 0 (vchan_rpc_conn_queued tells what is
 * left); a write error marks the connection dead. */
int vchan_rpc_conn_flush(struct vchan_rpc_conn *c);

/* 0 while alive, else the vchan_rpc_status it ended with (VCHAN_RPC_PEER_GONE
 * or VCHAN_RPC_PROTOCOL_ERROR). */
int vchan_rpc_conn_dead(const struct vchan_rpc_conn *c);

/* The caller's loop calls vchan_rpc_conn_spin before every sleep from now
 * on: a vchan (now, or once connected) leaves asking its peer for events
 * to that call (vchan_set_spin_first). */
void vchan_rpc_conn_spin_first(struct vchan_rpc_conn *c);

/* Before the loop sleeps: for a vchan, spin briefly for the peer when
 * `spin` (vchan_spin), else only ask it for events (vchan_ask). Returns 1
 * when there is something to read or room to write now, else 0 (always 0
 * for a socket). */
int vchan_rpc_conn_spin(struct vchan_rpc_conn *c, int spin);

/* Mark the connection dead with `status` (first one wins). */
void vchan_rpc_conn_kill(struct vchan_rpc_conn *c, int status);

/* Bytes a vchan_rpc_arena holds in itself: a small message (a struct, a
 * string, a few dozen bytes of payload) fits; what does not goes to
 * malloc. */
#define VCHAN_RPC_ARENA_SIZE 512

/* Memory for one unpacked message that the runtime owns from start to
 * end (a server's request, a reply its callback does not keep): unpacking
 * takes it from the arena instead of a malloc per field, and freeing
 * walks the message only when some of it had to go to malloc. A message
 * unpacked here is freed with vchan_rpc_arena_free, never with
 * protobuf_c_message_free_unpacked(m, NULL). */
struct vchan_rpc_arena {
	ProtobufCAllocator a;
	size_t used;
	unsigned spilled; /* allocations that went to malloc */
	union {
		max_align_t align;
		uint8_t b[VCHAN_RPC_ARENA_SIZE];
	} buf;
};

/* Unpack a `d` into a fresh start of `ar`, by the plan `pl` (rpc/codec.h;
 * NULL: none) when it can, else by protobuf-c: the message or NULL (it
 * does not decode, or out of memory). */
ProtobufCMessage *vchan_rpc_arena_unpack(struct vchan_rpc_arena *ar,
					 const struct rpc_codec_plan *pl,
					 const ProtobufCMessageDescriptor *d,
					 size_t len, const uint8_t *data);

/* Free `m` (NULL: nothing), unpacked by vchan_rpc_arena_unpack from `ar`. */
void vchan_rpc_arena_free(struct vchan_rpc_arena *ar, ProtobufCMessage *m);

#endif
