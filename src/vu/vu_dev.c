// SPDX-License-Identifier: MIT
#include "vu_dev.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "vu_queue.h"
#include "vu_sock.h"

uint64_t vu_dev_features(void)
{
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
	       (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
	       (1ull << VHOST_F_LOG_ALL);
}

uint64_t vu_dev_protocol_features(void)
{
	return (1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	       (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
	       (1ull << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) |
	       (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
	       (1ull << VHOST_USER_PROTOCOL_F_STATUS) |
	       (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
	       (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE);
}

uint64_t vu_dev_offered_protocol_features(const struct vu_dev *d)
{
	uint64_t f = vu_dev_protocol_features();

	if (d->config_len)
		f |= 1ull << VHOST_USER_PROTOCOL_F_CONFIG;
	if (d->shm_size)
		f |= 1ull << VHOST_USER_PROTOCOL_F_SHMEM;
	return f;
}

int vu_dev_set_config(struct vu_dev *d, const void *config, size_t len)
{
	if (len > sizeof(d->config))
		return -EINVAL;
	memset(d->config, 0, sizeof(d->config));
	memcpy(d->config, config, len);
	d->config_len = (uint32_t)len;
	return 0;
}

bool vu_dev_has_protocol_feature(const struct vu_dev *d, unsigned bit)
{
	return __atomic_load_n(&d->protocol_features, __ATOMIC_RELAXED) & (1ull << bit);
}

int vu_dev_backend_request(struct vu_dev *d, uint32_t req, const void *payload, uint32_t size,
			   int fd)
{
	if (!vu_dev_has_protocol_feature(d, VHOST_USER_PROTOCOL_F_BACKEND_REQ) ||
	    (fd >= 0 && !vu_dev_has_protocol_feature(d, VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD)))
		return -EOPNOTSUPP;
	return vu_backend_request(&d->backend, req, payload, size, fd);
}

void vu_dev_set_shm_size(struct vu_dev *d, uint64_t size)
{
	d->shm_size = size;
}

bool vu_dev_has_feature(const struct vu_dev *d, unsigned bit)
{
	return d->features & (1ull << bit);
}

static bool has_protocol_feature(const struct vu_dev *d, unsigned bit)
{
	return d->protocol_features & (1ull << bit);
}

void vu_dev_set_broken(struct vu_dev *d, const char *why)
{
	if (__atomic_exchange_n(&d->broken, true, __ATOMIC_SEQ_CST))
		return;
	log_err("device broken: %s; queues stopped until the frontend resets the device", why);
	pthread_mutex_lock(&d->err_lock);
	for (unsigned i = 0; i < d->max_queues; i++) {
		int fd = d->queues[i].err_fd;

		if (fd >= 0 && eventfd_write(fd, 1) < 0)
			log_warn("queue %u: cannot signal the error eventfd: %m", i);
	}
	pthread_mutex_unlock(&d->err_lock);
}

bool vu_dev_is_broken(const struct vu_dev *d)
{
	return __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE);
}

static void queues_stop_all(struct vu_dev *d)
{
	for (unsigned i = 0; i < d->max_queues; i++)
		vu_queue_stop(&d->queues[i]);
}

/* Restart every queue that should run; a failure breaks the device. */
static void queues_start_all(struct vu_dev *d)
{
	for (unsigned i = 0; i < d->max_queues; i++) {
		if (vu_queue_start(d, &d->queues[i]) < 0)
			vu_dev_set_broken(d, "cannot restart a queue");
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Back to the state after SET_OWNER: nothing configured, nothing running. */
static void queue_reset(struct vu_queue *q)
{
	vu_queue_stop(q);
	vu_queue_drop_deferred(q);
	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	pthread_mutex_lock(&q->dev->err_lock);
	close_fd(&q->err_fd);
	pthread_mutex_unlock(&q->dev->err_lock);
	q->num = 0;
	q->base = 0;
	q->addr_set = false;
	q->kicked = false;
	q->fresh = false;
	q->poll_mode = false;
	q->enabled = true;
}

/*
 * The guest's session is over (device reset, or a broken device restarted):
 * drop its state. Every queue is stopped. Late completions the reset itself
 * produced (cancelled lock waits) belong to the old rings: dropped too.
 */
static void dev_session_reset(struct vu_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d->opaque);
	for (unsigned i = 0; i < d->max_queues; i++)
		vu_queue_drop_deferred(&d->queues[i]);
}

static void dev_reset(struct vu_dev *d, const char *how)
{
	if (__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE))
		log_info("device reset by the frontend (%s): serving again once it restarts", how);
	else
		log_info("device reset by the frontend (%s)", how);
	for (unsigned i = 0; i < d->max_queues; i++)
		queue_reset(&d->queues[i]);
	d->features = 0;
	d->status = 0;
	vu_log_clear(&d->log);
	dev_session_reset(d);
	__atomic_store_n(&d->broken, false, __ATOMIC_SEQ_CST);
}

/*
 * A broken device serves again once no ring of the broken incarnation is
 * left: each one was stopped (GET_VRING_BASE) or kicked again after the
 * break. Then the guest's old session is dropped and the new rings start.
 * Called by the control thread after a ring stopped or was kicked.
 */
static void dev_recover(struct vu_dev *d, const char *how)
{
	if (!__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE))
		return;
	for (unsigned i = 0; i < d->max_queues; i++) {
		if (d->queues[i].kicked && !d->queues[i].fresh)
			return;
	}
	log_info("device reset by the frontend (%s): serving again, the guest starts a new session",
		 how);
	/* No queue runs: a ring kicked while broken was not started. */
	dev_session_reset(d);
	for (unsigned i = 0; i < d->max_queues; i++)
		d->queues[i].fresh = false;
	__atomic_store_n(&d->broken, false, __ATOMIC_SEQ_CST);
	queues_start_all(d);
}

/* Stop ring @q until its next SET_VRING_KICK; its next avail index stays in q->base. */
static void queue_halt(struct vu_queue *q)
{
	vu_queue_stop(q);
	q->kicked = false;
	q->fresh = false;
	close_fd(&q->kick_fd);
}

int vu_dev_init(struct vu_dev *d, int sock, unsigned max_queues, const struct vu_dev_ops *ops,
		void *opaque)
{
	memset(d, 0, sizeof(*d));
	if (max_queues < 1 || max_queues > VU_MAX_QUEUES)
		return -EINVAL;
	d->sock = sock;
	vu_backend_init(&d->backend);
	d->max_queues = max_queues;
	d->ops = ops;
	d->opaque = opaque;
	pthread_mutex_init(&d->err_lock, NULL);
	vu_mem_init(&d->mem);
	vu_log_init(&d->log);
	vu_state_init(&d->state);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vu_queue *q = &d->queues[i];

		q->dev = d;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = -1;
		q->enabled = true;
		pthread_mutex_init(&q->lock, NULL);
		vu_mem_reader_register(&d->mem, &q->compl_reader); /* 17 of 128 slots: cannot fail */
		q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->wake_fd < 0) {
			int err = -errno;

			while (i--)
				close(d->queues[i].wake_fd);
			return err;
		}
	}
	return 0;
}

/* One line per queue that served anything: how the load spread, how polling did. */
static void queues_log_totals(const struct vu_dev *d)
{
	for (unsigned i = 0; i < d->max_queues; i++) {
		const struct vu_queue *q = &d->queues[i];

		if (q->served)
			log_info("queue %u: %llu requests served, %llu found by polling, %llu sleeps, "
				 "%llu polls cut short by a busy CPU",
				 i, (unsigned long long)q->served,
				 (unsigned long long)q->poll_caught,
				 (unsigned long long)q->poll_slept,
				 (unsigned long long)q->poll_preempted);
	}
}

void vu_dev_fini(struct vu_dev *d)
{
	for (unsigned i = 0; i < d->max_queues; i++)
		queue_reset(&d->queues[i]);
	queues_log_totals(d);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		close_fd(&d->queues[i].wake_fd);
		pthread_mutex_destroy(&d->queues[i].lock);
		vu_mem_reader_unregister(&d->mem, d->queues[i].compl_reader);
	}
	vu_backend_fini(&d->backend);
	vu_state_fini(&d->state);
	vu_log_clear(&d->log);
	vu_mem_fini(&d->mem);
	pthread_mutex_destroy(&d->err_lock);
}

/* Check the payload size and fd count a request must carry. */
static int expect(const struct vhost_user_msg *msg, size_t size, unsigned nfds, unsigned want_fds)
{
	if (msg->hdr.size != size) {
		log_err("vhost-user: %s with %u payload bytes, expected %zu",
			vhost_user_request_name(msg->hdr.request), msg->hdr.size, size);
		return -EINVAL;
	}
	if (nfds != want_fds) {
		log_err("vhost-user: %s with %u fds, expected %u", vhost_user_request_name(msg->hdr.request),
			nfds, want_fds);
		return -EINVAL;
	}
	return 0;
}

/* SET_FEATURES/SET_PROTOCOL_FEATURES: a u64 with only bits we offered. */
static int feature_bits(const struct vhost_user_msg *msg, unsigned nfds, uint64_t offered)
{
	int err = expect(msg, sizeof(uint64_t), nfds, 0);

	if (!err && (msg->payload.u64 & ~offered)) {
		log_err("vhost-user: %s 0x%llx has bits we did not offer (0x%llx)",
			vhost_user_request_name(msg->hdr.request),
			(unsigned long long)msg->payload.u64, (unsigned long long)offered);
		err = -EINVAL;
	}
	return err;
}

static int get_queue(struct vu_dev *d, uint64_t index, struct vu_queue **out)
{
	if (index >= d->max_queues) {
		log_err("vhost-user: queue index %llu out of range (%u queues)",
			(unsigned long long)index, d->max_queues);
		return -EINVAL;
	}
	*out = &d->queues[index];
	return 0;
}

/*
 * A per-ring request: @size payload bytes, no fds, ring @index in range;
 * with @stopped, the ring must not be running (its layout is about to change).
 */
static int vring_msg(struct vu_dev *d, const struct vhost_user_msg *msg, unsigned nfds,
		     size_t size, uint64_t index, bool stopped, struct vu_queue **q)
{
	int err = expect(msg, size, nfds, 0);

	if (!err)
		err = get_queue(d, index, q);
	if (!err && stopped && (*q)->running) {
		log_err("queue %u: %s while running", (*q)->index,
			vhost_user_request_name(msg->hdr.request));
		err = -EBUSY;
	}
	return err;
}

static int set_mem_table(struct vu_dev *d, const struct vhost_user_msg *msg, int *fds,
			 unsigned nfds)
{
	struct vhost_user_memory mem;
	const struct vhost_user_memory *m = &mem;
	int err = 0;

	memcpy(&mem, &msg->payload.memory, sizeof(mem)); /* aligned copy of the packed payload */
	if (msg->hdr.size < offsetof(struct vhost_user_memory, regions) ||
	    m->nregions > VHOST_USER_MEMORY_MAX_NREGIONS ||
	    msg->hdr.size < offsetof(struct vhost_user_memory, regions) +
				    m->nregions * sizeof(m->regions[0]) ||
	    nfds != m->nregions) {
		log_err("vhost-user: SET_MEM_TABLE with %u regions, %u fds, %u bytes", m->nregions,
			nfds, msg->hdr.size);
		return -EINVAL;
	}
	queues_stop_all(d);
	vu_mem_clear(&d->mem);
	for (unsigned i = 0; i < m->nregions && !err; i++)
		err = vu_mem_add(&d->mem, &m->regions[i], fds[i]);
	if (err)
		vu_mem_clear(&d->mem);
	queues_start_all(d);
	return err;
}

static int set_vring_fd(struct vu_dev *d, const struct vhost_user_msg *msg, int *fds,
			unsigned nfds)
{
	uint64_t v = msg->payload.u64;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	struct vu_queue *q;
	int err, fd = -1;

	err = expect(msg, sizeof(uint64_t), nfds, nofd ? 0 : 1);
	if (!err)
		err = get_queue(d, v & VHOST_USER_VRING_IDX_MASK, &q);
	if (err)
		return err;
	if (!nofd) {
		fd = fds[0];
		fds[0] = -1; /* taken */
	}
	switch (msg->hdr.request) {
	case VHOST_USER_SET_VRING_KICK:
		/* A new kick fd (re)starts the ring (spec: "ring starts when ... kick"). */
		vu_queue_stop(q);
		close_fd(&q->kick_fd);
		q->kick_fd = fd;
		q->poll_mode = nofd;
		q->kicked = true;
		if (__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE)) {
			/* Kicked after the break: part of a restart, not of the broken rings. */
			q->fresh = true;
			dev_recover(d, "rings restarted");
			return 0;
		}
		return vu_queue_start(d, q);
	case VHOST_USER_SET_VRING_CALL: {
		bool was_running = q->running;

		/* The thread may be writing to the old fd: swap only while it is stopped. */
		vu_queue_stop(q);
		close_fd(&q->call_fd);
		q->call_fd = fd;
		return was_running ? vu_queue_start(d, q) : 0;
	}
	default: { /* SET_VRING_ERR */
		int old;

		pthread_mutex_lock(&d->err_lock);
		old = q->err_fd;
		q->err_fd = fd;
		pthread_mutex_unlock(&d->err_lock);
		close_fd(&old);
		return 0;
	}
	}
}

/* Does the region at @r's gpa (our mapping of it) hold a ring of a running queue? */
static bool region_holds_rings(struct vu_dev *d, const struct vhost_user_mem_region *r)
{
	uint64_t len = 1;
	uintptr_t start, end;
	void *hva;

	if (vu_mem_gpa_to_hva(&d->mem, r->guest_phys_addr, &len, &hva))
		return false;
	/* The size comes from the frontend's message: integer arithmetic, saturated. */
	start = (uintptr_t)hva;
	if (__builtin_add_overflow(start, r->memory_size, &end))
		end = UINTPTR_MAX;
	for (unsigned i = 0; i < d->max_queues; i++) {
		const struct vu_queue *q = &d->queues[i];
		uintptr_t p[3];

		if (!q->running)
			continue;
		p[0] = (uintptr_t)q->vq.desc;
		p[1] = (uintptr_t)q->vq.avail;
		p[2] = (uintptr_t)q->vq.used;
		for (int k = 0; k < 3; k++) {
			if (p[k] >= start && p[k] < end)
				return true;
		}
	}
	return false;
}

static int mem_reg(struct vu_dev *d, const struct vhost_user_msg *msg, int *fds, unsigned nfds)
{
	struct vhost_user_mem_reg reg;
	const struct vhost_user_mem_region *r = &reg.region;
	int err;

	memcpy(&reg, &msg->payload.mem_reg, sizeof(reg)); /* aligned copy of the packed payload */
	if (msg->hdr.size != sizeof(struct vhost_user_mem_reg)) {
		log_err("vhost-user: %s with %u payload bytes", vhost_user_request_name(msg->hdr.request),
			msg->hdr.size);
		return -EINVAL;
	}
	if (msg->hdr.request == VHOST_USER_ADD_MEM_REG && nfds != 1) {
		log_err("vhost-user: ADD_MEM_REG with %u fds", nfds);
		return -EINVAL;
	}
	/*
	 * No queue stops for this (see vu_dev.h): requests in flight keep the old
	 * table until they finish. Only a region that holds a running ring is
	 * different: the ring pointers were translated once, at start.
	 */
	if (msg->hdr.request == VHOST_USER_ADD_MEM_REG) {
		err = vu_mem_add(&d->mem, r, fds[0]);
	} else {
		bool rings = region_holds_rings(d, r);

		if (rings)
			queues_stop_all(d);
		err = vu_mem_remove(&d->mem, r);
		if (err == -ENOENT)
			log_err("vhost-user: REM_MEM_REG of an unknown region gpa=0x%llx",
				(unsigned long long)r->guest_phys_addr);
		if (rings)
			queues_start_all(d);
	}
	return err;
}

/* Live migration: the dirty log and the device state (vu_log.c, vu_state.c). */
static int vu_dev_migration_msg(struct vu_dev *d, const struct vhost_user_msg *msg, int *fds,
				unsigned nfds, struct vhost_user_msg *reply, bool *has_reply)
{
	uint32_t req = msg->hdr.request;
	int err;

	switch (req) {
	case VHOST_USER_SET_LOG_BASE:
		if (!has_protocol_feature(d, VHOST_USER_PROTOCOL_F_LOG_SHMFD)) {
			log_err("vhost-user: SET_LOG_BASE without LOG_SHMFD");
			return -EINVAL;
		}
		err = expect(msg, sizeof(struct vhost_user_log), nfds, 1);
		if (err)
			return err;
		/* Queue threads mark the log without a lock: swap it while they are stopped. */
		queues_stop_all(d);
		err = vu_log_set_base(&d->log, msg->payload.log.mmap_size,
				      msg->payload.log.mmap_offset, fds[0]);
		queues_start_all(d);
		/* With LOG_SHMFD the frontend waits for a reply. */
		*has_reply = true;
		reply->hdr.size = sizeof(uint64_t);
		reply->payload.u64 = err ? 1 : 0;
		return err;
	case VHOST_USER_SET_LOG_FD:
		err = expect(msg, 0, nfds, 1);
		if (err)
			return err;
		queues_stop_all(d);
		close_fd(&d->log.call_fd);
		d->log.call_fd = fds[0];
		fds[0] = -1;
		queues_start_all(d);
		return 0;
	case VHOST_USER_SET_DEVICE_STATE_FD: {
		struct vhost_user_device_state ds;
		int fd;

		*has_reply = true;
		reply->hdr.size = sizeof(uint64_t);
		/* Bits 0-7: error (non-zero); bit 8: we use the fd we were given. */
		reply->payload.u64 = VU_STATE_REPLY_NO_FD | 1;
		err = expect(msg, sizeof(ds), nfds, 1);
		if (err) {
			reply->payload.u64 = VU_STATE_REPLY_NO_FD | vu_state_status(err);
			return err;
		}
		memcpy(&ds, &msg->payload.device_state, sizeof(ds));
		if (ds.direction > VU_STATE_LOAD || ds.phase != VU_STATE_PHASE_STOPPED) {
			log_err("vhost-user: SET_DEVICE_STATE_FD direction %u phase %u not supported",
				ds.direction, ds.phase);
			reply->payload.u64 = VU_STATE_REPLY_NO_FD | vu_state_status(-EINVAL);
			return -EINVAL;
		}
		for (unsigned i = 0; i < d->max_queues; i++) {
			if (d->queues[i].running) {
				log_err("vhost-user: SET_DEVICE_STATE_FD while queue %u runs", i);
				reply->payload.u64 = VU_STATE_REPLY_NO_FD | vu_state_status(-EBUSY);
				return -EBUSY;
			}
		}
		fd = fds[0];
		fds[0] = -1;
		err = vu_state_start(&d->state, d->ops->state, d->opaque, ds.direction, fd);
		reply->payload.u64 = VU_STATE_REPLY_NO_FD | vu_state_status(err);
		return err;
	}
	default: /* CHECK_DEVICE_STATE */
		err = expect(msg, 0, nfds, 0);
		*has_reply = true;
		reply->hdr.size = sizeof(uint64_t);
		if (!err)
			err = vu_state_check(&d->state, d->ops->state, d->opaque);
		reply->payload.u64 = vu_state_status(err);
		return err;
	}
}

/*
 * GET_CONFIG: {offset, size, flags} plus size bytes; we answer the same
 * window of our config space (zeros past its end). A failure is a reply
 * with no payload (the spec's way; QEMU then reports the error).
 */
static int get_config(struct vu_dev *d, const struct vhost_user_msg *msg, unsigned nfds,
		      struct vhost_user_msg *reply)
{
	struct vhost_user_config c;

	reply->hdr.size = 0;
	if (msg->hdr.size < VHOST_USER_CONFIG_HDR_SIZE || nfds) {
		log_err("vhost-user: GET_CONFIG with %u bytes, %u fds", msg->hdr.size, nfds);
		return -EINVAL;
	}
	memcpy(&c, &msg->payload.config, VHOST_USER_CONFIG_HDR_SIZE);
	if (!d->config_len) {
		log_err("vhost-user: GET_CONFIG but the device has no config space (no --tag)");
		return -EOPNOTSUPP;
	}
	if (c.offset > VHOST_USER_MAX_CONFIG_SIZE || c.size > VHOST_USER_MAX_CONFIG_SIZE - c.offset ||
	    msg->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c.size) {
		log_err("vhost-user: GET_CONFIG offset %u size %u in a %u-byte message", c.offset,
			c.size, msg->hdr.size);
		return -EINVAL;
	}
	reply->payload.config.offset = c.offset;
	reply->payload.config.size = c.size;
	reply->payload.config.flags = 0;
	memcpy(reply->payload.config.region, d->config + c.offset, c.size);
	reply->hdr.size = VHOST_USER_CONFIG_HDR_SIZE + c.size;
	return 0;
}

int vu_dev_dispatch(struct vu_dev *d, struct vhost_user_msg *msg, int *fds, unsigned nfds,
		    struct vhost_user_msg *reply, bool *has_reply)
{
	uint32_t req = msg->hdr.request;
	struct vu_queue *q;
	int err = 0;

	*has_reply = false;
	memset(reply, 0, sizeof(reply->hdr));
	reply->hdr.request = req;
	reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	log_debug("vhost-user: %s (%u), size %u, %u fds", vhost_user_request_name(req), req,
		  msg->hdr.size, nfds);

	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
		err = expect(msg, 0, nfds, 0);
		if (err)
			break;
		*has_reply = true;
		reply->hdr.size = sizeof(uint64_t);
		if (req == VHOST_USER_GET_FEATURES)
			reply->payload.u64 = vu_dev_features();
		else if (req == VHOST_USER_GET_PROTOCOL_FEATURES)
			reply->payload.u64 = vu_dev_offered_protocol_features(d);
		else if (req == VHOST_USER_GET_QUEUE_NUM)
			reply->payload.u64 = d->max_queues;
		else if (req == VHOST_USER_GET_MAX_MEM_SLOTS)
			reply->payload.u64 = VU_MEM_MAX_SLOTS;
		else
			reply->payload.u64 = d->status;
		break;
	case VHOST_USER_SET_FEATURES:
		err = feature_bits(msg, nfds, vu_dev_features());
		if (err)
			break;
		/* Ring layout flags may change: apply them across a restart. */
		queues_stop_all(d);
		d->features = msg->payload.u64;
		d->log.enabled = vu_dev_has_feature(d, VHOST_F_LOG_ALL);
		queues_start_all(d);
		break;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		err = feature_bits(msg, nfds, vu_dev_offered_protocol_features(d));
		if (!err) {
			__atomic_store_n(&d->protocol_features, msg->payload.u64, __ATOMIC_RELAXED);
			vu_backend_set_reply_ack(&d->backend,
						 has_protocol_feature(d, VHOST_USER_PROTOCOL_F_REPLY_ACK));
		}
		break;
	case VHOST_USER_SET_OWNER:
		err = expect(msg, 0, nfds, 0);
		if (!err)
			d->owner = true;
		break;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		err = expect(msg, 0, nfds, 0);
		if (!err)
			dev_reset(d, vhost_user_request_name(req));
		break;
	case VHOST_USER_SET_MEM_TABLE:
		err = set_mem_table(d, msg, fds, nfds);
		break;
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		if (!has_protocol_feature(d, VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
			log_err("vhost-user: %s without CONFIGURE_MEM_SLOTS", vhost_user_request_name(req));
			err = -EINVAL;
			break;
		}
		err = mem_reg(d, msg, fds, nfds);
		break;
	case VHOST_USER_SET_VRING_NUM:
		err = vring_msg(d, msg, nfds, sizeof(struct vhost_vring_state),
				msg->payload.state.index, true, &q);
		if (err)
			break;
		if (!msg->payload.state.num || msg->payload.state.num > VQ_MAX_SIZE ||
			   (msg->payload.state.num & (msg->payload.state.num - 1))) {
			log_err("queue %u: bad size %u", q->index, msg->payload.state.num);
			err = -EINVAL;
		} else {
			q->num = msg->payload.state.num;
		}
		break;
	case VHOST_USER_SET_VRING_ADDR:
		/*
		 * Live migration: QEMU sends the same addresses again on a running
		 * ring with VHOST_VRING_F_LOG to start logging (the used ring is
		 * logged by its guest address, vu_log.c). Only a move needs a stop.
		 */
		err = vring_msg(d, msg, nfds, sizeof(struct vhost_vring_addr),
				msg->payload.addr.index, false, &q);
		if (!err && q->running &&
		    (q->desc_qva != msg->payload.addr.desc_user_addr ||
		     q->avail_qva != msg->payload.addr.avail_user_addr ||
		     q->used_qva != msg->payload.addr.used_user_addr)) {
			log_err("queue %u: SET_VRING_ADDR moves a running ring", q->index);
			err = -EBUSY;
		}
		if (err)
			break;
		q->desc_qva = msg->payload.addr.desc_user_addr;
		q->avail_qva = msg->payload.addr.avail_user_addr;
		q->used_qva = msg->payload.addr.used_user_addr;
		q->addr_set = true;
		break;
	case VHOST_USER_SET_VRING_BASE:
		err = vring_msg(d, msg, nfds, sizeof(struct vhost_vring_state),
				msg->payload.state.index, true, &q);
		if (err)
			break;
		if (msg->payload.state.num > UINT16_MAX) {
			log_err("queue %u: base %u out of range", q->index, msg->payload.state.num);
			err = -EINVAL;
		} else {
			q->base = (uint16_t)msg->payload.state.num;
			vu_queue_drop_deferred(q);
		}
		break;
	case VHOST_USER_GET_VRING_BASE:
		err = vring_msg(d, msg, nfds, sizeof(struct vhost_vring_state),
				msg->payload.state.index, false, &q);
		if (err)
			break;
		/*
		 * Stop the ring; it restarts with the next SET_VRING_KICK. Requests
		 * the device model still holds are finished first, while the rings
		 * run: a stopped ring's state may be migrated, and a request popped
		 * but never answered would be lost with it.
		 */
		if (q->running && d->ops->quiesce)
			d->ops->quiesce(d->opaque);
		queue_halt(q);
		*has_reply = true;
		reply->hdr.size = sizeof(struct vhost_vring_state);
		reply->payload.state.index = q->index;
		reply->payload.state.num = q->base;
		dev_recover(d, "every ring stopped");
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		err = set_vring_fd(d, msg, fds, nfds);
		break;
	case VHOST_USER_SET_VRING_ENABLE:
		err = vring_msg(d, msg, nfds, sizeof(struct vhost_vring_state),
				msg->payload.state.index, false, &q);
		if (err)
			break;
		if (msg->payload.state.num > 1) {
			err = -EINVAL;
			break;
		}
		__atomic_store_n(&q->enabled, msg->payload.state.num == 1, __ATOMIC_RELEASE);
		if (q->running)
			eventfd_write(q->wake_fd, 1); /* look at the ring now */
		break;
	case VHOST_USER_SET_BACKEND_REQ_FD:
		err = expect(msg, 0, nfds, 1);
		if (err)
			break;
		vu_backend_set_fd(&d->backend, fds[0]);
		fds[0] = -1;
		break;
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_LOG_FD:
	case VHOST_USER_SET_DEVICE_STATE_FD:
	case VHOST_USER_CHECK_DEVICE_STATE:
		err = vu_dev_migration_msg(d, msg, fds, nfds, reply, has_reply);
		break;
	case VHOST_USER_GET_CONFIG:
		err = get_config(d, msg, nfds, reply);
		*has_reply = true; /* a failure is an empty payload */
		break;
	case VHOST_USER_GET_SHMEM_CONFIG:
		err = expect(msg, 0, nfds, 0);
		if (err)
			break;
		*has_reply = true;
		reply->hdr.size = sizeof(struct vhost_user_shmem_config);
		memset(&reply->payload.shmem_config, 0, sizeof(reply->payload.shmem_config));
		reply->payload.shmem_config.nregions = d->shm_size ? 1 : 0;
		reply->payload.shmem_config.memory_sizes[0] = d->shm_size;
		break;
	case VHOST_USER_SET_STATUS:
		err = expect(msg, sizeof(uint64_t), nfds, 0);
		if (err)
			break;
		if (msg->payload.u64 > UINT8_MAX) {
			err = -EINVAL;
			break;
		}
		d->status = (uint8_t)msg->payload.u64;
		if (d->status == 0 && __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE)) {
			/*
			 * Status 0 is a virtio device reset. A healthy device keeps its
			 * rings (QEMU sends it before GET_VRING_BASE when it merely
			 * pauses the VM); a broken one stops them all and recovers.
			 */
			for (unsigned i = 0; i < d->max_queues; i++)
				queue_halt(&d->queues[i]);
			dev_recover(d, "status reset");
		}
		break;
	default:
		log_err("vhost-user: unsupported request %s (%u)", vhost_user_request_name(req), req);
		err = -EOPNOTSUPP;
		break;
	}
	vu_close_fds(fds, nfds); /* whatever was not taken */
	if (err)
		log_debug("vhost-user: %s failed: %s", vhost_user_request_name(req), strerror(-err));
	return err;
}

int vu_dev_run(struct vu_dev *d, int stop_fd, int listen_fd)
{
	struct vhost_user_msg msg, reply;

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = d->sock, .events = POLLIN },
			{ .fd = stop_fd, .events = POLLIN },
			{ .fd = listen_fd, .events = POLLIN },
		};
		int fds[VHOST_USER_MAX_FDS];
		unsigned nfds;
		bool has_reply;
		int err;

		/* poll() ignores entries with a negative fd. */
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents & POLLIN) {
			log_info("stop requested");
			return 0;
		}
		if (pfd[2].revents & POLLIN)
			vu_sock_refuse(listen_fd);
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		err = vu_sock_recv(d->sock, &msg, fds, &nfds);
		if (err == -ECONNRESET) {
			log_info("frontend disconnected");
			return 0;
		}
		if (err) {
			log_err("vhost-user: cannot read message: %s", strerror(-err));
			return err;
		}
		err = vu_dev_dispatch(d, &msg, fds, nfds, &reply, &has_reply);
		if (!has_reply && (msg.hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
		    has_protocol_feature(d, VHOST_USER_PROTOCOL_F_REPLY_ACK)) {
			/* REPLY_ACK: zero for success, non-zero for failure. */
			has_reply = true;
			reply.hdr.size = sizeof(uint64_t);
			reply.payload.u64 = err ? 1 : 0;
		}
		if (has_reply) {
			err = vu_sock_send(d->sock, &reply, NULL, 0);
			if (err) {
				log_err("vhost-user: cannot send reply: %s", strerror(-err));
				return err;
			}
		}
	}
}
