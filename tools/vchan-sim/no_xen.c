/* tools/vchan-sim/no_xen.c - the drop-in libraries are built from the sim
 * backend only: inside them, grant.c's xen backend does not exist (it would
 * call the drop-ins themselves). */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "grant/backend.h"

#ifdef HAVE_XEN
static void no_xen(void)
{
	fprintf(stderr, "vchan-sim: the xen backend is not available inside "
			"the simulator's Xen libraries\n");
	errno = ENOSYS;
}

vchan_gnt *vchan_gnt_xen_open(void)
{
	no_xen();
	return NULL;
}

vchan_evt *vchan_evt_xen_open(void)
{
	no_xen();
	return NULL;
}
#endif
