/* unikernel/blkfront.c - the front end of Xen's PV block protocol (see
 * blk.h for the interface and xen/io/blkif.h for the protocol).
 *
 * One ring page and a pool of data pages are granted to the back end at
 * open and stay granted until close: a request's data is copied through
 * the pool, so the caller's buffers (of any alignment) are never shared,
 * and no grant changes per request. The pool holds SLOTS requests of up
 * to BLKIF_MAX_SEGMENTS_PER_REQUEST pages each; a large read or write
 * keeps that many requests in flight on the ring.
 *
 * The back end may write anything into the ring page. Its response
 * producer index is read once per look and checked against the requests
 * we made; each response is copied out of the ring once, then checked
 * (id, operation, status) from the copy. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/grant_table.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#include "grant/grant.h"
#include "unikernel/blk.h"
#include "unikernel/pv.h"
#include "xenstore/xs.h"

#define SLOTS	     8u
#define SEGS	     BLKIF_MAX_SEGMENTS_PER_REQUEST
#define POOL_PAGES   (SLOTS * SEGS)
#define PAGE	     4096u
#define SECT_PER_PG  (PAGE / UK_BLK_SECTOR)
#define RING_ENTRIES __CONST_RING_SIZE(blkif, PAGE)
#define DEFAULT_MS   30000u
#define XVD_MAJOR    202u

/* One request on the ring. */
struct slot {
	int busy;
	uint8_t op;
	uint64_t offset; /* of its data in the caller's buffer, in bytes */
	uint32_t bytes;
};

struct uk_blk {
	vchan_xs *xs;
	vchan_gnt *gnt;
	vchan_evt *evt;
	char fe[64];  /* our device directory, relative to our home */
	char be[256]; /* the back end's directory */
	uint32_t port;
	blkif_vdev_t handle; /* the device's id, as requests name it */
	blkif_sring_t *sring;
	uint32_t ring_ref;
	uint8_t *pool;
	uint32_t refs[POOL_PAGES];
	RING_IDX req_prod; /* ours: requests made */
	RING_IDX rsp_cons; /* ours: responses taken */
	struct slot slots[SLOTS];
	unsigned inflight;
	uint64_t timeout_ns;
	int broken;
	struct uk_blk_info info;
};

static int fail(int err)
{
	errno = err;
	return -1;
}

/* Past this, the back end is not trusted with the handle any more: its
 * pages stay granted (they may still be written) but are never used. */
static int broken(uk_blk *b, int err)
{
	b->broken = 1;
	return fail(err);
}

static uint64_t deadline(const uk_blk *b)
{
	return uk_now_ns() + b->timeout_ns;
}

/* --- XenStore. */

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' ||
		    v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* The number at `dir`/`key`, or `dflt` when the key is absent (dflt < 0:
 * absent is an error). EPROTO for a malformed value. */
static int read_num(uk_blk *b, const char *dir, const char *key, int64_t dflt,
		    uint64_t max, uint64_t *out)
{
	char path[320];
	char *v;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = vchan_xs_read(b->xs, path, NULL);
	if (v == NULL) {
		if (errno == ENOENT && dflt >= 0) {
			*out = (uint64_t)dflt;
			return 0;
		}
		return errno == ENOENT ? fail(EPROTO) : -1;
	}
	rc = parse_u64(v, max, out);
	free(v);
	return rc < 0 ? fail(EPROTO) : 0;
}

static int be_state(uk_blk *b)
{
	uint64_t s;

	if (read_num(b, b->be, "state", -1, 255, &s) < 0)
		return -1;
	return (int)s;
}

static int set_state(uk_blk *b, const struct vchan_xs_kv *kv, size_t n)
{
	return vchan_xs_publish(b->xs, b->fe, kv, n, b->info.backend_id);
}

static int set_fe_state(uk_blk *b, enum xenbus_state s)
{
	char v[4];
	struct vchan_xs_kv kv = {"state", v};

	snprintf(v, sizeof(v), "%d", (int)s);
	return set_state(b, &kv, 1);
}

/* How await_be takes a back end that is Closing or Closed. */
enum on_closed {
	CLOSED_FAILS,	/* ENODEV: it went away */
	CLOSED_WAITS,	/* wait on: it is coming back (a reconnect) */
	CLOSED_RETURNS, /* return its state: closing is what we wait for */
};

/* Wait until the back end's state is `want`. Returns the state or -1 +
 * errno: ETIMEDOUT, ENODEV (see enum on_closed). */
static int await_be(uk_blk *b, int want, enum on_closed on_closed)
{
	uint64_t end = deadline(b);
	char path[300];
	int st = -1;

	snprintf(path, sizeof(path), "%s/state", b->be);
	if (vchan_xs_watch(b->xs, path, "blk") < 0)
		return -1;
	for (;;) {
		int fd = vchan_xs_fd(b->xs);
		uint32_t ports[4];
		uint64_t now = uk_now_ns();
		char *wp, *tok;

		while (vchan_xs_read_watch(b->xs, &wp, &tok) == 1) {
			free(wp);
			free(tok);
		}
		st = be_state(b);
		if (st < 0 && errno != EPROTO)
			break;
		if (st == want)
			break;
		if ((st == XenbusStateClosing || st == XenbusStateClosed) &&
		    on_closed != CLOSED_WAITS) {
			if (on_closed == CLOSED_FAILS) {
				errno = ENODEV;
				st = -1;
			}
			break;
		}
		if (now >= end) {
			errno = ETIMEDOUT;
			st = -1;
			break;
		}
		/* As poll() on the store's fd would, to the deadline. */
		if (uk_fd_ready(fd) <= 0)
			uk_wait_ports(ports, uk_fd_ports(fd, ports, 4), end);
	}
	{
		int err = errno;

		vchan_xs_unwatch(b->xs, path, "blk");
		errno = err;
	}
	return st;
}

/* The disk's id under device/vbd/: the one `name` gives, or the lowest. */
static int find_vdev(uk_blk *b, const char *name, char *out, size_t size)
{
	uint64_t want = UINT64_MAX, best = UINT64_MAX;
	size_t count;
	char *list, *p;

	if (name != NULL && name[0] == 'x' && name[1] == 'v' &&
	    name[2] == 'd' && name[3] >= 'a' && name[3] <= 'z' &&
	    name[4] == '\0')
		want = (XVD_MAJOR << 8) + 16u * (uint64_t)(name[3] - 'a');
	else if (name != NULL && *name != '\0' &&
		 parse_u64(name, UINT32_MAX, &want) < 0)
		return fail(EINVAL);
	list = vchan_xs_directory(b->xs, "device/vbd", &count);
	if (list == NULL)
		return errno == EACCES ? fail(ENOENT) : -1;
	p = list;
	for (size_t i = 0; i < count; i++, p += strlen(p) + 1) {
		uint64_t id;

		if (parse_u64(p, UINT32_MAX, &id) < 0)
			continue;
		if (want == UINT64_MAX ? id < best : id == want)
			best = id;
	}
	free(list);
	if (best == UINT64_MAX)
		return fail(ENOENT);
	snprintf(out, size, "%u", (unsigned)best);
	return 0;
}

/* Where the back end is, from the front end's keys libxl wrote. */
static int find_backend(uk_blk *b)
{
	char path[96];
	uint64_t id;
	char *be;

	if (read_num(b, b->fe, "backend-id", -1, 32751, &id) < 0)
		return -1;
	b->info.backend_id = (uint32_t)id;
	snprintf(path, sizeof(path), "%s/backend", b->fe);
	be = vchan_xs_read(b->xs, path, NULL);
	if (be == NULL)
		return errno == ENOENT ? fail(EPROTO) : -1;
	if (be[0] != '/' || strlen(be) >= sizeof(b->be)) {
		free(be);
		return fail(EPROTO);
	}
	strcpy(b->be, be);
	free(be);
	return 0;
}

/* What the back end says about the disk once connected. */
static int read_info(uk_blk *b)
{
	uint64_t sectors, ssize, info, flush, barrier;

	if (read_num(b, b->be, "sectors", -1, UINT64_MAX, &sectors) < 0 ||
	    read_num(b, b->be, "sector-size", 512, 1u << 20, &ssize) < 0 ||
	    read_num(b, b->be, "info", 0, UINT32_MAX, &info) < 0 ||
	    read_num(b, b->be, "feature-flush-cache", 0, 1, &flush) < 0 ||
	    read_num(b, b->be, "feature-barrier", 0, 1, &barrier) < 0)
		return -1;
	/* A power of two of at least 512; and a size in whole blocks. */
	if (ssize < UK_BLK_SECTOR || (ssize & (ssize - 1)) != 0 ||
	    sectors % (ssize / UK_BLK_SECTOR) != 0)
		return fail(EPROTO);
	b->info.sectors = sectors;
	b->info.sector_size = (uint32_t)ssize;
	b->info.read_only = (info & VDISK_READONLY) != 0;
	b->info.flush = flush	  ? UK_BLK_FLUSH_CACHE
			: barrier ? UK_BLK_FLUSH_BARRIER
				  : UK_BLK_FLUSH_NONE;
	return 0;
}

/* Share the ring and the pool, bind the event channel, publish them. */
static int connect_ring(uk_blk *b)
{
	char ref[16], port[16];
	const struct vchan_xs_kv kv[] = {
	    {"ring-ref", ref},
	    {"event-channel", port},
	    {"protocol", XEN_IO_PROTO_ABI_NATIVE},
	    {"state", "3"}, /* XenbusStateInitialised */
	};
	int p;

	b->gnt = vchan_gnt_open();
	b->evt = vchan_evt_open();
	if (b->gnt == NULL || b->evt == NULL)
		return -1;
	b->sring = vchan_gnt_share(b->gnt, b->info.backend_id, 1, &b->ring_ref,
				   1, NULL);
	if (b->sring == NULL)
		return -1;
	/* Writable for reads; the pool is shared once for every request. */
	b->pool = vchan_gnt_share(b->gnt, b->info.backend_id, POOL_PAGES,
				  b->refs, 1, NULL);
	if (b->pool == NULL)
		return -1;
	SHARED_RING_INIT(b->sring);
	p = vchan_evt_alloc_unbound(b->evt, b->info.backend_id);
	if (p < 0)
		return -1;
	b->port = (uint32_t)p;
	snprintf(ref, sizeof(ref), "%u", b->ring_ref);
	snprintf(port, sizeof(port), "%u", b->port);
	/* All four in one transaction: the back end, watching our state,
	 * finds the ring's keys there when it sees Initialised. */
	return set_state(b, kv, sizeof(kv) / sizeof(kv[0]));
}

static void release(uk_blk *b)
{
	/* Unsharing a page the back end still maps keeps it aside until
	 * it lets go (grant/pv.c): it is never reused before. */
	vchan_gnt_close(b->gnt);
	vchan_evt_close(b->evt);
	vchan_xs_close(b->xs);
	free(b);
}

uk_blk *uk_blk_open(const char *name)
{
	uk_blk *b = calloc(1, sizeof(*b));
	char id[16];
	uint64_t fe_state;
	int err;

	if (b == NULL)
		return NULL;
	b->timeout_ns = (uint64_t)DEFAULT_MS * 1000000u;
	b->xs = vchan_xs_open();
	if (b->xs == NULL)
		goto fail;
	if (find_vdev(b, name, id, sizeof(id)) < 0)
		goto fail;
	snprintf(b->fe, sizeof(b->fe), "device/vbd/%s", id);
	snprintf(b->info.vdev, sizeof(b->info.vdev), "%s", id);
	b->handle = (blkif_vdev_t)strtoul(id, NULL, 10);
	if (find_backend(b) < 0)
		goto fail;
	/* A disk closed before (by an earlier open) starts over: the back
	 * end, still online, goes from Closed back to InitWait. */
	if (read_num(b, b->fe, "state", XenbusStateInitialising, 255,
		     &fe_state) < 0)
		goto fail;
	if (fe_state != XenbusStateInitialising &&
	    set_fe_state(b, XenbusStateInitialising) < 0)
		goto fail;
	/* Closed still, until blkback sees Initialising ("prepare for
	 * reconnect" in its log) and goes to InitWait. */
	if (await_be(b, XenbusStateInitWait, CLOSED_WAITS) < 0)
		goto fail;
	if (connect_ring(b) < 0)
		goto fail;
	if (await_be(b, XenbusStateConnected, CLOSED_FAILS) < 0)
		goto fail;
	if (read_info(b) < 0)
		goto fail;
	if (set_fe_state(b, XenbusStateConnected) < 0)
		goto fail;
	return b;
fail:
	err = errno;
	if (b->be[0] != '\0' && b->xs != NULL)
		set_fe_state(b, XenbusStateClosed);
	release(b);
	errno = err;
	return NULL;
}

int uk_blk_info(const uk_blk *b, struct uk_blk_info *info)
{
	if (b == NULL || info == NULL)
		return fail(EINVAL);
	*info = b->info;
	return 0;
}

int uk_blk_set_timeout(uk_blk *b, unsigned ms)
{
	if (b == NULL || ms == 0)
		return fail(EINVAL);
	b->timeout_ns = (uint64_t)ms * 1000000u;
	return 0;
}

/* --- The ring. */

static uint8_t *slot_page(uk_blk *b, unsigned slot, unsigned seg)
{
	return b->pool + ((size_t)slot * SEGS + seg) * PAGE;
}

/* Make the requests written so far visible and tell the back end. */
static void push(uk_blk *b)
{
	/* Write barrier: the requests' contents before the index that
	 * publishes them (ring.h's RING_PUSH_REQUESTS). */
	__atomic_store_n(&b->sring->req_prod, b->req_prod, __ATOMIC_RELEASE);
	/* Full barrier: the index before the event. The back end may have
	 * asked (req_event) not to be told; telling it anyway costs one
	 * event per batch and never loses a request to a hostile
	 * req_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uk_evtchn_send(b->port);
}

/* Put a request on the ring for `slot`: `nsect` sectors from `sector`
 * through the slot's pages (nsect 0: a flush or barrier with no data). */
static void queue(uk_blk *b, unsigned slot, uint8_t op, uint64_t sector,
		  uint32_t nsect)
{
	blkif_request_t *r =
	    &b->sring->ring[b->req_prod & (RING_ENTRIES - 1)].req;
	unsigned nseg = (nsect + SECT_PER_PG - 1) / SECT_PER_PG;

	r->operation = op;
	r->nr_segments = (uint8_t)nseg;
	r->handle = b->handle;
	r->id = slot;
	r->sector_number = sector;
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t left = nsect - i * SECT_PER_PG;

		r->seg[i].gref = b->refs[slot * SEGS + i];
		r->seg[i].first_sect = 0;
		r->seg[i].last_sect =
		    (uint8_t)((left < SECT_PER_PG ? left : SECT_PER_PG) - 1);
	}
	b->slots[slot].busy = 1;
	b->slots[slot].op = op;
	b->req_prod++;
	b->inflight++;
}

static int status_errno(int16_t status)
{
	switch (status) {
	case BLKIF_RSP_OKAY:
		return 0;
	case BLKIF_RSP_ERROR:
		return EIO;
	case BLKIF_RSP_EOPNOTSUPP:
		return EOPNOTSUPP;
	default:
		return EPROTO;
	}
}

/* Take the responses there are. For each finished slot, done(slot, err)
 * is called. Returns how many were taken, or -1 + EPROTO (broken). */
static int harvest(uk_blk *b, void (*done)(uk_blk *, unsigned, int, void *),
		   void *arg)
{
	/* Read once; acquire: the responses' contents after the index
	 * (ring.h's rmb after reading rsp_prod). */
	RING_IDX prod = __atomic_load_n(&b->sring->rsp_prod, __ATOMIC_ACQUIRE);
	int n = 0;

	/* More responses than requests outstanding (in u32, so a wrap of
	 * the free-running indexes is fine): the index is garbage. */
	if (prod - b->rsp_cons > b->req_prod - b->rsp_cons)
		return broken(b, EPROTO);
	while (b->rsp_cons != prod) {
		const volatile blkif_response_t *src =
		    &b->sring->ring[b->rsp_cons & (RING_ENTRIES - 1)].rsp;
		/* A private copy: every check below looks at it, never at
		 * the ring again (a back end changing it under us). */
		uint64_t id = src->id;
		uint8_t op = src->operation;
		int16_t status = src->status;
		int err = status_errno(status);

		b->rsp_cons++;
		if (id >= SLOTS || !b->slots[id].busy || b->slots[id].op != op)
			return broken(b, EPROTO);
		b->slots[id].busy = 0;
		b->inflight--;
		n++;
		if (err == EPROTO)
			return broken(b, EPROTO);
		done(b, (unsigned)id, err, arg);
	}
	return n;
}

/* Wait until at least one response came and take them. Returns 0 or -1 +
 * errno (EPROTO, ETIMEDOUT: the handle is then broken). */
static int collect(uk_blk *b, void (*done)(uk_blk *, unsigned, int, void *),
		   void *arg)
{
	uint64_t end = deadline(b);

	for (;;) {
		int n;

		/* Clear the event before looking: one that comes after the
		 * look stays pending and ends the wait at once. */
		uk_evtchn_take(b->port);
		n = harvest(b, done, arg);
		if (n != 0)
			return n < 0 ? -1 : 0;
		/* Ask for an event at the next response, then look again:
		 * it may have come before the request was seen (ring.h's
		 * RING_FINAL_CHECK_FOR_RESPONSES, full barrier between). */
		__atomic_store_n(&b->sring->rsp_event, b->rsp_cons + 1,
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&b->sring->rsp_prod, __ATOMIC_RELAXED) !=
		    b->rsp_cons)
			continue;
		if (uk_now_ns() >= end)
			return broken(b, ETIMEDOUT);
		uk_wait_ports(&b->port, 1, end);
	}
}

struct xfer {
	uint8_t *rbuf;	     /* read: where the data goes */
	const uint8_t *wbuf; /* write: where it comes from */
	int err;	     /* the first error a response gave */
};

static void xfer_done(uk_blk *b, unsigned slot, int err, void *arg)
{
	struct xfer *x = arg;
	const struct slot *s = &b->slots[slot];

	if (err != 0) {
		if (x->err == 0)
			x->err = err;
		return;
	}
	if (x->rbuf != NULL) {
		for (uint32_t off = 0; off < s->bytes; off += PAGE) {
			uint32_t n =
			    s->bytes - off < PAGE ? s->bytes - off : PAGE;

			memcpy(x->rbuf + s->offset + off,
			       slot_page(b, slot, off / PAGE), n);
		}
	}
}

static int check_io(uk_blk *b, uint64_t sector, const void *buf, size_t count)
{
	uint64_t per;

	if (b == NULL || (buf == NULL && count != 0))
		return fail(EINVAL);
	if (b->broken)
		return fail(EIO);
	per = b->info.sector_size / UK_BLK_SECTOR;
	if (sector % per != 0 || count % per != 0)
		return fail(EINVAL);
	if (sector > b->info.sectors || count > b->info.sectors - sector)
		return fail(ERANGE);
	return 0;
}

static int free_slot(const uk_blk *b)
{
	for (unsigned i = 0; i < SLOTS; i++)
		if (!b->slots[i].busy)
			return (int)i;
	return -1;
}

/* Read (wbuf NULL) or write `count` sectors at `sector`: requests of up
 * to SEGS pages, up to SLOTS of them in flight. After an error response
 * no new request is made; those in flight are waited for. */
static int rw(uk_blk *b, uint64_t sector, uint8_t *rbuf, const uint8_t *wbuf,
	      size_t count)
{
	struct xfer x = {rbuf, wbuf, 0};
	uint8_t op = wbuf != NULL ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	size_t next = 0;

	while ((next < count && x.err == 0) || b->inflight > 0) {
		int queued = 0, slot;

		while (next < count && x.err == 0 &&
		       (slot = free_slot(b)) >= 0) {
			size_t n = count - next;
			struct slot *s = &b->slots[slot];

			if (n > SEGS * SECT_PER_PG)
				n = SEGS * SECT_PER_PG;
			s->offset = (uint64_t)next * UK_BLK_SECTOR;
			s->bytes = (uint32_t)(n * UK_BLK_SECTOR);
			if (wbuf != NULL)
				for (uint32_t off = 0; off < s->bytes;
				     off += PAGE) {
					uint32_t len = s->bytes - off < PAGE
							   ? s->bytes - off
							   : PAGE;

					memcpy(slot_page(b, (unsigned)slot,
							 off / PAGE),
					       wbuf + s->offset + off, len);
				}
			queue(b, (unsigned)slot, op, sector + next,
			      (uint32_t)n);
			next += n;
			queued = 1;
		}
		if (queued)
			push(b);
		if (collect(b, xfer_done, &x) < 0)
			return -1;
	}
	return x.err != 0 ? fail(x.err) : 0;
}

int uk_blk_read(uk_blk *b, uint64_t sector, void *buf, size_t count)
{
	if (check_io(b, sector, buf, count) < 0)
		return -1;
	return rw(b, sector, buf, NULL, count);
}

int uk_blk_write(uk_blk *b, uint64_t sector, const void *buf, size_t count)
{
	if (check_io(b, sector, buf, count) < 0)
		return -1;
	if (b->info.read_only)
		return fail(EROFS);
	return rw(b, sector, NULL, buf, count);
}

int uk_blk_flush(uk_blk *b)
{
	struct xfer x = {NULL, NULL, 0};
	uint8_t op;

	if (b == NULL)
		return fail(EINVAL);
	if (b->broken)
		return fail(EIO);
	if (b->info.read_only)
		return fail(EROFS);
	switch (b->info.flush) {
	case UK_BLK_FLUSH_CACHE:
		op = BLKIF_OP_FLUSH_DISKCACHE;
		break;
	case UK_BLK_FLUSH_BARRIER:
		op = BLKIF_OP_WRITE_BARRIER;
		break;
	default:
		/* No volatile cache (blk.h): completed writes are stable. */
		return 0;
	}
	/* Every write returned before this call has completed (the calls
	 * are synchronous), so a request with no data flushes them all. */
	queue(b, 0, op, 0, 0);
	push(b);
	while (b->inflight > 0)
		if (collect(b, xfer_done, &x) < 0)
			return -1;
	return x.err != 0 ? fail(x.err) : 0;
}

int uk_blk_close(uk_blk *b)
{
	int rc = 0;

	if (b == NULL)
		return 0;
	/* Closing, then Closed once the back end has seen it: blkback
	 * unmaps the ring and goes Closed, and stays online for a next
	 * open. */
	if (set_fe_state(b, XenbusStateClosing) < 0 ||
	    await_be(b, XenbusStateClosing, CLOSED_RETURNS) < 0)
		rc = -1;
	if (set_fe_state(b, XenbusStateClosed) < 0 ||
	    (rc == 0 && await_be(b, XenbusStateClosed, CLOSED_WAITS) < 0))
		rc = -1;
	{
		int err = errno;

		release(b);
		if (rc < 0)
			errno = err;
	}
	return rc;
}
