// SPDX-License-Identifier: MIT
/*
 * vufs-client: talk to a running virtio-fs backend's vhost-user socket as
 * QEMU plus a guest would, and do one file operation.
 *
 *   vufs-client [-v] SOCKET ls|cat|put|stat|mkdir|rm PATH [LOCALFILE]
 *
 * PATH is relative to the shared directory. put reads LOCALFILE (or stdin)
 * and creates/truncates PATH. A backend normally serves a single front-end
 * connection and exits when it goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fe.h"
#include "fe_fuse.h"

static const char *prog = "vufs-client";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [-v] SOCKET ls|cat|put|stat|mkdir|rm PATH [LOCALFILE]\n"
		"  ls PATH          list a directory (or show one entry)\n"
		"  cat PATH         copy a file to stdout\n"
		"  put PATH [FILE]  create/overwrite PATH with FILE (default stdin)\n"
		"  stat PATH        show attributes\n"
		"  mkdir PATH       create a directory (mode 0755)\n"
		"  rm PATH          remove a file or an empty directory\n"
		"  -v               trace the front-end (FE_DEBUG=1)\n", prog);
	exit(2);
}

static int fail(const char *what, const char *path, int err, struct fe *fe)
{
	fprintf(stderr, "%s: %s %s: %s", prog, what, path, strerror(-err));
	if (fe && fe_broken(fe))
		fprintf(stderr, " (%s)", fe_strerror(fe));
	fputc('\n', stderr);
	return 1;
}

static void mode_string(uint32_t mode, char *s)
{
	static const char *rwx = "rwxrwxrwx";

	s[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b' :
	       S_ISFIFO(mode) ? 'p' : S_ISSOCK(mode) ? 's' : '-';
	for (int i = 0; i < 9; i++)
		s[i + 1] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = (mode & S_IXOTH) ? 't' : 'T';
	s[10] = 0;
}

static void print_long(const struct fuse_attr *a, const char *name)
{
	char m[11], t[32];
	time_t mt = (time_t)a->mtime;
	struct tm tm;

	mode_string(a->mode, m);
	localtime_r(&mt, &tm);
	strftime(t, sizeof(t), "%Y-%m-%d %H:%M", &tm);
	printf("%s %3u %5u %5u %10llu %s %s\n", m, a->nlink, a->uid, a->gid,
	       (unsigned long long)a->size, t, name);
}

/* Split "a/b/c" into parent "a/b" (walked) and name "c". */
static int walk_parent(struct fe *fe, const char *path, uint64_t *parent, const char **name)
{
	char *copy = strdup(path), *slash;
	size_t len;
	int err;

	if (!copy)
		return -ENOMEM;
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = 0;
	slash = strrchr(copy, '/');
	if (!slash) {
		*parent = FUSE_ROOT_ID;
		*name = path + (copy[0] == '/' ? 1 : 0);
		free(copy);
		return **name ? 0 : -EINVAL;
	}
	*slash = 0;
	*name = path + (slash + 1 - copy);
	err = fe_fuse_walk(fe, copy, parent, NULL);
	free(copy);
	return err;
}

static int do_ls(struct fe *fe, const char *path)
{
	struct fuse_open_out oo;
	struct fuse_attr attr;
	uint64_t nodeid, off = 0;
	uint32_t bufsize = 64 << 10;
	char *buf;
	int err, n;

	err = fe_fuse_walk(fe, path, &nodeid, &attr);
	if (err)
		return fail("ls", path, err, fe);
	if (!S_ISDIR(attr.mode)) {
		print_long(&attr, path);
		return 0;
	}
	err = fe_fuse_opendir(fe, nodeid, O_RDONLY, &oo);
	if (err)
		return fail("opendir", path, err, fe);
	buf = malloc(bufsize);
	if (!buf)
		return fail("ls", path, -ENOMEM, fe);
	for (;;) {
		struct fuse_forget_one forget[512];
		uint32_t nforget = 0;
		struct fe_dirent d;
		size_t pos = 0;

		n = fe_fuse_readdirplus(fe, nodeid, oo.fh, off, buf, bufsize);
		if (n < 0) {
			err = n;
			break;
		}
		if (n == 0)
			break;
		while ((err = fe_dirent_next(buf, (size_t)n, &pos, true, &d)) == 1) {
			off = d.off;
			if (d.entry.nodeid) {
				if (nforget == sizeof(forget) / sizeof(forget[0])) {
					fe_fuse_batch_forget(fe, forget, nforget);
					nforget = 0;
				}
				forget[nforget].nodeid = d.entry.nodeid;
				forget[nforget].nlookup = 1;
				nforget++;
				print_long(&d.entry.attr, d.name);
			} else {
				printf("%-49s %s\n", "?", d.name);
			}
		}
		if (nforget)
			fe_fuse_batch_forget(fe, forget, nforget);
		if (err < 0) {
			fprintf(stderr, "%s: malformed READDIRPLUS reply\n", prog);
			break;
		}
		err = 0;
	}
	free(buf);
	fe_fuse_releasedir(fe, nodeid, oo.fh);
	return err ? fail("readdirplus", path, err, fe) : 0;
}

static int do_cat(struct fe *fe, const char *path)
{
	uint32_t chunk = fe_fuse_max_io(fe);
	struct fuse_open_out oo;
	uint64_t nodeid, off = 0;
	char *buf;
	int err = 0, n;

	err = fe_fuse_walk(fe, path, &nodeid, NULL);
	if (err)
		return fail("cat", path, err, fe);
	err = fe_fuse_open(fe, nodeid, O_RDONLY, &oo);
	if (err)
		return fail("open", path, err, fe);
	buf = fe_guest_alloc(fe, chunk);
	if (!buf)
		return fail("cat", path, -ENOMEM, fe);
	for (;;) {
		n = fe_fuse_read(fe, nodeid, oo.fh, off, buf, chunk);
		if (n <= 0) {
			err = n;
			break;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			err = -EIO;
			break;
		}
		off += (uint64_t)n;
	}
	fe_guest_free(fe, buf);
	fe_fuse_release(fe, nodeid, oo.fh, O_RDONLY);
	return err ? fail("read", path, err, fe) : 0;
}

static int do_put(struct fe *fe, const char *path, const char *local)
{
	uint32_t chunk = fe_fuse_max_io(fe);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	const char *name;
	uint64_t parent, off = 0;
	int fd = 0, err;
	char *buf;

	if (local && strcmp(local, "-")) {
		fd = open(local, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open", local, -errno, NULL);
	}
	err = walk_parent(fe, path, &parent, &name);
	if (err)
		return fail("put", path, err, fe);
	err = fe_fuse_create(fe, parent, name, O_WRONLY | O_CREAT | O_TRUNC, S_IFREG | 0644, &e, &oo);
	if (err)
		return fail("create", path, err, fe);
	buf = fe_guest_alloc(fe, chunk);
	if (!buf)
		return fail("put", path, -ENOMEM, fe);
	for (;;) {
		size_t have = 0;
		ssize_t r = 0;

		while (have < chunk && (r = read(fd, buf + have, chunk - have)) > 0)
			have += (size_t)r;
		if (r < 0) {
			err = fail("read", local ? local : "stdin", -errno, NULL);
			break;
		}
		for (size_t done = 0; done < have;) {
			int n = fe_fuse_write(fe, e.nodeid, oo.fh, off, buf + done, (uint32_t)(have - done));

			if (n <= 0) {
				err = fail("write", path, n ? n : -EIO, fe);
				break;
			}
			done += (size_t)n;
			off += (uint64_t)n;
		}
		if (err || have < chunk)
			break;
	}
	fe_guest_free(fe, buf);
	if (!err) {
		int e2 = fe_fuse_flush(fe, e.nodeid, oo.fh, 0);

		if (e2)
			err = fail("flush", path, e2, fe);
	}
	fe_fuse_release(fe, e.nodeid, oo.fh, O_WRONLY);
	fe_fuse_forget(fe, e.nodeid, 1);
	if (fd > 0)
		close(fd);
	return err;
}

static void print_time(const char *label, uint64_t sec, uint32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64];

	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s: %s.%09u\n", label, buf, nsec);
}

static int do_stat(struct fe *fe, const char *path)
{
	struct fuse_attr a;
	uint64_t nodeid;
	const char *type;
	char m[11];
	int err;

	err = fe_fuse_walk(fe, path, &nodeid, &a);
	if (err)
		return fail("stat", path, err, fe);
	type = S_ISDIR(a.mode) ? "directory" : S_ISREG(a.mode) ? (a.size ? "regular file" : "regular empty file") :
	       S_ISLNK(a.mode) ? "symbolic link" : S_ISFIFO(a.mode) ? "fifo" : S_ISSOCK(a.mode) ? "socket" :
	       S_ISCHR(a.mode) ? "character special file" : S_ISBLK(a.mode) ? "block special file" : "unknown";
	mode_string(a.mode, m);
	printf("  File: %s\n", path);
	printf("  Size: %-15llu Blocks: %-10llu IO Block: %-6u %s\n", (unsigned long long)a.size,
	       (unsigned long long)a.blocks, a.blksize, type);
	printf("Nodeid: %-15llu Inode: %-11llu Links: %u\n", (unsigned long long)nodeid,
	       (unsigned long long)a.ino, a.nlink);
	printf("Access: (%04o/%s)  Uid: %5u   Gid: %5u\n", a.mode & 07777, m, a.uid, a.gid);
	print_time("Access", a.atime, a.atimensec);
	print_time("Modify", a.mtime, a.mtimensec);
	print_time("Change", a.ctime, a.ctimensec);
	if (S_ISLNK(a.mode)) {
		char target[4097];
		int n = fe_fuse_readlink(fe, nodeid, target, sizeof(target) - 1);

		if (n >= 0) {
			target[n] = 0;
			printf("Target: %s\n", target);
		}
	}
	if (nodeid != FUSE_ROOT_ID)
		fe_fuse_forget(fe, nodeid, 1);
	return 0;
}

static int do_mkdir(struct fe *fe, const char *path)
{
	struct fuse_entry_out e;
	const char *name;
	uint64_t parent;
	int err;

	err = walk_parent(fe, path, &parent, &name);
	if (!err)
		err = fe_fuse_mkdir(fe, parent, name, S_IFDIR | 0755, &e);
	if (err)
		return fail("mkdir", path, err, fe);
	fe_fuse_forget(fe, e.nodeid, 1);
	return 0;
}

static int do_rm(struct fe *fe, const char *path)
{
	struct fuse_entry_out e;
	const char *name;
	uint64_t parent;
	int err;

	err = walk_parent(fe, path, &parent, &name);
	if (!err)
		err = fe_fuse_lookup(fe, parent, name, &e);
	if (err)
		return fail("rm", path, err, fe);
	/* Like the kernel, keep the victim looked up until it is gone (some backends insist). */
	if (S_ISDIR(e.attr.mode))
		err = fe_fuse_rmdir(fe, parent, name);
	else
		err = fe_fuse_unlink(fe, parent, name);
	fe_fuse_forget(fe, e.nodeid, 1);
	return err ? fail("rm", path, err, fe) : 0;
}

int main(int argc, char **argv)
{
	const char *sock, *cmd, *path, *local = NULL;
	struct fe *fe;
	int argi = 1, rc, err;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		setenv("FE_DEBUG", "1", 1);
		argi++;
	}
	if (argc - argi < 3 || argc - argi > 4)
		usage();
	sock = argv[argi];
	cmd = argv[argi + 1];
	path = argv[argi + 2];
	if (argc - argi == 4)
		local = argv[argi + 3];
	if (strcmp(cmd, "ls") && strcmp(cmd, "cat") && strcmp(cmd, "put") && strcmp(cmd, "stat") &&
	    strcmp(cmd, "mkdir") && strcmp(cmd, "rm"))
		usage();
	if (local && strcmp(cmd, "put"))
		usage();

	err = fe_open(sock, NULL, &fe);
	if (err) {
		fprintf(stderr, "%s: cannot set up vhost-user on %s: %s\n", prog, sock, strerror(-err));
		return 1;
	}
	err = fe_fuse_init(fe);
	if (err) {
		fprintf(stderr, "%s: FUSE_INIT failed: %s (%s)\n", prog, strerror(-err), fe_strerror(fe));
		fe_close(fe);
		return 1;
	}
	if (!strcmp(cmd, "ls"))
		rc = do_ls(fe, path);
	else if (!strcmp(cmd, "cat"))
		rc = do_cat(fe, path);
	else if (!strcmp(cmd, "put"))
		rc = do_put(fe, path, local);
	else if (!strcmp(cmd, "stat"))
		rc = do_stat(fe, path);
	else if (!strcmp(cmd, "mkdir"))
		rc = do_mkdir(fe, path);
	else
		rc = do_rm(fe, path);
	if (fflush(stdout) != 0)
		rc = 1;
	fe_close(fe);
	return rc;
}
