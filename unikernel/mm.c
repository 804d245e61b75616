/* unikernel/mm.c - memory: every page of the domain mapped at virtual
 * address pfn << 12, a page allocator over the free ones, and an area of
 * virtual addresses above RAM for frames that are not ours (grant table
 * frames, a peer's granted pages).
 *
 * Page tables of a PV guest are read-only to it: each change is an
 * mmu_update hypercall naming the machine address of the entry, and a
 * page becomes a page table only once every mapping of it is read-only.
 * The domain builder maps one block (image, start_info, rings, p2m, the
 * initial tables, rounded up to 4 MiB); the rest is mapped here. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xen/xen.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"
#include "unikernel/uk.h"

#define PTE_P	  0x001ull
#define PTE_RW	  0x002ull
#define PTE_USER  0x004ull
#define PTE_A	  0x020ull
#define PTE_D	  0x040ull
#define PTE_PSE	  0x080ull
#define PTE_NX	  (1ull << 63)
#define PTE_FRAME 0x000ffffffffff000ull
/* Data pages, and tables (a 64-bit PV kernel runs in ring 3). */
#define PROT_DATA  (PTE_P | PTE_RW | PTE_USER | PTE_A | PTE_D)
#define PROT_TABLE (PTE_P | PTE_RW | PTE_USER | PTE_A | PTE_D)

/* Foreign mappings live here: 4 GiB up, 256 MiB of addresses (enough for
 * 64 grant table frames and a few hundred channels of 1 MiB rings). */
#define VA_BASE	 0x100000000ull
#define VA_PAGES 65536u

static struct {
	uint64_t *used; /* bitmap over pfns: 1 = not free */
	uint64_t nfree;
	uint64_t hint; /* where the next search starts */
	uint64_t va_used[VA_PAGES / 64];
} mm;

extern unsigned char _end[], uk_stack_base[];

uint64_t uk_pfn_to_mfn(uint64_t pfn)
{
	return uk_rt.p2m[pfn];
}

uint64_t uk_mfn_to_pfn(uint64_t mfn)
{
	return ((const unsigned long *)HYPERVISOR_VIRT_START)[mfn];
}

uint64_t uk_virt_to_mfn(const void *addr)
{
	return uk_pfn_to_mfn(uk_virt_to_pfn(addr));
}

static uint64_t *table_of(uint64_t entry)
{
	return uk_pfn_to_virt(uk_mfn_to_pfn((entry & PTE_FRAME) >> 12));
}

static int mmu_update(uint64_t ptr, uint64_t val)
{
	mmu_update_t u = {.ptr = ptr, .val = val};

	return (int)uk_hypercall(__HYPERVISOR_mmu_update, (unsigned long)&u, 1,
				 0, DOMID_SELF, 0);
}

/* The page-table entry of `va` at level 1, creating the tables above it
 * with pages from `take` (which returns a zeroed, mapped page or NULL).
 * NULL when a table was needed and none could be had. */
static uint64_t *need_pte(uint64_t va, void *(*take)(void))
{
	uint64_t *tab = (uint64_t *)uk_rt.si->pt_base;
	uint64_t mfn = uk_virt_to_mfn(tab);

	for (int level = 4; level > 1; level--) {
		unsigned idx = (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;

		if (!(tab[idx] & PTE_P)) {
			uint64_t *page = take(), pfn, new_mfn;

			if (page == NULL)
				return NULL;
			pfn = uk_virt_to_pfn(page);
			new_mfn = uk_pfn_to_mfn(pfn);
			/* Our own mapping of the new table must be read-only
			 * before Xen accepts it as one. */
			if (uk_hypercall(__HYPERVISOR_update_va_mapping,
					 (unsigned long)page,
					 (new_mfn << 12) | PTE_P | PTE_USER |
					     PTE_A,
					 UVMF_INVLPG, 0, 0) < 0 ||
			    mmu_update((mfn << 12) + idx * 8,
				       (new_mfn << 12) | PROT_TABLE) < 0)
				return NULL;
		}
		if (tab[idx] & PTE_PSE)
			return NULL; /* the builder maps no large pages */
		mfn = (tab[idx] & PTE_FRAME) >> 12;
		tab = table_of(tab[idx]);
	}
	return &tab[(va >> 12) & 511u];
}

static uint64_t pte_maddr(const uint64_t *pte)
{
	return (uk_virt_to_mfn(pte) << 12) +
	       ((uint64_t)(uintptr_t)pte & (UK_PAGE - 1));
}

/* While mapping memory at boot, tables come from the next free pfn: it is
 * inside the builder's block (mapped), or just mapped by us. */
static uint64_t boot_next;

static void *take_boot(void)
{
	void *p = uk_pfn_to_virt(boot_next++);

	memset(p, 0, UK_PAGE);
	return p;
}

static int is_used(uint64_t pfn)
{
	return (mm.used[pfn / 64] >> (pfn % 64)) & 1;
}

static void mark(uint64_t pfn, int used)
{
	if (used)
		mm.used[pfn / 64] |= 1ull << (pfn % 64);
	else
		mm.used[pfn / 64] &= ~(1ull << (pfn % 64));
}

/* Map pfns [from, to) at their addresses, a level-1 table's worth of
 * entries per hypercall. Tables are taken before the batch that needs them
 * and the batch is sent at each 2 MiB boundary, so a table page is always
 * one that is mapped already (take_boot memsets it). */
static int map_range(uint64_t from, uint64_t to)
{
	static mmu_update_t batch[512];
	unsigned n = 0;

	for (uint64_t pfn = from; pfn < to; pfn++) {
		uint64_t *pte = need_pte(pfn << 12, take_boot);

		if (pte == NULL)
			return -1;
		if (!(*pte & PTE_P)) {
			batch[n].ptr = pte_maddr(pte);
			batch[n].val = (uk_pfn_to_mfn(pfn) << 12) | PROT_DATA;
			n++;
		}
		if (n > 0 && (((pfn + 1) & 511) == 0 || pfn + 1 == to)) {
			if (uk_hypercall(__HYPERVISOR_mmu_update,
					 (unsigned long)batch, n, 0, DOMID_SELF,
					 0) < 0)
				return -1;
			n = 0;
		}
	}
	return 0;
}

int uk_mm_init(void)
{
	start_info_t *si = uk_rt.si;
	uint64_t pt_end =
	    uk_virt_to_pfn((void *)si->pt_base) + si->nr_pt_frames;
	uint64_t pfn, words, map_pages;

	/* The builder's block: everything up to its page tables (the boot
	 * stack after them is free: boot.S left it). */
	uk_rt.first_free = pt_end;
	boot_next = pt_end;
	if (map_range(pt_end, uk_rt.nr_pages) < 0)
		return -1;

	/* The allocator's bitmap, then everything below it is taken. */
	words = (uk_rt.nr_pages + 63) / 64;
	map_pages = (words * 8 + UK_PAGE - 1) / UK_PAGE;
	mm.used = uk_pfn_to_virt(boot_next);
	memset(mm.used, 0, map_pages * UK_PAGE);
	boot_next += map_pages;
	for (pfn = 0; pfn < uk_rt.nr_pages; pfn++)
		mark(pfn, pfn < boot_next);
	mm.nfree = uk_rt.nr_pages - boot_next;
	mm.hint = boot_next;

	/* A stack overflow faults on this page instead of silently
	 * overwriting what lies below the stack. */
	return (int)uk_hypercall(__HYPERVISOR_update_va_mapping,
				 (unsigned long)uk_stack_base, 0, UVMF_INVLPG,
				 0, 0) < 0
		   ? -1
		   : 0;
}

void uk_mm_unmap_zero(void)
{
	/* Page 0 held only the entry code. */
	uk_hypercall(__HYPERVISOR_update_va_mapping, 0, 0, UVMF_INVLPG, 0, 0);
}

/* First fit over the pfn bitmap, from the hint, then from the start. */
static int64_t find_run(uint64_t count)
{
	for (int pass = 0; pass < 2; pass++) {
		uint64_t from = pass == 0 ? mm.hint : uk_rt.first_free;
		uint64_t to = pass == 0 ? uk_rt.nr_pages : mm.hint + count;
		uint64_t run = 0;

		if (to > uk_rt.nr_pages)
			to = uk_rt.nr_pages;
		for (uint64_t pfn = from; pfn < to; pfn++) {
			if (is_used(pfn)) {
				run = 0;
				continue;
			}
			if (++run == count)
				return (int64_t)(pfn + 1 - count);
		}
	}
	return -1;
}

void *uk_pages_alloc(size_t count)
{
	int64_t first;

	if (count == 0 || count > mm.nfree || (first = find_run(count)) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	for (uint64_t i = 0; i < count; i++)
		mark((uint64_t)first + i, 1);
	mm.nfree -= count;
	mm.hint = (uint64_t)first + count;
	memset(uk_pfn_to_virt((uint64_t)first), 0, count * UK_PAGE);
	return uk_pfn_to_virt((uint64_t)first);
}

void uk_pages_free(void *addr, size_t count)
{
	uint64_t first = uk_virt_to_pfn(addr);

	for (uint64_t i = 0; i < count; i++)
		mark(first + i, 0);
	mm.nfree += count;
	if (first < mm.hint)
		mm.hint = first;
}

size_t uk_mem_total(void)
{
	return (size_t)(uk_rt.nr_pages * UK_PAGE);
}

size_t uk_mem_free(void)
{
	return (size_t)(mm.nfree * UK_PAGE);
}

static void *take_page(void)
{
	return uk_pages_alloc(1);
}

static int va_used(uint64_t i)
{
	return (mm.va_used[i / 64] >> (i % 64)) & 1;
}

void *uk_va_alloc(size_t count)
{
	uint64_t run = 0;

	for (uint64_t i = 0; i < VA_PAGES && count > 0; i++) {
		uint64_t first;

		if (va_used(i)) {
			run = 0;
			continue;
		}
		if (++run < count)
			continue;
		first = i + 1 - count;
		/* Tables for the range first: a grant map needs the
		 * level-1 entry to exist. */
		for (uint64_t j = first; j <= i; j++)
			if (need_pte(VA_BASE + j * UK_PAGE, take_page) ==
			    NULL) {
				errno = ENOMEM;
				return NULL;
			}
		for (uint64_t j = first; j <= i; j++)
			mm.va_used[j / 64] |= 1ull << (j % 64);
		return (void *)(uintptr_t)(VA_BASE + first * UK_PAGE);
	}
	errno = ENOMEM;
	return NULL;
}

void uk_va_free(void *addr, size_t count)
{
	uint64_t first = ((uint64_t)(uintptr_t)addr - VA_BASE) / UK_PAGE;

	for (uint64_t j = first; j < first + count; j++)
		mm.va_used[j / 64] &= ~(1ull << (j % 64));
}

int uk_va_map(void *va, uint64_t mfn, int writable)
{
	uint64_t val = 0;
	long rc;

	if (mfn != UK_NO_MFN)
		val = (mfn << 12) | PTE_P | PTE_USER | PTE_A |
		      (writable ? PTE_RW | PTE_D : 0);
	rc = uk_hypercall(__HYPERVISOR_update_va_mapping,
			  (unsigned long)(uintptr_t)va, val, UVMF_INVLPG, 0, 0);
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return 0;
}
