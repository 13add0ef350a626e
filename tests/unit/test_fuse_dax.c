// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/fuse/fuse_dax.c: the DAX window record against a stub
 * transport that logs every map and unmap, over memfd files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>

#include "fuse_dax.h"
#include "unit.h"

#define MiB (1ull << 20)
#define WINDOW (64 * MiB)
#define MAXR 8

struct call {
	char op; /* 'm' or 'u' */
	uint64_t foffset, moffset, len;
	bool writable;
	uint8_t head[8]; /* the first bytes mapped */
};

struct fixture {
	struct fuse_dax *dx;
	struct call calls[64];
	unsigned ncalls;
	int fail; /* the transport's answer */
	int fds_before;
	int tailfd; /* a dup of the last tail copy mapped (memfd), -1 if none */
};

static int stub_map(void *opaque, int fd, uint64_t foffset, uint64_t moffset, uint64_t len,
		    bool writable)
{
	struct fixture *f = opaque;

	struct call *c;

	assert_true(unit_fd_open(fd));
	assert_true(f->ncalls < 64);
	c = &f->calls[f->ncalls++];
	*c = (struct call){ 'm', foffset, moffset, len, writable, { 0 } };
	assert_true(pread(fd, c->head, sizeof(c->head), (off_t)foffset) >= 0);
	if (!f->fail && len == 4096 && fcntl(fd, F_GET_SEALS) >= 0) { /* a memfd: the tail copy */
		if (f->tailfd >= 0)
			close(f->tailfd);
		f->tailfd = dup(fd);
	}
	return f->fail;
}

static int stub_unmap(void *opaque, uint64_t moffset, uint64_t len)
{
	struct fixture *f = opaque;

	assert_true(f->ncalls < 64);
	f->calls[f->ncalls++] = (struct call){ 'u', 0, moffset, len, false, { 0 } };
	return f->fail;
}

static const struct fuse_dax_ops ops = { .map = stub_map, .unmap = stub_unmap };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fuse_dax_conf c = { .window = WINDOW, .max_ranges = MAXR, .min_size = MiB };

	f->fds_before = unit_count_fds();
	f->tailfd = -1;
	assert_int_equal(fuse_dax_new(&c, &ops, f, &f->dx), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fuse_dax_free(f->dx);
	if (f->tailfd >= 0)
		close(f->tailfd);
	assert_int_equal(unit_count_fds(), f->fds_before); /* every range's fd closed */
	free(f);
	return 0;
}

static void expect_call(struct fixture *f, unsigned i, char op, uint64_t moffset, uint64_t len)
{
	assert_true(i < f->ncalls);
	assert_int_equal(f->calls[i].op, op);
	assert_int_equal(f->calls[i].moffset, moffset);
	assert_int_equal(f->calls[i].len, len);
}

/* A file of @size bytes; the returned fd goes to fuse_dax_setup. */
static int file(size_t size)
{
	return unit_memfd(size);
}

static void test_new_rejects(void **state)
{
	struct fuse_dax_conf c = { .window = 3 * MiB, .max_ranges = 1 };
	struct fuse_dax *dx;

	(void)state;
	assert_int_equal(fuse_dax_new(&c, &ops, NULL, &dx), -EINVAL);
	c.window = 0;
	assert_int_equal(fuse_dax_new(&c, &ops, NULL, &dx), -EINVAL);
	c.window = 2 * MiB;
	c.max_ranges = 0;
	assert_int_equal(fuse_dax_new(&c, &ops, NULL, &dx), -EINVAL);
}

/*
 * A 2 MiB range of a 5000-byte file: the whole first page from the file, the
 * partial second page from a copy (the frontend maps nothing past the file's end).
 */
static void test_setup_maps_to_eof(void **state)
{
	struct fixture *f = *state;
	struct fuse_dax_stats st;
	int fd = file(5000);

	assert_int_equal(pwrite(fd, "tailbyte", 8, 4096), 8);
	assert_int_equal(fuse_dax_setup(f->dx, fd, 7, 0, 2 * MiB, 4 * MiB, false), 0);
	assert_int_equal(f->ncalls, 2);
	expect_call(f, 0, 'm', 4 * MiB, 4096);
	assert_int_equal(f->calls[0].foffset, 0);
	assert_false(f->calls[0].writable);
	expect_call(f, 1, 'm', 4 * MiB + 4096, 4096);
	assert_memory_equal(f->calls[1].head, "tailbyte", 8);
	/* A range wholly inside a big file maps whole, at its file offset. */
	assert_int_equal(fuse_dax_setup(f->dx, file(8 * MiB), 8, 2 * MiB, 2 * MiB, 0, true), 0);
	expect_call(f, 2, 'm', 0, 2 * MiB);
	assert_int_equal(f->calls[2].foffset, 2 * MiB);
	assert_true(f->calls[2].writable);
	/* A range past the end of the file maps nothing yet. */
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 9, 2 * MiB, 2 * MiB, 2 * MiB, true), 0);
	assert_int_equal(f->ncalls, 3);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.ranges, 3);
	assert_int_equal(st.maps, 3);
	/* Unmapping the first range unmaps its copy too. */
	assert_int_equal(fuse_dax_remove(f->dx, 4 * MiB, 2 * MiB), 0);
	expect_call(f, 3, 'u', 4 * MiB + 4096, 4096);
	expect_call(f, 4, 'u', 4 * MiB, 4096);
}

/* Stores into a writable range's tail copy reach the file on FLUSH and on unmap. */
static void test_tail_writeback(void **state)
{
	struct fixture *f = *state;
	int fd = file(100), mine = dup(fd);
	char buf[8] = { 0 };

	assert_int_equal(fuse_dax_setup(f->dx, fd, 5, 0, 2 * MiB, 0, true), 0);
	assert_int_equal(f->ncalls, 1);
	expect_call(f, 0, 'm', 0, 4096); /* only the copy: the file has no whole page */
	assert_true(f->tailfd >= 0);
	assert_int_equal(pwrite(f->tailfd, "guest", 5, 10), 5);
	fuse_dax_flush(f->dx, 6); /* another file: nothing */
	assert_int_equal(pread(mine, buf, 5, 10), 5);
	assert_memory_equal(buf, "\0\0\0\0\0", 5);
	fuse_dax_flush(f->dx, 5);
	assert_int_equal(pread(mine, buf, 5, 10), 5);
	assert_memory_equal(buf, "guest", 5);
	/* Only the file's bytes: the size stays. */
	assert_int_equal(lseek(mine, 0, SEEK_END), 100);
	assert_int_equal(pwrite(f->tailfd, "again", 5, 50), 5);
	assert_int_equal(fuse_dax_remove(f->dx, 0, 2 * MiB), 0);
	assert_int_equal(pread(mine, buf, 5, 50), 5);
	assert_memory_equal(buf, "again", 5);
	close(mine);
}

static void test_bad_ranges(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint64_t foffset, len, moffset;
	} bad[] = {
		{ 0, 0, 0 },                         /* empty */
		{ 0, 2 * MiB, WINDOW },              /* starts at the window's end */
		{ 0, 2 * MiB, WINDOW - MiB },        /* runs past it */
		{ 0, UINT64_MAX - 4095, 4096 },      /* wraps */
		{ 0, 4096, UINT64_MAX - 4095 },      /* far outside */
		{ 0, 2 * MiB + 1, 0 },               /* unaligned length */
		{ 0, 2 * MiB, 512 },                 /* unaligned window offset */
		{ 100, 2 * MiB, 0 },                 /* unaligned file offset */
		{ (uint64_t)INT64_MAX - 4095, 2 * MiB, 0 }, /* file offset + len past off_t */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fuse_dax_setup(f->dx, file(4096), 1, bad[i].foffset, bad[i].len,
						bad[i].moffset, false),
				 -EINVAL);
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(fuse_dax_remove(f->dx, WINDOW, 2 * MiB), -EINVAL);
	assert_int_equal(fuse_dax_remove(f->dx, 0, 0), -EINVAL);
	assert_int_equal(fuse_dax_remove(f->dx, UINT64_MAX - 4095, 8192), -EINVAL);
}

static void test_overlap_replace_remove(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, 2 * MiB, false), 0);
	/* Overlapping either end, or inside: refused, nothing sent. */
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, MiB, false), -EINVAL);
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, 3 * MiB, false), -EINVAL);
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 4096, 2 * MiB + 4096, false),
			 -EINVAL);
	assert_int_equal(f->ncalls, 1);
	/* Adjacent: fine. */
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, 0, false), 0);
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, 4 * MiB, false), 0);
	/* The very same range, now writable: unmapped, then mapped again. */
	f->ncalls = 0;
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 1, 0, 2 * MiB, 2 * MiB, true), 0);
	expect_call(f, 0, 'u', 2 * MiB, 2 * MiB);
	expect_call(f, 1, 'm', 2 * MiB, 2 * MiB);
	assert_true(f->calls[1].writable);
	/* Remove: exact ranges only, and once. */
	f->ncalls = 0;
	assert_int_equal(fuse_dax_remove(f->dx, 2 * MiB, MiB), -ENOENT);
	assert_int_equal(fuse_dax_remove(f->dx, 3 * MiB, MiB), -ENOENT);
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(fuse_dax_remove(f->dx, 2 * MiB, 2 * MiB), 0);
	expect_call(f, 0, 'u', 2 * MiB, 2 * MiB);
	assert_int_equal(fuse_dax_remove(f->dx, 2 * MiB, 2 * MiB), -ENOENT);
	assert_int_equal(f->ncalls, 1);
}

static void test_limit_and_failures(void **state)
{
	struct fixture *f = *state;
	struct fuse_dax_stats st;

	for (unsigned i = 0; i < MAXR; i++)
		assert_int_equal(fuse_dax_setup(f->dx, file(4096), i, 0, 2 * MiB, i * 2 * MiB, false),
				 0);
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 99, 0, 2 * MiB, MAXR * 2 * MiB, false),
			 -ENOSPC);
	assert_int_equal(fuse_dax_remove(f->dx, 0, 2 * MiB), 0);
	/* The frontend refuses: the guest gets its errno and nothing is recorded. */
	f->fail = -EIO;
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 99, 0, 2 * MiB, 0, false), -EIO);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.ranges, MAXR - 1);
	/* A failed unmap drops the range but remembers the piece as stale. */
	assert_int_equal(fuse_dax_remove(f->dx, 2 * MiB, 2 * MiB), -EIO);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.ranges, MAXR - 2);
	assert_int_equal(st.stale, 1);
	f->fail = 0;
	f->ncalls = 0;
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 5, 0, 2 * MiB, 2 * MiB, false), 0);
	expect_call(f, 0, 'u', 2 * MiB, 4096); /* the stale piece first */
	expect_call(f, 1, 'm', 2 * MiB, 4096);
}

/* Appends extend the mapping piece by piece; after FUSE_DAX_MAX_PIECES it is remapped whole. */
static void test_grow(void **state)
{
	struct fixture *f = *state;
	int fd = file(4096), mine = dup(fd);
	unsigned i;

	assert_int_equal(fuse_dax_setup(f->dx, fd, 3, 0, 2 * MiB, 6 * MiB, true), 0);
	expect_call(f, 0, 'm', 6 * MiB, 4096);
	fuse_dax_file_changed(f->dx, 4); /* another file: nothing */
	fuse_dax_file_changed(f->dx, 3); /* same size: nothing */
	assert_int_equal(f->ncalls, 1);
	for (i = 2; i <= FUSE_DAX_MAX_PIECES; i++) {
		assert_int_equal(ftruncate(mine, (off_t)(i * 4096)), 0);
		fuse_dax_file_changed(f->dx, 3);
		expect_call(f, i - 1, 'm', 6 * MiB + (i - 1) * 4096, 4096);
		assert_int_equal(f->calls[i - 1].foffset, (i - 1) * 4096);
	}
	/* Pieces used up: unmap them all, map the whole again. */
	f->ncalls = 0;
	assert_int_equal(ftruncate(mine, 3 * MiB), 0);
	fuse_dax_file_changed(f->dx, 3);
	assert_int_equal(f->ncalls, FUSE_DAX_MAX_PIECES + 1);
	expect_call(f, 0, 'u', 6 * MiB, 4096);
	expect_call(f, FUSE_DAX_MAX_PIECES, 'm', 6 * MiB, 2 * MiB); /* capped at the range */
	close(mine);
}

/* Growing to a partial page maps a copy of it after the whole pages; growing more replaces it. */
static void test_grow_tail(void **state)
{
	struct fixture *f = *state;
	int fd = file(4096), mine = dup(fd);

	assert_int_equal(fuse_dax_setup(f->dx, fd, 3, 0, 2 * MiB, 0, true), 0);
	assert_int_equal(ftruncate(mine, 4096 + 10), 0);
	fuse_dax_file_changed(f->dx, 3);
	assert_int_equal(f->ncalls, 2);
	expect_call(f, 1, 'm', 4096, 4096); /* the copy */
	assert_int_equal(ftruncate(mine, 3 * 4096 + 10), 0);
	fuse_dax_file_changed(f->dx, 3);
	expect_call(f, 2, 'u', 4096, 4096);     /* the old copy */
	expect_call(f, 3, 'm', 4096, 2 * 4096); /* the new whole pages */
	expect_call(f, 4, 'm', 3 * 4096, 4096); /* the new copy */
	assert_int_equal(f->ncalls, 5);
	close(mine);
}

/* A truncation unmaps what lies past the new end first; a piece across it is cut. */
static void test_truncate(void **state)
{
	struct fixture *f = *state;
	int fd = file(4096), mine = dup(fd);

	assert_int_equal(fuse_dax_setup(f->dx, fd, 3, 0, 2 * MiB, 0, true), 0);
	assert_int_equal(ftruncate(mine, 3 * 4096), 0);
	fuse_dax_file_changed(f->dx, 3); /* pieces [0,4K) [4K,12K) */
	f->ncalls = 0;
	/* Before the truncation to 5000: everything past the first whole page goes. */
	assert_int_equal(fuse_dax_before_truncate(f->dx, 3, 5000), 0);
	expect_call(f, 0, 'u', 4096, 8192);
	assert_int_equal(f->ncalls, 1);
	/* After it: the partial page comes back as a copy. */
	assert_int_equal(ftruncate(mine, 5000), 0);
	fuse_dax_file_changed(f->dx, 3);
	expect_call(f, 1, 'm', 4096, 4096);
	assert_int_equal(fuse_dax_before_truncate(f->dx, 3, 4096), 0);
	expect_call(f, 2, 'u', 4096, 4096);
	assert_int_equal(f->ncalls, 3);
	assert_int_equal(fuse_dax_before_truncate(f->dx, 3, 0), 0);
	expect_call(f, 3, 'u', 0, 4096);
	/* Growing a truncation is not a shrink. */
	assert_int_equal(fuse_dax_before_truncate(f->dx, 3, MiB), 0);
	assert_int_equal(f->ncalls, 4);
	/* A failed unmap stops the truncation. */
	assert_int_equal(ftruncate(mine, MiB), 0);
	fuse_dax_file_changed(f->dx, 3);
	f->fail = -ETIMEDOUT;
	assert_int_equal(fuse_dax_before_truncate(f->dx, 3, 0), -ETIMEDOUT);
	close(mine);
}

/* Reset: no frontend traffic (the control thread must not wait); the ranges become stale. */
static void test_reset_stale(void **state)
{
	struct fixture *f = *state;
	struct fuse_dax_stats st;

	assert_int_equal(fuse_dax_setup(f->dx, file(MiB), 1, 0, 2 * MiB, 0, false), 0);
	assert_int_equal(fuse_dax_setup(f->dx, file(4 * MiB), 2, 0, 2 * MiB, 2 * MiB, false), 0);
	f->ncalls = 0;
	fuse_dax_reset(f->dx);
	assert_int_equal(f->ncalls, 0);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.ranges, 0);
	assert_int_equal(st.stale, 2);
	assert_int_equal(fuse_dax_remove(f->dx, 0, 2 * MiB), -ENOENT);
	/* Mapping over a stale piece unmaps it first; a failure there does not matter. */
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 3, 0, 4096, 2 * MiB + 8192, false), 0);
	expect_call(f, 0, 'u', 2 * MiB, 2 * MiB);
	expect_call(f, 1, 'm', 2 * MiB + 8192, 4096);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.stale, 1);
}

/* Every frontend mapping is a VMM memory slot: past max_regions, ENOSPC. */
static void test_region_budget(void **state)
{
	struct fuse_dax_conf c = { .window = WINDOW, .max_ranges = MAXR, .max_regions = 3 };
	struct fixture *f = *state;
	struct fuse_dax_stats st;

	fuse_dax_free(f->dx);
	assert_int_equal(fuse_dax_new(&c, &ops, f, &f->dx), 0);
	assert_int_equal(fuse_dax_setup(f->dx, file(5000), 1, 0, 2 * MiB, 0, false), 0); /* 2 */
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 2, 0, 2 * MiB, 2 * MiB, false), 0);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.regions, 3);
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 3, 0, 2 * MiB, 4 * MiB, false), -ENOSPC);
	assert_int_equal(fuse_dax_remove(f->dx, 0, 2 * MiB), 0);
	fuse_dax_get_stats(f->dx, &st);
	assert_int_equal(st.regions, 1);
	assert_int_equal(fuse_dax_setup(f->dx, file(4096), 3, 0, 2 * MiB, 4 * MiB, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects),
		cmocka_unit_test_setup_teardown(test_setup_maps_to_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_replace_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_and_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_writeback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_budget, setup, teardown),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
