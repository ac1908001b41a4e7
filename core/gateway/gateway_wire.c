/*
 * gateway_wire.c: OpenAI Chat Completions and Anthropic Messages as clients
 * send them, translated to and from llm.h's one model: request parsing with
 * errors that name the field, whole answers, stream events and error bodies.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_priv.h"

/* The message echoes the client's bytes (a role, a part's type): kept to one line. */
static int PRINTFLIKE(3, 4) bad_set(struct gw_bad *bad, const char *param, const char *fmt, ...)
{
	va_list ap;

	snprintf(bad->param, sizeof bad->param, "%s", param != NULL ? param : "");
	va_start(ap, fmt);
	vsnprintf(bad->message, sizeof bad->message, fmt, ap);
	va_end(ap);
	str_oneline(bad->message);
	return -1;
}

void
gw_json_escape(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t n = 0;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(out, s + start, i - start);
		start = i + 1;
		esc[n++] = '\\';
		switch (c) {
		case '"': esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; break;
		case '\n': esc[n++] = 'n'; break;
		case '\r': esc[n++] = 'r'; break;
		case '\t': esc[n++] = 't'; break;
		default:
			esc[n++] = 'u';
			esc[n++] = '0';
			esc[n++] = '0';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
			break;
		}
		buf_append(out, esc, n);
	}
	buf_append(out, s + start, len - start);
}

/* The text of a message's content: a string, or an array of {"type":"text","text":...}. */
static int
content_text(const cJSON *c, const char *path, struct buf *out, struct gw_bad *bad)
{
	const cJSON *part;
	int i = 0;

	buf_append(out, "", 0); /* a string even when the content is empty */
	if (cJSON_IsString(c)) {
		buf_puts(out, c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return bad_set(bad, path, "%s: expected a string or an array of text parts", path);
	if (cJSON_GetArraySize(c) == 0)
		return bad_set(bad, path, "%s: an empty array (needs at least one part)", path);
	cJSON_ArrayForEach(part, c)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");

		if (!cJSON_IsObject(part) || !cJSON_IsString(type))
			return bad_set(bad, path, "%s[%d]: expected an object with a \"type\"",
			    path, i);
		if (strcmp(type->valuestring, "text") != 0)
			return bad_set(bad, path,
			    "%s[%d].type: only \"text\" parts are supported, "
			    "got \"%s\"",
			    path, i, type->valuestring);
		if (!cJSON_IsString(text))
			return bad_set(bad, path, "%s[%d].text: expected a string", path, i);
		buf_puts(out, text->valuestring);
		i++;
	}
	return 0;
}

/* Optional number field in [lo, hi]; 1 if present, 0 if absent or null, -1 if wrong. */
static int
opt_number(const cJSON *o, const char *key, double lo, double hi, double *out, struct gw_bad *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return bad_set(bad, key, "%s: expected a number", key);
	if (v->valuedouble < lo || v->valuedouble > hi)
		return bad_set(bad, key, "%s: %g is out of range [%g, %g]", key, v->valuedouble, lo,
		    hi);
	*out = v->valuedouble;
	return 1;
}

static int
opt_int(const cJSON *o, const char *key, int lo, int hi, int *out, struct gw_bad *bad)
{
	double d;
	int rc = opt_number(o, key, lo, hi, &d, bad);

	if (rc <= 0)
		return rc;
	if (d != floor(d))
		return bad_set(bad, key, "%s: expected an integer", key);
	*out = (int)d;
	return 1;
}

static int
opt_bool(const cJSON *o, const char *key, int *out, struct gw_bad *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return bad_set(bad, key, "%s: expected true or false", key);
	*out = cJSON_IsTrue(v);
	return 1;
}

/* stop / stop_sequences: a string (if one_ok) or an array of strings. */
static int
parse_stops(const cJSON *o, const char *key, int one_ok, struct llm_request *req,
    struct gw_bad *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *s;
	size_t n = 0;

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (one_ok && cJSON_IsString(v)) {
		req->stop = xcalloc(1, sizeof *req->stop);
		req->stop[0] = xstrdup(v->valuestring);
		req->n_stop = 1;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return bad_set(bad, key,
		    one_ok ? "%s: expected a string or an array of strings"
		           : "%s: expected an array of strings",
		    key);
	req->stop = xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *req->stop);
	cJSON_ArrayForEach(s, v)
	{
		if (!cJSON_IsString(s))
			return bad_set(bad, key, "%s[%zu]: expected a string", key, n);
		req->stop[n++] = xstrdup(s->valuestring);
		req->n_stop = n;
	}
	return 0;
}

static cJSON *
parse_object(const char *body, size_t len, struct gw_bad *bad)
{
	cJSON *root;

	if (len == 0) {
		bad_set(bad, NULL, "the request body is empty: expected a JSON object");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		long off = at != NULL && at >= body && at <= body + len ? (long)(at - body) : -1;
		bad_set(bad, NULL, "the request body is not valid JSON (near byte %ld)", off);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		bad_set(bad, NULL, "the request body must be a JSON object");
		return NULL;
	}
	return root;
}

static int
parse_model(const cJSON *root, struct gw_ask *ask, struct gw_bad *bad)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");

	if (m == NULL)
		return bad_set(bad, "model", "model: required (a model alias or a route name)");
	if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
		return bad_set(bad, "model", "model: expected a non-empty string");
	if (strlen(m->valuestring) >= sizeof ask->model)
		return bad_set(bad, "model", "model: too long");
	snprintf(ask->model, sizeof ask->model, "%s", m->valuestring);
	return 0;
}

static void
system_append(struct llm_request *req, const char *text)
{
	char *s;

	if (req->system == NULL) {
		req->system = xstrdup(text);
		return;
	}
	s = xasprintf("%s\n\n%s", req->system, text);
	free(req->system);
	req->system = s;
}

/* The request's non-empty "messages" array, or NULL with bad set. */
static const cJSON *
messages_array(const cJSON *root, struct gw_bad *bad)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");

	if (msgs == NULL) {
		bad_set(bad, "messages", "messages: required (an array of messages)");
		return NULL;
	}
	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
		bad_set(bad, "messages", "messages: expected a non-empty array");
		return NULL;
	}
	return msgs;
}

/* Message i must be an object with a string role: 0, or -1 with bad set. */
static int
message_check(const cJSON *m, const cJSON *role, int i, struct gw_bad *bad)
{
	if (!cJSON_IsObject(m)) {
		bad_set(bad, "messages", "messages[%d]: expected an object", i);
		return -1;
	}
	if (!cJSON_IsString(role)) {
		bad_set(bad, "messages", "messages[%d].role: expected a string", i);
		return -1;
	}
	return 0;
}

int
gw_parse_openai(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	cJSON *root;
	const cJSON *msgs, *m, *so;
	struct buf text;
	char path[64];
	double d;
	int i = 0, rc = -1, n;

	memset(ask, 0, sizeof *ask);
	if ((root = parse_object(body, len, bad)) == NULL)
		return -1;
	buf_init(&text);
	if (parse_model(root, ask, bad) != 0)
		goto out;
	if ((msgs = messages_array(root, bad)) == NULL)
		goto out;
	cJSON_ArrayForEach(m, msgs)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

		if (message_check(m, role, i, bad) != 0)
			goto out;
		snprintf(path, sizeof path, "messages[%d].content", i);
		buf_reset(&text);
		if (content == NULL || cJSON_IsNull(content)) {
			bad_set(bad, "messages", "%s: required (tool calls are not supported)",
			    path);
			goto out;
		}
		if (content_text(content, path, &text, bad) != 0)
			goto out;
		if (strcmp(role->valuestring, "system") == 0 ||
		    strcmp(role->valuestring, "developer") == 0)
			system_append(req, text.data);
		else if (strcmp(role->valuestring, "user") == 0)
			llm_request_add_message(req, LLM_ROLE_USER, text.data);
		else if (strcmp(role->valuestring, "assistant") == 0)
			llm_request_add_message(req, LLM_ROLE_ASSISTANT, text.data);
		else {
			bad_set(bad, "messages",
			    "messages[%d].role: \"%s\" is not supported (system, "
			    "developer, user or assistant)",
			    i, role->valuestring);
			goto out;
		}
		i++;
	}
	if (req->n_messages == 0) {
		bad_set(bad, "messages", "messages: needs at least one user message");
		goto out;
	}
	if ((n = opt_number(root, "temperature", 0, 2, &d, bad)) < 0)
		goto out;
	if (n > 0) {
		req->temperature = d;
		req->has_temperature = 1;
	}
	if ((n = opt_number(root, "top_p", 0, 1, &d, bad)) < 0)
		goto out;
	if (n > 0) {
		req->top_p = d;
		req->has_top_p = 1;
	}
	if (opt_int(root, "max_tokens", 1, 10000000, &req->max_tokens, bad) < 0 ||
	    opt_int(root, "max_completion_tokens", 1, 10000000, &req->max_tokens, bad) < 0)
		goto out;
	if (opt_int(root, "n", 1, 1, &n, bad) < 0)
		goto out;
	if (parse_stops(root, "stop", 1, req, bad) != 0)
		goto out;
	if (opt_bool(root, "stream", &req->stream, bad) < 0)
		goto out;
	so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	if (so != NULL && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so)) {
			bad_set(bad, "stream_options", "stream_options: expected an object");
			goto out;
		}
		if (opt_bool(so, "include_usage", &ask->include_usage, bad) < 0) {
			snprintf(bad->param, sizeof bad->param, "stream_options.include_usage");
			goto out;
		}
	}
	rc = 0;
out:
	buf_free(&text);
	cJSON_Delete(root);
	return rc;
}

int
gw_parse_anthropic(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	cJSON *root;
	const cJSON *msgs, *m, *sys;
	struct buf text;
	char path[64];
	double d;
	int i = 0, rc = -1, n;

	memset(ask, 0, sizeof *ask);
	if ((root = parse_object(body, len, bad)) == NULL)
		return -1;
	buf_init(&text);
	if (parse_model(root, ask, bad) != 0)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(root, "max_tokens") == NULL) {
		bad_set(bad, "max_tokens", "max_tokens: required (an integer >= 1)");
		goto out;
	}
	if (opt_int(root, "max_tokens", 1, 10000000, &req->max_tokens, bad) < 0)
		goto out;
	sys = cJSON_GetObjectItemCaseSensitive(root, "system");
	if (sys != NULL && !cJSON_IsNull(sys)) {
		if (content_text(sys, "system", &text, bad) != 0)
			goto out;
		if (text.len > 0)
			system_append(req, text.data);
	}
	if ((msgs = messages_array(root, bad)) == NULL)
		goto out;
	cJSON_ArrayForEach(m, msgs)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");

		if (message_check(m, role, i, bad) != 0)
			goto out;
		snprintf(path, sizeof path, "messages[%d].content", i);
		buf_reset(&text);
		if (content == NULL) {
			bad_set(bad, "messages", "%s: required", path);
			goto out;
		}
		if (content_text(content, path, &text, bad) != 0)
			goto out;
		if (strcmp(role->valuestring, "user") == 0)
			llm_request_add_message(req, LLM_ROLE_USER, text.data);
		else if (strcmp(role->valuestring, "assistant") == 0)
			llm_request_add_message(req, LLM_ROLE_ASSISTANT, text.data);
		else {
			bad_set(bad, "messages",
			    "messages[%d].role: \"%s\" is not supported (user or "
			    "assistant; the system prompt is the top-level \"system\")",
			    i, role->valuestring);
			goto out;
		}
		i++;
	}
	if ((n = opt_number(root, "temperature", 0, 1, &d, bad)) < 0)
		goto out;
	if (n > 0) {
		req->temperature = d;
		req->has_temperature = 1;
	}
	if ((n = opt_number(root, "top_p", 0, 1, &d, bad)) < 0)
		goto out;
	if (n > 0) {
		req->top_p = d;
		req->has_top_p = 1;
	}
	if (parse_stops(root, "stop_sequences", 0, req, bad) != 0)
		goto out;
	if (opt_bool(root, "stream", &req->stream, bad) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&text);
	cJSON_Delete(root);
	return rc;
}

int
gw_resolve_model(const struct config *cfg, const char *name, struct llm_request *req,
    struct gw_bad *bad)
{
	if (config_route(cfg, name) != NULL) {
		req->route = xstrdup(name);
		return 0;
	}
	if (config_model(cfg, name) != NULL) {
		req->model = xstrdup(name);
		return 0;
	}
	for (size_t i = 0; i < cfg->n_providers; i++)
		for (size_t j = 0; j < cfg->providers[i].n_models; j++)
			if (strcmp(cfg->providers[i].models[j], name) == 0) {
				req->model = xstrdup(name);
				return 0;
			}
	for (size_t i = 0; i < cfg->n_models; i++)
		if (cfg->models[i].id != NULL && strcmp(cfg->models[i].id, name) == 0) {
			req->model = xstrdup(cfg->models[i].alias);
			return 0;
		}
	return bad_set(bad, "model",
	    "model: \"%s\" is neither a model alias nor a route "
	    "(GET /v1/models lists them)",
	    name);
}

static const char *
openai_finish(enum llm_stop s)
{
	switch (s) {
	case LLM_STOP_MAX_TOKENS: return "length";
	case LLM_STOP_TOOL_USE: return "tool_calls";
	case LLM_STOP_CONTENT_FILTER: return "content_filter";
	default: return "stop";
	}
}

static const char *
anthropic_stop(enum llm_stop s)
{
	switch (s) {
	case LLM_STOP_MAX_TOKENS: return "max_tokens";
	case LLM_STOP_STOP_SEQUENCE: return "stop_sequence";
	case LLM_STOP_TOOL_USE: return "tool_use";
	case LLM_STOP_CONTENT_FILTER: return "refusal";
	default: return "end_turn";
	}
}

static const char *
answer_model(const struct router_result *res, const char *model)
{
	return res->resp.model != NULL && res->resp.model[0] != '\0' ? res->resp.model : model;
}

static void
openai_usage(cJSON *o, const struct llm_usage *u)
{
	cJSON *us = cJSON_AddObjectToObject(o, "usage");

	cJSON_AddNumberToObject(us, "prompt_tokens", (double)u->input_tokens);
	cJSON_AddNumberToObject(us, "completion_tokens", (double)u->output_tokens);
	cJSON_AddNumberToObject(us, "total_tokens", (double)(u->input_tokens + u->output_tokens));
	if (u->cache_read_tokens > 0) {
		cJSON *d = cJSON_AddObjectToObject(us, "prompt_tokens_details");
		cJSON_AddNumberToObject(d, "cached_tokens", (double)u->cache_read_tokens);
	}
}

char *
gw_openai_answer(const struct router_result *res, const char *id, const char *model,
    int64_t created)
{
	cJSON *o = cJSON_CreateObject(), *choices, *c, *msg;
	char *s;

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", "chat.completion");
	cJSON_AddNumberToObject(o, "created", (double)created);
	cJSON_AddStringToObject(o, "model", answer_model(res, model));
	choices = cJSON_AddArrayToObject(o, "choices");
	c = cJSON_CreateObject();
	cJSON_AddNumberToObject(c, "index", 0);
	msg = cJSON_AddObjectToObject(c, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", res->resp.content != NULL ? res->resp.content : "");
	cJSON_AddNullToObject(msg, "refusal");
	cJSON_AddNullToObject(c, "logprobs");
	cJSON_AddStringToObject(c, "finish_reason", openai_finish(res->resp.stop));
	cJSON_AddItemToArray(choices, c);
	openai_usage(o, &res->resp.usage);
	cJSON_AddNullToObject(o, "system_fingerprint");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *
gw_anthropic_answer(const struct router_result *res, const char *id, const char *model)
{
	cJSON *o = cJSON_CreateObject(), *content, *t, *u;
	char *s;

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "role", "assistant");
	cJSON_AddStringToObject(o, "model", answer_model(res, model));
	content = cJSON_AddArrayToObject(o, "content");
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "text");
	cJSON_AddStringToObject(t, "text", res->resp.content != NULL ? res->resp.content : "");
	cJSON_AddItemToArray(content, t);
	cJSON_AddStringToObject(o, "stop_reason", anthropic_stop(res->resp.stop));
	cJSON_AddNullToObject(o, "stop_sequence");
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)res->resp.usage.input_tokens);
	cJSON_AddNumberToObject(u, "output_tokens", (double)res->resp.usage.output_tokens);
	cJSON_AddNumberToObject(u, "cache_read_input_tokens",
	    (double)res->resp.usage.cache_read_tokens);
	cJSON_AddNumberToObject(u, "cache_creation_input_tokens",
	    (double)res->resp.usage.cache_write_tokens);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* The start of an OpenAI chunk, up to and including "choices":[ . */
static void
openai_chunk_head(struct gw_stream *st, struct buf *out)
{
	buf_puts(out, "data: {\"id\":\"");
	gw_json_escape(out, st->id, strlen(st->id));
	buf_printf(out, "\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":\"",
	    (long long)st->created);
	gw_json_escape(out, st->model, strlen(st->model));
	buf_puts(out, "\",\"system_fingerprint\":null,\"choices\":[");
}

static void
openai_chunk_tail(struct gw_stream *st, struct buf *out)
{
	buf_puts(out, st->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n");
}

void
gw_stream_open(struct gw_stream *st, struct buf *out)
{
	if (st->opened)
		return;
	st->opened = 1;
	if (st->api == GW_OPENAI) {
		openai_chunk_head(st, out);
		buf_puts(out,
		    "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
		    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}");
		openai_chunk_tail(st, out);
		return;
	}
	buf_puts(out,
	    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
	    "{\"id\":\"");
	gw_json_escape(out, st->id, strlen(st->id));
	buf_puts(out, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"");
	gw_json_escape(out, st->model, strlen(st->model));
	buf_puts(out,
	    "\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
	    "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n"
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	    "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

void
gw_stream_delta(struct gw_stream *st, struct buf *out, const char *text, size_t len)
{
	gw_stream_open(st, out);
	if (st->api == GW_OPENAI) {
		openai_chunk_head(st, out);
		buf_puts(out, "{\"index\":0,\"delta\":{\"content\":\"");
		gw_json_escape(out, text, len);
		buf_puts(out, "\"},\"logprobs\":null,\"finish_reason\":null}");
		openai_chunk_tail(st, out);
		return;
	}
	buf_puts(out,
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	    "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"");
	gw_json_escape(out, text, len);
	buf_puts(out, "\"}}\n\n");
}

void
gw_stream_close(struct gw_stream *st, struct buf *out, const struct router_result *res)
{
	const struct llm_usage *u = &res->resp.usage;

	gw_stream_open(st, out);
	if (st->api == GW_OPENAI) {
		openai_chunk_head(st, out);
		buf_printf(out,
		    "{\"index\":0,\"delta\":{},\"logprobs\":null,"
		    "\"finish_reason\":\"%s\"}",
		    openai_finish(res->resp.stop));
		openai_chunk_tail(st, out);
		if (st->include_usage) {
			openai_chunk_head(st, out);
			buf_printf(out,
			    "],\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":"
			    "%lld,\"total_tokens\":%lld}}\n\n",
			    (long long)u->input_tokens, (long long)u->output_tokens,
			    (long long)(u->input_tokens + u->output_tokens));
		}
		buf_puts(out, "data: [DONE]\n\n");
		return;
	}
	buf_printf(out,
	    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
	    "\"index\":0}\n\n"
	    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"%s\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":%lld,"
	    "\"output_tokens\":%lld}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	    anthropic_stop(res->resp.stop), (long long)u->input_tokens,
	    (long long)u->output_tokens);
}

int
gw_error_status(enum llm_errclass cls)
{
	switch (cls) {
	case LLM_ERR_BAD_REQUEST: return 400;
	case LLM_ERR_RATE_LIMIT: return 429;
	case LLM_ERR_BUDGET: return 429;
	case LLM_ERR_OVERLOADED: return 503;
	case LLM_ERR_NO_PROVIDER: return 503;
	case LLM_ERR_CANCELLED: return 503;
	case LLM_ERR_TIMEOUT: return 504;
	case LLM_ERR_INTERNAL: return 500;
	case LLM_ERR_SERVER:
	case LLM_ERR_CONNECT:
	case LLM_ERR_MALFORMED:
	case LLM_ERR_AUTH:
	case LLM_ERR_QUOTA:
	case LLM_ERR_NOT_FOUND:
	case LLM_ERR_STREAM:
	default: return 502;
	}
}

/* OpenAI's error type, and Anthropic's, for a status and class. */
static const char *
error_type(enum gw_api api, int status, enum llm_errclass cls)
{
	if (cls == LLM_ERR_BUDGET)
		return "budget_exceeded";
	if (api == GW_OPENAI) {
		switch (status) {
		case 400:
		case 404:
		case 405:
		case 413:
		case 431: return "invalid_request_error";
		case 401: return "authentication_error";
		case 429: return "rate_limit_exceeded";
		case 503: return cls == LLM_ERR_OVERLOADED ? "overloaded" : "service_unavailable";
		case 504: return "timeout";
		default: return "upstream_error";
		}
	}
	switch (status) {
	case 400:
	case 405:
	case 431: return "invalid_request_error";
	case 401: return "authentication_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503: return cls == LLM_ERR_OVERLOADED ? "overloaded_error" : "api_error";
	case 504: return "timeout_error";
	default: return "api_error";
	}
}

char *
gw_error_body(enum gw_api api, int status, enum llm_errclass cls, const char *message,
    const char *param)
{
	cJSON *o = cJSON_CreateObject(), *e;
	char *s;

	if (api == GW_OPENAI) {
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "message", message);
		cJSON_AddStringToObject(e, "type", error_type(api, status, cls));
		if (param != NULL && param[0] != '\0')
			cJSON_AddStringToObject(e, "param", param);
		else
			cJSON_AddNullToObject(e, "param");
		if (cls != LLM_OK)
			cJSON_AddStringToObject(e, "code",
			    cls == LLM_ERR_BUDGET ? "budget_exceeded" : llm_errclass_name(cls));
		else
			cJSON_AddNullToObject(e, "code");
	} else {
		cJSON_AddStringToObject(o, "type", "error");
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "type", error_type(api, status, cls));
		cJSON_AddStringToObject(e, "message", message);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

void
gw_stream_error(struct gw_stream *st, struct buf *out, int status, enum llm_errclass cls,
    const char *message)
{
	char *body = gw_error_body(st->api, status, cls, message, NULL);

	if (st->api == GW_OPENAI)
		buf_printf(out, "data: %s\n\n", body);
	else
		buf_printf(out, "event: error\ndata: %s\n\n", body);
	free(body);
}
