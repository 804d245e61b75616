/* examples/mux/link.c - a mux kept up on a libev loop (see link.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/mux/link.h"
#include "vchan/vchan.h"

/* A new channel this long after one broke (the peer's restart or its own
 * new offer needs a moment), then as often as this until there is one. */
#define RETRY_FIRST_S 0.05
#define RETRY_EVERY_S 0.1

struct mux_link {
	struct ev_loop *loop;
	int server, held;
	struct vchan_listener *listener; /* server for "*": any domain */
	struct vchan_connect *pc;	 /* client: a connect in progress */
	ev_io lio;			 /* the listener's fd */
	char peer[256], port[VCHAN_PORT_MAX + 1];
	char path[VCHAN_PATH_MAX];
	size_t ring;
	const struct mux_ops *ops;
	const struct mux_link_cb *cb;
	void *ctx;
	struct mux *mux;
	ev_io io;
	ev_timer retry;
};

/* Run a mux on `ch`. Returns 0 or -1 + errno. */
static int start_mux(struct mux_link *l, struct vchan *ch)
{
	l->mux = mux_new(ch, l->ops, l->ctx);
	if (l->mux == NULL) {
		vchan_close(ch);
		errno = ENOMEM;
		return -1;
	}
	ev_io_set(&l->io, mux_fd(l->mux), EV_READ);
	ev_io_start(l->loop, &l->io);
	l->cb->up(l->ctx, l->mux);
	/* The first run: what the peer sent before we watched. */
	ev_feed_event(l->loop, &l->io, EV_READ);
	return 0;
}

/* Client: one look at the server's offer (a plain server's or its
 * listener's, which answers our request later: the attempt is kept from
 * one try to the next). Returns 0 connected, -1 + errno not (yet). */
static int try_connect(struct mux_link *l)
{
	struct vchan *ch;
	int peer;

	if (l->pc == NULL) {
		peer = vchan_domid_lookup(l->peer);
		if (peer < 0 ||
		    vchan_path(l->path, sizeof(l->path), (uint32_t)peer,
			       VCHAN_DOMID_SELF, l->port) < 0)
			return -1;
		l->pc = vchan_connect_start((uint32_t)peer, l->port);
		if (l->pc == NULL)
			return -1;
	}
	ch = vchan_connect_step(l->pc);
	if (ch == NULL && errno == EAGAIN)
		return -1;
	vchan_connect_cancel(l->pc);
	l->pc = NULL;
	return ch != NULL ? start_mux(l, ch) : -1;
}

/* Set up a channel. Returns 0 or -1 + errno. */
static int establish(struct mux_link *l)
{
	struct vchan *ch;
	int peer;

	if (!l->server)
		return try_connect(l);
	if (l->listener != NULL) {
		/* The listener's next client, when one has come. */
		ch = vchan_accept(l->listener, NULL, 0);
		return ch != NULL ? start_mux(l, ch) : -1;
	}
	peer = vchan_domid_lookup(l->peer);
	if (peer < 0)
		return -1;
	ch = vchan_path(l->path, sizeof(l->path), VCHAN_DOMID_SELF,
			(uint32_t)peer, l->port) < 0
		 ? NULL
		 : vchan_server_create(peer, l->path, l->ring, l->ring);
	return ch != NULL ? start_mux(l, ch) : -1;
}

/* The listener's fd: a client may have come (or a request to serve). */
static void on_listener(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mux_link *l = io->data;
	struct vchan *ch;

	(void)loop, (void)revents;
	while ((ch = vchan_accept(l->listener, NULL, 0)) != NULL) {
		/* One peer at a time: a second is turned away (its channel
		 * closes; it tries again after the first has gone). */
		if (l->mux != NULL || l->held)
			vchan_close(ch);
		else
			start_mux(l, ch);
	}
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents)
{
	struct mux_link *l = io->data;
	struct mux *m = l->mux;

	(void)revents;
	if (mux_run(m) == 0) {
		l->cb->ran(l->ctx);
		return;
	}
	ev_io_stop(loop, &l->io);
	l->mux = NULL;
	l->cb->down(l->ctx, errno);
	mux_free(m);
	/* A listener offers the next channel by itself. */
	if (!l->held && l->listener == NULL) {
		ev_timer_set(&l->retry, RETRY_FIRST_S, RETRY_EVERY_S);
		ev_timer_start(loop, &l->retry);
	}
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct mux_link *l = t->data;

	(void)revents;
	if (establish(l) == 0)
		ev_timer_stop(loop, t);
	/* else the repeat tries again */
}

/* The listener's XenStore directory, for messages. */
static int listen_dir(const struct mux_link *l, char *buf,
				size_t size)
{
	char self[16];
	int n = vchan_path(buf, size, VCHAN_DOMID_SELF, 0, l->port);

	/* ".../data/vchan/0/<port>" gives our id; say where clients ask. */
	if (n < 0 || sscanf(buf, "/local/domain/%15[0-9]/", self) != 1)
		return -1;
	n = snprintf(buf, size, "/local/domain/%s/data/vchan-listen/%s", self,
		     l->port);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

struct mux_link *mux_link_new(struct ev_loop *loop, int server,
			      const char *peer, const char *port, size_t ring,
			      const struct mux_ops *ops,
			      const struct mux_link_cb *cb, void *ctx)
{
	struct mux_link *l;

	if (strlen(peer) >= sizeof(l->peer) ||
	    strlen(port) >= sizeof(l->port)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->loop = loop;
	l->server = server;
	strcpy(l->peer, peer);
	strcpy(l->port, port);
	l->ring = ring;
	l->ops = ops;
	l->cb = cb;
	l->ctx = ctx;
	ev_init(&l->io, on_io);
	l->io.data = l;
	ev_init(&l->retry, on_retry);
	l->retry.data = l;
	ev_init(&l->lio, on_listener);
	l->lio.data = l;
	if (server && strcmp(peer, "*") == 0) {
		l->listener = vchan_listen(port, NULL, 0, ring, ring);
		if (l->listener == NULL ||
		    listen_dir(l, l->path, sizeof(l->path)) < 0) {
			int err = errno;

			vchan_listener_close(l->listener);
			free(l);
			errno = err;
			return NULL;
		}
		ev_io_set(&l->lio, vchan_listener_fd(l->listener), EV_READ);
		ev_io_start(loop, &l->lio);
		/* Clients that asked before we were there. */
		ev_feed_event(loop, &l->lio, EV_READ);
		return l;
	}
	if (!server) {
		ev_timer_set(&l->retry, 0, RETRY_EVERY_S);
		ev_timer_start(loop, &l->retry);
		return l;
	}
	if (establish(l) < 0) {
		int err = errno;

		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

const char *mux_link_path(const struct mux_link *l)
{
	return l->path;
}

void mux_link_hold(struct mux_link *l)
{
	l->held = 1;
	ev_timer_stop(l->loop, &l->retry);
}

void mux_link_free(struct mux_link *l)
{
	if (l == NULL)
		return;
	ev_io_stop(l->loop, &l->io);
	ev_io_stop(l->loop, &l->lio);
	ev_timer_stop(l->loop, &l->retry);
	mux_free(l->mux);
	vchan_listener_close(l->listener);
	vchan_connect_cancel(l->pc);
	free(l);
}
