/* xenstore/xs.c - backend selection and the argument checks every backend
 * relies on (XenStore's path rules are applied here, before any backend). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/env.h"
#include "common/platform.h"
#include "xenstore/backend.h"

static int einval(void)
{
	errno = EINVAL;
	return -1;
}

/* XenStore's node name alphabet (xenstored's is_valid_nodename): notably
 * no '.', so "." and ".." can never name a node. */
static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '@' || c == '-';
}

/* Length of the path if valid, else -1 + EINVAL. */
static long path_len(const char *path)
{
	size_t len, max;
	const char *p;

	if (path == NULL)
		return einval();
	max = path[0] == '/' ? XS_ABS_PATH_MAX : XS_REL_PATH_MAX;
	len = strnlen(path, max + 1);
	if (len == 0 || len > max)
		return einval();
	if (strcmp(path, "/") == 0)
		return 1;
	p = path[0] == '/' ? path + 1 : path;
	/* Every component: one or more name characters, then '/' or the end.
	 * This rejects "//", a trailing '/' and any '.'. */
	for (;;) {
		const char *start = p;

		while (name_char(*p))
			p++;
		if (p == start)
			return einval();
		if (*p == '\0')
			return (long)len;
		if (*p != '/')
			return einval();
		p++;
	}
}

static int name_ok(const char *name)
{
	const char *p = name;

	if (name == NULL || *name == '\0')
		return 0;
	while (name_char(*p))
		p++;
	return *p == '\0';
}

#ifdef HAVE_PV
/* Inside a unikernel: the domain's own XenStore ring, and nothing else. */
vchan_xs *vchan_xs_open(void)
{
	return vchan_xs_pv_open();
}
#else
vchan_xs *vchan_xs_open(void)
{
	const char *xsd;
#ifdef HAVE_XEN
	vchan_xs *xs;
#endif

	switch (vchan_backend_select()) {
	case VCHAN_PLATFORM_SIM:
		xsd = getenv("XENSTORED_PATH");
		if (xsd == NULL || *xsd == '\0')
			return vchan_xs_embedded_open();
#ifdef HAVE_XEN
		xs = vchan_xs_libxs_open();
		/* EINVAL: VCHAN_DOMID, already reported. */
		if (xs == NULL && errno != EINVAL && errno != ENOMEM)
			vchan_env_xenstored_unreachable(xsd);
		return xs;
#else
		fprintf(stderr, "vchan: XENSTORED_PATH is set but libxenstore "
				"support was not built; unset it to use the "
				"embedded store\n");
		errno = ENOSYS;
		return NULL;
#endif
#ifdef HAVE_XEN
	case VCHAN_PLATFORM_XEN:
		xs = vchan_xs_libxs_open();
		if (xs == NULL && errno != ENOMEM)
			vchan_env_xen_absent();
		return xs;
#endif
	default:
		return NULL;
	}
}
#endif

int vchan_xs_close(vchan_xs *xs)
{
	if (xs != NULL)
		xs->ops->close(xs);
	return 0;
}

int vchan_xs_domid(vchan_xs *xs)
{
	if (xs == NULL)
		return einval();
	return xs->ops->domid(xs);
}

int vchan_xs_publish_acl(vchan_xs *xs, const char *dir,
			 const struct vchan_xs_kv *kv, size_t n,
			 unsigned others, const struct vchan_xs_perm *acl,
			 size_t nacl)
{
	struct vchan_xs_perm perms[1 + VCHAN_XS_ACL_MAX];
	long dlen = path_len(dir);
	size_t max;
	int self;

	if (xs == NULL || dlen < 0 || (kv == NULL && n > 0) ||
	    others > VCHAN_XS_BOTH || nacl > VCHAN_XS_ACL_MAX ||
	    (acl == NULL && nacl > 0))
		return einval();
	for (size_t i = 0; i < nacl; i++)
		if (acl[i].domid >= XS_DOMID_LIMIT ||
		    acl[i].acc > VCHAN_XS_BOTH)
			return einval();
	max = dir[0] == '/' ? XS_ABS_PATH_MAX : XS_REL_PATH_MAX;
	/* "/" + key needs no separator of its own. */
	if (strcmp(dir, "/") == 0)
		dlen = 0;
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(kv[i].key) || kv[i].value == NULL)
			return einval();
		if ((size_t)dlen + 1 + strnlen(kv[i].key, max) > max)
			return einval();
		if (strnlen(kv[i].value, XS_VALUE_MAX + 1) > XS_VALUE_MAX)
			return einval();
	}
	self = xs->ops->domid(xs);
	if (self < 0)
		return -1;
	perms[0].domid = (uint32_t)self;
	perms[0].acc = others;
	if (nacl > 0)
		memcpy(perms + 1, acl, nacl * sizeof(*acl));
	return xs->ops->publish(xs, dir, kv, n, perms, 1 + nacl);
}

int vchan_xs_publish(vchan_xs *xs, const char *dir,
		     const struct vchan_xs_kv *kv, size_t n, uint32_t peer)
{
	struct vchan_xs_perm reader = {peer, VCHAN_XS_READ};

	return vchan_xs_publish_acl(xs, dir, kv, n, VCHAN_XS_NONE, &reader, 1);
}

int vchan_xs_owner(vchan_xs *xs, const char *path)
{
	if (xs == NULL || path_len(path) < 0)
		return einval();
	return xs->ops->owner(xs, path);
}

char *vchan_xs_read(vchan_xs *xs, const char *path, size_t *len)
{
	if (xs == NULL || path_len(path) < 0) {
		errno = EINVAL;
		return NULL;
	}
	return xs->ops->read(xs, path, len);
}

char *vchan_xs_directory(vchan_xs *xs, const char *path, size_t *count)
{
	if (xs == NULL || count == NULL || path_len(path) < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (xs->ops->directory == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return xs->ops->directory(xs, path, count);
}

int vchan_xs_rm(vchan_xs *xs, const char *path)
{
	if (xs == NULL || path_len(path) < 0)
		return einval();
	return xs->ops->rm(xs, path);
}

/* A watch request carries path and token, each NUL-terminated, in one
 * XenStore message. */
static int watch_args(vchan_xs *xs, const char *path, const char *token)
{
	long plen = path_len(path);

	if (xs == NULL || plen < 0 || token == NULL)
		return einval();
	if ((size_t)plen + 1 + strnlen(token, XS_PAYLOAD_MAX) + 1 >
	    XS_PAYLOAD_MAX)
		return einval();
	return 0;
}

int vchan_xs_watch(vchan_xs *xs, const char *path, const char *token)
{
	if (watch_args(xs, path, token) < 0)
		return -1;
	return xs->ops->watch(xs, path, token);
}

int vchan_xs_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	if (watch_args(xs, path, token) < 0)
		return -1;
	return xs->ops->unwatch(xs, path, token);
}

int vchan_xs_fd(vchan_xs *xs)
{
	if (xs == NULL)
		return einval();
	return xs->ops->fd(xs);
}

int vchan_xs_read_watch(vchan_xs *xs, char **path, char **token)
{
	if (xs == NULL || path == NULL || token == NULL)
		return einval();
	return xs->ops->read_watch(xs, path, token);
}
