// SPDX-License-Identifier: MIT
/*
 * Decoders of the requests on names and attributes: LOOKUP, GETATTR/SETATTR,
 * the create-like requests but CREATE and TMPFILE, unlink/rename/link, STATFS, ACCESS.
 */
#include <errno.h>
#include <string.h>
#include <linux/limits.h>

#include "fuse_buf.h"
#include "fuse_i.h"
#include "fuse_secctx.h"
#include "log.h"

/* The end of every operation that hands out an entry. */
static void reply_entry_or_err(struct fuse_req *req, int err, const struct pt_entry *e)
{
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, e);
}

void do_lookup(struct fuse_req *req, struct fuse_buf *in)
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

void do_getattr(struct fuse_req *req, struct fuse_buf *in)
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

void do_setattr(struct fuse_req *req, struct fuse_buf *in)
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
	if (!err && (arg.valid & FATTR_KILL_SUIDGID) && fuse_killpriv(req->se)) {
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

void do_readlink(struct fuse_req *req, struct fuse_buf *in)
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
int fuse_take_secctx(struct fuse_req *req, struct fuse_buf *in)
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
void fuse_take_umask(struct fuse_req *req, uint32_t umask)
{
	if (req->se->conn_flags & FUSE_DONT_MASK) {
		req->ctx.umask_set = true;
		req->ctx.umask = umask;
	}
}

void do_symlink(struct fuse_req *req, struct fuse_buf *in)
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
		err = fuse_take_secctx(req, in);
	if (!err)
		err = pt_symlink(req->se->fs, &req->ctx, req->in.nodeid, name, target, &e);
	reply_entry_or_err(req, err, &e);
}

void do_mknod(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_mknod_in arg;
	const char *name;
	struct pt_entry e;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		fuse_take_umask(req, arg.umask);
	if (!err)
		err = fuse_take_secctx(req, in);
	if (!err)
		err = pt_mknod(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode,
			       (dev_t)arg.rdev, &e);
	reply_entry_or_err(req, err, &e);
}

void do_mkdir(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_mkdir_in arg;
	const char *name;
	struct pt_entry e;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		fuse_take_umask(req, arg.umask);
	if (!err)
		err = fuse_take_secctx(req, in);
	if (!err)
		err = pt_mkdir(req->se->fs, &req->ctx, req->in.nodeid, name, arg.mode, &e);
	reply_entry_or_err(req, err, &e);
}

void do_unlink(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name;
	int err;

	err = fuse_buf_take_name(in, 0, &name);
	if (!err)
		err = pt_unlink(req->se->fs, &req->ctx, req->in.nodeid, name);
	fuse_reply_err(req, err);
}

void do_rmdir(struct fuse_req *req, struct fuse_buf *in)
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

void do_rename(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_rename_in arg;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	rename_common(req, in, arg.newdir, 0);
}

void do_rename2(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_rename2_in arg;

	if (FUSE_BUF_TAKE_OBJ(in, &arg)) {
		fuse_reply_err(req, -EINVAL);
		return;
	}
	rename_common(req, in, arg.newdir, arg.flags);
}

void do_link(struct fuse_req *req, struct fuse_buf *in)
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

void do_statfs(struct fuse_req *req, struct fuse_buf *in)
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

void do_access(struct fuse_req *req, struct fuse_buf *in)
{
	struct fuse_access_in arg;
	int err;

	err = FUSE_BUF_TAKE_OBJ(in, &arg);
	if (!err)
		err = pt_access(req->se->fs, &req->ctx, req->in.nodeid, (int)arg.mask);
	fuse_reply_err(req, err);
}
