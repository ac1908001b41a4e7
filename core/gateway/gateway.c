/*
 * gateway.c: the HTTP gateway's server side: libmicrohttpd with suspended
 * connections, the request life cycle, auth and limits (/health, /ready,
 * /v1/models, the access log, reloads, draining and shutdown are in
 * gateway_ops.c).
 *
 * A request's life: the handler's first call only allocates (answering on
 * the first call makes libmicrohttpd close the connection); the body
 * arrives; the last call parses, calls router_submit() and suspends. The
 * router's callbacks run on its engine thread: they store the result or
 * append SSE bytes and resume the connection. Streams are a callback
 * response whose reader hands out pending bytes or suspends again.
 *
 * One mutex (gw->mu) guards every request's shared fields; suspend and resume
 * both happen under it, so a resume can never come before its suspend.
 * A request is referenced by MHD (until completed), the router (until done)
 * and a stream response (until destroyed); the gateway by itself and each
 * live request, so a stopped gateway's late router callbacks stay safe.
 *
 * The router is referenced too (struct gw_router): a reload swaps in a new
 * one, and the old one is handed back to its owner only when the last
 * request that went to it, and the last handler reading it, is done.
 * Draining (SIGTERM) refuses new LLM requests and counts down the live ones.
 * The same handler serves the TCP daemon and the Unix socket's
 * (gateway_local.c); /admin/v1/ goes to gateway_admin.c.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "router/events.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "store/responses.h"
#include "store/store.h"

/*
 * libmicrohttpd's per-connection memory: the request line and headers, a read
 * buffer for the body (which is copied out chunk by chunk, so any body up to
 * max_body fits) and the response's headers. SDKs send well under 1 KiB of
 * headers, but a proxy's bearer token (a JWT, an OIDC token) can be 8 KiB:
 * 16 KiB takes an 8 KiB token with 6 KiB of other headers. libmicrohttpd
 * allocates it at accept; the pages only count once written (README
 * "Benchmarks": resident memory per idle connection).
 */
#define GW_CONN_MEMORY 16384
/* Room the response's headers need (x-llmdeck-attempts can list 16 attempts). */
#define GW_RESPONSE_ROOM 1024
/* What libmicrohttpd spends per request header besides the bytes (its list entry). */
#define GW_HEADER_COST 64

void
gateway_opts_init(struct gateway_opts *o)
{
	memset(o, 0, sizeof *o);
	o->listen = GATEWAY_DEFAULT_LISTEN;
	o->token_env = GATEWAY_DEFAULT_TOKEN_ENV;
	o->max_body = GATEWAY_DEFAULT_MAX_BODY;
	o->admin_token_env = GATEWAY_ADMIN_TOKEN_ENV;
}

const int gw_codes[GW_CODES] = {
    200, 400, 401, 403, 404, 405, 413, 415, 429, 431, 500, 502, 503, 504, 0};

int
gw_code_index(int status)
{
	for (int i = 0; i < GW_CODES - 1; i++)
		if (gw_codes[i] == status)
			return i;
	return GW_CODES - 1;
}

const char *
gw_endpoint_name(enum gw_endpoint ep)
{
	static const char *names[] = {"chat_completions", "messages", "responses", "response",
	    "models", "health", "ready", "metrics", "admin", "embeddings", "count_tokens", "other"};

	return (unsigned)ep < nitems(names) ? names[ep] : "other";
}

void
gw_unref(struct gateway *gw)
{
	if (atomic_fetch_sub(&gw->refs, 1) != 1)
		return;
	free(gw->cur);
	while (gw->retired != NULL) {
		struct gw_router *gr = gw->retired;
		gw->retired = gr->next;
		free(gr);
	}
	pthread_mutex_destroy(&gw->mu);
	pthread_mutex_destroy(&gw->log_mu);
	pthread_cond_destroy(&gw->idle);
	pthread_cond_destroy(&gw->tick);
	if (gw->log_owned && gw->access_log != NULL)
		fclose(gw->access_log);
	free(gw->log_path);
	free(gw->token);
	free(gw->admin_token);
	free(gw->config_path);
	free(gw->socket_path);
	free(gw->info_path);
	resp_store_free(gw->responses);
	gw_keys_free(gw);
	free(gw);
}

struct gw_router *
gw_router_get(struct gateway *gw)
{
	struct gw_router *gr;

	pthread_mutex_lock(&gw->mu);
	gr = gw->cur;
	gr->refs++;
	pthread_mutex_unlock(&gw->mu);
	return gr;
}

void
gw_router_put(struct gateway *gw, struct gw_router *gr)
{
	if (gr == NULL)
		return;
	pthread_mutex_lock(&gw->mu);
	gr->refs--;
	pthread_mutex_unlock(&gw->mu);
}

int
gw_token_equal(const char *want, const char *given)
{
	size_t n = strlen(want), m = strlen(given);
	volatile unsigned char diff = (unsigned char)(n != m);

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(want[i] ^ (i < m ? given[i] : 0));
	return diff == 0;
}

/* ---- the router's callbacks (engine thread) ---- */

static void
on_delta(void *arg, const struct llm_delta *d)
{
	struct gw_req *q = arg;

	pthread_mutex_lock(&q->gw->mu);
	if (!q->closed) {
		gw_stream_typed(&q->st, &q->out, d);
		gw_req_wake(q);
	}
	pthread_mutex_unlock(&q->gw->mu);
}

/* The SSE comment that ends a stream: who answered, since headers could not say. */
static void
stream_trailer(struct buf *out, const struct router_result *res)
{
	buf_printf(out, ": llmdeck provider=%s model=%s attempts=%zu cost_usd=", res->provider,
	    res->model, res->n_attempts);
	if (res->unpriced)
		buf_puts(out, "unpriced");
	else
		buf_printf(out, "%.6f", res->cost_usd);
	buf_printf(out, " cache=%s\n\n", res->cached ? "hit" : "miss");
}

/* The request is over: answer it (the whole answer, or the stream's end). */
static void
finish(struct gw_req *q, struct router_result *res)
{
	struct gateway *gw = q->gw;

	pthread_mutex_lock(&gw->mu);
	gw->in_flight--;
	if (res->cls != LLM_OK)
		gw->errors[q->api][res->cls]++;
	q->res = res;
	q->finished = 1;
	if (q->stream && !q->closed) {
		if (res->cls == LLM_OK) {
			/* A whole answer no delta came for goes out as deltas here. */
			gw_stream_close(&q->st, &q->out, res);
			stream_trailer(&q->out, res);
		} else if (q->st.opened) {
			/* After the first token: an error event, never a clean end. */
			gw_stream_error(&q->st, &q->out, gw_result_status(res), res->cls,
			    res->err.message);
			gw->stream_errors[q->api]++;
		}
		q->out_end = 1;
	}
	gw_req_wake(q);
	pthread_mutex_unlock(&gw->mu);
	gw_req_unref(q);
}

/* The stored response is committed (store writer's thread), or could not be. */
static void
on_stored(void *arg, int rc)
{
	struct gw_req *q = arg;

	/* Not kept (the store failed): the answer still goes out; asking for it later
	 * gets a 404, as for an expired one. */
	(void)rc;
	finish(q, q->pending);
}

/*
 * The router is done (engine thread). An answer to keep (store: true) goes
 * to the store first, and the client hears of it only once it is committed,
 * so a previous_response_id sent the moment the answer arrives finds it.
 */
static void
on_done(void *arg, struct router_result *res)
{
	struct gw_req *q = arg;
	cJSON *body;
	char *entry;

	if (res->cls != LLM_OK || q->stored_body == NULL) {
		finish(q, res);
		return;
	}
	q->answer_json = gw_api_ops(q->api)->answer(res, &q->st);
	body = cJSON_Parse(q->stored_body);
	entry = gw_stored_entry(body, q->answer_json, q->id, q->key_id);
	cJSON_Delete(body);
	q->pending = res;
	gw_stored_put_items(q->gw->responses, q->answer_json, q->key_id);
	resp_store_put(q->gw->responses, q->id, entry, on_stored, q);
	free(entry);
}

/* The router has something for this request: answer it. */
static enum MHD_Result
respond(struct gw_req *q)
{
	struct router_result *res;
	struct gw_answer *ans;
	char *body;
	int opened;

	pthread_mutex_lock(&q->gw->mu);
	ans = q->finished ? q->ans : NULL;
	pthread_mutex_unlock(&q->gw->mu);
	if (ans != NULL)
		return gw_reply_answer(q, ans);
	pthread_mutex_lock(&q->gw->mu);
	res = q->finished ? q->res : NULL;
	opened = q->st.opened;
	pthread_mutex_unlock(&q->gw->mu);
	if (q->stream && (opened || (res != NULL && res->cls == LLM_OK)))
		return gw_reply_stream(q);
	if (res == NULL)
		return MHD_NO;
	if (res->cls != LLM_OK)
		return gw_reply_error(q, gw_result_status(res), res->cls, res->err.message,
		    res->err.param, res);
	if (q->answer_json != NULL) {
		body = q->answer_json; /* made for the store: the same bytes */
		q->answer_json = NULL;
	} else {
		body = gw_api_ops(q->api)->answer(res, &q->st);
	}
	return gw_reply_result(q, 200, "application/json", body, res, -1, 0);
}

/* Is there anything to answer with yet? With gw->mu held. */
static int
req_ready(const struct gw_req *q)
{
	return q->finished || (q->stream && q->out.len > 0);
}

/* The fields the parser accepted but a translation would leave out, counted
 * per label (llmdeck_dropped_fields_total); past GW_DROPPED_NAMES labels,
 * as "other". */
static void
count_dropped(struct gateway *gw, const struct gw_ask *ask)
{
	pthread_mutex_lock(&gw->mu);
	for (int i = 0; i < ask->n_dropped; i++) {
		size_t k;

		for (k = 0; k < gw->n_dropped; k++)
			if (strcmp(gw->dropped[k].field, ask->dropped[i]) == 0)
				break;
		if (k == gw->n_dropped && k == GW_DROPPED_NAMES) {
			k = GW_DROPPED_NAMES - 1; /* the last slot is "other" */
		} else if (k == gw->n_dropped) {
			strlcpy_(gw->dropped[k].field,
			    k + 1 == GW_DROPPED_NAMES ? "other" : ask->dropped[i],
			    GW_DROPPED_FIELD);
			gw->n_dropped++;
		}
		gw->dropped[k].n++;
	}
	pthread_mutex_unlock(&gw->mu);
}

/*
 * A request of an API whose answers are kept: previous_response_id expanded
 * into the body (the parser then sees the whole conversation), and, unless it
 * says "store": false, the body kept for the stored entry. A body that is not
 * JSON is left for the parser to refuse. 0, or -1 / -2 with bad (400 / 503).
 */
static int
stored_prepare(struct gw_req *q, struct gw_bad *bad)
{
	cJSON *body;
	char *text;
	int rc;

	/* A body the parser will refuse (bad UTF-8, \u0000) is not rewritten first. */
	if (q->body.len == 0 || gw_body_check(q->body.data, q->body.len, bad) != 0 ||
	    (body = cJSON_ParseWithLength(q->body.data, q->body.len)) == NULL) {
		memset(bad, 0, sizeof *bad);
		return 0;
	}
	if (!cJSON_IsObject(body)) {
		cJSON_Delete(body);
		return 0;
	}
	if ((rc = gw_stored_expand(q->gw->responses, body, q->key_id, bad)) < 0) {
		cJSON_Delete(body);
		return rc;
	}
	if (rc == 1 || gw_stored_wanted(body)) {
		if ((text = cJSON_PrintUnformatted(body)) == NULL)
			fatal("out of memory printing a request");
		if (rc == 1) {
			buf_reset(&q->body);
			buf_puts(&q->body, text);
		}
		if (gw_stored_wanted(body))
			q->stored_body = xstrdup(text);
		cJSON_free(text);
	}
	cJSON_Delete(body);
	return 0;
}

/* A request refused while draining counts in the router's window: clients got a 503. */
static void
count_refused(struct gateway *gw)
{
	struct gw_router *gr = gw_router_get(gw);

	router_count_refused(gr->router, LLM_ERR_NO_PROVIDER);
	gw_router_put(gw, gr);
}

static enum MHD_Result
serve_llm(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	struct llm_request req;
	struct gw_bad bad;
	uint64_t rid;
	int rc;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	if (gw_api_ops(q->api)->stored && (rc = stored_prepare(q, &bad)) != 0) {
		buf_free(&q->body);
		return gw_reply_error(q, rc == -2 ? 503 : 400,
		    rc == -2 ? LLM_ERR_INTERNAL : LLM_ERR_BAD_REQUEST, bad.message, bad.param,
		    NULL);
	}
	rc = gw_api_ops(q->api)->parse(q->body.data, q->body.len, &req, &q->ask, &bad);
	if (!q->admitted) {
		buf_free(&q->body);
		llm_request_free(&req);
		count_refused(gw);
		return gw_reply_error(q, 503, LLM_ERR_NO_PROVIDER,
		    "the gateway is draining (shutting down): send the request to another instance",
		    NULL, NULL);
	}
	q->gr = gw_router_get(gw);
	if (rc == 0 && q->ask.n_dropped > 0)
		count_dropped(gw, &q->ask);
	if (rc == 0)
		rc = gw_keys_request(q, &req, &bad);
	if (rc == 0)
		rc = gw_resolve_model(router_config(q->gr->router), q->ask.model, &req, &bad);
	buf_free(&q->body);
	if (rc != 0) {
		llm_request_free(&req);
		return gw_reply_error(q, 400, LLM_ERR_BAD_REQUEST, bad.message, bad.param, NULL);
	}
	q->stream = req.stream;
	q->st.api = q->api;
	q->st.created = (int64_t)time(NULL);
	q->st.include_usage = q->ask.include_usage;
	q->st.input_estimate = q->ask.input_estimate;
	q->st.model = q->ask.model;
	q->st.ask = &q->ask;
	pthread_mutex_lock(&gw->mu);
	snprintf(q->id, sizeof q->id, "%s%llx%08llx", gw_api_ops(q->api)->id_prefix,
	    (unsigned long long)q->st.created, (unsigned long long)++gw->seq);
	q->st.id = q->id;
	q->refs++;
	gw->in_flight++;
	q->phase = PH_WAIT;
	pthread_mutex_unlock(&gw->mu);

	rid = router_submit(q->gr->router, &req, q->stream ? on_delta : NULL, on_done, q);
	llm_request_free(&req);

	pthread_mutex_lock(&gw->mu);
	q->rid = rid;
	if (req_ready(q)) {
		pthread_mutex_unlock(&gw->mu);
		return respond(q);
	}
	rc = gw_req_sleep(q);
	pthread_mutex_unlock(&gw->mu);
	return rc == 0 ? MHD_YES : MHD_NO;
}

/* gateway_embed.c's answer (at once, or on the router's engine thread). */
static void
on_answer(void *arg, struct gw_answer *a)
{
	struct gw_req *q = arg;
	struct gateway *gw = q->gw;

	pthread_mutex_lock(&gw->mu);
	gw->in_flight--;
	q->ans = a;
	q->finished = 1;
	gw_req_wake(q);
	pthread_mutex_unlock(&gw->mu);
	gw_req_unref(q);
}

/* POST /v1/embeddings, POST /v1/messages/count_tokens: gateway_embed.c hands
 * them to the router. */
static enum MHD_Result
serve_answer(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	uint64_t rid;
	int rc;

	if (!q->admitted) {
		buf_free(&q->body);
		count_refused(gw);
		return gw_reply_error(q, 503, LLM_ERR_NO_PROVIDER,
		    "the gateway is draining (shutting down): send the request to another instance",
		    NULL, NULL);
	}
	q->gr = gw_router_get(gw);
	pthread_mutex_lock(&gw->mu);
	q->refs++;
	gw->in_flight++;
	q->phase = PH_WAIT;
	pthread_mutex_unlock(&gw->mu);
	if (q->ep == GW_EP_EMBEDDINGS)
		rid = gw_embeddings(q->gr->router, q->body.data, q->body.len, q->key_id, q->team,
		    on_answer, q);
	else
		rid = gw_count_tokens(q->gr->router, q->body.data, q->body.len, q->key_id, q->team,
		    on_answer, q);
	buf_free(&q->body);
	pthread_mutex_lock(&gw->mu);
	q->rid = rid; /* a client that leaves cancels it, as for chat */
	if (q->finished) {
		pthread_mutex_unlock(&gw->mu);
		return respond(q);
	}
	rc = gw_req_sleep(q);
	pthread_mutex_unlock(&gw->mu);
	return rc == 0 ? MHD_YES : MHD_NO;
}

static const char *
query_arg(void *arg, const char *key)
{
	return MHD_lookup_connection_value(arg, MHD_GET_ARGUMENT_KIND, key);
}

/* GET / DELETE /v1/responses/{id}[/input_items]: the stored responses. */
static enum MHD_Result
serve_stored(struct gw_req *q)
{
	const char *rest = q->path + (strncmp(q->path, "/v1/", 4) == 0 ? 14 : 11), *slash;
	char id[RESP_STORE_ID_MAX], *body = NULL;
	size_t n;
	int status;

	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n >= sizeof id || (slash != NULL && strcmp(slash, "/input_items") != 0) ||
	    (slash != NULL && strcmp(q->method, "DELETE") == 0))
		return gw_reply_error(q, 404, LLM_OK,
		    "no such endpoint (GET /v1/responses/{id}, GET /v1/responses/{id}/input_items, "
		    "DELETE /v1/responses/{id})",
		    NULL, NULL);
	memcpy(id, rest, n);
	id[n] = '\0';
	status = gw_stored_serve(q->gw->responses, q->method, id,
	    slash != NULL ? "input_items" : "", q->key_id, query_arg, q->conn, &body);
	return gw_reply_result(q, status, "application/json", body, NULL, -1, 0);
}

int
gw_json_content_type(const char *ctype)
{
	size_t n = strlen("application/json");

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, "application/json", n) != 0)
		return 0;
	ctype += n;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

/*
 * A body for a JSON endpoint must say it is JSON. A browser sends text/plain,
 * a form or multipart across sites without asking first (a "simple" request);
 * application/json it must ask about (a preflight, which the gateway never
 * grants), so no web page can post to it.
 */
int
gw_body_not_json(struct gw_req *q)
{
	if (q->body.len == 0 && !q->too_large)
		return 0;
	return !gw_json_content_type(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
	    "Content-Type"));
}

/* The body is complete: answer or hand to the router. */
static enum MHD_Result
dispatch(struct gw_req *q)
{
	enum MHD_Result ret;

	if (q->ep == GW_EP_ADMIN)
		return gw_admin(q);
	if (q->ep == GW_EP_OTHER)
		return gw_serve_unknown(q);
	if (q->bad_method)
		return gw_reply_error(q, 405, LLM_OK, "method not allowed on this endpoint", NULL,
		    NULL);
	if (q->ep == GW_EP_HEALTH)
		return gw_serve_health(q);
	if (q->ep == GW_EP_READY)
		return gw_serve_ready(q);
	if (!gw_keys_admit(q, &ret))
		return ret;
	if (q->too_large)
		return gw_reply_error(q, 413, LLM_OK, "request body too large", NULL, NULL);
	if (q->ep != GW_EP_MODELS && q->ep != GW_EP_RESPONSE && q->ep != GW_EP_METRICS &&
	    gw_body_not_json(q))
		return gw_reply_error(q, 415, LLM_OK,
		    "the request body must be JSON: send Content-Type: application/json", NULL,
		    NULL);
	switch (q->ep) {
	case GW_EP_MODELS: return gw_serve_models(q);
	case GW_EP_RESPONSE: return serve_stored(q);
	case GW_EP_EMBEDDINGS:
	case GW_EP_COUNT_TOKENS: return serve_answer(q);
	case GW_EP_METRICS:
		return gw_reply_result(q, 200, "text/plain; version=0.0.4; charset=utf-8",
		    gateway_metrics_text(q->gw), NULL, -1, 0);
	default: return serve_llm(q);
	}
}

static enum MHD_Result
sum_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *sum = cls;

	(void)kind;
	*sum += strlen(key) + (value != NULL ? strlen(value) : 0) + GW_HEADER_COST;
	return MHD_YES;
}

/*
 * Request headers so large that the response's would not fit beside them in
 * the connection's memory: libmicrohttpd would then close the connection
 * without a word, so they get a 431 first.
 */
static int
headers_too_large(struct MHD_Connection *conn, const char *url, const char *method)
{
	size_t sum = strlen(url) + strlen(method) + 16;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_header, &sum);
	return sum > GW_CONN_MEMORY - GW_RESPONSE_ROOM;
}

static void
classify(struct gw_req *q, const char *url, const char *method)
{
	int post = strcmp(method, "POST") == 0,
	    get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (strcmp(url, "/v1/chat/completions") == 0 || strcmp(url, "/chat/completions") == 0) {
		q->ep = GW_EP_CHAT;
		q->bad_method = !post;
	} else if (strcmp(url, "/v1/responses") == 0 || strcmp(url, "/responses") == 0) {
		q->ep = GW_EP_RESPONSES;
		q->api = GW_RESPONSES;
		q->bad_method = !post;
	} else if (strncmp(url, "/v1/responses/", 14) == 0 ||
	    strncmp(url, "/responses/", 11) == 0) {
		q->ep = GW_EP_RESPONSE;
		q->api = GW_RESPONSES;
		q->bad_method = !get && strcmp(method, "DELETE") != 0;
	} else if (strcmp(url, "/v1/messages") == 0) {
		q->ep = GW_EP_MESSAGES;
		q->api = GW_ANTHROPIC;
		q->bad_method = !post;
	} else if (strcmp(url, "/v1/messages/count_tokens") == 0) {
		q->ep = GW_EP_COUNT_TOKENS;
		q->api = GW_ANTHROPIC;
		q->bad_method = !post;
	} else if (strncmp(url, "/v1/messages/", 13) == 0) {
		q->ep = GW_EP_OTHER; /* a 404 in Anthropic's shape */
		q->api = GW_ANTHROPIC;
	} else if (strcmp(url, "/v1/embeddings") == 0 || strcmp(url, "/embeddings") == 0) {
		q->ep = GW_EP_EMBEDDINGS;
		q->bad_method = !post;
	} else if (strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0) {
		q->ep = GW_EP_MODELS;
		q->bad_method = !get;
	} else if (strcmp(url, "/health") == 0) {
		q->ep = GW_EP_HEALTH;
		q->bad_method = !get;
	} else if (strcmp(url, "/ready") == 0) {
		q->ep = GW_EP_READY;
		q->bad_method = !get;
	} else if (strcmp(url, "/metrics") == 0) {
		q->ep = GW_EP_METRICS;
		q->bad_method = !get;
	} else if (strncmp(url, "/admin/v1/", 10) == 0) {
		q->ep = GW_EP_ADMIN; /* it checks its own methods */
	} else {
		q->ep = GW_EP_OTHER;
	}
}

/* An endpoint that sends requests to providers (a drain waits for it). */
static int
upstream_endpoint(enum gw_endpoint ep)
{
	return ep == GW_EP_CHAT || ep == GW_EP_MESSAGES || ep == GW_EP_RESPONSES ||
	    ep == GW_EP_EMBEDDINGS || ep == GW_EP_COUNT_TOKENS;
}

/* An endpoint the router answers (latency histogram, access log). */
static int
llm_endpoint(enum gw_endpoint ep)
{
	return ep == GW_EP_CHAT || ep == GW_EP_MESSAGES || ep == GW_EP_RESPONSES;
}

/* Did the connection come in on the Unix socket? */
static int
conn_is_local(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_UNIX;
}

static enum MHD_Result
gw_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct gateway *gw = cls;
	struct gw_req *q = *con_cls;
	const char *cl;

	(void)version;
	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		q->gw = gw;
		q->conn = conn;
		q->refs = 1;
		q->start_us = clock_mono_us();
		buf_init(&q->body);
		buf_init(&q->out);
		classify(q, url, method);
		strlcpy_(q->method, method, sizeof q->method);
		q->path = xstrdup(url);
		q->local = conn_is_local(conn);
		atomic_fetch_add(&gw->refs, 1);
		pthread_mutex_lock(&gw->mu);
		q->admitted = !gw->draining;
		if (upstream_endpoint(q->ep))
			gw->llm_live++;
		q->next = gw->live;
		if (gw->live != NULL)
			gw->live->prev = q;
		gw->live = q;
		pthread_mutex_unlock(&gw->mu);
		*con_cls = q;
		if (headers_too_large(conn, url, method))
			return gw_reply_error(q, 431, LLM_OK,
			    "request headers too large (the gateway "
			    "takes about 14 KiB of headers)",
			    NULL, NULL);
		/* A declared body over the limit is refused before it is sent. */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL && strtoull(cl, NULL, 10) > gw->max_body) {
			q->too_large = 1;
			return gw_reply_error(q, 413, LLM_OK, "request body too large", NULL, NULL);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (q->phase == PH_READ && !q->too_large) {
			if (q->body.len + *upload_data_size > gw->max_body) {
				q->too_large = 1;
				buf_free(&q->body);
				buf_init(&q->body);
			} else {
				buf_append(&q->body, upload_data, *upload_data_size);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (q->phase) {
	case PH_READ: return dispatch(q);
	case PH_WAIT:
		pthread_mutex_lock(&gw->mu);
		if (!req_ready(q)) {
			/* Woken with nothing to say (the gateway stopping): sleep or close. */
			int rc = gw_req_sleep(q);
			pthread_mutex_unlock(&gw->mu);
			return rc == 0 ? MHD_YES : MHD_NO;
		}
		pthread_mutex_unlock(&gw->mu);
		return respond(q);
	default: return MHD_YES;
	}
}

static void
gw_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gateway *gw = cls;
	struct gw_req *q = *con_cls;
	uint64_t cancel = 0;

	(void)conn;
	(void)toe;
	if (q == NULL)
		return;
	*con_cls = NULL;
	pthread_mutex_lock(&gw->mu);
	/* The client left before the router was done (mid-stream, typically): stop
	 * the upstream transfer now rather than generate and pay for the rest. */
	if (!q->finished && q->rid != 0)
		cancel = q->rid;
	q->closed = 1;
	q->suspended = 0;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		gw->live = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	if (q->events) {
		if (q->ev_prev != NULL)
			q->ev_prev->ev_next = q->ev_next;
		else
			gw->streams = q->ev_next;
		if (q->ev_next != NULL)
			q->ev_next->ev_prev = q->ev_prev;
	}
	if (llm_endpoint(q->ep) && q->phase == PH_SENT)
		hist_record(&gw->latency[q->api], clock_mono_us() - q->start_us);
	if (upstream_endpoint(q->ep)) {
		gw->llm_live--;
		pthread_cond_broadcast(&gw->idle);
	}
	pthread_mutex_unlock(&gw->mu);
	/* q->gr is referenced until q is freed: the router is still there. */
	if (cancel != 0)
		router_cancel(q->gr->router, cancel);
	if (gw->access_log != NULL && llm_endpoint(q->ep))
		gw_access_log_line(q);
	if (llm_endpoint(q->ep))
		gw_keys_count(q);
	gw_req_unref(q);
}

/* Split "HOST:PORT" or "[V6]:PORT" and resolve it (numeric or a name). */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen, char *host,
    size_t hostlen, int *loopback, char **cause)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int rc, p;

	if (hostport_parse(listen, host, hostlen, &p) != 0 || host[0] == '\0') {
		*cause = xasprintf("gateway: listen address \"%s\": expected HOST:PORT", listen);
		return -1;
	}
	snprintf(port, sizeof port, "%d", p);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0 || ai == NULL) {
		*cause = xasprintf("gateway: listen address \"%s\": %s", listen, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
		*loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
		*loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	}
	freeaddrinfo(ai);
	return 0;
}

unsigned
gateway_max_connections(unsigned long *fd_limit)
{
	struct rlimit rl;
	unsigned long n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1UL << 24)
		    ? (1UL << 24)
		    : (unsigned long)rl.rlim_cur;
	if (fd_limit != NULL)
		*fd_limit = n;
	if (n < GATEWAY_FD_RESERVE + GATEWAY_LOCAL_CONNECTIONS + 2 * 16)
		return 16;
	return (unsigned)((n - GATEWAY_FD_RESERVE - GATEWAY_LOCAL_CONNECTIONS) / 2);
}

struct MHD_Daemon *
gw_daemon_start(struct gateway *gw, int listen_fd, int ipv6, unsigned threads, int local)
{
	unsigned int flags, limit, per_ip;

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	/* The Unix socket's daemon has its own small limit and no per-address one
	 * (every client is this user). */
	limit = local ? GATEWAY_LOCAL_CONNECTIONS : gw->max_connections;
	per_ip = local || gw->per_ip_limit < 0 ? 0 : (unsigned)gw->per_ip_limit;
	return MHD_start_daemon(flags, 0, NULL, NULL, gw_handler, gw, MHD_OPTION_LISTEN_SOCKET,
	    listen_fd, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
	    gw->idle_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_CONN_MEMORY,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096, MHD_OPTION_NOTIFY_COMPLETED,
	    gw_completed, gw, MHD_OPTION_END);
}

/* The listening TCP socket, bound (the daemon owns it once started). -1 with *cause. */
static int
tcp_listen(const struct sockaddr_storage *ss, socklen_t sslen, const char *where, int *port,
    char **cause)
{
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("gateway: cannot listen on %s: %s", where, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	if (bind(fd, (const struct sockaddr *)ss, sslen) != 0 || listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &len) != 0) {
		*cause = xasprintf("gateway: cannot listen on %s: %s", where, strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
	                                          : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

/* Heartbeats for event streams, once a second, and the instance registry's, until the
 * gateway stops. */
static void *
ticker_main(void *arg)
{
	struct gateway *gw = arg;
	struct timespec ts;
	uint64_t beat = clock_mono_ms();

	pthread_mutex_lock(&gw->mu);
	while (!gw->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&gw->tick, &gw->mu, &ts);
		if (!gw->stopping)
			gw_admin_heartbeat(gw);
		gw_access_log_tick(gw); /* log_mu is a leaf */
		if (!gw->stopping && clock_mono_ms() - beat >= GW_REGISTRY_BEAT_MS) {
			beat = clock_mono_ms();
			pthread_mutex_unlock(&gw->mu); /* a round trip to the database */
			gw_registry_beat(gw);
			pthread_mutex_lock(&gw->mu);
		}
	}
	pthread_mutex_unlock(&gw->mu);
	return NULL;
}

/* The gateway's fields from opts: identity, tokens, hooks. */
static void
gw_setup(struct gateway *gw, struct router *router, const struct gateway_opts *opts,
    const char *tok, int loopback)
{
	pthread_condattr_t ca;
	const char *admin;

	gw->store = opts->store;
	gw->responses = resp_store_new(opts->store, router_config(router)->responses.ttl_seconds);
	gw->max_body = opts->max_body > 0 ? opts->max_body : GATEWAY_DEFAULT_MAX_BODY;
	gw->max_connections =
	    opts->max_connections > 0 ? opts->max_connections : gateway_max_connections(NULL);
	gw->per_ip_limit = opts->per_ip_limit != 0 ? opts->per_ip_limit : GATEWAY_DEFAULT_PER_IP;
	gw->idle_seconds =
	    opts->idle_seconds > 0 ? opts->idle_seconds : GATEWAY_DEFAULT_IDLE_SECONDS;
	/* A token set on loopback is enforced too: the operator asked for it. */
	gw->token = tok != NULL ? xstrdup(tok) : NULL;
	strlcpy_(gw->admin_env,
	    opts->admin_token_env != NULL ? opts->admin_token_env : GATEWAY_ADMIN_TOKEN_ENV,
	    sizeof gw->admin_env);
	admin = getenv(gw->admin_env);
	gw->admin_token = admin != NULL && *admin != '\0' ? xstrdup(admin) : NULL;
	gw->admin_tcp = loopback || gw->admin_token != NULL;
	atomic_init(&gw->refs, 1);
	gw_keys_setup(gw);
	pthread_mutex_init(&gw->mu, NULL);
	pthread_mutex_init(&gw->log_mu, NULL);
	pthread_cond_init(&gw->idle, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&gw->tick, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < GW_API__COUNT; i++)
		hist_init(&gw->latency[i]);
	gw->cur = xcalloc(1, sizeof *gw->cur);
	gw->cur->router = router;
	gw->cur->refs = 1;
	if (opts->instance != NULL && *opts->instance != '\0')
		strlcpy_(gw->instance, opts->instance, sizeof gw->instance);
	else
		gateway_default_instance(gw->instance, sizeof gw->instance);
	if (gethostname(gw->host, sizeof gw->host) != 0)
		strlcpy_(gw->host, "localhost", sizeof gw->host);
	gw->host[sizeof gw->host - 1] = '\0';
	strlcpy_(gw->version, opts->version != NULL ? opts->version : "", sizeof gw->version);
	gw->config_path = opts->config_path != NULL ? xstrdup(opts->config_path) : NULL;
	gw->started_ms = clock_wall_ms();
	gw->access_log = opts->access_log;
	gw->log_max =
	    opts->access_log_max > 0 ? (off_t)opts->access_log_max : (off_t)GATEWAY_DEFAULT_LOG_MAX;
	gw->log_refused_per_s = opts->refused_per_second > 0 ? opts->refused_per_second
	                                                     : GATEWAY_DEFAULT_REFUSED_PER_SECOND;
	gw->reload = opts->reload;
	gw->reload_arg = opts->reload_arg;
}

struct gateway *
gateway_start(struct router *router, const struct gateway_opts *opts, char **cause)
{
	struct gateway_opts def;
	struct gateway *gw;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *token_env, *tok, *where;
	char host[256];
	int loopback = 0, fd, port;

	if (opts == NULL) {
		gateway_opts_init(&def);
		opts = &def;
	}
	where = opts->listen != NULL ? opts->listen : GATEWAY_DEFAULT_LISTEN;
	if (parse_listen(where, &ss, &sslen, host, sizeof host, &loopback, cause) != 0)
		return NULL;
	token_env = opts->token_env != NULL ? opts->token_env : GATEWAY_DEFAULT_TOKEN_ENV;
	tok = getenv(token_env);
	if (tok != NULL && tok[0] == '\0')
		tok = NULL;
	if ((!loopback || opts->require_token) && tok == NULL) {
		*cause = xasprintf("gateway: listening on %s requires a bearer token: set %s",
		    where, token_env);
		return NULL;
	}
	if ((fd = tcp_listen(&ss, sslen, where, &port, cause)) < 0)
		return NULL;

	gw = xcalloc(1, sizeof *gw);
	gw_setup(gw, router, opts, tok, loopback);
	gw->port = port;
	if (opts->access_log_path != NULL &&
	    gw_access_log_open(gw, opts->access_log_path, cause) != 0) {
		close(fd);
		gw_unref(gw);
		return NULL;
	}
	snprintf(gw->url, sizeof gw->url,
	    ss.ss_family == AF_INET6 ? "http://[%s]:%d" : "http://%s:%d", host, gw->port);
	/* Everything the handlers read is set before the TCP daemon starts. */
	if (opts->local_socket && gw_local_start(gw, cause) != 0) {
		close(fd);
		gw_unref(gw);
		return NULL;
	}
	gw->daemon = gw_daemon_start(gw, fd, ss.ss_family == AF_INET6,
	    opts->threads > 1 ? (unsigned int)opts->threads : 1, 0);
	if (gw->daemon == NULL) {
		*cause = xasprintf("gateway: cannot serve on %s", where);
		close(fd);
		if (gw->local_daemon != NULL)
			MHD_stop_daemon(gw->local_daemon);
		gw_local_stop(gw);
		gw_unref(gw);
		return NULL;
	}
	gw_registry_beat(gw);
	if (pthread_create(&gw->ticker, NULL, ticker_main, gw) == 0)
		gw->ticking = 1;
	event_ring_set_watch(router_events(router), gw_admin_events_changed, gw);
	return gw;
}

int
gateway_port(const struct gateway *gw)
{
	return gw->port;
}

const char *
gateway_url(const struct gateway *gw)
{
	return gw->url;
}

const char *
gateway_instance(const struct gateway *gw)
{
	return gw->instance;
}

const char *
gateway_socket_path(const struct gateway *gw)
{
	return gw->socket_path;
}

void
gateway_default_instance(char *out, size_t len)
{
	char host[256], *p, *q;

	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	if ((p = strchr(host, '.')) != NULL)
		*p = '\0';
	for (p = q = host; *p != '\0'; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
			*q++ = *p;
	*q = '\0';
	snprintf(out, len, "%.40s-%ld", host[0] != '\0' ? host : "llmdeck", (long)getpid());
}
