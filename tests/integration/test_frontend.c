// SPDX-License-Identifier: MIT
/*
 * Self-test of libvufsfe, no backend involved: the test plays the device
 * directly on the rings in guest memory, to check the driver's chain
 * layout and that whatever a misbehaving device writes (bad used entries,
 * malformed FUSE replies, malformed directory records, silence) is caught
 * and reported instead of trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- a minimal device on the other side of the rings ---- */

struct seg {
	uint8_t *p;
	uint32_t len;
	bool writable;
};

struct chain {
	uint16_t head;
	unsigned int n;
	struct seg seg[1100];
};

static uint16_t dev_avail[FE_MAX_QUEUES];

static struct fe *new_fe(struct fe_opts *o)
{
	struct fe *fe;

	memset(dev_avail, 0, sizeof(dev_avail));
	assert_int_equal(fe_create(o, &fe), 0);
	return fe;
}

static void walk(struct fe *fe, const struct vring_desc *table, unsigned int max, uint16_t i,
		 struct chain *c, bool indirect_ok)
{
	for (unsigned int guard = 0; guard <= max; guard++) {
		const struct vring_desc *d = &table[i];

		if (d->flags & VRING_DESC_F_INDIRECT) {
			assert_true(indirect_ok);
			walk(fe, fe_guest_ptr(fe, d->addr, d->len), d->len / sizeof(*d), 0, c, false);
			return;
		}
		assert_true(c->n < 1100);
		c->seg[c->n].p = fe_guest_ptr(fe, d->addr, d->len);
		assert_non_null(c->seg[c->n].p);
		c->seg[c->n].len = d->len;
		c->seg[c->n].writable = d->flags & VRING_DESC_F_WRITE;
		c->n++;
		if (!(d->flags & VRING_DESC_F_NEXT))
			return;
		i = d->next;
		assert_true(i < max);
	}
	fail_msg("descriptor loop");
}

/* Take the next available chain of queue q. */
static void dev_pop(struct fe *fe, unsigned int q, struct chain *c)
{
	struct fe_vq_raw r;

	assert_int_equal(fe_vq_raw(fe, q, &r), 0);
	assert_int_not_equal(r.avail->idx, dev_avail[q]);
	c->n = 0;
	c->head = r.avail->ring[dev_avail[q]++ % r.num];
	walk(fe, r.desc, r.num, c->head, c, true);
}

static void dev_push(struct fe *fe, unsigned int q, uint32_t id, uint32_t len)
{
	struct fe_vq_raw r;

	assert_int_equal(fe_vq_raw(fe, q, &r), 0);
	r.used->ring[r.used->idx % r.num].id = id;
	r.used->ring[r.used->idx % r.num].len = len;
	__atomic_store_n(&r.used->idx, (uint16_t)(r.used->idx + 1), __ATOMIC_RELEASE);
}

/* Gather the readable part, scatter a reply into the writable part. */
static size_t dev_read(const struct chain *c, uint8_t *buf, size_t size)
{
	size_t n = 0;

	for (unsigned int i = 0; i < c->n && !c->seg[i].writable; i++) {
		assert_true(n + c->seg[i].len <= size);
		memcpy(buf + n, c->seg[i].p, c->seg[i].len);
		n += c->seg[i].len;
	}
	return n;
}

static uint32_t dev_write(const struct chain *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	for (unsigned int i = 0; i < c->n && done < len; i++) {
		size_t k;

		if (!c->seg[i].writable)
			continue;
		k = len - done < c->seg[i].len ? len - done : c->seg[i].len;
		memcpy(c->seg[i].p, p + done, k);
		done += k;
	}
	assert_int_equal(done, len);
	return (uint32_t)len;
}

/* Answer the pending request on queue q with header fields and a body. */
static void dev_reply(struct fe *fe, unsigned int q, int32_t error, int64_t len_adjust, int64_t unique_adjust,
		      const void *body, uint32_t body_len)
{
	uint8_t req[4096], rep[4096];
	struct fuse_in_header ih;
	struct fuse_out_header oh;
	struct chain *c = malloc(sizeof(*c));

	assert_non_null(c);
	dev_pop(fe, q, c);
	assert_true(dev_read(c, req, sizeof(req)) >= sizeof(ih));
	memcpy(&ih, req, sizeof(ih));
	oh.len = (uint32_t)((int64_t)(sizeof(oh) + body_len) + len_adjust);
	oh.error = error;
	oh.unique = (uint64_t)((int64_t)ih.unique + unique_adjust);
	memcpy(rep, &oh, sizeof(oh));
	memcpy(rep + sizeof(oh), body, body_len);
	dev_push(fe, q, c->head, dev_write(c, rep, sizeof(oh) + body_len));
	free(c);
}

/* ---- tests ---- */

static void test_allocator(void **state)
{
	struct fe_opts o;
	struct fe *fe;
	void *p[64], *big;
	uint64_t gpa, g0, g1, size0;
	void *host0;

	(void)state;
	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	o.nqueues = 1;
	o.queue_size = 2;
	fe = new_fe(&o);
	/* Page-granular and aligned, translations round-trip. */
	for (int i = 0; i < 64; i++) {
		p[i] = fe_guest_alloc(fe, 100);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 4096, 0);
		assert_int_equal(fe_guest_gpa(fe, p[i], 100, &gpa), 0);
		assert_ptr_equal(fe_guest_ptr(fe, gpa, 100), p[i]);
		assert_true(gpa != 0);
	}
	for (int i = 0; i < 64; i += 2)
		fe_guest_free(fe, p[i]);
	/* Exhaustion is reported, not crashed on, and freeing makes room again. */
	assert_null(fe_guest_alloc(fe, 16u << 20));
	big = fe_guest_alloc(fe, 7u << 20);
	assert_non_null(big);
	assert_null(fe_guest_alloc(fe, 1u << 20));
	fe_guest_free(fe, big);
	assert_non_null(big = fe_guest_alloc(fe, 1u << 20));
	/* Bounds of the translation helpers. */
	assert_int_equal(fe_guest_region(fe, 0, &g0, &size0, &host0, NULL), 0);
	assert_null(fe_guest_ptr(fe, g0 + size0 - 10, 11));
	assert_non_null(fe_guest_ptr(fe, g0 + size0 - 10, 10));
	assert_null(fe_guest_ptr(fe, UINT64_MAX - 5, 10));
	assert_false(fe_guest_contains(fe, (uint8_t *)host0 + size0 - 1, 2));
	assert_false(fe_guest_contains(fe, &o, sizeof(o)));
	assert_int_equal(fe_guest_gpa(fe, &o, 1, &gpa), -EFAULT);
	assert_int_equal(fe_guest_region(fe, 1, NULL, NULL, NULL, NULL), -ENOENT);
	fe_close(fe);

	/* Two regions: discontiguous guest-physical ranges, allocations alternate. */
	o.mem_regions = 2;
	fe = new_fe(&o);
	assert_int_equal(fe_guest_region(fe, 0, &g0, NULL, NULL, NULL), 0);
	assert_int_equal(fe_guest_region(fe, 1, &g1, NULL, NULL, NULL), 0);
	assert_true(g1 >= g0 + (4u << 20));
	{
		void *a = fe_guest_alloc(fe, 4096), *b = fe_guest_alloc(fe, 4096);
		uint64_t ga, gb;

		assert_int_equal(fe_guest_gpa(fe, a, 4096, &ga), 0);
		assert_int_equal(fe_guest_gpa(fe, b, 4096, &gb), 0);
		assert_true((ga >= g1) != (gb >= g1));
	}
	fe_close(fe);
}

static void test_chain_layout(void **state)
{
	struct fe_opts o;
	struct fe *fe;
	struct fe_vq_raw r;
	struct chain *c = malloc(sizeof(*c));
	uint8_t *a, *b;
	struct fe_sg sg[2];
	uint32_t total = 0;
	uint64_t gpa;
	int head;

	(void)state;
	assert_non_null(c);
	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	o.queue_size = 16;
	o.seg_size = 4096;
	o.indirect = FE_INDIRECT_NEVER;
	fe = new_fe(&o);
	a = fe_guest_alloc(fe, 3 * 4096);
	b = fe_guest_alloc(fe, 4096);
	/* 10000 bytes starting 100 bytes into a page: 3 pieces cut at page boundaries. */
	sg[0] = (struct fe_sg){ a + 100, 10000 };
	sg[1] = (struct fe_sg){ b, 64 };
	head = fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 1, (void *)0x1234);
	assert_true(head >= 0);
	assert_int_equal(fe_vq_free_descs(fe, FE_QUEUE_REQUEST), 16 - 3 - 1);
	dev_pop(fe, FE_QUEUE_REQUEST, c);
	assert_int_equal(c->head, head);
	assert_int_equal(c->n, 4);
	assert_int_equal(c->seg[0].len, 4096 - 100);
	for (unsigned int i = 0; i < 3; i++) {
		assert_false(c->seg[i].writable);
		assert_int_equal(fe_guest_gpa(fe, c->seg[i].p, c->seg[i].len, &gpa), 0);
		if (i)
			assert_int_equal(gpa % 4096, 0);
		assert_true(gpa % 4096 + c->seg[i].len <= 4096);
		assert_ptr_equal(c->seg[i].p, a + 100 + total);
		total += c->seg[i].len;
	}
	assert_int_equal(total, 10000);
	assert_true(c->seg[3].writable);
	assert_int_equal(c->seg[3].len, 64);

	/* The device may report at most the writable bytes. */
	dev_push(fe, FE_QUEUE_REQUEST, (uint32_t)head, 64);
	{
		void *tok;
		uint32_t len;

		assert_int_equal(fe_vq_get(fe, FE_QUEUE_REQUEST, &tok, &len), 1);
		assert_ptr_equal(tok, (void *)0x1234);
		assert_int_equal(len, 64);
		assert_int_equal(fe_vq_get(fe, FE_QUEUE_REQUEST, &tok, &len), 0);
	}
	assert_int_equal(fe_vq_free_descs(fe, FE_QUEUE_REQUEST), 16);

	/* Refusals. */
	{
		uint64_t size0;
		void *host0;

		/* Running off the end of guest memory. */
		assert_int_equal(fe_guest_region(fe, 0, NULL, &size0, &host0, NULL), 0);
		sg[0] = (struct fe_sg){ (uint8_t *)host0 + size0 - 100, 200 };
		assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 0, NULL), -EFAULT);
	}
	assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, (struct fe_sg[]){ { &o, 4 } }, 1, 0, NULL), -EFAULT);
	assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, (struct fe_sg[]){ { a, 0 } }, 1, 0, NULL), -EINVAL);
	{
		uint8_t *big = fe_guest_alloc(fe, 20 * 4096);

		assert_non_null(big);
		sg[0] = (struct fe_sg){ big, 20 * 4096 };
		assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 0, NULL), -E2BIG);
		sg[0] = (struct fe_sg){ big, 10 * 4096 };
		assert_true(fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 0, NULL) >= 0);
		assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 0, NULL), -EAGAIN);
	}
	assert_int_equal(fe_vq_raw(fe, FE_QUEUE_REQUEST, &r), 0);
	assert_int_equal(r.num, 16);
	fe_close(fe);
	free(c);
}

static void expect_broken(struct fe *fe, int expect)
{
	void *tok;
	uint32_t len;

	assert_int_equal(fe_vq_get(fe, FE_QUEUE_REQUEST, &tok, &len), expect);
	assert_int_equal(fe_broken(fe), expect);
	/* Sticky: nothing else goes through. */
	assert_int_equal(fe_vq_add(fe, FE_QUEUE_REQUEST, (struct fe_sg[]){ { fe_guest_alloc(fe, 64), 64 } },
				   1, 0, NULL), expect);
	fe_close(fe);
}

static void test_used_validation(void **state)
{
	struct fe_opts o;
	struct fe *fe;
	struct fe_sg sg[2];
	int head;

	(void)state;
	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	o.queue_size = 8;

	/* An id that is not an exposed head. */
	fe = new_fe(&o);
	sg[0] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	sg[1] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	head = fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 1, NULL);
	assert_true(head >= 0);
	dev_push(fe, FE_QUEUE_REQUEST, (uint32_t)head + 1, 0);
	expect_broken(fe, -EPROTO);

	/* An id beyond the ring. */
	fe = new_fe(&o);
	sg[0] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	sg[1] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	assert_true(fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 1, NULL) >= 0);
	dev_push(fe, FE_QUEUE_REQUEST, 0xffffffffu, 0);
	expect_broken(fe, -EPROTO);

	/* More bytes written than the chain can hold. */
	fe = new_fe(&o);
	sg[0] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	sg[1] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	head = fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 1, NULL);
	dev_push(fe, FE_QUEUE_REQUEST, (uint32_t)head, 65);
	expect_broken(fe, -EPROTO);

	/* used->idx jumping ahead of what is in flight. */
	fe = new_fe(&o);
	sg[0] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	sg[1] = (struct fe_sg){ fe_guest_alloc(fe, 64), 64 };
	head = fe_vq_add(fe, FE_QUEUE_REQUEST, sg, 1, 1, NULL);
	{
		struct fe_vq_raw r;

		fe_vq_raw(fe, FE_QUEUE_REQUEST, &r);
		r.used->ring[0].id = (uint32_t)head;
		r.used->idx = 5;
	}
	expect_broken(fe, -EPROTO);
}

static void test_fuse_reply_validation(void **state)
{
	struct fe_opts o;
	struct fe *fe;
	struct fe_fuse_call c;
	struct fuse_getattr_in gin = { 0 };
	struct fuse_attr_out ao, body;
	const struct {
		int32_t error;
		int64_t len_adjust, unique_adjust;
		uint32_t body_len;
		int expect;
	} cases[] = {
		{ 0, 0, 0, sizeof(body), 0 },			/* good */
		{ 0, 1, 0, sizeof(body), -EPROTO },		/* out.len != used length */
		{ 0, -1, 0, sizeof(body), -EPROTO },
		{ 0, 0, 2, sizeof(body), -EPROTO },		/* someone else's unique */
		{ -ENOENT, 0, 0, 0, -ENOENT },			/* plain error */
		{ -ENOENT, 0, 0, 8, -EPROTO },			/* error with a body */
		{ 5, 0, 0, 0, -EPROTO },			/* positive error */
		{ -100000, 0, 0, 0, -EPROTO },			/* absurd errno */
		{ 0, 0, 0, sizeof(body) - 8, -EPROTO },		/* short fixed-size reply */
	};

	(void)state;
	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	fe = new_fe(&o);
	memset(&body, 0x42, sizeof(body));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fe_fuse_call_init(&c, FUSE_GETATTR, FUSE_ROOT_ID);
		c.nin = 1;
		c.in[0] = (struct fe_fuse_buf){ &gin, sizeof(gin) };
		c.out = &ao;
		c.out_size = sizeof(ao);
		memset(&ao, 0, sizeof(ao));
		assert_int_equal(fe_fuse_submit(fe, &c), 0);
		dev_reply(fe, FE_QUEUE_REQUEST, cases[i].error, cases[i].len_adjust, cases[i].unique_adjust,
			  &body, cases[i].body_len);
		if (fe_fuse_wait(fe, &c, 1000) != cases[i].expect)
			fail_msg("case %zu: got %d (%s), expected %d", i, c.error, fe_strerror(fe),
				 cases[i].expect);
		if (cases[i].expect == 0)
			assert_memory_equal(&ao, &body, sizeof(body));
		/* Malformed replies are reported per request; the transport stays usable. */
		assert_int_equal(fe_broken(fe), 0);
	}

	/* FORGET: no writable buffer at all, used length 0. */
	{
		struct fuse_forget_in fin = { .nlookup = 1 };
		struct chain *ch = malloc(sizeof(*ch));

		assert_non_null(ch);
		fe_fuse_call_init(&c, FUSE_FORGET, 7);
		c.queue = FE_QUEUE_HIPRIO;
		c.flags = FE_CALL_NOREPLY;
		c.nin = 1;
		c.in[0] = (struct fe_fuse_buf){ &fin, sizeof(fin) };
		assert_int_equal(fe_fuse_submit(fe, &c), 0);
		dev_pop(fe, FE_QUEUE_HIPRIO, ch);
		for (unsigned int i = 0; i < ch->n; i++)
			assert_false(ch->seg[i].writable);
		dev_push(fe, FE_QUEUE_HIPRIO, ch->head, 0);
		assert_int_equal(fe_fuse_wait(fe, &c, 1000), 0);
		assert_false(c.replied);
		free(ch);
	}
	fe_close(fe);
}

static void test_timeout(void **state)
{
	struct fe_opts o;
	struct fe *fe;
	struct fe_fuse_call c;
	uint64_t t0;

	(void)state;
	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	o.timeout_ms = 300;
	fe = new_fe(&o);
	fe_fuse_call_init(&c, FUSE_STATFS, FUSE_ROOT_ID);
	t0 = fe_now_ns();
	/* Nobody answers: a bounded wait, then the connection is marked broken. */
	assert_int_equal(fe_fuse_call(fe, &c), -ETIMEDOUT);
	assert_true(fe_now_ns() - t0 >= 250000000ull && fe_now_ns() - t0 < 5000000000ull);
	assert_int_equal(fe_broken(fe), -ETIMEDOUT);
	assert_non_null(strstr(fe_strerror(fe), "STATFS"));
	assert_int_equal(fe_fuse_statfs(fe, FUSE_ROOT_ID, NULL), -ETIMEDOUT);
	fe_close(fe);
}

static void put_dirent(uint8_t *buf, size_t *pos, bool plus, uint64_t ino, uint64_t off, const char *name,
		       uint32_t namelen)
{
	struct fuse_dirent d = { .ino = ino, .off = off, .namelen = namelen, .type = 8 };
	size_t hdr = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;

	memset(buf + *pos, 0, FUSE_DIRENT_ALIGN(hdr + namelen));
	if (plus) {
		struct fuse_entry_out e = { .nodeid = ino + 100 };

		memcpy(buf + *pos, &e, sizeof(e));
	}
	memcpy(buf + *pos + hdr - FUSE_NAME_OFFSET, &d, sizeof(d));
	memcpy(buf + *pos + hdr, name, strlen(name) < namelen ? strlen(name) : namelen);
	*pos += FUSE_DIRENT_ALIGN(hdr + namelen);
}

static void test_dirent_parser(void **state)
{
	uint8_t buf[4096];
	struct fe_dirent d;
	size_t len = 0, pos = 0;

	(void)state;
	for (int plus = 0; plus < 2; plus++) {
		len = 0;
		put_dirent(buf, &len, plus, 1, 1, ".", 1);
		put_dirent(buf, &len, plus, 2, 2, "hello", 5);
		put_dirent(buf, &len, plus, 3, 3, "exactly8", 8);
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), 1);
		assert_string_equal(d.name, ".");
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), 1);
		assert_string_equal(d.name, "hello");
		assert_int_equal(d.ino, 2);
		assert_int_equal(d.off, 2);
		if (plus)
			assert_int_equal(d.entry.nodeid, 102);
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), 1);
		assert_string_equal(d.name, "exactly8");
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), 0);
		assert_int_equal(pos, len);

		/* Truncated record (header, then name). */
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, 10, &pos, plus, &d), -EPROTO);
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, (plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET), &pos,
						plus, &d), -EPROTO);
		/* Bad names. */
		len = 0;
		put_dirent(buf, &len, plus, 1, 1, "", 0);
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), -EPROTO);
		len = 0;
		put_dirent(buf, &len, plus, 1, 1, "a/b", 3);
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), -EPROTO);
		len = 0;
		put_dirent(buf, &len, plus, 1, 1, "ab", 4);	/* embedded NULs */
		pos = 0;
		assert_int_equal(fe_dirent_next(buf, len, &pos, plus, &d), -EPROTO);
		{
			struct fuse_dirent big = { .ino = 1, .namelen = 0xfffffff0u };

			memset(buf, 0, sizeof(buf));
			memcpy(buf + (plus ? sizeof(struct fuse_entry_out) : 0), &big, sizeof(big));
			pos = 0;
			assert_int_equal(fe_dirent_next(buf, sizeof(buf), &pos, plus, &d), -EPROTO);
		}
	}
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void test_no_fd_leak(void **state)
{
	int before = count_fds();

	(void)state;
	for (int i = 0; i < 20; i++) {
		struct fe *fe;
		struct fe_opts o;

		fe_opts_default(&o);
		o.mem_size = 4u << 20;
		o.nqueues = 8;
		assert_int_equal(fe_create(&o, &fe), 0);
		assert_int_equal(fe_connect(fe, "/nonexistent/vufs.sock", 10), -ENOENT);
		fe_close(fe);
	}
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocator),
		cmocka_unit_test(test_chain_layout),
		cmocka_unit_test(test_used_validation),
		cmocka_unit_test(test_fuse_reply_validation),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_dirent_parser),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests_name("frontend", tests, NULL, NULL);
}
