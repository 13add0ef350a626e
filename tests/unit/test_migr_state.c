// SPDX-License-Identifier: MIT
/* Unit tests for src/migr/migr_state.c: the migration state stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "migr_state.h"
#include "unit.h"

static void fill(struct migr_state *s)
{
	struct migr_inode in = { .nodeid = (1ull << 32) | 5, .nlookup = 3, .mode = 0100000,
				 .dev = 42, .ino = 7, .mnt_id = 9, .path = "a/b/file",
				 .flags = MIGR_INODE_HAS_FH, .fh_type = 1, .fh_bytes = 8 };
	struct migr_inode dir = { .nodeid = (1ull << 32) | 6, .nlookup = 1, .mode = 0040000,
				  .dev = 42, .ino = 8, .path = "a/b" };
	struct migr_handle h = { .fh = (1ull << 32) | 2, .nodeid = in.nodeid,
				 .open_flags = O_RDWR | O_APPEND };
	struct migr_handle dh = { .fh = (1ull << 32) | 3, .nodeid = dir.nodeid, .is_dir = true,
				  .dir_off = 12345 };
	struct migr_lock l = { .fh = h.fh, .kind = MIGR_LOCK_POSIX, .type = F_WRLCK, .start = 0,
			       .end = UINT64_MAX, .owner = 77, .pid = 1234 };

	migr_state_init(s);
	memcpy(in.fh, "\1\2\3\4\5\6\7\10", 8);
	s->session = (struct migr_session){ .initialized = true, .minor = 41,
					    .flags = 0x123456789ull, .max_write = 1 << 20,
					    .mode = MIGR_MODE_FILE_HANDLES, .share_dev = 0x803,
					    .share_ino = 2 };
	assert_int_equal(migr_state_add_inode(s, &in), 0);
	assert_int_equal(migr_state_add_inode(s, &dir), 0);
	assert_int_equal(migr_state_add_handle(s, &h), 0);
	assert_int_equal(migr_state_add_handle(s, &dh), 0);
	assert_int_equal(migr_state_add_lock(s, &l), 0);
}

static void encode(struct migr_state *s, uint8_t **buf, size_t *len)
{
	assert_int_equal(migr_state_encode(s, buf, len), 0);
}

static void test_round_trip(void **state)
{
	struct migr_state s, d;
	uint8_t *buf;
	size_t len;
	char err[256] = "";

	fill(&s);
	encode(&s, &buf, &len);
	assert_int_equal(migr_state_decode(buf, len, &d, err, sizeof(err)), 0);
	assert_true(d.session.initialized);
	assert_int_equal(d.session.minor, 41);
	assert_int_equal(d.session.flags, 0x123456789ull);
	assert_int_equal(d.session.max_write, 1 << 20);
	assert_int_equal(d.session.mode, MIGR_MODE_FILE_HANDLES);
	assert_int_equal(d.session.share_dev, 0x803);
	assert_int_equal(d.session.share_ino, 2);
	assert_int_equal(d.ninodes, 2);
	assert_int_equal(d.inodes[0].nodeid, (1ull << 32) | 5);
	assert_int_equal(d.inodes[0].nlookup, 3);
	assert_string_equal(d.inodes[0].path, "a/b/file");
	assert_int_equal(d.inodes[0].fh_bytes, 8);
	assert_memory_equal(d.inodes[0].fh, "\1\2\3\4\5\6\7\10", 8);
	assert_int_equal(d.inodes[0].flags, MIGR_INODE_HAS_FH | MIGR_INODE_HAS_PATH);
	assert_int_equal(d.inodes[1].mode, 0040000);
	assert_int_equal(d.nhandles, 2);
	assert_int_equal(d.handles[0].open_flags, O_RDWR | O_APPEND);
	assert_true(d.handles[1].is_dir);
	assert_int_equal(d.handles[1].dir_off, 12345);
	assert_int_equal(d.nlocks, 1);
	assert_int_equal(d.locks[0].end, UINT64_MAX);
	assert_int_equal(d.locks[0].pid, 1234);
	migr_state_free(&d);
	migr_state_free(&s);
	free(buf);
}

/* Every strict prefix of a valid stream, and every single-bit flip, is refused. */
static void test_truncated_and_flipped(void **state)
{
	struct migr_state s, d;
	uint8_t *buf;
	size_t len;

	fill(&s);
	encode(&s, &buf, &len);
	for (size_t i = 0; i < len; i++) {
		assert_int_not_equal(migr_state_decode(buf, i, &d, NULL, 0), 0);
		migr_state_free(&d);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int r;

			buf[i] ^= (uint8_t)(1u << bit);
			r = migr_state_decode(buf, len, &d, NULL, 0);
			migr_state_free(&d);
			buf[i] ^= (uint8_t)(1u << bit);
			/* A flip in the minor version is compatible; everything else is caught. */
			if (i == 10 || i == 11)
				continue;
			if (i == 9 || (i == 8 && bit > 0)) {
				assert_int_not_equal(r, 0);
				continue;
			}
			if (r == 0)
				fail_msg("flip of byte %zu bit %d accepted", i, bit);
		}
	}
	migr_state_free(&s);
	free(buf);
}

static void test_newer_major(void **state)
{
	struct migr_state s, d;
	uint8_t *buf;
	size_t len;
	char err[256] = "";

	fill(&s);
	encode(&s, &buf, &len);
	buf[8] = MIGR_VERSION_MAJOR + 1;
	assert_int_equal(migr_state_decode(buf, len, &d, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "newer"));
	migr_state_free(&d);
	migr_state_free(&s);
	free(buf);
}

/* A newer minor version may add record types: they are skipped. */
static void test_unknown_record_skipped(void **state)
{
	struct migr_state s, d;
	uint8_t *buf, *nb;
	size_t len, nlen;
	uint32_t crc;
	static const uint8_t extra[] = { 0x00, 0x70, 0, 0, 3, 0, 0, 0, 'x', 'y', 'z' };

	fill(&s);
	encode(&s, &buf, &len);
	/* Insert the record before END (last 16 bytes), fix the count and the CRC. */
	nlen = len + sizeof(extra);
	nb = malloc(nlen);
	memcpy(nb, buf, len - 16);
	memcpy(nb + len - 16, extra, sizeof(extra));
	memcpy(nb + len - 16 + sizeof(extra), buf + len - 16, 16);
	nb[nlen - 8] += 1; /* count (little-endian, small) */
	crc = migr_crc32(0, nb, nlen - 16);
	for (int i = 0; i < 4; i++)
		nb[nlen - 4 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(migr_state_decode(nb, nlen, &d, NULL, 0), 0);
	assert_int_equal(d.ninodes, 2);
	migr_state_free(&d);
	migr_state_free(&s);
	free(buf);
	free(nb);
}

/* A 1.0 stream (session record without the share's identity) still loads. */
static void test_minor_1_0(void **state)
{
	static const uint8_t sess[] = { 1, 0, 0, 0, 41, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0,
					0, 0, 0x10, 0, 0, 0, 0, 0 };
	uint8_t buf[128];
	size_t n = 0;
	uint32_t crc;
	struct migr_state d;

	memcpy(buf, "VUFSMIGR\1\0\0\0\0\0\0\0", 16);
	n = 16;
	memcpy(buf + n, "\1\0\0\0\x18\0\0\0", 8);
	n += 8;
	memcpy(buf + n, sess, sizeof(sess));
	n += sizeof(sess);
	crc = migr_crc32(0, buf, n);
	memcpy(buf + n, "\xff\xff\0\0\x08\0\0\0\1\0\0\0", 12);
	n += 12;
	for (int i = 0; i < 4; i++)
		buf[n++] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(migr_state_decode(buf, n, &d, NULL, 0), 0);
	assert_int_equal(d.session.minor, 41);
	assert_int_equal(d.session.flags, 0x1234);
	assert_int_equal(d.session.max_write, 1 << 20);
	assert_int_equal(d.session.share_ino, 0);
	migr_state_free(&d);
}

static void test_paths(void **state)
{
	assert_true(migr_path_ok("", 0));
	assert_true(migr_path_ok("a", 1));
	assert_true(migr_path_ok("a/b.c/..d", 9));
	assert_false(migr_path_ok("/a", 2));
	assert_false(migr_path_ok("a/", 2));
	assert_false(migr_path_ok("a//b", 4));
	assert_false(migr_path_ok("a/../b", 6));
	assert_false(migr_path_ok("..", 2));
	assert_false(migr_path_ok(".", 1));
	assert_false(migr_path_ok("a/.", 3));
	assert_false(migr_path_ok("a\0b", 3));
}

static void test_bad_add(void **state)
{
	struct migr_state s;
	struct migr_inode in = { .nodeid = 5, .nlookup = 1, .path = "../etc" };

	migr_state_init(&s);
	assert_int_equal(migr_state_add_inode(&s, &in), -EINVAL);
	in.path = NULL;
	in.fh_bytes = MIGR_MAX_FH + 1;
	assert_int_equal(migr_state_add_inode(&s, &in), -EINVAL);
	migr_state_free(&s);
}

/* A large state (100,000 inodes) encodes and decodes. */
static void test_large(void **state)
{
	struct migr_state s, d;
	uint8_t *buf;
	size_t len;
	char path[64];

	migr_state_init(&s);
	for (unsigned i = 0; i < 100000; i++) {
		struct migr_inode in = { .nodeid = (1ull << 32) | (i + 2), .nlookup = 1,
					 .mode = 0100000, .path = path };

		snprintf(path, sizeof(path), "d%u/f%u", i / 1000, i);
		assert_int_equal(migr_state_add_inode(&s, &in), 0);
	}
	encode(&s, &buf, &len);
	assert_int_equal(migr_state_decode(buf, len, &d, NULL, 0), 0);
	assert_int_equal(d.ninodes, 100000);
	assert_string_equal(d.inodes[99999].path, "d99/f99999");
	migr_state_free(&d);
	migr_state_free(&s);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_newer_major),
		cmocka_unit_test(test_unknown_record_skipped),
		cmocka_unit_test(test_minor_1_0),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_bad_add),
		cmocka_unit_test(test_large),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
