/* SPDX-License-Identifier: MIT */
/*
 * Command line: the options of the Rust virtiofsd 1.13 with the same
 * spelling and meaning (plus a few of our own), including its deprecated
 * "-o" forms that libvirt uses, parsed into an immutable configuration.
 * The option table is src/cli_opts.def; --help and vufsd(1) come from it.
 */
#ifndef VUFS_CLI_H
#define VUFS_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "fuse_session.h"
#include "log.h"
#include "migr_fs.h"
#include "pt_fhandle.h"
#include "pt_idmap.h"
#include "pt.h"
#include "sandbox.h"

struct vufs_config {
	const char *socket_path; /* --socket-path (or --socket) */
	const char *socket_group; /* --socket-group, NULL = keep the socket 0600 */
	unsigned socket_gid;      /* its gid, resolved by cli_parse */
	int fd;                  /* --fd: an already-listening socket, -1 if none */
	const char *shared_dir;  /* --shared-dir or -o source= */
	enum log_level log_level;
	bool syslog;
	enum fuse_cache_mode cache;
	int timeout_s;    /* -o timeout=: entry/attr timeout in seconds, -1 = from the cache policy */
	bool readdirplus;
	bool allow_direct_io;
	bool allow_mmap;  /* --allow-mmap: FUSE_DIRECT_IO_ALLOW_MMAP */
	bool readonly;    /* --readonly: EROFS for every modifying request */
	bool preserve_noatime; /* --preserve-noatime: keep the guest's O_NOATIME */
	bool xattr;       /* --xattr (also implied by --posix-acl, --security-label, --xattrmap) */
	bool posix_locks; /* --posix-lock (default) / --no-posix-lock / -o [no_]posix_lock */
	bool flock_locks; /* -o [no_]flock (default on); --[no-]posix-lock sets both */
	enum pt_devnodes device_nodes; /* --device-nodes, default mapped */
	bool killpriv_v2; /* --killpriv-v2 (default) / --no-killpriv-v2 */
	unsigned long max_fds;    /* --fd-limit, 0 = derived from RLIMIT_NOFILE */
	bool print_capabilities;
	enum sb_mode sandbox;         /* --sandbox, default: sb_mode_default(euid == 0) */
	enum sb_seccomp seccomp;      /* --seccomp, default kill */
	const char *modcaps;          /* --modcaps, NULL = none (checked by cli_parse) */
	unsigned long rlimit_nofile;  /* --rlimit-nofile, 0 = raise soft to hard */
	enum pt_fh_mode inode_file_handles; /* --inode-file-handles, default never */
	bool announce_submounts;      /* --announce-submounts (default) / --no-announce-submounts */
	struct sb_idmap uid_map[SB_IDMAP_MAX]; /* --uid-map (repeatable): the user namespace's */
	struct sb_idmap gid_map[SB_IDMAP_MAX]; /* --gid-map (repeatable) */
	unsigned n_uid_map, n_gid_map;
	struct pt_idmap translate_uid; /* --translate-uid (repeatable): done by the daemon */
	struct pt_idmap translate_gid; /* --translate-gid (repeatable) */
	struct migr_conf migration;    /* --migration-* (live migration, src/migr/migr_fs.h) */
	bool rlimit_keep;             /* --rlimit-nofile=0: leave the limit as it is */

	/* Parsed here, implemented elsewhere (see cli_parse's "not supported yet" checks). */
	int thread_pool_size;   /* --thread-pool-size: workers per request queue, 0 (default, as the Rust virtiofsd): inline */
	bool writeback;         /* --writeback / -o writeback */
	bool posix_acl;             /* --posix-acl / -o posix_acl (implies xattr) */
	bool security_label;        /* --security-label / -o security_label (implies xattr) */
	const char *xattrmap;       /* --xattrmap / -o xattrmap= (implies xattr), NULL = none */

	/*
	 * Deprecation and no-effect warnings met while parsing ("-o is
	 * deprecated", "-f has no effect"): the log is set up from the result,
	 * so main() logs these once it is.
	 */
	char warnings[8][192];
	unsigned nwarnings;
	const char *tag;              /* --tag: config space tag (GET_CONFIG), NULL = none */
	uint64_t dax_window;          /* --dax-window: DAX cache window bytes, 0 = no DAX */
	uint64_t dax_min_size;        /* --dax-min-size: dax=inode maps files this large */
	unsigned long poll_max_us;      /* --poll-max-us: adaptive ring polling bound, 0 = off */
	const char *metrics_path;     /* --metrics: UNIX socket serving request metrics */
};

enum cli_result {
	CLI_RUN,   /* configuration complete: run the daemon */
	CLI_EXIT,  /* --help/--version/--print-capabilities done: exit 0 */
	CLI_ERROR, /* bad usage, already reported: exit 1 */
};

enum cli_result cli_parse(int argc, char **argv, struct vufs_config *cfg);

/* --help text, from the option table. */
void cli_usage(FILE *f);

#endif /* VUFS_CLI_H */
