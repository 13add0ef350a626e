// SPDX-License-Identifier: MIT
/*
 * Hostile guest, transport layer: descriptor chains no driver should
 * build. Malformed chains (memory outside the guest, wrapping addresses,
 * loops, out-of-range indices, bad indirect tables, readable after
 * writable, a jumping avail index) must never crash the daemon: it may
 * mark the device broken, and then it signals the vring error eventfd,
 * stops serving (a request sent afterwards has no effect), still answers
 * vhost-user messages and exits with status 0 when we disconnect.
 * Then the frontend resets the device as QEMU does when the guest reboots
 * (each case uses the next of the four reset kinds: rings restarted,
 * SET_STATUS 0, RESET_DEVICE, RESET_OWNER), and it must serve again.
 * Chains that are odd but legal (zero-length buffers, a header cut into
 * one-byte pieces, no room for a reply) must be served or returned
 * without a reply, and the connection stays usable.
 *
 * Every malformed chain carries a MKDIR: had the daemon executed it, the
 * directory would show up on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"

#define Q FE_QUEUE_REQUEST
#define POISON 0xa5
#define OUT_SIZE 4096u
#define ATTR_REPLY ((uint32_t)(sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out)))

/* One request in guest memory and a poisoned reply buffer. */
struct rq {
	uint8_t *req;
	uint32_t req_len;
	uint64_t req_gpa;
	uint8_t *out;
	uint64_t out_gpa;
	uint64_t unique;
	char name[40];
};

static void rq_finish(struct h *h, struct rq *r, const void *buf, size_t len)
{
	struct fuse_in_header ih;

	r->req = hx_galloc(h, len);
	memcpy(r->req, buf, len);
	r->req_len = (uint32_t)len;
	r->req_gpa = hx_gpa(h, r->req, len);
	memcpy(&ih, buf, sizeof(ih));
	r->unique = ih.unique;
	r->out = hx_galloc(h, OUT_SIZE + 4096);
	memset(r->out, POISON, OUT_SIZE + 4096);
	r->out_gpa = hx_gpa(h, r->out, OUT_SIZE);
}

static void rq_getattr(struct h *h, struct rq *r)
{
	struct fuse_getattr_in gi = { 0 };
	uint8_t buf[128];

	memset(r, 0, sizeof(*r));
	rq_finish(h, r, buf, hx_build(buf, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi)));
}

static void rq_mkdir(struct h *h, struct rq *r)
{
	static unsigned int seq;
	struct fuse_mkdir_in mi = { .mode = 0755 };
	uint8_t args[128], buf[256];
	size_t n;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "ring-mkdir-%u", seq++);
	n = hx_cat(args, 0, &mi, sizeof(mi));
	n = hx_cat_str(args, n, r->name);
	rq_finish(h, r, buf, hx_build(buf, FUSE_MKDIR, FUSE_ROOT_ID, args, n));
}

static void rq_lookup(struct h *h, struct rq *r, const char *name)
{
	uint8_t buf[512];

	memset(r, 0, sizeof(*r));
	rq_finish(h, r, buf, hx_build(buf, FUSE_LOOKUP, FUSE_ROOT_ID, name, strlen(name) + 1));
}

/* The reply in r->out must be a successful GETATTR of the root. */
static void check_getattr_reply(struct h *h, const struct rq *r, uint32_t used)
{
	struct fuse_out_header oh;
	struct fuse_attr_out ao;

	if (used != ATTR_REPLY)
		HX_FAIL(h, "GETATTR: used length %u, expected %u", used, ATTR_REPLY);
	memcpy(&oh, r->out, sizeof(oh));
	memcpy(&ao, r->out + sizeof(oh), sizeof(ao));
	assert_int_equal(oh.len, ATTR_REPLY);
	assert_int_equal(oh.error, 0);
	assert_int_equal(oh.unique, r->unique);
	assert_true(S_ISDIR(ao.attr.mode));
}

/* The writable bytes from..to of r->out must be untouched. */
static void check_poison(struct h *h, const uint8_t *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != POISON)
			HX_FAIL(h, "the device wrote byte %zu (only %zu were its to write)", i, from);
}

/* ---- the malformed-chain pattern ---- */

struct brk {
	struct fe_vq_raw r;
	struct rq rq;
	int errfd;
	uint16_t used;
};

static void brk_begin(struct h *h, struct brk *b)
{
	hx_raw(h, Q, &b->r);
	rq_mkdir(h, &b->rq);
	b->errfd = hx_err_eventfd(h, Q);
	b->used = hx_used_idx(h, Q);
	hx_mark_idle(h);
}

/* The reset that follows the next break: each kind in turn. */
static void recover(struct h *h)
{
	static unsigned int n;
	static const enum fe_reset_mode modes[] = { FE_RESET_RINGS, FE_RESET_STATUS,
						    FE_RESET_DEVICE, FE_RESET_OWNER };
	enum fe_reset_mode mode = modes[n++ % (sizeof(modes) / sizeof(modes[0]))];

	/* Others may hang up on the unnegotiated SET_STATUS/RESET_*: QEMU's reboot sequence only. */
	if (!h_is(h, "vufsd"))
		mode = FE_RESET_RINGS;

	print_message("%s: recovery by %s\n", h->backend, hx_reset_name(mode));
	hx_expect_recovery(h, mode);
}

static void brk_end(struct h *h, struct brk *b, uint16_t head)
{
	hx_push(h, Q, head);
	hx_expect_broken(h, Q, b->errfd, b->used);
	if (h_exists(h, b->rq.name))
		HX_FAIL(h, "the MKDIR inside the malformed chain was executed");
	recover(h);
}

/* A well-formed two-descriptor chain at 0 (readable request) -> 1 (writable reply). */
static void direct_pair(struct brk *b)
{
	hx_desc(&b->r, 0, b->rq.req_gpa, b->rq.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&b->r, 1, b->rq.out_gpa, OUT_SIZE, VRING_DESC_F_WRITE, 0);
}

static void test_desc_addr_outside_memory(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	b.r.desc[0].addr = HX_BAD_GPA;
	brk_end(h, &b, 0);
}

static void test_desc_writable_addr_outside_memory(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	b.r.desc[1].addr = hx_mem_end(h) + 4096;
	brk_end(h, &b, 0);
}

static void test_desc_addr_len_wraps(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	/* addr + len overflows 2^64. */
	b.r.desc[0].addr = UINT64_MAX - 16;
	b.r.desc[0].len = 4096;
	brk_end(h, &b, 0);
}

static void test_desc_writable_len_wraps(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	b.r.desc[1].addr = UINT64_MAX - 100;
	b.r.desc[1].len = 0xffffffffu;
	brk_end(h, &b, 0);
}

static void test_desc_len_past_region_end(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	/* Starts inside guest memory, runs 4 KiB past its end. */
	b.r.desc[1].addr = hx_mem_end(h) - 64;
	b.r.desc[1].len = 4096 + 64;
	brk_end(h, &b, 0);
}

static void test_chain_self_loop(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	hx_desc(&b.r, 0, b.rq.req_gpa, b.rq.req_len, VRING_DESC_F_NEXT, 0);
	brk_end(h, &b, 0);
}

static void test_chain_longer_cycle(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	/* 0 -> 1 -> 2 -> 0, all readable: only counting catches it. */
	hx_desc(&b.r, 0, b.rq.req_gpa, 20, VRING_DESC_F_NEXT, 1);
	hx_desc(&b.r, 1, b.rq.req_gpa + 20, 20, VRING_DESC_F_NEXT, 2);
	hx_desc(&b.r, 2, b.rq.req_gpa + 40, b.rq.req_len - 40, VRING_DESC_F_NEXT, 0);
	brk_end(h, &b, 0);
}

static void test_chain_writable_cycle(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	/* 0 (readable) -> 1 -> 2 -> 1 (writable): a loop that never comes back to the head. */
	hx_desc(&b.r, 0, b.rq.req_gpa, b.rq.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&b.r, 1, b.rq.out_gpa, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	hx_desc(&b.r, 2, b.rq.out_gpa + 16, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	brk_end(h, &b, 0);
}

static void test_next_index_out_of_range(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	b.r.desc[0].next = (uint16_t)b.r.num; /* one past the table */
	brk_end(h, &b, 0);
}

static void test_next_index_ffff(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	b.r.desc[1].flags |= VRING_DESC_F_NEXT;
	b.r.desc[1].next = 0xffff;
	brk_end(h, &b, 0);
}

/* An indirect table of n entries in guest memory. */
static struct vring_desc *itable(struct h *h, unsigned int n, uint64_t *gpa)
{
	struct vring_desc *t = hx_galloc(h, n * sizeof(*t));

	*gpa = hx_gpa(h, t, n * sizeof(*t));
	return t;
}

static void itable_pair(struct vring_desc *t, const struct rq *rq)
{
	t[0] = (struct vring_desc){ rq->req_gpa, rq->req_len, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ rq->out_gpa, OUT_SIZE, VRING_DESC_F_WRITE, 0 };
}

static void test_indirect_nested(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t tg, ig;
	struct vring_desc *t, *inner;
	struct brk b;

	brk_begin(h, &b);
	inner = itable(h, 2, &ig);
	itable_pair(inner, &b.rq);
	t = itable(h, 1, &tg);
	t[0] = (struct vring_desc){ ig, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0 };
	hx_desc(&b.r, 0, tg, sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_with_next(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	t = itable(h, 2, &tg);
	itable_pair(t, &b.rq);
	hx_desc(&b.r, 0, tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	hx_desc(&b.r, 1, b.rq.out_gpa + 2048, 512, VRING_DESC_F_WRITE, 0);
	brk_end(h, &b, 0);
}

static void indirect_len_case(void **state, uint32_t len)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	t = itable(h, 2, &tg);
	itable_pair(t, &b.rq);
	hx_desc(&b.r, 0, tg, len, VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_len_zero(void **state)
{
	indirect_len_case(state, 0);
}

static void test_indirect_len_not_multiple_of_16(void **state)
{
	indirect_len_case(state, 2 * sizeof(struct vring_desc) + 7);
}

static void test_indirect_len_huge(void **state)
{
	indirect_len_case(state, 0xfffffff0u);
}

static void test_indirect_table_outside_memory(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	hx_desc(&b.r, 0, HX_BAD_GPA, 2 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_table_past_region_end(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	hx_desc(&b.r, 0, hx_mem_end(h) - sizeof(struct vring_desc), 4 * sizeof(struct vring_desc),
		VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_entry_loops_to_itself(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	t = itable(h, 2, &tg);
	itable_pair(t, &b.rq);
	t[1].flags |= VRING_DESC_F_NEXT;
	t[1].next = 1; /* the writable entry chains to itself */
	hx_desc(&b.r, 0, tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_entry_is_its_own_table(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	t = itable(h, 2, &tg);
	/* Entry 0 is an indirect descriptor pointing at the table it sits in. */
	t[0] = (struct vring_desc){ tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0 };
	t[1] = (struct vring_desc){ b.rq.out_gpa, OUT_SIZE, VRING_DESC_F_WRITE, 0 };
	hx_desc(&b.r, 0, tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_indirect_next_out_of_range(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	t = itable(h, 2, &tg);
	itable_pair(t, &b.rq);
	t[0].next = 2; /* the table has 2 entries */
	hx_desc(&b.r, 0, tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

static void test_avail_idx_jump(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	for (unsigned int i = 0; i < b.r.num; i++)
		b.r.avail->ring[i] = 0;
	/* More entries "available" than the ring has. */
	__atomic_store_n(&b.r.avail->idx, (uint16_t)(b.r.avail->idx + b.r.num + 1), __ATOMIC_RELEASE);
	fe_vq_kick(h->fe, Q, true);
	hx_expect_broken(h, Q, b.errfd, b.used);
	if (h_exists(h, b.rq.name))
		HX_FAIL(h, "a chain behind a jumping avail index was executed");
	recover(h);
}

static void test_avail_idx_backwards(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	for (unsigned int i = 0; i < b.r.num; i++)
		b.r.avail->ring[i] = 0;
	__atomic_store_n(&b.r.avail->idx, (uint16_t)(b.r.avail->idx - 1), __ATOMIC_RELEASE);
	fe_vq_kick(h->fe, Q, true);
	hx_expect_broken(h, Q, b.errfd, b.used);
	if (h_exists(h, b.rq.name))
		HX_FAIL(h, "a chain behind a backwards avail index was executed");
	recover(h);
}

static void test_head_out_of_range(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	brk_end(h, &b, (uint16_t)b.r.num);
}

static void test_head_ffff(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	direct_pair(&b);
	brk_end(h, &b, 0xffff);
}

static void test_readable_after_writable(void **state)
{
	struct h *h = H_STATE(state);
	struct brk b;

	brk_begin(h, &b);
	/* header (readable), reply (writable), then the MKDIR arguments (readable again). */
	hx_desc(&b.r, 0, b.rq.req_gpa, 40, VRING_DESC_F_NEXT, 1);
	hx_desc(&b.r, 1, b.rq.out_gpa, OUT_SIZE, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	hx_desc(&b.r, 2, b.rq.req_gpa + 40, b.rq.req_len - 40, 0, 0);
	brk_end(h, &b, 0);
}

static void test_readable_after_writable_indirect(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_desc *t;
	uint64_t tg;
	struct brk b;

	brk_begin(h, &b);
	/* A direct writable descriptor, then an indirect table that starts readable. */
	t = itable(h, 2, &tg);
	itable_pair(t, &b.rq);
	hx_desc(&b.r, 0, b.rq.out_gpa + 2048, 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	hx_desc(&b.r, 1, tg, 2 * sizeof(*t), VRING_DESC_F_INDIRECT, 0);
	brk_end(h, &b, 0);
}

/* ---- odd but legal chains: served, connection usable ---- */

static void run_chain(struct h *h, uint16_t head, struct vring_used_elem *e)
{
	int err;

	hx_push(h, Q, head);
	err = hx_used(h, Q, e, HX_REPLY_MS);
	if (err)
		HX_FAIL(h, "chain %u was not used: %s (%s)", head, strerror(-err), fe_strerror(h->fe));
	if (e->id != head)
		HX_FAIL(h, "used id %u, expected %u", e->id, head);
}

static void test_zero_length_descriptors(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;

	hx_raw(h, Q, &r);
	rq_getattr(h, &rq);
	/* Zero-length buffers (inside guest memory) between the real ones. */
	hx_desc(&r, 0, rq.req_gpa, 40, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, rq.req_gpa + 40, 0, VRING_DESC_F_NEXT, 2);
	hx_desc(&r, 2, rq.req_gpa + 40, rq.req_len - 40, VRING_DESC_F_NEXT, 3);
	hx_desc(&r, 3, rq.req_gpa, 0, VRING_DESC_F_NEXT, 4);
	hx_desc(&r, 4, rq.out_gpa, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	hx_desc(&r, 5, rq.out_gpa + 16, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 6);
	hx_desc(&r, 6, rq.out_gpa + 16, OUT_SIZE - 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 7);
	hx_desc(&r, 7, rq.out_gpa, 0, VRING_DESC_F_WRITE, 0);
	run_chain(h, 0, &e);
	check_getattr_reply(h, &rq, e.len);
	check_poison(h, rq.out, ATTR_REPLY, OUT_SIZE + 4096);
	hx_alive(h);
}

static void test_zero_length_descriptor_bad_address(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;
	int errfd, err;

	/* A zero-length buffer carries nothing, whatever its address: served or refused, never a crash. */
	hx_raw(h, Q, &r);
	rq_getattr(h, &rq);
	errfd = hx_err_eventfd(h, Q);
	hx_desc(&r, 0, rq.req_gpa, rq.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, HX_BAD_GPA, 0, VRING_DESC_F_NEXT, 2);
	hx_desc(&r, 2, rq.out_gpa, OUT_SIZE, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	hx_desc(&r, 3, UINT64_MAX, 0, VRING_DESC_F_WRITE, 0);
	hx_push(h, Q, 0);
	err = hx_used(h, Q, &e, 1000);
	if (err == 0) {
		check_getattr_reply(h, &rq, e.len);
		if (errfd >= 0)
			close(errfd);
		hx_alive(h);
	} else {
		print_message("%s: zero-length descriptors with bogus addresses break the device\n",
			      h->backend);
		if (errfd >= 0 && !hx_err_signalled(errfd, HX_REPLY_MS))
			HX_FAIL(h, "no reply and no error eventfd");
		if (errfd >= 0)
			close(errfd);
		hx_vu_alive(h);
	}
}

static void test_header_in_one_byte_descriptors(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;
	unsigned int i;

	hx_raw(h, Q, &r);
	rq_getattr(h, &rq);
	for (i = 0; i < rq.req_len; i++)
		hx_desc(&r, i, rq.req_gpa + i, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	/* The reply header cut in 4-byte pieces too. */
	for (unsigned int k = 0; k < 4; k++, i++)
		hx_desc(&r, i, rq.out_gpa + 4 * k, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
			(uint16_t)(i + 1));
	hx_desc(&r, i, rq.out_gpa + 16, OUT_SIZE - 16, VRING_DESC_F_WRITE, 0);
	run_chain(h, 0, &e);
	check_getattr_reply(h, &rq, e.len);
	hx_alive(h);
}

static void test_no_writable_part(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;

	hx_raw(h, Q, &r);
	rq_mkdir(h, &rq);
	hx_desc(&r, 0, rq.req_gpa, rq.req_len, 0, 0);
	run_chain(h, 0, &e);
	/* No room for a reply: returned with nothing written. */
	assert_int_equal(e.len, 0);
	hx_alive(h);
}

static void test_writable_zero_length(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;

	hx_raw(h, Q, &r);
	rq_getattr(h, &rq);
	hx_desc(&r, 0, rq.req_gpa, rq.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, rq.out_gpa, 0, VRING_DESC_F_WRITE, 0);
	run_chain(h, 0, &e);
	assert_int_equal(e.len, 0);
	check_poison(h, rq.out, 0, OUT_SIZE);
	hx_alive(h);
}

static void test_writable_smaller_than_out_header(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;

	hx_raw(h, Q, &r);
	rq_getattr(h, &rq);
	hx_desc(&r, 0, rq.req_gpa, rq.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, rq.out_gpa, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	hx_desc(&r, 2, rq.out_gpa + 8, 7, VRING_DESC_F_WRITE, 0);
	run_chain(h, 0, &e);
	/* 15 writable bytes: not even a fuse_out_header fits, nothing may be written. */
	assert_int_equal(e.len, 0);
	check_poison(h, rq.out, 0, OUT_SIZE);
	hx_alive(h);
}

static void test_writable_too_small_for_lookup(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fuse_out_header oh;
	struct fe_vq_raw r;
	struct rq rq;

	h_write_file(h, "file", "x", 1);
	hx_raw(h, Q, &r);
	for (int i = 0; i < 50; i++) {
		rq_lookup(h, &rq, "file");
		hx_desc(&r, 0, rq.req_gpa, rq.req_len, VRING_DESC_F_NEXT, 1);
		hx_desc(&r, 1, rq.out_gpa, 20, VRING_DESC_F_WRITE, 0);
		run_chain(h, 0, &e);
		/* The entry (144 bytes) does not fit in 20: an error header or nothing. */
		if (e.len != 0 && e.len != sizeof(oh))
			HX_FAIL(h, "LOOKUP with 20 writable bytes: used length %u", e.len);
		if (e.len) {
			memcpy(&oh, rq.out, sizeof(oh));
			assert_int_equal(oh.len, sizeof(oh));
			assert_int_equal(oh.unique, rq.unique);
			if (oh.error >= 0)
				HX_FAIL(h, "LOOKUP reply that does not fit has error %d", oh.error);
			if (h_is(h, "vufsd"))
				assert_int_equal(oh.error, -ERANGE);
		}
		check_poison(h, rq.out, e.len, OUT_SIZE + 4096);
		fe_guest_free(h->fe, rq.req);
		fe_guest_free(h->fe, rq.out);
	}
	hx_alive(h);
}

/* ---- a guest that rewrites the descriptor table while the daemon works ---- */

struct flipper {
	volatile bool stop;
	bool wild;		/* also invalid values (may break the device) */
	struct vring_desc *d;	/* table entries 0 and 1 of the request queue */
	uint64_t req[2], out[2];
	uint32_t req_len;
	unsigned long flips;
};

static void *flip_main(void *arg)
{
	struct flipper *f = arg;
	uint32_t x = 12345;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		switch (x % (f->wild ? 10 : 6)) {
		case 0:
			__atomic_store_n(&f->d[0].addr, f->req[x & 1], __ATOMIC_RELAXED);
			break;
		case 1: /* header.len no longer matches: an error reply */
			__atomic_store_n(&f->d[0].len, (x & 2) ? f->req_len : f->req_len + 8,
					 __ATOMIC_RELAXED);
			break;
		case 2:
			__atomic_store_n(&f->d[1].addr, f->out[(x >> 3) & 1], __ATOMIC_RELAXED);
			break;
		case 3: /* too small for anything, just a header, or enough */
			__atomic_store_n(&f->d[1].len,
					 (uint32_t[]){ 0, 8, 16, 60, ATTR_REPLY, 4096 }[(x >> 4) % 6],
					 __ATOMIC_RELAXED);
			break;
		case 4:
			__atomic_store_n(&f->d[0].len, (x & 8) ? 40 : f->req_len, __ATOMIC_RELAXED);
			break;
		case 5:
			__atomic_store_n(&f->d[0].addr, f->req[(x >> 5) & 1], __ATOMIC_RELAXED);
			__atomic_store_n(&f->d[1].len, 4096, __ATOMIC_RELAXED);
			break;
		case 6:
			__atomic_store_n(&f->d[0].addr, HX_BAD_GPA, __ATOMIC_RELAXED);
			break;
		case 7:
			__atomic_store_n(&f->d[1].flags, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&f->d[1].next, (x & 16) ? 0 : 1, __ATOMIC_RELAXED);
			break;
		case 8:
			__atomic_store_n(&f->d[0].next, (x & 16) ? 0xffff : 1, __ATOMIC_RELAXED);
			break;
		default:
			__atomic_store_n(&f->d[1].flags, VRING_DESC_F_WRITE, __ATOMIC_RELAXED);
			__atomic_store_n(&f->d[0].next, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&f->d[0].addr, f->req[0], __ATOMIC_RELAXED);
			break;
		}
		f->flips++;
	}
	return NULL;
}

/* Requests back to back on the flipping chain for ms; returns how many were served (-1: one was not). */
static long flip_stream(struct h *h, int ms, const char **why)
{
	uint64_t end = fe_now_ns() + (uint64_t)ms * 1000000;
	struct vring_used_elem e;
	long n = 0;

	*why = NULL;
	while (fe_now_ns() < end) {
		int err;

		hx_push(h, Q, 0);
		err = hx_used(h, Q, &e, 2000);
		if (err)
			return -1;
		if (e.id != 0 || e.len > 4096) {
			*why = "bad used element";
			return -1;
		}
		n++;
	}
	return n;
}

static void test_descriptor_table_flipped_under_the_daemon(void **state)
{
	struct h *h = H_STATE(state);
	struct flipper f = { 0 };
	struct fe_vq_raw r;
	struct rq a, b;
	pthread_t t;
	const char *why;
	long calm, wild;
	int errfd;
	bool broken;

	hx_raw(h, Q, &r);
	rq_getattr(h, &a);
	rq_getattr(h, &b);
	errfd = hx_err_eventfd(h, Q);
	f.d = r.desc;
	f.req[0] = a.req_gpa;
	f.req[1] = b.req_gpa;
	f.out[0] = a.out_gpa;
	f.out[1] = b.out_gpa;
	f.req_len = a.req_len;
	hx_desc(&r, 0, a.req_gpa, a.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, a.out_gpa, 4096, VRING_DESC_F_WRITE, 0);

	/* Phase 1: every value the flipper writes is valid: all requests are answered. */
	if (pthread_create(&t, NULL, flip_main, &f))
		fail_msg("pthread_create");
	calm = flip_stream(h, 1200, &why);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	if (calm < 0) {
		if (errfd >= 0)
			close(errfd);
		HX_FAIL(h, "a request on a chain rewritten with valid values was not served%s%s",
			why ? ": " : "", why ? why : "");
	}
	print_message("%s: %ld requests served during %lu valid rewrites\n", h->backend, calm, f.flips);

	/* Phase 2: also invalid values; the device may declare itself broken, never crash. */
	f.stop = false;
	f.wild = true;
	f.flips = 0;
	if (pthread_create(&t, NULL, flip_main, &f))
		fail_msg("pthread_create");
	wild = flip_stream(h, 800, &why);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	hx_desc(&r, 0, a.req_gpa, a.req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, a.out_gpa, 4096, VRING_DESC_F_WRITE, 0);
	broken = errfd >= 0 ? hx_err_signalled(errfd, wild < 0 ? 1000 : 0) : wild < 0;
	if (errfd >= 0)
		close(errfd);
	print_message("%s: wild phase: %ld requests served, %lu rewrites, device %s\n", h->backend,
		      wild, f.flips, broken ? "broken" : "still serving");
	if (why)
		HX_FAIL(h, "wild phase: %s", why);
	hx_vu_alive(h);
	if (!broken && wild >= 0)
		hx_alive(h);
	else if (!broken)
		HX_FAIL(h, "a request was neither served nor did the device report an error");
}

/*
 * A SETLKW that has to wait completes later (vq_complete_chain walks the
 * chain again): the guest rewrites that chain in the meantime.
 */
static int setlkw_pending(struct h *h, struct fe_vq_raw *r, struct rq *rq, int *hostfd)
{
	struct fuse_lk_in lk = { 0 };
	struct fuse_open_out oo;
	struct vring_used_elem e;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	uint8_t buf[256];
	uint64_t node;

	h_write_file(h, "lockfile", "data", 4);
	*hostfd = open(h_path(h, "lockfile"), O_RDWR | O_CLOEXEC);
	if (*hostfd < 0 || fcntl(*hostfd, F_OFD_SETLK, &fl) < 0)
		fail_msg("host lock: %s", strerror(errno));
	node = h_lookup(h, "lockfile", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDWR, &oo));
	lk.fh = oo.fh;
	lk.owner = 0x1234;
	lk.lk.type = F_WRLCK;
	lk.lk.end = INT64_MAX;
	memset(rq, 0, sizeof(*rq));
	rq_finish(h, rq, buf, hx_build(buf, FUSE_SETLKW, node, &lk, sizeof(lk)));
	hx_raw(h, Q, r);
	hx_desc(r, 0, rq->req_gpa, rq->req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(r, 1, rq->out_gpa, OUT_SIZE, VRING_DESC_F_WRITE, 0);
	hx_push(h, Q, 0);
	/* The host holds the lock: no reply while it does. */
	if (hx_used(h, Q, &e, HX_QUIET_MS) != -ETIMEDOUT) {
		close(*hostfd);
		if (!h_is(h, "vufsd"))
			return -1; /* locks not forwarded to the host: nothing waits */
		HX_FAIL(h, "SETLKW on a lock the host holds completed at once");
	}
	return 0;
}

static void setlkw_skip(int errfd)
{
	if (errfd >= 0)
		close(errfd);
	skip();
}

static void test_late_completion_chain_moved_outside_memory(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_raw r;
	struct rq rq;
	uint16_t used;
	int hostfd, errfd;

	errfd = hx_err_eventfd(h, Q);
	hx_mark_idle(h);
	if (setlkw_pending(h, &r, &rq, &hostfd))
		setlkw_skip(errfd);
	used = hx_used_idx(h, Q);
	/* While it waits, the guest points the reply descriptor outside its memory... */
	__atomic_store_n(&r.desc[1].addr, HX_BAD_GPA, __ATOMIC_RELEASE);
	/* ...then the lock is released and the daemon completes the request. */
	close(hostfd);
	hx_expect_broken(h, Q, errfd, used);
	recover(h);
}

static void test_late_completion_chain_shrunk(void **state)
{
	struct h *h = H_STATE(state);
	struct vring_used_elem e;
	struct fe_vq_raw r;
	struct rq rq;
	int hostfd, err;

	if (setlkw_pending(h, &r, &rq, &hostfd))
		setlkw_skip(-1);
	/* The reply no longer fits: the chain comes back with nothing written. */
	__atomic_store_n(&r.desc[1].len, 8, __ATOMIC_RELEASE);
	close(hostfd);
	err = hx_used(h, Q, &e, HX_REPLY_MS);
	if (err)
		HX_FAIL(h, "late completion never came: %s", strerror(-err));
	assert_int_equal(e.id, 0);
	if (e.len != 0)
		HX_FAIL(h, "late reply of %u bytes in an 8-byte buffer", e.len);
	check_poison(h, rq.out, 0, OUT_SIZE);
	hx_alive(h);
}

static void test_late_completion_chain_loops(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_raw r;
	struct rq rq;
	uint16_t used;
	int hostfd, errfd;

	errfd = hx_err_eventfd(h, Q);
	hx_mark_idle(h);
	if (setlkw_pending(h, &r, &rq, &hostfd))
		setlkw_skip(errfd);
	used = hx_used_idx(h, Q);
	__atomic_store_n(&r.desc[1].next, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&r.desc[1].flags, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, __ATOMIC_RELEASE);
	close(hostfd);
	hx_expect_broken(h, Q, errfd, used);
	recover(h);
}

/* ---- reply buffers that alias the rings ---- */

/* READ 0xff bytes into a writable descriptor that covers ring memory of the same queue. */
static int read_into_ring(struct h *h, void *ring, uint32_t ring_len, struct rq *rq, uint16_t *used_before,
			  int *errfd)
{
	struct fuse_read_in ri = { .size = ring_len };
	struct fuse_open_out oo;
	struct vring_used_elem e;
	struct fe_vq_raw r;
	static uint8_t ff[65536];
	uint8_t buf[128];
	uint64_t node;

	memset(ff, 0xff, sizeof(ff));
	h_write_file(h, "ff", ff, sizeof(ff));
	node = h_lookup(h, "ff", NULL);
	H_OK(h, fe_fuse_open(h->fe, node, O_RDONLY, &oo));
	ri.fh = oo.fh;
	memset(rq, 0, sizeof(*rq));
	rq_finish(h, rq, buf, hx_build(buf, FUSE_READ, node, &ri, sizeof(ri)));
	*errfd = hx_err_eventfd(h, Q);
	*used_before = hx_used_idx(h, Q);
	hx_raw(h, Q, &r);
	hx_desc(&r, 0, rq->req_gpa, rq->req_len, VRING_DESC_F_NEXT, 1);
	hx_desc(&r, 1, rq->out_gpa, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	hx_desc(&r, 2, hx_gpa(h, ring, ring_len), ring_len, VRING_DESC_F_WRITE, 0);
	hx_push(h, Q, 0);
	return hx_used(h, Q, &e, 1000) ? -1 : (int)e.len;
}

static void test_reply_buffer_is_the_descriptor_table(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_raw r;
	struct rq rq;
	uint16_t used;
	int errfd, n;

	hx_raw(h, Q, &r);
	/* Descriptors are copied before use: overwriting the table mid-request is harmless. */
	n = read_into_ring(h, r.desc, r.num * sizeof(struct vring_desc), &rq, &used, &errfd);
	print_message("%s: READ into the descriptor table: used length %d\n", h->backend, n);
	if (n != (int)(16 + r.num * sizeof(struct vring_desc)))
		HX_FAIL(h, "READ into the descriptor table: used length %d", n);
	for (unsigned int i = 0; i < r.num; i++)
		assert_int_equal(r.desc[i].flags, 0xffff);
	if (errfd >= 0) {
		assert_false(hx_err_signalled(errfd, 0));
		close(errfd);
	}
	hx_alive(h);
}

static void test_reply_buffer_is_the_avail_ring(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_raw r;
	struct rq rq;
	uint16_t used;
	int errfd, n;
	bool broken;

	hx_raw(h, Q, &r);
	/* avail->idx becomes 0xffff under the daemon: it may stop (broken), never crash. */
	n = read_into_ring(h, r.avail, 4 + 2 * r.num + 2, &rq, &used, &errfd);
	broken = errfd >= 0 && hx_err_signalled(errfd, 1000);
	print_message("%s: READ into the avail ring: used length %d, device %s\n", h->backend, n,
		      broken ? "broken" : "serving");
	if (errfd >= 0)
		close(errfd);
	hx_vu_alive(h);
	if (n < 0 && !broken)
		HX_FAIL(h, "READ into the avail ring: neither used nor an error signalled");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_desc_addr_outside_memory),
		T(test_desc_writable_addr_outside_memory),
		T(test_desc_addr_len_wraps),
		T(test_desc_writable_len_wraps),
		T(test_desc_len_past_region_end),
		T(test_chain_self_loop),
		T(test_chain_longer_cycle),
		T(test_chain_writable_cycle),
		T(test_next_index_out_of_range),
		T(test_next_index_ffff),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_len_zero),
		T(test_indirect_len_not_multiple_of_16),
		T(test_indirect_len_huge),
		T(test_indirect_table_outside_memory),
		T(test_indirect_table_past_region_end),
		T(test_indirect_entry_loops_to_itself),
		T(test_indirect_entry_is_its_own_table),
		T(test_indirect_next_out_of_range),
		T(test_avail_idx_jump),
		T(test_avail_idx_backwards),
		T(test_head_out_of_range),
		T(test_head_ffff),
		T(test_readable_after_writable),
		T(test_readable_after_writable_indirect),
		T(test_zero_length_descriptors),
		T(test_zero_length_descriptor_bad_address),
		T(test_header_in_one_byte_descriptors),
		T(test_no_writable_part),
		T(test_writable_zero_length),
		T(test_writable_smaller_than_out_header),
		T(test_writable_too_small_for_lookup),
		T(test_descriptor_table_flipped_under_the_daemon),
		T(test_late_completion_chain_moved_outside_memory),
		T(test_late_completion_chain_shrunk),
		T(test_late_completion_chain_loops),
		T(test_reply_buffer_is_the_descriptor_table),
		T(test_reply_buffer_is_the_avail_ring),
	};

	return cmocka_run_group_tests_name("hostile_ring", tests, NULL, NULL);
}
