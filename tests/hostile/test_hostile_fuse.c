// SPDX-License-Identifier: MIT
/*
 * Hostile guest, FUSE layer: well-formed chains carrying requests no
 * kernel sends. Header lengths that lie, truncated argument structs,
 * unknown opcodes, requests before INIT, a second INIT, forged node ids
 * and file handles, absurd sizes and offsets, names that are not one path
 * component, FORGETs of more than was looked up, inconsistent SETXATTR and
 * BATCH_FORGET sizes, unknown RENAME2 flags. Each must give an error (or
 * a bounded answer) and no host-side effect, and the same connection must
 * answer a normal request afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

#include "hostile.h"

#define Q FE_QUEUE_REQUEST

/* Argument block builder. */
struct ab {
	uint8_t b[16384];
	size_t n;
};

static struct ab *ab_new(void)
{
	struct ab *a = calloc(1, sizeof(*a));

	if (!a)
		fail_msg("out of memory");
	return a;
}

static void ab_add(struct ab *a, const void *p, size_t len)
{
	assert_true(a->n + len <= sizeof(a->b));
	a->n = hx_cat(a->b, a->n, p, len);
}

static void ab_str(struct ab *a, const char *s)
{
	ab_add(a, s, strlen(s) + 1);
}

/* A request with a 4 KiB reply buffer; returns the reply's error. */
static int op(struct h *h, uint32_t opcode, uint64_t nodeid, const void *args, size_t len)
{
	static uint8_t out[4096];

	return hx_req(h, opcode, nodeid, args, len, 0, out, sizeof(out), NULL);
}

/* Expect an error reply; for vufsd exactly -err (0: any error). */
static void expect_err(struct h *h, int r, int err, const char *what)
{
	if (r >= 0)
		HX_FAIL(h, "%s: succeeded, expected an error", what);
	if (err && h_is(h, "vufsd") && r != -err)
		HX_FAIL(h, "%s: error %d (%s), expected %d (%s)", what, r, strerror(-r), -err,
			strerror(err));
}

/* Names in the share (not "." or ".."), to check that nothing appeared. */
static int share_entries(struct h *h)
{
	DIR *d = opendir(h->share);
	struct dirent *e;
	int n = 0;

	if (!d)
		fail_msg("opendir %s: %s", h->share, strerror(errno));
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- header length ---- */

static void getattr_len_case(struct h *h, int64_t delta)
{
	struct fuse_getattr_in gi = { 0 };
	char what[64];

	snprintf(what, sizeof(what), "GETATTR with in.len off by %lld", (long long)delta);
	expect_err(h, hx_req(h, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), delta, NULL, 0, NULL),
		   EINVAL, what);
	hx_alive(h);
}

static void test_in_len_larger_than_chain(void **state)
{
	struct h *h = H_STATE(state);

	getattr_len_case(h, 1);
	getattr_len_case(h, 8);
	getattr_len_case(h, 4096);
	getattr_len_case(h, (int64_t)UINT32_MAX - 56); /* in.len = 0xffffffff */
}

static void test_in_len_smaller_than_chain(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct ab *a = ab_new();

	getattr_len_case(h, -1);
	getattr_len_case(h, -16); /* just the header */
	/* A MKDIR whose header leaves out the name: refused, not executed. */
	ab_add(a, &mi, sizeof(mi));
	ab_str(a, "short-len-dir");
	expect_err(h, hx_req(h, FUSE_MKDIR, FUSE_ROOT_ID, a->b, a->n, -14, NULL, 0, NULL), EINVAL,
		   "MKDIR with in.len cutting the name");
	free(a);
	assert_false(h_exists(h, "short-len-dir"));
	hx_alive(h);
}

static void test_in_len_below_header(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_getattr_in gi = { 0 };
	struct hx_reply rep;
	uint8_t req[64];

	getattr_len_case(h, -36); /* in.len = 20 */
	getattr_len_case(h, -56); /* in.len = 0 */
	/* Only 20 readable bytes: not even a header to answer to. */
	hx_build(req, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi));
	hx_send(h, Q, req, 20, 256, &rep);
	if (rep.rc)
		HX_FAIL(h, "20-byte request never came back: %s", strerror(-rep.rc));
	if (rep.used && (rep.used != 16 || rep.oh.error >= 0))
		HX_FAIL(h, "20-byte request: used length %u, error %d", rep.used, rep.oh.error);
	if (h_is(h, "vufsd"))
		assert_int_equal(rep.used, 0);
	hx_reply_free(&rep);
	/* One byte. */
	hx_send(h, Q, req, 1, 256, &rep);
	assert_int_equal(rep.rc, 0);
	hx_reply_free(&rep);
	hx_alive(h);
}

/* ---- truncated arguments ---- */

struct argspec {
	uint32_t opcode;
	uint32_t fixed;		/* size of the fixed struct */
	unsigned int names;	/* NUL-terminated strings that follow it */
	bool noreply;		/* may legitimately come back without a reply */
};

static const struct argspec argspecs[] = {
	{ FUSE_LOOKUP, 0, 1, false },
	{ FUSE_FORGET, sizeof(struct fuse_forget_in), 0, true },
	{ FUSE_GETATTR, sizeof(struct fuse_getattr_in), 0, false },
	{ FUSE_SETATTR, sizeof(struct fuse_setattr_in), 0, false },
	{ FUSE_SYMLINK, 0, 2, false },
	{ FUSE_MKNOD, sizeof(struct fuse_mknod_in), 1, false },
	{ FUSE_MKDIR, sizeof(struct fuse_mkdir_in), 1, false },
	{ FUSE_UNLINK, 0, 1, false },
	{ FUSE_RMDIR, 0, 1, false },
	{ FUSE_RENAME, sizeof(struct fuse_rename_in), 2, false },
	{ FUSE_LINK, sizeof(struct fuse_link_in), 1, false },
	{ FUSE_OPEN, sizeof(struct fuse_open_in), 0, false },
	{ FUSE_READ, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_WRITE, sizeof(struct fuse_write_in), 0, false },
	{ FUSE_RELEASE, sizeof(struct fuse_release_in), 0, false },
	{ FUSE_FSYNC, sizeof(struct fuse_fsync_in), 0, false },
	{ FUSE_SETXATTR, 8, 1, false },
	{ FUSE_GETXATTR, sizeof(struct fuse_getxattr_in), 1, false },
	{ FUSE_LISTXATTR, sizeof(struct fuse_getxattr_in), 0, false },
	{ FUSE_REMOVEXATTR, 0, 1, false },
	{ FUSE_FLUSH, sizeof(struct fuse_flush_in), 0, false },
	{ FUSE_INIT, 16, 0, false },
	{ FUSE_OPENDIR, sizeof(struct fuse_open_in), 0, false },
	{ FUSE_READDIR, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_RELEASEDIR, sizeof(struct fuse_release_in), 0, false },
	{ FUSE_FSYNCDIR, sizeof(struct fuse_fsync_in), 0, false },
	{ FUSE_GETLK, sizeof(struct fuse_lk_in), 0, false },
	{ FUSE_SETLK, sizeof(struct fuse_lk_in), 0, false },
	{ FUSE_SETLKW, sizeof(struct fuse_lk_in), 0, false },
	{ FUSE_ACCESS, sizeof(struct fuse_access_in), 0, false },
	{ FUSE_CREATE, sizeof(struct fuse_create_in), 1, false },
	{ FUSE_INTERRUPT, sizeof(struct fuse_interrupt_in), 0, true },
	{ FUSE_BATCH_FORGET, sizeof(struct fuse_batch_forget_in), 0, true },
	{ FUSE_FALLOCATE, sizeof(struct fuse_fallocate_in), 0, false },
	{ FUSE_READDIRPLUS, sizeof(struct fuse_read_in), 0, false },
	{ FUSE_RENAME2, sizeof(struct fuse_rename2_in), 2, false },
	{ FUSE_LSEEK, sizeof(struct fuse_lseek_in), 0, false },
	{ FUSE_COPY_FILE_RANGE, sizeof(struct fuse_copy_file_range_in), 0, false },
	{ FUSE_SYNCFS, sizeof(struct fuse_syncfs_in), 0, false },
	{ FUSE_TMPFILE, sizeof(struct fuse_create_in), 0, false },
};

static void truncated_case(struct h *h, const struct argspec *s, const uint8_t *args, size_t len)
{
	uint8_t req[4096];
	struct hx_reply rep;
	size_t n = hx_build(req, s->opcode, FUSE_ROOT_ID, args, len);

	hx_send(h, Q, req, (uint32_t)n, 4096, &rep);
	if (rep.rc)
		HX_FAIL(h, "%s with %zu argument bytes: no answer (%s)", fe_fuse_opname(s->opcode), len,
			strerror(-rep.rc));
	if (rep.used == 0 && s->noreply) {
		hx_reply_free(&rep);
		return;
	}
	if (rep.used < 16 || rep.oh.len != rep.used || rep.oh.unique != rep.unique)
		HX_FAIL(h, "%s with %zu argument bytes: malformed answer (used %u, out.len %u)",
			fe_fuse_opname(s->opcode), len, rep.used, rep.oh.len);
	if (rep.oh.error >= 0)
		HX_FAIL(h, "%s with %zu argument bytes (needs %u + %u names): error %d",
			fe_fuse_opname(s->opcode), len, s->fixed, s->names, rep.oh.error);
	hx_reply_free(&rep);
}

static void test_truncated_arguments(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t args[512];
	int before = share_entries(h);

	/* Rust virtiofsd 1.13 panics (and dies) on truncated arguments (see test_fuse_misc.c). */
	if (h_is(h, "rust"))
		print_message("rust: expected to die here\n");
	memset(args, 0, sizeof(args));
	for (size_t i = 0; i < sizeof(argspecs) / sizeof(argspecs[0]); i++) {
		const struct argspec *s = &argspecs[i];
		size_t lens[4] = { 0, 1, s->fixed ? s->fixed - 1 : 0, s->fixed };
		unsigned int nl = s->names ? 4 : 3;

		for (unsigned int k = 0; k < nl; k++) {
			if (k && lens[k] == lens[k - 1])
				continue;
			if (k == 1 && s->fixed == 0 && s->names)
				continue; /* one zero byte is an (empty) name: covered below */
			truncated_case(h, s, args, lens[k]);
		}
		if (s->names) {
			/* The fixed part and a name without its NUL; then one name short. */
			uint8_t a[512];
			size_t n = s->fixed;

			memset(a, 0, s->fixed);
			memcpy(a + n, "abc", 3);
			truncated_case(h, s, a, n + 3);
			if (s->names == 2) {
				memcpy(a + n, "abc", 4);
				truncated_case(h, s, a, n + 4);
			}
		}
		hx_alive(h);
	}
	assert_int_equal(share_entries(h), before);
}

/* ---- opcodes ---- */

static void test_unknown_opcodes(void **state)
{
	struct h *h = H_STATE(state);
	static const uint32_t unknown[] = { 0, 52, 100, 4096 /* CUSE_INIT */, 9999, 0x7fffffff,
					    0xfffffffe, 0xffffffff };
	static const uint32_t unserved[] = { FUSE_BMAP, FUSE_IOCTL, FUSE_POLL, FUSE_NOTIFY_REPLY,
					     FUSE_SETUPMAPPING, FUSE_REMOVEMAPPING };
	uint8_t args[64] = { 0 };
	char what[64];

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		int r = op(h, unknown[i], FUSE_ROOT_ID, args, sizeof(args));

		if (r != -ENOSYS)
			HX_FAIL(h, "opcode %u: %d (%s), expected -ENOSYS", unknown[i], r, strerror(-r));
		r = op(h, unknown[i], 0xdeadbeef, NULL, 0);
		if (r != -ENOSYS)
			HX_FAIL(h, "opcode %u without arguments: %d, expected -ENOSYS", unknown[i], r);
		hx_alive(h);
	}
	for (size_t i = 0; i < sizeof(unserved) / sizeof(unserved[0]); i++) {
		snprintf(what, sizeof(what), "%s", fe_fuse_opname(unserved[i]));
		expect_err(h, op(h, unserved[i], FUSE_ROOT_ID, args, sizeof(args)), ENOSYS, what);
		hx_alive(h);
	}
}

static void test_requests_before_init(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_create_in ci = { .flags = O_CREAT | O_WRONLY, .mode = S_IFREG | 0644 };
	struct fuse_getattr_in gi = { 0 };
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct ab *a = ab_new(), *c = ab_new();

	h_write_file(h, "file", "data", 4);
	h_start(h, NULL, false);
	expect_err(h, op(h, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi)), 0, "GETATTR before INIT");
	expect_err(h, op(h, FUSE_LOOKUP, FUSE_ROOT_ID, "file", 5), 0, "LOOKUP before INIT");
	expect_err(h, op(h, FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi)), 0, "OPENDIR before INIT");
	ab_add(a, &mi, sizeof(mi));
	ab_str(a, "pre-init-dir");
	expect_err(h, op(h, FUSE_MKDIR, FUSE_ROOT_ID, a->b, a->n), 0, "MKDIR before INIT");
	ab_add(c, &ci, sizeof(ci));
	ab_str(c, "pre-init-file");
	expect_err(h, op(h, FUSE_CREATE, FUSE_ROOT_ID, c->b, c->n), 0, "CREATE before INIT");
	expect_err(h, op(h, FUSE_UNLINK, FUSE_ROOT_ID, "file", 5), 0, "UNLINK before INIT");
	free(a);
	free(c);
	assert_false(h_exists(h, "pre-init-dir"));
	assert_false(h_exists(h, "pre-init-file"));
	assert_true(h_exists(h, "file"));
	H_OK(h, fe_fuse_init(h->fe));
	hx_alive(h);
}

static void test_second_init(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_init_out o;
	struct fuse_attr_out ao;
	uint64_t node;
	int r;

	h_write_file(h, "file", "data", 4);
	node = h_lookup(h, "file", NULL);
	/* Versions we cannot speak: refused, the session goes on. */
	H_ANY_ERR(h, fe_fuse_init_ex(h->fe, 6, 0, 0, &o));
	H_ANY_ERR(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, 0, 0, &o));
	hx_alive(h);
	H_OK(h, fe_fuse_getattr(h->fe, node, NULL, &ao));
	/* A second, valid INIT (a guest that rebooted without DESTROY). */
	r = fe_fuse_init(h->fe);
	print_message("%s: second INIT: %d (%s)\n", h->backend, r, r ? strerror(-r) : "accepted");
	if (fe_broken(h->fe))
		HX_FAIL(h, "second INIT broke the connection: %s", fe_strerror(h->fe));
	hx_alive(h);
	if (r == 0) {
		/* A new session: what the old one looked up is gone. */
		r = fe_fuse_getattr(h->fe, node, NULL, &ao);
		print_message("%s: nodeid from before the second INIT: %d\n", h->backend, r);
		if (h_is(h, "vufsd") && r == 0)
			HX_FAIL(h, "a nodeid of the previous session still resolves");
	}
	node = h_lookup(h, "file", NULL);
	H_OK(h, fe_fuse_getattr(h->fe, node, NULL, &ao));
	/* A third INIT with minimal fields (16-byte fuse_init_in of 7.27 era). */
	{
		struct fuse_init_in in = { .major = FUSE_KERNEL_VERSION, .minor = 27 };

		r = op(h, FUSE_INIT, 0, &in, 16);
		print_message("%s: INIT with a 16-byte argument: %d\n", h->backend, r);
	}
	hx_alive(h);
}

/* ---- forged ids ---- */

static void test_forged_nodeids(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	uint64_t file, dir, gone, forged[8];
	unsigned int nf = 0;
	char what[96];

	h_write_file(h, "file", "data", 4);
	h_write_file(h, "gone", "data", 4);
	h_mkdir(h, "dir", 0755);
	file = h_lookup(h, "file", NULL);
	dir = h_lookup(h, "dir", NULL);
	gone = h_lookup(h, "gone", NULL);
	H_OK(h, fe_fuse_forget(h->fe, gone, 1));
	forged[nf++] = 0;
	forged[nf++] = 2;
	forged[nf++] = 0xdeadbeef;
	forged[nf++] = 1ull << 32;
	forged[nf++] = UINT64_MAX;
	forged[nf++] = file + (1ull << 32);	/* a live slot with the wrong generation */
	forged[nf++] = file + 0x80;		/* a slot never used */
	forged[nf++] = gone;			/* forgotten */

	for (unsigned int i = 0; i < nf; i++) {
		uint64_t n = forged[i];
		struct fuse_getattr_in gi = { 0 };
		struct fuse_open_in oi = { .flags = O_RDWR };
		struct fuse_setattr_in si = { .valid = FATTR_MODE, .mode = 0777 };
		struct fuse_access_in ai = { .mask = R_OK };
		struct fuse_mkdir_in mi = { .mode = 0755 };
		struct fuse_mknod_in ni = { .mode = S_IFREG | 0644 };
		struct fuse_create_in ci = { .flags = O_CREAT | O_RDWR, .mode = S_IFREG | 0644 };
		struct fuse_rename_in ri = { .newdir = n };
		struct fuse_link_in li = { .oldnodeid = n };
		struct fuse_syncfs_in sfi = { 0 };
		struct ab *a = ab_new();

		if (n == FUSE_ROOT_ID || n == file || n == dir) {
			/* Another backend's numbering: this value is a real node there. */
			print_message("%s: nodeid 0x%llx is live: not forged here\n", h->backend,
				      (unsigned long long)n);
			free(a);
			continue;
		}
		snprintf(what, sizeof(what), "nodeid 0x%llx: ", (unsigned long long)n);
#define F(opname, call)                                                                  \
	do {                                                                             \
		char w_[128];                                                            \
		snprintf(w_, sizeof(w_), "%s%s", what, opname);                          \
		expect_err(h, (call), 0, w_);                                            \
	} while (0)
		F("GETATTR", op(h, FUSE_GETATTR, n, &gi, sizeof(gi)));
		F("LOOKUP", op(h, FUSE_LOOKUP, n, "file", 5));
		F("LOOKUP ..", op(h, FUSE_LOOKUP, n, "..", 3));
		F("OPEN", op(h, FUSE_OPEN, n, &oi, sizeof(oi)));
		F("OPENDIR", op(h, FUSE_OPENDIR, n, &oi, sizeof(oi)));
		F("SETATTR", op(h, FUSE_SETATTR, n, &si, sizeof(si)));
		F("ACCESS", op(h, FUSE_ACCESS, n, &ai, sizeof(ai)));
		F("READLINK", op(h, FUSE_READLINK, n, NULL, 0));
		F("SYNCFS", op(h, FUSE_SYNCFS, n, &sfi, sizeof(sfi)));
		F("UNLINK", op(h, FUSE_UNLINK, n, "file", 5));
		F("RMDIR", op(h, FUSE_RMDIR, n, "dir", 4));
		a->n = 0;
		ab_add(a, &mi, sizeof(mi));
		ab_str(a, "forged-mkdir");
		F("MKDIR", op(h, FUSE_MKDIR, n, a->b, a->n));
		a->n = 0;
		ab_add(a, &ni, sizeof(ni));
		ab_str(a, "forged-mknod");
		F("MKNOD", op(h, FUSE_MKNOD, n, a->b, a->n));
		a->n = 0;
		ab_add(a, &ci, sizeof(ci));
		ab_str(a, "forged-create");
		F("CREATE", op(h, FUSE_CREATE, n, a->b, a->n));
		F("TMPFILE", op(h, FUSE_TMPFILE, n, &ci, sizeof(ci)));
		a->n = 0;
		ab_str(a, "forged-symlink");
		ab_str(a, "target");
		F("SYMLINK", op(h, FUSE_SYMLINK, n, a->b, a->n));
		/* RENAME from the root into a forged directory, and from a forged one. */
		a->n = 0;
		ab_add(a, &ri, sizeof(ri));
		ab_str(a, "file");
		ab_str(a, "forged-rename");
		F("RENAME into", op(h, FUSE_RENAME, FUSE_ROOT_ID, a->b, a->n));
		ri.newdir = FUSE_ROOT_ID;
		a->n = 0;
		ab_add(a, &ri, sizeof(ri));
		ab_str(a, "file");
		ab_str(a, "forged-rename");
		F("RENAME from", op(h, FUSE_RENAME, n, a->b, a->n));
		/* LINK of a forged node into the root, and of a real one into a forged dir. */
		a->n = 0;
		ab_add(a, &li, sizeof(li));
		ab_str(a, "forged-link");
		F("LINK of", op(h, FUSE_LINK, FUSE_ROOT_ID, a->b, a->n));
		li.oldnodeid = file;
		a->n = 0;
		ab_add(a, &li, sizeof(li));
		ab_str(a, "forged-link");
		F("LINK into", op(h, FUSE_LINK, n, a->b, a->n));
#undef F
		free(a);
		hx_alive(h);
	}
	/* Nothing was created, renamed, removed or changed. */
	assert_int_equal(share_entries(h), 3);
	assert_true(h_exists(h, "file") && h_exists(h, "dir") && h_exists(h, "gone"));
	{
		struct stat st;

		assert_int_equal(stat(h_path(h, "file"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
	}
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "file", &e));
	assert_int_equal(e.nodeid, file);
}

static void test_forged_file_handles(void **state)
{
	struct h *h = H_STATE(state);
	char data[4096], back[4096];
	struct fuse_open_out fo, so, dopen;
	uint64_t node, forged[10], dirfh;
	unsigned int nf = 0;

	h_pattern(data, sizeof(data), 7);
	h_write_file(h, "file", data, sizeof(data));
	node = h_lookup(h, "file", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &fo));
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &so));
	H_OK(h, fe_fuse_release(h->fe, node, so.fh, O_RDWR));
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &dopen));
	dirfh = dopen.fh;
	forged[nf++] = 0;
	forged[nf++] = 1;
	forged[nf++] = 0xdeadbeef;
	forged[nf++] = UINT64_MAX;
	forged[nf++] = fo.fh + (1ull << 32);
	forged[nf++] = fo.fh ^ 0x40;
	forged[nf++] = so.fh; /* released */
	forged[nf++] = dirfh; /* a directory handle where a file handle goes */

	for (unsigned int i = 0; i < nf; i++) {
		uint64_t fh = forged[i];
		struct fuse_read_in ri = { .fh = fh, .size = 4096 };
		struct fuse_release_in rl = { .fh = fh };
		struct fuse_fsync_in fs = { .fh = fh };
		struct fuse_flush_in fl = { .fh = fh };
		struct fuse_lk_in lk = { .fh = fh, .lk = { .type = F_WRLCK, .end = 100 } };
		struct fuse_fallocate_in fa = { .fh = fh, .length = 1 << 20 };
		struct fuse_lseek_in ls = { .fh = fh, .whence = SEEK_END };
		struct fuse_setattr_in sa = { .valid = FATTR_FH | FATTR_SIZE, .fh = fh, .size = 0 };
		struct fuse_copy_file_range_in cf = { .fh_in = fh, .fh_out = fo.fh, .len = 4096 };
		struct {
			struct fuse_write_in w;
			char d[16];
		} wr = { .w = { .fh = fh, .size = 16 }, .d = "OVERWRITTEN!!!!" };
		char what[64];

		if (fh == fo.fh) {
			print_message("%s: fh 0x%llx is live: not forged here\n", h->backend,
				      (unsigned long long)fh);
			continue;
		}
		snprintf(what, sizeof(what), "fh 0x%llx", (unsigned long long)fh);
#define F(opname, call)                                                                  \
	do {                                                                             \
		char w_[128];                                                            \
		snprintf(w_, sizeof(w_), "%s: %s", what, opname);                        \
		expect_err(h, (call), 0, w_);                                            \
	} while (0)
		F("READ", op(h, FUSE_READ, node, &ri, sizeof(ri)));
		F("WRITE", op(h, FUSE_WRITE, node, &wr, sizeof(wr)));
		F("FSYNC", op(h, FUSE_FSYNC, node, &fs, sizeof(fs)));
		F("FLUSH", op(h, FUSE_FLUSH, node, &fl, sizeof(fl)));
		F("GETLK", op(h, FUSE_GETLK, node, &lk, sizeof(lk)));
		F("SETLK", op(h, FUSE_SETLK, node, &lk, sizeof(lk)));
		F("FALLOCATE", op(h, FUSE_FALLOCATE, node, &fa, sizeof(fa)));
		F("LSEEK", op(h, FUSE_LSEEK, node, &ls, sizeof(ls)));
		F("SETATTR(fh, size 0)", op(h, FUSE_SETATTR, node, &sa, sizeof(sa)));
		F("COPY_FILE_RANGE in", op(h, FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf)));
		cf.fh_in = fo.fh;
		cf.fh_out = fh;
		F("COPY_FILE_RANGE out", op(h, FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf)));
		if (fh != dirfh) {
			F("READDIR", op(h, FUSE_READDIR, FUSE_ROOT_ID, &ri, sizeof(ri)));
			F("READDIRPLUS", op(h, FUSE_READDIRPLUS, FUSE_ROOT_ID, &ri, sizeof(ri)));
			F("FSYNCDIR", op(h, FUSE_FSYNCDIR, FUSE_ROOT_ID, &fs, sizeof(fs)));
			F("RELEASEDIR", op(h, FUSE_RELEASEDIR, FUSE_ROOT_ID, &rl, sizeof(rl)));
		}
		F("RELEASE", op(h, FUSE_RELEASE, node, &rl, sizeof(rl)));
#undef F
		hx_alive(h);
	}
	/* A file handle where a directory handle goes. */
	{
		struct fuse_read_in ri = { .fh = fo.fh, .size = 4096 };
		struct fuse_release_in rl = { .fh = fo.fh };

		expect_err(h, op(h, FUSE_READDIR, FUSE_ROOT_ID, &ri, sizeof(ri)), 0,
			   "READDIR with a file fh");
		expect_err(h, op(h, FUSE_READDIRPLUS, FUSE_ROOT_ID, &ri, sizeof(ri)), 0,
			   "READDIRPLUS with a file fh");
		expect_err(h, op(h, FUSE_RELEASEDIR, FUSE_ROOT_ID, &rl, sizeof(rl)), 0,
			   "RELEASEDIR with a file fh");
	}
	/* The real handles still work and the data is untouched. */
	assert_int_equal(fe_fuse_read(h->fe, node, fo.fh, 0, back, sizeof(back)), sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(h_read_file(h, "file", back, sizeof(back)), sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	H_OK(h, fe_fuse_release(h->fe, node, fo.fh, O_RDWR));
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, dirfh));
}

/* ---- sizes and offsets ---- */

/* READ fh/off/size with room reply bytes; returns error or body length, body copied to out. */
static int read_room(struct h *h, uint64_t node, uint64_t fh, uint64_t off, uint32_t size,
		     void *out, uint32_t room)
{
	struct fuse_read_in ri = { .fh = fh, .offset = off, .size = size };
	uint32_t len = 0;
	int r = hx_req(h, FUSE_READ, node, &ri, sizeof(ri), 0, out, room, &len);

	if (r)
		return r;
	if (len > room)
		HX_FAIL(h, "READ reply of %u bytes in %u", len, room);
	return (int)len;
}

static void test_read_sizes(void **state)
{
	struct h *h = H_STATE(state);
	const size_t big = 2u << 20;
	uint8_t *data = malloc(big), *out = malloc(3u << 20);
	struct fuse_open_out oo;
	uint64_t node;
	int n;

	assert_non_null(data);
	assert_non_null(out);
	h_pattern(data, big, 3);
	h_write_file(h, "big", data, big);
	node = h_lookup(h, "big", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDONLY, &oo));
	/* Size 0: nothing. */
	assert_int_equal(read_room(h, node, oo.fh, 0, 0, out, 4096), 0);
	/* 1 GiB asked, 4 KiB given: the reply is bounded by the writable space. */
	n = read_room(h, node, oo.fh, 0, 1u << 30, out, 4096);
	print_message("%s: READ of 1 GiB into 4 KiB: %d\n", h->backend, n);
	if (n < 0)
		assert_true(n < 0); /* an error is acceptable, an overflow is not (hx_send checks) */
	else
		assert_memory_equal(out, data, (size_t)n);
	if (h_is(h, "vufsd"))
		assert_int_equal(n, 4096);
	/* 1 GiB (and 4 GiB - 1) asked, 3 MiB given: at most max_write (1 MiB). */
	n = read_room(h, node, oo.fh, 0, 1u << 30, out, 3u << 20);
	print_message("%s: READ of 1 GiB into 3 MiB: %d\n", h->backend, n);
	if (n >= 0) {
		assert_memory_equal(out, data, (size_t)n);
		if (h_is(h, "vufsd"))
			assert_int_equal(n, 1u << 20);
	}
	n = read_room(h, node, oo.fh, 4096, UINT32_MAX, out, 3u << 20);
	if (n >= 0) {
		assert_true((size_t)n <= big - 4096);
		assert_memory_equal(out, data + 4096, (size_t)n);
	}
	/* Offsets at the end of the range. */
	n = read_room(h, node, oo.fh, UINT64_MAX, 4096, out, 4096);
	print_message("%s: READ at offset 2^64-1: %d\n", h->backend, n);
	assert_true(n <= 0);
	if (h_is(h, "vufsd"))
		assert_int_equal(n, -EINVAL);
	n = read_room(h, node, oo.fh, INT64_MAX, 4096, out, 4096);
	assert_true(n <= 0);
	n = read_room(h, node, oo.fh, big - 10, 1u << 30, out, 4096);
	assert_int_equal(n, 10);
	assert_memory_equal(out, data + big - 10, 10);
	H_OK(h, fe_fuse_release(h->fe, node, oo.fh, O_RDONLY));
	hx_alive(h);
	free(data);
	free(out);
}

static int write_raw(struct h *h, uint64_t node, uint64_t fh, uint64_t off, uint32_t size_field,
		     const void *data, size_t len, uint32_t *written)
{
	struct fuse_write_in wi = { .fh = fh, .offset = off, .size = size_field };
	uint8_t *args = malloc(sizeof(wi) + len + 1);
	struct fuse_write_out wo = { 0 };
	uint32_t olen = 0;
	int r;

	assert_non_null(args);
	memcpy(args, &wi, sizeof(wi));
	if (len)
		memcpy(args + sizeof(wi), data, len);
	r = hx_req(h, FUSE_WRITE, node, args, sizeof(wi) + len, 0, &wo, sizeof(wo), &olen);
	free(args);
	if (!r && olen != sizeof(wo))
		HX_FAIL(h, "WRITE reply of %u bytes", olen);
	if (!r && written)
		*written = wo.size;
	return r;
}

static void test_write_sizes(void **state)
{
	struct h *h = H_STATE(state);
	const size_t big = 2u << 20;
	uint8_t orig[100], *data = malloc(big), back[200];
	struct fuse_open_out oo;
	uint32_t w = 12345;
	uint64_t node;
	int r;

	assert_non_null(data);
	h_pattern(orig, sizeof(orig), 1);
	h_pattern(data, big, 2);
	h_write_file(h, "file", orig, sizeof(orig));
	node = h_lookup(h, "file", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));

	/* Size 0, no data: nothing written. */
	r = write_raw(h, node, oo.fh, 0, 0, NULL, 0, &w);
	print_message("%s: WRITE of 0 bytes: %d, %u written\n", h->backend, r, r ? 0 : w);
	if (!r)
		assert_int_equal(w, 0);
	/* The size field disagrees with the data that follows. */
	expect_err(h, write_raw(h, node, oo.fh, 0, 100, data, 50, NULL), EINVAL, "WRITE size 100, 50 bytes");
	expect_err(h, write_raw(h, node, oo.fh, 0, 50, data, 100, NULL), EINVAL, "WRITE size 50, 100 bytes");
	expect_err(h, write_raw(h, node, oo.fh, 0, UINT32_MAX, data, 10, NULL), EINVAL,
		   "WRITE size 4 GiB - 1, 10 bytes");
	expect_err(h, write_raw(h, node, oo.fh, 0, 10, NULL, 0, NULL), EINVAL, "WRITE size 10, no data");
	/* More than max_write (1 MiB), consistently described. */
	r = write_raw(h, node, oo.fh, 0, (uint32_t)big, data, big, &w);
	print_message("%s: WRITE of 2 MiB (max_write 1 MiB): %d\n", h->backend, r);
	if (h_is(h, "vufsd"))
		expect_err(h, r, EINVAL, "WRITE beyond max_write");
	else if (!r)
		assert_true(w <= big);
	/* Offsets beyond what a file can have. */
	expect_err(h, write_raw(h, node, oo.fh, UINT64_MAX, 10, data, 10, NULL), 0, "WRITE at 2^64-1");
	expect_err(h, write_raw(h, node, oo.fh, (uint64_t)INT64_MAX - 4, 10, data, 10, NULL), 0,
		   "WRITE across 2^63");
	hx_alive(h);
	if (h_is(h, "vufsd")) {
		/* None of it reached the file. */
		assert_int_equal(h_read_file(h, "file", back, sizeof(back)), sizeof(orig));
		assert_memory_equal(back, orig, sizeof(orig));
	}
	H_OK(h, fe_fuse_release(h->fe, node, oo.fh, O_RDWR));
	free(data);
}

/* ---- names ---- */

/*
 * The "/etc/passwd"-like names go only to LOOKUP; the operations that change
 * something get the same shapes aimed at the test's temp dir, so that even a
 * backend that followed them (another daemon, a sanitizer build that runs
 * without the sandbox) could only touch the test's own files.
 */
static void test_names(void **state)
{
	struct h *h = H_STATE(state);
	char n255[256], n256[257], n1000[1001], abs_out[200];
	struct fuse_entry_out e;
	struct stat st;
	uint64_t file;
	struct {
		const char *name;
		size_t len;	/* bytes sent (may leave out the NUL) */
		int err;	/* for vufsd; 0: any */
	} bad[] = {
		{ ".", 2, EINVAL },
		{ "..", 3, EINVAL },
		{ "", 1, EINVAL },
		{ "a/b", 4, EINVAL },
		{ abs_out, 0, EINVAL },
		{ "../escaped", 11, EINVAL },
		{ "d/../../escaped", 16, EINVAL },
		{ "/", 2, EINVAL },
		{ "nonul", 5, EINVAL },
		{ n256, 257, ENAMETOOLONG },
		{ n1000, 1001, ENAMETOOLONG },
	};
	int before;

	snprintf(abs_out, sizeof(abs_out), "%s/escaped", h->tmpdir);
	bad[4].len = strlen(abs_out) + 1;
	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	memset(n1000, 'c', 1000);
	n1000[1000] = 0;
	h_write_file(h, "f", "x", 1);
	h_mkdir(h, "d", 0755);
	file = h_lookup(h, "f", NULL);
	before = share_entries(h);

	/* LOOKUP: "." and ".." are names here; the rest are not. */
	{
		static const char *const ro[] = { "/etc/passwd", "../../etc/passwd", "a/../../x", "/etc" };

		for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
			expect_err(h, op(h, FUSE_LOOKUP, FUSE_ROOT_ID, ro[i], strlen(ro[i]) + 1), EINVAL,
				   ro[i]);
	}
	for (size_t i = 2; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[80];

		snprintf(what, sizeof(what), "LOOKUP \"%.20s\"", bad[i].name);
		expect_err(h, op(h, FUSE_LOOKUP, FUSE_ROOT_ID, bad[i].name, bad[i].len), bad[i].err, what);
	}
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, n255, &e), ENOENT);
	assert_int_equal(stat(h->share, &st), 0);
	/* ".." at the root is the root itself, "." too. */
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "..", &e));
	if (e.attr.ino != st.st_ino)
		HX_FAIL(h, "LOOKUP .. at the root gave ino %llu, the share is %llu",
			(unsigned long long)e.attr.ino, (unsigned long long)st.st_ino);
	if (h_is(h, "vufsd"))
		assert_int_equal(e.nodeid, FUSE_ROOT_ID);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, ".", &e));
	assert_int_equal(e.attr.ino, st.st_ino);
	hx_alive(h);

	/* Every opcode that takes a name: all of them refused ("." and ".." included). */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fuse_mkdir_in mi = { .mode = 0755 };
		struct fuse_mknod_in ni = { .mode = S_IFREG | 0644 };
		struct fuse_create_in ci = { .flags = O_CREAT | O_RDWR, .mode = S_IFREG | 0644 };
		struct fuse_rename_in ri = { .newdir = FUSE_ROOT_ID };
		struct fuse_rename2_in r2 = { .newdir = FUSE_ROOT_ID };
		struct fuse_link_in li = { .oldnodeid = file };
		const char *nm = bad[i].name;
		size_t nl = bad[i].len;
		int err = bad[i].err;
		struct ab *a = ab_new();
		char what[80];

#define F(opname, call)                                                                  \
	do {                                                                             \
		snprintf(what, sizeof(what), "%s \"%.20s\"", opname, nm);                \
		expect_err(h, (call), err, what);                                        \
	} while (0)
		a->n = 0;
		ab_add(a, &mi, sizeof(mi));
		ab_add(a, nm, nl);
		F("MKDIR", op(h, FUSE_MKDIR, FUSE_ROOT_ID, a->b, a->n));
		a->n = 0;
		ab_add(a, &ni, sizeof(ni));
		ab_add(a, nm, nl);
		F("MKNOD", op(h, FUSE_MKNOD, FUSE_ROOT_ID, a->b, a->n));
		a->n = 0;
		ab_add(a, &ci, sizeof(ci));
		ab_add(a, nm, nl);
		F("CREATE", op(h, FUSE_CREATE, FUSE_ROOT_ID, a->b, a->n));
		F("UNLINK", op(h, FUSE_UNLINK, FUSE_ROOT_ID, nm, nl));
		F("RMDIR", op(h, FUSE_RMDIR, FUSE_ROOT_ID, nm, nl));
		if (bad[i].len == strlen(nm) + 1) {
			/* Names that end where they should: as the target name of RENAME, LINK, SYMLINK. */
			a->n = 0;
			ab_add(a, &ri, sizeof(ri));
			ab_str(a, "f");
			ab_add(a, nm, nl);
			F("RENAME to", op(h, FUSE_RENAME, FUSE_ROOT_ID, a->b, a->n));
			a->n = 0;
			ab_add(a, &ri, sizeof(ri));
			ab_add(a, nm, nl);
			ab_str(a, "renamed");
			F("RENAME from", op(h, FUSE_RENAME, FUSE_ROOT_ID, a->b, a->n));
			a->n = 0;
			ab_add(a, &r2, sizeof(r2));
			ab_str(a, "f");
			ab_add(a, nm, nl);
			F("RENAME2 to", op(h, FUSE_RENAME2, FUSE_ROOT_ID, a->b, a->n));
			a->n = 0;
			ab_add(a, &li, sizeof(li));
			ab_add(a, nm, nl);
			F("LINK", op(h, FUSE_LINK, FUSE_ROOT_ID, a->b, a->n));
			a->n = 0;
			ab_add(a, nm, nl);
			ab_str(a, "target");
			F("SYMLINK", op(h, FUSE_SYMLINK, FUSE_ROOT_ID, a->b, a->n));
		}
#undef F
		free(a);
		hx_alive(h);
	}
	/* Nothing created, renamed or removed, here or one level up. */
	assert_int_equal(share_entries(h), before);
	assert_true(h_exists(h, "f") && h_exists(h, "d"));
	{
		char up[160];

		snprintf(up, sizeof(up), "%s/renamed", h->tmpdir);
		assert_int_not_equal(access(up, F_OK), 0);
		assert_int_not_equal(access(abs_out, F_OK), 0);
	}
}

/* ---- reference counts ---- */

static void test_forget_huge_nlookup(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_attr_out ao;
	uint64_t a, b;
	int r;

	h_write_file(h, "a", "x", 1);
	h_write_file(h, "b", "x", 1);
	a = h_lookup(h, "a", NULL);
	b = h_lookup(h, "b", NULL);
	(void)h_lookup(h, "b", NULL);
	H_OK(h, fe_fuse_forget(h->fe, a, UINT64_MAX));
	H_OK(h, fe_fuse_forget(h->fe, b, (uint64_t)1 << 63));
	H_OK(h, fe_fuse_forget(h->fe, 0xdeadbeef, 5));
	H_OK(h, fe_fuse_forget(h->fe, 0, UINT64_MAX));
	H_OK(h, fe_fuse_forget(h->fe, a, 0));
	/* The root survives any FORGET. */
	H_OK(h, fe_fuse_forget(h->fe, FUSE_ROOT_ID, UINT64_MAX));
	hx_alive(h);
	r = fe_fuse_getattr(h->fe, a, NULL, &ao);
	print_message("%s: GETATTR after FORGET(UINT64_MAX): %d\n", h->backend, r);
	if (h_is(h, "vufsd") && r == 0)
		HX_FAIL(h, "a node forgotten with a huge nlookup still resolves");
	/* Looked up again, it is a fresh node that works. */
	a = h_lookup(h, "a", NULL);
	H_OK(h, fe_fuse_getattr(h->fe, a, NULL, &ao));
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, ".", NULL));
	hx_alive(h);
}

static void test_batch_forget_count_exceeds_data(void **state)
{
	struct h *h = H_STATE(state);
	struct {
		struct fuse_batch_forget_in in;
		struct fuse_forget_one one[2];
	} bf;
	struct fuse_batch_forget_in only = { .count = UINT32_MAX };
	struct fuse_attr_out ao;
	struct hx_reply rep;
	uint8_t req[128];
	uint64_t a, b;
	size_t n;

	h_write_file(h, "a", "x", 1);
	h_write_file(h, "b", "x", 1);
	a = h_lookup(h, "a", NULL);
	b = h_lookup(h, "b", NULL);
	memset(&bf, 0, sizeof(bf));
	bf.in.count = 1000; /* two entries follow */
	bf.one[0] = (struct fuse_forget_one){ .nodeid = a, .nlookup = 1 };
	bf.one[1] = (struct fuse_forget_one){ .nodeid = b, .nlookup = 1 };
	n = hx_build(req, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	hx_send(h, FE_QUEUE_HIPRIO, req, (uint32_t)n, 0, &rep);
	if (rep.rc)
		HX_FAIL(h, "BATCH_FORGET with a short list was not used: %s", strerror(-rep.rc));
	assert_int_equal(rep.used, 0);
	/* Count UINT32_MAX, nothing after it; and a half entry. */
	n = hx_build(req, FUSE_BATCH_FORGET, 0, &only, sizeof(only));
	hx_send(h, FE_QUEUE_HIPRIO, req, (uint32_t)n, 0, &rep);
	assert_int_equal(rep.rc, 0);
	n = hx_build(req, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf.in) + 12);
	hx_send(h, FE_QUEUE_HIPRIO, req, (uint32_t)n, 0, &rep);
	assert_int_equal(rep.rc, 0);
	hx_alive(h);
	if (h_is(h, "vufsd")) {
		/* The entries that were there were applied. */
		assert_int_not_equal(fe_fuse_getattr(h->fe, a, NULL, &ao), 0);
		assert_int_not_equal(fe_fuse_getattr(h->fe, b, NULL, &ao), 0);
	}
}

/* ---- xattrs ---- */

static int setxattr_raw(struct h *h, uint64_t node, uint32_t size_field, const char *name,
			size_t name_len, const void *val, size_t len)
{
	struct {
		uint32_t size;
		uint32_t flags;
	} sx = { size_field, 0 };
	struct ab *a = ab_new();
	int r;

	ab_add(a, &sx, sizeof(sx));
	ab_add(a, name, name_len);
	if (len)
		ab_add(a, val, len);
	r = op(h, FUSE_SETXATTR, node, a->b, a->n);
	free(a);
	return r;
}

static void test_setxattr_size_mismatch(void **state)
{
	struct h *h = H_STATE(state);
	char big[300], val[16] = "0123456789abcdef", buf[64];
	struct fuse_getxattr_in gi = { .size = UINT32_MAX };
	uint32_t len = 0;
	uint64_t node;
	int r;

	hx_start(h, "--xattr", "--xattr", "-o xattr", NULL, true);
	h_write_file(h, "file", "x", 1);
	node = h_lookup(h, "file", NULL);
	if (op(h, FUSE_LISTXATTR, node, &gi, sizeof(gi)) == -ENOSYS)
		skip();
	memset(big, 'u', sizeof(big));
	memcpy(big, "user.", 5);
	big[sizeof(big) - 1] = 0;
	expect_err(h, setxattr_raw(h, node, 100, "user.a", 7, val, 10), EINVAL, "size 100, 10 bytes");
	expect_err(h, setxattr_raw(h, node, 0, "user.a", 7, val, 10), EINVAL, "size 0, 10 bytes");
	expect_err(h, setxattr_raw(h, node, 10, "user.a", 7, NULL, 0), EINVAL, "size 10, no value");
	expect_err(h, setxattr_raw(h, node, 70000, "user.a", 7, val, 16), 0, "size 70000, 16 bytes");
	expect_err(h, setxattr_raw(h, node, UINT32_MAX, "user.a", 7, val, 16), 0, "size 2^32-1");
	expect_err(h, setxattr_raw(h, node, 3, "user.a", 6, NULL, 0), 0, "name without NUL");
	expect_err(h, setxattr_raw(h, node, 3, "", 1, val, 3), 0, "empty name");
	expect_err(h, setxattr_raw(h, node, 3, big, sizeof(big), val, 3), 0, "name of 299 bytes");
	hx_alive(h);
	if (getxattr(h_path(h, "file"), "user.a", buf, sizeof(buf)) >= 0)
		HX_FAIL(h, "a malformed SETXATTR set the attribute on the host");
	/* A consistent one works, and reading it with an absurd size is bounded. */
	H_OK(h, setxattr_raw(h, node, 3, "user.a", 7, "abc", 3));
	assert_int_equal(getxattr(h_path(h, "file"), "user.a", buf, sizeof(buf)), 3);
	{
		struct ab *a = ab_new();

		ab_add(a, &gi, sizeof(gi));
		ab_str(a, "user.a");
		r = hx_req(h, FUSE_GETXATTR, node, a->b, a->n, 0, buf, 16, &len);
		free(a);
		print_message("%s: GETXATTR of size 2^32-1 into 16 bytes: %d, %u bytes\n", h->backend, r,
			      len);
		if (!r)
			assert_memory_equal(buf, "abc", 3);
	}
	r = hx_req(h, FUSE_LISTXATTR, node, &gi, sizeof(gi), 0, buf, 4, &len);
	print_message("%s: LISTXATTR of size 2^32-1 into 4 bytes: %d, %u bytes\n", h->backend, r, len);
	hx_alive(h);
}

/* ---- readdir ---- */

static void test_readdir_huge_offsets_and_sizes(void **state)
{
	struct h *h = H_STATE(state);
	static uint8_t buf[65536];
	struct fuse_open_out od;
	char name[32];

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "file-%02d-with-a-longish-name", i);
		h_write_file(h, name, "x", 1);
	}
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &od));
	for (int plus = 0; plus < 2; plus++) {
		uint32_t opc = plus ? FUSE_READDIRPLUS : FUSE_READDIR;
		static const uint64_t offs[] = { UINT64_MAX, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
						 0x7fffffff, 12345 };
		static const uint32_t sizes[] = { 0, 1, 24, UINT32_MAX, 1u << 30 };

		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			struct fuse_read_in ri = { .fh = od.fh, .offset = offs[i], .size = 4096 };
			uint32_t len = 0;
			int r = hx_req(h, opc, FUSE_ROOT_ID, &ri, sizeof(ri), 0, buf, 4096, &len);

			print_message("%s: %s at offset 0x%llx: %d, %u bytes\n", h->backend,
				      fe_fuse_opname(opc), (unsigned long long)offs[i], r, len);
			hx_alive(h);
		}
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct fuse_read_in ri = { .fh = od.fh, .offset = 0, .size = sizes[i] };
			uint32_t room = sizes[i] < 4096 ? 4096 : 2048, len = 0;
			struct fe_dirent d;
			size_t pos = 0;
			int r = hx_req(h, opc, FUSE_ROOT_ID, &ri, sizeof(ri), 0, buf, room, &len);

			if (r)
				HX_FAIL(h, "%s of size %u: %d", fe_fuse_opname(opc), sizes[i], r);
			if (len > room || len > sizes[i])
				HX_FAIL(h, "%s of size %u into %u: %u bytes", fe_fuse_opname(opc), sizes[i],
					room, len);
			while ((r = fe_dirent_next(buf, len, &pos, plus, &d)) == 1) {
				if (plus && d.entry.nodeid)
					H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
			}
			if (r < 0)
				HX_FAIL(h, "%s of size %u: malformed records", fe_fuse_opname(opc), sizes[i]);
		}
	}
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, od.fh));
	hx_alive(h);
}

/* ---- rename flags and other out-of-range arguments ---- */

static void test_rename2_unknown_flags(void **state)
{
	struct h *h = H_STATE(state);
	static const uint32_t flags[] = { 1u << 3, 1u << 7, 0x80000000u, 0xffffffffu,
					  RENAME_EXCHANGE | RENAME_NOREPLACE };
	struct fuse_rename2_in r2 = { .newdir = FUSE_ROOT_ID };
	struct ab *a = ab_new();

	h_write_file(h, "a", "A", 1);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char what[48];

		r2.flags = flags[i];
		a->n = 0;
		ab_add(a, &r2, sizeof(r2));
		ab_str(a, "a");
		ab_str(a, "b");
		snprintf(what, sizeof(what), "RENAME2 flags 0x%x", flags[i]);
		expect_err(h, op(h, FUSE_RENAME2, FUSE_ROOT_ID, a->b, a->n), EINVAL, what);
		assert_true(h_exists(h, "a"));
		assert_false(h_exists(h, "b"));
	}
	free(a);
	hx_alive(h);
}

static void test_out_of_range_arguments(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint64_t node;
	char back[16];

	h_write_file(h, "f", "0123456789", 10);
	node = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));
	{
		struct fuse_lseek_in ls = { .fh = oo.fh, .offset = 0, .whence = 99 };

		expect_err(h, op(h, FUSE_LSEEK, node, &ls, sizeof(ls)), EINVAL, "LSEEK whence 99");
		ls.whence = SEEK_DATA;
		ls.offset = UINT64_MAX;
		expect_err(h, op(h, FUSE_LSEEK, node, &ls, sizeof(ls)), 0, "LSEEK at 2^64-1");
	}
	{
		struct fuse_lk_in lk = { .fh = oo.fh, .lk = { .type = 99, .end = 10 } };

		expect_err(h, op(h, FUSE_GETLK, node, &lk, sizeof(lk)), EINVAL, "GETLK type 99");
		expect_err(h, op(h, FUSE_SETLK, node, &lk, sizeof(lk)), EINVAL, "SETLK type 99");
		lk.lk = (struct fuse_file_lock){ .type = F_WRLCK, .start = 100, .end = 10 };
		expect_err(h, op(h, FUSE_SETLK, node, &lk, sizeof(lk)), EINVAL, "SETLK end < start");
		lk.lk = (struct fuse_file_lock){ .type = F_WRLCK, .start = UINT64_MAX, .end = UINT64_MAX };
		expect_err(h, op(h, FUSE_SETLKW, node, &lk, sizeof(lk)), 0, "SETLKW at 2^64-1");
	}
	{
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = UINT64_MAX };

		expect_err(h, op(h, FUSE_SETATTR, node, &sa, sizeof(sa)), 0, "SETATTR size 2^64-1");
		sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME, .atimensec = 2000000000u };
		expect_err(h, op(h, FUSE_SETATTR, node, &sa, sizeof(sa)), EINVAL, "SETATTR atimensec 2e9");
	}
	{
		struct fuse_fallocate_in fa = { .fh = oo.fh, .offset = UINT64_MAX, .length = UINT64_MAX };

		expect_err(h, op(h, FUSE_FALLOCATE, node, &fa, sizeof(fa)), 0, "FALLOCATE at 2^64-1");
		fa = (struct fuse_fallocate_in){ .fh = oo.fh, .mode = 0xff00, .length = 10 };
		expect_err(h, op(h, FUSE_FALLOCATE, node, &fa, sizeof(fa)), 0, "FALLOCATE mode 0xff00");
	}
	{
		struct fuse_copy_file_range_in cf = { .fh_in = oo.fh, .fh_out = oo.fh, .off_out = 5,
						       .len = UINT64_MAX, .flags = 0 };
		uint8_t out[64];
		int r = hx_req(h, FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf), 0, out, sizeof(out), NULL);

		print_message("%s: COPY_FILE_RANGE of 2^64-1 bytes onto itself: %d\n", h->backend, r);
		cf.flags = 1;
		expect_err(h, op(h, FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf)), EINVAL,
			   "COPY_FILE_RANGE flags 1");
	}
	hx_alive(h);
	H_OK(h, fe_fuse_release(h->fe, node, oo.fh, O_RDWR));
	assert_true(h_read_file(h, "f", back, sizeof(back)) >= 10);
	if (h_is(h, "vufsd"))
		assert_memory_equal(back, "0123456789", 10);
}

/* ---- forged credentials ---- */

/* CREATE parent/name as uid/gid; 0 or -errno. The handle is released, the node forgotten. */
static int create_as(struct h *h, uint32_t uid, uint32_t gid, uint64_t parent, const char *name)
{
	struct fuse_create_in ci = { .flags = O_CREAT | O_EXCL | O_WRONLY, .mode = S_IFREG | 0644 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	struct fe_fuse_call c;
	int r;

	fe_fuse_call_init(&c, FUSE_CREATE, parent);
	c.flags = FE_CALL_CREDS;
	c.uid = uid;
	c.gid = gid;
	c.pid = (uint32_t)getpid();
	c.nin = 2;
	c.in[0] = (struct fe_fuse_buf){ &ci, sizeof(ci) };
	c.in[1] = (struct fe_fuse_buf){ name, (uint32_t)strlen(name) + 1 };
	c.out = &out;
	c.out_size = sizeof(out);
	r = fe_fuse_call(h->fe, &c);
	if (!r) {
		fe_fuse_release(h->fe, out.e.nodeid, out.o.fh, O_WRONLY);
		fe_fuse_forget(h->fe, out.e.nodeid, 1);
	}
	return r;
}

static void test_forged_credentials(void **state)
{
	struct h *h = H_STATE(state);
	static const struct {
		uint32_t uid, gid;
		const char *dir;
		const char *name;
	} cases[] = {
		/* (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setresuid/setresgid. */
		{ 0xffffffffu, 0xffffffffu, "rootdir", "as-uid-minus-1" },
		{ 0xffffffffu, 1000, "rootdir", "as-uid-minus-1-gid-1000" },
		{ 1000, 0xffffffffu, "opendir", "as-gid-minus-1" },
		{ 0xfffffffeu, 0xfffffffeu, "rootdir", "as-uid-fffffffe" },
		{ 65534, 65534, "rootdir", "as-nobody" },
		{ 1000, 1000, "opendir", "as-1000" },
	};
	char failures[2048] = "";
	uint64_t dirs[2];

	if (geteuid() != 0)
		skip();
	/* Only root may create in rootdir (no group or other write); anyone in opendir. */
	h_mkdir(h, "rootdir", 0755);
	h_mkdir(h, "opendir", 0777);
	dirs[0] = h_lookup(h, "rootdir", NULL);
	dirs[1] = h_lookup(h, "opendir", NULL);
	/* The baseline: an ordinary user may not create in rootdir. */
	H_ERR(h, create_as(h, 1000, 1000, dirs[0], "as-1000"), EACCES);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool rootdir = !strcmp(cases[i].dir, "rootdir");
		char rel[96];
		struct stat st;
		int r = create_as(h, cases[i].uid, cases[i].gid, dirs[rootdir ? 0 : 1], cases[i].name);
		size_t l = strlen(failures);

		snprintf(rel, sizeof(rel), "%s/%s", cases[i].dir, cases[i].name);
		print_message("%s: CREATE in %s as uid 0x%x gid 0x%x: %d\n", h->backend, cases[i].dir,
			      cases[i].uid, cases[i].gid, r);
		if (fe_broken(h->fe))
			HX_FAIL(h, "connection broken: %s", fe_strerror(h->fe));
		if (r == 0 && lstat(h_path(h, rel), &st) == 0 &&
		    (rootdir || (st.st_uid == 0 && cases[i].uid != 0) ||
		     (st.st_gid == 0 && cases[i].gid != 0)))
			snprintf(failures + l, sizeof(failures) - l,
				 "\n  uid 0x%x gid 0x%x created %s (owner %u:%u): "
				 "it ran with the daemon's ids",
				 cases[i].uid, cases[i].gid, rel, st.st_uid, st.st_gid);
		hx_alive(h);
	}
	if (failures[0])
		HX_FAIL(h, "forged credentials bypass the permission checks:%s", failures);
}

/* ---- FORGET racing requests on the other queues ---- */

struct racecall {
	struct fe_fuse_call c;
	union {
		struct fuse_getattr_in getattr;
		struct fuse_open_in open;
		struct fuse_forget_in forget;
		struct fuse_read_in read;
	} in;
	union {
		struct fuse_attr_out attr;
		struct fuse_open_out open;
		uint8_t data[64];
	} out;
};

static void test_forget_races_requests_on_other_queues(void **state)
{
	struct h *h = H_STATE(state);
	struct racecall *rc = calloc(6, sizeof(*rc));
	struct fe_opts o;
	unsigned long stale = 0, served = 0;

	assert_non_null(rc);
	fe_opts_default(&o);
	o.nqueues = 3; /* hiprio + two request queues, each with its own daemon thread */
	h_write_file(h, "f", "0123456789", 10);
	h_start(h, &o, true);
	for (int iter = 0; iter < 400; iter++) {
		struct fuse_entry_out e;
		uint64_t fhs[6];
		unsigned int nfh = 0;

		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
		/* The guest drops its only reference while it still uses the node elsewhere. */
		for (int k = 0; k < 6; k++) {
			struct racecall *r = &rc[k];

			memset(r, 0, sizeof(*r));
			switch (k) {
			case 0:
				fe_fuse_call_init(&r->c, FUSE_FORGET, e.nodeid);
				r->c.queue = FE_QUEUE_HIPRIO;
				r->c.flags = FE_CALL_NOREPLY;
				r->in.forget.nlookup = 1;
				r->c.in[0] = (struct fe_fuse_buf){ &r->in.forget, sizeof(r->in.forget) };
				break;
			case 1:
			case 2:
				fe_fuse_call_init(&r->c, FUSE_GETATTR, e.nodeid);
				r->c.queue = k;
				r->c.in[0] = (struct fe_fuse_buf){ &r->in.getattr, sizeof(r->in.getattr) };
				r->c.out = &r->out.attr;
				r->c.out_size = sizeof(r->out.attr);
				break;
			default:
				fe_fuse_call_init(&r->c, FUSE_OPEN, e.nodeid);
				r->c.queue = 1 + (k & 1);
				r->in.open.flags = O_RDONLY;
				r->c.in[0] = (struct fe_fuse_buf){ &r->in.open, sizeof(r->in.open) };
				r->c.out = &r->out.open;
				r->c.out_size = sizeof(r->out.open);
				break;
			}
			r->c.nin = 1;
		}
		/* Requests first on alternating iterations, the FORGET first on the others. */
		for (int k = 0; k < 6; k++) {
			struct racecall *r = &rc[(iter & 1) ? k : 5 - k];

			H_OK(h, fe_fuse_submit(h->fe, &r->c));
		}
		for (int k = 0; k < 6; k++) {
			struct fe_fuse_call *done;

			H_OK(h, fe_fuse_wait_any(h->fe, &done, HX_REPLY_MS));
			if (done->opcode == FUSE_FORGET)
				continue;
			if (done->error == 0)
				served++;
			else
				stale++;
			if (done->opcode == FUSE_OPEN && done->error == 0)
				fhs[nfh++] = ((struct racecall *)done)->out.open.fh;
		}
		/* Handles outlive the node's lookup count: they still read. */
		for (unsigned int i = 0; i < nfh; i++) {
			char buf[16];

			assert_int_equal(fe_fuse_read(h->fe, e.nodeid, fhs[i], 0, buf, sizeof(buf)), 10);
			H_OK(h, fe_fuse_release(h->fe, e.nodeid, fhs[i], O_RDONLY));
		}
	}
	print_message("%s: %lu requests served, %lu refused as stale\n", h->backend, served, stale);
	free(rc);
	hx_alive(h);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_in_len_larger_than_chain),
		T(test_in_len_smaller_than_chain),
		T(test_in_len_below_header),
		T(test_truncated_arguments),
		T(test_unknown_opcodes),
		TL(test_requests_before_init),
		T(test_second_init),
		T(test_forged_nodeids),
		T(test_forged_file_handles),
		T(test_read_sizes),
		T(test_write_sizes),
		T(test_names),
		T(test_forget_huge_nlookup),
		T(test_batch_forget_count_exceeds_data),
		TL(test_setxattr_size_mismatch),
		T(test_readdir_huge_offsets_and_sizes),
		T(test_rename2_unknown_flags),
		T(test_out_of_range_arguments),
		T(test_forged_credentials),
		TL(test_forget_races_requests_on_other_queues),
	};

	return cmocka_run_group_tests_name("hostile_fuse", tests, NULL, NULL);
}
