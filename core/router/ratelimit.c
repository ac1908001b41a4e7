/*
 * ratelimit.c: continuously refilling token buckets (see ratelimit.h).
 * A bucket refills capacity tokens per 60000 ms, starts full and never holds
 * more than its capacity; capacity 0 means unlimited.
 */
#include <math.h>
#include <stdint.h>

#include "router/ratelimit.h"

#define BUCKET_PERIOD_MS 60000.0
/* Slack for floating-point error, so that waiting bucket_wait_ms() is enough. */
#define BUCKET_EPS 1e-9

static double
bucket_slack(double n)
{
	return BUCKET_EPS * (n > 1 ? n : 1);
}

static void
bucket_refill(struct token_bucket *tb, uint64_t now_ms)
{
	if (now_ms <= tb->last_ms)
		return; /* time going backwards refills nothing */
	if (tb->capacity > 0) {
		tb->tokens += tb->capacity * (double)(now_ms - tb->last_ms) / BUCKET_PERIOD_MS;
		if (tb->tokens > tb->capacity)
			tb->tokens = tb->capacity;
	}
	tb->last_ms = now_ms;
}

void
bucket_init(struct token_bucket *tb, double per_minute, uint64_t now_ms)
{
	if (!(per_minute > 0)) /* also NaN */
		per_minute = 0;
	tb->capacity = per_minute;
	tb->tokens = per_minute;
	tb->last_ms = now_ms;
}

void
bucket_set_rate(struct token_bucket *tb, double per_minute, uint64_t now_ms)
{
	double fill;

	if (!(per_minute > 0))
		per_minute = 0;
	bucket_refill(tb, now_ms);
	fill = tb->capacity > 0 ? tb->tokens / tb->capacity : 1;
	tb->capacity = per_minute;
	tb->tokens = fill * per_minute;
	if (now_ms > tb->last_ms)
		tb->last_ms = now_ms;
}

int
bucket_peek(struct token_bucket *tb, double n, uint64_t now_ms)
{
	if (tb->capacity == 0 || n <= 0)
		return 1;
	bucket_refill(tb, now_ms);
	return tb->tokens + bucket_slack(n) >= n;
}

int
bucket_take(struct token_bucket *tb, double n, uint64_t now_ms)
{
	if (!bucket_peek(tb, n, now_ms))
		return 0;
	if (tb->capacity > 0 && n > 0)
		tb->tokens -= n;
	return 1;
}

void
bucket_refund(struct token_bucket *tb, double n)
{
	if (tb->capacity == 0 || n <= 0)
		return;
	tb->tokens += n;
	if (tb->tokens > tb->capacity)
		tb->tokens = tb->capacity;
}

void
bucket_charge(struct token_bucket *tb, double n, uint64_t now_ms)
{
	if (tb->capacity == 0 || n <= 0)
		return;
	bucket_refill(tb, now_ms);
	tb->tokens -= n;
}

double
bucket_usage(struct token_bucket *tb, uint64_t now_ms)
{
	double u;

	if (tb->capacity == 0)
		return 0;
	bucket_refill(tb, now_ms);
	u = 1 - tb->tokens / tb->capacity;
	if (u < 0)
		return 0;
	if (u > 1)
		return 1;
	return u;
}

/* Would waiting ms after the last refill give n tokens, by take's arithmetic? */
static int
bucket_enough_after(const struct token_bucket *tb, double n, double ms)
{
	double t = tb->tokens + tb->capacity * ms / BUCKET_PERIOD_MS;

	if (t > tb->capacity)
		t = tb->capacity;
	return t + bucket_slack(n) >= n;
}

/* Exact: the least ms after which bucket_take(n) succeeds. UINT64_MAX when n
 * exceeds the capacity, since the bucket can never hold n. */
uint64_t
bucket_wait_ms(struct token_bucket *tb, double n, uint64_t now_ms)
{
	double ms;
	int i;

	if (tb->capacity == 0 || n <= 0)
		return 0;
	if (n > tb->capacity + bucket_slack(n))
		return UINT64_MAX;
	bucket_refill(tb, now_ms);
	if (bucket_enough_after(tb, n, 0))
		return 0;
	ms = ceil((n - tb->tokens) * BUCKET_PERIOD_MS / tb->capacity);
	/* Rounding may be off by one either way; settle it by the same sums. */
	for (i = 0; i < 4 && ms > 1 && bucket_enough_after(tb, n, ms - 1); i++)
		ms--;
	for (i = 0; i < 4 && !bucket_enough_after(tb, n, ms); i++)
		ms++;
	if (ms < 1)
		ms = 1;
	if (ms >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)ms;
}

void
rate_lease_init(struct rate_lease *l)
{
	l->minute = l->next_minute = -1;
	l->held = l->next_held = 0;
	l->slice = 0;
}

void
rate_lease_roll(struct rate_lease *l, int64_t now_ms)
{
	int64_t m = now_ms / 60000;

	if (l->minute == m)
		return;
	if (l->next_minute == m) {
		l->held = l->next_held;
	} else
		l->held = 0;
	l->minute = m;
	l->next_minute = -1;
	l->next_held = 0;
}

int
rate_lease_take(struct rate_lease *l, double n, int64_t now_ms, int take)
{
	rate_lease_roll(l, now_ms);
	if (n <= 0)
		return 1;
	if (l->held + bucket_slack(n) < n)
		return 0;
	if (take)
		l->held -= n;
	return 1;
}

void
rate_lease_refund(struct rate_lease *l, double n, int64_t now_ms)
{
	if (n > 0 && l->minute == now_ms / 60000)
		l->held += n;
}

void
rate_lease_charge(struct rate_lease *l, double n, int64_t now_ms)
{
	rate_lease_roll(l, now_ms);
	if (n > 0)
		l->held -= n;
}

double
rate_lease_want(struct rate_lease *l, int64_t now_ms, int64_t ahead_ms, int *ahead, int64_t *minute)
{
	rate_lease_roll(l, now_ms);
	*ahead = 0;
	*minute = l->minute;
	if (l->slice <= 0)
		return 0;
	if (l->held < l->slice / 2)
		return l->slice - l->held;
	if (now_ms % 60000 >= 60000 - ahead_ms && l->next_held < l->slice / 2) {
		*ahead = 1;
		*minute = l->minute + 1;
		return l->slice - (l->next_minute == *minute ? l->next_held : 0);
	}
	return 0;
}

void
rate_lease_add(struct rate_lease *l, int64_t minute, double granted)
{
	if (minute == l->minute)
		l->held += granted;
	else if (minute > l->minute) {
		if (l->next_minute != minute)
			l->next_held = 0;
		l->next_minute = minute;
		l->next_held += granted;
	}
}

double
rate_lease_usage(struct rate_lease *l, int64_t now_ms)
{
	double u;

	rate_lease_roll(l, now_ms);
	if (l->slice <= 0)
		return 0;
	u = 1 - l->held / l->slice;
	return u < 0 ? 0 : u > 1 ? 1 : u;
}
