/* tests/interop/xs_publish.c - publish keys through our xenstore/ layer
 * (its libxenstore backend when XENSTORED_PATH is set), then read them back.
 *
 *   xs_publish DIR PEER KEY=VALUE...   publish, read back, print "ok"
 *   xs_publish -r PATH                 print the value at PATH
 *   xs_publish -d PATH                 remove PATH
 * Exits 0 on success, 1 on failure (one line on stderr), 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/xs.h"

#define MAX_KEYS 16

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "xs_publish: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

static int publish(vchan_xs *xs, int argc, char **argv)
{
	struct vchan_xs_kv kv[MAX_KEYS];
	const char *dir = argv[1];
	size_t n = 0;

	for (int i = 3; i < argc && n < MAX_KEYS; i++, n++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			return 2;
		*eq = '\0';
		kv[n].key = argv[i];
		kv[n].value = eq + 1;
	}
	if (vchan_xs_publish(xs, dir, kv, n, (uint32_t)atoi(argv[2])) < 0)
		return fail("publish", dir);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		char *v;

		snprintf(path, sizeof(path), "%s/%s", dir, kv[i].key);
		v = vchan_xs_read(xs, path, NULL);
		if (v == NULL)
			return fail("read", path);
		if (strcmp(v, kv[i].value) != 0) {
			fprintf(stderr, "xs_publish: %s reads '%s', not '%s'\n",
				path, v, kv[i].value);
			free(v);
			return 1;
		}
		free(v);
	}
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	vchan_xs *xs;
	int rc;

	if (argc < 3 || (argv[1][0] == '-' && argc != 3) ||
	    (argv[1][0] != '-' && argc < 4)) {
		fprintf(stderr, "usage: xs_publish DIR PEER KEY=VALUE...\n"
				"       xs_publish -r PATH | -d PATH\n");
		return 2;
	}
	xs = vchan_xs_open();
	if (xs == NULL)
		return fail("open", "store");
	if (strcmp(argv[1], "-r") == 0) {
		char *v = vchan_xs_read(xs, argv[2], NULL);

		rc = v == NULL ? fail("read", argv[2]) : 0;
		if (v != NULL)
			printf("%s\n", v);
		free(v);
	} else if (strcmp(argv[1], "-d") == 0) {
		rc = vchan_xs_rm(xs, argv[2]) < 0 ? fail("rm", argv[2]) : 0;
	} else {
		rc = publish(xs, argc, argv);
	}
	vchan_xs_close(xs);
	return rc;
}
