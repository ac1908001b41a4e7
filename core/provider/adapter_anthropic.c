/*
 * adapter_anthropic.c: the Anthropic Messages API (POST /v1/messages): text,
 * images, tool_use / tool_result, extended thinking (thinking blocks with
 * their signature, redacted_thinking), cache_control breakpoints, both ways,
 * streamed (text_delta, input_json_delta, thinking_delta, signature_delta) and
 * not.
 */
#include "provider/adapter_priv.h"
#include "provider/adapter_embed.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANTHROPIC_VERSION "2023-06-01"
#define ANTHROPIC_MIN_THINKING 1024 /* the API's smallest thinking.budget_tokens */
#define ANTHROPIC_MAX_BLOCKS 4096   /* content blocks of one streamed message we follow */

static void
anthropic_headers(const struct provider_conf *conf, struct adapter_http *out)
{
	if (conf->api_key != NULL)
		adapter_http_header(out, "x-api-key: %s", conf->api_key);
	adapter_http_header(out, "anthropic-version: %s", ANTHROPIC_VERSION);
}

/*
 * Is the model a Claude of version 4.1 or later (Opus 4.1, Sonnet 4.5, Haiku
 * 4.5 and on)? Those take temperature or top_p, not both (Anthropic's
 * migration guide to Claude 4.5; the API answers 400 "temperature and top_p
 * cannot both be specified for this model"), and take structured outputs
 * (output_config.format, see the recorded claude-sonnet-4-5 request in
 * tests/data/recorded). Claude Sonnet 4 and Opus 4 (-4-2025xxxx) and the 3.x
 * models are older.
 */
static int
anthropic_4_1_or_later(const char *model_id)
{
	static const char *const families[] = {"claude-opus-", "claude-sonnet-", "claude-haiku-"};
	const char *p = NULL;
	long major, minor = 0;
	char *end;

	for (size_t i = 0; i < nitems(families) && p == NULL; i++)
		if (strncmp(model_id, families[i], strlen(families[i])) == 0)
			p = model_id + strlen(families[i]);
	if (p == NULL || !isdigit((unsigned char)*p))
		return 0;
	major = strtol(p, &end, 10);
	/* "-5" is a minor version, "-20250514" a date. */
	if (*end == '-' && isdigit((unsigned char)end[1]) && strspn(end + 1, "0123456789") <= 2)
		minor = strtol(end + 1, NULL, 10);
	return major > 4 || (major == 4 && minor >= 1);
}

/* The thinking budget a request asks for: thinking_budget, else reasoning_effort
 * mapped the way LiteLLM maps it for Claude (low 1024, medium 2048, high 4096).
 * 0: no thinking; -1: an effort we do not know. */
static int64_t
anthropic_thinking_budget(const struct llm_request *req)
{
	static const struct {
		const char *effort;
		int64_t budget;
	} map[] = {
	    {"none", 0},
	    {"minimal", ANTHROPIC_MIN_THINKING},
	    {"low", 1024},
	    {"medium", 2048},
	    {"high", 4096},
	};

	if (req->thinking_budget > 0)
		return req->thinking_budget;
	if (req->reasoning_effort == NULL)
		return 0;
	for (size_t i = 0; i < nitems(map); i++)
		if (strcmp(req->reasoning_effort, map[i].effort) == 0)
			return map[i].budget;
	return -1;
}

static int64_t
anthropic_max_tokens(const struct model_conf *m, const struct llm_request *req)
{
	int64_t n = adapter_max_output(m, req);

	return n > 0 ? n : ADAPTER_FALLBACK_MAX_OUTPUT;
}

static int
anthropic_image_ok(const struct llm_part *p, const char *path, struct llm_error *why)
{
	static const char *const types[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};
	char *media = NULL, *data = NULL;
	const char *mt = p->media_type;
	int ok = 0;

	if (p->detail != NULL && strcmp(p->detail, "auto") != 0)
		return adapter_refuse(why, path,
		    "%s: image detail \"%s\" has no Anthropic equivalent (it sizes images itself)",
		    path, p->detail);
	if (p->url != NULL) {
		if (strncasecmp(p->url, "https://", 8) == 0 ||
		    strncasecmp(p->url, "http://", 7) == 0)
			return 0;
		if (adapter_data_url(p->url, &media, &data) != 0)
			return adapter_refuse(why, path,
			    "%s: an image URL must be http(s) or a base64 data: URL", path);
		mt = media;
	}
	for (size_t i = 0; i < nitems(types); i++)
		if (mt != NULL && strcasecmp(mt, types[i]) == 0)
			ok = 1;
	if (!ok)
		adapter_refuse(why, path,
		    "%s: Anthropic takes image/jpeg, png, gif or webp, not \"%s\"", path,
		    mt != NULL ? mt : "");
	free(media);
	free(data);
	return ok ? 0 : -1;
}

/* What Anthropic's parts cannot carry. */
static int
anthropic_check_parts(const struct llm_request *req, struct llm_error *why)
{
	char path[64];

	for (size_t i = 0; i < req->n_messages; i++) {
		const struct llm_message *m = &req->messages[i];

		for (size_t j = 0; j < m->n_parts; j++) {
			const struct llm_part *p = &m->parts[j];

			adapter_part_path(path, sizeof path, i, j);
			if (p->type == LLM_PART_IMAGE && anthropic_image_ok(p, path, why) != 0)
				return -1;
			for (size_t k = 0; p->type == LLM_PART_TOOL_RESULT && k < p->n_parts; k++)
				if (p->parts[k].type == LLM_PART_IMAGE &&
				    anthropic_image_ok(&p->parts[k], path, why) != 0)
					return -1;
		}
	}
	return 0;
}

/* Extended thinking's rules (Anthropic's "Building with extended thinking"). */
static int
anthropic_check_thinking(const struct model_conf *m, const struct llm_request *req, int64_t budget,
    struct llm_error *why)
{
	int64_t max = anthropic_max_tokens(m, req);

	if (budget < 0)
		return adapter_refuse(why, "reasoning_effort",
		    "reasoning_effort \"%s\" has no Anthropic thinking budget (none, minimal, low, "
		    "medium or high)",
		    req->reasoning_effort);
	if (budget == 0)
		return 0;
	if (budget < ANTHROPIC_MIN_THINKING)
		return adapter_refuse(why, "thinking",
		    "thinking budget %lld is below Anthropic's "
		    "minimum of %d",
		    (long long)budget, ANTHROPIC_MIN_THINKING);
	if (budget >= max)
		return adapter_refuse(why, "thinking",
		    "thinking budget %lld must be below max_tokens (%lld)", (long long)budget,
		    (long long)max);
	if (req->has_temperature && req->temperature != 1.0)
		return adapter_refuse(why, "temperature",
		    "temperature cannot be set with extended thinking on Anthropic");
	if (req->top_k > 0)
		return adapter_refuse(why, "top_k",
		    "top_k cannot be set with extended thinking on Anthropic");
	if (req->has_top_p && (req->top_p < 0.95 || req->top_p > 1))
		return adapter_refuse(why, "top_p",
		    "top_p must be within 0.95..1 with extended thinking on Anthropic");
	if (req->tool_choice == LLM_TOOL_CHOICE_ANY || req->tool_choice == LLM_TOOL_CHOICE_NAMED)
		return adapter_refuse(why, "tool_choice",
		    "a forced tool choice cannot be used with extended thinking on Anthropic");
	return 0;
}

static int
anthropic_check_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	cJSON *meta;

	(void)conf;
	if (adapter_check_common(req, why) != 0)
		return -1;
	if (req->has_temperature && (req->temperature < 0 || req->temperature > 1))
		return adapter_refuse(why, "temperature",
		    "temperature %g is outside Anthropic's range 0..1", req->temperature);
	if (req->has_temperature && req->has_top_p && model_id != NULL &&
	    anthropic_4_1_or_later(model_id))
		return adapter_refuse(why, "top_p",
		    "%s takes temperature or top_p, not both (Anthropic answers 400)", model_id);
	if (req->response_format.type == LLM_FORMAT_JSON_OBJECT)
		return adapter_refuse(why, "response_format",
		    "Anthropic has no JSON mode without a schema (json_schema is its structured "
		    "output)");
	if (req->response_format.type == LLM_FORMAT_JSON_SCHEMA &&
	    (model_id == NULL || !anthropic_4_1_or_later(model_id)))
		return adapter_refuse(why, "response_format",
		    "%s has no structured output (Claude 4.1 and later have)",
		    model_id != NULL ? model_id : "the model");
	if (req->has_seed)
		return adapter_refuse(why, "seed", "Anthropic's Messages API has no seed");
	if (req->metadata != NULL && (meta = adapter_json_object(req->metadata)) != NULL) {
		int n = cJSON_GetArraySize(meta);
		cJSON_Delete(meta);
		if (n > 0)
			return adapter_refuse(why, "metadata",
			    "Anthropic's metadata holds only user_id (send it as user)");
	}
	if (anthropic_check_thinking(m, req, anthropic_thinking_budget(req), why) != 0)
		return -1;
	return anthropic_check_parts(req, why);
}

static void
anthropic_cache_control(cJSON *block, enum llm_cache_mark mark)
{
	cJSON *cc;

	if (mark == LLM_CACHE_NONE)
		return;
	cc = cJSON_AddObjectToObject(block, "cache_control");
	cJSON_AddStringToObject(cc, "type", "ephemeral");
	if (mark == LLM_CACHE_1H)
		cJSON_AddStringToObject(cc, "ttl", "1h");
}

static cJSON *
anthropic_image(const struct llm_part *p)
{
	cJSON *b = cJSON_CreateObject(), *src = cJSON_AddObjectToObject(b, "source");
	char *media = NULL, *data = NULL;

	cJSON_AddStringToObject(b, "type", "image");
	if (p->url != NULL && adapter_data_url(p->url, &media, &data) != 0) {
		cJSON_AddStringToObject(src, "type", "url");
		cJSON_AddStringToObject(src, "url", p->url);
	} else {
		cJSON_AddStringToObject(src, "type", "base64");
		cJSON_AddStringToObject(src, "media_type", media != NULL ? media : p->media_type);
		cJSON_AddStringToObject(src, "data", data != NULL ? data : p->data);
	}
	free(media);
	free(data);
	anthropic_cache_control(b, p->cache);
	return b;
}

static cJSON *
anthropic_text(const char *text, enum llm_cache_mark mark)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "type", "text");
	cJSON_AddStringToObject(b, "text", text);
	anthropic_cache_control(b, mark);
	return b;
}

/* One part as a content block; NULL for what Anthropic does not take back
 * (thinking without a signature: Anthropic ignores earlier turns' thinking). */
static cJSON *
anthropic_block(const struct llm_part *p)
{
	cJSON *b, *content;

	switch (p->type) {
	case LLM_PART_TEXT: return anthropic_text(p->text, p->cache);
	case LLM_PART_IMAGE: return anthropic_image(p);
	case LLM_PART_TOOL_CALL:
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "tool_use");
		cJSON_AddStringToObject(b, "id", p->id);
		cJSON_AddStringToObject(b, "name", p->name);
		cJSON_AddItemToObject(b, "input", adapter_tool_arguments(p));
		anthropic_cache_control(b, p->cache);
		return b;
	case LLM_PART_TOOL_RESULT:
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "tool_result");
		cJSON_AddStringToObject(b, "tool_use_id", p->id);
		content = cJSON_AddArrayToObject(b, "content");
		for (size_t k = 0; k < p->n_parts; k++) {
			if (p->parts[k].type == LLM_PART_TEXT && *p->parts[k].text != '\0')
				cJSON_AddItemToArray(content,
				    anthropic_text(p->parts[k].text, p->parts[k].cache));
			else if (p->parts[k].type == LLM_PART_IMAGE)
				cJSON_AddItemToArray(content, anthropic_image(&p->parts[k]));
		}
		if (p->is_error)
			cJSON_AddBoolToObject(b, "is_error", 1);
		anthropic_cache_control(b, p->cache);
		return b;
	case LLM_PART_THINKING:
		if (p->signature == NULL)
			return NULL;
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "thinking");
		cJSON_AddStringToObject(b, "thinking", p->text != NULL ? p->text : "");
		cJSON_AddStringToObject(b, "signature", p->signature);
		return b;
	case LLM_PART_REDACTED_THINKING:
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "redacted_thinking");
		cJSON_AddStringToObject(b, "data", p->data != NULL ? p->data : "");
		return b;
	default: return NULL;
	}
}

/*
 * A message's content: a plain string when it is one uncached text part (the
 * shape the recorded requests have), else blocks, tool results first (the API
 * wants them at the head of their user message).
 */
static cJSON *
anthropic_content(const struct llm_message *m)
{
	cJSON *blocks, *b;

	if (m->n_parts == 1 && m->parts[0].type == LLM_PART_TEXT &&
	    m->parts[0].cache == LLM_CACHE_NONE)
		return cJSON_CreateString(m->parts[0].text);
	blocks = cJSON_CreateArray();
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < m->n_parts; j++) {
			const struct llm_part *p = &m->parts[j];

			if ((p->type == LLM_PART_TOOL_RESULT) != (pass == 0))
				continue;
			/* An empty text block is refused; it says nothing beside others. */
			if (p->type == LLM_PART_TEXT && *p->text == '\0' && m->n_parts > 1)
				continue;
			if ((b = anthropic_block(p)) != NULL)
				cJSON_AddItemToArray(blocks, b);
		}
	return blocks;
}

static cJSON *
anthropic_tools(const struct llm_request *req)
{
	cJSON *tools, *t, *schema, *extra;

	if (req->n_tools == 0)
		return NULL;
	tools = cJSON_CreateArray();
	for (size_t i = 0; i < req->n_tools; i++) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", req->tools[i].name);
		if (req->tools[i].description != NULL)
			cJSON_AddStringToObject(t, "description", req->tools[i].description);
		if ((schema = adapter_json_object(req->tools[i].parameters)) == NULL) {
			schema = cJSON_CreateObject();
			cJSON_AddStringToObject(schema, "type", "object");
		}
		cJSON_AddItemToObject(t, "input_schema", schema);
		anthropic_cache_control(t, req->tools[i].cache);
		/* The Anthropic client's own keys (eager_input_streaming...), under ours. */
		extra = adapter_tool_extra(req, &req->tools[i], LLM_API_ANTHROPIC);
		adapter_json_merge(t, extra);
		cJSON_Delete(extra);
		cJSON_AddItemToArray(tools, t);
	}
	return tools;
}

/* tool_choice, with disable_parallel_tool_use for parallel_tool_calls: false. */
static void
anthropic_tool_choice(cJSON *root, const struct llm_request *req)
{
	static const char *const types[] = {
	    [LLM_TOOL_CHOICE_UNSET] = "auto",
	    [LLM_TOOL_CHOICE_AUTO] = "auto",
	    [LLM_TOOL_CHOICE_NONE] = "none",
	    [LLM_TOOL_CHOICE_ANY] = "any",
	    [LLM_TOOL_CHOICE_NAMED] = "tool",
	};
	int serial = req->has_parallel_tool_calls && !req->parallel_tool_calls;
	cJSON *tc;

	if (req->n_tools == 0 || (req->tool_choice == LLM_TOOL_CHOICE_UNSET && !serial))
		return;
	tc = cJSON_AddObjectToObject(root, "tool_choice");
	cJSON_AddStringToObject(tc, "type", types[req->tool_choice]);
	if (req->tool_choice == LLM_TOOL_CHOICE_NAMED)
		cJSON_AddStringToObject(tc, "name", req->tool_choice_name);
	if (serial && req->tool_choice != LLM_TOOL_CHOICE_NONE)
		cJSON_AddBoolToObject(tc, "disable_parallel_tool_use", 1);
}

static void
anthropic_system(cJSON *root, const struct llm_request *req)
{
	cJSON *a;

	if (req->system == NULL)
		return;
	if (req->system_cache == LLM_CACHE_NONE) {
		cJSON_AddStringToObject(root, "system", req->system);
		return;
	}
	a = cJSON_AddArrayToObject(root, "system");
	cJSON_AddItemToArray(a, anthropic_text(req->system, req->system_cache));
}

static int
anthropic_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	cJSON *root, *msgs, *msg, *th, *meta, *oc, *fmt, *schema;
	char *base;
	int64_t budget = anthropic_thinking_budget(req);

	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("anthropic: no model id for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	if (req->n_messages == 0) {
		*cause = xasprintf("anthropic: request has no messages");
		return -1;
	}
	if (adapter_base_url(conf, "anthropic", &base, cause) != 0)
		return -1;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", model_id);
	cJSON_AddNumberToObject(root, "max_tokens", (double)anthropic_max_tokens(m, req));
	msgs = cJSON_AddArrayToObject(root, "messages");
	for (size_t i = 0; i < req->n_messages; i++) {
		msg = cJSON_CreateObject();
		cJSON_AddStringToObject(msg, "role", llm_role_name(req->messages[i].role));
		cJSON_AddItemToObject(msg, "content", anthropic_content(&req->messages[i]));
		cJSON_AddItemToArray(msgs, msg);
	}
	anthropic_system(root, req);
	adapter_json_sampling(root, req, "stop_sequences", anthropic_tools(req));
	if (req->top_k > 0)
		cJSON_AddNumberToObject(root, "top_k", req->top_k);
	anthropic_tool_choice(root, req);
	if (budget > 0) {
		th = cJSON_AddObjectToObject(root, "thinking");
		cJSON_AddStringToObject(th, "type", "enabled");
		cJSON_AddNumberToObject(th, "budget_tokens", (double)budget);
	}
	if (req->response_format.type == LLM_FORMAT_JSON_SCHEMA &&
	    (schema = adapter_json_object(req->response_format.schema)) != NULL) {
		oc = cJSON_AddObjectToObject(root, "output_config");
		fmt = cJSON_AddObjectToObject(oc, "format");
		cJSON_AddStringToObject(fmt, "type", "json_schema");
		cJSON_AddItemToObject(fmt, "schema", schema);
	}
	if (req->user != NULL) {
		meta = cJSON_AddObjectToObject(root, "metadata");
		cJSON_AddStringToObject(meta, "user_id", req->user);
	}
	if (stream)
		cJSON_AddBoolToObject(root, "stream", 1);
	adapter_json_passthrough(root, req, LLM_API_ANTHROPIC);

	out->method = xstrdup("POST");
	out->url = xasprintf("%s/v1/messages", base);
	anthropic_headers(conf, out);
	adapter_http_json(out, root, stream);
	cJSON_Delete(root);
	free(base);
	return 0;
}

static const struct adapter_stop_word anthropic_stops[] = {
    {"end_turn", LLM_STOP_END},
    {"max_tokens", LLM_STOP_MAX_TOKENS},
    {"model_context_window_exceeded", LLM_STOP_MAX_TOKENS},
    {"stop_sequence", LLM_STOP_STOP_SEQUENCE},
    {"tool_use", LLM_STOP_TOOL_USE},
    {"refusal", LLM_STOP_CONTENT_FILTER},
    {"pause_turn", LLM_STOP_OTHER},
};

/*
 * Usage counts present in obj overwrite acc's (message_delta's are cumulative).
 * Anthropic's input_tokens leaves out cache reads and writes; llm_usage's
 * counts them in (OpenAI's convention), so pricing sees every input token.
 * cache_creation splits the writes into 5-minute and 1-hour ones.
 */
static void
anthropic_usage(const cJSON *usage, struct llm_usage *u)
{
	const cJSON *split;
	int64_t raw;

	if (!cJSON_IsObject(usage))
		return;
	raw = u->input_tokens - u->cache_read_tokens - u->cache_write_tokens;
	raw = adapter_json_tokens(usage, "input_tokens", raw);
	u->output_tokens = adapter_json_tokens(usage, "output_tokens", u->output_tokens);
	if (cJSON_GetObjectItemCaseSensitive(usage, "cache_read_input_tokens") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(usage, "cache_creation_input_tokens") != NULL)
		u->has_cache_detail = 1;
	u->cache_read_tokens =
	    adapter_json_tokens(usage, "cache_read_input_tokens", u->cache_read_tokens);
	u->cache_write_tokens =
	    adapter_json_tokens(usage, "cache_creation_input_tokens", u->cache_write_tokens);
	split = cJSON_GetObjectItemCaseSensitive(usage, "cache_creation");
	if (cJSON_IsObject(split))
		u->cache_write_1h_tokens = adapter_json_tokens(split, "ephemeral_1h_input_tokens",
		    u->cache_write_1h_tokens);
	if (u->cache_write_1h_tokens > u->cache_write_tokens)
		u->cache_write_1h_tokens = u->cache_write_tokens;
	u->input_tokens = raw + u->cache_read_tokens + u->cache_write_tokens;
}

static void
anthropic_stop_reason(const cJSON *obj, struct llm_response *out)
{
	adapter_stop_reason(obj, "stop_reason", anthropic_stops, nitems(anthropic_stops), out);
}

/* A tool_use block's input as arguments text. */
static char *
anthropic_input_text(const cJSON *block)
{
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(block, "input");
	char *s, *out;

	if (!cJSON_IsObject(input))
		return xstrdup("{}");
	if ((s = cJSON_PrintUnformatted(input)) == NULL)
		fatal("out of memory printing tool input");
	out = xstrdup(s);
	cJSON_free(s);
	return out;
}

/* One content block of a whole response into out; -1 with err on a broken one. */
static int
anthropic_parse_block(const cJSON *block, struct llm_response *out, struct buf *text, int *n_calls,
    struct llm_error *err)
{
	const char *type = adapter_json_string(block, "type"), *s;
	struct llm_part *p;

	if (type == NULL)
		return 0;
	if (strcmp(type, "text") == 0) {
		if ((s = adapter_json_string(block, "text")) == NULL) {
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "anthropic response: text block without text");
			return -1;
		}
		buf_puts(text, s);
		llm_response_add_part(out, LLM_PART_TEXT)->text = xstrdup(s);
	} else if (strcmp(type, "tool_use") == 0) {
		const char *id = adapter_json_string(block, "id");
		const char *name = adapter_json_string(block, "name");
		if (id == NULL || name == NULL) {
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "anthropic response: tool_use block without id or name");
			return -1;
		}
		p = llm_response_add_part(out, LLM_PART_TOOL_CALL);
		p->id = xstrdup(id);
		p->name = xstrdup(name);
		p->arguments = anthropic_input_text(block);
		p->index = (*n_calls)++;
	} else if (strcmp(type, "thinking") == 0) {
		p = llm_response_add_part(out, LLM_PART_THINKING);
		s = adapter_json_string(block, "thinking");
		p->text = xstrdup(s != NULL ? s : "");
		if ((s = adapter_json_string(block, "signature")) != NULL)
			p->signature = xstrdup(s);
	} else if (strcmp(type, "redacted_thinking") == 0) {
		s = adapter_json_string(block, "data");
		llm_response_add_part(out, LLM_PART_REDACTED_THINKING)->data =
		    xstrdup(s != NULL ? s : "");
	}
	/* Other blocks (server tool results, citations...) are not in the model. */
	return 0;
}

static int
anthropic_parse_response(const char *body, size_t len, struct llm_response *out,
    struct llm_error *err)
{
	cJSON *root;
	const cJSON *content, *block;
	const char *type;
	struct buf b;
	int n_calls = 0;

	llm_error_clear(err);
	if ((root = adapter_json_parse(body, len)) == NULL) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "anthropic response: not JSON (%zu bytes)",
		    len);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "anthropic response: not a JSON object");
		goto fail;
	}
	if ((type = adapter_json_string(root, "type")) != NULL && strcmp(type, "error") == 0) {
		adapter_error_in_2xx(root, "anthropic response", err);
		goto fail;
	}
	content = cJSON_GetObjectItemCaseSensitive(root, "content");
	if (!cJSON_IsArray(content)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "anthropic response: no content array");
		goto fail;
	}
	buf_init(&b);
	buf_puts(&b, "");
	cJSON_ArrayForEach(block, content)
	{
		if (anthropic_parse_block(block, out, &b, &n_calls, err) != 0) {
			buf_free(&b);
			goto fail;
		}
	}
	free(out->content);
	out->content = buf_detach(&b);
	adapter_set_string(&out->id, adapter_json_string(root, "id"));
	adapter_set_string(&out->model, adapter_json_string(root, "model"));
	out->stop = LLM_STOP_NONE;
	anthropic_stop_reason(root, out);
	anthropic_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &out->usage);
	cJSON_Delete(root);
	return 0;

fail:
	cJSON_Delete(root);
	llm_response_drop_parts(out);
	return -1;
}

/* The content block index of an event, bounded; -1 if absent or absurd. */
static int
anthropic_block_index(const cJSON *root)
{
	int64_t i = adapter_json_int(root, "index", -1);

	return i >= 0 && i < ANTHROPIC_MAX_BLOCKS ? (int)i : -1;
}

static int
anthropic_block_start(struct adapter_stream *s, const cJSON *root)
{
	const cJSON *block = cJSON_GetObjectItemCaseSensitive(root, "content_block");
	const char *type = adapter_json_string(block, "type"), *v;
	int idx = anthropic_block_index(root);
	size_t part;

	if (idx < 0 || type == NULL)
		return adapter_stream_broken(s, "content_block_start without index or type");
	if (strcmp(type, "text") == 0) {
		part = adapter_stream_open(s, LLM_PART_TEXT);
		s->text_part = part + 1;
		adapter_stream_map_set(s, (size_t)idx, part);
		/* A start may carry text already (it is "" in practice). */
		if ((v = adapter_json_string(block, "text")) != NULL)
			adapter_stream_delta(s, LLM_DELTA_TEXT, part, v, strlen(v));
	} else if (strcmp(type, "tool_use") == 0) {
		part = adapter_stream_tool_call(s, s->n_tool_calls,
		    adapter_json_string(block, "id"), adapter_json_string(block, "name"));
		adapter_stream_map_set(s, (size_t)idx, part);
	} else if (strcmp(type, "thinking") == 0) {
		part = adapter_stream_open(s, LLM_PART_THINKING);
		adapter_stream_map_set(s, (size_t)idx, part);
		if ((v = adapter_json_string(block, "thinking")) != NULL)
			adapter_stream_delta(s, LLM_DELTA_THINKING, part, v, strlen(v));
	} else if (strcmp(type, "redacted_thinking") == 0) {
		part = adapter_stream_open(s, LLM_PART_REDACTED_THINKING);
		adapter_stream_map_set(s, (size_t)idx, part);
		if ((v = adapter_json_string(block, "data")) != NULL)
			adapter_stream_delta(s, LLM_DELTA_REDACTED_THINKING, part, v, strlen(v));
	}
	/* Blocks outside the model (server tools) are followed by nothing. */
	return 0;
}

/* A delta for the block at index, onto its part if its type fits. */
static int
anthropic_block_delta(struct adapter_stream *s, const cJSON *root)
{
	static const struct {
		const char *type;
		const char *field;
		enum llm_delta_type delta;
		enum llm_part_type part;
	} map[] = {
	    {"text_delta", "text", LLM_DELTA_TEXT, LLM_PART_TEXT},
	    {"input_json_delta", "partial_json", LLM_DELTA_TOOL_CALL_ARGS, LLM_PART_TOOL_CALL},
	    {"thinking_delta", "thinking", LLM_DELTA_THINKING, LLM_PART_THINKING},
	    {"signature_delta", "signature", LLM_DELTA_THINKING_SIGNATURE, LLM_PART_THINKING},
	};
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
	const char *type = adapter_json_string(delta, "type"), *v;
	int idx = anthropic_block_index(root);
	size_t part;

	if (!cJSON_IsObject(delta))
		return adapter_stream_broken(s, "content_block_delta without a delta");
	for (size_t i = 0; type != NULL && i < nitems(map); i++) {
		if (strcmp(type, map[i].type) != 0)
			continue;
		if ((v = adapter_json_string(delta, map[i].field)) == NULL)
			return adapter_stream_broken(s, "%s without %s", map[i].type, map[i].field);
		part = idx >= 0 ? adapter_stream_map_get(s, (size_t)idx) : 0;
		if (part == 0 && map[i].part == LLM_PART_TEXT) {
			/* A text delta with no start (a proxy trimmed it): text all the same. */
			adapter_stream_text(s, v, strlen(v));
			return 0;
		}
		/* A block outside the model (server_tool_use streams input_json_delta too). */
		if (part == 0 || part > s->acc->n_parts)
			return 0;
		if (s->acc->parts[part - 1].type != map[i].part)
			return adapter_stream_broken(s, "%s for block %d, which is not a %s block",
			    map[i].type, idx, llm_part_type_name(map[i].part));
		adapter_stream_delta(s, map[i].delta, part - 1, v, strlen(v));
		return 0;
	}
	return 0; /* citations_delta and other deltas outside the model */
}

/* One SSE event of a Messages stream. */
static int
anthropic_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	struct llm_response *acc = s->acc;
	const cJSON *msg, *delta;
	const char *type;
	cJSON *root;
	int r = 0;

	if (strcmp(event, "ping") == 0)
		return 0;
	if ((root = adapter_json_parse(data, len)) == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return adapter_stream_broken(s, "%s event data is not a JSON object", event);
	}
	/* No event: line (a proxy dropped it): the data's type says what it is. */
	if (strcmp(event, "message") == 0 && (type = adapter_json_string(root, "type")) != NULL)
		event = type;

	if (strcmp(event, "message_start") == 0) {
		msg = cJSON_GetObjectItemCaseSensitive(root, "message");
		if (!cJSON_IsObject(msg))
			r = adapter_stream_broken(s, "message_start without a message");
		else {
			adapter_set_string(&acc->id, adapter_json_string(msg, "id"));
			adapter_set_string(&acc->model, adapter_json_string(msg, "model"));
			anthropic_usage(cJSON_GetObjectItemCaseSensitive(msg, "usage"),
			    &acc->usage);
		}
	} else if (strcmp(event, "content_block_start") == 0) {
		r = anthropic_block_start(s, root);
	} else if (strcmp(event, "content_block_delta") == 0) {
		r = anthropic_block_delta(s, root);
	} else if (strcmp(event, "message_delta") == 0) {
		delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
		if (cJSON_IsObject(delta) && adapter_json_string(delta, "stop_reason") != NULL) {
			anthropic_stop_reason(delta, acc);
			s->seen_stop = 1;
		}
		anthropic_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &acc->usage);
	} else if (strcmp(event, "message_stop") == 0) {
		s->state = 1;
		r = 1;
	} else if (strcmp(event, "error") == 0)
		r = adapter_stream_error_json(s, root);
	/* content_block_stop and unknown events are ignored. */
	cJSON_Delete(root);
	return r;
}

static struct adapter_stream *
anthropic_stream_new(void)
{
	return adapter_stream_new(anthropic_event, "anthropic stream", "message_stop");
}

static int
anthropic_build_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	char *base;

	adapter_http_init(out);
	if (adapter_base_url(conf, "anthropic", &base, cause) != 0)
		return -1;
	out->method = xstrdup("GET");
	out->url = xasprintf("%s/v1/models", base);
	anthropic_headers(conf, out);
	free(base);
	return 0;
}

/*
 * count_tokens (POST /v1/messages/count_tokens): the Messages request's body
 * with only what the endpoint takes (the API refuses max_tokens, stream,
 * sampling and metadata), plus the client's own Anthropic fields.
 */
static int
anthropic_count_build(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct adapter_http *out, char **cause)
{
	static const char *const keep[] = {"model", "messages", "system", "tools", "tool_choice",
	    "thinking", "output_config", NULL};
	cJSON *root, *extra, *e, *next;
	char *url;

	if (anthropic_build_request(conf, m, model_id, req, 0, out, cause) != 0)
		return -1;
	root = cJSON_ParseWithLength(out->body, out->body_len);
	extra = req->passthrough != NULL ? cJSON_Parse(req->passthrough) : NULL;
	for (e = root != NULL ? root->child : NULL; e != NULL; e = next) {
		const char *const *k;

		next = e->next;
		for (k = keep; *k != NULL && strcmp(*k, e->string) != 0; k++)
			;
		if (*k == NULL &&
		    (strcmp(e->string, "max_tokens") == 0 ||
		        cJSON_GetObjectItemCaseSensitive(extra, e->string) == NULL))
			cJSON_DeleteItemFromObjectCaseSensitive(root, e->string);
	}
	cJSON_Delete(extra);
	if (root != NULL) {
		free(out->body);
		if ((out->body = cJSON_PrintUnformatted(root)) == NULL)
			fatal("out of memory printing a request body");
		out->body_len = strlen(out->body);
		cJSON_Delete(root);
	}
	url = xasprintf("%s/count_tokens", out->url);
	free(out->url);
	out->url = url;
	return 0;
}

/* {"input_tokens": N} */
static int
anthropic_count_parse(const char *body, size_t len, int64_t *input_tokens, struct llm_error *err)
{
	cJSON *root = adapter_json_parse(body, len);

	*input_tokens = adapter_json_int(root, "input_tokens", -1);
	cJSON_Delete(root);
	if (*input_tokens >= 0)
		return 0;
	llm_error_clear(err);
	llm_error_set(err, LLM_ERR_MALFORMED, 0, "anthropic count_tokens answer: no input_tokens");
	return -1;
}

const struct adapter_count adapter_count_anthropic = {
    .name = "anthropic", .build = anthropic_count_build, .parse = anthropic_count_parse};

const struct adapter adapter_anthropic = {
    .kind = "anthropic",
    .check_request = anthropic_check_request,
    .build_request = anthropic_build_request,
    .parse_response = anthropic_parse_response,
    .classify_error = adapter_classify_http,
    .stream_new = anthropic_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = anthropic_build_probe,
};
