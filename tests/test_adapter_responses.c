/* test_adapter_responses.c: the Responses API adapters (OpenAI and Azure, POST .../responses). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "provider/adapter_priv.h"
#include "adapter_testutil.h"

static const struct adapter *A = &adapter_openai_responses;

/* A client's Responses body, with a field no model knows and previous_response_id. */
static const char client_body[] =
    "{\"model\":\"gpt-client-alias\",\"input\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
    "\"previous_response_id\":\"resp_old\",\"store\":false,"
    "\"include\":[\"reasoning.encrypted_content\"],\"reasoning\":{\"effort\":\"low\","
    "\"summary\":\"auto\"},\"tools\":[{\"type\":\"web_search\"}],"
    "\"future_field\":{\"x\":[1,2,3]},\"stream\":false,"
    "\"stream_options\":{\"include_obfuscation\":false}}";

static void
raw_request(struct llm_request *r, const char *body)
{
	llm_request_init(r);
	llm_request_add_message(r, LLM_ROLE_USER, "Hi");
	r->passthrough_api = LLM_API_RESPONSES;
	r->raw_body = xstrdup(body);
}

static void
test_responses_adapter_choice(void **state)
{
	struct provider_conf oa = adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://x", "k");
	struct provider_conf mi = adtest_conf(PROVIDER_OPENAI, FLAVOR_MISTRAL, "https://x", "k");
	struct provider_conf vl = adtest_conf(PROVIDER_OPENAI, FLAVOR_VLLM, "https://x", NULL);
	struct provider_conf ol = adtest_conf(PROVIDER_OPENAI, FLAVOR_OLLAMA, "https://x", NULL);
	struct provider_conf az = adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://x", "k");
	struct provider_conf an = adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "https://x", "k");
	struct llm_request r;

	(void)state;
	raw_request(&r, client_body);
	assert_ptr_equal(adapter_for_request(&oa, &r), &adapter_openai_responses);
	assert_ptr_equal(adapter_for_request(&az, &r), &adapter_azure_responses);
	assert_ptr_equal(adapter_for_request(&mi, &r), &adapter_openai);
	assert_ptr_equal(adapter_for_request(&vl, &r), &adapter_openai);
	assert_ptr_equal(adapter_for_request(&ol, &r), &adapter_ollama);
	assert_ptr_equal(adapter_for_request(&an, &r), &adapter_anthropic);
	assert_int_equal(adapter_api(&oa, &r), LLM_API_RESPONSES);
	assert_int_equal(adapter_api(&az, &r), LLM_API_RESPONSES);
	assert_int_equal(adapter_api(&mi, &r), LLM_API_OPENAI);
	assert_int_equal(adapter_api(&ol, &r), LLM_API_NONE);
	assert_int_equal(adapter_api(&an, &r), LLM_API_ANTHROPIC);
	/* No raw body, or another client API: the provider's own adapter. */
	free(r.raw_body);
	r.raw_body = NULL;
	assert_ptr_equal(adapter_for_request(&oa, &r), &adapter_openai);
	assert_int_equal(adapter_api(&az, &r), LLM_API_OPENAI);
	r.raw_body = xstrdup("{}");
	r.passthrough_api = LLM_API_OPENAI;
	assert_ptr_equal(adapter_for_request(&oa, &r), &adapter_openai);
	llm_request_free(&r);
}

static void
test_responses_build_passthrough(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://api.openai.com/v1/", "sk-test");
	struct llm_request r;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	raw_request(&r, client_body);
	body = adtest_build(A, &c, "gpt-5-mini", &r, 0, &h);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.url, "https://api.openai.com/v1/responses");
	assert_string_equal(adtest_header(&h, "Authorization"), "Bearer sk-test");
	assert_string_equal(adtest_header(&h, "content-type"), "application/json");
	assert_string_equal(adtest_header(&h, "accept"), "application/json");
	assert_string_equal(adtest_str(body, "model"), "gpt-5-mini");
	assert_null(adtest_at(body, "previous_response_id"));
	assert_null(adtest_at(body, "stream"));
	assert_null(adtest_at(body, "stream_options"));
	assert_false(cJSON_IsTrue(adtest_at(body, "store")));
	assert_non_null(adtest_at(body, "store"));
	assert_string_equal(adtest_str(body, "include.0"), "reasoning.encrypted_content");
	assert_string_equal(adtest_str(body, "reasoning.summary"), "auto");
	assert_string_equal(adtest_str(body, "tools.0.type"), "web_search");
	assert_int_equal(adtest_num(body, "future_field.x.2"), 3);
	assert_string_equal(adtest_str(body, "input.0.content"), "Hi");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* Streamed: stream true, the client's stream_options kept. */
	body = adtest_build(A, &c, "gpt-5-mini", &r, 1, &h);
	assert_true(cJSON_IsTrue(adtest_at(body, "stream")));
	assert_false(cJSON_IsTrue(adtest_at(body, "stream_options.include_obfuscation")));
	assert_string_equal(adtest_header(&h, "accept"), "text/event-stream");
	assert_null(adtest_at(body, "stream_options.include_usage"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);

	/* A body with no model or stream gets them; base without /v1. */
	raw_request(&r, "{\"input\":\"Hi\"}");
	c.base_url = (char *)"https://api.openai.com";
	body = adtest_build(A, &c, "gpt-5", &r, 1, &h);
	assert_string_equal(h.url, "https://api.openai.com/v1/responses");
	assert_string_equal(adtest_str(body, "model"), "gpt-5");
	assert_true(cJSON_IsTrue(adtest_at(body, "stream")));
	assert_string_equal(adtest_str(body, "input"), "Hi");
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_responses_build_azure(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://res.openai.azure.com/", "az-key");
	const struct adapter *az = &adapter_azure_responses;
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;
	cJSON *body;

	(void)state;
	raw_request(&r, client_body);
	/* Deployments style: no deployment in the path, it is the model. */
	body = adtest_build(az, &c, "my-deploy", &r, 0, &h);
	assert_string_equal(h.url,
	    "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview");
	assert_string_equal(adtest_header(&h, "api-key"), "az-key");
	assert_null(adtest_header(&h, "Authorization"));
	assert_string_equal(adtest_str(body, "model"), "my-deploy");
	assert_null(adtest_at(body, "previous_response_id"));
	assert_non_null(adtest_at(body, "future_field"));
	cJSON_Delete(body);
	adapter_http_free(&h);

	c.api_version = (char *)"2025-05-01-preview";
	body = adtest_build(az, &c, "my-deploy", &r, 0, &h);
	assert_string_equal(h.url,
	    "https://res.openai.azure.com/openai/responses?api-version=2025-05-01-preview");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* v1: by api_version, or by a base ending in /openai/v1. */
	c.api_version = (char *)"v1";
	body = adtest_build(az, &c, "my-deploy", &r, 1, &h);
	assert_string_equal(h.url, "https://res.openai.azure.com/openai/v1/responses");
	assert_true(cJSON_IsTrue(adtest_at(body, "stream")));
	cJSON_Delete(body);
	adapter_http_free(&h);
	c.api_version = NULL;
	c.base_url = (char *)"https://res.openai.azure.com/openai/v1";
	body = adtest_build(az, &c, "my-deploy", &r, 0, &h);
	assert_string_equal(h.url, "https://res.openai.azure.com/openai/v1/responses");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* Entra ID: the bearer from the environment, read per request. */
	c.entra_token_env = (char *)"LLMDECK_TEST_RESPONSES_TOKEN";
	setenv("LLMDECK_TEST_RESPONSES_TOKEN", "ey.token", 1);
	body = adtest_build(az, &c, "my-deploy", &r, 0, &h);
	assert_string_equal(adtest_header(&h, "Authorization"), "Bearer ey.token");
	assert_null(adtest_header(&h, "api-key"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	unsetenv("LLMDECK_TEST_RESPONSES_TOKEN");
	adtest_check(az, &c, NULL, "my-deploy", &r, "", 1);

	/* No deployment: refused with a cause. */
	assert_int_equal(az->build_request(&c, NULL, "", &r, 0, &h, &cause), -1);
	assert_non_null(strstr(cause, "deployment"));
	free(cause);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* The llm_request -> Responses body translation (no raw body). */
static void
test_responses_build_from_model(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://api.openai.com", "sk");
	struct llm_request r;
	struct llm_message *m;
	struct llm_part *p;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	llm_request_init(&r);
	r.system = xstrdup("Be brief.");
	llm_request_add_message(&r, LLM_ROLE_USER, "Weather in SF?");
	m = llm_request_new_message(&r, LLM_ROLE_ASSISTANT);
	p = llm_message_add_part(m, LLM_PART_REASONING);
	p->id = xstrdup("rs_1");
	p->text = xstrdup("Need the tool.");
	p->data = xstrdup("ENC==");
	p = llm_message_add_part(m, LLM_PART_TEXT);
	p->text = xstrdup("Checking.");
	adtest_add_tool_call(m, "call_1", "get_weather", "{\"city\":\"SF\"}");
	m = llm_request_new_message(&r, LLM_ROLE_USER);
	adtest_add_tool_result(m, "call_1", "fog", 1);
	p = llm_message_add_part(m, LLM_PART_TEXT);
	p->text = xstrdup("And ");
	p = llm_message_add_part(m, LLM_PART_IMAGE);
	p->url = xstrdup("https://example.com/a.png");
	llm_request_add_tool(&r, "get_weather", "Current weather",
	    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}");
	r.tools[0].extra = xstrdup("{\"x_extra\":1}");
	r.passthrough_api = LLM_API_RESPONSES;
	r.hosted_tools = xstrdup("[{\"type\":\"web_search\"}]");
	r.tool_choice = LLM_TOOL_CHOICE_NAMED;
	r.tool_choice_name = xstrdup("get_weather");
	r.response_format.type = LLM_FORMAT_JSON_SCHEMA;
	r.response_format.name = xstrdup("w");
	r.response_format.schema = xstrdup("{\"type\":\"object\"}");
	r.response_format.strict = 1;
	r.reasoning_effort = xstrdup("low");
	r.reasoning_summary = xstrdup("auto");
	r.max_tokens = 300;
	r.has_temperature = 1;
	r.temperature = 0.5;
	r.has_top_p = 1;
	r.top_p = 0.25;
	r.metadata = xstrdup("{\"k\":\"v\"}");
	r.user = xstrdup("u1");
	adtest_check(A, &c, NULL, "gpt-5", &r, NULL, 0);

	body = adtest_build(A, &c, "gpt-5", &r, 1, &h);
	assert_string_equal(h.url, "https://api.openai.com/v1/responses");
	assert_string_equal(adtest_str(body, "model"), "gpt-5");
	assert_string_equal(adtest_str(body, "instructions"), "Be brief.");
	assert_string_equal(adtest_str(body, "input.0.role"), "user");
	assert_string_equal(adtest_str(body, "input.0.content"), "Weather in SF?");
	assert_string_equal(adtest_str(body, "input.1.type"), "reasoning");
	assert_string_equal(adtest_str(body, "input.1.id"), "rs_1");
	assert_string_equal(adtest_str(body, "input.1.summary.0.type"), "summary_text");
	assert_string_equal(adtest_str(body, "input.1.summary.0.text"), "Need the tool.");
	assert_string_equal(adtest_str(body, "input.1.encrypted_content"), "ENC==");
	assert_string_equal(adtest_str(body, "input.2.role"), "assistant");
	assert_string_equal(adtest_str(body, "input.2.content"), "Checking.");
	assert_string_equal(adtest_str(body, "input.3.type"), "function_call");
	assert_string_equal(adtest_str(body, "input.3.call_id"), "call_1");
	assert_string_equal(adtest_str(body, "input.3.name"), "get_weather");
	assert_string_equal(adtest_str(body, "input.3.arguments"), "{\"city\":\"SF\"}");
	assert_string_equal(adtest_str(body, "input.4.type"), "function_call_output");
	assert_string_equal(adtest_str(body, "input.4.call_id"), "call_1");
	assert_string_equal(adtest_str(body, "input.4.output"), "[tool error] fog");
	assert_string_equal(adtest_str(body, "input.5.role"), "user");
	assert_string_equal(adtest_str(body, "input.5.content.0.type"), "input_text");
	assert_string_equal(adtest_str(body, "input.5.content.0.text"), "And ");
	assert_string_equal(adtest_str(body, "input.5.content.1.type"), "input_image");
	assert_string_equal(adtest_str(body, "input.5.content.1.image_url"),
	    "https://example.com/a.png");
	assert_null(adtest_at(body, "input.6"));
	assert_string_equal(adtest_str(body, "tools.0.type"), "function");
	assert_string_equal(adtest_str(body, "tools.0.name"), "get_weather");
	assert_string_equal(adtest_str(body, "tools.0.description"), "Current weather");
	assert_string_equal(adtest_str(body, "tools.0.parameters.type"), "object");
	assert_true(cJSON_IsFalse(adtest_at(body, "tools.0.strict")));
	assert_int_equal(adtest_num(body, "tools.0.x_extra"), 1);
	assert_null(adtest_at(body, "tools.0.function"));
	assert_string_equal(adtest_str(body, "tools.1.type"), "web_search");
	assert_string_equal(adtest_str(body, "tool_choice.type"), "function");
	assert_string_equal(adtest_str(body, "tool_choice.name"), "get_weather");
	assert_string_equal(adtest_str(body, "text.format.type"), "json_schema");
	assert_string_equal(adtest_str(body, "text.format.name"), "w");
	assert_string_equal(adtest_str(body, "text.format.schema.type"), "object");
	assert_true(cJSON_IsTrue(adtest_at(body, "text.format.strict")));
	assert_string_equal(adtest_str(body, "reasoning.effort"), "low");
	assert_string_equal(adtest_str(body, "reasoning.summary"), "auto");
	assert_int_equal(adtest_num(body, "max_output_tokens"), 300);
	assert_true(adtest_num(body, "temperature") == 0.5);
	assert_true(adtest_num(body, "top_p") == 0.25);
	assert_string_equal(adtest_str(body, "metadata.k"), "v");
	assert_string_equal(adtest_str(body, "user"), "u1");
	assert_true(cJSON_IsTrue(adtest_at(body, "stream")));
	assert_null(adtest_at(body, "messages"));
	assert_null(adtest_at(body, "max_tokens"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_responses_check(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://x", "k");
	struct llm_request r;

	(void)state;
	adtest_request(&r, "Hi");
	r.top_k = 5;
	adtest_check(A, &c, NULL, "gpt-5", &r, "top_k", 1);
	r.top_k = 0;
	r.n_stop = 1;
	r.stop = xcalloc(1, sizeof *r.stop);
	r.stop[0] = xstrdup("###");
	adtest_check(A, &c, NULL, "gpt-5", &r, "stop", 2);
	free(r.stop[0]);
	free(r.stop);
	r.stop = NULL;
	r.n_stop = 0;
	r.has_seed = 1;
	adtest_check(A, &c, NULL, "gpt-5", &r, "seed", 3);
	r.has_seed = 0;
	r.thinking_budget = 1024;
	adtest_check(A, &c, NULL, "gpt-5", &r, "thinking", 4);
	r.thinking_budget = 0;
	r.has_temperature = 1;
	r.temperature = 3;
	adtest_check(A, &c, NULL, "gpt-5", &r, "temperature", 5);
	r.has_temperature = 0;
	adtest_check(A, &c, NULL, "gpt-5", &r, NULL, 6);
	/* A pass-through request is the client's: only its body's shape counts. */
	r.top_k = 5;
	r.raw_body = xstrdup("{\"input\":\"Hi\"}");
	adtest_check(A, &c, NULL, "gpt-5", &r, NULL, 7);
	free(r.raw_body);
	r.raw_body = xstrdup("[1]");
	adtest_check(A, &c, NULL, "gpt-5", &r, "", 8);
	llm_request_free(&r);
}

static const char parse_text[] =
    "{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"gpt-5-2025-08-07\","
    "\"status\":\"completed\",\"error\":null,\"incomplete_details\":null,\"output\":["
    "{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\","
    "\"text\":\"First.\"},{\"type\":\"summary_text\",\"text\":\"Second.\"}],"
    "\"encrypted_content\":\"gAAAA==\"},"
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"status\":\"completed\","
    "\"content\":[{\"type\":\"output_text\",\"text\":\"Hello \",\"annotations\":[]},"
    "{\"type\":\"output_text\",\"text\":\"there.\",\"annotations\":[]}]},"
    "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"}],"
    "\"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":64},"
    "\"output_tokens\":50,\"output_tokens_details\":{\"reasoning_tokens\":30},"
    "\"total_tokens\":150}}";

static void
test_responses_parse_text(void **state)
{
	struct llm_response out;
	struct llm_error err;

	(void)state;
	llm_response_init(&out);
	assert_int_equal(A->parse_response(parse_text, strlen(parse_text), &out, &err), 0);
	assert_string_equal(out.id, "resp_1");
	assert_string_equal(out.model, "gpt-5-2025-08-07");
	assert_string_equal(out.content, "Hello there.");
	assert_int_equal(out.n_parts, 2);
	assert_int_equal(out.parts[0].type, LLM_PART_REASONING);
	assert_string_equal(out.parts[0].id, "rs_1");
	assert_string_equal(out.parts[0].text, "First.\n\nSecond.");
	assert_string_equal(out.parts[0].data, "gAAAA==");
	assert_int_equal(out.parts[1].type, LLM_PART_TEXT);
	assert_string_equal(out.parts[1].text, "Hello there.");
	assert_int_equal(out.stop, LLM_STOP_END);
	assert_string_equal(out.stop_raw, "completed");
	assert_int_equal(out.usage.input_tokens, 100);
	assert_int_equal(out.usage.cache_read_tokens, 64);
	assert_true(out.usage.has_cache_detail);
	assert_int_equal(out.usage.output_tokens, 50);
	assert_int_equal(out.usage.reasoning_tokens, 30);
	llm_response_free(&out);
}

static void
test_responses_parse_calls_incomplete(void **state)
{
	static const char calls[] =
	    "{\"id\":\"resp_2\",\"status\":\"completed\",\"output\":["
	    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_a\",\"name\":\"f\","
	    "\"arguments\":\"{\\\"a\\\":1}\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_2\",\"call_id\":\"call_b\",\"name\":\"g\","
	    "\"arguments\":\"{}\"}]}";
	static const char incomplete[] =
	    "{\"id\":\"resp_3\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
	    "\"max_output_tokens\"},\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
	    "\"output_text\",\"text\":\"Cut\"}]}],\"usage\":{\"input_tokens\":-5,"
	    "\"output_tokens\":1e300}}";
	static const char filtered[] =
	    "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"content_filter\"},"
	    "\"output\":[]}";
	static const char refusal[] =
	    "{\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
	    "\"refusal\",\"refusal\":\"I can't help with that.\"}]}]}";
	struct llm_response out;
	struct llm_error err;

	(void)state;
	llm_response_init(&out);
	assert_int_equal(A->parse_response(calls, strlen(calls), &out, &err), 0);
	assert_string_equal(out.content, "");
	assert_int_equal(out.n_parts, 2);
	assert_int_equal(out.parts[0].type, LLM_PART_TOOL_CALL);
	assert_string_equal(out.parts[0].id, "call_a");
	assert_string_equal(out.parts[0].name, "f");
	assert_string_equal(out.parts[0].arguments, "{\"a\":1}");
	assert_int_equal(out.parts[0].index, 0);
	assert_string_equal(out.parts[1].id, "call_b");
	assert_int_equal(out.parts[1].index, 1);
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(incomplete, strlen(incomplete), &out, &err), 0);
	assert_string_equal(out.content, "Cut");
	assert_int_equal(out.stop, LLM_STOP_MAX_TOKENS);
	assert_string_equal(out.stop_raw, "max_output_tokens");
	assert_int_equal(out.usage.input_tokens, 0); /* hostile counts not counted */
	assert_int_equal(out.usage.output_tokens, 0);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(filtered, strlen(filtered), &out, &err), 0);
	assert_int_equal(out.stop, LLM_STOP_CONTENT_FILTER);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(refusal, strlen(refusal), &out, &err), 0);
	assert_string_equal(out.content, "I can't help with that.");
	assert_int_equal(out.stop, LLM_STOP_CONTENT_FILTER);
	llm_response_free(&out);
}

static void
test_responses_parse_malformed(void **state)
{
	static const struct {
		const char *body, *msg;
	} cases[] = {
	    {"not json", "not JSON"},
	    {"[1]", "not a JSON object"},
	    {"{\"id\":\"r\"}", "no output array"},
	    {"{\"output\":{}}", "no output array"},
	    {"{\"output\":[1]}", "output[0] is not a typed object"},
	    {"{\"output\":[{\"type\":\"message\",\"content\":\"x\"}]}",
	        "output[0].content is not an array"},
	    {"{\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\","
	     "\"text\":5}]}]}",
	        "output[0].content[0] has no text"},
	    {"{\"output\":[{\"type\":\"reasoning\"},{\"type\":\"function_call\"}]}",
	        "output[1] is a function_call without a name"},
	    {"{\"error\":{\"code\":\"server_error\",\"message\":\"boom\"},\"output\":[]}", "boom"},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		adtest_expect_malformed(A, cases[i].body, cases[i].msg, i);
}

/* A recorded-shape stream: reasoning with a two-part summary, text, two calls. */
static const char stream_events[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_9\","
    "\"model\":\"gpt-5-mini\",\"status\":\"in_progress\",\"output\":[]}}\n\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"response\":{\"id\":\"resp_9\"}}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"rs_9\","
    "\"type\":\"reasoning\",\"summary\":[]}}\n\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"output_index\":0,"
    "\"summary_index\":0}\n\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,"
    "\"delta\":\"Think \"}\n\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,"
    "\"delta\":\"one.\"}\n\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"output_index\":0,"
    "\"summary_index\":1}\n\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,"
    "\"delta\":\"Two.\"}\n\n"
    "data: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"rs_9\","
    "\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"Think one.\"},"
    "{\"type\":\"summary_text\",\"text\":\"Two.\"}],\"encrypted_content\":\"ENC9\"}}\n\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"id\":\"msg_9\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n"
    "data: {\"type\":\"response.content_part.added\",\"output_index\":1,\"content_index\":0}\n\n"
    "data: {\"type\":\"response.output_text.delta\",\"output_index\":1,\"content_index\":0,"
    "\"delta\":\"Hel\"}\n\n"
    "data: {\"type\":\"response.output_text.delta\",\"output_index\":1,\"content_index\":0,"
    "\"delta\":\"lo \\u00e9\"}\n\n"
    "data: {\"type\":\"response.output_text.done\",\"output_index\":1,\"text\":\"Hello \\u00e9\"}"
    "\n\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":2,\"item\":{\"id\":\"fc_1\","
    "\"type\":\"function_call\",\"call_id\":\"call_x\",\"name\":\"get_weather\","
    "\"arguments\":\"\"}}\n\n"
    "data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":2,"
    "\"delta\":\"{\\\"city\\\":\"}\n\n"
    "data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":2,"
    "\"delta\":\"\\\"SF\\\"}\"}\n\n"
    "data: {\"type\":\"response.output_item.done\",\"output_index\":2,\"item\":{\"id\":\"fc_1\","
    "\"type\":\"function_call\",\"call_id\":\"call_x\",\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"city\\\":\\\"SF\\\"}\"}}\n\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":3,\"item\":{\"id\":\"fc_2\","
    "\"type\":\"function_call\",\"call_id\":\"call_y\",\"name\":\"get_time\"}}\n\n"
    "data: {\"type\":\"response.output_item.done\",\"output_index\":3,\"item\":{\"id\":\"fc_2\","
    "\"type\":\"function_call\",\"call_id\":\"call_y\",\"name\":\"get_time\","
    "\"arguments\":\"{}\"}}\n\n"
    "data: {\"type\":\"response.some_future_event\",\"x\":1}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_9\","
    "\"model\":\"gpt-5-mini-2025\",\"status\":\"completed\",\"usage\":{\"input_tokens\":20,"
    "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":40,"
    "\"output_tokens_details\":{\"reasoning_tokens\":16}}}}\n\n";

static const char stream_trace[] = "thinking 0: Think \n"
                                   "thinking 0: one.\n"
                                   "thinking 0: \n\n\n"
                                   "thinking 0: Two.\n"
                                   "reasoning 0 rs_9: ENC9\n"
                                   "text 1: Hel\n"
                                   "text 1: lo \xc3\xa9\n"
                                   "call 2 #0 call_x get_weather\n"
                                   "args 2 #0: {\"city\":\n"
                                   "args 2 #0: \"SF\"}\n"
                                   "call 3 #1 call_y get_time\n"
                                   "args 3 #1: {}\n";

static void
test_responses_stream(void **state)
{
	struct adtest_stream whole, chunked;
	size_t len = strlen(stream_events);

	(void)state;
	adtest_run_stream(A, stream_events, len, 0, &whole);
	assert_int_equal(whole.feed_rc, 1);
	assert_int_equal(whole.finish_rc, 2); /* ended: not called */
	assert_string_equal(whole.trace.data, stream_trace);
	assert_string_equal(whole.acc.content, "Hello \xc3\xa9");
	assert_string_equal(whole.acc.id, "resp_9");
	assert_string_equal(whole.acc.model, "gpt-5-mini");
	assert_int_equal(whole.acc.n_parts, 4);
	assert_int_equal(whole.acc.parts[0].type, LLM_PART_REASONING);
	assert_string_equal(whole.acc.parts[0].id, "rs_9");
	assert_string_equal(whole.acc.parts[0].text, "Think one.\n\nTwo.");
	assert_string_equal(whole.acc.parts[0].data, "ENC9");
	assert_string_equal(whole.acc.parts[2].arguments, "{\"city\":\"SF\"}");
	assert_string_equal(whole.acc.parts[3].arguments, "{}");
	assert_int_equal(whole.acc.stop, LLM_STOP_TOOL_USE);
	assert_int_equal(whole.acc.usage.input_tokens, 20);
	assert_int_equal(whole.acc.usage.output_tokens, 40);
	assert_int_equal(whole.acc.usage.reasoning_tokens, 16);
	assert_true(whole.acc.usage.has_cache_detail);

	/* Random chunk sizes (a fixed seed: reproducible) give the same trace. */
	srand(1234);
	for (int round = 0; round < 40; round++) {
		size_t chunk = 1 + (size_t)rand() % 97;
		adtest_run_stream(A, stream_events, len, chunk, &chunked);
		assert_int_equal(chunked.feed_rc, 1);
		assert_string_equal(chunked.trace.data, whole.trace.data);
		assert_string_equal(chunked.acc.content, whole.acc.content);
		assert_int_equal(chunked.acc.stop, whole.acc.stop);
		assert_memory_equal(&chunked.acc.usage, &whole.acc.usage, sizeof whole.acc.usage);
		adtest_stream_free(&chunked);
	}
	adtest_stream_free(&whole);
}

static void
test_responses_stream_incomplete(void **state)
{
	static const char ev[] =
	    "data: "
	    "{\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"ab\"}\n\n"
	    "data: {\"type\":\"response.incomplete\",\"response\":{\"id\":\"r\",\"status\":"
	    "\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n";
	static const char refusal[] =
	    "data: {\"type\":\"response.refusal.delta\",\"output_index\":0,\"delta\":\"No.\"}\n\n"
	    "data: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\"}}\n\n";
	struct adtest_stream r;

	(void)state;
	adtest_run_stream(A, ev, strlen(ev), 0, &r);
	assert_int_equal(r.feed_rc, 1);
	assert_string_equal(r.acc.content, "ab");
	assert_int_equal(r.acc.stop, LLM_STOP_MAX_TOKENS);
	adtest_stream_free(&r);

	adtest_run_stream(A, refusal, strlen(refusal), 0, &r);
	assert_int_equal(r.feed_rc, 1);
	assert_string_equal(r.acc.content, "No.");
	assert_int_equal(r.acc.stop, LLM_STOP_CONTENT_FILTER);
	adtest_stream_free(&r);
}

static void
test_responses_stream_errors(void **state)
{
	static const char rate[] =
	    "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"a\"}\n\n"
	    "event: error\n"
	    "data: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"Slow down\","
	    "\"param\":null}\n\n";
	static const char failed[] =
	    "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{"
	    "\"code\":\"server_error\",\"message\":\"The model failed\"}}}\n\n";
	static const char failed_bare[] =
	    "data: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\"}}\n\n";
	static const char cut[] =
	    "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n"
	    "data: "
	    "{\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"a\"}\n\n";
	static const char garbage[] = "data: {not json\n\n";
	static const char args_no_call[] =
	    "data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":0,"
	    "\"delta\":\"{}\"}\n\n";
	struct adtest_stream r;

	(void)state;
	adtest_run_stream(A, rate, strlen(rate), 7, &r);
	assert_int_equal(r.feed_rc, -1);
	assert_int_equal(r.err.cls, LLM_ERR_RATE_LIMIT);
	assert_non_null(strstr(r.err.message, "Slow down"));
	assert_string_equal(r.acc.content, "a");
	adtest_stream_free(&r);

	adtest_run_stream(A, failed, strlen(failed), 0, &r);
	assert_int_equal(r.feed_rc, -1);
	assert_int_equal(r.err.cls, LLM_ERR_SERVER);
	assert_non_null(strstr(r.err.message, "The model failed"));
	adtest_stream_free(&r);

	adtest_run_stream(A, failed_bare, strlen(failed_bare), 0, &r);
	assert_int_equal(r.feed_rc, -1);
	assert_int_equal(r.err.cls, LLM_ERR_SERVER);
	assert_non_null(strstr(r.err.message, "no error given"));
	adtest_stream_free(&r);

	adtest_run_stream(A, cut, strlen(cut), 5, &r);
	assert_int_equal(r.feed_rc, 0);
	assert_int_equal(r.finish_rc, -1);
	assert_int_equal(r.err.cls, LLM_ERR_STREAM);
	assert_non_null(strstr(r.err.message, "response.completed"));
	adtest_stream_free(&r);

	adtest_run_stream(A, garbage, strlen(garbage), 0, &r);
	assert_int_equal(r.feed_rc, -1);
	assert_int_equal(r.err.cls, LLM_ERR_MALFORMED);
	adtest_stream_free(&r);

	adtest_run_stream(A, args_no_call, strlen(args_no_call), 0, &r);
	assert_int_equal(r.feed_rc, -1);
	assert_non_null(strstr(r.err.message, "not a function call"));
	adtest_stream_free(&r);
}

/* Errors and probes are the chat adapters'. */
static void
test_responses_errors_probe(void **state)
{
	static const char body[] =
	    "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
	    "\"code\":\"rate_limit_exceeded\"}}";
	struct provider_conf oa = adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://x/v1", "k");
	struct provider_conf az = adtest_conf(PROVIDER_AZURE, FLAVOR_OPENAI, "https://r", "k");
	struct http_headers h = {0};
	struct adapter_http p;
	struct llm_error err;
	char *cause = NULL;

	(void)state;
	adtest_headers_add(&h, "retry-after", "3");
	adapter_azure_responses.classify_error(429, &h, body, strlen(body), &err);
	assert_int_equal(err.cls, LLM_ERR_RATE_LIMIT);
	assert_int_equal(err.retry_after_ms, 3000);
	A->classify_error(500, &h, body, strlen(body), &err);
	assert_int_equal(err.cls, LLM_ERR_SERVER);
	adtest_headers_free(&h);

	assert_int_equal(A->build_probe(&oa, &p, &cause), 0);
	assert_string_equal(p.url, "https://x/v1/models");
	adapter_http_free(&p);
	assert_int_equal(adapter_azure_responses.build_probe(&az, &p, &cause), 0);
	assert_non_null(strstr(p.url, "https://r/openai/models?api-version="));
	adapter_http_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_responses_adapter_choice),
	    cmocka_unit_test(test_responses_build_passthrough),
	    cmocka_unit_test(test_responses_build_azure),
	    cmocka_unit_test(test_responses_build_from_model),
	    cmocka_unit_test(test_responses_check),
	    cmocka_unit_test(test_responses_parse_text),
	    cmocka_unit_test(test_responses_parse_calls_incomplete),
	    cmocka_unit_test(test_responses_parse_malformed),
	    cmocka_unit_test(test_responses_stream),
	    cmocka_unit_test(test_responses_stream_incomplete),
	    cmocka_unit_test(test_responses_stream_errors),
	    cmocka_unit_test(test_responses_errors_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
