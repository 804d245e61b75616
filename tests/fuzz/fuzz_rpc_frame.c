/* tests/fuzz/fuzz_rpc_frame.c - the rpc frame decoder and encoder
 * (rpc/conn.c) behind a fake channel.
 *
 * The input picks the connection's max_message, then a list of
 * operations: the peer sends raw bytes, a frame of its choosing (any
 * header, any body), ends its stream or poisons the channel; the
 * connection fills its buffer and takes frames; frames are queued and
 * flushed through a ring whose room the input sets. A reference decoder
 * here reads the same byte stream. Invariants:
 *  - vchan_rpc_conn_next returns 1 only for the frame the reference finds
 *    at that point, whole (the body the bytes that were sent; NULL exactly
 *    when the body is above max_message, which is then skipped), 0 only
 *    when the bytes read so far do not hold the next frame, and -1 only
 *    for a header of an unknown version or kind, the connection then dead
 *    with VCHAN_RPC_PROTOCOL_ERROR; nothing else;
 *  - a dead connection stays dead with the status it died of, and reads
 *    nothing more;
 *  - what flush writes is exactly the frames queued, in order.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "rpc/conn.h"
#include "rpc/rpc.h"
#include "tests/fuzz/fake_vchan.h"
#include "tests/fuzz/fuzz.h"

struct st {
	const uint8_t *p, *end;
	struct vchan *ch;
	struct vchan_rpc_conn *c;
	size_t max;
	uint8_t *stream; /* every byte the peer sent */
	size_t slen, scap;
	size_t ref;	 /* the reference's position in it */
	uint64_t rskip;	 /* body bytes the reference still skips */
	int ended;	 /* -1 returned once */
	uint8_t *queued; /* every frame queued, as bytes */
	size_t qlen, qcap, qchecked;
};

static unsigned next8(struct st *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

static unsigned next16(struct st *s)
{
	unsigned v = next8(s);

	return v | next8(s) << 8;
}

static uint32_t next32(struct st *s)
{
	uint32_t v = next16(s);

	return v | (uint32_t)next16(s) << 16;
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

static void append(uint8_t **buf, size_t *len, size_t *cap, const void *b,
		   size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2 + 64;
		*buf = realloc(*buf, *cap);
		CHECK(*buf != NULL);
	}
	if (n > 0)
		memcpy(*buf + *len, b, n);
	*len += n;
}

static void send_bytes(struct st *s, const uint8_t *b, size_t n)
{
	fake_vchan_push(s->ch, b, n);
	append(&s->stream, &s->slen, &s->scap, b, n);
}

/* Bytes of the stream the connection has read. */
static size_t have(const struct st *s)
{
	return (size_t)s->ch->read_total;
}

/* Take frames until the connection needs more or fails. */
static void take(struct st *s)
{
	for (int i = 0; i < 64 && !s->ended; i++) {
		struct vchan_rpc_hdr h;
		const uint8_t *body = (const uint8_t *)1;
		int r = vchan_rpc_conn_next(s->c, &h, &body);
		size_t avail;

		/* The reference first skips what it must. */
		avail = have(s) - s->ref;
		if (s->rskip > 0) {
			size_t k = avail < s->rskip ? avail : (size_t)s->rskip;

			s->ref += k;
			s->rskip -= k;
			avail -= k;
		}
		if (r == 0) {
			if (s->rskip == 0 && avail >= VCHAN_RPC_HDR_SIZE) {
				const uint8_t *q = s->stream + s->ref;
				uint32_t len = get32(q + 16);

				CHECK(q[0] == VCHAN_RPC_WIRE_VERSION);
				CHECK(q[1] == VCHAN_RPC_KIND_REQUEST ||
				      q[1] == VCHAN_RPC_KIND_REPLY);
				CHECK(len <= s->max);
				CHECK(avail < VCHAN_RPC_HDR_SIZE + (size_t)len);
			}
			return;
		}
		CHECK(s->rskip == 0 && avail >= VCHAN_RPC_HDR_SIZE);
		{
			const uint8_t *q = s->stream + s->ref;
			int bad = q[0] != VCHAN_RPC_WIRE_VERSION ||
				  (q[1] != VCHAN_RPC_KIND_REQUEST &&
				   q[1] != VCHAN_RPC_KIND_REPLY);

			if (r < 0) {
				CHECK(r == -1 && bad);
				CHECK(vchan_rpc_conn_dead(s->c) ==
				      VCHAN_RPC_PROTOCOL_ERROR);
				s->ended = 1;
				return;
			}
			CHECK(r == 1 && !bad);
			CHECK(h.version == q[0] && h.kind == q[1]);
			CHECK(h.status == (uint16_t)(q[2] | q[3] << 8));
			CHECK(h.id == get32(q + 4));
			CHECK(h.service == get32(q + 8));
			CHECK(h.method == get32(q + 12));
			CHECK(h.len == get32(q + 16));
			s->ref += VCHAN_RPC_HDR_SIZE;
			if (h.len > s->max) {
				CHECK(body == NULL);
				s->rskip = h.len;
			} else {
				CHECK(body != NULL);
				CHECK(avail >= VCHAN_RPC_HDR_SIZE + h.len);
				/* Every byte of the body is readable (ASan) and
				 * is what was sent. */
				CHECK(h.len == 0 ||
				      memcmp(body, s->stream + s->ref, h.len) ==
					  0);
				s->ref += h.len;
			}
		}
	}
}

static void fill(struct st *s)
{
	int dead = vchan_rpc_conn_dead(s->c);
	uint64_t before = s->ch->read_total;
	int r;

	r = vchan_rpc_conn_fill(s->c);
	CHECK(r == 0 || r == 1);
	if (dead) {
		CHECK(r == 0 && s->ch->read_total == before);
		CHECK(vchan_rpc_conn_dead(s->c) == dead);
	}
	if (s->ch->poisoned && !dead && r == 0 && !vchan_rpc_conn_eof(s->c))
		CHECK(vchan_rpc_conn_dead(s->c) == VCHAN_RPC_PROTOCOL_ERROR);
}

static void check_out(struct st *s)
{
	size_t n = s->ch->out_len;

	CHECK(s->qchecked + n <= s->qlen);
	CHECK(n == 0 || memcmp(s->ch->out, s->queued + s->qchecked, n) == 0);
	s->qchecked += n;
	fake_vchan_take(s->ch, n);
	if (!vchan_rpc_conn_dead(s->c))
		CHECK(vchan_rpc_conn_queued(s->c) == s->qlen - s->qchecked);
}

static void queue(struct st *s, unsigned op)
{
	static uint8_t body[70000];
	struct vchan_rpc_hdr h = {0};
	uint8_t hdr[VCHAN_RPC_HDR_SIZE];
	size_t len = op & 0x80 ? next16(s) : next8(s);

	h.kind = (uint8_t)next8(s);
	h.status = (uint16_t)next16(s);
	h.id = next32(s);
	h.service = next32(s);
	h.method = next32(s);
	h.len = 12345; /* set by the queue */
	memset(body, (int)op, len);
	CHECK(vchan_rpc_conn_queue_bytes(s->c, &h, body, len) == 0);
	CHECK(h.len == len && h.version == VCHAN_RPC_WIRE_VERSION);
	hdr[0] = VCHAN_RPC_WIRE_VERSION;
	hdr[1] = h.kind;
	hdr[2] = (uint8_t)h.status;
	hdr[3] = (uint8_t)(h.status >> 8);
	put32(hdr + 4, h.id);
	put32(hdr + 8, h.service);
	put32(hdr + 12, h.method);
	put32(hdr + 16, (uint32_t)len);
	append(&s->queued, &s->qlen, &s->qcap, hdr, sizeof(hdr));
	append(&s->queued, &s->qlen, &s->qcap, body, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {0, 1, 20, 100, 4096, 65536, 100000};
	static uint8_t frame[VCHAN_RPC_HDR_SIZE + 70000];
	struct st *s = calloc(1, sizeof(*s));
	size_t n;

	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	s->max = maxes[next8(s) % (sizeof(maxes) / sizeof(maxes[0]))];
	s->ch = fake_vchan_new();
	s->c = vchan_rpc_conn_from_vchan(s->ch, s->max);
	CHECK(s->c != NULL);
	CHECK(!vchan_rpc_conn_is_socket(s->c));
	while (s->p < s->end) {
		unsigned op = next8(s);

		switch (op % 8) {
		case 0: /* raw bytes from the peer */
			n = op & 0x80 ? next16(s) : next8(s);
			if (n > (size_t)(s->end - s->p))
				n = (size_t)(s->end - s->p);
			send_bytes(s, s->p, n);
			s->p += n;
			break;
		case 1: /* a frame: version and kind mostly right */
		{
			uint32_t len = op & 0x80 ? next16(s) : next8(s) % 64;

			if (op & 0x40)
				len = next32(s); /* any length at all */
			frame[0] = op & 0x20 ? (uint8_t)next8(s)
					     : VCHAN_RPC_WIRE_VERSION;
			frame[1] = op & 0x10 ? (uint8_t)next8(s)
					     : (uint8_t)(1 + (op >> 3 & 1));
			frame[2] = (uint8_t)next8(s);
			frame[3] = (uint8_t)next8(s);
			put32(frame + 4, next32(s));
			put32(frame + 8, next32(s));
			put32(frame + 12, next32(s));
			put32(frame + 16, len);
			n = len < 70000 ? len : next16(s);
			memset(frame + VCHAN_RPC_HDR_SIZE, (int)op, n);
			send_bytes(s, frame, VCHAN_RPC_HDR_SIZE + n);
			break;
		}
		case 2:
		case 3:
			fill(s);
			/* fall through */
		case 4:
			take(s);
			break;
		case 5:
			if (op & 0x80)
				s->ch->poisoned = op & 0x40;
			else
				s->ch->peer_gone = 1;
			break;
		case 6:
			queue(s, op);
			break;
		case 7:
			s->ch->room = op & 0x80 ? (size_t)-1 : next16(s);
			CHECK(vchan_rpc_conn_flush(s->c) == 0);
			check_out(s);
			break;
		}
		if (s->ended)
			CHECK(vchan_rpc_conn_dead(s->c) ==
			      VCHAN_RPC_PROTOCOL_ERROR);
	}
	/* Drain what is left: whole frames still come out. */
	if (!s->ch->poisoned) {
		for (int i = 0; i < 8 && !vchan_rpc_conn_dead(s->c); i++) {
			fill(s);
			take(s);
		}
	}
	vchan_rpc_conn_free(s->c);
	CHECK(fake_vchan_open_count == 0);
	free(s->stream);
	free(s->queued);
	free(s);
	return 0;
}
