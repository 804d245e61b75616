/* xenstore/embedded_watch.c - the embedded store's watches.
 *
 * Watches use inotify, one instance per handle: every directory of a
 * watched subtree is watched, or the deepest existing ancestor when the
 * watched node does not exist yet; the set is re-armed under the shared
 * lock whenever directories come or go. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "xenstore/embedded.h"

#define QUEUE_MAX 1024 /* pending events before they coalesce per watch */

#define IN_MASK                                                                \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |                 \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

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

	if (emb_fs_path(e, apath, "", fs) < 0)
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

	if (wd_add(e, apath) < 0 || emb_fs_path(e, apath, "", fs) < 0)
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
		if (emb_fs_path(e, apath, "", fs) < 0)
			rc = -1;
		else if ((ex = emb_node_at(fs)) < 0)
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
	ex = emb_node_exists(e, apath);
	if (ex < 0)
		return -1;
	if (ex) {
		if (wd_add_tree(e, apath) < 0)
			return -1;
	} else {
		do {
			emb_parent_of(apath);
			ex = emb_node_exists(e, apath);
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
	if (emb_lock(e, LOCK_SH) < 0)
		return -1;
	e->mark++;
	for (struct watch *w = e->watches; w != NULL; w = w->next) {
		if (watch_arm(e, w, true) < 0) {
			/* Keep every descriptor: extra ones only wake up. */
			emb_unlock(e);
			return -1;
		}
	}
	for (size_t i = 0; i < e->nwd;) {
		if (e->wds[i].mark != e->mark)
			wd_drop(e, &e->wds[i], true);
		else
			i++;
	}
	emb_unlock(e);
	return 0;
}

/* Queue events for a change at apath; *related when some watch covers it
 * or lies below it (so the set of watched directories may need to move). */
static int changed(struct emb *e, const char *apath, bool *related)
{
	for (struct watch *w = e->watches; w != NULL; w = w->next) {
		if (emb_is_under(apath, w->path)) {
			*related = true;
			if (queue_event(e, w, apath) < 0)
				return -1;
		} else if (emb_is_under(w->path, apath)) {
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
			if (emb_is_under(e->wds[i].path, apath))
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
	if (emb_join(ent->path, name, apath) < 0)
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

int emb_watch(vchan_xs *xs, const char *path, const char *token)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX];
	struct watch *w, **pw;
	int err;

	emb_abs_path(e, path, apath);
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
	if (emb_lock(e, LOCK_SH) < 0)
		goto fail;
	if (watch_arm(e, w, false) < 0) {
		emb_unlock(e);
		goto fail;
	}
	emb_unlock(e);
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

int emb_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	struct emb *e = to_emb(xs);
	char apath[APATH_MAX];
	struct watch *w, **link;

	emb_abs_path(e, path, apath);
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

int emb_fd(vchan_xs *xs)
{
	struct emb *e = to_emb(xs);

	if (watch_init(e) < 0)
		return -1;
	return e->epfd;
}

int emb_read_watch(vchan_xs *xs, char **path, char **token)
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

void emb_watch_close(struct emb *e)
{
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
}
