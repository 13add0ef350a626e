// SPDX-License-Identifier: MIT
/*
 * The seccomp allow-list: every system call the serving daemon makes
 * after startup, and nothing else.
 *
 * How the table was made and how to keep it right: read the code, and run
 * the daemon under `strace -f -qq -e trace=all` while it serves the test
 * front-end and a real guest (guest/run-guest.sh ... --script
 * guest/scripts/basic.sh), with --seccomp=log: a call missing here shows
 * up as an audit record "type=1326 ... syscall=N" in dmesg (name it with
 * `scmp_sys_resolver N`) or, with --seccomp=trap, as a log line naming the
 * number before the daemon dies. Add a call here, with the reason, in the
 * same change that starts using it.
 *
 * Some entries have an argument condition (see struct sb_rule); a call
 * that does not match it gets the default action like an unlisted one.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "sandbox.h"
#include "sb_i.h"

enum sb_cond {
	SB_ANY,       /* any arguments */
	SB_ARG_EQ,    /* args[arg] == value */
	SB_ARG_MASK,  /* (args[arg] & mask) == value */
};

struct sb_rule {
	const char *name; /* resolved per architecture by libseccomp */
	enum sb_cond cond;
	unsigned arg;
	uint64_t mask, value;
	int err; /* 0: allow; else fail with this errno instead of the default action */
};

#define ALLOW(n) { .name = #n, .cond = SB_ANY }
#define ALLOW_IF_EQ(n, a, v) { .name = #n, .cond = SB_ARG_EQ, .arg = (a), .value = (v) }
#define ALLOW_IF_MASK(n, a, m, v)                                                      \
	{ .name = #n, .cond = SB_ARG_MASK, .arg = (a), .mask = (m), .value = (v) }
#define FAIL(n, e) { .name = #n, .cond = SB_ANY, .err = (e) }
#define FAIL_IF_EQ(n, a, v, e)                                                         \
	{ .name = #n, .cond = SB_ARG_EQ, .arg = (a), .value = (v), .err = (e) }

/* clone() flags of a glibc pthread_create(); namespaces and fork are not threads. */
#define SB_THREAD_FLAGS                                                                \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)
#define SB_NEW_NS_FLAGS                                                                \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |    \
	 CLONE_NEWPID | CLONE_NEWNET)

static const struct sb_rule sb_rules[] = {
	/* --- memory (malloc, thread stacks, guest RAM) --- */
	ALLOW(brk),                 /* malloc: main arena */
	ALLOW_IF_MASK(mmap, 2, PROT_EXEC, 0),     /* malloc, stacks, guest RAM; never PROT_EXEC */
	ALLOW_IF_MASK(mprotect, 2, PROT_EXEC, 0), /* stack guards, arenas; never PROT_EXEC */
	ALLOW(munmap),              /* free, guest memory regions removed, thread stacks */
	ALLOW(mremap),              /* realloc of an mmap()ed block */
	ALLOW(madvise),             /* MADV_DONTDUMP on guest RAM; glibc frees stacks */

	/* --- threads (one per virtqueue) and their glibc plumbing --- */
	FAIL(clone3, ENOSYS),       /* flags in memory, unfilterable: glibc falls back to clone */
	/* pthread_create: threads only (no fork, no new namespace) */
	ALLOW_IF_MASK(clone, 0, SB_THREAD_FLAGS | SB_NEW_NS_FLAGS, SB_THREAD_FLAGS),
	ALLOW(futex),               /* mutexes, condition variables, pthread_join */
	ALLOW(set_robust_list),     /* every new thread (glibc) */
	ALLOW(rseq),                /* every new thread registers rseq (glibc >= 2.35) */
	ALLOW(exit),                /* a thread ends */
	ALLOW(exit_group),          /* the daemon ends */
	ALLOW(sched_getaffinity),   /* glibc: CPU count for malloc arenas */
	ALLOW(getrandom),           /* glibc malloc/tcache randomisation */
	ALLOW(sched_yield),         /* a polling queue thread lets a runnable vCPU go first */

	/* --- signals --- */
	ALLOW(rt_sigprocmask),      /* pthread_create masks signals around clone; abort() */
	ALLOW(rt_sigreturn),        /* end of a handler: lock wake-up SIGUSR1, SIGSYS trap */
	ALLOW(rt_sigaction),        /* fuse_lock's SIGUSR1 handler; abort(); SIGSYS trap */
	ALLOW(signalfd4),           /* the stop signals are read through a signalfd */
	ALLOW(tgkill),              /* pthread_kill wakes a lock waiter; abort(), raise() */
	ALLOW(getpid),              /* log line prefix; raise() */
	ALLOW(gettid),              /* raise(); the SIGSYS handler */
	ALLOW(restart_syscall),     /* the kernel resumes a poll/sleep interrupted by SIGSTOP */

	/* --- time --- */
	ALLOW(clock_gettime),       /* log timestamps, rate limits (vDSO; syscall fallback) */
	ALLOW(clock_nanosleep),     /* sleeps, back-off */
	ALLOW(nanosleep),           /* sleeps, older glibc */

	/* --- vhost-user socket, eventfds, event loops --- */
	ALLOW(accept4),             /* the frontend's connection */
	ALLOW(getsockopt),          /* SO_PEERCRED of a refused second frontend, for the log */
	ALLOW(recvfrom),            /* recv(): vhost-user message payloads */
	ALLOW(recvmsg),             /* vhost-user messages with their fds (SCM_RIGHTS) */
	ALLOW(sendmsg),             /* vhost-user replies and backend requests */
	ALLOW(sendto),              /* send(): syslog (--syslog) */
	FAIL_IF_EQ(socket, 0, AF_UNIX, EACCES), /* syslog reconnecting: fail, not kill */
	ALLOW(read),                /* eventfds (kick, wake), signalfd */
	ALLOW(write),               /* eventfds (call, err), log lines to stderr */
	ALLOW(eventfd2),            /* per-queue wake eventfd */
	ALLOW(poll),                /* event loops: control socket, kick fds */
	ALLOW(ppoll),               /* poll() on architectures without poll */
	ALLOW(epoll_create1),       /* event loops */
	ALLOW(epoll_ctl),           /* event loops */
	ALLOW(epoll_wait),          /* event loops */
	ALLOW(epoll_pwait),         /* event loops (glibc epoll_wait on some arches) */
	ALLOW(epoll_pwait2),        /* event loops with a timespec timeout */
	ALLOW(close),               /* every fd */
	ALLOW(dup),                 /* FLUSH: close a duplicate to drop POSIX locks */
	ALLOW(dup3),                /* dup2()/dup3() */
	ALLOW(fcntl),               /* flags, F_DUPFD_CLOEXEC, OFD locks (GETLK/SETLK(W)) */

	/* --- file system: lookup, attributes, directories --- */
	ALLOW(openat),              /* reopen an inode via /proc/self/fd, open under a dir fd */
	ALLOW(openat2),             /* RESOLVE_BENEATH lookups and creation */
	ALLOW(newfstatat),          /* fstat(), fstatat() */
	ALLOW(statx),               /* GETATTR, lookups: stat with the mount id */
	ALLOW(fstatfs),             /* STATFS (fstatvfs) */
	ALLOW(getdents64),          /* READDIR(PLUS) */
	ALLOW(lseek),               /* READDIR offsets, LSEEK */
	ALLOW(readlinkat),          /* READLINK */
	ALLOW(faccessat),           /* ACCESS */
	ALLOW(faccessat2),          /* ACCESS with AT_EACCESS (glibc >= 2.33) */

	/* --- file system: data --- */
	ALLOW(preadv),              /* READ into guest buffers */
	ALLOW(pwritev),             /* WRITE from guest buffers */
	ALLOW(preadv2),             /* READ with RWF_* flags */
	ALLOW(pwritev2),            /* WRITE with RWF_* flags (kill-priv, O_APPEND) */
	ALLOW(fsync),               /* FSYNC, FSYNCDIR */
	ALLOW(fdatasync),           /* FSYNC with datasync */
	ALLOW(syncfs),              /* SYNCFS */
	ALLOW(fallocate),           /* FALLOCATE */
	ALLOW(copy_file_range),     /* COPY_FILE_RANGE */
	ALLOW(ftruncate),           /* SETATTR size on an open file; DAX tail copies */
	ALLOW(memfd_create),        /* DAX: a copy of a file's last partial page (the VMM maps no more) */
	ALLOW(truncate),            /* SETATTR size through a /proc/self/fd path */
	ALLOW(flock),               /* SETLK with FUSE_LK_FLOCK */

	/* --- file system: changes --- */
	ALLOW(mknodat),             /* MKNOD (FIFOs, sockets, regular files) */
	ALLOW(mkdirat),             /* MKDIR */
	ALLOW(symlinkat),           /* SYMLINK */
	ALLOW(linkat),              /* LINK */
	ALLOW(unlinkat),            /* UNLINK, RMDIR */
	ALLOW(unlink),              /* main.c removes its socket (--sandbox=none only) */
	ALLOW(renameat),            /* RENAME (glibc renameat2 with no flags) */
	ALLOW(renameat2),           /* RENAME2 */
	ALLOW(fchownat),            /* SETATTR uid/gid */
	ALLOW(fchmod),              /* SETATTR mode on an open file */
	ALLOW(fchmodat),            /* SETATTR mode through /proc/self/fd */
	ALLOW(utimensat),           /* SETATTR times (futimens too) */
	ALLOW(fchdir),              /* pt_thread_init: cwd in /proc/self/fd for *xattr("N") */
	ALLOW(umask),               /* the guest's umask, per thread (after unshare(CLONE_FS)) */
	ALLOW(getxattr),            /* GETXATTR through /proc/self/fd */
	ALLOW(lgetxattr),           /* GETXATTR on symlinks */
	ALLOW(fgetxattr),           /* GETXATTR on an open file */
	ALLOW(setxattr),            /* SETXATTR */
	ALLOW(lsetxattr),           /* SETXATTR on symlinks */
	ALLOW(fsetxattr),           /* SETXATTR on an open file */
	ALLOW(listxattr),           /* LISTXATTR */
	ALLOW(llistxattr),          /* LISTXATTR on symlinks */
	ALLOW(flistxattr),          /* LISTXATTR on an open file */
	ALLOW(removexattr),         /* REMOVEXATTR */
	ALLOW(lremovexattr),        /* REMOVEXATTR on symlinks */
	ALLOW(fremovexattr),        /* REMOVEXATTR on an open file */

	/* --- acting as the guest's caller, per thread (pt_cred.c) --- */
	ALLOW(setresuid),           /* per-thread euid switch (raw syscall) */
	ALLOW(setresgid),           /* per-thread egid switch (raw syscall) */
	ALLOW(setfsuid),            /* fsuid switch; sb_restore_fsetid reads the fsuid */
	ALLOW(setfsgid),            /* fsgid switch */
	ALLOW(setgroups),           /* per-thread supplementary groups */
	ALLOW(capget),              /* sb_drop_fsetid / sb_restore_fsetid */
	ALLOW(capset),              /* sb_drop_fsetid / sb_restore_fsetid (this thread only) */
	ALLOW_IF_EQ(unshare, 0, CLONE_FS), /* per-thread cwd/umask; never a namespace */
};

#ifdef SB_SANITIZER
/*
 * Sanitizer builds only (never in a release binary): what the ASan/LSan
 * runtime does on its own; LeakSanitizer's exit check stops the world with
 * a ptrace()ing tracer, and error/leak reports read /proc/self/exe. Found
 * with --seccomp=log on an ASan build serving the integration tests and
 * printing a leak and an overflow report (see sandbox.h on why sanitizer
 * builds default to --sandbox=none).
 */
static const struct sb_rule sb_sanitizer_rules[] = {
	ALLOW(sigaltstack),         /* ASan: an alternate signal stack per thread */
	ALLOW(prctl),               /* LSan: PR_SET_PTRACER, PR_SET_PDEATHSIG, dumpable */
	ALLOW(clone),               /* LSan: its tracer task (CLONE_VM, not a thread) */
	ALLOW(ptrace),              /* LSan: stops the threads to scan their stacks */
	ALLOW(wait4),               /* LSan: waits for the tracer */
	ALLOW(getppid),             /* LSan tracer */
	ALLOW(open),                /* LSan tracer: /proc/self/task */
	ALLOW(getdents),            /* LSan tracer: lists the threads */
	ALLOW(readlink),            /* reports: /proc/self/exe for symbolizing */
	ALLOW(ioctl),               /* reports: isatty(stderr) for colours */
};
#endif

/* Trap mode: say which call it was, then die of SIGSYS as in kill mode. */
static void sigsys_handler(int sig, siginfo_t *si, void *uctx)
{
	static const char head[] = "vufsd: seccomp: system call ";
	static const char tail[] = " is not on the allow-list (scmp_sys_resolver names it)\n";
	char num[16], line[sizeof(head) + sizeof(num) + sizeof(tail)];
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	unsigned n = si->si_syscall < 0 ? 0 : (unsigned)si->si_syscall;
	size_t len = 0, nlen = 0;

	(void)sig;
	(void)uctx;
	do {
		num[nlen++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && nlen < sizeof(num));
	memcpy(line, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	while (nlen)
		line[len++] = num[--nlen];
	memcpy(line + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nothing to do */
	}
	/*
	 * PID 1 of a PID namespace (namespace mode) ignores a default-action
	 * signal it sends itself: exit with the status a shell would show.
	 */
	if (getpid() == 1)
		_exit(128 + SIGSYS);
	/* SIGSYS is blocked in here: it is delivered, with the default action, on return. */
	sigaction(SIGSYS, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
}

static int add_rule(scmp_filter_ctx ctx, const struct sb_rule *r)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	int nr = seccomp_syscall_resolve_name(r->name);
	int err;

	if (nr == __NR_SCMP_ERROR) {
		/* Unknown to this libseccomp: it cannot be used by anything we link either. */
		log_debug("seccomp: %s unknown to libseccomp, not listed", r->name);
		return 0;
	}
	switch (r->cond) {
	case SB_ARG_EQ:
		err = seccomp_rule_add(ctx, action, nr, 1,
				       SCMP_CMP(r->arg, SCMP_CMP_EQ, r->value, 0));
		break;
	case SB_ARG_MASK:
		err = seccomp_rule_add(ctx, action, nr, 1,
				       SCMP_CMP(r->arg, SCMP_CMP_MASKED_EQ, r->mask, r->value));
		break;
	default:
		err = seccomp_rule_add(ctx, action, nr, 0);
		break;
	}
	/* -EEXIST: listed twice (read); harmless. */
	if (err && err != -EEXIST) {
		log_err("seccomp: cannot add %s: %s", r->name, strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Only with --inode-file-handles (SB_SECCOMP_FILE_HANDLES): open_by_handle_at
 * is the classic container escape, so a daemon that does not use it must
 * not be able to make it.
 */
static const struct sb_rule sb_fhandle_rules[] = {
	ALLOW(name_to_handle_at),   /* an inode's handle, made from an fd we opened */
	ALLOW(open_by_handle_at),   /* reopen an inode by the handle we made */
};

static int add_rules(scmp_filter_ctx ctx, const struct sb_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = add_rule(ctx, &rules[i]);

		if (err)
			return err;
	}
	return 0;
}

static int install_trap_handler(void)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		int err = -errno;

		log_err("seccomp: cannot install the SIGSYS handler: %s", strerror(-err));
		return err;
	}
	return 0;
}

int sb_seccomp_load(enum sb_seccomp action)
{
	return sb_seccomp_load_flags(action, 0);
}

int sb_seccomp_load_flags(enum sb_seccomp action, unsigned flags)
{
	unsigned api = seccomp_api_get();
	scmp_filter_ctx ctx;
	uint32_t def;
	int err;

	switch (action) {
	case SB_SECCOMP_NONE:
		log_warn("seccomp: no system call filter (--seccomp=none)");
		return 0;
	case SB_SECCOMP_KILL:
		if (api >= 3) {
			def = SCMP_ACT_KILL_PROCESS;
			break;
		}
		log_warn("seccomp: this kernel cannot kill the whole process: trapping instead");
		/* fall through */
	case SB_SECCOMP_TRAP:
		def = SCMP_ACT_TRAP;
		err = install_trap_handler();
		if (err)
			return err;
		break;
	case SB_SECCOMP_LOG:
		if (api < 3) {
			log_err("seccomp: this kernel or libseccomp (API level %u) cannot log",
				api);
			return -EOPNOTSUPP;
		}
		def = SCMP_ACT_LOG;
		break;
	default:
		return -EINVAL;
	}

	ctx = seccomp_init(def);
	if (!ctx) {
		log_err("seccomp: cannot create a filter");
		return -ENOMEM;
	}
	/* The filter applies to every thread, present or future. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (err) {
		log_err("seccomp: cannot set filter attributes: %s", strerror(-err));
		goto out;
	}
	err = add_rules(ctx, sb_rules, sizeof(sb_rules) / sizeof(sb_rules[0]));
	if (!err && (flags & SB_SECCOMP_FILE_HANDLES))
		err = add_rules(ctx, sb_fhandle_rules,
				sizeof(sb_fhandle_rules) / sizeof(sb_fhandle_rules[0]));
#ifdef SB_SANITIZER
	if (!err)
		err = add_rules(ctx, sb_sanitizer_rules,
				sizeof(sb_sanitizer_rules) / sizeof(sb_sanitizer_rules[0]));
#endif
	if (err)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_err("seccomp: cannot set no_new_privs: %s", strerror(-err));
		goto out;
	}
	err = seccomp_load(ctx);
	if (err) {
		log_err("seccomp: cannot load the filter: %s", strerror(-err));
		goto out;
	}
	log_info("seccomp: filter loaded (%zu rules), any other system call: %s",
		 sizeof(sb_rules) / sizeof(sb_rules[0]),
		 def == SCMP_ACT_KILL_PROCESS ? "kill" : def == SCMP_ACT_TRAP ? "trap" : "log");
out:
	seccomp_release(ctx);
	return err;
}
