/*
 * adapter_ollama.c: Ollama's native API (POST /api/chat), the "ollama"
 * flavor's wire: options.num_ctx and keep_alive from the provider's config
 * (the /v1 endpoint cannot set them, so long prompts were cut silently at the
 * server's default context), images as base64 strings, tool calls with
 * arguments as JSON objects, "thinking" for reasoning models, JSON mode as
 * "format". Streams are NDJSON, one object per line, the last with
 * "done": true and the token counts.
 */
#include "provider/adapter_priv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
ollama_check_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	char path[64];

	(void)conf;
	(void)m;
	(void)model_id;
	if (adapter_check_common(req, why) != 0)
		return -1;
	if (req->tool_choice == LLM_TOOL_CHOICE_ANY || req->tool_choice == LLM_TOOL_CHOICE_NAMED)
		return adapter_refuse(why, "tool_choice",
		    "Ollama's /api/chat cannot force a tool call (no tool_choice)");
	if (req->has_parallel_tool_calls && !req->parallel_tool_calls)
		return adapter_refuse(why, "parallel_tool_calls",
		    "Ollama's /api/chat cannot limit tool calls to one");
	if (req->thinking_budget > 0)
		return adapter_refuse(why, "thinking",
		    "Ollama has no thinking budget (reasoning_effort maps to think)");
	if (req->reasoning_effort != NULL && strcmp(req->reasoning_effort, "none") != 0 &&
	    strcmp(req->reasoning_effort, "minimal") != 0 &&
	    strcmp(req->reasoning_effort, "low") != 0 &&
	    strcmp(req->reasoning_effort, "medium") != 0 &&
	    strcmp(req->reasoning_effort, "high") != 0)
		return adapter_refuse(why, "reasoning_effort",
		    "Ollama's think takes low, medium or high, not \"%s\"", req->reasoning_effort);
	if (req->user != NULL)
		return adapter_refuse(why, "user", "Ollama's /api/chat has no user field");
	if (req->metadata != NULL)
		return adapter_refuse(why, "metadata", "Ollama's /api/chat has no metadata");
	for (size_t i = 0; i < req->n_messages; i++) {
		const struct llm_message *msg = &req->messages[i];
		for (size_t j = 0; j < msg->n_parts; j++) {
			const struct llm_part *p = &msg->parts[j];
			char *mt = NULL, *data = NULL;

			adapter_part_path(path, sizeof path, i, j);
			if (p->type == LLM_PART_IMAGE && p->url != NULL) {
				if (adapter_data_url(p->url, &mt, &data) != 0)
					return adapter_refuse(why, path,
					    "%s: Ollama takes images as base64 data, not URLs",
					    path);
				free(mt);
				free(data);
			}
			for (size_t k = 0; p->type == LLM_PART_TOOL_RESULT && k < p->n_parts; k++)
				if (p->parts[k].type == LLM_PART_IMAGE)
					return adapter_refuse(why, path,
					    "%s: an Ollama tool message holds text only", path);
		}
	}
	return 0;
}

/* Text parts joined by a newline (Ollama's content is one string). */
static char *
ollama_text(const struct llm_part *parts, size_t n)
{
	struct buf b;
	int first = 1;

	buf_init(&b);
	buf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		if (parts[i].type != LLM_PART_TEXT)
			continue;
		if (!first)
			buf_puts(&b, "\n");
		buf_puts(&b, parts[i].text);
		first = 0;
	}
	return buf_detach(&b);
}

/* The name of the tool call with this id, earlier in the request. */
static const char *
ollama_call_name(const struct llm_request *req, size_t before, const char *id)
{
	for (size_t i = before; i-- > 0;)
		for (size_t j = 0; j < req->messages[i].n_parts; j++) {
			const struct llm_part *p = &req->messages[i].parts[j];
			if (p->type == LLM_PART_TOOL_CALL && p->id != NULL &&
			    strcmp(p->id, id) == 0)
				return p->name;
		}
	return NULL;
}

static void
ollama_add_image(cJSON **images, cJSON *m, const struct llm_part *p)
{
	char *mt = NULL, *data = NULL;

	if (*images == NULL)
		*images = cJSON_AddArrayToObject(m, "images");
	if (p->url != NULL && adapter_data_url(p->url, &mt, &data) == 0) {
		cJSON_AddItemToArray(*images, cJSON_CreateString(data));
		free(mt);
		free(data);
	} else if (p->data != NULL)
		cJSON_AddItemToArray(*images, cJSON_CreateString(p->data));
}

static void
ollama_messages(cJSON *msgs, const struct llm_request *req)
{
	cJSON *m, *images, *calls, *c, *fn;
	const char *name;
	char *text;

	if (req->system != NULL) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", req->system);
		cJSON_AddItemToArray(msgs, m);
	}
	for (size_t i = 0; i < req->n_messages; i++) {
		const struct llm_message *msg = &req->messages[i];
		int other = msg->n_parts == 0;

		/* A user message's tool results first, one tool message each. */
		for (size_t j = 0; j < msg->n_parts; j++) {
			const struct llm_part *p = &msg->parts[j];
			if (p->type != LLM_PART_TOOL_RESULT) {
				other = 1;
				continue;
			}
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", "tool");
			text = ollama_text(p->parts, p->n_parts);
			if (p->is_error) {
				char *s = xasprintf("[tool error] %s", text);
				free(text);
				text = s;
			}
			cJSON_AddStringToObject(m, "content", text);
			free(text);
			if ((name = ollama_call_name(req, i, p->id)) != NULL)
				cJSON_AddStringToObject(m, "tool_name", name);
			cJSON_AddItemToArray(msgs, m);
		}
		if (!other)
			continue;
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", llm_role_name(msg->role));
		text = ollama_text(msg->parts, msg->n_parts);
		cJSON_AddStringToObject(m, "content", text);
		free(text);
		images = calls = NULL;
		for (size_t j = 0; j < msg->n_parts; j++) {
			const struct llm_part *p = &msg->parts[j];

			if (p->type == LLM_PART_IMAGE)
				ollama_add_image(&images, m, p);
			else if (p->type == LLM_PART_THINKING && p->text != NULL &&
			    cJSON_GetObjectItemCaseSensitive(m, "thinking") == NULL)
				cJSON_AddStringToObject(m, "thinking", p->text);
			else if (p->type == LLM_PART_TOOL_CALL) {
				if (calls == NULL)
					calls = cJSON_AddArrayToObject(m, "tool_calls");
				c = cJSON_CreateObject();
				fn = cJSON_AddObjectToObject(c, "function");
				cJSON_AddStringToObject(fn, "name", p->name);
				cJSON_AddItemToObject(fn, "arguments", adapter_tool_arguments(p));
				cJSON_AddItemToArray(calls, c);
			}
		}
		cJSON_AddItemToArray(msgs, m);
	}
}

static void
ollama_options(cJSON *root, const struct provider_conf *conf, const struct llm_request *req)
{
	cJSON *o = cJSON_CreateObject(), *stop;

	if (conf->num_ctx > 0)
		cJSON_AddNumberToObject(o, "num_ctx", conf->num_ctx);
	if (req->max_tokens > 0)
		cJSON_AddNumberToObject(o, "num_predict", req->max_tokens);
	if (req->has_temperature)
		cJSON_AddNumberToObject(o, "temperature", req->temperature);
	if (req->has_top_p)
		cJSON_AddNumberToObject(o, "top_p", req->top_p);
	if (req->top_k > 0)
		cJSON_AddNumberToObject(o, "top_k", req->top_k);
	if (req->has_seed)
		cJSON_AddNumberToObject(o, "seed", (double)req->seed);
	if (req->n_stop > 0) {
		stop = cJSON_AddArrayToObject(o, "stop");
		for (size_t i = 0; i < req->n_stop; i++)
			cJSON_AddItemToArray(stop, cJSON_CreateString(req->stop[i]));
	}
	if (cJSON_GetArraySize(o) > 0)
		cJSON_AddItemToObject(root, "options", o);
	else
		cJSON_Delete(o);
}

/* keep_alive: digits alone are seconds (a number); anything else a duration string. */
static void
ollama_keep_alive(cJSON *root, const char *v)
{
	const char *d = v;

	if (v == NULL)
		return;
	if (*d == '-')
		d++;
	if (*d != '\0' && strspn(d, "0123456789") == strlen(d))
		cJSON_AddNumberToObject(root, "keep_alive", strtod(v, NULL));
	else
		cJSON_AddStringToObject(root, "keep_alive", v);
}

static cJSON *
ollama_tools(const struct llm_request *req)
{
	cJSON *out, *item, *fn, *schema;

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
		cJSON_AddItemToArray(out, item);
	}
	return out;
}

static int
ollama_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	cJSON *root, *schema;
	char *base;

	(void)m;
	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("ollama: no model id for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	if (req->n_messages == 0) {
		*cause = xasprintf("ollama: request has no messages");
		return -1;
	}
	if (adapter_base_url(conf, "ollama", &base, cause) != 0)
		return -1;
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", model_id);
	ollama_messages(cJSON_AddArrayToObject(root, "messages"), req);
	/* tool_choice "none": the model sees no tools, so it calls none. */
	if (req->n_tools > 0 && req->tool_choice != LLM_TOOL_CHOICE_NONE)
		cJSON_AddItemToObject(root, "tools", ollama_tools(req));
	if (req->response_format.type == LLM_FORMAT_JSON_OBJECT)
		cJSON_AddStringToObject(root, "format", "json");
	else if (req->response_format.type == LLM_FORMAT_JSON_SCHEMA &&
	    (schema = adapter_json_object(req->response_format.schema)) != NULL)
		cJSON_AddItemToObject(root, "format", schema);
	if (req->reasoning_effort != NULL) {
		if (strcmp(req->reasoning_effort, "none") == 0)
			cJSON_AddBoolToObject(root, "think", 0);
		else
			cJSON_AddStringToObject(root, "think",
			    strcmp(req->reasoning_effort, "minimal") == 0 ? "low"
			                                                  : req->reasoning_effort);
	}
	ollama_options(root, conf, req);
	ollama_keep_alive(root, conf->keep_alive);
	/* Ollama streams unless told not to. */
	cJSON_AddBoolToObject(root, "stream", stream);
	adapter_http_json(out, root, 0);
	if (stream) {
		/* An NDJSON stream, not server-sent events. */
		free(out->headers[out->n_headers - 1]);
		out->headers[out->n_headers - 1] = xstrdup("accept: application/x-ndjson");
	}
	out->method = xstrdup("POST");
	out->url = xasprintf("%s/api/chat", base);
	if (conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	cJSON_Delete(root);
	free(base);
	return 0;
}

static void
ollama_usage(const cJSON *root, struct llm_usage *u)
{
	u->input_tokens = adapter_json_tokens(root, "prompt_eval_count", u->input_tokens);
	u->output_tokens = adapter_json_tokens(root, "eval_count", u->output_tokens);
}

static const struct adapter_stop_word ollama_stops[] = {
    {"stop", LLM_STOP_END},
    {"length", LLM_STOP_MAX_TOKENS},
};

/* done_reason; "stop" with tool calls is a tool stop (as Ollama's /v1 says "tool_calls"). */
static void
ollama_stop(const cJSON *root, struct llm_response *out)
{
	adapter_stop_reason(root, "done_reason", ollama_stops, nitems(ollama_stops), out);
	if (out->stop == LLM_STOP_END && llm_response_tool_calls(out) > 0)
		out->stop = LLM_STOP_TOOL_USE;
}

static char *
ollama_args_text(const cJSON *args)
{
	char *s, *out;

	if (cJSON_IsString(args))
		return xstrdup(args->valuestring);
	if (!cJSON_IsObject(args))
		return xstrdup("{}");
	if ((s = cJSON_PrintUnformatted(args)) == NULL)
		fatal("out of memory printing tool arguments");
	out = xstrdup(s);
	cJSON_free(s);
	return out;
}

/* Ollama's tool calls carry no id in older versions: one is made from the index. */
static char *
ollama_call_id(const cJSON *call, int index)
{
	const char *id = adapter_json_string(call, "id");

	return id != NULL && *id != '\0' ? xstrdup(id) : xasprintf("call_%d", index);
}

static int
ollama_parse_response(const char *body, size_t len, struct llm_response *out, struct llm_error *err)
{
	const cJSON *msg, *calls, *c, *fn;
	const char *content, *thinking;
	struct llm_part *p;
	cJSON *root;
	int i = 0;

	llm_error_clear(err);
	if ((root = adapter_json_parse(body, len)) == NULL || !cJSON_IsObject(root)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "ollama response: not a JSON object");
		cJSON_Delete(root);
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "error") != NULL) {
		adapter_error_in_2xx(root, "ollama response", err);
		cJSON_Delete(root);
		return -1;
	}
	msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	content = adapter_json_string(msg, "content");
	if (!cJSON_IsObject(msg) || content == NULL) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0, "ollama response: no message content");
		cJSON_Delete(root);
		return -1;
	}
	if ((thinking = adapter_json_string(msg, "thinking")) != NULL && *thinking != '\0')
		llm_response_add_part(out, LLM_PART_THINKING)->text = xstrdup(thinking);
	if (*content != '\0')
		llm_response_add_part(out, LLM_PART_TEXT)->text = xstrdup(content);
	calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	cJSON_ArrayForEach(c, calls)
	{
		fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		if (adapter_json_string(fn, "name") == NULL)
			continue;
		p = llm_response_add_part(out, LLM_PART_TOOL_CALL);
		p->index = i;
		p->id = ollama_call_id(c, i++);
		p->name = xstrdup(adapter_json_string(fn, "name"));
		p->arguments = ollama_args_text(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
	}
	free(out->content);
	out->content = xstrdup(content);
	adapter_set_string(&out->model, adapter_json_string(root, "model"));
	out->stop = LLM_STOP_NONE;
	ollama_stop(root, out);
	ollama_usage(root, &out->usage);
	cJSON_Delete(root);
	return 0;
}

/* One line of an /api/chat stream. */
static int
ollama_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	const cJSON *msg, *calls, *c, *fn, *e;
	const char *v;
	cJSON *root;
	size_t part;
	char *id, *args;

	(void)event;
	if ((root = adapter_json_parse(data, len)) == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return adapter_stream_broken(s, "a line is not a JSON object");
	}
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e != NULL && !cJSON_IsNull(e)) {
		adapter_stream_error_json(s, root);
		cJSON_Delete(root);
		return -1;
	}
	adapter_set_string(&s->acc->model, adapter_json_string(root, "model"));
	msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	if ((v = adapter_json_string(msg, "thinking")) != NULL)
		adapter_stream_thinking(s, v, strlen(v));
	if ((v = adapter_json_string(msg, "content")) != NULL)
		adapter_stream_text(s, v, strlen(v));
	calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	cJSON_ArrayForEach(c, calls)
	{
		/* Each call comes whole, in one line. */
		fn = cJSON_GetObjectItemCaseSensitive(c, "function");
		if (adapter_json_string(fn, "name") == NULL)
			continue;
		id = ollama_call_id(c, s->n_tool_calls);
		part = adapter_stream_tool_call(s, s->n_tool_calls, id,
		    adapter_json_string(fn, "name"));
		free(id);
		args = ollama_args_text(cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
		adapter_stream_delta(s, LLM_DELTA_TOOL_CALL_ARGS, part, args, strlen(args));
		free(args);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "done"))) {
		ollama_stop(root, s->acc);
		ollama_usage(root, &s->acc->usage);
		s->seen_stop = 1;
		s->state = 1;
		cJSON_Delete(root);
		return 1;
	}
	cJSON_Delete(root);
	return 0;
}

static struct adapter_stream *
ollama_stream_new(void)
{
	struct adapter_stream *s =
	    adapter_stream_new(ollama_event, "ollama stream", "\"done\": true");

	s->ndjson = 1;
	return s;
}

static int
ollama_build_probe(const struct provider_conf *conf, struct adapter_http *out, char **cause)
{
	char *base;

	adapter_http_init(out);
	if (adapter_base_url(conf, "ollama", &base, cause) != 0)
		return -1;
	out->method = xstrdup("GET");
	out->url = xasprintf("%s/api/version", base);
	free(base);
	return 0;
}

const struct adapter adapter_ollama = {
    .kind = "ollama",
    .check_request = ollama_check_request,
    .build_request = ollama_build_request,
    .parse_response = ollama_parse_response,
    .classify_error = adapter_classify_http,
    .stream_new = ollama_stream_new,
    .stream_feed = adapter_stream_feed,
    .stream_finish = adapter_stream_finish,
    .stream_free = adapter_stream_free,
    .build_probe = ollama_build_probe,
};
