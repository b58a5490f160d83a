/*
 * test_ratelimit.c - http/ratelimit.h: token buckets with an injected clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "http/ratelimit.h"

#define SEC INT64_C(1000000000)

static void test_a_new_bucket_is_full_and_admits_the_burst(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 5);
	struct rl_state st;
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_take(rl, "a", 1, 1 * SEC, &st));
	assert_true(st.remaining < 0.001);
	assert_false(ratelimit_take(rl, "a", 1, 1 * SEC, &st));
	assert_true(st.retry_after > 0.099 && st.retry_after < 0.101); /* one token at 10 a second */
	assert_true(st.reset > 0.499 && st.reset < 0.501);                /* five tokens */
	ratelimit_free(rl);
}

static void test_tokens_come_back_at_the_rate_and_never_past_the_burst(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 4);
	struct rl_state st;
	assert_true(ratelimit_take(rl, "a", 4, 0, &st));
	assert_false(ratelimit_take(rl, "a", 1, SEC / 4, &st)); /* half a token */
	assert_true(ratelimit_take(rl, "a", 1, SEC / 2, &st));  /* one */
	assert_true(ratelimit_peek(rl, "a", 100 * SEC, &st));
	assert_true(st.remaining > 3.999 && st.remaining < 4.001);
	assert_true(st.reset < 0.001);
	ratelimit_free(rl);
}

static void test_buckets_are_separate_per_id(void **state)
{
	struct ratelimit *rl = ratelimit_new(1, 1);
	struct rl_state st;
	assert_true(ratelimit_take(rl, "a", 1, 0, &st));
	assert_false(ratelimit_take(rl, "a", 1, 0, &st));
	assert_true(ratelimit_take(rl, "b", 1, 0, &st));
	ratelimit_free(rl);
}

static void test_a_cost_above_the_burst_needs_a_full_bucket(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 100);
	struct rl_state st;
	assert_true(ratelimit_take(rl, "a", 1000, 0, &st)); /* counts as 100 */
	assert_false(ratelimit_take(rl, "a", 1000, 5 * SEC, &st));
	assert_true(st.retry_after > 4.99 && st.retry_after < 5.01);
	assert_true(ratelimit_take(rl, "a", 1000, 10 * SEC, &st));
	ratelimit_free(rl);
}

static void test_a_refused_take_takes_nothing_and_peek_takes_nothing(void **state)
{
	struct ratelimit *rl = ratelimit_new(1, 3);
	struct rl_state st;
	assert_true(ratelimit_take(rl, "a", 2, 0, &st));
	assert_false(ratelimit_take(rl, "a", 2, 0, &st));
	for (int i = 0; i < 10; i++)
		assert_true(ratelimit_peek(rl, "a", 0, &st));
	assert_true(ratelimit_take(rl, "a", 1, 0, &st));
	assert_false(ratelimit_peek(rl, "a", 0, &st));
	ratelimit_free(rl);
}

static void test_reset_fills_the_bucket_again(void **state)
{
	struct ratelimit *rl = ratelimit_new(0.01, 2);
	struct rl_state st;
	assert_true(ratelimit_take(rl, "a", 2, 0, &st));
	assert_false(ratelimit_peek(rl, "a", 0, &st));
	ratelimit_reset(rl, "a");
	assert_true(ratelimit_take(rl, "a", 2, 0, &st));
	ratelimit_free(rl);
}

static void test_memory_stays_bounded_and_recent_buckets_survive(void **state)
{
	struct ratelimit *rl = ratelimit_new(0.001, 2);
	struct rl_state st;
	char id[32];
	assert_true(ratelimit_take(rl, "hot", 2, 0, &st));
	/* far more ids than the table holds, all drained, the hot one touched throughout */
	for (int i = 0; i < RL_SLOTS * RL_SLOT_MAX * 2; i++) {
		snprintf(id, sizeof id, "id%d", i);
		ratelimit_take(rl, id, 2, (uint64_t)i, &st);
		if (i % 1000 == 0)
			ratelimit_peek(rl, "hot", (uint64_t)i, &st);
	}
	assert_false(ratelimit_peek(rl, "hot", RL_SLOTS * RL_SLOT_MAX * 2, &st));
	ratelimit_free(rl);
}

static void test_bad_parameters_give_no_limiter(void **state)
{
	assert_null(ratelimit_new(0, 10));
	assert_null(ratelimit_new(-1, 10));
	assert_null(ratelimit_new(1, 0.5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_new_bucket_is_full_and_admits_the_burst),
	    cmocka_unit_test(test_tokens_come_back_at_the_rate_and_never_past_the_burst),
	    cmocka_unit_test(test_buckets_are_separate_per_id),
	    cmocka_unit_test(test_a_cost_above_the_burst_needs_a_full_bucket),
	    cmocka_unit_test(test_a_refused_take_takes_nothing_and_peek_takes_nothing),
	    cmocka_unit_test(test_reset_fills_the_bucket_again),
	    cmocka_unit_test(test_memory_stays_bounded_and_recent_buckets_survive),
	    cmocka_unit_test(test_bad_parameters_give_no_limiter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
