/* examples/mux/link.h - a mux kept up on a libev loop.
 *
 * The web domain offers the channel (server) and the TLS terminator
 * connects to it (client); both run it the same way: watch its event fd,
 * run the mux when it fires, and when the channel breaks (the peer died or
 * broke the protocol) free it and set up a new one shortly after, until
 * told to stop. This module does that, so that each program only handles
 * its streams.
 */
#ifndef EXAMPLES_MUX_LINK_H
#define EXAMPLES_MUX_LINK_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "examples/mux/mux.h"

struct mux_link;

struct mux_link_cb {
	/* A channel is up: `m` carries the streams until down is called. The
	 * link owns it. */
	void (*up)(void *ctx, struct mux *m);
	/* The channel has broken (err EPIPE: the peer went; EPROTO: it broke
	 * the protocol). Its streams are gone; the mux is dead (its calls
	 * fail) and is freed when this returns: forget it here. */
	void (*down)(void *ctx, int err);
	/* A run of the mux has delivered what arrived (after its callbacks). */
	void (*ran)(void *ctx);
};

/* Keep a mux on the channel named `port` with domain `peer`, running on
 * `loop`. `peer` is a domain id or a domain's name (vchan_domid_lookup),
 * looked up again for each new channel: a peer domain created again under
 * its name is found at its new id. A server (`server` non-zero) offers
 * the channel with rings of `ring` bytes each way, at once: when that
 * fails, NULL + errno is returned. A server whose `peer` is "*" listens
 * (vchan_listen) for a peer of any domain, one at a time. A client tries
 * to connect now and then every so often until the server (or its
 * listener) is there (`ring` is unused). `ops` are
 * the mux's stream callbacks and `cb` the link's; both, and `ctx`, are
 * borrowed; `peer` and `port` are copied. Returns the link or NULL +
 * errno. */
struct mux_link *mux_link_new(struct ev_loop *loop, int server,
			      const char *peer, const char *port, size_t ring,
			      const struct mux_ops *ops,
			      const struct mux_link_cb *cb, void *ctx);

/* The XenStore path of the current channel, or of the last one tried ("" before
 * the first try). Belongs to the link. */
const char *mux_link_path(const struct mux_link *l);

/* No new channel after this one (a stopping program); the current one, if
 * any, stays until it breaks or the link is freed. */
void mux_link_hold(struct mux_link *l);

/* Stop watching, free the mux (no callback is called) and the link. NULL
 * is accepted. Not from a callback. */
void mux_link_free(struct mux_link *l);

#endif
