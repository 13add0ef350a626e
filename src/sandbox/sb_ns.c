// SPDX-License-Identifier: MIT
/*
 * sb_enter: namespaces and pivot_root, or chroot; then RLIMIT_NOFILE.
 *
 * Namespace mode, step by step (the design of the Rust virtiofsd):
 *
 *   supervisor (original process)     | child (serves)
 *   ----------------------------------+-----------------------------------
 *   [non-root: unshare(NEWUSER) and   |
 *    map our uid/gid to themselves]   |
 *   unshare(NEWPID): applies to the   |
 *   next child only                   |
 *   block TERM/INT/HUP/CHLD, fork ----+-> PDEATHSIG=SIGKILL (and check the
 *   close all fds but 0-2, chdir /    |   supervisor did not die before)
 *   forward TERM/INT/HUP, reap child, |   unshare(NEWNS|NEWNET|NEWIPC|NEWUTS)
 *   unlink the socket, _exit(status)  |   mounts MS_SLAVE|MS_REC
 *                                     |   mount a new proc on /proc
 *                                     |   open /proc/self/fd (O_PATH)
 *                                     |   bind-mount the share on itself
 *                                     |   pivot_root(".", "."), detach old /
 *
 * The mount namespace is created by the child, not before the fork:
 * pivot_root() moves the root of every process of the mount namespace that
 * is at the old root, and the supervisor must stay outside the share.
 *
 * The new proc instance belongs to the new PID namespace (a proc mount
 * shows the PID namespace of the process that mounts it), so
 * /proc/self/fd is the child's own fd table, and with subset=pid it has
 * nothing but the process directories (no /proc/sys, no /proc/kcore).
 * Its mount is detached with the old root, but stays alive as long as the
 * fd is open; the guest never sees it, since it is not under the share.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "log.h"
#include "sandbox.h"
#include "sb_i.h"

/* Signals the supervisor passes on; the child gets them blocked (see sandbox.h). */
static const int forward_signals[] = { SIGTERM, SIGINT, SIGHUP };

static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/* Set by enter_userns: setgroups() is denied in our user namespace (sb_drop_caps skips it). */
bool sb_setgroups_denied;

/* One id onto our own: a process may write that map itself. Anything else needs new[ug]idmap. */
static bool map_is_own(const struct sb_idmap *m, unsigned n, uint32_t own)
{
	return n == 1 && m[0].outside == own && m[0].count == 1;
}

static bool map_has_inside(const struct sb_idmap *m, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++) {
		if (id - m[i].inside < m[i].count)
			return true;
	}
	return false;
}

static uint64_t map_total(const struct sb_idmap *m, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += m[i].count;
	return t;
}

/* Run newuidmap/newgidmap @prog for @pid with @m; 0 or -errno (its stderr is ours). */
static int run_idmap_tool(const char *prog, pid_t pid, const struct sb_idmap *m, unsigned n)
{
	char args[3 * SB_IDMAP_MAX + 1][16];
	char *argv[3 * SB_IDMAP_MAX + 3];
	unsigned k = 0;
	int status;
	pid_t child;

	if (n > SB_IDMAP_MAX)
		return -E2BIG;
	snprintf(args[k++], sizeof(args[0]), "%d", (int)pid);
	for (unsigned i = 0; i < n; i++) {
		snprintf(args[k++], sizeof(args[0]), "%u", m[i].inside);
		snprintf(args[k++], sizeof(args[0]), "%u", m[i].outside);
		snprintf(args[k++], sizeof(args[0]), "%u", m[i].count);
	}
	argv[0] = (char *)prog;
	for (unsigned i = 0; i < k; i++)
		argv[i + 1] = args[i];
	argv[k + 1] = NULL;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		execvp(prog, argv);
		log_err("sandbox: cannot run %s: %m (install Debian's uidmap package)", prog);
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		log_err("sandbox: %s failed (exit %d): are the ranges granted to this user in "
			"/etc/sub%cid?", prog, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			prog[3] == 'u' ? 'u' : 'g');
		return -EPERM;
	}
	return 0;
}

/* Write a one-id map of process @pid ("self" or a number) directly. */
static int write_own_map(const char *pid, const char *which, const struct sb_idmap *m)
{
	char path[64], map[64];

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, which);
	snprintf(map, sizeof(map), "%u %u 1\n", m->inside, m->outside);
	return write_file(path, map);
}

/*
 * The helper that maps us from outside: newuidmap must run in the parent
 * user namespace, on our pid, after our unshare(). Waits for one byte on
 * @go_fd, maps @pid, exits 0 or 1.
 */
static void __attribute__((noreturn))
map_helper(int go_fd, pid_t pid, const struct sb_idmap *um, unsigned nu, uid_t uid,
	   const struct sb_idmap *gm, unsigned ng, gid_t gid)
{
	char pidstr[16], c;
	int err;

	if (read(go_fd, &c, 1) != 1)
		_exit(1); /* the daemon gave up */
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	if (map_is_own(um, nu, uid))
		err = write_own_map(pidstr, "uid_map", um);
	else
		err = run_idmap_tool("newuidmap", pid, um, nu);
	if (!err && map_is_own(gm, ng, gid)) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		err = write_file(path, "deny");
		if (!err)
			err = write_own_map(pidstr, "gid_map", gm);
	} else if (!err) {
		err = run_idmap_tool("newgidmap", pid, gm, ng);
	}
	if (err)
		log_err("sandbox: cannot write the user namespace maps: %s", strerror(-err));
	_exit(err ? 1 : 0);
}

/*
 * Non-root namespace mode: a user namespace holding the capabilities to
 * mount and pivot_root. By default our own uid and gid map to themselves
 * (files we create are still ours on the host); --uid-map/--gid-map say
 * otherwise, e.g. :0:1000:1: makes the daemon root inside, still user
 * 1000 on the host, and :1:100000:65536: gives it a subordinate range to
 * act as other guest users.
 */
static int enter_userns(const struct sb_config *cfg, bool *one_uid)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct sb_idmap own_u = { uid, uid, 1 }, own_g = { gid, gid, 1 };
	const struct sb_idmap *um = cfg->n_uid_map ? cfg->uid_map : &own_u;
	const struct sb_idmap *gm = cfg->n_gid_map ? cfg->gid_map : &own_g;
	unsigned nu = cfg->n_uid_map ? cfg->n_uid_map : 1;
	unsigned ng = cfg->n_gid_map ? cfg->n_gid_map : 1;
	int go[2] = { -1, -1 }, status, err;
	pid_t helper = -1, self = getpid();

	if (!cfg->n_uid_map && !cfg->n_gid_map) {
		/* Our own ids only: we may write that ourselves. */
		if (unshare(CLONE_NEWUSER) < 0)
			goto fail_unshare;
		err = write_file("/proc/self/setgroups", "deny");
		if (!err)
			err = write_own_map("self", "uid_map", um);
		if (!err)
			err = write_own_map("self", "gid_map", gm);
		if (err) {
			log_err("sandbox: cannot map uid %u/gid %u into the user namespace: %s",
				(unsigned)uid, (unsigned)gid, strerror(-err));
			return err;
		}
		sb_setgroups_denied = true;
		*one_uid = true;
		return 0;
	}
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	helper = fork();
	if (helper < 0) {
		err = -errno;
		close(go[0]);
		close(go[1]);
		return err;
	}
	if (helper == 0) {
		close(go[1]);
		map_helper(go[0], self, um, nu, uid, gm, ng, gid);
	}
	close(go[0]);
	if (unshare(CLONE_NEWUSER) < 0) {
		close(go[1]); /* the helper reads EOF and exits */
		waitpid(helper, &status, 0);
		goto fail_unshare;
	}
	err = write(go[1], "m", 1) == 1 ? 0 : -EPIPE;
	close(go[1]);
	while (waitpid(helper, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 1 << 8;
			break;
		}
	}
	if (err || !WIFEXITED(status) || WEXITSTATUS(status)) {
		log_err("sandbox: the user namespace could not be mapped (--uid-map/--gid-map)");
		return err ? err : -EPERM;
	}
	sb_setgroups_denied = map_is_own(gm, ng, gid);
	*one_uid = map_total(um, nu) == 1;
	/* Become the namespace's root if it has one (the Rust virtiofsd does the same). */
	if (map_has_inside(gm, ng, 0) && syscall(SYS_setresgid, 0, 0, 0) < 0)
		log_warn("sandbox: cannot become gid 0 in the user namespace: %m");
	if (map_has_inside(um, nu, 0) && syscall(SYS_setresuid, 0, 0, 0) < 0)
		log_warn("sandbox: cannot become uid 0 in the user namespace: %m");
	log_info("sandbox: user namespace with %llu uids and %llu gids; daemon is uid %u, gid %u "
		 "inside", (unsigned long long)map_total(um, nu),
		 (unsigned long long)map_total(gm, ng), (unsigned)geteuid(), (unsigned)getegid());
	return 0;

fail_unshare:
	err = -errno;
	log_err("sandbox: cannot create a user namespace: %s (unprivileged user "
		"namespaces disabled? try --sandbox=none)", strerror(-err));
	return err;
}

/* Close every fd from 3 up except @keep (-1: none). */
static void close_fds_except(int keep)
{
	DIR *d;
	struct dirent *e;

	if (keep < 0 || keep == 3) {
		if (close_range(keep == 3 ? 4 : 3, ~0U, 0) == 0)
			return;
	} else if (close_range(3, (unsigned)keep - 1, 0) == 0 &&
		   close_range((unsigned)keep + 1, ~0U, 0) == 0) {
		return;
	}
	/* Kernels before 5.9: walk the fd table. */
	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != keep && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

static const char *signal_name(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "?";
}

/*
 * The original process after the fork: pass stop signals on, wait for the
 * child, exit with its status. Never returns. @set is blocked already.
 */
static void __attribute__((noreturn))
supervise(pid_t child, int alive_fd, const sigset_t *set, const char *socket_path,
	  const char *metrics_path)
{
	struct stat st;
	int status = 0, code;

	/* Hold nothing: the share, the socket and the inodes are the child's. */
	close_fds_except(alive_fd);
	if (chdir("/") < 0)
		log_warn("sandbox: supervisor cannot chdir to /: %m");
	for (;;) {
		siginfo_t si;
		pid_t r;
		int sig = sigwaitinfo(set, &si);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			log_err("sandbox: supervisor cannot wait for signals: %m; stopping");
			kill(child, SIGKILL);
			while (waitpid(child, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (sig != SIGCHLD) {
			log_debug("sandbox: passing SIG%s on to the daemon", signal_name(sig));
			if (kill(child, sig) < 0)
				log_warn("sandbox: cannot pass SIG%s on: %m", signal_name(sig));
			continue;
		}
		r = waitpid(child, &status, WNOHANG);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR) {
			log_err("sandbox: waitpid: %m");
			status = 1 << 8;
			break;
		}
	}
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status);
		if (code == 128 + SIGSYS)
			log_err("sandbox: daemon stopped by the seccomp filter (trap mode)");
		else
			log_debug("sandbox: daemon exited with status %d", code);
	} else if (WIFSIGNALED(status)) {
		code = 128 + WTERMSIG(status);
		log_err("sandbox: daemon killed by SIG%s%s", signal_name(WTERMSIG(status)),
			WTERMSIG(status) == SIGSYS ?
				" (a system call outside the seccomp allow-list; the audit log or "
				"dmesg names it, or run with --seccomp=trap)" :
				"");
	} else {
		code = 1;
	}
	/* Outside the sandbox, this path is still the socket we made. */
	if (socket_path && lstat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(socket_path) < 0)
		log_warn("sandbox: cannot remove %s: %m", socket_path);
	if (metrics_path && lstat(metrics_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(metrics_path) < 0)
		log_warn("sandbox: cannot remove %s: %m", metrics_path);
	_exit(code);
}

/*
 * In the child: die with the supervisor. PDEATHSIG covers its death from
 * now on; the pipe tells whether it already happened (getppid() is 0 for
 * a parent outside our PID namespace, so it cannot tell).
 */
static int watch_supervisor(int alive_rfd)
{
	struct pollfd pfd = { .fd = alive_rfd, .events = POLLIN };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (poll(&pfd, 1, 0) < 0)
		return -errno;
	if (pfd.revents & (POLLHUP | POLLIN))
		return -ESRCH;
	return 0;
}

/* Move into the share: new mount tree, fresh proc, pivot_root. Child only. */
static int ns_setup(const char *dir, int *proc_fd)
{
	struct statfs sfs;
	int fd = -1, err;
	const char *step;

	step = "unshare(mount, net, ipc, uts)";
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		goto fail;
	/* Our mounts must not reach the host; the host's unmounts still reach us. */
	step = "making the mounts slaves";
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		goto fail;
	step = "mounting proc";
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
		  "subset=pid") < 0) {
		/* subset=pid is Linux 5.8+; without it the proc fd reaches /proc/sys etc. */
		if (errno != EINVAL ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
			  NULL) < 0)
			goto fail;
		log_warn("sandbox: proc without subset=pid (old kernel)");
	}
	step = "opening /proc/self/fd";
	fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (fstatfs(fd, &sfs) < 0)
		goto fail;
	if (sfs.f_type != PROC_SUPER_MAGIC) {
		errno = EXDEV;
		goto fail;
	}
	/* pivot_root wants the new root to be a mount point. */
	step = "bind-mounting the shared dir";
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		goto fail;
	step = "entering the shared dir";
	if (chdir(dir) < 0)
		goto fail;
	/* Stack the old root on top of the new one, then detach it. */
	step = "pivot_root";
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		goto fail;
	step = "detaching the old root";
	if (umount2(".", MNT_DETACH) < 0)
		goto fail;
	step = "chdir /";
	if (chdir("/") < 0)
		goto fail;
	*proc_fd = fd;
	return 0;

fail:
	err = -errno;
	log_err("sandbox: %s (shared dir %s): %s", step, dir, strerror(-err));
	if (fd >= 0)
		close(fd);
	return err;
}

static int enter_namespace(const struct sb_config *cfg, struct sb_result *out)
{
	sigset_t set, old;
	int alive[2] = { -1, -1 };
	pid_t pid;
	int err;

	if (!cfg->is_root) {
		err = enter_userns(cfg, &out->one_uid);
		if (err)
			return err;
	}
	if (unshare(CLONE_NEWPID) < 0) {
		err = -errno;
		log_err("sandbox: cannot create a PID namespace: %s (no namespace rights here? "
			"try --sandbox=chroot or --sandbox=none)", strerror(-err));
		return err;
	}
	if (pipe2(alive, O_CLOEXEC) < 0) {
		err = -errno;
		log_err("sandbox: pipe: %s", strerror(-err));
		return err;
	}
	/* Blocked before the fork: no signal is lost in between. */
	sigemptyset(&set);
	for (unsigned i = 0; i < sizeof(forward_signals) / sizeof(forward_signals[0]); i++)
		sigaddset(&set, forward_signals[i]);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(NULL); /* or buffered output would be written twice */
	pid = fork();
	if (pid < 0) {
		err = -errno;
		log_err("sandbox: fork: %s", strerror(-err));
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(alive[0]);
		close(alive[1]);
		return err;
	}
	if (pid > 0) {
		close(alive[0]);
		supervise(pid, alive[1], &set, cfg->socket_path, cfg->metrics_path);
	}

	/* The child: PID 1 of the new namespace. */
	out->confined = true;
	close(alive[1]);
	err = watch_supervisor(alive[0]);
	close(alive[0]);
	if (err) {
		log_err("sandbox: supervisor gone before the daemon started");
		return err;
	}
	/* Keep the stop signals blocked: PID 1 would lose them otherwise. */
	for (unsigned i = 0; i < sizeof(forward_signals) / sizeof(forward_signals[0]); i++)
		sigaddset(&old, forward_signals[i]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	err = ns_setup(cfg->shared_dir, &out->proc_self_fd);
	if (err)
		return err;
	out->root_dir = "/";
	return 0;
}

static int open_proc_self_fd(int *out)
{
	int fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		int err = -errno;

		log_err("sandbox: cannot open /proc/self/fd: %s", strerror(-err));
		return err;
	}
	*out = fd;
	return 0;
}

static int enter_chroot(const struct sb_config *cfg, struct sb_result *out)
{
	int fd = -1, err;

	err = open_proc_self_fd(&fd);
	if (err)
		return err;
	if (chroot(cfg->shared_dir) == 0)
		out->confined = true;
	if (!out->confined || chdir("/") < 0) {
		err = -errno;
		log_err("sandbox: cannot chroot into %s: %s", cfg->shared_dir, strerror(-err));
		close(fd);
		return err;
	}
	out->root_dir = "/";
	out->proc_self_fd = fd;
	return 0;
}

static int set_nofile(unsigned long want)
{
	struct rlimit rl;
	int err;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (!want) {
		if (rl.rlim_cur == rl.rlim_max)
			return 0;
		rl.rlim_cur = rl.rlim_max;
	} else {
		rl.rlim_cur = want;
		if (rl.rlim_max < want)
			rl.rlim_max = want;
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		err = -errno;
		log_err("sandbox: cannot set RLIMIT_NOFILE to %llu (hard %llu): %s",
			(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
			strerror(-err));
		return err;
	}
	return 0;
}

int sb_enter(const struct sb_config *cfg, struct sb_result *out)
{
	struct rlimit rl;
	int err;

	out->root_dir = NULL;
	out->proc_self_fd = -1;
	out->confined = false;
	out->one_uid = false;
	if (!cfg->shared_dir)
		return -EINVAL;
	if ((cfg->n_uid_map || cfg->n_gid_map) && (cfg->is_root || cfg->mode != SB_NAMESPACE)) {
		log_err("sandbox: --uid-map/--gid-map are for an unprivileged user with "
			"--sandbox=namespace");
		return -EINVAL;
	}
	switch (cfg->mode) {
	case SB_NAMESPACE:
		err = enter_namespace(cfg, out);
		break;
	case SB_CHROOT:
		err = enter_chroot(cfg, out);
		break;
	case SB_NONE:
		err = open_proc_self_fd(&out->proc_self_fd);
		out->root_dir = cfg->shared_dir;
		break;
	default:
		return -EINVAL;
	}
	if (!err)
		err = set_nofile(cfg->rlimit_nofile);
	if (err) {
		if (out->proc_self_fd >= 0)
			close(out->proc_self_fd);
		out->proc_self_fd = -1;
		out->root_dir = NULL;
		return err;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	log_info("sandbox: %s, shared dir %s%s, up to %llu fds", sb_mode_name(cfg->mode),
		 cfg->shared_dir, cfg->mode == SB_NONE ? "" : " is now /",
		 (unsigned long long)rl.rlim_cur);
	return 0;
}
