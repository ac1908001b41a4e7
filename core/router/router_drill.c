/*
 * router_drill.c: fault drills owned by the router, for real providers and
 * simulated ones alike. An operator (the admin API's POST
 * /admin/v1/providers/NAME/drill) asks that a share of a provider's attempts
 * fail one way for a while; the attempt path asks rt_drill_submit_locked()
 * instead of http_submit(), and a drilled attempt never reaches the provider:
 * its end is made up here and delivered through the attempt's own on_done on
 * the engine thread, so retries, failover, the breaker, events and the ledger
 * see it as they would see the provider fail.
 *
 * Faults: an HTTP status ("500", "429", "503", "529": an error body at once)
 * or "hang" (no answer: the attempt times out when its limit says); "none"
 * stops. A drill ends by itself after its duration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/http.h"
#include "router/router_priv.h"

#define DRILL_FAKE_ID (1ULL << 62) /* ids of made-up transfers: far from the engine's */

/* A provider's drill: by index, allocated at the first one (under r->mu). */
struct rt_drill {
	char fault[16]; /* "" none */
	double rate;
	uint64_t until_ms; /* router clock */
	int ended_said;
};

/* A drilled attempt's made-up end, waiting on an engine timer. */
struct drill_fire {
	struct router *r;
	struct attempt *a; /* alive until on_done is called */
	void (*on_done)(void *, const struct http_result *);
	void *arg;
	int status; /* 0: hang (a timeout) */
	char fault[16];
	uint64_t deadline_us; /* a hang's: the attempt's own limit */
};

/* A hang looks every so often whether the router gave up on the attempt (its watchdog,
 * a hedge that won, a caller that left): it then ends as a real transfer would when
 * cancelled, at once, not at its limit. */
#define DRILL_HANG_TICK_MS 100

static const char *const drill_faults[] = {"500", "429", "503", "529", "hang", "none", NULL};

static int
drill_known(const char *fault)
{
	for (size_t i = 0; drill_faults[i] != NULL; i++)
		if (strcmp(fault, drill_faults[i]) == 0)
			return 1;
	return 0;
}

int
router_drill(struct router *r, const char *provider, const char *fault, double rate, int duration_s,
    const char *who, char **cause)
{
	int idx;
	struct rt_drill *d;

	if (fault == NULL || !drill_known(fault)) {
		*cause = xasprintf("drill: fault must be one of 500, 429, 503, 529, hang, none "
		                   "(got \"%s\")",
		    fault != NULL ? fault : "");
		return -1;
	}
	if (strcmp(fault, "none") != 0 && (!(rate > 0) || rate > 1)) {
		*cause = xasprintf("drill: rate must be more than 0 and at most 1 (a share of "
		                   "attempts)");
		return -1;
	}
	if (strcmp(fault, "none") != 0 && (duration_s < 1 || duration_s > ROUTER_DRILL_MAX_S)) {
		*cause = xasprintf("drill: duration_s must be 1..%d seconds", ROUTER_DRILL_MAX_S);
		return -1;
	}
	pthread_mutex_lock(&r->mu);
	if ((idx = rt_provider_index(r, provider)) < 0) {
		pthread_mutex_unlock(&r->mu);
		*cause = xasprintf("drill: unknown provider \"%s\"", provider);
		return -1;
	}
	if (r->drills == NULL)
		r->drills = xcalloc(r->n_providers, sizeof *r->drills);
	d = &r->drills[idx];
	if (strcmp(fault, "none") == 0) {
		d->fault[0] = '\0';
	} else {
		strlcpy_(d->fault, fault, sizeof d->fault);
		d->rate = rate;
		d->until_ms = rt_now(r) + (uint64_t)duration_s * 1000;
		d->ended_said = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (strcmp(fault, "none") == 0)
		event_add(r->events, EV_OPERATOR, provider, "drill on %s stopped%s%s", provider,
		    who != NULL ? " by " : "", who != NULL ? who : "");
	else
		event_add(r->events, EV_OPERATOR, provider,
		    "drill %s on %s: %.0f%% of attempts for %d s%s%s", fault, provider, rate * 100,
		    duration_s, who != NULL ? " by " : "", who != NULL ? who : "");
	return 0;
}

/* The drill on provider idx now (r->mu held): its fault, or NULL. An ended one is
 * cleared, and said once in the events (the caller adds it after unlocking). */
static const char *
drill_on_locked(struct router *r, int idx, uint64_t now, int *ended)
{
	struct rt_drill *d;

	*ended = 0;
	if (r->drills == NULL || idx < 0 || (size_t)idx >= r->n_providers)
		return NULL;
	d = &r->drills[idx];
	if (d->fault[0] == '\0')
		return NULL;
	if (now >= d->until_ms) {
		d->fault[0] = '\0';
		*ended = !d->ended_said;
		d->ended_said = 1;
		return NULL;
	}
	return d->fault;
}

void
rt_drill_snapshot_locked(struct router *r, struct router_snapshot *s, uint64_t now)
{
	for (size_t i = 0; r->drills != NULL && i < r->n_providers; i++) {
		struct provider_snapshot *ps = &s->providers[i];
		int ended;

		/* An ended drill is said once, here or at the provider's next attempt. */
		if (drill_on_locked(r, (int)i, now, &ended) == NULL) {
			if (ended)
				event_add(r->events, EV_OPERATOR, r->providers[i].conf->name,
				    "drill on %s ended (its time was up)",
				    r->providers[i].conf->name);
			continue;
		}
		const struct rt_drill *d = &r->drills[i];
		strlcpy_(ps->drill, d->fault, sizeof ps->drill);
		ps->drill_rate = d->rate;
		ps->drill_left_ms = d->until_ms - now;
	}
}

static void
drill_fire(void *arg)
{
	struct drill_fire *f = arg;
	struct attempt *a = f->a;
	struct http_result res;
	char body[160];

	memset(&res, 0, sizeof res);
	if (f->status != 0) {
		snprintf(body, sizeof body,
		    "{\"error\":{\"type\":\"drill\",\"message\":\"drill: HTTP %d injected by the "
		    "gateway\"}}",
		    f->status);
		res.err = HTTP_OK;
		res.status = f->status;
		res.body = body;
		res.body_len = strlen(body);
	} else if (a->lost || a->abandoned || a->q->cancel) {
		res.err = HTTP_ERR_ABORTED;
		snprintf(res.errmsg, sizeof res.errmsg, "drill: %s, given up on", f->fault);
	} else if (clock_mono_us() < f->deadline_us) {
		http_call_later(f->r->engine, DRILL_HANG_TICK_MS, drill_fire, f);
		return;
	} else {
		res.err = HTTP_ERR_TIMEOUT;
		snprintf(res.errmsg, sizeof res.errmsg, "drill: %s injected by the gateway",
		    f->fault);
	}
	f->on_done(f->arg, &res);
	free(f);
}

uint64_t
rt_drill_submit_locked(struct router *r, struct attempt *a, const struct http_request *hr)
{
	static uint64_t fake;
	uint64_t now = rt_now(r), wait_ms;
	int ended;
	const char *fault = drill_on_locked(r, a->idx, now, &ended);
	struct drill_fire *f;

	if (ended)
		event_add(r->events, EV_OPERATOR, r->providers[a->idx].conf->name,
		    "drill on %s ended (its time was up)", r->providers[a->idx].conf->name);
	if (fault == NULL || rng_double(&r->rng) >= r->drills[a->idx].rate)
		return http_submit(r->engine, hr);
	f = xcalloc(1, sizeof *f);
	f->r = r;
	f->a = a;
	f->on_done = hr->on_done;
	f->arg = hr->arg;
	strlcpy_(f->fault, fault, sizeof f->fault);
	f->status = strcmp(fault, "hang") == 0 ? 0 : atoi(fault);
	/* A hang ends as the attempt's own limit says: its timeout, or sooner its watchdog's
	 * give-up time (which then finds it abandoned). */
	wait_ms = (uint64_t)(hr->timeout_ms > 0 ? hr->timeout_ms : 60000);
	f->deadline_us = a->start_us + wait_ms * 1000;
	http_call_later(r->engine, f->status != 0 ? 1 : DRILL_HANG_TICK_MS, drill_fire, f);
	return DRILL_FAKE_ID + ++fake;
}
