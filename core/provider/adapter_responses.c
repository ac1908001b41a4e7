/*
 * adapter_responses.c: OpenAI's Responses API (POST /v1/responses), spoken to
 * an OpenAI provider (flavor openai) or an Azure one for a request that came
 * in through the gateway's own /v1/responses. The client's body (raw_body)
 * goes through as it came: model set to the provider's id (Azure: the
 * deployment), stream set or removed, previous_response_id removed (the
 * gateway has expanded it into input); every other field, unknown ones too,
 * is the client's. Without a raw body the body is built from the model.
 * Answers and streams are read back into the model: message text, refusals,
 * function calls, reasoning items (summary and encrypted content), usage.
 * URLs and auth are the chat adapters' (adapter_base_url, adapter_azure_*);
 * errors and probes too.
 */
#include "provider/adapter_priv.h"

#include <stdlib.h>
#include <string.h>

/* The first Azure api-version with /openai/responses (deployments style). */
#define AZURE_RESPONSES_API_VERSION "2025-04-01-preview"
/* Output items of one streamed answer we follow (output_index). */
#define RESPONSES_MAX_ITEMS 4096

/* Check. */

/* What the Responses API cannot take from the model. A pass-through request is
 * the client's own Responses body: only that it is one is checked. */
static int
responses_check_model(const struct llm_request *req, const char *who, struct llm_error *why)
{
	char path[64];
	cJSON *body;

	if (req->raw_body != NULL) {
		if ((body = adapter_json_object(req->raw_body)) == NULL)
			return adapter_refuse(why, "",
			    "the Responses request body is not a JSON object");
		cJSON_Delete(body);
		return 0;
	}
	if (adapter_check_common(req, why) != 0)
		return -1;
	if (req->has_temperature && (req->temperature < 0 || req->temperature > 2))
		return adapter_refuse(why, "temperature", "temperature %g is outside 0..2",
		    req->temperature);
	if (req->top_k > 0)
		return adapter_refuse(why, "top_k", "%s (Responses API) has no top_k", who);
	if (req->n_stop > 0)
		return adapter_refuse(why, "stop", "%s (Responses API) has no stop sequences", who);
	if (req->has_seed)
		return adapter_refuse(why, "seed", "%s (Responses API) has no seed", who);
	if (req->thinking_budget > 0)
		return adapter_refuse(why, "thinking",
		    "%s has no thinking budget (reasoning.effort is its knob)", who);
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
					    "%s: a function_call_output holds text only", path);
		}
	}
	return 0;
}

static int
openai_responses_check(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	(void)conf;
	(void)m;
	(void)model_id;
	return responses_check_model(req, "OpenAI", why);
}

static int
azure_responses_check(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	(void)m;
	(void)model_id;
	if (adapter_azure_check_auth(conf, why) != 0)
		return -1;
	return responses_check_model(req, "Azure OpenAI", why);
}

/* The body from the model (no raw body). */

/* Text parts as one string ("" if none). */
static char *
responses_text_of(const struct llm_part *parts, size_t n)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++)
		if (parts[i].type == LLM_PART_TEXT && parts[i].text != NULL)
			buf_puts(&b, parts[i].text);
	return buf_detach(&b);
}

/* A user message's text and images from parts [from, to) as one input message:
 * a string content when it is one text alone. */
static void
responses_user_message(cJSON *input, const struct llm_part *parts, size_t from, size_t to)
{
	size_t n_text = 0, n_image = 0;
	cJSON *m, *content, *o;
	char *s;

	for (size_t j = from; j < to; j++) {
		n_text += parts[j].type == LLM_PART_TEXT;
		n_image += parts[j].type == LLM_PART_IMAGE;
	}
	if (n_text + n_image == 0)
		return;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	if (n_image == 0 && n_text == 1) {
		s = responses_text_of(parts + from, to - from);
		cJSON_AddStringToObject(m, "content", s);
		free(s);
		cJSON_AddItemToArray(input, m);
		return;
	}
	content = cJSON_AddArrayToObject(m, "content");
	for (size_t j = from; j < to; j++) {
		const struct llm_part *p = &parts[j];
		if (p->type == LLM_PART_TEXT) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "input_text");
			cJSON_AddStringToObject(o, "text", p->text != NULL ? p->text : "");
			cJSON_AddItemToArray(content, o);
		} else if (p->type == LLM_PART_IMAGE) {
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "input_image");
			s = adapter_image_url(p);
			cJSON_AddStringToObject(o, "image_url", s);
			free(s);
			cJSON_AddStringToObject(o, "detail",
			    p->detail != NULL ? p->detail : "auto");
			cJSON_AddItemToArray(content, o);
		}
	}
	cJSON_AddItemToArray(input, m);
}

/* A tool result as a function_call_output item. The API has no is_error: a
 * failed tool's output is prefixed "[tool error] ", as the chat adapter does. */
static cJSON *
responses_tool_output(const struct llm_part *p)
{
	cJSON *o = cJSON_CreateObject();
	char *text = responses_text_of(p->parts, p->n_parts), *s;

	cJSON_AddStringToObject(o, "type", "function_call_output");
	cJSON_AddStringToObject(o, "call_id", p->id != NULL ? p->id : "");
	s = p->is_error ? xasprintf("[tool error] %s", text) : xstrdup(text);
	cJSON_AddStringToObject(o, "output", s);
	free(s);
	free(text);
	return o;
}

/* User messages: text and images as messages, tool results as items of their
 * own, in order. */
static void
responses_user(cJSON *input, const struct llm_message *msg)
{
	size_t from = 0;

	for (size_t j = 0; j < msg->n_parts; j++) {
		if (msg->parts[j].type != LLM_PART_TOOL_RESULT)
			continue;
		responses_user_message(input, msg->parts, from, j);
		cJSON_AddItemToArray(input, responses_tool_output(&msg->parts[j]));
		from = j + 1;
	}
	responses_user_message(input, msg->parts, from, msg->n_parts);
}

/* An assistant's text so far as one message item. */
static void
responses_flush_text(cJSON *input, struct buf *text)
{
	cJSON *m;

	if (text->len == 0)
		return;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", text->data);
	cJSON_AddItemToArray(input, m);
	text->len = 0;
}

/* Assistant messages: reasoning items (as they came), text, function calls, in
 * order. Anthropic thinking goes nowhere: the API has no field for it. */
static void
responses_assistant(cJSON *input, const struct llm_message *msg)
{
	struct buf text;
	cJSON *o, *summary, *st, *args;
	char *s;

	buf_init(&text);
	for (size_t j = 0; j < msg->n_parts; j++) {
		const struct llm_part *p = &msg->parts[j];
		switch (p->type) {
		case LLM_PART_TEXT:
			if (p->text != NULL)
				buf_puts(&text, p->text);
			break;
		case LLM_PART_TOOL_CALL:
			responses_flush_text(input, &text);
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "function_call");
			cJSON_AddStringToObject(o, "call_id", p->id != NULL ? p->id : "");
			cJSON_AddStringToObject(o, "name", p->name != NULL ? p->name : "");
			args = adapter_tool_arguments(p);
			s = args != NULL ? cJSON_PrintUnformatted(args) : NULL;
			cJSON_AddStringToObject(o, "arguments", s != NULL ? s : "{}");
			cJSON_free(s);
			cJSON_Delete(args);
			cJSON_AddItemToArray(input, o);
			break;
		case LLM_PART_REASONING:
			responses_flush_text(input, &text);
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "type", "reasoning");
			if (p->id != NULL)
				cJSON_AddStringToObject(o, "id", p->id);
			summary = cJSON_AddArrayToObject(o, "summary");
			if (p->text != NULL && *p->text != '\0') {
				st = cJSON_CreateObject();
				cJSON_AddStringToObject(st, "type", "summary_text");
				cJSON_AddStringToObject(st, "text", p->text);
				cJSON_AddItemToArray(summary, st);
			}
			if (p->data != NULL && *p->data != '\0')
				cJSON_AddStringToObject(o, "encrypted_content", p->data);
			cJSON_AddItemToArray(input, o);
			break;
		case LLM_PART_IMAGE:
		case LLM_PART_TOOL_RESULT:
		case LLM_PART_THINKING:
		case LLM_PART_REDACTED_THINKING:
		case LLM_PART__COUNT: break;
		}
	}
	responses_flush_text(input, &text);
	buf_free(&text);
}

/* Function tools, flat ({type, name, description, parameters, strict}: the
 * Responses API takes strict as true when absent, so it is always said), with
 * a Responses client's extra keys; then the built-in tools. */
static void
responses_tools(cJSON *root, const struct llm_request *req)
{
	cJSON *tools, *item, *schema, *extra, *e, *hosted;

	if (req->n_tools == 0 && req->hosted_tools == NULL)
		return;
	tools = cJSON_CreateArray();
	for (size_t i = 0; i < req->n_tools; i++) {
		const struct llm_tool *t = &req->tools[i];
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "type", "function");
		cJSON_AddStringToObject(item, "name", t->name != NULL ? t->name : "");
		if (t->description != NULL)
			cJSON_AddStringToObject(item, "description", t->description);
		if ((schema = adapter_json_object(t->parameters)) == NULL)
			schema = cJSON_CreateObject();
		cJSON_AddItemToObject(item, "parameters", schema);
		cJSON_AddBoolToObject(item, "strict", t->strict);
		if (req->passthrough_api == LLM_API_RESPONSES &&
		    (extra = adapter_json_object(t->extra)) != NULL) {
			cJSON_ArrayForEach(e, extra)
			{
				if (e->string != NULL &&
				    cJSON_GetObjectItemCaseSensitive(item, e->string) == NULL)
					cJSON_AddItemToObject(item, e->string,
					    cJSON_Duplicate(e, 1));
			}
			cJSON_Delete(extra);
		}
		cJSON_AddItemToArray(tools, item);
	}
	hosted = req->hosted_tools != NULL ? cJSON_Parse(req->hosted_tools) : NULL;
	if (cJSON_IsArray(hosted)) {
		cJSON_ArrayForEach(e, hosted)
		{
			if (cJSON_IsObject(e))
				cJSON_AddItemToArray(tools, cJSON_Duplicate(e, 1));
		}
	}
	cJSON_Delete(hosted);
	cJSON_AddItemToObject(root, "tools", tools);
}

static void
responses_tool_choice(cJSON *root, const struct llm_request *req)
{
	cJSON *tc;

	if (req->n_tools == 0 && req->hosted_tools == NULL)
		return;
	switch (req->tool_choice) {
	case LLM_TOOL_CHOICE_UNSET: break;
	case LLM_TOOL_CHOICE_AUTO: cJSON_AddStringToObject(root, "tool_choice", "auto"); break;
	case LLM_TOOL_CHOICE_NONE: cJSON_AddStringToObject(root, "tool_choice", "none"); break;
	case LLM_TOOL_CHOICE_ANY: cJSON_AddStringToObject(root, "tool_choice", "required"); break;
	case LLM_TOOL_CHOICE_NAMED:
		tc = cJSON_AddObjectToObject(root, "tool_choice");
		cJSON_AddStringToObject(tc, "type", "function");
		cJSON_AddStringToObject(tc, "name",
		    req->tool_choice_name != NULL ? req->tool_choice_name : "");
		break;
	}
	if (req->has_parallel_tool_calls)
		cJSON_AddBoolToObject(root, "parallel_tool_calls", req->parallel_tool_calls);
}

/* response_format as text.format (flat: {type, name, schema, strict}). */
static void
responses_text_format(cJSON *root, const struct llm_request *req)
{
	const struct llm_response_format *f = &req->response_format;
	cJSON *fmt, *schema;

	if (f->type == LLM_FORMAT_UNSET)
		return;
	fmt = cJSON_AddObjectToObject(cJSON_AddObjectToObject(root, "text"), "format");
	switch (f->type) {
	case LLM_FORMAT_UNSET:
	case LLM_FORMAT_TEXT: cJSON_AddStringToObject(fmt, "type", "text"); break;
	case LLM_FORMAT_JSON_OBJECT: cJSON_AddStringToObject(fmt, "type", "json_object"); break;
	case LLM_FORMAT_JSON_SCHEMA:
		cJSON_AddStringToObject(fmt, "type", "json_schema");
		cJSON_AddStringToObject(fmt, "name", f->name != NULL ? f->name : "response");
		if ((schema = adapter_json_object(f->schema)) != NULL)
			cJSON_AddItemToObject(fmt, "schema", schema);
		if (f->strict)
			cJSON_AddBoolToObject(fmt, "strict", 1);
		break;
	}
}

static cJSON *
responses_body_from_model(const char *model_id, const struct llm_request *req, int stream,
    const char *who, char **cause)
{
	cJSON *root, *input, *r, *m;

	if (req->n_messages == 0) {
		*cause = xasprintf("%s: request has no messages", who);
		return NULL;
	}
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", model_id);
	if (req->system != NULL)
		cJSON_AddStringToObject(root, "instructions", req->system);
	input = cJSON_AddArrayToObject(root, "input");
	for (size_t i = 0; i < req->n_messages; i++) {
		if (req->messages[i].role == LLM_ROLE_ASSISTANT)
			responses_assistant(input, &req->messages[i]);
		else
			responses_user(input, &req->messages[i]);
	}
	responses_tools(root, req);
	responses_tool_choice(root, req);
	responses_text_format(root, req);
	if (req->reasoning_effort != NULL || req->reasoning_summary != NULL) {
		r = cJSON_AddObjectToObject(root, "reasoning");
		if (req->reasoning_effort != NULL)
			cJSON_AddStringToObject(r, "effort", req->reasoning_effort);
		if (req->reasoning_summary != NULL)
			cJSON_AddStringToObject(r, "summary", req->reasoning_summary);
	}
	if (req->max_tokens > 0)
		cJSON_AddNumberToObject(root, "max_output_tokens", req->max_tokens);
	if (req->has_temperature)
		cJSON_AddNumberToObject(root, "temperature", req->temperature);
	if (req->has_top_p)
		cJSON_AddNumberToObject(root, "top_p", req->top_p);
	if (req->user != NULL)
		cJSON_AddStringToObject(root, "user", req->user);
	if (req->metadata != NULL && (m = adapter_json_object(req->metadata)) != NULL)
		cJSON_AddItemToObject(root, "metadata", m);
	if (stream)
		cJSON_AddBoolToObject(root, "stream", 1);
	adapter_json_passthrough(root, req, LLM_API_RESPONSES);
	return root;
}

/* The client's body with model, stream and previous_response_id seen to;
 * everything else as the client sent it. */
static cJSON *
responses_body_from_raw(const char *model_id, const struct llm_request *req, int stream,
    const char *who, char **cause)
{
	cJSON *root = adapter_json_object(req->raw_body);

	if (root == NULL) {
		*cause = xasprintf("%s: the Responses request body is not a JSON object", who);
		return NULL;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "model") != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(root, "model", cJSON_CreateString(model_id));
	else
		cJSON_AddStringToObject(root, "model", model_id);
	if (stream) {
		if (cJSON_GetObjectItemCaseSensitive(root, "stream") != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(root, "stream", cJSON_CreateTrue());
		else
			cJSON_AddTrueToObject(root, "stream");
	} else {
		/* stream_options is refused without stream. */
		cJSON_DeleteItemFromObjectCaseSensitive(root, "stream");
		cJSON_DeleteItemFromObjectCaseSensitive(root, "stream_options");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "previous_response_id");
	return root;
}

static int
responses_build(const struct provider_conf *conf, const char *model_id,
    const struct llm_request *req, int stream, struct adapter_http *out, char **cause)
{
	int azure = conf->kind == PROVIDER_AZURE;
	const char *who = azure ? "azure responses" : "openai responses";
	char *base, *ver;
	cJSON *root;

	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause =
		    xasprintf("%s: no %s for provider %s", who, azure ? "deployment" : "model id",
		        conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	if (azure ? adapter_azure_endpoint(conf, &base, cause)
	          : adapter_base_url(conf, who, &base, cause))
		return -1;
	root = req->raw_body != NULL ? responses_body_from_raw(model_id, req, stream, who, cause)
	                             : responses_body_from_model(model_id, req, stream, who, cause);
	if (root == NULL) {
		free(base);
		return -1;
	}
	adapter_http_json(out, root, stream);
	cJSON_Delete(root);
	out->method = xstrdup("POST");
	if (!azure) {
		out->url = xasprintf("%s/v1/responses", base);
		if (conf->api_key != NULL)
			adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	} else {
		if (adapter_azure_v1(conf))
			out->url = xasprintf("%s/openai/v1/responses", base);
		else {
			ver = adapter_azure_api_version(conf, AZURE_RESPONSES_API_VERSION);
			out->url = xasprintf("%s/openai/responses?api-version=%s", base, ver);
			free(ver);
		}
		adapter_azure_auth(conf, out);
	}
	free(base);
	return 0;
}

static int
openai_responses_build(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	(void)m;
	return responses_build(conf, model_id, req, stream, out, cause);
}

/* Answers. */

static const struct adapter_stop_word responses_reasons[] = {
    {"max_output_tokens", LLM_STOP_MAX_TOKENS},
    {"content_filter", LLM_STOP_CONTENT_FILTER},
};

/* The stop of a response object by its status: completed is the end (a tool
 * call's, or a refusal's), incomplete says why in incomplete_details. */
static void
responses_stop(const cJSON *resp, int has_calls, int refused, struct llm_response *out)
{
	const char *status = adapter_json_string(resp, "status");
	const cJSON *details;

	if (status == NULL)
		return;
	adapter_set_string(&out->stop_raw, status);
	if (strcmp(status, "completed") == 0) {
		out->stop = refused ? LLM_STOP_CONTENT_FILTER
		    : has_calls     ? LLM_STOP_TOOL_USE
		                    : LLM_STOP_END;
		return;
	}
	out->stop = LLM_STOP_OTHER;
	details = cJSON_GetObjectItemCaseSensitive(resp, "incomplete_details");
	if (strcmp(status, "incomplete") == 0 && cJSON_IsObject(details))
		adapter_stop_reason(details, "reason", responses_reasons, nitems(responses_reasons),
		    out);
}

/* A function call's arguments as text: OpenAI sends a string; an object is printed. */
static char *
responses_arguments(const cJSON *item)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(item, "arguments");
	char *s, *out;

	if (cJSON_IsString(args))
		return xstrdup(args->valuestring);
	if (!cJSON_IsObject(args))
		return xstrdup("");
	s = cJSON_PrintUnformatted(args);
	out = xstrdup(s != NULL ? s : "{}");
	cJSON_free(s);
	return out;
}

/* A reasoning item's summary texts, joined by a blank line (empty ones skipped). */
static char *
responses_summary(const cJSON *item)
{
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(item, "summary"), *e;
	const char *t;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	if (!cJSON_IsArray(sum))
		sum = NULL;
	cJSON_ArrayForEach(e, sum)
	{
		if ((t = adapter_json_string(e, "text")) == NULL || *t == '\0')
			continue;
		if (b.len > 0)
			buf_puts(&b, "\n\n");
		buf_puts(&b, t);
	}
	return buf_detach(&b);
}

/* Text onto the last part if it is text, else a new one; and onto all. */
static void
responses_add_text(struct llm_response *out, struct buf *all, const char *s)
{
	struct llm_part *last = out->n_parts > 0 ? &out->parts[out->n_parts - 1] : NULL;
	char *joined;

	if (*s == '\0')
		return;
	buf_puts(all, s);
	if (last != NULL && last->type == LLM_PART_TEXT) {
		joined = xasprintf("%s%s", last->text, s);
		free(last->text);
		last->text = joined;
	} else
		llm_response_add_part(out, LLM_PART_TEXT)->text = xstrdup(s);
}

/* A message item's content parts. 0, or -1 with err filled. */
static int
responses_parse_message(const cJSON *item, size_t i, struct llm_response *out, struct buf *all,
    int *refused, struct llm_error *err)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content"), *c;
	const char *type, *s;
	size_t j = 0;

	if (content != NULL && !cJSON_IsArray(content)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0,
		    "responses response: output[%zu].content is not an array", i);
		return -1;
	}
	cJSON_ArrayForEach(c, content)
	{
		if (!cJSON_IsObject(c) || (type = adapter_json_string(c, "type")) == NULL) {
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "responses response: output[%zu].content[%zu] is not a typed object", i,
			    j);
			return -1;
		}
		if (strcmp(type, "output_text") == 0 || strcmp(type, "refusal") == 0) {
			int refusal = type[0] == 'r';
			if ((s = adapter_json_string(c, refusal ? "refusal" : "text")) == NULL) {
				llm_error_set(err, LLM_ERR_MALFORMED, 0,
				    "responses response: output[%zu].content[%zu] has no %s", i, j,
				    refusal ? "refusal" : "text");
				return -1;
			}
			responses_add_text(out, all, s);
			*refused |= refusal;
		}
		j++;
	}
	return 0;
}

static int
responses_parse(const char *body, size_t len, struct llm_response *out, struct llm_error *err)
{
	cJSON *root;
	const cJSON *output, *item, *e;
	const char *type, *id, *name;
	struct llm_part *p;
	struct buf all;
	int n_calls = 0, refused = 0;
	size_t i = 0;

	llm_error_clear(err);
	if ((root = adapter_json_parse(body, len)) == NULL) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "responses response: not JSON (%zu bytes)",
		    len);
		return -1;
	}
	buf_init(&all);
	buf_puts(&all, "");
	if (!cJSON_IsObject(root)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "responses response: not a JSON object");
		goto fail;
	}
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e != NULL && !cJSON_IsNull(e)) {
		adapter_error_in_2xx(root, "responses response", err);
		goto fail;
	}
	output = cJSON_GetObjectItemCaseSensitive(root, "output");
	if (!cJSON_IsArray(output)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "responses response: no output array");
		goto fail;
	}
	cJSON_ArrayForEach(item, output)
	{
		if (!cJSON_IsObject(item) || (type = adapter_json_string(item, "type")) == NULL) {
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "responses response: output[%zu] is not a typed object", i);
			goto fail;
		}
		if (strcmp(type, "message") == 0) {
			if (responses_parse_message(item, i, out, &all, &refused, err) != 0)
				goto fail;
		} else if (strcmp(type, "function_call") == 0) {
			if ((name = adapter_json_string(item, "name")) == NULL) {
				llm_error_set(err, LLM_ERR_MALFORMED, 0,
				    "responses response: output[%zu] is a function_call without a "
				    "name",
				    i);
				goto fail;
			}
			if ((id = adapter_json_string(item, "call_id")) == NULL)
				id = adapter_json_string(item, "id");
			p = llm_response_add_part(out, LLM_PART_TOOL_CALL);
			p->index = n_calls++;
			p->id = xstrdup(id != NULL ? id : "");
			p->name = xstrdup(name);
			p->arguments = responses_arguments(item);
		} else if (strcmp(type, "reasoning") == 0) {
			p = llm_response_add_part(out, LLM_PART_REASONING);
			p->id = xstrdup(adapter_json_string(item, "id") != NULL
			        ? adapter_json_string(item, "id")
			        : "");
			p->text = responses_summary(item);
			p->data = xstrdup(adapter_json_string(item, "encrypted_content") != NULL
			        ? adapter_json_string(item, "encrypted_content")
			        : "");
		}
		/* Built-in tools' items (web_search_call...) are the provider's own. */
		i++;
	}
	free(out->content);
	out->content = buf_detach(&all);
	adapter_set_string(&out->id, adapter_json_string(root, "id"));
	adapter_set_string(&out->model, adapter_json_string(root, "model"));
	out->stop = LLM_STOP_NONE;
	responses_stop(root, n_calls > 0, refused, out);
	adapter_openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "input_tokens",
	    "output_tokens", &out->usage);
	cJSON_Delete(root);
	return 0;

fail:
	buf_free(&all);
	cJSON_Delete(root);
	llm_response_drop_parts(out);
	return -1;
}

/* Streams. */

/* Keep the first non-empty value. */
static void
responses_first(char **dst, const char *s)
{
	if (s != NULL && *s != '\0' && (*dst == NULL || **dst == '\0'))
		adapter_set_string(dst, s);
}

/* The event's output_index: 0 and *index, or -1 (the stream broken). */
static int
responses_index(struct adapter_stream *s, const cJSON *root, const char *type, size_t *index)
{
	int64_t n = adapter_json_int(root, "output_index", -1);

	if (n < 0 || n >= RESPONSES_MAX_ITEMS)
		return adapter_stream_broken(s, "%s without a usable output_index", type);
	*index = (size_t)n;
	return 0;
}

/* The part of output item index if it has type, else 0 (part + 1 otherwise). */
static size_t
responses_item_part(struct adapter_stream *s, size_t index, enum llm_part_type type)
{
	size_t part = adapter_stream_map_get(s, index);

	if (part == 0 || part > s->acc->n_parts || s->acc->parts[part - 1].type != type)
		return 0;
	return part;
}

/* A function_call item begins (added, or done without added). Part + 1, or 0 broken. */
static size_t
responses_call_start(struct adapter_stream *s, size_t index, const cJSON *item)
{
	const char *id = adapter_json_string(item, "call_id"), *name;
	size_t part;

	if ((name = adapter_json_string(item, "name")) == NULL) {
		adapter_stream_broken(s, "a function_call item without a name");
		return 0;
	}
	if (id == NULL)
		id = adapter_json_string(item, "id");
	part = adapter_stream_tool_call(s, s->n_tool_calls, id, name);
	adapter_stream_map_set(s, index, part);
	return part + 1;
}

/* A reasoning item begins. Part + 1. */
static size_t
responses_reasoning_start(struct adapter_stream *s, size_t index, const cJSON *item)
{
	size_t part = adapter_stream_open(s, LLM_PART_REASONING);

	adapter_set_string(&s->acc->parts[part].id, adapter_json_string(item, "id"));
	adapter_stream_map_set(s, index, part);
	return part + 1;
}

static int
responses_item_added(struct adapter_stream *s, const cJSON *root, const char *type)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "item");
	const char *itype = adapter_json_string(item, "type");
	size_t index = 0;

	if (itype == NULL)
		return adapter_stream_broken(s, "%s without a typed item", type);
	if (responses_index(s, root, type, &index) != 0)
		return -1;
	if (strcmp(itype, "function_call") == 0 && responses_call_start(s, index, item) == 0)
		return -1;
	if (strcmp(itype, "reasoning") == 0)
		responses_reasoning_start(s, index, item);
	return 0;
}

/* An item is done: a reasoning item's encrypted content (and its summary if
 * none was streamed); a call's arguments if none were streamed. */
static int
responses_item_done(struct adapter_stream *s, const cJSON *root, const char *type)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, "item");
	const char *itype = adapter_json_string(item, "type");
	size_t index = 0, part;
	char *text;

	if (itype == NULL)
		return adapter_stream_broken(s, "%s without a typed item", type);
	if (responses_index(s, root, type, &index) != 0)
		return -1;
	if (strcmp(itype, "function_call") == 0) {
		if ((part = responses_item_part(s, index, LLM_PART_TOOL_CALL)) == 0 &&
		    (part = responses_call_start(s, index, item)) == 0)
			return -1;
		if (s->acc->parts[part - 1].arguments == NULL ||
		    *s->acc->parts[part - 1].arguments == '\0') {
			text = responses_arguments(item);
			adapter_stream_delta(s, LLM_DELTA_TOOL_CALL_ARGS, part - 1, text,
			    strlen(text));
			free(text);
		}
	} else if (strcmp(itype, "reasoning") == 0) {
		if ((part = responses_item_part(s, index, LLM_PART_REASONING)) == 0)
			part = responses_reasoning_start(s, index, item);
		if (s->acc->parts[part - 1].text == NULL || *s->acc->parts[part - 1].text == '\0') {
			text = responses_summary(item);
			adapter_stream_delta(s, LLM_DELTA_THINKING, part - 1, text, strlen(text));
			free(text);
		}
		adapter_stream_reasoning_done(s, part - 1, adapter_json_string(item, "id"),
		    adapter_json_string(item, "encrypted_content"));
	}
	return 0;
}

/* A reasoning summary delta, or the blank line between two summary parts. */
static int
responses_summary_delta(struct adapter_stream *s, const cJSON *root, const char *type,
    const char *text)
{
	size_t index = 0, part;
	const char *t;

	if (responses_index(s, root, type, &index) != 0)
		return -1;
	if ((part = responses_item_part(s, index, LLM_PART_REASONING)) == 0)
		part = responses_reasoning_start(s, index, NULL);
	t = s->acc->parts[part - 1].text;
	if (text == NULL) {
		if (t != NULL && *t != '\0')
			adapter_stream_delta(s, LLM_DELTA_THINKING, part - 1, "\n\n", 2);
	} else
		adapter_stream_delta(s, LLM_DELTA_THINKING, part - 1, text, strlen(text));
	return 0;
}

static int
responses_args_delta(struct adapter_stream *s, const cJSON *root, const char *type,
    const char *text)
{
	size_t index = 0, part;

	if (responses_index(s, root, type, &index) != 0)
		return -1;
	if ((part = responses_item_part(s, index, LLM_PART_TOOL_CALL)) == 0)
		return adapter_stream_broken(s,
		    "arguments for output item %zu, not a function call", index);
	adapter_stream_delta(s, LLM_DELTA_TOOL_CALL_ARGS, part - 1, text, strlen(text));
	return 0;
}

/* response.completed / response.incomplete: the proper end. */
static int
responses_end(struct adapter_stream *s, const cJSON *root)
{
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(root, "response");

	if (!cJSON_IsObject(resp))
		return adapter_stream_broken(s, "the final event has no response object");
	responses_first(&s->acc->id, adapter_json_string(resp, "id"));
	responses_first(&s->acc->model, adapter_json_string(resp, "model"));
	adapter_openai_usage(cJSON_GetObjectItemCaseSensitive(resp, "usage"), "input_tokens",
	    "output_tokens", &s->acc->usage);
	responses_stop(resp, s->n_tool_calls > 0, s->refused, s->acc);
	s->state = 1;
	return 1;
}

/* An error as {"error": {...}} for the shared classifier (an error event holds
 * its code and message at the top, beside "type": "error"). */
static int
responses_error(struct adapter_stream *s, const cJSON *e)
{
	cJSON *wrap, *copy;
	int r;

	if (!cJSON_IsObject(e))
		return adapter_stream_fail(s, LLM_ERR_SERVER,
		    "%s: the response failed (no error given)", s->who);
	copy = cJSON_Duplicate(e, 1);
	if (adapter_json_string(copy, "type") != NULL &&
	    strcmp(adapter_json_string(copy, "type"), "error") == 0)
		cJSON_DeleteItemFromObjectCaseSensitive(copy, "type");
	wrap = cJSON_CreateObject();
	cJSON_AddItemToObject(wrap, "error", copy);
	r = adapter_stream_error_json(s, wrap);
	cJSON_Delete(wrap);
	return r;
}

static int
responses_dispatch(struct adapter_stream *s, const cJSON *root, const char *type)
{
	const char *delta = adapter_json_string(root, "delta");
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(root, "response"), *e;

	if (strcmp(type, "response.created") == 0 || strcmp(type, "response.in_progress") == 0) {
		responses_first(&s->acc->id, adapter_json_string(resp, "id"));
		responses_first(&s->acc->model, adapter_json_string(resp, "model"));
	} else if (strcmp(type, "response.output_item.added") == 0)
		return responses_item_added(s, root, type);
	else if (strcmp(type, "response.output_item.done") == 0)
		return responses_item_done(s, root, type);
	else if (strcmp(type, "response.output_text.delta") == 0 && delta != NULL)
		adapter_stream_text(s, delta, strlen(delta));
	else if (strcmp(type, "response.refusal.delta") == 0 && delta != NULL) {
		adapter_stream_text(s, delta, strlen(delta));
		s->refused = 1;
	} else if (strcmp(type, "response.function_call_arguments.delta") == 0 && delta != NULL)
		return responses_args_delta(s, root, type, delta);
	else if (strcmp(type, "response.reasoning_summary_text.delta") == 0 && delta != NULL)
		return responses_summary_delta(s, root, type, delta);
	else if (strcmp(type, "response.reasoning_summary_part.added") == 0)
		return responses_summary_delta(s, root, type, NULL);
	else if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0)
		return responses_end(s, root);
	else if (strcmp(type, "response.failed") == 0)
		return responses_error(s, cJSON_GetObjectItemCaseSensitive(resp, "error"));
	else if (strcmp(type, "error") == 0) {
		e = cJSON_GetObjectItemCaseSensitive(root, "error");
		return responses_error(s, cJSON_IsObject(e) ? e : root);
	}
	return 0;
}

/* One event: its JSON's type (else the SSE event name) says what it is. */
static int
responses_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	const char *type;
	cJSON *root;
	int r;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return 0;
	if ((root = adapter_json_parse(data, len)) == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return adapter_stream_broken(s, "event is not a JSON object");
	}
	if ((type = adapter_json_string(root, "type")) == NULL)
		type = event;
	r = type != NULL ? responses_dispatch(s, root, type) : 0;
	cJSON_Delete(root);
	return r;
}

static struct adapter_stream *
responses_stream_new(void)
{
	return adapter_stream_new(responses_event, "responses stream", "response.completed");
}

/* Errors and probes: the chat adapters' (the error bodies are the same shape). */

static void
azure_responses_classify(int status, const struct http_headers *h, const char *body, size_t len,
    struct llm_error *err)
{
	adapter_azure.classify_error(status, h, body, len, err);
}

static int
openai_responses_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	return adapter_openai.build_probe(conf, out, cause);
}

static int
azure_responses_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	return adapter_azure.build_probe(conf, out, cause);
}

const struct adapter adapter_openai_responses = {
    .kind = "openai",
    .check_request = openai_responses_check,
    .build_request = openai_responses_build,
    .parse_response = responses_parse,
    .classify_error = adapter_classify_http,
    .stream_new = responses_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = openai_responses_probe,
};

const struct adapter adapter_azure_responses = {
    .kind = "azure",
    .check_request = azure_responses_check,
    .build_request = openai_responses_build,
    .parse_response = responses_parse,
    .classify_error = azure_responses_classify,
    .stream_new = responses_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = azure_responses_probe,
};
