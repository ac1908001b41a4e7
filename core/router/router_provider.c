/*
 * router_provider.c: provider state as requests see it: which provider
 * serves an alias, which is usable now, the seed's selection, taking what one
 * attempt needs (a breaker slot, rate-limit tokens) and settling its outcome
 * (breaker, retry-after, health counters). Every function that reads or
 * changes a struct provider runs with r->mu held.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/limits.h"
#include "store/pricing.h"
#include "store/store.h"
#include "router/router_priv.h"

int
rt_provider_index(struct router *r, const char *name)
{
	for (size_t i = 0; i < r->n_providers; i++)
		if (strcmp(r->providers[i].conf->name, name) == 0)
			return (int)i;
	return -1;
}

int
rt_provider_serves(const struct provider *p, const char *alias)
{
	if (alias == NULL)
		return 1;
	for (size_t i = 0; i < p->conf->n_models; i++)
		if (strcmp(p->conf->models[i], alias) == 0)
			return 1;
	return 0;
}

/* Does any provider list this alias? If none does, it is a raw model id. */
int
rt_alias_known(struct router *r, const char *alias)
{
	for (size_t i = 0; i < r->n_providers; i++)
		if (rt_provider_serves(&r->providers[i], alias))
			return 1;
	return 0;
}

/* The alias this request uses on provider p. */
const char *
rt_alias_for(const struct rreq *q, const struct provider *p)
{
	if (q->req.model != NULL)
		return q->req.model;
	if (q->route != NULL && q->route->model != NULL && rt_provider_serves(p, q->route->model))
		return q->route->model;
	if (p->conf->n_models > 0)
		return p->conf->models[0];
	return "default";
}

const char *
rt_model_id_for(struct router *r, const char *alias)
{
	const struct model_conf *m = config_model(r->cfg, alias);

	return m != NULL && m->id != NULL ? m->id : alias;
}

/*
 * The output limit a request goes out with on p: the caller's max_tokens, else
 * the model's max_output_tokens, else the fallback Anthropic gets (the
 * reservation must cover what the adapter may send).
 */
int64_t
rt_request_max_output(const struct rreq *q, const struct provider *p)
{
	return pricing_max_output(config_model(q->r->cfg, rt_alias_for(q, p)), &q->req);
}

int64_t
rreq_input_estimate(const struct rreq *q)
{
	return q->op != NULL ? q->op->input_estimate(q) : pricing_input_estimate(&q->req);
}

double
rt_estimate_tokens(const struct rreq *q, const struct provider *p)
{
	if (q->op != NULL)
		return (double)rreq_input_estimate(q);
	return (double)pricing_input_estimate(&q->req) + (double)rt_request_max_output(q, p);
}

/* Usable now for new traffic? */
int
rt_provider_usable(struct provider *p, double tokens, uint64_t now)
{
	if (p->admin != ADMIN_ENABLED || p->weight <= 0)
		return 0;
	if (now < p->blocked_until_ms)
		return 0;
	if (!breaker_would_allow(&p->breaker, now))
		return 0;
	if (p->fleet != NULL) {
		int64_t wall = store_now_ms(p->fleet);

		if (p->conf->rate_limit_rpm > 0 && !rate_lease_take(&p->rpm_lease, 1, wall, 0))
			return 0;
		if (p->conf->rate_limit_tpm > 0 && !rate_lease_take(&p->tpm_lease, tokens, wall, 0))
			return 0;
		return 1;
	}
	if (p->conf->rate_limit_rpm > 0 && !bucket_peek(&p->rpm, 1, now))
		return 0;
	if (p->conf->rate_limit_tpm > 0 && !bucket_peek(&p->tpm, tokens, now))
		return 0;
	return 1;
}

/* A refill sees how close to a minute's end the next one's lease is taken. */
#define LIMITS_AHEAD_MS 1500
/* The live instances are counted again after this. */
#define LIMITS_COUNT_MS 5000

/* One lease topped up: what it wants, asked of the store outside r->mu. */
static void
limits_refill_one(struct router *r, struct provider *p, struct rate_lease *l, const char *kind,
    double limit, int live, int64_t now)
{
	double want, granted = 0;
	int64_t minute;
	int ahead;
	char *cause = NULL;

	pthread_mutex_lock(&r->mu);
	if (live > 0)
		l->slice = limits_slice(limit, live);
	want = rate_lease_want(l, now, LIMITS_AHEAD_MS, &ahead, &minute);
	pthread_mutex_unlock(&r->mu);
	if (want <= 0)
		return;
	if (limits_take(r->store, p->conf->name, kind, minute, limit, want, &granted, &cause) !=
	    0) {
		free(cause); /* unreachable: the lease drains, and the provider waits */
		return;
	}
	pthread_mutex_lock(&r->mu);
	rate_lease_add(l, minute, granted);
	pthread_mutex_unlock(&r->mu);
}

void
rt_limits_refill(struct router *r)
{
	int64_t now;
	int live = 0;

	if (r->store == NULL)
		return;
	now = store_now_ms(r->store);
	if (r->limits_counted_ms == 0 || now - r->limits_counted_ms >= LIMITS_COUNT_MS ||
	    now < r->limits_counted_ms) {
		int any = 0;

		for (size_t i = 0; i < r->n_providers; i++)
			any |= r->providers[i].conf->rate_limit_rpm > 0 ||
			    r->providers[i].conf->rate_limit_tpm > 0;
		if (!any)
			return;
		live = r->limits_live = limits_live_instances(r->store);
		r->limits_counted_ms = now;
	}
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];

		if (p->conf->rate_limit_rpm > 0)
			limits_refill_one(r, p, &p->rpm_lease, "rpm", p->conf->rate_limit_rpm, live,
			    now);
		if (p->conf->rate_limit_tpm > 0)
			limits_refill_one(r, p, &p->tpm_lease, "tpm", p->conf->rate_limit_tpm, live,
			    now);
	}
}

void
rt_limits_return(struct router *r)
{
	int64_t now;

	if (r->store == NULL)
		return;
	now = store_now_ms(r->store);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		struct rate_lease *ls[2] = {&p->rpm_lease, &p->tpm_lease};
		const char *kinds[2] = {"rpm", "tpm"};
		double limits[2] = {p->conf->rate_limit_rpm, p->conf->rate_limit_tpm};

		for (int k = 0; k < 2; k++) {
			double g;
			char *cause = NULL;

			rate_lease_roll(ls[k], now);
			if (limits[k] > 0 && ls[k]->held >= 1 &&
			    limits_take(r->store, p->conf->name, kinds[k], ls[k]->minute, limits[k],
			        -ls[k]->held, &g, &cause) != 0)
				free(cause);
			ls[k]->held = 0;
		}
	}
}

int
rreq_tried(const struct rreq *q, int idx)
{
	for (size_t i = 0; i < q->n_tried; i++)
		if (q->tried[i] == idx)
			return 1;
	for (size_t i = 0; i < q->n_live; i++)
		if (q->live[i]->idx == idx)
			return 1;
	return 0;
}

static int
rreq_serves(const struct rreq *q, const struct provider *p)
{
	return q->raw_model || rt_provider_serves(p, q->req.model);
}

/*
 * Fields a client sent for its own API pass through only to a provider that
 * speaks it; any other would drop them silently, so it cannot take the
 * request. 0, or -1 with why naming the first such field.
 */
static int
passthrough_check(const struct rreq *q, const struct provider *p, struct llm_error *why)
{
	cJSON *extra, *first;

	if (q->req.passthrough == NULL || adapter_api(p->conf, &q->req) == q->req.passthrough_api)
		return 0;
	extra = cJSON_Parse(q->req.passthrough);
	first = extra != NULL ? extra->child : NULL;
	if (first == NULL || first->string == NULL) {
		cJSON_Delete(extra);
		return 0;
	}
	llm_error_clear(why);
	llm_error_set(why, LLM_ERR_BAD_REQUEST, 400,
	    "%s: only %s providers take this field, and %s is %s", first->string,
	    q->req.passthrough_api == LLM_API_ANTHROPIC ? "Anthropic" : "OpenAI-compatible",
	    p->conf->name, provider_kind_name(p->conf->kind));
	snprintf(why->param, sizeof why->param, "%s", first->string);
	cJSON_Delete(extra);
	return -1;
}

/*
 * Responses built-in tools (web search, file search, code interpreter, computer
 * use) run inside OpenAI: only a provider reached through its own Responses
 * endpoint can take them. 0, or -1 with why naming the first one.
 */
static int
hosted_tools_check(const struct rreq *q, const struct provider *p, struct llm_error *why)
{
	cJSON *tools, *first;
	const char *type;

	if (q->req.hosted_tools == NULL || adapter_api(p->conf, &q->req) == LLM_API_RESPONSES)
		return 0;
	tools = cJSON_Parse(q->req.hosted_tools);
	first = cJSON_IsArray(tools) ? tools->child : NULL;
	if (first == NULL) {
		cJSON_Delete(tools);
		return 0;
	}
	type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "type"));
	llm_error_clear(why);
	llm_error_set(why, LLM_ERR_BAD_REQUEST, 400,
	    "tools: the built-in tool %s runs only on an OpenAI provider (Responses API), and %s "
	    "is %s",
	    type != NULL ? type : "(unnamed)", p->conf->name, provider_kind_name(p->conf->kind));
	snprintf(why->param, sizeof why->param, "tools");
	cJSON_Delete(tools);
	return -1;
}

void
rreq_check_capabilities(struct rreq *q)
{
	struct router *r = q->r;

	if (q->capable != NULL || r->n_providers == 0)
		return;
	q->capable = xcalloc(r->n_providers, sizeof *q->capable);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		const char *alias = rt_alias_for(q, p);
		const struct adapter *ad = adapter_for_request(p->conf, &q->req);
		struct llm_error why;

		q->capable[i] = 1;
		if (q->op != NULL && !q->op->serves(p->conf)) {
			q->capable[i] = -3; /* not a candidate, and no skip to note */
			continue;
		}
		if (q->op != NULL) {
			if (q->op->check(q, p, &why) == 0)
				continue;
		} else if ((ad->check_request == NULL ||
		               ad->check_request(p->conf, config_model(r->cfg, alias),
		                   rt_model_id_for(r, alias), &q->req, &why) == 0) &&
		    passthrough_check(q, p, &why) == 0 && hosted_tools_check(q, p, &why) == 0)
			continue;
		if (q->refusals == NULL)
			q->refusals = xcalloc(r->n_providers, sizeof *q->refusals);
		q->refusals[i] = why;
		q->capable[i] = -1;
	}
}

int
rt_provider_capable(const struct rreq *q, int idx)
{
	return q->capable == NULL || q->capable[idx] > 0;
}

/* A provider left out for what it cannot honour: an attempt entry that says so, once. */
static void
note_skip(struct rreq *q, int idx)
{
	struct router_attempt *ra;
	const struct llm_error *why = &q->refusals[idx];
	char *msg;

	if (q->capable[idx] != -1)
		return;
	q->capable[idx] = -2;
	q->attempts = xreallocarray(q->attempts, q->n_attempts + 1, sizeof *q->attempts);
	ra = &q->attempts[q->n_attempts++];
	memset(ra, 0, sizeof *ra);
	strlcpy_(ra->provider, q->r->providers[idx].conf->name, sizeof ra->provider);
	strlcpy_(ra->model, rt_alias_for(q, &q->r->providers[idx]), sizeof ra->model);
	ra->cls = LLM_ERR_BAD_REQUEST;
	ra->skipped = 1;
	msg = xasprintf("skipped: cannot honour %s: %s",
	    why->param[0] != '\0' ? why->param : "the request", why->message);
	strlcpy_(ra->error, msg, sizeof ra->error);
	free(msg);
	q->n_skipped++;
}

/* Can q go to idx as far as its fields go? A no is noted among the attempts. */
static int
capable_noting(struct rreq *q, int idx)
{
	if (rt_provider_capable(q, idx))
		return 1;
	note_skip(q, idx);
	return 0;
}

/* Could q go to provider idx at all (its pin, its route, the model it serves)? */
static int
rreq_may_use(const struct rreq *q, int idx)
{
	const struct provider *p = &q->r->providers[idx];
	const char *name = p->conf->name;

	if (q->req.provider != NULL)
		return strcmp(q->req.provider, name) == 0;
	if (q->route != NULL) {
		if (strcmp(q->route->primary, name) == 0)
			return 1;
		for (size_t f = 0; f < q->route->n_fallback; f++)
			if (strcmp(q->route->fallback[f], name) == 0)
				return 1;
		return 0;
	}
	return rreq_serves(q, p);
}

/* Does a provider q may go to speak its operation at all? */
int
rreq_op_served(const struct rreq *q)
{
	struct router *r = q->r;

	for (size_t i = 0; i < r->n_providers; i++)
		if (q->op->serves(r->providers[i].conf) && rreq_may_use(q, (int)i))
			return 1;
	return 0;
}

int
rreq_refused(struct rreq *q)
{
	struct router *r = q->r;
	const struct llm_error *first = NULL;
	struct buf b;

	if (q->n_skipped == 0 || q->n_attempts > q->n_skipped)
		return 0;
	/* A provider that could honour it but cannot take it now: not the request's fault. */
	for (size_t i = 0; i < r->n_providers; i++)
		if (q->capable[i] > 0 && rreq_may_use(q, (int)i))
			return 0;
	buf_init(&b);
	for (size_t i = 0; i < r->n_providers; i++) {
		if (q->capable[i] != -2)
			continue;
		if (first == NULL)
			first = &q->refusals[i];
		buf_printf(&b, "%s%s: %s", b.len > 0 ? "; " : "", r->providers[i].conf->name,
		    q->refusals[i].message);
	}
	llm_error_clear(&q->last_err);
	llm_error_set(&q->last_err, LLM_ERR_BAD_REQUEST, 400,
	    "no provider for model %s can honour %s (%s)",
	    q->req.model != NULL ? q->req.model : "(any)",
	    first->param[0] != '\0' ? first->param : "the request", b.data);
	strlcpy_(q->last_err.param, first->param, sizeof q->last_err.param);
	strlcpy_(q->last_err.type, "invalid_request_error", sizeof q->last_err.type);
	buf_free(&b);
	return 1;
}

/* A candidate for q now: not tried, not busy with q, serving it, able to honour
 * it, usable. */
static int
candidate(struct rreq *q, int idx, uint64_t now)
{
	struct provider *p = &q->r->providers[idx];

	return idx >= 0 && !rreq_tried(q, idx) && rreq_serves(q, p) && capable_noting(q, idx) &&
	    rt_provider_usable(p, rt_estimate_tokens(q, p), now);
}

/* Provider idx, if q may go there now. */
static int
usable_for(struct rreq *q, int idx, uint64_t now)
{
	struct provider *p;

	if (idx < 0 || rreq_tried(q, idx) || !capable_noting(q, idx))
		return 0;
	p = &q->r->providers[idx];
	return rt_provider_usable(p, rt_estimate_tokens(q, p), now);
}

/* In q's pool now: a route's provider (when the route balances), else any that serves it. */
static int
pool_member(struct rreq *q, int idx, int route_pool, uint64_t now)
{
	if (route_pool)
		return rreq_may_use(q, idx) && usable_for(q, idx, now);
	return candidate(q, idx, now);
}

/* Weighted random among the pool's members of priority prio (total their
 * weight), leaving out skip (-1: none, and then its weight is in total). */
static int
pick_weighted(struct rreq *q, int route_pool, uint64_t now, int prio, double total, int skip)
{
	struct router *r = q->r;
	double pick = rng_double(&r->rng) * total;
	int best = -1;

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if ((int)i == skip || p->priority != prio ||
		    !pool_member(q, (int)i, route_pool, now))
			continue;
		best = (int)i;
		if (pick < p->weight)
			break;
		pick -= p->weight;
	}
	return best;
}

#define BALANCE_MARGIN 0.8

/* What latency balancing weighs: the peak EWMA of its answers (of q's kind)
 * times the attempts it has in flight, plus one (Finagle's and Linkerd's). */
static double
balance_cost(const struct rreq *q, const struct provider *p, uint64_t now)
{
	return learned_ewma_us(&p->learned[q->req.stream ? 1 : 0], now) *
	    (double)(p->in_flight + 1);
}

/*
 * Among the pool's usable providers, the lowest priority number, then by
 * q->balance: weighted random, or two picked by weight and the second taken
 * when clearly cheaper (balance_cost), so the faster and less loaded gets more while the
 * weights still shape the draw. Returns -1 if none.
 */
static int
pick_in_pool(struct rreq *q, int route_pool, uint64_t now)
{
	struct router *r = q->r;
	int best = -1, prio = 0, other;
	double total = 0;

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if (!pool_member(q, (int)i, route_pool, now))
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
	best = pick_weighted(q, route_pool, now, prio, total, -1);
	if (q->balance != BALANCE_LATENCY || q->op != NULL)
		return best;
	/* The second is taken only when clearly cheaper (by a fifth): between
	 * providers about as fast, a millisecond of noise would otherwise decide
	 * every draw, and the weights would no longer shape the share. */
	other = pick_weighted(q, route_pool, now, prio, total - r->providers[best].weight, best);
	if (other >= 0 &&
	    balance_cost(q, &r->providers[other], now) <
	        BALANCE_MARGIN * balance_cost(q, &r->providers[best], now))
		best = other;
	return best;
}

/*
 * The seed's selection among the providers not yet tried: the lowest
 * priority number among usable ones, then weighted random inside it, or with
 * "balance": "latency" the power of two choices (pick_in_pool). With a route,
 * the route's order instead, unless the route balances. A provider whose
 * adapter cannot honour a field of the request (check_request) is skipped,
 * and the skip is noted in the result's attempts with the field and why.
 * Returns -1 if none can take it now.
 */
int
rt_select_provider_locked(struct rreq *q, uint64_t now)
{
	struct router *r = q->r;

	if (q->req.provider != NULL) {
		int i = rt_provider_index(r, q->req.provider);
		return usable_for(q, i, now) ? i : -1;
	}
	if (q->route != NULL && q->balance != BALANCE_DEFAULT)
		return pick_in_pool(q, 1, now);
	if (q->route != NULL) {
		int i = rt_provider_index(r, q->route->primary);
		if (usable_for(q, i, now))
			return i;
		for (size_t f = 0; f < q->route->n_fallback; f++) {
			i = rt_provider_index(r, q->route->fallback[f]);
			if (usable_for(q, i, now))
				return i;
		}
		return -1;
	}
	return pick_in_pool(q, 0, now);
}

/*
 * Take what one attempt on p needs: a breaker slot, a request token and the
 * request's token estimate. All or nothing. Returns 1 if taken.
 */
int
rt_provider_take_locked(struct provider *p, struct attempt *a, uint64_t now)
{
	if (p->admin != ADMIN_ENABLED || now < p->blocked_until_ms ||
	    !breaker_acquire(&p->breaker, now))
		return 0;
	if (p->fleet != NULL) {
		int64_t wall = store_now_ms(p->fleet);
		double want = p->conf->rate_limit_tpm > 0 ? rt_estimate_tokens(a->q, p) : 0;

		if ((p->conf->rate_limit_rpm > 0 && !rate_lease_take(&p->rpm_lease, 1, wall, 0)) ||
		    (want > 0 && !rate_lease_take(&p->tpm_lease, want, wall, 0))) {
			breaker_release(&p->breaker);
			return 0;
		}
		if (p->conf->rate_limit_rpm > 0)
			rate_lease_take(&p->rpm_lease, 1, wall, 1);
		if (want > 0)
			rate_lease_take(&p->tpm_lease, want, wall, 1);
		a->tpm_reserved = want;
		p->requests++;
		p->in_flight++;
		return 1;
	}
	if (p->conf->rate_limit_rpm > 0 && !bucket_take(&p->rpm, 1, now)) {
		breaker_release(&p->breaker);
		return 0;
	}
	a->tpm_reserved = 0;
	if (p->conf->rate_limit_tpm > 0) {
		double want = rt_estimate_tokens(a->q, p);
		if (!bucket_take(&p->tpm, want, now)) {
			if (p->conf->rate_limit_rpm > 0)
				bucket_refund(&p->rpm, 1);
			breaker_release(&p->breaker);
			return 0;
		}
		a->tpm_reserved = want;
	}
	p->requests++;
	p->in_flight++;
	return 1;
}

void
rt_breaker_event(struct router *r, struct provider *p, enum breaker_state before, const char *why)
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

/*
 * Breaker and health bookkeeping for one finished attempt. LLM_ERR_CANCELLED
 * covers every outcome that is not the provider's doing (a lost hedge, a
 * caller that left, a timeout squeezed by the deadline): it gives the breaker
 * slot back and counts nothing against the provider.
 */
void
rt_provider_settle_locked(struct router *r, struct provider *p, enum llm_errclass cls,
    const struct llm_error *err, uint64_t latency_us, uint64_t now)
{
	enum breaker_state before = p->breaker.state;

	p->in_flight--;
	window_record(&p->window, now, cls, latency_us);
	if (cls == LLM_OK) {
		p->successes++;
		hist_record(&p->latency, latency_us);
		p->recent[p->recent_next] =
		    (uint32_t)(latency_us / 1000 > UINT32_MAX ? UINT32_MAX : latency_us / 1000);
		p->recent_next = (p->recent_next + 1) % RECENT_N;
		if (p->n_recent < RECENT_N)
			p->n_recent++;
		breaker_on_success(&p->breaker, now);
		rt_breaker_event(r, p, before, "a request succeeded");
		return;
	}
	if (cls == LLM_ERR_CANCELLED) {
		breaker_release(&p->breaker);
		return;
	}
	p->errors++;
	p->errors_by_class[cls]++;
	switch (cls) {
	case LLM_ERR_BAD_REQUEST:
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
		rt_breaker_event(r, p, before, "insufficient quota");
		break;
	default:
		breaker_on_failure(&p->breaker, now);
		rt_breaker_event(r, p, before, llm_errclass_name(cls));
		break;
	}
	if (err != NULL && err->retry_after_ms > 0 && cls == LLM_ERR_RATE_LIMIT) {
		uint64_t until = now + (uint64_t)err->retry_after_ms;
		if (until > p->blocked_until_ms)
			p->blocked_until_ms = until;
	}
}

/* The router's monotonic clock (a test's, when router_opts gives one). */
uint64_t
rt_now(struct router *r)
{
	if (r->opts.now_ms != NULL)
		return r->opts.now_ms(r->opts.now_arg);
	return clock_mono_ms();
}

/* What a usage costs on a model alias (pricing.h), *unpriced set if it has no price. */
double
rt_cost(const struct config *cfg, const char *alias, const struct llm_usage *u, int *unpriced)
{
	return pricing_cost(alias != NULL ? config_model(cfg, alias) : NULL, u, unpriced);
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
