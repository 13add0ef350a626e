// SPDX-License-Identifier: MIT
/* Unit tests for src/util/idtable.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "idtable.h"
#include "unit.h"

static int objs[4096];

static int setup(void **state)
{
	struct idtable *t = malloc(sizeof(*t));

	idtable_init(t, 2);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	idtable_destroy(*state);
	free(*state);
	return 0;
}

static void test_fixed_slot(void **state)
{
	struct idtable *t = *state;
	uint64_t id = 0, id2;

	assert_int_equal(idtable_set_fixed(t, 1, &objs[1], &id), 0);
	assert_int_equal(id, 1); /* the FUSE root is nodeid 1 */
	assert_ptr_equal(idtable_get(t, 1), &objs[1]);
	assert_int_equal(t->used, 1);
	/* Occupied, or not a reserved index. */
	assert_int_equal(idtable_set_fixed(t, 1, &objs[2], &id2), -EEXIST);
	assert_int_equal(idtable_set_fixed(t, 2, &objs[2], &id2), -EINVAL);
	assert_int_equal(idtable_set_fixed(t, UINT32_MAX, &objs[2], &id2), -EINVAL);
	/* The same index with any other generation is not the fixed object. */
	assert_null(idtable_get(t, (1ull << 32) | 1));
	assert_null(idtable_get(t, (0xffffffffull << 32) | 1));

	/* Allocated ids are never below the reserve, never generation 0. */
	assert_int_equal(idtable_alloc(t, &objs[3], &id2), 0);
	assert_true((uint32_t)id2 >= 2);
	assert_true((id2 >> 32) != 0);

	/* Removing a fixed slot works, and it is not recycled by alloc. */
	assert_ptr_equal(idtable_remove(t, 1), &objs[1]);
	assert_null(idtable_get(t, 1));
	assert_null(idtable_remove(t, 1));
	for (int i = 0; i < 10; i++) {
		uint64_t x;

		assert_int_equal(idtable_alloc(t, &objs[10 + i], &x), 0);
		assert_true((uint32_t)x >= 2);
	}
	assert_int_equal(idtable_set_fixed(t, 1, &objs[1], &id), 0);
	assert_int_equal(id, 1);
}

static void test_ids_never_repeat(void **state)
{
	struct idtable *t = *state;
	enum { ROUNDS = 2000 };
	uint64_t *seen = calloc(ROUNDS * 2, sizeof(*seen));
	unsigned nseen = 0;
	uint64_t keep;

	assert_int_equal(idtable_alloc(t, &objs[0], &keep), 0);
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t a, b;

		assert_int_equal(idtable_alloc(t, &objs[1], &a), 0);
		assert_int_equal(idtable_alloc(t, &objs[2], &b), 0);
		assert_true(a != b && a != keep && b != keep);
		for (unsigned i = 0; i < nseen; i++)
			assert_true(seen[i] != a && seen[i] != b);
		seen[nseen++] = a;
		seen[nseen++] = b;
		assert_ptr_equal(idtable_remove(t, a), &objs[1]);
		assert_ptr_equal(idtable_remove(t, b), &objs[2]);
		/* The stale ids stay dead even once their slots are reused. */
		assert_null(idtable_get(t, a));
		assert_null(idtable_get(t, b));
	}
	/* Slots are recycled: the table did not grow with the churn. */
	assert_true(t->cap <= 64);
	assert_int_equal(t->used, 1);
	for (unsigned i = 0; i < nseen; i++) {
		assert_null(idtable_get(t, seen[i]));
		assert_null(idtable_remove(t, seen[i]));
	}
	assert_int_equal(t->used, 1);
	assert_ptr_equal(idtable_get(t, keep), &objs[0]);
	free(seen);
}

static void test_stale_and_forged(void **state)
{
	struct idtable *t = *state;
	uint64_t id, id2;
	uint32_t index, gen;

	assert_int_equal(idtable_alloc(t, &objs[5], &id), 0);
	index = (uint32_t)id;
	gen = (uint32_t)(id >> 32);

	/* Index out of range (beyond cap, huge). */
	assert_null(idtable_get(t, ((uint64_t)gen << 32) | t->cap));
	assert_null(idtable_get(t, ((uint64_t)gen << 32) | 0xffffffffu));
	assert_null(idtable_get(t, UINT64_MAX));
	/* Right index, wrong generation (including the fixed generation 0). */
	assert_null(idtable_get(t, ((uint64_t)(gen + 1) << 32) | index));
	assert_null(idtable_get(t, index));
	/* A slot that is free: never used, and the reserved-but-empty ones. */
	assert_null(idtable_get(t, ((uint64_t)1 << 32) | (index + 1)));
	assert_null(idtable_get(t, 0));
	assert_null(idtable_get(t, 1));
	assert_null(idtable_get(t, ((uint64_t)1 << 32) | 0));
	/* Forged ids remove nothing. */
	assert_null(idtable_remove(t, ((uint64_t)(gen + 1) << 32) | index));
	assert_null(idtable_remove(t, UINT64_MAX));
	assert_int_equal(t->used, 1);
	assert_ptr_equal(idtable_get(t, id), &objs[5]);

	/* Free slot after remove, then reused with a new generation. */
	assert_ptr_equal(idtable_remove(t, id), &objs[5]);
	assert_null(idtable_get(t, id));
	assert_int_equal(idtable_alloc(t, &objs[6], &id2), 0);
	assert_int_equal((uint32_t)id2, index);
	assert_true(id2 != id);
	assert_null(idtable_get(t, id));
	assert_null(idtable_remove(t, id));
	assert_ptr_equal(idtable_get(t, id2), &objs[6]);

	/* An empty table rejects everything. */
	{
		struct idtable e;

		idtable_init(&e, 0);
		assert_null(idtable_get(&e, 0));
		assert_null(idtable_get(&e, 1ull << 32));
		assert_null(idtable_remove(&e, 1ull << 32));
		idtable_destroy(&e);
	}
}

static void test_grow(void **state)
{
	struct idtable *t = *state;
	enum { N = 1000 };
	uint64_t ids[N];

	for (int i = 0; i < N; i++)
		assert_int_equal(idtable_alloc(t, &objs[i], &ids[i]), 0);
	assert_int_equal(t->used, N);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(idtable_get(t, ids[i]), &objs[i]);
	for (int i = 0; i < N; i += 2)
		assert_ptr_equal(idtable_remove(t, ids[i]), &objs[i]);
	for (int i = 0; i < N; i++) {
		if (i % 2)
			assert_ptr_equal(idtable_get(t, ids[i]), &objs[i]);
		else
			assert_null(idtable_get(t, ids[i]));
	}
	assert_int_equal(t->used, N / 2);
}

struct visit {
	struct idtable *t;
	unsigned count;
	unsigned long long sum;
	bool remove_odd;
};

static void visit_fn(void *obj, uint64_t id, void *arg)
{
	struct visit *v = arg;
	int i = (int)((int *)obj - objs);

	assert_ptr_equal(idtable_get(v->t, id), obj);
	v->count++;
	v->sum += (unsigned long long)i;
	if (v->remove_odd && (i % 2))
		assert_ptr_equal(idtable_remove(v->t, id), obj);
}

/* Live migration: ids claimed exactly; the gaps and retired ids never come back. */
static void test_claim(void **state)
{
	struct idtable *t = *state;
	uint64_t a = (7ull << 32) | 10, b = (3ull << 32) | 5, lost = (9ull << 32) | 12, id;

	assert_int_equal(idtable_claim(t, a, &objs[1]), 0);
	assert_ptr_equal(idtable_get(t, a), &objs[1]);
	assert_int_equal(idtable_claim(t, a, &objs[2]), -EEXIST);
	/* Below the highest claimed index (from the free list). */
	assert_int_equal(idtable_claim(t, b, &objs[2]), 0);
	assert_ptr_equal(idtable_get(t, b), &objs[2]);
	/* Generation 0 (fixed ids), the reserve, and NULL are refused. */
	assert_int_equal(idtable_claim(t, 5, &objs[3]), -EINVAL);
	assert_int_equal(idtable_claim(t, (1ull << 32) | 1, &objs[3]), -EINVAL);
	assert_int_equal(idtable_claim(t, (1ull << 32) | 20, NULL), -EINVAL);
	/* A lost id is retired: never live, never handed out again. */
	assert_int_equal(idtable_retire(t, lost), 0);
	assert_null(idtable_get(t, lost));
	assert_int_equal(t->used, 2);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(idtable_alloc(t, &objs[100 + i], &id), 0);
		assert_true(id != a && id != b && id != lost);
		assert_true((uint32_t)id >= 2);
	}
	assert_ptr_equal(idtable_get(t, a), &objs[1]);
	assert_ptr_equal(idtable_get(t, b), &objs[2]);
}

static void test_foreach(void **state)
{
	struct idtable *t = *state;
	struct visit v = { .t = t };
	uint64_t id, fixed;
	unsigned long long want = 0;

	assert_int_equal(idtable_set_fixed(t, 1, &objs[1], &fixed), 0);
	want += 1;
	for (int i = 100; i < 300; i++) {
		assert_int_equal(idtable_alloc(t, &objs[i], &id), 0);
		want += (unsigned long long)i;
		if (i % 10 == 0) { /* some holes */
			assert_non_null(idtable_remove(t, id));
			want -= (unsigned long long)i;
		}
	}
	idtable_foreach(t, visit_fn, &v);
	assert_int_equal(v.count, t->used);
	assert_int_equal(v.sum, want);

	/* The callback may remove the object it is visiting. */
	memset(&v, 0, sizeof(v));
	v.t = t;
	v.remove_odd = true;
	idtable_foreach(t, visit_fn, &v);
	memset(&v, 0, sizeof(v));
	v.t = t;
	idtable_foreach(t, visit_fn, &v);
	assert_int_equal(v.count, t->used);
	assert_int_equal(v.count, 80); /* 180 allocated minus 100 odd */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixed_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_repeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_forged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim, setup, teardown),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
