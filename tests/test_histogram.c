/* test_histogram.c: bucket layout, resolution, quantiles, merge. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router/histogram.h"
#include "util/util.h"

#define HOUR_US (UINT64_C(3600) * 1000000)

static struct histogram *
hist_new(void)
{
	struct histogram *h = xmalloc(sizeof *h);

	memset(h, 0xa5, sizeof *h); /* init must clear everything */
	hist_init(h);
	return h;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Buckets tile [0, inf) with no gaps, and each holds what bucket_of says. */
static void
test_layout(void **state)
{
	uint64_t lo, hi, prev_hi = 0;
	int b;

	(void)state;
	for (b = 0; b < HIST_BUCKETS; b++) {
		hist_bucket_range(b, &lo, &hi);
		assert_int_equal(lo, prev_hi);
		assert_true(hi > lo);
		assert_int_equal(hist_bucket_of(lo), b);
		if (b < HIST_BUCKETS - 1) {
			assert_int_equal(hist_bucket_of(hi - 1), b);
			/* Width at most 1/16 of the lower edge, exact below 32. */
			if (lo >= HIST_SUB)
				assert_true((hi - lo) * HIST_SUB <= lo);
			if (lo < 32)
				assert_int_equal(hi - lo, 1);
		}
		prev_hi = hi;
	}
	assert_int_equal(prev_hi, UINT64_MAX);
	for (b = 0; b < HIST_SUB; b++)
		assert_int_equal(hist_bucket_of((uint64_t)b), b);
	/* The top of the regular range is 2^35 us, well above an hour. */
	hist_bucket_range(HIST_BUCKETS - 1, &lo, &hi);
	assert_int_equal(lo, UINT64_C(31) << 30);
	assert_true(lo > HOUR_US);
	assert_int_equal(hist_bucket_of(HOUR_US) < HIST_BUCKETS - 1, 1);
	assert_int_equal(hist_bucket_of((UINT64_C(1) << 35) - 1), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket_of(UINT64_C(1) << 35), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_BUCKETS - 1);
	/* Out-of-range bucket numbers are clamped, not read past. */
	hist_bucket_range(-3, &lo, &hi);
	assert_int_equal(lo, 0);
	hist_bucket_range(HIST_BUCKETS + 7, &lo, &hi);
	assert_int_equal(lo, UINT64_C(31) << 30);
}

static void
test_empty(void **state)
{
	struct histogram *h = hist_new();
	int i;

	(void)state;
	assert_int_equal(h->total, 0);
	assert_int_equal(h->min_us, 0);
	assert_int_equal(h->max_us, 0);
	assert_int_equal(h->sum_us, 0);
	for (i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(h->counts[i], 0);
	assert_int_equal(hist_quantile(h, 0), 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 1), 0);
	assert_true(hist_mean(h) == 0);
	free(h);
}

static void
test_single_value(void **state)
{
	const uint64_t vals[] = {0, 1, 15, 16, 17, 1000, 123457, HOUR_US};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(vals); i++) {
		struct histogram *h = hist_new();

		hist_record(h, vals[i]);
		assert_int_equal(h->total, 1);
		assert_int_equal(h->min_us, vals[i]);
		assert_int_equal(h->max_us, vals[i]);
		assert_int_equal(hist_quantile(h, 0), vals[i]);
		assert_int_equal(hist_quantile(h, 0.01), vals[i]);
		assert_int_equal(hist_quantile(h, 0.5), vals[i]);
		assert_int_equal(hist_quantile(h, 0.99), vals[i]);
		assert_int_equal(hist_quantile(h, 1), vals[i]);
		assert_true(hist_mean(h) == (double)vals[i]);
		free(h);
	}
}

/* Across 1 us .. 1 h, the reported value is within 1/16 of the true one. */
static void
test_relative_error(void **state)
{
	struct rng r;
	uint64_t v, got, lo, hi;
	double x;
	int i;

	(void)state;
	rng_seed(&r, 7);
	for (i = 0; i < 200000; i++) {
		struct histogram h;

		/* log-uniform over 1 us .. 1 h, plus a dense sweep of small ones */
		x = exp(rng_double(&r) * log((double)HOUR_US));
		v = i < 5000 ? (uint64_t)i : (uint64_t)x;
		if (v < 1)
			v = 1;
		hist_bucket_range(hist_bucket_of(v), &lo, &hi);
		assert_true(lo <= v && v < hi);
		assert_true((double)(hi - 1 - v) <= (double)v / 16);
		/* Through a quantile: v with a larger value above it. */
		hist_init(&h);
		hist_record(&h, v);
		hist_record(&h, v * 3);
		got = hist_quantile(&h, 0.5);
		assert_true(got >= v);
		assert_true((double)(got - v) <= (double)v / 16);
		if (v < 32)
			assert_int_equal(got, v);
	}
}

static void
test_uniform(void **state)
{
	struct histogram *h = hist_new();
	uint64_t v, p50, p90, p99;

	(void)state;
	for (v = 1; v <= 10000; v++)
		hist_record(h, v);
	p50 = hist_quantile(h, 0.5);
	p90 = hist_quantile(h, 0.9);
	p99 = hist_quantile(h, 0.99);
	assert_true(fabs((double)p50 - 5000) <= 0.07 * 5000);
	assert_true(fabs((double)p90 - 9000) <= 0.07 * 9000);
	assert_true(fabs((double)p99 - 9900) <= 0.07 * 9900);
	assert_true(p50 >= 5000 && p90 >= 9000 && p99 >= 9900);
	assert_true(p50 <= p90 && p90 <= p99);
	assert_int_equal(hist_quantile(h, 1), 10000);
	assert_int_equal(hist_quantile(h, 0.99999), 10000); /* clamped to max */
	assert_int_equal(hist_quantile(h, 0), 1);
	assert_int_equal(hist_quantile(h, 0.0001), 1); /* rank 1: exact bucket */
	assert_int_equal(hist_quantile(h, -1), 1);
	assert_int_equal(hist_quantile(h, 2), 10000);
	assert_int_equal(hist_quantile(h, NAN), 1);
	assert_true(fabs(hist_mean(h) - 5000.5) < 1e-9);
	assert_int_equal(h->total, 10000);
	assert_int_equal(h->sum_us, 50005000);
	free(h);
}

/* Against exact order statistics of random samples (same rank rule). */
static void
test_distributions(void **state)
{
	const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
	enum { N = 20001 };
	uint64_t *vals = xcalloc(N, sizeof *vals);
	struct rng r;
	int dist, i;
	size_t k;

	(void)state;
	rng_seed(&r, 99);
	for (dist = 0; dist < 3; dist++) {
		struct histogram *h = hist_new();

		for (i = 0; i < N; i++) {
			double u = rng_double(&r);

			if (dist == 0) /* exponential, mean 1 s */
				vals[i] = (uint64_t)(-log(1 - u) * 1e6);
			else if (dist == 1) /* log-normal-ish around 200 ms */
				vals[i] = (uint64_t)(2e5 * exp(2 * (u - 0.5)));
			else /* bimodal: cache hits and slow calls */
				vals[i] = u < 0.7 ? 50 + rng_next(&r) % 50
				                  : 2000000 + rng_next(&r) % 8000000;
			hist_record(h, vals[i]);
		}
		qsort(vals, N, sizeof *vals, cmp_u64);
		for (k = 0; k < nitems(qs); k++) {
			uint64_t want = vals[(size_t)ceil(qs[k] * N) - 1];
			uint64_t got = hist_quantile(h, qs[k]);

			assert_true(got >= want);
			assert_true((double)(got - want) <= (double)want / 16);
		}
		assert_int_equal(hist_quantile(h, 1), vals[N - 1]);
		assert_int_equal(hist_quantile(h, 0), vals[0]);
		free(h);
	}
	free(vals);
}

static void
test_huge_values(void **state)
{
	struct histogram *h = hist_new();

	(void)state;
	hist_record(h, 10);
	hist_record(h, UINT64_C(1) << 40);
	hist_record(h, UINT64_C(1) << 50);
	assert_int_equal(h->counts[HIST_BUCKETS - 1], 2);
	assert_int_equal(h->max_us, UINT64_C(1) << 50);
	assert_int_equal(hist_quantile(h, 0.5), UINT64_C(1) << 50);
	assert_int_equal(hist_quantile(h, 0.1), 10);
	/* The largest value fits too (the sum may wrap; the buckets do not). */
	hist_record(h, UINT64_MAX);
	assert_int_equal(h->counts[HIST_BUCKETS - 1], 3);
	assert_int_equal(h->max_us, UINT64_MAX);
	assert_int_equal(hist_quantile(h, 1), UINT64_MAX);
	free(h);
}

static void
test_merge(void **state)
{
	struct histogram *a = hist_new(), *b = hist_new(), *all = hist_new();
	struct histogram *e = hist_new();
	struct rng r;
	uint64_t v;
	int i;

	(void)state;
	rng_seed(&r, 3);
	for (i = 0; i < 5000; i++) {
		v = rng_next(&r) % 5000000;
		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	assert_memory_equal(a, all, sizeof *a);

	/* Empty into full changes nothing; full into empty copies. */
	hist_merge(a, e);
	assert_memory_equal(a, all, sizeof *a);
	hist_merge(e, all);
	assert_memory_equal(e, all, sizeof *e);

	/* min and max follow across merges. */
	hist_init(a);
	hist_init(b);
	hist_record(a, 500);
	hist_record(a, 600);
	hist_record(b, 20);
	hist_record(b, 9000);
	hist_merge(a, b);
	assert_int_equal(a->min_us, 20);
	assert_int_equal(a->max_us, 9000);
	assert_int_equal(a->total, 4);
	assert_int_equal(a->sum_us, 10120);
	assert_true(fabs(hist_mean(a) - 2530) < 1e-9);
	free(a);
	free(b);
	free(all);
	free(e);
}

/* A snapshot is a plain copy. */
static void
test_copy_is_snapshot(void **state)
{
	struct histogram *h = hist_new(), *s = hist_new();

	(void)state;
	hist_record(h, 100);
	*s = *h;
	hist_record(h, 200);
	assert_int_equal(s->total, 1);
	assert_int_equal(hist_quantile(s, 1), 100);
	assert_int_equal(h->total, 2);
	free(h);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_single_value),
	    cmocka_unit_test(test_relative_error),
	    cmocka_unit_test(test_uniform),
	    cmocka_unit_test(test_distributions),
	    cmocka_unit_test(test_huge_values),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_copy_is_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
