/* xenstore/embedded.h - the embedded store's handle, shared by its two
 * halves (internal to the library): embedded.c keeps the tree and its
 * permissions in files, embedded_watch.c watches them with inotify. */
#ifndef VCHAN_XS_EMBEDDED_H
#define VCHAN_XS_EMBEDDED_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstore/backend.h"

#define FS_MAX	  4096 /* a file system path: sim dir (<= 200) + store path */
#define APATH_MAX ((int)XS_ABS_PATH_MAX + 1)

struct watch {
	struct watch *next;
	uint64_t id;
	char *path; /* absolute */
	char *token;
	bool relative; /* report paths relative to the home, as given */
	bool exists;   /* the node existed when last armed */
};

struct event {
	struct event *next;
	uint64_t watch; /* watch id */
	char *path;	/* as reported */
	char *token;
};

/* One inotify watch descriptor and the store directory it watches. */
struct wdent {
	int wd;
	unsigned mark;
	char *path;
};

struct emb {
	vchan_xs base;
	uint32_t domid;
	int lockfd;
	/* The watch machinery, set up at the first watch or fd call: epfd is
	 * what the caller polls; it holds infd (store changes) and evfd
	 * (events already queued here, e.g. a watch's first one). */
	int epfd, infd, evfd;
	bool ev_set; /* evfd holds a count */
	struct watch *watches;
	uint64_t next_id;
	struct event *qhead, **qtail;
	size_t qlen;
	struct wdent *wds;
	size_t nwd, wdcap;
	unsigned mark;
	size_t homelen;
	char home[32];	   /* "/local/domain/<domid>" */
	char root[FS_MAX]; /* <sim dir>/xs */
};

static inline struct emb *to_emb(vchan_xs *xs)
{
	return (struct emb *)xs;
}

/* errno = err; returns -1. */
static inline int set_err(int err)
{
	errno = err;
	return -1;
}

/* embedded.c: store paths, and the lock. */

/* Absolute store path of a checked path (relative ones live in the home),
 * into out (APATH_MAX bytes). */
void emb_abs_path(const struct emb *e, const char *path, char *out);

/* File system path of store path `apath`, with `suffix` appended, into out
 * (FS_MAX bytes). Returns 0 or -1 + ENAMETOOLONG. */
int emb_fs_path(const struct emb *e, const char *apath, const char *suffix,
		char *out);

/* Store path `parent` + "/" + `name` into out (APATH_MAX bytes). Returns 0
 * or -1 + ENAMETOOLONG. */
int emb_join(const char *parent, const char *name, char *out);

/* Is store path p `base` or below it? */
bool emb_is_under(const char *p, const char *base);

/* Cut the last component: "/a/b" -> "/a", "/a" -> "/". */
void emb_parent_of(char *apath);

/* 1 when the node at file system path fs exists, 0 when not, -1 + errno. */
int emb_node_at(const char *fs);

/* The same for store path apath. */
int emb_node_exists(const struct emb *e, const char *apath);

/* flock the store with `op` (LOCK_SH, LOCK_EX): 0 or -1 + errno. */
int emb_lock(struct emb *e, int op);

/* Release the lock (errno kept). */
void emb_unlock(struct emb *e);

/* embedded_watch.c: the xs_ops of watches, and their teardown. */
int emb_watch(vchan_xs *xs, const char *path, const char *token);
int emb_unwatch(vchan_xs *xs, const char *path, const char *token);
int emb_fd(vchan_xs *xs);
int emb_read_watch(vchan_xs *xs, char **path, char **token);

/* Free every watch, queued event and inotify watch, and close the watch
 * descriptors (for emb_close). */
void emb_watch_close(struct emb *e);

#endif
