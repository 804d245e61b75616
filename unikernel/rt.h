/* unikernel/rt.h - the runtime's internals, shared by its modules.
 *
 * The runtime is the machine's one owner: a single vCPU, event upcalls
 * masked, nothing preempts it. Its state (what Xen handed over at boot,
 * the memory map) lives in the one struct uk_rt that boot.c fills before
 * anything else runs; everything else is reached through it. */
#ifndef VCHAN_UK_RT_H
#define VCHAN_UK_RT_H

#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>

#define UK_PAGE 4096ul

struct uk_rt {
	start_info_t *si;
	shared_info_t *shared;
	uint64_t boot_ns;   /* Xen system time at our first instruction */
	unsigned long *p2m; /* pfn -> mfn (start_info's mfn_list) */
	uint64_t nr_pages;
	uint64_t first_free; /* first pfn after the builder's block */
	int domid;
	char cmdline[1024];
};

extern struct uk_rt uk_rt;

/* console.c */
void uk_console_init(void);
void uk_console_flush(void);
/* Format into the console without malloc (for fault dumps, early boot). */
void uk_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* traps.c */
void uk_traps_init(void);

/* mm.c: map every page, set up the page allocator. Returns 0 or -1. */
int uk_mm_init(void);
void uk_mm_unmap_zero(void);
uint64_t uk_pfn_to_mfn(uint64_t pfn);
uint64_t uk_mfn_to_pfn(uint64_t mfn);

/* time.c */
uint64_t uk_now_ns(void);

/* events.c */
void uk_events_init(void);

/* boot.c */
_Noreturn void uk_shutdown(unsigned reason);

static inline uint64_t uk_virt_to_pfn(const void *p)
{
	return (uint64_t)(uintptr_t)p >> 12;
}

static inline void *uk_pfn_to_virt(uint64_t pfn)
{
	return (void *)(uintptr_t)(pfn << 12);
}

#endif
