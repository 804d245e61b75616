/* common/env.c - platform selection from the environment. */
#include "common/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grant/grant.h"

/* Xen's DOMID_FIRST_RESERVED is 0x7FF0: ids from there on are special. */
#define DOMID_LIMIT 0x7FF0u

static int bad(const char *var, const char *val, const char *accepts)
{
	fprintf(stderr, "vchan: %s='%s' is not valid: expected %s\n", var, val,
		accepts);
	errno = EINVAL;
	return -1;
}

int vchan_env_backend(void)
{
	const char *v = getenv("VCHAN_PLATFORM");

	if (v == NULL || *v == '\0')
		return access("/dev/xen/evtchn", F_OK) == 0 ? VCHAN_BACKEND_XEN
							    : VCHAN_BACKEND_SIM;
	if (strcmp(v, "xen") == 0)
		return VCHAN_BACKEND_XEN;
	if (strcmp(v, "sim") == 0)
		return VCHAN_BACKEND_SIM;
	return bad("VCHAN_PLATFORM", v, "'xen' or 'sim'");
}

int vchan_env_domid(uint32_t *domid)
{
	const char *v = getenv("VCHAN_DOMID");
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0') {
		*domid = 0;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
	    n >= DOMID_LIMIT)
		return bad("VCHAN_DOMID", v, "a domain id from 0 to 32751");
	*domid = (uint32_t)n;
	return 0;
}

int vchan_mkdirs(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int vchan_env_sim_dir(char *buf, size_t size)
{
	const char *v = getenv("VCHAN_SIM_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (v != NULL && *v != '\0') {
		if (v[0] != '/' || strlen(v) > 200)
			return bad(
			    "VCHAN_SIM_DIR", v,
			    "an absolute directory path of at most 200 bytes");
		n = snprintf(buf, size, "%s", v);
	} else if (xdg != NULL && xdg[0] == '/' && strlen(xdg) < 180) {
		n = snprintf(buf, size, "%s/vchan-sim", xdg);
	} else {
		n = snprintf(buf, size, "/tmp/vchan-sim-%u",
			     (unsigned)getuid());
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (vchan_mkdirs(buf) < 0)
		return -1;
	if (stat(buf, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		fprintf(
		    stderr,
		    "vchan: simulator directory %s must be a directory owned "
		    "by uid %u with mode 0700 (set VCHAN_SIM_DIR to another)\n",
		    buf, (unsigned)getuid());
		errno = EPERM;
		return -1;
	}
	return 0;
}
