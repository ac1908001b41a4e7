/*
 * gateway_wire_anthropic.c: Anthropic Messages as clients send it and as they
 * expect it back (anthropic-sdk's types): content blocks (text, image by
 * base64 or URL, tool_use, tool_result, thinking, redacted_thinking) with
 * their cache_control, the system prompt as a string or blocks, tools,
 * tool_choice, thinking, output_config.format, metadata; the message answer
 * and the event stream (message_start, a content block per response part
 * with text_delta, input_json_delta, thinking_delta and signature_delta,
 * message_delta with the usage, message_stop).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_wire.h"

/* ---- blocks ---- */

/* cache_control: {"type":"ephemeral"[, "ttl":"5m"|"1h"]}. */
static int
cache_mark(struct gw_parse *p, const cJSON *block, const char *path, enum llm_cache_mark *mark)
{
	static const char *const keys[] = {"type", "ttl", NULL};
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(block, "cache_control"), *ttl;
	const char *type;
	char at[GW_PATH];

	*mark = LLM_CACHE_NONE;
	if (cc == NULL || cJSON_IsNull(cc))
		return 0;
	gw_path(at, "%s.cache_control", path);
	if (gw_type_of(p, cc, at, &type) != 0 || gw_known_keys(p, cc, at, keys) != 0)
		return -1;
	if (strcmp(type, "ephemeral") != 0)
		return gw_bad_set(p->bad, at, "%s.type: expected \"ephemeral\"", at);
	ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
	if (ttl == NULL || cJSON_IsNull(ttl) ||
	    (cJSON_IsString(ttl) && strcmp(ttl->valuestring, "5m") == 0))
		*mark = LLM_CACHE_5M;
	else if (cJSON_IsString(ttl) && strcmp(ttl->valuestring, "1h") == 0)
		*mark = LLM_CACHE_1H;
	else
		return gw_bad_set(p->bad, at, "%s.ttl: expected \"5m\" or \"1h\"", at);
	return 0;
}

static int
text_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {"type", "text", "cache_control", "citations", NULL};
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(b, "text");
	const cJSON *cit = cJSON_GetObjectItemCaseSensitive(b, "citations");

	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (!cJSON_IsString(text))
		return gw_bad_set(p->bad, path, "%s.text: expected a string", path);
	if (cit != NULL && !cJSON_IsNull(cit) &&
	    !(cJSON_IsArray(cit) && cJSON_GetArraySize(cit) == 0))
		return gw_bad_set(p->bad, path, "%s.citations: not supported by the gateway", path);
	into->type = LLM_PART_TEXT;
	into->text = xstrdup(text->valuestring);
	return cache_mark(p, b, path, &into->cache);
}

static int
image_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {"type", "source", "cache_control", NULL};
	static const char *const b64_keys[] = {"type", "media_type", "data", NULL};
	static const char *const url_keys[] = {"type", "url", NULL};
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(b, "source"), *mt, *data, *url;
	const char *type;
	char at[GW_PATH];

	gw_path(at, "%s.source", path);
	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (gw_type_of(p, src, at, &type) != 0)
		return -1;
	into->type = LLM_PART_IMAGE;
	if (strcmp(type, "base64") == 0) {
		if (gw_known_keys(p, src, at, b64_keys) != 0)
			return -1;
		mt = cJSON_GetObjectItemCaseSensitive(src, "media_type");
		data = cJSON_GetObjectItemCaseSensitive(src, "data");
		if (!cJSON_IsString(mt) || mt->valuestring[0] == '\0')
			return gw_bad_set(p->bad, at, "%s.media_type: expected a string", at);
		if (!cJSON_IsString(data) || data->valuestring[0] == '\0')
			return gw_bad_set(p->bad, at, "%s.data: expected base64 data", at);
		into->media_type = xstrdup(mt->valuestring);
		into->data = xstrdup(data->valuestring);
	} else if (strcmp(type, "url") == 0) {
		if (gw_known_keys(p, src, at, url_keys) != 0)
			return -1;
		url = cJSON_GetObjectItemCaseSensitive(src, "url");
		if (!cJSON_IsString(url) || url->valuestring[0] == '\0')
			return gw_bad_set(p->bad, at, "%s.url: expected a URL", at);
		into->url = xstrdup(url->valuestring);
	} else
		return gw_bad_set(p->bad, at,
		    "%s.type: \"%s\" images are not supported (base64 or url)", at, type);
	return cache_mark(p, b, path, &into->cache);
}

static int
tool_use_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {"type", "id", "name", "input", "cache_control", NULL};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");

	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.id: expected a non-empty string", path);
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.name: expected a non-empty string", path);
	if (!cJSON_IsObject(input))
		return gw_bad_set(p->bad, path, "%s.input: expected an object", path);
	into->type = LLM_PART_TOOL_CALL;
	into->id = xstrdup(id->valuestring);
	into->name = xstrdup(name->valuestring);
	into->arguments = gw_json_text(input);
	return cache_mark(p, b, path, &into->cache);
}

static int
block(struct gw_parse *, const cJSON *, const char *, enum llm_role, int nested, struct llm_part *);

static int
tool_result_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {
	    "type", "tool_use_id", "content", "is_error", "cache_control", NULL};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "tool_use_id");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(b, "content");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(b, "is_error"), *c;
	char at[GW_PATH];
	size_t n = 0;

	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.tool_use_id: expected a non-empty string",
		    path);
	into->type = LLM_PART_TOOL_RESULT;
	into->id = xstrdup(id->valuestring);
	if (err != NULL && !cJSON_IsNull(err) && gw_want_bool(p, err, path, &into->is_error) != 0)
		return gw_bad_set(p->bad, path, "%s.is_error: expected true or false", path);
	gw_path(at, "%s.content", path);
	if (content == NULL || cJSON_IsNull(content))
		return cache_mark(p, b, path, &into->cache);
	if (cJSON_IsString(content)) {
		if (content->valuestring[0] != '\0') {
			into->parts = xcalloc(1, sizeof *into->parts);
			into->parts[0].type = LLM_PART_TEXT;
			into->parts[0].text = xstrdup(content->valuestring);
			into->n_parts = 1;
		}
		return cache_mark(p, b, path, &into->cache);
	}
	if (!cJSON_IsArray(content))
		return gw_bad_set(p->bad, at, "%s: expected a string or an array of blocks", at);
	into->parts = xcalloc((size_t)cJSON_GetArraySize(content) + 1, sizeof *into->parts);
	cJSON_ArrayForEach(c, content)
	{
		char cat[GW_PATH];

		gw_path(cat, "%s[%zu]", at, n);
		into->n_parts = n + 1;
		if (block(p, c, cat, LLM_ROLE_USER, 1, &into->parts[n++]) != 0)
			return -1;
	}
	return cache_mark(p, b, path, &into->cache);
}

static int
thinking_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {"type", "thinking", "signature", NULL};
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(b, "thinking");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(b, "signature");

	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (!cJSON_IsString(text))
		return gw_bad_set(p->bad, path, "%s.thinking: expected a string", path);
	if (sig != NULL && !cJSON_IsNull(sig) && !cJSON_IsString(sig))
		return gw_bad_set(p->bad, path, "%s.signature: expected a string", path);
	into->type = LLM_PART_THINKING;
	into->text = xstrdup(text->valuestring);
	if (cJSON_IsString(sig))
		into->signature = xstrdup(sig->valuestring);
	return 0;
}

static int
redacted_block(struct gw_parse *p, const cJSON *b, const char *path, struct llm_part *into)
{
	static const char *const keys[] = {"type", "data", NULL};
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(b, "data");

	gw_lenient_keys(p, b, keys, "content[]", NULL);
	if (!cJSON_IsString(data))
		return gw_bad_set(p->bad, path, "%s.data: expected a string", path);
	into->type = LLM_PART_REDACTED_THINKING;
	into->data = xstrdup(data->valuestring);
	return 0;
}

/*
 * One content block into a part. nested: inside a tool_result, where only
 * text and images go. The role decides what may appear (Anthropic's rules:
 * tool_use and thinking from the assistant, tool_result from the user).
 */
static int
block(struct gw_parse *p, const cJSON *b, const char *path, enum llm_role role, int nested,
    struct llm_part *into)
{
	const char *type;
	int assistant = role == LLM_ROLE_ASSISTANT;

	if (gw_type_of(p, b, path, &type) != 0)
		return -1;
	if (strcmp(type, "text") == 0)
		return text_block(p, b, path, into);
	if (strcmp(type, "image") == 0 && !assistant)
		return image_block(p, b, path, into);
	if (!nested && strcmp(type, "tool_use") == 0 && assistant)
		return tool_use_block(p, b, path, into);
	if (!nested && strcmp(type, "tool_result") == 0 && !assistant)
		return tool_result_block(p, b, path, into);
	if (!nested && strcmp(type, "thinking") == 0 && assistant)
		return thinking_block(p, b, path, into);
	if (!nested && strcmp(type, "redacted_thinking") == 0 && assistant)
		return redacted_block(p, b, path, into);
	return gw_bad_set(p->bad, path,
	    "%s.type: \"%s\" blocks are not supported %s (text, image, tool_use, tool_result, "
	    "thinking, redacted_thinking, each in its role)",
	    path, type,
	    nested ? "in a tool_result" : (assistant ? "from the assistant" : "from the user"));
}

/* A system prompt, a string or text blocks, into text (blocks a blank line apart). */
static int
system_text(struct gw_parse *p, const cJSON *v, const char *path, struct buf *text)
{
	const cJSON *b;
	int i = 0, rc;

	if (cJSON_IsString(v)) {
		buf_puts(text, v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return gw_bad_set(p->bad, path, "%s: expected a string or an array of text blocks",
		    path);
	if (cJSON_GetArraySize(v) == 0)
		return gw_bad_set(p->bad, path, "%s: an empty array (needs at least one block)",
		    path);
	cJSON_ArrayForEach(b, v)
	{
		struct llm_part part;
		const char *type;
		char at[GW_PATH];

		gw_path(at, "%s[%d]", path, i++);
		memset(&part, 0, sizeof part);
		rc = gw_type_of(p, b, at, &type);
		if (rc == 0 && strcmp(type, "text") != 0)
			rc = gw_bad_set(p->bad, at, "%s.type: only \"text\" blocks, got \"%s\"", at,
			    type);
		if (rc == 0)
			rc = text_block(p, b, at, &part);
		if (rc != 0) {
			llm_part_free(&part);
			return -1;
		}
		/* One system string: its breakpoint is the strongest any block asked for. */
		if (part.cache > p->req->system_cache)
			p->req->system_cache = part.cache;
		if (text->len > 0)
			buf_puts(text, "\n\n");
		buf_puts(text, part.text);
		llm_part_free(&part);
	}
	return 0;
}

/*
 * A message of role "system" (Claude Code sends one at messages[1]; the
 * Messages API itself takes only user and assistant): its text folds into
 * the system prompt, after the top-level one. Not noted as dropped: every
 * word reaches every provider, an Anthropic one included, which could not
 * take it in place either; only its position among the turns is lost, and
 * these are standing instructions, which read the same from the prompt.
 */
static int
message_system(struct gw_parse *p, const cJSON *m, const char *path)
{
	static const char *const keys[] = {"role", "content", NULL};
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
	struct buf text;
	char cpath[GW_PATH];

	gw_path(cpath, "%s.content", path);
	if (gw_known_keys(p, m, path, keys) != 0)
		return -1;
	if (content == NULL)
		return gw_bad_set(p->bad, cpath, "%s: required", cpath);
	buf_init(&text);
	if (system_text(p, content, cpath, &text) != 0) {
		buf_free(&text);
		return -1;
	}
	if (text.len > 0)
		gw_system_append(p->req, text.data);
	buf_free(&text);
	return 0;
}

static int
f_messages(struct gw_parse *p, const cJSON *msgs)
{
	const cJSON *m;
	int i = 0;

	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
		return gw_bad_set(p->bad, "messages", "messages: expected a non-empty array");
	cJSON_ArrayForEach(m, msgs)
	{
		static const char *const keys[] = {"role", "content", NULL};
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content"), *b;
		struct llm_message *msg;
		enum llm_role r;
		char path[GW_PATH], cpath[80];
		size_t j = 0;

		gw_path(path, "messages[%d]", i++);
		gw_path(cpath, "%s.content", path);
		if (!cJSON_IsObject(m))
			return gw_bad_set(p->bad, "messages", "%s: expected an object", path);
		if (!cJSON_IsString(role))
			return gw_bad_set(p->bad, "messages", "%s.role: expected a string", path);
		if (strcmp(role->valuestring, "user") == 0)
			r = LLM_ROLE_USER;
		else if (strcmp(role->valuestring, "assistant") == 0)
			r = LLM_ROLE_ASSISTANT;
		else if (strcmp(role->valuestring, "system") == 0) {
			if (message_system(p, m, path) != 0)
				return -1;
			continue;
		} else
			return gw_bad_set(p->bad, "messages",
			    "%s.role: \"%s\" is not supported (user, assistant, or system)", path,
			    role->valuestring);
		if (gw_known_keys(p, m, path, keys) != 0)
			return -1;
		if (content == NULL)
			return gw_bad_set(p->bad, cpath, "%s: required", cpath);
		msg = llm_request_new_message(p->req, r);
		if (cJSON_IsString(content)) {
			llm_message_add_part(msg, LLM_PART_TEXT)->text =
			    xstrdup(content->valuestring);
			continue;
		}
		if (!cJSON_IsArray(content))
			return gw_bad_set(p->bad, cpath,
			    "%s: expected a string or an array of blocks", cpath);
		if (cJSON_GetArraySize(content) == 0)
			return gw_bad_set(p->bad, cpath,
			    "%s: an empty array (needs at least one block)", cpath);
		cJSON_ArrayForEach(b, content)
		{
			char at[GW_PATH];
			struct llm_part *part;

			gw_path(at, "%s[%zu]", cpath, j++);
			/* The part's type is set by block(); TEXT until then. */
			part = llm_message_add_part(msg, LLM_PART_TEXT);
			if (block(p, b, at, r, 0, part) != 0)
				return -1;
		}
	}
	if (p->req->n_messages == 0)
		return gw_bad_set(p->bad, "messages",
		    "messages: needs at least one user or assistant message");
	return 0;
}

/*
 * The top-level system. Before any system message folded in (messages may
 * come first in the body): the top-level prompt leads.
 */
static int
f_system(struct gw_parse *p, const cJSON *v)
{
	struct buf text;
	char *folded;

	buf_init(&text);
	if (system_text(p, v, "system", &text) != 0) {
		buf_free(&text);
		return -1;
	}
	folded = p->req->system;
	p->req->system = NULL;
	if (text.len > 0)
		gw_system_append(p->req, text.data);
	if (folded != NULL)
		gw_system_append(p->req, folded);
	free(folded);
	buf_free(&text);
	return 0;
}

static int
f_tools(struct gw_parse *p, const cJSON *tools)
{
	static const char *const keys[] = {
	    "type", "name", "description", "input_schema", "cache_control", "strict", NULL};
	const cJSON *t;
	int i = 0;

	if (!cJSON_IsArray(tools))
		return gw_bad_set(p->bad, "tools", "tools: expected an array");
	cJSON_ArrayForEach(t, tools)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
		const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
		const cJSON *strict = cJSON_GetObjectItemCaseSensitive(t, "strict");
		struct llm_tool *tool;
		char path[GW_PATH], *params;
		cJSON *extra = NULL;

		gw_path(path, "tools[%d]", i++);
		if (gw_want_object(p, t, path) != 0)
			return -1;
		if (type != NULL && !cJSON_IsNull(type) &&
		    !(cJSON_IsString(type) && strcmp(type->valuestring, "custom") == 0))
			return gw_bad_set(p->bad, path,
			    "%s.type: Anthropic's server tools (%s) are not supported through the "
			    "gateway; client tools only",
			    path, cJSON_IsString(type) ? type->valuestring : "?");
		if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
			return gw_bad_set(p->bad, path, "%s.name: expected a non-empty string",
			    path);
		if (desc != NULL && !cJSON_IsNull(desc) && !cJSON_IsString(desc))
			return gw_bad_set(p->bad, path, "%s.description: expected a string", path);
		if (!cJSON_IsObject(schema))
			return gw_bad_set(p->bad, path,
			    "%s.input_schema: expected a JSON Schema object", path);
		if (strict != NULL && !cJSON_IsNull(strict) && !cJSON_IsBool(strict))
			return gw_bad_set(p->bad, path, "%s.strict: expected true or false", path);
		params = gw_json_text(schema);
		tool = llm_request_add_tool(p->req, name->valuestring,
		    cJSON_IsString(desc) ? desc->valuestring : NULL, params);
		free(params);
		tool->strict = cJSON_IsTrue(strict);
		if (cache_mark(p, t, path, &tool->cache) != 0)
			return -1;
		/* Keys a client adds (the AI SDK's eager_input_streaming on every streamed
		 * tool): an Anthropic provider gets them back, the others go without.
		 * Never a refusal. */
		gw_lenient_keys(p, t, keys, "tools[]", &extra);
		if (extra != NULL) {
			tool->extra = gw_json_text(extra);
			p->req->passthrough_api = p->api;
			cJSON_Delete(extra);
		}
	}
	return 0;
}

static int
f_tool_choice(struct gw_parse *p, const cJSON *v)
{
	static const char *const keys[] = {"type", "name", "disable_parallel_tool_use", NULL};
	struct llm_request *req = p->req;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
	const cJSON *dis = cJSON_GetObjectItemCaseSensitive(v, "disable_parallel_tool_use");
	const char *type;
	int off;

	if (gw_type_of(p, v, "tool_choice", &type) != 0 ||
	    gw_known_keys(p, v, "tool_choice", keys) != 0)
		return -1;
	if (strcmp(type, "auto") == 0)
		req->tool_choice = LLM_TOOL_CHOICE_AUTO;
	else if (strcmp(type, "any") == 0)
		req->tool_choice = LLM_TOOL_CHOICE_ANY;
	else if (strcmp(type, "none") == 0)
		req->tool_choice = LLM_TOOL_CHOICE_NONE;
	else if (strcmp(type, "tool") == 0) {
		if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
			return gw_bad_set(p->bad, "tool_choice",
			    "tool_choice.name: required with type \"tool\"");
		req->tool_choice = LLM_TOOL_CHOICE_NAMED;
		req->tool_choice_name = xstrdup(name->valuestring);
	} else
		return gw_bad_set(p->bad, "tool_choice",
		    "tool_choice.type: \"%s\" is not one of auto, any, tool, none", type);
	if (dis != NULL && !cJSON_IsNull(dis)) {
		if (gw_want_bool(p, dis, "tool_choice.disable_parallel_tool_use", &off) != 0)
			return -1;
		req->has_parallel_tool_calls = 1;
		req->parallel_tool_calls = !off;
	}
	return 0;
}

/*
 * thinking {"type":"enabled","budget_tokens":N} and "disabled"; "adaptive"
 * (Claude Code's default) goes as it came to an Anthropic provider and as a
 * reasoning effort (output_config.effort's, else medium) to the others; other
 * forms pass through to Anthropic only.
 */
static int
f_thinking(struct gw_parse *p, const cJSON *v)
{
	static const char *const keys[] = {"type", "budget_tokens", NULL};
	const char *type;
	int64_t n;

	if (gw_type_of(p, v, "thinking", &type) != 0)
		return -1;
	if (strcmp(type, "disabled") == 0 && cJSON_GetArraySize(v) == 1)
		return 0;
	if (strcmp(type, "adaptive") == 0) {
		gw_passthrough_soft(p, "thinking", v);
		gw_ask_drop(p->ask, "thinking.adaptive");
		if (p->req->reasoning_effort == NULL)
			p->req->reasoning_effort = xstrdup("medium");
		return 0;
	}
	if (strcmp(type, "enabled") != 0 || gw_known_keys(p, v, "thinking", keys) != 0) {
		/* display...: Anthropic's own, for an Anthropic provider. */
		gw_passthrough(p, "thinking", v);
		return 0;
	}
	if (gw_want_int(p, cJSON_GetObjectItemCaseSensitive(v, "budget_tokens"),
	        "thinking.budget_tokens", 1, 10000000, &n) != 0)
		return -1;
	p->req->thinking_budget = (int)n;
	return 0;
}

/*
 * output_config {"format": {"type": "json_schema", "schema": {...}}, "effort":
 * "low"|"medium"|"high"|"max"}: the format as response_format, the effort as
 * reasoning_effort for other providers (max as high) while an Anthropic
 * provider gets the object as it came; any other key passes through whole.
 */
static int
f_output_config(struct gw_parse *p, const cJSON *v)
{
	static const char *const fkeys[] = {"type", "schema", NULL};
	static const char *const efforts[] = {"low", "medium", "high", "max"};
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(v, "format"), *schema;
	const cJSON *effort = cJSON_GetObjectItemCaseSensitive(v, "effort");
	const char *type;
	size_t i;

	if (gw_want_object(p, v, "output_config") != 0)
		return -1;
	if (cJSON_GetArraySize(v) != (fmt != NULL) + (effort != NULL) ||
	    (fmt == NULL && effort == NULL)) {
		gw_passthrough(p, "output_config", v);
		return 0;
	}
	if (effort != NULL) {
		for (i = 0; i < nitems(efforts); i++)
			if (cJSON_IsString(effort) && strcmp(effort->valuestring, efforts[i]) == 0)
				break;
		if (i == nitems(efforts))
			return gw_bad_set(p->bad, "output_config.effort",
			    "output_config.effort: expected low, medium, high or max");
		free(p->req->reasoning_effort);
		p->req->reasoning_effort = xstrdup(i == 3 ? "high" : efforts[i]);
		gw_passthrough_soft(p, "output_config", v);
		gw_ask_drop(p->ask, "output_config.effort");
	}
	if (fmt == NULL || cJSON_IsNull(fmt))
		return 0;
	if (gw_type_of(p, fmt, "output_config.format", &type) != 0 ||
	    gw_known_keys(p, fmt, "output_config.format", fkeys) != 0)
		return -1;
	schema = cJSON_GetObjectItemCaseSensitive(fmt, "schema");
	if (strcmp(type, "json_schema") != 0)
		return gw_bad_set(p->bad, "output_config.format",
		    "output_config.format.type: expected \"json_schema\"");
	if (!cJSON_IsObject(schema))
		return gw_bad_set(p->bad, "output_config.format",
		    "output_config.format.schema: expected a JSON Schema object");
	p->req->response_format.type = LLM_FORMAT_JSON_SCHEMA;
	p->req->response_format.name = xstrdup("output");
	p->req->response_format.schema = gw_json_text(schema);
	p->req->response_format.strict = 1;
	return 0;
}

/*
 * Hints an answer from another API can do without (Claude Code sends
 * context_management on every request): as they came to an Anthropic
 * provider, left out (and counted) for the others.
 */
static int
f_soft_hint(struct gw_parse *p, const cJSON *v)
{
	char label[GW_DROPPED_FIELD];

	gw_passthrough_soft(p, v->string, v);
	snprintf(label, sizeof label, "messages.%s", v->string);
	gw_ask_drop(p->ask, label);
	return 0;
}

static int
f_metadata(struct gw_parse *p, const cJSON *v)
{
	static const char *const keys[] = {
	    "user_id", "llmdeck_quality", "llmdeck_complexity", NULL};
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(v, "user_id"), *h;

	if (gw_want_object(p, v, "metadata") != 0 || gw_known_keys(p, v, "metadata", keys) != 0)
		return -1;
	/* The seed's hints (gateway_keys.c checks their values). */
	if (cJSON_IsString(h = cJSON_GetObjectItemCaseSensitive(v, "llmdeck_quality")))
		p->req->quality = xstrdup(h->valuestring);
	if (cJSON_IsString(h = cJSON_GetObjectItemCaseSensitive(v, "llmdeck_complexity")))
		p->req->complexity = xstrdup(h->valuestring);
	if (uid == NULL || cJSON_IsNull(uid))
		return 0;
	if (!cJSON_IsString(uid))
		return gw_bad_set(p->bad, "metadata", "metadata.user_id: expected a string");
	p->req->user = xstrdup(uid->valuestring);
	return 0;
}

/* Top-level cache_control: a breakpoint on the last block (finish). */
static int
f_cache_control(struct gw_parse *p, const cJSON *v)
{
	cJSON *wrap = cJSON_CreateObject();
	int rc;

	cJSON_AddItemReferenceToObject(wrap, "cache_control", (cJSON *)v);
	rc = cache_mark(p, wrap, "", &p->top_cache);
	cJSON_Delete(wrap);
	if (rc != 0)
		snprintf(p->bad->param, sizeof p->bad->param, "cache_control");
	return rc;
}

static int
f_max_tokens(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "max_tokens", 1, 10000000, &n) != 0)
		return -1;
	/* count_tokens takes the same body and ignores it, as Anthropic's does. */
	if (p->count_tokens)
		return 0;
	p->req->max_tokens = (int)n;
	p->saw_max_tokens = 1;
	return 0;
}

static int
f_temperature(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_temperature(p, v, 1);
}

static int
f_top_p(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_top_p(p, v);
}

static int
f_top_k(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "top_k", 1, 1000000, &n) != 0)
		return -1;
	p->req->top_k = (int)n;
	return 0;
}

static int
f_stop_sequences(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_stops(p, v, "stop_sequences", 0);
}

static int
f_stream(struct gw_parse *p, const cJSON *v)
{
	return gw_want_bool(p, v, "stream", &p->req->stream);
}

static int
finish(struct gw_parse *p)
{
	struct llm_request *req = p->req;
	struct llm_message *last;

	if (!p->count_tokens && !p->saw_max_tokens)
		return gw_bad_set(p->bad, "max_tokens", "max_tokens: required (an integer >= 1)");
	if (p->top_cache != LLM_CACHE_NONE && req->n_messages > 0) {
		last = &req->messages[req->n_messages - 1];
		if (last->n_parts > 0 && last->parts[last->n_parts - 1].cache == LLM_CACHE_NONE)
			last->parts[last->n_parts - 1].cache = p->top_cache;
	}
	return 0;
}

static const struct gw_field anthropic_fields[] = {
    {"messages", f_messages},
    {"max_tokens", f_max_tokens},
    {"system", f_system},
    {"temperature", f_temperature},
    {"top_p", f_top_p},
    {"top_k", f_top_k},
    {"stop_sequences", f_stop_sequences},
    {"stream", f_stream},
    {"tools", f_tools},
    {"tool_choice", f_tool_choice},
    {"thinking", f_thinking},
    {"output_config", f_output_config},
    {"context_management", f_soft_hint},
    {"metadata", f_metadata},
    {"cache_control", f_cache_control},
};

int
gw_parse_anthropic(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	return gw_parse_body(body, len, LLM_API_ANTHROPIC, 0, anthropic_fields,
	    nitems(anthropic_fields), finish, req, ask, bad);
}

int
gw_parse_anthropic_count(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	return gw_parse_body(body, len, LLM_API_ANTHROPIC, 1, anthropic_fields,
	    nitems(anthropic_fields), finish, req, ask, bad);
}

/* ---- answers ---- */

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

/* A provider that called a tool without saying so still ends in tool_use. */
static const char *
stop_of(const struct llm_response *r)
{
	if (r->stop != LLM_STOP_TOOL_USE && r->stop != LLM_STOP_MAX_TOKENS &&
	    llm_response_tool_calls(r) > 0)
		return "tool_use";
	return anthropic_stop(r->stop);
}

/* A tool call's arguments as tool_use input: the object, or the text when it is not JSON. */
static cJSON *
tool_input(const struct llm_part *p)
{
	const char *a = p->arguments;
	cJSON *j;

	while (a != NULL && (*a == ' ' || *a == '\n' || *a == '\t' || *a == '\r'))
		a++;
	if (a == NULL || *a == '\0')
		return cJSON_CreateObject();
	if ((j = cJSON_Parse(a)) != NULL)
		return j;
	return cJSON_CreateString(p->arguments);
}

char *
gw_anthropic_answer(const struct router_result *res, const char *id, const char *model)
{
	const struct llm_response *r = &res->resp;
	cJSON *o = cJSON_CreateObject(), *content, *b;
	struct buf usage;
	char *s, *out;

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "role", "assistant");
	cJSON_AddStringToObject(o, "model",
	    r->model != NULL && r->model[0] != '\0' ? r->model : model);
	content = cJSON_AddArrayToObject(o, "content");
	for (size_t i = 0; i < r->n_parts; i++) {
		const struct llm_part *p = &r->parts[i];

		b = cJSON_CreateObject();
		switch (p->type) {
		case LLM_PART_TEXT:
			cJSON_AddStringToObject(b, "type", "text");
			cJSON_AddStringToObject(b, "text", p->text != NULL ? p->text : "");
			break;
		case LLM_PART_THINKING:
			cJSON_AddStringToObject(b, "type", "thinking");
			cJSON_AddStringToObject(b, "thinking", p->text != NULL ? p->text : "");
			cJSON_AddStringToObject(b, "signature",
			    p->signature != NULL ? p->signature : "");
			break;
		case LLM_PART_REDACTED_THINKING:
			cJSON_AddStringToObject(b, "type", "redacted_thinking");
			cJSON_AddStringToObject(b, "data", p->data != NULL ? p->data : "");
			break;
		case LLM_PART_TOOL_CALL:
			cJSON_AddStringToObject(b, "type", "tool_use");
			cJSON_AddStringToObject(b, "id", p->id != NULL ? p->id : "");
			cJSON_AddStringToObject(b, "name", p->name != NULL ? p->name : "");
			cJSON_AddItemToObject(b, "input", tool_input(p));
			break;
		default: cJSON_Delete(b); continue;
		}
		cJSON_AddItemToArray(content, b);
	}
	/* An answer with no parts (an older cache row): its text. */
	if (r->n_parts == 0) {
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", r->content != NULL ? r->content : "");
		cJSON_AddItemToArray(content, b);
	}
	cJSON_AddStringToObject(o, "stop_reason", stop_of(r));
	cJSON_AddNullToObject(o, "stop_sequence");
	/* usage last, as Anthropic orders it; spliced in as text. */
	s = gw_json_text(o);
	buf_init(&usage);
	buf_append(&usage, s, strlen(s) - 1);
	buf_puts(&usage, ",\"usage\":");
	gw_usage_anthropic(&usage, &r->usage);
	buf_puts(&usage, "}");
	free(s);
	cJSON_Delete(o);
	out = buf_detach(&usage);
	return out;
}

/* ---- streams ---- */

static void
event(struct buf *out, const char *name)
{
	buf_printf(out, "event: %s\ndata: {\"type\":\"%s\"", name, name);
}

void
gw_anthropic_stream_open(struct gw_stream *st, struct buf *out)
{
	event(out, "message_start");
	buf_puts(out, ",\"message\":{\"id\":\"");
	gw_json_escape(out, st->id, strlen(st->id));
	buf_puts(out, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"");
	gw_json_escape(out, st->model, strlen(st->model));
	/* The input count is the gateway's estimate here; message_delta carries the provider's. */
	buf_printf(out,
	    "\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
	    "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n",
	    (long long)st->input_estimate);
	st->block_open = 0;
	st->n_blocks = 0;
}

static void
block_stop(struct gw_stream *st, struct buf *out)
{
	if (!st->block_open)
		return;
	event(out, "content_block_stop");
	buf_printf(out, ",\"index\":%d}\n\n", st->block);
	st->block_open = 0;
}

/* Open the block for d's part (closing the one before). */
static void
block_start(struct gw_stream *st, struct buf *out, const struct llm_delta *d, int kind)
{
	block_stop(st, out);
	st->block_open = 1;
	st->block = st->n_blocks++;
	st->block_part = d->part;
	st->block_kind = kind;
	event(out, "content_block_start");
	buf_printf(out, ",\"index\":%d,\"content_block\":", st->block);
	switch (kind) {
	case LLM_PART_THINKING:
		buf_puts(out, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
		break;
	case LLM_PART_REDACTED_THINKING:
		buf_puts(out, "{\"type\":\"redacted_thinking\",\"data\":\"");
		gw_json_escape(out, d->text, d->len);
		buf_puts(out, "\"}");
		break;
	case LLM_PART_TOOL_CALL:
		buf_puts(out, "{\"type\":\"tool_use\",\"id\":\"");
		gw_json_escape(out, d->id != NULL ? d->id : "", d->id != NULL ? strlen(d->id) : 0);
		buf_puts(out, "\",\"name\":\"");
		gw_json_escape(out, d->name != NULL ? d->name : "",
		    d->name != NULL ? strlen(d->name) : 0);
		buf_puts(out, "\",\"input\":{}}");
		break;
	default: buf_puts(out, "{\"type\":\"text\",\"text\":\"\"}"); break;
	}
	buf_puts(out, "}\n\n");
	if (st->block == 0)
		buf_puts(out, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void
block_delta(struct buf *out, const struct gw_stream *st, const char *type, const char *key,
    const struct llm_delta *d)
{
	event(out, "content_block_delta");
	buf_printf(out, ",\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":\"", st->block, type, key);
	gw_json_escape(out, d->text, d->len);
	buf_puts(out, "\"}}\n\n");
}

void
gw_anthropic_stream_typed(struct gw_stream *st, struct buf *out, const struct llm_delta *d)
{
	int kind;

	switch (d->type) {
	case LLM_DELTA_TEXT: kind = LLM_PART_TEXT; break;
	case LLM_DELTA_THINKING:
	case LLM_DELTA_THINKING_SIGNATURE: kind = LLM_PART_THINKING; break;
	case LLM_DELTA_REDACTED_THINKING: kind = LLM_PART_REDACTED_THINKING; break;
	case LLM_DELTA_TOOL_CALL_START:
	case LLM_DELTA_TOOL_CALL_ARGS: kind = LLM_PART_TOOL_CALL; break;
	default: return;
	}
	/* A new part, or a tool call's start, opens a block; a redacted one is whole at once. */
	if (!st->block_open || st->block_part != d->part || st->block_kind != kind ||
	    d->type == LLM_DELTA_TOOL_CALL_START || kind == LLM_PART_REDACTED_THINKING)
		block_start(st, out, d, kind);
	switch (d->type) {
	case LLM_DELTA_TEXT: block_delta(out, st, "text_delta", "text", d); break;
	case LLM_DELTA_THINKING: block_delta(out, st, "thinking_delta", "thinking", d); break;
	case LLM_DELTA_THINKING_SIGNATURE:
		block_delta(out, st, "signature_delta", "signature", d);
		break;
	case LLM_DELTA_TOOL_CALL_ARGS:
		block_delta(out, st, "input_json_delta", "partial_json", d);
		break;
	default: break;
	}
}

void
gw_anthropic_stream_close(struct gw_stream *st, struct buf *out, const struct router_result *res)
{
	/* An answer with nothing in it still has its (empty) text block. */
	if (st->n_blocks == 0) {
		struct llm_delta d;

		memset(&d, 0, sizeof d);
		block_start(st, out, &d, LLM_PART_TEXT);
	}
	block_stop(st, out);
	event(out, "message_delta");
	buf_printf(out, ",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":",
	    stop_of(&res->resp));
	gw_usage_anthropic(out, &res->resp.usage);
	buf_puts(out, "}\n\n");
	event(out, "message_stop");
	buf_puts(out, "}\n\n");
}
