/* tests/fuzz/fuzz_xs_embedded.c - the embedded XenStore
 * (xenstore/embedded.c, embedded_watch.c) shared by four domains.
 *
 * One handle per domain 0-3 (VCHAN_DOMID at open), on a store in a
 * temporary directory emptied for each input. The input is a list of
 * operations, each by one of the domains, on a few paths in the domains'
 * homes (absolute or relative): publish (a value that names its writer
 * and its peer), read, rm, directory, watch, unwatch and taking watch
 * events. Invariants:
 *  - a read that succeeds returns only what the domain may read: a
 *    published value only to domain 0, its writer or its peer (publish
 *    gives {writer: none} + {peer: read}), a home's "domid" only to
 *    domain 0 and that domain, with that id;
 *  - a domain other than 0 never publishes into another domain's home,
 *    nor removes a node that exists there (EACCES), and the node is
 *    still there after the refusal;
 *  - every call fails, if it does, with an errno of the API, and watch
 *    events carry a token of a watch the domain set, and a path;
 *  - no crash, no leak; each handle closes.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"
#include "xenstore/backend.h"
#include "xenstore/xs.h"

#define NDOM 4

static char dir[64];
static unsigned serial;

struct st {
	const uint8_t *p, *end;
	vchan_xs *xs[NDOM];
	int watching[NDOM][4]; /* token t<i> is watched now */
	int watched[NDOM][4];  /* ... or was */
};

static const char *const subs[] = {"data/a",	"data/a/b", "data/b",
				   "data/a/k1", "data",	    ""};
static const char *const keys[] = {"k1", "k2", "b"};

/* The libxenstore backend is never chosen here (no XENSTORED_PATH). */
vchan_xs *vchan_xs_libxs_open(void)
{
	errno = ENOSYS;
	return NULL;
}

static unsigned next8(struct st *s)
{
	return s->p < s->end ? *s->p++ : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void wipe(void)
{
	char xs[128];

	snprintf(xs, sizeof(xs), "%s/xs", dir);
	nftw(xs, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	wipe();
	rmdir(dir);
}

/* A path in domain t's home, as domain d names it: absolute, or relative
 * when it is d's own home. */
static void path_of(char *out, size_t size, unsigned d, unsigned t,
		    const char *sub, int relative)
{
	if (relative && d == t && *sub != '\0')
		snprintf(out, size, "%s", sub);
	else if (*sub == '\0')
		snprintf(out, size, "/local/domain/%u", t);
	else
		snprintf(out, size, "/local/domain/%u/%s", t, sub);
}

/* Whether domain 0 sees the node at absolute path `p`. */
static int exists(struct st *s, const char *p)
{
	char *v = vchan_xs_read(s->xs[0], p, NULL);

	free(v);
	CHECK(v != NULL || errno == ENOENT);
	return v != NULL;
}

static void check_read(unsigned d, unsigned t, const char *p, const char *v)
{
	unsigned w, peer, n;
	size_t l = strlen(p);

	if (l >= 6 && strcmp(p + l - 6, "/domid") == 0 &&
	    strstr(p, "/data") == NULL) {
		char id[16];

		CHECK(d == 0 || d == t);
		snprintf(id, sizeof(id), "%u", t);
		CHECK(strcmp(v, id) == 0);
		return;
	}
	if (sscanf(v, "w%up%u.%u", &w, &peer, &n) == 3)
		CHECK(d == 0 || d == w || d == peer);
	else
		CHECK(*v == '\0'); /* a directory, or made by the layout */
}

static void op(struct st *s, unsigned o)
{
	unsigned d = o % NDOM, t = next8(s), x = next8(s);
	const char *sub = subs[(t >> 2) % (sizeof(subs) / sizeof(subs[0]))];
	char p[160], kp[200], val[48], *v, *tok;
	struct vchan_xs_kv kv[2];
	int rc, had, rel = (t & 0x80) != 0;
	size_t n;

	t %= NDOM;
	path_of(p, sizeof(p), d, t, sub, rel);
	switch (o >> 2 & 7) {
	case 0:
	case 1: /* publish one or two keys, for a peer */
	{
		unsigned peer = x % (NDOM + 1);

		snprintf(val, sizeof(val), "w%up%u.%u", d, peer, serial++);
		kv[0].key = keys[x >> 3 & 1];
		kv[0].value = val;
		kv[1].key = keys[2 - (x >> 4 & 1)];
		kv[1].value = val;
		had = d != 0 && t != d && exists(s, p);
		rc = vchan_xs_publish(s->xs[d], p, kv, 1 + (x >> 5 & 1), peer);
		if (rc < 0)
			CHECK(errno == EACCES || errno == EINVAL ||
			      errno == ENOTDIR);
		if (d != 0 && t != d) {
			CHECK(rc < 0);
			CHECK(errno == EACCES || errno == EINVAL);
			path_of(p, sizeof(p), 0, t, sub, 0);
			CHECK(exists(s, p) == had);
		}
		break;
	}
	case 2:
	case 3: /* read a key, a directory or the domid */
		if (x & 1)
			snprintf(kp, sizeof(kp), "%s/%s", p, keys[x >> 1 & 1]);
		else if (x & 2)
			snprintf(kp, sizeof(kp), "/local/domain/%u/domid", t);
		else
			snprintf(kp, sizeof(kp), "%s", p);
		v = vchan_xs_read(s->xs[d], kp, &n);
		if (v == NULL) {
			CHECK(errno == ENOENT || errno == EACCES ||
			      errno == EINVAL);
			break;
		}
		CHECK(strlen(v) == n);
		check_read(d, t, kp, v);
		free(v);
		break;
	case 4: /* rm */
		if (x & 1)
			snprintf(kp, sizeof(kp), "%s/%s", p, keys[x >> 1 & 1]);
		else
			snprintf(kp, sizeof(kp), "%s", p);
		path_of(p, sizeof(p), 0, t, "", 0);
		had = 0;
		if (d != 0 && t != d) {
			char abs[200];

			snprintf(abs, sizeof(abs), "%s", kp);
			if (abs[0] != '/')
				break; /* relative: in d's own home */
			had = exists(s, abs);
		}
		rc = vchan_xs_rm(s->xs[d], kp);
		if (rc < 0)
			CHECK(errno == EACCES || errno == EINVAL);
		if (had) {
			CHECK(rc < 0 && errno == EACCES);
			CHECK(exists(s, kp));
		}
		break;
	case 5: /* directory */
		v = vchan_xs_directory(s->xs[d], p, &n);
		if (v == NULL)
			CHECK(errno == ENOSYS || errno == ENOENT ||
			      errno == EACCES || errno == EINVAL);
		free(v);
		break;
	case 6: /* watch, unwatch */
	{
		char token[4];
		unsigned i = x % 4;

		snprintf(token, sizeof(token), "t%u", i);
		if (s->watching[d][i] == 0) {
			rc = vchan_xs_watch(s->xs[d], p, token);
			if (rc == 0)
				s->watching[d][i] = s->watched[d][i] = 1;
			else
				CHECK(errno == EINVAL || errno == EMFILE ||
				      errno == EUSERS || errno == ENOSPC);
		} else {
			/* Not necessarily the path it watches. */
			rc = vchan_xs_unwatch(s->xs[d], p, token);
			if (rc == 0)
				s->watching[d][i] = 0;
			else
				CHECK(errno == ENOENT);
		}
		break;
	}
	case 7: /* take events */
		for (int i = 0; i < 16; i++) {
			char *ep;

			rc = vchan_xs_read_watch(s->xs[d], &ep, &tok);
			if (rc <= 0) {
				CHECK(rc == 0);
				break;
			}
			CHECK(strlen(tok) == 2 && tok[0] == 't' &&
			      tok[1] >= '0' && tok[1] < '4');
			CHECK(s->watched[d][tok[1] - '0']);
			CHECK(*ep != '\0');
			free(ep);
			free(tok);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st *s;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/fuzz_xs.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		CHECK(mkdtemp(dir) != NULL);
		setenv("VCHAN_SIM_DIR", dir, 1);
		setenv("VCHAN_PLATFORM", "sim", 1);
		unsetenv("XENSTORED_PATH");
		atexit(cleanup);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 0;
	s->p = data;
	s->end = data + size;
	wipe();
	for (unsigned d = 0; d < NDOM; d++) {
		char id[8];

		snprintf(id, sizeof(id), "%u", d);
		setenv("VCHAN_DOMID", id, 1);
		s->xs[d] = vchan_xs_open();
		CHECK(s->xs[d] != NULL);
		CHECK(vchan_xs_domid(s->xs[d]) == (int)d);
	}
	while (s->p < s->end)
		op(s, next8(s));
	for (unsigned d = 0; d < NDOM; d++)
		CHECK(vchan_xs_close(s->xs[d]) == 0);
	free(s);
	return 0;
}
