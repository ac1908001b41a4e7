/*
 * histogram.c: a log-bucketed latency histogram (see histogram.h).
 *
 * Buckets 0..15 hold the values 0..15 exactly. After that, magnitude k
 * (1..31) covers [2^(k+3), 2^(k+4)) in 16 linear sub-buckets of width
 * 2^(k-1), so a bucket is never wider than 1/16 of its lower edge. The top
 * is 2^35 us (about 9.5 hours); larger values land in the last bucket, whose
 * range is open-ended.
 */
#include <stdint.h>
#include <string.h>

#include "router/histogram.h"

void
hist_init(struct histogram *h)
{
	memset(h, 0, sizeof *h);
}

static int
hist_log2(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

int
hist_bucket_of(uint64_t value_us)
{
	int p, b;

	if (value_us < HIST_SUB)
		return (int)value_us;
	p = hist_log2(value_us); /* >= HIST_SUB_BITS */
	b = (p - HIST_SUB_BITS + 1) * HIST_SUB +
	    (int)((value_us >> (p - HIST_SUB_BITS)) - HIST_SUB);
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

void
hist_bucket_range(int bucket, uint64_t *lo, uint64_t *hi)
{
	int k, s;

	if (bucket < 0)
		bucket = 0;
	if (bucket >= HIST_BUCKETS)
		bucket = HIST_BUCKETS - 1;
	if (bucket < HIST_SUB) {
		*lo = (uint64_t)bucket;
		*hi = (uint64_t)bucket + 1;
		return;
	}
	k = bucket / HIST_SUB;
	s = bucket % HIST_SUB;
	*lo = (uint64_t)(HIST_SUB + s) << (k - 1);
	*hi = bucket == HIST_BUCKETS - 1 ? UINT64_MAX : *lo + ((uint64_t)1 << (k - 1));
}

void
hist_record(struct histogram *h, uint64_t value_us)
{
	if (h->total == 0 || value_us < h->min_us)
		h->min_us = value_us;
	if (h->total == 0 || value_us > h->max_us)
		h->max_us = value_us;
	h->counts[hist_bucket_of(value_us)]++;
	h->total++;
	h->sum_us += value_us;
}

void
hist_merge(struct histogram *dst, const struct histogram *src)
{
	int i;

	if (src->total == 0)
		return;
	if (dst->total == 0 || src->min_us < dst->min_us)
		dst->min_us = src->min_us;
	if (dst->total == 0 || src->max_us > dst->max_us)
		dst->max_us = src->max_us;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->sum_us += src->sum_us;
}

/* The rank is ceil(q * total), so p50 of 1..10 is the 5th value; the answer
 * is the largest value its bucket can hold, kept within [min, max]. */
uint64_t
hist_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, v;
	double r;
	int i;

	if (h->total == 0)
		return 0;
	if (!(q > 0)) /* also NaN */
		return h->min_us;
	if (q >= 1)
		return h->max_us;
	r = q * (double)h->total;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max_us;
	hist_bucket_range(i, &lo, &hi);
	v = hi - 1;
	if (v > h->max_us)
		v = h->max_us;
	if (v < h->min_us)
		v = h->min_us;
	return v;
}

double
hist_mean(const struct histogram *h)
{
	if (h->total == 0)
		return 0;
	return (double)h->sum_us / (double)h->total;
}
