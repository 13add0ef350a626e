/* SPDX-License-Identifier: MIT */
/*
 * Sandbox: confine the daemon before it reads anything a guest controls.
 *
 * A hostile guest talks to vufsd through FUSE requests. If a bug in the
 * daemon ever lets it run code or reach files it should not, these layers
 * limit what it can do on the host:
 *
 *  1. sb_enter(): see only the shared directory. Namespace mode (the
 *     default as root) moves the daemon into new mount, PID, network, IPC
 *     and UTS namespaces and pivot_root()s into the shared directory, so
 *     the host's file system, processes and network are not there to name.
 *     Chroot mode (no namespace rights, e.g. inside a container) only
 *     chroot()s. None does nothing but open /proc/self/fd.
 *  2. sb_drop_caps(): keep only the capabilities a file server needs
 *     (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID, MKNOD, SETFCAP,
 *     adjusted by --modcaps), clear the bounding, inheritable and ambient
 *     sets and the supplementary groups, and set no_new_privs.
 *  3. sb_seccomp_load(): allow only the system calls vufsd makes (a
 *     reviewed table in sb_seccomp.c); anything else kills the process
 *     (or traps, or is logged, per --seccomp).
 *
 * Startup order (main.c); every step returns 0 or a negative errno,
 * already logged:
 *
 *   cli_parse, log_init
 *   setup_signals()        block SIGTERM/SIGINT/SIGHUP, signalfd: must come
 *                          before sb_enter (see "Signals" below)
 *   vu_sock_listen()       or --fd: before sb_enter, the socket path is
 *                          normally outside the share and gone afterwards
 *   sb_enter(&cfg, &res)   forks in namespace mode: only the child returns;
 *                          sets RLIMIT_NOFILE, so anything derived from it
 *                          (the default --fd-limit) comes after
 *   sb_drop_caps()         before pt_fs_new, which remembers the daemon's
 *                          supplementary groups (none after this); nothing
 *                          later needs more than the kept capabilities
 *   pt_fs_new()            with root = res.root_dir and proc_self_fd =
 *                          res.proc_self_fd (pt_fs takes ownership); it must
 *                          never open "/proc/self/fd" by path after sb_enter:
 *                          that would resolve inside the share
 *   fuse_session_new()
 *   sb_seccomp_load()      last: before accept() and before any thread
 *   accept, serve ...      no unlink(socket_path) once res.confined
 *
 * All of it runs while the process is single-threaded: unshare(), fork(),
 * capset() and setgroups() act on the calling thread or need a single
 * thread.
 *
 * Signals: in namespace mode the serving process is PID 1 of its PID
 * namespace, and the kernel drops every signal sent to a namespace's init
 * whose disposition is SIG_DFL, unless it is blocked. sb_enter therefore
 * returns with SIGTERM, SIGINT and SIGHUP blocked; read them through a
 * signalfd (main.c's setup_signals does). The supervisor (the original
 * process) forwards SIGTERM, SIGINT and SIGHUP to the child, and exits with
 * the child's exit status, or 128 + signal if the child was killed (e.g.
 * 159 for a seccomp kill, SIGSYS; 139 for SIGSEGV). For the same reason
 * abort() in the child (SIGABRT sent to itself) is ignored and glibc then
 * ends the process with a fault: it shows as 139, not 134.
 *
 * Not thread-safe unless stated: call from main() before threads start.
 */
#ifndef VUFS_SANDBOX_H
#define VUFS_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

/* --sandbox=namespace|chroot|none */
enum sb_mode {
	SB_NAMESPACE, /* new mount/pid/net/ipc/uts namespaces + pivot_root */
	SB_CHROOT,    /* chroot into the shared dir (needs CAP_SYS_CHROOT) */
	SB_NONE,      /* no isolation */
};

/* --seccomp=kill|trap|log|none: what happens on a system call not allowed */
enum sb_seccomp {
	SB_SECCOMP_KILL, /* kill the process (SIGSYS); TRAP on kernels without KILL_PROCESS */
	SB_SECCOMP_TRAP, /* SIGSYS: a handler logs the call number, then the process dies */
	SB_SECCOMP_LOG,  /* allow, but the kernel logs it (audit, dmesg) */
	SB_SECCOMP_NONE, /* no filter */
};

/* Parse a --sandbox value. Returns 0 or -EINVAL. */
int sb_mode_parse(const char *s, enum sb_mode *out);
const char *sb_mode_name(enum sb_mode mode);
/*
 * The default --sandbox: namespace as root, none otherwise (like virtiofsd).
 * Sanitizer (ASan/TSan) builds default to none: LeakSanitizer's check at
 * exit reads /proc/self, which the sandbox takes away (it would abort). To
 * sandbox such a build, pass --sandbox and ASAN_OPTIONS=detect_leaks=0.
 */
enum sb_mode sb_mode_default(bool is_root);

/* Parse a --seccomp value. Returns 0 or -EINVAL. */
int sb_seccomp_parse(const char *s, enum sb_seccomp *out);
const char *sb_seccomp_name(enum sb_seccomp action);

/*
 * --modcaps=+cap:-cap:...: each item is '+' (keep in addition) or '-'
 * (drop from the default set) and a capability name, case-insensitive,
 * with or without the "cap_" prefix ("+sys_admin", "-CAP_MKNOD"). Items are
 * separated by ':' (',' is accepted too). Returns 0, or -EINVAL for an
 * empty item, a missing sign or an unknown name (logged with the item).
 */
struct sb_modcaps {
	uint64_t add;  /* bit n: capability n */
	uint64_t drop;
};
int sb_modcaps_parse(const char *s, struct sb_modcaps *out);

/*
 * --uid-map / --gid-map: one range of ids mapped into the user namespace
 * of an unprivileged namespace sandbox, written ":inside:outside:count:"
 * (the first and last character are the same non-alphanumeric separator,
 * as in the Rust virtiofsd). Returns 0 or -EINVAL.
 */
struct sb_idmap {
	uint32_t inside, outside, count;
};
#define SB_IDMAP_MAX 16 /* ranges per map */
int sb_idmap_parse(const char *s, struct sb_idmap *out);

/* The capabilities kept by default, as a bit mask (bit n: capability n). */
uint64_t sb_default_caps(void);

struct sb_config {
	enum sb_mode mode;
	const char *shared_dir; /* --shared-dir, as given */
	bool is_root;           /* euid 0: else namespace mode adds a user namespace */
	/*
	 * --rlimit-nofile: 0 raises the soft RLIMIT_NOFILE to the hard one
	 * (the default, like virtiofsd); N sets the soft limit to N and, if
	 * N is above it, the hard limit too (needs CAP_SYS_RESOURCE).
	 */
	unsigned long rlimit_nofile;
	/*
	 * Namespace mode: the listening socket's path (NULL for --fd). The
	 * supervisor, which stays outside the sandbox, unlinks it (if it is
	 * still a socket) once the daemon exits. The daemon itself must not
	 * unlink it by path after sb_enter: inside the sandbox that path
	 * names a file in the share.
	 */
	const char *socket_path;
	/*
	 * Non-root namespace mode: the user namespace's maps (--uid-map,
	 * --gid-map; none: our own uid/gid mapped to themselves). A map other
	 * than one id onto our own is written by newuidmap/newgidmap (Debian's
	 * uidmap package; the ranges must be granted in /etc/subuid and
	 * /etc/subgid). If inside id 0 is mapped, the daemon becomes it.
	 */
	const struct sb_idmap *uid_map, *gid_map;
	unsigned n_uid_map, n_gid_map;
	const char *metrics_path; /* --metrics socket: removed by the supervisor the same way */
};

struct sb_result {
	/* Where the share is now: "/" (namespace, chroot) or cfg->shared_dir (none). */
	const char *root_dir;
	/*
	 * O_PATH|O_DIRECTORY|O_CLOEXEC fd on /proc/self/fd of the serving
	 * process, opened before the old root went away; the caller owns it
	 * (pass it to pt_fs_new). In namespace mode it lives on a proc
	 * instance of the new PID namespace mounted with subset=pid: through
	 * it (even via "..") there is nothing but the daemon's own processes.
	 */
	int proc_self_fd;
	/*
	 * Set once this process has left the host's view (namespace mode: from
	 * the fork on; chroot: from the chroot on), even if sb_enter then
	 * fails: from then on, host paths such as the socket path must not be
	 * used (they would resolve inside the share), and in namespace mode
	 * the supervisor removes the socket. False if sb_enter failed before.
	 */
	bool confined;
	/* In a user namespace that maps a single uid: no other user to act as. */
	bool one_uid;
};

/*
 * Enter the sandbox described by @cfg, then set RLIMIT_NOFILE.
 *
 * Namespace mode forks: the original process becomes a supervisor that
 * never returns (it closes every fd but stdin/stdout/stderr and a pipe
 * whose other end tells the child it is alive, chdir()s to "/", forwards
 * stop signals, and _exit()s with the child's status), and the child returns
 * here as PID 1 of the new PID namespace, in new mount, network (only a
 * loopback device, down), IPC and UTS namespaces, with the shared dir as
 * its root and the host's mounts detached. It dies with SIGKILL if the
 * supervisor dies. As non-root (cfg->is_root false) a user namespace
 * mapping the caller's uid and gid to themselves is added.
 *
 * Must be called single-threaded, with no fd or memory map that should
 * not survive into the sandbox: every open fd is inherited (the listening
 * socket is meant to be).
 *
 * Returns 0 with @out filled, or a negative errno (logged): -EPERM when
 * the kernel or the container refuses namespaces or chroot (try
 * --sandbox=chroot or --sandbox=none).
 */
int sb_enter(const struct sb_config *cfg, struct sb_result *out);

/*
 * Drop privileges for good: keep only the default capabilities adjusted by
 * @modcaps (NULL or "" for none; syntax of sb_modcaps_parse) in the
 * permitted and effective sets; clear inheritable, ambient and bounding;
 * drop all supplementary groups (as root; CVE-2022-0358: a thread acting
 * as a guest user must not keep root's groups, or a file created in a
 * setgid directory of such a group keeps its setgid bit); set
 * no_new_privs. As non-root nothing is kept unless @modcaps adds it.
 *
 * Per-request credential switching (pt_cred.c) keeps working: it changes
 * only the effective uid/gid of one thread; real and saved uid stay 0, so
 * the kernel clears the effective capabilities while the euid is a guest's
 * and restores them from the permitted set when it is 0 again. That needs
 * SETUID/SETGID kept (they are) and SECBIT_NO_SETUID_FIXUP clear: this
 * function fails with -EPERM if that securebit is set, because then a
 * thread acting as a guest user would keep DAC_OVERRIDE and friends.
 *
 * Call once, single-threaded (capabilities are per thread; threads created
 * later inherit them). Returns 0 or a negative errno (logged).
 */
int sb_drop_caps(const char *modcaps);
/*
 * sb_drop_caps, keeping also the capabilities in @extra (bit n: capability
 * n) when the default set applies (as root), e.g. CAP_DAC_READ_SEARCH for
 * --inode-file-handles. --modcaps removals still win.
 */
int sb_drop_caps_keep(const char *modcaps, uint64_t extra);

/*
 * Install the seccomp allow-list with @action as the default action, on
 * every thread (TSYNC) and with no_new_privs. SB_SECCOMP_NONE loads
 * nothing and returns 0. Call last in the startup, before any thread
 * starts and before the frontend connects; nothing can loosen it later.
 * Returns 0 or a negative errno (logged).
 */
int sb_seccomp_load(enum sb_seccomp action);
/* sb_seccomp_load, with more calls allowed per @flags: */
#define SB_SECCOMP_FILE_HANDLES (1u << 0) /* name_to_handle_at, open_by_handle_at */
int sb_seccomp_load_flags(enum sb_seccomp action, unsigned flags);

/*
 * Drop / restore CAP_FSETID in the calling thread's effective set.
 *
 * Use around an operation the daemon performs as itself (euid 0) on behalf
 * of a guest user: creating a file when the credentials were not (fully)
 * switched, or a write/truncate that must clear the setuid/setgid bits
 * (FUSE_WRITE_KILL_SUIDGID, HANDLE_KILLPRIV_V2). With CAP_FSETID the
 * kernel keeps a setgid bit for a group the caller is not in and does not
 * clear setuid/setgid on write (CVE-2022-0358, CVE-2018-13405). While a
 * thread's euid is a guest's (pt_cred.c), the kernel has already cleared
 * all its effective capabilities (for an fsuid-only switch: the file-system
 * ones, FSETID among them), so both calls then change nothing.
 *
 * Why raw capset on this thread: capabilities are per thread, and the
 * other queue threads must keep theirs; libcap-ng keeps one process-wide
 * state that is not thread-safe and reads /proc to fill it. These run per
 * request, so they are cheap: no allocation, no lock, no libcap-ng; drop
 * is one capget plus one capset (none if FSETID is off); restore is one
 * capget, and only when
 * FSETID is actually missing, a setfsuid(-1) probe and one capset. The
 * kernel's capget returns the current effective and permitted sets, so
 * nothing needs caching but the daemon's fsuid (set by sb_drop_caps; 0
 * if it was never called).
 *
 * sb_restore_fsetid puts CAP_FSETID back only while the thread's fsuid is
 * the daemon's own (fsuid follows the euid of setresuid, or is set alone
 * by setfsuid): it never raises anything in a thread acting as a guest
 * user, whatever the call order. Thread-safe. Failures (impossible short
 * of a kernel bug) abort(): a thread with the wrong capabilities must not
 * serve on.
 */
void sb_drop_fsetid(void);
void sb_restore_fsetid(void);

#endif /* VUFS_SANDBOX_H */
