/* tools/vchan-sim/dropin.h - what libxenevtchn.so.1 (the simulator's copy)
 * lends to libxengnttab.so.1.
 *
 * The unmap notifications of grant pages name an event channel port, and
 * on the simulator a port lives in one event handle (grant/sim_evt.c). So
 * both drop-in libraries must share one copy of the sim backend: it lives
 * in libxenevtchn.so.1, which exports these calls in its own version node
 * (VCHAN_SIM_PRIVATE_1, see libxenevtchn.map); libxengnttab.so.1 links to
 * it. Nothing else should call them.
 *
 * notify_offset and notify_port take Xen's "none" value, -1 (UINT32_MAX).
 * All return as their grant.h counterparts, with errno set on failure. */
#ifndef VCHAN_SIM_DROPIN_H
#define VCHAN_SIM_DROPIN_H

#include <stdint.h>

#include "grant/grant.h"

#define DROPIN_NONE UINT32_MAX

/* A sim grant handle, whatever VCHAN_PLATFORM says. */
vchan_gnt *vchan_sim_dropin_gnt_open(void);
/* Close it as Xen does: outstanding address ranges are left alone. */
int vchan_sim_dropin_gnt_close(vchan_gnt *g);
/* vchan_gnt_share, the notification naming a port of any open xenevtchn
 * handle of this process (EINVAL when none has it). */
void *vchan_sim_dropin_share(vchan_gnt *g, uint32_t peer, uint32_t count,
			     uint32_t *refs, int writable,
			     uint32_t notify_offset, uint32_t notify_port);
int vchan_sim_dropin_unshare(vchan_gnt *g, void *addr, uint32_t count);
void *vchan_sim_dropin_map(vchan_gnt *g, uint32_t domid, uint32_t count,
			   const uint32_t *refs, int writable,
			   uint32_t notify_offset, uint32_t notify_port);
int vchan_sim_dropin_unmap(vchan_gnt *g, void *addr, uint32_t count);

/* Internal to libxenevtchn.so.1: the open event handle that has local
 * `port` bound, or NULL. */
vchan_evt *dropin_evt_for_port(uint32_t port);

#endif
