/* tests/rpc/rpc_sock_none.c - the rpc core linked with sock_none.c, as a
 * build without sockets (a unikernel) links it: "unix:" and "tcp:"
 * addresses parse, and then fail to connect or listen with EAFNOSUPPORT;
 * vchan addresses work as ever (a call end to end). */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <unistd.h>

#include "rpc/conn.h"
#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000

static const char *const sock_addrs[] = {"unix:/nonexistent/rpc.sock",
					 "tcp:127.0.0.1:1"};

static int no_sockets(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv;

	CHECK(loop != NULL);
	srv = vchan_rpc_server_new(loop, NULL);
	CHECK(srv != NULL);
	for (size_t i = 0; i < sizeof(sock_addrs) / sizeof(*sock_addrs); i++) {
		struct vchan_rpc_addr a;
		struct vchan_rpc_client *cli;
		struct vchan_rpc_conn *conn;
		Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
		int pending = -1;

		CHECK(vchan_rpc_addr_parse(sock_addrs[i], &a) == 0);
		errno = 0;
		conn = vchan_rpc_conn_open(&a, 0, 1024, &pending);
		CHECK(conn == NULL && errno == EAFNOSUPPORT && pending == 0);
		errno = 0;
		CHECK(vchan_rpc_server_listen(srv, sock_addrs[i]) == -1);
		CHECK(errno == EAFNOSUPPORT);
		cli = vchan_rpc_client_new(loop, sock_addrs[i],
					   &rpctest__echo__descriptor, NULL);
		CHECK(cli != NULL);
		errno = 0;
		CHECK(vchan_rpc_client_connect(cli, 1000) == -1);
		CHECK(errno == EAFNOSUPPORT);
		/* A call has no connection to go on. */
		CHECK(vchan_rpc_call_sync(cli, 0, &req.base, 1000, NULL) ==
		      VCHAN_RPC_PEER_GONE);
		vchan_rpc_client_free(cli);
	}
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	return 0;
}

static int server(void *arg)
{
	char addr[64];
	const char *a[1] = {addr};

	(void)arg;
	snprintf(addr, sizeof(addr), "vchan:%u/echo", CLI_DOMID);
	return echo_serve(a, 1, NULL);
}

static int client(void *arg)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli;
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	Rpctest__EchoReply *rep = NULL;
	char addr[64];

	(void)arg;
	CHECK(loop != NULL);
	snprintf(addr, sizeof(addr), "vchan:%u/echo", SRV_DOMID);
	cli =
	    vchan_rpc_client_new(loop, addr, &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_client_connect(cli, tu_ms(5000)) == 0);
	req.text = "over vchan";
	for (uint32_t i = 0; i < 100; i++) {
		req.seq = i;
		CHECK(vchan_rpc_call_sync(cli, 0, &req.base, tu_ms(5000),
					  (ProtobufCMessage **)&rep) ==
		      VCHAN_RPC_OK);
		CHECK(rep != NULL && rep->seq == i &&
		      strcmp(rep->text, "over vchan") == 0);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return 0;
}

static int over_vchan(void)
{
	pid_t s, k;
	int rs, rk;

	s = tu_spawn(SRV_DOMID, server, NULL);
	k = tu_spawn(CLI_DOMID, client, NULL);
	CHECK(s > 0 && k > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS));
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	return rs == 0 && rk == 0 ? 0 : 1;
}

int main(void)
{
	struct tu_scenarios r = {0};

	TU_SCENARIO(&r, "no sockets", no_sockets());
	TU_SCENARIO(&r, "over vchan", over_vchan());
	return tu_scenarios_done(&r);
}
