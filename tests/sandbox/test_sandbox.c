// SPDX-License-Identifier: MIT
/*
 * Sandbox tests: option parsing, the seccomp filter in each mode, the
 * capability drop (and credential switching after it), CAP_FSETID per
 * thread, and namespace/chroot/none entry with the supervisor.
 *
 * Everything that changes the process (filters, capabilities, namespaces)
 * runs in a forked child that reports through its exit status; checks in
 * children print what failed to stderr. Tests that need root, or user
 * namespaces, skip without them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* The sanitizer runtime needs ptrace, clone (LSan) and more: the filter allows them. */
#define SANITIZER 1
#else
#define SANITIZER 0
#endif

#define MARKER "vufs sandbox marker\n"
#define SKIP_CODE 77

/* In a child: report a failed check and return a distinct exit code. */
#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n",   \
				__FILE__, __LINE__, #cond, errno, strerror(errno));    \
			return 100 + (__LINE__ % 100);                                 \
		}                                                                      \
	} while (0)

static bool is_root(void)
{
	return geteuid() == 0;
}

/*
 * In a forked child: cmocka's handlers for SIGSEGV, SIGSYS and friends
 * would longjmp into the test runner and run the remaining tests there.
 */
static void child_init(void)
{
	static const int sigs[] = { SIGSEGV, SIGSYS, SIGBUS, SIGILL, SIGFPE, SIGABRT };

	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

/* Fork, run fn(arg) in the child, return the raw wait status. */
static int run_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_init();
		_exit(fn(arg));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exit_ok(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_CODE)
		skip();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child %s %d", WIFEXITED(status) ? "exited with" : "killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void assert_killed_by(int status, int sig)
{
	if (!WIFSIGNALED(status))
		fail_msg("child exited with %d, expected death by signal %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, sig);
	assert_int_equal(WTERMSIG(status), sig);
}

/* Value of a /proc/self/status field ("CapEff"), as text; "" if missing. */
static const char *status_field(const char *name, char *buf, size_t size)
{
	char line[256];
	size_t n = strlen(name);
	FILE *f = fopen("/proc/self/status", "re");

	buf[0] = '\0';
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, n) && line[n] == ':') {
			const char *v = line + n + 1;

			v += strspn(v, " \t");
			snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
			break;
		}
	}
	fclose(f);
	return buf;
}

static uint64_t status_hex(const char *name)
{
	char buf[64];

	return strtoull(status_field(name, buf, sizeof(buf)), NULL, 16);
}

static uint64_t thread_eff_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return ~0ull;
	return (uint64_t)data[1].effective << 32 | data[0].effective;
}

static char *make_share(void)
{
	char *dir = strdup("/tmp/vufs-sb-XXXXXX");
	char path[256];
	int fd;

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/marker", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, MARKER, strlen(MARKER)), (ssize_t)strlen(MARKER));
	close(fd);
	return dir;
}

static void remove_share(char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", dir);
	free(dir);
}

/* ---------------------------------------------------------------- parsing */

static void test_parse_modes(void **state)
{
	enum sb_mode m;
	enum sb_seccomp s;

	(void)state;
	assert_int_equal(sb_mode_parse("namespace", &m), 0);
	assert_int_equal(m, SB_NAMESPACE);
	assert_int_equal(sb_mode_parse("chroot", &m), 0);
	assert_int_equal(m, SB_CHROOT);
	assert_int_equal(sb_mode_parse("none", &m), 0);
	assert_int_equal(m, SB_NONE);
	assert_int_equal(sb_mode_parse("Namespace", &m), -EINVAL);
	assert_int_equal(sb_mode_parse("", &m), -EINVAL);
	assert_string_equal(sb_mode_name(SB_CHROOT), "chroot");
	assert_int_equal(sb_mode_default(true), SANITIZER ? SB_NONE : SB_NAMESPACE);
	assert_int_equal(sb_mode_default(false), SB_NONE);

	assert_int_equal(sb_seccomp_parse("kill", &s), 0);
	assert_int_equal(s, SB_SECCOMP_KILL);
	assert_int_equal(sb_seccomp_parse("trap", &s), 0);
	assert_int_equal(s, SB_SECCOMP_TRAP);
	assert_int_equal(sb_seccomp_parse("log", &s), 0);
	assert_int_equal(s, SB_SECCOMP_LOG);
	assert_int_equal(sb_seccomp_parse("none", &s), 0);
	assert_int_equal(s, SB_SECCOMP_NONE);
	assert_int_equal(sb_seccomp_parse("allow", &s), -EINVAL);
	assert_string_equal(sb_seccomp_name(SB_SECCOMP_LOG), "log");
}

static void test_parse_idmap(void **state)
{
	static const char *const bad[] = {
		"", ":", "::", "0:1:2", ":0:1:2", ":0:1:2:3:", ":0:1:0:", ":a:1:1:", ":0:1:1;",
		"a0a1a1a", ":0::1:", ":4294967296:0:1:", ":-1:0:1:",
	};
	struct sb_idmap m;

	(void)state;
	assert_int_equal(sb_idmap_parse(":0:1000:1:", &m), 0);
	assert_int_equal(m.inside, 0);
	assert_int_equal(m.outside, 1000);
	assert_int_equal(m.count, 1);
	/* Any non-alphanumeric separator, as in the Rust virtiofsd. */
	assert_int_equal(sb_idmap_parse("/1/100000/65536/", &m), 0);
	assert_int_equal(m.inside, 1);
	assert_int_equal(m.outside, 100000);
	assert_int_equal(m.count, 65536);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sb_idmap_parse(bad[i], &m) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_parse_modcaps(void **state)
{
	struct sb_modcaps mc;

	(void)state;
	assert_int_equal(sb_modcaps_parse(NULL, &mc), 0);
	assert_true(mc.add == 0 && mc.drop == 0);
	assert_int_equal(sb_modcaps_parse("", &mc), 0);
	assert_true(mc.add == 0 && mc.drop == 0);

	assert_int_equal(sb_modcaps_parse("+sys_admin", &mc), 0);
	assert_true(mc.add == 1ull << CAP_SYS_ADMIN && mc.drop == 0);
	assert_int_equal(sb_modcaps_parse("-mknod", &mc), 0);
	assert_true(mc.add == 0 && mc.drop == 1ull << CAP_MKNOD);
	/* Case, prefix, both separators. */
	assert_int_equal(sb_modcaps_parse("+CAP_SYS_ADMIN:-Cap_Mknod,+net_raw", &mc), 0);
	assert_true(mc.add == (1ull << CAP_SYS_ADMIN | 1ull << CAP_NET_RAW));
	assert_true(mc.drop == 1ull << CAP_MKNOD);
	/* The last word on a capability wins. */
	assert_int_equal(sb_modcaps_parse("+chown:-chown", &mc), 0);
	assert_true(mc.add == 0 && mc.drop == 1ull << CAP_CHOWN);

	log_init(LOG_LVL_OFF, false); /* the rejections below log */
	assert_int_equal(sb_modcaps_parse("sys_admin", &mc), -EINVAL);    /* no sign */
	assert_int_equal(sb_modcaps_parse("+nosuchcap", &mc), -EINVAL);
	assert_int_equal(sb_modcaps_parse("+", &mc), -EINVAL);
	assert_int_equal(sb_modcaps_parse("+cap_", &mc), -EINVAL);
	assert_int_equal(sb_modcaps_parse("+21", &mc), -EINVAL);          /* names only */
	assert_int_equal(sb_modcaps_parse("+chown:", &mc), -EINVAL);      /* empty item */
	assert_int_equal(sb_modcaps_parse("+chown::-mknod", &mc), -EINVAL);
	assert_int_equal(sb_modcaps_parse("+sys admin", &mc), -EINVAL);
	assert_int_equal(sb_modcaps_parse("*chown", &mc), -EINVAL);
	log_init(LOG_LVL_ERROR, false);
}

/* ---------------------------------------------------------------- seccomp */

static int seccomp_then_socket(void *arg)
{
	enum sb_seccomp action = (enum sb_seccomp)(intptr_t)arg;
	char buf[32];
	int fd;

	if (sb_seccomp_load(action))
		return 2;
	CHECK(!strcmp(status_field("Seccomp", buf, sizeof(buf)), "2"));
	CHECK(!strcmp(status_field("NoNewPrivs", buf, sizeof(buf)), "1"));
	fd = socket(AF_INET, SOCK_DGRAM, 0); /* not on the list */
	CHECK(fd >= 0);                      /* only reached in log mode */
	close(fd);
	return 0;
}

/* ptrace (allowed for LeakSanitizer in sanitizer builds), else bpf. */
static int seccomp_then_ptrace(void *arg)
{
	(void)arg;
	if (sb_seccomp_load(SB_SECCOMP_KILL))
		return 2;
	if (SANITIZER)
		syscall(SYS_bpf, -1L, 0L, 0L);
	else
		syscall(SYS_ptrace, -1L, 0L, 0L, 0L);
	return 0;
}

static void test_seccomp_kill(void **state)
{
	(void)state;
	assert_killed_by(run_child(seccomp_then_socket, (void *)(intptr_t)SB_SECCOMP_KILL),
			 SIGSYS);
	assert_killed_by(run_child(seccomp_then_ptrace, NULL), SIGSYS);
}

static void test_seccomp_log(void **state)
{
	(void)state;
	assert_exit_ok(run_child(seccomp_then_socket, (void *)(intptr_t)SB_SECCOMP_LOG));
}

static int seccomp_none(void *arg)
{
	char buf[32];

	(void)arg;
	CHECK(sb_seccomp_load(SB_SECCOMP_NONE) == 0);
	CHECK(!strcmp(status_field("Seccomp", buf, sizeof(buf)), "0"));
	return 0;
}

static void test_seccomp_none(void **state)
{
	(void)state;
	assert_exit_ok(run_child(seccomp_none, NULL));
}

/* Trap mode: SIGSYS, and the handler names the call on stderr. */
static void test_seccomp_trap(void **state)
{
	char out[512] = "", want[64];
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_init();
		dup2(pipefd[1], STDERR_FILENO);
		_exit(seccomp_then_socket((void *)(intptr_t)SB_SECCOMP_TRAP));
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_killed_by(status, SIGSYS);
	snprintf(want, sizeof(want), "system call %d ", (int)SYS_socket);
	if (!strstr(out, want))
		fail_msg("trap handler said '%s', expected '%s'", out, want);
}

static void *thread_fn(void *arg)
{
	/* What a queue thread does first: a private cwd/umask. */
	if (unshare(CLONE_FS) < 0)
		return NULL;
	return arg;
}

/* What the daemon does must keep working under the filter. */
static int seccomp_allowed(void *arg)
{
	char path[] = "/tmp/vufs-sb-allowed-XXXXXX";
	char buf[64];
	pthread_t t;
	void *ret = NULL;
	int fd;

	(void)arg;
	fd = mkstemp(path); /* before the filter: mkstemp may use getrandom etc. */
	CHECK(fd >= 0);
	if (sb_seccomp_load(SB_SECCOMP_KILL))
		return 2;
	CHECK(write(fd, "x", 1) == 1);
	CHECK(preadv(fd, &(struct iovec){ .iov_base = buf, .iov_len = 1 }, 1, 0) == 1);
	close(fd);
	fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	CHECK(unlinkat(AT_FDCWD, path, 0) == 0);
	/* Threads: clone3 says ENOSYS, glibc falls back to a filtered clone. */
	CHECK(pthread_create(&t, NULL, thread_fn, (void *)1) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK(ret == (void *)1);
	/* syslog reconnecting: refused, not fatal. */
	errno = 0;
	CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) < 0 && errno == EACCES);
	return 0;
}

static void test_seccomp_allows_daemon_calls(void **state)
{
	(void)state;
	assert_exit_ok(run_child(seccomp_allowed, NULL));
}

static int seccomp_forbidden(void *arg)
{
	int which = (int)(intptr_t)arg;

	if (sb_seccomp_load(SB_SECCOMP_KILL))
		return 2;
	switch (which) {
	case 0: /* a process, not a thread */
		if (fork() == 0)
			_exit(0);
		break;
	case 1: /* a new namespace */
		unshare(CLONE_NEWNS);
		break;
	case 2: /* executable memory */
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case 3:
		mprotect((void *)((uintptr_t)&which & ~(uintptr_t)4095), 4096,
			 PROT_READ | PROT_WRITE | PROT_EXEC);
		break;
	case 4:
		syscall(SYS_execve, "/bin/true", NULL, NULL);
		break;
	case 5: /* open_by_handle_at: the classic container escape */
		syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0);
		break;
	case 6:
		syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
		break;
	}
	return 0;
}

static void test_seccomp_forbidden(void **state)
{
	(void)state;
	/* (fork is allowed in sanitizer builds: LeakSanitizer clones a tracer.) */
	for (intptr_t i = SANITIZER ? 1 : 0; i <= 6; i++) {
		int status = run_child(seccomp_forbidden, (void *)i);

		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
			fail_msg("case %ld: child not killed by SIGSYS (status 0x%x)", (long)i,
				 status);
	}
}

/* With --inode-file-handles the two handle calls are allowed, and only then. */
static int seccomp_file_handles(void *arg)
{
	(void)arg;
	if (sb_seccomp_load_flags(SB_SECCOMP_KILL, SB_SECCOMP_FILE_HANDLES))
		return 2;
	CHECK(syscall(SYS_open_by_handle_at, -1, NULL, 0) < 0); /* EFAULT, EBADF...: not SIGSYS */
	CHECK(syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, AT_EMPTY_PATH) < 0);
	return 0;
}

static void test_seccomp_file_handles(void **state)
{
	(void)state;
	assert_exit_ok(run_child(seccomp_file_handles, NULL));
}

/* ----------------------------------------------------------- capabilities */

static int drop_caps_child(void *arg)
{
	const char *modcaps = arg;
	struct sb_modcaps mc;
	uint64_t want;
	char buf[64];

	if (sb_modcaps_parse(modcaps, &mc))
		return 3;
	want = (sb_default_caps() | mc.add) & ~mc.drop;
	if (sb_drop_caps(modcaps))
		return 2;
	CHECK(status_hex("CapEff") == want);
	CHECK(status_hex("CapPrm") == want);
	CHECK(status_hex("CapInh") == 0);
	CHECK(status_hex("CapBnd") == 0);
	CHECK(status_hex("CapAmb") == 0);
	CHECK(!strcmp(status_field("NoNewPrivs", buf, sizeof(buf)), "1"));
	CHECK(!strcmp(status_field("Groups", buf, sizeof(buf)), ""));
	return 0;
}

static void test_caps_default(void **state)
{
	(void)state;
	if (!is_root())
		skip();
	assert_exit_ok(run_child(drop_caps_child, NULL));
}

static void test_caps_modcaps(void **state)
{
	(void)state;
	if (!is_root())
		skip();
	assert_exit_ok(run_child(drop_caps_child, "+sys_admin:-mknod"));
	assert_exit_ok(run_child(drop_caps_child, "-CAP_SETFCAP,-fsetid"));
}

static int drop_caps_bad(void *arg)
{
	(void)arg;
	log_init(LOG_LVL_OFF, false);
	CHECK(sb_drop_caps("+no_such_cap") == -EINVAL);
	/* Nothing changed. */
	CHECK(status_hex("CapBnd") != 0);
	return 0;
}

static void test_caps_bad_modcaps(void **state)
{
	(void)state;
	if (!is_root())
		skip();
	assert_exit_ok(run_child(drop_caps_bad, NULL));
}

/* As pt_cred.c does it: effective ids of this thread only. */
static int become(uid_t uid, gid_t gid)
{
	if (syscall(SYS_setresgid, -1, gid, -1) < 0)
		return -errno;
	if (syscall(SYS_setresuid, -1, uid, -1) < 0)
		return -errno;
	return 0;
}

static int cred_switch_child(void *arg)
{
	const uint64_t keep = sb_default_caps();
	char path[] = "/tmp/vufs-sb-secret-XXXXXX";
	int fd;

	(void)arg;
	fd = mkstemp(path); /* 0600, owned by root */
	CHECK(fd >= 0);
	close(fd);
	CHECK(sb_drop_caps(NULL) == 0);
	CHECK(thread_eff_caps() == keep);
	/* Acting as a guest user: no capabilities, the host's permission checks. */
	CHECK(become(1000, 1000) == 0);
	CHECK(thread_eff_caps() == 0);
	errno = 0;
	CHECK(open(path, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	/* Back to the daemon: everything permitted is effective again. */
	CHECK(become(0, 0) == 0);
	CHECK(thread_eff_caps() == keep);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	return 0;
}

static void test_caps_cred_switch(void **state)
{
	(void)state;
	if (!is_root())
		skip();
	assert_exit_ok(run_child(cred_switch_child, NULL));
}

/* Mode of a file created in a setgid dir of a group the caller is not in. */
static int create_mode(const char *dir, const char *name, mode_t *out)
{
	char path[256];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 02755);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	*out = st.st_mode & 07777;
	return 0;
}

static int fsetid_child(void *arg)
{
	const uint64_t keep = sb_default_caps();
	const uint64_t fsetid = 1ull << CAP_FSETID;
	const char *dir = arg;
	mode_t mode;

	umask(0);
	CHECK(sb_drop_caps(NULL) == 0);
	sb_drop_fsetid();
	CHECK(thread_eff_caps() == (keep & ~fsetid));
	sb_drop_fsetid(); /* idempotent */
	CHECK(thread_eff_caps() == (keep & ~fsetid));
	sb_restore_fsetid();
	CHECK(thread_eff_caps() == keep);
	sb_restore_fsetid();
	CHECK(thread_eff_caps() == keep);

	/* Acting as a guest user: never raise anything, whatever the order. */
	CHECK(become(1000, 1000) == 0);
	sb_restore_fsetid();
	CHECK(thread_eff_caps() == 0);
	sb_drop_fsetid();
	CHECK(thread_eff_caps() == 0);
	CHECK(become(0, 0) == 0);
	CHECK(thread_eff_caps() == keep);
	/* fsuid alone switched: the file-system caps are gone, and stay gone. */
	sb_drop_fsetid();
	syscall(SYS_setfsuid, 1000);
	sb_restore_fsetid();
	CHECK(!(thread_eff_caps() & fsetid));
	syscall(SYS_setfsuid, 0);
	sb_restore_fsetid();
	CHECK(thread_eff_caps() == keep);

	/*
	 * CVE-2022-0358: euid 0 creating for a caller whose gid (1000) is not
	 * the setgid directory's group (2000). With CAP_FSETID the new file
	 * keeps S_ISGID; without it the kernel strips it.
	 */
	CHECK(syscall(SYS_setresgid, -1, 1000, -1) == 0);
	CHECK(create_mode(dir, "with-fsetid", &mode) == 0);
	CHECK(mode == 02755);
	sb_drop_fsetid();
	CHECK(create_mode(dir, "without-fsetid", &mode) == 0);
	CHECK(mode == 0755);
	sb_restore_fsetid();
	CHECK(syscall(SYS_setresgid, -1, 0, -1) == 0);
	return 0;
}

static void test_caps_fsetid(void **state)
{
	char *dir;

	(void)state;
	if (!is_root())
		skip();
	dir = make_share();
	assert_int_equal(chown(dir, 0, 2000), 0);
	assert_int_equal(chmod(dir, 02777), 0);
	assert_exit_ok(run_child(fsetid_child, dir));
	remove_share(dir);
}

/* ------------------------------------------------------------- namespaces */

struct ns_test {
	char *share;
	char sock[300];
	enum sb_mode mode;
	bool as_root;
	int ready_fd; /* the sandboxed process writes one byte when its checks passed */
	unsigned long rlimit;
};

static int check_root_is_share(int proc_fd)
{
	char buf[64], name[16];
	ssize_t n;
	int fd, rfd;

	/* The share is "/" now, the host's files are gone. */
	fd = open("/marker", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	CHECK(n == (ssize_t)strlen(MARKER) && !memcmp(buf, MARKER, (size_t)n));
	close(fd);
	errno = 0;
	CHECK(access("/etc/passwd", F_OK) < 0 && errno == ENOENT);
	errno = 0;
	CHECK(access("/proc/self", F_OK) < 0 && errno == ENOENT);
	errno = 0;
	CHECK(access("/../../etc/passwd", F_OK) < 0 && errno == ENOENT);
	/* Reopening an O_PATH fd by number through the proc fd, as pt_ops.c does. */
	fd = open("/marker", O_PATH | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(name, sizeof(name), "%d", fd);
	rfd = openat(proc_fd, name, O_RDONLY | O_CLOEXEC);
	CHECK(rfd >= 0);
	n = read(rfd, buf, sizeof(buf));
	CHECK(n == (ssize_t)strlen(MARKER) && !memcmp(buf, MARKER, (size_t)n));
	close(rfd);
	close(fd);
	return 0;
}

static int namespace_child(void *arg)
{
	struct ns_test *t = arg;
	struct sb_config cfg = {
		.mode = SB_NAMESPACE,
		.shared_dir = t->share,
		.is_root = t->as_root,
		.socket_path = t->sock,
	};
	struct sb_result res;
	struct if_nameindex *ifs;
	struct rlimit rl;
	sigset_t set;
	siginfo_t si;
	int err, fd, nifs = 0;

	if (!t->as_root) {
		/* An ordinary user: needs a user namespace to do any of this. */
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			return 3;
		/* setuid() made us non-dumpable, /proc/self root's: not so for a real user. */
		if (prctl(PR_SET_DUMPABLE, 1) < 0)
			return 3;
	}
	err = sb_enter(&cfg, &res);
	if (!t->as_root && (err == -EPERM || err == -ENOSPC || err == -EACCES))
		return SKIP_CODE; /* unprivileged user namespaces not allowed here */
	if (err)
		return 4;
	/* From here on, we are the sandboxed process. */
	CHECK(res.confined);
	CHECK(!strcmp(res.root_dir, "/"));
	CHECK(res.proc_self_fd >= 0);
	CHECK(getpid() == 1);
	if (!t->as_root)
		CHECK(geteuid() == 65534);
	err = check_root_is_share(res.proc_self_fd);
	if (err)
		return err;
	/* The proc fd sees only our PID namespace, and nothing but processes. */
	fd = openat(res.proc_self_fd, "../../1", O_PATH | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	errno = 0;
	CHECK(openat(res.proc_self_fd, "../../sys", O_PATH | O_CLOEXEC) < 0 && errno == ENOENT);
	errno = 0;
	CHECK(openat(res.proc_self_fd, "../../kcore", O_PATH | O_CLOEXEC) < 0 &&
	      errno == ENOENT);
	/* A network namespace with only the loopback device. */
	ifs = if_nameindex();
	CHECK(ifs != NULL);
	for (struct if_nameindex *i = ifs; i->if_index; i++, nifs++)
		CHECK(!strcmp(i->if_name, "lo"));
	if_freenameindex(ifs);
	CHECK(nifs == 1);
	/* RLIMIT_NOFILE raised to the hard limit. */
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == rl.rlim_max);
	/* The stop signals stay blocked (PID 1 would lose them otherwise). */
	CHECK(sigprocmask(SIG_BLOCK, NULL, &set) == 0);
	CHECK(sigismember(&set, SIGTERM) && sigismember(&set, SIGINT) &&
	      sigismember(&set, SIGHUP));
	/* Capabilities after the pivot (libcap-ng must not need /proc). */
	CHECK(sb_drop_caps(NULL) == 0);
	if (!t->as_root) {
		CHECK(thread_eff_caps() == 0);
		return 0;
	}
	CHECK(thread_eff_caps() == sb_default_caps());
	/* Tell the test we are ready, then serve until SIGTERM arrives. */
	CHECK(write(t->ready_fd, "R", 1) == 1);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	while (sigwaitinfo(&set, &si) < 0)
		CHECK(errno == EINTR);
	return 42;
}

static int make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Count /proc/PID/fd entries; -1 if unreadable. */
static int count_fds(pid_t pid)
{
	char cmd[128];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd 2>/dev/null | wc -l", (int)pid);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

static void test_namespace(void **state)
{
	struct ns_test t = { .mode = SB_NAMESPACE, .as_root = true };
	char path[128], link[256], byte;
	struct stat share_st, st;
	int pipefd[2], lfd, status, fds = -1;
	pid_t sup, child = 0;
	FILE *f;

	(void)state;
	if (!is_root())
		skip();
	t.share = make_share();
	assert_int_equal(stat(t.share, &share_st), 0);
	/* A listening socket outside the share, inherited like the daemon's. */
	snprintf(t.sock, sizeof(t.sock), "%s.sock", t.share);
	lfd = make_socket(t.sock);
	assert_true(lfd >= 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	t.ready_fd = pipefd[1];
	fflush(NULL);
	sup = fork();
	assert_true(sup >= 0);
	if (sup == 0) {
		child_init();
		close(pipefd[0]);
		_exit(namespace_child(&t));
	}
	close(pipefd[1]);
	close(lfd);
	if (read(pipefd[0], &byte, 1) != 1) {
		/* The sandboxed process failed a check: its status says which. */
		assert_int_equal(waitpid(sup, &status, 0), sup);
		fail_msg("sandboxed process failed: exit %d", WIFEXITED(status) ?
			 WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	close(pipefd[0]);

	/* The supervisor: original root and cwd, no fds but 0-2 and its pipe. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup, (int)sup);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)sup);
	memset(link, 0, sizeof(link));
	assert_true(readlink(path, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "/");
	for (int i = 0; i < 50; i++) {
		fds = count_fds(sup);
		if (fds <= 4)
			break;
		usleep(20000);
	}
	assert_true(fds >= 1 && fds <= 4); /* stdin/stdout/stderr (if open) and its pipe */
	/* The sandboxed process: its root is the share (same inode). */
	snprintf(path, sizeof(path), "/proc/%d/root", (int)child);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_dev == share_st.st_dev && st.st_ino == share_st.st_ino);

	/* SIGTERM to the supervisor reaches the server; its status comes back. */
	assert_int_equal(kill(sup, SIGTERM), 0);
	assert_int_equal(waitpid(sup, &status, 0), sup);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	/* The supervisor removed the socket it was told about. */
	assert_int_equal(access(t.sock, F_OK), -1);
	remove_share(t.share);
}

/* The supervisor reports a crash as 128 + signal. */
static int namespace_crash_child(void *arg)
{
	struct ns_test *t = arg;
	struct sb_config cfg = { .mode = SB_NAMESPACE, .shared_dir = t->share, .is_root = true };
	struct sb_result res;

	if (sb_enter(&cfg, &res))
		return 4;
	if (t->mode == SB_NAMESPACE) {
		/* A real fault kills even PID 1 (a signal it sent itself would not). */
		volatile int *volatile bad = NULL;

		*bad = 1;
	} else {
		if (sb_seccomp_load(SB_SECCOMP_KILL))
			return 2;
		syscall(SYS_keyctl, -1L, 0L, 0L, 0L, 0L);
	}
	return 0;
}

static void test_namespace_child_status(void **state)
{
	struct ns_test t = { .mode = SB_NAMESPACE };
	int status;

	(void)state;
	if (!is_root())
		skip();
	t.share = make_share();
	status = run_child(namespace_crash_child, &t);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 128 + SIGSEGV);
	t.mode = SB_NONE; /* (here: seccomp kill) */
	status = run_child(namespace_crash_child, &t);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 128 + SIGSYS);
	remove_share(t.share);
}

static void test_namespace_unprivileged(void **state)
{
	struct ns_test t = { .mode = SB_NAMESPACE, .as_root = false };
	int status;

	(void)state;
	if (!is_root())
		skip(); /* we need to be able to become nobody first */
	t.share = make_share();
	status = run_child(namespace_child, &t);
	remove_share(t.share);
	assert_exit_ok(status);
}

static int chroot_child(void *arg)
{
	struct ns_test *t = arg;
	struct sb_config cfg = { .mode = SB_CHROOT, .shared_dir = t->share, .is_root = true };
	struct sb_result res;
	pid_t pid = getpid();
	int err;

	if (sb_enter(&cfg, &res))
		return 4;
	CHECK(res.confined);
	CHECK(getpid() == pid); /* no fork in chroot mode */
	CHECK(!strcmp(res.root_dir, "/"));
	err = check_root_is_share(res.proc_self_fd);
	if (err)
		return err;
	return 0;
}

static void test_chroot(void **state)
{
	struct ns_test t = { .mode = SB_CHROOT };
	int status;

	(void)state;
	if (!is_root())
		skip();
	t.share = make_share();
	status = run_child(chroot_child, &t);
	remove_share(t.share);
	assert_exit_ok(status);
}

static int none_child(void *arg)
{
	struct ns_test *t = arg;
	struct sb_config cfg = { .mode = SB_NONE, .shared_dir = t->share,
				 .is_root = is_root(), .rlimit_nofile = t->rlimit };
	struct sb_result res;
	struct rlimit before, after;
	char path[256], buf[64], name[16];
	int fd, rfd;

	CHECK(getrlimit(RLIMIT_NOFILE, &before) == 0);
	if (!t->rlimit && before.rlim_max > 64) {
		/* Lower the soft limit so that the default has something to raise. */
		before.rlim_cur = 64;
		CHECK(setrlimit(RLIMIT_NOFILE, &before) == 0);
	}
	if (sb_enter(&cfg, &res))
		return 4;
	CHECK(!res.confined);
	CHECK(!strcmp(res.root_dir, t->share));
	snprintf(path, sizeof(path), "%s/marker", t->share);
	fd = open(path, O_PATH | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(name, sizeof(name), "%d", fd);
	rfd = openat(res.proc_self_fd, name, O_RDONLY | O_CLOEXEC);
	CHECK(rfd >= 0);
	CHECK(read(rfd, buf, sizeof(buf)) == (ssize_t)strlen(MARKER));
	CHECK(getrlimit(RLIMIT_NOFILE, &after) == 0);
	if (t->rlimit) {
		CHECK(after.rlim_cur == t->rlimit);
		CHECK(after.rlim_max == before.rlim_max);
	} else {
		CHECK(after.rlim_cur == before.rlim_max);
	}
	return 0;
}

static void test_none_and_rlimit(void **state)
{
	struct ns_test t = { .mode = SB_NONE };

	(void)state;
	t.share = make_share();
	assert_exit_ok(run_child(none_child, &t));
	t.rlimit = 100;
	assert_exit_ok(run_child(none_child, &t));
	remove_share(t.share);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_modes),
		cmocka_unit_test(test_parse_idmap),
		cmocka_unit_test(test_parse_modcaps),
		cmocka_unit_test(test_seccomp_kill),
		cmocka_unit_test(test_seccomp_trap),
		cmocka_unit_test(test_seccomp_log),
		cmocka_unit_test(test_seccomp_none),
		cmocka_unit_test(test_seccomp_allows_daemon_calls),
		cmocka_unit_test(test_seccomp_forbidden),
		cmocka_unit_test(test_seccomp_file_handles),
		cmocka_unit_test(test_caps_default),
		cmocka_unit_test(test_caps_modcaps),
		cmocka_unit_test(test_caps_bad_modcaps),
		cmocka_unit_test(test_caps_cred_switch),
		cmocka_unit_test(test_caps_fsetid),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_namespace_child_status),
		cmocka_unit_test(test_namespace_unprivileged),
		cmocka_unit_test(test_chroot),
		cmocka_unit_test(test_none_and_rlimit),
	};

	/* Only errors: the children's info lines would clutter the test log. */
	log_init(LOG_LVL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
