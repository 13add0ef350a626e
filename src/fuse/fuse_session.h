/* SPDX-License-Identifier: MIT */
/*
 * FUSE protocol over virtio-fs: decode one request from the readable part
 * of a descriptor chain, run it against the passthrough filesystem, and
 * encode the reply into the writable part. Knows nothing of vhost-user:
 * it sees iovecs that already point into (bounds-checked) guest memory.
 *
 * Re-entrant: any number of queue threads may call fuse_session_handle at
 * once, each with its own thread context.
 */
#ifndef VUFS_FUSE_SESSION_H
#define VUFS_FUSE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct pt_fs;
struct metrics;
struct fuse_session;
struct fuse_thread;

enum fuse_cache_mode {
	FUSE_CACHE_NEVER,    /* direct I/O, no attribute or entry caching */
	FUSE_CACHE_AUTO,     /* 1 s timeouts, page cache dropped on open */
	FUSE_CACHE_METADATA, /* long attribute/entry timeouts, page cache dropped on open */
	FUSE_CACHE_ALWAYS,   /* long timeouts, page cache kept across opens */
};

struct fuse_conf {
	enum fuse_cache_mode cache;
	bool readdirplus; /* offer READDIRPLUS */
	bool xattr;       /* serve extended attributes */
	bool posix_locks; /* forward POSIX (fcntl) locks to the host */
	bool flock_locks; /* forward flock() locks to the host */
	bool readonly;    /* --readonly: every modifying request fails with EROFS (fuse_ro.c) */
	bool allow_mmap;  /* --allow-mmap: offer FUSE_DIRECT_IO_ALLOW_MMAP */
	bool timeout_set; /* entry/attr validity is timeout_s, not the cache mode's */
	unsigned timeout_s;
	bool killpriv_v2; /* offer FUSE_HANDLE_KILLPRIV_V2 */
	bool posix_acl;   /* offer POSIX_ACL, DONT_MASK, SETXATTR_EXT (needs xattr) */
	bool security_label; /* offer SECURITY_CTX: set the guest's context on new inodes */
	bool writeback;   /* offer FUSE_WRITEBACK_CACHE (the guest caches writes) */
};

/* Largest WRITE (and READ) we negotiate: 1 MiB. */
#define FUSE_SESSION_MAX_WRITE (1u << 20)
/* Largest argument block we copy for anything but WRITE (SETXATTR value + name + header). */
#define FUSE_SESSION_MAX_ARGS (64u * 1024 + 4096)

/*
 * Finish a request that fuse_session_handle returned FUSE_SESSION_ASYNC
 * for: @reply (@len bytes, a complete FUSE reply) goes to the chain that
 * @token named on queue @qidx. Called from any thread.
 */
typedef void (*fuse_complete_fn)(void *opaque, unsigned qidx, uint32_t token, const void *reply,
				 size_t len);

/* fuse_session_handle's "I will answer later" result. */
#define FUSE_SESSION_ASYNC 1

int fuse_session_new(struct pt_fs *fs, const struct fuse_conf *conf, struct fuse_session **out);
/* Allow asynchronous completion (blocking locks); without it SETLKW that would wait gets -ENOLCK. */
void fuse_session_set_completion(struct fuse_session *se, fuse_complete_fn fn, void *opaque);
void fuse_session_free(struct fuse_session *se);
/*
 * Rings are stopping (e.g. for a live migration): every waiting SETLKW is
 * answered now with EINTR (the guest's fcntl returns EINTR, as on a signal)
 * instead of later on a ring that may be gone; returns once all are answered.
 */
void fuse_session_quiesce(struct fuse_session *se);
/* Serve SETUPMAPPING/REMOVEMAPPING through @dax (not owned; NULL: -ENOSYS, the default). */
struct fuse_dax;
void fuse_session_set_dax(struct fuse_session *se, struct fuse_dax *dax);
/*
 * Count every request in @m (src/metrics): call before the first
 * fuse_thread_new. Without it, requests are not timed at all.
 */
void fuse_session_set_metrics(struct fuse_session *se, struct metrics *m);
/* "LOOKUP", "READ", ... for an opcode we serve, else NULL. */
const char *fuse_session_op_name(uint32_t opcode);
/* Device reset: drop the guest's state; the next request must be INIT. */
void fuse_session_reset(struct fuse_session *se);

/*
 * Per-thread scratch buffers, for chains of at most @iov_max iovecs;
 * NULL on allocation failure.
 */
struct fuse_thread *fuse_thread_new(struct fuse_session *se, unsigned iov_max);
void fuse_thread_free(struct fuse_thread *t);

/*
 * Serve one request. @iov[0..in_cnt) is readable (in_len bytes), the next
 * out_cnt entries are writable (out_len bytes). *@written gets the reply's
 * length (0 when the request has no reply, e.g. FORGET, or no reply can be
 * sent at all). Malformed requests get an error reply. Returns 0;
 * FUSE_SESSION_ASYNC if the reply will come later through the completion
 * function with @token; or a negative errno only if the thread can no
 * longer work.
 */
int fuse_session_handle(struct fuse_session *se, struct fuse_thread *t, unsigned qidx,
			uint32_t token, const struct iovec *iov, unsigned in_cnt, size_t in_len,
			unsigned out_cnt, size_t out_len, uint32_t *written);

#endif /* VUFS_FUSE_SESSION_H */
