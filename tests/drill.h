/*
 * drill.h: failover drills. Three simulated providers behind one router (a
 * primary at priority 1, two fallbacks at priority 2), a fault on the primary,
 * N requests at a fixed concurrency, half of them streamed. The test asserts
 * on the counts; the bench prints the latencies and the breaker timings.
 */
#ifndef LLMDECK_DRILL_H
#define LLMDECK_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include "router/router.h"
#include "testkit.h"

struct drill_phase {
	const char *name;    /* "30% 500", "hang" ... */
	const char *control; /* sim_control JSON for the primary */
};

/* The phases of issue 8's drill, in order. */
extern const struct drill_phase drill_phases[];
extern const size_t drill_n_phases;

struct drill_stats {
	unsigned requests;
	unsigned ok;
	unsigned failed; /* not answered (streams broken after their first token excepted) */
	unsigned streams;
	unsigned streams_complete;
	unsigned streams_broken; /* ended by an explicit LLM_ERR_STREAM error */
	unsigned silent_cuts;    /* answered, but the text is cut or differs from the deltas */
	unsigned attempts;
	unsigned by_primary; /* answered by the primary */
	char first_failure[640];
	uint64_t p50_us, p99_us, max_us;
	/* Requests answered after an attempt that timed out (a hang's fallback):
	 * how many, their median and slowest, and the longest limit a timed-out
	 * attempt was given (learned or not). */
	unsigned after_timeout;
	uint64_t after_timeout_p50_us, after_timeout_max_us, timeout_limit_ms;
};

/* The three providers: "primary" (anthropic sim), "fb-openai", "fb-mistral". */
void drill_kit(struct testkit *, double timeout_seconds);

/* Run n requests through r at the given concurrency; half are streamed. */
void drill_run(struct router *, unsigned n, unsigned concurrency, struct drill_stats *);

#endif
