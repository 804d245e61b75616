/* tests/unikernel/uk_blkfront.c - unikernel/blkfront.c on Linux against
 * a fake back end: XenStore, grants and event channels are stubs here, and
 * a send on the ring's port makes the fake blkback serve the ring at once,
 * well or in one of the ways a broken or hostile back end could. The clock
 * moves only when the front end waits, so a back end that never answers
 * shows as ETIMEDOUT at once, and a hang would show as a test that never
 * ends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#include "grant/grant.h"
#include "unikernel/blk.h"
#include "unikernel/pv.h"
#include "xenstore/xs.h"

#define BE     "/local/domain/0/backend/vbd/5/51712"
#define FE     "device/vbd/51712"
#define DISK   (1024u * 1024u) /* bytes */
#define PORT   9u
#define NPAGES 2048u

enum misbehave {
	GOOD,
	SILENT,	   /* never answers */
	BAD_PROD,  /* rsp_prod far ahead */
	BAD_ID,	   /* an id no request had */
	WRONG_OP,  /* the response's operation is not the request's */
	ST_ERROR,  /* BLKIF_RSP_ERROR */
	ST_NOTSUP, /* BLKIF_RSP_EOPNOTSUPP */
	ST_WEIRD,  /* a status blkif.h does not define */
	DOUBLE,	   /* two responses to one request */
};

static struct {
	/* XenStore: a few keys. */
	char key[64][128];
	char val[64][128];
	unsigned nkeys;
	int connect_closes; /* the back end closes instead of connecting */
	int stays_initwait; /* never connects */
	/* Grants: ref -> page. */
	void *page[NPAGES];
	unsigned nrefs;
	void *shares[64];
	unsigned nshares;
	/* The back end. */
	blkif_sring_t *sring;
	RING_IDX req_cons, rsp_prod;
	uint8_t disk[DISK];
	enum misbehave bad;
	unsigned max_segs, max_batch, requests, flushes, barriers;
	uint8_t last_op;
	int pending;
	uint64_t clock;
	unsigned waits;
} F;

/* --- XenStore stubs. */

static int find(const char *k)
{
	for (unsigned i = 0; i < F.nkeys; i++)
		if (strcmp(F.key[i], k) == 0)
			return (int)i;
	return -1;
}

static void set(const char *k, const char *v)
{
	int i = find(k);

	if (i < 0) {
		assert_true(F.nkeys < 64);
		i = (int)F.nkeys++;
		snprintf(F.key[i], sizeof(F.key[i]), "%s", k);
	}
	snprintf(F.val[i], sizeof(F.val[i]), "%s", v);
}

static void unset(const char *k)
{
	int i = find(k);

	if (i >= 0)
		F.key[i][0] = '\0';
}

static const char *get(const char *k)
{
	int i = find(k);

	return i < 0 ? NULL : F.val[i];
}

vchan_xs *vchan_xs_open(void)
{
	return (vchan_xs *)&F;
}

int vchan_xs_close(vchan_xs *xs)
{
	(void)xs;
	return 0;
}

char *vchan_xs_read(vchan_xs *xs, const char *path, size_t *len)
{
	const char *v = get(path);

	(void)xs;
	if (v == NULL) {
		errno = ENOENT;
		return NULL;
	}
	if (len != NULL)
		*len = strlen(v);
	return strdup(v);
}

char *vchan_xs_directory(vchan_xs *xs, const char *path, size_t *count)
{
	(void)xs;
	assert_string_equal(path, "device/vbd");
	*count = 2;
	/* Not a disk id, then ours. */
	return memcpy(malloc(12), "bogus\00051712", 12);
}

static void be_state(int s)
{
	char v[4];

	snprintf(v, sizeof(v), "%d", s);
	set(BE "/state", v);
}

/* The back end's side of the handshake, run as the front end's keys
 * change (blkback's frontend_changed). */
static void be_react(int fe)
{
	const char *st = get(BE "/state");

	if (fe == XenbusStateInitialising && atoi(st) == XenbusStateClosed)
		be_state(XenbusStateInitWait);
	if (fe == XenbusStateInitialised && !F.stays_initwait) {
		if (F.connect_closes) {
			be_state(XenbusStateClosing);
			return;
		}
		assert_string_equal(get(FE "/protocol"), "x86_64-abi");
		assert_int_equal(atoi(get(FE "/event-channel")), PORT);
		F.sring = F.page[atoi(get(FE "/ring-ref"))];
		assert_non_null(F.sring);
		F.req_cons = F.rsp_prod = 0;
		be_state(XenbusStateConnected);
	}
	if (fe == XenbusStateClosing)
		be_state(XenbusStateClosing);
	if (fe == XenbusStateClosed)
		be_state(XenbusStateClosed);
}

int vchan_xs_publish(vchan_xs *xs, const char *dir,
		     const struct vchan_xs_kv *kv, size_t n, uint32_t peer)
{
	char k[128];

	(void)xs;
	assert_int_equal(peer, 0);
	assert_string_equal(dir, FE);
	for (size_t i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%s/%s", dir, kv[i].key);
		set(k, kv[i].value);
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, "state") == 0)
			be_react(atoi(kv[i].value));
	return 0;
}

int vchan_xs_watch(vchan_xs *xs, const char *path, const char *token)
{
	(void)xs;
	(void)path;
	(void)token;
	return 0;
}

int vchan_xs_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	(void)xs;
	(void)path;
	(void)token;
	return 0;
}

int vchan_xs_fd(vchan_xs *xs)
{
	(void)xs;
	return 7;
}

int vchan_xs_read_watch(vchan_xs *xs, char **path, char **token)
{
	(void)xs;
	(void)path;
	(void)token;
	return 0;
}

/* --- Grants and event channels. */

vchan_gnt *vchan_gnt_open(void)
{
	return (vchan_gnt *)&F;
}

int vchan_gnt_close(vchan_gnt *h)
{
	(void)h;
	return 0;
}

void *vchan_gnt_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		      uint32_t *refs, int writable,
		      const struct vchan_unmap_notify *notify)
{
	uint8_t *p = aligned_alloc(4096, (size_t)count * 4096);

	(void)h;
	assert_int_equal(peer, 0);
	assert_true(writable);
	assert_null(notify);
	assert_true(F.nrefs + count <= NPAGES);
	assert_true(F.nshares < 64);
	F.shares[F.nshares++] = p;
	memset(p, 0, (size_t)count * 4096);
	for (uint32_t i = 0; i < count; i++) {
		refs[i] = F.nrefs;
		F.page[F.nrefs++] = p + (size_t)i * 4096;
	}
	return p;
}

vchan_evt *vchan_evt_open(void)
{
	return (vchan_evt *)&F;
}

int vchan_evt_close(vchan_evt *h)
{
	(void)h;
	return 0;
}

int vchan_evt_alloc_unbound(vchan_evt *h, uint32_t remote)
{
	(void)h;
	assert_int_equal(remote, 0);
	return PORT;
}

/* --- The runtime. */

uint64_t uk_now_ns(void)
{
	return F.clock;
}

int uk_fd_ready(int fd)
{
	(void)fd;
	return 0;
}

unsigned uk_fd_ports(int fd, uint32_t *out, unsigned max)
{
	(void)fd;
	(void)out;
	(void)max;
	return 0;
}

/* Nothing happens while the front end waits, but time. */
int uk_wait_ports(const uint32_t *ports, unsigned n, uint64_t deadline)
{
	(void)ports;
	(void)n;
	F.waits++;
	assert_true(F.waits < 1000);
	if (F.pending)
		return 1;
	F.clock = deadline > F.clock ? deadline : F.clock + 1000000;
	return 0;
}

int uk_evtchn_take(uint32_t port)
{
	int was = F.pending;

	assert_int_equal(port, PORT);
	F.pending = 0;
	return was;
}

static void respond(uint64_t id, uint8_t op, int16_t status)
{
	blkif_response_t *r = &F.sring->ring[F.rsp_prod % 32].rsp;

	r->id = id;
	r->operation = op;
	r->status = status;
	F.rsp_prod++;
}

/* The fake blkback: serve every request on the ring. */
int uk_evtchn_send(uint32_t port)
{
	RING_IDX prod = F.sring->req_prod;
	unsigned batch = prod - F.req_cons;

	assert_int_equal(port, PORT);
	if (batch > F.max_batch)
		F.max_batch = batch;
	for (; F.req_cons != prod; F.req_cons++) {
		blkif_request_t *q = &F.sring->ring[F.req_cons % 32].req;
		uint64_t off = q->sector_number * 512;
		int16_t st = BLKIF_RSP_OKAY;

		F.requests++;
		assert_int_equal(q->handle, 51712);
		F.last_op = q->operation;
		if (q->nr_segments > F.max_segs)
			F.max_segs = q->nr_segments;
		if (q->operation == BLKIF_OP_FLUSH_DISKCACHE)
			F.flushes++;
		if (q->operation == BLKIF_OP_WRITE_BARRIER)
			F.barriers++;
		assert_true(q->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
		for (unsigned i = 0; i < q->nr_segments; i++) {
			uint8_t *pg = F.page[q->seg[i].gref];
			size_t len = (size_t)(q->seg[i].last_sect -
					      q->seg[i].first_sect + 1) *
				     512;

			assert_true(q->seg[i].last_sect < 8);
			assert_true(off + len <= DISK);
			pg += q->seg[i].first_sect * 512;
			if (q->operation == BLKIF_OP_READ)
				memcpy(pg, F.disk + off, len);
			else if (q->operation == BLKIF_OP_WRITE)
				memcpy(F.disk + off, pg, len);
			off += len;
		}
		switch (F.bad) {
		case SILENT:
			continue;
		case BAD_ID:
			respond(q->id + 100, q->operation, st);
			continue;
		case WRONG_OP:
			respond(q->id, q->operation ^ 1, st);
			continue;
		case ST_ERROR:
			st = BLKIF_RSP_ERROR;
			break;
		case ST_NOTSUP:
			st = BLKIF_RSP_EOPNOTSUPP;
			break;
		case ST_WEIRD:
			st = 7;
			break;
		case DOUBLE:
			respond(q->id, q->operation, st);
			break;
		default:
			break;
		}
		respond(q->id, q->operation, st);
	}
	F.sring->rsp_prod = F.bad == BAD_PROD ? F.rsp_prod + 500 : F.rsp_prod;
	F.pending = F.bad != SILENT;
	return 0;
}

/* --- Tests. */

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.clock = 1000;
	set(FE "/backend", BE);
	set(FE "/backend-id", "0");
	set(FE "/state", "1");
	be_state(XenbusStateInitWait);
	set(BE "/sectors", "2048");
	set(BE "/sector-size", "512");
	set(BE "/info", "0");
	set(BE "/feature-flush-cache", "1");
	set(BE "/feature-barrier", "1");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < F.nshares; i++)
		free(F.shares[i]);
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + seed + i / 512);
}

static void test_round_trip(void **state)
{
	struct uk_blk_info info;
	uint8_t *w = malloc(1000 * 512 + 1), *r = malloc(1000 * 512 + 3);
	uk_blk *b;

	(void)state;
	b = uk_blk_open("xvda");
	assert_non_null(b);
	assert_int_equal(uk_blk_info(b, &info), 0);
	assert_int_equal(info.sectors, 2048);
	assert_int_equal(info.sector_size, 512);
	assert_int_equal(info.read_only, 0);
	assert_int_equal(info.flush, UK_BLK_FLUSH_CACHE);
	assert_string_equal(info.vdev, "51712");
	assert_string_equal(get(FE "/state"), "4");
	fill(w + 1, 1000 * 512, 1);
	assert_int_equal(uk_blk_write(b, 3, w + 1, 1000), 0);
	assert_memory_equal(F.disk + 3 * 512, w + 1, 1000 * 512);
	/* Full requests of 11 pages, every slot of the pool in flight. */
	assert_int_equal(F.max_segs, BLKIF_MAX_SEGMENTS_PER_REQUEST);
	assert_int_equal(F.max_batch, 8);
	assert_int_equal(uk_blk_read(b, 3, r + 3, 1000), 0);
	assert_memory_equal(r + 3, w + 1, 1000 * 512);
	/* The last sector; one; none. */
	assert_int_equal(uk_blk_read(b, 2047, r, 1), 0);
	assert_memory_equal(r, F.disk + 2047 * 512, 512);
	assert_int_equal(uk_blk_read(b, 0, r, 0), 0);
	assert_int_equal(uk_blk_flush(b), 0);
	assert_int_equal(F.last_op, BLKIF_OP_FLUSH_DISKCACHE);
	assert_int_equal(F.flushes, 1);
	/* Past the end: never sent. */
	F.requests = 0;
	assert_int_equal(uk_blk_read(b, 2047, r, 2), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(uk_blk_write(b, 2048, w, 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(uk_blk_read(b, UINT64_MAX, r, 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(uk_blk_read(b, 0, NULL, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(F.requests, 0);
	/* Close, open again: blkback's Closed -> InitWait on Initialising. */
	assert_int_equal(uk_blk_close(b), 0);
	assert_string_equal(get(FE "/state"), "6");
	assert_string_equal(get(BE "/state"), "6");
	b = uk_blk_open(NULL);
	assert_non_null(b);
	assert_int_equal(uk_blk_read(b, 3, r, 1000), 0);
	assert_memory_equal(r, w + 1, 1000 * 512);
	assert_int_equal(uk_blk_close(b), 0);
	assert_int_equal(uk_blk_close(NULL), 0);
	free(w);
	free(r);
}

static void test_flush_kinds(void **state)
{
	uk_blk *b;
	struct uk_blk_info info;

	(void)state;
	set(BE "/feature-flush-cache", "0");
	b = uk_blk_open("51712");
	assert_non_null(b);
	uk_blk_info(b, &info);
	assert_int_equal(info.flush, UK_BLK_FLUSH_BARRIER);
	assert_int_equal(uk_blk_flush(b), 0);
	assert_int_equal(F.barriers, 1);
	uk_blk_close(b);
	/* Neither: no request, success (blk.h says why). */
	unset(BE "/feature-barrier");
	unset(BE "/feature-flush-cache");
	b = uk_blk_open(NULL);
	assert_non_null(b);
	uk_blk_info(b, &info);
	assert_int_equal(info.flush, UK_BLK_FLUSH_NONE);
	F.requests = 0;
	assert_int_equal(uk_blk_flush(b), 0);
	assert_int_equal(F.requests, 0);
	/* Offered, then refused. */
	uk_blk_close(b);
	set(BE "/feature-flush-cache", "1");
	b = uk_blk_open(NULL);
	F.bad = ST_NOTSUP;
	assert_int_equal(uk_blk_flush(b), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	uk_blk_close(b);
}

/* A back end's misbehaviour, and what the call and the next one say. */
static void bad_case(enum misbehave bad, int err, int then)
{
	uint8_t buf[4096];
	uk_blk *b = uk_blk_open(NULL);

	assert_non_null(b);
	uk_blk_set_timeout(b, 500);
	F.bad = bad;
	F.waits = 0;
	assert_int_equal(uk_blk_read(b, 0, buf, 8), -1);
	assert_int_equal(errno, err);
	F.bad = GOOD;
	if (then == 0) {
		assert_int_equal(uk_blk_read(b, 0, buf, 8), 0);
	} else {
		assert_int_equal(uk_blk_read(b, 0, buf, 8), -1);
		assert_int_equal(errno, then);
		assert_int_equal(uk_blk_flush(b), -1);
		assert_int_equal(errno, then);
	}
	uk_blk_close(b);
}

static void test_bad_backends(void **state)
{
	(void)state;
	bad_case(SILENT, ETIMEDOUT, EIO);
	assert_true(F.clock >= 500000000u);
	bad_case(BAD_PROD, EPROTO, EIO);
	bad_case(BAD_ID, EPROTO, EIO);
	bad_case(WRONG_OP, EPROTO, EIO);
	bad_case(ST_WEIRD, EPROTO, EIO);
	bad_case(DOUBLE, EPROTO, EIO);
	/* Errors the protocol has: the handle goes on. */
	bad_case(ST_ERROR, EIO, 0);
	bad_case(ST_NOTSUP, EOPNOTSUPP, 0);
}

static void test_handshake(void **state)
{
	uk_blk *b;

	(void)state;
	assert_null(uk_blk_open("xvdb"));
	assert_int_equal(errno, ENOENT);
	assert_null(uk_blk_open("sda"));
	assert_int_equal(errno, EINVAL);
	F.connect_closes = 1;
	assert_null(uk_blk_open(NULL));
	assert_int_equal(errno, ENODEV);
	assert_string_equal(get(FE "/state"), "6");
	F.connect_closes = 0;
	F.stays_initwait = 1;
	be_state(XenbusStateClosed);
	assert_null(uk_blk_open(NULL));
	assert_int_equal(errno, ETIMEDOUT);
	F.stays_initwait = 0;
	be_state(XenbusStateInitWait);
	set(BE "/sector-size", "513");
	assert_null(uk_blk_open(NULL));
	assert_int_equal(errno, EPROTO);
	set(BE "/sector-size", "4096");
	set(BE "/sectors", "2047");
	assert_null(uk_blk_open(NULL));
	assert_int_equal(errno, EPROTO);
	set(BE "/sectors", "18446744073709551616");
	assert_null(uk_blk_open(NULL));
	assert_int_equal(errno, EPROTO);
	/* 4 KiB blocks: whole blocks only. Read-only: no writes. */
	set(BE "/sectors", "2048");
	set(BE "/info", "4");
	b = uk_blk_open(NULL);
	assert_non_null(b);
	{
		uint8_t buf[8192];

		assert_int_equal(uk_blk_read(b, 1, buf, 8), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(uk_blk_read(b, 8, buf, 7), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(uk_blk_read(b, 8, buf, 16), 0);
		assert_int_equal(uk_blk_write(b, 8, buf, 8), -1);
		assert_int_equal(errno, EROFS);
		assert_int_equal(uk_blk_flush(b), -1);
		assert_int_equal(errno, EROFS);
	}
	uk_blk_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_kinds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_backends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
