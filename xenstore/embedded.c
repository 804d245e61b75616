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
 * Watches are embedded_watch.c's. */
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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/env.h"
#include "xenstore/embedded.h"

#define PERMS_MAX  (1 + VCHAN_XS_ACL_MAX) /* entries in one node's list */
#define PERMS_TEXT (PERMS_MAX * 12)

#define ACC_READ  1u
#define ACC_WRITE 2u

struct perm {
	uint32_t id;
	unsigned acc;
};

/* p[0] is the owner and the access of domains not listed after it. */
struct perms {
	unsigned n;
	struct perm p[PERMS_MAX];
};

/* ---- paths ---- */

/* Absolute store path of a checked path (relative ones live in the home). */
void emb_abs_path(const struct emb *e, const char *path, char *out)
{
	if (path[0] == '/')
		snprintf(out, APATH_MAX, "%s", path);
	else
		snprintf(out, APATH_MAX, "%s/%s", e->home, path);
}

/* File system path of store path `apath`, with `suffix` appended. */
int emb_fs_path(const struct emb *e, const char *apath, const char *suffix,
		char *out)
{
	int n = snprintf(out, FS_MAX, "%s%s%s", e->root,
			 strcmp(apath, "/") == 0 ? "" : apath, suffix);

	if (n < 0 || n >= FS_MAX)
		return set_err(ENAMETOOLONG);
	return 0;
}

/* Store path `parent` + "/" + `name` into out (APATH_MAX bytes). */
int emb_join(const char *parent, const char *name, char *out)
{
	int n = snprintf(out, APATH_MAX, "%s/%s",
			 strcmp(parent, "/") == 0 ? "" : parent, name);

	if (n < 0 || n >= APATH_MAX)
		return set_err(ENAMETOOLONG);
	return 0;
}

/* Is store path p `base` or below it? */
bool emb_is_under(const char *p, const char *base)
{
	size_t n = strlen(base);

	if (strcmp(base, "/") == 0)
		return true;
	return strncmp(p, base, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* Cut the last component: "/a/b" -> "/a", "/a" -> "/". */
void emb_parent_of(char *apath)
{
	char *slash = strrchr(apath, '/');

	if (slash == apath)
		slash[1] = '\0';
	else
		*slash = '\0';
}

/* 1 when the node at file system path fs exists, 0 when not, -1 + errno. */
int emb_node_at(const char *fs)
{
	struct stat st;

	if (lstat(fs, &st) == 0)
		return S_ISDIR(st.st_mode) ? 1 : 0;
	/* A name longer than the file system takes cannot have been made. */
	if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
		return 0;
	return -1;
}

int emb_node_exists(const struct emb *e, const char *apath)
{
	char fs[FS_MAX];

	if (emb_fs_path(e, apath, "", fs) < 0)
		return -1;
	return emb_node_at(fs);
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

	if (emb_fs_path(e, apath, "/.p", fs) < 0)
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

int emb_lock(struct emb *e, int op)
{
	while (flock(e->lockfd, op) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

void emb_unlock(struct emb *e)
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

	if (emb_lock(e, LOCK_EX) < 0)
		return -1;
	if (scratch(e, ".stage", fs) < 0 || rm_tree(fs) < 0 ||
	    scratch(e, ".trash", fs) < 0 || rm_tree(fs) < 0) {
		emb_unlock(e);
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

	if (scratch(e, ".stage", stage) < 0 ||
	    emb_fs_path(e, apath, "", fs) < 0)
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
	int ex = emb_node_exists(e, apath);

	if (ex != 0)
		return ex;
	if (!perms_decode(ptext, &p))
		return set_err(EINVAL);
	return node_create(e, apath, &p, val);
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

		if (emb_join(adir, kv[i].key, akey) < 0)
			return -1;
		ex = emb_node_exists(e, akey);
		if (ex < 0)
			return -1;
		if (ex == 0)
			continue;
		if (perms_load(e, akey, &p) < 0)
			return -1;
		if (!may_set_perms(&p, e->domid))
			return set_err(EACCES);
	}
	if (emb_fs_path(e, adir, "", fs) < 0 || node_put(fs, pub, "") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int ex;

		if (emb_join(adir, kv[i].key, akey) < 0)
			return -1;
		ex = emb_node_exists(e, akey);
		if (ex < 0)
			return -1;
		if (ex == 0) {
			if (node_create(e, akey, pub, kv[i].value) < 0)
				return -1;
			continue;
		}
		if (emb_fs_path(e, akey, "", fs) < 0 ||
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
		emb_parent_of(anc);
		ex = emb_node_exists(e, anc);
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
	if (scratch(e, ".stage", stage) < 0 ||
	    emb_fs_path(e, atop, "", top) < 0)
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
		ex = emb_node_at(kfs);
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
		       const struct vchan_xs_kv *kv, size_t n,
		       const struct vchan_xs_perm *perms, size_t np)
{
	struct emb *e = to_emb(xs);
	char adir[APATH_MAX];
	struct perms pub;
	int ex, rc;

	emb_abs_path(e, dir, adir);
	pub.n = (unsigned)np;
	for (size_t i = 0; i < np; i++) {
		pub.p[i].id = perms[i].domid;
		pub.p[i].acc = perms[i].acc;
	}
	if (lock_write(e) < 0)
		return -1;
	ex = emb_node_exists(e, adir);
	if (ex < 0)
		rc = -1;
	else if (ex)
		rc = publish_existing(e, adir, kv, n, &pub);
	else
		rc = publish_new(e, adir, kv, n, &pub);
	emb_unlock(e);
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

	emb_abs_path(e, path, apath);
	if (emb_fs_path(e, apath, "/.v", fs) < 0 || emb_lock(e, LOCK_SH) < 0)
		return NULL;
	ex = emb_node_exists(e, apath);
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
	emb_unlock(e);
	return val;
}

/* Children are the node's subdirectories (its own files start with '.',
 * which no node name does). Listing needs read access, as in xenstored. */
static char *emb_directory(vchan_xs *xs, const char *path, size_t *count)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX], fs[FS_MAX];
	struct perms p;
	struct dirent *d;
	DIR *dir = NULL;
	char *out = NULL;
	size_t size = 0, used = 0, n = 0;
	int ex;

	emb_abs_path(e, path, apath);
	if (emb_fs_path(e, apath, "", fs) < 0 || emb_lock(e, LOCK_SH) < 0)
		return NULL;
	ex = emb_node_at(fs);
	if (ex == 0)
		errno = ENOENT;
	if (ex <= 0 || perms_load(e, apath, &p) < 0)
		goto out;
	if (!(perms_for(&p, e->domid) & ACC_READ)) {
		errno = EACCES;
		goto out;
	}
	dir = opendir(fs);
	if (dir == NULL)
		goto out;
	size = 256;
	out = malloc(size);
	if (out == NULL)
		goto out;
	while ((d = readdir(dir)) != NULL) {
		size_t len = strlen(d->d_name) + 1;

		if (d->d_name[0] == '.')
			continue;
		if (used + len + 1 > size) {
			char *bigger = realloc(out, 2 * size + len);

			if (bigger == NULL) {
				free(out);
				out = NULL;
				goto out;
			}
			out = bigger;
			size = 2 * size + len;
		}
		memcpy(out + used, d->d_name, len);
		used += len;
		n++;
	}
	out[used] = '\0';
	*count = n;
out:
	if (dir != NULL)
		closedir(dir);
	emb_unlock(e);
	return out;
}

static int emb_rm(vchan_xs *xs, const char *path)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX], fs[FS_MAX], trash[FS_MAX];
	struct perms p;
	int ex, rc = -1;

	emb_abs_path(e, path, apath);
	/* As xenstored: the root cannot be removed. */
	if (strcmp(apath, "/") == 0)
		return set_err(EINVAL);
	if (emb_fs_path(e, apath, "", fs) < 0 ||
	    scratch(e, ".trash", trash) < 0 || lock_write(e) < 0)
		return -1;
	ex = emb_node_at(fs);
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
	emb_unlock(e);
	return rc;
}

static int emb_owner(vchan_xs *xs, const char *path)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX];
	struct perms p;
	int ex, rc = -1;

	emb_abs_path(e, path, apath);
	if (emb_lock(e, LOCK_SH) < 0)
		return -1;
	ex = emb_node_exists(e, apath);
	if (ex == 0)
		errno = ENOENT;
	if (ex <= 0 || perms_load(e, apath, &p) < 0)
		goto out;
	/* As xenstored's get-perms: reading the list needs read access. */
	if (!(perms_for(&p, e->domid) & ACC_READ)) {
		errno = EACCES;
		goto out;
	}
	rc = (int)p.p[0].id;
out:
	emb_unlock(e);
	return rc;
}

static int emb_domid(vchan_xs *xs)
{
	return (int)to_emb(xs)->domid;
}

/* ---- open / close ---- */

static void emb_close(vchan_xs *xs)
{
	struct emb *e = to_emb(xs);

	emb_watch_close(e);
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
	if (emb_fs_path(e, "/", "/.p", fs) < 0)
		return -1;
	if (access(fs, F_OK) < 0) {
		if (errno != ENOENT || emb_fs_path(e, "/", "", fs) < 0 ||
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
    .owner = emb_owner,
    .read = emb_read,
    .directory = emb_directory,
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
	emb_unlock(e);
	if (n < 0)
		goto fail;
	return &e->base;
fail:
	err = errno;
	emb_close(&e->base);
	errno = err;
	return NULL;
}
