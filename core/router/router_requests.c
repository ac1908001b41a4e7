/*
 * router_requests.c: the live request view, like top. Each request keeps a
 * picture of itself for other threads (struct rt_reqview, under r->mu): the
 * model, the provider of its current attempt, how many attempts it started,
 * the attempts that ended (provider, status, error, latency, cost) and how
 * many deltas it streamed. When it finishes, the picture moves into a ring of
 * the last ROUTER_REQUESTS_RECENT finished requests. Readers copy under r->mu
 * what they asked for, bounded, and never hold the lock while using it.
 *
 * The hooks are called from router.c (submit, an attempt's start and end,
 * finish) and router_attempt.c (a delta); the ring is freed with the router.
 */
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"

#define REQUESTS_LIMIT_DEFAULT 50

/* A finished request in the ring. */
struct rt_finished {
	struct router_request_info info;
	struct router_request_attempt *attempts;
	size_t n_attempts;
};

/* The last finished requests: next is where the next one goes. Under r->mu. */
struct rt_reqring {
	struct rt_finished e[ROUTER_REQUESTS_RECENT];
	size_t next;
	size_t n;
};

void
rt_reqview_submit_locked(struct rreq *q)
{
	q->view.provider = -1;
	strlcpy_(q->view.model,
	    q->req.model != NULL       ? q->req.model
	        : q->req.route != NULL ? q->req.route
	                               : "",
	    sizeof q->view.model);
}

void
rt_reqview_attempt_locked(struct rreq *q, struct attempt *a)
{
	q->view.provider = a->idx;
	q->view.attempts++;
	q->view.flying++;
	a->viewed = 1;
	strlcpy_(q->view.model, a->alias, sizeof q->view.model);
}

void
rt_reqview_attempt_ended(struct rreq *q, struct attempt *a, enum llm_errclass cls,
    const char *error, uint64_t latency_us, double cost_usd)
{
	struct router *r = q->r;
	struct rt_reqview *v = &q->view;
	struct router_request_attempt *ra;

	pthread_mutex_lock(&r->mu);
	if (a->viewed) {
		a->viewed = 0;
		v->flying--;
	}
	if (!v->finished && v->n_ended < ROUTER_REQUEST_ATTEMPTS) {
		v->ended = xreallocarray(v->ended, v->n_ended + 1, sizeof *v->ended);
		ra = &v->ended[v->n_ended++];
		memset(ra, 0, sizeof *ra);
		strlcpy_(ra->provider, r->providers[a->idx].conf->name, sizeof ra->provider);
		strlcpy_(ra->model, a->alias, sizeof ra->model);
		ra->hedge = a->hedge;
		ra->status = a->status;
		ra->cls = cls;
		strlcpy_(ra->error, error != NULL ? error : "", sizeof ra->error);
		str_oneline(ra->error);
		ra->latency_us = latency_us;
		ra->cost_usd = cost_usd;
	}
	pthread_mutex_unlock(&r->mu);
}

/* What every request says of itself, in flight or not (r->mu held). */
static void
info_common_locked(struct rreq *q, struct router_request_info *out)
{
	memset(out, 0, sizeof *out);
	out->id = q->id;
	if (q->req.key_id != NULL)
		strlcpy_(out->key_id, q->req.key_id, sizeof out->key_id);
	if (q->req.team != NULL)
		strlcpy_(out->team, q->req.team, sizeof out->team);
	strlcpy_(out->model, q->view.model, sizeof out->model);
	if (q->route != NULL)
		strlcpy_(out->route, q->route->name, sizeof out->route);
	else if (q->req.route != NULL)
		strlcpy_(out->route, q->req.route, sizeof out->route);
	if (q->view.provider >= 0)
		strlcpy_(out->provider, q->r->providers[q->view.provider].conf->name,
		    sizeof out->provider);
	out->attempts = q->view.attempts;
	out->stream = q->req.stream;
	out->operator_test = q->req.operator_test;
	out->deltas = atomic_load_explicit(&q->view.deltas, memory_order_relaxed);
}

static void
info_live_locked(struct rreq *q, uint64_t now_us, struct router_request_info *out)
{
	info_common_locked(q, out);
	out->hedging = q->view.flying > 1;
	out->elapsed_us = now_us > q->start_us ? now_us - q->start_us : 0;
}

void
rt_reqview_finish_locked(struct rreq *q, const struct router_result *res)
{
	struct router *r = q->r;
	struct rt_reqring *ring;
	struct rt_finished *f;
	struct router_request_info *in;

	if (r->finished == NULL)
		r->finished = xcalloc(1, sizeof *r->finished);
	ring = r->finished;
	f = &ring->e[ring->next];
	free(f->attempts);
	in = &f->info;
	info_common_locked(q, in);
	in->done = 1;
	in->cls = res->cls;
	if (res->provider[0] != '\0')
		strlcpy_(in->provider, res->provider, sizeof in->provider);
	if (res->model[0] != '\0')
		strlcpy_(in->model, res->model, sizeof in->model);
	in->status = res->n_attempts > 0 ? res->attempts[res->n_attempts - 1].status : 0;
	in->cost_usd = res->cost_usd;
	in->unpriced = res->unpriced;
	in->cached = res->cached;
	in->elapsed_us = res->latency_us;
	in->finished_ms = clock_wall_ms();
	if (res->cls != LLM_OK) {
		strlcpy_(in->error, res->err.message, sizeof in->error);
		str_oneline(in->error);
	}
	f->attempts = q->view.ended;
	f->n_attempts = q->view.n_ended;
	q->view.ended = NULL;
	q->view.n_ended = 0;
	q->view.finished = 1;
	ring->next = (ring->next + 1) % ROUTER_REQUESTS_RECENT;
	if (ring->n < ROUTER_REQUESTS_RECENT)
		ring->n++;
}

void
rt_requests_free(struct router *r)
{
	if (r->finished == NULL)
		return;
	for (size_t i = 0; i < ROUTER_REQUESTS_RECENT; i++)
		free(r->finished->e[i].attempts);
	free(r->finished);
	r->finished = NULL;
}

void
router_requests(struct router *r, size_t limit, struct router_requests *out)
{
	uint64_t now_us = clock_mono_us();
	size_t n = 0, skip, k = 0;
	struct rreq *q;

	memset(out, 0, sizeof *out);
	if (limit == 0)
		limit = REQUESTS_LIMIT_DEFAULT;
	if (limit > ROUTER_REQUESTS_RECENT)
		limit = ROUTER_REQUESTS_RECENT;
	out->in_flight = xcalloc(limit, sizeof *out->in_flight);
	out->recent = xcalloc(limit, sizeof *out->recent);
	pthread_mutex_lock(&r->mu);
	/* r->live is newest first: the oldest limit are its tail. */
	for (q = r->live; q != NULL; q = q->next)
		n++;
	out->total_in_flight = n;
	skip = n > limit ? n - limit : 0;
	for (q = r->live; q != NULL && skip > 0; q = q->next)
		skip--;
	for (; q != NULL && k < limit; q = q->next)
		info_live_locked(q, now_us, &out->in_flight[k++]);
	out->n_in_flight = k;
	if (r->finished != NULL) {
		const struct rt_reqring *ring = r->finished;

		for (size_t i = 0; i < ring->n && i < limit; i++) {
			size_t at =
			    (ring->next + ROUTER_REQUESTS_RECENT - 1 - i) % ROUTER_REQUESTS_RECENT;
			out->recent[out->n_recent++] = ring->e[at].info;
		}
	}
	pthread_mutex_unlock(&r->mu);
	/* Oldest first. */
	for (size_t i = 0; i < k / 2; i++) {
		struct router_request_info t = out->in_flight[i];
		out->in_flight[i] = out->in_flight[k - 1 - i];
		out->in_flight[k - 1 - i] = t;
	}
}

void
router_requests_free(struct router_requests *rq)
{
	free(rq->in_flight);
	free(rq->recent);
	memset(rq, 0, sizeof *rq);
}

/* An in-flight request's detail: what ended, then what flies (r->mu held). */
static void
detail_live_locked(struct router *r, struct rreq *q, struct router_request_detail *out)
{
	uint64_t now_us = clock_mono_us();
	size_t n = q->view.n_ended;

	info_live_locked(q, now_us, &out->info);
	out->attempts = xcalloc(n + MAX_LIVE_ATTEMPTS, sizeof *out->attempts);
	if (n > 0)
		memcpy(out->attempts, q->view.ended, n * sizeof *out->attempts);
	for (struct attempt *a = r->flying; a != NULL; a = a->fly_next) {
		struct router_request_attempt *ra;

		if (a->q != q || n >= q->view.n_ended + MAX_LIVE_ATTEMPTS)
			continue;
		ra = &out->attempts[n++];
		strlcpy_(ra->provider, r->providers[a->idx].conf->name, sizeof ra->provider);
		strlcpy_(ra->model, a->alias, sizeof ra->model);
		ra->in_flight = 1;
		ra->hedge = a->hedge;
		ra->latency_us = now_us > a->start_us ? now_us - a->start_us : 0;
	}
	out->n_attempts = n;
}

int
router_request_detail(struct router *r, uint64_t id, struct router_request_detail *out)
{
	int rc = -1;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&r->mu);
	for (struct rreq *q = r->live; q != NULL; q = q->next)
		if (q->id == id) {
			detail_live_locked(r, q, out);
			rc = 0;
			break;
		}
	for (size_t i = 0; rc != 0 && r->finished != NULL && i < r->finished->n; i++) {
		const struct rt_finished *f = &r->finished->e[i];

		if (f->info.id != id)
			continue;
		out->info = f->info;
		out->n_attempts = f->n_attempts;
		out->attempts = xcalloc(f->n_attempts + 1, sizeof *out->attempts);
		if (f->n_attempts > 0)
			memcpy(out->attempts, f->attempts, f->n_attempts * sizeof *out->attempts);
		rc = 0;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
router_request_detail_free(struct router_request_detail *d)
{
	free(d->attempts);
	memset(d, 0, sizeof *d);
}
