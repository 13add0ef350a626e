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
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "pt_i.h"

static int xattr_begin(struct pt_fs *fs, uint64_t nodeid, struct pt_inode **in, char *name,
		       size_t size)
{
	if (!fs->cfg.xattr)
		return -ENOSYS;
	if (pt_thread_cwd_fs != fs) {
		int err = pt_thread_init(fs);

		if (err)
			return err;
	}
	*in = pt_inode_get(fs, nodeid);
	if (!*in)
		return -ESTALE;
	snprintf(name, size, "%d", (*in)->fd);
	return 0;
}

int pt_getxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		void *buf, size_t size)
{
	struct pt_inode *in;
	char path[16];
	ssize_t n;
	int err;

	(void)ctx;
	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
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
	n = listxattr(path, size ? buf : NULL, size);
	pt_inode_put(fs, in);
	return n < 0 ? -errno : (int)n;
}

int pt_setxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		const void *value, size_t size, int flags)
{
	struct pt_inode *in;
	struct pt_caller c;
	char path[16];
	int objs[1];
	int err;

	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = setxattr(path, name, value, size, flags) < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	return err;
}

int pt_removexattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid,
		   const char *name)
{
	struct pt_inode *in;
	struct pt_caller c;
	char path[16];
	int objs[1];
	int err;

	err = xattr_begin(fs, nodeid, &in, path, sizeof(path));
	if (err)
		return err;
	objs[0] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = removexattr(path, name) < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	return err;
}
