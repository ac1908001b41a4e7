/*
 * router_drill.c: fault drills owned by the router, for real providers and
 * simulated ones alike. An operator (the admin API's POST
 * /admin/v1/providers/NAME/drill, the console's D) asks that a share of a
 * provider's attempts fail one way for a while; the attempt path asks
 * rt_drill_submit_locked() instead of http_submit().
 *
 * Faults made up here, the provider never asked: an HTTP status ("500",
 * "429", "503", "529": an error body at once), "hang" (no answer: the attempt
 * times out when its limit says) and "malformed" (a 200 whose body, or
 * stream, is unparseable bytes, so the adapter's malformed path runs). Faults
 * on a real transfer: "slow" (sent delay_ms late, so its first token or
 * answer is that late) and "drop" (the connection broken by the gateway
 * after the stream's first token, or before a whole answer is handed on).
 * Either way the end arrives through the attempt's own callbacks on the
 * engine thread, so retries, failover, the breaker, events and the ledger see
 * it as they would see the provider fail. "none" stops a drill.
 *
 * A drill is stored as the provider's "drill" override row (router_admin.c's
 * sync), fleet-wide or for one instance (NAME@INSTANCE), as "FAULT RATE
 * START_MS END_MS DELAY_MS WHO" (wall clock): every instance on the database
 * applies it within a poll (at once on PostgreSQL's NOTIFY), one that starts
 * later picks it up, and each ends it by itself at END_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/http.h"
#include "router/router_priv.h"
#include "store/store.h"

#define DRILL_FAKE_ID (1ULL << 62) /* ids of made-up transfers: far from the engine's */

/* A provider's drill: by index, allocated at the first one (under r->mu). */
struct rt_drill {
	char fault[16]; /* "" none */
	double rate;
	uint64_t until_ms; /* router clock */
	int delay_ms;      /* "slow"'s */
	char who[64];
	int scoped; /* from a row for this instance only */
	int ended_said;
};

/* A drilled attempt: its made-up end waiting on an engine timer, or (slow, drop) the
 * real transfer it wraps. Engine thread. */
struct drill_fire {
	struct router *r;
	struct attempt *a; /* alive until on_done is called */
	void (*on_headers)(void *, int, const struct http_headers *);
	int (*on_data)(void *, const char *, size_t);
	void (*on_done)(void *, const struct http_result *);
	void *arg;
	int status; /* a status fault's; 0 otherwise */
	char fault[16];
	uint64_t deadline_us; /* a hang's: the attempt's own limit */
	int cut;              /* drop: the gateway broke the connection */
	/* slow: the request, copied (the attempt frees its own once sent) */
	struct http_request hr;
	char **headers;
	size_t n_headers;
};

/* A hang looks every so often whether the router gave up on the attempt (its watchdog,
 * a hedge that won, a caller that left): it then ends as a real transfer would when
 * cancelled, at once, not at its limit. */
#define DRILL_HANG_TICK_MS 100

static const char *const drill_faults[] = {
    "500", "429", "503", "529", "hang", "slow", "drop", "malformed", "none", NULL};

/* What a malformed drill answers: no JSON, no SSE event an adapter can read. */
static const char drill_garbage[] = "data: {\"drill\": malformed \x01\x02 <<<not json\n\n"
                                    "\x7f\x80garbage{{{\n\n";

static int
drill_known(const char *fault)
{
	for (size_t i = 0; drill_faults[i] != NULL; i++)
		if (strcmp(fault, drill_faults[i]) == 0)
			return 1;
	return 0;
}

/* "NAME@INSTANCE" into name and instance ("" if none). */
static void
drill_scope(const char *target, char *name, size_t nlen, char *inst, size_t ilen)
{
	const char *at = strchr(target, '@');

	snprintf(name, nlen, "%.*s", at != NULL ? (int)(at - target) : (int)strlen(target), target);
	snprintf(inst, ilen, "%s", at != NULL ? at + 1 : "");
}

/* Set provider idx's drill (r->mu held). fault NULL or "none" stops it. */
static void
drill_set_locked(struct router *r, int idx, const char *fault, double rate, uint64_t until_ms,
    int delay_ms, const char *who, int scoped)
{
	struct rt_drill *d;

	if (r->drills == NULL)
		r->drills = xcalloc(r->n_providers, sizeof *r->drills);
	d = &r->drills[idx];
	if (fault == NULL || strcmp(fault, "none") == 0) {
		d->fault[0] = '\0';
		d->scoped = 0;
		return;
	}
	strlcpy_(d->fault, fault, sizeof d->fault);
	d->rate = rate;
	d->until_ms = until_ms;
	d->delay_ms = delay_ms;
	strlcpy_(d->who, who != NULL ? who : "", sizeof d->who);
	d->scoped = scoped;
	d->ended_said = 0;
}

void
rt_drill_apply_locked(struct router *r, int idx, const char *value, int scoped)
{
	char fault[16] = "", who[64] = "";
	double rate = 0;
	long long start = 0, end = 0;
	int delay = 0, n;
	int64_t now_wall = clock_wall_ms();

	if (idx < 0 || (size_t)idx >= r->n_providers)
		return;
	n = sscanf(value, "%15s %lf %lld %lld %d %63[^\n]", fault, &rate, &start, &end, &delay,
	    who);
	if (n < 5 || strcmp(fault, "none") == 0 || end <= now_wall || !drill_known(fault)) {
		/* Stopped (the stopper said so), or over: nothing runs here. */
		drill_set_locked(r, idx, NULL, 0, 0, 0, NULL, 0);
		return;
	}
	drill_set_locked(r, idx, fault, rate, rt_now(r) + (uint64_t)(end - now_wall), delay, who,
	    scoped);
}

int
rt_drill_scoped_locked(struct router *r, int idx)
{
	return r->drills != NULL && r->drills[idx].fault[0] != '\0' && r->drills[idx].scoped;
}

int
router_drill(struct router *r, const char *target, const struct router_drill_opts *o, char **cause)
{
	int idx, stop, local;
	char name[LIMIT_NAME_SIZE + 1], inst[64], value[192], where[96];
	const char *me = r->store != NULL ? store_instance(r->store) : "";
	const char *fault = o->fault, *who = o->who;
	int64_t start = clock_wall_ms();
	int delay_ms = o->delay_ms > 0 ? o->delay_ms : ROUTER_DRILL_SLOW_MS;

	if (fault == NULL || !drill_known(fault)) {
		*cause = xasprintf("drill: fault must be one of 500, 429, 503, 529, hang, slow, "
		                   "drop, malformed, none (got \"%s\")",
		    fault != NULL ? fault : "");
		return -1;
	}
	stop = strcmp(fault, "none") == 0;
	if (!stop && (!(o->rate > 0) || o->rate > 1)) {
		*cause = xasprintf("drill: rate must be more than 0 and at most 1 (a share of "
		                   "attempts)");
		return -1;
	}
	if (!stop && (o->duration_s < 1 || o->duration_s > ROUTER_DRILL_MAX_S)) {
		*cause = xasprintf("drill: duration_s must be 1..%d seconds", ROUTER_DRILL_MAX_S);
		return -1;
	}
	if (o->delay_ms < 0 || o->delay_ms > ROUTER_DRILL_MAX_S * 1000) {
		*cause = xasprintf("drill: delay_ms must be 0..%d", ROUTER_DRILL_MAX_S * 1000);
		return -1;
	}
	drill_scope(target, name, sizeof name, inst, sizeof inst);
	if (inst[0] != '\0' && r->store == NULL && strcmp(inst, me) != 0) {
		*cause = xasprintf("drill: no database to carry a drill to instance \"%s\"", inst);
		return -1;
	}
	local = inst[0] == '\0' || strcmp(inst, me) == 0;
	pthread_mutex_lock(&r->mu);
	if ((idx = rt_provider_index(r, name)) < 0) {
		pthread_mutex_unlock(&r->mu);
		*cause = xasprintf("drill: unknown provider \"%s\"", name);
		return -1;
	}
	/* A fleet-wide drill does not replace this instance's own (scoped) one. */
	if (local && (inst[0] != '\0' || !rt_drill_scoped_locked(r, idx)))
		drill_set_locked(r, idx, stop ? NULL : fault, o->rate,
		    rt_now(r) + (uint64_t)o->duration_s * 1000, delay_ms, who, inst[0] != '\0');
	pthread_mutex_unlock(&r->mu);
	snprintf(value, sizeof value, "%s %.6g %lld %lld %d %s", fault, stop ? 0 : o->rate,
	    (long long)start, stop ? 0LL : (long long)(start + (int64_t)o->duration_s * 1000),
	    delay_ms, who != NULL && *who != '\0' ? who : "-");
	if (r->store != NULL && rt_override_store(r, target, "drill", value) != 0) {
		*cause = xasprintf("drill: could not store the drill in the database");
		return -1;
	}
	if (inst[0] != '\0')
		snprintf(where, sizeof where, " on %s only", inst);
	else
		snprintf(where, sizeof where, "%s", r->store != NULL ? " on every instance" : "");
	if (stop)
		event_add(r->events, EV_OPERATOR, name, "drill on %s stopped%s%s%s", name, where,
		    who != NULL ? " by " : "", who != NULL ? who : "");
	else if (strcmp(fault, "slow") == 0)
		event_add(r->events, EV_OPERATOR, name,
		    "drill slow (%d ms) on %s: %.0f%% of attempts for %d s%s%s%s", delay_ms, name,
		    o->rate * 100, o->duration_s, where, who != NULL ? " by " : "",
		    who != NULL ? who : "");
	else
		event_add(r->events, EV_OPERATOR, name,
		    "drill %s on %s: %.0f%% of attempts for %d s%s%s%s", fault, name, o->rate * 100,
		    o->duration_s, where, who != NULL ? " by " : "", who != NULL ? who : "");
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

static void
drill_said_ended(struct router *r, int idx)
{
	const char *name = r->providers[idx].conf->name;

	event_add(r->events, EV_OPERATOR, name, "drill on %s ended (its time was up)", name);
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
				drill_said_ended(r, (int)i);
			continue;
		}
		const struct rt_drill *d = &r->drills[i];
		strlcpy_(ps->drill, d->fault, sizeof ps->drill);
		ps->drill_rate = d->rate;
		ps->drill_left_ms = d->until_ms - now;
		ps->drill_delay_ms = strcmp(d->fault, "slow") == 0 ? d->delay_ms : 0;
		strlcpy_(ps->drill_by, strcmp(d->who, "-") != 0 ? d->who : "", sizeof ps->drill_by);
		ps->drill_scoped = d->scoped;
	}
}

static void
drill_fire_free(struct drill_fire *f)
{
	for (size_t i = 0; i < f->n_headers; i++)
		free(f->headers[i]);
	free(f->headers);
	free((char *)f->hr.method);
	free((char *)f->hr.url);
	free((char *)f->hr.body);
	free((char *)f->hr.unix_socket);
	free(f);
}

/* A made-up end (status, hang, malformed), or slow's delayed send. */
static void
drill_fire(void *arg)
{
	struct drill_fire *f = arg;
	struct attempt *a = f->a;
	struct http_result res;
	char body[160];

	memset(&res, 0, sizeof res);
	if (a->lost || a->abandoned || a->q->cancel) {
		res.err = HTTP_ERR_ABORTED;
		snprintf(res.errmsg, sizeof res.errmsg, "drill: %s, given up on", f->fault);
	} else if (f->status != 0) {
		snprintf(body, sizeof body,
		    "{\"error\":{\"type\":\"drill\",\"message\":\"drill: HTTP %d injected by the "
		    "gateway\"}}",
		    f->status);
		res.err = HTTP_OK;
		res.status = f->status;
		res.body = body;
		res.body_len = strlen(body);
	} else if (strcmp(f->fault, "malformed") == 0) {
		struct http_headers none = {0};

		res.err = HTTP_OK;
		res.status = 200;
		if (f->on_headers != NULL)
			f->on_headers(f->arg, 200, &none);
		if (f->on_data != NULL) {
			f->on_data(f->arg, drill_garbage, sizeof drill_garbage - 1);
		} else {
			res.body = drill_garbage;
			res.body_len = sizeof drill_garbage - 1;
		}
	} else if (strcmp(f->fault, "slow") == 0 && clock_mono_us() < f->deadline_us) {
		uint64_t left_ms = (f->deadline_us - clock_mono_us() + 999) / 1000;
		http_call_later(f->r->engine,
		    left_ms < DRILL_HANG_TICK_MS ? left_ms : DRILL_HANG_TICK_MS, drill_fire, f);
		return;
	} else if (strcmp(f->fault, "slow") == 0) {
		/* Late, but the real thing: the transfer's own callbacks from here on. */
		pthread_mutex_lock(&f->r->mu);
		a->http_id = http_submit(f->r->engine, &f->hr);
		pthread_mutex_unlock(&f->r->mu);
		drill_fire_free(f);
		return;
	} else if (clock_mono_us() < f->deadline_us) {
		http_call_later(f->r->engine, DRILL_HANG_TICK_MS, drill_fire, f);
		return;
	} else {
		res.err = HTTP_ERR_TIMEOUT;
		snprintf(res.errmsg, sizeof res.errmsg, "drill: %s injected by the gateway",
		    f->fault);
	}
	f->on_done(f->arg, &res);
	drill_fire_free(f);
}

/* drop: the body passes until the first token (a stream) is out, then the gateway
 * breaks the connection. */
static void
drop_headers(void *arg, int status, const struct http_headers *h)
{
	struct drill_fire *f = arg;

	f->on_headers(f->arg, status, h);
}

static int
drop_data(void *arg, const char *data, size_t len)
{
	struct drill_fire *f = arg;
	int rc = f->on_data(f->arg, data, len);

	if (rc == 0 && f->a->answered && f->a->status >= 200 && f->a->status < 300) {
		f->cut = 1;
		return 1;
	}
	return rc;
}

static void
drop_done(void *arg, const struct http_result *hr)
{
	struct drill_fire *f = arg;
	struct http_result res = *hr;

	if (f->cut || (hr->err == HTTP_OK && hr->status >= 200 && hr->status < 300)) {
		/* Cut after the first token, or a whole answer never handed on. */
		res.err = HTTP_ERR_CONNECT;
		res.body = NULL;
		res.body_len = 0;
		snprintf(res.errmsg, sizeof res.errmsg,
		    "drill: drop: connection broken by the gateway%s",
		    f->cut ? " after the first token" : " before the answer was whole");
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
		drill_said_ended(r, a->idx);
	if (fault == NULL || rng_double(&r->rng) >= r->drills[a->idx].rate)
		return http_submit(r->engine, hr);
	f = xcalloc(1, sizeof *f);
	f->r = r;
	f->a = a;
	f->on_headers = hr->on_headers;
	f->on_data = hr->on_data;
	f->on_done = hr->on_done;
	f->arg = hr->arg;
	strlcpy_(f->fault, fault, sizeof f->fault);
	if (strcmp(fault, "drop") == 0) {
		struct http_request w = *hr;

		w.on_headers = hr->on_headers != NULL ? drop_headers : NULL;
		w.on_data = hr->on_data != NULL ? drop_data : NULL;
		w.on_done = drop_done;
		w.arg = f;
		return http_submit(r->engine, &w);
	}
	if (strcmp(fault, "slow") == 0) {
		/* The engine copies a request when it is sent; this one is sent later. */
		f->hr = *hr;
		f->hr.method = hr->method != NULL ? xstrdup(hr->method) : NULL;
		f->hr.url = xstrdup(hr->url);
		f->hr.unix_socket = hr->unix_socket != NULL ? xstrdup(hr->unix_socket) : NULL;
		if (hr->body != NULL) {
			char *b = xmalloc(hr->body_len + 1);
			memcpy(b, hr->body, hr->body_len);
			b[hr->body_len] = '\0';
			f->hr.body = b;
		}
		f->n_headers = hr->n_headers;
		f->headers = xcalloc(hr->n_headers + 1, sizeof *f->headers);
		for (size_t i = 0; i < hr->n_headers; i++)
			f->headers[i] = xstrdup(hr->headers[i]);
		f->hr.headers = (const char *const *)f->headers;
		/* Sent when its delay is up, or ended at once if the router gives up first. */
		f->deadline_us = clock_mono_us() + (uint64_t)r->drills[a->idx].delay_ms * 1000;
		http_call_later(r->engine, 1, drill_fire, f);
		return DRILL_FAKE_ID + ++fake;
	}
	f->status = strcmp(fault, "hang") == 0 || strcmp(fault, "malformed") == 0 ? 0 : atoi(fault);
	/* A hang ends as the attempt's own limit says: its timeout, or sooner its watchdog's
	 * give-up time (which then finds it abandoned). */
	wait_ms = (uint64_t)(hr->timeout_ms > 0 ? hr->timeout_ms : 60000);
	f->deadline_us = a->start_us + wait_ms * 1000;
	http_call_later(r->engine, strcmp(fault, "hang") != 0 ? 1 : DRILL_HANG_TICK_MS, drill_fire,
	    f);
	return DRILL_FAKE_ID + ++fake;
}
