/* tests/fuzz/fuzz_web.c - the web domain (examples/web/web.c) as a whole
 * behind a fake channel, with a fake store.
 *
 * web.c's streams, routes and answers run on a real mux
 * (examples/mux/mux.c) over the fake channel (fake_vchan.c); the input
 * plays the TLS terminator: it opens streams, sends HTTP requests it
 * builds (any method, route, key, body; keep-alive or not) or any bytes
 * on them, closes them, grants credit or not, breaks the mux protocol
 * (the link then goes down and a fresh channel comes up, as mux_link
 * does). The store (store.h) is a fake whose calls stay pending until
 * the input answers them, with any status. Invariants:
 *  - each stream's bytes from the web domain are a sequence of
 *    well-formed HTTP/1.1 responses (status line, Content-Length, the
 *    body whole), nothing after one that says "Connection: close", and
 *    the stream closed after it;
 *  - the answer to a store call that comes after its stream has gone
 *    (the link down, the stream closed) touches nothing freed (ASan);
 *  - on a stream that carried only whole requests, once the store has
 *    answered everything, every request has its response;
 *  - no crash, no leak once the link is down and the store has answered.
 */
#include "config.h"

/* web.c's main is not ours to run; its static functions are used here. */
int web_main(int argc, char **argv);
#define main web_main
#include "examples/web/web.c"
#undef main

#include "tests/fuzz/fake_vchan.h"
#include "tests/fuzz/fuzz.h"

#define NSLOT	6
#define MAXPEND 64

/* ---- the fake store -------------------------------------------------- */

struct store {
	int unused;
};

struct pend {
	int method;
	char key[KEY_MAX + 1];
	store_cb *cb;
	void *data;
};

static struct store the_store;
static struct pend pend[MAXPEND];
static size_t npend;
static int store_refuse; /* calls fail at once with ENOMEM */

static int store_call(int method, const char *key, store_cb *cb, void *data)
{
	CHECK(key != NULL && cb != NULL && data != NULL);
	if (store_refuse || npend == MAXPEND) {
		errno = ENOMEM;
		return -1;
	}
	pend[npend].method = method;
	snprintf(pend[npend].key, sizeof(pend[npend].key), "%s", key);
	pend[npend].cb = cb;
	pend[npend].data = data;
	npend++;
	return 0;
}

struct store *store_open(struct ev_loop *loop, const char *address,
			 int timeout_ms)
{
	(void)loop;
	(void)address;
	(void)timeout_ms;
	return &the_store;
}

int store_connect(struct store *st, int timeout_ms)
{
	(void)st;
	(void)timeout_ms;
	return 0;
}

void store_close(struct store *st)
{
	(void)st;
}

int store_get(struct store *st, const char *key, store_cb *cb, void *data)
{
	(void)st;
	return store_call('G', key, cb, data);
}

int store_put(struct store *st, const char *key, const void *value, size_t len,
	      store_cb *cb, void *data)
{
	(void)st;
	CHECK(value != NULL || len == 0);
	return store_call('P', key, cb, data);
}

int store_delete(struct store *st, const char *key, store_cb *cb, void *data)
{
	(void)st;
	return store_call('D', key, cb, data);
}

int store_list(struct store *st, const char *prefix, store_cb *cb, void *data)
{
	(void)st;
	return store_call('L', prefix, cb, data);
}

size_t store_in_flight(const struct store *st)
{
	(void)st;
	return npend;
}

/* ---- what main would set up: never called here ----------------------- */

struct mux_link *mux_link_new(struct ev_loop *loop, int server,
			      const char *peer, const char *port, size_t ring,
			      const struct mux_ops *ops,
			      const struct mux_link_cb *cb, void *ctx)
{
	(void)loop;
	(void)server;
	(void)peer;
	(void)port;
	(void)ring;
	(void)ops;
	(void)cb;
	(void)ctx;
	errno = ENOSYS;
	return NULL;
}

const char *mux_link_path(const struct mux_link *l)
{
	(void)l;
	return "";
}

void mux_link_hold(struct mux_link *l)
{
	(void)l;
}

void mux_link_free(struct mux_link *l)
{
	(void)l;
}

int vchan_platform_check(void)
{
	return 0;
}

int vchan_path(char *buf, size_t size, uint32_t owner, uint32_t peer,
	       const char *name)
{
	(void)buf;
	(void)size;
	(void)owner;
	(void)peer;
	(void)name;
	errno = ENOSYS;
	return -1;
}

/* ---- the terminator -------------------------------------------------- */

struct stream {
	uint32_t id;
	int open;
	int clean;	   /* only whole requests sent */
	int last;	   /* a request with Connection: close was sent */
	unsigned sent;	   /* requests sent */
	unsigned answered; /* responses received */
	int said_close;	   /* a response said Connection: close */
	uint32_t unacked;  /* our DATA not yet credited back */
	uint8_t *out;	   /* response bytes not yet parsed */
	size_t olen, ocap;
	uint32_t owed; /* credit we owe the web domain */
};

struct st {
	const uint8_t *p, *end;
	struct web w;
	struct vchan *ch;
	struct stream s[NSLOT];
	uint32_t gen;
	uint8_t frame[MUX_HDR + 4];
	uint8_t wout[MUX_HDR + MUX_DATA_MAX]; /* a frame being parsed */
	size_t wlen;
	int slow;    /* do not grant credit back */
	int garbled; /* any bytes sent on the channel: framing unknown */
};

static unsigned next8(struct st *s)
{
	return s->p < s->end ? *s->p++ : 0;
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

static void send_frame(struct st *s, uint32_t id, int type, const void *b,
		       size_t len)
{
	uint8_t h[MUX_HDR];

	put32(h, id);
	h[4] = (uint8_t)type;
	h[5] = 0;
	h[6] = (uint8_t)len;
	h[7] = (uint8_t)(len >> 8);
	fake_vchan_push(s->ch, h, sizeof(h));
	if (len > 0)
		fake_vchan_push(s->ch, b, len);
}

static struct stream *stream_of(struct st *s, uint32_t id)
{
	struct stream *t = &s->s[id % MUX_MAX_STREAMS % NSLOT];

	return t->open && t->id == id ? t : NULL;
}

static void forget(struct stream *t)
{
	t->open = 0;
	free(t->out);
	t->out = NULL;
	t->olen = t->ocap = 0;
}

/* Parse the whole responses of stream t. */
static void responses(struct stream *t)
{
	size_t off = 0;

	while (off < t->olen) {
		const char *r = (const char *)t->out + off;
		size_t left = t->olen - off, hl, clen;
		const char *end, *cl;
		int status;

		CHECK(!t->said_close); /* nothing after the last */
		if (left < 12)
			break;
		CHECK(memcmp(r, "HTTP/1.1 ", 9) == 0);
		end = memmem(r, left, "\r\n\r\n", 4);
		if (end == NULL) {
			CHECK(left < 1024);
			break;
		}
		hl = (size_t)(end - r) + 4;
		status = 0;
		for (int i = 9; i < 12; i++) {
			CHECK(r[i] >= '0' && r[i] <= '9');
			status = status * 10 + (r[i] - '0');
		}
		CHECK(status >= 200 && status <= 599);
		cl = memmem(r, hl, "\r\nContent-Length: ", 18);
		CHECK(cl != NULL);
		clen = 0;
		for (const char *q = cl + 18; *q != '\r'; q++) {
			CHECK(*q >= '0' && *q <= '9' && clen < 1000000);
			clen = clen * 10 + (size_t)(*q - '0');
		}
		if (left - hl < clen)
			break;
		if (memmem(r, hl, "\r\nConnection: close\r\n", 21) != NULL)
			t->said_close = 1;
		t->answered++;
		off += hl + clen;
	}
	memmove(t->out, t->out + off, t->olen - off);
	t->olen -= off;
}

/* A frame from the web domain. */
static void out_frame(struct st *s, const uint8_t *h, size_t len)
{
	uint32_t id = get32(h);
	struct stream *t = stream_of(s, id);

	CHECK(h[5] == 0);
	switch (h[4]) {
	case MUX_DATA:
		CHECK(len >= 1 && len <= MUX_DATA_MAX);
		if (t == NULL)
			break; /* a stream we closed */
		if (t->olen + len > t->ocap) {
			t->ocap = (t->olen + len) * 2;
			t->out = realloc(t->out, t->ocap);
			CHECK(t->out != NULL);
		}
		memcpy(t->out + t->olen, h + MUX_HDR, len);
		t->olen += len;
		t->owed += (uint32_t)len;
		responses(t);
		break;
	case MUX_CLOSE:
		CHECK(len == 0);
		if (t != NULL) {
			/* Closed with a partial response only when the
			 * request could not be trusted. */
			if (t->clean && !s->w.stopping && !s->garbled)
				CHECK(t->olen == 0);
			forget(t);
		}
		break;
	case MUX_CREDIT:
		CHECK(len == 4);
		if (t != NULL) {
			uint32_t n = get32(h + MUX_HDR);

			CHECK(n <= t->unacked);
			t->unacked -= n;
		}
		break;
	default:
		CHECK(0); /* the web domain never opens */
	}
}

static void take_out(struct st *s)
{
	struct vchan *ch = s->ch;

	for (size_t i = 0; i < ch->out_len; i++) {
		s->wout[s->wlen++] = ch->out[i];
		if (s->wlen >= MUX_HDR) {
			size_t flen = (size_t)s->wout[6] | (size_t)s->wout[7]
							       << 8;

			CHECK(flen <= MUX_DATA_MAX);
			if (s->wlen == MUX_HDR + flen) {
				out_frame(s, s->wout, flen);
				s->wlen = 0;
			}
		}
	}
	fake_vchan_take(ch, ch->out_len);
}

static void channel_up(struct st *s)
{
	s->ch = fake_vchan_new();
	s->wlen = 0;
	s->garbled = 0;
	s->w.mux = mux_new(s->ch, &OPS, &s->w);
	CHECK(s->w.mux != NULL);
}

/* The link went down: web forgets its streams; a new channel comes. */
static void channel_down(struct st *s, int err)
{
	struct mux *m = s->w.mux;

	on_down(&s->w, err);
	CHECK(s->w.mux == NULL);
	for (struct conn *c = s->w.conns; c != NULL; c = c->next)
		CHECK(c->fd >= 0);
	mux_free(m);
	for (int i = 0; i < NSLOT; i++)
		forget(&s->s[i]);
	s->ch = NULL;
}

static void run(struct st *s)
{
	int rc = mux_run(s->w.mux);

	if (s->ch->out_len > 0)
		take_out(s);
	if (rc < 0) {
		CHECK(errno == EPROTO || errno == EPIPE);
		channel_down(s, errno);
		channel_up(s);
		return;
	}
	on_ran(&s->w);
	/* Credit back what we read. */
	for (int i = 0; i < NSLOT && !s->slow; i++) {
		struct stream *t = &s->s[i];
		uint8_t b[4];

		if (!t->open || t->owed == 0)
			continue;
		put32(b, t->owed);
		send_frame(s, t->id, MUX_CREDIT, b, 4);
		t->owed = 0;
	}
}

static void answer(struct st *s, unsigned how)
{
	struct store_result r;
	static char k1[] = "a", k2[] = "b/c";
	static char *keys[] = {k1, k2};
	static const uint8_t val[] = "v\xc3\xa9\"\\\n\x01";
	struct pend q;
	size_t i;

	if (npend == 0)
		return;
	i = (how >> 4) % npend;
	q = pend[i];
	pend[i] = pend[--npend];
	memset(&r, 0, sizeof(r));
	r.status = how % 8 < 5 ? STORE_OK : (enum store_status)(how % 8 - 3);
	r.found = (how >> 3) & 1;
	if (q.method == 'G' && r.found) {
		r.value = val;
		r.len = sizeof(val) - 1;
	}
	if (q.method == 'L') {
		r.keys = keys;
		r.nkeys = (how >> 3) % 3;
	}
	q.cb(&r, q.data);
	(void)s;
}

/* A request the input builds. */
static void request(struct st *s, struct stream *t, unsigned op)
{
	static const char *const methods[] = {"GET", "PUT", "DELETE", "POST"};
	static const char *const paths[] = {
	    "/",	 "/index.html",	    "/api/kv",	   "/api/kv?prefix=a",
	    "/api/kv/a", "/api/kv/b%2Fc",   "/api/kv/%ff", "/api/kv/",
	    "/nope",	 "/api/kv?prefix=%"};
	char req[600];
	uint8_t body[64];
	unsigned x = next8(s), blen = next8(s) % sizeof(body);
	int n, close_it = (op & 0x80) != 0;

	for (unsigned i = 0; i < blen; i++)
		body[i] = (uint8_t)(x & 1 ? 'a' + next8(s) % 26 : next8(s));
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n%s"
		     "\r\n",
		     methods[x % 4], paths[(x >> 2) % 10], blen,
		     close_it ? "Connection: close\r\n" : "");
	memcpy(req + n, body, blen);
	n += (int)blen;
	if (t->unacked + (uint32_t)n > MUX_WINDOW)
		return;
	send_frame(s, t->id, MUX_DATA, req, (size_t)n);
	t->unacked += (uint32_t)n;
	t->sent++;
	if (close_it)
		t->last = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	npend = 0;
	store_refuse = 0;
	s->w.loop = ev_loop_new(EVFLAG_AUTO);
	CHECK(s->w.loop != NULL);
	s->w.max_conns = 1 + next8(s) % NSLOT;
	s->w.lfd = -1;
	s->w.st = &the_store;
	channel_up(s);
	while (s->p < s->end) {
		unsigned op = next8(s), x;
		struct stream *t = &s->s[(op >> 3 & 7) % NSLOT];
		uint8_t raw[256];
		size_t n;

		switch (op & 7) {
		case 0: /* open */
			if (t->open && !(op & 0x80))
				break; /* an OPEN for an open slot: EPROTO */
			forget(t);
			t->id = (uint32_t)(t - s->s) |
				(uint32_t)(++s->gen % 0xfffff) << 12;
			send_frame(s, t->id, MUX_OPEN, NULL, 0);
			t->open = 1;
			t->clean = 1;
			t->last = t->said_close = 0;
			t->sent = t->answered = 0;
			t->unacked = t->owed = 0;
			break;
		case 1:
		case 2: /* a request */
			if (t->open && !t->last)
				request(s, t, op);
			break;
		case 3: /* any bytes on a stream */
			n = 1 + next8(s) % 200;
			if (n > (size_t)(s->end - s->p))
				n = (size_t)(s->end - s->p);
			if (!t->open || n == 0 || t->unacked + n > MUX_WINDOW)
				break;
			memcpy(raw, s->p, n);
			s->p += n;
			send_frame(s, t->id, MUX_DATA, raw, n);
			t->unacked += (uint32_t)n;
			t->clean = 0;
			break;
		case 4:
			run(s);
			break;
		case 5:
			x = next8(s);
			if (op & 0x80)
				answer(s, x);
			else if (op & 0x40)
				s->slow = x & 1;
			else if (op & 0x20)
				store_refuse = x & 1;
			else if (t->open) {
				send_frame(s, t->id, MUX_CLOSE, NULL, 0);
				forget(t);
			}
			break;
		case 6: /* any bytes on the channel */
			n = next8(s) % 32;
			if (n > (size_t)(s->end - s->p))
				n = (size_t)(s->end - s->p);
			fake_vchan_push(s->ch, s->p, n);
			s->p += n;
			s->garbled |= n > 0;
			break;
		case 7:
			if (op & 0x80 && !s->w.stopping)
				begin_stop(&s->w);
			else if (op & 0x40)
				s->ch->room = op & 0x20 ? (size_t)-1 : next8(s);
			break;
		}
	}
	/* Everything answered, room and credit: clean streams get every
	 * answer. */
	s->slow = 0;
	s->ch->room = (size_t)-1;
	store_refuse = 0;
	for (int i = 0; i < 16; i++) {
		run(s);
		while (npend > 0)
			answer(s, 0);
	}
	if (s->ch != NULL)
		for (int i = 0; i < NSLOT; i++) {
			struct stream *t = &s->s[i];

			if (t->open && t->clean && !s->w.stopping &&
			    !s->garbled)
				CHECK(t->answered == t->sent);
		}
	channel_down(s, EPIPE);
	while (npend > 0)
		answer(s, 0);
	CHECK(s->w.nconns == 0 && s->w.conns == NULL);
	CHECK(fake_vchan_open_count == 0);
	ev_loop_destroy(s->w.loop);
	free(s);
	return 0;
}
