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

#endif
