/* tests/soak/soak.h - helpers shared by the soak tests: their size, the
 * file descriptor limit, and what a process holds (fds, memory). */
#ifndef VCHAN_SOAK_H
#define VCHAN_SOAK_H

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tests/testutil.h"

/* The size of a soak: `full` (the number) times
 * VCHAN_SOAK_SCALE, a factor ("1" is the full size, "0.1" a tenth), or
 * times `dflt` when it is not set; at least `min`. VCHAN_TEST_QUICK
 * (sanitizers, valgrind) caps the factor at a tenth of `dflt`. */
static inline long soak_n(long full, double dflt, long min)
{
	const char *s = getenv("VCHAN_SOAK_SCALE");
	double f = s != NULL && *s != '\0' ? strtod(s, NULL) : dflt;
	long n;

	if (!(f > 0.0) || f > 100.0)
		f = dflt;
	if (tu_quick() && f > dflt / 10)
		f = dflt / 10;
	n = (long)((double)full * f);
	return n < min ? min : n;
}

/* Raise the soft RLIMIT_NOFILE to the hard one and say what it is.
 * Returns the soft limit now in force. */
static inline long soak_nofile(const char *who)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return -1;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			getrlimit(RLIMIT_NOFILE, &r);
	}
	fprintf(stderr, "%s: RLIMIT_NOFILE soft %llu hard %llu\n", who,
		(unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
	return (long)r.rlim_cur;
}

/* Open file descriptors of this process (/proc/self/fd, less the one
 * used to read it). */
static inline long soak_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* Resident set size in KiB (/proc/self/status VmRSS), or -1. */
static inline long soak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* Bytes malloc has handed out and not had back (arenas and mmapped
 * chunks). Under a sanitizer, whose allocator is not malloc's, 0. */
static inline long soak_heap(void)
{
	struct mallinfo2 m = mallinfo2();

	return (long)(m.uordblks + m.hblkhd);
}

/* Entries left in the simulator directory (tu_sim_dir_entries); with a
 * real xenstored there (XENSTORED_PATH), the grants and ports of domains
 * other than 0, domain 0 being xenstored's. */
static inline int soak_sim_left(void)
{
	const char *dir = getenv("VCHAN_SIM_DIR");
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (getenv("XENSTORED_PATH") == NULL)
		return tu_sim_dir_entries();
	if (dir == NULL || (d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;

		if ((s[0] != 'e' && s[0] != 'g') || s[1] != '.' ||
		    strncmp(s + 2, "0.", 2) == 0)
			continue;
		fprintf(stderr, "left in the simulator directory: %s\n", s);
		n++;
	}
	closedir(d);
	return n;
}

struct soak_use {
	long fds, rss_kib, heap;
};

static inline void soak_measure(struct soak_use *u)
{
	u->fds = soak_fds();
	u->rss_kib = soak_rss_kib();
	u->heap = soak_heap();
}

static inline void soak_print(const char *who, const char *when,
			      const struct soak_use *u)
{
	fprintf(stderr, "%s: %s: %ld fds, VmRSS %ld KiB, heap in use %ld B\n",
		who, when, u->fds, u->rss_kib, u->heap);
}

#endif
