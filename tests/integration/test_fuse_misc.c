// SPDX-License-Identifier: MIT
/* Session-level opcodes and odd requests: INIT, DESTROY, INTERRUPT, unknown opcodes, short requests. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static void test_init_reply(void **state)
{
	struct h *h = H_STATE(state);
	const struct fuse_init_out *c = fe_fuse_conn(h->fe);
	uint64_t granted = c->flags | ((uint64_t)c->flags2 << 32);

	print_message("%s: FUSE %u.%u flags 0x%llx max_write %u max_pages %u max_readahead %u\n",
		      h->backend, c->major, c->minor, (unsigned long long)granted, c->max_write,
		      c->max_pages, c->max_readahead);
	assert_int_equal(c->major, FUSE_KERNEL_VERSION);
	assert_true(c->minor >= 27 && c->minor <= FUSE_KERNEL_MINOR_VERSION);
	assert_true(c->max_write >= 4096);
	assert_true(c->max_readahead <= 128 << 10);
	/* A server may only grant what was asked for. */
	if (granted & ~FE_FUSE_INIT_FLAGS)
		fail_msg("backend granted unrequested INIT flags 0x%llx",
			 (unsigned long long)(granted & ~FE_FUSE_INIT_FLAGS));
	if (c->flags & FUSE_MAX_PAGES)
		assert_true(c->max_pages >= 1);
}

static void test_request_before_init(void **state)
{
	struct h *h = H_STATE(state);

	h_start(h, NULL, false);
	/* Not initialised yet: refused, but the session survives. */
	H_ANY_ERR(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
	H_OK(h, fe_fuse_init(h->fe));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_init_minimal_flags(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_init_out o;

	h_start(h, NULL, false);
	/* An old-fashioned client: no flags at all, minor 31. */
	H_OK(h, fe_fuse_init_ex(h->fe, FUSE_KERNEL_VERSION, 31, 0, &o));
	/* The server answers with its own minor; both sides then use the lower one. */
	assert_int_equal(o.major, FUSE_KERNEL_VERSION);
	assert_true(o.minor >= 27);
	assert_int_equal(o.flags & (FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_INIT_EXT), 0);
	h_write_file(h, "f", "data", 4);
	{
		char buf[8];
		struct fuse_open_out oo;
		uint64_t n = h_lookup(h, "f", NULL);

		H_OK(h, fe_fuse_open(h->fe, n, O_RDONLY, &oo));
		assert_int_equal(fe_fuse_read(h->fe, n, oo.fh, 0, buf, sizeof(buf)), 4);
		H_OK(h, fe_fuse_release(h->fe, n, oo.fh, O_RDONLY));
	}
}

static void test_unknown_opcode(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t in[16] = { 0 }, out[64];
	uint32_t len = 1234;

	H_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, 9999, FUSE_ROOT_ID, in, sizeof(in), out,
			     sizeof(out), &len), ENOSYS);
	assert_int_equal(len, 0);
	H_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, 9999, FUSE_ROOT_ID, NULL, 0, out, sizeof(out),
			     &len), ENOSYS);
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_raw_known_opcode(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_getattr_in in = { 0 };
	struct fuse_attr_out out;
	uint32_t len = 0;

	H_OK(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_GETATTR, FUSE_ROOT_ID, &in, sizeof(in), &out,
			    sizeof(out), &len));
	assert_int_equal(len, sizeof(out));
	assert_true(S_ISDIR(out.attr.mode));
}

static void test_short_requests(void **state)
{
	struct h *h = H_STATE(state);
	uint8_t out[256];
	uint32_t len;

	/* Rust virtiofsd 1.13 panics (and dies) on truncated arguments: not asked. */
	if (h_is(h, "rust"))
		skip();
	h_write_file(h, "f", "x", 1);
	/* Arguments shorter than the opcode's struct: an error, never a crash or an overread. */
	H_ANY_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_READ, h_lookup(h, "f", NULL), "abc", 3,
				 out, sizeof(out), &len));
	H_ANY_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_SETATTR, FUSE_ROOT_ID, "abcdefgh", 8, out,
				 sizeof(out), &len));
	H_ANY_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_MKDIR, FUSE_ROOT_ID, "ab", 2, out,
				 sizeof(out), &len));
	/* A name without its terminating NUL. */
	H_ANY_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_LOOKUP, FUSE_ROOT_ID, "f", 1, out,
				 sizeof(out), &len));
	/* A lookup with no name at all. */
	H_ANY_ERR(h, fe_fuse_raw(h->fe, FE_QUEUE_REQUEST, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, out,
				 sizeof(out), &len));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_bad_names(void **state)
{
	struct h *h = H_STATE(state);
	struct fuse_entry_out e;
	char path[300];

	h_mkdir(h, "d", 0755);
	/* Names with a '/' or "..", or empty ones, are never sent by a guest kernel: refuse them. */
	H_ANY_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "a/b", S_IFDIR | 0755, NULL));
	H_ANY_ERR(h, fe_fuse_mkdir(h->fe, FUSE_ROOT_ID, "", S_IFDIR | 0755, NULL));
	H_ANY_ERR(h, fe_fuse_symlink(h->fe, FUSE_ROOT_ID, "x/y", "t", NULL));
	H_ANY_ERR(h, fe_fuse_lookup(h->fe, h_lookup(h, "d", NULL), "../d", &e));
	if (h_is(h, "rust")) {
		/*
		 * Rust virtiofsd accepts "../escape" and relies on its sandbox
		 * (pivot_root into the share) to keep it inside: it lands in the
		 * share's root. Only containment is checked for it.
		 */
		int r = fe_fuse_create(h->fe, FUSE_ROOT_ID, "../escape", O_WRONLY | O_CREAT,
				       S_IFREG | 0644, NULL, NULL);

		assert_int_equal(fe_broken(h->fe), 0);
		(void)r;
	} else {
		H_ANY_ERR(h, fe_fuse_create(h->fe, FUSE_ROOT_ID, "../escape", O_WRONLY | O_CREAT,
					    S_IFREG | 0644, NULL, NULL));
		H_ANY_ERR(h, fe_fuse_mkdir(h->fe, h_lookup(h, "d", NULL), "..", S_IFDIR | 0755, NULL));
	}
	snprintf(path, sizeof(path), "%s/../escape", h->share);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(h_exists(h, "a"));
	assert_false(h_exists(h, "d/x"));
}

static void test_interrupt(void **state)
{
	struct h *h = H_STATE(state);
	int r;

	/*
	 * legacy virtiofsd dies on INTERRUPT (a Linux guest never sends it over
	 * virtio-fs), so it is not asked.
	 */
	if (h_is(h, "legacy"))
		skip();
	/* Interrupting a request that is not in flight: no reply, or an error reply. */
	r = fe_fuse_interrupt(h->fe, 12346);
	assert_int_equal(fe_broken(h->fe), 0);
	assert_true(r <= 0);
	if (r)
		print_message("%s: INTERRUPT answered %d (%s)\n", h->backend, r, strerror(-r));
	H_OK(h, fe_fuse_getattr(h->fe, FUSE_ROOT_ID, NULL, NULL));
}

static void test_destroy(void **state)
{
	struct h *h = H_STATE(state);

	h_write_file(h, "f", "x", 1);
	h_lookup(h, "f", NULL);
	/*
	 * What a guest sends at umount; the backend must then exit cleanly on
	 * disconnect. A reply with error 0 is usual; Rust virtiofsd uses the
	 * chain without writing one, which Linux tolerates.
	 */
	H_OK(h, fe_fuse_destroy(h->fe));
}

static void test_many_sessions_requests(void **state)
{
	struct h *h = H_STATE(state);
	char name[32];

	/* A few thousand small requests: unique numbers, descriptor recycling and ring wrap-around. */
	h_write_file(h, "f", "x", 1);
	for (int i = 0; i < 3000; i++) {
		struct fuse_entry_out e;

		snprintf(name, sizeof(name), i % 3 ? "f" : "missing%d", i);
		if (i % 3)
			H_OK(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e));
		else
			H_ERR(h, fe_fuse_lookup(h->fe, FUSE_ROOT_ID, name, &e), ENOENT);
	}
	{
		struct fe_vq_stats st;

		H_OK(h, fe_vq_stats(h->fe, FE_QUEUE_REQUEST, &st));
		assert_true(st.used >= 3000);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
#define TL(fn) cmocka_unit_test_setup_teardown(fn, h_setup_lazy, h_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_reply),
		TL(test_request_before_init),
		TL(test_init_minimal_flags),
		T(test_unknown_opcode),
		T(test_raw_known_opcode),
		T(test_short_requests),
		T(test_bad_names),
		T(test_interrupt),
		T(test_destroy),
		T(test_many_sessions_requests),
	};

	return cmocka_run_group_tests_name("fuse_misc", tests, NULL, NULL);
}
