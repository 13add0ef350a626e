// SPDX-License-Identifier: MIT
#include "vu_queue.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include <linux/virtio_ring.h>

#include "log.h"
#include "vu_poll.h"
#include "vu_pool.h"

/* How often a queue in "no kick fd" mode looks at its ring. */
#define VU_POLL_MODE_MS 1

static void queue_notify(struct vu_queue *q)
{
	if (q->call_fd < 0)
		return;
	if (eventfd_write(q->call_fd, 1) < 0)
		log_guest(LOG_LVL_WARN, "queue %u: call eventfd write failed: %m", q->index);
}

/* Give a served chain back to the driver; notify it if it wants. Any thread. */
static void queue_finish(struct vu_queue *q, struct vq_elem *elem, uint32_t written)
{
	if (written > elem->out_len)
		written = (uint32_t)elem->out_len;
	/* Live migration: the reply (and READ data) must reach the destination. */
	vu_log_mark_iov(&q->dev->log, &q->dev->mem, vq_elem_out(elem), elem->out_cnt, written);
	pthread_mutex_lock(&q->lock);
	vq_push(&q->vq, elem->head, written);
	if (vq_should_notify(&q->vq))
		queue_notify(q);
	pthread_mutex_unlock(&q->lock);
}

/* Serve one popped chain on this thread (queue thread or pool worker), inside a read section. */
static void queue_serve(struct vu_queue *q, void *ctx, struct vq_elem *elem)
{
	struct vu_dev *d = q->dev;
	uint32_t written = 0;
	int r;

	if (__atomic_load_n(&d->broken, __ATOMIC_RELAXED))
		return;
	r = d->ops->handle(d->opaque, ctx, q->index, elem, &written);
	if (r < 0)
		vu_dev_set_broken(d, "request handler failed");
	else if (r != VU_HANDLE_ASYNC) /* else finished later by vu_dev_complete */
		queue_finish(q, elem, written);
}

/* A pool worker's context: the device model's, and its own guest-memory reader. */
struct pool_ctx {
	void *ctx;
	struct vu_mem_reader *rd;
};

static void *pool_init(void *arg)
{
	struct vu_queue *q = arg;
	struct pool_ctx *pc = calloc(1, sizeof(*pc));

	if (!pc || vu_mem_reader_register(&q->dev->mem, &pc->rd)) {
		free(pc);
		vu_dev_set_broken(q->dev, "no guest-memory reader slot for a pool worker");
		return NULL;
	}
	if (q->dev->ops->thread_init)
		pc->ctx = q->dev->ops->thread_init(q->dev->opaque, q->index);
	return pc;
}

static void pool_fini(void *arg, void *ctx)
{
	struct vu_queue *q = arg;
	struct pool_ctx *pc = ctx;

	if (!pc)
		return;
	if (q->dev->ops->thread_fini)
		q->dev->ops->thread_fini(q->dev->opaque, pc->ctx);
	vu_mem_reader_unregister(&q->dev->mem, pc->rd);
	free(pc);
}

/*
 * The chain was popped in the queue thread's read section, which may have
 * ended: walk it again in ours (checked as on pop: the guest may have
 * changed it) so that its buffers are in the table we now see.
 */
static void pool_run(void *arg, void *ctx, struct vq_elem *elem)
{
	struct vu_queue *q = arg;
	struct pool_ctx *pc = ctx;

	if (!pc)
		return;
	vu_mem_read_enter(pc->rd);
	if (vq_rewalk(&q->vq, elem) < 0)
		vu_dev_set_broken(q->dev, "malformed chain handed to a worker");
	else
		queue_serve(q, pc->ctx, elem);
	vu_mem_read_leave(pc->rd);
	vu_mem_maybe_reclaim(&q->dev->mem);
}

/* What one run of a queue thread works with. */
struct queue_run {
	void *ctx;
	struct vq_elem *elem;  /* inline serving */
	struct vu_pool *pool;  /* or NULL */
	struct vu_poll poll;
	bool polling;          /* adaptive polling configured for this queue */
	uint64_t served;
};

static bool queue_should_pause(struct vu_queue *q)
{
	return __atomic_load_n(&q->dev->broken, __ATOMIC_RELAXED) ||
	       !__atomic_load_n(&q->enabled, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&q->stop, __ATOMIC_RELAXED);
}

/* Pop and serve (or hand to the pool) everything available. Returns false once the device is broken. */
static bool queue_process(struct vu_queue *q, struct queue_run *run)
{
	struct vu_dev *d = q->dev;

	for (;;) {
		struct vq_elem *elem;
		int r;

		if (__atomic_load_n(&d->broken, __ATOMIC_RELAXED))
			return false;
		if (queue_should_pause(q))
			return true;
		elem = run->pool ? vu_pool_get(run->pool) : run->elem;
		r = vq_pop(&q->vq, elem);
		if (r <= 0) {
			if (run->pool)
				vu_pool_put(run->pool, elem);
			if (r < 0)
				vu_dev_set_broken(d, "malformed virtqueue");
			return r == 0;
		}
		run->served++;
		if (run->pool)
			vu_pool_submit(run->pool, elem);
		else
			queue_serve(q, run->ctx, elem);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A spin-wait hint: a sibling hyperthread gets the core meanwhile. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

enum poll_result {
	POLL_FOUND,     /* a chain arrived */
	POLL_TIMEOUT,   /* nothing within the budget */
	POLL_PREEMPTED, /* we lost the CPU meanwhile: someone else needs it */
	POLL_PAUSE,     /* the queue must stop, be disabled, or the device broke */
};

/* Look at the ring for up to @budget ns (kicks are off meanwhile). */
static enum poll_result queue_poll(struct vu_queue *q, uint32_t budget)
{
	uint64_t t = now_ns(), end = t + budget;

	for (;;) {
		uint64_t prev = t;

		for (unsigned i = 0; i < 32; i++) {
			if (vq_avail_pending(&q->vq))
				return POLL_FOUND;
			if (queue_should_pause(q))
				return POLL_PAUSE;
			cpu_relax();
		}
		/* Let whatever else wants this CPU (a vCPU) run first... */
		sched_yield();
		t = now_ns();
		/* ...and if something did, or we were preempted, stop taking its time. */
		if (t - prev >= VU_POLL_PREEMPTED_NS)
			return vq_avail_pending(&q->vq) ? POLL_FOUND : POLL_PREEMPTED;
		if (t >= end)
			return POLL_TIMEOUT;
	}
}

/*
 * Polling burns a CPU: on a small host the guest's vCPUs need most of them.
 * Only max_pollers queue threads poll at the same time; the others sleep.
 */
static bool poller_enter(struct vu_dev *d)
{
	if (__atomic_add_fetch(&d->pollers, 1, __ATOMIC_RELAXED) <= d->max_pollers ||
	    !d->max_pollers)
		return true;
	__atomic_sub_fetch(&d->pollers, 1, __ATOMIC_RELAXED);
	return false;
}

static void poller_leave(struct vu_dev *d)
{
	__atomic_sub_fetch(&d->pollers, 1, __ATOMIC_RELAXED);
}

static void *queue_thread(void *arg)
{
	struct vu_queue *q = arg;
	struct vu_dev *d = q->dev;
	struct queue_run run = { 0 };
	struct vu_mem_reader *rd = NULL;
	uint64_t dry = 0;

	if (vu_mem_reader_register(&d->mem, &rd)) {
		vu_dev_set_broken(d, "no guest-memory reader slot for a queue");
		goto wait_stop;
	}
	if (q->index > 0 && d->pool_size > 0) {
		struct vu_pool_cfg pc = {
			.workers = d->pool_size,
			.slots = 2 * d->pool_size + 8,
			.init = pool_init,
			.fini = pool_fini,
			.run = pool_run,
			.arg = q,
		};

		if (vu_pool_start(&pc, &run.pool) < 0) {
			vu_dev_set_broken(d, "cannot start a queue's worker pool");
			goto wait_stop;
		}
	} else {
		run.elem = malloc(sizeof(*run.elem));
		if (!run.elem) {
			vu_dev_set_broken(d, "out of memory starting a queue");
			goto wait_stop;
		}
		if (d->ops->thread_init)
			run.ctx = d->ops->thread_init(d->opaque, q->index);
	}
	/* FORGETs on the hiprio queue are not worth a core. */
	run.polling = d->poll_max_ns > 0 && !q->poll_mode && q->index > 0;
	vu_poll_init(&run.poll, run.polling ? d->poll_max_ns : 0);
	log_debug("queue %u: thread started (size %u, base %u, %u workers, polling up to %u us)",
		  q->index, q->num, q->base, q->index > 0 ? d->pool_size : 0,
		  run.polling ? d->poll_max_ns / 1000 : 0);

	while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd[2] = {
			{ .fd = q->wake_fd, .events = POLLIN },
			{ .fd = q->kick_fd, .events = POLLIN },
		};
		eventfd_t v;
		int r;

		bool ok, again = false;

		/* Guest pointers (chains, the rings) stay valid until the leave. */
		vu_mem_read_enter(rd);
		/* While we are busy or polling, kicks only cost the driver. */
		if (run.polling)
			vq_kicks_disable(&q->vq);
		ok = queue_process(q, &run);
		if (ok && run.polling && !queue_should_pause(q)) {
			uint32_t budget = vu_poll_budget(&run.poll);

			dry = now_ns();
			if (budget && poller_enter(d)) {
				enum poll_result pr = queue_poll(q, budget);

				poller_leave(d);
				if (pr == POLL_FOUND) {
					vu_poll_caught(&run.poll);
					again = true;
				} else if (pr == POLL_PREEMPTED) {
					vu_poll_preempted(&run.poll);
				}
			}
			/* Ask for a kick, then look once more: a chain added before it would get none. */
			if (!again && vq_kicks_enable(&q->vq))
				again = true;
		}
		vu_mem_read_leave(rd);
		vu_mem_maybe_reclaim(&d->mem);
		if (!ok)
			break;
		if (again)
			continue;
		r = poll(pfd, q->poll_mode ? 1 : 2, q->poll_mode ? VU_POLL_MODE_MS : -1);
		if (r < 0 && errno != EINTR) {
			vu_dev_set_broken(d, "poll on the kick eventfd failed");
			break;
		}
		if (pfd[0].revents & POLLIN)
			eventfd_read(q->wake_fd, &v);
		if (!q->poll_mode && (pfd[1].revents & POLLIN)) {
			eventfd_read(q->kick_fd, &v);
			if (run.polling)
				vu_poll_woke(&run.poll, now_ns() - dry);
		}
		if (!q->poll_mode && (pfd[1].revents & (POLLERR | POLLNVAL))) {
			vu_dev_set_broken(d, "kick eventfd failed");
			break;
		}
	}
	/* Do not leave the driver told not to kick: the ring may restart without us. */
	vu_mem_read_enter(rd);
	vq_kicks_enable(&q->vq);
	vu_mem_read_leave(rd);
	/* Jobs in flight finish before the control thread may touch the ring. */
	if (run.pool)
		vu_pool_stop(run.pool);
wait_stop:
	/* Wait for the stop request so the control thread's join is the only exit path. */
	while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = q->wake_fd, .events = POLLIN };
		eventfd_t v;

		if (poll(&pfd, 1, -1) > 0)
			eventfd_read(q->wake_fd, &v);
	}
	if (run.elem && d->ops->thread_fini)
		d->ops->thread_fini(d->opaque, run.ctx);
	free(run.elem);
	if (rd)
		vu_mem_reader_unregister(&d->mem, rd);
	q->served += run.served;
	q->poll_caught += run.poll.caught;
	q->poll_slept += run.poll.slept;
	q->poll_preempted += run.poll.preempted;
	log_debug("queue %u: thread stopped at avail %u", q->index, q->vq.last_avail_idx);
	return NULL;
}

/* Translate the ring addresses and start the thread. Returns 0 or -errno. */
int vu_queue_start(struct vu_dev *d, struct vu_queue *q)
{
	void *desc, *avail, *used;
	int err;

	if (q->running || !q->kicked || __atomic_load_n(&d->broken, __ATOMIC_RELAXED))
		return 0;
	if (!q->num || !q->addr_set) {
		log_err("queue %u: kicked before its size and addresses were set", q->index);
		return -EINVAL;
	}
	desc = vu_mem_qva_contig(&d->mem, q->desc_qva, vq_desc_size(q->num));
	avail = vu_mem_qva_contig(&d->mem, q->avail_qva, vq_avail_size(q->num));
	used = vu_mem_qva_contig(&d->mem, q->used_qva, vq_used_size(q->num));
	if (!desc || !avail || !used) {
		log_err("queue %u: ring addresses are not in guest memory", q->index);
		return -EFAULT;
	}
	if ((uintptr_t)desc % 16 || (uintptr_t)avail % 2 || (uintptr_t)used % 4) {
		log_err("queue %u: misaligned ring", q->index);
		return -EINVAL;
	}
	pthread_mutex_lock(&q->lock);
	/* num <= VQ_MAX_SIZE (32768) fits in 16 bits. */
	vq_setup(&q->vq, (uint16_t)q->num, desc, avail, used, &d->mem, q->base,
		 vu_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX),
		 vu_dev_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC));
	q->vq.log = &d->log;
	q->stop = false;
	err = pthread_create(&q->thread, NULL, queue_thread, q);
	if (err) {
		pthread_mutex_unlock(&q->lock);
		log_err("queue %u: cannot start thread: %s", q->index, strerror(err));
		return -err;
	}
	q->running = true;
	/* Late completions that arrived while the queue was stopped. */
	if (q->deferred) {
		vu_mem_read_enter(q->compl_reader);
		while (q->deferred) {
			struct vu_deferred *df = q->deferred;

			q->deferred = df->next;
			if (vq_complete_chain(&q->vq, df->head, df->reply, df->len) == -EPROTO)
				vu_dev_set_broken(d, "malformed chain on late completion");
			free(df);
		}
		vu_mem_read_leave(q->compl_reader);
		if (vq_should_notify(&q->vq))
			queue_notify(q);
	}
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Stop the thread after the request in hand; remember where it stopped. */
void vu_queue_stop(struct vu_queue *q)
{
	if (!q->running)
		return;
	__atomic_store_n(&q->stop, true, __ATOMIC_RELEASE);
	eventfd_write(q->wake_fd, 1);
	pthread_join(q->thread, NULL);
	pthread_mutex_lock(&q->lock);
	q->running = false;
	pthread_mutex_unlock(&q->lock);
	q->base = q->vq.last_avail_idx;
}

/* The ring is being redefined: completions for its old chains mean nothing now. */
void vu_queue_drop_deferred(struct vu_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->deferred) {
		struct vu_deferred *df = q->deferred;

		q->deferred = df->next;
		free(df);
	}
	pthread_mutex_unlock(&q->lock);
}

void vu_dev_complete(struct vu_dev *d, unsigned qidx, uint16_t head, const void *reply,
		     size_t len)
{
	struct vu_queue *q;

	if (qidx >= d->max_queues)
		return;
	q = &d->queues[qidx];
	pthread_mutex_lock(&q->lock);
	if (q->running && !__atomic_load_n(&d->broken, __ATOMIC_RELAXED)) {
		int r;

		vu_mem_read_enter(q->compl_reader);
		r = vq_complete_chain(&q->vq, head, reply, len);
		vu_mem_read_leave(q->compl_reader);

		if (r == -EPROTO)
			vu_dev_set_broken(d, "malformed chain on late completion");
		else if (vq_should_notify(&q->vq))
			queue_notify(q);
	} else {
		struct vu_deferred *df = malloc(sizeof(*df) + len);

		if (df) {
			df->head = head;
			df->len = len;
			memcpy(df->reply, reply, len);
			df->next = q->deferred;
			q->deferred = df;
		} else {
			log_err("queue %u: out of memory keeping a late completion", qidx);
		}
	}
	pthread_mutex_unlock(&q->lock);
}
