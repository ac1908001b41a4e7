/*
 * router.c: one request's life, top to bottom.
 *
 *   router_submit()      caller's thread: copy the request, admit it (cost
 *                        optimizer, cache lookup, budget reservation), hand it
 *                        to the engine thread
 *   rreq_start()         engine thread: the first attempt
 *   attempt_start()      build the provider's request, take a breaker slot and
 *                        rate-limit tokens, submit it, arm its watchdog
 *   on_watch()           the watchdog: abandon an attempt with no answer (or no
 *                        first token) in its time, or a stream gone silent;
 *                        start a hedge when the attempt is slow to answer
 *   on_http_done()       an attempt ended: settle the provider's breaker, then
 *                        win, lose to a hedge, or fail
 *   rreq_next()          after a failure: fail over to the next provider that
 *                        can take it now, or retry the same one after a backoff
 *                        when no other can, or give up at the deadline
 *   rreq_finish()        once no attempt is live: the result, the ledger rows
 *                        (the answer waits for their commit), the cache, done
 *   router_cancel()      the caller left: abort every transfer, ledger what
 *                        was used as "cancelled"
 *
 * Operations other than chat (router_submit_op: embeddings, count_tokens) live
 * the same life; their table (router_op.c) builds and parses their attempts
 * instead of the chat adapter, and a provider that does not speak the
 * operation is not a candidate.
 *
 * Threads. router_submit() only copies the request and queues it: it never
 * blocks, so a gateway's polling thread may call it. Three threads then carry
 * a request:
 *   router-worker  admission (cost optimizer, cache lookup, budget) and event
 *                  persistence: everything that may wait on SQLite. A request
 *                  whose admission needs no database (rreq_admit_fast: no key or
 *                  one with no rate nor budget,
 *                  not cacheable, its budget reservation from the lease in
 *                  memory) is admitted on the caller's thread and skips it.
 *   http engine    every attempt, timer, watchdog and callback, and the
 *                  delivery of every result: delta and done callbacks (and the
 *                  end of router_generate) always run here, store or not
 *   store-writer   the ledger's group commit (the result waits for its row),
 *                  then the cache's (a fresh cacheable answer waits for its entry)
 * A request belongs to one of them at a time: the worker during admission, the
 * engine from rreq_start() to rreq_finish(), the writer until its row is
 * committed, the engine again to deliver. Provider state, the router's
 * counters and the live list are shared with operator calls and snapshots on
 * other threads, under r->mu.
 *
 * Lock order: r->mu, then the event ring's lock (event_add may be called with
 * r->mu held); the http engine's and the work queue's locks are leaves
 * (http_submit, http_cancel, http_call_later and workq_push may be called with
 * r->mu held). No SQLite call ever runs with r->mu held, on the engine thread
 * or on the caller's.
 *
 * Time. timeout_seconds is the request's overall deadline. Within it each
 * attempt has its own limits (README: "How the router decides"): connecting
 * (connect_timeout_seconds), answering (first_token_timeout_seconds: the whole
 * answer when not streamed, the first token of a stream; by default half of
 * the time left while another provider could still take the request, else all
 * of it) and, for streams, silence between chunks (stream_idle_timeout_seconds).
 */
#include "router/router.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/budget.h"
#include "store/cache.h"
#include "store/ledger.h"
#include "store/pricing.h"
#include "router/router_priv.h"
#include "store/store.h"
#include "util/workq.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_STREAM_IDLE_MS 30000

static void rreq_start(void *);
static void rreq_next(struct rreq *);
static void rreq_failover(struct rreq *);
static void rreq_finish(struct rreq *, enum llm_errclass);
static void rreq_settle_end(struct rreq *);
static void rreq_deliver(struct rreq *);
static void rreq_ledger(struct rreq *);
static int attempt_start(struct rreq *, int idx, int hedge);

/* A whole answer (cached, or not streamed) to a streamed request, as deltas. */
static void
rreq_replay(struct rreq *q)
{
	if (q->typed != NULL)
		llm_response_replay(&q->acc, q->typed, q->arg);
}

/* Attempts. */

/* Breaker, rate-limit and cost bookkeeping for an attempt that ended. */
static void
attempt_settle(struct attempt *a, enum llm_errclass cls, const struct llm_error *err,
    const struct llm_usage *used, double *cost, int *unpriced)
{
	struct rreq *q = a->q;
	struct router *r = q->r;
	struct provider *p = &r->providers[a->idx];
	uint64_t now = rt_now(r);
	uint64_t lat = clock_mono_us() - a->start_us;
	/* A timeout the deadline forced on it, a lost race or a caller that left is
	 * not the provider's fault. */
	enum llm_errclass blame = cls == LLM_ERR_TIMEOUT && a->squeezed ? LLM_ERR_CANCELLED : cls;
	/* A 404 to an operation beside chat: the provider lacks that endpoint, its
	 * chat is no less healthy. */
	if (q->op != NULL && cls == LLM_ERR_NOT_FOUND)
		blame = LLM_ERR_CANCELLED;
	double tokens = used != NULL ? (double)(used->input_tokens + used->output_tokens) : 0;

	*cost = 0;
	*unpriced = 0;
	if (used != NULL)
		*cost = rt_cost(r->cfg, a->alias, used, unpriced);
	pthread_mutex_lock(&r->mu);
	rt_provider_settle_locked(r, p, blame, err, lat, now);
	if (q->op == NULL && cls == LLM_OK) {
		learned_record(&p->learned[q->req.stream ? 1 : 0], now,
		    q->req.stream && a->first_us > 0 ? a->first_us : lat);
	} else if (q->op == NULL && cls == LLM_ERR_TIMEOUT && !a->answered && !a->squeezed) {
		/* Abandoned without an answer: it took at least its limit. Counted at
		 * the limit, a provider grown slower raises its own p99 and, through
		 * it, the next limit, up to the configured one: never locked out. */
		learned_record(&p->learned[q->req.stream ? 1 : 0], now,
		    a->give_up_us - a->start_us);
	}
	if (p->conf->rate_limit_tpm > 0 && p->fleet != NULL) {
		int64_t wall = store_now_ms(p->fleet);

		if (tokens < a->tpm_reserved)
			rate_lease_refund(&p->tpm_lease, a->tpm_reserved - tokens, wall);
		else
			rate_lease_charge(&p->tpm_lease, tokens - a->tpm_reserved, wall);
	} else if (p->conf->rate_limit_tpm > 0) {
		if (tokens < a->tpm_reserved)
			bucket_refund(&p->tpm, a->tpm_reserved - tokens);
		else
			bucket_charge(&p->tpm, tokens - a->tpm_reserved, now);
	}
	if (used != NULL) {
		p->input_tokens += (uint64_t)used->input_tokens;
		p->output_tokens += (uint64_t)used->output_tokens;
		p->cost_usd += *cost;
	}
	pthread_mutex_unlock(&r->mu);
	rt_record_attempt(q, a, cls, cls == LLM_OK ? NULL : err->message, lat);
	rt_reqview_attempt_ended(q, a, cls, cls == LLM_OK ? NULL : err->message, lat, *cost);
}

/* The request's outcome is decided; the attempts still live are cancelled and
 * it finishes when the last one has ended (rreq_settle_end). */
static void
rreq_decide(struct rreq *q, enum llm_errclass outcome, struct attempt *keep)
{
	q->finishing = 1;
	q->outcome = outcome;
	if (keep != NULL)
		rreq_abort_others(q, keep);
}

/* A hedge that lost, or an attempt the caller left: a ledger row of its own. */
static void
rreq_add_loser(struct rreq *q, struct attempt *a, const struct llm_usage *u, double cost,
    int unpriced, int estimated)
{
	struct ledger_row *row;

	q->losers = xreallocarray(q->losers, q->n_losers + 1, sizeof *q->losers);
	row = &q->losers[q->n_losers++];
	memset(row, 0, sizeof *row);
	if (q->route != NULL)
		strlcpy_(row->route, q->route->name, sizeof row->route);
	strlcpy_(row->provider, q->r->providers[a->idx].conf->name, sizeof row->provider);
	strlcpy_(row->model, a->alias, sizeof row->model);
	ledger_row_usage(row, u);
	row->usage_estimated = estimated;
	row->cost_usd = cost;
	row->unpriced = unpriced;
	row->latency_us = clock_mono_us() - a->start_us;
	strlcpy_(row->outcome, "cancelled", sizeof row->outcome);
	strlcpy_(row->error_class, "hedge_lost", sizeof row->error_class);
	row->attempts = 1;
}

/* The answer. Anything still running lost the race. */
static void
attempt_won(struct attempt *a, const struct llm_error *err)
{
	struct rreq *q = a->q;
	struct router *r = q->r;
	double cost;
	int unpriced;

	q->winner = a;
	attempt_settle(a, LLM_OK, err, &a->acc.usage, &cost, &unpriced);
	q->cost_usd += cost;
	q->unpriced |= unpriced;
	if (a->hedge) {
		pthread_mutex_lock(&r->mu);
		r->hedges_won++;
		pthread_mutex_unlock(&r->mu);
	}
	llm_response_free(&q->acc);
	q->acc = a->acc;
	llm_response_init(&a->acc);
	embed_response_free(&q->embed_resp);
	q->embed_resp = a->embed;
	memset(&a->embed, 0, sizeof a->embed);
	q->counted_tokens = a->counted_tokens;
	if (q->req.stream && !q->delivered && q->acc.content != NULL) {
		/* A non-streamed answer to a streamed request: its deltas at once. */
		q->delivered = 1;
		rreq_replay(q);
	}
	q->cur = a->idx;
	strlcpy_(q->alias, a->alias, sizeof q->alias);
	rreq_decide(q, LLM_OK, a);
}

/* Lost the race (or finished second): its usage is spend all the same. */
static void
attempt_lost(struct attempt *a, enum llm_errclass cls, const struct llm_error *err)
{
	struct llm_usage u = a->acc.usage;
	double cost;
	int unpriced, estimated = cls == LLM_OK ? 0 : attempt_usage(a, &u);

	attempt_settle(a, cls == LLM_OK ? LLM_OK : LLM_ERR_CANCELLED, err, &u, &cost, &unpriced);
	rreq_add_loser(a->q, a, &u, cost, unpriced, estimated);
}

/* The caller left: what this attempt used is the request's spend. */
static void
attempt_cancelled(struct attempt *a, const struct llm_error *err)
{
	struct rreq *q = a->q;
	struct llm_usage u;
	double cost;
	int unpriced, estimated = attempt_usage(a, &u);

	attempt_settle(a, LLM_ERR_CANCELLED, err, &u, &cost, &unpriced);
	q->acc.usage = u;
	q->usage_estimated = estimated;
	q->cost_usd += cost;
	q->unpriced |= unpriced;
	rreq_decide(q, LLM_ERR_CANCELLED, NULL);
}

/* The provider failed this attempt. Returns 1 if the request goes on (another
 * attempt, a retry, a failover), 0 if it is decided. */
static int
attempt_failed(struct attempt *a, const struct llm_error *err)
{
	struct rreq *q = a->q;
	double cost;
	int unpriced;

	attempt_settle(a, err->cls, err, NULL, &cost, &unpriced);
	q->last_err = *err;
	q->cur = a->idx;
	if (q->winner != a)
		return 1;
	/* Text already reached the caller: failing over would splice two answers. */
	llm_error_set(&q->last_err, LLM_ERR_STREAM, err->status,
	    "stream_broken: the stream from %s failed after the first token: %s",
	    q->r->providers[a->idx].conf->name, err->message);
	rreq_decide(q, LLM_ERR_STREAM, NULL);
	return 0;
}

static void
on_http_done(void *arg, const struct http_result *hr)
{
	struct attempt *a = arg;
	struct rreq *q = a->q;
	struct router *r = q->r;
	struct llm_error err;
	enum llm_errclass cls;
	int go_on = 0;

	pthread_mutex_lock(&r->mu);
	a->http_id = 0;
	rt_flying_remove_locked(r, a);
	pthread_mutex_unlock(&r->mu);
	if (a->watch_id != 0)
		http_cancel_timer(r->engine, a->watch_id);
	a->watch_id = 0;
	if (hr->status != 0)
		a->status = hr->status;
	llm_error_clear(&err);
	attempt_classify(a, hr, &err);
	cls = err.cls;
	rreq_unlink_attempt(q, a);

	if (cls == LLM_OK && (q->winner == NULL || q->winner == a) && !q->cancel)
		attempt_won(a, &err);
	else if (a->lost || (cls == LLM_OK && q->winner != a))
		attempt_lost(a, cls, &err);
	else if (q->cancel)
		attempt_cancelled(a, &err);
	else
		go_on = attempt_failed(a, &err);
	attempt_free(a);
	if (!go_on)
		rreq_settle_end(q);
	else if (q->n_live > 0)
		return; /* its hedge (or the original) carries on */
	else if (cls == LLM_ERR_BAD_REQUEST)
		rreq_finish(q, cls);
	else
		rreq_next(q);
}

/* A decision was made (answer, cancel, broken stream): finish once nothing is live. */
static void
rreq_settle_end(struct rreq *q)
{
	if (q->finishing && q->n_live == 0)
		rreq_finish(q, q->outcome);
}

/*
 * Does a provider other than idx stand ready to take q now? Lock held. Used
 * to leave room in the deadline for failing over.
 */
static int
others_ready_locked(struct rreq *q, int idx, uint64_t now)
{
	struct router *r = q->r;

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if ((int)i == idx || rreq_tried(q, (int)i) || !rt_provider_capable(q, (int)i))
			continue;
		if (q->req.provider != NULL)
			continue;
		if (q->route != NULL) {
			int on_route = strcmp(q->route->primary, p->conf->name) == 0;
			for (size_t f = 0; f < q->route->n_fallback && !on_route; f++)
				on_route = strcmp(q->route->fallback[f], p->conf->name) == 0;
			if (!on_route)
				continue;
		} else if (!q->raw_model && !rt_provider_serves(p, q->req.model)) {
			continue;
		}
		if (rt_provider_usable(p, rt_estimate_tokens(q, p), now))
			return 1;
	}
	return 0;
}

/* The attempt's time to answer, and whether the deadline squeezed it. */
static void
attempt_limits(struct attempt *a, uint64_t now_ms, int others, int *timeout_ms, int *connect_ms)
{
	struct rreq *q = a->q;
	const struct provider_conf *pc = q->r->providers[a->idx].conf;
	int64_t left = (int64_t)q->deadline_ms - (int64_t)now_ms;
	double own = pc->first_token_timeout_seconds * 1000.0;
	double fair = own > 0 ? own : pc->timeout_seconds * 500.0;
	double limit;

	if (left < 1)
		left = 1;
	if (own <= 0)
		own = others ? (double)left / 2 : (double)left;
	/* What the provider's own latency teaches, under the configured ceiling. */
	a->limit_learned = a->learned_ms > 0 && (double)a->learned_ms < own;
	if (a->limit_learned)
		own = (double)a->learned_ms;
	limit = own < (double)left ? own : (double)left;
	if (limit < 1)
		limit = 1;
	a->squeezed = limit < fair && limit >= (double)left;
	a->give_up_us = a->start_us + (uint64_t)(limit * 1000.0);
	/* A whole non-streamed answer is due by then; a stream may run to the deadline. */
	*timeout_ms = q->req.stream ? (int)left : (int)limit;
	*connect_ms = pc->connect_timeout_seconds > 0 ? (int)(pc->connect_timeout_seconds * 1000)
	                                              : DEFAULT_CONNECT_TIMEOUT_MS;
	if (*connect_ms > (int)limit)
		*connect_ms = (int)limit;
}

/*
 * Start an attempt on provider idx, which the caller has taken (breaker slot,
 * tokens). Returns 0 if sent, -1 if the request cannot be built for it (the
 * attempt is recorded as a request error and the slot given back).
 */
static int
attempt_send(struct attempt *a, int others)
{
	struct rreq *q = a->q;
	struct router *r = q->r;
	struct provider *p = &r->providers[a->idx];
	struct http_request hr;
	char *cause = NULL;
	int timeout_ms, connect_ms;

	strlcpy_(a->alias, rt_alias_for(q, p), sizeof a->alias);
	a->start_us = clock_mono_us();
	rt_reserve_attempt(q, a);
	a->ad = q->op != NULL ? p->adapter : adapter_for_request(p->conf, &q->req);
	if ((q->op != NULL ? q->op->build(q, p, a->alias, &a->ah, &cause)
	                   : a->ad->build_request(p->conf, config_model(r->cfg, a->alias),
	                         rt_model_id_for(r, a->alias), &q->req, q->req.stream, &a->ah,
	                         &cause)) != 0) {
		struct llm_error err;
		double cost;
		int unpriced;
		llm_error_clear(&err);
		llm_error_set(&err, LLM_ERR_BAD_REQUEST, 0, "%s",
		    cause != NULL ? cause : "cannot build the request");
		free(cause);
		attempt_settle(a, LLM_ERR_BAD_REQUEST, &err, NULL, &cost, &unpriced);
		q->last_err = err;
		return -1;
	}
	attempt_limits(a, rt_now(r), others, &timeout_ms, &connect_ms);
	memset(&hr, 0, sizeof hr);
	hr.method = a->ah.method;
	hr.url = a->ah.url;
	hr.headers = (const char *const *)a->ah.headers;
	hr.n_headers = a->ah.n_headers;
	hr.body = a->ah.body;
	hr.body_len = a->ah.body_len;
	hr.timeout_ms = timeout_ms;
	hr.connect_timeout_ms = connect_ms;
	hr.ca_file = p->conf->ca_file;
	hr.insecure = !p->conf->tls_verify;
	hr.on_headers = rt_on_http_headers;
	hr.on_data = q->req.stream ? rt_on_http_data : NULL;
	hr.on_done = on_http_done;
	hr.arg = a;
	q->live[q->n_live++] = a;
	pthread_mutex_lock(&r->mu);
	r->total_attempts++;
	rt_reqview_attempt_locked(q, a);
	a->http_id = rt_drill_submit_locked(r, a, &hr); /* http_submit, unless drilled */
	rt_flying_add_locked(r, a);
	pthread_mutex_unlock(&r->mu);
	/* The engine has its own copy; a large prompt is not held twice while waiting. */
	adapter_http_free(&a->ah);
	attempt_watch(a);
	return 0;
}

/* The provider's learned timeout and hedge delay for attempt a (r->mu held). */
static void
attempt_learned_locked(struct attempt *a, uint64_t now)
{
	struct rreq *q = a->q;
	struct router *r = q->r;
	struct learned *l = &r->providers[a->idx].learned[q->req.stream ? 1 : 0];

	if (q->op == NULL)
		a->learned_ms = learned_timeout_ms(l, &r->cfg->learn, now);
	if (q->hedge_after_ms > 0)
		a->hedge_ms = (uint64_t)q->hedge_after_ms;
	else if (q->hedge_after_ms == CONFIG_HEDGE_AUTO && q->op == NULL)
		a->hedge_ms = learned_hedge_ms(l, &r->cfg->learn, now);
}

/*
 * Take provider idx for q and send. Returns 0 if sent, 1 if the provider
 * could not take it (breaker, limit, retry-after, operator), -1 if the request
 * cannot be built for it.
 */
static int
attempt_start(struct rreq *q, int idx, int hedge)
{
	struct router *r = q->r;
	struct attempt *a = xcalloc(1, sizeof *a);
	uint64_t now = rt_now(r);
	int taken, others;

	a->q = q;
	a->idx = idx;
	a->hedge = hedge;
	buf_init(&a->errbody);
	llm_response_init(&a->acc);
	pthread_mutex_lock(&r->mu);
	taken = rt_provider_take_locked(&r->providers[idx], a, now);
	others = taken && others_ready_locked(q, idx, now);
	if (taken)
		attempt_learned_locked(a, now);
	pthread_mutex_unlock(&r->mu);
	if (!taken) {
		attempt_free(a);
		return 1;
	}
	if (attempt_send(a, others) != 0) {
		attempt_free(a);
		return -1;
	}
	return 0;
}

/* Watchdog and hedging. */

static uint64_t
stream_idle_us(const struct attempt *a)
{
	const struct provider_conf *pc = a->q->r->providers[a->idx].conf;

	return pc->stream_idle_timeout_seconds > 0
	    ? (uint64_t)(pc->stream_idle_timeout_seconds * 1e6)
	    : (uint64_t)DEFAULT_STREAM_IDLE_MS * 1000;
}

static int
hedge_due(const struct attempt *a)
{
	const struct rreq *q = a->q;

	return a->hedge_ms > 0 && !a->hedge && !a->answered && a->status == 0 && q->n_live == 1 &&
	    !q->delivered && !q->cancel && !q->finishing;
}

/* Send a hedge for a, on the next provider that can take the request now. */
static void
rreq_hedge(struct rreq *q, struct attempt *a)
{
	struct router *r = q->r;
	uint64_t now = rt_now(r);
	int idx;

	a->hedge = 1; /* hedged once: not again */
	for (;;) {
		pthread_mutex_lock(&r->mu);
		idx = rt_select_provider_locked(q, now);
		pthread_mutex_unlock(&r->mu);
		if (idx < 0)
			return;
		switch (attempt_start(q, idx, 1)) {
		case 0:
			a->hedge = 0;
			pthread_mutex_lock(&r->mu);
			r->hedges++;
			pthread_mutex_unlock(&r->mu);
			event_add(r->events, EV_FAILOVER, r->providers[idx].conf->name,
			    "hedge: %s silent for %llu ms%s, also asking %s",
			    r->providers[a->idx].conf->name, (unsigned long long)a->hedge_ms,
			    q->hedge_after_ms == CONFIG_HEDGE_AUTO ? " (its p95)" : "",
			    r->providers[idx].conf->name);
			return;
		case 1:
			if (q->n_tried < MAX_ATTEMPTS)
				q->tried[q->n_tried++] = idx;
			continue;
		default:
			if (q->n_tried < MAX_ATTEMPTS)
				q->tried[q->n_tried++] = idx;
			continue;
		}
	}
}

static void
on_watch(void *arg)
{
	struct attempt *a = arg;
	struct router *r = a->q->r;
	uint64_t now = clock_mono_us();

	a->watch_id = 0;
	if (!a->answered && now >= a->give_up_us) {
		a->abandoned = 1;
	} else if (a->answered && a->q->req.stream && now >= a->last_byte_us + stream_idle_us(a)) {
		a->abandoned = 1;
	} else {
		if (hedge_due(a) && now >= a->start_us + a->hedge_ms * 1000)
			rreq_hedge(a->q, a);
		attempt_watch(a);
		return;
	}
	pthread_mutex_lock(&r->mu);
	if (a->http_id != 0)
		http_cancel(r->engine, a->http_id);
	pthread_mutex_unlock(&r->mu);
}

/* Arm the watchdog for the attempt's next deadline: give-up, idle or hedge. */
void
attempt_watch(struct attempt *a)
{
	struct router *r = a->q->r;
	uint64_t now = clock_mono_us(), at;

	if (!a->answered)
		at = a->give_up_us;
	else if (a->q->req.stream)
		at = a->last_byte_us + stream_idle_us(a);
	else
		return;
	if (hedge_due(a)) {
		uint64_t h = a->start_us + a->hedge_ms * 1000;
		if (h < at)
			at = h;
	}
	a->watch_id =
	    http_call_later(r->engine, at > now ? (at - now + 999) / 1000 : 0, on_watch, a);
}

/* Retries and failover. */

static void
rreq_mark_tried(struct rreq *q, int idx)
{
	if (q->n_tried < MAX_ATTEMPTS && !rreq_tried(q, idx))
		q->tried[q->n_tried++] = idx;
}

void
rt_on_retry_timer(void *arg)
{
	struct rreq *q = arg;
	struct router *r = q->r;

	pthread_mutex_lock(&r->mu);
	q->timer_id = 0;
	pthread_mutex_unlock(&r->mu);
	if (r->closing || q->cancel) {
		rreq_finish(q, LLM_ERR_CANCELLED);
		return;
	}
	/* The breaker, a limit or an operator may have taken the provider out
	 * meanwhile: then move on, never wait on it again. */
	switch (attempt_start(q, q->cur, 0)) {
	case 0: return;
	case 1:
		rreq_mark_tried(q, q->cur);
		rreq_failover(q);
		return;
	default: rreq_finish(q, LLM_ERR_BAD_REQUEST); return;
	}
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
 * After a failed attempt (none live): fail over at once to another provider
 * that can take the request now; if none can, retry the same provider after a
 * backoff when the error allows it, it can still take the request and the
 * deadline has room; else finish with the last error.
 */
static void
rreq_next(struct rreq *q)
{
	struct router *r = q->r;
	uint64_t now = rt_now(r);
	int64_t left = (int64_t)q->deadline_ms - (int64_t)now;
	const struct llm_error *e = &q->last_err;
	struct provider *p;
	int retryable, others, can_take;
	uint64_t delay, wait;

	if (r->closing || q->cancel) {
		rreq_finish(q, LLM_ERR_CANCELLED);
		return;
	}
	if (q->cur < 0) {
		rreq_failover(q);
		return;
	}
	p = &r->providers[q->cur];
	retryable = e->should_retry >= 0 ? e->should_retry : e->retryable;
	if (e->cls == LLM_ERR_QUOTA || e->cls == LLM_ERR_AUTH || e->cls == LLM_ERR_NOT_FOUND ||
	    e->cls == LLM_ERR_BAD_REQUEST)
		retryable = 0;
	pthread_mutex_lock(&r->mu);
	others = others_ready_locked(q, q->cur, now);
	/* retry-after keeps it out until then: waiting that long is the retry's delay. */
	wait = p->blocked_until_ms > now ? p->blocked_until_ms - now : 0;
	can_take = p->admin == ADMIN_ENABLED &&
	    (p->breaker.state == BREAKER_CLOSED ||
	        (p->breaker.state == BREAKER_OPEN &&
	            breaker_cooldown_left_ms(&p->breaker, now) <= wait));
	pthread_mutex_unlock(&r->mu);
	if (others || !retryable || !can_take || q->retries_here >= p->conf->max_retries ||
	    left <= 0) {
		rreq_mark_tried(q, q->cur);
		rreq_failover(q);
		return;
	}
	delay = backoff_ms(r, q->retries_here);
	if (e->retry_after_ms >= 0) {
		if ((double)e->retry_after_ms > r->opts.backoff_max_ms) {
			rreq_mark_tried(q, q->cur);
			rreq_failover(q);
			return;
		}
		delay = (uint64_t)e->retry_after_ms;
	}
	if (delay < wait)
		delay = wait;
	if ((int64_t)delay >= left) {
		rreq_mark_tried(q, q->cur);
		rreq_failover(q);
		return;
	}
	q->retries_here++;
	pthread_mutex_lock(&r->mu);
	q->timer_id = http_call_later(r->engine, delay, rt_on_retry_timer, q);
	pthread_mutex_unlock(&r->mu);
}

/* The next provider that can take the request now, or finish. */
static void
rreq_failover(struct rreq *q)
{
	struct router *r = q->r;
	int64_t left = (int64_t)q->deadline_ms - (int64_t)rt_now(r);
	int idx;

	if (left <= 0 && q->n_attempts > q->n_skipped) {
		if (q->last_err.cls != LLM_ERR_TIMEOUT)
			llm_error_set(&q->last_err, LLM_ERR_TIMEOUT, 0,
			    "deadline passed after %zu attempts; last: %s", q->n_attempts,
			    q->last_err.message);
		rreq_finish(q, LLM_ERR_TIMEOUT);
		return;
	}
	for (;;) {
		pthread_mutex_lock(&r->mu);
		idx = rt_select_provider_locked(q, rt_now(r));
		pthread_mutex_unlock(&r->mu);
		if (idx < 0)
			break;
		switch (attempt_start(q, idx, 0)) {
		case 0:
			if (q->cur >= 0 && q->cur != idx) {
				pthread_mutex_lock(&r->mu);
				r->failovers++;
				pthread_mutex_unlock(&r->mu);
				event_add(r->events, EV_FAILOVER, r->providers[idx].conf->name,
				    "failover %s -> %s after %s", r->providers[q->cur].conf->name,
				    r->providers[idx].conf->name,
				    llm_errclass_name(q->last_err.cls));
			}
			q->cur = idx;
			q->retries_here = 0;
			return;
		case 1: /* raced with a state change: count it as tried and look again */
			rreq_mark_tried(q, idx);
			continue;
		default:
			rreq_mark_tried(q, idx);
			rreq_finish(q, LLM_ERR_BAD_REQUEST);
			return;
		}
	}
	if (rreq_refused(q)) {
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
		return;
	}
	if (q->n_attempts == q->n_skipped) {
		if (q->req.provider != NULL && rt_provider_index(r, q->req.provider) < 0)
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

/* Finishing. */

static void
rreq_free(struct rreq *q)
{
	llm_response_free(&q->acc);
	llm_request_free(&q->req);
	free((char *)q->embed.input);
	free((char *)q->embed.user);
	embed_response_free(&q->embed_resp);
	free(q->capable);
	free(q->refusals);
	free(q->attempts);
	free(q->view.ended);
	free(q->losers);
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

/* One event per change of the cache's state (its Redis unreachable, reachable again). */
static void
rt_cache_watch(struct router *r)
{
	char reason[512];
	unsigned changes, seen;
	int down;

	if (r->cfg->cache.url[0] == '\0')
		return;
	down = cache_health(r->store, &r->cfg->cache, &changes, reason, sizeof reason);
	seen = atomic_load(&r->cache_changes_seen);
	if (seen == changes ||
	    !atomic_compare_exchange_strong(&r->cache_changes_seen, &seen, changes))
		return;
	if (down)
		event_add(r->events, EV_CACHE, NULL, "cache: %s; lookups miss until it answers",
		    reason);
	else
		event_add(r->events, EV_CACHE, NULL, "cache: Redis at %s answers again",
		    r->cfg->cache.url);
}

/* Engine thread: answer the caller. */
static void
job_deliver(void *arg)
{
	rreq_deliver(arg);
}

/* Writer thread (the worker with no store): the answer is in the cache (or not); the
 * engine answers. */
static void
rreq_cached_done(void *arg, int rc)
{
	struct rreq *q = arg;

	(void)rc; /* a cache that could not store is a miss next time, not an error */
	rt_cache_watch(q->r);
	http_call_later(q->r->engine, 0, job_deliver, q);
}

/* Writer thread: the ledger row is committed; store a fresh answer in the cache
 * (same thread, next group commit; in Redis a SETEX here), then deliver. With no
 * store (the cache in Redis), the worker's. */
static void
rreq_cache_put(struct rreq *q)
{
	struct router *r = q->r;

	cache_put_async(r->store, &r->cfg->cache, q->cache_key, q->res->provider, q->res->model,
	    &q->res->resp, rreq_cached_done, q);
}

/* Worker, no store: store a fresh answer in the cache's Redis, then deliver. */
static void
job_cache_put(void *arg)
{
	rreq_cache_put(arg);
}

int
rt_store_watch(struct router *r, struct store_health *h)
{
	uint64_t seen;

	memset(h, 0, sizeof *h);
	if (r->store == NULL)
		return 0;
	store_health(r->store, h);
	seen = atomic_load(&r->store_changes_seen);
	if (seen == h->changes ||
	    !atomic_compare_exchange_strong(&r->store_changes_seen, &seen, h->changes))
		return h->spool_full;
	if (h->spool_full && h->spool_path[0] == '\0') /* a backend without a spool */
		event_add(r->events, EV_ERROR, NULL,
		    "store: the ledger cannot be written and has no spool: paid requests are "
		    "refused; %s",
		    h->reason);
	else if (h->spool_full)
		event_add(r->events, EV_ERROR, NULL,
		    "store: the ledger's spool is full (%lld rows at %s): paid requests are "
		    "refused; %s",
		    (long long)h->spooled_rows, h->spool_path, h->reason);
	else if (h->failing)
		event_add(r->events, EV_ERROR, NULL,
		    "store: the ledger cannot be written, rows go to its spool %s: %s",
		    h->spool_path, h->reason);
	else
		event_add(r->events, EV_INFO, NULL,
		    "store: the ledger is written again (%lld rows left in the spool)",
		    (long long)h->spooled_rows);
	return h->spool_full;
}

/* The error for a request the ledger cannot account for. */
static void
rreq_ledger_error(struct llm_error *e, const struct store_health *h)
{
	if (h->spool_path[0] == '\0') /* a backend without a spool */
		llm_error_set(e, LLM_ERR_NO_PROVIDER, 0, "the ledger cannot be written: %s",
		    h->reason[0] != '\0' ? h->reason : "its store is failing");
	else
		llm_error_set(e, LLM_ERR_NO_PROVIDER, 0,
		    "the ledger cannot be written: %s; %lld rows spooled at %s",
		    h->reason[0] != '\0' ? h->reason : "its spool is full",
		    (long long)h->spooled_rows, h->spool_path);
}

/*
 * Writer thread: the ledger rows are committed or spooled (rc 0), or neither:
 * then the answer is withheld (no answer without its charge on record); now
 * the caller may have it.
 */
static void
rreq_ledger_done(void *arg, int rc)
{
	struct rreq *q = arg;
	struct router *r = q->r;
	struct store_health h;

	rt_store_watch(r, &h);
	if (rc != 0 && q->res->cls == LLM_OK) {
		rreq_ledger_error(&q->res->err, &h);
		q->res->cls = LLM_ERR_NO_PROVIDER;
		pthread_mutex_lock(&r->mu);
		r->answered--;
		r->failed++;
		pthread_mutex_unlock(&r->mu);
	}
	if (q->res->cls == LLM_OK && q->cacheable && !q->res->cached)
		rreq_cache_put(q);
	else
		http_call_later(r->engine, 0, job_deliver, q);
}

static const char *
outcome_name(enum llm_errclass cls)
{
	switch (cls) {
	case LLM_OK: return "ok";
	case LLM_ERR_BUDGET: return "refused";
	case LLM_ERR_FORBIDDEN: return "refused";
	case LLM_ERR_CANCELLED: return "cancelled";
	default: return "error";
	}
}

static void
rreq_ledger(struct rreq *q)
{
	struct router_result *res = q->res;
	struct ledger_row row;
	int64_t reservation = q->reservation;

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
	ledger_row_usage(&row, &res->resp.usage);
	row.usage_estimated = res->usage_estimated;
	row.cost_usd = res->cost_usd - res->hedge_cost_usd;
	row.unpriced = res->unpriced;
	row.latency_us = res->latency_us;
	strlcpy_(row.outcome, q->refused_at_admission ? "refused" : outcome_name(res->cls),
	    sizeof row.outcome);
	if (res->cls != LLM_OK)
		strlcpy_(row.error_class, llm_errclass_name(res->cls), sizeof row.error_class);
	if (res->resp.id != NULL)
		strlcpy_(row.response_id, res->resp.id, sizeof row.response_id);
	row.cache_hit = res->cached;
	row.attempts = (int)(res->n_attempts - q->n_skipped);
	/* Who sent it (keys.h); the row settles the scoped reservations. */
	if (q->req.key_id != NULL)
		strlcpy_(row.key_id, q->req.key_id, sizeof row.key_id);
	if (q->req.team != NULL)
		strlcpy_(row.team, q->req.team, sizeof row.team);
	row.operator_test = q->req.operator_test;
	memcpy(row.scope_res, q->scope_res, sizeof row.scope_res);
	memset(q->scope_res, 0, sizeof q->scope_res);
	/* Lost hedges first, in the same group commit; the answer waits for the last. */
	for (size_t i = 0; i < q->n_losers; i++) {
		strlcpy_(q->losers[i].key_id, row.key_id, sizeof q->losers[i].key_id);
		strlcpy_(q->losers[i].team, row.team, sizeof q->losers[i].team);
		q->losers[i].operator_test = row.operator_test;
		ledger_record_async(q->r->store, &q->losers[i], 0, NULL, NULL);
	}
	/* q belongs to the writer thread from here: do not touch it after this call. */
	q->reservation = 0;
	ledger_record_async(q->r->store, &row, reservation, rreq_ledger_done, q);
}

static void
rreq_finish(struct rreq *q, enum llm_errclass cls)
{
	struct router *r = q->r;
	struct router_result *res;
	uint64_t lat = clock_mono_us() - q->start_us;

	res = q->res = xcalloc(1, sizeof *q->res);
	res->op = q->op != NULL ? q->op->op : ROUTER_OP_CHAT;
	res->cls = cls;
	res->latency_us = lat;
	res->attempts = q->attempts;
	res->n_attempts = q->n_attempts;
	q->attempts = NULL;
	res->cost_usd = q->cost_usd;
	for (size_t i = 0; i < q->n_losers; i++) {
		res->hedge_cost_usd += q->losers[i].cost_usd;
		res->cost_usd += q->losers[i].cost_usd;
	}
	res->unpriced = q->unpriced;
	res->cached = q->cached;
	res->usage_estimated = q->usage_estimated;
	if (q->route != NULL)
		strlcpy_(res->route, q->route->name, sizeof res->route);
	if (cls == LLM_OK) {
		res->resp = q->acc;
		llm_response_init(&q->acc);
		strlcpy_(res->provider,
		    q->cached ? q->cached_provider : r->providers[q->cur].conf->name,
		    sizeof res->provider);
		strlcpy_(res->model, q->alias, sizeof res->model);
		res->embed = q->embed_resp;
		memset(&q->embed_resp, 0, sizeof q->embed_resp);
		res->counted_tokens = q->counted_tokens;
		llm_error_clear(&res->err);
	} else {
		res->resp.usage = q->acc.usage;
		res->err = q->last_err;
		res->err.cls = cls;
		if (cls == LLM_ERR_CANCELLED && res->err.message[0] == '\0')
			snprintf(res->err.message, sizeof res->err.message,
			    "cancelled: the caller left");
		if (res->err.message[0] == '\0')
			snprintf(res->err.message, sizeof res->err.message, "%s",
			    llm_errclass_name(cls));
	}

	pthread_mutex_lock(&r->mu);
	r->requests++;
	r->in_flight--;
	/* An operator's test prompt is not what clients get. */
	if (!q->req.operator_test)
		rt_window_record_request_locked(r, cls, lat);
	rt_reqview_finish_locked(q, res);
	if (cls == LLM_OK) {
		r->answered++;
		if (res->cached)
			r->cache_hits++;
		hist_record(&r->latency, lat);
	} else if (cls == LLM_ERR_CANCELLED) {
		r->cancelled++;
	} else {
		r->failed++;
	}
	r->cost_usd += res->cost_usd;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else if (r->live == q)
		r->live = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	pthread_mutex_unlock(&r->mu);

	/* No store, the cache in Redis: a fresh answer goes there from the worker. */
	if (r->store == NULL && q->res->cls == LLM_OK && q->cacheable && !q->res->cached) {
		workq_push(r->wq, job_cache_put, q);
		return;
	}
	/* An operation that spends nothing has no row; one refused at admission
	 * neither (it reserved nothing). */
	if (r->store == NULL ||
	    (q->op != NULL && (!q->op->spends || cls == LLM_ERR_BUDGET) && q->reservation == 0)) {
		rt_keys_release(q); /* no row settles them */
		rreq_deliver(q);    /* already on the engine thread */
		return;
	}
	rreq_ledger(q);
}

/* Admission. */

/* The most an operation's request can cost: its input, on the dearest alias
 * it may use. */
static double
op_upper_bound_usd(struct rreq *q)
{
	struct router *r = q->r;
	struct llm_usage u;
	double worst = 0, c;
	int unpriced;

	memset(&u, 0, sizeof u);
	u.input_tokens = rreq_input_estimate(q);
	for (size_t i = 0; i < r->n_providers; i++) {
		if (!q->op->serves(r->providers[i].conf))
			continue;
		c = rt_cost(r->cfg, rt_alias_for(q, &r->providers[i]), &u, &unpriced);
		if (c > worst)
			worst = c;
	}
	return worst;
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

/* Worker: a cacheable request's lookup; 1 on a hit (q holds the answer). */
static int
rreq_cache_lookup(struct rreq *q)
{
	struct router *r = q->r;
	struct llm_response hit;
	char provider[LIMIT_NAME_SIZE] = "", model[LIMIT_ALIAS_SIZE] = "";
	int rc;

	q->cacheable = q->op == NULL && cache_eligible(&r->cfg->cache, &q->req);
	if (!q->cacheable)
		return 0;
	cache_key(&q->req, q->req.model, q->cache_key);
	llm_response_init(&hit);
	rc = cache_get(r->store, &r->cfg->cache, q->cache_key, &hit, provider, model);
	rt_cache_watch(r);
	if (rc != 1)
		return 0;
	q->acc = hit;
	q->cached = 1;
	q->cost_usd = 0;
	q->cached_provider = xstrdup(provider);
	strlcpy_(q->alias, model, sizeof q->alias);
	return 1;
}

/* The cost optimizer may change the request's model (a quality stated, or a model
 * with a cheaper step on the budget's ladder). */
static int
rreq_optimizable(const struct rreq *q)
{
	const struct budget_conf *bc = &q->r->cfg->budget;

	return q->op == NULL &&
	    (q->req.quality != NULL || budget_ladder_step(bc, q->req.model) != NULL);
}

/* What the request reserves: its upper bound, twice when a hedge may run a second
 * attempt to the end. */
static double
rreq_most_usd(struct rreq *q)
{
	return (q->op != NULL ? op_upper_bound_usd(q) : upper_bound_usd(q->r, &q->req)) *
	    (q->hedge_after_ms != 0 ? 2 : 1);
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

	/* No store: only the cache, when it is in Redis (cache.url). */
	if (r->store == NULL)
		return r->cfg->cache.url[0] != '\0' && rreq_cache_lookup(q);
	if (q->op != NULL && !q->op->spends)
		return 0;
	{
		struct store_health h;

		/* The spool is full: an answer now would go unaccounted. */
		if (rt_store_watch(r, &h)) {
			rreq_ledger_error(&q->last_err, &h);
			return 1;
		}
	}
	/* A client key: still valid, its model allowed, within its and its team's rates. */
	if (rt_keys_check(q))
		return 1;
	if (rreq_optimizable(q)) {
		/*
		 * The global daily budget's pressure, and the request's team's (its day or
		 * month budget, router_keys.c): the stricter wins, i.e. a request is
		 * downgraded when either is under pressure, and the event names the team
		 * when it is the team's.
		 */
		struct budget_status gst, tst;
		const struct budget_status *st = NULL;
		char label[LIMIT_NAME_SIZE + 32];
		int have_g = 0, have_t;

		if (bc->daily_usd > 0) {
			have_g = budget_get_status(r->store, bc, &gst, &cause) == 0;
			free(cause);
			cause = NULL;
		}
		have_t = rt_keys_team_status(q, &tst, label, sizeof label);
		if (have_g)
			st = &gst;
		if (have_t && tst.under_pressure &&
		    (!have_g || !gst.under_pressure ||
		        (tst.budget_usd - tst.spent_usd) / tst.budget_usd <
		            (gst.budget_usd - gst.spent_usd) / gst.budget_usd))
			st = &tst;
		else if (!have_g && have_t)
			st = &tst;
		if (st != NULL) {
			const char *m = budget_choose_model(bc, st, q->req.model, q->req.quality,
			    q->req.complexity, why, sizeof why);
			if (m != NULL && (q->req.model == NULL || strcmp(m, q->req.model) != 0)) {
				if (q->req.model != NULL && st == &tst && tst.under_pressure)
					event_add(r->events, EV_BUDGET, NULL,
					    "cost optimizer: %s -> %s (%s: %s)", q->req.model, m,
					    label, why);
				else if (q->req.model != NULL)
					event_add(r->events, EV_BUDGET, NULL,
					    "cost optimizer: %s -> %s (%s)", q->req.model, m, why);
				free(q->req.model);
				q->req.model = xstrdup(m);
				q->raw_model = !rt_alias_known(r, m);
			}
		}
	}
	if (rreq_cache_lookup(q))
		return 1;
	if (bc->daily_usd > 0 || bc->monthly_usd > 0 ||
	    (q->req.key_id != NULL && q->req.key_id[0])) {
		double most = rreq_most_usd(q);

		rc = bc->daily_usd > 0 ? budget_reserve(r->store, bc, most, &q->reservation, &cause)
		                       : 0;
		if (rc != 0) {
			llm_error_set(&q->last_err, rc == 1 ? LLM_ERR_BUDGET : LLM_ERR_INTERNAL, 0,
			    "%s", cause != NULL ? cause : "budget check failed");
			free(cause);
			return 1;
		}
		/* The key's, its team's and the global month's budgets (router_keys.c). */
		if (rt_keys_reserve(q, most))
			return 1;
	}
	return 0;
}

/*
 * Admission on the caller's thread when it needs no database, so the request
 * goes straight to the engine thread (one hand-off fewer, issue 19): no client
 * key, or one with no rate or budget of its own or its team's (rt_keys_fast:
 * those are the worker's, and a team's budget feeds the cost optimizer there), not cacheable (a lookup reads the store),
 * no cost optimizer nor monthly budget (they read it too), the store not
 * failing, and the daily budget's reservation taken from this handle's lease
 * in memory (budget_try_reserve). 1 admitted, 0 the worker must admit it
 * (nothing was taken).
 */
static int
rreq_admit_fast(struct rreq *q)
{
	struct router *r = q->r;
	const struct budget_conf *bc = &r->cfg->budget;
	struct store_health h;

	if (q->req.key_id != NULL && q->req.key_id[0] != '\0' && !rt_keys_fast(q))
		return 0;
	if (q->op != NULL)
		return !q->op->spends && !rt_store_watch(r, &h);
	if (r->cfg->cache.url[0] != '\0' || cache_eligible(&r->cfg->cache, &q->req))
		return 0;
	if (bc->monthly_usd > 0 || (bc->daily_usd > 0 && rreq_optimizable(q)))
		return 0;
	if (rt_store_watch(r, &h))
		return 0; /* the worker refuses it, naming the store */
	if (bc->daily_usd <= 0)
		return 1;
	return budget_try_reserve(r->store, bc, rreq_most_usd(q), &q->reservation) == 0;
}

/* Engine thread: the request is the engine's now; a cancel that came during
 * admission takes effect here. */
static void
rreq_enter(struct rreq *q)
{
	struct router *r = q->r;

	pthread_mutex_lock(&r->mu);
	q->started = 1;
	if (q->cancel_pending)
		q->cancel = 1;
	pthread_mutex_unlock(&r->mu);
}

/* A cached answer or a refusal decided at admission, delivered on the engine thread. */
static void
rreq_finish_pending(void *arg)
{
	struct rreq *q = arg;

	rreq_enter(q);
	if (q->cached && q->req.stream && q->acc.content != NULL)
		rreq_replay(q);
	rreq_finish(q, q->last_err.cls != LLM_OK ? q->last_err.cls : LLM_OK);
}

/* Worker: admit, then hand the request to the engine thread. */
static void
job_admit(void *arg)
{
	struct rreq *q = arg;

	http_call_later(q->r->engine, 0, rreq_admit(q) ? rreq_finish_pending : rreq_start, q);
}

static void
rreq_start(void *arg)
{
	struct rreq *q = arg;

	rreq_enter(q);
	if (q->req.route != NULL && q->route == NULL) {
		llm_error_set(&q->last_err, LLM_ERR_BAD_REQUEST, 0, "unknown route \"%s\"",
		    q->req.route);
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
		return;
	}
	if (q->op != NULL && !rreq_op_served(q)) {
		llm_error_set(&q->last_err, LLM_ERR_BAD_REQUEST, 0,
		    "model: no provider serving \"%s\" has %s",
		    q->req.model != NULL          ? q->req.model
		        : q->req.route != NULL    ? q->req.route
		        : q->req.provider != NULL ? q->req.provider
		                                  : "(any)",
		    q->op->unserved);
		strlcpy_(q->last_err.param, "model", sizeof q->last_err.param);
		rreq_finish(q, LLM_ERR_BAD_REQUEST);
		return;
	}
	rreq_check_capabilities(q);
	rreq_next(q);
}

static uint64_t
router_submit_with(struct router *r, const struct llm_request *req, llm_delta_cb typed,
    router_done_cb done, void *arg, const struct router_op_request *op)
{
	struct rreq *q = xcalloc(1, sizeof *q);
	double deadline;
	uint64_t id;

	q->r = r;
	llm_request_copy(&q->req, req);
	if (op != NULL && (q->op = rt_op_kind(op->op)) != NULL) {
		q->req.stream = 0;
		q->embed.input = xstrdup(op->embed.input != NULL ? op->embed.input : "\"\"");
		q->embed.dimensions = op->embed.dimensions;
		q->embed.user = op->embed.user != NULL ? xstrdup(op->embed.user) : NULL;
		q->n_inputs = op->n_inputs;
	}
	q->typed = typed;
	q->done = done;
	q->arg = arg;
	q->cur = -1;
	q->start_us = clock_mono_us();
	llm_response_init(&q->acc);
	llm_error_clear(&q->last_err);
	if (req->route != NULL)
		q->route = config_route(r->cfg, req->route);
	q->hedge_after_ms = r->cfg->hedge_after_ms;
	if (q->route != NULL && q->route->hedge_after_ms != 0)
		q->hedge_after_ms = q->route->hedge_after_ms != -1 ? q->route->hedge_after_ms : 0;
	q->balance = q->route != NULL ? q->route->balance : r->cfg->balance;
	/* A model no provider lists is a raw model id: any provider may take it. */
	q->raw_model = q->req.model != NULL && !rt_alias_known(r, q->req.model);
	deadline = req->timeout_ms;
	if (deadline <= 0) {
		deadline = 0;
		for (size_t i = 0; i < r->n_providers; i++)
			if (r->providers[i].conf->timeout_seconds * 1000.0 > deadline)
				deadline = r->providers[i].conf->timeout_seconds * 1000.0;
		if (deadline <= 0)
			deadline = 60000;
	}
	q->deadline_ms = rt_now(r) + (uint64_t)deadline;

	/* On the live list from now: router_cancel() and router_free() find it there
	 * (during admission they only mark it, under r->mu). */
	pthread_mutex_lock(&r->mu);
	r->active++;
	r->in_flight++;
	id = q->id = ++r->next_id;
	q->next = r->live;
	if (r->live != NULL)
		r->live->prev = q;
	r->live = q;
	rt_reqview_submit_locked(q);
	pthread_mutex_unlock(&r->mu);
	/* Admission can touch SQLite (or the cache's Redis): the worker's job, unless it
	 * needs neither. */
	if ((r->store == NULL && r->cfg->cache.url[0] == '\0') ||
	    (r->store != NULL && rreq_admit_fast(q))) {
		if (r->store != NULL)
			atomic_fetch_add(&r->admitted_fast, 1);
		http_call_later(r->engine, 0, rreq_start, q);
	} else
		workq_push(r->wq, job_admit, q);
	return id;
}

uint64_t
router_submit(struct router *r, const struct llm_request *req, llm_delta_cb deltas,
    router_done_cb done, void *arg)
{
	return router_submit_with(r, req, deltas, done, arg, NULL);
}

uint64_t
router_submit_op(struct router *r, const struct router_op_request *op, router_done_cb done,
    void *arg)
{
	return router_submit_with(r, op->req, NULL, done, arg, op);
}

struct cancel_msg {
	struct router *r;
	uint64_t id;
};

/* Engine thread: a request is on the live list until rreq_finish(), which also
 * runs here, so what is found cannot finish under us. */
static void
on_cancel(void *arg)
{
	struct cancel_msg *m = arg;
	struct router *r = m->r;
	struct rreq *q;
	int timer_cancelled = 0;

	pthread_mutex_lock(&r->mu);
	for (q = r->live; q != NULL && q->id != m->id; q = q->next)
		;
	if (q != NULL && !q->started) {
		q->cancel_pending = 1; /* still in admission: rreq_start() sees it */
		q = NULL;
	} else if (q != NULL && !q->finishing && !q->cancel) {
		q->cancel = 1;
		if (q->timer_id != 0 && http_cancel_timer(r->engine, q->timer_id)) {
			q->timer_id = 0;
			timer_cancelled = 1;
		}
		for (size_t i = 0; i < q->n_live; i++)
			if (q->live[i]->http_id != 0)
				http_cancel(r->engine, q->live[i]->http_id);
	} else {
		q = NULL;
	}
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->mu);
	free(m);
	if (q != NULL && timer_cancelled) {
		event_add(r->events, EV_INFO, NULL, "request %llu cancelled by its caller",
		    (unsigned long long)q->id);
		rreq_finish(q, LLM_ERR_CANCELLED);
	}
}

void
router_cancel(struct router *r, uint64_t id)
{
	struct cancel_msg *m;

	if (id == 0)
		return;
	m = xmalloc(sizeof *m);
	m->r = r;
	m->id = id;
	/* The message counts as active: router_free() waits for it to be read. */
	pthread_mutex_lock(&r->mu);
	r->active++;
	pthread_mutex_unlock(&r->mu);
	http_call_later(r->engine, 0, on_cancel, m);
}

void
router_result_free(struct router_result *res)
{
	if (res == NULL)
		return;
	llm_response_free(&res->resp);
	embed_response_free(&res->embed);
	free(res->attempts);
	memset(res, 0, sizeof *res);
}
