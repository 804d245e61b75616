/* unikernel/boot.c - from the first C instruction to main() and back out:
 * map shared_info, set up the thread pointer libc needs, the console,
 * traps and memory, split the command line, run main, shut down. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"
#include "unikernel/uk.h"

struct uk_rt uk_rt;

int main(int argc, char **argv);
_Noreturn void uk_boot(start_info_t *si);

/* The stack main runs on (boot.S switches to it first thing). Its lowest
 * page is unmapped by mm.c as a guard. */
#define STACK_SIZE (256u * 1024u)
unsigned char uk_stack_base[STACK_SIZE] __attribute__((aligned(4096)));
unsigned char *const uk_stack_top = uk_stack_base + STACK_SIZE;
/* A page of .bss whose mapping is replaced by shared_info's frame. */
static unsigned char shared_page[4096] __attribute__((aligned(4096)));

/* musl finds errno, the stack protector's canary and the locale through
 * %fs:0, a pointer to its thread block (struct pthread, src/internal/
 * pthread_impl.h of musl 1.2). Its fields are zero except: self (offset
 * 0) points to the block, and locale (offset 168 in musl 1.2.3 on
 * x86_64, the offset strerror reads: `objdump -d strerror.lo`) points to
 * a C locale, which is all-NULL categories. */
#define TCB_LOCALE 168
static uint64_t tcb[512] __attribute__((aligned(64)));
static void *c_locale[8];

#define MAX_ARGS 32
static char *argv_buf[MAX_ARGS + 1];

static void fatal(const char *what, long rc)
{
	uk_printk("unikernel: %s failed (%ld)\n", what, rc);
	uk_shutdown(SHUTDOWN_crash);
}

static int split_args(char *line)
{
	int argc = 0;
	char *p = line;

	argv_buf[argc++] = "unikernel";
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (argc == MAX_ARGS) {
			uk_printk("unikernel: more than %d arguments on the "
				  "command line; the rest is ignored\n",
				  MAX_ARGS - 1);
			break;
		}
		argv_buf[argc++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	argv_buf[argc] = NULL;
	return argc;
}

struct xenstore_domain_interface *uk_xs_ring(void)
{
	return uk_pfn_to_virt(uk_mfn_to_pfn(uk_rt.si->store_mfn));
}

uint32_t uk_xs_port(void)
{
	return uk_rt.si->store_evtchn;
}

_Noreturn void uk_shutdown(unsigned reason)
{
	struct sched_shutdown s = {.reason = reason};

	uk_console_flush();
	for (;;)
		uk_hypercall(__HYPERVISOR_sched_op, SCHEDOP_shutdown,
			     (unsigned long)&s, 0, 0, 0);
}

_Noreturn void uk_boot(start_info_t *si)
{
	long rc;
	int argc;

	uk_rt.si = si;
	uk_rt.p2m = (unsigned long *)si->mfn_list;
	uk_rt.nr_pages = si->nr_pages;

	/* shared_info comes as a machine address; give it a page of ours. */
	rc = uk_hypercall(__HYPERVISOR_update_va_mapping,
			  (unsigned long)shared_page, si->shared_info | 0x67,
			  UVMF_INVLPG, 0, 0);
	if (rc < 0)
		uk_shutdown(SHUTDOWN_crash); /* no console without time */
	uk_rt.shared = (shared_info_t *)shared_page;
	/* No upcalls: the runtime polls its event channels (events.c). */
	uk_rt.shared->vcpu_info[0].evtchn_upcall_mask = 1;
	uk_rt.boot_ns = uk_now_ns();

	tcb[0] = (uint64_t)(uintptr_t)tcb;
	tcb[TCB_LOCALE / 8] = (uint64_t)(uintptr_t)c_locale;
	rc = uk_hypercall(__HYPERVISOR_set_segment_base, SEGBASE_FS,
			  (unsigned long)tcb, 0, 0, 0);
	if (rc < 0)
		uk_shutdown(SHUTDOWN_crash);
	/* Clear CR0.TS: libc and protobuf-c use SSE registers. */
	uk_hypercall(__HYPERVISOR_fpu_taskswitch, 0, 0, 0, 0, 0);

	uk_console_init();
	uk_traps_init();
	if (uk_mm_init() < 0)
		fatal("mapping memory", -ENOMEM);
	uk_mm_unmap_zero();
	uk_events_init();

	/* Xen's copy is NUL-terminated within its 1024 bytes; ours ends
	 * with a NUL whatever it holds. */
	memcpy(uk_rt.cmdline, si->cmd_line, sizeof(uk_rt.cmdline) - 1);
	argc = split_args(uk_rt.cmdline);
	exit(main(argc, argv_buf));
}
