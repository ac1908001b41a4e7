/* test_adapter_anthropic.c: the Messages API adapter against recorded traffic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "provider/adapter_priv.h"
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

/* A tool loop as the model carries it: tools, a forced tool, an assistant tool call with
 * its thinking, the results (one failed), images, cache breakpoints. */
static void
test_anthropic_build_tools_round_trip(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "https://api.anthropic.com/v1/", "k");
	struct llm_request r;
	struct llm_message *m;
	struct llm_part *p;
	struct llm_tool *t;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	adtest_request(&r, "Weather in Paris and Bogota?");
	r.system = xstrdup("You are a weather bot.");
	r.system_cache = LLM_CACHE_1H;
	t = llm_request_add_tool(&r, "get_weather", "Current weather",
	    "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}},"
	    "\"required\":[\"location\"]}");
	t->cache = LLM_CACHE_5M;
	r.tool_choice = LLM_TOOL_CHOICE_NAMED;
	r.tool_choice_name = xstrdup("get_weather");
	r.has_parallel_tool_calls = 1;
	r.parallel_tool_calls = 0;
	m = llm_request_new_message(&r, LLM_ROLE_ASSISTANT);
	p = llm_message_add_part(m, LLM_PART_THINKING);
	p->text = xstrdup("Two cities: two calls.");
	p->signature = xstrdup("sig-1");
	p = llm_message_add_part(m, LLM_PART_THINKING); /* unsigned (another provider's) */
	p->text = xstrdup("not for Anthropic");
	llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup("Checking.");
	adtest_add_tool_call(m, "toolu_1", "get_weather", "{\"location\":\"Paris\"}");
	adtest_add_tool_call(m, "toolu_2", "get_weather", "");
	m = llm_request_new_message(&r, LLM_ROLE_USER);
	llm_message_add_part(m, LLM_PART_TEXT)->text = xstrdup("Here you are.");
	adtest_add_tool_result(m, "toolu_1", "18C, sunny", 0);
	adtest_add_tool_result(m, "toolu_2", "timeout", 1);
	p = llm_message_add_part(m, LLM_PART_IMAGE);
	p->url = xstrdup("data:image/png;base64,iVBORw0KGgo=");
	p->cache = LLM_CACHE_5M;
	p = llm_message_add_part(m, LLM_PART_IMAGE);
	p->url = xstrdup("https://example.com/map.jpg");
	p = llm_message_add_part(m, LLM_PART_IMAGE);
	p->media_type = xstrdup("image/webp");
	p->data = xstrdup("UklGRg==");
	adtest_check(A, &c, NULL, "claude-sonnet-4-5", &r, NULL, 0);
	body = build(&c, "claude-sonnet-4-5", &r, 0, &h);

	/* A base URL with /v1 is accepted: never /v1/v1. */
	assert_string_equal(h.url, "https://api.anthropic.com/v1/messages");
	assert_string_equal(adtest_str(body, "system.0.text"), "You are a weather bot.");
	assert_string_equal(adtest_str(body, "system.0.cache_control.type"), "ephemeral");
	assert_string_equal(adtest_str(body, "system.0.cache_control.ttl"), "1h");
	assert_string_equal(adtest_str(body, "tools.0.name"), "get_weather");
	assert_string_equal(adtest_str(body, "tools.0.input_schema.required.0"), "location");
	assert_string_equal(adtest_str(body, "tools.0.cache_control.type"), "ephemeral");
	assert_null(adtest_at(body, "tools.0.cache_control.ttl"));
	assert_string_equal(adtest_str(body, "tool_choice.type"), "tool");
	assert_string_equal(adtest_str(body, "tool_choice.name"), "get_weather");
	assert_true(cJSON_IsTrue(adtest_at(body, "tool_choice.disable_parallel_tool_use")));
	/* The first message stays a plain string, as the recordings have it. */
	assert_string_equal(adtest_str(body, "messages.0.content"), "Weather in Paris and Bogota?");
	/* The assistant turn: signed thinking kept, unsigned dropped, text, tool_use. */
	assert_int_equal(cJSON_GetArraySize(adtest_at(body, "messages.1.content")), 4);
	assert_string_equal(adtest_str(body, "messages.1.content.0.type"), "thinking");
	assert_string_equal(adtest_str(body, "messages.1.content.0.signature"), "sig-1");
	assert_string_equal(adtest_str(body, "messages.1.content.1.text"), "Checking.");
	assert_string_equal(adtest_str(body, "messages.1.content.2.type"), "tool_use");
	assert_string_equal(adtest_str(body, "messages.1.content.2.id"), "toolu_1");
	assert_string_equal(adtest_str(body, "messages.1.content.2.input.location"), "Paris");
	/* Empty arguments are an empty object. */
	assert_true(cJSON_IsObject(adtest_at(body, "messages.1.content.3.input")));
	/* The user turn: tool results first, then text and images. */
	assert_string_equal(adtest_str(body, "messages.2.content.0.type"), "tool_result");
	assert_string_equal(adtest_str(body, "messages.2.content.0.tool_use_id"), "toolu_1");
	assert_string_equal(adtest_str(body, "messages.2.content.0.content.0.text"), "18C, sunny");
	assert_null(adtest_at(body, "messages.2.content.0.is_error"));
	assert_true(cJSON_IsTrue(adtest_at(body, "messages.2.content.1.is_error")));
	assert_string_equal(adtest_str(body, "messages.2.content.2.text"), "Here you are.");
	assert_string_equal(adtest_str(body, "messages.2.content.3.source.type"), "base64");
	assert_string_equal(adtest_str(body, "messages.2.content.3.source.media_type"),
	    "image/png");
	assert_string_equal(adtest_str(body, "messages.2.content.3.source.data"), "iVBORw0KGgo=");
	assert_string_equal(adtest_str(body, "messages.2.content.3.cache_control.type"),
	    "ephemeral");
	assert_string_equal(adtest_str(body, "messages.2.content.4.source.type"), "url");
	assert_string_equal(adtest_str(body, "messages.2.content.4.source.url"),
	    "https://example.com/map.jpg");
	assert_string_equal(adtest_str(body, "messages.2.content.5.source.media_type"),
	    "image/webp");
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* max_tokens from the model's max_output_tokens; thinking, metadata, structured output,
 * top_k and same-kind passthrough. */
static void
test_anthropic_build_limits_and_extras(void **state)
{
	struct provider_conf c =
	    adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "https://api.anthropic.com", "k");
	struct model_conf m;
	struct llm_request r;
	struct adapter_http h;
	cJSON *body;

	(void)state;
	memset(&m, 0, sizeof m);
	m.max_output_tokens = 64000;
	adtest_request(&r, "Think.");
	r.thinking_budget = 10000;
	r.user = xstrdup("user-42");
	r.top_k = 0;
	r.passthrough = xstrdup("{\"service_tier\":\"standard_only\",\"model\":\"evil\"}");
	r.passthrough_api = LLM_API_ANTHROPIC;
	body = adtest_build_m(A, &c, &m, "claude-sonnet-4-5", &r, 0, &h);
	assert_int_equal((int)adtest_num(body, "max_tokens"), 64000);
	assert_string_equal(adtest_str(body, "thinking.type"), "enabled");
	assert_int_equal((int)adtest_num(body, "thinking.budget_tokens"), 10000);
	assert_string_equal(adtest_str(body, "metadata.user_id"), "user-42");
	/* Passthrough adds what the adapter did not write, never overrides it. */
	assert_string_equal(adtest_str(body, "service_tier"), "standard_only");
	assert_string_equal(adtest_str(body, "model"), "claude-sonnet-4-5");
	cJSON_Delete(body);
	adapter_http_free(&h);

	/* The caller's max_tokens wins; effort maps to a budget; another API's passthrough
	 * is not applied. */
	r.max_tokens = 5000;
	r.thinking_budget = 0;
	r.reasoning_effort = xstrdup("medium");
	r.passthrough_api = LLM_API_OPENAI;
	body = adtest_build_m(A, &c, &m, "claude-sonnet-4-5", &r, 1, &h);
	assert_int_equal((int)adtest_num(body, "max_tokens"), 5000);
	assert_int_equal((int)adtest_num(body, "thinking.budget_tokens"), 2048);
	assert_null(adtest_at(body, "service_tier"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);

	/* Structured output (the recorded claude-sonnet-4-5 request's output_config), top_k. */
	adtest_request(&r, "Order ids?");
	r.response_format.type = LLM_FORMAT_JSON_SCHEMA;
	r.response_format.name = xstrdup("ids");
	r.response_format.schema = xstrdup("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}");
	r.top_k = 40;
	adtest_check(A, &c, &m, "claude-sonnet-4-5", &r, NULL, 0);
	body = adtest_build_m(A, &c, &m, "claude-sonnet-4-5", &r, 0, &h);
	assert_string_equal(adtest_str(body, "output_config.format.type"), "json_schema");
	assert_string_equal(adtest_str(body, "output_config.format.schema.items.type"), "integer");
	assert_int_equal((int)adtest_num(body, "top_k"), 40);
	assert_null(adtest_at(body, "response_format"));
	cJSON_Delete(body);
	adapter_http_free(&h);
	llm_request_free(&r);
}

/* What Anthropic cannot honour is refused with the field, never dropped. */
static void
test_anthropic_check_refusals(void **state)
{
	struct provider_conf c = adtest_conf(PROVIDER_ANTHROPIC, FLAVOR_OPENAI, "http://h", "k");
	struct model_conf m;
	struct llm_request r;
	struct llm_part *p;
	int i = 0;

	(void)state;
	memset(&m, 0, sizeof m);
	m.max_output_tokens = 8192;
#define CASE(setup, model, param) \
	do { \
		adtest_request(&r, "x"); \
		setup; \
		adtest_check(A, &c, &m, model, &r, param, i++); \
		llm_request_free(&r); \
	} while (0)
	/* Temperature: 0..1 on Anthropic. */
	CASE((r.has_temperature = 1, r.temperature = 1.5), "claude-sonnet-4-5", "temperature");
	CASE((r.has_temperature = 1, r.temperature = 1.0), "claude-sonnet-4-5", NULL);
	/* Claude 4.1 and later: temperature or top_p, not both; Sonnet 4 and 3.5 take both. */
	CASE((r.has_temperature = 1, r.temperature = 0.5, r.has_top_p = 1, r.top_p = 0.9),
	    "claude-sonnet-4-5", "top_p");
	CASE((r.has_temperature = 1, r.temperature = 0.5, r.has_top_p = 1, r.top_p = 0.9),
	    "claude-opus-4-1-20250805", "top_p");
	CASE((r.has_temperature = 1, r.temperature = 0.5, r.has_top_p = 1, r.top_p = 0.9),
	    "claude-haiku-4-5", "top_p");
	CASE((r.has_temperature = 1, r.temperature = 0.5, r.has_top_p = 1, r.top_p = 0.9),
	    "claude-sonnet-4-20250514", NULL);
	CASE((r.has_temperature = 1, r.temperature = 0.5, r.has_top_p = 1, r.top_p = 0.9),
	    "claude-3-5-haiku-20241022", NULL);
	CASE((r.has_top_p = 1, r.top_p = 0.9), "claude-sonnet-4-5", NULL);
	/* No seed, no JSON mode without a schema, structured output from 4.1 on only. */
	CASE((r.has_seed = 1, r.seed = 7), "claude-sonnet-4-5", "seed");
	CASE(r.response_format.type = LLM_FORMAT_JSON_OBJECT, "claude-sonnet-4-5",
	    "response_format");
	CASE((r.response_format.type = LLM_FORMAT_JSON_SCHEMA,
	         r.response_format.schema = xstrdup("{\"type\":\"object\"}")),
	    "claude-3-5-haiku-20241022", "response_format");
	CASE(r.response_format.type = LLM_FORMAT_TEXT, "claude-sonnet-4-5", NULL);
	/* metadata beyond user_id */
	CASE(r.metadata = xstrdup("{\"session\":\"s1\"}"), "claude-sonnet-4-5", "metadata");
	CASE(r.metadata = xstrdup("{}"), "claude-sonnet-4-5", NULL);
	/* Thinking's rules. */
	CASE(r.thinking_budget = 512, "claude-sonnet-4-5", "thinking");
	CASE(r.thinking_budget = 8192, "claude-sonnet-4-5", "thinking"); /* >= max_tokens */
	CASE((r.thinking_budget = 2048, r.has_temperature = 1, r.temperature = 0.2),
	    "claude-sonnet-4-5", "temperature");
	CASE((r.thinking_budget = 2048, r.top_k = 5), "claude-sonnet-4-5", "top_k");
	CASE((r.thinking_budget = 2048, r.has_top_p = 1, r.top_p = 0.5), "claude-sonnet-4-5",
	    "top_p");
	CASE((r.thinking_budget = 2048, llm_request_add_tool(&r, "f", NULL, NULL),
	         r.tool_choice = LLM_TOOL_CHOICE_ANY),
	    "claude-sonnet-4-5", "tool_choice");
	CASE(r.reasoning_effort = xstrdup("extreme"), "claude-sonnet-4-5", "reasoning_effort");
	CASE(r.reasoning_effort = xstrdup("high"), "claude-sonnet-4-5", NULL);
	/* Common checks: a named tool that is not there, a forced tool with no tools. */
	CASE((llm_request_add_tool(&r, "f", NULL, NULL), r.tool_choice = LLM_TOOL_CHOICE_NAMED,
	         r.tool_choice_name = xstrdup("g")),
	    "claude-sonnet-4-5", "tool_choice");
	CASE(r.tool_choice = LLM_TOOL_CHOICE_ANY, "claude-sonnet-4-5", "tool_choice");
	/* Images: Anthropic's media types, no OpenAI detail. */
	CASE((p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE),
	         p->media_type = xstrdup("image/bmp"), p->data = xstrdup("Qk0=")),
	    "claude-sonnet-4-5", "messages[0].content[1]");
	CASE((p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE),
	         p->url = xstrdup("https://x/y.png"), p->detail = xstrdup("low")),
	    "claude-sonnet-4-5", "messages[0].content[1]");
	CASE((p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE),
	         p->url = xstrdup("ftp://x/y.png")),
	    "claude-sonnet-4-5", "messages[0].content[1]");
	/* A tool call in a user message, arguments that are not an object. */
	CASE(adtest_add_tool_call(&r.messages[0], "t1", "f", "{}"), "claude-sonnet-4-5",
	    "messages[0].content[1]");
	CASE(adtest_add_tool_call(llm_request_new_message(&r, LLM_ROLE_ASSISTANT), "t1", "f",
	         "[1]"),
	    "claude-sonnet-4-5", "messages[1].content[0]");
#undef CASE
}

/* A whole response with thinking, redacted thinking, text and a tool call; usage with the
 * cache writes split into 5-minute and 1-hour ones (a documented example). */
static void
test_anthropic_parse_tool_use(void **state)
{
	size_t len;
	char *body = adtest_read("anthropic_documented_tool_use.json", &len);
	struct llm_response out;
	struct llm_error err;

	(void)state;
	if (body == NULL)
		fail_msg("anthropic_documented_tool_use.json missing");
	llm_response_init(&out);
	assert_int_equal(A->parse_response(body, len, &out, &err), 0);
	assert_string_equal(out.content,
	    "I'll check the current weather in San Francisco for you.");
	assert_int_equal(out.n_parts, 4);
	assert_int_equal(out.parts[0].type, LLM_PART_THINKING);
	assert_string_equal(out.parts[0].signature,
	    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds");
	assert_int_equal(out.parts[1].type, LLM_PART_REDACTED_THINKING);
	assert_non_null(strstr(out.parts[1].data, "EmwKAhgB"));
	assert_int_equal(out.parts[2].type, LLM_PART_TEXT);
	assert_int_equal(out.parts[3].type, LLM_PART_TOOL_CALL);
	assert_string_equal(out.parts[3].id, "toolu_01A09q90qw90lq917835lq9");
	assert_string_equal(out.parts[3].name, "get_weather");
	assert_string_equal(out.parts[3].arguments,
	    "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}");
	assert_int_equal(out.parts[3].index, 0);
	assert_int_equal(llm_response_tool_calls(&out), 1);
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	/* input_tokens counts the cache reads and writes in; Anthropic's own is 472. */
	assert_int_equal(out.usage.input_tokens, 472 + 1024 + 2048);
	assert_int_equal(out.usage.cache_read_tokens, 1024);
	assert_int_equal(out.usage.cache_write_tokens, 2048);
	assert_int_equal(out.usage.cache_write_1h_tokens, 1536);
	assert_int_equal(out.usage.output_tokens, 89);
	assert_true(out.usage.has_cache_detail);
	llm_response_free(&out);
	free(body);
}

/* The documented thinking + tool-use stream, fed a byte at a time and whole. */
static void
test_anthropic_stream_thinking_tool(void **state)
{
	size_t len, chunks[] = {0, 1, 7};
	char *s = adtest_read("anthropic_documented_thinking_tool_stream.sse", &len);

	(void)state;
	if (s == NULL)
		fail_msg("anthropic_documented_thinking_tool_stream.sse missing");
	for (size_t i = 0; i < nitems(chunks); i++) {
		struct adtest_stream st;

		adtest_run_stream(A, s, len, chunks[i], &st);
		assert_int_equal(st.feed_rc, 1);
		assert_string_equal(st.text.data,
		    "Okay, let's check the weather for San Francisco, CA:");
		assert_string_equal(st.acc.content, st.text.data);
		assert_int_equal(st.acc.n_parts, 3);
		assert_int_equal(st.acc.parts[0].type, LLM_PART_THINKING);
		assert_string_equal(st.acc.parts[0].text,
		    "I need to find the weather in San Francisco.");
		assert_string_equal(st.acc.parts[0].signature,
		    "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds");
		assert_int_equal(st.acc.parts[2].type, LLM_PART_TOOL_CALL);
		assert_string_equal(st.acc.parts[2].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
		assert_string_equal(st.acc.parts[2].arguments,
		    "{\"location\": \"San Francisco, CA\", \"unit\": \"fahrenheit\"}");
		assert_int_equal(st.acc.stop, LLM_STOP_TOOL_USE);
		assert_int_equal(st.acc.usage.input_tokens, 472 + 1024);
		assert_int_equal(st.acc.usage.cache_read_tokens, 1024);
		assert_int_equal(st.acc.usage.output_tokens, 89);
		if (chunks[i] == 0)
			assert_string_equal(st.trace.data,
			    "thinking 0: I need to find the weather\n"
			    "thinking 0:  in San Francisco.\n"
			    "signature 0: EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\n"
			    "text 1: Okay, let's check the weather for San Francisco, CA:\n"
			    "call 2 #0 toolu_01T1x1fJ34qAmk2tNTrN7Up6 get_weather\n"
			    "args 2 #0: {\"location\":\n"
			    "args 2 #0:  \"San Francisco, CA\", \"unit\": \"fahrenheit\"}\n");
		adtest_stream_free(&st);
	}
	free(s);
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
	    cmocka_unit_test(test_anthropic_build_tools_round_trip),
	    cmocka_unit_test(test_anthropic_build_limits_and_extras),
	    cmocka_unit_test(test_anthropic_check_refusals),
	    cmocka_unit_test(test_anthropic_parse_tool_use),
	    cmocka_unit_test(test_anthropic_stream_thinking_tool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
