/* common/platform.h - the platform this process runs on (internal to the
 * library). It sits below grant/ and xenstore/, which both open the
 * backend of it.
 *
 * The two functions are public: <vchan/grant.h> declares them too, with
 * enum vchan_backend, whose values are these (grant/grant.c checks). */
#ifndef VCHAN_PLATFORM_H
#define VCHAN_PLATFORM_H

#include <vchan/api.h>

/* pv: inside a unikernel (unikernel/), the only platform there. */
enum vchan_platform {
	VCHAN_PLATFORM_XEN = 1,
	VCHAN_PLATFORM_SIM = 2,
	VCHAN_PLATFORM_PV = 3
};

/* The platform VCHAN_PLATFORM selects (enum vchan_platform); pv inside a
 * unikernel, where there is no environment. -1 + errno after one line on
 * stderr: EINVAL the variable is invalid, ENOSYS xen was not built. */
VCHAN_API int vchan_backend_select(void);

/* vchan_backend_select, then the whole environment of that platform
 * (vchan_env_check, common/env.h). Returns the platform or -1 + errno. */
VCHAN_API int vchan_platform_check(void);

#endif
