/* unikernel/malloc.c - malloc, free, calloc, realloc over the page
 * allocator.
 *
 * Small requests (up to 2 KiB with the header) come from pages cut into
 * blocks of one power-of-two size class, kept on a free list per class;
 * larger ones get whole pages, returned to the page allocator on free.
 * Every block starts with a 16-byte header (keeps the 16-byte alignment
 * malloc promises) that names its class, so free and realloc know the
 * size and catch a pointer that malloc never returned. Out of memory is
 * NULL with errno ENOMEM, never a crash. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unikernel/pv.h"
#include "unikernel/rt.h"

#define HDR	  16u
#define MAGIC	  0x4b55u /* "UK" */
#define MIN_SHIFT 5u	  /* 32-byte blocks */
#define CLASSES	  7u	  /* 32 .. 2048 */
#define LARGE	  0xffu

struct hdr {
	uint16_t magic;
	uint8_t cls; /* size class, or LARGE */
	uint8_t free;
	uint32_t pad;
	uint64_t pages; /* LARGE: pages of the block */
};

struct free_block {
	struct hdr h;
	struct free_block *next;
};

static struct free_block *free_lists[CLASSES];

void uk_malloc_fail(const char *what, const void *p);

void uk_malloc_fail(const char *what, const void *p)
{
	uk_printk("unikernel: %s(%p): not a block malloc gave out, or freed "
		  "twice\n",
		  what, p);
	abort();
}

static struct hdr *header(void *p, const char *what)
{
	struct hdr *h = (struct hdr *)((char *)p - HDR);

	if (((uintptr_t)p & (HDR - 1)) != 0 || h->magic != MAGIC || h->free)
		uk_malloc_fail(what, p);
	return h;
}

static size_t capacity(const struct hdr *h)
{
	if (h->cls == LARGE)
		return h->pages * UK_PAGE - HDR;
	return ((size_t)1 << (h->cls + MIN_SHIFT)) - HDR;
}

static void *alloc_small(unsigned cls)
{
	size_t size = (size_t)1 << (cls + MIN_SHIFT);
	struct free_block *b = free_lists[cls];

	if (b == NULL) {
		char *page = uk_pages_alloc(1);

		if (page == NULL)
			return NULL;
		for (size_t off = 0; off < UK_PAGE; off += size) {
			struct free_block *nb =
			    (struct free_block *)(page + off);

			nb->h.magic = MAGIC;
			nb->h.cls = (uint8_t)cls;
			nb->h.free = 1;
			nb->next = free_lists[cls];
			free_lists[cls] = nb;
		}
		b = free_lists[cls];
	}
	free_lists[cls] = b->next;
	b->h.free = 0;
	return (char *)b + HDR;
}

void *malloc(size_t n)
{
	size_t total, pages;
	struct hdr *h;

	if (n > SIZE_MAX - UK_PAGE - HDR) {
		errno = ENOMEM;
		return NULL;
	}
	total = n + HDR;
	for (unsigned cls = 0; cls < CLASSES; cls++)
		if (total <= ((size_t)1 << (cls + MIN_SHIFT)))
			return alloc_small(cls);
	pages = (total + UK_PAGE - 1) / UK_PAGE;
	h = uk_pages_alloc(pages);
	if (h == NULL)
		return NULL; /* errno ENOMEM from the page allocator */
	h->magic = MAGIC;
	h->cls = LARGE;
	h->free = 0;
	h->pages = pages;
	return (char *)h + HDR;
}

void free(void *p)
{
	struct hdr *h;

	if (p == NULL)
		return;
	h = header(p, "free");
	if (h->cls == LARGE) {
		h->magic = 0;
		uk_pages_free(h, h->pages);
		return;
	}
	h->free = 1;
	((struct free_block *)h)->next = free_lists[h->cls];
	free_lists[h->cls] = (struct free_block *)h;
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n * size);
	/* Large blocks come zeroed from the page allocator; small ones may
	 * be reused. */
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	struct hdr *h;
	void *q;

	if (p == NULL)
		return malloc(n);
	h = header(p, "realloc");
	if (n <= capacity(h))
		return p;
	q = malloc(n);
	if (q == NULL)
		return NULL; /* p is untouched, as C requires */
	memcpy(q, p, capacity(h));
	free(p);
	return q;
}
