/*
 * gateway_embed.c: the two endpoints that are not chat, as wire formats over
 * the router's operations (router_submit_op): the client's body into the
 * operation's request, the router's result into the client's answer. The
 * router picks, fails over, retries, limits, prices, ledgers and checks the
 * budget as it does for chat.
 *
 * POST /v1/embeddings (OpenAI's shape): the model names an alias (or a
 * route); vectors come back as floats or, as the openai client asks by
 * default, base64 of little-endian float32.
 *
 * POST /v1/messages/count_tokens (Anthropic's shape): counted by an Anthropic
 * provider serving the model; when none does, or none can answer (a 404 or
 * 5xx, no connection), the gateway's own estimate (pricing.h's), labelled
 * with the header x-llmdeck-estimate: true.
 *
 * Both answer through a callback, exactly once: at once for a request the
 * gateway refuses, else on the router's HTTP engine thread.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_wire.h"

#define EMBED_INPUTS_MAX 2048

void
gw_answer_free(struct gw_answer *a)
{
	if (a == NULL)
		return;
	free(a->body);
	free(a);
}

static struct gw_answer *
answer_new(void)
{
	struct gw_answer *a = xcalloc(1, sizeof *a);

	a->retry_after_s = -1;
	return a;
}

static struct gw_answer *
answer_error(enum gw_api api, int status, enum llm_errclass cls, const char *message,
    const char *param)
{
	struct gw_answer *a = answer_new();

	a->status = status;
	a->cls = cls;
	a->body = gw_error_body(api, status, cls, message, param);
	if (cls == LLM_ERR_RATE_LIMIT || cls == LLM_ERR_NO_PROVIDER || cls == LLM_ERR_OVERLOADED)
		a->retry_after_s = 1;
	return a;
}

/* The router's x-llmdeck-* headers of a result: provider, attempts, cost. */
static void
answer_result_headers(struct gw_answer *a, const struct router_result *res)
{
	size_t n = 0;
	int len;

	if (res->provider[0] != '\0')
		strlcpy_(a->provider, res->provider, sizeof a->provider);
	else if (res->n_attempts > 0)
		strlcpy_(a->provider, res->attempts[res->n_attempts - 1].provider,
		    sizeof a->provider);
	len = snprintf(a->attempts, sizeof a->attempts, "%zu", res->n_attempts);
	for (size_t i = 0; i < res->n_attempts && len > 0 && (size_t)len < sizeof a->attempts;
	     i++) {
		n = (size_t)len;
		len += snprintf(a->attempts + n, sizeof a->attempts - n, "%s%s:%s",
		    i == 0 ? " " : ",", res->attempts[i].provider,
		    res->attempts[i].cls == LLM_OK ? "ok"
		                                   : llm_errclass_name(res->attempts[i].cls));
	}
	if (res->cls == LLM_OK && res->op == ROUTER_OP_EMBEDDINGS) {
		if (res->unpriced)
			snprintf(a->cost, sizeof a->cost, "unpriced");
		else
			snprintf(a->cost, sizeof a->cost, "%.6f", res->cost_usd);
	}
}

/* ---- embeddings ---- */

struct embed_job {
	gw_answer_cb done;
	void *arg;
	char model[128]; /* as the client named it */
	int base64;
	char *input; /* JSON */
	size_t n_inputs;
	int64_t dimensions;
	char *user;
};

static void
embed_job_free(struct embed_job *j)
{
	free(j->input);
	free(j->user);
	free(j);
}

/* Base64 of the vector as little-endian float32 (what encoding_format "base64" means). */
static void
vector_base64(struct buf *out, const struct embed_vector *v)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = v->n * 4;
	unsigned char *b = xmalloc(n + 1);

	for (size_t i = 0; i < v->n; i++) {
		float f = (float)v->v[i];
		uint32_t u;

		memcpy(&u, &f, 4);
		b[4 * i] = (unsigned char)u;
		b[4 * i + 1] = (unsigned char)(u >> 8);
		b[4 * i + 2] = (unsigned char)(u >> 16);
		b[4 * i + 3] = (unsigned char)(u >> 24);
	}
	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)b[i] << 16;
		char q[4];

		if (i + 1 < n)
			x |= (uint32_t)b[i + 1] << 8;
		if (i + 2 < n)
			x |= b[i + 2];
		q[0] = al[(x >> 18) & 63];
		q[1] = al[(x >> 12) & 63];
		q[2] = i + 1 < n ? al[(x >> 6) & 63] : '=';
		q[3] = i + 2 < n ? al[x & 63] : '=';
		buf_append(out, q, 4);
	}
	free(b);
}

static char *
embed_body(const struct embed_job *j, const struct embed_response *resp)
{
	struct buf out;

	buf_init(&out);
	buf_puts(&out, "{\"object\":\"list\",\"data\":[");
	for (size_t i = 0; i < resp->n_vectors; i++) {
		const struct embed_vector *v = &resp->vectors[i];

		buf_printf(&out,
		    "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i > 0 ? "," : "",
		    i);
		if (j->base64) {
			buf_puts(&out, "\"");
			vector_base64(&out, v);
			buf_puts(&out, "\"");
		} else {
			buf_puts(&out, "[");
			for (size_t k = 0; k < v->n; k++)
				buf_printf(&out, "%s%.9g", k > 0 ? "," : "",
				    isfinite(v->v[k]) ? v->v[k] : 0.0);
			buf_puts(&out, "]");
		}
		buf_puts(&out, "}");
	}
	buf_puts(&out, "],\"model\":\"");
	gw_json_escape(&out, j->model, strlen(j->model));
	buf_printf(&out, "\",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
	    (long long)resp->input_tokens, (long long)resp->input_tokens);
	return buf_detach(&out);
}

/* Engine thread: the router's result in the client's shape. */
static void
embed_done(void *arg, struct router_result *res)
{
	struct embed_job *j = arg;
	struct gw_answer *a;

	if (res->cls != LLM_OK) {
		int status = gw_result_status(res);

		if (res->err.status == 400 || res->err.status == 422)
			status = 400;
		a = answer_error(GW_OPENAI, status, res->cls, res->err.message, res->err.param);
	} else {
		a = answer_new();
		a->status = 200;
		a->body = embed_body(j, &res->embed);
	}
	answer_result_headers(a, res);
	router_result_free(res);
	free(res);
	j->done(j->arg, a);
	embed_job_free(j);
}

/* input: a non-empty string, or a non-empty array of them, of token ids, or of arrays of ids. */
static int
embed_inputs(const cJSON *in, size_t *n, struct gw_bad *bad)
{
	const cJSON *e;
	int ints = 0, others = 0;

	if (cJSON_IsString(in)) {
		*n = 1;
		return 0;
	}
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0 ||
	    cJSON_GetArraySize(in) > EMBED_INPUTS_MAX)
		return gw_bad_set(bad, "input",
		    "input: expected a string or a non-empty array (of strings, token ids or "
		    "arrays of token ids) of at most %d",
		    EMBED_INPUTS_MAX);
	cJSON_ArrayForEach(e, in)
	{
		const cJSON *t;

		if (cJSON_IsNumber(e)) {
			ints++;
			continue;
		}
		others++;
		if (cJSON_IsString(e))
			continue;
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
			return gw_bad_set(bad, "input",
			    "input[%d]: expected a string or an array of token ids", others - 1);
		cJSON_ArrayForEach(t, e)
		{
			if (!cJSON_IsNumber(t))
				return gw_bad_set(bad, "input",
				    "input: token ids must be integers");
		}
	}
	if (ints > 0 && others > 0)
		return gw_bad_set(bad, "input", "input: token ids and texts cannot be mixed");
	*n = ints > 0 ? 1 : (size_t)others;
	return 0;
}

/* Every field of the body is one the endpoint knows. */
static int
embed_known_fields(const cJSON *root, struct gw_bad *bad)
{
	static const char *const known[] = {
	    "model", "input", "encoding_format", "dimensions", "user", NULL};
	const cJSON *v;

	cJSON_ArrayForEach(v, root)
	{
		const char *const *k;

		for (k = known; *k != NULL && strcmp(*k, v->string) != 0; k++)
			;
		if (*k == NULL)
			return gw_bad_set(bad, v->string,
			    "%s: not supported by the embeddings endpoint", v->string);
	}
	return 0;
}

/* The options: encoding_format, dimensions, user. */
static int
embed_options(struct embed_job *j, const cJSON *root, struct llm_request *req, struct gw_bad *bad)
{
	struct gw_ask ask;
	struct gw_parse p;
	const cJSON *v;

	memset(&p, 0, sizeof p);
	p.bad = bad;
	p.ask = &ask;
	p.req = req;
	v = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "float") != 0 && strcmp(v->valuestring, "base64") != 0))
			return gw_bad_set(bad, "encoding_format",
			    "encoding_format: expected \"float\" or \"base64\"");
		j->base64 = strcmp(v->valuestring, "base64") == 0;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
	if (v != NULL && !cJSON_IsNull(v) &&
	    gw_want_int(&p, v, "dimensions", 1, 65536, &j->dimensions) != 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "user");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return gw_bad_set(bad, "user", "user: expected a string");
		j->user = xstrdup(v->valuestring);
	}
	return 0;
}

/* The body into the job (model, route, input) and req (the resolved model). 0, or -1 with bad. */
static int
embed_parse(struct embed_job *j, const cJSON *root, const struct config *cfg,
    struct llm_request *req, struct gw_bad *bad)
{
	const cJSON *v;

	if (!cJSON_IsObject(root))
		return gw_bad_set(bad, NULL, "the request body must be a JSON object");
	if (embed_known_fields(root, bad) != 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) >= sizeof j->model)
		return gw_bad_set(bad, "model", "model: required (a model alias or a route name)");
	strlcpy_(j->model, v->valuestring, sizeof j->model);
	if (gw_resolve_model(cfg, j->model, req, bad) != 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "input");
	if (v == NULL)
		return gw_bad_set(bad, "input", "input: required");
	if (embed_inputs(v, &j->n_inputs, bad) != 0)
		return -1;
	j->input = gw_json_text(v);
	return embed_options(j, root, req, bad);
}

uint64_t
gw_embeddings(struct router *r, const char *body, size_t len, const char *key_id, const char *team,
    gw_answer_cb done, void *arg)
{
	struct router_op_request op;
	struct llm_request req;
	struct embed_job *j;
	struct gw_bad bad;
	cJSON *root;
	uint64_t rid;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	j = xcalloc(1, sizeof *j);
	j->done = done;
	j->arg = arg;
	/* The same checks as the chat APIs' skeleton: UTF-8, no \u0000 in a string. */
	root = gw_body_check(body, len, &bad) == 0 ? cJSON_ParseWithLength(body, len) : NULL;
	if (bad.message[0] != '\0' || embed_parse(j, root, router_config(r), &req, &bad) != 0) {
		cJSON_Delete(root);
		llm_request_free(&req);
		embed_job_free(j);
		done(arg,
		    answer_error(GW_OPENAI, 400, LLM_ERR_BAD_REQUEST, bad.message, bad.param));
		return 0;
	}
	cJSON_Delete(root);
	gw_keys_caller(&req, key_id, team);
	memset(&op, 0, sizeof op);
	op.op = ROUTER_OP_EMBEDDINGS;
	op.req = &req;
	op.embed.input = j->input;
	op.embed.dimensions = j->dimensions;
	op.embed.user = j->user;
	op.n_inputs = j->n_inputs;
	rid = router_submit_op(r, &op, embed_done, j);
	llm_request_free(&req);
	return rid;
}

/* ---- count_tokens ---- */

struct count_job {
	gw_answer_cb done;
	void *arg;
	int64_t estimate;
};

static struct gw_answer *
count_estimate(int64_t n)
{
	struct gw_answer *a = answer_new();

	a->status = 200;
	a->estimate = 1;
	a->body = xasprintf("{\"input_tokens\":%lld}", (long long)n);
	return a;
}

/* Did a provider itself refuse the request (400, 413, 422)? */
static int
count_refused(const struct router_result *res)
{
	if (res->cls != LLM_ERR_BAD_REQUEST)
		return 0;
	for (size_t i = 0; i < res->n_attempts; i++)
		if (!res->attempts[i].skipped && res->attempts[i].cls == LLM_ERR_BAD_REQUEST)
			return 1;
	return 0;
}

/* Engine thread: the provider's count, its refusal, or else the estimate. */
static void
count_done(void *arg, struct router_result *res)
{
	struct count_job *j = arg;
	struct gw_answer *a;

	if (res->cls == LLM_OK) {
		a = answer_new();
		a->status = 200;
		a->body = xasprintf("{\"input_tokens\":%lld}", (long long)res->counted_tokens);
		answer_result_headers(a, res);
	} else if (count_refused(res)) {
		/* The request is wrong: say so rather than estimate it. */
		a = answer_error(GW_ANTHROPIC, res->err.status == 413 ? 413 : 400,
		    LLM_ERR_BAD_REQUEST, res->err.message, NULL);
		answer_result_headers(a, res);
	} else {
		a = count_estimate(j->estimate);
	}
	router_result_free(res);
	free(res);
	j->done(j->arg, a);
	free(j);
}

uint64_t
gw_count_tokens(struct router *r, const char *body, size_t len, const char *key_id,
    const char *team, gw_answer_cb done, void *arg)
{
	struct router_op_request op;
	struct llm_request req;
	struct count_job *j;
	struct gw_ask ask;
	struct gw_bad bad;
	char *extra;
	uint64_t rid;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	if (gw_parse_anthropic_count(body, len, &req, &ask, &bad) != 0) {
		llm_request_free(&req);
		done(arg, answer_error(GW_ANTHROPIC, 400, LLM_ERR_BAD_REQUEST, bad.message, NULL));
		return 0;
	}
	gw_keys_caller(&req, key_id, team);
	/* Anthropic-only fields are for the provider that counts, or for nobody (an estimate). */
	extra = req.passthrough;
	req.passthrough = NULL;
	if (gw_resolve_model(router_config(r), ask.model, &req, &bad) != 0) {
		free(extra);
		llm_request_free(&req);
		done(arg, answer_error(GW_ANTHROPIC, 400, LLM_ERR_BAD_REQUEST, bad.message, NULL));
		return 0;
	}
	req.passthrough = extra;
	j = xcalloc(1, sizeof *j);
	j->done = done;
	j->arg = arg;
	j->estimate = ask.input_estimate;
	memset(&op, 0, sizeof op);
	op.op = ROUTER_OP_COUNT_TOKENS;
	op.req = &req;
	rid = router_submit_op(r, &op, count_done, j);
	llm_request_free(&req);
	return rid;
}
