/* examples/web/store_rpc.c - store.h over rpc/ to examples/storage. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "examples/storage/storage.pb-c.h"
#include "examples/web/store.h"
#include "rpc/rpc.h"

struct store {
	struct vchan_rpc_client *cli;
	size_t in_flight;
	unsigned get, put, del, list; /* method indexes */
};

struct op {
	struct store *st;
	store_cb *cb;
	void *data;
};

static int method(const char *name, unsigned *idx)
{
	const ProtobufCServiceDescriptor *d = &storage__storage__descriptor;
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(d, name);

	if (m == NULL)
		return -1;
	*idx = (unsigned)(m - d->methods);
	return 0;
}

struct store *store_open(struct ev_loop *loop, const char *address,
			 int timeout_ms)
{
	struct store *st = calloc(1, sizeof(*st));
	struct vchan_rpc_options o;

	if (st == NULL)
		return NULL;
	if (method("Get", &st->get) < 0 || method("Put", &st->put) < 0 ||
	    method("Delete", &st->del) < 0 || method("List", &st->list) < 0) {
		free(st);
		errno = EINVAL;
		return NULL;
	}
	vchan_rpc_options_init(&o);
	o.timeout_ms = timeout_ms;
	st->cli = vchan_rpc_client_new(loop, address,
				       &storage__storage__descriptor, &o);
	if (st->cli == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

int store_connect(struct store *st, int timeout_ms)
{
	return vchan_rpc_client_connect(st->cli, timeout_ms);
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* Calls in flight end (VCHAN_RPC_CANCELLED) inside
	 * vchan_rpc_client_free. */
	vchan_rpc_client_free(st->cli);
	free(st);
}

size_t store_in_flight(const struct store *st)
{
	return st->in_flight;
}

static enum store_status map(enum vchan_rpc_status s)
{
	switch (s) {
	case VCHAN_RPC_OK:
		return STORE_OK;
	case VCHAN_RPC_DEADLINE_EXCEEDED:
		return STORE_TIMEOUT;
	case VCHAN_RPC_INVALID_ARGUMENT:
		return STORE_INVALID;
	case VCHAN_RPC_PEER_GONE:
	case VCHAN_RPC_QUEUE_FULL:
	case VCHAN_RPC_CANCELLED:
		return STORE_UNAVAILABLE;
	default:
		return STORE_FAILED;
	}
}

static void done(enum vchan_rpc_status status, const ProtobufCMessage *reply,
		 void *data)
{
	struct op *op = data;
	struct store_result r;

	memset(&r, 0, sizeof(r));
	r.status = map(status);
	if (status == VCHAN_RPC_OK) {
		const ProtobufCMessageDescriptor *d = reply->descriptor;

		if (d == &storage__get_reply__descriptor) {
			const Storage__GetReply *g = (const void *)reply;

			r.found = g->found;
			r.value = g->value.data;
			r.len = g->value.len;
		} else if (d == &storage__delete_reply__descriptor) {
			r.found =
			    ((const Storage__DeleteReply *)reply)->existed;
		} else if (d == &storage__list_reply__descriptor) {
			const Storage__ListReply *l = (const void *)reply;

			r.keys = l->keys;
			r.nkeys = l->n_keys;
		}
	}
	op->st->in_flight--;
	op->cb(&r, op->data);
	free(op);
}

static int call(struct store *st, unsigned idx, const ProtobufCMessage *req,
		store_cb *cb, void *data)
{
	struct op *op = malloc(sizeof(*op));

	if (op == NULL)
		return -1;
	op->st = st;
	op->cb = cb;
	op->data = data;
	if (vchan_rpc_call(st->cli, idx, req, -1, done, op) < 0) {
		free(op);
		return -1;
	}
	st->in_flight++;
	return 0;
}

int store_get(struct store *st, const char *key, store_cb *cb, void *data)
{
	Storage__GetRequest req = STORAGE__GET_REQUEST__INIT;

	req.key = (char *)key;
	return call(st, st->get, &req.base, cb, data);
}

int store_put(struct store *st, const char *key, const void *value, size_t len,
	      store_cb *cb, void *data)
{
	Storage__PutRequest req = STORAGE__PUT_REQUEST__INIT;

	req.key = (char *)key;
	req.value.data = (uint8_t *)value;
	req.value.len = len;
	return call(st, st->put, &req.base, cb, data);
}

int store_delete(struct store *st, const char *key, store_cb *cb, void *data)
{
	Storage__DeleteRequest req = STORAGE__DELETE_REQUEST__INIT;

	req.key = (char *)key;
	return call(st, st->del, &req.base, cb, data);
}

int store_list(struct store *st, const char *prefix, store_cb *cb, void *data)
{
	Storage__ListRequest req = STORAGE__LIST_REQUEST__INIT;

	req.prefix = (char *)prefix;
	return call(st, st->list, &req.base, cb, data);
}
