/* vchan/listen.c - a listener: one port offered to many client domains,
 * each served on a channel of its own, made when the client asks for it.
 *
 * The rendezvous (docs/vchan-wire.md, "Listener"): the listener publishes
 * its directory /local/domain/<self>/data/vchan-listen/<port>, readable by
 * the domains it lets in, with an "event-channel" key that names a port it
 * holds while it lives (so that a second listener can tell a live one from
 * a dead one's leftovers), and under it a "req" directory those domains may
 * create nodes in. A client creates req/<its domid>-<nonce>, owned by it
 * and removable by us; XenStore records the creator as the owner and lets
 * no unprivileged domain give a node away, so the owner names the client
 * truthfully. We answer with an ordinary server channel for that domain,
 * published under the request (req/<name>/channel), and hand it out once
 * the client has connected. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "grant/backend.h"
#include "grant/grant.h"
#include "vchan/channel.h"
#include "vchan/vchan.h"
#include "vchan/wait.h"
#include "xenstore/xs.h"

/* Offers not yet taken, per client domain: more requests of a domain wait
 * their turn, so that one domain cannot make us hold unbounded pages,
 * ports and descriptors. */
#define OFFERS_PER_DOMAIN 8u
/* An offer made on request and not taken in this time is withdrawn: its
 * client died between asking and connecting. A live client whose request
 * vanished asks again, so a slow one loses nothing but time. */
#define OFFER_TTL_NS 10000000000ull
#define TOKEN	     "vchan-listen"

struct offer {
	struct vchan *ch;
	uint32_t dom;
	char *req;	/* request node's name under req/; NULL: plain offer */
	uint64_t since; /* made then (ns) */
	int seen;	/* scratch of scan(): still requested */
};

struct vchan_listener {
	vchan_xs *xs;
	vchan_evt *evt; /* holds the liveness port */
	uint32_t self;
	char dir[VCHAN_PATH_MAX];
	char reqdir[VCHAN_PATH_MAX + 8];
	char port[VCHAN_PORT_MAX + 1];
	size_t read_min, write_min;
	uint32_t allow[VCHAN_LISTEN_ALLOW_MAX];
	size_t nallow; /* 0: any domain */
	struct offer *off;
	size_t n, cap;
	int efd;       /* epoll set: the store's fd and every offer's */
	int rescan;    /* look at req/ again even without an event */
	int replenish; /* a plain offer could not be made again: retry */
};

int vchan_listen_path(char *buf, size_t size, uint32_t server, const char *port)
{
	int n;

	if (buf == NULL || !vchan_port_ok(port) || server >= VCHAN_DOMID_SELF) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(buf, size, "/local/domain/%u/data/vchan-listen/%s",
		     (unsigned)server, port);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

static int allowed(const struct vchan_listener *l, uint32_t dom)
{
	if (l->nallow == 0)
		return 1;
	for (size_t i = 0; i < l->nallow; i++)
		if (l->allow[i] == dom)
			return 1;
	return 0;
}

static size_t offers_of(const struct vchan_listener *l, uint32_t dom)
{
	size_t k = 0;

	for (size_t i = 0; i < l->n; i++)
		k += l->off[i].dom == dom;
	return k;
}

/* Add an offer to the list and its fd to the epoll set. The channel is
 * closed on failure. */
static int add_offer(struct vchan_listener *l, struct vchan *ch, uint32_t dom,
		     const char *req)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct offer *o;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct offer *more = realloc(l->off, cap * sizeof(*more));

		if (more == NULL)
			goto fail;
		l->off = more;
		l->cap = cap;
	}
	o = &l->off[l->n];
	o->ch = ch;
	o->dom = dom;
	o->since = vchan_now_ns();
	o->seen = 1;
	o->req = NULL;
	if (req != NULL && (o->req = strdup(req)) == NULL)
		goto fail;
	ev.data.fd = vchan_fd(ch);
	if (epoll_ctl(l->efd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		free(o->req);
		goto fail;
	}
	l->n++;
	return 0;
fail:
	vchan_close(ch);
	return -1;
}

/* Take offer i off the list; returns its channel (the caller's now). */
static struct vchan *remove_offer(struct vchan_listener *l, size_t i)
{
	struct vchan *ch = l->off[i].ch;

	epoll_ctl(l->efd, EPOLL_CTL_DEL, vchan_fd(ch), NULL);
	free(l->off[i].req);
	l->off[i] = l->off[--l->n];
	return ch;
}

/* Remove request `name` from the store: served, refused or withdrawn. */
static void remove_request(struct vchan_listener *l, const char *name)
{
	char path[VCHAN_PATH_MAX + 300];

	if (snprintf(path, sizeof(path), "%s/%s", l->reqdir, name) <
	    (int)sizeof(path))
		vchan_xs_rm(l->xs, path);
}

/* Withdraw offer i: its request is removed and its channel closed. */
static void withdraw(struct vchan_listener *l, size_t i)
{
	if (l->off[i].req != NULL)
		remove_request(l, l->off[i].req);
	vchan_close(remove_offer(l, i));
	/* A request of that domain may have waited for the room. */
	l->rescan = 1;
}

/* The plain offer for an allowed domain, at the usual path. */
static int plain_offer(struct vchan_listener *l, uint32_t dom)
{
	struct vchan *ch =
	    vchan_server_create_port(dom, l->port, l->read_min, l->write_min);

	if (ch == NULL)
		return -1;
	return add_offer(l, ch, dom, NULL);
}

/* "<domid>-<nonce>": the domain id, or -1 for a name of another form. */
static long request_domain(const char *name)
{
	unsigned long v = 0;
	const char *p = name;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= VCHAN_DOMID_SELF)
			return -1;
	}
	return *p == '-' && p[1] != '\0' ? (long)v : -1;
}

/* Serve one request we have not seen before. */
static void new_request(struct vchan_listener *l, const char *name)
{
	char node[VCHAN_PATH_MAX + 300], chan[VCHAN_PATH_MAX + 320];
	long dom = request_domain(name);
	struct vchan *ch;
	int owner;

	if (snprintf(node, sizeof(node), "%s/%s", l->reqdir, name) >=
		(int)sizeof(node) ||
	    snprintf(chan, sizeof(chan), "%s/channel", node) >=
		(int)sizeof(chan))
		return;
	owner = vchan_xs_owner(l->xs, node);
	if (owner < 0)
		return; /* gone again */
	/* A name that is not its creator's, or a domain we do not serve:
	 * nobody we answer (only a buggy or hostile client makes one). */
	if (dom < 0 || owner != dom || !allowed(l, (uint32_t)dom)) {
		vchan_xs_rm(l->xs, node);
		return;
	}
	if (offers_of(l, (uint32_t)dom) >= OFFERS_PER_DOMAIN)
		return; /* its turn comes when one of them goes */
	ch =
	    vchan_server_create((uint32_t)dom, chan, l->read_min, l->write_min);
	/* A request that vanished meanwhile (EACCES, ENOENT) needs nothing;
	 * any other failure leaves it for the next look. */
	if (ch != NULL)
		add_offer(l, ch, (uint32_t)dom, name);
}

/* Compare the requests in the store with our offers. */
static void scan(struct vchan_listener *l)
{
	size_t count = 0;
	char *names, *name;

	l->rescan = 0;
	names = vchan_xs_directory(l->xs, l->reqdir, &count);
	if (names == NULL && errno != ENOENT) {
		l->rescan = 1;
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		l->off[i].seen = l->off[i].req == NULL;
	name = names;
	for (size_t k = 0; k < count; k++, name += strlen(name) + 1) {
		size_t i;

		for (i = 0; i < l->n; i++)
			if (l->off[i].req != NULL &&
			    strcmp(l->off[i].req, name) == 0)
				break;
		if (i < l->n)
			l->off[i].seen = 1;
		else
			new_request(l, name);
	}
	free(names);
	/* A request that went away: its client gave up, unless it had
	 * connected already (then it is ours to hand out). */
	for (size_t i = l->n; i-- > 0;)
		if (!l->off[i].seen &&
		    vchan_is_open(l->off[i].ch) == VCHAN_WAITING)
			withdraw(l, i);
}

/* Consume the events of every offer and take one whose client came.
 * Returns it, or NULL. */
static struct vchan *take(struct vchan_listener *l, uint32_t *peer)
{
	uint64_t now = vchan_now_ns();

	for (size_t i = 0; i < l->n; i++) {
		struct offer *o = &l->off[i];
		struct vchan *ch;
		uint32_t dom;
		int plain;

		/* Left pending, an event would keep the epoll set readable. */
		vchan_wait(o->ch, 0);
		if (vchan_is_open(o->ch) == VCHAN_WAITING) {
			if (o->req != NULL && now - o->since > OFFER_TTL_NS)
				withdraw(l, i--);
			continue;
		}
		/* Connected, or even gone again: whatever the client wrote
		 * is in the rings, and the caller must see it. */
		dom = o->dom;
		plain = o->req == NULL;
		/* Its keys go now: a plain offer's path gets the next offer,
		 * which the channel's close must not remove. */
		vchan_unpublish(o->ch);
		if (o->req != NULL)
			remove_request(l, o->req);
		ch = remove_offer(l, i);
		/* A plain offer taken: the next one at its path. */
		if (plain && plain_offer(l, dom) < 0)
			l->replenish = 1;
		l->rescan = 1;
		if (peer != NULL)
			*peer = dom;
		return ch;
	}
	return NULL;
}

/* Make again the plain offers an allow-list keeps, where one is missing. */
static void replenish(struct vchan_listener *l)
{
	l->replenish = 0;
	for (size_t i = 0; i < l->nallow; i++) {
		int have = 0;

		for (size_t k = 0; k < l->n; k++)
			have |= l->off[k].req == NULL &&
				l->off[k].dom == l->allow[i];
		if (!have && plain_offer(l, l->allow[i]) < 0)
			l->replenish = 1;
	}
}

static int drain_watch(vchan_xs *xs)
{
	char *p, *t;
	int fired = 0;

	while (vchan_xs_read_watch(xs, &p, &t) == 1) {
		free(p);
		free(t);
		fired = 1;
	}
	return fired;
}

/* Milliseconds until the oldest requested offer expires, or -1. */
static int next_expiry(const struct vchan_listener *l)
{
	uint64_t now = vchan_now_ns(), first = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->off[i].req != NULL &&
		    (first == 0 || l->off[i].since < first))
			first = l->off[i].since;
	if (first == 0)
		return -1;
	if (now >= first + OFFER_TTL_NS)
		return 0;
	return (int)((first + OFFER_TTL_NS - now + 999999u) / 1000000u);
}

struct vchan *vchan_accept(struct vchan_listener *l, uint32_t *peer,
			   int timeout_ms)
{
	uint64_t deadline =
	    vchan_now_ns() +
	    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;

	if (l == NULL || timeout_ms < -1) {
		errno = EINVAL;
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = {.fd = l->efd, .events = POLLIN};
		struct vchan *ch;
		int wait_ms = -1, exp;

		if (drain_watch(l->xs) || l->rescan)
			scan(l);
		if (l->replenish)
			replenish(l);
		ch = take(l, peer);
		if (ch != NULL)
			return ch;
		if (timeout_ms == 0) {
			errno = EAGAIN;
			return NULL;
		}
		if (timeout_ms > 0) {
			uint64_t now = vchan_now_ns();

			if (now >= deadline) {
				errno = ETIMEDOUT;
				return NULL;
			}
			wait_ms = (int)((deadline - now + 999999u) / 1000000u);
		}
		exp = next_expiry(l);
		if (exp >= 0 && (wait_ms < 0 || exp < wait_ms))
			wait_ms = exp;
		if (poll(&pfd, 1, wait_ms) < 0)
			return NULL;
	}
}

int vchan_listener_fd(const struct vchan_listener *l)
{
	if (l == NULL) {
		errno = EINVAL;
		return -1;
	}
	return l->efd;
}

int vchan_listener_close(struct vchan_listener *l)
{
	int err = 0, saved = errno;

	if (l == NULL)
		return 0;
	/* The directory first: no client asks any more, and every pending
	 * request and its keys go with it. */
	if (l->xs != NULL && l->dir[0] != '\0' &&
	    vchan_xs_rm(l->xs, l->dir) < 0)
		err = errno;
	while (l->n > 0)
		vchan_close(remove_offer(l, l->n - 1));
	free(l->off);
	if (l->efd >= 0)
		close(l->efd);
	vchan_evt_close(l->evt);
	vchan_xs_close(l->xs);
	free(l);
	if (err != 0) {
		errno = err;
		return -1;
	}
	errno = saved;
	return 0;
}

/* Whether a live listener holds the directory: its "event-channel" names
 * a port of ours that a live process holds (the rule of servers' keys). */
static int in_use(struct vchan_listener *l)
{
	char path[VCHAN_PATH_MAX + 16], *v, *end;
	unsigned long port;

	snprintf(path, sizeof(path), "%s/event-channel", l->dir);
	v = vchan_xs_read(l->xs, path, NULL);
	if (v == NULL)
		return 0;
	port = strtoul(v, &end, 10);
	if (*v == '\0' || *end != '\0' || port == 0 || port > UINT32_MAX) {
		free(v);
		return 0;
	}
	free(v);
	return vchan_evt_port_held(l->evt, (uint32_t)port) == 1;
}

/* The listener's directory and its req/ directory, with the access the
 * allow-list (or its absence) gives. */
static int publish(struct vchan_listener *l, uint32_t token)
{
	struct vchan_xs_perm acl[VCHAN_LISTEN_ALLOW_MAX];
	char sport[16];
	struct vchan_xs_kv kv = {"event-channel", sport};
	unsigned any = l->nallow == 0;

	snprintf(sport, sizeof(sport), "%u", (unsigned)token);
	for (size_t i = 0; i < l->nallow; i++)
		acl[i] = (struct vchan_xs_perm){l->allow[i], VCHAN_XS_READ};
	if (vchan_xs_publish_acl(l->xs, l->dir, &kv, 1,
				 any ? VCHAN_XS_READ : VCHAN_XS_NONE, acl,
				 l->nallow) < 0)
		return -1;
	/* Write, not read: a client may add its request, but not list who
	 * else asks. */
	for (size_t i = 0; i < l->nallow; i++)
		acl[i].acc = VCHAN_XS_WRITE;
	return vchan_xs_publish_acl(l->xs, l->reqdir, NULL, 0,
				    any ? VCHAN_XS_WRITE : VCHAN_XS_NONE, acl,
				    l->nallow);
}

struct vchan_listener *vchan_listen(const char *port, const uint32_t *allow,
				    size_t n_allow, size_t read_min,
				    size_t write_min)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct vchan_listener *l;
	unsigned lo, ro;
	int self, token;

	if (!vchan_port_ok(port) || n_allow > VCHAN_LISTEN_ALLOW_MAX ||
	    (allow == NULL) != (n_allow == 0)) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < n_allow; i++)
		if (allow[i] >= VCHAN_DOMID_SELF) {
			errno = EINVAL;
			return NULL;
		}
	/* Sizes are checked now rather than at the first request. */
	if (vchan_ring_orders(read_min, write_min, &lo, &ro) < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->efd = -1;
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->read_min = read_min;
	l->write_min = write_min;
	if (n_allow > 0)
		memcpy(l->allow, allow, n_allow * sizeof(*allow));
	l->nallow = n_allow;
	l->xs = vchan_xs_open();
	if (l->xs == NULL)
		goto fail;
	l->evt = vchan_evt_open();
	if (l->evt == NULL)
		goto fail;
	self = vchan_xs_domid(l->xs);
	if (self < 0 ||
	    vchan_listen_path(l->dir, sizeof(l->dir), (uint32_t)self, port) < 0)
		goto fail;
	l->self = (uint32_t)self;
	snprintf(l->reqdir, sizeof(l->reqdir), "%s/req", l->dir);
	if (in_use(l)) {
		l->dir[0] = '\0'; /* not ours to remove */
		errno = EADDRINUSE;
		goto fail;
	}
	/* Held while we live: the liveness key's port. */
	token = vchan_evt_alloc_unbound(l->evt, l->self);
	if (token < 0)
		goto fail;
	l->efd = epoll_create1(EPOLL_CLOEXEC);
	if (l->efd < 0)
		goto fail;
	if (publish(l, (uint32_t)token) < 0)
		goto fail;
	if (vchan_xs_watch(l->xs, l->reqdir, TOKEN) < 0)
		goto fail;
	ev.data.fd = vchan_xs_fd(l->xs);
	if (epoll_ctl(l->efd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		goto fail;
	for (size_t i = 0; i < n_allow; i++)
		if (plain_offer(l, allow[i]) < 0)
			goto fail;
	/* Requests a dead listener left are served too. */
	l->rescan = 1;
	return l;
fail:
	vchan_listener_close(l);
	return NULL;
}
