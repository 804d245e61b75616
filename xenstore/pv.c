/* xenstore/pv.c - the store backend of a Xen PV unikernel: XenStore's wire
 * protocol (xen/io/xs_wire.h, docs/misc/xenstore.txt) spoken over the
 * domain's XenStore ring page and event channel, which the runtime hands
 * out (unikernel/pv.h).
 *
 * The domain has one ring, but several handles may be open at once (vchan
 * opens one per channel). What they share - the partly read message, the
 * next request id, the open handles that watch events are routed to - is
 * one context, created by the first open and freed by the last close. The
 * runtime is single-threaded on one vCPU without interrupts, so nothing
 * here runs concurrently and the context needs no lock.
 *
 * One request is outstanding at a time: write the message, then read
 * messages until the reply with its req_id arrives. Watch events read in
 * the meantime are queued on the handle that set the watch: a handle sends
 * its tokens as "<handle id>:<token>", so two handles may use the same
 * token and each sees only its own events.
 *
 * The server is not trusted. Indexes that cannot be (more than a ring's
 * worth between them) or a message longer than XENSTORE_PAYLOAD_MAX leave
 * the byte stream without framing: the context is marked broken and every
 * later call fails with EIO. A reply of the wrong type fails just its
 * request with EIO. Every wait has a deadline: a request that gets no
 * reply fails with ETIMEDOUT.
 *
 * Built both into the unikernel (freestanding, musl) and into a Linux unit
 * test, so it uses only standard C, the runtime's pv.h and Xen's public
 * headers; in particular it prints nothing: callers report errors. The
 * runtime's allocator need not set errno, so ENOMEM is set here. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "unikernel/pv.h"
#include "xenstore/backend.h"

/* How long one request may take, from its first byte to its reply. */
#define TIMEOUT_NS (30ull * 1000000000ull)
/* A transaction conflicts when another client changed what it touched; a
 * few retries ride out ordinary contention without spinning forever (as in
 * libxs.c). */
#define PUBLISH_TRIES 16
/* Watch events queued per handle; past this, further events of a watch
 * coalesce into one (see struct watch). */
#define QUEUE_MAX 256
/* Bytes one pull takes at most: a server that writes as fast as we read
 * must not keep us in the loop past our deadlines. */
#define PULL_MAX (16u * XENSTORE_RING_SIZE)

#define HDR_LEN sizeof(struct xsd_sockmsg)

/* One watch set through a handle. `missed` records events that found the
 * queue full (or no memory): read_watch then reports the watch itself
 * once, which xs.h allows ("events may be coalesced"), so a busy or
 * hostile server costs bounded memory and no wake-up is lost. */
struct watch {
	struct watch *next;
	char *path; /* as the caller gave it */
	char *token;
	bool missed;
};

struct event {
	struct event *next;
	char *path;
	char *token; /* without the handle's prefix */
};

struct pvxs {
	vchan_xs base;
	struct pvxs *next; /* in the context's list */
	uint32_t id;	   /* the prefix of this handle's tokens */
	int fd;		   /* -1 until vchan_xs_fd asks */
	struct watch *watches;
	struct event *qhead, **qtail;
	size_t qlen;
};

/* What every handle of the domain shares: the ring. */
struct ring {
	struct xenstore_domain_interface *intf;
	uint32_t port;
	struct pvxs *handles;
	uint32_t next_req;
	uint32_t next_handle;
	int domid; /* -1 until read */
	bool broken;
	/* The request waiting for its reply, if any. */
	bool waiting;
	uint32_t want;
	/* The message being read: `got` bytes of it are in buf; hdr is valid
	 * once the header is complete. One byte more than the largest
	 * message, for a terminating NUL. */
	struct xsd_sockmsg hdr;
	size_t got;
	char buf[HDR_LEN + XENSTORE_PAYLOAD_MAX + 1];
};

/* The one place where the ring is shared: every open handle uses this
 * context, and nothing else in this file is global and mutable. */
static struct ring *the_ring;

/* A piece of a request's payload. */
struct seg {
	const void *p;
	size_t len;
};

static int fail(int err)
{
	errno = err;
	return -1;
}

static int broken(struct ring *r)
{
	r->broken = true;
	return fail(EIO);
}

static struct pvxs *to_pvxs(vchan_xs *xs)
{
	return (struct pvxs *)xs;
}

/* A string and its terminating NUL. */
static struct seg str_seg(const char *s)
{
	struct seg sg = {s, strlen(s) + 1};

	return sg;
}

/* ---- the ring ---- */

/* Copy len bytes (at most a ring's worth) from the ring at free-running
 * index idx; a wrap splits the copy in two. */
static void ring_read(void *dst, const char *ring, XENSTORE_RING_IDX idx,
		      size_t len)
{
	size_t off = MASK_XENSTORE_IDX(idx);
	size_t first = XENSTORE_RING_SIZE - off;

	if (first > len)
		first = len;
	memcpy(dst, ring + off, first);
	memcpy((char *)dst + first, ring, len - first);
}

static void ring_write(char *ring, XENSTORE_RING_IDX idx, const void *src,
		       size_t len)
{
	size_t off = MASK_XENSTORE_IDX(idx);
	size_t first = XENSTORE_RING_SIZE - off;

	if (first > len)
		first = len;
	memcpy(ring + off, src, first);
	memcpy(ring, (const char *)src + first, len - first);
}

static void notify(struct ring *r)
{
	/* The index stores before this are release stores; the full fence
	 * keeps them ahead of the notification on any architecture, so the
	 * server, woken, sees them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	(void)uk_evtchn_send(r->port);
}

/* Clear the port's pending bit before looking at the ring: a server that
 * updates the ring after our look also sets the bit after it, so the wait
 * that follows cannot sleep through the update. */
static void take_event(struct ring *r)
{
	(void)uk_evtchn_take(r->port);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Wait for the port until the deadline, then take its event. Returns 0,
 * or -1 + ETIMEDOUT. */
static int wait_event(struct ring *r, uint64_t deadline)
{
	if (uk_now_ns() >= deadline)
		return fail(ETIMEDOUT);
	if (uk_wait_ports(&r->port, 1, deadline) <= 0 &&
	    uk_now_ns() >= deadline)
		return fail(ETIMEDOUT);
	take_event(r);
	return 0;
}

/* A server that advertises the error indicator sets it when it gave up on
 * us: nothing will come any more. */
static bool server_gave_up(const struct ring *r)
{
	uint32_t feat =
	    __atomic_load_n(&r->intf->server_features, __ATOMIC_ACQUIRE);

	return (feat & XENSTORE_SERVER_FEATURE_ERROR) != 0 &&
	       __atomic_load_n(&r->intf->error, __ATOMIC_ACQUIRE) !=
		   XENSTORE_ERROR_NONE;
}

static struct pvxs *find_handle(struct ring *r, uint32_t id)
{
	for (struct pvxs *h = r->handles; h != NULL; h = h->next)
		if (h->id == id)
			return h;
	return NULL;
}

static struct watch *token_watch(struct pvxs *h, const char *token)
{
	for (struct watch *w = h->watches; w != NULL; w = w->next)
		if (strcmp(w->token, token) == 0)
			return w;
	return NULL;
}

/* "<decimal id>:" at the start of a token on the wire: the id, and the
 * caller's token after it. NULL when the token is not one of ours. */
static const char *split_token(const char *wire, uint32_t *id)
{
	uint64_t v = 0;
	const char *p = wire;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return NULL;
	}
	if (p == wire || *p != ':')
		return NULL;
	*id = (uint32_t)v;
	return p + 1;
}

/* strdup, which C11 does not have. */
static char *copy_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *c = malloc(n);

	if (c != NULL)
		memcpy(c, s, n);
	return c;
}

static void free_event(struct event *ev)
{
	free(ev->path);
	free(ev->token);
	free(ev);
}

/* Queue the complete XS_WATCH_EVENT in r->buf ("path\0token\0") on the
 * handle whose watch it is. Events for no watch of an open handle (one
 * closed or unwatched since, or a malformed event) are dropped. */
static void deliver(struct ring *r)
{
	const char *body = r->buf + HDR_LEN;
	const char *end = memchr(body, '\0', r->hdr.len);
	const char *token;
	struct pvxs *h;
	struct watch *w;
	struct event *ev;
	uint32_t id;

	if (end == NULL)
		return;
	/* buf holds a NUL after the payload, so the token is terminated
	 * even when the server left out its own NUL. */
	token = split_token(end + 1, &id);
	if (token == NULL)
		return;
	h = find_handle(r, id);
	if (h == NULL)
		return;
	w = token_watch(h, token);
	if (w == NULL)
		return;
	if (h->qlen >= QUEUE_MAX) {
		w->missed = true;
		return;
	}
	ev = calloc(1, sizeof(*ev));
	if (ev != NULL) {
		ev->path = copy_str(body);
		ev->token = copy_str(token);
	}
	if (ev == NULL || ev->path == NULL || ev->token == NULL) {
		if (ev != NULL)
			free_event(ev);
		w->missed = true;
		return;
	}
	*h->qtail = ev;
	h->qtail = &ev->next;
	h->qlen++;
}

/* What pull found. */
enum {
	PULL_EMPTY, /* the ring is empty */
	PULL_REPLY, /* the awaited reply is complete in r->buf */
	PULL_MORE,  /* PULL_MAX bytes taken, more are there */
};

/* Read what the server wrote, as far as it goes: watch events are queued
 * on their handles, late replies (to requests that timed out) dropped.
 * Reading stops at the awaited reply, so the buffer keeps it. Returns a
 * PULL_ value, or -1 + EIO when the server broke the protocol. */
static int pull(struct ring *r)
{
	struct xenstore_domain_interface *intf = r->intf;
	size_t taken = 0;
	int ret = PULL_MORE;

	if (r->broken)
		return fail(EIO);
	while (taken < PULL_MAX) {
		XENSTORE_RING_IDX cons, prod;
		size_t avail, need;

		/* Acquire: the bytes before prod are read after prod is. Each
		 * index is read once per step and checked before use. */
		prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE);
		cons = __atomic_load_n(&intf->rsp_cons, __ATOMIC_RELAXED);
		if ((XENSTORE_RING_IDX)(prod - cons) > XENSTORE_RING_SIZE)
			return broken(r);
		avail = (XENSTORE_RING_IDX)(prod - cons);
		if (avail == 0) {
			ret = PULL_EMPTY;
			break;
		}
		/* Take no more than the current message: the header, then
		 * the payload its header announced. */
		if (r->got < HDR_LEN)
			need = HDR_LEN - r->got;
		else
			need = HDR_LEN + r->hdr.len - r->got;
		if (need > avail)
			need = avail;
		ring_read(r->buf + r->got, intf->rsp, cons, need);
		/* Release: the bytes are copied out before the server may
		 * reuse their space. */
		__atomic_store_n(&intf->rsp_cons,
				 cons + (XENSTORE_RING_IDX)need,
				 __ATOMIC_RELEASE);
		taken += need;
		r->got += need;
		if (r->got == HDR_LEN) {
			/* Our own copy: the length is checked and used from
			 * here, never fetched again from shared memory. */
			memcpy(&r->hdr, r->buf, HDR_LEN);
			if (r->hdr.len > XENSTORE_PAYLOAD_MAX)
				return broken(r);
		}
		if (r->got < HDR_LEN || r->got < HDR_LEN + r->hdr.len)
			continue;
		r->buf[r->got] = '\0';
		if (r->hdr.type == XS_WATCH_EVENT) {
			deliver(r);
			r->got = 0;
			continue;
		}
		if (r->waiting && r->hdr.req_id == r->want) {
			ret = PULL_REPLY;
			break;
		}
		r->got = 0;
	}
	/* A server with a reply longer than the free space waits for us to
	 * make room. */
	if (taken > 0)
		notify(r);
	if (ret == PULL_EMPTY && server_gave_up(r))
		return broken(r);
	return ret;
}

/* Read the ring; when it is empty, wait for the port. Returns PULL_REPLY,
 * 0 to look again, or -1 + errno (ETIMEDOUT at the deadline). */
static int pull_or_wait(struct ring *r, uint64_t deadline)
{
	int rc = pull(r);

	if (rc < 0 || rc == PULL_REPLY)
		return rc;
	/* Bytes are left in the ring: their event may have been taken
	 * already, so look again instead of waiting for one. */
	if (rc == PULL_MORE)
		return uk_now_ns() >= deadline ? fail(ETIMEDOUT) : 0;
	return wait_event(r, deadline);
}

/* Write as much of p[0..len-1] into the request ring as fits. Returns the
 * number of bytes written (0: the ring is full), or -1 + EIO. */
static long put_some(struct ring *r, const char *p, size_t len)
{
	struct xenstore_domain_interface *intf = r->intf;
	XENSTORE_RING_IDX cons, prod;
	size_t space;

	/* Acquire: the server is done reading the bytes before cons before
	 * we overwrite them. */
	cons = __atomic_load_n(&intf->req_cons, __ATOMIC_ACQUIRE);
	prod = __atomic_load_n(&intf->req_prod, __ATOMIC_RELAXED);
	if ((XENSTORE_RING_IDX)(prod - cons) > XENSTORE_RING_SIZE)
		return broken(r);
	space = XENSTORE_RING_SIZE - (XENSTORE_RING_IDX)(prod - cons);
	if (space > len)
		space = len;
	ring_write(intf->req, prod, p, space);
	/* Release: the bytes are in place before the server sees prod move. */
	__atomic_store_n(&intf->req_prod, prod + (XENSTORE_RING_IDX)space,
			 __ATOMIC_RELEASE);
	return (long)space;
}

/* Write one message, in pieces when it does not fit: the server reads
 * what is there once notified, and the port tells when it made room. A
 * message left half-written (timeout) would make the server take our
 * next bytes for its rest, so the ring is broken then. */
static int send_msg(struct ring *r, const struct xsd_sockmsg *hdr,
		    const struct seg *seg, size_t nseg, uint64_t deadline)
{
	bool started = false;

	for (size_t i = 0; i <= nseg; i++) {
		const char *p = i == 0 ? (const char *)hdr : seg[i - 1].p;
		size_t len = i == 0 ? HDR_LEN : seg[i - 1].len;

		while (len > 0) {
			long n = put_some(r, p, len);

			if (n < 0)
				return -1;
			if (n > 0) {
				started = true;
				p += n;
				len -= (size_t)n;
				continue;
			}
			notify(r);
			/* Read replies and events while waiting, so the server
			 * is never stuck behind a full response ring. */
			if (pull_or_wait(r, deadline) < 0) {
				if (started)
					r->broken = true;
				return -1;
			}
		}
	}
	notify(r);
	return 0;
}

/* The errno that an XS_ERROR reply names (xs_wire.h's list, and
 * oxenstored's EQUOTA). A name we do not know is reported as EIO. */
static int error_errno(const char *name)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
	    {"EINVAL", EINVAL}, {"EACCES", EACCES},   {"EEXIST", EEXIST},
	    {"EISDIR", EISDIR}, {"ENOENT", ENOENT},   {"ENOMEM", ENOMEM},
	    {"ENOSPC", ENOSPC}, {"EIO", EIO},	      {"ENOTEMPTY", ENOTEMPTY},
	    {"ENOSYS", ENOSYS}, {"EROFS", EROFS},     {"EBUSY", EBUSY},
	    {"EAGAIN", EAGAIN}, {"EISCONN", EISCONN}, {"E2BIG", E2BIG},
	    {"EPERM", EPERM},	{"EQUOTA", EDQUOT},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i].name) == 0)
			return map[i].err;
	return EIO;
}

/* Send one request (payload: the segments, in order) and wait for its
 * reply. Returns 0 with *reply pointing at the reply's payload (*len
 * bytes, NUL-terminated after them) in the context's buffer, valid until
 * the ring is read again; or -1 + errno: the error the server named, E2BIG
 * payload too long, EIO protocol violation, ETIMEDOUT no reply in time. */
static int talk(struct ring *r, uint32_t type, uint32_t tx,
		const struct seg *seg, size_t nseg, const char **reply,
		size_t *len)
{
	struct xsd_sockmsg hdr = {.type = type, .tx_id = tx};
	uint64_t deadline = uk_now_ns() + TIMEOUT_NS;
	size_t total = 0;
	int rc;

	if (r->broken)
		return fail(EIO);
	for (size_t i = 0; i < nseg; i++)
		total += seg[i].len;
	/* xenstored drops a connection that sends more, which for a domain
	 * is for good. */
	if (total > XENSTORE_PAYLOAD_MAX)
		return fail(E2BIG);
	hdr.req_id = r->next_req++;
	hdr.len = (uint32_t)total;
	if (send_msg(r, &hdr, seg, nseg, deadline) < 0)
		return -1;
	r->waiting = true;
	r->want = hdr.req_id;
	do
		rc = pull_or_wait(r, deadline);
	while (rc == 0);
	r->waiting = false;
	if (rc < 0)
		return -1;
	/* The next read starts a new message; the reply stays in buf till
	 * then. */
	r->got = 0;
	if (r->hdr.type == XS_ERROR)
		return fail(error_errno(r->buf + HDR_LEN));
	if (r->hdr.type != type)
		return fail(EIO);
	if (reply != NULL)
		*reply = r->buf + HDR_LEN;
	if (len != NULL)
		*len = r->hdr.len;
	return 0;
}

/* A decimal number below `limit`, as the whole of s. */
static int parse_dec(const char *s, uint64_t limit, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= limit)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* ---- transactions ---- */

static int tx_start(struct ring *r, uint32_t *tx)
{
	const char *reply;

	/* The payload is one empty string. */
	if (talk(r, XS_TRANSACTION_START, 0, &(struct seg){"", 1}, 1, &reply,
		 NULL) < 0)
		return -1;
	/* 0 means "no transaction" in tx_id: a server that hands it out
	 * would have our requests done outside the transaction. */
	if (parse_dec(reply, (uint64_t)UINT32_MAX + 1, tx) < 0 || *tx == 0)
		return fail(EIO);
	return 0;
}

static int tx_end(struct ring *r, uint32_t tx, bool commit)
{
	return talk(r, XS_TRANSACTION_END, tx,
		    &(struct seg){commit ? "T" : "F", 2}, 1, NULL, NULL);
}

/* ---- the operations ---- */

static int pv_domid(vchan_xs *xs)
{
	struct ring *r = the_ring;
	const char *reply;
	uint32_t v;

	(void)xs;
	if (r->domid >= 0)
		return r->domid;
	/* Relative: the toolstack writes it into each domain's home. */
	if (talk(r, XS_READ, 0, &(struct seg){"domid", 6}, 1, &reply, NULL) < 0)
		return -1;
	if (parse_dec(reply, XS_DOMID_LIMIT, &v) < 0)
		return fail(EPROTO);
	r->domid = (int)v;
	return r->domid;
}

/* The publish steps inside transaction tx: the directory, then each key,
 * each with the permissions `perms` (plen bytes of permission strings). */
static int publish_in(struct ring *r, uint32_t tx, const char *dir,
		      const struct vchan_xs_kv *kv, size_t n, const char *perms,
		      size_t plen)
{
	/* "/" needs no separator before a key. */
	struct seg sep = {"/", strcmp(dir, "/") == 0 ? 0 : 1};
	struct seg seg[4];

	seg[0] = str_seg(dir);
	seg[1] = (struct seg){perms, plen};
	if (talk(r, XS_MKDIR, tx, seg, 1, NULL, NULL) < 0 ||
	    talk(r, XS_SET_PERMS, tx, seg, 2, NULL, NULL) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		seg[0] = (struct seg){dir, strlen(dir)};
		seg[1] = sep;
		seg[2] = str_seg(kv[i].key);
		/* A value goes without a NUL: its length is the rest of the
		 * payload. */
		seg[3] = (struct seg){kv[i].value, strlen(kv[i].value)};
		if (talk(r, XS_WRITE, tx, seg, 4, NULL, NULL) < 0)
			return -1;
		seg[3] = (struct seg){perms, plen};
		if (talk(r, XS_SET_PERMS, tx, seg, 4, NULL, NULL) < 0)
			return -1;
	}
	return 0;
}

static int pv_publish(vchan_xs *xs, const char *dir,
		      const struct vchan_xs_kv *kv, size_t n,
		      const struct vchan_xs_perm *list, size_t np)
{
	static const char letter[4] = {'n', 'r', 'w', 'b'};
	struct ring *r = the_ring;
	/* "n<self>\0r<peer>\0...": a letter and a domain id per entry. */
	char perms[(1 + VCHAN_XS_ACL_MAX) * 8];
	size_t plen = 0;

	(void)xs;
	for (size_t i = 0; i < np; i++)
		plen += (size_t)snprintf(perms + plen, sizeof(perms) - plen,
					 "%c%u", letter[list[i].acc & 3u],
					 (unsigned)list[i].domid) +
			1;
	for (int tries = 0; tries < PUBLISH_TRIES; tries++) {
		uint32_t tx;
		int err;

		if (tx_start(r, &tx) < 0)
			return -1;
		if (publish_in(r, tx, dir, kv, n, perms, plen) < 0) {
			err = errno;
			/* Abandon the transaction, unless the server is
			 * not answering (another 30 s) or cannot be talked
			 * to at all. */
			if (err != ETIMEDOUT && !r->broken)
				tx_end(r, tx, false);
			errno = err;
			return -1;
		}
		if (tx_end(r, tx, true) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
	}
	return fail(EAGAIN);
}

static char *pv_read(vchan_xs *xs, const char *path, size_t *len)
{
	struct seg seg = str_seg(path);
	const char *reply;
	size_t n;
	char *val;

	(void)xs;
	if (talk(the_ring, XS_READ, 0, &seg, 1, &reply, &n) < 0)
		return NULL;
	val = malloc(n + 1);
	if (val == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(val, reply, n + 1);
	if (len != NULL)
		*len = n;
	return val;
}

static char *pv_directory(vchan_xs *xs, const char *path, size_t *count)
{
	struct seg seg = str_seg(path);
	const char *reply;
	size_t n, k = 0;
	char *out;

	(void)xs;
	if (talk(the_ring, XS_DIRECTORY, 0, &seg, 1, &reply, &n) < 0)
		return NULL;
	/* Names, each ended by a NUL; the reply is NUL-terminated past its
	 * length too, so a last name without its NUL still ends. */
	out = malloc(n + 1);
	if (out == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(out, reply, n + 1);
	for (size_t i = 0; i < n; i++)
		k += out[i] == '\0';
	if (n > 0 && out[n - 1] != '\0')
		k++;
	*count = k;
	return out;
}

/* The owner is the first entry of the permission list, "<letter><id>". */
static int pv_owner(vchan_xs *xs, const char *path)
{
	struct seg seg = str_seg(path);
	const char *reply;
	uint32_t id;
	size_t n;

	(void)xs;
	if (talk(the_ring, XS_GET_PERMS, 0, &seg, 1, &reply, &n) < 0)
		return -1;
	if (n < 2 || strchr("nrwb", reply[0]) == NULL ||
	    parse_dec(reply + 1, XS_DOMID_LIMIT, &id) < 0)
		return fail(EPROTO);
	return (int)id;
}

static int pv_rm(vchan_xs *xs, const char *path)
{
	struct seg seg = str_seg(path);

	(void)xs;
	if (talk(the_ring, XS_RM, 0, &seg, 1, NULL, NULL) == 0 ||
	    errno == ENOENT)
		return 0;
	return -1;
}

/* XS_WATCH or XS_UNWATCH of path with this handle's form of token. */
static int watch_msg(struct pvxs *h, uint32_t type, const char *path,
		     const char *token)
{
	char prefix[16];
	struct seg seg[3];
	int plen = snprintf(prefix, sizeof(prefix), "%u:", (unsigned)h->id);

	seg[0] = str_seg(path);
	seg[1] = (struct seg){prefix, (size_t)plen};
	seg[2] = str_seg(token);
	/* xs.c let path and token through within the limit; our prefix may
	 * push them over it. */
	if (seg[0].len + seg[1].len + seg[2].len > XENSTORE_PAYLOAD_MAX)
		return fail(EINVAL);
	return talk(the_ring, type, 0, seg, 3, NULL, NULL);
}

static void free_watch(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

static void unlink_watch(struct pvxs *h, struct watch *w)
{
	for (struct watch **pp = &h->watches; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/* Drop the queued events of `token` once no watch of the handle has it. */
static void purge_token(struct pvxs *h, const char *token)
{
	struct event **pp = &h->qhead;

	if (token_watch(h, token) != NULL)
		return;
	while (*pp != NULL) {
		struct event *ev = *pp;

		if (strcmp(ev->token, token) != 0) {
			pp = &ev->next;
			continue;
		}
		*pp = ev->next;
		free_event(ev);
		h->qlen--;
	}
	h->qtail = pp;
}

static int pv_watch(vchan_xs *xs, const char *path, const char *token)
{
	struct pvxs *h = to_pvxs(xs);
	struct watch *w = calloc(1, sizeof(*w));
	int err;

	if (w == NULL)
		return fail(ENOMEM);
	w->path = copy_str(path);
	w->token = copy_str(token);
	if (w->path == NULL || w->token == NULL) {
		free_watch(w);
		return fail(ENOMEM);
	}
	/* Known before the request goes out: the first event may come
	 * before the reply. */
	w->next = h->watches;
	h->watches = w;
	if (watch_msg(h, XS_WATCH, path, token) == 0)
		return 0;
	err = errno;
	unlink_watch(h, w);
	purge_token(h, token);
	free_watch(w);
	errno = err;
	return -1;
}

/* Whether `rel`, a relative path, names the node at absolute `abs`
 * ("/local/domain/<id>/<rel>"): xenstored takes either spelling of a
 * watch's path for the same watch. */
static bool same_home_path(const char *rel, const char *abs)
{
	static const char home[] = "/local/domain/";
	const char *p;

	if (rel[0] == '/' || rel[0] == '@' ||
	    strncmp(abs, home, sizeof(home) - 1) != 0)
		return false;
	p = abs + sizeof(home) - 1;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '/' && strcmp(p + 1, rel) == 0;
}

static struct watch *find_watch(struct pvxs *h, const char *path,
				const char *token)
{
	struct watch *w;

	for (w = h->watches; w != NULL; w = w->next)
		if (strcmp(w->token, token) == 0 && strcmp(w->path, path) == 0)
			return w;
	/* The server removed the watch, so a watch of ours was set with the
	 * other spelling of this path. */
	for (w = h->watches; w != NULL; w = w->next)
		if (strcmp(w->token, token) == 0 &&
		    (same_home_path(w->path, path) ||
		     same_home_path(path, w->path)))
			return w;
	return NULL;
}

static int pv_unwatch(vchan_xs *xs, const char *path, const char *token)
{
	struct pvxs *h = to_pvxs(xs);
	struct watch *w;

	if (watch_msg(h, XS_UNWATCH, path, token) < 0)
		return -1;
	w = find_watch(h, path, token);
	if (w == NULL)
		return 0;
	unlink_watch(h, w);
	purge_token(h, token);
	free_watch(w);
	return 0;
}

/* A watch with events that found no room in the queue, if any. */
static struct watch *missed_watch(const struct pvxs *h)
{
	for (struct watch *w = h->watches; w != NULL; w = w->next)
		if (w->missed)
			return w;
	return NULL;
}

static bool has_event(const struct pvxs *h)
{
	return h->qhead != NULL || missed_watch(h) != NULL;
}

/* The fd is readable when the handle has an event, after taking what the
 * ring holds. Also when the ring is broken, so that the caller's
 * read_watch reports the error instead of sleeping forever, and when bytes
 * are left in the ring, whose event was taken already. */
static int fd_ready(void *obj)
{
	struct pvxs *h = obj;
	int rc;

	take_event(the_ring);
	rc = pull(the_ring);
	return rc < 0 || rc == PULL_MORE || has_event(h);
}

static unsigned fd_ports(void *obj, uint32_t *out, unsigned max)
{
	(void)obj;
	if (max == 0)
		return 0;
	out[0] = the_ring->port;
	return 1;
}

static const struct uk_fd_ops fd_ops = {
    .ready = fd_ready,
    .ports = fd_ports,
};

static int pv_fd(vchan_xs *xs)
{
	struct pvxs *h = to_pvxs(xs);

	if (h->fd < 0)
		h->fd = uk_fd_open(&fd_ops, h);
	return h->fd;
}

static int pv_read_watch(vchan_xs *xs, char **path, char **token)
{
	struct pvxs *h = to_pvxs(xs);
	struct event *ev;
	struct watch *w;

	take_event(the_ring);
	if (pull(the_ring) < 0)
		return -1;
	ev = h->qhead;
	if (ev != NULL) {
		h->qhead = ev->next;
		if (h->qhead == NULL)
			h->qtail = &h->qhead;
		h->qlen--;
		*path = ev->path;
		*token = ev->token;
		free(ev);
		return 1;
	}
	/* Events that found no room: the watch stands for them. */
	w = missed_watch(h);
	if (w == NULL)
		return 0;
	*path = copy_str(w->path);
	*token = copy_str(w->token);
	if (*path == NULL || *token == NULL) {
		free(*path);
		free(*token);
		*path = *token = NULL;
		return fail(ENOMEM);
	}
	w->missed = false;
	return 1;
}

static void pv_close(vchan_xs *xs)
{
	struct pvxs *h = to_pvxs(xs);
	struct ring *r = the_ring;
	bool talking = true;

	/* The ring outlives the handle: its watches must go explicitly. Once
	 * the server stops answering, asking again would only wait out
	 * another deadline per watch. */
	while (h->watches != NULL) {
		struct watch *w = h->watches;

		if (talking && watch_msg(h, XS_UNWATCH, w->path, w->token) < 0)
			talking = errno != ETIMEDOUT && !r->broken;
		h->watches = w->next;
		free_watch(w);
	}
	while (h->qhead != NULL) {
		struct event *ev = h->qhead;

		h->qhead = ev->next;
		free_event(ev);
	}
	if (h->fd >= 0)
		uk_fd_close(h->fd);
	for (struct pvxs **pp = &r->handles; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	free(h);
	if (r->handles == NULL) {
		free(r);
		the_ring = NULL;
	}
}

static const struct xs_ops pv_ops = {
    .close = pv_close,
    .domid = pv_domid,
    .publish = pv_publish,
    .owner = pv_owner,
    .read = pv_read,
    .directory = pv_directory,
    .rm = pv_rm,
    .watch = pv_watch,
    .unwatch = pv_unwatch,
    .fd = pv_fd,
    .read_watch = pv_read_watch,
};

static struct ring *ring_new(void)
{
	struct xenstore_domain_interface *intf = uk_xs_ring();
	struct ring *r;

	if (intf == NULL) {
		errno = ECONNREFUSED;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->intf = intf;
	r->port = uk_xs_port();
	r->domid = -1;
	r->next_handle = 1;
	/* Request ids differ from those of an earlier context, whose late
	 * replies may still be on their way. */
	r->next_req = (uint32_t)(uk_now_ns() >> 10);
	return r;
}

vchan_xs *vchan_xs_pv_open(void)
{
	struct pvxs *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (the_ring == NULL) {
		the_ring = ring_new();
		if (the_ring == NULL) {
			free(h);
			return NULL;
		}
	}
	h->base.ops = &pv_ops;
	h->fd = -1;
	h->id = the_ring->next_handle++;
	h->qtail = &h->qhead;
	h->next = the_ring->handles;
	the_ring->handles = h;
	return &h->base;
}
