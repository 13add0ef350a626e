// SPDX-License-Identifier: MIT
/*
 * --xattrmap rules (src/fs/pt_xattrmap.c): the parser (syntax errors named
 * by rule), guest-to-host name mapping and host list rewriting, on the
 * examples of the Rust virtiofsd's doc/xattr-mapping.md.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pt_xattrmap.h"

static struct pt_xattrmap *parse_ok(const char *spec)
{
	struct pt_xattrmap *m = NULL;
	char err[128];

	if (pt_xattrmap_parse(spec, &m, err, sizeof(err)))
		fail_msg("\"%s\": %s", spec, err);
	return m;
}

static void parse_bad(const char *spec, const char *why)
{
	struct pt_xattrmap *m = NULL;
	char err[128];

	if (pt_xattrmap_parse(spec, &m, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted \"%.60s\"", spec);
	if (!strstr(err, why))
		fail_msg("\"%.60s\": reason \"%s\", expected it to say \"%s\"", spec, err, why);
	assert_null(m);
}

/* Guest name -> host name, or the error as a string. */
static const char *to_host(const struct pt_xattrmap *m, const char *name)
{
	static char out[PT_XATTR_NAME_MAX + 1];
	int r = pt_xattrmap_to_host(m, name, out, sizeof(out));

	if (r == -EPERM)
		return "EPERM";
	if (r == -EOPNOTSUPP)
		return "EOPNOTSUPP";
	if (r == -ERANGE)
		return "ERANGE";
	return r ? "?" : out;
}

/* Host list (names separated by ',') -> guest list, ','-separated. */
static const char *list(const struct pt_xattrmap *m, const char *names)
{
	static char buf[1024];
	size_t len = strlen(names) + 1, n;

	memcpy(buf, names, len);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ',')
			buf[i] = 0;
	}
	if (!*names)
		len = 0;
	n = pt_xattrmap_list(m, buf, len);
	assert_true(n <= len);
	if (n)
		assert_int_equal(buf[n - 1], 0);
	for (size_t i = 0; i + 1 < n; i++) {
		if (!buf[i])
			buf[i] = ',';
	}
	buf[n ? n - 1 : 0] = 0;
	return buf;
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_bad("", "no rules");
	parse_bad("   \n\t ", "no rules");
	parse_bad(":prefix:client:hi", "rule 1: incomplete");
	parse_bad(":prefix:client:a:b", "rule 1: incomplete");
	parse_bad(":ok:all::: :tomato:all:::", "rule 2: unknown type");
	parse_bad("/prefix/helloworld///", "rule 1: unknown scope");
	parse_bad(":prefix::a:b:", "unknown scope");
	parse_bad(":map:trusted.:virtiofs.user.::map:trusted.:virtiofs.user.:",
		  "rule 2: \"map\" must be the last");
	parse_bad(":map::x: :ok:all:::", "\"map\" must be the last");
	parse_bad(":map:a", "incomplete");
	parse_bad(":averyveryverylongtype:all:::", "unknown type");
	parse_bad(":ok:averyveryverylongscope:::", "unknown scope");

	char *big = malloc(PT_XATTRMAP_SPEC_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', PT_XATTRMAP_SPEC_MAX + 1);
	big[PT_XATTRMAP_SPEC_MAX + 1] = 0;
	parse_bad(big, "longer than");
	free(big);

	/* A key over 255 bytes. */
	char lk[300 + 16];
	snprintf(lk, sizeof(lk), ":ok:all:%0300d::", 0);
	parse_bad(lk, "over 255");

	/* Too many rules. */
	char *many = malloc(16 * (PT_XATTRMAP_RULES_MAX + 1) + 1), *p = many;
	assert_non_null(many);
	for (int i = 0; i <= PT_XATTRMAP_RULES_MAX; i++)
		p += sprintf(p, ":ok:all:::");
	parse_bad(many, "too many rules");
	free(many);
}

static void test_parse_forms(void **state)
{
	struct pt_xattrmap *m;

	(void)state;
	/* Separators differ per rule; blanks between rules; any separator character. */
	m = parse_ok("  :prefix:all:trusted.:user.virtiofs.:\n /ok/all/// xokxallxxx ");
	assert_string_equal(to_host(m, "trusted.a"), "user.virtiofs.trusted.a");
	assert_string_equal(to_host(m, "user.b"), "user.b");
	pt_xattrmap_free(m);
	/* Blanks inside a field are part of it; a name no rule matches is refused. */
	m = parse_ok(":ok:client:user. x::");
	assert_string_equal(to_host(m, "user. xy"), "user. xy");
	assert_string_equal(to_host(m, "user.y"), "EPERM");
	pt_xattrmap_free(m);
}

/* Example 1 of the doc: everything under user.virtiofs. */
static void test_prefix_all(void **state)
{
	static const char *const specs[] = { ":prefix:all::user.virtiofs.::bad:all:::",
					      ":map::user.virtiofs.:" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct pt_xattrmap *m = parse_ok(specs[i]);

		assert_string_equal(to_host(m, "security.selinux"),
				    "user.virtiofs.security.selinux");
		assert_string_equal(to_host(m, "trusted.overlay.opaque"),
				    "user.virtiofs.trusted.overlay.opaque");
		assert_string_equal(to_host(m, "user.x"), "user.virtiofs.user.x");
		assert_string_equal(list(m, "user.virtiofs.security.selinux,security.selinux,"
					    "user.x,user.virtiofs.trusted.a"),
				    "security.selinux,trusted.a");
		assert_string_equal(list(m, "user.virtiofs."), ""); /* an empty name is none */
		pt_xattrmap_free(m);
	}
}

/* Example 2: trusted. prefixed, the rest through. */
static void test_prefix_trusted(void **state)
{
	static const char *const specs[] = {
		"/prefix/all/trusted./user.virtiofs./\n /bad/server//trusted./\n"
		" /bad/client/user.virtiofs.//\n /ok/all///",
		"/map/trusted./user.virtiofs./",
	};

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct pt_xattrmap *m = parse_ok(specs[i]);

		assert_string_equal(to_host(m, "trusted.x"), "user.virtiofs.trusted.x");
		assert_string_equal(to_host(m, "user.virtiofs.trusted.x"), "EPERM");
		assert_string_equal(to_host(m, "user.y"), "user.y");
		assert_string_equal(to_host(m, "security.selinux"), "security.selinux");
		assert_string_equal(list(m, "trusted.host,user.virtiofs.trusted.x,user.y"),
				    "trusted.x,user.y");
		pt_xattrmap_free(m);
	}
}

/* Example 3, and unsupported. */
static void test_bad_unsupported(void **state)
{
	struct pt_xattrmap *m;

	(void)state;
	m = parse_ok("/bad/all/security./security./ /unsupported/client/trusted.// /ok/all///");
	assert_string_equal(to_host(m, "security.selinux"), "EPERM");
	assert_string_equal(to_host(m, "trusted.x"), "EOPNOTSUPP");
	assert_string_equal(to_host(m, "user.a"), "user.a");
	assert_string_equal(list(m, "security.selinux,user.a,trusted.x"), "user.a,trusted.x");
	pt_xattrmap_free(m);
	/* Without a terminating rule: unmatched names are refused and hidden. */
	m = parse_ok(":ok:all:user.:user.:");
	assert_string_equal(to_host(m, "security.x"), "EPERM");
	assert_string_equal(list(m, "security.x,user.a"), "user.a");
	pt_xattrmap_free(m);
}

static void test_lengths(void **state)
{
	struct pt_xattrmap *m = parse_ok(":map::user.virtiofs.:");
	char name[PT_XATTR_NAME_MAX + 1], out[PT_XATTR_NAME_MAX + 1];

	(void)state;
	/* 255 - 14 = 241 bytes fit, 242 do not. */
	memset(name, 'a', sizeof(name));
	memcpy(name, "user.", 5);
	name[241] = 0;
	assert_int_equal(pt_xattrmap_to_host(m, name, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), PT_XATTR_NAME_MAX);
	name[241] = 'a';
	name[242] = 0;
	assert_int_equal(pt_xattrmap_to_host(m, name, out, sizeof(out)), -ERANGE);
	assert_int_equal(pt_xattrmap_to_host(m, "user.a", out, 5), -ERANGE);
	/* A list whose last name lacks its NUL drops it. */
	char l[] = { 'u', 's', 'e', 'r', '.', 'v', 'i', 'r', 't', 'i', 'o', 'f', 's', '.', 'x' };
	assert_int_equal(pt_xattrmap_list(m, l, sizeof(l)), 0);
	pt_xattrmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_prefix_all),
		cmocka_unit_test(test_prefix_trusted),
		cmocka_unit_test(test_bad_unsupported),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests_name("pt_xattrmap", tests, NULL, NULL);
}
