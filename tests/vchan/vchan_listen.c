/* tests/vchan/vchan_listen.c - a listener serving many client domains:
 * - bad arguments are refused with EINVAL;
 * - "crowd": client domains connecting at once, several from one domain,
 *   each gets a channel of its own (the listener sees every client once,
 *   under its true domain id, and each client gets its own answer back);
 * - "allow": an allow-list lets listed domains in, by request and through
 *   the plain offer a libxenvchan client uses (again after one was taken),
 *   and keeps others out;
 * - "inuse": a second listener on a live one's port gets EADDRINUSE; a
 *   dead listener's directory is taken over, and the request a client
 *   left waiting there is served by the new one;
 * - "async": vchan_connect_start/step on the store's fd before the
 *   listener exists, and vchan_accept driven by vchan_listener_fd;
 * - "cancel": a cancelled connect withdraws its request.
 * Usage: vchan_listen [SCENARIO [DOMAINS]] (DOMAINS: client domains of the
 * crowd, default 100). */
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/vchan/vtest.h"
#include "xenstore/xs.h"

#define PORT	"lst"
#define FIRST	10u /* first client domain of the crowd */
#define PER_DOM 3u  /* clients in each of the crowd's first domains */

struct hello {
	uint32_t domid;
	uint32_t idx;
	uint64_t nonce;
};

struct ctx {
	struct tu_chan pipe;
	unsigned domains, clients;
	uint32_t idx;
	const char *port;
};

static int limit_ms(void)
{
	return tu_ms(120000);
}

static int bad_args(void)
{
	uint32_t ids[2] = {5, VCHAN_DOMID_SELF};
	uint32_t many[VCHAN_LISTEN_ALLOW_MAX + 1] = {0};

	errno = 0;
	CHECK(vchan_listen("a/b", NULL, 0, 0, 0) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen(NULL, NULL, 0, 0, 0) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen("x", NULL, 1, 0, 0) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen("x", ids, 0, 0, 0) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen("x", ids, 2, 0, 0) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen("x", many, VCHAN_LISTEN_ALLOW_MAX + 1, 0, 0) ==
		  NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_listen("x", NULL, 0, VCHAN_RING_SIZE_MAX + 1, 0) == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_accept(NULL, NULL, 0) == NULL && errno == EINVAL);
	CHECK(vchan_listener_fd(NULL) == -1 && errno == EINVAL);
	CHECK(vchan_listener_close(NULL) == 0);
	errno = 0;
	CHECK(vchan_connect_start(3, "a.b") == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_connect_start(VCHAN_DOMID_SELF, "x") == NULL &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_connect_start_path(3, NULL) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(vchan_connect_step(NULL) == NULL && errno == EINVAL);
	CHECK(vchan_connect_fd(NULL) == -1 && errno == EINVAL);
	CHECK(vchan_connect_timeout(NULL) == -1);
	CHECK(vchan_connect_cancel(NULL) == 0);
	return 0;
}

/* A client: say who we are with a nonce, get the nonce + 1 back. */
static int greet(struct vchan *ch, uint32_t domid, uint32_t idx)
{
	struct hello h = {domid, idx, 0}, back;

	h.nonce = ((uint64_t)getpid() << 32) ^ (uint64_t)tu_now_us();
	CHECK(vchan_send(ch, &h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK(vchan_recv(ch, &back, sizeof(back)) == (ssize_t)sizeof(back));
	CHECK(back.domid == domid && back.idx == idx &&
	      back.nonce == h.nonce + 1);
	return 0;
}

/* The server's half of greet: the client names the domain the listener
 * says it is from. Returns the client's index, or -1. */
static long answer(struct vchan *ch, uint32_t peer)
{
	struct hello h;

	if (vchan_recv(ch, &h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    h.domid != peer) {
		fprintf(stderr, "answer: peer %u said %u (errno %d)\n", peer,
			h.domid, errno);
		return -1;
	}
	h.nonce++;
	if (vchan_send(ch, &h, sizeof(h)) != (ssize_t)sizeof(h))
		return -1;
	return (long)h.idx;
}

static int crowd_client(void *arg)
{
	struct ctx *c = arg;
	const char *d = getenv("VCHAN_DOMID");
	struct vchan *ch;

	ch = vchan_client_connect_port(SRV_DOMID, c->port, limit_ms());
	CHECK(ch != NULL);
	CHECK(greet(ch, (uint32_t)atoi(d), c->idx) == 0);
	CHECK(vchan_close(ch) == 0);
	return 0;
}

static int crowd_server(void *arg)
{
	struct ctx *c = arg;
	struct vchan_listener *l = vchan_listen(c->port, NULL, 0, 1024, 1024);
	unsigned char *seen = calloc(c->clients, 1);
	char go = 1;

	CHECK(l != NULL && seen != NULL);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	for (unsigned k = 0; k < c->clients; k++) {
		uint32_t peer = UINT32_MAX;
		struct vchan *ch = vchan_accept(l, &peer, limit_ms());
		long idx;

		CHECK(ch != NULL);
		idx = answer(ch, peer);
		CHECK(idx >= 0 && (unsigned long)idx < c->clients);
		CHECK(seen[idx] == 0);
		seen[idx] = 1;
		CHECK(vchan_close(ch) == 0);
	}
	CHECK(vchan_listener_close(l) == 0);
	free(seen);
	return 0;
}

/* Client domains FIRST.. connecting at once: the first three domains with
 * PER_DOM clients each, the others with one. */
static int crowd(unsigned domains)
{
	struct ctx c = {.port = "crowd"};
	pid_t s, *k;
	int fails = 0;
	char go;

	c.domains = domains;
	c.clients = domains + 3 * (PER_DOM - 1);
	k = calloc(c.clients, sizeof(*k));
	CHECK(k != NULL && tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, crowd_server, &c);
	CHECK(s > 0);
	CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
	for (c.idx = 0; c.idx < c.clients; c.idx++) {
		uint32_t d =
		    c.idx < 3 * PER_DOM ? c.idx / PER_DOM : c.idx - 2 * PER_DOM;

		k[c.idx] = tu_spawn(FIRST + d, crowd_client, &c);
		CHECK(k[c.idx] > 0);
	}
	for (unsigned i = 0; i < c.clients; i++)
		if (tu_wait(k[i], limit_ms()) != 0) {
			fprintf(stderr, "crowd: client %u failed\n", i);
			fails++;
		}
	if (tu_wait(s, limit_ms()) != 0) {
		fprintf(stderr, "crowd: server failed\n");
		fails++;
	}
	tu_chan_close(&c.pipe);
	free(k);
	return fails ? 1 : 0;
}

/* ---- allow-list ---- */

static int allow_server(void *arg)
{
	struct ctx *c = arg;
	uint32_t ids[2] = {5, 6}, peer;
	struct vchan_listener *l = vchan_listen(PORT, ids, 2, 1024, 1024);
	int got5 = 0, got6 = 0;
	char go = 1;

	CHECK(l != NULL);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	/* Domain 5 by request, domain 6 twice through the plain offer. */
	for (int k = 0; k < 3; k++) {
		struct vchan *ch = vchan_accept(l, &peer, limit_ms());

		CHECK(ch != NULL);
		CHECK(answer(ch, peer) >= 0);
		got5 += peer == 5;
		got6 += peer == 6;
		CHECK(vchan_close(ch) == 0);
	}
	CHECK(got5 == 1 && got6 == 2);
	/* Domain 7 is not let in: nothing more to accept. */
	errno = 0;
	CHECK(vchan_accept(l, &peer, tu_ms(300)) == NULL && errno == ETIMEDOUT);
	errno = 0;
	CHECK(vchan_accept(l, &peer, 0) == NULL && errno == EAGAIN);
	CHECK(vchan_listener_close(l) == 0);
	return 0;
}

static int allow_client5(void *arg)
{
	struct vchan *ch =
	    vchan_client_connect_port(SRV_DOMID, PORT, limit_ms());

	(void)arg;
	CHECK(ch != NULL);
	CHECK(greet(ch, 5, 0) == 0);
	return vchan_close(ch);
}

/* As libxenvchan's client: the usual path, no request. */
static int allow_client6(void *arg)
{
	char path[VCHAN_PATH_MAX];

	(void)arg;
	CHECK(vchan_path(path, sizeof(path), SRV_DOMID, 6, PORT) > 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct vchan *ch;
		int tries = 0;

		/* The listener offers the next plain channel once it has
		 * handed out the last: a client that comes in between finds
		 * the taken page (ECONNREFUSED) and tries again, as a
		 * libxenvchan client of a plain server would. */
		while ((ch = vchan_client_connect(SRV_DOMID, path,
						  limit_ms())) == NULL &&
		       errno == ECONNREFUSED && tries++ < 1000)
			usleep(10000);
		CHECK(ch != NULL);
		CHECK(greet(ch, 6, i) == 0);
		CHECK(vchan_close(ch) == 0);
	}
	return 0;
}

static int allow_client7(void *arg)
{
	(void)arg;
	errno = 0;
	CHECK(vchan_client_connect_port(SRV_DOMID, PORT, tu_ms(500)) == NULL &&
	      (errno == ETIMEDOUT || errno == EACCES));
	return 0;
}

static int allow(void)
{
	struct ctx c = {.port = PORT};
	pid_t s, k5, k6, k7;
	int r5, r6, r7, rs;
	char go;

	CHECK(tu_chan_init(&c.pipe) == 0);
	s = tu_spawn(SRV_DOMID, allow_server, &c);
	CHECK(s > 0);
	CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
	k5 = tu_spawn(5, allow_client5, &c);
	k6 = tu_spawn(6, allow_client6, &c);
	k7 = tu_spawn(7, allow_client7, &c);
	CHECK(k5 > 0 && k6 > 0 && k7 > 0);
	r5 = tu_wait(k5, limit_ms());
	r6 = tu_wait(k6, limit_ms());
	r7 = tu_wait(k7, limit_ms());
	rs = tu_wait(s, limit_ms());
	tu_chan_close(&c.pipe);
	if (r5 || r6 || r7 || rs)
		fprintf(stderr, "allow: 5 %d, 6 %d, 7 %d, server %d\n", r5, r6,
			r7, rs);
	return r5 || r6 || r7 || rs;
}

/* ---- address in use, and a dead listener's port taken over ---- */

static int dies(void *arg)
{
	struct ctx *c = arg;
	char go = 1;

	CHECK(vchan_listen("dead", NULL, 0, 0, 0) != NULL);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	pause(); /* killed here, leaving its directory */
	return 1;
}

static int inuse_client(void *arg)
{
	struct vchan *ch =
	    vchan_client_connect_port(SRV_DOMID, "dead", limit_ms());

	(void)arg;
	CHECK(ch != NULL);
	CHECK(greet(ch, CLI_DOMID, 7) == 0);
	return vchan_close(ch);
}

static int inuse_server(void *arg)
{
	struct vchan_listener *a, *b;
	struct vchan *ch;
	uint32_t peer;

	(void)arg;
	a = vchan_listen("dup", NULL, 0, 0, 0);
	CHECK(a != NULL);
	errno = 0;
	CHECK(vchan_listen("dup", NULL, 0, 0, 0) == NULL &&
	      errno == EADDRINUSE);
	CHECK(vchan_listener_close(a) == 0);
	b = vchan_listen("dup", NULL, 0, 0, 0);
	CHECK(b != NULL);
	CHECK(vchan_listener_close(b) == 0);

	/* The killed one's port: taken over, and its waiting client served. */
	a = vchan_listen("dead", NULL, 0, 0, 0);
	CHECK(a != NULL);
	ch = vchan_accept(a, &peer, limit_ms());
	CHECK(ch != NULL && peer == CLI_DOMID);
	CHECK(answer(ch, peer) == 7);
	CHECK(vchan_close(ch) == 0);
	CHECK(vchan_listener_close(a) == 0);
	return 0;
}

/* Whether the client's request has reached the store: the listener's req/
 * directory is not empty (only the server's domain may list it). */
static int requests(void)
{
	char dir[VCHAN_PATH_MAX + 8];
	vchan_xs *xs = vchan_xs_open();
	size_t n = 0;
	char *names;

	if (xs == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "/local/domain/%u/data/vchan-listen/%s/req",
		 SRV_DOMID, "dead");
	names = vchan_xs_directory(xs, dir, &n);
	free(names);
	vchan_xs_close(xs);
	return names == NULL ? -1 : (int)n;
}

static int wait_request(void *arg)
{
	int64_t end = tu_now_us() + (int64_t)limit_ms() * 1000;

	(void)arg;
	while (requests() < 1) {
		CHECK(tu_now_us() < end);
		usleep(10000);
	}
	return 0;
}

static int inuse(void)
{
	struct ctx c = {.port = "dead"};
	pid_t d, k, w, s;
	int rk, rs;
	char go;

	CHECK(tu_chan_init(&c.pipe) == 0);
	d = tu_spawn(SRV_DOMID, dies, &c);
	CHECK(d > 0);
	CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
	kill(d, SIGKILL);
	CHECK(tu_wait(d, limit_ms()) == 128 + SIGKILL);
	/* A client asks the dead listener, and waits. */
	k = tu_spawn(CLI_DOMID, inuse_client, &c);
	CHECK(k > 0);
	w = tu_spawn(SRV_DOMID, wait_request, &c);
	CHECK(w > 0 && tu_wait(w, limit_ms()) == 0);
	s = tu_spawn(SRV_DOMID, inuse_server, &c);
	CHECK(s > 0);
	rk = tu_wait(k, limit_ms());
	rs = tu_wait(s, limit_ms());
	tu_chan_close(&c.pipe);
	if (rk || rs)
		fprintf(stderr, "inuse: client %d, server %d\n", rk, rs);
	return rk || rs;
}

/* ---- non-blocking both ways ---- */

static int async_client(void *arg)
{
	struct ctx *c = arg;
	struct vchan_connect *cn = vchan_connect_start(SRV_DOMID, "async");
	int64_t end = tu_now_us() + (int64_t)limit_ms() * 1000;
	struct vchan *ch;
	char go = 1;
	int said = 0;

	CHECK(cn != NULL);
	while ((ch = vchan_connect_step(cn)) == NULL) {
		struct pollfd p = {.events = POLLIN};
		int t = vchan_connect_timeout(cn);

		CHECK(errno == EAGAIN && tu_now_us() < end);
		if (!said) {
			/* Waiting: now the server may come. */
			CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
			said = 1;
		}
		p.fd = vchan_connect_fd(cn);
		CHECK(p.fd >= 0);
		CHECK(poll(&p, 1, t >= 0 && t < 1000 ? t : 1000) >= 0);
	}
	CHECK(vchan_connect_cancel(cn) == 0);
	CHECK(said);
	CHECK(greet(ch, CLI_DOMID, 1) == 0);
	return vchan_close(ch);
}

static int async_server(void *arg)
{
	struct vchan_listener *l = vchan_listen("async", NULL, 0, 0, 0);
	int64_t end = tu_now_us() + (int64_t)limit_ms() * 1000;
	struct vchan *ch;
	uint32_t peer;

	(void)arg;
	CHECK(l != NULL);
	while ((ch = vchan_accept(l, &peer, 0)) == NULL) {
		struct pollfd p = {.fd = vchan_listener_fd(l),
				   .events = POLLIN};

		CHECK(errno == EAGAIN && tu_now_us() < end);
		CHECK(poll(&p, 1, 1000) >= 0);
	}
	CHECK(peer == CLI_DOMID && answer(ch, peer) == 1);
	CHECK(vchan_close(ch) == 0);
	return vchan_listener_close(l);
}

static int async(void)
{
	struct ctx c = {.port = "async"};
	pid_t k, s;
	int rk, rs;
	char go;

	CHECK(tu_chan_init(&c.pipe) == 0);
	k = tu_spawn(CLI_DOMID, async_client, &c);
	CHECK(k > 0);
	CHECK(tu_recv(&c.pipe, 0, &go, 1) == 0);
	s = tu_spawn(SRV_DOMID, async_server, &c);
	CHECK(s > 0);
	rk = tu_wait(k, limit_ms());
	rs = tu_wait(s, limit_ms());
	tu_chan_close(&c.pipe);
	if (rk || rs)
		fprintf(stderr, "async: client %d, server %d\n", rk, rs);
	return rk || rs;
}

/* ---- a cancelled connect leaves no request ---- */

static int cancel_client(void *arg)
{
	struct ctx *c = arg;
	struct vchan_connect *cn = vchan_connect_start(SRV_DOMID, "dead");
	char go = 1;

	CHECK(cn != NULL);
	CHECK(vchan_connect_step(cn) == NULL && errno == EAGAIN);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	CHECK(tu_recv(&c->pipe, 1, &go, 1) == 0);
	CHECK(vchan_connect_cancel(cn) == 0);
	return 0;
}

/* The listener's side: one request while the client waits, none after
 * it cancelled. */
static int cancel_server(void *arg)
{
	struct ctx *c = arg;
	struct vchan_listener *l = vchan_listen("dead", NULL, 0, 0, 0);
	char go = 1;

	CHECK(l != NULL);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	CHECK(tu_recv(&c->pipe, 1, &go, 1) == 0);
	CHECK(requests() == 1);
	CHECK(tu_send(&c->pipe, 1, &go, 1) == 0);
	CHECK(tu_recv(&c->pipe, 1, &go, 1) == 0);
	CHECK(requests() == 0);
	errno = 0;
	CHECK(vchan_accept(l, NULL, 0) == NULL && errno == EAGAIN);
	return vchan_listener_close(l);
}

static int cancel(void)
{
	struct ctx sc = {.port = "dead"}, cc = {.port = "dead"};
	int rk, rs;
	pid_t k, s;
	char go;

	CHECK(tu_chan_init(&sc.pipe) == 0 && tu_chan_init(&cc.pipe) == 0);
	s = tu_spawn(SRV_DOMID, cancel_server, &sc);
	CHECK(s > 0);
	CHECK(tu_recv(&sc.pipe, 0, &go, 1) == 0);
	k = tu_spawn(CLI_DOMID, cancel_client, &cc);
	CHECK(k > 0);
	CHECK(tu_recv(&cc.pipe, 0, &go, 1) == 0); /* request posted */
	CHECK(tu_send(&sc.pipe, 0, &go, 1) == 0);
	CHECK(tu_recv(&sc.pipe, 0, &go, 1) == 0); /* seen */
	CHECK(tu_send(&cc.pipe, 0, &go, 1) == 0);
	rk = tu_wait(k, limit_ms());
	CHECK(tu_send(&sc.pipe, 0, &go, 1) == 0);
	rs = tu_wait(s, limit_ms());
	tu_chan_close(&sc.pipe);
	tu_chan_close(&cc.pipe);
	if (rk || rs)
		fprintf(stderr, "cancel: client %d, server %d\n", rk, rs);
	return rk || rs;
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned domains = argc > 2 ? (unsigned)atoi(argv[2]) : 100;
	static const struct {
		const char *name;
		int (*fn)(void);
	} plain[] = {{"bad_args", bad_args},
		     {"allow", allow},
		     {"inuse", inuse},
		     {"async", async},
		     {"cancel", cancel}};
	int fails = 0, r;

	if (domains < 1 || domains > 1000)
		domains = 100;
	if (tu_quick() && argc <= 2)
		domains = 10;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (only != NULL && strcmp(only, plain[i].name) != 0)
			continue;
		r = plain[i].fn();
		printf("%s %s\n", r ? "FAIL" : "ok", plain[i].name);
		fails += r;
	}
	if (only == NULL || strcmp(only, "crowd") == 0) {
		r = crowd(domains);
		printf("%s crowd (%u domains)\n", r ? "FAIL" : "ok", domains);
		fails += r;
	}
	return fails ? 1 : 0;
}
