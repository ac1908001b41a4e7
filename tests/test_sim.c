/* test_sim.c: the simulated providers, over loopback with libcurl. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim_testutil.h"
#include "testkit.h"
#include "util/util.h"

static const char *ANTH_BODY =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,"
    "\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}";
static const char *OAI_BODY =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\","
    "\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hello there\"}]}";

static void
test_anthropic_message(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, "sk-ant-test", NULL);
	char *u = simtest_url(s, "/v1/messages"), h[256];
	struct simtest_resp r;
	cJSON *j;
	const char *text;

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h), "application/json");
	assert_non_null(simtest_header(&r, "request-id", h, sizeof h));
	assert_memory_equal(h, "req_", 4);
	assert_non_null(simtest_header(&r, "anthropic-ratelimit-requests-limit", h, sizeof h));
	assert_non_null(simtest_header(&r, "anthropic-ratelimit-tokens-reset", h, sizeof h));
	j = simtest_parse(&r);
	assert_memory_equal(simtest_jstr(j, "id"), "msg_", 4);
	assert_string_equal(simtest_jstr(j, "type"), "message");
	assert_string_equal(simtest_jstr(j, "role"), "assistant");
	assert_string_equal(simtest_jstr(j, "model"), "claude-sonnet-4-5");
	assert_string_equal(simtest_jstr(j, "content.0.type"), "text");
	text = simtest_jstr(j, "content.0.text");
	assert_non_null(strstr(text, "[anthropic-sim] You asked: Hello there."));
	assert_string_equal(simtest_jstr(j, "stop_reason"), "end_turn");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "stop_sequence")));
	/* "Be brief." + "Hello there": 20 bytes, 5 tokens */
	assert_int_equal((int)simtest_jnum(j, "usage.input_tokens"), 5);
	assert_int_equal((int)simtest_jnum(j, "usage.output_tokens"),
	    (int)((strlen(text) + 3) / 4));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* max_tokens cuts with stop_reason max_tokens */
	simtest_http("POST", u, simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
	    "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Cut me\"}]}]}",
	    0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "stop_reason"), "max_tokens");
	assert_true(simtest_jnum(j, "usage.output_tokens") <= 5);
	assert_true(strlen(simtest_jstr(j, "content.0.text")) <= 20);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* models */
	free(u);
	u = simtest_url(s, "/v1/models");
	simtest_http("GET", u, simtest_anth_hdrs, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "data.0.type"), "model");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

/* Split an SSE body into events; returns the event names joined by ','. */
static char *
sse_events(const char *body, struct buf *text)
{
	struct buf names;
	const char *p = body;
	cJSON *j;

	buf_init(&names);
	while ((p = strstr(p, "event: ")) != NULL) {
		const char *e = strchr(p, '\n'), *d, *de;
		char *data;

		assert_non_null(e);
		buf_printf(&names, "%s%.*s", names.len ? "," : "", (int)(e - p - 7), p + 7);
		d = e + 1;
		assert_memory_equal(d, "data: ", 6);
		de = strstr(d, "\n\n");
		assert_non_null(de);
		data = xstrndup(d + 6, (size_t)(de - d - 6));
		j = cJSON_Parse(data);
		assert_non_null(j);
		{
			char *name = xstrndup(p + 7, (size_t)(e - p - 7));

			assert_string_equal(simtest_jstr(j, "type"), name);
			free(name);
		}
		if (text != NULL && simtest_jstr(j, "delta.text") != NULL)
			buf_puts(text, simtest_jstr(j, "delta.text"));
		cJSON_Delete(j);
		free(data);
		p = de + 2;
	}
	return buf_detach(&names);
}

static void
test_anthropic_stream(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	char *u = simtest_url(s, "/v1/messages"), h[256], *names, *want;
	struct simtest_resp r, plain;
	struct buf text;
	cJSON *j;
	const char *sbody =
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,"
	    "\"system\":\"Be brief.\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
	    "there\"}]}";

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &plain);
	simtest_http("POST", u, simtest_anth_hdrs, sbody, 0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h),
	    "text/event-stream; charset=utf-8");
	buf_init(&text);
	names = sse_events(r.body.data, &text);
	assert_memory_equal(names, "message_start,content_block_start,ping,content_block_delta,",
	    59);
	want = strstr(names, "content_block_delta,content_block_stop,message_delta,message_stop");
	assert_non_null(want);
	assert_string_equal(want + strlen("content_block_delta,"),
	    "content_block_stop,message_delta,message_stop");
	j = simtest_parse(&plain);
	assert_string_equal(text.data, simtest_jstr(j, "content.0.text"));
	assert_non_null(strstr(r.body.data, "\"stop_reason\":\"end_turn\""));
	assert_non_null(strstr(r.body.data, "event: ping\ndata: {\"type\": \"ping\"}\n\n"));
	assert_memory_equal(r.body.data,
	    "event: message_start\ndata: {\"type\":\"message_start\","
	    "\"message\":{",
	    61);
	cJSON_Delete(j);
	free(names);
	buf_free(&text);
	simtest_resp_free(&r);
	simtest_resp_free(&plain);
	free(u);
	sim_stop(s);
}

static void
test_openai_chat(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, "sk-test-1234", NULL);
	char *u = simtest_url(s, "/v1/chat/completions"), h[256];
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h), "application/json");
	assert_memory_equal(simtest_header(&r, "x-request-id", h, sizeof h), "req_", 4);
	assert_non_null(simtest_header(&r, "x-ratelimit-limit-requests", h, sizeof h));
	assert_non_null(simtest_header(&r, "x-ratelimit-remaining-tokens", h, sizeof h));
	assert_non_null(simtest_header(&r, "x-ratelimit-reset-requests", h, sizeof h));
	j = simtest_parse(&r);
	assert_memory_equal(simtest_jstr(j, "id"), "chatcmpl-", 9);
	assert_string_equal(simtest_jstr(j, "object"), "chat.completion");
	assert_string_equal(simtest_jstr(j, "model"), "gpt-4o");
	assert_string_equal(simtest_jstr(j, "choices.0.message.role"), "assistant");
	assert_non_null(strstr(simtest_jstr(j, "choices.0.message.content"),
	    "[openai-sim] You asked: Hello there."));
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	assert_int_equal((int)simtest_jnum(j, "usage.prompt_tokens"), 5);
	assert_int_equal((int)simtest_jnum(j, "usage.total_tokens"),
	    (int)(simtest_jnum(j, "usage.prompt_tokens") +
	        simtest_jnum(j, "usage.completion_tokens")));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* max_completion_tokens -> length */
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"max_completion_tokens\":3,\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}]}",
	    0, &r);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "length");
	assert_true(simtest_jnum(j, "usage.completion_tokens") <= 3);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* no model in the request: the sim's */
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 0, &r);
	assert_int_equal(r.status, 400);
	simtest_resp_free(&r);

	/* bad JSON */
	simtest_http("POST", u, simtest_oai_hdrs, "{not json", 0, &r);
	assert_int_equal(r.status, 400);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);

	/* models and vLLM-like health (no auth) */
	u = simtest_url(s, "/v1/models");
	simtest_http("GET", u, simtest_oai_hdrs, NULL, 0, &r);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "object"), "list");
	assert_string_equal(simtest_jstr(j, "data.0.object"), "model");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	u = simtest_url(s, "/health");
	simtest_http("GET", u, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	simtest_resp_free(&r);
	free(u);
	u = simtest_url(s, "/v1/nope");
	simtest_http("GET", u, simtest_oai_hdrs, NULL, 0, &r);
	assert_int_equal(r.status, 404);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

/* The data: payloads of an OpenAI-style stream, checked for framing. */
static size_t
sse_data(const char *body, char ***out)
{
	const char *p = body;
	size_t n = 0;
	char **v = NULL;

	while (*p != '\0') {
		const char *e = strstr(p, "\n\n");

		assert_non_null(e);
		assert_memory_equal(p, "data: ", 6);
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrndup(p + 6, (size_t)(e - p - 6));
		p = e + 2;
	}
	*out = v;
	return n;
}

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
test_openai_stream(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	char *u = simtest_url(s, "/v1/chat/completions"), h[256], **d;
	struct simtest_resp r;
	size_t n;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h),
	    "text/event-stream; charset=utf-8");
	assert_null(strstr(r.body.data, "event:"));
	n = sse_data(r.body.data, &d);
	assert_true(n > 5);
	assert_string_equal(d[n - 1], "[DONE]");
	j = cJSON_Parse(d[0]);
	assert_string_equal(simtest_jstr(j, "object"), "chat.completion.chunk");
	assert_string_equal(simtest_jstr(j, "choices.0.delta.role"), "assistant");
	assert_string_equal(simtest_jstr(j, "choices.0.delta.content"), "");
	cJSON_Delete(j);
	j = cJSON_Parse(d[1]);
	assert_string_equal(simtest_jstr(j, "choices.0.delta.content"), "[openai-sim]");
	cJSON_Delete(j);
	j = cJSON_Parse(d[n - 3]);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	cJSON_Delete(j);
	j = cJSON_Parse(d[n - 2]);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")), 0);
	assert_true(simtest_jnum(j, "usage.total_tokens") > 0);
	cJSON_Delete(j);
	free_strs(d, n);
	simtest_resp_free(&r);

	/* without include_usage: no usage chunk */
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	assert_null(strstr(r.body.data, "\"usage\""));
	assert_non_null(strstr(r.body.data, "data: [DONE]\n\n"));
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_azure(void **state)
{
	struct sim *s = simtest_start(SIM_AZURE, "az-key", NULL);
	char *u =
	    simtest_url(s, "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21");
	char h[256], **d;
	struct simtest_resp r;
	size_t n;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_az_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(simtest_header(&r, "apim-request-id", h, sizeof h));
	assert_non_null(simtest_header(&r, "x-ratelimit-remaining-requests", h, sizeof h));
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "model"), "my-gpt4o");
	assert_non_null(cJSON_GetObjectItem(j, "prompt_filter_results"));
	assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"),
	                                        0),
	    "content_filter_results"));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	simtest_http("POST", u, simtest_az_hdrs,
	    "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]}",
	    0, &r);
	n = sse_data(r.body.data, &d);
	j = cJSON_Parse(d[0]);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "choices")), 0);
	assert_non_null(cJSON_GetObjectItem(j, "prompt_filter_results"));
	cJSON_Delete(j);
	assert_string_equal(d[n - 1], "[DONE]");
	free_strs(d, n);
	simtest_resp_free(&r);

	/* wrong key */
	simtest_http("POST", u, (const char *[]){"api-key: nope", NULL}, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 401);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "error.code"), "401");
	assert_memory_equal(simtest_jstr(j, "error.message"),
	    "Access denied due to invalid subscription "
	    "key or wrong API endpoint.",
	    68);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);

	/* no api-version */
	u = simtest_url(s, "/openai/deployments/my-gpt4o/chat/completions");
	simtest_http("POST", u, simtest_az_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 404);
	simtest_resp_free(&r);
	free(u);

	/* the v1 form takes the model from the body */
	u = simtest_url(s, "/openai/v1/chat/completions");
	simtest_http("POST", u, simtest_az_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "model"), "gpt-4o");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_mistral(void **state)
{
	struct sim *s = simtest_start(SIM_MISTRAL, "mk", NULL);
	char *u = simtest_url(s, "/v1/chat/completions"), **d;
	const char *hd[] = {"Authorization: Bearer mk", NULL};
	struct simtest_resp r;
	size_t n;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, hd, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_int_equal(strlen(simtest_jstr(j, "id")), 32);
	assert_string_equal(simtest_jstr(j, "object"), "chat.completion");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
	        "message"),
	    "tool_calls")));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	simtest_http("POST", u, hd,
	    "{\"model\":\"mistral-small\",\"store\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	assert_int_equal(r.status, 422);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "detail.0.type"), "extra_forbidden");
	assert_string_equal(simtest_jstr(j, "detail.0.loc.0"), "body");
	assert_string_equal(simtest_jstr(j, "detail.0.loc.1"), "store");
	assert_string_equal(simtest_jstr(j, "detail.0.msg"), "Extra inputs are not permitted");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	                                                                    "detail"),
	                                                 0),
	    "input")));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	simtest_http("POST", u, hd,
	    "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":"
	    "true},\"messages\":[]}",
	    0, &r);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(r.body.data, "\"stream_options\""));
	simtest_resp_free(&r);

	simtest_http("POST", u, hd,
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}",
	    0, &r);
	n = sse_data(r.body.data, &d);
	assert_string_equal(d[n - 1], "[DONE]");
	j = cJSON_Parse(d[n - 2]);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	assert_true(simtest_jnum(j, "usage.total_tokens") > 0);
	cJSON_Delete(j);
	free_strs(d, n);
	simtest_resp_free(&r);

	simtest_http("POST", u, (const char *[]){"Authorization: Bearer wrong", NULL}, OAI_BODY, 0,
	    &r);
	assert_int_equal(r.status, 401);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "message"), "Unauthorized");
	assert_non_null(simtest_jstr(j, "request_id"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_ollama(void **state)
{
	struct sim *s = simtest_start(SIM_OLLAMA, NULL, NULL);
	char *u = simtest_url(s, "/api/chat"), h[256], *line, *save = NULL;
	struct simtest_resp r;
	cJSON *j, *last = NULL;
	int lines = 0;

	(void)state;
	simtest_http("POST", u, NULL,
	    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]}",
	    0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h),
	    "application/x-ndjson");
	for (line = strtok_r(r.body.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON_Delete(last);
		last = cJSON_Parse(line);
		assert_non_null(last);
		lines++;
	}
	assert_true(lines > 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(last, "done")));
	assert_string_equal(simtest_jstr(last, "done_reason"), "stop");
	assert_true(simtest_jnum(last, "eval_count") > 0);
	assert_true(simtest_jnum(last, "prompt_eval_count") > 0);
	cJSON_Delete(last);
	simtest_resp_free(&r);

	simtest_http("POST", u, NULL,
	    "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	j = simtest_parse(&r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "done")));
	assert_non_null(strstr(simtest_jstr(j, "message.content"), "You asked: Hi."));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);

	u = simtest_url(s, "/api/version");
	simtest_http("GET", u, NULL, NULL, 0, &r);
	j = simtest_parse(&r);
	assert_non_null(simtest_jstr(j, "version"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	u = simtest_url(s, "/api/tags");
	simtest_http("GET", u, NULL, NULL, 0, &r);
	j = simtest_parse(&r);
	assert_non_null(simtest_jstr(j, "models.0.name"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	u = simtest_url(s, "/v1/chat/completions");
	simtest_http("POST", u, NULL, OAI_BODY, 0, &r);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "object"), "chat.completion");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_auth_errors(void **state)
{
	struct sim *s;
	char *u, h[64];
	struct simtest_resp r;
	struct sim_stats st;
	cJSON *j;

	(void)state;
	s = simtest_start(SIM_ANTHROPIC, "right", NULL);
	u = simtest_url(s, "/v1/messages");
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &r);
	assert_int_equal(r.status, 401);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "type"), "error");
	assert_string_equal(simtest_jstr(j, "error.type"), "authentication_error");
	assert_string_equal(simtest_jstr(j, "error.message"), "invalid x-api-key");
	assert_memory_equal(simtest_jstr(j, "request_id"), "req_", 4);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_get_stats(s, &st);
	assert_int_equal(st.auth_failures, 1);
	/* newer SDKs send the key as a Bearer token */
	simtest_http("POST", u, (const char *[]){"Authorization: Bearer right", NULL}, ANTH_BODY, 0,
	    &r);
	assert_int_equal(r.status, 200);
	simtest_resp_free(&r);
	simtest_http("POST", u, NULL, ANTH_BODY, 0, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body.data, "x-api-key header is required"));
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);

	s = simtest_start(SIM_OPENAI, "right", NULL);
	u = simtest_url(s, "/v1/chat/completions");
	simtest_http("POST", u, (const char *[]){"Authorization: Bearer sk-test-xx1234", NULL},
	    OAI_BODY, 0, &r);
	assert_int_equal(r.status, 401);
	j = simtest_parse(&r);
	assert_memory_equal(simtest_jstr(j, "error.message"),
	    "Incorrect API key provided: sk-t****1234.", 41);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	assert_string_equal(simtest_jstr(j, "error.code"), "invalid_api_key");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "param")));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	simtest_http("POST", u, NULL, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.body.data, "You didn't provide an API key"));
	assert_non_null(simtest_header(&r, "x-request-id", h, sizeof h));
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_anthropic_validation(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	char *u = simtest_url(s, "/v1/messages");
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}",
	    0, &r);
	assert_int_equal(r.status, 400);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	assert_string_equal(simtest_jstr(j, "error.message"), "max_tokens: Field required");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_anth_hdrs, "{\"max_tokens\":5,\"messages\":[]}", 0, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body.data, "model: Field required"));
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_anth_hdrs, "{\"model\":\"m\",\"max_tokens\":5}", 0, &r);
	assert_non_null(strstr(r.body.data, "messages: Field required"));
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_anth_hdrs, "nope", 0, &r);
	assert_int_equal(r.status, 400);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

/* The injected error for status on protocol p: returns the parsed body. */
static cJSON *
inject(enum sim_protocol p, int status, const char *extra, struct simtest_resp *r)
{
	char ctl[256];
	struct sim *s;
	char *u;
	cJSON *j;

	snprintf(ctl, sizeof ctl, "{\"error_rate\":1,\"error_status\":%d%s%s}", status,
	    extra ? "," : "", extra ? extra : "");
	s = simtest_start(p, NULL, ctl);
	u = simtest_url(s, p == SIM_ANTHROPIC ? "/v1/messages" : "/v1/chat/completions");
	simtest_http("POST", u, p == SIM_ANTHROPIC ? simtest_anth_hdrs : simtest_oai_hdrs,
	    p == SIM_ANTHROPIC ? ANTH_BODY : OAI_BODY, 0, r);
	assert_int_equal(r->status, status);
	j = simtest_parse(r);
	free(u);
	sim_stop(s);
	return j;
}

static void
test_error_statuses(void **state)
{
	struct simtest_resp r;
	char h[64];
	cJSON *j;
	static const struct {
		int status;
		const char *type;
	} anth[] = {{400, "invalid_request_error"}, {429, "rate_limit_error"}, {500, "api_error"},
	    {503, "api_error"}, {529, "overloaded_error"}};

	(void)state;
	for (size_t i = 0; i < nitems(anth); i++) {
		j = inject(SIM_ANTHROPIC, anth[i].status, "\"retry_after\":5", &r);
		assert_string_equal(simtest_jstr(j, "type"), "error");
		assert_string_equal(simtest_jstr(j, "error.type"), anth[i].type);
		assert_non_null(simtest_header(&r, "request-id", h, sizeof h));
		if (anth[i].status >= 429) {
			assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "5");
			assert_string_equal(simtest_header(&r, "x-should-retry", h, sizeof h),
			    "true");
		} else
			assert_null(simtest_header(&r, "retry-after", h, sizeof h));
		cJSON_Delete(j);
		simtest_resp_free(&r);
	}
	j = inject(SIM_ANTHROPIC, 529, NULL, &r);
	assert_string_equal(simtest_jstr(j, "error.message"), "Overloaded");
	assert_null(simtest_header(&r, "retry-after", h, sizeof h));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_ANTHROPIC, 401, NULL, &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "authentication_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);

	j = inject(SIM_OPENAI, 429, "\"retry_after\":7", &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "rate_limit_exceeded");
	assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "7");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_OPENAI, 429, "\"quota\":true", &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "insufficient_quota");
	assert_string_equal(simtest_jstr(j, "error.code"), "insufficient_quota");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_OPENAI, 500, NULL, &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "server_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_OPENAI, 503, NULL, &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "server_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_AZURE, 429, "\"retry_after\":3", &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "429");
	assert_non_null(strstr(simtest_jstr(j, "error.message"), "Please retry after 3 seconds"));
	assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "3");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = inject(SIM_MISTRAL, 429, NULL, &r);
	assert_string_equal(simtest_jstr(j, "type"), "rate_limited");
	assert_string_equal(simtest_jstr(j, "code"), "1300");
	cJSON_Delete(j);
	simtest_resp_free(&r);
}

static void
test_fault_hang_and_slow(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, "{\"fault\":\"hang\"}");
	char *u = simtest_url(s, "/v1/chat/completions");
	struct simtest_resp r;
	struct sim_stats st;

	(void)state;
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 300, &r);
	assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
	simtest_resp_free(&r);
	assert_int_equal(sim_control(s, "{\"fault\":\"slow\"}", NULL), 0);
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 300, &r);
	assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
	simtest_resp_free(&r);
	sim_get_stats(s, &st);
	assert_int_equal(st.faults_injected, 2);
	assert_int_equal(st.answered, 0);
	free(u);
	sim_stop(s); /* with the hung and slow connections still suspended */
}

static void
test_fault_drop_down(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, "{\"fault\":\"drop\"}");
	char *u = simtest_url(s, "/v1/messages"), *cu = simtest_url(s, "/_sim/control");
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 0);
	simtest_resp_free(&r);

	simtest_http("POST", cu, NULL, "{\"fault\":\"down\"}", 0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	assert_string_equal(simtest_jstr(j, "fault"), "down");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	simtest_resp_free(&r);
	/* control still answers while down */
	simtest_http("GET", cu, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "\"fault\":\"down\""));
	simtest_resp_free(&r);
	simtest_http("POST", cu, NULL, "{\"fault\":\"none\"}", 0, &r);
	assert_int_equal(r.status, 200);
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_anth_hdrs, ANTH_BODY, 0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	simtest_resp_free(&r);
	free(u);
	free(cu);
	sim_stop(s);
}

static void
test_fault_malformed_truncated(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, "{\"fault\":\"malformed\"}");
	char *u = simtest_url(s, "/v1/chat/completions");
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	j = cJSON_Parse(r.body.data);
	assert_null(j);
	simtest_resp_free(&r);

	assert_int_equal(sim_control(s, "{\"fault\":\"truncated\"}", NULL), 0);
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.rc, CURLE_PARTIAL_FILE);
	assert_true(r.body.len > 0);
	assert_null(cJSON_Parse(r.body.data));
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_null(strstr(r.body.data, "[DONE]"));
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_fault_midstream(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, "{\"fault\":\"midstream\"}");
	char *u = simtest_url(s, "/v1/messages"), *names, *err;
	struct simtest_resp r;
	const char *sbody = "{\"model\":\"m\",\"max_tokens\":1024,\"stream\":true,\"messages\":"
	                    "[{\"role\":\"user\",\"content\":\"Hello there\"}]}";

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs, sbody, 0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 200);
	names = sse_events(r.body.data, NULL);
	assert_memory_equal(names,
	    "message_start,content_block_start,ping,content_block_delta,"
	    "content_block_delta",
	    78);
	err = strstr(names, ",error");
	assert_non_null(err);
	assert_string_equal(err, ",error");
	assert_null(strstr(names, "message_stop"));
	assert_non_null(strstr(r.body.data, "\"overloaded_error\""));
	free(names);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);

	s = simtest_start(SIM_OPENAI, NULL, "{\"fault\":\"midstream\"}");
	u = simtest_url(s, "/v1/chat/completions");
	simtest_http("POST", u, simtest_oai_hdrs,
	    "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hi\"}]}",
	    0, &r);
	assert_int_not_equal(r.rc, CURLE_OK);
	assert_non_null(strstr(r.body.data, "\"delta\":{\"content\""));
	assert_non_null(strstr(r.body.data, "data: {\"error\":{"));
	assert_null(strstr(r.body.data, "[DONE]"));
	simtest_resp_free(&r);
	simtest_http("POST", u, simtest_oai_hdrs, OAI_BODY, 0, &r);
	assert_int_equal(r.rc, CURLE_PARTIAL_FILE);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_control(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	char *cu = simtest_url(s, "/_sim/control"), *su = simtest_url(s, "/_sim/stats"), *js;
	struct simtest_resp r;
	cJSON *j;
	char *cause = NULL;

	(void)state;
	simtest_http("POST", cu, NULL,
	    "{\"latency_ms\":50,\"error_rate\":0.3,\"error_status\":529,"
	    "\"retry_after\":5}",
	    0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	assert_int_equal((int)simtest_jnum(j, "latency_ms"), 50);
	assert_int_equal((int)simtest_jnum(j, "error_status"), 529);
	assert_int_equal((int)simtest_jnum(j, "retry_after"), 5);
	assert_true(simtest_jnum(j, "error_rate") > 0.29 && simtest_jnum(j, "error_rate") < 0.31);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	simtest_http("POST", cu, NULL, "{\"fault\":\"explode\"}", 0, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body.data, "\"ok\":false"));
	simtest_resp_free(&r);
	simtest_http("POST", cu, NULL, "{\"nope\":1}", 0, &r);
	assert_int_equal(r.status, 400);
	simtest_resp_free(&r);
	assert_int_equal(sim_control(s, "{\"error_rate\":2}", &cause), -1);
	assert_non_null(cause);
	free(cause);
	js = sim_settings_json(s);
	assert_non_null(strstr(js, "\"latency_ms\":50"));
	free(js);
	simtest_http("GET", su, NULL, NULL, 0, &r);
	j = simtest_parse(&r);
	assert_int_equal((int)simtest_jnum(j, "requests"), 0);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(cu);
	free(su);
	sim_stop(s);
}

/* Statuses of n sequential requests on one keep-alive handle. */
static int
run_seq(struct sim *s, int n, int *statuses)
{
	char *u = simtest_url(s, "/v1/chat/completions");
	CURL *c = curl_easy_init();
	struct buf b;
	long st;
	int errors = 0;

	buf_init(&b);
	curl_easy_setopt(c, CURLOPT_URL, u);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, OAI_BODY);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, simtest_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	for (int i = 0; i < n; i++) {
		buf_reset(&b);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		if (statuses != NULL)
			statuses[i] = (int)st;
		if (st != 200)
			errors++;
	}
	curl_easy_cleanup(c);
	buf_free(&b);
	free(u);
	return errors;
}

static void
test_error_rate_seeded(void **state)
{
	struct sim *s =
	    simtest_start(SIM_OPENAI, NULL, "{\"error_rate\":0.3,\"error_status\":503}");
	struct sim_stats st;
	int a[100], b[100], errors;

	(void)state;
	errors = run_seq(s, 1000, NULL);
	assert_true(errors >= 240 && errors <= 360);
	sim_get_stats(s, &st);
	assert_int_equal(st.errors_injected, (uint64_t)errors);
	assert_int_equal(st.requests, 1000);
	assert_int_equal(st.answered, 1000);
	/* reseeding replays the same sequence */
	assert_int_equal(sim_control(s, "{\"seed\":7}", NULL), 0);
	run_seq(s, 100, a);
	assert_int_equal(sim_control(s, "{\"seed\":7}", NULL), 0);
	run_seq(s, 100, b);
	assert_memory_equal(a, b, sizeof a);
	sim_stop(s);
}

static void
test_concurrent_slow(void **state)
{
	enum { N = 2000 };
	struct sim *s = simtest_start(SIM_OPENAI, NULL, "{\"latency_ms\":500}");
	char *u = simtest_url(s, "/v1/chat/completions");
	CURLM *m = curl_multi_init();
	CURL **h = xcalloc(N, sizeof *h);
	struct buf *bodies = xcalloc(N, sizeof *bodies);
	int running = 1, ok = 0, msgs;
	uint64_t deadline = clock_mono_ms() + 60000;
	CURLMsg *msg;
	long st;

	(void)state;
	testkit_raise_fd_limit();
	for (int i = 0; i < N; i++) {
		h[i] = curl_easy_init();
		buf_init(&bodies[i]);
		curl_easy_setopt(h[i], CURLOPT_URL, u);
		curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, OAI_BODY);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, simtest_collect);
		curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &bodies[i]);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT_MS, 50000L);
		curl_easy_setopt(h[i], CURLOPT_CONNECTTIMEOUT_MS, 30000L);
		curl_multi_add_handle(m, h[i]);
	}
	while (running > 0 && clock_mono_ms() < deadline) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &msgs)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
			if (msg->data.result == CURLE_OK && st == 200)
				ok++;
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	assert_int_equal(ok, N);
	for (int i = 0; i < N; i++) {
		curl_multi_remove_handle(m, h[i]);
		curl_easy_cleanup(h[i]);
		buf_free(&bodies[i]);
	}
	curl_multi_cleanup(m);
	free(h);
	free(bodies);
	free(u);
	sim_stop(s);
}

static void
test_token_pacing(void **state)
{
	struct sim *s =
	    simtest_start(SIM_ANTHROPIC, NULL, "{\"token_delay_ms\":2,\"latency_ms\":5}");
	char *u = simtest_url(s, "/v1/messages"), *names;
	struct simtest_resp r;

	(void)state;
	simtest_http("POST", u, simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":1024,\"stream\":true,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Pace me\"}]}",
	    0, &r);
	assert_int_equal(r.rc, CURLE_OK);
	names = sse_events(r.body.data, NULL);
	assert_non_null(strstr(names, "content_block_stop,message_delta,message_stop"));
	free(names);
	simtest_resp_free(&r);
	free(u);
	sim_stop(s);
}

static void
test_opts_and_config(void **state)
{
	struct sim_opts o, *v;
	size_t n;
	char *cause = NULL, path[] = "/tmp/test_sim_XXXXXX";
	const char *argv[] = {"--protocol", "anthropic", "--listen", "127.0.0.1:0", "--key", "k",
	    "--latency-ms", "5", "--error-rate=0.25", "--error-status", "529", "--fault",
	    "midstream", "--seed", "9", "--quota", NULL};
	const char *bad[] = {"--protocol", "gopher"};
	const char *bad2[] = {"--bogus", "1"};
	FILE *f;
	int fd;
	struct sim *s;

	(void)state;
	sim_opts_init(&o);
	assert_int_equal(sim_opts_parse_args(&o, 16, (char **)argv, &cause), 0);
	assert_int_equal(o.protocol, SIM_ANTHROPIC);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 0);
	assert_string_equal(o.key, "k");
	assert_int_equal(o.error_status, 529);
	assert_true(o.error_rate == 0.25);
	assert_int_equal(o.fault, SIM_FAULT_MIDSTREAM);
	assert_int_equal(o.seed, 9);
	assert_true(o.quota);
	assert_int_equal(sim_opts_parse_args(&o, 2, (char **)bad, &cause), -1);
	assert_non_null(strstr(cause, "gopher"));
	free(cause);
	assert_int_equal(sim_opts_parse_args(&o, 2, (char **)bad2, &cause), -1);
	assert_non_null(strstr(cause, "--bogus"));
	free(cause);

	/* loopback only */
	sim_opts_init(&o);
	strlcpy_(o.host, "0.0.0.0", sizeof o.host);
	assert_null(sim_start(&o, &cause));
	assert_non_null(strstr(cause, "loopback"));
	free(cause);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"sims\":[{\"name\":\"a1\",\"protocol\":\"anthropic\",\"listen\":\"127.0.0.1:0\","
	      "\"latency_ms\":3,\"error_rate\":0.5,\"quota\":true},{\"protocol\":\"ollama\"}]}",
	    f);
	fclose(f);
	assert_int_equal(sim_config_load(path, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "a1");
	assert_int_equal(v[0].latency_ms, 3);
	assert_true(v[0].error_rate == 0.5);
	assert_int_equal(v[1].protocol, SIM_OLLAMA);
	s = sim_start(&v[1], &cause);
	assert_non_null(s);
	sim_stop(s);
	free(v);
	f = fopen(path, "w");
	fputs("{\"sims\":[{\"protocol\":\"anthropic\",\"latency_ms\":\"soon\"}]}", f);
	fclose(f);
	assert_int_equal(sim_config_load(path, &v, &n, &cause), -1);
	assert_non_null(strstr(cause, "sims[0]"));
	assert_non_null(strstr(cause, "--latency-ms"));
	free(cause);
	unlink(path);
}

/* `llmdeck sim` as a process: prints its URL, answers, stops on SIGTERM. */
static void
test_cli(void **state)
{
	const char *bin = getenv("LLMDECK");
	int out[2], status;
	pid_t pid;
	char line[256], url[200], *u;
	FILE *f;
	struct simtest_resp r;

	(void)state;
	if (bin == NULL || access(bin, X_OK) != 0)
		skip();
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(bin, "llmdeck", "sim", "--protocol", "mistral", "--listen", "127.0.0.1:0",
		    "--name", "cli", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(fgets(line, sizeof line, f));
	assert_int_equal(sscanf(line, "sim cli mistral listening on %199s", url), 1);
	u = xasprintf("%s/v1/chat/completions", url);
	simtest_http("POST", u, NULL, OAI_BODY, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "[cli] You asked"));
	simtest_resp_free(&r);
	free(u);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fclose(f);

	pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", 1);

		dup2(dn, 2);
		execl(bin, "llmdeck", "sim", "--protocol", "nope", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_anthropic_message),
	    cmocka_unit_test(test_anthropic_stream),
	    cmocka_unit_test(test_anthropic_validation),
	    cmocka_unit_test(test_openai_chat),
	    cmocka_unit_test(test_openai_stream),
	    cmocka_unit_test(test_azure),
	    cmocka_unit_test(test_mistral),
	    cmocka_unit_test(test_ollama),
	    cmocka_unit_test(test_auth_errors),
	    cmocka_unit_test(test_error_statuses),
	    cmocka_unit_test(test_fault_hang_and_slow),
	    cmocka_unit_test(test_fault_drop_down),
	    cmocka_unit_test(test_fault_malformed_truncated),
	    cmocka_unit_test(test_fault_midstream),
	    cmocka_unit_test(test_control),
	    cmocka_unit_test(test_error_rate_seeded),
	    cmocka_unit_test(test_token_pacing),
	    cmocka_unit_test(test_concurrent_slow),
	    cmocka_unit_test(test_opts_and_config),
	    cmocka_unit_test(test_cli),
	};

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
