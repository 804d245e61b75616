/* tests/rpc/rpc_throttle.c - a vchan server that has as many calls in
 * flight as it takes (max_in_flight, 1 here) reads no more requests until
 * one is answered, and meanwhile sleeps: requests waiting in its ring must
 * not keep its loop spinning. In each round the client makes quick calls
 * (so that the server spins for the next request), then sends two calls
 * at once, which the server answers one at a time, each DELAY_MS after it
 * took it: the second often comes while it spins after taking the first.
 * The server's CPU time over those pairs is compared with their span. */
#include "config.h"

#include <ev.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000
#define ROUNDS	 4
#define QUICK	 50
#define DELAY_MS 200

struct ctx {
	pid_t server;
	char cli_addr[64], srv_addr[64];
};

static int server(void *arg)
{
	struct ctx *c = arg;
	const char *a[1] = {c->srv_addr};
	struct vchan_rpc_options o;

	vchan_rpc_options_init(&o);
	o.max_in_flight = 1;
	return echo_serve(a, 1, &o);
}

/* User + system CPU time of `pid` so far, in ms, or -1. */
static long cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	long tick = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the command's closing ")". */
	p = strrchr(buf, ')');
	if (p == NULL || tick <= 0 ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / (unsigned long)tick);
}

static void count(enum vchan_rpc_status st, const ProtobufCMessage *m,
		  void *data)
{
	int *n = data;

	(void)m;
	n[0]++;
	if (st == VCHAN_RPC_OK)
		n[1]++;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	struct vchan_rpc_client *cli;
	int64_t end, span_ms = 0;
	long cpu = 0;
	int n[2] = {0, 0}, st = -1;

	CHECK(loop != NULL);
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	end = tu_now_us() + (int64_t)tu_ms(5000) * 1000;
	while (st != VCHAN_RPC_OK && tu_now_us() < end) {
		st = vchan_rpc_call_sync(cli, 0, &req.base, 1000, NULL);
		if (st != VCHAN_RPC_OK)
			usleep(10000);
	}
	CHECK(st == VCHAN_RPC_OK);
	end = tu_now_us() + (int64_t)tu_ms(10000) * 1000;
	for (int i = 0; i < ROUNDS; i++) {
		int64_t t0;
		long cpu0;

		req.delay_ms = 0;
		for (int j = 0; j < QUICK; j++)
			CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1,
						  NULL) == VCHAN_RPC_OK);
		t0 = tu_now_us();
		cpu0 = cpu_ms(c->server);
		CHECK(cpu0 >= 0);
		req.delay_ms = DELAY_MS;
		for (int j = 0; j < 2; j++)
			CHECK(vchan_rpc_call(cli, 0, &req.base, -1, count, n) ==
			      0);
		while (n[0] < 2 * (i + 1) && tu_now_us() < end)
			ev_run(loop, EVRUN_ONCE);
		cpu += cpu_ms(c->server) - cpu0;
		span_ms += (tu_now_us() - t0) / 1000;
	}
	fprintf(stderr, "%d calls in %lld ms, server CPU %ld ms\n", n[1],
		(long long)span_ms, cpu);
	CHECK(n[1] == 2 * ROUNDS);
	/* One at a time: the server held the second call back. */
	CHECK(span_ms >= 2 * ROUNDS * DELAY_MS);
	/* Sleeping, it spends next to nothing; a loop spinning on the
	 * waiting request would take a CPU's share for half the span. */
	CHECK(cpu * 10 < span_ms);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return 0;
}

int main(void)
{
	struct ctx c;
	pid_t k;
	int rs, rk;

	snprintf(c.cli_addr, sizeof(c.cli_addr), "vchan:%u/throttle",
		 SRV_DOMID);
	snprintf(c.srv_addr, sizeof(c.srv_addr), "vchan:%u/throttle",
		 CLI_DOMID);
	c.server = tu_spawn(SRV_DOMID, server, &c);
	CHECK(c.server > 0);
	k = tu_spawn(CLI_DOMID, client, &c);
	CHECK(k > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS));
	rs = tu_stop(c.server, tu_ms(LIMIT_MS));
	return rs == 0 && rk == 0 ? 0 : 1;
}
