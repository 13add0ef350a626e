/* SPDX-License-Identifier: MIT */
/*
 * libvufsfe: a test front-end for vhost-user-fs backends.
 *
 * It plays both halves of a virtual machine that would normally sit in
 * front of a virtio-fs daemon:
 *
 *  - the VMM (QEMU's vhost-user-fs-pci): it spawns the backend process,
 *    connects to its UNIX socket, negotiates features, shares "guest
 *    memory" (a memfd) and sets up the virtqueues, like QEMU 7.2 does;
 *  - the guest driver: it owns the driver side of the split virtqueues
 *    (descriptor table, avail ring; the device fills the used ring), puts
 *    buffers in guest memory, kicks and waits for the call eventfd.
 *
 * The FUSE layer built on top lives in fe_fuse.h.
 *
 * Conventions: every function returning int returns 0 (or a documented
 * non-negative value) on success and a negative errno on failure. The
 * backend is the thing under test: everything read from it (vhost-user
 * replies, used ring entries, FUSE replies) is bounds-checked, and nothing
 * waits forever (every wait has a timeout, 10 s by default, after which
 * -ETIMEDOUT is returned). After a failure, fe_strerror() describes it.
 *
 * Transport failures (timeouts, protocol violations by the backend, a
 * closed socket) are sticky: the connection is then marked broken and all
 * further requests fail fast with the same error (see fe_broken()).
 *
 * The library is single-threaded: one struct fe must not be used by two
 * threads at once.
 */
#ifndef VUFS_FE_H
#define VUFS_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/virtio_ring.h>

#include "vhost_user.h"

struct fe;
struct fe_backend;

/* virtio-fs queue layout: queue 0 is the high-priority queue (FORGET), queue 1 the first request queue. */
#define FE_QUEUE_HIPRIO 0u
#define FE_QUEUE_REQUEST 1u
#define FE_MAX_QUEUES 8u

#define FE_DEFAULT_TIMEOUT_MS 10000
#define FE_DEFAULT_MEM_SIZE (256ull << 20)
#define FE_DEFAULT_QUEUE_SIZE 128u
#define FE_DEFAULT_SEG_SIZE (64u << 10)

/* How fe_vq_add() lays out a chain (struct fe_opts.indirect). */
enum fe_indirect_mode {
	FE_INDIRECT_AUTO = 0,	/* indirect for chains of 2+ buffers when negotiated (what Linux does) */
	FE_INDIRECT_NEVER,	/* always direct chains */
	FE_INDIRECT_ALWAYS,	/* always indirect, even 1 buffer; fe_vu_setup() fails if not negotiated */
};

/* Connection options; fill with fe_opts_default() then adjust. */
struct fe_opts {
	uint64_t mem_size;		/* guest memory bytes (default 256 MiB, multiple of 2 MiB) */
	unsigned int mem_regions;	/* 1 or 2: with 2, the memfd is split into two regions mapped separately,
					 * the second at a discontiguous guest-physical address (4 GiB up) */
	bool add_mem_reg;		/* share memory with ADD_MEM_REG instead of SET_MEM_TABLE
					 * (fe_vu_setup() fails with -EOPNOTSUPP without CONFIGURE_MEM_SLOTS) */
	unsigned int nqueues;		/* queues to set up: 2 = hiprio + one request queue (default) */
	unsigned int queue_size;	/* descriptors per queue, power of two (default 128) */
	uint64_t feature_mask;		/* virtio/vhost feature bits we accept if the backend offers them
					 * (default VERSION_1 | INDIRECT_DESC | EVENT_IDX | PROTOCOL_FEATURES) */
	uint64_t protocol_mask;		/* protocol features we accept (default MQ | REPLY_ACK | CONFIGURE_MEM_SLOTS) */
	bool ack_all;			/* with REPLY_ACK: set NEED_REPLY on every message without a reply (default true) */
	enum fe_indirect_mode indirect;
	uint32_t seg_size;		/* split buffers into descriptors at seg_size-aligned guest-physical
					 * boundaries (power of two >= 512; 0 = one descriptor per buffer) */
	int timeout_ms;			/* bound on every wait (default 10 s) */
	unsigned int spin_us;		/* busy-poll the used ring this long before sleeping on the
					 * call eventfd (default 0: always sleep) */
	uint16_t ring_base;		/* initial avail/used index of every ring (default 0; e.g. 65500
					 * makes the 16-bit indices wrap within a few hundred requests) */
};

void fe_opts_default(struct fe_opts *opts);

/* ---- Connection lifecycle ---------------------------------------------- */

/*
 * fe_create - allocate a front-end: guest memory (memfd, mapped), rings,
 * eventfds. No socket yet. Returns 0 or -errno; *out is set on success.
 */
int fe_create(const struct fe_opts *opts, struct fe **out);

/*
 * fe_connect - connect to a vhost-user socket, retrying while it does not
 * exist yet or refuses connections, for at most timeout_ms.
 */
int fe_connect(struct fe *fe, const char *sock_path, int timeout_ms);

/*
 * fe_vu_setup - the QEMU 7.2 vhost-user-fs handshake: GET_FEATURES,
 * GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM (MQ), GET_MAX_MEM_SLOTS
 * (CONFIGURE_MEM_SLOTS), SET_OWNER, SET_FEATURES, SET_MEM_TABLE or
 * ADD_MEM_REG, then per queue SET_VRING_NUM/BASE/ADDR/KICK/CALL and
 * SET_VRING_ENABLE(1). Honours REPLY_ACK.
 */
int fe_vu_setup(struct fe *fe);

/* fe_open - fe_create() + fe_connect() + fe_vu_setup(). opts may be NULL (defaults). */
int fe_open(const char *sock_path, const struct fe_opts *opts, struct fe **out);

/* fe_set_spin - change opts.spin_us of an open connection (how long waits busy-poll first). */
void fe_set_spin(struct fe *fe, unsigned int spin_us);

/* fe_disconnect - close the vhost-user socket (the backend normally exits); memory stays mapped. */
void fe_disconnect(struct fe *fe);

/* fe_close - disconnect and free everything (NULL is fine). */
void fe_close(struct fe *fe);

/* fe_broken - 0 while the connection is usable, else the sticky transport error. */
int fe_broken(const struct fe *fe);

/* fe_strerror - description of the last failure on this connection (never NULL). */
const char *fe_strerror(const struct fe *fe);

/* Negotiated state after fe_vu_setup(). */
uint64_t fe_features(const struct fe *fe);		/* acked virtio/vhost features */
uint64_t fe_backend_features(const struct fe *fe);	/* what GET_FEATURES offered */
uint64_t fe_protocol_features(const struct fe *fe);	/* acked protocol features */
uint64_t fe_backend_protocol_features(const struct fe *fe);
uint64_t fe_queue_num(const struct fe *fe);		/* GET_QUEUE_NUM, 0 if not asked */
uint64_t fe_max_mem_slots(const struct fe *fe);		/* GET_MAX_MEM_SLOTS, 0 if not asked */
const struct fe_opts *fe_get_opts(const struct fe *fe);
int fe_timeout(const struct fe *fe);
int fe_socket_fd(const struct fe *fe);

/* ---- Raw vhost-user ---------------------------------------------------- */

/*
 * fe_vu_send - send one vhost-user message. flags go on the wire verbatim
 * (normally VHOST_USER_VERSION, maybe | VHOST_USER_NEED_REPLY_MASK), size
 * is the payload length (up to 4096, may disagree with the request), fds
 * (at most VHOST_USER_MAX_FDS) ride as SCM_RIGHTS. If reply is not NULL,
 * wait for a reply header that has the REPLY flag and the same request
 * code and store it (payload up to sizeof(reply->payload); *reply_size gets
 * the payload length). Returns 0 or -errno (-ETIMEDOUT without reply,
 * -EPROTO on a malformed reply, -ECONNRESET if the backend hung up).
 * Raw sends never mark the connection broken.
 */
int fe_vu_send(struct fe *fe, uint32_t request, uint32_t flags,
	       const void *payload, uint32_t size, const int *fds, unsigned int nfds,
	       struct vhost_user_msg *reply, uint32_t *reply_size);

/* fe_vu_send_bytes - write arbitrary bytes (+ fds) on the socket, e.g. a truncated header. */
int fe_vu_send_bytes(struct fe *fe, const void *buf, size_t len, const int *fds, unsigned int nfds);

/* fe_vu_request - typed helper: send request with a payload; if it has no natural reply and
 * REPLY_ACK is on, wait for the ack (non-zero ack: -EIO). */
int fe_vu_request(struct fe *fe, uint32_t request, const void *payload, uint32_t size,
		  const int *fds, unsigned int nfds);

/* fe_vu_get_u64 - GET_FEATURES / GET_PROTOCOL_FEATURES / GET_QUEUE_NUM / GET_MAX_MEM_SLOTS. */
int fe_vu_get_u64(struct fe *fe, uint32_t request, uint64_t *val);

/*
 * fe_vu_ring_stop - GET_VRING_BASE: stop queue q; *base gets the backend's
 * next avail index. Requests still in flight stay in flight.
 */
int fe_vu_ring_stop(struct fe *fe, unsigned int q, uint32_t *base);

/*
 * fe_vu_ring_start - (re)start queue q as QEMU does when it starts a device:
 * SET_VRING_NUM, SET_VRING_BASE(base), SET_VRING_ADDR, SET_VRING_KICK,
 * SET_VRING_CALL and SET_VRING_ENABLE(1) (with PROTOCOL_FEATURES).
 */
int fe_vu_ring_start(struct fe *fe, unsigned int q, uint32_t base);

/* fe_vu_ring_enable - SET_VRING_ENABLE(q, enable). */
int fe_vu_ring_enable(struct fe *fe, unsigned int q, bool enable);

/* How fe_vu_reset() resets the device before starting it again. */
enum fe_reset_mode {
	/* QEMU 7.2 when the guest reboots or reloads its driver: SET_VRING_ENABLE(0) (with
	 * PROTOCOL_FEATURES) and GET_VRING_BASE on every ring. */
	FE_RESET_RINGS = 0,
	/* The same preceded by SET_STATUS(0) (a virtio device reset); the new start ends with
	 * SET_STATUS(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK). Sent even if
	 * VHOST_USER_PROTOCOL_F_STATUS was not negotiated. */
	FE_RESET_STATUS,
	/* RESET_DEVICE, then the new start. */
	FE_RESET_DEVICE,
	/* RESET_OWNER, then SET_OWNER and the new start. */
	FE_RESET_OWNER,
};

/*
 * fe_vu_reset - reset the device as a VMM does when its guest reboots
 * (mode above), then start it again like a freshly loaded driver would:
 * SET_FEATURES (what was negotiated), SET_MEM_TABLE (not with add_mem_reg:
 * the regions stay), and for every queue fresh rings (new guest memory,
 * new kick and call eventfds, indices at opts.ring_base) with
 * SET_VRING_NUM/BASE/ADDR/KICK/CALL and SET_VRING_ENABLE(1). Chains in
 * flight are abandoned: they are never used (a FUSE call among them never
 * completes; do not wait for it). The FUSE layer is not initialised
 * afterwards: send FUSE_INIT next (fe_reset_device() in fe_fuse.h does).
 */
int fe_vu_reset(struct fe *fe, enum fe_reset_mode mode);

/* ---- Guest memory ------------------------------------------------------ */

/*
 * fe_guest_alloc - allocate size bytes of guest memory (page granular,
 * page aligned, zeroed on first use only). Returns a pointer in the
 * front-end's mapping or NULL when full. Buffers passed to the FUSE layer
 * that already lie in guest memory are used in place (zero copy).
 */
void *fe_guest_alloc(struct fe *fe, size_t size);
void fe_guest_free(struct fe *fe, void *ptr);

/* fe_guest_contains - whether [ptr, ptr+len) lies inside one guest memory region. */
bool fe_guest_contains(const struct fe *fe, const void *ptr, size_t len);

/* fe_guest_gpa - guest-physical address of ptr; -EFAULT unless [ptr, ptr+len) is inside one region. */
int fe_guest_gpa(const struct fe *fe, const void *ptr, size_t len, uint64_t *gpa);

/* fe_guest_ptr - front-end pointer for guest-physical [gpa, gpa+len), or NULL. */
void *fe_guest_ptr(const struct fe *fe, uint64_t gpa, size_t len);

/* fe_guest_region - describe region i (0-based); -ENOENT past the last one. */
int fe_guest_region(const struct fe *fe, unsigned int i, uint64_t *gpa, uint64_t *size,
		    void **host, uint64_t *mmap_offset);

/* fe_guest_memfd - the memfd backing guest memory (owned by fe). */
int fe_guest_memfd(const struct fe *fe);

/* ---- Virtqueue driver -------------------------------------------------- */

/* One buffer of a chain; addr must lie inside guest memory. */
struct fe_sg {
	void *addr;
	uint32_t len;
};

/*
 * fe_vq_add - expose a chain: sg[0..n_out) device-readable, then
 * sg[n_out..n_out+n_in) device-writable, each buffer split at seg_size
 * boundaries, direct or indirect per opts.indirect. token comes back from
 * fe_vq_get(). Does not kick. Returns the head descriptor index (>= 0),
 * -EAGAIN if not enough free descriptors right now, -E2BIG if the chain can
 * never fit, -EFAULT if a buffer is not in guest memory.
 */
int fe_vq_add(struct fe *fe, unsigned int q, const struct fe_sg *sg,
	      unsigned int n_out, unsigned int n_in, void *token);

/* fe_vq_kick - notify the device if it asked for it (EVENT_IDX / NO_NOTIFY), or always if force. */
int fe_vq_kick(struct fe *fe, unsigned int q, bool force);

/*
 * fe_vq_get - take one used element off queue q without blocking: returns 1
 * and fills *token and *len, 0 if none is pending, or -EPROTO if the device
 * wrote a bad used entry (unknown id, len beyond the writable space, index
 * jump beyond the ring size).
 */
int fe_vq_get(struct fe *fe, unsigned int q, void **token, uint32_t *len);

/*
 * fe_vq_wait - block until queue q (or, with q == FE_ANY_QUEUE, any queue)
 * has a pending used element or the deadline passes (-ETIMEDOUT). Detects a
 * hung-up backend (-ECONNRESET). timeout_ms < 0 means the connection default.
 */
#define FE_ANY_QUEUE (~0u)
int fe_vq_wait(struct fe *fe, unsigned int q, int timeout_ms);

/* fe_vq_inflight - number of chains exposed and not yet used. */
unsigned int fe_vq_inflight(const struct fe *fe, unsigned int q);

/* fe_vq_free_descs - free descriptors in queue q's table. */
unsigned int fe_vq_free_descs(const struct fe *fe, unsigned int q);

/*
 * Low-level access for hostile tests. The rings live in guest memory and
 * can be scribbled on freely; the driver keeps its own shadow state (free
 * list, indices) outside of it. Only build raw chains while the queue is
 * idle (fe_vq_inflight() == 0), using descriptor indices of your choice.
 */
struct fe_vq_raw {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kickfd;
	int callfd;
};
int fe_vq_raw(struct fe *fe, unsigned int q, struct fe_vq_raw *raw);

/* fe_vq_raw_push - publish head in the avail ring (and bump avail->idx); untracked, no kick. */
int fe_vq_raw_push(struct fe *fe, unsigned int q, uint16_t head);

/* fe_vq_raw_get - wait for and consume the next used element without any validation. */
int fe_vq_raw_get(struct fe *fe, unsigned int q, struct vring_used_elem *elem, int timeout_ms);

/* Driver counters for queue q. */
struct fe_vq_stats {
	uint64_t added;
	uint64_t used;
	uint64_t kicks;
	uint64_t kicks_suppressed;
	uint64_t calls;		/* call eventfd wake-ups */
};
int fe_vq_stats(const struct fe *fe, unsigned int q, struct fe_vq_stats *st);

/* ---- Backend processes ------------------------------------------------- */

/*
 * fe_backend_template - resolve a backend spec to an argv template: a
 * built-in name ("vufsd", "legacy", "rust") or a template that contains
 * "{socket}" (whitespace-separated words; "{socket}" and "{dir}" are
 * replaced inside words). "vufsd" uses $VUFSD, else ../src/vufsd or
 * ../../src/vufsd next to the running executable. Returns a malloc'ed
 * string or NULL (unknown name: errno = ENOENT).
 */
char *fe_backend_template(const char *spec);

/*
 * fe_backend_start - spawn a backend from tmpl in its own process group
 * (killed if we die), stdout/stderr to a log file in a private temp dir,
 * socket in that dir; share_dir is the exported directory. Waits up to
 * timeout_ms for the socket to appear (fails early if the process exits).
 */
int fe_backend_start(const char *tmpl, const char *share_dir, int timeout_ms,
		     struct fe_backend **out);

const char *fe_backend_socket(const struct fe_backend *be);
const char *fe_backend_log(const struct fe_backend *be);
pid_t fe_backend_pid(const struct fe_backend *be);

/* fe_backend_alive - 0 while running, -ECHILD once it has exited (status recorded). */
int fe_backend_alive(struct fe_backend *be);

/*
 * fe_backend_wait - wait up to timeout_ms for the backend to exit on its
 * own. Returns 0 if it exited with status 0, -ETIMEDOUT if still running,
 * -ECHILD if it exited non-zero or was killed by a signal.
 */
int fe_backend_wait(struct fe_backend *be, int timeout_ms);

/*
 * fe_backend_stop - SIGTERM, wait up to timeout_ms, then SIGKILL its process
 * group. Returns 0 if it exited with 0 or died from our SIGTERM/SIGKILL,
 * -ECHILD if it exited non-zero or crashed by another signal.
 */
int fe_backend_stop(struct fe_backend *be, int timeout_ms);

/* fe_backend_describe - "running", "exited with status 0", "killed by signal 11 (Segmentation fault)". */
const char *fe_backend_describe(const struct fe_backend *be, char *buf, size_t len);

/* fe_backend_dump_log - copy the last max_bytes of the backend's log to stderr. */
void fe_backend_dump_log(const struct fe_backend *be, size_t max_bytes);

/* fe_backend_free - stop it if still running, remove its temp dir (never the share). */
void fe_backend_free(struct fe_backend *be);

/* ---- Helpers ----------------------------------------------------------- */

/* fe_now_ns - CLOCK_MONOTONIC in nanoseconds. */
uint64_t fe_now_ns(void);

/* fe_rm_rf - remove a directory tree (does not follow symlinks). */
int fe_rm_rf(const char *path);

/*
 * Live migration (frontend/migrate.c), as QEMU drives it.
 * fe_vu_log_start - SET_LOG_BASE with @log_fd (@size bytes: one bit per 4 KiB
 *   guest-physical page), then SET_FEATURES with VHOST_F_LOG_ALL added.
 * fe_vu_log_stop - SET_FEATURES without VHOST_F_LOG_ALL.
 * fe_vu_state_save - SET_DEVICE_STATE_FD(save) over a pipe, read to end of
 *   file, CHECK_DEVICE_STATE. Stop the rings first. *buf is malloc()ed.
 * fe_vu_state_load - SET_DEVICE_STATE_FD(load), write @len bytes, close,
 *   CHECK_DEVICE_STATE (-EIO if the backend refused the state).
 * fe_vu_state_check - CHECK_DEVICE_STATE alone.
 */
int fe_vu_log_start(struct fe *fe, int log_fd, uint64_t size);
int fe_vu_log_stop(struct fe *fe);
int fe_vu_state_save(struct fe *fe, uint8_t **buf, size_t *len);
int fe_vu_state_load(struct fe *fe, const uint8_t *buf, size_t len);
int fe_vu_state_check(struct fe *fe);

#endif /* VUFS_FE_H */
