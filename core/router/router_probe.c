/*
 * router_probe.c: active health probes. Every probe_interval_ms each provider
 * that is not disabled gets a cheap request (its models list). A success
 * closes an open or half-open breaker at once (the provider is back, there is
 * no reason to wait out the cooldown); a failure on a closed breaker counts
 * like a failed request; a failure in half-open is a failed trial. Every
 * result is an event with its latency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"

struct probe {
	struct router *r;
	int idx;
	struct adapter_http ah;
};

static void
probe_settle_locked(struct router *r, struct provider *p, int ok, uint64_t now)
{
	enum breaker_state before = p->breaker.state;

	if (ok) {
		if (p->probe_is_trial)
			breaker_on_success(&p->breaker, now);
		else
			breaker_recover(&p->breaker, now);
		rt_breaker_event(r, p, before, "health probe ok");
		return;
	}
	if (p->probe_is_trial) {
		breaker_on_failure(&p->breaker, now);
		rt_breaker_event(r, p, before, "health probe failed");
	} else if (p->breaker.state == BREAKER_CLOSED) {
		/* A failing probe on a closed breaker counts as a failure. */
		breaker_on_failure(&p->breaker, now);
		rt_breaker_event(r, p, before, "health probes failing");
	}
}

static void
on_probe_done(void *arg, const struct http_result *hr)
{
	struct probe *pr = arg;
	struct router *r = pr->r;
	struct provider *p = &r->providers[pr->idx];
	uint64_t now = rt_now(r);
	int ok = hr->err == HTTP_OK && hr->status >= 200 && hr->status < 300;
	uint64_t lat = hr->elapsed_us;

	pthread_mutex_lock(&r->mu);
	p->probe_http = 0;
	if (hr->err != HTTP_ERR_ABORTED) {
		p->last_probe_ms = clock_wall_ms();
		p->last_probe_ok = ok;
		p->last_probe_latency_us = lat;
		probe_settle_locked(r, p, ok, now);
	} else if (p->probe_is_trial) {
		breaker_release(&p->breaker);
	}
	p->probe_is_trial = 0;
	pthread_mutex_unlock(&r->mu);
	if (hr->err != HTTP_ERR_ABORTED) {
		if (ok)
			event_add(r->events, EV_PROVIDER, p->conf->name, "probe ok in %.0f ms",
			    (double)lat / 1000);
		else if (hr->err != HTTP_OK)
			event_add(r->events, EV_PROVIDER, p->conf->name,
			    "probe failed in %.0f ms: %s: %s", (double)lat / 1000,
			    http_err_name(hr->err), hr->errmsg);
		else
			event_add(r->events, EV_PROVIDER, p->conf->name,
			    "probe failed in %.0f ms: HTTP %d", (double)lat / 1000, hr->status);
	}
	pthread_mutex_lock(&r->mu);
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
	adapter_http_free(&pr->ah);
	free(pr);
}

/* Send a probe to provider idx. Lock held. Returns 0 if sent (or one is in flight). */
static int
probe_send_locked(struct router *r, int idx, char **cause)
{
	struct provider *p = &r->providers[idx];
	struct probe *pr;
	struct http_request hr;
	uint64_t now = rt_now(r);

	if (p->probe_http != 0 || r->closing)
		return 0;
	pr = xcalloc(1, sizeof *pr);
	pr->r = r;
	pr->idx = idx;
	if (p->adapter->build_probe(p->conf, &pr->ah, cause) != 0) {
		free(pr);
		return -1;
	}
	/* A half-open breaker gets the probe as one of its trials. */
	p->probe_is_trial = 0;
	if (p->breaker.state != BREAKER_CLOSED && breaker_would_allow(&p->breaker, now) &&
	    p->breaker.state == BREAKER_HALF_OPEN && breaker_acquire(&p->breaker, now))
		p->probe_is_trial = 1;
	memset(&hr, 0, sizeof hr);
	hr.method = pr->ah.method;
	hr.url = pr->ah.url;
	hr.headers = (const char *const *)pr->ah.headers;
	hr.n_headers = pr->ah.n_headers;
	hr.timeout_ms = 5000;
	hr.connect_timeout_ms = 2000;
	hr.ca_file = p->conf->ca_file;
	hr.insecure = !p->conf->tls_verify;
	hr.max_response = 1 << 20;
	hr.on_done = on_probe_done;
	hr.arg = pr;
	r->active++;
	p->probe_started_us = clock_mono_us();
	p->probe_http = http_submit(r->engine, &hr);
	return 0;
}

int
router_probe(struct router *r, const char *name, char **cause)
{
	struct provider *p;
	int rc;

	if ((p = rt_provider_lock(r, name, cause)) == NULL)
		return -1;
	rc = probe_send_locked(r, (int)(p - r->providers), cause);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void
on_probe_timer(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->mu);
	r->probe_timer = 0;
	if (r->closing) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	/* Open breakers too: a provider that is back is closed by its probe at once. */
	for (size_t i = 0; i < r->n_providers; i++) {
		char *cause = NULL;
		if (r->providers[i].admin == ADMIN_DISABLED)
			continue;
		if (probe_send_locked(r, (int)i, &cause) != 0)
			free(cause);
	}
	pthread_mutex_unlock(&r->mu);
	rt_probe_schedule(r);
}

void
rt_probe_schedule(struct router *r)
{
	pthread_mutex_lock(&r->mu);
	if (!r->closing && !r->opts.no_probes && r->cfg->breaker.probe_interval_ms > 0)
		r->probe_timer = http_call_later(r->engine,
		    (uint64_t)r->cfg->breaker.probe_interval_ms, on_probe_timer, r);
	pthread_mutex_unlock(&r->mu);
}
