/* unikernel/traps.c - the trap table, and the one dump a fault prints
 * before the domain ends as crashed. Every trap is fatal: the runtime has
 * no signals and no demand paging, so a fault is a bug to be reported,
 * not resumed. */
#include "config.h"

#include <stdint.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"

/* The frame boot.S builds: saved registers, then what Xen pushed. */
struct uk_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void uk_trap(struct uk_regs *r);

#define TRAPS(X)                                                               \
	X(0, "divide error")                                                   \
	X(1, "debug") X(2, "NMI") X(3, "breakpoint") X(4, "overflow")          \
	    X(5, "bound range") X(6, "invalid opcode")                         \
		X(7, "device not available") X(8, "double fault")              \
		    X(9, "coprocessor segment overrun") X(10, "invalid TSS")   \
			X(11, "segment not present") X(12, "stack fault")      \
			    X(13, "general protection") X(14, "page fault")    \
				X(16, "x87 floating point")                    \
				    X(17, "alignment check")                   \
					X(18, "machine check")                 \
					    X(19, "SIMD floating point")

#define DECLARE(v, name) void uk_trap_##v(void);
TRAPS(DECLARE)
#undef DECLARE

static const char *trap_name(uint64_t v)
{
	switch (v) {
#define NAME(n, name)                                                          \
	case n:                                                                \
		return name;
		TRAPS(NAME)
#undef NAME
	}
	return "unknown";
}

void uk_traps_init(void)
{
	/* Vector, DPL 0 (flags), the kernel's code segment, the handler;
	 * a zero entry ends the table. Breakpoint may be raised from ring 3
	 * (int3), where a PV kernel runs. */
	static trap_info_t table[] = {
#define ENTRY(v, name)                                                         \
	{v, (v) == 3 ? 3 : 0, FLAT_KERNEL_CS, (unsigned long)uk_trap_##v},
	    TRAPS(ENTRY)
#undef ENTRY
		{0, 0, 0, 0}};

	if (uk_hypercall(__HYPERVISOR_set_trap_table, (unsigned long)table, 0,
			 0, 0, 0) < 0)
		uk_printk("unikernel: set_trap_table failed: faults will "
			  "end the domain without a dump\n");
}

extern unsigned char uk_stack_base[], _end[];
extern unsigned char *const uk_stack_top;

/* Follow the frame-pointer chain (the runtime and its programs are built
 * with -fno-omit-frame-pointer) while it stays on our stack. */
static void backtrace(uint64_t rbp)
{
	const uint64_t lo = (uint64_t)(uintptr_t)uk_stack_base;
	const uint64_t hi = (uint64_t)(uintptr_t)uk_stack_top;

	uk_printk("backtrace (return addresses):");
	for (int i = 0; i < 24; i++) {
		const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;

		if (rbp < lo || rbp + 16 > hi || (rbp & 7) != 0)
			break;
		uk_printk(" %#lx", (unsigned long)frame[1]);
		if (frame[0] <= rbp)
			break;
		rbp = frame[0];
	}
	uk_printk("\n");
}

void uk_trap(struct uk_regs *r)
{
	static int nested;

	/* A fault while dumping one: give up at once. */
	if (nested++)
		uk_shutdown(SHUTDOWN_crash);
	uk_printk("\nunikernel: fault: vector %lu (%s), error code %#lx\n",
		  (unsigned long)r->vector, trap_name(r->vector),
		  (unsigned long)r->error);
	if (r->vector == 14)
		uk_printk("faulting address: 0x%lx (%s %s, %s)\n",
			  (unsigned long)uk_rt.shared->vcpu_info[0].arch.cr2,
			  r->error & 4 ? "user" : "kernel",
			  r->error & 2 ? "write" : "read",
			  r->error & 1 ? "protection" : "not mapped");
	/* Xen keeps the saved upcall mask above the 16 bits of cs. */
	uk_printk("rip %016lx cs %04lx rflags %08lx rsp %016lx ss %04lx\n",
		  (unsigned long)r->rip, (unsigned long)(r->cs & 0xffff),
		  (unsigned long)r->rflags, (unsigned long)r->rsp,
		  (unsigned long)(r->ss & 0xffff));
	uk_printk("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n",
		  (unsigned long)r->rax, (unsigned long)r->rbx,
		  (unsigned long)r->rcx, (unsigned long)r->rdx);
	uk_printk("rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n",
		  (unsigned long)r->rsi, (unsigned long)r->rdi,
		  (unsigned long)r->rbp, (unsigned long)r->r8);
	uk_printk("r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n",
		  (unsigned long)r->r9, (unsigned long)r->r10,
		  (unsigned long)r->r11, (unsigned long)r->r12);
	uk_printk("r13 %016lx r14 %016lx r15 %016lx\n", (unsigned long)r->r13,
		  (unsigned long)r->r14, (unsigned long)r->r15);
	backtrace(r->rbp);
	uk_shutdown(SHUTDOWN_crash);
}
