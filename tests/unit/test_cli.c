// SPDX-License-Identifier: MIT
/*
 * cli_parse: the Rust virtiofsd's options and libvirt's "-o" forms into
 * struct vufs_config, and the one-line refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

#define ARGV(...) ((char *[]){ "vufsd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vufsd", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg)

static void test_libvirt_options(void **state)
{
	struct vufs_config c;
	char o[] = "source=/srv/a,,b,cache=always,sandbox=chroot,xattr,flock,posix_lock";
	char *argv[] = { "vufsd", "--fd=31", "-o", o, "--thread-pool-size=4", NULL };

	(void)state;
	assert_int_equal(cli_parse(5, argv, &c), CLI_RUN);
	assert_int_equal(c.fd, 31);
	assert_null(c.socket_path);
	assert_string_equal(c.shared_dir, "/srv/a,b");
	assert_int_equal(c.cache, FUSE_CACHE_ALWAYS);
	assert_int_equal(c.sandbox, SB_CHROOT);
	assert_true(c.xattr);
	assert_true(c.flock_locks);
	assert_true(c.posix_locks);
	assert_int_equal(c.thread_pool_size, 4);
	/* argv is what ps shows: left alone. */
	assert_string_equal(o, "source=/srv/a,,b,cache=always,sandbox=chroot,xattr,flock,posix_lock");
	/* "-o is deprecated" (the pool exists: no warning for it) */
	assert_int_equal(c.nwarnings, 1);
	assert_non_null(strstr(c.warnings[0], "'-o'"));
}

static void test_defaults(void **state)
{
	struct vufs_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--socket-path=/tmp/s", "--shared-dir=/srv"), CLI_RUN);
	assert_int_equal(c.cache, FUSE_CACHE_AUTO);
	assert_int_equal(c.timeout_s, -1);
	assert_false(c.xattr);
	assert_true(c.readdirplus && c.posix_locks && c.flock_locks && c.killpriv_v2);
	assert_false(c.readonly || c.allow_mmap || c.preserve_noatime || c.writeback);
	assert_int_equal(c.thread_pool_size, 0);
	assert_int_equal(c.inode_file_handles, PT_FH_NEVER);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_int_equal(c.nwarnings, 0);
	assert_false(c.rlimit_keep);
}

static void test_compat_no_forms(void **state)
{
	struct vufs_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--fd=3", "-o", "source=/s,xattr,no_xattr,no_flock,no_readdirplus",
			       "-o", "no_killpriv_v2,no_posix_acl,no_security_label,no_writeback,"
			       "allow_direct_io,cache=none,timeout=5,loglevel=err"),
			 CLI_RUN);
	assert_false(c.xattr);
	assert_false(c.flock_locks);
	assert_true(c.posix_locks);
	assert_false(c.readdirplus);
	assert_false(c.killpriv_v2);
	assert_true(c.allow_direct_io);
	assert_int_equal(c.cache, FUSE_CACHE_NEVER);
	assert_int_equal(c.timeout_s, 5);
	assert_int_equal(c.log_level, LOG_LVL_ERROR);
	assert_int_equal(PARSE(&c, "--fd=3", "-o", "source=/s,no_posix_lock,log_level=debug"), CLI_RUN);
	assert_false(c.posix_locks);
	assert_true(c.flock_locks);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
}

static void test_long_options(void **state)
{
	struct vufs_config c;

	(void)state;
	assert_int_equal(PARSE(&c, "--socket", "/tmp/s", "--shared-dir", "/srv", "--readonly",
			       "--allow-mmap", "--preserve-noatime", "--no-posix-lock",
			       "--rlimit-nofile=0", "--socket-group=0", "--inode-file-handles=never",
			       "--no-announce-submounts", "--log-level=trace", "-f", "-d"),
			 CLI_RUN);
	assert_string_equal(c.socket_path, "/tmp/s");
	assert_true(c.readonly && c.allow_mmap && c.preserve_noatime);
	assert_false(c.posix_locks || c.flock_locks);
	assert_true(c.rlimit_keep);
	assert_string_equal(c.socket_group, "0");
	assert_int_equal(c.socket_gid, 0);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG); /* -d */
	/* --socket, -f and -d are deprecated */
	assert_int_equal(c.nwarnings, 3);
}

static void test_refused(void **state)
{
	static const char *const cases[][4] = {
		{ "-o", "source=/s,bogus" },
		{ "-o", "source=/s,cache=often" },
		{ "-o", "source=/s,xattr=1" },
		{ "-o", "source" },
		{ "-o", "source=/s,xattr," }, /* an empty word */
		{ "-o", "source=/s,timeout=1.5" },
		{ "--shared-dir=/s", "--tag=0123456789012345678901234567890123456" },
		{ "--shared-dir=/s", "--dax-window=3M" },
		{ "--shared-dir=/s", "--migration-mode=by-magic" },
		{ "--shared-dir=/s", "--migration-on-error=ignore" },
		{ "--shared-dir=/s", "--socket-group=no-such-group-xyz" },
		{ "--shared-dir=/s", "--thread-pool-size=-1" },
		{ "--shared-dir=/s", "--xattrmap=:nosuchtype:all:a:b:" },
		{ "-o", "source=/s,xattrmap=:bad" },
		{ "--shared-dir=/s", "--device-nodes=sometimes" },
		{ "--shared-dir=/s", "--bogus" },
		{ "--shared-dir=/s", "-z" },
		{ "--shared-dir=/s", "--cache" },
	};
	struct vufs_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char a0[64], a1[64];
		char *argv[] = { "vufsd", "--fd=3", a0, a1, NULL };

		snprintf(a0, sizeof(a0), "%s", cases[i][0]);
		snprintf(a1, sizeof(a1), "%s", cases[i][1]);
		if (cli_parse(4, argv, &c) != CLI_ERROR)
			fail_msg("accepted: %s %s", a0, a1);
	}
	/* ",,," is a literal comma, then the next word: source "/s," (libvirt's escaping). */
	assert_int_equal(PARSE(&c, "--fd=3", "-o", "source=/s,,,xattr"), CLI_RUN);
	assert_string_equal(c.shared_dir, "/s,");
	assert_true(c.xattr);
	/* --socket-group needs a socket of our own. */
	assert_int_equal(PARSE(&c, "--fd=3", "--shared-dir=/s", "--socket-group=0"), CLI_ERROR);
	assert_int_equal(PARSE(&c, "--fd=3", "--socket-path=/x", "--shared-dir=/s"), CLI_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libvirt_options),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_compat_no_forms),
		cmocka_unit_test(test_long_options),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
