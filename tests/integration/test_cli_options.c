// SPDX-License-Identifier: MIT
/*
 * Daemon options seen from the guest's side: --readonly, --preserve-noatime,
 * --allow-mmap and the -o compatibility words that change what the guest is
 * offered (timeout=, no_flock, no_posix_lock). Each test starts vufsd with
 * the option and checks the FUSE replies and the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

#define INIT_FLAGS (FE_FUSE_INIT_FLAGS | FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS)

/* Start vufsd with @extra arguments and FUSE_INIT with @flags. */
static void start_with(struct h *h, const char *extra, uint64_t flags)
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
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, FUSE_KERNEL_MINOR_VERSION, flags, &o));
}

static uint64_t granted(struct h *h)
{
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);

	return (uint64_t)c->flags | ((uint64_t)c->flags2 << 32);
}

static void test_readonly(void **state)
{
	struct h *h = *state;
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	struct fuse_attr_out ao;
	uint64_t f, d;
	char buf[64];
	int n;

	h_write_file(h, "f", "host data", 9);
	h_mkdir(h, "d", 0755);
	start_with(h, "--readonly", INIT_FLAGS);
	f = h_lookup(h, "f", NULL);
	d = h_lookup(h, "d", NULL);

	/* Reading still works. */
	H_OK(h, fe_fuse_open(h->fe, f, O_RDONLY, &oo));
	n = fe_fuse_read(h->fe, f, oo.fh, 0, buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "host data", 9);
	H_OK(h, fe_fuse_release(h->fe, f, oo.fh, O_RDONLY));

	/* Every way of modifying fails with EROFS. */
	H_ERR(h, fe_fuse_open(h->fe, f, O_RDWR, &oo), EROFS);
	H_ERR(h, fe_fuse_open(h->fe, f, O_WRONLY, &oo), EROFS);
	H_ERR(h, fe_fuse_open(h->fe, f, O_RDONLY | O_TRUNC, &oo), EROFS);
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "new", O_RDWR, 0644, &e, &oo), EROFS);
	H_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "newdir", 0755, &e), EROFS);
	H_ERR(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "fifo", S_IFIFO | 0644, 0, &e), EROFS);
	H_ERR(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "sl", "f", &e), EROFS);
	H_ERR(h, fe_fuse_link(h->fe, f, d, "hard", &e), EROFS);
	H_ERR(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "f"), EROFS);
	H_ERR(h, fe_fuse_rmdir(h->fe, FUSE_ROOT_ID, "d"), EROFS);
	H_ERR(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "f", d, "g"), EROFS);
	H_ERR(h, fe_fuse_setattr(h->fe, f, &sa, &ao), EROFS);
	sa.valid = FATTR_MODE;
	sa.mode = 0600;
	H_ERR(h, fe_fuse_setattr(h->fe, f, &sa, &ao), EROFS);

	/* And the host's tree is as it was. */
	n = (int)h_read_file(h, "f", buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_false(h_exists(h, "new"));
	assert_false(h_exists(h, "newdir"));
	assert_false(h_exists(h, "fifo"));
	assert_false(h_exists(h, "sl"));
	assert_false(h_exists(h, "d/g"));
	assert_false(h_exists(h, "d/hard"));
	assert_true(h_exists(h, "d"));
	{
		struct stat st;

		assert_int_equal(lstat(h_path(h, "f"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644 & ~(mode_t)0);
	}
}

/*
 * O_NOATIME on a file the caller does not own: refused by the host kernel
 * (EPERM) unless vufsd drops the flag, which it does by default, as the
 * Rust virtiofsd does; --preserve-noatime keeps it. Needs root, so that
 * vufsd acts as the (unprivileged) guest caller.
 */
static void noatime_case(void **state, const char *extra, int want)
{
	struct h *h = *state;
	struct fuse_open_out oo;
	uint64_t f;
	int r;

	if (geteuid() != 0)
		skip();
	h_write_file(h, "rootfile", "x", 1);
	assert_int_equal(chmod(h_path(h, "rootfile"), 0644), 0);
	start_with(h, extra, INIT_FLAGS);
	f = h_lookup(h, "rootfile", NULL);
	fe_fuse_set_creds(h->fe, 1000, 1000, getpid());
	r = fe_fuse_open(h->fe, f, O_RDONLY | O_NOATIME, &oo);
	fe_fuse_set_creds(h->fe, 0, 0, getpid());
	if (want) {
		H_ERR(h, r, want);
	} else {
		H_OK(h, r);
		H_OK(h, fe_fuse_release(h->fe, f, oo.fh, O_RDONLY));
	}
}

static void test_noatime_dropped(void **state)
{
	noatime_case(state, "--log-level=warn", 0);
}

static void test_noatime_preserved(void **state)
{
	noatime_case(state, "--preserve-noatime", EPERM);
}

static void test_allow_mmap(void **state)
{
	struct h *h = *state;

	start_with(h, "--cache=never --allow-mmap", INIT_FLAGS | FUSE_DIRECT_IO_ALLOW_MMAP);
	assert_true(granted(h) & FUSE_DIRECT_IO_ALLOW_MMAP);
}

static void test_no_allow_mmap(void **state)
{
	struct h *h = *state;

	start_with(h, "--cache=never", INIT_FLAGS | FUSE_DIRECT_IO_ALLOW_MMAP);
	assert_false(granted(h) & FUSE_DIRECT_IO_ALLOW_MMAP);
}

/* -o timeout=N sets the entry and attribute validity, whatever the cache policy. */
static void test_compat_timeout(void **state)
{
	struct h *h = *state;
	struct fuse_entry_out e;

	h_write_file(h, "f", "x", 1);
	start_with(h, "-o cache=always,timeout=7", INIT_FLAGS);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	assert_int_equal(e.entry_valid, 7);
	assert_int_equal(e.attr_valid, 7);
}

/* -o no_flock keeps flock() in the guest but still forwards POSIX locks; no_posix_lock the reverse. */
static void test_compat_no_flock(void **state)
{
	struct h *h = *state;

	start_with(h, "-o no_flock", INIT_FLAGS);
	assert_false(granted(h) & FUSE_FLOCK_LOCKS);
	assert_true(granted(h) & FUSE_POSIX_LOCKS);
}

static void test_compat_no_posix_lock(void **state)
{
	struct h *h = *state;

	start_with(h, "-o no_posix_lock,flock", INIT_FLAGS);
	assert_true(granted(h) & FUSE_FLOCK_LOCKS);
	assert_false(granted(h) & FUSE_POSIX_LOCKS);
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(test_readonly),
		TL(test_noatime_dropped),
		TL(test_noatime_preserved),
		TL(test_allow_mmap),
		TL(test_no_allow_mmap),
		TL(test_compat_timeout),
		TL(test_compat_no_flock),
		TL(test_compat_no_posix_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
