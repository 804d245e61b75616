/* tests/fuzz/fuzz_mux.c - the mux (examples/mux/mux.c) behind a fake
 * channel.
 *
 * The fake struct vchan below replaces libvchan for mux.c: what the peer
 * "writes" comes from the fuzz input, and what the mux writes is parsed
 * back here. The input is a list of operations: bytes from the peer (raw
 * frames, any bytes at all) followed by mux_run, and the local calls
 * mux_open, mux_send, mux_close and mux_consumed on streams picked by the
 * input, a ring that fills up, and the peer going away. Invariants checked
 * after every operation:
 *  - callbacks name only open streams; DATA is 1..MUX_DATA_MAX bytes and
 *    never puts more than MUX_WINDOW bytes unconsumed on a stream;
 *  - every frame the mux writes is well formed (zero byte, known type,
 *    the length its type requires), and no DATA follows our CLOSE of
 *    that stream;
 *  - mux_streams matches the streams open here;
 *  - a mux_run that fails says EPIPE or EPROTO, and the mux stays dead:
 *    every later call fails.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/mux/mux.h"
#include "vchan/vchan.h"
#include "tests/fuzz/fuzz.h"

/* The fake channel. */
struct vchan {
	uint8_t in[1 << 16]; /* bytes from the peer not yet read */
	size_t in_len;
	size_t room;			     /* bytes the ring takes now */
	int peer_gone;			     /* the peer closed */
	uint8_t out[MUX_HDR + MUX_DATA_MAX]; /* partial frame written */
	size_t out_len;
};

/* What the harness knows of each slot. */
struct slot {
	uint32_t id;
	int open;
	uint32_t unacked;
	int closed_out; /* we wrote CLOSE for id */
};

struct state {
	struct vchan ch;
	struct mux *m;
	struct slot s[MUX_MAX_STREAMS];
	size_t nopen;
	const uint8_t *p, *end; /* the rest of the input */
};

static struct state *cur; /* for the fake vchan's write */

static unsigned next8(struct state *st)
{
	return st->p < st->end ? *st->p++ : 0;
}

static unsigned next16(struct state *st)
{
	unsigned v = next8(st);

	return v | next8(st) << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void opened(struct state *st, uint32_t id)
{
	struct slot *s = &st->s[id % MUX_MAX_STREAMS];

	CHECK(!s->open);
	s->id = id;
	s->open = 1;
	s->unacked = 0;
	s->closed_out = 0;
	st->nopen++;
}

static struct slot *known(struct state *st, uint32_t id)
{
	struct slot *s = &st->s[id % MUX_MAX_STREAMS];

	return s->open && s->id == id ? s : NULL;
}

static void forget(struct state *st, struct slot *s)
{
	s->open = 0;
	st->nopen--;
}

/* A frame the mux wrote. */
static void out_frame(struct state *st, const uint8_t *h, size_t len)
{
	uint32_t id = get32(h);
	struct slot *s = &st->s[id % MUX_MAX_STREAMS];

	CHECK(h[5] == 0);
	switch (h[4]) {
	case MUX_OPEN:
	case MUX_CLOSE:
		CHECK(len == 0);
		break;
	case MUX_DATA:
		CHECK(len >= 1 && len <= MUX_DATA_MAX);
		CHECK(!(s->id == id && s->closed_out));
		break;
	case MUX_CREDIT:
		CHECK(len == 4);
		CHECK(get32(h + MUX_HDR) <= MUX_WINDOW);
		break;
	default:
		CHECK(0);
	}
	if (h[4] == MUX_CLOSE && s->id == id)
		s->closed_out = 1;
}

/* libvchan, as mux.c uses it. */
int vchan_set_blocking(struct vchan *ch, int blocking)
{
	(void)ch;
	CHECK(blocking == 0);
	return 0;
}

int vchan_close(struct vchan *ch)
{
	(void)ch;
	return 0;
}

int vchan_fd(const struct vchan *ch)
{
	(void)ch;
	return -1;
}

int vchan_wait(struct vchan *ch, int timeout_ms)
{
	(void)ch;
	CHECK(timeout_ms == 0);
	return 0;
}

ssize_t vchan_read(struct vchan *ch, void *buf, size_t len)
{
	size_t n = len < ch->in_len ? len : ch->in_len;

	if (n == 0 && len > 0 && ch->peer_gone) {
		errno = EPIPE;
		return -1;
	}
	memcpy(buf, ch->in, n);
	memmove(ch->in, ch->in + n, ch->in_len - n);
	ch->in_len -= n;
	return (ssize_t)n;
}

ssize_t vchan_write(struct vchan *ch, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = len < ch->room ? len : ch->room;

	if (ch->peer_gone) {
		errno = EPIPE;
		return -1;
	}
	ch->room -= n;
	for (size_t i = 0; i < n; i++) {
		ch->out[ch->out_len++] = p[i];
		if (ch->out_len >= MUX_HDR) {
			size_t flen = (size_t)ch->out[6] | (size_t)ch->out[7]
							       << 8;

			CHECK(flen <= MUX_DATA_MAX);
			if (ch->out_len == MUX_HDR + flen) {
				out_frame(cur, ch->out, flen);
				ch->out_len = 0;
			}
		}
	}
	return (ssize_t)n;
}

/* Callbacks. */
static void cb_open(void *ctx, uint32_t id)
{
	struct state *st = ctx;

	opened(st, id);
	if (next8(st) % 8 == 0) { /* refuse some */
		CHECK(mux_close(st->m, id) == 0 || errno == EPIPE);
		forget(st, known(st, id));
	}
}

static void cb_data(void *ctx, uint32_t id, void *user, const uint8_t *buf,
		    size_t len)
{
	struct state *st = ctx;
	struct slot *s = known(st, id);
	uint8_t first = buf[0], last = buf[len - 1]; /* all readable */

	(void)user;
	CHECK(s != NULL);
	CHECK(len >= 1 && len <= MUX_DATA_MAX);
	s->unacked += (uint32_t)len;
	CHECK(s->unacked <= MUX_WINDOW);
	if ((first ^ last) & 1) {
		CHECK(mux_consumed(st->m, id, s->unacked) == 0 ||
		      errno == EPIPE);
		s->unacked = 0;
	}
}

static void cb_close(void *ctx, uint32_t id, void *user)
{
	struct state *st = ctx;
	struct slot *s = known(st, id);

	(void)user;
	CHECK(s != NULL);
	forget(st, s);
}

static void cb_writable(void *ctx, uint32_t id, void *user)
{
	(void)user;
	CHECK(known(ctx, id) != NULL);
}

static const struct mux_ops ops = {cb_open, cb_data, cb_close, cb_writable};

/* An open stream picked by the input, or NULL. */
static struct slot *pick(struct state *st)
{
	unsigned start = next16(st) % MUX_MAX_STREAMS;

	if (st->nopen == 0)
		return NULL;
	for (unsigned i = 0; i < MUX_MAX_STREAMS; i++) {
		struct slot *s = &st->s[(start + i) % MUX_MAX_STREAMS];

		if (s->open)
			return s;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[40000];
	struct state *st = calloc(1, sizeof(*st));
	int dead = 0;

	if (st == NULL)
		return 0;
	cur = st;
	st->p = data;
	st->end = data + size;
	st->ch.room = 1 << 16;
	st->m = mux_new(&st->ch, &ops, st);
	CHECK(st->m != NULL);
	while (st->p < st->end) {
		unsigned op = next8(st);
		struct slot *s;
		int64_t id;
		size_t n;
		ssize_t r;

		switch (op % 8) {
		case 0:
		case 1:
		case 2: /* the peer writes n bytes */
			n = op < 128 ? next8(st) + 1 : next16(st) + 1;
			if (n > (size_t)(st->end - st->p))
				n = (size_t)(st->end - st->p);
			if (n > sizeof(st->ch.in) - st->ch.in_len)
				n = sizeof(st->ch.in) - st->ch.in_len;
			memcpy(st->ch.in + st->ch.in_len, st->p, n);
			st->ch.in_len += n;
			st->p += n;
			/* fall through */
		case 3:
			if (mux_run(st->m) < 0) {
				CHECK(errno == EPIPE || errno == EPROTO);
				dead = 1;
			} else {
				CHECK(!dead);
			}
			break;
		case 4:
			id = mux_open(st->m, NULL);
			if (id >= 0) {
				CHECK(!dead);
				opened(st, (uint32_t)id);
			} else {
				CHECK(dead ? errno == EPIPE || errno == EPROTO
					   : errno == EAGAIN || errno == EPIPE);
				dead |= errno != EAGAIN;
			}
			break;
		case 5:
			s = pick(st);
			n = next16(st) % sizeof(payload);
			if (s == NULL)
				break;
			memset(payload, (int)op, n);
			r = mux_send(st->m, s->id, payload, n);
			CHECK(r <= (ssize_t)n);
			CHECK(r >= 0 || dead || errno == EPIPE);
			if (r < 0)
				dead = 1;
			break;
		case 6:
			s = pick(st);
			if (s == NULL)
				break;
			if (op & 0x80) {
				if (mux_close(st->m, s->id) < 0)
					dead = 1;
				else
					forget(st, s);
			} else {
				n = next16(st) % (s->unacked + 2);
				if (mux_consumed(st->m, s->id, n) == 0) {
					CHECK(!dead && n <= s->unacked);
					s->unacked -= (uint32_t)n;
				} else {
					CHECK(dead || errno == EINVAL);
				}
			}
			break;
		case 7:
			if (op & 0x80)
				st->ch.peer_gone = 1;
			else
				st->ch.room = (size_t)next16(st) * 4;
			break;
		}
		if (!dead)
			CHECK(mux_streams(st->m) == st->nopen);
	}
	mux_free(st->m);
	free(st);
	return 0;
}
