/* tests/rpc/rpc_load.c - 10,000 calls with 64 in flight from each of three
 * clients at once (two domains over vchan, one over a Unix socket) to one
 * server; every reply must match its request. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define CALLS	  10000
#define IN_FLIGHT 64
#define LIMIT_MS  30000

struct ctx {
	char addr[256];
	char sock[200];
};

struct load {
	struct vchan_rpc_client *cli;
	uint32_t sent, ok, bad;
	uint8_t *seen;
};

static void send_one(struct load *l);

static void on_reply(const Rpctest__EchoReply *r, void *data)
{
	struct load *l = data;

	if (r == NULL || r->seq >= CALLS || l->seen[r->seq] ||
	    r->blob.len != r->seq % 64) {
		if (l->bad++ == 0)
			fprintf(stderr, "bad reply: %s\n",
				vchan_rpc_status_str(
				    vchan_rpc_client_status(l->cli)));
	} else {
		l->seen[r->seq] = 1;
		l->ok++;
	}
	if (l->sent < CALLS)
		send_one(l);
}

static void send_one(struct load *l)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;

	req.text = "load";
	req.seq = l->sent++;
	req.reply_size = req.seq % 64;
	rpctest__echo__echo(vchan_rpc_client_service(l->cli), &req, on_reply,
			    l);
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct load l = {0};
	int64_t t0;

	CHECK(loop != NULL);
	l.seen = calloc(CALLS, 1);
	CHECK(l.seen != NULL);
	l.cli = vchan_rpc_client_new(loop, c->addr, &rpctest__echo__descriptor,
				     NULL);
	CHECK(l.cli != NULL);
	CHECK(vchan_rpc_client_connect(l.cli, tu_ms(5000)) == 0);
	t0 = tu_now_us();
	for (int i = 0; i < IN_FLIGHT; i++)
		send_one(&l);
	CHECK(vchan_rpc_client_in_flight(l.cli) == IN_FLIGHT);
	while (l.ok + l.bad < CALLS &&
	       tu_now_us() - t0 < (int64_t)tu_ms(LIMIT_MS) * 1000)
		ev_run(loop, EVRUN_ONCE);
	fprintf(stderr, "%s: %u ok, %u bad in %.0f ms\n", c->addr, l.ok, l.bad,
		(double)(tu_now_us() - t0) / 1e3);
	CHECK(l.ok == CALLS && l.bad == 0);
	CHECK(vchan_rpc_client_in_flight(l.cli) == 0);
	vchan_rpc_client_free(l.cli);
	free(l.seen);
	ev_loop_destroy(loop);
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	char u[256];
	const char *a[3] = {"vchan:5/echo", "vchan:6/echo", u};

	snprintf(u, sizeof(u), "unix:%s", c->sock);
	return echo_serve(a, 3, NULL);
}

int main(void)
{
	struct ctx c[3];
	pid_t s, k[3];
	int rs, rk[3], fail = 0;

	rt_tmp_path(c[0].sock, sizeof(c[0].sock), "load.sock");
	snprintf(c[0].addr, sizeof(c[0].addr), "vchan:%u/echo", SRV_DOMID);
	c[1] = c[0];
	c[2] = c[0];
	snprintf(c[2].addr, sizeof(c[2].addr), "unix:%s", c[0].sock);
	s = tu_spawn(SRV_DOMID, server, &c[0]);
	CHECK(s > 0);
	/* The socket must exist before its client tries it. */
	CHECK(tu_wait_path(c[0].sock, tu_ms(5000)) == 0);
	for (int i = 0; i < 3; i++) {
		k[i] = tu_spawn(5 + (uint32_t)i, client, &c[i]);
		CHECK(k[i] > 0);
	}
	for (int i = 0; i < 3; i++) {
		rk[i] = tu_wait(k[i], tu_ms(LIMIT_MS + 5000));
		fail |= rk[i] != 0;
	}
	rs = tu_stop(s, tu_ms(10000));
	return rs == 0 && !fail ? 0 : 1;
}
