// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/vu/vu_dev.c: vu_dev_dispatch driven directly (no
 * socket traffic) with a stub device model, including a queue started for
 * real: its thread pops a chain we build in a memfd and calls the stub.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "unit.h"
#include "vu_dev.h"

#define NQ 2
#define MEM_GPA 0x40000000ull
#define MEM_QVA 0x7f0000000000ull
#define MEM_SIZE (1u << 20)
#define DESC_OFF 0x0
#define AVAIL_OFF 0x1000
#define USED_OFF 0x2000
#define BUF_OFF 0x10000
#define QNUM 8

struct stub {
	pthread_mutex_t lock;
	int calls;
	unsigned qidx;
	size_t in_len, out_len;
	unsigned in_cnt, out_cnt;
	char in[64];
	int ret;          /* what handle returns */
	const char *reply; /* written into the writable part */
	int inits, finis, resets, bad_ctx;
};

struct fixture {
	struct vu_dev d;
	struct stub stub;
	int sv[2];
	int memfd;
	uint8_t *g; /* our view of the guest memory */
	struct vhost_user_msg reply;
	bool has_reply;
	int kick, call, err;
};

static int stub_handle(void *opaque, void *ctx, unsigned qidx, struct vq_elem *elem,
		       uint32_t *written)
{
	struct stub *s = opaque;
	int ret;

	(void)ctx;
	pthread_mutex_lock(&s->lock);
	s->calls++;
	s->qidx = qidx;
	s->in_len = elem->in_len;
	s->out_len = elem->out_len;
	s->in_cnt = elem->in_cnt;
	s->out_cnt = elem->out_cnt;
	memset(s->in, 0, sizeof(s->in));
	{
		size_t done = 0;

		for (unsigned i = 0; i < elem->in_cnt && done < sizeof(s->in); i++) {
			size_t n = elem->iov[i].iov_len;

			if (n > sizeof(s->in) - done)
				n = sizeof(s->in) - done;
			memcpy(s->in + done, elem->iov[i].iov_base, n);
			done += n;
		}
	}
	if (s->reply && elem->out_cnt) {
		size_t n = strlen(s->reply);
		struct iovec *out = vq_elem_out(elem);

		if (n > out[0].iov_len)
			n = out[0].iov_len;
		memcpy(out[0].iov_base, s->reply, n);
		*written = (uint32_t)n;
	}
	ret = s->ret;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void *stub_thread_init(void *opaque, unsigned qidx)
{
	struct stub *s = opaque;

	(void)qidx;
	pthread_mutex_lock(&s->lock);
	s->inits++;
	pthread_mutex_unlock(&s->lock);
	return s;
}

static void stub_thread_fini(void *opaque, void *ctx)
{
	struct stub *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->finis++;
	if (ctx != s)
		s->bad_ctx++; /* checked by the control thread: cmocka asserts are not thread-safe */
	pthread_mutex_unlock(&s->lock);
}

static void stub_reset(void *opaque)
{
	struct stub *s = opaque;

	s->resets++;
}

/* Device state: save gives "saved-state", load keeps what it got and returns stub_load_ret. */
static char stub_loaded[64];
static size_t stub_loaded_len;
static int stub_load_ret;

static int stub_save(void *opaque, uint8_t **buf, size_t *len)
{
	(void)opaque;
	*buf = (uint8_t *)strdup("saved-state");
	*len = strlen("saved-state");
	return *buf ? 0 : -ENOMEM;
}

static int stub_load(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	stub_loaded_len = len < sizeof(stub_loaded) ? len : sizeof(stub_loaded);
	memcpy(stub_loaded, buf, stub_loaded_len);
	return stub_load_ret;
}

static const struct vu_state_ops stub_state_ops = { .save = stub_save, .load = stub_load };

static const struct vu_dev_ops stub_ops = {
	.handle = stub_handle,
	.thread_init = stub_thread_init,
	.thread_fini = stub_thread_fini,
	.reset = stub_reset,
	.state = &stub_state_ops,
};

static int stub_calls(struct stub *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	pthread_mutex_init(&f->stub.lock, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv), 0);
	assert_int_equal(vu_dev_init(&f->d, f->sv[0], NQ, &stub_ops, &f->stub), 0);
	f->memfd = unit_memfd(MEM_SIZE);
	f->g = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->g != MAP_FAILED);
	f->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->kick >= 0 && f->call >= 0 && f->err >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_dev_fini(&f->d);
	assert_int_equal(f->stub.inits, f->stub.finis);
	assert_int_equal(f->stub.bad_ctx, 0);
	munmap(f->g, MEM_SIZE);
	close(f->memfd);
	close(f->kick);
	close(f->call);
	close(f->err);
	close(f->sv[0]);
	close(f->sv[1]);
	pthread_mutex_destroy(&f->stub.lock);
	free(f);
	return 0;
}

/* Dispatch one message; @fds are handed over (the caller passes dups). */
static int dispatch(struct fixture *f, uint32_t req, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds)
{
	struct vhost_user_msg msg;
	int fdcopy[VHOST_USER_MAX_FDS];

	memset(&msg, 0, sizeof(msg));
	msg.hdr.request = req;
	msg.hdr.flags = VHOST_USER_VERSION;
	msg.hdr.size = size;
	if (size)
		memcpy(&msg.payload, payload, size);
	for (unsigned i = 0; i < nfds; i++)
		fdcopy[i] = fds[i];
	memset(&f->reply, 0xcc, sizeof(f->reply));
	return vu_dev_dispatch(&f->d, &msg, fdcopy, nfds, &f->reply, &f->has_reply);
}

static int dispatch_u64(struct fixture *f, uint32_t req, uint64_t v, const int *fds,
			unsigned nfds)
{
	return dispatch(f, req, &v, sizeof(v), fds, nfds);
}

static int dispatch_state(struct fixture *f, uint32_t req, unsigned index, unsigned num)
{
	struct vhost_vring_state s = { .index = index, .num = num };

	return dispatch(f, req, &s, sizeof(s), NULL, 0);
}

static int dup_fd(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 100);

	assert_true(d >= 0);
	return d;
}

static void assert_closed(int fd)
{
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static void test_get_features(void **state)
{
	struct fixture *f = *state;
	uint64_t feat, pfeat;

	assert_int_equal(dispatch(f, VHOST_USER_GET_FEATURES, NULL, 0, NULL, 0), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.request, VHOST_USER_GET_FEATURES);
	assert_int_equal(f->reply.hdr.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	assert_int_equal(f->reply.hdr.size, 8);
	feat = f->reply.payload.u64;
	assert_int_equal(feat, vu_dev_features());
	assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
	assert_true(feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(feat & (1ull << VIRTIO_RING_F_EVENT_IDX));
	assert_true(feat & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));

	assert_int_equal(dispatch(f, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.size, 8);
	pfeat = f->reply.payload.u64;
	assert_int_equal(pfeat, vu_dev_protocol_features());
	assert_true(pfeat & (1ull << VHOST_USER_PROTOCOL_F_MQ));
	assert_true(pfeat & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	assert_true(pfeat & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS));
	/* Live migration: dirty log and device state. */
	assert_true(feat & (1ull << VHOST_F_LOG_ALL));
	assert_true(pfeat & (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD));
	assert_true(pfeat & (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE));
	/* Nothing we do not implement. */
	assert_false(pfeat & (1ull << VHOST_USER_PROTOCOL_F_PAGEFAULT));
	assert_false(pfeat & (1ull << VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS));

	assert_int_equal(dispatch(f, VHOST_USER_GET_QUEUE_NUM, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->reply.payload.u64, NQ);
	assert_int_equal(dispatch(f, VHOST_USER_GET_MAX_MEM_SLOTS, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->reply.payload.u64, VU_MEM_MAX_SLOTS);

	/* Requests without a reply say so. */
	assert_int_equal(dispatch(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_false(f->has_reply);
}

static void test_set_features(void **state)
{
	struct fixture *f = *state;
	uint64_t ok = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX);

	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, ok, NULL, 0), 0);
	assert_int_equal(f->d.features, ok);
	/* A bit we never offered. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, ok | (1ull << 5), NULL, 0),
			 -EINVAL);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, ~0ull, NULL, 0), -EINVAL);
	assert_int_equal(f->d.features, ok);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, vu_dev_features(), NULL, 0), 0);

	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      1ull << VHOST_USER_PROTOCOL_F_PAGEFAULT, NULL, 0),
			 -EINVAL);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      vu_dev_protocol_features(), NULL, 0),
			 0);
	assert_int_equal(f->d.protocol_features, vu_dev_protocol_features());

	/* Status round trip; more than 8 bits is refused. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_STATUS, 0x0f, NULL, 0), 0);
	assert_int_equal(dispatch(f, VHOST_USER_GET_STATUS, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->reply.payload.u64, 0x0f);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_STATUS, 0x100, NULL, 0), -EINVAL);
}

static void test_wrong_sizes(void **state)
{
	struct fixture *f = *state;
	uint8_t zero[sizeof(union vhost_user_payload)] = { 0 };
	static const struct {
		uint32_t req;
		uint32_t size;
	} cases[] = {
		{ VHOST_USER_GET_FEATURES, 8 },
		{ VHOST_USER_GET_PROTOCOL_FEATURES, 1 },
		{ VHOST_USER_SET_FEATURES, 4 },
		{ VHOST_USER_SET_FEATURES, 0 },
		{ VHOST_USER_SET_PROTOCOL_FEATURES, 16 },
		{ VHOST_USER_SET_OWNER, 8 },
		{ VHOST_USER_RESET_OWNER, 4 },
		{ VHOST_USER_SET_VRING_NUM, 4 },
		{ VHOST_USER_SET_VRING_NUM, 16 },
		{ VHOST_USER_SET_VRING_BASE, 0 },
		{ VHOST_USER_GET_VRING_BASE, 4 },
		{ VHOST_USER_SET_VRING_ADDR, 8 },
		{ VHOST_USER_SET_VRING_ADDR, sizeof(struct vhost_vring_addr) - 1 },
		{ VHOST_USER_SET_VRING_ENABLE, 9 },
		{ VHOST_USER_SET_VRING_CALL, 4 },
		{ VHOST_USER_SET_VRING_ERR, 0 },
		{ VHOST_USER_SET_STATUS, 1 },
		{ VHOST_USER_SET_MEM_TABLE, 4 },
		{ VHOST_USER_SET_MEM_TABLE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s with %u bytes\n", vhost_user_request_name(cases[i].req), cases[i].size);
		assert_int_equal(dispatch(f, cases[i].req, zero, cases[i].size, NULL, 0), -EINVAL);
	}
	/* NOFD variant of a ring fd request, still with a wrong size. */
	{
		uint32_t v = VHOST_USER_VRING_NOFD_MASK;

		assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_KICK, &v, 4, NULL, 0), -EINVAL);
	}
	/* ADD/REM_MEM_REG (with the protocol feature on). */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      vu_dev_protocol_features(), NULL, 0),
			 0);
	{
		int fd = dup_fd(f->memfd);

		assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, zero,
					  sizeof(struct vhost_user_mem_reg) - 8, &fd, 1),
				 -EINVAL);
		assert_closed(fd);
	}
	assert_int_equal(dispatch(f, VHOST_USER_REM_MEM_REG, zero, 8, NULL, 0), -EINVAL);
	/* Nothing changed. */
	assert_int_equal(f->d.features, 0);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 0);
}

static void test_wrong_fd_counts(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory mem = { .nregions = 1 };
	int fds[3];

	/* Requests that take no fd. */
	fds[0] = dup_fd(f->kick);
	assert_int_equal(dispatch(f, VHOST_USER_GET_FEATURES, NULL, 0, fds, 1), -EINVAL);
	assert_closed(fds[0]);
	fds[0] = dup_fd(f->kick);
	fds[1] = dup_fd(f->kick);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, 0, fds, 2), -EINVAL);
	assert_closed(fds[0]);
	assert_closed(fds[1]);
	fds[0] = dup_fd(f->kick);
	{
		struct vhost_vring_state s = { .index = 0, .num = 8 };

		assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), fds, 1),
				 -EINVAL);
		assert_closed(fds[0]);
	}

	/* KICK/CALL/ERR: one fd, or none with the NOFD flag. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0, NULL, 0), -EINVAL);
	fds[0] = dup_fd(f->call);
	fds[1] = dup_fd(f->call);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0, fds, 2), -EINVAL);
	assert_closed(fds[0]);
	assert_closed(fds[1]);
	fds[0] = dup_fd(f->err);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, VHOST_USER_VRING_NOFD_MASK,
				      fds, 1),
			 -EINVAL);
	assert_closed(fds[0]);
	assert_int_equal(f->d.queues[0].call_fd, -1);
	assert_int_equal(f->d.queues[0].err_fd, -1);

	/* SET_MEM_TABLE: exactly one fd per region. */
	fds[0] = dup_fd(f->memfd);
	fds[1] = dup_fd(f->memfd);
	mem.regions[0] = (struct vhost_user_mem_region){ MEM_GPA, MEM_SIZE, MEM_QVA, 0 };
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem,
				  offsetof(struct vhost_user_memory, regions) + sizeof(mem.regions[0]),
				  fds, 2),
			 -EINVAL);
	assert_closed(fds[0]);
	assert_closed(fds[1]);
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem,
				  offsetof(struct vhost_user_memory, regions) + sizeof(mem.regions[0]),
				  NULL, 0),
			 -EINVAL);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 0);

	/* SET_BACKEND_REQ_FD needs one. */
	assert_int_equal(dispatch(f, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, NULL, 0), -EINVAL);

	/* ADD_MEM_REG needs one (with the protocol feature). */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      vu_dev_protocol_features(), NULL, 0),
			 0);
	{
		struct vhost_user_mem_reg reg = { .region = { MEM_GPA, MEM_SIZE, MEM_QVA, 0 } };

		assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), NULL, 0),
				 -EINVAL);
		fds[0] = dup_fd(f->memfd);
		fds[1] = dup_fd(f->memfd);
		assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), fds, 2),
				 -EINVAL);
		assert_closed(fds[0]);
		assert_closed(fds[1]);
		assert_int_equal(vu_mem_nregions(&f->d.mem), 0);
	}
}

static void test_fds_taken_or_closed(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory mem = { .nregions = 1 };
	int fd, old;

	/* A ring fd is kept... */
	fd = dup_fd(f->call);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 1, &fd, 1), 0);
	assert_true(unit_fd_open(fd));
	assert_int_equal(f->d.queues[1].call_fd, fd);
	/* ...until replaced. */
	old = fd;
	fd = dup_fd(f->call);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 1, &fd, 1), 0);
	assert_int_equal(f->d.queues[1].call_fd, fd);
	assert_closed(old);
	/* NOFD clears it. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 1 | VHOST_USER_VRING_NOFD_MASK,
				      NULL, 0),
			 0);
	assert_int_equal(f->d.queues[1].call_fd, -1);
	assert_closed(fd);

	/* Memory fds are mapped, then closed (the mapping stays). */
	fd = dup_fd(f->memfd);
	mem.regions[0] = (struct vhost_user_mem_region){ MEM_GPA, MEM_SIZE, MEM_QVA, 0 };
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem,
				  offsetof(struct vhost_user_memory, regions) + sizeof(mem.regions[0]),
				  &fd, 1),
			 0);
	assert_closed(fd);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 1);
	f->g[123] = 0x5a;
	assert_int_equal(*(uint8_t *)vu_mem_gpa_contig(&f->d.mem, MEM_GPA + 123, 1), 0x5a);

	/* A backend channel fd is kept. */
	fd = dup_fd(f->sv[1]);
	assert_int_equal(dispatch(f, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, &fd, 1), 0);
	assert_true(unit_fd_open(fd));
	assert_int_equal(f->d.backend.fd, fd);

	/* Failed requests close what they were given. */
	fd = dup_fd(f->kick);
	assert_int_equal(dispatch(f, 99, NULL, 0, &fd, 1), -EOPNOTSUPP);
	assert_closed(fd);
}

/*
 * A new SET_VRING_ERR replaces the queue's error eventfd: the old one must
 * be closed, as SET_VRING_CALL and SET_VRING_KICK do (found by fuzz_vu_msg).
 */
static void test_vring_err_replaced_fd_closed(void **state)
{
	struct fixture *f = *state;
	int first = dup_fd(f->err), second = dup_fd(f->err);

	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, 0, &first, 1), 0);
	assert_int_equal(f->d.queues[0].err_fd, first);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, 0, &second, 1), 0);
	assert_int_equal(f->d.queues[0].err_fd, second);
	assert_closed(first);
	/* And "no fd" drops the current one. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, VHOST_USER_VRING_NOFD_MASK,
				      NULL, 0),
			 0);
	assert_int_equal(f->d.queues[0].err_fd, -1);
	assert_closed(second);
}

static void test_queue_index(void **state)
{
	struct fixture *f = *state;
	struct vhost_vring_addr addr = { .index = NQ };
	int fd;

	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, NQ, 8), -EINVAL);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, UINT32_MAX, 8), -EINVAL);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, NQ, 0), -EINVAL);
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, NQ, 0), -EINVAL);
	assert_false(f->has_reply);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_ENABLE, VU_MAX_QUEUES, 1), -EINVAL);
	assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0),
			 -EINVAL);
	addr.index = 0x80000000u;
	assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0),
			 -EINVAL);
	fd = dup_fd(f->kick);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_KICK, NQ, &fd, 1), -EINVAL);
	assert_closed(fd);
	fd = dup_fd(f->kick);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0xff, &fd, 1), -EINVAL);
	assert_closed(fd);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, NQ | VHOST_USER_VRING_NOFD_MASK,
				      NULL, 0),
			 -EINVAL);
	/* The last valid index works. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, NQ - 1, 8), 0);
	assert_int_equal(f->d.queues[NQ - 1].num, 8);
}

static void test_vring_num(void **state)
{
	struct fixture *f = *state;
	static const unsigned bad[] = { 0, 3, 6, 1000, 32767, 32769, 65536, 0x80000000u,
					UINT32_MAX };
	static const unsigned good[] = { 1, 2, 256, 1024, 32768 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, bad[i]), -EINVAL);
	assert_int_equal(f->d.queues[0].num, 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, good[i]), 0);
		assert_int_equal(f->d.queues[0].num, good[i]);
	}
	/* SET_VRING_BASE: 16 bits. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 65535), 0);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 65536), -EINVAL);
	assert_int_equal(f->d.queues[0].base, 65535);
	/* SET_VRING_ENABLE: 0 or 1. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 2), -EINVAL);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	assert_false(f->d.queues[0].enabled);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	assert_true(f->d.queues[0].enabled);
}

static void test_mem_table_bad(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory mem = { 0 };
	int fds[VHOST_USER_MAX_FDS];
	uint32_t full = sizeof(mem);

	/* More regions than the message can carry. */
	mem.nregions = VHOST_USER_MEMORY_MAX_NREGIONS + 1;
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, full, NULL, 0), -EINVAL);
	mem.nregions = UINT32_MAX;
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, full, NULL, 0), -EINVAL);
	/* nregions != nfds. */
	mem.nregions = 2;
	for (int i = 0; i < 2; i++)
		mem.regions[i] = (struct vhost_user_mem_region){
			MEM_GPA + i * 0x10000ull, 0x10000, MEM_QVA + i * 0x10000ull, 0
		};
	fds[0] = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, full, fds, 1), -EINVAL);
	assert_closed(fds[0]);
	/* Payload too short for the regions it claims. */
	fds[0] = dup_fd(f->memfd);
	fds[1] = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem,
				  offsetof(struct vhost_user_memory, regions) +
					  sizeof(mem.regions[0]),
				  fds, 2),
			 -EINVAL);
	assert_closed(fds[0]);
	assert_closed(fds[1]);
	/* Regions that overlap: refused, nothing stays mapped, fds closed. */
	mem.regions[1] = mem.regions[0];
	fds[0] = dup_fd(f->memfd);
	fds[1] = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, full, fds, 2), -EINVAL);
	assert_closed(fds[0]);
	assert_closed(fds[1]);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 0);
	/* Eight regions is the most; all good. */
	mem.nregions = 8;
	for (int i = 0; i < 8; i++) {
		mem.regions[i] = (struct vhost_user_mem_region){
			MEM_GPA + i * 0x10000ull, 0x10000, MEM_QVA + i * 0x10000ull, i * 0x10000ull
		};
		fds[i] = dup_fd(f->memfd);
	}
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, full, fds, 8), 0);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 8);
	for (int i = 0; i < 8; i++)
		assert_closed(fds[i]);
	/* An empty table unmaps everything. */
	mem.nregions = 0;
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, 8, NULL, 0), 0);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 0);
}

static void test_mem_reg(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_reg reg = { .region = { MEM_GPA, MEM_SIZE, MEM_QVA, 0 } };
	int fd;

	/* Needs CONFIGURE_MEM_SLOTS. */
	fd = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &fd, 1), -EINVAL);
	assert_closed(fd);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      vu_dev_protocol_features(), NULL, 0),
			 0);
	fd = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &fd, 1), 0);
	assert_closed(fd);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 1);
	/* Overlapping add refused. */
	fd = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &fd, 1), -EINVAL);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 1);
	/* Remove: unknown region, then the real one (QEMU may send its fd along). */
	reg.region.memory_size = 0x1000;
	assert_int_equal(dispatch(f, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), -ENOENT);
	reg.region.memory_size = MEM_SIZE;
	fd = dup_fd(f->memfd);
	assert_int_equal(dispatch(f, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), &fd, 1), 0);
	assert_closed(fd);
	assert_int_equal(vu_mem_nregions(&f->d.mem), 0);
}

static void test_unknown(void **state)
{
	struct fixture *f = *state;
	static const uint32_t reqs[] = { VHOST_USER_NONE,         VHOST_USER_GET_SHARED_OBJECT,
					 VHOST_USER_SEND_RARP,    VHOST_USER_IOTLB_MSG,
					 VHOST_USER_SET_CONFIG,   VHOST_USER_VRING_KICK,
					 VHOST_USER_MAX,          1000,
					 UINT32_MAX };

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(dispatch(f, reqs[i], NULL, 0, NULL, 0), -EOPNOTSUPP);
		assert_false(f->has_reply);
	}
	assert_string_equal(vhost_user_request_name(UINT32_MAX), "UNKNOWN");
	assert_string_equal(vhost_user_request_name(VHOST_USER_SET_MEM_TABLE), "SET_MEM_TABLE");
}

/* --- A queue started for real. --- */

static void *gp(struct fixture *f, uint64_t off)
{
	return f->g + off;
}

static struct vring_desc *ring_desc(struct fixture *f)
{
	return gp(f, DESC_OFF);
}

static struct vring_avail *ring_avail(struct fixture *f)
{
	return gp(f, AVAIL_OFF);
}

static struct vring_used *ring_used(struct fixture *f)
{
	return gp(f, USED_OFF);
}

static void set_mem(struct fixture *f)
{
	struct vhost_user_memory mem = { .nregions = 1 };
	int fd = dup_fd(f->memfd);

	mem.regions[0] = (struct vhost_user_mem_region){ MEM_GPA, MEM_SIZE, MEM_QVA, 0 };
	assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem,
				  offsetof(struct vhost_user_memory, regions) + sizeof(mem.regions[0]),
				  &fd, 1),
			 0);
}

static void set_addr(struct fixture *f, unsigned q, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = desc,
		.avail_user_addr = avail,
		.used_user_addr = used,
	};

	assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
}

/* Empty an eventfd (non-blocking). */
static void drain(int fd)
{
	eventfd_t v;

	eventfd_read(fd, &v);
}

static int kick_with(struct fixture *f, unsigned q)
{
	int fd = dup_fd(f->kick);

	return dispatch_u64(f, VHOST_USER_SET_VRING_KICK, q, &fd, 1);
}

/* The frontend's sequence up to a running queue 0. */
static void start_queue(struct fixture *f, uint64_t features)
{
	int fd;

	assert_int_equal(dispatch(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, features, NULL, 0), 0);
	set_mem(f);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, QNUM), 0);
	set_addr(f, 0, MEM_QVA + DESC_OFF, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 0), 0);
	fd = dup_fd(f->call);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0, &fd, 1), 0);
	fd = dup_fd(f->err);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_ERR, 0, &fd, 1), 0);
	assert_int_equal(kick_with(f, 0), 0);
	assert_true(f->d.queues[0].running);
	/* A (re)started queue may signal once with nothing used yet; not what we test. */
	drain(f->call);
}

/* Make a 2-descriptor request (readable @in, 64 writable bytes) available; kick. */
static void post_request(struct fixture *f, uint16_t head, const char *in)
{
	struct vring_desc *d = ring_desc(f);
	struct vring_avail *a = ring_avail(f);
	uint16_t next = (uint16_t)((head + 1) % QNUM);
	uint64_t buf = BUF_OFF + head * 0x1000ull;

	memcpy(gp(f, buf), in, strlen(in));
	d[head] = (struct vring_desc){ MEM_GPA + buf, (uint32_t)strlen(in), VRING_DESC_F_NEXT,
				       next };
	d[next] = (struct vring_desc){ MEM_GPA + buf + 0x800, 64, VRING_DESC_F_WRITE, 0 };
	a->ring[a->idx % QNUM] = head;
	/* With EVENT_IDX: interrupt me once the used index moves past where it is now. */
	a->ring[QNUM] = ring_used(f)->idx;
	__atomic_store_n(&a->idx, (uint16_t)(a->idx + 1), __ATOMIC_RELEASE);
	assert_int_equal(eventfd_write(f->kick, 1), 0);
}

static bool wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	eventfd_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	eventfd_read(fd, &v);
	return true;
}

static void test_queue_runs(void **state)
{
	struct fixture *f = *state;
	struct vring_used *u = ring_used(f);

	f->stub.reply = "pong!";
	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	post_request(f, 0, "ping");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 1);
	pthread_mutex_lock(&f->stub.lock);
	assert_int_equal(f->stub.qidx, 0);
	assert_int_equal(f->stub.in_len, 4);
	assert_int_equal(f->stub.out_len, 64);
	assert_int_equal(f->stub.in_cnt, 1);
	assert_int_equal(f->stub.out_cnt, 1);
	assert_string_equal(f->stub.in, "ping");
	pthread_mutex_unlock(&f->stub.lock);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), 1);
	assert_int_equal(u->ring[0].id, 0);
	assert_int_equal(u->ring[0].len, 5);
	assert_memory_equal(gp(f, BUF_OFF + 0x800), "pong!", 5);

	/* A second one, different head. */
	post_request(f, 4, "again");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 2);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), 2);
	assert_int_equal(u->ring[1].id, 4);
	assert_false(f->d.broken);
	/* The ring cannot be resized or moved while it runs. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, 16), -EBUSY);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 0), -EBUSY);
	{
		struct vhost_vring_addr a = { .index = 0, .desc_user_addr = MEM_QVA };

		assert_int_equal(dispatch(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0),
				 -EBUSY);
	}
	assert_int_equal(f->d.queues[0].num, QNUM);
}

static void test_get_vring_base_stops(void **state)
{
	struct fixture *f = *state;
	struct vring_used *u = ring_used(f);

	f->stub.reply = "x";
	start_queue(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX));
	post_request(f, 0, "one");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 1);

	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.size, sizeof(struct vhost_vring_state));
	assert_int_equal(f->reply.payload.state.index, 0);
	assert_int_equal(f->reply.payload.state.num, 1);
	assert_false(f->d.queues[0].running);
	assert_int_equal(f->d.queues[0].kick_fd, -1);
	assert_int_equal(f->stub.finis, f->stub.inits);

	/* Stopped: a new request is not served. */
	post_request(f, 2, "two");
	usleep(50 * 1000);
	assert_int_equal(stub_calls(&f->stub), 1);
	assert_int_equal(u->idx, 1);

	/* The ring can be reconfigured now; a new kick fd restarts it where it stopped. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 1), 0);
	assert_int_equal(kick_with(f, 0), 0);
	assert_true(f->d.queues[0].running);
	while (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != 2)
		assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 2);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), 2);
	assert_int_equal(u->ring[1].id, 2);
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(f->reply.payload.state.num, 2);
}

/* A loop on queue 0 (0 -> 1 -> 0) breaks the device. */
static void break_queue0(struct fixture *f)
{
	struct vring_desc *d = ring_desc(f);
	struct vring_avail *a = ring_avail(f);
	uint16_t used = ring_used(f)->idx;
	int calls = stub_calls(&f->stub);

	d[0] = (struct vring_desc){ MEM_GPA + BUF_OFF, 8, VRING_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc){ MEM_GPA + BUF_OFF, 8, VRING_DESC_F_NEXT, 0 };
	a->ring[a->idx % QNUM] = 0;
	__atomic_store_n(&a->idx, (uint16_t)(a->idx + 1), __ATOMIC_RELEASE);
	assert_int_equal(eventfd_write(f->kick, 1), 0);
	assert_true(wait_fd(f->err, 5000));
	assert_true(vu_dev_is_broken(&f->d));
	assert_int_equal(stub_calls(&f->stub), calls);
	assert_int_equal(ring_used(f)->idx, used);
}

/* What a rebooted guest's driver brings: fresh (empty) rings at the same place. */
static void fresh_rings(struct fixture *f)
{
	memset(gp(f, DESC_OFF), 0, USED_OFF + 0x1000 - DESC_OFF);
}

/* Queue 0 restarted on fresh rings serves a request. */
static void restart_and_serve(struct fixture *f)
{
	fresh_rings(f);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, QNUM), 0);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_BASE, 0, 0), 0);
	set_addr(f, 0, MEM_QVA + DESC_OFF, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF);
	assert_int_equal(kick_with(f, 0), 0);
	assert_true(f->d.queues[0].running);
	drain(f->call);
	post_request(f, 0, "after");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 1);
	assert_int_equal(__atomic_load_n(&ring_used(f)->idx, __ATOMIC_ACQUIRE), 1);
	assert_false(vu_dev_is_broken(&f->d));
}

static void test_malformed_chain_breaks(void **state)
{
	struct fixture *f = *state;

	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	break_queue0(f);

	/* A broken device does not restart its rings for a new call fd... */
	{
		int fd = dup_fd(f->call);

		assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0, &fd, 1), 0);
	}
	assert_false(f->d.queues[0].running);
	assert_true(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 0);
	/* ...but once every ring is stopped, the frontend is restarting it: healthy again. */
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(f->reply.payload.state.num, 0); /* the bad chain was not consumed */
	assert_false(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 1); /* the guest's session went with the old rings */
	assert_false(f->d.queues[0].running);
	restart_and_serve(f);
	assert_int_equal(f->stub.resets, 1);
	/* It can break again, and says so again. */
	break_queue0(f);
}

static void test_broken_until_every_ring_stopped(void **state)
{
	struct fixture *f = *state;
	int fd;

	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	/* Queue 1 runs on its own (empty) rings. */
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 1, QNUM), 0);
	set_addr(f, 1, MEM_QVA + 0x3000, MEM_QVA + 0x4000, MEM_QVA + 0x5000);
	/* Its own kick eventfd: sharing queue 0's, its thread could consume queue 0's kicks. */
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_KICK, 1, &fd, 1), 0);
	assert_true(f->d.queues[1].running);
	break_queue0(f);

	/* The broken ring is stopped and kicked again, queue 1 still runs: still broken. */
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	assert_true(vu_dev_is_broken(&f->d));
	fresh_rings(f);
	assert_int_equal(kick_with(f, 0), 0);
	assert_false(f->d.queues[0].running);
	assert_true(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 0);
	/* Stopping the last ring of the broken incarnation: queue 0, kicked since, starts at once. */
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 1, 0), 0);
	assert_false(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 1);
	assert_true(f->d.queues[0].running);
	assert_false(f->d.queues[1].running);
	drain(f->call);
	post_request(f, 0, "after");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(stub_calls(&f->stub), 1);
}

static void test_broken_then_status_reset(void **state)
{
	struct fixture *f = *state;

	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	/* On a healthy device status 0 (QEMU pausing the VM) leaves the rings alone. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_STATUS, 0, NULL, 0), 0);
	assert_true(f->d.queues[0].running);
	assert_int_equal(f->stub.resets, 0);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_STATUS, 0xf, NULL, 0), 0);
	break_queue0(f);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_STATUS, 0, NULL, 0), 0);
	assert_false(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 1);
	assert_false(f->d.queues[0].running);
	assert_int_equal(f->d.queues[0].kick_fd, -1);
	/* GET_VRING_BASE after it (QEMU's order) still tells where the ring stopped. */
	assert_int_equal(dispatch_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	assert_int_equal(f->reply.payload.state.num, 0);
	restart_and_serve(f);
}

static void test_broken_then_reset_device(void **state)
{
	struct fixture *f = *state;
	int fd;

	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	break_queue0(f);
	assert_int_equal(dispatch(f, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_false(vu_dev_is_broken(&f->d));
	assert_int_equal(f->stub.resets, 1);
	/* Everything is configured again, as after SET_OWNER. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1, NULL, 0),
			 0);
	fd = dup_fd(f->call);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_VRING_CALL, 0, &fd, 1), 0);
	restart_and_serve(f);
}

static void test_handler_error_breaks(void **state)
{
	struct fixture *f = *state;

	f->stub.ret = -EIO;
	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	post_request(f, 0, "boom");
	assert_true(wait_fd(f->err, 5000));
	assert_true(__atomic_load_n(&f->d.broken, __ATOMIC_ACQUIRE));
	assert_int_equal(stub_calls(&f->stub), 1);
	assert_int_equal(ring_used(f)->idx, 0);
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;

	set_mem(f);
	/* Kick before size and addresses. */
	assert_int_equal(kick_with(f, 0), -EINVAL);
	assert_false(f->d.queues[0].running);
	assert_int_equal(dispatch_state(f, VHOST_USER_SET_VRING_NUM, 0, QNUM), 0);
	assert_int_equal(kick_with(f, 0), -EINVAL);
	/* Rings outside guest memory, or running past its end. */
	set_addr(f, 0, MEM_QVA - 0x1000, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF);
	assert_int_equal(kick_with(f, 0), -EFAULT);
	set_addr(f, 0, MEM_QVA, MEM_QVA + AVAIL_OFF, MEM_QVA + MEM_SIZE - 8);
	assert_int_equal(kick_with(f, 0), -EFAULT);
	set_addr(f, 0, MEM_GPA, MEM_GPA + AVAIL_OFF, MEM_GPA + USED_OFF); /* gpa, not qva */
	assert_int_equal(kick_with(f, 0), -EFAULT);
	/* Misaligned. */
	set_addr(f, 0, MEM_QVA + 8, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF);
	assert_int_equal(kick_with(f, 0), -EINVAL);
	set_addr(f, 0, MEM_QVA, MEM_QVA + AVAIL_OFF + 1, MEM_QVA + USED_OFF);
	assert_int_equal(kick_with(f, 0), -EINVAL);
	set_addr(f, 0, MEM_QVA, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF + 2);
	assert_int_equal(kick_with(f, 0), -EINVAL);
	assert_false(f->d.queues[0].running);
	/* Good at last. */
	set_addr(f, 0, MEM_QVA, MEM_QVA + AVAIL_OFF, MEM_QVA + USED_OFF);
	assert_int_equal(kick_with(f, 0), 0);
	assert_true(f->d.queues[0].running);
	/* Removing the memory under a running ring stops it for good. */
	{
		struct vhost_user_memory mem = { .nregions = 0 };

		assert_int_equal(dispatch(f, VHOST_USER_SET_MEM_TABLE, &mem, 8, NULL, 0), 0);
	}
	assert_false(f->d.queues[0].running);
	assert_true(f->d.broken);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(dispatch(f, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->stub.resets, 1);
	assert_false(f->d.queues[0].running);
	assert_int_equal(f->d.queues[0].num, 0);
	assert_int_equal(f->d.queues[0].kick_fd, -1);
	assert_int_equal(f->d.queues[0].call_fd, -1);
	assert_int_equal(f->d.queues[0].err_fd, -1);
	assert_int_equal(f->d.features, 0);
	assert_int_equal(f->stub.inits, f->stub.finis);
	assert_int_equal(dispatch(f, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->stub.resets, 2);
	/* With a payload: refused, no reset. */
	assert_int_equal(dispatch_u64(f, VHOST_USER_RESET_DEVICE, 0, NULL, 0), -EINVAL);
	assert_int_equal(f->stub.resets, 2);
}

static void test_fini_releases_fds(void **state)
{
	struct fixture *f = *state;
	int before = unit_count_fds();
	struct vu_dev d2;
	int fd;

	/* A second device, fully configured, then torn down: back to the same fd count. */
	assert_int_equal(vu_dev_init(&d2, f->sv[0], VU_MAX_QUEUES, &stub_ops, &f->stub), 0);
	{
		struct vhost_user_msg msg = { .hdr = { VHOST_USER_SET_VRING_CALL, 1, 8 } };
		struct vhost_user_msg reply;
		bool has;
		int fds[1];

		for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
			msg.payload.u64 = q;
			fds[0] = dup_fd(f->call);
			assert_int_equal(vu_dev_dispatch(&d2, &msg, fds, 1, &reply, &has), 0);
			msg.hdr.request = VHOST_USER_SET_VRING_ERR;
			fds[0] = dup_fd(f->err);
			assert_int_equal(vu_dev_dispatch(&d2, &msg, fds, 1, &reply, &has), 0);
			msg.hdr.request = VHOST_USER_SET_VRING_CALL;
		}
		msg.hdr.request = VHOST_USER_SET_BACKEND_REQ_FD;
		msg.hdr.size = 0;
		fds[0] = fd = dup_fd(f->sv[1]);
		assert_int_equal(vu_dev_dispatch(&d2, &msg, fds, 1, &reply, &has), 0);
	}
	vu_dev_fini(&d2);
	assert_closed(fd);
	assert_int_equal(unit_count_fds(), before);
	assert_true(unit_fd_open(f->sv[0])); /* the socket is not the device's */
}

/* Whether guest-physical page @gpa / 4096 is marked in @log. */
static bool page_marked(const uint8_t *log, uint64_t gpa)
{
	uint64_t p = gpa / 4096;

	return log[p / 8] & (1u << (p % 8));
}

static size_t count_marked(const uint8_t *log, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		n += (size_t)__builtin_popcount(log[i]);
	return n;
}

/*
 * With LOG_ALL and a log from SET_LOG_BASE, a served request marks exactly
 * the pages the device wrote: the reply buffer and the used ring.
 */
static void test_dirty_log(void **state)
{
	struct fixture *f = *state;
	size_t log_size = (MEM_GPA + MEM_SIZE) / 4096 / 8 + 64;
	int logfd = unit_memfd(log_size), fd;
	struct vhost_user_log lg = { .mmap_size = log_size - 64, .mmap_offset = 64 };
	uint8_t *map, *log;

	map = mmap(NULL, log_size, PROT_READ | PROT_WRITE, MAP_SHARED, logfd, 0);
	assert_true(map != MAP_FAILED);
	log = map + 64;
	f->stub.reply = "pong!";
	start_queue(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_F_LOG_ALL));
	/* Without LOG_SHMFD negotiated the request is refused. */
	fd = dup_fd(logfd);
	assert_int_equal(dispatch(f, VHOST_USER_SET_LOG_BASE, &lg, sizeof(lg), &fd, 1), -EINVAL);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				      1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD, NULL, 0), 0);
	fd = dup_fd(logfd);
	assert_int_equal(dispatch(f, VHOST_USER_SET_LOG_BASE, &lg, sizeof(lg), &fd, 1), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.hdr.size, 8);
	assert_int_equal(f->reply.payload.u64, 0);
	assert_true(f->d.queues[0].running);
	assert_int_equal(count_marked(log, log_size - 64), 0);

	post_request(f, 2, "ping");
	assert_true(wait_fd(f->call, 5000));
	assert_memory_equal(gp(f, BUF_OFF + 0x2800), "pong!", 5);
	assert_true(page_marked(log, MEM_GPA + BUF_OFF + 0x2800));
	assert_true(page_marked(log, MEM_GPA + USED_OFF));
	/* Nothing else: the request buffer and the rings we only read stay clean. */
	assert_int_equal(count_marked(log, log_size - 64), 2);

	/* Logging off (LOG_ALL cleared): nothing is marked. */
	memset(log, 0, log_size - 64);
	assert_int_equal(dispatch_u64(f, VHOST_USER_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1,
				      NULL, 0), 0);
	post_request(f, 4, "ping");
	assert_true(wait_fd(f->call, 5000));
	assert_int_equal(count_marked(log, log_size - 64), 0);

	/* Refused: an empty log, and one past the end of its file (it would SIGBUS). */
	fd = dup_fd(logfd);
	lg.mmap_size = 0;
	assert_int_equal(dispatch(f, VHOST_USER_SET_LOG_BASE, &lg, sizeof(lg), &fd, 1), -EINVAL);
	assert_int_equal(f->reply.payload.u64, 1);
	fd = dup_fd(logfd);
	lg.mmap_size = log_size;
	assert_int_equal(dispatch(f, VHOST_USER_SET_LOG_BASE, &lg, sizeof(lg), &fd, 1), -EINVAL);
	munmap(map, log_size);
	close(logfd);
}

static int read_pipe(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, size - len)) > 0)
		len += (size_t)n;
	return (int)len;
}

/* SET_DEVICE_STATE_FD + CHECK_DEVICE_STATE in both directions. */
static void test_device_state(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_device_state ds = { .direction = 0, .phase = 0 };
	char buf[64];
	int p[2];

	/* CHECK before any transfer fails. */
	assert_int_equal(dispatch(f, VHOST_USER_CHECK_DEVICE_STATE, NULL, 0, NULL, 0), -ENODATA);
	assert_true(f->has_reply);
	assert_int_not_equal(f->reply.payload.u64, 0);

	/* Save: we keep QEMU's fd (bit 8), write the state, close it. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[1], 1), 0);
	assert_true(f->has_reply);
	assert_int_equal(f->reply.payload.u64, VU_STATE_REPLY_NO_FD);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_pipe(p[0], buf, sizeof(buf)), strlen("saved-state"));
	assert_string_equal(buf, "saved-state");
	close(p[0]);
	assert_int_equal(dispatch(f, VHOST_USER_CHECK_DEVICE_STATE, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->reply.payload.u64, 0);

	/* Load: read to end of file, load at CHECK. */
	ds.direction = 1;
	stub_load_ret = 0;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[0], 1), 0);
	assert_int_equal(f->reply.payload.u64, VU_STATE_REPLY_NO_FD);
	assert_int_equal(write(p[1], "incoming", 8), 8);
	close(p[1]);
	assert_int_equal(dispatch(f, VHOST_USER_CHECK_DEVICE_STATE, NULL, 0, NULL, 0), 0);
	assert_int_equal(f->reply.payload.u64, 0);
	assert_int_equal(stub_loaded_len, 8);
	assert_memory_equal(stub_loaded, "incoming", 8);

	/* A load the device model refuses: CHECK reports failure. */
	stub_load_ret = -EBADMSG;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[0], 1), 0);
	close(p[1]);
	assert_int_equal(dispatch(f, VHOST_USER_CHECK_DEVICE_STATE, NULL, 0, NULL, 0), -EBADMSG);
	assert_int_equal(f->reply.payload.u64, EBADMSG); /* the precise failure */
	stub_load_ret = 0;

	/* Bad phase, bad direction, wrong fd count: error bits set, fd closed. */
	ds.phase = 1;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[0], 1),
			 -EINVAL);
	assert_int_equal(f->reply.payload.u64, VU_STATE_REPLY_NO_FD | EINVAL);
	assert_closed(p[0]);
	close(p[1]);
	ds.phase = 0;
	ds.direction = 2;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[0], 1),
			 -EINVAL);
	close(p[1]);
	ds.direction = 0;
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), NULL, 0),
			 -EINVAL);

	/* Not while a ring runs (the state would change under the save). */
	start_queue(f, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(dispatch(f, VHOST_USER_SET_DEVICE_STATE_FD, &ds, sizeof(ds), &p[1], 1),
			 -EBUSY);
	assert_int_equal(f->reply.payload.u64, VU_STATE_REPLY_NO_FD | EBUSY);
	close(p[0]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_get_features),
		T(test_set_features),
		T(test_wrong_sizes),
		T(test_wrong_fd_counts),
		T(test_fds_taken_or_closed),
		T(test_vring_err_replaced_fd_closed),
		T(test_queue_index),
		T(test_vring_num),
		T(test_mem_table_bad),
		T(test_mem_reg),
		T(test_unknown),
		T(test_queue_runs),
		T(test_get_vring_base_stops),
		T(test_malformed_chain_breaks),
		T(test_broken_until_every_ring_stopped),
		T(test_broken_then_status_reset),
		T(test_broken_then_reset_device),
		T(test_handler_error_breaks),
		T(test_start_errors),
		T(test_reset),
		T(test_fini_releases_fds),
		T(test_dirty_log),
		T(test_device_state),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
