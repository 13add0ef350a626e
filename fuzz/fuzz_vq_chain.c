// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the split virtqueue parser (src/vq/vq.c).
 *
 * Guest memory is two adjacent memfd-backed regions (A at gpa 0x10000, B
 * right after it, mapped from a non-zero offset). The input becomes the
 * contents of their first pages: the descriptor table, avail ring and
 * used ring are packed at the start of A (desc at 0, avail right after the
 * table, used at the next 4-byte boundary), and descriptors may point anywhere
 * (indirect tables included). vq_pop runs until the ring is empty or
 * malformed; every chain it returns is checked (lengths add up, every
 * iovec lies inside one region) and every byte of it is touched: read the
 * readable part, write the writable part.
 *
 * Input: [flags u8][base u16][bytes for A...][bytes for B...]
 *   flags bit 0: EVENT_IDX, bit 1: INDIRECT_DESC, bits 2-4: log2(queue size) (1..128),
 *   bit 5: finish chains with vq_complete_chain instead of vq_push.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "vq.h"
#include "vu_mem.h"

#define A_GPA 0x10000ull
#define A_SIZE 0x10000ull
#define B_GPA (A_GPA + A_SIZE)
#define B_SIZE 0x10000ull
#define B_OFF 0x3000ull
#define A_INPUT 0x1000  /* input bytes that go to A; the rest go to B */

static struct vu_mem mem;
static int fd_a, fd_b;
static uint8_t *a_hva, *b_hva;
static struct vq_elem *elem;
static uint8_t reply[1 << 16];

static int make_memfd(size_t size)
{
	int fd = memfd_create("fuzz-vq", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		fuzz_fail("memfd: %m");
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vhost_user_mem_region ra = {
		.guest_phys_addr = A_GPA, .memory_size = A_SIZE, .userspace_addr = 0x7000000000,
	};
	struct vhost_user_mem_region rb = {
		.guest_phys_addr = B_GPA, .memory_size = B_SIZE, .userspace_addr = 0x7000010000,
		.mmap_offset = B_OFF,
	};

	(void)argc;
	(void)argv;
	fuzz_log_init();
	vu_mem_init(&mem);
	fd_a = make_memfd(A_SIZE);
	fd_b = make_memfd(B_OFF + B_SIZE);
	if (vu_mem_add(&mem, &ra, fd_a) || vu_mem_add(&mem, &rb, fd_b))
		fuzz_fail("vu_mem_add");
	a_hva = vu_mem_gpa_contig(&mem, A_GPA, A_SIZE);
	b_hva = vu_mem_gpa_contig(&mem, B_GPA, B_SIZE);
	elem = malloc(sizeof(*elem));
	for (size_t i = 0; i < sizeof(reply); i++)
		reply[i] = (uint8_t)(i * 7);
	if (!a_hva || !b_hva || !elem)
		fuzz_fail("setup");
	return 0;
}

/* Zero both regions (cheap: drops the pages). */
static void reset_memory(void)
{
	if (fallocate(fd_a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, A_SIZE) < 0 ||
	    fallocate(fd_b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, B_OFF + B_SIZE) < 0)
		fuzz_fail("punch hole: %m");
}

/* The region [p, p + len) lies in, or fail. */
static void check_in_region(const struct iovec *v)
{
	const uint8_t *p = v->iov_base;

	for (unsigned i = 0; i < vu_mem_nregions(&mem); i++) {
		struct vu_mem_region reg;
		const uint8_t *start, *end;

		vu_mem_region_at(&mem, i, &reg);
		start = reg.hva;
		end = start + reg.size;

		if (p >= start && p < end) {
			FUZZ_CHECK(v->iov_len <= (size_t)(end - p),
				   "iovec %p+%zu runs past region %u", v->iov_base, v->iov_len, i);
			return;
		}
	}
	fuzz_fail("iovec %p+%zu outside guest memory", v->iov_base, v->iov_len);
}

static void check_and_touch(const struct vq *q, struct vq_elem *e)
{
	size_t in = 0, out = 0;
	volatile uint8_t sink = 0;

	FUZZ_CHECK(e->head < q->num, "head %u >= num %u", e->head, q->num);
	FUZZ_CHECK(e->in_cnt + e->out_cnt <= VQ_MAX_IOV, "%u + %u iovecs", e->in_cnt, e->out_cnt);
	FUZZ_CHECK(e->in_len + e->out_len <= VQ_MAX_CHAIN_BYTES, "chain of %zu bytes",
		   e->in_len + e->out_len);
	for (unsigned i = 0; i < e->in_cnt + e->out_cnt; i++) {
		struct iovec *v = &e->iov[i];

		FUZZ_CHECK(v->iov_len > 0, "empty iovec %u", i);
		check_in_region(v);
		if (i < e->in_cnt) {
			in += v->iov_len;
			for (size_t j = 0; j < v->iov_len; j++)
				sink ^= ((volatile uint8_t *)v->iov_base)[j];
		} else {
			out += v->iov_len;
			memset(v->iov_base, 0xa5, v->iov_len);
		}
	}
	FUZZ_CHECK(in == e->in_len, "readable iovecs sum to %zu, in_len %zu", in, e->in_len);
	FUZZ_CHECK(out == e->out_len, "writable iovecs sum to %zu, out_len %zu", out, e->out_len);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	uint16_t base = fuzz_u16(&in);
	uint16_t num = (uint16_t)(1u << ((flags >> 2) & 7));
	bool use_complete = flags & 0x20;
	uint64_t avail_off = vq_desc_size(num);
	uint64_t used_off = (avail_off + vq_avail_size(num) + 3) & ~3ull;
	struct vq q;

	reset_memory();
	fuzz_bytes(&in, a_hva, A_INPUT);
	fuzz_bytes(&in, b_hva, B_SIZE);

	vq_setup(&q, num, a_hva, a_hva + avail_off, a_hva + used_off, &mem, base,
		 flags & 1, flags & 2);
	for (unsigned i = 0; i < 2u * num + 4; i++) {
		uint16_t used_before = q.used_idx;
		int r = vq_pop(&q, elem);

		FUZZ_TRACE("vq_pop: %d", r);
		if (r > 0)
			FUZZ_TRACE(" head %u, %u+%u iovecs, %zu+%zu bytes", elem->head, elem->in_cnt,
				   elem->out_cnt, elem->in_len, elem->out_len);
		FUZZ_TRACE("\n");

		if (r == 0)
			break;
		FUZZ_CHECK(r == 1 || r == -EPROTO, "vq_pop returned %d", r);
		if (r < 0)
			break; /* the queue is dead now */
		check_and_touch(&q, elem);
		if (use_complete) {
			size_t len = elem->out_len / 2;

			r = vq_complete_chain(&q, elem->head, reply,
					      len < sizeof(reply) ? len : sizeof(reply));
			FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOSPC,
				   "vq_complete_chain returned %d", r);
			if (r == -EPROTO)
				break;
		} else {
			vq_push(&q, elem->head, (uint32_t)elem->out_len);
		}
		FUZZ_CHECK((uint16_t)(q.used_idx - used_before) == 1, "used index moved by %u",
			   (uint16_t)(q.used_idx - used_before));
		vq_should_notify(&q);
	}
	return 0;
}
