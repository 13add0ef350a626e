// SPDX-License-Identifier: MIT
/* vhost-user front-end: messages on the UNIX socket and the QEMU-like handshake. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fe_priv.h"

#define FE_VU_MAX_PAYLOAD 4096u

static const char *req_name(uint32_t req)
{
	static char buf[24];

	if (req < VHOST_USER_MAX && strcmp(vhost_user_request_name(req), "UNKNOWN"))
		return vhost_user_request_name(req);
	snprintf(buf, sizeof(buf), "request#%u", req);
	return buf;
}

/* Requests the backend answers with a payload of its own (never an ack). */
static bool has_reply(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
		return true;
	default:
		return false;
	}
}

static int wait_fd(struct fe *fe, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fe->sock, .events = events };

	for (;;) {
		int r = poll(&p, 1, fe_ms_left(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (p.revents & events)
			return 0;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			return -ECONNRESET;
	}
}

static int xmit(struct fe *fe, const void *buf, size_t len, const int *fds, unsigned int nfds,
		uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	const uint8_t *p = buf;
	bool fds_sent = nfds == 0;

	if (fe->sock < 0)
		return -ENOTCONN;
	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	while (len) {
		struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int err;

		if (!fds_sent) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(fe->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno == EPIPE ? -ECONNRESET : -errno;
			err = wait_fd(fe, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		fds_sent = true;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes; fds that arrive are closed. */
static int recv_full(struct fe *fe, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;

	while (len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = p, .iov_len = len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t n;
		int err;

		err = wait_fd(fe, POLLIN, deadline);
		if (err)
			return err;
		n = recvmsg(fe->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				int fd;

				for (size_t i = 0; i < nfd; i++) {
					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					close(fd);
				}
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fe_vu_send_bytes(struct fe *fe, const void *buf, size_t len, const int *fds, unsigned int nfds)
{
	return xmit(fe, buf, len, fds, nfds, fe_deadline(fe, -1));
}

int fe_vu_send(struct fe *fe, uint32_t request, uint32_t flags,
	       const void *payload, uint32_t size, const int *fds, unsigned int nfds,
	       struct vhost_user_msg *reply, uint32_t *reply_size)
{
	uint8_t buf[sizeof(struct vhost_user_header) + FE_VU_MAX_PAYLOAD];
	struct vhost_user_header hdr = { .request = request, .flags = flags, .size = size };
	uint64_t deadline = fe_deadline(fe, -1);
	int err;

	if (size > FE_VU_MAX_PAYLOAD || (size && !payload))
		return -EINVAL;
	memcpy(buf, &hdr, sizeof(hdr));
	if (size)
		memcpy(buf + sizeof(hdr), payload, size);
	err = xmit(fe, buf, sizeof(hdr) + size, fds, nfds, deadline);
	if (err)
		return fe_err(fe, err, "%s: send: %s", req_name(request), strerror(-err));
	if (!reply)
		return 0;
	memset(reply, 0, sizeof(*reply));
	err = recv_full(fe, &reply->hdr, sizeof(reply->hdr), deadline);
	if (err)
		return fe_err(fe, err, "%s: no reply: %s", req_name(request), strerror(-err));
	if ((reply->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    !(reply->hdr.flags & VHOST_USER_REPLY_MASK))
		return fe_err(fe, -EPROTO, "%s: reply has bad flags 0x%x", req_name(request),
			      reply->hdr.flags);
	if (reply->hdr.request != request)
		return fe_err(fe, -EPROTO, "%s: reply is for request %u", req_name(request),
			      reply->hdr.request);
	if (reply->hdr.size > sizeof(reply->payload))
		return fe_err(fe, -EPROTO, "%s: reply payload of %u bytes is too large",
			      req_name(request), reply->hdr.size);
	err = recv_full(fe, &reply->payload, reply->hdr.size, deadline);
	if (err)
		return fe_err(fe, err, "%s: truncated reply: %s", req_name(request), strerror(-err));
	if (reply_size)
		*reply_size = reply->hdr.size;
	return 0;
}

/* Wrap a failure of the handshake/ring helpers: they break the connection. */
static int vu_fail(struct fe *fe, int err)
{
	if (!fe->broken && err != -EOPNOTSUPP)
		fe->broken = err;
	return err;
}

int fe_vu_request(struct fe *fe, uint32_t request, const void *payload, uint32_t size,
		  const int *fds, unsigned int nfds)
{
	struct vhost_user_msg reply;
	uint32_t flags = VHOST_USER_VERSION;
	uint32_t rsize = 0;
	bool ack = false;
	int err;

	if (fe->broken)
		return fe->broken;
	if (fe->reply_ack && !has_reply(request) &&
	    (fe->opts.ack_all || request == VHOST_USER_SET_MEM_TABLE ||
	     request == VHOST_USER_ADD_MEM_REG || request == VHOST_USER_REM_MEM_REG)) {
		flags |= VHOST_USER_NEED_REPLY_MASK;
		ack = true;
	}
	fe_dbg(fe, "-> %s (%u bytes, %u fds%s)", req_name(request), size, nfds, ack ? ", ack" : "");
	err = fe_vu_send(fe, request, flags, payload, size, fds, nfds, ack ? &reply : NULL, &rsize);
	if (err)
		return vu_fail(fe, err);
	if (!ack)
		return 0;
	if (rsize != sizeof(uint64_t))
		return vu_fail(fe, fe_err(fe, -EPROTO, "%s: ack has %u payload bytes, expected 8",
					  req_name(request), rsize));
	if (reply.payload.u64 != 0)
		return fe_err(fe, -EIO, "%s: backend rejected it (ack status %llu)", req_name(request),
			      (unsigned long long)reply.payload.u64);
	return 0;
}

int fe_vu_get_u64(struct fe *fe, uint32_t request, uint64_t *val)
{
	struct vhost_user_msg reply;
	uint32_t rsize = 0;
	int err;

	if (fe->broken)
		return fe->broken;
	err = fe_vu_send(fe, request, VHOST_USER_VERSION, NULL, 0, NULL, 0, &reply, &rsize);
	if (err)
		return vu_fail(fe, err);
	if (rsize != sizeof(uint64_t))
		return vu_fail(fe, fe_err(fe, -EPROTO, "%s: reply has %u payload bytes, expected 8",
					  req_name(request), rsize));
	*val = reply.payload.u64;
	fe_dbg(fe, "<- %s = 0x%llx", req_name(request), (unsigned long long)*val);
	return 0;
}

static int set_u64(struct fe *fe, uint32_t request, uint64_t v)
{
	return fe_vu_request(fe, request, &v, sizeof(v), NULL, 0);
}

static int set_state(struct fe *fe, uint32_t request, unsigned int index, unsigned int num)
{
	struct vhost_vring_state s = { .index = index, .num = num };

	return fe_vu_request(fe, request, &s, sizeof(s), NULL, 0);
}

static int set_mem(struct fe *fe)
{
	int fds[FE_MAX_REGIONS];
	int err;

	if (fe->opts.add_mem_reg) {
		for (unsigned int i = 0; i < fe->nregions; i++) {
			struct vhost_user_mem_reg m = { 0 };
			const struct fe_region *r = &fe->regions[i];

			m.region.guest_phys_addr = r->gpa;
			m.region.memory_size = r->size;
			m.region.userspace_addr = (uint64_t)(uintptr_t)r->host;
			m.region.mmap_offset = r->mmap_offset;
			err = fe_vu_request(fe, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &fe->memfd, 1);
			if (err)
				return err;
		}
		return 0;
	} else {
		struct vhost_user_memory m = { .nregions = fe->nregions };
		uint32_t size = (uint32_t)(offsetof(struct vhost_user_memory, regions) +
					   fe->nregions * sizeof(struct vhost_user_mem_region));

		for (unsigned int i = 0; i < fe->nregions; i++) {
			const struct fe_region *r = &fe->regions[i];

			m.regions[i].guest_phys_addr = r->gpa;
			m.regions[i].memory_size = r->size;
			m.regions[i].userspace_addr = (uint64_t)(uintptr_t)r->host;
			m.regions[i].mmap_offset = r->mmap_offset;
			fds[i] = fe->memfd;
		}
		return fe_vu_request(fe, VHOST_USER_SET_MEM_TABLE, &m, size, fds, fe->nregions);
	}
}

static int ring_setup(struct fe *fe, unsigned int q, uint32_t base)
{
	struct fe_vq *vq = &fe->vq[q];
	struct vhost_vring_addr a = {
		.index = q,
		.flags = 0,
		.desc_user_addr = (uint64_t)(uintptr_t)vq->desc,
		.used_user_addr = (uint64_t)(uintptr_t)vq->used,
		.avail_user_addr = (uint64_t)(uintptr_t)vq->avail,
		.log_guest_addr = 0,
	};
	uint64_t idx = q;
	int err;

	err = set_state(fe, VHOST_USER_SET_VRING_NUM, q, vq->num);
	if (!err)
		err = set_state(fe, VHOST_USER_SET_VRING_BASE, q, base);
	if (!err)
		err = fe_vu_request(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (!err)
		err = fe_vu_request(fe, VHOST_USER_SET_VRING_KICK, &idx, sizeof(idx), &vq->kickfd, 1);
	if (!err)
		err = fe_vu_request(fe, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &vq->callfd, 1);
	return err;
}

/*
 * Without REPLY_ACK nothing tells us the backend has acted on the messages
 * sent so far; a request with a reply does, since messages are handled in
 * order. QEMU's enforce_reply() uses GET_FEATURES the same way. Needed before
 * the first kick: a backend may drop a kick that beats SET_VRING_ENABLE.
 */
static int barrier(struct fe *fe)
{
	uint64_t f;

	if (fe->reply_ack && fe->opts.ack_all)
		return 0;
	return fe_vu_get_u64(fe, VHOST_USER_GET_FEATURES, &f);
}

int fe_vu_ring_enable(struct fe *fe, unsigned int q, bool enable)
{
	if (q >= fe->opts.nqueues)
		return -EINVAL;
	return set_state(fe, VHOST_USER_SET_VRING_ENABLE, q, enable ? 1 : 0);
}

int fe_vu_ring_start(struct fe *fe, unsigned int q, uint32_t base)
{
	int err;

	if (q >= fe->opts.nqueues)
		return -EINVAL;
	err = ring_setup(fe, q, base);
	if (!err && (fe->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		err = fe_vu_ring_enable(fe, q, true);
	if (!err)
		err = barrier(fe);
	if (!err) {
		fe->vq[q].started = true;
		fe->vq[q].force_kick = true;
	}
	return err;
}

int fe_vu_ring_stop(struct fe *fe, unsigned int q, uint32_t *base)
{
	struct vhost_vring_state s = { .index = q };
	struct vhost_user_msg reply;
	uint32_t rsize = 0;
	int err;

	if (q >= fe->opts.nqueues)
		return -EINVAL;
	if (fe->broken)
		return fe->broken;
	err = fe_vu_send(fe, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &s, sizeof(s), NULL, 0,
			 &reply, &rsize);
	if (err)
		return vu_fail(fe, err);
	if (rsize != sizeof(struct vhost_vring_state) || reply.payload.state.index != q)
		return vu_fail(fe, fe_err(fe, -EPROTO, "GET_VRING_BASE: bad reply (%u bytes, index %u)",
					  rsize, reply.payload.state.index));
	fe->vq[q].started = false;
	if (base)
		*base = reply.payload.state.num;
	return 0;
}

/* What a driver that has just started the device wrote to its status. */
#define FE_STATUS_STARTED                                                              \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
	 VIRTIO_CONFIG_S_DRIVER_OK)

int fe_vu_reset(struct fe *fe, enum fe_reset_mode mode)
{
	bool pf = fe->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	unsigned int nq = fe->opts.nqueues;
	int err = 0;

	if (fe->sock < 0)
		return fe_err(fe, -ENOTCONN, "not connected");
	if (fe->broken)
		return fe->broken;
	fe_dbg(fe, "resetting the device (mode %d)", (int)mode);
	switch (mode) {
	case FE_RESET_STATUS:
	case FE_RESET_RINGS:
		/* QEMU's order: the status first, then the rings. */
		if (mode == FE_RESET_STATUS)
			err = set_u64(fe, VHOST_USER_SET_STATUS, 0);
		for (unsigned int q = 0; q < nq && !err && pf; q++)
			err = fe_vu_ring_enable(fe, q, false);
		for (unsigned int q = 0; q < nq && !err; q++)
			err = fe_vu_ring_stop(fe, q, NULL);
		break;
	case FE_RESET_DEVICE:
		err = fe_vu_request(fe, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0);
		break;
	case FE_RESET_OWNER:
		err = fe_vu_request(fe, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0);
		if (!err)
			err = fe_vu_request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
		break;
	default:
		return fe_err(fe, -EINVAL, "unknown reset mode %d", (int)mode);
	}
	if (err)
		return fe_err(fe, err, "reset (mode %d): %s", (int)mode, fe_strerror(fe));
	/* The guest's new driver instance: fresh rings, fresh FUSE session. */
	fe->fuse_inited = false;
	memset(&fe->init, 0, sizeof(fe->init));
	for (unsigned int q = 0; q < nq; q++) {
		err = fe_vq_renew(fe, q);
		if (err)
			return vu_fail(fe, err);
	}
	err = set_u64(fe, VHOST_USER_SET_FEATURES, fe->features);
	if (!err && !fe->opts.add_mem_reg)
		err = set_mem(fe);
	for (unsigned int q = 0; q < nq && !err; q++)
		err = ring_setup(fe, q, fe->opts.ring_base);
	for (unsigned int q = 0; q < nq && !err; q++) {
		if (pf)
			err = fe_vu_ring_enable(fe, q, true);
		fe->vq[q].started = !err;
	}
	if (!err && mode == FE_RESET_STATUS)
		err = set_u64(fe, VHOST_USER_SET_STATUS, FE_STATUS_STARTED);
	if (!err)
		err = barrier(fe);
	return err;
}

int fe_vu_setup(struct fe *fe)
{
	uint64_t want, pf;
	int err;

	if (fe->sock < 0)
		return fe_err(fe, -ENOTCONN, "not connected");
	fe->reply_ack = false;
	err = fe_vu_get_u64(fe, VHOST_USER_GET_FEATURES, &fe->backend_features);
	if (err)
		return err;
	want = fe->backend_features & fe->opts.feature_mask;
	if ((fe->opts.feature_mask & (1ull << VIRTIO_F_VERSION_1)) &&
	    !(want & (1ull << VIRTIO_F_VERSION_1)))
		return vu_fail(fe, fe_err(fe, -EPROTO, "backend does not offer VIRTIO_F_VERSION_1 (features 0x%llx)",
					  (unsigned long long)fe->backend_features));

	fe->protocol = 0;
	if (want & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		err = fe_vu_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &fe->backend_protocol);
		if (err)
			return err;
		pf = fe->backend_protocol & fe->opts.protocol_mask;
		err = set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, pf);
		if (err)
			return err;
		fe->protocol = pf;
		fe->reply_ack = pf & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
		if (pf & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
			err = fe_vu_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &fe->queue_num);
			if (err)
				return err;
			if (fe->queue_num < fe->opts.nqueues)
				return vu_fail(fe, fe_err(fe, -EOPNOTSUPP,
							  "backend supports %llu queues, %u wanted",
							  (unsigned long long)fe->queue_num, fe->opts.nqueues));
		}
		if (pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
			err = fe_vu_get_u64(fe, VHOST_USER_GET_MAX_MEM_SLOTS, &fe->max_mem_slots);
			if (err)
				return err;
			if (fe->max_mem_slots < fe->nregions)
				return vu_fail(fe, fe_err(fe, -EOPNOTSUPP, "backend has %llu memory slots, %u needed",
							  (unsigned long long)fe->max_mem_slots, fe->nregions));
		}
	}
	if (fe->opts.add_mem_reg && !(fe->protocol & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
		return fe_err(fe, -EOPNOTSUPP, "ADD_MEM_REG requested but CONFIGURE_MEM_SLOTS is not negotiated");

	err = fe_vu_request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (err)
		return err;
	err = set_u64(fe, VHOST_USER_SET_FEATURES, want);
	if (err)
		return err;
	fe->features = want;
	fe->event_idx = want & (1ull << VIRTIO_RING_F_EVENT_IDX);
	fe->indirect = want & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (fe->opts.indirect == FE_INDIRECT_ALWAYS && !fe->indirect)
		return fe_err(fe, -EOPNOTSUPP, "indirect descriptors requested but not negotiated");

	err = set_mem(fe);
	if (err)
		return err;
	for (unsigned int q = 0; q < fe->opts.nqueues; q++) {
		err = ring_setup(fe, q, fe->opts.ring_base);
		if (err)
			return err;
	}
	for (unsigned int q = 0; q < fe->opts.nqueues; q++) {
		if (want & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
			err = fe_vu_ring_enable(fe, q, true);
			if (err)
				return err;
		}
		fe->vq[q].started = true;
	}
	err = barrier(fe);
	if (err)
		return err;
	fe->setup_done = true;
	fe_dbg(fe, "setup done: features 0x%llx protocol 0x%llx", (unsigned long long)fe->features,
	       (unsigned long long)fe->protocol);
	return 0;
}
