// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/vu/vu_pool.c: every job handed over is served exactly
 * once, by a worker with its own context, before vu_pool_stop returns; the
 * slots bound what is in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "unit.h"
#include "vu_pool.h"

struct counts {
	unsigned inits, finis;  /* atomic */
	unsigned served;        /* atomic */
	unsigned inflight, max_inflight; /* atomic */
	uint16_t seen[4096];    /* per job id: times served (atomic) */
};

static void *w_init(void *arg)
{
	struct counts *c = arg;

	return (void *)(uintptr_t)(__atomic_add_fetch(&c->inits, 1, __ATOMIC_SEQ_CST));
}

static void w_fini(void *arg, void *ctx)
{
	struct counts *c = arg;

	assert_non_null(ctx); /* the worker's own context comes back */
	__atomic_add_fetch(&c->finis, 1, __ATOMIC_SEQ_CST);
}

static void w_run(void *arg, void *ctx, struct vq_elem *e)
{
	struct counts *c = arg;
	unsigned n = __atomic_add_fetch(&c->inflight, 1, __ATOMIC_SEQ_CST);
	unsigned m = __atomic_load_n(&c->max_inflight, __ATOMIC_SEQ_CST);

	(void)ctx;
	while (n > m && !__atomic_compare_exchange_n(&c->max_inflight, &m, n, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	__atomic_add_fetch(&c->seen[e->head], 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->served, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&c->inflight, 1, __ATOMIC_SEQ_CST);
}

static void test_every_job_once(void **state)
{
	static struct counts c;
	struct vu_pool_cfg cfg = {
		.workers = 3, .slots = 5, .init = w_init, .fini = w_fini, .run = w_run, .arg = &c,
	};
	struct vu_pool *p;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(vu_pool_start(&cfg, &p), 0);
	for (unsigned i = 0; i < 4096; i++) {
		struct vq_elem *e = vu_pool_get(p);

		e->head = (uint16_t)i;
		if (i % 7 == 0) {
			vu_pool_put(p, e); /* popped nothing: the slot goes back unused */
			e = vu_pool_get(p);
			e->head = (uint16_t)i;
		}
		vu_pool_submit(p, e);
	}
	vu_pool_stop(p); /* drains */
	assert_int_equal(c.served, 4096);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(c.seen[i], 1);
	assert_int_equal(c.inits, 3);
	assert_int_equal(c.finis, 3);
	assert_true(c.max_inflight <= 3);
}

static void test_bad_config(void **state)
{
	struct vu_pool_cfg cfg = { .workers = 0, .slots = 4, .run = w_run };
	struct vu_pool *p;

	(void)state;
	assert_int_equal(vu_pool_start(&cfg, &p), -EINVAL);
	cfg.workers = 4;
	cfg.slots = 2;
	assert_int_equal(vu_pool_start(&cfg, &p), -EINVAL);
	cfg.slots = 4;
	cfg.run = NULL;
	assert_int_equal(vu_pool_start(&cfg, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_once),
		cmocka_unit_test(test_bad_config),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
