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
 * The decoders live by concern: fuse_node.c, fuse_file.c, fuse_dir.c,
 * fuse_xattr.c, fuse_lock.c, fuse_dax.c (declared in fuse_i.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>
#include <unistd.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "fuse_ro.h"
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
