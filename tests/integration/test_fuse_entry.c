// SPDX-License-Identifier: MIT
/*
 * Namespace and attribute opcodes: LOOKUP, GETATTR, SETATTR, CREATE, MKDIR,
 * MKNOD, SYMLINK, READLINK, LINK, UNLINK, RMDIR, RENAME, RENAME2, STATFS,
 * ACCESS, FORGET, BATCH_FORGET; results are checked on the host too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define FORGED_NODEID 0xdeadbeefull

static struct stat host_stat(const struct h *h, const char *rel)
{
	struct stat st;

	if (lstat(h_path(h, rel), &st) < 0)
		fail_msg("host: lstat %s: %s", rel, strerror(errno));
	return st;
}

static void test_lookup_getattr(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_attr_out ao;
	struct stat st, root;
	char longname[300];

	h_write_file(h, "f", "hello", 5);
	h_mkdir(h, "d", 0755);
	st = host_stat(h, "f");

	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	assert_true(e.nodeid != 0 && e.nodeid != FUSE_ROOT_ID);
	assert_int_equal(e.attr.size, 5);
	assert_int_equal(e.attr.ino, st.st_ino);
	assert_int_equal(e.attr.mode, st.st_mode);
	assert_int_equal(e.attr.nlink, 1);

	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, &ao));
	assert_int_equal(ao.attr.ino, st.st_ino);
	assert_int_equal(ao.attr.size, 5);
	assert_int_equal(ao.attr.mode, st.st_mode);
	assert_int_equal(ao.attr.mtime, st.st_mtim.tv_sec);
	assert_int_equal(ao.attr.mtimensec, st.st_mtim.tv_nsec);

	if (stat(h->share, &root) < 0)
		fail_msg("stat share: %s", strerror(errno));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, &ao));
	assert_true(S_ISDIR(ao.attr.mode));
	assert_int_equal(ao.attr.ino, root.st_ino);

	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "d", &e));
	assert_true(S_ISDIR(e.attr.mode));

	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "missing", &e), ENOENT);
	H_ERR(h, fe_fuse_lookup(h->fe, e.nodeid, "missing", &e), ENOENT);

	/* A component under a regular file. */
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	H_ERR(h, fe_fuse_lookup(h->fe, e.nodeid, "x", NULL), ENOTDIR);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, longname, NULL), ENAMETOOLONG);
}

static void test_forged_nodeid(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;

	h_write_file(h, "f", "x", 1);
	/* Any error is fine (ESTALE, EBADF, ENOENT, EINVAL...); a crash or a hang is not. */
	H_ANY_ERR(h, fe_fuse_open(h->fe, FORGED_NODEID, O_RDONLY, &oo));
	H_ANY_ERR(h, fe_fuse_getattr(h->fe, FORGED_NODEID, NULL, NULL));
	H_ANY_ERR(h, fe_fuse_lookup(h->fe, FORGED_NODEID, "f", NULL));
	H_ANY_ERR(h, fe_fuse_getattr(h->fe, 0, NULL, NULL));
	H_ANY_ERR(h, fe_fuse_opendir(h->fe, FORGED_NODEID, O_RDONLY, &oo));
	H_ANY_ERR(h, fe_fuse_mkdir(h->fe, FORGED_NODEID, "d", S_IFDIR | 0755, NULL));
	H_ANY_ERR(h, fe_fuse_create(h->fe, FORGED_NODEID, "c", O_WRONLY | O_CREAT, S_IFREG | 0644,
				    NULL, NULL));
	H_ANY_ERR(h, fe_fuse_getattr(h->fe, UINT64_MAX, NULL, NULL));
	assert_false(h_exists(h, "d") || h_exists(h, "c"));
	/* Still serving. */
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_setattr(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_setattr_in in;
	struct fuse_attr_out ao;
	struct fuse_open_out oo;
	char data[100];
	uint64_t nodeid;
	struct stat st;
	time_t now;

	h_pattern(data, sizeof(data), 1);
	h_write_file(h, "f", data, sizeof(data));
	nodeid = h_lookup(h, "f", NULL);

	/* truncate */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	in.size = 10;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	assert_int_equal(ao.attr.size, 10);
	assert_int_equal(host_stat(h, "f").st_size, 10);

	/* chmod */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MODE;
	in.mode = S_IFREG | 0600;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	assert_int_equal(ao.attr.mode & 07777, 0600);
	assert_int_equal(host_stat(h, "f").st_mode & 07777, 0600);

	/* utimens with explicit times */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_ATIME | FATTR_MTIME;
	in.atime = 1000000000;
	in.atimensec = 123456789;
	in.mtime = 1100000000;
	in.mtimensec = 987654321;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	assert_int_equal(ao.attr.mtime, 1100000000);
	assert_int_equal(ao.attr.mtimensec, 987654321);
	st = host_stat(h, "f");
	assert_int_equal(st.st_atim.tv_sec, 1000000000);
	assert_int_equal(st.st_atim.tv_nsec, 123456789);
	assert_int_equal(st.st_mtim.tv_sec, 1100000000);
	assert_int_equal(st.st_mtim.tv_nsec, 987654321);

	/* mtime = now */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MTIME | FATTR_MTIME_NOW;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	now = time(NULL);
	st = host_stat(h, "f");
	assert_true(st.st_mtim.tv_sec > now - 60 && st.st_mtim.tv_sec <= now + 1);
	assert_int_equal(st.st_atim.tv_sec, 1000000000);

	/* chown */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_UID | FATTR_GID;
	in.uid = 1000;
	in.gid = 2000;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	assert_int_equal(ao.attr.uid, 1000);
	assert_int_equal(ao.attr.gid, 2000);
	st = host_stat(h, "f");
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 2000);

	/* ftruncate through a file handle */
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDWR, &oo));
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE | FATTR_FH;
	in.fh = oo.fh;
	in.size = 3;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	assert_int_equal(ao.attr.size, 3);
	assert_int_equal(host_stat(h, "f").st_size, 3);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDWR));

	/* Extending truncate reads back as zeroes on the host. */
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	in.size = 4096;
	H_OK(h, fe_fuse_setattr(h->fe, nodeid, &in, &ao));
	{
		char back[4096], zero[4093] = { 0 };

		assert_int_equal(h_read_file(h, "f", back, sizeof(back)), 4096);
		assert_memory_equal(back, data, 3);
		assert_memory_equal(back + 3, zero, sizeof(zero));
	}

	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	H_ANY_ERR(h, fe_fuse_setattr(h->fe, FORGED_NODEID, &in, NULL));
	H_OK(h, fe_fuse_forget(h->fe, nodeid, 1));
}

static void test_create(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, e2;
	struct fuse_open_out oo;
	char back[16];
	struct stat st;

	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "new", O_WRONLY | O_CREAT | O_EXCL,
			       S_IFREG | 0640, &e, &oo));
	assert_int_equal(e.attr.mode, S_IFREG | 0640);
	assert_int_equal(e.attr.size, 0);
	st = host_stat(h, "new");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(e.attr.ino, st.st_ino);

	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, "hello", 5), 5);
	H_OK(h, fe_fuse_flush(h->fe, e.nodeid, oo.fh, 0));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	assert_int_equal(h_read_file(h, "new", back, sizeof(back)), 5);
	assert_memory_equal(back, "hello", 5);

	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "new", O_WRONLY | O_CREAT | O_EXCL,
				S_IFREG | 0640, NULL, NULL), EEXIST);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "new", &e2));
	assert_int_equal(e2.nodeid, e.nodeid);
	assert_int_equal(e2.attr.size, 5);

	/*
	 * O_TRUNC on an existing file without O_EXCL truncates it (a guest sends
	 * this when the file appeared on the host after its negative lookup).
	 * legacy virtiofsd aborts here (it reopens with O_CREAT and no mode and
	 * glibc's fortify check kills it), so it is not asked.
	 */
	if (h_is(h, "legacy")) {
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 2));
		return;
	}
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT | O_TRUNC,
			       S_IFREG | 0640, &e2, &oo));
	H_OK(h, fe_fuse_release(h->fe, e2.nodeid, oo.fh, O_RDWR));
	assert_int_equal(host_stat(h, "new").st_size, 0);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 3));
}

static void test_create_owner(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t pub;
	struct stat st;

	/* The request's uid/gid is who creates: the directory must let them. */
	h_mkdir(h, "pub", 0777);
	pub = h_lookup(h, "pub", NULL);

	fe_fuse_set_creds(h->fe, 1234, 5678, 4242);
	H_OK(h, fe_fuse_create(h->fe, pub, "owned", O_WRONLY | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &oo));
	assert_int_equal(e.attr.uid, 1234);
	assert_int_equal(e.attr.gid, 5678);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
	H_OK(h, fe_fuse_mkdir(h->fe, pub, "odir", S_IFDIR | 0755, &e));
	H_OK(h, fe_fuse_mknod(h->fe, pub, "onod", S_IFREG | 0644, 0, &e));
	H_OK(h, fe_fuse_symlink(h->fe, pub, "olink", "owned", &e));
	fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());

	st = host_stat(h, "pub/owned");
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	st = host_stat(h, "pub/odir");
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	st = host_stat(h, "pub/onod");
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	st = host_stat(h, "pub/olink");
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);

	/*
	 * uid 1234 in a root-owned 0755 directory: virtio-fs guests mount with
	 * default_permissions, so the guest kernel enforces this and backends
	 * differ: legacy re-checks (its fsuid switch drops CAP_DAC_OVERRIDE),
	 * Rust virtiofsd keeps the capability. Either way, no crash, and a file
	 * that does get created belongs to the caller.
	 */
	h_mkdir(h, "priv", 0755);
	{
		uint64_t priv = h_lookup(h, "priv", NULL);
		struct fuse_open_out o2;
		int r;

		fe_fuse_set_creds(h->fe, 1234, 5678, 4242);
		r = fe_fuse_create(h->fe, priv, "x", O_WRONLY | O_CREAT, S_IFREG | 0644, &e, &o2);
		fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());
		if (r == 0) {
			H_OK(h, fe_fuse_release(h->fe, e.nodeid, o2.fh, O_WRONLY));
			st = host_stat(h, "priv/x");
			assert_int_equal(st.st_uid, 1234);
			assert_int_equal(st.st_gid, 5678);
		} else {
			H_ERR(h, r, EACCES);
			assert_false(h_exists(h, "priv/x"));
		}
	}
}

static void test_mkdir(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, e2;
	struct stat st;

	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", S_IFDIR | 0750, &e));
	assert_true(S_ISDIR(e.attr.mode));
	assert_int_equal(e.attr.mode & 07777, 0750);
	st = host_stat(h, "d");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(e.attr.ino, st.st_ino);

	H_OK(h, fe_fuse_mkdir(h->fe, e.nodeid, "sub", S_IFDIR | 0755, &e2));
	assert_true(S_ISDIR(host_stat(h, "d/sub").st_mode));
	H_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL), EEXIST);
	h_write_file(h, "file", "x", 1);
	H_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "file", S_IFDIR | 0755, NULL), EEXIST);
}

static void test_mknod(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct stat st;

	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "fifo", S_IFIFO | 0644, 0, &e));
	assert_true(S_ISFIFO(e.attr.mode));
	st = host_stat(h, "fifo");
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);

	H_OK(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "reg", S_IFREG | 0600, 0, &e));
	assert_true(S_ISREG(e.attr.mode));
	st = host_stat(h, "reg");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);

	H_ERR(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "reg", S_IFREG | 0600, 0, NULL), EEXIST);
}

static void test_symlink_readlink(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	char buf[256], host[256];
	ssize_t n;
	uint64_t f;

	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "sl", "some/target/path", &e));
	assert_true(S_ISLNK(e.attr.mode));
	assert_int_equal(e.attr.size, strlen("some/target/path"));
	n = readlink(h_path(h, "sl"), host, sizeof(host) - 1);
	assert_int_equal(n, strlen("some/target/path"));
	host[n] = 0;
	assert_string_equal(host, "some/target/path");

	assert_int_equal(fe_fuse_readlink(h->fe, e.nodeid, buf, sizeof(buf)), strlen("some/target/path"));
	assert_string_equal(buf, "some/target/path");

	/* Dangling and absolute targets are stored verbatim, never followed. */
	H_OK(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "abs", "/etc/passwd", &e));
	assert_int_equal(fe_fuse_readlink(h->fe, e.nodeid, buf, sizeof(buf)), strlen("/etc/passwd"));
	assert_string_equal(buf, "/etc/passwd");

	H_ERR(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "sl", "x", NULL), EEXIST);
	h_write_file(h, "f", "x", 1);
	f = h_lookup(h, "f", NULL);
	/* readlinkat(fd, "") on a non-symlink gives ENOENT, readlink(path) EINVAL: either will do. */
	H_ANY_ERR(h, fe_fuse_readlink(h->fe, f, buf, sizeof(buf)));
}

static void test_link(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct stat st, st2;
	uint64_t f;

	h_write_file(h, "f", "abc", 3);
	h_mkdir(h, "d", 0755);
	f = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_link(h->fe, f, FUSE_ROOT_ID, "f2", &e));
	st = host_stat(h, "f");
	st2 = host_stat(h, "f2");
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(e.attr.nlink, 2);
	assert_int_equal(e.attr.ino, st.st_ino);

	H_OK(h, fe_fuse_link(h->fe, f, h_lookup(h, "d", NULL), "f3", &e));
	assert_int_equal(host_stat(h, "d/f3").st_ino, st.st_ino);
	assert_int_equal(host_stat(h, "f").st_nlink, 3);

	H_ERR(h, fe_fuse_link(h->fe, f, FUSE_ROOT_ID, "f2", NULL), EEXIST);
	H_ERR(h, fe_fuse_link(h->fe, h_lookup(h, "d", NULL), FUSE_ROOT_ID, "dirlink", NULL), EPERM);
}

static void test_unlink(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	uint64_t f;

	h_write_file(h, "f", "abc", 3);
	h_mkdir(h, "d", 0755);
	f = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "f"));
	assert_false(h_exists(h, "f"));
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e), ENOENT);
	/* The unlinked inode stays reachable through its nodeid while looked up. */
	{
		struct fuse_attr_out ao;

		H_OK(h, fe_fuse_getattr(h->fe, f, NULL, &ao));
		assert_int_equal(ao.attr.nlink, 0);
	}
	H_OK(h, fe_fuse_forget(h->fe, f, 1));

	/*
	 * legacy virtiofsd first looks the victim up in its own inode table and
	 * answers EIO when the guest never looked it up: a kernel always has.
	 */
	H_ERR(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "missing"), h_is(h, "legacy") ? EIO : ENOENT);

	h_lookup(h, "d", NULL);
	H_ERR(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "d"), EISDIR);
	assert_true(h_exists(h, "d"));
}

static void test_rmdir(void **state)
{
	struct h *h = H_STATE(state);

	h_mkdir(h, "d", 0755);
	h_write_file(h, "d/x", "x", 1);
	h_write_file(h, "f", "x", 1);
	h_lookup(h, "d", NULL);
	h_lookup(h, "f", NULL);
	H_ERR(h, fe_fuse_rmdir(h->fe, FUSE_ROOT_ID, "d"), ENOTEMPTY);
	assert_true(h_exists(h, "d/x"));
	H_ERR(h, fe_fuse_rmdir(h->fe, FUSE_ROOT_ID, "f"), ENOTDIR);
	if (unlink(h_path(h, "d/x")) < 0)
		fail_msg("host unlink: %s", strerror(errno));
	H_OK(h, fe_fuse_rmdir(h->fe, FUSE_ROOT_ID, "d"));
	assert_false(h_exists(h, "d"));
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "d", NULL), ENOENT);
}

static void test_rename(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t d1, d2;
	char buf[16];

	h_write_file(h, "a", "AAA", 3);
	h_write_file(h, "b", "BBBBB", 5);
	h_lookup(h, "a", NULL);
	h_lookup(h, "b", NULL);
	H_OK(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b"));
	assert_false(h_exists(h, "a"));
	assert_int_equal(h_read_file(h, "b", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "AAA", 3);
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "a", NULL), ENOENT);

	/* Across directories. */
	h_mkdir(h, "d1", 0755);
	h_mkdir(h, "d2", 0755);
	h_write_file(h, "d1/x", "xx", 2);
	d1 = h_lookup(h, "d1", NULL);
	d2 = h_lookup(h, "d2", NULL);
	h_lookup(h, "d1/x", NULL);
	H_OK(h, fe_fuse_rename(h->fe, d1, "x", d2, "y"));
	assert_false(h_exists(h, "d1/x"));
	assert_int_equal(h_read_file(h, "d2/y", buf, sizeof(buf)), 2);

	/* A directory over a non-empty directory. */
	h_write_file(h, "d2/z", "z", 1);
	H_ERR(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "d1", FUSE_ROOT_ID, "d2"), ENOTEMPTY);

	/* legacy answers EIO for a source it never looked up (see test_unlink). */
	H_ERR(h, fe_fuse_rename(h->fe, FUSE_ROOT_ID, "missing", FUSE_ROOT_ID, "other"),
	      h_is(h, "legacy") ? EIO : ENOENT);
}

static void test_rename2(void **state)
{
	struct h *h = H_STATE(state);
	char buf[16];

	h_write_file(h, "a", "AAA", 3);
	h_write_file(h, "b", "BBBBB", 5);
	h_lookup(h, "a", NULL);
	h_lookup(h, "b", NULL);

	H_ERR(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_NOREPLACE), EEXIST);
	assert_int_equal(h_read_file(h, "b", buf, sizeof(buf)), 5);

	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "b", RENAME_EXCHANGE));
	assert_int_equal(h_read_file(h, "a", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "BBBBB", 5);
	assert_int_equal(h_read_file(h, "b", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "AAA", 3);

	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c", RENAME_NOREPLACE));
	assert_false(h_exists(h, "a"));
	assert_int_equal(h_read_file(h, "c", buf, sizeof(buf)), 5);

	/* Plain rename through RENAME2 with flags 0. */
	h_lookup(h, "c", NULL);
	H_OK(h, fe_fuse_rename2(h->fe, FUSE_ROOT_ID, "c", FUSE_ROOT_ID, "b", 0));
	assert_int_equal(h_read_file(h, "b", buf, sizeof(buf)), 5);
	assert_false(h_exists(h, "c"));
}

static void test_statfs(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_kstatfs st;
	struct statvfs vfs;

	H_OK(h, fe_fuse_statfs(h->fe, FUSE_ROOT_ID, &st));
	if (statvfs(h->share, &vfs) < 0)
		fail_msg("statvfs: %s", strerror(errno));
	assert_true(st.blocks > 0);
	assert_true(st.bsize > 0);
	assert_true(st.bfree <= st.blocks);
	assert_true(st.bavail <= st.blocks);
	assert_true(st.ffree <= st.files);
	assert_int_equal(st.blocks, vfs.f_blocks);
	assert_int_equal(st.frsize, vfs.f_frsize);
	assert_int_equal(st.namelen, vfs.f_namemax);

	/* On a non-root node too. */
	h_write_file(h, "f", "x", 1);
	H_OK(h, fe_fuse_statfs(h->fe, h_lookup(h, "f", NULL), &st));
	assert_int_equal(st.blocks, vfs.f_blocks);
}

static void test_access(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t f;
	int r;

	h_write_file(h, "f", "x", 1);
	if (chmod(h_path(h, "f"), 0644) < 0)
		fail_msg("chmod: %s", strerror(errno));
	f = h_lookup(h, "f", NULL);
	r = fe_fuse_access(h->fe, f, F_OK);
	if (r == -ENOSYS) {
		/* legacy virtiofsd has no access handler: the kernel then never sends ACCESS again. */
		skip();
	}
	H_OK(h, r);
	H_OK(h, fe_fuse_access(h->fe, f, R_OK | W_OK));
	H_OK(h, fe_fuse_access(h->fe, FUSE_ROOT_ID, R_OK | W_OK | X_OK));

	fe_fuse_set_creds(h->fe, 1234, 5678, 4242);
	H_OK(h, fe_fuse_access(h->fe, f, R_OK));
	H_ERR(h, fe_fuse_access(h->fe, f, W_OK), EACCES);
	H_ERR(h, fe_fuse_access(h->fe, f, X_OK), EACCES);
	fe_fuse_set_creds(h->fe, 0, 0, (uint32_t)getpid());
	H_ANY_ERR(h, fe_fuse_access(h->fe, FORGED_NODEID, F_OK));
}

static void test_forget(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fe_vq_stats before, after;

	h_write_file(h, "f", "x", 1);
	for (int i = 0; i < 3; i++)
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_HIPRIO, &before));
	/* No reply: the chain has no writable buffer, used length must be 0 (checked by the library). */
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 2));
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, NULL));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_HIPRIO, &after));
	assert_int_equal(after.used - before.used, 2);

	/* The backend still serves; the file can be looked up again (maybe under a new nodeid). */
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &e));
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, NULL, NULL));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));

	/* Forgetting unknown nodes or too much is ignored, not fatal. */
	H_OK(h, fe_fuse_forget(h->fe, FORGED_NODEID, 1));
	H_OK(h, fe_fuse_forget(h->fe, FUSE_ROOT_ID, 1));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_batch_forget(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_forget_one items[40];
	char name[16];
	uint32_t n = 0;

	for (int i = 0; i < 32; i++) {
		struct fuse_entry_out e;

		snprintf(name, sizeof(name), "f%02d", i);
		h_write_file(h, name, "x", 1);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
		items[n].nodeid = e.nodeid;
		items[n].nlookup = 2;
		n++;
	}
	items[n].nodeid = FORGED_NODEID;
	items[n++].nlookup = 5;
	H_OK(h, fe_fuse_batch_forget(h->fe, items, n));
	H_OK(h, fe_fuse_batch_forget(h->fe, items, 0));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, NULL));
	}
}

static void test_walk(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_attr a;
	uint64_t n;

	h_mkdir(h, "a", 0755);
	h_mkdir(h, "a/b", 0755);
	h_write_file(h, "a/b/c", "0123456789", 10);
	H_OK(h, fe_fuse_walk(h->fe, "a/b/c", &n, &a));
	assert_int_equal(a.size, 10);
	assert_int_equal(a.ino, host_stat(h, "a/b/c").st_ino);
	H_OK(h, fe_fuse_walk(h->fe, "/a//b/", &n, &a));
	assert_true(S_ISDIR(a.mode));
	H_OK(h, fe_fuse_walk(h->fe, "", &n, &a));
	assert_int_equal(n, FUSE_ROOT_ID);
	H_ERR(h, fe_fuse_walk(h->fe, "a/missing/c", &n, &a), ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lookup_getattr),
		T(test_forged_nodeid),
		T(test_setattr),
		T(test_create),
		T(test_create_owner),
		T(test_mkdir),
		T(test_mknod),
		T(test_symlink_readlink),
		T(test_link),
		T(test_unlink),
		T(test_rmdir),
		T(test_rename),
		T(test_rename2),
		T(test_statfs),
		T(test_access),
		T(test_forget),
		T(test_batch_forget),
		T(test_walk),
	};

	return cmocka_run_group_tests_name("fuse_entry", tests, NULL, NULL);
}
