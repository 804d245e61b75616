/* xenstore/embedded.c - the store of the simulator: XenStore's tree,
 * permissions and watches kept in files, shared by every process of one
 * simulation without a daemon.
 *
 * Layout, under <sim dir>/xs (the node "/"):
 *   <node>/           a node is a directory named as the node;
 *   <node>/.v         its value;
 *   <node>/.p         its permissions, in XenStore's text form ("n5,r7");
 *   .lock             flock: exclusive for writers, shared for readers, so
 *                     a publish is seen whole or not at all;
 *   .stage, .trash    scratch for the one writer holding the lock.
 * Node names never contain '.', so the dot-files never collide with nodes.
 * Every change is a rename: a file is written aside and renamed over .v or
 * .p; a new node (with whatever lies under it) is built in .stage and
 * renamed into the tree; a removed subtree is renamed to .trash and then
 * deleted. A writer killed half-way thus leaves no torn node; whatever it
 * left in .stage/.trash is cleared by the next writer.
 *
 * Watches use inotify, one instance per handle: every directory of a
 * watched subtree is watched, or the deepest existing ancestor when the
 * watched node does not exist yet; the set is re-armed under the shared
 * lock whenever directories come or go. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/env.h"
#include "xenstore/backend.h"

#define FS_MAX	   4096 /* a file system path: sim dir (<= 200) + store path */
#define APATH_MAX  ((int)XS_ABS_PATH_MAX + 1)
#define PERMS_MAX  32 /* entries in one node's list */
#define PERMS_TEXT (PERMS_MAX * 12)
#define QUEUE_MAX  1024 /* pending events before they coalesce per watch */

#define ACC_READ  1u
#define ACC_WRITE 2u

#define IN_MASK                                                                \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |                 \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

struct perm {
	uint32_t id;
	unsigned acc;
};

/* p[0] is the owner and the access of domains not listed after it. */
struct perms {
	unsigned n;
	struct perm p[PERMS_MAX];
};

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

static struct emb *to_emb(vchan_xs *xs)
{
	return (struct emb *)xs;
}

static int set_err(int err)
{
	errno = err;
	return -1;
}

/* ---- paths ---- */

/* Absolute store path of a checked path (relative ones live in the home). */
static void abs_path(const struct emb *e, const char *path, char *out)
{
	if (path[0] == '/')
		snprintf(out, APATH_MAX, "%s", path);
	else
		snprintf(out, APATH_MAX, "%s/%s", e->home, path);
}

/* File system path of store path `apath`, with `suffix` appended. */
static int fs_path(const struct emb *e, const char *apath, const char *suffix,
		   char *out)
{
	int n = snprintf(out, FS_MAX, "%s%s%s", e->root,
			 strcmp(apath, "/") == 0 ? "" : apath, suffix);

	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	return 0;
}

/* Store path `parent` + "/" + `name` into out (APATH_MAX bytes). */
static int join(const char *parent, const char *name, char *out)
{
	int n = snprintf(out, APATH_MAX, "%s/%s",
			 strcmp(parent, "/") == 0 ? "" : parent, name);

	if (n < 0 || n >= APATH_MAX)
		return set_err(ENAMETOOLONG);
	return 0;
}

/* Is store path p `base` or below it? */
static bool is_under(const char *p, const char *base)
{
	size_t n = strlen(base);

	if (strcmp(base, "/") == 0)
		return true;
	return strncmp(p, base, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* Cut the last component: "/a/b" -> "/a", "/a" -> "/". */
static void parent_of(char *apath)
{
	char *slash = strrchr(apath, '/');

	if (slash == apath)
		slash[1] = '\0';
	else
		*slash = '\0';
}

/* 1 when the node at file system path fs exists, 0 when not, -1 + errno. */
static int node_at(const char *fs)
{
	struct stat st;

	if (lstat(fs, &st) == 0)
		return S_ISDIR(st.st_mode) ? 1 : 0;
	/* A name longer than the file system takes cannot have been made. */
	if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
		return 0;
	return -1;
}

static int node_exists(const struct emb *e, const char *apath)
{
	char fs[FS_MAX];

	if (fs_path(e, apath, "", fs) < 0)
		return -1;
	return node_at(fs);
}

/* ---- files ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf of fs; missing is fine. */
static int rm_tree(const char *fs)
{
	struct stat st;

	if (lstat(fs, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	/* Depth first, not following links, at most 16 directories open. */
	return nftw(fs, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Clear scratch on a failure path: errno stays the failure's. */
static void rm_scratch(const char *fs)
{
	int err = errno;

	rm_tree(fs);
	errno = err;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace file dir/name with data in one rename, so readers (and a crash)
 * see the old or the new content, never a torn one. */
static int put_file(const char *dir, const char *name, const char *data,
		    size_t len)
{
	char tmp[FS_MAX], dst[FS_MAX];
	int fd, n, err;

	n = snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	n = snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0) {
		err = errno;
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		err = errno;
		goto out;
	}
	if (rename(tmp, dst) == 0)
		return 0;
	err = errno;
out:
	unlink(tmp);
	return set_err(err);
}

/* Read file fs (at most max bytes) into a malloc'd NUL-terminated buffer.
 * NULL + errno; EIO when the file is larger than max. */
static char *get_file(const char *fs, size_t max, size_t *len)
{
	char *buf = malloc(max + 2);
	size_t got = 0;
	int fd, err;

	if (buf == NULL)
		return NULL;
	fd = open(fs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		goto fail;
	/* One byte more than allowed tells an oversized file. */
	while (got < max + 1) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			close(fd);
			errno = err;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > max) {
		errno = EIO;
		goto fail;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
fail:
	err = errno;
	free(buf);
	errno = err;
	return NULL;
}

/* ---- permissions ---- */

static const char acc_letter[4] = {'n', 'r', 'w', 'b'};

static void perms_encode(const struct perms *p, char *out)
{
	size_t off = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < p->n; i++)
		off += (size_t)snprintf(
		    out + off, PERMS_TEXT - off, "%s%c%u", i ? "," : "",
		    acc_letter[p->p[i].acc & 3], (unsigned)p->p[i].id);
}

/* Parse "n5,r7"; false when malformed. */
static bool perms_decode(const char *s, struct perms *p)
{
	p->n = 0;
	while (*s != '\0') {
		const char *l = memchr(acc_letter, *s, sizeof(acc_letter));
		unsigned long id;
		char *end;

		if (l == NULL || s[1] < '0' || s[1] > '9' || p->n == PERMS_MAX)
			return false;
		errno = 0;
		id = strtoul(s + 1, &end, 10);
		if (errno != 0 || id > UINT16_MAX ||
		    (*end != ',' && *end != '\0'))
			return false;
		p->p[p->n].acc = (unsigned)(l - acc_letter);
		p->p[p->n].id = (uint32_t)id;
		p->n++;
		s = *end == ',' ? end + 1 : end;
	}
	return p->n > 0;
}

/* The node's permissions. A missing or damaged list reads as
 * {owner 0, others none}: only domain 0 may touch such a node. */
static int perms_load(const struct emb *e, const char *apath, struct perms *p)
{
	char fs[FS_MAX];
	size_t len;
	char *s;
	bool ok;

	if (fs_path(e, apath, "/.p", fs) < 0)
		return -1;
	s = get_file(fs, PERMS_TEXT, &len);
	if (s == NULL && errno != ENOENT && errno != EIO)
		return -1;
	ok = s != NULL && strlen(s) == len && perms_decode(s, p);
	free(s);
	if (!ok) {
		p->n = 1;
		p->p[0].id = 0;
		p->p[0].acc = 0;
	}
	return 0;
}

/* XenStore's rule: domain 0 and the owner may do anything; others get
 * their own entry, else the default in p[0]. */
static unsigned perms_for(const struct perms *p, uint32_t domid)
{
	if (domid == 0 || p->p[0].id == domid)
		return ACC_READ | ACC_WRITE;
	for (unsigned i = 1; i < p->n; i++)
		if (p->p[i].id == domid)
			return p->p[i].acc;
	return p->p[0].acc;
}

static bool may_set_perms(const struct perms *p, uint32_t domid)
{
	return domid == 0 || p->p[0].id == domid;
}

/* ---- writing nodes (exclusive lock held) ---- */

static int lock(struct emb *e, int op)
{
	while (flock(e->lockfd, op) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void unlock(struct emb *e)
{
	int err = errno;

	flock(e->lockfd, LOCK_UN);
	errno = err;
}

static int scratch(const struct emb *e, const char *name, char *out)
{
	int n = snprintf(out, FS_MAX, "%s/%s", e->root, name);

	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	return 0;
}

/* Take the writer's lock and clear what a killed writer left. */
static int lock_write(struct emb *e)
{
	char fs[FS_MAX];

	if (lock(e, LOCK_EX) < 0)
		return -1;
	if (scratch(e, ".stage", fs) < 0 || rm_tree(fs) < 0 ||
	    scratch(e, ".trash", fs) < 0 || rm_tree(fs) < 0) {
		unlock(e);
		return -1;
	}
	return 0;
}

/* Set a node's value and permissions in place (each in one rename). The
 * permissions are rewritten only when they change: that saves a rename per
 * node when a publish is repeated, and watchers a spurious event. */
static int node_put(const char *fs, const struct perms *p, const char *val)
{
	char text[PERMS_TEXT], pfs[FS_MAX], *old;
	size_t len;
	bool same;
	int n;

	perms_encode(p, text);
	n = snprintf(pfs, sizeof(pfs), "%s/.p", fs);
	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	old = get_file(pfs, PERMS_TEXT, &len);
	if (old == NULL && errno != ENOENT && errno != EIO)
		return -1;
	same = old != NULL && strcmp(old, text) == 0;
	free(old);
	if (!same && put_file(fs, ".p", text, strlen(text)) < 0)
		return -1;
	return put_file(fs, ".v", val, strlen(val));
}

/* Make a node directory at fs (outside the tree, in .stage). */
static int node_make(const char *fs, const struct perms *p, const char *val)
{
	if (mkdir(fs, 0700) < 0)
		return -1;
	return node_put(fs, p, val);
}

/* Create the node apath, whose parent exists, in one rename. */
static int node_create(const struct emb *e, const char *apath,
		       const struct perms *p, const char *val)
{
	char stage[FS_MAX], fs[FS_MAX];

	if (scratch(e, ".stage", stage) < 0 || fs_path(e, apath, "", fs) < 0)
		return -1;
	if (node_make(stage, p, val) < 0 || rename(stage, fs) < 0) {
		rm_scratch(stage);
		return -1;
	}
	return 0;
}

/* Create apath with these permissions and value unless it exists. */
static int node_ensure(const struct emb *e, const char *apath,
		       const char *ptext, const char *val)
{
	struct perms p;
	int ex = node_exists(e, apath);

	if (ex != 0)
		return ex;
	if (!perms_decode(ptext, &p))
		return set_err(EINVAL);
	return node_create(e, apath, &p, val);
}

/* The publish permissions: {self, none} + {peer, read}. */
static void publish_perms(const struct emb *e, uint32_t peer, struct perms *p)
{
	p->n = 2;
	p->p[0].id = e->domid;
	p->p[0].acc = 0;
	p->p[1].id = peer;
	p->p[1].acc = ACC_READ;
}

/* Publish into an existing directory: all checks first, so a refusal
 * changes nothing. */
static int publish_existing(struct emb *e, const char *adir,
			    const struct vchan_xs_kv *kv, size_t n,
			    const struct perms *pub)
{
	char akey[APATH_MAX], fs[FS_MAX];
	struct perms p;

	if (perms_load(e, adir, &p) < 0)
		return -1;
	if (!may_set_perms(&p, e->domid))
		return set_err(EACCES);
	for (size_t i = 0; i < n; i++) {
		int ex;

		if (join(adir, kv[i].key, akey) < 0)
			return -1;
		ex = node_exists(e, akey);
		if (ex < 0)
			return -1;
		if (ex == 0)
			continue;
		if (perms_load(e, akey, &p) < 0)
			return -1;
		if (!may_set_perms(&p, e->domid))
			return set_err(EACCES);
	}
	if (fs_path(e, adir, "", fs) < 0 || node_put(fs, pub, "") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int ex;

		if (join(adir, kv[i].key, akey) < 0)
			return -1;
		ex = node_exists(e, akey);
		if (ex < 0)
			return -1;
		if (ex == 0) {
			if (node_create(e, akey, pub, kv[i].value) < 0)
				return -1;
			continue;
		}
		if (fs_path(e, akey, "", fs) < 0 ||
		    node_put(fs, pub, kv[i].value) < 0)
			return -1;
	}
	return 0;
}

/* Publish where the directory does not exist yet: the missing nodes down
 * to it and its keys are built in .stage and appear in one rename. As in
 * xenstored, the nodes created on the way inherit the permissions of the
 * existing ancestor, the owner becoming the creating (unprivileged)
 * domain; the creator needs write access to that ancestor. */
static int publish_new(struct emb *e, const char *adir,
		       const struct vchan_xs_kv *kv, size_t n,
		       const struct perms *pub)
{
	char anc[APATH_MAX], atop[APATH_MAX], fs[FS_MAX], stage[FS_MAX],
	    top[FS_MAX];
	struct perms inherit;
	size_t slen, alen;
	const char *rest;
	int ex;

	snprintf(anc, sizeof(anc), "%s", adir);
	do {
		parent_of(anc);
		ex = node_exists(e, anc);
		if (ex < 0)
			return -1;
	} while (ex == 0 && strcmp(anc, "/") != 0);
	if (ex == 0)
		return set_err(EIO); /* the root is always there */
	if (perms_load(e, anc, &inherit) < 0)
		return -1;
	if (!(perms_for(&inherit, e->domid) & ACC_WRITE))
		return set_err(EACCES);
	if (e->domid != 0)
		inherit.p[0].id = e->domid;

	/* rest: the missing components, "a/b/c" of adir = anc + "/a/b/c";
	 * the first of them is the node renamed into the tree. */
	alen = strcmp(anc, "/") == 0 ? 0 : strlen(anc);
	rest = adir + alen + 1;
	snprintf(atop, sizeof(atop), "%.*s",
		 (int)(alen + 1 + strcspn(rest, "/")), adir);
	if (scratch(e, ".stage", stage) < 0 || fs_path(e, atop, "", top) < 0)
		return -1;
	slen = strlen(stage);
	snprintf(fs, sizeof(fs), "%s", stage);
	for (const char *c = rest;;) {
		size_t cl = strcspn(c, "/");
		bool last = c[cl] == '\0';

		if (node_make(fs, last ? pub : &inherit, "") < 0)
			goto fail;
		if (last)
			break;
		c += cl + 1;
		cl = strcspn(c, "/");
		if (slen + 1 + cl >= FS_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		fs[slen] = '/';
		memcpy(fs + slen + 1, c, cl);
		slen += 1 + cl;
		fs[slen] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		char kfs[FS_MAX];
		int k = snprintf(kfs, sizeof(kfs), "%s/%s", fs, kv[i].key);

		if (k < 0 || k >= FS_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		/* A key given twice: the last value wins, as in sequence. */
		ex = node_at(kfs);
		if (ex < 0 || (ex == 0 ? node_make(kfs, pub, kv[i].value)
				       : node_put(kfs, pub, kv[i].value)) < 0)
			goto fail;
	}
	if (rename(stage, top) < 0)
		goto fail;
	return 0;
fail:
	rm_scratch(stage);
	return -1;
}

static int emb_publish(vchan_xs *xs, const char *dir,
		       const struct vchan_xs_kv *kv, size_t n, uint32_t peer)
{
	struct emb *e = to_emb(xs);
	char adir[APATH_MAX];
	struct perms pub;
	int ex, rc;

	abs_path(e, dir, adir);
	publish_perms(e, peer, &pub);
	if (lock_write(e) < 0)
		return -1;
	ex = node_exists(e, adir);
	if (ex < 0)
		rc = -1;
	else if (ex)
		rc = publish_existing(e, adir, kv, n, &pub);
	else
		rc = publish_new(e, adir, kv, n, &pub);
	unlock(e);
	return rc;
}

static char *emb_read(vchan_xs *xs, const char *path, size_t *len)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX], fs[FS_MAX];
	struct perms p;
	char *val = NULL;
	size_t n = 0;
	int ex;

	abs_path(e, path, apath);
	if (fs_path(e, apath, "/.v", fs) < 0 || lock(e, LOCK_SH) < 0)
		return NULL;
	ex = node_exists(e, apath);
	if (ex == 0)
		errno = ENOENT;
	if (ex <= 0 || perms_load(e, apath, &p) < 0)
		goto out;
	if (!(perms_for(&p, e->domid) & ACC_READ)) {
		errno = EACCES;
		goto out;
	}
	val = get_file(fs, XS_VALUE_MAX, &n);
	/* A node made without a value reads as the empty string. */
	if (val == NULL && errno == ENOENT)
		val = strdup("");
	if (val != NULL && len != NULL)
		*len = n;
out:
	unlock(e);
	return val;
}

static int emb_rm(vchan_xs *xs, const char *path)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX], fs[FS_MAX], trash[FS_MAX];
	struct perms p;
	int ex, rc = -1;

	abs_path(e, path, apath);
	/* As xenstored: the root cannot be removed. */
	if (strcmp(apath, "/") == 0)
		return set_err(EINVAL);
	if (fs_path(e, apath, "", fs) < 0 || scratch(e, ".trash", trash) < 0 ||
	    lock_write(e) < 0)
		return -1;
	ex = node_at(fs);
	if (ex <= 0) {
		rc = ex;
		goto out;
	}
	if (perms_load(e, apath, &p) < 0)
		goto out;
	if (!(perms_for(&p, e->domid) & ACC_WRITE)) {
		errno = EACCES;
		goto out;
	}
	if (rename(fs, trash) < 0)
		goto out;
	rc = 0;
	/* The node is gone; what is left in .trash the next writer clears. */
	rm_tree(trash);
out:
	unlock(e);
	return rc;
}

static int emb_domid(vchan_xs *xs)
{
	return (int)to_emb(xs)->domid;
}

/* ---- watches ---- */

static void event_free(struct event *ev)
{
	free(ev->path);
	free(ev->token);
	free(ev);
}

static void watch_free(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

/* Close the watch descriptors (errno kept). */
static void watch_fini(struct emb *e)
{
	int err = errno;

	if (e->epfd >= 0)
		close(e->epfd);
	if (e->evfd >= 0)
		close(e->evfd);
	if (e->infd >= 0)
		close(e->infd);
	e->epfd = e->evfd = e->infd = -1;
	errno = err;
}

static int watch_init(struct emb *e)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (e->epfd >= 0)
		return 0;
	e->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->infd < 0) {
		/* EMFILE is also this user's inotify instances used up
		 * (fs.inotify.max_user_instances, 128 by default), with
		 * descriptors to spare: say which. */
		int fd =
		    errno == EMFILE ? fcntl(e->lockfd, F_DUPFD_CLOEXEC, 0) : -1;

		if (fd >= 0) {
			close(fd);
			errno = EUSERS;
		}
		goto fail;
	}
	e->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->evfd < 0)
		goto fail;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		goto fail;
	ev.data.fd = e->infd;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->infd, &ev) < 0)
		goto fail;
	ev.data.fd = e->evfd;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev) < 0)
		goto fail;
	return 0;
fail:
	watch_fini(e);
	return -1;
}

/* Keep evfd readable exactly while events are queued. */
static void evfd_sync(struct emb *e)
{
	uint64_t v = 1;

	if (e->qlen > 0 && !e->ev_set) {
		if (write(e->evfd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			e->ev_set = true;
	} else if (e->qlen == 0 && e->ev_set) {
		if (read(e->evfd, &v, sizeof(v)) == (ssize_t)sizeof(v) ||
		    errno == EAGAIN)
			e->ev_set = false;
	}
}

/* Queue an event of watch w for store path apath (w->path or below it),
 * unless the same one is pending. Past QUEUE_MAX events coalesce into one
 * per watch, on the watched path. */
static int queue_event(struct emb *e, const struct watch *w, const char *apath)
{
	struct event *ev;
	const char *rep;

	if (e->qlen >= QUEUE_MAX)
		apath = w->path;
	rep = w->relative ? apath + e->homelen + 1 : apath;
	for (ev = e->qhead; ev != NULL; ev = ev->next)
		if (ev->watch == w->id && strcmp(ev->path, rep) == 0)
			return 0;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -1;
	ev->watch = w->id;
	ev->path = strdup(rep);
	ev->token = strdup(w->token);
	if (ev->path == NULL || ev->token == NULL) {
		event_free(ev);
		return set_err(ENOMEM);
	}
	*e->qtail = ev;
	e->qtail = &ev->next;
	e->qlen++;
	evfd_sync(e);
	return 0;
}

static struct wdent *wd_find(struct emb *e, int wd)
{
	for (size_t i = 0; i < e->nwd; i++)
		if (e->wds[i].wd == wd)
			return &e->wds[i];
	return NULL;
}

static void wd_drop(struct emb *e, struct wdent *ent, bool rm)
{
	if (rm)
		inotify_rm_watch(e->infd, ent->wd);
	free(ent->path);
	*ent = e->wds[--e->nwd];
}

/* Watch the directory of store path apath (which exists: lock held). */
static int wd_add(struct emb *e, const char *apath)
{
	char fs[FS_MAX];
	struct wdent *ent;
	int wd;

	if (fs_path(e, apath, "", fs) < 0)
		return -1;
	wd = inotify_add_watch(e->infd, fs, IN_MASK);
	if (wd < 0)
		return -1;
	ent = wd_find(e, wd);
	if (ent == NULL) {
		char *copy = strdup(apath);

		if (copy == NULL)
			return -1;
		if (e->nwd == e->wdcap) {
			size_t cap = e->wdcap ? e->wdcap * 2 : 16;
			struct wdent *n = realloc(e->wds, cap * sizeof(*n));

			if (n == NULL) {
				free(copy);
				return -1;
			}
			e->wds = n;
			e->wdcap = cap;
		}
		ent = &e->wds[e->nwd++];
		ent->wd = wd;
		ent->path = copy;
	}
	ent->mark = e->mark;
	return 0;
}

/* Watch every directory of the subtree at apath (a buffer of APATH_MAX,
 * restored on return). Names starting with '.' are not nodes. */
static int wd_add_tree(struct emb *e, char *apath)
{
	char fs[FS_MAX], **names = NULL;
	size_t n = 0, cap = 0, len = strlen(apath);
	struct dirent *d;
	int rc = -1;
	DIR *dir;

	if (wd_add(e, apath) < 0 || fs_path(e, apath, "", fs) < 0)
		return -1;
	/* Collect the children first: one directory open at a time however
	 * deep the tree. */
	dir = opendir(fs);
	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (d->d_type != DT_DIR && d->d_type != DT_UNKNOWN)
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 8;
			char **nn = realloc(names, c * sizeof(*nn));

			if (nn == NULL)
				goto out;
			names = nn;
			cap = c;
		}
		names[n] = strdup(d->d_name);
		if (names[n] == NULL)
			goto out;
		n++;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int ex;

		size_t at = strcmp(apath, "/") == 0 ? 0 : len;

		if (at + 1 + strlen(names[i]) >= (size_t)APATH_MAX)
			continue; /* too long to be a node */
		apath[at] = '/';
		strcpy(apath + at + 1, names[i]);
		if (fs_path(e, apath, "", fs) < 0)
			rc = -1;
		else if ((ex = node_at(fs)) < 0)
			rc = -1;
		else if (ex > 0)
			rc = wd_add_tree(e, apath);
		apath[len] = '\0';
	}
out:
	closedir(dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* (Re)arm watch w (shared lock held): its subtree when the node exists,
 * else its deepest existing ancestor. When `fire`, a change of existence
 * since the last arming is an event (nodes appearing or going away with an
 * ancestor). */
static int watch_arm(struct emb *e, struct watch *w, bool fire)
{
	char apath[APATH_MAX];
	int ex;

	snprintf(apath, sizeof(apath), "%s", w->path);
	ex = node_exists(e, apath);
	if (ex < 0)
		return -1;
	if (ex) {
		if (wd_add_tree(e, apath) < 0)
			return -1;
	} else {
		do {
			parent_of(apath);
			ex = node_exists(e, apath);
			if (ex < 0)
				return -1;
		} while (ex == 0 && strcmp(apath, "/") != 0);
		if (wd_add(e, apath) < 0)
			return -1;
		ex = 0;
	}
	if (fire && w->exists != (ex > 0) && queue_event(e, w, w->path) < 0)
		return -1;
	w->exists = ex > 0;
	return 0;
}

/* Re-arm every watch and drop the inotify watches none needs now. */
static int rearm_all(struct emb *e)
{
	if (lock(e, LOCK_SH) < 0)
		return -1;
	e->mark++;
	for (struct watch *w = e->watches; w != NULL; w = w->next) {
		if (watch_arm(e, w, true) < 0) {
			/* Keep every descriptor: extra ones only wake up. */
			unlock(e);
			return -1;
		}
	}
	for (size_t i = 0; i < e->nwd;) {
		if (e->wds[i].mark != e->mark)
			wd_drop(e, &e->wds[i], true);
		else
			i++;
	}
	unlock(e);
	return 0;
}

/* Queue events for a change at apath; *related when some watch covers it
 * or lies below it (so the set of watched directories may need to move). */
static int changed(struct emb *e, const char *apath, bool *related)
{
	for (struct watch *w = e->watches; w != NULL; w = w->next) {
		if (is_under(apath, w->path)) {
			*related = true;
			if (queue_event(e, w, apath) < 0)
				return -1;
		} else if (is_under(w->path, apath)) {
			*related = true;
		}
	}
	return 0;
}

static int handle_event(struct emb *e, const struct inotify_event *ev,
			bool *rearm)
{
	char apath[APATH_MAX];
	struct wdent *ent;
	const char *name;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* Lost events: everything may have changed. */
		*rearm = true;
		for (struct watch *w = e->watches; w != NULL; w = w->next)
			if (queue_event(e, w, w->path) < 0)
				return -1;
		return 0;
	}
	ent = wd_find(e, ev->wd);
	if (ent == NULL)
		return 0; /* dropped already; its last events trail behind */
	if (ev->mask & IN_IGNORED) {
		wd_drop(e, ent, false);
		return 0;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* The directory left the tree (to .trash): so did everything
		 * watched below it. */
		snprintf(apath, sizeof(apath), "%s", ent->path);
		for (size_t i = 0; i < e->nwd;) {
			if (is_under(e->wds[i].path, apath))
				wd_drop(e, &e->wds[i], true);
			else
				i++;
		}
		*rearm = true;
		return changed(e, apath, rearm);
	}
	name = ev->len > 0 ? ev->name : "";
	if (name[0] == '.') {
		/* .v or .p replaced: the node's value or permissions changed;
		 * .tmp, .lock, .stage and .trash are not store contents. */
		if (strcmp(name, ".v") != 0 && strcmp(name, ".p") != 0)
			return 0;
		return changed(e, ent->path, &(bool){false});
	}
	if (!(ev->mask & IN_ISDIR) || name[0] == '\0')
		return 0;
	if (join(ent->path, name, apath) < 0)
		return 0;
	return changed(e, apath, rearm);
}

static int drain_inotify(struct emb *e)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool rearm = false;

	for (;;) {
		ssize_t n = read(e->infd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return n == 0 ? set_err(EIO) : -1;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (handle_event(e, ev, &rearm) < 0)
				return -1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return rearm ? rearm_all(e) : 0;
}

static struct watch *watch_find(struct emb *e, const char *apath,
				const char *token, struct watch ***link)
{
	for (struct watch **pw = &e->watches; *pw != NULL; pw = &(*pw)->next) {
		if (strcmp((*pw)->path, apath) == 0 &&
		    strcmp((*pw)->token, token) == 0) {
			if (link != NULL)
				*link = pw;
			return *pw;
		}
	}
	return NULL;
}

static int emb_watch(vchan_xs *xs, const char *path, const char *token)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX];
	struct watch *w, **pw;
	int err;

	abs_path(e, path, apath);
	if (watch_find(e, apath, token, NULL) != NULL)
		return set_err(EEXIST);
	if (watch_init(e) < 0)
		return -1;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	w->path = strdup(apath);
	w->token = strdup(token);
	if (w->path == NULL || w->token == NULL) {
		watch_free(w);
		return set_err(ENOMEM);
	}
	w->relative = path[0] != '/';
	w->id = ++e->next_id;
	if (lock(e, LOCK_SH) < 0)
		goto fail;
	if (watch_arm(e, w, false) < 0) {
		unlock(e);
		goto fail;
	}
	unlock(e);
	/* XenStore fires every new watch once, on the watched path. */
	if (queue_event(e, w, w->path) < 0)
		goto fail;
	for (pw = &e->watches; *pw != NULL; pw = &(*pw)->next)
		;
	*pw = w;
	return 0;
fail:
	err = errno;
	watch_free(w);
	/* Descriptors armed for it stay until the next re-arm: harmless. */
	return set_err(err);
}

static int emb_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX];
	struct watch *w, **link;

	abs_path(e, path, apath);
	w = watch_find(e, apath, token, &link);
	if (w == NULL)
		return set_err(ENOENT);
	*link = w->next;
	/* Its pending events go with it. */
	for (struct event **pe = &e->qhead; *pe != NULL;) {
		struct event *ev = *pe;

		if (ev->watch != w->id) {
			pe = &ev->next;
			continue;
		}
		*pe = ev->next;
		event_free(ev);
		e->qlen--;
	}
	e->qtail = &e->qhead;
	while (*e->qtail != NULL)
		e->qtail = &(*e->qtail)->next;
	evfd_sync(e);
	watch_free(w);
	/* Release the descriptors only it needed; failing that they stay,
	 * which costs spurious wake-ups, not correctness. */
	rearm_all(e);
	return 0;
}

static int emb_fd(vchan_xs *xs)
{
	struct emb *e = to_emb(xs);

	if (watch_init(e) < 0)
		return -1;
	return e->epfd;
}

static int emb_read_watch(vchan_xs *xs, char **path, char **token)
{
	struct emb *e = to_emb(xs);
	struct event *ev;

	if (e->infd < 0)
		return 0;
	if (drain_inotify(e) < 0)
		return -1;
	ev = e->qhead;
	if (ev == NULL) {
		evfd_sync(e);
		return 0;
	}
	e->qhead = ev->next;
	if (e->qhead == NULL)
		e->qtail = &e->qhead;
	e->qlen--;
	evfd_sync(e);
	*path = ev->path;
	*token = ev->token;
	free(ev);
	return 1;
}

/* ---- open / close ---- */

static void emb_close(vchan_xs *xs)
{
	struct emb *e = to_emb(xs);

	while (e->watches != NULL) {
		struct watch *w = e->watches;

		e->watches = w->next;
		watch_free(w);
	}
	while (e->qhead != NULL) {
		struct event *ev = e->qhead;

		e->qhead = ev->next;
		event_free(ev);
	}
	for (size_t i = 0; i < e->nwd; i++)
		free(e->wds[i].path);
	free(e->wds);
	watch_fini(e);
	if (e->lockfd >= 0)
		close(e->lockfd);
	free(e);
}

/* The store's skeleton and this domain's home, laid out as Xen's toolstack
 * does when it creates a domain: the home and its "domid" key belong to
 * domain 0 and are readable by the domain, which may write under "data". */
static int layout(struct emb *e)
{
	char fs[FS_MAX], path[APATH_MAX], ro[PERMS_TEXT], rw[PERMS_TEXT],
	    id[16];

	/* The root's own value and permissions, once. */
	if (fs_path(e, "/", "/.p", fs) < 0)
		return -1;
	if (access(fs, F_OK) < 0) {
		if (errno != ENOENT || fs_path(e, "/", "", fs) < 0 ||
		    put_file(fs, ".v", "", 0) < 0 ||
		    put_file(fs, ".p", "n0", 2) < 0)
			return -1;
	}
	snprintf(ro, sizeof(ro), "n0,r%u", (unsigned)e->domid);
	snprintf(rw, sizeof(rw), "n%u", (unsigned)e->domid);
	snprintf(id, sizeof(id), "%u", (unsigned)e->domid);
	if (node_ensure(e, "/local", "n0", "") < 0 ||
	    node_ensure(e, "/local/domain", "n0", "") < 0 ||
	    node_ensure(e, e->home, ro, "") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/domid", e->home);
	if (node_ensure(e, path, ro, id) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/data", e->home);
	return node_ensure(e, path, rw, "");
}

static const struct xs_ops emb_ops = {
    .close = emb_close,
    .domid = emb_domid,
    .publish = emb_publish,
    .read = emb_read,
    .rm = emb_rm,
    .watch = emb_watch,
    .unwatch = emb_unwatch,
    .fd = emb_fd,
    .read_watch = emb_read_watch,
};

vchan_xs *vchan_xs_embedded_open(void)
{
	struct emb *e = calloc(1, sizeof(*e));
	char fs[FS_MAX];
	struct stat st;
	int n, err;

	if (e == NULL)
		return NULL;
	e->base.ops = &emb_ops;
	e->lockfd = e->epfd = e->infd = e->evfd = -1;
	e->qtail = &e->qhead;
	if (vchan_env_domid(&e->domid) < 0 ||
	    vchan_env_sim_dir(e->root, sizeof(e->root) - 4) < 0)
		goto fail;
	n = snprintf(e->home, sizeof(e->home), "/local/domain/%u",
		     (unsigned)e->domid);
	e->homelen = (size_t)n;
	strcat(e->root, "/xs");
	if (mkdir(e->root, 0700) < 0 && errno != EEXIST)
		goto fail;
	if (lstat(e->root, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	if (scratch(e, ".lock", fs) < 0)
		goto fail;
	e->lockfd = open(fs, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lockfd < 0 || lock_write(e) < 0)
		goto fail;
	n = layout(e);
	unlock(e);
	if (n < 0)
		goto fail;
	return &e->base;
fail:
	err = errno;
	emb_close(&e->base);
	errno = err;
	return NULL;
}
