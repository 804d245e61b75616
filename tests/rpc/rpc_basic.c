/* tests/rpc/rpc_basic.c - the generated stubs end to end over vchan, a Unix
 * socket and TCP, and every status a caller can see; a second listener at
 * a live one's address is refused (EADDRINUSE), and TCP ports outside
 * 1..65535 are bad addresses. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000

struct ctx {
	char cli_addr[256];
	char srv_addr[256];
};

struct result {
	int done;
	enum vchan_rpc_status status;
	char text[64];
	uint32_t seq;
	size_t blob;
	uint8_t blob_last; /* the last byte of a blob that came */
	struct vchan_rpc_client *cli;
};

/* The closure the stubs call: records what came and how the call ended. */
static void on_reply(const Rpctest__EchoReply *r, void *data)
{
	struct result *res = data;

	res->done++;
	res->status = vchan_rpc_client_status(res->cli);
	if (r != NULL) {
		snprintf(res->text, sizeof(res->text), "%s", r->text);
		res->seq = r->seq;
		res->blob = r->blob.len;
		if (r->blob.len > 0)
			res->blob_last = r->blob.data[r->blob.len - 1];
	}
}

static int run_until(struct ev_loop *loop, const int *done, int want)
{
	int64_t end = tu_now_us() + (int64_t)tu_ms(10000) * 1000;

	while (*done < want && tu_now_us() < end)
		ev_run(loop, EVRUN_ONCE);
	return *done >= want;
}

static void free_res(enum vchan_rpc_status st, const ProtobufCMessage *m,
		     void *data)
{
	int *n = data;

	(void)m;
	if (st == VCHAN_RPC_QUEUE_FULL)
		n[1]++;
	else if (st == VCHAN_RPC_OK)
		n[2]++;
	else if (st == VCHAN_RPC_CANCELLED)
		n[3]++;
	n[0]++;
}

/* A descriptor of service `name` with Echo's methods in reverse order and
 * one more, "Extra", that the server does not have: calls are made by
 * name, so the reordered methods still reach the right handlers. */
static ProtobufCMethodDescriptor v2_methods[3];
static ProtobufCServiceDescriptor v2_desc;

static const ProtobufCServiceDescriptor *make_v2(const char *name)
{
	const ProtobufCServiceDescriptor *d = &rpctest__echo__descriptor;

	v2_desc = *d;
	v2_methods[0] = d->methods[1];
	v2_methods[1] = d->methods[0];
	v2_methods[2] = d->methods[0];
	v2_methods[2].name = "Extra";
	v2_desc.n_methods = 3;
	v2_desc.methods = v2_methods;
	v2_desc.name = name;
	return &v2_desc;
}

/* A vchan listener offers a fresh channel once it has seen its previous
 * client go: a new client that comes at once may find the old one, whose
 * calls end with "peer gone". Wait until a call goes through. */
static int ready(struct vchan_rpc_client *cli, unsigned echo)
{
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	int64_t end = tu_now_us() + (int64_t)tu_ms(5000) * 1000;
	int st = -1;

	while (tu_now_us() < end) {
		st = vchan_rpc_call_sync(cli, echo, &req.base, 1000, NULL);
		if (st == VCHAN_RPC_OK)
			return 1;
		usleep(10000);
	}
	fprintf(stderr, "not ready: %s\n", vchan_rpc_status_str(st));
	return 0;
}

/* The first call of a new client: see ready(). Returns its status once
 * it is not "peer gone". */
static int first_call(struct vchan_rpc_client *cli, unsigned m,
		      const ProtobufCMessage *req)
{
	int64_t end = tu_now_us() + (int64_t)tu_ms(5000) * 1000;
	int st;

	while ((st = vchan_rpc_call_sync(cli, m, req, 1000, NULL)) ==
		   VCHAN_RPC_PEER_GONE &&
	       tu_now_us() < end)
		usleep(10000);
	return st;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli;
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	Rpctest__EchoReply *rep = NULL;
	struct result res = {0};
	struct vchan_rpc_options o;
	int st;

	CHECK(loop != NULL);
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_client_connect(cli, tu_ms(5000)) == 0);
	CHECK(vchan_rpc_client_is_connected(cli) == 1);

	/* The generated stub, asynchronous. */
	res.cli = cli;
	req.text = "hello";
	req.seq = 42;
	rpctest__echo__echo(vchan_rpc_client_service(cli), &req, on_reply,
			    &res);
	CHECK(vchan_rpc_client_in_flight(cli) == 1);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_OK);
	CHECK(strcmp(res.text, "hello") == 0 && res.seq == 42);

	/* A reply larger than what the client unpacks without malloc for a
	 * callback: it comes whole, and is freed after the callback (the
	 * leak checkers of the test runs look). */
	res.done = 0;
	req.reply_size = 1000;
	rpctest__echo__echo(vchan_rpc_client_service(cli), &req, on_reply,
			    &res);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_OK && res.blob == 1000 &&
	      res.blob_last == (uint8_t)(999 * 7 + 42));
	req.reply_size = 0;

	/* Blocking call. */
	req.text = "sync";
	req.reply_size = 1000;
	st = vchan_rpc_call_sync(cli, 0, &req.base, -1,
				 (ProtobufCMessage **)&rep);
	CHECK(st == VCHAN_RPC_OK && rep != NULL);
	CHECK(strcmp(rep->text, "sync") == 0 && rep->blob.len == 1000);
	CHECK(rep->blob.data[999] == (uint8_t)(999 * 7 + 42));
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	req.reply_size = 0;

	/* A handler that answers NULL. */
	res.done = 0;
	rpctest__echo__fail(vchan_rpc_client_service(cli), &req, on_reply,
			    &res);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_HANDLER_FAILED);

	/* A handler that answers later, and a deadline that comes first;
	 * its late reply is dropped and the channel goes on. */
	req.delay_ms = 30;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, 2000, NULL) ==
	      VCHAN_RPC_OK);
	req.delay_ms = 300;
	st = vchan_rpc_call_sync(cli, 0, &req.base, 50, NULL);
	CHECK(st == VCHAN_RPC_DEADLINE_EXCEEDED);
	vchan_rpc_client_set_timeout(cli, 40);
	res.done = 0;
	rpctest__echo__echo(vchan_rpc_client_service(cli), &req, on_reply,
			    &res);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_DEADLINE_EXCEEDED);
	vchan_rpc_client_set_timeout(cli, 5000);
	req.delay_ms = 0;
	req.seq = 7;
	res.done = 0;
	rpctest__echo__echo(vchan_rpc_client_service(cli), &req, on_reply,
			    &res);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_OK && res.seq == 7);

	/* A reply larger than the server's limit (64 KiB there). */
	req.reply_size = 100000;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_TOO_LARGE);
	req.reply_size = 0;
	/* A request larger than the server's limit but not the client's:
	 * the server skips it and answers for it alone. */
	req.blob.data = calloc(1, 200000);
	CHECK(req.blob.data != NULL);
	req.blob.len = 200000;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_TOO_LARGE);
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_TOO_LARGE);
	req.blob.len = 60000;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) == VCHAN_RPC_OK);
	free(req.blob.data);
	req.blob.data = NULL;
	req.blob.len = 0;
	vchan_rpc_client_free(cli);

	/* Unknown service, unknown method, methods found by name. */
	cli = vchan_rpc_client_new(loop, c->cli_addr, make_v2("rpctest.Echo"),
				   NULL);
	CHECK(cli != NULL);
	CHECK(ready(cli, 1));
	CHECK(vchan_rpc_call_sync(cli, 1, &req.base, -1, NULL) == VCHAN_RPC_OK);
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_HANDLER_FAILED);
	CHECK(vchan_rpc_call_sync(cli, 2, &req.base, -1, NULL) ==
	      VCHAN_RPC_UNKNOWN_METHOD);
	CHECK(vchan_rpc_call_sync(cli, 1, &req.base, -1, NULL) == VCHAN_RPC_OK);
	vchan_rpc_client_free(cli);
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(ready(cli, 0));
	vchan_rpc_client_free(cli);
	cli = vchan_rpc_client_new(loop, c->cli_addr, make_v2("rpctest.Nope"),
				   NULL);
	CHECK(cli != NULL);
	CHECK(first_call(cli, 1, &req.base) == VCHAN_RPC_UNKNOWN_SERVICE);
	vchan_rpc_client_free(cli);

	/* Limits on the client's side: too large to send, and a bounded
	 * number of calls in flight. */
	vchan_rpc_options_init(&o);
	o.max_message = 1000;
	o.max_in_flight = 4;
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, &o);
	CHECK(cli != NULL);
	CHECK(ready(cli, 0));
	req.blob.data = calloc(1, 2000);
	req.blob.len = 2000;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_TOO_LARGE);
	free(req.blob.data);
	req.blob.data = NULL;
	req.blob.len = 0;
	{
		int n[4] = {0, 0, 0, 0};

		req.delay_ms = 20;
		for (int i = 0; i < 10; i++)
			CHECK(vchan_rpc_call(cli, 0, &req.base, -1, free_res,
					     n) == 0);
		CHECK(n[0] == 0); /* never from within vchan_rpc_call */
		CHECK(vchan_rpc_client_in_flight(cli) == 4);
		CHECK(run_until(loop, &n[0], 10));
		CHECK(n[1] == 6 && n[2] == 4);
		/* Freed with calls in flight: they end as cancelled. */
		memset(n, 0, sizeof(n));
		for (int i = 0; i < 3; i++)
			CHECK(vchan_rpc_call(cli, 0, &req.base, -1, free_res,
					     n) == 0);
		vchan_rpc_client_free(cli);
		CHECK(n[0] == 3 && n[3] == 3);
		req.delay_ms = 0;
	}
	/* Bad arguments are refused at once. */
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	errno = 0;
	CHECK(vchan_rpc_call(cli, 5, &req.base, -1, free_res, NULL) == -1 &&
	      errno == EINVAL);
	{
		Rpctest__EchoReply wrong = RPCTEST__ECHO_REPLY__INIT;

		CHECK(vchan_rpc_call_sync(cli, 0, &wrong.base, -1, NULL) == -1);
	}
	/* The service view and back: only a client's service converts. */
	{
		ProtobufCService *s = vchan_rpc_client_service(cli);
		ProtobufCService other = {.descriptor =
					      &rpctest__echo__descriptor};

		CHECK(s != NULL && s->descriptor == &rpctest__echo__descriptor);
		CHECK(vchan_rpc_client_of(s) == cli);
		errno = 0;
		CHECK(vchan_rpc_client_of(&other) == NULL && errno == EINVAL);
		errno = 0;
		CHECK(vchan_rpc_client_of(NULL) == NULL && errno == EINVAL);
		errno = 0;
		CHECK(vchan_rpc_client_service(NULL) == NULL &&
		      errno == EINVAL);
	}
	vchan_rpc_client_free(cli);
	/* NULL handles: refused with EINVAL, or harmless where documented. */
	errno = 0;
	CHECK(vchan_rpc_client_connect(NULL, 0) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(vchan_rpc_call(NULL, 0, &req.base, -1, free_res, NULL) == -1 &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_rpc_call_sync(NULL, 0, &req.base, -1, NULL) == -1 &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_rpc_client_set_timeout(NULL, 10) == -1 && errno == EINVAL);
	CHECK(vchan_rpc_client_is_connected(NULL) == 0);
	CHECK(vchan_rpc_client_in_flight(NULL) == 0);
	vchan_rpc_client_free(NULL);
	/* protobuf_c_service_destroy on the service frees the client. */
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	protobuf_c_service_destroy(vchan_rpc_client_service(cli));
	/* A domain id out of range, no port, an empty domain name (a name
	 * such as "x" is good: it is looked up when connecting). */
	CHECK(vchan_rpc_client_new(loop, "vchan:40000/y",
				   &rpctest__echo__descriptor, NULL) == NULL &&
	      errno == EINVAL);
	CHECK(vchan_rpc_client_new(loop, "vchan:x", &rpctest__echo__descriptor,
				   NULL) == NULL &&
	      errno == EINVAL);
	CHECK(vchan_rpc_client_new(loop, "vchan:/y", &rpctest__echo__descriptor,
				   NULL) == NULL &&
	      errno == EINVAL);
	CHECK(vchan_rpc_client_new(loop, "bogus:1", &rpctest__echo__descriptor,
				   NULL) == NULL &&
	      errno == EINVAL);
	ev_loop_destroy(loop);
	return 0;
}

static int server(void *arg)
{
	struct ctx *c = arg;
	const char *a[1] = {c->srv_addr};
	struct vchan_rpc_options o;

	vchan_rpc_options_init(&o);
	o.max_message = 64 * 1024;
	return echo_serve(a, 1, &o);
}

/* With no server: calls end with "peer gone". */
static int no_server(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	Rpctest__EchoRequest req = RPCTEST__ECHO_REQUEST__INIT;
	struct vchan_rpc_client *cli;

	CHECK(loop != NULL);
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__echo__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_PEER_GONE);
	CHECK(vchan_rpc_client_connect(cli, 100) == -1);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return 0;
}

/* At the address of a live listener, another fails with EADDRINUSE; once
 * the first is gone, it may listen there. */
static int listen_twice(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *a, *b;

	CHECK(loop != NULL);
	a = vchan_rpc_server_new(loop, NULL);
	b = vchan_rpc_server_new(loop, NULL);
	CHECK(a != NULL && b != NULL);
	CHECK(vchan_rpc_server_listen(a, c->srv_addr) == 0);
	errno = 0;
	CHECK(vchan_rpc_server_listen(b, c->srv_addr) == -1 &&
	      errno == EADDRINUSE);
	vchan_rpc_server_free(a);
	CHECK(vchan_rpc_server_listen(b, c->srv_addr) == 0);
	vchan_rpc_server_free(b);
	ev_loop_destroy(loop);
	return 0;
}

/* Port numbers that are no port: refused, not wrapped around. */
static int bad_ports(void)
{
	static const char *const bad[] = {
	    "tcp:127.0.0.1:99999", "tcp:127.0.0.1:65536", "tcp:127.0.0.1:0",
	    "tcp:127.0.0.1:4294967297", "tcp:[::1]:100000"};
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv;

	CHECK(loop != NULL);
	srv = vchan_rpc_server_new(loop, NULL);
	CHECK(srv != NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(vchan_rpc_server_listen(srv, bad[i]) == -1 &&
		      errno == EINVAL);
		errno = 0;
		CHECK(vchan_rpc_client_new(loop, bad[i],
					   &rpctest__echo__descriptor,
					   NULL) == NULL &&
		      errno == EINVAL);
	}
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	return 0;
}

/* One transport: a client with no server, a server listening twice, then
 * a server and its client. */
static int run(struct ctx *c)
{
	pid_t s, k;
	int rs, rk;

	k = tu_spawn(CLI_DOMID, no_server, c);
	CHECK(k > 0);
	CHECK(tu_wait(k, tu_ms(LIMIT_MS)) == 0);
	s = tu_spawn(SRV_DOMID, listen_twice, c);
	CHECK(s > 0);
	CHECK(tu_wait(s, tu_ms(LIMIT_MS)) == 0);
	s = tu_spawn(SRV_DOMID, server, c);
	k = tu_spawn(CLI_DOMID, client, c);
	CHECK(s > 0 && k > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS));
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	return rs == 0 && rk == 0 ? 0 : 1;
}

/* The same client and server over each transport. */
static int over(struct ctx *c, const char *cli_addr, const char *srv_addr)
{
	snprintf(c->cli_addr, sizeof(c->cli_addr), "%s", cli_addr);
	snprintf(c->srv_addr, sizeof(c->srv_addr), "%s", srv_addr);
	return run(c);
}

int main(void)
{
	struct tu_scenarios r = {0};
	struct ctx c;
	char path[200], vcli[64], vsrv[64], sock[240], tcp[64];
	int port = 20000 + (int)(getpid() % 20000);

	snprintf(vcli, sizeof(vcli), "vchan:%u/echo", SRV_DOMID);
	snprintf(vsrv, sizeof(vsrv), "vchan:%u/echo", CLI_DOMID);
	rt_tmp_path(path, sizeof(path), "echo.sock");
	snprintf(sock, sizeof(sock), "unix:%s", path);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", port);
	TU_SCENARIO(&r, "bad ports", bad_ports());
	TU_SCENARIO(&r, "vchan", over(&c, vcli, vsrv));
	TU_SCENARIO(&r, "unix", over(&c, sock, sock));
	TU_SCENARIO(&r, "tcp", over(&c, tcp, tcp));
	return tu_scenarios_done(&r);
}
