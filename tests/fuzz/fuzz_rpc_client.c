/* tests/fuzz/fuzz_rpc_client.c - an rpc client (rpc/client.c) of the
 * storage service against a hostile server the input plays.
 *
 * The client connects over the fake channel (fake_vchan.c). The input
 * starts calls of the four methods, and answers as the server: replies
 * to the requests the client wrote (the right id or another, any status,
 * a body that decodes or any bytes, the right service and method or
 * not, any kind or version), raw bytes; it sets the ring's room, closes
 * or poisons the channel, refuses connections, and frees the client,
 * from a closure too. The loop runs a few iterations at a time (never
 * blocking). Invariants:
 *  - every call started ends exactly once, with a status of the API; a
 *    reply only with VCHAN_RPC_OK, of the method's output type; a Get's
 *    reply is what the server sent, when the channel carried only
 *    well-formed replies;
 *  - the message of a failed call is at most VCHAN_RPC_MESSAGE_MAX bytes
 *    with no control character;
 *  - the number of calls in flight is the number started and not ended;
 *  - freeing the client (not from a closure) ends the calls left with
 *    VCHAN_RPC_CANCELLED; freed either way, every call has ended, and it
 *    leaves nothing behind (no channel open, no leak).
 */
#include "config.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "examples/storage/storage.pb-c.h"
#include "rpc/conn.h"
#include "rpc/rpc.h"
#include "tests/fuzz/fake_vchan.h"
#include "tests/fuzz/fuzz.h"

#define MAXCALLS 128

struct call {
	struct st *s;
	int method;
	int ended;
	/* A well-formed OK reply was sent for it: the found flag and
	 * value of a GetReply (others carry nothing to compare). */
	int sent_ok;
	int found;
	uint8_t val[32];
	size_t vlen;
};

struct sent { /* a request the client wrote */
	uint32_t id, service, method;
	int call; /* index of its call (from its key), or -1 */
};

struct st {
	const uint8_t *p, *end;
	struct ev_loop *loop;
	struct vchan_rpc_client *c;
	struct call calls[MAXCALLS];
	size_t ncalls, nended;
	size_t started; /* on this client, not yet ended */
	int free_in_closure;
	struct sent req[MAXCALLS];
	size_t nreq;
	uint8_t *out; /* the client's bytes not yet parsed */
	size_t olen, ocap;
	struct vchan *ch;
	int tidy;    /* only well-formed replies sent on this channel */
	int freeing; /* 1: by the harness, 2: by a closure */
};

static struct st *cur;

static unsigned next8(struct st *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

static unsigned next16(struct st *s)
{
	unsigned v = next8(s);

	return v | next8(s) << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static const ProtobufCMessageDescriptor *const outputs[4] = {
    &storage__get_reply__descriptor, &storage__put_reply__descriptor,
    &storage__delete_reply__descriptor, &storage__list_reply__descriptor};

static void done(enum vchan_rpc_status status, const ProtobufCMessage *reply,
		 void *data)
{
	struct call *k = data;
	struct st *s = k->s;
	const char *msg;

	CHECK(!k->ended);
	k->ended = 1;
	s->nended++;
	CHECK(s->started > 0);
	s->started--;
	CHECK(status >= VCHAN_RPC_OK && status <= VCHAN_RPC_INVALID_ARGUMENT);
	CHECK(vchan_rpc_client_status(s->c) == status);
	/* Freed from outside: whatever is left is cancelled. Freed from a
	 * closure, the calls of the batch that closure was part of (ended
	 * already: no connection, peer gone...) keep their status. */
	if (s->freeing == 1)
		CHECK(status == VCHAN_RPC_CANCELLED);
	if (status == VCHAN_RPC_OK) {
		CHECK(reply != NULL);
		CHECK(reply->descriptor == outputs[k->method]);
		if (k->sent_ok && k->method == 0) {
			const Storage__GetReply *g =
			    (const Storage__GetReply *)reply;

			CHECK(g->found == k->found);
			CHECK(g->value.len == k->vlen);
			CHECK(k->vlen == 0 ||
			      memcmp(g->value.data, k->val, k->vlen) == 0);
		}
	} else {
		CHECK(reply == NULL);
	}
	msg = vchan_rpc_client_message(s->c);
	CHECK(msg != NULL && strlen(msg) <= VCHAN_RPC_MESSAGE_MAX);
	for (const char *m = msg; *m; m++)
		CHECK((unsigned char)*m >= 0x20 && *m != 0x7f);
	if (s->free_in_closure && !s->freeing) {
		s->free_in_closure = 0;
		s->freeing = 2;
		vchan_rpc_client_free(s->c);
		/* The calls left end with CANCELLED once the client is off
		 * the stack. */
	}
}

static void on_close(struct vchan *ch)
{
	struct st *s = cur;

	if (s != NULL && ch == s->ch)
		s->ch = NULL;
}

/* The call a request body names by its key ("k<index>"), or -1. */
static int call_of(const uint8_t *body, uint32_t len, uint32_t mhash)
{
	const ProtobufCServiceDescriptor *d = &storage__storage__descriptor;
	ProtobufCMessage *m = NULL;
	unsigned idx = 0;
	int r = -1;

	for (unsigned i = 0; i < d->n_methods; i++)
		if (vchan_rpc_name_hash(d->methods[i].name) == mhash)
			m = protobuf_c_message_unpack(d->methods[i].input, NULL,
						      len, body);
	CHECK(m != NULL); /* the client's requests decode */
	/* Every request type has its key (or prefix) as field 1. */
	if (sscanf(((Storage__GetRequest *)m)->key, "k%u", &idx) == 1 &&
	    idx < MAXCALLS)
		r = (int)idx;
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

/* The channel the client uses now; forget the old one's requests. */
static void follow(struct st *s)
{
	if (s->ch == fake_vchan_cur)
		return;
	s->ch = fake_vchan_cur;
	s->nreq = 0;
	s->olen = 0;
	s->tidy = 1;
}

/* Parse the client's whole frames: the requests. */
static void take_out(struct st *s)
{
	size_t off = 0;

	follow(s);
	if (s->ch == NULL)
		return;
	if (s->olen + s->ch->out_len > s->ocap) {
		s->ocap = (s->olen + s->ch->out_len) * 2 + 256;
		s->out = realloc(s->out, s->ocap);
		CHECK(s->out != NULL);
	}
	if (s->ch->out_len > 0)
		memcpy(s->out + s->olen, s->ch->out, s->ch->out_len);
	s->olen += s->ch->out_len;
	fake_vchan_take(s->ch, s->ch->out_len);
	while (s->olen - off >= VCHAN_RPC_HDR_SIZE) {
		const uint8_t *h = s->out + off;
		uint32_t len = get32(h + 16);

		if (s->olen - off - VCHAN_RPC_HDR_SIZE < len)
			break;
		CHECK(h[0] == VCHAN_RPC_WIRE_VERSION);
		CHECK(h[1] == VCHAN_RPC_KIND_REQUEST);
		if (s->nreq == MAXCALLS)
			s->nreq = 0;
		s->req[s->nreq].id = get32(h + 4);
		s->req[s->nreq].service = get32(h + 8);
		s->req[s->nreq].method = get32(h + 12);
		s->req[s->nreq].call =
		    call_of(h + VCHAN_RPC_HDR_SIZE, len, get32(h + 12));
		s->nreq++;
		off += VCHAN_RPC_HDR_SIZE + len;
	}
	if (off > 0) {
		memmove(s->out, s->out + off, s->olen - off);
		s->olen -= off;
	}
}

static void new_client(struct st *s)
{
	struct vchan_rpc_options o;

	vchan_rpc_options_init(&o);
	o.timeout_ms = 0;
	o.max_message = 1 + next16(s) * 4;
	o.max_in_flight = 1 + next8(s) % 8;
	o.max_queued = 64 + next8(s) * 8;
	s->c = vchan_rpc_client_new(s->loop, "vchan:0/fuzz",
				    &storage__storage__descriptor, &o);
	CHECK(s->c != NULL);
	s->freeing = 0;
	s->nreq = 0;
	s->olen = 0;
}

static void free_client(struct st *s)
{
	s->freeing = 1;
	vchan_rpc_client_free(s->c);
	CHECK(s->started == 0);
	s->c = NULL;
	s->freeing = 0;
	CHECK(fake_vchan_open_count == 0);
	s->ch = NULL;
}

static void call(struct st *s, unsigned op)
{
	Storage__GetRequest g = STORAGE__GET_REQUEST__INIT;
	Storage__PutRequest p = STORAGE__PUT_REQUEST__INIT;
	Storage__DeleteRequest d = STORAGE__DELETE_REQUEST__INIT;
	Storage__ListRequest l = STORAGE__LIST_REQUEST__INIT;
	static uint8_t val[300];
	const ProtobufCMessage *msg[4] = {&g.base, &p.base, &d.base, &l.base};
	struct call *k;
	size_t n = next8(s);
	char key[16];

	if (s->ncalls == MAXCALLS)
		return;
	k = &s->calls[s->ncalls];
	k->s = s;
	k->method = (int)(op >> 3 & 3);
	snprintf(key, sizeof(key), "k%zu", s->ncalls);
	g.key = p.key = d.key = l.prefix = key;
	memset(val, 'v', n);
	p.value.data = val;
	p.value.len = n;
	CHECK(vchan_rpc_call(s->c, (unsigned)k->method, msg[k->method], 0, done,
			     k) == 0);
	s->ncalls++;
	s->started++;
	follow(s);
	CHECK(vchan_rpc_client_in_flight(s->c) <= s->started);
}

/* A reply from the server. */
static void reply(struct st *s, unsigned op)
{
	static uint8_t buf[VCHAN_RPC_HDR_SIZE + 512];
	Storage__GetReply g = STORAGE__GET_REPLY__INIT;
	const struct sent *q;
	unsigned which = next8(s), flags = next8(s);
	uint16_t status = 0;
	size_t len = 0;
	uint32_t id;

	if (s->ch == NULL)
		return;
	take_out(s);
	if (s->nreq == 0)
		return;
	q = &s->req[which % s->nreq];
	id = q->id;
	if (flags & 1)
		id ^= (uint32_t)next16(s) << (flags & 2 ? 16 : 0);
	if (flags & 4)
		status = (uint16_t)(next8(s) % 14);
	if (flags & 8) { /* any bytes as the body */
		len = next8(s);
		if (len > (size_t)(s->end - s->p))
			len = (size_t)(s->end - s->p);
		memcpy(buf + VCHAN_RPC_HDR_SIZE, s->p, len);
		s->p += len;
	} else {
		/* A GetReply: what a Get expects; it decodes as the
		 * other replies too (unknown fields). */
		g.found = (flags & 16) != 0;
		g.value.len = next8(s) % 32;
		g.value.data = buf + VCHAN_RPC_HDR_SIZE + 256;
		memset(g.value.data, (int)op, g.value.len);
		len = storage__get_reply__pack(&g, buf + VCHAN_RPC_HDR_SIZE);
	}
	buf[0] = flags & 32 ? (uint8_t)next8(s) : VCHAN_RPC_WIRE_VERSION;
	buf[1] = flags & 64 ? (uint8_t)next8(s) : VCHAN_RPC_KIND_REPLY;
	buf[2] = (uint8_t)status;
	buf[3] = (uint8_t)(status >> 8);
	put32(buf + 4, id);
	put32(buf + 8, q->service ^ (flags & 128 ? 1u : 0u));
	put32(buf + 12, q->method);
	put32(buf + 16, (uint32_t)len);
	if (id == q->id && status == 0 && !(flags & (8 | 32 | 64 | 128)) &&
	    s->tidy && q->call >= 0) {
		/* The first well-formed reply to a call, on a channel that
		 * carried nothing else: the call gets exactly this, if it
		 * is still waiting. */
		struct call *k = &s->calls[q->call];

		if (!k->ended && !k->sent_ok) {
			k->sent_ok = 1;
			k->found = g.found;
			k->vlen = g.value.len;
			memcpy(k->val, g.value.data, g.value.len);
		}
	} else {
		s->tidy = 0;
	}
	fake_vchan_push(s->ch, buf, VCHAN_RPC_HDR_SIZE + len);
}

static void run(struct st *s, int n)
{
	for (int i = 0; i < n && s->c != NULL; i++) {
		ev_run(s->loop, EVRUN_NOWAIT);
		if (s->freeing) { /* freed from a closure */
			CHECK(s->started == 0);
			CHECK(fake_vchan_open_count == 0);
			s->c = NULL;
			s->ch = NULL;
			s->freeing = 0;
		}
	}
	if (s->c != NULL) {
		take_out(s);
		CHECK(vchan_rpc_client_in_flight(s->c) <= s->started);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	fake_vchan_on_close = on_close;
	fake_vchan_refuse = 0;
	cur = s;
	s->loop = ev_loop_new(EVFLAG_AUTO);
	CHECK(s->loop != NULL);
	new_client(s);
	while (s->p < s->end) {
		unsigned op = next8(s);
		uint8_t raw[256];
		size_t n;

		if (s->c == NULL)
			new_client(s);
		switch (op & 7) {
		case 0:
		case 1:
			call(s, op);
			break;
		case 2:
		case 3:
			reply(s, op);
			break;
		case 4:
			run(s, 1 + (op >> 3) % 4);
			break;
		case 5: /* raw bytes */
			n = next8(s);
			if (n > (size_t)(s->end - s->p))
				n = (size_t)(s->end - s->p);
			memcpy(raw, s->p, n);
			s->p += n;
			if (s->ch != NULL && n > 0) {
				fake_vchan_push(s->ch, raw, n);
				s->tidy = 0;
			}
			break;
		case 6:
			if (s->ch == NULL)
				break;
			if (op & 0x80)
				s->ch->room = op & 0x40 ? (size_t)-1 : next8(s);
			else if (op & 0x40)
				s->ch->poisoned = 1;
			else
				s->ch->peer_gone = 1;
			fake_vchan_signal(s->ch);
			break;
		case 7:
			if (op & 0x80)
				fake_vchan_refuse = (op & 0x40) != 0;
			else if (op & 0x40)
				s->free_in_closure = 1;
			else
				free_client(s);
			break;
		}
	}
	if (s->c != NULL)
		free_client(s);
	CHECK(s->started == 0);
	/* Calls that could not start end from the loop. */
	ev_run(s->loop, EVRUN_NOWAIT);
	for (size_t i = 0; i < s->ncalls; i++)
		CHECK(s->calls[i].ended);
	CHECK(s->nended == s->ncalls);
	cur = NULL;
	fake_vchan_refuse = 0;
	ev_loop_destroy(s->loop);
	free(s->out);
	free(s);
	return 0;
}
