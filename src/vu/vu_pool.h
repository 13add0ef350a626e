/* SPDX-License-Identifier: MIT */
/*
 * Worker pool of one request queue (--thread-pool-size): the queue thread
 * pops chains into job slots and hands them over; the workers serve them,
 * so a slow host operation (fsync of a large dirty file, a long
 * copy_file_range, a slow network share) holds one worker, not the queue.
 * Completions finish in whatever order the workers do.
 *
 * A pool belongs to one queue: its lock is taken only by that queue's
 * thread and workers, never across queues. The number of job slots bounds
 * the requests in flight; when all are taken, vu_pool_get waits for one.
 */
#ifndef VUFS_VU_POOL_H
#define VUFS_VU_POOL_H

#include "vq.h"

struct vu_pool;

struct vu_pool_cfg {
	unsigned workers; /* >= 1 */
	unsigned slots;   /* job slots (requests in flight), >= workers */
	/* Per-worker context (may return NULL); runs on the worker thread. */
	void *(*init)(void *arg);
	void (*fini)(void *arg, void *ctx);
	/* Serve one job; the slot is free again when it returns. */
	void (*run)(void *arg, void *ctx, struct vq_elem *elem);
	void *arg;
};

/* Start the workers. Returns 0 or a negative errno (nothing left running). */
int vu_pool_start(const struct vu_pool_cfg *cfg, struct vu_pool **out);

/* A free job slot, waiting while every slot is in flight. */
struct vq_elem *vu_pool_get(struct vu_pool *p);
/* Give back a slot that vu_pool_get returned and that carries no job. */
void vu_pool_put(struct vu_pool *p, struct vq_elem *elem);
/* Queue a filled slot for the workers. */
void vu_pool_submit(struct vu_pool *p, struct vq_elem *elem);

/* Wait until every job handed over has been served, then end the workers and free @p. */
void vu_pool_stop(struct vu_pool *p);

#endif /* VUFS_VU_POOL_H */
