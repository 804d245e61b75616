/* tests/rpc/storage_kill.c - every write the storage server acknowledged
 * survives its SIGKILL; a torn record at the end of its log is cut off on
 * restart; Get, Put, Delete and List work end to end over vchan. */
#include "config.h"

#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/storage/service.h"
#include "examples/storage/storage.pb-c.h"
#include "tests/rpc/rtest.h"

#define LIMIT_MS 20000

static char logpath[200];

static int server(void *arg)
{
	const char *a[1] = {"vchan:5/storage"};

	(void)arg;
	return storage_serve(a, 1, logpath, 0, NULL);
}

static void value_of(char *buf, size_t size, uint32_t i)
{
	snprintf(buf, size, "value-%u-%0*u", i, (int)(i % 50), i);
}

/* Put k0, k1... one after the other, telling the parent each one that
 * was acknowledged, until a call fails (the server is killed). */
static int writer(void *arg)
{
	struct tu_chan *ch = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli;
	char key[32], val[128];
	int st;

	CHECK(loop != NULL);
	cli = vchan_rpc_client_new(loop, "vchan:3/storage",
				   &storage__storage__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_client_connect(cli, tu_ms(5000)) == 0);
	for (uint32_t i = 0;; i++) {
		Storage__PutRequest q = STORAGE__PUT_REQUEST__INIT;

		snprintf(key, sizeof(key), "k%u", i);
		value_of(val, sizeof(val), i);
		q.key = key;
		q.value.data = (uint8_t *)val;
		q.value.len = strlen(val);
		st = vchan_rpc_call_sync(cli, 1, &q.base, -1, NULL);
		if (st != VCHAN_RPC_OK)
			break;
		CHECK(tu_send(ch, 1, &i, sizeof(i)) == 0);
	}
	CHECK(st == VCHAN_RPC_PEER_GONE);
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return 0;
}

struct check {
	uint32_t acked;
};

static int reader(void *arg)
{
	struct check *c = arg;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct vchan_rpc_client *cli;
	char key[32], val[128];
	Storage__GetReply *g;
	Storage__ListReply *l;
	Storage__DeleteReply *d;

	CHECK(loop != NULL);
	cli = vchan_rpc_client_new(loop, "vchan:3/storage",
				   &storage__storage__descriptor, NULL);
	CHECK(cli != NULL);
	CHECK(vchan_rpc_client_connect(cli, tu_ms(5000)) == 0);
	for (uint32_t i = 0; i <= c->acked; i++) {
		Storage__GetRequest q = STORAGE__GET_REQUEST__INIT;

		snprintf(key, sizeof(key), "k%u", i);
		value_of(val, sizeof(val), i);
		q.key = key;
		CHECK(vchan_rpc_call_sync(cli, 0, &q.base, -1,
					  (ProtobufCMessage **)&g) ==
		      VCHAN_RPC_OK);
		if (!g->found || g->value.len != strlen(val) ||
		    memcmp(g->value.data, val, g->value.len) != 0)
			fprintf(stderr, "lost %s\n", key);
		CHECK(g->found && g->value.len == strlen(val) &&
		      memcmp(g->value.data, val, g->value.len) == 0);
		protobuf_c_message_free_unpacked(&g->base, NULL);
	}
	{
		Storage__DeleteRequest q = STORAGE__DELETE_REQUEST__INIT;
		Storage__ListRequest lq = STORAGE__LIST_REQUEST__INIT;
		Storage__GetRequest gq = STORAGE__GET_REQUEST__INIT;

		q.key = "k1";
		CHECK(vchan_rpc_call_sync(cli, 2, &q.base, -1,
					  (ProtobufCMessage **)&d) ==
		      VCHAN_RPC_OK);
		CHECK(d->existed);
		protobuf_c_message_free_unpacked(&d->base, NULL);
		CHECK(vchan_rpc_call_sync(cli, 2, &q.base, -1,
					  (ProtobufCMessage **)&d) ==
		      VCHAN_RPC_OK);
		CHECK(!d->existed);
		protobuf_c_message_free_unpacked(&d->base, NULL);
		gq.key = "k1";
		CHECK(vchan_rpc_call_sync(cli, 0, &gq.base, -1,
					  (ProtobufCMessage **)&g) ==
		      VCHAN_RPC_OK);
		CHECK(!g->found);
		protobuf_c_message_free_unpacked(&g->base, NULL);
		/* k1 is gone: k10..k19 (and k100.. when written) remain. */
		lq.prefix = "k1";
		CHECK(vchan_rpc_call_sync(cli, 3, &lq.base, -1,
					  (ProtobufCMessage **)&l) ==
		      VCHAN_RPC_OK);
		CHECK(l->n_keys >= 10);
		CHECK(strcmp(l->keys[0], "k10") == 0);
		for (size_t i = 1; i < l->n_keys; i++)
			CHECK(strcmp(l->keys[i - 1], l->keys[i]) < 0 &&
			      strncmp(l->keys[i], "k1", 2) == 0);
		protobuf_c_message_free_unpacked(&l->base, NULL);
	}
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return 0;
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

int main(void)
{
	struct tu_chan ch;
	struct check c = {0};
	static const uint8_t torn[] = {40, 0, 0, 0, 1, 2, 3, 4, 1, 5, 0};
	pid_t s, w, r;
	off_t before;
	int fd, rs, rw, rr;

	rt_tmp_path(logpath, sizeof(logpath), "kv.log");
	CHECK(tu_chan_init(&ch) == 0);
	s = tu_spawn(SRV_DOMID, server, NULL);
	w = tu_spawn(CLI_DOMID, writer, &ch);
	CHECK(s > 0 && w > 0);
	/* Kill the server in the middle of the writes. */
	for (int n = 0; n < 300; n++)
		CHECK(tu_recv(&ch, 0, &c.acked, sizeof(c.acked)) == 0);
	CHECK(tu_kill(s, tu_ms(5000)) == 128 + SIGKILL);
	/* Acknowledgements that were on their way still count. */
	while (tu_readable(ch.up[0], 0) == 1 &&
	       tu_recv(&ch, 0, &c.acked, sizeof(c.acked)) == 0)
		;
	rw = tu_wait(w, tu_ms(LIMIT_MS));
	CHECK(rw == 0);
	fprintf(stderr, "acknowledged up to k%u\n", c.acked);
	/* A crash in the middle of a record. */
	before = file_size(logpath);
	fd = open(logpath, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 &&
	      write(fd, torn, sizeof(torn)) == (ssize_t)sizeof(torn));
	close(fd);
	s = tu_spawn(SRV_DOMID, server, NULL);
	r = tu_spawn(CLI_DOMID, reader, &c);
	CHECK(s > 0 && r > 0);
	rr = tu_wait(r, tu_ms(LIMIT_MS));
	rs = tu_stop(s, tu_ms(LIMIT_MS));
	tu_chan_close(&ch);
	fprintf(stderr, "log %lld bytes before the torn record, %lld after\n",
		(long long)before, (long long)file_size(logpath));
	CHECK(rr == 0 && rs == 0);
	/* The torn bytes were cut, and the delete appended after them. */
	CHECK(file_size(logpath) > before &&
	      file_size(logpath) < before + (off_t)sizeof(torn) + 64);
	return 0;
}
