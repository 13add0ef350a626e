/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: the regions the frontend shares with SET_MEM_TABLE and
 * ADD_MEM_REG, mapped into this process.
 *
 * This is the one place that turns guest addresses (guest-physical for
 * descriptors, frontend-virtual for ring addresses) into host pointers.
 * Every translation is bounds-checked in the subtraction form, so no
 * address + length can wrap, and returns how many bytes are contiguous
 * from the result: callers never overrun a region.
 *
 * Not thread-safe: the owner (vu_dev) changes the table only while no
 * queue thread runs.
 */
#ifndef VUFS_VU_MEM_H
#define VUFS_VU_MEM_H

#include <stdint.h>

#include "vhost_user.h"

/* Memory slots we accept (GET_MAX_MEM_SLOTS). */
#define VU_MEM_MAX_SLOTS 32

struct vu_mem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes */
	uint64_t qva;  /* the frontend's virtual address of the start */
	void *hva;     /* our mapping of the start */
	void *map;     /* what mmap returned (hva - mmap_offset) */
	uint64_t map_size;
};

struct vu_mem {
	unsigned nregions;
	struct vu_mem_region regions[VU_MEM_MAX_SLOTS];
};

void vu_mem_init(struct vu_mem *m);
/* Unmap every region. */
void vu_mem_clear(struct vu_mem *m);

/*
 * Validate @r and map it from @fd (not consumed: the caller closes it).
 * Returns 0, -EINVAL (zero size, overflow, overlap with a mapped region),
 * -ENOSPC (no free slot) or the mmap errno.
 */
int vu_mem_add(struct vu_mem *m, const struct vhost_user_mem_region *r, int fd);
/* Unmap the region matching @r's gpa and size exactly. Returns 0 or -ENOENT. */
int vu_mem_remove(struct vu_mem *m, const struct vhost_user_mem_region *r);

/*
 * Translate guest-physical @gpa. On success *@hva points at it and *@len is
 * reduced to the bytes contiguous from there (never more than asked).
 * Returns 0 or -EFAULT when @gpa is in no region or *@len is 0.
 */
int vu_mem_gpa_to_hva(const struct vu_mem *m, uint64_t gpa, uint64_t *len, void **hva);

/* Same for a frontend virtual address (ring addresses of SET_VRING_ADDR). */
int vu_mem_qva_to_hva(const struct vu_mem *m, uint64_t qva, uint64_t *len, void **hva);

/* Translate [@gpa, @gpa + @len) only if it is contiguous in one region. */
void *vu_mem_gpa_contig(const struct vu_mem *m, uint64_t gpa, uint64_t len);
void *vu_mem_qva_contig(const struct vu_mem *m, uint64_t qva, uint64_t len);

#endif /* VUFS_VU_MEM_H */
