// SPDX-License-Identifier: MIT
#define _GNU_SOURCE
/*
 * vufs-mig: the guest's workload of the live-migration stage (guest/migrate/test.sh), built
 * statically and run from the initramfs. It takes what a migration must carry over: a cwd in
 * the share, a file open for reading (read in full passes; the daemon runs with --cache=never, so each READ goes to
 * the daemon, straight into this process's buffer, while QEMU copies memory), a file open for
 * appending, a file the host may rename during the switch, a directory read halfway, a
 * POSIX lock and a flock(). It prints MIG-READY, keeps reading and appending until the host creates
 * "migrated" (after the switch, on the destination), then checks everything and prints
 * "N passed, N failed".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define MAX_NAMES 4096

static int passed, failed;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

static char *names[MAX_NAMES];
static int nnames;

/* getdents64 once with a small buffer (@all: until the end). Returns entries read or -1. */
static int list(int dfd, int all)
{
	static char buf[1024] __attribute__((aligned(8)));
	int got = 0;

	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (long pos = 0; pos < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + pos);

			if (strcmp(d->name, ".") && strcmp(d->name, "..") && nnames < MAX_NAMES)
				names[nnames++] = strdup(d->name);
			got++;
			pos += d->reclen;
		}
		if (!all)
			break;
	}
	return got;
}

int main(int argc, char **argv)
{
	static unsigned char buf[CHUNK] __attribute__((aligned(4096)));
	char path[256], line[64];
	uint64_t want = 0, h = 0xcbf29ce484222325ull;
	int fr, fa, fren, dfd, fl, ff, nlist = 0, passes = 0, bad_passes = 0, ticks = 0;
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;
	FILE *f;

	if (argc < 2 || chdir(argv[1]) < 0 || chdir("work") < 0) {
		perror("vufs-mig: chdir");
		return 2;
	}
	f = fopen("big.sum", "r");
	if (!f || fscanf(f, "%llx %d", (unsigned long long *)&want, &nlist) != 2) {
		perror("vufs-mig: big.sum");
		return 2;
	}
	fclose(f);
	fr = open("big.bin", O_RDONLY);
	fa = open("append.log", O_WRONLY | O_APPEND);
	fren = open("renamed.txt", O_RDONLY);
	dfd = open("list", O_RDONLY | O_DIRECTORY);
	fl = open("lock.bin", O_RDWR);
	ff = open("flock.bin", O_RDONLY);
	if (fr < 0 || fa < 0 || fren < 0 || dfd < 0 || fl < 0 || ff < 0) {
		perror("vufs-mig: open");
		return 2;
	}
	if (fcntl(fl, F_SETLK, &lk) < 0 || flock(ff, LOCK_EX | LOCK_NB) < 0) {
		perror("vufs-mig: lock");
		return 2;
	}
	if (list(dfd, 0) <= 0 || nnames >= nlist) {
		fprintf(stderr, "vufs-mig: the first directory read gave %d of %d names\n", nnames,
			nlist);
		return 2;
	}
	printf("MIG-READY (listed %d of %d names)\n", nnames, nlist);
	fflush(stdout);

	/* Read and append until the host says the switch is done, then finish two more passes. */
	for (int after = -1; after < 2;) {
		ssize_t n = read(fr, buf, sizeof(buf));

		if (n < 0) {
			printf("read failed: %s\n", strerror(errno));
			bad_passes++;
			break;
		}
		if (n == 0) {
			passes++;
			if (h != want) {
				printf("pass %d: checksum %llx, expected %llx\n", passes,
				       (unsigned long long)h, (unsigned long long)want);
				bad_passes++;
			}
			h = 0xcbf29ce484222325ull;
			lseek(fr, 0, SEEK_SET);
			if (after >= 0)
				after++;
			continue;
		}
		h = fnv(h, buf, (size_t)n);
		snprintf(line, sizeof(line), "tick %d\n", ++ticks);
		if (write(fa, line, strlen(line)) != (ssize_t)strlen(line)) {
			printf("append failed: %s\n", strerror(errno));
			failed++;
			break;
		}
		if (after < 0 && access("migrated", F_OK) == 0) {
			printf("switch seen after %d ticks, %d passes\n", ticks, passes);
			after = 0;
		}
		usleep(20000);
	}
	printf("%d passes over big.bin, %d ticks appended\n", passes, ticks);
	check(passes >= 2 && bad_passes == 0, "every pass over big.bin read the right data");

	/* cwd */
	check(getcwd(path, sizeof(path)) && strstr(path, "/work") && stat(".", &st) == 0 &&
		      S_ISDIR(st.st_mode) && stat("big.sum", &st) == 0,
	      "the cwd in the share still works");

	/* append */
	check(write(fa, "after\n", 6) == 6, "append after the switch");
	f = fopen("append.log", "r");
	if (f) {
		int n = 0, last_ok = 0;

		while (fgets(line, sizeof(line), f)) {
			n++;
			last_ok = !strcmp(line, "after\n");
		}
		fclose(f);
		check(n == ticks + 1 && last_ok, "append.log holds every tick in order, then 'after'");
	} else {
		check(0, "append.log opens");
	}

	/* renamed (or not) on the host during the switch: the open file is the same file */
	memset(line, 0, sizeof(line));
	check(pread(fren, line, sizeof(line) - 1, 0) == 10 && !strcmp(line, "rename-me\n"),
	      "the file open across the switch reads its content (renamed or not)");

	/* the directory continues where it stopped */
	if (list(dfd, 1) >= 0) {
		int dup = 0;

		for (int i = 0; i < nnames; i++)
			for (int j = i + 1; j < nnames; j++)
				dup += !strcmp(names[i], names[j]);
		printf("directory: %d names, %d duplicates\n", nnames, dup);
		check(nnames == nlist && dup == 0, "the half-listed directory continues, each name once");
	} else {
		check(0, "the half-listed directory continues");
	}

	/* the lock is still ours: another process is refused */
	{
		pid_t pid = fork();
		int status = 0;

		if (pid == 0) {
			int fd = open("lock.bin", O_RDWR);
			struct flock l2 = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

			for (int i = 0; i < 50; i++) { /* the destination takes it once the source exits */
				if (fcntl(fd, F_SETLK, &l2) < 0 && (errno == EAGAIN || errno == EACCES))
					_exit(0);
				l2.l_type = F_UNLCK;
				fcntl(fd, F_SETLK, &l2);
				l2.l_type = F_WRLCK;
				usleep(100000);
			}
			_exit(1);
		}
		waitpid(pid, &status, 0);
		check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the lock held across the switch still excludes another process");
	}
	/* the flock too */
	{
		pid_t pid = fork();
		int status = 0;

		if (pid == 0) {
			int fd = open("flock.bin", O_RDONLY);

			for (int i = 0; i < 50; i++) {
				if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
					_exit(0);
				flock(fd, LOCK_UN);
				usleep(100000);
			}
			_exit(1);
		}
		waitpid(pid, &status, 0);
		check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the flock held across the switch still excludes another process");
	}
	check(flock(ff, LOCK_UN) == 0 && close(ff) == 0, "the flock is released");
	lk.l_type = F_UNLCK;
	check(fcntl(fl, F_SETLK, &lk) == 0, "the lock is released");
	check(close(fr) == 0 && close(fa) == 0 && close(fren) == 0 && close(dfd) == 0 &&
		      close(fl) == 0,
	      "every file closes");
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
