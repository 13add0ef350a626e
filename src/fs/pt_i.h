/* SPDX-License-Identifier: MIT */
/* Passthrough internals shared by pt_inode.c, pt_cred.c, pt_ops.c, pt_file.c, pt_dir.c, pt_lock.c. */
#ifndef VUFS_PT_I_H
#define VUFS_PT_I_H

#include <pthread.h>

#include "idtable.h"
#include "pt.h"
#include "pt_fhandle.h"

/* Devices with their own inode number prefix (pt_guest_ino); the last prefix is the overflow. */
#define PT_INO_DEVS 255

struct pt_ino_syn {
	dev_t dev;
	uint64_t ino;
	uint64_t num; /* 0: empty slot */
};

/*
 * File-handle inodes cost no fd but memory (about 150 bytes): the guest may
 * hold this many per fd of --fd-limit before it gets ENFILE (the default
 * limit allows about 1.2 million).
 */
#define PT_FH_INODES_PER_FD 64

/* Unreferenced file-handle inodes that keep their fd open, at most (pt_inode.c). */
#define PT_FD_CACHE 64
#include "pt_xattrmap.h"

struct pt_inode {
	/*
	 * O_PATH, O_NOFOLLOW: never used for I/O directly. A file-handle inode
	 * (fh set) has one only while referenced (pt_inode_get to _put) or
	 * cached; otherwise -1. Valid and unchanging while the caller holds a
	 * reference; transitions are protected by pt_fs.inode_lock.
	 */
	int fd;
	struct pt_fh *fh; /* file-handle inode: its handle (immutable), else NULL */
	uint64_t nodeid;
	uint64_t generation;
	dev_t dev;
	ino_t ino;
	uint64_t mnt_id;
	mode_t type; /* S_IFMT bits: an inode never changes type */
	/* protected by pt_fs.inode_lock: */
	uint64_t nlookup;        /* references the guest holds (FUSE lookup count) */
	uint32_t refs;           /* requests using the inode right now */
	struct pt_inode *hnext;  /* hash chain by (dev, ino, mnt_id) */
	bool unhashed;           /* a newer inode took its key (its number was reused) */
	struct pt_inode *lru_prev, *lru_next; /* in the fd cache (fh inodes, refs == 0) */
	bool in_lru;
};

/* A POSIX lock a guest process holds through one open file (for F_GETLK's pid). */
struct pt_lock_rec {
	uint64_t start, end; /* inclusive; end UINT64_MAX: to end of file */
	short type;          /* F_RDLCK or F_WRLCK */
	uint32_t pid;        /* the guest's tgid, as the guest sent it */
	uint64_t owner;      /* the guest's lock owner (FUSE lk_in.owner) */
};

struct pt_handle {
	int fd;                 /* opened for I/O (regular file or directory) */
	struct pt_inode *inode; /* holds one ref */
	bool is_dir;
	/* protected by pt_fs.handle_lock: */
	uint32_t refs;
	/* directory stream state (directories) or lock records (files), protected by dir_lock: */
	pthread_mutex_t dir_lock;
	struct pt_lock_rec *locks; /* byte ranges this open file holds, with the guest pid */
	unsigned nlocks, cap_locks;
	int flock_held;            /* LOCK_SH or LOCK_EX held with flock() (live migration), or 0 */
	char *dir_buf;        /* getdents64 results */
	size_t dir_len;       /* valid bytes in dir_buf */
	size_t dir_pos;       /* next unread record in dir_buf */
	uint64_t dir_next;    /* offset that continues at dir_pos */
	uint64_t dir_sent;    /* offset after the last entry handed out (entries from there to
			       * dir_next were skipped as gone): continuing there needs no seek */
	bool dir_valid;       /* dir_buf/dir_pos describe the stream at dir_next */
};

struct pt_fs {
	struct pt_config cfg;
	int proc_fd; /* /proc/self/fd, to reopen O_PATH fds */
	bool switch_creds; /* running as root: act as each request's caller */
	gid_t *groups;     /* the daemon's supplementary groups, restored after a switch */
	int ngroups;
	struct pt_inode *root;
	struct pt_xattrmap *xattrmap; /* --xattrmap, NULL: none */
	char *cap_xattr; /* host name security.capability is mapped to, if not itself */

	unsigned long guest_fds; /* atomic: fds held for the guest (inodes + handles) */
	unsigned long fh_inodes; /* file-handle inodes: no fd each, but memory; under inode_lock */

	enum pt_fh_mode fh_mode;  /* in effect (prefer falls back to never at start) */
	struct pt_mounts mounts;  /* mount fds for open_by_handle_at */

	pthread_mutex_t inode_lock;
	struct idtable inodes;    /* nodeid -> inode */
	struct pt_inode *lru_head, *lru_tail; /* fd cache, most recent first */
	unsigned lru_n;
	struct pt_inode **hash;   /* (dev, ino, mnt_id) -> inode */
	size_t hash_size;         /* power of two */

	pthread_mutex_t handle_lock;
	struct idtable handles;   /* fh -> handle */

	/* Inode numbers the guest sees (pt_guest_ino, pt_inode.c). */
	bool fold_ino;            /* atomic: other filesystems' numbers get a device prefix */
	pthread_mutex_t ino_lock;
	dev_t devs[PT_INO_DEVS];  /* index -> device; [0] is the share's; written under ino_lock */
	unsigned ndevs;           /* atomic (release/acquire): entries published */
	struct pt_ino_syn *syn;   /* (dev, ino) -> number in the overflow space, under ino_lock */
	size_t syn_cap, syn_n;
};

/* The guest's view of @st: inode number (pt_guest_ino), owner (id translation). */
void pt_stat_to_guest(struct pt_fs *fs, struct stat *st);
/*
 * The inode number the guest sees for host (@dev, @ino). Unless each host
 * filesystem is announced as a submount (so the guest gives it its own
 * st_dev), numbers of different filesystems could collide; then:
 *   the share's filesystem:         ino                  (ino < 2^56)
 *   the n-th other one (1..254):    n << 56 | ino        (ino < 2^56)
 *   anything else (a huge ino, or a 256th filesystem): 0xff << 56 | k, k
 *   counting such inodes in order of first sight (remembered for good).
 * The top byte separates the ranges, so no two host inodes share a number.
 */
uint64_t pt_guest_ino(struct pt_fs *fs, dev_t dev, uint64_t ino);

/* The filesystem whose /proc/self/fd this thread's cwd is parked in (pt_thread_init). */
extern __thread struct pt_fs *pt_thread_cwd_fs;

/* pt_ops.c: helpers of the operations, shared with pt_file.c and pt_dir.c. */
/* Open one-component @name under @dirfd, never following a symlink nor leaving @dirfd. */
int pt_open_beneath(int dirfd, const char *name, int flags, mode_t mode);
/* Reopen @in's O_PATH fd for I/O with @flags through /proc/self/fd; fd or -errno. */
int pt_reopen_inode(struct pt_fs *fs, const struct pt_inode *in, int flags);
/* Look @name up under referenced directory inode @dir and count the lookup; 0 or -errno. */
int pt_lookup_in(struct pt_fs *fs, struct pt_inode *dir, const char *name,
		 struct pt_entry *out);
/* Remove @name under @dirfd again after a failed create, if it still is the inode @made. */
void pt_undo_create(int dirfd, const char *name, const struct stat *made);
/* Set the guest's umask (FUSE_DONT_MASK) on this thread; pass the result to pt_umask_leave. */
mode_t pt_umask_enter(struct pt_fs *fs, const struct pt_ctx *ctx);
/* Restore the umask pt_umask_enter changed ((mode_t)-1: nothing to restore). */
void pt_umask_leave(mode_t old);
/* pt_file.c: fsync or fdatasync handle @fh (a directory's if @is_dir); 0 or -errno. */
int pt_sync_handle(struct pt_fs *fs, uint64_t fh, bool is_dir, bool datasync);

/*
 * Account one more fd held for the guest; -ENFILE past the cap
 * (CVE-2020-10717: a guest must not exhaust the host's fds). pt_fd_release undoes it.
 */
int pt_fd_charge(struct pt_fs *fs);
void pt_fd_release(struct pt_fs *fs);

/*
 * pt_xattr.c: the name of O_PATH @fd for the *xattr(2) path calls and
 * *at(fs->proc_fd, ...), relative to this thread's cwd, which this sets
 * up (pt_thread_init) on first use. Returns 0 or -errno.
 */
int pt_fd_path(struct pt_fs *fs, int fd, char *buf, size_t size);

/* pt_xattr.c: set up --xattrmap for @fs (logs a bad rule set). 0 or -errno. */
int pt_xattr_init(struct pt_fs *fs);
/*
 * The host kernel removes security.capability on write, truncate and
 * chown; a remapped one (fs->cap_xattr) must be removed by us
 * (CVE-2021-20263). @fd: an open file, or with @path_fd an O_PATH fd.
 */
void pt_xattr_drop_cap(struct pt_fs *fs, int fd, bool path_fd);
/*
 * Set the guest's security context (ctx->secctx_*, if any) on a new inode,
 * as the daemon, its name mapped by --xattrmap: on open file @fd, or (@fd
 * -1) on @name under directory O_PATH @dirfd, not following a symlink.
 * @type: the new inode's S_IFMT. A host that keeps the context under a
 * user. name cannot put it on a symlink, FIFO or socket (user.* is for
 * regular files and directories only): those keep no context rather than
 * fail. Returns 0 or -errno (logged).
 */
int pt_xattr_set_secctx(struct pt_fs *fs, const struct pt_ctx *ctx, int dirfd,
			const char *name, int fd, mode_t type);

/* pt_inode.c */
int pt_inode_table_init(struct pt_fs *fs);
void pt_inode_table_fini(struct pt_fs *fs);
/* Install O_PATH directory @fd (consumed) as FUSE_ROOT_ID, pinned. */
int pt_inode_set_root(struct pt_fs *fs, int fd);
/* Take a use reference on @nodeid; NULL (and -ESTALE meaning) if unknown. */
struct pt_inode *pt_inode_get(struct pt_fs *fs, uint64_t nodeid);
void pt_inode_put(struct pt_fs *fs, struct pt_inode *inode);
/*
 * Find or add the inode that O_PATH @fd (consumed) refers to, and count
 * one guest lookup on it. Fills @out. Returns 0 or -errno.
 */
int pt_inode_insert(struct pt_fs *fs, int fd, struct pt_entry *out);
/*
 * Live migration: the same, under nodeid @want with @nlookup lookups
 * (src/migr). -EEXIST if the host inode is already known (two saved
 * inodes resolve to one file) or @want is taken.
 */
int pt_inode_insert_id(struct pt_fs *fs, int fd, uint64_t want, uint64_t nlookup,
		       struct pt_entry *out);
/*
 * If the inode (@st's dev and ino, @mnt_id), which is @name under @dirfd,
 * is already known, count one lookup on it and fill @out; else -ENOENT.
 * With file handles, a known inode that holds no fd is checked against
 * @name's handle (its number may have been reused since).
 */
int pt_inode_find(struct pt_fs *fs, const struct stat *st, uint64_t mnt_id, int dirfd,
		  const char *name, struct pt_entry *out);
/* Undo one counted lookup (reply could not be sent). */
void pt_inode_unlookup(struct pt_fs *fs, uint64_t nodeid);
void pt_inode_forget(struct pt_fs *fs, uint64_t nodeid, uint64_t n);
void pt_inode_forget_all(struct pt_fs *fs);
unsigned long pt_inode_count(struct pt_fs *fs);

int pt_handle_add(struct pt_fs *fs, int fd, struct pt_inode *inode, bool is_dir, uint64_t *fh);
/* Live migration: the same under the id in *@fh (non-zero; src/migr). */
int pt_handle_add_id(struct pt_fs *fs, int fd, struct pt_inode *inode, bool is_dir,
		     uint64_t *fh);
struct pt_handle *pt_handle_get(struct pt_fs *fs, uint64_t fh, bool is_dir);
void pt_handle_put(struct pt_fs *fs, struct pt_handle *h);
int pt_handle_remove(struct pt_fs *fs, uint64_t fh, bool is_dir);
void pt_handle_remove_all(struct pt_fs *fs);
unsigned long pt_handle_count(struct pt_fs *fs);

/* statx of an O_PATH fd into a struct stat; @mnt_id optional. */
int pt_stat_fd(int fd, struct stat *st, uint64_t *mnt_id);
/* statx of @name under @dirfd, never following a symlink (@flags: extra AT_*). */
int pt_stat_at(int dirfd, const char *name, int flags, struct stat *st, uint64_t *mnt_id);

/* pt_cred.c: act as the request's caller on this thread only. */
#define PT_CRED_MAX_GROUPS 3

struct pt_cred_saved {
	bool switched;
	bool groups_set;
	struct pt_fs *fs;
};
/* Remember the daemon's supplementary groups. */
int pt_cred_init(struct pt_fs *fs);
/*
 * Switch this thread to the caller's uid/gid with supplementary groups
 * @groups (@n of them, at most PT_CRED_MAX_GROUPS; none by default).
 * A no-op for uid 0 / gid 0 callers or an unprivileged daemon.
 */
int pt_cred_enter(struct pt_fs *fs, const struct pt_ctx *ctx, const gid_t *groups, unsigned n,
		  struct pt_cred_saved *saved);
void pt_cred_leave(struct pt_cred_saved *saved);

/*
 * Run one host operation as the caller, retrying once as a member of the
 * groups of the objects involved when the host refuses (EACCES/EPERM).
 *
 * Why: FUSE 7.38 does not carry the caller's supplementary groups, but the
 * guest kernel, which knows them, has already checked the operation
 * (virtio-fs always mounts with default_permissions). A refusal that only
 * membership of the object's group would have avoided is that missing
 * information; anything else fails the same way again. Usage:
 *
 *	struct pt_caller c;
 *	int objs[] = { dir->fd };
 *
 *	for (pt_caller_init(&c, fs, ctx, NULL, 0); pt_caller_next(&c, &err, objs, 1);)
 *		err = mkdirat(dir->fd, name, mode) < 0 ? -errno : 0;
 *
 * @groups given to pt_caller_init apply from the first attempt (the guest
 * vouched for them: a chgrp target, or a set-group-ID bit left in a chmod
 * mode, which every guest kernel strips in setattr_prepare() for
 * non-members. Create modes are not proof: guest kernels before 6.0 send a
 * set-group-ID bit unstripped (CVE-2022-0358), so a member only through a
 * supplementary group loses the bit on creation.
 */
struct pt_caller {
	struct pt_fs *fs;
	const struct pt_ctx *ctx;
	gid_t groups[PT_CRED_MAX_GROUPS];
	unsigned ngroups;
	unsigned attempt;
	struct pt_cred_saved saved;
};
void pt_caller_init(struct pt_caller *c, struct pt_fs *fs, const struct pt_ctx *ctx,
		    const gid_t *groups, unsigned n);
bool pt_caller_next(struct pt_caller *c, int *err, const int *obj_fds, unsigned nobj);

#endif /* VUFS_PT_I_H */
