// SPDX-License-Identifier: MIT
/*
 * Guest device nodes (--device-nodes=mapped|host|refuse). In mapped mode
 * (the default) a block/char MKNOD makes an empty 0600 regular file on the
 * host carrying the node in the user.vufsd.devnode attribute; the guest
 * sees a device node through LOOKUP, GETATTR, SETATTR, READDIR(PLUS), and
 * the attribute is out of its reach. Every effect is checked on the host.
 * vufsd only: the reference backends have no such option.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define XNAME "user.vufsd.devnode"
#define GUEST_UID 1000u
#define GUEST_GID 1000u
#define OTHER_UID 2000u
#define OTHER_GID 2000u

/* Start vufsd with extra arguments (NULL: none), FUSE_INIT'ed. */
static void dn_start(struct h *h, const char *extra)
{
	if (!h_is(h, "vufsd"))
		skip();
	if (extra) {
		char *t;

		if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
			fail_msg("out of memory");
		free(h->tmpl);
		h->tmpl = t;
	}
	h_start(h, NULL, true);
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("needs root (credential switching)\n");
		skip();
	}
}

static void become(struct h *h, uint32_t uid, uint32_t gid)
{
	fe_fuse_set_creds(h->fe, uid, gid, (uint32_t)getpid());
}

static void host_stat(struct h *h, const char *rel, struct stat *st)
{
	if (lstat(h_path(h, rel), st) < 0)
		fail_msg("host: lstat %s: %s", rel, strerror(errno));
}

/* The host sees an empty 0600 regular file whose attribute is @want. */
static void expect_host_mapped(struct h *h, const char *rel, const char *want)
{
	char val[64];
	struct stat st;
	ssize_t n;

	host_stat(h, rel, &st);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600 || st.st_size != 0)
		fail_msg("host: %s has mode 0%o size %lld, want an empty 0600 regular file", rel,
			 st.st_mode, (long long)st.st_size);
	n = getxattr(h_path(h, rel), XNAME, val, sizeof(val) - 1);
	if (n < 0)
		fail_msg("host: %s: no %s: %s", rel, XNAME, strerror(errno));
	val[n] = 0;
	assert_string_equal(val, want);
}

static void expect_node(const struct fuse_attr *a, uint32_t mode, unsigned int maj,
			unsigned int min)
{
	if (a->mode != mode)
		fail_msg("guest mode 0%o, want 0%o", a->mode, mode);
	assert_int_equal(a->rdev, (uint32_t)makedev(maj, min));
	assert_int_equal(a->size, 0);
}

/* ---- mapped mode -------------------------------------------------------- */

static void test_mapped_mknod_attr(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, e2;
	struct fuse_attr_out ao;
	struct stat st;

	need_root();
	h_mkdir(h, "pub", 0777);
	dn_start(h, NULL);
	uint64_t pub = h_lookup(h, "pub", NULL);

	/* As a guest user: the owner is the caller's, on both sides. */
	become(h, GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_mknod(h->fe, pub, "null", S_IFCHR | 0666, makedev(1, 3), &e));
	expect_node(&e.attr, S_IFCHR | 0666, 1, 3);
	assert_int_equal(e.attr.uid, GUEST_UID);
	assert_int_equal(e.attr.gid, GUEST_GID);
	H_OK(h, fe_fuse_mknod(h->fe, pub, "loop0", S_IFBLK | 0640, makedev(7, 0), &e2));
	expect_node(&e2.attr, S_IFBLK | 0640, 7, 0);
	/* Large numbers FUSE can carry (major 12 bits, minor 20 bits). */
	struct fuse_entry_out e3;
	H_OK(h, fe_fuse_mknod(h->fe, pub, "big", S_IFCHR | 0600, makedev(4095, 1048575), &e3));
	expect_node(&e3.attr, S_IFCHR | 0600, 4095, 1048575);
	become(h, 0, 0);

	expect_host_mapped(h, "pub/null", "v1 c 1:3 0666");
	expect_host_mapped(h, "pub/loop0", "v1 b 7:0 0640");
	expect_host_mapped(h, "pub/big", "v1 c 4095:1048575 0600");
	host_stat(h, "pub/null", &st);
	assert_int_equal(st.st_uid, GUEST_UID);
	assert_int_equal(st.st_gid, GUEST_GID);

	/* GETATTR and a fresh LOOKUP say the same. */
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, &ao));
	expect_node(&ao.attr, S_IFCHR | 0666, 1, 3);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_lookup(h->fe, pub, "null", &e));
	expect_node(&e.attr, S_IFCHR | 0666, 1, 3);
	assert_int_equal(e.attr.uid, GUEST_UID);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, e2.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, e3.nodeid, 1));

	/* The name is taken: EEXIST, as for any mknod. */
	H_ERR(h, fe_fuse_mknod(h->fe, pub, "null", S_IFCHR | 0666, makedev(1, 3), &e), EEXIST);
	/* FIFOs, sockets and regular files are still the real thing. */
	H_OK(h, fe_fuse_mknod(h->fe, pub, "fifo", S_IFIFO | 0644, 0, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	host_stat(h, "pub/fifo", &st);
	assert_true(S_ISFIFO(st.st_mode));
	H_OK(h, fe_fuse_forget(h->fe, pub, 1));
}

/* Find @name in a READDIR(PLUS) of the root; fills @d. */
static bool find_dirent(struct h *h, bool plus, const char *name, struct fe_dirent *out)
{
	static char buf[64 * 1024];
	struct fuse_open_out oo;
	struct fe_dirent d;
	bool found = false;
	size_t pos = 0;
	int n;

	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &oo));
	n = plus ? fe_fuse_readdirplus(h->fe, FUSE_ROOT_ID, oo.fh, 0, buf, sizeof(buf))
		 : fe_fuse_readdir(h->fe, FUSE_ROOT_ID, oo.fh, 0, buf, sizeof(buf));
	H_OK(h, n);
	while (fe_dirent_next(buf, (size_t)n, &pos, plus, &d) == 1) {
		if (!strcmp(d.name, name)) {
			*out = d;
			found = true;
		} else if (plus && d.entry.nodeid) {
			H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
		}
	}
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, oo.fh));
	return found;
}

static void test_mapped_readdir(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fe_dirent d;

	dn_start(h, NULL);
	h_write_file(h, "plain", "x", 1);
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "tty", S_IFCHR | 0620, makedev(5, 0), &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "sda", S_IFBLK | 0660, makedev(8, 0), &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));

	assert_true(find_dirent(h, true, "tty", &d));
	assert_int_equal(d.type, DT_CHR);
	expect_node(&d.entry.attr, S_IFCHR | 0620, 5, 0);
	H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
	assert_true(find_dirent(h, true, "sda", &d));
	assert_int_equal(d.type, DT_BLK);
	expect_node(&d.entry.attr, S_IFBLK | 0660, 8, 0);
	H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
	assert_true(find_dirent(h, true, "plain", &d));
	assert_int_equal(d.type, DT_REG);
	H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));

	assert_true(find_dirent(h, false, "tty", &d));
	assert_int_equal(d.type, DT_CHR);
	assert_true(find_dirent(h, false, "sda", &d));
	assert_int_equal(d.type, DT_BLK);
	assert_true(find_dirent(h, false, "plain", &d));
	assert_int_equal(d.type, DT_REG);
}

static void test_mapped_setattr(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in si;
	struct fuse_entry_out e;
	struct fuse_attr_out ao;
	struct stat st;

	need_root();
	h_mkdir(h, "pub", 0777);
	dn_start(h, NULL);
	uint64_t pub = h_lookup(h, "pub", NULL);

	become(h, GUEST_UID, GUEST_GID);
	H_OK(h, fe_fuse_mknod(h->fe, pub, "n", S_IFCHR | 0644, makedev(1, 3), &e));

	/* chmod by the owner: the guest's mode, set-ID bits included; the host file stays 0600. */
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_MODE;
	si.mode = 06755;
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao));
	expect_node(&ao.attr, S_IFCHR | 06755, 1, 3);
	expect_host_mapped(h, "pub/n", "v1 c 1:3 6755");
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, &ao));
	assert_int_equal(ao.attr.mode, S_IFCHR | 06755);

	/* chmod by someone else: the host says no, nothing changes. */
	become(h, OTHER_UID, OTHER_GID);
	si.mode = 0777;
	H_ERR(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao), EPERM);
	expect_host_mapped(h, "pub/n", "v1 c 1:3 6755");

	/* utimes. */
	become(h, GUEST_UID, GUEST_GID);
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_MTIME | FATTR_ATIME;
	si.mtime = 1000000000;
	si.atime = 1000000001;
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao));
	assert_int_equal(ao.attr.mtime, 1000000000);
	assert_int_equal(ao.attr.mode, S_IFCHR | 06755);
	host_stat(h, "pub/n", &st);
	assert_int_equal(st.st_mtime, 1000000000);
	assert_int_equal(st.st_atime, 1000000001);

	/* truncate(2) of a device node: EINVAL (a guest kernel never sends it). */
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_SIZE;
	si.size = 10;
	H_ERR(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao), EINVAL);

	/* chown by root: owner changes on the host, set-user-ID (and set-group-ID with g+x) go. */
	become(h, 0, 0);
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_UID | FATTR_GID;
	si.uid = OTHER_UID;
	si.gid = OTHER_GID;
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao));
	assert_int_equal(ao.attr.uid, OTHER_UID);
	assert_int_equal(ao.attr.gid, OTHER_GID);
	expect_node(&ao.attr, S_IFCHR | 0755, 1, 3);
	host_stat(h, "pub/n", &st);
	assert_int_equal(st.st_uid, OTHER_UID);
	assert_int_equal(st.st_gid, OTHER_GID);
	expect_host_mapped(h, "pub/n", "v1 c 1:3 0755");

	/* Set-group-ID without group execute survives a chown (as locally). */
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_MODE;
	si.mode = 02640;
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao));
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_UID;
	si.uid = GUEST_UID;
	H_OK(h, fe_fuse_setattr(h->fe, e.nodeid, &si, &ao));
	expect_node(&ao.attr, S_IFCHR | 02640, 1, 3);
	assert_int_equal(ao.attr.uid, GUEST_UID);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, pub, 1));
}

static void test_mapped_names(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, l;
	struct fuse_attr_out ao;

	dn_start(h, NULL);
	h_mkdir(h, "d", 0755);
	uint64_t d = h_lookup(h, "d", NULL);

	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "n", S_IFBLK | 0600, makedev(259, 1), &e));
	/* link: the new name is the same device node. */
	H_OK(h, fe_fuse_link(h->fe, e.nodeid, d, "n2", &l));
	assert_int_equal(l.nodeid, e.nodeid);
	expect_node(&l.attr, S_IFBLK | 0600, 259, 1);
	assert_int_equal(l.attr.nlink, 2);
	expect_host_mapped(h, "d/n2", "v1 b 259:1 0600");
	/* rename */
	H_OK(h, fe_fuse_rename(h->fe, d, "n2", FUSE_ROOT_ID, "n3"));
	assert_false(h_exists(h, "d/n2"));
	expect_host_mapped(h, "n3", "v1 b 259:1 0600");
	/* unlink both names */
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "n"));
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, &ao));
	expect_node(&ao.attr, S_IFBLK | 0600, 259, 1);
	assert_int_equal(ao.attr.nlink, 1);
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "n3"));
	assert_false(h_exists(h, "n") || h_exists(h, "n3"));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 2));
	H_OK(h, fe_fuse_forget(h->fe, d, 1));
}

static void test_mapped_never_opened(void **state)
{
	static const uint32_t oflags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC };
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, ce;
	struct fuse_open_out oo;

	dn_start(h, NULL);
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "n", S_IFCHR | 0666, makedev(1, 5), &e));
	for (size_t i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++)
		H_ERR(h, fe_fuse_open(h->fe, e.nodeid, oflags[i], &oo), ENXIO);
	/* CREATE of the existing name without O_EXCL would open it: refused too. */
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "n", O_CREAT | O_WRONLY, S_IFREG | 0644, &ce,
				&oo),
	      ENXIO);
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "n", O_CREAT | O_EXCL | O_WRONLY,
				S_IFREG | 0644, &ce, &oo),
	      EEXIST);
	expect_host_mapped(h, "n", "v1 c 1:5 0666");
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
}

static int get_xattr(struct h *h, uint64_t nodeid, const char *name, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct fuse_getxattr_out go;
	struct h_xbuf in[2] = { { &gi, sizeof(gi) }, { name, (uint32_t)strlen(name) + 1 } };
	uint32_t len = 0;
	int r;

	if (!size) {
		r = h_xreq(h, FUSE_GETXATTR, nodeid, in, 2, &go, sizeof(go), &len);
		return r ? r : (int)go.size;
	}
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

static int list_xattr(struct h *h, uint64_t nodeid, void *buf, uint32_t size)
{
	struct fuse_getxattr_in gi = { .size = size };
	struct fuse_getxattr_out go;
	struct h_xbuf in[1] = { { &gi, sizeof(gi) } };
	uint32_t len = 0;
	int r;

	if (!size) {
		r = h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, &go, sizeof(go), &len);
		return r ? r : (int)go.size;
	}
	r = h_xreq(h, FUSE_LISTXATTR, nodeid, in, 1, buf, size, &len);
	return r ? r : (int)len;
}

static int remove_xattr(struct h *h, uint64_t nodeid, const char *name)
{
	struct h_xbuf in[1] = { { name, (uint32_t)strlen(name) + 1 } };

	return h_xreq(h, FUSE_REMOVEXATTR, nodeid, in, 1, NULL, 0, NULL);
}

static void test_mapped_xattr_hidden(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	char buf[256], hv[64];
	uint64_t f;
	int n;

	dn_start(h, "--xattr");
	h_write_file(h, "f", "", 0);
	f = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "n", S_IFCHR | 0600, makedev(1, 3), &e));
	/* The guest may keep attributes of its own on the node. */
	H_OK(h, set_xattr(h, e.nodeid, "user.mine", "1"));

	/* GETXATTR: absent, on the node and on any file. */
	H_ERR(h, get_xattr(h, e.nodeid, XNAME, buf, sizeof(buf)), ENODATA);
	H_ERR(h, get_xattr(h, e.nodeid, XNAME, NULL, 0), ENODATA);
	H_ERR(h, get_xattr(h, f, XNAME, buf, sizeof(buf)), ENODATA);
	/* SETXATTR: refused, so a guest cannot make a regular file a device (or change one). */
	H_ERR(h, set_xattr(h, f, XNAME, "v1 c 1:1 0666"), EPERM);
	assert_int_equal(getxattr(h_path(h, "f"), XNAME, hv, sizeof(hv)), -1);
	H_ERR(h, set_xattr(h, e.nodeid, XNAME, "v1 c 1:1 0666"), EPERM);
	/* REMOVEXATTR: absent. */
	H_ERR(h, remove_xattr(h, e.nodeid, XNAME), ENODATA);
	expect_host_mapped(h, "n", "v1 c 1:3 0600");
	/* LISTXATTR: left out, and the size probe agrees with the list. */
	n = list_xattr(h, e.nodeid, NULL, 0);
	assert_int_equal(n, (int)sizeof("user.mine"));
	n = list_xattr(h, e.nodeid, buf, (uint32_t)n);
	assert_int_equal(n, (int)sizeof("user.mine"));
	assert_memory_equal(buf, "user.mine", sizeof("user.mine"));
	H_ERR(h, list_xattr(h, e.nodeid, buf, 4), ERANGE);
	/* A host file carrying only the attribute lists as empty. */
	H_OK(h, remove_xattr(h, e.nodeid, "user.mine"));
	assert_int_equal(list_xattr(h, e.nodeid, NULL, 0), 0);
	assert_int_equal(list_xattr(h, e.nodeid, buf, sizeof(buf)), 0);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
}

/* Host-made files: only an empty 0600 regular file with a valid value is a node. */
static void test_mapped_host_files(void **state)
{
	static const struct {
		const char *name;
		const char *value;
		mode_t mode;
		bool node;
	} cases[] = {
		{ "ok", "v1 c 1:3 0666", 0600, true },
		{ "blk", "v1 b 0:0 0000", 0600, true },
		{ "mode0644", "v1 c 1:3 0666", 0644, false },
		{ "bigmajor", "v1 c 4096:0 0666", 0600, false },
		{ "bigminor", "v1 c 1:1048576 0666", 0600, false },
		{ "lead0", "v1 c 01:3 0666", 0600, false },
		{ "badtype", "v1 p 1:3 0666", 0600, false },
		{ "shortmode", "v1 c 1:3 666", 0600, false },
		{ "trailing", "v1 c 1:3 0666\n", 0600, false },
		{ "nul", "v1 c 1:3 0666\0", 0600, false },
		{ "v2", "v2 c 1:3 0666", 0600, false },
		{ "octal8", "v1 c 1:3 0668", 0600, false },
		{ "empty", "", 0600, false },
	};
	struct h *h = H_STATE(state);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].value) + (!strcmp(cases[i].name, "nul") ? 1 : 0);

		h_write_file(h, cases[i].name, "", 0);
		if (chmod(h_path(h, cases[i].name), cases[i].mode) < 0 ||
		    setxattr(h_path(h, cases[i].name), XNAME, cases[i].value, len, 0) < 0)
			fail_msg("host: %s: %s", cases[i].name, strerror(errno));
	}
	h_write_file(h, "nonempty", "x", 1);
	if (chmod(h_path(h, "nonempty"), 0600) < 0 ||
	    setxattr(h_path(h, "nonempty"), XNAME, "v1 c 1:3 0666", 13, 0) < 0)
		fail_msg("host: nonempty: %s", strerror(errno));
	dn_start(h, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fuse_attr a;

		h_lookup(h, cases[i].name, &a);
		if (cases[i].node != !S_ISREG(a.mode))
			fail_msg("%s (\"%s\", host 0%o): guest mode 0%o", cases[i].name,
				 cases[i].value, cases[i].mode, a.mode);
	}
	struct fuse_attr a;
	h_lookup(h, "ok", &a);
	expect_node(&a, S_IFCHR | 0666, 1, 3);
	h_lookup(h, "blk", &a);
	expect_node(&a, S_IFBLK, 0, 0);
	h_lookup(h, "nonempty", &a);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(a.size, 1);
}

/* A host filesystem without user xattrs (ramfs): mknod fails cleanly. */
static void test_mapped_no_user_xattrs(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	bool mounted;

	need_root();
	h_mkdir(h, "ram", 0755);
	mounted = mount("ramfs", h_path(h, "ram"), "ramfs", 0, "mode=0755") == 0;
	if (!mounted) {
		print_message("cannot mount ramfs: %s\n", strerror(errno));
		skip();
	}
	dn_start(h, NULL);
	uint64_t ram = h_lookup(h, "ram", NULL);

	H_ERR(h, fe_fuse_mknod(h->fe, ram, "n", S_IFCHR | 0666, makedev(1, 3), &e), EPERM);
	assert_false(h_exists(h, "ram/n"));
	/* Everything else still works there. */
	H_OK(h, fe_fuse_mknod(h->fe, ram, "fifo", S_IFIFO | 0666, 0, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_unlink(h->fe, ram, "fifo"));
	H_OK(h, fe_fuse_forget(h->fe, ram, 1));
	if (umount2(h_path(h, "ram"), MNT_DETACH) < 0)
		fail_msg("umount ramfs: %s", strerror(errno));
}

/* ---- host and refuse modes ---------------------------------------------- */

static void test_host_mode(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct stat st;

	need_root();
	dn_start(h, "--device-nodes=host");
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "null", S_IFCHR | 0666, makedev(1, 3), &e));
	expect_node(&e.attr, S_IFCHR | 0666, 1, 3);
	host_stat(h, "null", &st);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(getxattr(h_path(h, "null"), XNAME, NULL, 0), -1);
	/* A real device node is still never opened by the daemon. */
	struct fuse_open_out oo;
	H_ANY_ERR(h, fe_fuse_open(h->fe, e.nodeid, O_RDONLY, &oo));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "loop", S_IFBLK | 0600, makedev(7, 0), &e));
	host_stat(h, "loop", &st);
	assert_true(S_ISBLK(st.st_mode));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	/* An unprivileged guest user does not get CAP_MKNOD. */
	h_mkdir(h, "pub", 0777);
	uint64_t pub = h_lookup(h, "pub", NULL);
	become(h, GUEST_UID, GUEST_GID);
	H_ERR(h, fe_fuse_mknod(h->fe, pub, "n", S_IFCHR | 0666, makedev(1, 3), &e), EPERM);
	become(h, 0, 0);
	H_OK(h, fe_fuse_forget(h->fe, pub, 1));
}

static void test_refuse_mode(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;

	dn_start(h, "--device-nodes=refuse");
	H_ERR(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "c", S_IFCHR | 0666, makedev(1, 3), &e), EPERM);
	H_ERR(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "b", S_IFBLK | 0666, makedev(7, 0), &e), EPERM);
	assert_false(h_exists(h, "c") || h_exists(h, "b"));
	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "p", S_IFIFO | 0666, 0, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
}

static void test_bad_option(void **state)
{
	struct h *h = H_STATE(state);

	if (!h_is(h, "vufsd"))
		skip();
	/* An unknown mode is a usage error: the daemon never serves. */
	char *t;
	if (asprintf(&t, "%s --device-nodes=yes", h->tmpl) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	assert_int_not_equal(h_try_start(h, NULL, true), 0);
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_mapped_mknod_attr),
		TL(test_mapped_readdir),
		TL(test_mapped_setattr),
		TL(test_mapped_names),
		TL(test_mapped_never_opened),
		TL(test_mapped_xattr_hidden),
		TL(test_mapped_host_files),
		TL(test_mapped_no_user_xattrs),
		TL(test_host_mode),
		TL(test_refuse_mode),
		TL(test_bad_option),
	};

	return cmocka_run_group_tests_name("fuse_devnode", tests, NULL, NULL);
}
