// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/vu/vu_backend.c: the backend channel over a socketpair.
 * The frontend's replies are written into the socket before the request is
 * sent (a socket buffers them), so no second thread is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include "unit.h"
#include "vu_backend.h"
#include "vu_sock.h"

struct fixture {
	struct vu_backend b;
	int fe; /* the frontend's end */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vu_backend_init(&f->b);
	vu_backend_set_fd(&f->b, sv[0]);
	vu_backend_set_reply_ack(&f->b, true);
	vu_backend_set_timeout(&f->b, 100);
	f->fe = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_backend_fini(&f->b);
	if (f->fe >= 0)
		close(f->fe);
	free(f);
	return 0;
}

/* The frontend answers request @req with @status (and @nfds fds of its own). */
static void reply(struct fixture *f, uint32_t req, uint32_t flags, uint32_t size, uint64_t status,
		  int nfds)
{
	struct vhost_user_msg m = { 0 };
	int fds[2] = { -1, -1 };

	m.hdr.request = req;
	m.hdr.flags = flags;
	m.hdr.size = size;
	m.payload.u64 = status;
	for (int i = 0; i < nfds; i++)
		fds[i] = unit_memfd(16);
	assert_int_equal(vu_sock_send(f->fe, &m, fds, (unsigned)nfds), 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

#define OK_FLAGS (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK)

static struct vhost_user_shmem_map map_msg(void)
{
	return (struct vhost_user_shmem_map){ .fd_offset = 0, .shm_offset = 0x200000,
					      .len = 0x1000, .flags = VHOST_USER_SHMEM_MAP_RW };
}

static void test_request_and_status(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();
	struct vhost_user_msg got;
	int file = unit_memfd(4096), fds[VHOST_USER_MAX_FDS];
	unsigned nfds;

	reply(f, VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 8, 0, 0);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), file),
			 0);
	/* What the frontend received: NEED_REPLY, the payload, a copy of the fd. */
	assert_int_equal(vu_sock_recv(f->fe, &got, fds, &nfds), 0);
	assert_int_equal(got.hdr.request, VHOST_USER_BACKEND_SHMEM_MAP);
	assert_true(got.hdr.flags & VHOST_USER_NEED_REPLY_MASK);
	assert_int_equal(got.hdr.size, sizeof(m));
	assert_memory_equal(&got.payload.shmem_map, &m, sizeof(m));
	assert_int_equal(nfds, 1);
	close(fds[0]);
	assert_true(unit_fd_open(file)); /* not consumed */

	/* A refusal (QEMU sends 1) is -EIO and leaves the channel usable. */
	reply(f, VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 8, 1, 0);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), file),
			 -EIO);
	assert_true(vu_backend_connected(&f->b));
	reply(f, VHOST_USER_BACKEND_SHMEM_UNMAP, OK_FLAGS, 8, 0, 0);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_UNMAP, &m, sizeof(m), -1),
			 0);
	close(file);
}

static void test_no_reply_ack(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();
	struct vhost_user_msg got;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;

	vu_backend_set_reply_ack(&f->b, false);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_UNMAP, &m, sizeof(m), -1),
			 0);
	assert_int_equal(vu_sock_recv(f->fe, &got, fds, &nfds), 0);
	assert_false(got.hdr.flags & VHOST_USER_NEED_REPLY_MASK);
	assert_int_equal(nfds, 0);
}

static void test_no_channel(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();

	vu_backend_set_fd(&f->b, -1);
	assert_false(vu_backend_connected(&f->b));
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 -EOPNOTSUPP);
	assert_int_equal(vu_backend_request(&f->b, 1, &m, 4096, -1), -EINVAL);
}

/* A silent frontend: -ETIMEDOUT, then -EIO (out of step) until a new channel is set. */
static void test_timeout_then_dead(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();
	int sv[2];

	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 -ETIMEDOUT);
	assert_false(vu_backend_connected(&f->b));
	/* Even if the late reply shows up now. */
	reply(f, VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 8, 0, 0);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 -EIO);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vu_backend_set_fd(&f->b, sv[0]);
	close(f->fe);
	f->fe = sv[1];
	reply(f, VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 8, 0, 0);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 0);
}

static void test_malformed_replies(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();
	static const struct {
		uint32_t req, flags, size;
	} bad[] = {
		{ VHOST_USER_BACKEND_SHMEM_UNMAP, OK_FLAGS, 8 },               /* another request */
		{ VHOST_USER_BACKEND_SHMEM_MAP, VHOST_USER_VERSION, 8 },       /* not a reply */
		{ VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS & ~1u, 8 },           /* version 0 */
		{ VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 4 },                 /* short status */
		{ VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 16 },                /* long status */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		vu_backend_set_fd(&f->b, sv[0]);
		close(f->fe);
		f->fe = sv[1];
		reply(f, bad[i].req, bad[i].flags, bad[i].size, 0, 0);
		assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m),
						    -1), -EIO);
		assert_false(vu_backend_connected(&f->b));
	}
}

static void test_reply_fds_closed_and_hangup(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_shmem_map m = map_msg();
	int before = unit_count_fds();

	reply(f, VHOST_USER_BACKEND_SHMEM_MAP, OK_FLAGS, 8, 0, 2);
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 0);
	assert_int_equal(unit_count_fds(), before);
	close(f->fe);
	f->fe = -1;
	assert_int_equal(vu_backend_request(&f->b, VHOST_USER_BACKEND_SHMEM_MAP, &m, sizeof(m), -1),
			 -EPIPE);
}

static void test_check_reply(void **state)
{
	struct vhost_user_header h = { VHOST_USER_BACKEND_FS_MAP, OK_FLAGS, 8 };
	uint64_t st = 0;

	(void)state;
	assert_int_equal(vu_backend_check_reply(&h, &st, 8, VHOST_USER_BACKEND_FS_MAP), 0);
	st = (uint64_t)-EINVAL;
	assert_int_equal(vu_backend_check_reply(&h, &st, 8, VHOST_USER_BACKEND_FS_MAP), -EIO);
	assert_int_equal(vu_backend_check_reply(&h, &st, 7, VHOST_USER_BACKEND_FS_MAP), -EPROTO);
	assert_int_equal(vu_backend_check_reply(&h, &st, 8, VHOST_USER_BACKEND_FS_UNMAP), -EPROTO);
	assert_string_equal(vhost_user_backend_request_name(VHOST_USER_BACKEND_SHMEM_MAP),
			    "SHMEM_MAP");
	assert_string_equal(vhost_user_backend_request_name(UINT32_MAX), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_fds_closed_and_hangup, setup, teardown),
		cmocka_unit_test(test_check_reply),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
