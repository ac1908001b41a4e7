/* test_adapter_anthropic.c: the Messages API adapter against recorded traffic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapter.h"
#include "adapter_priv.h"
#include "adapter_testutil.h"

static const struct adapter *A = &adapter_anthropic;

static void
simple_request(struct llm_request *r, const char *text)
{
	llm_request_init(r);
	llm_request_add_message(r, LLM_ROLE_USER, text);
}

static cJSON *
build(const struct provider_conf *c, const char *model, const struct llm_request *r, int stream,
    struct adapter_http *h)
{
	return adtest_build(A, c, model, r, stream, h);
}

static void
test_anthropic_for_kind(void **state)
{
	(void)state;
	assert_ptr_equal(adapter_for(PROVIDER_ANTHROPIC), &adapter_anthropic);
	assert_ptr_equal(adapter_for(PROVIDER_OPENAI), &adapter_openai);
	assert_ptr_equal(adapter_for(PROVIDER_AZURE), &adapter_azure);
	assert_string_equal(A->kind, "anthropic");
}

static void
test_anthropic_build_minimal(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI,
	    "https://api.anthropic.com/", "sk-ant-test");
	struct llm_request r;
	struct adapter_http h;
	cJSON *body, *msgs, *m;

	(void)state;
	simple_request(&r, "Hello");
	body = build(&c, "claude-sonnet-4-5", &r, 0, &h);
	assert_string_equal(h.method, "POST");
	assert_string_equal(h.url, "https://api.anthropic.com/v1/messages");
	assert_string_equal(adtest_header(&h, "x-api-key"), "sk-ant-test");
	assert_string_equal(adtest_header(&h, "anthropic-version"), "2023-06-01");
	assert_string_equal(adtest_header(&h, "content-type"), "application/json");
	assert_null(adtest_header(&h, "authorization"));

	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "claude-sonnet-4-5");
	/* No limit asked, no model config: the documented fallback (the API requires one). */
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint,
	    LLM_MAX_OUTPUT_FALLBACK);
	msgs = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 1);
	m = cJSON_GetArrayItem(msgs, 0);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, "user");
	assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring, "Hello");
	/* Nothing that was not asked for. */
	assert_null(cJSON_GetObjectItem(body, "system"));
	assert_null(cJSON_GetObjectItem(body, "temperature"));
	assert_null(cJSON_GetObjectItem(body, "top_p"));
	assert_null(cJSON_GetObjectItem(body, "stop_sequences"));
	assert_null(cJSON_GetObjectItem(body, "tools"));
	assert_null(cJSON_GetObjectItem(body, "stream"));
	assert_int_equal(cJSON_GetArraySize(body), 3);
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_anthropic_build_full(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "http://127.0.0.1:9999", NULL);
	struct llm_request r;
	struct adapter_http h;
	cJSON *body, *msgs, *stop, *tools, *want;
	const char *tools_json;
	char *cause = NULL;

	(void)state;
	simple_request(&r, "Hi");
	llm_request_add_message(&r, LLM_ROLE_ASSISTANT, "Hello!");
	llm_request_add_message(&r, LLM_ROLE_USER, "Weather?");
	r.system = xstrdup("You are terse.");
	r.has_temperature = 1;
	r.temperature = 0.25;
	r.has_top_p = 1;
	r.top_p = 0.9;
	r.max_tokens = 77;
	r.n_stop = 2;
	r.stop = xcalloc(2, sizeof *r.stop);
	r.stop[0] = xstrdup("END");
	r.stop[1] = xstrdup("\n\nHuman:");
	tools_json = "[{\"name\":\"get_weather\",\"description\":\"Weather\","
	             "\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]";
	assert_int_equal(llm_request_tools_from_json(&r, tools_json, &cause), 0);
	body = build(&c, "claude-haiku", &r, 1, &h);

	assert_string_equal(h.url, "http://127.0.0.1:9999/v1/messages");
	/* No key configured: no x-api-key header at all. */
	assert_null(adtest_header(&h, "x-api-key"));
	assert_string_equal(adtest_header(&h, "anthropic-version"), "2023-06-01");
	assert_string_equal(adtest_header(&h, "accept"), "text/event-stream");

	assert_string_equal(cJSON_GetObjectItem(body, "system")->valuestring, "You are terse.");
	msgs = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "role")->valuestring,
	    "assistant");
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0.25);
	assert_true(cJSON_GetObjectItem(body, "top_p")->valuedouble == 0.9);
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 77);
	stop = cJSON_GetObjectItem(body, "stop_sequences");
	assert_int_equal(cJSON_GetArraySize(stop), 2);
	assert_string_equal(cJSON_GetArrayItem(stop, 1)->valuestring, "\n\nHuman:");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")));
	tools = cJSON_GetObjectItem(body, "tools");
	want = cJSON_Parse(tools_json);
	assert_true(cJSON_Compare(tools, want, 1));
	cJSON_Delete(want);
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static void
test_anthropic_build_errors(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, NULL, "k");
	struct llm_request r;
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	simple_request(&r, "x");
	assert_int_equal(A->build_request(&c, NULL, "m", &r, 0, &h, &cause), -1);
	assert_non_null(strstr(cause, "base_url"));
	free(cause);
	cause = NULL;
	adapter_http_free(&h);

	c.base_url = (char *)"https://api.anthropic.com";
	assert_int_equal(A->build_request(&c, NULL, NULL, &r, 0, &h, &cause), -1);
	assert_non_null(strstr(cause, "model"));
	free(cause);
	cause = NULL;
	adapter_http_free(&h);

	assert_int_equal(llm_request_tools_from_json(&r, "{not json", &cause), -1);
	assert_non_null(strstr(cause, "tools"));
	free(cause);
	cause = NULL;
	llm_request_free(&r);

	llm_request_init(&r);
	assert_int_equal(A->build_request(&c, NULL, "m", &r, 0, &h, &cause), -1);
	assert_non_null(strstr(cause, "no messages"));
	free(cause);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* Our request for the recorded inputs carries the recorded request's required parts. */
static void
check_against_recording(const cJSON *rec, int stream)
{
	const cJSON *req = cJSON_GetObjectItem(rec, "request");
	const cJSON *rbody = cJSON_GetObjectItem(req, "body");
	const cJSON *rheaders = cJSON_GetObjectItem(req, "headers");
	const cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItem(rbody, "messages"), 0);
	static const char *const fields[] = {"model", "max_tokens", "messages", "stream"};
	static const char *const headers[] = {"anthropic-version", "content-type"};
	struct provider_conf c =
	    adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "https://api.anthropic.com", "sk-ant-x");
	struct llm_request r;
	struct adapter_http h;
	cJSON *body;

	simple_request(&r, cJSON_GetObjectItem(msg, "content")->valuestring);
	r.max_tokens = cJSON_GetObjectItem(rbody, "max_tokens")->valueint;
	body = build(&c, cJSON_GetObjectItem(rbody, "model")->valuestring, &r, stream, &h);
	assert_string_equal(h.method, cJSON_GetObjectItem(req, "method")->valuestring);
	assert_string_equal(h.url, cJSON_GetObjectItem(req, "url")->valuestring);
	for (size_t i = 0; i < nitems(headers); i++)
		assert_string_equal(adtest_header(&h, headers[i]),
		    cJSON_GetObjectItem(rheaders, headers[i])->valuestring);
	for (size_t i = 0; i < nitems(fields); i++) {
		const cJSON *want = cJSON_GetObjectItem(rbody, fields[i]);
		if (want == NULL)
			assert_null(cJSON_GetObjectItem(body, fields[i]));
		else
			assert_true(cJSON_Compare(cJSON_GetObjectItem(body, fields[i]), want, 1));
	}
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

static cJSON *
load_recording(const char *name)
{
	size_t len;
	char *s = adtest_read(name, &len);
	cJSON *j;

	assert_non_null(s);
	j = cJSON_ParseWithLength(s, len);
	assert_non_null(j);
	free(s);
	return j;
}

static void
test_anthropic_recorded_200(void **state)
{
	cJSON *rec = load_recording("anthropic_recorded_200.json");
	const cJSON *pair = cJSON_GetArrayItem(rec, 0);
	const cJSON *resp = cJSON_GetObjectItem(pair, "response");
	char *body = cJSON_PrintUnformatted(cJSON_GetObjectItem(resp, "body"));
	struct llm_response out;
	struct llm_error err;

	(void)state;
	check_against_recording(pair, 0);
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, strlen(body), &out, &err), 0);
	assert_string_equal(out.content,
	    "{\"items\":[{\"product_name\":\"Green Tea\",\"price\":5.50,\"quantity\":2},"
	    "{\"product_name\":\"Coffee\",\"price\":3.00,\"quantity\":1}],\"total\":14.0}");
	assert_string_equal(out.id, "msg_01T4jd6NyD9xGGtTPDC4ogy5");
	assert_string_equal(out.model, "claude-sonnet-4-5-20250929");
	assert_int_equal(out.stop, LLM_STOP_END);
	assert_string_equal(out.stop_raw, "end_turn");
	assert_int_equal(out.usage.input_tokens, 406);
	assert_int_equal(out.usage.output_tokens, 50);
	assert_int_equal(out.usage.cache_read_tokens, 0);
	assert_int_equal(out.usage.cache_write_tokens, 0);
	llm_response_free(&out);

	/* The same body cut anywhere is malformed, never a crash or a half answer. */
	for (size_t cut = 0; cut < strlen(body); cut += 13) {
		llm_response_init(&out);
		assert_int_equal(A->parse_response(body, cut, &out, &err), -1);
		assert_int_equal(err.cls, LLM_ERR_MALFORMED);
		assert_true(err.retryable);
		assert_null(out.content);
		llm_response_free(&out);
	}
	free(body);
	cJSON_Delete(rec);
}

static void
test_anthropic_recorded_429_then_stream(void **state)
{
	cJSON *rec = load_recording("anthropic_recorded_429_then_stream.json");
	const cJSON *pair, *resp, *hv;
	struct http_headers hdrs = {0};
	struct adtest_stream st;
	struct llm_error err;
	size_t chunks[] = {1, 7, 0};
	char *body;
	const char *sse;
	int i = 0;

	(void)state;
	assert_int_equal(cJSON_GetArraySize(rec), 3);
	cJSON_ArrayForEach(pair, rec)
	{
		check_against_recording(pair, 1);
		resp = cJSON_GetObjectItem(pair, "response");
		if (i++ < 2) {
			assert_int_equal(cJSON_GetObjectItem(resp, "status_code")->valueint, 429);
			cJSON_ArrayForEach(hv, cJSON_GetObjectItem(resp, "headers"))
			    adtest_headers_add(&hdrs, hv->string, hv->valuestring);
			body = cJSON_PrintUnformatted(cJSON_GetObjectItem(resp, "body"));
			A->classify_error(429, &hdrs, body, strlen(body), &err);
			assert_int_equal(err.cls, LLM_ERR_RATE_LIMIT);
			assert_int_equal(err.status, 429);
			assert_true(err.retryable);
			assert_int_equal(err.should_retry, 1);
			assert_int_equal(err.retry_after_ms, -1);
			assert_string_equal(err.type, "rate_limit_error");
			assert_true(strstr(err.message, "This request would exceed") ==
			    err.message);
			assert_null(strchr(err.message, '\n'));
			assert_true(strlen(err.message) < sizeof err.message);
			free(body);
			adtest_headers_free(&hdrs);
			continue;
		}
		sse = cJSON_GetObjectItem(resp, "body")->valuestring;
		for (size_t c = 0; c < nitems(chunks); c++) {
			adtest_run_stream(A, sse, strlen(sse), chunks[c], &st);
			assert_int_equal(st.feed_rc, 1);
			assert_int_equal(st.finish_rc, 2);
			assert_string_equal(st.text.data, "[12345,67890]");
			assert_int_equal(st.n_deltas, 4);
			assert_string_equal(st.acc.content, "[12345,67890]");
			assert_string_equal(st.acc.id, "msg_013nnniYDrJDocdy5nrMU7cH");
			assert_string_equal(st.acc.model, "claude-sonnet-4-5-20250929");
			assert_int_equal(st.acc.usage.input_tokens, 135);
			assert_int_equal(st.acc.usage.output_tokens, 10);
			assert_int_equal(st.acc.stop, LLM_STOP_END);
			assert_string_equal(st.acc.stop_raw, "end_turn");
			adtest_stream_free(&st);
		}
	}
	cJSON_Delete(rec);
}

static void
test_anthropic_stream_basic_recording(void **state)
{
	size_t len, chunks[] = {1, 7, 0};
	char *sse = adtest_read("anthropic_basic_stream.sse", &len);
	struct adtest_stream st;

	(void)state;
	assert_non_null(sse);
	for (size_t c = 0; c < nitems(chunks); c++) {
		adtest_run_stream(A, sse, len, chunks[c], &st);
		/* No newline after message_stop: the end is seen at finish. */
		assert_int_equal(st.feed_rc, 0);
		assert_int_equal(st.finish_rc, 0);
		assert_string_equal(st.text.data, "Hello there!");
		assert_int_equal(st.n_deltas, 3);
		assert_string_equal(st.acc.content, "Hello there!");
		assert_string_equal(st.acc.id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
		assert_string_equal(st.acc.model, "claude-3-opus-latest");
		assert_int_equal(st.acc.usage.input_tokens, 11);
		assert_int_equal(st.acc.usage.output_tokens, 6);
		assert_int_equal(st.acc.stop, LLM_STOP_END);
		adtest_stream_free(&st);
	}

	/* The same with \r\n line ends and a final blank line: feed sees the end. */
	struct buf crlf;
	buf_init(&crlf);
	for (size_t i = 0; i < len; i++) {
		if (sse[i] == '\n')
			buf_append(&crlf, "\r", 1);
		buf_append(&crlf, sse + i, 1);
	}
	buf_puts(&crlf, "\r\n\r\n");
	adtest_run_stream(A, crlf.data, crlf.len, 5, &st);
	assert_int_equal(st.feed_rc, 1);
	assert_string_equal(st.text.data, "Hello there!");
	adtest_stream_free(&st);
	buf_free(&crlf);
	free(sse);
}

#define START \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"," \
	"\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
#define DELTA(t) \
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0," \
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}\n\n"

static void
test_anthropic_stream_error_event(void **state)
{
	const char *s = START DELTA("Hi") "event: error\ndata: {\"type\":\"error\",\"error\":"
	                                  "{\"type\":\"overloaded_error\",\"message\":"
	                                  "\"Overloaded\"}}\n\n" DELTA("never");
	struct adtest_stream st;

	(void)state;
	for (size_t chunk = 0; chunk < 4; chunk++) {
		adtest_run_stream(A, s, strlen(s), chunk, &st);
		assert_int_equal(st.feed_rc, -1);
		assert_int_equal(st.err.cls, LLM_ERR_OVERLOADED);
		assert_true(st.err.retryable);
		assert_string_equal(st.err.type, "overloaded_error");
		assert_string_equal(st.err.message, "Overloaded");
		assert_string_equal(st.text.data, "Hi");
		adtest_stream_free(&st);
	}

	/* An error before any text, of another type. */
	s = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
	    "\"message\":\"slow down\"}}\n\n";
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_RATE_LIMIT);
	adtest_stream_free(&st);
}

static void
test_anthropic_stream_cut(void **state)
{
	const char *before = START;
	const char *after = START DELTA("partial");
	struct adtest_stream st;

	(void)state;
	adtest_run_stream(A, before, strlen(before), 0, &st);
	assert_int_equal(st.feed_rc, 0);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_MALFORMED);
	assert_non_null(strstr(st.err.message, "stream ended before message_stop"));
	adtest_stream_free(&st);

	adtest_run_stream(A, after, strlen(after), 3, &st);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_STREAM);
	assert_non_null(strstr(st.err.message, "stream ended before message_stop"));
	assert_string_equal(st.text.data, "partial");
	adtest_stream_free(&st);

	/* Cut in the middle of an event's JSON. */
	adtest_run_stream(A, after, strlen(after) - 10, 0, &st);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_MALFORMED);
	adtest_stream_free(&st);

	/* Empty body. */
	adtest_run_stream(A, "", 0, 0, &st);
	assert_int_equal(st.finish_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_MALFORMED);
	adtest_stream_free(&st);
}

static void
test_anthropic_stream_ignores_unknown(void **state)
{
	/* clang-format off */
	const char *s = ": comment\n\n" START
	    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	    "event: brand_new_event\ndata: {\"type\":\"brand_new_event\",\"x\":[1,2]}\n\n"
	    "event: content_block_delta\ndata: "
	    "{\"type\":\"content_block_delta\",\"index\":1,"
	    "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n"
	    DELTA("ok")
	    "event: message_delta\ndata: "
	    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	    "\"max_tokens\"},\"usage\":{\"output_tokens\":42,\"cache_"
	    "read_input_tokens\":3}}\n\n"
	    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	/* clang-format on */
	struct adtest_stream st;

	(void)state;
	adtest_run_stream(A, s, strlen(s), 1, &st);
	assert_int_equal(st.feed_rc, 1);
	assert_string_equal(st.text.data, "ok");
	assert_int_equal(st.acc.stop, LLM_STOP_MAX_TOKENS);
	assert_int_equal(st.acc.usage.output_tokens, 42);
	assert_int_equal(st.acc.usage.input_tokens, 5 + 3); /* cache reads counted in */
	assert_int_equal(st.acc.usage.cache_read_tokens, 3);
	adtest_stream_free(&st);

	/* Bad JSON in a delta before any text is malformed. */
	s = START "event: content_block_delta\ndata: {\"type\":\n\n";
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, -1);
	assert_int_equal(st.err.cls, LLM_ERR_MALFORMED);
	assert_non_null(strstr(st.err.message, "content_block_delta"));
	adtest_stream_free(&st);

	/* A stream with no text at all still ends with an empty content. */
	s = START "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
	adtest_run_stream(A, s, strlen(s), 0, &st);
	assert_int_equal(st.feed_rc, 1);
	assert_string_equal(st.acc.content, "");
	adtest_stream_free(&st);
}

static void
test_anthropic_parse_shapes(void **state)
{
	const char *many =
	    "{\"id\":\"msg_2\",\"type\":\"message\",\"model\":\"m\",\"content\":["
	    "{\"type\":\"thinking\",\"thinking\":\"hmm\"},{\"type\":\"text\",\"text\":\"A\"},"
	    "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}},"
	    "{\"type\":\"text\",\"text\":\"B\"}],\"stop_reason\":\"tool_use\",\"usage\":"
	    "{\"input_tokens\":10,\"output_tokens\":2,\"cache_read_input_tokens\":7,"
	    "\"cache_creation_input_tokens\":4}}";
	static const struct {
		const char *word;
		enum llm_stop stop;
	} stops[] = {
	    {"end_turn", LLM_STOP_END},
	    {"max_tokens", LLM_STOP_MAX_TOKENS},
	    {"stop_sequence", LLM_STOP_STOP_SEQUENCE},
	    {"tool_use", LLM_STOP_TOOL_USE},
	    {"refusal", LLM_STOP_CONTENT_FILTER},
	    {"pause_turn", LLM_STOP_OTHER},
	    {"model_context_window_exceeded", LLM_STOP_MAX_TOKENS},
	    {"something_new", LLM_STOP_OTHER},
	};
	struct llm_response out;
	struct llm_error err;
	char *s;

	(void)state;
	llm_response_init(&out);
	assert_int_equal(A->parse_response(many, strlen(many), &out, &err), 0);
	assert_string_equal(out.content, "AB");
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	assert_int_equal(out.usage.cache_read_tokens, 7);
	assert_int_equal(out.usage.cache_write_tokens, 4);
	llm_response_free(&out);

	for (size_t i = 0; i < nitems(stops); i++) {
		s = xasprintf("{\"content\":[],\"stop_reason\":\"%s\"}", stops[i].word);
		llm_response_init(&out);
		assert_int_equal(A->parse_response(s, strlen(s), &out, &err), 0);
		assert_int_equal(out.stop, stops[i].stop);
		assert_string_equal(out.stop_raw, stops[i].word);
		assert_string_equal(out.content, "");
		llm_response_free(&out);
		free(s);
	}
	s = xstrdup("{\"content\":[],\"stop_reason\":null}");
	llm_response_init(&out);
	assert_int_equal(A->parse_response(s, strlen(s), &out, &err), 0);
	assert_int_equal(out.stop, LLM_STOP_NONE);
	assert_null(out.stop_raw);
	llm_response_free(&out);
	free(s);
}

static void
test_anthropic_parse_malformed(void **state)
{
	static const struct {
		const char *body;
		const char *msg;
	} cases[] = {
	    {"", "not JSON"},
	    {"<html>502</html>", "not JSON"},
	    {"[1,2]", "not a JSON object"},
	    {"{\"id\":\"x\"}", "anthropic response: no content array"},
	    {"{\"content\":\"text\"}", "anthropic response: no content array"},
	    {"{\"content\":[{\"type\":\"text\"}]}", "text block without text"},
	    {"{\"content\":[{\"type\":\"text\",\"text\":\"a\"}", "not JSON"},
	    {"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
	     "\"Overloaded\"}}",
	        "anthropic response: an error body: Overloaded"},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		adtest_expect_malformed(A, cases[i].body, cases[i].msg, i);
}

static void
classify(int status, const char *body, struct llm_error *err)
{
	A->classify_error(status, NULL, body, body != NULL ? strlen(body) : 0, err);
}

#define AERR(t, m) \
	"{\"type\":\"error\",\"error\":{\"type\":\"" t "\",\"message\":\"" m "\"}," \
	"\"request_id\":\"req_1\"}"

static void
test_anthropic_classify(void **state)
{
	static const struct {
		int status;
		const char *body;
		enum llm_errclass cls;
		int retryable;
		const char *type;
	} cases[] = {
	    {400, AERR("invalid_request_error", "bad"), LLM_ERR_BAD_REQUEST, 0,
	        "invalid_request_error"},
	    {401, AERR("authentication_error", "invalid x-api-key"), LLM_ERR_AUTH, 0,
	        "authentication_error"},
	    {403, AERR("permission_error", "no"), LLM_ERR_AUTH, 0, "permission_error"},
	    {404, AERR("not_found_error", "model: x"), LLM_ERR_NOT_FOUND, 0, "not_found_error"},
	    {413, AERR("request_too_large", "big"), LLM_ERR_BAD_REQUEST, 0, "request_too_large"},
	    {429, AERR("rate_limit_error", "slow"), LLM_ERR_RATE_LIMIT, 1, "rate_limit_error"},
	    {500, AERR("api_error", "oops"), LLM_ERR_SERVER, 1, "api_error"},
	    {504, AERR("timeout_error", "late"), LLM_ERR_SERVER, 1, "timeout_error"},
	    {529, AERR("overloaded_error", "Overloaded"), LLM_ERR_OVERLOADED, 1,
	        "overloaded_error"},
	    /* The body's overloaded_error wins over a plain 500. */
	    {500, AERR("overloaded_error", "Overloaded"), LLM_ERR_OVERLOADED, 1,
	        "overloaded_error"},
	};
	struct llm_error err;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		classify(cases[i].status, cases[i].body, &err);
		if (err.cls != cases[i].cls)
			fail_msg("case %zu: class %s", i, llm_errclass_name(err.cls));
		assert_int_equal(err.status, cases[i].status);
		assert_int_equal(err.retryable, cases[i].retryable);
		assert_string_equal(err.type, cases[i].type);
		assert_int_equal(err.retry_after_ms, -1);
		assert_int_equal(err.should_retry, -1);
	}
	classify(529,
	    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	    "\"message\":\"Overloaded\"}}",
	    &err);
	assert_string_equal(err.message, "Overloaded");
}

static void
test_anthropic_classify_headers(void **state)
{
	struct http_headers h = {0};
	struct llm_error err;
	const char *body = AERR("api_error", "x");

	(void)state;
	/* x-should-retry: false vetoes a retry of a 500. */
	adtest_headers_add(&h, "x-should-retry", "false");
	A->classify_error(500, &h, body, strlen(body), &err);
	assert_int_equal(err.cls, LLM_ERR_SERVER);
	assert_int_equal(err.retryable, 0);
	assert_int_equal(err.should_retry, 0);
	adtest_headers_free(&h);

	/* x-should-retry: true does not make a 400 retryable. */
	adtest_headers_add(&h, "X-Should-Retry", "true");
	A->classify_error(400, &h, body, strlen(body), &err);
	assert_int_equal(err.cls, LLM_ERR_BAD_REQUEST);
	assert_int_equal(err.retryable, 0);
	assert_int_equal(err.should_retry, 1);
	adtest_headers_free(&h);

	adtest_headers_add(&h, "retry-after", "30");
	A->classify_error(429, &h, body, strlen(body), &err);
	assert_int_equal(err.retry_after_ms, 30000);
	adtest_headers_free(&h);
}

static void
test_anthropic_probe(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "https://api.anthropic.com", "sk-ant-k");
	struct adapter_http h;
	char *cause = NULL;

	(void)state;
	assert_int_equal(A->build_probe(&c, &h, &cause), 0);
	assert_string_equal(h.method, "GET");
	assert_string_equal(h.url, "https://api.anthropic.com/v1/models");
	assert_string_equal(adtest_header(&h, "x-api-key"), "sk-ant-k");
	assert_string_equal(adtest_header(&h, "anthropic-version"), "2023-06-01");
	assert_null(h.body);
	adapter_http_free(&h);

	c.api_key = NULL;
	assert_int_equal(A->build_probe(&c, &h, &cause), 0);
	assert_null(adtest_header(&h, "x-api-key"));
	adapter_http_free(&h);
}

static void
test_anthropic_request_id(void **state)
{
	struct http_headers h = {0};
	struct llm_response r;

	(void)state;
	llm_response_init(&r);
	adtest_headers_add(&h, "content-type", "application/json");
	adtest_headers_add(&h, "request-id", "req_011CYK5n67");
	adapter_read_request_id(&h, &r);
	assert_string_equal(r.request_id, "req_011CYK5n67");
	adtest_headers_free(&h);
	llm_response_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_anthropic_for_kind),
	    cmocka_unit_test(test_anthropic_build_minimal),
	    cmocka_unit_test(test_anthropic_build_full),
	    cmocka_unit_test(test_anthropic_build_errors),
	    cmocka_unit_test(test_anthropic_recorded_200),
	    cmocka_unit_test(test_anthropic_recorded_429_then_stream),
	    cmocka_unit_test(test_anthropic_stream_basic_recording),
	    cmocka_unit_test(test_anthropic_stream_error_event),
	    cmocka_unit_test(test_anthropic_stream_cut),
	    cmocka_unit_test(test_anthropic_stream_ignores_unknown),
	    cmocka_unit_test(test_anthropic_parse_shapes),
	    cmocka_unit_test(test_anthropic_parse_malformed),
	    cmocka_unit_test(test_anthropic_classify),
	    cmocka_unit_test(test_anthropic_classify_headers),
	    cmocka_unit_test(test_anthropic_probe),
	    cmocka_unit_test(test_anthropic_request_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
