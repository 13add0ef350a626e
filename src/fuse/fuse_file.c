// SPDX-License-Identifier: MIT
/*
 * Decoders of the requests on open files and their data: OPEN/CREATE/TMPFILE,
 * READ/WRITE, RELEASE(DIR), FSYNC(DIR), FLUSH, FALLOCATE, LSEEK, COPY_FILE_RANGE, SYNCFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "iov.h"
#include "log.h"

/* Largest COPY_FILE_RANGE done in one request (the guest loops over short copies). */
#define FUSE_MAX_COPY (16u << 20)

bool fuse_killpriv(const struct fuse_session *se)
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

void fuse_reply_open(struct fuse_req *req, uint64_t fh, bool dir)
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

void do_open(struct fuse_req *req, struct fuse_buf *in)
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
	    fuse_killpriv(req->se)) {
		err = pt_kill_suidgid(req->se->fs, req->in.nodeid);
		if (err)
			pt_release(req->se->fs, fh);
	}
out:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_open(req, fh, false);
}

void do_create(struct fuse_req *req, struct fuse_buf *in)
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
		fuse_take_umask(req, arg.umask);
	if (!err)
		err = fuse_take_secctx(req, in);
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

void do_read(struct fuse_req *req, struct fuse_buf *in)
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

void do_write(struct fuse_req *req, struct fuse_buf *in)
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
	if ((arg.write_flags & FUSE_WRITE_KILL_SUIDGID) && fuse_killpriv(req->se))
		pt_kill_suidgid(req->se->fs, req->in.nodeid);
	fuse_dax_changed(req, req->in.nodeid); /* an append extends the file's DAX mappings */
	out.size = (uint32_t)n;
	req->io_bytes = (uint64_t)n;
	fuse_reply_buf(req, &out, sizeof(out));
}

void do_release(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_release_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = req->in.opcode == FUSE_RELEASEDIR ? pt_releasedir(req->se->fs, arg.fh)
							: pt_release(req->se->fs, arg.fh);
	fuse_reply_err(req, err);
}

void do_fsync(struct fuse_req *req, struct fuse_buf *in)
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

void do_flush(struct fuse_req *req, struct fuse_buf *in)
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

void do_fallocate(struct fuse_req *req, struct fuse_buf *in)
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

void do_lseek(struct fuse_req *req, struct fuse_buf *in)
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

void do_copy_file_range(struct fuse_req *req, struct fuse_buf *in)
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

void do_syncfs(struct fuse_req *req, struct fuse_buf *in)
{
	(void)in;
	fuse_reply_err(req, pt_syncfs(req->se->fs, req->in.nodeid));
}

void do_tmpfile(struct fuse_req *req, struct fuse_buf *in)
{
	const char *dummy;
	struct fuse_create_in arg;
	struct pt_entry e;
	uint64_t fh;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		fuse_take_umask(req, arg.umask);
	/* Linux sends the dentry's placeholder name ("/") too: skip it to the context. */
	if (!err && (req->se->conn_flags & FUSE_SECURITY_CTX) && fuse_buf_left(in))
		err = fuse_buf_take_str(in, fuse_buf_left(in), &dummy);
	if (!err)
		err = fuse_take_secctx(req, in);
	if (!err)
		err = pt_tmpfile(req->se->fs, &req->ctx, req->in.nodeid, arg.mode,
				 wb_open_flags(req->se, (int)arg.flags), &e, &fh);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_create(req, &e, fh, (uint32_t)open_reply_flags(req->se, false));
}
