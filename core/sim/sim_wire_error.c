/*
 * sim_wire_error.c: what the simulated providers say when they refuse: each
 * provider's error shape, 401s, injected error statuses (a table per provider),
 * 404s, the 4xx for a generation request they would reject, and the error event
 * in the middle of a stream.
 */
#include "sim/sim_wire.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_OVERLOADED "The engine is currently overloaded, please try again later."

int
sim_wire_ollama_native(const struct sim_call *c)
{
	return c->protocol == SIM_OLLAMA && c->ep != SIM_EP_CHAT && c->ep != SIM_EP_MODELS &&
	    c->ep != SIM_EP_EMBEDDINGS;
}

/* OpenAI's error object {message, type, param, code} onto j; absent ones are null. */
static void
openai_error(cJSON *j, const char *type, const char *code, const char *param, const char *message)
{
	cJSON *e = cJSON_AddObjectToObject(j, "error");

	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	if (param != NULL)
		cJSON_AddStringToObject(e, "param", param);
	else
		cJSON_AddNullToObject(e, "param");
	if (code != NULL)
		cJSON_AddStringToObject(e, "code", code);
	else
		cJSON_AddNullToObject(e, "code");
}

void
sim_wire_error_reply(const struct sim_call *c, int status, const char *type, const char *code,
    const char *param, const char *message, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *e;
	char id[64], st[16];

	r->status = status;
	sim_wire_common_headers(c, r);
	sim_wire_content_type_json(c, r);
	switch (c->protocol) {
	case SIM_ANTHROPIC:
		cJSON_AddStringToObject(j, "type", "error");
		e = cJSON_AddObjectToObject(j, "error");
		cJSON_AddStringToObject(e, "type", type);
		cJSON_AddStringToObject(e, "message", message);
		sim_wire_make_id(c, 1, "req_011C", SIM_WIRE_B62, 20, id, sizeof id);
		cJSON_AddStringToObject(j, "request_id", id);
		break;
	case SIM_AZURE:
		if (type != NULL && strcmp(type, "invalid_request_error") == 0) {
			openai_error(j, type, code, param, message);
			break;
		}
		snprintf(st, sizeof st, "%d", status);
		e = cJSON_AddObjectToObject(j, "error");
		cJSON_AddStringToObject(e, "code", code != NULL ? code : st);
		cJSON_AddStringToObject(e, "message", message);
		break;
	case SIM_MISTRAL:
		if (status == 401) {
			cJSON_AddStringToObject(j, "message", "Unauthorized");
			sim_wire_make_id(c, 2, "", SIM_WIRE_HEX, 32, id, sizeof id);
			cJSON_AddStringToObject(j, "request_id", id);
			break;
		}
		cJSON_AddStringToObject(j, "object", "error");
		cJSON_AddStringToObject(j, "message", message);
		cJSON_AddStringToObject(j, "type", type);
		cJSON_AddNullToObject(j, "param");
		cJSON_AddStringToObject(j, "code", code != NULL ? code : "3000");
		break;
	case SIM_OLLAMA:
		if (sim_wire_ollama_native(c)) {
			cJSON_AddStringToObject(j, "error", message);
			break;
		}
		/* FALLTHROUGH */
	case SIM_OPENAI: openai_error(j, type, code, param, message); break;
	}
	sim_wire_reply_json(r, status, j);
}

void
sim_wire_auth_error(const struct sim_call *c, struct sim_reply *r)
{
	char msg[512], masked[32];
	const char *k = c->auth_key;
	size_t kl;

	switch (c->protocol) {
	case SIM_ANTHROPIC:
		sim_wire_error_reply(c, 401, "authentication_error", NULL, NULL,
		    k == NULL ? "x-api-key header is required" : "invalid x-api-key", r);
		break;
	case SIM_AZURE:
		sim_wire_error_reply(c, 401, NULL, "401", NULL,
		    "Access denied due to invalid subscription key or wrong API endpoint. Make "
		    "sure to provide a valid key for an active subscription and use a correct "
		    "regional API endpoint for your resource.",
		    r);
		break;
	case SIM_OLLAMA:
		if (sim_wire_ollama_native(c)) {
			sim_wire_error_reply(c, 401, NULL, NULL, NULL, "unauthorized", r);
			break;
		}
		/* FALLTHROUGH */
	case SIM_OPENAI:
	case SIM_MISTRAL:
		if (k == NULL || *k == '\0') {
			sim_wire_error_reply(c, 401, "invalid_request_error", NULL, NULL,
			    "You didn't provide an API key. You need to provide your API key in an "
			    "Authorization header using Bearer auth (i.e. Authorization: Bearer "
			    "YOUR_KEY), or as the password field (with blank username) if you're "
			    "accessing the API from your browser and are prompted for a username "
			    "and password. You can obtain an API key from "
			    "https://platform.openai.com/account/api-keys.",
			    r);
			break;
		}
		kl = strlen(k);
		if (kl > 8)
			snprintf(masked, sizeof masked, "%.4s****%s", k, k + kl - 4);
		else
			snprintf(masked, sizeof masked, "****");
		snprintf(msg, sizeof msg,
		    "Incorrect API key provided: %s. You can find your API "
		    "key at https://platform.openai.com/account/api-keys.",
		    masked);
		sim_wire_error_reply(c, 401, "invalid_request_error", "invalid_api_key", NULL, msg,
		    r);
		break;
	}
}

static int
retryable(int status)
{
	return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* Every protocol this row is for. */
#define P(p) (1u << (p))

/*
 * The body of an injected error status, per provider: the first row for the
 * call's protocol whose status matches (0: any other status) and, for a quota
 * row, only while the quota fault is on. msg_after: the message is msg, the
 * retry-after seconds (60 if none), then msg_after. type NULL: azure's
 * {code, message} shape (see sim_wire_error_reply).
 */
static const struct status_error {
	unsigned protocols;
	int status;
	int quota;
	const char *type, *code, *msg, *msg_after;
} status_errors[] = {
    {P(SIM_ANTHROPIC), 400, 0, "invalid_request_error", NULL, "Invalid request (simulated).", NULL},
    {P(SIM_ANTHROPIC), 403, 0, "permission_error", NULL,
        "Your API key does not have permission to use the specified resource.", NULL},
    {P(SIM_ANTHROPIC), 404, 0, "not_found_error", NULL, "Not found", NULL},
    {P(SIM_ANTHROPIC), 413, 0, "request_too_large", NULL,
        "Request exceeds the maximum allowed number of bytes.", NULL},
    {P(SIM_ANTHROPIC), 429, 0, "rate_limit_error", NULL,
        "This request would exceed the rate limit for your organization of 4,000 requests "
        "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You "
        "can see the response headers for current usage. Please reduce the prompt length or "
        "the maximum tokens requested, or try again later.",
        NULL},
    {P(SIM_ANTHROPIC), 504, 0, "timeout_error", NULL, "Request timed out", NULL},
    {P(SIM_ANTHROPIC), 529, 0, "overloaded_error", NULL, "Overloaded", NULL},
    {P(SIM_ANTHROPIC), 0, 0, "api_error", NULL, "Internal server error", NULL},

    {P(SIM_AZURE), 400, 0, "invalid_request_error", NULL, "Invalid request (simulated).", NULL},
    {P(SIM_AZURE), 404, 0, NULL, "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created the deployment "
        "within the last 5 minutes, please wait a moment and try again.",
        NULL},
    {P(SIM_AZURE), 429, 0, NULL, NULL,
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
        "Please retry after ",
        " seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to "
        "further increase the default rate limit."},
    {P(SIM_AZURE), 500, 0, NULL, "InternalServerError",
        "The service is temporarily unable to process your request. Please try again later.", NULL},
    {P(SIM_AZURE), 503, 0, NULL, "ServiceUnavailable",
        "The service is temporarily unavailable. Please try again later.", NULL},
    {P(SIM_AZURE), 0, 0, NULL, NULL, "Simulated error.", NULL},

    {P(SIM_MISTRAL), 429, 0, "rate_limited", "1300", "Rate limit exceeded", NULL},
    {P(SIM_MISTRAL), 400, 0, "invalid_request_error", "3000", "Invalid request (simulated).", NULL},
    {P(SIM_MISTRAL), 503, 0, "service_unavailable", "1000", "Service unavailable", NULL},
    {P(SIM_MISTRAL), 0, 0, "internal_server_error", "1000", "Internal server error", NULL},

    {P(SIM_OPENAI) | P(SIM_OLLAMA), 400, 0, "invalid_request_error", NULL,
        "Invalid request (simulated).", NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 403, 0, "invalid_request_error",
        "unsupported_country_region_territory", "Country, region, or territory not supported",
        NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 404, 0, "invalid_request_error", "model_not_found",
        "The model does not exist or you do not have access to it.", NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 429, 1, "insufficient_quota", "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 429, 0, "requests", "rate_limit_exceeded",
        "Rate limit reached for requests in organization org-llmdecksim on requests per min "
        "(RPM): Limit 4000, Used 4000, Requested 1. Please try again in 15ms. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 502, 0, "server_error", NULL, OPENAI_OVERLOADED, NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 503, 0, "server_error", NULL, OPENAI_OVERLOADED, NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 529, 0, "server_error", NULL, OPENAI_OVERLOADED, NULL},
    {P(SIM_OPENAI) | P(SIM_OLLAMA), 0, 0, "server_error", NULL,
        "The server had an error while processing your request. Sorry about that!", NULL},
};

static const struct status_error *
status_error_find(const struct sim_call *c, int status)
{
	for (size_t i = 0; i < nitems(status_errors); i++) {
		const struct status_error *e = &status_errors[i];

		if ((e->protocols & P(c->protocol)) != 0 &&
		    (e->status == 0 || e->status == status) && (!e->quota || c->quota))
			return e;
	}
	fatal("sim: no error body for protocol %d", (int)c->protocol);
}

/* A 429's rate-limit headers: no requests left until the reset (retry seconds, else 15ms). */
static void
rate_limited_headers(struct sim_reply *r, int retry)
{
	char reset[32];

	if (retry > 0)
		snprintf(reset, sizeof reset, "%ds", retry);
	else
		snprintf(reset, sizeof reset, "15ms");
	for (size_t i = 0; i < r->nhdr; i++) {
		if (strcmp(r->hdr[i].name, "x-ratelimit-remaining-requests") == 0) {
			free(r->hdr[i].value);
			r->hdr[i].value = xstrdup("0");
		} else if (strcmp(r->hdr[i].name, "x-ratelimit-reset-requests") == 0) {
			free(r->hdr[i].value);
			r->hdr[i].value = xstrdup(reset);
		}
	}
}

void
sim_wire_status_error(const struct sim_call *c, int status, struct sim_reply *r)
{
	const struct status_error *e;
	const char *type, *msg;
	char buf[512], ra[32];
	int retry;

	if (status == 401) {
		sim_wire_auth_error(c, r);
		return;
	}
	e = status_error_find(c, status);
	type = e->type;
	msg = e->msg;
	if (e->msg_after != NULL) {
		snprintf(buf, sizeof buf, "%s%d%s", e->msg,
		    c->retry_after_s > 0 ? c->retry_after_s : 60, e->msg_after);
		msg = buf;
	}
	/* ollama's native endpoints answer in their own shape (sim_wire_error_reply) */
	if (sim_wire_ollama_native(c))
		type = "api_error";
	sim_wire_error_reply(c, status, type, e->code, NULL, msg, r);
	/* Azure always says when to come back (the seconds of its message); OpenAI when set */
	retry = c->retry_after_s > 0                    ? c->retry_after_s
	    : c->protocol == SIM_AZURE && status == 429 ? 60
	                                                : 0;
	if (retry > 0 && retryable(status) && !(status == 429 && c->quota)) {
		snprintf(ra, sizeof ra, "%d", retry);
		sim_reply_header(r, "retry-after", ra);
		if (c->protocol == SIM_AZURE || c->protocol == SIM_OPENAI) {
			snprintf(ra, sizeof ra, "%d", retry * 1000);
			sim_reply_header(r, "retry-after-ms", ra);
		}
	}
	if (status == 429 && (c->protocol == SIM_AZURE || c->protocol == SIM_OPENAI))
		rate_limited_headers(r, retry);
	if (c->protocol == SIM_ANTHROPIC || c->protocol == SIM_OPENAI) {
		if (retryable(status) && !(status == 429 && c->quota))
			sim_reply_header(r, "x-should-retry", "true");
	}
}

void
sim_wire_not_found(const struct sim_call *c, const char *path, struct sim_reply *r)
{
	char msg[512];

	switch (c->protocol) {
	case SIM_ANTHROPIC:
		snprintf(msg, sizeof msg, "Not Found: %.200s", path);
		sim_wire_error_reply(c, 404, "not_found_error", NULL, NULL, msg, r);
		break;
	case SIM_AZURE:
		sim_wire_error_reply(c, 404, NULL, "404", NULL, "Resource not found", r);
		break;
	case SIM_MISTRAL:
		sim_wire_error_reply(c, 404, "invalid_request_error", "1500", NULL, "Not Found", r);
		break;
	case SIM_OPENAI:
		snprintf(msg, sizeof msg, "Invalid URL (%.200s)", path);
		sim_wire_error_reply(c, 404, "invalid_request_error", NULL, NULL, msg, r);
		break;
	case SIM_OLLAMA:
		sim_wire_error_reply(c, 404, NULL, NULL, NULL, "404 page not found", r);
		break;
	}
}

/* ---- requests a provider would refuse ---- */

static const char *mistral_known[] = {
    "model",
    "messages",
    "temperature",
    "top_p",
    "max_tokens",
    "stream",
    "stop",
    "random_seed",
    "response_format",
    "tools",
    "tool_choice",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "safe_prompt",
    "prediction",
    "parallel_tool_calls",
    "metadata",
    "reasoning_effort",
    "prompt_mode",
    "guardrails",
    "prompt_cache_key",
    "service_tier",
};

/* What Mistral's embeddings endpoint knows. */
static const char *mistral_embed_known[] = {
    "model",
    "input",
    "metadata",
    "output_dimension",
    "output_dtype",
    "encoding_format",
};

static void
mistral_422(const struct sim_call *c, const char *type, const char *field, const char *msg,
    const cJSON *input, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *d, *e, *loc;

	r->status = 422;
	sim_wire_common_headers(c, r);
	sim_wire_content_type_json(c, r);
	d = cJSON_AddArrayToObject(j, "detail");
	e = cJSON_CreateObject();
	cJSON_AddItemToArray(d, e);
	cJSON_AddStringToObject(e, "type", type);
	loc = cJSON_AddArrayToObject(e, "loc");
	cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
	cJSON_AddItemToArray(loc, cJSON_CreateString(field));
	cJSON_AddStringToObject(e, "msg", msg);
	cJSON_AddItemToObject(e, "input",
	    input != NULL ? cJSON_Duplicate(input, 1) : cJSON_CreateNull());
	sim_wire_reply_json(r, 422, j);
}

/*
 * A required field is missing from root: each provider's way of saying so.
 * OpenAI words it differently per field, so its code, param and message are given.
 */
static void
missing_field(const struct sim_call *c, const char *field, const char *oai_code,
    const char *oai_param, const char *oai_msg, const cJSON *root, struct sim_reply *r)
{
	char msg[128];

	if (c->protocol == SIM_ANTHROPIC) {
		snprintf(msg, sizeof msg, "%s: Field required", field);
		sim_wire_error_reply(c, 400, "invalid_request_error", NULL, NULL, msg, r);
	} else if (c->protocol == SIM_MISTRAL)
		mistral_422(c, "missing", field, "Field required", root, r);
	else if (sim_wire_ollama_native(c)) {
		snprintf(msg, sizeof msg, "%s is required", field);
		sim_wire_error_reply(c, 400, NULL, NULL, NULL, msg, r);
	} else
		sim_wire_error_reply(c, 400, "invalid_request_error", oai_code, oai_param, oai_msg,
		    r);
}

/* Not a JSON object: each provider's words for it. */
static void
bad_json(const struct sim_call *c, struct sim_reply *r)
{
	const char *badjson;

	if (c->protocol == SIM_ANTHROPIC)
		badjson = "There was an error parsing the body of your request: invalid JSON";
	else if (sim_wire_ollama_native(c))
		badjson = "invalid character looking for beginning of value";
	else if (c->protocol == SIM_MISTRAL)
		badjson = "Invalid JSON body";
	else
		badjson =
		    "We could not parse the JSON body of your request. (HINT: This likely means "
		    "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
		    "payload, but what was sent was not valid JSON. If you have trouble figuring "
		    "out how to fix this, please contact us through our help center at "
		    "help.openai.com.)";
	sim_wire_error_reply(c, 400, "invalid_request_error", NULL, NULL, badjson, r);
}

/* Mistral refuses fields it does not know; 0, or -1 with the 422 in r. */
static int
mistral_extra_fields(const struct sim_call *c, const cJSON *root, const char *const *known,
    size_t nknown, struct sim_reply *r)
{
	for (const cJSON *v = root->child; v != NULL; v = v->next) {
		size_t i;

		for (i = 0; i < nknown; i++)
			if (strcmp(v->string, known[i]) == 0)
				break;
		if (i == nknown) {
			mistral_422(c, "extra_forbidden", v->string,
			    "Extra inputs are not permitted", v, r);
			return -1;
		}
	}
	return 0;
}

/* The messages array: present and not empty. Anthropic takes a "system" message among them
 * (Claude Code sends one); sim_gen.c reads it as more system prompt. */
static int
check_messages(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
	int anth = c->protocol == SIM_ANTHROPIC;

	if (!cJSON_IsArray(messages)) {
		missing_field(c, "messages", "missing_required_parameter", "messages",
		    "Missing required parameter: 'messages'.", root, r);
		return -1;
	}
	if (cJSON_GetArraySize(messages) == 0 && c->ep != SIM_EP_OLLAMA_CHAT) {
		if (anth)
			sim_wire_error_reply(c, 400, "invalid_request_error", NULL, NULL,
			    "messages: at least one message is required", r);
		else
			sim_wire_error_reply(c, 400, "invalid_request_error", "empty_array",
			    "messages",
			    "Invalid 'messages': empty array. Expected an array with minimum "
			    "length 1, "
			    "but got an empty array instead.",
			    r);
		return -1;
	}
	return 0;
}

int
sim_wire_check_request(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	if (root == NULL || !cJSON_IsObject(root)) {
		bad_json(c, r);
		return -1;
	}
	if (c->ep == SIM_EP_RESPONSES)
		return sim_wire_check_responses(c, root, r);
	if (c->protocol == SIM_MISTRAL &&
	    mistral_extra_fields(c, root, mistral_known, nitems(mistral_known), r) != 0)
		return -1;
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "model")) &&
	    c->deployment == NULL) {
		missing_field(c, "model", NULL, NULL, "you must provide a model parameter", root,
		    r);
		return -1;
	}
	if (c->protocol == SIM_ANTHROPIC &&
	    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))) {
		sim_wire_error_reply(c, 400, "invalid_request_error", NULL, NULL,
		    "max_tokens: Field required", r);
		return -1;
	}
	if (check_messages(c, root, r) != 0)
		return -1;
	return sim_wire_check_features(c, root, r);
}

int
sim_wire_check_embeddings(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	if (root == NULL || !cJSON_IsObject(root)) {
		bad_json(c, r);
		return -1;
	}
	if (c->protocol == SIM_MISTRAL &&
	    mistral_extra_fields(c, root, mistral_embed_known, nitems(mistral_embed_known), r) != 0)
		return -1;
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "model")) &&
	    c->deployment == NULL) {
		missing_field(c, "model", NULL, NULL, "you must provide a model parameter", root,
		    r);
		return -1;
	}
	return 0;
}

char *
sim_wire_stream_error(const struct sim_call *c, size_t seq)
{
	if (c->ep == SIM_EP_RESPONSES) /* the Responses API's error event has a number too */
		return xasprintf("event: error\ndata: "
		                 "{\"type\":\"error\",\"code\":\"server_error\","
		                 "\"message\":\"The server had an error while processing your "
		                 "request. Sorry about "
		                 "that!\",\"param\":null,\"sequence_number\":%zu}"
		                 "\n\n",
		    seq);
	switch (c->protocol) {
	case SIM_ANTHROPIC:
		return xstrdup("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
		               "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
	case SIM_OLLAMA:
		if (c->ep == SIM_EP_OLLAMA_CHAT)
			return xstrdup("{\"error\":\"an error was encountered while running the "
			               "model: unexpected EOF\"}\n");
		/* FALLTHROUGH */
	case SIM_OPENAI:
	case SIM_AZURE:
	case SIM_MISTRAL: break;
	}
	return xstrdup("data: {\"error\":{\"message\":\"The server had an error while processing "
	               "your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,"
	               "\"code\":null}}\n\n");
}
