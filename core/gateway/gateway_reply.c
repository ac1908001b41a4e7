/*
 * gateway_reply.c: a request's references and wake-ups, and its replies:
 * whole answers with the x-llmdeck-* headers, errors in the client API's
 * shape, the SSE stream's reader, and the answers of the other operations
 * (embeddings, count_tokens). gateway.c's dispatcher and the endpoint files
 * call these; the request's life is in gateway.c.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_priv.h"

void
gw_req_ref(struct gw_req *q)
{
	pthread_mutex_lock(&q->gw->mu);
	q->refs++;
	pthread_mutex_unlock(&q->gw->mu);
}

/* Drop one reference; called without gw->mu. */
void
gw_req_unref(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	int left;

	pthread_mutex_lock(&gw->mu);
	left = --q->refs;
	pthread_mutex_unlock(&gw->mu);
	if (left > 0)
		return;
	if (q->res != NULL) {
		router_result_free(q->res);
		free(q->res);
	}
	gw_answer_free(q->ans);
	gw_ask_free(&q->ask);
	gw_stream_free(&q->st);
	free(q->stored_body);
	free(q->answer_json);
	gw_router_put(gw, q->gr);
	buf_free(&q->body);
	buf_free(&q->out);
	free(q->path);
	free(q);
	gw_unref(gw);
}

/* Resume a suspended connection; with gw->mu held. */
void
gw_req_wake(struct gw_req *q)
{
	if (q->suspended && !q->closed) {
		q->suspended = 0;
		MHD_resume_connection(q->conn);
	}
}

/* Suspend until the engine thread has something; with gw->mu held. -1 if stopping. */
int
gw_req_sleep(struct gw_req *q)
{
	if (q->gw->stopping)
		return -1;
	q->suspended = 1;
	MHD_suspend_connection(q->conn);
	return 0;
}

static void
count_reply(struct gw_req *q, int status)
{
	pthread_mutex_lock(&q->gw->mu);
	q->gw->http[q->ep][gw_code_index(status)]++;
	q->status = status;
	pthread_mutex_unlock(&q->gw->mu);
}

/* The x-llmdeck-* headers of a finished request. */
static void
add_result_headers(struct MHD_Response *resp, const struct router_result *res)
{
	struct buf b;
	char v[64];

	if (res->provider[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-provider", res->provider);
	if (res->model[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-model", res->model);
	if (res->route[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-route", res->route);
	buf_init(&b);
	buf_printf(&b, "%zu", res->n_attempts);
	for (size_t i = 0; i < res->n_attempts && i < 16; i++)
		buf_printf(&b, "%s%s:%s", i == 0 ? " " : ",", res->attempts[i].provider,
		    res->attempts[i].cls == LLM_OK ? "ok"
		                                   : llm_errclass_name(res->attempts[i].cls));
	MHD_add_response_header(resp, "x-llmdeck-attempts", b.data);
	buf_free(&b);
	if (res->cls == LLM_OK) {
		if (res->unpriced)
			snprintf(v, sizeof v, "unpriced");
		else
			snprintf(v, sizeof v, "%.6f", res->cost_usd);
		MHD_add_response_header(resp, "x-llmdeck-cost-usd", v);
	}
	MHD_add_response_header(resp, "x-llmdeck-cache", res->cached ? "hit" : "miss");
}

/* Queue a whole response; takes body (malloc'd). */
enum MHD_Result
gw_reply_result(struct gw_req *q, int status, const char *ctype, char *body,
    const struct router_result *res, long retry_after_s, int no_retry)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char v[32];

	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	gw_add_dropped_header(resp, q);
	if (res != NULL)
		add_result_headers(resp, res);
	if (retry_after_s >= 0) {
		snprintf(v, sizeof v, "%ld", retry_after_s);
		MHD_add_response_header(resp, "retry-after", v);
	}
	if (no_retry)
		MHD_add_response_header(resp, "x-should-retry", "false");
	q->phase = PH_SENT;
	count_reply(q, status);
	ret = MHD_queue_response(q->conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An error in the endpoint's format. */
enum MHD_Result
gw_reply_error(struct gw_req *q, int status, enum llm_errclass cls, const char *message,
    const char *param, const struct router_result *res)
{
	long retry = -1;

	if (res != NULL && res->err.retry_after_ms >= 0 && (status == 429 || status == 503))
		retry = (long)((res->err.retry_after_ms + 999) / 1000);
	else if (cls == LLM_ERR_RATE_LIMIT || cls == LLM_ERR_NO_PROVIDER ||
	    cls == LLM_ERR_OVERLOADED)
		retry = 1;
	return gw_reply_result(q, status, "application/json",
	    gw_error_body(q->api, status, cls, message, param), res, retry, cls == LLM_ERR_BUDGET);
}

enum MHD_Result
gw_reply(struct gw_req *q, int status, const char *ctype, char *body)
{
	return gw_reply_result(q, status, ctype, body, NULL, -1, 0);
}

enum MHD_Result
gw_reply_json(struct gw_req *q, int status, cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return gw_reply_result(q, status, "application/json", s, NULL, -1, 0);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct gw_req *q = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&q->gw->mu);
	if (q->out_off < q->out.len) {
		n = q->out.len - q->out_off < max ? q->out.len - q->out_off : max;
		memcpy(out, q->out.data + q->out_off, n);
		q->out_off += n;
		if (q->out_off == q->out.len) {
			buf_reset(&q->out);
			q->out_off = 0;
		}
		pthread_mutex_unlock(&q->gw->mu);
		return (ssize_t)n;
	}
	if (q->out_end) {
		pthread_mutex_unlock(&q->gw->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (gw_req_sleep(q) != 0) {
		pthread_mutex_unlock(&q->gw->mu);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	pthread_mutex_unlock(&q->gw->mu);
	return 0;
}

static void
stream_free(void *cls)
{
	gw_req_unref(cls);
}

enum MHD_Result
gw_reply_stream(struct gw_req *q)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, q, stream_free);
	if (resp == NULL)
		return MHD_NO;
	gw_req_ref(q);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "x-llmdeck-model", q->ask.model);
	gw_add_dropped_header(resp, q);
	q->phase = PH_SENT;
	count_reply(q, 200);
	ret = MHD_queue_response(q->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* An embeddings or count_tokens answer (gateway_embed.c), with its headers. */
enum MHD_Result
gw_reply_answer(struct gw_req *q, struct gw_answer *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char v[32];

	resp = MHD_create_response_from_buffer(strlen(a->body), a->body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		return MHD_NO;
	a->body = NULL; /* the response's now */
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (a->provider[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-provider", a->provider);
	if (a->attempts[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-attempts", a->attempts);
	if (a->cost[0] != '\0')
		MHD_add_response_header(resp, "x-llmdeck-cost-usd", a->cost);
	if (a->estimate)
		MHD_add_response_header(resp, "x-llmdeck-estimate", "true");
	if (a->retry_after_s >= 0) {
		snprintf(v, sizeof v, "%ld", a->retry_after_s);
		MHD_add_response_header(resp, "retry-after", v);
	}
	if (a->cls == LLM_ERR_BUDGET)
		MHD_add_response_header(resp, "x-should-retry", "false");
	q->phase = PH_SENT;
	count_reply(q, a->status);
	ret = MHD_queue_response(q->conn, (unsigned int)a->status, resp);
	MHD_destroy_response(resp);
	return ret;
}
