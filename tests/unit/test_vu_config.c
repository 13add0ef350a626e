// SPDX-License-Identifier: MIT
/*
 * Unit tests for the device config space and shared memory requests of
 * src/vu/vu_dev.c (GET_CONFIG, GET_SHMEM_CONFIG, the protocol features that
 * announce them), driven through vu_dev_dispatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include "unit.h"
#include "vu_dev.h"

struct fixture {
	struct vu_dev d;
	int sv[2];
	struct vhost_user_msg reply;
	bool has_reply;
};

static int stub_handle(void *opaque, void *ctx, unsigned qidx, struct vq_elem *elem,
		       uint32_t *written)
{
	(void)opaque, (void)ctx, (void)qidx, (void)elem, (void)written;
	return 0;
}

static const struct vu_dev_ops ops = { .handle = stub_handle };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv), 0);
	assert_int_equal(vu_dev_init(&f->d, f->sv[0], 2, &ops, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_dev_fini(&f->d);
	close(f->sv[0]);
	close(f->sv[1]);
	free(f);
	return 0;
}

static int dispatch(struct fixture *f, uint32_t req, const void *payload, uint32_t size)
{
	struct vhost_user_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = req;
	msg.hdr.flags = VHOST_USER_VERSION;
	msg.hdr.size = size;
	if (size)
		memcpy(&msg.payload, payload, size);
	memset(&f->reply, 0xcc, sizeof(f->reply));
	return vu_dev_dispatch(&f->d, &msg, NULL, 0, &f->reply, &f->has_reply);
}

static int get_config(struct fixture *f, uint32_t offset, uint32_t size, uint32_t msg_size)
{
	struct vhost_user_config c = { .offset = offset, .size = size };

	return dispatch(f, VHOST_USER_GET_CONFIG, &c, msg_size);
}

static void test_features_follow_setup(void **state)
{
	struct fixture *f = *state;
	uint64_t pf;

	pf = vu_dev_offered_protocol_features(&f->d);
	assert_false(pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	assert_false(pf & (1ull << VHOST_USER_PROTOCOL_F_SHMEM));
	/* Not offered: the frontend may not set them. */
	assert_int_equal(dispatch(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				  &(uint64_t){ pf | (1ull << VHOST_USER_PROTOCOL_F_SHMEM) }, 8),
			 -EINVAL);
	assert_int_equal(vu_dev_set_config(&f->d, "tag", 3), 0);
	vu_dev_set_shm_size(&f->d, 1ull << 30);
	assert_int_equal(dispatch(f, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0), 0);
	pf = f->reply.payload.u64;
	assert_true(pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	assert_true(pf & (1ull << VHOST_USER_PROTOCOL_F_SHMEM));
	assert_int_equal(dispatch(f, VHOST_USER_SET_PROTOCOL_FEATURES, &pf, 8), 0);
	/* A config space larger than vhost-user can carry is refused. */
	assert_int_equal(vu_dev_set_config(&f->d, f, VHOST_USER_MAX_CONFIG_SIZE + 1), -EINVAL);
}

static void test_get_config(void **state)
{
	struct fixture *f = *state;
	uint8_t cfg[40] = "myfs";

	/* No config space: a failure, answered with an empty payload. */
	assert_int_equal(get_config(f, 0, 40, VHOST_USER_CONFIG_HDR_SIZE + 40), -EOPNOTSUPP);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.size, 0);

	cfg[36] = 1; /* num_request_queues, little-endian */
	assert_int_equal(vu_dev_set_config(&f->d, cfg, sizeof(cfg)), 0);
	assert_int_equal(get_config(f, 0, 40, VHOST_USER_CONFIG_HDR_SIZE + 40), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.request, VHOST_USER_GET_CONFIG);
	assert_int_equal(f->reply.hdr.size, VHOST_USER_CONFIG_HDR_SIZE + 40);
	assert_int_equal(f->reply.payload.config.size, 40);
	assert_memory_equal(f->reply.payload.config.region, cfg, 40);
	/* A window inside, and one past our 40 bytes (zeros). */
	assert_int_equal(get_config(f, 36, 4, VHOST_USER_CONFIG_HDR_SIZE + 4), 0);
	assert_int_equal(f->reply.payload.config.region[0], 1);
	assert_int_equal(get_config(f, 40, 8, VHOST_USER_CONFIG_HDR_SIZE + 8), 0);
	assert_int_equal(f->reply.payload.config.region[0], 0);
	assert_int_equal(f->reply.hdr.size, VHOST_USER_CONFIG_HDR_SIZE + 8);
	/* Malformed: size disagreeing with the message, past 256 bytes, wrapping, short. */
	assert_int_equal(get_config(f, 0, 40, VHOST_USER_CONFIG_HDR_SIZE + 39), -EINVAL);
	assert_int_equal(f->reply.hdr.size, 0);
	assert_int_equal(get_config(f, 250, 8, VHOST_USER_CONFIG_HDR_SIZE + 8), -EINVAL);
	assert_int_equal(get_config(f, UINT32_MAX - 3, 8, VHOST_USER_CONFIG_HDR_SIZE + 8), -EINVAL);
	assert_int_equal(get_config(f, 0, UINT32_MAX, VHOST_USER_CONFIG_HDR_SIZE), -EINVAL);
	assert_int_equal(get_config(f, 0, 0, 8), -EINVAL);
	/* The whole 256 bytes is fine. */
	assert_int_equal(get_config(f, 0, 256, VHOST_USER_CONFIG_HDR_SIZE + 256), 0);
}

static void test_get_shmem_config(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(dispatch(f, VHOST_USER_GET_SHMEM_CONFIG, NULL, 0), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.size, sizeof(struct vhost_user_shmem_config));
	assert_int_equal(f->reply.payload.shmem_config.nregions, 0);
	vu_dev_set_shm_size(&f->d, 1ull << 30);
	assert_int_equal(dispatch(f, VHOST_USER_GET_SHMEM_CONFIG, NULL, 0), 0);
	assert_int_equal(f->reply.hdr.size, 8 + 256 * 8);
	assert_int_equal(f->reply.payload.shmem_config.nregions, 1);
	assert_int_equal(f->reply.payload.shmem_config.memory_sizes[0], 1ull << 30);
	assert_int_equal(f->reply.payload.shmem_config.memory_sizes[1], 0);
	/* It takes no payload. */
	assert_int_equal(dispatch(f, VHOST_USER_GET_SHMEM_CONFIG, &(uint64_t){ 0 }, 8), -EINVAL);
	assert_false(f->has_reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_follow_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_shmem_config, setup, teardown),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
