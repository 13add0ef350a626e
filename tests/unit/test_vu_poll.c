// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/vu/vu_poll.c: the self-tuning polling interval, fed
 * with made-up gaps (no clock, no threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "unit.h"
#include "vu_poll.h"

#define US 1000u

static void test_disabled_never_polls(void **state)
{
	struct vu_poll p;

	(void)state;
	vu_poll_init(&p, 0);
	assert_int_equal(vu_poll_budget(&p), 0);
	for (int i = 0; i < 10; i++)
		vu_poll_woke(&p, 1 * US);
	assert_int_equal(vu_poll_budget(&p), 0);
	assert_int_equal(p.slept, 10);
}

static void test_starts_small(void **state)
{
	struct vu_poll p;

	(void)state;
	vu_poll_init(&p, 64 * US);
	assert_int_equal(vu_poll_budget(&p), VU_POLL_START_NS);
	/* A bound below the start value is the start value. */
	vu_poll_init(&p, 2 * US);
	assert_int_equal(vu_poll_budget(&p), 2 * US);
}

static void test_grows_to_catch_close_requests(void **state)
{
	struct vu_poll p;
	uint32_t prev;

	(void)state;
	vu_poll_init(&p, 64 * US);
	/* Requests 30 us apart: each miss doubles the interval until it covers the gap. */
	for (int i = 0; i < 10 && vu_poll_budget(&p) < 30 * US; i++) {
		prev = vu_poll_budget(&p);
		vu_poll_woke(&p, 30 * US);
		assert_int_equal(vu_poll_budget(&p), 2 * prev);
	}
	assert_true(vu_poll_budget(&p) >= 30 * US);
	assert_true(vu_poll_budget(&p) <= 64 * US);
	/* Catching keeps it. */
	prev = vu_poll_budget(&p);
	for (int i = 0; i < 100; i++)
		vu_poll_caught(&p);
	assert_int_equal(vu_poll_budget(&p), prev);
	assert_int_equal(p.caught, 100);
}

static void test_bounded_by_max(void **state)
{
	struct vu_poll p;

	(void)state;
	vu_poll_init(&p, 50 * US);
	for (int i = 0; i < 50; i++) {
		vu_poll_woke(&p, 50 * US); /* at the bound: still worth growing */
		assert_true(vu_poll_budget(&p) <= 50 * US);
	}
	assert_int_equal(vu_poll_budget(&p), 50 * US);
}

static void test_shrinks_to_zero_when_quiet(void **state)
{
	struct vu_poll p;
	int n = 0;

	(void)state;
	vu_poll_init(&p, 64 * US);
	for (int i = 0; i < 10; i++)
		vu_poll_woke(&p, 10 * US);
	assert_int_equal(vu_poll_budget(&p), 64 * US);
	/* The guest goes quiet: each long gap halves it, then polling stops. */
	while (vu_poll_budget(&p) && n < 64) {
		uint32_t prev = vu_poll_budget(&p);

		vu_poll_woke(&p, 1000000 * US);
		assert_true(vu_poll_budget(&p) < prev);
		n++;
	}
	assert_int_equal(vu_poll_budget(&p), 0);
	assert_true(n <= 6);
	/* Stays off while quiet. */
	vu_poll_woke(&p, 5000 * US);
	assert_int_equal(vu_poll_budget(&p), 0);
	/* Work comes back close together: polling restarts at the start value. */
	vu_poll_woke(&p, 20 * US);
	assert_int_equal(vu_poll_budget(&p), VU_POLL_START_NS);
}

static void test_sparse_requests_do_not_keep_polling(void **state)
{
	struct vu_poll p;

	(void)state;
	/* Requests every 200 us with a 64 us bound: polling cannot catch them. */
	vu_poll_init(&p, 64 * US);
	for (int i = 0; i < 20; i++)
		vu_poll_woke(&p, 200 * US);
	assert_int_equal(vu_poll_budget(&p), 0);
}

static void test_mixed_gaps_settle(void **state)
{
	struct vu_poll p;

	(void)state;
	/* Mostly close requests with an occasional pause keep a useful interval. */
	vu_poll_init(&p, 64 * US);
	for (int i = 0; i < 1000; i++)
		vu_poll_woke(&p, i % 8 == 7 ? 10000 * US : 20 * US);
	assert_true(vu_poll_budget(&p) >= 16 * US);
}

static void test_preempted_stops_polling(void **state)
{
	struct vu_poll p;

	(void)state;
	vu_poll_init(&p, 64 * US);
	for (int i = 0; i < 10; i++)
		vu_poll_woke(&p, 10 * US);
	assert_int_equal(vu_poll_budget(&p), 64 * US);
	/* Someone else needed the CPU: give it all back at once. */
	vu_poll_preempted(&p);
	assert_int_equal(vu_poll_budget(&p), 0);
	assert_int_equal(p.preempted, 1);
	/* Close requests bring it back from the start value, step by step. */
	vu_poll_woke(&p, 10 * US);
	assert_int_equal(vu_poll_budget(&p), VU_POLL_START_NS);
	vu_poll_woke(&p, 10 * US);
	assert_int_equal(vu_poll_budget(&p), 2 * VU_POLL_START_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled_never_polls),
		cmocka_unit_test(test_starts_small),
		cmocka_unit_test(test_grows_to_catch_close_requests),
		cmocka_unit_test(test_bounded_by_max),
		cmocka_unit_test(test_shrinks_to_zero_when_quiet),
		cmocka_unit_test(test_sparse_requests_do_not_keep_polling),
		cmocka_unit_test(test_mixed_gaps_settle),
		cmocka_unit_test(test_preempted_stops_polling),
	};

	unit_log_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
