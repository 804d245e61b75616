/* rpc/server.c - the server: listeners, one connection per client, and
 * the dispatch of requests to the handlers of registered services. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/codec.h"
#include "rpc/conn.h"
#include "rpc/loop.h"
#include "rpc/rpc.h"
#include "rpc/sock.h"
#include "rpc/tls.h"
#include "vchan/vchan.h"

/* Ring sizes of a vchan listener's channels, each way. */
#define VCHAN_RING (64u * 1024)
/* Delay before trying again to offer a vchan that could not be created. */
#define RETRY_S 0.1
/* In every call a handler is given: catches closure data of another kind
 * handed to vchan_rpc_server_fail or vchan_rpc_server_time_left. */
#define SCALL_MAGIC 0x7270636bu
/* Ended calls kept for the next ones, so that a call costs no allocation:
 * as many as a busy client keeps in flight, not a burst's worth for good. */
#define SPARE_CALLS 64

struct service {
	ProtobufCService *svc;
	uint32_t hash;
	uint32_t *method_hash;
	struct rpc_codec_plan **plans; /* rpc_codec_plans_new */
};

struct listener;

struct sconn {
	struct vchan_rpc_server *srv;
	struct listener *lis; /* the vchan listener that offered it */
	struct vchan_rpc_conn *conn;
	struct rpc_io *rio, *wio;
	struct rpc_hook *spin;	/* a vchan: spin for requests before sleeping */
	struct rpc_timer *kick; /* process() from the loop (a late answer) */
	unsigned pending;	/* calls waiting for their handler */
	int depth;		/* process() on the stack */
	int64_t read_ns; /* when the whole frames in the buffer were read */
	struct sconn *prev, *next;
};

struct scall {
	uint32_t magic;
	struct vchan_rpc_server *srv;
	struct sconn *sc; /* NULL once the client has gone */
	struct vchan_rpc_hdr h;
	const ProtobufCMethodDescriptor *m;
	const struct rpc_codec_plan *reply_plan;
	ProtobufCMessage *req;
	int64_t deadline_ns; /* CLOCK_MONOTONIC; -1: none */
	struct scall *prev, *next;
	struct vchan_rpc_arena arena; /* req's memory */
};

struct listener {
	struct vchan_rpc_server *srv;
	struct vchan_rpc_addr addr;
	int fd; /* socket listeners */
	struct rpc_io *io;
	struct rpc_timer *retry; /* vchan listeners of one domain */
	struct sconn *cur;
	struct vchan_listener *vl; /* vchan listeners of many domains */
	struct listener *next;
};

struct vchan_rpc_server {
	struct rpc_loop *loop;
	struct vchan_rpc_options opt;
	struct service *svcs;
	size_t nsvcs;
	struct listener *listeners;
	struct sconn *conns;
	struct scall *calls;
	struct scall *spare_calls; /* ended ones, linked by next */
	unsigned nspare_calls;
	int spare; /* kept free to turn clients away when out of fds */
	struct rpc_tls_ctx *tls; /* of tls: listeners */
};

static void process(struct sconn *sc);
static void offer_vchan(struct listener *l);

static int throttled(const struct sconn *sc)
{
	const struct vchan_rpc_options *o = &sc->srv->opt;

	return sc->pending >= o->max_in_flight ||
	       vchan_rpc_conn_queued(sc->conn) > o->max_queued;
}

/* Run process() from the loop soon. */
static void kick(struct sconn *sc)
{
	if (!rpc_timer_armed(sc->kick))
		rpc_timer_arm(sc->kick, 0.);
}

static void update_watchers(struct sconn *sc)
{
	if (!vchan_rpc_conn_is_socket(sc->conn))
		return;
	/* A socket with unread data would wake a throttled reader again and
	 * again: stop reading it until calls or bytes drain. One at its end
	 * stays readable for good. */
	rpc_io_want(sc->rio, throttled(sc) || vchan_rpc_conn_eof(sc->conn)
				 ? 0
				 : RPC_READ);
	rpc_io_want(sc->wio,
		    vchan_rpc_conn_want_write(sc->conn) ? RPC_WRITE : 0);
}

/* Free sc, its watchers and its connection (NULL parts too). The
 * watchers go first: an fd is not to be closed while it is watched. */
static void free_sconn(struct sconn *sc)
{
	rpc_io_free(sc->rio);
	rpc_io_free(sc->wio);
	rpc_hook_free(sc->spin);
	rpc_timer_free(sc->kick);
	vchan_rpc_conn_free(sc->conn);
	free(sc);
}

static void close_sconn(struct sconn *sc)
{
	struct vchan_rpc_server *srv = sc->srv;
	struct listener *l = sc->lis;

	for (struct scall *k = srv->calls; k != NULL; k = k->next)
		if (k->sc == sc)
			k->sc = NULL;
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		srv->conns = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	free_sconn(sc);
	if (l != NULL) {
		l->cur = NULL;
		offer_vchan(l);
	}
}

/* Queue a reply with status VCHAN_RPC_OK and the message measured in
 * `msg`. */
static void send_reply(struct sconn *sc, const struct vchan_rpc_hdr *req,
		       const struct rpc_codec_prep *msg)
{
	struct vchan_rpc_hdr h = *req;

	h.kind = VCHAN_RPC_KIND_REPLY;
	h.status = VCHAN_RPC_OK;
	if (vchan_rpc_conn_queue(sc->conn, &h, msg) < 0)
		vchan_rpc_conn_kill(sc->conn, VCHAN_RPC_PEER_GONE);
}

/* Queue a failed reply: `status`, and `text` (NULL: none) as its body. */
static void send_error(struct sconn *sc, const struct vchan_rpc_hdr *req,
		       int status, const char *text)
{
	struct vchan_rpc_hdr h = *req;
	size_t n = text != NULL ? strnlen(text, VCHAN_RPC_MESSAGE_MAX + 1) : 0;

	/* A long message is cut where a UTF-8 character starts, so that the
	 * caller never gets half of one. */
	if (n > VCHAN_RPC_MESSAGE_MAX) {
		n = VCHAN_RPC_MESSAGE_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	h.kind = VCHAN_RPC_KIND_REPLY;
	h.status = (uint16_t)status;
	if (vchan_rpc_conn_queue_bytes(sc->conn, &h, text, n) < 0)
		vchan_rpc_conn_kill(sc->conn, VCHAN_RPC_PEER_GONE);
}

static void unlink_call(struct scall *k)
{
	struct vchan_rpc_server *srv = k->srv;

	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		srv->calls = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
}

static struct scall *new_call(struct vchan_rpc_server *srv)
{
	struct scall *k = srv->spare_calls;

	if (k == NULL)
		return malloc(sizeof(*k));
	srv->spare_calls = k->next;
	srv->nspare_calls--;
	return k;
}

/* Free call `k` (unlinked) and its request. */
static void free_call(struct vchan_rpc_server *srv, struct scall *k)
{
	k->magic = 0;
	vchan_rpc_arena_free(&k->arena, k->req);
	if (srv->nspare_calls >= SPARE_CALLS) {
		free(k);
		return;
	}
	k->next = srv->spare_calls;
	srv->spare_calls = k;
	srv->nspare_calls++;
}

/* End call `k` with the reply `msg` (of the method's output type) or,
 * when msg is NULL, with `status` and `text`; free it. */
static void finish(struct scall *k, const ProtobufCMessage *msg, int status,
		   const char *text)
{
	struct sconn *sc = k->sc;

	if (sc != NULL && !vchan_rpc_conn_dead(sc->conn)) {
		size_t size = 0, max = sc->srv->opt.max_message;
		char why[VCHAN_RPC_MESSAGE_MAX + 1];
		struct rpc_codec_prep prep;

		if (msg == NULL) {
			send_error(sc, &k->h, status, text);
		} else if ((size = rpc_codec_measure(&prep, k->reply_plan,
						     msg)) > max) {
			snprintf(why, sizeof(why),
				 "reply of %zu bytes above the limit of %zu",
				 size, max);
			send_error(sc, &k->h, VCHAN_RPC_TOO_LARGE, why);
		} else {
			send_reply(sc, &k->h, &prep);
		}
		sc->pending--;
		vchan_rpc_conn_flush(sc->conn);
		/* A late answer (from a timer of the handler's) may unblock
		 * reading or reveal a dead connection: let process() see. */
		if (sc->depth == 0)
			kick(sc);
	}
	unlink_call(k);
	free_call(k->srv, k);
}

/* The closure given to handlers. */
static void answer(const ProtobufCMessage *msg, void *data)
{
	struct scall *k = data;
	char why[VCHAN_RPC_MESSAGE_MAX + 1];

	if (msg == NULL) {
		finish(k, NULL, VCHAN_RPC_HANDLER_FAILED, NULL);
		return;
	}
	if (msg->descriptor != k->m->output) {
		snprintf(why, sizeof(why), "handler answered a %s, not a %s",
			 msg->descriptor->name, k->m->output->name);
		finish(k, NULL, VCHAN_RPC_HANDLER_FAILED, why);
		return;
	}
	finish(k, msg, VCHAN_RPC_OK, NULL);
}

int vchan_rpc_server_fail(void *call, enum vchan_rpc_status status,
			  const char *message)
{
	struct scall *k = call;

	if (k == NULL || k->magic != SCALL_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	/* A status only a client sets would mislead the caller (a "peer
	 * gone" that is not): the call fails all the same, as the handler
	 * wanted, but with the one status that blames the handler. */
	if (!vchan_rpc_status_sendable((int)status)) {
		finish(k, NULL, VCHAN_RPC_HANDLER_FAILED, message);
		errno = EINVAL;
		return -1;
	}
	finish(k, NULL, (int)status, message);
	return 0;
}

int vchan_rpc_server_time_left(const void *call)
{
	const struct scall *k = call;
	int64_t left;

	if (k == NULL || k->magic != SCALL_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	if (k->deadline_ns < 0) {
		errno = ENOENT;
		return -1;
	}
	left = k->deadline_ns - vchan_rpc_now_ns();
	return left > 0 ? (int)(left / 1000000) : 0;
}

static const struct service *find_service(const struct vchan_rpc_server *srv,
					  uint32_t hash)
{
	for (size_t i = 0; i < srv->nsvcs; i++)
		if (srv->svcs[i].hash == hash)
			return &srv->svcs[i];
	return NULL;
}

static void dispatch(struct sconn *sc, const struct vchan_rpc_hdr *h,
		     const uint8_t *body)
{
	struct vchan_rpc_server *srv = sc->srv;
	const struct service *s;
	const ProtobufCServiceDescriptor *d;
	struct scall *k;
	char why[VCHAN_RPC_MESSAGE_MAX + 1];
	int64_t dl, deadline = -1, now;
	unsigned i;

	if (h->kind != VCHAN_RPC_KIND_REQUEST) {
		vchan_rpc_conn_kill(sc->conn, VCHAN_RPC_PROTOCOL_ERROR);
		return;
	}
	s = find_service(srv, h->service);
	if (s == NULL) {
		snprintf(why, sizeof(why), "no service of hash 0x%08x here",
			 (unsigned)h->service);
		send_error(sc, h, VCHAN_RPC_UNKNOWN_SERVICE, why);
		return;
	}
	d = s->svc->descriptor;
	for (i = 0; i < d->n_methods; i++)
		if (s->method_hash[i] == h->method)
			break;
	if (i == d->n_methods) {
		snprintf(why, sizeof(why), "%s has no method of hash 0x%08x",
			 d->name, (unsigned)h->method);
		send_error(sc, h, VCHAN_RPC_UNKNOWN_METHOD, why);
		return;
	}
	if (body == NULL) {
		snprintf(why, sizeof(why),
			 "request of %u bytes above the limit of %zu",
			 (unsigned)h->len, srv->opt.max_message);
		send_error(sc, h, VCHAN_RPC_TOO_LARGE, why);
		return;
	}
	/* The deadline counts from when the request was read: the time it
	 * spent in transit cannot be known (the domains' clocks differ). A
	 * call whose deadline has already passed (it waited behind slow
	 * handlers) is not worth starting: its client has given up. */
	dl = vchan_rpc_deadline_decode(h->status);
	if (dl >= 0) {
		deadline = sc->read_ns + dl * 1000000;
		now = vchan_rpc_now_ns();
		if (now >= deadline) {
			snprintf(why, sizeof(why),
				 "deadline passed %lld ms before the call "
				 "could start",
				 (long long)((now - deadline) / 1000000));
			send_error(sc, h, VCHAN_RPC_DEADLINE_EXCEEDED, why);
			return;
		}
	}
	k = new_call(srv);
	if (k == NULL) {
		send_error(sc, h, VCHAN_RPC_HANDLER_FAILED,
			   "server out of memory");
		return;
	}
	k->req = vchan_rpc_arena_unpack(&k->arena, s->plans[2 * i],
					d->methods[i].input, h->len, body);
	if (k->req == NULL) {
		free(k);
		snprintf(why, sizeof(why), "request does not decode as %s",
			 d->methods[i].input->name);
		send_error(sc, h, VCHAN_RPC_MALFORMED, why);
		return;
	}
	k->magic = SCALL_MAGIC;
	k->srv = srv;
	k->sc = sc;
	k->h = *h;
	k->m = &d->methods[i];
	k->reply_plan = s->plans[2 * i + 1];
	k->deadline_ns = deadline;
	k->prev = NULL;
	k->next = srv->calls;
	if (srv->calls != NULL)
		srv->calls->prev = k;
	srv->calls = k;
	sc->pending++;
	s->svc->invoke(s->svc, i, k->req, answer, k);
}

/* Read and answer what can be, write what is queued; close the
 * connection when it has ended: when it is dead, or when the peer's
 * stream has ended and every whole frame in it has been answered. */
static void process(struct sconn *sc)
{
	struct vchan_rpc_hdr h;
	const uint8_t *body;
	int more = 1, r;

	sc->depth++;
	for (;;) {
		/* Whole frames still in the buffer (left there by a
		 * throttle) came with the last read: take them before reading
		 * again, so that read_ns is the time each one came. r ends 0
		 * when the buffer holds no whole frame. */
		r = 1;
		while (!throttled(sc) && !vchan_rpc_conn_dead(sc->conn) &&
		       (r = vchan_rpc_conn_next(sc->conn, &h, &body)) > 0)
			dispatch(sc, &h, body);
		if (r < 0 || !more || throttled(sc) ||
		    vchan_rpc_conn_dead(sc->conn))
			break;
		sc->read_ns = vchan_rpc_now_ns();
		more = vchan_rpc_conn_fill(sc->conn);
	}
	vchan_rpc_conn_flush(sc->conn);
	sc->depth--;
	if (vchan_rpc_conn_dead(sc->conn) ||
	    (vchan_rpc_conn_eof(sc->conn) && r == 0 && sc->pending == 0 &&
	     vchan_rpc_conn_queued(sc->conn) == 0)) {
		close_sconn(sc);
		return;
	}
	/* The flush lifted the throttle that held frames back: take them
	 * from the loop (no read may come to wake us for them). */
	if (r > 0 && !throttled(sc))
		kick(sc);
	update_watchers(sc);
}

static void rio_cb(void *arg, int events)
{
	struct sconn *sc = arg;

	(void)events;
	vchan_rpc_conn_events(sc->conn);
	process(sc);
}

/* The loop is about to sleep. A client that called just now is likely to
 * call again sooner than a wake-up takes (vchan_spin stops spinning for
 * clients that do not): spin for its next request and serve it now. */
static int spin_cb(void *arg)
{
	struct sconn *sc = arg;

	if (!vchan_rpc_conn_spin(sc->conn, 1))
		return 0;
	/* Returning 1 keeps the loop from sleeping after this, so that it
	 * comes back here and spins for the next request. rio_cb may free
	 * sc and this hook: the adapter copes. */
	rio_cb(sc, RPC_READ);
	return 1;
}

static void wio_cb(void *arg, int events)
{
	struct sconn *sc = arg;

	(void)events;
	vchan_rpc_conn_flush(sc->conn);
	/* Room may end a throttle on replies: read what waits. */
	process(sc);
}

static void kick_cb(void *arg)
{
	process(arg);
}

static struct sconn *add_sconn(struct vchan_rpc_server *srv,
			       struct vchan_rpc_conn *conn, struct listener *l)
{
	struct sconn *sc = calloc(1, sizeof(*sc));

	if (sc == NULL) {
		vchan_rpc_conn_free(conn);
		return NULL;
	}
	sc->srv = srv;
	sc->lis = l;
	sc->conn = conn;
	sc->rio = rpc_io_new(srv->loop, vchan_rpc_conn_fd(conn), rio_cb, sc);
	sc->wio = rpc_io_new(srv->loop, vchan_rpc_conn_fd(conn), wio_cb, sc);
	sc->kick = rpc_timer_new(srv->loop, kick_cb, sc);
	sc->spin = rpc_hook_new(srv->loop, spin_cb, sc);
	if (sc->rio == NULL || sc->wio == NULL || sc->kick == NULL ||
	    sc->spin == NULL) {
		free_sconn(sc);
		errno = ENOMEM;
		return NULL;
	}
	sc->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = sc;
	srv->conns = sc;
	rpc_io_want(sc->rio, RPC_READ);
	if (!vchan_rpc_conn_is_socket(conn)) {
		vchan_rpc_conn_spin_first(conn);
		rpc_hook_start(sc->spin);
	}
	return sc;
}

static void accept_cb(void *arg, int events)
{
	struct listener *l = arg;

	(void)events;
	for (;;) {
		int fd = rpc_sock_accept(l->fd, &l->srv->spare);
		struct vchan_rpc_conn *conn;

		if (fd < 0 && errno == ECONNABORTED)
			continue; /* one turned away, or gone: the next */
		if (fd < 0)
			return; /* EAGAIN: the next wake-up */
		conn = vchan_rpc_conn_from_fd(fd, l->srv->opt.max_message);
		if (conn != NULL && l->addr.kind == VCHAN_RPC_ADDR_TLS &&
		    vchan_rpc_conn_start_tls(conn, l->srv->tls, NULL) < 0) {
			vchan_rpc_conn_free(conn);
			conn = NULL;
		}
		if (conn != NULL)
			add_sconn(l->srv, conn, NULL);
	}
}

/* Offer a fresh channel to the listener's client domain. */
static void offer_vchan(struct listener *l)
{
	struct vchan *vc = NULL;
	struct vchan_rpc_conn *conn;
	/* A client named by its domain's name is looked up for each offer:
	 * recreated, it has a new id (and, until it is there, no id). */
	int domid = vchan_rpc_addr_domid(&l->addr);

	if (domid >= 0)
		vc = vchan_server_create_port((uint32_t)domid, l->addr.name,
					      VCHAN_RING, VCHAN_RING);
	conn = vc != NULL
		   ? vchan_rpc_conn_from_vchan(vc, l->srv->opt.max_message)
		   : NULL;
	if (conn != NULL)
		l->cur = add_sconn(l->srv, conn, l);
	if (l->cur == NULL && !rpc_timer_armed(l->retry))
		rpc_timer_arm(l->retry, RETRY_S);
}

static void retry_cb(void *arg)
{
	struct listener *l = arg;

	if (l->cur == NULL)
		offer_vchan(l);
}

static int listen_socket(struct listener *l)
{
	if (l->addr.kind == VCHAN_RPC_ADDR_TLS && l->srv->tls == NULL) {
		errno = ENOKEY;
		return -1;
	}
	l->fd = rpc_sock_listen(&l->addr, l->srv->opt.insecure_tcp);
	if (l->fd < 0)
		return -1;
	l->io = rpc_io_new(l->srv->loop, l->fd, accept_cb, l);
	if (l->io == NULL) {
		rpc_sock_unlisten(l->fd, &l->addr);
		l->fd = -1;
		errno = ENOMEM;
		return -1;
	}
	rpc_io_want(l->io, RPC_READ);
	return 0;
}

/* A client came to the many-domain listener. */
static void vaccept_cb(void *arg, int events)
{
	struct listener *l = arg;
	struct vchan *vc;

	(void)events;
	while ((vc = vchan_accept(l->vl, NULL, 0)) != NULL) {
		struct vchan_rpc_conn *conn =
		    vchan_rpc_conn_from_vchan(vc, l->srv->opt.max_message);

		struct sconn *sc =
		    conn != NULL ? add_sconn(l->srv, conn, NULL) : NULL;

		/* The listener consumed the channel's events: what the
		 * client sent already would wake nobody. */
		if (sc != NULL)
			process(sc);
	}
}

static int listen_many(struct listener *l)
{
	l->vl =
	    vchan_listen(l->addr.name, l->addr.nallow ? l->addr.allow : NULL,
			 l->addr.nallow, VCHAN_RING, VCHAN_RING);
	if (l->vl == NULL)
		return -1;
	l->io =
	    rpc_io_new(l->srv->loop, vchan_listener_fd(l->vl), vaccept_cb, l);
	if (l->io == NULL) {
		vchan_listener_close(l->vl);
		l->vl = NULL;
		errno = ENOMEM;
		return -1;
	}
	rpc_io_want(l->io, RPC_READ);
	/* Clients that asked before we were there are served now. */
	vaccept_cb(l, 0);
	return 0;
}

static int listen_vchan(struct listener *l)
{
	struct vchan *vc;
	struct vchan_rpc_conn *conn;
	int domid;

	if (l->addr.many)
		return listen_many(l);
	l->cur = NULL;
	l->retry = rpc_timer_new(l->srv->loop, retry_cb, l);
	if (l->retry == NULL)
		return -1;
	domid = vchan_rpc_addr_domid(&l->addr);
	/* A client domain named but not there yet: offer once it is (the
	 * retry timer looks again). */
	if (domid < 0 && errno == ENOENT) {
		rpc_timer_arm(l->retry, RETRY_S);
		return 0;
	}
	if (domid < 0)
		goto fail;
	vc = vchan_server_create_port((uint32_t)domid, l->addr.name, VCHAN_RING,
				      VCHAN_RING);
	if (vc == NULL)
		goto fail;
	conn = vchan_rpc_conn_from_vchan(vc, l->srv->opt.max_message);
	if (conn == NULL || (l->cur = add_sconn(l->srv, conn, l)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	rpc_timer_free(l->retry);
	l->retry = NULL;
	return -1;
}

int vchan_rpc_server_listen(struct vchan_rpc_server *srv, const char *address)
{
	struct listener *l;
	int r;

	if (srv == NULL) {
		errno = EINVAL;
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -1;
	l->srv = srv;
	l->fd = -1;
	if (vchan_rpc_addr_parse(address, &l->addr) < 0) {
		free(l);
		return -1;
	}
	r = l->addr.kind == VCHAN_RPC_ADDR_VCHAN ? listen_vchan(l)
						 : listen_socket(l);
	if (r < 0) {
		int e = errno;

		free(l);
		errno = e;
		return -1;
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

int vchan_rpc_server_add_service(struct vchan_rpc_server *srv,
				 ProtobufCService *svc)
{
	const ProtobufCServiceDescriptor *d;
	struct service *n, s;

	if (srv == NULL || svc == NULL || svc->descriptor == NULL ||
	    svc->invoke == NULL) {
		errno = EINVAL;
		return -1;
	}
	d = svc->descriptor;
	s.svc = svc;
	s.hash = vchan_rpc_name_hash(d->name);
	if (find_service(srv, s.hash) != NULL) {
		errno = EEXIST;
		return -1;
	}
	s.method_hash =
	    calloc(d->n_methods ? d->n_methods : 1, sizeof(*s.method_hash));
	if (s.method_hash == NULL)
		return -1;
	for (unsigned i = 0; i < d->n_methods; i++) {
		s.method_hash[i] = vchan_rpc_name_hash(d->methods[i].name);
		/* Methods are found by hash: two alike would be ambiguous. */
		for (unsigned j = 0; j < i; j++)
			if (s.method_hash[j] == s.method_hash[i]) {
				free(s.method_hash);
				errno = EEXIST;
				return -1;
			}
	}
	s.plans = rpc_codec_plans_new(d);
	n = s.plans != NULL ? realloc(srv->svcs, (srv->nsvcs + 1) * sizeof(*n))
			    : NULL;
	if (n == NULL) {
		rpc_codec_plans_free(s.plans, d);
		free(s.method_hash);
		return -1;
	}
	n[srv->nsvcs++] = s;
	srv->svcs = n;
	return 0;
}

int vchan_rpc_server_set_tls(struct vchan_rpc_server *srv,
			     const struct vchan_rpc_tls *tls)
{
	if (srv == NULL || tls == NULL) {
		errno = EINVAL;
		return -1;
	}
	/* Sessions hold the settings they started with. */
	if (srv->tls != NULL) {
		errno = EBUSY;
		return -1;
	}
	srv->tls = rpc_tls_ctx_new(tls, 1);
	return srv->tls != NULL ? 0 : -1;
}

size_t vchan_rpc_server_clients(const struct vchan_rpc_server *srv)
{
	size_t n = 0;

	for (struct sconn *sc = srv->conns; sc != NULL; sc = sc->next)
		if (!vchan_rpc_conn_waiting(sc->conn))
			n++;
	return n;
}

struct vchan_rpc_server *
vchan_rpc_server_new(struct ev_loop *loop, const struct vchan_rpc_options *opts)
{
	struct vchan_rpc_server *srv;

	if (loop == NULL ||
	    (opts != NULL &&
	     (opts->max_in_flight == 0 || opts->max_message == 0 ||
	      opts->max_message > UINT32_MAX))) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	/* The core holds the application's loop as the adapter's. */
	srv->loop = (struct rpc_loop *)loop;
	srv->spare = rpc_sock_spare();
	if (opts != NULL)
		srv->opt = *opts;
	else
		vchan_rpc_options_init(&srv->opt);
	return srv;
}

void vchan_rpc_server_free(struct vchan_rpc_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->listeners != NULL) {
		struct listener *l = srv->listeners;

		srv->listeners = l->next;
		if (l->fd >= 0) {
			rpc_io_free(l->io);
			rpc_sock_unlisten(l->fd, &l->addr);
		}
		if (l->vl != NULL) {
			rpc_io_free(l->io);
			vchan_listener_close(l->vl);
		}
		rpc_timer_free(l->retry);
		if (l->cur != NULL)
			l->cur->lis = NULL;
		free(l);
	}
	while (srv->conns != NULL)
		close_sconn(srv->conns);
	while (srv->calls != NULL) {
		struct scall *k = srv->calls;

		unlink_call(k);
		free_call(srv, k);
	}
	while (srv->spare_calls != NULL) {
		struct scall *k = srv->spare_calls;

		srv->spare_calls = k->next;
		free(k);
	}
	for (size_t i = 0; i < srv->nsvcs; i++) {
		free(srv->svcs[i].method_hash);
		rpc_codec_plans_free(srv->svcs[i].plans,
				     srv->svcs[i].svc->descriptor);
	}
	free(srv->svcs);
	if (srv->spare >= 0)
		rpc_sock_close(srv->spare);
	rpc_tls_ctx_free(srv->tls); /* after the sessions that use it */
	free(srv);
}
