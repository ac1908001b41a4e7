/*
 * gateway_admin.c: the admin API, /admin/v1/, JSON over the gateway's own
 * server (TCP and the Unix socket): what the console needs to watch and steer
 * a process that routes. README "The admin API" is the contract:
 *
 *   GET   /admin/v1/snapshot[?window=N]          instance, providers (totals and
 *                                                the last N seconds, default 60),
 *                                                requests, budget, cache, gateway
 *   GET   /admin/v1/events[?after=ID]            events after ID, and "last"
 *   GET   /admin/v1/events/stream[?after=ID]     the same, live (text/event-stream)
 *   POST  /admin/v1/providers/NAME/ACTION        drain enable disable reset probe
 *                                                clear-overrides
 *   POST  /admin/v1/providers/NAME/drill         {"fault": F, "rate": R, "duration_s": N,
 *                                                "delay_ms": D}
 *   (NAME@INSTANCE, or ?instance=ID, on a provider's path: that instance only;
 *   else every instance on the database)
 *   PATCH /admin/v1/providers/NAME               {"priority": N, "weight": W}
 *   POST  /admin/v1/cache/flush
 *   GET, POST /admin/v1/keys, GET PATCH POST /admin/v1/keys/ID, POST .../revoke,
 *         .../rotate; GET /admin/v1/teams, GET PUT DELETE /admin/v1/teams/NAME
 *                                                (gateway_keys.c)
 *   POST  /admin/v1/reload
 *   GET   /admin/v1/requests[?limit=N], /admin/v1/requests/ID, POST /admin/v1/prompt
 *                                                (gateway_requests.c)
 *
 * Errors are {"error":{"type","message"}} with type invalid_request_error,
 * not_found, unauthorized or forbidden. Every action is an event: "admin INSTANCE: ...".
 *
 * Auth (admin_refused): the Unix socket (0600 in a 0700 directory) may do
 * everything; over TCP, with LLMDECK_ADMIN_TOKEN set, "Authorization: Bearer
 * T" (compared in constant time) may; without it the API is read-only on
 * loopback, for clients that are no web page (no Origin header, a loopback
 * Host), and refused over TCP elsewhere. A body must be application/json.
 *
 * The event stream is a callback response like an LLM stream: its reader
 * copies what the ring has after the client's last id into the request's
 * buffer (one batch at a time, so the buffer stays bounded however slow the
 * client; events the ring dropped meanwhile are announced as lost) and
 * suspends when there is nothing; the ring's watcher and a heartbeat every
 * 15 s resume it. Handlers run on libmicrohttpd's threads and never hold
 * gw->mu while calling the router.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/cache.h"
#include "config/config_limits.h"
#include "router/events.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "store/store.h"

#define ADMIN_PREFIX "/admin/v1/"
/* Events per GET /admin/v1/events, and per batch of a stream. */
#define ADMIN_EVENTS_MAX 1000
#define STREAM_BATCH 64
#define HEARTBEAT_MS 15000

static enum MHD_Result PRINTFLIKE(4, 5)
    admin_error(struct gw_req *q, int status, const char *type, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
	char msg[512];
	va_list ap;
	char *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	str_oneline(msg);
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "message", msg);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return gw_reply(q, status, "application/json", body);
}

static enum MHD_Result
admin_json(struct gw_req *q, int status, cJSON *o)
{
	char *body = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return gw_reply(q, status, "application/json", body);
}

int
gw_loopback_host(const char *host)
{
	static const char *names[] = {"localhost", "127.0.0.1", "[::1]"};
	size_t n, d;

	if (host == NULL)
		return 0;
	for (size_t i = 0; i < nitems(names); i++) {
		n = strlen(names[i]);
		if (strncasecmp(host, names[i], n) != 0)
			continue;
		if (host[n] == '\0')
			return 1;
		d = strspn(host + n + 1, "0123456789");
		if (host[n] == ':' && d >= 1 && d <= 5 && host[n + 1 + d] == '\0')
			return 1;
	}
	return 0;
}

/* A method that changes something. */
static int
admin_mutating(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/*
 * Who may do what (README "Who can do what, from where"):
 *   the Unix socket (0600 in a 0700 directory): everything, no token;
 *   with LLMDECK_ADMIN_TOKEN set: its bearer token, from anywhere, everything;
 *   TCP on loopback without it: read only (GET), and only from a client that
 *     is no browser page: a request with an Origin header, or whose Host is not
 *     a loopback name (DNS rebinding), is refused;
 *   TCP elsewhere without it: nothing.
 * 0 if the client may, else the status (401, 403) with why.
 */
static int
admin_refused(struct gw_req *q, char *why, size_t len)
{
	struct gateway *gw = q->gw;
	const char *h;

	if (q->local)
		return 0;
	if (gw->admin_token != NULL) {
		h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
		if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
		    gw_token_equal(gw->admin_token, h + 7))
			return 0;
		snprintf(why, len,
		    "missing or wrong admin token (Authorization: Bearer T, T from the server's "
		    "%s)",
		    gw->admin_env);
		return 401;
	}
	if (!gw->admin_tcp) {
		snprintf(why, len,
		    "the admin API is off on a non-loopback address until the server sets %s "
		    "(the Unix socket answers)",
		    gw->admin_env);
		return 401;
	}
	if (MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Origin") != NULL) {
		snprintf(why, len,
		    "a request with an Origin header (a web page) may not use the admin API "
		    "without the admin token (%s)",
		    gw->admin_env);
		return 403;
	}
	h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Host");
	if (!gw_loopback_host(h)) {
		snprintf(why, len,
		    "Host \"%.64s\" is not a loopback name (localhost, 127.0.0.1, [::1]): the "
		    "admin API without a token answers only those",
		    h != NULL ? h : "");
		return 403;
	}
	if (admin_mutating(q->method)) {
		snprintf(why, len,
		    "the admin API is read-only over TCP without the admin token: set %s on the "
		    "server and send Authorization: Bearer T, or use the Unix socket",
		    gw->admin_env);
		return 403;
	}
	return 0;
}

/* ---- building the JSON ---- */

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static cJSON *
series_json(const uint32_t *v, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
	return a;
}

/* [[upper_ms, count], ...] for the non-empty buckets. */
static cJSON *
buckets_json(const struct histogram *h)
{
	cJSON *a = cJSON_CreateArray(), *pair;
	uint64_t lo, hi;

	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (h->counts[i] == 0)
			continue;
		hist_bucket_range(i, &lo, &hi);
		pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateNumber(ms(hi == UINT64_MAX ? lo : hi)));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)h->counts[i]));
		cJSON_AddItemToArray(a, pair);
	}
	return a;
}

static void
add_quantiles(cJSON *o, uint64_t p50, uint64_t p95, uint64_t p99)
{
	cJSON_AddNumberToObject(o, "p50_ms", ms(p50));
	cJSON_AddNumberToObject(o, "p95_ms", ms(p95));
	cJSON_AddNumberToObject(o, "p99_ms", ms(p99));
}

/* The variable a provider's key should come from when it is unset there, else NULL. */
static const char *
key_missing(const struct config *cfg, const char *name)
{
	const struct provider_conf *pc = config_provider(cfg, name);

	if (pc == NULL || pc->api_key_env == NULL || pc->api_key_env[0] == '\0')
		return NULL;
	return pc->api_key == NULL || pc->api_key[0] == '\0' ? pc->api_key_env : NULL;
}

static cJSON *
provider_json(const struct provider_snapshot *p, int window_s, const struct config *cfg)
{
	cJSON *o = cJSON_CreateObject(), *x;
	const struct window_stats *w = &p->window;
	const char *no_key = key_missing(cfg, p->name);
	const struct provider_conf *pc = config_provider(cfg, p->name);

	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "kind", p->kind);
	cJSON_AddStringToObject(o, "base_url", p->base_url);
	x = cJSON_AddArrayToObject(o, "models");
	for (size_t i = 0; pc != NULL && i < pc->n_models; i++)
		cJSON_AddItemToArray(x, cJSON_CreateString(pc->models[i]));
	/* Its key variable is unset: the console says "no key: VAR" from the start. */
	if (no_key != NULL)
		cJSON_AddStringToObject(o, "no_key", no_key);
	else
		cJSON_AddNullToObject(o, "no_key");
	x = cJSON_AddObjectToObject(o, "state");
	cJSON_AddStringToObject(x, "breaker", breaker_state_name(p->breaker));
	cJSON_AddStringToObject(x, "admin", provider_admin_name(p->admin));
	cJSON_AddNumberToObject(o, "cooldown_ms", (double)p->cooldown_left_ms);
	cJSON_AddNumberToObject(o, "consecutive_failures", p->consecutive_failures);
	cJSON_AddNumberToObject(o, "priority", p->priority);
	cJSON_AddNumberToObject(o, "weight", p->weight);
	x = cJSON_AddObjectToObject(o, "overridden");
	cJSON_AddBoolToObject(x, "priority", p->priority_overridden);
	cJSON_AddBoolToObject(x, "weight", p->weight_overridden);
	cJSON_AddBoolToObject(x, "admin", p->admin_overridden);
	/* Of those, set for this instance only (NAME@INSTANCE), not fleet-wide. */
	x = cJSON_AddObjectToObject(o, "instance_scoped");
	cJSON_AddBoolToObject(x, "priority", p->priority_scoped);
	cJSON_AddBoolToObject(x, "weight", p->weight_scoped);
	cJSON_AddBoolToObject(x, "admin", p->admin_scoped);
	cJSON_AddBoolToObject(x, "drill", p->drill[0] != '\0' && p->drill_scoped);
	cJSON_AddBoolToObject(o, "usable", p->usable);
	cJSON_AddNumberToObject(o, "in_flight", (double)p->in_flight);
	/* Attempts out longer than this provider's usual p99 (slow_after_ms): a hang. */
	cJSON_AddNumberToObject(o, "in_flight_slow", (double)p->in_flight_slow);
	cJSON_AddNumberToObject(o, "in_flight_oldest_ms", ms(p->in_flight_oldest_us));
	cJSON_AddNumberToObject(o, "slow_after_ms", ms(p->slow_after_us));
	x = cJSON_AddObjectToObject(o, "rate_limit");
	cJSON_AddNumberToObject(x, "rpm", p->rate_limit_rpm);
	cJSON_AddNumberToObject(x, "rpm_use", p->rpm_usage);
	cJSON_AddNumberToObject(x, "tpm", p->rate_limit_tpm);
	cJSON_AddNumberToObject(x, "tpm_use", p->tpm_usage);
	x = cJSON_AddObjectToObject(o, "totals");
	cJSON_AddNumberToObject(x, "requests", (double)p->requests);
	cJSON_AddNumberToObject(x, "successes", (double)p->successes);
	cJSON_AddNumberToObject(x, "errors", (double)p->errors);
	cJSON_AddNumberToObject(x, "input_tokens", (double)p->input_tokens);
	cJSON_AddNumberToObject(x, "output_tokens", (double)p->output_tokens);
	cJSON_AddNumberToObject(x, "cost_usd", p->cost_usd);
	add_quantiles(x, hist_quantile(&p->latency, 0.50), hist_quantile(&p->latency, 0.95),
	    hist_quantile(&p->latency, 0.99));
	x = cJSON_AddObjectToObject(o, "window");
	cJSON_AddNumberToObject(x, "requests", (double)w->requests);
	cJSON_AddNumberToObject(x, "errors", (double)w->errors);
	cJSON_AddNumberToObject(x, "share", w->share);
	add_quantiles(x, w->p50_us, w->p95_us, w->p99_us);
	cJSON_AddItemToObject(x, "buckets", buckets_json(&w->latency));
	x = cJSON_AddObjectToObject(x, "series");
	cJSON_AddItemToObject(x, "requests", series_json(w->series_requests, window_s));
	cJSON_AddItemToObject(x, "errors", series_json(w->series_errors, window_s));
	/* What its latency teaches the router (router.h): 0 ms is "not learned yet". */
	x = cJSON_AddObjectToObject(o, "learned");
	cJSON_AddNumberToObject(x, "timeout_ms", (double)p->learned_timeout_ms);
	cJSON_AddNumberToObject(x, "first_token_timeout_ms",
	    (double)p->learned_first_token_timeout_ms);
	cJSON_AddNumberToObject(x, "hedge_ms", (double)p->learned_hedge_ms);
	cJSON_AddNumberToObject(x, "first_token_hedge_ms", (double)p->learned_first_token_hedge_ms);
	cJSON_AddNumberToObject(x, "samples", p->learned_samples);
	cJSON_AddNumberToObject(x, "first_token_samples", p->learned_first_token_samples);
	cJSON_AddNumberToObject(x, "ewma_ms", p->latency_ewma_ms);
	if (p->drill[0] != '\0') {
		x = cJSON_AddObjectToObject(o, "drill");
		cJSON_AddStringToObject(x, "fault", p->drill);
		cJSON_AddNumberToObject(x, "rate", p->drill_rate);
		cJSON_AddNumberToObject(x, "left_ms", (double)p->drill_left_ms);
		if (p->drill_delay_ms > 0)
			cJSON_AddNumberToObject(x, "delay_ms", p->drill_delay_ms);
		cJSON_AddStringToObject(x, "by", p->drill_by);
		cJSON_AddStringToObject(x, "scope", p->drill_scoped ? "instance" : "fleet");
	} else {
		cJSON_AddNullToObject(o, "drill");
	}
	if (p->last_probe_ms > 0) {
		x = cJSON_AddObjectToObject(o, "probe");
		cJSON_AddNumberToObject(x, "time_ms", (double)p->last_probe_ms);
		cJSON_AddBoolToObject(x, "ok", p->last_probe_ok);
		cJSON_AddNumberToObject(x, "latency_ms", ms(p->last_probe_latency_us));
	} else {
		cJSON_AddNullToObject(o, "probe");
	}
	return o;
}

static cJSON *
requests_json(const struct router_snapshot *s)
{
	cJSON *o = cJSON_CreateObject(), *w, *x;

	cJSON_AddNumberToObject(o, "total", (double)s->requests);
	cJSON_AddNumberToObject(o, "answered", (double)s->answered);
	cJSON_AddNumberToObject(o, "failed", (double)s->failed);
	cJSON_AddNumberToObject(o, "cancelled", (double)s->cancelled);
	cJSON_AddNumberToObject(o, "failovers", (double)s->failovers);
	cJSON_AddNumberToObject(o, "hedges", (double)s->hedges);
	cJSON_AddNumberToObject(o, "hedges_won", (double)s->hedges_won);
	cJSON_AddNumberToObject(o, "attempts", (double)s->attempts);
	cJSON_AddNumberToObject(o, "attempts_failed", (double)s->attempts_failed);
	cJSON_AddNumberToObject(o, "in_flight", (double)s->in_flight);
	cJSON_AddNumberToObject(o, "in_flight_oldest_ms", ms(s->in_flight_oldest_us));
	cJSON_AddNumberToObject(o, "cache_hits", (double)s->cache_hits);
	w = cJSON_AddObjectToObject(o, "window");
	cJSON_AddNumberToObject(w, "requests", (double)s->window.requests);
	cJSON_AddNumberToObject(w, "failed", (double)s->window.errors);
	cJSON_AddNumberToObject(w, "attempts_failed", (double)s->window_attempts_failed);
	cJSON_AddNumberToObject(w, "cancelled", (double)s->window_cancelled);
	add_quantiles(w, s->window.p50_us, s->window.p95_us, s->window.p99_us);
	/* What clients wait: the answered requests and those still waiting, by age. */
	cJSON_AddNumberToObject(w, "open_p50_ms", ms(s->open_p50_us));
	cJSON_AddNumberToObject(w, "open_p99_ms", ms(s->open_p99_us));
	x = cJSON_AddObjectToObject(w, "series");
	cJSON_AddItemToObject(x, "requests", series_json(s->window.series_requests, s->window_s));
	cJSON_AddItemToObject(x, "errors", series_json(s->window.series_errors, s->window_s));
	return o;
}

static cJSON *
budget_json(struct gateway *gw, const struct config *cfg)
{
	struct budget_status bs;
	char *cause = NULL;
	cJSON *o;

	if (gw->store == NULL || budget_get_status(gw->store, &cfg->budget, &bs, &cause) != 0) {
		free(cause);
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "daily_usd", bs.budget_usd);
	cJSON_AddNumberToObject(o, "spent_usd", bs.spent_usd);
	cJSON_AddNumberToObject(o, "reserved_usd", bs.reserved_usd + bs.lease_in_flight_usd);
	cJSON_AddNumberToObject(o, "leased_usd", bs.leased_usd);
	cJSON_AddNumberToObject(o, "rate_usd_per_hour", bs.burn_60m_per_hour);
	cJSON_AddNumberToObject(o, "rate_5m_usd_per_hour", bs.burn_5m_per_hour);
	cJSON_AddNumberToObject(o, "projected_usd", bs.projected_usd);
	cJSON_AddNumberToObject(o, "alert_threshold", bs.alert_threshold);
	cJSON_AddBoolToObject(o, "hard_stop", cfg->budget.hard_stop);
	return o;
}

static cJSON *
cache_json(struct gateway *gw, const struct config *cfg, const struct router_snapshot *s)
{
	struct cache_stats cs;
	cJSON *o;

	if (gw->store == NULL || cache_get_stats(gw->store, &cs) != 0)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "enabled", cfg->cache.enabled);
	cJSON_AddNumberToObject(o, "entries", (double)cs.entries);
	cJSON_AddNumberToObject(o, "hits", (double)cs.hits);
	cJSON_AddNumberToObject(o, "misses", (double)cs.misses);
	/* Of every request this instance finished; of cacheable lookups, database-wide. */
	cJSON_AddNumberToObject(o, "hit_rate_all",
	    s->requests > 0 ? (double)s->cache_hits / (double)s->requests : 0);
	cJSON_AddNumberToObject(o, "hit_rate_cacheable",
	    cs.hits + cs.misses > 0 ? (double)cs.hits / (double)(cs.hits + cs.misses) : 0);
	return o;
}

static cJSON *
gateway_json(struct gateway *gw)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t requests = 0, errors = 0, stream_errors;

	pthread_mutex_lock(&gw->mu);
	for (int ep = GW_EP_CHAT; ep <= GW_EP_RESPONSES; ep++)
		for (int c = 0; c < GW_CODES; c++) {
			requests += gw->http[ep][c];
			if (gw_codes[c] == 0 || gw_codes[c] >= 400)
				errors += gw->http[ep][c];
		}
	stream_errors = 0;
	for (int a = 0; a < GW_API__COUNT; a++)
		stream_errors += gw->stream_errors[a];
	cJSON_AddNumberToObject(o, "in_flight", (double)gw->in_flight);
	pthread_mutex_unlock(&gw->mu);
	cJSON_AddNumberToObject(o, "requests", (double)requests);
	cJSON_AddNumberToObject(o, "errors", (double)errors);
	cJSON_AddNumberToObject(o, "stream_errors", (double)stream_errors);
	return o;
}

static void
add_string_or_null(cJSON *o, const char *key, const char *v)
{
	if (v != NULL && *v != '\0')
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static uint64_t
fnv_str(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

/* A hash of the routing config this process runs (providers, their models, priorities,
 * weights, timeouts and limits, routes, budget, cache): two instances that differ have
 * drifted (a SIGHUP on one after an edit). Not of the file: of what was loaded. */
void
gw_config_hash(const struct config *cfg, char out[17])
{
	uint64_t h = 14695981039346656037ULL;
	char num[64];

	for (size_t i = 0; i < cfg->n_providers; i++) {
		const struct provider_conf *p = &cfg->providers[i];
		h = fnv_str(h, p->name);
		h = fnv_str(h, p->base_url);
		for (size_t m = 0; m < p->n_models; m++)
			h = fnv_str(h, p->models[m]);
		snprintf(num, sizeof num, "%d %d %g %g %d %d %d %d", (int)p->kind, p->priority,
		    p->weight, p->timeout_seconds, p->max_retries, p->rate_limit_rpm,
		    p->rate_limit_tpm, p->enabled);
		h = fnv_str(h, num);
	}
	for (size_t i = 0; i < cfg->n_routes; i++)
		h = fnv_str(h, cfg->routes[i].name);
	snprintf(num, sizeof num, "%g %d %d %d", cfg->budget.daily_usd, cfg->budget.hard_stop,
	    cfg->cache.enabled, cfg->hedge_after_ms);
	h = fnv_str(h, num);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Which database this is, the same on every instance that shares it, so that a console
 * attached to several sends a fleet-wide override once per database, not once per
 * instance: a SQLite file by its device and inode (whatever path each was given), a
 * PostgreSQL one by its URL (without the password). */
static void
store_fingerprint(struct store *s, char out[32])
{
	const char *where = store_path(s);
	uint64_t h = 14695981039346656037ULL;
	struct stat st;
	char num[64];

	if (!store_is_url(where) && stat(where, &st) == 0) {
		snprintf(num, sizeof num, "%llu:%llu", (unsigned long long)st.st_dev,
		    (unsigned long long)st.st_ino);
		h = fnv_str(h, num);
	} else
		h = fnv_str(h, where);
	snprintf(out, 32, "%s-%016llx", store_backend_name(s), (unsigned long long)h);
}

static cJSON *
instance_json(struct gateway *gw)
{
	cJSON *o = cJSON_CreateObject();
	int draining;

	pthread_mutex_lock(&gw->mu);
	draining = gw->draining;
	pthread_mutex_unlock(&gw->mu);
	cJSON_AddStringToObject(o, "id", gw->instance);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "host", gw->host);
	cJSON_AddStringToObject(o, "version", gw->version);
	cJSON_AddNumberToObject(o, "started_ms", (double)gw->started_ms);
	add_string_or_null(o, "config", gw->config_path);
	add_string_or_null(o, "database", gw->store != NULL ? store_path(gw->store) : NULL);
	cJSON_AddStringToObject(o, "listen", gw->url);
	add_string_or_null(o, "socket", gw->socket_path);
	cJSON_AddBoolToObject(o, "draining", draining);
	if (gw->store != NULL) {
		struct store_health h;
		cJSON *st = cJSON_AddObjectToObject(o, "store");
		char id[32];

		store_health(gw->store, &h);
		cJSON_AddStringToObject(st, "status",
		    h.spool_full    ? "spool_full"
		        : h.failing ? "failing"
		                    : "ok");
		cJSON_AddStringToObject(st, "reason", h.reason);
		cJSON_AddNumberToObject(st, "spooled_rows", (double)h.spooled_rows);
		store_fingerprint(gw->store, id);
		cJSON_AddStringToObject(st, "id", id);
	}
	return o;
}

static cJSON *
event_json(struct gateway *gw, const struct event *ev)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)ev->seq);
	cJSON_AddNumberToObject(o, "time_ms", (double)ev->time_ms);
	cJSON_AddStringToObject(o, "kind", event_kind_name(ev->kind));
	add_string_or_null(o, "provider", ev->provider);
	cJSON_AddStringToObject(o, "message", ev->message);
	cJSON_AddStringToObject(o, "instance",
	    ev->instance[0] != '\0' ? ev->instance : gw->instance);
	return o;
}

/* ---- reading ---- */

/* A query argument as a whole number in lo..hi: 0 (absent: *out untouched), -1 bad. */
static int
query_long(struct gw_req *q, const char *name, long lo, long hi, long *out)
{
	const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);

	if (v == NULL)
		return 0;
	return parse_long(v, lo, hi, out);
}

static enum MHD_Result
admin_snapshot(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	struct gw_router *gr;
	struct router_snapshot s;
	cJSON *o, *ps;
	long window = ROUTER_WINDOW_DEFAULT;

	if (query_long(q, "window", 1, ROUTER_WINDOW_MAX, &window) != 0)
		return admin_error(q, 400, "invalid_request_error",
		    "window: expected whole seconds 1..%d", ROUTER_WINDOW_MAX);
	gr = gw_router_get(gw);
	memset(&s, 0, sizeof s);
	router_snapshot_window(gr->router, &s, (int)window);
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "instance", instance_json(gw));
	{
		char hash[17];
		gw_config_hash(router_config(gr->router), hash);
		cJSON_AddStringToObject(cJSON_GetObjectItem(o, "instance"), "config_hash", hash);
	}
	cJSON_AddNumberToObject(o, "time_ms", (double)s.time_ms);
	cJSON_AddNumberToObject(o, "window_seconds", s.window_s);
	ps = cJSON_AddArrayToObject(o, "providers");
	for (size_t i = 0; i < s.n_providers; i++)
		cJSON_AddItemToArray(ps,
		    provider_json(&s.providers[i], s.window_s, router_config(gr->router)));
	cJSON_AddItemToObject(o, "requests", requests_json(&s));
	cJSON_AddItemToObject(o, "budget", budget_json(gw, router_config(gr->router)));
	cJSON_AddItemToObject(o, "cache", cache_json(gw, router_config(gr->router), &s));
	cJSON_AddItemToObject(o, "gateway", gateway_json(gw));
	gw_router_put(gw, gr);
	router_snapshot_free(&s);
	return admin_json(q, 200, o);
}

static enum MHD_Result
admin_events(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	struct gw_router *gr;
	struct event *ev;
	cJSON *o, *a;
	long after = 0;
	size_t n;
	uint64_t last;

	if (query_long(q, "after", 0, LONG_MAX, &after) != 0)
		return admin_error(q, 400, "invalid_request_error",
		    "after: expected an event id (a whole number >= 0)");
	ev = xcalloc(ADMIN_EVENTS_MAX, sizeof *ev);
	gr = gw_router_get(gw);
	n = event_since(router_events(gr->router), (uint64_t)after, ev, ADMIN_EVENTS_MAX);
	last = n > 0 ? ev[n - 1].seq : event_last_seq(router_events(gr->router));
	gw_router_put(gw, gr);
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "events");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, event_json(gw, &ev[i]));
	/* Smaller than after: the instance restarted, start again from there. */
	cJSON_AddNumberToObject(o, "last", (double)last);
	free(ev);
	return admin_json(q, 200, o);
}

/* ---- the live event stream ---- */

/* Events after q->ev_after as SSE frames into b (no lock held); the new last id. */
static uint64_t
stream_fetch(struct gw_req *q, uint64_t after, struct buf *b)
{
	struct gateway *gw = q->gw;
	struct event ev[STREAM_BATCH];
	struct gw_router *gr = gw_router_get(gw);
	size_t n = event_since(router_events(gr->router), after, ev, nitems(ev));

	gw_router_put(gw, gr);
	if (n > 0 && ev[0].seq > after + 1 && after > 0)
		buf_printf(b, ": %llu events lost (the client was slower than they came)\n\n",
		    (unsigned long long)(ev[0].seq - after - 1));
	for (size_t i = 0; i < n; i++) {
		cJSON *o = event_json(gw, &ev[i]);
		char *data = cJSON_PrintUnformatted(o);

		cJSON_Delete(o);
		buf_printf(b, "id: %llu\nevent: event\ndata: %s\n\n", (unsigned long long)ev[i].seq,
		    data);
		free(data);
		after = ev[i].seq;
	}
	return after;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct gw_req *q = cls;
	struct gateway *gw = q->gw;
	struct buf b;
	uint64_t after, now;
	size_t n;

	(void)pos;
	buf_init(&b);
	for (;;) {
		pthread_mutex_lock(&gw->mu);
		if (q->out_off < q->out.len) {
			n = q->out.len - q->out_off < max ? q->out.len - q->out_off : max;
			memcpy(out, q->out.data + q->out_off, n);
			q->out_off += n;
			if (q->out_off == q->out.len) {
				buf_reset(&q->out);
				q->out_off = 0;
			}
			q->ev_sent_ms = clock_mono_ms();
			pthread_mutex_unlock(&gw->mu);
			buf_free(&b);
			return (ssize_t)n;
		}
		if (gw->stopping) {
			pthread_mutex_unlock(&gw->mu);
			buf_free(&b);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		q->ev_pending = 0;
		after = q->ev_after;
		pthread_mutex_unlock(&gw->mu);

		buf_reset(&b);
		after = stream_fetch(q, after, &b);
		now = clock_mono_ms();

		pthread_mutex_lock(&gw->mu);
		q->ev_after = after;
		if (b.len == 0 && now - q->ev_sent_ms >= HEARTBEAT_MS)
			buf_puts(&b, ": heartbeat\n\n");
		if (b.len > 0) {
			buf_append(&q->out, b.data, b.len);
		} else if (!q->ev_pending) {
			int rc = gw_req_sleep(q);

			pthread_mutex_unlock(&gw->mu);
			buf_free(&b);
			return rc == 0 ? 0 : MHD_CONTENT_READER_END_OF_STREAM;
		}
		pthread_mutex_unlock(&gw->mu);
	}
}

static void
stream_free(void *cls)
{
	gw_req_unref(cls);
}

static enum MHD_Result
admin_events_stream(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	struct MHD_Response *resp;
	struct gw_router *gr;
	enum MHD_Result ret;
	const char *last_id;
	long after = -1;

	if (query_long(q, "after", 0, LONG_MAX, &after) != 0)
		return admin_error(q, 400, "invalid_request_error",
		    "after: expected an event id (a whole number >= 0)");
	/* An EventSource reconnecting says where it was. */
	last_id = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Last-Event-ID");
	if (after < 0 && last_id != NULL && parse_long(last_id, 0, LONG_MAX, &after) != 0)
		after = -1;
	if (after < 0) {
		gr = gw_router_get(gw);
		after = (long)event_last_seq(router_events(gr->router));
		gw_router_put(gw, gr);
	}
	resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, q, stream_free);
	if (resp == NULL)
		return MHD_NO;
	gw_req_ref(q);
	pthread_mutex_lock(&gw->mu);
	q->events = 1;
	q->ev_after = (uint64_t)after;
	q->ev_sent_ms = clock_mono_ms();
	q->ev_next = gw->streams;
	if (gw->streams != NULL)
		gw->streams->ev_prev = q;
	gw->streams = q;
	buf_printf(&q->out, ": llmdeck %s events\n\n", gw->instance);
	q->phase = PH_SENT;
	q->status = 200;
	pthread_mutex_unlock(&gw->mu);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(q->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

void
gw_admin_events_changed(void *arg)
{
	struct gateway *gw = arg;

	pthread_mutex_lock(&gw->mu);
	for (struct gw_req *q = gw->streams; q != NULL; q = q->ev_next) {
		q->ev_pending = 1;
		gw_req_wake(q);
	}
	pthread_mutex_unlock(&gw->mu);
}

void
gw_admin_heartbeat(struct gateway *gw)
{
	uint64_t now = clock_mono_ms();

	for (struct gw_req *q = gw->streams; q != NULL; q = q->ev_next) {
		if (q->suspended && now - q->ev_sent_ms >= HEARTBEAT_MS) {
			q->ev_pending = 1;
			gw_req_wake(q);
		}
	}
}

/* ---- actions ---- */

/* The provider's state now, as in the snapshot: {"provider": {...}, "scope": S}, S
 * "fleet" or the one instance the call was for (target NAME@INSTANCE). */
static enum MHD_Result
admin_provider_reply(struct gw_req *q, struct gw_router *gr, const char *target)
{
	struct router_snapshot s;
	cJSON *o = NULL;
	char name[128];
	const char *at = strchr(target, '@');

	snprintf(name, sizeof name, "%.*s", at != NULL ? (int)(at - target) : (int)strlen(target),
	    target);

	router_snapshot_window(gr->router, &s, ROUTER_WINDOW_DEFAULT);
	for (size_t i = 0; i < s.n_providers; i++) {
		if (strcmp(s.providers[i].name, name) == 0) {
			o = cJSON_CreateObject();
			cJSON_AddItemToObject(o, "provider",
			    provider_json(&s.providers[i], s.window_s, router_config(gr->router)));
			cJSON_AddStringToObject(o, "scope", at != NULL ? at + 1 : "fleet");
		}
	}
	gw_router_put(q->gw, gr);
	router_snapshot_free(&s);
	if (o == NULL)
		return admin_error(q, 404, "not_found", "unknown provider \"%s\"", name);
	return admin_json(q, 200, o);
}

/* A target's provider: "NAME" or "NAME@INSTANCE". */
static int
provider_known(struct router *r, const char *target)
{
	const struct config *cfg = router_config(r);
	const char *at = strchr(target, '@');
	size_t n = at != NULL ? (size_t)(at - target) : strlen(target);

	for (size_t i = 0; i < cfg->n_providers; i++)
		if (strlen(cfg->providers[i].name) == n &&
		    strncmp(cfg->providers[i].name, target, n) == 0)
			return 1;
	return 0;
}

static int
provider_act(struct router *r, const char *name, const char *action, char **cause)
{
	if (strcmp(action, "drain") == 0)
		return router_set_admin(r, name, ADMIN_DRAINED, cause);
	if (strcmp(action, "enable") == 0)
		return router_set_admin(r, name, ADMIN_ENABLED, cause);
	if (strcmp(action, "disable") == 0)
		return router_set_admin(r, name, ADMIN_DISABLED, cause);
	if (strcmp(action, "reset") == 0)
		return router_reset_breaker(r, name, cause);
	if (strcmp(action, "probe") == 0)
		return router_probe(r, name, cause);
	return router_clear_overrides(r, name, cause);
}

/* POST /admin/v1/providers/NAME/drill {"fault", "rate" (default 1), "duration_s",
 * "delay_ms" (slow's, default ROUTER_DRILL_SLOW_MS), "instance" (or NAME@INSTANCE)}:
 * faults made inside the routers (router_drill), for real providers too, stored so that
 * every instance on the database (or the one named) runs them. */
static enum MHD_Result
admin_provider_drill(struct gw_req *q, const char *name)
{
	cJSON *o = cJSON_ParseWithLength(q->body.data != NULL ? q->body.data : "", q->body.len);
	const cJSON *f = cJSON_GetObjectItem(o, "fault"), *r = cJSON_GetObjectItem(o, "rate");
	const cJSON *d = cJSON_GetObjectItem(o, "duration_s");
	const cJSON *dl = cJSON_GetObjectItem(o, "delay_ms");
	const cJSON *in = cJSON_GetObjectItem(o, "instance");
	struct gw_router *gr;
	struct router_drill_opts opts;
	char *cause = NULL, who[96], fault[16], target[200];
	int rc;

	if (!cJSON_IsObject(o) || !cJSON_IsString(f) || (r != NULL && !cJSON_IsNumber(r)) ||
	    (d != NULL && !cJSON_IsNumber(d)) || (dl != NULL && !cJSON_IsNumber(dl)) ||
	    (in != NULL && !cJSON_IsString(in)) ||
	    (d == NULL && strcmp(f->valuestring, "none") != 0)) {
		cJSON_Delete(o);
		return admin_error(q, 400, "invalid_request_error",
		    "the body must be {\"fault\": F, \"rate\": R, \"duration_s\": N} (fault 500 "
		    "429 503 529 hang slow drop malformed none; rate 0..1, default 1; duration_s "
		    "required, at most %d; optional delay_ms for slow, instance for one instance)",
		    ROUTER_DRILL_MAX_S);
	}
	snprintf(fault, sizeof fault, "%s", f->valuestring);
	if (in != NULL && in->valuestring[0] != '\0' && strchr(name, '@') == NULL)
		snprintf(target, sizeof target, "%s@%.63s", name, in->valuestring);
	else
		snprintf(target, sizeof target, "%s", name);
	gr = gw_router_get(q->gw);
	if (!provider_known(gr->router, target)) {
		gw_router_put(q->gw, gr);
		cJSON_Delete(o);
		return admin_error(q, 404, "not_found", "unknown provider \"%s\"", name);
	}
	snprintf(who, sizeof who, "admin %s", q->gw->instance);
	memset(&opts, 0, sizeof opts);
	opts.fault = fault;
	opts.rate = r != NULL ? r->valuedouble : 1;
	opts.duration_s = d != NULL ? (int)d->valuedouble : 0;
	opts.delay_ms = dl != NULL ? (int)dl->valuedouble : 0;
	opts.who = who;
	rc = router_drill(gr->router, target, &opts, &cause);
	cJSON_Delete(o);
	if (rc != 0) {
		enum MHD_Result ret = admin_error(q, 400, "invalid_request_error", "%s", cause);
		free(cause);
		gw_router_put(q->gw, gr);
		return ret;
	}
	return admin_provider_reply(q, gr, target);
}

/* POST /admin/v1/providers/NAME/ACTION */
static enum MHD_Result
admin_provider_action(struct gw_req *q, const char *name, const char *action)
{
	static const char *const actions[] = {
	    "drain", "enable", "disable", "reset", "probe", "clear-overrides"};
	struct gw_router *gr;
	char *cause = NULL;
	size_t i;

	if (strcmp(action, "drill") == 0)
		return admin_provider_drill(q, name);
	for (i = 0; i < nitems(actions); i++)
		if (strcmp(action, actions[i]) == 0)
			break;
	if (i == nitems(actions))
		return admin_error(q, 404, "not_found",
		    "no action \"%s\" (drain, enable, disable, reset, probe, clear-overrides)",
		    action);
	gr = gw_router_get(q->gw);
	if (!provider_known(gr->router, name)) {
		gw_router_put(q->gw, gr);
		return admin_error(q, 404, "not_found", "unknown provider \"%s\"", name);
	}
	if (provider_act(gr->router, name, action, &cause) != 0) {
		enum MHD_Result ret =
		    admin_error(q, 400, "invalid_request_error", "%s %s: %s", action, name, cause);
		free(cause);
		gw_router_put(q->gw, gr);
		return ret;
	}
	event_add(router_events(gr->router), EV_OPERATOR, name, "admin %s: %s %s", q->gw->instance,
	    action, name);
	return admin_provider_reply(q, gr, name);
}

/* The PATCH body's numbers, checked before anything changes. 0, or -1 with why. */
static int
patch_parse(struct gw_req *q, int *has_prio, int *prio, int *has_weight, double *weight, char *why,
    size_t len)
{
	cJSON *o = cJSON_ParseWithLength(q->body.data != NULL ? q->body.data : "", q->body.len),
	      *it;
	int rc = 0;

	*has_prio = *has_weight = 0;
	if (!cJSON_IsObject(o)) {
		snprintf(why, len,
		    "the body must be a JSON object: {\"priority\": N, \"weight\": W}");
		cJSON_Delete(o);
		return -1;
	}
	cJSON_ArrayForEach(it, o)
	{
		if (strcmp(it->string, "priority") == 0) {
			if (!cJSON_IsNumber(it) ||
			    it->valuedouble != (double)(long long)it->valuedouble ||
			    it->valuedouble < LIMIT_PRIORITY_MIN ||
			    it->valuedouble > LIMIT_PRIORITY_MAX) {
				snprintf(why, len, "priority: expected a whole number %d..%d",
				    LIMIT_PRIORITY_MIN, LIMIT_PRIORITY_MAX);
				rc = -1;
				break;
			}
			*has_prio = 1;
			*prio = (int)it->valuedouble;
		} else if (strcmp(it->string, "weight") == 0) {
			if (!cJSON_IsNumber(it) || !(it->valuedouble >= LIMIT_WEIGHT_MIN) ||
			    it->valuedouble > LIMIT_WEIGHT_MAX) {
				snprintf(why, len, "weight: expected a number %g..%g",
				    LIMIT_WEIGHT_MIN, LIMIT_WEIGHT_MAX);
				rc = -1;
				break;
			}
			*has_weight = 1;
			*weight = it->valuedouble;
		} else {
			snprintf(why, len, "unknown field \"%.64s\" (priority, weight)",
			    it->string);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && !*has_prio && !*has_weight) {
		snprintf(why, len, "nothing to change: give \"priority\" and/or \"weight\"");
		rc = -1;
	}
	cJSON_Delete(o);
	return rc;
}

/* PATCH /admin/v1/providers/NAME */
static enum MHD_Result
admin_provider_patch(struct gw_req *q, const char *name)
{
	struct gw_router *gr;
	int has_prio, prio = 0, has_weight, rc = 0;
	double weight = 0;
	char why[256], did[96] = "";
	char *cause = NULL;

	if (patch_parse(q, &has_prio, &prio, &has_weight, &weight, why, sizeof why) != 0)
		return admin_error(q, 400, "invalid_request_error", "%s", why);
	gr = gw_router_get(q->gw);
	if (!provider_known(gr->router, name)) {
		gw_router_put(q->gw, gr);
		return admin_error(q, 404, "not_found", "unknown provider \"%s\"", name);
	}
	if (has_prio && (rc = router_set_priority(gr->router, name, prio, &cause)) == 0)
		snprintf(did, sizeof did, "priority %d", prio);
	if (rc == 0 && has_weight &&
	    (rc = router_set_weight(gr->router, name, weight, &cause)) == 0)
		snprintf(did + strlen(did), sizeof did - strlen(did), "%sweight %g",
		    did[0] != '\0' ? ", " : "", weight);
	if (rc != 0) {
		enum MHD_Result ret = admin_error(q, 400, "invalid_request_error", "%s", cause);
		free(cause);
		gw_router_put(q->gw, gr);
		return ret;
	}
	event_add(router_events(gr->router), EV_OPERATOR, name, "admin %s: set %s %s",
	    q->gw->instance, name, did);
	return admin_provider_reply(q, gr, name);
}

static enum MHD_Result
admin_cache_flush(struct gw_req *q)
{
	struct gw_router *gr;
	cJSON *o;
	int n;

	gr = gw_router_get(q->gw);
	/* No database: the cache may still be in Redis (cache.url). */
	if (q->gw->store == NULL) {
		const char *url = router_config(gr->router)->cache.url;

		if (url[0] == '\0') {
			gw_router_put(q->gw, gr);
			return admin_error(q, 400, "invalid_request_error",
			    "this instance has no database, so no cache to flush");
		}
		cache_set_url(NULL, url);
	}
	if ((n = cache_flush(q->gw->store)) < 0) {
		gw_router_put(q->gw, gr);
		return admin_error(q, 400, "invalid_request_error",
		    "the cache could not be flushed (database or Redis error)");
	}
	event_add(router_events(gr->router), EV_OPERATOR, NULL,
	    "admin %s: cache flush (%d entries)", q->gw->instance, n);
	gw_router_put(q->gw, gr);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "flushed", n);
	return admin_json(q, 200, o);
}

static enum MHD_Result
admin_reload(struct gw_req *q)
{
	struct gw_router *gr;
	char *cause = NULL;
	cJSON *o;

	if (q->gw->reload == NULL)
		return admin_error(q, 400, "invalid_request_error",
		    "this instance cannot reload its config (only llmdeck serve can)");
	if (q->gw->reload(q->gw->reload_arg, &cause) != 0) {
		enum MHD_Result ret = admin_error(q, 400, "invalid_request_error",
		    "reload refused, the old config stays: %s", cause != NULL ? cause : "?");
		free(cause);
		return ret;
	}
	/* The reload's router is the current one now: the event goes to it. */
	gr = gw_router_get(q->gw);
	event_add(router_events(gr->router), EV_OPERATOR, NULL, "admin %s: reload",
	    q->gw->instance);
	gw_router_put(q->gw, gr);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "reloaded", 1);
	return admin_json(q, 200, o);
}

/* /admin/v1/providers/NAME[/ACTION] */
static enum MHD_Result
admin_providers(struct gw_req *q, const char *rest, int post, int patch)
{
	char name[128];
	const char *slash = strchr(rest, '/');
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= sizeof name)
		return admin_error(q, 404, "not_found", "no provider named in the path");
	memcpy(name, rest, n);
	name[n] = '\0';
	/* ?instance=ID: the call is for that instance only, as NAME@ID. */
	const char *inst = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "instance");
	if (inst != NULL && inst[0] != '\0' && strchr(name, '@') == NULL) {
		if (strlen(inst) >= 64 || strpbrk(inst, "@/ \t") != NULL)
			return admin_error(q, 400, "invalid_request_error",
			    "instance: expected an instance id (no @, / or spaces, under 64 "
			    "bytes)");
		if (n + 1 + strlen(inst) >= sizeof name)
			return admin_error(q, 400, "invalid_request_error", "instance: too long");
		snprintf(name + n, sizeof name - n, "@%s", inst);
	}
	if (slash == NULL) {
		if (!patch)
			return admin_error(q, 405, "invalid_request_error",
			    "%s %s: use PATCH with {\"priority\": N, \"weight\": W}", q->method,
			    q->path);
		return admin_provider_patch(q, name);
	}
	if (!post)
		return admin_error(q, 405, "invalid_request_error", "%s %s: use POST", q->method,
		    q->path);
	return admin_provider_action(q, name, slash + 1);
}

enum MHD_Result
gw_admin(struct gw_req *q)
{
	const char *rest = q->path + strlen(ADMIN_PREFIX);
	char why[256];
	int status;
	int get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0,
	    patch = strcmp(q->method, "PATCH") == 0;

	if ((status = admin_refused(q, why, sizeof why)) != 0) {
		pthread_mutex_lock(&q->gw->mu);
		q->gw->auth_failures++;
		pthread_mutex_unlock(&q->gw->mu);
		return admin_error(q, status, status == 401 ? "unauthorized" : "forbidden", "%s",
		    why);
	}
	if (q->too_large)
		return admin_error(q, 413, "invalid_request_error", "request body too large");
	if (gw_body_not_json(q))
		return admin_error(q, 415, "invalid_request_error",
		    "the request body must be JSON: send Content-Type: application/json");
	if (strncmp(rest, "providers/", 10) == 0)
		return admin_providers(q, rest + 10, post, patch);
	if (strcmp(rest, "keys") == 0 || strncmp(rest, "keys/", 5) == 0 ||
	    strcmp(rest, "teams") == 0 || strncmp(rest, "teams/", 6) == 0)
		return gw_admin_keys(q, rest);
	if (strcmp(rest, "snapshot") == 0 || strcmp(rest, "events") == 0 ||
	    strcmp(rest, "events/stream") == 0) {
		if (!get)
			return admin_error(q, 405, "invalid_request_error", "%s %s: use GET",
			    q->method, q->path);
		if (rest[0] == 's')
			return admin_snapshot(q);
		return rest[6] == '\0' ? admin_events(q) : admin_events_stream(q);
	}
	if (strcmp(rest, "cache/flush") == 0 || strcmp(rest, "reload") == 0) {
		if (!post)
			return admin_error(q, 405, "invalid_request_error", "%s %s: use POST",
			    q->method, q->path);
		return rest[0] == 'c' ? admin_cache_flush(q) : admin_reload(q);
	}
	if (strcmp(rest, "requests") == 0 || strncmp(rest, "requests/", 9) == 0 ||
	    strcmp(rest, "prompt") == 0)
		return gw_admin_requests(q, rest);
	return admin_error(q, 404, "not_found",
	    "no such admin endpoint: %s (snapshot, events, events/stream, providers/NAME[/ACTION], "
	    "cache/flush, reload, requests[/ID], prompt, keys[/ID[/ACTION]], teams[/NAME])",
	    q->path);
}

enum MHD_Result
gw_admin_error(struct gw_req *q, int status, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return admin_error(q, status, type, "%s", msg);
}

enum MHD_Result
gw_admin_json(struct gw_req *q, int status, cJSON *o)
{
	return admin_json(q, status, o);
}
