/*
 * console_source_local.c: the source for the router inside this process. A
 * poll is a router snapshot (with the sliding window) and, every 2 s, the
 * store's budget and cache figures (SQLite reads); actions are the router's
 * operator calls and the cache flush, done at once, their outcome queued for
 * results like a remote source's. Everything runs on the UI thread.
 */
#include "console/console_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/cache.h"
#include "llmdeck.h"
#include "config/config.h"
#include "store/store.h"
#include "util/util.h"

#define LOCAL_RESULTS 16
#define LOCAL_STORE_MS 2000

struct local {
	struct source base; /* first: the ops cast back */
	struct router *router;
	struct store *store;
	const struct config *cfg;
	char listen[128];
	char instance[64];         /* the gateway's instance id when serving, else "local" */
	struct source_frame frame; /* built by poll, moved out by take */
	int have_frame;
	uint64_t event_seq; /* the last event handed out */
	/* The store's figures, read every LOCAL_STORE_MS. */
	struct source_budget budget;
	struct source_cache cache;
	uint64_t next_store_ms;
	struct source_result results[LOCAL_RESULTS];
	size_t n_results;
};

/* The API key's variable when it is unset (the provider cannot authenticate). */
static void
local_no_key(const struct provider_conf *pc, char *out, size_t len)
{
	const char *entra = pc->entra_token_env != NULL ? getenv(pc->entra_token_env) : NULL;

	out[0] = '\0';
	if (pc->api_key_env != NULL && pc->api_key == NULL && (entra == NULL || *entra == '\0'))
		strlcpy_(out, pc->api_key_env, len);
}

static void
local_store_figures(struct local *l, const struct router_snapshot *s)
{
	const struct budget_conf *bc = &l->cfg->budget;
	struct budget_status bs;
	struct cache_stats cs;
	char *cause = NULL;

	if (l->store == NULL || clock_mono_ms() < l->next_store_ms)
		goto rates;
	l->next_store_ms = clock_mono_ms() + LOCAL_STORE_MS;
	if (budget_get_status(l->store, bc, &bs, &cause) == 0) {
		struct source_budget *b = &l->budget;
		memset(b, 0, sizeof *b);
		b->present = 1;
		b->daily_usd = bc->daily_usd;
		b->spent_usd = bs.spent_usd;
		b->alert_threshold = bc->alert_threshold;
		b->alert_crossed = bs.alert_crossed;
		b->hard_stop = bc->hard_stop;
		b->burn_per_hour = bs.burn_60m_per_hour;
		b->burn_5m_per_hour = bs.burn_5m_per_hour;
		b->projected_usd = bs.projected_usd;
		b->under_pressure = bs.under_pressure;
		b->pressure = bc->pressure;
		if (bc->n_ladder > 0)
			snprintf(b->downgrade, sizeof b->downgrade, "%s -> %s%s",
			    bc->ladder[0].from, bc->ladder[0].to, bc->n_ladder > 1 ? " ..." : "");
	}
	free(cause);
	if (cache_get_stats(l->store, &cs) == 0) {
		l->cache.present = 1;
		l->cache.entries = cs.entries;
		l->cache.hits = cs.hits;
		l->cache.misses = cs.misses;
	}
rates:
	l->cache.enabled = l->cfg->cache.enabled;
	l->cache.ttl_seconds = l->cfg->cache.ttl_seconds;
	l->cache.max_temperature = l->cfg->cache.max_temperature;
	l->cache.hit_rate_cacheable = l->cache.hits + l->cache.misses > 0
	    ? (double)l->cache.hits / (double)(l->cache.hits + l->cache.misses)
	    : -1;
	l->cache.hit_rate_all = s->requests > 0 ? (double)s->cache_hits / (double)s->requests : -1;
}

static void
local_poll(struct source *src)
{
	struct local *l = (struct local *)src;
	struct source_frame *f = &l->frame;
	char host[128];

	if (l->have_frame)
		source_frame_free(f);
	memset(f, 0, sizeof *f);
	router_snapshot_window(l->router, &f->snap, SOURCE_WINDOW_S);
	f->extra = xcalloc(f->snap.n_providers + 1, sizeof *f->extra);
	for (size_t i = 0; i < f->snap.n_providers; i++) {
		const struct provider_snapshot *p = &f->snap.providers[i];
		const struct provider_conf *pc = config_provider(l->cfg, p->name);

		if (pc != NULL) {
			size_t off = 0;
			local_no_key(pc, f->extra[i].no_key, sizeof f->extra[i].no_key);
			for (size_t m = 0; m < pc->n_models && off < sizeof f->extra[i].models; m++)
				off += (size_t)snprintf(f->extra[i].models + off,
				    sizeof f->extra[i].models - off, "%s%s", m ? " " : "",
				    pc->models[m]);
		}
		f->extra[i].p50_us = hist_quantile(&p->latency, 0.5);
		f->extra[i].p95_us = hist_quantile(&p->latency, 0.95);
		f->extra[i].p99_us = hist_quantile(&p->latency, 0.99);
	}
	strlcpy_(f->inst.id, l->instance, sizeof f->inst.id);
	f->inst.pid = (long)getpid();
	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		strlcpy_(f->inst.host, host, sizeof f->inst.host);
	}
	strlcpy_(f->inst.version, LLMDECK_VERSION, sizeof f->inst.version);
	if (l->cfg->path != NULL)
		strlcpy_(f->inst.config, l->cfg->path, sizeof f->inst.config);
	if (l->store != NULL) {
		struct store_health h;

		strlcpy_(f->inst.database, store_path(l->store), sizeof f->inst.database);
		store_health(l->store, &h);
		strlcpy_(f->inst.store_status,
		    h.spool_full    ? "spool_full"
		        : h.failing ? "failing"
		                    : "ok",
		    sizeof f->inst.store_status);
		strlcpy_(f->inst.store_reason, h.reason, sizeof f->inst.store_reason);
	}
	strlcpy_(f->inst.listen, l->listen, sizeof f->inst.listen);
	local_store_figures(l, &f->snap);
	f->budget = l->budget;
	f->cache = l->cache;
	l->have_frame = 1;
}

static int
local_take(struct source *src, struct source_frame *out)
{
	struct local *l = (struct local *)src;

	if (!l->have_frame)
		return 0;
	source_frame_free(out);
	*out = l->frame;
	memset(&l->frame, 0, sizeof l->frame);
	l->have_frame = 0;
	return 1;
}

static size_t
local_events(struct source *src, struct source_event *out, size_t max)
{
	struct local *l = (struct local *)src;
	struct event ev[64];
	size_t n, total = 0;

	while (total < max) {
		size_t want = max - total < nitems(ev) ? max - total : nitems(ev);
		n = event_since(router_events(l->router), l->event_seq, ev, want);
		for (size_t i = 0; i < n; i++) {
			memset(&out[total], 0, sizeof out[total]);
			out[total].ev = ev[i];
			/* Another process's, through the shared database: its instance. */
			strlcpy_(out[total].instance, ev[i].instance, sizeof out[total].instance);
			l->event_seq = ev[i].seq;
			total++;
		}
		if (n < want)
			break;
	}
	return total;
}

static void
local_result(struct local *l, enum source_action a, const char *provider, int ok, const char *text)
{
	struct source_result *r;

	if (l->n_results == LOCAL_RESULTS) {
		memmove(l->results, l->results + 1, sizeof l->results[0] * (LOCAL_RESULTS - 1));
		l->n_results--;
	}
	r = &l->results[l->n_results++];
	memset(r, 0, sizeof *r);
	r->action = a;
	strlcpy_(r->provider, provider != NULL ? provider : "", sizeof r->provider);
	r->ok = ok;
	strlcpy_(r->text, text, sizeof r->text);
}

/* The operator call for a; 0, or -1 with *cause. *what says what changed. */
static int
local_call(struct local *l, enum source_action a, const char *p, double value, char *what,
    size_t len, char **cause)
{
	int n;

	switch (a) {
	case SA_DRAIN:
		snprintf(what, len, "%s drained: new traffic goes to the next provider", p);
		return router_set_admin(l->router, p, ADMIN_DRAINED, cause);
	case SA_ENABLE:
		snprintf(what, len, "%s enabled: it takes traffic again", p);
		return router_set_admin(l->router, p, ADMIN_ENABLED, cause);
	case SA_DISABLE:
		snprintf(what, len, "%s disabled", p);
		return router_set_admin(l->router, p, ADMIN_DISABLED, cause);
	case SA_RESET:
		snprintf(what, len, "%s: breaker reset to closed", p);
		return router_reset_breaker(l->router, p, cause);
	case SA_PROBE:
		snprintf(what, len, "%s: health probe sent", p);
		return router_probe(l->router, p, cause);
	case SA_CLEAR_OVERRIDES:
		snprintf(what, len, "overrides of %s reset to the config",
		    p != NULL && *p != '\0' ? p : "every provider");
		return router_clear_overrides(l->router, p != NULL && *p != '\0' ? p : NULL, cause);
	case SA_PRIORITY:
		snprintf(what, len, "%s: priority %d (lower is preferred)", p, (int)value);
		return router_set_priority(l->router, p, (int)value, cause);
	case SA_WEIGHT:
		snprintf(what, len, "%s: weight %g", p, value);
		return router_set_weight(l->router, p, value, cause);
	case SA_FLUSH:
		if (l->store == NULL) {
			*cause = xasprintf("flush: no database");
			return -1;
		}
		if ((n = cache_flush(l->store)) < 0) {
			*cause = xasprintf("flush: the cache could not be flushed");
			return -1;
		}
		event_add(router_events(l->router), EV_OPERATOR, NULL,
		    "operator: cache flushed (%d entries removed)", n);
		l->next_store_ms = 0;
		snprintf(what, len, "cache flushed: %d entries removed", n);
		return 0;
	case SA_DRILL:
	case SA__COUNT: break;
	}
	*cause = xasprintf("unknown action");
	return -1;
}

static int
local_act(struct source *src, enum source_action a, const char *provider, double value,
    char **cause)
{
	struct local *l = (struct local *)src;
	char what[512];

	if (local_call(l, a, provider, value, what, sizeof what, cause) != 0)
		return -1;
	local_result(l, a, provider, 1, what);
	return 0;
}

static size_t
local_results(struct source *src, struct source_result *out, size_t max)
{
	struct local *l = (struct local *)src;
	size_t n = l->n_results < max ? l->n_results : max;

	memcpy(out, l->results, n * sizeof *out);
	memmove(l->results, l->results + n, (l->n_results - n) * sizeof *out);
	l->n_results -= n;
	return n;
}

static void
local_link(struct source *src, struct source_link *out)
{
	(void)src;
	memset(out, 0, sizeof *out);
	out->up = out->ever_up = 1;
	out->last_ok_ms = clock_wall_ms();
}

static void
local_free(struct source *src)
{
	struct local *l = (struct local *)src;

	if (l->have_frame)
		source_frame_free(&l->frame);
	free(l);
}

static const struct source_ops local_ops = {
    .kind = "local",
    .poll = local_poll,
    .take = local_take,
    .events = local_events,
    .act = local_act,
    .results = local_results,
    .link = local_link,
    .free = local_free,
};

struct source *
source_local_new(struct router *r, struct store *st, const struct config *cfg, const char *listen,
    const char *instance)
{
	struct local *l = xcalloc(1, sizeof *l);

	l->base.ops = &local_ops;
	strlcpy_(l->base.name, "local", sizeof l->base.name);
	l->router = r;
	l->store = st;
	l->cfg = cfg;
	strlcpy_(l->listen, listen != NULL ? listen : "", sizeof l->listen);
	strlcpy_(l->instance, instance != NULL ? instance : "local", sizeof l->instance);
	l->cache.hit_rate_all = l->cache.hit_rate_cacheable = -1;
	return &l->base;
}
