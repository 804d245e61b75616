/* unikernel/include/config.h - the config.h that the project's sources
 * see when they are compiled into the unikernel runtime: the pv backends
 * only, Xen's public headers present. */
#ifndef VCHAN_UK_CONFIG_H
#define VCHAN_UK_CONFIG_H

#define _GNU_SOURCE 1
#define HAVE_PV 1
#define HAVE_XEN_IO_LIBXENVCHAN_H 1
/* Xen interface version the runtime is written against (Xen 4.14 and
 * later): without it the headers give the legacy hypercall numbers. */
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#define XEN_HAVE_PV_GUEST_ENTRY 1

/* Xen's public headers use the fixed-width types without including them. */
#include <stdint.h>

#endif
