// SPDX-License-Identifier: MIT
/*
 * Extended attributes, served only with --xattr (otherwise -ENOSYS, and
 * the guest stops asking). The *xattr calls need a path or a real fd; an
 * O_PATH fd works as a path relative to the thread's cwd, which
 * pt_thread_init parks in /proc/self/fd: "N" names inode fd N. The magic
 * link resolves to the inode itself, never through a name in the share.
 *
 * Symlinks: l*xattr on "N" would act on the /proc link, not the inode, and
 * user.* attributes cannot exist on symlinks anyway: -EPERM/-ENOTSUP come
 * back from the host as they would locally for trusted/security names.
 *
 * The name PT_DEVNODE_XATTR holds mapped device nodes (pt_devnode.h) and
 * is not the guest's: GETXATTR and REMOVEXATTR say it is absent (-ENODATA),
 * SETXATTR refuses it (-EPERM) and LISTXATTR leaves it out, on every file.
 * That is checked on the host name, after --xattrmap (pt_xattrmap.h) has
 * turned the guest's name into the host's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "log.h"
#include "pt_devnode.h"
#include "pt_i.h"

/* XATTR_LIST_MAX: the longest list the kernel returns. */
#define PT_XATTR_LIST_MAX 65536

int pt_fd_path(struct pt_fs *fs, int fd, char *buf, size_t size)
{
	int n;

	if (pt_thread_cwd_fs != fs) {
		int err = pt_thread_init(fs);

		if (err)
			return err;
	}
	n = snprintf(buf, size, "%d", fd);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int xattr_begin(struct pt_fs *fs, uint64_t nodeid, struct pt_inode **in, char *name,
		       size_t size)
{
	int err;

	if (!fs->cfg.xattr)
		return -ENOSYS;
	*in = pt_inode_get(fs, nodeid);
	if (!*in)
		return -ESTALE;
	err = pt_fd_path(fs, (*in)->fd, name, size);
	if (err) {
		pt_inode_put(fs, *in);
		*in = NULL;
	}
	return err;
}

int pt_xattr_init(struct pt_fs *fs)
{
	char err[128], cap[PT_XATTR_NAME_MAX + 1];
	int r;

	if (!fs->cfg.xattrmap)
		return 0;
	r = pt_xattrmap_parse(fs->cfg.xattrmap, &fs->xattrmap, err, sizeof(err));
	if (r) {
		log_err("--xattrmap: %s", r == -EINVAL ? err : strerror(-r));
		return r;
	}
	r = pt_xattrmap_to_host(fs->xattrmap, "security.capability", cap, sizeof(cap));
	if (!r && strcmp(cap, "security.capability")) {
		fs->cap_xattr = strdup(cap);
		if (!fs->cap_xattr)
			return -ENOMEM;
		log_info("--xattrmap: security.capability is kept as %s: removed on write, "
			 "truncate and chown",
			 cap);
	}
	return 0;
}

void pt_xattr_drop_cap(struct pt_fs *fs, int fd, bool path_fd)
{
	char path[16];
	int r;

	if (!fs->cap_xattr)
		return;
	if (path_fd)
		r = pt_fd_path(fs, fd, path, sizeof(path)) ? -1 : removexattr(path, fs->cap_xattr);
	else
		r = fremovexattr(fd, fs->cap_xattr);
	if (r < 0 && errno != ENODATA && errno != EOPNOTSUPP)
		log_guest(LOG_LVL_WARN, "cannot remove the mapped security.capability: %m");
}

static int host_name(struct pt_fs *fs, const char *name, char *buf, size_t size,
		     const char **out, int reserved_err);

int pt_xattr_set_secctx(struct pt_fs *fs, const struct pt_ctx *ctx, int dirfd,
			const char *name, int fd, mode_t type)
{
	char hname[PT_XATTR_NAME_MAX + 1], path[16 + NAME_MAX + 2];
	const char *xname = "";
	int err;

	if (!ctx->secctx_name)
		return 0;
	err = host_name(fs, ctx->secctx_name, hname, sizeof(hname), &xname, -EPERM);
	if (!err && fd >= 0) {
		err = fsetxattr(fd, xname, ctx->secctx_value, ctx->secctx_size, 0) < 0 ? -errno : 0;
	} else if (!err) {
		/* "N/name": the directory's magic link, then the new name, not followed. */
		err = pt_fd_path(fs, dirfd, path, sizeof(path));
		if (!err && strlen(path) + 1 + strlen(name) >= sizeof(path))
			err = -ENAMETOOLONG;
		if (!err) {
			strcat(path, "/");
			strcat(path, name);
			err = lsetxattr(path, xname, ctx->secctx_value, ctx->secctx_size, 0) < 0
				      ? -errno
				      : 0;
		}
	}
	if (err == -EPERM && type != S_IFREG && type != S_IFDIR && !strncmp(xname, "user.", 5)) {
		log_guest(LOG_LVL_INFO, "security context %s not kept on a special file", xname);
		return 0;
	}
	if (err)
		log_guest(LOG_LVL_WARN, "cannot set the security context on a new inode: %s",
			  strerror(-err));
	return err;
}

/* Guest name @name -> the host's, in @buf; then the reserved-name check (@reserved_err). */
static int host_name(struct pt_fs *fs, const char *name, char *buf, size_t size,
		     const char **out, int reserved_err)
{
	if (fs->xattrmap) {
		int err = pt_xattrmap_to_host(fs->xattrmap, name, buf, size);

		if (err)
			return err;
		name = buf;
	}
	if (pt_devnode_reserved(name))
		return reserved_err;
	*out = name;
	return 0;
}

/* A host list as the guest sees it: without the reserved name, names mapped. */
static size_t list_for_guest(struct pt_fs *fs, char *buf, size_t len)
{
	len = pt_devnode_filter_list(buf, len);
	if (fs->xattrmap)
		len = pt_xattrmap_list(fs->xattrmap, buf, len);
	return len;
}

/*
 * The host's list for @path without the reserved name, with getxattr(2)
 * size rules for @buf/@size. Lists into a buffer of our own when the
 * guest's is too small for the unfiltered list, so a size the guest got
 * from a probe always fits.
 */
static ssize_t list_filtered(struct pt_fs *fs, const char *path, char *buf, size_t size)
{
	ssize_t n = -1, want;
	char *tmp = NULL;

	if (size) {
		n = listxattr(path, buf, size);
		if (n >= 0)
			return (ssize_t)list_for_guest(fs, buf, (size_t)n);
		if (errno != ERANGE)
			return -errno;
	}
	for (int tries = 0; tries < 4; tries++) {
		want = listxattr(path, NULL, 0);
		if (want <= 0)
			return want < 0 ? -errno : 0;
		if (want > PT_XATTR_LIST_MAX)
			want = PT_XATTR_LIST_MAX;
		free(tmp);
		tmp = malloc((size_t)want);
		if (!tmp)
			return -ENOMEM;
		n = listxattr(path, tmp, (size_t)want);
		if (n >= 0 || errno != ERANGE)
			break;
	}
	if (n < 0) {
		n = -errno;
		goto out;
	}
	n = (ssize_t)list_for_guest(fs, tmp, (size_t)n);
	if (size && (size_t)n > size)
		n = -ERANGE;
	else if (size)
		memcpy(buf, tmp, (size_t)n);
out:
	free(tmp);
	return n;
}

int pt_getxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		void *buf, size_t size)
{
	char path[16], hname[PT_XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	ssize_t n;
	int err;

	(void)ctx;
	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	err = host_name(fs, name, hname, sizeof(hname), &name, -ENODATA);
	if (err) {
		pt_inode_put(fs, in);
		return err;
	}
	n = getxattr(path, name, size ? buf : NULL, size);
	pt_inode_put(fs, in);
	return n < 0 ? -errno : (int)n;
}

int pt_listxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, char *buf,
		 size_t size)
{
	struct pt_inode *in;
	char path[16];
	ssize_t n;
	int err;

	(void)ctx;
	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	n = list_filtered(fs, path, buf, size);
	pt_inode_put(fs, in);
	return (int)n;
}

/*
 * FUSE_SETXATTR_ACL_KILL_SGID: the guest set an access ACL for a caller in
 * neither the file's group nor CAP_FSETID; as posix_acl_update_mode()
 * does locally, set-group-ID goes.
 */
static int acl_kill_sgid(struct pt_fs *fs, struct pt_inode *in, const char *path)
{
	struct stat st;
	int err;

	err = pt_stat_fd(in->fd, &st, NULL);
	if (err || !(st.st_mode & S_ISGID) || S_ISLNK(st.st_mode))
		return err;
	return fchmodat(fs->proc_fd, path, st.st_mode & 07777 & ~(mode_t)S_ISGID, 0) < 0 ? -errno
											 : 0;
}

int pt_setxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		const void *value, size_t size, int flags)
{
	bool kill_sgid;
	char path[16], hname[PT_XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	struct pt_caller c;
	int objs[1];
	int err;

	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	err = host_name(fs, name, hname, sizeof(hname), &name, -EPERM);
	if (err) {
		pt_inode_put(fs, in);
		return err;
	}
	kill_sgid = flags & PT_XATTR_KILL_SGID;
	flags &= ~PT_XATTR_KILL_SGID;
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = setxattr(path, name, value, size, flags) < 0 ? -errno : 0;
	if (!err && kill_sgid)
		err = acl_kill_sgid(fs, in, path);
	pt_inode_put(fs, in);
	return err;
}

int pt_removexattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid,
		   const char *name)
{
	char path[16], hname[PT_XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	struct pt_caller c;
	int objs[1];
	int err;

	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	err = host_name(fs, name, hname, sizeof(hname), &name, -ENODATA);
	if (err) {
		pt_inode_put(fs, in);
		return err;
	}
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = removexattr(path, name) < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	return err;
}
