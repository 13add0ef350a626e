// SPDX-License-Identifier: MIT
/*
 * Guest memory: a memfd cut into one or two regions, each mapped on its own,
 * and a page allocator over them (one bitmap per region, next-fit).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fe_priv.h"

#define BITS_PER_WORD 64u

static bool page_used(const struct fe_region *r, size_t i)
{
	return r->bitmap[i / BITS_PER_WORD] & (1ull << (i % BITS_PER_WORD));
}

static void mark_pages(struct fe_region *r, size_t first, size_t n, bool used)
{
	for (size_t i = first; i < first + n; i++) {
		if (used)
			r->bitmap[i / BITS_PER_WORD] |= 1ull << (i % BITS_PER_WORD);
		else
			r->bitmap[i / BITS_PER_WORD] &= ~(1ull << (i % BITS_PER_WORD));
	}
}

int fe_mem_init(struct fe *fe)
{
	uint64_t total = fe->opts.mem_size;
	uint64_t off = 0;
	int err;

	fe->nregions = fe->opts.mem_regions;
	fe->memfd = memfd_create("vufsfe-guest-ram", MFD_CLOEXEC);
	if (fe->memfd < 0)
		return fe_err(fe, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fe->memfd, (off_t)total) < 0) {
		err = -errno;
		return fe_err(fe, err, "ftruncate guest memory to %llu bytes: %s",
			      (unsigned long long)total, strerror(-err));
	}
	for (unsigned int i = 0; i < fe->nregions; i++) {
		struct fe_region *r = &fe->regions[i];
		uint64_t size = fe->nregions == 1 ? total : total / 2;
		void *p;

		r->gpa = i == 0 ? 0 : FE_REGION1_GPA;
		r->size = size;
		r->mmap_offset = off;
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, (off_t)off);
		if (p == MAP_FAILED) {
			err = -errno;
			return fe_err(fe, err, "mmap guest region %u: %s", i, strerror(-err));
		}
		r->host = p;
		r->npages = size / FE_PAGE_SIZE;
		r->bitmap = calloc((r->npages + BITS_PER_WORD - 1) / BITS_PER_WORD, sizeof(uint64_t));
		r->alloc_len = calloc(r->npages, sizeof(uint32_t));
		if (!r->bitmap || !r->alloc_len)
			return fe_err(fe, -ENOMEM, "guest allocator: out of memory");
		/* Never hand out a region's first page: keeps buffers off GPA 0. */
		mark_pages(r, 0, 1, true);
		r->alloc_len[0] = 1;
		r->used_pages = 1;
		r->hint = 1;
		off += size;
	}
	return 0;
}

void fe_mem_fini(struct fe *fe)
{
	for (unsigned int i = 0; i < FE_MAX_REGIONS; i++) {
		struct fe_region *r = &fe->regions[i];

		if (r->host)
			munmap(r->host, r->size);
		free(r->bitmap);
		free(r->alloc_len);
		memset(r, 0, sizeof(*r));
	}
	if (fe->memfd >= 0)
		close(fe->memfd);
	fe->memfd = -1;
}

/* First run of n free pages at or after start (before end); returns end if none. */
static size_t find_run(const struct fe_region *r, size_t start, size_t end, size_t n)
{
	size_t i = start;

	while (i + n <= end) {
		size_t run = 0;

		if ((i % BITS_PER_WORD) == 0 && r->bitmap[i / BITS_PER_WORD] == ~0ull) {
			i += BITS_PER_WORD;
			continue;
		}
		while (run < n && !page_used(r, i + run))
			run++;
		if (run == n)
			return i;
		i += run + 1;
	}
	return end;
}

static void *region_alloc(struct fe_region *r, size_t n)
{
	size_t at;

	if (n > r->npages - r->used_pages)
		return NULL;
	at = find_run(r, r->hint, r->npages, n);
	if (at == r->npages)
		at = find_run(r, 1, r->npages, n);
	if (at == r->npages)
		return NULL;
	mark_pages(r, at, n, true);
	r->alloc_len[at] = (uint32_t)n;
	r->used_pages += n;
	r->hint = at + n < r->npages ? at + n : 1;
	return r->host + at * FE_PAGE_SIZE;
}

void *fe_guest_alloc(struct fe *fe, size_t size)
{
	size_t n = (size + FE_PAGE_SIZE - 1) / FE_PAGE_SIZE;

	if (!fe || n == 0 || n > UINT32_MAX)
		return NULL;
	/* Rotate over the regions so requests mix both of them. */
	for (unsigned int k = 0; k < fe->nregions; k++) {
		unsigned int i = (fe->alloc_rr + k) % fe->nregions;
		void *p = region_alloc(&fe->regions[i], n);

		if (p) {
			fe->alloc_rr = i + 1;
			return p;
		}
	}
	return NULL;
}

static struct fe_region *region_of(const struct fe *fe, const void *ptr, size_t len)
{
	const uint8_t *p = ptr;

	for (unsigned int i = 0; i < fe->nregions; i++) {
		const struct fe_region *r = &fe->regions[i];

		if (p >= r->host && p < r->host + r->size && len <= (size_t)(r->host + r->size - p))
			return (struct fe_region *)r;
	}
	return NULL;
}

void fe_guest_free(struct fe *fe, void *ptr)
{
	struct fe_region *r;
	size_t page;
	uint32_t n;

	if (!fe || !ptr)
		return;
	r = region_of(fe, ptr, 1);
	if (!r)
		abort();	/* not guest memory: a bug in the caller */
	page = (size_t)((uint8_t *)ptr - r->host) / FE_PAGE_SIZE;
	n = r->alloc_len[page];
	if (n == 0 || page == 0 || ((uint8_t *)ptr - r->host) % FE_PAGE_SIZE)
		abort();	/* double or bogus free */
	r->alloc_len[page] = 0;
	mark_pages(r, page, n, false);
	r->used_pages -= n;
}

bool fe_guest_contains(const struct fe *fe, const void *ptr, size_t len)
{
	return region_of(fe, ptr, len) != NULL;
}

int fe_guest_gpa(const struct fe *fe, const void *ptr, size_t len, uint64_t *gpa)
{
	const struct fe_region *r = region_of(fe, ptr, len);

	if (!r)
		return -EFAULT;
	*gpa = r->gpa + (uint64_t)((const uint8_t *)ptr - r->host);
	return 0;
}

void *fe_guest_ptr(const struct fe *fe, uint64_t gpa, size_t len)
{
	for (unsigned int i = 0; i < fe->nregions; i++) {
		const struct fe_region *r = &fe->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int fe_guest_region(const struct fe *fe, unsigned int i, uint64_t *gpa, uint64_t *size,
		    void **host, uint64_t *mmap_offset)
{
	const struct fe_region *r;

	if (i >= fe->nregions)
		return -ENOENT;
	r = &fe->regions[i];
	if (gpa)
		*gpa = r->gpa;
	if (size)
		*size = r->size;
	if (host)
		*host = r->host;
	if (mmap_offset)
		*mmap_offset = r->mmap_offset;
	return 0;
}

int fe_guest_memfd(const struct fe *fe)
{
	return fe->memfd;
}
