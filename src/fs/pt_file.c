// SPDX-License-Identifier: MIT
/*
 * Opening files and I/O on their handles: open, create, tmpfile, read,
 * write, flush, fsync, release, fallocate, lseek, copy_file_range, syncfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"
#include "pt_devnode.h"
#include "pt_i.h"

/* Guest open flags we pass to the host; the rest are the daemon's business. */
static int filter_open_flags(const struct pt_fs *fs, int flags)
{
	int keep = O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NONBLOCK;

	if (fs->cfg.direct_io_allowed)
		keep |= O_DIRECT;
	if (fs->cfg.preserve_noatime)
		keep |= O_NOATIME;
	return (flags & keep) | O_LARGEFILE;
}

/*
 * A mapped device node is never opened for I/O: the guest's kernel does
 * device I/O itself and never sends OPEN for one, so this is a hostile or
 * racing guest: -ENXIO, as opening a node without a device gives.
 */
static int refuse_devnode(struct pt_fs *fs, int fd)
{
	struct pt_devnode d;
	struct stat st;
	int err;

	err = pt_stat_fd(fd, &st, NULL);
	if (err)
		return err;
	if (pt_devnode_read(fs, fd, &st, &d)) {
		log_guest(LOG_LVL_WARN, "open of a mapped device node refused: ENXIO");
		return -ENXIO;
	}
	return 0;
}

int pt_open(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int flags,
	    uint64_t *fh)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct pt_caller c;
	int fd = -1, err;
	int objs[1];

	if (!in)
		return -ESTALE;
	if (in->type != S_IFREG) {
		/* Never open a FIFO or device node for the guest (CVE-2020-35517). */
		err = in->type == S_IFDIR ? -EISDIR : -EBADF;
		goto out;
	}
	err = refuse_devnode(fs, in->fd);
	if (err)
		goto out;
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		fd = pt_reopen_inode(fs, in, filter_open_flags(fs, flags));
		err = fd < 0 ? fd : 0;
	}
	if (err)
		goto out;
	err = pt_handle_add(fs, fd, in, false, fh);
	if (err)
		close(fd);
out:
	pt_inode_put(fs, in);
	return err;
}

int pt_open_fd(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int flags, int *fd)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct pt_caller c;
	int err, objs[1];

	*fd = -1;
	if (!in)
		return -ESTALE;
	if (in->type != S_IFREG) {
		err = in->type == S_IFDIR ? -EISDIR : -EBADF;
		goto out;
	}
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		*fd = pt_reopen_inode(fs, in, filter_open_flags(fs, flags));
		err = *fd < 0 ? *fd : 0;
	}
	if (err)
		*fd = -1;
out:
	pt_inode_put(fs, in);
	return err;
}

/*
 * CREATE of a name that already exists, without O_EXCL (a guest with a
 * stale negative dentry): open it as OPEN would, and only if it is a
 * regular file.
 */
static int open_existing(struct pt_fs *fs, struct pt_inode *dir, const char *name, int flags)
{
	char fdname[16];
	struct stat st;
	int pfd, fd;

	pfd = pt_open_beneath(dir->fd, name, O_PATH, 0);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st) < 0) {
		fd = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		fd = S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
	} else if ((fd = refuse_devnode(fs, pfd)) < 0) {
		/* fd is the error */
	} else {
		snprintf(fdname, sizeof(fdname), "%d", pfd);
		fd = openat(fs->proc_fd, fdname, (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	close(pfd);
	return fd;
}

int pt_create(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	      mode_t mode, int flags, struct pt_entry *out, uint64_t *fh)
{
	struct pt_inode *dir = pt_inode_get(fs, parent);
	struct pt_inode *in = NULL;
	struct pt_caller c;
	mode_t old_umask;
	bool created = false;
	char fdname[16];
	int fd = -1, pfd, err;
	int objs[1];

	if (!dir)
		return -ESTALE;
	if (dir->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out;
	}
	objs[0] = dir->fd;
	old_umask = pt_umask_enter(fs, ctx);
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		/*
		 * Always O_EXCL: without it, open(O_CREAT) would open whatever
		 * exists under the name, a FIFO (blocking this thread) or a
		 * device node included (CVE-2020-35517).
		 */
		fd = pt_open_beneath(dir->fd, name,
				     filter_open_flags(fs, flags) | O_CREAT | O_EXCL, mode & 07777);
		created = fd >= 0;
		if (fd == -EEXIST && !(flags & O_EXCL))
			fd = open_existing(fs, dir, name, filter_open_flags(fs, flags));
		err = fd < 0 ? fd : 0;
	}
	pt_umask_leave(old_umask);
	if (err)
		goto out;
	if (ctx->secctx_name && created) {
		/* Only a file this request made gets the context (never relabel one). */
		err = pt_xattr_set_secctx(fs, ctx, dir->fd, name, fd, S_IFREG);
		if (err) {
			if (unlinkat(dir->fd, name, 0) < 0)
				log_warn("cannot remove a new file without its security context: %m");
			goto err_close;
		}
	}
	/* The node for the file we just opened, not for whatever the name points at now. */
	snprintf(fdname, sizeof(fdname), "%d", fd);
	pfd = openat(fs->proc_fd, fdname, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
		goto err_close;
	}
	err = pt_inode_insert(fs, pfd, out);
	if (err)
		goto err_close;
	in = pt_inode_get(fs, out->nodeid);
	if (!in) {
		err = -ESTALE;
		goto err_close;
	}
	err = pt_handle_add(fs, fd, in, false, fh);
	pt_inode_put(fs, in);
	if (err) {
		pt_inode_unlookup(fs, out->nodeid);
		goto err_close;
	}
	goto out;

err_close:
	if (created) {
		struct stat made;

		if (!fstat(fd, &made))
			pt_undo_create(dir->fd, name, &made);
	}
	close(fd);
out:
	pt_inode_put(fs, dir);
	return err;
}

ssize_t pt_read(struct pt_fs *fs, uint64_t fh, const struct iovec *iov, unsigned cnt,
		uint64_t off)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	ssize_t n;

	if (!h)
		return -EBADF;
	if (off > INT64_MAX)
		n = -EINVAL;
	else
		n = iov_preadv_full(h->fd, iov, cnt, (off_t)off);
	pt_handle_put(fs, h);
	return n;
}

ssize_t pt_write(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t fh,
		 const struct iovec *iov, unsigned cnt, uint64_t off)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	ssize_t n;

	(void)ctx;
	if (!h)
		return -EBADF;
	if (off > INT64_MAX)
		n = -EINVAL;
	else
		n = iov_pwritev_full(h->fd, iov, cnt, (off_t)off);
	if (n > 0 && fs->cap_xattr)
		pt_xattr_drop_cap(fs, h->fd, false);
	pt_handle_put(fs, h);
	return n;
}

/*
 * Release what lock owner @owner holds through @h: host OFD locks belong to
 * the open file, so the owner's ranges (from the records) are unlocked one
 * by one. Caller holds h->dir_lock.
 */
static void release_owner_locks(struct pt_handle *h, uint64_t owner)
{
	for (unsigned i = 0; i < h->nlocks;) {
		struct pt_lock_rec r = h->locks[i];
		struct flock fl = {
			.l_type = F_UNLCK,
			.l_whence = SEEK_SET,
			.l_start = (off_t)r.start,
			.l_len = r.end == UINT64_MAX ? 0 : (off_t)(r.end - r.start + 1),
		};

		if (r.owner != owner) {
			i++;
			continue;
		}
		if (fcntl(h->fd, F_OFD_SETLK, &fl) < 0)
			log_guest(LOG_LVL_WARN, "cannot release a lock on close: %m");
		h->locks[i] = h->locks[--h->nlocks];
	}
}

int pt_flush(struct pt_fs *fs, uint64_t fh, uint64_t owner)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	int fd, err = 0;

	if (!h)
		return -EBADF;
	pthread_mutex_lock(&h->dir_lock);
	if (h->nlocks)
		release_owner_locks(h, owner);
	pthread_mutex_unlock(&h->dir_lock);
	/* close() of a duplicate reports deferred write errors (NFS and the like). */
	fd = dup(h->fd);
	if (fd < 0)
		err = -errno;
	else if (close(fd) < 0 && errno != EINTR)
		err = -errno;
	pt_handle_put(fs, h);
	return err;
}

int pt_sync_handle(struct pt_fs *fs, uint64_t fh, bool is_dir, bool datasync)
{
	struct pt_handle *h = pt_handle_get(fs, fh, is_dir);
	int err;

	if (!h)
		return -EBADF;
	err = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	return err;
}

int pt_fsync(struct pt_fs *fs, uint64_t fh, bool datasync)
{
	return pt_sync_handle(fs, fh, false, datasync);
}

int pt_release(struct pt_fs *fs, uint64_t fh)
{
	return pt_handle_remove(fs, fh, false);
}
int pt_fallocate(struct pt_fs *fs, uint64_t fh, int mode, uint64_t off, uint64_t len)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	int err;

	if (!h)
		return -EBADF;
	if (off > INT64_MAX || len > INT64_MAX)
		err = -EINVAL;
	else
		err = fallocate(h->fd, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	return err;
}

int64_t pt_lseek(struct pt_fs *fs, uint64_t fh, uint64_t off, int whence)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	off_t r;

	if (!h)
		return -EBADF;
	if (off > INT64_MAX)
		r = -EINVAL;
	else if ((r = lseek(h->fd, (off_t)off, whence)) < 0)
		r = -errno;
	pt_handle_put(fs, h);
	return r;
}

ssize_t pt_copy_file_range(struct pt_fs *fs, uint64_t fh_in, uint64_t off_in,
			   uint64_t fh_out, uint64_t off_out, size_t len, unsigned flags)
{
	struct pt_handle *in = pt_handle_get(fs, fh_in, false);
	struct pt_handle *out = pt_handle_get(fs, fh_out, false);
	loff_t oi = (loff_t)off_in, oo = (loff_t)off_out;
	ssize_t n;

	if (!in || !out)
		n = -EBADF;
	else if (off_in > INT64_MAX || off_out > INT64_MAX)
		n = -EINVAL;
	else if ((n = copy_file_range(in->fd, &oi, out->fd, &oo, len, flags)) < 0)
		n = -errno;
	if (in)
		pt_handle_put(fs, in);
	if (out)
		pt_handle_put(fs, out);
	return n;
}

int pt_syncfs(struct pt_fs *fs, uint64_t nodeid)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	int fd, err;

	if (!in)
		return -ESTALE;
	/*
	 * syncfs needs a real fd on the filesystem. Open only directories: a
	 * FIFO would block and a device would be opened (CVE-2020-35517).
	 */
	fd = pt_reopen_inode(fs, in->type == S_IFDIR ? in : fs->root, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		err = fd;
	} else {
		err = syncfs(fd) < 0 ? -errno : 0;
		close(fd);
	}
	pt_inode_put(fs, in);
	return err;
}

int pt_tmpfile(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, mode_t mode,
	       int flags, struct pt_entry *out, uint64_t *fh)
{
	struct pt_inode *dir = pt_inode_get(fs, parent);
	struct pt_inode *in;
	struct pt_caller c;
	mode_t old_umask;
	char fdname[16];
	int fd = -1, pfd, err;
	int objs[1];
	/* O_TMPFILE needs write access; a read-only request gets O_RDWR. */
	int oflags = (filter_open_flags(fs, flags) & ~O_ACCMODE) | O_TMPFILE |
		     ((flags & O_ACCMODE) == O_RDONLY ? O_RDWR : (flags & O_ACCMODE));

	if (!dir)
		return -ESTALE;
	if (dir->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out;
	}
	objs[0] = dir->fd;
	old_umask = pt_umask_enter(fs, ctx);
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		fd = pt_open_beneath(dir->fd, ".", oflags, mode & 07777);
		err = fd < 0 ? fd : 0;
	}
	pt_umask_leave(old_umask);
	if (err)
		goto out;
	err = pt_xattr_set_secctx(fs, ctx, -1, NULL, fd, S_IFREG);
	if (err) {
		close(fd); /* unnamed: nothing to remove */
		goto out;
	}
	snprintf(fdname, sizeof(fdname), "%d", fd);
	pfd = openat(fs->proc_fd, fdname, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
		close(fd);
		goto out;
	}
	err = pt_inode_insert(fs, pfd, out);
	if (err) {
		close(fd);
		goto out;
	}
	in = pt_inode_get(fs, out->nodeid);
	err = in ? pt_handle_add(fs, fd, in, false, fh) : -ESTALE;
	pt_inode_put(fs, in);
	if (err) {
		pt_inode_unlookup(fs, out->nodeid);
		close(fd);
	}
out:
	pt_inode_put(fs, dir);
	return err;
}

int pt_kill_suidgid(struct pt_fs *fs, uint64_t nodeid)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct stat st;
	mode_t mode;
	char name[16];
	int err;

	if (!in)
		return -ESTALE;
	err = pt_stat_fd(in->fd, &st, NULL);
	if (err || in->type != S_IFREG)
		goto out;
	/* As the kernel does: set-group-ID only matters with group execute. */
	mode = st.st_mode & 07777;
	mode &= ~(mode_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(mode_t)S_ISGID;
	if (mode != (st.st_mode & 07777)) {
		snprintf(name, sizeof(name), "%d", in->fd);
		err = fchmodat(fs->proc_fd, name, mode, 0) < 0 ? -errno : 0;
	}
out:
	pt_inode_put(fs, in);
	return err;
}
