/* test_adapter_azure.c: Azure OpenAI deployments, api-version and its error shapes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "provider/adapter_embed.h"
#include "adapter_testutil.h"

static const struct adapter *A = &adapter_azure;

#define FILTERS \
	"{\"hate\":{\"filtered\":false,\"severity\":\"safe\"},\"self_harm\":" \
	"{\"filtered\":false,\"severity\":\"safe\"},\"sexual\":{\"filtered\":false," \
	"\"severity\":\"safe\"},\"violence\":{\"filtered\":false,\"severity\":\"safe\"}}"

static void
test_azure_build(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://myres.openai.azure.com/", "az-key");
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;
	cJSON *body, *m;

	(void)state;
	llm_request_init(&r);
	r.system = xstrdup("sys");
	llm_request_add_message(&r, LLM_ROLE_USER, "Hello");
	r.has_temperature = 1;
	r.temperature = 0;

	assert_int_equal(A->build_request(&c, NULL, "gpt4o-prod", &r, 0, &h, &cause), 0);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.url,
	    "https://myres.openai.azure.com/openai/deployments/gpt4o-prod/"
	    "chat/completions?api-version=2024-10-21");
	assert_string_equal(adtest_header(&h, "api-key"), "az-key");
	assert_string_equal(adtest_header(&h, "content-type"), "application/json");
	assert_null(adtest_header(&h, "authorization"));
	body = cJSON_ParseWithLength(h.body, h.body_len);
	assert_non_null(body);
	assert_null(cJSON_GetObjectItem(body, "model"));
	/* No limit asked: none sent (no injected cap). */
	assert_null(cJSON_GetObjectItem(body, "max_tokens"));
	assert_null(cJSON_GetObjectItem(body, "max_completion_tokens"));
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "system");
	assert_null(cJSON_GetObjectItem(body, "stream"));
	assert_null(cJSON_GetObjectItem(body, "stream_options"));
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* Streaming, another api-version, no key, a deployment name needing escapes. */
	c.api_version = (char *)"2025-01-01-preview";
	c.api_key = NULL;
	assert_int_equal(A->build_request(&c, NULL, "my dep", &r, 1, &h, &cause), 0);
	assert_string_equal(h.url,
	    "https://myres.openai.azure.com/openai/deployments/my%20dep/"
	    "chat/completions?api-version=2025-01-01-preview");
	assert_null(adtest_header(&h, "api-key"));
	body = cJSON_ParseWithLength(h.body, h.body_len);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "stream_options"),
	    "include_usage")));
	cJSON_Delete(body);
	adapter_http_free(&h);

	assert_int_equal(A->build_request(&c, NULL, NULL, &r, 0, &h, &cause), -1);
	assert_non_null(strstr(cause, "deployment"));
	free(cause);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_azure_parse(void **state)
{
	const char *body =
	    "{\"choices\":[{\"content_filter_results\":" FILTERS ",\"finish_reason\":"
	    "\"stop\",\"index\":0,\"logprobs\":null,\"message\":{\"content\":"
	    "\"Hello! How can I help?\",\"refusal\":null,\"role\":\"assistant\"}}],"
	    "\"created\":1730000000,\"id\":\"chatcmpl-AZ1\",\"model\":\"gpt-4o-2024-08-06\","
	    "\"object\":\"chat.completion\",\"prompt_filter_results\":[{\"prompt_index\":0,"
	    "\"content_filter_results\":" FILTERS "}],\"system_fingerprint\":\"fp_1\","
	    "\"usage\":{\"completion_tokens\":7,\"prompt_tokens\":12,\"total_tokens\":19,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":0}}}";
	const char *filtered = "{\"choices\":[{\"finish_reason\":\"content_filter\",\"index\":0,"
	                       "\"message\":{\"role\":\"assistant\"}}],\"id\":\"x\"}";
	struct llm_response out;
	struct llm_error err;

	(void)state;
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, strlen(body), &out, &err), 0);
	assert_string_equal(out.content, "Hello! How can I help?");
	assert_string_equal(out.id, "chatcmpl-AZ1");
	assert_string_equal(out.model, "gpt-4o-2024-08-06");
	assert_int_equal(out.stop, LLM_STOP_END);
	assert_int_equal(out.usage.input_tokens, 12);
	assert_int_equal(out.usage.output_tokens, 7);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(filtered, strlen(filtered), &out, &err), 0);
	assert_string_equal(out.content, "");
	assert_int_equal(out.stop, LLM_STOP_CONTENT_FILTER);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, strlen(body) / 2, &out, &err), -1);
	assert_int_equal(err.cls, LLM_ERR_MALFORMED);
	llm_response_free(&out);
}

static void
test_azure_stream(void **state)
{
	/* The first chunk has no choices (prompt filter results) and empty id and model. */
	const char *s =
	    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\","
	    "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":" FILTERS
	    "}]}\n\n"
	    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\"\","
	    "\"role\":\"assistant\"},\"finish_reason\":null,\"index\":0}],\"created\":1,"
	    "\"id\":\"chatcmpl-AZ2\",\"model\":\"gpt-4o-2024-08-06\",\"object\":\"chat.completion."
	    "chunk\"}\n\n"
	    "data: {\"choices\":[{\"content_filter_results\":" FILTERS ",\"delta\":{\"content\":"
	    "\"Hi\"},\"finish_reason\":null,\"index\":0}],\"id\":\"chatcmpl-AZ2\"}\n\n"
	    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{\"content\":\" there\"},"
	    "\"finish_reason\":null,\"index\":0}],\"id\":\"chatcmpl-AZ2\"}\n\n"
	    "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{},\"finish_reason\":"
	    "\"stop\",\"index\":0}],\"id\":\"chatcmpl-AZ2\"}\n\n"
	    "data: {\"choices\":[],\"id\":\"chatcmpl-AZ2\",\"usage\":{\"completion_tokens\":2,"
	    "\"prompt_tokens\":9,\"total_tokens\":11}}\n\n"
	    "data: [DONE]\n\n";
	size_t chunks[] = {1, 7, 0};
	struct adtest_stream st;

	(void)state;
	for (size_t c = 0; c < nitems(chunks); c++) {
		adtest_run_stream(A, s, strlen(s), chunks[c], &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.text.data, "Hi there");
		assert_int_equal(st.n_deltas, 2);
		assert_string_equal(st.acc.id, "chatcmpl-AZ2");
		assert_string_equal(st.acc.model, "gpt-4o-2024-08-06");
		assert_int_equal(st.acc.stop, LLM_STOP_END);
		assert_int_equal(st.acc.usage.input_tokens, 9);
		assert_int_equal(st.acc.usage.output_tokens, 2);
		adtest_stream_free(&st);
	}
}

static void
test_azure_classify(void **state)
{
	const char *r429 =
	    "{\"error\":{\"code\":\"429\",\"message\":\"Requests to the "
	    "ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
	    "have exceeded token rate limit of your current OpenAI S0 pricing tier. "
	    "Please retry after 86400 seconds. Please go here: https://aka.ms/oai/quotaincrease "
	    "if you would like to further increase the default rate limit.\"}}";
	const char *dnf = "{\"error\":{\"code\":\"DeploymentNotFound\",\"message\":\"The API "
	                  "deployment for this resource does not exist.\"}}";
	const char *cf = "{\"error\":{\"message\":\"The response was filtered\",\"type\":null,"
	                 "\"param\":\"prompt\",\"code\":\"content_filter\",\"status\":400,"
	                 "\"innererror\":{\"code\":\"ResponsibleAIPolicyViolation\"}}}";
	const char *auth = "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to "
	                   "invalid subscription key or wrong API endpoint.\"}}";
	struct http_headers h = {0};
	struct llm_error err;

	(void)state;
	A->classify_error(429, NULL, r429, strlen(r429), &err);
	assert_int_equal(err.cls, LLM_ERR_RATE_LIMIT);
	assert_true(err.retryable);
	assert_string_equal(err.type, "429");
	assert_int_equal(err.retry_after_ms, 86400000);
	assert_true(strncmp(err.message, "Requests to the ChatCompletions_Create", 38) == 0);

	/* A retry-after header wins over the hint in the message. */
	adtest_headers_add(&h, "retry-after", "10");
	A->classify_error(429, &h, r429, strlen(r429), &err);
	assert_int_equal(err.retry_after_ms, 10000);
	adtest_headers_free(&h);

	A->classify_error(404, NULL, dnf, strlen(dnf), &err);
	assert_int_equal(err.cls, LLM_ERR_NOT_FOUND);
	assert_int_equal(err.retryable, 0);
	assert_string_equal(err.type, "DeploymentNotFound");
	assert_string_equal(err.message, "The API deployment for this resource does not exist.");
	assert_int_equal(err.retry_after_ms, -1);

	A->classify_error(400, NULL, cf, strlen(cf), &err);
	assert_int_equal(err.cls, LLM_ERR_BAD_REQUEST);
	assert_string_equal(err.type, "content_filter");
	assert_string_equal(err.message, "The response was filtered");

	A->classify_error(401, NULL, auth, strlen(auth), &err);
	assert_int_equal(err.cls, LLM_ERR_AUTH);
	assert_string_equal(err.type, "401");

	A->classify_error(500, NULL, "", 0, &err);
	assert_int_equal(err.cls, LLM_ERR_SERVER);
	assert_string_equal(err.message, "HTTP 500 with an empty body");
	assert_int_equal(err.retry_after_ms, -1);

	/* Azure streams an error chunk with a string code. */
	const char *s = "data: {\"error\":{\"code\":\"429\",\"message\":\"Please retry after 3 "
	                "seconds.\"}}\n\n";
	struct adtest_stream st;
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_RATE_LIMIT);
	assert_string_equal(st.err.type, "429");
	adtest_stream_free(&st);
}

static void
test_azure_probe(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://myres.openai.azure.com", "az-key");
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	assert_int_equal(A->build_probe(&c, &h, &cause), 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.url,
	    "https://myres.openai.azure.com/openai/models?api-version=2024-10-21");
	assert_string_equal(adtest_header(&h, "api-key"), "az-key");
	adapter_http_free(&h);

	c.base_url = NULL;
	assert_int_equal(A->build_probe(&c, &h, &cause), -1);
	assert_non_null(strstr(cause, "base_url"));
	free(cause);
	adapter_http_free(&h);
}

/* Output limits go as max_completion_tokens, never max_tokens (o-series deployments
 * refuse it: 400 "Unsupported parameter: 'max_tokens'"). */
static void
test_azure_max_completion_tokens(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://myres.openai.azure.com", "k");
	struct llm_request r;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	adtest_request(&r, "hi");
	r.max_tokens = 300;
	body = adtest_build(A, &c, "o3-mini", &r, 0, &h);
	assert_int_equal((int)adtest_num(body, "max_completion_tokens"), 300);
	assert_null(adtest_at(body, "max_tokens"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* The v1 API: api_version "v1", or a base URL already ending in /openai/v1. */
static void
test_azure_v1_path(void **state)
{
	static const char *const bases[] = {"https://myres.openai.azure.com",
	    "https://myres.openai.azure.com/openai/v1",
	    "https://myres.openai.azure.com/openai/v1/"};
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;
	cJSON *body;

	(void)state;
	adtest_request(&r, "hi");
	for (size_t i = 0; i < nitems(bases); i++) {
		struct provider_conf c = adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, bases[i], "k");
		c.api_version = (char *)(i == 0 ? "v1" : "2024-10-21");
		body = adtest_build(A, &c, "gpt4o-prod", &r, 1, &h);
		assert_string_equal(h.url,
		    "https://myres.openai.azure.com/openai/v1/chat/completions");
		/* The deployment goes as the model. */
		assert_string_equal(adtest_str(body, "model"), "gpt4o-prod");
		assert_string_equal(adtest_header(&h, "api-key"), "k");
		cJSON_Delete(body);
		adapter_http_free(&h);
		assert_int_equal(A->build_probe(&c, &h, &cause), 0);
		assert_string_equal(h.url, "https://myres.openai.azure.com/openai/v1/models");
		adapter_http_free(&h);
	}
	llm_request_free(&r);
}

/* Microsoft Entra ID: a bearer token from the variable entra_token_env names, read at
 * every request so a refreshed token is used at once; no api-key then. */
static void
test_azure_entra_token(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://myres.openai.azure.com", "k");
	struct llm_request r;
	struct adapter_http h;
	struct llm_error why;
	char *cause = NULL;
	cJSON *body;

	(void)state;
	c.entra_token_env = (char *)"LLMDECK_TEST_ENTRA_TOKEN";
	adtest_request(&r, "hi");
	setenv("LLMDECK_TEST_ENTRA_TOKEN", "eyJ0eXAi.first", 1);
	adtest_check(A, &c, NULL, "dep", &r, NULL, 0);
	body = adtest_build(A, &c, "dep", &r, 0, &h);
	assert_string_equal(adtest_header(&h, "authorization"), "Bearer eyJ0eXAi.first");
	assert_null(adtest_header(&h, "api-key"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	/* Refreshed by the operator: the next request has the new one. */
	setenv("LLMDECK_TEST_ENTRA_TOKEN", "eyJ0eXAi.second", 1);
	body = adtest_build(A, &c, "dep", &r, 0, &h);
	assert_string_equal(adtest_header(&h, "authorization"), "Bearer eyJ0eXAi.second");
	cJSON_Delete(body);
	adapter_http_free(&h);
	/* Health probes carry it too. */
	assert_int_equal(A->build_probe(&c, &h, &cause), 0);
	assert_string_equal(adtest_header(&h, "authorization"), "Bearer eyJ0eXAi.second");
	adapter_http_free(&h);
	/* Gone, or not one line: the provider is skipped with the reason. */
	setenv("LLMDECK_TEST_ENTRA_TOKEN", "two\nlines", 1);
	assert_int_equal(A->check_request(&c, NULL, "dep", &r, &why), -1);
	unsetenv("LLMDECK_TEST_ENTRA_TOKEN");
	assert_int_equal(A->check_request(&c, NULL, "dep", &r, &why), -1);
	assert_non_null(strstr(why.message, "LLMDECK_TEST_ENTRA_TOKEN"));
	llm_request_free(&r);
}

/* Embeddings follow the chat adapter's URL and auth rules: the deployment path or
 * the v1 path (model in the body), api-key or the Entra ID bearer. */
static void
test_azure_embeddings_request(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI,
	    "https://myres.openai.azure.com/openai", "k");
	const struct adapter_embed *e = adapter_embed_for(&c);
	struct embed_request req = {"\"hello\"", 0, NULL};
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	assert_non_null(e);
	assert_int_equal(e->build(&c, "emb-dep", &req, &h, &cause), 0);
	assert_non_null(strstr(h.url,
	    "https://myres.openai.azure.com/openai/deployments/emb-dep/"
	    "embeddings?api-version="));
	assert_string_equal(adtest_header(&h, "api-key"), "k");
	assert_null(strstr(h.body, "\"model\""));
	adapter_http_free(&h);

	c.api_version = (char *)"v1";
	c.entra_token_env = (char *)"LLMDECK_TEST_ENTRA_TOKEN";
	setenv("LLMDECK_TEST_ENTRA_TOKEN", "eyJ0eXAi.emb", 1);
	assert_int_equal(e->build(&c, "emb-dep", &req, &h, &cause), 0);
	assert_string_equal(h.url, "https://myres.openai.azure.com/openai/v1/embeddings");
	assert_string_equal(adtest_header(&h, "authorization"), "Bearer eyJ0eXAi.emb");
	assert_null(adtest_header(&h, "api-key"));
	assert_non_null(strstr(h.body, "\"model\":\"emb-dep\""));
	adapter_http_free(&h);
	unsetenv("LLMDECK_TEST_ENTRA_TOKEN");
}

/* Azure's API has no top_k, no metadata (GA 2024-10-21), takes the rest as OpenAI does. */
static void
test_azure_check(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://h", "k");
	struct llm_request r;

	(void)state;
	adtest_request(&r, "x");
	r.top_k = 3;
	adtest_check(A, &c, NULL, "d", &r, "top_k", 0);
	r.top_k = 0;
	r.metadata = xstrdup("{\"a\":\"b\"}");
	adtest_check(A, &c, NULL, "d", &r, "metadata", 1);
	free(r.metadata);
	r.metadata = NULL;
	r.has_seed = 1;
	r.reasoning_effort = xstrdup("high");
	r.response_format.type = LLM_FORMAT_JSON_OBJECT;
	adtest_check(A, &c, NULL, "d", &r, NULL, 2);
	llm_request_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_azure_build),
	    cmocka_unit_test(test_azure_parse),
	    cmocka_unit_test(test_azure_stream),
	    cmocka_unit_test(test_azure_classify),
	    cmocka_unit_test(test_azure_probe),
	    cmocka_unit_test(test_azure_max_completion_tokens),
	    cmocka_unit_test(test_azure_v1_path),
	    cmocka_unit_test(test_azure_entra_token),
	    cmocka_unit_test(test_azure_embeddings_request),
	    cmocka_unit_test(test_azure_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
