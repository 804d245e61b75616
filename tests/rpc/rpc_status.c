/* tests/rpc/rpc_status.c - statuses chosen by handlers, with their messages,
 * reach the caller; deadlines go to the server, which tells handlers the
 * time left and does not start calls whose deadline has passed. Over vchan,
 * a Unix socket and TCP with the real client; then raw frames over a Unix
 * socket, as the wire document describes them. */
#include "config.h"

#include <ev.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc/conn.h"
#include "tests/rpc/rtest.h"

#define LIMIT_MS 30000

struct ctx {
	char cli_addr[256];
	char srv_addr[256];
	int notify[2]; /* the server writes a byte when a Block call starts */
};

/* ---- the server ---- */

struct probe {
	Rpctest__Probe_Service svc; /* first: handlers get it back */
	int notify_fd;
	uint32_t runs, refused;
};

static void reply_probe(struct probe *p, Rpctest__ProbeReply_Closure closure,
			void *data, int left_ms)
{
	Rpctest__ProbeReply r = RPCTEST__PROBE_REPLY__INIT;

	r.left_ms = left_ms;
	r.runs = p->runs;
	r.refused = p->refused;
	closure(&r, data);
}

static void probe_reject(Rpctest__Probe_Service *service,
			 const Rpctest__ProbeRequest *in,
			 Rpctest__ProbeReply_Closure closure, void *data)
{
	struct probe *p = (struct probe *)service;

	(void)closure;
	errno = 0;
	if (vchan_rpc_server_fail(data, (enum vchan_rpc_status)in->status,
				  in->message) < 0 &&
	    errno == EINVAL)
		p->refused++;
}

static void probe_left(Rpctest__Probe_Service *service,
		       const Rpctest__ProbeRequest *in,
		       Rpctest__ProbeReply_Closure closure, void *data)
{
	struct probe *p = (struct probe *)service;
	int left;

	(void)in;
	p->runs++;
	errno = 0;
	left = vchan_rpc_server_time_left(data);
	/* -1 + ENOENT is "no deadline"; anything else is reported as -2. */
	if (left < 0 && errno != ENOENT)
		left = -2;
	reply_probe(p, closure, data, left);
}

static void probe_block(Rpctest__Probe_Service *service,
			const Rpctest__ProbeRequest *in,
			Rpctest__ProbeReply_Closure closure, void *data)
{
	struct probe *p = (struct probe *)service;
	struct timespec ts = {(time_t)(in->block_ms / 1000),
			      (long)(in->block_ms % 1000) * 1000000L};

	p->runs++;
	if (write(p->notify_fd, "b", 1) != 1) {
		closure(NULL, data);
		return;
	}
	/* Like a handler doing slow work on the loop's thread: nothing else
	 * is read meanwhile. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	reply_probe(p, closure, data, 0);
}

static void term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static int server(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct probe p = {.svc = RPCTEST__PROBE__INIT(probe_)};
	struct vchan_rpc_options o;
	struct vchan_rpc_server *srv;
	ev_signal sig;

	CHECK(loop != NULL);
	close(c->notify[0]);
	p.notify_fd = c->notify[1];
	vchan_rpc_options_init(&o);
	o.max_message = 64 * 1024;
	srv = vchan_rpc_server_new(loop, &o);
	CHECK(srv != NULL);
	CHECK(vchan_rpc_server_add_service(srv, &p.svc.base) == 0);
	CHECK(vchan_rpc_server_listen(srv, c->srv_addr) == 0);
	ev_signal_init(&sig, term_cb, SIGTERM);
	ev_signal_start(loop, &sig);
	ev_run(loop, 0);
	ev_signal_stop(loop, &sig);
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	close(p.notify_fd);
	return 0;
}

/* ---- the client ---- */

struct result {
	int done;
	enum vchan_rpc_status status;
	char msg[VCHAN_RPC_MESSAGE_MAX + 1];
	int left_ms;
	uint32_t runs, refused;
	struct vchan_rpc_client *cli;
};

/* The closure the stubs call: what came, how the call ended and why. */
static void on_reply(const Rpctest__ProbeReply *r, void *data)
{
	struct result *res = data;

	res->done++;
	res->status = vchan_rpc_client_status(res->cli);
	snprintf(res->msg, sizeof(res->msg), "%s",
		 vchan_rpc_client_message(res->cli));
	if (r != NULL) {
		res->left_ms = r->left_ms;
		res->runs = r->runs;
		res->refused = r->refused;
	}
}

/* The callback of vchan_rpc_call: the same, the status given directly. */
static void on_done(enum vchan_rpc_status st, const ProtobufCMessage *m,
		    void *data)
{
	struct result *res = data;

	(void)m;
	res->done++;
	res->status = st;
	snprintf(res->msg, sizeof(res->msg), "%s",
		 vchan_rpc_client_message(res->cli));
}

static int run_until(struct ev_loop *loop, const int *done, int want)
{
	int64_t end = tu_now_us() + (int64_t)tu_ms(10000) * 1000;

	while (*done < want && tu_now_us() < end)
		ev_run(loop, EVRUN_ONCE);
	return *done >= want;
}

/* Left, blocking, with a deadline of timeout_ms: the time left the
 * handler saw, or -100 when the call failed. */
static int left_of(struct vchan_rpc_client *cli, int timeout_ms, uint32_t *runs)
{
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	Rpctest__ProbeReply *r = NULL;
	int st, left;

	st = vchan_rpc_call_sync(cli, 1, &req.base, timeout_ms,
				 (ProtobufCMessage **)&r);
	if (st != VCHAN_RPC_OK || r == NULL) {
		fprintf(stderr, "Left: %s\n", vchan_rpc_status_str(st));
		return -100;
	}
	left = r->left_ms;
	if (runs != NULL)
		*runs = r->runs;
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return left;
}

/* Reject with `status` and `msg`, blocking; checks what the caller sees
 * right after (vchan_rpc_client_status and vchan_rpc_client_message). */
static int reject_sync(struct vchan_rpc_client *cli, int status,
		       const char *msg, int want, const char *want_msg)
{
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	int st;

	req.status = (uint32_t)status;
	req.message = (char *)msg;
	st = vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL);
	if (st != want || strcmp(vchan_rpc_client_message(cli), want_msg) != 0)
		fprintf(stderr, "Reject %d: %d \"%s\", want %d \"%s\"\n",
			status, st, vchan_rpc_client_message(cli), want,
			want_msg);
	CHECK(st == want);
	CHECK(vchan_rpc_client_status(cli) == (enum vchan_rpc_status)want);
	CHECK(strcmp(vchan_rpc_client_message(cli), want_msg) == 0);
	return 0;
}

/* A copy of Probe's descriptor named `name`, with two more methods: 3,
 * "Nope", that the server does not have, and 4, Left again but taking an
 * EchoRequest (whose string field 1 does not decode as ProbeRequest's
 * number field 1). */
static ProtobufCMethodDescriptor v2_methods[5];
static ProtobufCServiceDescriptor v2_desc;

static const ProtobufCServiceDescriptor *make_v2(const char *name)
{
	const ProtobufCServiceDescriptor *d = &rpctest__probe__descriptor;

	v2_desc = *d;
	memcpy(v2_methods, d->methods, 3 * sizeof(v2_methods[0]));
	v2_methods[3] = d->methods[0];
	v2_methods[3].name = "Nope";
	v2_methods[4] = d->methods[1];
	v2_methods[4].input = &rpctest__echo_request__descriptor;
	v2_desc.n_methods = 5;
	v2_desc.methods = v2_methods;
	v2_desc.name = name;
	return &v2_desc;
}

/* The first call of a new client. A vchan listener offers a fresh channel
 * once it has seen its previous client go: a client that comes at once
 * may find the old one, whose calls end with "peer gone". Returns the
 * status of the first call that does not. */
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

/* What the runtime itself says with the statuses it sets. */
static int runtime_messages(struct ev_loop *loop, const char *addr)
{
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	Rpctest__EchoRequest echo = RPCTEST__ECHO_REQUEST__INIT;
	struct vchan_rpc_client *cli;
	char *big;

	cli = vchan_rpc_client_new(loop, addr, make_v2("rpctest.Probe"), NULL);
	CHECK(cli != NULL);
	CHECK(first_call(cli, 3, &req.base) == VCHAN_RPC_UNKNOWN_METHOD);
	CHECK(strstr(vchan_rpc_client_message(cli),
		     "rpctest.Probe has no method") != NULL);
	echo.text = "not a number";
	CHECK(vchan_rpc_call_sync(cli, 4, &echo.base, -1, NULL) ==
	      VCHAN_RPC_MALFORMED);
	CHECK(strstr(vchan_rpc_client_message(cli), "rpctest.ProbeRequest") !=
	      NULL);
	/* Above the server's limit (64 KiB), not the client's. */
	big = malloc(100000);
	CHECK(big != NULL);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	req.message = big;
	CHECK(vchan_rpc_call_sync(cli, 0, &req.base, -1, NULL) ==
	      VCHAN_RPC_TOO_LARGE);
	CHECK(strstr(vchan_rpc_client_message(cli),
		     "above the limit of 65536") != NULL);
	free(big);
	req.message = (char *)"";
	/* Still served after all of that. */
	CHECK(left_of(cli, 0, NULL) == -1);
	CHECK(strcmp(vchan_rpc_client_message(cli), "") == 0);
	vchan_rpc_client_free(cli);

	cli = vchan_rpc_client_new(loop, addr, make_v2("rpctest.Nope"), NULL);
	CHECK(cli != NULL);
	CHECK(first_call(cli, 0, &req.base) == VCHAN_RPC_UNKNOWN_SERVICE);
	CHECK(strstr(vchan_rpc_client_message(cli), "no service") != NULL);
	vchan_rpc_client_free(cli);
	return 0;
}

/* Statuses a handler chooses, with their messages, through all three ways
 * of calling. */
static int handler_statuses(struct ev_loop *loop, struct vchan_rpc_client *cli)
{
	static const int ok[] = {
	    VCHAN_RPC_INVALID_ARGUMENT, VCHAN_RPC_MALFORMED,
	    VCHAN_RPC_HANDLER_FAILED,	VCHAN_RPC_DEADLINE_EXCEEDED,
	    VCHAN_RPC_TOO_LARGE,	VCHAN_RPC_UNKNOWN_METHOD,
	    VCHAN_RPC_UNKNOWN_SERVICE};
	static const int refused[] = {VCHAN_RPC_OK,
				      VCHAN_RPC_PEER_GONE,
				      VCHAN_RPC_QUEUE_FULL,
				      VCHAN_RPC_PROTOCOL_ERROR,
				      VCHAN_RPC_CANCELLED,
				      12,
				      1000};
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	struct result res = {.cli = cli};
	char msg[64], longmsg[700], want[VCHAN_RPC_MESSAGE_MAX + 1];
	uint32_t n;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(msg, sizeof(msg), "because of %d", ok[i]);
		CHECK(reject_sync(cli, ok[i], msg, ok[i], msg) == 0);

		/* The generated stub: read from the closure. */
		req.status = (uint32_t)ok[i];
		req.message = msg;
		res.done = 0;
		rpctest__probe__reject(vchan_rpc_client_service(cli), &req,
				       on_reply, &res);
		CHECK(run_until(loop, &res.done, 1));
		CHECK(res.status == (enum vchan_rpc_status)ok[i]);
		CHECK(strcmp(res.msg, msg) == 0);

		/* vchan_rpc_call: read from the callback. */
		res.done = 0;
		CHECK(vchan_rpc_call(cli, 0, &req.base, -1, on_done, &res) ==
		      0);
		CHECK(run_until(loop, &res.done, 1));
		CHECK(res.status == (enum vchan_rpc_status)ok[i]);
		CHECK(strcmp(res.msg, msg) == 0);
	}
	CHECK(strcmp(vchan_rpc_status_str(VCHAN_RPC_INVALID_ARGUMENT),
		     "invalid argument") == 0);

	/* Statuses a handler may not send: the call fails as the handler's
	 * fault, with its message, and vchan_rpc_server_fail said EINVAL. */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(msg, sizeof(msg), "wrongly %d", refused[i]);
		CHECK(reject_sync(cli, refused[i], msg,
				  VCHAN_RPC_HANDLER_FAILED, msg) == 0);
	}
	CHECK(left_of(cli, 0, NULL) == -1);
	res.done = 0;
	req.status = VCHAN_RPC_INVALID_ARGUMENT;
	rpctest__probe__left(vchan_rpc_client_service(cli), &req, on_reply,
			     &res);
	CHECK(run_until(loop, &res.done, 1));
	CHECK(res.status == VCHAN_RPC_OK && strcmp(res.msg, "") == 0);
	n = sizeof(refused) / sizeof(refused[0]);
	CHECK(res.refused == n);

	/* No message; a long one, cut at VCHAN_RPC_MESSAGE_MAX on a character's
	 * start ("ab" then two-byte "é"s: byte 255 would split one, so 254
	 * bytes come); control characters. */
	CHECK(reject_sync(cli, VCHAN_RPC_INVALID_ARGUMENT, "",
			  VCHAN_RPC_INVALID_ARGUMENT, "") == 0);
	memset(longmsg, 0, sizeof(longmsg));
	memcpy(longmsg, "ab", 2);
	for (size_t i = 2; i + 2 < sizeof(longmsg); i += 2)
		memcpy(longmsg + i, "\xc3\xa9", 2);
	memcpy(want, longmsg, 254);
	want[254] = '\0';
	CHECK(reject_sync(cli, VCHAN_RPC_INVALID_ARGUMENT, longmsg,
			  VCHAN_RPC_INVALID_ARGUMENT, want) == 0);
	CHECK(reject_sync(cli, VCHAN_RPC_MALFORMED, "a\nb\tc\x7f",
			  VCHAN_RPC_MALFORMED, "a?b?c?") == 0);
	/* A call that succeeds has no message. */
	CHECK(left_of(cli, 0, NULL) == -1);
	CHECK(vchan_rpc_client_status(cli) == VCHAN_RPC_OK);
	CHECK(strcmp(vchan_rpc_client_message(cli), "") == 0);
	return 0;
}

/* Deadlines as the handler sees them, and a call that waited behind a
 * slow handler past its deadline is not run. */
static int deadlines(struct ev_loop *loop, struct vchan_rpc_client *cli,
		     int nfd)
{
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	struct result s = {.cli = cli}, a = {.cli = cli}, b = {.cli = cli};
	uint32_t runs0, runs1;
	char buf[8];
	int left;

	left = left_of(cli, 3000, NULL);
	fprintf(stderr, "left of 3000: %d\n", left);
	CHECK(left > 1500 && left <= 3000);
	/* Beyond 4095 ms the wire rounds down, never up. */
	left = left_of(cli, 100001, NULL);
	fprintf(stderr, "left of 100001: %d\n", left);
	CHECK(left > 90000 && left <= 100000);
	CHECK(left_of(cli, 0, NULL) == -1);
	/* The client's default, through the stub. */
	CHECK(vchan_rpc_client_set_timeout(cli, 2500) == 0);
	rpctest__probe__left(vchan_rpc_client_service(cli), &req, on_reply, &s);
	CHECK(run_until(loop, &s.done, 1));
	CHECK(s.status == VCHAN_RPC_OK && s.left_ms > 0 && s.left_ms <= 2500);
	CHECK(vchan_rpc_client_set_timeout(cli, 10000) == 0);

	/* S blocks the server's loop; while it does, A (blocking too) and
	 * B (deadline 100 ms) arrive, and are read together when S ends.
	 * Then A blocks the loop past B's deadline: B is not run. */
	CHECK(left_of(cli, 0, &runs0) == -1);
	s.done = 0;
	req.block_ms = (uint32_t)tu_ms(300);
	CHECK(vchan_rpc_call(cli, 2, &req.base, 20000, on_done, &s) == 0);
	CHECK(tu_readable(nfd, tu_ms(5000)) == 1);
	CHECK(read(nfd, buf, 1) == 1);
	CHECK(vchan_rpc_call(cli, 2, &req.base, 20000, on_done, &a) == 0);
	req.block_ms = 0;
	CHECK(vchan_rpc_call(cli, 1, &req.base, 100, on_done, &b) == 0);
	CHECK(run_until(loop, &b.done, 1));
	CHECK(b.status == VCHAN_RPC_DEADLINE_EXCEEDED);
	CHECK(run_until(loop, &a.done, 1));
	CHECK(s.done == 1 && s.status == VCHAN_RPC_OK);
	CHECK(a.status == VCHAN_RPC_OK);
	CHECK(tu_readable(nfd, tu_ms(5000)) == 1);
	CHECK(read(nfd, buf, 1) == 1);
	CHECK(left_of(cli, 0, &runs1) == -1);
	fprintf(stderr, "runs before %u, after %u\n", runs0, runs1);
	/* S, A and this Left ran; B did not. */
	CHECK(runs1 == runs0 + 3);
	return 0;
}

static int client(void *arg)
{
	struct ctx *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli;

	CHECK(loop != NULL);
	close(c->notify[1]);
	cli = vchan_rpc_client_new(loop, c->cli_addr,
				   &rpctest__probe__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_client_connect(cli, tu_ms(5000)) == 0);
	CHECK(handler_statuses(loop, cli) == 0);
	CHECK(deadlines(loop, cli, c->notify[0]) == 0);
	vchan_rpc_client_free(cli);
	CHECK(runtime_messages(loop, c->cli_addr) == 0);
	close(c->notify[0]);
	ev_loop_destroy(loop);
	return 0;
}

/* The server and a client (the library's, or raw_client) over c's
 * addresses. */
static int run(struct ctx *c, int (*client_fn)(void *))
{
	pid_t s, k;
	int rs, rk;

	CHECK(pipe(c->notify) == 0);
	s = tu_spawn(SRV_DOMID, server, c);
	k = tu_spawn(CLI_DOMID, client_fn, c);
	close(c->notify[0]);
	close(c->notify[1]);
	CHECK(s > 0 && k > 0);
	rk = tu_wait(k, tu_ms(LIMIT_MS));
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	return rs == 0 && rk == 0 ? 0 : 1;
}

/* ---- raw frames, as docs/rpc-wire.md describes them ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Append a request frame for Probe's `method` to buf at *off. */
static void put_request(uint8_t *buf, size_t *off, uint32_t id,
			const char *method, uint16_t deadline,
			const Rpctest__ProbeRequest *req)
{
	uint8_t *p = buf + *off;
	size_t len = rpctest__probe_request__pack(req, p + VCHAN_RPC_HDR_SIZE);

	p[0] = 1;
	p[1] = VCHAN_RPC_KIND_REQUEST;
	p[2] = (uint8_t)deadline;
	p[3] = (uint8_t)(deadline >> 8);
	put32(p + 4, id);
	put32(p + 8, vchan_rpc_name_hash("rpctest.Probe"));
	put32(p + 12, vchan_rpc_name_hash(method));
	put32(p + 16, (uint32_t)len);
	*off += VCHAN_RPC_HDR_SIZE + len;
}

/* Read one reply: its id, status and body (*blen bytes, then a NUL). */
static int get_reply(int fd, uint32_t *id, int *status, uint8_t *body,
		     size_t size, size_t *blen)
{
	uint8_t h[VCHAN_RPC_HDR_SIZE];
	size_t need = sizeof(h), got = 0;
	uint32_t len;

	while (got < need) {
		ssize_t r;

		CHECK(tu_readable(fd, tu_ms(5000)) == 1);
		r = read(fd, h + got, need - got);
		CHECK(r > 0);
		got += (size_t)r;
	}
	CHECK(h[0] == 1 && h[1] == VCHAN_RPC_KIND_REPLY);
	*id = get32(h + 4);
	*status = h[2] | h[3] << 8;
	len = get32(h + 16);
	CHECK(len < size);
	for (got = 0; got < len;) {
		ssize_t r;

		CHECK(tu_readable(fd, tu_ms(5000)) == 1);
		r = read(fd, body + got, len - got);
		CHECK(r > 0);
		got += (size_t)r;
	}
	body[len] = '\0';
	*blen = len;
	return 0;
}

static int raw_client(void *arg)
{
	struct ctx *c = arg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	Rpctest__ProbeRequest req = RPCTEST__PROBE_REQUEST__INIT;
	Rpctest__ProbeReply *rep;
	uint8_t buf[1024], body[1024];
	size_t off = 0, blen;
	uint32_t id;
	int fd, st;

	close(c->notify[1]);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->cli_addr + 5);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	for (int i = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0;
	     i++) {
		CHECK(i < 500);
		usleep(10000);
	}
	/* A request as the first text of version 1 had it (status 0): no
	 * deadline, run as always. */
	put_request(buf, &off, 1, "Left", 0, &req);
	CHECK(write(fd, buf, off) == (ssize_t)off);
	CHECK(get_reply(fd, &id, &st, body, sizeof(body), &blen) == 0);
	CHECK(id == 1 && st == VCHAN_RPC_OK);
	rep = rpctest__probe_reply__unpack(NULL, blen, body);
	/* An empty body decodes too (left_ms 0); this one must say -1. */
	CHECK(rep != NULL && rep->left_ms == -1);
	rpctest__probe_reply__free_unpacked(rep, NULL);

	/* A deadline of 0x0bb8 = 3000 ms. */
	off = 0;
	put_request(buf, &off, 2, "Left", 0x0bb8, &req);
	CHECK(write(fd, buf, off) == (ssize_t)off);
	CHECK(get_reply(fd, &id, &st, body, sizeof(body), &blen) == 0);
	CHECK(id == 2 && st == VCHAN_RPC_OK);

	/* A failed call's body is its message. */
	off = 0;
	req.status = VCHAN_RPC_INVALID_ARGUMENT;
	req.message = "bad key";
	put_request(buf, &off, 3, "Reject", 0, &req);
	CHECK(write(fd, buf, off) == (ssize_t)off);
	CHECK(get_reply(fd, &id, &st, body, sizeof(body), &blen) == 0);
	CHECK(id == 3 && st == VCHAN_RPC_INVALID_ARGUMENT);
	CHECK(strcmp((char *)body, "bad key") == 0);
	req.status = 0;
	req.message = (char *)"";

	/* Two frames in one write: Block for 300 ms, then Left with a
	 * deadline of 50 ms (0x0032). The server reads both at once; by the
	 * time Block is done, Left's deadline has passed: the server answers
	 * for it with status 5 and does not run it. */
	off = 0;
	req.block_ms = (uint32_t)tu_ms(300);
	put_request(buf, &off, 4, "Block", 0, &req);
	req.block_ms = 0;
	put_request(buf, &off, 5, "Left", 0x0032, &req);
	CHECK(write(fd, buf, off) == (ssize_t)off);
	CHECK(get_reply(fd, &id, &st, body, sizeof(body), &blen) == 0);
	CHECK(id == 4 && st == VCHAN_RPC_OK);
	CHECK(get_reply(fd, &id, &st, body, sizeof(body), &blen) == 0);
	fprintf(stderr, "raw: late call: status %d \"%s\"\n", st, (char *)body);
	CHECK(id == 5 && st == VCHAN_RPC_DEADLINE_EXCEEDED);
	CHECK(strstr((char *)body, "deadline passed") != NULL);
	close(fd);
	close(c->notify[0]);
	return 0;
}

/* The deadline's encoding (docs/rpc-wire.md) and the arguments the
 * server-side calls refuse. */
static int units(void)
{
	CHECK(vchan_rpc_deadline_encode(0) == 0);
	CHECK(vchan_rpc_deadline_encode(-5) == 0);
	CHECK(vchan_rpc_deadline_encode(1) == 0x0001);
	CHECK(vchan_rpc_deadline_encode(4095) == 0x0fff);
	CHECK(vchan_rpc_deadline_encode(4096) == 0x1800);
	CHECK(vchan_rpc_deadline_encode(4097) == 0x1800); /* rounded down */
	CHECK(vchan_rpc_deadline_encode(10000) == 0x29c4);
	CHECK(vchan_rpc_deadline_encode(100001) == 0x5c35);
	CHECK(vchan_rpc_deadline_encode(INT64_C(1) << 40) == 0xffff);
	CHECK(vchan_rpc_deadline_decode(0) == -1);
	CHECK(vchan_rpc_deadline_decode(0x7000) == -1);
	CHECK(vchan_rpc_deadline_decode(0x0bb8) == 3000);
	CHECK(vchan_rpc_deadline_decode(0x5c35) == 100000);
	CHECK(vchan_rpc_deadline_decode(0xffff) == INT64_C(0xfff) << 15);
	for (int64_t ms = 1; ms <= INT64_C(0xfff) << 15; ms = ms * 3 + 1) {
		int64_t back =
		    vchan_rpc_deadline_decode(vchan_rpc_deadline_encode(ms));

		/* Never more than asked, and less by under 1/2048. */
		CHECK(back <= ms && back > ms - ms / 2048 - 1);
	}
	errno = 0;
	CHECK(vchan_rpc_server_fail(NULL, VCHAN_RPC_INVALID_ARGUMENT, "x") ==
		  -1 &&
	      errno == EINVAL);
	errno = 0;
	CHECK(vchan_rpc_server_time_left(NULL) == -1 && errno == EINVAL);
	return 0;
}

/* Sets c's addresses (the server's is the client's seen from the other
 * side) and runs the library's client there. */
static int over(struct ctx *c, const char *cli_addr, const char *srv_addr)
{
	snprintf(c->cli_addr, sizeof(c->cli_addr), "%s", cli_addr);
	snprintf(c->srv_addr, sizeof(c->srv_addr), "%s", srv_addr);
	return run(c, client);
}

int main(void)
{
	struct tu_scenarios r = {0};
	struct ctx c;
	char path[200], sock[240], vcli[64], vsrv[64], tcp[64];
	int port = 20000 + (int)(getpid() % 20000);

	signal(SIGPIPE, SIG_IGN);
	rt_tmp_path(path, sizeof(path), "status.sock");
	snprintf(sock, sizeof(sock), "unix:%s", path);
	snprintf(vcli, sizeof(vcli), "vchan:%u/status", SRV_DOMID);
	snprintf(vsrv, sizeof(vsrv), "vchan:%u/status", CLI_DOMID);
	snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%d", port);
	TU_SCENARIO(&r, "units", units());
	snprintf(c.cli_addr, sizeof(c.cli_addr), "%s", sock);
	snprintf(c.srv_addr, sizeof(c.srv_addr), "%s", sock);
	TU_SCENARIO(&r, "raw frames", run(&c, raw_client));
	TU_SCENARIO(&r, "unix", over(&c, sock, sock));
	TU_SCENARIO(&r, "vchan", over(&c, vcli, vsrv));
	if (!tu_quick())
		TU_SCENARIO(&r, "tcp", over(&c, tcp, tcp));
	return tu_scenarios_done(&r);
}
