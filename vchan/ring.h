/* vchan/ring.h - the ring protocol on a shared control page (internal).
 *
 * This module knows the wire layout of libxenvchan's control page, the
 * placement and sizing of the two rings, and the index/notify rules. It
 * touches only memory it is given: no grants, no event channels, no
 * XenStore. Where an event must be sent, an operation says so through its
 * `kick` argument and the caller sends it. That keeps the protocol testable
 * on an ordinary buffer.
 *
 * Hostile peers: every value the peer can write (its index, the live and
 * notify bytes, the orders) is loaded once per operation into a local and
 * checked before use. A value that no correct peer can produce poisons the
 * ring: the operation and every later one fail with EPROTO, and no memory
 * outside the rings is ever touched.
 */
#ifndef VCHAN_RING_H
#define VCHAN_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VCHAN_RING_ORDER_MIN 10u
#define VCHAN_RING_ORDER_MAX 20u
#define VCHAN_RING_MAX	     (1u << VCHAN_RING_ORDER_MAX)

/* Bits of the notify bytes: the peer wants an event when data is written
 * (WRITE) or when data is consumed, freeing space (READ). */
#define VCHAN_RING_NOTIFY_WRITE 0x1u
#define VCHAN_RING_NOTIFY_READ	0x2u

/* Values of the live bytes. */
#define VCHAN_RING_LIVE_CLOSED	0u
#define VCHAN_RING_LIVE_OPEN	1u
#define VCHAN_RING_LIVE_WAITING 2u

/* One index pair in the control page. */
struct vchan_wire_ring {
	uint32_t cons;
	uint32_t prod;
};

/* The control page, as libxenvchan lays it out (docs/vchan-wire.md).
 * "left" is written by the client and read by the server, "right" the
 * other way. grants[] lists the left ring's pages, then the right ring's. */
struct vchan_wire {
	struct vchan_wire_ring left;
	struct vchan_wire_ring right;
	uint16_t left_order;
	uint16_t right_order;
	uint8_t cli_live;
	uint8_t srv_live;
	uint8_t cli_notify;
	uint8_t srv_notify;
	uint32_t grants[];
};

/* Where the two rings live for a pair of orders. */
struct vchan_layout {
	uint32_t left_offset; /* offset in the control page, 0 when granted */
	uint32_t right_offset;
	uint32_t left_pages; /* granted pages, 0 when in the control page */
	uint32_t right_pages;
};

/* Check a pair of orders (10..20, not both the same in-page order, grant
 * list inside the page and clear of an in-page ring) and describe where the
 * rings go. Returns 0, or -1 with errno EPROTO. */
int vchan_ring_layout(unsigned left_order, unsigned right_order,
		      struct vchan_layout *lay);

/* libxenvchan's sizing: the smallest orders that hold left_min and
 * right_min bytes, preferring the rings inside the control page when they
 * fit. Returns 0, or -1 with errno EINVAL when a size exceeds 1 MiB. */
int vchan_ring_orders(size_t left_min, size_t right_min, unsigned *left_order,
		      unsigned *right_order);

/* One direction, as this side sees it. `own` is our private copy of the
 * index that only we write; `seen` the peer's index when we last read it. */
struct vchan_ring {
	uint32_t *cons;
	uint32_t *prod;
	uint8_t *buf;
	uint32_t size;
	uint32_t own;
	uint32_t seen;
	uint32_t reserved; /* bytes handed out by reserve/peek, not yet done */
};

struct vchan_ring_ctl {
	struct vchan_wire *page;
	struct vchan_ring rd; /* the ring we read */
	struct vchan_ring wr; /* the ring we write */
	uint8_t *own_notify;  /* bits the peer asked of us */
	uint8_t *peer_notify; /* bits we ask of the peer */
	uint8_t *own_live;
	uint8_t *peer_live;
	uint16_t left_order; /* private copies, checked against the page */
	uint16_t right_order;
	int server;
	int peer_state; /* last live value seen from the peer */
	int poisoned;
	/* Our requests, kept privately (never read back from the page): the
	 * bits we set in *peer_notify and have not taken back, and those the
	 * peer took (so it sent their event) since the caller last cleared
	 * `taken` (wait.c, when it consumes the pending events). */
	unsigned asked, taken;
};

/* Server side: fill in a fresh (zeroed) control page for the given orders
 * and ring buffers, and set up `c`. `left` and `right` are the ring
 * buffers (inside the page for in-page orders). The orders must have
 * passed vchan_ring_layout. */
void vchan_ring_server_init(struct vchan_ring_ctl *c, struct vchan_wire *page,
			    unsigned left_order, unsigned right_order,
			    void *left, void *right);

/* Read the orders from a peer's control page, once each. */
void vchan_ring_read_orders(const struct vchan_wire *page, unsigned *left_order,
			    unsigned *right_order);

/* Copy the first `n` grant references of a peer's page, once each. The
 * caller has checked n against the layout. */
void vchan_ring_read_grants(const struct vchan_wire *page, uint32_t *refs,
			    uint32_t n);

/* Client side: set up `c` on a server's page with the orders read earlier
 * (and checked by vchan_ring_layout), take the server's initial indexes,
 * check them, and announce the client (cli_live = 1, ask for write
 * notifications). The caller must then send an event. Returns 0, or -1
 * with errno EPROTO (an impossible page) or ECONNREFUSED (the page is not
 * waiting for a client: one came already). */
int vchan_ring_client_init(struct vchan_ring_ctl *c, struct vchan_wire *page,
			   unsigned left_order, unsigned right_order,
			   void *left, const void *right);

/* The peer's state (VCHAN_RING_LIVE_*), from its live byte, checking the
 * orders too. Returns the state or -1 with errno EPROTO. */
int vchan_ring_state(struct vchan_ring_ctl *c);

/* Bytes ready to read / free space to write, or -1 with errno EPROTO. */
long vchan_ring_ready(struct vchan_ring_ctl *c);
long vchan_ring_space(struct vchan_ring_ctl *c);

/* Ask the peer for an event on `bits` (VCHAN_RING_NOTIFY_*). The caller
 * must re-check the indexes afterwards before sleeping. */
void vchan_ring_request(struct vchan_ring_ctl *c, unsigned bits);

/* Take back a request for events on `bits`; returns those of `bits` that
 * were still requested (the peer had not yet sent their event). Those it
 * had taken are added to c->taken. */
unsigned vchan_ring_withdraw(struct vchan_ring_ctl *c, unsigned bits);

/* True when the peer's live byte, or an index it moves for one of `bits`
 * (WRITE: its producer index; READ: its consumer index), differs from what
 * we last saw: a cheap unchecked look for spinning. */
int vchan_ring_changed(const struct vchan_ring_ctl *c, unsigned bits);

/* Copy `len` bytes of iov[0..n-1], starting `skip` bytes in, into the
 * write ring: as much as fits, or nothing unless all fits when `all` is
 * set. The iovecs must hold skip + len bytes. Returns the bytes copied (0
 * when none fit) or -1 with errno EPROTO. *kick is set to 1 when the peer
 * must get an event (it is left alone otherwise). */
long vchan_ring_write(struct vchan_ring_ctl *c, const struct iovec *iov, int n,
		      size_t skip, size_t len, int all, int *kick);

/* Copy from the read ring into iov[0..n-1], starting `skip` bytes in: as
 * much as is ready up to `len`, or nothing unless `len` bytes are ready
 * when `all` is set. Returns the bytes copied or -1 with errno EPROTO;
 * *kick as above. */
long vchan_ring_read(struct vchan_ring_ctl *c, const struct iovec *iov, int n,
		     size_t skip, size_t len, int all, int *kick);

/* Zero copy, write side: describe `len` bytes of free space as one or two
 * segments. Returns the number of segments, 0 when fewer than len bytes are
 * free, -1 with errno EPROTO (or EMSGSIZE when len exceeds the ring). */
int vchan_ring_reserve(struct vchan_ring_ctl *c, size_t len,
		       struct iovec seg[2]);

/* Publish `len` bytes of the last reservation. Returns 0, or -1 with errno
 * EINVAL (more than reserved) or EPROTO; *kick as above. */
int vchan_ring_commit(struct vchan_ring_ctl *c, size_t len, int *kick);

/* Zero copy, read side: describe every byte ready as one or two segments.
 * Returns the number of segments (0 when nothing is ready) or -1 with
 * errno EPROTO. */
int vchan_ring_peek(struct vchan_ring_ctl *c, struct iovec seg[2]);

/* Release `len` bytes from the front of the read ring (at most what the
 * last peek described). Returns 0, or -1 with errno EINVAL or EPROTO. */
int vchan_ring_consume(struct vchan_ring_ctl *c, size_t len, int *kick);

/* Mark our side closed in the page (our live byte = 0). */
void vchan_ring_close(struct vchan_ring_ctl *c);

#endif
