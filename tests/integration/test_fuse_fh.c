// SPDX-License-Identifier: MIT
/*
 * --inode-file-handles: the common operations with handle inodes, an inode
 * number reused on the host, the daemon's fd count after a guest-style walk
 * (handles vs O_PATH fds), and mandatory refusing a filesystem without
 * handles at start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Files in the fd-count test (the 200,000-file measurement is tools/vufs-walk). */
#define WALK_FILES 3000

static void start_with(struct h *h, const char *extra)
{
	char *t;

	if (!h_is(h, "vufsd"))
		skip(); /* the option is spelled the same elsewhere, the fd counts are not */
	if (asprintf(&t, "%s %s", h->tmpl, extra) < 0)
		fail_msg("out of memory");
	free(h->tmpl);
	h->tmpl = t;
	h_start(h, NULL, true);
}

/* fds of the serving process: the backend, or its sandboxed child if it has one. */
static int daemon_fds(struct h *h)
{
	char path[96], buf[64];
	pid_t pid = fe_backend_pid(h->be);
	struct dirent *e;
	FILE *f;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "r");
	if (f) {
		int child;

		if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%d", &child) == 1)
			pid = child;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		fail_msg("opendir %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* READDIRPLUS all of directory @dir, keeping every lookup (as a guest with memory to spare). */
static unsigned walk_dir(struct h *h, uint64_t dir)
{
	static char buf[64 * 1024];
	struct fuse_open_out oo;
	uint64_t off = 0;
	unsigned n = 0;

	H_OK(h, fe_fuse_opendir(h->fe, dir, 0, &oo));
	for (;;) {
		struct fe_dirent d;
		size_t pos = 0;
		int len = fe_fuse_readdirplus(h->fe, dir, oo.fh, off, buf, sizeof(buf));

		/* At the inode cap the listing stops with ENFILE at the first entry it cannot give. */
		if (len == -ENFILE)
			break;
		H_OK(h, len);
		if (len == 0)
			break;
		while (fe_dirent_next(buf, (size_t)len, &pos, true, &d) > 0) {
			off = d.off;
			if (d.entry.nodeid && strcmp(d.name, ".") && strcmp(d.name, ".."))
				n++;
		}
	}
	H_OK(h, fe_fuse_releasedir(h->fe, dir, oo.fh));
	return n;
}

static void make_files(struct h *h, const char *dir, unsigned n)
{
	char rel[64];

	h_mkdir(h, dir, 0755);
	for (unsigned i = 0; i < n; i++) {
		int fd;

		snprintf(rel, sizeof(rel), "%s/f%u", dir, i);
		fd = open(h_path(h, rel), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			fail_msg("create %s: %s", rel, strerror(errno));
		close(fd);
	}
}

/* The guest-held inodes cost fds only without handles. */
static int walk_and_count(struct h *h, const char *mode)
{
	char extra[64];
	uint64_t dir;
	unsigned n;
	int before, after;

	make_files(h, "many", WALK_FILES);
	snprintf(extra, sizeof(extra), "--inode-file-handles=%s", mode);
	start_with(h, extra);
	before = daemon_fds(h);
	dir = h_lookup(h, "many", NULL);
	n = walk_dir(h, dir);
	assert_int_equal(n, WALK_FILES);
	after = daemon_fds(h);
	print_message("--inode-file-handles=%s: %u inodes looked up, daemon fds %d -> %d\n", mode,
		      n, before, after);
	return after - before;
}

static void fh_fd_count_prefer(void **state)
{
	int grown = walk_and_count(H_STATE(state), "prefer");

	/* The fd cache (64) and one mount fd, not one per inode. */
	assert_true(grown < 100);
}

static void fh_fd_count_never(void **state)
{
	int grown = walk_and_count(H_STATE(state), "never");

	assert_true(grown >= WALK_FILES);
}

/* Handle inodes cost no fd, but a guest still cannot make the daemon hold unbounded many. */
static void fh_inode_cap(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	unsigned n;

	make_files(h, "many", 1000);
	start_with(h, "--inode-file-handles=prefer --fd-limit=10");
	n = walk_dir(h, h_lookup(h, "many", NULL));
	/* 10 fds x 64 inodes each, "many" itself being one of them. */
	print_message("--fd-limit=10: the walk got %u of 1000 entries\n", n);
	assert_int_equal(n, 10 * 64 - 1);
	H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, "new-name", &e), ENOENT);
}

/* The usual operations, each checked on the host, with inodes held as handles. */
static void fh_prefer_ops(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e, e2;
	struct fuse_attr_out ao;
	struct fuse_open_out oo;
	struct fuse_setattr_in sa = { 0 };
	char buf[64];
	uint64_t sub, file;
	struct stat st;

	h_mkdir(h, "d", 0755);
	h_write_file(h, "d/a", "hello", 5);
	make_files(h, "d/many", 200); /* pushes the early inodes out of the fd cache */
	start_with(h, "--inode-file-handles=prefer");

	sub = h_lookup(h, "d", NULL);
	file = h_lookup(h, "d/a", NULL);
	assert_int_equal(walk_dir(h, h_lookup(h, "d/many", NULL)), 200);

	/* GETATTR/OPEN/READ/WRITE on an inode whose fd went out of the cache. */
	H_OK(h, fe_fuse_getattr(h->fe, file, NULL, &ao));
	assert_int_equal(ao.attr.size, 5);
	H_OK(h, fe_fuse_open(h->fe, file, O_RDWR, &oo));
	assert_int_equal(fe_fuse_read(h->fe, file, oo.fh, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(fe_fuse_write(h->fe, file, oo.fh, 5, " world", 6), 6);
	H_OK(h, fe_fuse_release(h->fe, file, oo.fh, 0));
	assert_int_equal(h_read_file(h, "d/a", buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "hello world", 11);

	/* SETATTR, CREATE, MKDIR, SYMLINK, LINK, RENAME, UNLINK, RMDIR. */
	sa.valid = FATTR_MODE;
	sa.mode = 0600;
	H_OK(h, fe_fuse_setattr(h->fe, file, &sa, &ao));
	if (stat(h_path(h, "d/a"), &st) < 0 || (st.st_mode & 07777) != 0600)
		fail_msg("chmod did not reach the host");
	H_OK(h, fe_fuse_create(h->fe, sub, "new", O_WRONLY, 0644, &e, &oo));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, 0));
	H_OK(h, fe_fuse_mkdir(h->fe, sub, "dir", 0755, &e2));
	H_OK(h, fe_fuse_symlink(h->fe, sub, "ln", "a", &e2));
	assert_int_equal(fe_fuse_readlink(h->fe, e2.nodeid, buf, sizeof(buf)), 1);
	H_OK(h, fe_fuse_link(h->fe, file, sub, "hard", &e2));
	assert_int_equal(e2.nodeid, file); /* one node per inode */
	H_OK(h, fe_fuse_rename(h->fe, sub, "new", sub, "renamed"));
	assert_true(h_exists(h, "d/renamed") && !h_exists(h, "d/new"));
	H_OK(h, fe_fuse_unlink(h->fe, sub, "renamed"));
	H_OK(h, fe_fuse_rmdir(h->fe, sub, "dir"));
	assert_false(h_exists(h, "d/renamed") || h_exists(h, "d/dir"));

	/* FORGET everything learnt: the daemon must still serve the names afresh. */
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	H_OK(h, fe_fuse_forget(h->fe, file, 2));
	file = h_lookup(h, "d/hard", &ao.attr);
	assert_int_equal(ao.attr.size, 11);
}

/*
 * A file deleted on the host while the guest knows it only by handle, and
 * a new one that may get the same inode number: the new name must reach
 * the new file, and the old node must not.
 */
static void fh_reused_inode(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_attr_out ao;
	struct fuse_attr attr;
	struct fuse_open_out oo;
	uint64_t old, fresh;
	char buf[16];

	h_write_file(h, "x", "old", 3);
	make_files(h, "fill", 100);
	start_with(h, "--inode-file-handles=prefer");
	old = h_lookup(h, "x", NULL);
	walk_dir(h, h_lookup(h, "fill", NULL)); /* x's fd leaves the cache */
	for (int i = 0; i < 20; i++) {
		/* tmpfs and ext4 hand a freed inode number out again soon. */
		if (unlink(h_path(h, "x")) < 0)
			fail_msg("unlink: %s", strerror(errno));
		h_write_file(h, "x", "new!", 4);
	}
	fresh = h_lookup(h, "x", &attr);
	assert_int_equal(attr.size, 4);
	assert_int_not_equal(fresh, old);
	H_OK(h, fe_fuse_open(h->fe, fresh, O_RDONLY, &oo));
	assert_int_equal(fe_fuse_read(h->fe, fresh, oo.fh, 0, buf, sizeof(buf)), 4);
	H_OK(h, fe_fuse_release(h->fe, fresh, oo.fh, 0));
	H_ERR(h, fe_fuse_getattr(h->fe, old, NULL, &ao), ESTALE);
}

/* Run vufsd on @dir with @args; return its exit status and stderr in @log. */
static int run_vufsd(const char *dir, const char *mode, char *log, size_t size)
{
	char sock[64], shared[300], fh[64];
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	snprintf(sock, sizeof(sock), "--socket-path=/tmp/vufs-fh-%d.sock", (int)getpid());
	snprintf(shared, sizeof(shared), "--shared-dir=%s", dir);
	snprintf(fh, sizeof(fh), "--inode-file-handles=%s", mode);
	if (pipe(p) < 0)
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		execl(getenv("VUFSD"), "vufsd", sock, shared, fh, "--sandbox=none", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((size_t)got < size - 1 && (n = read(p[0], log + got, size - 1 - (size_t)got)) > 0)
		got += n;
	log[got] = 0;
	close(p[0]);
	waitpid(pid, &status, 0);
	unlink(sock + strlen("--socket-path="));
	return status;
}

/* procfs has no file handles: mandatory must not start, prefer must (with a warning). */
static void fh_mandatory_unsupported(void **state)
{
	struct h *h = H_STATE(state);
	static char log[8192];
	int status;

	if (!h_is(h, "vufsd") || !getenv("VUFSD"))
		skip();
	status = run_vufsd("/proc/sys", "mandatory", log, sizeof(log));
	print_message("mandatory on /proc/sys: %s", strstr(log, "--inode") ?: log);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	assert_non_null(strstr(log, "--inode-file-handles=mandatory"));
	assert_non_null(strstr(log, "file handles"));
}

static void fh_prefer_fallback(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_attr attr;

	if (!h_is(h, "vufsd"))
		skip();
	/* A share without handles: prefer serves it with O_PATH fds. */
	free(h->tmpl);
	if (asprintf(&h->tmpl, "%s --socket-path={socket} --shared-dir=/proc/sys --sandbox=none "
		     "--inode-file-handles=prefer", getenv("VUFSD") ?: "vufsd") < 0)
		fail_msg("out of memory");
	h_start(h, NULL, true);
	h_lookup(h, "kernel/ostype", &attr);
	assert_true(S_ISREG(attr.mode));
	assert_non_null(fe_backend_log(h->be));
}

#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TL(fh_prefer_ops),
		TL(fh_reused_inode),
		TL(fh_fd_count_prefer),
		TL(fh_fd_count_never),
		TL(fh_inode_cap),
		TL(fh_mandatory_unsupported),
		TL(fh_prefer_fallback),
	};

	return cmocka_run_group_tests_name("file handles", tests, NULL, NULL);
}
