/* SPDX-License-Identifier: MIT */
/*
 * iovec helpers for scatter-gather buffers that live in guest memory.
 * They never touch memory outside the iovecs they are given; callers
 * guarantee the iovecs themselves were bounds-checked (vu_mem).
 */
#ifndef VUFS_IOV_H
#define VUFS_IOV_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Total bytes described by @iov; saturates at SIZE_MAX. */
size_t iov_size(const struct iovec *iov, unsigned cnt);

/* Copy up to @len bytes starting @off bytes into @iov to @buf. Returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t off, void *buf, size_t len);

/* Copy up to @len bytes from @buf into @iov starting @off bytes in. Returns bytes copied. */
size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t off, const void *buf,
		    size_t len);

/*
 * Describe the window [@off, @off + @len) of @iov in @dst (at most @dst_max
 * entries). Returns the number of entries used; *@got is the window's
 * length (short if @iov ends first or @dst_max entries were not enough).
 */
unsigned iov_window(const struct iovec *iov, unsigned cnt, size_t off, size_t len,
		    struct iovec *dst, unsigned dst_max, size_t *got);

/*
 * preadv/pwritev over any number of iovecs (IOV_MAX chunks), retrying on
 * EINTR and short transfers until done, EOF (read) or an error. Returns
 * bytes moved (a short count only at EOF) or a negative errno if nothing moved.
 */
ssize_t iov_preadv_full(int fd, const struct iovec *iov, unsigned cnt, off_t off);
ssize_t iov_pwritev_full(int fd, const struct iovec *iov, unsigned cnt, off_t off);

#endif /* VUFS_IOV_H */
