/* SPDX-License-Identifier: MIT */
/*
 * Dirty-page log for live migration (VHOST_F_LOG_ALL with
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD): while the frontend copies guest memory
 * to the destination, every byte the daemon writes into guest memory must
 * mark its page in a bitmap the frontend shares with SET_LOG_BASE, or the
 * destination never receives it (a READ whose data arrived during the copy
 * would read stale after the switch).
 *
 * The log is one bit per 4 KiB guest-physical page (bit p % 8 of byte
 * p / 8), set with an atomic OR because the frontend clears bits as it
 * syncs. Writers mark after they wrote; the frontend reads the log only
 * after it has stopped the rings, or re-syncs until it converges.
 *
 * The mapping is changed only while no queue thread runs (the owner stops
 * them around SET_LOG_BASE and SET_FEATURES), so marking takes no lock.
 */
#ifndef VUFS_VU_LOG_H
#define VUFS_VU_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct vu_mem;

#define VU_LOG_PAGE 4096

struct vu_log {
	uint8_t *base;   /* mapping of the bitmap, NULL if none */
	void *map;       /* what mmap returned */
	uint64_t size;   /* bitmap bytes usable from base */
	uint64_t map_size;
	bool enabled;    /* VHOST_F_LOG_ALL negotiated */
	int call_fd;     /* SET_LOG_FD eventfd, -1 if none */
	bool overflow_logged; /* atomic: warned once about a page past the log */
};

void vu_log_init(struct vu_log *l);
/* Unmap the bitmap and close the call fd. */
void vu_log_clear(struct vu_log *l);

/*
 * SET_LOG_BASE: map @mmap_size bytes of @fd (not consumed) at @mmap_offset
 * as the new log (replacing the old one). Returns 0, -EINVAL (zero or
 * overflowing size/offset, too large) or the mmap errno.
 */
int vu_log_set_base(struct vu_log *l, uint64_t mmap_size, uint64_t mmap_offset, int fd);

/* Logging on: a log is mapped and LOG_ALL negotiated. */
static inline bool vu_log_active(const struct vu_log *l)
{
	return l && l->enabled && l->base;
}

/* Mark the pages of guest-physical [@gpa, @gpa + @len). No-op when not active. */
void vu_log_mark(struct vu_log *l, uint64_t gpa, uint64_t len);

/*
 * Mark the pages behind the first @len bytes of @iov (host pointers into
 * guest memory @mem, as vq_pop made them). Bytes not in guest memory are
 * logged as an error and skipped.
 */
void vu_log_mark_iov(struct vu_log *l, const struct vu_mem *mem, const struct iovec *iov,
		     unsigned cnt, uint64_t len);

/* Tell the frontend the log changed (SET_LOG_FD eventfd), if it asked. */
void vu_log_kick(struct vu_log *l);

#endif /* VUFS_VU_LOG_H */
