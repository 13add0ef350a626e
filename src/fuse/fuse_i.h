/* SPDX-License-Identifier: MIT */
/* FUSE layer internals shared by fuse_session.c, fuse_reply.c and the decoders' files. */
#ifndef VUFS_FUSE_I_H
#define VUFS_FUSE_I_H

#include <linux/fuse.h>
#include <pthread.h>

/* INIT flag of FUSE 7.39 (Linux 6.6), newer than some uapi headers. */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

#include "fuse_dax.h"
#include "fuse_session.h"
#include "pt.h"

/* INTERRUPTs remembered for requests that have not arrived yet. */
#define FUSE_MAX_EARLY_INTERRUPTS 16

struct fuse_session {
	struct pt_fs *fs;
	struct fuse_conf conf;
	struct metrics *metrics; /* NULL: requests are not counted */
	uint32_t self_uid, self_gid; /* the daemon's own ids (writeback's read-write reopen) */
	/* Entry/attribute validity for replies, from the cache mode. */
	uint64_t entry_timeout_s;
	uint64_t attr_timeout_s;

	pthread_mutex_t init_lock; /* serialises INIT and DESTROY */
	bool initialized;          /* atomic: INIT done (acquire before reading below) */
	uint32_t proto_minor;      /* negotiated minor version */
	uint64_t conn_flags;       /* negotiated FUSE_* init flags */
	uint32_t max_write;

	/* Late completion of asynchronous requests (fuse_session_set_completion). */
	fuse_complete_fn complete;
	void *complete_opaque;

	/* Waiting SETLKW requests (fuse_lock.c). */
	pthread_mutex_t lock_mutex;
	pthread_cond_t lock_cond;
	struct lock_waiter *waiters; /* protected by lock_mutex */
	unsigned nwaiters;           /* protected by lock_mutex */
	bool reaper_running;         /* protected by lock_mutex */
	pthread_t reaper;
	/* INTERRUPTs that found no waiting request (yet), protected by lock_mutex */
	uint64_t interrupted[FUSE_MAX_EARLY_INTERRUPTS];
	unsigned ninterrupted;

	struct fuse_dax *dax; /* the DAX window, NULL without one (fuse_dax.c) */
};

struct fuse_thread {
	struct fuse_session *se;
	uint8_t *args;     /* private copy of a request's arguments */
	uint8_t *reply;    /* reply assembly (READDIR, READLINK) */
	size_t reply_size;
	struct iovec *iov; /* windows into guest buffers (READ/WRITE payload) */
	unsigned iov_max;
	struct metrics_block *mb; /* this thread's counters, NULL without metrics */
};

struct fuse_req {
	struct fuse_session *se;
	struct fuse_thread *t;
	struct fuse_in_header in; /* private copy */
	struct pt_ctx ctx;
	const struct iovec *in_iov; /* readable part (WRITE payload stays there) */
	unsigned in_cnt;
	const struct iovec *out_iov; /* writable part */
	unsigned out_cnt;
	size_t out_len;
	uint32_t written; /* bytes of reply written */
	int error;        /* the error the reply carried (0 or -errno), for the metrics */
	uint64_t io_bytes; /* READ/WRITE: payload bytes moved, for the metrics */
	bool replied;
	unsigned qidx;
	uint32_t token;  /* identifies the chain for a late completion */
	bool async_ok;   /* the transport can complete this request later */
	bool async;      /* the decoder will complete it later */
};

struct fuse_buf;

/* fuse_node.c: requests on names and attributes */
/* Create-like requests: the guest's security context and umask, when negotiated. */
int fuse_take_secctx(struct fuse_req *req, struct fuse_buf *in);
void fuse_take_umask(struct fuse_req *req, uint32_t umask);
void do_lookup(struct fuse_req *req, struct fuse_buf *in);
void do_getattr(struct fuse_req *req, struct fuse_buf *in);
void do_setattr(struct fuse_req *req, struct fuse_buf *in);
void do_readlink(struct fuse_req *req, struct fuse_buf *in);
void do_symlink(struct fuse_req *req, struct fuse_buf *in);
void do_mknod(struct fuse_req *req, struct fuse_buf *in);
void do_mkdir(struct fuse_req *req, struct fuse_buf *in);
void do_unlink(struct fuse_req *req, struct fuse_buf *in);
void do_rmdir(struct fuse_req *req, struct fuse_buf *in);
void do_rename(struct fuse_req *req, struct fuse_buf *in);
void do_rename2(struct fuse_req *req, struct fuse_buf *in);
void do_link(struct fuse_req *req, struct fuse_buf *in);
void do_statfs(struct fuse_req *req, struct fuse_buf *in);
void do_access(struct fuse_req *req, struct fuse_buf *in);

/* fuse_file.c: open files and their data */
/* The guest asked us to clear set-user/group-ID (FUSE_HANDLE_KILLPRIV_V2 negotiated). */
bool fuse_killpriv(const struct fuse_session *se);
/* OPEN/OPENDIR reply for @fh; if it cannot be sent the handle is released. */
void fuse_reply_open(struct fuse_req *req, uint64_t fh, bool dir);
void do_open(struct fuse_req *req, struct fuse_buf *in);
void do_create(struct fuse_req *req, struct fuse_buf *in);
void do_read(struct fuse_req *req, struct fuse_buf *in);
void do_write(struct fuse_req *req, struct fuse_buf *in);
/* RELEASE and RELEASEDIR; FSYNC and FSYNCDIR. */
void do_release(struct fuse_req *req, struct fuse_buf *in);
void do_fsync(struct fuse_req *req, struct fuse_buf *in);
void do_flush(struct fuse_req *req, struct fuse_buf *in);
void do_fallocate(struct fuse_req *req, struct fuse_buf *in);
void do_lseek(struct fuse_req *req, struct fuse_buf *in);
void do_copy_file_range(struct fuse_req *req, struct fuse_buf *in);
void do_syncfs(struct fuse_req *req, struct fuse_buf *in);
void do_tmpfile(struct fuse_req *req, struct fuse_buf *in);

/* fuse_dir.c: OPENDIR, READDIR and READDIRPLUS */
void do_opendir(struct fuse_req *req, struct fuse_buf *in);
void do_readdir(struct fuse_req *req, struct fuse_buf *in);

/* fuse_xattr.c: extended attributes */
void do_setxattr(struct fuse_req *req, struct fuse_buf *in);
void do_getxattr(struct fuse_req *req, struct fuse_buf *in);
void do_listxattr(struct fuse_req *req, struct fuse_buf *in);
void do_removexattr(struct fuse_req *req, struct fuse_buf *in);

/* fuse_lock.c */
int fuse_lock_init(struct fuse_session *se);
void fuse_lock_fini(struct fuse_session *se);
/*
 * The session ended: stop every waiting lock without a reply (its chain went
 * with the old rings); with @wait, until they are gone.
 */
void fuse_lock_cancel_all(struct fuse_session *se, bool wait);
void do_getlk(struct fuse_req *req, struct fuse_buf *in);
void do_setlk(struct fuse_req *req, struct fuse_buf *in);
void do_interrupt(struct fuse_req *req, struct fuse_buf *in);

/* fuse_dax.c */
void do_setupmapping(struct fuse_req *req, struct fuse_buf *in);
void do_removemapping(struct fuse_req *req, struct fuse_buf *in);
/* FUSE_ATTR_DAX for a file the dax=inode policy maps, else 0. */
uint32_t fuse_dax_attr_flags(const struct fuse_session *se, const struct stat *st);
/* @nodeid may have changed size: keep its DAX mappings to its end. */
void fuse_dax_changed(struct fuse_req *req, uint64_t nodeid);
/* FLUSH/FSYNC of @nodeid: write DAX tail copies back. */
void fuse_dax_sync(struct fuse_req *req, uint64_t nodeid);

/* Room for a reply payload after the fuse_out_header. */
static inline size_t fuse_reply_room(const struct fuse_req *req)
{
	return req->out_len > sizeof(struct fuse_out_header)
		       ? req->out_len - sizeof(struct fuse_out_header)
		       : 0;
}

/*
 * The one reply path: header + payload (@iov, @cnt) copied into the
 * writable part after checking it fits; errno sanitised to (-512, 0].
 * A reply that does not fit becomes an error reply (-ERANGE... or nothing
 * if not even a header fits). Returns 0 if the reply went out as asked.
 */
int fuse_reply(struct fuse_req *req, int error, const struct iovec *iov, unsigned cnt);
int fuse_reply_err(struct fuse_req *req, int error);
int fuse_reply_buf(struct fuse_req *req, const void *buf, size_t size);
/* Entry replies count a lookup; if the reply cannot be sent it is undone. */
int fuse_reply_entry(struct fuse_req *req, const struct pt_entry *e);
int fuse_reply_create(struct fuse_req *req, const struct pt_entry *e, uint64_t fh,
		      uint32_t open_flags);
int fuse_reply_attr(struct fuse_req *req, const struct stat *st);
/* Mark a request that takes no reply (FORGET, INTERRUPT). */
void fuse_reply_none(struct fuse_req *req);
/* Header for a payload the caller already placed after the header (READ). */
int fuse_reply_header_only(struct fuse_req *req, size_t payload_len);

void fuse_fill_attr(const struct stat *st, struct fuse_attr *attr);
void fuse_fill_entry(const struct fuse_session *se, const struct pt_entry *e,
		     struct fuse_entry_out *out);

#endif /* VUFS_FUSE_I_H */
