// SPDX-License-Identifier: MIT
/* The FUSE_SECURITY_CTX block parser (src/fuse/fuse_secctx.c): what Linux sends, and the rest rejected. */
#include <errno.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fuse_secctx.h"

/* Build a block of @n contexts "security.selinux" = @value (with NUL), padded as Linux does. */
static size_t block(unsigned char *buf, unsigned n, const char *value)
{
	struct fuse_secctx_header hdr = { .nr_secctx = n };
	size_t pos = sizeof(hdr);

	for (unsigned i = 0; i < n; i++) {
		struct fuse_secctx ctx = { .size = (uint32_t)strlen(value) + 1 };

		memcpy(buf + pos, &ctx, sizeof(ctx));
		pos += sizeof(ctx);
		memcpy(buf + pos, "security.selinux", 17);
		pos += 17;
		memcpy(buf + pos, value, ctx.size);
		pos += ctx.size;
		while (pos % 8)
			buf[pos++] = 0;
	}
	hdr.size = (uint32_t)pos;
	memcpy(buf, &hdr, sizeof(hdr));
	return pos;
}

static void test_valid(void **state)
{
	unsigned char buf[512];
	struct fuse_secctx_item it;
	size_t len;

	(void)state;
	len = block(buf, 0, "");
	assert_int_equal(len, 8);
	assert_int_equal(fuse_secctx_parse(buf, len, &it), 0);
	assert_null(it.name);
	len = block(buf, 1, "system_u:object_r:x_t:s0");
	assert_int_equal(fuse_secctx_parse(buf, len, &it), 0);
	assert_string_equal(it.name, "security.selinux");
	assert_int_equal(it.size, strlen("system_u:object_r:x_t:s0") + 1);
	assert_memory_equal(it.value, "system_u:object_r:x_t:s0", it.size);
	/* More than one: the first is used, all are checked. */
	len = block(buf, 3, "a");
	assert_int_equal(fuse_secctx_parse(buf, len, &it), 0);
	assert_int_equal(it.size, 2);
	/* An empty value is a value. */
	struct fuse_secctx_header h = { 32, 1 };
	struct fuse_secctx c = { 0, 0 };
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, 8);
	memcpy(buf + 8, &c, 8);
	memcpy(buf + 16, "security.x", 11);
	assert_int_equal(fuse_secctx_parse(buf, 32, &it), 0);
	assert_int_equal(it.size, 0);
}

static void test_rejects(void **state)
{
	unsigned char buf[512], bad[512];
	struct fuse_secctx_item it;
	size_t len = block(buf, 1, "label");

	(void)state;
	assert_int_equal(fuse_secctx_parse(buf, 0, &it), -EINVAL);
	assert_int_equal(fuse_secctx_parse(buf, 7, &it), -EINVAL);
	assert_int_equal(fuse_secctx_parse(buf, len - 8, &it), -EINVAL); /* size disagrees */
	memcpy(bad, buf, len);
	((struct fuse_secctx_header *)bad)->nr_secctx = 2;
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	((struct fuse_secctx_header *)bad)->nr_secctx = FUSE_MAX_NR_SECCTX + 1;
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	memcpy(bad, buf, len);
	((struct fuse_secctx *)(bad + 8))->size = 0xffffffffu; /* overflow bait */
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	((struct fuse_secctx *)(bad + 8))->size = 100;
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	memcpy(bad, buf, len);
	memset(bad + 16, 'x', len - 16); /* name without NUL */
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	memcpy(bad, buf, len);
	bad[16] = 0; /* empty name */
	assert_int_equal(fuse_secctx_parse(bad, len, &it), -EINVAL);
	/* Unpadded last record. */
	struct fuse_secctx_header h = { 8 + 8 + 11 + 1, 1 };
	struct fuse_secctx c = { 1, 0 };
	memcpy(bad, &h, 8);
	memcpy(bad + 8, &c, 8);
	memcpy(bad + 16, "security.x", 11);
	bad[27] = 'v';
	assert_int_equal(fuse_secctx_parse(bad, h.size, &it), -EINVAL);
	/* Trailing bytes after the records. */
	memcpy(bad, buf, len);
	memset(bad + len, 0, 8);
	((struct fuse_secctx_header *)bad)->size = (uint32_t)len + 8;
	assert_int_equal(fuse_secctx_parse(bad, len + 8, &it), -EINVAL);
	/* A name over 255 bytes. */
	memset(bad, 0, sizeof(bad));
	h = (struct fuse_secctx_header){ 8 + 8 + 264, 1 };
	c = (struct fuse_secctx){ 0, 0 };
	memcpy(bad, &h, 8);
	memcpy(bad + 8, &c, 8);
	memset(bad + 16, 'n', 256);
	assert_int_equal(fuse_secctx_parse(bad, h.size, &it), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests_name("fuse_secctx", tests, NULL, NULL);
}
