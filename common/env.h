/* common/env.h - the environment that selects and configures a platform
 * (internal to the library; see grant.h for the variables).
 *
 * Each function validates its variable and on a bad value prints one line on
 * stderr naming the variable and what it accepts, then fails with EINVAL. */
#ifndef VCHAN_ENV_H
#define VCHAN_ENV_H

#include <stddef.h>
#include <stdint.h>

/* VCHAN_PLATFORM -> VCHAN_BACKEND_XEN / VCHAN_BACKEND_SIM, or -1. */
int vchan_env_backend(void);

/* VCHAN_DOMID (0..32751, default 0) -> *domid. Returns 0 or -1. */
int vchan_env_domid(uint32_t *domid);

/* The sim directory (VCHAN_SIM_DIR, default $XDG_RUNTIME_DIR/vchan-sim, else
 * /tmp/vchan-sim-<uid>), created with mode 0700 when missing, then checked:
 * a directory owned by this user with no group or other access. Writes the
 * path into buf. Returns 0 or -1 + errno (EINVAL too long or relative,
 * EPERM wrong owner or mode, others from mkdir). */
int vchan_env_sim_dir(char *buf, size_t size);

/* mkdir -p of `path` with mode 0700; existing directories are fine. */
int vchan_mkdirs(const char *path);

#endif
