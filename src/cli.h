/* SPDX-License-Identifier: MIT */
/*
 * Command line: options compatible with the Rust virtiofsd where they
 * overlap, parsed into an immutable configuration.
 */
#ifndef VUFS_CLI_H
#define VUFS_CLI_H

#include <stdbool.h>

#include "fuse_session.h"
#include "log.h"
#include "sandbox.h"

struct vufs_config {
	const char *socket_path; /* --socket-path */
	int fd;                  /* --fd: an already-listening socket, -1 if none */
	const char *shared_dir;  /* --shared-dir */
	enum log_level log_level;
	bool syslog;
	enum fuse_cache_mode cache;
	bool readdirplus;
	bool allow_direct_io;
	bool xattr;       /* --xattr */
	bool posix_locks; /* --posix-lock (default) / --no-posix-lock */
	bool killpriv_v2; /* --killpriv-v2 (default) / --no-killpriv-v2 */
	unsigned long max_fds;    /* --fd-limit, 0 = derived from RLIMIT_NOFILE */
	bool print_capabilities;
	enum sb_mode sandbox;         /* --sandbox, default: sb_mode_default(euid == 0) */
	enum sb_seccomp seccomp;      /* --seccomp, default kill */
	const char *modcaps;          /* --modcaps, NULL = none (checked by cli_parse) */
	unsigned long rlimit_nofile;  /* --rlimit-nofile, 0 = raise soft to hard */
	const char *metrics_path;     /* --metrics: UNIX socket serving request metrics */
	bool writeback;               /* --writeback: FUSE_WRITEBACK_CACHE */
};

enum cli_result {
	CLI_RUN,   /* configuration complete: run the daemon */
	CLI_EXIT,  /* --help/--version/--print-capabilities done: exit 0 */
	CLI_ERROR, /* bad usage, already reported: exit 1 */
};

enum cli_result cli_parse(int argc, char **argv, struct vufs_config *cfg);

#endif /* VUFS_CLI_H */
