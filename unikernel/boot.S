/* unikernel/boot.S - the domain's first instructions, the ELF notes that
 * tell Xen's domain builder how to load us, the hypercall page, and the
 * trap entry points.
 *
 * Xen starts a 64-bit PV guest in long mode with paging on, the image
 * mapped at its link addresses (VIRT_BASE 0: virtual address = pfn << 12),
 * %rsi pointing at start_info and %rsp at a stack of the builder's. */
#include <xen/elfnote.h>

#define ELFNOTE(type, body)                 \
	.pushsection .note.Xen, "a", @note; \
	.align 4;                           \
	.long 2f - 1f;                      \
	.long 4f - 3f;                      \
	.long type;                         \
1:	.asciz "Xen";                       \
2:	.align 4;                           \
3:	body;                               \
4:	.align 4;                           \
	.popsection

ELFNOTE(XEN_ELFNOTE_GUEST_OS, .asciz "vchan-unikernel")
ELFNOTE(XEN_ELFNOTE_GUEST_VERSION, .asciz "1")
ELFNOTE(XEN_ELFNOTE_XEN_VERSION, .asciz "xen-3.0")
ELFNOTE(XEN_ELFNOTE_LOADER, .asciz "generic")
ELFNOTE(XEN_ELFNOTE_VIRT_BASE, .quad 0)
ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad 0)
ELFNOTE(XEN_ELFNOTE_ENTRY, .quad _start)
ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page)

/* Page 0 holds only this entry code: once booted, the runtime unmaps the
 * page so that a NULL dereference faults. */
	.section .text.boot, "ax"
	.globl _start
_start:
	cld
	mov uk_stack_top(%rip), %rsp
	xor %ebp, %ebp /* ends the backtrace's frame chain */
	mov %rsi, %rdi
	call uk_boot
	ud2

/* Filled by Xen: hypercall nr lives at offset 32 * nr. */
	.section .text.hypercall, "ax"
	.align 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0xcc

	.text
/* long uk_hypercall(nr, a1, a2, a3, a4, a5): Xen takes its arguments in
 * rdi, rsi, rdx, r10, r8 and clobbers rcx and r11, as a system call does.
 * The stub in the hypercall page returns straight to our caller. */
	.globl uk_hypercall
uk_hypercall:
	shl $5, %rdi
	lea hypercall_page(%rip), %rax
	add %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	jmp *%rax

/* Trap entry. Xen's frame on our stack: rcx, r11, [error code], rip, cs,
 * rflags, rsp, ss. Each stub restores rcx and r11, makes the frame
 * uniform (an error code, then the vector) and saves every register for
 * uk_trap (traps.c), which prints the dump and ends the domain. */
.macro TRAP vec, has_error
	.globl uk_trap_\vec
uk_trap_\vec:
	mov (%rsp), %rcx
	mov 8(%rsp), %r11
	add $16, %rsp
	.if \has_error == 0
	push $0
	.endif
	push $\vec
	jmp trap_common
.endm

TRAP 0, 0
TRAP 1, 0
TRAP 2, 0
TRAP 3, 0
TRAP 4, 0
TRAP 5, 0
TRAP 6, 0
TRAP 7, 0
TRAP 8, 1
TRAP 9, 0
TRAP 10, 1
TRAP 11, 1
TRAP 12, 1
TRAP 13, 1
TRAP 14, 1
TRAP 16, 0
TRAP 17, 1
TRAP 18, 0
TRAP 19, 0

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	and $-16, %rsp
	call uk_trap
	ud2

	.section .note.GNU-stack, "", @progbits
