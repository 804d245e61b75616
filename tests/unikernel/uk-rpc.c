/* tests/unikernel/uk-rpc.c - an RPC echo server and a checking client, one
 * source built twice: as a Linux program (tests/unikernel/uk-rpc) and as a
 * unikernel (uk-rpc.xen). The real-Xen test runs each side in dom0 and in
 * a unikernel against the other.
 *
 *   uk-rpc serve ADDRESS      serve rpctest.Echo at ADDRESS until stopped
 *                             (a unikernel: until destroyed)
 *   uk-rpc call ADDRESS N     make N calls one after another, checking
 *                             every reply; exit 0 when all N were right
 *
 * Each call i carries text "call i", seq i and a blob of (i * 37) % 3000
 * bytes, and asks for (i * 53) % 3000 bytes back: requests and replies of
 * many sizes, each with contents the other side can check. A reply must
 * carry the same text and seq and the server's blob pattern; a request
 * whose blob is wrong is answered with a failure. */
#include "config.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/rpc.h"
#include "tests/rpc/echo.pb-c.h"

#define BLOB_MOD 3000u

static uint8_t pattern(uint32_t i, uint32_t seq, uint32_t salt)
{
	return (uint8_t)(i * salt + seq);
}

static int blob_ok(const ProtobufCBinaryData *b, uint32_t len, uint32_t seq,
		   uint32_t salt)
{
	if (b->len != len)
		return 0;
	for (uint32_t i = 0; i < len; i++)
		if (b->data[i] != pattern(i, seq, salt))
			return 0;
	return 1;
}

static void do_echo(Rpctest__Echo_Service *svc, const Rpctest__EchoRequest *in,
		    Rpctest__EchoReply_Closure closure, void *data)
{
	Rpctest__EchoReply r = RPCTEST__ECHO_REPLY__INIT;
	uint8_t *blob = NULL;

	(void)svc;
	if (!blob_ok(&in->blob, (in->seq * 37u) % BLOB_MOD, in->seq, 7) ||
	    in->reply_size > BLOB_MOD) {
		fprintf(stderr, "uk-rpc: call %u: bad request\n", in->seq);
		closure(NULL, data);
		return;
	}
	if (in->reply_size > 0) {
		blob = malloc(in->reply_size);
		if (blob == NULL) {
			closure(NULL, data);
			return;
		}
		for (uint32_t i = 0; i < in->reply_size; i++)
			blob[i] = pattern(i, in->seq, 11);
	}
	r.text = in->text;
	r.seq = in->seq;
	r.blob.data = blob;
	r.blob.len = in->reply_size;
	closure(&r, data);
	free(blob);
}

static void do_fail(Rpctest__Echo_Service *svc, const Rpctest__EchoRequest *in,
		    Rpctest__EchoReply_Closure closure, void *data)
{
	(void)svc, (void)in;
	closure(NULL, data);
}

static int serve(const char *address)
{
	Rpctest__Echo_Service svc = RPCTEST__ECHO__INIT(do_);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_server *srv =
	    loop != NULL ? vchan_rpc_server_new(loop, NULL) : NULL;

	if (srv == NULL || vchan_rpc_server_add_service(srv, &svc.base) < 0 ||
	    vchan_rpc_server_listen(srv, address) < 0) {
		perror("uk-rpc: serve");
		return 1;
	}
	fprintf(stderr, "uk-rpc: serving at %s\n", address);
	ev_run(loop, 0);
	vchan_rpc_server_free(srv);
	ev_loop_destroy(loop);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One call; 0 when its reply is right. */
static int call_one(struct vchan_rpc_client *c, uint32_t seq, uint8_t *blob)
{
	Rpctest__EchoRequest q = RPCTEST__ECHO_REQUEST__INIT;
	Rpctest__EchoReply *r = NULL;
	char text[32];
	uint32_t len = (seq * 37u) % BLOB_MOD;
	int st, ok;

	snprintf(text, sizeof(text), "call %u", seq);
	for (uint32_t i = 0; i < len; i++)
		blob[i] = pattern(i, seq, 7);
	q.text = text;
	q.seq = seq;
	q.blob.data = blob;
	q.blob.len = len;
	q.reply_size = (seq * 53u) % BLOB_MOD;
	st = vchan_rpc_call_sync(c, 0, &q.base, 30000, (ProtobufCMessage **)&r);
	if (st != VCHAN_RPC_OK) {
		fprintf(stderr, "uk-rpc: call %u: %s%s%s\n", seq,
			st < 0 ? "cannot start" : vchan_rpc_status_str(st),
			*vchan_rpc_client_message(c) ? ": " : "",
			vchan_rpc_client_message(c));
		return -1;
	}
	ok = r->seq == seq && r->text != NULL && strcmp(r->text, text) == 0 &&
	     blob_ok(&r->blob, q.reply_size, seq, 11);
	if (!ok)
		fprintf(stderr,
			"uk-rpc: call %u: wrong reply (seq %u, %zu "
			"bytes)\n",
			seq, r->seq, r->blob.len);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return ok ? 0 : -1;
}

static int call(const char *address, long n)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *c =
	    loop != NULL ? vchan_rpc_client_new(
			       loop, address, &rpctest__echo__descriptor, NULL)
			 : NULL;
	uint8_t *blob = malloc(BLOB_MOD);
	double t0;
	long i = 0;

	if (c == NULL || blob == NULL) {
		perror("uk-rpc: call");
		return 1;
	}
	if (vchan_rpc_client_connect(c, 60000) < 0) {
		perror("uk-rpc: connect");
		return 1;
	}
	t0 = now_s();
	while (i < n && call_one(c, (uint32_t)i, blob) == 0)
		i++;
	fprintf(stderr,
		"uk-rpc: %ld of %ld calls answered and checked in "
		"%.0f ms\n",
		i, n, (now_s() - t0) * 1000);
	free(blob);
	vchan_rpc_client_free(c);
	ev_loop_destroy(loop);
	return i == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	char *end;
	long n;

	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 4 && strcmp(argv[1], "call") == 0) {
		n = strtol(argv[3], &end, 10);
		if (*end == '\0' && n > 0)
			return call(argv[2], n);
	}
	fprintf(stderr,
		"usage: uk-rpc serve ADDRESS | uk-rpc call ADDRESS N\n");
	return 2;
}
