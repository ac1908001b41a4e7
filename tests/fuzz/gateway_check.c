/*
 * gateway_check.c: the body of the gateway harnesses (Chat Completions, Messages,
 * Responses). A client's body goes
 * through the gateway's parser; a refusal must name what was wrong in one
 * line and make a JSON error body that says it; a request taken must be whole
 * (a model, at least one message, every part with what its type needs, tool
 * choices naming a tool, passthrough a JSON object tagged with the client's
 * API, sampling in range), and every adapter must either refuse it naming the
 * field (check_request) or build a provider request whose body is JSON.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "gateway/gateway_priv.h"

static const struct {
	enum provider_kind kind;
	enum provider_flavor flavor;
} targets[] = {
    {PROVIDER_ANTHROPIC, FLAVOR_OPENAI},
    {PROVIDER_OPENAI, FLAVOR_OPENAI},
    {PROVIDER_OPENAI, FLAVOR_MISTRAL},
    {PROVIDER_OPENAI, FLAVOR_VLLM},
    {PROVIDER_OPENAI, FLAVOR_LLAMACPP},
    {PROVIDER_OPENAI, FLAVOR_OLLAMA},
    {PROVIDER_AZURE, FLAVOR_OPENAI},
};

static void
check_refusal(enum gw_api api, const struct gw_bad *bad)
{
	cJSON *root;
	const cJSON *msg;
	char *body;

	fuzz_check_message(bad->message, sizeof bad->message);
	FUZZ_CHECK(memchr(bad->param, '\0', sizeof bad->param) != NULL);
	body = gw_error_body(api, 400, LLM_ERR_BAD_REQUEST, bad->message, bad->param);
	FUZZ_CHECK(body != NULL);
	root = cJSON_Parse(body);
	FUZZ_CHECK(root != NULL);
	msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "error"),
	    "message");
	FUZZ_CHECK(cJSON_IsString(msg) && strcmp(msg->valuestring, bad->message) == 0);
	cJSON_Delete(root);
	free(body);
}

static void
check_part(const struct llm_part *p, int depth)
{
	switch (p->type) {
	case LLM_PART_TEXT:
	case LLM_PART_THINKING: FUZZ_CHECK(p->text != NULL); break;
	case LLM_PART_IMAGE:
		FUZZ_CHECK(p->url != NULL || (p->media_type != NULL && p->data != NULL));
		break;
	case LLM_PART_TOOL_CALL:
		FUZZ_CHECK(p->id != NULL && p->name != NULL && p->name[0] != '\0');
		FUZZ_CHECK(p->arguments != NULL);
		break;
	case LLM_PART_TOOL_RESULT:
		FUZZ_CHECK(depth == 0 && p->id != NULL && p->id[0] != '\0');
		FUZZ_CHECK(p->parts != NULL || p->n_parts == 0);
		for (size_t i = 0; i < p->n_parts; i++)
			check_part(&p->parts[i], depth + 1);
		break;
	case LLM_PART_REDACTED_THINKING: FUZZ_CHECK(p->data != NULL); break;
	case LLM_PART_REASONING: FUZZ_CHECK(p->text != NULL); break;
	default: FUZZ_CHECK(!"a part of no known type");
	}
}

static void
check_request(const struct llm_request *req, const struct gw_ask *ask, int api)
{
	cJSON *j;

	FUZZ_CHECK(ask->model[0] != '\0');
	FUZZ_CHECK(memchr(ask->model, '\0', sizeof ask->model) != NULL);
	FUZZ_CHECK(ask->input_estimate > 0);
	FUZZ_CHECK(req->n_messages >= 1 && req->messages != NULL);
	for (size_t i = 0; i < req->n_messages; i++) {
		FUZZ_CHECK(req->messages[i].parts != NULL || req->messages[i].n_parts == 0);
		FUZZ_CHECK(req->messages[i].role == LLM_ROLE_USER ||
		    req->messages[i].role == LLM_ROLE_ASSISTANT);
		for (size_t k = 0; k < req->messages[i].n_parts; k++)
			check_part(&req->messages[i].parts[k], 0);
	}
	for (size_t i = 0; i < req->n_stop; i++)
		FUZZ_CHECK(req->stop != NULL && req->stop[i] != NULL);
	for (size_t i = 0; i < req->n_tools; i++)
		FUZZ_CHECK(req->tools[i].name != NULL && req->tools[i].name[0] != '\0');
	FUZZ_CHECK(req->tool_choice != LLM_TOOL_CHOICE_NAMED || req->tool_choice_name != NULL);
	if (req->response_format.type == LLM_FORMAT_JSON_SCHEMA) {
		j = cJSON_Parse(req->response_format.schema);
		FUZZ_CHECK(cJSON_IsObject(j));
		cJSON_Delete(j);
	}
	if (req->passthrough != NULL) {
		j = cJSON_Parse(req->passthrough);
		FUZZ_CHECK(cJSON_IsObject(j) && cJSON_GetArraySize(j) > 0);
		cJSON_Delete(j);
		FUZZ_CHECK(req->passthrough_api ==
		    (api == GW_OPENAI ? LLM_API_OPENAI : LLM_API_ANTHROPIC));
	}
	/* Responses: the body goes along whole, as JSON, and nothing field by field. */
	if (api == GW_RESPONSES) {
		FUZZ_CHECK(req->passthrough == NULL && req->passthrough_api == LLM_API_RESPONSES);
		j = cJSON_Parse(req->raw_body);
		FUZZ_CHECK(cJSON_IsObject(j));
		cJSON_Delete(j);
		j = cJSON_Parse(ask->echo);
		FUZZ_CHECK(cJSON_IsObject(j));
		cJSON_Delete(j);
		if (req->hosted_tools != NULL) {
			j = cJSON_Parse(req->hosted_tools);
			FUZZ_CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0);
			cJSON_Delete(j);
		}
	}
	FUZZ_CHECK(!req->has_temperature || (req->temperature >= 0 && req->temperature <= 2));
	FUZZ_CHECK(!req->has_top_p || (req->top_p >= 0 && req->top_p <= 1));
	FUZZ_CHECK(req->max_tokens >= 0);
	FUZZ_CHECK(req->stream == 0 || req->stream == 1);
}

/* Each adapter refuses req naming the field, or builds its provider's request from it, as JSON. */
static void
build_each(const struct llm_request *req)
{
	for (size_t i = 0; i < nitems(targets); i++) {
		char name[] = "p", url[] = "http://127.0.0.1:9", key[] = "k", model[] = "m";
		char *models[] = {model};
		const struct adapter *ad;
		struct provider_conf conf;
		struct adapter_http http;
		struct llm_error why;
		char *cause = NULL;
		cJSON *body;

		memset(&conf, 0, sizeof conf);
		conf.name = name;
		conf.kind = targets[i].kind;
		conf.flavor = targets[i].flavor;
		conf.base_url = url;
		conf.api_key = key;
		conf.models = models;
		conf.n_models = 1;
		conf.enabled = 1;
		conf.tls_verify = 1;
		ad = adapter_for_provider(&conf);
		llm_error_clear(&why);
		if (ad->check_request != NULL &&
		    ad->check_request(&conf, NULL, "model-id", req, &why) != 0) {
			fuzz_check_message(why.message, sizeof why.message);
			FUZZ_CHECK(memchr(why.param, '\0', sizeof why.param) != NULL);
			continue;
		}
		if (ad->build_request(&conf, NULL, "model-id", req, req->stream, &http, &cause) !=
		    0) {
			fuzz_check_message(cause, strlen(cause) + 1);
			fuzz_fail(__FILE__, __LINE__, "a request the gateway took cannot be built");
		}
		FUZZ_CHECK(http.body != NULL && http.url != NULL && http.method != NULL);
		body = cJSON_ParseWithLength(http.body, http.body_len);
		FUZZ_CHECK(cJSON_IsObject(body));
		cJSON_Delete(body);
		adapter_http_free(&http);
	}
}

void
fuzz_gateway(fuzz_gw_parse parse, int api, const uint8_t *data, size_t size)
{
	struct llm_request req;
	struct gw_ask ask;
	struct gw_bad bad;

	llm_request_init(&req);
	memset(&ask, 0x5a, sizeof ask);
	memset(&bad, 0, sizeof bad);
	if (parse((const char *)data, size, &req, &ask, &bad) != 0) {
		check_refusal((enum gw_api)api, &bad);
		fuzz_refused = 1;
	} else {
		check_request(&req, &ask, api);
		build_each(&req);
		fuzz_refused = 0;
	}
	llm_request_free(&req);
	gw_ask_free(&ask);
}
