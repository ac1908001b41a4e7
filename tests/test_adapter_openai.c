/* test_adapter_openai.c: Chat Completions and its flavors (Mistral, vLLM, llama.cpp, Ollama). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "provider/adapter_priv.h"
#include "adapter_testutil.h"

static const struct adapter *A = &adapter_openai;

static const char recorded_text[] =
    "I'm unable to provide real-time weather updates. To get the "
    "current weather in San Francisco, I recommend checking a reliable weather website or a "
    "weather app.";

static void
full_request(struct llm_request *r)
{
	llm_request_init(r);
	r->system = xstrdup("Be brief.");
	llm_request_add_message(r, LLM_ROLE_USER, "Hi");
	llm_request_add_message(r, LLM_ROLE_ASSISTANT, "Hello");
	llm_request_add_message(r, LLM_ROLE_USER, "Weather in SF?");
	r->has_temperature = 1;
	r->temperature = 0.5;
	r->has_top_p = 1;
	r->top_p = 0.75;
	r->max_tokens = 200;
	r->n_stop = 1;
	r->stop = xcalloc(1, sizeof *r->stop);
	r->stop[0] = xstrdup("###");
	llm_request_add_tool(r, "get_weather", "Current weather",
	    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
	    "\"required\":[\"city\"]}");
}

static cJSON *
build(const struct provider_conf *c, const char *model, const struct llm_request *r, int stream,
    struct adapter_http *h)
{
	return adtest_build(A, c, model, r, stream, h);
}

static void
test_openai_build_openai(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://api.openai.com", "sk-test");
	struct llm_request r;
	struct adapter_http h;
	cJSON *body, *msgs, *m, *tool, *fn, *want;

	(void)state;
	full_request(&r);
	body = build(&c, "gpt-4o", &r, 1, &h);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.url, "https://api.openai.com/v1/chat/completions");
	assert_string_equal(adtest_header(&h, "authorization"), "Bearer sk-test");
	assert_string_equal(adtest_header(&h, "content-type"), "application/json");
	assert_null(adtest_header(&h, "api-key"));
	assert_null(adtest_header(&h, "x-api-key"));

	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "gpt-4o");
	msgs = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 4);
	m = cJSON_GetArrayItem(msgs, 0);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "system");
	assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring, "Be brief.");
	m = cJSON_GetArrayItem(msgs, 2);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "assistant");
	assert_null(cJSON_GetObjectItem(body, "system"));
	assert_int_equal(cJSON_GetObjectItem(body, "max_completion_tokens")->valueint, 200);
	assert_null(cJSON_GetObjectItem(body, "max_tokens"));
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0.5);
	assert_true(cJSON_GetObjectItem(body, "top_p")->valuedouble == 0.75);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "stop"), 0)->valuestring,
	    "###");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "stream_options"),
	    "include_usage")));

	tool = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"), 0);
	assert_string_equal(cJSON_GetObjectItem(tool, "type")->valuestring, "function");
	fn = cJSON_GetObjectItem(tool, "function");
	assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get_weather");
	assert_string_equal(cJSON_GetObjectItem(fn, "description")->valuestring, "Current weather");
	want = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
	                   "\"required\":[\"city\"]}");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(fn, "parameters"), want, 1));
	assert_null(cJSON_GetObjectItem(fn, "input_schema"));
	cJSON_Delete(want);
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_openai_build_minimal(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "http://127.0.0.1:8000//", NULL);
	struct llm_request r;
	struct adapter_http h;
	cJSON *body, *m;

	(void)state;
	llm_request_init(&r);
	llm_request_add_message(&r, LLM_ROLE_USER, "Hi");
	body = build(&c, "local", &r, 0, &h);
	assert_string_equal(h.url, "http://127.0.0.1:8000/v1/chat/completions");
	/* No key: no Authorization header. */
	assert_null(adtest_header(&h, "authorization"));
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "messages"), 0);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "user");
	/* No limit asked: none sent (no injected output cap). */
	assert_null(cJSON_GetObjectItem(body, "max_completion_tokens"));
	assert_null(cJSON_GetObjectItem(body, "max_tokens"));
	assert_null(cJSON_GetObjectItem(body, "stream"));
	assert_null(cJSON_GetObjectItem(body, "stream_options"));
	assert_null(cJSON_GetObjectItem(body, "temperature"));
	assert_null(cJSON_GetObjectItem(body, "top_p"));
	assert_null(cJSON_GetObjectItem(body, "stop"));
	assert_null(cJSON_GetObjectItem(body, "tools"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* Mistral rejects unknown fields with 422: only the ones it knows go out. */
static void
test_openai_build_mistral(void **state)
{
	static const char *const known[] = {
	    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "tools"};
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_MISTRAL, "https://api.mistral.ai", "mk");
	struct llm_request r;
	struct adapter_http h;
	const cJSON *f;
	cJSON *body;
	size_t i;

	(void)state;
	full_request(&r);
	for (int stream = 0; stream <= 1; stream++) {
		body = build(&c, "mistral-large-latest", &r, stream, &h);
		assert_string_equal(h.url, "https://api.mistral.ai/v1/chat/completions");
		assert_string_equal(adtest_header(&h, "authorization"), "Bearer mk");
		assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 200);
		assert_null(cJSON_GetObjectItem(body, "max_completion_tokens"));
		assert_null(cJSON_GetObjectItem(body, "stream_options"));
		if (stream)
			assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
		cJSON_ArrayForEach(f, body)
		{
			for (i = 0; i < nitems(known); i++)
				if (strcmp(f->string, known[i]) == 0)
					break;
			if (i == nitems(known))
				fail_msg("mistral body has unknown field %s", f->string);
		}
		cJSON_Delete(body);
		adapter_http_free(&h);
	}
	llm_request_free(&r);
}

static void
test_openai_build_selfhosted(void **state)
{
	enum provider_flavor flavors[] = {FLAVOR_VLLM, FLAVOR_LLAMACPP, FLAVOR_OLLAMA};
	struct llm_request r;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	full_request(&r);
	for (size_t i = 0; i < nitems(flavors); i++) {
		struct provider_conf c =
		    adtest_conf(PROVIDER_OPENAI, flavors[i], "http://127.0.0.1:11434", NULL);
		body = build(&c, "llama3", &r, 1, &h);
		assert_string_equal(h.url, "http://127.0.0.1:11434/v1/chat/completions");
		assert_null(adtest_header(&h, "authorization"));
		assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 200);
		assert_null(cJSON_GetObjectItem(body, "max_completion_tokens"));
		assert_non_null(cJSON_GetObjectItem(body, "stream_options"));
		cJSON_Delete(body);
		adapter_http_free(&h);
	}
	llm_request_free(&r);
}

static void
test_openai_build_errors(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "http://h", "k");
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	llm_request_init(&r);
	llm_request_add_message(&r, LLM_ROLE_USER, "x");
	assert_int_equal(llm_request_tools_from_json(&r, "[{\"description\":\"nameless\"}]",
	                     &cause),
	    -1);
	assert_non_null(strstr(cause, "no name"));
	free(cause);
	cause = NULL;
	assert_int_equal(llm_request_tools_from_json(&r, "17", &cause), -1);
	assert_non_null(strstr(cause, "not a JSON array"));
	free(cause);
	cause = NULL;
	assert_int_equal(r.n_tools, 0);
	assert_int_equal(A->build_request(&c, NULL, "", &r, 0, &h, &cause), -1);
	free(cause);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_openai_parse(void **state)
{
	const char *body =
	    "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"Hello there\"},\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":8}}}";
	const char *nullc =
	    "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":null,\"tool_calls\":[]},\"finish_reason\":\"tool_calls\"}]}";
	struct llm_response out;
	struct llm_error err;

	(void)state;
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, strlen(body), &out, &err), 0);
	assert_string_equal(out.content, "Hello there");
	assert_string_equal(out.id, "chatcmpl-123");
	assert_string_equal(out.model, "gpt-4o-mini");
	assert_int_equal(out.stop, LLM_STOP_END);
	assert_string_equal(out.stop_raw, "stop");
	assert_int_equal(out.usage.input_tokens, 19);
	assert_int_equal(out.usage.output_tokens, 10);
	assert_int_equal(out.usage.cache_read_tokens, 8);
	llm_response_free(&out);

	llm_response_init(&out);
	assert_int_equal(A->parse_response(nullc, strlen(nullc), &out, &err), 0);
	assert_string_equal(out.content, "");
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	assert_int_equal(out.usage.input_tokens, 0);
	llm_response_free(&out);
}

static void
test_openai_finish_reasons(void **state)
{
	static const struct {
		const char *word;
		enum llm_stop stop;
	} cases[] = {
	    {"stop", LLM_STOP_END},
	    {"length", LLM_STOP_MAX_TOKENS},
	    {"tool_calls", LLM_STOP_TOOL_USE},
	    {"content_filter", LLM_STOP_CONTENT_FILTER},
	    {"model_length", LLM_STOP_MAX_TOKENS},
	    {"error", LLM_STOP_OTHER},
	    {"function_call", LLM_STOP_TOOL_USE},
	    {"novel", LLM_STOP_OTHER},
	};
	struct llm_response out;
	struct llm_error err;
	char *s;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		s = xasprintf("{\"choices\":[{\"index\":0,\"message\":{\"content\":\"x\"},"
		              "\"finish_reason\":\"%s\"}]}",
		    cases[i].word);
		llm_response_init(&out);
		assert_int_equal(A->parse_response(s, strlen(s), &out, &err), 0);
		assert_int_equal(out.stop, cases[i].stop);
		assert_string_equal(out.stop_raw, cases[i].word);
		llm_response_free(&out);
		free(s);
	}
}

static void
test_openai_parse_malformed(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
	    {"", "openai response: not JSON"},
	    {"{\"choices\":[{\"index\":0,\"message\":{\"content\":\"x\"}}", "not JSON"},
	    {"\"hello\"", "not a JSON object"},
	    {"{\"id\":\"x\"}", "openai response: no choices array"},
	    {"{\"choices\":{}}", "no choices array"},
	    {"{\"choices\":[]}", "empty choices array"},
	    {"{\"choices\":[7]}", "empty choices array"},
	    {"{\"choices\":[{\"index\":0}]}", "choice without a message"},
	    {"{\"choices\":[{\"message\":{\"content\":5}}]}", "content is not a string"},
	    {"{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}",
	        "openai response: an error body: boom"},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		adtest_expect_malformed(A, cases[i].body, cases[i].msg, i);
}

static void
test_openai_stream_recording(void **state)
{
	size_t len, chunks[] = {1, 7, 0};
	char *sse = adtest_read("openai_recorded_stream_include_usage.sse", &len);
	struct adtest_stream st;

	(void)state;
	assert_non_null(sse);
	for (size_t c = 0; c < nitems(chunks); c++) {
		adtest_run_stream(A, sse, len, chunks[c], &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.text.data, recorded_text);
		assert_int_equal(st.n_deltas, 30);
		assert_string_equal(st.acc.content, recorded_text);
		assert_string_equal(st.acc.id, "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL");
		assert_string_equal(st.acc.model, "gpt-4o-2024-08-06");
		assert_int_equal(st.acc.stop, LLM_STOP_END);
		assert_string_equal(st.acc.stop_raw, "stop");
		assert_int_equal(st.acc.usage.input_tokens, 14);
		assert_int_equal(st.acc.usage.output_tokens, 30);
		adtest_stream_free(&st);
	}

	/* Without the [DONE] line the stream was cut after text. */
	const char *done = strstr(sse, "data: [DONE]");
	assert_non_null(done);
	adtest_run_stream(A, sse, (size_t)(done - sse), 7, &st);
	assert_int_equal(st.feed_rc, 0);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_STREAM);
	assert_non_null(strstr(st.err.message, "stream ended before"));
	assert_string_equal(st.text.data, recorded_text);
	adtest_stream_free(&st);

	/* Cut before any text: malformed. */
	adtest_run_stream(A, sse, 100, 0, &st);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_MALFORMED);
	adtest_stream_free(&st);
	free(sse);
}

#define CHUNK(c) \
	"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" \
	"{\"content\":\"" c "\"},\"finish_reason\":null}]}\n\n"

static void
test_openai_stream_errors(void **state)
{
	static const struct {
		const char *line;
		enum llm_errclass cls;
		const char *type;
	} cases[] = {
	    {"data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\","
	     "\"param\":null,\"code\":null}}\n\n",
	        LLM_ERR_SERVER, "server_error"},
	    {"data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
	     "\"code\":\"rate_limit_exceeded\"}}\n\n",
	        LLM_ERR_RATE_LIMIT, "requests"},
	    {"data: {\"error\":{\"message\":\"quota\",\"type\":\"insufficient_quota\"}}\n\n",
	        LLM_ERR_QUOTA, "insufficient_quota"},
	    {"data: {\"error\":\"model crashed\"}\n\n", LLM_ERR_SERVER, ""},
	};
	struct adtest_stream st;
	char *s;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		s = xasprintf("%s%s%s", CHUNK("Hel"), cases[i].line, CHUNK("never"));
		adtest_run_stream(A, s, strlen(s), 5, &st);
		assert_int_equal(st.feed_rc, -1);
		if (st.err.cls != cases[i].cls)
			fail_msg("case %zu: %s", i, llm_errclass_name(st.err.cls));
		assert_string_equal(st.err.type, cases[i].type);
		assert_string_equal(st.text.data, "Hel");
		assert_true(st.err.message[0] != '\0');
		adtest_stream_free(&st);
		free(s);
	}

	/* A chunk that is not JSON. */
	s = xasprintf("%sdata: {\"choices\":[{\"delta\n\n", CHUNK("a"));
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_STREAM);
	assert_non_null(strstr(st.err.message, "not a JSON object"));
	adtest_stream_free(&st);
	free(s);
}

static void
test_openai_stream_shapes(void **state)
{
	/* No choices at first, null content, other choice indexes, [DONE] with \r\n. */
	const char *s =
	    "data: {\"id\":\"\",\"choices\":[]}\r\n\r\n"
	    ": keep-alive\r\n\r\n"
	    "data: {\"id\":\"c9\",\"model\":\"mx\",\"choices\":[{\"index\":0,\"delta\":"
	    "{\"role\":\"assistant\",\"content\":null}}]}\r\n\r\n"
	    "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other\"}},"
	    "{\"index\":0,\"delta\":{\"content\":\"mine\"}}]}\r\n\r\n"
	    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],"
	    "\"usage\":null}\r\n\r\n"
	    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":2}}}\r\n\r\n"
	    "data:  [DONE] \r\n\r\n";
	struct adtest_stream st;

	(void)state;
	for (size_t chunk = 0; chunk < 5; chunk++) {
		adtest_run_stream(A, s, strlen(s), chunk, &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.text.data, "mine");
		assert_string_equal(st.acc.id, "c9");
		assert_string_equal(st.acc.model, "mx");
		assert_int_equal(st.acc.stop, LLM_STOP_MAX_TOKENS);
		assert_int_equal(st.acc.usage.input_tokens, 3);
		assert_int_equal(st.acc.usage.output_tokens, 4);
		assert_int_equal(st.acc.usage.cache_read_tokens, 2);
		adtest_stream_free(&st);
	}
}

static void
classify_h(int status, const struct http_headers *h, const char *body, struct llm_error *err)
{
	A->classify_error(status, h, body, body != NULL ? strlen(body) : 0, err);
}

static void
test_openai_classify(void **state)
{
	static const struct {
		int status;
		const char *body;
		enum llm_errclass cls;
		int retryable;
		const char *type;
		const char *msg; /* prefix of the message */
	} cases[] = {
	    /* OpenAI */
	    {400,
	        "{\"error\":{\"message\":\"bad param\",\"type\":\"invalid_request_error\","
	        "\"param\":\"temperature\",\"code\":null}}",
	        LLM_ERR_BAD_REQUEST, 0, "invalid_request_error", "bad param"},
	    {401,
	        "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
	        "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}",
	        LLM_ERR_AUTH, 0, "invalid_request_error", "Incorrect API key"},
	    {403, "{\"error\":{\"message\":\"region\",\"code\":\"unsupported_country\"}}",
	        LLM_ERR_AUTH, 0, "unsupported_country", "region"},
	    {404,
	        "{\"error\":{\"message\":\"The model `gpt-9` does not exist\",\"type\":"
	        "\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}",
	        LLM_ERR_NOT_FOUND, 0, "invalid_request_error", "The model"},
	    {429,
	        "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
	        "\"param\":null,\"code\":\"rate_limit_exceeded\"}}",
	        LLM_ERR_RATE_LIMIT, 1, "requests", "Rate limit reached"},
	    {429,
	        "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":"
	        "\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}",
	        LLM_ERR_QUOTA, 0, "insufficient_quota", "You exceeded"},
	    {429,
	        "{\"error\":{\"message\":\"quota\",\"type\":null,\"code\":"
	        "\"insufficient_quota\"}}",
	        LLM_ERR_QUOTA, 0, "insufficient_quota", "quota"},
	    {500,
	        "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\","
	        "\"param\":null,\"code\":null}}",
	        LLM_ERR_SERVER, 1, "server_error", "The server had"},
	    {503, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}",
	        LLM_ERR_OVERLOADED, 1, "server_error", "overloaded"},
	    {408, "", LLM_ERR_SERVER, 1, "", "HTTP 408 with an empty body"},
	    {409, "{\"error\":{\"message\":\"conflict\"}}", LLM_ERR_SERVER, 1, "", "conflict"},
	    /* Mistral */
	    {422,
	        "{\"object\":\"error\",\"message\":{\"detail\":[]},\"type\":\"invalid_request_"
	        "error\"}",
	        LLM_ERR_BAD_REQUEST, 0, "invalid_request_error", "HTTP 422"},
	    {422,
	        "{\"detail\":[{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"store\"],"
	        "\"msg\":\"Extra inputs are not permitted\",\"input\":true}]}",
	        LLM_ERR_BAD_REQUEST, 0, "extra_forbidden",
	        "Extra inputs are not permitted at body.store"},
	    {401, "{\"message\":\"Unauthorized\",\"request_id\":\"abc\"}", LLM_ERR_AUTH, 0, "",
	        "Unauthorized"},
	    {429,
	        "{\"object\":\"error\",\"message\":\"Rate limit exceeded\",\"type\":"
	        "\"rate_limited\",\"param\":null,\"code\":\"1300\"}",
	        LLM_ERR_RATE_LIMIT, 1, "rate_limited", "Rate limit exceeded"},
	    /* vLLM: code is an int */
	    {404,
	        "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":"
	        "\"NotFoundError\",\"param\":null,\"code\":404}}",
	        LLM_ERR_NOT_FOUND, 0, "NotFoundError", "The model `x`"},
	    {400, "{\"error\":{\"message\":\"too long\",\"param\":null,\"code\":400}}",
	        LLM_ERR_BAD_REQUEST, 0, "400", "too long"},
	    /* llama.cpp */
	    {503,
	        "{\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":"
	        "\"unavailable_error\"}}",
	        LLM_ERR_OVERLOADED, 1, "unavailable_error", "Loading model"},
	    /* Ollama: a bare string */
	    {404, "{\"error\":\"model 'llama9' not found, try pulling it first\"}",
	        LLM_ERR_NOT_FOUND, 0, "", "model 'llama9' not found"},
	    /* Proxies */
	    {502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
	        LLM_ERR_SERVER, 1, "", "HTTP 502 with a non-JSON body"},
	    {504, "", LLM_ERR_SERVER, 1, "", "HTTP 504 with an empty body"},
	    {500, " \r\n", LLM_ERR_SERVER, 1, "", "HTTP 500 with an empty body"},
	    {500, "{}", LLM_ERR_SERVER, 1, "", "HTTP 500 with no error message"},
	    {500, "[1]", LLM_ERR_SERVER, 1, "", "HTTP 500 with no error message"},
	    {402, "{\"error\":{\"message\":\"pay\"}}", LLM_ERR_QUOTA, 0, "", "pay"},
	    {418, "teapot", LLM_ERR_BAD_REQUEST, 0, "", "HTTP 418 with a non-JSON body"},
	};
	struct llm_error err;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		classify_h(cases[i].status, NULL, cases[i].body, &err);
		if (err.cls != cases[i].cls)
			fail_msg("case %zu (%d): class %s", i, cases[i].status,
			    llm_errclass_name(err.cls));
		assert_int_equal(err.status, cases[i].status);
		if (err.retryable != cases[i].retryable)
			fail_msg("case %zu: retryable %d", i, err.retryable);
		if (strcmp(err.type, cases[i].type) != 0)
			fail_msg("case %zu: type \"%s\"", i, err.type);
		if (strncmp(err.message, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %zu: message \"%s\"", i, err.message);
	}
	classify_h(503, NULL, NULL, &err);
	assert_int_equal(err.cls, LLM_ERR_OVERLOADED);
	assert_string_equal(err.message, "HTTP 503 with an empty body");
}

static void
test_openai_classify_retry_headers(void **state)
{
	const char *body = "{\"error\":{\"message\":\"slow\",\"type\":\"requests\","
	                   "\"code\":\"rate_limit_exceeded\"}}";
	const char *quota = "{\"error\":{\"message\":\"q\",\"type\":\"insufficient_quota\"}}";
	struct http_headers h = {0};
	struct llm_error err;
	char date[64];
	struct tm tm;
	time_t t;

	(void)state;
	adtest_headers_add(&h, "retry-after", "20");
	classify_h(429, &h, body, &err);
	assert_int_equal(err.cls, LLM_ERR_RATE_LIMIT);
	assert_int_equal(err.retry_after_ms, 20000);
	adtest_headers_free(&h);

	/* retry-after-ms wins over retry-after. */
	adtest_headers_add(&h, "retry-after", "20");
	adtest_headers_add(&h, "retry-after-ms", "1500");
	classify_h(429, &h, body, &err);
	assert_int_equal(err.retry_after_ms, 1500);
	adtest_headers_free(&h);

	adtest_headers_add(&h, "retry-after", "0.5");
	classify_h(503, &h, body, &err);
	assert_int_equal(err.retry_after_ms, 500);
	adtest_headers_free(&h);

	/* An HTTP date two minutes ahead. */
	t = time(NULL) + 120;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	adtest_headers_add(&h, "Retry-After", date);
	classify_h(429, &h, body, &err);
	assert_true(err.retry_after_ms > 60000 && err.retry_after_ms <= 121000);
	adtest_headers_free(&h);

	/* A date in the past: retry now. Garbage: absent. */
	adtest_headers_add(&h, "retry-after", "Sun, 06 Nov 1994 08:49:37 GMT");
	classify_h(429, &h, body, &err);
	assert_int_equal(err.retry_after_ms, 0);
	adtest_headers_free(&h);
	adtest_headers_add(&h, "retry-after", "soon");
	classify_h(429, &h, body, &err);
	assert_int_equal(err.retry_after_ms, -1);
	adtest_headers_free(&h);

	/* insufficient_quota is never retried, whatever x-should-retry says. */
	adtest_headers_add(&h, "x-should-retry", "true");
	classify_h(429, &h, quota, &err);
	assert_int_equal(err.cls, LLM_ERR_QUOTA);
	assert_int_equal(err.retryable, 0);
	adtest_headers_free(&h);
}

static void
test_openai_retry_after_parsing(void **state)
{
	const int64_t now = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(adapter_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), now);
	assert_int_equal(adapter_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), now);
	assert_int_equal(adapter_parse_http_date("Sun Nov  6 08:49:37 1994"), now);
	assert_int_equal(adapter_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), -1);
	assert_int_equal(adapter_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk"), -1);
	assert_int_equal(adapter_parse_http_date(""), -1);
	assert_int_equal(adapter_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30000);
	assert_int_equal(adapter_parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), 0);
	assert_int_equal(adapter_parse_retry_after("7", now), 7000);
	assert_int_equal(adapter_parse_retry_after(" 7 ", now), 7000);
	assert_int_equal(adapter_parse_retry_after("-3", now), -1);
	assert_int_equal(adapter_parse_retry_after("7s", now), -1);
	assert_int_equal(adapter_parse_retry_after(NULL, now), -1);
}

static void
test_openai_long_message(void **state)
{
	struct buf b;
	struct llm_error err;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "{\"error\":{\"message\":\"line one\\nline two ");
	for (int i = 0; i < 400; i++)
		buf_puts(&b, "\xc3\xa9t\xc3\xa9 ");
	buf_puts(&b, "\",\"type\":\"server_error\"}}");
	classify_h(500, NULL, b.data, &err);
	assert_int_equal(err.cls, LLM_ERR_SERVER);
	assert_true(strlen(err.message) < sizeof err.message);
	assert_null(strchr(err.message, '\n'));
	assert_true(strncmp(err.message, "line one line two", 17) == 0);
	/* Cut on a character boundary: the last byte is not a lead byte. */
	assert_true(((unsigned char)err.message[strlen(err.message) - 1] & 0xc0) != 0xc0);
	buf_free(&b);
}

static void
test_openai_probe(void **state)
{
	static const struct {
		enum provider_flavor flavor;
		const char *url;
		int auth;
	} cases[] = {
	    {FLAVOR_OPENAI, "http://h:1/v1/models", 1},
	    {FLAVOR_MISTRAL, "http://h:1/v1/models", 1},
	    {FLAVOR_VLLM, "http://h:1/health", 0},
	    {FLAVOR_LLAMACPP, "http://h:1/health", 0},
	    {FLAVOR_OLLAMA, "http://h:1/api/version", 0},
	};
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct provider_conf c =
		    adtest_conf(PROVIDER_OPENAI, cases[i].flavor, "http://h:1", "key");
		assert_int_equal(A->build_probe(&c, &h, &cause), 0);
		assert_string_equal(h.method, "GET");
		assert_string_equal(h.url, cases[i].url);
		if (cases[i].auth)
			assert_string_equal(adtest_header(&h, "authorization"), "Bearer key");
		else
			assert_null(adtest_header(&h, "authorization"));
		adapter_http_free(&h);
	}
	struct provider_conf c = adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "http://h:1", NULL);
	assert_int_equal(A->build_probe(&c, &h, &cause), 0);
	assert_null(adtest_header(&h, "authorization"));
	adapter_http_free(&h);
}

/* A tool loop on Chat Completions: assistant tool_calls, role "tool" results (a failed
 * one marked in its content), image_url parts, forced tools, JSON schema output, seed,
 * reasoning effort, user and metadata. */
static void
test_openai_build_tools_round_trip(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_OPENAI, "https://api.openai.com/v1", "sk");
	struct llm_request r;
	struct llm_message *m;
	struct llm_part *p;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	adtest_request(&r, "Weather in Paris and Bogota?");
	llm_request_add_tool(&r, "get_weather", "Current weather",
	    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}}}")
	    ->strict = 1;
	r.tool_choice = LLM_TOOL_CHOICE_ANY;
	r.has_parallel_tool_calls = 1;
	r.parallel_tool_calls = 1;
	m = llm_request_new_message(&r, LLM_ROLE_ASSISTANT);
	p = llm_message_add_part(m, LLM_PART_THINKING);
	p->text = xstrdup("not sent back");
	adtest_add_tool_call(m, "call_1", "get_weather", "{\"location\":\"Paris\"}");
	adtest_add_tool_call(m, "call_2", "get_weather", "{\"location\":\"Bogota\"}");
	m = llm_request_new_message(&r, LLM_ROLE_USER);
	adtest_add_tool_result(m, "call_1", "18C", 0);
	adtest_add_tool_result(m, "call_2", "timeout", 1);
	llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup("And this map?");
	p = llm_message_add_part(m, LLM_PART_IMAGE);
	p->media_type = xstrdup("image/png");
	p->data = xstrdup("iVBORw0KGgo=");
	p->detail = xstrdup("low");
	r.response_format.type = LLM_FORMAT_JSON_SCHEMA;
	r.response_format.name = xstrdup("weather");
	r.response_format.schema = xstrdup("{\"type\":\"object\"}");
	r.response_format.strict = 1;
	r.has_seed = 1;
	r.seed = 42;
	r.reasoning_effort = xstrdup("low");
	r.user = xstrdup("u1");
	r.metadata = xstrdup("{\"app\":\"llmdeck\"}");
	adtest_check(A, &c, NULL, "gpt-4o", &r, NULL, 0);
	body = build(&c, "gpt-4o", &r, 0, &h);
	/* A base URL documented with /v1 does not become /v1/v1. */
	assert_string_equal(h.url, "https://api.openai.com/v1/chat/completions");
	assert_string_equal(adtest_str(body, "tools.0.function.name"), "get_weather");
	assert_true(cJSON_IsTrue(adtest_at(body, "tools.0.function.strict")));
	assert_string_equal(adtest_str(body, "tool_choice"), "required");
	assert_true(cJSON_IsTrue(adtest_at(body, "parallel_tool_calls")));
	assert_string_equal(adtest_str(body, "messages.0.content"), "Weather in Paris and Bogota?");
	/* The assistant's calls; no content, no thinking. */
	assert_null(adtest_at(body, "messages.1.content"));
	assert_string_equal(adtest_str(body, "messages.1.tool_calls.0.id"), "call_1");
	assert_string_equal(adtest_str(body, "messages.1.tool_calls.0.type"), "function");
	assert_string_equal(adtest_str(body, "messages.1.tool_calls.1.function.arguments"),
	    "{\"location\":\"Bogota\"}");
	/* One tool message per result, then the user's own content as parts. */
	assert_string_equal(adtest_str(body, "messages.2.role"), "tool");
	assert_string_equal(adtest_str(body, "messages.2.tool_call_id"), "call_1");
	assert_string_equal(adtest_str(body, "messages.2.content"), "18C");
	assert_string_equal(adtest_str(body, "messages.3.content"), "[tool error] timeout");
	assert_string_equal(adtest_str(body, "messages.4.role"), "user");
	assert_string_equal(adtest_str(body, "messages.4.content.0.text"), "And this map?");
	assert_string_equal(adtest_str(body, "messages.4.content.1.type"), "image_url");
	assert_string_equal(adtest_str(body, "messages.4.content.1.image_url.url"),
	    "data:image/png;base64,iVBORw0KGgo=");
	assert_string_equal(adtest_str(body, "messages.4.content.1.image_url.detail"), "low");
	assert_int_equal(cJSON_GetArraySize(adtest_at(body, "messages")), 5);
	assert_string_equal(adtest_str(body, "response_format.type"), "json_schema");
	assert_string_equal(adtest_str(body, "response_format.json_schema.name"), "weather");
	assert_true(cJSON_IsTrue(adtest_at(body, "response_format.json_schema.strict")));
	assert_int_equal((int)adtest_num(body, "seed"), 42);
	assert_string_equal(adtest_str(body, "reasoning_effort"), "low");
	assert_string_equal(adtest_str(body, "user"), "u1");
	assert_string_equal(adtest_str(body, "metadata.app"), "llmdeck");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* A named tool, JSON mode, and the client's own fields (same API only). */
	r.tool_choice = LLM_TOOL_CHOICE_NAMED;
	r.tool_choice_name = xstrdup("get_weather");
	r.response_format.type = LLM_FORMAT_JSON_OBJECT;
	r.passthrough = xstrdup("{\"logprobs\":true,\"seed\":1}");
	r.passthrough_api = LLM_API_OPENAI;
	body = build(&c, "gpt-4o", &r, 0, &h);
	assert_string_equal(adtest_str(body, "tool_choice.type"), "function");
	assert_string_equal(adtest_str(body, "tool_choice.function.name"), "get_weather");
	assert_string_equal(adtest_str(body, "response_format.type"), "json_object");
	assert_true(cJSON_IsTrue(adtest_at(body, "logprobs")));
	assert_int_equal((int)adtest_num(body, "seed"), 42);
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* Mistral: tool_choice "any", random_seed, JSON schema, and still no unknown field. */
static void
test_openai_build_mistral_tools(void **state)
{
	static const char *const known[] = {"model", "messages", "temperature", "top_p",
	    "max_tokens", "stream", "stop", "tools", "tool_choice", "parallel_tool_calls",
	    "response_format", "random_seed", "reasoning_effort"};
	struct provider_conf c =
	    adtest_conf(PROVIDER_OPENAI, FLAVOR_MISTRAL, "https://api.mistral.ai", "mk");
	struct llm_request r;
	struct adapter_http h;
	const cJSON *f;
	cJSON *body;
	size_t i;

	(void)state;
	full_request(&r);
	r.tool_choice = LLM_TOOL_CHOICE_ANY;
	r.has_parallel_tool_calls = 1;
	r.parallel_tool_calls = 0;
	r.has_seed = 1;
	r.seed = 9;
	r.response_format.type = LLM_FORMAT_JSON_OBJECT;
	adtest_check(A, &c, NULL, "mistral-large-latest", &r, NULL, 0);
	body = build(&c, "mistral-large-latest", &r, 1, &h);
	assert_string_equal(adtest_str(body, "tool_choice"), "any");
	assert_int_equal((int)adtest_num(body, "random_seed"), 9);
	assert_null(adtest_at(body, "seed"));
	assert_true(cJSON_IsFalse(adtest_at(body, "parallel_tool_calls")));
	cJSON_ArrayForEach(f, body)
	{
		for (i = 0; i < nitems(known); i++)
			if (strcmp(f->string, known[i]) == 0)
				break;
		if (i == nitems(known))
			fail_msg("mistral body has unknown field %s", f->string);
	}
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* vLLM and llama.cpp document their base URL with /v1: accepted, never /v1/v1. */
static void
test_openai_base_url_v1(void **state)
{
	static const char *const urls[] = {"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/",
	    "http://127.0.0.1:8000", "http://127.0.0.1:8000//"};
	enum provider_flavor flavors[] = {FLAVOR_VLLM, FLAVOR_LLAMACPP, FLAVOR_OPENAI};
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;
	cJSON *body;

	(void)state;
	adtest_request(&r, "hi");
	for (size_t f = 0; f < nitems(flavors); f++)
		for (size_t i = 0; i < nitems(urls); i++) {
			struct provider_conf c =
			    adtest_conf(PROVIDER_OPENAI, flavors[f], urls[i], NULL);
			body = build(&c, "m", &r, 0, &h);
			assert_string_equal(h.url, "http://127.0.0.1:8000/v1/chat/completions");
			cJSON_Delete(body);
			adapter_http_free(&h);
			assert_int_equal(A->build_probe(&c, &h, &cause), 0);
			assert_null(strstr(h.url, "/v1/v1"));
			adapter_http_free(&h);
		}
	llm_request_free(&r);
}

/* What each flavor cannot honour is refused with the field. */
static void
test_openai_check_refusals(void **state)
{
	struct llm_request r;
	struct llm_part *p;
	int i = 0;

	(void)state;
#define CASE(flavor, setup, param) \
	do { \
		struct provider_conf c = adtest_conf(PROVIDER_OPENAI, flavor, "http://h", "k"); \
		adtest_request(&r, "x"); \
		setup; \
		adtest_check(A, &c, NULL, "m", &r, param, i++); \
		llm_request_free(&r); \
	} while (0)
	CASE(FLAVOR_OPENAI, (r.has_temperature = 1, r.temperature = 1.9), NULL);
	CASE(FLAVOR_OPENAI, (r.has_temperature = 1, r.temperature = 2.5), "temperature");
	CASE(FLAVOR_OPENAI, r.top_k = 5, "top_k");
	CASE(FLAVOR_MISTRAL, r.top_k = 5, "top_k");
	CASE(FLAVOR_VLLM, r.top_k = 5, NULL);
	CASE(FLAVOR_LLAMACPP, r.top_k = 5, NULL);
	CASE(FLAVOR_OPENAI, r.thinking_budget = 2048, "thinking");
	CASE(FLAVOR_LLAMACPP, r.reasoning_effort = xstrdup("high"), "reasoning_effort");
	CASE(FLAVOR_VLLM, r.reasoning_effort = xstrdup("high"), NULL);
	CASE(FLAVOR_MISTRAL, r.user = xstrdup("u"), "user");
	CASE(FLAVOR_VLLM, r.metadata = xstrdup("{\"a\":\"b\"}"), "metadata");
	CASE(FLAVOR_OPENAI, r.metadata = xstrdup("[1]"), "metadata");
	CASE(FLAVOR_OPENAI,
	    (r.n_stop = 5, r.stop = xcalloc(5, sizeof *r.stop), r.stop[0] = xstrdup("a"),
	        r.stop[1] = xstrdup("b"), r.stop[2] = xstrdup("c"), r.stop[3] = xstrdup("d"),
	        r.stop[4] = xstrdup("e")),
	    "stop");
	/* A tool message holds text only on Chat Completions. */
	CASE(FLAVOR_OPENAI,
	    (adtest_add_tool_result(&r.messages[0], "c1", "x", 0), p = &r.messages[0].parts[1],
	        p->parts = xreallocarray(p->parts, 2, sizeof *p->parts),
	        memset(&p->parts[1], 0, sizeof p->parts[1]), p->n_parts = 2,
	        p->parts[1].type = LLM_PART_IMAGE, p->parts[1].url = xstrdup("https://x/y.png")),
	    "messages[0].content[1]");
	CASE(FLAVOR_OPENAI,
	    (p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE), p->url = NULL),
	    "messages[0].content[1]");
#undef CASE
}

/* A whole response with tool_calls and a reasoning model's usage (documented example). */
static void
test_openai_parse_tool_calls(void **state)
{
	size_t len;
	char *body = adtest_read("openai_documented_tool_calls.json", &len);
	struct llm_response out;
	struct llm_error err;

	(void)state;
	if (body == NULL)
		fail_msg("openai_documented_tool_calls.json missing");
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, len, &out, &err), 0);
	assert_string_equal(out.content, "");
	assert_int_equal(out.n_parts, 1);
	assert_int_equal(out.parts[0].type, LLM_PART_TOOL_CALL);
	assert_string_equal(out.parts[0].id, "call_abc123");
	assert_string_equal(out.parts[0].name, "get_current_weather");
	assert_string_equal(out.parts[0].arguments, "{\n\"location\": \"Boston, MA\"\n}");
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	assert_string_equal(out.stop_raw, "tool_calls");
	assert_int_equal(out.usage.input_tokens, 82);
	assert_int_equal(out.usage.output_tokens, 217);
	assert_int_equal(out.usage.reasoning_tokens, 192);
	assert_int_equal(out.usage.cache_read_tokens, 0);
	assert_true(out.usage.has_cache_detail);
	llm_response_free(&out);
	free(body);
}

/* Streamed parallel tool calls: index deltas, id and name first, arguments in fragments. */
static void
test_openai_stream_tool_calls(void **state)
{
	size_t len, chunks[] = {0, 1, 13};
	char *s = adtest_read("openai_documented_tool_calls_stream.sse", &len);

	(void)state;
	if (s == NULL)
		fail_msg("openai_documented_tool_calls_stream.sse missing");
	for (size_t i = 0; i < nitems(chunks); i++) {
		struct adtest_stream st;

		adtest_run_stream(A, s, len, chunks[i], &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.acc.content, "");
		assert_int_equal(st.acc.n_parts, 2);
		assert_string_equal(st.acc.parts[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
		assert_string_equal(st.acc.parts[0].name, "get_weather");
		assert_string_equal(st.acc.parts[0].arguments, "{\"location\":\"Paris, France\"}");
		assert_int_equal(st.acc.parts[1].index, 1);
		assert_string_equal(st.acc.parts[1].arguments,
		    "{\"location\": \"Bogot\xc3\xa1, Colombia\"}");
		assert_int_equal(st.acc.stop, LLM_STOP_TOOL_USE);
		assert_int_equal(st.acc.usage.input_tokens, 1117);
		assert_int_equal(st.acc.usage.cache_read_tokens, 1024);
		assert_int_equal(st.acc.usage.output_tokens, 46);
		if (chunks[i] == 0)
			assert_string_equal(st.trace.data,
			    "call 0 #0 call_DdmO9pD3xa9XTPNJ32zg2hcA get_weather\n"
			    "args 0 #0: {\"\n"
			    "args 0 #0: location\n"
			    "args 0 #0: \":\"\n"
			    "args 0 #0: Paris\n"
			    "args 0 #0: , France\n"
			    "args 0 #0: \"}\n"
			    "call 1 #1 call_eVrTGb8wUvW4gG3T2RvXQ2Ew get_weather\n"
			    "args 1 #1: {\"location\":\n"
			    "args 1 #1:  \"Bogot\xc3\xa1, Colombia\"}\n");
		adtest_stream_free(&st);
	}
	free(s);
}

/* Magistral's array content with thinking chunks, whole and streamed (once "malformed",
 * streamed: silently lost). */
static void
test_openai_mistral_magistral(void **state)
{
	size_t len;
	char *body = adtest_read("mistral_documented_magistral.json", &len);
	char *s;
	struct llm_response out;
	struct llm_error err;
	struct adtest_stream st;

	(void)state;
	if (body == NULL)
		fail_msg("mistral_documented_magistral.json missing");
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, len, &out, &err), 0);
	assert_string_equal(out.content, "2 + 2 = **4**.");
	assert_int_equal(out.n_parts, 2);
	assert_int_equal(out.parts[0].type, LLM_PART_THINKING);
	assert_string_equal(out.parts[0].text, "The user asks for 2+2. That is 4.");
	assert_int_equal(out.usage.output_tokens, 64);
	llm_response_free(&out);
	free(body);

	s = adtest_read("mistral_documented_magistral_stream.sse", &len);
	if (s == NULL)
		fail_msg("mistral_documented_magistral_stream.sse missing");
	adtest_run_stream(A, s, len, 3, &st);
	assert_int_equal(st.feed_rc, 1);
	assert_string_equal(st.text.data, "2 + 2 = **4**.");
	assert_int_equal(st.acc.n_parts, 2);
	assert_string_equal(st.acc.parts[0].text, "The user asks for 2+2.");
	assert_string_equal(st.acc.parts[1].text, "2 + 2 = **4**.");
	assert_int_equal(st.acc.usage.input_tokens, 17);
	adtest_stream_free(&st);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_build_openai),
	    cmocka_unit_test(test_openai_build_minimal),
	    cmocka_unit_test(test_openai_build_mistral),
	    cmocka_unit_test(test_openai_build_selfhosted),
	    cmocka_unit_test(test_openai_build_errors),
	    cmocka_unit_test(test_openai_parse),
	    cmocka_unit_test(test_openai_finish_reasons),
	    cmocka_unit_test(test_openai_parse_malformed),
	    cmocka_unit_test(test_openai_stream_recording),
	    cmocka_unit_test(test_openai_stream_errors),
	    cmocka_unit_test(test_openai_stream_shapes),
	    cmocka_unit_test(test_openai_classify),
	    cmocka_unit_test(test_openai_classify_retry_headers),
	    cmocka_unit_test(test_openai_retry_after_parsing),
	    cmocka_unit_test(test_openai_long_message),
	    cmocka_unit_test(test_openai_probe),
	    cmocka_unit_test(test_openai_build_tools_round_trip),
	    cmocka_unit_test(test_openai_build_mistral_tools),
	    cmocka_unit_test(test_openai_base_url_v1),
	    cmocka_unit_test(test_openai_check_refusals),
	    cmocka_unit_test(test_openai_parse_tool_calls),
	    cmocka_unit_test(test_openai_stream_tool_calls),
	    cmocka_unit_test(test_openai_mistral_magistral),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
