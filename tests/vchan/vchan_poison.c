/* tests/vchan/vchan_poison.c - once a peer has poisoned the channel,
 * every call fails with EPROTO, whatever its arguments: sizes above the
 * rings (EMSGSIZE otherwise), a zero length, a wait that would spin (the
 * peer's bad index still differs from the one last seen, which a spin
 * takes for news), and the event-loop spin. A server played by hand (grant.h
 * and xs.h) publishes a proper page, lets our client in, then shows more
 * data in its ring than the ring holds. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "grant/grant.h"
#include "tests/vchan/vtest.h"
#include "vchan/ring.h"
#include "xenstore/xs.h"

#define LO	 10u /* both rings in the control page */
#define RO	 11u
#define LIMIT_MS 20000

struct ctx {
	char path[256];
	struct tu_chan ch;
};

static int hostile_server(void *arg)
{
	struct ctx *c = arg;
	vchan_gnt *gnt = vchan_gnt_open();
	vchan_evt *evt = vchan_evt_open();
	vchan_xs *xs = vchan_xs_open();
	struct vchan_unmap_notify nt;
	struct vchan_layout lay;
	struct vchan_wire *pg;
	char sref[16], sevt[16];
	struct vchan_xs_kv kv[2] = {{"ring-ref", sref},
				    {"event-channel", sevt}};
	int64_t end = tu_now_us() + (int64_t)tu_ms(LIMIT_MS) * 1000;
	uint32_t ref;
	char done;
	int port;

	CHECK(gnt != NULL && evt != NULL && xs != NULL);
	CHECK(vchan_ring_layout(LO, RO, &lay) == 0);
	CHECK(lay.left_pages == 0 && lay.right_pages == 0);
	port = vchan_evt_alloc_unbound(evt, CLI_DOMID);
	CHECK(port > 0);
	nt.evt = evt;
	nt.port = (uint32_t)port;
	nt.offset = offsetof(struct vchan_wire, srv_live);
	pg = vchan_gnt_share(gnt, CLI_DOMID, 1, &ref, 1, &nt);
	CHECK(pg != NULL);
	pg->left_order = LO;
	pg->right_order = RO;
	pg->cli_live = 2;
	pg->srv_live = 1;
	pg->cli_notify = VCHAN_RING_NOTIFY_WRITE;
	snprintf(sref, sizeof(sref), "%u", ref);
	snprintf(sevt, sizeof(sevt), "%d", port);
	CHECK(vchan_xs_publish(xs, c->path, kv, 2, CLI_DOMID) == 0);
	while (__atomic_load_n(&pg->cli_live, __ATOMIC_ACQUIRE) == 2) {
		CHECK(tu_now_us() < end);
		usleep(1000);
	}
	/* The client's read ring (ours to fill) claims 2 MiB. */
	__atomic_store_n(&pg->right.prod, pg->right.cons + (1u << 21),
			 __ATOMIC_RELEASE);
	vchan_evt_notify(evt, (uint32_t)port);
	/* Keep the page until the client is done with it. */
	CHECK(tu_recv(&c->ch, 1, &done, 1) == 0);
	vchan_gnt_close(gnt);
	vchan_evt_close(evt);
	vchan_xs_close(xs);
	return 0;
}

/* -1 + EPROTO, or say what came instead. */
#define EPROTO_FROM(call)                                                      \
	do {                                                                   \
		errno = 0;                                                     \
		long r_ = (long)(call);                                        \
		if (r_ != -1 || errno != EPROTO)                               \
			fprintf(stderr, "%s: %ld, errno %d (%s)\n", #call, r_, \
				errno, strerror(errno));                       \
		CHECK(r_ == -1 && errno == EPROTO);                            \
	} while (0)

static int checks(struct vchan *ch)
{
	uint8_t buf[16];
	struct iovec seg[2];
	size_t rd = vchan_read_size(ch), wr = vchan_write_size(ch);
	int64_t end = tu_now_us() + (int64_t)tu_ms(LIMIT_MS) * 1000;
	ssize_t r;

	CHECK(vchan_set_blocking(ch, 0) == 0);
	/* Poisoned by the first read that sees the bad index. */
	while ((r = vchan_read(ch, buf, sizeof(buf))) == 0) {
		CHECK(tu_now_us() < end);
		usleep(1000);
	}
	CHECK(r == -1 && errno == EPROTO);
	EPROTO_FROM(vchan_recv(ch, buf, rd + 1));
	EPROTO_FROM(vchan_send(ch, buf, wr + 1));
	EPROTO_FROM(vchan_reserve(ch, wr + 1, seg));
	EPROTO_FROM(vchan_peek(ch, rd + 1, seg));
	EPROTO_FROM(vchan_read(ch, buf, 0));
	EPROTO_FROM(vchan_write(ch, buf, 0));
	EPROTO_FROM(vchan_recv(ch, buf, 1));
	EPROTO_FROM(vchan_data_ready(ch));
	EPROTO_FROM(vchan_buffer_space(ch));
	EPROTO_FROM(vchan_is_open(ch));
	/* A wait that may spin, and the event loop's spin. */
	CHECK(vchan_set_spin(ch, 200) == 0);
	EPROTO_FROM(vchan_wait(ch, tu_ms(100)));
	EPROTO_FROM(vchan_wait(ch, 0));
	EPROTO_FROM(vchan_spin(ch));
	CHECK(vchan_set_blocking(ch, 1) == 0);
	EPROTO_FROM(vchan_read(ch, buf, sizeof(buf)));
	EPROTO_FROM(vchan_wait(ch, tu_ms(100)));
	return 0;
}

static int our_client(void *arg)
{
	struct ctx *c = arg;
	struct vchan *ch =
	    vchan_client_connect(SRV_DOMID, c->path, tu_ms(30000));
	int rc;

	CHECK(ch != NULL);
	rc = checks(ch);
	vchan_close(ch);
	CHECK(tu_send(&c->ch, 0, "x", 1) == 0);
	return rc;
}

int main(void)
{
	struct ctx c;
	pid_t h, o;
	int rh, ro;

	vt_path(c.path, sizeof(c.path), "poison");
	CHECK(tu_chan_init(&c.ch) == 0);
	h = tu_spawn(SRV_DOMID, hostile_server, &c);
	o = tu_spawn(CLI_DOMID, our_client, &c);
	CHECK(h > 0 && o > 0);
	ro = tu_wait(o, tu_ms(LIMIT_MS));
	/* Without our client the hostile server would wait for it. */
	rh =
	    ro == 0 ? tu_wait(h, tu_ms(LIMIT_MS)) : tu_kill(h, tu_ms(LIMIT_MS));
	tu_chan_close(&c.ch);
	CHECK(ro == 0 && rh == 0);
	return 0;
}
