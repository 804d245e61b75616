/* tests/vchan/vchan_names.c - domains named by id or by name:
 * - vchan_domid_lookup takes a decimal id as it is (no store needed) and
 *   refuses empty, too long and out-of-range names with EINVAL;
 * - dom0 finds a domain by the name at /local/domain/ID/name, and learns
 *   ENOENT for a name no domain has;
 * - a domU may not list /local/domain: EACCES, not a wrong answer;
 * - a domU reads a name in the map the tool stack publishes
 *   (/local/domain/0/data/vchan-names): the id, ENOENT for a name the map
 *   does not have, EPROTO for an entry that is no id;
 * - vchan_xs_directory lists a node's children, ENOENT for a missing
 *   node, EINVAL for a NULL count. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/vchan/vtest.h"
#include "xenstore/xs.h"

#define LIMIT_MS 20000

static int has_child(const char *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++, list += strlen(list) + 1)
		if (strcmp(list, name) == 0)
			return 1;
	return 0;
}

static int dom0(void *arg)
{
	struct vchan_xs_kv kv = {"name", "alpha"};
	char longname[300];
	size_t n = 99;
	vchan_xs *xs;
	char *list;

	(void)arg;
	xs = vchan_xs_open();
	CHECK(xs != NULL);
	/* The tool stack's part: a domain 7 named "alpha". */
	CHECK(vchan_xs_publish(xs, "/local/domain/7", &kv, 1, 7) == 0);
	list = vchan_xs_directory(xs, "/local/domain", &n);
	CHECK(list != NULL && n >= 2);
	CHECK(has_child(list, n, "7") && has_child(list, n, "0"));
	free(list);
	errno = 0;
	CHECK(vchan_xs_directory(xs, "/local/domain/8", &n) == NULL &&
	      errno == ENOENT);
	errno = 0;
	CHECK(vchan_xs_directory(xs, "/local/domain", NULL) == NULL &&
	      errno == EINVAL);
	list = vchan_xs_directory(xs, "/local/domain/7/name", &n);
	CHECK(list != NULL && n == 0);
	free(list);

	CHECK(vchan_domid_lookup("alpha") == 7);
	CHECK(vchan_domid_lookup("7") == 7);
	CHECK(vchan_domid_lookup("32751") == 32751);
	errno = 0;
	CHECK(vchan_domid_lookup("beta") == -1 && errno == ENOENT);
	/* A name that is a prefix of another's is not that domain. */
	errno = 0;
	CHECK(vchan_domid_lookup("alph") == -1 && errno == ENOENT);
	errno = 0;
	CHECK(vchan_domid_lookup("") == -1 && errno == EINVAL);
	errno = 0;
	CHECK(vchan_domid_lookup("32752") == -1 && errno == EINVAL);
	errno = 0;
	CHECK(vchan_domid_lookup(NULL) == -1 && errno == EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	errno = 0;
	CHECK(vchan_domid_lookup(longname) == -1 && errno == EINVAL);
	vchan_xs_close(xs);
	return 0;
}

/* An unprivileged domain: numbers still work, names cannot be looked up
 * (without a map). */
static int domu(void *arg)
{
	(void)arg;
	CHECK(vchan_domid_lookup("9") == 9);
	errno = 0;
	CHECK(vchan_domid_lookup("alpha") == -1 && errno == EACCES);
	return 0;
}

/* The tool stack publishes the map: "alpha" is 7, "bad" no id; the map
 * and its entries readable by every domain. */
static int publish_map(void *arg)
{
	struct vchan_xs_kv kv[2] = {{"alpha", "7"}, {"bad", "seven"}};
	vchan_xs *xs = vchan_xs_open();
	int r;

	(void)arg;
	CHECK(xs != NULL);
	r = vchan_xs_publish_acl(xs, "/local/domain/0/data/vchan-names", kv, 2,
				 VCHAN_XS_READ, NULL, 0);
	vchan_xs_close(xs);
	CHECK(r == 0);
	return 0;
}

static int domu_map(void *arg)
{
	(void)arg;
	CHECK(vchan_domid_lookup("alpha") == 7);
	errno = 0;
	CHECK(vchan_domid_lookup("beta") == -1 && errno == ENOENT);
	errno = 0;
	CHECK(vchan_domid_lookup("bad") == -1 && errno == EPROTO);
	errno = 0;
	CHECK(vchan_domid_lookup("web.example") == -1 && errno == ENOENT);
	return 0;
}

/* fn in a process of its own as domain domid: the domain id is the
 * process's (VCHAN_DOMID). */
static int as_domain(const char *name, uint32_t domid, int (*fn)(void *))
{
	pid_t p = tu_spawn_named(name, domid, fn, NULL);

	CHECK(p > 0);
	return tu_wait(p, LIMIT_MS) == 0 ? 0 : 1;
}

/* The tool stack publishes the map, then a domU reads it. */
static int map(void)
{
	CHECK(as_domain("publish_map", 0, publish_map) == 0);
	return as_domain("domu_map", CLI_DOMID, domu_map);
}

int main(void)
{
	struct tu_scenarios r = {0};

	TU_SCENARIO(&r, "dom0", as_domain("dom0", 0, dom0));
	TU_SCENARIO(&r, "domU", as_domain("domu", CLI_DOMID, domu));
	TU_SCENARIO(&r, "domU reads the map", map());
	return tu_scenarios_done(&r);
}
