/*
 * gateway_metrics.c: GET /metrics in Prometheus's text exposition format
 * (version 0.0.4): the gateway's own counters, the router's snapshot per
 * provider, and budget and cache figures from the store when there is one.
 * Latency histograms are cumulative, in seconds, on fixed le buckets folded
 * from the log-bucketed histograms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "cache.h"
#include "gateway.h"
#include "gateway_priv.h"

static const double le_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escaped as the format asks (backslash, quote, newline). */
static void
label(struct buf *b, const char *s)
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

static const char *
breaker_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED: return "closed";
	case BREAKER_OPEN: return "open";
	default: return "half_open";
	}
}

char *
gateway_metrics_text(struct gateway *gw)
{
	static const char *apis[] = {"openai", "anthropic"};
	uint64_t http[GW_EP__COUNT][GW_CODES], errors[2][LLM_ERR__COUNT], stream_errors[2];
	uint64_t in_flight, auth_failures;
	struct histogram *lat = xmalloc(2 * sizeof *lat);
	struct router_snapshot s;
	struct buf b, l;

	pthread_mutex_lock(&gw->mu);
	memcpy(http, gw->http, sizeof http);
	memcpy(errors, gw->errors, sizeof errors);
	memcpy(stream_errors, gw->stream_errors, sizeof stream_errors);
	memcpy(lat, gw->latency, 2 * sizeof *lat);
	in_flight = gw->in_flight;
	auth_failures = gw->auth_failures;
	pthread_mutex_unlock(&gw->mu);
	router_snapshot(gw->router, &s);

	buf_init(&b);
	buf_init(&l);
	head(&b, "llmdeck_gateway_http_requests_total", "counter",
	    "HTTP requests answered by the gateway, by endpoint and status code.");
	for (int e = 0; e < GW_EP__COUNT; e++)
		for (int c = 0; c < GW_CODES; c++)
			if (http[e][c] > 0 || (c == 0 && e <= GW_EP_MESSAGES))
				buf_printf(&b,
				    "llmdeck_gateway_http_requests_total{endpoint=\"%s\","
				    "code=\"%.*d%s\"} %llu\n",
				    gw_endpoint_name((enum gw_endpoint)e), gw_codes[c] != 0,
				    gw_codes[c], gw_codes[c] == 0 ? "other" : "",
				    (unsigned long long)http[e][c]);
	head(&b, "llmdeck_gateway_errors_total", "counter",
	    "Requests the router could not answer, by client API and error class.");
	for (int a = 0; a < 2; a++)
		for (int c = 1; c < LLM_ERR__COUNT; c++)
			buf_printf(&b,
			    "llmdeck_gateway_errors_total{api=\"%s\",class=\"%s\"} %llu\n", apis[a],
			    llm_errclass_name((enum llm_errclass)c),
			    (unsigned long long)errors[a][c]);
	head(&b, "llmdeck_gateway_stream_errors_total", "counter",
	    "Streams that failed after their first token and ended with an error event.");
	for (int a = 0; a < 2; a++)
		buf_printf(&b, "llmdeck_gateway_stream_errors_total{api=\"%s\"} %llu\n", apis[a],
		    (unsigned long long)stream_errors[a]);
	head(&b, "llmdeck_gateway_auth_failures_total", "counter",
	    "Requests refused for a missing or wrong bearer token.");
	buf_printf(&b, "llmdeck_gateway_auth_failures_total %llu\n",
	    (unsigned long long)auth_failures);
	head(&b, "llmdeck_gateway_in_flight", "gauge", "Gateway requests inside the router now.");
	buf_printf(&b, "llmdeck_gateway_in_flight %llu\n", (unsigned long long)in_flight);
	head(&b, "llmdeck_gateway_request_duration_seconds", "histogram",
	    "Model requests through the gateway, first byte in to last byte out.");
	for (int a = 0; a < 2; a++) {
		buf_reset(&l);
		buf_printf(&l, "api=\"%s\",", apis[a]);
		histogram_series(&b, "llmdeck_gateway_request_duration_seconds", l.data, &lat[a]);
	}

	head(&b, "llmdeck_requests_total", "counter", "Router requests finished.");
	buf_printf(&b, "llmdeck_requests_total %llu\n", (unsigned long long)s.requests);
	head(&b, "llmdeck_requests_answered_total", "counter", "Router requests answered.");
	buf_printf(&b, "llmdeck_requests_answered_total %llu\n", (unsigned long long)s.answered);
	head(&b, "llmdeck_requests_failed_total", "counter", "Router requests that failed.");
	buf_printf(&b, "llmdeck_requests_failed_total %llu\n", (unsigned long long)s.failed);
	head(&b, "llmdeck_failovers_total", "counter", "Failovers from one provider to another.");
	buf_printf(&b, "llmdeck_failovers_total %llu\n", (unsigned long long)s.failovers);
	head(&b, "llmdeck_cache_hits_total", "counter", "Answers served from the response cache.");
	buf_printf(&b, "llmdeck_cache_hits_total %llu\n", (unsigned long long)s.cache_hits);
	head(&b, "llmdeck_in_flight", "gauge", "Router requests in flight.");
	buf_printf(&b, "llmdeck_in_flight %llu\n", (unsigned long long)s.in_flight);
	head(&b, "llmdeck_cost_usd_total", "counter", "Cost of answered requests, USD.");
	buf_printf(&b, "llmdeck_cost_usd_total %.6f\n", s.cost_usd);
	head(&b, "llmdeck_request_duration_seconds", "histogram",
	    "Router latency of answered requests, submit to done.");
	histogram_series(&b, "llmdeck_request_duration_seconds", "", &s.latency);

#define PER_PROVIDER(NAME, TYPE, HELP, fmt, expr) \
	do { \
		head(&b, NAME, TYPE, HELP); \
		for (size_t i = 0; i < s.n_providers; i++) { \
			const struct provider_snapshot *p = &s.providers[i]; \
			buf_printf(&b, "%s{provider=\"", NAME); \
			label(&b, p->name); \
			buf_printf(&b, "\"} " fmt "\n", expr); \
		} \
	} while (0)
	PER_PROVIDER("llmdeck_provider_requests_total", "counter", "Attempts sent to the provider.",
	    "%llu", (unsigned long long)p->requests);
	PER_PROVIDER("llmdeck_provider_successes_total", "counter", "Successful attempts.", "%llu",
	    (unsigned long long)p->successes);
	PER_PROVIDER("llmdeck_provider_in_flight", "gauge", "Attempts in flight.", "%llu",
	    (unsigned long long)p->in_flight);
	PER_PROVIDER("llmdeck_provider_input_tokens_total", "counter", "Input tokens used.", "%lld",
	    (long long)p->input_tokens);
	PER_PROVIDER("llmdeck_provider_output_tokens_total", "counter", "Output tokens produced.",
	    "%lld", (long long)p->output_tokens);
	PER_PROVIDER("llmdeck_provider_cost_usd_total", "counter",
	    "Cost of the provider's answers, "
	    "USD.",
	    "%.6f", p->cost_usd);
	PER_PROVIDER("llmdeck_provider_usable", "gauge", "1 if the provider would be selected now.",
	    "%d", p->usable ? 1 : 0);
	PER_PROVIDER("llmdeck_provider_share", "gauge", "Fraction of all requests sent here.",
	    "%.4f", p->share);
	PER_PROVIDER("llmdeck_provider_breaker_open", "gauge",
	    "Circuit breaker: 0 closed, 0.5 half-open, 1 open.", "%g",
	    p->breaker == BREAKER_CLOSED     ? 0.0
	        : p->breaker == BREAKER_OPEN ? 1.0
	                                     : 0.5);
#undef PER_PROVIDER
	head(&b, "llmdeck_provider_breaker_state", "gauge",
	    "Circuit breaker state, one series per state, 1 for the current one.");
	for (size_t i = 0; i < s.n_providers; i++) {
		static const enum breaker_state states[] = {
		    BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
		for (size_t k = 0; k < nitems(states); k++) {
			buf_puts(&b, "llmdeck_provider_breaker_state{provider=\"");
			label(&b, s.providers[i].name);
			buf_printf(&b, "\",state=\"%s\"} %d\n", breaker_name(states[k]),
			    s.providers[i].breaker == states[k]);
		}
	}
	head(&b, "llmdeck_provider_errors_total", "counter", "Failed attempts by error class.");
	for (size_t i = 0; i < s.n_providers; i++)
		for (int c = 1; c < LLM_ERR__COUNT; c++) {
			buf_puts(&b, "llmdeck_provider_errors_total{provider=\"");
			label(&b, s.providers[i].name);
			buf_printf(&b, "\",class=\"%s\"} %llu\n",
			    llm_errclass_name((enum llm_errclass)c),
			    (unsigned long long)s.providers[i].errors_by_class[c]);
		}
	head(&b, "llmdeck_provider_latency_seconds", "histogram",
	    "Latency of successful attempts per provider.");
	for (size_t i = 0; i < s.n_providers; i++) {
		buf_reset(&l);
		buf_puts(&l, "provider=\"");
		label(&l, s.providers[i].name);
		buf_puts(&l, "\",");
		histogram_series(&b, "llmdeck_provider_latency_seconds", l.data,
		    &s.providers[i].latency);
	}

	if (gw->store != NULL) {
		const struct config *cfg = router_config(gw->router);
		struct budget_status bs;
		struct cache_stats cs;
		char *cause = NULL;

		if (budget_get_status(gw->store, &cfg->budget, &bs, &cause) == 0) {
			head(&b, "llmdeck_budget_usd", "gauge", "Today's budget, USD (0: none).");
			buf_printf(&b, "llmdeck_budget_usd %.6f\n", bs.budget_usd);
			head(&b, "llmdeck_budget_spent_usd", "gauge", "Spent today, USD.");
			buf_printf(&b, "llmdeck_budget_spent_usd %.6f\n", bs.spent_usd);
			head(&b, "llmdeck_budget_reserved_usd", "gauge",
			    "Reserved by requests in flight, USD.");
			buf_printf(&b, "llmdeck_budget_reserved_usd %.6f\n", bs.reserved_usd);
			if (bs.budget_usd > 0) {
				head(&b, "llmdeck_budget_remaining_usd", "gauge",
				    "Budget left today, USD.");
				buf_printf(&b, "llmdeck_budget_remaining_usd %.6f\n",
				    bs.budget_usd - bs.spent_usd > 0 ? bs.budget_usd - bs.spent_usd
				                                     : 0);
			}
		}
		free(cause);
		if (cache_get_stats(gw->store, &cs) == 0) {
			head(&b, "llmdeck_cache_entries", "gauge",
			    "Entries in the response cache.");
			buf_printf(&b, "llmdeck_cache_entries %lld\n", (long long)cs.entries);
			head(&b, "llmdeck_cache_lookups_total", "counter",
			    "Response cache lookups by result (from the database).");
			buf_printf(&b, "llmdeck_cache_lookups_total{result=\"hit\"} %lld\n",
			    (long long)cs.hits);
			buf_printf(&b, "llmdeck_cache_lookups_total{result=\"miss\"} %lld\n",
			    (long long)cs.misses);
		}
	}
	router_snapshot_free(&s);
	buf_free(&l);
	free(lat);
	return buf_detach(&b);
}
