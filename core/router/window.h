/*
 * window.h: the last ROUTER_WINDOW_MAX seconds of one provider's attempts (or
 * of the router's requests), one slot per second: counts and a latency
 * histogram, so share, error rate and p50/p95/p99 can be given over a sliding
 * window ("the last minute") apart from the totals since start.
 *
 * Plain data, zero-initialised (a zeroed window is empty), no allocation: it
 * lives inside struct provider and struct router and is guarded by r->mu like
 * the rest of them. Seconds come from the router's monotonic clock
 * (rt_now), so tests drive it with their own.
 *
 * Recording is O(1). Reading sums the slots of the window; a slot only walks
 * the latency buckets it used, so a snapshot under r->mu stays short.
 */
#ifndef LLMDECK_WINDOW_H
#define LLMDECK_WINDOW_H

#include <stdint.h>

#include "router/histogram.h"
#include "provider/llm.h"
#include "router/router.h"

struct window_slot {
	uint64_t sec; /* the second (router clock / 1000) this slot holds */
	uint32_t requests;
	uint32_t errors;
	uint32_t cancelled;
	uint16_t lo, hi; /* latency buckets used: [lo, hi) */
	uint32_t latency[HIST_BUCKETS];
};

struct window {
	struct window_slot slots[ROUTER_WINDOW_MAX];
};

/*
 * One finished attempt (or request) in the second now_ms falls in: LLM_OK
 * counts its latency; LLM_ERR_CANCELLED (a lost hedge, a caller that left:
 * nobody's failure) is neither an answer nor an error; any other class is an
 * error.
 */
void window_record(struct window *, uint64_t now_ms, enum llm_errclass, uint64_t latency_us);

/*
 * The window_s seconds ending with the one now_ms falls in (the current,
 * partial second last) into out: requests, errors, latency and its
 * quantiles, the per-second series; share is left alone. *cancelled gets
 * the cancelled count (may be NULL). window_s is clamped to 1..ROUTER_WINDOW_MAX.
 */
void window_read(const struct window *, uint64_t now_ms, int window_s, struct window_stats *out,
    uint64_t *cancelled);

#endif
