/* sim_wire.c: what the simulated providers say: bodies, headers, streams, errors. */
#include "sim_wire.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a generation request asked for, read from its body. */
struct gen {
	cJSON *root;
	const char *model;
	char prompt[61 * 4 + 1]; /* first 60 characters of the last user message */
	size_t input_bytes;
	long max_tokens; /* -1: none */
	int stream;
	int include_usage;
	char *text; /* the answer, cut to max_tokens */
	int cut;    /* cut by max_tokens */
	long in_tokens, out_tokens;
	char id[64];
	int64_t created;
};

static const char *filler[] = {
    "the",
    "router",
    "keeps",
    "every",
    "request",
    "inside",
    "its",
    "deadline",
    "while",
    "providers",
    "answer",
    "with",
    "steady",
    "latency",
    "and",
    "honest",
    "token",
    "counts",
    "so",
    "operators",
    "can",
    "watch",
    "budgets",
    "breakers",
    "and",
    "caches",
    "from",
    "one",
    "calm",
    "screen",
    "without",
    "guessing",
    "what",
    "happens",
    "next",
};

void
sim_reply_free(struct sim_reply *r)
{
	for (size_t i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	free(r->hdr);
	free(r->body);
	for (size_t i = 0; i < r->nchunks; i++)
		free(r->chunks[i].data);
	free(r->chunks);
	memset(r, 0, sizeof *r);
}

void
sim_reply_header(struct sim_reply *r, const char *name, const char *value)
{
	r->hdr = xreallocarray(r->hdr, r->nhdr + 1, sizeof *r->hdr);
	r->hdr[r->nhdr].name = xstrdup(name);
	r->hdr[r->nhdr].value = xstrdup(value);
	r->nhdr++;
}

void
sim_reply_chunk(struct sim_reply *r, int delta, const char *fmt, ...)
{
	va_list ap;
	struct sim_chunk *c;

	r->chunks = xreallocarray(r->chunks, r->nchunks + 1, sizeof *r->chunks);
	c = &r->chunks[r->nchunks++];
	va_start(ap, fmt);
	c->data = xvasprintf(fmt, ap);
	va_end(ap);
	c->len = strlen(c->data);
	c->delta = delta;
	if (delta)
		r->ndeltas++;
}

/* j printed unformatted, in our allocator's memory. */
static char *
json_print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	char *out;

	if (s == NULL)
		fatal("cJSON_PrintUnformatted failed");
	out = xstrdup(s);
	cJSON_free(s);
	return out;
}

/* j printed as the reply body; j is consumed. */
static void
reply_json(struct sim_reply *r, int status, cJSON *j)
{
	r->status = status;
	free(r->body);
	r->body = json_print(j);
	r->len = strlen(r->body);
	cJSON_Delete(j);
}

/* j printed as one stream chunk between before and after; j is consumed. */
static void
chunk_json(struct sim_reply *r, int delta, const char *before, cJSON *j, const char *after)
{
	char *s = json_print(j);

	sim_reply_chunk(r, delta, "%s%s%s", before, s, after);
	free(s);
	cJSON_Delete(j);
}

static uint64_t
mix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* An id: prefix then n characters of alphabet, from the call's seed and a salt. */
static void
make_id(const struct sim_call *c, int salt, const char *prefix, const char *alphabet, size_t n,
    char *out, size_t outsz)
{
	uint64_t x = c->idseed ^ ((uint64_t)salt * 0x100000001b3ULL);
	size_t al = strlen(alphabet), p;

	p = strlcpy_(out, prefix, outsz);
	for (size_t i = 0; i < n && p + 1 < outsz; i++)
		out[p++] = alphabet[mix64(&x) % al];
	out[p < outsz ? p : outsz - 1] = '\0';
}

static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char HEX[] = "0123456789abcdef";

static void
make_uuid(const struct sim_call *c, int salt, char *out, size_t outsz)
{
	char h[33];

	make_id(c, salt, "", HEX, 32, h, sizeof h);
	snprintf(out, outsz, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

static void
rfc3339(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long
tokens_of(size_t bytes)
{
	long t = (long)((bytes + 3) / 4);

	return t < 1 ? 1 : t;
}

/* Append the text of a content value: a string or an array of {type:text,text} parts. */
static void
content_text(const cJSON *content, struct buf *b)
{
	const cJSON *part, *t;

	if (cJSON_IsString(content)) {
		buf_puts(b, content->valuestring);
		return;
	}
	if (!cJSON_IsArray(content))
		return;
	cJSON_ArrayForEach(part, content)
	{
		t = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (cJSON_IsString(t)) {
			if (b->len > 0)
				buf_puts(b, " ");
			buf_puts(b, t->valuestring);
		}
	}
}

/* Copy the first 60 characters (not bytes) of s, control characters as spaces. */
static void
copy_prompt(char *dst, size_t dstsz, const char *s)
{
	size_t o = 0;
	int chars = 0;

	while (*s != '\0' && o + 5 < dstsz) {
		unsigned char ch = (unsigned char)*s;

		if ((ch & 0xc0) != 0x80) {
			if (chars == 60)
				break;
			chars++;
		}
		dst[o++] = ch < 0x20 ? ' ' : (char)ch;
		s++;
	}
	dst[o] = '\0';
}

/* The deterministic answer for a prompt; cut to max_tokens at a character boundary. */
static void
gen_answer(const struct sim_call *c, struct gen *g)
{
	struct buf b;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t limit;

	for (const char *p = g->prompt; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (const char *p = c->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	buf_init(&b);
	buf_printf(&b, "[%s] You asked: %s. Here is a simulated answer:", c->name, g->prompt);
	for (int i = 0; i < 28; i++)
		buf_printf(&b, " %s", filler[mix64(&h) % nitems(filler)]);
	buf_puts(&b, ".");
	g->cut = 0;
	if (g->max_tokens > 0 && tokens_of(b.len) > g->max_tokens) {
		limit = (size_t)g->max_tokens * 4;
		while (limit > 0 && ((unsigned char)b.data[limit] & 0xc0) == 0x80)
			limit--;
		b.len = limit;
		b.data[limit] = '\0';
		g->cut = 1;
	}
	g->text = buf_detach(&b);
	g->out_tokens = tokens_of(strlen(g->text));
	if (g->max_tokens > 0 && g->out_tokens > g->max_tokens)
		g->out_tokens = g->max_tokens;
	g->in_tokens = tokens_of(g->input_bytes);
}

/* Split text into word tokens, each with its leading spaces: "Hello", " there". */
static size_t
next_token(const char *s, size_t at, size_t len)
{
	size_t e = at;

	while (e < len && s[e] == ' ')
		e++;
	while (e < len && s[e] != ' ')
		e++;
	return e;
}

/* Read messages (and anthropic's system) into the prompt and the input size. */
static void
gen_messages(struct gen *g, const cJSON *messages, const cJSON *system)
{
	const cJSON *m, *role, *content;
	struct buf all, last;

	buf_init(&all);
	buf_init(&last);
	if (system != NULL)
		content_text(system, &all);
	cJSON_ArrayForEach(m, messages)
	{
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		content = cJSON_GetObjectItemCaseSensitive(m, "content");
		content_text(content, &all);
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) {
			buf_reset(&last);
			content_text(content, &last);
		}
	}
	g->input_bytes = all.len;
	copy_prompt(g->prompt, sizeof g->prompt, last.data != NULL ? last.data : "");
	buf_free(&all);
	buf_free(&last);
}

static long
json_long(const cJSON *o, const char *key, long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

static void
gen_free(struct gen *g)
{
	cJSON_Delete(g->root);
	free(g->text);
}

/* ---- headers ---- */

static void
add_common_headers(const struct sim_call *c, struct sim_reply *r)
{
	char v[128], id[64];
	long rem = 4000 - 1 - (long)(c->reqno % 4000);

	switch (c->protocol) {
	case SIM_ANTHROPIC:
		make_id(c, 1, "req_011C", B62, 20, id, sizeof id);
		sim_reply_header(r, "request-id", id);
		sim_reply_header(r, "anthropic-organization-id",
		    "5576611f-a1ee-427c-9800-298d9579899c");
		rfc3339(time(NULL) + 60, v, sizeof v);
		sim_reply_header(r, "anthropic-ratelimit-requests-limit", "4000");
		snprintf(id, sizeof id, "%ld", rem);
		sim_reply_header(r, "anthropic-ratelimit-requests-remaining", id);
		sim_reply_header(r, "anthropic-ratelimit-requests-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-tokens-limit", "400000");
		sim_reply_header(r, "anthropic-ratelimit-tokens-remaining", "399000");
		sim_reply_header(r, "anthropic-ratelimit-tokens-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-limit", "400000");
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-remaining", "399000");
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-limit", "80000");
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-remaining", "80000");
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-reset", v);
		break;
	case SIM_OPENAI:
		make_id(c, 1, "req_", HEX, 32, id, sizeof id);
		sim_reply_header(r, "x-request-id", id);
		sim_reply_header(r, "openai-organization", "user-llmdeck-sim");
		sim_reply_header(r, "openai-processing-ms", "1");
		sim_reply_header(r, "openai-version", "2020-10-01");
		sim_reply_header(r, "x-ratelimit-limit-requests", "4000");
		sim_reply_header(r, "x-ratelimit-limit-tokens", "4000000");
		snprintf(v, sizeof v, "%ld", rem);
		sim_reply_header(r, "x-ratelimit-remaining-requests", v);
		sim_reply_header(r, "x-ratelimit-remaining-tokens", "3999000");
		sim_reply_header(r, "x-ratelimit-reset-requests", "15ms");
		sim_reply_header(r, "x-ratelimit-reset-tokens", "0s");
		break;
	case SIM_AZURE:
		make_uuid(c, 1, id, sizeof id);
		sim_reply_header(r, "apim-request-id", id);
		sim_reply_header(r, "x-request-id", id);
		sim_reply_header(r, "x-ms-region", "Sim Central");
		sim_reply_header(r, "x-ratelimit-limit-requests", "1000");
		sim_reply_header(r, "x-ratelimit-limit-tokens", "1000000");
		snprintf(v, sizeof v, "%ld", rem % 1000);
		sim_reply_header(r, "x-ratelimit-remaining-requests", v);
		sim_reply_header(r, "x-ratelimit-remaining-tokens", "999000");
		break;
	case SIM_MISTRAL:
		make_uuid(c, 1, id, sizeof id);
		sim_reply_header(r, "mistral-correlation-id", id);
		make_id(c, 2, "", HEX, 32, id, sizeof id);
		sim_reply_header(r, "x-kong-request-id", id);
		sim_reply_header(r, "ratelimitbysize-limit", "500000");
		sim_reply_header(r, "ratelimitbysize-remaining", "499000");
		sim_reply_header(r, "ratelimitbysize-reset", "60");
		sim_reply_header(r, "x-ratelimitbysize-limit-minute", "500000");
		sim_reply_header(r, "x-ratelimitbysize-remaining-minute", "499000");
		break;
	case SIM_OLLAMA: break;
	}
}

static void
content_type_json(const struct sim_call *c, struct sim_reply *r)
{
	if (c->protocol == SIM_OLLAMA && c->ep != SIM_EP_CHAT)
		sim_reply_header(r, "content-type", "application/json; charset=utf-8");
	else
		sim_reply_header(r, "content-type", "application/json");
}

/* ---- errors ---- */

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

/* An error reply in the shape of the provider (and, for ollama, of the endpoint). */
static void
error_reply(const struct sim_call *c, int status, const char *type, const char *code,
    const char *param, const char *message, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *e;
	char id[64], st[16];

	r->status = status;
	add_common_headers(c, r);
	content_type_json(c, r);
	switch (c->protocol) {
	case SIM_ANTHROPIC:
		cJSON_AddStringToObject(j, "type", "error");
		e = cJSON_AddObjectToObject(j, "error");
		cJSON_AddStringToObject(e, "type", type);
		cJSON_AddStringToObject(e, "message", message);
		make_id(c, 1, "req_011C", B62, 20, id, sizeof id);
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
			make_id(c, 2, "", HEX, 32, id, sizeof id);
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
		if (c->ep != SIM_EP_CHAT && c->ep != SIM_EP_MODELS) {
			cJSON_AddStringToObject(j, "error", message);
			break;
		}
		/* FALLTHROUGH */
	case SIM_OPENAI: openai_error(j, type, code, param, message); break;
	}
	reply_json(r, status, j);
}

void
sim_wire_auth_error(const struct sim_call *c, struct sim_reply *r)
{
	char msg[512], masked[32];
	const char *k = c->auth_key;
	size_t kl;

	switch (c->protocol) {
	case SIM_ANTHROPIC:
		error_reply(c, 401, "authentication_error", NULL, NULL,
		    k == NULL ? "x-api-key header is required" : "invalid x-api-key", r);
		break;
	case SIM_AZURE:
		error_reply(c, 401, NULL, "401", NULL,
		    "Access denied due to invalid subscription key or wrong API endpoint. Make "
		    "sure to provide a valid key for an active subscription and use a correct "
		    "regional API endpoint for your resource.",
		    r);
		break;
	case SIM_OLLAMA:
		if (c->ep != SIM_EP_CHAT && c->ep != SIM_EP_MODELS) {
			error_reply(c, 401, NULL, NULL, NULL, "unauthorized", r);
			break;
		}
		/* FALLTHROUGH */
	case SIM_OPENAI:
	case SIM_MISTRAL:
		if (k == NULL || *k == '\0') {
			error_reply(c, 401, "invalid_request_error", NULL, NULL,
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
		error_reply(c, 401, "invalid_request_error", "invalid_api_key", NULL, msg, r);
		break;
	}
}

static int
retryable(int status)
{
	return status == 408 || status == 409 || status == 429 || status >= 500;
}

void
sim_wire_status_error(const struct sim_call *c, int status, struct sim_reply *r)
{
	const char *type = "api_error", *code = NULL, *msg = "Simulated error.";
	char buf[512], ra[32];

	if (status == 401) {
		sim_wire_auth_error(c, r);
		return;
	}
	switch (c->protocol) {
	case SIM_ANTHROPIC:
		switch (status) {
		case 400:
			type = "invalid_request_error";
			msg = "Invalid request (simulated).";
			break;
		case 403:
			type = "permission_error";
			msg =
			    "Your API key does not have permission to use the specified resource.";
			break;
		case 404:
			type = "not_found_error";
			msg = "Not found";
			break;
		case 413:
			type = "request_too_large";
			msg = "Request exceeds the maximum allowed "
			      "number of bytes.";
			break;
		case 429:
			type = "rate_limit_error";
			msg =
			    "This request would exceed the rate limit for your organization of "
			    "4,000 requests per minute. For details, refer to: "
			    "https://docs.claude.com/en/api/rate-limits. You can see the response "
			    "headers for current usage. Please reduce the prompt length or the "
			    "maximum tokens requested, or try again later.";
			break;
		case 504:
			type = "timeout_error";
			msg = "Request timed out";
			break;
		case 529:
			type = "overloaded_error";
			msg = "Overloaded";
			break;
		default:
			type = "api_error";
			msg = "Internal server error";
			break;
		}
		break;
	case SIM_AZURE:
		switch (status) {
		case 400:
			type = "invalid_request_error";
			msg = "Invalid request (simulated).";
			break;
		case 404:
			code = "DeploymentNotFound";
			msg = "The API deployment for this resource "
			      "does not exist. If you created the deployment within the last 5 "
			      "minutes, "
			      "please wait a moment and try again.";
			break;
		case 429:
			snprintf(buf, sizeof buf,
			    "Requests to the ChatCompletions_Create Operation "
			    "under Azure OpenAI API version 2024-10-21 have exceeded token rate "
			    "limit of your current OpenAI S0 pricing tier. Please retry after %d "
			    "seconds. Please go here: https://aka.ms/oai/quotaincrease if you "
			    "would "
			    "like to further increase the default rate limit.",
			    c->retry_after_s > 0 ? c->retry_after_s : 60);
			msg = buf;
			type = NULL;
			break;
		case 500:
			code = "InternalServerError";
			msg = "The service is temporarily unable "
			      "to process your request. Please try again later.";
			type = NULL;
			break;
		case 503:
			code = "ServiceUnavailable";
			msg = "The service is temporarily "
			      "unavailable. Please try again later.";
			type = NULL;
			break;
		default:
			type = NULL;
			msg = "Simulated error.";
			break;
		}
		break;
	case SIM_MISTRAL:
		switch (status) {
		case 429:
			type = "rate_limited";
			code = "1300";
			msg = "Rate limit exceeded";
			break;
		case 400:
			type = "invalid_request_error";
			code = "3000";
			msg = "Invalid request (simulated).";
			break;
		case 503:
			type = "service_unavailable";
			code = "1000";
			msg = "Service unavailable";
			break;
		default:
			type = "internal_server_error";
			code = "1000";
			msg = "Internal server error";
			break;
		}
		break;
	case SIM_OPENAI:
	case SIM_OLLAMA:
		switch (status) {
		case 400:
			type = "invalid_request_error";
			msg = "Invalid request (simulated).";
			break;
		case 403:
			type = "invalid_request_error";
			code = "unsupported_country_region_territory";
			msg = "Country, region, or territory not supported";
			break;
		case 404:
			type = "invalid_request_error";
			code = "model_not_found";
			msg = "The model does not exist or you do not have access to it.";
			break;
		case 429:
			if (c->quota) {
				type = code = "insufficient_quota";
				msg =
				    "You exceeded your current quota, please check your plan and "
				    "billing details. For more information on this error, read the "
				    "docs: "
				    "https://platform.openai.com/docs/guides/error-codes/"
				    "api-errors.";
			} else {
				type = "requests";
				code = "rate_limit_exceeded";
				msg = "Rate limit reached for requests in organization "
				      "org-llmdecksim on requests per min (RPM): Limit 4000, Used "
				      "4000, "
				      "Requested 1. Please try again in 15ms. Visit "
				      "https://platform.openai.com/account/rate-limits to learn "
				      "more.";
			}
			break;
		case 502:
		case 503:
		case 529:
			type = "server_error";
			msg = "The engine is currently overloaded, please try again later.";
			break;
		default:
			type = "server_error";
			msg = "The server had an error while processing your request. Sorry about "
			      "that!";
			break;
		}
		if (c->protocol == SIM_OLLAMA && c->ep != SIM_EP_CHAT && c->ep != SIM_EP_MODELS)
			type = "api_error";
		break;
	}
	error_reply(c, status, type, code, NULL, msg, r);
	if (c->retry_after_s > 0 && retryable(status)) {
		snprintf(ra, sizeof ra, "%d", c->retry_after_s);
		sim_reply_header(r, "retry-after", ra);
		if (c->protocol == SIM_AZURE) {
			snprintf(ra, sizeof ra, "%d", c->retry_after_s * 1000);
			sim_reply_header(r, "retry-after-ms", ra);
		}
	}
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
		error_reply(c, 404, "not_found_error", NULL, NULL, msg, r);
		break;
	case SIM_AZURE: error_reply(c, 404, NULL, "404", NULL, "Resource not found", r); break;
	case SIM_MISTRAL:
		error_reply(c, 404, "invalid_request_error", "1500", NULL, "Not Found", r);
		break;
	case SIM_OPENAI:
		snprintf(msg, sizeof msg, "Invalid URL (%.200s)", path);
		error_reply(c, 404, "invalid_request_error", NULL, NULL, msg, r);
		break;
	case SIM_OLLAMA: error_reply(c, 404, NULL, NULL, NULL, "404 page not found", r); break;
	}
}

/* ---- validation ---- */

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
};

static void
mistral_422(const struct sim_call *c, const char *type, const char *field, const char *msg,
    const cJSON *input, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *d, *e, *loc;

	r->status = 422;
	add_common_headers(c, r);
	content_type_json(c, r);
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
	reply_json(r, 422, j);
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
		error_reply(c, 400, "invalid_request_error", NULL, NULL, msg, r);
	} else if (c->protocol == SIM_MISTRAL)
		mistral_422(c, "missing", field, "Field required", root, r);
	else if (c->ep == SIM_EP_OLLAMA_CHAT) {
		snprintf(msg, sizeof msg, "%s is required", field);
		error_reply(c, 400, NULL, NULL, NULL, msg, r);
	} else
		error_reply(c, 400, "invalid_request_error", oai_code, oai_param, oai_msg, r);
}

/* Parse and validate a generation request; 0, or -1 with the error in r. */
static int
gen_parse(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	const cJSON *root, *model, *messages, *v, *opts;
	const char *badjson;
	int anth = c->protocol == SIM_ANTHROPIC, native = c->ep == SIM_EP_OLLAMA_CHAT;

	memset(g, 0, sizeof *g);
	g->max_tokens = -1;
	g->root = cJSON_ParseWithLength(c->body != NULL ? c->body : "", c->body_len);
	root = g->root;
	if (root == NULL || !cJSON_IsObject(root)) {
		if (anth)
			badjson =
			    "There was an error parsing the body of your request: invalid JSON";
		else if (native)
			badjson = "invalid character looking for beginning of value";
		else if (c->protocol == SIM_MISTRAL)
			badjson = "Invalid JSON body";
		else
			badjson =
			    "We could not parse the JSON body of your request. (HINT: This "
			    "likely means you aren't using your HTTP library correctly. The OpenAI "
			    "API expects a JSON payload, but what was sent was not valid JSON. If "
			    "you have trouble figuring out how to fix this, please contact us "
			    "through our help center at help.openai.com.)";
		error_reply(c, 400, "invalid_request_error", NULL, NULL, badjson, r);
		return -1;
	}
	if (c->protocol == SIM_MISTRAL) {
		for (v = root->child; v != NULL; v = v->next) {
			size_t i;

			for (i = 0; i < nitems(mistral_known); i++)
				if (strcmp(v->string, mistral_known[i]) == 0)
					break;
			if (i == nitems(mistral_known)) {
				mistral_422(c, "extra_forbidden", v->string,
				    "Extra inputs are not permitted", v, r);
				return -1;
			}
		}
	}
	model = cJSON_GetObjectItemCaseSensitive(root, "model");
	messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
	if (!cJSON_IsString(model) && c->deployment == NULL) {
		missing_field(c, "model", NULL, NULL, "you must provide a model parameter", root,
		    r);
		return -1;
	}
	if (anth && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "max_tokens"))) {
		error_reply(c, 400, "invalid_request_error", NULL, NULL,
		    "max_tokens: Field required", r);
		return -1;
	}
	if (!cJSON_IsArray(messages)) {
		missing_field(c, "messages", "missing_required_parameter", "messages",
		    "Missing required parameter: 'messages'.", root, r);
		return -1;
	}
	if (cJSON_GetArraySize(messages) == 0 && !native) {
		if (anth)
			error_reply(c, 400, "invalid_request_error", NULL, NULL,
			    "messages: at least one message is required", r);
		else
			error_reply(c, 400, "invalid_request_error", "empty_array", "messages",
			    "Invalid 'messages': empty array. Expected an array with minimum "
			    "length 1, but got an empty array instead.",
			    r);
		return -1;
	}
	if (anth) {
		cJSON_ArrayForEach(v, messages)
		{
			const cJSON *role = cJSON_GetObjectItemCaseSensitive(v, "role");

			if (cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0) {
				error_reply(c, 400, "invalid_request_error", NULL, NULL,
				    "messages: Unexpected role \"system\". The Messages API "
				    "accepts a "
				    "top-level `system` parameter, not \"system\" as an input "
				    "message "
				    "role.",
				    r);
				return -1;
			}
		}
	}
	if (c->deployment != NULL)
		g->model = c->deployment;
	else if (cJSON_IsString(model) && *model->valuestring != '\0')
		g->model = model->valuestring;
	else
		g->model = c->model;
	v = cJSON_GetObjectItemCaseSensitive(root, "stream");
	g->stream = native ? !cJSON_IsFalse(v) : cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	g->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));
	if (native) {
		opts = cJSON_GetObjectItemCaseSensitive(root, "options");
		g->max_tokens = json_long(opts, "num_predict", -1);
	} else {
		g->max_tokens = json_long(root, "max_completion_tokens", -1);
		if (g->max_tokens < 0)
			g->max_tokens = json_long(root, "max_tokens", -1);
	}
	gen_messages(g, messages, anth ? cJSON_GetObjectItemCaseSensitive(root, "system") : NULL);
	g->created = (int64_t)time(NULL);
	return 0;
}

/* ---- anthropic ---- */

static cJSON *
anth_usage(const struct gen *g, int with_output)
{
	cJSON *u = cJSON_CreateObject(), *cc;

	cJSON_AddNumberToObject(u, "input_tokens", (double)g->in_tokens);
	cJSON_AddNumberToObject(u, "cache_creation_input_tokens", 0);
	cJSON_AddNumberToObject(u, "cache_read_input_tokens", 0);
	cc = cJSON_AddObjectToObject(u, "cache_creation");
	cJSON_AddNumberToObject(cc, "ephemeral_5m_input_tokens", 0);
	cJSON_AddNumberToObject(cc, "ephemeral_1h_input_tokens", 0);
	cJSON_AddNumberToObject(u, "output_tokens", with_output ? (double)g->out_tokens : 1);
	cJSON_AddStringToObject(u, "service_tier", "standard");
	return u;
}

static void
anth_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j, *m, *content, *block, *d, *u;
	const char *stop = g->cut ? "max_tokens" : "end_turn";
	size_t len = strlen(g->text), at, e;
	char *s;

	make_id(c, 3, "msg_01", B62, 22, g->id, sizeof g->id);
	r->status = 200;
	add_common_headers(c, r);
	if (!g->stream) {
		content_type_json(c, r);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "model", g->model);
		cJSON_AddStringToObject(j, "id", g->id);
		cJSON_AddStringToObject(j, "type", "message");
		cJSON_AddStringToObject(j, "role", "assistant");
		content = cJSON_AddArrayToObject(j, "content");
		block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "text");
		cJSON_AddStringToObject(block, "text", g->text);
		cJSON_AddItemToArray(content, block);
		cJSON_AddStringToObject(j, "stop_reason", stop);
		cJSON_AddNullToObject(j, "stop_sequence");
		cJSON_AddItemToObject(j, "usage", anth_usage(g, 1));
		reply_json(r, 200, j);
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type", "text/event-stream; charset=utf-8");
	sim_reply_header(r, "cache-control", "no-cache");
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "message_start");
	m = cJSON_AddObjectToObject(j, "message");
	cJSON_AddStringToObject(m, "model", g->model);
	cJSON_AddStringToObject(m, "id", g->id);
	cJSON_AddStringToObject(m, "type", "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddArrayToObject(m, "content");
	cJSON_AddNullToObject(m, "stop_reason");
	cJSON_AddNullToObject(m, "stop_sequence");
	cJSON_AddItemToObject(m, "usage", anth_usage(g, 0));
	chunk_json(r, 0, "event: message_start\ndata: ", j, "\n\n");
	sim_reply_chunk(r, 0,
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
	    "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	sim_reply_chunk(r, 0, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
	for (at = 0; at < len; at = e) {
		e = next_token(g->text, at, len);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "type", "content_block_delta");
		cJSON_AddNumberToObject(j, "index", 0);
		d = cJSON_AddObjectToObject(j, "delta");
		cJSON_AddStringToObject(d, "type", "text_delta");
		s = xstrndup(g->text + at, e - at);
		cJSON_AddStringToObject(d, "text", s);
		free(s);
		chunk_json(r, 1, "event: content_block_delta\ndata: ", j, "\n\n");
	}
	sim_reply_chunk(r, 0,
	    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
	    "\"index\":0}\n\n");
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "message_delta");
	d = cJSON_AddObjectToObject(j, "delta");
	cJSON_AddStringToObject(d, "stop_reason", stop);
	cJSON_AddNullToObject(d, "stop_sequence");
	u = cJSON_AddObjectToObject(j, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)g->in_tokens);
	cJSON_AddNumberToObject(u, "cache_creation_input_tokens", 0);
	cJSON_AddNumberToObject(u, "cache_read_input_tokens", 0);
	cJSON_AddNumberToObject(u, "output_tokens", (double)g->out_tokens);
	chunk_json(r, 0, "event: message_delta\ndata: ", j, "\n\n");
	sim_reply_chunk(r, 0, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

/* ---- openai, azure, mistral, ollama's /v1 ---- */

static cJSON *
oai_usage(const struct sim_call *c, const struct gen *g)
{
	cJSON *u = cJSON_CreateObject(), *d;

	cJSON_AddNumberToObject(u, "prompt_tokens", (double)g->in_tokens);
	if (c->protocol == SIM_MISTRAL) {
		cJSON_AddNumberToObject(u, "total_tokens", (double)(g->in_tokens + g->out_tokens));
		cJSON_AddNumberToObject(u, "completion_tokens", (double)g->out_tokens);
		return u;
	}
	cJSON_AddNumberToObject(u, "completion_tokens", (double)g->out_tokens);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(g->in_tokens + g->out_tokens));
	if (c->protocol == SIM_OLLAMA)
		return u;
	d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
	cJSON_AddNumberToObject(d, "cached_tokens", 0);
	cJSON_AddNumberToObject(d, "audio_tokens", 0);
	d = cJSON_AddObjectToObject(u, "completion_tokens_details");
	cJSON_AddNumberToObject(d, "reasoning_tokens", 0);
	cJSON_AddNumberToObject(d, "audio_tokens", 0);
	cJSON_AddNumberToObject(d, "accepted_prediction_tokens", 0);
	cJSON_AddNumberToObject(d, "rejected_prediction_tokens", 0);
	return u;
}

static cJSON *
azure_filters(int prompt)
{
	static const char *cats[] = {"hate", "self_harm", "sexual", "violence"};
	cJSON *f = cJSON_CreateObject(), *x;

	for (size_t i = 0; i < nitems(cats); i++) {
		x = cJSON_AddObjectToObject(f, cats[i]);
		cJSON_AddFalseToObject(x, "filtered");
		cJSON_AddStringToObject(x, "severity", "safe");
	}
	if (prompt) {
		x = cJSON_AddObjectToObject(f, "jailbreak");
		cJSON_AddFalseToObject(x, "filtered");
		cJSON_AddFalseToObject(x, "detected");
	}
	return f;
}

static cJSON *
azure_prompt_filter_results(void)
{
	cJSON *a = cJSON_CreateArray(), *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "prompt_index", 0);
	cJSON_AddItemToObject(p, "content_filter_results", azure_filters(1));
	cJSON_AddItemToArray(a, p);
	return a;
}

/* The head of a chat.completion(.chunk) object. */
static cJSON *
oai_head(const struct sim_call *c, const struct gen *g, const char *object)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "id", g->id);
	cJSON_AddStringToObject(j, "object", object);
	cJSON_AddNumberToObject(j, "created", (double)g->created);
	cJSON_AddStringToObject(j, "model", g->model);
	if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE)
		cJSON_AddStringToObject(j, "system_fingerprint", "fp_5050236cbd");
	else if (c->protocol == SIM_OLLAMA)
		cJSON_AddStringToObject(j, "system_fingerprint", "fp_ollama");
	return j;
}

/* One stream chunk: delta text (NULL for none), role, finish reason. */
static void
oai_chunk(const struct sim_call *c, const struct gen *g, struct sim_reply *r, int delta,
    const char *text, int role, const char *finish, int with_usage)
{
	cJSON *j = oai_head(c, g, "chat.completion.chunk"), *ch, *choice, *d;

	ch = cJSON_AddArrayToObject(j, "choices");
	choice = cJSON_CreateObject();
	cJSON_AddItemToArray(ch, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	d = cJSON_AddObjectToObject(choice, "delta");
	if (role)
		cJSON_AddStringToObject(d, "role", "assistant");
	if (text != NULL)
		cJSON_AddStringToObject(d, "content", text);
	if (role && c->protocol != SIM_MISTRAL && c->protocol != SIM_OLLAMA)
		cJSON_AddNullToObject(d, "refusal");
	if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE)
		cJSON_AddNullToObject(choice, "logprobs");
	if (finish != NULL)
		cJSON_AddStringToObject(choice, "finish_reason", finish);
	else
		cJSON_AddNullToObject(choice, "finish_reason");
	if (c->protocol == SIM_AZURE)
		cJSON_AddItemToObject(choice, "content_filter_results",
		    finish != NULL || role ? cJSON_CreateObject() : azure_filters(0));
	if (with_usage)
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
	chunk_json(r, delta, "data: ", j, "\n\n");
}

static void
oai_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j, *ch, *choice, *m;
	const char *finish = g->cut ? "length" : "stop";
	size_t len = strlen(g->text), at, e;
	char *s;

	if (c->protocol == SIM_MISTRAL)
		make_id(c, 3, "", HEX, 32, g->id, sizeof g->id);
	else if (c->protocol == SIM_OLLAMA)
		snprintf(g->id, sizeof g->id, "chatcmpl-%u", (unsigned)(c->idseed % 1000));
	else
		make_id(c, 3, "chatcmpl-", B62, 29, g->id, sizeof g->id);
	r->status = 200;
	add_common_headers(c, r);
	if (!g->stream) {
		content_type_json(c, r);
		j = oai_head(c, g, "chat.completion");
		ch = cJSON_AddArrayToObject(j, "choices");
		choice = cJSON_CreateObject();
		cJSON_AddItemToArray(ch, choice);
		cJSON_AddNumberToObject(choice, "index", 0);
		m = cJSON_AddObjectToObject(choice, "message");
		cJSON_AddStringToObject(m, "role", "assistant");
		if (c->protocol == SIM_MISTRAL)
			cJSON_AddNullToObject(m, "tool_calls");
		cJSON_AddStringToObject(m, "content", g->text);
		if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE) {
			cJSON_AddNullToObject(m, "refusal");
			cJSON_AddArrayToObject(m, "annotations");
			cJSON_AddNullToObject(choice, "logprobs");
		}
		cJSON_AddStringToObject(choice, "finish_reason", finish);
		if (c->protocol == SIM_AZURE)
			cJSON_AddItemToObject(choice, "content_filter_results", azure_filters(0));
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
		if (c->protocol == SIM_OPENAI)
			cJSON_AddStringToObject(j, "service_tier", "default");
		if (c->protocol == SIM_AZURE)
			cJSON_AddItemToObject(j, "prompt_filter_results",
			    azure_prompt_filter_results());
		reply_json(r, 200, j);
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type",
	    c->protocol == SIM_OLLAMA ? "text/event-stream" : "text/event-stream; charset=utf-8");
	sim_reply_header(r, "cache-control", "no-cache");
	if (c->protocol == SIM_AZURE) {
		j = cJSON_CreateObject();
		cJSON_AddArrayToObject(j, "choices");
		cJSON_AddNumberToObject(j, "created", 0);
		cJSON_AddStringToObject(j, "id", "");
		cJSON_AddStringToObject(j, "model", "");
		cJSON_AddStringToObject(j, "object", "");
		cJSON_AddItemToObject(j, "prompt_filter_results", azure_prompt_filter_results());
		chunk_json(r, 0, "data: ", j, "\n\n");
	}
	oai_chunk(c, g, r, 0, "", 1, NULL, 0);
	for (at = 0; at < len; at = e) {
		e = next_token(g->text, at, len);
		s = xstrndup(g->text + at, e - at);
		oai_chunk(c, g, r, 1, s, 0, NULL, 0);
		free(s);
	}
	if (c->protocol == SIM_MISTRAL)
		oai_chunk(c, g, r, 0, "", 0, finish, 1);
	else
		oai_chunk(c, g, r, 0, NULL, 0, finish, 0);
	if (g->include_usage && c->protocol != SIM_MISTRAL) {
		j = oai_head(c, g, "chat.completion.chunk");
		cJSON_AddArrayToObject(j, "choices");
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
		chunk_json(r, 0, "data: ", j, "\n\n");
	}
	sim_reply_chunk(r, 0, "data: [DONE]\n\n");
}

/* ---- ollama native ---- */

static void
ollama_time(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	char b[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%09ldZ", b, ts.tv_nsec);
}

static cJSON *
ollama_obj(const struct gen *g, const char *text, int done)
{
	cJSON *j = cJSON_CreateObject(), *m;
	char t[64];

	ollama_time(t, sizeof t);
	cJSON_AddStringToObject(j, "model", g->model);
	cJSON_AddStringToObject(j, "created_at", t);
	m = cJSON_AddObjectToObject(j, "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", text);
	if (done) {
		cJSON_AddStringToObject(j, "done_reason", g->cut ? "length" : "stop");
		cJSON_AddTrueToObject(j, "done");
		cJSON_AddNumberToObject(j, "total_duration", 5043500667.0);
		cJSON_AddNumberToObject(j, "load_duration", 5025959.0);
		cJSON_AddNumberToObject(j, "prompt_eval_count", (double)g->in_tokens);
		cJSON_AddNumberToObject(j, "prompt_eval_duration", 325953000.0);
		cJSON_AddNumberToObject(j, "eval_count", (double)g->out_tokens);
		cJSON_AddNumberToObject(j, "eval_duration", 4709213000.0);
	} else
		cJSON_AddFalseToObject(j, "done");
	return j;
}

static void
ollama_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j;
	size_t len = strlen(g->text), at, e;
	char *tok;

	r->status = 200;
	if (!g->stream) {
		content_type_json(c, r);
		reply_json(r, 200, ollama_obj(g, g->text, 1));
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type", "application/x-ndjson");
	for (at = 0; at < len; at = e) {
		e = next_token(g->text, at, len);
		tok = xstrndup(g->text + at, e - at);
		j = ollama_obj(g, tok, 0);
		chunk_json(r, 1, "", j, "\n");
		free(tok);
	}
	j = ollama_obj(g, "", 1);
	chunk_json(r, 0, "", j, "\n");
}

/* ---- models, health ---- */

static void
models_answer(const struct sim_call *c, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *d, *m, *det;
	char t[64];

	r->status = 200;
	add_common_headers(c, r);
	content_type_json(c, r);
	switch (c->ep) {
	case SIM_EP_OLLAMA_VERSION: cJSON_AddStringToObject(j, "version", "0.5.7"); break;
	case SIM_EP_OLLAMA_TAGS:
		d = cJSON_AddArrayToObject(j, "models");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(d, m);
		cJSON_AddStringToObject(m, "name", c->model);
		cJSON_AddStringToObject(m, "model", c->model);
		cJSON_AddStringToObject(m, "modified_at", "2025-01-01T00:00:00.000000000Z");
		cJSON_AddNumberToObject(m, "size", 2019393189.0);
		cJSON_AddStringToObject(m, "digest",
		    "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72");
		det = cJSON_AddObjectToObject(m, "details");
		cJSON_AddStringToObject(det, "format", "gguf");
		cJSON_AddStringToObject(det, "family", "llama");
		cJSON_AddStringToObject(det, "parameter_size", "3.2B");
		cJSON_AddStringToObject(det, "quantization_level", "Q4_K_M");
		break;
	default:
		if (c->protocol == SIM_ANTHROPIC) {
			rfc3339(1740000000, t, sizeof t);
			d = cJSON_AddArrayToObject(j, "data");
			m = cJSON_CreateObject();
			cJSON_AddItemToArray(d, m);
			cJSON_AddStringToObject(m, "type", "model");
			cJSON_AddStringToObject(m, "id", c->model);
			cJSON_AddStringToObject(m, "display_name", c->model);
			cJSON_AddStringToObject(m, "created_at", t);
			cJSON_AddFalseToObject(j, "has_more");
			cJSON_AddStringToObject(j, "first_id", c->model);
			cJSON_AddStringToObject(j, "last_id", c->model);
			break;
		}
		cJSON_AddStringToObject(j, "object", "list");
		d = cJSON_AddArrayToObject(j, "data");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(d, m);
		cJSON_AddStringToObject(m, "id", c->model);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 1715367049);
		cJSON_AddStringToObject(m, "owned_by",
		    c->protocol == SIM_MISTRAL      ? "mistralai"
		        : c->protocol == SIM_OLLAMA ? "library"
		                                    : "system");
		break;
	}
	reply_json(r, 200, j);
}

void
sim_wire_answer(const struct sim_call *c, struct sim_reply *r)
{
	struct gen g;

	switch (c->ep) {
	case SIM_EP_HEALTH:
		r->status = 200;
		r->body = xstrdup("");
		return;
	case SIM_EP_OLLAMA_ROOT:
		r->status = 200;
		sim_reply_header(r, "content-type", "text/plain; charset=utf-8");
		r->body = xstrdup("Ollama is running");
		r->len = strlen(r->body);
		return;
	case SIM_EP_MODELS:
	case SIM_EP_OLLAMA_VERSION:
	case SIM_EP_OLLAMA_TAGS: models_answer(c, r); return;
	case SIM_EP_MESSAGES:
	case SIM_EP_CHAT:
	case SIM_EP_OLLAMA_CHAT: break;
	case SIM_EP_NONE: sim_wire_not_found(c, "", r); return;
	}
	if (gen_parse(c, &g, r) != 0) {
		gen_free(&g);
		return;
	}
	gen_answer(c, &g);
	if (c->ep == SIM_EP_MESSAGES)
		anth_answer(c, &g, r);
	else if (c->ep == SIM_EP_OLLAMA_CHAT)
		ollama_answer(c, &g, r);
	else
		oai_answer(c, &g, r);
	gen_free(&g);
}

void
sim_wire_malformed(const struct sim_call *c, int stream, struct sim_reply *r)
{
	r->status = 200;
	add_common_headers(c, r);
	if (stream) {
		r->stream = 1;
		if (c->ep == SIM_EP_OLLAMA_CHAT) {
			sim_reply_header(r, "content-type", "application/x-ndjson");
			sim_reply_chunk(r, 0, "{\"model\":\"%s\",\"message\":{\"role\":\"assis\n",
			    c->model);
			return;
		}
		sim_reply_header(r, "content-type", "text/event-stream; charset=utf-8");
		if (c->ep == SIM_EP_MESSAGES)
			sim_reply_chunk(r, 0,
			    "event: message_start\ndata: {\"type\":\"message_start"
			    "\",\"message\":{\"id\":\"msg_01\",\"content\":[\n\n");
		else
			sim_reply_chunk(r, 0,
			    "data: {\"id\":\"chatcmpl-x\",\"object\":\"chat."
			    "completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"\n\n"
			    "data: [DONE]\n\n");
		return;
	}
	content_type_json(c, r);
	if (c->ep == SIM_EP_MESSAGES)
		r->body = xstrdup("{\"model\":\"sim\",\"id\":\"msg_01\",\"type\":\"message\","
		                  "\"content\":[{\"type\":\"text\",\"text\":\"Hel");
	else if (c->ep == SIM_EP_OLLAMA_CHAT)
		r->body = xstrdup("{\"model\":\"sim\",\"message\":{\"role\":\"assistant\",\"con");
	else
		r->body = xstrdup("{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion\","
		                  "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assist");
	r->len = strlen(r->body);
}

char *
sim_wire_stream_error(const struct sim_call *c)
{
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
