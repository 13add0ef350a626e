// SPDX-License-Identifier: MIT
/*
 * --xattrmap (the Rust virtiofsd's rule syntax): guest names mapped on
 * GET/SET/REMOVEXATTR, host names mapped or hidden in LISTXATTR, bad and
 * unsupported rules, a remapped security.capability removed on write,
 * truncate and chown (CVE-2021-20263), and the mapped-device-node
 * attribute out of reach through any mapping. Checked on the host too.
 * vufsd only (the option is spelled differently elsewhere, or missing).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

/* Start vufsd with --xattrmap=RULES (RULES without blanks: the argv template splits on them). */
static void xm_start(struct h *h, const char *rules)
{
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s --xattrmap=%s", h->tmpl, rules) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, NULL, true);
}

static int get_xattr(struct h *h, uint64_t nodeid, const char *name, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct h_xbuf in[2] = { { &gi, sizeof(gi) }, { name, (uint32_t)strlen(name) + 1 } };
	uint32_t len = 0;
	int r;

	r = h_xreq(h, FUSE_GETXATTR, nodeid, in, 2, buf, size, &len);
	return r ? r : (int)len;
}

static int set_xattr(struct h *h, uint64_t nodeid, const char *name, const char *val)
{
	struct fuse_setxattr_in si = { .size = (uint32_t)strlen(val) };
	struct h_xbuf in[3] = {
		{ &si, FUSE_COMPAT_SETXATTR_IN_SIZE },
		{ name, (uint32_t)strlen(name) + 1 },
		{ val, (uint32_t)strlen(val) },
	};

	return h_xreq(h, FUSE_SETXATTR, nodeid, in, 3, NULL, 0, NULL);
}

static int remove_xattr(struct h *h, uint64_t nodeid, const char *name)
{
	struct h_xbuf in[1] = { { name, (uint32_t)strlen(name) + 1 } };

	return h_xreq(h, FUSE_REMOVEXATTR, nodeid, in, 1, NULL, 0, NULL);
}

/* LISTXATTR as "a,b,c" (the size probe must agree with the list). */
static const char *list_xattr(struct h *h, uint64_t nodeid)
{
	static char buf[4096];
	struct fuse_getxattr_in gi = { .size = 0 };
	struct fuse_getxattr_out go;
	struct h_xbuf in[1] = { { &gi, sizeof(gi) } };
	uint32_t len = 0;

	H_OK(h, h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, &go, sizeof(go), &len));
	if (!go.size)
		return "";
	assert_true(go.size < sizeof(buf));
	gi.size = go.size;
	H_OK(h, h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, buf, go.size, &len));
	assert_int_equal(len, go.size);
	assert_int_equal(buf[len - 1], 0);
	for (uint32_t i = 0; i + 1 < len; i++) {
		if (!buf[i])
			buf[i] = ',';
	}
	return buf;
}

static void host_set(struct h *h, const char *rel, const char *name, const char *val)
{
	if (setxattr(h_path(h, rel), name, val, strlen(val), 0) < 0)
		fail_msg("host: setxattr %s %s: %s", rel, name, strerror(errno));
}

/* The host's value of @name on @rel, or "" if it has none. */
static const char *host_get(struct h *h, const char *rel, const char *name)
{
	static char buf[256];
	ssize_t n = getxattr(h_path(h, rel), name, buf, sizeof(buf) - 1);

	if (n < 0) {
		if (errno != ENODATA)
			fail_msg("host: getxattr %s %s: %s", rel, name, strerror(errno));
		return "";
	}
	buf[n] = 0;
	return buf;
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip(); /* trusted.* and security.* on the host need CAP_SYS_ADMIN */
}

/* ":map::user.virtiofs.:": every guest name under user.virtiofs. on the host. */
static void test_map_all(void **state)
{
	struct h *h = H_STATE(state);
	char buf[64];
	uint64_t f;

	h_write_file(h, "f", "", 0);
	host_set(h, "f", "user.host", "h");
	xm_start(h, ":map::user.virtiofs.:");
	f = h_lookup(h, "f", NULL);

	/* trusted.* works for the guest though the host keeps it as a user. name. */
	H_OK(h, set_xattr(h, f, "trusted.overlay.opaque", "y"));
	assert_string_equal(host_get(h, "f", "user.virtiofs.trusted.overlay.opaque"), "y");
	assert_string_equal(host_get(h, "f", "trusted.overlay.opaque"), "");
	H_OK(h, set_xattr(h, f, "user.g", "g"));
	assert_string_equal(host_get(h, "f", "user.virtiofs.user.g"), "g");
	assert_int_equal(get_xattr(h, f, "trusted.overlay.opaque", buf, sizeof(buf)), 1);
	assert_memory_equal(buf, "y", 1);
	/* The host's own names are hidden and out of reach. */
	H_ERR(h, get_xattr(h, f, "user.host", buf, sizeof(buf)), ENODATA);
	assert_string_equal(list_xattr(h, f), "trusted.overlay.opaque,user.g");
	H_OK(h, remove_xattr(h, f, "user.g"));
	assert_string_equal(host_get(h, "f", "user.virtiofs.user.g"), "");
	assert_string_equal(host_get(h, "f", "user.host"), "h");
	assert_string_equal(list_xattr(h, f), "trusted.overlay.opaque");
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

/* "/map/trusted./user.virtiofs./": only trusted. moves; the target prefix is off limits. */
static void test_map_trusted(void **state)
{
	struct h *h = H_STATE(state);
	char buf[64];
	uint64_t f;

	need_root();
	h_write_file(h, "f", "", 0);
	host_set(h, "f", "trusted.host", "t");
	host_set(h, "f", "user.plain", "p");
	xm_start(h, "/map/trusted./user.virtiofs./");
	f = h_lookup(h, "f", NULL);

	H_OK(h, set_xattr(h, f, "trusted.x", "1"));
	assert_string_equal(host_get(h, "f", "user.virtiofs.trusted.x"), "1");
	H_ERR(h, set_xattr(h, f, "user.virtiofs.trusted.x", "2"), EPERM);
	H_ERR(h, get_xattr(h, f, "user.virtiofs.trusted.x", buf, sizeof(buf)), EPERM);
	assert_int_equal(get_xattr(h, f, "user.plain", buf, sizeof(buf)), 1);
	/* The host's trusted.host is hidden; the guest's trusted.host is another name. */
	H_ERR(h, get_xattr(h, f, "trusted.host", buf, sizeof(buf)), ENODATA);
	assert_string_equal(list_xattr(h, f), "user.plain,trusted.x");
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

static void test_bad_unsupported(void **state)
{
	struct h *h = H_STATE(state);
	char buf[64];
	uint64_t f;

	need_root();
	h_write_file(h, "f", "", 0);
	host_set(h, "f", "security.vufs_test", "s");
	host_set(h, "f", "user.a", "a");
	xm_start(h, "/bad/all/security./security.//unsupported/client/trusted.///ok/all///");
	f = h_lookup(h, "f", NULL);

	H_ERR(h, set_xattr(h, f, "security.x", "1"), EPERM);
	H_ERR(h, get_xattr(h, f, "security.vufs_test", buf, sizeof(buf)), EPERM);
	H_ERR(h, set_xattr(h, f, "trusted.x", "1"), EOPNOTSUPP);
	H_ERR(h, remove_xattr(h, f, "trusted.x"), EOPNOTSUPP);
	assert_string_equal(list_xattr(h, f), "user.a");
	assert_string_equal(host_get(h, "f", "security.vufs_test"), "s");
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

/* A remapped security.capability goes on write, truncate and chown, as a real one would. */
static void test_remapped_capability(void **state)
{
	static const char cap_name[] = "user.virtiofs.security.capability";
	struct h *h = H_STATE(state);
	struct fuse_setattr_in si;
	struct fuse_open_out oo;
	uint64_t f;

	need_root();
	h_write_file(h, "f", "data", 4);
	xm_start(h, ":map::user.virtiofs.:");
	f = h_lookup(h, "f", NULL);

	/* write */
	H_OK(h, set_xattr(h, f, "security.capability", "capdata"));
	assert_string_equal(host_get(h, "f", cap_name), "capdata");
	H_OK(h, fe_fuse_open(h->fe, f, O_WRONLY, &oo));
	assert_int_equal(fe_fuse_write(h->fe, f, oo.fh, 0, "x", 1), 1);
	assert_string_equal(host_get(h, "f", cap_name), "");
	H_OK(h, fe_fuse_release(h->fe, f, oo.fh, O_WRONLY));
	/* truncate */
	H_OK(h, set_xattr(h, f, "security.capability", "capdata"));
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_SIZE;
	si.size = 1;
	H_OK(h, fe_fuse_setattr(h->fe, f, &si, NULL));
	assert_string_equal(host_get(h, "f", cap_name), "");
	/* chown */
	H_OK(h, set_xattr(h, f, "security.capability", "capdata"));
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_UID;
	si.uid = 1000;
	H_OK(h, fe_fuse_setattr(h->fe, f, &si, NULL));
	assert_string_equal(host_get(h, "f", cap_name), "");
	/* Other guest attributes stay. */
	H_OK(h, set_xattr(h, f, "user.keep", "k"));
	si.uid = 0;
	H_OK(h, fe_fuse_setattr(h->fe, f, &si, NULL));
	assert_string_equal(host_get(h, "f", "user.virtiofs.user.keep"), "k");
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

/* No mapping reaches the mapped-device-node attribute. */
static void test_devnode_attr_unreachable(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	char buf[64];

	xm_start(h, ":prefix:all::user.vufsd.:");
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "n", S_IFCHR | 0600, makedev(1, 3), &e));
	/* "devnode" would be user.vufsd.devnode on the host. */
	H_ERR(h, get_xattr(h, e.nodeid, "devnode", buf, sizeof(buf)), ENODATA);
	H_ERR(h, set_xattr(h, e.nodeid, "devnode", "v1 c 1:1 0666"), EPERM);
	H_ERR(h, remove_xattr(h, e.nodeid, "devnode"), ENODATA);
	assert_string_equal(list_xattr(h, e.nodeid), "");
	assert_string_equal(host_get(h, "n", "user.vufsd.devnode"), "v1 c 1:3 0600");
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
}

static void test_bad_rules(void **state)
{
	struct h *h = H_STATE(state);
	char *t;

	if (!h_is(h, "vufsd"))
		skip();
	if (asprintf(&t, "%s --xattrmap=:prefix:nowhere:::", h->tmpl) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	assert_int_not_equal(h_try_start(h, NULL, true), 0);
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_map_all),
		TL(test_map_trusted),
		TL(test_bad_unsupported),
		TL(test_remapped_capability),
		TL(test_devnode_attr_unreachable),
		TL(test_bad_rules),
	};

	return cmocka_run_group_tests_name("fuse_xattrmap", tests, NULL, NULL);
}
