// SPDX-License-Identifier: MIT
/*
 * Passthrough filesystem lifecycle and the operations on inodes and names: lookup,
 * attributes, access, readlink, statfs, create (mkdir, mknod, symlink, link), remove, rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "pt_devnode.h"
#include "pt_i.h"

static bool have_openat2 = true;

/*
 * Open one name under @dirfd without following symlinks anywhere and
 * without leaving @dirfd. The FUSE parser already checked that @name is
 * one component; openat2 enforces it again in the kernel.
 */
int pt_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&have_openat2, false, __ATOMIC_RELAXED);
	}
	if (strchr(name, '/') || !strcmp(name, "..") || !*name)
		return -EINVAL;
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

/* Reopen an inode's O_PATH fd for I/O through /proc/self/fd. */
int pt_reopen_inode(struct pt_fs *fs, const struct pt_inode *in, int flags)
{
	char name[16];
	int fd;

	snprintf(name, sizeof(name), "%d", in->fd);
	fd = openat(fs->proc_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int pt_fs_new(const struct pt_config *cfg, struct pt_fs **out)
{
	struct pt_fs *fs;
	int fd, err;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		if (cfg->proc_self_fd > 0)
			close(cfg->proc_self_fd); /* ours from the call on, success or not */
		return -ENOMEM;
	}
	fs->cfg = *cfg;
	fs->proc_fd = -1;
	/* In a user namespace that maps one uid there is nobody else to act as. */
	fs->switch_creds = geteuid() == 0 && !cfg->no_cred_switch;
	err = pt_cred_init(fs);
	if (err)
		goto err_free;
	err = pt_inode_table_init(fs);
	if (err)
		goto err_free;
	err = pt_xattr_init(fs);
	if (err)
		goto err_free;
	/* fd 0 is never a /proc handle: a zeroed config means "open it here". */
	if (cfg->proc_self_fd > 0)
		fs->proc_fd = cfg->proc_self_fd;
	else
		fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		err = -errno;
		log_err("cannot open /proc/self/fd: %s", strerror(-err));
		goto err_free;
	}
	fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_err("cannot open shared directory %s: %s", cfg->root, strerror(-err));
		goto err_free;
	}
	err = pt_inode_set_root(fs, fd);
	if (err)
		goto err_free;
	*out = fs;
	return 0;

err_free:
	pt_fs_free(fs);
	return err;
}

void pt_fs_free(struct pt_fs *fs)
{
	if (!fs)
		return;
	pt_handle_remove_all(fs);
	pt_inode_table_fini(fs);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	pt_xattrmap_free(fs->xattrmap);
	free(fs->cap_xattr);
	free(fs->groups);
	free(fs);
}

void pt_fs_reset(struct pt_fs *fs)
{
	unsigned long inodes, handles;

	pt_fs_counts(fs, &inodes, &handles);
	if (inodes > 1 || handles)
		log_info("releasing %lu open files and %lu inodes the guest still held", handles,
			 inodes - 1);
	pt_handle_remove_all(fs);
	pt_inode_forget_all(fs);
}

void pt_fs_counts(struct pt_fs *fs, unsigned long *inodes, unsigned long *handles)
{
	*inodes = pt_inode_count(fs);
	*handles = pt_handle_count(fs);
}

/*
 * Is directory @fd the share root or below it? A host process may have
 * moved a directory out of the share, so ".." of a known directory is not
 * necessarily inside: walk up until the root (yes) or the host's / (no).
 */
static bool dir_within_root(struct pt_fs *fs, int fd)
{
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	bool inside = false;

	for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
		struct stat st, up_st;
		int up;

		if (fstat(cur, &st) < 0)
			break;
		if (st.st_dev == fs->root->dev && st.st_ino == fs->root->ino) {
			inside = true;
			break;
		}
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0 || fstat(up, &up_st) < 0 ||
		    (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino)) {
			if (up >= 0)
				close(up);
			break; /* reached the host's root without meeting ours */
		}
		close(cur);
		cur = up;
	}
	if (cur >= 0)
		close(cur);
	return inside;
}

/* Show a mapped device node (pt_devnode.h) in an entry as the guest's device node. */
static void entry_fix_devnode(struct pt_fs *fs, struct pt_entry *e)
{
	struct pt_inode *in;

	if (!pt_devnode_candidate(&e->st))
		return;
	in = pt_inode_get(fs, e->nodeid);
	if (in) {
		pt_devnode_fix_stat(fs, in->fd, &e->st);
		pt_inode_put(fs, in);
	}
}

/* Look @name up under @dir (a referenced inode) and count the lookup. */
int pt_lookup_in(struct pt_fs *fs, struct pt_inode *dir, const char *name,
		 struct pt_entry *out)
{
	int fd, err;

	if (dir->type != S_IFDIR)
		return -ENOTDIR;
	if (!strcmp(name, ".") || (!strcmp(name, "..") && dir == fs->root)) {
		/* "." is the directory itself; the share root's parent is the root. */
		fd = openat(dir->fd, ".", O_PATH | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	} else if (!strcmp(name, "..")) {
		fd = openat(dir->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
		} else if (!dir_within_root(fs, fd)) {
			/* The directory was moved out of the share under us: do not follow. */
			log_guest(LOG_LVL_WARN, "lookup of \"..\" would leave the shared directory");
			close(fd);
			fd = -EACCES;
		}
	} else {
		struct stat st;
		uint64_t mnt_id;

		/*
		 * Known inodes (the common case: the guest's cache expired) need
		 * one statx of the name, no fd. The name is one component and is
		 * not followed, so this cannot leave the directory.
		 */
		err = pt_stat_at(dir->fd, name, 0, &st, &mnt_id);
		if (err)
			return err;
		if (pt_inode_find(fs, &st, mnt_id, dir->fd, name, out)) {
			fd = pt_open_beneath(dir->fd, name, O_PATH, 0);
			err = fd < 0 ? fd : pt_inode_insert(fs, fd, out);
		}
		if (!err)
			entry_fix_devnode(fs, out);
		/* A host mount point: the guest may mount it as a filesystem of its own. */
		out->submount = !err && fs->cfg.announce_submounts && mnt_id != dir->mnt_id;
		return err;
	}
	if (fd < 0)
		return fd;
	err = pt_inode_insert(fs, fd, out);
	if (!err)
		entry_fix_devnode(fs, out);
	return err;
}

int pt_lookup(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	      struct pt_entry *out)
{
	struct pt_inode *dir = pt_inode_get(fs, parent);
	int err;

	(void)ctx;
	if (!dir)
		return -ESTALE;
	err = pt_lookup_in(fs, dir, name, out);
	pt_inode_put(fs, dir);
	return err;
}

void pt_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup)
{
	pt_inode_forget(fs, nodeid, nlookup);
}

int pt_getattr(struct pt_fs *fs, uint64_t nodeid, struct stat *st)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	int err;

	if (!in)
		return -ESTALE;
	err = pt_stat_fd(in->fd, st, NULL);
	if (!err)
		pt_devnode_fix_stat(fs, in->fd, st);
	pt_inode_put(fs, in);
	if (!err)
		pt_stat_to_guest(fs, st);
	return err;
}

static int set_times(struct pt_fs *fs, struct pt_inode *in, int fd, const struct pt_setattr *sa)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_nsec = UTIME_OMIT },
	};
	char name[16];

	if (sa->valid & PT_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (sa->valid & PT_SET_ATIME)
		ts[0] = sa->atime;
	if (sa->valid & PT_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (sa->valid & PT_SET_MTIME)
		ts[1] = sa->mtime;
	if (fd >= 0)
		return futimens(fd, ts) < 0 ? -errno : 0;
	if (utimensat(in->fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL || in->type == S_IFLNK)
		return -errno;
	/* Kernels before AT_EMPTY_PATH support in utimensat: go through /proc. */
	snprintf(name, sizeof(name), "%d", in->fd);
	return utimensat(fs->proc_fd, name, ts, 0) < 0 ? -errno : 0;
}

/* One attribute change as the caller (with the group retry of pt_caller). */
static int setattr_step(struct pt_fs *fs, const struct pt_ctx *ctx, struct pt_inode *in, int fd,
			const struct pt_setattr *sa, unsigned what)
{
	int objs[] = { in->fd };
	gid_t vouched[2];
	unsigned nvouched = 0;
	struct pt_caller c;
	char name[16];
	int err = 0;

	snprintf(name, sizeof(name), "%d", in->fd);
	/*
	 * Every guest kernel strips a set-group-ID bit from a chmod
	 * (setattr_prepare) and refuses a chgrp when the caller is not in the
	 * group: when they arrive, the caller is a member.
	 */
	if (what == PT_SET_GID)
		vouched[nvouched++] = sa->gid;
	if (what == PT_SET_MODE && (sa->mode & S_ISGID)) {
		struct stat st;

		if (!pt_stat_fd(in->fd, &st, NULL))
			vouched[nvouched++] = st.st_gid;
	}
	for (pt_caller_init(&c, fs, ctx, vouched, nvouched); pt_caller_next(&c, &err, objs, 1);) {
		switch (what) {
		case PT_SET_MODE:
			if (fd >= 0)
				err = fchmod(fd, sa->mode) < 0 ? -errno : 0;
			else if (in->type == S_IFLNK)
				err = -EOPNOTSUPP; /* Linux has no symlink modes */
			else
				err = fchmodat(fs->proc_fd, name, sa->mode, 0) < 0 ? -errno : 0;
			break;
		case PT_SET_GID: /* with or without the uid */
			err = fchownat(in->fd, "", (sa->valid & PT_SET_UID) ? sa->uid : (uid_t)-1,
				       sa->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
				      ? -errno
				      : 0;
			break;
		case PT_SET_UID:
			err = fchownat(in->fd, "", sa->uid, (gid_t)-1,
				       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
				      ? -errno
				      : 0;
			break;
		case PT_SET_SIZE:
			if (fd >= 0) {
				err = ftruncate(fd, (off_t)sa->size) < 0 ? -errno : 0;
			} else if (in->type != S_IFREG) {
				err = in->type == S_IFDIR ? -EISDIR : -EINVAL;
			} else {
				int tfd = pt_reopen_inode(fs, in, O_WRONLY);

				err = tfd;
				if (tfd >= 0) {
					err = ftruncate(tfd, (off_t)sa->size) < 0 ? -errno : 0;
					close(tfd);
				}
			}
			break;
		default: /* times */
			err = set_times(fs, in, fd, sa);
			break;
		}
	}
	return err;
}

int pt_setattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid,
	       const struct pt_setattr *guest_sa, struct stat *st)
{
	struct pt_setattr host_sa = *guest_sa;
	const struct pt_setattr *sa = &host_sa;
	struct pt_inode *in;
	struct pt_handle *h = NULL;
	struct pt_devnode dn;
	int fd = -1, err = 0;
	int devnode = 0;

	/* --translate-uid/--translate-gid: the owner to set, in host ids. */
	if (((sa->valid & PT_SET_UID) &&
	     pt_idmap_to_host(fs->cfg.uid_map, guest_sa->uid, &host_sa.uid)) ||
	    ((sa->valid & PT_SET_GID) &&
	     pt_idmap_to_host(fs->cfg.gid_map, guest_sa->gid, &host_sa.gid)))
		return -EPERM;
	in = pt_inode_get(fs, nodeid);
	if (!in)
		return -ESTALE;
	if (sa->valid & PT_SET_FH) {
		h = pt_handle_get(fs, sa->fh, false);
		if (!h || h->inode != in) {
			err = -EBADF;
			goto out;
		}
		fd = h->fd;
	}
	if (in->type == S_IFREG && !h) {
		/* A mapped device node: its mode lives in the attribute. */
		err = pt_stat_fd(in->fd, st, NULL);
		if (err)
			goto out;
		devnode = pt_devnode_read(fs, in->fd, st, &dn);
		if (devnode && (sa->valid & PT_SET_SIZE)) {
			err = -EINVAL; /* truncate(2) of a device node */
			goto out;
		}
	}
	/* The host kernel decides who may chmod, chown, truncate and touch. */
	if ((sa->valid & PT_SET_MODE) && devnode)
		err = pt_devnode_chmod(fs, ctx, in, &dn, sa->mode);
	else if (sa->valid & PT_SET_MODE)
		err = setattr_step(fs, ctx, in, fd, sa, PT_SET_MODE);
	if (!err && (sa->valid & PT_SET_GID))
		err = setattr_step(fs, ctx, in, fd, sa, PT_SET_GID);
	else if (!err && (sa->valid & PT_SET_UID))
		err = setattr_step(fs, ctx, in, fd, sa, PT_SET_UID);
	if (!err && devnode && (sa->valid & (PT_SET_UID | PT_SET_GID)) &&
	    !(sa->valid & PT_SET_MODE))
		err = pt_devnode_chown_done(fs, in, &dn);
	if (!err && (sa->valid & PT_SET_SIZE))
		err = setattr_step(fs, ctx, in, fd, sa, PT_SET_SIZE);
	if (!err && (sa->valid & (PT_SET_ATIME | PT_SET_MTIME | PT_SET_ATIME_NOW | PT_SET_MTIME_NOW)))
		err = setattr_step(fs, ctx, in, fd, sa, PT_SET_ATIME);
	if (!err && fs->cap_xattr && (sa->valid & (PT_SET_SIZE | PT_SET_UID | PT_SET_GID)))
		pt_xattr_drop_cap(fs, in->fd, true);
	if (!err)
		err = pt_stat_fd(in->fd, st, NULL);
	if (!err)
		pt_devnode_fix_stat(fs, in->fd, st);
	if (!err)
		pt_stat_to_guest(fs, st);
out:
	if (h)
		pt_handle_put(fs, h);
	pt_inode_put(fs, in);
	return err;
}

int pt_access(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int mask)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct pt_cred_saved cred;
	char name[16];
	int err;

	if (!in)
		return -ESTALE;
	snprintf(name, sizeof(name), "%d", in->fd);
	err = pt_cred_enter(fs, ctx, NULL, 0, &cred);
	if (!err) {
		/* AT_EACCESS: check as the effective (the caller's) ids. */
		err = faccessat(fs->proc_fd, name, mask, AT_EACCESS) < 0 ? -errno : 0;
		pt_cred_leave(&cred);
	}
	pt_inode_put(fs, in);
	return err;
}

int pt_readlink(struct pt_fs *fs, uint64_t nodeid, char *buf, size_t size)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	ssize_t n;

	if (!in)
		return -ESTALE;
	if (in->type != S_IFLNK) {
		pt_inode_put(fs, in);
		return -EINVAL;
	}
	n = readlinkat(in->fd, "", buf, size);
	if (n < 0)
		n = -errno;
	pt_inode_put(fs, in);
	return (int)n;
}

int pt_statfs(struct pt_fs *fs, uint64_t nodeid, struct statvfs *out)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	int err;

	if (!in)
		return -ESTALE;
	err = fstatvfs(in->fd, out) < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	return err;
}

/*
 * A create-like request made @name but cannot hand it to the guest (no fd left under
 * --fd-limit, out of memory): take the name away again, so that a request answered
 * with an error leaves nothing behind. Only if @name still is the inode @made.
 */
void pt_undo_create(int dirfd, const char *name, const struct stat *made)
{
	struct stat st;

	if (pt_stat_at(dirfd, name, 0, &st, NULL) || st.st_dev != made->st_dev ||
	    st.st_ino != made->st_ino)
		return;
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		log_warn("cannot remove a node whose creation failed: %s", strerror(errno));
}

/*
 * With FUSE_DONT_MASK the guest leaves its umask to us: set it on this
 * thread (which has its own fs_struct after pt_thread_init, so other
 * threads keep theirs) around the create. Returns what pt_umask_leave
 * restores; (mode_t)-1: nothing changed.
 */
mode_t pt_umask_enter(struct pt_fs *fs, const struct pt_ctx *ctx)
{
	if (!ctx->umask_set)
		return (mode_t)-1;
	if (pt_thread_cwd_fs != fs && pt_thread_init(fs))
		return (mode_t)-1; /* logged; the mode goes unmasked */
	return umask((mode_t)ctx->umask & 0777);
}

void pt_umask_leave(mode_t old)
{
	if (old != (mode_t)-1)
		umask(old);
}

/* What a create-like operation does under its parent, as the caller. */
enum mk_kind { MK_DIR, MK_NOD, MK_DEVNODE, MK_SYMLINK };

static int make_node(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent,
		     const char *name, enum mk_kind kind, mode_t mode, dev_t rdev,
		     const char *target, struct pt_entry *out)
{
	struct pt_inode *dir = pt_inode_get(fs, parent);
	struct pt_caller c;
	mode_t old_umask;
	int objs[1];
	int err;

	if (!dir)
		return -ESTALE;
	if (dir->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out;
	}
	objs[0] = dir->fd;
	old_umask = pt_umask_enter(fs, ctx);
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		switch (kind) {
		case MK_DIR:
			err = mkdirat(dir->fd, name, mode & 07777) < 0 ? -errno : 0;
			break;
		case MK_NOD:
			err = mknodat(dir->fd, name, mode, rdev) < 0 ? -errno : 0;
			break;
		case MK_DEVNODE: /* an empty regular file: pt_devnode_tag finishes it */
			err = mknodat(dir->fd, name, S_IFREG | PT_DEVNODE_HOST_MODE, 0) < 0 ? -errno
											  : 0;
			break;
		case MK_SYMLINK:
			err = symlinkat(target, dir->fd, name) < 0 ? -errno : 0;
			break;
		}
	}
	pt_umask_leave(old_umask);
	if (!err) {
		struct stat made;
		bool have_made = !pt_stat_at(dir->fd, name, 0, &made, NULL);

		if (kind == MK_DEVNODE) {
			struct pt_devnode d = {
				.type = mode & S_IFMT,
				.major = major(rdev),
				.minor = minor(rdev),
				.perm = mode & 07777 &
					~(ctx->umask_set ? (mode_t)ctx->umask & 0777 : 0),
			};

			err = pt_devnode_tag(fs, dir->fd, name, &d);
		}
		if (!err && ctx->secctx_name) {
			mode_t type = kind == MK_DIR       ? S_IFDIR
				      : kind == MK_SYMLINK ? S_IFLNK
				      : kind == MK_DEVNODE ? S_IFREG
							   : (mode & S_IFMT);

			err = pt_xattr_set_secctx(fs, ctx, dir->fd, name, -1, type);
			if (err && unlinkat(dir->fd, name, kind == MK_DIR ? AT_REMOVEDIR : 0) < 0)
				log_warn("cannot remove a new entry without its security context: %m");
		}
		if (!err) {
			err = pt_lookup_in(fs, dir, name, out);
			if (err && have_made)
				pt_undo_create(dir->fd, name, &made);
		}
	}
out:
	pt_inode_put(fs, dir);
	return err;
}

int pt_mkdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	     mode_t mode, struct pt_entry *out)
{
	return make_node(fs, ctx, parent, name, MK_DIR, mode, 0, NULL, out);
}

int pt_mknod(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	     mode_t mode, dev_t rdev, struct pt_entry *out)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		switch (fs->cfg.device_nodes) {
		case PT_DEVNODES_MAPPED:
			/* The rdev FUSE carries is 32 bits: always within the map's limits. */
			if (major(rdev) > PT_DEVNODE_MAJOR_MAX || minor(rdev) > PT_DEVNODE_MINOR_MAX)
				return -EINVAL;
			return make_node(fs, ctx, parent, name, MK_DEVNODE, mode, rdev, NULL, out);
		case PT_DEVNODES_HOST:
			break; /* a real node: the host checks CAP_MKNOD */
		default:
			/* A guest-made device node would reach host devices through us. */
			return -EPERM;
		}
		break;
	default:
		return -EINVAL;
	}
	return make_node(fs, ctx, parent, name, MK_NOD, mode, rdev, NULL, out);
}

int pt_symlink(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	       const char *target, struct pt_entry *out)
{
	return make_node(fs, ctx, parent, name, MK_SYMLINK, 0, 0, target, out);
}

int pt_link(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, uint64_t newparent,
	    const char *newname, struct pt_entry *out)
{
	struct pt_inode *in = pt_inode_get(fs, nodeid);
	struct pt_inode *dir = pt_inode_get(fs, newparent);
	struct pt_caller c;
	char name[16];
	int objs[2];
	int err;

	if (!in || !dir) {
		err = -ESTALE;
		goto out;
	}
	if (dir->type != S_IFDIR) {
		err = -ENOTDIR;
		goto out;
	}
	if (in->type == S_IFDIR) {
		err = -EPERM;
		goto out;
	}
	/* Link the inode itself (not a name that may have changed) via its /proc entry. */
	snprintf(name, sizeof(name), "%d", in->fd);
	objs[0] = dir->fd;
	objs[1] = in->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 2);)
		err = linkat(fs->proc_fd, name, dir->fd, newname, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	if (err)
		goto out;
	err = pt_lookup_in(fs, dir, newname, out);
out:
	pt_inode_put(fs, dir);
	pt_inode_put(fs, in);
	return err;
}

static int remove_name(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent,
		       const char *name, int flags)
{
	struct pt_inode *dir = pt_inode_get(fs, parent);
	struct pt_caller c;
	int objs[1];
	int err;

	if (!dir)
		return -ESTALE;
	objs[0] = dir->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
		err = unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
	pt_inode_put(fs, dir);
	return err;
}

int pt_unlink(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name)
{
	return remove_name(fs, ctx, parent, name, 0);
}

int pt_rmdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name)
{
	return remove_name(fs, ctx, parent, name, AT_REMOVEDIR);
}

int pt_rename(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t olddir, const char *oldname,
	      uint64_t newdir, const char *newname, unsigned flags)
{
	struct pt_inode *od = pt_inode_get(fs, olddir);
	struct pt_inode *nd = pt_inode_get(fs, newdir);
	struct pt_caller c;
	int objs[2];
	int err;

	if (!od || !nd) {
		err = -ESTALE;
		goto out;
	}
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		err = -EINVAL;
		goto out;
	}
	objs[0] = od->fd;
	objs[1] = nd->fd;
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 2);)
		err = renameat2(od->fd, oldname, nd->fd, newname, flags) < 0 ? -errno : 0;
out:
	pt_inode_put(fs, nd);
	pt_inode_put(fs, od);
	return err;
}

__thread struct pt_fs *pt_thread_cwd_fs;

int pt_thread_init(struct pt_fs *fs)
{
	/* A private cwd, parked in /proc/self/fd: "N" then names inode fd N. */
	if (unshare(CLONE_FS) < 0 || fchdir(fs->proc_fd) < 0) {
		int err = -errno;

		log_err("cannot set up the thread's working directory: %s", strerror(-err));
		return err;
	}
	pt_thread_cwd_fs = fs;
	return 0;
}
