/*
 * vufs-as: run a command, or one file-system operation, as a given uid/gid with given
 * supplementary groups. A small static helper for the guest POSIX suite (guest/posix/posix.sh);
 * guest/posix/test.sh builds it with `gcc -static -O2` and puts it into the guest's initramfs as
 * /bin/vufs-as.
 *
 * Usage:
 *   vufs-as [UID GID[,GID...]] -- CMD [ARGS...]     execv CMD (a path, or looked up in PATH)
 *   vufs-as [UID GID[,GID...]] --op OP [ARGS...]    one operation, below
 *
 * With UID and GIDs the process first calls setgroups(all the GIDs), setresgid(first GID) and
 * setresuid(UID) (so it loses root's capabilities). The umask is inherited.
 *
 * Operations print one result line: `OK` (perhaps followed by details) on success, else the
 * errno's name (`EACCES`, `EEXIST`...), and exit 0 on OK, 1 otherwise (2 on a usage error).
 *   open PATH FLAGS [MODE]        FLAGS: comma list of r w rw creat excl trunc append dir
 *                                 nofollow path tmpfile; MODE octal (default 0644)
 *   mkdir PATH MODE | mknod PATH f|p|s|c|b MODE [MAJOR MINOR] | unlink PATH | rmdir PATH
 *   chmod PATH MODE | chown PATH UID GID | lchown PATH UID GID | access PATH r|w|x|rw|...
 *   link OLD NEW | symlink TARGET PATH | readlink PATH (prints OK TARGET)
 *   rename OLD NEW [noreplace|exchange]             renameat2()
 *   truncate PATH SIZE | write PATH OFFSET STRING (pwrite; O_CREAT 0644) | pread PATH OFF LEN
 *   zeros PATH OFFSET LEN         OK if those bytes read back as zeros
 *   stat PATH [FIELD...]          lstat; prints OK and FIELD=VALUE for ino nlink mode (octal,
 *                                 with type bits) perm (octal, 07777 only) uid gid size blocks
 *                                 atime mtime ctime (SEC.NSEC) type rdev (MAJOR:MINOR);
 *                                 default: all of them but rdev
 *   utimens PATH ATIME MTIME      utimensat(); each NOW, OMIT or SEC[.NSEC]
 *   xattr-set PATH NAME VALUE [create|replace] | xattr-get PATH NAME (OK VALUE)
 *   xattr-size PATH NAME (OK N: the size probe) | xattr-list PATH (OK n1,n2 sorted)
 *   xattr-remove PATH NAME
 *   acl-set PATH access|default UPERM GPERM OPERM [UID UIDPERM MASK]
 *                                 set a POSIX ACL (perms 0-7; with UID a named-user entry and
 *                                 a mask) through system.posix_acl_access/default
 *   lock PATH KIND TYPE START LEN HOLD
 *                                 KIND: setlk setlkw getlk ofd-setlk ofd-setlkw ofd-getlk
 *                                 flock flock-nb; TYPE r|w|u. set kinds print `LOCKED
 *                                 waited=SEC` once they hold the lock, then hold it HOLD
 *                                 seconds, or until the file HOLD exists (HOLD not a number;
 *                                 at most 120 s). getlk kinds print OK UNLCK or OK RDLCK|WRLCK
 *                                 start=S len=L pid=P.
 *   mmap-write PATH OFFSET STRING   MAP_SHARED writable mapping of the whole file, memcpy,
 *                                 msync(MS_SYNC), munmap.
 *   fallocate PATH MODE OFFSET LEN  MODE: 0 keep punch zero
 *   seek PATH data|hole OFFSET    lseek SEEK_DATA/SEEK_HOLE; prints OK RESULT or ENXIO
 *   tmpfile DIR MODE [NEWPATH]    O_TMPFILE|O_RDWR in DIR, write "tmpfile-data\n", check
 *                                 nlink 0, then linkat() it to NEWPATH via /proc/self/fd.
 *   fsync PATH [data|dir]         write "fsync-data\n" at 0 and fsync (data: fdatasync; dir:
 *                                 fsync of the directory, nothing written)
 *   syncfs PATH
 *   copy SRC DST OFF_IN OFF_OUT LEN   copy_file_range() loop; prints OK copied=N
 *   append PATH TAG COUNT         COUNT O_APPEND writes of "TAG NNNNNN\n", one write() each
 *   mkfiles DIR PREFIX N [links]  N empty files PREFIX0..PREFIX{N-1} (mknod S_IFREG); with
 *                                 `links`, hard links instead: PREFIX0, PREFIX50000... are
 *                                 files, the names after each are links to it (few inodes)
 *   readdir DIR                   prints OK entries=N (without . and ..) dots=D dups=U
 *   seekdir DIR                   read half of DIR, telldir, read the rest, seekdir back and
 *                                 read the rest again: the same names in the same order?
 *   readdir-mod DIR PREFIX N      DIR holds PREFIX0..PREFIX{N-1}; while listing it, create a
 *                                 new file and delete an earlier new one after every entry
 *                                 read. Each original must be seen exactly once, no name twice.
 *   sock-server PATH | sock-client PATH MSG        AF_UNIX stream socket bound in the share;
 *                                 the server prints LISTENING, accepts one client, echoes
 *                                 "echo:MSG" back; the client prints OK REPLY.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif

static void usage(void)
{
	fputs("usage: vufs-as [UID GID[,GID...]] (-- CMD [ARGS...] | --op OP [ARGS...])\n"
	      "see the comment at the top of vufs-as.c for the operations\n",
	      stderr);
	exit(2);
}

static int fail_errno(int e)
{
	const char *n = strerrorname_np(e);

	if (n)
		printf("%s\n", n);
	else
		printf("E%d\n", e);
	fflush(stdout);
	return 1;
}

static int ok(void)
{
	puts("OK");
	return 0;
}

/* Result of a call that returns -1/errno. */
static int result(int r)
{
	return r < 0 ? fail_errno(errno) : ok();
}

static long long num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "vufs-as: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static mode_t octal(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 8);

	if (*end || end == s) {
		fprintf(stderr, "vufs-as: bad mode '%s'\n", s);
		exit(2);
	}
	return (mode_t)v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void need(int argc, int n)
{
	if (argc < n)
		usage();
}

static int parse_flags(const char *s)
{
	int flags = 0, acc = O_RDONLY;
	char *copy = strdup(s), *save = NULL, *t;

	for (t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "r"))
			acc = O_RDONLY;
		else if (!strcmp(t, "w"))
			acc = O_WRONLY;
		else if (!strcmp(t, "rw"))
			acc = O_RDWR;
		else if (!strcmp(t, "creat"))
			flags |= O_CREAT;
		else if (!strcmp(t, "excl"))
			flags |= O_EXCL;
		else if (!strcmp(t, "trunc"))
			flags |= O_TRUNC;
		else if (!strcmp(t, "append"))
			flags |= O_APPEND;
		else if (!strcmp(t, "dir"))
			flags |= O_DIRECTORY;
		else if (!strcmp(t, "nofollow"))
			flags |= O_NOFOLLOW;
		else if (!strcmp(t, "path"))
			flags |= O_PATH;
		else if (!strcmp(t, "tmpfile"))
			flags |= O_TMPFILE;
		else {
			fprintf(stderr, "vufs-as: unknown open flag '%s'\n", t);
			exit(2);
		}
	}
	free(copy);
	return flags | acc;
}

/* The kernel's ACL xattr format: version 2, then {tag, perm, id} entries in tag order. */
static int op_acl_set(int argc, char **argv)
{
	struct {
		uint16_t tag, perm;
		uint32_t id;
	} e[5];
	unsigned char buf[4 + sizeof(e)];
	uint32_t version = 2;
	int n = 0;

	need(argc, 5);
	e[n++] = (typeof(e[0])){ 0x01, (uint16_t)num(argv[2]), (uint32_t)-1 };
	if (argc >= 8)
		e[n++] = (typeof(e[0])){ 0x02, (uint16_t)num(argv[6]), (uint32_t)num(argv[5]) };
	e[n++] = (typeof(e[0])){ 0x04, (uint16_t)num(argv[3]), (uint32_t)-1 };
	if (argc >= 8)
		e[n++] = (typeof(e[0])){ 0x10, (uint16_t)num(argv[7]), (uint32_t)-1 };
	e[n++] = (typeof(e[0])){ 0x20, (uint16_t)num(argv[4]), (uint32_t)-1 };
	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, (size_t)n * sizeof(e[0]));
	return result(setxattr(argv[0],
			       !strcmp(argv[1], "default") ? "system.posix_acl_default"
							   : "system.posix_acl_access",
			       buf, 4 + (size_t)n * sizeof(e[0]), 0));
}

static int op_stat(int argc, char **argv)
{
	static const char *const all[] = { "ino",   "nlink", "mode",  "perm",  "uid",
					   "gid",   "size",  "blocks", "atime", "mtime",
					   "ctime", "type",  NULL };
	struct stat st;
	const char *const *fields = all;
	int i, nfields = 12;

	need(argc, 1);
	if (lstat(argv[0], &st) < 0)
		return fail_errno(errno);
	if (argc > 1) {
		fields = (const char *const *)argv + 1;
		nfields = argc - 1;
	}
	fputs("OK", stdout);
	for (i = 0; i < nfields; i++) {
		const char *f = fields[i];

		if (!strcmp(f, "ino"))
			printf(" ino=%llu", (unsigned long long)st.st_ino);
		else if (!strcmp(f, "nlink"))
			printf(" nlink=%lu", (unsigned long)st.st_nlink);
		else if (!strcmp(f, "mode"))
			printf(" mode=%o", st.st_mode);
		else if (!strcmp(f, "perm"))
			printf(" perm=%o", st.st_mode & 07777);
		else if (!strcmp(f, "uid"))
			printf(" uid=%u", st.st_uid);
		else if (!strcmp(f, "gid"))
			printf(" gid=%u", st.st_gid);
		else if (!strcmp(f, "size"))
			printf(" size=%lld", (long long)st.st_size);
		else if (!strcmp(f, "rdev"))
			printf(" rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		else if (!strcmp(f, "blocks"))
			printf(" blocks=%lld", (long long)st.st_blocks);
		else if (!strcmp(f, "atime"))
			printf(" atime=%lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
		else if (!strcmp(f, "mtime"))
			printf(" mtime=%lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		else if (!strcmp(f, "ctime"))
			printf(" ctime=%lld.%09ld", (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		else if (!strcmp(f, "type"))
			printf(" type=%s", S_ISREG(st.st_mode)    ? "file"
					   : S_ISDIR(st.st_mode)  ? "dir"
					   : S_ISLNK(st.st_mode)  ? "symlink"
					   : S_ISFIFO(st.st_mode) ? "fifo"
					   : S_ISSOCK(st.st_mode) ? "socket"
					   : S_ISCHR(st.st_mode)  ? "chardev"
					   : S_ISBLK(st.st_mode)  ? "blockdev"
								  : "other");
		else {
			fprintf(stderr, "vufs-as: unknown stat field '%s'\n", f);
			exit(2);
		}
	}
	putchar('\n');
	return 0;
}

static void parse_time(const char *s, struct timespec *ts)
{
	char *dot;

	if (!strcmp(s, "NOW")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else if (!strcmp(s, "OMIT")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", s);
		dot = strchr(buf, '.');
		ts->tv_nsec = 0;
		if (dot) {
			*dot = '\0';
			ts->tv_nsec = (long)num(dot + 1);
		}
		ts->tv_sec = (time_t)num(buf);
	}
}

/* Hold a lock: HOLD seconds, or until the file HOLD exists (at most 120 s). */
static void hold(const char *spec)
{
	char *end;
	double secs = strtod(spec, &end);

	if (*spec && !*end) {
		struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };

		nanosleep(&ts, NULL);
		return;
	}
	for (int i = 0; i < 2400; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (access(spec, F_OK) == 0)
			return;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "vufs-as: %s did not appear within 120 s\n", spec);
}

static int op_lock(int argc, char **argv)
{
	const char *path, *kind, *type;
	struct flock fl;
	int fd, cmd, is_get = 0;
	double t0;

	need(argc, 6);
	path = argv[0];
	kind = argv[1];
	type = argv[2];
	fd = open(path, O_RDWR);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail_errno(errno);

	if (!strcmp(kind, "flock") || !strcmp(kind, "flock-nb")) {
		int op = !strcmp(type, "r") ? LOCK_SH : !strcmp(type, "w") ? LOCK_EX : LOCK_UN;

		if (!strcmp(kind, "flock-nb"))
			op |= LOCK_NB;
		t0 = now();
		if (flock(fd, op) < 0)
			return fail_errno(errno);
		printf("LOCKED waited=%.2f\n", now() - t0);
		fflush(stdout);
		hold(argv[5]);
		return 0;
	}

	memset(&fl, 0, sizeof(fl));
	fl.l_type = !strcmp(type, "r") ? F_RDLCK : !strcmp(type, "w") ? F_WRLCK : F_UNLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)num(argv[3]);
	fl.l_len = (off_t)num(argv[4]);
	if (!strcmp(kind, "setlk"))
		cmd = F_SETLK;
	else if (!strcmp(kind, "setlkw"))
		cmd = F_SETLKW;
	else if (!strcmp(kind, "getlk"))
		cmd = F_GETLK, is_get = 1;
	else if (!strcmp(kind, "ofd-setlk"))
		cmd = F_OFD_SETLK;
	else if (!strcmp(kind, "ofd-setlkw"))
		cmd = F_OFD_SETLKW;
	else if (!strcmp(kind, "ofd-getlk"))
		cmd = F_OFD_GETLK, is_get = 1;
	else
		usage();
	t0 = now();
	if (fcntl(fd, cmd, &fl) < 0)
		return fail_errno(errno);
	if (is_get) {
		if (fl.l_type == F_UNLCK)
			puts("OK UNLCK");
		else
			printf("OK %s start=%lld len=%lld pid=%d\n",
			       fl.l_type == F_WRLCK ? "WRLCK" : "RDLCK", (long long)fl.l_start,
			       (long long)fl.l_len, (int)fl.l_pid);
		return 0;
	}
	printf("LOCKED waited=%.2f\n", now() - t0);
	fflush(stdout);
	hold(argv[5]);
	return 0;
}

static int op_mmap_write(int argc, char **argv)
{
	struct stat st;
	size_t len;
	off_t off;
	char *p;
	int fd;

	need(argc, 3);
	off = (off_t)num(argv[1]);
	len = strlen(argv[2]);
	fd = open(argv[0], O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail_errno(errno);
	if (off + (off_t)len > st.st_size) {
		fprintf(stderr, "vufs-as: mmap-write past the end of the file\n");
		return 2;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail_errno(errno);
	memcpy(p + off, argv[2], len);
	if (msync(p, (size_t)st.st_size, MS_SYNC) < 0)
		return fail_errno(errno);
	if (munmap(p, (size_t)st.st_size) < 0 || close(fd) < 0)
		return fail_errno(errno);
	return ok();
}

static int op_tmpfile(int argc, char **argv)
{
	static const char data[] = "tmpfile-data\n";
	struct stat st;
	char proc[64];
	int fd;

	need(argc, 2);
	fd = open(argv[0], O_TMPFILE | O_RDWR, octal(argv[1]));
	if (fd < 0)
		return fail_errno(errno);
	if (write(fd, data, sizeof(data) - 1) != (ssize_t)sizeof(data) - 1 || fstat(fd, &st) < 0)
		return fail_errno(errno);
	if (st.st_nlink != 0) {
		printf("NLINK-%lu\n", (unsigned long)st.st_nlink);
		return 1;
	}
	if (argc > 2) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, argv[2], AT_SYMLINK_FOLLOW) < 0)
			return fail_errno(errno);
	}
	return ok();
}

static int op_fsync(int argc, char **argv)
{
	static const char data[] = "fsync-data\n";
	const char *how = argc > 1 ? argv[1] : "";
	int fd, r;

	need(argc, 1);
	if (!strcmp(how, "dir")) {
		fd = open(argv[0], O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return fail_errno(errno);
		return result(fsync(fd));
	}
	fd = open(argv[0], O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return fail_errno(errno);
	if (pwrite(fd, data, sizeof(data) - 1, 0) != (ssize_t)sizeof(data) - 1)
		return fail_errno(errno);
	r = !strcmp(how, "data") ? fdatasync(fd) : fsync(fd);
	if (r < 0)
		return fail_errno(errno);
	return result(close(fd));
}

static int op_copy(int argc, char **argv)
{
	loff_t in_off, out_off;
	long long left, total = 0;
	int in, out;

	need(argc, 5);
	in = open(argv[0], O_RDONLY);
	if (in < 0)
		return fail_errno(errno);
	out = open(argv[1], O_WRONLY | O_CREAT, 0644);
	if (out < 0)
		return fail_errno(errno);
	in_off = (loff_t)num(argv[2]);
	out_off = (loff_t)num(argv[3]);
	left = num(argv[4]);
	while (left > 0) {
		ssize_t n = copy_file_range(in, &in_off, out, &out_off, (size_t)left, 0);

		if (n < 0)
			return fail_errno(errno);
		if (n == 0)
			break;
		left -= n;
		total += n;
	}
	if (close(out) < 0)
		return fail_errno(errno);
	printf("OK copied=%lld\n", total);
	return 0;
}

static int op_append(int argc, char **argv)
{
	long long count, i;
	char line[256];
	int fd;

	need(argc, 3);
	count = num(argv[2]);
	fd = open(argv[0], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return fail_errno(errno);
	for (i = 0; i < count; i++) {
		int n = snprintf(line, sizeof(line), "%s %06lld\n", argv[1], i);

		if (write(fd, line, (size_t)n) != n)
			return fail_errno(errno);
	}
	return result(close(fd));
}

static int op_mkfiles(int argc, char **argv)
{
	char path[PATH_MAX], target[PATH_MAX];
	long long n, i;
	double t0 = now();
	int links;

	need(argc, 3);
	n = num(argv[2]);
	links = argc > 3 && !strcmp(argv[3], "links");
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s%lld", argv[0], argv[1], i);
		if (links && i % 50000) {
			if (link(target, path) < 0) {
				fprintf(stderr, "vufs-as: link %s: %s\n", path, strerror(errno));
				return fail_errno(errno);
			}
			continue;
		}
		if (mknod(path, S_IFREG | 0644, 0) < 0) {
			fprintf(stderr, "vufs-as: mknod %s: %s\n", path, strerror(errno));
			return fail_errno(errno);
		}
		memcpy(target, path, sizeof(target));
	}
	printf("OK created=%lld seconds=%.2f\n", n, now() - t0);
	return 0;
}

/* Names read from a directory stream, in order. */
struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 1024;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		if (!ns->v)
			abort();
	}
	ns->v[ns->n++] = strdup(name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Number of names that occur more than once. */
static size_t count_dups(struct names *ns)
{
	size_t i, dups = 0;
	char **v = malloc(ns->n * sizeof(*v) + 1);

	memcpy(v, ns->v, ns->n * sizeof(*v));
	qsort(v, ns->n, sizeof(*v), cmp_str);
	for (i = 1; i < ns->n; i++)
		if (!strcmp(v[i], v[i - 1]))
			dups++;
	free(v);
	return dups;
}

static int op_readdir(int argc, char **argv)
{
	struct names ns = { 0 };
	struct dirent *de;
	size_t dots = 0;
	double t0 = now();
	DIR *d;

	need(argc, 1);
	d = opendir(argv[0]);
	if (!d)
		return fail_errno(errno);
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			dots++;
		else
			names_add(&ns, de->d_name);
		errno = 0;
	}
	if (errno)
		return fail_errno(errno);
	closedir(d);
	printf("OK entries=%zu dots=%zu dups=%zu seconds=%.2f\n", ns.n, dots, count_dups(&ns),
	       now() - t0);
	return 0;
}

static void read_rest(DIR *d, struct names *ns)
{
	struct dirent *de;

	while ((de = readdir(d)))
		names_add(ns, de->d_name);
}

static int op_seekdir(int argc, char **argv)
{
	struct names all = { 0 }, first = { 0 }, again = { 0 }, full = { 0 };
	size_t half, i;
	long pos;
	DIR *d;

	need(argc, 1);
	d = opendir(argv[0]);
	if (!d)
		return fail_errno(errno);
	read_rest(d, &all);
	rewinddir(d);
	half = all.n / 2;
	for (i = 0; i < half; i++)
		if (!readdir(d)) {
			printf("SHORT after rewinddir: %zu of %zu\n", i, all.n);
			return 1;
		}
	pos = telldir(d);
	read_rest(d, &first);
	seekdir(d, pos);
	read_rest(d, &again);
	rewinddir(d);
	read_rest(d, &full);
	closedir(d);
	if (first.n != again.n || first.n != all.n - half) {
		printf("MISMATCH total=%zu half=%zu rest=%zu after-seekdir=%zu\n", all.n, half,
		       first.n, again.n);
		return 1;
	}
	for (i = 0; i < first.n; i++)
		if (strcmp(first.v[i], again.v[i])) {
			printf("MISMATCH at %zu: '%s' then '%s'\n", half + i, first.v[i], again.v[i]);
			return 1;
		}
	if (full.n != all.n) {
		printf("MISMATCH rewinddir: %zu then %zu entries\n", all.n, full.n);
		return 1;
	}
	for (i = 0; i < all.n; i++)
		if (strcmp(all.v[i], full.v[i])) {
			printf("MISMATCH after rewinddir at %zu: '%s' then '%s'\n", i, all.v[i],
			       full.v[i]);
			return 1;
		}
	printf("OK total=%zu half=%zu rest=%zu\n", all.n, half, first.n);
	return 0;
}

static int op_readdir_mod(int argc, char **argv)
{
	struct names ns = { 0 };
	struct dirent *de;
	char path[PATH_MAX], name[64];
	long long n, i, created = 0;
	size_t plen, orig_seen = 0, new_seen = 0, dups;
	unsigned char *seen;
	DIR *d;

	need(argc, 3);
	n = num(argv[2]);
	plen = strlen(argv[1]);
	seen = calloc((size_t)n, 1);
	d = opendir(argv[0]);
	if (!d || !seen)
		return fail_errno(errno);
	errno = 0;
	while ((de = readdir(d))) {
		names_add(&ns, de->d_name);
		if (!strncmp(de->d_name, argv[1], plen)) {
			char *end;
			long long k = strtoll(de->d_name + plen, &end, 10);

			if (!*end && k >= 0 && k < n) {
				if (seen[k]) {
					printf("DUPLICATE %s\n", de->d_name);
					return 1;
				}
				seen[k] = 1;
				orig_seen++;
			}
		} else if (!strncmp(de->d_name, "new-", 4)) {
			new_seen++;
		}
		snprintf(path, sizeof(path), "%s/new-%lld", argv[0], created);
		if (mknod(path, S_IFREG | 0644, 0) < 0)
			return fail_errno(errno);
		if (created % 2 == 1) {
			snprintf(path, sizeof(path), "%s/new-%lld", argv[0], created - 1);
			if (unlink(path) < 0)
				return fail_errno(errno);
		}
		created++;
		errno = 0;
	}
	if (errno)
		return fail_errno(errno);
	closedir(d);
	dups = count_dups(&ns);
	for (i = 0; i < n; i++)
		if (!seen[i]) {
			snprintf(name, sizeof(name), "%s%lld", argv[1], i);
			printf("MISSING %s (saw %zu of %lld originals)\n", name, orig_seen, n);
			return 1;
		}
	if (dups) {
		printf("DUPLICATES %zu\n", dups);
		return 1;
	}
	printf("OK originals=%zu new-seen=%zu created=%lld\n", orig_seen, new_seen, created);
	return 0;
}

static int op_sock(int server, int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[256];
	ssize_t n;
	int s, c;

	need(argc, server ? 1 : 2);
	if (strlen(argv[0]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vufs-as: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[0]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return fail_errno(errno);
	alarm(60);
	if (!server) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail_errno(errno);
		if (write(s, argv[1], strlen(argv[1])) < 0)
			return fail_errno(errno);
		shutdown(s, SHUT_WR);
		n = read(s, buf, sizeof(buf) - 1);
		if (n < 0)
			return fail_errno(errno);
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0)
		return fail_errno(errno);
	puts("LISTENING");
	fflush(stdout);
	c = accept(s, NULL, NULL);
	if (c < 0)
		return fail_errno(errno);
	n = read(c, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail_errno(errno);
	buf[n] = '\0';
	dprintf(c, "echo:%s", buf);
	close(c);
	puts("OK served");
	return 0;
}

static int do_op(int argc, char **argv)
{
	const char *op;

	need(argc, 1);
	op = argv[0];
	argc--;
	argv++;
	if (!strcmp(op, "open")) {
		int fd;

		need(argc, 2);
		fd = open(argv[0], parse_flags(argv[1]), argc > 2 ? octal(argv[2]) : 0644);
		if (fd < 0)
			return fail_errno(errno);
		return result(close(fd));
	}
	if (!strcmp(op, "mkdir"))
		return need(argc, 2), result(mkdir(argv[0], octal(argv[1])));
	if (!strcmp(op, "mknod")) {
		mode_t type;
		dev_t dev = 0;

		need(argc, 3);
		switch (argv[1][0]) {
		case 'f': type = S_IFREG; break;
		case 'p': type = S_IFIFO; break;
		case 's': type = S_IFSOCK; break;
		case 'c': type = S_IFCHR; break;
		case 'b': type = S_IFBLK; break;
		default: usage(); return 2;
		}
		if (argc >= 5)
			dev = makedev((unsigned)num(argv[3]), (unsigned)num(argv[4]));
		return result(mknod(argv[0], type | octal(argv[2]), dev));
	}
	if (!strcmp(op, "unlink"))
		return need(argc, 1), result(unlink(argv[0]));
	if (!strcmp(op, "rmdir"))
		return need(argc, 1), result(rmdir(argv[0]));
	if (!strcmp(op, "chmod"))
		return need(argc, 2), result(chmod(argv[0], octal(argv[1])));
	if (!strcmp(op, "chown"))
		return need(argc, 3),
		       result(chown(argv[0], (uid_t)num(argv[1]), (gid_t)num(argv[2])));
	if (!strcmp(op, "lchown"))
		return need(argc, 3),
		       result(lchown(argv[0], (uid_t)num(argv[1]), (gid_t)num(argv[2])));
	if (!strcmp(op, "access")) {
		int m = 0;

		need(argc, 2);
		m |= strchr(argv[1], 'r') ? R_OK : 0;
		m |= strchr(argv[1], 'w') ? W_OK : 0;
		m |= strchr(argv[1], 'x') ? X_OK : 0;
		return result(access(argv[0], m ? m : F_OK));
	}
	if (!strcmp(op, "link"))
		return need(argc, 2), result(link(argv[0], argv[1]));
	if (!strcmp(op, "symlink"))
		return need(argc, 2), result(symlink(argv[0], argv[1]));
	if (!strcmp(op, "readlink")) {
		char buf[PATH_MAX + 1];
		ssize_t n;

		need(argc, 1);
		n = readlink(argv[0], buf, PATH_MAX);
		if (n < 0)
			return fail_errno(errno);
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "rename")) {
		unsigned int flags = 0;

		need(argc, 2);
		if (argc > 2 && !strcmp(argv[2], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (argc > 2 && !strcmp(argv[2], "exchange"))
			flags = RENAME_EXCHANGE;
		else if (argc > 2)
			usage();
		return result(renameat2(AT_FDCWD, argv[0], AT_FDCWD, argv[1], flags));
	}
	if (!strcmp(op, "truncate"))
		return need(argc, 2), result(truncate(argv[0], (off_t)num(argv[1])));
	if (!strcmp(op, "write")) {
		size_t len;
		int fd;

		need(argc, 3);
		len = strlen(argv[2]);
		fd = open(argv[0], O_WRONLY | O_CREAT, 0644);
		if (fd < 0)
			return fail_errno(errno);
		if (pwrite(fd, argv[2], len, (off_t)num(argv[1])) != (ssize_t)len)
			return fail_errno(errno ? errno : EIO);
		return result(close(fd));
	}
	if (!strcmp(op, "pread") || !strcmp(op, "zeros")) {
		long long len, i;
		ssize_t n;
		char *buf;
		int fd;

		need(argc, 3);
		len = num(argv[2]);
		buf = calloc(1, (size_t)len + 1);
		fd = open(argv[0], O_RDONLY);
		if (fd < 0 || !buf)
			return fail_errno(errno);
		n = pread(fd, buf, (size_t)len, (off_t)num(argv[1]));
		if (n < 0)
			return fail_errno(errno);
		if (!strcmp(op, "pread")) {
			printf("OK %.*s\n", (int)n, buf);
			return 0;
		}
		if (n != len) {
			printf("SHORT %zd of %lld\n", n, len);
			return 1;
		}
		for (i = 0; i < len; i++)
			if (buf[i]) {
				printf("NONZERO at +%lld: 0x%02x\n", i, (unsigned char)buf[i]);
				return 1;
			}
		return ok();
	}
	if (!strcmp(op, "stat"))
		return op_stat(argc, argv);
	if (!strcmp(op, "utimens")) {
		struct timespec ts[2];

		need(argc, 3);
		parse_time(argv[1], &ts[0]);
		parse_time(argv[2], &ts[1]);
		return result(utimensat(AT_FDCWD, argv[0], ts, 0));
	}
	if (!strcmp(op, "xattr-set")) {
		int flags = 0;

		need(argc, 3);
		if (argc > 3)
			flags = !strcmp(argv[3], "create") ? XATTR_CREATE : XATTR_REPLACE;
		return result(setxattr(argv[0], argv[1], argv[2], strlen(argv[2]), flags));
	}
	if (!strcmp(op, "xattr-get")) {
		char buf[65536];
		ssize_t n;

		need(argc, 2);
		n = getxattr(argv[0], argv[1], buf, sizeof(buf) - 1);
		if (n < 0)
			return fail_errno(errno);
		buf[n] = '\0';
		printf("OK %s\n", buf);
		return 0;
	}
	if (!strcmp(op, "xattr-size")) {
		ssize_t n;

		need(argc, 2);
		n = getxattr(argv[0], argv[1], NULL, 0);
		if (n < 0)
			return fail_errno(errno);
		printf("OK %zd\n", n);
		return 0;
	}
	if (!strcmp(op, "xattr-list")) {
		char buf[65536], *p;
		struct names ns = { 0 };
		ssize_t n, probe;
		size_t i;

		need(argc, 1);
		probe = listxattr(argv[0], NULL, 0);
		if (probe < 0)
			return fail_errno(errno);
		n = listxattr(argv[0], buf, sizeof(buf));
		if (n < 0)
			return fail_errno(errno);
		if (probe != n) {
			printf("SIZE-PROBE %zd but list %zd\n", probe, n);
			return 1;
		}
		for (p = buf; p < buf + n; p += strlen(p) + 1)
			names_add(&ns, p);
		qsort(ns.v, ns.n, sizeof(*ns.v), cmp_str);
		fputs("OK ", stdout);
		for (i = 0; i < ns.n; i++)
			printf("%s%s", i ? "," : "", ns.v[i]);
		putchar('\n');
		return 0;
	}
	if (!strcmp(op, "xattr-remove"))
		return need(argc, 2), result(removexattr(argv[0], argv[1]));
	if (!strcmp(op, "acl-set"))
		return op_acl_set(argc, argv);
	if (!strcmp(op, "lock"))
		return op_lock(argc, argv);
	if (!strcmp(op, "mmap-write"))
		return op_mmap_write(argc, argv);
	if (!strcmp(op, "fallocate")) {
		int mode, fd;

		need(argc, 4);
		mode = !strcmp(argv[1], "keep")    ? FALLOC_FL_KEEP_SIZE
		       : !strcmp(argv[1], "punch") ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
		       : !strcmp(argv[1], "zero")  ? FALLOC_FL_ZERO_RANGE
						   : 0;
		fd = open(argv[0], O_RDWR);
		if (fd < 0)
			return fail_errno(errno);
		if (fallocate(fd, mode, (off_t)num(argv[2]), (off_t)num(argv[3])) < 0)
			return fail_errno(errno);
		return result(close(fd));
	}
	if (!strcmp(op, "seek")) {
		off_t r;
		int fd;

		need(argc, 3);
		fd = open(argv[0], O_RDONLY);
		if (fd < 0)
			return fail_errno(errno);
		r = lseek(fd, (off_t)num(argv[2]), !strcmp(argv[1], "data") ? SEEK_DATA : SEEK_HOLE);
		if (r < 0)
			return fail_errno(errno);
		printf("OK %lld\n", (long long)r);
		return 0;
	}
	if (!strcmp(op, "tmpfile"))
		return op_tmpfile(argc, argv);
	if (!strcmp(op, "fsync"))
		return op_fsync(argc, argv);
	if (!strcmp(op, "syncfs")) {
		int fd;

		need(argc, 1);
		fd = open(argv[0], O_RDONLY);
		if (fd < 0)
			return fail_errno(errno);
		return result(syncfs(fd));
	}
	if (!strcmp(op, "copy"))
		return op_copy(argc, argv);
	if (!strcmp(op, "append"))
		return op_append(argc, argv);
	if (!strcmp(op, "mkfiles"))
		return op_mkfiles(argc, argv);
	if (!strcmp(op, "readdir"))
		return op_readdir(argc, argv);
	if (!strcmp(op, "seekdir"))
		return op_seekdir(argc, argv);
	if (!strcmp(op, "readdir-mod"))
		return op_readdir_mod(argc, argv);
	if (!strcmp(op, "sock-server"))
		return op_sock(1, argc, argv);
	if (!strcmp(op, "sock-client"))
		return op_sock(0, argc, argv);
	fprintf(stderr, "vufs-as: unknown operation '%s'\n", op);
	return 2;
}

static void become(const char *uid_s, const char *gids_s)
{
	gid_t groups[64];
	size_t n = 0;
	char *copy = strdup(gids_s), *save = NULL, *t;
	uid_t uid = (uid_t)num(uid_s);

	for (t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
		groups[n++] = (gid_t)num(t);
	if (n == 0)
		usage();
	if (setgroups(n, groups) < 0 || setresgid(groups[0], groups[0], groups[0]) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		fprintf(stderr, "vufs-as: cannot become %s:%s: %s\n", uid_s, gids_s, strerror(errno));
		exit(2);
	}
	free(copy);
}

int main(int argc, char **argv)
{
	int i = 1;

	if (argc > 3 && strcmp(argv[1], "--") && strcmp(argv[1], "--op")) {
		become(argv[1], argv[2]);
		i = 3;
	}
	if (i >= argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_DFL);
	if (!strcmp(argv[i], "--op"))
		return do_op(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "--") || i + 1 >= argc)
		usage();
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "vufs-as: exec %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}
