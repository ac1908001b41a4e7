/*
 * router_snapshot.c: a consistent copy of the router's state for the
 * console, /metrics and the admin API, taken under the lock and returned
 * without holding it; and the router's accessors.
 */
#include <stdlib.h>
#include <string.h>

#include "router_priv.h"

void
router_snapshot(struct router *r, struct router_snapshot *s)
{
	uint64_t now;
	uint64_t total = 0;

	memset(s, 0, sizeof *s);
	s->time_ms = clock_wall_ms();
	s->providers = xcalloc(r->n_providers, sizeof *s->providers);
	s->n_providers = r->n_providers;
	pthread_mutex_lock(&r->mu);
	now = router_now(r);
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
		ps->usable = provider_usable(p, 0, now);
		ps->share = total > 0 ? (double)p->requests / (double)total : 0;
		ps->rpm_usage = bucket_usage(&p->rpm, now);
		ps->tpm_usage = bucket_usage(&p->tpm, now);
		ps->rate_limit_rpm = p->conf->rate_limit_rpm;
		ps->rate_limit_tpm = p->conf->rate_limit_tpm;
		ps->requests = p->requests;
		ps->successes = p->successes;
		ps->errors = p->errors;
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
	}
	s->requests = r->requests;
	s->answered = r->answered;
	s->failed = r->failed;
	s->cancelled = r->cancelled;
	s->failovers = r->failovers;
	s->hedges = r->hedges;
	s->hedges_won = r->hedges_won;
	s->attempts = r->total_attempts;
	s->cache_hits = r->cache_hits;
	s->in_flight = r->in_flight;
	s->cost_usd = r->cost_usd;
	s->latency = r->latency;
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

struct store *
router_store(struct router *r)
{
	return r->store;
}

struct http_engine *
router_engine(struct router *r)
{
	return r->engine;
}
