/*
 * router.c: provider selection, retries with backoff, failover, circuit
 * breakers, rate limits, health probes and metrics.
 *
 * A request is a small state machine (struct rreq) driven by the HTTP
 * engine's thread: start -> attempt -> (response | error) -> retry after a
 * backoff timer, fail over to the next provider, or finish. Provider state is
 * shared with operator calls and snapshots from other threads, so it lives
 * under the router's mutex; a request's own state is only touched on the
 * engine thread.
 */
#include "router.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "budget.h"
#include "cache.h"
#include "config_limits.h"
#include "http.h"
#include "ledger.h"
#include "pricing.h"
#include "ratelimit.h"
#include "store.h"
#include "util.h"

#define RECENT_N 64
#define MAX_ATTEMPTS 32

struct provider {
	const struct provider_conf *conf;
	const struct adapter *adapter;
	enum provider_admin admin;
	int priority;
	double weight;
	int priority_overridden;
	int weight_overridden;
	int admin_overridden;
	struct breaker breaker;
	struct token_bucket rpm;
	struct token_bucket tpm;
	uint64_t blocked_until_ms; /* retry-after told us to stay away until then */

	uint64_t requests;
	uint64_t successes;
	uint64_t errors;
	uint64_t errors_by_class[LLM_ERR__COUNT];
	uint64_t in_flight;
	uint64_t input_tokens;
	uint64_t output_tokens;
	double cost_usd;
	struct histogram latency;
	uint32_t recent[RECENT_N];
	size_t recent_next;
	size_t n_recent;

	int64_t last_probe_ms;
	int last_probe_ok;
	uint64_t probe_http; /* probe transfer in flight, 0 if none */
	int probe_is_trial;  /* the probe holds a half-open trial slot */
	uint64_t probe_started_us;
};

struct rreq;

/* Work the engine thread must not do itself (SQLite writes): run by the worker. */
struct job {
	struct job *next;
	void (*fn)(struct router *, void *);
	void *arg;
};

struct router {
	pthread_mutex_t mu;
	pthread_cond_t idle;
	const struct config *cfg;
	struct router_opts opts;
	struct provider *providers;
	size_t n_providers;
	struct http_engine *engine;
	int own_engine;
	struct event_ring *events;
	struct rng rng;
	struct store *store;

	pthread_t worker;
	pthread_mutex_t job_mu;
	pthread_cond_t job_cv;
	struct job *jobs;
	struct job **jobs_tail;
	int worker_stop;

	int closing;
	size_t active;     /* live requests and probes */
	struct rreq *live; /* list of live requests */
	uint64_t probe_timer;

	uint64_t requests;
	uint64_t answered;
	uint64_t failed;
	uint64_t failovers;
	uint64_t cache_hits;
	uint64_t in_flight;
	double cost_usd;
	struct histogram latency;
	uint64_t total_attempts;
};

struct rreq {
	struct router *r;
	struct rreq *next; /* on r->live */
	struct rreq *prev;
	struct llm_request req;
	router_delta_cb delta;
	router_done_cb done;
	void *arg;
	struct router_result *res; /* made at finish: nothing to hold while waiting */
	struct router_attempt *attempts;
	size_t n_attempts;
	double cost_usd;
	int unpriced;
	int cached;
	char *cached_provider; /* who answered a cached request originally */

	int64_t reservation; /* budget reservation, 0 if none */
	int cacheable;
	char cache_key[65];
	uint64_t start_us;
	uint64_t deadline_ms; /* on the router's clock */
	const struct route_conf *route;
	int raw_model;
	int tried[MAX_ATTEMPTS]; /* provider indices already given up on */
	size_t n_tried;

	/* The attempt in progress. */
	int cur;          /* provider index, -1 none */
	int retries_here; /* retries spent on cur */
	char alias[128];
	uint64_t http_id;
	uint64_t timer_id;
	uint64_t attempt_start_us;
	double tpm_reserved;
	int status;
	int delivered; /* text already handed to the caller */
	struct adapter_stream *stream;
	struct llm_response acc;
	struct llm_error *serr; /* stream decoder error, with the stream only */
	int stream_failed;
	struct buf errbody; /* error body of a streamed request */
	struct adapter_http ah;
	struct llm_error last_err;
};

static void rreq_next(struct rreq *);
static void rreq_finish(struct rreq *, enum llm_errclass);
static void rreq_deliver(struct rreq *);
static void rreq_ledger(struct rreq *);
static void probe_schedule(struct router *);

static uint64_t
router_now(struct router *r)
{
	if (r->opts.now_ms != NULL)
		return r->opts.now_ms(r->opts.now_arg);
	return clock_mono_ms();
}

const char *
provider_admin_name(enum provider_admin a)
{
	switch (a) {
	case ADMIN_ENABLED: return "enabled";
	case ADMIN_DISABLED: return "disabled";
	case ADMIN_DRAINED: return "drained";
	case ADMIN_MISCONFIGURED: return "misconfigured";
	}
	return "unknown";
}

void
router_result_free(struct router_result *res)
{
	if (res == NULL)
		return;
	llm_response_free(&res->resp);
	free(res->attempts);
	memset(res, 0, sizeof *res);
}

double
router_cost(const struct config *cfg, const char *alias, const struct llm_usage *u, int *unpriced)
{
	return pricing_cost(alias != NULL ? config_model(cfg, alias) : NULL, u, unpriced);
}

static int
provider_index(struct router *r, const char *name)
{
	for (size_t i = 0; i < r->n_providers; i++)
		if (strcmp(r->providers[i].conf->name, name) == 0)
			return (int)i;
	return -1;
}

static int
provider_serves(const struct provider *p, const char *alias)
{
	if (alias == NULL)
		return 1;
	for (size_t i = 0; i < p->conf->n_models; i++)
		if (strcmp(p->conf->models[i], alias) == 0)
			return 1;
	return 0;
}

/* Does any provider list this alias? If none does, it is a raw model id. */
static int
alias_known(struct router *r, const char *alias)
{
	for (size_t i = 0; i < r->n_providers; i++)
		if (provider_serves(&r->providers[i], alias))
			return 1;
	return 0;
}

/* The alias this request uses on provider p. */
static const char *
alias_for(struct rreq *q, const struct provider *p)
{
	if (q->req.model != NULL)
		return q->req.model;
	if (q->route != NULL && q->route->model != NULL && provider_serves(p, q->route->model))
		return q->route->model;
	if (p->conf->n_models > 0)
		return p->conf->models[0];
	return "default";
}

static const char *
model_id_for(struct router *r, const char *alias)
{
	const struct model_conf *m = config_model(r->cfg, alias);

	return m != NULL && m->id != NULL ? m->id : alias;
}

static double
estimate_tokens(const struct llm_request *req)
{
	size_t bytes = req->system != NULL ? strlen(req->system) : 0;

	for (size_t i = 0; i < req->n_messages; i++)
		bytes += strlen(req->messages[i].content) + 16;
	return (double)bytes / 4.0 + 1 + llm_request_max_tokens(req);
}

/* Usable now for new traffic? Called with the lock held. */
static int
provider_usable(struct router *r, struct provider *p, double tokens, uint64_t now)
{
	if (p->admin != ADMIN_ENABLED || p->weight <= 0)
		return 0;
	if (now < p->blocked_until_ms)
		return 0;
	if (!breaker_would_allow(&p->breaker, now))
		return 0;
	if (p->conf->rate_limit_rpm > 0 && !bucket_peek(&p->rpm, 1, now))
		return 0;
	if (p->conf->rate_limit_tpm > 0 && !bucket_peek(&p->tpm, tokens, now))
		return 0;
	(void)r;
	return 1;
}

static int
rreq_tried(const struct rreq *q, int idx)
{
	for (size_t i = 0; i < q->n_tried; i++)
		if (q->tried[i] == idx)
			return 1;
	return 0;
}

static int
rreq_serves(const struct rreq *q, const struct provider *p)
{
	return q->raw_model || provider_serves(p, q->req.model);
}

/*
 * The seed's selection among the providers not yet tried: the lowest
 * priority number among usable ones, then weighted random inside it. With a
 * route, the route's order instead. Called with the lock held.
 */
static int
select_provider(struct rreq *q, uint64_t now)
{
	struct router *r = q->r;
	double tokens = estimate_tokens(&q->req);
	int best = -1, prio = 0;
	double total = 0, pick;

	if (q->req.provider != NULL) {
		int i = provider_index(r, q->req.provider);
		if (i < 0 || rreq_tried(q, i))
			return -1;
		return provider_usable(r, &r->providers[i], tokens, now) ? i : -1;
	}
	if (q->route != NULL) {
		int i = provider_index(r, q->route->primary);
		if (i >= 0 && !rreq_tried(q, i) &&
		    provider_usable(r, &r->providers[i], tokens, now))
			return i;
		for (size_t f = 0; f < q->route->n_fallback; f++) {
			i = provider_index(r, q->route->fallback[f]);
			if (i >= 0 && !rreq_tried(q, i) &&
			    provider_usable(r, &r->providers[i], tokens, now))
				return i;
		}
		return -1;
	}
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if (rreq_tried(q, (int)i) || !rreq_serves(q, p) ||
		    !provider_usable(r, p, tokens, now))
			continue;
		if (best < 0 || p->priority < prio) {
			best = (int)i;
			prio = p->priority;
			total = 0;
		}
		if (p->priority == prio)
			total += p->weight;
	}
	if (best < 0)
		return -1;
	pick = rng_double(&r->rng) * total;
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if (p->priority != prio || rreq_tried(q, (int)i) || !rreq_serves(q, p) ||
		    !provider_usable(r, p, tokens, now))
			continue;
		best = (int)i;
		if (pick < p->weight)
			break;
		pick -= p->weight;
	}
	return best;
}

static void
breaker_event(struct router *r, struct provider *p, enum breaker_state before, const char *why)
{
	if (p->breaker.state == before)
		return;
	if (p->breaker.state == BREAKER_OPEN)
		event_add(r->events, EV_BREAKER, p->conf->name,
		    "breaker %s -> open (%s); cooldown %d s", breaker_state_name(before), why,
		    p->breaker.cooldown_ms / 1000);
	else
		event_add(r->events, EV_BREAKER, p->conf->name, "breaker %s -> %s (%s)",
		    breaker_state_name(before), breaker_state_name(p->breaker.state), why);
}

static void
record_attempt(struct rreq *q, struct provider *p, int status, enum llm_errclass cls,
    const char *error, uint64_t latency_us)
{
	struct router_attempt *a;

	q->attempts = xreallocarray(q->attempts, q->n_attempts + 1, sizeof *q->attempts);
	a = &q->attempts[q->n_attempts++];
	memset(a, 0, sizeof *a);
	strlcpy_(a->provider, p->conf->name, sizeof a->provider);
	strlcpy_(a->model, q->alias, sizeof a->model);
	a->status = status;
	a->cls = cls;
	strlcpy_(a->error, error != NULL ? error : "", sizeof a->error);
	a->latency_us = latency_us;
}

static void
rreq_reset_attempt(struct rreq *q)
{
	const struct adapter *ad;

	if (q->stream != NULL && q->cur >= 0) {
		ad = q->r->providers[q->cur].adapter;
		ad->stream_free(q->stream);
	}
	q->stream = NULL;
	llm_response_free(&q->acc);
	buf_reset(&q->errbody);
	adapter_http_free(&q->ah);
	q->status = 0;
	q->stream_failed = 0;
	free(q->serr);
	q->serr = NULL;
}

static void
on_stream_delta(void *arg, const char *text, size_t len)
{
	struct rreq *q = arg;

	if (len == 0)
		return;
	q->delivered = 1;
	if (q->delta != NULL)
		q->delta(q->arg, text, len);
}

static void
on_http_headers(void *arg, int status, const struct http_headers *h)
{
	struct rreq *q = arg;

	(void)h;
	q->status = status;
	if (q->req.stream && status >= 200 && status < 300) {
		q->stream = q->r->providers[q->cur].adapter->stream_new();
		q->serr = xmalloc(sizeof *q->serr);
		llm_error_clear(q->serr);
	}
}

static int
on_http_data(void *arg, const char *data, size_t len)
{
	struct rreq *q = arg;
	const struct adapter *ad = q->r->providers[q->cur].adapter;
	int rc;

	if (q->stream == NULL) {
		if (q->errbody.len + len > 1 << 20)
			return 1;
		buf_append(&q->errbody, data, len);
		return 0;
	}
	rc = ad->stream_feed(q->stream, data, len, on_stream_delta, q, &q->acc, q->serr);
	if (rc < 0) {
		q->stream_failed = 1;
		return 1;
	}
	return 0;
}

/* Breaker and health bookkeeping for one finished attempt. Lock held. */
static void
provider_settle(struct router *r, struct provider *p, enum llm_errclass cls,
    const struct llm_error *err, uint64_t latency_us, uint64_t now)
{
	enum breaker_state before = p->breaker.state;

	p->in_flight--;
	if (cls == LLM_OK) {
		p->successes++;
		hist_record(&p->latency, latency_us);
		p->recent[p->recent_next] =
		    (uint32_t)(latency_us / 1000 > UINT32_MAX ? UINT32_MAX : latency_us / 1000);
		p->recent_next = (p->recent_next + 1) % RECENT_N;
		if (p->n_recent < RECENT_N)
			p->n_recent++;
		breaker_on_success(&p->breaker, now);
		breaker_event(r, p, before, "a request succeeded");
		return;
	}
	p->errors++;
	p->errors_by_class[cls]++;
	switch (cls) {
	case LLM_ERR_BAD_REQUEST:
	case LLM_ERR_CANCELLED:
		/* The request's fault, not the provider's. */
		breaker_release(&p->breaker);
		break;
	case LLM_ERR_AUTH:
		breaker_release(&p->breaker);
		if (p->admin == ADMIN_ENABLED) {
			p->admin = ADMIN_MISCONFIGURED;
			event_add(r->events, EV_PROVIDER, p->conf->name,
			    "MISCONFIGURED: HTTP %d %s (%s); out of rotation until an "
			    "operator enables it",
			    err->status, err->type, err->message);
		}
		break;
	case LLM_ERR_QUOTA:
		breaker_trip(&p->breaker, now);
		breaker_event(r, p, before, "insufficient quota");
		break;
	default:
		breaker_on_failure(&p->breaker, now);
		breaker_event(r, p, before, llm_errclass_name(cls));
		break;
	}
	if (err != NULL && err->retry_after_ms > 0 && cls == LLM_ERR_RATE_LIMIT) {
		uint64_t until = now + (uint64_t)err->retry_after_ms;
		if (until > p->blocked_until_ms)
			p->blocked_until_ms = until;
	}
}

static void
rreq_attempt_done(struct rreq *q, enum llm_errclass cls, const struct llm_error *err)
{
	struct router *r = q->r;
	struct provider *p = &r->providers[q->cur];
	uint64_t now = router_now(r);
	uint64_t lat = clock_mono_us() - q->attempt_start_us;
	double used;

	pthread_mutex_lock(&r->mu);
	provider_settle(r, p, cls, err, lat, now);
	if (p->conf->rate_limit_tpm > 0) {
		used = cls == LLM_OK
		    ? (double)(q->acc.usage.input_tokens + q->acc.usage.output_tokens)
		    : 0;
		if (used < q->tpm_reserved)
			bucket_refund(&p->tpm, q->tpm_reserved - used);
		else
			bucket_charge(&p->tpm, used - q->tpm_reserved, now);
	}
	if (cls == LLM_OK) {
		int unpriced;
		double cost = router_cost(r->cfg, q->alias, &q->acc.usage, &unpriced);
		p->input_tokens += (uint64_t)q->acc.usage.input_tokens;
		p->output_tokens += (uint64_t)q->acc.usage.output_tokens;
		p->cost_usd += cost;
		q->cost_usd = cost;
		q->unpriced = unpriced;
	}
	pthread_mutex_unlock(&r->mu);

	record_attempt(q, p, q->status, cls, cls == LLM_OK ? NULL : err->message, lat);
	if (cls != LLM_OK)
		q->last_err = *err;
}

static void
on_http_done(void *arg, const struct http_result *hr)
{
	struct rreq *q = arg;
	struct router *r = q->r;
	const struct adapter *ad = r->providers[q->cur].adapter;
	struct llm_error err;
	enum llm_errclass cls;

	pthread_mutex_lock(&r->mu);
	q->http_id = 0;
	pthread_mutex_unlock(&r->mu);
	llm_error_clear(&err);
	q->status = hr->status;

	if (q->stream_failed) {
		err = *q->serr;
	} else if (hr->err == HTTP_ERR_TIMEOUT) {
		llm_error_set(&err, LLM_ERR_TIMEOUT, hr->status, "timed out: %s", hr->errmsg);
	} else if (hr->err == HTTP_ERR_TOO_LARGE) {
		llm_error_set(&err, LLM_ERR_MALFORMED, hr->status, "response too large");
	} else if (hr->err == HTTP_ERR_ABORTED) {
		llm_error_set(&err, LLM_ERR_CANCELLED, hr->status, "cancelled");
	} else if (hr->err != HTTP_OK &&
	    (hr->status < 200 || hr->status >= 300 || q->stream == NULL)) {
		llm_error_set(&err, LLM_ERR_CONNECT, hr->status, "%s: %s", http_err_name(hr->err),
		    hr->errmsg);
	} else if (hr->status >= 200 && hr->status < 300) {
		if (q->stream != NULL) {
			if (hr->err != HTTP_OK ||
			    ad->stream_finish(q->stream, &q->acc, &err) != 0) {
				if (err.cls == LLM_OK)
					llm_error_set(&err, LLM_ERR_STREAM, hr->status,
					    "stream cut: %s", hr->errmsg);
			}
		} else if (ad->parse_response(hr->body, hr->body_len, &q->acc, &err) == 0 &&
		    q->req.stream && q->acc.content != NULL) {
			/* A non-streamed answer to a streamed request: one delta. */
			on_stream_delta(q, q->acc.content, strlen(q->acc.content));
		}
	} else {
		const char *body =
		    q->stream == NULL && q->errbody.len == 0 ? hr->body : q->errbody.data;
		size_t len =
		    q->stream == NULL && q->errbody.len == 0 ? hr->body_len : q->errbody.len;
		ad->classify_error(hr->status, &hr->headers, body != NULL ? body : "", len, &err);
		if (err.cls == LLM_OK)
			llm_error_set(&err, LLM_ERR_SERVER, hr->status, "HTTP %d", hr->status);
	}
	cls = err.cls;
	if (cls == LLM_OK) {
		const char *rid = http_headers_get(&hr->headers, "request-id");
		if (rid == NULL)
			rid = http_headers_get(&hr->headers, "x-request-id");
		if (rid != NULL && q->acc.request_id == NULL)
			q->acc.request_id = xstrdup(rid);
	}
	if (r->closing && cls == LLM_ERR_CANCELLED) {
		rreq_attempt_done(q, cls, &err);
		rreq_finish(q, LLM_ERR_CANCELLED);
		return;
	}
	rreq_attempt_done(q, cls, &err);
	if (cls == LLM_OK) {
		rreq_finish(q, LLM_OK);
		return;
	}
	if (q->delivered) {
		/* Text already reached the caller: failing over would splice two answers. */
		llm_error_set(&q->last_err, LLM_ERR_STREAM, err.status,
		    "stream from %s failed after the first token: %s",
		    r->providers[q->cur].conf->name, err.message);
		rreq_finish(q, LLM_ERR_STREAM);
		return;
	}
	if (cls == LLM_ERR_BAD_REQUEST) {
		rreq_finish(q, cls);
		return;
	}
	rreq_next(q);
}

/* Send the current attempt. Returns 0 if sent, -1 if the provider refused it (lock held by none). */
static int
rreq_send(struct rreq *q)
{
	struct router *r = q->r;
	struct provider *p = &r->providers[q->cur];
	struct http_request hr;
	char *cause = NULL;
	uint64_t now = router_now(r);
	int64_t left;
	double timeout_ms;

	rreq_reset_attempt(q);
	strlcpy_(q->alias, alias_for(q, p), sizeof q->alias);
	if (p->adapter->build_request(p->conf, model_id_for(r, q->alias), &q->req, q->req.stream,
	        &q->ah, &cause) != 0) {
		struct llm_error err;
		llm_error_clear(&err);
		llm_error_set(&err, LLM_ERR_BAD_REQUEST, 0, "%s",
		    cause != NULL ? cause : "cannot build the request");
		free(cause);
		q->attempt_start_us = clock_mono_us();
		rreq_attempt_done(q, LLM_ERR_BAD_REQUEST, &err);
		return -1;
	}
	left = (int64_t)q->deadline_ms - (int64_t)now;
	timeout_ms = p->conf->timeout_seconds * 1000.0;
	if (left < timeout_ms)
		timeout_ms = (double)left;
	if (timeout_ms < 1)
		timeout_ms = 1;

	memset(&hr, 0, sizeof hr);
	hr.method = q->ah.method;
	hr.url = q->ah.url;
	hr.headers = (const char *const *)q->ah.headers;
	hr.n_headers = q->ah.n_headers;
	hr.body = q->ah.body;
	hr.body_len = q->ah.body_len;
	hr.timeout_ms = (int)timeout_ms;
	hr.on_headers = on_http_headers;
	hr.on_data = q->req.stream ? on_http_data : NULL;
	hr.on_done = on_http_done;
	hr.arg = q;
	q->attempt_start_us = clock_mono_us();
	pthread_mutex_lock(&r->mu);
	r->total_attempts++;
	q->http_id = http_submit(r->engine, &hr);
	pthread_mutex_unlock(&r->mu);
	/* The engine has its own copy; a large prompt is not held twice while waiting. */
	adapter_http_free(&q->ah);
	return 0;
}

/*
 * Take what one attempt on p needs: a breaker slot, a request token and the
 * request's token estimate. All or nothing; lock held. Returns 1 if taken.
 */
static int
provider_take_locked(struct provider *p, struct rreq *q, uint64_t now)
{
	if (p->admin != ADMIN_ENABLED || !breaker_acquire(&p->breaker, now))
		return 0;
	if (p->conf->rate_limit_rpm > 0 && !bucket_take(&p->rpm, 1, now)) {
		breaker_release(&p->breaker);
		return 0;
	}
	q->tpm_reserved = 0;
	if (p->conf->rate_limit_tpm > 0) {
		double want = estimate_tokens(&q->req);
		if (!bucket_take(&p->tpm, want, now)) {
			if (p->conf->rate_limit_rpm > 0)
				bucket_refund(&p->rpm, 1);
			breaker_release(&p->breaker);
			return 0;
		}
		q->tpm_reserved = want;
	}
	p->requests++;
	p->in_flight++;
	return 1;
}

static void
rreq_mark_tried(struct rreq *q, int idx)
{
	if (q->n_tried < MAX_ATTEMPTS && !rreq_tried(q, idx))
		q->tried[q->n_tried++] = idx;
}

static void
on_retry_timer(void *arg)
{
	struct rreq *q = arg;
	struct router *r = q->r;
	struct provider *p = &r->providers[q->cur];
	uint64_t now = router_now(r);
	int ok;

	pthread_mutex_lock(&r->mu);
	q->timer_id = 0;
	if (r->closing) {
		pthread_mutex_unlock(&r->mu);
		rreq_finish(q, LLM_ERR_CANCELLED);
		return;
	}
	/* The breaker, a limit or an operator may have taken the provider out meanwhile. */
	ok = provider_take_locked(p, q, now);
	pthread_mutex_unlock(&r->mu);
	if (!ok) {
		rreq_mark_tried(q, q->cur);
		q->retries_here = 0;
		rreq_next(q);
		return;
	}
	if (rreq_send(q) != 0)
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
}

/* Full jitter: uniform in [0, min(max, base * 2^n)). */
static uint64_t
backoff_ms(struct router *r, int n)
{
	double cap = r->opts.backoff_base_ms * pow(2, n);
	double d;

	if (cap > r->opts.backoff_max_ms)
		cap = r->opts.backoff_max_ms;
	pthread_mutex_lock(&r->mu);
	d = rng_double(&r->rng) * cap;
	pthread_mutex_unlock(&r->mu);
	return (uint64_t)d;
}

/*
 * After a failed attempt (or at the start): retry on the same provider after
 * a backoff if the error allows it and the deadline has room, else fail over
 * to the next usable provider, else finish with the last error.
 */
static void
rreq_next(struct rreq *q)
{
	struct router *r = q->r;
	uint64_t now = router_now(r);
	int64_t left = (int64_t)q->deadline_ms - (int64_t)now;
	int idx;

	if (r->closing) {
		rreq_finish(q, LLM_ERR_CANCELLED);
		return;
	}
	if (left <= 0 && q->n_attempts > 0) {
		if (q->last_err.cls != LLM_ERR_TIMEOUT)
			llm_error_set(&q->last_err, LLM_ERR_TIMEOUT, 0,
			    "deadline passed after %zu attempts; last: %s", q->n_attempts,
			    q->last_err.message);
		rreq_finish(q, LLM_ERR_TIMEOUT);
		return;
	}
	if (q->cur >= 0) {
		const struct llm_error *e = &q->last_err;
		struct provider *p = &r->providers[q->cur];
		int retryable = e->should_retry >= 0 ? e->should_retry : e->retryable;

		if (e->cls == LLM_ERR_QUOTA || e->cls == LLM_ERR_AUTH ||
		    e->cls == LLM_ERR_NOT_FOUND || e->cls == LLM_ERR_BAD_REQUEST)
			retryable = 0;
		if (retryable && q->retries_here < p->conf->max_retries) {
			uint64_t delay = backoff_ms(r, q->retries_here);
			if (e->retry_after_ms >= 0) {
				/* Honour retry-after if it fits; a long one means go elsewhere. */
				if ((double)e->retry_after_ms > r->opts.backoff_max_ms ||
				    e->retry_after_ms >= left)
					goto failover;
				delay = (uint64_t)e->retry_after_ms;
			}
			if ((int64_t)delay >= left)
				goto failover;
			q->retries_here++;
			pthread_mutex_lock(&r->mu);
			q->timer_id = http_call_later(r->engine, delay, on_retry_timer, q);
			pthread_mutex_unlock(&r->mu);
			return;
		}
failover:
		rreq_mark_tried(q, q->cur);
	}

	for (;;) {
		struct provider *p;
		now = router_now(r);
		pthread_mutex_lock(&r->mu);
		idx = select_provider(q, now);
		if (idx < 0) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		p = &r->providers[idx];
		if (!provider_take_locked(p, q, now)) {
			/* Raced with a state change: count it as tried and look again. */
			pthread_mutex_unlock(&r->mu);
			rreq_mark_tried(q, idx);
			continue;
		}
		if (q->cur >= 0 && q->cur != idx) {
			r->failovers++;
			event_add(r->events, EV_FAILOVER, p->conf->name,
			    "failover %s -> %s after %s", r->providers[q->cur].conf->name,
			    p->conf->name, llm_errclass_name(q->last_err.cls));
		}
		pthread_mutex_unlock(&r->mu);
		q->cur = idx;
		q->retries_here = 0;
		if (rreq_send(q) == 0)
			return;
		rreq_mark_tried(q, idx);
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
		return;
	}

	if (q->n_attempts == 0) {
		if (q->req.provider != NULL && provider_index(r, q->req.provider) < 0)
			llm_error_set(&q->last_err, LLM_ERR_BAD_REQUEST, 0,
			    "unknown provider \"%s\"", q->req.provider);
		else
			llm_error_set(&q->last_err, LLM_ERR_NO_PROVIDER, 0,
			    "no usable provider for model %s%s%s (disabled, drained, breaker open, "
			    "or at its rate limit)",
			    q->req.model != NULL ? q->req.model : "(any)",
			    q->route != NULL ? " on route " : "",
			    q->route != NULL ? q->route->name : "");
		rreq_finish(q, q->last_err.cls);
		return;
	}
	rreq_finish(q, q->last_err.cls != LLM_OK ? q->last_err.cls : LLM_ERR_NO_PROVIDER);
}

static void
rreq_free(struct rreq *q)
{
	rreq_reset_attempt(q);
	buf_free(&q->errbody);
	llm_request_free(&q->req);
	free(q->attempts);
	free(q->cached_provider);
	free(q);
}

/* Hand the result to the caller and let the request go. */
static void
rreq_deliver(struct rreq *q)
{
	struct router *r = q->r;

	q->done(q->arg, q->res);
	rreq_free(q);
	pthread_mutex_lock(&r->mu);
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
}

static void
job_post(struct router *r, void (*fn)(struct router *, void *), void *arg)
{
	struct job *j = xmalloc(sizeof *j);

	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&r->job_mu);
	*r->jobs_tail = j;
	r->jobs_tail = &j->next;
	pthread_cond_signal(&r->job_cv);
	pthread_mutex_unlock(&r->job_mu);
}

/* Worker: store the answer in the cache, then answer the caller. */
static void
job_cache_put_and_deliver(struct router *r, void *arg)
{
	struct rreq *q = arg;

	cache_put(r->store, &r->cfg->cache, q->cache_key, q->res->provider, q->res->model,
	    &q->res->resp);
	rreq_deliver(q);
}

/* Writer thread: the ledger row is committed (or failed); now the caller may have it. */
static void
rreq_ledger_done(void *arg, int rc)
{
	struct rreq *q = arg;
	struct router *r = q->r;

	if (rc != 0)
		event_add(r->events, EV_ERROR, q->res->provider,
		    "ledger: a row could not be committed; spend may be under-counted");
	if (q->res->cls == LLM_OK && q->cacheable && !q->res->cached)
		job_post(r, job_cache_put_and_deliver, q);
	else
		rreq_deliver(q);
}

static void
rreq_ledger(struct rreq *q)
{
	struct router_result *res = q->res;
	struct ledger_row row;

	memset(&row, 0, sizeof row);
	strlcpy_(row.route, res->route, sizeof row.route);
	strlcpy_(row.provider,
	    res->provider[0] != '\0'  ? res->provider
	        : res->n_attempts > 0 ? res->attempts[res->n_attempts - 1].provider
	                              : "",
	    sizeof row.provider);
	strlcpy_(row.model,
	    res->model[0] != '\0'      ? res->model
	        : q->req.model != NULL ? q->req.model
	                               : "",
	    sizeof row.model);
	row.input_tokens = res->resp.usage.input_tokens;
	row.output_tokens = res->resp.usage.output_tokens;
	row.cost_usd = res->cost_usd;
	row.unpriced = res->unpriced;
	row.latency_us = res->latency_us;
	strlcpy_(row.outcome,
	    res->cls == LLM_OK               ? "ok"
	        : res->cls == LLM_ERR_BUDGET ? "refused"
	                                     : "error",
	    sizeof row.outcome);
	if (res->cls != LLM_OK)
		strlcpy_(row.error_class, llm_errclass_name(res->cls), sizeof row.error_class);
	row.cache_hit = res->cached;
	row.attempts = (int)res->n_attempts;
	ledger_record_async(q->r->store, &row, q->reservation, rreq_ledger_done, q);
	q->reservation = 0;
}

static void
rreq_finish(struct rreq *q, enum llm_errclass cls)
{
	struct router *r = q->r;
	struct router_result *res;
	uint64_t lat = clock_mono_us() - q->start_us;

	res = q->res = xcalloc(1, sizeof *q->res);
	res->cls = cls;
	res->latency_us = lat;
	res->attempts = q->attempts;
	res->n_attempts = q->n_attempts;
	q->attempts = NULL;
	res->cost_usd = q->cost_usd;
	res->unpriced = q->unpriced;
	res->cached = q->cached;
	if (q->route != NULL)
		strlcpy_(res->route, q->route->name, sizeof res->route);
	if (cls == LLM_OK) {
		res->resp = q->acc;
		llm_response_init(&q->acc);
		strlcpy_(res->provider,
		    q->cached ? q->cached_provider : r->providers[q->cur].conf->name,
		    sizeof res->provider);
		strlcpy_(res->model, q->alias, sizeof res->model);
		llm_error_clear(&res->err);
	} else {
		res->err = q->last_err;
		res->err.cls = cls;
		if (res->err.message[0] == '\0')
			snprintf(res->err.message, sizeof res->err.message, "%s",
			    llm_errclass_name(cls));
	}

	pthread_mutex_lock(&r->mu);
	r->requests++;
	r->in_flight--;
	if (cls == LLM_OK) {
		r->answered++;
		if (res->cached)
			r->cache_hits++;
		r->cost_usd += res->cost_usd;
		hist_record(&r->latency, lat);
	} else {
		r->failed++;
	}
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->live = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	pthread_mutex_unlock(&r->mu);

	if (r->store == NULL) {
		rreq_deliver(q);
		return;
	}
	rreq_ledger(q);
}

static void
rreq_finish_pending(void *arg)
{
	struct rreq *q = arg;

	/* A cached answer to a streamed request: one delta, on the engine thread like
	 * every other callback. */
	if (q->cached && q->req.stream && q->acc.content != NULL)
		on_stream_delta(q, q->acc.content, strlen(q->acc.content));
	rreq_finish(q, q->last_err.cls != LLM_OK ? q->last_err.cls : LLM_OK);
}

/* The most this request can cost on any provider it may go to. */
static double
upper_bound_usd(struct router *r, const struct llm_request *req)
{
	double worst = 0, c;

	if (req->model != NULL)
		return pricing_upper_bound(config_model(r->cfg, req->model), req);
	for (size_t i = 0; i < r->n_providers; i++) {
		const struct provider_conf *pc = r->providers[i].conf;
		if (pc->n_models == 0)
			continue;
		c = pricing_upper_bound(config_model(r->cfg, pc->models[0]), req);
		if (c > worst)
			worst = c;
	}
	return worst;
}

/*
 * Before dispatch, on the caller's thread (SQLite work stays off the engine
 * thread): the cost optimizer's model choice, the cache, the budget
 * reservation. Returns 1 if the request is already answered or refused (its
 * result is pending in q), 0 to go on.
 */
static int
rreq_admit(struct rreq *q)
{
	struct router *r = q->r;
	const struct budget_conf *bc = &r->cfg->budget;
	char *cause = NULL;
	char why[256];
	int rc;

	if (r->store == NULL)
		return 0;
	if (bc->daily_usd > 0 &&
	    (q->req.quality != NULL || budget_ladder_step(bc, q->req.model) != NULL)) {
		struct budget_status st;
		if (budget_get_status(r->store, bc, &st, &cause) == 0) {
			const char *m = budget_choose_model(bc, &st, q->req.model, q->req.quality,
			    q->req.complexity, why, sizeof why);
			if (m != NULL && (q->req.model == NULL || strcmp(m, q->req.model) != 0)) {
				if (q->req.model != NULL)
					event_add(r->events, EV_BUDGET, NULL,
					    "cost optimizer: %s -> %s (%s)", q->req.model, m, why);
				free(q->req.model);
				q->req.model = xstrdup(m);
				q->raw_model = !alias_known(r, m);
			}
		} else {
			free(cause);
			cause = NULL;
		}
	}
	q->cacheable = cache_eligible(&r->cfg->cache, &q->req);
	if (q->cacheable) {
		struct llm_response hit;
		char provider[64] = "", model[128] = "";
		cache_key(&q->req, q->req.model, q->cache_key);
		llm_response_init(&hit);
		if (cache_get(r->store, &r->cfg->cache, q->cache_key, &hit, provider, model) == 1) {
			q->acc = hit;
			q->cached = 1;
			q->cost_usd = 0;
			q->cached_provider = xstrdup(provider);
			strlcpy_(q->alias, model, sizeof q->alias);
			return 1;
		}
	}
	if (bc->daily_usd > 0) {
		rc = budget_reserve(r->store, bc, upper_bound_usd(r, &q->req), &q->reservation,
		    &cause);
		if (rc != 0) {
			llm_error_set(&q->last_err, rc == 1 ? LLM_ERR_BUDGET : LLM_ERR_INTERNAL, 0,
			    "%s", cause != NULL ? cause : "budget check failed");
			free(cause);
			return 1;
		}
	}
	return 0;
}

static void
rreq_start(void *arg)
{
	struct rreq *q = arg;

	if (q->req.route != NULL && q->route == NULL) {
		llm_error_set(&q->last_err, LLM_ERR_BAD_REQUEST, 0, "unknown route \"%s\"",
		    q->req.route);
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
		return;
	}
	rreq_next(q);
}

void
router_submit(struct router *r, const struct llm_request *req, router_delta_cb delta,
    router_done_cb done, void *arg)
{
	struct rreq *q = xcalloc(1, sizeof *q);
	double deadline;

	q->r = r;
	llm_request_copy(&q->req, req);
	q->delta = delta;
	q->done = done;
	q->arg = arg;
	q->cur = -1;
	q->start_us = clock_mono_us();
	buf_init(&q->errbody);
	llm_response_init(&q->acc);
	llm_error_clear(&q->last_err);
	if (req->route != NULL)
		q->route = config_route(r->cfg, req->route);
	/* A model no provider lists is a raw model id: any provider may take it. */
	q->raw_model = q->req.model != NULL && !alias_known(r, q->req.model);
	deadline = req->timeout_ms;
	if (deadline <= 0) {
		deadline = 0;
		for (size_t i = 0; i < r->n_providers; i++)
			if (r->providers[i].conf->timeout_seconds * 1000.0 > deadline)
				deadline = r->providers[i].conf->timeout_seconds * 1000.0;
		if (deadline <= 0)
			deadline = 60000;
	}
	q->deadline_ms = router_now(r) + (uint64_t)deadline;

	pthread_mutex_lock(&r->mu);
	r->active++;
	r->in_flight++;
	q->next = r->live;
	if (r->live != NULL)
		r->live->prev = q;
	r->live = q;
	pthread_mutex_unlock(&r->mu);
	/* Not cancellable: a closing router lets it start and finish as cancelled. */
	if (rreq_admit(q))
		http_call_later(r->engine, 0, rreq_finish_pending, q);
	else
		http_call_later(r->engine, 0, rreq_start, q);
}

struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	struct router_result *res;
	router_delta_cb delta;
	void *arg;
};

static void
sync_delta(void *arg, const char *text, size_t len)
{
	struct sync_wait *w = arg;

	if (w->delta != NULL)
		w->delta(w->arg, text, len);
}

static void
sync_done(void *arg, struct router_result *res)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->res = res;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int
router_generate(struct router *r, const struct llm_request *req, router_delta_cb delta, void *arg,
    struct router_result *out)
{
	struct sync_wait w;

	memset(&w, 0, sizeof w);
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.delta = delta;
	w.arg = arg;
	router_submit(r, req, sync_delta, sync_done, &w);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	*out = *w.res;
	free(w.res);
	return out->cls == LLM_OK ? 0 : -1;
}

/* Lock the router and find a provider by name; on failure unlock and fill cause. */
static struct provider *
provider_lock(struct router *r, const char *name, char **cause)
{
	int idx;

	pthread_mutex_lock(&r->mu);
	if ((idx = provider_index(r, name)) < 0) {
		pthread_mutex_unlock(&r->mu);
		*cause = xasprintf("unknown provider \"%s\"", name);
		return NULL;
	}
	return &r->providers[idx];
}

/* Probes. */

struct probe {
	struct router *r;
	int idx;
	struct adapter_http ah;
};

static void
on_probe_done(void *arg, const struct http_result *hr)
{
	struct probe *pr = arg;
	struct router *r = pr->r;
	struct provider *p = &r->providers[pr->idx];
	uint64_t now = router_now(r);
	int ok = hr->err == HTTP_OK && hr->status >= 200 && hr->status < 300;
	enum breaker_state before;

	pthread_mutex_lock(&r->mu);
	p->probe_http = 0;
	p->last_probe_ms = clock_wall_ms();
	p->last_probe_ok = ok;
	before = p->breaker.state;
	if (hr->err != HTTP_ERR_ABORTED) {
		if (p->probe_is_trial) {
			if (ok)
				breaker_on_success(&p->breaker, now);
			else
				breaker_on_failure(&p->breaker, now);
			breaker_event(r, p, before, ok ? "health probe ok" : "health probe failed");
		} else if (!ok && p->breaker.state == BREAKER_CLOSED) {
			/* A failing probe on a closed breaker counts as a failure. */
			p->breaker.consecutive_failures++;
			if (p->breaker.consecutive_failures >= p->breaker.failure_threshold) {
				breaker_trip(&p->breaker, now);
				breaker_event(r, p, before, "health probes failing");
			}
		}
	} else if (p->probe_is_trial) {
		breaker_release(&p->breaker);
	}
	p->probe_is_trial = 0;
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
	adapter_http_free(&pr->ah);
	free(pr);
}

/* Send a probe to provider idx. Lock held. Returns 0 if sent. */
static int
probe_send_locked(struct router *r, int idx, char **cause)
{
	struct provider *p = &r->providers[idx];
	struct probe *pr;
	struct http_request hr;
	uint64_t now = router_now(r);

	if (p->probe_http != 0 || r->closing)
		return 0;
	pr = xcalloc(1, sizeof *pr);
	pr->r = r;
	pr->idx = idx;
	if (p->adapter->build_probe(p->conf, &pr->ah, cause) != 0) {
		free(pr);
		return -1;
	}
	/* An open breaker past its cooldown gets the probe as its half-open trial. */
	p->probe_is_trial = 0;
	if (p->breaker.state != BREAKER_CLOSED && breaker_acquire(&p->breaker, now))
		p->probe_is_trial = 1;
	memset(&hr, 0, sizeof hr);
	hr.method = pr->ah.method;
	hr.url = pr->ah.url;
	hr.headers = (const char *const *)pr->ah.headers;
	hr.n_headers = pr->ah.n_headers;
	hr.timeout_ms = 5000;
	hr.max_response = 1 << 20;
	hr.on_done = on_probe_done;
	hr.arg = pr;
	r->active++;
	p->probe_http = http_submit(r->engine, &hr);
	return 0;
}

int
router_probe(struct router *r, const char *name, char **cause)
{
	struct provider *p;
	int rc;

	if ((p = provider_lock(r, name, cause)) == NULL)
		return -1;
	rc = probe_send_locked(r, (int)(p - r->providers), cause);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static void
on_probe_timer(void *arg)
{
	struct router *r = arg;
	uint64_t now = router_now(r);

	pthread_mutex_lock(&r->mu);
	r->probe_timer = 0;
	if (r->closing) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		char *cause = NULL;
		if (p->admin == ADMIN_DISABLED)
			continue;
		/* Closed breakers are probed for display; open ones only once cooled down. */
		if (p->breaker.state == BREAKER_OPEN && !breaker_would_allow(&p->breaker, now))
			continue;
		if (probe_send_locked(r, (int)i, &cause) != 0)
			free(cause);
	}
	pthread_mutex_unlock(&r->mu);
	probe_schedule(r);
}

static void
probe_schedule(struct router *r)
{
	pthread_mutex_lock(&r->mu);
	if (!r->closing && !r->opts.no_probes && r->cfg->breaker.probe_interval_ms > 0)
		r->probe_timer = http_call_later(r->engine,
		    (uint64_t)r->cfg->breaker.probe_interval_ms, on_probe_timer, r);
	pthread_mutex_unlock(&r->mu);
}

/* The worker thread: SQLite writes the engine thread must not wait for. */
static void *
worker_main(void *arg)
{
	struct router *r = arg;
	struct job *j;

	pthread_mutex_lock(&r->job_mu);
	for (;;) {
		while (r->jobs == NULL && !r->worker_stop)
			pthread_cond_wait(&r->job_cv, &r->job_mu);
		if (r->jobs == NULL)
			break;
		j = r->jobs;
		r->jobs = j->next;
		if (r->jobs == NULL)
			r->jobs_tail = &r->jobs;
		pthread_mutex_unlock(&r->job_mu);
		j->fn(r, j->arg);
		free(j);
		pthread_mutex_lock(&r->job_mu);
	}
	pthread_mutex_unlock(&r->job_mu);
	return NULL;
}

static void
job_persist_event(struct router *r, void *arg)
{
	struct event *ev = arg;

	store_event_add(r->store, ev->time_ms, event_kind_name(ev->kind),
	    ev->provider[0] != '\0' ? ev->provider : NULL, ev->message);
	free(ev);
}

/* Every ring event also goes to the database's event log, off the caller's thread. */
static void
event_sink(void *arg, const struct event *ev)
{
	struct router *r = arg;
	struct event *copy = xmalloc(sizeof *copy);

	*copy = *ev;
	job_post(r, job_persist_event, copy);
}

static void
override_apply(void *arg, const char *name, const char *field, const char *value)
{
	struct router *r = arg;
	int idx = provider_index(r, name);
	struct provider *p;

	if (idx < 0)
		return;
	p = &r->providers[idx];
	if (strcmp(field, "priority") == 0) {
		p->priority = atoi(value);
		p->priority_overridden = 1;
	} else if (strcmp(field, "weight") == 0) {
		p->weight = atof(value);
		p->weight_overridden = 1;
	} else if (strcmp(field, "admin") == 0) {
		if (strcmp(value, "disabled") == 0)
			p->admin = ADMIN_DISABLED;
		else if (strcmp(value, "drained") == 0)
			p->admin = ADMIN_DRAINED;
		else
			p->admin = ADMIN_ENABLED;
		p->admin_overridden = 1;
	}
}

static void
override_save(struct router *r, const char *name, const char *field, const char *fmt, ...)
{
	char value[64];
	va_list ap;

	if (r->store == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	if (store_override_set(r->store, name, field, value) != 0)
		event_add(r->events, EV_ERROR, name, "could not save the %s override", field);
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
	now = router_now(r);
	r->n_providers = cfg->n_providers;
	r->providers = xcalloc(r->n_providers, sizeof *r->providers);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		p->conf = &cfg->providers[i];
		p->adapter = adapter_for(p->conf->kind);
		p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->priority = p->conf->priority;
		p->weight = p->conf->weight;
		breaker_init(&p->breaker, cfg->breaker.failure_threshold, cfg->breaker.cooldown_ms,
		    cfg->breaker.half_open_max);
		bucket_init(&p->rpm, p->conf->rate_limit_rpm, now);
		bucket_init(&p->tpm, p->conf->rate_limit_tpm, now);
		hist_init(&p->latency);
	}
	hist_init(&r->latency);
	r->store = r->opts.store;
	pthread_mutex_init(&r->job_mu, NULL);
	pthread_cond_init(&r->job_cv, NULL);
	r->jobs_tail = &r->jobs;
	if (r->store != NULL) {
		if (pthread_create(&r->worker, NULL, worker_main, r) != 0)
			fatal("cannot start the router's worker thread");
		store_overrides(r->store, override_apply, r);
		event_ring_set_sink(r->events, event_sink, r);
	}
	if (r->opts.engine != NULL) {
		r->engine = r->opts.engine;
	} else {
		r->engine = http_engine_new(NULL);
		r->own_engine = 1;
	}
	probe_schedule(r);
	return r;
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->closing = 1;
	if (r->probe_timer != 0)
		http_cancel_timer(r->engine, r->probe_timer);
	r->probe_timer = 0;
	for (struct rreq *q = r->live; q != NULL; q = q->next) {
		if (q->http_id != 0)
			http_cancel(r->engine, q->http_id);
		if (q->timer_id != 0 && http_cancel_timer(r->engine, q->timer_id)) {
			q->timer_id = 0;
			http_call_later(r->engine, 0, on_retry_timer, q);
		}
	}
	for (size_t i = 0; i < r->n_providers; i++)
		if (r->providers[i].probe_http != 0)
			http_cancel(r->engine, r->providers[i].probe_http);
	while (r->active > 0)
		pthread_cond_wait(&r->idle, &r->mu);
	pthread_mutex_unlock(&r->mu);
	if (r->own_engine)
		http_engine_free(r->engine);
	if (r->store != NULL) {
		event_ring_set_sink(r->events, NULL, NULL);
		pthread_mutex_lock(&r->job_mu);
		r->worker_stop = 1;
		pthread_cond_signal(&r->job_cv);
		pthread_mutex_unlock(&r->job_mu);
		pthread_join(r->worker, NULL);
	}
	pthread_mutex_destroy(&r->job_mu);
	pthread_cond_destroy(&r->job_cv);
	event_ring_free(r->events);
	free(r->providers);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->idle);
	free(r);
}

/* Operator calls. */

int
router_set_admin(struct router *r, const char *name, enum provider_admin a, char **cause)
{
	struct provider *p;
	enum provider_admin before;

	if ((p = provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->admin;
	p->admin = a;
	p->admin_overridden = a != ADMIN_MISCONFIGURED;
	if (a == ADMIN_ENABLED)
		p->blocked_until_ms = 0;
	pthread_mutex_unlock(&r->mu);
	if (a != ADMIN_MISCONFIGURED)
		override_save(r, name, "admin", "%s", provider_admin_name(a));
	if (a == ADMIN_DRAINED)
		event_add(r->events, EV_OPERATOR, name,
		    "operator: failover: %s drained (was %s); "
		    "new traffic goes to the next provider",
		    name, provider_admin_name(before));
	else
		event_add(r->events, EV_OPERATOR, name, "operator: %s %s -> %s", name,
		    provider_admin_name(before), provider_admin_name(a));
	return 0;
}

int
router_set_priority(struct router *r, const char *name, int priority, char **cause)
{
	struct provider *p;
	int before;

	if (priority < LIMIT_PRIORITY_MIN || priority > LIMIT_PRIORITY_MAX) {
		*cause = xasprintf("priority %d out of range %d..%d", priority, LIMIT_PRIORITY_MIN,
		    LIMIT_PRIORITY_MAX);
		return -1;
	}
	if ((p = provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->priority;
	p->priority = priority;
	p->priority_overridden = 1;
	pthread_mutex_unlock(&r->mu);
	override_save(r, name, "priority", "%d", priority);
	event_add(r->events, EV_OPERATOR, name, "operator: %s priority %d -> %d", name, before,
	    priority);
	return 0;
}

int
router_set_weight(struct router *r, const char *name, double weight, char **cause)
{
	struct provider *p;
	double before;

	if (!(weight >= LIMIT_WEIGHT_MIN && weight <= LIMIT_WEIGHT_MAX)) {
		*cause = xasprintf("weight %g out of range %g..%g", weight, LIMIT_WEIGHT_MIN,
		    LIMIT_WEIGHT_MAX);
		return -1;
	}
	if ((p = provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->weight;
	p->weight = weight;
	p->weight_overridden = 1;
	pthread_mutex_unlock(&r->mu);
	override_save(r, name, "weight", "%g", weight);
	event_add(r->events, EV_OPERATOR, name, "operator: %s weight %.2f -> %.2f", name, before,
	    weight);
	return 0;
}

int
router_reset_breaker(struct router *r, const char *name, char **cause)
{
	struct provider *p;
	enum breaker_state before;

	if ((p = provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->breaker.state;
	breaker_reset(&p->breaker);
	p->blocked_until_ms = 0;
	pthread_mutex_unlock(&r->mu);
	event_add(r->events, EV_OPERATOR, name, "operator: %s breaker reset (was %s)", name,
	    breaker_state_name(before));
	return 0;
}

int
router_clear_overrides(struct router *r, const char *name, char **cause)
{
	int found = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if (name != NULL && strcmp(p->conf->name, name) != 0)
			continue;
		found = 1;
		p->priority = p->conf->priority;
		p->weight = p->conf->weight;
		if (p->admin_overridden)
			p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->priority_overridden = p->weight_overridden = p->admin_overridden = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (!found) {
		*cause = xasprintf("unknown provider \"%s\"", name);
		return -1;
	}
	if (r->store != NULL && store_override_clear(r->store, name) != 0) {
		*cause = xstrdup("could not clear the overrides in the database");
		return -1;
	}
	event_add(r->events, EV_OPERATOR, name, "operator: overrides of %s reset to the config",
	    name != NULL ? name : "every provider");
	return 0;
}

/* Snapshots. */

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
		ps->usable = provider_usable(r, p, 0, now);
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
	}
	s->requests = r->requests;
	s->answered = r->answered;
	s->failed = r->failed;
	s->failovers = r->failovers;
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
