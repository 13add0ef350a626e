// SPDX-License-Identifier: MIT
/*
 * Driver half of a split virtqueue (virtio 1.x, 2.7): descriptor table and
 * avail ring written here, used ring read (and distrusted) here.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fe_priv.h"

static uint16_t *used_event_ptr(struct fe_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static uint16_t *avail_event_ptr(struct fe_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static struct fe_vq *get_vq(struct fe *fe, unsigned int q)
{
	if (q >= fe->opts.nqueues || q >= FE_MAX_QUEUES || !fe->vq[q].desc)
		return NULL;
	return &fe->vq[q];
}

int fe_vq_init(struct fe *fe, unsigned int q)
{
	struct fe_vq *vq = &fe->vq[q];
	unsigned int num = fe->opts.queue_size;

	memset(vq, 0, sizeof(*vq));
	vq->index = q;
	vq->num = num;
	vq->kickfd = -1;
	vq->callfd = -1;
	vq->desc = fe_guest_alloc(fe, sizeof(struct vring_desc) * num);
	vq->avail = fe_guest_alloc(fe, sizeof(uint16_t) * (3 + num));
	vq->used = fe_guest_alloc(fe, sizeof(uint16_t) * 3 + sizeof(struct vring_used_elem) * num);
	vq->next = calloc(num, sizeof(*vq->next));
	vq->slots = calloc(num, sizeof(*vq->slots));
	if (!vq->desc || !vq->avail || !vq->used || !vq->next || !vq->slots)
		return fe_err(fe, -ENOMEM, "queue %u: cannot allocate rings", q);
	memset(vq->desc, 0, sizeof(struct vring_desc) * num);
	memset(vq->avail, 0, sizeof(uint16_t) * (3 + num));
	memset(vq->used, 0, sizeof(uint16_t) * 3 + sizeof(struct vring_used_elem) * num);
	for (unsigned int i = 0; i < num; i++)
		vq->next[i] = (uint16_t)((i + 1) % num);
	vq->free_head = 0;
	vq->nfree = num;
	vq->avail_idx = vq->kicked_idx = vq->last_used = fe->opts.ring_base;
	vq->avail->idx = fe->opts.ring_base;
	vq->used->idx = fe->opts.ring_base;
	*used_event_ptr(vq) = fe->opts.ring_base;
	/* Device-owned, but the device has not written it yet: make the first kick go through. */
	*avail_event_ptr(vq) = fe->opts.ring_base;
	vq->force_kick = true;
	vq->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kickfd < 0 || vq->callfd < 0)
		return fe_err(fe, -errno, "queue %u: eventfd: %s", q, strerror(errno));
	return 0;
}

void fe_vq_fini(struct fe *fe, unsigned int q)
{
	struct fe_vq *vq = &fe->vq[q];

	if (vq->kickfd >= 0)
		close(vq->kickfd);
	if (vq->callfd >= 0)
		close(vq->callfd);
	free(vq->next);
	free(vq->slots);
	/* The rings and indirect tables are guest memory, unmapped with it. */
	memset(vq, 0, sizeof(*vq));
	vq->kickfd = -1;
	vq->callfd = -1;
}

int fe_vq_renew(struct fe *fe, unsigned int q)
{
	struct fe_vq *vq = &fe->vq[q];

	/* The device stopped using them: give the guest memory back. */
	for (unsigned int i = 0; vq->slots && i < vq->num; i++) {
		if (vq->slots[i].indirect)
			fe_guest_free(fe, vq->slots[i].indirect);
	}
	if (vq->desc)
		fe_guest_free(fe, vq->desc);
	if (vq->avail)
		fe_guest_free(fe, vq->avail);
	if (vq->used)
		fe_guest_free(fe, vq->used);
	fe_vq_fini(fe, q);
	return fe_vq_init(fe, q);
}

/* Number of descriptors buffer [addr, addr+len) needs when cut at seg-aligned GPAs. */
static unsigned int pieces(uint64_t gpa, uint32_t len, uint32_t seg)
{
	uint64_t first, last;

	if (seg == 0)
		return 1;
	first = gpa / seg;
	last = (gpa + len - 1) / seg;
	return (unsigned int)(last - first + 1);
}

struct chain_writer {
	struct vring_desc *table;	/* indirect table, or NULL for the ring */
	unsigned int pos;
	unsigned int total;
	uint16_t cur;			/* ring: current descriptor index */
};

static void put_desc(struct fe_vq *vq, struct chain_writer *w, uint64_t gpa, uint32_t len,
		     uint16_t flags)
{
	bool last = w->pos + 1 == w->total;
	struct vring_desc *d;

	if (w->table) {
		d = &w->table[w->pos];
		d->next = last ? 0 : (uint16_t)(w->pos + 1);
	} else {
		d = &vq->desc[w->cur];
		d->next = last ? 0 : vq->next[w->cur];
	}
	d->addr = gpa;
	d->len = len;
	d->flags = flags | (last ? 0 : VRING_DESC_F_NEXT);
	if (!w->table)
		w->cur = vq->next[w->cur];
	w->pos++;
}

int fe_vq_add(struct fe *fe, unsigned int q, const struct fe_sg *sg,
	      unsigned int n_out, unsigned int n_in, void *token)
{
	struct fe_vq *vq = get_vq(fe, q);
	uint32_t seg = fe->opts.seg_size;
	unsigned int total = 0, n = n_out + n_in;
	uint64_t writable = 0;
	struct chain_writer w = { 0 };
	bool indirect;
	uint16_t head;

	if (!vq)
		return -EINVAL;
	if (fe->broken)
		return fe->broken;
	if (n == 0)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t gpa;

		if (sg[i].len == 0)
			return fe_err(fe, -EINVAL, "queue %u: zero-length buffer %u", q, i);
		if (fe_guest_gpa(fe, sg[i].addr, sg[i].len, &gpa) < 0)
			return fe_err(fe, -EFAULT, "queue %u: buffer %u (%u bytes) is not in guest memory",
				      q, i, sg[i].len);
		total += pieces(gpa, sg[i].len, seg);
		if (i >= n_out)
			writable += sg[i].len;
	}
	if (total > vq->num)
		return fe_err(fe, -E2BIG, "queue %u: chain of %u descriptors exceeds the queue size %u",
			      q, total, vq->num);
	if (writable > UINT32_MAX)
		return -E2BIG;
	indirect = fe->indirect && (fe->opts.indirect == FE_INDIRECT_ALWAYS ||
				    (fe->opts.indirect == FE_INDIRECT_AUTO && total > 1));
	if (vq->nfree < (indirect ? 1 : total))
		return -EAGAIN;

	w.total = total;
	if (indirect) {
		w.table = fe_guest_alloc(fe, total * sizeof(struct vring_desc));
		if (!w.table)
			return fe_err(fe, -ENOMEM, "queue %u: no guest memory for an indirect table", q);
	}
	head = vq->free_head;
	w.cur = head;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t flags = i >= n_out ? VRING_DESC_F_WRITE : 0;
		uint8_t *p = sg[i].addr;
		uint32_t left = sg[i].len;

		while (left) {
			uint64_t gpa;
			uint32_t chunk = left;

			fe_guest_gpa(fe, p, left, &gpa);
			if (seg && (gpa % seg) + chunk > seg)
				chunk = seg - (uint32_t)(gpa % seg);
			put_desc(vq, &w, gpa, chunk, flags);
			p += chunk;
			left -= chunk;
		}
	}
	if (indirect) {
		uint64_t tgpa;

		fe_guest_gpa(fe, w.table, total * sizeof(struct vring_desc), &tgpa);
		vq->desc[head].addr = tgpa;
		vq->desc[head].len = total * sizeof(struct vring_desc);
		vq->desc[head].flags = VRING_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
		vq->free_head = vq->next[head];
		vq->nfree--;
		vq->slots[head].ndesc = 1;
	} else {
		vq->free_head = w.cur;
		vq->nfree -= total;
		vq->slots[head].ndesc = (uint16_t)total;
	}
	vq->slots[head].token = token;
	vq->slots[head].busy = true;
	vq->slots[head].writable = (uint32_t)writable;
	vq->slots[head].indirect = w.table;
	vq->inflight++;

	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	/* Descriptors and the ring entry must be visible before the index. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	vq->st.added++;
	return head;
}

int fe_vq_kick(struct fe *fe, unsigned int q, bool force)
{
	struct fe_vq *vq = get_vq(fe, q);
	uint16_t old, new;
	bool need;
	uint64_t one = 1;

	if (!vq)
		return -EINVAL;
	/* Publish avail->idx before reading the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = vq->kicked_idx;
	new = vq->avail_idx;
	vq->kicked_idx = new;
	if (fe->event_idx)
		need = vring_need_event(__atomic_load_n(avail_event_ptr(vq), __ATOMIC_ACQUIRE), new, old);
	else
		need = !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY);
	if (vq->force_kick) {
		need = true;
		vq->force_kick = false;
	}
	if (!need && !force) {
		vq->st.kicks_suppressed++;
		return 0;
	}
	if (write(vq->kickfd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
		return fe_err(fe, -errno, "queue %u: kick: %s", q, strerror(errno));
	vq->st.kicks++;
	return 0;
}

static void free_chain(struct fe *fe, struct fe_vq *vq, uint16_t head)
{
	struct fe_vq_slot *s = &vq->slots[head];
	uint16_t last = head;

	for (unsigned int i = 1; i < s->ndesc; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = head;
	vq->nfree += s->ndesc;
	if (s->indirect)
		fe_guest_free(fe, s->indirect);
	memset(s, 0, sizeof(*s));
	vq->inflight--;
}

static bool vq_pending(struct fe_vq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used;
}

int fe_vq_get(struct fe *fe, unsigned int q, void **token, uint32_t *len)
{
	struct fe_vq *vq = get_vq(fe, q);
	struct vring_used_elem e;
	uint16_t used_idx, ahead;

	if (!vq)
		return -EINVAL;
	if (fe->broken)
		return fe->broken;
	used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	if (used_idx == vq->last_used)
		return 0;
	ahead = (uint16_t)(used_idx - vq->last_used);
	if (ahead > vq->inflight)
		return fe_fail(fe, -EPROTO,
			       "queue %u: device moved used->idx from %u to %u but only %u chains are in flight",
			       q, vq->last_used, used_idx, vq->inflight);
	e.id = __atomic_load_n(&vq->used->ring[vq->last_used % vq->num].id, __ATOMIC_RELAXED);
	e.len = __atomic_load_n(&vq->used->ring[vq->last_used % vq->num].len, __ATOMIC_RELAXED);
	if (e.id >= vq->num || !vq->slots[e.id].busy)
		return fe_fail(fe, -EPROTO, "queue %u: used element %u has id %u, which is not an exposed head",
			       q, vq->last_used, e.id);
	if (e.len > vq->slots[e.id].writable)
		return fe_fail(fe, -EPROTO,
			       "queue %u: used element for head %u claims %u bytes written, chain has %u writable",
			       q, e.id, e.len, vq->slots[e.id].writable);
	*token = vq->slots[e.id].token;
	*len = e.len;
	free_chain(fe, vq, (uint16_t)e.id);
	vq->last_used++;
	vq->st.used++;
	if (fe->event_idx)
		__atomic_store_n(used_event_ptr(vq), vq->last_used, __ATOMIC_RELEASE);
	return 1;
}

int fe_vq_wait(struct fe *fe, unsigned int q, int timeout_ms)
{
	struct pollfd pfd[FE_MAX_QUEUES + 1];
	unsigned int qs[FE_MAX_QUEUES];
	unsigned int nq = 0, nfd;
	uint64_t deadline = fe_deadline(fe, timeout_ms);

	if (fe->broken)
		return fe->broken;
	for (unsigned int i = 0; i < fe->opts.nqueues; i++) {
		if ((q == FE_ANY_QUEUE || q == i) && get_vq(fe, i))
			qs[nq++] = i;
	}
	if (nq == 0)
		return -EINVAL;
	for (;;) {
		int ms, r;
		bool hup = false;

		for (unsigned int i = 0; i < nq; i++) {
			struct fe_vq *vq = &fe->vq[qs[i]];

			if (vq_pending(vq))
				return 0;
			if (fe->event_idx)
				__atomic_store_n(used_event_ptr(vq), vq->last_used, __ATOMIC_RELEASE);
		}
		/* Re-check after publishing used_event: the device may have just missed it. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (unsigned int i = 0; i < nq; i++)
			if (vq_pending(&fe->vq[qs[i]]))
				return 0;

		if (fe->opts.spin_us) {
			uint64_t until = fe_now_ns() + fe->opts.spin_us * 1000ull;

			do {
				for (unsigned int i = 0; i < nq; i++)
					if (vq_pending(&fe->vq[qs[i]]))
						return 0;
			} while (fe_now_ns() < until);
		}

		nfd = 0;
		for (unsigned int i = 0; i < nq; i++) {
			pfd[nfd].fd = fe->vq[qs[i]].callfd;
			pfd[nfd].events = POLLIN;
			pfd[nfd].revents = 0;
			nfd++;
		}
		if (fe->sock >= 0) {
			pfd[nfd].fd = fe->sock;
			pfd[nfd].events = POLLRDHUP;
			pfd[nfd].revents = 0;
			nfd++;
		}
		ms = fe_ms_left(deadline);
		r = poll(pfd, nfd, ms);
		if (r < 0 && errno != EINTR)
			return fe_err(fe, -errno, "poll: %s", strerror(errno));
		for (unsigned int i = 0; i < nq; i++) {
			if (pfd[i].revents & POLLIN) {
				uint64_t v;

				if (read(pfd[i].fd, &v, sizeof(v)) == sizeof(v))
					fe->vq[qs[i]].st.calls++;
			}
		}
		if (fe->sock >= 0 && (pfd[nq].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			hup = true;
		for (unsigned int i = 0; i < nq; i++)
			if (vq_pending(&fe->vq[qs[i]]))
				return 0;
		if (hup)
			return fe_err(fe, -ECONNRESET, "backend closed the vhost-user connection");
		if (r == 0 && fe_ms_left(deadline) == 0) {
			if (q == FE_ANY_QUEUE)
				return fe_err(fe, -ETIMEDOUT, "no used buffer on any queue within the timeout");
			return fe_err(fe, -ETIMEDOUT, "no used buffer on queue %u within the timeout", q);
		}
	}
}

void fe_vq_forget_token(struct fe *fe, unsigned int q, const void *token)
{
	struct fe_vq *vq = get_vq(fe, q);

	if (!vq || !token)
		return;
	for (unsigned int i = 0; i < vq->num; i++)
		if (vq->slots[i].busy && vq->slots[i].token == token)
			vq->slots[i].token = NULL;
}

unsigned int fe_vq_inflight(const struct fe *fe, unsigned int q)
{
	return q < FE_MAX_QUEUES ? fe->vq[q].inflight : 0;
}

unsigned int fe_vq_free_descs(const struct fe *fe, unsigned int q)
{
	return q < FE_MAX_QUEUES ? fe->vq[q].nfree : 0;
}

int fe_vq_raw(struct fe *fe, unsigned int q, struct fe_vq_raw *raw)
{
	struct fe_vq *vq = get_vq(fe, q);

	if (!vq)
		return -EINVAL;
	raw->num = vq->num;
	raw->desc = vq->desc;
	raw->avail = vq->avail;
	raw->used = vq->used;
	raw->kickfd = vq->kickfd;
	raw->callfd = vq->callfd;
	return 0;
}

int fe_vq_raw_push(struct fe *fe, unsigned int q, uint16_t head)
{
	struct fe_vq *vq = get_vq(fe, q);

	if (!vq)
		return -EINVAL;
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	vq->st.added++;
	return 0;
}

int fe_vq_raw_get(struct fe *fe, unsigned int q, struct vring_used_elem *elem, int timeout_ms)
{
	struct fe_vq *vq = get_vq(fe, q);
	bool was_broken;
	int broken, err;

	if (!vq)
		return -EINVAL;
	/* Wait even if the connection is marked broken: raw users expect misbehaviour. */
	was_broken = fe->broken != 0;
	broken = fe->broken;
	fe->broken = 0;
	err = vq_pending(vq) ? 0 : fe_vq_wait(fe, q, timeout_ms);
	if (was_broken)
		fe->broken = broken;
	if (err)
		return err;
	elem->id = __atomic_load_n(&vq->used->ring[vq->last_used % vq->num].id, __ATOMIC_RELAXED);
	elem->len = __atomic_load_n(&vq->used->ring[vq->last_used % vq->num].len, __ATOMIC_RELAXED);
	vq->last_used++;
	vq->st.used++;
	if (fe->event_idx)
		__atomic_store_n(used_event_ptr(vq), vq->last_used, __ATOMIC_RELEASE);
	return 0;
}

int fe_vq_stats(const struct fe *fe, unsigned int q, struct fe_vq_stats *st)
{
	if (q >= fe->opts.nqueues || q >= FE_MAX_QUEUES)
		return -EINVAL;
	*st = fe->vq[q].st;
	return 0;
}
