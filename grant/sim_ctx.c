/* grant/sim_ctx.c - the simulation directory, shared by the sim backend's
 * grant and event channel halves. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
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
		f = openat(dirfd, n, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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

void sim_clear_byte(struct sim_ctx *c, const struct sim_rec *r)
{
	static const char zero;
	char name[64];
	int fd;

	if (r->offset >= VCHAN_PAGE_SIZE || r->page >= VCHAN_GNT_MAX_PAGES)
		return;
	snprintf(name, sizeof(name), "g.%u.%u", r->owner, r->block);
	fd = openat(c->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	/* The file is the pages themselves: a write here is seen through every
	 * mapping of it. */
	if (pwrite(fd, &zero, 1,
		   (off_t)(1 + r->page) * VCHAN_PAGE_SIZE + r->offset) != 1) {
		/* Nothing more to do: the share is gone or the disk is full. */
	}
	close(fd);
}
