/*
 * breaker.h: a circuit breaker per provider. Closed: traffic flows and
 * consecutive failures are counted. Open: nothing is sent until the cooldown
 * ends. Half-open: at most half_open_max trial requests; a success closes it,
 * a failure opens it again with a doubled cooldown (capped at 8x).
 * Time is passed in (now_ms, any monotonic origin) so tests drive it. Not
 * thread-safe: the router holds its lock around these calls.
 */
#ifndef LLMDECK_BREAKER_H
#define LLMDECK_BREAKER_H

#include <stdint.h>

#define BREAKER_STABLE_X 2

enum breaker_state {
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN,
};
const char *breaker_state_name(enum breaker_state);

struct breaker {
	enum breaker_state state;
	int failure_threshold;
	int base_cooldown_ms;
	int half_open_max;
	int consecutive_failures;
	int cooldown_ms; /* current cooldown (grows on repeated opens) */
	uint64_t opened_at_ms;
	uint64_t closed_at_ms; /* when it last closed */
	int trials_in_flight;  /* half-open requests sent and not yet settled */
	uint64_t transitions;  /* count of state changes */
};

void breaker_init(struct breaker *, int failure_threshold, int cooldown_ms, int half_open_max);

/* Would a request be allowed now? Moves open -> half-open when the cooldown is over.
 * Does not take a trial slot. */
int breaker_would_allow(struct breaker *, uint64_t now_ms);
/* Take permission for one request: 1 allowed (a trial slot is taken in half-open), 0 not. */
int breaker_acquire(struct breaker *, uint64_t now_ms);
/* Settle a request that was acquired. Returns 1 if the state changed. */
int breaker_on_success(struct breaker *, uint64_t now_ms);
int breaker_on_failure(struct breaker *, uint64_t now_ms);
/* A request acquired but never sent (cancelled) gives its trial slot back. */
void breaker_release(struct breaker *);
/* A successful health probe: open or half-open -> closed now. Returns 1 if it changed. */
int breaker_recover(struct breaker *, uint64_t now_ms);
/* Operator reset: closed, counters cleared, cooldown back to base. */
void breaker_reset(struct breaker *);
/* Force open now (e.g. a failed active probe). Returns 1 if the state changed. */
int breaker_trip(struct breaker *, uint64_t now_ms);
/* Milliseconds until an open breaker goes half-open, 0 otherwise. */
uint64_t breaker_cooldown_left_ms(const struct breaker *, uint64_t now_ms);

#endif
