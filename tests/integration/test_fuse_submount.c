// SPDX-License-Identifier: MIT
/*
 * Host mounts inside the share: announced as submounts (FUSE_ATTR_SUBMOUNT
 * on the mount point's entry) by default to a guest that mounts them, and
 * otherwise inode numbers of the other filesystem get a device prefix so
 * they never collide with the share's. Needs root (mounts a tmpfs); skips
 * otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define PREFIX(n) ((uint64_t)(n) << 56)

static int sm_setup(void **state)
{
	struct h *h;
	int r = h_setup_lazy(state);

	if (r)
		return r;
	h = H_STATE(state);
	h_mkdir(h, "plain", 0755);
	h_write_file(h, "plain/f", "p", 1);
	h_mkdir(h, "sub", 0755);
	if (mount("vufs-sm", h_path(h, "sub"), "tmpfs", 0, "size=4m") < 0) {
		print_message("cannot mount a tmpfs (%s): skipping\n", strerror(errno));
		return 0; /* the tests skip: "sub" is no mount point */
	}
	h_write_file(h, "sub/f", "tmpfs", 5);
	h_mkdir(h, "sub/dir", 0755);
	return 0;
}

static int sm_teardown(void **state)
{
	struct h *h = H_STATE(state);

	umount2(h_path(h, "sub"), MNT_DETACH);
	return h_teardown(state);
}

static void start(struct h *h, const char *extra, bool guest_submounts)
{
	struct fuse_init_out o;
	struct stat a, b;

	if (!h_is(h, "vufsd"))
		skip();
	if (stat(h_path(h, "sub"), &a) < 0 || stat(h->share, &b) < 0 || a.st_dev == b.st_dev)
		skip(); /* no tmpfs mounted (not root?) */
	if (extra) {
		char *t;

		if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
			fail_msg("out of memory");
		free(h->tmpl);
		h->tmpl = t;
	}
	h_start(h, NULL, false);
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION,
				FE_FUSE_INIT_FLAGS | (guest_submounts ? FUSE_SUBMOUNTS : 0), &o));
}

static uint64_t host_ino(struct h *h, const char *rel)
{
	struct stat st;

	if (lstat(h_path(h, rel), &st) < 0)
		fail_msg("lstat %s: %s", rel, strerror(errno));
	return st.st_ino;
}

/* The d_ino READDIR gives for @name in directory @rel. */
static uint64_t readdir_ino(struct h *h, const char *rel, const char *name)
{
	static char buf[16384];
	struct fuse_open_out oo;
	uint64_t dir = h_lookup(h, rel, NULL), ino = 0;
	struct fe_dirent d;
	size_t pos = 0;
	int len;

	H_OK(h, fe_fuse_opendir(h->fe, dir, 0, &oo));
	len = fe_fuse_readdir(h->fe, dir, oo.fh, 0, buf, sizeof(buf));
	H_OK(h, len);
	while (fe_dirent_next(buf, (size_t)len, &pos, false, &d) > 0) {
		if (!strcmp(d.name, name))
			ino = d.ino;
	}
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
	return ino;
}

/* Announced: the mount point is flagged, plain directories are not, numbers are the host's. */
static void sm_announced(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_attr attr;
	struct fuse_syncfs_in si = { 0 };
	uint64_t sub;

	start(h, NULL, true);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "sub", &e));
	assert_true(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	sub = e.nodeid;
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "plain", &e));
	assert_false(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	H_OK(h, fe_fuse_lookup(h->fe, sub, "dir", &e));
	assert_false(e.attr.flags & FUSE_ATTR_SUBMOUNT); /* inside the submount: same mount */
	h_lookup(h, "sub/f", &attr);
	assert_int_equal(attr.ino, host_ino(h, "sub/f"));
	h_lookup(h, "plain/f", &attr);
	assert_int_equal(attr.ino, host_ino(h, "plain/f"));
	/* SYNCFS as the guest sends it for the submount: its root's nodeid. */
	H_OK(h, fe_fuse_raw(h->fe, 1, FUSE_SYNCFS, sub, &si, sizeof(si), NULL, 0, NULL));
}

static void check_prefixed(struct h *h)
{
	struct fuse_entry_out e;
	struct fuse_attr attr;
	uint64_t f, p;

	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "sub", &e));
	assert_false(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	assert_int_equal(e.attr.ino, PREFIX(1) | host_ino(h, "sub"));
	h_lookup(h, "sub/f", &attr);
	f = attr.ino;
	assert_int_equal(f, PREFIX(1) | host_ino(h, "sub/f"));
	h_lookup(h, "plain/f", &attr);
	p = attr.ino;
	assert_int_equal(p, host_ino(h, "plain/f")); /* the share's own numbers stay */
	assert_int_not_equal(f, p);
	/* READDIR, GETATTR and LOOKUP agree. */
	assert_int_equal(readdir_ino(h, "sub", "f"), f);
	assert_int_equal(readdir_ino(h, "plain", "f"), p);
	{
		struct fuse_attr_out ao;

		H_OK(h, fe_fuse_getattr(h->fe, h_lookup(h, "sub/f", NULL), NULL, &ao));
		assert_int_equal(ao.attr.ino, f);
	}
	print_message("host inode %llu on the tmpfs is %#llx in the guest\n",
		      (unsigned long long)host_ino(h, "sub/f"), (unsigned long long)f);
}

static void sm_not_announced(void **state)
{
	struct h *h = H_STATE(state);

	start(h, "--no-announce-submounts", true);
	check_prefixed(h);
}

/* Announced, but the guest does not mount submounts (no FUSE_SUBMOUNTS at INIT). */
static void sm_guest_without_submounts(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_attr attr;

	start(h, NULL, false);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "sub", &e));
	h_lookup(h, "sub/f", &attr);
	assert_int_equal(attr.ino, PREFIX(1) | host_ino(h, "sub/f"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, sm_setup, sm_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(sm_announced),
		T(sm_not_announced),
		T(sm_guest_without_submounts),
	};

	return cmocka_run_group_tests_name("submounts", tests, NULL, NULL);
}
