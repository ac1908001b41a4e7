/*
 * test_sim_responses.c: the simulated OpenAI Responses API (POST /v1/responses
 * and Azure's forms), bytes on the wire: the response object and its usage,
 * string and item input, a function call and its output sent back, JSON schema
 * output, reasoning items (summary, encrypted_content round trip, forged ones
 * refused), max_output_tokens, the stream's numbered events, injected errors and
 * faults; and the Anthropic sim's system messages and output_config.format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim_testutil.h"
#include "util/util.h"

#define PNG_B64 \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5" \
	"ErkJggg=="

/* Flat function tools, as the Responses API takes them, and a built-in one. */
#define RSP_TOOLS \
	"\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Weather\"," \
	"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}," \
	"\"days\":{\"type\":\"integer\",\"minimum\":3}},\"required\":[\"city\",\"days\"]," \
	"\"additionalProperties\":false},\"strict\":true},{\"type\":\"function\",\"name\":" \
	"\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"zone\":{\"type\":" \
	"\"string\"}}}},{\"type\":\"web_search\"}]"

static cJSON *
rsp_post(struct sim *s, const char *body, long want, struct simtest_resp *r)
{
	return simtest_post(s, "/v1/responses", simtest_oai_hdrs, body, want, r);
}

/* A 400's error object: its type, code and param. */
static void
check_refusal(struct sim *s, const char *body, const char *code, const char *param)
{
	struct simtest_resp r;
	cJSON *j = rsp_post(s, body, 400, &r);

	assert_non_null(j);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	if (code != NULL)
		assert_string_equal(simtest_jstr(j, "error.code"), code);
	else
		assert_true(cJSON_IsNull(simtest_jpath(j, "error.code")));
	if (param != NULL)
		assert_string_equal(simtest_jstr(j, "error.param"), param);
	else
		assert_true(cJSON_IsNull(simtest_jpath(j, "error.param")));
	assert_non_null(simtest_jstr(j, "error.message"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
}

static void
test_text_answer(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, "sk-test-1234", NULL);
	struct simtest_resp r;
	char h[256];
	const char *text;
	cJSON *j;

	(void)state;
	j = rsp_post(s, "{\"model\":\"gpt-4o\",\"input\":\"Hello there\"}", 200, &r);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h), "application/json");
	assert_non_null(simtest_header(&r, "x-request-id", h, sizeof h));
	assert_memory_equal(simtest_jstr(j, "id"), "resp_", 5);
	assert_int_equal(strlen(simtest_jstr(j, "id")), 5 + 48);
	assert_string_equal(simtest_jstr(j, "object"), "response");
	assert_true(simtest_jnum(j, "created_at") > 1700000000);
	assert_string_equal(simtest_jstr(j, "status"), "completed");
	assert_string_equal(simtest_jstr(j, "model"), "gpt-4o");
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "output")), 1);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "message");
	assert_memory_equal(simtest_jstr(j, "output.0.id"), "msg_", 4);
	assert_string_equal(simtest_jstr(j, "output.0.status"), "completed");
	assert_string_equal(simtest_jstr(j, "output.0.role"), "assistant");
	assert_string_equal(simtest_jstr(j, "output.0.content.0.type"), "output_text");
	assert_true(cJSON_IsArray(simtest_jpath(j, "output.0.content.0.annotations")));
	text = simtest_jstr(j, "output.0.content.0.text");
	assert_non_null(strstr(text, "[openai-sim] You asked: Hello there. Here is"));
	assert_null(simtest_jpath(j, "output_text")); /* the SDK computes it */
	/* usage: "Hello there" is 11 bytes, 3 tokens */
	assert_int_equal((int)simtest_jnum(j, "usage.input_tokens"), 3);
	assert_int_equal((int)simtest_jnum(j, "usage.input_tokens_details.cached_tokens"), 0);
	assert_int_equal((int)simtest_jnum(j, "usage.output_tokens"),
	    (int)((strlen(text) + 3) / 4));
	assert_int_equal((int)simtest_jnum(j, "usage.output_tokens_details.reasoning_tokens"), 0);
	assert_int_equal((int)simtest_jnum(j, "usage.total_tokens"),
	    3 + (int)((strlen(text) + 3) / 4));
	/* the echoed settings, with their defaults */
	assert_true(cJSON_IsNull(simtest_jpath(j, "error")));
	assert_true(cJSON_IsNull(simtest_jpath(j, "incomplete_details")));
	assert_true(cJSON_IsNull(simtest_jpath(j, "instructions")));
	assert_true(cJSON_IsNull(simtest_jpath(j, "max_output_tokens")));
	assert_true(cJSON_IsNull(simtest_jpath(j, "previous_response_id")));
	assert_string_equal(simtest_jstr(j, "tool_choice"), "auto");
	assert_true(cJSON_IsTrue(simtest_jpath(j, "parallel_tool_calls")));
	assert_true(cJSON_IsTrue(simtest_jpath(j, "store")));
	assert_true(simtest_jnum(j, "temperature") == 1);
	assert_true(simtest_jnum(j, "top_p") == 1);
	assert_string_equal(simtest_jstr(j, "text.format.type"), "text");
	assert_string_equal(simtest_jstr(j, "truncation"), "disabled");
	assert_true(cJSON_IsArray(simtest_jpath(j, "tools")));
	assert_true(cJSON_IsObject(simtest_jpath(j, "metadata")));
	assert_true(cJSON_IsObject(simtest_jpath(j, "reasoning")));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* the request's settings come back */
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"instructions\":\"Be brief.\","
	    "\"temperature\":0.5,\"top_p\":0.9,\"metadata\":{\"k\":\"v\"},\"store\":false,"
	    "\"truncation\":\"auto\",\"prompt_cache_key\":\"pk\",\"max_output_tokens\":500,"
	    "\"parallel_tool_calls\":false}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "instructions"), "Be brief.");
	assert_true(simtest_jnum(j, "temperature") == 0.5);
	assert_true(simtest_jnum(j, "top_p") == 0.9);
	assert_string_equal(simtest_jstr(j, "metadata.k"), "v");
	assert_true(cJSON_IsFalse(simtest_jpath(j, "store")));
	assert_string_equal(simtest_jstr(j, "truncation"), "auto");
	assert_string_equal(simtest_jstr(j, "prompt_cache_key"), "pk");
	assert_int_equal((int)simtest_jnum(j, "max_output_tokens"), 500);
	assert_true(cJSON_IsFalse(simtest_jpath(j, "parallel_tool_calls")));
	/* instructions count as input: "Be brief." and "Hi" */
	assert_true(simtest_jnum(j, "usage.input_tokens") >= 3);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_item_input(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
	    "{\"role\":\"system\",\"content\":[{\"type\":\"input_text\",\"text\":\"Really.\"}]},"
	    "{\"type\":\"message\",\"role\":\"user\",\"content\":\"First question\"},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"First "
	    "answer\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"What is in it?\"},"
	    "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64," PNG_B64 "\"},"
	    "{\"type\":\"input_image\",\"file_id\":\"file-abc\"},"
	    "{\"type\":\"input_file\",\"file_id\":\"file-def\"}]}]}",
	    200, &r);
	assert_non_null(strstr(simtest_jstr(j, "output.0.content.0.text"),
	    "You asked: What is in it?. Here is"));
	/* two images count beside the text */
	assert_true(simtest_jnum(j, "usage.input_tokens") > 2 * 1 + 10);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* refused like the real API, with the parameter named */
	check_refusal(s, "{\"input\":\"Hi\"}", "missing_required_parameter", "model");
	check_refusal(s, "{\"model\":\"gpt-4o\"}", "missing_required_parameter", "input");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":5}", "invalid_type", "input");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"bogus\":1}", "unknown_parameter",
	    "bogus");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"messages\":[]}",
	    "unknown_parameter", "messages");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"store\":\"yes\"}",
	    "invalid_type", "store");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":7}]}",
	    "invalid_type", "input[0].content");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
	    "invalid_value", "input[0].role");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":[{\"type\":\"teleport\"}]}",
	    "invalid_value", "input[0].type");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"output_text\",\"text\":\"x\"}]}]}",
	    "invalid_value", "input[0].content[0].type");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"type\":"
	    "\"function_call_output\",\"call_id\":\"call_nope\",\"output\":\"x\"}]}",
	    NULL, "input");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"previous_response_id\":\"resp_1\"}",
	    "previous_response_not_found", "previous_response_id");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"max_output_tokens\":5}",
	    "integer_below_min_value", "max_output_tokens");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"temperature\":3}",
	    "decimal_above_max_value", "temperature");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"include\":[\"everything\"]}",
	    "invalid_value", "include[0]");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"reasoning\":{\"effort\":\"max\"}}",
	    "invalid_value", "reasoning.effort");
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"text\":{\"format\":{\"type\":"
	    "\"json_object\"}}}",
	    NULL, "input");
	check_refusal(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"tool_choice\":\"sometimes\"}",
	    "invalid_value", "tool_choice");
	/* chat's nested tool shape is not the Responses API's */
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"tools\":[{\"type\":\"function\","
	    "\"function\":{\"name\":\"f\"}}]}",
	    "missing_required_parameter", "tools[0].name");
	sim_stop(s);
}

static void
test_tool_round_trip(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j, *args;
	char *body, call_id[64];

	(void)state;
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Call get_weather for Paris\"," RSP_TOOLS "}", 200,
	    &r);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "output")), 1);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "function_call");
	assert_memory_equal(simtest_jstr(j, "output.0.id"), "fc_", 3);
	assert_memory_equal(simtest_jstr(j, "output.0.call_id"), "call_", 5);
	assert_string_equal(simtest_jstr(j, "output.0.name"), "get_weather");
	assert_string_equal(simtest_jstr(j, "output.0.status"), "completed");
	args = cJSON_Parse(simtest_jstr(j, "output.0.arguments"));
	assert_non_null(args);
	assert_string_equal(simtest_jstr(args, "city"), "sim city");
	assert_true(simtest_jnum(args, "days") == 3);
	cJSON_Delete(args);
	assert_string_equal(simtest_jstr(j, "status"), "completed");
	assert_string_equal(simtest_jstr(j, "tools.2.type"), "web_search"); /* echoed */
	strlcpy_(call_id, simtest_jstr(j, "output.0.call_id"), sizeof call_id);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* the call and its output sent back: the model answers in text */
	body = xasprintf("{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":\"Call "
	                 "get_weather for Paris\"},{\"type\":\"function_call\",\"call_id\":\"%s\","
	                 "\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
	                 "{\"type\":\"function_call_output\",\"call_id\":\"%s\",\"output\":"
	                 "\"sunny, 21C\"}]," RSP_TOOLS "}",
	    call_id, call_id);
	j = rsp_post(s, body, 200, &r);
	free(body);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "message");
	assert_non_null(strstr(simtest_jstr(j, "output.0.content.0.text"),
	    "The tool returned: sunny, 21C."));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* tool_choice: a named function, and none */
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hello\",\"tool_choice\":{\"type\":\"function\","
	    "\"name\":\"get_time\"}," RSP_TOOLS "}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "output.0.name"), "get_time");
	assert_string_equal(simtest_jstr(j, "tool_choice.name"), "get_time");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Call "
	    "get_weather\",\"tool_choice\":\"none\"," RSP_TOOLS "}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "message");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"tool_choice\":{\"type\":\"function\","
	    "\"name\":\"nope\"}," RSP_TOOLS "}",
	    NULL, "tool_choice");
	sim_stop(s);
}

static void
test_json_schema(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j, *v;

	(void)state;
	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"A person\",\"text\":{\"format\":{\"type\":"
	    "\"json_schema\",\"name\":\"person\",\"strict\":true,\"schema\":{\"type\":\"object\","
	    "\"properties\":{\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"},"
	    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"name\","
	    "\"age\",\"tags\"],\"additionalProperties\":false}}}}",
	    200, &r);
	v = cJSON_Parse(simtest_jstr(j, "output.0.content.0.text"));
	assert_non_null(v);
	assert_true(cJSON_IsString(simtest_jpath(v, "name")));
	assert_true(cJSON_IsNumber(simtest_jpath(v, "age")));
	assert_true(cJSON_IsArray(simtest_jpath(v, "tags")));
	assert_string_equal(simtest_jstr(j, "text.format.name"), "person");
	cJSON_Delete(v);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	j = rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Answer in json\",\"text\":{\"format\":{\"type\":"
	    "\"json_object\"}}}",
	    200, &r);
	v = cJSON_Parse(simtest_jstr(j, "output.0.content.0.text"));
	assert_true(cJSON_IsObject(v));
	cJSON_Delete(v);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	check_refusal(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\","
	    "\"name\":\"n\"}}}",
	    "missing_required_parameter", "text.format.schema");
	sim_stop(s);
}

static void
test_reasoning_items(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j, *item, *body;
	char *b, *forged;
	const char *enc;

	(void)state;
	j = rsp_post(s,
	    "{\"model\":\"o4-mini\",\"input\":\"Why is the sky blue?\",\"reasoning\":{\"effort\":"
	    "\"low\",\"summary\":\"auto\"},\"include\":[\"reasoning.encrypted_content\"],"
	    "\"store\":false}",
	    200, &r);
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "output")), 2);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "reasoning");
	assert_memory_equal(simtest_jstr(j, "output.0.id"), "rs_", 3);
	assert_string_equal(simtest_jstr(j, "output.0.summary.0.type"), "summary_text");
	assert_non_null(strstr(simtest_jstr(j, "output.0.summary.0.text"), "Why is the sky blue?"));
	enc = simtest_jstr(j, "output.0.encrypted_content");
	assert_non_null(enc);
	assert_memory_equal(enc, "gAAAAA", 6);
	assert_string_equal(simtest_jstr(j, "output.1.type"), "message");
	assert_int_equal((int)simtest_jnum(j, "usage.output_tokens_details.reasoning_tokens"), 32);
	assert_string_equal(simtest_jstr(j, "reasoning.effort"), "low");
	assert_string_equal(simtest_jstr(j, "reasoning.summary"), "auto");

	/* the reasoning item sent back as it came: accepted */
	item = cJSON_Duplicate(simtest_jpath(j, "output.0"), 1);
	body = cJSON_Parse("{\"model\":\"o4-mini\",\"store\":false,\"include\":["
	                   "\"reasoning.encrypted_content\"],\"input\":[{\"role\":\"user\","
	                   "\"content\":\"Why is the sky blue?\"}]}");
	cJSON_AddItemToArray(cJSON_GetObjectItem(body, "input"), item);
	cJSON_AddItemToArray(cJSON_GetObjectItem(body, "input"),
	    cJSON_Duplicate(simtest_jpath(j, "output.1"), 1));
	cJSON_AddItemToArray(cJSON_GetObjectItem(body, "input"),
	    cJSON_Parse("{\"role\":\"user\",\"content\":\"And at sunset?\"}"));
	cJSON_Delete(j);
	simtest_resp_free(&r);
	b = cJSON_PrintUnformatted(body);
	j = rsp_post(s, b, 200, &r);
	cJSON_free(b);
	assert_non_null(strstr(simtest_jstr(j, "output.1.content.0.text"), "And at sunset?"));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* a forged encrypted_content is refused */
	forged = xstrdup(cJSON_GetObjectItem(item, "encrypted_content")->valuestring);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
	cJSON_ReplaceItemInObject(item, "encrypted_content", cJSON_CreateString(forged));
	free(forged);
	b = cJSON_PrintUnformatted(body);
	check_refusal(s, b, "invalid_encrypted_content", NULL);
	cJSON_free(b);
	/* ... and one moved to another item's id */
	cJSON_ReplaceItemInObject(item, "id",
	    cJSON_CreateString("rs_000000000000000000000000000000000000000000000000"));
	b = cJSON_PrintUnformatted(body);
	check_refusal(s, b, "invalid_encrypted_content", NULL);
	cJSON_free(b);
	cJSON_Delete(body);

	/* without summary or include: an empty summary, no encrypted_content */
	j = rsp_post(s, "{\"model\":\"o4-mini\",\"input\":\"Hi\"}", 200, &r);
	assert_string_equal(simtest_jstr(j, "output.0.type"), "reasoning");
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(j, "output.0.summary")), 0);
	assert_null(simtest_jpath(j, "output.0.encrypted_content"));
	assert_int_equal((int)simtest_jnum(j, "usage.output_tokens_details.reasoning_tokens"), 64);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_max_output_tokens(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	j = rsp_post(s, "{\"model\":\"gpt-4o\",\"input\":\"Hello\",\"max_output_tokens\":16}", 200,
	    &r);
	assert_string_equal(simtest_jstr(j, "status"), "incomplete");
	assert_string_equal(simtest_jstr(j, "incomplete_details.reason"), "max_output_tokens");
	assert_string_equal(simtest_jstr(j, "output.0.status"), "incomplete");
	assert_true(strlen(simtest_jstr(j, "output.0.content.0.text")) <= 64);
	assert_true(simtest_jnum(j, "usage.output_tokens") <= 16);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

/* The events of a Responses stream: names (comma separated) into names, each data
 * checked (type is the event's name, sequence numbers count from 0); the datas. */
static cJSON *
rsp_events(const char *body, struct buf *names)
{
	cJSON *all = cJSON_CreateArray(), *j;
	const char *p = body, *nl, *e;
	char *name, *d;
	int seq = 0;

	assert_null(strstr(body, "[DONE]"));
	while (*p != '\0') {
		assert_memory_equal(p, "event: ", 7);
		nl = strchr(p, '\n');
		assert_non_null(nl);
		name = xstrndup(p + 7, (size_t)(nl - p - 7));
		assert_memory_equal(nl + 1, "data: ", 6);
		e = strstr(nl, "\n\n");
		assert_non_null(e);
		d = xstrndup(nl + 7, (size_t)(e - nl - 7));
		j = cJSON_Parse(d);
		if (j == NULL)
			fail_msg("not JSON: %s", d);
		assert_string_equal(simtest_jstr(j, "type"), name);
		assert_int_equal((int)simtest_jnum(j, "sequence_number"), seq++);
		buf_printf(names, "%s%s", names->len > 0 ? "," : "", name);
		cJSON_AddItemToArray(all, j);
		free(name);
		free(d);
		p = e + 2;
	}
	return all;
}

/* The deltas of events named name, concatenated. */
static char *
rsp_deltas(const cJSON *events, const char *name)
{
	const cJSON *ev;
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	cJSON_ArrayForEach(ev, events)
	{
		if (strcmp(simtest_jstr(ev, "type"), name) == 0)
			buf_puts(&b, simtest_jstr(ev, "delta"));
	}
	return buf_detach(&b);
}

/* Collapse runs of one event name: "a,b,b,b,c" becomes "a,b*,c". */
static char *
squeeze(const char *names)
{
	struct buf b;
	char *copy = xstrdup(names), *save = NULL, *t, prev[128] = "";

	buf_init(&b);
	for (t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, prev) == 0) {
			if (b.data[b.len - 1] != '*')
				buf_puts(&b, "*");
			continue;
		}
		buf_printf(&b, "%s%s", b.len > 0 ? "," : "", t);
		strlcpy_(prev, t, sizeof prev);
	}
	free(copy);
	return buf_detach(&b);
}

static void
test_stream_text(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	struct buf names;
	cJSON *ev, *last;
	char h[128], *text, *sq;
	int ndeltas = 0;

	(void)state;
	buf_init(&names);
	rsp_post(s, "{\"model\":\"gpt-4o\",\"input\":\"Hello there\",\"stream\":true}", 200, &r);
	assert_string_equal(simtest_header(&r, "content-type", h, sizeof h),
	    "text/event-stream; charset=utf-8");
	ev = rsp_events(r.body.data, &names);
	sq = squeeze(names.data);
	assert_string_equal(sq,
	    "response.created,response.in_progress,response.output_item.added,"
	    "response.content_part.added,response.output_text.delta*,response.output_text.done,"
	    "response.content_part.done,response.output_item.done,response.completed");
	free(sq);
	for (int i = 0; i < cJSON_GetArraySize(ev); i++)
		if (strcmp(simtest_jstr(cJSON_GetArrayItem(ev, i), "type"),
		        "response.output_text.delta") == 0)
			ndeltas++;
	assert_true(ndeltas >= 3);
	assert_string_equal(simtest_jstr(ev, "0.response.status"), "in_progress");
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(ev, "0.response.output")), 0);
	assert_true(cJSON_IsNull(simtest_jpath(ev, "0.response.usage")));
	assert_string_equal(simtest_jstr(ev, "2.item.status"), "in_progress");
	assert_int_equal(cJSON_GetArraySize(simtest_jpath(ev, "2.item.content")), 0);
	assert_string_equal(simtest_jstr(ev, "3.part.text"), "");
	assert_int_equal((int)simtest_jnum(ev, "4.output_index"), 0);
	assert_int_equal((int)simtest_jnum(ev, "4.content_index"), 0);
	assert_string_equal(simtest_jstr(ev, "4.item_id"), simtest_jstr(ev, "2.item.id"));
	text = rsp_deltas(ev, "response.output_text.delta");
	last = cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1);
	assert_string_equal(simtest_jstr(last, "response.status"), "completed");
	assert_string_equal(simtest_jstr(last, "response.output.0.content.0.text"), text);
	assert_string_equal(simtest_jstr(cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 4),
	                        "text"),
	    text);
	assert_string_equal(simtest_jstr(last, "response.id"), simtest_jstr(ev, "0.response.id"));
	assert_true(simtest_jnum(last, "response.usage.output_tokens") > 0);
	assert_non_null(strstr(text, "You asked: Hello there."));
	free(text);
	cJSON_Delete(ev);
	simtest_resp_free(&r);
	buf_free(&names);
	sim_stop(s);
}

static void
test_stream_reasoning_and_call(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, NULL);
	struct simtest_resp r;
	struct buf names;
	cJSON *ev, *last;
	char *args, *sum, *sq;

	(void)state;
	buf_init(&names);
	rsp_post(s,
	    "{\"model\":\"o4-mini\",\"input\":\"Call get_weather\",\"stream\":true,\"reasoning\":{"
	    "\"summary\":\"detailed\"},\"include\":[\"reasoning.encrypted_content\"]," RSP_TOOLS
	    "}",
	    200, &r);
	ev = rsp_events(r.body.data, &names);
	sq = squeeze(names.data);
	assert_string_equal(sq,
	    "response.created,response.in_progress,response.output_item.added,"
	    "response.reasoning_summary_part.added,response.reasoning_summary_text.delta*,"
	    "response.reasoning_summary_text.done,response.reasoning_summary_part.done,"
	    "response.output_item.done,response.output_item.added,"
	    "response.function_call_arguments.delta*,response.function_call_arguments.done,"
	    "response.output_item.done,response.completed");
	free(sq);
	last = cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1);
	sum = rsp_deltas(ev, "response.reasoning_summary_text.delta");
	assert_string_equal(simtest_jstr(last, "response.output.0.summary.0.text"), sum);
	assert_non_null(simtest_jstr(last, "response.output.0.encrypted_content"));
	args = rsp_deltas(ev, "response.function_call_arguments.delta");
	assert_string_equal(simtest_jstr(last, "response.output.1.arguments"), args);
	assert_string_equal(simtest_jstr(last, "response.output.1.name"), "get_weather");
	assert_string_equal(simtest_jstr(ev, "2.item.type"), "reasoning");
	assert_null(simtest_jpath(ev, "2.item.encrypted_content"));
	free(args);
	free(sum);
	cJSON_Delete(ev);
	simtest_resp_free(&r);

	/* cut by max_output_tokens: the stream ends with response.incomplete */
	buf_reset(&names);
	rsp_post(s,
	    "{\"model\":\"gpt-4o\",\"input\":\"Hello\",\"stream\":true,\"max_output_tokens\":16}",
	    200, &r);
	ev = rsp_events(r.body.data, &names);
	last = cJSON_GetArrayItem(ev, cJSON_GetArraySize(ev) - 1);
	assert_string_equal(simtest_jstr(last, "type"), "response.incomplete");
	assert_string_equal(simtest_jstr(last, "response.incomplete_details.reason"),
	    "max_output_tokens");
	cJSON_Delete(ev);
	simtest_resp_free(&r);
	buf_free(&names);
	sim_stop(s);
}

static void
test_faults(void **state)
{
	struct sim *s = simtest_start(SIM_OPENAI, NULL, "{\"error_rate\":1,\"error_status\":500}");
	struct simtest_resp r;
	char h[64], *cause = NULL, *u;
	const char *body = "{\"model\":\"gpt-4o\",\"input\":\"Hi\",\"stream\":true}";
	cJSON *j;

	(void)state;
	j = rsp_post(s, body, 500, &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "server_error");
	assert_non_null(simtest_jstr(j, "error.message"));
	assert_non_null(simtest_jpath(j, "error.param"));
	assert_non_null(simtest_jpath(j, "error.code"));
	cJSON_Delete(j);
	simtest_resp_free(&r);

	if (sim_control(s, "{\"error_status\":429,\"retry_after\":7}", &cause) != 0)
		fail_msg("%s", cause);
	j = rsp_post(s, body, 429, &r);
	assert_string_equal(simtest_header(&r, "retry-after", h, sizeof h), "7");
	assert_string_equal(simtest_jstr(j, "error.type"), "requests");
	assert_string_equal(simtest_jstr(j, "error.code"), "rate_limit_exceeded");
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* in the middle of a stream: half the deltas, then the error event, no completed */
	if (sim_control(s, "{\"error_rate\":0,\"fault\":\"midstream\"}", &cause) != 0)
		fail_msg("%s", cause);
	u = simtest_url(s, "/v1/responses");
	simtest_http("POST", u, simtest_oai_hdrs, body, 0, &r);
	free(u);
	assert_int_equal(r.status, 200); /* then the connection closes with an error */
	assert_non_null(strstr(r.body.data, "event: error\ndata: {\"type\":\"error\","));
	assert_null(strstr(r.body.data, "response.completed"));
	{
		struct buf names;

		buf_init(&names);
		cJSON_Delete(rsp_events(r.body.data, &names)); /* numbered on to the error */
		assert_non_null(strstr(names.data, ",error"));
		buf_free(&names);
	}
	simtest_resp_free(&r);

	if (sim_control(s, "{\"fault\":\"malformed\"}", &cause) != 0)
		fail_msg("%s", cause);
	j = rsp_post(s, "{\"model\":\"gpt-4o\",\"input\":\"Hi\"}", 200, &r);
	assert_null(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_azure(void **state)
{
	struct sim *s = simtest_start(SIM_AZURE, "az-key", NULL);
	const char *nokey[] = {"content-type: application/json", NULL};
	const char *body = "{\"model\":\"gpt-4o\",\"input\":\"Hello\"}";
	struct simtest_resp r;
	cJSON *j;

	(void)state;
	j = simtest_post(s, "/openai/v1/responses", simtest_az_hdrs, body, 200, &r);
	assert_string_equal(simtest_jstr(j, "object"), "response");
	assert_string_equal(simtest_jstr(j, "model"), "gpt-4o");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/openai/responses?api-version=2025-04-01-preview", simtest_az_hdrs,
	    body, 200, &r);
	assert_string_equal(simtest_jstr(j, "status"), "completed");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* the dated path needs its api-version; every path needs the api-key */
	j = simtest_post(s, "/openai/responses", simtest_az_hdrs, body, 404, &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/openai/v1/responses", nokey, body, 401, &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "401");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/openai/v1/responses", simtest_oai_hdrs, body, 401, &r);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* refusals in OpenAI's shape */
	j = simtest_post(s, "/openai/v1/responses", simtest_az_hdrs, "{\"input\":\"x\"}", 400, &r);
	assert_string_equal(simtest_jstr(j, "error.code"), "missing_required_parameter");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

static void
test_anthropic_system_and_format(void **state)
{
	struct sim *s = simtest_start(SIM_ANTHROPIC, "sk-ant-test", NULL);
	struct simtest_resp r;
	cJSON *j, *v;
	double without;

	(void)state;
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hello there\"}]}",
	    200, &r);
	without = simtest_jnum(j, "usage.input_tokens");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	/* Claude Code's system message at messages[1]: more system prompt, not the question */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":\"Be brief.\","
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"},{\"role\":\"system\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"Answer in English, always and "
	    "everywhere.\"}]}]}",
	    200, &r);
	assert_non_null(strstr(simtest_jstr(j, "content.0.text"), "You asked: Hello there."));
	assert_true(simtest_jnum(j, "usage.input_tokens") > without + 8);
	cJSON_Delete(j);
	simtest_resp_free(&r);

	/* structured outputs: a text block that is JSON matching the schema */
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"A person\"}],\"output_config\":{\"format\":{\"type\":\"json_schema\","
	    "\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
	    "\"age\":{\"type\":\"integer\"}},\"required\":[\"name\",\"age\"],"
	    "\"additionalProperties\":false}}}}",
	    200, &r);
	assert_string_equal(simtest_jstr(j, "content.0.type"), "text");
	v = cJSON_Parse(simtest_jstr(j, "content.0.text"));
	assert_non_null(v);
	assert_true(cJSON_IsString(simtest_jpath(v, "name")));
	assert_true(cJSON_IsNumber(simtest_jpath(v, "age")));
	cJSON_Delete(v);
	cJSON_Delete(j);
	simtest_resp_free(&r);
	j = simtest_post(s, "/v1/messages", simtest_anth_hdrs,
	    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}],\"output_config\":{\"format\":{\"type\":\"json_schema\"}}}",
	    400, &r);
	assert_string_equal(simtest_jstr(j, "error.type"), "invalid_request_error");
	cJSON_Delete(j);
	simtest_resp_free(&r);
	sim_stop(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_answer),
	    cmocka_unit_test(test_item_input),
	    cmocka_unit_test(test_tool_round_trip),
	    cmocka_unit_test(test_json_schema),
	    cmocka_unit_test(test_reasoning_items),
	    cmocka_unit_test(test_max_output_tokens),
	    cmocka_unit_test(test_stream_text),
	    cmocka_unit_test(test_stream_reasoning_and_call),
	    cmocka_unit_test(test_faults),
	    cmocka_unit_test(test_azure),
	    cmocka_unit_test(test_anthropic_system_and_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
