/* xenstore/xs.h - rendezvous through XenStore.
 *
 * Two backends, chosen at open:
 *   libxenstore  a real xenstored (on Xen; on the simulator when
 *                XENSTORED_PATH names a xenstored's socket);
 *   embedded     a store kept in the sim backend's directory
 *                (VCHAN_SIM_DIR), shared by every process of the simulation,
 *                with XenStore's permissions between domids (VCHAN_DOMID)
 *                and watches.
 * The backend follows grant.h's selection (VCHAN_PLATFORM): xen ->
 * libxenstore; sim -> libxenstore when XENSTORED_PATH is set, else embedded.
 *
 * Paths follow XenStore's rules: absolute ("/local/domain/0/x") or relative
 * to /local/domain/<own domid>; node names of [A-Za-z0-9_@-] (no '.'),
 * no empty component, no trailing '/', at most 3072 bytes absolute. A bad
 * path fails with EINVAL. Values are at most 4096 bytes.
 *
 * Permissions are XenStore's: a node has an owner and a default access for
 * other domains, plus per-domain entries; domain 0 may do anything.
 *
 * The embedded store lays out each domain's home when the domain opens its
 * first handle, as Xen's toolstack does: /local/domain/<domid> and its
 * "domid" key belong to domain 0 and are readable by the domain, and
 * /local/domain/<domid>/data belongs to the domain (so a domain publishes
 * under "data/..."). A node name there is limited to 255 bytes by the file
 * system (creating a longer one fails with ENAMETOOLONG).
 *
 * All functions return >= 0 (or a pointer) on success and -1 (or NULL) with
 * errno set on failure; a NULL handle fails with EINVAL, except that
 * vchan_xs_close accepts NULL (and returns 0). A handle is not thread-safe.
 */
#ifndef VCHAN_XS_H
#define VCHAN_XS_H

#include <stddef.h>
#include <stdint.h>

#include <vchan/api.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vchan_xs vchan_xs;

struct vchan_xs_kv {
	const char *key; /* relative to the publish directory, one node name */
	const char *value; /* NUL-terminated */
};

/* Open a store handle. NULL + errno on failure (EINVAL bad environment,
 * ECONNREFUSED/ENOENT no xenstored). */
VCHAN_API vchan_xs *vchan_xs_open(void);

/* Close the handle and drop its watches. The handle is always freed.
 * Returns 0 (also for NULL); closing a store handle cannot fail. */
VCHAN_API int vchan_xs_close(vchan_xs *xs);

/* This process's domain id (the "domid" key on Xen, VCHAN_DOMID on the
 * simulator). Returns the domid or -1 + errno. */
VCHAN_API int vchan_xs_domid(vchan_xs *xs);

/* Write the keys kv[0..n-1] under directory `dir` in one atomic step:
 * a reader sees all of them or none. The directory and each key get the
 * permissions {owner: this domain, others: none} + {peer: read}.
 * Returns 0 or -1 + errno: EINVAL bad path/key/value or a peer that is no
 * domain id (32752 and above are Xen's reserved ids), EACCES not allowed to
 * write there, EAGAIN the transaction kept conflicting. */
VCHAN_API int vchan_xs_publish(vchan_xs *xs, const char *dir,
			       const struct vchan_xs_kv *kv, size_t n,
			       uint32_t peer);

/* Access of a domain in a permission list, as XenStore's letters n, r, w
 * and b. */
#define VCHAN_XS_NONE  0u
#define VCHAN_XS_READ  1u
#define VCHAN_XS_WRITE 2u
#define VCHAN_XS_BOTH  3u

/* Most entries vchan_xs_publish_acl takes besides the owner's. */
#define VCHAN_XS_ACL_MAX 63u

struct vchan_xs_perm {
	uint32_t domid;
	unsigned acc; /* VCHAN_XS_NONE .. VCHAN_XS_BOTH */
};

/* vchan_xs_publish with other permissions: {owner: this domain, others:
 * `others`} + acl[0..nacl-1] on the directory and every key (n may be 0:
 * the directory alone). The owner is always this domain: that is how a
 * reader learns who wrote a node (vchan_xs_owner). Returns 0 or -1 +
 * errno as vchan_xs_publish, and EINVAL an access above VCHAN_XS_BOTH, a
 * domain id that is no domain or nacl above VCHAN_XS_ACL_MAX. */
VCHAN_API int vchan_xs_publish_acl(vchan_xs *xs, const char *dir,
				   const struct vchan_xs_kv *kv, size_t n,
				   unsigned others,
				   const struct vchan_xs_perm *acl,
				   size_t nacl);

/* The owner of the node at `path`: the domain that created it (XenStore
 * makes an unprivileged domain the owner of what it creates and lets no
 * such domain give a node away). Returns the domain id or -1 + errno:
 * ENOENT no such node, EACCES not readable by this domain, EINVAL bad
 * path, EPROTO the store answered something that is no permission list. */
VCHAN_API int vchan_xs_owner(vchan_xs *xs, const char *path);

/* Read the value at `path`. Returns a malloc'd NUL-terminated copy (the
 * caller frees it; *len, when len is not NULL, gets its length) or NULL +
 * errno: ENOENT no such node, EACCES not readable by this domain, EINVAL
 * bad path. */
VCHAN_API char *vchan_xs_read(vchan_xs *xs, const char *path, size_t *len);

/* The names of the children of `path`. Returns a malloc'd buffer (the
 * caller frees it) holding *count NUL-terminated names back to back
 * (none: a buffer with *count = 0), or NULL + errno: ENOENT no such node,
 * EACCES not readable by this domain (a domU may not list
 * /local/domain), EINVAL bad path or count NULL, ENOSYS the store
 * cannot list. */
VCHAN_API char *vchan_xs_directory(vchan_xs *xs, const char *path,
				   size_t *count);

/* Remove `path` and everything under it. Returns 0 (also when it did not
 * exist) or -1 + errno (EACCES, EINVAL; as in xenstored, "/" cannot be
 * removed: EINVAL). */
VCHAN_API int vchan_xs_rm(vchan_xs *xs, const char *path);

/* Watch `path` and everything under it, existing or not yet. As XenStore
 * does, a first event fires at once. Events are read with
 * vchan_xs_read_watch; `token` (copied) is given back with each. Returns 0
 * or -1 + errno (EINVAL, EEXIST same path and token already watched; on the
 * embedded store, which watches with inotify, EMFILE out of descriptors and
 * EUSERS this user's inotify instances used up: fs.inotify.max_user_instances,
 * one per handle with a watch). */
VCHAN_API int vchan_xs_watch(vchan_xs *xs, const char *path, const char *token);

/* Stop a watch. Returns 0 or -1 + ENOENT. */
VCHAN_API int vchan_xs_unwatch(vchan_xs *xs, const char *path,
			       const char *token);

/* A file descriptor that is readable when a watch event may be pending.
 * Owned by the handle. */
VCHAN_API int vchan_xs_fd(vchan_xs *xs);

/* Take one watch event without blocking. Returns 1 and sets *path (the
 * node that changed, or the watched path) and *token (both malloc'd, the
 * caller frees them), 0 when none is pending, -1 + errno. Events may be
 * coalesced; the caller re-reads what it needs. */
VCHAN_API int vchan_xs_read_watch(vchan_xs *xs, char **path, char **token);

#ifdef __cplusplus
}
#endif

#endif
