/*
 * learned.h: what one provider's recent latency teaches the router (issue 19):
 * the time to its first token (streams) or whole answer (otherwise) over the
 * last LEARNED_WINDOW_S seconds, as quantiles for a learned timeout and the
 * "auto" hedge delay, and a peak EWMA (Finagle's and Linkerd's) for
 * latency-aware balancing.
 *
 * Plain data, zero-initialised, no allocation, no locking: it lives in struct
 * provider under r->mu. Times in milliseconds are the router's clock (rt_now),
 * so tests drive the window and the EWMA's decay with their own.
 */
#ifndef LLMDECK_LEARNED_H
#define LLMDECK_LEARNED_H

#include <stdint.h>

#include "config/config.h"

#define LEARNED_WINDOW_S 60    /* quantiles cover this many seconds */
#define LEARNED_DECAY_MS 10000 /* the EWMA's time constant (Finagle's and Linkerd's 10 s) */

struct learned {
	uint32_t sample_us[LEARN_MAX_SAMPLES]; /* a ring: the latest samples */
	uint64_t sample_ms[LEARN_MAX_SAMPLES]; /* when each was taken */
	uint32_t next, n;
	uint64_t gen; /* samples ever taken */
	/* The quantiles last computed: recomputed when samples came, at most every
	 * 100 ms once there are many, and every second as old ones leave. */
	uint64_t q_gen, q_ms;
	int q_valid;
	uint32_t q_n; /* samples in the window then */
	uint64_t q_p95_us, q_p99_us;
	/* Peak EWMA: jumps to a slower sample at once, decays toward zero with time. */
	double ewma_us;
	uint64_t ewma_ms;
};

/* A first-token or whole-answer time, or a limit an attempt was abandoned at. */
void learned_record(struct learned *, uint64_t now_ms, uint64_t latency_us);
/* Samples in the window, and its p95 and p99 (0 if none). */
uint32_t learned_quantiles(struct learned *, uint64_t now_ms, uint64_t *p95_us, uint64_t *p99_us);
/* The timeout it learned in ms (multiple x p99, at least the floor), or 0 if
 * it has fewer than min_samples or learning is off. Not yet capped by the
 * configured ceiling. */
uint64_t learned_timeout_ms(struct learned *, const struct learn_conf *, uint64_t now_ms);
/* The "auto" hedge delay in ms (its p95, at least hedge_min_ms), or 0 if too few samples. */
uint64_t learned_hedge_ms(struct learned *, const struct learn_conf *, uint64_t now_ms);
/* The peak EWMA decayed to now_ms, in microseconds (0: nothing seen). */
double learned_ewma_us(const struct learned *, uint64_t now_ms);

#endif
