// SPDX-License-Identifier: MIT
#include "vu_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"

void vu_mem_init(struct vu_mem *m)
{
	memset(m, 0, sizeof(*m));
}

static void region_unmap(struct vu_mem_region *r)
{
	if (r->map)
		munmap(r->map, r->map_size);
	memset(r, 0, sizeof(*r));
}

void vu_mem_clear(struct vu_mem *m)
{
	for (unsigned i = 0; i < m->nregions; i++)
		region_unmap(&m->regions[i]);
	m->nregions = 0;
}

/* [a, a + alen) and [b, b + blen) intersect; neither end wraps (checked before). */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vu_mem_add(struct vu_mem *m, const struct vhost_user_mem_region *r, int fd)
{
	struct vu_mem_region *dst;
	struct stat st;
	uint64_t map_size;
	void *map;

	if (!r->memory_size || r->guest_phys_addr > UINT64_MAX - r->memory_size ||
	    r->userspace_addr > UINT64_MAX - r->memory_size ||
	    r->mmap_offset > UINT64_MAX - r->memory_size || r->memory_size > SIZE_MAX) {
		log_err("mem: bad region gpa=0x%llx size=0x%llx qva=0x%llx off=0x%llx",
			(unsigned long long)r->guest_phys_addr,
			(unsigned long long)r->memory_size,
			(unsigned long long)r->userspace_addr,
			(unsigned long long)r->mmap_offset);
		return -EINVAL;
	}
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *o = &m->regions[i];

		if (ranges_overlap(o->gpa, o->size, r->guest_phys_addr, r->memory_size) ||
		    ranges_overlap(o->qva, o->size, r->userspace_addr, r->memory_size)) {
			log_err("mem: region gpa=0x%llx size=0x%llx overlaps region %u",
				(unsigned long long)r->guest_phys_addr,
				(unsigned long long)r->memory_size, i);
			return -EINVAL;
		}
	}
	if (m->nregions >= VU_MEM_MAX_SLOTS) {
		log_err("mem: all %d slots in use", VU_MEM_MAX_SLOTS);
		return -ENOSPC;
	}
	/* Map from offset 0 so an unaligned mmap_offset still works. */
	map_size = r->mmap_offset + r->memory_size;
	if (map_size > SIZE_MAX)
		return -EINVAL;
	/* A region past the end of its file would SIGBUS on first touch. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < map_size) {
		log_err("mem: region of %llu bytes at offset %llu exceeds its %lld-byte file",
			(unsigned long long)r->memory_size, (unsigned long long)r->mmap_offset,
			(long long)st.st_size);
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		   0);
	if (map == MAP_FAILED) {
		int err = -errno;

		log_err("mem: mmap of %llu bytes failed: %s", (unsigned long long)map_size,
			strerror(-err));
		return err;
	}
	/* Guest RAM in a core dump would leak the guest's data. */
	madvise(map, (size_t)map_size, MADV_DONTDUMP);
	dst = &m->regions[m->nregions++];
	dst->gpa = r->guest_phys_addr;
	dst->size = r->memory_size;
	dst->qva = r->userspace_addr;
	dst->map = map;
	dst->map_size = map_size;
	dst->hva = (char *)map + r->mmap_offset;
	log_info("mem: region %u gpa=0x%llx size=%llu MiB", m->nregions - 1,
		 (unsigned long long)dst->gpa, (unsigned long long)(dst->size >> 20));
	return 0;
}

int vu_mem_remove(struct vu_mem *m, const struct vhost_user_mem_region *r)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct vu_mem_region *o = &m->regions[i];

		if (o->gpa != r->guest_phys_addr || o->size != r->memory_size)
			continue;
		region_unmap(o);
		m->regions[i] = m->regions[--m->nregions];
		memset(&m->regions[m->nregions], 0, sizeof(*o));
		return 0;
	}
	return -ENOENT;
}

static int translate(const struct vu_mem *m, uint64_t addr, bool by_qva, uint64_t *len,
		     void **hva)
{
	if (!*len)
		return -EFAULT;
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vu_mem_region *r = &m->regions[i];
		uint64_t start = by_qva ? r->qva : r->gpa;
		uint64_t off = addr - start; /* wraps to huge when addr < start */

		if (addr < start || off >= r->size)
			continue;
		if (*len > r->size - off)
			*len = r->size - off;
		*hva = (char *)r->hva + off;
		return 0;
	}
	return -EFAULT;
}

int vu_mem_gpa_to_hva(const struct vu_mem *m, uint64_t gpa, uint64_t *len, void **hva)
{
	return translate(m, gpa, false, len, hva);
}

int vu_mem_qva_to_hva(const struct vu_mem *m, uint64_t qva, uint64_t *len, void **hva)
{
	return translate(m, qva, true, len, hva);
}

void *vu_mem_gpa_contig(const struct vu_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t got = len;
	void *hva;

	if (translate(m, gpa, false, &got, &hva) || got != len)
		return NULL;
	return hva;
}

void *vu_mem_qva_contig(const struct vu_mem *m, uint64_t qva, uint64_t len)
{
	uint64_t got = len;
	void *hva;

	if (translate(m, qva, true, &got, &hva) || got != len)
		return NULL;
	return hva;
}
