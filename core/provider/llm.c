/* llm.c: the request/response model's constructors, copies, names and JSON form. */
#include "provider/llm.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

const char *
llm_role_name(enum llm_role role)
{
	return role == LLM_ROLE_ASSISTANT ? "assistant" : "user";
}

static const char *const part_type_names[LLM_PART__COUNT] = {
    [LLM_PART_TEXT] = "text",
    [LLM_PART_IMAGE] = "image",
    [LLM_PART_TOOL_CALL] = "tool_call",
    [LLM_PART_TOOL_RESULT] = "tool_result",
    [LLM_PART_THINKING] = "thinking",
    [LLM_PART_REDACTED_THINKING] = "redacted_thinking",
    [LLM_PART_REASONING] = "reasoning",
};

const char *
llm_api_name(enum llm_api api)
{
	static const char *const names[LLM_API__COUNT] = {
	    [LLM_API_NONE] = "none",
	    [LLM_API_OPENAI] = "openai",
	    [LLM_API_ANTHROPIC] = "anthropic",
	    [LLM_API_RESPONSES] = "responses",
	};

	return (unsigned)api < LLM_API__COUNT ? names[api] : "unknown";
}

const char *
llm_part_type_name(enum llm_part_type t)
{
	if ((unsigned)t >= LLM_PART__COUNT)
		return "unknown";
	return part_type_names[t];
}

static void
parts_free(struct llm_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		llm_part_free(&parts[i]);
	free(parts);
}

void
llm_part_free(struct llm_part *p)
{
	free(p->text);
	free(p->url);
	free(p->media_type);
	free(p->data);
	free(p->detail);
	free(p->id);
	free(p->name);
	free(p->arguments);
	parts_free(p->parts, p->n_parts);
	free(p->signature);
	memset(p, 0, sizeof *p);
}

static struct llm_part *
parts_copy(const struct llm_part *src, size_t n)
{
	struct llm_part *out;

	if (n == 0)
		return NULL;
	out = xcalloc(n, sizeof *out);
	for (size_t i = 0; i < n; i++)
		llm_part_copy(&out[i], &src[i]);
	return out;
}

void
llm_part_copy(struct llm_part *dst, const struct llm_part *src)
{
	*dst = *src;
	dst->text = dupnull(src->text);
	dst->url = dupnull(src->url);
	dst->media_type = dupnull(src->media_type);
	dst->data = dupnull(src->data);
	dst->detail = dupnull(src->detail);
	dst->id = dupnull(src->id);
	dst->name = dupnull(src->name);
	dst->arguments = dupnull(src->arguments);
	dst->parts = parts_copy(src->parts, src->n_parts);
	dst->signature = dupnull(src->signature);
}

static struct llm_part *
parts_push(struct llm_part **parts, size_t *n, enum llm_part_type type)
{
	struct llm_part *p;

	*parts = xreallocarray(*parts, *n + 1, sizeof **parts);
	p = &(*parts)[(*n)++];
	memset(p, 0, sizeof *p);
	p->type = type;
	return p;
}

struct llm_part *
llm_message_add_part(struct llm_message *m, enum llm_part_type type)
{
	return parts_push(&m->parts, &m->n_parts, type);
}

char *
llm_message_text(const struct llm_message *m)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	for (size_t i = 0; i < m->n_parts; i++)
		if (m->parts[i].type == LLM_PART_TEXT && m->parts[i].text != NULL)
			buf_puts(&b, m->parts[i].text);
	return buf_detach(&b);
}

void
llm_request_init(struct llm_request *r)
{
	memset(r, 0, sizeof *r);
}

static void
tool_free(struct llm_tool *t)
{
	free(t->name);
	free(t->description);
	free(t->parameters);
	free(t->extra);
}

void
llm_request_free(struct llm_request *r)
{
	free(r->model);
	free(r->route);
	free(r->provider);
	free(r->system);
	for (size_t i = 0; i < r->n_messages; i++)
		parts_free(r->messages[i].parts, r->messages[i].n_parts);
	free(r->messages);
	for (size_t i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	free(r->stop);
	for (size_t i = 0; i < r->n_tools; i++)
		tool_free(&r->tools[i]);
	free(r->tools);
	free(r->tool_choice_name);
	free(r->response_format.name);
	free(r->response_format.schema);
	free(r->reasoning_effort);
	free(r->user);
	free(r->metadata);
	free(r->passthrough);
	free(r->passthrough_soft);
	free(r->raw_body);
	free(r->hosted_tools);
	free(r->reasoning_summary);
	free(r->quality);
	free(r->complexity);
	free(r->key_id);
	free(r->team);
	memset(r, 0, sizeof *r);
}

struct llm_message *
llm_request_new_message(struct llm_request *r, enum llm_role role)
{
	struct llm_message *m;

	r->messages = xreallocarray(r->messages, r->n_messages + 1, sizeof *r->messages);
	m = &r->messages[r->n_messages++];
	memset(m, 0, sizeof *m);
	m->role = role;
	return m;
}

void
llm_request_add_message(struct llm_request *r, enum llm_role role, const char *text)
{
	struct llm_message *m = llm_request_new_message(r, role);

	llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup(text != NULL ? text : "");
}

struct llm_tool *
llm_request_add_tool(struct llm_request *r, const char *name, const char *description,
    const char *parameters)
{
	struct llm_tool *t;

	r->tools = xreallocarray(r->tools, r->n_tools + 1, sizeof *r->tools);
	t = &r->tools[r->n_tools++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->description = dupnull(description);
	t->parameters = dupnull(parameters);
	return t;
}

static const char *
json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
llm_request_tools_from_json(struct llm_request *r, const char *json, char **cause)
{
	cJSON *root = cJSON_Parse(json), *t;
	struct llm_request tmp;
	int i = 0;

	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		*cause = xasprintf("tools: not a JSON array");
		return -1;
	}
	llm_request_init(&tmp);
	cJSON_ArrayForEach(t, root)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
		const cJSON *src = cJSON_IsObject(fn) ? fn : t, *schema, *strict;
		struct llm_tool *tool;
		char *params = NULL;

		if (!cJSON_IsObject(t) || json_str(src, "name") == NULL) {
			*cause = xasprintf("tools[%d]: no name", i);
			llm_request_free(&tmp);
			cJSON_Delete(root);
			return -1;
		}
		schema = cJSON_GetObjectItemCaseSensitive(src,
		    src == fn ? "parameters" : "input_schema");
		if (schema != NULL && !cJSON_IsObject(schema)) {
			*cause = xasprintf("tools[%d]: the parameters are not a JSON object", i);
			llm_request_free(&tmp);
			cJSON_Delete(root);
			return -1;
		}
		if (schema != NULL && (params = cJSON_PrintUnformatted(schema)) == NULL)
			fatal("out of memory printing a tool's schema");
		tool = llm_request_add_tool(&tmp, json_str(src, "name"),
		    json_str(src, "description"), params);
		cJSON_free(params);
		strict = cJSON_GetObjectItemCaseSensitive(src, "strict");
		tool->strict = cJSON_IsTrue(strict);
		i++;
	}
	cJSON_Delete(root);
	/* Move the tools over. */
	for (size_t k = 0; k < tmp.n_tools; k++) {
		r->tools = xreallocarray(r->tools, r->n_tools + 1, sizeof *r->tools);
		r->tools[r->n_tools++] = tmp.tools[k];
	}
	free(tmp.tools);
	return 0;
}

void
llm_request_copy(struct llm_request *dst, const struct llm_request *src)
{
	*dst = *src;
	dst->model = dupnull(src->model);
	dst->route = dupnull(src->route);
	dst->provider = dupnull(src->provider);
	dst->system = dupnull(src->system);
	dst->quality = dupnull(src->quality);
	dst->complexity = dupnull(src->complexity);
	dst->key_id = dupnull(src->key_id);
	dst->team = dupnull(src->team);
	dst->operator_test = src->operator_test;
	dst->messages = NULL;
	if (src->n_messages > 0) {
		dst->messages = xcalloc(src->n_messages, sizeof *dst->messages);
		for (size_t i = 0; i < src->n_messages; i++) {
			dst->messages[i].role = src->messages[i].role;
			dst->messages[i].n_parts = src->messages[i].n_parts;
			dst->messages[i].parts =
			    parts_copy(src->messages[i].parts, src->messages[i].n_parts);
		}
	}
	dst->stop = NULL;
	if (src->n_stop > 0) {
		dst->stop = xcalloc(src->n_stop, sizeof *dst->stop);
		for (size_t i = 0; i < src->n_stop; i++)
			dst->stop[i] = xstrdup(src->stop[i]);
	}
	dst->tools = NULL;
	if (src->n_tools > 0) {
		dst->tools = xcalloc(src->n_tools, sizeof *dst->tools);
		for (size_t i = 0; i < src->n_tools; i++) {
			dst->tools[i] = src->tools[i];
			dst->tools[i].name = dupnull(src->tools[i].name);
			dst->tools[i].description = dupnull(src->tools[i].description);
			dst->tools[i].parameters = dupnull(src->tools[i].parameters);
			dst->tools[i].extra = dupnull(src->tools[i].extra);
		}
	}
	dst->tool_choice_name = dupnull(src->tool_choice_name);
	dst->response_format.name = dupnull(src->response_format.name);
	dst->response_format.schema = dupnull(src->response_format.schema);
	dst->reasoning_effort = dupnull(src->reasoning_effort);
	dst->user = dupnull(src->user);
	dst->metadata = dupnull(src->metadata);
	dst->passthrough = dupnull(src->passthrough);
	dst->passthrough_soft = dupnull(src->passthrough_soft);
	dst->raw_body = dupnull(src->raw_body);
	dst->hosted_tools = dupnull(src->hosted_tools);
	dst->reasoning_summary = dupnull(src->reasoning_summary);
}

static int
parts_have(const struct llm_part *parts, size_t n, enum llm_part_type type)
{
	for (size_t i = 0; i < n; i++) {
		if (parts[i].type == type)
			return 1;
		if (parts_have(parts[i].parts, parts[i].n_parts, type))
			return 1;
	}
	return 0;
}

int
llm_request_has_part(const struct llm_request *r, enum llm_part_type type)
{
	for (size_t i = 0; i < r->n_messages; i++)
		if (parts_have(r->messages[i].parts, r->messages[i].n_parts, type))
			return 1;
	return 0;
}

int
llm_request_has_images(const struct llm_request *r)
{
	return llm_request_has_part(r, LLM_PART_IMAGE);
}

const char *
llm_stop_name(enum llm_stop s)
{
	switch (s) {
	case LLM_STOP_NONE: return "none";
	case LLM_STOP_END: return "end";
	case LLM_STOP_MAX_TOKENS: return "max_tokens";
	case LLM_STOP_STOP_SEQUENCE: return "stop_sequence";
	case LLM_STOP_TOOL_USE: return "tool_use";
	case LLM_STOP_CONTENT_FILTER: return "content_filter";
	case LLM_STOP_OTHER: return "other";
	}
	return "other";
}

void
llm_response_init(struct llm_response *r)
{
	memset(r, 0, sizeof *r);
}

void
llm_response_free(struct llm_response *r)
{
	free(r->id);
	free(r->model);
	free(r->content);
	parts_free(r->parts, r->n_parts);
	free(r->stop_raw);
	free(r->request_id);
	memset(r, 0, sizeof *r);
}

void
llm_response_drop_parts(struct llm_response *r)
{
	parts_free(r->parts, r->n_parts);
	r->parts = NULL;
	r->n_parts = 0;
}

struct llm_part *
llm_response_add_part(struct llm_response *r, enum llm_part_type type)
{
	return parts_push(&r->parts, &r->n_parts, type);
}

size_t
llm_response_tool_calls(const struct llm_response *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_parts; i++)
		n += r->parts[i].type == LLM_PART_TOOL_CALL;
	return n;
}

static void
replay_one(llm_delta_cb cb, void *arg, enum llm_delta_type type, size_t part, int index,
    const char *text)
{
	struct llm_delta d;

	if (text == NULL || *text == '\0')
		return;
	memset(&d, 0, sizeof d);
	d.type = type;
	d.part = part;
	d.index = index;
	d.text = text;
	d.len = strlen(text);
	cb(arg, &d);
}

void
llm_response_replay(const struct llm_response *r, llm_delta_cb cb, void *arg)
{
	struct llm_delta d;

	if (cb == NULL)
		return;
	for (size_t i = 0; i < r->n_parts; i++) {
		const struct llm_part *p = &r->parts[i];

		switch (p->type) {
		case LLM_PART_TEXT: replay_one(cb, arg, LLM_DELTA_TEXT, i, 0, p->text); break;
		case LLM_PART_THINKING:
			replay_one(cb, arg, LLM_DELTA_THINKING, i, 0, p->text);
			replay_one(cb, arg, LLM_DELTA_THINKING_SIGNATURE, i, 0, p->signature);
			break;
		case LLM_PART_REDACTED_THINKING:
			replay_one(cb, arg, LLM_DELTA_REDACTED_THINKING, i, 0, p->data);
			break;
		case LLM_PART_REASONING:
			if (p->text != NULL && *p->text != '\0') {
				memset(&d, 0, sizeof d);
				d.type = LLM_DELTA_THINKING;
				d.part = i;
				d.id = p->id;
				d.text = p->text;
				d.len = strlen(p->text);
				cb(arg, &d);
			}
			memset(&d, 0, sizeof d);
			d.type = LLM_DELTA_REASONING_DONE;
			d.part = i;
			d.id = p->id != NULL ? p->id : "";
			d.text = p->data != NULL ? p->data : "";
			d.len = strlen(d.text);
			cb(arg, &d);
			break;
		case LLM_PART_TOOL_CALL:
			memset(&d, 0, sizeof d);
			d.type = LLM_DELTA_TOOL_CALL_START;
			d.part = i;
			d.index = p->index;
			d.id = p->id != NULL ? p->id : "";
			d.name = p->name != NULL ? p->name : "";
			cb(arg, &d);
			replay_one(cb, arg, LLM_DELTA_TOOL_CALL_ARGS, i, p->index, p->arguments);
			break;
		default: break;
		}
	}
	/* A response with text but no parts (an older cache row): the text alone. */
	if (r->n_parts == 0)
		replay_one(cb, arg, LLM_DELTA_TEXT, 0, 0, r->content);
}

static void
json_add_str(cJSON *o, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, key, s);
}

static cJSON *
parts_json(const struct llm_part *parts, size_t n)
{
	static const char *const marks[] = {NULL, "5m", "1h"};
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		const struct llm_part *p = &parts[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "type", llm_part_type_name(p->type));
		json_add_str(o, "text", p->text);
		json_add_str(o, "url", p->url);
		json_add_str(o, "media_type", p->media_type);
		json_add_str(o, "data", p->data);
		json_add_str(o, "detail", p->detail);
		json_add_str(o, "id", p->id);
		json_add_str(o, "name", p->name);
		json_add_str(o, "arguments", p->arguments);
		if (p->type == LLM_PART_TOOL_RESULT) {
			cJSON_AddItemToObject(o, "parts", parts_json(p->parts, p->n_parts));
			if (p->is_error)
				cJSON_AddBoolToObject(o, "is_error", 1);
		}
		json_add_str(o, "signature", p->signature);
		if (p->type == LLM_PART_TOOL_CALL)
			cJSON_AddNumberToObject(o, "index", p->index);
		if ((unsigned)p->cache < nitems(marks) && marks[p->cache] != NULL)
			cJSON_AddStringToObject(o, "cache", marks[p->cache]);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

char *
llm_parts_to_json(const struct llm_part *parts, size_t n)
{
	cJSON *a = parts_json(parts, n);
	char *s = cJSON_PrintUnformatted(a), *out;

	if (s == NULL)
		fatal("out of memory printing parts");
	out = xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(a);
	return out;
}

static int parts_from(const cJSON *a, struct llm_part **parts, size_t *n, int depth);

static int
part_from(const cJSON *o, struct llm_part *p, int depth)
{
	const char *type = json_str(o, "type"), *cache;
	const cJSON *idx;
	int t;

	if (!cJSON_IsObject(o) || type == NULL)
		return -1;
	for (t = 0; t < LLM_PART__COUNT; t++)
		if (strcmp(type, part_type_names[t]) == 0)
			break;
	if (t == LLM_PART__COUNT)
		return -1;
	p->type = (enum llm_part_type)t;
	p->text = dupnull(json_str(o, "text"));
	p->url = dupnull(json_str(o, "url"));
	p->media_type = dupnull(json_str(o, "media_type"));
	p->data = dupnull(json_str(o, "data"));
	p->detail = dupnull(json_str(o, "detail"));
	p->id = dupnull(json_str(o, "id"));
	p->name = dupnull(json_str(o, "name"));
	p->arguments = dupnull(json_str(o, "arguments"));
	p->signature = dupnull(json_str(o, "signature"));
	p->is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_error"));
	idx = cJSON_GetObjectItemCaseSensitive(o, "index");
	if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < 1e6)
		p->index = (int)idx->valuedouble;
	if ((cache = json_str(o, "cache")) != NULL)
		p->cache = strcmp(cache, "1h") == 0 ? LLM_CACHE_1H : LLM_CACHE_5M;
	if (cJSON_GetObjectItemCaseSensitive(o, "parts") != NULL &&
	    parts_from(cJSON_GetObjectItemCaseSensitive(o, "parts"), &p->parts, &p->n_parts,
	        depth + 1) != 0)
		return -1;
	return 0;
}

static int
parts_from(const cJSON *a, struct llm_part **parts, size_t *n, int depth)
{
	const cJSON *o;

	*parts = NULL;
	*n = 0;
	if (!cJSON_IsArray(a) || depth > 2)
		return -1;
	cJSON_ArrayForEach(o, a)
	{
		struct llm_part *p = parts_push(parts, n, LLM_PART_TEXT);
		if (part_from(o, p, depth) != 0) {
			parts_free(*parts, *n);
			*parts = NULL;
			*n = 0;
			return -1;
		}
	}
	return 0;
}

int
llm_parts_from_json(const char *json, struct llm_part **parts, size_t *n)
{
	cJSON *a = json != NULL ? cJSON_Parse(json) : NULL;
	int rc = parts_from(a, parts, n, 0);

	cJSON_Delete(a);
	return rc;
}

static const char *const errclass_names[LLM_ERR__COUNT] = {
    [LLM_OK] = "ok",
    [LLM_ERR_RATE_LIMIT] = "rate_limit",
    [LLM_ERR_OVERLOADED] = "overloaded",
    [LLM_ERR_SERVER] = "server_error",
    [LLM_ERR_TIMEOUT] = "timeout",
    [LLM_ERR_CONNECT] = "connect",
    [LLM_ERR_MALFORMED] = "malformed",
    [LLM_ERR_AUTH] = "auth",
    [LLM_ERR_QUOTA] = "quota",
    [LLM_ERR_NOT_FOUND] = "not_found",
    [LLM_ERR_BAD_REQUEST] = "bad_request",
    [LLM_ERR_STREAM] = "stream_broken",
    [LLM_ERR_NO_PROVIDER] = "no_provider",
    [LLM_ERR_BUDGET] = "budget",
    [LLM_ERR_CANCELLED] = "cancelled",
    [LLM_ERR_INTERNAL] = "internal",
    [LLM_ERR_FORBIDDEN] = "forbidden",
};

const char *
llm_errclass_name(enum llm_errclass c)
{
	if ((unsigned)c >= LLM_ERR__COUNT)
		return "unknown";
	return errclass_names[c];
}

int
llm_errclass_retryable(enum llm_errclass c)
{
	switch (c) {
	case LLM_ERR_RATE_LIMIT:
	case LLM_ERR_OVERLOADED:
	case LLM_ERR_SERVER:
	case LLM_ERR_TIMEOUT:
	case LLM_ERR_CONNECT:
	case LLM_ERR_MALFORMED: return 1;
	default: return 0;
	}
}

void
llm_error_clear(struct llm_error *e)
{
	memset(e, 0, sizeof *e);
	e->retry_after_ms = -1;
	e->should_retry = -1;
}

static atomic_uint_fast64_t invalid_utf8; /* answers repaired */

void
llm_note_invalid_utf8(size_t sequences)
{
	if (sequences > 0)
		atomic_fetch_add(&invalid_utf8, 1);
}

uint64_t
llm_invalid_utf8_total(void)
{
	return atomic_load(&invalid_utf8);
}

void
llm_error_set(struct llm_error *e, enum llm_errclass cls, int status, const char *fmt, ...)
{
	va_list ap;

	e->cls = cls;
	e->status = status;
	e->retryable = llm_errclass_retryable(cls);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	for (char *p = e->message; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	str_scrub_keys(e->message);
}
