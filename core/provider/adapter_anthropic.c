/* adapter_anthropic.c: the Anthropic Messages API (POST /v1/messages). */
#include "adapter_priv.h"

#include <stdlib.h>
#include <string.h>

#define ANTHROPIC_VERSION "2023-06-01"

static void
anthropic_headers(const struct provider_conf *conf, struct adapter_http *out)
{
	if (conf->api_key != NULL)
		adapter_http_header(out, "x-api-key: %s", conf->api_key);
	adapter_http_header(out, "anthropic-version: %s", ANTHROPIC_VERSION);
}

static cJSON *
anthropic_tools(const struct llm_request *req)
{
	cJSON *tools, *t, *schema;

	if (req->n_tools == 0)
		return NULL;
	tools = cJSON_CreateArray();
	for (size_t i = 0; i < req->n_tools; i++) {
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", req->tools[i].name);
		if (req->tools[i].description != NULL)
			cJSON_AddStringToObject(t, "description", req->tools[i].description);
		schema =
		    req->tools[i].parameters != NULL ? cJSON_Parse(req->tools[i].parameters) : NULL;
		if (!cJSON_IsObject(schema)) {
			cJSON_Delete(schema);
			schema = cJSON_CreateObject();
			cJSON_AddStringToObject(schema, "type", "object");
		}
		cJSON_AddItemToObject(t, "input_schema", schema);
		cJSON_AddItemToArray(tools, t);
	}
	return tools;
}

static int
anthropic_check_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, struct llm_error *why)
{
	(void)conf;
	(void)m;
	(void)model_id;
	(void)req;
	llm_error_clear(why);
	return 0;
}

static int
anthropic_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	cJSON *root, *msgs, *tools;
	char *base;
	int64_t max_tokens = adapter_max_output(m, req);

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
	tools = anthropic_tools(req);
	if (adapter_base_url(conf, "anthropic", &base, cause) != 0) {
		cJSON_Delete(tools);
		return -1;
	}

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", model_id);
	cJSON_AddNumberToObject(root, "max_tokens",
	    (double)(max_tokens > 0 ? max_tokens : ADAPTER_FALLBACK_MAX_OUTPUT));
	msgs = cJSON_AddArrayToObject(root, "messages");
	adapter_json_messages(msgs, req);
	if (req->system != NULL)
		cJSON_AddStringToObject(root, "system", req->system);
	adapter_json_sampling(root, req, "stop_sequences", tools);
	if (stream)
		cJSON_AddBoolToObject(root, "stream", 1);

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
 */
static void
anthropic_usage(const cJSON *usage, struct llm_usage *u)
{
	int64_t raw;

	if (!cJSON_IsObject(usage))
		return;
	raw = u->input_tokens - u->cache_read_tokens - u->cache_write_tokens;
	raw = adapter_json_tokens(usage, "input_tokens", raw);
	u->output_tokens = adapter_json_tokens(usage, "output_tokens", u->output_tokens);
	u->cache_read_tokens =
	    adapter_json_tokens(usage, "cache_read_input_tokens", u->cache_read_tokens);
	u->cache_write_tokens =
	    adapter_json_tokens(usage, "cache_creation_input_tokens", u->cache_write_tokens);
	u->input_tokens = raw + u->cache_read_tokens + u->cache_write_tokens;
}

static void
anthropic_stop_reason(const cJSON *obj, struct llm_response *out)
{
	adapter_stop_reason(obj, "stop_reason", anthropic_stops, nitems(anthropic_stops), out);
}

static int
anthropic_parse_response(const char *body, size_t len, struct llm_response *out,
    struct llm_error *err)
{
	cJSON *root;
	const cJSON *content, *block;
	const char *type, *text;
	struct buf b;

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
		type = adapter_json_string(block, "type");
		if (type == NULL || strcmp(type, "text") != 0)
			continue;
		if ((text = adapter_json_string(block, "text")) == NULL) {
			buf_free(&b);
			llm_error_set(err, LLM_ERR_MALFORMED, 0,
			    "anthropic response: text block without text");
			goto fail;
		}
		buf_puts(&b, text);
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
	return -1;
}

/* One SSE event of a Messages stream. */
static int
anthropic_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	struct llm_response *acc = s->acc;
	const cJSON *msg, *delta;
	const char *type, *text;
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
	} else if (strcmp(event, "content_block_delta") == 0) {
		delta = cJSON_GetObjectItemCaseSensitive(root, "delta");
		type = adapter_json_string(delta, "type");
		if (!cJSON_IsObject(delta))
			r = adapter_stream_broken(s, "content_block_delta without a delta");
		else if (type != NULL && strcmp(type, "text_delta") == 0) {
			if ((text = adapter_json_string(delta, "text")) == NULL)
				r = adapter_stream_broken(s, "text_delta without text");
			else
				adapter_stream_text(s, text, strlen(text));
		}
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
	/* content_block_start/stop and unknown events are ignored. */
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
