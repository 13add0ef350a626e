// SPDX-License-Identifier: MIT
#include "cli.h"

#include "pt_xattrmap.h"
#include "vu_poll.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef VUFSD_VERSION
#define VUFSD_VERSION "unknown"
#endif

enum {
	OPT_FIRST_ = 256,
#define VUFS_OPT(id, lng, shrt, arg, meta, help, rust) OPT_##id,
#include "cli_opts.def"
	OPT_END_,
};

struct cli_opt {
	int id;
	const char *lng;
	char shrt;
	int arg;
	const char *meta;
	const char *help;
};

static const struct cli_opt opts[] = {
#define VUFS_OPT(id, lng, shrt, arg, meta, help, rust) { OPT_##id, lng, shrt, arg, meta, help },
#include "cli_opts.def"
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

enum {
#define VUFS_COMPAT(id, word, value, help) id,
#include "cli_opts.def"
	C_END_,
};

struct cli_compat {
	int id;
	const char *word;
	bool value;
	const char *help;
};

static const struct cli_compat compat[] = {
#define VUFS_COMPAT(id, word, value, help) { id, word, value, help },
#include "cli_opts.def"
};

/* Print @text wrapped to @width columns, every line indented by @indent. */
static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
	const char *p = text;

	while (*p) {
		int room = width - indent, len = 0, brk = -1;

		while (p[len] && len < room) {
			if (p[len] == ' ')
				brk = len;
			len++;
		}
		if (p[len] && brk > 0)
			len = brk;
		fprintf(f, "%*s%.*s\n", indent, "", len, p);
		p += len;
		while (*p == ' ')
			p++;
	}
}

void cli_usage(FILE *f)
{
	fprintf(f,
		"Usage: vufsd --shared-dir=DIR --socket-path=PATH|--fd=FD [OPTIONS]\n"
		"\n"
		"vhost-user virtio-fs device: serves DIR to a virtual machine through the\n"
		"vhost-user socket that the VMM (QEMU vhost-user-fs-pci, libvirt's\n"
		"<filesystem><driver type='virtiofs'/>) connects to. Accepts the options of\n"
		"the Rust virtiofsd with the same meaning. See vufsd(1).\n"
		"\n"
		"Options:\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct cli_opt *o = &opts[i];
		char head[96];
		int n;

		if (o->shrt && o->lng)
			n = snprintf(head, sizeof(head), "  -%c, --%s", o->shrt, o->lng);
		else if (o->shrt)
			n = snprintf(head, sizeof(head), "  -%c", o->shrt);
		else
			n = snprintf(head, sizeof(head), "      --%s", o->lng);
		if (o->meta)
			snprintf(head + n, sizeof(head) - (size_t)n, "%s%s", o->lng ? "=" : " ",
				 o->meta);
		fprintf(f, "%s\n", head);
		print_wrapped(f, o->help, 10, 80);
	}
	fprintf(f, "\nCompatibility options (-o WORD,WORD=VALUE,...) [deprecated]:\n");
	for (size_t i = 0; i < sizeof(compat) / sizeof(compat[0]); i++) {
		fprintf(f, "      %s%s\n", compat[i].word, compat[i].value ? "=VALUE" : "");
		print_wrapped(f, compat[i].help, 10, 80);
	}
}

static void warn_cfg(struct vufs_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void warn_cfg(struct vufs_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (cfg->nwarnings >= sizeof(cfg->warnings) / sizeof(cfg->warnings[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(cfg->warnings[cfg->nwarnings++], sizeof(cfg->warnings[0]), fmt, ap);
	va_end(ap);
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

/* A byte count with an optional K, M, G or T suffix (binary). */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Largest DAX window: what x86-64 guests can place in their physical address space with room. */
#define DAX_WINDOW_MAX (1ull << 40)
#define DAX_WINDOW_MIN (2ull << 20)

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

/* --xattrmap / -o xattrmap=: the rules are parsed once here so that a bad rule stops the start. */
static int check_xattrmap(const char *rules)
{
	struct pt_xattrmap *m;
	char why[128];

	if (pt_xattrmap_parse(rules, &m, why, sizeof(why))) {
		fprintf(stderr, "vufsd: bad --xattrmap: %s\n", why);
		return -EINVAL;
	}
	pt_xattrmap_free(m);
	return 0;
}

/* One word of "-o": @val is NULL for a plain word. */
static int parse_compat_word(struct vufs_config *cfg, const char *word, const char *val)
{
	const struct cli_compat *c = NULL;
	unsigned long v;

	for (size_t i = 0; i < sizeof(compat) / sizeof(compat[0]); i++) {
		if (!strcmp(compat[i].word, word)) {
			c = &compat[i];
			break;
		}
	}
	if (!c) {
		fprintf(stderr, "vufsd: invalid compat argument '-o %s'\n", word);
		return -EINVAL;
	}
	if (c->value != (val != NULL)) {
		fprintf(stderr, c->value ? "vufsd: '-o %s' needs a value (%s=VALUE)\n"
					 : "vufsd: '-o %s' takes no value\n",
			word, word);
		return -EINVAL;
	}
	switch (c->id) {
	case C_SOURCE:
		cfg->shared_dir = val;
		break;
	case C_CACHE:
		if (parse_cache(val, &cfg->cache))
			goto bad_value;
		break;
	case C_SANDBOX:
		if (sb_mode_parse(val, &cfg->sandbox))
			goto bad_value;
		break;
	case C_LOGLEVEL:
	case C_LOG_LEVEL:
		if (!strcmp(val, "err"))
			cfg->log_level = LOG_LVL_ERROR;
		else if (log_level_parse(val, &cfg->log_level))
			goto bad_value;
		break;
	case C_MODCAPS: {
		struct sb_modcaps mc;

		if (sb_modcaps_parse(val, &mc))
			return -EINVAL; /* already reported */
		cfg->modcaps = val;
		break;
	}
	case C_XATTRMAP:
		if (check_xattrmap(val))
			return -EINVAL;
		cfg->xattrmap = val;
		break;
	case C_TIMEOUT:
		if (parse_ulong(val, INT_MAX, &v))
			goto bad_value;
		cfg->timeout_s = (int)v;
		break;
	case C_XATTR:
	case C_NO_XATTR:
		cfg->xattr = c->id == C_XATTR;
		break;
	case C_FLOCK:
	case C_NO_FLOCK:
		cfg->flock_locks = c->id == C_FLOCK;
		break;
	case C_POSIX_LOCK:
	case C_NO_POSIX_LOCK:
		cfg->posix_locks = c->id == C_POSIX_LOCK;
		break;
	case C_READDIRPLUS:
	case C_NO_READDIRPLUS:
		cfg->readdirplus = c->id == C_READDIRPLUS;
		break;
	case C_WRITEBACK:
	case C_NO_WRITEBACK:
		cfg->writeback = c->id == C_WRITEBACK;
		break;
	case C_ALLOW_DIRECT_IO:
	case C_NO_ALLOW_DIRECT_IO:
		cfg->allow_direct_io = c->id == C_ALLOW_DIRECT_IO;
		break;
	case C_ANNOUNCE_SUBMOUNTS:
		cfg->announce_submounts = true;
		break;
	case C_KILLPRIV_V2:
	case C_NO_KILLPRIV_V2:
		cfg->killpriv_v2 = c->id == C_KILLPRIV_V2;
		break;
	case C_POSIX_ACL:
	case C_NO_POSIX_ACL:
		cfg->posix_acl = c->id == C_POSIX_ACL;
		break;
	case C_SECURITY_LABEL:
	case C_NO_SECURITY_LABEL:
		cfg->security_label = c->id == C_SECURITY_LABEL;
		break;
	}
	return 0;

bad_value:
	fprintf(stderr, "vufsd: invalid compat value '%s' for '-o %s'\n", val, word);
	return -EINVAL;
}

/*
 * "-o a,b=c,...": split on single commas; a doubled comma is a literal one
 * (libvirt escapes commas in paths that way). The words are copied to static
 * storage, where values such as source= stay for the life of the process
 * (argv itself is left alone: it is what ps shows).
 */
static int parse_compat(struct vufs_config *cfg, const char *optarg_)
{
	static char store[16384];
	static size_t used;
	size_t len = strlen(optarg_) + 1;
	char *arg, *word, *w;

	if (len > sizeof(store) - used) {
		fprintf(stderr, "vufsd: '-o' options too long\n");
		return -E2BIG;
	}
	arg = memcpy(store + used, optarg_, len);
	used += len;
	word = w = arg;
	for (char *r = arg;; r++) {
		if (*r == ',' && r[1] == ',') {
			*w++ = ',';
			r++;
			continue;
		}
		if (*r && *r != ',') {
			*w++ = *r;
			continue;
		}
		{
			bool last = !*r;
			char *eq;

			*w = '\0';
			if (!*word) {
				fprintf(stderr, "vufsd: empty word in '-o' options\n");
				return -EINVAL;
			}
			eq = strchr(word, '=');
			if (eq)
				*eq = '\0';
			if (parse_compat_word(cfg, word, eq ? eq + 1 : NULL))
				return -EINVAL;
			if (last)
				return 0;
			word = w = r + 1;
		}
	}
}

static int short_to_id(int c)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].shrt && opts[i].shrt == c)
			return opts[i].id;
	return -1;
}

static void defaults(struct vufs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = -1;
	cfg->log_level = LOG_LVL_INFO;
	cfg->cache = FUSE_CACHE_AUTO;
	cfg->timeout_s = -1;
	cfg->readdirplus = true;
	cfg->posix_locks = true;
	cfg->flock_locks = true;
	cfg->killpriv_v2 = true;
	cfg->announce_submounts = true; /* like the Rust virtiofsd 1.13 */
	cfg->sandbox = sb_mode_default(geteuid() == 0);
	cfg->seccomp = SB_SECCOMP_KILL;
	cfg->poll_max_us = VU_POLL_DEFAULT_MAX_US;
	cfg->thread_pool_size = 0;
	cfg->inode_file_handles = PT_FH_NEVER;
	cfg->device_nodes = PT_DEVNODES_MAPPED;
	cfg->dax_min_size = 1ull << 20;
}

enum cli_result cli_parse(int argc, char **argv, struct vufs_config *cfg)
{
	struct option long_opts[N_OPTS + 1];
	char short_opts[2 * N_OPTS + 2];
	bool saw_compat = false, saw_debug = false;
	size_t nl = 0, ns = 0;
	unsigned long v;
	int c;

	defaults(cfg);
	/* ':' first: report a missing argument ourselves, naming the option. */
	short_opts[ns++] = ':';
	for (size_t i = 0; i < N_OPTS; i++) {
		if (opts[i].lng)
			long_opts[nl++] = (struct option){ opts[i].lng, opts[i].arg, NULL,
							  opts[i].id };
		if (opts[i].shrt) {
			short_opts[ns++] = opts[i].shrt;
			if (opts[i].arg == required_argument)
				short_opts[ns++] = ':';
		}
	}
	long_opts[nl] = (struct option){ NULL, 0, NULL, 0 };
	short_opts[ns] = '\0';

	optind = 0; /* GNU getopt: full re-initialisation (cli_parse may run more than once) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		int id = c >= OPT_FIRST_ ? c : short_to_id(c);

		switch (id) {
		case OPT_SOCKET:
			warn_cfg(cfg, "--socket is deprecated: use --socket-path");
			/* fall through */
		case OPT_SOCKET_PATH:
			cfg->socket_path = optarg;
			break;
		case OPT_SOCKET_GROUP:
			cfg->socket_group = optarg;
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
		case OPT_THREAD_POOL_SIZE:
			if (parse_ulong(optarg, 1024, &v)) {
				fprintf(stderr, "vufsd: bad --thread-pool-size '%s' (0..1024)\n",
					optarg);
				return CLI_ERROR;
			}
			cfg->thread_pool_size = (int)v;
			break;
		case OPT_POLL_MAX_US:
			if (parse_ulong(optarg, VU_POLL_MAX_US_LIMIT, &cfg->poll_max_us)) {
				fprintf(stderr, "vufsd: bad --poll-max-us '%s' (0..%u)\n", optarg,
					VU_POLL_MAX_US_LIMIT);
				return CLI_ERROR;
			}
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &cfg->log_level)) {
				fprintf(stderr, "vufsd: unknown log level '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_COMPAT_DEBUG:
			saw_debug = true;
			break;
		case OPT_COMPAT_FOREGROUND:
			warn_cfg(cfg, "use of deprecated flag '-f': it has no effect, please remove it");
			break;
		case OPT_COMPAT_OPTIONS:
			saw_compat = true;
			if (parse_compat(cfg, optarg))
				return CLI_ERROR;
			break;
		case OPT_SYSLOG:
			cfg->syslog = true;
			break;
		case OPT_CACHE:
			if (parse_cache(optarg, &cfg->cache)) {
				fprintf(stderr, "vufsd: unknown cache policy '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_ALLOW_MMAP:
			cfg->allow_mmap = true;
			break;
		case OPT_NO_READDIRPLUS:
			cfg->readdirplus = false;
			break;
		case OPT_WRITEBACK:
			cfg->writeback = true;
			break;
		case OPT_ALLOW_DIRECT_IO:
			cfg->allow_direct_io = true;
			break;
		case OPT_READONLY:
			cfg->readonly = true;
			break;
		case OPT_PRESERVE_NOATIME:
			cfg->preserve_noatime = true;
			break;
		case OPT_FD_LIMIT:
			if (parse_ulong(optarg, ULONG_MAX, &cfg->max_fds) || !cfg->max_fds) {
				fprintf(stderr, "vufsd: bad --fd-limit '%s'\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_PRINT_CAPABILITIES:
			cfg->print_capabilities = true;
			break;
		case OPT_XATTR:
		case OPT_NO_XATTR:
			cfg->xattr = id == OPT_XATTR;
			break;
		case OPT_POSIX_ACL:
			cfg->posix_acl = true;
			break;
		case OPT_SECURITY_LABEL:
			cfg->security_label = true;
			break;
		case OPT_XATTRMAP:
			if (check_xattrmap(optarg))
				return CLI_ERROR;
			cfg->xattrmap = optarg;
			break;
		case OPT_POSIX_LOCK:
		case OPT_NO_POSIX_LOCK:
			cfg->posix_locks = cfg->flock_locks = id == OPT_POSIX_LOCK;
			break;
		case OPT_KILLPRIV_V2:
		case OPT_NO_KILLPRIV_V2:
			cfg->killpriv_v2 = id == OPT_KILLPRIV_V2;
			break;
		case OPT_ANNOUNCE_SUBMOUNTS:
		case OPT_NO_ANNOUNCE_SUBMOUNTS:
			cfg->announce_submounts = id == OPT_ANNOUNCE_SUBMOUNTS;
			break;
		case OPT_INODE_FILE_HANDLES:
			if (!strcmp(optarg, "fallback"))
				warn_cfg(cfg, "--inode-file-handles=fallback is deprecated: use prefer");
			if (pt_fh_mode_parse(!strcmp(optarg, "fallback") ? "prefer" : optarg,
					     &cfg->inode_file_handles)) {
				fprintf(stderr, "vufsd: unknown --inode-file-handles '%s' "
						"(never|prefer|mandatory)\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_UID_MAP:
		case OPT_GID_MAP: {
			bool u = id == OPT_UID_MAP;
			unsigned *n = u ? &cfg->n_uid_map : &cfg->n_gid_map;

			if (*n >= SB_IDMAP_MAX ||
			    sb_idmap_parse(optarg, (u ? cfg->uid_map : cfg->gid_map) + *n)) {
				fprintf(stderr, "vufsd: bad --%s '%s' (:inside:outside:count:, at "
					"most %d)\n", u ? "uid-map" : "gid-map", optarg, SB_IDMAP_MAX);
				return CLI_ERROR;
			}
			(*n)++;
			break;
		}
		case OPT_TRANSLATE_UID:
		case OPT_TRANSLATE_GID: {
			bool u = id == OPT_TRANSLATE_UID;
			const char *why = "?";

			if (pt_idmap_add(u ? &cfg->translate_uid : &cfg->translate_gid, optarg,
					 &why)) {
				fprintf(stderr, "vufsd: bad --%s '%s': %s\n",
					u ? "translate-uid" : "translate-gid", optarg, why);
				return CLI_ERROR;
			}
			break;
		}
		case OPT_MIGRATION_MODE:
			if (migr_mode_parse(optarg, &cfg->migration.mode)) {
				fprintf(stderr, "vufsd: unknown --migration-mode '%s' "
					"(find-paths|file-handles)\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_MIGRATION_ON_ERROR:
			if (migr_on_error_parse(optarg, &cfg->migration.on_error)) {
				fprintf(stderr, "vufsd: unknown --migration-on-error '%s' "
					"(abort|guest-error)\n", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_MIGRATION_VERIFY_HANDLES:
			cfg->migration.verify_handles = true;
			break;
		case OPT_MIGRATION_CONFIRM_PATHS:
			cfg->migration.confirm_paths = true;
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
			if (parse_ulong(optarg, ULONG_MAX, &cfg->rlimit_nofile)) {
				fprintf(stderr, "vufsd: bad --rlimit-nofile '%s'\n", optarg);
				return CLI_ERROR;
			}
			cfg->rlimit_keep = cfg->rlimit_nofile == 0;
			break;
		case OPT_TAG:
			if (!*optarg || strlen(optarg) > 36) {
				fprintf(stderr, "vufsd: --tag needs 1 to 36 bytes, got %zu\n",
					strlen(optarg));
				return CLI_ERROR;
			}
			cfg->tag = optarg;
			break;
		case OPT_DAX_WINDOW:
			if (parse_size(optarg, &cfg->dax_window)) {
				fprintf(stderr, "vufsd: bad --dax-window '%s' (a size such as 1G)\n",
					optarg);
				return CLI_ERROR;
			}
			if (cfg->dax_window &&
			    (cfg->dax_window < DAX_WINDOW_MIN || cfg->dax_window > DAX_WINDOW_MAX ||
			     (cfg->dax_window & (cfg->dax_window - 1)))) {
				fprintf(stderr,
					"vufsd: --dax-window=%s must be 0 or a power of two from 2M "
					"to 1T\n",
					optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_DEVICE_NODES:
			if (pt_devnodes_parse(optarg, &cfg->device_nodes)) {
				fprintf(stderr,
					"vufsd: unknown --device-nodes '%s' (mapped|host|refuse)\n",
					optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_DAX_MIN_SIZE:
			if (parse_size(optarg, &cfg->dax_min_size)) {
				fprintf(stderr, "vufsd: bad --dax-min-size '%s' (a size such as 1M)\n",
					optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_METRICS:
			cfg->metrics_path = optarg;
			break;
		case OPT_HELP:
			cli_usage(stdout);
			return CLI_EXIT;
		case OPT_VERSION:
			printf("vufsd %s\n", VUFSD_VERSION);
			return CLI_EXIT;
		default:
			if (c == ':')
				fprintf(stderr, "vufsd: option '%s' needs a value\n", argv[optind - 1]);
			else if (optopt && optopt < OPT_FIRST_)
				fprintf(stderr, "vufsd: unknown option '-%c' (see --help)\n", optopt);
			else
				fprintf(stderr, "vufsd: unknown option '%s' (see --help)\n",
					argv[optind - 1]);
			return CLI_ERROR;
		}
	}
	if (cfg->xattrmap || cfg->posix_acl)
		cfg->xattr = true; /* as the Rust virtiofsd: a map or ACLs imply --xattr */
	if (optind < argc) {
		fprintf(stderr, "vufsd: unexpected argument '%s'\n", argv[optind]);
		return CLI_ERROR;
	}
	if (cfg->print_capabilities) {
		/*
		 * libvirt's vhost-user backend description (QEMU's
		 * docs/interop/vhost-user.json): separate-options = the long options
		 * above are understood; migrate-precopy = live migration with
		 * the device state in QEMU's stream (src/migr).
		 */
		printf("{\n  \"type\": \"fs\",\n  \"features\": [\n    \"migrate-precopy\",\n"
		       "    \"separate-options\"\n  ]\n}\n");
		return CLI_EXIT;
	}
	if (saw_debug) {
		cfg->log_level = LOG_LVL_DEBUG;
		warn_cfg(cfg, "use of deprecated flag '-d': please use '--log-level=debug'");
	}
	if (saw_compat)
		warn_cfg(cfg, "use of deprecated option format '-o': please give options without it "
			      "(e.g. '--cache=auto' instead of '-o cache=auto')");
	if (cfg->posix_acl || cfg->security_label || cfg->xattrmap)
		cfg->xattr = true;
	if (cfg->posix_acl && (cfg->translate_uid.n_to_host || cfg->translate_uid.n_to_guest ||
				 cfg->translate_gid.n_to_host || cfg->translate_gid.n_to_guest)) {
		fprintf(stderr, "vufsd: --translate-uid/--translate-gid cannot be used with "
				"--posix-acl\n");
		return CLI_ERROR;
	}
	if (!cfg->socket_path == (cfg->fd < 0)) {
		fprintf(stderr, "vufsd: give exactly one of --socket-path and --fd\n");
		return CLI_ERROR;
	}
	if (cfg->socket_group && cfg->fd >= 0) {
		fprintf(stderr, "vufsd: --socket-group cannot be used with --fd (the socket is "
				"not ours to create)\n");
		return CLI_ERROR;
	}
	if (cfg->socket_group) {
		struct group *gr = getgrnam(cfg->socket_group);

		if (gr) {
			cfg->socket_gid = gr->gr_gid;
		} else if (parse_ulong(cfg->socket_group, INT_MAX, &v) == 0) {
			cfg->socket_gid = (unsigned)v;
		} else {
			fprintf(stderr, "vufsd: --socket-group: no group '%s'\n", cfg->socket_group);
			return CLI_ERROR;
		}
	}
	if (!cfg->shared_dir) {
		fprintf(stderr, "vufsd: missing --shared-dir (or -o source=)\n");
		return CLI_ERROR;
	}
	return CLI_RUN;
}
