/* test_ratelimit.c: token buckets driven by explicit times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "router/ratelimit.h"
#include "util/util.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-6)

static void
test_unlimited(void **state)
{
	struct token_bucket tb;
	int i;

	(void)state;
	bucket_init(&tb, 0, 100);
	for (i = 0; i < 100000; i++)
		assert_int_equal(bucket_take(&tb, 1000, 100), 1);
	bucket_charge(&tb, 1e12, 100);
	assert_int_equal(bucket_peek(&tb, 1e12, 100), 1);
	assert_near(bucket_usage(&tb, 100), 0);
	assert_int_equal(bucket_wait_ms(&tb, 1e12, 100), 0);

	/* Negative rates mean unlimited too. */
	bucket_init(&tb, -5, 0);
	assert_near(tb.capacity, 0);
	assert_int_equal(bucket_take(&tb, 1, 0), 1);
}

static void
test_rpm60(void **state)
{
	struct token_bucket tb;
	int i;

	(void)state;
	bucket_init(&tb, 60, 1000);
	assert_near(tb.tokens, 60);
	for (i = 0; i < 60; i++)
		assert_int_equal(bucket_take(&tb, 1, 1000), 1);
	assert_int_equal(bucket_take(&tb, 1, 1000), 0);
	assert_int_equal(bucket_wait_ms(&tb, 1, 1000), 1000);
	assert_int_equal(bucket_wait_ms(&tb, 1, 1500), 500);
	assert_int_equal(bucket_take(&tb, 1, 1999), 0);
	assert_int_equal(bucket_wait_ms(&tb, 1, 1999), 1);
	assert_int_equal(bucket_take(&tb, 1, 2000), 1);
	assert_int_equal(bucket_take(&tb, 1, 2000), 0);
	assert_int_equal(bucket_wait_ms(&tb, 1, 2000), 1000);
	assert_int_equal(bucket_wait_ms(&tb, 2, 2000), 2000);
}

static void
test_refill_capped(void **state)
{
	struct token_bucket tb;
	int i;

	(void)state;
	bucket_init(&tb, 10, 0);
	for (i = 0; i < 10; i++)
		assert_int_equal(bucket_take(&tb, 1, 0), 1);
	/* An hour idle still gives only a full bucket. */
	for (i = 0; i < 10; i++)
		assert_int_equal(bucket_take(&tb, 1, 3600000), 1);
	assert_int_equal(bucket_take(&tb, 1, 3600000), 0);
}

static void
test_continuous(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 60, 0);
	assert_int_equal(bucket_take(&tb, 60, 0), 1);
	assert_int_equal(bucket_take(&tb, 0.5, 499), 0);
	assert_int_equal(bucket_take(&tb, 0.5, 500), 1);
	assert_near(tb.tokens, 0);
	/* Fractional and zero takes. */
	assert_int_equal(bucket_take(&tb, 0, 500), 1);
	assert_int_equal(bucket_take(&tb, 0.25, 750), 1);
	assert_near(tb.tokens, 0);
}

static void
test_peek_takes_nothing(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 2, 0);
	assert_int_equal(bucket_peek(&tb, 2, 0), 1);
	assert_int_equal(bucket_peek(&tb, 2, 0), 1);
	assert_int_equal(bucket_peek(&tb, 3, 0), 0);
	assert_near(tb.tokens, 2);
	/* A refused take takes nothing either. */
	assert_int_equal(bucket_take(&tb, 3, 0), 0);
	assert_near(tb.tokens, 2);
	assert_int_equal(bucket_take(&tb, 2, 0), 1);
	assert_int_equal(bucket_peek(&tb, 1, 0), 0);
}

static void
test_tokens_per_minute(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 1000, 0);
	assert_int_equal(bucket_take(&tb, 800, 0), 1);
	assert_int_equal(bucket_peek(&tb, 300, 0), 0);
	assert_int_equal(bucket_wait_ms(&tb, 300, 0), 6000);
	assert_int_equal(bucket_peek(&tb, 300, 5999), 0);
	assert_int_equal(bucket_take(&tb, 300, 6000), 1);
	/* More than the capacity can never be had. */
	assert_int_equal(bucket_wait_ms(&tb, 1001, 6000), UINT64_MAX);
	assert_int_equal(bucket_take(&tb, 1001, 1000000), 0);
}

static void
test_refund(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 1000, 0);
	assert_int_equal(bucket_take(&tb, 500, 0), 1);
	bucket_refund(&tb, 200);
	assert_near(tb.tokens, 700);
	bucket_refund(&tb, 5000);
	assert_near(tb.tokens, 1000);
	bucket_refund(&tb, -5);
	assert_near(tb.tokens, 1000);
}

static void
test_charge_negative(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 60, 0);
	assert_int_equal(bucket_take(&tb, 60, 0), 1);
	bucket_charge(&tb, 30, 0);
	assert_near(tb.tokens, -30);
	assert_near(bucket_usage(&tb, 0), 1);
	assert_int_equal(bucket_peek(&tb, 1, 0), 0);
	/* 30 to get back to zero and one more: 31 s. */
	assert_int_equal(bucket_wait_ms(&tb, 1, 0), 31000);
	assert_int_equal(bucket_take(&tb, 1, 30999), 0);
	assert_int_equal(bucket_take(&tb, 1, 31000), 1);
	/* Charge refills first, then takes. */
	bucket_init(&tb, 60, 0);
	bucket_charge(&tb, 60, 0);
	bucket_charge(&tb, 10, 5000);
	assert_near(tb.tokens, -5);
}

static void
test_usage(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 60, 0);
	assert_near(bucket_usage(&tb, 0), 0);
	bucket_take(&tb, 15, 0);
	assert_near(bucket_usage(&tb, 0), 0.25);
	bucket_take(&tb, 45, 0);
	assert_near(bucket_usage(&tb, 0), 1);
	assert_near(bucket_usage(&tb, 30000), 0.5);
	assert_near(bucket_usage(&tb, 120000), 0);
}

static void
test_set_rate(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 60, 0);
	bucket_take(&tb, 30, 0);
	bucket_set_rate(&tb, 120, 0);
	assert_near(tb.capacity, 120);
	assert_near(tb.tokens, 60);
	assert_near(bucket_usage(&tb, 0), 0.5);
	/* Refill happens at the old rate up to the change, at the new after. */
	bucket_init(&tb, 60, 0);
	bucket_take(&tb, 60, 0);
	bucket_set_rate(&tb, 600, 10000); /* 10 of 60 -> 100 of 600 */
	assert_near(tb.tokens, 100);
	assert_int_equal(bucket_wait_ms(&tb, 110, 10000), 1000);
	/* To unlimited and back: starts full. */
	bucket_set_rate(&tb, 0, 10000);
	assert_int_equal(bucket_take(&tb, 1e9, 10000), 1);
	bucket_set_rate(&tb, 10, 10000);
	assert_near(tb.tokens, 10);
	assert_int_equal(tb.last_ms, 10000);
}

static void
test_time_backwards(void **state)
{
	struct token_bucket tb;

	(void)state;
	bucket_init(&tb, 60, 10000);
	bucket_take(&tb, 60, 10000);
	assert_int_equal(bucket_take(&tb, 1, 5000), 0);
	assert_int_equal(tb.last_ms, 10000);
	assert_int_equal(bucket_wait_ms(&tb, 1, 10000), 1000);
	assert_int_equal(bucket_take(&tb, 1, 11000), 1);
}

/* For odd rates and amounts, waiting wait_ms is enough and one ms less is not. */
static void
test_wait_exact_random(void **state)
{
	struct rng r;
	int i;

	(void)state;
	rng_seed(&r, 42);
	for (i = 0; i < 20000; i++) {
		struct token_bucket tb, a, b;
		double cap = 1 + rng_double(&r) * 100000, n;
		uint64_t t0 = rng_next(&r) % 1000000, w;

		if (i % 3 == 0)
			cap = (double)(1 + rng_next(&r) % 97);
		n = rng_double(&r) * cap;
		if (i % 5 == 0)
			n = (double)(rng_next(&r) % (uint64_t)cap);
		bucket_init(&tb, cap, 0);
		bucket_charge(&tb, rng_double(&r) * cap * 1.5, 0);
		w = bucket_wait_ms(&tb, n, t0);
		assert_true(w != UINT64_MAX);
		a = tb;
		assert_int_equal(bucket_take(&a, n, t0 + w), 1);
		if (w > 0) {
			b = tb;
			assert_int_equal(bucket_take(&b, n, t0 + w - 1), 0);
			/* Peeking part way does not change the answer. */
			b = tb;
			assert_int_equal(bucket_peek(&b, n, t0 + w / 2), w / 2 >= w);
			assert_int_equal(bucket_take(&b, n, t0 + w), 1);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_rpm60),
	    cmocka_unit_test(test_refill_capped),
	    cmocka_unit_test(test_continuous),
	    cmocka_unit_test(test_peek_takes_nothing),
	    cmocka_unit_test(test_tokens_per_minute),
	    cmocka_unit_test(test_refund),
	    cmocka_unit_test(test_charge_negative),
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test(test_set_rate),
	    cmocka_unit_test(test_time_backwards),
	    cmocka_unit_test(test_wait_exact_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
