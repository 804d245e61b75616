/* tests/fuzz/fuzz_ring.c - the ring protocol (vchan/ring.c) on a fake
 * shared page.
 *
 * We are the server; the input plays the client. It writes into the left
 * ring and consumes from the right one honestly, or tampers with the page
 * (any index, live byte or order, any byte of the page), between the
 * server's operations: read, write, reserve/commit, peek/consume, ready,
 * space, state, request/withdraw, close. Invariants checked after every
 * operation:
 *  - the server writes no byte of the page but its own indexes, its live
 *    byte, the notify bytes and the ring it writes, and no byte of the
 *    ring it reads; zero-copy segments lie inside their ring;
 *  - while the client is honest nothing fails with EPROTO, ready and
 *    space are exact, and the bytes read are the bytes the client wrote
 *    (and the other way);
 *  - an index, live byte or order that no correct client can produce
 *    fails the next operation that looks at it with EPROTO, and a value
 *    a correct client can produce does not;
 *  - once EPROTO, every later operation fails with EPROTO.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "vchan/ring.h"

#define PAGE 4096u

struct st {
	const uint8_t *p, *end;
	struct vchan_ring_ctl c;
	uint8_t *page, *left, *right; /* left, right: the ring buffers */
	uint32_t lsize, rsize;
	uint8_t *lbuf, *rbuf;  /* separately allocated rings (granted) */
	int honest;	       /* the client has only done what it may */
	int content;	       /* ... and no ring byte has been tampered with */
	uint32_t cprod, ccons; /* the client's own indexes */
	uint32_t c2s_w, c2s_r; /* bytes the client wrote / we read */
	uint32_t s2c_w, s2c_r; /* bytes we wrote / the client read */
	uint8_t snap[PAGE];
	uint8_t *lsnap;
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

/* The byte at position i of each direction's stream. */
static uint8_t c2s(uint32_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) + 7u);
}

static uint8_t s2c(uint32_t i)
{
	return (uint8_t)(i * 37u + (i >> 9) + 101u);
}

static uint32_t ld32(const uint8_t *page, size_t off)
{
	uint32_t v;

	memcpy(&v, page + off, 4);
	return v;
}

static void st32(uint8_t *page, size_t off, uint32_t v)
{
	memcpy(page + off, &v, 4);
}

/* Around each server operation: what it may change. */
static void before(struct st *s)
{
	memcpy(s->snap, s->page, PAGE);
	if (s->lbuf != NULL)
		memcpy(s->lsnap, s->lbuf, s->lsize);
}

static void after(struct st *s)
{
	for (size_t i = 0; i < PAGE; i++) {
		int ours = i < 4 || (i >= 12 && i < 16) || (i >= 21 && i < 24);

		if (s->right != s->rbuf && i >= (size_t)(s->right - s->page) &&
		    i < (size_t)(s->right - s->page) + s->rsize)
			ours = 1;
		if (!ours)
			CHECK(s->page[i] == s->snap[i]);
	}
	if (s->lbuf != NULL)
		CHECK(memcmp(s->lsnap, s->lbuf, s->lsize) == 0);
	if (s->honest)
		CHECK(!s->c.poisoned);
}

/* A failed call: while honest never EPROTO; once poisoned always. */
static void failed(struct st *s, int err)
{
	CHECK(err == EPROTO || err == EINVAL || err == EMSGSIZE);
	if (err == EPROTO) {
		CHECK(!s->honest);
		CHECK(s->c.poisoned);
	}
}

static void ok_or_poisoned(struct st *s, long rc)
{
	if (s->c.poisoned)
		CHECK(rc == -1 && errno == EPROTO);
}

static void check_read(struct st *s, const uint8_t *p, size_t n)
{
	if (s->content)
		for (size_t i = 0; i < n; i++)
			CHECK(p[i] == c2s(s->c2s_r + (uint32_t)i));
	s->c2s_r += (uint32_t)n;
}

static int inside(const struct iovec *v, const uint8_t *buf, uint32_t size)
{
	const uint8_t *b = v->iov_base;

	return b >= buf && v->iov_len <= size && b + v->iov_len <= buf + size;
}

/* The client's moves. */
static void client_write(struct st *s, uint32_t k)
{
	uint32_t cons = ld32(s->page, 0), space = s->lsize - (s->cprod - cons);

	if (k > space)
		k = space;
	for (uint32_t i = 0; i < k; i++)
		s->left[(s->cprod + i) & (s->lsize - 1)] = c2s(s->c2s_w + i);
	s->c2s_w += k;
	s->cprod += k;
	st32(s->page, 4, s->cprod);
}

static void client_read(struct st *s, uint32_t k)
{
	uint32_t prod = ld32(s->page, 12), ready = prod - s->ccons;

	CHECK(ready <= s->rsize);
	if (k > ready)
		k = ready;
	for (uint32_t i = 0; i < k; i++)
		if (s->content)
			CHECK(s->right[(s->ccons + i) & (s->rsize - 1)] ==
			      s2c(s->s2c_r + i));
	s->s2c_r += k;
	s->ccons += k;
	st32(s->page, 8, s->ccons);
}

/* Tamper with an index; the next look at it must tell. */
static void tamper_index(struct st *s, unsigned which, uint32_t v)
{
	struct vchan_ring *rd = &s->c.rd, *wr = &s->c.wr;
	int was = s->c.poisoned, bad;
	long rc;

	s->honest = s->content = 0;
	switch (which) {
	case 0: /* left.cons, ours */
		bad = v != rd->own || ld32(s->page, 4) - rd->own > rd->size ||
		      ld32(s->page, 4) - rd->own < rd->seen - rd->own;
		st32(s->page, 0, v);
		break;
	case 1: /* left.prod, the client's */
		bad = ld32(s->page, 0) != rd->own || v - rd->own > rd->size ||
		      v - rd->own < rd->seen - rd->own;
		st32(s->page, 4, v);
		break;
	case 2: /* right.cons, the client's */
		bad = ld32(s->page, 12) != wr->own || wr->own - v > wr->size ||
		      v - wr->seen > wr->own - wr->seen;
		st32(s->page, 8, v);
		break;
	default: /* right.prod, ours */
		bad = v != wr->own || wr->own - ld32(s->page, 8) > wr->size ||
		      ld32(s->page, 8) - wr->seen > wr->own - wr->seen;
		st32(s->page, 12, v);
		break;
	}
	before(s);
	rc = which < 2 ? vchan_ring_ready(&s->c) : vchan_ring_space(&s->c);
	after(s);
	if (was || bad) {
		CHECK(rc == -1 && errno == EPROTO && s->c.poisoned);
	} else {
		uint32_t prod = ld32(s->page, 4), cons = ld32(s->page, 8);

		CHECK(rc == (long)(which < 2 ? prod - rd->own
					     : wr->size - (wr->own - cons)));
		CHECK(rc >= 0);
	}
}

static void op(struct st *s, unsigned o)
{
	static uint8_t buf[2 * (1u << 13) + 16];
	struct iovec iov[2], seg[2];
	int kick = 0, rc, all, nseg;
	size_t len, skip, cut;
	long n;

	switch (o % 16) {
	case 0:
		if (s->honest)
			client_write(s, next16(s) % (s->lsize + 1));
		return;
	case 1:
		if (s->honest)
			client_read(s, next16(s) % (s->rsize + 1));
		return;
	case 2: /* read */
	case 3: /* write */
		len = next16(s) % (2 * s->lsize + 1);
		skip = next8(s) % 16;
		cut = next16(s) % (skip + len + 1);
		all = (int)(o >> 4) & 1;
		iov[0].iov_base = buf;
		iov[0].iov_len = cut;
		iov[1].iov_base = buf + cut;
		iov[1].iov_len = skip + len - cut;
		if (o % 16 == 3)
			for (size_t i = 0; i < len; i++)
				buf[skip + i] = s2c(s->s2c_w + (uint32_t)i);
		before(s);
		n = (o % 16 == 2 ? vchan_ring_read : vchan_ring_write)(
		    &s->c, iov, 2, skip, len, all, &kick);
		after(s);
		ok_or_poisoned(s, n);
		if (n < 0) {
			failed(s, errno);
			return;
		}
		CHECK((size_t)n <= len && (!all || n == 0 || (size_t)n == len));
		if (o % 16 == 2)
			check_read(s, buf + skip, (size_t)n);
		else
			s->s2c_w += (uint32_t)n;
		return;
	case 4: /* reserve, commit */
		len = next16(s) % (s->rsize + 16);
		before(s);
		rc = vchan_ring_reserve(&s->c, len, seg);
		after(s);
		ok_or_poisoned(s, rc);
		if (rc < 0) {
			failed(s, errno);
			CHECK(errno != EMSGSIZE || len > s->rsize);
			return;
		}
		CHECK(rc <= 2);
		len = 0;
		for (int i = 0; i < rc; i++) {
			CHECK(inside(&seg[i], s->right, s->rsize));
			for (size_t j = 0; j < seg[i].iov_len; j++)
				((uint8_t *)seg[i].iov_base)[j] =
				    s2c(s->s2c_w + (uint32_t)(len + j));
			len += seg[i].iov_len;
		}
		cut = next16(s) % (len + 2);
		before(s);
		rc = vchan_ring_commit(&s->c, cut, &kick);
		after(s);
		ok_or_poisoned(s, rc);
		if (rc < 0) {
			failed(s, errno);
			CHECK(errno != EINVAL || cut > len);
			return;
		}
		CHECK(cut <= len);
		s->s2c_w += (uint32_t)cut;
		return;
	case 5: /* peek, consume */
		before(s);
		rc = vchan_ring_peek(&s->c, seg);
		after(s);
		ok_or_poisoned(s, rc);
		if (rc < 0) {
			failed(s, errno);
			return;
		}
		CHECK(rc <= 2);
		nseg = rc;
		len = 0;
		for (int i = 0; i < nseg; i++) {
			CHECK(inside(&seg[i], s->left, s->lsize));
			len += seg[i].iov_len;
		}
		if (s->honest)
			CHECK(len == s->c2s_w - s->c2s_r);
		cut = next16(s) % (len + 2);
		before(s);
		rc = vchan_ring_consume(&s->c, cut, &kick);
		after(s);
		ok_or_poisoned(s, rc);
		if (rc < 0) {
			failed(s, errno);
			CHECK(errno != EINVAL || cut > len);
			return;
		}
		CHECK(cut <= len);
		for (int i = 0; i < nseg && cut > 0; i++) {
			size_t k = seg[i].iov_len < cut ? seg[i].iov_len : cut;

			check_read(s, seg[i].iov_base, k);
			cut -= k;
		}
		return;
	case 6:
	case 7:
		before(s);
		n = o % 16 == 6 ? vchan_ring_ready(&s->c)
				: vchan_ring_space(&s->c);
		after(s);
		ok_or_poisoned(s, n);
		if (n < 0) {
			failed(s, errno);
			return;
		}
		if (s->honest)
			CHECK(n == (long)(o % 16 == 6 ? s->c2s_w - s->c2s_r
						      : s->rsize - (s->s2c_w -
								    s->s2c_r)));
		return;
	case 8: /* the client's live byte, then state */
		if (o & 0x10) {
			uint8_t v = (uint8_t)next8(s) % 4, prev;
			int bad;

			prev = (uint8_t)s->c.peer_state;
			bad = v != prev && v != VCHAN_RING_LIVE_CLOSED &&
			      !(v == VCHAN_RING_LIVE_OPEN &&
				prev == VCHAN_RING_LIVE_WAITING);
			s->page[20] = v;
			if (bad)
				s->honest = 0;
			before(s);
			rc = vchan_ring_state(&s->c);
			after(s);
			if (bad || s->c.poisoned)
				CHECK(rc == -1 && errno == EPROTO);
			else
				CHECK(rc == v);
			return;
		}
		before(s);
		rc = vchan_ring_state(&s->c);
		after(s);
		ok_or_poisoned(s, rc);
		if (rc < 0)
			failed(s, errno);
		return;
	case 9:
		before(s);
		if (o & 0x10)
			vchan_ring_request(&s->c, o >> 5 & 3);
		else
			CHECK((vchan_ring_withdraw(&s->c, o >> 5 & 3) &
			       ~(o >> 5 & 3)) == 0);
		after(s);
		return;
	case 10:
		tamper_index(s, o >> 4 & 3,
			     o & 0x40 ? next32(s)
				      : ld32(s->page, 4 * (o >> 4 & 3)) +
					    (uint32_t)(int16_t)next16(s));
		return;
	case 11: /* an order */
		s->page[16 + (o >> 4 & 3)] = (uint8_t)next8(s);
		s->honest = 0;
		before(s);
		rc = vchan_ring_state(&s->c);
		after(s);
		{
			uint16_t lo, ro;

			memcpy(&lo, s->page + 16, 2);
			memcpy(&ro, s->page + 18, 2);
			if (lo != s->c.left_order || ro != s->c.right_order)
				CHECK(rc == -1 && errno == EPROTO);
		}
		return;
	case 12: /* any byte of the page or of the rings */
		s->honest = s->content = 0;
		s->page[next16(s) % PAGE] = (uint8_t)next8(s);
		return;
	case 13:
		before(s);
		vchan_ring_close(&s->c);
		after(s);
		CHECK(s->page[21] == VCHAN_RING_LIVE_CLOSED);
		return;
	default:
		if (s->honest) {
			client_write(s, o);
			client_read(s, o);
		}
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned orders[][2] = {
	    {10, 11}, {11, 10}, {12, 10}, {10, 13}, {13, 12}, {12, 12},
	};
	struct vchan_layout lay;
	struct st *s = calloc(1, sizeof(*s));
	unsigned lo, ro, k;

	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	k = next8(s) % (sizeof(orders) / sizeof(orders[0]));
	lo = orders[k][0];
	ro = orders[k][1];
	CHECK(vchan_ring_layout(lo, ro, &lay) == 0);
	s->page = calloc(1, PAGE);
	s->lsize = 1u << lo;
	s->rsize = 1u << ro;
	if (lay.left_offset == 0) {
		s->left = s->lbuf = malloc(s->lsize);
		s->lsnap = malloc(s->lsize);
	} else {
		s->left = s->page + lay.left_offset;
	}
	s->right = lay.right_offset == 0 ? (s->rbuf = malloc(s->rsize))
					 : s->page + lay.right_offset;
	vchan_ring_server_init(&s->c, (struct vchan_wire *)(void *)s->page, lo,
			       ro, s->left, s->right);
	s->page[20] = VCHAN_RING_LIVE_OPEN; /* the client came */
	s->honest = s->content = 1;
	while (s->p < s->end)
		op(s, next8(s));
	free(s->lbuf);
	free(s->lsnap);
	free(s->rbuf);
	free(s->page);
	free(s);
	return 0;
}
