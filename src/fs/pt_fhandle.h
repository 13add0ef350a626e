/* SPDX-License-Identifier: MIT */
/*
 * File-handle inodes (--inode-file-handles): name an inode by its
 * filesystem handle (name_to_handle_at) instead of holding an O_PATH fd, and
 * open it again on demand with open_by_handle_at through a cached fd of its
 * mount. A guest that has looked up 200,000 files then makes the daemon
 * hold 200,000 small handles in memory and a few fds, not 200,000 fds.
 *
 * Handles are only ever made by the daemon from an fd it opened beneath a
 * known parent (openat2 RESOLVE_BENEATH): a guest never supplies one, so a
 * handle-opened fd names an inode the daemon already reached by name.
 * open_by_handle_at needs CAP_DAC_READ_SEARCH (kept by the sandbox when the
 * mode is not "never"); a handle also carries the inode's generation, so a
 * deleted inode whose number was reused gives -ESTALE, not the new file.
 *
 * Thread-safe: the mount-fd cache has its own lock.
 */
#ifndef VUFS_PT_FHANDLE_H
#define VUFS_PT_FHANDLE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* --inode-file-handles=never|prefer|mandatory */
enum pt_fh_mode {
	PT_FH_NEVER,     /* O_PATH fds only (default, like the Rust virtiofsd) */
	PT_FH_PREFER,    /* handles where the filesystem has them, else an O_PATH fd */
	PT_FH_MANDATORY, /* handles only: refuse to start (or to look up) without them */
};

/* Parse never|prefer|mandatory (and "fallback", the Rust alias of prefer). 0 or -EINVAL. */
int pt_fh_mode_parse(const char *s, enum pt_fh_mode *out);
const char *pt_fh_mode_name(enum pt_fh_mode mode);

/* Largest handle we keep (the kernel's MAX_HANDLE_SZ); a bigger one counts as unsupported. */
#define PT_FH_MAX_BYTES 128

/* One inode's handle, allocated to its size. */
struct pt_fh {
	uint32_t bytes;
	int type;
	unsigned char data[];
};

/*
 * The handle and mount id of what O_PATH @fd refers to. Returns 0 with
 * *@out allocated (free()), -EOPNOTSUPP if the filesystem has no handles
 * (or they are larger than PT_FH_MAX_BYTES), or another negative errno.
 */
int pt_fh_from_fd(int fd, struct pt_fh **out, uint64_t *mnt_id);
/* The handle of @name under @dirfd, not following a final symlink. Same returns. */
int pt_fh_from_name(int dirfd, const char *name, struct pt_fh **out, uint64_t *mnt_id);
bool pt_fh_equal(const struct pt_fh *a, const struct pt_fh *b);

/* Cache of one open fd per mount, which open_by_handle_at needs. */
struct pt_mount_fd {
	uint64_t mnt_id;
	int fd; /* O_RDONLY|O_DIRECTORY: open_by_handle_at refuses an O_PATH mount fd */
};

struct pt_mounts {
	pthread_mutex_t lock;
	struct pt_mount_fd *v; /* protected by lock */
	unsigned n, cap;
	int proc_fd;           /* /proc/self/fd, to reopen O_PATH fds (not owned) */
};

void pt_mounts_init(struct pt_mounts *m, int proc_fd);
void pt_mounts_fini(struct pt_mounts *m);
/*
 * Make sure mount @mnt_id has a cached fd, opening directory @path_fd (an
 * O_PATH fd on that mount) if needed. Returns 0, -ENOTDIR if @path_fd is
 * not a directory and the mount has no fd yet, or -errno.
 */
int pt_mounts_add(struct pt_mounts *m, uint64_t mnt_id, int path_fd, bool is_dir);
/* Open @fh on mount @mnt_id (O_PATH|O_NOFOLLOW|O_CLOEXEC plus @flags). Returns an fd or -errno. */
int pt_mounts_open(struct pt_mounts *m, uint64_t mnt_id, const struct pt_fh *fh, int flags);
/* Number of mount fds held (for logs and tests). */
unsigned pt_mounts_count(struct pt_mounts *m);

#endif /* VUFS_PT_FHANDLE_H */
