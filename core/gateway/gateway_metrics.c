/*
 * gateway_metrics.c: GET /metrics in Prometheus's text exposition format
 * (version 0.0.4): the gateway's own counters, the router's snapshot per
 * provider, and budget and cache figures from the store when there is one.
 * Latency histograms are cumulative, in seconds, on fixed le buckets folded
 * from the log-bucketed histograms. The plain series are tables (one row per
 * series: name, type, help, where its value is) walked by a loop.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/budget.h"
#include "store/cache.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"

static const double le_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
gw_metrics_label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, s, 1);
	}
}

/* One histogram's series; labels is "" or `k="v",` pairs ending in a comma. */
static void
histogram_series(struct buf *b, const char *name, const char *labels, const struct histogram *h)
{
	uint64_t cum = 0, lo, hi;
	size_t k = 0, n;
	int bk = 0;

	for (k = 0; k < nitems(le_s); k++) {
		uint64_t edge = (uint64_t)(le_s[k] * 1e6 + 0.5);
		/* Buckets whose upper edge is at or below this le. */
		for (; bk < HIST_BUCKETS; bk++) {
			hist_bucket_range(bk, &lo, &hi);
			if (hi > edge + 1)
				break;
			cum += h->counts[bk];
		}
		buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, le_s[k],
		    (unsigned long long)cum);
	}
	buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
	    (unsigned long long)h->total);
	/* The same labels without the trailing comma, and no braces when there are none. */
	n = strlen(labels);
	if (n > 0) {
		buf_printf(b, "%s_sum{%.*s} %.6f\n", name, (int)n - 1, labels,
		    (double)h->sum_us / 1e6);
		buf_printf(b, "%s_count{%.*s} %llu\n", name, (int)n - 1, labels,
		    (unsigned long long)h->total);
	} else {
		buf_printf(b, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6);
		buf_printf(b, "%s_count %llu\n", name, (unsigned long long)h->total);
	}
}

/* How a table row's value is printed. */
enum metric_num {
	NUM_U64,     /* uint64_t, %llu */
	NUM_I64,     /* a token count (uint64_t) printed as %lld */
	NUM_USD,     /* double, %.6f */
	NUM_SHARE,   /* double, %.4f */
	NUM_FLAG,    /* int, 1 if set */
	NUM_BREAKER, /* enum breaker_state: 0 closed, 0.5 half-open, 1 open (%g) */
};

/* One series: its name, type and help, and where its value is in a snapshot. */
struct metric {
	const char *name;
	const char *type;
	const char *help;
	enum metric_num num;
	size_t off;
};

#define ROUTER(NAME, TYPE, HELP, NUM, FIELD) \
	{ \
		NAME, TYPE, HELP, NUM, offsetof(struct router_snapshot, FIELD) \
	}
#define PROVIDER(NAME, TYPE, HELP, NUM, FIELD) \
	{ \
		NAME, TYPE, HELP, NUM, offsetof(struct provider_snapshot, FIELD) \
	}

/* The router's own series, one value each (the latency histogram follows them). */
static const struct metric router_metrics[] = {
    ROUTER("llmdeck_requests_total", "counter", "Router requests finished.", NUM_U64, requests),
    ROUTER("llmdeck_requests_answered_total", "counter", "Router requests answered.", NUM_U64,
        answered),
    ROUTER("llmdeck_requests_failed_total", "counter", "Router requests that failed.", NUM_U64,
        failed),
    ROUTER("llmdeck_failovers_total", "counter", "Failovers from one provider to another.", NUM_U64,
        failovers),
    ROUTER("llmdeck_admitted_fast_total", "counter",
        "Requests admitted without waiting on the store (no key, not cacheable, budget from "
        "the lease in memory).",
        NUM_U64, admitted_fast),
    ROUTER("llmdeck_cache_hits_total", "counter", "Answers served from the response cache.",
        NUM_U64, cache_hits),
    ROUTER("llmdeck_in_flight", "gauge", "Router requests in flight.", NUM_U64, in_flight),
    ROUTER("llmdeck_cost_usd_total", "counter", "Cost of answered requests, USD.", NUM_USD,
        cost_usd),
};

/* A series per provider, labelled provider="NAME". */
static const struct metric provider_metrics[] = {
    PROVIDER("llmdeck_provider_requests_total", "counter", "Attempts sent to the provider.",
        NUM_U64, requests),
    PROVIDER("llmdeck_provider_successes_total", "counter", "Successful attempts.", NUM_U64,
        successes),
    PROVIDER("llmdeck_provider_in_flight", "gauge", "Attempts in flight.", NUM_U64, in_flight),
    PROVIDER("llmdeck_provider_input_tokens_total", "counter", "Input tokens used.", NUM_I64,
        input_tokens),
    PROVIDER("llmdeck_provider_output_tokens_total", "counter", "Output tokens produced.", NUM_I64,
        output_tokens),
    PROVIDER("llmdeck_provider_cost_usd_total", "counter", "Cost of the provider's answers, USD.",
        NUM_USD, cost_usd),
    PROVIDER("llmdeck_provider_usable", "gauge", "1 if the provider would be selected now.",
        NUM_FLAG, usable),
    PROVIDER("llmdeck_provider_share", "gauge", "Fraction of all requests sent here.", NUM_SHARE,
        share),
    PROVIDER("llmdeck_provider_breaker_open", "gauge",
        "Circuit breaker: 0 closed, 0.5 half-open, 1 open.", NUM_BREAKER, breaker),
};

/* The value at m->off in base, as m->num says, then a newline. */
static void
metric_value(struct buf *b, const struct metric *m, const void *base)
{
	const char *p = (const char *)base + m->off;
	enum breaker_state bs;
	uint64_t u;
	double d;
	int i;

	switch (m->num) {
	case NUM_U64:
	case NUM_I64:
		memcpy(&u, p, sizeof u);
		if (m->num == NUM_U64)
			buf_printf(b, " %llu\n", (unsigned long long)u);
		else
			buf_printf(b, " %lld\n", (long long)u);
		break;
	case NUM_USD:
	case NUM_SHARE:
		memcpy(&d, p, sizeof d);
		buf_printf(b, m->num == NUM_USD ? " %.6f\n" : " %.4f\n", d);
		break;
	case NUM_FLAG:
		memcpy(&i, p, sizeof i);
		buf_printf(b, " %d\n", i ? 1 : 0);
		break;
	case NUM_BREAKER:
		memcpy(&bs, p, sizeof bs);
		buf_printf(b, " %g\n", bs == BREAKER_CLOSED ? 0.0 : bs == BREAKER_OPEN ? 1.0 : 0.5);
		break;
	}
}

static const char *
breaker_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED: return "closed";
	case BREAKER_OPEN: return "open";
	default: return "half_open";
	}
}

/* The gateway's own counters, copied under its lock. */
struct gw_counts {
	uint64_t http[GW_EP__COUNT][GW_CODES];
	uint64_t errors[GW_API__COUNT][LLM_ERR__COUNT];
	uint64_t stream_errors[GW_API__COUNT];
	uint64_t in_flight, auth_failures;
	struct histogram latency[GW_API__COUNT];
	struct {
		char field[GW_DROPPED_FIELD];
		uint64_t n;
	} dropped[GW_DROPPED_NAMES];
	size_t n_dropped;
};

static void
gateway_series(struct buf *b, const struct gw_counts *g)
{
	struct buf l;

	head(b, "llmdeck_gateway_http_requests_total", "counter",
	    "HTTP requests answered by the gateway, by endpoint and status code.");
	for (int e = 0; e < GW_EP__COUNT; e++)
		for (int c = 0; c < GW_CODES; c++)
			if (g->http[e][c] > 0 || (c == 0 && e <= GW_EP_MESSAGES))
				buf_printf(b,
				    "llmdeck_gateway_http_requests_total{endpoint=\"%s\","
				    "code=\"%.*d%s\"} %llu\n",
				    gw_endpoint_name((enum gw_endpoint)e), gw_codes[c] != 0,
				    gw_codes[c], gw_codes[c] == 0 ? "other" : "",
				    (unsigned long long)g->http[e][c]);
	head(b, "llmdeck_gateway_errors_total", "counter",
	    "Requests the router could not answer, by client API and error class.");
	for (int a = 0; a < GW_API__COUNT; a++)
		for (int c = 1; c < LLM_ERR__COUNT; c++)
			buf_printf(b,
			    "llmdeck_gateway_errors_total{api=\"%s\",class=\"%s\"} %llu\n",
			    gw_api_ops((enum gw_api)a)->name,
			    llm_errclass_name((enum llm_errclass)c),
			    (unsigned long long)g->errors[a][c]);
	head(b, "llmdeck_gateway_stream_errors_total", "counter",
	    "Streams that failed after their first token and ended with an error event.");
	for (int a = 0; a < GW_API__COUNT; a++)
		buf_printf(b, "llmdeck_gateway_stream_errors_total{api=\"%s\"} %llu\n",
		    gw_api_ops((enum gw_api)a)->name, (unsigned long long)g->stream_errors[a]);
	head(b, "llmdeck_dropped_fields_total", "counter",
	    "Client fields accepted but left out when the request was translated to another "
	    "provider's API, by field.");
	for (size_t i = 0; i < g->n_dropped; i++)
		buf_printf(b, "llmdeck_dropped_fields_total{field=\"%s\"} %llu\n",
		    g->dropped[i].field, (unsigned long long)g->dropped[i].n);
	head(b, "llmdeck_upstream_invalid_utf8_total", "counter",
	    "Provider answers and stream events that held invalid UTF-8, repaired to U+FFFD "
	    "before any client saw them.");
	buf_printf(b, "llmdeck_upstream_invalid_utf8_total %llu\n",
	    (unsigned long long)llm_invalid_utf8_total());
	head(b, "llmdeck_gateway_auth_failures_total", "counter",
	    "Requests refused for a missing or wrong bearer token.");
	buf_printf(b, "llmdeck_gateway_auth_failures_total %llu\n",
	    (unsigned long long)g->auth_failures);
	head(b, "llmdeck_gateway_in_flight", "gauge", "Gateway requests inside the router now.");
	buf_printf(b, "llmdeck_gateway_in_flight %llu\n", (unsigned long long)g->in_flight);
	head(b, "llmdeck_gateway_request_duration_seconds", "histogram",
	    "Model requests through the gateway, first byte in to last byte out.");
	buf_init(&l);
	for (int a = 0; a < GW_API__COUNT; a++) {
		buf_reset(&l);
		buf_printf(&l, "api=\"%s\",", gw_api_ops((enum gw_api)a)->name);
		histogram_series(b, "llmdeck_gateway_request_duration_seconds", l.data,
		    &g->latency[a]);
	}
	buf_free(&l);
}

static void
router_series(struct buf *b, const struct router_snapshot *s)
{
	for (size_t m = 0; m < nitems(router_metrics); m++) {
		head(b, router_metrics[m].name, router_metrics[m].type, router_metrics[m].help);
		buf_puts(b, router_metrics[m].name);
		metric_value(b, &router_metrics[m], s);
	}
	head(b, "llmdeck_request_duration_seconds", "histogram",
	    "Router latency of answered requests, submit to done.");
	histogram_series(b, "llmdeck_request_duration_seconds", "", &s->latency);
}

/* NAME{provider="P" (the caller closes the braces). */
static void
provider_open(struct buf *b, const char *name, const struct provider_snapshot *p)
{
	buf_printf(b, "%s{provider=\"", name);
	gw_metrics_label(b, p->name);
}

static void
provider_series(struct buf *b, const struct router_snapshot *s)
{
	static const enum breaker_state states[] = {
	    BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
	struct buf l;

	for (size_t m = 0; m < nitems(provider_metrics); m++) {
		head(b, provider_metrics[m].name, provider_metrics[m].type,
		    provider_metrics[m].help);
		for (size_t i = 0; i < s->n_providers; i++) {
			provider_open(b, provider_metrics[m].name, &s->providers[i]);
			buf_puts(b, "\"}");
			metric_value(b, &provider_metrics[m], &s->providers[i]);
		}
	}
	head(b, "llmdeck_provider_breaker_state", "gauge",
	    "Circuit breaker state, one series per state, 1 for the current one.");
	for (size_t i = 0; i < s->n_providers; i++)
		for (size_t k = 0; k < nitems(states); k++) {
			provider_open(b, "llmdeck_provider_breaker_state", &s->providers[i]);
			buf_printf(b, "\",state=\"%s\"} %d\n", breaker_name(states[k]),
			    s->providers[i].breaker == states[k]);
		}
	head(b, "llmdeck_provider_errors_total", "counter", "Failed attempts by error class.");
	for (size_t i = 0; i < s->n_providers; i++)
		for (int c = 1; c < LLM_ERR__COUNT; c++) {
			provider_open(b, "llmdeck_provider_errors_total", &s->providers[i]);
			buf_printf(b, "\",class=\"%s\"} %llu\n",
			    llm_errclass_name((enum llm_errclass)c),
			    (unsigned long long)s->providers[i].errors_by_class[c]);
		}
	head(b, "llmdeck_provider_latency_seconds", "histogram",
	    "Latency of successful attempts per provider.");
	buf_init(&l);
	for (size_t i = 0; i < s->n_providers; i++) {
		buf_reset(&l);
		buf_puts(&l, "provider=\"");
		gw_metrics_label(&l, s->providers[i].name);
		buf_puts(&l, "\",");
		histogram_series(b, "llmdeck_provider_latency_seconds", l.data,
		    &s->providers[i].latency);
	}
	buf_free(&l);
}

/* Budget and cache figures, from the database. */
static void
store_series(struct buf *b, struct gateway *gw, const struct config *cfg)
{
	struct budget_status bs;
	struct cache_stats cs;
	char *cause = NULL;

	if (budget_get_status(gw->store, &cfg->budget, &bs, &cause) == 0) {
		head(b, "llmdeck_budget_usd", "gauge", "Today's budget, USD (0: none).");
		buf_printf(b, "llmdeck_budget_usd %.6f\n", bs.budget_usd);
		head(b, "llmdeck_budget_spent_usd", "gauge", "Spent today, USD.");
		buf_printf(b, "llmdeck_budget_spent_usd %.6f\n", bs.spent_usd);
		head(b, "llmdeck_budget_reserved_usd", "gauge",
		    "Reserved by requests in flight, USD.");
		buf_printf(b, "llmdeck_budget_reserved_usd %.6f\n", bs.reserved_usd);
		if (bs.budget_usd > 0) {
			head(b, "llmdeck_budget_remaining_usd", "gauge", "Budget left today, USD.");
			buf_printf(b, "llmdeck_budget_remaining_usd %.6f\n",
			    bs.budget_usd - bs.spent_usd > 0 ? bs.budget_usd - bs.spent_usd : 0);
		}
	}
	free(cause);
	if (cache_get_stats(gw->store, &cs) == 0) {
		head(b, "llmdeck_cache_entries", "gauge", "Entries in the response cache.");
		buf_printf(b, "llmdeck_cache_entries %lld\n", (long long)cs.entries);
		head(b, "llmdeck_cache_lookups_total", "counter",
		    "Response cache lookups by result (from the database).");
		buf_printf(b, "llmdeck_cache_lookups_total{result=\"hit\"} %lld\n",
		    (long long)cs.hits);
		buf_printf(b, "llmdeck_cache_lookups_total{result=\"miss\"} %lld\n",
		    (long long)cs.misses);
	}
}

/* The HTTP engine's connection reuse: connections and TLS handshakes per transfer. */
static void
upstream_series(struct buf *b, const struct router_snapshot *s)
{
	const struct {
		const char *name, *help;
		uint64_t v;
	} rows[] = {
	    {"llmdeck_upstream_transfers_total", "HTTP transfers to providers (attempts, probes).",
	        s->upstream_transfers},
	    {"llmdeck_upstream_connections_total",
	        "Connections opened to providers (reuse keeps this near the pool size).",
	        s->upstream_connections},
	    {"llmdeck_upstream_tls_handshakes_total", "TLS handshakes with providers.",
	        s->upstream_tls_handshakes},
	    {"llmdeck_upstream_http2_transfers_total", "Transfers multiplexed over HTTP/2.",
	        s->upstream_http2_transfers},
	};

	for (size_t i = 0; i < nitems(rows); i++) {
		head(b, rows[i].name, "counter", rows[i].help);
		buf_printf(b, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
	}
}

char *
gateway_metrics_text(struct gateway *gw)
{
	struct gw_counts *g = xmalloc(sizeof *g);
	struct gw_router *gr = gw_router_get(gw); /* a reload may swap it meanwhile */
	struct router_snapshot s;
	struct buf b;

	pthread_mutex_lock(&gw->mu);
	memcpy(g->http, gw->http, sizeof g->http);
	memcpy(g->errors, gw->errors, sizeof g->errors);
	memcpy(g->stream_errors, gw->stream_errors, sizeof g->stream_errors);
	memcpy(g->latency, gw->latency, sizeof g->latency);
	g->in_flight = gw->in_flight;
	g->auth_failures = gw->auth_failures;
	memcpy(g->dropped, gw->dropped, sizeof g->dropped);
	g->n_dropped = gw->n_dropped;
	pthread_mutex_unlock(&gw->mu);
	memset(&s, 0, sizeof s);
	router_snapshot(gr->router, &s);

	buf_init(&b);
	gateway_series(&b, g);
	gw_keys_metrics(gw, &b);
	router_series(&b, &s);
	provider_series(&b, &s);
	upstream_series(&b, &s);
	if (gw->store != NULL)
		store_series(&b, gw, router_config(gr->router));
	gw_router_put(gw, gr);
	router_snapshot_free(&s);
	free(g);
	return buf_detach(&b);
}
