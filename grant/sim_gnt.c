/* grant/sim_gnt.c - shared pages between processes (sim backend).
 *
 * A share is a sealed memfd of its pages that the owner maps, described by
 * a file g.<owner>.<block> (see sim.h) that the owner holds a shared flock
 * on; a peer maps pages of it by grant reference, opening the owner's
 * memfd through /proc. The peer opens it read-only for a read-only
 * mapping, so the kernel itself refuses writes (and mprotect) through it.
 * A mapping keeps its fds of the memfds open: when the owner dies, they are
 * the survivor's way to clear the byte its unmap notification names
 * (sim_clear_byte). */
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
#include <sys/types.h>
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
	/* The memfds of the pages, one per run of pages from one share (a
	 * share: its own), fds[0] the one of the first page. */
	uint32_t nfds;
	int fds[];
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
 * `by_file` the byte is cleared through the share's memfd instead of the
 * region's address, which its user may have unmapped already. */
static void fire_notify(struct region *r, int by_file)
{
	static const char zero;

	if (!r->has_notify)
		return;
	if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE && by_file) {
		/* A notify names one page, the first; rec.page is its index
		 * in its share, which is what fds[0] holds. */
		if (pwrite(r->fds[0], &zero, 1,
			   (off_t)r->rec.page * VCHAN_PAGE_SIZE +
			       r->notify.offset) != 1) {
			/* Not possible for a page we map writable. */
		}
	} else if (r->notify.offset != VCHAN_NOTIFY_NO_BYTE)
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

static struct region *new_region(uint32_t nfds)
{
	struct region *r = calloc(1, sizeof(*r) + nfds * sizeof(int));

	if (r == NULL)
		return NULL;
	r->lockfd = -1;
	return r;
}

/* Forget a region whose pages are unmapped (by us or by its user). */
static void free_region(struct sim_gnt *g, struct region *r)
{
	char name[64];

	if (r->share) {
		gnt_name(name, sizeof(name), g->ctx.domid, r->rec.block);
		unlinkat(g->ctx.dirfd, name, 0);
		close(r->lockfd);
	}
	for (uint32_t i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	free(r);
}

static void release(struct sim_gnt *g, struct region *r)
{
	fire_notify(r, 0);
	munmap(r->addr, (size_t)r->count * VCHAN_PAGE_SIZE);
	free_region(g, r);
}

static void *sim_share(vchan_gnt *h, uint32_t peer, uint32_t count,
		       uint32_t *refs, int writable,
		       const struct vchan_unmap_notify *notify)
{
	struct sim_gnt *g = to_sim(h);
	struct sim_gnt_meta meta = {.magic = SIM_GNT_MAGIC,
				    .owner = g->ctx.domid,
				    .peer = peer,
				    .writable = writable != 0,
				    .count = count};
	struct region *r = new_region(1);
	size_t len = (size_t)count * VCHAN_PAGE_SIZE;
	uint32_t block = 0;
	struct stat st;
	char name[64], memname[64];
	int err;

	if (r == NULL)
		return NULL;
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
	/* Described only once the pages exist: a mapper that finds the file
	 * still empty takes it for no grant at all. */
	snprintf(memname, sizeof(memname), SIM_GNT_MEMFD, g->ctx.domid, block);
	r->fds[0] = sim_new_pages(memname, (off_t)len);
	if (r->fds[0] < 0)
		goto fail;
	r->nfds = 1;
	if (fstat(r->fds[0], &st) < 0)
		goto fail;
	meta.pid = (int32_t)getpid();
	meta.fd = r->fds[0];
	meta.dev = (uint64_t)st.st_dev;
	meta.ino = (uint64_t)st.st_ino;
	if (pwrite(r->lockfd, &meta, sizeof(meta), 0) != sizeof(meta)) {
		errno = EIO;
		goto fail;
	}
	r->addr =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fds[0], 0);
	if (r->addr == MAP_FAILED)
		goto fail;
	if (arm_notify(r, notify, g->ctx.domid, block, 0) < 0) {
		munmap(r->addr, len);
		goto fail;
	}
	for (uint32_t i = 0; i < count; i++)
		refs[i] = block << 8 | i;
	r->next = g->regions;
	g->regions = r;
	return r->addr;
fail:
	err = errno;
	free_region(g, r);
	errno = err;
	return NULL;
}

/* Open the pages of the share `m` describes, as the owner's process holds
 * them, and check them: the fd it names must still be that memfd (a dead
 * owner's number may have been reused), and we map nothing that could
 * shrink under us, whatever the owner wrote into its file. Returns the fd
 * or -1 + errno: ENOENT the owner is gone, EPROTO not sealed pages of the
 * size the share claims, or why /proc refused. */
static int open_pages(const struct sim_gnt_meta *m, uint32_t block,
		      int writable)
{
	char path[64], want[96], link[128];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)m->pid, (int)m->fd);
	/* Looked at before it is opened: the owner's fd may be anything. The
	 * open does not wait either, should it have become a FIFO since. */
	if (stat(path, &st) < 0) {
		if (errno == ESRCH)
			errno = ENOENT;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EPROTO;
		return -1;
	}
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC |
			    O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ESRCH)
			errno = ENOENT;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != m->dev || (uint64_t)st.st_ino != m->ino) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	/* Its name is what sim_clear_byte will look for among our fds. */
	snprintf(want, sizeof(want), "/memfd:" SIM_GNT_MEMFD " (deleted)",
		 m->owner, block);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	if (n < 0 || (size_t)n != strlen(want) ||
	    memcmp(link, want, (size_t)n) != 0 ||
	    sim_check_pages(fd, (off_t)m->count * VCHAN_PAGE_SIZE) < 0) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

/* Map pages [first, first + n) of one share of `domid` at `at`. Returns 0
 * with the pages' memfd in *pagefd, or an errno. */
static int map_run(struct sim_gnt *g, uint32_t domid, uint32_t block,
		   uint32_t first, uint32_t n, int writable, void *at,
		   int *pagefd)
{
	struct sim_gnt_meta meta;
	char name[64];
	int fd, pfd = -1, err = 0;

	gnt_name(name, sizeof(name), domid, block);
	fd = openat(g->ctx.dirfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno;
	if (pread(fd, &meta, sizeof(meta), 0) != sizeof(meta) ||
	    meta.magic != SIM_GNT_MAGIC || meta.owner != domid ||
	    meta.count > VCHAN_GNT_MAX_PAGES)
		err = ENOENT;
	else if (meta.peer != g->ctx.domid || (writable && !meta.writable))
		err = EPERM;
	else if (first + n > meta.count)
		err = ENOENT;
	else if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		err = ENOENT; /* nobody holds it: its owner is gone */
	else if ((pfd = open_pages(&meta, block, writable)) < 0)
		err = errno;
	else if (mmap(at, (size_t)n * VCHAN_PAGE_SIZE,
		      writable ? PROT_READ | PROT_WRITE : PROT_READ,
		      MAP_SHARED | MAP_FIXED, pfd,
		      (off_t)first * VCHAN_PAGE_SIZE) == MAP_FAILED)
		err = errno;
	close(fd);
	if (err != 0 && pfd >= 0)
		close(pfd);
	*pagefd = err == 0 ? pfd : -1;
	return err;
}

static void *sim_map(vchan_gnt *h, uint32_t peer, uint32_t count,
		     const uint32_t *refs, int writable,
		     const struct vchan_unmap_notify *notify)
{
	struct sim_gnt *g = to_sim(h);
	size_t len = (size_t)count * VCHAN_PAGE_SIZE;
	struct region *r = new_region(count);
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
				    base + (size_t)i * VCHAN_PAGE_SIZE,
				    &r->fds[r->nfds]);
		if (err == 0)
			r->nfds++;
	}
	r->addr = base;
	r->count = count;
	if (err == 0 &&
	    arm_notify(r, notify, peer, refs[0] >> 8, refs[0] & 0xff) < 0)
		err = errno;
	if (err != 0) {
		munmap(base, len);
		free_region(g, r);
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

	while (g->regions != NULL) {
		struct region *r = g->regions;

		g->regions = r->next;
		fire_notify(r, 1);
		free_region(g, r);
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
