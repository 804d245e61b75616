/* grant/sim_gnt.c - shared pages between processes (sim backend).
 *
 * A share is one file g.<owner>.<block> (see sim.h) that the owner maps and
 * holds a shared flock on; a peer maps pages of it by grant reference. The
 * peer opens the file read-only for a read-only mapping, so the kernel
 * itself refuses writes (and mprotect) through it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grant/sim.h"

struct region {
	struct region *next;
	void *addr;
	uint32_t count;
	int share;	    /* 1 a share of ours, 0 a mapping of a peer's */
	int lockfd;	    /* shares: the flocked file, closed at unshare */
	struct sim_rec rec; /* the page and byte the notification names */
	struct vchan_unmap_notify notify;
	int has_notify;
};

struct sim_gnt {
	struct vchan_gnt base;
	struct sim_ctx ctx;
	struct region *regions;
};

static struct sim_gnt *to_sim(vchan_gnt *h)
{
	return (struct sim_gnt *)h;
}

static void gnt_name(char *buf, size_t size, uint32_t owner, uint32_t block)
{
	snprintf(buf, size, "g.%u.%u", owner, block);
}

/* Register the notification with the event handle, so that a peer seeing
 * us die clears the byte for us. */
static int arm_notify(struct region *r, const struct vchan_unmap_notify *n,
		      uint32_t owner, uint32_t block, uint32_t page)
{
	if (n == NULL)
		return 0;
	r->has_notify = 1;
	r->notify = *n;
	r->rec = (struct sim_rec){SIM_REC_ADD, owner, block, page, n->offset};
	if (n->evt == NULL)
		return 0;
	return sim_evt_record(n->evt, n->port,
			      n->offset == VCHAN_NOTIFY_NO_BYTE ? NULL
								: &r->rec);
}

/* The region goes away: what Xen's gntalloc/gntdev do on unmap. With
 * `by_file` the byte is cleared through the share's file instead of the
 * region's address, which its user may have unmapped already. */
static void fire_notify(struct sim_gnt *g, struct region *r, int by_file)
{
	if (!r->has_notify)
		return;
	if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE && by_file)
		sim_clear_byte(&g->ctx, &r->rec);
	else if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE)
		((volatile uint8_t *)r->addr)[r->notify.offset] = 0;
	/* The cleared byte must be visible before the peer is woken. */
	atomic_thread_fence(memory_order_seq_cst);
	if (r->notify.evt == NULL)
		return;
	if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE) {
		r->rec.op = SIM_REC_DEL;
		(void)sim_evt_record(r->notify.evt, r->notify.port, &r->rec);
	}
	(void)vchan_evt_notify(r->notify.evt, r->notify.port);
}

static void release(struct sim_gnt *g, struct region *r)
{
	char name[64];

	fire_notify(g, r, 0);
	munmap(r->addr, (size_t)r->count * VCHAN_PAGE_SIZE);
	if (r->share) {
		gnt_name(name, sizeof(name), g->ctx.domid, r->rec.block);
		unlinkat(g->ctx.dirfd, name, 0);
		close(r->lockfd);
	}
	free(r);
}

static void *sim_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		       uint32_t *refs, int writable,
		       const struct vchan_unmap_notify *notify)
{
	struct sim_gnt *g = to_sim(h);
	struct sim_gnt_meta meta = {SIM_GNT_MAGIC, g->ctx.domid, peer,
				    writable != 0, count};
	struct region *r = calloc(1, sizeof(*r));
	uint32_t block = 0;
	char name[64];
	int err;

	if (r == NULL)
		return NULL;
	r->lockfd = -1;
	for (int tries = 0; tries < 64 && r->lockfd < 0; tries++) {
		block = sim_random(&g->ctx, SIM_MAX_BLOCK);
		gnt_name(name, sizeof(name), g->ctx.domid, block);
		r->lockfd = sim_claim(&g->ctx, name, LOCK_SH);
		if (r->lockfd < 0 && errno != EEXIST)
			break;
	}
	if (r->lockfd < 0) {
		if (errno == EEXIST)
			errno = ENOSPC;
		free(r);
		return NULL;
	}
	r->share = 1;
	r->count = count;
	r->rec.block = block;
	/* A fresh file reads as zeros: the pages start zeroed, as on Xen. */
	if (ftruncate(r->lockfd, (off_t)(1 + count) * VCHAN_PAGE_SIZE) < 0 ||
	    pwrite(r->lockfd, &meta, sizeof(meta), 0) != sizeof(meta))
		goto fail;
	r->addr =
	    mmap(NULL, (size_t)count * VCHAN_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, r->lockfd, VCHAN_PAGE_SIZE);
	if (r->addr == MAP_FAILED)
		goto fail;
	if (arm_notify(r, notify, g->ctx.domid, block, 0) < 0) {
		munmap(r->addr, (size_t)count * VCHAN_PAGE_SIZE);
		goto fail;
	}
	for (uint32_t i = 0; i < count; i++)
		refs[i] = block << 8 | i;
	r->next = g->regions;
	g->regions = r;
	return r->addr;
fail:
	err = errno;
	unlinkat(g->ctx.dirfd, name, 0);
	close(r->lockfd);
	free(r);
	errno = err;
	return NULL;
}

/* Map pages [first, first + n) of one share of `domid` at `at`. */
static int map_run(struct sim_gnt *g, uint32_t domid, uint32_t block,
		   uint32_t first, uint32_t n, int writable, void *at)
{
	struct sim_gnt_meta meta;
	struct stat st;
	char name[64];
	int fd, err = 0;

	gnt_name(name, sizeof(name), domid, block);
	fd = openat(g->ctx.dirfd, name,
		    (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ENOENT : errno;
	if (pread(fd, &meta, sizeof(meta), 0) != sizeof(meta) ||
	    meta.magic != SIM_GNT_MAGIC || fstat(fd, &st) < 0 ||
	    meta.count > VCHAN_GNT_MAX_PAGES ||
	    st.st_size < (off_t)(1 + meta.count) * VCHAN_PAGE_SIZE)
		err = ENOENT;
	else if (meta.peer != g->ctx.domid || (writable && !meta.writable))
		err = EPERM;
	else if (first + n > meta.count)
		err = ENOENT;
	else if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		err = ENOENT; /* nobody holds it: its owner is gone */
	else if (mmap(at, (size_t)n * VCHAN_PAGE_SIZE,
		      writable ? PROT_READ | PROT_WRITE : PROT_READ,
		      MAP_SHARED | MAP_FIXED, fd,
		      (off_t)(1 + first) * VCHAN_PAGE_SIZE) == MAP_FAILED)
		err = errno;
	close(fd);
	return err;
}

static void *sim_map(vchan_gnt *h, uint32_t peer, uint32_t count,
		     const uint32_t *refs, int writable,
		     const struct vchan_unmap_notify *notify)
{
	struct sim_gnt *g = to_sim(h);
	size_t len = (size_t)count * VCHAN_PAGE_SIZE;
	struct region *r = calloc(1, sizeof(*r));
	char *base;
	int err = 0;

	if (r == NULL)
		return NULL;
	/* Reserve the whole range first, so the pages land contiguously. */
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		free(r);
		return NULL;
	}
	for (uint32_t i = 0, n; i < count && err == 0; i += n) {
		uint32_t block = refs[i] >> 8, page = refs[i] & 0xff;

		/* References that follow each other in one share: one mmap. */
		for (n = 1; i + n < count && refs[i + n] == refs[i] + n &&
			    (refs[i + n] >> 8) == block;
		     n++)
			;
		err = block == 0 || block >= SIM_MAX_BLOCK
			  ? ENOENT
			  : map_run(g, peer, block, page, n, writable,
				    base + (size_t)i * VCHAN_PAGE_SIZE);
	}
	r->addr = base;
	r->count = count;
	r->lockfd = -1;
	if (err == 0 &&
	    arm_notify(r, notify, peer, refs[0] >> 8, refs[0] & 0xff) < 0)
		err = errno;
	if (err != 0) {
		munmap(base, len);
		free(r);
		errno = err;
		return NULL;
	}
	r->next = g->regions;
	g->regions = r;
	return base;
}

static int drop_region(vchan_gnt *h, void *addr, uint32_t count, int share)
{
	struct sim_gnt *g = to_sim(h);

	for (struct region **rp = &g->regions; *rp != NULL; rp = &(*rp)->next) {
		struct region *r = *rp;

		if (r->addr == addr && r->count == count && r->share == share) {
			*rp = r->next;
			release(g, r);
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

static int sim_unshare(vchan_gnt *h, void *addr, uint32_t count)
{
	return drop_region(h, addr, count, 1);
}

static int sim_unmap(vchan_gnt *h, void *addr, uint32_t count)
{
	return drop_region(h, addr, count, 0);
}

static int sim_gnt_close(vchan_gnt *h)
{
	struct sim_gnt *g = to_sim(h);

	while (g->regions != NULL) {
		struct region *r = g->regions;

		g->regions = r->next;
		release(g, r);
	}
	sim_ctx_close(&g->ctx);
	free(g);
	return 0;
}

int sim_gnt_close_unmapped(vchan_gnt *h)
{
	struct sim_gnt *g = to_sim(h);
	char name[64];

	while (g->regions != NULL) {
		struct region *r = g->regions;

		g->regions = r->next;
		fire_notify(g, r, 1);
		if (r->share) {
			gnt_name(name, sizeof(name), g->ctx.domid,
				 r->rec.block);
			unlinkat(g->ctx.dirfd, name, 0);
			close(r->lockfd);
		}
		free(r);
	}
	sim_ctx_close(&g->ctx);
	free(g);
	return 0;
}

static const struct gnt_ops sim_gnt_ops = {
    .close = sim_gnt_close,
    .share = sim_share,
    .unshare = sim_unshare,
    .map = sim_map,
    .unmap = sim_unmap,
};

vchan_gnt *vchan_gnt_sim_open(void)
{
	struct sim_gnt *g = calloc(1, sizeof(*g));
	int err;

	if (g == NULL)
		return NULL;
	g->base.ops = &sim_gnt_ops;
	g->base.backend = VCHAN_BACKEND_SIM;
	if (sim_ctx_open(&g->ctx) < 0) {
		err = errno;
		free(g);
		errno = err;
		return NULL;
	}
	return &g->base;
}
