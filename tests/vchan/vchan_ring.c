/* tests/vchan/vchan_ring.c - the ring protocol on an in-memory control page:
 * layout and sizing, wrap-around, packet and stream semantics, zero copy,
 * notify bits, and hostile values in the shared page. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vchan/ring.h"

#define PAGE 4096u

/* Both ends of one channel in this process: the server's page, the rings
 * (in the page or separately allocated to their exact size, so ASan sees
 * any access past them) and the two views. */
struct pair {
	struct vchan_wire *page;
	uint8_t *left;
	uint8_t *right;
	int left_own; /* left/right allocated here (not in-page) */
	int right_own;
	struct vchan_ring_ctl srv;
	struct vchan_ring_ctl cli;
};

static void pair_open(struct pair *p, unsigned lo, unsigned ro)
{
	struct vchan_layout lay;

	assert_int_equal(vchan_ring_layout(lo, ro, &lay), 0);
	p->page = aligned_alloc(PAGE, PAGE);
	assert_non_null(p->page);
	memset(p->page, 0, PAGE);
	p->left_own = lay.left_pages != 0;
	p->right_own = lay.right_pages != 0;
	p->left = p->left_own ? malloc(1u << lo)
			      : (uint8_t *)p->page + lay.left_offset;
	p->right = p->right_own ? malloc(1u << ro)
				: (uint8_t *)p->page + lay.right_offset;
	assert_non_null(p->left);
	assert_non_null(p->right);
	vchan_ring_server_init(&p->srv, p->page, lo, ro, p->left, p->right);
	assert_int_equal(vchan_ring_state(&p->srv), VCHAN_RING_LIVE_WAITING);
	assert_int_equal(
	    vchan_ring_client_init(&p->cli, p->page, lo, ro, p->left, p->right),
	    0);
	assert_int_equal(vchan_ring_state(&p->srv), VCHAN_RING_LIVE_OPEN);
	assert_int_equal(vchan_ring_state(&p->cli), VCHAN_RING_LIVE_OPEN);
}

static void pair_close(struct pair *p)
{
	if (p->left_own)
		free(p->left);
	if (p->right_own)
		free(p->right);
	free(p->page);
}

static long put(struct vchan_ring_ctl *c, const void *buf, size_t len, int all)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	int kick = 0;

	return vchan_ring_write(c, &iov, 1, 0, len, all, &kick);
}

static long get(struct vchan_ring_ctl *c, void *buf, size_t len, int all)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	int kick = 0;

	return vchan_ring_read(c, &iov, 1, 0, len, all, &kick);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

/* Every pair of orders: which are valid, where the rings go, and that the
 * rings never overlap the header, the grant list or each other. */
static void test_layout_all_pairs(void **state)
{
	struct vchan_layout lay;

	(void)state;
	for (unsigned lo = 8; lo <= 22; lo++) {
		for (unsigned ro = 8; ro <= 22; ro++) {
			int r = vchan_ring_layout(lo, ro, &lay);
			int in_range =
			    lo >= 10 && lo <= 20 && ro >= 10 && ro <= 20;
			uint32_t gend, lo_end, ro_end;

			if (!in_range || (lo == ro && lo < 12)) {
				assert_int_equal(r, -1);
				assert_int_equal(errno, EPROTO);
				continue;
			}
			if (r < 0) {
				/* Only a grant list running into an in-page
				 * ring may be refused. */
				assert_int_equal(errno, EPROTO);
				assert_true((lo == 10 && ro == 20) ||
					    (lo == 20 && ro == 10));
				continue;
			}
			assert_int_equal(lay.left_offset, lo == 10   ? 1024
							  : lo == 11 ? 2048
								     : 0);
			assert_int_equal(lay.right_offset, ro == 10   ? 1024
							   : ro == 11 ? 2048
								      : 0);
			assert_int_equal(lay.left_pages,
					 lo >= 12 ? 1u << (lo - 12) : 0);
			assert_int_equal(lay.right_pages,
					 ro >= 12 ? 1u << (ro - 12) : 0);
			gend = 24 + 4 * (lay.left_pages + lay.right_pages);
			assert_true(gend <= PAGE);
			lo_end = lay.left_offset + (1u << lo);
			ro_end = lay.right_offset + (1u << ro);
			if (lay.left_offset) {
				assert_true(gend <= lay.left_offset);
				assert_true(lo_end <= PAGE);
			}
			if (lay.right_offset) {
				assert_true(gend <= lay.right_offset);
				assert_true(ro_end <= PAGE);
			}
			if (lay.left_offset && lay.right_offset)
				assert_true(lo_end <= lay.right_offset ||
					    ro_end <= lay.left_offset);
		}
	}
	/* The limits the grant list sets, by hand. */
	assert_int_equal(vchan_ring_layout(10, 19, &lay), 0);
	assert_int_equal(vchan_ring_layout(11, 20, &lay), 0);
	assert_int_equal(vchan_ring_layout(20, 20, &lay), 0);
	assert_int_equal(lay.left_pages + lay.right_pages, 512);
	assert_int_equal(vchan_ring_layout(10, 20, &lay), -1);
}

/* libxenvchan's sizing rules. */
static void test_orders_sizing(void **state)
{
	static const struct {
		size_t l, r;
		unsigned lo, ro;
	} cases[] = {
	    {0, 0, 10, 11},
	    {1024, 2048, 10, 11},
	    {1025, 1024, 11, 10},
	    {2048, 1024, 11, 10},
	    {2048, 2048, 11, 12},
	    {1, 3000, 11, 12},
	    {3000, 1, 12, 11},
	    {4096, 4096, 12, 12},
	    {4097, 100, 13, 11},
	    {65536, 65537, 16, 17},
	    {1u << 20, 1u << 20, 20, 20},
	    {1u << 20, 0, 20, 11},
	};
	unsigned lo, ro;
	struct vchan_layout lay;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    vchan_ring_orders(cases[i].l, cases[i].r, &lo, &ro), 0);
		assert_int_equal(lo, cases[i].lo);
		assert_int_equal(ro, cases[i].ro);
	}
	assert_int_equal(vchan_ring_orders((1u << 20) + 1, 0, &lo, &ro), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vchan_ring_orders(0, (1u << 20) + 1, &lo, &ro), -1);
	/* Whatever the sizes, the result is a valid layout that holds them. */
	for (size_t l = 0; l <= (1u << 20); l = l * 3 + 1) {
		for (size_t r = 0; r <= (1u << 20); r = r * 5 + 2) {
			assert_int_equal(vchan_ring_orders(l, r, &lo, &ro), 0);
			assert_int_equal(vchan_ring_layout(lo, ro, &lay), 0);
			assert_true(((size_t)1 << lo) >= l);
			assert_true(((size_t)1 << ro) >= r);
		}
	}
}

/* Move `n` bytes from `w` to `r` and check them, through two iovecs on
 * the read side. */
static void transfer(struct vchan_ring_ctl *w, struct vchan_ring_ctl *r,
		     size_t n, unsigned seed)
{
	uint8_t *src = malloc(n), *dst = malloc(n);
	struct iovec iov[2];
	int kick = 0;

	assert_non_null(src);
	assert_non_null(dst);
	fill(src, n, seed);
	memset(dst, 0, n);
	assert_int_equal(put(w, src, n, 1), (long)n);
	assert_int_equal(vchan_ring_ready(r), (long)n);
	iov[0].iov_base = dst;
	iov[0].iov_len = n / 3;
	iov[1].iov_base = dst + n / 3;
	iov[1].iov_len = n - n / 3;
	assert_int_equal(vchan_ring_read(r, iov, 2, 0, n, 1, &kick), (long)n);
	assert_memory_equal(src, dst, n);
	assert_int_equal(vchan_ring_ready(r), 0);
	free(src);
	free(dst);
}

/* Every valid pair of orders, both directions, with data crossing the end
 * of each ring; in-page rings land at their offsets in the page. */
static void test_all_pairs_transfer(void **state)
{
	(void)state;
	for (unsigned lo = 10; lo <= 20; lo++) {
		for (unsigned ro = 10; ro <= 20; ro++) {
			struct vchan_layout lay;
			struct pair p;
			size_t ls = 1u << lo, rs = 1u << ro;

			if (vchan_ring_layout(lo, ro, &lay) < 0)
				continue;
			pair_open(&p, lo, ro);
			assert_int_equal(p.srv.rd.size, ls);
			assert_int_equal(p.cli.wr.size, ls);
			assert_int_equal(p.srv.wr.size, rs);
			assert_int_equal(p.cli.rd.size, rs);
			/* Bring each ring near its end, then cross it. */
			transfer(&p.cli, &p.srv, ls - 100, lo);
			transfer(&p.cli, &p.srv, 300, lo + 1);
			transfer(&p.srv, &p.cli, rs - 7, ro);
			transfer(&p.srv, &p.cli, rs, ro + 1);
			if (lay.left_offset) {
				uint8_t b = 0x5a;

				/* The next byte the client writes is at
				 * (ls - 100 + 300) mod ls. */
				assert_int_equal(put(&p.cli, &b, 1, 1), 1);
				assert_int_equal(
				    ((uint8_t *)
					 p.page)[lay.left_offset +
						 ((ls + 200) & (ls - 1))],
				    0x5a);
				assert_int_equal(get(&p.srv, &b, 1, 1), 1);
			}
			if (lay.right_offset) {
				uint8_t b = 0xa5;

				assert_int_equal(put(&p.srv, &b, 1, 1), 1);
				assert_int_equal(
				    ((uint8_t *)
					 p.page)[lay.right_offset +
						 ((2 * rs - 7) & (rs - 1))],
				    0xa5);
				assert_int_equal(get(&p.cli, &b, 1, 1), 1);
			}
			pair_close(&p);
		}
	}
}

/* Order 10 (client to server) and 11 (back): at every start offset, a
 * message of several lengths crossing the end of the ring. */
static void test_wrap_every_offset(void **state)
{
	static const size_t lens[] = {1, 2, 511, 1023, 1024};
	uint8_t src[2048], dst[2048];
	struct pair p;

	(void)state;
	pair_open(&p, 10, 11);
	for (size_t off = 0; off < 2048; off++) {
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			size_t n = lens[k];

			/* Client to server on the 1 KiB ring. */
			if (off < 1024) {
				fill(src, n, (unsigned)(off + k));
				assert_int_equal(put(&p.cli, src, n, 1),
						 (long)n);
				memset(dst, 0, n);
				assert_int_equal(get(&p.srv, dst, n, 1),
						 (long)n);
				assert_memory_equal(src, dst, n);
			}
			/* Server to client on the 2 KiB ring. */
			fill(src, 2 * n, (unsigned)(off * 3 + k));
			assert_int_equal(put(&p.srv, src, 2 * n, 1),
					 (long)(2 * n));
			memset(dst, 0, 2 * n);
			assert_int_equal(get(&p.cli, dst, 2 * n, 1),
					 (long)(2 * n));
			assert_memory_equal(src, dst, 2 * n);
		}
		/* Advance the start offset by one. */
		if (off < 1024) {
			assert_int_equal(put(&p.cli, src, 1, 1), 1);
			assert_int_equal(get(&p.srv, dst, 1, 1), 1);
		}
		assert_int_equal(put(&p.srv, src, 1, 1), 1);
		assert_int_equal(get(&p.cli, dst, 1, 1), 1);
	}
	pair_close(&p);
}

/* Packets go whole or not at all; the indexes do not move on refusal. */
static void test_packet_all_or_nothing(void **state)
{
	uint8_t buf[2048] = {0}, out[2048];
	struct pair p;

	(void)state;
	pair_open(&p, 10, 11);
	assert_int_equal(put(&p.cli, buf, 1000, 1), 1000);
	assert_int_equal(vchan_ring_space(&p.cli), 24);
	assert_int_equal(put(&p.cli, buf, 25, 1), 0);
	assert_int_equal(p.page->left.prod, 1000);
	assert_int_equal(put(&p.cli, buf, 24, 1), 24);
	assert_int_equal(put(&p.cli, buf, 1, 1), 0);
	assert_int_equal(vchan_ring_space(&p.cli), 0);
	/* A receive of more than is there takes nothing. */
	assert_int_equal(get(&p.srv, out, 1025, 1), 0);
	assert_int_equal(p.page->left.cons, 0);
	assert_int_equal(get(&p.srv, out, 1024, 1), 1024);
	assert_int_equal(get(&p.srv, out, 1, 1), 0);
	/* A packet larger than the ring can never go. */
	assert_int_equal(put(&p.srv, buf, 2049, 1), 0);
	assert_int_equal(vchan_ring_reserve(&p.srv, 2049, (struct iovec[2]){}),
			 -1);
	assert_int_equal(errno, EMSGSIZE);
	pair_close(&p);
}

/* Stream writes take what fits, reads what is there. */
static void test_partial_stream(void **state)
{
	uint8_t src[3000], dst[3000];
	struct pair p;

	(void)state;
	pair_open(&p, 11, 10);
	fill(src, sizeof(src), 9);
	assert_int_equal(put(&p.cli, src, 3000, 0), 2048);
	assert_int_equal(put(&p.cli, src, 10, 0), 0);
	assert_int_equal(get(&p.srv, dst, 100, 0), 100);
	assert_int_equal(put(&p.cli, src + 2048, 952, 0), 100);
	assert_int_equal(get(&p.srv, dst + 100, 3000, 0), 2048);
	assert_memory_equal(src, dst, 2148);
	assert_int_equal(get(&p.srv, dst, 10, 0), 0);
	pair_close(&p);
}

/* A write through many small iovecs, starting part way in. */
static void test_iovec_skip(void **state)
{
	uint8_t src[100], dst[100];
	struct iovec iov[10];
	struct pair p;
	int kick = 0;

	(void)state;
	pair_open(&p, 10, 11);
	fill(src, sizeof(src), 4);
	for (int i = 0; i < 10; i++) {
		iov[i].iov_base = src + 10 * i;
		iov[i].iov_len = 10;
	}
	assert_int_equal(vchan_ring_write(&p.cli, iov, 10, 25, 50, 1, &kick),
			 50);
	assert_int_equal(get(&p.srv, dst, 100, 0), 50);
	assert_memory_equal(dst, src + 25, 50);
	for (int i = 0; i < 10; i++)
		iov[i].iov_base = dst + 10 * i;
	memset(dst, 0, sizeof(dst));
	assert_int_equal(put(&p.srv, src, 30, 1), 30);
	assert_int_equal(vchan_ring_read(&p.cli, iov, 10, 33, 30, 1, &kick),
			 30);
	assert_memory_equal(dst + 33, src, 30);
	pair_close(&p);
}

/* Zero copy: reservations and peeks across the wrap give two segments. */
static void test_zero_copy(void **state)
{
	uint8_t src[1024], dst[1024];
	struct iovec seg[2];
	struct pair p;
	int kick = 0;

	(void)state;
	pair_open(&p, 10, 11);
	assert_int_equal(put(&p.cli, src, 1000, 1), 1000);
	assert_int_equal(get(&p.srv, dst, 1000, 1), 1000);
	assert_int_equal(vchan_ring_reserve(&p.cli, 1025, seg), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(vchan_ring_reserve(&p.cli, 100, seg), 2);
	assert_ptr_equal(seg[0].iov_base, p.left + 1000);
	assert_int_equal(seg[0].iov_len, 24);
	assert_ptr_equal(seg[1].iov_base, p.left);
	assert_int_equal(seg[1].iov_len, 76);
	fill(src, 100, 3);
	memcpy(seg[0].iov_base, src, 24);
	memcpy(seg[1].iov_base, src + 24, 76);
	/* Nothing is visible before the commit. */
	assert_int_equal(vchan_ring_ready(&p.srv), 0);
	assert_int_equal(vchan_ring_commit(&p.cli, 101, &kick), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vchan_ring_commit(&p.cli, 90, &kick), 0);
	assert_int_equal(vchan_ring_commit(&p.cli, 1, &kick), -1);
	assert_int_equal(vchan_ring_peek(&p.srv, seg), 2);
	assert_int_equal(seg[0].iov_len + seg[1].iov_len, 90);
	memcpy(dst, seg[0].iov_base, seg[0].iov_len);
	memcpy(dst + seg[0].iov_len, seg[1].iov_base, seg[1].iov_len);
	assert_memory_equal(src, dst, 90);
	assert_int_equal(vchan_ring_consume(&p.srv, 91, &kick), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(vchan_ring_consume(&p.srv, 50, &kick), 0);
	assert_int_equal(vchan_ring_consume(&p.srv, 40, &kick), 0);
	assert_int_equal(vchan_ring_consume(&p.srv, 1, &kick), -1);
	assert_int_equal(vchan_ring_peek(&p.srv, seg), 0);
	/* No room: reserve says 0. */
	assert_int_equal(put(&p.cli, src, 1024, 1), 1024);
	assert_int_equal(vchan_ring_reserve(&p.cli, 1, seg), 0);
	/* A reservation that gets no room replaces the one before it: that
	 * one can no longer be committed. */
	assert_true(vchan_ring_peek(&p.srv, seg) > 0);
	assert_int_equal(vchan_ring_consume(&p.srv, 10, &kick), 0);
	assert_true(vchan_ring_reserve(&p.cli, 5, seg) > 0);
	assert_int_equal(vchan_ring_reserve(&p.cli, 100, seg), 0);
	assert_int_equal(vchan_ring_commit(&p.cli, 5, &kick), -1);
	assert_int_equal(errno, EINVAL);
	pair_close(&p);
}

/* Events are asked for with the peer's byte and sent once per request. */
static void test_notify_bits(void **state)
{
	uint8_t b[16] = {0};
	struct pair p;
	int kick;

	(void)state;
	pair_open(&p, 10, 11);
	/* The server asked for the client's writes at start... */
	assert_int_equal(p.page->cli_notify, VCHAN_RING_NOTIFY_WRITE);
	/* ...and the client for the server's. */
	assert_int_equal(p.page->srv_notify, VCHAN_RING_NOTIFY_WRITE);
	struct iovec iov = {.iov_base = b, .iov_len = 4};
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.cli, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 1);
	assert_int_equal(p.page->cli_notify, 0);
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.cli, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 0);
	/* The client wants to hear when space is freed. */
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_READ);
	assert_int_equal(p.page->srv_notify,
			 VCHAN_RING_NOTIFY_WRITE | VCHAN_RING_NOTIFY_READ);
	kick = 0;
	assert_int_equal(vchan_ring_read(&p.srv, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 1);
	assert_int_equal(p.page->srv_notify, VCHAN_RING_NOTIFY_WRITE);
	/* The server's write wakes the client once. */
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.srv, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 1);
	assert_int_equal(p.page->srv_notify, 0);
	/* A request taken back before the peer writes costs it no event;
	 * withdrawing says which of the bits were still asked for. */
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_WRITE);
	assert_int_equal(
	    vchan_ring_withdraw(&p.cli, VCHAN_RING_NOTIFY_WRITE |
					    VCHAN_RING_NOTIFY_READ),
	    VCHAN_RING_NOTIFY_WRITE);
	assert_int_equal(p.page->srv_notify, 0);
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.srv, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 0);
	assert_int_equal(vchan_ring_withdraw(&p.cli, VCHAN_RING_NOTIFY_WRITE),
			 0);
	/* A request the peer took is noted, whether we find it out by taking
	 * it back or by asking again: its event is on its way. One taken
	 * back before the peer wrote is not. */
	p.cli.taken = 0; /* as after consuming the events */
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_WRITE);
	assert_int_equal(vchan_ring_withdraw(&p.cli, VCHAN_RING_NOTIFY_WRITE),
			 VCHAN_RING_NOTIFY_WRITE);
	assert_int_equal(p.cli.taken, 0);
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_WRITE);
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.srv, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 1);
	assert_int_equal(vchan_ring_withdraw(&p.cli, VCHAN_RING_NOTIFY_WRITE),
			 0);
	assert_int_equal(p.cli.taken, VCHAN_RING_NOTIFY_WRITE);
	p.cli.taken = 0;
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_WRITE);
	kick = 0;
	assert_int_equal(vchan_ring_write(&p.srv, &iov, 1, 0, 4, 1, &kick), 4);
	assert_int_equal(kick, 1);
	vchan_ring_request(&p.cli, VCHAN_RING_NOTIFY_WRITE);
	assert_int_equal(p.cli.taken, VCHAN_RING_NOTIFY_WRITE);
	/* Close: the live byte goes to 0 and the peer sees it. */
	vchan_ring_close(&p.cli);
	assert_int_equal(p.page->cli_live, 0);
	assert_int_equal(vchan_ring_state(&p.srv), VCHAN_RING_LIVE_CLOSED);
	/* Data written before close is still there to read. */
	assert_int_equal(vchan_ring_ready(&p.srv), 4);
	pair_close(&p);
}

static void expect_poisoned(struct vchan_ring_ctl *c)
{
	uint8_t b[8] = {0};
	struct iovec seg[2];
	int kick = 0;

	assert_int_equal(vchan_ring_ready(c), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(vchan_ring_space(c), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(vchan_ring_state(c), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(put(c, b, 1, 0), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(get(c, b, 1, 0), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(vchan_ring_reserve(c, 1, seg), -1);
	assert_int_equal(vchan_ring_peek(c, seg), -1);
	assert_int_equal(vchan_ring_commit(c, 0, &kick), -1);
	assert_int_equal(vchan_ring_consume(c, 0, &kick), -1);
	assert_int_equal(errno, EPROTO);
}

/* Each impossible value poisons the side that sees it. */
static void test_hostile_values(void **state)
{
	uint8_t b[64] = {0};
	struct pair p;

	(void)state;
	/* prod beyond the ring size. */
	pair_open(&p, 10, 11);
	p.page->left.prod = 1025;
	assert_int_equal(get(&p.srv, b, 1, 0), -1);
	assert_int_equal(errno, EPROTO);
	expect_poisoned(&p.srv);
	pair_close(&p);

	/* prod behind cons (wraps to a huge count). */
	pair_open(&p, 10, 11);
	p.page->right.prod = 0xffffffffu;
	assert_int_equal(vchan_ring_ready(&p.cli), -1);
	expect_poisoned(&p.cli);
	pair_close(&p);

	/* prod moving back after we saw it. */
	pair_open(&p, 10, 11);
	assert_int_equal(put(&p.srv, b, 10, 1), 10);
	assert_int_equal(vchan_ring_ready(&p.cli), 10);
	p.page->right.prod = 5;
	assert_int_equal(vchan_ring_ready(&p.cli), -1);
	expect_poisoned(&p.cli);
	pair_close(&p);

	/* cons beyond prod, seen by the writer. */
	pair_open(&p, 10, 11);
	assert_int_equal(put(&p.srv, b, 10, 1), 10);
	p.page->right.cons = 11;
	assert_int_equal(vchan_ring_space(&p.srv), -1);
	expect_poisoned(&p.srv);
	pair_close(&p);

	/* cons moving back. */
	pair_open(&p, 10, 11);
	assert_int_equal(put(&p.srv, b, 10, 1), 10);
	assert_int_equal(get(&p.cli, b, 10, 1), 10);
	assert_int_equal(vchan_ring_space(&p.srv), 2048);
	p.page->right.cons = 4;
	assert_int_equal(put(&p.srv, b, 1, 0), -1);
	expect_poisoned(&p.srv);
	pair_close(&p);

	/* Our own index changed under us. */
	pair_open(&p, 10, 11);
	p.page->left.prod = 3;
	assert_int_equal(put(&p.cli, b, 1, 0), -1);
	expect_poisoned(&p.cli);
	pair_close(&p);

	/* An order changed after setup. */
	pair_open(&p, 12, 13);
	p.page->right_order = 20;
	assert_int_equal(vchan_ring_state(&p.cli), -1);
	expect_poisoned(&p.cli);
	pair_close(&p);

	/* Garbage in a live byte, and a peer coming back from closed. */
	pair_open(&p, 10, 11);
	p.page->cli_live = 7;
	assert_int_equal(vchan_ring_state(&p.srv), -1);
	expect_poisoned(&p.srv);
	pair_close(&p);
	pair_open(&p, 10, 11);
	p.page->srv_live = 0;
	assert_int_equal(vchan_ring_state(&p.cli), VCHAN_RING_LIVE_CLOSED);
	p.page->srv_live = 1;
	assert_int_equal(vchan_ring_state(&p.cli), -1);
	pair_close(&p);
	pair_open(&p, 10, 11);
	p.page->srv_live = 2;
	assert_int_equal(vchan_ring_state(&p.cli), -1);
	pair_close(&p);

	/* A client refuses a page whose indexes are already impossible. */
	{
		struct vchan_ring_ctl s, c;
		struct vchan_wire *pg = aligned_alloc(PAGE, PAGE);

		assert_non_null(pg);
		memset(pg, 0, PAGE);
		vchan_ring_server_init(&s, pg, 10, 11, (uint8_t *)pg + 1024,
				       (uint8_t *)pg + 2048);
		pg->right.prod = 4000;
		assert_int_equal(vchan_ring_client_init(&c, pg, 10, 11,
							(uint8_t *)pg + 1024,
							(uint8_t *)pg + 2048),
				 -1);
		assert_int_equal(errno, EPROTO);
		pg->right.prod = 0;
		pg->srv_live = 9;
		assert_int_equal(vchan_ring_client_init(&c, pg, 10, 11,
							(uint8_t *)pg + 1024,
							(uint8_t *)pg + 2048),
				 -1);
		/* A page whose client came and went is refused, not taken. */
		pg->srv_live = 1;
		pg->cli_live = 0;
		errno = 0;
		assert_int_equal(vchan_ring_client_init(&c, pg, 10, 11,
							(uint8_t *)pg + 1024,
							(uint8_t *)pg + 2048),
				 -1);
		assert_int_equal(errno, ECONNREFUSED);
		pg->cli_live = 2;
		assert_int_equal(vchan_ring_client_init(&c, pg, 10, 11,
							(uint8_t *)pg + 1024,
							(uint8_t *)pg + 2048),
				 0);
		free(pg);
	}
}

/* Random garbage written into the page between random operations: every
 * call returns a sane result or EPROTO, and once EPROTO always EPROTO.
 * The rings are exact-size allocations, so ASan catches any stray access. */
static void test_fuzz_page(void **state)
{
	uint8_t buf[5000];
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 400; round++) {
		struct pair p;
		unsigned lo = 12 + (unsigned)(round % 3);

		pair_open(&p, lo, 12 + (unsigned)((round / 3) % 3));
		for (int step = 0; step < 200; step++) {
			struct vchan_ring_ctl *c =
			    (rand_r(&seed) & 1) ? &p.srv : &p.cli;
			size_t n = (size_t)rand_r(&seed) % sizeof(buf);
			long r;

			if (rand_r(&seed) % 16 == 0) {
				uint8_t *pg = (uint8_t *)p.page;
				unsigned at = (unsigned)rand_r(&seed) % 24;

				pg[at] = (uint8_t)rand_r(&seed);
			}
			switch (rand_r(&seed) % 4) {
			case 0:
				r = put(c, buf, n, rand_r(&seed) & 1);
				assert_true(r >= -1 && r <= (long)n);
				break;
			case 1:
				r = get(c, buf, n, rand_r(&seed) & 1);
				assert_true(r >= -1 && r <= (long)n);
				break;
			case 2:
				r = vchan_ring_ready(c);
				assert_true(r >= -1 && r <= (long)c->rd.size);
				break;
			default:
				r = vchan_ring_state(c);
				assert_true(r >= -1 && r <= 2);
				break;
			}
			if (r == -1) {
				assert_int_equal(errno, EPROTO);
				assert_true(c->poisoned);
			}
			if (c->poisoned)
				assert_int_equal(vchan_ring_ready(c), -1);
		}
		pair_close(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_all_pairs),
	    cmocka_unit_test(test_orders_sizing),
	    cmocka_unit_test(test_all_pairs_transfer),
	    cmocka_unit_test(test_wrap_every_offset),
	    cmocka_unit_test(test_packet_all_or_nothing),
	    cmocka_unit_test(test_partial_stream),
	    cmocka_unit_test(test_iovec_skip),
	    cmocka_unit_test(test_zero_copy),
	    cmocka_unit_test(test_notify_bits),
	    cmocka_unit_test(test_hostile_values),
	    cmocka_unit_test(test_fuzz_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
