/* common/env.h - the environment that selects and configures a platform
 * (internal to the library; see grant.h for the variables).
 *
 * Each function validates its variable and on a bad value prints one line on
 * stderr naming the variable and what it accepts, then fails with EINVAL. */
#ifndef VCHAN_ENV_H
#define VCHAN_ENV_H

#include <stddef.h>
#include <stdint.h>

/* VCHAN_PLATFORM -> VCHAN_PLATFORM_XEN / VCHAN_PLATFORM_SIM, or -1. */
int vchan_env_backend(void);

/* VCHAN_DOMID (0..32751, default 0) -> *domid. Returns 0 or -1. */
int vchan_env_domid(uint32_t *domid);

/* The sim directory, checked: a directory owned by this user with no group
 * or other access. VCHAN_SIM_DIR must name one that exists (it is never
 * created); the default, $XDG_RUNTIME_DIR/vchan-sim, else
 * /tmp/vchan-sim-<uid>, is created with mode 0700 when missing (one level:
 * its parent must exist). Writes the path into buf. Returns 0 or -1 + errno
 * (EINVAL too long or relative, ENOENT missing, ENOTDIR, EPERM wrong owner
 * or mode, others from mkdir or stat), after one line on stderr. */
int vchan_env_sim_dir(char *buf, size_t size);

/* For the xen backend: when this machine has no Xen (no /dev/xen/evtchn),
 * print one line saying so, naming VCHAN_PLATFORM and pointing to sim, and
 * return 1; otherwise return 0. errno is kept either way (an open that
 * failed keeps its own error). */
int vchan_env_xen_absent(void);

/* Print one line: the xenstored named by XENSTORED_PATH (`path`) cannot be
 * reached, with errno's reason. Keeps errno. */
void vchan_env_xenstored_unreachable(const char *path);

/* The whole environment of the platform it selects, checked as the open
 * calls check it (see vchan_platform_check in grant.h). Returns the
 * backend or -1 + errno after one line on stderr. */
int vchan_env_check(void);

#endif
