/* tests/fuzz/fuzz_rpc_server.c - an rpc server (rpc/server.c) carrying
 * the storage service (examples/storage/service.c over a kvlog in a
 * temporary directory), fed requests by a client the input plays.
 *
 * The server listens at a vchan address; the fake channel (fake_vchan.c)
 * carries what the input sends: well-formed requests of the four methods
 * (any key, any value, any deadline), requests for services and methods
 * that are not there, bodies that do not decode, frames of any header,
 * raw bytes; the ring's room, the peer going away. The loop runs a few
 * iterations at a time (never blocking). Invariants:
 *  - every frame the server writes is a well-formed reply (version, kind,
 *    a sendable status, a message of at most VCHAN_RPC_MESSAGE_MAX bytes)
 *    to a request sent on that channel, answered once; an OK reply
 *    decodes as the method's output (after bytes that break the wire
 *    format, the replies may be to requests those bytes made up);
 *  - while the client has sent only whole, well-formed requests, the
 *    connection stays and every request is answered, in order; the
 *    store's answers match a model of it (Get finds what the last Put
 *    stored, Delete says whether the key existed, List the sorted keys);
 *  - after bytes that break the wire format the connection may be
 *    dropped (the listener then offers a fresh channel), never a crash;
 *  - the server frees everything (LeakSanitizer).
 */
#include "config.h"

/* The storage service itself: its handlers are static. */
#include "examples/storage/service.c"

#include <unistd.h>

#include "rpc/conn.h"
#include "tests/fuzz/fake_vchan.h"
#include "tests/fuzz/fuzz.h"

#define NKEYS	 4
#define MAXREQ	 256
#define KEYLEN_X 1100 /* a key above STORAGE_KEY_MAX */

/* xenstore, as service.c's say_serving would use it (never called). */
vchan_xs *vchan_xs_open(void)
{
	errno = ENOENT;
	return NULL;
}

int vchan_xs_domid(vchan_xs *xs)
{
	(void)xs;
	return -1;
}

int vchan_xs_close(vchan_xs *xs)
{
	(void)xs;
	return 0;
}

struct req {
	uint32_t id;
	int method;  /* 0-3, or -1: not a request the service gets */
	int key;     /* index into keys, or NKEYS: empty, NKEYS+1: too long */
	int checked; /* the model can tell the answer */
	int spoilt;  /* its body was cut or changed */
	int answered;
	uint8_t val[64];
	size_t vlen;
};

struct model {
	int present;
	uint8_t val[64];
	size_t vlen;
};

struct st {
	const uint8_t *p, *end;
	struct ev_loop *loop;
	struct vchan_rpc_server *srv;
	struct vchan *ch; /* the channel the client uses now */
	int clean;	  /* only whole well-formed requests sent on it */
	int gone;	  /* the peer went away or the ring was poisoned */
	int model_ok;	  /* no change but those the model knows of */
	struct req r[MAXREQ];
	size_t nreq, nanswered;
	uint8_t *out; /* the server's bytes not yet parsed */
	size_t olen, ocap;
	struct model m[NKEYS];
	uint32_t svc_hash, m_hash[4];
	size_t max_message;
};

static struct st *cur;
static char dir[64], logpath[96];
static const char *const keys[NKEYS] = {"a", "b", "a/c", "\xc3\xa9t\xc3\xa9"};
static char long_key[KEYLEN_X + 1];

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

static const char *key_of(int k)
{
	return k < NKEYS ? keys[k] : k == NKEYS ? "" : long_key;
}

static struct req *find(struct st *s, uint32_t id)
{
	for (size_t i = 0; i < s->nreq; i++)
		if (s->r[i].id == id)
			return &s->r[i];
	return NULL;
}

static void check_ok(struct st *s, struct req *q, const uint8_t *body,
		     uint32_t len)
{
	static const ProtobufCMessageDescriptor *const out[4] = {
	    &storage__get_reply__descriptor, &storage__put_reply__descriptor,
	    &storage__delete_reply__descriptor,
	    &storage__list_reply__descriptor};
	ProtobufCMessage *msg;
	struct model *m;

	CHECK(q->method >= 0);
	msg = protobuf_c_message_unpack(out[q->method], NULL, len, body);
	CHECK(msg != NULL);
	m = q->key < NKEYS ? &s->m[q->key] : NULL;
	if (q->checked && s->clean && s->model_ok) {
		CHECK(m != NULL || q->method == 3);
		switch (q->method) {
		case 0: {
			Storage__GetReply *g = (Storage__GetReply *)msg;

			CHECK(g->found == m->present);
			CHECK(!g->found ||
			      (g->value.len == m->vlen &&
			       (m->vlen == 0 ||
				memcmp(g->value.data, m->val, m->vlen) == 0)));
			break;
		}
		case 1:
			m->present = 1;
			m->vlen = q->vlen;
			memcpy(m->val, q->val, q->vlen);
			break;
		case 2:
			CHECK(((Storage__DeleteReply *)msg)->existed ==
			      m->present);
			m->present = 0;
			break;
		case 3: {
			Storage__ListReply *l = (Storage__ListReply *)msg;
			size_t n = 0;

			for (int k = 0; k < NKEYS; k++)
				n += s->m[k].present;
			CHECK(l->n_keys == n);
			for (size_t i = 0; i + 1 < l->n_keys; i++)
				CHECK(strcmp(l->keys[i], l->keys[i + 1]) < 0);
			break;
		}
		}
	}
	protobuf_c_message_free_unpacked(msg, NULL);
}

/* Parse the server's whole frames. */
static void parse_out(struct st *s)
{
	size_t off = 0;

	while (s->olen - off >= VCHAN_RPC_HDR_SIZE) {
		const uint8_t *h = s->out + off;
		uint32_t len = get32(h + 16), id = get32(h + 4);
		int status = h[2] | h[3] << 8;
		struct req *q;

		if (s->olen - off - VCHAN_RPC_HDR_SIZE < len)
			break;
		CHECK(h[0] == VCHAN_RPC_WIRE_VERSION);
		CHECK(h[1] == VCHAN_RPC_KIND_REPLY);
		CHECK(len <= s->max_message || status != VCHAN_RPC_OK);
		q = find(s, id);
		off += VCHAN_RPC_HDR_SIZE + len;
		/* Bytes that broke the rules may hold requests of their
		 * own, of any id. */
		if (!s->clean && (q == NULL || q->answered))
			continue;
		CHECK(q != NULL);
		CHECK(!q->answered);
		q->answered = 1;
		s->nanswered++;
		if (s->clean) /* in order */
			CHECK(q == &s->r[s->nanswered - 1]);
		if (status == VCHAN_RPC_OK) {
			/* A change the model cannot follow (a spoilt body
			 * that still decoded, with what key?). */
			if (!q->checked && (q->method == 1 || q->method == 2))
				s->model_ok = 0;
			check_ok(s, q, h + VCHAN_RPC_HDR_SIZE, len);
		} else {
			CHECK(vchan_rpc_status_sendable(status));
			CHECK(len <= VCHAN_RPC_MESSAGE_MAX);
			/* Only bad keys, deadlines and sizes fail here: a
			 * failed Put or Delete changed nothing. */
			if (q->checked && s->clean)
				CHECK(status == VCHAN_RPC_DEADLINE_EXCEEDED ||
				      status == VCHAN_RPC_TOO_LARGE);
			if (q->key >= NKEYS && q->method >= 0 && s->clean &&
			    !q->spoilt)
				CHECK(status == VCHAN_RPC_INVALID_ARGUMENT ||
				      status == VCHAN_RPC_DEADLINE_EXCEEDED ||
				      status == VCHAN_RPC_TOO_LARGE);
		}
	}
	if (off > 0) {
		memmove(s->out, s->out + off, s->olen - off);
		s->olen -= off;
	}
}

static void take_out(struct st *s, struct vchan *ch)
{
	if (s->olen + ch->out_len > s->ocap) {
		s->ocap = (s->olen + ch->out_len) * 2 + 256;
		s->out = realloc(s->out, s->ocap);
		CHECK(s->out != NULL);
	}
	if (ch->out_len > 0)
		memcpy(s->out + s->olen, ch->out, ch->out_len);
	s->olen += ch->out_len;
	fake_vchan_take(ch, ch->out_len);
	parse_out(s);
}

/* A new channel: what was in flight on the old one is forgotten. */
static void new_channel(struct st *s)
{
	s->ch = fake_vchan_cur;
	s->clean = 1;
	s->gone = 0;
	s->nreq = s->nanswered = 0;
	s->olen = 0;
}

static void on_close(struct vchan *ch)
{
	struct st *s = cur;

	if (s == NULL || ch != s->ch)
		return;
	take_out(s, ch);
	/* A connection that broke no rule is never dropped. */
	CHECK(!s->clean || s->gone);
	s->ch = NULL;
}

static void run(struct st *s, int n)
{
	for (int i = 0; i < n; i++)
		ev_run(s->loop, EVRUN_NOWAIT);
	if (s->ch == NULL) {
		CHECK(fake_vchan_cur != NULL); /* a fresh channel offered */
		new_channel(s);
	}
	take_out(s, s->ch);
}

static void push(struct st *s, const void *b, size_t n)
{
	if (s->ch != NULL)
		fake_vchan_push(s->ch, b, n);
}

/* A request of method `mi` (0-3) with a body that decodes. */
static void request(struct st *s, unsigned op)
{
	static uint8_t buf[VCHAN_RPC_HDR_SIZE + 4096];
	Storage__GetRequest g = STORAGE__GET_REQUEST__INIT;
	Storage__PutRequest p = STORAGE__PUT_REQUEST__INIT;
	Storage__DeleteRequest d = STORAGE__DELETE_REQUEST__INIT;
	Storage__ListRequest l = STORAGE__LIST_REQUEST__INIT;
	const ProtobufCMessage *msg;
	struct req *q;
	unsigned k = next8(s), flags = next8(s);
	size_t len;
	uint16_t deadline = 0;

	if (s->nreq == MAXREQ || s->ch == NULL)
		return;
	q = &s->r[s->nreq];
	memset(q, 0, sizeof(*q));
	q->id = (uint32_t)s->nreq * 7 + 1;
	q->method = (int)(op >> 3 & 3);
	q->key = (int)(k % (NKEYS + 2));
	if (q->method == 1) {
		q->vlen = (k >> 3) % sizeof(q->val);
		for (size_t i = 0; i < q->vlen; i++)
			q->val[i] = (uint8_t)next8(s);
	}
	switch (q->method) {
	case 0:
		g.key = (char *)key_of(q->key);
		msg = &g.base;
		break;
	case 1:
		p.key = (char *)key_of(q->key);
		p.value.data = q->val;
		p.value.len = q->vlen;
		msg = &p.base;
		break;
	case 2:
		d.key = (char *)key_of(q->key);
		msg = &d.base;
		break;
	default:
		l.prefix = (char *)key_of(q->key % NKEYS);
		if (k & 0x80)
			l.prefix = "";
		msg = &l.base;
		break;
	}
	len = protobuf_c_message_get_packed_size(msg);
	CHECK(len <= sizeof(buf) - VCHAN_RPC_HDR_SIZE);
	protobuf_c_message_pack(msg, buf + VCHAN_RPC_HDR_SIZE);
	/* A deadline now and then: long enough never to pass. */
	if (flags & 1)
		deadline = vchan_rpc_deadline_encode(600000);
	q->checked =
	    (q->key < NKEYS || q->method == 3) && len <= s->max_message;
	if (q->method == 3 && !(k & 0x80))
		q->checked = 0; /* a prefix: the model counts every key */
	if (flags & 2) {	/* a body cut or spoilt: may decode or not */
		size_t cut = flags >> 2;

		if (cut < len)
			len = cut;
		if (len > 0)
			buf[VCHAN_RPC_HDR_SIZE + (flags >> 4) % len] ^= 0x80;
		q->checked = 0;
		q->spoilt = 1;
	}
	buf[0] = VCHAN_RPC_WIRE_VERSION;
	buf[1] = VCHAN_RPC_KIND_REQUEST;
	buf[2] = (uint8_t)deadline;
	buf[3] = (uint8_t)(deadline >> 8);
	put32(buf + 4, q->id);
	put32(buf + 8, op & 0x80 ? next16(s) : s->svc_hash);
	put32(buf + 12, op & 0x40 ? next16(s) : s->m_hash[q->method]);
	put32(buf + 16, (uint32_t)len);
	if (op & 0xc0) {
		q->method = -1;
		q->checked = 0;
	}
	s->nreq++;
	push(s, buf, VCHAN_RPC_HDR_SIZE + len);
}

static void cleanup(void)
{
	unlink(logpath);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {4096, 16, 64, 1 << 20};
	struct store store = {.svc = STORAGE__STORAGE__INIT(do_)};
	struct vchan_rpc_options o;
	struct st *s;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/fuzz_rpc_server.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(dir) != NULL);
		snprintf(logpath, sizeof(logpath), "%s/log", dir);
		memset(long_key, 'k', KEYLEN_X);
		fake_vchan_on_close = on_close;
		atexit(cleanup);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	unlink(logpath);
	store.kv = kvlog_open(logpath, NULL);
	CHECK(store.kv != NULL);
	s->loop = ev_loop_new(EVFLAG_AUTO);
	CHECK(s->loop != NULL);
	vchan_rpc_options_init(&o);
	o.max_message = s->max_message = maxes[next8(s) % 4];
	o.max_in_flight = 1 + next8(s) % 4;
	o.max_queued = 64 + next8(s) * 16;
	s->srv = vchan_rpc_server_new(s->loop, &o);
	CHECK(s->srv != NULL);
	CHECK(vchan_rpc_server_add_service(s->srv, &store.svc.base) == 0);
	s->svc_hash = vchan_rpc_name_hash(storage__storage__descriptor.name);
	for (int i = 0; i < 4; i++)
		s->m_hash[i] = vchan_rpc_name_hash(
		    storage__storage__descriptor.methods[i].name);
	cur = s;
	s->model_ok = 1;
	CHECK(vchan_rpc_server_listen(s->srv, "vchan:0/fuzz") == 0);
	new_channel(s);
	CHECK(s->ch != NULL);
	while (s->p < s->end) {
		unsigned op = next8(s), n;
		uint8_t raw[256];

		switch (op & 7) {
		case 0:
		case 1:
		case 2:
			request(s, op);
			break;
		case 3: /* raw bytes */
			n = next8(s);
			if (n > (size_t)(s->end - s->p))
				n = (unsigned)(s->end - s->p);
			memcpy(raw, s->p, n);
			s->p += n;
			push(s, raw, n);
			if (n > 0)
				s->clean = s->model_ok = 0;
			break;
		case 4:
		case 5:
			run(s, 1 + (op >> 3) % 4);
			break;
		case 6: /* the ring's room */
			if (s->ch == NULL)
				break;
			s->ch->room = op & 0x80 ? (size_t)-1 : next16(s);
			fake_vchan_signal(s->ch);
			break;
		case 7:
			if (s->ch == NULL || !(op & 0x80))
				break;
			if (op & 0x40)
				s->ch->poisoned = 1;
			else
				s->ch->peer_gone = 1;
			s->gone = 1;
			s->model_ok = 0; /* answers lost */
			fake_vchan_signal(s->ch);
			break;
		}
	}
	/* Room for everything: a clean client gets every answer. */
	if (s->ch != NULL) {
		s->ch->room = (size_t)-1;
		fake_vchan_signal(s->ch);
	}
	/* A throttled server (max_queued) takes a few frames per loop
	 * iteration. */
	for (int i = 0; i < 4 * MAXREQ && s->ch != NULL && s->clean &&
			!s->gone && s->nanswered < s->nreq;
	     i++)
		run(s, 1);
	if (s->ch != NULL && s->clean && !s->gone)
		CHECK(s->nanswered == s->nreq);
	cur = NULL;
	vchan_rpc_server_free(s->srv);
	CHECK(fake_vchan_open_count == 0);
	ev_loop_destroy(s->loop);
	kvlog_close(store.kv);
	free(s->out);
	free(s);
	return 0;
}
