/*
 * gateway_requests.c: the admin API's live request view and operator test
 * prompts (README "The admin API"), dispatched from gateway_admin.c once
 * the client may (admin_refused: the prompt changes spend, so it needs the
 * admin token over TCP, or the Unix socket):
 *
 *   GET  /admin/v1/requests[?limit=N]   the requests in flight, oldest first
 *                                       ("in_flight", "in_flight_total"), and the
 *                                       last finished ones, newest first
 *                                       ("recent"); N 1..256, default 50
 *   GET  /admin/v1/requests/ID          one of them with its attempts
 *   POST /admin/v1/prompt               {"prompt": S, "model": M, "provider": P,
 *                                       "max_tokens": N}: routed like any request,
 *                                       ledgered as an operator test, answered as
 *                                       text/event-stream
 *
 * The prompt's stream: "event: delta" frames whose data is {"text": "..."}, as
 * the answer comes, then one "event: done" frame: {"ok", "request_id",
 * "provider", "model", "route", "latency_ms", "cost_usd" (null when unpriced),
 * "cached", "usage": {"input_tokens", "output_tokens"}, "attempts": [{"provider",
 * "model", "status", "error_class", "error", "latency_ms", "hedge"}], and when
 * not ok "error": {"class", "message"}}. A client that leaves cancels it.
 *
 * The router's callbacks run on its engine thread; they append to the
 * request's buffer under gw->mu and wake the connection, like a chat stream.
 */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_priv.h"
#include "router/events.h"

#define PROMPT_MAX_TOKENS 100000

static double
ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void
add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static const char *
outcome(const struct router_request_info *in)
{
	if (!in->done)
		return "in_flight";
	switch (in->cls) {
	case LLM_OK: return "ok";
	case LLM_ERR_CANCELLED: return "cancelled";
	case LLM_ERR_BUDGET: return "refused";
	default: return "error";
	}
}

static cJSON *
info_json(const struct router_request_info *in)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)in->id);
	cJSON_AddStringToObject(o, "state", outcome(in));
	add_str_or_null(o, "key_id", in->key_id);
	add_str_or_null(o, "team", in->team);
	add_str_or_null(o, "model", in->model);
	add_str_or_null(o, "route", in->route);
	add_str_or_null(o, "provider", in->provider);
	cJSON_AddNumberToObject(o, "attempts", in->attempts);
	cJSON_AddBoolToObject(o, "hedging", in->hedging);
	cJSON_AddBoolToObject(o, "stream", in->stream);
	cJSON_AddBoolToObject(o, "operator_test", in->operator_test);
	cJSON_AddNumberToObject(o, "elapsed_ms", ms(in->elapsed_us));
	cJSON_AddNumberToObject(o, "deltas", (double)in->deltas);
	if (in->done) {
		if (in->cls != LLM_OK)
			cJSON_AddStringToObject(o, "error_class", llm_errclass_name(in->cls));
		cJSON_AddNumberToObject(o, "status", in->status);
		if (in->unpriced)
			cJSON_AddNullToObject(o, "cost_usd");
		else
			cJSON_AddNumberToObject(o, "cost_usd", in->cost_usd);
		cJSON_AddBoolToObject(o, "cached", in->cached);
		cJSON_AddNumberToObject(o, "finished_ms", (double)in->finished_ms);
		add_str_or_null(o, "error", in->error);
	}
	return o;
}

static cJSON *
attempt_json(const char *provider, const char *model, int status, enum llm_errclass cls,
    const char *error, uint64_t latency_us, int hedge)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "provider", provider);
	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddNumberToObject(o, "status", status);
	if (cls == LLM_OK)
		cJSON_AddNullToObject(o, "error_class");
	else
		cJSON_AddStringToObject(o, "error_class", llm_errclass_name(cls));
	add_str_or_null(o, "error", error);
	cJSON_AddNumberToObject(o, "latency_ms", ms(latency_us));
	cJSON_AddBoolToObject(o, "hedge", hedge);
	return o;
}

static enum MHD_Result
requests_list(struct gw_req *q)
{
	const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "limit");
	struct router_requests rq;
	struct gw_router *gr;
	long limit = 50;
	cJSON *o, *a;

	if (v != NULL && parse_long(v, 1, ROUTER_REQUESTS_RECENT, &limit) != 0)
		return gw_admin_error(q, 400, "invalid_request_error",
		    "limit: expected a whole number 1..%d", ROUTER_REQUESTS_RECENT);
	gr = gw_router_get(q->gw);
	router_requests(gr->router, (size_t)limit, &rq);
	gw_router_put(q->gw, gr);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time_ms", (double)clock_wall_ms());
	cJSON_AddNumberToObject(o, "in_flight_total", (double)rq.total_in_flight);
	a = cJSON_AddArrayToObject(o, "in_flight");
	for (size_t i = 0; i < rq.n_in_flight; i++)
		cJSON_AddItemToArray(a, info_json(&rq.in_flight[i]));
	a = cJSON_AddArrayToObject(o, "recent");
	for (size_t i = 0; i < rq.n_recent; i++)
		cJSON_AddItemToArray(a, info_json(&rq.recent[i]));
	router_requests_free(&rq);
	return gw_admin_json(q, 200, o);
}

static enum MHD_Result
requests_one(struct gw_req *q, const char *id_s)
{
	struct router_request_detail d;
	struct gw_router *gr;
	long id;
	int rc;
	cJSON *o, *a;

	if (parse_long(id_s, 1, LONG_MAX, &id) != 0)
		return gw_admin_error(q, 404, "not_found",
		    "requests/%.32s: expected a request id (a whole number >= 1)", id_s);
	gr = gw_router_get(q->gw);
	rc = router_request_detail(gr->router, (uint64_t)id, &d);
	gw_router_put(q->gw, gr);
	if (rc != 0)
		return gw_admin_error(q, 404, "not_found",
		    "no request %ld in flight or among the last %d finished", id,
		    ROUTER_REQUESTS_RECENT);
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "request", info_json(&d.info));
	a = cJSON_AddArrayToObject(o, "attempts");
	for (size_t i = 0; i < d.n_attempts; i++) {
		const struct router_request_attempt *at = &d.attempts[i];
		cJSON *x = attempt_json(at->provider, at->model, at->status, at->cls, at->error,
		    at->latency_us, at->hedge);

		cJSON_AddBoolToObject(x, "in_flight", at->in_flight);
		if (!at->in_flight)
			cJSON_AddNumberToObject(x, "cost_usd", at->cost_usd);
		if (at->in_flight)
			cJSON_ReplaceItemInObject(x, "error_class", cJSON_CreateNull());
		cJSON_AddItemToArray(a, x);
	}
	router_request_detail_free(&d);
	return gw_admin_json(q, 200, o);
}

/* ---- POST /admin/v1/prompt ---- */

/* Engine thread: a piece of the answer, as a delta frame. */
static void
prompt_delta(void *arg, const struct llm_delta *d)
{
	struct gw_req *q = arg;
	struct buf b;

	if (d->type != LLM_DELTA_TEXT || d->len == 0)
		return;
	buf_init(&b);
	buf_puts(&b, "event: delta\ndata: {\"text\":\"");
	gw_json_escape(&b, d->text, d->len);
	buf_puts(&b, "\"}\n\n");
	pthread_mutex_lock(&q->gw->mu);
	if (!q->closed) {
		buf_append(&q->out, b.data, b.len);
		gw_req_wake(q);
	}
	pthread_mutex_unlock(&q->gw->mu);
	buf_free(&b);
}

static char *
prompt_done_json(const struct router_result *res, uint64_t rid)
{
	cJSON *o = cJSON_CreateObject(), *u, *a;
	char *s;

	cJSON_AddBoolToObject(o, "ok", res->cls == LLM_OK);
	if (rid != 0)
		cJSON_AddNumberToObject(o, "request_id", (double)rid);
	else
		cJSON_AddNullToObject(o, "request_id");
	add_str_or_null(o, "provider", res->provider);
	add_str_or_null(o, "model", res->model);
	add_str_or_null(o, "route", res->route);
	cJSON_AddNumberToObject(o, "latency_ms", ms(res->latency_us));
	if (res->unpriced)
		cJSON_AddNullToObject(o, "cost_usd");
	else
		cJSON_AddNumberToObject(o, "cost_usd", res->cost_usd);
	cJSON_AddBoolToObject(o, "cached", res->cached);
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)res->resp.usage.input_tokens);
	cJSON_AddNumberToObject(u, "output_tokens", (double)res->resp.usage.output_tokens);
	a = cJSON_AddArrayToObject(o, "attempts");
	for (size_t i = 0; i < res->n_attempts; i++) {
		const struct router_attempt *at = &res->attempts[i];

		cJSON_AddItemToArray(a,
		    attempt_json(at->provider, at->model, at->status, at->cls, at->error,
		        at->latency_us, at->hedge));
	}
	if (res->cls != LLM_OK) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "class", llm_errclass_name(res->cls));
		cJSON_AddStringToObject(e, "message", res->err.message);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Engine thread: the end, as the done frame; the stream closes after it. */
static void
prompt_done(void *arg, struct router_result *res)
{
	struct gw_req *q = arg;
	struct gateway *gw = q->gw;
	uint64_t rid;
	char *json;

	pthread_mutex_lock(&gw->mu);
	rid = q->rid; /* 0 if the answer came before router_submit returned */
	pthread_mutex_unlock(&gw->mu);
	json = prompt_done_json(res, rid);
	router_result_free(res);
	free(res);
	pthread_mutex_lock(&gw->mu);
	q->finished = 1;
	if (!q->closed)
		buf_printf(&q->out, "event: done\ndata: %s\n\n", json);
	q->out_end = 1;
	gw_req_wake(q);
	pthread_mutex_unlock(&gw->mu);
	free(json);
	gw_req_unref(q);
}

/* The body into req; 0, or -1 with why. */
static int
prompt_parse(struct gw_req *q, const struct config *cfg, struct llm_request *req, char *why,
    size_t len)
{
	cJSON *root = cJSON_ParseWithLength(q->body.data, q->body.len);
	const cJSON *it;
	struct gw_bad bad;
	int rc = -1;

	if (!cJSON_IsObject(root)) {
		snprintf(why, len, "the body must be a JSON object: {\"prompt\": \"...\"}");
		goto out;
	}
	cJSON_ArrayForEach(it, root)
	{
		if (strcmp(it->string, "prompt") == 0) {
			if (!cJSON_IsString(it) ||
			    it->valuestring[strspn(it->valuestring, " \t\r\n")] == '\0') {
				snprintf(why, len, "prompt: expected a non-empty string");
				goto out;
			}
			llm_request_add_message(req, LLM_ROLE_USER, it->valuestring);
		} else if (strcmp(it->string, "model") == 0 ||
		    strcmp(it->string, "provider") == 0) {
			if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
				snprintf(why, len, "%s: expected a non-empty string", it->string);
				goto out;
			}
		} else if (strcmp(it->string, "max_tokens") == 0) {
			if (!cJSON_IsNumber(it) ||
			    it->valuedouble != (double)(int)it->valuedouble || it->valueint < 1 ||
			    it->valueint > PROMPT_MAX_TOKENS) {
				snprintf(why, len, "max_tokens: expected a whole number 1..%d",
				    PROMPT_MAX_TOKENS);
				goto out;
			}
			req->max_tokens = it->valueint;
		} else {
			snprintf(why, len,
			    "%.64s: unknown field (prompt, model, provider, max_tokens)",
			    it->string);
			goto out;
		}
	}
	if (req->n_messages == 0) {
		snprintf(why, len, "prompt: missing (the text to send)");
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "provider");
	if (it != NULL) {
		size_t i;

		for (i = 0; i < cfg->n_providers; i++)
			if (strcmp(cfg->providers[i].name, it->valuestring) == 0)
				break;
		if (i == cfg->n_providers) {
			snprintf(why, len,
			    "provider: no provider \"%.64s\" in this gateway's config",
			    it->valuestring);
			goto out;
		}
		req->provider = xstrdup(it->valuestring);
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "model");
	memset(&bad, 0, sizeof bad);
	if (it != NULL && gw_resolve_model(cfg, it->valuestring, req, &bad) != 0) {
		snprintf(why, len, "model: %.200s", bad.message);
		goto out;
	}
	strlcpy_(q->ask.model, it != NULL ? it->valuestring : "", sizeof q->ask.model);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

static enum MHD_Result
admin_prompt(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	struct llm_request req;
	struct gw_router *gr;
	char why[256];
	uint64_t rid;

	llm_request_init(&req);
	gr = gw_router_get(gw);
	if (prompt_parse(q, router_config(gr->router), &req, why, sizeof why) != 0) {
		gw_router_put(gw, gr);
		llm_request_free(&req);
		return gw_admin_error(q, 400, "invalid_request_error", "%s", why);
	}
	req.stream = 1;
	req.operator_test = 1;
	event_add(router_events(gr->router), EV_OPERATOR, req.provider,
	    "admin %s: test prompt%s%s%s%s", gw->instance,
	    req.provider != NULL ? " pinned to " : "", req.provider != NULL ? req.provider : "",
	    q->ask.model[0] != '\0' ? ", model " : "", q->ask.model);
	pthread_mutex_lock(&gw->mu);
	q->gr = gr; /* referenced until q is freed: a client that leaves cancels through it */
	q->refs++;  /* the router's done callback's */
	pthread_mutex_unlock(&gw->mu);
	rid = router_submit(gr->router, &req, prompt_delta, prompt_done, q);
	llm_request_free(&req);
	pthread_mutex_lock(&gw->mu);
	q->rid = rid;
	pthread_mutex_unlock(&gw->mu);
	return gw_reply_stream(q);
}

enum MHD_Result
gw_admin_requests(struct gw_req *q, const char *rest)
{
	int get = strcmp(q->method, "GET") == 0;

	if (strcmp(rest, "prompt") == 0) {
		if (strcmp(q->method, "POST") != 0)
			return gw_admin_error(q, 405, "invalid_request_error",
			    "%s %s: use POST with {\"prompt\": \"...\"}", q->method, q->path);
		return admin_prompt(q);
	}
	if (!get)
		return gw_admin_error(q, 405, "invalid_request_error", "%s %s: use GET", q->method,
		    q->path);
	if (strcmp(rest, "requests") == 0)
		return requests_list(q);
	return requests_one(q, rest + strlen("requests/"));
}
