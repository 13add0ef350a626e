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
 * Up to VU_MEM_MAX_SLOTS regions (QEMU allows 512 on x86; with DAX every
 * mapping of the cache window is one more region). The table is sorted by
 * guest-physical address, with an index sorted by frontend address, so a
 * translation is a binary search.
 *
 * Concurrency (read-copy-update): a change (vu_mem_add, vu_mem_remove,
 * vu_mem_clear) builds a new table and publishes it with one atomic store;
 * the old table, and the mapping of a removed region, are freed only once
 * every reader that could still see them has left its read section. A
 * change never waits for a reader: a request may sit in a read section
 * waiting for the frontend (DAX mappings on the backend channel), and the
 * frontend may be waiting for our answer to ADD_MEM_REG/REM_MEM_REG.
 *
 * Readers: every thread that translates addresses while the control thread
 * may change the table registers a struct vu_mem_reader and enters/leaves
 * a read section around each request (queue threads, worker threads,
 * late completions); pointers into guest memory are valid only inside the
 * section. Writers are serialised by the caller (the control thread).
 * Single-threaded users (unit tests, fuzzers) need no reader: reclamation
 * is immediate when no reader is registered inside a section.
 */
#ifndef VUFS_VU_MEM_H
#define VUFS_VU_MEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"

/* Memory slots we accept (GET_MAX_MEM_SLOTS): QEMU's own limit on x86. */
#define VU_MEM_MAX_SLOTS 512
/* Registered readers at most (queue threads, completions, worker pools). */
#define VU_MEM_MAX_READERS 128

struct vu_mem_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes */
	uint64_t qva;  /* the frontend's virtual address of the start */
	void *hva;     /* our mapping of the start */
	void *map;     /* what mmap returned (hva - mmap_offset) */
	uint64_t map_size;
};

/* One published, immutable table. */
struct vu_mem_table {
	unsigned n;
	uint16_t *by_qva;           /* region indices sorted by qva */
	struct vu_mem_region r[];   /* sorted by gpa, non-overlapping */
};

/* A reader's slot: seq is odd while the reader is inside a read section. */
struct vu_mem_reader {
	uint64_t seq;
	bool used;
};

struct vu_mem_retired;

struct vu_mem {
	struct vu_mem_table *cur; /* atomic; NULL = no regions */
	pthread_mutex_t lock;     /* the reader registry and the retired list */
	struct vu_mem_reader readers[VU_MEM_MAX_READERS];
	struct vu_mem_retired *retired; /* waiting for readers to move on */
	unsigned npending;              /* atomic: entries in @retired */
};

void vu_mem_init(struct vu_mem *m);
/* Unmap every region (deferred while readers may see them). */
void vu_mem_clear(struct vu_mem *m);
/* Free everything; no reader may be inside a section any more. */
void vu_mem_fini(struct vu_mem *m);

/*
 * Validate @r and map it from @fd (not consumed: the caller closes it).
 * Returns 0, -EINVAL (zero size, overflow, overlap with a mapped region),
 * -ENOSPC (no free slot), -ENOMEM or the mmap errno.
 */
int vu_mem_add(struct vu_mem *m, const struct vhost_user_mem_region *r, int fd);
/* Unmap the region matching @r's gpa and size exactly. Returns 0, -ENOENT or -ENOMEM. */
int vu_mem_remove(struct vu_mem *m, const struct vhost_user_mem_region *r);

/* Regions in the current table, and a copy of the @i-th (by gpa). For tests and tools. */
unsigned vu_mem_nregions(const struct vu_mem *m);
int vu_mem_region_at(const struct vu_mem *m, unsigned i, struct vu_mem_region *out);

/* Free what no reader can see any more (also done by every change). */
void vu_mem_reclaim(struct vu_mem *m);
/* Same, but only if something waits (one atomic load otherwise): after a read section. */
void vu_mem_maybe_reclaim(struct vu_mem *m);
/* Retired tables/mappings not yet freed (tests). */
unsigned vu_mem_pending(struct vu_mem *m);

/*
 * Readers. register: a slot (-ENOSPC when all are taken); the thread then
 * brackets each request with vu_mem_read_enter/leave. Sections do not nest.
 */
int vu_mem_reader_register(struct vu_mem *m, struct vu_mem_reader **out);
void vu_mem_reader_unregister(struct vu_mem *m, struct vu_mem_reader *rd);
void vu_mem_read_enter(struct vu_mem_reader *rd);
void vu_mem_read_leave(struct vu_mem_reader *rd);

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
