// SPDX-License-Identifier: MIT
#include "vu_log.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vu_mem.h"

/* A bitmap covering 2^50 bytes of guest memory is plenty; refuse anything larger. */
#define VU_LOG_MAX_BYTES (1ull << 35)

void vu_log_init(struct vu_log *l)
{
	memset(l, 0, sizeof(*l));
	l->call_fd = -1;
}

static void unmap(struct vu_log *l)
{
	if (l->map)
		munmap(l->map, l->map_size);
	l->map = NULL;
	l->base = NULL;
	l->size = 0;
	l->map_size = 0;
}

void vu_log_clear(struct vu_log *l)
{
	unmap(l);
	if (l->call_fd >= 0)
		close(l->call_fd);
	l->call_fd = -1;
}

int vu_log_set_base(struct vu_log *l, uint64_t mmap_size, uint64_t mmap_offset, int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t delta, map_size;
	struct stat st;
	void *p;

	if (!mmap_size || mmap_size > VU_LOG_MAX_BYTES || mmap_offset > UINT64_MAX - mmap_size) {
		log_err("vhost-user: SET_LOG_BASE with size %llu at offset %llu",
			(unsigned long long)mmap_size, (unsigned long long)mmap_offset);
		return -EINVAL;
	}
	/* A log past the end of its file would SIGBUS on the first mark there. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size < mmap_offset + mmap_size) {
		log_err("vhost-user: SET_LOG_BASE of %llu bytes at offset %llu exceeds its "
			"%lld-byte file", (unsigned long long)mmap_size,
			(unsigned long long)mmap_offset, (long long)st.st_size);
		return -EINVAL;
	}
	/* mmap needs a page-aligned offset: map from the page below and skip the difference. */
	delta = mmap_offset % (uint64_t)page;
	map_size = mmap_size + delta;
	p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)(mmap_offset - delta));
	if (p == MAP_FAILED) {
		int err = -errno;

		log_err("vhost-user: cannot map the dirty log (%llu bytes): %s",
			(unsigned long long)mmap_size, strerror(-err));
		return err;
	}
	unmap(l);
	l->map = p;
	l->map_size = map_size;
	l->base = (uint8_t *)p + delta;
	l->size = mmap_size;
	__atomic_store_n(&l->overflow_logged, false, __ATOMIC_RELAXED);
	log_debug("dirty log mapped: %llu bytes (%llu MiB of guest memory)",
		  (unsigned long long)mmap_size,
		  (unsigned long long)(mmap_size * 8 * VU_LOG_PAGE >> 20));
	return 0;
}

void vu_log_mark(struct vu_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (!vu_log_active(l) || !len)
		return;
	first = gpa / VU_LOG_PAGE;
	last = (gpa + len - 1) / VU_LOG_PAGE;
	if (gpa + len - 1 < gpa)
		last = UINT64_MAX / VU_LOG_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		if (p / 8 >= l->size) {
			if (!__atomic_exchange_n(&l->overflow_logged, true, __ATOMIC_RELAXED))
				log_err("dirty log: page 0x%llx is past the log (%llu bytes); "
					"the frontend's log is too small",
					(unsigned long long)p, (unsigned long long)l->size);
			return;
		}
		__atomic_fetch_or(&l->base[p / 8], (uint8_t)(1u << (p % 8)), __ATOMIC_RELAXED);
	}
}

/*
 * Guest-physical address of host pointer @hva with *@len contiguous bytes
 * (reduced to fit). The caller is in a memory read section (vu_mem.h), as
 * every request-path writer is, so the table stays valid.
 */
static int hva_to_gpa(const struct vu_mem *m, const void *hva, uint64_t *len, uint64_t *gpa)
{
	const struct vu_mem_table *t = __atomic_load_n(&m->cur, __ATOMIC_ACQUIRE);
	uintptr_t a = (uintptr_t)hva;

	for (unsigned i = 0; t && i < t->n; i++) {
		const struct vu_mem_region *r = &t->r[i];
		uintptr_t start = (uintptr_t)r->hva;

		if (a >= start && a - start < r->size) {
			uint64_t off = a - start;

			if (*len > r->size - off)
				*len = r->size - off;
			*gpa = r->gpa + off;
			return 0;
		}
	}
	return -EFAULT;
}

void vu_log_mark_iov(struct vu_log *l, const struct vu_mem *mem, const struct iovec *iov,
		     unsigned cnt, uint64_t len)
{
	if (!vu_log_active(l))
		return;
	for (unsigned i = 0; i < cnt && len; i++) {
		const uint8_t *p = iov[i].iov_base;
		uint64_t left = iov[i].iov_len < len ? iov[i].iov_len : len;

		len -= left;
		while (left) {
			uint64_t n = left, gpa;

			if (hva_to_gpa(mem, p, &n, &gpa)) {
				log_err("dirty log: a written buffer is not in guest memory");
				return;
			}
			vu_log_mark(l, gpa, n);
			p += n;
			left -= n;
		}
	}
}

void vu_log_kick(struct vu_log *l)
{
	if (vu_log_active(l) && l->call_fd >= 0 && eventfd_write(l->call_fd, 1) < 0)
		log_warn("dirty log: cannot signal the log eventfd: %m");
}
