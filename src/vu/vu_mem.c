// SPDX-License-Identifier: MIT
#include "vu_mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"

/* A superseded table and the mappings only it still references. */
struct vu_mem_retired {
	struct vu_mem_retired *next;
	struct vu_mem_table *table; /* may be NULL */
	unsigned nmaps;
	struct {
		void *map;
		uint64_t size;
	} *maps;
	/* Readers inside a section when it was retired: their seq then (0 = not inside). */
	uint64_t snap[VU_MEM_MAX_READERS];
};

static struct vu_mem_table *table_get(const struct vu_mem *m)
{
	return __atomic_load_n(&m->cur, __ATOMIC_SEQ_CST);
}

static struct vu_mem_table *table_alloc(unsigned n)
{
	size_t size = sizeof(struct vu_mem_table) + n * sizeof(struct vu_mem_region) +
		      n * sizeof(uint16_t);
	struct vu_mem_table *t = calloc(1, size);

	if (!t)
		return NULL;
	t->n = n;
	t->by_qva = (uint16_t *)(void *)&t->r[n];
	return t;
}

static int cmp_qva(const void *a, const void *b, void *arg)
{
	const struct vu_mem_table *t = arg;
	uint64_t x = t->r[*(const uint16_t *)a].qva, y = t->r[*(const uint16_t *)b].qva;

	return x < y ? -1 : x > y;
}

static void table_index(struct vu_mem_table *t)
{
	for (unsigned i = 0; i < t->n; i++)
		t->by_qva[i] = (uint16_t)i;
	qsort_r(t->by_qva, t->n, sizeof(t->by_qva[0]), cmp_qva, t);
}

void vu_mem_init(struct vu_mem *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

static void retired_free(struct vu_mem_retired *rt)
{
	for (unsigned i = 0; i < rt->nmaps; i++)
		munmap(rt->maps[i].map, rt->maps[i].size);
	free(rt->maps);
	free(rt->table);
	free(rt);
}

/* Can @rt go? Every reader that was inside a section then has left it. Called locked. */
static bool retired_done(const struct vu_mem *m, const struct vu_mem_retired *rt)
{
	for (unsigned i = 0; i < VU_MEM_MAX_READERS; i++) {
		if (rt->snap[i] &&
		    __atomic_load_n(&m->readers[i].seq, __ATOMIC_SEQ_CST) == rt->snap[i])
			return false;
	}
	return true;
}

static void reclaim_locked(struct vu_mem *m)
{
	struct vu_mem_retired **pp = &m->retired;
	unsigned left = 0;

	while (*pp) {
		struct vu_mem_retired *rt = *pp;

		if (retired_done(m, rt)) {
			*pp = rt->next;
			retired_free(rt);
		} else {
			pp = &rt->next;
			left++;
		}
	}
	__atomic_store_n(&m->npending, left, __ATOMIC_RELAXED);
}

void vu_mem_maybe_reclaim(struct vu_mem *m)
{
	if (__atomic_load_n(&m->npending, __ATOMIC_RELAXED))
		vu_mem_reclaim(m);
}

void vu_mem_reclaim(struct vu_mem *m)
{
	pthread_mutex_lock(&m->lock);
	reclaim_locked(m);
	pthread_mutex_unlock(&m->lock);
}

unsigned vu_mem_pending(struct vu_mem *m)
{
	unsigned n = 0;

	pthread_mutex_lock(&m->lock);
	for (struct vu_mem_retired *rt = m->retired; rt; rt = rt->next)
		n++;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/*
 * Publish @next (ownership taken) and retire the old table with @rt (its
 * maps already filled in by the caller). Never fails: @rt was allocated
 * before anything changed.
 */
static void publish(struct vu_mem *m, struct vu_mem_table *next, struct vu_mem_retired *rt)
{
	pthread_mutex_lock(&m->lock);
	rt->table = __atomic_exchange_n(&m->cur, next, __ATOMIC_SEQ_CST);
	/*
	 * A reader whose seq we read as even entered (if at all) after the
	 * exchange above in the seq_cst order, so it loads @next.
	 */
	for (unsigned i = 0; i < VU_MEM_MAX_READERS; i++) {
		uint64_t s = m->readers[i].used
				     ? __atomic_load_n(&m->readers[i].seq, __ATOMIC_SEQ_CST)
				     : 0;

		rt->snap[i] = (s & 1) ? s : 0;
	}
	rt->next = m->retired;
	m->retired = rt;
	reclaim_locked(m);
	pthread_mutex_unlock(&m->lock);
}

static struct vu_mem_retired *retired_new(unsigned nmaps)
{
	struct vu_mem_retired *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return NULL;
	if (nmaps) {
		rt->maps = calloc(nmaps, sizeof(rt->maps[0]));
		if (!rt->maps) {
			free(rt);
			return NULL;
		}
	}
	return rt;
}

void vu_mem_clear(struct vu_mem *m)
{
	struct vu_mem_table *t = table_get(m);
	struct vu_mem_retired *rt;

	if (!t)
		return;
	rt = retired_new(t->n);
	if (!rt) {
		/* Cannot defer: leak the mappings rather than free them under a reader. */
		log_err("mem: out of memory clearing the table; %u regions stay mapped", t->n);
		__atomic_store_n(&m->cur, NULL, __ATOMIC_SEQ_CST);
		return;
	}
	for (unsigned i = 0; i < t->n; i++) {
		rt->maps[i].map = t->r[i].map;
		rt->maps[i].size = t->r[i].map_size;
	}
	rt->nmaps = t->n;
	publish(m, NULL, rt);
}

void vu_mem_fini(struct vu_mem *m)
{
	vu_mem_clear(m);
	pthread_mutex_lock(&m->lock);
	while (m->retired) {
		struct vu_mem_retired *rt = m->retired;

		m->retired = rt->next;
		retired_free(rt);
	}
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_destroy(&m->lock);
}

/* First index in @t whose gpa is > @addr (by_qva: whose qva is). */
static unsigned upper_bound(const struct vu_mem_table *t, uint64_t addr, bool by_qva)
{
	unsigned lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint64_t start = by_qva ? t->r[t->by_qva[mid]].qva : t->r[mid].gpa;

		if (start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* [a, a + alen) and [b, b + blen) intersect; neither end wraps (checked before). */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Does [start, start + size) overlap a region of @t, by gpa or by qva? */
static bool table_overlaps(const struct vu_mem_table *t, uint64_t start, uint64_t size,
			   bool by_qva)
{
	unsigned pos = upper_bound(t, start, by_qva);

	/* Regions do not overlap each other: only the neighbours can. */
	for (unsigned k = pos ? pos - 1 : 0; k < pos + 1 && k < t->n; k++) {
		const struct vu_mem_region *o = &t->r[by_qva ? t->by_qva[k] : k];

		if (ranges_overlap(by_qva ? o->qva : o->gpa, o->size, start, size))
			return true;
	}
	return false;
}

int vu_mem_add(struct vu_mem *m, const struct vhost_user_mem_region *r, int fd)
{
	struct vu_mem_table *t = table_get(m), *next = NULL;
	struct vu_mem_retired *rt = NULL;
	struct vu_mem_region *dst;
	unsigned n = t ? t->n : 0, pos;
	struct stat st;
	uint64_t map_size;
	void *map;
	int err;

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
	if (t && (table_overlaps(t, r->guest_phys_addr, r->memory_size, false) ||
		  table_overlaps(t, r->userspace_addr, r->memory_size, true))) {
		log_err("mem: region gpa=0x%llx size=0x%llx qva=0x%llx overlaps a mapped region",
			(unsigned long long)r->guest_phys_addr, (unsigned long long)r->memory_size,
			(unsigned long long)r->userspace_addr);
		return -EINVAL;
	}
	if (n >= VU_MEM_MAX_SLOTS) {
		log_err("mem: all %d slots in use", VU_MEM_MAX_SLOTS);
		return -ENOSPC;
	}
	/* Map from offset 0 so an unaligned mmap_offset still works. */
	map_size = r->mmap_offset + r->memory_size;
	if (map_size > SIZE_MAX)
		return -EINVAL;
	/*
	 * A region past the end of its file would SIGBUS on first touch. Past the
	 * end within the last page is fine: DAX maps files up to their end
	 * rounded to a page, and QEMU announces those mappings as regions.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (((uint64_t)st.st_size + 4095) & ~4095ull) < map_size) {
		log_err("mem: region of %llu bytes at offset %llu exceeds its %lld-byte file",
			(unsigned long long)r->memory_size, (unsigned long long)r->mmap_offset,
			(long long)st.st_size);
		return -EINVAL;
	}
	next = table_alloc(n + 1);
	rt = retired_new(0);
	if (!next || !rt) {
		err = -ENOMEM;
		goto err_free;
	}
	map = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		   0);
	if (map == MAP_FAILED) {
		err = -errno;
		log_err("mem: mmap of %llu bytes failed: %s", (unsigned long long)map_size,
			strerror(-err));
		goto err_free;
	}
	/* Guest RAM in a core dump would leak the guest's data. */
	madvise(map, (size_t)map_size, MADV_DONTDUMP);
	pos = t ? upper_bound(t, r->guest_phys_addr, false) : 0;
	if (pos)
		memcpy(next->r, t->r, pos * sizeof(t->r[0]));
	if (n > pos)
		memcpy(&next->r[pos + 1], &t->r[pos], (n - pos) * sizeof(t->r[0]));
	dst = &next->r[pos];
	dst->gpa = r->guest_phys_addr;
	dst->size = r->memory_size;
	dst->qva = r->userspace_addr;
	dst->map = map;
	dst->map_size = map_size;
	dst->hva = (char *)map + r->mmap_offset;
	table_index(next);
	publish(m, next, rt);
	log_debug("mem: region gpa=0x%llx size=%llu KiB (%u regions)",
		  (unsigned long long)dst->gpa, (unsigned long long)(dst->size >> 10), n + 1);
	return 0;

err_free:
	free(next);
	free(rt);
	return err;
}

int vu_mem_remove(struct vu_mem *m, const struct vhost_user_mem_region *r)
{
	struct vu_mem_table *t = table_get(m), *next;
	struct vu_mem_retired *rt;
	unsigned pos;

	if (!t)
		return -ENOENT;
	pos = upper_bound(t, r->guest_phys_addr, false);
	if (!pos || t->r[pos - 1].gpa != r->guest_phys_addr ||
	    t->r[pos - 1].size != r->memory_size)
		return -ENOENT;
	pos--;
	next = t->n > 1 ? table_alloc(t->n - 1) : NULL;
	rt = retired_new(1);
	if ((t->n > 1 && !next) || !rt) {
		free(next);
		free(rt);
		return -ENOMEM;
	}
	if (next) {
		memcpy(next->r, t->r, pos * sizeof(t->r[0]));
		memcpy(&next->r[pos], &t->r[pos + 1], (t->n - pos - 1) * sizeof(t->r[0]));
		table_index(next);
	}
	rt->maps[0].map = t->r[pos].map;
	rt->maps[0].size = t->r[pos].map_size;
	rt->nmaps = 1;
	publish(m, next, rt);
	return 0;
}

unsigned vu_mem_nregions(const struct vu_mem *m)
{
	const struct vu_mem_table *t = table_get(m);

	return t ? t->n : 0;
}

int vu_mem_region_at(const struct vu_mem *m, unsigned i, struct vu_mem_region *out)
{
	const struct vu_mem_table *t = table_get(m);

	if (!t || i >= t->n)
		return -ENOENT;
	*out = t->r[i];
	return 0;
}

int vu_mem_reader_register(struct vu_mem *m, struct vu_mem_reader **out)
{
	int err = -ENOSPC;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < VU_MEM_MAX_READERS; i++) {
		struct vu_mem_reader *rd = &m->readers[i];

		if (rd->used)
			continue;
		/* seq keeps counting across users of the slot: a snapshot never matches again. */
		rd->used = true;
		*out = rd;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&m->lock);
	if (err)
		log_err("mem: all %d reader slots in use", VU_MEM_MAX_READERS);
	return err;
}

void vu_mem_reader_unregister(struct vu_mem *m, struct vu_mem_reader *rd)
{
	if (!rd)
		return;
	pthread_mutex_lock(&m->lock);
	rd->used = false;
	reclaim_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void vu_mem_read_enter(struct vu_mem_reader *rd)
{
	/* Odd: inside. seq_cst orders this store before the reader's load of the table. */
	__atomic_add_fetch(&rd->seq, 1, __ATOMIC_SEQ_CST);
}

void vu_mem_read_leave(struct vu_mem_reader *rd)
{
	__atomic_add_fetch(&rd->seq, 1, __ATOMIC_SEQ_CST);
}

static int translate(const struct vu_mem *m, uint64_t addr, bool by_qva, uint64_t *len,
		     void **hva)
{
	const struct vu_mem_table *t = table_get(m);
	const struct vu_mem_region *r;
	unsigned pos;
	uint64_t start, off;

	if (!*len || !t)
		return -EFAULT;
	pos = upper_bound(t, addr, by_qva);
	if (!pos)
		return -EFAULT;
	r = &t->r[by_qva ? t->by_qva[pos - 1] : pos - 1];
	start = by_qva ? r->qva : r->gpa;
	off = addr - start; /* addr >= start by the search */
	if (off >= r->size)
		return -EFAULT;
	if (*len > r->size - off)
		*len = r->size - off;
	*hva = (char *)r->hva + off;
	return 0;
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
