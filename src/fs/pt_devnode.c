// SPDX-License-Identifier: MIT
/*
 * Mapped device nodes: see pt_devnode.h for what the host and the guest
 * see. The attribute is read and written through the thread's cwd in
 * /proc/self/fd ("N" names inode fd N, see pt_xattr.c), never by opening
 * the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"
#include "pt_devnode.h"
#include "pt_i.h"

int pt_devnodes_parse(const char *s, enum pt_devnodes *out)
{
	if (!strcmp(s, "mapped"))
		*out = PT_DEVNODES_MAPPED;
	else if (!strcmp(s, "host"))
		*out = PT_DEVNODES_HOST;
	else if (!strcmp(s, "refuse"))
		*out = PT_DEVNODES_REFUSE;
	else
		return -EINVAL;
	return 0;
}

/* Decimal without sign or leading zeros ("0" itself is fine), <= @max. */
static int take_dec(const char **p, const char *end, unsigned int max, unsigned int *out)
{
	const char *s = *p;
	unsigned long v = 0;

	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -EINVAL;
		s++;
	}
	*out = (unsigned int)v;
	*p = s;
	return 0;
}

static int take_char(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

int pt_devnode_parse(const void *buf, size_t len, struct pt_devnode *out)
{
	const char *p = buf, *end;
	struct pt_devnode d;
	mode_t perm = 0;

	if (!buf || len > PT_DEVNODE_VALUE_MAX)
		return -EINVAL;
	end = p + len;
	if (take_char(&p, end, 'v') || take_char(&p, end, '1') || take_char(&p, end, ' '))
		return -EINVAL;
	if (p == end || (*p != 'c' && *p != 'b'))
		return -EINVAL;
	d.type = *p++ == 'c' ? S_IFCHR : S_IFBLK;
	if (take_char(&p, end, ' ') || take_dec(&p, end, PT_DEVNODE_MAJOR_MAX, &d.major) ||
	    take_char(&p, end, ':') || take_dec(&p, end, PT_DEVNODE_MINOR_MAX, &d.minor) ||
	    take_char(&p, end, ' '))
		return -EINVAL;
	if (end - p != 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++, p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		perm = (perm << 3) | (mode_t)(*p - '0');
	}
	d.perm = perm;
	*out = d;
	return 0;
}

int pt_devnode_format(const struct pt_devnode *d, char *buf, size_t size)
{
	int n;

	if ((d->type != S_IFCHR && d->type != S_IFBLK) || d->major > PT_DEVNODE_MAJOR_MAX ||
	    d->minor > PT_DEVNODE_MINOR_MAX || (d->perm & ~(mode_t)07777))
		return -EINVAL;
	n = snprintf(buf, size, "v1 %c %u:%u %04o", d->type == S_IFCHR ? 'c' : 'b', d->major,
		     d->minor, (unsigned int)d->perm);
	if (n < 0 || (size_t)n >= size)
		return -ERANGE;
	return n;
}

bool pt_devnode_reserved(const char *name)
{
	return !strcmp(name, PT_DEVNODE_XATTR);
}

size_t pt_devnode_filter_list(char *buf, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(buf + in, len - in);
		size_t rec = n + (in + n < len); /* with its NUL, if there is one */

		if (n != sizeof(PT_DEVNODE_XATTR) - 1 || memcmp(buf + in, PT_DEVNODE_XATTR, n)) {
			memmove(buf + out, buf + in, rec);
			out += rec;
		}
		in += rec;
	}
	return out;
}

/*
 * Read the attribute of @path (relative to the thread's cwd); 1 mapped, 0
 * not. @follow: @path is "N", the magic link to follow to the inode; else
 * "N/name", whose last component is not followed.
 */
static int read_path(const char *path, bool follow, struct pt_devnode *d)
{
	char val[PT_DEVNODE_VALUE_MAX + 1];
	ssize_t n;

	n = follow ? getxattr(path, PT_DEVNODE_XATTR, val, sizeof(val))
		   : lgetxattr(path, PT_DEVNODE_XATTR, val, sizeof(val));
	if (n < 0) {
		/* ENODATA: a regular file; ENOTSUP: a host fs without user xattrs. */
		if (errno != ENODATA && errno != EOPNOTSUPP && errno != EPERM)
			log_guest(LOG_LVL_WARN, "cannot read %s of a host file: %m",
				  PT_DEVNODE_XATTR);
		return 0;
	}
	if (pt_devnode_parse(val, (size_t)n, d)) {
		char esc[2 * sizeof(val) + 8];

		log_guest(LOG_LVL_WARN, "ignoring malformed %s \"%s\": shown as a regular file",
			  PT_DEVNODE_XATTR, log_escape(val, (size_t)n, esc, sizeof(esc)));
		return 0;
	}
	return 1;
}

int pt_devnode_read(struct pt_fs *fs, int fd, const struct stat *st, struct pt_devnode *d)
{
	char path[16];

	if (!pt_devnode_candidate(st) || pt_fd_path(fs, fd, path, sizeof(path)))
		return 0;
	return read_path(path, true, d);
}

static void apply(const struct pt_devnode *d, struct stat *st)
{
	st->st_mode = d->type | d->perm;
	st->st_rdev = makedev(d->major, d->minor);
	st->st_size = 0;
	st->st_blocks = 0;
}

bool pt_devnode_fix_stat(struct pt_fs *fs, int fd, struct stat *st)
{
	struct pt_devnode d;

	if (!pt_devnode_read(fs, fd, st, &d))
		return false;
	apply(&d, st);
	return true;
}

unsigned pt_devnode_dtype_at(struct pt_fs *fs, int dirfd, const char *name, unsigned dtype)
{
	struct pt_devnode d;
	char path[16 + 256];
	struct stat st;

	if (dtype != DT_REG && dtype != DT_UNKNOWN)
		return dtype;
	if (pt_stat_at(dirfd, name, AT_STATX_DONT_SYNC, &st, NULL) || !pt_devnode_candidate(&st))
		return dtype;
	/* "N/name": the directory's magic link, then the one component, not followed. */
	if (pt_fd_path(fs, dirfd, path, sizeof(path)) ||
	    strlen(path) + 1 + strlen(name) >= sizeof(path))
		return dtype;
	strcat(path, "/");
	strcat(path, name);
	if (!read_path(path, false, &d))
		return dtype;
	return d.type == S_IFCHR ? DT_CHR : DT_BLK;
}

/* Write @d on O_PATH @fd as the daemon; @flags: XATTR_CREATE or XATTR_REPLACE. */
static int write_fd(struct pt_fs *fs, int fd, const struct pt_devnode *d, int flags)
{
	char path[16], val[PT_DEVNODE_VALUE_MAX + 1];
	int n, err;

	n = pt_devnode_format(d, val, sizeof(val));
	if (n < 0)
		return n;
	err = pt_fd_path(fs, fd, path, sizeof(path));
	if (err)
		return err;
	return setxattr(path, PT_DEVNODE_XATTR, val, (size_t)n, flags) < 0 ? -errno : 0;
}

int pt_devnode_tag(struct pt_fs *fs, int dirfd, const char *name, const struct pt_devnode *d)
{
	struct stat st;
	char path[16];
	int fd, err;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto err_unlink;
	}
	err = pt_stat_fd(fd, &st, NULL);
	if (err)
		goto err_close;
	if (!S_ISREG(st.st_mode) || st.st_size) {
		err = -EEXIST; /* not what we just made: leave it alone */
		close(fd);
		return err;
	}
	/* The daemon's umask may have taken bits off: the host file is exactly 0600. */
	if ((st.st_mode & 07777) != PT_DEVNODE_HOST_MODE) {
		err = pt_fd_path(fs, fd, path, sizeof(path));
		if (!err && fchmodat(fs->proc_fd, path, PT_DEVNODE_HOST_MODE, 0) < 0)
			err = -errno;
		if (err)
			goto err_close;
	}
	err = write_fd(fs, fd, d, XATTR_CREATE);
	if (err == -EOPNOTSUPP) {
		log_guest(LOG_LVL_WARN,
			  "mknod of a device node: the host filesystem has no user extended "
			  "attributes to map it (use --device-nodes=host or refuse): EPERM");
		err = -EPERM;
	} else if (err) {
		log_guest(LOG_LVL_WARN, "mknod of a device node: cannot set %s: %s",
			  PT_DEVNODE_XATTR, strerror(-err));
	}
	if (err)
		goto err_close;
	close(fd);
	return 0;

err_close:
	close(fd);
err_unlink:
	if (unlinkat(dirfd, name, 0) < 0)
		log_warn("cannot remove a half-made device node: %m");
	return err;
}

int pt_devnode_chmod(struct pt_fs *fs, const struct pt_ctx *ctx, struct pt_inode *in,
		     struct pt_devnode *d, mode_t mode)
{
	int objs[] = { in->fd };
	struct pt_devnode nd = *d;
	struct pt_caller c;
	char path[16];
	int err;

	err = pt_fd_path(fs, in->fd, path, sizeof(path));
	if (err)
		return err;
	/*
	 * The host decides whether the caller may chmod (owner or CAP_FOWNER)
	 * and moves ctime; the host mode stays 0600.
	 */
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = fchmodat(fs->proc_fd, path, PT_DEVNODE_HOST_MODE, 0) < 0 ? -errno : 0;
	if (err)
		return err;
	nd.perm = mode & 07777;
	err = write_fd(fs, in->fd, &nd, XATTR_REPLACE);
	if (!err)
		*d = nd;
	return err;
}

int pt_devnode_chown_done(struct pt_fs *fs, struct pt_inode *in, struct pt_devnode *d)
{
	struct pt_devnode nd = *d;
	int err;

	/* As notify_change() for a chown of a non-directory. */
	nd.perm &= ~(mode_t)S_ISUID;
	if (nd.perm & S_IXGRP)
		nd.perm &= ~(mode_t)S_ISGID;
	if (nd.perm == d->perm)
		return 0;
	err = write_fd(fs, in->fd, &nd, XATTR_REPLACE);
	if (!err)
		*d = nd;
	return err;
}
