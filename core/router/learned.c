/*
 * learned.c: a provider's recent first-token or whole-answer times (see
 * learned.h). Quantiles come from a ring of the latest LEARN_MAX_SAMPLES
 * samples, those of the last LEARNED_WINDOW_S seconds sorted; the result is
 * kept, so a busy provider is sorted at most ten times a second.
 */
#include <math.h>
#include <stdlib.h>

#include "router/learned.h"

void
learned_record(struct learned *l, uint64_t now_ms, uint64_t latency_us)
{
	double cur = learned_ewma_us(l, now_ms);

	l->sample_us[l->next] = latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
	l->sample_ms[l->next] = now_ms;
	l->next = (l->next + 1) % LEARN_MAX_SAMPLES;
	if (l->n < LEARN_MAX_SAMPLES)
		l->n++;
	l->gen++;
	/* Peak EWMA: a slower answer is believed at once; a faster one pulls the
	 * (decayed) estimate halfway down. */
	if ((double)latency_us >= cur)
		l->ewma_us = (double)latency_us;
	else
		l->ewma_us = (cur + (double)latency_us) / 2;
	l->ewma_ms = now_ms;
}

double
learned_ewma_us(const struct learned *l, uint64_t now_ms)
{
	double dt = now_ms > l->ewma_ms ? (double)(now_ms - l->ewma_ms) : 0;

	/* Idle, it decays toward zero, so a provider once slow is tried again
	 * (Linkerd's and tower's peak EWMA decay the same way). */
	return l->ewma_us * exp(-dt / LEARNED_DECAY_MS);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank of quantile q among n sorted values. */
static uint64_t
rank(const uint32_t *v, uint32_t n, double q)
{
	uint32_t k = (uint32_t)ceil(q * n);

	return v[k > 0 ? k - 1 : 0];
}

uint32_t
learned_quantiles(struct learned *l, uint64_t now_ms, uint64_t *p95_us, uint64_t *p99_us)
{
	uint32_t v[LEARN_MAX_SAMPLES], n = 0;
	uint64_t since = now_ms > LEARNED_WINDOW_S * 1000 ? now_ms - LEARNED_WINDOW_S * 1000 : 0;

	if (l->q_valid && now_ms >= l->q_ms && now_ms - l->q_ms < 1000 &&
	    (l->q_gen == l->gen ||
	        (l->q_n >= LEARN_MAX_SAMPLES / 4 && now_ms - l->q_ms < 100 &&
	            l->gen - l->q_gen < 16)))
		goto out;
	for (uint32_t i = 0; i < l->n; i++)
		if (l->sample_ms[i] >= since && l->sample_ms[i] <= now_ms)
			v[n++] = l->sample_us[i];
	qsort(v, n, sizeof v[0], cmp_u32);
	l->q_n = n;
	l->q_p95_us = n > 0 ? rank(v, n, 0.95) : 0;
	l->q_p99_us = n > 0 ? rank(v, n, 0.99) : 0;
	l->q_gen = l->gen;
	l->q_ms = now_ms;
	l->q_valid = 1;
out:
	if (p95_us != NULL)
		*p95_us = l->q_p95_us;
	if (p99_us != NULL)
		*p99_us = l->q_p99_us;
	return l->q_n;
}

uint64_t
learned_timeout_ms(struct learned *l, const struct learn_conf *c, uint64_t now_ms)
{
	uint64_t p99, ms;

	if (!c->enabled || learned_quantiles(l, now_ms, NULL, &p99) < (uint32_t)c->min_samples)
		return 0;
	ms = (uint64_t)ceil((double)p99 * c->multiple / 1000.0);
	return ms > (uint64_t)c->floor_ms ? ms : (uint64_t)c->floor_ms;
}

uint64_t
learned_hedge_ms(struct learned *l, const struct learn_conf *c, uint64_t now_ms)
{
	uint64_t p95, ms;

	if (learned_quantiles(l, now_ms, &p95, NULL) < (uint32_t)c->min_samples)
		return 0;
	ms = (p95 + 999) / 1000;
	return ms > (uint64_t)c->hedge_min_ms ? ms : (uint64_t)c->hedge_min_ms;
}
