/* common/platform.c - the platform choice, from the environment. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "common/env.h"
#include "common/platform.h"

#ifdef HAVE_PV
/* Inside a unikernel there is one platform and no environment. */
int vchan_backend_select(void)
{
	return VCHAN_PLATFORM_PV;
}

int vchan_platform_check(void)
{
	return VCHAN_PLATFORM_PV;
}
#else
int vchan_backend_select(void)
{
	int b = vchan_env_backend();

#ifndef HAVE_XEN
	if (b == VCHAN_PLATFORM_XEN) {
		fprintf(stderr,
			"vchan: the xen backend was not built (configure "
			"found no libxen-dev); set VCHAN_PLATFORM=sim\n");
		errno = ENOSYS;
		return -1;
	}
#endif
	return b;
}

int vchan_platform_check(void)
{
	return vchan_backend_select() < 0 ? -1 : vchan_env_check();
}
#endif
