/* SPDX-License-Identifier: MIT */
/*
 * The queue thread of a started virtqueue: pops chains, serves them inline
 * or through the queue's worker pool (vu_pool), polls the avail ring
 * adaptively (vu_poll) before sleeping on the kick eventfd, and pushes
 * used-ring entries and notifies the driver. The control side is vu_dev.c.
 */
#ifndef VUFS_VU_QUEUE_H
#define VUFS_VU_QUEUE_H

#include "vu_dev.h"

/* Translate the ring addresses and start the thread (no-op if not ready). Returns 0 or -errno. */
int vu_queue_start(struct vu_dev *d, struct vu_queue *q);
/* Stop the thread after the request in hand; remember where it stopped. */
void vu_queue_stop(struct vu_queue *q);
/* Drop the late completions kept while the queue was stopped (the ring is being redefined). */
void vu_queue_drop_deferred(struct vu_queue *q);

#endif /* VUFS_VU_QUEUE_H */
