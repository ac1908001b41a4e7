/*
 * router_setup.c: a router's birth and death (router_new, router_free: the
 * engine, the worker, the probes, the overrides from the database), the
 * event log's sink to the database, router_generate() (the blocking wrapper
 * over router_submit). The floor above every other router file: nothing
 * else calls into it but through router.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"
#include "store/store.h"
#include "util/waiter.h"
#include "util/workq.h"

struct event_job {
	struct router *r;
	struct event ev;
};

static void
job_persist_event(void *arg)
{
	struct event_job *j = arg;

	store_event_add(j->r->store, j->ev.time_ms, event_kind_name(j->ev.kind),
	    j->ev.provider[0] != '\0' ? j->ev.provider : NULL, j->ev.message);
	free(j);
}

/* Every ring event also goes to the database's event log, off the caller's thread. */
static void
event_sink(void *arg, const struct event *ev)
{
	struct router *r = arg;
	struct event_job *j = xmalloc(sizeof *j);

	j->r = r;
	j->ev = *ev;
	workq_push(r->wq, job_persist_event, j);
}

/* Setup and teardown. */

struct router *
router_new(const struct config *cfg, const struct router_opts *opts, char **cause)
{
	struct router *r;
	uint64_t now;

	if (cfg->n_providers == 0) {
		*cause = xstrdup("no providers configured (set ANTHROPIC_API_KEY or "
		                 "OPENAI_API_KEY, or give --config FILE)");
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->idle, NULL);
	r->cfg = cfg;
	if (opts != NULL)
		r->opts = *opts;
	if (r->opts.backoff_base_ms <= 0)
		r->opts.backoff_base_ms = 500;
	if (r->opts.backoff_max_ms <= 0)
		r->opts.backoff_max_ms = 8000;
	rng_seed(&r->rng,
	    r->opts.seed != 0 ? r->opts.seed : clock_mono_us() ^ (uint64_t)clock_wall_ms());
	r->events = event_ring_new(1024);
	now = rt_now(r);
	r->n_providers = cfg->n_providers;
	r->providers = xcalloc(r->n_providers, sizeof *r->providers);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		p->conf = &cfg->providers[i];
		p->adapter = adapter_for_provider(p->conf);
		p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->priority = p->conf->priority;
		p->weight = p->conf->weight;
		breaker_init(&p->breaker, cfg->breaker.failure_threshold, cfg->breaker.cooldown_ms,
		    cfg->breaker.half_open_max);
		bucket_init(&p->rpm, p->conf->rate_limit_rpm, now);
		bucket_init(&p->tpm, p->conf->rate_limit_tpm, now);
		p->fleet = r->opts.store;
		rate_lease_init(&p->rpm_lease);
		rate_lease_init(&p->tpm_lease);
		hist_init(&p->latency);
	}
	hist_init(&r->latency);
	r->store = r->opts.store;
	r->wq = workq_start("router-worker");
	if (r->store != NULL) {
		store_overrides(r->store, rt_override_apply, r);
		event_ring_set_sink(r->events, event_sink, r);
	}
	if (r->opts.engine != NULL) {
		r->engine = r->opts.engine;
	} else {
		r->engine = http_engine_new(NULL);
		r->own_engine = 1;
	}
	rt_keys_new(r);
	rt_probe_schedule(r);
	rt_sync_start(r);
	return r;
}

/* Engine thread, once the router is closing: cancel every live request. */
static void
on_close_all(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->mu);
	for (struct rreq *q = r->live; q != NULL; q = q->next) {
		if (!q->started) {
			q->cancel_pending = 1;
			continue;
		}
		q->cancel = 1;
		for (size_t i = 0; i < q->n_live; i++)
			if (q->live[i]->http_id != 0)
				http_cancel(r->engine, q->live[i]->http_id);
		if (q->timer_id != 0 && http_cancel_timer(r->engine, q->timer_id)) {
			q->timer_id = 0;
			http_call_later(r->engine, 0, rt_on_retry_timer, q);
		}
	}
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	rt_sync_unhook(r);
	pthread_mutex_lock(&r->mu);
	r->closing = 1;
	if (r->probe_timer != 0)
		http_cancel_timer(r->engine, r->probe_timer);
	r->probe_timer = 0;
	rt_sync_stop_locked(r);
	/* Requests belong to the engine thread: it cancels them (and counts as active
	 * until it has, so the router outlives the call). */
	if (r->active > 0) {
		r->active++;
		http_call_later(r->engine, 0, on_close_all, r);
	}
	for (size_t i = 0; i < r->n_providers; i++)
		if (r->providers[i].probe_http != 0)
			http_cancel(r->engine, r->providers[i].probe_http);
	while (r->active > 0)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
	if (r->own_engine)
		http_engine_free(r->engine);
	event_ring_set_sink(r->events, NULL, NULL);
	workq_stop(r->wq, NULL); /* the events still queued are written first */
	rt_sync_free(r);         /* the sync thread refreshes the keyring: stopped first */
	rt_limits_return(r);
	rt_keys_free(r);
	event_ring_free(r->events);
	free(r->providers);
	free(r->drills);
	rt_requests_free(r);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->idle);
	free(r);
}

struct sync_wait {
	struct waiter w;
	llm_delta_cb deltas;
	void *arg;
};

static void
sync_delta(void *arg, const struct llm_delta *d)
{
	struct sync_wait *w = arg;

	if (w->deltas != NULL)
		w->deltas(w->arg, d);
}

static void
sync_done(void *arg, struct router_result *res)
{
	struct sync_wait *s = arg;

	waiter_done(&s->w, 0, res);
}

int
router_generate(struct router *r, const struct llm_request *req, llm_delta_cb deltas, void *arg,
    struct router_result *out)
{
	struct sync_wait s;
	struct router_result *res;

	waiter_init(&s.w);
	s.deltas = deltas;
	s.arg = arg;
	router_submit(r, req, deltas != NULL ? sync_delta : NULL, sync_done, &s);
	waiter_wait(&s.w);
	res = s.w.ptr;
	*out = *res;
	free(res);
	return out->cls == LLM_OK ? 0 : -1;
}
