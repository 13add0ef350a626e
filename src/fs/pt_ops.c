// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "iov.h"
#include "log.h"
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

static bool have_openat2 = true;

/*
 * Open one name under @dirfd without following symlinks anywhere and
 * without leaving @dirfd. The FUSE parser already checked that @name is
 * one component; openat2 enforces it again in the kernel.
 */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
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
static int reopen_inode(struct pt_fs *fs, const struct pt_inode *in, int flags)
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
static int lookup_in(struct pt_fs *fs, struct pt_inode *dir, const char *name,
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
			fd = open_beneath(dir->fd, name, O_PATH, 0);
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
	err = lookup_in(fs, dir, name, out);
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
				int tfd = reopen_inode(fs, in, O_WRONLY);

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
static void undo_create(int dirfd, const char *name, const struct stat *made)
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
 * threads keep theirs) around the create. Returns what umask_leave
 * restores; (mode_t)-1: nothing changed.
 */
static mode_t umask_enter(struct pt_fs *fs, const struct pt_ctx *ctx)
{
	if (!ctx->umask_set)
		return (mode_t)-1;
	if (pt_thread_cwd_fs != fs && pt_thread_init(fs))
		return (mode_t)-1; /* logged; the mode goes unmasked */
	return umask((mode_t)ctx->umask & 0777);
}

static void umask_leave(mode_t old)
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
	old_umask = umask_enter(fs, ctx);
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
	umask_leave(old_umask);
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
			err = lookup_in(fs, dir, name, out);
			if (err && have_made)
				undo_create(dir->fd, name, &made);
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
	err = lookup_in(fs, dir, newname, out);
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
		fd = reopen_inode(fs, in, filter_open_flags(fs, flags));
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
		*fd = reopen_inode(fs, in, filter_open_flags(fs, flags));
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

	pfd = open_beneath(dir->fd, name, O_PATH, 0);
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
	old_umask = umask_enter(fs, ctx);
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		/*
		 * Always O_EXCL: without it, open(O_CREAT) would open whatever
		 * exists under the name, a FIFO (blocking this thread) or a
		 * device node included (CVE-2020-35517).
		 */
		fd = open_beneath(dir->fd, name, filter_open_flags(fs, flags) | O_CREAT | O_EXCL,
				  mode & 07777);
		created = fd >= 0;
		if (fd == -EEXIST && !(flags & O_EXCL))
			fd = open_existing(fs, dir, name, filter_open_flags(fs, flags));
		err = fd < 0 ? fd : 0;
	}
	umask_leave(old_umask);
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
			undo_create(dir->fd, name, &made);
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

static int sync_handle(struct pt_fs *fs, uint64_t fh, bool is_dir, bool datasync)
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
	return sync_handle(fs, fh, false, datasync);
}

int pt_release(struct pt_fs *fs, uint64_t fh)
{
	return pt_handle_remove(fs, fh, false);
}

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
		fd = reopen_inode(fs, in, O_RDONLY | O_DIRECTORY);
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
			r = lookup_in(fs, h->inode, d.name, &e);
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
	return sync_handle(fs, fh, true, datasync);
}

int pt_releasedir(struct pt_fs *fs, uint64_t fh)
{
	return pt_handle_remove(fs, fh, true);
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

/*
 * Lock records: host OFD locks know which open file holds a range, not
 * which guest process; F_GETLK must name the process. Each file handle
 * keeps the ranges it was granted with the guest pid, mirroring what the
 * host applied (a new lock replaces the handle's own overlapping ranges,
 * as POSIX does for one owner).
 */
#define PT_MAX_LOCK_RECS 1024

static uint64_t flock_end(const struct flock *fl)
{
	return fl->l_len ? (uint64_t)(fl->l_start + fl->l_len - 1) : UINT64_MAX;
}

/*
 * Record that @h now holds @type (F_UNLCK: nothing) on [s, e] for guest
 * process @pid. A handle's ranges never overlap, so at most one splits in
 * two. On allocation failure the records are dropped (pids then read 0).
 * Caller holds h->dir_lock.
 */
static void lock_recs_apply(struct pt_handle *h, uint64_t s, uint64_t e, short type,
			    uint32_t pid, uint64_t owner)
{
	unsigned max = h->nlocks + 2, n = 0;
	struct pt_lock_rec *v = malloc(max * sizeof(*v));

	if (!v || max > PT_MAX_LOCK_RECS) {
		free(v);
		v = NULL;
		goto out;
	}
	for (unsigned i = 0; i < h->nlocks; i++) {
		struct pt_lock_rec r = h->locks[i];

		if (r.end < s || r.start > e) {
			v[n++] = r;
			continue;
		}
		if (r.start < s) {
			v[n] = r;
			v[n++].end = s - 1;
		}
		if (r.end > e) {
			v[n] = r;
			v[n++].start = e + 1;
		}
	}
	if (type != F_UNLCK)
		v[n++] = (struct pt_lock_rec){
			.start = s, .end = e, .type = type, .pid = pid, .owner = owner
		};
out:
	free(h->locks);
	h->locks = v;
	h->nlocks = v ? n : 0;
	h->cap_locks = v ? max : 0;
}

struct lock_owner_search {
	struct pt_fs *fs;
	const struct pt_handle *self;
	const struct pt_inode *inode;
	uint64_t start, end;
	uint32_t pid;
};

/* idtable_foreach callback, under handle_lock: a record of another open of the inode. */
static void find_lock_owner(void *obj, uint64_t id, void *arg)
{
	struct lock_owner_search *q = arg;
	struct pt_handle *h = obj;

	(void)id;
	if (q->pid || h == q->self || h->is_dir || h->inode != q->inode)
		return;
	pthread_mutex_lock(&h->dir_lock);
	for (unsigned i = 0; i < h->nlocks; i++) {
		if (h->locks[i].start <= q->end && h->locks[i].end >= q->start) {
			q->pid = h->locks[i].pid;
			break;
		}
	}
	pthread_mutex_unlock(&h->dir_lock);
}

int pt_getlk(struct pt_fs *fs, uint64_t fh, struct flock *fl)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	struct lock_owner_search q = { .fs = fs };
	int err;

	if (!h)
		return -EBADF;
	fl->l_pid = 0; /* required for OFD locks */
	err = fcntl(h->fd, F_OFD_GETLK, fl) < 0 ? -errno : 0;
	if (!err && fl->l_type != F_UNLCK) {
		/* Which guest process holds it, if any (a host process: pid 0). */
		q.self = h;
		q.inode = h->inode;
		q.start = (uint64_t)fl->l_start;
		q.end = flock_end(fl);
		pthread_mutex_lock(&fs->handle_lock);
		idtable_foreach(&fs->handles, find_lock_owner, &q);
		pthread_mutex_unlock(&fs->handle_lock);
	}
	if (!err)
		fl->l_pid = (pid_t)q.pid;
	pt_handle_put(fs, h);
	return err;
}

int pt_setlk(struct pt_fs *fs, uint64_t fh, const struct flock *fl, uint64_t owner, bool wait)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	struct flock l = *fl;
	int err;

	if (!h)
		return -EBADF;
	l.l_pid = 0;
	err = fcntl(h->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &l) < 0 ? -errno : 0;
	if (!err) {
		pthread_mutex_lock(&h->dir_lock);
		lock_recs_apply(h, (uint64_t)fl->l_start, flock_end(fl), fl->l_type,
				(uint32_t)fl->l_pid, owner);
		pthread_mutex_unlock(&h->dir_lock);
	}
	pt_handle_put(fs, h);
	return err;
}

int pt_flock(struct pt_fs *fs, uint64_t fh, int op)
{
	struct pt_handle *h = pt_handle_get(fs, fh, false);
	int err;

	if (!h)
		return -EBADF;
	err = flock(h->fd, op) < 0 ? -errno : 0;
	if (!err) {
		/* Remembered so that a live migration can take it again (src/migr). */
		pthread_mutex_lock(&h->dir_lock);
		h->flock_held = op & (LOCK_SH | LOCK_EX);
		pthread_mutex_unlock(&h->dir_lock);
	}
	pt_handle_put(fs, h);
	return err;
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
	fd = reopen_inode(fs, in->type == S_IFDIR ? in : fs->root, O_RDONLY | O_DIRECTORY);
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
	old_umask = umask_enter(fs, ctx);
	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);) {
		fd = open_beneath(dir->fd, ".", oflags, mode & 07777);
		err = fd < 0 ? fd : 0;
	}
	umask_leave(old_umask);
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
