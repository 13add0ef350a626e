// SPDX-License-Identifier: MIT
/*
 * Host faults: what the guest sees when the host side misbehaves under the daemon.
 *
 *  - the share fills up (a small tmpfs mounted over the share; root only): WRITE returns
 *    exactly the bytes the host took (a short count, then ENOSPC), never success for bytes
 *    that are not in the file; CREATE, MKDIR, SYMLINK, MKNOD and SETXATTR return ENOSPC and
 *    leave nothing behind; once space is freed everything works again;
 *  - a host process renames and deletes files and directories the guest holds (nodeids,
 *    open files, open directories), also while the guest is busy with them;
 *  - the share directory itself is renamed away, replaced by a new directory at the same
 *    path, then removed: the daemon keeps serving the old root (or answers ENOENT for
 *    names in a deleted one) and never reaches the new directory;
 *  - --fd-limit is reached in the middle of a workload: requests that need a new fd get
 *    ENFILE (READDIRPLUS too, never a silently shortened listing; a CREATE or MKDIR refused
 *    for want of an fd leaves no name behind), the daemon keeps serving and recovers after
 *    FORGET/RELEASE.
 * Every test also checks that the daemon's fd count (/proc/PID/fd of the serving process)
 * comes back to where it started once the guest has let go of everything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.h"

#define KIB (1u << 10)

/* ---- helpers ----------------------------------------------------------- */

static void need_vufsd(struct h *h)
{
	if (!h_is(h, "vufsd")) {
		print_message("%s: vufsd options (--fd-limit, --sandbox) needed: skipped\n", h->backend);
		skip();
	}
}

static void need_root(const char *why)
{
	if (geteuid() != 0) {
		print_message("needs root (%s): skipped\n", why);
		skip();
	}
}

/* Start the backend, with extra vufsd arguments (NULL: none, any backend), and FUSE_INIT. */
static void start(struct h *h, const char *extra)
{
	if (extra) {
		char *t;

		need_vufsd(h);
		if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
			fail_msg("out of memory");
		free(h->tmpl);
		h->tmpl = t;
	}
	h_start(h, NULL, true);
}

/* The process that serves requests: the sandbox's child when there is one. */
static pid_t serving_pid(struct h *h)
{
	pid_t pid = fe_backend_pid(h->be);
	char path[64];
	int child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child > 0 ? (pid_t)child : pid;
}

static int daemon_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		fail_msg("opendir %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* FORGETs travel on the hiprio queue: give them a moment to land before counting. */
static void expect_fds(struct h *h, pid_t pid, int want, const char *when)
{
	int n = daemon_fds(pid);

	for (int i = 0; i < 40 && n != want; i++) {
		usleep(50 * 1000);
		n = daemon_fds(pid);
	}
	print_message("daemon fds %s: %d (expected %d)\n", when, n, want);
	if (n != want)
		fail_msg("daemon holds %d fds %s, expected %d", n, when, want);
	if (fe_backend_alive(h->be) != 0)
		fail_msg("daemon died %s", when);
}

static int setxattr_req(struct h *h, uint64_t nodeid, const char *name, const void *val,
			uint32_t len)
{
	struct fuse_setxattr_in si = { .size = len };
	struct fe_fuse_call c;

	fe_fuse_call_init(&c, FUSE_SETXATTR, nodeid);
	c.in[c.nin++] = (struct fe_fuse_buf){ &si, FUSE_COMPAT_SETXATTR_IN_SIZE };
	c.in[c.nin++] = (struct fe_fuse_buf){ name, (uint32_t)strlen(name) + 1 };
	c.in[c.nin++] = (struct fe_fuse_buf){ val, len };
	return fe_fuse_call(h->fe, &c);
}

static off_t host_size(struct h *h, const char *rel)
{
	struct stat st;

	if (stat(h_path(h, rel), &st) < 0)
		fail_msg("host: stat %s: %s", rel, strerror(errno));
	return st.st_size;
}

/* Host: create empty files fill0, fill1... until the file system refuses; returns how many. */
static int host_fill_inodes(struct h *h)
{
	char name[32];
	int n = 0, fd;

	for (;; n++) {
		snprintf(name, sizeof(name), "fill%d", n);
		fd = open(h_path(h, name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			break;
		close(fd);
		if (n > 100000)
			fail_msg("host: the small file system never filled up");
	}
	if (errno != ENOSPC)
		fail_msg("host: create %s: %s (expected ENOSPC)", name, strerror(errno));
	return n;
}

/*
 * READDIRPLUS the whole of directory fh; every entry it hands out is forgotten again.
 * Returns the number of entries other than "." and "..", or the first error.
 */
static int readdirplus_count(struct h *h, uint64_t nodeid, uint64_t fh)
{
	static uint8_t buf[16 * KIB];
	uint64_t off = 0;
	int names = 0;

	for (;;) {
		struct fe_dirent d;
		size_t pos = 0;
		int n = fe_fuse_readdirplus(h->fe, nodeid, fh, off, buf, sizeof(buf));
		int r;

		if (n < 0)
			return n;
		if (n == 0)
			return names;
		while ((r = fe_dirent_next(buf, (size_t)n, &pos, true, &d)) == 1) {
			if (strcmp(d.name, ".") && strcmp(d.name, ".."))
				names++;
			if (d.entry.nodeid)
				H_OK(h, fe_fuse_forget(h->fe, d.entry.nodeid, 1));
			off = d.off;
		}
		if (r < 0)
			fail_msg("READDIRPLUS reply malformed: %s", strerror(-r));
	}
}

/* ---- a share that fills up (tmpfs mounted over the share) ---------------- */

static int teardown_tmpfs(void **state)
{
	struct h *h = H_STATE(state);

	/* Detach on the host; the daemon's sandbox keeps its own view until it exits. */
	if (h)
		umount2(h->share, MNT_DETACH);
	return h_teardown(state);
}

static void mount_small_tmpfs(struct h *h, const char *opts)
{
	need_root("mounts a small tmpfs over the share");
	if (mount("vufs-test", h->share, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		if (errno == EPERM || errno == EACCES) {
			/* Root without CAP_SYS_ADMIN (an unprivileged container). */
			print_message("cannot mount a tmpfs here (%s): skipped\n", strerror(errno));
			skip();
		}
		fail_msg("mount tmpfs (%s) on %s: %s", opts, h->share, strerror(errno));
	}
}

static void test_enospc_write(void **state)
{
	struct h *h = H_STATE(state);
	const uint32_t chunk = 64 * KIB;
	uint8_t *data = malloc(chunk), *back = malloc(chunk);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint64_t off = 0;
	bool short_seen = false;
	int r, base;
	pid_t pid;

	assert_non_null(data);
	assert_non_null(back);
	mount_small_tmpfs(h, "size=1m,nr_inodes=64,mode=0755");
	/* A host file whose removal gives space back later. */
	h_pattern(data, chunk, 1);
	h_write_file(h, "spare", data, chunk);
	start(h, NULL);
	pid = serving_pid(h);
	base = daemon_fds(pid);

	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "big", O_RDWR | O_CREAT | O_EXCL,
			       S_IFREG | 0644, &e, &oo));
	/* Unaligned writes, so the last one that fits only partly is likely short. */
	for (int i = 0; i < 100; i++) {
		h_pattern(data, chunk, 100 + (uint32_t)i);
		r = fe_fuse_write(h->fe, e.nodeid, oo.fh, off, data, chunk - 1000);
		if (r == -ENOSPC) {
			/* Nothing of a refused write may be in the file. */
			assert_int_equal(host_size(h, "big"), off);
			break;
		}
		if (r < 0)
			fail_msg("WRITE at %llu: %s, expected a count or ENOSPC", (unsigned long long)off,
				 strerror(-r));
		assert_true(r > 0 && (uint32_t)r <= chunk - 1000);
		/* What the reply counts is in the file, exactly. */
		assert_int_equal(host_size(h, "big"), off + (uint64_t)r);
		assert_int_equal(fe_fuse_read(h->fe, e.nodeid, oo.fh, off, back, (uint32_t)r), r);
		assert_memory_equal(back, data, (size_t)r);
		off += (uint64_t)r;
		if ((uint32_t)r < chunk - 1000)
			short_seen = true;
	}
	print_message("the share took %llu bytes%s\n", (unsigned long long)off,
		      short_seen ? " (the last write was short)" : "");
	assert_true(off > 0 && off < 2u * 1024 * 1024);
	/* Full: every further write fails the same way, and FSYNC/FLUSH still answer. */
	H_ERR(h, fe_fuse_write(h->fe, e.nodeid, oo.fh, off, data, 4096), ENOSPC);
	H_OK(h, fe_fuse_fsync(h->fe, e.nodeid, oo.fh, false));
	H_OK(h, fe_fuse_flush(h->fe, e.nodeid, oo.fh, 0));
	/* The host frees space: writing works again. */
	if (unlink(h_path(h, "spare")) < 0)
		fail_msg("host: unlink spare: %s", strerror(errno));
	r = fe_fuse_write(h->fe, e.nodeid, oo.fh, off, data, 4096);
	assert_int_equal(r, 4096);
	assert_int_equal(host_size(h, "big"), off + 4096);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	expect_fds(h, pid, base, "after the ENOSPC workload");
	free(data);
	free(back);
}

static void test_enospc_create(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, fe_;
	struct fuse_open_out oo;
	int n, base, herr, r;
	pid_t pid;

	mount_small_tmpfs(h, "size=1m,nr_inodes=32,mode=0755");
	h_write_file(h, "f", "x", 1);
	start(h, "--xattr");
	pid = serving_pid(h);
	base = daemon_fds(pid);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "f", &fe_));

	n = host_fill_inodes(h);
	print_message("the share holds %d more inodes\n", n);
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644,
				&e, &oo),
	      ENOSPC);
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT, S_IFREG | 0644, &e, &oo),
	      ENOSPC);
	H_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", 0755, &e), ENOSPC);
	H_ERR(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "s", "target", &e), ENOSPC);
	H_ERR(h, fe_fuse_mknod(h->fe, FUSE_ROOT_ID, "p", S_IFIFO | 0644, 0, &e), ENOSPC);
	/* Nothing half-made is left behind. */
	assert_false(h_exists(h, "c"));
	assert_false(h_exists(h, "d"));
	assert_false(h_exists(h, "s"));
	assert_false(h_exists(h, "p"));
	/*
	 * SETXATTR: exactly what the host says to the same request (tmpfs charges user
	 * xattrs to its inode space since Linux 6.6: ENOSPC; older kernels: EOPNOTSUPP).
	 */
	herr = setxattr(h_path(h, "fill0"), "user.v", "value", 5, 0) < 0 ? -errno : 0;
	r = setxattr_req(h, fe_.nodeid, "user.v", "value", 5);
	print_message("SETXATTR on the full share: host %s, guest %s\n", strerror(-herr), strerror(-r));
	assert_int_equal(r, herr);
	if (!herr)
		assert_int_equal(removexattr(h_path(h, "fill0"), "user.v"), 0);

	/* The host frees inodes: everything works again. */
	for (int i = 0; i < 4; i++) {
		char name[32];

		snprintf(name, sizeof(name), "fill%d", i);
		if (unlink(h_path(h, name)) < 0)
			fail_msg("host: unlink %s: %s", name, strerror(errno));
	}
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644,
			       &e, &oo));
	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, "hello", 5), 5);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "d", 0755, &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, setxattr_req(h, fe_.nodeid, "user.v", "value", 5));
	assert_true(h_exists(h, "c") && h_exists(h, "d"));
	H_OK(h, fe_fuse_forget(h->fe, fe_.nodeid, 1));
	expect_fds(h, pid, base, "after the full-share requests");
}

/* ---- host renames and deletes what the guest holds ------------------------ */

static void test_host_rename_delete(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out fo, dout, co;
	struct fuse_attr_out ao;
	uint64_t d, f, g, g2;
	char buf[64];
	int base, r;
	pid_t pid;

	h_mkdir(h, "d", 0755);
	h_write_file(h, "d/f", "file-data", 9);
	h_write_file(h, "g", "old-g", 5);
	h_mkdir(h, "keep", 0755);
	start(h, NULL);
	pid = serving_pid(h);
	base = daemon_fds(pid);

	d = h_lookup(h, "d", NULL);
	H_OK(h, fe_fuse_lookup(h->fe, d, "f", &e));
	f = e.nodeid;
	H_OK(h, fe_fuse_open(h->fe, f, O_RDWR, &fo));
	H_OK(h, fe_fuse_opendir(h->fe, d, O_RDONLY, &dout));
	g = h_lookup(h, "g", NULL);

	/* 1. The host renames the directory within the share: the guest's handles follow it. */
	if (rename(h_path(h, "d"), h_path(h, "d2")) < 0)
		fail_msg("host: rename: %s", strerror(errno));
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "d", &e), ENOENT);
	H_OK(h, fe_fuse_lookup(h->fe, d, "f", &e)); /* the nodeid names the directory, not a path */
	assert_int_equal(e.nodeid, f);
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
	assert_int_equal(readdirplus_count(h, d, dout.fh), 1);
	H_OK(h, fe_fuse_create(h->fe, d, "new", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &co));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, co.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_true(h_exists(h, "d2/new"));

	/* 2. The host replaces g by another file: the old nodeid keeps the old inode. */
	h_write_file(h, "g.new", "new-g!", 6);
	if (rename(h_path(h, "g.new"), h_path(h, "g")) < 0)
		fail_msg("host: rename over g: %s", strerror(errno));
	H_OK(h, fe_fuse_getattr(h->fe, g, NULL, &ao));
	assert_int_equal(ao.attr.size, 5);
	assert_int_equal(ao.attr.nlink, 0);
	g2 = h_lookup(h, "g", NULL);
	assert_int_not_equal(g2, g);
	H_OK(h, fe_fuse_forget(h->fe, g, 1));
	H_OK(h, fe_fuse_forget(h->fe, g2, 1));

	/* 3. The host deletes the open file: the open file keeps working (POSIX). */
	if (unlink(h_path(h, "d2/f")) < 0)
		fail_msg("host: unlink: %s", strerror(errno));
	H_ERR(h, fe_fuse_lookup(h->fe, d, "f", &e), ENOENT);
	assert_int_equal(fe_fuse_read(h->fe, f, fo.fh, 0, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "file-data", 9);
	assert_int_equal(fe_fuse_write(h->fe, f, fo.fh, 9, "+more", 5), 5);
	H_OK(h, fe_fuse_fsync(h->fe, f, fo.fh, false));
	H_OK(h, fe_fuse_getattr(h->fe, f, &fo.fh, &ao));
	assert_int_equal(ao.attr.size, 14);
	assert_int_equal(ao.attr.nlink, 0);
	H_ERR(h, fe_fuse_unlink(h->fe, d, "f"), ENOENT);

	/* 4. The host empties and removes the directory: names in it are ENOENT, nothing crashes. */
	if (unlink(h_path(h, "d2/new")) < 0 || rmdir(h_path(h, "d2")) < 0)
		fail_msg("host: rmdir: %s", strerror(errno));
	H_ERR(h, fe_fuse_lookup(h->fe, d, "x", &e), ENOENT);
	H_ERR(h, fe_fuse_create(h->fe, d, "x", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &co),
	      ENOENT);
	H_ERR(h, fe_fuse_mkdir(h->fe, d, "x", 0755, &e), ENOENT);
	H_ERR(h, fe_fuse_symlink(h->fe, d, "x", "t", &e), ENOENT);
	/* ".." of a removed directory is still its old parent, as on the host. */
	r = fe_fuse_lookup(h->fe, d, "..", &e);
	if (r != -ENOENT) {
		H_OK(h, r);
		assert_int_equal(e.nodeid, FUSE_ROOT_ID);
		H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	}
	/* Listing a removed directory: the host's getdents says ENOENT, so does the guest's. */
	assert_int_equal(readdirplus_count(h, d, dout.fh), -ENOENT);
	H_OK(h, fe_fuse_getattr(h->fe, d, NULL, &ao));
	assert_int_equal(ao.attr.nlink, 0);
	assert_false(h_exists(h, "x"));
	/* The open file still reads. */
	assert_int_equal(fe_fuse_read(h->fe, f, fo.fh, 0, buf, sizeof(buf)), 14);
	H_OK(h, fe_fuse_releasedir(h->fe, d, dout.fh));
	H_OK(h, fe_fuse_release(h->fe, f, fo.fh, O_RDWR));

	/* 5. A directory moved out of the share: ".." is refused, the rest of the share is fine. */
	{
		uint64_t k = h_lookup(h, "keep", NULL);
		char out[160];

		snprintf(out, sizeof(out), "%s/outside", h->tmpdir);
		if (rename(h_path(h, "keep"), out) < 0)
			fail_msg("host: rename out of the share: %s", strerror(errno));
		/*
		 * vufsd refuses it (EACCES); inside the namespace sandbox the host kernel
		 * already does (the share is a bind mount there: ENOENT, path not connected).
		 */
		r = fe_fuse_lookup(h->fe, k, "..", &e);
		if (r != -EACCES && r != -ENOENT)
			fail_msg("LOOKUP .. of a directory moved out of the share: %d (%s)", r,
				 r < 0 ? strerror(-r) : "success");
		if (rename(out, h_path(h, "keep")) < 0)
			fail_msg("host: rename back: %s", strerror(errno));
		H_OK(h, fe_fuse_forget(h->fe, k, 1));
	}
	H_OK(h, fe_fuse_forget(h->fe, f, 1));
	H_OK(h, fe_fuse_forget(h->fe, d, 1));
	expect_fds(h, pid, base, "after the guest let go");
}

/* A host thread churns a tree while the guest walks, opens and reads it. */
struct churn {
	struct h *h;
	volatile bool stop;
	unsigned long rounds;
	pthread_t th;
};

/* The running churn thread, stopped by the teardown if the test fails half-way. */
static struct churn *churn_running;

static void churn_stop(void)
{
	if (!churn_running)
		return;
	churn_running->stop = true;
	pthread_join(churn_running->th, NULL);
	churn_running = NULL;
}

static int teardown_churn(void **state)
{
	churn_stop();
	return h_teardown(state);
}

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	char a[512], b[512], p[600];

	snprintf(a, sizeof(a), "%s", h_path(c->h, "t"));
	snprintf(b, sizeof(b), "%s", h_path(c->h, "t.moved"));
	while (!c->stop) {
		mkdir(a, 0755);
		for (int i = 0; i < 8; i++) {
			int fd;

			snprintf(p, sizeof(p), "%s/f%d", a, i);
			fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd >= 0) {
				if (write(fd, "0123456789", 10) < 0)
					break;
				close(fd);
			}
		}
		snprintf(p, sizeof(p), "%s/sub", a);
		mkdir(p, 0755);
		rename(a, b);
		fe_rm_rf(b);
		c->rounds++;
	}
	return NULL;
}

static bool churn_errno_ok(int r)
{
	return r >= 0 || r == -ENOENT || r == -ESTALE || r == -ENOTDIR;
}

static void test_host_churn(void **state)
{
	struct h *h = H_STATE(state);
	static struct churn c;
	uint64_t t_end, ops = 0, errs = 0;
	int base;
	pid_t pid;

	start(h, NULL);
	pid = serving_pid(h);
	base = daemon_fds(pid);
	c = (struct churn){ .h = h };
	if (pthread_create(&c.th, NULL, churn_thread, &c))
		fail_msg("pthread_create failed");
	churn_running = &c;
	t_end = fe_now_ns() + 2000000000ull;
	while (fe_now_ns() < t_end) {
		struct fuse_entry_out de, fe2;
		struct fuse_open_out oo;
		char buf[32], name[8];
		int r;

		r = fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "t", &de);
		ops++;
		if (r) {
			errs++;
			if (!churn_errno_ok(r))
				fail_msg("LOOKUP t: %s", strerror(-r));
			continue;
		}
		snprintf(name, sizeof(name), "f%d", (int)(ops % 8));
		r = fe_fuse_lookup(h->fe, de.nodeid, name, &fe2);
		if (!r) {
			r = fe_fuse_open(h->fe, fe2.nodeid, O_RDONLY, &oo);
			if (!r) {
				r = fe_fuse_read(h->fe, fe2.nodeid, oo.fh, 0, buf, sizeof(buf));
				if (r < 0 || r > 10)
					fail_msg("READ of an open file: %d", r);
				H_OK(h, fe_fuse_release(h->fe, fe2.nodeid, oo.fh, O_RDONLY));
			}
			H_OK(h, fe_fuse_forget(h->fe, fe2.nodeid, 1));
		}
		if (!churn_errno_ok(r))
			fail_msg("LOOKUP/OPEN t/%s: %s", name, strerror(-r));
		r = fe_fuse_opendir(h->fe, de.nodeid, O_RDONLY, &oo);
		if (!r) {
			r = readdirplus_count(h, de.nodeid, oo.fh);
			if (!churn_errno_ok(r))
				fail_msg("READDIRPLUS: %s", strerror(-r));
			H_OK(h, fe_fuse_releasedir(h->fe, de.nodeid, oo.fh));
		} else if (!churn_errno_ok(r)) {
			fail_msg("OPENDIR: %s", strerror(-r));
		}
		r = fe_fuse_mkdir(h->fe, de.nodeid, "g", 0755, &fe2);
		if (!r)
			H_OK(h, fe_fuse_forget(h->fe, fe2.nodeid, 1));
		else if (!churn_errno_ok(r) && r != -EEXIST)
			fail_msg("MKDIR: %s", strerror(-r));
		H_OK(h, fe_fuse_forget(h->fe, de.nodeid, 1));
		ops += 4;
	}
	churn_stop();
	print_message("%llu requests against %lu host rounds of create/rename/delete (%llu ENOENT-like)\n",
		      (unsigned long long)ops, c.rounds, (unsigned long long)errs);
	assert_true(c.rounds > 0);
	expect_fds(h, pid, base, "after the churn");
}

/* ---- the share directory itself goes away -------------------------------- */

static void share_replaced(struct h *h, const char *extra)
{
	char old[160];
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct fuse_attr_out ao;
	struct fuse_kstatfs sf;
	int base;
	pid_t pid;

	h_write_file(h, "marker-old", "old", 3);
	start(h, extra);
	pid = serving_pid(h);
	base = daemon_fds(pid);

	/* Renamed away, and a new directory made at the same path. */
	snprintf(old, sizeof(old), "%s/share.old", h->tmpdir);
	if (rename(h->share, old) < 0)
		fail_msg("host: rename the share: %s", strerror(errno));
	if (mkdir(h->share, 0755) < 0)
		fail_msg("host: mkdir: %s", strerror(errno));
	h_write_file(h, "marker-new", "new", 3);
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "marker-old", &e));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "marker-new", &e), ENOENT);
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "guest-file", O_RDWR | O_CREAT | O_EXCL,
			       S_IFREG | 0644, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_false(h_exists(h, "guest-file")); /* not in the new directory */
	{
		char p[200];
		struct stat st;

		snprintf(p, sizeof(p), "%s/guest-file", old);
		assert_int_equal(stat(p, &st), 0); /* but in the one the daemon serves */
	}
	H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "..", &e));
	assert_int_equal(e.nodeid, FUSE_ROOT_ID);
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));

	/* Then removed altogether: names in it are gone, the daemon keeps answering. */
	if (fe_rm_rf(old) < 0)
		fail_msg("host: rm -rf %s failed", old);
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "marker-old", &e), ENOENT);
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "marker-new", &e), ENOENT);
	H_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "again", O_RDWR | O_CREAT | O_EXCL,
				S_IFREG | 0644, &e, &oo),
	      ENOENT);
	H_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "dir", 0755, &e), ENOENT);
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, &ao));
	assert_int_equal(ao.attr.nlink, 0);
	H_OK(h, fe_fuse_statfs(h->fe, FUSE_ROOT_ID, &sf));
	H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &oo));
	assert_int_equal(readdirplus_count(h, FUSE_ROOT_ID, oo.fh), -ENOENT);
	H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, oo.fh));
	assert_false(h_exists(h, "again"));
	assert_false(h_exists(h, "dir"));
	expect_fds(h, pid, base, "after the share was removed");
}

static void test_share_replaced_sandbox(void **state)
{
	need_root("the namespace sandbox");
	share_replaced(H_STATE(state), NULL);
}

static void test_share_replaced_nosandbox(void **state)
{
	share_replaced(H_STATE(state), "--sandbox=none");
}

/* ---- --fd-limit reached in the middle of a workload ------------------------ */

#define FD_LIMIT 24
#define NFILES 40

static void test_fd_limit_midway(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t nodes[NFILES], fhs[NFILES], dirs[NFILES];
	unsigned int nn = 0, nh = 0, nd = 0, enfile = 0, first_enfile = 0;
	struct fuse_entry_out e;
	struct fuse_open_out oo, ro;
	char name[32];
	int base, r;
	pid_t pid;

	h_mkdir(h, "sub", 0755);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "sub/f%02d", i);
		h_write_file(h, name, name, strlen(name));
	}
	start(h, "--fd-limit=" "24");
	pid = serving_pid(h);
	base = daemon_fds(pid);

	/* Walk, open and read files and make directories, holding on to everything. */
	uint64_t sub = h_lookup(h, "sub", NULL);

	H_OK(h, fe_fuse_opendir(h->fe, sub, O_RDONLY, &ro));
	for (int i = 0; i < NFILES; i++) {
		char buf[32];

		snprintf(name, sizeof(name), "f%02d", i);
		r = fe_fuse_lookup(h->fe, sub, name, &e);
		if (r == 0) {
			nodes[nn++] = e.nodeid;
			r = fe_fuse_open(h->fe, e.nodeid, O_RDONLY, &oo);
			if (r == 0) {
				fhs[nh++] = oo.fh;
				assert_int_equal(fe_fuse_read(h->fe, e.nodeid, oo.fh, 0, buf, sizeof(buf)), 7);
			}
		}
		if (r && r != -ENFILE)
			fail_msg("LOOKUP/OPEN %s: %s, expected success or ENFILE", name, strerror(-r));
		snprintf(name, sizeof(name), "d%02d", i);
		r = fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, name, 0755, &e);
		if (r == 0) {
			dirs[nd++] = e.nodeid;
		} else if (r == -ENFILE) {
			/* Refused for want of an fd: no directory left behind on the host. */
			if (h_exists(h, name))
				fail_msg("MKDIR %s answered ENFILE but the directory exists on the host", name);
		} else {
			fail_msg("MKDIR %s: %s, expected success or ENFILE", name, strerror(-r));
		}
		if (r == -ENFILE && !enfile++)
			first_enfile = (unsigned int)i;
	}
	print_message("first ENFILE at step %u; %u lookups, %u open files, %u dirs held\n",
		      first_enfile, nn, nh, nd);
	assert_true(enfile > 0 && first_enfile > 0);
	assert_true(nn + nh + nd + 1 <= FD_LIMIT);
	/* At the limit: CREATE refuses and leaves no file; READDIRPLUS never shortens a listing. */
	r = fe_fuse_create(h->fe, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &oo);
	assert_int_equal(r, -ENFILE);
	assert_false(h_exists(h, "c"));
	r = readdirplus_count(h, sub, ro.fh);
	if (r != -ENFILE && r != NFILES)
		fail_msg("READDIRPLUS at the fd limit: %d entries of %d (%s)", r, NFILES,
			 r < 0 ? strerror(-r) : "a silently shortened listing");
	assert_int_equal(fe_broken(h->fe), 0);
	/* The daemon never holds more than the limit plus its own fds. */
	assert_true(daemon_fds(pid) <= base + FD_LIMIT);

	/* Let go of everything: the same requests succeed again. */
	for (unsigned int i = 0; i < nh; i++)
		H_OK(h, fe_fuse_release(h->fe, nodes[i], fhs[i], O_RDONLY));
	for (unsigned int i = 0; i < nn; i++)
		H_OK(h, fe_fuse_forget(h->fe, nodes[i], 1));
	for (unsigned int i = 0; i < nd; i++)
		H_OK(h, fe_fuse_forget(h->fe, dirs[i], 1));
	usleep(100 * 1000);
	H_OK(h, fe_fuse_releasedir(h->fe, sub, ro.fh));
	H_OK(h, fe_fuse_opendir(h->fe, sub, O_RDONLY, &ro));
	assert_int_equal(readdirplus_count(h, sub, ro.fh), NFILES);
	H_OK(h, fe_fuse_releasedir(h->fe, sub, ro.fh));
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "c", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644,
			       &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, sub, 1));
	expect_fds(h, pid, base, "after FORGET/RELEASE");
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)
#define TT(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, teardown_tmpfs)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TT(test_enospc_write),
		TT(test_enospc_create),
		TL(test_host_rename_delete),
		cmocka_unit_test_setup_teardown(test_host_churn, h_setup_lazy, teardown_churn),
		TL(test_share_replaced_sandbox),
		TL(test_share_replaced_nosandbox),
		TL(test_fd_limit_midway),
	};

	return cmocka_run_group_tests_name("host_faults", tests, NULL, NULL);
}
