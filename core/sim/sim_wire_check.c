/*
 * sim_wire_check.c: the 4xx a provider answers to a request it will not run,
 * for the features beyond plain chat: sampling ranges (Anthropic temperature
 * 0..1 and not with top_p on Claude 4; OpenAI 0..2), reasoning models'
 * parameters (max_tokens, temperature), tools and tool_choice, tool call /
 * result pairing, images (media type, base64, the bytes' real type), thinking,
 * and json_object mode. Messages are the providers' own, from their error
 * bodies as clients report them.
 */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int
refuse(const struct sim_call *c, const char *type, const char *code, const char *param,
    const char *msg, struct sim_reply *r)
{
	sim_wire_error_reply(c, 400, type, code, param, msg, r);
	return -1;
}

static int
anth_refuse(const struct sim_call *c, const char *msg, struct sim_reply *r)
{
	return refuse(c, "invalid_request_error", NULL, NULL, msg, r);
}

/* OpenAI's shape (Mistral's through sim_wire_error_reply). */
static int
oai_refuse(const struct sim_call *c, const char *code, const char *param, const char *msg,
    struct sim_reply *r)
{
	if (sim_wire_ollama_native(c))
		return refuse(c, NULL, NULL, NULL, msg, r);
	return refuse(c, "invalid_request_error", code, param, msg, r);
}

/* Claude 4.x models take temperature or top_p, not both. */
static int
claude4(const char *model)
{
	return strstr(model, "claude-opus-4") != NULL || strstr(model, "claude-sonnet-4") != NULL ||
	    strstr(model, "claude-haiku-4") != NULL;
}

static const char *
request_model(const struct sim_call *c, const cJSON *root)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");

	if (c->deployment != NULL)
		return c->deployment;
	return cJSON_IsString(m) ? m->valuestring : "";
}

/* ---- images ---- */

static int
anth_image(const struct sim_call *c, const cJSON *block, const char *at, struct sim_reply *r)
{
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(block, "source");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(src, "type");
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(src, "media_type");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(src, "data");
	const char *sniffed;
	char msg[512];
	long tokens;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "base64") != 0)
		return 0; /* url and file sources: fetched by the provider */
	if (!cJSON_IsString(mt) || !sim_image_type_allowed(mt->valuestring)) {
		snprintf(msg, sizeof msg,
		    "%s.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
		    "'image/gif' or 'image/webp'",
		    at);
		return anth_refuse(c, msg, r);
	}
	switch (sim_image_check(cJSON_IsString(data) ? data->valuestring : "",
	    cJSON_IsString(data) ? strlen(data->valuestring) : 0, mt->valuestring, &sniffed,
	    &tokens)) {
	case SIM_IMAGE_OK: return 0;
	case SIM_IMAGE_EMPTY:
		snprintf(msg, sizeof msg, "%s.image.source.base64: image cannot be empty", at);
		break;
	case SIM_IMAGE_BASE64:
		snprintf(msg, sizeof msg, "%s.image.source.base64: invalid base64 data", at);
		break;
	case SIM_IMAGE_FORMAT:
	case SIM_IMAGE_MISMATCH:
		snprintf(msg, sizeof msg,
		    "%s.image.source.base64.data: Image does not match the provided media type %s",
		    at, mt->valuestring);
		break;
	}
	return anth_refuse(c, msg, r);
}

static int
oai_image(const struct sim_call *c, const cJSON *part, const char *at, struct sim_reply *r)
{
	const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url"), *url = iu;
	const char *u, *semi, *sniffed;
	char type[64], msg[512], param[160];
	long tokens;
	size_t n;

	if (cJSON_IsObject(iu))
		url = cJSON_GetObjectItemCaseSensitive(iu, "url");
	u = cJSON_IsString(url) ? url->valuestring : "";
	if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
		return 0;
	snprintf(param, sizeof param, "%s.image_url.url", at);
	if (strncmp(u, "data:", 5) != 0) {
		snprintf(msg, sizeof msg,
		    "Invalid image URL: '%s'. Expected a base64-encoded data URL with an image "
		    "MIME "
		    "type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value "
		    "without the 'data:' prefix.",
		    param);
		return oai_refuse(c, "invalid_value", param, msg, r);
	}
	semi = strstr(u, ";base64,");
	n = semi != NULL ? (size_t)(semi - u - 5) : 0;
	if (semi == NULL || n >= sizeof type)
		return oai_refuse(c, NULL, NULL, "Invalid base64 image_url.", r);
	memcpy(type, u + 5, n);
	type[n] = '\0';
	switch (sim_image_check(semi + 8, strlen(semi + 8), NULL, &sniffed, &tokens)) {
	case SIM_IMAGE_OK:
		if (sim_image_type_allowed(type))
			return 0;
		break;
	case SIM_IMAGE_EMPTY:
	case SIM_IMAGE_BASE64: return oai_refuse(c, NULL, NULL, "Invalid base64 image_url.", r);
	case SIM_IMAGE_FORMAT:
	case SIM_IMAGE_MISMATCH: break;
	}
	return oai_refuse(c, "invalid_image_format", NULL,
	    "You uploaded an unsupported image. Please make sure your image has of one the "
	    "following formats: ['png', 'jpeg', 'gif', 'webp'].",
	    r);
}

/* Every image in a content array (and, for Anthropic, inside tool results). */
static int
check_images_in(const struct sim_call *c, const cJSON *content, const char *at, struct sim_reply *r)
{
	const cJSON *part, *type;
	char here[128];
	int j = 0;

	cJSON_ArrayForEach(part, content)
	{
		type = cJSON_GetObjectItemCaseSensitive(part, "type");
		if (c->protocol == SIM_ANTHROPIC)
			snprintf(here, sizeof here, "%s.content.%d", at, j);
		else
			snprintf(here, sizeof here, "%s.content[%d]", at, j);
		j++;
		if (!cJSON_IsString(type))
			continue;
		if (c->protocol == SIM_ANTHROPIC && strcmp(type->valuestring, "image") == 0) {
			if (anth_image(c, part, here, r) != 0)
				return -1;
		} else if (c->protocol == SIM_ANTHROPIC &&
		    strcmp(type->valuestring, "tool_result") == 0) {
			char deeper[160];

			snprintf(deeper, sizeof deeper, "%s.tool_result", here);
			if (check_images_in(c, cJSON_GetObjectItemCaseSensitive(part, "content"),
			        deeper, r) != 0)
				return -1;
		} else if (c->protocol != SIM_ANTHROPIC &&
		    (strcmp(type->valuestring, "image_url") == 0 ||
		        (strcmp(type->valuestring, "input_image") == 0 &&
		            cJSON_GetObjectItemCaseSensitive(part, "image_url") != NULL))) {
			/* chat's image_url; the Responses API's input_image by URL, not file_id */
			if (oai_image(c, part, here, r) != 0)
				return -1;
		}
	}
	return 0;
}

/* Ollama's images: base64 strings, as Go decodes them. */
static int
check_native_images(const struct sim_call *c, const cJSON *images, struct sim_reply *r)
{
	const cJSON *im;
	const char *sniffed;
	char msg[128];
	long tokens;

	cJSON_ArrayForEach(im, images)
	{
		if (!cJSON_IsString(im) ||
		    sim_image_check(im->valuestring, strlen(im->valuestring), NULL, &sniffed,
		        &tokens) == SIM_IMAGE_BASE64) {
			snprintf(msg, sizeof msg, "illegal base64 data at input byte %d", 0);
			return refuse(c, NULL, NULL, NULL, msg, r);
		}
	}
	return 0;
}

static int
check_images(const struct sim_call *c, const cJSON *messages, struct sim_reply *r)
{
	const cJSON *m;
	char at[64];
	int i = 0;

	cJSON_ArrayForEach(m, messages)
	{
		if (c->protocol == SIM_ANTHROPIC)
			snprintf(at, sizeof at, "messages.%d", i);
		else
			snprintf(at, sizeof at, "messages[%d]", i);
		i++;
		if (c->ep == SIM_EP_OLLAMA_CHAT) {
			if (check_native_images(c, cJSON_GetObjectItemCaseSensitive(m, "images"),
			        r) != 0)
				return -1;
			continue;
		}
		if (check_images_in(c, cJSON_GetObjectItemCaseSensitive(m, "content"), at, r) != 0)
			return -1;
	}
	return 0;
}

/* ---- tools ---- */

static const char *
tool_name(const cJSON *t)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_IsObject(f) ? f : t, "name");

	return cJSON_IsString(n) ? n->valuestring : NULL;
}

static int
has_tool(const cJSON *tools, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, tools)
	{
		if (tool_name(t) != NULL && strcmp(tool_name(t), name) == 0)
			return 1;
	}
	return 0;
}

static int
anth_tools(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools"), *t, *u, *type;
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), *name;
	char msg[256];
	int i = 0;

	cJSON_ArrayForEach(t, tools)
	{
		type = cJSON_GetObjectItemCaseSensitive(t, "type");
		/* server tools (web_search_20250305...) carry a dated type and no schema */
		if (cJSON_IsString(type) && strcmp(type->valuestring, "custom") != 0) {
			i++;
			continue;
		}
		if (tool_name(t) == NULL) {
			snprintf(msg, sizeof msg, "tools.%d.custom.name: Field required", i);
			return anth_refuse(c, msg, r);
		}
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t, "input_schema"))) {
			snprintf(msg, sizeof msg, "tools.%d.custom.input_schema: Field required",
			    i);
			return anth_refuse(c, msg, r);
		}
		for (u = tools->child; u != t; u = u->next)
			if (tool_name(u) != NULL && strcmp(tool_name(u), tool_name(t)) == 0)
				return anth_refuse(c, "tools: Tool names must be unique.", r);
		i++;
	}
	type = cJSON_GetObjectItemCaseSensitive(tc, "type");
	name = cJSON_GetObjectItemCaseSensitive(tc, "name");
	if (cJSON_IsString(type) && strcmp(type->valuestring, "tool") == 0) {
		if (!cJSON_IsString(name))
			return anth_refuse(c, "tool_choice.tool.name: Field required", r);
		if (!has_tool(tools, name->valuestring)) {
			snprintf(msg, sizeof msg,
			    "tool_choice: tool '%.100s' was not found in the request's tools",
			    name->valuestring);
			return anth_refuse(c, msg, r);
		}
	}
	return 0;
}

/* Every tool_use in an assistant turn answered by a tool_result in the next message. */
static int
anth_tool_turns(const struct sim_call *c, const cJSON *messages, struct sim_reply *r)
{
	const cJSON *m, *b, *type, *id, *next, *nb, *nid, *ncontent;
	char msg[512];
	int i = 0, found;

	cJSON_ArrayForEach(m, messages)
	{
		next = m->next;
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(m, "content"))
		{
			type = cJSON_GetObjectItemCaseSensitive(b, "type");
			id = cJSON_GetObjectItemCaseSensitive(b, "id");
			if (!cJSON_IsString(type) || strcmp(type->valuestring, "tool_use") != 0 ||
			    !cJSON_IsString(id))
				continue;
			found = 0;
			ncontent =
			    next != NULL ? cJSON_GetObjectItemCaseSensitive(next, "content") : NULL;
			cJSON_ArrayForEach(nb, ncontent)
			{
				nid = cJSON_GetObjectItemCaseSensitive(nb, "tool_use_id");
				if (cJSON_IsString(nid) &&
				    strcmp(nid->valuestring, id->valuestring) == 0)
					found = 1;
			}
			if (!found) {
				snprintf(msg, sizeof msg,
				    "messages.%d: `tool_use` ids were found without `tool_result` "
				    "blocks "
				    "immediately after: %.64s. Each `tool_use` block must have a "
				    "corresponding `tool_result` block in the next message.",
				    i, id->valuestring);
				return anth_refuse(c, msg, r);
			}
		}
		i++;
	}
	return 0;
}

static int
oai_tools(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), *name;
	char msg[256];

	if (tc == NULL || cJSON_IsNull(tc))
		return 0;
	if (cJSON_GetArraySize(tools) == 0 &&
	    !(cJSON_IsString(tc) && strcmp(tc->valuestring, "none") == 0))
		return oai_refuse(c, NULL, "tool_choice",
		    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
		    "are "
		    "specified.",
		    r);
	name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tc, "function"),
	    "name");
	if (cJSON_IsString(name) && !has_tool(tools, name->valuestring)) {
		snprintf(msg, sizeof msg,
		    "Invalid value for 'tool_choice': function '%.100s' was not found in 'tools'.",
		    name->valuestring);
		return oai_refuse(c, NULL, "tool_choice", msg, r);
	}
	return 0;
}

/* role "tool" answers an assistant's tool_calls, and every call is answered. */
static int
oai_tool_turns(const struct sim_call *c, const cJSON *messages, struct sim_reply *r)
{
	const cJSON *m, *role, *call, *id, *n, *tid;
	char msg[512], param[64];
	int i = 0, open = 0, answered;

	cJSON_ArrayForEach(m, messages)
	{
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (!cJSON_IsString(role)) {
			i++;
			continue;
		}
		snprintf(param, sizeof param, "messages.[%d].role", i);
		if (strcmp(role->valuestring, "tool") == 0 && !open)
			return oai_refuse(c, NULL, param,
			    "Invalid parameter: messages with role 'tool' must be a response to a "
			    "preceeding message with 'tool_calls'.",
			    r);
		if (strcmp(role->valuestring, "tool") != 0)
			open = 0;
		if (strcmp(role->valuestring, "assistant") == 0 &&
		    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) > 0) {
			open = 1;
			cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
			{
				id = cJSON_GetObjectItemCaseSensitive(call, "id");
				if (!cJSON_IsString(id))
					continue;
				answered = 0;
				for (n = m->next; n != NULL; n = n->next) {
					role = cJSON_GetObjectItemCaseSensitive(n, "role");
					if (!cJSON_IsString(role) ||
					    strcmp(role->valuestring, "tool") != 0)
						break;
					tid = cJSON_GetObjectItemCaseSensitive(n, "tool_call_id");
					if (cJSON_IsString(tid) &&
					    strcmp(tid->valuestring, id->valuestring) == 0)
						answered = 1;
				}
				if (!answered) {
					snprintf(msg, sizeof msg,
					    "An assistant message with 'tool_calls' must be "
					    "followed by "
					    "tool messages responding to each 'tool_call_id'. The "
					    "following "
					    "tool_call_ids did not have response messages: %.64s",
					    id->valuestring);
					return oai_refuse(c, NULL, param, msg, r);
				}
			}
		}
		i++;
	}
	return 0;
}

/* ---- sampling, thinking, reasoning models, JSON mode ---- */

static int
anth_sampling(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "temperature");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "top_p");
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thinking"), *type, *budget;
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), *tct;
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");

	if (cJSON_IsNumber(t) && t->valuedouble > 1)
		return anth_refuse(c, "temperature: Input should be less than or equal to 1", r);
	if (cJSON_IsNumber(t) && t->valuedouble < 0)
		return anth_refuse(c, "temperature: Input should be greater than or equal to 0", r);
	if (cJSON_IsNumber(p) && (p->valuedouble < 0 || p->valuedouble > 1))
		return anth_refuse(c,
		    p->valuedouble > 1 ? "top_p: Input should be less than or equal to 1"
		                       : "top_p: Input should be greater than or equal to 0",
		    r);
	if (cJSON_IsNumber(t) && cJSON_IsNumber(p) && claude4(request_model(c, root)))
		return anth_refuse(c,
		    "`temperature` and `top_p` cannot both be specified for this model. Please use "
		    "only one.",
		    r);
	type = cJSON_GetObjectItemCaseSensitive(th, "type");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "enabled") != 0)
		return 0;
	budget = cJSON_GetObjectItemCaseSensitive(th, "budget_tokens");
	if (!cJSON_IsNumber(budget))
		return anth_refuse(c, "thinking.enabled.budget_tokens: Field required", r);
	if (budget->valuedouble < 1024)
		return anth_refuse(c,
		    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
		    r);
	if (budget->valuedouble >= max->valuedouble)
		return anth_refuse(c,
		    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult "
		    "our "
		    "documentation at https://docs.claude.com/en/docs/build-with-claude/"
		    "extended-thinking#max-tokens-and-context-window-size",
		    r);
	if (cJSON_IsNumber(t) && t->valuedouble != 1)
		return anth_refuse(c,
		    "`temperature` may only be set to 1 when thinking is enabled. Please consult "
		    "our "
		    "documentation at https://docs.claude.com/en/docs/build-with-claude/"
		    "extended-thinking#feature-compatibility",
		    r);
	tct = cJSON_GetObjectItemCaseSensitive(tc, "type");
	if (cJSON_IsString(tct) &&
	    (strcmp(tct->valuestring, "any") == 0 || strcmp(tct->valuestring, "tool") == 0))
		return anth_refuse(c,
		    "Thinking may not be enabled when tool_choice forces tool use.", r);
	return 0;
}

static int
oai_sampling(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "temperature");
	char msg[256];

	if (cJSON_IsNumber(t) && t->valuedouble > 2) {
		snprintf(msg, sizeof msg,
		    "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
		    "but "
		    "got %g instead.",
		    t->valuedouble);
		return oai_refuse(c, "decimal_above_max_value", "temperature", msg, r);
	}
	if (cJSON_IsNumber(t) && t->valuedouble < 0) {
		snprintf(msg, sizeof msg,
		    "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, "
		    "but "
		    "got %g instead.",
		    t->valuedouble);
		return oai_refuse(c, "decimal_below_min_value", "temperature", msg, r);
	}
	if (!sim_model_reasons(request_model(c, root)))
		return 0;
	if (cJSON_GetObjectItemCaseSensitive(root, "max_tokens") != NULL)
		return oai_refuse(c, "unsupported_parameter", "max_tokens",
		    "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
		    "'max_completion_tokens' instead.",
		    r);
	if (cJSON_IsNumber(t) && t->valuedouble != 1) {
		snprintf(msg, sizeof msg,
		    "Unsupported value: 'temperature' does not support %g with this model. Only "
		    "the "
		    "default (1) value is supported.",
		    t->valuedouble);
		return oai_refuse(c, "unsupported_value", "temperature", msg, r);
	}
	return 0;
}

/* json_object needs the word "json" somewhere in the messages (OpenAI, Azure). */
static int
oai_json_mode(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "response_format");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
	char *all;
	int found;

	if (!cJSON_IsString(type) || strcmp(type->valuestring, "json_object") != 0)
		return 0;
	all = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "messages"));
	found = all != NULL && strcasestr(all, "json") != NULL;
	cJSON_free(all);
	if (found)
		return 0;
	return oai_refuse(c, NULL, "messages",
	    "'messages' must contain the word 'json' in some form, to use 'response_format' of "
	    "type 'json_object'.",
	    r);
}

/* Anthropic's structured outputs: output_config.format {"type":"json_schema","schema":{}}. */
static int
anth_output_format(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *oc = cJSON_GetObjectItemCaseSensitive(root, "output_config");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(oc, "format");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");

	if (f == NULL || cJSON_IsNull(f))
		return 0;
	if (!cJSON_IsString(type))
		return anth_refuse(c, "output_config.format.type: Field required", r);
	if (strcmp(type->valuestring, "json_schema") != 0)
		return anth_refuse(c, "output_config.format.type: Input should be 'json_schema'",
		    r);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(f, "schema")))
		return anth_refuse(c, "output_config.format.json_schema.schema: Field required", r);
	return 0;
}

int
sim_wire_check_responses_features(const struct sim_call *c, const cJSON *root, const cJSON *input,
    struct sim_reply *r)
{
	const cJSON *it;
	char at[64];
	int i = 0;

	if (oai_sampling(c, root, r) != 0)
		return -1;
	cJSON_ArrayForEach(it, (cJSON_IsArray(input) ? input : NULL))
	{
		snprintf(at, sizeof at, "input[%d]", i++);
		if (check_images_in(c, cJSON_GetObjectItemCaseSensitive(it, "content"), at, r) != 0)
			return -1;
	}
	return 0;
}

int
sim_wire_check_features(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");

	if (c->protocol == SIM_ANTHROPIC)
		return anth_sampling(c, root, r) != 0 || anth_output_format(c, root, r) != 0 ||
		        anth_tools(c, root, r) != 0 || anth_tool_turns(c, messages, r) != 0 ||
		        check_images(c, messages, r) != 0
		    ? -1
		    : 0;
	if (c->ep == SIM_EP_OLLAMA_CHAT)
		return check_images(c, messages, r);
	if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE) {
		if (oai_sampling(c, root, r) != 0 || oai_json_mode(c, root, r) != 0)
			return -1;
	}
	if (oai_tools(c, root, r) != 0 || oai_tool_turns(c, messages, r) != 0)
		return -1;
	return check_images(c, messages, r);
}
