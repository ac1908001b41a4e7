/*
 * router_snapshot.c: a consistent copy of the router's state for the
 * console, /metrics and the admin API, taken under the lock and returned
 * without holding it; the windowed numbers (window.h) of the providers and
 * the router; and the router's accessors.
 *
 * router_snapshot_window() asks for windowed numbers over window_s seconds
 * (1..ROUTER_WINDOW_MAX; more is clamped); router_snapshot() and a window of
 * 0 leave every struct window_stats empty.
 */
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"
#include "store/store.h"

void
rt_window_record_request_locked(struct router *r, enum llm_errclass cls, uint64_t latency_us)
{
	window_record(&r->window, rt_now(r), cls, latency_us);
}

void
router_count_refused(struct router *r, enum llm_errclass cls)
{
	pthread_mutex_lock(&r->mu);
	rt_window_record_request_locked(r, cls == LLM_OK ? LLM_ERR_NO_PROVIDER : cls, 0);
	pthread_mutex_unlock(&r->mu);
}

void
rt_flying_add_locked(struct router *r, struct attempt *a)
{
	a->fly_prev = NULL;
	a->fly_next = r->flying;
	if (r->flying != NULL)
		r->flying->fly_prev = a;
	r->flying = a;
}

void
rt_flying_remove_locked(struct router *r, struct attempt *a)
{
	if (a->fly_prev == NULL && r->flying != a)
		return; /* not on the list */
	if (a->fly_prev != NULL)
		a->fly_prev->fly_next = a->fly_next;
	else
		r->flying = a->fly_next;
	if (a->fly_next != NULL)
		a->fly_next->fly_prev = a->fly_prev;
	a->fly_prev = a->fly_next = NULL;
}

/* Ages of the attempts in flight per provider, and of the requests waiting (r->mu held). */
static void
snapshot_in_flight_locked(struct router *r, struct router_snapshot *s, struct histogram *waiting)
{
	uint64_t now_us = clock_mono_us();
	/* A provider with no answer yet is held to the router's answered requests. */
	uint64_t all99 =
	    r->latency.total > 0 ? hist_quantile(&r->latency, 0.99) : ROUTER_SLOW_NONE_MS * 1000ULL;

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider_snapshot *ps = &s->providers[i];
		uint64_t p99 = r->providers[i].latency.total > 0
		    ? hist_quantile(&r->providers[i].latency, 0.99)
		    : all99;

		ps->slow_after_us =
		    p99 < ROUTER_SLOW_MIN_MS * 1000ULL ? ROUTER_SLOW_MIN_MS * 1000ULL : p99;
	}
	for (struct attempt *a = r->flying; a != NULL; a = a->fly_next) {
		struct provider_snapshot *ps;
		uint64_t age;

		if (a->idx < 0 || (size_t)a->idx >= r->n_providers)
			continue;
		ps = &s->providers[a->idx];
		age = now_us > a->start_us ? now_us - a->start_us : 0;
		if (age > ps->in_flight_oldest_us)
			ps->in_flight_oldest_us = age;
		if (age > ps->slow_after_us)
			ps->in_flight_slow++;
	}
	for (struct rreq *q = r->live; q != NULL; q = q->next) {
		uint64_t age = now_us > q->start_us ? now_us - q->start_us : 0;

		if (q->req.operator_test)
			continue; /* not what clients get */

		if (age > s->in_flight_oldest_us)
			s->in_flight_oldest_us = age;
		if (waiting != NULL)
			hist_record(waiting, age > 0 ? age : 1);
	}
}

/* The windows of every provider and of the router, with r->mu held. */
static void
snapshot_windows_locked(struct router *r, struct router_snapshot *s, uint64_t now)
{
	uint64_t attempts = 0;

	for (size_t i = 0; i < r->n_providers; i++) {
		struct window_stats *w = &s->providers[i].window;

		window_read(&r->providers[i].window, now, s->window_s, w, NULL);
		attempts += w->requests;
		s->window_attempts_failed += w->errors;
	}
	for (size_t i = 0; i < r->n_providers; i++) {
		struct window_stats *w = &s->providers[i].window;

		w->share = attempts > 0 ? (double)w->requests / (double)attempts : 0;
	}
	window_read(&r->window, now, s->window_s, &s->window, &s->window_cancelled);
}

void
router_snapshot(struct router *r, struct router_snapshot *s)
{
	router_snapshot_window(r, s, 0);
}

/* The engine's own counters (it has its own lock). */
static void
router_snapshot_upstream(struct router *r, struct router_snapshot *s)
{
	struct http_stats st;

	http_get_stats(r->engine, &st);
	s->upstream_transfers = st.transfers;
	s->upstream_connections = st.connections;
	s->upstream_tls_handshakes = st.tls_handshakes;
	s->upstream_http2_transfers = st.http2_transfers;
}

/* What p's latency teaches now (r->mu held): learned.h. */
static void
router_snapshot_learned(struct router *r, struct provider *p, struct provider_snapshot *ps,
    uint64_t now)
{
	const struct learn_conf *c = &r->cfg->learn;
	double own = p->conf->first_token_timeout_seconds * 1000.0;
	uint64_t t;

	/* The configured first_token_timeout_seconds is the ceiling (the automatic
	 * one depends on each request's time left). */
	t = learned_timeout_ms(&p->learned[0], c, now);
	ps->learned_timeout_ms = own > 0 && (double)t > own ? (uint64_t)own : t;
	t = learned_timeout_ms(&p->learned[1], c, now);
	ps->learned_first_token_timeout_ms = own > 0 && (double)t > own ? (uint64_t)own : t;
	ps->learned_hedge_ms = learned_hedge_ms(&p->learned[0], c, now);
	ps->learned_first_token_hedge_ms = learned_hedge_ms(&p->learned[1], c, now);
	ps->learned_samples = learned_quantiles(&p->learned[0], now, NULL, NULL);
	ps->learned_first_token_samples = learned_quantiles(&p->learned[1], now, NULL, NULL);
	/* The EWMA of the kind (whole answers, streams) last answered. */
	ps->latency_ewma_ms =
	    learned_ewma_us(&p->learned[p->learned[1].ewma_ms > p->learned[0].ewma_ms], now) /
	    1000.0;
}

void
router_snapshot_window(struct router *r, struct router_snapshot *s, int window_s)
{
	uint64_t now;
	uint64_t total = 0;

	memset(s, 0, sizeof *s);
	s->window_s = window_s <= 0        ? 0
	    : window_s > ROUTER_WINDOW_MAX ? ROUTER_WINDOW_MAX
	                                   : window_s;
	s->time_ms = clock_wall_ms();
	router_snapshot_upstream(r, s);
	s->has_store = r->store != NULL;
	rt_store_watch(r, &s->store);
	s->providers = xcalloc(r->n_providers, sizeof *s->providers);
	s->n_providers = r->n_providers;
	pthread_mutex_lock(&r->mu);
	now = rt_now(r);
	for (size_t i = 0; i < r->n_providers; i++)
		total += r->providers[i].requests;
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		struct provider_snapshot *ps = &s->providers[i];
		strlcpy_(ps->name, p->conf->name, sizeof ps->name);
		strlcpy_(ps->kind,
		    p->conf->kind == PROVIDER_OPENAI ? provider_flavor_name(p->conf->flavor)
		                                     : provider_kind_name(p->conf->kind),
		    sizeof ps->kind);
		strlcpy_(ps->base_url, p->conf->base_url, sizeof ps->base_url);
		ps->admin = p->admin;
		breaker_would_allow(&p->breaker, now);
		ps->breaker = p->breaker.state;
		ps->cooldown_left_ms = breaker_cooldown_left_ms(&p->breaker, now);
		if (p->blocked_until_ms > now && p->blocked_until_ms - now > ps->cooldown_left_ms)
			ps->cooldown_left_ms = p->blocked_until_ms - now;
		ps->consecutive_failures = p->breaker.consecutive_failures;
		ps->priority = p->priority;
		ps->weight = p->weight;
		ps->priority_overridden = p->priority_overridden;
		ps->weight_overridden = p->weight_overridden;
		ps->admin_overridden = p->admin_overridden;
		ps->priority_scoped = p->priority_scoped;
		ps->weight_scoped = p->weight_scoped;
		ps->admin_scoped = p->admin_scoped;
		ps->usable = rt_provider_usable(p, 0, now);
		ps->share = total > 0 ? (double)p->requests / (double)total : 0;
		ps->rpm_usage = bucket_usage(&p->rpm, now);
		ps->tpm_usage = bucket_usage(&p->tpm, now);
		if (p->fleet != NULL) { /* the lease's part used of what one refill tops up to */
			ps->rpm_usage = rate_lease_usage(&p->rpm_lease, store_now_ms(p->fleet));
			ps->tpm_usage = rate_lease_usage(&p->tpm_lease, store_now_ms(p->fleet));
		}
		ps->rate_limit_rpm = p->conf->rate_limit_rpm;
		ps->rate_limit_tpm = p->conf->rate_limit_tpm;
		ps->requests = p->requests;
		ps->successes = p->successes;
		ps->errors = p->errors;
		s->attempts_failed += p->errors;
		memcpy(ps->errors_by_class, p->errors_by_class, sizeof ps->errors_by_class);
		ps->in_flight = p->in_flight;
		ps->input_tokens = p->input_tokens;
		ps->output_tokens = p->output_tokens;
		ps->cost_usd = p->cost_usd;
		ps->latency = p->latency;
		ps->n_recent = p->n_recent;
		for (size_t k = 0; k < p->n_recent; k++) {
			size_t at = (p->recent_next + RECENT_N - p->n_recent + k) % RECENT_N;
			ps->recent_ms[k] = p->recent[at];
		}
		ps->last_probe_ms = p->last_probe_ms;
		ps->last_probe_ok = p->last_probe_ok;
		ps->last_probe_latency_us = p->last_probe_latency_us;
		router_snapshot_learned(r, p, ps, now);
	}
	s->requests = r->requests;
	s->answered = r->answered;
	s->failed = r->failed;
	s->cancelled = r->cancelled;
	s->failovers = r->failovers;
	s->hedges = r->hedges;
	s->hedges_won = r->hedges_won;
	s->admitted_fast = atomic_load(&r->admitted_fast);
	s->attempts = r->total_attempts;
	s->cache_hits = r->cache_hits;
	s->in_flight = r->in_flight;
	s->cost_usd = r->cost_usd;
	s->latency = r->latency;
	rt_drill_snapshot_locked(r, s, now);
	if (s->window_s > 0) {
		struct histogram open;

		snapshot_windows_locked(r, s, now);
		open = s->window.latency;
		snapshot_in_flight_locked(r, s, &open);
		s->open_p50_us = hist_quantile(&open, 0.50);
		s->open_p99_us = hist_quantile(&open, 0.99);
	} else {
		snapshot_in_flight_locked(r, s, NULL);
	}
	pthread_mutex_unlock(&r->mu);
}

void
router_snapshot_free(struct router_snapshot *s)
{
	free(s->providers);
	memset(s, 0, sizeof *s);
}

struct event_ring *
router_events(struct router *r)
{
	return r->events;
}

const struct config *
router_config(struct router *r)
{
	return r->cfg;
}

struct http_engine *
router_engine(struct router *r)
{
	return r->engine;
}
