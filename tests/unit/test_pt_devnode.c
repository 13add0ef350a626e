// SPDX-License-Identifier: MIT
/*
 * The mapped-device-node attribute value (src/fs/pt_devnode.c): the strict
 * parser, the formatter, their round trip, and the listxattr filter. The
 * value lives on the host, where any user who can write the share can
 * craft it, so everything but the one canonical form is rejected.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "pt.h"
#include "pt_devnode.h"

static int parse(const char *s, struct pt_devnode *d)
{
	return pt_devnode_parse(s, strlen(s), d);
}

static void test_parse_valid(void **state)
{
	struct pt_devnode d;

	(void)state;
	assert_int_equal(parse("v1 c 1:3 0666", &d), 0);
	assert_int_equal(d.type, S_IFCHR);
	assert_int_equal(d.major, 1);
	assert_int_equal(d.minor, 3);
	assert_int_equal(d.perm, 0666);
	assert_int_equal(parse("v1 b 0:0 0000", &d), 0);
	assert_int_equal(d.type, S_IFBLK);
	assert_int_equal(d.perm, 0);
	assert_int_equal(parse("v1 c 4095:1048575 7777", &d), 0);
	assert_int_equal(d.major, 4095);
	assert_int_equal(d.minor, 1048575);
	assert_int_equal(d.perm, 07777);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "v", "v1", "v1 ", "v1 c", "v1 c ", "v1 c 1", "v1 c 1:", "v1 c 1:3",
		"v1 c 1:3 ", "v1 c 1:3 066", "v1 c 1:3 06666", "v1 c 1:3 0668", "v1 c 1:3 066a",
		"v2 c 1:3 0666", "V1 c 1:3 0666", "v1 C 1:3 0666", "v1 p 1:3 0666",
		"v1  c 1:3 0666", "v1 c  1:3 0666", "v1 c 1 :3 0666", "v1 c 1: 3 0666",
		"v1 c 1:3  0666", " v1 c 1:3 0666", "v1 c 1:3 0666 ", "v1 c 1:3 0666\n",
		"v1 c 01:3 0666", "v1 c 1:03 0666", "v1 c 00:0 0666", "v1 c -1:3 0666",
		"v1 c +1:3 0666", "v1 c 4096:0 0666", "v1 c 0:1048576 0666",
		"v1 c 99999999999999999999:0 0666", "v1 c 1:3:4 0666", "v1 c 0x1:3 0666",
		"v1 c :3 0666", "v1 c 1:3 -666",
	};
	struct pt_devnode d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &d) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* Embedded and trailing NULs; a NULL buffer; an overlong buffer. */
	assert_int_equal(pt_devnode_parse("v1 c 1:3 0666\0", 14, &d), -EINVAL);
	assert_int_equal(pt_devnode_parse("v1 c 1\0:3 0666", 14, &d), -EINVAL);
	assert_int_equal(pt_devnode_parse(NULL, 0, &d), -EINVAL);
	char big[PT_DEVNODE_VALUE_MAX + 8];
	memset(big, '0', sizeof(big));
	memcpy(big, "v1 c 1:", 7);
	assert_int_equal(pt_devnode_parse(big, sizeof(big), &d), -EINVAL);
	/* Length bounds the parse: a valid prefix of a longer buffer is not enough. */
	assert_int_equal(pt_devnode_parse("v1 c 1:3 0666", 12, &d), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
	static const struct pt_devnode cases[] = {
		{ S_IFCHR, 1, 3, 0666 },
		{ S_IFBLK, 0, 0, 0 },
		{ S_IFCHR, 4095, 1048575, 07777 },
		{ S_IFBLK, 259, 65536, 04750 },
	};
	char buf[PT_DEVNODE_VALUE_MAX + 1];
	struct pt_devnode d;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = pt_devnode_format(&cases[i], buf, sizeof(buf));
		assert_true(n > 0 && n <= PT_DEVNODE_VALUE_MAX);
		assert_int_equal(pt_devnode_parse(buf, (size_t)n, &d), 0);
		assert_memory_equal(&d, &cases[i], sizeof(d));
	}
	n = pt_devnode_format(&cases[0], buf, sizeof(buf));
	assert_string_equal(buf, "v1 c 1:3 0666");
	/* Out of range values are not written; a short buffer is -ERANGE. */
	struct pt_devnode bad = { S_IFIFO, 1, 3, 0666 };
	assert_int_equal(pt_devnode_format(&bad, buf, sizeof(buf)), -EINVAL);
	bad = (struct pt_devnode){ S_IFCHR, 4096, 0, 0 };
	assert_int_equal(pt_devnode_format(&bad, buf, sizeof(buf)), -EINVAL);
	bad = (struct pt_devnode){ S_IFCHR, 0, 1048576, 0 };
	assert_int_equal(pt_devnode_format(&bad, buf, sizeof(buf)), -EINVAL);
	bad = (struct pt_devnode){ S_IFCHR, 0, 0, 010000 };
	assert_int_equal(pt_devnode_format(&bad, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pt_devnode_format(&cases[0], buf, 5), -ERANGE);
}

static void test_filter_list(void **state)
{
	char l1[] = "user.a\0user.vufsd.devnode\0user.b";
	char l2[] = "user.vufsd.devnode";
	char l3[] = "user.vufsd.devnodex\0user.vufsd.devnod\0";
	size_t n;

	(void)state;
	n = pt_devnode_filter_list(l1, sizeof(l1));
	assert_int_equal(n, sizeof("user.a") + sizeof("user.b"));
	assert_memory_equal(l1, "user.a\0user.b", n);
	assert_int_equal(pt_devnode_filter_list(l2, sizeof(l2)), 0);
	/* Only the exact name goes; a list without a final NUL is handled. */
	assert_int_equal(pt_devnode_filter_list(l3, sizeof(l3) - 1), sizeof(l3) - 1);
	char l4[] = { 'u', 's', 'e', 'r', '.', 'x' };
	assert_int_equal(pt_devnode_filter_list(l4, sizeof(l4)), sizeof(l4));
	assert_int_equal(pt_devnode_filter_list(l4, 0), 0);
}

static void test_mode_option(void **state)
{
	enum pt_devnodes m;

	(void)state;
	assert_int_equal(pt_devnodes_parse("mapped", &m), 0);
	assert_int_equal(m, PT_DEVNODES_MAPPED);
	assert_int_equal(pt_devnodes_parse("host", &m), 0);
	assert_int_equal(m, PT_DEVNODES_HOST);
	assert_int_equal(pt_devnodes_parse("refuse", &m), 0);
	assert_int_equal(m, PT_DEVNODES_REFUSE);
	assert_int_equal(pt_devnodes_parse("Mapped", &m), -EINVAL);
	assert_int_equal(pt_devnodes_parse("", &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_filter_list),
		cmocka_unit_test(test_mode_option),
	};

	return cmocka_run_group_tests_name("pt_devnode", tests, NULL, NULL);
}
