// SPDX-License-Identifier: MIT
/* Decoders of SETXATTR, GETXATTR, LISTXATTR and REMOVEXATTR. */
#include <errno.h>
#include <string.h>
#include <linux/limits.h>

#include "fuse_buf.h"
#include "fuse_i.h"

static int take_xattr_name(struct fuse_buf *in, const char **name)
{
	int err = fuse_buf_take_str(in, fuse_buf_left(in), name);

	if (err)
		return err;
	if (!**name)
		return -EINVAL;
	return strlen(*name) > XATTR_NAME_MAX ? -ERANGE : 0;
}

void do_setxattr(struct fuse_req *req, struct fuse_buf *in)
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

void do_getxattr(struct fuse_req *req, struct fuse_buf *in)
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

void do_listxattr(struct fuse_req *req, struct fuse_buf *in)
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

void do_removexattr(struct fuse_req *req, struct fuse_buf *in)
{
	const char *name;
	int err;

	err = take_xattr_name(in, &name);
	if (!err)
		err = pt_removexattr(req->se->fs, &req->ctx, req->in.nodeid, name);
	fuse_reply_err(req, err);
}
