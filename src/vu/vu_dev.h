/* SPDX-License-Identifier: MIT */
/*
 * vhost-user backend device: the state a frontend (QEMU, cloud-hypervisor,
 * our test frontend) configures over the socket, and one thread per started
 * queue that pops requests and hands them to the device model (FUSE, via
 * struct vu_dev_ops). Knows nothing of FUSE.
 *
 * Threads and locking: the control thread (vu_dev_run/vu_dev_dispatch) owns
 * all configuration. It changes a running queue only after stopping the
 * queue threads concerned (they finish the request in hand first), so the
 * request path takes no lock. Queue threads share only the "broken" flag
 * (atomic). Guest memory regions are added and removed (ADD/REM_MEM_REG)
 * without stopping anything: each queue thread is a vu_mem reader that
 * enters a read section around each request, and a removed region stays
 * mapped until no request that could see it is left (vu_mem.h). This is
 * what keeps DAX from deadlocking: QEMU sends REM_MEM_REG and waits for our
 * ack before it answers the SHMEM_UNMAP a queue thread is waiting for.
 * Worker threads that serve requests off the queue thread must register
 * their own reader and enter/leave a read section around each request.
 *
 * Broken and back: a malformed ring (or a failing handler) marks the whole
 * device broken: every queue stops serving, the error eventfds are
 * signalled and the reason is logged once. The device serves again once
 * the frontend has reset it, which is what QEMU does when the guest reboots
 * or reloads its driver: every ring that ran while it broke was stopped
 * (GET_VRING_BASE; rings kicked again since are fine), or RESET_OWNER /
 * RESET_DEVICE, or SET_STATUS 0. The guest's session ended with the old
 * rings: ops->reset drops its state, and the new rings start clean.
 */
#ifndef VUFS_VU_DEV_H
#define VUFS_VU_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"
#include "vq.h"
#include "vu_backend.h"
#include "vu_log.h"
#include "vu_mem.h"
#include "vu_state.h"

/* Queues we offer (GET_QUEUE_NUM): virtio-fs hiprio + request queues. */
#define VU_MAX_QUEUES 17

struct vu_dev;

#define VU_HANDLE_ASYNC 1

/* A late completion waiting for its queue to run again. */
struct vu_deferred {
	struct vu_deferred *next;
	uint16_t head;
	size_t len;
	unsigned char reply[];
};

struct vu_dev_ops {
	/*
	 * Serve one chain popped from queue @qidx. @ctx is the queue thread's
	 * context from thread_init. Set *@written to the bytes written into the
	 * chain's writable part and return 0; or return VU_HANDLE_ASYNC to keep
	 * the chain (elem->head) and finish it later with vu_dev_complete from
	 * any thread; or a negative errno if the device can no longer work (it
	 * is then marked broken).
	 */
	int (*handle)(void *opaque, void *ctx, unsigned qidx, struct vq_elem *elem,
		      uint32_t *written);
	/* Per-thread context for a starting queue thread (NULL allowed). */
	void *(*thread_init)(void *opaque, unsigned qidx);
	void (*thread_fini)(void *opaque, void *ctx);
	/* The frontend reset the device (RESET_OWNER/RESET_DEVICE); queues are stopped. */
	void (*reset)(void *opaque);
	/*
	 * A ring is about to stop (GET_VRING_BASE): finish every request kept
	 * with VU_HANDLE_ASYNC now (NULL: none are kept for long).
	 */
	void (*quiesce)(void *opaque);
	/* Live migration: save and load the device state (NULL: not migratable). */
	const struct vu_state_ops *state;
};

struct vu_queue {
	struct vu_dev *dev;
	unsigned index;

	/* Configuration, owned by the control thread. */
	unsigned num;
	uint64_t desc_qva, avail_qva, used_qva;
	uint16_t base; /* next avail index when the queue (re)starts */
	int kick_fd;   /* -1: none; poll_mode: driver gave "no fd" */
	bool poll_mode;
	int call_fd;
	int err_fd;
	bool addr_set;
	bool kicked;  /* got SET_VRING_KICK: the queue should run */
	bool fresh;   /* kicked while the device was broken: part of the frontend's restart */
	bool enabled; /* SET_VRING_ENABLE; starts true (older frontends never send it) */

	/*
	 * Protects the used ring (push, notify) against late completions from
	 * other threads, @running and @deferred.
	 */
	pthread_mutex_t lock;
	struct vu_deferred *deferred; /* completions that arrived while stopped */
	/* Guest-memory reader for late completions (used under @lock). */
	struct vu_mem_reader *compl_reader;

	/* The running thread, if any. */
	bool running;
	pthread_t thread;
	int wake_fd;  /* eventfd: tells the thread to look at @stop */
	bool stop;    /* atomic */
	struct vq vq; /* owned by the thread while running */

	/* Totals of the thread's past runs (written by it just before it exits). */
	uint64_t served;      /* chains popped */
	uint64_t poll_caught; /* chains that adaptive polling found */
	uint64_t poll_slept;  /* times the thread slept on the kick eventfd */
	uint64_t poll_preempted; /* polls cut short because another thread needed the CPU */
};

struct vu_dev {
	int sock;
	struct vu_backend backend; /* SET_BACKEND_REQ_FD channel */
	uint64_t features;
	uint64_t protocol_features;
	uint8_t status;
	bool owner;
	bool broken; /* atomic: a queue found the ring malformed */
	unsigned max_queues;
	struct vu_mem mem;
	struct vu_queue queues[VU_MAX_QUEUES];
	const struct vu_dev_ops *ops;
	void *opaque;
	/* Protects every queue's err_fd: queue threads signal it, the control thread swaps it. */
	pthread_mutex_t err_lock;
	/* Device config space (GET_CONFIG), offered with PROTOCOL_F_CONFIG when set. */
	uint8_t config[VHOST_USER_MAX_CONFIG_SIZE];
	uint32_t config_len;
	/* Shared memory region 0 (GET_SHMEM_CONFIG), offered with PROTOCOL_F_SHMEM when set. */
	uint64_t shm_size;
	/* Request-path tuning, set after vu_dev_init, before vu_dev_run. */
	unsigned pool_size;   /* workers per request queue; 0: serve in the queue thread */
	uint32_t poll_max_ns; /* adaptive polling bound; 0: sleep on the kick fd at once */
	unsigned max_pollers; /* queue threads that may poll at once; 0: any number */
	unsigned pollers;     /* atomic: queue threads polling now */
	struct vu_log log;     /* dirty-page log (live migration), changed with queues stopped */
	struct vu_state state; /* device-state transfer (live migration) */
};

/* Features we offer in GET_FEATURES and GET_PROTOCOL_FEATURES. */
uint64_t vu_dev_features(void);
uint64_t vu_dev_protocol_features(void);

/* Protocol features offered by this device (the above plus CONFIG, SHMEM when set up). */
uint64_t vu_dev_offered_protocol_features(const struct vu_dev *d);

/* Set up @d to serve connected socket @sock (not owned). Returns 0 or -errno. */
int vu_dev_init(struct vu_dev *d, int sock, unsigned max_queues, const struct vu_dev_ops *ops,
		void *opaque);
/* Stop every queue thread and release fds and memory (not the socket). */
void vu_dev_fini(struct vu_dev *d);

/*
 * Serve the connection until the frontend disconnects (returns 0), @stop_fd
 * becomes readable (a signalfd or eventfd: returns 0), or the stream breaks
 * (negative errno). One frontend at a time: connections arriving on
 * @listen_fd (-1: none) meanwhile are accepted, logged and closed.
 */
int vu_dev_run(struct vu_dev *d, int stop_fd, int listen_fd);

/*
 * Handle one received message; @fds (ownership taken: each used fd is kept,
 * the rest closed). If the message has a reply, it is built in @reply and
 * *@has_reply set. Returns 0 or a negative errno (the request failed; with
 * REPLY_ACK the caller reports it to the frontend).
 */
int vu_dev_dispatch(struct vu_dev *d, struct vhost_user_msg *msg, int *fds, unsigned nfds,
		    struct vhost_user_msg *reply, bool *has_reply);

/*
 * Finish a chain that ops->handle left pending (VU_HANDLE_ASYNC), from any
 * thread: @reply (@len bytes, copied) goes into the chain's writable part.
 * If the queue is stopped for a reconfiguration the completion waits and is
 * pushed when it restarts; if the ring is reset it is dropped.
 */
void vu_dev_complete(struct vu_dev *d, unsigned qidx, uint16_t head, const void *reply,
		     size_t len);

/*
 * Before vu_dev_run: the device's config space (@len <= VHOST_USER_MAX_CONFIG_SIZE,
 * answered to GET_CONFIG) and the size of its shared memory region 0
 * (GET_SHMEM_CONFIG; 0 = none). Returns 0 or -EINVAL.
 */
int vu_dev_set_config(struct vu_dev *d, const void *config, size_t len);
void vu_dev_set_shm_size(struct vu_dev *d, uint64_t size);

/*
 * Send a request on the backend channel and wait for its status (see
 * vu_backend.h), from any thread. -EOPNOTSUPP unless the frontend
 * negotiated BACKEND_REQ (and BACKEND_SEND_FD when @fd >= 0).
 */
int vu_dev_backend_request(struct vu_dev *d, uint32_t req, const void *payload, uint32_t size,
			   int fd);
/* Did the frontend negotiate virtio/vhost feature @bit (SET_FEATURES)? */
bool vu_dev_has_feature(const struct vu_dev *d, unsigned bit);
/* Did the frontend negotiate protocol feature @bit? */
bool vu_dev_has_protocol_feature(const struct vu_dev *d, unsigned bit);

/*
 * Mark the device broken (log @why once, signal every error eventfd);
 * queues stop processing until the frontend resets the device.
 */
void vu_dev_set_broken(struct vu_dev *d, const char *why);

/* Whether the device is broken (for tests and diagnostics). */
bool vu_dev_is_broken(const struct vu_dev *d);


#endif /* VUFS_VU_DEV_H */
