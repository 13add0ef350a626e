/* SPDX-License-Identifier: MIT */
/*
 * Passthrough filesystem: serves a host directory tree.
 *
 * Knows nothing of the FUSE wire format: callers pass decoded, validated
 * arguments (names are single path components, checked by the FUSE parser)
 * and the caller's credentials; every function returns 0 (or a byte count)
 * or a negative errno that can go to the guest as it is.
 *
 * Inodes: each known inode is held as an O_PATH fd, keyed by (st_dev,
 * st_ino, mount id) so hard links share one node. The guest names it by a
 * nodeid that is a table index plus generation (never a pointer, never
 * reused while the guest may hold it); FUSE_ROOT_ID (1) is the shared dir.
 * Lookup counting follows the FUSE contract: every reply that hands out an
 * entry adds one, FORGET subtracts what the guest says; the fd is closed
 * when the count reaches zero and no request is using the inode.
 *
 * Names are resolved only relative to a parent's O_PATH fd, never
 * following symlinks; files are opened for I/O only if they are regular
 * files or directories (never a device or FIFO a guest created).
 *
 * Thread-safe: any number of queue threads may call in concurrently.
 */
#ifndef VUFS_PT_H
#define VUFS_PT_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "pt_fhandle.h"
#include "pt_idmap.h"

struct pt_fs;

#define PT_ROOT_ID 1

/* Who is asking (from the FUSE request header). */
struct pt_ctx {
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	/*
	 * Create-like requests under FUSE_DONT_MASK (--posix-acl): the guest
	 * left its umask to us; the host applies it unless the parent has a
	 * default ACL.
	 */
	bool umask_set;
	uint32_t umask;
	/*
	 * Create-like requests under FUSE_SECURITY_CTX (--security-label): the
	 * extended attribute the guest's LSM wants on the new inode (name NULL:
	 * none), set through --xattrmap; if it cannot be set, the new entry is
	 * removed again and the request fails.
	 */
	const char *secctx_name;
	const void *secctx_value;
	size_t secctx_size;
};

/*
 * What a guest's block or character MKNOD makes (--device-nodes); see
 * pt_devnode.h. Zero is the default.
 */
enum pt_devnodes {
	PT_DEVNODES_MAPPED = 0, /* empty 0600 regular file + type/rdev/mode in a user. xattr */
	PT_DEVNODES_HOST,       /* a real device node (the daemon needs CAP_MKNOD) */
	PT_DEVNODES_REFUSE,     /* -EPERM */
};

/* "mapped", "host" or "refuse"; 0 or -EINVAL. */
int pt_devnodes_parse(const char *s, enum pt_devnodes *out);

struct pt_config {
	const char *root;         /* the shared directory */
	bool direct_io_allowed;   /* pass O_DIRECT through to the host */
	unsigned long max_fds;    /* inode + open-file fds the guest may make us hold, 0 = no cap */
	bool xattr;               /* serve extended attributes */
	bool preserve_noatime;    /* pass O_NOATIME through; else dropped (it fails with EPERM
				     on files the caller does not own) */
	enum pt_devnodes device_nodes; /* what a block/char MKNOD makes */
	const char *xattrmap;     /* --xattrmap rules (pt_xattrmap.h), NULL = names as they are */
	int proc_self_fd;         /* O_PATH fd of /proc/self/fd from the sandbox (> 0: taken
				   over by pt_fs_new, even on failure), else opened here */
	enum pt_fh_mode inode_file_handles; /* --inode-file-handles (pt_fhandle.h) */
	bool announce_submounts;  /* --announce-submounts: flag host mount points */
	const struct pt_idmap *uid_map; /* --translate-uid (NULL: none); must outlive the fs */
	const struct pt_idmap *gid_map; /* --translate-gid (NULL: none) */
	bool no_cred_switch;      /* never act as the caller (a user namespace with one uid) */
};

/* What an entry reply needs. */
struct pt_entry {
	uint64_t nodeid;
	uint64_t generation;
	struct stat st;
	bool submount; /* a host mount point to announce (FUSE_ATTR_SUBMOUNT) */
};

/* pt_setattr: which fields of struct pt_setattr apply. */
enum {
	PT_SET_MODE = 1 << 0,
	PT_SET_UID = 1 << 1,
	PT_SET_GID = 1 << 2,
	PT_SET_SIZE = 1 << 3,
	PT_SET_ATIME = 1 << 4,
	PT_SET_MTIME = 1 << 5,
	PT_SET_ATIME_NOW = 1 << 6,
	PT_SET_MTIME_NOW = 1 << 7,
	PT_SET_FH = 1 << 8, /* fh is valid: use that open file */
};

struct pt_setattr {
	unsigned valid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size;
	struct timespec atime, mtime;
	uint64_t fh;
};

/* One directory entry handed to a readdir consumer. */
struct pt_dirent {
	const char *name;
	size_t namelen;
	uint64_t ino;
	unsigned type;     /* DT_* */
	uint64_t next_off; /* offset of the entry after this one */
};

struct pt_readdir_sink {
	/* Would an entry with this name length still fit? */
	bool (*fits)(void *arg, size_t namelen);
	/*
	 * Add one entry; @e is the looked-up entry for READDIRPLUS (NULL for
	 * plain readdir, and for "." and ".." which are not looked up).
	 * Returns 0, or a positive value if it did not fit after all.
	 */
	int (*add)(void *arg, const struct pt_dirent *d, const struct pt_entry *e);
	void *arg;
};

/* Open the shared dir and set up the tables. Returns 0 or -errno (logged). */
int pt_fs_new(const struct pt_config *cfg, struct pt_fs **out);
void pt_fs_free(struct pt_fs *fs);
/* FUSE_DESTROY / device reset: close every handle and forget every inode but the root. */
void pt_fs_reset(struct pt_fs *fs);
/*
 * At FUSE_INIT: does the guest mount announced submounts itself
 * (FUSE_SUBMOUNTS)? With --announce-submounts it then sees each host
 * filesystem with its own st_dev and gets host inode numbers unchanged;
 * otherwise numbers of filesystems other than the share's get a device
 * prefix so they cannot collide (pt_guest_ino in pt_i.h).
 */
void pt_fs_set_guest_submounts(struct pt_fs *fs, bool guest_automounts);
/* Inodes and handles currently held (for tests, logs and metrics). */
void pt_fs_counts(struct pt_fs *fs, unsigned long *inodes, unsigned long *handles);

/*
 * Per-thread setup for a thread that will call into the filesystem: a
 * private cwd (unshare(CLONE_FS)) parked in /proc/self/fd, so inodes can
 * be named relative to it by fd number. Returns 0 or -errno.
 */
int pt_thread_init(struct pt_fs *fs);

int pt_lookup(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	      struct pt_entry *out);
/* Drop @nlookup references the guest held on @nodeid (unknown ids are ignored). */
void pt_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t nlookup);
int pt_getattr(struct pt_fs *fs, uint64_t nodeid, struct stat *st);
int pt_setattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid,
	       const struct pt_setattr *sa, struct stat *st);
int pt_access(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int mask);
int pt_readlink(struct pt_fs *fs, uint64_t nodeid, char *buf, size_t size);
int pt_statfs(struct pt_fs *fs, uint64_t nodeid, struct statvfs *out);

int pt_mkdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	     mode_t mode, struct pt_entry *out);
int pt_mknod(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	     mode_t mode, dev_t rdev, struct pt_entry *out);
int pt_symlink(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	       const char *target, struct pt_entry *out);
int pt_link(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, uint64_t newparent,
	    const char *newname, struct pt_entry *out);
int pt_unlink(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name);
int pt_rmdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name);
int pt_rename(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t olddir, const char *oldname,
	      uint64_t newdir, const char *newname, unsigned flags);

/* @flags are the guest's open flags; the daemon filters them. */
int pt_open(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int flags,
	    uint64_t *fh);
/*
 * Open regular file @nodeid as the caller, like pt_open, but hand the fd to
 * the caller (not in the handle table, not counted by --fd-limit): DAX
 * mappings keep one per mapped range, bounded by the window.
 */
int pt_open_fd(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, int flags, int *fd);
int pt_create(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, const char *name,
	      mode_t mode, int flags, struct pt_entry *out, uint64_t *fh);
/* Read into / write from guest buffers directly. Return bytes or -errno. */
ssize_t pt_read(struct pt_fs *fs, uint64_t fh, const struct iovec *iov, unsigned cnt,
		uint64_t off);
ssize_t pt_write(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t fh,
		 const struct iovec *iov, unsigned cnt, uint64_t off);
/*
 * FLUSH (a close() in the guest): report deferred errors and, as close()
 * does for POSIX locks, release the locks lock owner @owner holds through
 * this open file.
 */
int pt_flush(struct pt_fs *fs, uint64_t fh, uint64_t owner);
int pt_fsync(struct pt_fs *fs, uint64_t fh, bool datasync);
int pt_release(struct pt_fs *fs, uint64_t fh);

int pt_opendir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, uint64_t *fh);
/* List from @off; with @plus each entry is looked up (counted like LOOKUP). */
int pt_readdir(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t fh, uint64_t off, bool plus,
	       const struct pt_readdir_sink *sink);
int pt_fsyncdir(struct pt_fs *fs, uint64_t fh, bool datasync);
int pt_releasedir(struct pt_fs *fs, uint64_t fh);

/* Extended attributes (only when enabled with --xattr). Sizes follow getxattr(2):
 * @size 0 asks for the size; a too-small buffer gives -ERANGE. */
int pt_getxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		void *buf, size_t size);
int pt_listxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, char *buf,
		 size_t size);
/*
 * @flags: XATTR_CREATE/XATTR_REPLACE, and PT_XATTR_KILL_SGID (FUSE_SETXATTR_ACL_KILL_SGID:
 * setting an access ACL clears set-group-ID, the caller being neither in the group nor
 * CAP_FSETID).
 */
#define PT_XATTR_KILL_SGID (1 << 30)
int pt_setxattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid, const char *name,
		const void *value, size_t size, int flags);
int pt_removexattr(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t nodeid,
		   const char *name);

/*
 * Locks on the open file, as host open-file-description locks (POSIX
 * byte ranges) or flock: other guest opens and host processes see them.
 * pt_setlk with @wait blocks the calling thread until granted or a signal
 * interrupts it (-EINTR).
 */
int pt_getlk(struct pt_fs *fs, uint64_t fh, struct flock *fl);
/*
 * @fl->l_pid: the guest process taking the lock (reported by a later
 * pt_getlk); @owner: the guest's lock owner, whose locks pt_flush releases.
 */
int pt_setlk(struct pt_fs *fs, uint64_t fh, const struct flock *fl, uint64_t owner, bool wait);
int pt_flock(struct pt_fs *fs, uint64_t fh, int op);

int pt_fallocate(struct pt_fs *fs, uint64_t fh, int mode, uint64_t off, uint64_t len);
int64_t pt_lseek(struct pt_fs *fs, uint64_t fh, uint64_t off, int whence);
ssize_t pt_copy_file_range(struct pt_fs *fs, uint64_t fh_in, uint64_t off_in,
			   uint64_t fh_out, uint64_t off_out, size_t len, unsigned flags);
int pt_syncfs(struct pt_fs *fs, uint64_t nodeid);
/* An unnamed file in directory @parent (O_TMPFILE), opened; counted like CREATE. */
int pt_tmpfile(struct pt_fs *fs, const struct pt_ctx *ctx, uint64_t parent, mode_t mode,
	       int flags, struct pt_entry *out, uint64_t *fh);
/* Clear set-user-ID and (group-executable) set-group-ID bits (FUSE_HANDLE_KILLPRIV_V2). */
int pt_kill_suidgid(struct pt_fs *fs, uint64_t nodeid);

#endif /* VUFS_PT_H */
