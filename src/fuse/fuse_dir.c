// SPDX-License-Identifier: MIT
/* Decoders of OPENDIR and READDIR/READDIRPLUS (RELEASEDIR and FSYNCDIR share fuse_file.c's). */
#include <errno.h>
#include <string.h>

#include "fuse_buf.h"
#include "fuse_i.h"

void do_opendir(struct fuse_req *req, struct fuse_buf *in)
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
		fuse_reply_open(req, fh, true);
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

void do_readdir(struct fuse_req *req, struct fuse_buf *in)
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
