// SPDX-License-Identifier: MIT
/*
 * The less common opcodes and session features: extended attributes (with
 * --xattr), POSIX/OFD and flock locks (GETLK/SETLK/SETLKW, asynchronous
 * waits, INTERRUPT), FALLOCATE, LSEEK, COPY_FILE_RANGE, TMPFILE, SYNCFS,
 * RENAME2 flags, HANDLE_KILLPRIV_V2, caller credentials and the opcodes that
 * are not served. Every effect is checked on the host as well.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define KIB (1u << 10)
#define MIB (1u << 20)
/* The kernel's OFFSET_MAX: a lock to the end of the file. */
#define LK_EOF ((uint64_t)INT64_MAX)
/* Guest process ids put in fuse_lk_in.lk.pid (what GETLK must report back). */
#define PID1 4242u
#define PID2 5353u
#define GUEST_UID 1000u
#define GUEST_GID 1000u
#define OTHER_GID 2000u

/* INIT flags of a guest that uses host locks and lets the server clear set-ID bits. */
#define EXT_INIT_FLAGS \
	(FE_FUSE_INIT_FLAGS | FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS | FUSE_HANDLE_KILLPRIV_V2)

/* ---- helpers ----------------------------------------------------------- */

/*
 * Start the backend with extra arguments (NULL: none) and FUSE_INIT with
 * the lock and KILLPRIV_V2 flags. Extra arguments exist for vufsd only (the
 * other backends spell them differently): skipped elsewhere.
 */
static void ext_start(struct h *h, const char *extra)
{
	struct fuse_init_out o;

	if (extra) {
		char *t;

		if (!h_is(h, "vufsd"))
			skip();
		if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
			fail_msg("out of memory");
		free(h->tmpl);
		h->tmpl = t;
	}
	h_start(h, NULL, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				EXT_INIT_FLAGS, &o));
	assert_int_equal(o.major, FUSE_KERNEL_VERSION);
}

static bool granted(struct h *h, uint64_t flag)
{
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);

	return ((uint64_t)c->flags | ((uint64_t)c->flags2 << 32)) & flag;
}

static void host_stat(struct h *h, const char *rel, struct stat *st)
{
	if (lstat(h_path(h, rel), st) < 0)
		fail_msg("host: lstat %s: %s", rel, strerror(errno));
}

static mode_t host_mode(struct h *h, const char *rel)
{
	struct stat st;

	host_stat(h, rel, &st);
	return st.st_mode & 07777;
}

static void host_chmod(struct h *h, const char *rel, mode_t mode)
{
	if (chmod(h_path(h, rel), mode) < 0)
		fail_msg("host: chmod %s: %s", rel, strerror(errno));
}

static void host_chown(struct h *h, const char *rel, uid_t uid, gid_t gid)
{
	if (chown(h_path(h, rel), uid, gid) < 0)
		fail_msg("host: chown %s: %s", rel, strerror(errno));
}

static void need_root(const char *why)
{
	if (geteuid() != 0) {
		print_message("needs root (%s)\n", why);
		skip();
	}
}

static void become(struct h *h, uint32_t uid, uint32_t gid)
{
	fe_fuse_set_creds(h->fe, uid, gid, (uint32_t)getpid());
}

/* ---- extended attributes ----------------------------------------------- */

static int setxattr_raw(struct h *h, uint64_t nodeid, const char *name, const void *val,
			uint32_t len, uint32_t size_field, uint32_t flags)
{
	/* No FUSE_SETXATTR_EXT: the 8-byte compat struct (size, flags). */
	struct fuse_setxattr_in si = { .size = size_field, .flags = flags };
	struct h_xbuf in[3] = {
		{ &si, FUSE_COMPAT_SETXATTR_IN_SIZE },
		{ name, (uint32_t)strlen(name) + 1 },
		{ val, len },
	};

	return h_xreq(h, FUSE_SETXATTR, nodeid, in, len ? 3 : 2, NULL, 0, NULL);
}

static int set_xattr(struct h *h, uint64_t nodeid, const char *name, const char *val,
		     uint32_t flags)
{
	return setxattr_raw(h, nodeid, name, val, (uint32_t)strlen(val), (uint32_t)strlen(val),
			    flags);
}

/* GETXATTR with buffer size size (0: the size probe); returns the value length. */
static int get_xattr(struct h *h, uint64_t nodeid, const char *name, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct fuse_getxattr_out go;
	struct h_xbuf in[2] = { { &gi, sizeof(gi) }, { name, (uint32_t)strlen(name) + 1 } };
	uint32_t len = 0;
	int r;

	if (!size) {
		r = h_xreq(h, FUSE_GETXATTR, nodeid, in, 2, &go, sizeof(go), &len);
		if (r)
			return r;
		assert_int_equal(len, sizeof(go));
		return (int)go.size;
	}
	r = h_xreq(h, FUSE_GETXATTR, nodeid, in, 2, buf, size, &len);
	return r ? r : (int)len;
}

static int list_xattr(struct h *h, uint64_t nodeid, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct fuse_getxattr_out go;
	struct h_xbuf in[1] = { { &gi, sizeof(gi) } };
	uint32_t len = 0;
	int r;

	if (!size) {
		r = h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, &go, sizeof(go), &len);
		if (r)
			return r;
		assert_int_equal(len, sizeof(go));
		return (int)go.size;
	}
	r = h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, buf, size, &len);
	return r ? r : (int)len;
}

static int remove_xattr(struct h *h, uint64_t nodeid, const char *name)
{
	struct h_xbuf in[1] = { { name, (uint32_t)strlen(name) + 1 } };

	return h_xreq(h, FUSE_REMOVEXATTR, nodeid, in, 1, NULL, 0, NULL);
}

static bool list_has(const char *list, size_t len, const char *name)
{
	for (size_t off = 0; off < len; off += strlen(list + off) + 1)
		if (!strcmp(list + off, name))
			return true;
	return false;
}

static void test_xattr_roundtrip(void **state)
{
	struct h *h = H_STATE(state);
	char buf[256], list[256];
	uint64_t n;
	ssize_t hn;
	int len;

	h_write_file(h, "f", "data", 4);
	ext_start(h, "--xattr");
	n = h_lookup(h, "f", NULL);

	H_OK(h, set_xattr(h, n, "user.x", "hello", 0));
	hn = getxattr(h_path(h, "f"), "user.x", buf, sizeof(buf));
	assert_int_equal(hn, 5);
	assert_memory_equal(buf, "hello", 5);

	/* Size probe, exact read, too small, missing. */
	assert_int_equal(get_xattr(h, n, "user.x", NULL, 0), 5);
	assert_int_equal(get_xattr(h, n, "user.x", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(get_xattr(h, n, "user.x", buf, 5), 5);
	H_ERR(h, get_xattr(h, n, "user.x", buf, 2), ERANGE);
	H_ERR(h, get_xattr(h, n, "user.missing", buf, sizeof(buf)), ENODATA);
	H_ERR(h, get_xattr(h, n, "user.missing", NULL, 0), ENODATA);

	/* XATTR_CREATE / XATTR_REPLACE. */
	H_ERR(h, set_xattr(h, n, "user.x", "again", XATTR_CREATE), EEXIST);
	H_ERR(h, set_xattr(h, n, "user.nope", "v", XATTR_REPLACE), ENODATA);
	assert_int_equal(getxattr(h_path(h, "f"), "user.nope", buf, sizeof(buf)), -1);
	H_OK(h, set_xattr(h, n, "user.x", "world!", XATTR_REPLACE));
	assert_int_equal(getxattr(h_path(h, "f"), "user.x", buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	H_OK(h, set_xattr(h, n, "user.y", "y", XATTR_CREATE));
	/* An empty value is a value. */
	H_OK(h, setxattr_raw(h, n, "user.empty", NULL, 0, 0, 0));
	assert_int_equal(getxattr(h_path(h, "f"), "user.empty", buf, sizeof(buf)), 0);

	/* Set on the host, seen by the guest. */
	assert_int_equal(setxattr(h_path(h, "f"), "user.host", "H", 1, 0), 0);
	assert_int_equal(get_xattr(h, n, "user.host", buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'H');

	/* LISTXATTR: probe, then the names. */
	len = list_xattr(h, n, NULL, 0);
	H_OK(h, len);
	hn = listxattr(h_path(h, "f"), list, sizeof(list));
	assert_int_equal(len, hn);
	memset(list, 0, sizeof(list));
	assert_int_equal(list_xattr(h, n, list, sizeof(list)), len);
	assert_true(list_has(list, (size_t)len, "user.x"));
	assert_true(list_has(list, (size_t)len, "user.y"));
	assert_true(list_has(list, (size_t)len, "user.empty"));
	assert_true(list_has(list, (size_t)len, "user.host"));
	H_ERR(h, list_xattr(h, n, list, 3), ERANGE);

	/* REMOVEXATTR. */
	H_OK(h, remove_xattr(h, n, "user.x"));
	assert_int_equal(getxattr(h_path(h, "f"), "user.x", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	H_ERR(h, get_xattr(h, n, "user.x", buf, sizeof(buf)), ENODATA);
	H_ERR(h, remove_xattr(h, n, "user.x"), ENODATA);
	len = list_xattr(h, n, list, sizeof(list));
	H_OK(h, len);
	assert_false(list_has(list, (size_t)len, "user.x"));

	/* Directories carry them too. */
	H_OK(h, set_xattr(h, FUSE_ROOT_ID, "user.dir", "d", 0));
	assert_int_equal(getxattr(h->share, "user.dir", buf, sizeof(buf)), 1);
	assert_int_equal(get_xattr(h, FUSE_ROOT_ID, "user.dir", buf, sizeof(buf)), 1);
}

static void test_xattr_bad_requests(void **state)
{
	struct h *h = H_STATE(state);
	char name[XATTR_NAME_MAX + 8], buf[16];
	uint8_t *big;
	uint64_t n;

	h_write_file(h, "f", "data", 4);
	ext_start(h, "--xattr");
	n = h_lookup(h, "f", NULL);

	/* The size field must describe the value that follows the name. */
	H_ERR(h, setxattr_raw(h, n, "user.a", "hello", 5, 10, 0), EINVAL);
	H_ERR(h, setxattr_raw(h, n, "user.a", "hello", 5, 3, 0), EINVAL);
	H_ERR(h, setxattr_raw(h, n, "user.a", NULL, 0, 4, 0), EINVAL);
	assert_int_equal(getxattr(h_path(h, "f"), "user.a", buf, sizeof(buf)), -1);

	/* Values beyond XATTR_SIZE_MAX (64 KiB). */
	big = calloc(1, XATTR_SIZE_MAX + 1);
	assert_non_null(big);
	H_ERR(h, setxattr_raw(h, n, "user.big", big, XATTR_SIZE_MAX + 1, XATTR_SIZE_MAX + 1, 0),
	      E2BIG);
	free(big);
	/* A huge size field with a short value. */
	H_ANY_ERR(h, setxattr_raw(h, n, "user.big", "x", 1, UINT32_MAX, 0));

	/* Empty and over-long names. */
	H_ANY_ERR(h, setxattr_raw(h, n, "", "v", 1, 1, 0));
	H_ANY_ERR(h, get_xattr(h, n, "", buf, sizeof(buf)));
	H_ANY_ERR(h, remove_xattr(h, n, ""));
	memset(name, 'a', sizeof(name) - 1);
	memcpy(name, "user.", 5);
	name[sizeof(name) - 1] = 0;
	H_ANY_ERR(h, set_xattr(h, n, name, "v", 0));
	H_ANY_ERR(h, get_xattr(h, n, name, buf, sizeof(buf)));
	/* A name without its NUL (the value's bytes follow directly). */
	{
		struct fuse_getxattr_in gi = { .size = sizeof(buf) };
		struct h_xbuf in[2] = { { &gi, sizeof(gi) }, { "user.x", 6 } };

		H_ANY_ERR(h, h_xreq(h, FUSE_GETXATTR, n, in, 2, buf, sizeof(buf), NULL));
	}
	/* Unknown flags reach the host, which refuses them. */
	H_ANY_ERR(h, set_xattr(h, n, "user.f", "v", 0x100));
	H_OK(h, fe_fuse_getattr(h->fe, n, NULL, NULL));
}

static void test_xattr_disabled(void **state)
{
	struct h *h = H_STATE(state);
	char buf[64];
	uint64_t n;

	h_write_file(h, "f", "data", 4);
	assert_int_equal(setxattr(h_path(h, "f"), "user.host", "H", 1, 0), 0);
	ext_start(h, NULL);
	n = h_lookup(h, "f", NULL);
	/* Without --xattr every xattr opcode says ENOSYS (the guest then stops asking). */
	if (h_is(h, "vufsd")) {
		H_ERR(h, set_xattr(h, n, "user.x", "v", 0), ENOSYS);
		H_ERR(h, get_xattr(h, n, "user.host", buf, sizeof(buf)), ENOSYS);
		H_ERR(h, get_xattr(h, n, "user.host", NULL, 0), ENOSYS);
		H_ERR(h, list_xattr(h, n, buf, sizeof(buf)), ENOSYS);
		H_ERR(h, remove_xattr(h, n, "user.host"), ENOSYS);
	} else {
		H_ANY_ERR(h, set_xattr(h, n, "user.x", "v", 0));
	}
	assert_int_equal(getxattr(h_path(h, "f"), "user.x", buf, sizeof(buf)), -1);
	assert_int_equal(getxattr(h_path(h, "f"), "user.host", buf, sizeof(buf)), 1);
}

/* ---- locks -------------------------------------------------------------- */

static void lk_fill(struct fuse_lk_in *in, uint64_t fh, uint32_t type, uint64_t start, uint64_t end,
		    uint32_t pid, uint32_t lk_flags)
{
	memset(in, 0, sizeof(*in));
	in->fh = fh;
	in->owner = fh * 7919 + pid;
	in->lk.type = type;
	in->lk.start = start;
	in->lk.end = end;
	in->lk.pid = pid;
	in->lk_flags = lk_flags;
}

static int setlk(struct h *h, uint64_t nodeid, uint64_t fh, uint32_t type, uint64_t start,
		 uint64_t end, uint32_t pid)
{
	struct fuse_lk_in in;
	struct h_xbuf b[1] = { { &in, sizeof(in) } };

	lk_fill(&in, fh, type, start, end, pid, 0);
	return h_xreq(h, FUSE_SETLK, nodeid, b, 1, NULL, 0, NULL);
}

static int flk(struct h *h, uint64_t nodeid, uint64_t fh, uint32_t type)
{
	struct fuse_lk_in in;
	struct h_xbuf b[1] = { { &in, sizeof(in) } };

	lk_fill(&in, fh, type, 0, LK_EOF, PID1, FUSE_LK_FLOCK);
	return h_xreq(h, FUSE_SETLK, nodeid, b, 1, NULL, 0, NULL);
}

static int getlk(struct h *h, uint64_t nodeid, uint64_t fh, uint32_t type, uint64_t start,
		 uint64_t end, uint32_t pid, struct fuse_file_lock *res)
{
	struct fuse_lk_in in;
	struct fuse_lk_out out;
	struct h_xbuf b[1] = { { &in, sizeof(in) } };
	uint32_t len = 0;
	int r;

	lk_fill(&in, fh, type, start, end, pid, 0);
	memset(&out, 0xee, sizeof(out));
	r = h_xreq(h, FUSE_GETLK, nodeid, b, 1, &out, sizeof(out), &len);
	if (r)
		return r;
	assert_int_equal(len, sizeof(out));
	*res = out.lk;
	return 0;
}

/* Submit a SETLKW (or a flock wait with FUSE_LK_FLOCK) without waiting for it. */
static void setlkw_submit(struct h *h, struct fe_fuse_call *c, uint64_t nodeid, uint64_t fh,
			  uint32_t type, uint64_t start, uint64_t end, uint32_t pid,
			  uint32_t lk_flags)
{
	struct fuse_lk_in in;

	lk_fill(&in, fh, type, start, end, pid, lk_flags);
	fe_fuse_call_init(c, FUSE_SETLKW, nodeid);
	c->in[0] = (struct fe_fuse_buf){ &in, sizeof(in) };
	c->nin = 1;
	/* The arguments are copied into guest memory here: in may go. */
	H_OK(h, fe_fuse_submit(h->fe, c));
}

/* A round trip on the request queue: every earlier request there has been taken and handled. */
static void barrier(struct h *h)
{
	struct fuse_attr_out ao;

	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, &ao));
	assert_true(S_ISDIR(ao.attr.mode));
}

/* INTERRUPT goes on the high-priority queue and is never answered. */
static int interrupt_hiprio(struct h *h, uint64_t unique)
{
	struct fuse_interrupt_in in = { .unique = unique };
	struct fe_fuse_call c;
	int r;

	fe_fuse_call_init(&c, FUSE_INTERRUPT, 0);
	c.queue = FE_QUEUE_HIPRIO;
	c.flags = FE_CALL_REPLY_OPTIONAL;
	c.in[0] = (struct fe_fuse_buf){ &in, sizeof(in) };
	c.nin = 1;
	r = fe_fuse_call(h->fe, &c);
	if (!r && c.replied)
		fail_msg("INTERRUPT was answered (error %d)", c.error);
	return r;
}

/*
 * Interrupt the waiting SETLKW w and expect -EINTR. The daemon's waiter
 * thread may not have reached its blocking call yet when the INTERRUPT
 * lands (it then misses the signal and keeps waiting: see the report), so
 * give it time first, and turn a lost interrupt into a clear failure
 * instead of a 10 s timeout that breaks the connection.
 */
static void interrupt_waiter(struct h *h, struct fe_fuse_call *w, uint64_t holder_node,
			     uint64_t holder_fh, bool flock_holder)
{
	usleep(100 * 1000);
	assert_false(w->done);
	H_OK(h, interrupt_hiprio(h, w->unique));
	for (int i = 0; i < 100 && !w->done; i++) {
		usleep(20 * 1000);
		barrier(h);
	}
	if (!w->done) {
		/* Let it through so that the connection survives, then fail. */
		if (flock_holder)
			H_OK(h, flk(h, holder_node, holder_fh, F_UNLCK));
		else
			H_OK(h, setlk(h, holder_node, holder_fh, F_UNLCK, 0, LK_EOF, PID1));
		fe_fuse_wait(h->fe, w, -1);
		fail_msg("INTERRUPT of a waiting SETLKW (unique %llu) was lost: it kept waiting",
			 (unsigned long long)w->unique);
	}
	H_ERR(h, fe_fuse_wait(h->fe, w, -1), EINTR);
}

/* Two opens of one file: the two lock owners of most tests. */
struct two {
	uint64_t node;
	uint64_t fh1, fh2;
};

static void two_opens(struct h *h, struct two *t)
{
	struct fuse_open_out oo;
	uint8_t data[4096];

	h_pattern(data, sizeof(data), 1);
	h_write_file(h, "f", data, sizeof(data));
	ext_start(h, NULL);
	assert_true(granted(h, FUSE_POSIX_LOCKS));
	assert_true(granted(h, FUSE_FLOCK_LOCKS));
	t->node = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, t->node, O_RDWR, &oo));
	t->fh1 = oo.fh;
	H_OK(h, fe_fuse_open(h->fe, t->node, O_RDWR, &oo));
	t->fh2 = oo.fh;
	assert_true(t->fh1 != t->fh2);
}

static void two_close(struct h *h, struct two *t)
{
	H_OK(h, fe_fuse_release(h->fe, t->node, t->fh1, O_RDWR));
	H_OK(h, fe_fuse_release(h->fe, t->node, t->fh2, O_RDWR));
}

static void test_lock_posix(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_file_lock l;
	struct two t;

	two_opens(h, &t);
	H_OK(h, setlk(h, t.node, t.fh1, F_WRLCK, 0, 99, PID1));
	/* A conflicting lock from the other open file, write or read. */
	H_ERR(h, setlk(h, t.node, t.fh2, F_WRLCK, 50, 150, PID2), EAGAIN);
	H_ERR(h, setlk(h, t.node, t.fh2, F_RDLCK, 99, 99, PID2), EAGAIN);
	/* GETLK names the holder: range and the guest pid its SETLK carried. */
	H_OK(h, getlk(h, t.node, t.fh2, F_WRLCK, 50, 150, PID2, &l));
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 0);
	assert_int_equal(l.end, 99);
	assert_int_equal(l.pid, PID1);
	H_OK(h, getlk(h, t.node, t.fh2, F_RDLCK, 0, LK_EOF, PID2, &l));
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.pid, PID1);
	/* No conflict: F_UNLCK comes back. */
	H_OK(h, getlk(h, t.node, t.fh2, F_WRLCK, 100, 200, PID2, &l));
	assert_int_equal(l.type, F_UNLCK);
	/* Its own lock never conflicts with itself. */
	H_OK(h, getlk(h, t.node, t.fh1, F_WRLCK, 0, 99, PID1, &l));
	assert_int_equal(l.type, F_UNLCK);

	/* A range next to it is free. */
	H_OK(h, setlk(h, t.node, t.fh2, F_WRLCK, 100, 199, PID2));
	H_OK(h, getlk(h, t.node, t.fh1, F_RDLCK, 0, LK_EOF, PID1, &l));
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 100);
	assert_int_equal(l.end, 199);
	assert_int_equal(l.pid, PID2);

	/* Unlock, then the other side gets it. */
	H_OK(h, setlk(h, t.node, t.fh1, F_UNLCK, 0, 99, PID1));
	H_OK(h, setlk(h, t.node, t.fh2, F_WRLCK, 0, 99, PID2));
	H_OK(h, getlk(h, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1, &l));
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.pid, PID2);
	H_OK(h, setlk(h, t.node, t.fh2, F_UNLCK, 0, LK_EOF, PID2));
	H_OK(h, getlk(h, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1, &l));
	assert_int_equal(l.type, F_UNLCK);

	/* Read locks share; a write lock then conflicts with either. */
	H_OK(h, setlk(h, t.node, t.fh1, F_RDLCK, 0, LK_EOF, PID1));
	H_OK(h, setlk(h, t.node, t.fh2, F_RDLCK, 10, 20, PID2));
	H_ERR(h, setlk(h, t.node, t.fh2, F_WRLCK, 10, 20, PID2), EAGAIN);
	H_OK(h, getlk(h, t.node, t.fh2, F_WRLCK, 0, 5, PID2, &l));
	assert_int_equal(l.type, F_RDLCK);
	assert_int_equal(l.end, LK_EOF);
	assert_int_equal(l.pid, PID1);
	/* Closing an open file drops its locks. */
	H_OK(h, fe_fuse_release(h->fe, t.node, t.fh1, O_RDWR));
	H_OK(h, setlk(h, t.node, t.fh2, F_WRLCK, 0, LK_EOF, PID2));

	/* Malformed locks. */
	H_ERR(h, setlk(h, t.node, t.fh2, 77, 0, 1, PID2), EINVAL);
	H_ERR(h, setlk(h, t.node, t.fh2, F_WRLCK, 10, 5, PID2), EINVAL);
	H_ERR(h, getlk(h, t.node, t.fh2, 77, 0, 1, PID2, &l), EINVAL);
	H_ERR(h, setlk(h, t.node, 0xdead0000beefull, F_WRLCK, 0, 1, PID2), EBADF);
	H_ERR(h, getlk(h, t.node, 0xdead0000beefull, F_WRLCK, 0, 1, PID2, &l), EBADF);
	H_OK(h, fe_fuse_release(h->fe, t.node, t.fh2, O_RDWR));
}

/* A host process holding a POSIX lock and a flock on a file, until told to let go. */
struct host_locker {
	pid_t pid;
	int to_child;
	int from_child;
};

static void host_locker_start(const char *path, struct host_locker *hl)
{
	int down[2], up[2];
	char c = 0;

	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		fail_msg("pipe: %s", strerror(errno));
	hl->pid = fork();
	if (hl->pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (hl->pid == 0) {
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100
		};
		int fd;

		close(down[1]);
		close(up[0]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		/* Hold until the parent closes its end (or dies). */
		while (read(down[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	hl->to_child = down[1];
	hl->from_child = up[0];
	if (read(hl->from_child, &c, 1) != 1 || c != 1) {
		close(hl->to_child);
		close(hl->from_child);
		waitpid(hl->pid, NULL, 0);
		fail_msg("host locker could not take its locks");
	}
}

static void host_locker_stop(struct host_locker *hl)
{
	int status = 0;

	close(hl->to_child);
	close(hl->from_child);
	if (waitpid(hl->pid, &status, 0) != hl->pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("host locker exited badly (status 0x%x)", status);
}

static void test_lock_host_process(void **state)
{
	struct h *h = H_STATE(state);
	struct host_locker hl;
	struct fuse_file_lock l = { 0 };
	int r_set, r_get, r_flock, r_get_free;
	struct two t;

	two_opens(h, &t);
	host_locker_start(h_path(h, "f"), &hl);
	/* Collect the answers first: the child must be released even when they are wrong. */
	r_set = setlk(h, t.node, t.fh1, F_WRLCK, 50, 60, PID1);
	r_get = getlk(h, t.node, t.fh1, F_RDLCK, 0, LK_EOF, PID1, &l);
	r_flock = flk(h, t.node, t.fh1, F_WRLCK);
	r_get_free = setlk(h, t.node, t.fh1, F_WRLCK, 100, 200, PID1);
	host_locker_stop(&hl);

	H_ERR(h, r_set, EAGAIN);
	H_OK(h, r_get);
	/* A host process holds it: the range, and pid 0 (not a guest process). */
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 0);
	assert_int_equal(l.end, 99);
	assert_int_equal(l.pid, 0);
	H_ERR(h, r_flock, EWOULDBLOCK);
	H_OK(h, r_get_free);

	/* The host process is gone and so are its locks. */
	H_OK(h, setlk(h, t.node, t.fh1, F_WRLCK, 0, 99, PID1));
	H_OK(h, flk(h, t.node, t.fh1, F_WRLCK));
	/* And the guest's lock is visible to the host. */
	{
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10
		};
		int fd = open(h_path(h, "f"), O_RDWR | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
		assert_int_equal(fl.l_type, F_WRLCK);
		assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
		assert_int_equal(errno, EWOULDBLOCK);
		close(fd);
	}
	two_close(h, &t);
}

static void test_lock_setlkw_async(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_fuse_call w;
	struct fuse_file_lock l;
	uint64_t t0;
	struct two t;

	two_opens(h, &t);
	H_OK(h, setlk(h, t.node, t.fh1, F_WRLCK, 0, 99, PID1));
	setlkw_submit(h, &w, t.node, t.fh2, F_WRLCK, 50, 149, PID2, 0);
	t0 = fe_now_ns();
	/* Meanwhile the same queue keeps answering. */
	for (int i = 0; i < 5; i++) {
		struct fuse_attr_out ao;
		char buf[64];

		H_OK(h, fe_fuse_getattr(h->fe, t.node, NULL, &ao));
		assert_int_equal(fe_fuse_read(h->fe, t.node, t.fh1, 0, buf, sizeof(buf)),
				 sizeof(buf));
		H_OK(h, getlk(h, t.node, t.fh2, F_WRLCK, 0, 10, PID2, &l));
		assert_int_equal(l.pid, PID1);
		usleep(60 * 1000);
	}
	assert_true(fe_now_ns() - t0 >= 300ull * 1000 * 1000);
	barrier(h);
	assert_false(w.done);
	assert_int_equal(fe_vq_inflight(h->fe, FE_QUEUE_REQUEST), 1);
	/* The unlock arrives on the same queue and lets the waiter through. */
	H_OK(h, setlk(h, t.node, t.fh1, F_UNLCK, 0, 99, PID1));
	H_OK(h, fe_fuse_wait(h->fe, &w, -1));
	assert_true(w.replied);
	assert_int_equal(w.out_len, 0);
	/* Now fh2 holds [50, 149] for PID2. */
	H_ERR(h, setlk(h, t.node, t.fh1, F_RDLCK, 149, 149, PID1), EAGAIN);
	H_OK(h, getlk(h, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1, &l));
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 50);
	assert_int_equal(l.end, 149);
	assert_int_equal(l.pid, PID2);

	/* A SETLKW that does not have to wait completes at once. */
	setlkw_submit(h, &w, t.node, t.fh1, F_WRLCK, 200, 300, PID1, 0);
	H_OK(h, fe_fuse_wait(h->fe, &w, -1));

	/* A waiter released by a host process's unlock. */
	{
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1000, .l_len = 1
		};
		int fd = open(h_path(h, "f"), O_RDWR | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
		setlkw_submit(h, &w, t.node, t.fh1, F_WRLCK, 1000, 1000, PID1, 0);
		usleep(100 * 1000);
		barrier(h);
		if (w.done) {
			close(fd);
			fail_msg("SETLKW against a host lock completed at once (%d)", w.error);
		}
		close(fd);
		H_OK(h, fe_fuse_wait(h->fe, &w, -1));
	}
	two_close(h, &t);
}

static void test_lock_setlkw_interrupt(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_fuse_call w;
	struct two t;

	two_opens(h, &t);
	H_OK(h, setlk(h, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1));
	setlkw_submit(h, &w, t.node, t.fh2, F_RDLCK, 0, 0, PID2, 0);
	barrier(h);
	/* An INTERRUPT for some other request changes nothing. */
	H_OK(h, interrupt_hiprio(h, w.unique + 1000));
	usleep(50 * 1000);
	barrier(h);
	assert_false(w.done);
	interrupt_waiter(h, &w, t.node, t.fh1, false);
	/* The lock was not taken; the holder still holds. */
	H_ERR(h, setlk(h, t.node, t.fh2, F_RDLCK, 0, 0, PID2), EAGAIN);
	H_OK(h, setlk(h, t.node, t.fh1, F_UNLCK, 0, LK_EOF, PID1));
	H_OK(h, setlk(h, t.node, t.fh2, F_RDLCK, 0, 0, PID2));

	/* A flock wait can be interrupted too. */
	H_OK(h, flk(h, t.node, t.fh1, F_WRLCK));
	setlkw_submit(h, &w, t.node, t.fh2, F_RDLCK, 0, LK_EOF, PID2, FUSE_LK_FLOCK);
	barrier(h);
	interrupt_waiter(h, &w, t.node, t.fh1, true);
	/* INTERRUPT of a request that already finished: ignored. */
	H_OK(h, interrupt_hiprio(h, w.unique));
	barrier(h);
	two_close(h, &t);
}

static void test_lock_flock(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_fuse_call w;
	struct two t;

	two_opens(h, &t);
	H_OK(h, flk(h, t.node, t.fh1, F_WRLCK));
	H_ERR(h, flk(h, t.node, t.fh2, F_WRLCK), EWOULDBLOCK);
	H_ERR(h, flk(h, t.node, t.fh2, F_RDLCK), EWOULDBLOCK);
	/* flock and byte-range locks are independent (as on Linux). */
	H_OK(h, setlk(h, t.node, t.fh2, F_WRLCK, 0, 9, PID2));
	H_OK(h, setlk(h, t.node, t.fh2, F_UNLCK, 0, 9, PID2));
	/* Unlock, retry. */
	H_OK(h, flk(h, t.node, t.fh1, F_UNLCK));
	H_OK(h, flk(h, t.node, t.fh2, F_WRLCK));
	H_ERR(h, flk(h, t.node, t.fh1, F_WRLCK), EWOULDBLOCK);
	/* A waiting LOCK_EX completes when the holder unlocks. */
	setlkw_submit(h, &w, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1, FUSE_LK_FLOCK);
	usleep(100 * 1000);
	barrier(h);
	assert_false(w.done);
	H_OK(h, flk(h, t.node, t.fh2, F_UNLCK));
	H_OK(h, fe_fuse_wait(h->fe, &w, -1));
	H_ERR(h, flk(h, t.node, t.fh2, F_RDLCK), EWOULDBLOCK);
	/* Shared locks share; an upgrade then has to wait. */
	H_OK(h, flk(h, t.node, t.fh1, F_RDLCK));
	H_OK(h, flk(h, t.node, t.fh2, F_RDLCK));
	H_ERR(h, flk(h, t.node, t.fh1, F_WRLCK), EWOULDBLOCK);
	H_OK(h, flk(h, t.node, t.fh2, F_UNLCK));
	H_OK(h, flk(h, t.node, t.fh1, F_WRLCK));
	/* The host sees the guest's flock. */
	{
		int fd = open(h_path(h, "f"), O_RDONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(flock(fd, LOCK_SH | LOCK_NB), -1);
		assert_int_equal(errno, EWOULDBLOCK);
		close(fd);
	}
	two_close(h, &t);
}

#define NWAIT 72 /* more than the daemon's 64 waiting locks */

static void test_lock_many_waiters(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_fuse_call *w = calloc(NWAIT, sizeof(*w));
	struct fe_opts opts;
	struct fuse_open_out oo;
	unsigned int waiting = 0, refused = 0;
	bool waited[NWAIT] = { false };
	uint64_t node, fh1;
	uint64_t fh[NWAIT / 8];

	assert_non_null(w);
	fe_opts_default(&opts);
	opts.queue_size = 256;
	h_write_file(h, "f", "x", 1);
	h_start(h, &opts, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				EXT_INIT_FLAGS, NULL));
	node = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));
	fh1 = oo.fh;
	for (unsigned int i = 0; i < NWAIT / 8; i++) {
		H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));
		fh[i] = oo.fh;
	}
	H_OK(h, setlk(h, node, fh1, F_WRLCK, 0, LK_EOF, PID1));
	/* Waiters spread over several open files, all blocked by fh1. */
	for (unsigned int i = 0; i < NWAIT; i++)
		setlkw_submit(h, &w[i], node, fh[i % (NWAIT / 8)], F_RDLCK, i, i, PID2 + i, 0);
	barrier(h);
	for (unsigned int i = 0; i < NWAIT; i++) {
		if (!w[i].done) {
			waiting++;
			continue;
		}
		if (w[i].error != -ENOLCK)
			fail_msg("SETLKW %u completed with %d while the lock was held", i,
				 w[i].error);
		refused++;
		H_ERR(h, fe_fuse_wait(h->fe, &w[i], -1), ENOLCK);
		waited[i] = true;
	}
	print_message("%u SETLKW waiting, %u refused with ENOLCK\n", waiting, refused);
	assert_int_equal(waiting + refused, NWAIT);
	assert_true(refused >= NWAIT - 64);
	assert_true(waiting >= 1);
	/* The daemon is fine and answers. */
	assert_int_equal(fe_backend_alive(h->be), 0);
	H_OK(h, fe_fuse_getattr(h->fe, node, NULL, NULL));
	/* One unlock lets every waiter through. */
	H_OK(h, setlk(h, node, fh1, F_UNLCK, 0, LK_EOF, PID1));
	for (unsigned int i = 0; i < NWAIT; i++) {
		/* Also those already reaped while waiting for others: each call is waited once. */
		if (!waited[i])
			H_OK(h, fe_fuse_wait(h->fe, &w[i], -1));
	}
	assert_int_equal(fe_vq_inflight(h->fe, FE_QUEUE_REQUEST), 0);
	/* And the slots are free again: a new waiter is accepted (and interrupted). */
	H_OK(h, setlk(h, node, fh1, F_WRLCK, 100000, 100000, PID1));
	setlkw_submit(h, &w[0], node, fh[0], F_WRLCK, 100000, 100000, PID2, 0);
	barrier(h);
	assert_false(w[0].done);
	H_OK(h, setlk(h, node, fh1, F_UNLCK, 100000, 100000, PID1));
	H_OK(h, fe_fuse_wait(h->fe, &w[0], -1));
	H_OK(h, fe_fuse_release(h->fe, node, fh1, O_RDWR));
	for (unsigned int i = 0; i < NWAIT / 8; i++)
		H_OK(h, fe_fuse_release(h->fe, node, fh[i], O_RDWR));
	free(w);
}

static void test_lock_exit_while_waiting(void **state)
{
	/* Still in flight when the test returns: it must outlive the stack frame. */
	static struct fe_fuse_call w;
	struct h *h = H_STATE(state);
	struct two t;

	two_opens(h, &t);
	H_OK(h, setlk(h, t.node, t.fh1, F_WRLCK, 0, LK_EOF, PID1));
	setlkw_submit(h, &w, t.node, t.fh2, F_WRLCK, 0, LK_EOF, PID2, 0);
	barrier(h);
	assert_false(w.done);
	/*
	 * The teardown disconnects with the SETLKW still waiting: the daemon
	 * must end the wait and exit with status 0 (checked there).
	 */
}

/* ---- FALLOCATE, LSEEK, COPY_FILE_RANGE ---------------------------------- */

static int fallocate_req(struct h *h, uint64_t node, uint64_t fh, uint32_t mode, uint64_t off,
			 uint64_t len)
{
	struct fuse_fallocate_in in = { .fh = fh, .offset = off, .length = len, .mode = mode };
	struct h_xbuf b[1] = { { &in, sizeof(in) } };

	return h_xreq(h, FUSE_FALLOCATE, node, b, 1, NULL, 0, NULL);
}

static void test_fallocate(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct stat st;
	uint8_t *data = malloc(MIB), *back = malloc(MIB);
	blkcnt_t before;

	assert_non_null(data);
	assert_non_null(back);
	ext_start(h, NULL);
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644,
			       &e, &oo));
	/* Mode 0 extends the file and allocates. */
	H_OK(h, fallocate_req(h, e.nodeid, oo.fh, 0, 0, MIB));
	host_stat(h, "f", &st);
	assert_int_equal(st.st_size, MIB);
	assert_true(st.st_blocks * 512 >= MIB);
	/* KEEP_SIZE beyond EOF: allocated, size unchanged. */
	H_OK(h, fallocate_req(h, e.nodeid, oo.fh, FALLOC_FL_KEEP_SIZE, MIB, MIB));
	host_stat(h, "f", &st);
	assert_int_equal(st.st_size, MIB);
	assert_true(st.st_blocks * 512 >= 2 * MIB);

	/* Real data, then punch the first half. */
	h_pattern(data, MIB, 3);
	{
		int fd = open(h_path(h, "f"), O_WRONLY | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, data, MIB, 0), MIB);
		assert_int_equal(fsync(fd), 0);
		close(fd);
	}
	host_stat(h, "f", &st);
	before = st.st_blocks;
	H_OK(h, fallocate_req(h, e.nodeid, oo.fh, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0,
			      MIB / 2));
	host_stat(h, "f", &st);
	assert_int_equal(st.st_size, MIB);
	assert_true(st.st_blocks < before);
	assert_true((before - st.st_blocks) * 512 >= MIB / 2);
	assert_int_equal(h_read_file(h, "f", back, MIB), MIB);
	for (size_t i = 0; i < MIB / 2; i++)
		if (back[i])
			fail_msg("byte %zu of the punched range is 0x%x", i, back[i]);
	assert_memory_equal(back + MIB / 2, data + MIB / 2, MIB / 2);

	/* Errors: bad handle, PUNCH_HOLE without KEEP_SIZE, read-only handle. */
	H_ERR(h, fallocate_req(h, e.nodeid, 0xdead0000beefull, 0, 0, 4096), EBADF);
	H_ANY_ERR(h, fallocate_req(h, e.nodeid, oo.fh, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	H_ANY_ERR(h, fallocate_req(h, e.nodeid, oo.fh, 0, 0, 0));
	H_ANY_ERR(h, fallocate_req(h, e.nodeid, oo.fh, 0, 1ull << 63, 4096));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_open(h->fe, e.nodeid, O_RDONLY, &oo));
	H_ERR(h, fallocate_req(h, e.nodeid, oo.fh, 0, 0, 2 * MIB), EBADF);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDONLY));
	host_stat(h, "f", &st);
	assert_int_equal(st.st_size, MIB);
	free(data);
	free(back);
}

static int64_t lseek_req(struct h *h, uint64_t node, uint64_t fh, uint64_t off, uint32_t whence)
{
	struct fuse_lseek_in in = { .fh = fh, .offset = off, .whence = whence };
	struct fuse_lseek_out out = { 0 };
	struct h_xbuf b[1] = { { &in, sizeof(in) } };
	uint32_t len = 0;
	int r;

	r = h_xreq(h, FUSE_LSEEK, node, b, 1, &out, sizeof(out), &len);
	if (r)
		return r;
	assert_int_equal(len, sizeof(out));
	return (int64_t)out.offset;
}

static void test_lseek(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint8_t data[4096];
	uint64_t node;
	int64_t r;
	int fd;

	/* A sparse host file: 2 MiB, one block of data at 1 MiB. */
	h_pattern(data, sizeof(data), 5);
	fd = open(h_path(h, "sparse"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * MIB), 0);
	assert_int_equal(pwrite(fd, data, sizeof(data), MIB), sizeof(data));
	assert_int_equal(fsync(fd), 0);
	close(fd);

	ext_start(h, NULL);
	node = h_lookup(h, "sparse", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDONLY, &oo));
	assert_int_equal(lseek_req(h, node, oo.fh, 0, SEEK_DATA), MIB);
	assert_int_equal(lseek_req(h, node, oo.fh, 4096, SEEK_DATA), MIB);
	assert_int_equal(lseek_req(h, node, oo.fh, MIB + 100, SEEK_DATA), MIB + 100);
	assert_int_equal(lseek_req(h, node, oo.fh, 0, SEEK_HOLE), 0);
	r = lseek_req(h, node, oo.fh, MIB, SEEK_HOLE);
	H_OK(h, (int)(r < 0 ? r : 0));
	assert_true(r >= MIB + 4096 && r <= 2 * MIB);
	/* Nothing but a hole after the data; and nothing at or past EOF. */
	H_ERR(h, (int)lseek_req(h, node, oo.fh, MIB + 4096, SEEK_DATA), ENXIO);
	H_ERR(h, (int)lseek_req(h, node, oo.fh, 2 * MIB, SEEK_DATA), ENXIO);
	H_ERR(h, (int)lseek_req(h, node, oo.fh, 3 * MIB, SEEK_DATA), ENXIO);
	H_ERR(h, (int)lseek_req(h, node, oo.fh, 3 * MIB, SEEK_HOLE), ENXIO);
	/* The plain whences work as well (the guest rarely asks). */
	assert_int_equal(lseek_req(h, node, oo.fh, 0, SEEK_END), 2 * MIB);
	assert_int_equal(lseek_req(h, node, oo.fh, 12345, SEEK_SET), 12345);
	/* Bad whence, offset and handle. */
	H_ERR(h, (int)lseek_req(h, node, oo.fh, 0, 7), EINVAL);
	H_ERR(h, (int)lseek_req(h, node, oo.fh, 0, 0xffffffffu), EINVAL);
	H_ANY_ERR(h, (int)lseek_req(h, node, oo.fh, 1ull << 63, SEEK_DATA));
	H_ERR(h, (int)lseek_req(h, node, 0xdead0000beefull, 0, SEEK_DATA), EBADF);
	H_OK(h, fe_fuse_release(h->fe, node, oo.fh, O_RDONLY));
}

static int copy_range(struct h *h, uint64_t node, uint64_t fh_in, uint64_t off_in, uint64_t fh_out,
		      uint64_t off_out, uint64_t len, uint64_t flags)
{
	struct fuse_copy_file_range_in in = {
		.fh_in = fh_in,
		.off_in = off_in,
		.nodeid_out = node,
		.fh_out = fh_out,
		.off_out = off_out,
		.len = len,
		.flags = flags,
	};
	struct fuse_write_out out = { 0 };
	struct h_xbuf b[1] = { { &in, sizeof(in) } };
	uint32_t olen = 0;
	int r;

	r = h_xreq(h, FUSE_COPY_FILE_RANGE, node, b, 1, &out, sizeof(out), &olen);
	if (r)
		return r;
	assert_int_equal(olen, sizeof(out));
	assert_true(out.size <= len);
	return (int)out.size;
}

static void test_copy_file_range(void **state)
{
	struct h *h = H_STATE(state);
	const size_t src_len = 200 * KIB, n = 100 * KIB;
	uint8_t *src = malloc(src_len), *dst = malloc(src_len + 8192), zero[8192] = { 0 };
	struct fuse_open_out oi, oo;
	uint64_t sn, dn, done = 0;
	struct stat st;

	assert_non_null(src);
	assert_non_null(dst);
	h_pattern(src, src_len, 9);
	h_write_file(h, "src", src, src_len);
	h_write_file(h, "dst", NULL, 0);
	ext_start(h, NULL);
	sn = h_lookup(h, "src", NULL);
	dn = h_lookup(h, "dst", NULL);
	H_OK(h, fe_fuse_open(h->fe, sn, O_RDONLY, &oi));
	H_OK(h, fe_fuse_open(h->fe, dn, O_RDWR, &oo));
	/* The guest loops over short copies; so do we. */
	while (done < n) {
		int r = copy_range(h, sn, oi.fh, 4096 + done, oo.fh, 8192 + done, n - done, 0);

		H_OK(h, r);
		assert_true(r > 0);
		done += (uint64_t)r;
	}
	host_stat(h, "dst", &st);
	assert_int_equal(st.st_size, 8192 + n);
	assert_int_equal(h_read_file(h, "dst", dst, src_len + 8192), 8192 + n);
	assert_memory_equal(dst, zero, 8192);
	assert_memory_equal(dst + 8192, src + 4096, n);
	/* At EOF of the source: nothing copied. */
	assert_int_equal(copy_range(h, sn, oi.fh, src_len, oo.fh, 0, 4096, 0), 0);
	/* Errors: handles, flags. */
	H_ERR(h, copy_range(h, sn, 0xdead0000beefull, 0, oo.fh, 0, 4096, 0), EBADF);
	H_ERR(h, copy_range(h, sn, oi.fh, 0, 0xdead0000beefull, 0, 4096, 0), EBADF);
	H_ERR(h, copy_range(h, sn, oi.fh, 0, oo.fh, 0, 4096, 1), EINVAL);
	H_ERR(h, copy_range(h, sn, oi.fh, 0, oo.fh, 0, 4096, 1ull << 40), EINVAL);
	/* The source handle is read-only: not a destination. */
	H_ERR(h, copy_range(h, sn, oo.fh, 0, oi.fh, 0, 4096, 0), EBADF);
	host_stat(h, "dst", &st);
	assert_int_equal(st.st_size, 8192 + n);
	H_OK(h, fe_fuse_release(h->fe, sn, oi.fh, O_RDONLY));
	H_OK(h, fe_fuse_release(h->fe, dn, oo.fh, O_RDWR));
	free(src);
	free(dst);
}

/* ---- TMPFILE, SYNCFS, unserved opcodes ---------------------------------- */

static int count_share_entries(struct h *h)
{
	DIR *d = opendir(h->share);
	struct dirent *de;
	int n = 0;

	if (!d)
		fail_msg("opendir %s: %s", h->share, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_tmpfile(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_create_in ci = { .flags = O_RDWR, .mode = S_IFREG | 0640 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	struct h_xbuf b[1] = { { &ci, sizeof(ci) } };
	struct fuse_entry_out le;
	struct fuse_attr_out ao;
	char buf[32];
	uint32_t len = 0;
	struct stat st;
	int before;

	h_write_file(h, "file", "x", 1);
	ext_start(h, NULL);
	before = count_share_entries(h);
	H_OK(h, h_xreq(h, FUSE_TMPFILE, FUSE_ROOT_ID, b, 1, &out, sizeof(out), &len));
	assert_int_equal(len, sizeof(out));
	assert_true(out.e.nodeid != 0 && out.e.nodeid != FUSE_ROOT_ID);
	assert_true(S_ISREG(out.e.attr.mode));
	assert_int_equal(out.e.attr.mode & 07777, 0640);
	assert_int_equal(out.e.attr.nlink, 0);
	/* Nameless: nothing new in the directory. */
	assert_int_equal(count_share_entries(h), before);
	assert_int_equal(fe_fuse_write(h->fe, out.e.nodeid, out.o.fh, 0, "tmp data", 8), 8);
	assert_int_equal(fe_fuse_read(h->fe, out.e.nodeid, out.o.fh, 0, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "tmp data", 8);
	/* LINK gives it a name; the host sees the content. */
	H_OK(h, fe_fuse_link(h->fe, out.e.nodeid, FUSE_ROOT_ID, "linked", &le));
	assert_int_equal(le.nodeid, out.e.nodeid);
	assert_int_equal(le.attr.nlink, 1);
	host_stat(h, "linked", &st);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(h_read_file(h, "linked", buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "tmp data", 8);
	H_OK(h, fe_fuse_getattr(h->fe, out.e.nodeid, &out.o.fh, &ao));
	assert_int_equal(ao.attr.nlink, 1);
	H_OK(h, fe_fuse_release(h->fe, out.e.nodeid, out.o.fh, O_RDWR));

	/* Not in a regular file; not in a missing node. */
	H_ERR(h, h_xreq(h, FUSE_TMPFILE, h_lookup(h, "file", NULL), b, 1, &out, sizeof(out), &len),
	      ENOTDIR);
	H_ANY_ERR(h, h_xreq(h, FUSE_TMPFILE, 0x7777777700ull, b, 1, &out, sizeof(out), &len));
	/* A read-only tmpfile request still yields a usable file (O_TMPFILE needs write access). */
	ci.flags = O_RDONLY;
	H_OK(h, h_xreq(h, FUSE_TMPFILE, FUSE_ROOT_ID, b, 1, &out, sizeof(out), &len));
	H_OK(h, fe_fuse_release(h->fe, out.e.nodeid, out.o.fh, O_RDONLY));
	assert_int_equal(count_share_entries(h), before + 1);
}

static void test_syncfs(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_syncfs_in si = { 0 };
	struct h_xbuf b[1] = { { &si, sizeof(si) } };

	h_write_file(h, "f", "x", 1);
	ext_start(h, NULL);
	H_OK(h, h_xreq(h, FUSE_SYNCFS, FUSE_ROOT_ID, b, 1, NULL, 0, NULL));
	H_OK(h, h_xreq(h, FUSE_SYNCFS, h_lookup(h, "f", NULL), b, 1, NULL, 0, NULL));
	H_ANY_ERR(h, h_xreq(h, FUSE_SYNCFS, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL));
}

static int raw(struct h *h, uint32_t opcode, uint64_t nodeid, const void *in, uint32_t len,
	       void *out, uint32_t out_size)
{
	return fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, opcode, nodeid, in, len, out, out_size, NULL);
}

static void test_unserved_opcodes(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_ioctl_in io = { 0 };
	struct fuse_poll_in po = { 0 };
	struct fuse_bmap_in bm = { .block = 0, .blocksize = 4096 };
	struct fuse_setupmapping_in sm = { .len = 4096 };
	struct {
		struct fuse_removemapping_in in;
		struct fuse_removemapping_one one;
	} rm = { { .count = 1 }, { .moffset = 0, .len = 4096 } };
	uint8_t out[256];
	uint64_t n;
	struct fuse_open_out oo;

	h_write_file(h, "f", "data", 4);
	ext_start(h, NULL);
	n = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, n, O_RDWR, &oo));
	io.fh = oo.fh;
	po.fh = oo.fh;
	sm.fh = oo.fh;
	H_ERR(h, raw(h, FUSE_IOCTL, n, &io, sizeof(io), out, sizeof(out)), ENOSYS);
	H_ERR(h, raw(h, FUSE_POLL, n, &po, sizeof(po), out, sizeof(out)), ENOSYS);
	H_ERR(h, raw(h, FUSE_BMAP, n, &bm, sizeof(bm), out, sizeof(out)), ENOSYS);
	H_ERR(h, raw(h, FUSE_SETUPMAPPING, n, &sm, sizeof(sm), out, sizeof(out)), ENOSYS);
	H_ERR(h, raw(h, FUSE_REMOVEMAPPING, n, &rm, sizeof(rm), out, sizeof(out)), ENOSYS);
	H_ERR(h, raw(h, FUSE_NOTIFY_REPLY, n, &rm, sizeof(rm), out, sizeof(out)), ENOSYS);
	/* Nothing happened to the file, and the session goes on. */
	assert_int_equal(h_read_file(h, "f", out, sizeof(out)), 4);
	assert_memory_equal(out, "data", 4);
	H_OK(h, fe_fuse_release(h->fe, n, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_getattr(h->fe, n, NULL, NULL));
}

/* ---- RENAME2 ------------------------------------------------------------ */

static void expect_content(struct h *h, const char *rel, const char *content)
{
	char buf[64] = { 0 };
	size_t n = h_read_file(h, rel, buf, sizeof(buf) - 1);

	if (n != strlen(content) || memcmp(buf, content, n))
		fail_msg("host %s holds \"%s\", expected \"%s\"", rel, buf, content);
}

static void test_rename2_flags(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t d;

	h_write_file(h, "a", "A", 1);
	h_write_file(h, "b", "B", 1);
	h_mkdir(h, "d", 0755);
	h_write_file(h, "d/c", "C", 1);
	ext_start(h, NULL);
	d = h_lookup(h, "d", NULL);

	/* NOREPLACE over an existing name. */
	H_ERR(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_NOREPLACE),
	      EEXIST);
	expect_content(h, "a", "A");
	expect_content(h, "b", "B");
	/* EXCHANGE swaps, also across directories. */
	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_EXCHANGE));
	expect_content(h, "a", "B");
	expect_content(h, "b", "A");
	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", d, "c", RENAME_EXCHANGE));
	expect_content(h, "a", "C");
	expect_content(h, "d/c", "B");
	/* EXCHANGE needs both; NOREPLACE to a free name works. */
	H_ERR(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "none", RENAME_EXCHANGE),
	      ENOENT);
	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "new", RENAME_NOREPLACE));
	assert_false(h_exists(h, "a"));
	expect_content(h, "new", "C");
	/* Both flags at once, and unknown bits. */
	H_ERR(h,
	      fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "new", FUSE_ROOT_ID, "b",
			      RENAME_NOREPLACE | RENAME_EXCHANGE),
	      EINVAL);
	H_ERR(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "new", FUSE_ROOT_ID, "x", 1u << 7), EINVAL);
	H_ERR(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "new", FUSE_ROOT_ID, "x", 0x80000000u),
	      EINVAL);
	expect_content(h, "new", "C");
	expect_content(h, "b", "A");
	assert_false(h_exists(h, "x"));
	/* Flags 0 is a plain rename. */
	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "new", FUSE_ROOT_ID, "b", 0));
	expect_content(h, "b", "C");
	assert_false(h_exists(h, "new"));
}

/* ---- HANDLE_KILLPRIV_V2 -------------------------------------------------- */

static int write_kill(struct h *h, uint64_t node, uint64_t fh, uint32_t wflags)
{
	struct fuse_write_in in = { .fh = fh, .offset = 0, .size = 3, .write_flags = wflags };
	struct fuse_write_out out = { 0 };
	struct h_xbuf b[2] = { { &in, sizeof(in) }, { "abc", 3 } };
	int r;

	r = h_xreq(h, FUSE_WRITE, node, b, 2, &out, sizeof(out), NULL);
	return r ? r : (int)out.size;
}

static int open_kill(struct h *h, uint64_t node, uint32_t flags, uint32_t open_flags, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags, .open_flags = open_flags };
	struct fuse_open_out out = { 0 };
	struct h_xbuf b[1] = { { &in, sizeof(in) } };
	int r;

	r = h_xreq(h, FUSE_OPEN, node, b, 1, &out, sizeof(out), NULL);
	*fh = out.fh;
	return r;
}

static void test_killpriv_v2(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in sa;
	struct fuse_attr_out ao;
	struct fuse_open_out oo;
	uint64_t n, fh;

	/* As root the daemon writes with CAP_FSETID: only then do the bits survive a write. */
	need_root("the daemon must hold CAP_FSETID");
	h_write_file(h, "f", "0123456789", 10);
	host_chmod(h, "f", 06755);
	ext_start(h, NULL);
	assert_true(granted(h, FUSE_HANDLE_KILLPRIV_V2));
	n = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, n, O_WRONLY, &oo));

	/* WRITE: without the flag the bits stay (the daemon writes with CAP_FSETID). */
	assert_int_equal(write_kill(h, n, oo.fh, 0), 3);
	assert_int_equal(host_mode(h, "f"), 06755);
	assert_int_equal(write_kill(h, n, oo.fh, FUSE_WRITE_KILL_SUIDGID), 3);
	assert_int_equal(host_mode(h, "f"), 0755);
	/* Set-group-ID without group execute is a mandatory-locking mark: kept. */
	host_chmod(h, "f", 06745);
	assert_int_equal(write_kill(h, n, oo.fh, FUSE_WRITE_KILL_SUIDGID), 3);
	assert_int_equal(host_mode(h, "f"), 02745);

	/* SETATTR size. */
	host_chmod(h, "f", 06755);
	memset(&sa, 0, sizeof(sa));
	sa.valid = FATTR_SIZE;
	sa.size = 5;
	H_OK(h, fe_fuse_setattr(h->fe, n, &sa, &ao));
	assert_int_equal(host_mode(h, "f"), 06755);
	sa.valid = FATTR_SIZE | FATTR_KILL_SUIDGID;
	sa.size = 4;
	H_OK(h, fe_fuse_setattr(h->fe, n, &sa, &ao));
	assert_int_equal(host_mode(h, "f"), 0755);
	/* The reply carries the new mode. */
	assert_int_equal(ao.attr.mode & 07777, 0755);
	assert_int_equal(ao.attr.size, 4);
	/* Through the handle as well. */
	host_chmod(h, "f", 06755);
	sa.valid = FATTR_SIZE | FATTR_FH | FATTR_KILL_SUIDGID;
	sa.fh = oo.fh;
	sa.size = 2;
	H_OK(h, fe_fuse_setattr(h->fe, n, &sa, &ao));
	assert_int_equal(host_mode(h, "f"), 0755);
	H_OK(h, fe_fuse_release(h->fe, n, oo.fh, O_WRONLY));

	/* OPEN with O_TRUNC. */
	host_chmod(h, "f", 06755);
	H_OK(h, open_kill(h, n, O_WRONLY | O_TRUNC, 0, &fh));
	H_OK(h, fe_fuse_release(h->fe, n, fh, O_WRONLY));
	assert_int_equal(host_mode(h, "f"), 06755);
	/* The flag without O_TRUNC: nothing to kill. */
	H_OK(h, open_kill(h, n, O_WRONLY, FUSE_OPEN_KILL_SUIDGID, &fh));
	H_OK(h, fe_fuse_release(h->fe, n, fh, O_WRONLY));
	assert_int_equal(host_mode(h, "f"), 06755);
	h_write_file(h, "f", "content", 7);
	H_OK(h, open_kill(h, n, O_WRONLY | O_TRUNC, FUSE_OPEN_KILL_SUIDGID, &fh));
	assert_int_equal(host_mode(h, "f"), 0755);
	{
		struct stat st;

		host_stat(h, "f", &st);
		assert_int_equal(st.st_size, 0);
	}
	H_OK(h, fe_fuse_release(h->fe, n, fh, O_WRONLY));
}

static void test_killpriv_not_negotiated(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_KILL_SUIDGID, .size = 1 };
	struct fuse_init_out o;
	struct fuse_open_out oo;
	uint64_t n;

	/* An INIT that does not ask for HANDLE_KILLPRIV_V2: the kill flags mean nothing. */
	h_write_file(h, "f", "0123456789", 10);
	host_chmod(h, "f", 06755);
	h_start(h, NULL, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				FE_FUSE_INIT_FLAGS & ~(uint64_t)FUSE_HANDLE_KILLPRIV_V2, &o));
	assert_false(granted(h, FUSE_HANDLE_KILLPRIV_V2));
	n = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, n, O_WRONLY, &oo));
	assert_int_equal(write_kill(h, n, oo.fh, FUSE_WRITE_KILL_SUIDGID), 3);
	H_OK(h, fe_fuse_setattr(h->fe, n, &sa, NULL));
	H_OK(h, fe_fuse_release(h->fe, n, oo.fh, O_WRONLY));
	if (geteuid() == 0)
		assert_int_equal(host_mode(h, "f"), 06755);
}

/* ---- credentials --------------------------------------------------------- */

static void expect_owner(struct h *h, const char *rel, uid_t uid, gid_t gid)
{
	struct stat st;

	host_stat(h, rel, &st);
	if (st.st_uid != uid || st.st_gid != gid)
		fail_msg("host %s is owned by %u:%u, expected %u:%u", rel, st.st_uid, st.st_gid,
			 uid, gid);
}

static void test_creds_owner(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t pub;

	need_root("credential switching");
	h_mkdir(h, "pub", 0777);
	ext_start(h, NULL);
	pub = h_lookup(h, "pub", NULL);
	become(h, GUEST_UID, GUEST_GID);
	H_OK(h,
	     fe_fuse_create(h->fe, pub, "f", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &oo));
	expect_owner(h, "pub/f", GUEST_UID, GUEST_GID);
	assert_int_equal(e.attr.uid, GUEST_UID);
	assert_int_equal(e.attr.gid, GUEST_GID);
	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, "u", 1), 1);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	H_OK(h, fe_fuse_mkdir(h->fe, pub, "d", 0755, &e));
	expect_owner(h, "pub/d", GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_symlink(h->fe, pub, "l", "f", &e));
	expect_owner(h, "pub/l", GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_mknod(h->fe, pub, "p", S_IFIFO | 0600, 0, &e));
	expect_owner(h, "pub/p", GUEST_UID, GUEST_GID);
	/* Another user's gid in the request is what the host records. */
	become(h, GUEST_UID + 1, OTHER_GID);
	H_OK(h, fe_fuse_mkdir(h->fe, pub, "d2", 0700, &e));
	expect_owner(h, "pub/d2", GUEST_UID + 1, OTHER_GID);
	/* And that user cannot enter the first user's private directory. */
	become(h, GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_mkdir(h->fe, pub, "mine", 0700, &e));
	become(h, GUEST_UID + 1, GUEST_UID + 1);
	H_ERR(h,
	      fe_fuse_create(h->fe, e.nodeid, "x", O_WRONLY | O_CREAT, S_IFREG | 0644, NULL, NULL),
	      EACCES);
	assert_false(h_exists(h, "pub/mine/x"));
	become(h, 0, 0);
}

static void test_creds_denied(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	uint64_t priv;

	need_root("credential switching");
	h_mkdir(h, "priv", 0755);
	h_write_file(h, "priv/rootfile", "r", 1);
	ext_start(h, NULL);
	priv = h_lookup(h, "priv", NULL);
	become(h, GUEST_UID, GUEST_GID);
	H_ERR(h, fe_fuse_mkdir(h->fe, priv, "d", 0755, &e), EACCES);
	H_ERR(h, fe_fuse_create(h->fe, priv, "f", O_WRONLY | O_CREAT, S_IFREG | 0644, NULL, NULL),
	      EACCES);
	H_ERR(h, fe_fuse_unlink(h->fe, priv, "rootfile"), EACCES);
	H_ERR(h, fe_fuse_open(h->fe, h_lookup(h, "priv/rootfile", NULL), O_WRONLY, NULL), EACCES);
	assert_false(h_exists(h, "priv/d"));
	assert_false(h_exists(h, "priv/f"));
	assert_true(h_exists(h, "priv/rootfile"));
	/* Root may. */
	become(h, 0, 0);
	H_OK(h, fe_fuse_mkdir(h->fe, priv, "d", 0755, &e));
	expect_owner(h, "priv/d", 0, 0);
}

static void test_creds_group_dir(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t grp;

	need_root("credential switching");
	h_mkdir(h, "grp", 0770);
	host_chown(h, "grp", 0, OTHER_GID);
	ext_start(h, NULL);
	grp = h_lookup(h, "grp", NULL);
	/*
	 * uid 1000 gid 1000 is allowed in by the guest kernel (it knows the
	 * caller's supplementary groups, FUSE does not carry them): the
	 * daemon retries as a member of the directory's group.
	 */
	become(h, GUEST_UID, GUEST_GID);
	H_OK(h,
	     fe_fuse_create(h->fe, grp, "f", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 0640, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	/* Not a set-group-ID directory: the file gets the caller's own gid. */
	expect_owner(h, "grp/f", GUEST_UID, GUEST_GID);
	assert_int_equal(host_mode(h, "grp/f"), 0640);
	H_OK(h, fe_fuse_mkdir(h->fe, grp, "d", 0750, &e));
	expect_owner(h, "grp/d", GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_unlink(h->fe, grp, "f"));
	assert_false(h_exists(h, "grp/f"));
	/* The retry adds the group, never more: a 0700 directory stays closed. */
	h_mkdir(h, "grp/closed", 0700);
	host_chown(h, "grp/closed", 0, OTHER_GID);
	become(h, 0, 0);
	{
		uint64_t closed = h_lookup(h, "grp/closed", NULL);

		become(h, GUEST_UID, GUEST_GID);
		H_ERR(h, fe_fuse_mkdir(h->fe, closed, "x", 0755, NULL), EACCES);
	}
	become(h, 0, 0);
}

static void test_creds_setgid_dir(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct stat st;
	uint64_t sg;

	need_root("credential switching");
	h_mkdir(h, "sg", 02777);
	host_chown(h, "sg", 0, OTHER_GID);
	host_chmod(h, "sg", 02777);
	ext_start(h, NULL);
	sg = h_lookup(h, "sg", NULL);
	become(h, GUEST_UID, GUEST_GID);
	fe_fuse_set_umask(h->fe, 0);
	/*
	 * A mode with S_ISGID from a caller whose only tie to the directory's
	 * group FUSE cannot show (a supplementary group, or none at all: guest
	 * kernels before 6.0 do not strip the bit): the host drops the bit, so
	 * a non-member never gets a file that runs with the group
	 * (CVE-2022-0358); the group itself is inherited.
	 */
	H_OK(h,
	     fe_fuse_create(h->fe, sg, "f", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 02755, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	host_stat(h, "sg/f", &st);
	print_message("CREATE 02755 in a setgid dir as %u:%u: mode 0%o owner %u:%u\n", GUEST_UID,
		      GUEST_GID, st.st_mode & 07777, st.st_uid, st.st_gid);
	assert_int_equal(st.st_uid, GUEST_UID);
	assert_int_equal(st.st_gid, OTHER_GID);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Without the bit: the directory's group, no S_ISGID. */
	H_OK(h,
	     fe_fuse_create(h->fe, sg, "g", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 0755, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	expect_owner(h, "sg/g", GUEST_UID, OTHER_GID);
	assert_int_equal(host_mode(h, "sg/g"), 0755);
	/* Subdirectories inherit the group and the bit. */
	H_OK(h, fe_fuse_mkdir(h->fe, sg, "d", 0755, &e));
	expect_owner(h, "sg/d", GUEST_UID, OTHER_GID);
	assert_int_equal(host_mode(h, "sg/d"), 02755);
	become(h, 0, 0);
}

static void test_umask_not_applied(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t pub;

	h_mkdir(h, "pub", 0777);
	ext_start(h, NULL);
	/* The guest applied its umask already (no FUSE_DONT_MASK): the field is informative. */
	fe_fuse_set_umask(h->fe, 022);
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "f", O_WRONLY | O_CREAT | O_EXCL,
			       S_IFREG | 0666, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	assert_int_equal(host_mode(h, "f"), 0666);
	assert_int_equal(e.attr.mode & 07777, 0666);
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", 0777, &e));
	assert_int_equal(host_mode(h, "d"), 0777);
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "n", S_IFREG | 0666, 0, &e));
	assert_int_equal(host_mode(h, "n"), 0666);
	/* And as another user (per-thread state after a credential switch). */
	if (geteuid() == 0) {
		pub = h_lookup(h, "pub", NULL);
		become(h, GUEST_UID, GUEST_GID);
		H_OK(h, fe_fuse_create(h->fe, pub, "f", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 0666,
				       &e, &oo));
		H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
		assert_int_equal(host_mode(h, "pub/f"), 0666);
		H_OK(h, fe_fuse_mkdir(h->fe, pub, "d", 0777, &e));
		assert_int_equal(host_mode(h, "pub/d"), 0777);
		become(h, 0, 0);
	}
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_xattr_roundtrip),
		TL(test_xattr_bad_requests),
		TL(test_xattr_disabled),
		TL(test_lock_posix),
		TL(test_lock_host_process),
		TL(test_lock_setlkw_async),
		TL(test_lock_setlkw_interrupt),
		TL(test_lock_flock),
		TL(test_lock_many_waiters),
		TL(test_lock_exit_while_waiting),
		TL(test_fallocate),
		TL(test_lseek),
		TL(test_copy_file_range),
		TL(test_tmpfile),
		TL(test_syncfs),
		TL(test_unserved_opcodes),
		TL(test_rename2_flags),
		TL(test_killpriv_v2),
		TL(test_killpriv_not_negotiated),
		TL(test_creds_owner),
		TL(test_creds_denied),
		TL(test_creds_group_dir),
		TL(test_creds_setgid_dir),
		TL(test_umask_not_applied),
	};

	return cmocka_run_group_tests_name("fuse_ext", tests, NULL, NULL);
}
