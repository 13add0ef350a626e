// SPDX-License-Identifier: MIT
#include "iov.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

size_t iov_size(const struct iovec *iov, unsigned cnt)
{
	size_t total = 0;

	for (unsigned i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t off, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t off, const void *buf,
		    size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, n);
		done += n;
		off = 0;
	}
	return done;
}

unsigned iov_window(const struct iovec *iov, unsigned cnt, size_t off, size_t len,
		    struct iovec *dst, unsigned dst_max, size_t *got)
{
	unsigned n = 0;
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len && n < dst_max; i++) {
		size_t chunk;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		dst[n].iov_base = (char *)iov[i].iov_base + off;
		dst[n].iov_len = chunk;
		n++;
		done += chunk;
		off = 0;
	}
	*got = done;
	return n;
}

static ssize_t iov_rw_full(int fd, const struct iovec *iov, unsigned cnt, off_t off, bool write)
{
	/* A private copy of each batch: trimming after a short transfer never touches @iov. */
	struct iovec work[IOV_MAX];
	size_t total = 0;

	for (unsigned idx = 0; idx < cnt;) {
		unsigned n = cnt - idx < IOV_MAX ? cnt - idx : IOV_MAX;
		struct iovec *w = work;
		unsigned wn = n;

		memcpy(work, iov + idx, n * sizeof(*iov));
		idx += n;
		for (;;) {
			ssize_t r;
			size_t left;

			while (wn && !w->iov_len) {
				w++;
				wn--;
			}
			if (!wn)
				break;
			r = write ? pwritev(fd, w, (int)wn, off) : preadv(fd, w, (int)wn, off);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return total ? (ssize_t)total : -errno;
			}
			if (r == 0) /* EOF on read; a write that cannot progress */
				return total || !write ? (ssize_t)total : -EIO;
			total += (size_t)r;
			off += r;
			for (left = (size_t)r; wn && left >= w->iov_len; w++, wn--)
				left -= w->iov_len;
			if (wn) {
				w->iov_base = (char *)w->iov_base + left;
				w->iov_len -= left;
			}
		}
	}
	return (ssize_t)total;
}

ssize_t iov_preadv_full(int fd, const struct iovec *iov, unsigned cnt, off_t off)
{
	return iov_rw_full(fd, iov, cnt, off, false);
}

ssize_t iov_pwritev_full(int fd, const struct iovec *iov, unsigned cnt, off_t off)
{
	return iov_rw_full(fd, iov, cnt, off, true);
}
