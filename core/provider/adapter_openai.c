/*
 * adapter_openai.c: OpenAI Chat Completions (POST /v1/chat/completions) and
 * the servers that speak it with quirks: Mistral (no unknown fields, array
 * content with Magistral's thinking chunks, random_seed, tool_choice "any"),
 * vLLM and llama.cpp (base URLs documented with /v1), Ollama's /v1. Text,
 * image_url parts, tool_calls (streamed as index deltas), role "tool"
 * results, response_format, reasoning: both ways, streamed and not. The body,
 * response and stream code here serves the azure adapter too.
 */
#include "provider/adapter_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENAI_MAX_STOP 4          /* OpenAI takes up to 4 stop sequences */
#define OPENAI_MAX_TOOL_CALLS 4096 /* tool call indexes of one streamed answer we follow */

static int
openai_is_native(const struct provider_conf *conf)
{
	return conf->kind == PROVIDER_OPENAI && conf->flavor == FLAVOR_OPENAI;
}

/* What an OpenAI-compatible server cannot take, by flavor (azure: FLAVOR_OPENAI's). */
int
adapter_openai_check(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	enum provider_flavor fl = conf->kind == PROVIDER_AZURE ? FLAVOR_OPENAI : conf->flavor;
	const char *who = conf->kind == PROVIDER_AZURE ? "Azure OpenAI"
	    : fl == FLAVOR_MISTRAL                     ? "Mistral"
	    : fl == FLAVOR_VLLM                        ? "vLLM"
	    : fl == FLAVOR_LLAMACPP                    ? "llama.cpp"
	    : fl == FLAVOR_OLLAMA                      ? "Ollama's /v1"
	                                               : "OpenAI";
	char path[64];

	(void)m;
	(void)model_id;
	if (adapter_check_common(req, why) != 0)
		return -1;
	if (req->has_temperature && (req->temperature < 0 || req->temperature > 2))
		return adapter_refuse(why, "temperature", "temperature %g is outside 0..2",
		    req->temperature);
	if (req->top_k > 0 && (fl == FLAVOR_OPENAI || fl == FLAVOR_MISTRAL))
		return adapter_refuse(why, "top_k", "%s has no top_k", who);
	if (req->n_stop > OPENAI_MAX_STOP && fl == FLAVOR_OPENAI)
		return adapter_refuse(why, "stop", "%s takes up to %d stop sequences, not %zu", who,
		    OPENAI_MAX_STOP, req->n_stop);
	if (req->thinking_budget > 0)
		return adapter_refuse(why, "thinking",
		    "%s has no thinking budget (reasoning_effort is its knob)", who);
	if (req->reasoning_effort != NULL && fl != FLAVOR_OPENAI && fl != FLAVOR_MISTRAL &&
	    fl != FLAVOR_VLLM)
		return adapter_refuse(why, "reasoning_effort", "%s has no reasoning_effort", who);
	if (req->user != NULL && (fl == FLAVOR_MISTRAL || fl == FLAVOR_LLAMACPP))
		return adapter_refuse(why, "user", "%s has no user field", who);
	if (req->metadata != NULL && !openai_is_native(conf))
		return adapter_refuse(why, "metadata", "%s has no metadata field", who);
	for (size_t i = 0; i < req->n_messages; i++) {
		const struct llm_message *msg = &req->messages[i];
		for (size_t j = 0; j < msg->n_parts; j++) {
			const struct llm_part *p = &msg->parts[j];
			adapter_part_path(path, sizeof path, i, j);
			if (p->type == LLM_PART_IMAGE && msg->role == LLM_ROLE_ASSISTANT)
				return adapter_refuse(why, path,
				    "%s: %s takes images in user messages only", path, who);
			for (size_t k = 0; p->type == LLM_PART_TOOL_RESULT && k < p->n_parts; k++)
				if (p->parts[k].type == LLM_PART_IMAGE)
					return adapter_refuse(why, path,
					    "%s: a tool message holds text only on %s", path, who);
		}
	}
	return 0;
}

static cJSON *
openai_tools(const struct llm_request *req)
{
	cJSON *out, *item, *fn, *schema, *extra;

	if (req->n_tools == 0)
		return NULL;
	out = cJSON_CreateArray();
	for (size_t i = 0; i < req->n_tools; i++) {
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", "function");
		fn = cJSON_AddObjectToObject(item, "function");
		cJSON_AddStringToObject(fn, "name", req->tools[i].name);
		if (req->tools[i].description != NULL)
			cJSON_AddStringToObject(fn, "description", req->tools[i].description);
		if ((schema = adapter_json_object(req->tools[i].parameters)) != NULL)
			cJSON_AddItemToObject(fn, "parameters", schema);
		if (req->tools[i].strict)
			cJSON_AddBoolToObject(fn, "strict", 1);
		/* An OpenAI client's own keys, under ours: the tool's, and the
		 * function's under "function". */
		extra = adapter_tool_extra(req, &req->tools[i], LLM_API_OPENAI);
		adapter_json_merge(item, extra);
		adapter_json_merge(fn, cJSON_GetObjectItemCaseSensitive(extra, "function"));
		cJSON_Delete(extra);
		cJSON_AddItemToArray(out, item);
	}
	return out;
}

static void
openai_tool_choice(cJSON *root, const struct llm_request *req, int mistral)
{
	cJSON *tc, *fn;

	if (req->n_tools == 0)
		return;
	switch (req->tool_choice) {
	case LLM_TOOL_CHOICE_UNSET: break;
	case LLM_TOOL_CHOICE_AUTO: cJSON_AddStringToObject(root, "tool_choice", "auto"); break;
	case LLM_TOOL_CHOICE_NONE: cJSON_AddStringToObject(root, "tool_choice", "none"); break;
	case LLM_TOOL_CHOICE_ANY:
		/* Mistral's word for "required" (it documents both; "any" has been there longer). */
		cJSON_AddStringToObject(root, "tool_choice", mistral ? "any" : "required");
		break;
	case LLM_TOOL_CHOICE_NAMED:
		tc = cJSON_AddObjectToObject(root, "tool_choice");
		cJSON_AddStringToObject(tc, "type", "function");
		fn = cJSON_AddObjectToObject(tc, "function");
		cJSON_AddStringToObject(fn, "name", req->tool_choice_name);
		break;
	}
	if (req->has_parallel_tool_calls)
		cJSON_AddBoolToObject(root, "parallel_tool_calls", req->parallel_tool_calls);
}

static void
openai_response_format(cJSON *root, const struct llm_request *req)
{
	const struct llm_response_format *f = &req->response_format;
	cJSON *rf, *js, *schema;

	switch (f->type) {
	case LLM_FORMAT_UNSET: return;
	case LLM_FORMAT_TEXT:
		rf = cJSON_AddObjectToObject(root, "response_format");
		cJSON_AddStringToObject(rf, "type", "text");
		return;
	case LLM_FORMAT_JSON_OBJECT:
		rf = cJSON_AddObjectToObject(root, "response_format");
		cJSON_AddStringToObject(rf, "type", "json_object");
		return;
	case LLM_FORMAT_JSON_SCHEMA:
		rf = cJSON_AddObjectToObject(root, "response_format");
		cJSON_AddStringToObject(rf, "type", "json_schema");
		js = cJSON_AddObjectToObject(rf, "json_schema");
		cJSON_AddStringToObject(js, "name", f->name != NULL ? f->name : "response");
		if ((schema = adapter_json_object(f->schema)) != NULL)
			cJSON_AddItemToObject(js, "schema", schema);
		if (f->strict)
			cJSON_AddBoolToObject(js, "strict", 1);
		return;
	}
}

/* Text parts as one string (or "" if none). */
static char *
openai_text_of(const struct llm_part *parts, size_t n)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++)
		if (parts[i].type == LLM_PART_TEXT && parts[i].text != NULL)
			buf_puts(&b, parts[i].text);
	return buf_detach(&b);
}

/* A user message's content: a string when it is text alone, else parts. */
static cJSON *
openai_user_content(const struct llm_message *m)
{
	size_t n_text = 0, n_image = 0;
	cJSON *a, *o, *iu;
	char *s;

	for (size_t j = 0; j < m->n_parts; j++) {
		n_text += m->parts[j].type == LLM_PART_TEXT;
		n_image += m->parts[j].type == LLM_PART_IMAGE;
	}
	if (n_image == 0 && n_text <= 1) {
		s = openai_text_of(m->parts, m->n_parts);
		o = cJSON_CreateString(s);
		free(s);
		return o;
	}
	a = cJSON_CreateArray();
	for (size_t j = 0; j < m->n_parts; j++) {
		const struct llm_part *p = &m->parts[j];

		if (p->type == LLM_PART_TEXT) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "text");
			cJSON_AddStringToObject(o, "text", p->text);
			cJSON_AddItemToArray(a, o);
		} else if (p->type == LLM_PART_IMAGE) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "image_url");
			iu = cJSON_AddObjectToObject(o, "image_url");
			s = adapter_image_url(p);
			cJSON_AddStringToObject(iu, "url", s);
			free(s);
			if (p->detail != NULL)
				cJSON_AddStringToObject(iu, "detail", p->detail);
			cJSON_AddItemToArray(a, o);
		}
	}
	return a;
}

/*
 * A tool result as a `role: tool` message. The API has no is_error: a failed
 * tool's content is prefixed "[tool error] " so the model still learns it.
 */
static cJSON *
openai_tool_message(const struct llm_part *p)
{
	cJSON *m = cJSON_CreateObject();
	char *text = openai_text_of(p->parts, p->n_parts), *s;

	cJSON_AddStringToObject(m, "role", "tool");
	cJSON_AddStringToObject(m, "tool_call_id", p->id);
	s = p->is_error ? xasprintf("[tool error] %s", text) : xstrdup(text);
	cJSON_AddStringToObject(m, "content", s);
	free(s);
	free(text);
	return m;
}

/* An assistant message: its text as content, its tool calls as tool_calls.
 * Thinking parts are not sent: Chat Completions takes no reasoning back. */
static cJSON *
openai_assistant(const struct llm_message *msg)
{
	cJSON *m = cJSON_CreateObject(), *calls = NULL, *c, *fn;
	char *text = openai_text_of(msg->parts, msg->n_parts);
	int has_calls = 0;

	cJSON_AddStringToObject(m, "role", "assistant");
	for (size_t j = 0; j < msg->n_parts; j++)
		has_calls |= msg->parts[j].type == LLM_PART_TOOL_CALL;
	if (*text != '\0' || !has_calls)
		cJSON_AddStringToObject(m, "content", text);
	free(text);
	for (size_t j = 0; j < msg->n_parts; j++) {
		const struct llm_part *p = &msg->parts[j];

		if (p->type != LLM_PART_TOOL_CALL)
			continue;
		if (calls == NULL)
			calls = cJSON_AddArrayToObject(m, "tool_calls");
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "id", p->id);
		cJSON_AddStringToObject(c, "type", "function");
		fn = cJSON_AddObjectToObject(c, "function");
		cJSON_AddStringToObject(fn, "name", p->name);
		cJSON_AddStringToObject(fn, "arguments",
		    p->arguments != NULL && *p->arguments != '\0' ? p->arguments : "{}");
		cJSON_AddItemToArray(calls, c);
	}
	return m;
}

/* Every message; a user message's tool results go first, as tool messages. */
static void
openai_messages(cJSON *msgs, const struct llm_request *req)
{
	cJSON *m;
	int other;

	for (size_t i = 0; i < req->n_messages; i++) {
		const struct llm_message *msg = &req->messages[i];

		if (msg->role == LLM_ROLE_ASSISTANT) {
			cJSON_AddItemToArray(msgs, openai_assistant(msg));
			continue;
		}
		other = msg->n_parts == 0;
		for (size_t j = 0; j < msg->n_parts; j++) {
			if (msg->parts[j].type == LLM_PART_TOOL_RESULT)
				cJSON_AddItemToArray(msgs, openai_tool_message(&msg->parts[j]));
			else
				other = 1;
		}
		if (!other)
			continue;
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddItemToObject(m, "content", openai_user_content(msg));
		cJSON_AddItemToArray(msgs, m);
	}
}

int
adapter_openai_body(const struct llm_request *req, int stream, const struct openai_body_opts *o,
    struct adapter_http *out, const char *who, char **cause)
{
	cJSON *root, *msgs, *m, *so;

	if (req->n_messages == 0) {
		*cause = xasprintf("%s: request has no messages", who);
		return -1;
	}
	root = cJSON_CreateObject();
	if (o->model != NULL)
		cJSON_AddStringToObject(root, "model", o->model);
	msgs = cJSON_AddArrayToObject(root, "messages");
	if (req->system != NULL) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", req->system);
		cJSON_AddItemToArray(msgs, m);
	}
	openai_messages(msgs, req);
	if (req->max_tokens > 0)
		cJSON_AddNumberToObject(root,
		    o->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
		    req->max_tokens);
	adapter_json_sampling(root, req, "stop", openai_tools(req));
	if (req->top_k > 0)
		cJSON_AddNumberToObject(root, "top_k", req->top_k);
	openai_tool_choice(root, req, o->mistral);
	openai_response_format(root, req);
	if (req->has_seed)
		cJSON_AddNumberToObject(root, o->mistral ? "random_seed" : "seed",
		    (double)req->seed);
	if (req->reasoning_effort != NULL)
		cJSON_AddStringToObject(root, "reasoning_effort", req->reasoning_effort);
	if (req->user != NULL)
		cJSON_AddStringToObject(root, "user", req->user);
	if (req->metadata != NULL && (m = adapter_json_object(req->metadata)) != NULL)
		cJSON_AddItemToObject(root, "metadata", m);
	if (stream) {
		cJSON_AddBoolToObject(root, "stream", 1);
		if (o->stream_options) {
			so = cJSON_AddObjectToObject(root, "stream_options");
			cJSON_AddBoolToObject(so, "include_usage", 1);
		}
	}
	adapter_json_passthrough(root, req, LLM_API_OPENAI);
	adapter_http_json(out, root, stream);
	cJSON_Delete(root);
	return 0;
}

static const struct adapter_stop_word openai_stops[] = {
    {"stop", LLM_STOP_END},
    {"length", LLM_STOP_MAX_TOKENS},
    {"model_length", LLM_STOP_MAX_TOKENS},
    {"tool_calls", LLM_STOP_TOOL_USE},
    {"function_call", LLM_STOP_TOOL_USE},
    {"content_filter", LLM_STOP_CONTENT_FILTER},
    {"error", LLM_STOP_OTHER},
};

/*
 * OpenAI's usage, in Chat Completions' words (in "prompt_tokens", out
 * "completion_tokens") or the Responses API's ("input_tokens", "output_tokens"),
 * each with its "_details": the input count includes cached tokens
 * (cached_tokens), the output count reasoning tokens (reasoning_tokens).
 */
void
adapter_openai_usage(const cJSON *usage, const char *in, const char *out, struct llm_usage *u)
{
	const cJSON *details;
	char key[64];

	if (!cJSON_IsObject(usage))
		return;
	u->input_tokens = adapter_json_tokens(usage, in, u->input_tokens);
	u->output_tokens = adapter_json_tokens(usage, out, u->output_tokens);
	snprintf(key, sizeof key, "%s_details", in);
	details = cJSON_GetObjectItemCaseSensitive(usage, key);
	if (cJSON_IsObject(details) &&
	    cJSON_GetObjectItemCaseSensitive(details, "cached_tokens") != NULL) {
		u->has_cache_detail = 1;
		u->cache_read_tokens =
		    adapter_json_tokens(details, "cached_tokens", u->cache_read_tokens);
	}
	snprintf(key, sizeof key, "%s_details", out);
	details = cJSON_GetObjectItemCaseSensitive(usage, key);
	if (cJSON_IsObject(details))
		u->reasoning_tokens =
		    adapter_json_tokens(details, "reasoning_tokens", u->reasoning_tokens);
}

static void
openai_finish(const cJSON *choice, struct llm_response *out)
{
	adapter_stop_reason(choice, "finish_reason", openai_stops, nitems(openai_stops), out);
}

/* The choice with index 0, else the first; NULL if there is none. */
static const cJSON *
openai_choice(const cJSON *choices)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, choices)
	{
		if (cJSON_IsObject(c) && adapter_json_int(c, "index", 0) == 0)
			return c;
	}
	c = cJSON_GetArrayItem(choices, 0);
	return cJSON_IsObject(c) ? c : NULL;
}

/*
 * Mistral's array content: [{"type":"text","text"}, {"type":"thinking",
 * "thinking":[{"type":"text","text"}]}, ...]. Calls text(arg, s) and
 * thinking(arg, s) in order; other chunk types (references) are skipped.
 * Returns -1 if an element is not an object.
 */
static int
openai_chunks(const cJSON *content, void (*text)(void *, const char *),
    void (*thinking)(void *, const char *), void *arg)
{
	const cJSON *c, *t, *inner;
	const char *type, *s;

	cJSON_ArrayForEach(c, content)
	{
		if (!cJSON_IsObject(c))
			return -1;
		if ((type = adapter_json_string(c, "type")) == NULL)
			continue;
		if (strcmp(type, "text") == 0 && (s = adapter_json_string(c, "text")) != NULL)
			text(arg, s);
		else if (strcmp(type, "thinking") == 0) {
			inner = cJSON_GetObjectItemCaseSensitive(c, "thinking");
			if (cJSON_IsString(inner))
				thinking(arg, inner->valuestring);
			cJSON_ArrayForEach(t, inner)
			{
				if ((s = adapter_json_string(t, "text")) != NULL)
					thinking(arg, s);
			}
		}
	}
	return 0;
}

/* A whole response's text and thinking, gathered in order. */
struct openai_gather {
	struct llm_response *out;
	struct buf *text;
};

static void
gather_text(void *arg, const char *s)
{
	struct openai_gather *g = arg;
	struct llm_response *out = g->out;

	buf_puts(g->text, s);
	if (out->n_parts > 0 && out->parts[out->n_parts - 1].type == LLM_PART_TEXT) {
		char *joined = xasprintf("%s%s", out->parts[out->n_parts - 1].text, s);
		free(out->parts[out->n_parts - 1].text);
		out->parts[out->n_parts - 1].text = joined;
	} else
		llm_response_add_part(out, LLM_PART_TEXT)->text = xstrdup(s);
}

static void
gather_thinking(void *arg, const char *s)
{
	struct openai_gather *g = arg;
	struct llm_response *out = g->out;

	if (out->n_parts > 0 && out->parts[out->n_parts - 1].type == LLM_PART_THINKING) {
		char *joined = xasprintf("%s%s", out->parts[out->n_parts - 1].text, s);
		free(out->parts[out->n_parts - 1].text);
		out->parts[out->n_parts - 1].text = joined;
	} else
		llm_response_add_part(out, LLM_PART_THINKING)->text = xstrdup(s);
}

/* reasoning_content (vLLM, DeepSeek) or reasoning (Ollama's /v1, newer vLLM). */
static const char *
openai_reasoning(const cJSON *msg)
{
	const char *s = adapter_json_string(msg, "reasoning_content");

	return s != NULL ? s : adapter_json_string(msg, "reasoning");
}

static int
openai_parse_calls(const cJSON *calls, struct llm_response *out, struct llm_error *err)
{
	const cJSON *c, *fn, *args;
	struct llm_part *p;
	int i = 0;

	cJSON_ArrayForEach(c, calls)
	{
		fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		if (!cJSON_IsObject(fn) || adapter_json_string(fn, "name") == NULL) {
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "openai response: a tool call without a function name");
			return -1;
		}
		p = llm_response_add_part(out, LLM_PART_TOOL_CALL);
		p->index = i++;
		p->id = xstrdup(adapter_json_string(c, "id") != NULL ? adapter_json_string(c, "id")
		                                                     : "");
		p->name = xstrdup(adapter_json_string(fn, "name"));
		args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		if (cJSON_IsString(args))
			p->arguments = xstrdup(args->valuestring);
		else if (cJSON_IsObject(args)) {
			/* Some servers send an object where OpenAI sends its text. */
			char *s = cJSON_PrintUnformatted(args);
			p->arguments = xstrdup(s != NULL ? s : "{}");
			cJSON_free(s);
		} else
			p->arguments = xstrdup("{}");
	}
	return 0;
}

int
adapter_openai_parse(const char *body, size_t len, struct llm_response *out, struct llm_error *err)
{
	cJSON *root;
	const cJSON *choices, *choice, *msg, *content;
	struct openai_gather g;
	struct buf text;
	const char *reasoning;

	llm_error_clear(err);
	if ((root = adapter_json_parse(body, len)) == NULL) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "openai response: not JSON (%zu bytes)",
		    len);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "openai response: not a JSON object");
		goto fail;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "error") != NULL &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "error"))) {
		adapter_error_in_2xx(root, "openai response", err);
		goto fail;
	}
	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	if (!cJSON_IsArray(choices)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "openai response: no choices array");
		goto fail;
	}
	if ((choice = openai_choice(choices)) == NULL) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "openai response: empty choices array");
		goto fail;
	}
	msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	if (!cJSON_IsObject(msg)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0,
		    "openai response: choice without a message");
		goto fail;
	}
	content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	if (content != NULL && !cJSON_IsString(content) && !cJSON_IsNull(content) &&
	    !cJSON_IsArray(content)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0,
		    "openai response: message content is not a string or an array");
		goto fail;
	}
	buf_init(&text);
	buf_puts(&text, "");
	g.out = out;
	g.text = &text;
	if ((reasoning = openai_reasoning(msg)) != NULL && *reasoning != '\0')
		gather_thinking(&g, reasoning);
	if (cJSON_IsString(content) && *content->valuestring != '\0')
		gather_text(&g, content->valuestring);
	else if (cJSON_IsArray(content) &&
	    openai_chunks(content, gather_text, gather_thinking, &g) != 0) {
		buf_free(&text);
		llm_error_set(err, LLM_ERR_MALFORMED, 0,
		    "openai response: a content chunk is not an object");
		goto fail;
	}
	if (openai_parse_calls(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), out, err) !=
	    0) {
		buf_free(&text);
		goto fail;
	}
	free(out->content);
	out->content = buf_detach(&text);
	adapter_set_string(&out->id, adapter_json_string(root, "id"));
	adapter_set_string(&out->model, adapter_json_string(root, "model"));
	out->stop = LLM_STOP_NONE;
	openai_finish(choice, out);
	adapter_openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "prompt_tokens",
	    "completion_tokens", &out->usage);
	cJSON_Delete(root);
	return 0;

fail:
	cJSON_Delete(root);
	llm_response_drop_parts(out);
	return -1;
}

/* Keep the first non-empty value: Azure's first chunk has "id": "" and "model": "". */
static void
openai_first(char **dst, const char *s)
{
	if (s != NULL && *s != '\0' && (*dst == NULL || **dst == '\0'))
		adapter_set_string(dst, s);
}

static void
stream_text(void *arg, const char *s)
{
	adapter_stream_text(arg, s, strlen(s));
}

static void
stream_thinking(void *arg, const char *s)
{
	adapter_stream_thinking(arg, s, strlen(s));
}

/*
 * Streamed tool calls: the first delta of a call has its index, id and name,
 * the next ones the same index and a fragment of the arguments. A server that
 * sends no index (Mistral sends each call whole) gets one from the id.
 */
static int
openai_stream_calls(struct adapter_stream *s, const cJSON *calls)
{
	const cJSON *c, *fn;
	const char *id, *name, *args;
	int64_t index;
	size_t part;

	cJSON_ArrayForEach(c, calls)
	{
		if (!cJSON_IsObject(c))
			return adapter_stream_broken(s, "a tool call delta is not an object");
		fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		id = adapter_json_string(c, "id");
		name = adapter_json_string(fn, "name");
		args = adapter_json_string(fn, "arguments");
		index = adapter_json_int(c, "index", -1);
		if (index < 0)
			index = id != NULL ? s->n_tool_calls : s->n_tool_calls - 1;
		if (index < 0 || index >= OPENAI_MAX_TOOL_CALLS)
			return adapter_stream_broken(s, "a tool call delta without a usable index");
		part = adapter_stream_map_get(s, (size_t)index);
		if (part == 0) {
			if (name == NULL)
				return adapter_stream_broken(s,
				    "tool call %lld starts without a name", (long long)index);
			part = adapter_stream_tool_call(s, (int)index, id, name) + 1;
			adapter_stream_map_set(s, (size_t)index, part - 1);
		}
		if (args != NULL)
			adapter_stream_delta(s, LLM_DELTA_TOOL_CALL_ARGS, part - 1, args,
			    strlen(args));
		else if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(fn, "arguments"))) {
			char *text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(fn,
			    "arguments"));
			if (text != NULL)
				adapter_stream_delta(s, LLM_DELTA_TOOL_CALL_ARGS, part - 1, text,
				    strlen(text));
			cJSON_free(text);
		}
	}
	return 0;
}

/* One `data:` line of a Chat Completions stream. */
static int
openai_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	struct llm_response *acc = s->acc;
	const cJSON *choices, *choice, *delta, *content, *e, *calls;
	const char *reasoning;
	cJSON *root;
	const char *p = data;
	size_t n = len;
	int r = 0;

	(void)event;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 6 && memcmp(p, "[DONE]", 6) == 0) {
		s->state = 1;
		return 1;
	}
	if ((root = adapter_json_parse(data, len)) == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return adapter_stream_broken(s, "chunk is not a JSON object");
	}
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e != NULL && !cJSON_IsNull(e)) {
		adapter_stream_error_json(s, root);
		cJSON_Delete(root);
		return -1;
	}
	openai_first(&acc->id, adapter_json_string(root, "id"));
	openai_first(&acc->model, adapter_json_string(root, "model"));
	choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
	if (cJSON_IsArray(choices) && (choice = openai_choice(choices)) != NULL) {
		delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
		if ((reasoning = openai_reasoning(delta)) != NULL)
			adapter_stream_thinking(s, reasoning, strlen(reasoning));
		content = cJSON_GetObjectItemCaseSensitive(delta, "content");
		if (cJSON_IsString(content))
			adapter_stream_text(s, content->valuestring, strlen(content->valuestring));
		else if (cJSON_IsArray(content) &&
		    openai_chunks(content, stream_text, stream_thinking, s) != 0)
			r = adapter_stream_broken(s, "a content chunk is not an object");
		calls = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
		if (r == 0 && cJSON_IsArray(calls))
			r = openai_stream_calls(s, calls);
		if (r == 0 && adapter_json_string(choice, "finish_reason") != NULL) {
			openai_finish(choice, acc);
			s->seen_stop = 1;
		}
	}
	if (r == 0)
		adapter_openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"),
		    "prompt_tokens", "completion_tokens", &acc->usage);
	cJSON_Delete(root);
	return r;
}

struct adapter_stream *
adapter_openai_stream_new(void)
{
	return adapter_stream_new(openai_event, "openai stream", "data: [DONE]");
}

static int
openai_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	struct openai_body_opts o;
	char *base;

	(void)m;
	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("openai: no model id for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	memset(&o, 0, sizeof o);
	o.model = model_id;
	o.max_completion_tokens = conf->flavor == FLAVOR_OPENAI;
	o.stream_options = conf->flavor != FLAVOR_MISTRAL;
	o.mistral = conf->flavor == FLAVOR_MISTRAL;
	if (adapter_base_url(conf, "openai", &base, cause) != 0)
		return -1;
	if (adapter_openai_body(req, stream, &o, out, "openai", cause) != 0) {
		adapter_http_free(out);
		free(base);
		return -1;
	}
	out->method = xstrdup("POST");
	out->url = xasprintf("%s/v1/chat/completions", base);
	if (conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	free(base);
	return 0;
}

static int
openai_build_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	const char *path = "/v1/models";
	char *base;
	int auth = 1;

	adapter_http_init(out);
	if (adapter_base_url(conf, "openai", &base, cause) != 0)
		return -1;
	switch (conf->flavor) {
	case FLAVOR_VLLM:
	case FLAVOR_LLAMACPP:
		path = "/health";
		auth = 0;
		break;
	case FLAVOR_OLLAMA:
		path = "/api/version";
		auth = 0;
		break;
	case FLAVOR_OPENAI:
	case FLAVOR_MISTRAL: break;
	}
	out->method = xstrdup("GET");
	out->url = xasprintf("%s%s", base, path);
	if (auth && conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	free(base);
	return 0;
}

const struct adapter adapter_openai = {
    .kind = "openai",
    .check_request = adapter_openai_check,
    .build_request = openai_build_request,
    .parse_response = adapter_openai_parse,
    .classify_error = adapter_classify_http,
    .stream_new = adapter_openai_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = openai_build_probe,
};
