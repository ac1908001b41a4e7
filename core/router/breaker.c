/*
 * breaker.c: the per-provider circuit breaker (see breaker.h).
 *
 * Results reported for requests acquired before a state change are taken at
 * face value only where they cannot do harm: a success or failure reported
 * while open changes nothing (the cooldown is not extended by stale news).
 */
#include <stdint.h>

#include "router/breaker.h"

#define BREAKER_MAX_GROWTH 8

const char *
breaker_state_name(enum breaker_state state)
{
	switch (state) {
	case BREAKER_CLOSED: return "closed";
	case BREAKER_OPEN: return "open";
	case BREAKER_HALF_OPEN: return "half-open";
	}
	return "unknown";
}

void
breaker_init(struct breaker *b, int failure_threshold, int cooldown_ms, int half_open_max)
{
	b->state = BREAKER_CLOSED;
	b->failure_threshold = failure_threshold < 1 ? 1 : failure_threshold;
	b->base_cooldown_ms = cooldown_ms < 0 ? 0 : cooldown_ms;
	b->half_open_max = half_open_max < 1 ? 1 : half_open_max;
	b->consecutive_failures = 0;
	b->cooldown_ms = b->base_cooldown_ms;
	b->opened_at_ms = 0;
	b->closed_at_ms = 0;
	b->trials_in_flight = 0;
	b->transitions = 0;
}

static void
breaker_open(struct breaker *b, uint64_t now_ms)
{
	/* Stayed closed long enough: the provider is healthy again, forget the growth. */
	if (b->state == BREAKER_CLOSED &&
	    now_ms >= b->closed_at_ms + (uint64_t)b->base_cooldown_ms * BREAKER_STABLE_X)
		b->cooldown_ms = b->base_cooldown_ms;
	b->state = BREAKER_OPEN;
	b->opened_at_ms = now_ms;
	b->trials_in_flight = 0;
	b->transitions++;
}

/* A failed trial means the provider is still sick: wait longer, up to 8x base. */
static void
breaker_reopen(struct breaker *b, uint64_t now_ms)
{
	int64_t next = (int64_t)b->cooldown_ms * 2;
	int64_t cap = (int64_t)b->base_cooldown_ms * BREAKER_MAX_GROWTH;

	if (next > cap)
		next = cap;
	if (next > INT32_MAX)
		next = INT32_MAX;
	b->cooldown_ms = (int)next;
	breaker_open(b, now_ms);
}

static void
breaker_close(struct breaker *b, uint64_t now_ms)
{
	b->state = BREAKER_CLOSED;
	b->consecutive_failures = 0;
	b->closed_at_ms = now_ms;
	b->trials_in_flight = 0;
	b->transitions++;
}

/* Open goes half-open lazily, when someone asks after the cooldown. */
static void
breaker_tick(struct breaker *b, uint64_t now_ms)
{
	if (b->state != BREAKER_OPEN)
		return;
	if (breaker_cooldown_left_ms(b, now_ms) > 0)
		return;
	b->state = BREAKER_HALF_OPEN;
	b->trials_in_flight = 0;
	b->transitions++;
}

int
breaker_would_allow(struct breaker *b, uint64_t now_ms)
{
	breaker_tick(b, now_ms);
	switch (b->state) {
	case BREAKER_CLOSED: return 1;
	case BREAKER_OPEN: return 0;
	case BREAKER_HALF_OPEN: return b->trials_in_flight < b->half_open_max;
	}
	return 0;
}

int
breaker_acquire(struct breaker *b, uint64_t now_ms)
{
	if (!breaker_would_allow(b, now_ms))
		return 0;
	if (b->state == BREAKER_HALF_OPEN)
		b->trials_in_flight++;
	return 1;
}

int
breaker_on_success(struct breaker *b, uint64_t now_ms)
{
	if (b->state == BREAKER_HALF_OPEN) {
		breaker_close(b, now_ms);
		return 1;
	}
	if (b->state == BREAKER_CLOSED)
		b->consecutive_failures = 0;
	return 0; /* open: a late result from before it opened */
}

int
breaker_on_failure(struct breaker *b, uint64_t now_ms)
{
	if (b->state == BREAKER_HALF_OPEN) {
		breaker_reopen(b, now_ms);
		return 1;
	}
	if (b->state != BREAKER_CLOSED)
		return 0; /* open: a late result, must not extend the cooldown */
	if (++b->consecutive_failures < b->failure_threshold)
		return 0;
	breaker_open(b, now_ms);
	return 1;
}

void
breaker_release(struct breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN && b->trials_in_flight > 0)
		b->trials_in_flight--;
}

int
breaker_recover(struct breaker *b, uint64_t now_ms)
{
	if (b->state == BREAKER_CLOSED)
		return 0;
	breaker_close(b, now_ms);
	return 1;
}

void
breaker_reset(struct breaker *b)
{
	if (b->state != BREAKER_CLOSED)
		b->transitions++;
	b->state = BREAKER_CLOSED;
	b->consecutive_failures = 0;
	b->cooldown_ms = b->base_cooldown_ms;
	b->opened_at_ms = 0;
	b->closed_at_ms = 0;
	b->trials_in_flight = 0;
}

/* Tripping an open breaker is a no-op: it keeps its cooldown. From half-open
 * it counts as a failed trial and grows the cooldown. */
int
breaker_trip(struct breaker *b, uint64_t now_ms)
{
	if (b->state == BREAKER_OPEN)
		return 0;
	if (b->state == BREAKER_HALF_OPEN)
		breaker_reopen(b, now_ms);
	else
		breaker_open(b, now_ms);
	return 1;
}

uint64_t
breaker_cooldown_left_ms(const struct breaker *b, uint64_t now_ms)
{
	uint64_t end;

	if (b->state != BREAKER_OPEN)
		return 0;
	end = b->opened_at_ms + (uint64_t)b->cooldown_ms;
	if (now_ms < b->opened_at_ms) /* clock from another origin: full wait */
		return (uint64_t)b->cooldown_ms;
	return now_ms >= end ? 0 : end - now_ms;
}
