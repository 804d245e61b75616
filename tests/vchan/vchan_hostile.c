/* tests/vchan/vchan_hostile.c - a hostile peer plays the other side of the
 * shared page by hand (grant.h and xs.h only) and, between proper moves,
 * writes garbage into the indexes, orders, notify and live bytes at random
 * moments. Our side (once client, once server) must return correct data or
 * fail with EPROTO (or EPIPE once the peer is gone): never crash (run it
 * under ASan), never hang (every wait is bounded).
 *
 * Every ring byte at position p holds p & 0xff, written so by the hostile
 * side, so whatever indexes it shows, bytes we read must count up by one:
 * a read outside the ring or out of order breaks the count. */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "grant/grant.h"
#include "tests/vchan/vtest.h"
#include "vchan/ring.h"
#include "xenstore/xs.h"

#define ROUNDS	 24
#define ROUND_MS 150
#define LIMIT_MS 60000

struct ctx {
	char path[256];
	unsigned seed;
	unsigned lo, ro;
	int hostile_server;
};

/* One ring as the hostile side drives it. */
struct hring {
	uint32_t *cons;
	uint32_t *prod;
	uint8_t *buf;
	uint32_t size;
	uint32_t mine; /* our producer index, kept privately */
};

static void pattern(struct hring *r)
{
	for (uint32_t p = 0; p < r->size; p++)
		r->buf[p] = (uint8_t)p;
}

/* Produce a few bytes properly (the pattern is already there: only the
 * index moves), or consume everything. */
static void produce(struct hring *r, unsigned *seed)
{
	uint32_t cons = __atomic_load_n(r->cons, __ATOMIC_ACQUIRE);
	uint32_t used = r->mine - cons;

	if (used > r->size)
		return;
	r->mine += (uint32_t)rand_r(seed) % (r->size - used + 1);
	__atomic_store_n(r->prod, r->mine, __ATOMIC_RELEASE);
}

static void consume(struct hring *r)
{
	__atomic_store_n(r->cons, __atomic_load_n(r->prod, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

/* Scribble on the page header: a random byte, a random index, or an index
 * that is certainly impossible. */
static void garbage(struct vchan_wire *pg, struct hring *rd, unsigned *seed)
{
	uint8_t *b = (uint8_t *)pg;

	switch (rand_r(seed) % 4) {
	case 0:
		b[(unsigned)rand_r(seed) % 24] = (uint8_t)rand_r(seed);
		break;
	case 1:
		((uint32_t *)b)[(unsigned)rand_r(seed) % 4] =
		    (uint32_t)rand_r(seed) * 2654435761u;
		break;
	case 2:
		/* More data than the ring holds. */
		__atomic_store_n(
		    rd == NULL ? &pg->left.prod : rd->prod,
		    __atomic_load_n(rd == NULL ? &pg->left.cons : rd->cons,
				    __ATOMIC_RELAXED) +
			(1u << 21),
		    __ATOMIC_RELEASE);
		break;
	default:
		pg->left_order = (uint16_t)(rand_r(seed) % 24);
		break;
	}
}

/* The hostile side's loop, on a page whose rings are set up. */
static void misbehave(vchan_evt *evt, uint32_t port, struct vchan_wire *pg,
		      struct hring *mine_wr, struct hring *mine_rd,
		      unsigned seed)
{
	int64_t end = tu_now_us() + 10 * 1000000;

	/* The round starts when the peer is in (bounded). */
	while (__atomic_load_n(&pg->cli_live, __ATOMIC_RELAXED) == 2 &&
	       tu_now_us() < end)
		usleep(1000);
	end = tu_now_us() + ROUND_MS * 1000;

	while (tu_now_us() < end) {
		int what = rand_r(&seed) % 10;

		if (what < 4)
			produce(mine_wr, &seed);
		else if (what < 8)
			consume(mine_rd);
		else if (what == 8 && rand_r(&seed) % 4 == 0 &&
			 __atomic_load_n(&pg->cli_live, __ATOMIC_RELAXED) != 2)
			/* Only once the peer is in: before that, a lie about
			 * the orders is just a different (valid) layout. */
			garbage(pg, mine_wr, &seed);
		vchan_evt_notify(evt, port);
		while (vchan_evt_pending(evt) > 0)
			;
		usleep((useconds_t)(rand_r(&seed) % 300));
	}
}

static void ring_of(struct hring *r, struct vchan_wire_ring *w, void *buf,
		    unsigned order)
{
	r->cons = &w->cons;
	r->prod = &w->prod;
	r->buf = buf;
	r->size = 1u << order;
	r->mine = 0;
}

static int hostile_server(void *arg)
{
	struct ctx *c = arg;
	vchan_gnt *gnt = vchan_gnt_open();
	vchan_evt *evt = vchan_evt_open();
	vchan_xs *xs = vchan_xs_open();
	struct vchan_layout lay;
	struct vchan_unmap_notify nt;
	struct hring left, right;
	struct vchan_wire *pg;
	uint32_t ref;
	char sref[16], sevt[16];
	struct vchan_xs_kv kv[2] = {{"ring-ref", sref},
				    {"event-channel", sevt}};
	void *lb, *rb;
	int port;

	CHECK(gnt != NULL && evt != NULL && xs != NULL);
	CHECK(vchan_ring_layout(c->lo, c->ro, &lay) == 0);
	port = vchan_evt_alloc_unbound(evt, CLI_DOMID);
	CHECK(port > 0);
	nt.evt = evt;
	nt.port = (uint32_t)port;
	nt.offset = offsetof(struct vchan_wire, srv_live);
	pg = vchan_gnt_share(gnt, CLI_DOMID, 1, &ref, 1, &nt);
	CHECK(pg != NULL);
	lb = lay.left_pages ? vchan_gnt_share(gnt, CLI_DOMID, lay.left_pages,
					      pg->grants, 1, NULL)
			    : (uint8_t *)pg + lay.left_offset;
	rb = lay.right_pages
		 ? vchan_gnt_share(gnt, CLI_DOMID, lay.right_pages,
				   pg->grants + lay.left_pages, 1, NULL)
		 : (uint8_t *)pg + lay.right_offset;
	CHECK(lb != NULL && rb != NULL);
	ring_of(&left, &pg->left, lb, c->lo);
	ring_of(&right, &pg->right, rb, c->ro);
	pattern(&right);
	pg->left_order = (uint16_t)c->lo;
	pg->right_order = (uint16_t)c->ro;
	pg->cli_live = 2;
	pg->srv_live = 1;
	pg->cli_notify = VCHAN_RING_NOTIFY_WRITE;
	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sevt, sizeof(sevt), "%d", port);
	CHECK(vchan_xs_publish(xs, c->path, kv, 2, CLI_DOMID) == 0);
	misbehave(evt, (uint32_t)port, pg, &right, &left, c->seed);
	/* Leave without a word: dropping the shares clears srv_live through
	 * the unmap notification, as dying would. */
	vchan_gnt_close(gnt);
	vchan_evt_close(evt);
	vchan_xs_close(xs);
	return 0;
}

static int hostile_client(void *arg)
{
	struct ctx *c = arg;
	vchan_gnt *gnt = vchan_gnt_open();
	vchan_evt *evt = vchan_evt_open();
	vchan_xs *xs = vchan_xs_open();
	struct vchan_layout lay;
	struct vchan_unmap_notify nt;
	struct hring left, right;
	struct vchan_wire *pg;
	uint32_t ref, evport, refs[512];
	unsigned lo, ro;
	char key[300], *v;
	void *lb, *rb;
	int port, tries = 0;

	CHECK(gnt != NULL && evt != NULL && xs != NULL);
	snprintf(key, sizeof(key), "%s/event-channel", c->path);
	while ((v = vchan_xs_read(xs, key, NULL)) == NULL) {
		CHECK(errno == ENOENT && ++tries < 5000);
		usleep(1000);
	}
	evport = (uint32_t)strtoul(v, NULL, 10);
	free(v);
	snprintf(key, sizeof(key), "%s/ring-ref", c->path);
	v = vchan_xs_read(xs, key, NULL);
	CHECK(v != NULL);
	ref = (uint32_t)strtoul(v, NULL, 10);
	free(v);
	port = vchan_evt_bind(evt, SRV_DOMID, evport);
	CHECK(port > 0);
	nt.evt = evt;
	nt.port = (uint32_t)port;
	nt.offset = offsetof(struct vchan_wire, cli_live);
	pg = vchan_gnt_map(gnt, SRV_DOMID, 1, &ref, 1, &nt);
	CHECK(pg != NULL);
	vchan_ring_read_orders(pg, &lo, &ro);
	CHECK(vchan_ring_layout(lo, ro, &lay) == 0);
	vchan_ring_read_grants(pg, refs, lay.left_pages + lay.right_pages);
	lb = lay.left_pages
		 ? vchan_gnt_map(gnt, SRV_DOMID, lay.left_pages, refs, 1, NULL)
		 : (uint8_t *)pg + lay.left_offset;
	rb = lay.right_pages ? vchan_gnt_map(gnt, SRV_DOMID, lay.right_pages,
					     refs + lay.left_pages, 0, NULL)
			     : (uint8_t *)pg + lay.right_offset;
	CHECK(lb != NULL && rb != NULL);
	ring_of(&left, &pg->left, lb, lo);
	ring_of(&right, &pg->right, rb, ro);
	pattern(&left);
	pg->cli_live = 1;
	pg->srv_notify = VCHAN_RING_NOTIFY_WRITE;
	vchan_evt_notify(evt, (uint32_t)port);
	misbehave(evt, (uint32_t)port, pg, &left, &right, c->seed);
	vchan_gnt_close(gnt);
	vchan_evt_close(evt);
	vchan_xs_close(xs);
	return 0;
}

/* Our side: read (checking the count), write, look at the state, until
 * the channel is poisoned or closed. Returns 0 when every answer was
 * allowed; *outcome gets the final errno (EPROTO or EPIPE). */
static int our_side(struct vchan *ch, int *outcome)
{
	uint8_t buf[5000], last = 0;
	int have_last = 0, first_error = 0;
	int64_t end = tu_now_us() + (int64_t)tu_ms(10000) * 1000;

	CHECK(vchan_set_blocking(ch, 0) == 0);
	for (;;) {
		ssize_t r;
		int st;

		CHECK(tu_now_us() < end);
		r = vchan_read(ch, buf, sizeof(buf));
		if (r > 0) {
			for (ssize_t i = 0; i < r; i++) {
				CHECK(!have_last ||
				      buf[i] == (uint8_t)(last + 1));
				last = buf[i];
				have_last = 1;
			}
		} else if (r < 0) {
			first_error = errno;
			break;
		}
		r = vchan_write(ch, buf, (size_t)(rand() % 3000));
		if (r < 0) {
			first_error = errno;
			break;
		}
		st = vchan_is_open(ch);
		if (st < 0) {
			first_error = errno;
			break;
		}
		if (tu_readable(vchan_fd(ch), 50) < 0)
			return 1;
		CHECK(vchan_wait(ch, 0) >= 0 || errno == EPROTO);
	}
	CHECK(first_error == EPROTO || first_error == EPIPE);
	if (first_error == EPROTO) {
		/* Poisoned for good. */
		CHECK(vchan_read(ch, buf, 1) == -1 && errno == EPROTO);
		CHECK(vchan_write(ch, buf, 1) == -1 && errno == EPROTO);
		CHECK(vchan_is_open(ch) == -1 && errno == EPROTO);
		CHECK(vchan_data_ready(ch) == -1 && errno == EPROTO);
	}
	*outcome = first_error;
	return 0;
}

static int our_client(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch = vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	int outcome = 0;

	/* Garbage before we came may already be refused at connect. */
	if (ch == NULL) {
		CHECK(errno == EPROTO);
		return 10;
	}
	CHECK(our_side(ch, &outcome) == 0);
	vchan_close(ch);
	return outcome == EPROTO ? 10 : 11;
}

static int our_server(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch =
	    vchan_server_create_orders(CLI_DOMID, c->path, c->lo, c->ro);
	int outcome = 0;

	CHECK(ch != NULL);
	CHECK(our_side(ch, &outcome) == 0);
	vchan_close(ch);
	return outcome == EPROTO ? 10 : 11;
}

int main(void)
{
	static const unsigned orders[][2] = {{10, 11}, {11, 10}, {12, 12},
					     {13, 11}, {10, 16}, {14, 15}};
	int proto = 0, closed = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct ctx c;
		char name[32];
		pid_t h, o;
		int rh, ro;

		c.seed = 1000u + (unsigned)round;
		c.lo = orders[round % 6][0];
		c.ro = orders[round % 6][1];
		c.hostile_server = round % 2 == 0;
		snprintf(name, sizeof(name), "hostile%d", round);
		vt_path(c.path, sizeof(c.path), name);
		if (c.hostile_server) {
			h = tu_spawn(SRV_DOMID, hostile_server, &c);
			o = tu_spawn(CLI_DOMID, our_client, &c);
		} else {
			o = tu_spawn(SRV_DOMID, our_server, &c);
			h = tu_spawn(CLI_DOMID, hostile_client, &c);
		}
		CHECK(h > 0 && o > 0);
		ro = tu_wait(o, tu_ms(LIMIT_MS / ROUNDS));
		rh = tu_wait(h, tu_ms(2000));
		if (ro != 10 && ro != 11) {
			fprintf(stderr,
				"round %d (%s, orders %u/%u): our side "
				"%d, hostile %d\n",
				round, c.hostile_server ? "client" : "server",
				c.lo, c.ro, ro, rh);
			return 1;
		}
		/* A hostile side that failed its own setup proves nothing. */
		CHECK(rh == 0);
		if (ro == 10)
			proto++;
		else
			closed++;
	}
	fprintf(stderr, "%d rounds: %d poisoned (EPROTO), %d ended (EPIPE)\n",
		ROUNDS, proto, closed);
	/* The garbage does get noticed. */
	CHECK(proto > 0);
	return 0;
}
