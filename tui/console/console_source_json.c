/*
 * console_source_json.c: the admin API's JSON (GET /admin/v1/snapshot and
 * /admin/v1/events, error bodies) into the console's types. Lenient the way a
 * client of a newer or older server must be: a missing field is zero, an
 * unknown one is ignored, a value of the wrong type counts as missing; only a
 * body that is not a JSON object, or a snapshot without providers, is refused.
 * No I/O and no curses: tests/test_console_source.c runs it on recorded bodies.
 */
#include "console/console_source.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* The most providers a snapshot may list (more is refused as broken). */
#define SOURCE_MAX_PROVIDERS 1024

static const cJSON *
jget(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* A number, or def when absent, not a number or not finite. */
static double
jnum(const cJSON *o, const char *key, double def)
{
	const cJSON *v = jget(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return def;
	return v->valuedouble;
}

/* A count: a number in 0..2^53, else 0. */
static uint64_t
jcount(const cJSON *o, const char *key)
{
	double d = jnum(o, key, 0);

	return d > 0 && d <= 9007199254740992.0 ? (uint64_t)d : 0;
}

/* Milliseconds (may be fractional) as microseconds. */
static uint64_t
jms_us(const cJSON *o, const char *key)
{
	double d = jnum(o, key, 0);

	return d > 0 && d < 1e12 ? (uint64_t)(d * 1000.0 + 0.5) : 0;
}

static int
jbool(const cJSON *o, const char *key)
{
	const cJSON *v = jget(o, key);

	return cJSON_IsTrue(v) || (cJSON_IsNumber(v) && v->valuedouble != 0);
}

static void
jstr(const cJSON *o, const char *key, char *out, size_t len)
{
	const cJSON *v = jget(o, key);

	if (cJSON_IsString(v) && v->valuestring != NULL)
		strlcpy_(out, v->valuestring, len);
	else
		out[0] = '\0';
}

static enum breaker_state
parse_breaker(const char *s)
{
	if (strcmp(s, "open") == 0)
		return BREAKER_OPEN;
	if (strcmp(s, "half-open") == 0 || strcmp(s, "half_open") == 0)
		return BREAKER_HALF_OPEN;
	return BREAKER_CLOSED;
}

static enum provider_admin
parse_admin(const char *s)
{
	for (int a = ADMIN_ENABLED; a <= ADMIN_MISCONFIGURED; a++)
		if (strcmp(s, provider_admin_name((enum provider_admin)a)) == 0)
			return (enum provider_admin)a;
	return ADMIN_ENABLED;
}

/* A per-second series, oldest first, into out (ROUTER_WINDOW_MAX at most, the
 * newest kept); returns how many. */
static int
parse_series(const cJSON *a, uint32_t *out)
{
	const cJSON *v;
	int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0, skip, i = 0;

	memset(out, 0, sizeof(uint32_t) * ROUTER_WINDOW_MAX);
	skip = n > ROUTER_WINDOW_MAX ? n - ROUTER_WINDOW_MAX : 0;
	cJSON_ArrayForEach(v, a)
	{
		if (skip > 0) {
			skip--;
			continue;
		}
		if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 4e9)
			out[i] = (uint32_t)v->valuedouble;
		i++;
	}
	return i;
}

/* [[upper_ms, count], ...] into a histogram: each count at its bucket's upper edge. */
static void
parse_buckets(const cJSON *a, struct histogram *h)
{
	const cJSON *b;

	hist_init(h);
	if (!cJSON_IsArray(a))
		return;
	cJSON_ArrayForEach(b, a)
	{
		const cJSON *up = cJSON_GetArrayItem(b, 0), *cnt = cJSON_GetArrayItem(b, 1);
		uint64_t us, n;
		int k;

		if (!cJSON_IsNumber(up) || !cJSON_IsNumber(cnt) || !(up->valuedouble > 0) ||
		    !(up->valuedouble < 1e10) || !(cnt->valuedouble >= 1) ||
		    !(cnt->valuedouble < 1e15))
			continue;
		us = (uint64_t)(up->valuedouble * 1000.0);
		n = (uint64_t)cnt->valuedouble;
		k = hist_bucket_of(us > 1 ? us - 1 : 1);
		h->counts[k] += n;
		if (h->total == 0 || us - 1 < h->min_us)
			h->min_us = us > 1 ? us - 1 : 1;
		if (us > h->max_us)
			h->max_us = us;
		h->total += n;
		h->sum_us += n * us;
	}
}

/* A "window" object (a provider's or the requests'); returns the series' length. */
static int
parse_window(const cJSON *w, struct window_stats *out)
{
	int n;

	const cJSON *series = jget(w, "series");

	memset(out, 0, sizeof *out);
	out->requests = jcount(w, "requests");
	out->errors = jget(w, "errors") != NULL ? jcount(w, "errors") : jcount(w, "failed");
	out->share = jnum(w, "share", 0);
	if (out->share < 0 || out->share > 1)
		out->share = 0;
	out->p50_us = jms_us(w, "p50_ms");
	out->p95_us = jms_us(w, "p95_ms");
	out->p99_us = jms_us(w, "p99_ms");
	parse_buckets(jget(w, "buckets"), &out->latency);
	n = parse_series(jget(series, "requests"), out->series_requests);
	parse_series(jget(series, "errors") != NULL ? jget(series, "errors")
	                                            : jget(series, "failed"),
	    out->series_errors);
	return n;
}

static void
parse_provider(const cJSON *o, struct provider_snapshot *p, struct source_provider_extra *x)
{
	const cJSON *state = jget(o, "state"), *over = jget(o, "overridden");
	const cJSON *rl = jget(o, "rate_limit"), *tot = jget(o, "totals");
	const cJSON *probe = jget(o, "probe");
	char word[32];

	jstr(o, "name", p->name, sizeof p->name);
	jstr(o, "kind", p->kind, sizeof p->kind);
	jstr(o, "base_url", p->base_url, sizeof p->base_url);
	jstr(state, "breaker", word, sizeof word);
	p->breaker = parse_breaker(word);
	jstr(state, "admin", word, sizeof word);
	p->admin = parse_admin(word);
	p->cooldown_left_ms = jcount(o, "cooldown_ms");
	p->consecutive_failures = (int)jnum(o, "consecutive_failures", 0);
	p->priority = (int)jnum(o, "priority", 0);
	p->weight = jnum(o, "weight", 0);
	p->priority_overridden = jbool(over, "priority");
	p->weight_overridden = jbool(over, "weight");
	p->admin_overridden = jbool(over, "admin");
	p->priority_scoped = jbool(jget(o, "instance_scoped"), "priority");
	p->weight_scoped = jbool(jget(o, "instance_scoped"), "weight");
	p->admin_scoped = jbool(jget(o, "instance_scoped"), "admin");
	p->usable = jbool(o, "usable");
	p->in_flight = jcount(o, "in_flight");
	p->in_flight_slow = (uint32_t)jcount(o, "in_flight_slow");
	p->in_flight_oldest_us = jms_us(o, "in_flight_oldest_ms");
	p->slow_after_us = jms_us(o, "slow_after_ms");
	if (cJSON_IsObject(jget(o, "drill"))) {
		jstr(jget(o, "drill"), "fault", p->drill, sizeof p->drill);
		p->drill_rate = jnum(jget(o, "drill"), "rate", 0);
		p->drill_left_ms = jcount(jget(o, "drill"), "left_ms");
		jstr(jget(o, "drill"), "by", p->drill_by, sizeof p->drill_by);
		p->drill_scoped = jbool(jget(o, "instance_scoped"), "drill");
	}
	p->rate_limit_rpm = (int)jnum(rl, "rpm", 0);
	p->rate_limit_tpm = (int)jnum(rl, "tpm", 0);
	p->rpm_usage = jnum(rl, "rpm_use", 0);
	p->tpm_usage = jnum(rl, "tpm_use", 0);
	p->requests = jcount(tot, "requests");
	p->successes = jcount(tot, "successes");
	p->errors = jcount(tot, "errors");
	p->input_tokens = jcount(tot, "input_tokens");
	p->output_tokens = jcount(tot, "output_tokens");
	p->cost_usd = jnum(tot, "cost_usd", 0);
	x->p50_us = jms_us(tot, "p50_ms");
	x->p95_us = jms_us(tot, "p95_ms");
	x->p99_us = jms_us(tot, "p99_ms");
	hist_init(&p->latency);
	parse_window(jget(o, "window"), &p->window);
	if (cJSON_IsObject(probe)) {
		p->last_probe_ms = (int64_t)jnum(probe, "time_ms", 0);
		p->last_probe_ok = jbool(probe, "ok");
		p->last_probe_latency_us = jms_us(probe, "latency_ms");
	}
	jstr(o, "no_key", x->no_key, sizeof x->no_key);
	{
		const cJSON *m;
		size_t off = 0;
		cJSON_ArrayForEach(m, jget(o, "models"))
		{
			if (cJSON_IsString(m) && off < sizeof x->models)
				off += (size_t)snprintf(x->models + off, sizeof x->models - off,
				    "%s%s", off ? " " : "", m->valuestring);
		}
	}
}

static void
parse_instance(const cJSON *o, struct source_instance *in)
{
	jstr(o, "id", in->id, sizeof in->id);
	in->pid = (long)jnum(o, "pid", 0);
	jstr(o, "host", in->host, sizeof in->host);
	jstr(o, "version", in->version, sizeof in->version);
	in->started_ms = (int64_t)jnum(o, "started_ms", 0);
	jstr(o, "config", in->config, sizeof in->config);
	jstr(o, "database", in->database, sizeof in->database);
	jstr(o, "listen", in->listen, sizeof in->listen);
	jstr(o, "socket", in->socket, sizeof in->socket);
	jstr(o, "config_hash", in->config_hash, sizeof in->config_hash);
	in->draining = jbool(o, "draining");
	jstr(jget(o, "store"), "status", in->store_status, sizeof in->store_status);
	jstr(jget(o, "store"), "reason", in->store_reason, sizeof in->store_reason);
	jstr(jget(o, "store"), "id", in->store_id, sizeof in->store_id);
}

static void
parse_requests(const cJSON *o, struct router_snapshot *s)
{
	const cJSON *w = jget(o, "window");
	int n;

	s->requests = jcount(o, "total");
	s->answered = jcount(o, "answered");
	s->failed = jcount(o, "failed");
	s->cancelled = jcount(o, "cancelled");
	s->failovers = jcount(o, "failovers");
	s->hedges = jcount(o, "hedges");
	s->hedges_won = jcount(o, "hedges_won");
	s->attempts = jcount(o, "attempts");
	s->attempts_failed = jcount(o, "attempts_failed");
	s->in_flight = jcount(o, "in_flight");
	s->in_flight_oldest_us = jms_us(o, "in_flight_oldest_ms");
	s->cache_hits = jcount(o, "cache_hits");
	n = parse_window(w, &s->window);
	/* An older gateway has no open quantiles: the answered ones are the best there is. */
	s->open_p50_us =
	    jget(w, "open_p50_ms") != NULL ? jms_us(w, "open_p50_ms") : s->window.p50_us;
	s->open_p99_us =
	    jget(w, "open_p99_ms") != NULL ? jms_us(w, "open_p99_ms") : s->window.p99_us;
	/* No window_seconds: the series says how long the window is. */
	if (s->window_s == 0)
		s->window_s = n;
	s->window_attempts_failed = jcount(w, "attempts_failed");
	s->window_cancelled = jcount(w, "cancelled");
}

static void
parse_cache(const cJSON *o, struct source_cache *c)
{
	memset(c, 0, sizeof *c);
	c->hit_rate_all = c->hit_rate_cacheable = c->max_temperature = -1;
	if (!cJSON_IsObject(o))
		return;
	c->present = 1;
	c->enabled = jget(o, "enabled") == NULL || jbool(o, "enabled");
	c->entries = (int64_t)jcount(o, "entries");
	c->hits = (int64_t)jcount(o, "hits");
	c->misses = (int64_t)jcount(o, "misses");
	c->hit_rate_all = jnum(o, "hit_rate_all", -1);
	c->hit_rate_cacheable = jnum(o, "hit_rate_cacheable", -1);
	if (c->hit_rate_cacheable < 0 && c->hits + c->misses > 0)
		c->hit_rate_cacheable = (double)c->hits / (double)(c->hits + c->misses);
	c->ttl_seconds = (int)jnum(o, "ttl_seconds", 0);
	c->max_temperature = jnum(o, "max_temperature", -1);
}

static void
parse_budget(const cJSON *o, struct source_budget *b)
{
	const cJSON *v;

	memset(b, 0, sizeof *b);
	b->hard_stop = -1;
	b->pressure = -1;
	if (!cJSON_IsObject(o))
		return;
	b->present = 1;
	b->daily_usd = jnum(o, "daily_usd", jnum(o, "budget_usd", 0));
	b->spent_usd = jnum(o, "spent_usd", 0);
	b->alert_threshold = jnum(o, "alert_threshold", 0);
	b->alert_crossed = jget(o, "alert_crossed") != NULL
	    ? jbool(o, "alert_crossed")
	    : b->daily_usd > 0 && b->spent_usd >= b->alert_threshold * b->daily_usd;
	if ((v = jget(o, "hard_stop")) != NULL)
		b->hard_stop = cJSON_IsTrue(v);
	b->burn_per_hour = jnum(o, "rate_usd_per_hour", jnum(o, "burn_60m_per_hour", 0));
	b->burn_5m_per_hour = jnum(o, "rate_5m_usd_per_hour", -1);
	b->projected_usd = jnum(o, "projected_usd", 0);
	b->under_pressure = jbool(o, "under_pressure");
	b->pressure = jnum(o, "pressure", -1);
	jstr(o, "downgrade", b->downgrade, sizeof b->downgrade);
}

void
source_frame_free(struct source_frame *f)
{
	router_snapshot_free(&f->snap);
	free(f->extra);
	memset(f, 0, sizeof *f);
}

int
source_parse_snapshot(const char *json, size_t len, struct source_frame *out, char **cause)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *provs, *o;
	uint64_t total = 0;
	size_t n, i = 0;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(root)) {
		*cause = xasprintf("snapshot: not a JSON object");
		cJSON_Delete(root);
		return -1;
	}
	provs = jget(root, "providers");
	if (!cJSON_IsArray(provs) ||
	    (n = (size_t)cJSON_GetArraySize(provs)) > SOURCE_MAX_PROVIDERS) {
		*cause = xasprintf("snapshot: no \"providers\" list");
		cJSON_Delete(root);
		return -1;
	}
	parse_instance(jget(root, "instance"), &out->inst);
	out->snap.time_ms = (int64_t)jnum(root, "time_ms", 0);
	out->snap.window_s = (int)jnum(root, "window_seconds", 0);
	if (out->snap.window_s < 0 || out->snap.window_s > ROUTER_WINDOW_MAX)
		out->snap.window_s = ROUTER_WINDOW_MAX;
	out->snap.providers = xcalloc(n > 0 ? n : 1, sizeof *out->snap.providers);
	out->extra = xcalloc(n > 0 ? n : 1, sizeof *out->extra);
	cJSON_ArrayForEach(o, provs)
	{
		if (!cJSON_IsObject(o))
			continue;
		parse_provider(o, &out->snap.providers[i], &out->extra[i]);
		total += out->snap.providers[i].requests;
		out->snap.cost_usd += out->snap.providers[i].cost_usd;
		i++;
	}
	out->snap.n_providers = i;
	/* The totals' share, which the API leaves to the reader. */
	for (i = 0; i < out->snap.n_providers; i++)
		out->snap.providers[i].share =
		    total > 0 ? (double)out->snap.providers[i].requests / (double)total : 0;
	parse_requests(jget(root, "requests"), &out->snap);
	parse_cache(jget(root, "cache"), &out->cache);
	parse_budget(jget(root, "budget"), &out->budget);
	cJSON_Delete(root);
	return 0;
}

static enum event_kind
parse_event_kind(const char *s)
{
	for (int k = 0; k < EV__COUNT; k++)
		if (strcmp(s, event_kind_name((enum event_kind)k)) == 0)
			return (enum event_kind)k;
	return EV_INFO;
}

int
source_parse_events(const char *json, size_t len, struct source_event **events, size_t *n,
    uint64_t *last, char **cause)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *list, *o;
	struct source_event *v;
	size_t i = 0;
	char kind[32];

	*events = NULL;
	*n = 0;
	list = jget(root, "events");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(list)) {
		*cause = xasprintf("events: no \"events\" list");
		cJSON_Delete(root);
		return -1;
	}
	v = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *v);
	cJSON_ArrayForEach(o, list)
	{
		struct source_event *e = &v[i];

		if (!cJSON_IsObject(o))
			continue;
		e->ev.seq = jcount(o, "id");
		e->ev.time_ms = (int64_t)jnum(o, "time_ms", 0);
		jstr(o, "kind", kind, sizeof kind);
		e->ev.kind = parse_event_kind(kind);
		jstr(o, "provider", e->ev.provider, sizeof e->ev.provider);
		jstr(o, "message", e->ev.message, sizeof e->ev.message);
		jstr(o, "instance", e->instance, sizeof e->instance);
		if (e->ev.seq > *last)
			*last = e->ev.seq;
		i++;
	}
	if (jget(root, "last") != NULL && jcount(root, "last") > *last)
		*last = jcount(root, "last");
	cJSON_Delete(root);
	*events = v;
	*n = i;
	return 0;
}

char *
source_parse_error(const char *json, size_t len)
{
	cJSON *root = json != NULL ? cJSON_ParseWithLength(json, len) : NULL;
	const cJSON *m = jget(jget(root, "error"), "message");
	char *out = NULL;

	if (cJSON_IsString(m) && m->valuestring != NULL)
		out = xstrdup(m->valuestring);
	cJSON_Delete(root);
	return out;
}

const char *
source_action_name(enum source_action a)
{
	static const char *const names[SA__COUNT] = {
	    [SA_DRAIN] = "drain",
	    [SA_ENABLE] = "enable",
	    [SA_DISABLE] = "disable",
	    [SA_RESET] = "reset",
	    [SA_PROBE] = "probe",
	    [SA_CLEAR_OVERRIDES] = "clear-overrides",
	    [SA_PRIORITY] = "priority",
	    [SA_WEIGHT] = "weight",
	    [SA_FLUSH] = "flush",
	    [SA_DRILL] = "drill",
	};

	return (unsigned)a < SA__COUNT ? names[a] : "?";
}
