// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the vhost-user control plane (src/vu/vu_dev.c).
 *
 * The input is a stream of vhost-user messages (as vu_sock_recv would
 * deliver them) fed to vu_dev_dispatch, each with 0..8 fds dup'ed from a
 * small pool (two memfds, two eventfds, a socket), optionally after a
 * fixed valid prefix that sets up memory and starts queues 0 and 1, and
 * interleaved with "guest" actions: writes into guest memory (rings,
 * descriptors) and kicks. Queue threads really run and call a stub device
 * that touches every byte of every chain.
 *
 * Checked: no crash (ASan/UBSan), replies well-formed, no fd leaked or
 * wrongly closed (the process's fd count is the same after vu_dev_fini,
 * and the pool's fds are still open).
 *
 * Input:
 *   [mode u8]  bit 0: valid prefix first; bits 1..: number of queues - 1 (mod 17)
 *   then items:
 *   [ctl u8] bit 7 set: guest action (bits 0-1: 0 write memory, 1 kick, 2 yield,
 *              3 wait up to 5 ms for the prefix's queues to use what is available)
 *              write: [which+offset u32][len u8][bytes]; kick: [which u8]
 *            else: message with (ctl & 15) % 9 fds; bit 6: 32-bit request code
 *              [request u8 or u32][flags u32][size u16][payload: size bytes][pool index u8 per fd]
 * A payload size larger than the payload union ends the stream, as a
 * framing error ends the connection in vu_sock_recv.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "fuzz_common.h"
#include "vu_dev.h"

#define MEMFD_SIZE (1u << 20)
#define PREFIX_QVA 0x100000000ull
#define MAX_ITEMS 128

enum { POOL_MEM0, POOL_MEM1, POOL_EV0, POOL_EV1, POOL_SOCK, NPOOL };

static int pool[NPOOL];
static int sock_pair[2];
static uint8_t *guest[2];

static int stub_handle(void *opaque, void *ctx, unsigned qidx, struct vq_elem *elem,
		       uint32_t *written)
{
	volatile uint8_t sink = 0;
	uint8_t first = 0;

	(void)opaque;
	(void)ctx;
	(void)qidx;
	for (unsigned i = 0; i < elem->in_cnt + elem->out_cnt; i++) {
		struct iovec *v = &elem->iov[i];

		if (i < elem->in_cnt) {
			for (size_t j = 0; j < v->iov_len; j++)
				sink ^= ((volatile uint8_t *)v->iov_base)[j];
			if (i == 0)
				first = ((uint8_t *)v->iov_base)[0];
		} else {
			memset(v->iov_base, 0x5a, v->iov_len);
		}
	}
	(void)sink;
	*written = (uint32_t)elem->out_len;
	FUZZ_TRACE("queue %u: chain %u, %zu + %zu bytes\n", qidx, elem->head, elem->in_len,
		   elem->out_len);
	return first == 0xee ? -EIO : 0; /* lets the fuzzer reach "handler failed" */
}

static const struct vu_dev_ops stub_ops = { .handle = stub_handle };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_log_init();
	for (int i = 0; i < 2; i++) {
		pool[POOL_MEM0 + i] = memfd_create("fuzz-vu", MFD_CLOEXEC);
		if (pool[POOL_MEM0 + i] < 0 || ftruncate(pool[POOL_MEM0 + i], MEMFD_SIZE) < 0)
			fuzz_fail("memfd: %m");
		guest[i] = mmap(NULL, MEMFD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
				pool[POOL_MEM0 + i], 0);
		if (guest[i] == MAP_FAILED)
			fuzz_fail("mmap: %m");
		pool[POOL_EV0 + i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pool[POOL_EV0 + i] < 0)
			fuzz_fail("eventfd: %m");
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_pair) < 0)
		fuzz_fail("socketpair: %m");
	pool[POOL_SOCK] = sock_pair[1];
	return 0;
}

/*
 * Memory regions must stay inside the memfds: a mapping past the end of
 * its file faults with SIGBUS when touched, which is the frontend's fault
 * (it owns the file), not a daemon bug. Regions the daemon refuses anyway
 * (zero size, wrapping) are left alone.
 */
static void clamp_region(struct vhost_user_mem_region *r)
{
	if (!r->memory_size || r->mmap_offset > UINT64_MAX - r->memory_size ||
	    r->mmap_offset + r->memory_size <= MEMFD_SIZE)
		return;
	r->mmap_offset %= MEMFD_SIZE / 2;
	r->memory_size = 1 + r->memory_size % (MEMFD_SIZE - r->mmap_offset);
}

static void clamp_regions(struct vhost_user_msg *msg)
{
	struct vhost_user_memory m;
	struct vhost_user_mem_reg reg;

	switch (msg->hdr.request) {
	case VHOST_USER_SET_MEM_TABLE:
		memcpy(&m, &msg->payload.memory, sizeof(m));
		for (unsigned i = 0; i < VHOST_USER_MEMORY_MAX_NREGIONS; i++)
			clamp_region(&m.regions[i]);
		memcpy(&msg->payload.memory, &m, sizeof(m));
		break;
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		memcpy(&reg, &msg->payload.mem_reg, sizeof(reg));
		clamp_region(&reg.region);
		memcpy(&msg->payload.mem_reg, &reg, sizeof(reg));
		break;
	}
}

static int dup_pool(unsigned i)
{
	int fd = fcntl(pool[i % NPOOL], F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		fuzz_fail("dup of pool fd %u: %m", i % NPOOL);
	return fd;
}

static int send_msg(struct vu_dev *d, struct vhost_user_msg *msg, int *fds, unsigned nfds)
{
	struct vhost_user_msg reply;
	bool has_reply = true;
	int err;

	memset(&reply, 0xcc, sizeof(reply));
	err = vu_dev_dispatch(d, msg, fds, nfds, &reply, &has_reply);
	FUZZ_TRACE("%s (%u) size %u, %u fds: %d%s\n", vhost_user_request_name(msg->hdr.request),
		   msg->hdr.request, msg->hdr.size, nfds, err, has_reply ? ", reply" : "");
	FUZZ_CHECK(err <= 0, "dispatch returned %d", err);
	if (has_reply) {
		FUZZ_CHECK(reply.hdr.request == msg->hdr.request, "reply to %u for request %u",
			   reply.hdr.request, msg->hdr.request);
		FUZZ_CHECK(reply.hdr.flags == (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK),
			   "reply flags 0x%x", reply.hdr.flags);
		FUZZ_CHECK(reply.hdr.size <= sizeof(reply.payload), "reply size %u",
			   reply.hdr.size);
	}
	return err;
}

static void prefix_msg(struct vu_dev *d, uint32_t req, const void *payload, uint32_t size,
		       int pool_fd)
{
	struct vhost_user_msg msg = { .hdr = { req, VHOST_USER_VERSION, size } };
	int fds[1];
	int err;

	if (size)
		memcpy(&msg.payload, payload, size);
	if (pool_fd >= 0)
		fds[0] = dup_pool((unsigned)pool_fd);
	err = send_msg(d, &msg, fds, pool_fd >= 0);
	FUZZ_CHECK(!err, "prefix request %s failed: %d", vhost_user_request_name(req), err);
}

/* The usual frontend start-up: memory in memfd 0, queues 0 and 1 running (size 64). */
static void run_prefix(struct vu_dev *d)
{
	uint64_t v;
	struct vhost_user_memory mem = { .nregions = 1 };

	prefix_msg(d, VHOST_USER_SET_OWNER, NULL, 0, -1);
	v = vu_dev_features();
	prefix_msg(d, VHOST_USER_SET_FEATURES, &v, sizeof(v), -1);
	v = vu_dev_offered_protocol_features(d);
	prefix_msg(d, VHOST_USER_SET_PROTOCOL_FEATURES, &v, sizeof(v), -1);
	mem.regions[0] = (struct vhost_user_mem_region){ 0, MEMFD_SIZE, PREFIX_QVA, 0 };
	prefix_msg(d, VHOST_USER_SET_MEM_TABLE, &mem,
		   offsetof(struct vhost_user_memory, regions) + sizeof(mem.regions[0]), POOL_MEM0);
	for (unsigned q = 0; q < 2 && q < d->max_queues; q++) {
		struct vhost_vring_state s = { .index = q, .num = 64 };
		struct vhost_vring_addr a = {
			.index = q,
			.desc_user_addr = PREFIX_QVA + q * 0x4000,
			.avail_user_addr = PREFIX_QVA + q * 0x4000 + 0x1000,
			.used_user_addr = PREFIX_QVA + q * 0x4000 + 0x2000,
		};

		prefix_msg(d, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), -1);
		prefix_msg(d, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1);
		s.num = 0;
		prefix_msg(d, VHOST_USER_SET_VRING_BASE, &s, sizeof(s), -1);
		v = q;
		prefix_msg(d, VHOST_USER_SET_VRING_CALL, &v, sizeof(v), POOL_EV1);
		prefix_msg(d, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), POOL_EV1);
		prefix_msg(d, VHOST_USER_SET_VRING_KICK, &v, sizeof(v), POOL_EV0);
	}
}

/* Waits an input may do (each may cost 5 ms). */
static unsigned waits_left;
static bool prefix_done;

/*
 * Until the used index of each prefix queue (rings in memfd 0) catches up
 * with its avail index, the device is broken, or 5 ms have passed.
 */
static void wait_prefix_queues(struct vu_dev *d)
{
	if (!prefix_done || !waits_left)
		return;
	waits_left--;
	for (int i = 0; i < 50; i++) {
		bool idle = true;

		if (__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE))
			return;
		for (unsigned q = 0; q < 2 && q < d->max_queues; q++) {
			uint16_t *avail_idx = (uint16_t *)(guest[0] + q * 0x4000 + 0x1000 + 2);
			uint16_t *used_idx = (uint16_t *)(guest[0] + q * 0x4000 + 0x2000 + 2);

			idle &= __atomic_load_n(avail_idx, __ATOMIC_ACQUIRE) ==
				__atomic_load_n(used_idx, __ATOMIC_ACQUIRE);
		}
		if (idle)
			return;
		usleep(100);
	}
}

static void guest_action(struct vu_dev *d, struct fuzz_in *in, uint8_t ctl)
{
	switch (ctl & 3) {
	case 0: { /* write guest memory */
		uint32_t where = fuzz_u32(in);
		uint8_t len = fuzz_u8(in);
		uint8_t buf[256];
		size_t n = fuzz_bytes(in, buf, len);
		uint8_t *g = guest[where >> 31];
		size_t off = (where & 0x7fffffff) % MEMFD_SIZE;

		if (n > MEMFD_SIZE - off)
			n = MEMFD_SIZE - off;
		memcpy(g + off, buf, n);
		break;
	}
	case 1: /* kick */
		eventfd_write(pool[POOL_EV0 + (fuzz_u8(in) & 1)], 1);
		break;
	case 2: /* let the queue threads run */
		sched_yield();
		break;
	default: /* wait (a little) for the prefix queues to consume what is available */
		wait_prefix_queues(d);
		break;
	}
}

static void reset_pool(void)
{
	eventfd_t v;

	for (int i = 0; i < 2; i++) {
		if (fallocate(pool[POOL_MEM0 + i], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      MEMFD_SIZE) < 0)
			fuzz_fail("punch hole: %m");
		eventfd_read(pool[POOL_EV0 + i], &v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in);
	unsigned max_queues = 1 + (mode >> 1) % VU_MAX_QUEUES;
	struct vu_dev *d = malloc(sizeof(*d));
	int fds_before, fds_after;

	reset_pool();
	waits_left = 4;
	fds_before = fuzz_count_fds();
	if (!d || vu_dev_init(d, sock_pair[0], max_queues, &stub_ops, NULL))
		fuzz_fail("vu_dev_init");
	/* A config space (GET_CONFIG) and a DAX window (GET_SHMEM_CONFIG), as vufsd --tag --dax-window. */
	vu_dev_set_config(d, "fuzz-tag\0\0\0\0", 12);
	vu_dev_set_shm_size(d, 1ull << 30);
	prefix_done = mode & 1;
	if (prefix_done)
		run_prefix(d);

	for (unsigned item = 0; item < MAX_ITEMS && in.left; item++) {
		struct vhost_user_msg msg;
		uint8_t ctl = fuzz_u8(&in);
		int fds[VHOST_USER_MAX_FDS];
		unsigned nfds;

		if (ctl & 0x80) {
			guest_action(d, &in, ctl);
			continue;
		}
		memset(&msg, 0, sizeof(msg));
		msg.hdr.request = ctl & 0x40 ? fuzz_u32(&in) : fuzz_u8(&in);
		msg.hdr.flags = fuzz_u32(&in);
		msg.hdr.size = fuzz_u16(&in);
		if (msg.hdr.size > sizeof(msg.payload))
			break; /* vu_sock_recv: framing error, connection dropped */
		if (fuzz_bytes(&in, &msg.payload, msg.hdr.size) < msg.hdr.size)
			break; /* EOF in the middle of a message */
		clamp_regions(&msg);
		nfds = (ctl & 15) % (VHOST_USER_MAX_FDS + 1);
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = dup_pool(fuzz_u8(&in));
		send_msg(d, &msg, fds, nfds);
	}

	FUZZ_TRACE("end: broken %d\n", d->broken);
	vu_dev_fini(d);
	free(d);
	fds_after = fuzz_count_fds();
	if (fds_after != fds_before)
		fuzz_dump_fds();
	FUZZ_CHECK(fds_after == fds_before, "fd leak: %d open before, %d after", fds_before,
		   fds_after);
	for (int i = 0; i < NPOOL; i++)
		FUZZ_CHECK(fcntl(pool[i], F_GETFD) >= 0, "pool fd %d (%d) was closed", i, pool[i]);
	FUZZ_CHECK(fcntl(sock_pair[0], F_GETFD) >= 0, "the connection socket was closed");
	return 0;
}
