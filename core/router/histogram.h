/*
 * histogram.h: a log-bucketed latency histogram (HdrHistogram-like: each
 * power of two split into 16 linear sub-buckets, about 6% resolution) from
 * 1 us to about 1 hour, with quantiles. Plain data: copy it to snapshot it.
 */
#ifndef LLMDECK_HISTOGRAM_H
#define LLMDECK_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAGNITUDES 32
#define HIST_BUCKETS (HIST_MAGNITUDES * HIST_SUB)

struct histogram {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	uint64_t sum_us;
	uint64_t min_us;
	uint64_t max_us;
};

void hist_init(struct histogram *);
void hist_record(struct histogram *, uint64_t value_us);
void hist_merge(struct histogram *dst, const struct histogram *src);
/* Value at quantile q (0..1), the upper edge of its bucket clamped to max; 0 if empty. */
uint64_t hist_quantile(const struct histogram *, double q);
double hist_mean(const struct histogram *);
/* Bucket index of a value and the [lo, hi) range of a bucket. */
int hist_bucket_of(uint64_t value_us);
void hist_bucket_range(int bucket, uint64_t *lo, uint64_t *hi);

#endif
