/*
 * ratelimit.h: token buckets for requests per minute and tokens per minute.
 * A bucket holds up to its per-minute capacity and refills continuously.
 * Time is passed in so tests drive it. Not thread-safe (router's lock).
 */
#ifndef LLMDECK_RATELIMIT_H
#define LLMDECK_RATELIMIT_H

#include <stdint.h>

struct token_bucket {
	double capacity; /* per minute; 0: unlimited */
	double tokens;   /* available now */
	uint64_t last_ms;
};

void bucket_init(struct token_bucket *, double per_minute, uint64_t now_ms);
/* Change capacity keeping the fill fraction. */
void bucket_set_rate(struct token_bucket *, double per_minute, uint64_t now_ms);
/* 1 if n tokens are available now (and taken), 0 if not (nothing taken). */
int bucket_take(struct token_bucket *, double n, uint64_t now_ms);
/* 1 if n tokens would be available now; takes nothing. */
int bucket_peek(struct token_bucket *, double n, uint64_t now_ms);
/* Give back (a reservation larger than the real use); capped at capacity. */
void bucket_refund(struct token_bucket *, double n);
/* Take even if it goes negative (real usage above the estimate). */
void bucket_charge(struct token_bucket *, double n, uint64_t now_ms);
/* Fraction in use now, 0..1 (0 when unlimited). */
double bucket_usage(struct token_bucket *, uint64_t now_ms);
/* Milliseconds until n tokens are available (0 if now). */
uint64_t bucket_wait_ms(struct token_bucket *, double n, uint64_t now_ms);

/*
 * A lease of a per-minute allowance shared by a fleet (store/limits.h): the
 * tokens this process took for one calendar minute (the store's clock,
 * floor(ms / 60000)) and may use without a round trip; a second lease may be
 * taken ahead for the next minute. What is left when its minute ends expires.
 * The router takes from it under its lock and its worker refills it.
 */
struct rate_lease {
	int64_t minute, next_minute; /* the minutes held and next_held belong to; -1: none */
	double held, next_held;
	double slice; /* what one refill tops up to (0: not sized yet) */
};

void rate_lease_init(struct rate_lease *);
/* Move to the minute of now_ms (the next minute's lease becomes current, or nothing is held). */
void rate_lease_roll(struct rate_lease *, int64_t now_ms);
/* 1 if n tokens are held for now's minute (and taken, with take 1), else 0. */
int rate_lease_take(struct rate_lease *, double n, int64_t now_ms, int take);
/* Back into the lease if its minute is still now's (a reservation larger than the use). */
void rate_lease_refund(struct rate_lease *, double n, int64_t now_ms);
/* Taken even below zero (the use above the estimate): the next refill takes it from the fleet. */
void rate_lease_charge(struct rate_lease *, double n, int64_t now_ms);
/* What the worker should take now for now's minute (*ahead 0) or the next (*ahead 1),
 * to bring the lease up to slice: 0 when it holds enough. ahead_ms: how close to the end
 * of a minute the next one is taken. */
double
rate_lease_want(struct rate_lease *, int64_t now_ms, int64_t ahead_ms, int *ahead, int64_t *minute);
/* 1 - held / slice, within 0..1 (0 before the first refill). */
double rate_lease_usage(struct rate_lease *, int64_t now_ms);
/* Add what the store granted for minute. */
void rate_lease_add(struct rate_lease *, int64_t minute, double granted);

#endif
