// SPDX-License-Identifier: MIT
/* Unit tests for src/fs/pt_idmap.c (--translate-uid/gid, the Rust virtiofsd syntax). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pt_idmap.h"
#include "unit.h"

static uint32_t to_host(const struct pt_idmap *m, uint32_t g)
{
	uint32_t h = 0xdeadbeef;

	assert_int_equal(pt_idmap_to_host(m, g, &h), 0);
	return h;
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "map", "map:", "map:1:2", "map:1:2:3:4", "map:1:2:0", "map:1-2-3",
		"map:1:2-3", "nope:1:2:3", "forbid-guest:1:2:3", "guest:x:2:3",
		"guest:4294967295:0:2", "guest:0:4294967295:2", "guest:1:2:4294967296",
		"map::1:2",
	};
	struct pt_idmap m;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&m, 0, sizeof(m));
		why = NULL;
		if (pt_idmap_add(&m, bad[i], &why) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(why);
		assert_true(pt_idmap_empty(&m));
	}
	/* Any non-alphanumeric separator, the same throughout; type case-insensitive. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(pt_idmap_add(&m, "MAP/5/6/1", NULL), 0);
	assert_int_equal(to_host(&m, 5), 6);
}

static void test_kinds(void **state)
{
	struct pt_idmap m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_true(pt_idmap_empty(&m) && pt_idmap_empty(NULL));
	assert_int_equal(pt_idmap_add(&m, "map:0:1000:10", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "guest:100:5000:5", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "squash-guest:200:65534:100", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "forbid-guest:400:2", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "host:7000:300:3", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "squash-host:8000:42:1000", NULL), 0);
	assert_false(pt_idmap_empty(&m));

	/* guest -> host */
	assert_int_equal(to_host(&m, 0), 1000);
	assert_int_equal(to_host(&m, 9), 1009);
	assert_int_equal(to_host(&m, 10), 10);   /* past the range: identity */
	assert_int_equal(to_host(&m, 104), 5004);
	assert_int_equal(to_host(&m, 105), 105);
	assert_int_equal(to_host(&m, 250), 65534);
	assert_int_equal(to_host(&m, 399), 399);
	{
		uint32_t h = 7;

		assert_int_equal(pt_idmap_to_host(&m, 400, &h), -EPERM);
		assert_int_equal(pt_idmap_to_host(&m, 401, &h), -EPERM);
		assert_int_equal(h, 7); /* untouched on failure */
	}
	assert_int_equal(to_host(&m, 402), 402);
	assert_int_equal(to_host(&m, UINT32_MAX), UINT32_MAX);

	/* host -> guest: only the map, host and squash-host rules */
	assert_int_equal(pt_idmap_to_guest(&m, 1000), 0);
	assert_int_equal(pt_idmap_to_guest(&m, 1009), 9);
	assert_int_equal(pt_idmap_to_guest(&m, 5000), 5000); /* guest: one way only */
	assert_int_equal(pt_idmap_to_guest(&m, 7002), 302);
	assert_int_equal(pt_idmap_to_guest(&m, 8999), 42);
	assert_int_equal(pt_idmap_to_guest(&m, 9000), 9000);
	assert_int_equal(pt_idmap_to_guest(NULL, 5), 5);
}

static void test_first_rule_wins_and_limit(void **state)
{
	struct pt_idmap m;
	char rule[64];
	int err = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(pt_idmap_add(&m, "guest:0:10:5", NULL), 0);
	assert_int_equal(pt_idmap_add(&m, "guest:0:20:5", NULL), 0);
	assert_int_equal(to_host(&m, 1), 11);
	for (int i = 0; i < 40 && !err; i++) {
		snprintf(rule, sizeof(rule), "host:%d:0:1", 1000 + i);
		err = pt_idmap_add(&m, rule, NULL);
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(m.n_to_guest, PT_IDMAP_MAX_RULES);
	/* map is all or nothing when one direction is full */
	assert_int_equal(pt_idmap_add(&m, "map:1:2:3", NULL), -ENOSPC);
	assert_int_equal(m.n_to_host, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_first_rule_wins_and_limit),
	};

	return cmocka_run_group_tests_name("pt_idmap", tests, NULL, NULL);
}
