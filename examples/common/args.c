/* examples/common/args.c - command-line arguments of the example domains. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/args.h"
#include "vchan/vchan.h"

#define DOMID_MAX 32751

static int bad(const char *prog, const char *opt, const char *s,
	       const char *expected)
{
	fprintf(stderr, "%s: %s: '%s' is not %s\n", prog, opt, s, expected);
	return -1;
}

int args_long(const char *prog, const char *opt, const char *s, long min,
	      long max, long *out)
{
	char expected[96];
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min ||
	    v > max) {
		snprintf(expected, sizeof(expected), "a number from %ld to %ld",
			 min, max);
		return bad(prog, opt, s, expected);
	}
	*out = v;
	return 0;
}

int args_double(const char *prog, const char *opt, const char *s, double min,
		double max, double *out)
{
	char expected[96];
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if ((*s < '0' || *s > '9') && *s != '.')
		end = (char *)s;
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < min ||
	    v > max) {
		snprintf(expected, sizeof(expected), "a number from %g to %g",
			 min, max);
		return bad(prog, opt, s, expected);
	}
	*out = v;
	return 0;
}

int args_domid(const char *prog, const char *opt, const char *s, uint32_t *out)
{
	char expected[64], *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v > DOMID_MAX) {
		snprintf(expected, sizeof(expected), "a domain id from 0 to %d",
			 DOMID_MAX);
		return bad(prog, opt, s, expected);
	}
	*out = (uint32_t)v;
	return 0;
}

int args_domain(const char *prog, const char *opt, const char *s)
{
	uint32_t id;

	if (*s >= '0' && *s <= '9')
		return args_domid(prog, opt, s, &id);
	if (*s == '\0' || strlen(s) > 255 || strchr(s, '/') != NULL)
		return bad(prog, opt, s,
			   "a domain id, or a domain's name (1 to 255 bytes, "
			   "no '/')");
	return 0;
}

int args_port(const char *prog, const char *opt, const char *s)
{
	char path[VCHAN_PATH_MAX];

	/* The library's own rule: vchan_path refuses what it would. Real
	 * domain ids, so that no store is opened to check a name. */
	if (vchan_path(path, sizeof(path), 0, 0, s) < 0)
		return bad(prog, opt, s,
			   "a channel name: 1 to 255 of A-Z a-z 0-9 _ @ -");
	return 0;
}

int args_hostport(const char *prog, const char *opt, const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *port = colon != NULL ? colon + 1 : "";
	size_t n = strlen(port);
	char *end;
	long v;

	errno = 0;
	v = strtol(port, &end, 10);
	if (colon == NULL || n == 0 || n > 5 ||
	    strspn(port, "0123456789") != n || *end != '\0' || v > 65535 ||
	    colon - s > 255)
		return bad(prog, opt, s,
			   "HOST:PORT with a port number from 0 to 65535");
	return 0;
}

void args_getopt_error(const char *prog, int c, char **argv)
{
	if (c == ':')
		fprintf(stderr, "%s: option '%s' needs a value\n", prog,
			argv[optind - 1]);
	else if (optopt != 0)
		fprintf(stderr, "%s: unknown option '-%c'\n", prog, optopt);
	else
		fprintf(stderr, "%s: unknown option '%s'\n", prog,
			argv[optind - 1]);
}
