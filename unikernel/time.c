/* unikernel/time.c - monotonic time from Xen's vcpu_time_info and the
 * TSC: system_time was Xen's nanoseconds at tsc_timestamp, and the TSC
 * has moved on since, at the rate tsc_to_system_mul/tsc_shift give. */
#include "config.h"

#include <stdint.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"
#include "unikernel/uk.h"

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* (delta << shift) * mul >> 32, without losing the high bits. */
static uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

uint64_t uk_now_ns(void)
{
	volatile struct vcpu_time_info *t = &uk_rt.shared->vcpu_info[0].time;
	uint32_t version, mul;
	uint64_t tsc_stamp, system;
	int8_t shift;

	/* Xen makes version odd while it updates the record: read until a
	 * whole, even-versioned copy was seen. */
	do {
		version = t->version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		tsc_stamp = t->tsc_timestamp;
		system = t->system_time;
		mul = t->tsc_to_system_mul;
		shift = t->tsc_shift;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) != 0 || version != t->version);
	return system + scale(rdtsc() - tsc_stamp, mul, shift);
}

uint64_t uk_uptime_ns(void)
{
	return uk_now_ns() - uk_rt.boot_ns;
}
