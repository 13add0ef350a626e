// SPDX-License-Identifier: MIT
/* Unit tests for src/fuse/fuse_buf.c: the bounded argument cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "fuse_buf.h"
#include "unit.h"

static void test_take(void **state)
{
	const uint8_t data[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct fuse_buf b;
	const void *p = NULL;
	uint32_t v = 0;

	(void)state;
	fuse_buf_init(&b, data, sizeof(data));
	assert_int_equal(fuse_buf_left(&b), 10);
	assert_int_equal(fuse_buf_take(&b, 3, &p), 0);
	assert_ptr_equal(p, data);
	assert_int_equal(fuse_buf_left(&b), 7);
	/* Beyond the end: fails and does not move. */
	p = NULL;
	assert_int_equal(fuse_buf_take(&b, 8, &p), -EINVAL);
	assert_null(p);
	assert_int_equal(b.pos, 3);
	assert_int_equal(fuse_buf_take(&b, SIZE_MAX, &p), -EINVAL);
	assert_int_equal(fuse_buf_take(&b, SIZE_MAX - 2, &p), -EINVAL);
	assert_int_equal(b.pos, 3);
	/* A zero-length take succeeds anywhere, including at the end. */
	assert_int_equal(fuse_buf_take(&b, 0, &p), 0);
	assert_int_equal(b.pos, 3);
	assert_int_equal(FUSE_BUF_TAKE_OBJ(&b, &v), 0);
	assert_int_equal(v, 0x06050403);
	assert_int_equal(fuse_buf_take(&b, 3, &p), 0);
	assert_ptr_equal(p, data + 7);
	assert_int_equal(fuse_buf_left(&b), 0);
	assert_int_equal(fuse_buf_take(&b, 0, &p), 0);
	assert_int_equal(fuse_buf_take(&b, 1, &p), -EINVAL);
	/* A copy beyond the end leaves the destination alone. */
	v = 0xdeadbeef;
	assert_int_equal(FUSE_BUF_TAKE_OBJ(&b, &v), -EINVAL);
	assert_int_equal(v, 0xdeadbeef);

	/* Empty buffer. */
	fuse_buf_init(&b, data, 0);
	assert_int_equal(fuse_buf_take(&b, 1, &p), -EINVAL);
	assert_int_equal(fuse_buf_take(&b, 0, &p), 0);
}

static void test_take_str(void **state)
{
	const char data[] = "abc\0de\0fgh"; /* "fgh" unterminated within the 10 bytes */
	struct fuse_buf b;
	const char *s = NULL;

	(void)state;
	fuse_buf_init(&b, data, 10);
	assert_int_equal(fuse_buf_take_str(&b, 100, &s), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(b.pos, 4);
	/* Longer than max: fails, does not move. */
	assert_int_equal(fuse_buf_take_str(&b, 1, &s), -EINVAL);
	assert_int_equal(b.pos, 4);
	/* Exactly max. */
	assert_int_equal(fuse_buf_take_str(&b, 2, &s), 0);
	assert_string_equal(s, "de");
	assert_int_equal(b.pos, 7);
	/* Unterminated before the end of the buffer. */
	assert_int_equal(fuse_buf_take_str(&b, 100, &s), -EINVAL);
	assert_int_equal(b.pos, 7);
	/* At the very end. */
	b.pos = 10;
	assert_int_equal(fuse_buf_take_str(&b, 100, &s), -EINVAL);
	assert_int_equal(b.pos, 10);
	/* An empty string is a string (names reject it separately). */
	fuse_buf_init(&b, "\0", 1);
	assert_int_equal(fuse_buf_take_str(&b, 0, &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(b.pos, 1);
	/* The NUL must be inside the buffer, not just after it. */
	fuse_buf_init(&b, "xyz", 3);
	assert_int_equal(fuse_buf_take_str(&b, 10, &s), -EINVAL);
	assert_int_equal(b.pos, 0);
}

/*
 * "At most @max bytes": a caller with no limit of its own passing SIZE_MAX
 * must still be able to take a short string.
 */
static void test_take_str_unbounded_max(void **state)
{
	struct fuse_buf b;
	const char *s = NULL;

	(void)state;
	fuse_buf_init(&b, "abc", 4);
	assert_int_equal(fuse_buf_take_str(&b, SIZE_MAX, &s), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(b.pos, 4);
}

static void expect_name(const char *data, size_t size, int dots, int want_err)
{
	struct fuse_buf b;
	const char *name = NULL;
	int err;

	fuse_buf_init(&b, data, size);
	err = fuse_buf_take_name(&b, dots, &name);
	assert_int_equal(err, want_err);
	if (err) {
		assert_int_equal(b.pos, 0);
	} else {
		assert_ptr_equal(name, data);
		assert_int_equal(b.pos, strlen(data) + 1);
	}
}

static void test_take_name(void **state)
{
	char name[NAME_MAX + 3];

	(void)state;
	expect_name("file", 5, 0, 0);
	expect_name("file\0next", 10, 0, 0);
	expect_name(".hidden", 8, 0, 0);
	expect_name("...", 4, 0, 0);
	expect_name("a b\x01\xff", 6, 0, 0); /* any bytes but '/' and NUL */
	expect_name("", 1, 0, -EINVAL);
	expect_name("", 1, 1, -EINVAL);
	expect_name("a/b", 4, 0, -EINVAL);
	expect_name("/", 2, 1, -EINVAL);
	expect_name("a/", 3, 0, -EINVAL);
	expect_name(".", 2, 0, -EINVAL);
	expect_name("..", 3, 0, -EINVAL);
	expect_name(".", 2, 1, 0);
	expect_name("..", 3, 1, 0);
	expect_name("../x", 5, 1, -EINVAL);
	/* Unterminated. */
	expect_name("abc", 3, 0, -EINVAL);
	expect_name("abc", 0, 0, -EINVAL);

	/* 255 bytes: accepted; 256: too long; unterminated long: invalid. */
	memset(name, 'n', sizeof(name));
	name[NAME_MAX] = '\0';
	expect_name(name, NAME_MAX + 1, 0, 0);
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	expect_name(name, NAME_MAX + 2, 0, -ENAMETOOLONG);
	expect_name(name, NAME_MAX + 1, 0, -EINVAL);
}

static void test_take_name_sequence(void **state)
{
	/* RENAME-style: two names back to back; a bad second leaves the cursor after the first. */
	const char data[] = "old\0a/b";
	struct fuse_buf b;
	const char *n1, *n2;

	(void)state;
	fuse_buf_init(&b, data, sizeof(data));
	assert_int_equal(fuse_buf_take_name(&b, 0, &n1), 0);
	assert_string_equal(n1, "old");
	assert_int_equal(fuse_buf_take_name(&b, 0, &n2), -EINVAL);
	assert_int_equal(b.pos, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take),
		cmocka_unit_test(test_take_str),
		cmocka_unit_test(test_take_str_unbounded_max),
		cmocka_unit_test(test_take_name),
		cmocka_unit_test(test_take_name_sequence),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
