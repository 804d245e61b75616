/* vchan/ring.c - the ring protocol on a shared control page. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vchan/ring.h"

#ifdef HAVE_XEN_IO_LIBXENVCHAN_H
#include <xen/io/libxenvchan.h>
#endif

/* The page is shared with a peer that may be another OS or another
 * implementation: the layout must be exactly libxenvchan's. */
_Static_assert(offsetof(struct vchan_wire, left.cons) == 0, "wire layout");
_Static_assert(offsetof(struct vchan_wire, left.prod) == 4, "wire layout");
_Static_assert(offsetof(struct vchan_wire, right.cons) == 8, "wire layout");
_Static_assert(offsetof(struct vchan_wire, right.prod) == 12, "wire layout");
_Static_assert(offsetof(struct vchan_wire, left_order) == 16, "wire layout");
_Static_assert(offsetof(struct vchan_wire, right_order) == 18, "wire layout");
_Static_assert(offsetof(struct vchan_wire, cli_live) == 20, "wire layout");
_Static_assert(offsetof(struct vchan_wire, srv_live) == 21, "wire layout");
_Static_assert(offsetof(struct vchan_wire, cli_notify) == 22, "wire layout");
_Static_assert(offsetof(struct vchan_wire, srv_notify) == 23, "wire layout");
_Static_assert(offsetof(struct vchan_wire, grants) == 24, "wire layout");
_Static_assert(sizeof(struct vchan_wire) == 24, "wire layout");
/* Multi-byte fields are little-endian on the wire; we store them natively. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the vchan wire format is little-endian");

#ifdef HAVE_XEN_IO_LIBXENVCHAN_H
#define SAME_FIELD(f)                                                          \
	_Static_assert(                                                        \
	    offsetof(struct vchan_wire, f) ==                                  \
		    offsetof(struct vchan_interface, f) &&                     \
		sizeof(((struct vchan_wire *)0)->f) ==                         \
		    sizeof(((struct vchan_interface *)0)->f),                  \
	    "struct vchan_wire differs from Xen's vchan_interface: " #f)
SAME_FIELD(left.cons);
SAME_FIELD(left.prod);
SAME_FIELD(right.cons);
SAME_FIELD(right.prod);
SAME_FIELD(left_order);
SAME_FIELD(right_order);
SAME_FIELD(cli_live);
SAME_FIELD(srv_live);
SAME_FIELD(cli_notify);
SAME_FIELD(srv_notify);
_Static_assert(offsetof(struct vchan_wire, grants) ==
		   offsetof(struct vchan_interface, grants),
	       "grant list offset differs from Xen's");
_Static_assert(sizeof(struct vchan_wire) == sizeof(struct vchan_interface),
	       "struct vchan_wire differs from Xen's vchan_interface");
_Static_assert(VCHAN_NOTIFY_WRITE == VCHAN_RING_NOTIFY_WRITE &&
		   VCHAN_NOTIFY_READ == VCHAN_RING_NOTIFY_READ,
	       "notify bits differ from Xen's");
#endif

#define PAGE_SHIFT  12u
#define PAGE_BYTES  (1u << PAGE_SHIFT)
#define SMALL_ORDER 10u /* in the control page at offset 1024 */
#define LARGE_ORDER 11u /* in the control page at offset 2048 */

/* Shared memory accessors. Every load of a value the peer can write goes
 * through one of these, so the compiler emits exactly one load whose result
 * we keep in a local (no double fetch). */
static uint32_t load_acq(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint32_t load_rlx(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint8_t load8(const uint8_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static int poison(struct vchan_ring_ctl *c)
{
	c->poisoned = 1;
	errno = EPROTO;
	return -1;
}

static uint32_t page_offset(unsigned order)
{
	if (order == SMALL_ORDER)
		return 1024;
	if (order == LARGE_ORDER)
		return 2048;
	return 0;
}

static uint32_t page_count(unsigned order)
{
	return order >= PAGE_SHIFT ? 1u << (order - PAGE_SHIFT) : 0;
}

int vchan_ring_layout(unsigned left_order, unsigned right_order,
		      struct vchan_layout *lay)
{
	uint32_t limit = PAGE_BYTES, end;

	if (left_order < VCHAN_RING_ORDER_MIN ||
	    left_order > VCHAN_RING_ORDER_MAX ||
	    right_order < VCHAN_RING_ORDER_MIN ||
	    right_order > VCHAN_RING_ORDER_MAX)
		goto bad;
	/* Two in-page rings of one order would be the same bytes. */
	if (left_order == right_order && left_order < PAGE_SHIFT)
		goto bad;
	lay->left_offset = page_offset(left_order);
	lay->right_offset = page_offset(right_order);
	lay->left_pages = page_count(left_order);
	lay->right_pages = page_count(right_order);
	/* The grant list must end before an in-page ring starts: otherwise
	 * ring data would be read as grant references (e.g. orders 10 and
	 * 20 need 256 references, 1048 bytes, over the ring at 1024). */
	if (lay->left_offset != 0 && lay->left_offset < limit)
		limit = lay->left_offset;
	if (lay->right_offset != 0 && lay->right_offset < limit)
		limit = lay->right_offset;
	end = (uint32_t)sizeof(struct vchan_wire) +
	      4u * (lay->left_pages + lay->right_pages);
	if (end > limit)
		goto bad;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

static unsigned min_order(size_t size)
{
	unsigned order = PAGE_SHIFT;

	while (size > ((size_t)1 << order))
		order++;
	return order;
}

int vchan_ring_orders(size_t left_min, size_t right_min, unsigned *left_order,
		      unsigned *right_order)
{
	const size_t small = (size_t)1 << SMALL_ORDER;
	const size_t large = (size_t)1 << LARGE_ORDER;
	unsigned lo, ro;

	if (left_min > VCHAN_RING_MAX || right_min > VCHAN_RING_MAX) {
		errno = EINVAL;
		return -1;
	}
	lo = min_order(left_min);
	ro = min_order(right_min);
	/* As libxenvchan: use the free space in the control page when a ring
	 * fits there, so small channels need one page only. */
	if (left_min <= small && right_min <= large) {
		lo = SMALL_ORDER;
		ro = LARGE_ORDER;
	} else if (left_min <= large && right_min <= small) {
		lo = LARGE_ORDER;
		ro = SMALL_ORDER;
	} else if (left_min <= large) {
		lo = LARGE_ORDER;
	} else if (right_min <= large) {
		ro = LARGE_ORDER;
	}
	*left_order = lo;
	*right_order = ro;
	return 0;
}

static void ring_setup(struct vchan_ring *r, struct vchan_wire_ring *w,
		       void *buf, unsigned order)
{
	r->cons = &w->cons;
	r->prod = &w->prod;
	r->buf = buf;
	r->size = 1u << order;
	r->own = 0;
	r->seen = 0;
	r->reserved = 0;
}

void vchan_ring_server_init(struct vchan_ring_ctl *c, struct vchan_wire *page,
			    unsigned left_order, unsigned right_order,
			    void *left, void *right)
{
	memset(c, 0, sizeof(*c));
	c->page = page;
	c->server = 1;
	c->left_order = (uint16_t)left_order;
	c->right_order = (uint16_t)right_order;
	ring_setup(&c->rd, &page->left, left, left_order);
	ring_setup(&c->wr, &page->right, right, right_order);
	c->own_notify = &page->srv_notify;
	c->peer_notify = &page->cli_notify;
	c->own_live = &page->srv_live;
	c->peer_live = &page->cli_live;
	c->peer_state = VCHAN_RING_LIVE_WAITING;

	/* The page is fresh and not yet published: plain stores suffice,
	 * publishing it (a system call) orders them. */
	page->left.cons = page->left.prod = 0;
	page->right.cons = page->right.prod = 0;
	page->left_order = (uint16_t)left_order;
	page->right_order = (uint16_t)right_order;
	page->cli_live = VCHAN_RING_LIVE_WAITING;
	page->srv_live = VCHAN_RING_LIVE_OPEN;
	/* We want to hear of the client's first write without asking. */
	page->cli_notify = VCHAN_RING_NOTIFY_WRITE;
	page->srv_notify = 0;
	c->asked = VCHAN_RING_NOTIFY_WRITE;
}

void vchan_ring_read_orders(const struct vchan_wire *page, unsigned *left_order,
			    unsigned *right_order)
{
	*left_order = load16(&page->left_order);
	*right_order = load16(&page->right_order);
}

void vchan_ring_read_grants(const struct vchan_wire *page, uint32_t *refs,
			    uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		refs[i] = load_rlx(&page->grants[i]);
}

int vchan_ring_client_init(struct vchan_ring_ctl *c, struct vchan_wire *page,
			   unsigned left_order, unsigned right_order,
			   void *left, const void *right)
{
	uint8_t live;

	memset(c, 0, sizeof(*c));
	c->page = page;
	c->server = 0;
	c->left_order = (uint16_t)left_order;
	c->right_order = (uint16_t)right_order;
	/* The read ring may be mapped read-only: we never write through it. */
	ring_setup(&c->rd, &page->right, (void *)(uintptr_t)right, right_order);
	ring_setup(&c->wr, &page->left, left, left_order);
	c->own_notify = &page->cli_notify;
	c->peer_notify = &page->srv_notify;
	c->own_live = &page->cli_live;
	c->peer_live = &page->srv_live;

	/* One client per server page: a page whose client has come and gone
	 * (cli_live 0) or is there (1) is not ours to take. Not a protocol
	 * violation: the server simply has not offered a fresh page yet. */
	if (load8(c->own_live) != VCHAN_RING_LIVE_WAITING) {
		errno = ECONNREFUSED;
		return -1;
	}
	/* The server may have written before we came: start from its
	 * indexes, checked like any other. */
	c->rd.own = load_rlx(c->rd.cons);
	c->rd.seen = load_acq(c->rd.prod);
	c->wr.own = load_rlx(c->wr.prod);
	c->wr.seen = load_acq(c->wr.cons);
	if (c->rd.seen - c->rd.own > c->rd.size ||
	    c->wr.own - c->wr.seen > c->wr.size)
		return poison(c);
	live = load8(c->peer_live);
	if (live == VCHAN_RING_LIVE_OPEN)
		c->peer_state = VCHAN_RING_LIVE_OPEN;
	else if (live == VCHAN_RING_LIVE_CLOSED)
		c->peer_state = VCHAN_RING_LIVE_CLOSED;
	else
		return poison(c);

	__atomic_store_n(c->own_live, VCHAN_RING_LIVE_OPEN, __ATOMIC_RELEASE);
	__atomic_fetch_or(c->peer_notify, VCHAN_RING_NOTIFY_WRITE,
			  __ATOMIC_SEQ_CST);
	c->asked = VCHAN_RING_NOTIFY_WRITE;
	/* Our live byte and request must be visible before the event the
	 * caller sends next, and before we look at the indexes again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int vchan_ring_state(struct vchan_ring_ctl *c)
{
	uint8_t live;
	int prev = c->peer_state;

	if (c->poisoned) {
		errno = EPROTO;
		return -1;
	}
	/* The orders fix where the rings are: a change after setup means the
	 * peer is broken or hostile (we keep using our own copies). */
	if (load16(&c->page->left_order) != c->left_order ||
	    load16(&c->page->right_order) != c->right_order)
		return poison(c);
	/* Acquire: once we see the peer closed, we also see every index it
	 * published before closing, so the data it left can be drained. */
	live = load8(c->peer_live);
	if (live == prev)
		return prev;
	switch (live) {
	case VCHAN_RING_LIVE_CLOSED:
		break;
	case VCHAN_RING_LIVE_OPEN:
		/* Only a waiting client may come (once); nobody comes back. */
		if (!(c->server && prev == VCHAN_RING_LIVE_WAITING))
			return poison(c);
		break;
	default:
		/* WAITING never follows anything; other values are garbage. */
		return poison(c);
	}
	c->peer_state = live;
	return live;
}

/* Read and check the read ring's indexes: returns bytes ready. */
static long rd_ready(struct vchan_ring_ctl *c)
{
	struct vchan_ring *r = &c->rd;
	uint32_t prod, cons, n;

	if (c->poisoned) {
		errno = EPROTO;
		return -1;
	}
	/* Acquire pairs with the peer's release of prod: the data it wrote
	 * before moving prod is visible to our copy that follows. */
	prod = load_acq(r->prod);
	cons = load_rlx(r->cons);
	/* Only we write cons; anything else there is tampering. */
	if (cons != r->own)
		return poison(c);
	n = prod - r->own;
	/* More than the ring holds, or prod moved back: impossible. */
	if (n > r->size || n < r->seen - r->own)
		return poison(c);
	r->seen = prod;
	return (long)n;
}

/* Read and check the write ring's indexes: returns free space. */
static long wr_space(struct vchan_ring_ctl *c)
{
	struct vchan_ring *r = &c->wr;
	uint32_t prod, cons, used;

	if (c->poisoned) {
		errno = EPROTO;
		return -1;
	}
	/* Acquire pairs with the peer's release of cons: it finished reading
	 * the bytes it freed before we overwrite them. */
	cons = load_acq(r->cons);
	prod = load_rlx(r->prod);
	if (prod != r->own)
		return poison(c);
	used = r->own - cons;
	/* cons may only move forward from where we last saw it, up to prod. */
	if (used > r->size || cons - r->seen > r->own - r->seen)
		return poison(c);
	r->seen = cons;
	return (long)(r->size - used);
}

long vchan_ring_ready(struct vchan_ring_ctl *c)
{
	return rd_ready(c);
}

long vchan_ring_space(struct vchan_ring_ctl *c)
{
	return wr_space(c);
}

void vchan_ring_request(struct vchan_ring_ctl *c, unsigned bits)
{
	uint8_t prev =
	    __atomic_fetch_or(c->peer_notify, (uint8_t)bits, __ATOMIC_SEQ_CST);

	/* A bit we had asked for and find clear: the peer took it, and sent
	 * (or is sending) its event. */
	c->taken |= c->asked & bits & ~(unsigned)prev;
	c->asked |= bits;
	/* Full barrier: the request must be visible to the peer before we
	 * re-read its index. Otherwise it could move the index after our
	 * look, miss the request, and never send the event we sleep for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

unsigned vchan_ring_withdraw(struct vchan_ring_ctl *c, unsigned bits)
{
	unsigned still;

	/* Nothing asked: no write. The byte shares a cache line with the
	 * indices the peer is watching, and a write there costs both sides
	 * a transfer of the line (a spinning loop comes here every turn). A
	 * bit we never set (the initial state) stays: at worst one event
	 * more. */
	if ((c->asked & bits) == 0)
		return 0;
	still = __atomic_fetch_and(c->peer_notify, (uint8_t)~bits,
				   __ATOMIC_RELAXED) &
		bits;

	c->taken |= c->asked & bits & ~still;
	c->asked &= ~bits;
	return still;
}

int vchan_ring_changed(const struct vchan_ring_ctl *c, unsigned bits)
{
	if ((bits & VCHAN_RING_NOTIFY_WRITE) &&
	    load_rlx(c->rd.prod) != c->rd.seen)
		return 1;
	if ((bits & VCHAN_RING_NOTIFY_READ) &&
	    load_rlx(c->wr.cons) != c->wr.seen)
		return 1;
	return __atomic_load_n(c->peer_live, __ATOMIC_RELAXED) != c->peer_state;
}

/* Move our index forward by n and tell the peer if it asked for `bit`. */
static void publish(struct vchan_ring_ctl *c, uint32_t *idx, uint32_t *own,
		    uint32_t n, unsigned bit, int *kick)
{
	uint8_t prev;

	*own += n;
	/* Release: the data copied in (or out) is complete before the peer
	 * can see the index move. */
	__atomic_store_n(idx, *own, __ATOMIC_RELEASE);
	/* Full barrier between the index store and the notify byte load: the
	 * peer sets its request then reads our index; we store our index then
	 * read its request. With both barriers at least one side sees the
	 * other, so no wake-up is lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	prev =
	    __atomic_fetch_and(c->own_notify, (uint8_t)~bit, __ATOMIC_SEQ_CST);
	if (prev & bit)
		*kick = 1;
}

static void ring_put(struct vchan_ring *r, uint32_t idx, const uint8_t *src,
		     size_t n)
{
	uint32_t pos = idx & (r->size - 1);
	size_t first = r->size - pos;

	if (first > n)
		first = n;
	memcpy(r->buf + pos, src, first);
	if (n > first)
		memcpy(r->buf, src + first, n - first);
}

static void ring_get(const struct vchan_ring *r, uint32_t idx, uint8_t *dst,
		     size_t n)
{
	uint32_t pos = idx & (r->size - 1);
	size_t first = r->size - pos;

	if (first > n)
		first = n;
	memcpy(dst, r->buf + pos, first);
	if (n > first)
		memcpy(dst + first, r->buf, n - first);
}

/* Walk iov[0..n-1] from byte `skip` for `len` bytes, copying each piece to
 * (put) or from (!put) ring r at index idx. */
static void copy_iov(struct vchan_ring *r, uint32_t idx,
		     const struct iovec *iov, int n, size_t skip, size_t len,
		     int put)
{
	for (int i = 0; i < n && len > 0; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t k = iov[i].iov_len;

		if (skip >= k) {
			skip -= k;
			continue;
		}
		base += skip;
		k -= skip;
		skip = 0;
		if (k > len)
			k = len;
		if (put)
			ring_put(r, idx, base, k);
		else
			ring_get(r, idx, base, k);
		idx += (uint32_t)k;
		len -= k;
	}
}

long vchan_ring_write(struct vchan_ring_ctl *c, const struct iovec *iov, int n,
		      size_t skip, size_t len, int all, int *kick)
{
	struct vchan_ring *r = &c->wr;
	long space = wr_space(c);

	if (space < 0)
		return -1;
	if (len > (size_t)space) {
		if (all)
			return 0;
		len = (size_t)space;
	}
	if (len == 0)
		return 0;
	/* A plain write takes the place of any reservation. */
	r->reserved = 0;
	copy_iov(r, r->own, iov, n, skip, len, 1);
	publish(c, r->prod, &r->own, (uint32_t)len, VCHAN_RING_NOTIFY_WRITE,
		kick);
	return (long)len;
}

long vchan_ring_read(struct vchan_ring_ctl *c, const struct iovec *iov, int n,
		     size_t skip, size_t len, int all, int *kick)
{
	struct vchan_ring *r = &c->rd;
	long ready = rd_ready(c);

	if (ready < 0)
		return -1;
	if (len > (size_t)ready) {
		if (all)
			return 0;
		len = (size_t)ready;
	}
	if (len == 0)
		return 0;
	r->reserved = 0;
	copy_iov(r, r->own, iov, n, skip, len, 0);
	publish(c, r->cons, &r->own, (uint32_t)len, VCHAN_RING_NOTIFY_READ,
		kick);
	return (long)len;
}

/* Describe n bytes of ring r from index idx as one or two segments. */
static int segments(const struct vchan_ring *r, uint32_t idx, size_t n,
		    struct iovec seg[2])
{
	uint32_t pos = idx & (r->size - 1);
	size_t first = r->size - pos;

	if (n == 0)
		return 0;
	if (first >= n) {
		seg[0].iov_base = r->buf + pos;
		seg[0].iov_len = n;
		return 1;
	}
	seg[0].iov_base = r->buf + pos;
	seg[0].iov_len = first;
	seg[1].iov_base = r->buf;
	seg[1].iov_len = n - first;
	return 2;
}

int vchan_ring_reserve(struct vchan_ring_ctl *c, size_t len,
		       struct iovec seg[2])
{
	struct vchan_ring *r = &c->wr;
	long space;

	/* A new reservation replaces the last one, also when it gets no
	 * room: a commit must never publish bytes of a reservation its
	 * caller has already given up. */
	r->reserved = 0;
	space = wr_space(c);
	if (space < 0)
		return -1;
	if (len > r->size) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len == 0 || (size_t)space < len)
		return 0;
	r->reserved = (uint32_t)len;
	return segments(r, r->own, len, seg);
}

int vchan_ring_commit(struct vchan_ring_ctl *c, size_t len, int *kick)
{
	struct vchan_ring *r = &c->wr;

	if (c->poisoned) {
		errno = EPROTO;
		return -1;
	}
	if (len > r->reserved) {
		errno = EINVAL;
		return -1;
	}
	r->reserved = 0;
	if (len == 0)
		return 0;
	/* The space was checked by reserve and the peer can only free more
	 * since: publish without another look. */
	publish(c, r->prod, &r->own, (uint32_t)len, VCHAN_RING_NOTIFY_WRITE,
		kick);
	return 0;
}

int vchan_ring_peek(struct vchan_ring_ctl *c, struct iovec seg[2])
{
	struct vchan_ring *r = &c->rd;
	long ready = rd_ready(c);

	if (ready < 0)
		return -1;
	r->reserved = (uint32_t)ready;
	return segments(r, r->own, (size_t)ready, seg);
}

int vchan_ring_consume(struct vchan_ring_ctl *c, size_t len, int *kick)
{
	struct vchan_ring *r = &c->rd;

	if (c->poisoned) {
		errno = EPROTO;
		return -1;
	}
	if (len > r->reserved) {
		errno = EINVAL;
		return -1;
	}
	r->reserved -= (uint32_t)len;
	if (len == 0)
		return 0;
	publish(c, r->cons, &r->own, (uint32_t)len, VCHAN_RING_NOTIFY_READ,
		kick);
	return 0;
}

void vchan_ring_close(struct vchan_ring_ctl *c)
{
	/* Release: everything we published is visible before "closed". */
	__atomic_store_n(c->own_live, VCHAN_RING_LIVE_CLOSED, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
