// SPDX-License-Identifier: MIT
/* File I/O opcodes: OPEN, READ, WRITE, FLUSH, FSYNC, RELEASE (+ GETATTR with a handle). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define MIB (1u << 20)

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		fail_msg("out of memory");
	return p;
}

/* Write len bytes through the backend in chunks the backend accepts. */
static void write_all(struct h *h, uint64_t nodeid, uint64_t fh, uint64_t off, const uint8_t *p, size_t len)
{
	uint32_t max = fe_fuse_max_io(h->fe);

	while (len) {
		uint32_t n = len > max ? max : (uint32_t)len;
		int r = fe_fuse_write(h->fe, nodeid, fh, off, p, n);

		H_OK(h, r);
		assert_int_equal(r, n);
		p += n;
		off += n;
		len -= n;
	}
}

static void test_read(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t data[10000], buf[8192];
	struct fuse_open_out oo;
	uint64_t nodeid, off = 0;
	int n;

	h_pattern(data, sizeof(data), 7);
	h_write_file(h, "f", data, sizeof(data));
	nodeid = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDONLY, &oo));
	while (off < sizeof(data)) {
		n = fe_fuse_read(h->fe, nodeid, oo.fh, off, buf, 4096);
		H_OK(h, n);
		assert_true(n > 0);
		assert_memory_equal(buf, data + off, (size_t)n);
		off += (uint64_t)n;
	}
	assert_int_equal(off, sizeof(data));
	/* EOF: exactly at the end, straddling it, far beyond it. */
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, sizeof(data), buf, 4096), 0);
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, 9000, buf, 4096), 1000);
	assert_memory_equal(buf, data + 9000, 1000);
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, 1ull << 40, buf, 4096), 0);
	/* Unaligned offset and size. */
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, 333, buf, 777), 777);
	assert_memory_equal(buf, data + 333, 777);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDONLY));

	/* An empty file reads as EOF straight away. */
	h_write_file(h, "empty", NULL, 0);
	nodeid = h_lookup(h, "empty", NULL);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDONLY, &oo));
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, 0, buf, 4096), 0);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDONLY));
}

static void test_write_1m(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t *data = xmalloc(MIB), *back = xmalloc(MIB), *host = xmalloc(MIB + 1);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	uint32_t max = fe_fuse_max_io(h->fe);
	int n;

	h_pattern(data, MIB, 11);
	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "big", O_RDWR | O_CREAT | O_EXCL, S_IFREG | 0644, &e, &oo));
	if (max >= MIB) {
		/* One request: the 1 MiB payload spans many descriptors (seg_size each). */
		n = fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, data, MIB);
		H_OK(h, n);
		assert_int_equal(n, MIB);
		memset(back, 0, MIB);
		n = fe_fuse_read(h->fe, e.nodeid, oo.fh, 0, back, MIB);
		H_OK(h, n);
		assert_int_equal(n, MIB);
		assert_memory_equal(back, data, MIB);
	} else {
		print_message("backend max I/O is %u bytes: writing 1 MiB in pieces\n", max);
		write_all(h, e.nodeid, oo.fh, 0, data, MIB);
	}
	H_OK(h, fe_fuse_flush(h->fe, e.nodeid, oo.fh, 0));
	assert_int_equal(h_read_file(h, "big", host, MIB + 1), MIB);
	assert_memory_equal(host, data, MIB);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));

	/* Rewrite from a buffer that already lives in guest memory (zero copy). */
	{
		uint32_t chunk = max < MIB ? max : MIB;
		uint8_t *g = fe_guest_alloc(h->fe, chunk);

		assert_non_null(g);
		h_pattern(g, chunk, 12);
		H_OK(h, fe_fuse_open(h->fe, e.nodeid, O_RDWR, &oo));
		assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 4096, g, chunk), chunk);
		memset(g, 0, chunk);
		assert_int_equal(fe_fuse_read(h->fe, e.nodeid, oo.fh, 4096, g, chunk), chunk);
		h_pattern(back, chunk, 12);
		assert_memory_equal(g, back, chunk);
		H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
		fe_guest_free(h->fe, g);
	}
	free(data);
	free(back);
	free(host);
}

static void test_write_offsets(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	struct fuse_attr_out ao;
	uint8_t buf[64], zero[64] = { 0 };
	struct stat st;

	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, S_IFREG | 0644, &e, &oo));
	/* A write past EOF leaves a hole of zeroes. */
	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, MIB + 5, "tail", 4), 4);
	if (stat(h_path(h, "f"), &st) < 0)
		fail_msg("stat: %s", strerror(errno));
	assert_int_equal(st.st_size, MIB + 9);
	assert_int_equal(fe_fuse_read(h->fe, e.nodeid, oo.fh, 1000, buf, sizeof(buf)), sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	/* Overwrite in the middle. */
	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 1000, "middle", 6), 6);
	assert_int_equal(fe_fuse_read(h->fe, e.nodeid, oo.fh, 998, buf, 10), 10);
	assert_memory_equal(buf, "\0\0middle\0\0", 10);
	/* GETATTR through the handle sees the size. */
	H_OK(h, fe_fuse_getattr(h->fe, e.nodeid, &oo.fh, &ao));
	assert_int_equal(ao.attr.size, MIB + 9);
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_RDWR));
}

static void test_flush_fsync(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	char buf[8];

	H_OK(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "f", O_WRONLY | O_CREAT, S_IFREG | 0644, &e, &oo));
	assert_int_equal(fe_fuse_write(h->fe, e.nodeid, oo.fh, 0, "durable", 7), 7);
	H_OK(h, fe_fuse_fsync(h->fe, e.nodeid, oo.fh, false));
	H_OK(h, fe_fuse_fsync(h->fe, e.nodeid, oo.fh, true));
	H_OK(h, fe_fuse_flush(h->fe, e.nodeid, oo.fh, 0x1234));
	assert_int_equal(h_read_file(h, "f", buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "durable", 7);
	/* Several flushes are fine (one per close() of a dup'ed fd in the guest). */
	H_OK(h, fe_fuse_flush(h->fe, e.nodeid, oo.fh, 0x5678));
	H_OK(h, fe_fuse_release(h->fe, e.nodeid, oo.fh, O_WRONLY));
}

static void test_bad_handles(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint64_t nodeid, bogus = 0xdeadbeefull;
	char buf[16];

	h_write_file(h, "f", "0123456789", 10);
	nodeid = h_lookup(h, "f", NULL);
	H_ANY_ERR(h, fe_fuse_read(h->fe, nodeid, bogus, 0, buf, sizeof(buf)));
	H_ANY_ERR(h, fe_fuse_write(h->fe, nodeid, bogus, 0, "x", 1));
	H_ANY_ERR(h, fe_fuse_fsync(h->fe, nodeid, bogus, false));
	/* RELEASE/FLUSH of an unknown handle: whatever the answer, the backend survives. */
	fe_fuse_flush(h->fe, nodeid, bogus, 0);
	fe_fuse_release(h->fe, nodeid, bogus, 0);
	assert_int_equal(fe_broken(h->fe), 0);
	assert_int_equal(h_read_file(h, "f", buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "0123456789", 10);

	/* A released handle is dead (it may be reused later, but not right away). */
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDONLY, &oo));
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDONLY));
	H_ANY_ERR(h, fe_fuse_read(h->fe, nodeid, oo.fh, 0, buf, sizeof(buf)));

	H_ANY_ERR(h, fe_fuse_open(h->fe, 0xdeadbeefull, O_RDONLY, &oo));
}

static void test_open_modes(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint64_t nodeid, dir;
	char buf[16];
	struct stat st;

	h_write_file(h, "f", "0123456789", 10);
	h_mkdir(h, "d", 0755);
	nodeid = h_lookup(h, "f", NULL);
	dir = h_lookup(h, "d", NULL);

	H_OK(h, fe_fuse_open(h->fe, nodeid, O_WRONLY, &oo));
	H_ERR(h, fe_fuse_read(h->fe, nodeid, oo.fh, 0, buf, sizeof(buf)), EBADF);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_WRONLY));

	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDONLY, &oo));
	H_ERR(h, fe_fuse_write(h->fe, nodeid, oo.fh, 0, "x", 1), EBADF);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDONLY));

	H_ERR(h, fe_fuse_open(h->fe, dir, O_RDWR, &oo), EISDIR);

	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDWR | O_TRUNC, &oo));
	if (stat(h_path(h, "f"), &st) < 0)
		fail_msg("stat: %s", strerror(errno));
	assert_int_equal(st.st_size, 0);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDWR));

	/* O_APPEND: the backend's write lands at the end whatever the offset. */
	h_write_file(h, "f", "0123456789", 10);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_WRONLY | O_APPEND, &oo));
	assert_int_equal(fe_fuse_write(h->fe, nodeid, oo.fh, 10, "ab", 2), 2);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_WRONLY | O_APPEND));
	assert_int_equal(h_read_file(h, "f", buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "0123456789ab", 12);
}

static void test_unlinked_open_file(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_open_out oo;
	uint64_t nodeid;
	char buf[16];

	h_write_file(h, "f", "0123456789", 10);
	nodeid = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDWR, &oo));
	H_OK(h, fe_fuse_unlink(h->fe, FUSE_ROOT_ID, "f"));
	assert_false(h_exists(h, "f"));
	assert_int_equal(fe_fuse_write(h->fe, nodeid, oo.fh, 10, "more", 4), 4);
	assert_int_equal(fe_fuse_read(h->fe, nodeid, oo.fh, 0, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "0123456789more", 14);
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDWR));
	H_OK(h, fe_fuse_forget(h->fe, nodeid, 1));
}

/* Many requests in flight at once, completed in any order. */
static void test_inflight(void **state)
{
	struct h *h = H_STATE(state);
	enum { N = 16, SZ = 4096 };
	static uint8_t data[N * SZ * 2];
	struct fe_fuse_call calls[N];
	struct fuse_read_in rin[N];
	struct fuse_write_in win[N];
	struct fuse_write_out wout[N];
	uint8_t *bufs[N];
	struct fuse_open_out oo;
	uint64_t nodeid;
	bool seen[N] = { false };

	h_pattern(data, sizeof(data), 3);
	h_write_file(h, "f", data, sizeof(data));
	nodeid = h_lookup(h, "f", NULL);
	H_OK(h, fe_fuse_open(h->fe, nodeid, O_RDWR, &oo));

	/* N reads, mixed: half into guest buffers (zero copy), half through copies. */
	for (int i = 0; i < N; i++) {
		bufs[i] = i % 2 ? fe_guest_alloc(h->fe, SZ) : xmalloc(SZ);
		assert_non_null(bufs[i]);
		memset(&rin[i], 0, sizeof(rin[i]));
		rin[i].fh = oo.fh;
		rin[i].offset = (uint64_t)((i * 7) % (N * 2)) * SZ;
		rin[i].size = SZ;
		fe_fuse_call_init(&calls[i], FUSE_READ, nodeid);
		calls[i].nin = 1;
		calls[i].in[0] = (struct fe_fuse_buf){ &rin[i], sizeof(rin[i]) };
		calls[i].out = bufs[i];
		calls[i].out_size = SZ;
		H_OK(h, fe_fuse_submit(h->fe, &calls[i]));
	}
	assert_int_equal(fe_vq_inflight(h->fe, FE_QUEUE_REQUEST), N);
	for (int k = 0; k < N; k++) {
		struct fe_fuse_call *c;
		int i;

		H_OK(h, fe_fuse_wait_any(h->fe, &c, -1));
		i = (int)(c - calls);
		assert_true(i >= 0 && i < N);
		assert_false(seen[i]);
		seen[i] = true;
		H_OK(h, c->error);
		assert_int_equal(c->out_len, SZ);
		assert_memory_equal(bufs[i], data + rin[i].offset, SZ);
	}
	assert_int_equal(fe_vq_inflight(h->fe, FE_QUEUE_REQUEST), 0);

	/* N writes of distinct blocks in flight, then check the host file. */
	for (int i = 0; i < N; i++) {
		h_pattern(bufs[i], SZ, 100 + (uint32_t)i);
		memset(&win[i], 0, sizeof(win[i]));
		win[i].fh = oo.fh;
		win[i].offset = (uint64_t)i * SZ;
		win[i].size = SZ;
		fe_fuse_call_init(&calls[i], FUSE_WRITE, nodeid);
		calls[i].nin = 2;
		calls[i].in[0] = (struct fe_fuse_buf){ &win[i], sizeof(win[i]) };
		calls[i].in[1] = (struct fe_fuse_buf){ bufs[i], SZ };
		calls[i].out = &wout[i];
		calls[i].out_size = sizeof(wout[i]);
		H_OK(h, fe_fuse_submit(h->fe, &calls[i]));
	}
	for (int i = N - 1; i >= 0; i--) {
		/* Wait in reverse order: others complete meanwhile and are kept. */
		H_OK(h, fe_fuse_wait(h->fe, &calls[i], -1));
		assert_int_equal(wout[i].size, SZ);
	}
	{
		uint8_t *host = xmalloc(N * SZ), expect[SZ];

		assert_int_equal(h_read_file(h, "f", host, N * SZ), N * SZ);
		for (int i = 0; i < N; i++) {
			h_pattern(expect, SZ, 100 + (uint32_t)i);
			assert_memory_equal(host + i * SZ, expect, SZ);
		}
		free(host);
	}
	H_OK(h, fe_fuse_release(h->fe, nodeid, oo.fh, O_RDWR));
	for (int i = 0; i < N; i++) {
		if (i % 2)
			fe_guest_free(h->fe, bufs[i]);
		else
			free(bufs[i]);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read),
		T(test_write_1m),
		T(test_write_offsets),
		T(test_flush_fsync),
		T(test_bad_handles),
		T(test_open_modes),
		T(test_unlinked_open_file),
		T(test_inflight),
	};

	return cmocka_run_group_tests_name("fuse_io", tests, NULL, NULL);
}
