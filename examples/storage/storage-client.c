/* examples/storage/storage-client.c - use a key-value store.
 *
 *   storage-client ADDRESS get KEY
 *   storage-client ADDRESS put KEY VALUE
 *   storage-client ADDRESS delete KEY
 *   storage-client ADDRESS list [PREFIX]
 *
 * ADDRESS: vchan:SERVER_DOMID/PORT, unix:PATH or tcp:HOST:PORT. Exit
 * status: 0 done, 1 key not found, 2 usage, 3 the call failed. */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "examples/storage/storage.pb-c.h"
#include "grant/grant.h"
#include "rpc/rpc.h"

static int usage(void)
{
	fprintf(stderr, "usage: storage-client ADDRESS get KEY | put KEY VALUE "
			"| delete KEY | list [PREFIX]\n");
	return 2;
}

static int call(struct vchan_rpc_client *cli, const char *method,
		const ProtobufCMessage *req, ProtobufCMessage **rep)
{
	const ProtobufCServiceDescriptor *d = &storage__storage__descriptor;
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(d, method);
	int st;

	/* A vchan server offers a fresh channel only once it has seen its
	 * previous client go: a client that comes right after may find the
	 * old one, and its first call ends with "peer gone". Try again. */
	for (int i = 0;; i++) {
		st = vchan_rpc_call_sync(cli, (unsigned)(m - d->methods), req,
					 -1, rep);
		if (st != VCHAN_RPC_PEER_GONE || i == 20)
			break;
		usleep(20000);
	}

	if (st != VCHAN_RPC_OK)
		fprintf(stderr, "storage-client: %s: %s%s%s\n", method,
			vchan_rpc_status_str((enum vchan_rpc_status)st),
			*vchan_rpc_client_message(cli) ? ": " : "",
			vchan_rpc_client_message(cli));
	return st;
}

static int run(struct vchan_rpc_client *cli, int argc, char **argv)
{
	const char *op = argv[0];
	ProtobufCMessage *rep = NULL;
	int rc = 0;

	if (strcmp(op, "get") == 0 && argc == 2) {
		Storage__GetRequest q = STORAGE__GET_REQUEST__INIT;
		Storage__GetReply *r;

		q.key = argv[1];
		if (call(cli, "Get", &q.base, &rep) != VCHAN_RPC_OK)
			return 3;
		r = (Storage__GetReply *)rep;
		if (r->found)
			printf("%.*s\n", (int)r->value.len,
			       (const char *)r->value.data);
		rc = r->found ? 0 : 1;
	} else if (strcmp(op, "put") == 0 && argc == 3) {
		Storage__PutRequest q = STORAGE__PUT_REQUEST__INIT;

		q.key = argv[1];
		q.value.data = (uint8_t *)argv[2];
		q.value.len = strlen(argv[2]);
		if (call(cli, "Put", &q.base, &rep) != VCHAN_RPC_OK)
			return 3;
	} else if (strcmp(op, "delete") == 0 && argc == 2) {
		Storage__DeleteRequest q = STORAGE__DELETE_REQUEST__INIT;

		q.key = argv[1];
		if (call(cli, "Delete", &q.base, &rep) != VCHAN_RPC_OK)
			return 3;
		rc = ((Storage__DeleteReply *)rep)->existed ? 0 : 1;
	} else if (strcmp(op, "list") == 0 && argc <= 2) {
		Storage__ListRequest q = STORAGE__LIST_REQUEST__INIT;
		Storage__ListReply *r;

		q.prefix = argc == 2 ? argv[1] : "";
		if (call(cli, "List", &q.base, &rep) != VCHAN_RPC_OK)
			return 3;
		r = (Storage__ListReply *)rep;
		for (size_t i = 0; i < r->n_keys; i++)
			printf("%s\n", r->keys[i]);
	} else {
		return usage();
	}
	protobuf_c_message_free_unpacked(rep, NULL);
	return rc;
}

int main(int argc, char **argv)
{
	struct ev_loop *loop;
	struct vchan_rpc_client *cli;
	int rc;

	if (argc < 3)
		return usage();
	/* A bad platform environment is one line, naming the variable. */
	if (strncmp(argv[1], "vchan:", 6) == 0 && vchan_platform_check() < 0)
		return 3;
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		return 3;
	cli = vchan_rpc_client_new(loop, argv[1], &storage__storage__descriptor,
				   NULL);
	if (cli == NULL) {
		fprintf(stderr, "storage-client: bad address %s\n", argv[1]);
		ev_loop_destroy(loop);
		return 2;
	}
	if (vchan_rpc_client_connect(cli, 5000) < 0) {
		fprintf(stderr, "storage-client: cannot reach %s: %s\n",
			argv[1], strerror(errno));
		rc = 3;
	} else {
		rc = run(cli, argc - 2, argv + 2);
	}
	vchan_rpc_client_free(cli);
	ev_loop_destroy(loop);
	return rc;
}
