// SPDX-License-Identifier: MIT
#include "vu_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct vu_pool {
	struct vu_pool_cfg cfg;
	pthread_mutex_t lock;
	pthread_cond_t work;  /* a job was queued, or stop */
	pthread_cond_t freed; /* a slot came back */
	/* protected by lock: */
	struct vq_elem **queue; /* FIFO of jobs: queue[(head + i) % slots], i < queued */
	unsigned head, queued;
	struct vq_elem **free_slots; /* stack of nfree free slots */
	unsigned nfree;
	bool stop;
	/* fixed after start: */
	struct vq_elem *elems; /* the slots */
	pthread_t *threads;
	unsigned nthreads;
};

static void *worker(void *arg)
{
	struct vu_pool *p = arg;
	void *ctx = p->cfg.init ? p->cfg.init(p->cfg.arg) : NULL;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct vq_elem *e;

		while (!p->queued && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->queued)
			break; /* stop, and every job is served */
		e = p->queue[p->head];
		p->head = (p->head + 1) % p->cfg.slots;
		p->queued--;
		pthread_mutex_unlock(&p->lock);

		p->cfg.run(p->cfg.arg, ctx, e);

		pthread_mutex_lock(&p->lock);
		p->free_slots[p->nfree++] = e;
		pthread_cond_signal(&p->freed);
	}
	pthread_mutex_unlock(&p->lock);
	if (p->cfg.fini)
		p->cfg.fini(p->cfg.arg, ctx);
	return NULL;
}

static void pool_free(struct vu_pool *p)
{
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->elems);
	free(p->free_slots);
	free(p->queue);
	free(p);
}

int vu_pool_start(const struct vu_pool_cfg *cfg, struct vu_pool **out)
{
	struct vu_pool *p;
	int err = -ENOMEM;

	if (!cfg->workers || cfg->slots < cfg->workers || !cfg->run)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->freed, NULL);
	p->queue = calloc(cfg->slots, sizeof(*p->queue));
	p->free_slots = calloc(cfg->slots, sizeof(*p->free_slots));
	p->elems = calloc(cfg->slots, sizeof(*p->elems));
	p->threads = calloc(cfg->workers, sizeof(*p->threads));
	if (!p->queue || !p->free_slots || !p->elems || !p->threads)
		goto fail;
	for (unsigned i = 0; i < cfg->slots; i++)
		p->free_slots[p->nfree++] = &p->elems[i];
	for (; p->nthreads < cfg->workers; p->nthreads++) {
		int r = pthread_create(&p->threads[p->nthreads], NULL, worker, p);

		if (r) {
			log_err("cannot start a pool worker: %s", strerror(r));
			err = -r;
			goto fail;
		}
	}
	*out = p;
	return 0;
fail:
	if (p->nthreads) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->lock);
		while (p->nthreads)
			pthread_join(p->threads[--p->nthreads], NULL);
	}
	pool_free(p);
	return err;
}

struct vq_elem *vu_pool_get(struct vu_pool *p)
{
	struct vq_elem *e;

	pthread_mutex_lock(&p->lock);
	while (!p->nfree)
		pthread_cond_wait(&p->freed, &p->lock);
	e = p->free_slots[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return e;
}

void vu_pool_put(struct vu_pool *p, struct vq_elem *elem)
{
	pthread_mutex_lock(&p->lock);
	p->free_slots[p->nfree++] = elem;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void vu_pool_submit(struct vu_pool *p, struct vq_elem *elem)
{
	pthread_mutex_lock(&p->lock);
	p->queue[(p->head + p->queued) % p->cfg.slots] = elem;
	p->queued++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void vu_pool_stop(struct vu_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	while (p->nthreads)
		pthread_join(p->threads[--p->nthreads], NULL);
	pool_free(p);
}
