// SPDX-License-Identifier: MIT
/*
 * vhost-user handshake and virtqueue variants: with/without EVENT_IDX,
 * direct/indirect descriptors, 1 or 2 memory regions, SET_MEM_TABLE or
 * ADD_MEM_REG, with/without REPLY_ACK and PROTOCOL_FEATURES, small and large
 * rings, 4 KiB descriptors, index wrap-around, and stopping a ring with
 * GET_VRING_BASE then restarting it with SET_VRING_BASE. Each variant runs
 * the same small workload and checks the data on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "harness.h"

#define F(bit) (1ull << (bit))
#define PF(bit) (1ull << (bit))

static uint64_t workload_seed;

/*
 * Create a file, write len bytes in chunk-sized requests, read them back in
 * several requests kept in flight together, compare with the host, list
 * the root, unlink it.
 */
static void workload(struct h *h, size_t len, uint32_t chunk)
{
	uint8_t *data = malloc(len), *back = calloc(1, len), *host = malloc(len + 1);
	enum { DEPTH = 4 };
	struct fe_fuse_call calls[DEPTH];
	struct fuse_read_in rin[DEPTH];
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint8_t dirbuf[4096];
	char name[32];
	size_t off;
	int n;

	assert_non_null(data);
	assert_non_null(back);
	assert_non_null(host);
	if (chunk > fe_fuse_max_io(h->fe))
		chunk = fe_fuse_max_io(h->fe);
	snprintf(name, sizeof(name), "w%llu", (unsigned long long)workload_seed);
	h_pattern(data, len, (uint32_t)workload_seed++);

	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, name, O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &oo));
	for (off = 0; off < len;) {
		uint32_t k = len - off > chunk ? chunk : (uint32_t)(len - off);

		n = fe_fuse_write(h->fe, e.nodeid, oo.fh, off, data + off, k);
		H_OK(h, n);
		assert_int_equal(n, k);
		off += k;
	}
	/* Read back with up to DEPTH requests in flight together. */
	for (off = 0; off < len;) {
		int k = 0;

		for (int i = 0; i < DEPTH && off < len; i++, k++) {
			uint32_t sz = len - off > chunk ? chunk : (uint32_t)(len - off);

			memset(&rin[i], 0, sizeof(rin[i]));
			rin[i].fh = oo.fh;
			rin[i].offset = off;
			rin[i].size = sz;
			fe_fuse_call_init(&calls[i], FUSE_READ, e.nodeid);
			calls[i].nin = 1;
			calls[i].in[0] = (struct fe_fuse_buf){ &rin[i], sizeof(rin[i]) };
			calls[i].out = back + off;
			calls[i].out_size = sz;
			calls[i].flags = FE_CALL_ANY_SIZE;
			n = fe_fuse_submit(h->fe, &calls[i]);
			if (n == -EAGAIN) {
				/* Small ring: fall back to one at a time. */
				H_OK(h, fe_fuse_call(h->fe, &calls[i]));
			} else {
				H_OK(h, n);
			}
			off += sz;
		}
		for (int i = 0; i < k; i++) {
			H_OK(h, fe_fuse_wait(h->fe, &calls[i], -1));
			assert_int_equal(calls[i].out_len, calls[i].out_size);
		}
	}
	assert_memory_equal(back, data, len);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
	assert_int_equal(h_read_file(h, name, host, len + 1), len);
	assert_memory_equal(host, data, len);

	{
		struct fuse_open_out od;
		struct fe_dirent d;
		size_t pos = 0;
		bool found = false;

		H_OK(h, fe_fuse_opendir(h->fe, FUSE_ROOT_ID, O_RDONLY, &od));
		n = fe_fuse_readdir(h->fe, FUSE_ROOT_ID, od.fh, 0, dirbuf, sizeof(dirbuf));
		H_OK(h, n);
		while (fe_dirent_next(dirbuf, (size_t)n, &pos, false, &d) == 1)
			found |= !strcmp(d.name, name);
		assert_true(found);
		H_OK(h, fe_fuse_releasedir(h->fe, FUSE_ROOT_ID, od.fh));
	}
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, name));
	H_OK(h, fe_fuse_forget(h->fe, e.nodeid, 1));
	assert_false(h_exists(h, name));
	free(data);
	free(back);
	free(host);
}

static void start_or_skip(struct h *h, const struct fe_opts *o)
{
	int err = h_try_start(h, o, true);

	if (err == -EOPNOTSUPP) {
		print_message("%s: %s: skipped\n", h->backend, fe_strerror(h->fe));
		skip();
	}
	if (err) {
		if (h->be)
			fe_backend_dump_log(h->be, 4096);
		fail_msg("start: %s (%s)", strerror(-err), h->fe ? fe_strerror(h->fe) : "-");
	}
}

static void test_default(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t f, again;

	h_start(h, NULL, true);
	f = fe_features(h->fe);
	print_message("%s: features offered 0x%llx acked 0x%llx, protocol offered 0x%llx acked 0x%llx, "
		      "queues %llu, mem slots %llu\n", h->backend,
		      (unsigned long long)fe_backend_features(h->fe), (unsigned long long)f,
		      (unsigned long long)fe_backend_protocol_features(h->fe),
		      (unsigned long long)fe_protocol_features(h->fe),
		      (unsigned long long)fe_queue_num(h->fe), (unsigned long long)fe_max_mem_slots(h->fe));
	assert_true(f & F(VIRTIO_F_VERSION_1));
	if (fe_protocol_features(h->fe) & PF(VHOST_USER_PROTOCOL_F_MQ))
		assert_true(fe_queue_num(h->fe) >= 2);
	workload(h, 300000, 64 << 10);
	/* QEMU asks for the features again after SET_OWNER: same answer. */
	H_OK(h, fe_vu_get_u64(h->fe, VHOST_USER_GET_FEATURES, &again));
	assert_int_equal(again, fe_backend_features(h->fe));
	workload(h, 5000, 4096);
}

static void test_no_event_idx(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.feature_mask &= ~F(VIRTIO_RING_F_EVENT_IDX);
	h_start(h, &o, true);
	assert_false(fe_features(h->fe) & F(VIRTIO_RING_F_EVENT_IDX));
	workload(h, 300000, 64 << 10);
}

static void test_event_idx(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_stats st;

	h_start(h, NULL, true);
	if (!(fe_backend_features(h->fe) & F(VIRTIO_RING_F_EVENT_IDX)))
		skip();
	assert_true(fe_features(h->fe) & F(VIRTIO_RING_F_EVENT_IDX));
	workload(h, 300000, 64 << 10);
	workload(h, 100000, 4096);
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_REQUEST, &st));
	print_message("%s: request queue: %llu chains, %llu kicks, %llu suppressed, %llu call wake-ups\n",
		      h->backend, (unsigned long long)st.added, (unsigned long long)st.kicks,
		      (unsigned long long)st.kicks_suppressed, (unsigned long long)st.calls);
	assert_int_equal(st.added, st.used);
}

static void test_no_indirect(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.feature_mask &= ~F(VIRTIO_RING_F_INDIRECT_DESC);
	o.indirect = FE_INDIRECT_NEVER;
	h_start(h, &o, true);
	assert_false(fe_features(h->fe) & F(VIRTIO_RING_F_INDIRECT_DESC));
	workload(h, 300000, 64 << 10);
}

static void test_indirect_always(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.indirect = FE_INDIRECT_ALWAYS;
	start_or_skip(h, &o);
	workload(h, 300000, 64 << 10);
}

static void test_plain_rings(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* Neither EVENT_IDX nor indirect descriptors. */
	fe_opts_default(&o);
	o.feature_mask &= ~(F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX));
	o.indirect = FE_INDIRECT_NEVER;
	h_start(h, &o, true);
	workload(h, 300000, 64 << 10);
}

static void test_two_regions(void **state)
{
	struct h *h = H_STATE(state);
	uint64_t gpa0, gpa1, g;
	struct fe_opts o;
	void *a, *b;

	fe_opts_default(&o);
	o.mem_regions = 2;
	h_start(h, &o, true);
	H_OK(h, fe_guest_region(h->fe, 0, &gpa0, NULL, NULL, NULL));
	H_OK(h, fe_guest_region(h->fe, 1, &gpa1, NULL, NULL, NULL));
	/* Consecutive allocations alternate between the regions. */
	a = fe_guest_alloc(h->fe, 4096);
	b = fe_guest_alloc(h->fe, 4096);
	H_OK(h, fe_guest_gpa(h->fe, a, 4096, &g));
	assert_true(gpa0 < gpa1);
	{
		uint64_t ga = g, gb;

		H_OK(h, fe_guest_gpa(h->fe, b, 4096, &gb));
		assert_true((ga >= gpa1) != (gb >= gpa1));
	}
	fe_guest_free(h->fe, a);
	fe_guest_free(h->fe, b);
	workload(h, 300000, 64 << 10);
	workload(h, 200000, 4096);
}

static void test_add_mem_reg(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.add_mem_reg = true;
	start_or_skip(h, &o);
	workload(h, 300000, 64 << 10);
}

static void test_add_mem_reg_two_regions(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.add_mem_reg = true;
	o.mem_regions = 2;
	start_or_skip(h, &o);
	workload(h, 300000, 64 << 10);
}

static void test_no_reply_ack(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.protocol_mask &= ~PF(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	h_start(h, &o, true);
	assert_false(fe_protocol_features(h->fe) & PF(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	workload(h, 100000, 64 << 10);
}

static void test_ack_memory_only(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* QEMU's habit: NEED_REPLY only on the memory table. */
	fe_opts_default(&o);
	o.ack_all = false;
	h_start(h, &o, true);
	workload(h, 100000, 64 << 10);
}

static void test_no_protocol_features(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* Without PROTOCOL_FEATURES rings start enabled: no SET_VRING_ENABLE at all. */
	fe_opts_default(&o);
	o.feature_mask &= ~F(VHOST_USER_F_PROTOCOL_FEATURES);
	h_start(h, &o, true);
	assert_int_equal(fe_protocol_features(h->fe), 0);
	workload(h, 100000, 64 << 10);
}

static void test_seg_4k_direct_1m(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* 1 MiB requests as direct chains of 4 KiB descriptors (260+ per request). */
	fe_opts_default(&o);
	o.queue_size = 1024;
	o.seg_size = 4096;
	o.indirect = FE_INDIRECT_NEVER;
	h_start(h, &o, true);
	workload(h, 3u << 20, 1u << 20);
}

static void test_seg_4k_indirect_1m(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* The same as one indirect table per request. */
	fe_opts_default(&o);
	o.queue_size = 1024;
	o.seg_size = 4096;
	o.indirect = FE_INDIRECT_ALWAYS;
	start_or_skip(h, &o);
	workload(h, 3u << 20, 1u << 20);
}

static void test_small_ring(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	/* 8 descriptors, direct: requests barely fit; the ring wraps constantly. */
	fe_opts_default(&o);
	o.queue_size = 8;
	o.indirect = FE_INDIRECT_NEVER;
	o.mem_size = 16u << 20;
	h_start(h, &o, true);
	workload(h, 200000, 32 << 10);
}

static void test_index_wrap(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_stats st;
	struct fe_opts o;

	/* Start the 16-bit ring indices just below the wrap. */
	fe_opts_default(&o);
	o.ring_base = 65500;
	o.queue_size = 16;
	h_start(h, &o, true);
	for (int i = 0; i < 100; i++)
		H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
	workload(h, 300000, 64 << 10);
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_REQUEST, &st));
	assert_true(st.added > 100);
}

static void test_ring_stop_restart(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_vq_stats st, st0;
	uint32_t base = 0, base0 = 0;

	h_start(h, NULL, true);
	workload(h, 100000, 64 << 10);
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_REQUEST, &st));
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_HIPRIO, &st0));

	/* Stop both rings: the backend reports how far it got (everything, we were idle). */
	H_OK(h, fe_vu_ring_stop(h->fe, FE_QUEUE_REQUEST, &base));
	assert_int_equal(base, (uint16_t)st.added);
	H_OK(h, fe_vu_ring_stop(h->fe, FE_QUEUE_HIPRIO, &base0));
	assert_int_equal(base0, (uint16_t)st0.added);

	/* Restart them where they stopped, as QEMU does after a vm stop/cont. */
	H_OK(h, fe_vu_ring_start(h->fe, FE_QUEUE_HIPRIO, base0));
	H_OK(h, fe_vu_ring_start(h->fe, FE_QUEUE_REQUEST, base));
	workload(h, 100000, 64 << 10);

	/* And once more, with a request-queue stop in the middle of a lookup storm. */
	for (int i = 0; i < 50; i++)
		H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
	H_OK(h, fe_vu_ring_stop(h->fe, FE_QUEUE_REQUEST, &base));
	H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_REQUEST, &st));
	assert_int_equal(base, (uint16_t)st.added);
	H_OK(h, fe_vu_ring_start(h->fe, FE_QUEUE_REQUEST, base));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_small_memory(void **state)
{
	struct h *h = H_STATE(state);
	struct fe_opts o;

	fe_opts_default(&o);
	o.mem_size = 8u << 20;
	h_start(h, &o, true);
	workload(h, 2u << 20, 1u << 20);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default),
		T(test_no_event_idx),
		T(test_event_idx),
		T(test_no_indirect),
		T(test_indirect_always),
		T(test_plain_rings),
		T(test_two_regions),
		T(test_add_mem_reg),
		T(test_add_mem_reg_two_regions),
		T(test_no_reply_ack),
		T(test_ack_memory_only),
		T(test_no_protocol_features),
		T(test_seg_4k_direct_1m),
		T(test_seg_4k_indirect_1m),
		T(test_small_ring),
		T(test_index_wrap),
		T(test_ring_stop_restart),
		T(test_small_memory),
	};

	return cmocka_run_group_tests_name("vhost_user", tests, NULL, NULL);
}
