/* vchan/names.c - a domain named by its number or by its name. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vchan/vchan.h"
#include "xenstore/xs.h"

/* Xen's DOMID_FIRST_RESERVED: ids from there on are not domains'. */
#define DOMID_LIMIT 0x7FF0u

/* The names the tool stack may publish for domains that may not list the
 * domains (docs/vchan-wire.md, "Names"): <NAME_MAP>/<name> = the id. */
#define NAME_MAP "/local/domain/0/data/vchan-names"

/* A decimal domain id: its value, -1 when s is not all digits, -2 when it
 * is but out of range. */
static long parse_domid(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= DOMID_LIMIT)
			return -2;
	}
	return (long)v;
}

/* Which child of /local/domain is called `name`. Xen's tool stack writes
 * each domain's name at /local/domain/ID/name, readable by the tool stack's
 * domain and the domain itself; listing /local/domain needs the same. */
static int lookup(vchan_xs *xs, const char *name)
{
	size_t n;
	char *ids = vchan_xs_directory(xs, "/local/domain", &n);
	const char *id = ids;
	int found = -1;

	if (ids == NULL)
		return -1;
	for (size_t i = 0; i < n && found < 0; i++, id += strlen(id) + 1) {
		char path[64];
		long v = parse_domid(id);
		char *got;

		if (v < 0 || strlen(id) > 16)
			continue;
		strcpy(path, "/local/domain/");
		strcat(path, id);
		strcat(path, "/name");
		got = vchan_xs_read(xs, path, NULL);
		if (got != NULL && strcmp(got, name) == 0)
			found = (int)v;
		free(got);
	}
	free(ids);
	if (found < 0)
		errno = ENOENT;
	return found;
}

/* A name in the published map. Returns the id or -1 + errno: ENOENT the
 * map has no such name, EACCES there is no map we may read (the caller's
 * own reason stands), or the store's error. */
static int lookup_map(vchan_xs *xs, const char *name)
{
	char path[sizeof(NAME_MAP) + 257];
	size_t len = strlen(name);
	char *v;
	long id;

	/* A XenStore node name: a domain name with other characters (xl
	 * allows '.') cannot be in the map. */
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_@-") != len) {
		errno = ENOENT;
		return -1;
	}
	memcpy(path, NAME_MAP "/", sizeof(NAME_MAP));
	memcpy(path + sizeof(NAME_MAP), name, len + 1);
	v = vchan_xs_read(xs, path, NULL);
	if (v == NULL && errno == ENOENT) {
		/* No entry: in a map, or in no map at all? */
		v = vchan_xs_read(xs, NAME_MAP, NULL);
		errno = v != NULL ? ENOENT : EACCES;
		free(v);
		return -1;
	}
	if (v == NULL)
		return -1;
	id = parse_domid(v);
	free(v);
	if (id < 0) {
		errno = EPROTO;
		return -1;
	}
	return (int)id;
}

int vchan_domid_lookup(const char *name)
{
	vchan_xs *xs;
	long v;
	int id, err;

	if (name == NULL) {
		errno = EINVAL;
		return -1;
	}
	v = parse_domid(name);
	if (v >= 0)
		return (int)v;
	if (v == -2 || *name == '\0' || strlen(name) > 255) {
		errno = EINVAL;
		return -1;
	}
	xs = vchan_xs_open();
	if (xs == NULL)
		return -1;
	id = lookup(xs, name);
	/* Not allowed to list the domains (a domU): the tool stack's map. */
	if (id < 0 && errno == EACCES) {
		id = lookup_map(xs, name);
		if (id < 0 && errno != ENOENT && errno != EPROTO)
			errno = EACCES;
	}
	err = errno;
	vchan_xs_close(xs);
	errno = err;
	return id;
}
