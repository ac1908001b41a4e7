/*
 * adapter.c: the adapter table lookup and what the adapters share: request
 * helpers, JSON reading and the stream decoder frame (error classification and
 * retry headers are in adapter_error.c).
 */
#include "provider/adapter_priv.h"
#include "util/utf8.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct adapter *
adapter_for(enum provider_kind kind)
{
	switch (kind) {
	case PROVIDER_ANTHROPIC: return &adapter_anthropic;
	case PROVIDER_OPENAI: return &adapter_openai;
	case PROVIDER_AZURE: return &adapter_azure;
	}
	return NULL;
}

const struct adapter *
adapter_for_provider(const struct provider_conf *conf)
{
	if (conf->kind == PROVIDER_OPENAI && conf->flavor == FLAVOR_OLLAMA)
		return &adapter_ollama;
	return adapter_for(conf->kind);
}

const struct adapter *
adapter_for_request(const struct provider_conf *conf, const struct llm_request *req)
{
	if (req != NULL && req->passthrough_api == LLM_API_RESPONSES && req->raw_body != NULL) {
		if (conf->kind == PROVIDER_OPENAI && conf->flavor == FLAVOR_OPENAI)
			return &adapter_openai_responses;
		if (conf->kind == PROVIDER_AZURE)
			return &adapter_azure_responses;
	}
	return adapter_for_provider(conf);
}

enum llm_api
adapter_api(const struct provider_conf *conf, const struct llm_request *req)
{
	const struct adapter *ad = adapter_for_request(conf, req);

	if (ad == &adapter_anthropic)
		return LLM_API_ANTHROPIC;
	if (ad == &adapter_openai || ad == &adapter_azure)
		return LLM_API_OPENAI;
	if (ad == &adapter_openai_responses || ad == &adapter_azure_responses)
		return LLM_API_RESPONSES;
	return LLM_API_NONE; /* Ollama's native API */
}

void
adapter_http_init(struct adapter_http *h)
{
	memset(h, 0, sizeof *h);
}

void
adapter_http_free(struct adapter_http *h)
{
	if (h == NULL)
		return;
	free(h->method);
	free(h->url);
	for (size_t i = 0; i < h->n_headers; i++)
		free(h->headers[i]);
	free(h->headers);
	free(h->body);
	memset(h, 0, sizeof *h);
}

void
adapter_http_header(struct adapter_http *h, const char *fmt, ...)
{
	va_list ap;

	h->headers = xreallocarray(h->headers, h->n_headers + 1, sizeof *h->headers);
	va_start(ap, fmt);
	h->headers[h->n_headers++] = xvasprintf(fmt, ap);
	va_end(ap);
}

void
adapter_http_json(struct adapter_http *h, const cJSON *root, int stream)
{
	char *s;

	adapter_http_header(h, "content-type: application/json");
	adapter_http_header(h, "accept: %s", stream ? "text/event-stream" : "application/json");
	if ((s = cJSON_PrintUnformatted(root)) == NULL)
		fatal("out of memory printing a request body");
	free(h->body);
	h->body = xstrdup(s);
	h->body_len = strlen(h->body);
	free(s);
}

int64_t
adapter_max_output(const struct model_conf *m, const struct llm_request *req)
{
	if (req->max_tokens > 0)
		return req->max_tokens;
	if (m != NULL && m->max_output_tokens > 0)
		return m->max_output_tokens;
	return 0;
}

void
adapter_json_messages(cJSON *msgs, const struct llm_request *req)
{
	cJSON *m;
	char *text;

	for (size_t i = 0; i < req->n_messages; i++) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", llm_role_name(req->messages[i].role));
		text = llm_message_text(&req->messages[i]);
		cJSON_AddStringToObject(m, "content", text);
		free(text);
		cJSON_AddItemToArray(msgs, m);
	}
}

void
adapter_json_sampling(cJSON *root, const struct llm_request *req, const char *stop_key,
    cJSON *tools)
{
	cJSON *stop;

	if (req->has_temperature)
		cJSON_AddNumberToObject(root, "temperature", req->temperature);
	if (req->has_top_p)
		cJSON_AddNumberToObject(root, "top_p", req->top_p);
	if (req->n_stop > 0) {
		stop = cJSON_AddArrayToObject(root, stop_key);
		for (size_t i = 0; i < req->n_stop; i++)
			cJSON_AddItemToArray(stop, cJSON_CreateString(req->stop[i]));
	}
	if (tools != NULL)
		cJSON_AddItemToObject(root, "tools", tools);
}

int
adapter_base_url(const struct provider_conf *conf, const char *who, char **base, char **cause)
{
	size_t len;

	if (conf->base_url == NULL || *conf->base_url == '\0') {
		*cause = xasprintf("%s: provider %s has no base_url", who,
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	len = strlen(conf->base_url);
	while (len > 0 && conf->base_url[len - 1] == '/')
		len--;
	if (len >= 3 && strncmp(conf->base_url + len - 3, "/v1", 3) == 0)
		len -= 3;
	while (len > 0 && conf->base_url[len - 1] == '/')
		len--;
	*base = xstrndup(conf->base_url, len);
	return 0;
}

int
adapter_refuse(struct llm_error *why, const char *param, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	llm_error_clear(why);
	llm_error_set(why, LLM_ERR_BAD_REQUEST, 0, "%s", msg);
	strlcpy_(why->param, param != NULL ? param : "", sizeof why->param);
	free(msg);
	return -1;
}

const char *
adapter_part_path(char *buf, size_t len, size_t i, size_t j)
{
	snprintf(buf, len, "messages[%zu].content[%zu]", i, j);
	return buf;
}

cJSON *
adapter_json_object(const char *text)
{
	cJSON *j;

	if (text == NULL)
		return NULL;
	j = cJSON_Parse(text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

cJSON *
adapter_tool_arguments(const struct llm_part *p)
{
	const char *a = p->arguments;

	while (a != NULL && isspace((unsigned char)*a))
		a++;
	if (a == NULL || *a == '\0')
		return cJSON_CreateObject();
	return adapter_json_object(a);
}

int
adapter_data_url(const char *url, char **media_type, char **data)
{
	const char *comma, *semi;

	if (url == NULL || strncasecmp(url, "data:", 5) != 0 || (comma = strchr(url, ',')) == NULL)
		return -1;
	semi = memchr(url + 5, ';', (size_t)(comma - url - 5));
	if (semi == NULL || (size_t)(comma - semi) != 7 || strncasecmp(semi, ";base64", 7) != 0)
		return -1;
	*media_type = xstrndup(url + 5, (size_t)(semi - url - 5));
	*data = xstrdup(comma + 1);
	return 0;
}

char *
adapter_image_url(const struct llm_part *p)
{
	if (p->url != NULL)
		return xstrdup(p->url);
	return xasprintf("data:%s;base64,%s", p->media_type != NULL ? p->media_type : "",
	    p->data != NULL ? p->data : "");
}

void
adapter_json_merge(cJSON *into, const cJSON *from)
{
	const cJSON *e;

	if (!cJSON_IsObject(from))
		return;
	cJSON_ArrayForEach(e, from)
	{
		if (e->string == NULL || cJSON_GetObjectItemCaseSensitive(into, e->string) != NULL)
			continue;
		cJSON_AddItemToObject(into, e->string, cJSON_Duplicate(e, 1));
	}
}

void
adapter_json_passthrough(cJSON *root, const struct llm_request *req, enum llm_api api)
{
	const cJSON *e;
	cJSON *extra;

	if (req->passthrough_api != api)
		return;
	/* The client's own form of what the adapter translated: it wins. */
	if (req->passthrough_soft != NULL &&
	    (extra = adapter_json_object(req->passthrough_soft)) != NULL) {
		cJSON_ArrayForEach(e, extra)
		{
			if (e->string == NULL)
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(root, e->string);
			cJSON_AddItemToObject(root, e->string, cJSON_Duplicate(e, 1));
		}
		cJSON_Delete(extra);
	}
	if (req->passthrough == NULL || (extra = adapter_json_object(req->passthrough)) == NULL)
		return;
	adapter_json_merge(root, extra);
	cJSON_Delete(extra);
}

cJSON *
adapter_tool_extra(const struct llm_request *req, const struct llm_tool *tool, enum llm_api api)
{
	if (tool->extra == NULL || req->passthrough_api != api)
		return NULL;
	return adapter_json_object(tool->extra);
}

/* One part of message i (role), at j: the checks every kind makes. */
static int
adapter_check_part(const struct llm_part *p, enum llm_role role, size_t i, size_t j,
    struct llm_error *why)
{
	char path[64];
	cJSON *args;

	adapter_part_path(path, sizeof path, i, j);
	switch (p->type) {
	case LLM_PART_TEXT:
		if (p->text == NULL)
			return adapter_refuse(why, path, "%s: a text part without text", path);
		break;
	case LLM_PART_IMAGE:
		if (p->url == NULL && (p->data == NULL || p->media_type == NULL))
			return adapter_refuse(why, path,
			    "%s: an image needs a URL, or a media type and base64 data", path);
		break;
	case LLM_PART_TOOL_CALL:
		if (role != LLM_ROLE_ASSISTANT)
			return adapter_refuse(why, path, "%s: a tool call in a user message", path);
		if (p->name == NULL || *p->name == '\0' || p->id == NULL)
			return adapter_refuse(why, path, "%s: a tool call needs an id and a name",
			    path);
		if ((args = adapter_tool_arguments(p)) == NULL)
			return adapter_refuse(why, path,
			    "%s: the tool call's arguments are not a JSON object", path);
		cJSON_Delete(args);
		break;
	case LLM_PART_TOOL_RESULT:
		if (role != LLM_ROLE_USER)
			return adapter_refuse(why, path,
			    "%s: a tool result in an assistant message", path);
		if (p->id == NULL || *p->id == '\0')
			return adapter_refuse(why, path, "%s: a tool result needs its call's id",
			    path);
		for (size_t k = 0; k < p->n_parts; k++) {
			if (p->parts[k].type != LLM_PART_TEXT && p->parts[k].type != LLM_PART_IMAGE)
				return adapter_refuse(why, path,
				    "%s: a tool result holds text and images only, not %s", path,
				    llm_part_type_name(p->parts[k].type));
			if (adapter_check_part(&p->parts[k], LLM_ROLE_USER, i, j, why) != 0)
				return -1;
		}
		break;
	case LLM_PART_THINKING:
	case LLM_PART_REDACTED_THINKING:
	case LLM_PART_REASONING:
		if (role != LLM_ROLE_ASSISTANT)
			return adapter_refuse(why, path, "%s: thinking in a user message", path);
		break;
	default: return adapter_refuse(why, path, "%s: an unknown part type", path);
	}
	return 0;
}

int
adapter_check_common(const struct llm_request *req, struct llm_error *why)
{
	const char *name = req->tool_choice_name;
	cJSON *j;
	size_t i;

	llm_error_clear(why);
	for (i = 0; i < req->n_messages; i++)
		for (size_t k = 0; k < req->messages[i].n_parts; k++)
			if (adapter_check_part(&req->messages[i].parts[k], req->messages[i].role, i,
			        k, why) != 0)
				return -1;
	for (i = 0; i < req->n_tools; i++) {
		if (req->tools[i].name == NULL || *req->tools[i].name == '\0')
			return adapter_refuse(why, "tools", "tools[%zu]: a tool needs a name", i);
		if (req->tools[i].parameters != NULL) {
			if ((j = adapter_json_object(req->tools[i].parameters)) == NULL)
				return adapter_refuse(why, "tools",
				    "tools[%zu]: the parameters are not a JSON object", i);
			cJSON_Delete(j);
		}
	}
	if ((req->tool_choice == LLM_TOOL_CHOICE_ANY ||
	        req->tool_choice == LLM_TOOL_CHOICE_NAMED) &&
	    req->n_tools == 0)
		return adapter_refuse(why, "tool_choice",
		    "tool_choice asks for a tool call but no "
		    "tools are given");
	if (req->tool_choice == LLM_TOOL_CHOICE_NAMED) {
		for (i = 0; name != NULL && i < req->n_tools; i++)
			if (strcmp(req->tools[i].name, name) == 0)
				break;
		if (name == NULL || i == req->n_tools)
			return adapter_refuse(why, "tool_choice",
			    "tool_choice names \"%s\", which is not among the tools",
			    name != NULL ? name : "");
	}
	if (req->response_format.type == LLM_FORMAT_JSON_SCHEMA) {
		if ((j = adapter_json_object(req->response_format.schema)) == NULL)
			return adapter_refuse(why, "response_format",
			    "response_format: the JSON schema is not a JSON object");
		cJSON_Delete(j);
	}
	if (req->metadata != NULL) {
		if ((j = adapter_json_object(req->metadata)) == NULL)
			return adapter_refuse(why, "metadata", "metadata is not a JSON object");
		cJSON_Delete(j);
	}
	return 0;
}

char *
adapter_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	unsigned char c;

	buf_init(&b);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			buf_append(&b, s, 1);
		else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(&b, e, 3);
		}
	}
	return buf_detach(&b);
}

/*
 * cJSON wants a terminated string; network bodies are not. Every provider
 * answer, whole or an event of a stream, is parsed here, so this is where
 * invalid UTF-8 from a provider is repaired (each bad sequence becomes
 * U+FFFD) and counted (llmdeck_upstream_invalid_utf8_total): a client never
 * gets bytes that are not UTF-8.
 */
cJSON *
adapter_json_parse(const char *body, size_t len)
{
	size_t replaced = 0;
	char *copy;
	cJSON *root;

	if (body == NULL)
		return NULL;
	if (utf8_valid(body, len, NULL)) {
		copy = xmalloc(len + 1);
		memcpy(copy, body, len);
		copy[len] = '\0';
	} else {
		copy = utf8_repair(body, len, &len, &replaced);
		llm_note_invalid_utf8(replaced);
	}
	root = cJSON_ParseWithLength(copy, len);
	free(copy);
	return root;
}

const char *
adapter_json_string(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t
adapter_json_int(const cJSON *obj, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!cJSON_IsNumber(v))
		return dflt;
	d = v->valuedouble;
	if (isnan(d) || d < -9e18 || d > 9e18)
		return dflt;
	return (int64_t)d;
}

int64_t
adapter_json_tokens(const cJSON *obj, const char *key, int64_t dflt)
{
	int64_t n = adapter_json_int(obj, key, -1);

	return n >= 0 && n <= ADAPTER_MAX_TOKENS ? n : dflt;
}

void
adapter_set_string(char **dst, const char *s)
{
	if (s == NULL)
		return;
	free(*dst);
	*dst = xstrdup(s);
}

void
adapter_stop_reason(const cJSON *obj, const char *key, const struct adapter_stop_word *map,
    size_t n, struct llm_response *out)
{
	const char *reason = adapter_json_string(obj, key);
	size_t i;

	if (reason == NULL)
		return;
	for (i = 0; i < n; i++)
		if (strcmp(reason, map[i].word) == 0)
			break;
	out->stop = i < n ? map[i].stop : LLM_STOP_OTHER;
	adapter_set_string(&out->stop_raw, reason);
}

void
adapter_read_request_id(const struct http_headers *h, struct llm_response *resp)
{
	const char *v;

	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].name == NULL || h->v[i].value == NULL)
			continue;
		if (strcasecmp(h->v[i].name, "request-id") == 0 ||
		    strcasecmp(h->v[i].name, "x-request-id") == 0 ||
		    strcasecmp(h->v[i].name, "apim-request-id") == 0) {
			v = h->v[i].value;
			adapter_set_string(&resp->request_id, v);
			return;
		}
	}
}

struct adapter_stream *
adapter_stream_new(adapter_event_fn fn, const char *who, const char *end_name)
{
	struct adapter_stream *s = xcalloc(1, sizeof *s);

	s->sse = sse_new();
	buf_init(&s->line);
	s->on_event = fn;
	s->who = who;
	s->end_name = end_name;
	llm_error_clear(&s->saved);
	return s;
}

void
adapter_stream_free(struct adapter_stream *s)
{
	if (s == NULL)
		return;
	sse_free(s->sse);
	buf_free(&s->line);
	free(s->part_len);
	free(s->part_cap);
	free(s->map);
	free(s);
}

/* The part's string a delta of type grows. */
static char **
adapter_part_field(struct llm_part *p, enum llm_delta_type type)
{
	switch (type) {
	case LLM_DELTA_TEXT:
	case LLM_DELTA_THINKING: return &p->text;
	case LLM_DELTA_THINKING_SIGNATURE: return &p->signature;
	case LLM_DELTA_REDACTED_THINKING:
	case LLM_DELTA_REASONING_DONE: return &p->data;
	case LLM_DELTA_TOOL_CALL_START:
	case LLM_DELTA_TOOL_CALL_ARGS: return &p->arguments;
	}
	return &p->text;
}

/* The caller may have replaced acc's parts: start again from what is there. */
static void
adapter_stream_sync(struct adapter_stream *s)
{
	struct llm_response *acc = s->acc;

	if (acc->parts == s->parts && acc->n_parts == s->n_parts)
		return;
	s->part_len = xreallocarray(s->part_len, acc->n_parts + 1, sizeof *s->part_len);
	s->part_cap = xreallocarray(s->part_cap, acc->n_parts + 1, sizeof *s->part_cap);
	for (size_t i = 0; i < acc->n_parts; i++) {
		/* Unknown: measured at the next append. */
		s->part_len[i] = 0;
		s->part_cap[i] = 0;
	}
	s->parts = acc->parts;
	s->n_parts = acc->n_parts;
}

size_t
adapter_stream_open(struct adapter_stream *s, enum llm_part_type type)
{
	struct llm_part *p;

	adapter_stream_sync(s);
	p = llm_response_add_part(s->acc, type);
	if (type == LLM_PART_TOOL_CALL)
		p->arguments = xstrdup("");
	else if (type == LLM_PART_REDACTED_THINKING)
		p->data = xstrdup("");
	else
		p->text = xstrdup("");
	s->part_len = xreallocarray(s->part_len, s->acc->n_parts, sizeof *s->part_len);
	s->part_cap = xreallocarray(s->part_cap, s->acc->n_parts, sizeof *s->part_cap);
	s->part_len[s->acc->n_parts - 1] = 0;
	s->part_cap[s->acc->n_parts - 1] = 1;
	s->parts = s->acc->parts;
	s->n_parts = s->acc->n_parts;
	return s->acc->n_parts - 1;
}

static void
adapter_stream_emit(struct adapter_stream *s, const struct llm_delta *d)
{
	s->delivered = 1;
	if (s->cb != NULL)
		s->cb(s->arg, d);
}

size_t
adapter_stream_tool_call(struct adapter_stream *s, int index, const char *id, const char *name)
{
	size_t part = adapter_stream_open(s, LLM_PART_TOOL_CALL);
	struct llm_part *p = &s->acc->parts[part];
	struct llm_delta d;

	p->index = index;
	p->id = xstrdup(id != NULL ? id : "");
	p->name = xstrdup(name != NULL ? name : "");
	s->n_tool_calls++;
	memset(&d, 0, sizeof d);
	d.type = LLM_DELTA_TOOL_CALL_START;
	d.part = part;
	d.index = index;
	d.id = p->id;
	d.name = p->name;
	adapter_stream_emit(s, &d);
	return part;
}

void
adapter_stream_reasoning_done(struct adapter_stream *s, size_t part, const char *id,
    const char *data)
{
	struct llm_part *p;
	struct llm_delta d;

	adapter_stream_sync(s);
	if (part >= s->acc->n_parts)
		return;
	p = &s->acc->parts[part];
	adapter_set_string(&p->id, id);
	free(p->data);
	p->data = xstrdup(data != NULL ? data : "");
	memset(&d, 0, sizeof d);
	d.type = LLM_DELTA_REASONING_DONE;
	d.part = part;
	d.id = p->id != NULL ? p->id : "";
	d.text = p->data;
	d.len = strlen(p->data);
	adapter_stream_emit(s, &d);
}

/* Append len bytes to *field whose length and room the decoder tracks. */
static void
adapter_grow(char **field, size_t *flen, size_t *fcap, const char *text, size_t len)
{
	if (*field == NULL || *fcap == 0) {
		/* Not ours (or replaced): measure it. */
		*flen = *field != NULL ? strlen(*field) : 0;
		*fcap = *flen + 1;
		if (*field == NULL)
			*field = xstrdup("");
	}
	if (*flen + len + 1 > *fcap) {
		size_t cap = *fcap < 64 ? 64 : *fcap;
		while (cap < *flen + len + 1)
			cap *= 2;
		*field = xrealloc(*field, cap);
		*fcap = cap;
	}
	memcpy(*field + *flen, text, len);
	*flen += len;
	(*field)[*flen] = '\0';
}

void
adapter_stream_delta(struct adapter_stream *s, enum llm_delta_type type, size_t part,
    const char *text, size_t len)
{
	struct llm_response *acc = s->acc;
	struct llm_part *p;
	struct llm_delta d;

	if (len == 0)
		return;
	adapter_stream_sync(s);
	if (part >= acc->n_parts)
		return;
	p = &acc->parts[part];
	if (type == LLM_DELTA_THINKING_SIGNATURE) {
		/* Rare and short: no bookkeeping. */
		size_t n = 0, c = 0;
		adapter_grow(&p->signature, &n, &c, text, len);
	} else
		adapter_grow(adapter_part_field(p, type), &s->part_len[part], &s->part_cap[part],
		    text, len);
	if (type == LLM_DELTA_TEXT) {
		/* The caller may have replaced acc->content: start again from what is there. */
		if (acc->content != s->content || acc->content == NULL) {
			s->content = acc->content;
			s->content_cap = 0;
		}
		adapter_grow(&s->content, &s->content_len, &s->content_cap, text, len);
		acc->content = s->content;
	}
	memset(&d, 0, sizeof d);
	d.type = type;
	d.part = part;
	d.index = p->type == LLM_PART_TOOL_CALL ? p->index : 0;
	/* A Responses reasoning item's summary names its item from the first delta,
	 * so a client sees one id from the item's start to its end. */
	if (p->type == LLM_PART_REASONING)
		d.id = p->id;
	d.text = text;
	d.len = len;
	adapter_stream_emit(s, &d);
}

void
adapter_stream_text(struct adapter_stream *s, const char *text, size_t len)
{
	if (len == 0)
		return;
	adapter_stream_sync(s);
	/* Text after another part (a tool call, thinking) is a part of its own. */
	if (s->text_part == 0 || s->text_part != s->acc->n_parts ||
	    s->acc->parts[s->text_part - 1].type != LLM_PART_TEXT)
		s->text_part = adapter_stream_open(s, LLM_PART_TEXT) + 1;
	adapter_stream_delta(s, LLM_DELTA_TEXT, s->text_part - 1, text, len);
}

void
adapter_stream_thinking(struct adapter_stream *s, const char *text, size_t len)
{
	if (len == 0)
		return;
	adapter_stream_sync(s);
	if (s->thinking_part == 0 || s->thinking_part != s->acc->n_parts ||
	    s->acc->parts[s->thinking_part - 1].type != LLM_PART_THINKING)
		s->thinking_part = adapter_stream_open(s, LLM_PART_THINKING) + 1;
	adapter_stream_delta(s, LLM_DELTA_THINKING, s->thinking_part - 1, text, len);
}

size_t
adapter_stream_map_get(const struct adapter_stream *s, size_t key)
{
	return key < s->n_map ? s->map[key] : 0;
}

void
adapter_stream_map_set(struct adapter_stream *s, size_t key, size_t part)
{
	if (key >= s->n_map) {
		size_t n = key + 1 > s->n_map * 2 ? key + 1 : s->n_map * 2;
		s->map = xreallocarray(s->map, n, sizeof *s->map);
		memset(s->map + s->n_map, 0, (n - s->n_map) * sizeof *s->map);
		s->n_map = n;
	}
	s->map[key] = part + 1;
}

int
adapter_stream_fail(struct adapter_stream *s, enum llm_errclass cls, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	llm_error_clear(&s->saved);
	llm_error_set(&s->saved, cls, 0, "%s", msg);
	free(msg);
	s->state = -1;
	return -1;
}

int
adapter_stream_broken(struct adapter_stream *s, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	adapter_stream_fail(s, s->delivered ? LLM_ERR_STREAM : LLM_ERR_MALFORMED, "%s: %s", s->who,
	    msg);
	free(msg);
	return -1;
}

int
adapter_stream_error_json(struct adapter_stream *s, const cJSON *root)
{
	struct llm_error *e = &s->saved;

	llm_error_clear(e);
	adapter_error_from_json(root, e);
	e->cls = adapter_class_for_body(root);
	e->retryable = llm_errclass_retryable(e->cls);
	if (e->message[0] == '\0')
		snprintf(e->message, sizeof e->message, "%s: error event with no message", s->who);
	s->state = -1;
	return -1;
}

static int
adapter_stream_event(void *arg, const char *event, const char *data, size_t len)
{
	struct adapter_stream *s = arg;

	return s->on_event(s, event, data, len);
}

/* One line of an NDJSON stream (Ollama's): blank lines are skipped. */
static int
adapter_ndjson_line(struct adapter_stream *s, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || isspace((unsigned char)line[len - 1])))
		len--;
	while (len > 0 && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	if (len == 0)
		return 0;
	return s->on_event(s, "line", line, len);
}

/* NDJSON: split into lines across chunks, each line an event. */
static int
adapter_ndjson_feed(struct adapter_stream *s, const char *data, size_t len)
{
	const char *nl;
	int r;

	while (len > 0) {
		if ((nl = memchr(data, '\n', len)) == NULL) {
			if (s->line.len + len > SSE_MAX_EVENT)
				return -1;
			buf_append(&s->line, data, len);
			return 0;
		}
		if (s->line.len + (size_t)(nl - data) > SSE_MAX_EVENT)
			return -1;
		if (s->line.len > 0) {
			buf_append(&s->line, data, (size_t)(nl - data));
			r = adapter_ndjson_line(s, s->line.data, s->line.len);
			s->line.len = 0;
		} else
			r = adapter_ndjson_line(s, data, (size_t)(nl - data));
		if (r != 0)
			return r;
		len -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	return 0;
}

static int
adapter_ndjson_finish(struct adapter_stream *s)
{
	int r = 0;

	if (s->line.len > 0)
		r = adapter_ndjson_line(s, s->line.data, s->line.len);
	s->line.len = 0;
	return r;
}

/* The verdict of a feed or finish, copied out to the caller. */
static int
adapter_stream_result(struct adapter_stream *s, int r, struct llm_error *err)
{
	if (r < 0 && s->state != -1) {
		/* The SSE parser (or the line splitter) itself gave up. */
		const char *why = s->ndjson ? "a line beyond the size limit" : sse_error(s->sse);
		adapter_stream_broken(s, "%s", why != NULL ? why : "unreadable stream");
	}
	if (s->state == -1) {
		if (err != NULL)
			*err = s->saved;
		return -1;
	}
	if (s->state == 1) {
		if (s->acc != NULL && s->acc->content == NULL)
			s->acc->content = xstrdup("");
		return 1;
	}
	return 0;
}

int
adapter_stream_feed(struct adapter_stream *s, const char *data, size_t len, llm_delta_cb cb,
    void *arg, struct llm_response *acc, struct llm_error *err)
{
	int r;

	s->acc = acc;
	if (s->state != 0)
		return adapter_stream_result(s, s->state, err);
	s->cb = cb;
	s->arg = arg;
	s->acc = acc;
	r = s->ndjson ? adapter_ndjson_feed(s, data, len)
	              : sse_feed(s->sse, data, len, adapter_stream_event, s);
	r = adapter_stream_result(s, r, err);
	s->cb = NULL;
	s->arg = NULL;
	return r;
}

int
adapter_stream_finish(struct adapter_stream *s, struct llm_response *acc, struct llm_error *err)
{
	int r;

	s->acc = acc;
	s->cb = NULL;
	if (s->state == 0) {
		r = s->ndjson ? adapter_ndjson_finish(s)
		              : sse_finish(s->sse, adapter_stream_event, s);
		if (r < 0 && s->state != -1)
			adapter_stream_result(s, r, NULL);
	}
	if (s->state == 0)
		adapter_stream_broken(s, "stream ended before %s", s->end_name);
	return adapter_stream_result(s, s->state, err) == 1 ? 0 : -1;
}
