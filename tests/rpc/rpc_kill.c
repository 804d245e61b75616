/* tests/rpc/rpc_kill.c - the server is killed (SIGKILL) under a load of 64
 * calls in flight: every pending call ends with "peer gone" at once (not at
 * its deadline); a new server comes and the same client object connects
 * again and carries on. Over vchan, then over a Unix socket. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define IN_FLIGHT 64
#define LIMIT_MS  20000

struct ctx {
	char cli_addr[256];
	char srv_addr[256];
	struct tu_chan ch;
};

struct load {
	struct vchan_rpc_client *cli;
	int sending;
	uint32_t sent, ok, gone, other;
	int64_t first_gone, last_gone;
};

static void send_one(struct load *l);

static void on_reply(const Rpctest__EchoReply *r, void *data)
{
	struct load *l = data;
	enum vchan_rpc_status st = vchan_rpc_client_status(l->cli);

	if (r != NULL) {
		l->ok++;
	} else if (st == VCHAN_RPC_PEER_GONE) {
		if (l->gone++ == 0)
			l->first_gone = tu_now_us();
		l->last_gone = tu_now_us();
		l->sending = 0;
	} else {
		if (l->other++ == 0)
			fprintf(stderr, "unexpected: %s\n",
				vchan_rpc_status_str(st));
	}
	if (l->sending)
		send_one(l);
}

static void send_one(struct load *l)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;

	req.text = "k";
	req.seq = l->sent++;
	/* Answers take a little while: calls are surely in flight. */
	req.delay_ms = req.seq % 3;
	rpctest__echo__echo(vchan_rpc_client_service(l->cli), &req, on_reply,
			    l);
}

static int run_loop(struct ev_loop *loop, struct load *l,
		    int (*done)(struct load *))
{
	int64_t end = tu_now_us() + (int64_t)tu_ms(LIMIT_MS) * 1000;

	while (!done(l) && tu_now_us() < end)
		ev_run(loop, EVRUN_ONCE);
	return done(l);
}

static int enough(struct load *l)
{
	return l->ok >= 2000;
}

/* Every call sent has had its callback. vchan_rpc_client_in_flight alone is not
 * enough: a call started on a connection that has just died (a write found
 * it gone while earlier replies were still being handled) is never queued,
 * so it is not in flight, yet its callback ("peer gone") is still to come
 * from the loop. */
static int all_called(const struct load *l)
{
	return l->ok + l->gone + l->other == l->sent;
}

static int all_ended(struct load *l)
{
	return l->gone > 0 && all_called(l) &&
	       vchan_rpc_client_in_flight(l->cli) == 0;
}

static int all_ok(struct load *l)
{
	return all_called(l) && vchan_rpc_client_in_flight(l->cli) == 0 &&
	       l->ok >= 1000;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	struct load l = {0};
	char msg = 1;
	int64_t t0;
	int tries = 0;

	CHECK(loop != NULL);
	l.cli = vchan_rpc_client_new(loop, c->cli_addr,
				     &rpctest__echo__descriptor, NULL);
	CHECK(l.cli != NULL);
	/* Deadlines far away: "peer gone" must come from the loss. */
	vchan_rpc_client_set_timeout(l.cli, 15000);
	CHECK(vchan_rpc_client_connect(l.cli, tu_ms(5000)) == 0);
	l.sending = 1;
	for (int i = 0; i < IN_FLIGHT; i++)
		send_one(&l);
	CHECK(run_loop(loop, &l, enough));
	/* Ask for the kill; keep the load going until it shows. */
	CHECK(tu_send(&c->ch, 1, &msg, 1) == 0);
	t0 = tu_now_us();
	CHECK(run_loop(loop, &l, all_ended));
	fprintf(stderr,
		"%s: %u ok, %u peer gone (%.1f ms after the kill "
		"request, spread %.1f ms), %u other\n",
		c->cli_addr, l.ok, l.gone, (double)(l.first_gone - t0) / 1e3,
		(double)(l.last_gone - l.first_gone) / 1e3, l.other);
	CHECK(l.other == 0);
	CHECK(l.ok + l.gone == l.sent);
	CHECK(l.last_gone - t0 < (int64_t)tu_ms(5000) * 1000);
	CHECK(vchan_rpc_client_is_connected(l.cli) == 0);
	/* Down: a call ends with "peer gone" at once. */
	CHECK(vchan_rpc_call_sync(l.cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_PEER_GONE);
	CHECK(tu_send(&c->ch, 1, &msg, 1) == 0);
	/* The server comes back: the next calls connect again. */
	t0 = tu_now_us();
	for (;;) {
		int st = vchan_rpc_call_sync(l.cli, 0, &req.base, 1000, NULL);

		tries++;
		if (st == VCHAN_RPC_OK)
			break;
		CHECK(st == VCHAN_RPC_PEER_GONE);
		CHECK(tu_now_us() - t0 < (int64_t)tu_ms(10000) * 1000);
		usleep(10000);
	}
	fprintf(stderr, "%s: reconnected after %d tries, %.0f ms\n",
		c->cli_addr, tries, (double)(tu_now_us() - t0) / 1e3);
	l.ok = l.gone = l.other = 0;
	l.sent = 0;
	l.sending = 1;
	for (int i = 0; i < IN_FLIGHT; i++)
		send_one(&l);
	/* Stop sending at 1000 answers; the rest drain. */
	while (l.ok < 1000 && l.gone == 0 && l.other == 0 &&
	       tu_now_us() - t0 < (int64_t)tu_ms(LIMIT_MS) * 1000)
		ev_run(loop, EVRUN_ONCE);
	l.sending = 0;
	CHECK(run_loop(loop, &l, all_ok));
	CHECK(l.gone == 0 && l.other == 0 && l.ok == l.sent);
	vchan_rpc_client_free(l.cli);
	ev_loop_destroy(loop);
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	const char *a[1] = {c->srv_addr};

	return echo_serve(a, 1, NULL);
}

static int run(struct ctx *c)
{
	pid_t s, k;
	char msg;
	int rs, rk;

	CHECK(tu_chan_init(&c->ch) == 0);
	s = tu_spawn(SRV_DOMID, server, c);
	k = tu_spawn(CLI_DOMID, client, c);
	CHECK(s > 0 && k > 0);
	CHECK(tu_recv(&c->ch, 0, &msg, 1) == 0);
	CHECK(tu_kill(s, tu_ms(5000)) == 128 + SIGKILL);
	CHECK(tu_recv(&c->ch, 0, &msg, 1) == 0);
	s = tu_spawn(SRV_DOMID, server, c);
	CHECK(s > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS * 2));
	rs = tu_stop(s, tu_ms(10000));
	tu_chan_close(&c->ch);
	return rs == 0 && rk == 0 ? 0 : 1;
}

int main(void)
{
	struct tu_scenarios r = {0};
	struct ctx c;
	char path[200];

	snprintf(c.cli_addr, sizeof(c.cli_addr), "vchan:%u/echo", SRV_DOMID);
	snprintf(c.srv_addr, sizeof(c.srv_addr), "vchan:%u/echo", CLI_DOMID);
	TU_SCENARIO(&r, "vchan", run(&c));
	rt_tmp_path(path, sizeof(path), "kill.sock");
	snprintf(c.cli_addr, sizeof(c.cli_addr), "unix:%s", path);
	snprintf(c.srv_addr, sizeof(c.srv_addr), "unix:%s", path);
	TU_SCENARIO(&r, "unix", run(&c));
	return tu_scenarios_done(&r);
}
