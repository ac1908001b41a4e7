/*
 * test_adapter_ollama.c: the ollama flavor's native API (/api/chat) against
 * Ollama's documented requests and responses: options.num_ctx and keep_alive
 * from the provider's config, images, tools, JSON mode, thinking, NDJSON
 * streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "adapter_testutil.h"

static const struct adapter *A = &adapter_ollama;

static void
test_ollama_for_provider(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OLLAMA, "http://h:11434", NULL);

	(void)state;
	assert_ptr_equal(adapter_for_provider(&c), &adapter_ollama);
	c.flavor = FLAVOR_VLLM;
	assert_ptr_equal(adapter_for_provider(&c), &adapter_openai);
	c.kind = PROVIDER_ANTHROPIC;
	assert_ptr_equal(adapter_for_provider(&c), &adapter_anthropic);
}

static void
test_ollama_build(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OLLAMA, "http://127.0.0.1:11434/v1", NULL);
	struct llm_request r;
	struct llm_message *m;
	struct llm_part *p;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	c.num_ctx = 32768;
	c.keep_alive = (char *)"10m";
	adtest_request(&r, "What is in this picture?");
	r.system = xstrdup("Be brief.");
	p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE);
	p->url = xstrdup("data:image/png;base64,iVBORw0KGgo=");
	llm_request_add_tool(&r, "get_weather", "Weather", "{\"type\":\"object\"}");
	m = llm_request_new_message(&r, LLM_ROLE_ASSISTANT);
	adtest_add_tool_call(m, "call_0", "get_weather", "{\"location\":\"Paris\"}");
	m = llm_request_new_message(&r, LLM_ROLE_USER);
	adtest_add_tool_result(m, "call_0", "18C", 0);
	r.has_temperature = 1;
	r.temperature = 0.2;
	r.max_tokens = 100;
	r.top_k = 20;
	r.has_seed = 1;
	r.seed = 3;
	r.response_format.type = LLM_FORMAT_JSON_OBJECT;
	r.reasoning_effort = xstrdup("high");
	adtest_check(A, &c, NULL, "llama3.2", &r, NULL, 0);
	body = adtest_build(A, &c, "llama3.2", &r, 0, &h);
	assert_string_equal(h.url, "http://127.0.0.1:11434/api/chat");
	assert_null(adtest_header(&h, "authorization"));
	assert_string_equal(adtest_str(body, "model"), "llama3.2");
	/* Ollama streams unless told not to. */
	assert_true(cJSON_IsFalse(adtest_at(body, "stream")));
	assert_int_equal((int)adtest_num(body, "options.num_ctx"), 32768);
	assert_string_equal(adtest_str(body, "keep_alive"), "10m");
	assert_int_equal((int)adtest_num(body, "options.num_predict"), 100);
	assert_int_equal((int)adtest_num(body, "options.top_k"), 20);
	assert_int_equal((int)adtest_num(body, "options.seed"), 3);
	assert_true(adtest_num(body, "options.temperature") == 0.2);
	assert_string_equal(adtest_str(body, "format"), "json");
	assert_string_equal(adtest_str(body, "think"), "high");
	assert_string_equal(adtest_str(body, "messages.0.role"), "system");
	assert_string_equal(adtest_str(body, "messages.1.content"), "What is in this picture?");
	assert_string_equal(adtest_str(body, "messages.1.images.0"), "iVBORw0KGgo=");
	assert_string_equal(adtest_str(body, "messages.2.tool_calls.0.function.name"),
	    "get_weather");
	/* Arguments as an object, as Ollama has them. */
	assert_string_equal(adtest_str(body, "messages.2.tool_calls.0.function.arguments.location"),
	    "Paris");
	assert_string_equal(adtest_str(body, "messages.3.role"), "tool");
	assert_string_equal(adtest_str(body, "messages.3.content"), "18C");
	assert_string_equal(adtest_str(body, "messages.3.tool_name"), "get_weather");
	assert_string_equal(adtest_str(body, "tools.0.function.name"), "get_weather");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* Streaming, keep_alive in seconds, a JSON schema, tool_choice none hides the tools. */
	c.keep_alive = (char *)"-1";
	r.response_format.type = LLM_FORMAT_JSON_SCHEMA;
	r.response_format.schema = xstrdup("{\"type\":\"object\",\"properties\":{}}");
	r.tool_choice = LLM_TOOL_CHOICE_NONE;
	body = adtest_build(A, &c, "llama3.2", &r, 1, &h);
	assert_true(cJSON_IsTrue(adtest_at(body, "stream")));
	assert_string_equal(adtest_header(&h, "accept"), "application/x-ndjson");
	assert_int_equal((int)adtest_num(body, "keep_alive"), -1);
	assert_string_equal(adtest_str(body, "format.type"), "object");
	assert_null(adtest_at(body, "tools"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_ollama_check(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_OPENAI, FLAVOR_OLLAMA, "http://h", NULL);
	struct llm_request r;
	struct llm_part *p;
	int i = 0;

	(void)state;
#define CASE(setup, param) \
	do { \
		adtest_request(&r, "x"); \
		setup; \
		adtest_check(A, &c, NULL, "m", &r, param, i++); \
		llm_request_free(&r); \
	} while (0)
	CASE((p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE),
	         p->url = xstrdup("https://x/y.png")),
	    "messages[0].content[1]");
	CASE((llm_request_add_tool(&r, "f", NULL, NULL), r.tool_choice = LLM_TOOL_CHOICE_ANY),
	    "tool_choice");
	CASE((llm_request_add_tool(&r, "f", NULL, NULL), r.has_parallel_tool_calls = 1),
	    "parallel_tool_calls");
	CASE(r.user = xstrdup("u"), "user");
	CASE(r.thinking_budget = 2048, "thinking");
	CASE(r.reasoning_effort = xstrdup("max"), "reasoning_effort");
	CASE((llm_request_add_tool(&r, "f", NULL, NULL), r.tool_choice = LLM_TOOL_CHOICE_AUTO),
	    NULL);
#undef CASE
}

/* The documented tool-call response: arguments an object, no id (one is made). */
static void
test_ollama_parse_tools(void **state)
{
	size_t len;
	char *body = adtest_read("ollama_documented_chat_tools.json", &len);
	struct llm_response out;
	struct llm_error err;

	(void)state;
	if (body == NULL)
		fail_msg("ollama_documented_chat_tools.json missing");
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, len, &out, &err), 0);
	assert_string_equal(out.content, "");
	assert_int_equal(out.n_parts, 1);
	assert_string_equal(out.parts[0].name, "get_current_weather");
	assert_string_equal(out.parts[0].id, "call_0");
	assert_string_equal(out.parts[0].arguments,
	    "{\"format\":\"celsius\",\"location\":\"Paris, FR\"}");
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	assert_int_equal(out.usage.input_tokens, 122);
	assert_int_equal(out.usage.output_tokens, 33);
	llm_response_free(&out);
	free(body);

	/* An error body with 200. */
	llm_response_init(&out);
	assert_int_equal(A->parse_response("{\"error\":\"model not found\"}", 27, &out, &err), -1);
	assert_int_equal(err.cls, LLM_ERR_MALFORMED);
	llm_response_free(&out);
}

/* The documented NDJSON stream with thinking, in any chunking; an error line; a cut. */
static void
test_ollama_stream(void **state)
{
	size_t len, chunks[] = {0, 1, 5};
	char *s = adtest_read("ollama_documented_chat_stream.ndjson", &len);
	struct adtest_stream st;

	(void)state;
	if (s == NULL)
		fail_msg("ollama_documented_chat_stream.ndjson missing");
	for (size_t i = 0; i < nitems(chunks); i++) {
		adtest_run_stream(A, s, len, chunks[i], &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.text.data, "There are three r's.");
		assert_int_equal(st.acc.n_parts, 2);
		assert_int_equal(st.acc.parts[0].type, LLM_PART_THINKING);
		assert_string_equal(st.acc.parts[0].text, "Let me count the r's.");
		assert_int_equal(st.acc.stop, LLM_STOP_END);
		assert_int_equal(st.acc.usage.input_tokens, 26);
		assert_int_equal(st.acc.usage.output_tokens, 282);
		assert_string_equal(st.acc.model, "qwen3");
		adtest_stream_free(&st);
	}
	/* Cut before done: a broken stream. */
	adtest_run_stream(A, s, len / 2, 0, &st);
	assert_int_equal(st.finish_rc, -1);
	adtest_stream_free(&st);
	free(s);

	s = (char *)"{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n"
	            "{\"error\":\"an error was encountered while running the model\"}\n";
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, -1);
	assert_non_null(strstr(st.err.message, "running the model"));
	adtest_stream_free(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ollama_for_provider),
	    cmocka_unit_test(test_ollama_build),
	    cmocka_unit_test(test_ollama_check),
	    cmocka_unit_test(test_ollama_parse_tools),
	    cmocka_unit_test(test_ollama_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
