// SPDX-License-Identifier: MIT
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VUFSD_VERSION
#define VUFSD_VERSION "unknown"
#endif

enum {
	OPT_SOCKET_PATH = 256,
	OPT_FD,
	OPT_SHARED_DIR,
	OPT_LOG_LEVEL,
	OPT_SYSLOG,
	OPT_CACHE,
	OPT_NO_READDIRPLUS,
	OPT_ALLOW_DIRECT_IO,
	OPT_FD_LIMIT,
	OPT_PRINT_CAPS,
	OPT_XATTR,
	OPT_NO_XATTR,
	OPT_POSIX_LOCK,
	OPT_NO_POSIX_LOCK,
	OPT_KILLPRIV_V2,
	OPT_NO_KILLPRIV_V2,
	OPT_SANDBOX,
	OPT_SECCOMP,
	OPT_MODCAPS,
	OPT_RLIMIT_NOFILE,
	OPT_METRICS,
	OPT_WRITEBACK,
	OPT_NO_WRITEBACK,
};

static const struct option long_opts[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "no-readdirplus", no_argument, NULL, OPT_NO_READDIRPLUS },
	{ "allow-direct-io", no_argument, NULL, OPT_ALLOW_DIRECT_IO },
	{ "fd-limit", required_argument, NULL, OPT_FD_LIMIT },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "xattr", no_argument, NULL, OPT_XATTR },
	{ "no-xattr", no_argument, NULL, OPT_NO_XATTR },
	{ "posix-lock", no_argument, NULL, OPT_POSIX_LOCK },
	{ "no-posix-lock", no_argument, NULL, OPT_NO_POSIX_LOCK },
	{ "killpriv-v2", no_argument, NULL, OPT_KILLPRIV_V2 },
	{ "no-killpriv-v2", no_argument, NULL, OPT_NO_KILLPRIV_V2 },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "modcaps", required_argument, NULL, OPT_MODCAPS },
	{ "rlimit-nofile", required_argument, NULL, OPT_RLIMIT_NOFILE },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "writeback", no_argument, NULL, OPT_WRITEBACK },
	{ "no-writeback", no_argument, NULL, OPT_NO_WRITEBACK },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vufsd --socket-path=PATH|--fd=N --shared-dir=DIR [options]\n"
		"\n"
		"vhost-user virtio-fs device: serves DIR to a VM through the vhost-user\n"
		"socket that the VMM (QEMU vhost-user-fs-pci, cloud-hypervisor) connects to.\n"
		"\n"
		"Options:\n"
		"  --socket-path=PATH     listen on this UNIX socket\n"
		"  --fd=N                 use the already-listening socket on fd N\n"
		"  --shared-dir=DIR       directory to share with the guest\n"
		"  --cache=MODE           never|auto|metadata|always (default auto)\n"
		"  --writeback            let the guest cache writes (FUSE_WRITEBACK_CACHE)\n"
		"  --no-readdirplus       do not offer READDIRPLUS\n"
		"  --xattr                serve extended attributes (default off)\n"
		"  --no-posix-lock        keep POSIX/flock locks inside the guest\n"
		"                         (default: forwarded to the host)\n"
		"  --no-killpriv-v2       let the guest clear set-user/group-ID bits itself\n"
		"  --allow-direct-io      honour the guest's O_DIRECT on the host\n"
		"  --fd-limit=N           hold at most N inode and open-file fds for the guest\n"
		"                         (ENFILE beyond; default: RLIMIT_NOFILE minus 256)\n"
		"  --sandbox=MODE         namespace|chroot|none: confine the daemon to DIR\n"
		"                         (default namespace as root, else none)\n"
		"  --seccomp=ACTION       kill|trap|log|none: what a system call outside the\n"
		"                         allow-list does (default kill)\n"
		"  --modcaps=+CAP:-CAP    keep more (+) or fewer (-) capabilities than the default\n"
		"                         chown,dac_override,fowner,fsetid,setgid,setuid,mknod,setfcap\n"
		"  --rlimit-nofile=N      set RLIMIT_NOFILE to N (default: soft = hard limit)\n"
		"  --log-level=LEVEL      error|warn|info|debug|off (default info)\n"
		"  --syslog               log to syslog instead of stderr\n"
		"  --metrics=PATH         serve request metrics (Prometheus text) on the UNIX\n"
		"                         socket PATH (mode 0600); read them with vufs-metrics\n"
		"  --print-capabilities   print the vhost-user backend capabilities (JSON) and exit\n"
		"  -h, --help             this help\n"
		"  -V, --version          print the version\n");
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v > max || *s == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_cache(const char *s, enum fuse_cache_mode *out)
{
	if (!strcmp(s, "never") || !strcmp(s, "none"))
		*out = FUSE_CACHE_NEVER;
	else if (!strcmp(s, "auto"))
		*out = FUSE_CACHE_AUTO;
	else if (!strcmp(s, "metadata"))
		*out = FUSE_CACHE_METADATA;
	else if (!strcmp(s, "always"))
		*out = FUSE_CACHE_ALWAYS;
	else
		return -EINVAL;
	return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct vufs_config *cfg)
{
	unsigned long v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = -1;
	cfg->log_level = LOG_LVL_INFO;
	cfg->cache = FUSE_CACHE_AUTO;
	cfg->readdirplus = true;
	cfg->posix_locks = true;
	cfg->killpriv_v2 = true;
	cfg->sandbox = sb_mode_default(geteuid() == 0);
	cfg->seccomp = SB_SECCOMP_KILL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET_PATH:
			cfg->socket_path = optarg;
			break;
		case OPT_FD:
			if (parse_ulong(optarg, INT_MAX, &v) || v < 3) {
				fprintf(stderr, "vufsd: --fd needs a file descriptor >= 3\n");
				return CLI_ERROR;
			}
			cfg->fd = (int)v;
			break;
		case OPT_SHARED_DIR:
			cfg->shared_dir = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &cfg->log_level)) {
				fprintf(stderr, "vufsd: unknown log level '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_SYSLOG:
			cfg->syslog = true;
			break;
		case OPT_CACHE:
			if (parse_cache(optarg, &cfg->cache)) {
				fprintf(stderr, "vufsd: unknown cache mode '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_NO_READDIRPLUS:
			cfg->readdirplus = false;
			break;
		case OPT_ALLOW_DIRECT_IO:
			cfg->allow_direct_io = true;
			break;
		case OPT_FD_LIMIT:
			if (parse_ulong(optarg, ULONG_MAX, &cfg->max_fds) || !cfg->max_fds) {
				fprintf(stderr, "vufsd: bad --fd-limit '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_PRINT_CAPS:
			cfg->print_capabilities = true;
			break;
		case OPT_XATTR:
		case OPT_NO_XATTR:
			cfg->xattr = c == OPT_XATTR;
			break;
		case OPT_POSIX_LOCK:
		case OPT_NO_POSIX_LOCK:
			cfg->posix_locks = c == OPT_POSIX_LOCK;
			break;
		case OPT_KILLPRIV_V2:
		case OPT_NO_KILLPRIV_V2:
			cfg->killpriv_v2 = c == OPT_KILLPRIV_V2;
			break;
		case OPT_SANDBOX:
			if (sb_mode_parse(optarg, &cfg->sandbox)) {
				fprintf(stderr, "vufsd: unknown --sandbox '%s' (namespace|chroot|none)\n",
					optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_SECCOMP:
			if (sb_seccomp_parse(optarg, &cfg->seccomp)) {
				fprintf(stderr, "vufsd: unknown --seccomp '%s' (kill|trap|log|none)\n",
					optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_MODCAPS: {
			struct sb_modcaps mc;

			if (sb_modcaps_parse(optarg, &mc))
				return CLI_ERROR; /* already reported */
			cfg->modcaps = optarg;
			break;
		}
		case OPT_RLIMIT_NOFILE:
			if (parse_ulong(optarg, ULONG_MAX, &cfg->rlimit_nofile) || !cfg->rlimit_nofile) {
				fprintf(stderr, "vufsd: bad --rlimit-nofile '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_METRICS:
			cfg->metrics_path = optarg;
			break;
		case OPT_WRITEBACK:
		case OPT_NO_WRITEBACK:
			cfg->writeback = c == OPT_WRITEBACK;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT;
		case 'V':
			printf("vufsd %s\n", VUFSD_VERSION);
			return CLI_EXIT;
		default:
			usage(stderr);
			return CLI_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vufsd: unexpected argument '%s'\n", argv[optind]);
		return CLI_ERROR;
	}
	if (cfg->print_capabilities) {
		/* libvirt's vhost-user backend description (docs/interop/vhost-user.json). */
		printf("{\n  \"type\": \"fs\"\n}\n");
		return CLI_EXIT;
	}
	if (!cfg->socket_path == (cfg->fd < 0)) {
		fprintf(stderr, "vufsd: give exactly one of --socket-path and --fd\n");
		return CLI_ERROR;
	}
	if (!cfg->shared_dir) {
		fprintf(stderr, "vufsd: --shared-dir is required\n");
		return CLI_ERROR;
	}
	return CLI_RUN;
}
