/* grant/sim_ctx.c - the simulation directory, shared by the sim backend's
 * grant and event channel halves. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/env.h"
#include "grant/sim.h"

/* Remove the files of holders that died long ago. Recent ones are kept: a
 * survivor may still need a dead holder's records and pages to apply its
 * unmap notifications. */
static void sweep(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t now = time(NULL);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		struct stat st, cur;
		char sock[300];
		int f;

		if ((strncmp(n, "g.", 2) != 0 && strncmp(n, "e.", 2) != 0) ||
		    (len > 5 && strcmp(n + len - 5, ".sock") == 0))
			continue;
		if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < SIM_STALE_SECONDS)
			continue;
		f = openat(dirfd, n,
			   O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (f < 0)
			continue;
		/* An exclusive lock succeeds only when no holder is left. */
		if (flock(f, LOCK_EX | LOCK_NB) == 0 && fstat(f, &cur) == 0 &&
		    fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    cur.st_ino == st.st_ino) {
			unlinkat(dirfd, n, 0);
			snprintf(sock, sizeof(sock), "%s.sock", n);
			unlinkat(dirfd, sock, 0);
		}
		close(f);
	}
	closedir(d);
}

int sim_ctx_open(struct sim_ctx *c)
{
	char dir[512];

	c->dirfd = -1;
	if (vchan_env_domid(&c->domid) < 0 ||
	    vchan_env_sim_dir(dir, sizeof(dir)) < 0)
		return -1;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return -1;
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng))
		c->rng = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	c->rng |= 1;
	/* A sweep reads the whole directory, which holds some four files
	 * per channel: at every open, a process with many channels would
	 * spend time quadratic in their number. The files it removes are
	 * of holders dead for SIM_STALE_SECONDS; any later open may as well
	 * remove them. */
	if (sim_random(c, SIM_SWEEP_ONE_IN + 1) == 1)
		sweep(c->dirfd);
	return 0;
}

void sim_ctx_close(struct sim_ctx *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
}

uint32_t sim_random(struct sim_ctx *c, uint32_t limit)
{
	/* xorshift64*: plenty for picking names. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return 1 + (uint32_t)((c->rng * 2685821657736338717ull >> 32) %
			      (limit - 1));
}

int sim_claim(struct sim_ctx *c, const char *name, int lock_op)
{
	int fd =
	    openat(c->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	/* Blocking: a sweeper testing the fresh file holds it for a moment at
	 * most, and it leaves files younger than SIM_STALE_SECONDS alone. */
	if (flock(fd, lock_op) < 0) {
		int e = errno;

		unlinkat(c->dirfd, name, 0);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void sim_clear_byte(const struct sim_rec *r)
{
	static const char zero;
	char want[96], link[128];
	struct dirent *de;
	DIR *d;

	if (r->offset >= VCHAN_PAGE_SIZE || r->page >= VCHAN_GNT_MAX_PAGES)
		return;
	snprintf(want, sizeof(want), "/memfd:" SIM_GNT_MEMFD " (deleted)",
		 r->owner, r->block);
	/* The share's owner may be the one that died, taking its fd and the
	 * way to the memfd through /proc with it: the survivor's own fd is
	 * the one sure to be there. Only memfds this process checked at map
	 * time (sim_gnt.c) or made itself carry such a name. */
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		ssize_t n =
		    readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		int fd;

		if (n < 0 || (size_t)n != strlen(want) ||
		    memcmp(link, want, (size_t)n) != 0)
			continue;
		/* A new open file: ours may be read-only. The file is the
		 * pages themselves, so the write is seen through every
		 * mapping of them. */
		fd = openat(dirfd(d), de->d_name,
			    O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			continue;
		if (pwrite(fd, &zero, 1,
			   (off_t)r->page * VCHAN_PAGE_SIZE + r->offset) != 1) {
			/* The page is not there (the owner's share was
			 * smaller): nothing to clear. */
		}
		close(fd);
		break;
	}
	closedir(d);
}

int sim_new_pages(const char *name, off_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -1;
	/* A fresh memfd reads as zeros. Sealed before anyone else can see
	 * it; F_SEAL_SEAL keeps others from adding seals of their own (with
	 * F_SEAL_FUTURE_WRITE a peer could refuse every later writable
	 * mapping of the pages, and the byte clears of unmap notices). */
	if (ftruncate(fd, size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) <
		0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int sim_check_pages(int fd, off_t size)
{
	struct statfs fs;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Checked once: a seal cannot be removed, so what holds now holds
	 * for as long as anyone maps the file. */
	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < size || fstatfs(fd, &fs) < 0 ||
	    fs.f_type != TMPFS_MAGIC) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}
