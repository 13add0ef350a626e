// SPDX-License-Identifier: MIT
/*
 * DAX window record (see fuse_dax.h) and the SETUPMAPPING/REMOVEMAPPING
 * decoders.
 */
#include "fuse_dax.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "log.h"

struct dax_range {
	uint64_t moffset, len; /* the guest's range in the window */
	uint64_t foffset;      /* file offset at moffset */
	uint64_t nodeid;
	int fd;                /* our own fd of the file, read/write */
	bool writable;
	unsigned npieces;
	/* Piece i maps [i ? end[i-1] : 0, end[i]) of the range (relative offsets): whole pages of the file. */
	uint64_t end[FUSE_DAX_MAX_PIECES];
	/*
	 * The file's last partial page, when the range reaches it. The VMM refuses
	 * to map a file past its end, even within the last page, so that page is
	 * a page-sized copy (a memfd) mapped right after the pieces. A writable
	 * range's copy is written back to the file (its @tail_bytes only) on
	 * FLUSH, FSYNC, unmap and before the file changes size.
	 */
	int tail_fd;          /* -1: none */
	uint64_t tail_bytes;  /* file bytes in the copy */
};

struct dax_stale {
	uint64_t moffset, len;
};

struct fuse_dax {
	struct fuse_dax_conf conf;
	const struct fuse_dax_ops *ops;
	void *opaque;
	pthread_mutex_t lock;
	struct dax_range *r; /* sorted by moffset, conf.max_ranges slots */
	unsigned n;          /* atomic for the unlocked "anything mapped?" check */
	struct dax_stale *stale;
	unsigned nstale, stale_cap;
	unsigned nregions; /* frontend mappings held (see max_regions) */
	struct fuse_dax_stats st;
};

/* Room for one more frontend mapping? Called locked. */
static int region_budget(struct fuse_dax *dx)
{
	if (dx->conf.max_regions && dx->nregions >= dx->conf.max_regions) {
		log_guest(LOG_LVL_WARN, "dax: %u mappings held: the VMM's memory slots are used up",
			  dx->nregions);
		return -ENOSPC;
	}
	return 0;
}

static int tail_writeback(struct dax_range *r);

int fuse_dax_new(const struct fuse_dax_conf *conf, const struct fuse_dax_ops *ops, void *opaque,
		 struct fuse_dax **out)
{
	struct fuse_dax *dx;

	if (!conf->window || (conf->window & (conf->window - 1)) || conf->window < FUSE_DAX_ALIGN ||
	    !conf->max_ranges)
		return -EINVAL;
	dx = calloc(1, sizeof(*dx));
	if (!dx)
		return -ENOMEM;
	dx->r = calloc(conf->max_ranges, sizeof(dx->r[0]));
	if (!dx->r) {
		free(dx);
		return -ENOMEM;
	}
	dx->conf = *conf;
	dx->ops = ops;
	dx->opaque = opaque;
	pthread_mutex_init(&dx->lock, NULL);
	*out = dx;
	return 0;
}

void fuse_dax_free(struct fuse_dax *dx)
{
	if (!dx)
		return;
	for (unsigned i = 0; i < dx->n; i++) {
		tail_writeback(&dx->r[i]);
		if (dx->r[i].tail_fd >= 0)
			close(dx->r[i].tail_fd);
		close(dx->r[i].fd);
	}
	pthread_mutex_destroy(&dx->lock);
	free(dx->stale);
	free(dx->r);
	free(dx);
}

const struct fuse_dax_conf *fuse_dax_conf(const struct fuse_dax *dx)
{
	return &dx->conf;
}

static uint64_t piece_start(const struct dax_range *r, unsigned i)
{
	return i ? r->end[i - 1] : 0;
}

static uint64_t mapped(const struct dax_range *r)
{
	return r->npieces ? r->end[r->npieces - 1] : 0;
}

/* What of @r maps whole pages of a file of @size bytes (the rest, if any, is the tail copy). */
static uint64_t want_len(const struct dax_range *r, uint64_t size)
{
	uint64_t w;

	if (size <= r->foffset)
		return 0;
	w = size - r->foffset;
	if (w >= r->len)
		return r->len;
	return w & ~(FUSE_DAX_ALIGN - 1);
}

/* Bytes of a partial last page inside @r for a file of @size bytes (0: none). */
static uint64_t tail_len(const struct dax_range *r, uint64_t size)
{
	uint64_t w;

	if (size <= r->foffset)
		return 0;
	w = size - r->foffset;
	if (w >= r->len)
		return 0;
	return w & (FUSE_DAX_ALIGN - 1);
}

static int file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int do_map(struct fuse_dax *dx, struct dax_range *r, uint64_t from, uint64_t to)
{
	int err = region_budget(dx);

	if (err)
		return err;
	err = dx->ops->map(dx->opaque, r->fd, r->foffset + from, r->moffset + from, to - from,
			   r->writable);
	dx->st.maps++;
	if (!err)
		dx->nregions++;
	if (err) {
		dx->st.failures++;
		log_guest(LOG_LVL_WARN,
			  "dax: map of nodeid %llu [0x%llx, +0x%llx) at window 0x%llx failed: %s",
			  (unsigned long long)r->nodeid, (unsigned long long)(r->foffset + from),
			  (unsigned long long)(to - from), (unsigned long long)(r->moffset + from),
			  strerror(-err));
	}
	return err;
}

static int do_unmap(struct fuse_dax *dx, uint64_t moffset, uint64_t len)
{
	int err = dx->ops->unmap(dx->opaque, moffset, len);

	dx->st.unmaps++;
	if (!err && dx->nregions)
		dx->nregions--;
	if (err) {
		dx->st.failures++;
		log_err("dax: unmap of window [0x%llx, +0x%llx) failed: %s",
			(unsigned long long)moffset, (unsigned long long)len, strerror(-err));
	}
	return err;
}

/* Remember a piece the frontend may still have mapped. Called locked. */
static void stale_add(struct fuse_dax *dx, uint64_t moffset, uint64_t len)
{
	if (dx->nstale == dx->stale_cap) {
		unsigned cap = dx->stale_cap ? dx->stale_cap * 2 : 64;
		struct dax_stale *p = realloc(dx->stale, cap * sizeof(*p));

		if (!p) {
			log_err("dax: out of memory; window [0x%llx, +0x%llx) may stay mapped",
				(unsigned long long)moffset, (unsigned long long)len);
			return;
		}
		dx->stale = p;
		dx->stale_cap = cap;
	}
	dx->stale[dx->nstale++] = (struct dax_stale){ moffset, len };
}

/* Unmap the stale pieces inside [moffset, +len) (failures ignored: they may be gone). */
static void stale_clear(struct fuse_dax *dx, uint64_t moffset, uint64_t len)
{
	for (unsigned i = 0; i < dx->nstale;) {
		struct dax_stale *s = &dx->stale[i];

		if (s->moffset < moffset + len && moffset < s->moffset + s->len) {
			dx->ops->unmap(dx->opaque, s->moffset, s->len);
			dx->st.unmaps++;
			if (dx->nregions)
				dx->nregions--;
			*s = dx->stale[--dx->nstale];
		} else {
			i++;
		}
	}
}

/* Write a writable range's tail copy back to the file. */
static int tail_writeback(struct dax_range *r)
{
	uint8_t buf[FUSE_DAX_ALIGN];
	struct iovec v = { buf, (size_t)r->tail_bytes };
	ssize_t n;

	if (r->tail_fd < 0 || !r->writable || !r->tail_bytes)
		return 0;
	n = preadv(r->tail_fd, &v, 1, 0);
	if (n != (ssize_t)r->tail_bytes)
		return n < 0 ? -errno : -EIO;
	n = pwritev(r->fd, &v, 1, (off_t)(r->foffset + mapped(r)));
	if (n != (ssize_t)r->tail_bytes)
		return n < 0 ? -errno : -EIO;
	return 0;
}

/* Write back and unmap the tail copy. Returns the unmap's error. */
static int tail_drop(struct fuse_dax *dx, struct dax_range *r)
{
	int err, werr;

	if (r->tail_fd < 0)
		return 0;
	werr = tail_writeback(r);
	if (werr)
		log_err("dax: writing back the last page of nodeid %llu failed: %s",
			(unsigned long long)r->nodeid, strerror(-werr));
	err = do_unmap(dx, r->moffset + mapped(r), FUSE_DAX_ALIGN);
	if (err)
		stale_add(dx, r->moffset + mapped(r), FUSE_DAX_ALIGN);
	close(r->tail_fd);
	r->tail_fd = -1;
	r->tail_bytes = 0;
	return err;
}

/* Map a copy of the file's @bytes-long last page right after the pieces. */
static int tail_map(struct fuse_dax *dx, struct dax_range *r, uint64_t bytes)
{
	uint8_t buf[FUSE_DAX_ALIGN];
	struct iovec v = { buf, (size_t)bytes };
	ssize_t n;
	int fd, err;

	err = region_budget(dx);
	if (err)
		return err;
	fd = memfd_create("vufs-dax-tail", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, FUSE_DAX_ALIGN) < 0) {
		err = -errno;
		goto err_close;
	}
	n = preadv(r->fd, &v, 1, (off_t)(r->foffset + mapped(r)));
	if (n >= 0 && (uint64_t)n < bytes)
		bytes = (uint64_t)n; /* shrank meanwhile */
	v.iov_len = (size_t)bytes;
	if (n < 0 || pwritev(fd, &v, 1, 0) != (ssize_t)bytes) {
		err = n < 0 ? -errno : -EIO;
		goto err_close;
	}
	err = dx->ops->map(dx->opaque, fd, 0, r->moffset + mapped(r), FUSE_DAX_ALIGN, r->writable);
	dx->st.maps++;
	if (err) {
		dx->st.failures++;
		goto err_close;
	}
	dx->nregions++;
	r->tail_fd = fd;
	r->tail_bytes = bytes;
	return 0;
err_close:
	close(fd);
	return err;
}

/* Unmap every piece of @r; a failed one is remembered as stale. Returns the first error. */
static int unmap_all(struct fuse_dax *dx, struct dax_range *r)
{
	int first = tail_drop(dx, r);

	for (unsigned i = 0; i < r->npieces; i++) {
		uint64_t s = piece_start(r, i);
		int err = do_unmap(dx, r->moffset + s, r->end[i] - s);

		if (err) {
			stale_add(dx, r->moffset + s, r->end[i] - s);
			if (!first)
				first = err;
		}
	}
	r->npieces = 0;
	return first;
}

/* First range whose moffset is >= @moffset. */
static unsigned lower_bound(const struct fuse_dax *dx, uint64_t moffset)
{
	unsigned lo = 0, hi = dx->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (dx->r[mid].moffset < moffset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void range_drop(struct fuse_dax *dx, unsigned pos)
{
	if (dx->r[pos].tail_fd >= 0)
		close(dx->r[pos].tail_fd);
	close(dx->r[pos].fd);
	memmove(&dx->r[pos], &dx->r[pos + 1], (dx->n - pos - 1) * sizeof(dx->r[0]));
	__atomic_store_n(&dx->n, dx->n - 1, __ATOMIC_RELEASE);
}

/* Ranges of the window and the file, as the guest gave them. */
static int check_range(const struct fuse_dax *dx, uint64_t moffset, uint64_t len)
{
	if (!len || (moffset | len) & (FUSE_DAX_ALIGN - 1) || moffset >= dx->conf.window ||
	    len > dx->conf.window - moffset)
		return -EINVAL;
	return 0;
}

int fuse_dax_setup(struct fuse_dax *dx, int fd, uint64_t nodeid, uint64_t foffset, uint64_t len,
		   uint64_t moffset, bool writable)
{
	struct dax_range nr = { .moffset = moffset, .len = len, .foffset = foffset,
				.nodeid = nodeid, .fd = fd, .writable = writable, .tail_fd = -1 };
	uint64_t size = 0, want;
	unsigned pos;
	int err = check_range(dx, moffset, len);

	if (!err && ((foffset & (FUSE_DAX_ALIGN - 1)) || foffset > (uint64_t)INT64_MAX - len))
		err = -EINVAL;
	if (err) {
		log_guest(LOG_LVL_WARN,
			  "dax: SETUPMAPPING of [0x%llx, +0x%llx) at window 0x%llx refused "
			  "(window 0x%llx, alignment 0x%llx)",
			  (unsigned long long)foffset, (unsigned long long)len,
			  (unsigned long long)moffset, (unsigned long long)dx->conf.window,
			  (unsigned long long)FUSE_DAX_ALIGN);
		close(fd);
		return err;
	}
	pthread_mutex_lock(&dx->lock);
	dx->st.setups++;
	pos = lower_bound(dx, moffset);
	if (pos < dx->n && dx->r[pos].moffset == moffset && dx->r[pos].len == len) {
		/* The same range again (e.g. read -> read/write): replace it. */
		err = unmap_all(dx, &dx->r[pos]);
		range_drop(dx, pos);
		if (err)
			goto out_close;
	}
	if ((pos > 0 && dx->r[pos - 1].moffset + dx->r[pos - 1].len > moffset) ||
	    (pos < dx->n && dx->r[pos].moffset < moffset + len)) {
		log_guest(LOG_LVL_WARN, "dax: SETUPMAPPING at window [0x%llx, +0x%llx) overlaps a mapping",
			  (unsigned long long)moffset, (unsigned long long)len);
		err = -EINVAL;
		goto out_close;
	}
	if (dx->n >= dx->conf.max_ranges) {
		log_guest(LOG_LVL_WARN, "dax: %u ranges mapped already", dx->n);
		err = -ENOSPC;
		goto out_close;
	}
	stale_clear(dx, moffset, len);
	err = file_size(fd, &size);
	if (err)
		goto out_close;
	want = want_len(&nr, size);
	if (want) {
		err = do_map(dx, &nr, 0, want);
		if (err)
			goto out_close;
		nr.end[0] = want;
		nr.npieces = 1;
	}
	if (tail_len(&nr, size)) {
		err = tail_map(dx, &nr, tail_len(&nr, size));
		if (err) {
			unmap_all(dx, &nr);
			goto out_close;
		}
	}
	memmove(&dx->r[pos + 1], &dx->r[pos], (dx->n - pos) * sizeof(dx->r[0]));
	dx->r[pos] = nr;
	__atomic_store_n(&dx->n, dx->n + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dx->lock);
	return 0;

out_close:
	pthread_mutex_unlock(&dx->lock);
	close(fd);
	return err;
}

int fuse_dax_remove(struct fuse_dax *dx, uint64_t moffset, uint64_t len)
{
	unsigned pos;
	int err = check_range(dx, moffset, len);

	if (err) {
		log_guest(LOG_LVL_WARN, "dax: REMOVEMAPPING of window [0x%llx, +0x%llx): bad range",
			  (unsigned long long)moffset, (unsigned long long)len);
		return err;
	}
	pthread_mutex_lock(&dx->lock);
	dx->st.removes++;
	pos = lower_bound(dx, moffset);
	if (pos >= dx->n || dx->r[pos].moffset != moffset || dx->r[pos].len != len) {
		log_guest(LOG_LVL_WARN, "dax: REMOVEMAPPING of window [0x%llx, +0x%llx): not mapped",
			  (unsigned long long)moffset, (unsigned long long)len);
		err = -ENOENT;
	} else {
		err = unmap_all(dx, &dx->r[pos]);
		range_drop(dx, pos);
	}
	pthread_mutex_unlock(&dx->lock);
	return err;
}

/* Map what @r lacks to cover @want bytes. Called locked. */
static int extend(struct fuse_dax *dx, struct dax_range *r, uint64_t want)
{
	uint64_t have = mapped(r);
	int err;

	dx->st.extends++;
	if (r->npieces < FUSE_DAX_MAX_PIECES) {
		err = do_map(dx, r, have, want);
		if (!err)
			r->end[r->npieces++] = want;
		return err;
	}
	/* Too many pieces: remap whole (the guest may briefly see the range unmapped). */
	err = unmap_all(dx, r);
	if (!err)
		err = do_map(dx, r, 0, want);
	if (!err) {
		r->end[0] = want;
		r->npieces = 1;
	}
	return err;
}

/* Unmap what of @r lies beyond @want bytes. Called locked. */
static int shrink(struct fuse_dax *dx, struct dax_range *r, uint64_t want)
{
	dx->st.shrinks++;
	while (r->npieces) {
		unsigned i = r->npieces - 1;
		uint64_t s = piece_start(r, i);
		int err;

		if (r->end[i] <= want)
			break;
		err = do_unmap(dx, r->moffset + s, r->end[i] - s);
		if (err)
			return err; /* still mapped as recorded */
		r->npieces--;
		if (want > s) {
			err = do_map(dx, r, s, want);
			if (err)
				return err;
			r->end[r->npieces++] = want;
			break;
		}
	}
	return 0;
}

void fuse_dax_file_changed(struct fuse_dax *dx, uint64_t nodeid)
{
	if (!__atomic_load_n(&dx->n, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&dx->lock);
	for (unsigned i = 0; i < dx->n; i++) {
		struct dax_range *r = &dx->r[i];
		uint64_t size, want;

		if (r->nodeid != nodeid || file_size(r->fd, &size))
			continue;
		want = want_len(r, size);
		if (want == mapped(r) && tail_len(r, size) == r->tail_bytes)
			continue;
		/* The size changed: the tail copy is no longer the last page. */
		tail_drop(dx, r);
		if (want > mapped(r))
			extend(dx, r, want);
		else if (want < mapped(r))
			shrink(dx, r, want); /* truncated on the host: too late to be safe, but limit it */
		if (want == mapped(r) && tail_len(r, size))
			tail_map(dx, r, tail_len(r, size));
	}
	pthread_mutex_unlock(&dx->lock);
}

int fuse_dax_before_truncate(struct fuse_dax *dx, uint64_t nodeid, uint64_t size)
{
	int err = 0;

	if (!__atomic_load_n(&dx->n, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&dx->lock);
	for (unsigned i = 0; i < dx->n && !err; i++) {
		struct dax_range *r = &dx->r[i];
		uint64_t want;

		if (r->nodeid != nodeid)
			continue;
		want = want_len(r, size);
		/* The tail goes (written back first); the new one is mapped after the truncation. */
		if (r->tail_fd >= 0 && (want < mapped(r) || tail_len(r, size) != r->tail_bytes))
			err = tail_drop(dx, r);
		if (!err && want < mapped(r))
			err = shrink(dx, r, want);
	}
	pthread_mutex_unlock(&dx->lock);
	return err;
}

void fuse_dax_flush(struct fuse_dax *dx, uint64_t nodeid)
{
	if (!__atomic_load_n(&dx->n, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&dx->lock);
	for (unsigned i = 0; i < dx->n; i++) {
		if (dx->r[i].nodeid == nodeid)
			tail_writeback(&dx->r[i]);
	}
	pthread_mutex_unlock(&dx->lock);
}

void fuse_dax_reset(struct fuse_dax *dx)
{
	pthread_mutex_lock(&dx->lock);
	for (unsigned i = 0; i < dx->n; i++) {
		struct dax_range *r = &dx->r[i];

		for (unsigned k = 0; k < r->npieces; k++)
			stale_add(dx, r->moffset + piece_start(r, k), r->end[k] - piece_start(r, k));
		if (r->tail_fd >= 0) {
			tail_writeback(r);
			stale_add(dx, r->moffset + mapped(r), FUSE_DAX_ALIGN);
			close(r->tail_fd);
		}
		close(r->fd);
	}
	if (dx->n)
		log_info("dax: %u mappings dropped with the session", dx->n);
	__atomic_store_n(&dx->n, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&dx->lock);
}

void fuse_dax_get_stats(struct fuse_dax *dx, struct fuse_dax_stats *st)
{
	pthread_mutex_lock(&dx->lock);
	*st = dx->st;
	st->ranges = dx->n;
	st->stale = dx->nstale;
	st->regions = dx->nregions;
	pthread_mutex_unlock(&dx->lock);
}

/* --- FUSE decoders --- */

void do_setupmapping(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_dax *dx = req->se->dax;
	struct fuse_setupmapping_in arg;
	bool writable;
	int err, fd;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (err)
		goto out;
	if (!dx) {
		err = -ENOSYS;
		goto out;
	}
	if (arg.flags & ~(uint64_t)(FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE)) {
		log_guest(LOG_LVL_WARN, "SETUPMAPPING with flags 0x%llx",
			  (unsigned long long)arg.flags);
		err = -EINVAL;
		goto out;
	}
	writable = arg.flags & FUSE_SETUPMAPPING_FLAG_WRITE;
	/*
	 * The file is the request's nodeid (the guest sends fh = ~0), opened as
	 * the caller. Read/write even for a read mapping: QEMU maps every fd
	 * writable and fails on a read-only one, and a writable mapping of a
	 * file the caller may only read would let the guest kernel write it.
	 * So a caller that cannot write the file gets the open's errno (EACCES,
	 * EROFS) and no DAX for it.
	 */
	err = pt_open_fd(req->se->fs, &req->ctx, req->in.nodeid, O_RDWR, &fd);
	if (err)
		goto out;
	err = fuse_dax_setup(dx, fd, req->in.nodeid, arg.foffset, arg.len, arg.moffset, writable);
out:
	fuse_reply_err(req, err);
}

void do_removemapping(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_dax *dx = req->se->dax;
	struct fuse_removemapping_in arg;
	int err, first = 0;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (err)
		goto out;
	if (!dx) {
		err = -ENOSYS;
		goto out;
	}
	if (!arg.count || arg.count > FUSE_DAX_MAX_REMOVE ||
	    fuse_buf_left(in) != arg.count * sizeof(struct fuse_removemapping_one)) {
		log_guest(LOG_LVL_WARN, "REMOVEMAPPING of %u entries in %zu bytes", arg.count,
			  fuse_buf_left(in));
		err = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < arg.count; i++) {
		struct fuse_removemapping_one one;

		if (FUSE_BUF_TAKE_OBJ(in, &one))
			break; /* cannot happen: the size was checked */
		err = fuse_dax_remove(dx, one.moffset, one.len);
		if (err && !first)
			first = err;
	}
	err = first;
out:
	fuse_reply_err(req, err);
}

uint32_t fuse_dax_attr_flags(const struct fuse_session *se, const struct stat *st)
{
	if (!se->dax || !(se->conn_flags & FUSE_HAS_INODE_DAX) || !S_ISREG(st->st_mode) ||
	    (uint64_t)st->st_size < se->dax->conf.min_size)
		return 0;
	return FUSE_ATTR_DAX;
}

void fuse_dax_changed(struct fuse_req *req, uint64_t nodeid)
{
	if (req->se->dax)
		fuse_dax_file_changed(req->se->dax, nodeid);
}

void fuse_dax_sync(struct fuse_req *req, uint64_t nodeid)
{
	if (req->se->dax)
		fuse_dax_flush(req->se->dax, nodeid);
}
