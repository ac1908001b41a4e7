/*
 * gateway_check.c: the body of both gateway harnesses. A client's body goes
 * through the gateway's parser; a refusal must name what was wrong in one
 * line and make a JSON error body that says it; a request taken must be whole
 * (a model, at least one message, every text there, sampling in range) and
 * every adapter must build a provider request from it whose body is JSON.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "fuzz.h"
#include "gateway_priv.h"

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
check_request(const struct llm_request *req, const struct gw_ask *ask)
{
	FUZZ_CHECK(ask->model[0] != '\0');
	FUZZ_CHECK(memchr(ask->model, '\0', sizeof ask->model) != NULL);
	FUZZ_CHECK(req->n_messages >= 1 && req->messages != NULL);
	for (size_t i = 0; i < req->n_messages; i++) {
		FUZZ_CHECK(req->messages[i].parts != NULL || req->messages[i].n_parts == 0);
		FUZZ_CHECK(req->messages[i].role == LLM_ROLE_USER ||
		    req->messages[i].role == LLM_ROLE_ASSISTANT);
	}
	for (size_t i = 0; i < req->n_stop; i++)
		FUZZ_CHECK(req->stop != NULL && req->stop[i] != NULL);
	FUZZ_CHECK(!req->has_temperature || (req->temperature >= 0 && req->temperature <= 2));
	FUZZ_CHECK(!req->has_top_p || (req->top_p >= 0 && req->top_p <= 1));
	FUZZ_CHECK(req->max_tokens >= 0);
	FUZZ_CHECK(req->stream == 0 || req->stream == 1);
}

/* Each adapter builds its provider's request from req: it must, as JSON. */
static void
build_each(const struct llm_request *req)
{
	for (size_t i = 0; i < nitems(targets); i++) {
		char name[] = "p", url[] = "http://127.0.0.1:9", key[] = "k", model[] = "m";
		char *models[] = {model};
		struct provider_conf conf;
		struct adapter_http http;
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
		if (adapter_for(conf.kind)->build_request(&conf, NULL, "model-id", req, req->stream,
		        &http, &cause) != 0) {
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
		check_request(&req, &ask);
		build_each(&req);
		fuzz_refused = 0;
	}
	llm_request_free(&req);
}
