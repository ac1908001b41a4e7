/*
 * window.c: per-second slots of the last ROUTER_WINDOW_MAX seconds (see
 * window.h).
 *
 * Second s lives in slots[s % ROUTER_WINDOW_MAX] and is valid while the slot
 * says sec == s; a slot found holding an older second is emptied before it
 * is reused. A zeroed slot holds second 0 with nothing in it, which is right.
 */
#include <string.h>

#include "router/window.h"

/* Empty a slot and make it hold second sec. */
static void
window_slot_reset(struct window_slot *sl, uint64_t sec)
{
	if (sl->hi > sl->lo)
		memset(&sl->latency[sl->lo], 0, (size_t)(sl->hi - sl->lo) * sizeof sl->latency[0]);
	sl->sec = sec;
	sl->requests = sl->errors = sl->cancelled = 0;
	sl->lo = sl->hi = 0;
}

void
window_record(struct window *w, uint64_t now_ms, enum llm_errclass cls, uint64_t latency_us)
{
	uint64_t sec = now_ms / 1000;
	struct window_slot *sl = &w->slots[sec % ROUTER_WINDOW_MAX];
	int b;

	if (sl->sec != sec)
		window_slot_reset(sl, sec);
	sl->requests++;
	if (cls == LLM_ERR_CANCELLED) {
		sl->cancelled++;
		return;
	}
	if (cls != LLM_OK) {
		sl->errors++;
		return;
	}
	b = hist_bucket_of(latency_us);
	if (sl->hi == sl->lo) {
		sl->lo = (uint16_t)b;
		sl->hi = (uint16_t)(b + 1);
	} else if (b < sl->lo) {
		sl->lo = (uint16_t)b;
	} else if (b >= sl->hi) {
		sl->hi = (uint16_t)(b + 1);
	}
	sl->latency[b]++;
}

/* min, max and sum of a histogram built from bucket counts alone: bucket edges and middles. */
static void
window_hist_edges(struct histogram *h)
{
	uint64_t lo, hi;
	int first = -1, last = -1;

	h->sum_us = 0;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (h->counts[i] == 0)
			continue;
		if (first < 0)
			first = i;
		last = i;
		hist_bucket_range(i, &lo, &hi);
		if (hi == UINT64_MAX)
			hi = lo + 1;
		h->sum_us += h->counts[i] * (lo + (hi - lo) / 2);
	}
	if (first < 0)
		return;
	hist_bucket_range(first, &lo, &hi);
	h->min_us = lo;
	hist_bucket_range(last, &lo, &hi);
	h->max_us = hi == UINT64_MAX ? lo : hi - 1;
}

void
window_read(const struct window *w, uint64_t now_ms, int window_s, struct window_stats *out,
    uint64_t *cancelled)
{
	uint64_t now_sec = now_ms / 1000, n_cancelled = 0;
	double share = out->share;

	if (window_s < 1)
		window_s = 1;
	if (window_s > ROUTER_WINDOW_MAX)
		window_s = ROUTER_WINDOW_MAX;
	memset(out, 0, sizeof *out);
	out->share = share;
	hist_init(&out->latency);
	for (int k = 0; k < window_s; k++) {
		uint64_t back = (uint64_t)(window_s - 1 - k);
		const struct window_slot *sl;

		if (back > now_sec)
			continue; /* before the clock's second 0 */
		sl = &w->slots[(now_sec - back) % ROUTER_WINDOW_MAX];
		if (sl->sec != now_sec - back)
			continue;
		out->series_requests[k] = sl->requests;
		out->series_errors[k] = sl->errors;
		out->requests += sl->requests;
		out->errors += sl->errors;
		n_cancelled += sl->cancelled;
		for (int b = sl->lo; b < sl->hi; b++) {
			out->latency.counts[b] += sl->latency[b];
			out->latency.total += sl->latency[b];
		}
	}
	window_hist_edges(&out->latency);
	out->p50_us = hist_quantile(&out->latency, 0.50);
	out->p95_us = hist_quantile(&out->latency, 0.95);
	out->p99_us = hist_quantile(&out->latency, 0.99);
	if (cancelled != NULL)
		*cancelled = n_cancelled;
}
