/* tests/unikernel/fake_pv.c - see fake_pv.h. Test code: plain globals,
 * and cmocka failures when the client breaks the protocol. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unikernel/fake_pv.h"
#include "unikernel/pv.h"

#define HDR	   sizeof(struct xsd_sockmsg)
#define HOME_MAX   32
#define MAX_PERMS  8
#define MAX_FDS	   16
#define RING_START 0xFFFFFE40u /* the first messages wrap the u32 */
/* Any path a client can send, made absolute. */
#define PATH_BUF (XENSTORE_PAYLOAD_MAX + HOME_MAX + 2)

struct fperm {
	uint32_t id;
	char acc; /* 'n', 'r', 'w' or 'b' */
};

struct fnode {
	char *path;
	char *val;
	size_t vlen;
	unsigned np;
	struct fperm p[MAX_PERMS]; /* p[0]: owner and everyone else */
};

struct ftree {
	struct fnode *n;
	size_t len, cap;
};

struct fwatch {
	char *given; /* as the client sent it */
	char *abs;
	char *token;
};

struct bytes {
	char *p;
	size_t len, cap;
};

struct fake_cfg fake_cfg;
struct fake_stats fake_stats;

static struct xenstore_domain_interface ring;
static uint64_t now;
static int pending;
static struct ftree tree, txtree;
static uint32_t tx_id, next_tx = 40;
static unsigned gen, tx_gen;
static char **tx_changed;
static size_t tx_nchanged;
static struct fwatch *watches;
static size_t nwatches;
static struct bytes out, held;
static char in[HDR + XENSTORE_PAYLOAD_MAX];
static size_t in_got;
static char home[HOME_MAX];
static struct {
	const struct uk_fd_ops *ops;
	void *obj;
} fds[MAX_FDS];

/* ---- the tree ---- */

static long find(const struct ftree *t, const char *path)
{
	for (size_t i = 0; i < t->len; i++)
		if (strcmp(t->n[i].path, path) == 0)
			return (long)i;
	return -1;
}

static void parse_perms(const char *text, struct fnode *nd)
{
	const char *p = text;

	nd->np = 0;
	while (*p != '\0') {
		assert_true(nd->np < MAX_PERMS);
		nd->p[nd->np].acc = *p++;
		nd->p[nd->np].id = (uint32_t)strtoul(p, (char **)&p, 10);
		nd->np++;
		if (*p == ',')
			p++;
	}
}

static struct fnode *add(struct ftree *t, const char *path)
{
	struct fnode *nd;

	if (t->len == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->n = realloc(t->n, t->cap * sizeof(*t->n));
		assert_non_null(t->n);
	}
	nd = &t->n[t->len++];
	memset(nd, 0, sizeof(*nd));
	nd->path = strdup(path);
	nd->val = strdup("");
	assert_non_null(nd->path);
	assert_non_null(nd->val);
	return nd;
}

static void set_val(struct fnode *nd, const char *val, size_t len)
{
	free(nd->val);
	nd->val = malloc(len + 1);
	assert_non_null(nd->val);
	memcpy(nd->val, val, len);
	nd->val[len] = '\0';
	nd->vlen = len;
}

static void tree_free(struct ftree *t)
{
	for (size_t i = 0; i < t->len; i++) {
		free(t->n[i].path);
		free(t->n[i].val);
	}
	free(t->n);
	memset(t, 0, sizeof(*t));
}

static void tree_copy(struct ftree *dst, const struct ftree *src)
{
	tree_free(dst);
	for (size_t i = 0; i < src->len; i++) {
		struct fnode *nd = add(dst, src->n[i].path);

		set_val(nd, src->n[i].val, src->n[i].vlen);
		nd->np = src->n[i].np;
		memcpy(nd->p, src->n[i].p, sizeof(nd->p));
	}
}

/* `child` is `parent` or below it. */
static bool is_child(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return child[0] == '/';
	return strncmp(child, parent, n) == 0 &&
	       (child[n] == '\0' || child[n] == '/');
}

static void parent_of(const char *path, char *dst)
{
	const char *slash = strrchr(path, '/');

	if (slash == path) {
		strcpy(dst, "/");
		return;
	}
	memcpy(dst, path, (size_t)(slash - path));
	dst[slash - path] = '\0';
}

static bool allowed(const struct fnode *nd, uint32_t dom, char want)
{
	char acc = nd->p[0].acc;

	if (dom == 0 || dom == nd->p[0].id)
		return true;
	for (unsigned i = 1; i < nd->np; i++)
		if (nd->p[i].id == dom)
			acc = nd->p[i].acc;
	return acc == 'b' || acc == want;
}

/* Create path and missing parents as dom, as xenstored does: a new node
 * takes its parent's permissions, owned by the creator. Returns the node
 * or NULL + errno. */
static struct fnode *create(struct ftree *t, const char *path, uint32_t dom)
{
	char par[PATH_BUF];
	struct fnode *pn, *nd;
	long i = find(t, path);

	if (i >= 0)
		return &t->n[i];
	parent_of(path, par);
	pn = create(t, par, dom);
	if (pn == NULL)
		return NULL;
	if (!allowed(pn, dom, 'w')) {
		errno = EACCES;
		return NULL;
	}
	{
		struct fperm p[MAX_PERMS];
		unsigned np = pn->np;

		memcpy(p, pn->p, sizeof(p));
		nd = add(t, path); /* may move pn */
		nd->np = np;
		memcpy(nd->p, p, sizeof(p));
		if (dom != 0)
			nd->p[0].id = dom;
	}
	return nd;
}

/* ---- output ---- */

static void put_bytes(struct bytes *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void reply_to(struct bytes *b, uint32_t type, uint32_t req_id,
		     uint32_t tx, const void *body, size_t len)
{
	struct xsd_sockmsg h = {type, req_id, tx, (uint32_t)len};

	put_bytes(b, &h, sizeof(h));
	put_bytes(b, body, len);
	if (HDR + len > fake_stats.max_rsp)
		fake_stats.max_rsp = HDR + len;
}

/* Replies go out unless the server is silent; events always do (they are
 * not answers). */
static void reply(uint32_t type, uint32_t req_id, uint32_t tx, const void *body,
		  size_t len)
{
	reply_to(fake_cfg.silent ? &held : &out, type, req_id, tx, body, len);
}

static int reply_err(const struct xsd_sockmsg *h, int err)
{
	const char *name = err == ENOENT   ? "ENOENT"
			   : err == EACCES ? "EACCES"
			   : err == EEXIST ? "EEXIST"
			   : err == EAGAIN ? "EAGAIN"
			   : err == ENOSYS ? "ENOSYS"
					   : "EINVAL";

	reply(XS_ERROR, h->req_id, h->tx_id, name, strlen(name) + 1);
	return 0;
}

static int reply_ok(const struct xsd_sockmsg *h)
{
	reply(h->type, h->req_id, h->tx_id, "OK", 3);
	return 0;
}

static void event(const char *path, const char *token)
{
	char body[2 * XENSTORE_PAYLOAD_MAX];
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;

	memcpy(body, path, pl);
	memcpy(body + pl, token, tl);
	reply_to(&out, XS_WATCH_EVENT, 0, 0, body, pl + tl);
}

/* A change at abs: every watch on it or above it fires; a removal also
 * fires the watches below it, with their own path. */
static void fire(const char *abs, bool removed)
{
	size_t hl = strlen(home);

	for (size_t i = 0; i < nwatches; i++) {
		struct fwatch *w = &watches[i];
		const char *p = abs;

		if (w->abs[0] == '@')
			continue;
		if (is_child(abs, w->abs)) {
			if (w->given[0] != '/' && strncmp(abs, home, hl) == 0 &&
			    abs[hl] == '/')
				p = abs + hl + 1;
			event(p, w->token);
		} else if (removed && is_child(w->abs, abs)) {
			event(w->given, w->token);
		}
	}
}

static void changed(const char *abs, bool removed)
{
	char **c;

	if (tx_id == 0) {
		gen++;
		fire(abs, removed);
		return;
	}
	c = realloc(tx_changed, (tx_nchanged + 1) * sizeof(*c));
	assert_non_null(c);
	tx_changed = c;
	tx_changed[tx_nchanged] = strdup(abs);
	assert_non_null(tx_changed[tx_nchanged]);
	tx_nchanged++;
}

static void tx_drop(void)
{
	for (size_t i = 0; i < tx_nchanged; i++)
		free(tx_changed[i]);
	free(tx_changed);
	tx_changed = NULL;
	tx_nchanged = 0;
	tree_free(&txtree);
	tx_id = 0;
}

/* ---- requests ---- */

static void absolute(const char *path, char *dst)
{
	int n;

	if (path[0] == '/' || path[0] == '@')
		n = snprintf(dst, PATH_BUF, "%s", path);
	else
		n = snprintf(dst, PATH_BUF, "%s/%s", home, path);
	assert_true(n > 0 && n < (int)PATH_BUF);
}

/* The first string of the payload: it must be NUL-terminated. */
static const char *first_str(const struct xsd_sockmsg *h, const char *body)
{
	assert_non_null(memchr(body, '\0', h->len));
	return body;
}

static int do_read(const struct xsd_sockmsg *h, const char *body,
		   struct ftree *t)
{
	char abs[PATH_BUF];
	long i;

	absolute(first_str(h, body), abs);
	i = find(t, abs);
	if (i < 0)
		return reply_err(h, ENOENT);
	if (!allowed(&t->n[i], FAKE_DOMID, 'r'))
		return reply_err(h, EACCES);
	reply(XS_READ, h->req_id, h->tx_id, t->n[i].val, t->n[i].vlen);
	return 0;
}

static int do_write(const struct xsd_sockmsg *h, const char *body,
		    struct ftree *t, bool mkdir)
{
	char abs[PATH_BUF];
	const char *path = first_str(h, body);
	size_t pl = strlen(path) + 1;
	struct fnode *nd;
	long i;

	absolute(path, abs);
	i = find(t, abs);
	if (i >= 0 && !allowed(&t->n[i], FAKE_DOMID, 'w'))
		return reply_err(h, EACCES);
	nd = create(t, abs, FAKE_DOMID);
	if (nd == NULL)
		return reply_err(h, errno);
	if (!mkdir)
		set_val(nd, body + pl, h->len - pl);
	if (!mkdir || i < 0)
		changed(abs, false);
	return reply_ok(h);
}

static int do_rm(const struct xsd_sockmsg *h, const char *body, struct ftree *t)
{
	char abs[PATH_BUF], par[PATH_BUF];
	long i;

	absolute(first_str(h, body), abs);
	if (strcmp(abs, "/") == 0)
		return reply_err(h, EINVAL);
	i = find(t, abs);
	if (i < 0) {
		parent_of(abs, par);
		if (find(t, par) < 0)
			return reply_err(h, ENOENT);
		return reply_ok(h);
	}
	if (!allowed(&t->n[i], FAKE_DOMID, 'w'))
		return reply_err(h, EACCES);
	for (size_t j = 0; j < t->len;) {
		if (!is_child(t->n[j].path, abs)) {
			j++;
			continue;
		}
		free(t->n[j].path);
		free(t->n[j].val);
		t->n[j] = t->n[--t->len];
	}
	changed(abs, true);
	return reply_ok(h);
}

static int do_set_perms(const struct xsd_sockmsg *h, const char *body,
			struct ftree *t)
{
	char abs[PATH_BUF], text[128] = "";
	const char *path = first_str(h, body);
	const char *p = path + strlen(path) + 1, *end = body + h->len;
	long i;

	absolute(path, abs);
	/* Every permission string is NUL-terminated, and there is one. */
	assert_true(p < end);
	assert_int_equal(end[-1], '\0');
	for (; p < end; p += strlen(p) + 1) {
		assert_true(strchr("nrwb", p[0]) != NULL);
		if (text[0] != '\0')
			strcat(text, ",");
		strcat(text, p);
	}
	i = find(t, abs);
	if (i < 0)
		return reply_err(h, ENOENT);
	if (!allowed(&t->n[i], FAKE_DOMID, 'w'))
		return reply_err(h, EACCES);
	parse_perms(text, &t->n[i]);
	changed(abs, false);
	return reply_ok(h);
}

static int do_watch(const struct xsd_sockmsg *h, const char *body)
{
	char abs[PATH_BUF];
	const char *path = first_str(h, body);
	const char *token = path + strlen(path) + 1;
	struct fwatch *w;

	assert_true(token < body + h->len);
	assert_non_null(memchr(token, '\0', (size_t)(body + h->len - token)));
	absolute(path, abs);
	for (size_t i = 0; i < nwatches; i++) {
		if (strcmp(watches[i].abs, abs) != 0 ||
		    strcmp(watches[i].token, token) != 0)
			continue;
		if (h->type == XS_WATCH)
			return reply_err(h, EEXIST);
		free(watches[i].given);
		free(watches[i].abs);
		free(watches[i].token);
		watches[i] = watches[--nwatches];
		return reply_ok(h);
	}
	if (h->type == XS_UNWATCH)
		return reply_err(h, ENOENT);
	w = realloc(watches, (nwatches + 1) * sizeof(*w));
	assert_non_null(w);
	watches = w;
	w = &watches[nwatches++];
	w->given = strdup(path);
	w->abs = strdup(abs);
	w->token = strdup(token);
	if (!fake_cfg.event_first)
		reply_ok(h);
	/* As XenStore does: the first event at once, with the watch's path. */
	event(path, token);
	if (fake_cfg.event_first)
		reply_ok(h);
	return 0;
}

static int do_tx_start(const struct xsd_sockmsg *h, const char *body)
{
	char id[16];

	assert_int_equal(h->tx_id, 0);
	assert_int_equal(h->len, 1);
	assert_int_equal(body[0], '\0');
	/* One transaction at a time is all a client of ours needs. */
	assert_int_equal(tx_id, 0);
	tx_id = next_tx++;
	tx_gen = gen;
	tree_copy(&txtree, &tree);
	snprintf(id, sizeof(id), "%u", tx_id);
	reply(XS_TRANSACTION_START, h->req_id, 0, id, strlen(id) + 1);
	return 0;
}

static int do_tx_end(const struct xsd_sockmsg *h, const char *body)
{
	assert_int_equal(h->len, 2);
	assert_int_equal(body[1], '\0');
	if (h->tx_id == 0 || h->tx_id != tx_id)
		return reply_err(h, ENOENT);
	if (body[0] == 'F') {
		fake_stats.aborts++;
		tx_drop();
		return reply_ok(h);
	}
	assert_int_equal(body[0], 'T');
	fake_stats.commits++;
	if (fake_cfg.end_eagain > 0 || gen != tx_gen) {
		if (fake_cfg.end_eagain > 0)
			fake_cfg.end_eagain--;
		tx_drop();
		return reply_err(h, EAGAIN);
	}
	tree_copy(&tree, &txtree);
	gen++;
	tx_id = 0; /* the changes below fire now */
	for (size_t i = 0; i < tx_nchanged; i++)
		fire(tx_changed[i], false);
	tx_drop();
	return reply_ok(h);
}

/* Misbehave instead of answering h; true when it did. */
static bool misbehave(const struct xsd_sockmsg *h)
{
	enum fake_bad bad = fake_cfg.bad;
	const char *name = fake_cfg.error_name;
	struct xsd_sockmsg big = {h->type, h->req_id, 0, 5000};
	char junk[100];

	if (bad == FAKE_GOOD || h->type != fake_cfg.bad_type)
		return false;
	fake_cfg.bad = FAKE_GOOD;
	switch (bad) {
	case FAKE_BIG_LEN:
		memset(junk, 'x', sizeof(junk));
		put_bytes(&out, &big, sizeof(big));
		put_bytes(&out, junk, sizeof(junk));
		return true;
	case FAKE_BAD_RSP_IDX:
		/* Zeros read as empty messages of type 0: only the index
		 * check tells this from a server that has nothing to say. */
		memset(ring.rsp, 0, sizeof(ring.rsp));
		ring.rsp_prod = ring.rsp_cons + 2000;
		fake_cfg.stuck = true;
		return true;
	case FAKE_BAD_REQ_IDX:
		reply(h->type, h->req_id, 0, "OK", 3);
		ring.req_cons = ring.req_prod - 3000;
		fake_cfg.stuck = true;
		return true;
	case FAKE_WRONG_TYPE:
		reply(XS_WRITE, h->req_id, 0, "OK", 3);
		return true;
	case FAKE_STALE_ID:
		reply(h->type, h->req_id + 77, 0, "stale", 5);
		return false; /* and the real answer */
	case FAKE_ERROR_NAME:
		reply(XS_ERROR, h->req_id, 0, name, strlen(name) + 1);
		return true;
	case FAKE_GAVE_UP:
		ring.server_features |= XENSTORE_SERVER_FEATURE_ERROR;
		ring.error = XENSTORE_ERROR_COMM;
		fake_cfg.stuck = true;
		return true;
	case FAKE_GOOD:
		break;
	}
	return false;
}

static int process(const struct xsd_sockmsg *h, const char *body)
{
	struct ftree *t = &tree;

	assert_true(h->type < XS_TYPE_COUNT);
	fake_stats.requests[h->type]++;
	if (HDR + h->len > fake_stats.max_req)
		fake_stats.max_req = HDR + h->len;
	if (misbehave(h))
		return 0;
	if (h->tx_id != 0 && h->type != XS_TRANSACTION_END) {
		if (h->tx_id != tx_id)
			return reply_err(h, ENOENT);
		t = &txtree;
	}
	switch (h->type) {
	case XS_READ:
		return do_read(h, body, t);
	case XS_WRITE:
		return do_write(h, body, t, false);
	case XS_MKDIR:
		return do_write(h, body, t, true);
	case XS_RM:
		return do_rm(h, body, t);
	case XS_SET_PERMS:
		return do_set_perms(h, body, t);
	case XS_WATCH:
	case XS_UNWATCH:
		return do_watch(h, body);
	case XS_TRANSACTION_START:
		return do_tx_start(h, body);
	case XS_TRANSACTION_END:
		return do_tx_end(h, body);
	default:
		return reply_err(h, ENOSYS);
	}
}

/* ---- the ring, server side ---- */

static void server_read(void)
{
	struct xsd_sockmsg h;

	if (fake_cfg.stuck)
		return;
	for (;;) {
		uint32_t prod = ring.req_prod, cons = ring.req_cons;
		size_t avail = prod - cons, need;

		/* The client never announces more than a ring's worth. */
		assert_true(prod - cons <= XENSTORE_RING_SIZE);
		if (avail == 0)
			return;
		if (in_got >= HDR)
			memcpy(&h, in, HDR);
		need = in_got < HDR ? HDR - in_got : HDR + h.len - in_got;
		if (need > avail)
			need = avail;
		for (size_t i = 0; i < need; i++)
			in[in_got + i] = ring.req[MASK_XENSTORE_IDX(cons + i)];
		ring.req_cons = cons + (uint32_t)need;
		pending = 1;
		in_got += need;
		if (in_got < HDR)
			continue;
		memcpy(&h, in, HDR);
		/* A domain that sends more is cut off by xenstored. */
		assert_true(h.len <= XENSTORE_PAYLOAD_MAX);
		if (in_got < HDR + h.len)
			continue;
		in_got = 0;
		process(&h, in + HDR);
		if (fake_cfg.stuck)
			return;
	}
}

static void server_write(void)
{
	size_t off = 0;

	while (off < out.len) {
		uint32_t prod = ring.rsp_prod, cons = ring.rsp_cons;
		size_t space, n;

		/* Indexes a misbehaving server broke on purpose. */
		if (prod - cons > XENSTORE_RING_SIZE)
			break;
		space = XENSTORE_RING_SIZE - (prod - cons);
		if (space == 0)
			break;
		n = out.len - off < space ? out.len - off : space;
		for (size_t i = 0; i < n; i++)
			ring.rsp[MASK_XENSTORE_IDX(prod + i)] = out.p[off + i];
		ring.rsp_prod = prod + (uint32_t)n;
		pending = 1;
		off += n;
	}
	if (off == 0)
		return;
	memmove(out.p, out.p + off, out.len - off);
	out.len -= off;
}

static void server_run(void)
{
	server_read();
	server_write();
}

/* ---- control ---- */

void fake_free(void)
{
	for (size_t i = 0; i < MAX_FDS; i++)
		if (fds[i].ops != NULL)
			fail_msg("fd %zu left open", i + 3);
	tree_free(&tree);
	tx_drop();
	for (size_t i = 0; i < nwatches; i++) {
		free(watches[i].given);
		free(watches[i].abs);
		free(watches[i].token);
	}
	free(watches);
	watches = NULL;
	nwatches = 0;
	free(out.p);
	free(held.p);
	memset(&out, 0, sizeof(out));
	memset(&held, 0, sizeof(held));
}

void fake_reset(void)
{
	fake_free();
	memset(&ring, 0, sizeof(ring));
	ring.req_cons = ring.req_prod = RING_START;
	ring.rsp_cons = ring.rsp_prod = RING_START + 0x100;
	/* Whatever was in the ring before is no message. */
	memset(ring.req, 0xA5, sizeof(ring.req));
	memset(ring.rsp, 0x5A, sizeof(ring.rsp));
	memset(&fake_cfg, 0, sizeof(fake_cfg));
	memset(&fake_stats, 0, sizeof(fake_stats));
	now = 1000000000ull;
	pending = 0;
	in_got = 0;
	gen = 0;
	snprintf(home, sizeof(home), "/local/domain/%u", FAKE_DOMID);
	fake_set("/", "", "n0");
	fake_set("/local", "", "n0,r0");
	fake_set("/local/domain", "", "r0");
	fake_set("/local/domain/0", "", "n0");
	fake_set("/local/domain/0/secret", "x", "n0");
	fake_set(home, "", "n0,r5");
	fake_set("/local/domain/5/domid", "5", "n0,r5");
	fake_set("/local/domain/5/data", "", "n5");
	fake_set("/local/domain/7", "", "n0,r7");
}

struct xenstore_domain_interface *fake_ring(void)
{
	return &ring;
}

uint64_t fake_clock(void)
{
	return now;
}

void fake_set(const char *path, const char *value, const char *perms)
{
	long i = find(&tree, path);
	struct fnode *nd = i >= 0 ? &tree.n[i] : add(&tree, path);

	set_val(nd, value, strlen(value));
	parse_perms(perms, nd);
}

void fake_write(const char *path, const char *value)
{
	struct fnode *nd = create(&tree, path, 0);

	assert_non_null(nd);
	set_val(nd, value, strlen(value));
	gen++;
	fire(path, false);
	server_write();
}

const char *fake_value(const char *path, size_t *len)
{
	long i = find(&tree, path);

	if (i < 0)
		return NULL;
	if (len != NULL)
		*len = tree.n[i].vlen;
	return tree.n[i].val;
}

const char *fake_perms(const char *path)
{
	static char text[128];
	long i = find(&tree, path);
	size_t off = 0;

	if (i < 0)
		return NULL;
	text[0] = '\0';
	for (unsigned k = 0; k < tree.n[i].np; k++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"%s%c%u", k ? "," : "",
					tree.n[i].p[k].acc, tree.n[i].p[k].id);
	return text;
}

unsigned fake_watches(void)
{
	return (unsigned)nwatches;
}

size_t fake_unsent(void)
{
	return out.len;
}

void fake_release(void)
{
	if (held.len > 0)
		put_bytes(&out, held.p, held.len);
	held.len = 0;
	server_write();
}

int fake_fd_ready(int fd)
{
	assert_true(fd >= 3 && fd < 3 + MAX_FDS);
	assert_non_null(fds[fd - 3].ops);
	return fds[fd - 3].ops->ready(fds[fd - 3].obj);
}

unsigned fake_fd_ports(int fd, uint32_t *outp, unsigned max)
{
	assert_true(fd >= 3 && fd < 3 + MAX_FDS);
	assert_non_null(fds[fd - 3].ops);
	return fds[fd - 3].ops->ports(fds[fd - 3].obj, outp, max);
}

/* ---- unikernel/pv.h ---- */

uint64_t uk_now_ns(void)
{
	return now;
}

struct xenstore_domain_interface *uk_xs_ring(void)
{
	return &ring;
}

uint32_t uk_xs_port(void)
{
	return FAKE_XS_PORT;
}

int uk_evtchn_send(uint32_t port)
{
	assert_int_equal(port, FAKE_XS_PORT);
	server_run();
	return 0;
}

int uk_evtchn_pending(uint32_t port)
{
	assert_int_equal(port, FAKE_XS_PORT);
	return pending;
}

int uk_evtchn_take(uint32_t port)
{
	int was = pending;

	assert_int_equal(port, FAKE_XS_PORT);
	pending = 0;
	return was;
}

/* The server runs while the client waits; when nothing comes, time moves
 * to the deadline at once. */
int uk_wait_ports(const uint32_t *ports, unsigned n, uint64_t deadline_ns)
{
	assert_true(n <= UK_WAIT_PORTS);
	server_run();
	for (unsigned i = 0; i < n; i++)
		if (ports[i] == FAKE_XS_PORT && pending)
			return 1;
	if (deadline_ns == 0)
		fail_msg("uk_wait_ports would sleep forever");
	if (deadline_ns > now)
		now = deadline_ns;
	return 0;
}

int uk_fd_open(const struct uk_fd_ops *ops, void *obj)
{
	for (int i = 0; i < MAX_FDS; i++)
		if (fds[i].ops == NULL) {
			fds[i].ops = ops;
			fds[i].obj = obj;
			return i + 3;
		}
	errno = EMFILE;
	return -1;
}

void uk_fd_close(int fd)
{
	assert_true(fd >= 3 && fd < 3 + MAX_FDS);
	assert_non_null(fds[fd - 3].ops);
	fds[fd - 3].ops = NULL;
	fds[fd - 3].obj = NULL;
}
