/* examples/mux/link.c - a mux kept up on a libev loop (see link.h). */
#include "config.h"

#include <errno.h>
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

/* Set up a channel. Returns 0 or -1 + errno. */
static int establish(struct mux_link *l)
{
	struct vchan *ch;
	int peer = vchan_domid_lookup(l->peer);

	if (peer < 0)
		return -1;
	if (l->server)
		ch = vchan_path(l->path, sizeof(l->path), VCHAN_DOMID_SELF,
				(uint32_t)peer, l->port) < 0
			 ? NULL
			 : vchan_server_create(peer, l->path, l->ring, l->ring);
	else
		ch = vchan_path(l->path, sizeof(l->path), (uint32_t)peer,
				VCHAN_DOMID_SELF, l->port) < 0
			 ? NULL
			 : vchan_client_connect(peer, l->path, 0);
	if (ch == NULL)
		return -1;
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
	if (!l->held) {
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
	ev_timer_stop(l->loop, &l->retry);
	mux_free(l->mux);
	free(l);
}
