/* unikernel/uk.h - what the unikernel runtime gives a program.
 *
 * A unikernel is one program linked with libvchan-unikernel.a: the runtime
 * boots the domain (Xen x86_64 PV), maps all of its memory, then calls the
 * program's
 *     int main(int argc, char **argv);
 * with argv split from the domain's command line (the xl config's
 * `extra=`) at spaces; argv[0] is the image's name ("unikernel").
 * When main returns, the domain shuts down: status 0 powers it off, any
 * other status ends it as crashed (`xl list` shows it, on_crash applies).
 *
 * Besides this header the program has a C library subset (see
 * docs/unikernel.md): musl's string, ctype, stdlib conversion and format
 * functions, malloc/free/calloc/realloc, printf/fprintf/puts to the domain
 * console (stdout and stderr both), clock_gettime (CLOCK_MONOTONIC: Xen
 * system time; CLOCK_REALTIME: Xen's wall clock; CLOCK_BOOTTIME: since the
 * domain's first instruction), time, nanosleep/usleep, sched_yield,
 * poll() on the descriptors that vchan_fd() and friends return, exit(),
 * abort() and assert(). There are no files, sockets, threads or signals.
 */
#ifndef VCHAN_UK_H
#define VCHAN_UK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic nanoseconds since the hypervisor started (Xen system time). */
uint64_t uk_now_ns(void);

/* Nanoseconds from the domain's first instruction to now. */
uint64_t uk_uptime_ns(void);

/* Bytes of memory the domain was given, and bytes still free for malloc
 * and pages. */
size_t uk_mem_total(void);
size_t uk_mem_free(void);

/* Write to the domain console, unbuffered (as stderr is). */
void uk_console_write(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
