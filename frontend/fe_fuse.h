/* SPDX-License-Identifier: MIT */
/*
 * libvufsfe FUSE layer: the guest's virtio-fs driver, one request at a time
 * or several in flight.
 *
 * A request is a chain of device-readable buffers (struct fuse_in_header,
 * then each argument in its own buffer, then the data) followed by
 * device-writable buffers (struct fuse_out_header, then the reply), laid
 * out like the Linux driver does. Arguments and reply buffers that are not
 * in guest memory are copied through it; buffers obtained from
 * fe_guest_alloc() are used in place.
 *
 * Return values of the per-opcode helpers: 0 (or a byte count where noted)
 * on success, the negative errno the backend put in fuse_out_header.error,
 * or a negative errno for a transport failure (then fe_broken() != 0).
 * Replies are validated: out.len must equal the used length, out.unique
 * must match, error replies carry no body, and fixed-size replies must
 * have exactly their size (-EPROTO otherwise).
 */
#ifndef VUFS_FE_FUSE_H
#define VUFS_FE_FUSE_H

#include <linux/fuse.h>

#include "fe.h"

#define FE_FUSE_MAX_IN 4u
/* Longest name a direntry may carry (the kernel's FUSE_NAME_MAX). */
#define FE_FUSE_NAME_MAX 1024u

/* FUSE_INIT flags we ask for by default (what a Linux 6.1 guest asks for, roughly). */
#define FE_FUSE_INIT_FLAGS                                                     \
	((uint64_t)FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT | \
	 FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS | FUSE_HANDLE_KILLPRIV_V2 |          \
	 FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS |          \
	 FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |         \
	 FUSE_HANDLE_KILLPRIV | FUSE_ABORT_ERROR | FUSE_MAX_PAGES |              \
	 FUSE_CACHE_SYMLINKS | FUSE_NO_OPENDIR_SUPPORT |                         \
	 FUSE_EXPLICIT_INVAL_DATA | FUSE_INIT_EXT)

struct fe_fuse_buf {
	const void *ptr;
	uint32_t len;
};

enum fe_fuse_call_flags {
	FE_CALL_NOREPLY = 1u << 0,	  /* no writable buffers at all (FORGET, BATCH_FORGET) */
	FE_CALL_REPLY_OPTIONAL = 1u << 1, /* a used length of 0 (no reply) is accepted */
	FE_CALL_CREDS = 1u << 2,	  /* use call->uid/gid/pid instead of the connection's */
	FE_CALL_ANY_SIZE = 1u << 3,	  /* do not insist on out_len == out_size */
};

/*
 * One FUSE request. Fill the request part (fe_fuse_call_init() zeroes it
 * and picks the request queue), submit, and read the result part once done.
 */
struct fe_fuse_call {
	/* request */
	uint32_t opcode;
	uint64_t nodeid;
	unsigned int queue;
	unsigned int flags;
	uint32_t uid, gid, pid;		/* with FE_CALL_CREDS */
	unsigned int nin;
	struct fe_fuse_buf in[FE_FUSE_MAX_IN];
	void *out;			/* reply body buffer (after fuse_out_header) */
	uint32_t out_size;
	/* result */
	int error;			/* 0, the reply's error, or a transport -errno */
	uint32_t out_len;		/* reply body bytes */
	uint64_t unique;
	bool done;
	bool replied;			/* false: the device used the chain without writing */
	/* private to the library */
	struct fe_fuse_call *next_done;
	uint8_t *scratch;		/* guest allocation: headers and copied buffers */
	uint8_t *ohdr;			/* fuse_out_header in guest memory */
	uint8_t *out_guest;		/* reply body in guest memory */
	bool inflight;
	bool queued_done;		/* on the completed list */
};

void fe_fuse_call_init(struct fe_fuse_call *call, uint32_t opcode, uint64_t nodeid);

/*
 * fe_fuse_submit - expose the request and kick. -EAGAIN when the queue has
 * no room right now (complete something first), -ENOMEM when guest memory
 * is exhausted.
 */
int fe_fuse_submit(struct fe *fe, struct fe_fuse_call *call);

/* fe_fuse_wait - wait until call completes; returns call->error. On a timeout the call is
 * abandoned (its memory may be reused by the caller) and the connection is broken. */
int fe_fuse_wait(struct fe *fe, struct fe_fuse_call *call, int timeout_ms);

/* fe_fuse_wait_any - wait for any submitted call to complete and return it in *call. */
int fe_fuse_wait_any(struct fe *fe, struct fe_fuse_call **call, int timeout_ms);

/* fe_fuse_call - submit (waiting for ring space if needed) then wait; returns call->error. */
int fe_fuse_call(struct fe *fe, struct fe_fuse_call *call);

/* Credentials put in every fuse_in_header (default 0, 0, getpid()) and the umask of CREATE/MKDIR/MKNOD. */
void fe_fuse_set_creds(struct fe *fe, uint32_t uid, uint32_t gid, uint32_t pid);
void fe_fuse_set_umask(struct fe *fe, uint32_t umask);

/* fe_fuse_init - FUSE_INIT 7.38 with FE_FUSE_INIT_FLAGS; records the reply. */
int fe_fuse_init(struct fe *fe);

/*
 * fe_reset_device - what a rebooting guest and its VMM do: fe_vu_reset(mode)
 * (fresh rings) then fe_fuse_init(). Node ids and file handles of the old
 * session mean nothing afterwards.
 */
int fe_reset_device(struct fe *fe, enum fe_reset_mode mode);
/* fe_fuse_init_ex - FUSE_INIT with explicit version and flags (bits 32+ go to flags2). */
int fe_fuse_init_ex(struct fe *fe, uint32_t major, uint32_t minor, uint64_t flags,
		    struct fuse_init_out *out);
/* fe_fuse_conn - the recorded FUSE_INIT reply (zeroes before fe_fuse_init()). */
const struct fuse_init_out *fe_fuse_conn(const struct fe *fe);
/* fe_fuse_max_io - largest READ/WRITE payload the backend accepts (max_write, max_pages). */
uint32_t fe_fuse_max_io(const struct fe *fe);

int fe_fuse_lookup(struct fe *fe, uint64_t parent, const char *name, struct fuse_entry_out *out);
/* fh may be NULL; otherwise FUSE_GETATTR_FH with *fh. */
int fe_fuse_getattr(struct fe *fe, uint64_t nodeid, const uint64_t *fh, struct fuse_attr_out *out);
/* out may be NULL. */
int fe_fuse_setattr(struct fe *fe, uint64_t nodeid, const struct fuse_setattr_in *in,
		    struct fuse_attr_out *out);
int fe_fuse_open(struct fe *fe, uint64_t nodeid, uint32_t flags, struct fuse_open_out *out);
/* Returns the number of bytes read (0 at EOF). */
int fe_fuse_read(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t size);
/* Returns the number of bytes the backend reports written. */
int fe_fuse_write(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf,
		  uint32_t size);
int fe_fuse_flush(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t lock_owner);
int fe_fuse_release(struct fe *fe, uint64_t nodeid, uint64_t fh, uint32_t flags);
int fe_fuse_fsync(struct fe *fe, uint64_t nodeid, uint64_t fh, bool datasync);
int fe_fuse_create(struct fe *fe, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
		   struct fuse_entry_out *entry, struct fuse_open_out *open);
int fe_fuse_mkdir(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
		  struct fuse_entry_out *out);
int fe_fuse_mknod(struct fe *fe, uint64_t parent, const char *name, uint32_t mode, uint32_t rdev,
		  struct fuse_entry_out *out);
int fe_fuse_symlink(struct fe *fe, uint64_t parent, const char *name, const char *target,
		    struct fuse_entry_out *out);
/* Returns the target length; buf is NUL-terminated when there is room. */
int fe_fuse_readlink(struct fe *fe, uint64_t nodeid, char *buf, uint32_t size);
int fe_fuse_link(struct fe *fe, uint64_t nodeid, uint64_t newparent, const char *newname,
		 struct fuse_entry_out *out);
int fe_fuse_unlink(struct fe *fe, uint64_t parent, const char *name);
int fe_fuse_rmdir(struct fe *fe, uint64_t parent, const char *name);
int fe_fuse_rename(struct fe *fe, uint64_t olddir, const char *oldname, uint64_t newdir,
		   const char *newname);
int fe_fuse_rename2(struct fe *fe, uint64_t olddir, const char *oldname, uint64_t newdir,
		    const char *newname, uint32_t flags);
int fe_fuse_opendir(struct fe *fe, uint64_t nodeid, uint32_t flags, struct fuse_open_out *out);
/* Return the number of bytes of dirent records (parse with fe_dirent_next()). */
int fe_fuse_readdir(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t size);
int fe_fuse_readdirplus(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf,
			uint32_t size);
int fe_fuse_releasedir(struct fe *fe, uint64_t nodeid, uint64_t fh);
int fe_fuse_fsyncdir(struct fe *fe, uint64_t nodeid, uint64_t fh, bool datasync);
int fe_fuse_statfs(struct fe *fe, uint64_t nodeid, struct fuse_kstatfs *out);
int fe_fuse_access(struct fe *fe, uint64_t nodeid, uint32_t mask);
/* FORGET/BATCH_FORGET go on the hiprio queue; the chain has no writable part and
 * these return once the device has used it (with length 0, else -EPROTO). */
int fe_fuse_forget(struct fe *fe, uint64_t nodeid, uint64_t nlookup);
int fe_fuse_batch_forget(struct fe *fe, const struct fuse_forget_one *items, uint32_t count);
/* INTERRUPT: returns 0 if the backend used it without a reply, else the reply's error. */
int fe_fuse_interrupt(struct fe *fe, uint64_t unique);
/* DESTROY: 0 for an error-0 reply or when the backend uses the chain without replying. */
int fe_fuse_destroy(struct fe *fe);

/*
 * fe_fuse_raw - send any opcode with in[0..in_len) as the single argument
 * on queue q; the reply body (up to out_size) goes to out, its length to
 * *out_len (may be NULL). Returns the reply's error or a transport error.
 */
int fe_fuse_raw(struct fe *fe, unsigned int q, uint32_t opcode, uint64_t nodeid, const void *in,
		uint32_t in_len, void *out, uint32_t out_size, uint32_t *out_len);

/*
 * fe_fuse_walk - LOOKUP each '/'-separated component from the root;
 * intermediate nodes are FORGOTten again, the final one keeps one lookup
 * reference. "" or "/" yields FUSE_ROOT_ID (via GETATTR). attr may be NULL.
 */
int fe_fuse_walk(struct fe *fe, const char *path, uint64_t *nodeid, struct fuse_attr *attr);

/* One parsed READDIR/READDIRPLUS record. */
struct fe_dirent {
	uint64_t ino;
	uint64_t off;
	uint32_t type;
	uint32_t namelen;
	char name[FE_FUSE_NAME_MAX + 1];	/* NUL-terminated */
	struct fuse_entry_out entry;		/* READDIRPLUS only */
};

/*
 * fe_dirent_next - parse the record at *pos of a READDIR (plus = false) or
 * READDIRPLUS reply of len bytes. Returns 1 and advances *pos, 0 at the end,
 * -EPROTO for a malformed record (truncated, namelen 0 or too long, name
 * containing '/' or NUL).
 */
int fe_dirent_next(const void *buf, size_t len, size_t *pos, bool plus, struct fe_dirent *d);

/* fe_fuse_opname - "LOOKUP", "READ", ... or "op#N". */
const char *fe_fuse_opname(uint32_t opcode);

#endif /* VUFS_FE_FUSE_H */
