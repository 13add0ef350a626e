// SPDX-License-Identifier: MIT
/*
 * Caching modes: --writeback (FUSE_WRITEBACK_CACHE) and the semantics it
 * changes on the host side (write-only opens that the guest reads through,
 * O_APPEND, size and mtime from SETATTR, set-ID clearing on WRITE), and the
 * reply flags and timeouts of each --cache mode. vufsd only (the option
 * spellings differ); effects are checked on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define GUEST_UID 1000u
#define GUEST_GID 1000u
#define WB_INIT_FLAGS (FE_FUSE_INIT_FLAGS | FUSE_WRITEBACK_CACHE | FUSE_HANDLE_KILLPRIV_V2)

/* Start vufsd with @extra arguments and INIT as a guest that wants writeback caching. */
static void start(struct h *h, const char *extra)
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
				WB_INIT_FLAGS, &o));
}

static bool granted(struct h *h, uint64_t flag)
{
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);

	return ((uint64_t)c->flags | ((uint64_t)c->flags2 << 32)) & flag;
}

/* WRITE with explicit write_flags (fe_fuse_write sends none). */
static int write_flags(struct h *h, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf,
		       uint32_t size, uint32_t flags)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size, .write_flags = flags };
	struct fuse_write_out out = { 0 };
	struct fe_fuse_call c;
	int r;

	fe_fuse_call_init(&c, FUSE_WRITE, nodeid);
	c.in[c.nin++] = (struct fe_fuse_buf){ &in, sizeof(in) };
	c.in[c.nin++] = (struct fe_fuse_buf){ buf, size };
	c.out = &out;
	c.out_size = sizeof(out);
	r = fe_fuse_call(h->fe, &c);
	return r < 0 ? r : (int)out.size;
}

static void host_stat(struct h *h, const char *rel, struct stat *st)
{
	if (lstat(h_path(h, rel), st) < 0)
		fail_msg("host: lstat %s: %s", rel, strerror(errno));
}

static void test_init_flag(void **state)
{
	struct h *h = H_STATE(state);

	start(h, "--writeback");
	assert_true(granted(h, FUSE_WRITEBACK_CACHE));
}

static void test_init_flag_off_by_default(void **state)
{
	struct h *h = H_STATE(state);

	start(h, "--cache=auto");
	assert_false(granted(h, FUSE_WRITEBACK_CACHE));
}

/* The guest fills pages around partial writes with READs through its write-only open. */
static void test_write_only_open_reads(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	uint64_t id;
	char buf[16];

	h_write_file(h, "f", "0123456789", 10);
	start(h, "--writeback");
	id = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY, &o));
	assert_int_equal(fe_fuse_read(h->fe, id, o.fh, 2, buf, 4), 4);
	assert_memory_equal(buf, "2345", 4);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
}

/* Without writeback a write-only open stays write-only on the host. */
static void test_write_only_without_writeback(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	uint64_t id;
	char buf[16];

	h_write_file(h, "f", "0123456789", 10);
	start(h, "");
	id = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY, &o));
	H_ERR(h, fe_fuse_read(h->fe, id, o.fh, 0, buf, 4), EBADF);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
}

/* The guest computes append offsets: a WRITE at offset 2 lands at 2, not at the host's EOF. */
static void test_append_offsets_from_guest(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	char buf[16] = { 0 };
	uint64_t id;

	h_write_file(h, "f", "0123456789", 10);
	start(h, "--writeback");
	id = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY | O_APPEND, &o));
	assert_int_equal(fe_fuse_write(h->fe, id, o.fh, 2, "ab", 2), 2);
	assert_int_equal(fe_fuse_write(h->fe, id, o.fh, 10, "XY", 2), 2);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
	assert_int_equal(h_read_file(h, "f", buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "01ab456789XY", 12);
}

/* Without writeback O_APPEND is the host's: every write goes to the end. */
static void test_append_without_writeback(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	char buf[16] = { 0 };
	uint64_t id;

	h_write_file(h, "f", "0123456789", 10);
	start(h, "");
	id = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY | O_APPEND, &o));
	assert_int_equal(fe_fuse_write(h->fe, id, o.fh, 2, "ab", 2), 2);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
	assert_int_equal(h_read_file(h, "f", buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "0123456789ab", 12);
}

/*
 * A caller who may write but not read (mode 0200) still opens write-only;
 * the guest's page fills work; a caller who may not write is refused.
 */
static void test_write_only_permission(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	char buf[16] = { 0 };
	uint64_t id, id2;

	if (geteuid() != 0)
		skip(); /* needs to act as another user */
	h_write_file(h, "w", "0123456789", 10);
	h_write_file(h, "ro", "0123456789", 10);
	assert_int_equal(chown(h_path(h, "w"), GUEST_UID, GUEST_GID), 0);
	assert_int_equal(chmod(h_path(h, "w"), 0200), 0);
	assert_int_equal(chown(h_path(h, "ro"), GUEST_UID, GUEST_GID), 0);
	assert_int_equal(chmod(h_path(h, "ro"), 0400), 0);
	start(h, "--writeback");
	id = h_lookup(h, "w", NULL);
	id2 = h_lookup(h, "ro", NULL);
	fe_fuse_set_creds(h->fe, GUEST_UID, GUEST_GID, 0);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY, &o));
	assert_int_equal(fe_fuse_read(h->fe, id, o.fh, 0, buf, 4), 4);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(fe_fuse_write(h->fe, id, o.fh, 0, "AB", 2), 2);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
	H_ERR(h, fe_fuse_open(h->fe, id2, O_WRONLY, &o), EACCES);
	fe_fuse_set_creds(h->fe, 0, 0, 0);
	assert_int_equal(h_read_file(h, "w", buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "AB23456789", 10);
}

/* The guest owns size and mtime under writeback: SETATTR applies them. */
static void test_setattr_size_and_mtime(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in sa = { 0 };
	struct fuse_attr_out ao;
	struct stat st;
	uint64_t id;

	h_write_file(h, "f", "0123456789", 10);
	start(h, "--writeback");
	id = h_lookup(h, "f", NULL);
	sa.valid = FATTR_SIZE | FATTR_MTIME | FATTR_CTIME;
	sa.size = 4096;
	sa.mtime = 1234567890;
	sa.mtimensec = 500;
	H_OK(h, fe_fuse_setattr(h->fe, id, &sa, &ao));
	assert_int_equal(ao.attr.size, 4096);
	assert_int_equal(ao.attr.mtime, 1234567890);
	host_stat(h, "f", &st);
	assert_int_equal(st.st_size, 4096);
	assert_int_equal(st.st_mtim.tv_sec, 1234567890);
	assert_int_equal(st.st_mtim.tv_nsec, 500);
}

/*
 * Set-ID bits under writeback: the guest writes through (not via its cache)
 * when the writer must clear them, and says so with FUSE_WRITE_KILL_SUIDGID.
 */
static void test_write_kills_suid(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out o;
	struct stat st;
	uint64_t id;

	h_write_file(h, "s", "0123456789", 10);
	assert_int_equal(chmod(h_path(h, "s"), 06775), 0);
	start(h, "--writeback");
	assert_true(granted(h, FUSE_HANDLE_KILLPRIV_V2));
	id = h_lookup(h, "s", NULL);
	H_OK(h, fe_fuse_open(h->fe, id, O_WRONLY, &o));
	/* A write-back of cached pages (no kill flag) leaves the bits. */
	assert_int_equal(write_flags(h, id, o.fh, 0, "a", 1, FUSE_WRITE_CACHE), 1);
	host_stat(h, "s", &st);
	assert_int_equal(st.st_mode & 07777, 06775);
	assert_int_equal(write_flags(h, id, o.fh, 0, "b", 1, FUSE_WRITE_KILL_SUIDGID), 1);
	host_stat(h, "s", &st);
	assert_int_equal(st.st_mode & 07777, 0775);
	H_OK(h, fe_fuse_release(h->fe, id, o.fh, 0));
}

/* Reply flags and timeouts of one --cache mode. */
static void check_cache_mode(struct h *h, const char *mode, uint64_t timeout, uint32_t file_flags,
			     uint32_t dir_flags)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;
	char arg[32];

	h_write_file(h, "f", "x", 1);
	snprintf(arg, sizeof(arg), "--cache=%s", mode);
	start(h, arg);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	assert_int_equal(e.entry_valid, timeout);
	assert_int_equal(e.attr_valid, timeout);
	H_OK(h, fe_fuse_open(h->fe, e.nodeid, O_RDONLY, &o));
	assert_int_equal(o.open_flags & (FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_CACHE_DIR),
			 file_flags);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, o.fh, 0));
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, 0, &o));
	assert_int_equal(o.open_flags & (FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_CACHE_DIR),
			 dir_flags);
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, o.fh));
	/* A missing name: a negative entry in the long-timeout modes, ENOENT otherwise. */
	if (timeout > 1) {
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "missing", &e));
		assert_int_equal(e.nodeid, 0);
		assert_int_equal(e.entry_valid, timeout);
	} else {
		H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "missing", &e), ENOENT);
	}
}

static void test_cache_always(void **state)
{
	check_cache_mode(H_STATE(state), "always", 86400, FOPEN_KEEP_CACHE,
			 FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
}

static void test_cache_auto(void **state)
{
	check_cache_mode(H_STATE(state), "auto", 1, 0, 0);
}

static void test_cache_metadata(void **state)
{
	check_cache_mode(H_STATE(state), "metadata", 86400, 0, 0);
}

static void test_cache_never(void **state)
{
	check_cache_mode(H_STATE(state), "never", 0, FOPEN_DIRECT_IO, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_flag),
		T(test_init_flag_off_by_default),
		T(test_write_only_open_reads),
		T(test_write_only_without_writeback),
		T(test_append_offsets_from_guest),
		T(test_append_without_writeback),
		T(test_write_only_permission),
		T(test_setattr_size_and_mtime),
		T(test_write_kills_suid),
		T(test_cache_always),
		T(test_cache_auto),
		T(test_cache_metadata),
		T(test_cache_never),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
