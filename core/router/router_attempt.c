/*
 * router_attempt.c: one attempt's transfer, as the HTTP engine reports it:
 * its slot in the result's attempt list, the headers, the body or stream
 * bytes, the first token that decides a hedge race, and what went wrong
 * (classified into the router's error classes). Engine thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pricing.h"
#include "router/router_priv.h"

/* Attempts are listed in the order they started (a hedge may end first). */
void
rt_reserve_attempt(struct rreq *q, struct attempt *a)
{
	q->attempts = xreallocarray(q->attempts, q->n_attempts + 1, sizeof *q->attempts);
	a->slot = q->n_attempts++;
	memset(&q->attempts[a->slot], 0, sizeof *q->attempts);
}

void
rt_record_attempt(struct rreq *q, struct attempt *a, enum llm_errclass cls, const char *error,
    uint64_t latency_us)
{
	struct router_attempt *ra = &q->attempts[a->slot];

	strlcpy_(ra->provider, q->r->providers[a->idx].conf->name, sizeof ra->provider);
	strlcpy_(ra->model, a->alias, sizeof ra->model);
	ra->status = a->status;
	ra->cls = cls;
	ra->hedge = a->hedge;
	strlcpy_(ra->error, error != NULL ? error : "", sizeof ra->error);
	ra->latency_us = latency_us;
	ra->limit_ms = (a->give_up_us - a->start_us) / 1000;
	ra->limit_learned = a->limit_learned;
}

void
attempt_free(struct attempt *a)
{
	if (a->stream != NULL)
		a->ad->stream_free(a->stream);
	llm_response_free(&a->acc);
	embed_response_free(&a->embed);
	buf_free(&a->errbody);
	adapter_http_free(&a->ah);
	free(a->serr);
	free(a);
}

void
rreq_unlink_attempt(struct rreq *q, struct attempt *a)
{
	for (size_t i = 0; i < q->n_live; i++)
		if (q->live[i] == a) {
			q->live[i] = q->live[--q->n_live];
			q->live[q->n_live] = NULL;
			return;
		}
}

/* Abort every live attempt but keep (under r->mu: router_free reads http_id). */
void
rreq_abort_others(struct rreq *q, struct attempt *keep)
{
	struct router *r = q->r;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < q->n_live; i++) {
		struct attempt *a = q->live[i];
		if (a == keep)
			continue;
		if (keep != NULL)
			a->lost = 1;
		if (a->http_id != 0)
			http_cancel(r->engine, a->http_id);
	}
	pthread_mutex_unlock(&r->mu);
}

void
rt_on_stream_delta(void *arg, const struct llm_delta *d)
{
	struct attempt *a = arg;
	struct rreq *q = a->q;

	/* An empty delta says nothing, but for a call's start and a reasoning item's
	 * end (which may carry no encrypted_content): they open and close items. */
	if ((d->len == 0 && d->type != LLM_DELTA_TOOL_CALL_START &&
	        d->type != LLM_DELTA_REASONING_DONE) ||
	    a->lost)
		return;
	if (q->winner == NULL) {
		/* The first token decides the race: the hedge (or the original) is cancelled. */
		q->winner = a;
		a->answered = 1;
		a->first_us = clock_mono_us() - a->start_us;
		if (q->n_live > 1)
			rreq_abort_others(q, a);
		/* From now on the watchdog minds the silence between chunks. */
		if (a->watch_id != 0)
			http_cancel_timer(q->r->engine, a->watch_id);
		attempt_watch(a);
	}
	if (q->winner != a)
		return;
	a->delivered_bytes += d->len;
	q->delivered = 1;
	atomic_fetch_add_explicit(&q->view.deltas, 1, memory_order_relaxed);
	if (q->typed != NULL)
		q->typed(q->arg, d);
}

void
rt_on_http_headers(void *arg, int status, const struct http_headers *h)
{
	struct attempt *a = arg;

	(void)h;
	a->status = status;
	a->last_byte_us = clock_mono_us();
	if (a->q->req.stream && status >= 200 && status < 300) {
		a->stream = a->ad->stream_new();
		a->serr = xmalloc(sizeof *a->serr);
		llm_error_clear(a->serr);
	}
}

int
rt_on_http_data(void *arg, const char *data, size_t len)
{
	struct attempt *a = arg;
	const struct adapter *ad = a->ad;

	a->last_byte_us = clock_mono_us();
	if (a->stream == NULL) {
		if (a->errbody.len + len > 1 << 20)
			return 1;
		buf_append(&a->errbody, data, len);
		return 0;
	}
	if (ad->stream_feed(a->stream, data, len, rt_on_stream_delta, a, &a->acc, a->serr) < 0) {
		a->stream_failed = 1;
		return 1;
	}
	return a->lost; /* a lost hedge stops reading at once */
}

/* What the provider said went wrong, from the transfer's outcome. */
void
attempt_classify(struct attempt *a, const struct http_result *hr, struct llm_error *err)
{
	struct rreq *q = a->q;
	const struct adapter *ad = a->ad;

	if (a->stream_failed) {
		*err = *a->serr;
	} else if (hr->err == HTTP_ERR_ABORTED && a->abandoned) {
		if (a->answered)
			llm_error_set(err, LLM_ERR_TIMEOUT, hr->status,
			    "stream idle: no data for %.1f s",
			    (double)(clock_mono_us() - a->last_byte_us) / 1e6);
		else
			llm_error_set(err, LLM_ERR_TIMEOUT, hr->status, "no %s within %.1f s",
			    q->req.stream ? "first token" : "answer",
			    (double)(a->give_up_us - a->start_us) / 1e6);
	} else if (hr->err == HTTP_ERR_TIMEOUT && !q->req.stream) {
		llm_error_set(err, LLM_ERR_TIMEOUT, hr->status, "no answer within %.1f s: %s",
		    (double)(a->give_up_us - a->start_us) / 1e6, hr->errmsg);
	} else if (hr->err == HTTP_ERR_TIMEOUT) {
		llm_error_set(err, LLM_ERR_TIMEOUT, hr->status, "timed out: %s", hr->errmsg);
	} else if (hr->err == HTTP_ERR_TOO_LARGE) {
		llm_error_set(err, LLM_ERR_MALFORMED, hr->status, "response too large");
	} else if (hr->err == HTTP_ERR_ABORTED) {
		llm_error_set(err, LLM_ERR_CANCELLED, hr->status,
		    a->lost ? "cancelled: another attempt answered first" : "cancelled");
	} else if (hr->err != HTTP_OK &&
	    (hr->status < 200 || hr->status >= 300 || a->stream == NULL)) {
		llm_error_set(err, LLM_ERR_CONNECT, hr->status, "%s: %s", http_err_name(hr->err),
		    hr->errmsg);
	} else if (hr->status >= 200 && hr->status < 300) {
		if (a->stream != NULL) {
			if (hr->err != HTTP_OK || ad->stream_finish(a->stream, &a->acc, err) != 0) {
				if (err->cls == LLM_OK)
					llm_error_set(err, LLM_ERR_STREAM, hr->status,
					    "stream cut: %s", hr->errmsg);
			}
		} else if (q->op != NULL) {
			q->op->parse(a, hr->body != NULL ? hr->body : "", hr->body_len, err);
		} else {
			ad->parse_response(hr->body, hr->body_len, &a->acc, err);
		}
	} else {
		const char *body = a->errbody.len == 0 ? hr->body : a->errbody.data;
		size_t len = a->errbody.len == 0 ? hr->body_len : a->errbody.len;
		ad->classify_error(hr->status, &hr->headers, body != NULL ? body : "", len, err);
		if (err->cls == LLM_OK)
			llm_error_set(err, LLM_ERR_SERVER, hr->status, "HTTP %d", hr->status);
	}
	if (err->cls == LLM_OK)
		adapter_read_request_id(&hr->headers, &a->acc);
}

/*
 * Usage for an attempt that did not finish: what the provider reported so
 * far, else an estimate (the prompt, and the text already received), flagged.
 */
int
attempt_usage(struct attempt *a, struct llm_usage *u)
{
	*u = a->acc.usage;
	if (u->input_tokens > 0 || u->output_tokens > 0)
		return 0;
	u->input_tokens = rreq_input_estimate(a->q);
	u->output_tokens = (int64_t)((a->delivered_bytes + 3) / 4);
	return 1;
}
