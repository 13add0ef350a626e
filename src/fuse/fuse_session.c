// SPDX-License-Identifier: MIT
/*
 * FUSE request decoding and dispatch.
 *
 * Flow: fuse_session_handle copies the fuse_in_header and the argument
 * block out of guest memory (WRITE data excepted: it is never interpreted
 * and goes to pwritev in place), checks in.len against what the chain
 * holds, finds the opcode's row in fuse_ops (minimum argument size, whether
 * it replies), and calls do_<op>, which reads its arguments only through
 * struct fuse_buf and calls pt_<op>. Replies go through fuse_reply.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <linux/limits.h>
#include <unistd.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "fuse_ro.h"
#include "fuse_secctx.h"
#include "iov.h"
#include "log.h"
#include "metrics.h"

/* Oldest protocol we speak: 7.27 (Linux 4.18) has every struct at its current size but INIT's. */
#define FUSE_MIN_MINOR 27
/* Background requests the guest may queue (the kernel's default is 12). */
#define FUSE_MAX_BACKGROUND 64
/* Readdir replies we assemble at most (the kernel asks for a page or so). */
#define FUSE_MAX_READDIR (128u * 1024)

/*
 * INIT flags we offer, each a deliberate choice:
 * ASYNC_READ       reads may be issued in parallel: we have no ordering to keep.
 * ATOMIC_O_TRUNC   OPEN carries O_TRUNC and we apply it on the host, saving a SETATTR.
 * BIG_WRITES       writes larger than a page (required with max_write 1 MiB).
 * AUTO_INVAL_DATA  the guest drops cached pages when it sees mtime/size change
 *                  (host-side changes become visible).
 * DO_READDIRPLUS,  READDIRPLUS returns attributes with names (ls -l in one round trip),
 * READDIRPLUS_AUTO and the guest uses it adaptively.
 * ASYNC_DIO        direct I/O requests may be split and sent in parallel.
 * PARALLEL_DIROPS  lookups/readdirs in one directory need not be serialised by the guest.
 * MAX_PAGES        honour max_pages so 1 MiB requests are possible.
 * INIT_EXT         read flags2 (DIRECT_IO_ALLOW_MMAP lives there).
 * POSIX_LOCKS,     locks go to the host (fuse_lock.c) so the guest's processes,
 * FLOCK_LOCKS      other opens and host processes see each other's locks.
 * HANDLE_KILLPRIV_V2 we clear set-user/group-ID on write/truncate/open(O_TRUNC)
 *                  when the guest says the caller lacks CAP_FSETID (one round trip saved).
 * DIRECT_IO_ALLOW_MMAP only with --allow-mmap: shared mmap of FOPEN_DIRECT_IO files
 *                  (cache=never), whose pages the guest then caches after all.
 * POSIX_ACL,       with --posix-acl only: the guest enforces ACLs (kept in
 * DONT_MASK,       system.posix_acl_*), leaves its umask to us (the host
 * SETXATTR_EXT     skips it under a default ACL) and says when setting an
 *                  ACL must clear set-group-ID.
 * SECURITY_CTX     with --security-label only: create-like requests carry the
 *                  guest LSM's context, which we set on the new inode.
 * WRITEBACK_CACHE  only with --writeback: the guest keeps written data in its page cache
 *                  and sends it in large WRITEs later; it also keeps size and mtime,
 *                  which it sends with SETATTR. Open flags change with it (wb_open_flags).
 * Not offered yet: EXPORT_SUPPORT.
 */
#define FUSE_WANTED_FLAGS                                                                 \
	(FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA |  \
	 FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |                     \
	 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_INIT_EXT | FUSE_POSIX_LOCKS |          \
	 FUSE_FLOCK_LOCKS | FUSE_HANDLE_KILLPRIV_V2 | FUSE_POSIX_ACL | FUSE_DONT_MASK |     \
	 FUSE_SETXATTR_EXT | FUSE_SECURITY_CTX | FUSE_WRITEBACK_CACHE)
#define FUSE_ACL_FLAGS (FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT)
/* Largest COPY_FILE_RANGE done in one request (the guest loops over short copies). */
#define FUSE_MAX_COPY (16u << 20)

typedef void (*fuse_op_fn)(struct fuse_req *req, struct fuse_buf *in);

struct fuse_op_desc {
	const char *name;
	fuse_op_fn fn;
	size_t min_in; /* fixed-size part of the arguments */
};

static bool session_ready(struct fuse_session *se)
{
	return __atomic_load_n(&se->initialized, __ATOMIC_ACQUIRE);
}

static bool killpriv(const struct fuse_session *se)
{
	return se->conn_flags & FUSE_HANDLE_KILLPRIV_V2;
}

/*
 * With the guest's writeback cache, what the guest asked for is not what
 * the host file must be opened with:
 * - a write-only open becomes read-write: the guest READs through any open
 *   file of the inode to fill a page before a partial write to it;
 * - O_APPEND is dropped: the guest computes append offsets itself (it knows
 *   the cached size), and a host O_APPEND would send every WRITE, including
 *   the write-back of pages in the middle of the file, to the host's EOF.
 */
static int wb_open_flags(const struct fuse_session *se, int flags)
{
	if (!(se->conn_flags & FUSE_WRITEBACK_CACHE))
		return flags;
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

/*
 * The caller may write the file but not read it (mode 0200, say), so the
 * read-write open that writeback needs failed. Its write-only open (fh
 * @wfh) succeeded as the caller, so the permission check is done; the
 * daemon then opens the file read-write with its own credentials, for the
 * guest's page fills only: the guest kernel, which enforces permissions
 * on its side (default_permissions), never hands that data to a process
 * that could not read the file. If even that fails, the write-only handle
 * stays (partial-page writes may then fail in the guest). Returns the fh to use.
 */
static uint64_t wb_reopen_rw(struct fuse_req *req, uint64_t nodeid, int flags, uint64_t wfh)
{
	struct pt_ctx self = { .uid = req->se->self_uid, .gid = req->se->self_gid,
			       .pid = req->ctx.pid };
	uint64_t fh;

	if (pt_open(req->se->fs, &self, nodeid, (flags & ~(O_TRUNC | O_CREAT | O_EXCL)), &fh))
		return wfh;
	pt_release(req->se->fs, wfh);
	return fh;
}

static int open_reply_flags(const struct fuse_session *se, bool dir)
{
	switch (se->conf.cache) {
	case FUSE_CACHE_NEVER:
		return dir ? 0 : FOPEN_DIRECT_IO;
	case FUSE_CACHE_ALWAYS:
		return dir ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE : FOPEN_KEEP_CACHE;
	default:
		return 0;
	}
}

static void do_init(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_session *se = req->se;
	struct fuse_init_in arg = { 0 };
	struct fuse_init_out out = { 0 };
	const void *p;
	uint64_t flags;
	size_t arg_size;

	/* 7.36 grew fuse_init_in to 64 bytes; older guests send the first 16. */
	arg_size = fuse_buf_left(in) >= sizeof(arg) ? sizeof(arg)
						    : offsetof(struct fuse_init_in, flags2);
	if (fuse_buf_take(in, arg_size, &p)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	memcpy(&arg, p, arg_size);
	flags = arg.flags;
	if ((arg.flags & FUSE_INIT_EXT) && arg_size == sizeof(arg))
		flags |= (uint64_t)arg.flags2 << 32;

	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_KERNEL_MINOR_VERSION;
	if (arg.major > FUSE_KERNEL_VERSION) {
		/* The guest retries INIT with our major version. */
		fuse_reply_buf(req, &out, FUSE_COMPAT_INIT_OUT_SIZE);
		return;
	}
	if (arg.major < FUSE_KERNEL_VERSION || arg.minor < FUSE_MIN_MINOR) {
		log_err("guest speaks FUSE %u.%u; %d.%d or newer is needed", arg.major, arg.minor,
			FUSE_KERNEL_VERSION, FUSE_MIN_MINOR);
		fuse_reply_err(req, -EPROTO);
		return;
	}

	pthread_mutex_lock(&se->init_lock);
	if (session_ready(se)) {
		/* A rebooted guest starts over without DESTROY: forget the old session. */
		log_info("INIT on a live session: the guest restarted; dropping its old state");
		fuse_lock_cancel_all(se, true);
		if (se->dax)
			fuse_dax_reset(se->dax);
		pt_fs_reset(se->fs);
	}
	se->proto_minor = arg.minor < FUSE_KERNEL_MINOR_VERSION ? arg.minor
								 : FUSE_KERNEL_MINOR_VERSION;
	se->conn_flags = flags & FUSE_WANTED_FLAGS;
	if (!se->conf.readdirplus)
		se->conn_flags &= ~(uint64_t)(FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO);
	if (!se->conf.posix_locks)
		se->conn_flags &= ~(uint64_t)FUSE_POSIX_LOCKS;
	if (!se->conf.flock_locks)
		se->conn_flags &= ~(uint64_t)FUSE_FLOCK_LOCKS;
	if (se->conf.allow_mmap)
		se->conn_flags |= flags & FUSE_DIRECT_IO_ALLOW_MMAP;
	if (se->conf.allow_mmap && !(flags & FUSE_DIRECT_IO_ALLOW_MMAP))
		log_warn("--allow-mmap: the guest kernel does not offer DIRECT_IO_ALLOW_MMAP "
			 "(Linux 6.6 or later does): shared mmap of uncached files stays refused");
	if (!se->conf.killpriv_v2)
		se->conn_flags &= ~(uint64_t)FUSE_HANDLE_KILLPRIV_V2;
	/* FUSE_SUBMOUNTS is the guest's word that it mounts FUSE_ATTR_SUBMOUNT entries. */
	pt_fs_set_guest_submounts(se->fs, flags & FUSE_SUBMOUNTS);
	if (se->dax) {
		/* DAX: window offsets, lengths and file offsets in pages; per-file DAX on request. */
		se->conn_flags |= flags & (FUSE_MAP_ALIGNMENT | FUSE_HAS_INODE_DAX);
		out.map_alignment = FUSE_DAX_ALIGN_SHIFT;
	}
	if (!se->conf.posix_acl || !se->conf.xattr ||
	    (se->conn_flags & FUSE_ACL_FLAGS) != FUSE_ACL_FLAGS)
		se->conn_flags &= ~(uint64_t)FUSE_ACL_FLAGS; /* all three or none */
	if (!se->conf.security_label)
		se->conn_flags &= ~(uint64_t)FUSE_SECURITY_CTX;
	if (!se->conf.writeback)
		se->conn_flags &= ~(uint64_t)FUSE_WRITEBACK_CACHE;
	se->max_write = FUSE_SESSION_MAX_WRITE;
	out.max_readahead = arg.max_readahead;
	out.flags = (uint32_t)se->conn_flags;
	out.flags2 = (uint32_t)(se->conn_flags >> 32);
	out.max_background = FUSE_MAX_BACKGROUND;
	out.congestion_threshold = FUSE_MAX_BACKGROUND * 3 / 4;
	out.max_write = se->max_write;
	out.time_gran = 1;
	out.max_pages = (uint16_t)(se->max_write / 4096);
	__atomic_store_n(&se->initialized, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&se->init_lock);

	log_info("FUSE session: guest %u.%u, negotiated 7.%u, flags 0x%llx, max_write %u",
		 arg.major, arg.minor, se->proto_minor, (unsigned long long)se->conn_flags,
		 se->max_write);
	fuse_reply_buf(req, &out, sizeof(out));
}

static void session_drop_state(struct fuse_session *se)
{
	fuse_lock_cancel_all(se, true);
	pthread_mutex_lock(&se->init_lock);
	__atomic_store_n(&se->initialized, false, __ATOMIC_RELEASE);
	if (se->dax)
		fuse_dax_reset(se->dax);
	pt_fs_reset(se->fs);
	pthread_mutex_unlock(&se->init_lock);
}

static void do_destroy(struct fuse_req *req, struct fuse_buf *in)
{
	(void)in;
	log_info("FUSE session destroyed by the guest");
	session_drop_state(req->se);
	fuse_reply_err(req, 0);
}

static void do_forget(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_forget_in arg;

	if (!FUSE_BUF_TAKE_OBJ(in, &arg))
		pt_forget(req->se->fs, req->in.nodeid, arg.nlookup);
	fuse_reply_none(req);
}

static void do_batch_forget(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_batch_forget_in arg;

	fuse_reply_none(req);
	if (FUSE_BUF_TAKE_OBJ(in, &arg))
		return;
	for (uint32_t i = 0; i < arg.count; i++) {
		struct fuse_forget_one one;

		if (FUSE_BUF_TAKE_OBJ(in, &one)) {
			log_guest(LOG_LVL_WARN, "BATCH_FORGET claims %u entries, carries %u",
				  arg.count, i);
			return;
		}
		pt_forget(req->se->fs, one.nodeid, one.nlookup);
	}
}

/* The end of every operation that hands out an entry. */
static void reply_entry_or_err(struct fuse_req *req, int err, const struct pt_entry *e)
{
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, e);
}

static void do_lookup(struct fuse_req *req, struct fuse_buf *in)
{
	struct pt_entry e;
	const char *name;
	int err;

	err = fuse_buf_take_name(in, 1, &name);
	if (!err)
		err = pt_lookup(req->se->fs, &req->ctx, req->in.nodeid, name, &e);
	if (err == -ENOENT && req->se->conf.cache >= FUSE_CACHE_METADATA) {
		/*
		 * A negative entry (nodeid 0): the guest remembers "no such name" for
		 * the entry timeout, as it does a positive one, and asks no more
		 * (create-after-check as in tar or cp: one LOOKUP instead of two).
		 * Only in the long-timeout modes, which assume this guest alone
		 * changes the share.
		 */
		memset(&e, 0, sizeof(e));
		err = 0;
	}
	reply_entry_or_err(req, err, &e);
}

static void do_getattr(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_getattr_in arg;
	struct stat st;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err) {
		fuse_dax_changed(req, req->in.nodeid); /* grown on the host: map it before telling */
		err = pt_getattr(req->se->fs, req->in.nodeid, &st);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st);
}

static void do_setattr(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_setattr_in arg;
	struct pt_setattr sa = { 0 };
	struct stat st;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (err)
		goto out;
	if (arg.valid & FATTR_MODE) {
		sa.valid |= PT_SET_MODE;
		sa.mode = arg.mode & 07777;
	}
	if (arg.valid & FATTR_UID) {
		sa.valid |= PT_SET_UID;
		sa.uid = arg.uid;
	}
	if (arg.valid & FATTR_GID) {
		sa.valid |= PT_SET_GID;
		sa.gid = arg.gid;
	}
	if (arg.valid & FATTR_SIZE) {
		if (arg.size > INT64_MAX) {
			err = -EFBIG;
			goto out;
		}
		sa.valid |= PT_SET_SIZE;
		sa.size = arg.size;
		/* The VMM must not map a page past the new end (SIGBUS): unmap it first. */
		if (req->se->dax) {
			err = fuse_dax_before_truncate(req->se->dax, req->in.nodeid, arg.size);
			if (err)
				goto out;
		}
	}
	if (arg.valid & FATTR_ATIME_NOW) {
		sa.valid |= PT_SET_ATIME_NOW;
	} else if (arg.valid & FATTR_ATIME) {
		if (arg.atimensec >= 1000000000u) {
			err = -EINVAL;
			goto out;
		}
		sa.valid |= PT_SET_ATIME;
		sa.atime.tv_sec = (time_t)arg.atime;
		sa.atime.tv_nsec = arg.atimensec;
	}
	if (arg.valid & FATTR_MTIME_NOW) {
		sa.valid |= PT_SET_MTIME_NOW;
	} else if (arg.valid & FATTR_MTIME) {
		if (arg.mtimensec >= 1000000000u) {
			err = -EINVAL;
			goto out;
		}
		sa.valid |= PT_SET_MTIME;
		sa.mtime.tv_sec = (time_t)arg.mtime;
		sa.mtime.tv_nsec = arg.mtimensec;
	}
	if (arg.valid & FATTR_FH) {
		sa.valid |= PT_SET_FH;
		sa.fh = arg.fh;
	}
	/* FATTR_CTIME (set by the kernel alongside others) cannot be set on a host; it follows. */
	err = pt_setattr(req->se->fs, &req->ctx, req->in.nodeid, &sa, &st);
	if (!err && (sa.valid & PT_SET_SIZE))
		fuse_dax_changed(req, req->in.nodeid);
	if (!err && (arg.valid & FATTR_KILL_SUIDGID) && killpriv(req->se)) {
		err = pt_kill_suidgid(req->se->fs, req->in.nodeid);
		if (!err)
			err = pt_getattr(req->se->fs, req->in.nodeid, &st);
	}
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st);
}

static void do_readlink(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_thread *t = req->t;
	size_t room = fuse_reply_room(req);
	int n;

	(void)in;
	if (room > PATH_MAX)
		room = PATH_MAX;
	if (room > t->reply_size)
		room = t->reply_size;
	n = pt_readlink(req->se->fs, req->in.nodeid, (char *)t->reply, room);
	if (n < 0)
		fuse_reply_err(req, n);
	else
		fuse_reply_buf(req, t->reply, (size_t)n);
}

/*
 * Under FUSE_SECURITY_CTX the rest of a create-like request, after its
 * names, is the security context block (fuse_secctx.h); no bytes: none.
 */
static int take_secctx(struct fuse_req *req, struct fuse_buf *in)
{
	size_t left = fuse_buf_left(in);
	struct fuse_secctx_item it;
	const void *p;
	int err;

	if (!(req->se->conn_flags & FUSE_SECURITY_CTX) || !left)
		return 0;
	err = fuse_buf_take(in, left, &p);
	if (!err)
		err = fuse_secctx_parse(p, left, &it);
	if (err) {
		log_guest(LOG_LVL_WARN, "malformed security context in opcode %u",
			  req->in.opcode);
		return -EINVAL;
	}
	req->ctx.secctx_name = it.name;
	req->ctx.secctx_value = it.value;
	req->ctx.secctx_size = it.size;
	return 0;
}

/* Under FUSE_DONT_MASK the create-like requests carry the umask for us to apply. */
static void take_umask(struct fuse_req *req, uint32_t umask)
{
	if (req->se->conn_flags & FUSE_DONT_MASK) {
		req->ctx.umask_set = true;
		req->ctx.umask = umask;
	}
}

static void do_symlink(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name, *target;
	struct pt_entry e;
	int err;

	err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		err = fuse_buf_take_str(in, PATH_MAX - 1, &target);
	if (!err && !*target)
		err = -ENOENT;
	if (!err)
		err = take_secctx(req, in);
	if (!err)
		err = pt_symlink(req->se->fs, &req->ctx, req->in.nodeid, name, target, &e);
	reply_entry_or_err(req, err, &e);
}

static void do_mknod(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_mknod_in arg;
	const char *name;
	struct pt_entry e;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		take_umask(req, arg.umask);
	if (!err)
		err = take_secctx(req, in);
	if (!err)
		err = pt_mknod(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode,
			       (dev_t)arg.rdev, &e);
	reply_entry_or_err(req, err, &e);
}

static void do_mkdir(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_mkdir_in arg;
	const char *name;
	struct pt_entry e;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		take_umask(req, arg.umask);
	if (!err)
		err = take_secctx(req, in);
	if (!err)
		err = pt_mkdir(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode, &e);
	reply_entry_or_err(req, err, &e);
}

static void do_unlink(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name;
	int err;

	err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		err = pt_unlink(req->se->fs, &req->ctx, req->in.nodeid, name);
	fuse_reply_err(req, err);
}

static void do_rmdir(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name;
	int err;

	err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		err = pt_rmdir(req->se->fs, &req->ctx, req->in.nodeid, name);
	fuse_reply_err(req, err);
}

static void rename_common(struct fuse_req *req, struct fuse_buf *in, uint64_t newdir,
			  unsigned flags)
{
	const char *oldname, *newname;
	int err;

	err = fuse_buf_take_name(in, 0, &oldname);
	if (!err)
		err = fuse_buf_take_name(in, 0, &newname);
	if (!err)
		err = pt_rename(req->se->fs, &req->ctx, req->in.nodeid, oldname, newdir, newname,
				flags);
	fuse_reply_err(req, err);
}

static void do_rename(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_rename_in arg;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	rename_common(req, in, arg.newdir, 0);
}

static void do_rename2(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_rename2_in arg;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	rename_common(req, in, arg.newdir, arg.flags);
}

static void do_link(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_link_in arg;
	const char *name;
	struct pt_entry e;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		err = pt_link(req->se->fs, &req->ctx, arg.oldnodeid, req->in.nodeid, name, &e);
	reply_entry_or_err(req, err, &e);
}

static void reply_open(struct fuse_req *req, uint64_t fh, bool dir)
{
	struct fuse_open_out out = {
		.fh = fh,
		.open_flags = (uint32_t)open_reply_flags(req->se, dir),
	};

	if (fuse_reply_buf(req, &out, sizeof(out))) {
		if (dir)
			pt_releasedir(req->se->fs, fh);
		else
			pt_release(req->se->fs, fh);
	}
}

static void do_open(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_open_in arg;
	uint64_t fh;
	int err, flags;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (err)
		goto out;
	/* O_TRUNC truncates on the host (ATOMIC_O_TRUNC): unmap the DAX pages past the end first. */
	if ((arg.flags & O_TRUNC) && req->se->dax) {
		err = fuse_dax_before_truncate(req->se->dax, req->in.nodeid, 0);
		if (err)
			goto out;
	}
	flags = wb_open_flags(req->se, (int)arg.flags);
	err = pt_open(req->se->fs, &req->ctx, req->in.nodeid, flags, &fh);
	if (err == -EACCES && flags != (int)arg.flags && ((int)arg.flags & O_ACCMODE) == O_WRONLY) {
		/* Check what the caller asked for, as the caller; then read-write as ourselves. */
		err = pt_open(req->se->fs, &req->ctx, req->in.nodeid,
			      (flags & ~O_ACCMODE) | O_WRONLY, &fh);
		if (!err)
			fh = wb_reopen_rw(req, req->in.nodeid, flags, fh);
	}
	if (!err)
		fuse_dax_changed(req, req->in.nodeid);
	if (!err && (arg.open_flags & FUSE_OPEN_KILL_SUIDGID) && (arg.flags & O_TRUNC) &&
	    killpriv(req->se)) {
		err = pt_kill_suidgid(req->se->fs, req->in.nodeid);
		if (err)
			pt_release(req->se->fs, fh);
	}
out:
	if (err)
		fuse_reply_err(req, err);
	else
		reply_open(req, fh, false);
}

static void do_create(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_create_in arg;
	const char *name;
	struct pt_entry e;
	uint64_t fh;
	int err, flags = 0;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		take_umask(req, arg.umask);
	if (!err)
		err = take_secctx(req, in);
	if (!err) {
		flags = wb_open_flags(req->se, (int)arg.flags);
		err = pt_create(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode, flags, &e,
				&fh);
	}
	if (err == -EACCES && flags != (int)arg.flags && ((int)arg.flags & O_ACCMODE) == O_WRONLY) {
		/* An existing file the caller may write but not read: as in do_open. */
		err = pt_create(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode,
				(flags & ~O_ACCMODE) | O_WRONLY, &e, &fh);
		if (!err)
			fh = wb_reopen_rw(req, e.nodeid, flags, fh);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_create(req, &e, fh, (uint32_t)open_reply_flags(req->se, false));
}

static void do_read(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_read_in arg;
	size_t room = fuse_reply_room(req);
	size_t size, got;
	unsigned cnt;
	ssize_t n;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	size = arg.size;
	if (size > req->se->max_write)
		size = req->se->max_write;
	if (size > room)
		size = room;
	/* Read straight into the guest's buffers, after the reply header. */
	cnt = iov_window(req->out_iov, req->out_cnt, sizeof(struct fuse_out_header), size,
			 req->t->iov, req->t->iov_max, &got);
	n = pt_read(req->se->fs, arg.fh, req->t->iov, cnt, arg.offset);
	if (n < 0) {
		fuse_reply_err(req, (int)n);
		return;
	}
	if (!fuse_reply_header_only(req, (size_t)n))
		req->io_bytes = (uint64_t)n;
}

static void do_write(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_write_in arg;
	struct fuse_write_out out = { 0 };
	size_t data_off = sizeof(struct fuse_in_header) + sizeof(arg);
	size_t got;
	unsigned cnt;
	ssize_t n;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	/* The data must be exactly what the header says follows the struct. */
	if (arg.size != req->in.len - data_off || arg.size > req->se->max_write) {
		log_guest(LOG_LVL_WARN, "WRITE of %u bytes in a request of %u", arg.size,
			  req->in.len);
		fuse_reply_err(req, -EINVAL);
		return;
	}
	cnt = iov_window(req->in_iov, req->in_cnt, data_off, arg.size, req->t->iov,
			 req->t->iov_max, &got);
	if (got != arg.size) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	n = pt_write(req->se->fs, &req->ctx, arg.fh, req->t->iov, cnt, arg.offset);
	if (n < 0) {
		fuse_reply_err(req, (int)n);
		return;
	}
	if ((arg.write_flags & FUSE_WRITE_KILL_SUIDGID) && killpriv(req->se))
		pt_kill_suidgid(req->se->fs, req->in.nodeid);
	fuse_dax_changed(req, req->in.nodeid); /* an append extends the file's DAX mappings */
	out.size = (uint32_t)n;
	req->io_bytes = (uint64_t)n;
	fuse_reply_buf(req, &out, sizeof(out));
}

static void do_statfs(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_statfs_out out = { 0 };
	struct statvfs sv;
	int err;

	(void)in;
	err = pt_statfs(req->se->fs, req->in.nodeid, &sv);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	out.st.blocks = sv.f_blocks;
	out.st.bfree = sv.f_bfree;
	out.st.bavail = sv.f_bavail;
	out.st.files = sv.f_files;
	out.st.ffree = sv.f_ffree;
	out.st.bsize = (uint32_t)sv.f_bsize;
	out.st.namelen = (uint32_t)sv.f_namemax;
	out.st.frsize = (uint32_t)sv.f_frsize;
	fuse_reply_buf(req, &out, sizeof(out));
}

static void do_release(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_release_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = req->in.opcode == FUSE_RELEASEDIR ? pt_releasedir(req->se->fs, arg.fh)
							: pt_release(req->se->fs, arg.fh);
	fuse_reply_err(req, err);
}

static void do_fsync(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_fsync_in arg;
	bool datasync;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err && req->in.opcode == FUSE_FSYNC)
		fuse_dax_sync(req, req->in.nodeid); /* a DAX tail copy goes to the file first */
	if (!err) {
		datasync = arg.fsync_flags & FUSE_FSYNC_FDATASYNC;
		err = req->in.opcode == FUSE_FSYNCDIR ? pt_fsyncdir(req->se->fs, arg.fh, datasync)
						      : pt_fsync(req->se->fs, arg.fh, datasync);
	}
	fuse_reply_err(req, err);
}

static void do_flush(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_flush_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err) {
		fuse_dax_sync(req, req->in.nodeid);
		err = pt_flush(req->se->fs, arg.fh, arg.lock_owner);
	}
	fuse_reply_err(req, err);
}

static void do_opendir(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_open_in arg;
	uint64_t fh;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = pt_opendir(req->se->fs, &req->ctx, req->in.nodeid, &fh);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_open(req, fh, true);
}

/* Assembles READDIR/READDIRPLUS records in the thread's reply buffer. */
struct dir_fill {
	struct fuse_req *req;
	uint8_t *buf;
	size_t size; /* what the guest asked for, within what it gave */
	size_t used;
	bool plus;
};

static size_t dirent_size(bool plus, size_t namelen)
{
	return FUSE_DIRENT_ALIGN((plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET) + namelen);
}

static bool dir_fits(void *arg, size_t namelen)
{
	struct dir_fill *f = arg;

	return dirent_size(f->plus, namelen) <= f->size - f->used;
}

static int dir_add(void *arg, const struct pt_dirent *d, const struct pt_entry *e)
{
	struct dir_fill *f = arg;
	size_t rec = dirent_size(f->plus, d->namelen);
	struct fuse_dirent *de;

	if (rec > f->size - f->used)
		return 1;
	memset(f->buf + f->used, 0, rec); /* padding must not leak daemon memory */
	if (f->plus) {
		struct fuse_direntplus *dp = (struct fuse_direntplus *)(f->buf + f->used);

		/* "." and ".." carry nodeid 0: the guest does not instantiate them. */
		fuse_fill_entry(f->req->se, e, &dp->entry_out);
		de = &dp->dirent;
	} else {
		de = (struct fuse_dirent *)(f->buf + f->used);
	}
	de->ino = d->ino;
	de->off = d->next_off;
	de->namelen = (uint32_t)d->namelen;
	de->type = d->type;
	memcpy(de->name, d->name, d->namelen);
	f->used += rec;
	return 0;
}

static void do_readdir(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_read_in arg;
	struct dir_fill f = {
		.req = req,
		.buf = req->t->reply,
		.plus = req->in.opcode == FUSE_READDIRPLUS,
	};
	struct pt_readdir_sink sink = { .fits = dir_fits, .add = dir_add, .arg = &f };
	int err;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	f.size = arg.size;
	if (f.size > fuse_reply_room(req))
		f.size = fuse_reply_room(req);
	if (f.size > req->t->reply_size)
		f.size = req->t->reply_size;
	err = pt_readdir(req->se->fs, &req->ctx, arg.fh, arg.offset, f.plus, &sink);
	/* Entries already added were counted as lookups: they must go out. */
	if (err && !f.used)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, f.buf, f.used);
	if (f.plus && req->written < sizeof(struct fuse_out_header) + f.used) {
		/* The reply did not go out: give back the lookups it carried. */
		for (size_t off = 0; off < f.used;) {
			struct fuse_direntplus *dp = (struct fuse_direntplus *)(f.buf + off);

			if (dp->entry_out.nodeid)
				pt_forget(req->se->fs, dp->entry_out.nodeid, 1);
			off += dirent_size(true, dp->dirent.namelen);
		}
	}
}

static void do_access(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_access_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = pt_access(req->se->fs, &req->ctx, req->in.nodeid, (int)arg.mask);
	fuse_reply_err(req, err);
}

static int take_xattr_name(struct fuse_buf *in, const char **name)
{
	int err = fuse_buf_take_str(in, fuse_buf_left(in), name);

	if (err)
		return err;
	if (!**name)
		return -EINVAL;
	return strlen(*name) > XATTR_NAME_MAX ? -ERANGE : 0;
}

static void do_setxattr(struct fuse_req *req, struct fuse_buf *in)
{
	/* Without FUSE_SETXATTR_EXT the guest sends the 8-byte compat struct. */
	struct fuse_setxattr_in arg = { 0 };
	const char *name;
	const void *value;
	const void *p;
	int err;

	err = fuse_buf_take(in,
			    (req->se->conn_flags & FUSE_SETXATTR_EXT) ? sizeof(arg)
								       : FUSE_COMPAT_SETXATTR_IN_SIZE,
			    &p);
	if (!err) {
		memcpy(&arg, p,
		       (req->se->conn_flags & FUSE_SETXATTR_EXT) ? sizeof(arg)
								  : FUSE_COMPAT_SETXATTR_IN_SIZE);
		if (arg.flags & PT_XATTR_KILL_SGID)
			err = -EINVAL; /* a bit of ours, never a guest's */
		else if (arg.setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID)
			arg.flags |= PT_XATTR_KILL_SGID;
	}
	if (!err)
		err = take_xattr_name(in, &name);
	if (!err && (arg.size > XATTR_SIZE_MAX || arg.size != fuse_buf_left(in)))
		err = arg.size > XATTR_SIZE_MAX ? -E2BIG : -EINVAL;
	if (!err)
		err = fuse_buf_take(in, arg.size, &value);
	if (!err)
		err = pt_setxattr(req->se->fs, &req->ctx, req->in.nodeid, name, value, arg.size,
				  (int)arg.flags);
	fuse_reply_err(req, err);
}

/* GETXATTR and LISTXATTR share the size-probe convention. */
static void reply_xattr(struct fuse_req *req, uint32_t size, int n)
{
	if (n < 0) {
		fuse_reply_err(req, n);
	} else if (!size) {
		struct fuse_getxattr_out out = { .size = (uint32_t)n };

		fuse_reply_buf(req, &out, sizeof(out));
	} else {
		fuse_reply_buf(req, req->t->reply, (size_t)n);
	}
}

static uint32_t xattr_buf_size(struct fuse_req *req, uint32_t size)
{
	size_t room = fuse_reply_room(req);

	if (size > XATTR_SIZE_MAX)
		size = XATTR_SIZE_MAX;
	if (size > room)
		size = (uint32_t)room;
	if (size > req->t->reply_size)
		size = (uint32_t)req->t->reply_size;
	return size;
}

static void do_getxattr(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_getxattr_in arg;
	const char *name;
	uint32_t size;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = take_xattr_name(in, &name);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	size = xattr_buf_size(req, arg.size);
	if (arg.size && !size) {
		fuse_reply_err(req, -ERANGE);
		return;
	}
	reply_xattr(req, arg.size,
		    pt_getxattr(req->se->fs, &req->ctx, req->in.nodeid, name, req->t->reply, size));
}

static void do_listxattr(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_getxattr_in arg;
	uint32_t size;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	size = xattr_buf_size(req, arg.size);
	if (arg.size && !size) {
		fuse_reply_err(req, -ERANGE);
		return;
	}
	reply_xattr(req, arg.size,
		    pt_listxattr(req->se->fs, &req->ctx, req->in.nodeid, (char *)req->t->reply,
				 size));
}

static void do_removexattr(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name;
	int err;

	err = take_xattr_name(in, &name);
	if (!err)
		err = pt_removexattr(req->se->fs, &req->ctx, req->in.nodeid, name);
	fuse_reply_err(req, err);
}

static void do_fallocate(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_fallocate_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = pt_fallocate(req->se->fs, arg.fh, (int)arg.mode, arg.offset, arg.length);
	if (!err)
		fuse_dax_changed(req, req->in.nodeid);
	fuse_reply_err(req, err);
}

static void do_lseek(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_lseek_in arg;
	struct fuse_lseek_out out = { 0 };
	int64_t r;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	/* Only SEEK_DATA/SEEK_HOLE need the host; the guest does the rest itself. */
	if (arg.whence != SEEK_DATA && arg.whence != SEEK_HOLE && arg.whence != SEEK_SET &&
	    arg.whence != SEEK_CUR && arg.whence != SEEK_END) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	r = pt_lseek(req->se->fs, arg.fh, arg.offset, (int)arg.whence);
	if (r < 0) {
		fuse_reply_err(req, (int)r);
		return;
	}
	out.offset = (uint64_t)r;
	fuse_reply_buf(req, &out, sizeof(out));
}

static void do_copy_file_range(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_copy_file_range_in arg;
	struct fuse_write_out out = { 0 };
	ssize_t n;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	if (arg.flags) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	n = pt_copy_file_range(req->se->fs, arg.fh_in, arg.off_in, arg.fh_out, arg.off_out,
			       arg.len > FUSE_MAX_COPY ? FUSE_MAX_COPY : (size_t)arg.len, 0);
	if (n < 0) {
		fuse_reply_err(req, (int)n);
		return;
	}
	fuse_dax_changed(req, arg.nodeid_out);
	out.size = (uint32_t)n;
	fuse_reply_buf(req, &out, sizeof(out));
}

static void do_syncfs(struct fuse_req *req, struct fuse_buf *in)
{
	(void)in;
	fuse_reply_err(req, pt_syncfs(req->se->fs, req->in.nodeid));
}

static void do_tmpfile(struct fuse_req *req, struct fuse_buf *in)
{
	const char *dummy;
	struct fuse_create_in arg;
	struct pt_entry e;
	uint64_t fh;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		take_umask(req, arg.umask);
	/* Linux sends the dentry's placeholder name ("/") too: skip it to the context. */
	if (!err && (req->se->conn_flags & FUSE_SECURITY_CTX) && fuse_buf_left(in))
		err = fuse_buf_take_str(in, fuse_buf_left(in), &dummy);
	if (!err)
		err = take_secctx(req, in);
	if (!err)
		err = pt_tmpfile(req->se->fs, &req->ctx, req->in.nodeid, arg.mode,
				 wb_open_flags(req->se, (int)arg.flags), &e, &fh);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_create(req, &e, fh, (uint32_t)open_reply_flags(req->se, false));
}

/* One row per opcode; min_in is checked before the decoder runs. */
static const struct fuse_op_desc fuse_ops[] = {
	[FUSE_LOOKUP] = { "LOOKUP", do_lookup, 2 },
	[FUSE_FORGET] = { "FORGET", do_forget, sizeof(struct fuse_forget_in) },
	[FUSE_GETATTR] = { "GETATTR", do_getattr, sizeof(struct fuse_getattr_in) },
	[FUSE_SETATTR] = { "SETATTR", do_setattr, sizeof(struct fuse_setattr_in) },
	[FUSE_READLINK] = { "READLINK", do_readlink, 0 },
	[FUSE_SYMLINK] = { "SYMLINK", do_symlink, 4 },
	[FUSE_MKNOD] = { "MKNOD", do_mknod, sizeof(struct fuse_mknod_in) + 2 },
	[FUSE_MKDIR] = { "MKDIR", do_mkdir, sizeof(struct fuse_mkdir_in) + 2 },
	[FUSE_UNLINK] = { "UNLINK", do_unlink, 2 },
	[FUSE_RMDIR] = { "RMDIR", do_rmdir, 2 },
	[FUSE_RENAME] = { "RENAME", do_rename, sizeof(struct fuse_rename_in) + 4 },
	[FUSE_LINK] = { "LINK", do_link, sizeof(struct fuse_link_in) + 2 },
	[FUSE_OPEN] = { "OPEN", do_open, sizeof(struct fuse_open_in) },
	[FUSE_READ] = { "READ", do_read, sizeof(struct fuse_read_in) },
	[FUSE_WRITE] = { "WRITE", do_write, sizeof(struct fuse_write_in) },
	[FUSE_STATFS] = { "STATFS", do_statfs, 0 },
	[FUSE_RELEASE] = { "RELEASE", do_release, sizeof(struct fuse_release_in) },
	[FUSE_FSYNC] = { "FSYNC", do_fsync, sizeof(struct fuse_fsync_in) },
	[FUSE_FLUSH] = { "FLUSH", do_flush, sizeof(struct fuse_flush_in) },
	[FUSE_INIT] = { "INIT", do_init, 16 },
	[FUSE_OPENDIR] = { "OPENDIR", do_opendir, sizeof(struct fuse_open_in) },
	[FUSE_READDIR] = { "READDIR", do_readdir, sizeof(struct fuse_read_in) },
	[FUSE_RELEASEDIR] = { "RELEASEDIR", do_release, sizeof(struct fuse_release_in) },
	[FUSE_FSYNCDIR] = { "FSYNCDIR", do_fsync, sizeof(struct fuse_fsync_in) },
	[FUSE_ACCESS] = { "ACCESS", do_access, sizeof(struct fuse_access_in) },
	[FUSE_CREATE] = { "CREATE", do_create, sizeof(struct fuse_create_in) + 2 },
	[FUSE_INTERRUPT] = { "INTERRUPT", do_interrupt, sizeof(struct fuse_interrupt_in) },
	[FUSE_DESTROY] = { "DESTROY", do_destroy, 0 },
	[FUSE_BATCH_FORGET] = { "BATCH_FORGET", do_batch_forget,
				sizeof(struct fuse_batch_forget_in) },
	[FUSE_READDIRPLUS] = { "READDIRPLUS", do_readdir, sizeof(struct fuse_read_in) },
	[FUSE_RENAME2] = { "RENAME2", do_rename2, sizeof(struct fuse_rename2_in) + 4 },
	[FUSE_SETXATTR] = { "SETXATTR", do_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE + 2 },
	[FUSE_GETXATTR] = { "GETXATTR", do_getxattr, sizeof(struct fuse_getxattr_in) + 2 },
	[FUSE_LISTXATTR] = { "LISTXATTR", do_listxattr, sizeof(struct fuse_getxattr_in) },
	[FUSE_REMOVEXATTR] = { "REMOVEXATTR", do_removexattr, 2 },
	[FUSE_GETLK] = { "GETLK", do_getlk, sizeof(struct fuse_lk_in) },
	[FUSE_SETLK] = { "SETLK", do_setlk, sizeof(struct fuse_lk_in) },
	[FUSE_SETLKW] = { "SETLKW", do_setlk, sizeof(struct fuse_lk_in) },
	[FUSE_FALLOCATE] = { "FALLOCATE", do_fallocate, sizeof(struct fuse_fallocate_in) },
	[FUSE_LSEEK] = { "LSEEK", do_lseek, sizeof(struct fuse_lseek_in) },
	[FUSE_COPY_FILE_RANGE] = { "COPY_FILE_RANGE", do_copy_file_range,
				   sizeof(struct fuse_copy_file_range_in) },
	[FUSE_SYNCFS] = { "SYNCFS", do_syncfs, sizeof(struct fuse_syncfs_in) },
	[FUSE_TMPFILE] = { "TMPFILE", do_tmpfile, sizeof(struct fuse_create_in) },
	[FUSE_SETUPMAPPING] = { "SETUPMAPPING", do_setupmapping,
				sizeof(struct fuse_setupmapping_in) },
	[FUSE_REMOVEMAPPING] = { "REMOVEMAPPING", do_removemapping,
				 sizeof(struct fuse_removemapping_in) },
	/* IOCTL, POLL, BMAP, NOTIFY_REPLY: not served (-ENOSYS). */
};

/* FORGET, BATCH_FORGET and INTERRUPT are never answered, not even with an error. */
static void reject(struct fuse_req *req, int err)
{
	switch (req->in.opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		fuse_reply_none(req);
		break;
	default:
		fuse_reply_err(req, err);
		break;
	}
}

static const struct fuse_op_desc *op_desc(uint32_t opcode)
{
	if (opcode >= sizeof(fuse_ops) / sizeof(fuse_ops[0]) || !fuse_ops[opcode].fn)
		return NULL;
	return &fuse_ops[opcode];
}

const char *fuse_session_op_name(uint32_t opcode)
{
	const struct fuse_op_desc *d = op_desc(opcode);

	return d ? d->name : NULL;
}

/* The metrics hook: one call per request, after its reply (or hand-off). */
static void count_request(const struct fuse_req *req, uint64_t t0)
{
	uint64_t rd = 0, wr = 0;

	if (!req->t->mb)
		return;
	if (req->in.opcode == FUSE_READ)
		rd = req->io_bytes;
	else if (req->in.opcode == FUSE_WRITE && !req->error)
		wr = req->io_bytes;
	metrics_record(req->t->mb, req->in.opcode, req->error, rd, wr, metrics_now_ns() - t0);
}

int fuse_session_handle(struct fuse_session *se, struct fuse_thread *t, unsigned qidx,
			uint32_t token, const struct iovec *iov, unsigned in_cnt, size_t in_len,
			unsigned out_cnt, size_t out_len, uint32_t *written)
{
	struct fuse_req req = {
		.se = se,
		.t = t,
		.in_iov = iov,
		.in_cnt = in_cnt,
		.out_iov = iov + in_cnt,
		.out_cnt = out_cnt,
		.out_len = out_len,
		.qidx = qidx,
		.token = token,
		.async_ok = se->complete != NULL,
	};
	const struct fuse_op_desc *desc;
	struct fuse_buf in;
	size_t args_len;
	uint64_t t0 = t->mb ? metrics_now_ns() : 0;

	*written = 0;
	if (in_len < sizeof(req.in) ||
	    iov_to_buf(iov, in_cnt, 0, &req.in, sizeof(req.in)) != sizeof(req.in)) {
		log_guest(LOG_LVL_WARN, "queue %u: request of %zu bytes has no FUSE header", qidx,
			  in_len);
		return 0; /* nothing to reply to */
	}
	req.ctx.uid = req.in.uid;
	req.ctx.gid = req.in.gid;
	req.ctx.pid = req.in.pid;
	desc = op_desc(req.in.opcode);
	log_debug("queue %u: unique %llu %s (%u) nodeid 0x%llx len %u", qidx,
		  (unsigned long long)req.in.unique, desc ? desc->name : "?", req.in.opcode,
		  (unsigned long long)req.in.nodeid, req.in.len);

	if (req.in.len != in_len) {
		log_guest(LOG_LVL_WARN, "request %llu: header says %u bytes, chain holds %zu",
			  (unsigned long long)req.in.unique, req.in.len, in_len);
		reject(&req, -EINVAL);
		goto out;
	}
	if (!desc) {
		reject(&req, -ENOSYS);
		goto out;
	}
	if (!session_ready(se) && req.in.opcode != FUSE_INIT) {
		log_guest(LOG_LVL_WARN, "%s before INIT", desc->name);
		reject(&req, -EIO);
		goto out;
	}
	/* WRITE data stays in guest memory; everything else is copied and parsed. */
	args_len = req.in.len - sizeof(req.in);
	if (req.in.opcode == FUSE_WRITE && args_len > sizeof(struct fuse_write_in))
		args_len = sizeof(struct fuse_write_in);
	if (args_len > FUSE_SESSION_MAX_ARGS) {
		log_guest(LOG_LVL_WARN, "%s with %zu bytes of arguments", desc->name, args_len);
		reject(&req, -E2BIG);
		goto out;
	}
	if (args_len < desc->min_in) {
		log_guest(LOG_LVL_WARN, "%s with %zu bytes of arguments, needs %zu", desc->name,
			  args_len, desc->min_in);
		reject(&req, -EINVAL);
		goto out;
	}
	iov_to_buf(iov, in_cnt, sizeof(req.in), t->args, args_len);
	if (se->conf.readonly) {
		int err = fuse_ro_check(req.in.opcode, t->args, args_len);

		if (err) {
			reject(&req, err);
			goto out;
		}
	}
	fuse_buf_init(&in, t->args, args_len);
	desc->fn(&req, &in);
	if (req.async) {
		count_request(&req, t0); /* counted when handed off, without its error */
		return FUSE_SESSION_ASYNC;
	}
	if (!req.replied) {
		log_guest(LOG_LVL_ERROR, "%s: decoder returned without a reply", desc->name);
		reject(&req, -EIO);
	}
out:
	count_request(&req, t0);
	*written = req.written;
	return 0;
}

int fuse_session_new(struct pt_fs *fs, const struct fuse_conf *conf, struct fuse_session **out)
{
	struct fuse_session *se = calloc(1, sizeof(*se));

	if (!se)
		return -ENOMEM;
	se->fs = fs;
	se->conf = *conf;
	se->self_uid = geteuid(); /* here: the seccomp filter does not allow it later */
	se->self_gid = getegid();
	switch (conf->cache) {
	case FUSE_CACHE_NEVER:
		se->entry_timeout_s = se->attr_timeout_s = 0;
		break;
	case FUSE_CACHE_AUTO:
		se->entry_timeout_s = se->attr_timeout_s = 1;
		break;
	default:
		se->entry_timeout_s = se->attr_timeout_s = 86400;
		break;
	}
	if (conf->timeout_set)
		se->entry_timeout_s = se->attr_timeout_s = conf->timeout_s;
	pthread_mutex_init(&se->init_lock, NULL);
	if (fuse_lock_init(se)) {
		pthread_mutex_destroy(&se->init_lock);
		free(se);
		return -errno;
	}
	*out = se;
	return 0;
}

void fuse_session_set_completion(struct fuse_session *se, fuse_complete_fn fn, void *opaque)
{
	se->complete = fn;
	se->complete_opaque = opaque;
}

void fuse_session_set_dax(struct fuse_session *se, struct fuse_dax *dax)
{
	se->dax = dax;
}

void fuse_session_set_metrics(struct fuse_session *se, struct metrics *m)
{
	se->metrics = m;
}

void fuse_session_free(struct fuse_session *se)
{
	if (!se)
		return;
	fuse_lock_fini(se);
	pthread_mutex_destroy(&se->init_lock);
	free(se);
}

void fuse_session_reset(struct fuse_session *se)
{
	session_drop_state(se);
}

struct fuse_thread *fuse_thread_new(struct fuse_session *se, unsigned iov_max)
{
	struct fuse_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->se = se;
	t->args = malloc(FUSE_SESSION_MAX_ARGS);
	t->reply_size = FUSE_MAX_READDIR > PATH_MAX ? FUSE_MAX_READDIR : PATH_MAX;
	t->reply = malloc(t->reply_size);
	t->iov_max = iov_max;
	t->iov = calloc(iov_max, sizeof(*t->iov));
	if (!t->args || !t->reply || !t->iov) {
		fuse_thread_free(t);
		return NULL;
	}
	if (se->metrics) {
		t->mb = metrics_block_get(se->metrics);
		if (!t->mb)
			log_warn("out of memory for a metrics block: this thread's requests go uncounted");
	}
	return t;
}

void fuse_thread_free(struct fuse_thread *t)
{
	if (!t)
		return;
	free(t->args);
	free(t->reply);
	free(t->iov);
	if (t->mb)
		metrics_block_put(t->se->metrics, t->mb);
	free(t);
}
