/* rpc/client.c - the client: a handle holding a ProtobufCService whose
 * invoke sends the call over a connection and whose closures run when the
 * reply, an error or the deadline comes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/codec.h"
#include "rpc/conn.h"
#include "rpc/loop.h"
#include "rpc/rpc.h"
#include "rpc/tls.h"

#define MAX_SLOTS 65535u
/* Ended calls kept for the next ones, so that a call costs no allocation:
 * as many as a busy caller keeps in flight, not a burst's worth for good. */
#define SPARE_CALLS 64

struct vchan_rpc_client;
struct sync_result;

struct call {
	struct vchan_rpc_client *cli;
	uint32_t id;
	unsigned method;
	enum vchan_rpc_status status; /* of a call ended before it was sent */
	int steal;		      /* the callback keeps the reply */
	int timed;		      /* its slot's timer is its deadline */
	ProtobufCClosure closure;
	void *closure_data;
	vchan_rpc_done_fn *done;
	void *data;
	struct call *next; /* in the list of calls to end */
};

struct vchan_rpc_client {
	ProtobufCService base; /* first: the client is the service */
	struct rpc_loop *loop;
	struct vchan_rpc_addr addr;
	struct vchan_rpc_options opt;
	uint32_t svc_hash;
	uint32_t *method_hash;
	struct rpc_codec_plan **plans; /* rpc_codec_plans_new */
	struct vchan_rpc_conn *conn;
	struct rpc_tls_ctx *tls; /* of a tls: address */
	int connecting;		 /* a socket connect is in progress */
	/* wait_for_server: conn is an idle one (calls queue on it) while
	 * `retry` tries to connect, every `backoff` s */
	int idle;
	struct rpc_timer *retry;
	double backoff;
	struct rpc_io *rio, *wio; /* of the connection */
	struct rpc_hook *spin;	/* a vchan: spin for replies before sleeping */
	struct rpc_timer *kick; /* ends the calls that were never sent */
	/* Calls in flight by slot; a call's id is generation << 16 | slot,
	 * so a late reply to a slot's earlier call is told apart. */
	struct call **slots;
	/* The deadline of each slot's call. Made on a slot's first use and
	 * kept: a call costs no timer allocation. */
	struct rpc_timer **timers;
	uint16_t *gen;
	uint32_t *free_slots;
	unsigned nfree;
	struct call *ended, *ended_tail;
	struct call *spare; /* ended calls, linked by next */
	unsigned nspare;
	enum vchan_rpc_status last;
	char last_msg[VCHAN_RPC_MESSAGE_MAX + 1]; /* the server's message */
	struct sync_result
	    *sync;   /* vchan_rpc_call_sync on the stack, innermost */
	int depth;   /* callbacks of ours on the stack */
	int freeing; /* vchan_rpc_client_free was called from one of them */
};

static const char *const status_names[] = {
    "ok",
    "unknown service",
    "unknown method",
    "malformed message",
    "handler failed",
    "deadline exceeded",
    "too large",
    "peer gone",
    "queue full",
    "protocol error",
    "cancelled",
    "invalid argument",
};

const char *vchan_rpc_status_str(enum vchan_rpc_status status)
{
	if ((unsigned)status < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[status];
	return "unknown status";
}

void vchan_rpc_options_init(struct vchan_rpc_options *o)
{
	o->max_message = 4u << 20;
	o->max_in_flight = 1024;
	o->max_queued = 8u << 20;
	o->timeout_ms = 10000;
	o->wait_for_server = 0;
	o->insecure_tcp = 0;
}

static void client_invoke(ProtobufCService *svc, unsigned method,
			  const ProtobufCMessage *req, ProtobufCClosure closure,
			  void *closure_data);

/* The client whose service `s` is, or NULL when `s` is no client's. */
static struct vchan_rpc_client *cli_of(ProtobufCService *s)
{
	if (s == NULL || s->invoke != client_invoke)
		return NULL;
	return (struct vchan_rpc_client *)s; /* base is the first member */
}

static void destroy(struct vchan_rpc_client *c);

/* Every callback of ours starts with enter and ends with leave: a client
 * freed by a closure meanwhile is destroyed once nothing of it is on the
 * stack. Returns 1 when the client is gone. */
static void enter(struct vchan_rpc_client *c)
{
	c->depth++;
}

static int leave(struct vchan_rpc_client *c)
{
	if (--c->depth == 0 && c->freeing) {
		destroy(c);
		return 1;
	}
	return 0;
}

/* A zeroed call, or NULL + ENOMEM. */
static struct call *new_call(struct vchan_rpc_client *c)
{
	struct call *k = c->spare;

	if (k == NULL)
		return calloc(1, sizeof(*k));
	c->spare = k->next;
	c->nspare--;
	memset(k, 0, sizeof(*k));
	return k;
}

static void free_call(struct vchan_rpc_client *c, struct call *k)
{
	if (c->nspare >= SPARE_CALLS) {
		free(k);
		return;
	}
	k->next = c->spare;
	c->spare = k;
	c->nspare++;
}

/* Free a reply: unpacked from `ar`, or with the default allocator when
 * `ar` is NULL. */
static void free_reply(ProtobufCMessage *reply, struct vchan_rpc_arena *ar)
{
	if (ar != NULL)
		vchan_rpc_arena_free(ar, reply);
	else
		protobuf_c_message_free_unpacked(reply, NULL);
}

/* Run the callback of an ended call and free it. `msg` is the server's
 * message (NULL: none). `reply` was unpacked from `ar`, or, when `ar` is
 * NULL (always so for a call whose callback keeps it), with the default
 * allocator. */
static void deliver(struct call *k, enum vchan_rpc_status st,
		    ProtobufCMessage *reply, struct vchan_rpc_arena *ar,
		    const char *msg)
{
	struct vchan_rpc_client *c = k->cli;

	c->last = st;
	/* Callers pass VCHAN_RPC_MESSAGE_MAX + 1 byte buffers: it fits. */
	if (msg != NULL && *msg != '\0')
		memcpy(c->last_msg, msg, strlen(msg) + 1);
	else
		c->last_msg[0] = '\0';
	if (st != VCHAN_RPC_OK && reply != NULL) {
		free_reply(reply, ar);
		reply = NULL;
	}
	enter(c);
	if (k->done != NULL)
		k->done(st, reply, k->data);
	else
		k->closure(reply, k->closure_data);
	c->depth--; /* the caller of deliver holds its own depth */
	if (reply != NULL && !k->steal)
		free_reply(reply, ar);
	free_call(c, k);
}

static void take_slot(struct vchan_rpc_client *c, struct call *k)
{
	uint32_t s = c->free_slots[--c->nfree];

	c->gen[s]++;
	k->id = (uint32_t)c->gen[s] << 16 | s;
	c->slots[s] = k;
}

static void drop_slot(struct vchan_rpc_client *c, struct call *k)
{
	uint32_t s = k->id & 0xffff;

	/* The slot's timer keeps running: the slot's next call moves it
	 * (one adjustment of the loop's timers where a stop and a start
	 * cost two), and, if none comes first, it fires for nobody. */
	c->slots[s] = NULL;
	c->free_slots[c->nfree++] = s;
}

static size_t in_flight(const struct vchan_rpc_client *c)
{
	return c->opt.max_in_flight - c->nfree;
}

/* End a call that was never sent, from the next loop iteration. */
static void end_later(struct vchan_rpc_client *c, struct call *k,
		      enum vchan_rpc_status st)
{
	k->status = st;
	k->next = NULL;
	if (c->ended_tail != NULL)
		c->ended_tail->next = k;
	else
		c->ended = k;
	c->ended_tail = k;
	if (!rpc_timer_armed(c->kick))
		rpc_timer_arm(c->kick, 0.);
}

/* Detach every call in flight, in slot order, as a list, and stop the
 * slots' timers: none has a call to end now. */
static struct call *detach_all(struct vchan_rpc_client *c)
{
	struct call *head = NULL, **tail = &head;

	for (unsigned s = 0; s < c->opt.max_in_flight; s++) {
		struct call *k = c->slots[s];

		if (c->timers[s] != NULL)
			rpc_timer_stop(c->timers[s]);
		if (k == NULL)
			continue;
		drop_slot(c, k);
		k->next = NULL;
		*tail = k;
		tail = &k->next;
	}
	return head;
}

static void deliver_list(struct call *k, enum vchan_rpc_status st,
			 const char *msg)
{
	while (k != NULL) {
		struct call *next = k->next;

		deliver(k, st, NULL, NULL, msg);
		k = next;
	}
}

/* The connection ended: close it, then end the calls it carried. */
static void drop_conn(struct vchan_rpc_client *c, enum vchan_rpc_status st)
{
	char why[VCHAN_RPC_MESSAGE_MAX + 1];

	if (c->conn == NULL)
		return;
	rpc_io_free(c->rio);
	rpc_io_free(c->wio);
	c->rio = c->wio = NULL;
	rpc_hook_stop(c->spin);
	/* The calls are told why a TLS connection failed. */
	snprintf(why, sizeof(why), "%s", vchan_rpc_conn_why(c->conn));
	vchan_rpc_conn_free(c->conn);
	c->conn = NULL;
	c->connecting = 0;
	c->idle = 0;
	rpc_timer_stop(c->retry);
	deliver_list(detach_all(c), st, why);
}

/* Watch for writability while a socket has bytes queued or a connect is
 * in progress (a vchan's one fd covers both directions). */
static void update_wio(struct vchan_rpc_client *c)
{
	int want;

	if (c->conn == NULL || !vchan_rpc_conn_is_socket(c->conn))
		return;
	want = c->connecting || vchan_rpc_conn_want_write(c->conn);
	rpc_io_want(c->wio, want ? RPC_WRITE : 0);
}

static void flush(struct vchan_rpc_client *c)
{
	if (c->conn == NULL || c->connecting)
		return;
	vchan_rpc_conn_flush(c->conn);
	update_wio(c);
	/* A write error is handled where the connection is read, never
	 * under the caller of a stub. */
	if (vchan_rpc_conn_dead(c->conn) && !rpc_timer_armed(c->kick))
		rpc_timer_arm(c->kick, 0.);
}

/* Copy the message of a failed reply into `out` (VCHAN_RPC_MESSAGE_MAX + 1
 * bytes) as text that is safe to print: the peer may send anything. */
static void take_message(char *out, const uint8_t *body, size_t len)
{
	size_t n = len < VCHAN_RPC_MESSAGE_MAX ? len : VCHAN_RPC_MESSAGE_MAX;

	if (body == NULL)
		n = 0;
	for (size_t i = 0; i < n; i++)
		out[i] =
		    body[i] < 0x20 || body[i] == 0x7f ? '?' : (char)body[i];
	out[n] = '\0';
}

static void handle_reply(struct vchan_rpc_client *c,
			 const struct vchan_rpc_hdr *h, const uint8_t *body)
{
	uint32_t s = h->id & 0xffff;
	struct call *k;
	enum vchan_rpc_status st;
	ProtobufCMessage *reply = NULL;
	const ProtobufCMethodDescriptor *m;
	const struct rpc_codec_plan *plan;
	char msg[VCHAN_RPC_MESSAGE_MAX + 1];
	/* A reply that is freed when its callback returns needs no malloc:
	 * it lives here, on the stack of the callback's caller. One the
	 * callback keeps (`steal`) must be freeable with the default
	 * allocator. */
	struct vchan_rpc_arena arena, *ar = NULL;

	if (h->kind != VCHAN_RPC_KIND_REPLY) {
		vchan_rpc_conn_kill(c->conn, VCHAN_RPC_PROTOCOL_ERROR);
		return;
	}
	if (s >= c->opt.max_in_flight || c->slots[s] == NULL ||
	    c->slots[s]->id != h->id)
		return; /* a late reply to a call that has ended */
	k = c->slots[s];
	if (h->service != c->svc_hash ||
	    h->method != c->method_hash[k->method]) {
		vchan_rpc_conn_kill(c->conn, VCHAN_RPC_PROTOCOL_ERROR);
		return;
	}
	m = &c->base.descriptor->methods[k->method];
	plan = c->plans[2 * k->method + 1];
	st = (enum vchan_rpc_status)h->status;
	msg[0] = '\0';
	if (st == VCHAN_RPC_OK) {
		if (!k->steal)
			ar = &arena;
		if (body == NULL)
			st = VCHAN_RPC_TOO_LARGE;
		else if ((reply = ar != NULL
				      ? vchan_rpc_arena_unpack(
					    ar, plan, m->output, h->len, body)
				      : rpc_codec_unpack(plan, m->output, NULL,
							 h->len, body)) == NULL)
			st = VCHAN_RPC_MALFORMED;
	} else if (!vchan_rpc_status_sendable(h->status)) {
		/* Unknown, or one only a client sets ("peer gone" from a
		 * live peer): not to be passed on as if it were true. */
		st = VCHAN_RPC_PROTOCOL_ERROR;
	} else {
		take_message(msg, body, h->len);
	}
	drop_slot(c, k);
	deliver(k, st, reply, ar, msg);
}

static void rio_cb(void *arg, int events);
static void wio_cb(void *arg, int events);

/* The pending vchan connect finished: watch the channel's fd instead of
 * the store's, and send the calls queued meanwhile. */
static void connected_vchan(struct vchan_rpc_client *c)
{
	int fd = vchan_rpc_conn_fd(c->conn);

	c->connecting = 0;
	rpc_io_free(c->rio);
	rpc_io_free(c->wio);
	c->rio = rpc_io_new(c->loop, fd, rio_cb, c);
	c->wio = rpc_io_new(c->loop, fd, wio_cb, c);
	if (c->rio == NULL || c->wio == NULL) {
		drop_conn(c, VCHAN_RPC_PEER_GONE);
		return;
	}
	rpc_io_want(c->rio, RPC_READ);
	flush(c);
}

static void rio_cb(void *arg, int events)
{
	struct vchan_rpc_client *c = arg;
	struct vchan_rpc_hdr h;
	const uint8_t *body;
	int more = 1;

	(void)events;
	enter(c);
	if (c->connecting && !vchan_rpc_conn_is_socket(c->conn)) {
		/* A vchan connect in progress: its store watch fired. */
		int r = vchan_rpc_conn_step(c->conn);

		if (r < 0)
			drop_conn(c, VCHAN_RPC_PEER_GONE);
		else if (r > 0)
			connected_vchan(c);
		leave(c);
		return;
	}
	vchan_rpc_conn_events(c->conn);
	while (more && c->conn != NULL && !c->freeing) {
		int r;

		more = vchan_rpc_conn_fill(c->conn);
		/* Each reply is decoded before its closure runs: a closure
		 * may run the loop again and move the buffer. */
		while (c->conn != NULL && !c->freeing &&
		       (r = vchan_rpc_conn_next(c->conn, &h, &body)) > 0)
			handle_reply(c, &h, body);
		if (c->conn == NULL || vchan_rpc_conn_dead(c->conn))
			break;
	}
	if (c->conn != NULL && !c->freeing) {
		flush(c);
		if (vchan_rpc_conn_dead(c->conn))
			drop_conn(c, (enum vchan_rpc_status)vchan_rpc_conn_dead(
					 c->conn));
		else if (vchan_rpc_conn_eof(c->conn))
			/* The replies that came have been delivered: the
			 * server sends no more. */
			drop_conn(c, VCHAN_RPC_PEER_GONE);
	}
	leave(c);
}

/* The loop is about to sleep. With calls in flight on a vchan, a reply
 * from a quick server comes sooner than a wake-up would: spin for it, and
 * read it now when it comes. With none, only ask for the events that the
 * loop's poll waits for (the connection is spin-first). */
static int spin_cb(void *arg)
{
	struct vchan_rpc_client *c = arg;

	if (c->conn == NULL || !vchan_rpc_conn_spin(c->conn, in_flight(c) != 0))
		return 0;
	rio_cb(c, RPC_READ);
	/* Keep the loop from sleeping now: a caller waiting for what rio_cb
	 * delivered (say vchan_rpc_call_sync, one iteration at a time) must
	 * get control back. rio_cb may have freed the client, and with it
	 * this hook: the adapter copes. */
	return 1;
}

static void wio_cb(void *arg, int events)
{
	struct vchan_rpc_client *c = arg;

	(void)events;
	enter(c);
	if (c->connecting) {
		if (vchan_rpc_conn_connected(c->conn) < 0) {
			drop_conn(c, VCHAN_RPC_PEER_GONE);
			leave(c);
			return;
		}
		c->connecting = 0;
	}
	flush(c);
	if (c->conn != NULL && vchan_rpc_conn_dead(c->conn))
		drop_conn(c,
			  (enum vchan_rpc_status)vchan_rpc_conn_dead(c->conn));
	leave(c);
}

static void kick_cb(void *arg)
{
	struct vchan_rpc_client *c = arg;
	struct call *k = c->ended;

	enter(c);
	c->ended = c->ended_tail = NULL;
	while (k != NULL) {
		struct call *next = k->next;

		deliver(k, k->status, NULL, NULL, NULL);
		k = next;
	}
	if (c->conn != NULL && vchan_rpc_conn_dead(c->conn) && !c->freeing)
		drop_conn(c,
			  (enum vchan_rpc_status)vchan_rpc_conn_dead(c->conn));
	leave(c);
}

/* `arg` is the call's slot in c->slots: the timer is the slot's. It was
 * armed for the deadline of a call that has ended when the slot is free or
 * its call has no deadline (see drop_slot). */
static void deadline_cb(void *arg)
{
	struct call *k = *(struct call **)arg;
	struct vchan_rpc_client *c;

	if (k == NULL || !k->timed)
		return;
	c = k->cli;
	enter(c);
	drop_slot(c, k);
	deliver(k, VCHAN_RPC_DEADLINE_EXCEEDED, NULL, NULL, NULL);
	/* No answer in time: a peer whose domain was destroyed says nothing
	 * (in a unikernel no event comes for it), so ask; the next call then
	 * connects afresh. */
	if (c->conn != NULL && !c->connecting && !c->freeing &&
	    vchan_rpc_conn_peer_gone(c->conn))
		drop_conn(c, VCHAN_RPC_PEER_GONE);
	leave(c);
}

/* Take `conn` as the client's connection. Returns 0, or -1 + ENOMEM
 * (conn is then freed). */
static int attach(struct vchan_rpc_client *c, struct vchan_rpc_conn *conn,
		  int pending)
{
	int fd = vchan_rpc_conn_fd(conn);

	/* Two watchers of the one fd, as the two directions come and go
	 * apart (a vchan's fd covers both, and only rio is used). */
	c->rio = rpc_io_new(c->loop, fd, rio_cb, c);
	c->wio = rpc_io_new(c->loop, fd, wio_cb, c);
	if (c->rio == NULL || c->wio == NULL) {
		rpc_io_free(c->rio);
		rpc_io_free(c->wio);
		c->rio = c->wio = NULL;
		vchan_rpc_conn_free(conn);
		errno = ENOMEM;
		return -1;
	}
	c->conn = conn;
	c->connecting = pending;
	rpc_io_want(c->rio, RPC_READ);
	if (!vchan_rpc_conn_is_socket(conn)) {
		vchan_rpc_conn_spin_first(conn);
		rpc_hook_start(c->spin);
	}
	update_wio(c);
	return 0;
}

/* Open a connection to the client's address: vchan_rpc_conn_open, and
 * TLS over it for a tls: address. */
static struct vchan_rpc_conn *open_conn(struct vchan_rpc_client *c,
					int timeout_ms, int *pending)
{
	struct vchan_rpc_conn *conn;

	if (c->addr.kind == VCHAN_RPC_ADDR_TLS && c->tls == NULL) {
		errno = ENOKEY;
		return NULL;
	}
	conn = vchan_rpc_conn_open(&c->addr, timeout_ms, c->opt.max_message,
				   pending);
	if (conn != NULL && c->addr.kind == VCHAN_RPC_ADDR_TLS &&
	    vchan_rpc_conn_start_tls(conn, c->tls, c->addr.host) < 0) {
		int e = errno;

		vchan_rpc_conn_free(conn);
		errno = e;
		return NULL;
	}
	return conn;
}

/* Open a connection without waiting (the first call, and after a loss). */
static int ensure_conn(struct vchan_rpc_client *c)
{
	struct vchan_rpc_conn *conn;
	int pending, timeout = 0;

	if (c->conn != NULL)
		return 0;
	if (c->addr.kind == VCHAN_RPC_ADDR_VCHAN)
		timeout = c->opt.wait_for_server ? VCHAN_RPC_CONN_ASYNC_WAIT
						 : VCHAN_RPC_CONN_ASYNC;
	conn = open_conn(c, timeout, &pending);
	if (conn == NULL && c->opt.wait_for_server && errno != EINVAL &&
	    errno != ENOKEY) {
		/* Nobody there: the calls wait on an idle connection while
		 * the retry timer looks for the server. */
		conn = vchan_rpc_conn_idle(c->opt.max_message);
		if (conn == NULL)
			return -1;
		c->conn = conn;
		c->connecting = 1;
		c->idle = 1;
		c->backoff = 0.01;
		rpc_timer_arm(c->retry, c->backoff);
		return 0;
	}
	if (conn == NULL)
		return -1;
	return attach(c, conn, pending);
}

/* wait_for_server: try again to connect; the calls queued on the idle
 * connection go to the new one. */
static void retry_cb(void *arg)
{
	struct vchan_rpc_client *c = arg;
	struct vchan_rpc_conn *conn, *idle = c->conn;
	int pending, timeout = 0;

	if (!c->idle)
		return;
	enter(c);
	if (in_flight(c) == 0) {
		/* Every waiting call has ended: stop looking. */
		drop_conn(c, VCHAN_RPC_PEER_GONE);
		leave(c);
		return;
	}
	if (c->addr.kind == VCHAN_RPC_ADDR_VCHAN)
		timeout = VCHAN_RPC_CONN_ASYNC_WAIT;
	conn = open_conn(c, timeout, &pending);
	if (conn == NULL) {
		c->backoff = c->backoff >= 0.5 ? 1.0 : 2 * c->backoff;
		rpc_timer_arm(c->retry, c->backoff);
		leave(c);
		return;
	}
	vchan_rpc_conn_adopt(conn, idle);
	c->conn = NULL;
	c->idle = 0;
	vchan_rpc_conn_free(idle);
	if (attach(c, conn, pending) < 0)
		deliver_list(detach_all(c), VCHAN_RPC_PEER_GONE, NULL);
	else
		flush(c); /* the calls that waited */
	leave(c);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vchan_rpc_client_connect(struct vchan_rpc_client *c, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (c->conn != NULL && !c->connecting)
		return 0;
	if (c->conn != NULL) {
		enter(c);
		drop_conn(c, VCHAN_RPC_PEER_GONE);
		if (leave(c)) {
			errno = ECANCELED;
			return -1;
		}
	}
	for (;;) {
		int pending, left = timeout_ms < 0 ? -1 : (int)(end - now_ms());
		struct vchan_rpc_conn *conn;

		if (timeout_ms >= 0 && left < 0)
			left = 0;
		conn = open_conn(
		    c, c->addr.kind == VCHAN_RPC_ADDR_VCHAN ? left : 0,
		    &pending);
		if (conn != NULL &&
		    (pending || c->addr.kind == VCHAN_RPC_ADDR_TLS) &&
		    vchan_rpc_conn_wait_connected(conn, left) < 0) {
			int e = errno;

			/* A failed handshake: the caller learns why as a
			 * call would. */
			if (vchan_rpc_conn_why(conn)[0] != '\0') {
				c->last = VCHAN_RPC_PEER_GONE;
				snprintf(c->last_msg, sizeof(c->last_msg), "%s",
					 vchan_rpc_conn_why(conn));
			}
			vchan_rpc_conn_free(conn);
			conn = NULL;
			errno = e;
		}
		if (conn != NULL)
			return attach(c, conn, 0);
		/* A server domain named but not there (yet): like a refused
		 * connection, it may come within the time given. */
		if (c->addr.kind == VCHAN_RPC_ADDR_VCHAN &&
		    errno != ECONNREFUSED &&
		    !(errno == ENOENT && c->addr.domain[0] != '\0'))
			return -1;
		if (c->addr.kind != VCHAN_RPC_ADDR_VCHAN &&
		    errno != ECONNREFUSED && errno != ENOENT)
			return -1;
		/* Out of time: errno stays what the last attempt met (no
		 * such socket, or refused), which says more than "timed
		 * out"; with no time at all that was the only attempt. */
		if (timeout_ms >= 0 && now_ms() >= end)
			return -1;
		/* Refused: the server is not (or no longer, or not yet
		 * again) there. Try again shortly. */
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
}

static int start_call(struct vchan_rpc_client *c, unsigned method,
		      const ProtobufCMessage *req, int timeout_ms,
		      struct call *k)
{
	struct vchan_rpc_hdr h;
	struct rpc_codec_prep prep;
	size_t size;
	uint32_t s;

	k->cli = c;
	k->method = method;
	if (c->freeing) {
		end_later(c, k, VCHAN_RPC_CANCELLED);
		return 0;
	}
	size = rpc_codec_measure(&prep, c->plans[2 * method], req);
	if (size > c->opt.max_message) {
		end_later(c, k, VCHAN_RPC_TOO_LARGE);
		return 0;
	}
	if (c->nfree == 0 ||
	    (c->conn != NULL &&
	     vchan_rpc_conn_queued(c->conn) + VCHAN_RPC_HDR_SIZE + size >
		 c->opt.max_queued)) {
		end_later(c, k, VCHAN_RPC_QUEUE_FULL);
		return 0;
	}
	if (c->conn != NULL && vchan_rpc_conn_dead(c->conn)) {
		/* Dying: it is dropped from the loop; do not queue on it. */
		end_later(c, k,
			  (enum vchan_rpc_status)vchan_rpc_conn_dead(c->conn));
		return 0;
	}
	if (ensure_conn(c) < 0) {
		end_later(c, k, VCHAN_RPC_PEER_GONE);
		return 0;
	}
	if (timeout_ms < 0)
		timeout_ms = c->opt.timeout_ms;
	take_slot(c, k);
	s = k->id & 0xffff;
	if (timeout_ms > 0 && c->timers[s] == NULL &&
	    (c->timers[s] =
		 rpc_timer_new(c->loop, deadline_cb, &c->slots[s])) == NULL) {
		drop_slot(c, k);
		end_later(c, k, VCHAN_RPC_QUEUE_FULL);
		return 0;
	}
	h.kind = VCHAN_RPC_KIND_REQUEST;
	/* The server is told how long the caller waits (relative: the
	 * domains' clocks differ). */
	h.status = vchan_rpc_deadline_encode(timeout_ms);
	h.id = k->id;
	h.service = c->svc_hash;
	h.method = c->method_hash[method];
	if (vchan_rpc_conn_queue(c->conn, &h, &prep) < 0) {
		drop_slot(c, k);
		end_later(c, k, VCHAN_RPC_QUEUE_FULL);
		return 0;
	}
	if (timeout_ms > 0) {
		rpc_timer_arm(c->timers[s], timeout_ms / 1000.0);
		k->timed = 1;
	}
	flush(c);
	return 0;
}

static int check_call(struct vchan_rpc_client *c, unsigned method,
		      const ProtobufCMessage *req)
{
	const ProtobufCServiceDescriptor *d = c->base.descriptor;

	if (method >= d->n_methods || req == NULL ||
	    req->descriptor != d->methods[method].input) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void client_invoke(ProtobufCService *svc, unsigned method,
			  const ProtobufCMessage *req, ProtobufCClosure closure,
			  void *closure_data)
{
	struct vchan_rpc_client *c = cli_of(svc);
	struct call *k = new_call(c);

	if (k == NULL) {
		/* Nothing to defer the failure with: say it now. */
		c->last = VCHAN_RPC_QUEUE_FULL;
		closure(NULL, closure_data);
		return;
	}
	k->closure = closure;
	k->closure_data = closure_data;
	if (check_call(c, method, req) < 0) {
		k->cli = c;
		end_later(c, k, VCHAN_RPC_MALFORMED);
		return;
	}
	start_call(c, method, req, -1, k);
}

int vchan_rpc_call(struct vchan_rpc_client *c, unsigned method,
		   const ProtobufCMessage *req, int timeout_ms,
		   vchan_rpc_done_fn *done, void *data)
{
	struct call *k;

	if (c == NULL || done == NULL || check_call(c, method, req) < 0) {
		errno = EINVAL;
		return -1;
	}
	k = new_call(c);
	if (k == NULL)
		return -1;
	k->done = done;
	k->data = data;
	return start_call(c, method, req, timeout_ms, k);
}

struct sync_result {
	struct vchan_rpc_client *cli; /* NULL once the client has been freed */
	int done;
	enum vchan_rpc_status status;
	ProtobufCMessage *reply;
	char msg[VCHAN_RPC_MESSAGE_MAX + 1];
	struct sync_result
	    *outer; /* an vchan_rpc_call_sync further up the stack */
};

static void sync_done(enum vchan_rpc_status st, const ProtobufCMessage *reply,
		      void *data)
{
	struct sync_result *r = data;

	r->done = 1;
	r->status = st;
	r->reply = (ProtobufCMessage *)reply;
	memcpy(r->msg, r->cli->last_msg, sizeof(r->msg));
}

int vchan_rpc_call_sync(struct vchan_rpc_client *c, unsigned method,
			const ProtobufCMessage *req, int timeout_ms,
			ProtobufCMessage **reply)
{
	struct sync_result r = {.status = VCHAN_RPC_OK};
	struct rpc_loop *loop;
	struct call *k;

	if (reply != NULL)
		*reply = NULL;
	if (c == NULL || check_call(c, method, req) < 0) {
		errno = EINVAL;
		return -1;
	}
	k = new_call(c);
	if (k == NULL)
		return -1;
	k->done = sync_done;
	k->data = &r;
	k->steal = 1;
	loop = c->loop;
	r.cli = c;
	r.outer = c->sync;
	c->sync = &r;
	start_call(c, method, req, timeout_ms, k);
	/* The client may be freed by another closure meanwhile (destroy
	 * clears r.cli): only the loop and r are used until it is known to
	 * be alive. */
	while (!r.done)
		rpc_loop_run_once(loop);
	if (r.cli != NULL) {
		/* Other calls may have ended after this one: the status and
		 * message read after return are this call's. */
		c->sync = r.outer;
		c->last = r.status;
		memcpy(c->last_msg, r.msg, sizeof(r.msg));
	}
	if (reply != NULL)
		*reply = r.reply;
	else if (r.reply != NULL)
		protobuf_c_message_free_unpacked(r.reply, NULL);
	return (int)r.status;
}

int vchan_rpc_client_set_tls(struct vchan_rpc_client *c,
			     const struct vchan_rpc_tls *tls)
{
	if (c == NULL || tls == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* A session holds the settings it started with. */
	if (c->tls != NULL) {
		errno = EBUSY;
		return -1;
	}
	c->tls = rpc_tls_ctx_new(tls, 0);
	return c->tls != NULL ? 0 : -1;
}

int vchan_rpc_client_is_connected(const struct vchan_rpc_client *c)
{
	return c != NULL && c->conn != NULL && !c->connecting &&
	       !vchan_rpc_conn_dead(c->conn);
}

size_t vchan_rpc_client_in_flight(const struct vchan_rpc_client *c)
{
	return c != NULL ? in_flight(c) : 0;
}

int vchan_rpc_client_set_timeout(struct vchan_rpc_client *c, int timeout_ms)
{
	if (c == NULL || timeout_ms < 0) {
		errno = EINVAL;
		return -1;
	}
	c->opt.timeout_ms = timeout_ms;
	return 0;
}

enum vchan_rpc_status vchan_rpc_client_status(const struct vchan_rpc_client *c)
{
	return c->last;
}

const char *vchan_rpc_client_message(const struct vchan_rpc_client *c)
{
	return c->last_msg;
}

ProtobufCService *vchan_rpc_client_service(struct vchan_rpc_client *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return &c->base;
}

struct vchan_rpc_client *vchan_rpc_client_of(ProtobufCService *service)
{
	struct vchan_rpc_client *c = cli_of(service);

	if (c == NULL)
		errno = EINVAL;
	return c;
}

/* Free what vchan_rpc_client_new made (NULL parts too) and the client. */
static void free_parts(struct vchan_rpc_client *c)
{
	if (c->timers != NULL)
		for (unsigned s = 0; s < c->opt.max_in_flight; s++)
			rpc_timer_free(c->timers[s]);
	rpc_timer_free(c->kick);
	rpc_timer_free(c->retry);
	rpc_hook_free(c->spin);
	rpc_tls_ctx_free(c->tls); /* the connection went first */
	while (c->spare != NULL) {
		struct call *k = c->spare;

		c->spare = k->next;
		free(k);
	}
	free(c->timers);
	free(c->slots);
	free(c->gen);
	free(c->free_slots);
	free(c->method_hash);
	rpc_codec_plans_free(c->plans, c->base.descriptor);
	free(c);
}

static void destroy(struct vchan_rpc_client *c)
{
	c->freeing = 1;
	c->depth++; /* closures below must not destroy again */
	if (c->conn != NULL) {
		rpc_io_free(c->rio);
		rpc_io_free(c->wio);
		c->rio = c->wio = NULL;
		vchan_rpc_conn_free(c->conn);
		c->conn = NULL;
	}
	deliver_list(detach_all(c), VCHAN_RPC_CANCELLED, NULL);
	/* Calls started by those closures end here too. */
	while (c->ended != NULL) {
		struct call *k = c->ended;

		c->ended = c->ended_tail = NULL;
		while (k != NULL) {
			struct call *next = k->next;

			deliver(k, VCHAN_RPC_CANCELLED, NULL, NULL, NULL);
			k = next;
		}
	}
	/* vchan_rpc_call_sync still on the stack must not touch the client. */
	for (struct sync_result *r = c->sync; r != NULL; r = r->outer)
		r->cli = NULL;
	free_parts(c);
}

void vchan_rpc_client_free(struct vchan_rpc_client *c)
{
	if (c == NULL || c->freeing)
		return;
	if (c->depth > 0) {
		c->freeing = 1;
		return;
	}
	destroy(c);
}

static void client_destroy(ProtobufCService *svc)
{
	vchan_rpc_client_free(cli_of(svc));
}

struct vchan_rpc_client *
vchan_rpc_client_new(struct ev_loop *loop, const char *address,
		     const ProtobufCServiceDescriptor *desc,
		     const struct vchan_rpc_options *opts)
{
	struct vchan_rpc_client *c;

	if (loop == NULL || desc == NULL ||
	    (opts != NULL &&
	     (opts->max_in_flight == 0 || opts->max_in_flight > MAX_SLOTS ||
	      opts->max_message == 0 || opts->max_message > UINT32_MAX ||
	      opts->timeout_ms < 0))) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (vchan_rpc_addr_parse(address, &c->addr) < 0) {
		free(c);
		return NULL;
	}
	if (opts != NULL)
		c->opt = *opts;
	else
		vchan_rpc_options_init(&c->opt);
	/* The core holds the application's loop as the adapter's. */
	c->loop = (struct rpc_loop *)loop;
	c->base.descriptor = desc;
	c->base.invoke = client_invoke;
	c->base.destroy = client_destroy;
	c->svc_hash = vchan_rpc_name_hash(desc->name);
	c->method_hash = calloc(desc->n_methods ? desc->n_methods : 1,
				sizeof(*c->method_hash));
	c->plans = rpc_codec_plans_new(desc);
	c->slots = calloc(c->opt.max_in_flight, sizeof(*c->slots));
	c->gen = calloc(c->opt.max_in_flight, sizeof(*c->gen));
	c->free_slots = calloc(c->opt.max_in_flight, sizeof(*c->free_slots));
	c->timers = calloc(c->opt.max_in_flight, sizeof(*c->timers));
	c->kick = rpc_timer_new(c->loop, kick_cb, c);
	c->retry = rpc_timer_new(c->loop, retry_cb, c);
	c->spin = rpc_hook_new(c->loop, spin_cb, c);
	if (c->method_hash == NULL || c->plans == NULL || c->slots == NULL ||
	    c->gen == NULL || c->free_slots == NULL || c->timers == NULL ||
	    c->kick == NULL || c->retry == NULL || c->spin == NULL) {
		free_parts(c);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < desc->n_methods; i++)
		c->method_hash[i] = vchan_rpc_name_hash(desc->methods[i].name);
	/* Lowest slots first: ids stay small and easy to read in traces. */
	for (unsigned i = 0; i < c->opt.max_in_flight; i++)
		c->free_slots[i] = c->opt.max_in_flight - 1 - i;
	c->nfree = c->opt.max_in_flight;
	return c;
}
