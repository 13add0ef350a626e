// SPDX-License-Identifier: MIT
/* FUSE over virtio-fs: request building, reply validation, per-opcode helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_priv.h"

#define CACHELINE 64u
#define POISON 0xa5

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

const char *fe_fuse_opname(uint32_t opcode)
{
	static const char *const names[] = {
		[FUSE_LOOKUP] = "LOOKUP", [FUSE_FORGET] = "FORGET", [FUSE_GETATTR] = "GETATTR",
		[FUSE_SETATTR] = "SETATTR", [FUSE_READLINK] = "READLINK", [FUSE_SYMLINK] = "SYMLINK",
		[FUSE_MKNOD] = "MKNOD", [FUSE_MKDIR] = "MKDIR", [FUSE_UNLINK] = "UNLINK",
		[FUSE_RMDIR] = "RMDIR", [FUSE_RENAME] = "RENAME", [FUSE_LINK] = "LINK",
		[FUSE_OPEN] = "OPEN", [FUSE_READ] = "READ", [FUSE_WRITE] = "WRITE",
		[FUSE_STATFS] = "STATFS", [FUSE_RELEASE] = "RELEASE", [FUSE_FSYNC] = "FSYNC",
		[FUSE_SETXATTR] = "SETXATTR", [FUSE_GETXATTR] = "GETXATTR",
		[FUSE_LISTXATTR] = "LISTXATTR", [FUSE_REMOVEXATTR] = "REMOVEXATTR",
		[FUSE_FLUSH] = "FLUSH", [FUSE_INIT] = "INIT", [FUSE_OPENDIR] = "OPENDIR",
		[FUSE_READDIR] = "READDIR", [FUSE_RELEASEDIR] = "RELEASEDIR",
		[FUSE_FSYNCDIR] = "FSYNCDIR", [FUSE_GETLK] = "GETLK", [FUSE_SETLK] = "SETLK",
		[FUSE_SETLKW] = "SETLKW", [FUSE_ACCESS] = "ACCESS", [FUSE_CREATE] = "CREATE",
		[FUSE_INTERRUPT] = "INTERRUPT", [FUSE_BMAP] = "BMAP", [FUSE_DESTROY] = "DESTROY",
		[FUSE_IOCTL] = "IOCTL", [FUSE_POLL] = "POLL", [FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
		[FUSE_BATCH_FORGET] = "BATCH_FORGET", [FUSE_FALLOCATE] = "FALLOCATE",
		[FUSE_READDIRPLUS] = "READDIRPLUS", [FUSE_RENAME2] = "RENAME2",
		[FUSE_LSEEK] = "LSEEK", [FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
		[FUSE_SETUPMAPPING] = "SETUPMAPPING", [FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
		[FUSE_SYNCFS] = "SYNCFS", [FUSE_TMPFILE] = "TMPFILE",
	};
	static char buf[24];

	if (opcode < sizeof(names) / sizeof(names[0]) && names[opcode])
		return names[opcode];
	snprintf(buf, sizeof(buf), "op#%u", opcode);
	return buf;
}

void fe_fuse_call_init(struct fe_fuse_call *call, uint32_t opcode, uint64_t nodeid)
{
	memset(call, 0, sizeof(*call));
	call->opcode = opcode;
	call->nodeid = nodeid;
	call->queue = FE_QUEUE_REQUEST;
}

void fe_fuse_set_creds(struct fe *fe, uint32_t uid, uint32_t gid, uint32_t pid)
{
	fe->uid = uid;
	fe->gid = gid;
	fe->pid = pid;
}

void fe_fuse_set_umask(struct fe *fe, uint32_t umask)
{
	fe->umask = umask;
}

int fe_fuse_submit(struct fe *fe, struct fe_fuse_call *call)
{
	struct fe_sg sg[2 + 2 * FE_FUSE_MAX_IN];
	struct fuse_in_header ih = { 0 };
	bool noreply = call->flags & FE_CALL_NOREPLY;
	size_t off, in_off[FE_FUSE_MAX_IN], ohdr_off = 0, out_off = 0, poison_end;
	uint64_t total_in = sizeof(ih);
	bool copy_in[FE_FUSE_MAX_IN], out_direct;
	unsigned int n_out = 0, n_in = 0;
	int head;

	if (call->inflight)
		return -EBUSY;
	if (call->nin > FE_FUSE_MAX_IN || (call->out_size && !call->out))
		return -EINVAL;
	if (fe->broken)
		return fe->broken;
	call->done = false;
	call->replied = false;
	call->error = 0;
	call->out_len = 0;

	/* Lay out the scratch area: pieces are cache-line aligned with poisoned gaps, so a
	 * backend that assumes two descriptors are contiguous reads garbage. */
	off = align_up(sizeof(ih), CACHELINE) + CACHELINE;
	for (unsigned int i = 0; i < call->nin; i++) {
		const struct fe_fuse_buf *b = &call->in[i];

		copy_in[i] = false;
		if (b->len == 0)
			continue;
		if (!b->ptr)
			return -EINVAL;
		total_in += b->len;
		if (!fe_guest_contains(fe, b->ptr, b->len)) {
			copy_in[i] = true;
			in_off[i] = off;
			off = align_up(off + b->len, CACHELINE) + CACHELINE;
		}
	}
	if (total_in > UINT32_MAX)
		return -E2BIG;
	out_direct = call->out_size && fe_guest_contains(fe, call->out, call->out_size);
	if (!noreply) {
		ohdr_off = off;
		off = align_up(off + sizeof(struct fuse_out_header), CACHELINE) + CACHELINE;
		if (call->out_size && !out_direct) {
			off = align_up(off, FE_PAGE_SIZE);
			out_off = off;
			off += call->out_size;
		}
	}
	poison_end = out_off ? out_off : off;
	call->scratch = fe_guest_alloc(fe, off);
	if (!call->scratch)
		return fe_err(fe, -ENOMEM, "%s: out of guest memory (%zu bytes)", fe_fuse_opname(call->opcode), off);
	memset(call->scratch, POISON, poison_end);

	fe->unique += 2;
	call->unique = fe->unique;
	ih.len = (uint32_t)total_in;
	ih.opcode = call->opcode;
	ih.unique = call->unique;
	ih.nodeid = call->nodeid;
	if (call->flags & FE_CALL_CREDS) {
		ih.uid = call->uid;
		ih.gid = call->gid;
		ih.pid = call->pid;
	} else {
		ih.uid = fe->uid;
		ih.gid = fe->gid;
		ih.pid = fe->pid;
	}
	memcpy(call->scratch, &ih, sizeof(ih));
	sg[n_out++] = (struct fe_sg){ call->scratch, sizeof(ih) };
	for (unsigned int i = 0; i < call->nin; i++) {
		const struct fe_fuse_buf *b = &call->in[i];

		if (b->len == 0)
			continue;
		if (copy_in[i]) {
			memcpy(call->scratch + in_off[i], b->ptr, b->len);
			sg[n_out++] = (struct fe_sg){ call->scratch + in_off[i], b->len };
		} else {
			sg[n_out++] = (struct fe_sg){ (void *)b->ptr, b->len };
		}
	}
	call->ohdr = NULL;
	call->out_guest = NULL;
	if (!noreply) {
		call->ohdr = call->scratch + ohdr_off;
		sg[n_out + n_in++] = (struct fe_sg){ call->ohdr, sizeof(struct fuse_out_header) };
		if (call->out_size) {
			call->out_guest = out_direct ? call->out : call->scratch + out_off;
			sg[n_out + n_in++] = (struct fe_sg){ call->out_guest, call->out_size };
		}
	}
	head = fe_vq_add(fe, call->queue, sg, n_out, n_in, call);
	if (head < 0) {
		fe_guest_free(fe, call->scratch);
		call->scratch = NULL;
		return head;
	}
	call->inflight = true;
	return fe_vq_kick(fe, call->queue, false);
}

static void done_push(struct fe *fe, struct fe_fuse_call *call)
{
	call->next_done = NULL;
	call->queued_done = true;
	if (fe->done_tail)
		fe->done_tail->next_done = call;
	else
		fe->done_head = call;
	fe->done_tail = call;
}

static void done_remove(struct fe *fe, struct fe_fuse_call *call)
{
	struct fe_fuse_call **pp = &fe->done_head, *prev = NULL;

	if (!call->queued_done)
		return;
	while (*pp && *pp != call) {
		prev = *pp;
		pp = &(*pp)->next_done;
	}
	if (*pp) {
		*pp = call->next_done;
		if (fe->done_tail == call)
			fe->done_tail = prev;
	}
	call->queued_done = false;
	call->next_done = NULL;
}

static void complete(struct fe *fe, struct fe_fuse_call *call, uint32_t used_len)
{
	const char *op = fe_fuse_opname(call->opcode);
	struct fuse_out_header oh;
	uint32_t body;

	call->inflight = false;
	call->done = true;
	if (call->flags & FE_CALL_NOREPLY) {
		call->error = 0;
		goto out;
	}
	if (used_len == 0 && (call->flags & FE_CALL_REPLY_OPTIONAL)) {
		call->error = 0;
		goto out;
	}
	if (used_len < sizeof(oh)) {
		call->error = fe_err(fe, -EPROTO, "%s (unique %llu): used length %u is shorter than fuse_out_header",
				     op, (unsigned long long)call->unique, used_len);
		goto out;
	}
	memcpy(&oh, call->ohdr, sizeof(oh));
	call->replied = true;
	if (oh.len != used_len) {
		call->error = fe_err(fe, -EPROTO, "%s (unique %llu): out.len %u != used length %u", op,
				     (unsigned long long)call->unique, oh.len, used_len);
		goto out;
	}
	if (oh.unique != call->unique) {
		call->error = fe_err(fe, -EPROTO, "%s: reply unique %llu, request was %llu", op,
				     (unsigned long long)oh.unique, (unsigned long long)call->unique);
		goto out;
	}
	if (oh.error > 0 || oh.error <= -512) {
		call->error = fe_err(fe, -EPROTO, "%s (unique %llu): invalid error %d in reply", op,
				     (unsigned long long)call->unique, oh.error);
		goto out;
	}
	body = used_len - (uint32_t)sizeof(oh);
	if (oh.error && body) {
		call->error = fe_err(fe, -EPROTO, "%s (unique %llu): error %d reply carries %u body bytes",
				     op, (unsigned long long)call->unique, oh.error, body);
		goto out;
	}
	if (body > call->out_size) {	/* the ring layer already ensures this */
		call->error = fe_err(fe, -EPROTO, "%s: reply body overflows the buffer", op);
		goto out;
	}
	if (!oh.error && !(call->flags & FE_CALL_ANY_SIZE) && body != call->out_size) {
		call->error = fe_err(fe, -EPROTO, "%s (unique %llu): reply body is %u bytes, expected %u",
				     op, (unsigned long long)call->unique, body, call->out_size);
		goto out;
	}
	if (body && call->out_guest != call->out)
		memcpy(call->out, call->out_guest, body);
	call->out_len = body;
	call->error = oh.error;
out:
	fe_guest_free(fe, call->scratch);
	call->scratch = NULL;
}

/* Complete every used chain of queue q. */
static int reap(struct fe *fe, unsigned int q)
{
	for (;;) {
		void *token;
		uint32_t len;
		int r = fe_vq_get(fe, q, &token, &len);

		if (r <= 0)
			return r;
		if (token) {
			complete(fe, token, len);
			done_push(fe, token);
		}
	}
}

static void abandon(struct fe *fe, struct fe_fuse_call *call, int err)
{
	fe_vq_forget_token(fe, call->queue, call);
	/* The device may still write to the scratch area: leave it allocated. */
	call->scratch = NULL;
	call->inflight = false;
	call->done = true;
	call->error = err;
}

int fe_fuse_wait(struct fe *fe, struct fe_fuse_call *call, int timeout_ms)
{
	uint64_t deadline = fe_deadline(fe, timeout_ms);
	int err;

	for (;;) {
		if (!call->inflight) {
			done_remove(fe, call);
			return call->error;
		}
		err = reap(fe, call->queue);
		if (err < 0) {
			abandon(fe, call, err);
			return err;
		}
		if (call->done)
			continue;
		err = fe_vq_wait(fe, call->queue, fe_ms_left(deadline));
		if (err) {
			if (err == -ETIMEDOUT)
				fe_fail(fe, err, "%s (unique %llu, nodeid %llu) on queue %u: no reply within %d ms",
					fe_fuse_opname(call->opcode), (unsigned long long)call->unique,
					(unsigned long long)call->nodeid, call->queue,
					timeout_ms < 0 ? fe->opts.timeout_ms : timeout_ms);
			else
				fe_fail(fe, err, "%s (unique %llu) on queue %u: %s", fe_fuse_opname(call->opcode),
					(unsigned long long)call->unique, call->queue, strerror(-err));
			abandon(fe, call, err);
			return err;
		}
	}
}

int fe_fuse_wait_any(struct fe *fe, struct fe_fuse_call **out, int timeout_ms)
{
	uint64_t deadline = fe_deadline(fe, timeout_ms);
	int err;

	for (;;) {
		unsigned int inflight = 0;

		if (fe->done_head) {
			struct fe_fuse_call *c = fe->done_head;

			done_remove(fe, c);
			*out = c;
			return 0;
		}
		for (unsigned int q = 0; q < fe->opts.nqueues; q++) {
			err = reap(fe, q);
			if (err < 0)
				return err;
			inflight += fe->vq[q].inflight;
		}
		if (fe->done_head)
			continue;
		if (!inflight)
			return -ENOENT;
		err = fe_vq_wait(fe, FE_ANY_QUEUE, fe_ms_left(deadline));
		if (err)
			return fe_fail(fe, err, "waiting for any of %u requests: %s", inflight, strerror(-err));
	}
}

int fe_fuse_call(struct fe *fe, struct fe_fuse_call *call)
{
	int err;

	for (;;) {
		err = fe_fuse_submit(fe, call);
		if (err != -EAGAIN)
			break;
		err = fe_vq_wait(fe, call->queue, -1);
		if (!err)
			err = reap(fe, call->queue);
		if (err < 0) {
			fe_fail(fe, err, "%s: no room in queue %u: %s", fe_fuse_opname(call->opcode),
				call->queue, strerror(-err));
			break;
		}
	}
	if (err) {
		call->error = err;
		call->done = true;
		return err;
	}
	return fe_fuse_wait(fe, call, -1);
}

/* ---- helpers ----------------------------------------------------------- */

struct req {
	struct fe_fuse_call c;
};

static void req_init(struct req *r, uint32_t opcode, uint64_t nodeid)
{
	fe_fuse_call_init(&r->c, opcode, nodeid);
}

static void req_in(struct req *r, const void *p, uint32_t len)
{
	r->c.in[r->c.nin].ptr = p;
	r->c.in[r->c.nin].len = len;
	r->c.nin++;
}

static void req_str(struct req *r, const char *s)
{
	req_in(r, s, (uint32_t)strlen(s) + 1);
}

static void req_out(struct req *r, void *p, uint32_t len)
{
	r->c.out = p;
	r->c.out_size = len;
}

static int run(struct fe *fe, struct req *r)
{
	return fe_fuse_call(fe, &r->c);
}

int fe_fuse_init_ex(struct fe *fe, uint32_t major, uint32_t minor, uint64_t flags,
		    struct fuse_init_out *out)
{
	struct fuse_init_in in = {
		.major = major,
		.minor = minor,
		.max_readahead = 128 << 10,
		.flags = (uint32_t)flags,
		.flags2 = (uint32_t)(flags >> 32),
	};
	struct fuse_init_out o;
	struct req r;
	int err;

	memset(&o, 0, sizeof(o));
	req_init(&r, FUSE_INIT, 0);
	req_in(&r, &in, sizeof(in));
	req_out(&r, &o, sizeof(o));
	r.c.flags |= FE_CALL_ANY_SIZE;
	err = run(fe, &r);
	if (err)
		return err;
	if (r.c.out_len < FUSE_COMPAT_22_INIT_OUT_SIZE)
		return fe_err(fe, -EPROTO, "INIT: reply of %u bytes is too short", r.c.out_len);
	if (out)
		*out = o;
	if (o.major == FUSE_KERNEL_VERSION) {
		fe->init = o;
		fe->fuse_inited = true;
	}
	return 0;
}

int fe_fuse_init(struct fe *fe)
{
	struct fuse_init_out o;
	int err;

	err = fe_fuse_init_ex(fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION, FE_FUSE_INIT_FLAGS, &o);
	if (err)
		return err;
	if (o.major != FUSE_KERNEL_VERSION)
		return fe_err(fe, -EPROTO, "INIT: backend speaks FUSE %u.%u", o.major, o.minor);
	if (o.minor < 27)
		return fe_err(fe, -EPROTO, "INIT: backend minor %u is too old for virtio-fs", o.minor);
	return 0;
}

int fe_reset_device(struct fe *fe, enum fe_reset_mode mode)
{
	int err = fe_vu_reset(fe, mode);

	return err ? err : fe_fuse_init(fe);
}

const struct fuse_init_out *fe_fuse_conn(const struct fe *fe)
{
	return &fe->init;
}

uint32_t fe_fuse_max_io(const struct fe *fe)
{
	uint64_t pages = 32, max;

	if ((fe->init.flags & FUSE_MAX_PAGES) && fe->init.max_pages)
		pages = fe->init.max_pages;
	max = pages * FE_PAGE_SIZE;
	if (fe->init.max_write && fe->init.max_write < max)
		max = fe->init.max_write;
	if (fe->opts.seg_size && (uint64_t)(fe->opts.queue_size - 4) * fe->opts.seg_size < max)
		max = (uint64_t)(fe->opts.queue_size - 4) * fe->opts.seg_size;
	return (uint32_t)max;
}

int fe_fuse_lookup(struct fe *fe, uint64_t parent, const char *name, struct fuse_entry_out *out)
{
	struct fuse_entry_out tmp;
	struct req r;

	req_init(&r, FUSE_LOOKUP, parent);
	req_str(&r, name);
	req_out(&r, out ? out : &tmp, sizeof(*out));
	return run(fe, &r);
}

int fe_fuse_getattr(struct fe *fe, uint64_t nodeid, const uint64_t *fh, struct fuse_attr_out *out)
{
	struct fuse_getattr_in in = { 0 };
	struct fuse_attr_out tmp;
	struct req r;

	if (fh) {
		in.getattr_flags = FUSE_GETATTR_FH;
		in.fh = *fh;
	}
	req_init(&r, FUSE_GETATTR, nodeid);
	req_in(&r, &in, sizeof(in));
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

int fe_fuse_setattr(struct fe *fe, uint64_t nodeid, const struct fuse_setattr_in *in,
		    struct fuse_attr_out *out)
{
	struct fuse_attr_out tmp;
	struct req r;

	req_init(&r, FUSE_SETATTR, nodeid);
	req_in(&r, in, sizeof(*in));
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

static int open_common(struct fe *fe, uint32_t opcode, uint64_t nodeid, uint32_t flags,
		       struct fuse_open_out *out)
{
	struct fuse_open_in in = { .flags = flags };
	struct fuse_open_out tmp;
	struct req r;

	req_init(&r, opcode, nodeid);
	req_in(&r, &in, sizeof(in));
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

int fe_fuse_open(struct fe *fe, uint64_t nodeid, uint32_t flags, struct fuse_open_out *out)
{
	return open_common(fe, FUSE_OPEN, nodeid, flags, out);
}

int fe_fuse_opendir(struct fe *fe, uint64_t nodeid, uint32_t flags, struct fuse_open_out *out)
{
	return open_common(fe, FUSE_OPENDIR, nodeid, flags, out);
}

static int read_common(struct fe *fe, uint32_t opcode, uint64_t nodeid, uint64_t fh, uint64_t off,
		       void *buf, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct req r;
	int err;

	if (size > INT32_MAX)
		return -EINVAL;
	req_init(&r, opcode, nodeid);
	req_in(&r, &in, sizeof(in));
	req_out(&r, buf, size);
	r.c.flags |= FE_CALL_ANY_SIZE;
	err = run(fe, &r);
	return err ? err : (int)r.c.out_len;
}

int fe_fuse_read(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t size)
{
	return read_common(fe, FUSE_READ, nodeid, fh, off, buf, size);
}

int fe_fuse_readdir(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t size)
{
	return read_common(fe, FUSE_READDIR, nodeid, fh, off, buf, size);
}

int fe_fuse_readdirplus(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf,
			uint32_t size)
{
	return read_common(fe, FUSE_READDIRPLUS, nodeid, fh, off, buf, size);
}

int fe_fuse_write(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf,
		  uint32_t size)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };
	struct fuse_write_out o;
	struct req r;
	int err;

	if (size > INT32_MAX)
		return -EINVAL;
	req_init(&r, FUSE_WRITE, nodeid);
	req_in(&r, &in, sizeof(in));
	req_in(&r, buf, size);
	req_out(&r, &o, sizeof(o));
	err = run(fe, &r);
	if (err)
		return err;
	if (o.size > size)
		return fe_err(fe, -EPROTO, "WRITE: backend claims %u bytes written of %u", o.size, size);
	return (int)o.size;
}

int fe_fuse_flush(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t lock_owner)
{
	struct fuse_flush_in in = { .fh = fh, .lock_owner = lock_owner };
	struct req r;

	req_init(&r, FUSE_FLUSH, nodeid);
	req_in(&r, &in, sizeof(in));
	return run(fe, &r);
}

static int release_common(struct fe *fe, uint32_t opcode, uint64_t nodeid, uint64_t fh, uint32_t flags)
{
	struct fuse_release_in in = { .fh = fh, .flags = flags };
	struct req r;

	req_init(&r, opcode, nodeid);
	req_in(&r, &in, sizeof(in));
	return run(fe, &r);
}

int fe_fuse_release(struct fe *fe, uint64_t nodeid, uint64_t fh, uint32_t flags)
{
	return release_common(fe, FUSE_RELEASE, nodeid, fh, flags);
}

int fe_fuse_releasedir(struct fe *fe, uint64_t nodeid, uint64_t fh)
{
	return release_common(fe, FUSE_RELEASEDIR, nodeid, fh, 0);
}

static int fsync_common(struct fe *fe, uint32_t opcode, uint64_t nodeid, uint64_t fh, bool datasync)
{
	struct fuse_fsync_in in = { .fh = fh, .fsync_flags = datasync ? FUSE_FSYNC_FDATASYNC : 0 };
	struct req r;

	req_init(&r, opcode, nodeid);
	req_in(&r, &in, sizeof(in));
	return run(fe, &r);
}

int fe_fuse_fsync(struct fe *fe, uint64_t nodeid, uint64_t fh, bool datasync)
{
	return fsync_common(fe, FUSE_FSYNC, nodeid, fh, datasync);
}

int fe_fuse_fsyncdir(struct fe *fe, uint64_t nodeid, uint64_t fh, bool datasync)
{
	return fsync_common(fe, FUSE_FSYNCDIR, nodeid, fh, datasync);
}

int fe_fuse_create(struct fe *fe, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
		   struct fuse_entry_out *entry, struct fuse_open_out *open)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode, .umask = fe->umask };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} o;
	struct req r;
	int err;

	req_init(&r, FUSE_CREATE, parent);
	req_in(&r, &in, sizeof(in));
	req_str(&r, name);
	req_out(&r, &o, sizeof(o));
	err = run(fe, &r);
	if (err)
		return err;
	if (entry)
		*entry = o.e;
	if (open)
		*open = o.o;
	return 0;
}

int fe_fuse_mkdir(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
		  struct fuse_entry_out *out)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = fe->umask };
	struct fuse_entry_out tmp;
	struct req r;

	req_init(&r, FUSE_MKDIR, parent);
	req_in(&r, &in, sizeof(in));
	req_str(&r, name);
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

int fe_fuse_mknod(struct fe *fe, uint64_t parent, const char *name, uint32_t mode, uint32_t rdev,
		  struct fuse_entry_out *out)
{
	struct fuse_mknod_in in = { .mode = mode, .rdev = rdev, .umask = fe->umask };
	struct fuse_entry_out tmp;
	struct req r;

	req_init(&r, FUSE_MKNOD, parent);
	req_in(&r, &in, sizeof(in));
	req_str(&r, name);
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

int fe_fuse_symlink(struct fe *fe, uint64_t parent, const char *name, const char *target,
		    struct fuse_entry_out *out)
{
	struct fuse_entry_out tmp;
	struct req r;

	req_init(&r, FUSE_SYMLINK, parent);
	req_str(&r, name);
	req_str(&r, target);
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

int fe_fuse_readlink(struct fe *fe, uint64_t nodeid, char *buf, uint32_t size)
{
	struct req r;
	int err;

	if (size > INT32_MAX || size == 0)
		return -EINVAL;
	req_init(&r, FUSE_READLINK, nodeid);
	req_out(&r, buf, size);
	r.c.flags |= FE_CALL_ANY_SIZE;
	err = run(fe, &r);
	if (err)
		return err;
	if (r.c.out_len < size)
		buf[r.c.out_len] = 0;
	return (int)r.c.out_len;
}

int fe_fuse_link(struct fe *fe, uint64_t nodeid, uint64_t newparent, const char *newname,
		 struct fuse_entry_out *out)
{
	struct fuse_link_in in = { .oldnodeid = nodeid };
	struct fuse_entry_out tmp;
	struct req r;

	req_init(&r, FUSE_LINK, newparent);
	req_in(&r, &in, sizeof(in));
	req_str(&r, newname);
	req_out(&r, out ? out : &tmp, sizeof(tmp));
	return run(fe, &r);
}

static int name_op(struct fe *fe, uint32_t opcode, uint64_t parent, const char *name)
{
	struct req r;

	req_init(&r, opcode, parent);
	req_str(&r, name);
	return run(fe, &r);
}

int fe_fuse_unlink(struct fe *fe, uint64_t parent, const char *name)
{
	return name_op(fe, FUSE_UNLINK, parent, name);
}

int fe_fuse_rmdir(struct fe *fe, uint64_t parent, const char *name)
{
	return name_op(fe, FUSE_RMDIR, parent, name);
}

int fe_fuse_rename(struct fe *fe, uint64_t olddir, const char *oldname, uint64_t newdir,
		   const char *newname)
{
	struct fuse_rename_in in = { .newdir = newdir };
	struct req r;

	req_init(&r, FUSE_RENAME, olddir);
	req_in(&r, &in, sizeof(in));
	req_str(&r, oldname);
	req_str(&r, newname);
	return run(fe, &r);
}

int fe_fuse_rename2(struct fe *fe, uint64_t olddir, const char *oldname, uint64_t newdir,
		    const char *newname, uint32_t flags)
{
	struct fuse_rename2_in in = { .newdir = newdir, .flags = flags };
	struct req r;

	req_init(&r, FUSE_RENAME2, olddir);
	req_in(&r, &in, sizeof(in));
	req_str(&r, oldname);
	req_str(&r, newname);
	return run(fe, &r);
}

int fe_fuse_statfs(struct fe *fe, uint64_t nodeid, struct fuse_kstatfs *out)
{
	struct fuse_statfs_out o;
	struct req r;
	int err;

	req_init(&r, FUSE_STATFS, nodeid);
	req_out(&r, &o, sizeof(o));
	err = run(fe, &r);
	if (!err && out)
		*out = o.st;
	return err;
}

int fe_fuse_access(struct fe *fe, uint64_t nodeid, uint32_t mask)
{
	struct fuse_access_in in = { .mask = mask };
	struct req r;

	req_init(&r, FUSE_ACCESS, nodeid);
	req_in(&r, &in, sizeof(in));
	return run(fe, &r);
}

int fe_fuse_forget(struct fe *fe, uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_forget_in in = { .nlookup = nlookup };
	struct req r;

	req_init(&r, FUSE_FORGET, nodeid);
	r.c.queue = FE_QUEUE_HIPRIO;
	r.c.flags |= FE_CALL_NOREPLY;
	req_in(&r, &in, sizeof(in));
	return run(fe, &r);
}

int fe_fuse_batch_forget(struct fe *fe, const struct fuse_forget_one *items, uint32_t count)
{
	struct fuse_batch_forget_in in = { .count = count };
	struct req r;

	if ((uint64_t)count * sizeof(*items) > UINT32_MAX / 2)
		return -E2BIG;
	req_init(&r, FUSE_BATCH_FORGET, 0);
	r.c.queue = FE_QUEUE_HIPRIO;
	r.c.flags |= FE_CALL_NOREPLY;
	req_in(&r, &in, sizeof(in));
	req_in(&r, items, count * (uint32_t)sizeof(*items));
	return run(fe, &r);
}

int fe_fuse_interrupt(struct fe *fe, uint64_t unique)
{
	struct fuse_interrupt_in in = { .unique = unique };
	struct req r;

	req_init(&r, FUSE_INTERRUPT, 0);
	req_in(&r, &in, sizeof(in));
	r.c.flags |= FE_CALL_REPLY_OPTIONAL;
	return run(fe, &r);
}

int fe_fuse_destroy(struct fe *fe)
{
	struct req r;

	req_init(&r, FUSE_DESTROY, 0);
	r.c.flags |= FE_CALL_REPLY_OPTIONAL;
	return run(fe, &r);
}

int fe_fuse_raw(struct fe *fe, unsigned int q, uint32_t opcode, uint64_t nodeid, const void *in,
		uint32_t in_len, void *out, uint32_t out_size, uint32_t *out_len)
{
	struct req r;
	int err;

	req_init(&r, opcode, nodeid);
	r.c.queue = q;
	if (in_len)
		req_in(&r, in, in_len);
	req_out(&r, out, out_size);
	r.c.flags |= FE_CALL_ANY_SIZE;
	err = run(fe, &r);
	if (out_len)
		*out_len = r.c.out_len;
	return err;
}

int fe_fuse_walk(struct fe *fe, const char *path, uint64_t *nodeid, struct fuse_attr *attr)
{
	uint64_t cur = FUSE_ROOT_ID;
	struct fuse_entry_out e;
	const char *p = path;
	bool looked_up = false;
	char name[FE_FUSE_NAME_MAX + 1];
	int err;

	for (;;) {
		const char *slash;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > FE_FUSE_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		err = fe_fuse_lookup(fe, cur, name, &e);
		if (err)
			goto fail;
		if (looked_up) {
			err = fe_fuse_forget(fe, cur, 1);
			if (err)
				return err;
		}
		cur = e.nodeid;
		looked_up = true;
	}
	if (!looked_up) {
		struct fuse_attr_out ao;

		err = fe_fuse_getattr(fe, FUSE_ROOT_ID, NULL, &ao);
		if (err)
			return err;
		if (attr)
			*attr = ao.attr;
	} else if (attr) {
		*attr = e.attr;
	}
	*nodeid = cur;
	return 0;
fail:
	if (looked_up)
		fe_fuse_forget(fe, cur, 1);
	return err;
}

int fe_dirent_next(const void *buf, size_t len, size_t *pos, bool plus, struct fe_dirent *d)
{
	const uint8_t *b = buf;
	size_t p = *pos, hdr, reclen;
	struct fuse_dirent de;

	if (p >= len)
		return 0;
	hdr = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	if (len - p < hdr)
		return -EPROTO;
	memset(d, 0, sizeof(*d));
	if (plus)
		memcpy(&d->entry, b + p, sizeof(d->entry));
	memcpy(&de, b + p + (plus ? sizeof(struct fuse_entry_out) : 0), sizeof(de));
	if (de.namelen == 0 || de.namelen > FE_FUSE_NAME_MAX)
		return -EPROTO;
	reclen = FUSE_DIRENT_ALIGN(hdr + de.namelen);
	if (reclen > len - p)
		return -EPROTO;
	memcpy(d->name, b + p + hdr, de.namelen);
	d->name[de.namelen] = 0;
	if (memchr(d->name, '/', de.namelen) || strlen(d->name) != de.namelen)
		return -EPROTO;
	d->ino = de.ino;
	d->off = de.off;
	d->type = de.type;
	d->namelen = de.namelen;
	*pos = p + reclen;
	return 1;
}
