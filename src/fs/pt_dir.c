// SPDX-License-Identifier: MIT
/* Directory handles: opendir, readdir(plus) over a getdents64 buffer, fsyncdir, releasedir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pt_devnode.h"
#include "pt_i.h"

/* getdents64 buffer per open directory. */
#define PT_DIRBUF_SIZE (32 * 1024)

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};
int pt_opendir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, uint64_t *fh)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct pt_caller c;
	int fd = -1, err;
	int objs[1];

	if (!in)
		return -ESTALE;
	if (in->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out;
	}
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		fd = pt_reopen_inode(fs, in, O_RDONLY | O_DIRECTORY);
		err = fd < 0 ? fd : 0;
	}
	if (err)
		goto out;
	err = pt_handle_add(fs, fd, in, true, fh);
	if (err)
		close(fd);
out:
	pt_inode_put(fs, in);
	return err;
}

/* Position the stream at @off; keeps buffered entries when continuing where we stopped. */
static int dir_seek(struct pt_handle *h, uint64_t off)
{
	/*
	 * Continuing after the last entry handed out needs no seek either: a seek back
	 * would only find the skipped entries again, and fails (EINVAL on ext4) once a
	 * host process has removed the directory.
	 */
	if (h->dir_valid && (off == h->dir_next || off == h->dir_sent))
		return 0;
	if (off > INT64_MAX || lseek(h->fd, (off_t)off, SEEK_SET) < 0)
		return off > INT64_MAX ? -EINVAL : -errno;
	h->dir_len = h->dir_pos = 0;
	h->dir_next = h->dir_sent = off;
	h->dir_valid = true;
	return 0;
}

int pt_readdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t fh, uint64_t off, bool plus,
	       const struct pt_readdir_sink *sink)
{
	struct pt_handle *h = pt_handle_get(fs, fh, true);
	unsigned added = 0;
	int err = 0;

	(void)ctx;
	if (!h)
		return -EBADF;
	pthread_mutex_lock(&h->dir_lock);
	if (!h->dir_buf) {
		h->dir_buf = malloc(PT_DIRBUF_SIZE);
		if (!h->dir_buf) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = dir_seek(h, off);
	if (err)
		goto out;
	for (;;) {
		struct linux_dirent64 *de;
		struct pt_dirent d;
		struct pt_entry e;
		bool dot;
		int r;

		if (h->dir_pos >= h->dir_len) {
			long n = syscall(SYS_getdents64, h->fd, h->dir_buf, PT_DIRBUF_SIZE);

			if (n < 0) {
				/*
				 * A failed getdents leaves the position alone, so the stream
				 * stays valid: the next request gets the host's error again
				 * (ENOENT once a host process removed the directory), not
				 * the error of a seek.
				 */
				err = -errno;
				goto out;
			}
			if (n == 0)
				break; /* end of directory */
			h->dir_len = (size_t)n;
			h->dir_pos = 0;
		}
		de = (struct linux_dirent64 *)(h->dir_buf + h->dir_pos);
		d.name = de->d_name;
		d.namelen = strnlen(de->d_name, de->d_reclen - offsetof(struct linux_dirent64,
									   d_name));
		d.ino = pt_guest_ino(fs, h->inode->dev, de->d_ino);
		d.type = de->d_type;
		d.next_off = (uint64_t)de->d_off;
		if (!sink->fits(sink->arg, d.namelen))
			break;
		dot = !strcmp(d.name, ".") || !strcmp(d.name, "..");
		if (plus && !dot) {
			r = pt_lookup_in(fs, h->inode, d.name, &e);
			if (r == -ENOENT) {
				/* Gone since getdents: skip it. */
				h->dir_pos += de->d_reclen;
				h->dir_next = d.next_off;
				continue;
			}
			if (r < 0) {
				/*
				 * No fd left (--fd-limit), no memory...: never skip an entry
				 * that exists. Stop here; the guest continues from this
				 * entry and gets the error if it is still the first one.
				 */
				if (!added)
					err = r;
				break;
			}
		}
		if (plus && !dot && d.type != IFTODT(e.st.st_mode))
			d.type = IFTODT(e.st.st_mode); /* a mapped device node */
		else if (!plus && !dot && d.type == DT_REG)
			d.type = pt_devnode_dtype_at(fs, h->inode->fd, d.name, d.type);
		if (plus && dot) {
			memset(&e, 0, sizeof(e));
			e.st.st_ino = d.ino;
			e.st.st_mode = (mode_t)DTTOIF(d.type);
		}
		r = sink->add(sink->arg, &d, plus ? &e : NULL);
		if (r) {
			if (plus && !dot)
				pt_inode_unlookup(fs, e.nodeid);
			break;
		}
		added++;
		h->dir_pos += de->d_reclen;
		h->dir_next = h->dir_sent = d.next_off;
	}
out:
	pthread_mutex_unlock(&h->dir_lock);
	pt_handle_put(fs, h);
	return err;
}

int pt_fsyncdir(struct pt_fs *fs, uint64_t fh, bool datasync)
{
	return pt_sync_handle(fs, fh, true, datasync);
}

int pt_releasedir(struct pt_fs *fs, uint64_t fh)
{
	return pt_handle_remove(fs, fh, true);
}
