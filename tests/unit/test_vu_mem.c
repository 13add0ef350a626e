// SPDX-License-Identifier: MIT
/* Unit tests for src/vu/vu_mem.c: regions backed by memfds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"
#include "vu_mem.h"

#define MEMFD_SIZE (1u << 20)

struct fixture {
	struct vu_mem m;
	int fd;  /* MEMFD_SIZE bytes, byte i == (uint8_t)(i * 31 + 7) */
	int fd2; /* MEMFD_SIZE bytes, byte i == (uint8_t)(i * 17 + 1) */
};

static uint8_t pat1(uint64_t i)
{
	return (uint8_t)(i * 31 + 7);
}

static uint8_t pat2(uint64_t i)
{
	return (uint8_t)(i * 17 + 1);
}

static int fill(int fd, uint8_t (*pat)(uint64_t))
{
	uint8_t *buf = malloc(MEMFD_SIZE);

	for (uint64_t i = 0; i < MEMFD_SIZE; i++)
		buf[i] = pat(i);
	assert_int_equal(pwrite(fd, buf, MEMFD_SIZE, 0), MEMFD_SIZE);
	free(buf);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	vu_mem_init(&f->m);
	f->fd = unit_memfd(MEMFD_SIZE);
	f->fd2 = unit_memfd(MEMFD_SIZE);
	fill(f->fd, pat1);
	fill(f->fd2, pat2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_mem_fini(&f->m);
	close(f->fd);
	close(f->fd2);
	free(f);
	return 0;
}

static struct vhost_user_mem_region reg(uint64_t gpa, uint64_t size, uint64_t qva, uint64_t off)
{
	return (struct vhost_user_mem_region){
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = qva,
		.mmap_offset = off,
	};
}

#define GPA0 0x100000ull
#define QVA0 0x7f0000000000ull
#define SIZE0 0x10000ull
#define OFF0 0x3001ull /* unaligned on purpose */

static void test_translate(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region r = reg(GPA0, SIZE0, QVA0, OFF0);
	uint64_t len;
	void *hva = NULL;

	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), 0);
	assert_int_equal(vu_mem_nregions(&f->m), 1);

	/* Start of the region is byte OFF0 of the fd. */
	len = 16;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0, &len, &hva), 0);
	assert_int_equal(len, 16);
	assert_int_equal(*(uint8_t *)hva, pat1(OFF0));
	/* Inside, by gpa and by qva: the same host byte. */
	len = 100;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0 + 0x1234, &len, &hva), 0);
	assert_int_equal(len, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(((uint8_t *)hva)[i], pat1(OFF0 + 0x1234 + i));
	{
		void *hva2 = NULL;

		len = 100;
		assert_int_equal(vu_mem_qva_to_hva(&f->m, QVA0 + 0x1234, &len, &hva2), 0);
		assert_ptr_equal(hva, hva2);
	}
	/* Writes through the mapping reach the fd (MAP_SHARED). */
	*(uint8_t *)hva = 0xee;
	{
		uint8_t b;

		assert_int_equal(pread(f->fd, &b, 1, OFF0 + 0x1234), 1);
		assert_int_equal(b, 0xee);
	}

	/* len clamped at the region end. */
	len = 0x1000;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0 + SIZE0 - 10, &len, &hva), 0);
	assert_int_equal(len, 10);
	len = UINT64_MAX;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0, &len, &hva), 0);
	assert_int_equal(len, SIZE0);
	/* Last byte. */
	len = 2;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0 + SIZE0 - 1, &len, &hva), 0);
	assert_int_equal(len, 1);
	assert_int_equal(*(uint8_t *)hva, pat1(OFF0 + SIZE0 - 1));

	/* Below, at the end, above, far away, and zero length. */
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0 - 1, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0 + SIZE0, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, UINT64_MAX, &len, &hva), -EFAULT);
	len = 0;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, GPA0, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_qva_to_hva(&f->m, QVA0 - 1, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_qva_to_hva(&f->m, QVA0 + SIZE0, &len, &hva), -EFAULT);
	/* A gpa is not a qva and vice versa. */
	len = 1;
	assert_int_equal(vu_mem_qva_to_hva(&f->m, GPA0, &len, &hva), -EFAULT);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, QVA0, &len, &hva), -EFAULT);

	/* Contiguous: whole region yes, one byte more no. */
	assert_non_null(vu_mem_gpa_contig(&f->m, GPA0, SIZE0));
	assert_null(vu_mem_gpa_contig(&f->m, GPA0, SIZE0 + 1));
	assert_null(vu_mem_gpa_contig(&f->m, GPA0 + 1, SIZE0));
	assert_null(vu_mem_gpa_contig(&f->m, GPA0, 0));
	assert_non_null(vu_mem_qva_contig(&f->m, QVA0 + SIZE0 - 4, 4));
	assert_null(vu_mem_qva_contig(&f->m, QVA0 + SIZE0 - 4, 5));
	assert_null(vu_mem_qva_contig(&f->m, QVA0 + SIZE0 - 4, UINT64_MAX));
}

static void test_add_rejects(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region r;

	/* Zero size. */
	r = reg(GPA0, 0, QVA0, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	/* gpa + size wraps. */
	r = reg(UINT64_MAX - 0xfff, 0x2000, QVA0, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x1000, UINT64_MAX, QVA0, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	/* qva + size wraps. */
	r = reg(GPA0, 0x2000, UINT64_MAX - 0x10, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	/* mmap_offset + size wraps. */
	r = reg(GPA0, 0x2000, QVA0, UINT64_MAX - 0x1000);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	/* Size not mappable at all. */
	r = reg(0, 1ull << 62, QVA0, 0);
	assert_true(vu_mem_add(&f->m, &r, f->fd) < 0);
	/* Bad fd: the mmap errno, nothing added. */
	r = reg(GPA0, 0x2000, QVA0, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, -1), -EBADF);
	assert_int_equal(vu_mem_nregions(&f->m), 0);
	/* The fd is not consumed. */
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), 0);
	assert_true(unit_fd_open(f->fd));
}

static void test_overlap(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region a = reg(0x10000, 0x10000, 0x7f0000010000, 0);
	struct vhost_user_mem_region r;

	assert_int_equal(vu_mem_add(&f->m, &a, f->fd), 0);
	/* Same, contained, containing, straddling either end: all rejected. */
	r = reg(0x10000, 0x10000, 0x1000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x14000, 0x1000, 0x1000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x0, 0x40000, 0x1000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x8000, 0x9000, 0x1000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x1ffff, 0x1000, 0x1000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	/* gpa free but qva overlapping. */
	r = reg(0x100000, 0x1000, 0x7f000001f000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	assert_int_equal(vu_mem_nregions(&f->m), 1);
	/* Adjacent on both sides is fine. */
	r = reg(0x20000, 0x1000, 0x7f0000020000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), 0);
	r = reg(0xf000, 0x1000, 0x7f000000f000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), 0);
	assert_int_equal(vu_mem_nregions(&f->m), 3);
}

/*
 * Regions near the top of the address space: one that would end at 2^64
 * (gpa + size wraps to 0) is refused; one just below works, and overlap
 * checks on it do not wrap.
 */
static void test_overlap_at_top(void **state)
{
	struct fixture *f = *state;
	const uint64_t top_gpa = UINT64_MAX - 0x1000; /* [top_gpa, UINT64_MAX) */
	struct vhost_user_mem_region top = reg(top_gpa, 0x1000, 0x10000000, 0);
	struct vhost_user_mem_region r;
	uint64_t len = 0x1000;
	void *hva;

	r = reg(UINT64_MAX - 0xfff, 0x1000, 0x10000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x10000, 0x1000, UINT64_MAX - 0xfff, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	r = reg(0x10000, 0x1000, 0x10000000, UINT64_MAX - 0xfff);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);

	assert_int_equal(vu_mem_add(&f->m, &top, f->fd), 0);
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, UINT64_MAX - 1, &len, &hva), 0);
	assert_int_equal(len, 1);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, UINT64_MAX, &len, &hva), -EFAULT);
	/* The very same gpa range, at another qva. */
	r = reg(top_gpa, 0x1000, 0x20000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), -EINVAL);
	/* A range straddling the top region's start. */
	r = reg(top_gpa - 0x800, 0x1000, 0x30000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), -EINVAL);
	/* Just below it: fine. */
	r = reg(top_gpa - 0x1000, 0x1000, 0x40000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), 0);
	/* Same for the qva side. */
	vu_mem_clear(&f->m);
	top = reg(0x6000000, 0x1000, UINT64_MAX - 0x1000, 0);
	assert_int_equal(vu_mem_add(&f->m, &top, f->fd), 0);
	r = reg(0x7000000, 0x1000, UINT64_MAX - 0x1000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), -EINVAL);
	r = reg(0x7000000, 0x1000, UINT64_MAX - 0x1800, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd2), -EINVAL);
	assert_int_equal(vu_mem_nregions(&f->m), 1);
}

static void test_two_regions_contig(void **state)
{
	struct fixture *f = *state;
	/* Adjacent in gpa and qva, backed by different fds. */
	struct vhost_user_mem_region a = reg(0x0, 0x1000, 0x400000, 0x2000);
	struct vhost_user_mem_region b = reg(0x1000, 0x1000, 0x401000, 0x5000);
	uint64_t len;
	void *hva;

	assert_int_equal(vu_mem_add(&f->m, &a, f->fd), 0);
	assert_int_equal(vu_mem_add(&f->m, &b, f->fd2), 0);

	len = 200;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0xf80, &len, &hva), 0);
	assert_int_equal(len, 0x80);
	assert_int_equal(*(uint8_t *)hva, pat1(0x2000 + 0xf80));
	len = 200;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x1000, &len, &hva), 0);
	assert_int_equal(len, 200);
	assert_int_equal(*(uint8_t *)hva, pat2(0x5000));
	/* Across the boundary: not contiguous in our mappings. */
	assert_null(vu_mem_gpa_contig(&f->m, 0xf80, 0x100));
	assert_null(vu_mem_qva_contig(&f->m, 0x400f80, 0x100));
	assert_non_null(vu_mem_gpa_contig(&f->m, 0xf80, 0x80));
	assert_non_null(vu_mem_gpa_contig(&f->m, 0x1000, 0x1000));
	assert_ptr_equal(vu_mem_qva_contig(&f->m, 0x401000, 8), vu_mem_gpa_contig(&f->m, 0x1000, 8));
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region a = reg(0x0, 0x1000, 0x400000, 0);
	struct vhost_user_mem_region b = reg(0x10000, 0x2000, 0x500000, 0);
	struct vhost_user_mem_region c = reg(0x20000, 0x1000, 0x600000, 0);
	struct vhost_user_mem_region r;
	uint64_t len;
	void *hva;

	assert_int_equal(vu_mem_add(&f->m, &a, f->fd), 0);
	assert_int_equal(vu_mem_add(&f->m, &b, f->fd), 0);
	assert_int_equal(vu_mem_add(&f->m, &c, f->fd2), 0);
	/* Needs gpa and size to match exactly. */
	r = reg(0x10000, 0x1000, 0x500000, 0);
	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT);
	r = reg(0x10001, 0x2000, 0x500000, 0);
	assert_int_equal(vu_mem_remove(&f->m, &r), -ENOENT);
	assert_int_equal(vu_mem_remove(&f->m, &b), 0);
	assert_int_equal(vu_mem_nregions(&f->m), 2);
	assert_int_equal(vu_mem_remove(&f->m, &b), -ENOENT);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x10000, &len, &hva), -EFAULT);
	/* The others still translate, to their own fds. */
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x20000, &len, &hva), 0);
	assert_int_equal(*(uint8_t *)hva, pat2(0));
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x0, &len, &hva), 0);
	assert_int_equal(*(uint8_t *)hva, pat1(0));
	/* The freed range can be added again. */
	assert_int_equal(vu_mem_add(&f->m, &b, f->fd2), 0);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x10000, &len, &hva), 0);
	assert_int_equal(*(uint8_t *)hva, pat2(0));
	vu_mem_clear(&f->m);
	assert_int_equal(vu_mem_nregions(&f->m), 0);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x0, &len, &hva), -EFAULT);
}

static void test_max_slots(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region r;
	uint64_t len;
	void *hva;

	for (unsigned i = 0; i < VU_MEM_MAX_SLOTS; i++) {
		r = reg(i * 0x10000ull, 0x1000, 0x40000000 + i * 0x10000ull, (i % 256) * 0x1000ull);
		assert_int_equal(vu_mem_add(&f->m, &r, f->fd), 0);
	}
	assert_int_equal(vu_mem_nregions(&f->m), VU_MEM_MAX_SLOTS);
	r = reg(0x10000000, 0x1000, 0x20000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -ENOSPC);
	for (unsigned i = 0; i < VU_MEM_MAX_SLOTS; i++) {
		len = 1;
		assert_int_equal(vu_mem_gpa_to_hva(&f->m, i * 0x10000ull + 5, &len, &hva), 0);
		assert_int_equal(*(uint8_t *)hva, pat1(i * 0x1000ull + 5));
	}
	/* A freed slot can be used again. */
	r = reg(0x30000, 0x1000, 0, 0);
	assert_int_equal(vu_mem_remove(&f->m, &r), 0);
	r = reg(0x10000000, 0x1000, 0x20000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), 0);
}

/*
 * 512 regions added in a scrambled order, each backed by its own page of
 * the fd: every address finds its own region (binary search on both
 * indexes), gaps find none, and removing every other one keeps the rest.
 */
static void test_many_slots_sorted(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region r;
	uint64_t len;
	void *hva;

	for (unsigned k = 0; k < VU_MEM_MAX_SLOTS; k++) {
		unsigned i = (k * 197u) % VU_MEM_MAX_SLOTS; /* 197 is prime to 512 */

		/* gpa ascending with i, qva descending: the two indexes differ. */
		r = reg(0x100000ull + i * 0x2000ull, 0x1000,
			0x7f0000000000ull - i * 0x2000ull, (i % 256) * 0x1000ull);
		assert_int_equal(vu_mem_add(&f->m, &r, f->fd), 0);
	}
	assert_int_equal(vu_mem_nregions(&f->m), VU_MEM_MAX_SLOTS);
	r = reg(0x10000000, 0x1000, 0x20000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -ENOSPC);
	for (unsigned i = 0; i < VU_MEM_MAX_SLOTS; i++) {
		len = 0x2000;
		assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x100000ull + i * 0x2000ull + 7, &len, &hva),
				 0);
		assert_int_equal(len, 0x1000 - 7);
		assert_int_equal(*(uint8_t *)hva, pat1((i % 256) * 0x1000ull + 7));
		len = 1;
		assert_int_equal(vu_mem_qva_to_hva(&f->m, 0x7f0000000000ull - i * 0x2000ull + 9, &len,
						   &hva), 0);
		assert_int_equal(*(uint8_t *)hva, pat1((i % 256) * 0x1000ull + 9));
		/* The gap after each region. */
		len = 1;
		assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x100000ull + i * 0x2000ull + 0x1000, &len,
						   &hva), -EFAULT);
		len = 1;
		assert_int_equal(vu_mem_qva_to_hva(&f->m, 0x7f0000000000ull - i * 0x2000ull + 0x1000,
						   &len, &hva), -EFAULT);
	}
	/* Overlaps are found among many neighbours. */
	r = reg(0x100000ull + 100 * 0x2000ull + 0xfff, 0x10, 0x10000000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, f->fd), -EINVAL);
	for (unsigned i = 0; i < VU_MEM_MAX_SLOTS; i += 2) {
		r = reg(0x100000ull + i * 0x2000ull, 0x1000, 0, 0);
		assert_int_equal(vu_mem_remove(&f->m, &r), 0);
	}
	assert_int_equal(vu_mem_nregions(&f->m), VU_MEM_MAX_SLOTS / 2);
	for (unsigned i = 0; i < VU_MEM_MAX_SLOTS; i++) {
		len = 1;
		assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x100000ull + i * 0x2000ull, &len, &hva),
				 i % 2 ? 0 : -EFAULT);
		len = 1;
		assert_int_equal(vu_mem_qva_to_hva(&f->m, 0x7f0000000000ull - i * 0x2000ull, &len, &hva),
				 i % 2 ? 0 : -EFAULT);
	}
	assert_int_equal(vu_mem_pending(&f->m), 0);
}

/*
 * Read-copy-update: a reader inside its section keeps seeing the mapping it
 * translated after the region is removed; the change does not wait for it,
 * and the mapping goes when the reader leaves.
 */
static void test_reader_defers_unmap(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region a = reg(0x0, 0x1000, 0x400000, 0);
	struct vhost_user_mem_region b = reg(0x10000, 0x1000, 0x500000, 0);
	struct vu_mem_reader *rd, *idle;
	volatile uint8_t *p;
	uint64_t len = 1;
	void *hva;

	assert_int_equal(vu_mem_reader_register(&f->m, &rd), 0);
	assert_int_equal(vu_mem_reader_register(&f->m, &idle), 0);
	assert_int_equal(vu_mem_add(&f->m, &a, f->fd), 0);
	assert_int_equal(vu_mem_add(&f->m, &b, f->fd2), 0);
	assert_int_equal(vu_mem_pending(&f->m), 0); /* no reader inside: freed at once */

	vu_mem_read_enter(rd);
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x10000, &len, &hva), 0);
	p = hva;
	assert_int_equal(vu_mem_remove(&f->m, &b), 0); /* returns at once */
	assert_int_equal(vu_mem_pending(&f->m), 1);
	/* New translations miss; the old pointer still reads the fd's data. */
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x10000, &len, &hva), -EFAULT);
	assert_int_equal(p[0], pat2(0));
	/* More changes while the reader is inside: all wait. */
	assert_int_equal(vu_mem_add(&f->m, &b, f->fd2), 0);
	assert_int_equal(vu_mem_pending(&f->m), 2);
	/* The idle reader entering now sees the new table and does not hold the old ones. */
	vu_mem_read_enter(idle);
	vu_mem_read_leave(rd);
	vu_mem_reclaim(&f->m);
	assert_int_equal(vu_mem_pending(&f->m), 0);
	len = 1;
	assert_int_equal(vu_mem_gpa_to_hva(&f->m, 0x10000, &len, &hva), 0);
	vu_mem_read_leave(idle);
	/* A clear while a reader is inside is deferred as well. */
	vu_mem_read_enter(rd);
	vu_mem_clear(&f->m);
	assert_int_equal(vu_mem_nregions(&f->m), 0);
	assert_int_equal(vu_mem_pending(&f->m), 1);
	vu_mem_read_leave(rd);
	vu_mem_reader_unregister(&f->m, rd);
	vu_mem_reader_unregister(&f->m, idle);
	assert_int_equal(vu_mem_pending(&f->m), 0);
}

/* A file-backed region may end inside the file's last page, not past it (SIGBUS). */
static void test_region_past_eof(void **state)
{
	struct fixture *f = *state;
	int fd = unit_memfd(5000);
	struct vhost_user_mem_region r = reg(0x0, 8192, 0x400000, 0);

	(void)f;
	assert_int_equal(vu_mem_add(&f->m, &r, fd), 0);
	r = reg(0x10000, 4096, 0x500000, 8192);
	assert_int_equal(vu_mem_add(&f->m, &r, fd), -EINVAL);
	r = reg(0x10000, 12288, 0x500000, 0);
	assert_int_equal(vu_mem_add(&f->m, &r, fd), -EINVAL);
	close(fd);
}

static void test_reader_slots(void **state)
{
	struct fixture *f = *state;
	struct vu_mem_reader *rd[VU_MEM_MAX_READERS], *extra;

	for (unsigned i = 0; i < VU_MEM_MAX_READERS; i++)
		assert_int_equal(vu_mem_reader_register(&f->m, &rd[i]), 0);
	assert_int_equal(vu_mem_reader_register(&f->m, &extra), -ENOSPC);
	vu_mem_reader_unregister(&f->m, rd[5]);
	assert_int_equal(vu_mem_reader_register(&f->m, &extra), 0);
	assert_ptr_equal(extra, rd[5]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_translate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_at_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_regions_contig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_slots_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_defers_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_past_eof, setup, teardown),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
