/*
 * adapter_openai.c: OpenAI Chat Completions (POST /v1/chat/completions) and
 * the servers that speak it with quirks: Mistral, vLLM, llama.cpp, Ollama.
 * The body, response and stream code here serves the azure adapter too.
 */
#include "adapter_priv.h"

#include <stdlib.h>
#include <string.h>

static cJSON *
openai_tools(const struct llm_request *req)
{
	cJSON *out, *item, *fn, *schema;

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
		schema =
		    req->tools[i].parameters != NULL ? cJSON_Parse(req->tools[i].parameters) : NULL;
		if (cJSON_IsObject(schema))
			cJSON_AddItemToObject(fn, "parameters", schema);
		else
			cJSON_Delete(schema);
		cJSON_AddItemToArray(out, item);
	}
	return out;
}

int
adapter_openai_body(const struct llm_request *req, int stream, const struct openai_body_opts *o,
    struct adapter_http *out, const char *who, char **cause)
{
	cJSON *root, *msgs, *m, *tools = NULL, *so;

	if (req->n_messages == 0) {
		*cause = xasprintf("%s: request has no messages", who);
		return -1;
	}
	tools = openai_tools(req);

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
	adapter_json_messages(msgs, req);
	if (req->max_tokens > 0)
		cJSON_AddNumberToObject(root,
		    o->max_completion_tokens ? "max_completion_tokens" : "max_tokens",
		    req->max_tokens);
	adapter_json_sampling(root, req, "stop", tools);
	if (stream) {
		cJSON_AddBoolToObject(root, "stream", 1);
		if (o->stream_options) {
			so = cJSON_AddObjectToObject(root, "stream_options");
			cJSON_AddBoolToObject(so, "include_usage", 1);
		}
	}
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

static void
openai_usage(const cJSON *usage, struct llm_usage *u)
{
	const cJSON *details;

	if (!cJSON_IsObject(usage))
		return;
	u->input_tokens = adapter_json_tokens(usage, "prompt_tokens", u->input_tokens);
	u->output_tokens = adapter_json_tokens(usage, "completion_tokens", u->output_tokens);
	details = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
	if (cJSON_IsObject(details))
		u->cache_read_tokens =
		    adapter_json_tokens(details, "cached_tokens", u->cache_read_tokens);
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

int
adapter_openai_parse(const char *body, size_t len, struct llm_response *out, struct llm_error *err)
{
	cJSON *root;
	const cJSON *choices, *choice, *msg, *content;

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
	if (content != NULL && !cJSON_IsString(content) && !cJSON_IsNull(content)) {
		llm_error_set(err, LLM_ERR_MALFORMED, 0,
		    "openai response: message content is not a string");
		goto fail;
	}
	free(out->content);
	out->content = xstrdup(cJSON_IsString(content) ? content->valuestring : "");
	adapter_set_string(&out->id, adapter_json_string(root, "id"));
	adapter_set_string(&out->model, adapter_json_string(root, "model"));
	out->stop = LLM_STOP_NONE;
	openai_finish(choice, out);
	openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &out->usage);
	cJSON_Delete(root);
	return 0;

fail:
	cJSON_Delete(root);
	return -1;
}

/* Keep the first non-empty value: Azure's first chunk has "id": "" and "model": "". */
static void
openai_first(char **dst, const char *s)
{
	if (s != NULL && *s != '\0' && (*dst == NULL || **dst == '\0'))
		adapter_set_string(dst, s);
}

/* One `data:` line of a Chat Completions stream. */
static int
openai_event(struct adapter_stream *s, const char *event, const char *data, size_t len)
{
	struct llm_response *acc = s->acc;
	const cJSON *choices, *choice, *delta, *content, *e;
	cJSON *root;
	const char *p = data;
	size_t n = len;

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
		content = cJSON_GetObjectItemCaseSensitive(delta, "content");
		if (cJSON_IsString(content))
			adapter_stream_text(s, content->valuestring, strlen(content->valuestring));
		if (adapter_json_string(choice, "finish_reason") != NULL) {
			openai_finish(choice, acc);
			s->seen_stop = 1;
		}
	}
	openai_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), &acc->usage);
	cJSON_Delete(root);
	return 0;
}

struct adapter_stream *
adapter_openai_stream_new(void)
{
	return adapter_stream_new(openai_event, "openai stream", "data: [DONE]");
}

int
adapter_openai_check(const struct provider_conf *conf, const struct model_conf *m,
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
openai_build_request(const struct provider_conf *conf, const struct model_conf *m,
    const char *model_id, const struct llm_request *req, int stream, struct adapter_http *out,
    char **cause)
{
	struct openai_body_opts o;
	char *base;

	adapter_http_init(out);
	if (model_id == NULL || *model_id == '\0') {
		*cause = xasprintf("openai: no model id for provider %s",
		    conf->name != NULL ? conf->name : "(unnamed)");
		return -1;
	}
	(void)m;
	memset(&o, 0, sizeof o);
	o.model = model_id;
	o.max_completion_tokens = conf->flavor == FLAVOR_OPENAI;
	o.stream_options = conf->flavor != FLAVOR_MISTRAL;
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
