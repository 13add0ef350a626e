// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/fuse/fuse_session.c (+ fuse_reply.c): hand-built FUSE
 * requests in iovecs (readable part, then writable part) run with
 * fuse_session_handle against a passthrough fs on a fresh temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuse_i.h"
#include "fuse_session.h"
#include "pt.h"
#include "unit.h"

#define MSG_MAX (8192 + 256)
#define OUT_MAX (256 * 1024)

struct fx {
	char dir[64];
	struct pt_fs *fs;
	struct fuse_session *se;
	struct fuse_thread *t;
	uint64_t unique;
	uint8_t *out;          /* writable part of the last request */
	struct fuse_out_header oh; /* its header, if written >= sizeof */
	uint32_t written;
	/* How to cut the next request into iovecs (0: one iovec each). */
	size_t in_split, out_split;
};

struct msg {
	uint8_t b[MSG_MAX];
	size_t len;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pt_config pc = { 0 };
	struct fuse_conf conf = { .cache = FUSE_CACHE_AUTO, .readdirplus = true };

	strcpy(f->dir, "/tmp/vufs-unit-fuse-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	pc.root = f->dir;
	pc.proc_self_fd = -1;
	assert_int_equal(pt_fs_new(&pc, &f->fs), 0);
	assert_int_equal(fuse_session_new(f->fs, &conf, &f->se), 0);
	f->t = fuse_thread_new(f->se, 8192);
	assert_non_null(f->t);
	f->out = malloc(OUT_MAX);
	f->unique = 100;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fuse_thread_free(f->t);
	fuse_session_free(f->se);
	pt_fs_free(f->fs);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f->out);
	free(f);
	return 0;
}

static void msg_begin(struct msg *m, uint32_t opcode, uint64_t nodeid)
{
	struct fuse_in_header ih = { .opcode = opcode, .nodeid = nodeid };

	memset(m, 0, sizeof(*m));
	memcpy(m->b, &ih, sizeof(ih));
	m->len = sizeof(ih);
}

static void msg_add(struct msg *m, const void *p, size_t len)
{
	assert_true(m->len + len <= sizeof(m->b));
	memcpy(m->b + m->len, p, len);
	m->len += len;
}

/* A string with its NUL. */
static void msg_add_str(struct msg *m, const char *s)
{
	msg_add(m, s, strlen(s) + 1);
}

static struct fuse_in_header *msg_hdr(struct msg *m)
{
	return (struct fuse_in_header *)m->b;
}

/* Cut [p, p + len) into iovecs of at most @split bytes (0: one). */
static unsigned cut(struct iovec *iov, void *p, size_t len, size_t split)
{
	unsigned n = 0;

	if (!split)
		split = len ? len : 1;
	for (size_t off = 0; off < len; off += split) {
		iov[n].iov_base = (uint8_t *)p + off;
		iov[n].iov_len = len - off < split ? len - off : split;
		n++;
	}
	return n;
}

/*
 * Send @m as it is (the header's len is not touched), with a writable part
 * of @out_len bytes. Returns the bytes written.
 */
static uint32_t send_raw(struct fx *f, struct msg *m, size_t in_len, size_t out_len)
{
	static struct iovec iov[2 * (MSG_MAX + OUT_MAX)];
	unsigned in_cnt, out_cnt;
	int r;

	assert_true(out_len <= OUT_MAX);
	memset(f->out, 0xee, OUT_MAX);
	in_cnt = cut(iov, m->b, in_len, f->in_split);
	out_cnt = cut(iov + in_cnt, f->out, out_len, f->out_split);
	f->written = 0xdeadbeef;
	r = fuse_session_handle(f->se, f->t, 0, 7, iov, in_cnt, in_len, out_cnt, out_len,
				&f->written);
	assert_int_equal(r, 0);
	assert_true(f->written <= out_len);
	memset(&f->oh, 0, sizeof(f->oh));
	if (f->written >= sizeof(f->oh)) {
		memcpy(&f->oh, f->out, sizeof(f->oh));
		assert_int_equal(f->oh.len, f->written);
	}
	/* Nothing past the writable part was touched. */
	for (size_t i = out_len; i < out_len + 64 && i < OUT_MAX; i++)
		assert_int_equal(f->out[i], 0xee);
	return f->written;
}

/* Fill in unique and len, send with @out_len writable bytes; returns the reply's error. */
static int send_msg(struct fx *f, struct msg *m, size_t out_len)
{
	msg_hdr(m)->unique = ++f->unique;
	msg_hdr(m)->len = (uint32_t)m->len;
	send_raw(f, m, m->len, out_len);
	assert_true(f->written >= sizeof(f->oh));
	assert_int_equal(f->oh.unique, f->unique);
	assert_true(f->oh.error <= 0 && f->oh.error > -512);
	if (f->oh.error)
		assert_int_equal(f->written, sizeof(f->oh)); /* errors carry no payload */
	return f->oh.error;
}

static void *payload(struct fx *f)
{
	return f->out + sizeof(struct fuse_out_header);
}

static size_t payload_len(struct fx *f)
{
	return f->written - sizeof(struct fuse_out_header);
}

static void do_init(struct fx *f)
{
	struct msg m;
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 65536,
		.flags = FUSE_INIT_EXT | FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES | FUSE_MAX_PAGES |
			 FUSE_ASYNC_READ,
	};
	struct fuse_init_out *out;

	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, sizeof(in));
	assert_int_equal(send_msg(f, &m, 4096), 0);
	assert_int_equal(payload_len(f), sizeof(*out));
	out = payload(f);
	assert_int_equal(out->major, FUSE_KERNEL_VERSION);
	assert_int_equal(out->minor, FUSE_KERNEL_MINOR_VERSION);
	assert_int_equal(out->max_write, FUSE_SESSION_MAX_WRITE);
	/* Only flags we asked for. */
	assert_int_equal(out->flags & ~in.flags, 0);
	assert_true(out->flags & FUSE_DO_READDIRPLUS);
}

static int init_setup(void **state)
{
	setup(state);
	do_init(*state);
	return 0;
}

static void counts(struct fx *f, unsigned long *inodes, unsigned long *handles)
{
	unsigned long i, h;

	pt_fs_counts(f->fs, inodes ? inodes : &i, handles ? handles : &h);
}

static unsigned long inode_count(struct fx *f)
{
	unsigned long n;

	counts(f, &n, NULL);
	return n;
}

/* --- request helpers: return the reply error; payload in f->out --- */

static int req_lookup(struct fx *f, uint64_t parent, const char *name, struct fuse_entry_out *eo)
{
	struct msg m;
	int err;

	msg_begin(&m, FUSE_LOOKUP, parent);
	msg_add_str(&m, name);
	err = send_msg(f, &m, 4096);
	if (!err && eo) {
		assert_int_equal(payload_len(f), sizeof(*eo));
		memcpy(eo, payload(f), sizeof(*eo));
	}
	return err;
}

static int req_forget(struct fx *f, uint64_t nodeid, uint64_t n)
{
	struct msg m;
	struct fuse_forget_in in = { .nlookup = n };

	msg_begin(&m, FUSE_FORGET, nodeid);
	msg_add(&m, &in, sizeof(in));
	msg_hdr(&m)->unique = ++f->unique;
	msg_hdr(&m)->len = (uint32_t)m.len;
	return (int)send_raw(f, &m, m.len, 4096);
}

static int req_mkdir(struct fx *f, uint64_t parent, const char *name, struct fuse_entry_out *eo)
{
	struct msg m;
	struct fuse_mkdir_in in = { .mode = 0755 };
	int err;

	msg_begin(&m, FUSE_MKDIR, parent);
	msg_add(&m, &in, sizeof(in));
	msg_add_str(&m, name);
	err = send_msg(f, &m, 4096);
	if (!err && eo)
		memcpy(eo, payload(f), sizeof(*eo));
	return err;
}

static int req_create(struct fx *f, uint64_t parent, const char *name, struct fuse_entry_out *eo,
		      uint64_t *fh)
{
	struct msg m;
	struct fuse_create_in in = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	int err;

	msg_begin(&m, FUSE_CREATE, parent);
	msg_add(&m, &in, sizeof(in));
	msg_add_str(&m, name);
	err = send_msg(f, &m, 4096);
	if (!err) {
		struct fuse_open_out oo;

		assert_int_equal(payload_len(f), sizeof(*eo) + sizeof(oo));
		memcpy(eo, payload(f), sizeof(*eo));
		memcpy(&oo, (uint8_t *)payload(f) + sizeof(*eo), sizeof(oo));
		*fh = oo.fh;
	}
	return err;
}

static int req_write(struct fx *f, uint64_t nodeid, uint64_t fh, uint64_t off, const void *data,
		     uint32_t size, uint32_t *written)
{
	struct msg m;
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };
	int err;

	msg_begin(&m, FUSE_WRITE, nodeid);
	msg_add(&m, &in, sizeof(in));
	msg_add(&m, data, size);
	err = send_msg(f, &m, 4096);
	if (!err) {
		assert_int_equal(payload_len(f), sizeof(struct fuse_write_out));
		*written = ((struct fuse_write_out *)payload(f))->size;
	}
	return err;
}

static int req_read(struct fx *f, uint64_t nodeid, uint64_t fh, uint64_t off, uint32_t size,
		    size_t out_len)
{
	struct msg m;
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };

	msg_begin(&m, FUSE_READ, nodeid);
	msg_add(&m, &in, sizeof(in));
	return send_msg(f, &m, out_len);
}

static int req_open(struct fx *f, uint32_t opcode, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
	struct msg m;
	struct fuse_open_in in = { .flags = flags };
	int err;

	msg_begin(&m, opcode, nodeid);
	msg_add(&m, &in, sizeof(in));
	err = send_msg(f, &m, 4096);
	if (!err) {
		assert_int_equal(payload_len(f), sizeof(struct fuse_open_out));
		*fh = ((struct fuse_open_out *)payload(f))->fh;
	}
	return err;
}

static int req_release(struct fx *f, uint32_t opcode, uint64_t nodeid, uint64_t fh)
{
	struct msg m;
	struct fuse_release_in in = { .fh = fh };

	msg_begin(&m, opcode, nodeid);
	msg_add(&m, &in, sizeof(in));
	return send_msg(f, &m, 4096);
}

static int req_readdirplus(struct fx *f, uint64_t nodeid, uint64_t fh, uint64_t off,
			   uint32_t size)
{
	struct msg m;
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };

	msg_begin(&m, FUSE_READDIRPLUS, nodeid);
	msg_add(&m, &in, sizeof(in));
	return send_msg(f, &m, OUT_MAX);
}

static int req_getattr(struct fx *f, uint64_t nodeid, struct fuse_attr_out *ao, size_t out_len)
{
	struct msg m;
	struct fuse_getattr_in in = { 0 };
	int err;

	msg_begin(&m, FUSE_GETATTR, nodeid);
	msg_add(&m, &in, sizeof(in));
	err = send_msg(f, &m, out_len);
	if (!err && ao) {
		assert_int_equal(payload_len(f), sizeof(*ao));
		memcpy(ao, payload(f), sizeof(*ao));
	}
	return err;
}

static const char *host_path(struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", f->dir, rel);
	return buf[i];
}

/* --- tests --- */

static void test_before_init(void **state)
{
	struct fx *f = *state;
	struct fuse_attr_out ao;

	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, &ao, 4096), -EIO);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", NULL), -EIO);
	do_init(f);
	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, &ao, 4096), 0);
	assert_true(S_ISDIR(ao.attr.mode));
}

static void test_init_variants(void **state)
{
	struct fx *f = *state;
	struct msg m;
	struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 27 };
	struct fuse_init_out *out;

	/* A newer major: we answer with ours (compat size) and wait for a retry. */
	in.major = 8;
	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, sizeof(in));
	assert_int_equal(send_msg(f, &m, 4096), 0);
	assert_int_equal(payload_len(f), FUSE_COMPAT_INIT_OUT_SIZE);
	out = payload(f);
	assert_int_equal(out->major, FUSE_KERNEL_VERSION);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", NULL), -EIO); /* still not ready */
	/* Too old. */
	in.major = FUSE_KERNEL_VERSION;
	in.minor = 26;
	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, sizeof(in));
	assert_int_equal(send_msg(f, &m, 4096), -EPROTO);
	in.major = 6;
	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, sizeof(in));
	assert_int_equal(send_msg(f, &m, 4096), -EPROTO);
	/* Arguments shorter than the 7.27 struct. */
	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, 12);
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	/* The pre-7.36 16-byte struct is fine; we answer with the minor it spoke. */
	in.major = FUSE_KERNEL_VERSION;
	in.minor = 31;
	in.flags = FUSE_DO_READDIRPLUS;
	msg_begin(&m, FUSE_INIT, 0);
	msg_add(&m, &in, 16);
	assert_int_equal(send_msg(f, &m, 4096), 0);
	out = payload(f);
	assert_int_equal(out->flags, FUSE_DO_READDIRPLUS);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", NULL), -ENOENT); /* ready now */
}

static void test_len_mismatch(void **state)
{
	struct fx *f = *state;
	struct msg m;
	struct fuse_getattr_in in = { 0 };

	msg_begin(&m, FUSE_GETATTR, FUSE_ROOT_ID);
	msg_add(&m, &in, sizeof(in));
	msg_hdr(&m)->unique = 555;
	/* Header claims more than the chain holds, and less. */
	msg_hdr(&m)->len = (uint32_t)m.len + 1;
	send_raw(f, &m, m.len, 4096);
	assert_int_equal(f->written, sizeof(struct fuse_out_header));
	assert_int_equal(f->oh.error, -EINVAL);
	assert_int_equal(f->oh.unique, 555);
	msg_hdr(&m)->len = (uint32_t)m.len - 1;
	send_raw(f, &m, m.len, 4096);
	assert_int_equal(f->oh.error, -EINVAL);
	msg_hdr(&m)->len = UINT32_MAX;
	send_raw(f, &m, m.len, 4096);
	assert_int_equal(f->oh.error, -EINVAL);
	/* Less than a header: nothing to answer. */
	send_raw(f, &m, sizeof(struct fuse_in_header) - 1, 4096);
	assert_int_equal(f->written, 0);
	send_raw(f, &m, 0, 4096);
	assert_int_equal(f->written, 0);
}

static void test_unknown_opcode(void **state)
{
	struct fx *f = *state;
	static const uint32_t ops[] = { 0, 19 /* unused */, FUSE_IOCTL, FUSE_POLL, FUSE_BMAP,
					FUSE_NOTIFY_REPLY, 100, 4096, CUSE_INIT, UINT32_MAX };
	struct msg m;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		msg_begin(&m, ops[i], FUSE_ROOT_ID);
		msg_add(&m, "\0\0\0\0\0\0\0\0", 8);
		assert_int_equal(send_msg(f, &m, 4096), -ENOSYS);
	}
}

static void test_truncated_args(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t opcode;
		size_t len;
	} cases[] = {
		{ FUSE_GETATTR, sizeof(struct fuse_getattr_in) - 1 },
		{ FUSE_SETATTR, sizeof(struct fuse_setattr_in) - 8 },
		{ FUSE_OPEN, 4 },
		{ FUSE_READ, sizeof(struct fuse_read_in) - 1 },
		{ FUSE_WRITE, sizeof(struct fuse_write_in) - 1 },
		{ FUSE_MKDIR, sizeof(struct fuse_mkdir_in) },     /* no name */
		{ FUSE_CREATE, sizeof(struct fuse_create_in) + 1 },
		{ FUSE_RENAME, sizeof(struct fuse_rename_in) + 2 },
		{ FUSE_LINK, sizeof(struct fuse_link_in) },
		{ FUSE_RELEASE, 0 },
		{ FUSE_READDIRPLUS, 8 },
		{ FUSE_LOOKUP, 0 },
		{ FUSE_LOOKUP, 1 },
	};
	uint8_t zero[256] = { 0 };
	struct msg m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg_begin(&m, cases[i].opcode, FUSE_ROOT_ID);
		msg_add(&m, zero, cases[i].len);
		msg_hdr(&m)->unique = ++f->unique;
		msg_hdr(&m)->len = (uint32_t)m.len;
		send_raw(f, &m, m.len, 4096);
		print_message("opcode %u with %zu bytes\n", cases[i].opcode, cases[i].len);
		assert_int_equal(f->written, sizeof(struct fuse_out_header));
		assert_int_equal(f->oh.error, -EINVAL);
	}
	assert_int_equal(inode_count(f), 1);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	char name[NAME_MAX + 2];
	struct msg m;

	/* Not terminated. */
	msg_begin(&m, FUSE_LOOKUP, FUSE_ROOT_ID);
	msg_add(&m, "abc", 3);
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	/* With a slash, empty, dots where not allowed. */
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "a/b", NULL), -EINVAL);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "/", NULL), -EINVAL);
	msg_begin(&m, FUSE_LOOKUP, FUSE_ROOT_ID);
	msg_add(&m, "\0\0", 2); /* empty name (padded past the minimum size) */
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, ".", NULL), -EINVAL);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, "..", NULL), -EINVAL);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, "x/y", NULL), -EINVAL);
	/* 256 bytes: too long; 255: a valid name (that does not exist). */
	memset(name, 'n', sizeof(name));
	name[NAME_MAX + 1] = '\0';
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, name, NULL), -ENAMETOOLONG);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, name, NULL), -ENAMETOOLONG);
	name[NAME_MAX] = '\0';
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, name, NULL), -ENOENT);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, name, NULL), 0);
	assert_int_equal(access(host_path(f, name), F_OK), 0);
	/* Nothing was created for the bad ones. */
	{
		DIR *d = opendir(f->dir);
		struct dirent *de;
		int n = 0;

		while ((de = readdir(d)))
			n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
		assert_int_equal(n, 1);
	}
	/* RENAME: both names are checked. */
	{
		struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };

		msg_begin(&m, FUSE_RENAME, FUSE_ROOT_ID);
		msg_add(&m, &rn, sizeof(rn));
		msg_add_str(&m, name);
		msg_add_str(&m, "../escape");
		assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
		msg_begin(&m, FUSE_RENAME, FUSE_ROOT_ID);
		msg_add(&m, &rn, sizeof(rn));
		msg_add_str(&m, name);
		msg_add(&m, "unterminated", 12);
		assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
		assert_int_equal(access(host_path(f, name), F_OK), 0);
	}
	/* "." and ".." are fine for LOOKUP; ".." of the root is the root. */
	{
		struct fuse_entry_out eo;

		assert_int_equal(req_lookup(f, FUSE_ROOT_ID, ".", &eo), 0);
		assert_int_equal(eo.nodeid, FUSE_ROOT_ID);
		assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "..", &eo), 0);
		assert_int_equal(eo.nodeid, FUSE_ROOT_ID);
	}
}

static void test_lifecycle(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out dir, file, eo;
	struct fuse_attr_out ao;
	uint64_t fh, dfh;
	uint32_t n;
	struct stat st;
	static const char data[] = "hello, virtio-fs";
	struct msg m;

	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, "d", &dir), 0);
	assert_true(dir.nodeid > FUSE_ROOT_ID);
	assert_true(S_ISDIR(dir.attr.mode));
	assert_int_equal(stat(host_path(f, "d"), &st), 0);
	assert_int_equal(dir.attr.ino, st.st_ino);
	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, "d", NULL), -EEXIST);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "d", &eo), 0);
	assert_int_equal(eo.nodeid, dir.nodeid);
	assert_int_equal(req_getattr(f, dir.nodeid, &ao, 4096), 0);
	assert_int_equal(ao.attr.ino, st.st_ino);

	assert_int_equal(req_create(f, dir.nodeid, "f", &file, &fh), 0);
	assert_true(S_ISREG(file.attr.mode));
	assert_int_equal(req_write(f, file.nodeid, fh, 0, data, sizeof(data) - 1, &n), 0);
	assert_int_equal(n, sizeof(data) - 1);
	assert_int_equal(stat(host_path(f, "d/f"), &st), 0);
	assert_int_equal(st.st_size, sizeof(data) - 1);

	/* READ into a reply buffer cut in many small iovecs. */
	f->out_split = 5;
	assert_int_equal(req_read(f, file.nodeid, fh, 0, 4096, 4096), 0);
	assert_int_equal(payload_len(f), sizeof(data) - 1);
	assert_memory_equal(payload(f), data, sizeof(data) - 1);
	assert_int_equal(req_read(f, file.nodeid, fh, 7, 5, 4096), 0);
	assert_memory_equal(payload(f), "virti", 5);
	/* READ limited by the writable room. */
	assert_int_equal(req_read(f, file.nodeid, fh, 0, 4096, sizeof(struct fuse_out_header) + 3),
			 0);
	assert_int_equal(payload_len(f), 3);
	assert_memory_equal(payload(f), "hel", 3);
	/* Past EOF: empty. */
	assert_int_equal(req_read(f, file.nodeid, fh, 1000, 10, 4096), 0);
	assert_int_equal(payload_len(f), 0);
	f->out_split = 0;

	/* READDIRPLUS of d: ".", "..", "f" (f carries its nodeid). */
	assert_int_equal(req_open(f, FUSE_OPENDIR, dir.nodeid, O_RDONLY, &dfh), 0);
	assert_int_equal(req_readdirplus(f, dir.nodeid, dfh, 0, 65536), 0);
	{
		size_t off = 0, len = payload_len(f);
		uint8_t *p = payload(f);
		int seen_f = 0, total = 0;

		while (off < len) {
			struct fuse_direntplus *dp = (struct fuse_direntplus *)(p + off);

			total++;
			if (dp->dirent.namelen == 1 && dp->dirent.name[0] == 'f') {
				seen_f++;
				assert_int_equal(dp->entry_out.nodeid, file.nodeid);
				assert_true(S_ISREG(dp->entry_out.attr.mode));
			} else {
				assert_int_equal(dp->entry_out.nodeid, 0); /* "." and ".." */
			}
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		assert_int_equal(off, len);
		assert_int_equal(seen_f, 1);
		assert_int_equal(total, 3);
	}
	/* Continuing at the end: nothing more. */
	{
		uint64_t last_off = 0, ids[8];
		size_t off = 0;
		unsigned nids = 0;

		assert_int_equal(req_readdirplus(f, dir.nodeid, dfh, 0, 65536), 0);
		while (off < payload_len(f)) {
			struct fuse_direntplus *dp =
				(struct fuse_direntplus *)((uint8_t *)payload(f) + off);

			last_off = dp->dirent.off;
			if (dp->entry_out.nodeid)
				ids[nids++] = dp->entry_out.nodeid;
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		assert_int_equal(nids, 1);
		assert_int_equal(req_forget(f, ids[0], 1), 0);
		assert_int_equal(req_readdirplus(f, dir.nodeid, dfh, last_off, 65536), 0);
		assert_int_equal(payload_len(f), 0);
	}
	assert_int_equal(req_release(f, FUSE_RELEASEDIR, dir.nodeid, dfh), 0);

	/* RENAME d/f -> g (in the root). */
	{
		struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };

		msg_begin(&m, FUSE_RENAME, dir.nodeid);
		msg_add(&m, &rn, sizeof(rn));
		msg_add_str(&m, "f");
		msg_add_str(&m, "g");
		assert_int_equal(send_msg(f, &m, 4096), 0);
		assert_int_equal(access(host_path(f, "d/f"), F_OK), -1);
		assert_int_equal(access(host_path(f, "g"), F_OK), 0);
		assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "g", &eo), 0);
		assert_int_equal(eo.nodeid, file.nodeid); /* same inode, same nodeid */
	}
	/* The open file still works after the rename. */
	assert_int_equal(req_read(f, file.nodeid, fh, 0, 5, 4096), 0);
	assert_memory_equal(payload(f), "hello", 5);
	assert_int_equal(req_release(f, FUSE_RELEASE, file.nodeid, fh), 0);
	assert_int_equal(req_release(f, FUSE_RELEASE, file.nodeid, fh), -EBADF);
	assert_int_equal(req_read(f, file.nodeid, fh, 0, 5, 4096), -EBADF);

	/* UNLINK, RMDIR. */
	msg_begin(&m, FUSE_UNLINK, FUSE_ROOT_ID);
	msg_add_str(&m, "g");
	assert_int_equal(send_msg(f, &m, 4096), 0);
	assert_int_equal(access(host_path(f, "g"), F_OK), -1);
	msg_begin(&m, FUSE_UNLINK, FUSE_ROOT_ID);
	msg_add_str(&m, "g");
	assert_int_equal(send_msg(f, &m, 4096), -ENOENT);
	msg_begin(&m, FUSE_RMDIR, FUSE_ROOT_ID);
	msg_add_str(&m, "d");
	assert_int_equal(send_msg(f, &m, 4096), 0);
	assert_int_equal(access(host_path(f, "d"), F_OK), -1);

	/* The guest forgets what it learnt: back to the root only. */
	assert_int_equal(req_forget(f, dir.nodeid, 3), 0);  /* MKDIR + LOOKUP + ... */
	assert_int_equal(req_forget(f, file.nodeid, 3), 0); /* CREATE, READDIRPLUS, LOOKUP g */
	{
		unsigned long inodes, handles;

		counts(f, &inodes, &handles);
		assert_int_equal(inodes, 1);
		assert_int_equal(handles, 0);
	}
	/* A forgotten nodeid is stale. */
	assert_int_equal(req_getattr(f, dir.nodeid, &ao, 4096), -ESTALE);
}

static void test_split_request(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out file;
	uint64_t fh;
	uint32_t n;
	char data[3000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	/* Every request cut into 1-byte and 7-byte iovecs, reply in 3-byte ones. */
	for (size_t split = 1; split <= 7; split += 6) {
		char name[16];

		f->in_split = split;
		f->out_split = 3;
		snprintf(name, sizeof(name), "s%zu", split);
		assert_int_equal(req_create(f, FUSE_ROOT_ID, name, &file, &fh), 0);
		assert_int_equal(req_write(f, file.nodeid, fh, 0, data, sizeof(data), &n), 0);
		assert_int_equal(n, sizeof(data));
		assert_int_equal(req_read(f, file.nodeid, fh, 0, sizeof(data), 4096), 0);
		assert_int_equal(payload_len(f), sizeof(data));
		assert_memory_equal(payload(f), data, sizeof(data));
		assert_int_equal(req_release(f, FUSE_RELEASE, file.nodeid, fh), 0);
	}
}

static void test_write_size_mismatch(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out file;
	struct fuse_write_in in;
	uint64_t fh;
	uint32_t n;
	struct msg m;
	struct stat st;

	assert_int_equal(req_create(f, FUSE_ROOT_ID, "w", &file, &fh), 0);
	/* size says 10, 5 bytes follow; and the other way round. */
	in = (struct fuse_write_in){ .fh = fh, .size = 10 };
	msg_begin(&m, FUSE_WRITE, file.nodeid);
	msg_add(&m, &in, sizeof(in));
	msg_add(&m, "12345", 5);
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	in.size = 3;
	msg_begin(&m, FUSE_WRITE, file.nodeid);
	msg_add(&m, &in, sizeof(in));
	msg_add(&m, "12345", 5);
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	in.size = UINT32_MAX;
	msg_begin(&m, FUSE_WRITE, file.nodeid);
	msg_add(&m, &in, sizeof(in));
	assert_int_equal(send_msg(f, &m, 4096), -EINVAL);
	assert_int_equal(stat(host_path(f, "w"), &st), 0);
	assert_int_equal(st.st_size, 0);
	/* Zero bytes: fine. */
	assert_int_equal(req_write(f, file.nodeid, fh, 0, "", 0, &n), 0);
	assert_int_equal(n, 0);
	/* Bad fh. */
	assert_int_equal(req_write(f, file.nodeid, fh + 1, 0, "x", 1, &n), -EBADF);
	assert_int_equal(req_write(f, file.nodeid, ~0ull, 0, "x", 1, &n), -EBADF);
	/* Offset beyond what the host accepts. */
	assert_int_equal(req_write(f, file.nodeid, fh, 1ull << 63, "x", 1, &n), -EINVAL);
	assert_int_equal(req_release(f, FUSE_RELEASE, file.nodeid, fh), 0);
}

static void test_reply_too_small(void **state)
{
	struct fx *f = *state;
	struct msg m;
	struct fuse_getattr_in gin = { 0 };
	unsigned long before;

	assert_int_equal(req_mkdir(f, FUSE_ROOT_ID, "sub", NULL), 0);
	before = inode_count(f);
	/* Only a header fits: an error reply in it. */
	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, NULL, sizeof(struct fuse_out_header)),
			 -ERANGE);
	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, NULL, sizeof(struct fuse_out_header) + 10),
			 -ERANGE);
	/* Not even a header: nothing written at all. */
	for (size_t room = 0; room < sizeof(struct fuse_out_header); room += 5) {
		msg_begin(&m, FUSE_GETATTR, FUSE_ROOT_ID);
		msg_add(&m, &gin, sizeof(gin));
		msg_hdr(&m)->unique = ++f->unique;
		msg_hdr(&m)->len = (uint32_t)m.len;
		assert_int_equal(send_raw(f, &m, m.len, room), 0);
	}
	/* An entry that cannot be delivered is not counted. */
	msg_begin(&m, FUSE_LOOKUP, FUSE_ROOT_ID);
	msg_add_str(&m, "sub");
	assert_int_equal(send_msg(f, &m, sizeof(struct fuse_out_header)), -ERANGE);
	msg_hdr(&m)->unique = ++f->unique;
	assert_int_equal(send_raw(f, &m, m.len, 8), 0);
	assert_int_equal(inode_count(f), before);
	/* Same for CREATE: no inode, no handle left behind (the file itself stays). */
	{
		struct fuse_create_in cin = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
		unsigned long inodes, handles;

		msg_begin(&m, FUSE_CREATE, FUSE_ROOT_ID);
		msg_add(&m, &cin, sizeof(cin));
		msg_add_str(&m, "c");
		assert_int_equal(send_msg(f, &m, sizeof(struct fuse_out_header) + 8), -ERANGE);
		counts(f, &inodes, &handles);
		assert_int_equal(inodes, before);
		assert_int_equal(handles, 0);
	}
	/* OPENDIR: the handle is given back. */
	{
		struct fuse_open_in oin = { .flags = O_RDONLY };
		unsigned long handles;

		msg_begin(&m, FUSE_OPENDIR, FUSE_ROOT_ID);
		msg_add(&m, &oin, sizeof(oin));
		assert_int_equal(send_msg(f, &m, sizeof(struct fuse_out_header)), -ERANGE);
		counts(f, NULL, &handles);
		assert_int_equal(handles, 0);
	}
	/* READ with no room for data: a header-only reply, or nothing. */
	{
		struct fuse_entry_out file;
		uint64_t fh;
		uint32_t n;

		assert_int_equal(req_create(f, FUSE_ROOT_ID, "r", &file, &fh), 0);
		assert_int_equal(req_write(f, file.nodeid, fh, 0, "data", 4, &n), 0);
		assert_int_equal(req_read(f, file.nodeid, fh, 0, 4, sizeof(struct fuse_out_header)),
				 0);
		assert_int_equal(payload_len(f), 0);
		msg_begin(&m, FUSE_READ, file.nodeid);
		{
			struct fuse_read_in rin = { .fh = fh, .size = 4 };

			msg_add(&m, &rin, sizeof(rin));
		}
		msg_hdr(&m)->unique = ++f->unique;
		msg_hdr(&m)->len = (uint32_t)m.len;
		assert_int_equal(send_raw(f, &m, m.len, 8), 0);
	}
}

/*
 * A guest can send requests with a tiny writable part as fast as it
 * likes: whatever the daemon logs about them must be rate-limited
 * (log_guest), never one unthrottled line per request.
 */
static void test_tiny_reply_buffer_log_flood(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out file;
	uint64_t fh;
	char path[] = "/tmp/vufs-unit-log-XXXXXX";
	int logfd = mkstemp(path), saved = dup(2);
	struct msg m;
	struct fuse_read_in rin;
	char *buf;
	ssize_t len;
	int lines = 0;

	assert_true(logfd >= 0);
	unlink(path);
	assert_int_equal(req_create(f, FUSE_ROOT_ID, "r", &file, &fh), 0);
	rin = (struct fuse_read_in){ .fh = fh, .size = 4 };
	log_init(LOG_LVL_WARN, false);
	dup2(logfd, 2);
	for (int i = 0; i < 200; i++) {
		msg_begin(&m, FUSE_READ, file.nodeid);
		msg_add(&m, &rin, sizeof(rin));
		msg_hdr(&m)->unique = ++f->unique;
		msg_hdr(&m)->len = (uint32_t)m.len;
		send_raw(f, &m, m.len, 8);
	}
	dup2(saved, 2);
	close(saved);
	unit_log_init();
	buf = calloc(1, 1 << 20);
	len = pread(logfd, buf, (1 << 20) - 1, 0);
	close(logfd);
	for (ssize_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	if (lines >= 50)
		print_message("%d log lines for 200 requests; first: %.200s\n", lines, buf);
	free(buf);
	assert_true(lines < 50);
}

static void test_errno_sanitising(void **state)
{
	struct fx *f = *state;
	static const struct {
		int in, out;
	} cases[] = {
		{ 0, 0 },         { -ENOENT, -ENOENT }, { -511, -511 },  { -512, -EIO },
		{ -600, -EIO },   { INT32_MIN, -EIO },  { 1, -EIO },     { EPERM, -EIO },
		{ INT32_MAX, -EIO },
	};
	uint8_t out[64];
	struct iovec iov = { .iov_base = out, .iov_len = sizeof(out) };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fuse_req req = {
			.se = f->se,
			.t = f->t,
			.in = { .unique = 77, .opcode = FUSE_GETATTR },
			.out_iov = &iov,
			.out_cnt = 1,
			.out_len = sizeof(out),
		};
		struct fuse_out_header oh;

		fuse_reply_err(&req, cases[i].in);
		assert_true(req.replied);
		assert_int_equal(req.written, sizeof(oh));
		memcpy(&oh, out, sizeof(oh));
		assert_int_equal(oh.error, cases[i].out);
		assert_int_equal(oh.len, sizeof(oh));
		assert_int_equal(oh.unique, 77);
	}
}

static void test_no_reply_ops(void **state)
{
	struct fx *f = *state;
	struct msg m;
	struct fuse_interrupt_in ii = { .unique = 12345 };
	struct fuse_batch_forget_in bf = { .count = 3 };
	struct fuse_forget_one one = { .nodeid = 999, .nlookup = 1 };

	assert_int_equal(req_forget(f, FUSE_ROOT_ID, 1), 0);
	assert_int_equal(req_forget(f, 0xdeadbeef, 1), 0);
	assert_int_equal(req_forget(f, UINT64_MAX, UINT64_MAX), 0);
	msg_begin(&m, FUSE_INTERRUPT, 0);
	msg_add(&m, &ii, sizeof(ii));
	msg_hdr(&m)->len = (uint32_t)m.len;
	assert_int_equal(send_raw(f, &m, m.len, 4096), 0);
	/* BATCH_FORGET claiming more entries than it carries. */
	msg_begin(&m, FUSE_BATCH_FORGET, 0);
	msg_add(&m, &bf, sizeof(bf));
	msg_add(&m, &one, sizeof(one));
	msg_hdr(&m)->len = (uint32_t)m.len;
	assert_int_equal(send_raw(f, &m, m.len, 4096), 0);
	/* The root is pinned whatever the guest forgets. */
	assert_int_equal(inode_count(f), 1);
	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, NULL, 4096), 0);
}

/*
 * FORGET, BATCH_FORGET and INTERRUPT never get a reply (the guest does not
 * expect one and would not know its unique), even when their arguments
 * are too short to decode.
 */
static void test_malformed_no_reply_ops(void **state)
{
	struct fx *f = *state;
	static const uint32_t ops[] = { FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT };
	struct msg m;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (size_t len = 0; len < 8; len += 4) {
			msg_begin(&m, ops[i], FUSE_ROOT_ID);
			msg_add(&m, "\0\0\0\0\0\0\0", len);
			msg_hdr(&m)->unique = ++f->unique;
			msg_hdr(&m)->len = (uint32_t)m.len;
			send_raw(f, &m, m.len, 4096);
			print_message("opcode %u with %zu argument bytes: %u bytes written\n", ops[i],
				      len, f->written);
			assert_int_equal(f->written, 0);
		}
	}
	assert_int_equal(inode_count(f), 1);
}

static void test_lookup_counting(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out eo[3];
	struct msg m;

	assert_int_equal(mkdir(host_path(f, "x"), 0755), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", &eo[i]), 0);
	assert_int_equal(eo[0].nodeid, eo[1].nodeid);
	assert_int_equal(eo[0].nodeid, eo[2].nodeid);
	assert_int_equal(inode_count(f), 2);
	/* Forgetting part keeps it. */
	assert_int_equal(req_forget(f, eo[0].nodeid, 2), 0);
	assert_int_equal(inode_count(f), 2);
	assert_int_equal(req_getattr(f, eo[0].nodeid, NULL, 4096), 0);
	assert_int_equal(req_forget(f, eo[0].nodeid, 1), 0);
	assert_int_equal(inode_count(f), 1);
	/* Its nodeid is dead; a new lookup gives a different one. */
	assert_int_equal(req_getattr(f, eo[0].nodeid, NULL, 4096), -ESTALE);
	assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", &eo[1]), 0);
	assert_true(eo[1].nodeid != eo[0].nodeid);
	/* Forgetting more than was looked up is clamped. */
	assert_int_equal(req_forget(f, eo[1].nodeid, 1000), 0);
	assert_int_equal(inode_count(f), 1);

	/* LOOKUP x3 then FORGET 3, BATCH_FORGET flavour. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(req_lookup(f, FUSE_ROOT_ID, "x", &eo[i]), 0);
	assert_int_equal(inode_count(f), 2);
	{
		struct fuse_batch_forget_in bf = { .count = 1 };
		struct fuse_forget_one one = { .nodeid = eo[0].nodeid, .nlookup = 3 };

		msg_begin(&m, FUSE_BATCH_FORGET, 0);
		msg_add(&m, &bf, sizeof(bf));
		msg_add(&m, &one, sizeof(one));
		msg_hdr(&m)->len = (uint32_t)m.len;
		assert_int_equal(send_raw(f, &m, m.len, 4096), 0);
	}
	assert_int_equal(inode_count(f), 1);
}

static void test_readdirplus_counts(void **state)
{
	struct fx *f = *state;
	uint64_t fh;
	uint64_t ids[16];
	unsigned nids = 0;
	size_t off = 0;

	for (int i = 0; i < 5; i++) {
		char name[8];
		int fd;

		snprintf(name, sizeof(name), "e%d", i);
		fd = open(host_path(f, name), O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(req_open(f, FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY, &fh), 0);
	/* Room for about two entries only: just those are counted. */
	assert_int_equal(req_readdirplus(f, FUSE_ROOT_ID, fh, 0,
					 2 * FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 2)),
			 0);
	while (off < payload_len(f)) {
		struct fuse_direntplus *dp = (struct fuse_direntplus *)((uint8_t *)payload(f) + off);

		if (dp->entry_out.nodeid)
			ids[nids++] = dp->entry_out.nodeid;
		off += FUSE_DIRENTPLUS_SIZE(dp);
	}
	assert_true(off > 0);
	assert_int_equal(inode_count(f), 1 + nids);
	/* The rest, from where it stopped. */
	{
		struct fuse_direntplus *last = NULL;
		size_t o = 0;

		while (o < off) {
			last = (struct fuse_direntplus *)((uint8_t *)payload(f) + o);
			o += FUSE_DIRENTPLUS_SIZE(last);
		}
		assert_int_equal(req_readdirplus(f, FUSE_ROOT_ID, fh, last->dirent.off, 65536), 0);
	}
	off = 0;
	while (off < payload_len(f)) {
		struct fuse_direntplus *dp = (struct fuse_direntplus *)((uint8_t *)payload(f) + off);

		if (dp->entry_out.nodeid)
			ids[nids++] = dp->entry_out.nodeid;
		off += FUSE_DIRENTPLUS_SIZE(dp);
	}
	assert_int_equal(nids, 5);
	assert_int_equal(inode_count(f), 6);
	/* Each entry is a lookup the guest must forget. */
	for (unsigned i = 0; i < nids; i++)
		assert_int_equal(req_forget(f, ids[i], 1), 0);
	assert_int_equal(inode_count(f), 1);
	/* No room at all: nothing returned, nothing counted. */
	assert_int_equal(req_readdirplus(f, FUSE_ROOT_ID, fh, 0, 0), 0);
	assert_int_equal(payload_len(f), 0);
	assert_int_equal(inode_count(f), 1);
	assert_int_equal(req_release(f, FUSE_RELEASEDIR, FUSE_ROOT_ID, fh), 0);
}

static void test_destroy_and_reinit(void **state)
{
	struct fx *f = *state;
	struct fuse_entry_out file;
	uint64_t fh;
	struct msg m;
	unsigned long inodes, handles;

	assert_int_equal(req_create(f, FUSE_ROOT_ID, "k", &file, &fh), 0);
	counts(f, &inodes, &handles);
	assert_int_equal(inodes, 2);
	assert_int_equal(handles, 1);
	msg_begin(&m, FUSE_DESTROY, 0);
	assert_int_equal(send_msg(f, &m, 4096), 0);
	counts(f, &inodes, &handles);
	assert_int_equal(inodes, 1);
	assert_int_equal(handles, 0);
	assert_int_equal(req_getattr(f, FUSE_ROOT_ID, NULL, 4096), -EIO);
	do_init(f);
	assert_int_equal(req_getattr(f, file.nodeid, NULL, 4096), -ESTALE);
	assert_int_equal(req_read(f, file.nodeid, fh, 0, 1, 4096), -EBADF);
	/* INIT on a live session also drops the old state. */
	assert_int_equal(req_create(f, FUSE_ROOT_ID, "k2", &file, &fh), 0);
	do_init(f);
	counts(f, &inodes, &handles);
	assert_int_equal(inodes, 1);
	assert_int_equal(handles, 0);
}

static void test_caller_credentials(void **state)
{
	struct fx *f = *state;
	struct msg m;
	struct fuse_mkdir_in in = { .mode = 0755 };

	if (geteuid() != 0)
		skip();
	/* The share root is root's 0700 directory: a guest user cannot create in it. */
	msg_begin(&m, FUSE_MKDIR, FUSE_ROOT_ID);
	msg_add(&m, &in, sizeof(in));
	msg_add_str(&m, "u");
	msg_hdr(&m)->uid = 1000;
	msg_hdr(&m)->gid = 1000;
	assert_int_equal(send_msg(f, &m, 4096), -EACCES);
	assert_int_equal(geteuid(), 0); /* and the thread is root again */
	assert_int_equal(getegid(), 0);
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(send_msg(f, &m, 4096), 0);
	{
		struct stat st;

		assert_int_equal(stat(host_path(f, "u"), &st), 0);
		assert_int_equal(st.st_uid, 1000);
		assert_int_equal(st.st_gid, 1000);
	}
	assert_int_equal(geteuid(), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, init_setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_before_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_variants, setup, teardown),
		T(test_len_mismatch),
		T(test_unknown_opcode),
		T(test_truncated_args),
		T(test_names),
		T(test_lifecycle),
		T(test_split_request),
		T(test_write_size_mismatch),
		T(test_reply_too_small),
		T(test_tiny_reply_buffer_log_flood),
		T(test_errno_sanitising),
		T(test_no_reply_ops),
		T(test_malformed_no_reply_ops),
		T(test_lookup_counting),
		T(test_readdirplus_counts),
		T(test_destroy_and_reinit),
		T(test_caller_credentials),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
