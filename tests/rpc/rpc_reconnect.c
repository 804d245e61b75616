/* tests/rpc/rpc_reconnect.c - calls made while no server is there, for a
 * unix: and a vchan: address:
 * - by default (wait_for_server 0) a call ends at once with "peer gone";
 *   (a listener at "vchan:*" and a plain server of one domain alike);
 * - with wait_for_server, a call waits for a server that starts later and
 *   is answered once it is there; one whose deadline comes first ends with
 *   "deadline exceeded";
 * - after the server is killed, the next call (with wait_for_server)
 *   waits, the client reconnects by itself to the restarted server, and
 *   the call is answered.
 * Usage: rpc_reconnect [unix|vchan] (default: both). */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

struct ctx {
	char srv_addr[128], cli_addr[128];
};

static int server(void *arg)
{
	struct ctx *c = arg;
	const char *a[1] = {c->srv_addr};

	return echo_serve(a, 1, NULL);
}

static pid_t start_server(struct ctx *c)
{
	return tu_spawn(SRV_DOMID, server, c);
}

static void stop_server(pid_t p)
{
	tu_kill(p, 10000);
}

static int echo(struct vchan_rpc_client *cli, const char *text, int ms)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	Rpctest__EchoReply *rep = NULL;
	int st;

	req.text = (char *)text;
	st = vchan_rpc_call_sync(cli, 0, &req.base, ms,
				 (ProtobufCMessage **)&rep);
	if (st == VCHAN_RPC_OK && (rep == NULL || strcmp(rep->text, text)))
		st = -1;
	if (rep != NULL)
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	return st;
}

/* The client's side, in its own domain: the server comes and goes as
 * the parent (which it asks through the pipe) makes it. */
struct cctx {
	struct ctx *c;
	struct tu_chan pipe;
};

static int client(void *arg)
{
	struct cctx *cc = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_options o;
	struct vchan_rpc_client *plain, *waiting;
	char cmd;
	int st;

	CHECK(loop != NULL);
	vchan_rpc_options_init(&o);
	plain = vchan_rpc_client_new(loop, cc->c->cli_addr,
				     &rpctest__echo__descriptor, &o);
	o.wait_for_server = 1;
	waiting = vchan_rpc_client_new(loop, cc->c->cli_addr,
				       &rpctest__echo__descriptor, &o);
	CHECK(plain != NULL && waiting != NULL);

	/* No server: the default fails at once, a short deadline ends. */
	CHECK(echo(plain, "none", 10000) == VCHAN_RPC_PEER_GONE);
	CHECK(echo(waiting, "short", 200) == VCHAN_RPC_DEADLINE_EXCEEDED);
	/* Ask for the server, then call before it can be there. */
	cmd = 's';
	CHECK(tu_send(&cc->pipe, 1, &cmd, 1) == 0);
	CHECK(echo(waiting, "first", tu_ms(60000)) == VCHAN_RPC_OK);
	/* (A second client of this domain would get a channel of its own
	 * from a listener only: a plain server serves one at a time.) */
	vchan_rpc_client_free(plain);
	/* The server is killed and started again: the next call waits
	 * and is answered by the new one. */
	cmd = 'r';
	CHECK(tu_send(&cc->pipe, 1, &cmd, 1) == 0);
	CHECK(tu_recv(&cc->pipe, 1, &cmd, 1) == 0); /* killed */
	/* A call that meets the dead connection ends with "peer gone"
	 * (it may have reached the server); the next one waits, and is
	 * answered by the new server. */
	for (int i = 0;
	     (st = echo(waiting, "again", tu_ms(60000))) == VCHAN_RPC_PEER_GONE;
	     i++)
		CHECK(i < 3);
	CHECK(st == VCHAN_RPC_OK);
	cmd = 'q';
	CHECK(tu_send(&cc->pipe, 1, &cmd, 1) == 0);
	vchan_rpc_client_free(waiting);
	ev_loop_destroy(loop);
	return 0;
}

static int run(const char *kind, struct ctx *c)
{
	struct cctx cc = {.c = c};
	pid_t k, s;
	char cmd;
	int rk;

	CHECK(tu_chan_init(&cc.pipe) == 0);
	k = tu_spawn(CLI_DOMID, client, &cc);
	CHECK(k > 0);
	CHECK(tu_recv(&cc.pipe, 0, &cmd, 1) == 0 && cmd == 's');
	usleep(300000); /* the call is made before the server is there */
	s = start_server(c);
	CHECK(s > 0);
	CHECK(tu_recv(&cc.pipe, 0, &cmd, 1) == 0 && cmd == 'r');
	stop_server(s);
	CHECK(tu_send(&cc.pipe, 0, &cmd, 1) == 0);
	usleep(300000);
	s = start_server(c);
	CHECK(s > 0);
	CHECK(tu_recv(&cc.pipe, 0, &cmd, 1) == 0 && cmd == 'q');
	rk = tu_wait(k, tu_ms(120000));
	stop_server(s);
	tu_chan_close(&cc.pipe);
	if (rk != 0)
		fprintf(stderr, "%s: client %d\n", kind, rk);
	return rk != 0;
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	struct ctx c;
	int fails = 0, r;

	if (only == NULL || strcmp(only, "unix") == 0) {
		char path[100];

		rt_tmp_path(path, sizeof(path), "reconnect.sock");
		snprintf(c.srv_addr, sizeof(c.srv_addr), "unix:%s", path);
		snprintf(c.cli_addr, sizeof(c.cli_addr), "unix:%s", path);
		r = run("unix", &c);
		printf("%s unix\n", r ? "FAIL" : "ok");
		fails += r;
	}
	if (only == NULL || strcmp(only, "vchan") == 0) {
		snprintf(c.srv_addr, sizeof(c.srv_addr), "vchan:*/rc");
		snprintf(c.cli_addr, sizeof(c.cli_addr), "vchan:%u/rc",
			 SRV_DOMID);
		r = run("vchan listener", &c);
		printf("%s vchan listener\n", r ? "FAIL" : "ok");
		fails += r;
		snprintf(c.srv_addr, sizeof(c.srv_addr), "vchan:%u/rc1",
			 CLI_DOMID);
		snprintf(c.cli_addr, sizeof(c.cli_addr), "vchan:%u/rc1",
			 SRV_DOMID);
		r = run("vchan plain", &c);
		printf("%s vchan plain\n", r ? "FAIL" : "ok");
		fails += r;
	}
	return fails ? 1 : 0;
}
