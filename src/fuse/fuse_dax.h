/* SPDX-License-Identifier: MIT */
/*
 * DAX: the guest reads and writes files through a window of its physical
 * address space (the device's shared memory region 0) that the VMM maps onto
 * host files at our request. This module keeps the record of what is mapped
 * where and asks the transport (struct fuse_dax_ops: vu_shm over the
 * backend channel) to map and unmap.
 *
 * The record is a set of ranges, one per SETUPMAPPING: window offset,
 * length, the file (nodeid, file offset, our own fd of it) and access.
 * Ranges never overlap; a SETUPMAPPING of exactly an existing range replaces
 * it (the guest upgrades a read mapping to a writable one that way), any
 * other overlap is refused, as are ranges outside the window, unaligned
 * ranges and REMOVEMAPPINGs of what is not mapped.
 *
 * The frontend refuses to map past the end of a file, and the guest maps
 * whole 2 MiB ranges of small files: what is mapped of a range (its
 * "pieces") covers the file up to its end rounded up to a page. When the
 * file grows (WRITE, SETATTR, FALLOCATE, COPY_FILE_RANGE in the guest, or
 * the host, seen at GETATTR/OPEN), the range gains a piece covering the new
 * part (no gap for the part mapped already); after DAX_MAX_PIECES pieces it
 * is remapped whole. Before a guest truncation the pieces beyond the new end
 * are unmapped, so the VMM never touches a page past the end of the file
 * (that would be SIGBUS). A host-side truncation under a mapping cannot be
 * prevented (the same hazard as any shared mapping of a file).
 *
 * The VMM (QEMU 11.1) refuses to map a file past its end even within the
 * last page, so a partial last page is mapped from a page-sized copy (a
 * memfd). Reads see the file's bytes as of the mapping (or of its last size
 * change); stores into it by the guest reach the file on FLUSH, FSYNC,
 * unmap and before a size change (close-to-open, for that page only); a
 * host write into that page without a size change is not seen until then.
 *
 * Reset and disconnect drop the record without asking the frontend (the
 * control thread must never wait on the backend channel); what was mapped
 * is remembered as "stale" and unmapped before that part of the window is
 * mapped again.
 *
 * Thread-safe: one lock; it is held across a map/unmap round trip.
 */
#ifndef VUFS_FUSE_DAX_H
#define VUFS_FUSE_DAX_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_dax;

struct fuse_dax_ops {
	/* Map [@foffset, +@len) of @fd (not consumed) at window offset @moffset. 0 or -errno. */
	int (*map)(void *opaque, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
		   bool writable);
	int (*unmap)(void *opaque, uint64_t moffset, uint64_t len);
};

struct fuse_dax_conf {
	uint64_t window;       /* bytes; a power of two >= 2 MiB */
	unsigned max_ranges;   /* SETUPMAPPINGs held at once */
	unsigned max_regions;  /* frontend mappings at once (each is a VMM memory slot); 0 = no limit */
	uint64_t min_size;     /* dax=inode: regular files of at least this size get FUSE_ATTR_DAX */
};

/* Alignment of window offsets, lengths and file offsets: a page (FUSE_MAP_ALIGNMENT = 12). */
#define FUSE_DAX_ALIGN_SHIFT 12
#define FUSE_DAX_ALIGN (1ull << FUSE_DAX_ALIGN_SHIFT)
/* Pieces a range may have before it is remapped whole. */
#define FUSE_DAX_MAX_PIECES 8
/* REMOVEMAPPING entries in one request (the kernel's limit: a page of them). */
#define FUSE_DAX_MAX_REMOVE 256

struct fuse_dax_stats {
	uint64_t setups, removes, maps, unmaps, failures, extends, shrinks;
	unsigned ranges, stale;
	unsigned regions; /* frontend mappings now (pieces, tail copies, stale ones) */
};

int fuse_dax_new(const struct fuse_dax_conf *conf, const struct fuse_dax_ops *ops, void *opaque,
		 struct fuse_dax **out);
void fuse_dax_free(struct fuse_dax *dx);
const struct fuse_dax_conf *fuse_dax_conf(const struct fuse_dax *dx);

/*
 * SETUPMAPPING: map [@foffset, +@len) of @nodeid, opened as @fd (consumed,
 * also on failure), at window offset @moffset. Returns 0, -EINVAL (alignment,
 * outside the window, partial overlap), -ENOSPC (max_ranges), or the
 * transport's errno.
 */
int fuse_dax_setup(struct fuse_dax *dx, int fd, uint64_t nodeid, uint64_t foffset, uint64_t len,
		   uint64_t moffset, bool writable);
/* REMOVEMAPPING of one range: 0, -EINVAL (malformed), -ENOENT (not mapped) or the transport's errno. */
int fuse_dax_remove(struct fuse_dax *dx, uint64_t moffset, uint64_t len);

/* @nodeid may have grown: extend its mappings to its current size. */
void fuse_dax_file_changed(struct fuse_dax *dx, uint64_t nodeid);
/*
 * @nodeid is about to be truncated to @size: unmap what lies beyond. Returns
 * 0 or the transport's errno (the truncation must not go ahead then).
 */
int fuse_dax_before_truncate(struct fuse_dax *dx, uint64_t nodeid, uint64_t size);

/* Write the copies of @nodeid's last partial page back to the file (FLUSH, FSYNC). */
void fuse_dax_flush(struct fuse_dax *dx, uint64_t nodeid);

/* Forget every range (reset, new session): no frontend request; they become stale. */
void fuse_dax_reset(struct fuse_dax *dx);

void fuse_dax_get_stats(struct fuse_dax *dx, struct fuse_dax_stats *st);

#endif /* VUFS_FUSE_DAX_H */
