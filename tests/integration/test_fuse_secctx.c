// SPDX-License-Identifier: MIT
/*
 * --security-label (FUSE_SECURITY_CTX): the security context that comes
 * with MKDIR, MKNOD, SYMLINK, CREATE and TMPFILE is set on the new inode
 * (its name through --xattrmap); if it cannot be set, the new entry is
 * removed and the request fails; a malformed block is EINVAL and creates
 * nothing. Checked on the host. vufsd only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define MAPPED "user.virtiofs.security.selinux"
#define LABEL "system_u:object_r:test_t:s0"

/* A context block as Linux builds it: one context @name = @value (NUL included), padded. */
static uint32_t block(unsigned char *buf, const char *name, const char *value)
{
	struct fuse_secctx_header hdr = { .nr_secctx = name ? 1 : 0 };
	uint32_t pos = sizeof(hdr);

	if (name) {
		struct fuse_secctx ctx = { .size = (uint32_t)strlen(value) + 1 };

		memcpy(buf + pos, &ctx, sizeof(ctx));
		pos += sizeof(ctx);
		memcpy(buf + pos, name, strlen(name) + 1);
		pos += (uint32_t)strlen(name) + 1;
		memcpy(buf + pos, value, ctx.size);
		pos += ctx.size;
		while (pos % 8)
			buf[pos++] = 0;
	}
	hdr.size = pos;
	memcpy(buf, &hdr, sizeof(hdr));
	return pos;
}

static void sc_start(struct h *h, const char *extra)
{
	struct fuse_init_out o;
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, NULL, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				FE_FUSE_INIT_FLAGS | FUSE_INIT_EXT | FUSE_SECURITY_CTX, &o));
}

static bool negotiated(struct h *h)
{
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);

	return (((uint64_t)c->flags2 << 32) & FUSE_SECURITY_CTX) != 0;
}

static int do_mkdir(struct h *h, const char *name, const void *blk, uint32_t blen,
		    struct fuse_entry_out *e)
{
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct h_xbuf in[3] = { { &mi, sizeof(mi) }, { name, (uint32_t)strlen(name) + 1 },
			      { blk, blen } };

	return h_xreq(h, FUSE_MKDIR, FUSE_ROOT_ID, in, blen ? 3 : 2, e, sizeof(*e), NULL);
}

static const char *host_label(struct h *h, const char *rel, const char *xname)
{
	static char buf[128];
	ssize_t n = lgetxattr(h_path(h, rel), xname, buf, sizeof(buf) - 1);

	if (n < 0)
		return "";
	buf[n] = 0;
	return buf;
}

static void test_not_offered_by_default(void **state)
{
	struct h *h = H_STATE(state);

	sc_start(h, "--xattr");
	assert_false(negotiated(h));
}

/* With security.* mapped under user.virtiofs. every create-like request labels its inode. */
static void test_label_mapped(void **state)
{
	struct h *h = H_STATE(state);
	unsigned char blk[256];
	struct fuse_entry_out e;
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} co;
	uint32_t blen;

	sc_start(h, "--security-label --xattrmap=:map::user.virtiofs.:");
	assert_true(negotiated(h));
	blen = block(blk, "security.selinux", LABEL);

	H_OK(h, do_mkdir(h, "d", blk, blen, &e));
	assert_string_equal(host_label(h, "d", MAPPED), LABEL);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));

	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	struct h_xbuf nin[3] = { { &mn, sizeof(mn) }, { "p", 2 }, { blk, blen } };
	H_OK(h, h_xreq(h, FUSE_MKNOD, FUSE_ROOT_ID, nin, 3, &e, sizeof(e), NULL));
	assert_string_equal(host_label(h, "p", MAPPED), LABEL);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	/* user.* attributes cannot be on a FIFO or a symlink: those are made without the
	 * context (a guest with an LSM must still be able to make them). */
	mn.mode = S_IFIFO | 0644;
	nin[1] = (struct h_xbuf){ "q", 2 };
	H_OK(h, h_xreq(h, FUSE_MKNOD, FUSE_ROOT_ID, nin, 3, &e, sizeof(e), NULL));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_true(h_exists(h, "q"));
	struct h_xbuf sin[3] = { { "l", 2 }, { "target", 7 }, { blk, blen } };
	H_OK(h, h_xreq(h, FUSE_SYMLINK, FUSE_ROOT_ID, sin, 3, &e, sizeof(e), NULL));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_true(h_exists(h, "l"));

	struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT | O_EXCL, .mode = S_IFREG | 0644 };
	struct h_xbuf cin[3] = { { &ci, sizeof(ci) }, { "f", 2 }, { blk, blen } };
	H_OK(h, h_xreq(h, FUSE_CREATE, FUSE_ROOT_ID, cin, 3, &co, sizeof(co), NULL));
	assert_string_equal(host_label(h, "f", MAPPED), LABEL);
	H_OK(h, fe_fuse_release(h->fe, co.entry.nodeid, co.open.fh, O_WRONLY));
	H_OK(h, fe_fuse_forget(h->fe, co.entry.nodeid, 1));
	/* CREATE of an existing file (no O_EXCL) does not relabel it. */
	if (setxattr(h_path(h, "f"), MAPPED, "old", 3, XATTR_REPLACE) < 0)
		fail_msg("host setxattr: %s", strerror(errno));
	ci.flags = O_WRONLY | O_CREAT;
	H_OK(h, h_xreq(h, FUSE_CREATE, FUSE_ROOT_ID, cin, 3, &co, sizeof(co), NULL));
	assert_string_equal(host_label(h, "f", MAPPED), "old");
	H_OK(h, fe_fuse_release(h->fe, co.entry.nodeid, co.open.fh, O_WRONLY));
	H_OK(h, fe_fuse_forget(h->fe, co.entry.nodeid, 1));

	/* TMPFILE: Linux sends the placeholder name "/" before the block. */
	ci.flags = O_RDWR;
	struct h_xbuf tin[3] = { { &ci, sizeof(ci) }, { "/", 2 }, { blk, blen } };
	H_OK(h, h_xreq(h, FUSE_TMPFILE, FUSE_ROOT_ID, tin, 3, &co, sizeof(co), NULL));
	H_OK(h, fe_fuse_release(h->fe, co.entry.nodeid, co.open.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, co.entry.nodeid, 1));
	tin[2].len = 4; /* cut short: malformed */
	H_ERR(h, h_xreq(h, FUSE_TMPFILE, FUSE_ROOT_ID, tin, 3, &co, sizeof(co), NULL), EINVAL);

	/* No context (a guest without an LSM): a header with nr_secctx 0. */
	blen = block(blk, NULL, NULL);
	H_OK(h, do_mkdir(h, "plain", blk, blen, &e));
	assert_string_equal(host_label(h, "plain", MAPPED), "");
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
}

/* A context the host refuses: the new entry does not stay behind. */
static void test_label_refused(void **state)
{
	struct h *h = H_STATE(state);
	unsigned char blk[256];
	struct fuse_entry_out e;
	uint32_t blen;
	int r;

	/* The map refuses trusted.* names. */
	sc_start(h, "--security-label --xattrmap=/bad/all/trusted./trusted.//ok/all///");
	blen = block(blk, "trusted.label", LABEL);
	H_ERR(h, do_mkdir(h, "d", blk, blen, &e), EPERM);
	assert_false(h_exists(h, "d"));
	/* security.* without a map: the daemon has no CAP_SYS_ADMIN unless the host's LSM allows. */
	blen = block(blk, "security.vufs_test", LABEL);
	r = do_mkdir(h, "d2", blk, blen, &e);
	if (r == 0) {
		assert_string_equal(host_label(h, "d2", "security.vufs_test"), LABEL);
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	} else {
		H_ANY_ERR(h, r);
		assert_false(h_exists(h, "d2"));
	}
}

static void test_malformed(void **state)
{
	struct h *h = H_STATE(state);
	unsigned char blk[256], bad[256];
	struct fuse_entry_out e;
	uint32_t blen;

	sc_start(h, "--security-label --xattrmap=:map::user.virtiofs.:");
	blen = block(blk, "security.selinux", LABEL);
	/* Header size that disagrees, too many contexts, value running past the end,
	 * a name without its NUL, trailing bytes, a block shorter than its header. */
	memcpy(bad, blk, blen);
	((struct fuse_secctx_header *)bad)->size = blen + 8;
	H_ERR(h, do_mkdir(h, "a", bad, blen, &e), EINVAL);
	memcpy(bad, blk, blen);
	((struct fuse_secctx_header *)bad)->nr_secctx = 2;
	H_ERR(h, do_mkdir(h, "b", bad, blen, &e), EINVAL);
	memcpy(bad, blk, blen);
	((struct fuse_secctx *)(bad + 8))->size = 1000;
	H_ERR(h, do_mkdir(h, "c", bad, blen, &e), EINVAL);
	memcpy(bad, blk, blen);
	memset(bad + 16, 'x', blen - 16);
	H_ERR(h, do_mkdir(h, "d", bad, blen, &e), EINVAL);
	memcpy(bad, blk, blen);
	memset(bad + blen, 0, 8);
	((struct fuse_secctx_header *)bad)->size = blen + 8;
	H_ERR(h, do_mkdir(h, "e", bad, blen + 8, &e), EINVAL);
	H_ERR(h, do_mkdir(h, "f", blk, 4, &e), EINVAL);
	for (char n = 'a'; n <= 'f'; n++) {
		char name[2] = { n, 0 };

		assert_false(h_exists(h, name));
	}
	/* And the good one still works afterwards. */
	H_OK(h, do_mkdir(h, "ok", blk, blen, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_not_offered_by_default),
		TL(test_label_mapped),
		TL(test_label_refused),
		TL(test_malformed),
	};

	return cmocka_run_group_tests_name("fuse_secctx", tests, NULL, NULL);
}
