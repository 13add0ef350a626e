/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side (virtio 1.x, 2.7): pop descriptor chains the
 * driver made available, push used elements back, decide whether to notify.
 *
 * Everything in the rings is written by the guest and read here exactly
 * once per field (READ_ONCE-style) before it is checked and used. A chain
 * that breaks the rules (index out of range, loop, nested or malformed
 * indirect table, readable after writable, address outside guest memory,
 * too long) makes vq_pop return -EPROTO (logged); the caller marks the
 * device broken and stops the queue.
 *
 * Not internally locked: one thread pops and pushes a given queue at a time.
 */
#ifndef VUFS_VQ_H
#define VUFS_VQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

struct vu_mem;
struct vu_log;

/* Largest queue the virtio spec allows; QEMU's vhost-user-fs caps at 1024. */
#define VQ_MAX_SIZE 32768
/*
 * iovecs one element may hold (readable + writable). A chain has at most
 * queue-size descriptors; a descriptor crossing a region boundary needs more
 * than one iovec, so allow headroom. A chain that needs more is rejected.
 */
#define VQ_MAX_IOV 2048
/* Sum of a chain's buffer lengths we accept (a 1 MiB write plus headers). */
#define VQ_MAX_CHAIN_BYTES (64u << 20)

struct vq {
	/* Set up by vq_setup; fixed while a thread uses the queue. */
	uint16_t num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__virtio16 *used_event;  /* driver's "notify me at" (end of avail ring) */
	__virtio16 *avail_event; /* ours: "kick me at" (end of used ring) */
	const struct vu_mem *mem;
	bool event_idx;
	bool indirect;
	/* Dirty log (live migration): set by the owner after vq_setup, NULL if none. */
	struct vu_log *log;

	/* Ring state, owned by the thread that runs the queue. */
	uint16_t last_avail_idx; /* next avail entry to pop */
	uint16_t used_idx;       /* our shadow of used->idx */
	uint16_t signalled_used; /* used_idx when we last notified */
	bool signalled_used_valid;
	bool kicks_off;          /* vq_kicks_disable: the driver is told not to kick */
};

/* A popped chain: where its readable and writable bytes live, in order. */
struct vq_elem {
	uint16_t head;     /* id to push back */
	unsigned in_cnt;   /* readable (driver→device) iovecs: in_iov[0..in_cnt) */
	unsigned out_cnt;  /* writable (device→driver) iovecs: in_iov[in_cnt..] */
	size_t in_len;     /* readable bytes */
	size_t out_len;    /* writable bytes */
	struct iovec iov[VQ_MAX_IOV];
};

static inline struct iovec *vq_elem_out(struct vq_elem *e)
{
	return e->iov + e->in_cnt;
}

/*
 * Point @q at a ring of @num entries whose parts are at @desc, @avail and
 * @used (host pointers already checked to cover the whole ring parts).
 * @base is the first avail index to pop (SET_VRING_BASE); the used index is
 * read from the ring so a restarted queue carries on where it stopped.
 */
void vq_setup(struct vq *q, uint16_t num, void *desc, void *avail, void *used,
	      const struct vu_mem *mem, uint16_t base, bool event_idx, bool indirect);

/* Byte sizes of the three ring parts for @num entries (event-idx fields included). */
uint64_t vq_desc_size(unsigned num);
uint64_t vq_avail_size(unsigned num);
uint64_t vq_used_size(unsigned num);

/*
 * Pop the next available chain into @e.
 * Returns 1 with @e filled, 0 if the ring is empty (with event idx, after
 * asking the driver to kick on the next addition), or -EPROTO if the ring
 * or the chain is malformed (logged; the queue must not be used again).
 */
int vq_pop(struct vq *q, struct vq_elem *e);

/*
 * Finish chain @head later than it was popped (an asynchronous request):
 * walk it again (the guest may have changed it: it is checked as on pop),
 * copy @len bytes of @reply into its writable part and push it.
 * Returns 0, -ENOSPC if the reply does not fit (pushed with 0 bytes), or
 * -EPROTO if the chain is now malformed (not pushed).
 */
int vq_complete_chain(struct vq *q, uint16_t head, const void *reply, size_t len);

/*
 * Kick suppression while the device polls the ring (virtio 1.x, 2.7.10):
 * vq_kicks_disable tells the driver not to kick (VRING_USED_F_NO_NOTIFY, or
 * under event idx an avail_event the driver has already passed) and makes
 * vq_pop stop asking for kicks. vq_kicks_enable asks for a kick on the next
 * addition again and then looks at the ring once more (after a full
 * barrier): it returns true if a chain arrived meanwhile, which the caller
 * must pop before it sleeps, or no kick may ever come for it.
 */
void vq_kicks_disable(struct vq *q);
bool vq_kicks_enable(struct vq *q);

/* Whether the driver made a chain available that we have not popped (one relaxed read). */
bool vq_avail_pending(const struct vq *q);

/*
 * Walk chain @e->head again into @e (another thread, another view of guest
 * memory): checked as on pop. Returns 0 or -EPROTO (logged).
 */
int vq_rewalk(struct vq *q, struct vq_elem *e);

/* Return chain @head to the driver with @len bytes written into it. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool vq_should_notify(struct vq *q);

#endif /* VUFS_VQ_H */
