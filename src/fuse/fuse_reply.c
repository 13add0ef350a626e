// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "fuse_i.h"
#include "iov.h"
#include "log.h"

/* Errors the kernel accepts in a reply: (-512, 0] ("fuse: reject internal errno"). */
static int sanitize_error(int error)
{
	if (error > 0 || error <= -512) {
		log_guest(LOG_LVL_WARN, "reply with out-of-range error %d mapped to -EIO", error);
		return -EIO;
	}
	return error;
}

static int put_header(struct fuse_req *req, int error, size_t payload)
{
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + payload),
		.error = error,
		.unique = req->in.unique,
	};

	if (iov_from_buf(req->out_iov, req->out_cnt, 0, &oh, sizeof(oh)) != sizeof(oh))
		return -ENOSPC;
	log_debug("unique %llu: reply error %d, %u bytes", (unsigned long long)oh.unique, error,
		  oh.len);
	req->written = oh.len;
	req->error = error;
	req->replied = true;
	return 0;
}

int fuse_reply(struct fuse_req *req, int error, const struct iovec *iov, unsigned cnt)
{
	size_t payload = error ? 0 : iov_size(iov, cnt);
	size_t off = sizeof(struct fuse_out_header);

	error = sanitize_error(error);
	if (req->out_len < sizeof(struct fuse_out_header)) {
		/* Not even a header fits: the chain goes back with nothing written. */
		log_guest(LOG_LVL_WARN, "request %llu (opcode %u): no room for a reply (%zu bytes)",
			  (unsigned long long)req->in.unique, req->in.opcode, req->out_len);
		req->replied = true;
		req->written = 0;
		req->error = -ENOSPC;
		return -ENOSPC;
	}
	if (payload > fuse_reply_room(req)) {
		log_guest(LOG_LVL_WARN,
			  "request %llu (opcode %u): reply of %zu bytes exceeds the %zu the guest gave",
			  (unsigned long long)req->in.unique, req->in.opcode, payload,
			  fuse_reply_room(req));
		put_header(req, -ERANGE, 0);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < cnt && payload; i++) {
		iov_from_buf(req->out_iov, req->out_cnt, off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return put_header(req, error, payload);
}

int fuse_reply_err(struct fuse_req *req, int error)
{
	return fuse_reply(req, error, NULL, 0);
}

int fuse_reply_buf(struct fuse_req *req, const void *buf, size_t size)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = size };

	return fuse_reply(req, 0, &iov, 1);
}

int fuse_reply_header_only(struct fuse_req *req, size_t payload_len)
{
	if (req->out_len < sizeof(struct fuse_out_header) || payload_len > fuse_reply_room(req))
		return fuse_reply_err(req, -EIO);
	return put_header(req, 0, payload_len);
}

void fuse_reply_none(struct fuse_req *req)
{
	req->replied = true;
	req->written = 0;
}

void fuse_fill_attr(const struct stat *st, struct fuse_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->ino = st->st_ino;
	attr->size = (uint64_t)st->st_size;
	attr->blocks = (uint64_t)st->st_blocks;
	attr->atime = (uint64_t)st->st_atim.tv_sec;
	attr->mtime = (uint64_t)st->st_mtim.tv_sec;
	attr->ctime = (uint64_t)st->st_ctim.tv_sec;
	attr->atimensec = (uint32_t)st->st_atim.tv_nsec;
	attr->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	attr->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	attr->mode = st->st_mode;
	attr->nlink = (uint32_t)st->st_nlink;
	attr->uid = st->st_uid;
	attr->gid = st->st_gid;
	attr->rdev = (uint32_t)st->st_rdev;
	attr->blksize = (uint32_t)st->st_blksize;
}

void fuse_fill_entry(const struct fuse_session *se, const struct pt_entry *e,
		     struct fuse_entry_out *out)
{
	memset(out, 0, sizeof(*out));
	out->nodeid = e->nodeid;
	out->generation = e->generation;
	out->entry_valid = se->entry_timeout_s;
	out->attr_valid = se->attr_timeout_s;
	fuse_fill_attr(&e->st, &out->attr);
	if (e->submount)
		out->attr.flags |= FUSE_ATTR_SUBMOUNT;
	out->attr.flags |= fuse_dax_attr_flags(se, &e->st);
}

int fuse_reply_entry(struct fuse_req *req, const struct pt_entry *e)
{
	struct fuse_entry_out eo;
	int err;

	fuse_fill_entry(req->se, e, &eo);
	err = fuse_reply_buf(req, &eo, sizeof(eo));
	if (err && e->nodeid)
		pt_forget(req->se->fs, e->nodeid, 1); /* the guest never learnt of it */
	return err;
}

int fuse_reply_create(struct fuse_req *req, const struct pt_entry *e, uint64_t fh,
		      uint32_t open_flags)
{
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} out;
	int err;

	fuse_fill_entry(req->se, e, &out.entry);
	memset(&out.open, 0, sizeof(out.open));
	out.open.fh = fh;
	out.open.open_flags = open_flags;
	err = fuse_reply_buf(req, &out, sizeof(out));
	if (err) {
		pt_release(req->se->fs, fh);
		pt_forget(req->se->fs, e->nodeid, 1);
	}
	return err;
}

int fuse_reply_attr(struct fuse_req *req, const struct stat *st)
{
	struct fuse_attr_out ao;

	memset(&ao, 0, sizeof(ao));
	ao.attr_valid = req->se->attr_timeout_s;
	fuse_fill_attr(st, &ao.attr);
	ao.attr.flags |= fuse_dax_attr_flags(req->se, st);
	return fuse_reply_buf(req, &ao, sizeof(ao));
}
