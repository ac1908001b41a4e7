/*
 * gateway_wire_openai.c: OpenAI Chat Completions as clients send it and as
 * they expect it back (the openai-openapi spec, openai-python's types):
 * messages of every role (content parts: text, image_url; assistant
 * tool_calls; role "tool" results, which become tool-result parts of a user
 * message as llm.h keeps them), tools, tool_choice, response_format and the
 * other request fields; the chat.completion answer and chat.completion.chunk
 * stream with tool_calls, usage with its details.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_wire.h"

/* ---- keys a client adds (both parsers) ---- */

/* A key that can name a metric label: short, and lower case letters and '_' only. */
static int
label_key(const char *key, size_t room)
{
	size_t n = strspn(key, "abcdefghijklmnopqrstuvwxyz_");

	return n > 0 && key[n] == '\0' && n < room;
}

void
gw_lenient_keys(struct gw_parse *p, const cJSON *o, const char *const *keys, const char *label,
    cJSON **keep)
{
	const cJSON *e;
	char at[GW_DROPPED_FIELD];

	cJSON_ArrayForEach(e, o)
	{
		const char *const *k;

		/* null is "not given" */
		if (e->string == NULL || cJSON_IsNull(e))
			continue;
		for (k = keys; *k != NULL; k++)
			if (strcmp(e->string, *k) == 0)
				break;
		if (*k != NULL)
			continue;
		if (label_key(e->string, sizeof at - strlen(label) - 1))
			snprintf(at, sizeof at, "%s.%s", label, e->string);
		else
			snprintf(at, sizeof at, "%s.other", label);
		gw_ask_drop(p->ask, at);
		if (keep == NULL)
			continue;
		if (*keep == NULL)
			*keep = cJSON_CreateObject();
		if (cJSON_GetObjectItemCaseSensitive(*keep, e->string) == NULL)
			cJSON_AddItemToObject(*keep, e->string, cJSON_Duplicate(e, 1));
	}
}

/* ---- content ---- */

/* A content array's text parts (the only kind where allowed is "text"), or a string. */
static int
text_parts(struct gw_parse *p, const cJSON *c, const char *path, struct buf *out)
{
	const cJSON *part;
	int i = 0;

	buf_append(out, "", 0); /* a string even when the content is empty */
	if (cJSON_IsString(c)) {
		buf_puts(out, c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return gw_bad_set(p->bad, path, "%s: expected a string or an array of text parts",
		    path);
	if (cJSON_GetArraySize(c) == 0)
		return gw_bad_set(p->bad, path, "%s: an empty array (needs at least one part)",
		    path);
	cJSON_ArrayForEach(part, c)
	{
		static const char *const keys[] = {"type", "text", NULL};
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		const char *type;
		char at[GW_PATH];

		gw_path(at, "%s[%d]", path, i++);
		if (gw_type_of(p, part, at, &type) != 0)
			return -1;
		if (strcmp(type, "text") != 0)
			return gw_bad_set(p->bad, path,
			    "%s.type: only \"text\" parts are allowed here, got \"%s\"", at, type);
		if (!cJSON_IsString(text))
			return gw_bad_set(p->bad, path, "%s.text: expected a string", at);
		gw_lenient_keys(p, part, keys, "content[]", NULL);
		buf_puts(out, text->valuestring);
	}
	return 0;
}

/* {"type":"image_url","image_url":{"url":...,"detail":...}} */
static int
image_part(struct gw_parse *p, const cJSON *part, const char *at, struct llm_message *m)
{
	static const char *const keys[] = {"url", "detail", NULL};
	const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
	const cJSON *url, *detail;
	struct llm_part *img;
	char path[GW_PATH];

	gw_path(path, "%s.image_url", at);
	/* The old form: "image_url": "https://..." */
	if (cJSON_IsString(iu)) {
		img = llm_message_add_part(m, LLM_PART_IMAGE);
		img->url = xstrdup(iu->valuestring);
		return 0;
	}
	if (gw_want_object(p, iu, path) != 0)
		return -1;
	gw_lenient_keys(p, iu, keys, "content[].image_url", NULL);
	url = cJSON_GetObjectItemCaseSensitive(iu, "url");
	detail = cJSON_GetObjectItemCaseSensitive(iu, "detail");
	if (!cJSON_IsString(url) || url->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.url: expected a URL or a data: URL", path);
	if (detail != NULL && !cJSON_IsNull(detail) && !cJSON_IsString(detail))
		return gw_bad_set(p->bad, path, "%s.detail: expected \"auto\", \"low\" or \"high\"",
		    path);
	img = llm_message_add_part(m, LLM_PART_IMAGE);
	img->url = xstrdup(url->valuestring);
	if (cJSON_IsString(detail))
		img->detail = xstrdup(detail->valuestring);
	return 0;
}

/* A user message's content: a string, or parts of text and images. */
static int
user_content(struct gw_parse *p, const cJSON *c, const char *path, struct llm_message *m)
{
	const cJSON *part;
	int i = 0;

	if (cJSON_IsString(c)) {
		llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup(c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return gw_bad_set(p->bad, path, "%s: expected a string or an array of parts", path);
	if (cJSON_GetArraySize(c) == 0)
		return gw_bad_set(p->bad, path, "%s: an empty array (needs at least one part)",
		    path);
	cJSON_ArrayForEach(part, c)
	{
		static const char *const text_keys[] = {"type", "text", NULL};
		static const char *const image_keys[] = {"type", "image_url", NULL};
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		const char *type;
		char at[GW_PATH];

		gw_path(at, "%s[%d]", path, i++);
		if (gw_type_of(p, part, at, &type) != 0)
			return -1;
		/* A part's keys beyond these (cache_control...) no provider gets: noted, dropped. */
		if (strcmp(type, "text") == 0) {
			gw_lenient_keys(p, part, text_keys, "content[]", NULL);
			if (!cJSON_IsString(text))
				return gw_bad_set(p->bad, at, "%s.text: expected a string", at);
			llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup(text->valuestring);
		} else if (strcmp(type, "image_url") == 0) {
			gw_lenient_keys(p, part, image_keys, "content[]", NULL);
			if (image_part(p, part, at, m) != 0)
				return -1;
		} else
			return gw_bad_set(p->bad, at,
			    "%s.type: \"%s\" parts are not supported (text or image_url)", at,
			    type);
	}
	return 0;
}

/* An assistant's tool_calls: [{id, type: "function", function: {name, arguments}}]. */
static int
tool_calls(struct gw_parse *p, const cJSON *calls, const char *mpath, struct llm_message *m)
{
	static const char *const keys[] = {"id", "type", "function", "index", NULL};
	/* parsed_arguments: the openai client's helpers add it to what they hand back. */
	static const char *const fkeys[] = {"name", "arguments", "parsed_arguments", NULL};
	const cJSON *c;
	char path[GW_PATH];
	int i = 0;

	if (!cJSON_IsArray(calls))
		return gw_bad_set(p->bad, mpath, "%s.tool_calls: expected an array", mpath);
	cJSON_ArrayForEach(c, calls)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		const char *type, *id, *name, *args = "{}";
		struct llm_part *tc;
		char fpath[GW_PATH];

		gw_path(path, "%s.tool_calls[%d]", mpath, i++);
		gw_path(fpath, "%s.function", path);
		if (gw_type_of(p, c, path, &type) != 0 || gw_known_keys(p, c, path, keys) != 0)
			return -1;
		if (strcmp(type, "function") != 0)
			return gw_bad_set(p->bad, path,
			    "%s.type: only \"function\" tool calls are supported, got \"%s\"", path,
			    type);
		if (gw_want_string(p, cJSON_GetObjectItemCaseSensitive(c, "id"), path, &id) != 0)
			return gw_bad_set(p->bad, path, "%s.id: expected a string", path);
		if (gw_want_object(p, fn, fpath) != 0 || gw_known_keys(p, fn, fpath, fkeys) != 0)
			return -1;
		if (gw_want_string(p, cJSON_GetObjectItemCaseSensitive(fn, "name"), fpath, &name) !=
		        0 ||
		    name[0] == '\0')
			return gw_bad_set(p->bad, fpath, "%s.name: expected a non-empty string",
			    fpath);
		if (cJSON_GetObjectItemCaseSensitive(fn, "arguments") != NULL &&
		    gw_want_string(p, cJSON_GetObjectItemCaseSensitive(fn, "arguments"), fpath,
		        &args) != 0)
			return gw_bad_set(p->bad, fpath,
			    "%s.arguments: expected a string (the arguments as JSON)", fpath);
		tc = llm_message_add_part(m, LLM_PART_TOOL_CALL);
		tc->id = xstrdup(id);
		tc->name = xstrdup(name);
		tc->arguments = xstrdup(args);
	}
	return 0;
}

/* The user message a tool result goes into: the one the last tool result went to, or a new one. */
static struct llm_message *
tool_result_message(struct gw_parse *p)
{
	struct llm_request *req = p->req;

	if (p->tool_results_in && req->n_messages > 0)
		return &req->messages[req->n_messages - 1];
	p->tool_results_in = 1;
	return llm_request_new_message(req, LLM_ROLE_USER);
}

static int
message_system(struct gw_parse *p, const cJSON *m, const char *path)
{
	static const char *const keys[] = {"role", "content", "name", NULL};
	struct buf text;
	char cpath[GW_PATH];
	int rc;

	if (gw_known_keys(p, m, path, keys) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(m, "name") != NULL)
		return gw_bad_set(p->bad, path, "%s.name: participant names are not supported",
		    path);
	gw_path(cpath, "%s.content", path);
	buf_init(&text);
	rc = text_parts(p, cJSON_GetObjectItemCaseSensitive(m, "content"), cpath, &text);
	if (rc == 0)
		gw_system_append(p->req, text.data);
	buf_free(&text);
	return rc;
}

static int
message_user(struct gw_parse *p, const cJSON *m, const char *path)
{
	static const char *const keys[] = {"role", "content", "name", NULL};
	struct llm_message *msg;
	char cpath[GW_PATH];

	if (gw_known_keys(p, m, path, keys) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(m, "name") != NULL)
		return gw_bad_set(p->bad, path, "%s.name: participant names are not supported",
		    path);
	gw_path(cpath, "%s.content", path);
	/* After tool results: the same user turn (Anthropic wants them together, results first). */
	msg = p->tool_results_in ? &p->req->messages[p->req->n_messages - 1]
	                         : llm_request_new_message(p->req, LLM_ROLE_USER);
	p->tool_results_in = 0;
	return user_content(p, cJSON_GetObjectItemCaseSensitive(m, "content"), cpath, msg);
}

static int
message_assistant(struct gw_parse *p, const cJSON *m, const char *path)
{
	/* What clients echo back of an answer: reasoning_content (ours, as vLLM's: thinking
	 * without a signature, which no provider takes back), empty annotations, null audio. */
	static const char *const keys[] = {"role", "content", "tool_calls", "refusal", "name",
	    "reasoning_content", "annotations", "audio", "function_call", NULL};
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(m, "annotations");
	const cJSON *audio = cJSON_GetObjectItemCaseSensitive(m, "audio");
	const cJSON *fc = cJSON_GetObjectItemCaseSensitive(m, "function_call");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(m, "refusal");
	struct llm_message *msg;
	struct buf text;
	char cpath[GW_PATH];
	int has_calls = cJSON_IsArray(calls) && cJSON_GetArraySize(calls) > 0;

	if (gw_known_keys(p, m, path, keys) != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(m, "name") != NULL)
		return gw_bad_set(p->bad, path, "%s.name: participant names are not supported",
		    path);
	if (ann != NULL && !cJSON_IsNull(ann) &&
	    !(cJSON_IsArray(ann) && cJSON_GetArraySize(ann) == 0))
		return gw_bad_set(p->bad, path, "%s.annotations: not supported by the gateway",
		    path);
	if (audio != NULL && !cJSON_IsNull(audio))
		return gw_bad_set(p->bad, path, "%s.audio: not supported by the gateway", path);
	if (fc != NULL && !cJSON_IsNull(fc))
		return gw_bad_set(p->bad, path, "%s.function_call: deprecated; send tool_calls",
		    path);
	gw_path(cpath, "%s.content", path);
	p->tool_results_in = 0;
	msg = llm_request_new_message(p->req, LLM_ROLE_ASSISTANT);
	if ((content == NULL || cJSON_IsNull(content)) && !has_calls && !cJSON_IsString(refusal))
		return gw_bad_set(p->bad, cpath, "%s: required unless tool_calls are given", cpath);
	if (content != NULL && !cJSON_IsNull(content)) {
		buf_init(&text);
		if (cJSON_IsArray(content)) {
			/* Text and refusal parts, as OpenAI allows them in assistant content. */
			const cJSON *part;
			int i = 0;
			cJSON_ArrayForEach(part, content)
			{
				static const char *const pkeys[] = {
				    "type", "text", "refusal", NULL};
				const char *type;
				const cJSON *t;
				char at[GW_PATH];

				gw_path(at, "%s[%d]", cpath, i++);
				if (gw_type_of(p, part, at, &type) != 0) {
					buf_free(&text);
					return -1;
				}
				t = cJSON_GetObjectItemCaseSensitive(part,
				    strcmp(type, "refusal") == 0 ? "refusal" : "text");
				if ((strcmp(type, "text") != 0 && strcmp(type, "refusal") != 0) ||
				    !cJSON_IsString(t)) {
					buf_free(&text);
					return gw_bad_set(p->bad, at,
					    "%s: expected a text or refusal part", at);
				}
				gw_lenient_keys(p, part, pkeys, "content[]", NULL);
				buf_puts(&text, t->valuestring);
			}
			if (i == 0) {
				buf_free(&text);
				return gw_bad_set(p->bad, cpath,
				    "%s: an empty array (needs at least one part)", cpath);
			}
		} else if (text_parts(p, content, cpath, &text) != 0) {
			buf_free(&text);
			return -1;
		}
		/* "" beside tool calls is what clients send for "no text". */
		if (text.len > 0 || !has_calls)
			llm_message_add_part(msg, LLM_PART_TEXT)->text =
			    xstrdup(text.data != NULL ? text.data : "");
		buf_free(&text);
	}
	if (cJSON_IsString(refusal) && refusal->valuestring[0] != '\0')
		llm_message_add_part(msg, LLM_PART_TEXT)->text = xstrdup(refusal->valuestring);
	if (calls != NULL && !cJSON_IsNull(calls) && tool_calls(p, calls, path, msg) != 0)
		return -1;
	if (msg->n_parts == 0)
		llm_message_add_part(msg, LLM_PART_TEXT)->text = xstrdup("");
	return 0;
}

static int
message_tool(struct gw_parse *p, const cJSON *m, const char *path)
{
	static const char *const keys[] = {"role", "content", "tool_call_id", "name", NULL};
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
	struct llm_part *tr;
	struct buf text;
	char cpath[GW_PATH];

	if (gw_known_keys(p, m, path, keys) != 0)
		return -1;
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.tool_call_id: required (the call's id)", path);
	/* The tool's name, as LangChain's ToolMessage always sends it: llm.h's tool
	 * result has no room for it (the call's id names the call), so no provider
	 * gets it. */
	if (name != NULL && !cJSON_IsNull(name)) {
		if (!cJSON_IsString(name))
			return gw_bad_set(p->bad, path, "%s.name: expected a string", path);
		gw_ask_drop(p->ask, "tool_message.name");
	}
	gw_path(cpath, "%s.content", path);
	buf_init(&text);
	if (text_parts(p, cJSON_GetObjectItemCaseSensitive(m, "content"), cpath, &text) != 0) {
		buf_free(&text);
		return -1;
	}
	tr = llm_message_add_part(tool_result_message(p), LLM_PART_TOOL_RESULT);
	tr->id = xstrdup(id->valuestring);
	if (text.len > 0) {
		tr->parts = xcalloc(1, sizeof *tr->parts);
		tr->parts[0].type = LLM_PART_TEXT;
		tr->parts[0].text = xstrdup(text.data);
		tr->n_parts = 1;
	}
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
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		char path[GW_PATH];
		int rc;

		gw_path(path, "messages[%d]", i++);
		if (!cJSON_IsObject(m))
			return gw_bad_set(p->bad, "messages", "%s: expected an object", path);
		if (!cJSON_IsString(role))
			return gw_bad_set(p->bad, "messages", "%s.role: expected a string", path);
		if (strcmp(role->valuestring, "system") == 0 ||
		    strcmp(role->valuestring, "developer") == 0)
			rc = message_system(p, m, path);
		else if (strcmp(role->valuestring, "user") == 0)
			rc = message_user(p, m, path);
		else if (strcmp(role->valuestring, "assistant") == 0)
			rc = message_assistant(p, m, path);
		else if (strcmp(role->valuestring, "tool") == 0)
			rc = message_tool(p, m, path);
		else
			return gw_bad_set(p->bad, "messages",
			    "%s.role: \"%s\" is not supported (system, developer, user, assistant "
			    "or tool)",
			    path, role->valuestring);
		if (rc != 0) {
			/* The param is the message's field path; keep "messages" for bare shapes. */
			if (p->bad->param[0] == '\0')
				snprintf(p->bad->param, sizeof p->bad->param, "messages");
			return -1;
		}
	}
	if (p->req->n_messages == 0)
		return gw_bad_set(p->bad, "messages", "messages: needs at least one user message");
	return 0;
}

/* ---- tools ---- */

static int
f_tools(struct gw_parse *p, const cJSON *tools)
{
	static const char *const keys[] = {"type", "function", NULL};
	static const char *const fkeys[] = {"name", "description", "parameters", "strict", NULL};
	const cJSON *t;
	int i = 0;

	if (!cJSON_IsArray(tools))
		return gw_bad_set(p->bad, "tools", "tools: expected an array");
	cJSON_ArrayForEach(t, tools)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function"), *v;
		const char *type, *name, *desc = NULL;
		struct llm_tool *tool;
		char path[GW_PATH], fpath[64];
		char *params = NULL;
		cJSON *extra = NULL, *fn_extra = NULL;
		int strict = 0;

		gw_path(path, "tools[%d]", i++);
		gw_path(fpath, "%s.function", path);
		if (gw_type_of(p, t, path, &type) != 0)
			return -1;
		if (strcmp(type, "function") != 0)
			return gw_bad_set(p->bad, path,
			    "%s.type: only \"function\" tools are supported, got \"%s\"", path,
			    type);
		if (gw_want_object(p, fn, fpath) != 0)
			return -1;
		if (!cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(fn, "name")) ||
		    v->valuestring[0] == '\0')
			return gw_bad_set(p->bad, fpath, "%s.name: expected a non-empty string",
			    fpath);
		name = v->valuestring;
		if ((v = cJSON_GetObjectItemCaseSensitive(fn, "description")) != NULL &&
		    !cJSON_IsNull(v) && gw_want_string(p, v, fpath, &desc) != 0)
			return gw_bad_set(p->bad, fpath, "%s.description: expected a string",
			    fpath);
		if ((v = cJSON_GetObjectItemCaseSensitive(fn, "parameters")) != NULL &&
		    !cJSON_IsNull(v)) {
			if (!cJSON_IsObject(v))
				return gw_bad_set(p->bad, fpath,
				    "%s.parameters: expected a JSON Schema object", fpath);
			params = gw_json_text(v);
		}
		if ((v = cJSON_GetObjectItemCaseSensitive(fn, "strict")) != NULL &&
		    !cJSON_IsNull(v) && gw_want_bool(p, v, fpath, &strict) != 0) {
			free(params);
			return gw_bad_set(p->bad, fpath, "%s.strict: expected true or false",
			    fpath);
		}
		tool = llm_request_add_tool(p->req, name, desc, params);
		tool->strict = strict;
		free(params);
		/* Keys a client adds to a tool or its function: an OpenAI-compatible
		 * provider gets them back in place ({"function": {...}} holds the
		 * function's), the others go without. Never a refusal. */
		gw_lenient_keys(p, t, keys, "tools[]", &extra);
		gw_lenient_keys(p, fn, fkeys, "tools[].function", &fn_extra);
		if (fn_extra != NULL) {
			if (extra == NULL)
				extra = cJSON_CreateObject();
			cJSON_AddItemToObject(extra, "function", fn_extra);
		}
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
	static const char *const keys[] = {"type", "function", NULL};
	struct llm_request *req = p->req;
	const cJSON *fn, *name;
	const char *type;

	if (cJSON_IsString(v))
		return gw_parse_tool_choice_word(p, v->valuestring);
	if (gw_type_of(p, v, "tool_choice", &type) != 0)
		return -1;
	if (strcmp(type, "function") != 0)
		return gw_bad_set(p->bad, "tool_choice",
		    "tool_choice.type: \"%s\" is not supported (a string, or {\"type\":"
		    "\"function\",\"function\":{\"name\":...}})",
		    type);
	if (gw_known_keys(p, v, "tool_choice", keys) != 0)
		return -1;
	fn = cJSON_GetObjectItemCaseSensitive(v, "function");
	name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	if (!cJSON_IsObject(fn) || !cJSON_IsString(name) || name->valuestring[0] == '\0')
		return gw_bad_set(p->bad, "tool_choice",
		    "tool_choice.function.name: expected the name of a tool");
	req->tool_choice = LLM_TOOL_CHOICE_NAMED;
	req->tool_choice_name = xstrdup(name->valuestring);
	return 0;
}

static int
f_parallel_tool_calls(struct gw_parse *p, const cJSON *v)
{
	if (gw_want_bool(p, v, "parallel_tool_calls", &p->req->parallel_tool_calls) != 0)
		return -1;
	p->req->has_parallel_tool_calls = 1;
	return 0;
}

static int
f_response_format(struct gw_parse *p, const cJSON *v)
{
	static const char *const keys[] = {"type", "json_schema", NULL};
	static const char *const skeys[] = {"name", "schema", "strict", "description", NULL};
	struct llm_response_format *rf = &p->req->response_format;
	const cJSON *js, *name, *schema, *strict, *desc;
	const char *type;

	if (gw_type_of(p, v, "response_format", &type) != 0 ||
	    gw_known_keys(p, v, "response_format", keys) != 0)
		return -1;
	if (strcmp(type, "text") == 0) {
		rf->type = LLM_FORMAT_TEXT;
		return 0;
	}
	if (strcmp(type, "json_object") == 0) {
		rf->type = LLM_FORMAT_JSON_OBJECT;
		return 0;
	}
	if (strcmp(type, "json_schema") != 0)
		return gw_bad_set(p->bad, "response_format",
		    "response_format.type: \"%s\" is not one of text, json_object, json_schema",
		    type);
	js = cJSON_GetObjectItemCaseSensitive(v, "json_schema");
	if (gw_want_object(p, js, "response_format.json_schema") != 0 ||
	    gw_known_keys(p, js, "response_format.json_schema", skeys) != 0)
		return -1;
	name = cJSON_GetObjectItemCaseSensitive(js, "name");
	schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
	strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
	desc = cJSON_GetObjectItemCaseSensitive(js, "description");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
		return gw_bad_set(p->bad, "response_format",
		    "response_format.json_schema.name: expected a non-empty string");
	if (!cJSON_IsObject(schema))
		return gw_bad_set(p->bad, "response_format",
		    "response_format.json_schema.schema: expected a JSON Schema object");
	if (desc != NULL && !cJSON_IsNull(desc) &&
	    !(cJSON_IsString(desc) && desc->valuestring[0] == '\0'))
		return gw_bad_set(p->bad, "response_format",
		    "response_format.json_schema.description: not carried by the gateway (put it "
		    "in the schema's own \"description\")");
	if (strict != NULL && !cJSON_IsNull(strict) &&
	    gw_want_bool(p, strict, "response_format", &rf->strict) != 0)
		return gw_bad_set(p->bad, "response_format",
		    "response_format.json_schema.strict: expected true or false");
	rf->type = LLM_FORMAT_JSON_SCHEMA;
	rf->name = xstrdup(name->valuestring);
	rf->schema = gw_json_text(schema);
	return 0;
}

/* ---- the other fields ---- */

static int
f_temperature(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_temperature(p, v, 2);
}

static int
f_top_p(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_top_p(p, v);
}

static int
f_max_tokens(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "max_tokens", 1, 10000000, &n) != 0)
		return -1;
	if (!p->max_completion)
		p->req->max_tokens = (int)n;
	return 0;
}

static int
f_max_completion_tokens(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "max_completion_tokens", 1, 10000000, &n) != 0)
		return -1;
	p->req->max_tokens = (int)n;
	p->max_completion = 1;
	return 0;
}

static int
f_n(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "n", 1, 128, &n) != 0)
		return -1;
	if (n != 1)
		return gw_bad_set(p->bad, "n", "n: only 1 choice is supported");
	return 0;
}

static int
f_stop(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_stops(p, v, "stop", 1);
}

static int
f_stream(struct gw_parse *p, const cJSON *v)
{
	return gw_want_bool(p, v, "stream", &p->req->stream);
}

static int
f_stream_options(struct gw_parse *p, const cJSON *v)
{
	static const char *const keys[] = {"include_usage", "include_obfuscation", NULL};
	const cJSON *iu = cJSON_GetObjectItemCaseSensitive(v, "include_usage");
	int obf;

	if (gw_want_object(p, v, "stream_options") != 0 ||
	    gw_known_keys(p, v, "stream_options", keys) != 0)
		return -1;
	if (iu != NULL && !cJSON_IsNull(iu) &&
	    gw_want_bool(p, iu, "stream_options.include_usage", &p->ask->include_usage) != 0)
		return -1;
	/* Obfuscation pads chunks against side channels; the gateway sends none. */
	iu = cJSON_GetObjectItemCaseSensitive(v, "include_obfuscation");
	if (iu != NULL && !cJSON_IsNull(iu) &&
	    gw_want_bool(p, iu, "stream_options.include_obfuscation", &obf) != 0)
		return -1;
	return 0;
}

static int
f_seed(struct gw_parse *p, const cJSON *v)
{
	if (gw_want_int(p, v, "seed", -9007199254740991.0, 9007199254740991.0, &p->req->seed) != 0)
		return -1;
	p->req->has_seed = 1;
	return 0;
}

static int
f_reasoning_effort(struct gw_parse *p, const cJSON *v)
{
	const char *s;

	if (gw_want_string(p, v, "reasoning_effort", &s) != 0)
		return -1;
	p->req->reasoning_effort = xstrdup(s);
	return 0;
}

/* Fields whose value asks for nothing when it is the default: taken, else passed through. */
static int
f_default_or_passthrough(struct gw_parse *p, const cJSON *v)
{
	if ((cJSON_IsNumber(v) && v->valuedouble == 0) || cJSON_IsFalse(v))
		return 0;
	gw_passthrough(p, v->string, v);
	return 0;
}

/* What the answer cannot carry back: refused, not dropped. */
static int
f_unsupported(struct gw_parse *p, const cJSON *v)
{
	if (cJSON_IsFalse(v) || (cJSON_IsNumber(v) && v->valuedouble == 0))
		return 0;
	return gw_bad_set(p->bad, v->string,
	    "%s: not supported through the gateway (its answer has no place for it)", v->string);
}

static int
f_functions(struct gw_parse *p, const cJSON *v)
{
	return gw_bad_set(p->bad, v->string, "%s: deprecated; send tools and tool_choice instead",
	    v->string);
}

static const struct gw_field openai_fields[] = {
    {"messages", f_messages},
    {"temperature", f_temperature},
    {"top_p", f_top_p},
    {"max_tokens", f_max_tokens},
    {"max_completion_tokens", f_max_completion_tokens},
    {"n", f_n},
    {"stop", f_stop},
    {"stream", f_stream},
    {"stream_options", f_stream_options},
    {"tools", f_tools},
    {"tool_choice", f_tool_choice},
    {"parallel_tool_calls", f_parallel_tool_calls},
    {"response_format", f_response_format},
    {"seed", f_seed},
    {"reasoning_effort", f_reasoning_effort},
    {"user", gw_parse_user},
    {"metadata", gw_parse_metadata},
    {"frequency_penalty", f_default_or_passthrough},
    {"presence_penalty", f_default_or_passthrough},
    {"store", f_default_or_passthrough},
    {"logprobs", f_unsupported},
    {"top_logprobs", f_unsupported},
    {"functions", f_functions},
    {"function_call", f_functions},
};

int
gw_parse_openai(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	return gw_parse_body(body, len, LLM_API_OPENAI, 0, openai_fields, nitems(openai_fields),
	    NULL, req, ask, bad);
}

/* ---- answers ---- */

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

/* A tool call made by a provider that forgot to say so still ends in tool_calls. */
static const char *
finish_of(const struct llm_response *r)
{
	if (r->stop != LLM_STOP_TOOL_USE && r->stop != LLM_STOP_MAX_TOKENS &&
	    llm_response_tool_calls(r) > 0)
		return "tool_calls";
	return openai_finish(r->stop);
}

static void
str_field(struct buf *out, const char *key, const char *value)
{
	buf_printf(out, "\"%s\":\"", key);
	gw_json_escape(out, value != NULL ? value : "", value != NULL ? strlen(value) : 0);
	buf_puts(out, "\"");
}

static const char *
answer_model(const struct router_result *res, const char *model)
{
	return res->resp.model != NULL && res->resp.model[0] != '\0' ? res->resp.model : model;
}

char *
gw_openai_answer(const struct router_result *res, const char *id, const char *model,
    int64_t created)
{
	const struct llm_response *r = &res->resp;
	struct buf out, thinking;
	size_t calls = llm_response_tool_calls(r), k = 0;
	int has_text = 0;

	buf_init(&out);
	buf_init(&thinking);
	for (size_t i = 0; i < r->n_parts; i++) {
		if (r->parts[i].type == LLM_PART_TEXT)
			has_text = 1;
		if (r->parts[i].type == LLM_PART_THINKING && r->parts[i].text != NULL)
			buf_puts(&thinking, r->parts[i].text);
	}
	if (r->n_parts == 0 && r->content != NULL && r->content[0] != '\0')
		has_text = 1;
	buf_puts(&out, "{");
	str_field(&out, "id", id);
	buf_printf(&out, ",\"object\":\"chat.completion\",\"created\":%lld,", (long long)created);
	str_field(&out, "model", answer_model(res, model));
	buf_puts(&out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",");
	/* No text beside tool calls is null, as OpenAI sends it. */
	if (has_text || calls == 0)
		str_field(&out, "content", r->content != NULL ? r->content : "");
	else
		buf_puts(&out, "\"content\":null");
	buf_puts(&out, ",\"refusal\":null");
	if (thinking.len > 0) {
		buf_puts(&out, ",");
		str_field(&out, "reasoning_content", thinking.data);
	}
	if (calls > 0) {
		buf_puts(&out, ",\"tool_calls\":[");
		for (size_t i = 0; i < r->n_parts; i++) {
			const struct llm_part *p = &r->parts[i];

			if (p->type != LLM_PART_TOOL_CALL)
				continue;
			buf_puts(&out, k++ > 0 ? ",{" : "{");
			str_field(&out, "id", p->id);
			buf_puts(&out, ",\"type\":\"function\",\"function\":{");
			str_field(&out, "name", p->name);
			buf_puts(&out, ",");
			str_field(&out, "arguments",
			    p->arguments != NULL && p->arguments[0] != '\0' ? p->arguments : "{}");
			buf_puts(&out, "}}");
		}
		buf_puts(&out, "]");
	}
	buf_printf(&out, "},\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":", finish_of(r));
	gw_usage_openai(&out, &r->usage);
	buf_puts(&out, ",\"system_fingerprint\":null}");
	buf_free(&thinking);
	return buf_detach(&out);
}

/* ---- streams ---- */

/* The start of an OpenAI chunk, up to and including "choices":[ . */
static void
chunk_head(struct gw_stream *st, struct buf *out)
{
	buf_puts(out, "data: {\"id\":\"");
	gw_json_escape(out, st->id, strlen(st->id));
	buf_printf(out, "\",\"object\":\"chat.completion.chunk\",\"created\":%lld,\"model\":\"",
	    (long long)st->created);
	gw_json_escape(out, st->model, strlen(st->model));
	buf_puts(out, "\",\"system_fingerprint\":null,\"choices\":[");
}

static void
chunk_tail(struct gw_stream *st, struct buf *out)
{
	buf_puts(out, st->include_usage ? "],\"usage\":null}\n\n" : "]}\n\n");
}

/* One chunk with choice 0's delta, whose inside (after "delta":{) is written by the caller. */
static void
delta_head(struct gw_stream *st, struct buf *out)
{
	chunk_head(st, out);
	buf_puts(out, "{\"index\":0,\"delta\":{");
}

static void
delta_tail(struct gw_stream *st, struct buf *out)
{
	buf_puts(out, "},\"logprobs\":null,\"finish_reason\":null}");
	chunk_tail(st, out);
}

void
gw_openai_stream_open(struct gw_stream *st, struct buf *out)
{
	delta_head(st, out);
	buf_puts(out, "\"role\":\"assistant\",\"content\":\"\",\"refusal\":null");
	delta_tail(st, out);
}

void
gw_openai_stream_typed(struct gw_stream *st, struct buf *out, const struct llm_delta *d)
{
	switch (d->type) {
	case LLM_DELTA_TEXT:
		delta_head(st, out);
		buf_puts(out, "\"content\":\"");
		gw_json_escape(out, d->text, d->len);
		buf_puts(out, "\"");
		break;
	case LLM_DELTA_THINKING:
		/* Chat Completions has no reasoning text: the field vLLM and DeepSeek use. */
		delta_head(st, out);
		buf_puts(out, "\"reasoning_content\":\"");
		gw_json_escape(out, d->text, d->len);
		buf_puts(out, "\"");
		break;
	case LLM_DELTA_TOOL_CALL_START:
		delta_head(st, out);
		buf_printf(out, "\"tool_calls\":[{\"index\":%d,", d->index);
		str_field(out, "id", d->id);
		buf_puts(out, ",\"type\":\"function\",\"function\":{");
		str_field(out, "name", d->name);
		buf_puts(out, ",\"arguments\":\"\"}}]");
		break;
	case LLM_DELTA_TOOL_CALL_ARGS:
		delta_head(st, out);
		buf_printf(out, "\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":\"",
		    d->index);
		gw_json_escape(out, d->text, d->len);
		buf_puts(out, "\"}}]");
		break;
	case LLM_DELTA_THINKING_SIGNATURE:
	case LLM_DELTA_REDACTED_THINKING:
	default:
		/* Opaque reasoning an OpenAI client can neither read nor send back. */
		return;
	}
	delta_tail(st, out);
}

void
gw_openai_stream_close(struct gw_stream *st, struct buf *out, const struct router_result *res)
{
	chunk_head(st, out);
	buf_printf(out, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}",
	    finish_of(&res->resp));
	chunk_tail(st, out);
	if (st->include_usage) {
		chunk_head(st, out);
		buf_puts(out, "],\"usage\":");
		gw_usage_openai(out, &res->resp.usage);
		buf_puts(out, "}\n\n");
	}
	buf_puts(out, "data: [DONE]\n\n");
}
