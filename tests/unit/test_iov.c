// SPDX-License-Identifier: MIT
/* Unit tests for src/util/iov.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <sys/uio.h>

#include "iov.h"
#include "unit.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })

static void test_size(void **state)
{
	char a[4], b[8];
	struct iovec v[] = { IOV(a, 4), IOV(NULL, 0), IOV(b, 8) };
	struct iovec sat[] = { IOV(a, SIZE_MAX - 1), IOV(b, 5), IOV(b, 1) };
	struct iovec exact[] = { IOV(a, SIZE_MAX - 8), IOV(b, 8) };
	struct iovec one_max[] = { IOV(a, SIZE_MAX), IOV(NULL, 0) };
	struct iovec after_max[] = { IOV(a, SIZE_MAX), IOV(b, 1), IOV(b, SIZE_MAX) };

	(void)state;
	assert_int_equal(iov_size(v, 0), 0);
	assert_int_equal(iov_size(v, 1), 4);
	assert_int_equal(iov_size(v, 3), 12);
	/* Saturates instead of wrapping. */
	assert_true(iov_size(sat, 2) == SIZE_MAX);
	assert_true(iov_size(sat, 3) == SIZE_MAX);
	assert_true(iov_size(exact, 2) == SIZE_MAX);
	assert_true(iov_size(one_max, 2) == SIZE_MAX);
	assert_true(iov_size(after_max, 3) == SIZE_MAX);
}

static void test_to_buf(void **state)
{
	struct iovec v[] = { IOV("abc", 3), IOV("", 0), IOV("defg", 4), IOV("hi", 2) };
	char out[32];

	(void)state;
	memset(out, 0, sizeof(out));
	assert_int_equal(iov_to_buf(v, 4, 0, out, sizeof(out)), 9);
	assert_memory_equal(out, "abcdefghi", 9);

	/* Offset inside the first entry, crossing the empty one and the third. */
	memset(out, 0, sizeof(out));
	assert_int_equal(iov_to_buf(v, 4, 2, out, 5), 5);
	assert_memory_equal(out, "cdefg", 5);
	assert_int_equal(out[5], 0); /* nothing beyond @len */

	/* Offset landing exactly on an entry boundary. */
	memset(out, 0, sizeof(out));
	assert_int_equal(iov_to_buf(v, 4, 3, out, 3), 3);
	assert_memory_equal(out, "def", 3);
	assert_int_equal(iov_to_buf(v, 4, 7, out, 10), 2);
	assert_memory_equal(out, "hi", 2);

	/* At or beyond the end, and an empty request. */
	assert_int_equal(iov_to_buf(v, 4, 9, out, 10), 0);
	assert_int_equal(iov_to_buf(v, 4, SIZE_MAX, out, 10), 0);
	assert_int_equal(iov_to_buf(v, 4, 0, out, 0), 0);
	assert_int_equal(iov_to_buf(v, 0, 0, out, 10), 0);
	/* Only the first @cnt entries count. */
	assert_int_equal(iov_to_buf(v, 2, 0, out, 10), 3);
}

static void test_from_buf(void **state)
{
	char a[3], b[4], c[2], guard[4];
	struct iovec v[] = { IOV(a, 3), IOV(guard, 0), IOV(b, 4), IOV(c, 2) };

	(void)state;
	memset(a, '.', 3);
	memset(b, '.', 4);
	memset(c, '.', 2);
	memset(guard, 'G', 4);

	assert_int_equal(iov_from_buf(v, 4, 2, "XYZUV", 5), 5);
	assert_memory_equal(a, "..X", 3);
	assert_memory_equal(b, "YZUV", 4);
	assert_memory_equal(c, "..", 2);
	assert_memory_equal(guard, "GGGG", 4); /* zero-length entry never written */

	/* More data than room: stops at the end. */
	assert_int_equal(iov_from_buf(v, 4, 6, "0123456789", 10), 3);
	assert_memory_equal(b, "YZU0", 4);
	assert_memory_equal(c, "12", 2);
	assert_int_equal(iov_from_buf(v, 4, 9, "x", 1), 0);
	assert_int_equal(iov_from_buf(v, 4, SIZE_MAX, "x", 1), 0);
	assert_int_equal(iov_from_buf(v, 4, 0, "x", 0), 0);
	assert_memory_equal(a, "..X", 3);
}

static void test_window(void **state)
{
	char a[10], b[10], c[10];
	struct iovec v[] = { IOV(a, 10), IOV(NULL, 0), IOV(b, 10), IOV(c, 10) };
	struct iovec dst[4];
	size_t got = 12345;
	unsigned n;

	(void)state;
	/* Window inside one entry. */
	n = iov_window(v, 4, 2, 5, dst, 4, &got);
	assert_int_equal(n, 1);
	assert_int_equal(got, 5);
	assert_ptr_equal(dst[0].iov_base, a + 2);
	assert_int_equal(dst[0].iov_len, 5);

	/* Partial first and last entries; the empty entry is not copied. */
	n = iov_window(v, 4, 7, 16, dst, 4, &got);
	assert_int_equal(n, 3);
	assert_int_equal(got, 16);
	assert_ptr_equal(dst[0].iov_base, a + 7);
	assert_int_equal(dst[0].iov_len, 3);
	assert_ptr_equal(dst[1].iov_base, b);
	assert_int_equal(dst[1].iov_len, 10);
	assert_ptr_equal(dst[2].iov_base, c);
	assert_int_equal(dst[2].iov_len, 3);

	/* dst_max limits the window: got is short. */
	n = iov_window(v, 4, 7, 16, dst, 2, &got);
	assert_int_equal(n, 2);
	assert_int_equal(got, 13);
	n = iov_window(v, 4, 0, 30, dst, 0, &got);
	assert_int_equal(n, 0);
	assert_int_equal(got, 0);

	/* The source ends first. */
	n = iov_window(v, 4, 25, 100, dst, 4, &got);
	assert_int_equal(n, 1);
	assert_int_equal(got, 5);
	assert_ptr_equal(dst[0].iov_base, c + 5);
	assert_int_equal(dst[0].iov_len, 5);

	/* Beyond the end, and empty windows. */
	n = iov_window(v, 4, 30, 1, dst, 4, &got);
	assert_int_equal(n, 0);
	assert_int_equal(got, 0);
	n = iov_window(v, 4, 3, 0, dst, 4, &got);
	assert_int_equal(n, 0);
	assert_int_equal(got, 0);
	/* Starting at a boundary: begins with the next entry. */
	n = iov_window(v, 4, 10, 10, dst, 4, &got);
	assert_int_equal(n, 1);
	assert_ptr_equal(dst[0].iov_base, b);
	assert_int_equal(got, 10);
}

static int tmpfile_fd(void)
{
	char path[] = "/tmp/vufs-unit-iov-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/*
 * Many iovecs (more than IOV_MAX), sizes 0..3 bytes, over one buffer.
 * Returns the count; @buf must hold the total.
 */
static unsigned make_many(struct iovec *v, unsigned cnt, char *buf, size_t *total)
{
	size_t off = 0;

	for (unsigned i = 0; i < cnt; i++) {
		size_t len = i % 4; /* every fourth is zero-length */

		v[i] = IOV(buf + off, len);
		off += len;
	}
	*total = off;
	return cnt;
}

static void test_pwritev_preadv_many(void **state)
{
	enum { CNT = 3 * IOV_MAX + 17 };
	struct iovec *v = calloc(CNT, sizeof(*v));
	struct iovec *copy = calloc(CNT, sizeof(*v));
	char *src = malloc(CNT * 4), *dst = malloc(CNT * 4), *check = malloc(CNT * 4);
	size_t total;
	int fd = tmpfile_fd();

	(void)state;
	assert_non_null(v);
	assert_non_null(src);
	assert_non_null(dst);
	assert_non_null(check);
	make_many(v, CNT, src, &total);
	for (size_t i = 0; i < total; i++)
		src[i] = (char)(i * 7 + 3);
	memcpy(copy, v, CNT * sizeof(*v));

	assert_int_equal(iov_pwritev_full(fd, v, CNT, 100), (ssize_t)total);
	/* The caller's iovecs are not modified. */
	assert_memory_equal(copy, v, CNT * sizeof(*v));
	assert_int_equal(pread(fd, check, total + 10, 100), (ssize_t)total);
	assert_memory_equal(check, src, total);

	make_many(v, CNT, dst, &total);
	memset(dst, 0, CNT * 4);
	memcpy(copy, v, CNT * sizeof(*v));
	assert_int_equal(iov_preadv_full(fd, v, CNT, 100), (ssize_t)total);
	assert_memory_equal(copy, v, CNT * sizeof(*v));
	assert_memory_equal(dst, src, total);

	close(fd);
	free(v);
	free(copy);
	free(src);
	free(dst);
	free(check);
}

static void test_preadv_short_at_eof(void **state)
{
	enum { CNT = IOV_MAX + 50 };
	struct iovec *v = calloc(CNT, sizeof(*v));
	char *dst = calloc(CNT, 4);
	char data[1500];
	size_t total;
	int fd = tmpfile_fd();

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i ^ 0x5a);
	assert_int_equal(pwrite(fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
	make_many(v, CNT, dst, &total);
	assert_true(total > sizeof(data) + 10);

	/* File ends inside the first batch. */
	assert_int_equal(iov_preadv_full(fd, v, CNT, 10), (ssize_t)sizeof(data) - 10);
	assert_memory_equal(dst, data + 10, sizeof(data) - 10);
	assert_int_equal(dst[sizeof(data) - 10], 0); /* nothing past EOF */

	/* At and beyond EOF: 0 bytes, not an error. */
	assert_int_equal(iov_preadv_full(fd, v, CNT, sizeof(data)), 0);
	assert_int_equal(iov_preadv_full(fd, v, CNT, 1 << 30), 0);

	/* A file that ends inside the second batch of IOV_MAX. */
	{
		size_t first_batch = 0;
		char *big = malloc(total);

		for (unsigned i = 0; i < IOV_MAX; i++)
			first_batch += v[i].iov_len;
		for (size_t i = 0; i < total; i++)
			big[i] = (char)(i * 13);
		assert_int_equal(pwrite(fd, big, first_batch + 7, 0), (ssize_t)(first_batch + 7));
		memset(dst, 0, CNT * 4);
		assert_int_equal(iov_preadv_full(fd, v, CNT, 0), (ssize_t)(first_batch + 7));
		assert_memory_equal(dst, big, first_batch + 7);
		free(big);
	}
	close(fd);
	free(v);
	free(dst);
}

static void test_rw_zero_and_errors(void **state)
{
	struct iovec zeros[3] = { IOV(NULL, 0), IOV(NULL, 0), IOV(NULL, 0) };
	char buf[8] = "abcdefg";
	struct iovec one = IOV(buf, sizeof(buf));
	int fd = tmpfile_fd();
	int rfd;
	char path[64];

	(void)state;
	/* Nothing to move: 0, and no system call error. */
	assert_int_equal(iov_pwritev_full(fd, zeros, 3, 0), 0);
	assert_int_equal(iov_preadv_full(fd, zeros, 3, 0), 0);
	assert_int_equal(iov_preadv_full(fd, zeros, 0, 0), 0);

	/* Errors come back as negative errno when nothing moved. */
	assert_int_equal(iov_preadv_full(-1, &one, 1, 0), -EBADF);
	assert_int_equal(iov_pwritev_full(-1, &one, 1, 0), -EBADF);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	assert_int_equal(iov_pwritev_full(rfd, &one, 1, 0), -EBADF);
	assert_int_equal(iov_preadv_full(fd, &one, 1, -1), -EINVAL);
	close(rfd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_to_buf),
		cmocka_unit_test(test_from_buf),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_pwritev_preadv_many),
		cmocka_unit_test(test_preadv_short_at_eof),
		cmocka_unit_test(test_rw_zero_and_errors),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
