/* common/env.c - platform selection from the environment. */
#include "common/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/platform.h"

/* Xen's DOMID_FIRST_RESERVED is 0x7FF0: ids from there on are special. */
#define DOMID_LIMIT 0x7FF0u
/* The device every Xen domain with event channels has. */
#define XEN_EVTCHN_DEV "/dev/xen/evtchn"

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
		return access(XEN_EVTCHN_DEV, F_OK) == 0 ? VCHAN_PLATFORM_XEN
							 : VCHAN_PLATFORM_SIM;
	if (strcmp(v, "xen") == 0)
		return VCHAN_PLATFORM_XEN;
	if (strcmp(v, "sim") == 0)
		return VCHAN_PLATFORM_SIM;
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

/* The directory at `path` must be private to us: a directory owned by this
 * user with no group or other access. `what` names it for the messages,
 * with the variable it comes from; `given`: the user named it. Returns 0,
 * or -1 + errno (ENOENT, ENOTDIR, EPERM...) after printing one line. */
static int check_private(const char *path, const char *what, int given)
{
	struct stat st;
	int e;

	if (stat(path, &st) < 0) {
		e = errno;
		if (e == ENOENT && given)
			fprintf(stderr,
				"vchan: %s does not exist: create it with mode "
				"0700, or unset VCHAN_SIM_DIR for the "
				"default\n",
				what);
		else
			fprintf(stderr, "vchan: %s: %s\n", what, strerror(e));
		errno = e;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vchan: %s is not a directory\n", what);
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		fprintf(stderr,
			"vchan: %s must be a directory owned by uid %u with "
			"mode 0700 (it is uid %u, mode %04o)\n",
			what, (unsigned)getuid(), (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 07777));
		errno = EPERM;
		return -1;
	}
	return 0;
}

int vchan_env_sim_dir(char *buf, size_t size)
{
	const char *v = getenv("VCHAN_SIM_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char what[512];
	int n;

	if (v != NULL && *v != '\0') {
		if (v[0] != '/' || strlen(v) > 200)
			return bad(
			    "VCHAN_SIM_DIR", v,
			    "an absolute directory path of at most 200 bytes");
		n = snprintf(buf, size, "%s", v);
		if (n < 0 || (size_t)n >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* The user's directory is used as it is, never created: a
		 * typo must not leave directories about. */
		snprintf(what, sizeof(what), "VCHAN_SIM_DIR='%s'", v);
		return check_private(buf, what, 1);
	}
	if (xdg != NULL && xdg[0] == '/' && strlen(xdg) < 180) {
		n = snprintf(buf, size, "%s/vchan-sim", xdg);
		snprintf(what, sizeof(what),
			 "the simulator directory %s ($XDG_RUNTIME_DIR/"
			 "vchan-sim: VCHAN_SIM_DIR is not set)",
			 buf);
	} else {
		n = snprintf(buf, size, "/tmp/vchan-sim-%u",
			     (unsigned)getuid());
		snprintf(what, sizeof(what),
			 "the simulator directory %s (VCHAN_SIM_DIR is not "
			 "set)",
			 buf);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The default directory is made when missing, in a parent that
	 * exists ($XDG_RUNTIME_DIR or /tmp): one level, never more. */
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
		int e = errno;

		fprintf(stderr, "vchan: cannot create %s: %s\n", what,
			strerror(e));
		errno = e;
		return -1;
	}
	return check_private(buf, what, 0);
}

int vchan_env_xen_absent(void)
{
	int e = errno, absent;

	absent = access(XEN_EVTCHN_DEV, F_OK) < 0 && errno == ENOENT;
	if (absent)
		fprintf(stderr,
			"vchan: VCHAN_PLATFORM=xen, but this machine is not a "
			"Xen domain (no %s): set VCHAN_PLATFORM=sim to "
			"simulate domains on it\n",
			XEN_EVTCHN_DEV);
	errno = e;
	return absent;
}

void vchan_env_xenstored_unreachable(const char *path)
{
	int e = errno;

	fprintf(stderr,
		"vchan: XENSTORED_PATH='%s': no xenstored there (%s); unset it "
		"to use the embedded store\n",
		path, strerror(e));
	errno = e;
}

int vchan_env_check(void)
{
	int b = vchan_env_backend();
	const char *xsd;
	struct stat st;
	uint32_t domid;
	char dir[512];

	if (b == VCHAN_PLATFORM_XEN) {
		if (!vchan_env_xen_absent())
			return b;
		errno = ENODEV;
		return -1;
	}
	if (b != VCHAN_PLATFORM_SIM)
		return -1;
	if (vchan_env_domid(&domid) < 0 ||
	    vchan_env_sim_dir(dir, sizeof(dir)) < 0)
		return -1;
	xsd = getenv("XENSTORED_PATH");
	if (xsd != NULL && *xsd != '\0' && stat(xsd, &st) < 0) {
		vchan_env_xenstored_unreachable(xsd);
		return -1;
	}
	return b;
}
