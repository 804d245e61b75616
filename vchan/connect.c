/* vchan/connect.c - the client's side of setting up a channel: finding
 * the server's offer (a plain server's keys, or a listener that makes one
 * for us on request), waiting for it without blocking, and taking it. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grant/grant.h"
#include "vchan/channel.h"
#include "vchan/ring.h"
#include "vchan/vchan.h"
#include "vchan/wait.h"
#include "xenstore/xs.h"

#define KEY_REF "ring-ref"
#define KEY_EVT "event-channel"
/* grants[] holds at most (4096 - 24) / 4 references. */
#define MAX_GRANTS ((VCHAN_PAGE_SIZE - sizeof(struct vchan_wire)) / 4u)
/* A request node's path and its channel's: the listener's directory,
 * "/req/", "<domid>-<16 hex digits>" and "/channel". */
#define REQ_MAX (VCHAN_PATH_MAX + 48u)
/* Back-off between attempts to post a request that the store turned away
 * for contention or quota: from 1 ms, doubling, at most 1 s, each wait
 * drawn between half and all of it so that a crowd spreads out. */
#define RETRY_MIN_NS 1000000ull
#define RETRY_MAX_NS 1000000000ull

/* A XenStore value that must be a decimal u32 other than 0. */
static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Read one key under dir. Returns 1 with *out set, 0 when it is not there
 * yet, -1 + errno. */
static int read_key(vchan_xs *xs, const char *dir, const char *key,
		    uint32_t *out)
{
	char path[3200];
	char *val;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, key) >=
	    (int)sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	val = vchan_xs_read(xs, path, NULL);
	if (val == NULL)
		return errno == ENOENT ? 0 : -1;
	r = parse_u32(val, out);
	free(val);
	if (r < 0) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

int vchan_read_keys(vchan_xs *xs, const char *dir, uint32_t *ref,
		    uint32_t *port)
{
	int r = read_key(xs, dir, KEY_REF, ref);

	if (r <= 0)
		return r;
	return read_key(xs, dir, KEY_EVT, port);
}

static void drain_watch(vchan_xs *xs)
{
	char *p, *t;

	while (vchan_xs_read_watch(xs, &p, &t) == 1) {
		free(p);
		free(t);
	}
}

/* Whether the page behind `ref` is a server's fresh offer, looked at
 * without taking it. The server's event port accepts one binder only (the
 * sim backend never lets it be bound again), so the page is checked before
 * the port is bound: a client that bound it and only then found the page
 * not for it would leave that server's offer with a port nobody can bind,
 * and the server would never learn why. The two keys are separate reads:
 * while a new server replaces the keys of one that died, a client can read
 * the old page's ref and the new server's port. */
static int page_on_offer(struct vchan *ch, uint32_t server, uint32_t ref)
{
	struct vchan_wire *page =
	    vchan_gnt_map(ch->gnt, server, 1, &ref, 0, NULL);
	uint8_t live;

	if (page == NULL) {
		if (errno == ENOENT)
			errno = ECONNREFUSED;
		return -1;
	}
	live = __atomic_load_n(&page->cli_live, __ATOMIC_ACQUIRE);
	vchan_gnt_unmap(ch->gnt, page, 1);
	if (live != VCHAN_RING_LIVE_WAITING) {
		errno = ECONNREFUSED;
		return -1;
	}
	return 0;
}

/* Take the offer of `server` whose keys were read: the page behind `ref`
 * and the event port `evport`. Returns the channel or NULL + errno. */
static struct vchan *attach(uint32_t server, uint32_t ref, uint32_t evport)
{
	struct vchan_layout lay;
	struct vchan_unmap_notify nt;
	uint32_t refs[MAX_GRANTS];
	unsigned lo, ro;
	struct vchan *ch;
	void *left, *right;
	int port;

	ch = vchan_new_handle(0);
	if (ch == NULL)
		return NULL;
	if (page_on_offer(ch, server, ref) < 0)
		goto fail;
	/* Keys whose port or page is gone are a server that died without
	 * removing them: say so, rather than the layer's EINVAL or ENOENT. */
	port = vchan_evt_bind(ch->evt, server, evport);
	if (port < 0) {
		if (errno == EINVAL)
			errno = ECONNREFUSED;
		goto fail;
	}
	ch->port = (uint32_t)port;

	/* If we die, the server sees cli_live cleared and gets an event. */
	nt.evt = ch->evt;
	nt.port = ch->port;
	nt.offset = offsetof(struct vchan_wire, cli_live);
	ch->page = vchan_gnt_map(ch->gnt, server, 1, &ref, 1, &nt);
	if (ch->page == NULL) {
		if (errno == ENOENT)
			errno = ECONNREFUSED;
		goto fail;
	}

	/* Orders and grants are read once, into our own copies: the server
	 * could change the page under us at any time. */
	vchan_ring_read_orders(ch->page, &lo, &ro);
	if (vchan_ring_layout(lo, ro, &lay) < 0)
		goto fail;
	vchan_ring_read_grants(ch->page, refs,
			       lay.left_pages + lay.right_pages);
	left = vchan_ring_memory(ch, &ch->left, server, lay.left_pages, refs, 1,
				 lay.left_offset);
	if (left == NULL)
		goto fail;
	/* We only read the right ring: map it read-only. */
	right = vchan_ring_memory(ch, &ch->right, server, lay.right_pages,
				  refs + lay.left_pages, 0, lay.right_offset);
	if (right == NULL)
		goto fail;
	if (vchan_ring_client_init(&ch->ring, ch->page, lo, ro, left, right) <
	    0)
		goto fail;
	if (vchan_evt_notify(ch->evt, ch->port) < 0)
		goto fail;
	ch->peer = server;
	if (vchan_watch_peer(ch) < 0)
		goto fail;
	/* Without the watch, the client needs the store no more. */
	if (ch->efd < 0) {
		vchan_xs_close(ch->xs);
		ch->xs = NULL;
	}
	return ch;
fail:
	vchan_free_handle(ch);
	return NULL;
}

struct vchan_connect {
	vchan_xs *xs;
	uint32_t server;
	uint32_t self;
	char *path; /* the plain offer's directory */
	/* A listener's directory ("" for a connect to a path) */
	char listen[VCHAN_PATH_MAX];
	char req[REQ_MAX];  /* our posted request; "" while none */
	char chan[REQ_MAX]; /* its channel's directory */
	uint64_t seed;	    /* makes request names unique */
	uint64_t retry_at;  /* post again then (ns), 0: no retry due */
	uint64_t backoff_ns;
	int watching;
	int denied; /* the plain keys were there but unreadable */
	int limit;  /* the last post met this limit of the store (errno) */
};

/* A pseudo-random 64-bit step (splitmix64): request names and back-off
 * jitter need to differ between clients, not to be secret. */
static uint64_t next_random(uint64_t *seed)
{
	uint64_t z = (*seed += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int set_watches(struct vchan_connect *c)
{
	if (vchan_xs_watch(c->xs, c->path, "vchan-connect") < 0)
		return -1;
	if (c->listen[0] != '\0' &&
	    vchan_xs_watch(c->xs, c->listen, "vchan-connect") < 0)
		return -1;
	c->watching = 1;
	return 0;
}

/* Forget our request; remove it from the store when `remove`. */
static void drop_request(struct vchan_connect *c, int remove)
{
	if (c->req[0] == '\0')
		return;
	if (remove)
		vchan_xs_rm(c->xs, c->req);
	c->req[0] = '\0';
}

/* Post a request to the listener, if there is one that lets us. Returns 1
 * posted (or a retry is due later), 0 no listener for us, -1 + errno. */
static int post_request(struct vchan_connect *c)
{
	struct vchan_xs_perm acl = {c->server, VCHAN_XS_BOTH};
	char *v;
	int n;

	if (c->retry_at != 0 && vchan_now_ns() < c->retry_at)
		return 1;
	c->retry_at = 0;
	v = vchan_xs_read(c->xs, c->listen, NULL);
	if (v == NULL)
		return errno == ENOENT || errno == EACCES ? 0 : -1;
	free(v);
	n = snprintf(c->req, sizeof(c->req), "%s/req/%u-%016llx", c->listen,
		     (unsigned)c->self,
		     (unsigned long long)next_random(&c->seed));
	if (n < 0 || (size_t)n >= sizeof(c->req) ||
	    snprintf(c->chan, sizeof(c->chan), "%s/channel", c->req) >=
		(int)sizeof(c->chan)) {
		c->req[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Ours, readable and removable by the listener: the owner is how
	 * the listener knows who asks (docs/vchan-wire.md). */
	if (vchan_xs_publish_acl(c->xs, c->req, NULL, 0, VCHAN_XS_NONE, &acl,
				 1) == 0) {
		c->backoff_ns = 0;
		c->limit = 0;
		return 1;
	}
	c->req[0] = '\0';
	switch (errno) {
	case ENOENT:
	case EACCES:
		/* The listener went, or does not let us in. */
		return 0;
	case EAGAIN:
	case EDQUOT:
	case EBUSY:
	case ENOSPC:
		/* A crowd at the store: try again a little later. A quota
		 * (EDQUOT) may be one of transactions, which passes: it is
		 * named if the attempt runs out of time before. */
		c->limit = errno == EAGAIN ? 0 : errno;
		c->backoff_ns = c->backoff_ns == 0 ? RETRY_MIN_NS
				: c->backoff_ns >= RETRY_MAX_NS / 2
				    ? RETRY_MAX_NS
				    : 2 * c->backoff_ns;
		c->retry_at = vchan_now_ns() + c->backoff_ns / 2 +
			      next_random(&c->seed) % (c->backoff_ns / 2 + 1);
		return 1;
	default:
		return -1;
	}
}

/* One look at the store. Returns 1 with *out set (connected), 0 nothing
 * to take yet, -1 + errno. */
static int try_connect(struct vchan_connect *c, struct vchan **out)
{
	uint32_t ref, evport;
	int r;

	if (c->listen[0] != '\0') {
		if (c->req[0] != '\0') {
			char *v;

			r = vchan_read_keys(c->xs, c->chan, &ref, &evport);
			if (r == 1) {
				*out = attach(c->server, ref, evport);
				if (*out != NULL)
					return 1;
				/* A dead listener's keys, or an offer taken
				 * back under us: wait for the next one. */
				if (errno != ECONNREFUSED)
					return -1;
			} else if (r < 0 && errno != EACCES) {
				return -1;
			}
			v = vchan_xs_read(c->xs, c->req, NULL);
			if (v != NULL) {
				free(v);
				return 0;
			}
			if (errno != ENOENT)
				return -1;
			/* The listener took our request back (it closed,
			 * or gave up waiting for us): ask again. */
			drop_request(c, 0);
		}
		r = post_request(c);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	r = vchan_read_keys(c->xs, c->path, &ref, &evport);
	if (r < 0 && errno == EACCES) {
		/* xenstored answers EACCES for a missing key under a
		 * directory we may not read (one a server of ours left
		 * behind), just as for a key we may not read: keep waiting
		 * for keys we can read, and say "denied" only if none come
		 * in time. */
		c->denied = 1;
		return 0;
	}
	if (r <= 0)
		return r;
	*out = attach(c->server, ref, evport);
	return *out != NULL ? 1 : -1;
}

/* vchan_connect_step; watches are set only when `watch` (a connect that
 * will not wait needs none). */
static struct vchan *step(struct vchan_connect *c, int watch)
{
	struct vchan *ch = NULL;

	for (;;) {
		int r;

		/* Take the events first: a change after this is signalled
		 * on the fd, so the look below cannot miss it. */
		if (c->watching)
			drain_watch(c->xs);
		r = try_connect(c, &ch);
		if (r > 0)
			return ch;
		if (r < 0)
			return NULL;
		/* A server already there needs no watch (nor, on the
		 * simulator, the inotify instance one costs): watch only
		 * now, then look once more. */
		if (c->watching || !watch) {
			errno = EAGAIN;
			return NULL;
		}
		if (set_watches(c) < 0)
			return NULL;
	}
}

static struct vchan_connect *start(uint32_t server, const char *path,
				   const char *port)
{
	struct vchan_connect *c;
	int self;

	char buf[VCHAN_PATH_MAX];

	if (path == NULL &&
	    (!vchan_port_ok(port) || server >= VCHAN_DOMID_SELF)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->server = server;
	c->xs = vchan_xs_open();
	if (c->xs == NULL)
		goto fail;
	self = vchan_xs_domid(c->xs);
	if (self < 0)
		goto fail;
	c->self = (uint32_t)self;
	c->seed = vchan_now_ns() ^ ((uint64_t)getpid() << 32) ^
		  (uint64_t)(uintptr_t)c;
	if (path == NULL) {
		if (vchan_build_path(c->xs, buf, sizeof(buf), server, c->self,
				     port) < 0 ||
		    vchan_listen_path(c->listen, sizeof(c->listen), server,
				      port) < 0)
			goto fail;
		path = buf;
	}
	c->path = strdup(path);
	if (c->path == NULL)
		goto fail;
	return c;
fail:
	vchan_connect_cancel(c);
	return NULL;
}

struct vchan_connect *vchan_connect_start(uint32_t server, const char *port)
{
	return start(server, NULL, port);
}

struct vchan_connect *vchan_connect_start_path(uint32_t server,
					       const char *path)
{
	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return start(server, path, NULL);
}

struct vchan *vchan_connect_step(struct vchan_connect *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return step(c, 1);
}

int vchan_connect_fd(const struct vchan_connect *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	return vchan_xs_fd(c->xs);
}

int vchan_connect_timeout(const struct vchan_connect *c)
{
	uint64_t now;

	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (c->retry_at == 0)
		return -1;
	now = vchan_now_ns();
	return now >= c->retry_at
		   ? 0
		   : (int)((c->retry_at - now + 999999u) / 1000000u);
}

int vchan_connect_requested(const struct vchan_connect *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	return c->req[0] != '\0' || c->retry_at != 0;
}

int vchan_connect_cancel(struct vchan_connect *c)
{
	int saved = errno;

	if (c == NULL)
		return 0;
	if (c->xs != NULL) {
		drop_request(c, 1);
		vchan_xs_close(c->xs);
	}
	free(c->path);
	free(c);
	errno = saved;
	return 0;
}

/* The blocking connect: steps, sleeping on the store's fd in between. */
static struct vchan *client_connect(uint32_t server, const char *path,
				    const char *port, int timeout_ms)
{
	uint64_t deadline =
	    vchan_now_ns() +
	    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
	struct vchan_connect *c;
	struct vchan *ch;
	int err;

	if (timeout_ms < -1) {
		errno = EINVAL;
		return NULL;
	}
	c = start(server, path, port);
	if (c == NULL)
		return NULL;
	for (;;) {
		struct pollfd pfd = {.fd = -1, .events = POLLIN};
		int wait_ms = -1, retry;

		ch = step(c, timeout_ms != 0);
		if (ch != NULL || errno != EAGAIN)
			break;
		if (timeout_ms >= 0) {
			uint64_t now = vchan_now_ns();

			if (now >= deadline) {
				errno = c->denied  ? EACCES
					: c->limit ? c->limit
						   : ETIMEDOUT;
				break;
			}
			wait_ms = (int)((deadline - now + 999999u) / 1000000u);
		}
		retry = vchan_connect_timeout(c);
		if (retry >= 0 && (wait_ms < 0 || retry < wait_ms))
			wait_ms = retry;
		pfd.fd = vchan_xs_fd(c->xs);
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
			break;
	}
	err = errno;
	vchan_connect_cancel(c);
	errno = err;
	return ch;
}

struct vchan *vchan_client_connect(uint32_t server, const char *path,
				   int timeout_ms)
{
	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return client_connect(server, path, NULL, timeout_ms);
}

struct vchan *vchan_client_connect_port(uint32_t server, const char *port,
					int timeout_ms)
{
	return client_connect(server, NULL, port, timeout_ms);
}
