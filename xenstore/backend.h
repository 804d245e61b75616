/* xenstore/backend.h - what a store backend provides (internal).
 *
 * xs.c checks every argument before calling a backend, so backends may
 * assume: the handle is not NULL; every path is valid by XenStore's rules
 *; publish keys are valid node names, dir/key within
 * the length limits, values non-NULL and at most XS_VALUE_MAX bytes, kv
 * non-NULL when n > 0, permission lists of domain ids below
 * XS_DOMID_LIMIT and accesses up to VCHAN_XS_BOTH; tokens non-NULL and
 * short enough; read_watch's out pointers non-NULL. */
#ifndef VCHAN_XS_BACKEND_H
#define VCHAN_XS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "xenstore/xs.h"

/* XenStore's limits (xs_wire.h: XENSTORE_ABS_PATH_MAX, _REL_PATH_MAX,
 * _PAYLOAD_MAX). */
#define XS_ABS_PATH_MAX 3072u
#define XS_REL_PATH_MAX 2048u
#define XS_VALUE_MAX	4096u
#define XS_PAYLOAD_MAX	4096u
/* Xen's DOMID_FIRST_RESERVED: ids from there on are special. */
#define XS_DOMID_LIMIT 0x7FF0u

struct xs_ops {
	void (*close)(vchan_xs *xs);
	int (*domid)(vchan_xs *xs);
	/* perms[0] is {this domain, access of others}; np is 1 + the
	 * checked acl's length. */
	int (*publish)(vchan_xs *xs, const char *dir,
		       const struct vchan_xs_kv *kv, size_t n,
		       const struct vchan_xs_perm *perms, size_t np);
	int (*owner)(vchan_xs *xs, const char *path);
	char *(*read)(vchan_xs *xs, const char *path, size_t *len);
	/* Children of path as vchan_xs_directory returns them; NULL when
	 * the backend cannot list (xs.c then fails with ENOSYS). */
	char *(*directory)(vchan_xs *xs, const char *path, size_t *count);
	int (*rm)(vchan_xs *xs, const char *path);
	int (*watch)(vchan_xs *xs, const char *path, const char *token);
	int (*unwatch)(vchan_xs *xs, const char *path, const char *token);
	int (*fd)(vchan_xs *xs);
	int (*read_watch)(vchan_xs *xs, char **path, char **token);
};

/* Every backend's handle starts with this. */
struct vchan_xs {
	const struct xs_ops *ops;
};

vchan_xs *vchan_xs_embedded_open(void);
#ifdef HAVE_XEN
vchan_xs *vchan_xs_libxs_open(void);
#endif
#ifdef HAVE_PV
/* The unikernel's backend: XenStore's ring of this PV domain (pv.c). */
vchan_xs *vchan_xs_pv_open(void);
#endif

#endif
