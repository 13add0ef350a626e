// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/vq/vq.c: split rings built by hand in memfd-backed
 * guest memory (layout of <linux/virtio_ring.h>), popped with vq_pop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/virtio_ring.h>

#include "unit.h"
#include "vq.h"
#include "vu_mem.h"

/* Region 0: rings, buffers, indirect tables. Region 1: adjacent in gpa, other fd. */
#define R0 0x100000ull
#define R0_SIZE 0x40000ull
#define R1 (R0 + R0_SIZE)
#define R1_SIZE 0x10000ull
#define DESC_GPA (R0 + 0x0)
#define AVAIL_GPA (R0 + 0x1000)
#define USED_GPA (R0 + 0x2000)
#define BUF_GPA (R0 + 0x4000)
#define TABLE_GPA (R0 + 0x10000)

struct fixture {
	struct vu_mem m;
	int fd0, fd1;
	struct vq q;
	struct vq_elem *e;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t num;
};

static void *g2h(struct fixture *f, uint64_t gpa)
{
	void *p = vu_mem_gpa_contig(&f->m, gpa, 1);

	assert_non_null(p);
	return p;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vhost_user_mem_region r0 = {
		.guest_phys_addr = R0, .memory_size = R0_SIZE, .userspace_addr = 0x7000000000,
	};
	struct vhost_user_mem_region r1 = {
		.guest_phys_addr = R1, .memory_size = R1_SIZE, .userspace_addr = 0x8000000000,
	};

	vu_mem_init(&f->m);
	f->fd0 = unit_memfd(R0_SIZE);
	f->fd1 = unit_memfd(R1_SIZE);
	assert_int_equal(vu_mem_add(&f->m, &r0, f->fd0), 0);
	assert_int_equal(vu_mem_add(&f->m, &r1, f->fd1), 0);
	f->e = calloc(1, sizeof(*f->e));
	f->desc = g2h(f, DESC_GPA);
	f->avail = g2h(f, AVAIL_GPA);
	f->used = g2h(f, USED_GPA);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_mem_clear(&f->m);
	close(f->fd0);
	close(f->fd1);
	free(f->e);
	free(f);
	return 0;
}

static void start(struct fixture *f, uint16_t num, uint16_t base, bool event_idx, bool indirect)
{
	f->num = num;
	vq_setup(&f->q, num, f->desc, f->avail, f->used, &f->m, base, event_idx, indirect);
}

static void set_desc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* Make chain @head available. */
static void avail_add(struct fixture *f, uint16_t head)
{
	f->avail->ring[f->avail->idx % f->num] = head;
	f->avail->idx++;
}

static uint16_t avail_event(struct fixture *f)
{
	uint16_t v;

	memcpy(&v, (char *)f->used + 4 + 8 * f->num, sizeof(v));
	return v;
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	f->avail->ring[f->num] = v;
}

static void test_direct_chain(void **state)
{
	struct fixture *f = *state;
	struct vq_elem *e = f->e;

	start(f, 8, 0, false, false);
	set_desc(f->desc, 0, BUF_GPA, 100, VRING_DESC_F_NEXT, 5);
	set_desc(f->desc, 5, BUF_GPA + 0x100, 40, VRING_DESC_F_NEXT, 2);
	set_desc(f->desc, 2, BUF_GPA + 0x1000, 200, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 7);
	set_desc(f->desc, 7, BUF_GPA + 0x2000, 300, VRING_DESC_F_WRITE, 0);
	avail_add(f, 0);

	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->head, 0);
	assert_int_equal(e->in_cnt, 2);
	assert_int_equal(e->out_cnt, 2);
	assert_int_equal(e->in_len, 140);
	assert_int_equal(e->out_len, 500);
	assert_ptr_equal(e->iov[0].iov_base, g2h(f, BUF_GPA));
	assert_int_equal(e->iov[0].iov_len, 100);
	assert_ptr_equal(e->iov[1].iov_base, g2h(f, BUF_GPA + 0x100));
	assert_int_equal(e->iov[1].iov_len, 40);
	assert_ptr_equal(vq_elem_out(e), &e->iov[2]);
	assert_ptr_equal(e->iov[2].iov_base, g2h(f, BUF_GPA + 0x1000));
	assert_int_equal(e->iov[2].iov_len, 200);
	assert_ptr_equal(e->iov[3].iov_base, g2h(f, BUF_GPA + 0x2000));
	assert_int_equal(e->iov[3].iov_len, 300);
	assert_int_equal(f->q.last_avail_idx, 1);

	/* Only-readable and only-writable chains, head not 0. */
	set_desc(f->desc, 3, BUF_GPA, 10, 0, 0);
	set_desc(f->desc, 4, BUF_GPA, 20, VRING_DESC_F_WRITE, 0);
	avail_add(f, 3);
	avail_add(f, 4);
	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->head, 3);
	assert_int_equal(e->in_cnt, 1);
	assert_int_equal(e->out_cnt, 0);
	assert_int_equal(e->in_len, 10);
	assert_int_equal(e->out_len, 0);
	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->head, 4);
	assert_int_equal(e->in_cnt, 0);
	assert_int_equal(e->out_cnt, 1);
	assert_int_equal(e->out_len, 20);
	/* Empty now. */
	assert_int_equal(vq_pop(&f->q, e), 0);
	assert_int_equal(f->q.last_avail_idx, 3);
}

static void test_longest_chain(void **state)
{
	struct fixture *f = *state;

	/* A chain may use every descriptor of the ring once. */
	start(f, 16, 0, false, false);
	for (unsigned i = 0; i < 16; i++)
		set_desc(f->desc, i, BUF_GPA + i, 1, i < 15 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->in_cnt, 16);
	assert_int_equal(f->e->in_len, 16);
}

static void test_cross_region(void **state)
{
	struct fixture *f = *state;
	struct vq_elem *e = f->e;

	start(f, 8, 0, false, false);
	/* 16 bytes at the end of region 0, 32 at the start of region 1. */
	set_desc(f->desc, 0, R1 - 16, 48, VRING_DESC_F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->out_cnt, 2);
	assert_int_equal(e->out_len, 48);
	assert_ptr_equal(e->iov[0].iov_base, g2h(f, R1 - 16));
	assert_int_equal(e->iov[0].iov_len, 16);
	assert_ptr_equal(e->iov[1].iov_base, g2h(f, R1));
	assert_int_equal(e->iov[1].iov_len, 32);
	/* The second iovec really is the other fd. */
	memset(e->iov[1].iov_base, 0xab, 32);
	{
		uint8_t b;

		assert_int_equal(pread(f->fd1, &b, 1, 31), 1);
		assert_int_equal(b, 0xab);
	}
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *t = g2h(f, TABLE_GPA);
	struct vq_elem *e = f->e;

	start(f, 8, 0, false, true);
	set_desc(t, 0, BUF_GPA, 64, VRING_DESC_F_NEXT, 2);
	set_desc(t, 2, BUF_GPA + 0x100, 8, VRING_DESC_F_NEXT, 1);
	set_desc(t, 1, BUF_GPA + 0x200, 4096, VRING_DESC_F_WRITE, 0);
	/* One direct readable descriptor before the table is allowed. */
	set_desc(f->desc, 6, BUF_GPA + 0x300, 16, VRING_DESC_F_NEXT, 3);
	set_desc(f->desc, 3, TABLE_GPA, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	avail_add(f, 6);
	avail_add(f, 3);

	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->head, 6);
	assert_int_equal(e->in_cnt, 3);
	assert_int_equal(e->out_cnt, 1);
	assert_int_equal(e->in_len, 16 + 64 + 8);
	assert_int_equal(e->out_len, 4096);
	assert_ptr_equal(e->iov[0].iov_base, g2h(f, BUF_GPA + 0x300));
	assert_ptr_equal(e->iov[1].iov_base, g2h(f, BUF_GPA));
	assert_ptr_equal(e->iov[2].iov_base, g2h(f, BUF_GPA + 0x100));
	assert_ptr_equal(e->iov[3].iov_base, g2h(f, BUF_GPA + 0x200));

	assert_int_equal(vq_pop(&f->q, e), 1);
	assert_int_equal(e->head, 3);
	assert_int_equal(e->in_cnt, 2);
	assert_int_equal(e->out_cnt, 1);
}

/* Expect the next pop to fail and not to move the ring. */
static void expect_eproto(struct fixture *f)
{
	uint16_t before = f->q.last_avail_idx;

	assert_int_equal(vq_pop(&f->q, f->e), -EPROTO);
	assert_int_equal(f->q.last_avail_idx, before);
}

static void test_loops(void **state)
{
	struct fixture *f = *state;

	start(f, 8, 0, false, true);
	/* 0 -> 1 -> 0 */
	set_desc(f->desc, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, BUF_GPA, 1, VRING_DESC_F_NEXT, 0);
	avail_add(f, 0);
	expect_eproto(f);

	/* Self loop. */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	set_desc(f->desc, 2, BUF_GPA, 0, VRING_DESC_F_NEXT, 2);
	avail_add(f, 2);
	expect_eproto(f);

	/* Loop inside an indirect table (of 4 entries). */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	{
		struct vring_desc *t = g2h(f, TABLE_GPA);

		set_desc(t, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
		set_desc(t, 1, BUF_GPA, 1, VRING_DESC_F_NEXT, 2);
		set_desc(t, 2, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
		set_desc(f->desc, 0, TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	}
	avail_add(f, 0);
	expect_eproto(f);
}

static void test_index_out_of_range(void **state)
{
	struct fixture *f = *state;

	/* next >= num */
	start(f, 8, 0, false, true);
	set_desc(f->desc, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 8);
	avail_add(f, 0);
	expect_eproto(f);

	/* head >= num */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	avail_add(f, 0xffff);
	expect_eproto(f);

	/* next beyond the indirect table's entries (table of 2). */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	{
		struct vring_desc *t = g2h(f, TABLE_GPA);

		set_desc(t, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 2);
		set_desc(f->desc, 0, TABLE_GPA, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	}
	avail_add(f, 0);
	expect_eproto(f);
}

static void test_bad_indirect(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *t = g2h(f, TABLE_GPA);
	struct vring_desc *t2 = g2h(f, TABLE_GPA + 0x1000);
	static const struct {
		const char *what;
		bool negotiated;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
	} cases[] = {
		{ "not negotiated", false, TABLE_GPA, 32, VRING_DESC_F_INDIRECT },
		{ "with NEXT", true, TABLE_GPA, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT },
		{ "len 0", true, TABLE_GPA, 0, VRING_DESC_F_INDIRECT },
		{ "len 17", true, TABLE_GPA, 17, VRING_DESC_F_INDIRECT },
		{ "len 8", true, TABLE_GPA, 8, VRING_DESC_F_INDIRECT },
		{ "too long", true, TABLE_GPA, (VQ_MAX_SIZE + 1) * 16, VRING_DESC_F_INDIRECT },
		{ "outside memory", true, 0x1000, 32, VRING_DESC_F_INDIRECT },
		{ "crossing regions", true, R1 - 16, 32, VRING_DESC_F_INDIRECT },
		{ "past the end", true, R1 + R1_SIZE - 16, 32, VRING_DESC_F_INDIRECT },
		{ "misaligned", true, TABLE_GPA + 4, 32, VRING_DESC_F_INDIRECT },
		{ "nested", true, TABLE_GPA + 0x1000, 32, VRING_DESC_F_INDIRECT },
	};

	set_desc(t, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(t, 1, BUF_GPA, 1, 0, 0);
	/* A table whose second entry is itself indirect. */
	set_desc(t2, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(t2, 1, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("indirect: %s\n", cases[i].what);
		start(f, 8, 0, false, cases[i].negotiated);
		f->avail->idx = 0;
		set_desc(f->desc, 0, cases[i].addr, cases[i].len, cases[i].flags, 1);
		set_desc(f->desc, 1, BUF_GPA, 1, 0, 0);
		avail_add(f, 0);
		expect_eproto(f);
	}
	/* The same ring with a good table is accepted (the cases differ only as stated). */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	set_desc(f->desc, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->in_cnt, 2);
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;

	start(f, 8, 0, false, true);
	set_desc(f->desc, 0, BUF_GPA, 4, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, BUF_GPA, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(f->desc, 2, BUF_GPA, 4, 0, 0);
	avail_add(f, 0);
	expect_eproto(f);

	/* Writable direct descriptor, then a table that starts readable. */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	{
		struct vring_desc *t = g2h(f, TABLE_GPA);

		set_desc(t, 0, BUF_GPA, 1, 0, 0);
		set_desc(f->desc, 0, BUF_GPA, 4, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
		set_desc(f->desc, 1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	}
	avail_add(f, 0);
	expect_eproto(f);

	/* Inside a table. */
	start(f, 8, 0, false, true);
	f->avail->idx = 0;
	{
		struct vring_desc *t = g2h(f, TABLE_GPA);

		set_desc(t, 0, BUF_GPA, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		set_desc(t, 1, BUF_GPA, 1, 0, 0);
		set_desc(f->desc, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	}
	avail_add(f, 0);
	expect_eproto(f);
}

static void test_buffer_outside_memory(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{ 0x0, 1 },                      /* below every region */
		{ R0 - 1, 2 },                   /* starts just below */
		{ R1 + R1_SIZE, 1 },             /* just past the last region */
		{ R1 + R1_SIZE - 4, 8 },         /* runs off the end */
		{ R0 + 0x100, 0x60000 },         /* through region 1 and past its end */
		{ UINT64_MAX - 4, 100 },         /* wraps */
		{ UINT64_MAX, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(f, 8, 0, false, false);
		f->avail->idx = 0;
		set_desc(f->desc, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
		set_desc(f->desc, 1, cases[i].addr, cases[i].len, VRING_DESC_F_WRITE, 0);
		avail_add(f, 0);
		expect_eproto(f);
	}
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 0; i < 8; i++)
		set_desc(f->desc, i, BUF_GPA, 1, 0, 0);
	/* Exactly num pending is fine. */
	start(f, 8, 0, false, false);
	f->avail->idx = 8;
	for (unsigned i = 0; i < 8; i++) {
		f->avail->ring[i] = (uint16_t)i;
		assert_int_equal(vq_pop(&f->q, f->e), 1);
	}
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	/* num + 1 is not. */
	start(f, 8, 0, false, false);
	f->avail->idx = 9;
	expect_eproto(f);
	/* Also when it goes backwards (huge unsigned distance). */
	start(f, 8, 100, false, false);
	f->avail->idx = 99;
	expect_eproto(f);
	/* And with event idx. */
	start(f, 8, 0, true, false);
	f->avail->idx = 0x8000;
	expect_eproto(f);
}

static void test_wraparound(void **state)
{
	struct fixture *f = *state;

	/* last_avail_idx wraps from 65535 to 0; slot is idx % num. */
	set_desc(f->desc, 5, BUF_GPA, 3, 0, 0);
	set_desc(f->desc, 6, BUF_GPA, 4, 0, 0);
	start(f, 8, 65535, false, false);
	f->avail->ring[65535 % 8] = 5;
	f->avail->ring[0] = 6;
	f->avail->idx = 1; /* two pending: 65535 and 0 */
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->head, 5);
	assert_int_equal(f->q.last_avail_idx, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->head, 6);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
}

static void test_empty_event_idx(void **state)
{
	struct fixture *f = *state;

	/* Without event idx: the used ring's trailing field is left alone. */
	f->avail->idx = 5;
	start(f, 8, 5, false, false);
	memcpy((char *)f->used + 4 + 8 * 8, &(uint16_t){ 0x1234 }, 2);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	assert_int_equal(avail_event(f), 0x1234);

	/* With: asks for a kick at the next index. */
	start(f, 8, 5, true, false);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	assert_int_equal(avail_event(f), 5);

	/* After a pop it points past what was taken. */
	set_desc(f->desc, 1, BUF_GPA, 1, 0, 0);
	f->avail->ring[5 % 8] = 1;
	f->avail->idx = 6;
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(avail_event(f), 6);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	assert_int_equal(avail_event(f), 6);
}

static void test_zero_length_skipped(void **state)
{
	struct fixture *f = *state;

	start(f, 8, 0, false, false);
	/* Zero-length descriptors, even with a bogus address, carry nothing. */
	set_desc(f->desc, 0, 0xdead0000, 0, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, BUF_GPA, 10, VRING_DESC_F_NEXT, 2);
	set_desc(f->desc, 2, UINT64_MAX, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	set_desc(f->desc, 3, BUF_GPA + 0x40, 20, VRING_DESC_F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->in_cnt, 1);
	assert_int_equal(f->e->out_cnt, 1);
	assert_int_equal(f->e->in_len, 10);
	assert_int_equal(f->e->out_len, 20);
	assert_ptr_equal(f->e->iov[0].iov_base, g2h(f, BUF_GPA));
	assert_ptr_equal(f->e->iov[1].iov_base, g2h(f, BUF_GPA + 0x40));
}

static void test_iov_limit(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *t = g2h(f, TABLE_GPA);
	unsigned n = VQ_MAX_IOV + 1;

	assert_true(TABLE_GPA + n * 16 <= R0 + R0_SIZE);
	for (unsigned i = 0; i < n; i++)
		set_desc(t, i, BUF_GPA + i % 512, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	/* Exactly VQ_MAX_IOV buffers fit. */
	t[VQ_MAX_IOV - 1].flags = 0;
	start(f, 8, 0, false, true);
	set_desc(f->desc, 0, TABLE_GPA, VQ_MAX_IOV * 16, VRING_DESC_F_INDIRECT, 0);
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->in_cnt, VQ_MAX_IOV);
	assert_int_equal(f->e->in_len, VQ_MAX_IOV);
	/* One more does not. */
	t[VQ_MAX_IOV - 1].flags = VRING_DESC_F_NEXT;
	t[n - 1].flags = 0;
	set_desc(f->desc, 1, TABLE_GPA, n * 16, VRING_DESC_F_INDIRECT, 0);
	avail_add(f, 1);
	expect_eproto(f);
}

static void test_chain_bytes_limit(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_region big = {
		.guest_phys_addr = 0x10000000,
		.memory_size = VQ_MAX_CHAIN_BYTES,
		.userspace_addr = 0x9000000000,
	};
	int fd = unit_memfd(VQ_MAX_CHAIN_BYTES);

	assert_int_equal(vu_mem_add(&f->m, &big, fd), 0);
	close(fd);
	/* Exactly the limit: accepted. */
	start(f, 8, 0, false, false);
	set_desc(f->desc, 0, 0x10000000, VQ_MAX_CHAIN_BYTES / 2, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, 0x10000000, VQ_MAX_CHAIN_BYTES / 2, VRING_DESC_F_WRITE, 0);
	avail_add(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	/* One byte more: rejected. */
	set_desc(f->desc, 2, 0x10000000, VQ_MAX_CHAIN_BYTES / 2, VRING_DESC_F_NEXT, 3);
	set_desc(f->desc, 3, 0x10000000, VQ_MAX_CHAIN_BYTES / 2 + 1, VRING_DESC_F_WRITE, 0);
	avail_add(f, 2);
	expect_eproto(f);
	/* Lengths near 4 GiB each do not wrap the total either. */
	start(f, 8, 1, false, false);
	set_desc(f->desc, 4, 0x10000000, 16, VRING_DESC_F_NEXT, 5);
	set_desc(f->desc, 5, 0x10000000, 0xffffffff, VRING_DESC_F_NEXT, 6);
	set_desc(f->desc, 6, 0x10000000, 0xffffffff, 0, 0);
	f->avail->ring[1] = 4;
	expect_eproto(f);
}

static void test_push(void **state)
{
	struct fixture *f = *state;

	/* The used index continues from what the ring holds (queue restart). */
	f->used->idx = 0xfffe;
	start(f, 8, 0, false, false);
	assert_int_equal(f->q.used_idx, 0xfffe);
	vq_push(&f->q, 3, 100);
	assert_int_equal(f->used->idx, 0xffff);
	assert_int_equal(f->used->ring[0xfffe % 8].id, 3);
	assert_int_equal(f->used->ring[0xfffe % 8].len, 100);
	vq_push(&f->q, 7, 0);
	assert_int_equal(f->used->idx, 0);
	assert_int_equal(f->used->ring[7].id, 7);
	assert_int_equal(f->used->ring[7].len, 0);
	vq_push(&f->q, 1, 0xffffffff);
	assert_int_equal(f->used->idx, 1);
	assert_int_equal(f->used->ring[0].id, 1);
	assert_int_equal(f->used->ring[0].len, 0xffffffff);
	/* Nothing past the ring's entries was touched (avail_event without event idx). */
	assert_int_equal(avail_event(f), 0);
}

static void test_notify_no_event_idx(void **state)
{
	struct fixture *f = *state;

	start(f, 8, 0, false, false);
	vq_push(&f->q, 0, 1);
	f->avail->flags = 0;
	assert_true(vq_should_notify(&f->q));
	f->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_should_notify(&f->q));
	vq_push(&f->q, 0, 1);
	assert_false(vq_should_notify(&f->q));
	f->avail->flags = 0;
	assert_true(vq_should_notify(&f->q));
}

static void test_notify_event_idx(void **state)
{
	struct fixture *f = *state;

	start(f, 8, 0, true, false);
	/* The flag is ignored with event idx; the first push always notifies. */
	f->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	set_used_event(f, 100);
	vq_push(&f->q, 0, 1); /* used 1 */
	assert_true(vq_should_notify(&f->q));
	/* used_event 1: notify when used moves past 1. */
	set_used_event(f, 1);
	vq_push(&f->q, 0, 1); /* used 2 */
	assert_true(vq_should_notify(&f->q));
	vq_push(&f->q, 0, 1); /* used 3: event 1 already crossed */
	assert_false(vq_should_notify(&f->q));
	/* Several pushes crossing the event at once. */
	set_used_event(f, 4);
	vq_push(&f->q, 0, 1); /* used 4 */
	assert_false(vq_should_notify(&f->q)); /* event 4 crossed only when used > 4 */
	vq_push(&f->q, 0, 1); /* used 5 */
	vq_push(&f->q, 0, 1); /* used 6 */
	assert_true(vq_should_notify(&f->q));
	/* Event far ahead: no notification. */
	set_used_event(f, 1000);
	vq_push(&f->q, 0, 1);
	assert_false(vq_should_notify(&f->q));
}

static void test_notify_event_idx_wrap(void **state)
{
	struct fixture *f = *state;

	f->used->idx = 0xfffd;
	start(f, 8, 0, true, false);
	vq_push(&f->q, 0, 1); /* 0xfffe */
	assert_true(vq_should_notify(&f->q));
	set_used_event(f, 0xffff);
	vq_push(&f->q, 0, 1); /* 0xffff */
	assert_false(vq_should_notify(&f->q));
	vq_push(&f->q, 0, 1); /* 0x0000: crossed 0xffff */
	assert_true(vq_should_notify(&f->q));
	vq_push(&f->q, 0, 1); /* 0x0001 */
	assert_false(vq_should_notify(&f->q));
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(vq_desc_size(256), 4096);
	assert_int_equal(vq_avail_size(256), 4 + 512 + 2);
	assert_int_equal(vq_used_size(256), 4 + 2048 + 2);
	assert_int_equal(vq_desc_size(VQ_MAX_SIZE), 16ull * VQ_MAX_SIZE);
}


/* virtio 2.7.10: the device-side "do not kick" of a polling queue, and the re-check before sleeping. */
static void test_kicks_off_event_idx(void **state)
{
	struct fixture *f = *state;

	f->avail->idx = 5;
	start(f, 8, 5, true, false);
	assert_int_equal(avail_event(f), 5); /* setup asks for kicks */
	vq_kicks_disable(&f->q);
	/* One behind: vring_need_event() is false for any addition from here. */
	assert_int_equal(avail_event(f), 4);
	assert_false(vring_need_event(avail_event(f), 6, 5));
	assert_false(vring_need_event(avail_event(f), 5 + 8, 5));
	assert_false(vq_avail_pending(&f->q));
	/* Empty pops with kicks off do not ask for one. */
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	assert_int_equal(avail_event(f), 4);
	/* Pops trail the index. */
	set_desc(f->desc, 1, BUF_GPA, 1, 0, 0);
	avail_add(f, 1);
	assert_true(vq_avail_pending(&f->q));
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(avail_event(f), 5);
	assert_false(vring_need_event(avail_event(f), 7, 6));
	/* Enabling asks for the next one and reports what came meanwhile. */
	assert_false(vq_kicks_enable(&f->q));
	assert_int_equal(avail_event(f), 6);
	assert_true(vring_need_event(avail_event(f), 7, 6));
	vq_kicks_disable(&f->q);
	avail_add(f, 1); /* the driver adds without kicking */
	assert_true(vq_kicks_enable(&f->q)); /* not stranded: the caller pops it */
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
}

static void test_kicks_off_flags(void **state)
{
	struct fixture *f = *state;

	f->used->flags = 0;
	start(f, 8, 0, false, false);
	vq_kicks_disable(&f->q);
	assert_int_equal(f->used->flags, VRING_USED_F_NO_NOTIFY);
	avail_add(f, 0);
	set_desc(f->desc, 0, BUF_GPA, 1, 0, 0);
	assert_true(vq_kicks_enable(&f->q));
	assert_int_equal(f->used->flags, 0);
	/* A ring set up again after a stop in the middle of polling may be kicked again. */
	vq_kicks_disable(&f->q);
	start(f, 8, 0, false, false);
	assert_int_equal(f->used->flags, 0);
	assert_false(f->q.kicks_off);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_direct_chain),
		T(test_longest_chain),
		T(test_cross_region),
		T(test_indirect),
		T(test_loops),
		T(test_index_out_of_range),
		T(test_bad_indirect),
		T(test_readable_after_writable),
		T(test_buffer_outside_memory),
		T(test_avail_idx_jump),
		T(test_wraparound),
		T(test_empty_event_idx),
		T(test_zero_length_skipped),
		T(test_iov_limit),
		T(test_chain_bytes_limit),
		T(test_push),
		T(test_notify_no_event_idx),
		T(test_notify_event_idx),
		T(test_notify_event_idx_wrap),
		T(test_kicks_off_event_idx),
		T(test_kicks_off_flags),
		cmocka_unit_test(test_sizes),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
