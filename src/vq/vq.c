// SPDX-License-Identifier: MIT
#include "vq.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iov.h"
#include "vu_log.h"

#include "log.h"
#include "vu_mem.h"

/* Single reads of guest-written fields: the guest may change them at any time. */
#define GUEST_LOAD16(p) le16toh(__atomic_load_n((p), __ATOMIC_RELAXED))
#define GUEST_LOAD32(p) le32toh(__atomic_load_n((p), __ATOMIC_RELAXED))
#define GUEST_LOAD64(p) le64toh(__atomic_load_n((p), __ATOMIC_RELAXED))
#define GUEST_STORE16(p, v) __atomic_store_n((p), htole16(v), __ATOMIC_RELAXED)

uint64_t vq_desc_size(unsigned num)
{
	return 16ull * num;
}

uint64_t vq_avail_size(unsigned num)
{
	/* flags, idx, ring[num], used_event */
	return 4ull + 2ull * num + 2;
}

uint64_t vq_used_size(unsigned num)
{
	/* flags, idx, ring[num] of {id, len}, avail_event */
	return 4ull + 8ull * num + 2;
}

void vq_setup(struct vq *q, uint16_t num, void *desc, void *avail, void *used,
	      const struct vu_mem *mem, uint16_t base, bool event_idx, bool indirect)
{
	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->mem = mem;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail_idx = base;
	/* Event-idx fields sit just past each ring (virtio 1.x, 2.7.7-2.7.10). */
	q->used_event = &q->avail->ring[num];
	q->avail_event = (__virtio16 *)&q->used->ring[num];
	q->used_idx = GUEST_LOAD16(&q->used->idx);
	q->signalled_used_valid = false;
	/* A ring that stopped while we polled it may still say "do not kick": it may kick now. */
	q->kicks_off = true;
	vq_kicks_enable(q);
}

/* Log a write of ours into the used ring (live migration). */
static void log_used(struct vq *q, const void *p, size_t len)
{
	struct iovec v = { .iov_base = (void *)p, .iov_len = len };

	if (vu_log_active(q->log))
		vu_log_mark_iov(q->log, q->mem, &v, 1, len);
}

struct desc_copy {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void desc_read(const struct vring_desc *d, struct desc_copy *c)
{
	c->addr = GUEST_LOAD64(&d->addr);
	c->len = GUEST_LOAD32(&d->len);
	c->flags = GUEST_LOAD16(&d->flags);
	c->next = GUEST_LOAD16(&d->next);
}

/* Append [addr, addr + len) as one or more iovecs (it may cross regions). */
static int map_buffer(struct vq *q, struct vq_elem *e, unsigned *n, uint64_t addr, uint32_t len)
{
	uint64_t left = len;

	while (left) {
		uint64_t chunk = left;
		void *hva;

		if (addr > UINT64_MAX - left) {
			log_guest(LOG_LVL_ERROR, "vq: buffer 0x%llx+%llu wraps",
				  (unsigned long long)addr, (unsigned long long)left);
			return -EPROTO;
		}
		if (vu_mem_gpa_to_hva(q->mem, addr, &chunk, &hva)) {
			log_guest(LOG_LVL_ERROR, "vq: buffer 0x%llx+%llu outside guest memory",
				  (unsigned long long)addr, (unsigned long long)left);
			return -EPROTO;
		}
		if (*n >= VQ_MAX_IOV) {
			log_guest(LOG_LVL_ERROR, "vq: chain needs more than %d iovecs", VQ_MAX_IOV);
			return -EPROTO;
		}
		e->iov[*n].iov_base = hva;
		e->iov[*n].iov_len = chunk;
		(*n)++;
		addr += chunk;
		left -= chunk;
	}
	return 0;
}

/* Walk the chain starting at descriptor @head; fills @e. */
static int walk_chain(struct vq *q, uint16_t head, struct vq_elem *e)
{
	const struct vring_desc *table = q->desc;
	unsigned max = q->num;
	unsigned idx = head;
	unsigned seen = 0;
	unsigned n = 0;
	bool indirect = false;
	bool writable = false;
	uint64_t total = 0;

	e->head = head;
	e->in_cnt = e->out_cnt = 0;
	e->in_len = e->out_len = 0;

	for (;;) {
		struct desc_copy d;

		if (idx >= max) {
			log_guest(LOG_LVL_ERROR, "vq: descriptor index %u out of range %u", idx, max);
			return -EPROTO;
		}
		if (++seen > max) {
			log_guest(LOG_LVL_ERROR, "vq: descriptor chain loops (head %u)", head);
			return -EPROTO;
		}
		desc_read(&table[idx], &d);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect || indirect || (d.flags & VRING_DESC_F_NEXT)) {
				/* Not negotiated, nested, or with a next (virtio 2.7.5.3.1). */
				log_guest(LOG_LVL_ERROR,
					  "vq: misplaced indirect descriptor (head %u flags 0x%x)",
					  head, d.flags);
				return -EPROTO;
			}
			if (!d.len || d.len % sizeof(struct vring_desc) ||
			    d.len / sizeof(struct vring_desc) > VQ_MAX_SIZE) {
				log_guest(LOG_LVL_ERROR, "vq: bad indirect table length %u", d.len);
				return -EPROTO;
			}
			/*
			 * Read the table in place; it must be contiguous in our
			 * mapping (Linux allocates it with kmalloc).
			 */
			table = vu_mem_gpa_contig(q->mem, d.addr, d.len);
			if (!table) {
				log_guest(LOG_LVL_ERROR,
					  "vq: indirect table 0x%llx+%u not in guest memory",
					  (unsigned long long)d.addr, d.len);
				return -EPROTO;
			}
			if ((uintptr_t)table % __alignof__(struct vring_desc)) {
				log_guest(LOG_LVL_ERROR, "vq: misaligned indirect table");
				return -EPROTO;
			}
			/* Direct descriptors before it stay; the table ends the chain. */
			indirect = true;
			max = d.len / sizeof(struct vring_desc);
			idx = 0;
			seen = 0;
			continue;
		}

		if (d.flags & VRING_DESC_F_WRITE) {
			writable = true;
		} else if (writable) {
			log_guest(LOG_LVL_ERROR, "vq: readable descriptor after writable (head %u)",
				  head);
			return -EPROTO;
		}
		total += d.len;
		if (total > VQ_MAX_CHAIN_BYTES) {
			log_guest(LOG_LVL_ERROR, "vq: chain longer than %u bytes", VQ_MAX_CHAIN_BYTES);
			return -EPROTO;
		}
		/* Zero-length buffers carry nothing: skip them, they are harmless. */
		if (d.len) {
			unsigned before = n;
			int r = map_buffer(q, e, &n, d.addr, d.len);

			if (r)
				return r;
			if (writable) {
				e->out_cnt += n - before;
				e->out_len += d.len;
			} else {
				e->in_cnt += n - before;
				e->in_len += d.len;
			}
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int vq_pop(struct vq *q, struct vq_elem *e)
{
	uint16_t avail_idx = GUEST_LOAD16(&q->avail->idx);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail_idx);
	uint16_t head;
	int r;

	if (pending > q->num) {
		log_guest(LOG_LVL_ERROR, "vq: avail index jumped from %u to %u (size %u)",
			  q->last_avail_idx, avail_idx, q->num);
		return -EPROTO;
	}
	if (!pending) {
		if (!q->event_idx || q->kicks_off)
			return 0;
		/* Ask for a kick when more arrives, then look again to close the race. */
		GUEST_STORE16(q->avail_event, q->last_avail_idx);
		log_used(q, q->avail_event, sizeof(*q->avail_event));
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = GUEST_LOAD16(&q->avail->idx);
		pending = (uint16_t)(avail_idx - q->last_avail_idx);
		if (!pending)
			return 0;
		if (pending > q->num) {
			log_guest(LOG_LVL_ERROR, "vq: avail index jumped from %u to %u (size %u)",
				  q->last_avail_idx, avail_idx, q->num);
			return -EPROTO;
		}
	}
	/* The ring entry is valid only after we have seen the index move. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = GUEST_LOAD16(&q->avail->ring[q->last_avail_idx % q->num]);
	r = walk_chain(q, head, e);
	if (r)
		return r;
	q->last_avail_idx++;
	if (q->event_idx) {
		/* With kicks off, trail the index: the driver never crosses it. */
		GUEST_STORE16(q->avail_event, q->kicks_off ? (uint16_t)(q->last_avail_idx - 1)
							   : q->last_avail_idx);
		log_used(q, q->avail_event, sizeof(*q->avail_event));
	}
	return 1;
}

void vq_kicks_disable(struct vq *q)
{
	if (q->kicks_off)
		return;
	q->kicks_off = true;
	if (q->event_idx)
		/*
		 * The driver kicks when its new avail index passes avail_event
		 * (vring_need_event); one behind ours it has already passed, and
		 * it cannot run more than a ring ahead of us to wrap around.
		 */
		GUEST_STORE16(q->avail_event, (uint16_t)(q->last_avail_idx - 1));
	else
		GUEST_STORE16(&q->used->flags,
			      GUEST_LOAD16(&q->used->flags) | VRING_USED_F_NO_NOTIFY);
	log_used(q, q->event_idx ? (void *)q->avail_event : (void *)&q->used->flags, 2);
}

bool vq_kicks_enable(struct vq *q)
{
	if (q->kicks_off) {
		q->kicks_off = false;
		if (q->event_idx)
			GUEST_STORE16(q->avail_event, q->last_avail_idx);
		else
			GUEST_STORE16(&q->used->flags,
				      GUEST_LOAD16(&q->used->flags) & ~VRING_USED_F_NO_NOTIFY);
		log_used(q, q->event_idx ? (void *)q->avail_event : (void *)&q->used->flags, 2);
	}
	/* Our "kick me" must be visible before we look at the index again (store-load). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_avail_pending(q);
}

bool vq_avail_pending(const struct vq *q)
{
	return GUEST_LOAD16(&q->avail->idx) != q->last_avail_idx;
}

int vq_rewalk(struct vq *q, struct vq_elem *e)
{
	if (e->head >= q->num)
		return -EPROTO;
	return walk_chain(q, e->head, e) ? -EPROTO : 0;
}

int vq_complete_chain(struct vq *q, uint16_t head, const void *reply, size_t len)
{
	struct vq_elem *e;
	uint32_t written = 0;
	int err;

	if (head >= q->num)
		return -EPROTO;
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = walk_chain(q, head, e);
	if (!err) {
		if (len <= e->out_len) {
			written = (uint32_t)iov_from_buf(vq_elem_out(e), e->out_cnt, 0, reply, len);
			vu_log_mark_iov(q->log, q->mem, vq_elem_out(e), e->out_cnt, written);
		} else {
			log_guest(LOG_LVL_WARN, "vq: late reply of %zu bytes does not fit in %zu",
				  len, e->out_len);
			err = -ENOSPC;
		}
		vq_push(q, head, written);
	}
	free(e);
	return err == -ENOSPC ? err : (err ? -EPROTO : 0);
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *ue = &q->used->ring[q->used_idx % q->num];

	__atomic_store_n(&ue->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&ue->len, htole32(len), __ATOMIC_RELAXED);
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	GUEST_STORE16(&q->used->idx, q->used_idx);
	log_used(q, ue, sizeof(*ue));
	log_used(q, &q->used->idx, sizeof(q->used->idx));
}

bool vq_should_notify(struct vq *q)
{
	uint16_t old, event;
	bool valid;

	/* Order the used index store before reading the driver's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(GUEST_LOAD16(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);

	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	event = GUEST_LOAD16(q->used_event);
	return vring_need_event(event, q->used_idx, old);
}
