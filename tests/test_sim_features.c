/*
 * test_sim_features.c: the simulated providers' agent features, bytes on the
 * wire: tool calls (forced, auto, round trip, streamed in each protocol's event
 * shapes), images, JSON mode, stop sequences, prompt-cache and reasoning usage,
 * the APIs' validation errors, 429 headers, Ollama's native API and the
 * embeddings endpoints.
 */
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

/* A 1x1 PNG and a 1x1 GIF. */
#define PNG_B64 \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5" \
	"ErkJggg=="
#define GIF_B64 "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

/* Tools with a schema that has every type: a string, an integer with a minimum, an enum,
 * a nested object and an array of objects; plus a second tool without required fields. */
#define OAI_TOOLS \
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"," \
	"\"description\":\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{" \
	"\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\",\"minimum\":3}," \
	"\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}," \
	"\"where\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}," \
	"\"required\":[\"lat\"]},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"object\"," \
	"\"properties\":{\"k\":{\"type\":\"boolean\"}},\"required\":[\"k\"]}}," \
	"\"note\":{\"type\":\"string\"}},\"required\":[\"city\",\"days\",\"unit\",\"where\"," \
	"\"tags\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"," \
	"\"parameters\":{\"type\":\"object\",\"properties\":{\"zone\":{\"type\":\"string\"}}}}}]"
#define ANTH_TOOLS \
	"\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{" \
	"\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{" \
	"\"type\":\"integer\"}},\"required\":[\"city\",\"days\"]}},{\"name\":\"get_time\"," \
	"\"input_schema\":{\"type\":\"object\",\"properties\":{\"zone\":{\"type\":\"string\"}}}}]"

/* The arguments a forced call of get_weather gets: every required field, of its type. */
static void
check_weather_args(const char *args)
{
	cJSON *a = cJSON_Parse(args);

	assert_non_null(a);
	assert_string_equal(simtest_jstr(a, "city"), "sim city");
	assert_true(simtest_jnum(a, "days") == 3); /* the minimum */
	assert_string_equal(simtest_jstr(a, "unit"), "celsius");
	assert_true(cJSON_IsNumber(simtest_jpath(a, "where.lat")));
	assert_true(cJSON_IsTrue(simtest_jpath(a, "tags.0.k")));
	assert_null(simtest_jpath(a, "note")); /* not required */
	cJSON_Delete(a);
}

static void
test_openai_tools_forced(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	/* "required": the first tool, arguments from its schema */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]," OAI_TOOLS
	    ",\"tool_choice\":\"required\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "tool_calls");
	assert_true(cJSON_IsNull(simtest_jpath(j, "choices.0.message.content")));
	assert_memory_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.id"), "call_", 5);
	assert_int_equal(strlen(simtest_jstr(j, "choices.0.message.tool_calls.0.id")), 29);
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.type"), "function");
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.function.name"),
	    "get_weather");
	check_weather_args(simtest_jstr(j, "choices.0.message.tool_calls.0.function.arguments"));
	assert_null(simtest_jpath(j, "choices.0.message.tool_calls.1"));
	assert_true(simtest_jnum(j, "usage.completion_tokens") > 0);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* a named function */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]," OAI_TOOLS
	    ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.function.name"),
	    "get_time");
	/* nothing required: every property filled */
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.function.arguments"),
	    "{\"zone\":\"sim zone\"}");
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* a name not among the tools, and tool_choice without tools: 400 */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]," OAI_TOOLS
	    ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.param"), "tool_choice");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
	    "\"tool_choice\":\"required\"}",
	    400, &r);
	assert_string_equal(r.body.data,
	    "{\"error\":{\"message\":\"Invalid value for 'tool_choice': 'tool_choice' is only "
	    "allowed when 'tools' are specified.\",\"type\":\"invalid_request_error\","
	    "\"param\":\"tool_choice\",\"code\":null}}");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_openai_tools_auto_and_round_trip(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	char body[4096];
	const char *id;

	(void)state;
	/* auto, not named: text, the usual answer */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
	    "there\"}]," OAI_TOOLS "}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	assert_non_null(strstr(simtest_jstr(j, "choices.0.message.content"),
	    "You asked: Hello there."));
	assert_null(simtest_jpath(j, "choices.0.message.tool_calls"));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* auto, the message names two tools: both (parallel calls) */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Use get_time "
	    "then get_weather.\"}]," OAI_TOOLS ",\"tool_choice\":\"auto\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.function.name"),
	    "get_weather");
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.1.function.name"),
	    "get_time");
	assert_string_not_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.id"),
	    simtest_jstr(j, "choices.0.message.tool_calls.1.id"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* ... one with parallel_tool_calls false; a name inside a word does not count */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Use get_time "
	    "and get_weather, not xget_time.\"}]," OAI_TOOLS ",\"parallel_tool_calls\":false}",
	    200, &r);
	assert_non_null(simtest_jpath(j, "choices.0.message.tool_calls.0"));
	assert_null(simtest_jpath(j, "choices.0.message.tool_calls.1"));
	id = simtest_jstr(j, "choices.0.message.tool_calls.0.id");

	/* the round trip: the tool's result, then a text answer about it */
	snprintf(body, sizeof body,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Use "
	    "get_weather.\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
	    "\"%s\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
	    "\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"Sunny, 21 "
	    "C\"}]," OAI_TOOLS "}",
	    id, id);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs, body, 200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	assert_memory_equal(simtest_jstr(j, "choices.0.message.content"),
	    "[openai-sim] The tool returned: Sunny, 21 C. Here is a simulated answer:", 70);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* a tool message with no call before it, a call never answered: 400 */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
	    "\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"r\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
	    "message with 'tool_calls'.");
	assert_string_equal(simtest_jstr(j, "error.param"), "messages.[1].role");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
	    "\"assistant\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{"
	    "\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"user\",\"content\":\"y\"}]}",
	    400, &r);
	assert_non_null(strstr(simtest_jstr(j, "error.message"),
	    "The following tool_call_ids did not have response messages: call_9"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* OpenAI's streamed tool calls: index deltas, id and name first, arguments in pieces. */
static void
test_openai_tools_stream(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *chunks, *c, *d;
	struct buf args[2];
	int pieces = 0, heads = 0;
	const char *finish = NULL;

	(void)state;
	buf_init(&args[0]);
	buf_init(&args[1]);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"get_weather and get_time\"}]," OAI_TOOLS
	    ",\"tool_choice\":\"required\"}",
	    200, &r));
	assert_non_null(strstr(r.body.data, "\n\ndata: [DONE]\n\n"));
	chunks = simtest_sse_datas(r.body.data);
	/* the first chunk: role, content null, the first call's head with empty arguments */
	c = cJSON_GetArrayItem(chunks, 0);
	assert_string_equal(simtest_jstr(c, "choices.0.delta.role"), "assistant");
	assert_true(cJSON_IsNull(simtest_jpath(c, "choices.0.delta.content")));
	assert_true(simtest_jnum(c, "choices.0.delta.tool_calls.0.index") == 0);
	assert_string_equal(simtest_jstr(c, "choices.0.delta.tool_calls.0.function.arguments"), "");
	cJSON_ArrayForEach(c, chunks)
	{
		const cJSON *tc = simtest_jpath(c, "choices.0.delta.tool_calls.0");
		int idx;

		if (simtest_jstr(c, "choices.0.finish_reason") != NULL)
			finish = simtest_jstr(c, "choices.0.finish_reason");
		if (tc == NULL)
			continue;
		idx = (int)simtest_jnum(tc, "index");
		assert_true(idx == 0 || idx == 1);
		if (simtest_jstr(tc, "id") != NULL) {
			heads++;
			assert_memory_equal(simtest_jstr(tc, "id"), "call_", 5);
			assert_non_null(simtest_jstr(tc, "function.name"));
		} else {
			assert_null(simtest_jpath(tc, "function.name"));
			pieces++;
		}
		buf_puts(&args[idx], simtest_jstr(tc, "function.arguments"));
	}
	assert_int_equal(heads, 2);
	assert_true(pieces >= 4); /* the arguments come split over several chunks */
	assert_string_equal(finish, "tool_calls");
	check_weather_args(args[0].data);
	assert_string_equal(args[1].data, "{\"zone\":\"sim zone\"}");
	/* the last chunk: usage */
	d = cJSON_GetArrayItem(chunks, cJSON_GetArraySize(chunks) - 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "choices")), 0);
	assert_true(simtest_jnum(d, "usage.completion_tokens") > 0);
	cJSON_Delete(chunks);
	buf_free(&args[0]);
	buf_free(&args[1]);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_anthropic_tools(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	char body[4096];
	const char *id;

	(void)state;
	/* {"type":"any"}: the first tool */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]," ANTH_TOOLS ",\"tool_choice\":{\"type\":\"any\"}}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "stop_reason"), "tool_use");
	assert_string_equal(simtest_jstr(j, "content.0.type"), "tool_use");
	assert_memory_equal(simtest_jstr(j, "content.0.id"), "toolu_01", 8);
	assert_string_equal(simtest_jstr(j, "content.0.name"), "get_weather");
	assert_string_equal(simtest_jstr(j, "content.0.input.city"), "sim city");
	assert_true(simtest_jnum(j, "content.0.input.days") == 1);
	assert_null(simtest_jpath(j, "content.1"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* {"type":"tool","name":...} */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]," ANTH_TOOLS ",\"tool_choice\":{\"type\":\"tool\",\"name\":"
	    "\"get_time\"}}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "content.0.name"), "get_time");
	assert_string_equal(simtest_jstr(j, "content.0.input.zone"), "sim zone");
	id = simtest_jstr(j, "content.0.id");
	/* the round trip: tool_use answered by tool_result, then text */
	snprintf(body, sizeof body,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"What time is it?\"},{\"role\":\"assistant\",\"content\":[{\"type\":"
	    "\"tool_use\",\"id\":\"%s\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\","
	    "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"%s\",\"content\":\"12:00 "
	    "UTC\"}]}]," ANTH_TOOLS "}",
	    id, id);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs, body, 200, &r);
	assert_string_equal(simtest_jstr(j, "stop_reason"), "end_turn");
	assert_string_equal(simtest_jstr(j, "content.0.type"), "text");
	assert_memory_equal(simtest_jstr(j, "content.0.text"),
	    "[anthropic-sim] The tool returned: 12:00 UTC. Here is a simulated answer:", 72);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a tool_use without its tool_result: the API's 400 */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
	    "\"toolu_01X\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\",\"content\":"
	    "\"y\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
	    "after: toolu_01X. Each `tool_use` block must have a corresponding `tool_result` block "
	    "in the next message.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a tool without input_schema, duplicate names */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}"
	    "],"
	    "\"tools\":[{\"name\":\"a\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "tools.0.custom.input_schema: Field required");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}"
	    "],"
	    "\"tools\":[{\"name\":\"a\",\"input_schema\":{}},{\"name\":\"a\",\"input_schema\":{}}]"
	    "}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"), "tools: Tool names must be unique.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* Anthropic's streamed tool use: content_block_start tool_use, input_json_delta pieces. */
static void
test_anthropic_tools_stream(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	const char *p;
	struct buf json;
	int pieces = 0;
	cJSON *j, *in;

	(void)state;
	buf_init(&json);
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"stream\":true,\"messages\":[{"
	    "\"role\":\"user\",\"content\":\"Hi\"}]," ANTH_TOOLS ",\"tool_choice\":{\"type\":"
	    "\"any\"}}",
	    200, &r));
	assert_non_null(strstr(r.body.data,
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01"));
	assert_non_null(strstr(r.body.data, "\"name\":\"get_weather\",\"input\":{}}}\n\n"));
	assert_non_null(strstr(r.body.data,
	    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
	    "\"input_json_delta\",\"partial_json\":\"\"}}\n\n"));
	assert_non_null(strstr(r.body.data, "\"stop_reason\":\"tool_use\""));
	assert_null(strstr(r.body.data, "text_delta"));
	for (p = r.body.data; (p = strstr(p, "event: content_block_delta\ndata: ")) != NULL;) {
		const char *e = strstr(p, "\n\n");
		char *d = xstrndup(p + 33, (size_t)(e - p - 33));

		j = cJSON_Parse(d);
		assert_non_null(j);
		assert_string_equal(simtest_jstr(j, "delta.type"), "input_json_delta");
		buf_puts(&json, simtest_jstr(j, "delta.partial_json"));
		pieces++;
		cJSON_Delete(j);
		free(d);
		p = e;
	}
	assert_true(pieces >= 3);
	in = cJSON_Parse(json.data);
	assert_non_null(in);
	assert_string_equal(simtest_jstr(in, "city"), "sim city");
	cJSON_Delete(in);
	buf_free(&json);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* Mistral, Azure and Ollama (both APIs) call tools in their own shapes. */
static void
test_tools_other_protocols(void **state)
{
	struct sim *s;
	struct simtest_resp r;
	cJSON *j, *chunks;
	char *bodyv;

	(void)state;
	s = simtest_start(SIM_MISTRAL, NULL, NULL);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"mistral-large-latest\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hi\"}]," OAI_TOOLS ",\"tool_choice\":\"any\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "tool_calls");
	assert_int_equal(strlen(simtest_jstr(j, "choices.0.message.tool_calls.0.id")), 9);
	assert_string_equal(simtest_jstr(j, "choices.0.message.content"), "");
	check_weather_args(simtest_jstr(j, "choices.0.message.tool_calls.0.function.arguments"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* streamed: one chunk with the whole call */
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"mistral-large-latest\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}]," OAI_TOOLS ",\"tool_choice\":\"required\"}",
	    200, &r));
	chunks = simtest_sse_datas(r.body.data);
	j = cJSON_GetArrayItem(chunks, 1);
	check_weather_args(simtest_jstr(j, "choices.0.delta.tool_calls.0.function.arguments"));
	j = cJSON_GetArrayItem(chunks, cJSON_GetArraySize(chunks) - 1);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "tool_calls");
	assert_true(simtest_jnum(j, "usage.prompt_tokens") > 0);
	cJSON_Delete(chunks);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_AZURE, NULL, NULL);
	j = simtest_post(s, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
	    simtest_az_hdrs,
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]," OAI_TOOLS
	    ",\"tool_choice\":\"required\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "tool_calls");
	assert_string_equal(simtest_jstr(j, "choices.0.message.tool_calls.0.function.name"),
	    "get_weather");
	assert_non_null(simtest_jpath(j, "choices.0.content_filter_results"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OLLAMA, NULL, NULL);
	/* native: auto only; arguments are an object */
	j = simtest_post(s, "/api/chat", simtest_oai_hdrs,
	    "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Call get_weather please\"}]," OAI_TOOLS "}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "message.tool_calls.0.function.name"), "get_weather");
	assert_string_equal(simtest_jstr(j, "message.tool_calls.0.function.arguments.city"),
	    "sim city");
	assert_true(cJSON_IsTrue(simtest_jpath(j, "done")));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* native streamed: a chunk with the calls, then done */
	cJSON_Delete(simtest_post(s, "/api/chat", simtest_oai_hdrs,
	    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"get_time\"}]"
	    "," OAI_TOOLS "}",
	    200, &r));
	bodyv = strstr(r.body.data, "\"tool_calls\":[{\"id\":\"call_");
	assert_non_null(bodyv);
	assert_non_null(strstr(bodyv, "\"done\":true"));
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"
	    "," OAI_TOOLS ",\"tool_choice\":\"required\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "tool_calls");
	assert_true(cJSON_IsString(simtest_jpath(j,
	    "choices.0.message.tool_calls.0.function.arguments")));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_images(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	double plain;

	(void)state;
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"text\",\"text\":\"What is this?\"}]}]}",
	    200, &r);
	plain = simtest_jnum(j, "usage.input_tokens");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a valid PNG counts for image tokens */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"" PNG_B64 "\"}},{\"type\":\"text\",\"text\":\"What is this?\"}]}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.input_tokens") == plain + 85);
	assert_non_null(strstr(simtest_jstr(j, "content.0.text"), "You asked: What is this?"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a media type the API does not take */
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\","
	    "\"media_type\":\"image/bmp\",\"data\":\"" PNG_B64 "\"}}]}]}",
	    400, &r));
	assert_non_null(strstr(r.body.data,
	    "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
	    "\"messages.0.content.1.image.source.base64.media_type: Input should be 'image/jpeg', "
	    "'image/png', 'image/gif' or 'image/webp'\"},\"request_id\":\"req_011C"));
	simtest_resp_free(&r);
	/* not base64; bytes of another type than declared */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"not*base64\"}}]}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "messages.0.content.0.image.source.base64: invalid base64 data");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/jpeg\","
	    "\"data\":\"" PNG_B64 "\"}}]}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "messages.0.content.0.image.source.base64.data: Image does not match the provided "
	    "media type image/jpeg");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a URL source is fetched by the provider: accepted */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/"
	    "a.png\"}}"
	    ",{\"type\":\"text\",\"text\":\"x\"}]}]}",
	    200, &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OPENAI, NULL, NULL);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\","
	    "\"text\":\"What is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/gif;base64," GIF_B64 "\"}},{\"type\":\"image_url\",\"image_url\":{"
	    "\"url\":\"https://example.com/cat.jpg\",\"detail\":\"low\"}}]}]}",
	    200, &r);
	/* "What is this?": 4 tokens, two images of 85 */
	assert_true(simtest_jnum(j, "usage.prompt_tokens") == 4 + 2 * 85);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"text\","
	    "\"text\":\"x\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"" PNG_B64 "\"}}]}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "invalid_value");
	assert_string_equal(simtest_jstr(j, "error.param"), "messages[0].content[1].image_url.url");
	assert_non_null(strstr(simtest_jstr(j, "error.message"), "without the 'data:' prefix."));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,aGVsbG8gd29ybGQ=\"}}]}]}",
	    400, &r));
	assert_string_equal(r.body.data,
	    "{\"error\":{\"message\":\"You uploaded an unsupported image. Please make sure your "
	    "image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].\",\"type\":"
	    "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_image_format\"}}");
	simtest_resp_free(&r);
	sim_stop(s);

	/* Ollama's native images: base64 beside the content */
	s = simtest_start(SIM_OLLAMA, NULL, NULL);
	j = simtest_post(s, "/api/chat", NULL,
	    "{\"model\":\"llava\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Describe\",\"images\":[\"" PNG_B64 "\"]}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "prompt_eval_count") == 2 + 85);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/api/chat", NULL,
	    "{\"model\":\"llava\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Describe\",\"images\":[\"%%%\"]}]}",
	    400, &r);
	assert_memory_equal(simtest_jstr(j, "error"), "illegal base64 data", 19);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_json_mode(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j, *a;

	(void)state;
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Answer in JSON: "
	    "hi\"}],\"response_format\":{\"type\":\"json_object\"}}",
	    200, &r);
	a = cJSON_Parse(simtest_jstr(j, "choices.0.message.content"));
	assert_true(cJSON_IsObject(a));
	assert_non_null(strstr(simtest_jstr(a, "answer"), "You asked: Answer in JSON: hi."));
	cJSON_Delete(a);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* json_object needs the word JSON in the messages */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"response_format\":{\"type\":\"json_object\"}}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "'messages' must contain the word 'json' in some form, to use 'response_format' of "
	    "type 'json_object'.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* json_schema: an object with the schema's required properties */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"A person\"}],"
	    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\","
	    "\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
	    "\"string\"},\"age\":{\"type\":\"integer\"},\"pets\":{\"type\":\"array\",\"items\":{"
	    "\"$ref\":\"#/$defs/pet\"}}},\"required\":[\"name\",\"age\",\"pets\"],"
	    "\"additionalProperties\":false,\"$defs\":{\"pet\":{\"type\":\"object\",\"properties\":"
	    "{"
	    "\"kind\":{\"type\":\"string\",\"enum\":[\"cat\",\"dog\"]}},\"required\":[\"kind\"]}}}}"
	    "}}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.message.content"),
	    "{\"name\":\"sim name\",\"age\":1,\"pets\":[{\"kind\":\"cat\"}]}");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OLLAMA, NULL, NULL);
	j = simtest_post(s, "/api/chat", NULL,
	    "{\"model\":\"llama3.2\",\"stream\":false,\"format\":\"json\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}]}",
	    200, &r);
	a = cJSON_Parse(simtest_jstr(j, "message.content"));
	assert_true(cJSON_IsObject(a));
	cJSON_Delete(a);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_stop_sequences(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"stop_sequences\":[\"never\",\"simulated\"],"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "content.0.text"),
	    "[anthropic-sim] You asked: Hello there. Here is a ");
	assert_string_equal(simtest_jstr(j, "stop_reason"), "stop_sequence");
	assert_string_equal(simtest_jstr(j, "stop_sequence"), "simulated");
	assert_true(simtest_jnum(j, "usage.output_tokens") == 13);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"stream\":true,\"stop_sequences\":[\"You\"],"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}",
	    200, &r));
	assert_non_null(strstr(r.body.data,
	    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\","
	    "\"stop_sequence\":\"You\"}"));
	assert_null(strstr(r.body.data, "asked"));
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OPENAI, NULL, NULL);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"stop\":\"Here\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hello there\"}]}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.message.content"),
	    "[openai-sim] You asked: Hello there. ");
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "stop");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* A system prompt of n bytes of repeated text, as a JSON string's contents. */
static char *
long_text(size_t n)
{
	struct buf b;

	buf_init(&b);
	while (b.len < n)
		buf_puts(&b, "The operator's runbook says: keep every provider healthy. ");
	b.data[n] = '\0';
	b.len = n;
	return buf_detach(&b);
}

static void
test_prompt_cache(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	char *sys = long_text(6000), *body, *body1h, *obody, *sbody;

	(void)state;
	/* 6000 bytes of system prompt: 1500 tokens, above the 1024 minimum */
	body =
	    xasprintf("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"system\":[{\"type\":"
	              "\"text\",\"text\":\"%s\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
	              "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}",
	        sys);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs, body, 200, &r);
	assert_true(simtest_jnum(j, "usage.cache_creation_input_tokens") == 1500);
	assert_true(simtest_jnum(j, "usage.cache_read_input_tokens") == 0);
	assert_true(simtest_jnum(j, "usage.cache_creation.ephemeral_5m_input_tokens") == 1500);
	assert_true(simtest_jnum(j, "usage.input_tokens") ==
	    3); /* " Hello there" after the prefix */
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* the same prefix again: read */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs, body, 200, &r);
	assert_true(simtest_jnum(j, "usage.cache_creation_input_tokens") == 0);
	assert_true(simtest_jnum(j, "usage.cache_read_input_tokens") == 1500);
	assert_true(simtest_jnum(j, "usage.input_tokens") == 3);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* streamed: message_start and message_delta carry the cache counts */
	sbody = xasprintf("{\"stream\":true,%s", body + 1);
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs, sbody, 200, &r));
	assert_non_null(strstr(r.body.data,
	    "\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":1500,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
	    "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,"));
	assert_non_null(strstr(r.body.data,
	    "\"usage\":{\"input_tokens\":3,\"cache_creation_input_tokens\":0,"
	    "\"cache_read_input_tokens\":1500,\"output_tokens\":"));
	simtest_resp_free(&r);
	/* a 1-hour breakpoint on another prefix writes to the 1h bucket */
	body1h = xasprintf("{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"system\":[{"
	                   "\"type\":\"text\",\"text\":\"%s!\",\"cache_control\":{\"type\":"
	                   "\"ephemeral\",\"ttl\":\"1h\"}}],\"messages\":[{\"role\":\"user\","
	                   "\"content\":\"Hello there\"}]}",
	    sys);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs, body1h, 200, &r);
	assert_true(simtest_jnum(j, "usage.cache_creation.ephemeral_1h_input_tokens") == 1501);
	assert_true(simtest_jnum(j, "usage.cache_creation_input_tokens") == 1501);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* below the minimum: nothing cached, no error */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":100,\"system\":[{\"type\":\"text\",\"text\":\"short\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.cache_creation_input_tokens") == 0);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	/* OpenAI: automatic, on a repeated prefix of 1024 tokens or more */
	s = simtest_start(SIM_OPENAI, NULL, NULL);
	obody = xasprintf("{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{"
	                  "\"include_usage\":true},\"messages\":[{\"role\":\"system\",\"content\":"
	                  "\"%s\"},{\"role\":\"user\",\"content\":\"Hello there\"}]}",
	    sys);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs, obody, 200, &r));
	assert_non_null(strstr(r.body.data, "\"prompt_tokens_details\":{\"cached_tokens\":0,"));
	simtest_resp_free(&r);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs, obody, 200, &r));
	/* 1503 tokens: cached in steps of 128 from 1024, so 1408 */
	assert_non_null(strstr(r.body.data,
	    "\"usage\":{\"prompt_tokens\":1503,\"completion_tokens\":"));
	assert_non_null(strstr(r.body.data, "\"prompt_tokens_details\":{\"cached_tokens\":1408,"));
	simtest_resp_free(&r);
	sim_stop(s);
	free(sys);
	free(body);
	free(body1h);
	free(sbody);
	free(obody);
}

static void
test_reasoning(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	double visible;

	(void)state;
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"o3-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
	    "there\"}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.completion_tokens_details.reasoning_tokens") == 64);
	visible = (double)((strlen(simtest_jstr(j, "choices.0.message.content")) + 3) / 4);
	assert_true(simtest_jnum(j, "usage.completion_tokens") == visible + 64);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* effort changes the count; a budget all spent on reasoning leaves no text */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-5\",\"reasoning_effort\":\"high\",\"max_completion_tokens\":100,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.completion_tokens_details.reasoning_tokens") == 100);
	assert_string_equal(simtest_jstr(j, "choices.0.message.content"), "");
	assert_string_equal(simtest_jstr(j, "choices.0.finish_reason"), "length");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* max_tokens and a temperature are refused on reasoning models */
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"o1\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}",
	    400, &r));
	assert_string_equal(r.body.data,
	    "{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not supported with "
	    "this model. Use 'max_completion_tokens' instead.\",\"type\":\"invalid_request_error\","
	    "\"param\":\"max_tokens\",\"code\":\"unsupported_parameter\"}}");
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-5-mini\",\"temperature\":0.2,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "unsupported_value");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* an ordinary model reports zero */
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.completion_tokens_details.reasoning_tokens") == 0);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	/* Azure: max_tokens on an o-series deployment */
	s = simtest_start(SIM_AZURE, NULL, NULL);
	j = simtest_post(s,
	    "/openai/deployments/o3-mini/chat/completions?api-version=2024-12-01-preview",
	    simtest_az_hdrs,
	    "{\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "unsupported_parameter");
	assert_string_equal(simtest_jstr(j, "error.param"), "max_tokens");
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s,
	    "/openai/deployments/o3-mini/chat/completions?api-version=2024-12-01-preview",
	    simtest_az_hdrs,
	    "{\"max_completion_tokens\":500,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    200, &r);
	assert_true(simtest_jnum(j, "usage.completion_tokens_details.reasoning_tokens") == 64);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_anthropic_thinking(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;
	const char *think =
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":4096,\"thinking\":{\"type\":"
	    "\"enabled\",\"budget_tokens\":2048},\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hello there\"}]}";
	char *sbody;

	(void)state;
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs, think, 200, &r);
	assert_string_equal(simtest_jstr(j, "content.0.type"), "thinking");
	assert_non_null(strstr(simtest_jstr(j, "content.0.thinking"), "Hello there"));
	assert_true(strlen(simtest_jstr(j, "content.0.signature")) > 64);
	assert_string_equal(simtest_jstr(j, "content.1.type"), "text");
	/* output_tokens counts the thinking too */
	assert_true(simtest_jnum(j, "usage.output_tokens") >
	    (double)((strlen(simtest_jstr(j, "content.1.text")) + 3) / 4));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sbody = xasprintf("{\"stream\":true,%s", think + 1);
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs, sbody, 200, &r));
	assert_non_null(strstr(r.body.data,
	    "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
	    "\"signature\":\"\"}}"));
	assert_non_null(strstr(r.body.data,
	    "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"));
	assert_non_null(strstr(r.body.data,
	    "\"delta\":{\"type\":\"signature_delta\",\"signature\":"));
	assert_non_null(strstr(r.body.data,
	    "\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
	assert_non_null(strstr(r.body.data, "{\"type\":\"content_block_stop\",\"index\":1}"));
	simtest_resp_free(&r);
	free(sbody);
	/* the API's rules for thinking */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":4096,\"thinking\":{\"type\":\"enabled\",\"budget_"
	    "tokens\""
	    ":512},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":2000,\"thinking\":{\"type\":\"enabled\",\"budget_"
	    "tokens\""
	    ":2000},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    400, &r);
	assert_memory_equal(simtest_jstr(j, "error.message"),
	    "`max_tokens` must be greater than `thinking.budget_tokens`.", 59);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"m\",\"max_tokens\":4096,\"thinking\":{\"type\":\"enabled\",\"budget_"
	    "tokens\""
	    ":2000},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," ANTH_TOOLS
	    ",\"tool_choice\":{\"type\":\"any\"}}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "Thinking may not be enabled when tool_choice forces tool use.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* Magistral shows its thinking as the first content chunk, whole and streamed. */
static void
test_magistral_thinking(void **state)
{
	struct sim *s = simtest_start(SIM_MISTRAL, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"magistral-medium-latest\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hello there\"}]}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "choices.0.message.content.0.type"), "thinking");
	assert_string_equal(simtest_jstr(j, "choices.0.message.content.0.thinking.0.type"), "text");
	assert_non_null(strstr(simtest_jstr(j, "choices.0.message.content.0.thinking.0.text"),
	    "Hello there"));
	assert_string_equal(simtest_jstr(j, "choices.0.message.content.1.type"), "text");
	assert_non_null(strstr(simtest_jstr(j, "choices.0.message.content.1.text"),
	    "You asked: Hello there."));
	/* completion_tokens counts the thinking */
	assert_true(simtest_jnum(j, "usage.completion_tokens") >
	    (double)((strlen(simtest_jstr(j, "choices.0.message.content.1.text")) + 3) / 4));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"magistral-small-latest\",\"stream\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Hello there\"}]}",
	    200, &r));
	assert_non_null(strstr(r.body.data,
	    "\"delta\":{\"content\":[{\"type\":\"thinking\",\"thinking\":[{\"type\":\"text\","
	    "\"text\":\"The user asks: Hello there."));
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_validation_errors(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	cJSON_Delete(simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"temperature\":1.5,\"messages\":[{"
	    "\"role\":\"user\",\"content\":\"x\"}]}",
	    400, &r));
	assert_memory_equal(r.body.data,
	    "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
	    "\"temperature: Input should be less than or equal to 1\"},\"request_id\":\"req_011C",
	    140);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"temperature\":0.5,\"top_p\":0.9,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "`temperature` and `top_p` cannot both be specified for this model. Please use only "
	    "one.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* an older model takes both */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-3-5-haiku-latest\",\"max_tokens\":10,\"temperature\":0.5,"
	    "\"top_p\":0.9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    200, &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OPENAI, NULL, NULL);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"temperature\":2.5,\"messages\":[{\"role\":\"user\","
	    "\"content\":"
	    "\"x\"}]}",
	    400, &r));
	assert_string_equal(r.body.data,
	    "{\"error\":{\"message\":\"Invalid 'temperature': decimal above maximum value. "
	    "Expected "
	    "a value <= 2, but got 2.5 instead.\",\"type\":\"invalid_request_error\",\"param\":"
	    "\"temperature\",\"code\":\"decimal_above_max_value\"}}");
	simtest_resp_free(&r);
	sim_stop(s);

	/* Mistral: unknown fields are a 422 in its body shape; its own fields pass */
	s = simtest_start(SIM_MISTRAL, NULL, NULL);
	cJSON_Delete(simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"mistral-small\",\"max_completion_tokens\":5,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"x\"}]}",
	    422, &r));
	assert_string_equal(r.body.data,
	    "{\"detail\":[{\"type\":\"extra_forbidden\",\"loc\":[\"body\",\"max_completion_"
	    "tokens\"],"
	    "\"msg\":\"Extra inputs are not permitted\",\"input\":5}]}");
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"magistral-medium-latest\",\"prompt_mode\":\"reasoning\",\"random_seed\":"
	    "1,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    200, &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_rate_limit_headers(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL,
	    "{\"error_rate\":1,\"error_status\":429,"
	    "\"retry_after\":2}");
	struct simtest_resp r;
	char h[128];
	cJSON *j;

	(void)state;
	j = simtest_post(s, "/v1/chat/completions", simtest_oai_hdrs,
	    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 429, &r);
	assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "2");
	assert_string_equal(simtest_header(&r, "retry-after-ms", h, sizeof h), "2000");
	assert_string_equal(simtest_header(&r, "x-ratelimit-limit-requests", h, sizeof h), "4000");
	assert_string_equal(simtest_header(&r, "x-ratelimit-remaining-requests", h, sizeof h), "0");
	assert_string_equal(simtest_header(&r, "x-ratelimit-reset-requests", h, sizeof h), "2s");
	assert_non_null(simtest_header(&r, "x-ratelimit-limit-tokens", h, sizeof h));
	assert_non_null(simtest_header(&r, "x-ratelimit-remaining-tokens", h, sizeof h));
	assert_non_null(simtest_header(&r, "x-ratelimit-reset-tokens", h, sizeof h));
	assert_string_equal(simtest_jstr(j, "error.code"), "rate_limit_exceeded");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	/* Azure says when to come back even when not told: its message's 60 seconds */
	s = simtest_start(SIM_AZURE, NULL, "{\"error_rate\":1,\"error_status\":429}");
	j = simtest_post(s, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
	    simtest_az_hdrs, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 429, &r);
	assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "60");
	assert_string_equal(simtest_header(&r, "retry-after-ms", h, sizeof h), "60000");
	assert_string_equal(simtest_header(&r, "x-ratelimit-remaining-requests", h, sizeof h), "0");
	assert_string_equal(simtest_header(&r, "x-ratelimit-reset-requests", h, sizeof h), "60s");
	assert_string_equal(simtest_header(&r, "x-ratelimit-limit-tokens", h, sizeof h), "1000000");
	assert_string_equal(simtest_header(&r, "x-ratelimit-reset-tokens", h, sizeof h), "60s");
	assert_string_equal(simtest_jstr(j, "error.code"), "429");
	assert_non_null(strstr(simtest_jstr(j, "error.message"), "Please retry after 60 seconds."));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_ollama_native(void **state)
{
	struct sim *s = simtest_start(SIM_OLLAMA, "ignored-key", NULL);
	struct simtest_resp r;
	cJSON *j;
	char *text = long_text(2000), *body;
	char *u;

	(void)state;
	/* no key needed, whatever the sim was given */
	j = simtest_post(s, "/api/chat", NULL,
	    "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Hello there\"}]}",
	    200, &r);
	assert_non_null(strstr(simtest_jstr(j, "message.content"), "You asked: Hello there."));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/chat/completions", NULL,
	    "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 200,
	    &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* a prompt longer than num_ctx is cut to it: prompt_eval_count says so */
	body = xasprintf("{\"model\":\"llama3.2\",\"stream\":false,\"options\":{\"num_ctx\":256},"
	                 "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
	    text);
	j = simtest_post(s, "/api/chat", NULL, body, 200, &r);
	assert_true(simtest_jnum(j, "prompt_eval_count") == 256);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(body);
	body = xasprintf("{\"model\":\"llama3.2\",\"stream\":false,\"options\":{\"num_ctx\":4096},"
	                 "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
	    text);
	j = simtest_post(s, "/api/chat", NULL, body, 200, &r);
	assert_true(simtest_jnum(j, "prompt_eval_count") == 500);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(body);
	/* /api/tags */
	u = simtest_url(s, "/api/tags");
	simtest_http("GET", u, NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = simtest_parse(&r);
	assert_string_equal(simtest_jstr(j, "models.0.name"), "llama3.2:latest");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	free(u);
	free(text);
	sim_stop(s);
}

/* The float32 values of a base64 embedding. */
static size_t
b64_floats(const char *s, float *out, size_t max)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char bytes[16384];
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (; *s != '\0' && *s != '='; s++) {
		acc = acc << 6 | (uint32_t)(strchr(al, *s) - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bytes[n++] = (unsigned char)(acc >> bits);
		}
	}
	for (size_t i = 0; i < n / 4 && i < max; i++) {
		uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
		    (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;

		memcpy(&out[i], &u, 4);
	}
	return n / 4;
}

static void
test_embeddings(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, "sk-test-1234", NULL);
	struct simtest_resp r;
	cJSON *j, *j2;
	float v[512];
	double norm = 0;

	(void)state;
	j = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello world\",\"second one\"],"
	    "\"encoding_format\":\"float\"}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "object"), "list");
	assert_string_equal(simtest_jstr(j, "data.0.object"), "embedding");
	assert_true(simtest_jnum(j, "data.1.index") == 1);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "data.0.embedding")), 1536);
	assert_true(simtest_jnum(j, "usage.prompt_tokens") == 3 + 3);
	assert_true(simtest_jnum(j, "usage.total_tokens") == 6);
	{
		const cJSON *e;

		cJSON_ArrayForEach(e, simtest_jpath(j, "data.0.embedding")) norm +=
		    e->valuedouble * e->valuedouble;
	}
	assert_true(norm > 0.999 && norm < 1.001);
	simtest_resp_free(&r);
	/* deterministic; dimensions honoured; base64 (the openai client's default) */
	j2 = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"text-embedding-3-small\",\"input\":\"hello world\",\"dimensions\":256,"
	    "\"encoding_format\":\"base64\"}",
	    200, &r);
	assert_int_equal(b64_floats(simtest_jstr(j2, "data.0.embedding"), v, 512), 256);
	norm = 0;
	for (int i = 0; i < 256; i++)
		norm += (double)v[i] * v[i];
	assert_true(norm > 0.999 && norm < 1.001);
	cJSON_Delete(j2);
	simtest_resp_free(&r);
	j2 = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"text-embedding-3-small\",\"input\":\"hello world\","
	    "\"encoding_format\":\"float\"}",
	    200, &r);
	assert_true(cJSON_Compare(simtest_jpath(j, "data.0.embedding"),
	    simtest_jpath(j2, "data.0.embedding"), 1));
	cJSON_Delete(j2);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"text-embedding-ada-002\",\"input\":\"x\",\"dimensions\":8}", 400, &r);
	assert_string_equal(simtest_jstr(j, "error.message"),
	    "This model does not support specifying dimensions.");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"text-embedding-3-small\",\"input\":[]}", 400, &r);
	assert_memory_equal(simtest_jstr(j, "error.message"), "'$.input' is invalid.", 21);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* the key is checked like chat's */
	cJSON_Delete(simtest_post(s, "/v1/embeddings", NULL, "{\"model\":\"m\",\"input\":\"x\"}",
	    401, &r));
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_AZURE, NULL, NULL);
	j = simtest_post(s, "/openai/deployments/emb-small/embeddings?api-version=2024-10-21",
	    simtest_az_hdrs,
	    "{\"input\":\"hello\",\"encoding_format\":\"float\",\"dimensions\":64}", 200, &r);
	assert_string_equal(simtest_jstr(j, "model"), "emb-small");
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "data.0.embedding")), 64);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_MISTRAL, NULL, NULL);
	j = simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"mistral-embed\",\"input\":[\"hi\"]}", 200, &r);
	assert_int_equal(strlen(simtest_jstr(j, "id")), 32);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "data.0.embedding")), 1024);
	assert_true(simtest_jnum(j, "usage.completion_tokens") == 0);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	cJSON_Delete(simtest_post(s, "/v1/embeddings", simtest_oai_hdrs,
	    "{\"model\":\"mistral-embed\",\"input\":\"hi\",\"dimensions\":8}", 422, &r));
	assert_non_null(strstr(r.body.data, "\"loc\":[\"body\",\"dimensions\"]"));
	simtest_resp_free(&r);
	sim_stop(s);

	s = simtest_start(SIM_OLLAMA, NULL, NULL);
	j = simtest_post(s, "/api/embed", NULL,
	    "{\"model\":\"nomic-embed-text\",\"input\":[\"a\",\"b\"]}", 200, &r);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "embeddings")), 2);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "embeddings.0")), 768);
	assert_true(simtest_jnum(j, "prompt_eval_count") == 2);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/api/embeddings", NULL,
	    "{\"model\":\"nomic-embed-text\",\"prompt\":\"a\"}", 200, &r);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "embedding")), 768);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/embeddings", NULL,
	    "{\"model\":\"nomic-embed-text\",\"input\":\"a\",\"encoding_format\":\"float\"}", 200,
	    &r);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "data.0.embedding")), 1536);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_tools_forced),
	    cmocka_unit_test(test_openai_tools_auto_and_round_trip),
	    cmocka_unit_test(test_openai_tools_stream),
	    cmocka_unit_test(test_anthropic_tools),
	    cmocka_unit_test(test_anthropic_tools_stream),
	    cmocka_unit_test(test_tools_other_protocols),
	    cmocka_unit_test(test_images),
	    cmocka_unit_test(test_json_mode),
	    cmocka_unit_test(test_stop_sequences),
	    cmocka_unit_test(test_prompt_cache),
	    cmocka_unit_test(test_reasoning),
	    cmocka_unit_test(test_anthropic_thinking),
	    cmocka_unit_test(test_magistral_thinking),
	    cmocka_unit_test(test_validation_errors),
	    cmocka_unit_test(test_rate_limit_headers),
	    cmocka_unit_test(test_ollama_native),
	    cmocka_unit_test(test_embeddings),
	};

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
