/* xenstore/libxs.c - the store backend on a real xenstored, through
 * libxenstore (on Xen, and on the simulator when XENSTORED_PATH names a
 * xenstored's socket). xenstored itself enforces paths, permissions and
 * watch rules; this file only maps calls. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "common/env.h"
#include "common/platform.h"
#include "xenstore/backend.h"

/* A transaction conflicts when another client changed what it touched; a
 * few retries ride out ordinary contention without spinning forever. */
#define PUBLISH_TRIES 16

struct libxs {
	vchan_xs base;
	struct xs_handle *h;
	int domid; /* -1 until first read */
	/* On the simulator every socket client is domain 0 to xenstored, so
	 * relative paths are made absolute here, under our own domain. */
	int sim;
	char abs[XS_ABS_PATH_MAX + 1];
};

static struct libxs *to_libxs(vchan_xs *xs)
{
	return (struct libxs *)xs;
}

static void libxs_close(vchan_xs *xs)
{
	struct libxs *s = to_libxs(xs);

	xs_close(s->h);
	free(s);
}

static int libxs_domid(vchan_xs *xs)
{
	struct libxs *s = to_libxs(xs);
	unsigned int len;
	unsigned long v;
	char *val, *end;

	if (s->domid >= 0)
		return s->domid;
	/* Relative: the toolstack writes it into each domain's home. */
	val = xs_read(s->h, XBT_NULL, "domid", &len);
	if (val == NULL)
		return -1;
	errno = 0;
	v = strtoul(val, &end, 10);
	if (val[0] < '0' || val[0] > '9' || *end != '\0' || errno != 0 ||
	    v >= XS_DOMID_LIMIT) {
		free(val);
		errno = EPROTO;
		return -1;
	}
	free(val);
	s->domid = (int)v;
	return s->domid;
}

/* `path` as xenstored must see it (see struct libxs). The result lives in
 * the handle until the next call. */
static const char *fix(struct libxs *s, const char *path)
{
	if (!s->sim || path[0] == '/')
		return path;
	snprintf(s->abs, sizeof(s->abs), "/local/domain/%d/%s", s->domid, path);
	return s->abs;
}

/* One attempt inside transaction t; false + errno on failure. */
static bool publish_in(struct libxs *s, xs_transaction_t t, const char *dir,
		       const struct vchan_xs_kv *kv, size_t n,
		       struct xs_permissions *perms, unsigned np)
{
	char path[XS_ABS_PATH_MAX + 1];

	if (n == 0 && !xs_mkdir(s->h, t, dir))
		return false;
	for (size_t i = 0; i < n; i++) {
		/* Lengths were checked by xs.c (a relative dir grows by its
		 * home on the simulator); "/" needs no separator. */
		int len = snprintf(path, sizeof(path), "%s/%s",
				   strcmp(dir, "/") == 0 ? "" : dir, kv[i].key);

		if (len < 0 || (size_t)len >= sizeof(path)) {
			errno = EINVAL;
			return false;
		}
		if (!xs_write(s->h, t, path, kv[i].value,
			      (unsigned int)strlen(kv[i].value)) ||
		    !xs_set_permissions(s->h, t, path, perms, np))
			return false;
	}
	return xs_set_permissions(s->h, t, dir, perms, np);
}

/* XenStore's access bits for ours (VCHAN_XS_READ is XS_PERM_READ...). */
static unsigned int xs_acc(unsigned acc)
{
	return (acc & VCHAN_XS_READ ? XS_PERM_READ : 0) |
	       (acc & VCHAN_XS_WRITE ? XS_PERM_WRITE : 0);
}

static int libxs_publish(vchan_xs *xs, const char *dir,
			 const struct vchan_xs_kv *kv, size_t n,
			 const struct vchan_xs_perm *list, size_t np)
{
	struct libxs *s = to_libxs(xs);
	struct xs_permissions perms[1 + VCHAN_XS_ACL_MAX];

	dir = fix(s, dir);
	for (size_t i = 0; i < np; i++) {
		perms[i].id = list[i].domid;
		perms[i].perms = xs_acc(list[i].acc);
	}
	for (int tries = 0; tries < PUBLISH_TRIES; tries++) {
		xs_transaction_t t = xs_transaction_start(s->h);
		int err;

		if (t == XBT_NULL)
			return -1;
		if (!publish_in(s, t, dir, kv, n, perms, (unsigned)np)) {
			err = errno;
			xs_transaction_end(s->h, t, true);
			errno = err;
			return -1;
		}
		if (xs_transaction_end(s->h, t, false))
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

static char *libxs_read(vchan_xs *xs, const char *path, size_t *len)
{
	unsigned int n;
	struct libxs *s = to_libxs(xs);
	char *val = xs_read(s->h, XBT_NULL, fix(s, path), &n);

	if (val != NULL && len != NULL)
		*len = n;
	return val;
}

static int libxs_owner(vchan_xs *xs, const char *path)
{
	struct libxs *s = to_libxs(xs);
	unsigned int n;
	struct xs_permissions *p =
	    xs_get_permissions(s->h, XBT_NULL, fix(s, path), &n);
	int owner;

	if (p == NULL)
		return -1;
	if (n == 0) {
		free(p);
		errno = EPROTO;
		return -1;
	}
	owner = (int)p[0].id;
	free(p);
	return owner;
}

static char *libxs_directory(vchan_xs *xs, const char *path, size_t *count)
{
	struct libxs *s = to_libxs(xs);
	unsigned int n;
	char **names = xs_directory(s->h, XBT_NULL, fix(s, path), &n);
	size_t size = 1, at = 0;
	char *out;

	if (names == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		size += strlen(names[i]) + 1;
	out = malloc(size);
	if (out == NULL) {
		free(names);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(names[i]) + 1;

		memcpy(out + at, names[i], len);
		at += len;
	}
	out[at] = '\0';
	free(names); /* one block: the array and its strings */
	*count = n;
	return out;
}

static int libxs_rm(vchan_xs *xs, const char *path)
{
	struct libxs *s = to_libxs(xs);

	if (xs_rm(s->h, XBT_NULL, fix(s, path)) || errno == ENOENT)
		return 0;
	return -1;
}

static int libxs_watch(vchan_xs *xs, const char *path, const char *token)
{
	struct libxs *s = to_libxs(xs);

	return xs_watch(s->h, fix(s, path), token) ? 0 : -1;
}

static int libxs_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	struct libxs *s = to_libxs(xs);

	return xs_unwatch(s->h, fix(s, path), token) ? 0 : -1;
}

static int libxs_fd(vchan_xs *xs)
{
	int fd = xs_fileno(to_libxs(xs)->h);
	int fl;

	if (fd < 0)
		return -1;
	/* libxenstore's watch pipe is not close-on-exec by itself. */
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return fd;
}

static int libxs_read_watch(vchan_xs *xs, char **path, char **token)
{
	char **ev = xs_check_watch(to_libxs(xs)->h);

	if (ev == NULL)
		return errno == EAGAIN ? 0 : -1;
	*path = strdup(ev[XS_WATCH_PATH]);
	*token = strdup(ev[XS_WATCH_TOKEN]);
	free(ev);
	if (*path == NULL || *token == NULL) {
		free(*path);
		free(*token);
		*path = *token = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 1;
}

static const struct xs_ops libxs_ops = {
    .close = libxs_close,
    .domid = libxs_domid,
    .publish = libxs_publish,
    .owner = libxs_owner,
    .read = libxs_read,
    .directory = libxs_directory,
    .rm = libxs_rm,
    .watch = libxs_watch,
    .unwatch = libxs_unwatch,
    .fd = libxs_fd,
    .read_watch = libxs_read_watch,
};

vchan_xs *vchan_xs_libxs_open(void)
{
	struct libxs *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->h = xs_open(0);
	if (s->h == NULL) {
		int err = errno;

		free(s);
		errno = err != 0 ? err : ECONNREFUSED;
		return NULL;
	}
	s->base.ops = &libxs_ops;
	s->domid = -1;
	/* xenstored would answer "domid" for domain 0: we are VCHAN_DOMID. */
	if (vchan_env_backend() == VCHAN_PLATFORM_SIM) {
		uint32_t d;

		if (vchan_env_domid(&d) < 0) {
			xs_close(s->h);
			free(s);
			errno = EINVAL;
			return NULL;
		}
		s->sim = 1;
		s->domid = (int)d;
	}
	return &s->base;
}
