/*
 * test_gateway_responses.c: the OpenAI Responses API at the gateway
 * (gateway_wire_responses.c), both ways.
 *
 * In process: every input item and content part into llm.h, instructions and
 * system folding, function and built-in tools, tool_choice and text.format
 * forms, reasoning, the dropped fields' labels, refusals naming the exact
 * path; the Response object for text, tool calls, reasoning and an
 * incomplete answer; the event stream for text, a tool call, reasoning, and
 * an error after it opened; Anthropic thinking through encrypted_content and
 * back to the Anthropic adapter, signed. Over loopback, a Responses client in
 * front of an Anthropic sim: a text answer, a tool round trip, a stream, a
 * refusal in OpenAI's shape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "router/router.h"
#include "sim/sim.h"
#include "admin_testutil.h"
#include "testkit.h"
#include "util/util.h"

/* ---- helpers ---- */

static void
parse_ok(const char *body, struct llm_request *req, struct gw_ask *ask)
{
	struct gw_bad bad;

	memset(&bad, 0, sizeof bad);
	llm_request_init(req);
	if (gw_parse_responses(body, strlen(body), req, ask, &bad) != 0)
		fail_msg("refused: %s (param %s)", bad.message, bad.param);
}

/* The body is refused with param and want in the message. */
static void
parse_bad(const char *body, const char *param, const char *want)
{
	struct llm_request req;
	struct gw_ask ask;
	struct gw_bad bad;
	int rc;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	rc = gw_parse_responses(body, strlen(body), &req, &ask, &bad);
	llm_request_free(&req);
	gw_ask_free(&ask);
	if (rc == 0)
		fail_msg("taken: %s", body);
	if (strcmp(bad.param, param) != 0 || strstr(bad.message, want) == NULL)
		fail_msg("%s: param \"%s\" message \"%s\" (wanted %s / %s)", body, bad.param,
		    bad.message, param, want);
}

static const struct llm_part *
part(const struct llm_request *req, size_t m, size_t p)
{
	assert_true(m < req->n_messages);
	assert_true(p < req->messages[m].n_parts);
	return &req->messages[m].parts[p];
}

static int
dropped(const struct gw_ask *ask, const char *label)
{
	for (int i = 0; i < ask->n_dropped; i++)
		if (strcmp(ask->dropped[i], label) == 0)
			return 1;
	return 0;
}

/* ---- parsing ---- */

static void
test_parse_every_item(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"input\":["
	    "{\"role\":\"system\",\"content\":\"be brief\"},"
	    "{\"type\":\"message\",\"role\":\"developer\",\"content\":[{\"type\":\"input_text\","
	    "\"text\":\"use tools\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"weather?\"},"
	    "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBORw0KGgo=\","
	    "\"detail\":\"high\"},"
	    "{\"type\":\"input_image\",\"image_url\":\"https://x.test/"
	    "a.jpg\",\"detail\":\"low\"}]},"
	    "{\"type\":\"message\",\"role\":\"assistant\",\"id\":\"msg_1\",\"status\":"
	    "\"completed\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"let me look\",\"annotations\":[]}]},"
	    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\","
	    "\"text\":\"think\"},{\"type\":\"summary_text\",\"text\":\"more\"}],"
	    "\"encrypted_content\":\"gAAAA-openai\"},"
	    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":"
	    "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
	    "{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"get_time\","
	    "\"arguments\":\"\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"18C\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"call_2\",\"output\":[{\"type\":"
	    "\"input_text\",\"text\":\"noon\"}]},"
	    "{\"role\":\"user\",\"content\":\"thanks\"}],"
	    "\"instructions\":\"you are a bot\","
	    "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":"
	    "\"Weather\","
	    "\"parameters\":{\"type\":\"object\"},\"strict\":true,\"defer_loading\":true},"
	    "{\"type\":\"web_search\"},{\"type\":\"file_search\",\"vector_store_ids\":[\"vs\"]}],"
	    "\"tool_choice\":{\"type\":\"function\",\"name\":\"get_weather\"},"
	    "\"parallel_tool_calls\":false,"
	    "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"w\",\"schema\":{\"type\":"
	    "\"object\"},\"strict\":true}},"
	    "\"reasoning\":{\"effort\":\"low\",\"summary\":\"auto\"},\"max_output_tokens\":100,"
	    "\"temperature\":0.5,\"top_p\":0.9,\"metadata\":{\"team\":\"a\"},\"user\":\"u-1\","
	    "\"stream\":true,\"previous_response_id\":\"resp_prev\",\"store\":false,"
	    "\"include\":[\"reasoning.encrypted_content\"],\"foo_bar\":1,\"Weird-Key\":2}";
	struct llm_request req;
	struct gw_ask ask;
	cJSON *j;

	(void)state;
	parse_ok(body, &req, &ask);
	assert_string_equal(ask.model, "m");
	assert_true(ask.input_estimate > 0);
	assert_string_equal(req.system, "you are a bot\n\nbe brief\n\nuse tools");
	assert_int_equal(req.n_messages, 3);
	assert_int_equal(req.messages[0].role, LLM_ROLE_USER);
	assert_int_equal(req.messages[0].n_parts, 3);
	assert_string_equal(part(&req, 0, 0)->text, "weather?");
	assert_int_equal(part(&req, 0, 1)->type, LLM_PART_IMAGE);
	assert_string_equal(part(&req, 0, 1)->url, "data:image/png;base64,iVBORw0KGgo=");
	assert_string_equal(part(&req, 0, 1)->detail, "high");
	assert_string_equal(part(&req, 0, 2)->url, "https://x.test/a.jpg");
	assert_int_equal(req.messages[1].role, LLM_ROLE_ASSISTANT);
	assert_int_equal(req.messages[1].n_parts, 4);
	assert_string_equal(part(&req, 1, 0)->text, "let me look");
	assert_int_equal(part(&req, 1, 1)->type, LLM_PART_REASONING);
	assert_string_equal(part(&req, 1, 1)->id, "rs_1");
	assert_string_equal(part(&req, 1, 1)->text, "think\n\nmore");
	assert_string_equal(part(&req, 1, 1)->data, "gAAAA-openai");
	assert_int_equal(part(&req, 1, 2)->type, LLM_PART_TOOL_CALL);
	assert_string_equal(part(&req, 1, 2)->id, "call_1");
	assert_string_equal(part(&req, 1, 2)->name, "get_weather");
	assert_string_equal(part(&req, 1, 2)->arguments, "{\"city\":\"Paris\"}");
	assert_string_equal(part(&req, 1, 3)->arguments, "{}");
	assert_int_equal(req.messages[2].n_parts, 3);
	assert_int_equal(part(&req, 2, 0)->type, LLM_PART_TOOL_RESULT);
	assert_string_equal(part(&req, 2, 0)->id, "call_1");
	assert_string_equal(part(&req, 2, 0)->parts[0].text, "18C");
	assert_string_equal(part(&req, 2, 1)->id, "call_2");
	assert_string_equal(part(&req, 2, 1)->parts[0].text, "noon");
	assert_string_equal(part(&req, 2, 2)->text, "thanks");
	/* tools: one function (its extra key kept), two built-in */
	assert_int_equal(req.n_tools, 1);
	assert_string_equal(req.tools[0].name, "get_weather");
	assert_string_equal(req.tools[0].description, "Weather");
	assert_true(req.tools[0].strict);
	assert_string_equal(req.tools[0].extra, "{\"defer_loading\":true}");
	j = cJSON_Parse(req.hosted_tools);
	assert_int_equal(cJSON_GetArraySize(j), 2);
	assert_string_equal(jstr(j, "0.type"), "web_search");
	assert_string_equal(jstr(j, "1.type"), "file_search");
	cJSON_Delete(j);
	assert_int_equal(req.tool_choice, LLM_TOOL_CHOICE_NAMED);
	assert_string_equal(req.tool_choice_name, "get_weather");
	assert_true(req.has_parallel_tool_calls);
	assert_false(req.parallel_tool_calls);
	assert_int_equal(req.response_format.type, LLM_FORMAT_JSON_SCHEMA);
	assert_string_equal(req.response_format.name, "w");
	assert_string_equal(req.response_format.schema, "{\"type\":\"object\"}");
	assert_true(req.response_format.strict);
	assert_string_equal(req.reasoning_effort, "low");
	assert_string_equal(req.reasoning_summary, "auto");
	assert_int_equal(req.max_tokens, 100);
	assert_true(req.has_temperature && req.temperature == 0.5);
	assert_true(req.has_top_p && req.top_p == 0.9);
	assert_string_equal(req.metadata, "{\"team\":\"a\"}");
	assert_string_equal(req.user, "u-1");
	assert_true(req.stream);
	/* the body goes along whole; nothing is passed through field by field */
	assert_int_equal(req.passthrough_api, LLM_API_RESPONSES);
	assert_null(req.passthrough);
	assert_string_equal(req.raw_body, body);
	assert_string_equal(ask.previous_response_id, "resp_prev");
	assert_true(dropped(&ask, "responses.store"));
	assert_true(dropped(&ask, "responses.include"));
	assert_true(dropped(&ask, "responses.foo_bar"));
	assert_true(dropped(&ask, "responses.other"));
	assert_true(dropped(&ask, "responses.tools[].extra"));
	/* the echo: as given, or the API's defaults */
	j = cJSON_Parse(ask.echo);
	assert_string_equal(jstr(j, "instructions"), "you are a bot");
	assert_string_equal(jstr(j, "tools.1.type"), "web_search");
	assert_string_equal(jstr(j, "tool_choice.name"), "get_weather");
	assert_true(cJSON_IsFalse(jget(j, "store")));
	assert_true(cJSON_IsFalse(jget(j, "parallel_tool_calls")));
	assert_true(jnum(j, "max_output_tokens") == 100);
	assert_string_equal(jstr(j, "previous_response_id"), "resp_prev");
	assert_string_equal(jstr(j, "truncation"), "disabled");
	cJSON_Delete(j);
	llm_request_free(&req);
	gw_ask_free(&ask);
}

static void
test_parse_forms(void **state)
{
	struct llm_request req;
	struct gw_ask ask;
	cJSON *j;

	(void)state;
	/* a string input, and the defaults echoed */
	parse_ok("{\"model\":\"m\",\"input\":\"hi\"}", &req, &ask);
	assert_int_equal(req.n_messages, 1);
	assert_string_equal(part(&req, 0, 0)->text, "hi");
	assert_null(req.system);
	assert_null(req.hosted_tools);
	assert_null(ask.previous_response_id);
	assert_int_equal(ask.n_dropped, 0);
	j = cJSON_Parse(ask.echo);
	assert_true(cJSON_IsNull(jget(j, "instructions")));
	assert_string_equal(jstr(j, "tool_choice"), "auto");
	assert_true(cJSON_IsTrue(jget(j, "store")));
	assert_string_equal(jstr(j, "text.format.type"), "text");
	assert_int_equal(cJSON_GetArraySize(jget(j, "tools")), 0);
	cJSON_Delete(j);
	llm_request_free(&req);
	gw_ask_free(&ask);

	/* tool_choice strings */
	static const struct {
		const char *v;
		enum llm_tool_choice want;
	} choices[] = {
	    {"\"auto\"", LLM_TOOL_CHOICE_AUTO},
	    {"\"none\"", LLM_TOOL_CHOICE_NONE},
	    {"\"required\"", LLM_TOOL_CHOICE_ANY},
	    {"{\"type\":\"allowed_tools\",\"mode\":\"required\",\"tools\":[]}",
	        LLM_TOOL_CHOICE_ANY},
	    {"{\"type\":\"web_search_preview\"}", LLM_TOOL_CHOICE_UNSET},
	};
	for (size_t i = 0; i < nitems(choices); i++) {
		char *body =
		    xasprintf("{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":%s}", choices[i].v);
		parse_ok(body, &req, &ask);
		assert_int_equal(req.tool_choice, choices[i].want);
		if (i == 3)
			assert_true(dropped(&ask, "responses.tool_choice.allowed_tools"));
		if (i == 4)
			assert_true(dropped(&ask, "responses.tool_choice.builtin"));
		llm_request_free(&req);
		gw_ask_free(&ask);
		free(body);
	}

	/* text.format */
	parse_ok("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_object\"},"
	         "\"verbosity\":\"low\"}}",
	    &req, &ask);
	assert_int_equal(req.response_format.type, LLM_FORMAT_JSON_OBJECT);
	assert_true(dropped(&ask, "responses.text.verbosity"));
	llm_request_free(&req);
	gw_ask_free(&ask);
	parse_ok("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"text\"}}}",
	    &req, &ask);
	assert_int_equal(req.response_format.type, LLM_FORMAT_TEXT);
	llm_request_free(&req);
	gw_ask_free(&ask);

	/* reasoning's older spelling; every dropped field's label */
	parse_ok("{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"generate_summary\":\"concise\"}"
	         ","
	         "\"truncation\":\"auto\",\"prompt_cache_key\":\"k\",\"service_tier\":\"flex\","
	         "\"safety_identifier\":\"s\",\"background\":false,\"max_tool_calls\":3,"
	         "\"top_logprobs\":2}",
	    &req, &ask);
	assert_string_equal(req.reasoning_summary, "concise");
	assert_null(req.reasoning_effort);
	assert_true(dropped(&ask, "responses.truncation"));
	assert_true(dropped(&ask, "responses.prompt_cache_key"));
	assert_true(dropped(&ask, "responses.service_tier"));
	assert_true(dropped(&ask, "responses.safety_identifier"));
	assert_true(dropped(&ask, "responses.background"));
	assert_true(dropped(&ask, "responses.max_tool_calls"));
	assert_true(dropped(&ask, "responses.top_logprobs"));
	llm_request_free(&req);
	gw_ask_free(&ask);
	parse_ok("{\"model\":\"m\",\"input\":\"x\",\"stream_options\":{},\"conversation\":\"c\","
	         "\"prompt\":{\"id\":\"p\"}}",
	    &req, &ask);
	assert_true(dropped(&ask, "responses.stream_options"));
	assert_true(dropped(&ask, "responses.conversation"));
	assert_true(dropped(&ask, "responses.prompt"));
	llm_request_free(&req);
	gw_ask_free(&ask);

	/* a built-in tool's call in the history: left out when translating */
	parse_ok("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"},"
	         "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"}]}",
	    &req, &ask);
	assert_int_equal(req.n_messages, 1);
	assert_true(dropped(&ask, "responses.input.web_search_call"));
	llm_request_free(&req);
	gw_ask_free(&ask);

	/* white space after the JSON: raw_body is the body as sent (bytes after it
	 * are refused: test_gateway_strings.c) */
	parse_ok("{\"model\":\"m\",\"input\":\"x\"} \n", &req, &ask);
	assert_string_equal(req.raw_body, "{\"model\":\"m\",\"input\":\"x\"} \n");
	llm_request_free(&req);
	gw_ask_free(&ask);
}

static void
test_parse_refusals_name_the_path(void **state)
{
	(void)state;
	parse_bad("{\"model\":\"m\"}", "input", "input: required");
	parse_bad("{\"model\":\"m\",\"input\":5}", "input", "input: expected a string or an array");
	parse_bad("{\"model\":\"m\",\"input\":[]}", "input", "no user or assistant item");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"system\",\"content\":\"x\"}]}", "input",
	    "no user or assistant item");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
	          "{\"role\":\"user\",\"content\":\"b\"},{\"role\":\"user\",\"content\":["
	          "{\"type\":\"input_file\",\"file_id\":\"f\"}]}]}",
	    "input[2].content[0]", "input[2].content[0].type: input_file parts are not supported");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	          "\"input_image\",\"file_id\":\"f\"}]}]}",
	    "input[0].content[0]", "input[0].content[0].file_id");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	          "\"input_audio\"}]}]}",
	    "input[0].content[0]", "input[0].content[0].type: \"input_audio\"");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "input[0]",
	    "input[0].role: \"tool\"");
	parse_bad("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"},"
	          "{\"type\":\"function_call\",\"name\":\"f\"}]}",
	    "input[1]", "input[1].call_id: expected a non-empty string");
	parse_bad("{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":"
	          "\"c\","
	          "\"output\":5}]}",
	    "input[0].output", "input[0].output: expected a string");
	parse_bad("{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"summary\":[],"
	          "\"encrypted_content\":\"llmdeck.v1.!!!!\"}]}",
	    "input[0]", "input[0].encrypted_content: not a valid llmdeck");
	parse_bad("{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"x\"}]}",
	    "input[0]", "item_reference");
	parse_bad("{\"model\":\"m\",\"input\":[{\"content\":\"x\"}]}", "input[0]",
	    "input[0].type: expected a string");
	parse_bad("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}",
	    "tools[0]", "tools[0].name");
	parse_bad("{\"model\":\"m\",\"input\":\"x\",\"tool_choice\":\"any\"}", "tool_choice",
	    "tool_choice: \"any\"");
	parse_bad("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\","
	          "\"schema\":{}}}}",
	    "text.format.name", "text.format.name");
	parse_bad("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}", "max_output_tokens",
	    "max_output_tokens");
	parse_bad("{\"model\":\"m\",\"input\":\"x\",\"metadata\":{\"a\":1}}", "metadata",
	    "metadata.a");
}

/* ---- answers ---- */

static void
result_init(struct router_result *res, enum llm_stop stop)
{
	memset(res, 0, sizeof *res);
	llm_response_init(&res->resp);
	res->resp.stop = stop;
	res->resp.usage.input_tokens = 30;
	res->resp.usage.cache_read_tokens = 10;
	res->resp.usage.output_tokens = 20;
	res->resp.usage.reasoning_tokens = 5;
}

/* A stream set up as gateway.c does, for an ask parsed from body. */
static void
stream_init(struct gw_stream *st, struct gw_ask *ask, const char *body)
{
	struct llm_request req;

	parse_ok(body, &req, ask);
	llm_request_free(&req);
	memset(st, 0, sizeof *st);
	st->api = GW_RESPONSES;
	st->id = "resp_abc";
	st->model = ask->model;
	st->ask = ask;
	st->created = 1700000000;
}

static void
test_answer_text(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask;
	char *s;
	cJSON *j;

	(void)state;
	stream_init(&st, &ask,
	    "{\"model\":\"my-model\",\"input\":\"hi\",\"instructions\":\"be nice\","
	    "\"temperature\":0.2,\"metadata\":{\"k\":\"v\"}}");
	result_init(&res, LLM_STOP_END);
	llm_response_add_part(&res.resp, LLM_PART_TEXT)->text = xstrdup("Hello \"you\"");
	s = gw_api_ops(GW_RESPONSES)->answer(&res, &st);
	j = cJSON_Parse(s);
	assert_non_null(j);
	assert_string_equal(jstr(j, "id"), "resp_abc");
	assert_string_equal(jstr(j, "object"), "response");
	assert_true(jnum(j, "created_at") == 1700000000);
	assert_string_equal(jstr(j, "status"), "completed");
	assert_true(cJSON_IsNull(jget(j, "error")));
	assert_true(cJSON_IsNull(jget(j, "incomplete_details")));
	assert_string_equal(jstr(j, "model"), "my-model");
	assert_int_equal(cJSON_GetArraySize(jget(j, "output")), 1);
	assert_string_equal(jstr(j, "output.0.type"), "message");
	assert_string_equal(jstr(j, "output.0.id"), "msg_abc_0");
	assert_string_equal(jstr(j, "output.0.role"), "assistant");
	assert_string_equal(jstr(j, "output.0.status"), "completed");
	assert_string_equal(jstr(j, "output.0.content.0.type"), "output_text");
	assert_string_equal(jstr(j, "output.0.content.0.text"), "Hello \"you\"");
	assert_true(cJSON_IsArray(jget(j, "output.0.content.0.annotations")));
	assert_true(jnum(j, "usage.input_tokens") == 30);
	assert_true(jnum(j, "usage.input_tokens_details.cached_tokens") == 10);
	assert_true(jnum(j, "usage.output_tokens") == 20);
	assert_true(jnum(j, "usage.output_tokens_details.reasoning_tokens") == 5);
	assert_true(jnum(j, "usage.total_tokens") == 50);
	assert_string_equal(jstr(j, "instructions"), "be nice");
	assert_true(jnum(j, "temperature") == 0.2);
	assert_true(jnum(j, "top_p") == 1);
	assert_string_equal(jstr(j, "metadata.k"), "v");
	assert_true(cJSON_IsTrue(jget(j, "parallel_tool_calls")));
	assert_true(cJSON_IsNull(jget(j, "previous_response_id")));
	assert_true(cJSON_IsNull(jget(j, "max_output_tokens")));
	assert_string_equal(jstr(j, "text.format.type"), "text");
	assert_true(cJSON_IsObject(jget(j, "reasoning")));
	cJSON_Delete(j);
	free(s);
	router_result_free(&res);
	gw_ask_free(&ask);
}

static void
test_answer_tools_reasoning_incomplete(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask;
	struct llm_part *p;
	char *s;
	cJSON *j;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\"}");
	result_init(&res, LLM_STOP_TOOL_USE);
	p = llm_response_add_part(&res.resp, LLM_PART_REASONING);
	p->id = xstrdup("rs_openai");
	p->text = xstrdup("I should call");
	p->data = xstrdup("gAAAA");
	p = llm_response_add_part(&res.resp, LLM_PART_TEXT);
	p->text = xstrdup("Calling.");
	p = llm_response_add_part(&res.resp, LLM_PART_TOOL_CALL);
	p->id = xstrdup("call_9");
	p->name = xstrdup("get_weather");
	p->arguments = xstrdup("{\"city\":\"Paris\"}");
	s = gw_responses_answer(&res, &st);
	j = cJSON_Parse(s);
	assert_string_equal(jstr(j, "status"), "completed");
	assert_int_equal(cJSON_GetArraySize(jget(j, "output")), 3);
	assert_string_equal(jstr(j, "output.0.type"), "reasoning");
	assert_string_equal(jstr(j, "output.0.id"), "rs_openai");
	assert_string_equal(jstr(j, "output.0.summary.0.type"), "summary_text");
	assert_string_equal(jstr(j, "output.0.summary.0.text"), "I should call");
	assert_string_equal(jstr(j, "output.0.encrypted_content"), "gAAAA");
	assert_string_equal(jstr(j, "output.1.type"), "message");
	assert_string_equal(jstr(j, "output.2.type"), "function_call");
	assert_string_equal(jstr(j, "output.2.id"), "fc_abc_2");
	assert_string_equal(jstr(j, "output.2.call_id"), "call_9");
	assert_string_equal(jstr(j, "output.2.name"), "get_weather");
	assert_string_equal(jstr(j, "output.2.arguments"), "{\"city\":\"Paris\"}");
	assert_string_equal(jstr(j, "output.2.status"), "completed");
	cJSON_Delete(j);
	free(s);

	res.resp.stop = LLM_STOP_MAX_TOKENS;
	s = gw_responses_answer(&res, &st);
	j = cJSON_Parse(s);
	assert_string_equal(jstr(j, "status"), "incomplete");
	assert_string_equal(jstr(j, "incomplete_details.reason"), "max_output_tokens");
	assert_string_equal(jstr(j, "output.1.status"), "incomplete");
	cJSON_Delete(j);
	free(s);
	router_result_free(&res);
	gw_ask_free(&ask);
}

/* ---- streams ---- */

/* The events of an SSE body: names (space separated) into names, data parsed into ev. */
static size_t
events_of(const char *body, cJSON **ev, size_t max, struct buf *names)
{
	const char *p = body;
	size_t n = 0;

	buf_init(names);
	buf_append(names, "", 0);
	while (*p != '\0' && n < max) {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > 7 && strncmp(p, "event: ", 7) == 0) {
			buf_append(names, p + 7, len - 7);
			buf_puts(names, " ");
		} else if (len > 6 && strncmp(p, "data: ", 6) == 0) {
			char *s = xstrndup(p + 6, len - 6);
			ev[n++] = cJSON_Parse(s);
			free(s);
		}
		p = eol != NULL ? eol + 1 : p + len;
	}
	return n;
}

/* Every event's data is JSON whose type is its name, numbered from 0 in order. */
static void
check_events(cJSON **ev, size_t n, const struct buf *names)
{
	const char *p = names->data;

	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(p, " ");

		assert_non_null(ev[i]);
		assert_true(jnum(ev[i], "sequence_number") == (double)i);
		assert_int_equal(strlen(jstr(ev[i], "type")), len);
		assert_memory_equal(jstr(ev[i], "type"), p, len);
		p += len + 1;
	}
}

static void
free_events(cJSON **ev, size_t n, struct buf *names)
{
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(ev[i]);
	buf_free(names);
}

static void
delta(struct gw_stream *st, struct buf *out, enum llm_delta_type type, size_t part, const char *id,
    const char *name, const char *text)
{
	struct llm_delta d;

	memset(&d, 0, sizeof d);
	d.type = type;
	d.part = part;
	d.id = id;
	d.name = name;
	d.text = text;
	d.len = text != NULL ? strlen(text) : 0;
	gw_stream_typed(st, out, &d);
}

static void
test_stream_text(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask;
	struct buf out, names;
	cJSON *ev[64];
	size_t n;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}");
	buf_init(&out);
	delta(&st, &out, LLM_DELTA_TEXT, 0, NULL, NULL, "Hel");
	delta(&st, &out, LLM_DELTA_TEXT, 0, NULL, NULL, "lo\n");
	result_init(&res, LLM_STOP_END);
	llm_response_add_part(&res.resp, LLM_PART_TEXT)->text = xstrdup("Hello\n");
	gw_stream_close(&st, &out, &res);
	n = events_of(out.data, ev, nitems(ev), &names);
	assert_string_equal(names.data,
	    "response.created response.in_progress response.output_item.added "
	    "response.content_part.added response.output_text.delta response.output_text.delta "
	    "response.output_text.done response.content_part.done response.output_item.done "
	    "response.completed ");
	check_events(ev, n, &names);
	assert_string_equal(jstr(ev[0], "response.status"), "in_progress");
	assert_int_equal(cJSON_GetArraySize(jget(ev[0], "response.output")), 0);
	assert_string_equal(jstr(ev[2], "item.id"), "msg_abc_0");
	assert_string_equal(jstr(ev[2], "item.status"), "in_progress");
	assert_true(jnum(ev[4], "output_index") == 0);
	assert_string_equal(jstr(ev[4], "item_id"), "msg_abc_0");
	assert_string_equal(jstr(ev[5], "delta"), "lo\n");
	assert_string_equal(jstr(ev[6], "text"), "Hello\n");
	assert_string_equal(jstr(ev[7], "part.text"), "Hello\n");
	assert_string_equal(jstr(ev[8], "item.content.0.text"), "Hello\n");
	assert_string_equal(jstr(ev[9], "response.status"), "completed");
	assert_string_equal(jstr(ev[9], "response.output.0.id"), "msg_abc_0");
	assert_true(jnum(ev[9], "response.usage.total_tokens") == 50);
	free_events(ev, n, &names);
	buf_free(&out);
	gw_stream_free(&st);
	router_result_free(&res);
	gw_ask_free(&ask);
}

static void
test_stream_tool_call_and_incomplete(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask;
	struct buf out, names;
	struct llm_part *p;
	cJSON *ev[64];
	size_t n;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}");
	buf_init(&out);
	delta(&st, &out, LLM_DELTA_TOOL_CALL_START, 0, "call_1", "get_weather", NULL);
	delta(&st, &out, LLM_DELTA_TOOL_CALL_ARGS, 0, NULL, NULL, "{\"city\":");
	delta(&st, &out, LLM_DELTA_TOOL_CALL_ARGS, 0, NULL, NULL, "\"Paris\"}");
	result_init(&res, LLM_STOP_MAX_TOKENS);
	p = llm_response_add_part(&res.resp, LLM_PART_TOOL_CALL);
	p->id = xstrdup("call_1");
	p->name = xstrdup("get_weather");
	p->arguments = xstrdup("{\"city\":\"Paris\"}");
	gw_stream_close(&st, &out, &res);
	n = events_of(out.data, ev, nitems(ev), &names);
	assert_string_equal(names.data,
	    "response.created response.in_progress response.output_item.added "
	    "response.function_call_arguments.delta response.function_call_arguments.delta "
	    "response.function_call_arguments.done response.output_item.done "
	    "response.incomplete ");
	check_events(ev, n, &names);
	assert_string_equal(jstr(ev[2], "item.type"), "function_call");
	assert_string_equal(jstr(ev[2], "item.id"), "fc_abc_0");
	assert_string_equal(jstr(ev[2], "item.call_id"), "call_1");
	assert_string_equal(jstr(ev[2], "item.name"), "get_weather");
	assert_string_equal(jstr(ev[2], "item.arguments"), "");
	assert_string_equal(jstr(ev[3], "item_id"), "fc_abc_0");
	assert_string_equal(jstr(ev[5], "arguments"), "{\"city\":\"Paris\"}");
	assert_string_equal(jstr(ev[6], "item.arguments"), "{\"city\":\"Paris\"}");
	assert_string_equal(jstr(ev[6], "item.status"), "completed");
	assert_string_equal(jstr(ev[7], "response.status"), "incomplete");
	assert_string_equal(jstr(ev[7], "response.incomplete_details.reason"), "max_output_tokens");
	free_events(ev, n, &names);
	buf_free(&out);
	gw_stream_free(&st);
	router_result_free(&res);
	gw_ask_free(&ask);
}

static void
test_stream_reasoning(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask;
	struct buf out, names;
	cJSON *ev[64];
	size_t n;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}");
	buf_init(&out);
	/* Anthropic thinking (signed), then OpenAI reasoning, then text */
	delta(&st, &out, LLM_DELTA_THINKING, 0, NULL, NULL, "Let me ");
	delta(&st, &out, LLM_DELTA_THINKING, 0, NULL, NULL, "think.");
	delta(&st, &out, LLM_DELTA_THINKING_SIGNATURE, 0, NULL, NULL, "sig==");
	delta(&st, &out, LLM_DELTA_THINKING, 1, NULL, NULL, "summary");
	delta(&st, &out, LLM_DELTA_REASONING_DONE, 1, "rs_x", NULL, "gAAAA");
	delta(&st, &out, LLM_DELTA_TEXT, 2, NULL, NULL, "Done");
	result_init(&res, LLM_STOP_END);
	gw_stream_close(&st, &out, &res);
	n = events_of(out.data, ev, nitems(ev), &names);
	assert_string_equal(names.data,
	    "response.created response.in_progress "
	    "response.output_item.added response.reasoning_summary_part.added "
	    "response.reasoning_summary_text.delta response.reasoning_summary_text.delta "
	    "response.reasoning_summary_text.done response.reasoning_summary_part.done "
	    "response.output_item.done "
	    "response.output_item.added response.reasoning_summary_part.added "
	    "response.reasoning_summary_text.delta response.reasoning_summary_text.done "
	    "response.reasoning_summary_part.done response.output_item.done "
	    "response.output_item.added response.content_part.added response.output_text.delta "
	    "response.output_text.done response.content_part.done response.output_item.done "
	    "response.completed ");
	check_events(ev, n, &names);
	assert_string_equal(jstr(ev[2], "item.type"), "reasoning");
	assert_null(jget(ev[2], "item.encrypted_content"));
	assert_true(jnum(ev[3], "summary_index") == 0);
	assert_string_equal(jstr(ev[6], "text"), "Let me think.");
	assert_string_equal(jstr(ev[8], "item.summary.0.text"), "Let me think.");
	assert_non_null(strstr(jstr(ev[8], "item.encrypted_content"), "llmdeck.v1."));
	assert_true(jnum(ev[9], "output_index") == 1);
	assert_string_equal(jstr(ev[14], "item.id"), "rs_x");
	assert_string_equal(jstr(ev[14], "item.encrypted_content"), "gAAAA");
	assert_string_equal(jstr(ev[14], "item.summary.0.text"), "summary");
	assert_true(jnum(ev[17], "output_index") == 2);
	free_events(ev, n, &names);
	buf_free(&out);
	gw_stream_free(&st);
	router_result_free(&res);
	gw_ask_free(&ask);
}

static void
test_stream_error_after_open(void **state)
{
	struct gw_stream st;
	struct gw_ask ask;
	struct buf out, names;
	cJSON *ev[16];
	size_t n;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\",\"stream\":true}");
	buf_init(&out);
	delta(&st, &out, LLM_DELTA_TEXT, 0, NULL, NULL, "Hel");
	gw_stream_error(&st, &out, 502, LLM_ERR_STREAM, "the provider's stream broke");
	n = events_of(out.data, ev, nitems(ev), &names);
	check_events(ev, n, &names);
	assert_string_equal(jstr(ev[n - 1], "type"), "response.failed");
	assert_string_equal(jstr(ev[n - 1], "response.status"), "failed");
	assert_string_equal(jstr(ev[n - 1], "response.error.code"), "stream_broken");
	assert_string_equal(jstr(ev[n - 1], "response.error.message"),
	    "the provider's stream broke");
	free_events(ev, n, &names);
	buf_free(&out);
	gw_stream_free(&st);
	gw_ask_free(&ask);
}

/* ---- Anthropic thinking through a Responses tool loop ---- */

static void
test_anthropic_thinking_round_trip(void **state)
{
	struct router_result res;
	struct gw_stream st;
	struct gw_ask ask, ask2;
	struct llm_request req;
	struct llm_part *p;
	struct buf body;
	char *s;
	cJSON *j, *out;
	const cJSON *it;

	(void)state;
	stream_init(&st, &ask, "{\"model\":\"m\",\"input\":\"hi\"}");
	result_init(&res, LLM_STOP_TOOL_USE);
	p = llm_response_add_part(&res.resp, LLM_PART_THINKING);
	p->text = xstrdup("The user wants \"weather\".");
	p->signature = xstrdup("EqQBCkYIARgCKkD+sig/==");
	p = llm_response_add_part(&res.resp, LLM_PART_REDACTED_THINKING);
	p->data = xstrdup("EmwKAhgBEgy3va3pzix/opaque");
	p = llm_response_add_part(&res.resp, LLM_PART_TOOL_CALL);
	p->id = xstrdup("toolu_01");
	p->name = xstrdup("get_weather");
	p->arguments = xstrdup("{\"city\":\"Paris\"}");
	s = gw_responses_answer(&res, &st);
	j = cJSON_Parse(s);
	free(s);
	assert_string_equal(jstr(j, "output.0.summary.0.text"), "The user wants \"weather\".");
	assert_int_equal(cJSON_GetArraySize(jget(j, "output.1.summary")), 0);
	/* The client sends the output back, with the tool's answer. */
	out = cJSON_DetachItemFromObject(j, "output");
	buf_init(&body);
	buf_puts(&body, "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"weather?\"}");
	cJSON_ArrayForEach(it, out)
	{
		char *t = cJSON_PrintUnformatted(it);
		buf_printf(&body, ",%s", t);
		free(t);
	}
	buf_puts(&body,
	    ",{\"type\":\"function_call_output\",\"call_id\":\"toolu_01\",\"output\":"
	    "\"18C\"}]}");
	cJSON_Delete(out);
	cJSON_Delete(j);
	parse_ok(body.data, &req, &ask2);
	assert_int_equal(req.n_messages, 3);
	assert_int_equal(req.messages[1].n_parts, 3);
	assert_int_equal(part(&req, 1, 0)->type, LLM_PART_THINKING);
	assert_string_equal(part(&req, 1, 0)->text, "The user wants \"weather\".");
	assert_string_equal(part(&req, 1, 0)->signature, "EqQBCkYIARgCKkD+sig/==");
	assert_int_equal(part(&req, 1, 1)->type, LLM_PART_REDACTED_THINKING);
	assert_string_equal(part(&req, 1, 1)->data, "EmwKAhgBEgy3va3pzix/opaque");
	assert_int_equal(part(&req, 1, 2)->type, LLM_PART_TOOL_CALL);
	assert_string_equal(part(&req, 1, 2)->id, "toolu_01");
	assert_int_equal(part(&req, 2, 0)->type, LLM_PART_TOOL_RESULT);

	/* The Anthropic adapter sends them back as signed blocks. */
	{
		char name[] = "an", url[] = "http://127.0.0.1:9", key[] = "k", model[] = "m";
		char *models[] = {model};
		struct provider_conf conf;
		struct adapter_http http;
		char *cause = NULL;
		const struct adapter *ad;
		cJSON *b;

		memset(&conf, 0, sizeof conf);
		conf.name = name;
		conf.kind = PROVIDER_ANTHROPIC;
		conf.base_url = url;
		conf.api_key = key;
		conf.models = models;
		conf.n_models = 1;
		conf.enabled = 1;
		conf.tls_verify = 1;
		ad = adapter_for_provider(&conf);
		if (ad->build_request(&conf, NULL, "claude", &req, 0, &http, &cause) != 0)
			fail_msg("build: %s", cause);
		b = cJSON_ParseWithLength(http.body, http.body_len);
		assert_string_equal(jstr(b, "messages.1.content.0.type"), "thinking");
		assert_string_equal(jstr(b, "messages.1.content.0.signature"),
		    "EqQBCkYIARgCKkD+sig/==");
		assert_string_equal(jstr(b, "messages.1.content.1.type"), "redacted_thinking");
		assert_string_equal(jstr(b, "messages.1.content.1.data"),
		    "EmwKAhgBEgy3va3pzix/opaque");
		assert_string_equal(jstr(b, "messages.1.content.2.type"), "tool_use");
		cJSON_Delete(b);
		adapter_http_free(&http);
	}
	llm_request_free(&req);
	buf_free(&body);
	router_result_free(&res);
	gw_ask_free(&ask);
	gw_ask_free(&ask2);
}

/* ---- over loopback: a Responses client, an Anthropic provider ---- */

struct fixture {
	struct testkit kit;
	struct router *r;
	struct gateway *gw;
	char base[128];
};

/* method path [body] on the fixture's gateway (a JSON body). */
static void
request(struct fixture *f, const char *method, const char *path, const char *body, struct hreply *r)
{
	char url[256];

	snprintf(url, sizeof url, "%s%s", f->base, path);
	hreq(r, method, url, body, NULL);
	if (r->status < 0)
		fail_msg("%s %s: no response", method, path);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct gateway_opts go;
	struct router_opts ro;
	char *cause = NULL;

	testkit_init(&f->kit);
	f->kit.cfg.breaker.failure_threshold = 1000;
	f->kit.cfg.cache.enabled = 0;
	testkit_add_provider(&f->kit, "an", SIM_ANTHROPIC, 1, 1)->max_retries = 0;
	testkit_add_route(&f->kit, "to-an", "an", NULL);
	testkit_add_provider(&f->kit, "oa", SIM_OPENAI, 1, 1)->max_retries = 0;
	testkit_add_route(&f->kit, "to-oa", "oa", NULL);
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.backoff_max_ms = 20;
	f->r = router_new(&f->kit.cfg, &ro, &cause);
	if (f->r == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	f->gw = gateway_start(f->r, &go, &cause);
	if (f->gw == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	gateway_stop(f->gw);
	router_free(f->r);
	testkit_free(&f->kit);
	free(f);
	return 0;
}

#define TOOLS \
	"\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":" \
	"\"Weather in a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":" \
	"{\"type\":\"string\"}},\"required\":[\"city\"]}}]"

/* The output item of type, or NULL. */
static const cJSON *
output_of(const cJSON *resp, const char *type)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, jget(resp, "output"))
	{
		if (jstr(it, "type") != NULL && strcmp(jstr(it, "type"), type) == 0)
			return it;
	}
	return NULL;
}

static void
test_loopback_text(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	const cJSON *msg;

	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":\"Hello\",\"instructions\":\"be "
	    "brief\",\"store\":false}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_non_null(r.json);
	assert_string_equal(jstr(r.json, "object"), "response");
	assert_non_null(strstr(jstr(r.json, "id"), "resp_"));
	assert_string_equal(jstr(r.json, "status"), "completed");
	assert_string_equal(jstr(r.json, "model"), "to-an");
	assert_string_equal(jstr(r.json, "instructions"), "be brief");
	msg = output_of(r.json, "message");
	assert_non_null(msg);
	assert_string_equal(jstr(msg, "content.0.type"), "output_text");
	assert_true(strlen(jstr(msg, "content.0.text")) > 0);
	assert_true(jnum(r.json, "usage.input_tokens") > 0);
	assert_true(jnum(r.json, "usage.output_tokens") > 0);
	assert_non_null(strstr(r.headers.data, "x-llmdeck-provider: an"));
	hreply_free(&r);

	/* /responses too */
	request(f, "POST", "/responses", "{\"model\":\"to-an\",\"input\":\"Hello\"}", &r);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
}

static void
test_loopback_tool_round_trip(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	const cJSON *call;
	char *body, *item;

	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":[{\"role\":\"user\",\"content\":\"Weather in "
	    "Paris?\"}]," TOOLS ",\"tool_choice\":\"required\"}",
	    &r);
	assert_int_equal(r.status, 200);
	call = output_of(r.json, "function_call");
	assert_non_null(call);
	assert_string_equal(jstr(call, "name"), "get_weather");
	assert_non_null(strstr(jstr(call, "call_id"), "toolu_"));
	assert_non_null(strstr(jstr(call, "id"), "fc_"));
	{
		cJSON *args = cJSON_Parse(jstr(call, "arguments"));
		assert_true(cJSON_IsString(cJSON_GetObjectItem(args, "city")));
		cJSON_Delete(args);
	}
	item = cJSON_PrintUnformatted(call);
	body = xasprintf("{\"model\":\"to-an\",\"input\":[{\"role\":\"user\",\"content\":"
	                 "\"Weather in Paris?\"},%s,{\"type\":\"function_call_output\",\"call_id\":"
	                 "\"%s\",\"output\":\"18C and sunny\"}]," TOOLS "}",
	    item, jstr(call, "call_id"));
	free(item);
	hreply_free(&r);
	request(f, "POST", "/v1/responses", body, &r);
	free(body);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "completed");
	assert_non_null(output_of(r.json, "message"));
	assert_null(output_of(r.json, "function_call"));
	hreply_free(&r);
}

static void
test_loopback_stream(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	struct buf names;
	cJSON *ev[1024];
	size_t n;

	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":\"Hello\",\"stream\":true}", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers.data, "text/event-stream"));
	n = events_of(r.body.data, ev, nitems(ev), &names);
	assert_true(n >= 8);
	check_events(ev, n, &names);
	assert_string_equal(jstr(ev[0], "type"), "response.created");
	assert_string_equal(jstr(ev[1], "type"), "response.in_progress");
	assert_non_null(strstr(names.data, "response.output_text.delta"));
	assert_string_equal(jstr(ev[n - 1], "type"), "response.completed");
	assert_string_equal(jstr(ev[n - 1], "response.id"), jstr(ev[0], "response.id"));
	assert_true(jnum(ev[n - 1], "response.usage.output_tokens") > 0);
	free_events(ev, n, &names);
	hreply_free(&r);
}

static void
test_loopback_refusals(void **state)
{
	struct fixture *f = *state;
	struct hreply r;

	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_file\",\"file_id\":\"f\"}]}]}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_string_equal(jstr(r.json, "error.param"), "input[0].content[0]");
	assert_non_null(strstr(jstr(r.json, "error.message"), "input_file"));
	hreply_free(&r);
	request(f, "GET", "/v1/responses", NULL, &r);
	assert_int_equal(r.status, 405);
	hreply_free(&r);
	request(f, "GET", "/metrics", NULL, &r);
	assert_non_null(strstr(r.body.data, "endpoint=\"responses\",code=\"400\""));
	assert_non_null(strstr(r.body.data,
	    "llmdeck_gateway_stream_errors_total{api=\"responses\"}"));
	hreply_free(&r);
}

/* An OpenAI provider gets the client's Responses request itself (its own
 * /responses endpoint): reasoning items with their encrypted_content go back
 * as they came (the sim refuses a forged one), and fields the gateway does not
 * model reach it. */
static void
test_loopback_passthrough_openai(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	const cJSON *rs;
	cJSON *next, *input, *it;
	char *body;
	uint64_t before = testkit_sim_requests(&f->kit, 1);

	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-oa\",\"input\":\"Think about it\",\"reasoning\":{\"effort\":\"low\","
	    "\"summary\":\"auto\"},\"include\":[\"reasoning.encrypted_content\"],"
	    "\"prompt_cache_key\":\"k1\",\"store\":false}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(testkit_sim_requests(&f->kit, 1), before + 1);
	assert_non_null(strstr(r.headers.data, "x-llmdeck-provider: oa"));
	rs = output_of(r.json, "reasoning");
	assert_non_null(rs);
	assert_non_null(jstr(rs, "encrypted_content"));
	assert_non_null(output_of(r.json, "message"));
	/* The next turn sends the output back, reasoning first, as the SDKs do. */
	next = cJSON_CreateObject();
	cJSON_AddStringToObject(next, "model", "to-oa");
	cJSON_AddBoolToObject(next, "store", 0);
	cJSON_AddItemToObject(next, "include", cJSON_Parse("[\"reasoning.encrypted_content\"]"));
	input = cJSON_AddArrayToObject(next, "input");
	cJSON_AddItemToArray(input,
	    cJSON_Parse("{\"role\":\"user\",\"content\":\"Think about it\"}"));
	cJSON_ArrayForEach(it, jget(r.json, "output"))
	    cJSON_AddItemToArray(input, cJSON_Duplicate(it, 1));
	cJSON_AddItemToArray(input, cJSON_Parse("{\"role\":\"user\",\"content\":\"And then?\"}"));
	body = cJSON_PrintUnformatted(next);
	hreply_free(&r);
	request(f, "POST", "/v1/responses", body, &r);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* A forged encrypted_content is the provider's 400, passed on. */
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(input, 1), "encrypted_content",
	    cJSON_CreateString("forged"));
	cJSON_free(body);
	body = cJSON_PrintUnformatted(next);
	request(f, "POST", "/v1/responses", body, &r);
	assert_int_equal(r.status, 400);
	hreply_free(&r);
	cJSON_free(body);
	cJSON_Delete(next);
}

/* store (the default) keeps the answer: previous_response_id continues it on
 * any provider, and GET, input_items and DELETE serve it. */
static void
test_loopback_stored_responses(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char id1[64], id2[64], item[96], *body, path[160];
	const cJSON *data;

	request(f, "POST", "/v1/responses", "{\"model\":\"to-an\",\"input\":\"First turn\"}", &r);
	assert_int_equal(r.status, 200);
	snprintf(id1, sizeof id1, "%s", jstr(r.json, "id"));
	snprintf(item, sizeof item, "%s", jstr(r.json, "output.0.id"));
	hreply_free(&r);
	/* An item_reference to a stored output item is that item (the AI SDK's way). */
	body = xasprintf("{\"model\":\"to-oa\",\"store\":false,\"input\":[{\"role\":\"user\","
	                 "\"content\":\"First turn\"},{\"type\":\"item_reference\",\"id\":\"%s\"},"
	                 "{\"role\":\"user\",\"content\":\"Again\"}]}",
	    item);
	request(f, "POST", "/v1/responses", body, &r);
	free(body);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_nope\"}]}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "input[0].id");
	hreply_free(&r);
	/* The next turn on the other provider: it gets the whole conversation. */
	body = xasprintf("{\"model\":\"to-oa\",\"input\":\"Second turn\",\"previous_response_id\":"
	                 "\"%s\"}",
	    id1);
	request(f, "POST", "/v1/responses", body, &r);
	free(body);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "previous_response_id"), id1);
	snprintf(id2, sizeof id2, "%s", jstr(r.json, "id"));
	hreply_free(&r);
	snprintf(path, sizeof path, "/v1/responses/%s/input_items?order=asc", id2);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "object"), "list");
	data = jget(r.json, "data");
	assert_int_equal(cJSON_GetArraySize(data), 3);
	assert_string_equal(jstr(data, "0.content"), "First turn");
	assert_string_equal(jstr(data, "1.type"), "message");
	assert_string_equal(jstr(data, "1.role"), "assistant");
	assert_string_equal(jstr(data, "2.content"), "Second turn");
	assert_false(cJSON_IsTrue(jget(r.json, "has_more")));
	hreply_free(&r);
	snprintf(path, sizeof path, "/v1/responses/%s/input_items?limit=1", id2);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(cJSON_GetArraySize(jget(r.json, "data")), 1);
	assert_string_equal(jstr(r.json, "data.0.content"), "Second turn"); /* desc */
	assert_true(cJSON_IsTrue(jget(r.json, "has_more")));
	hreply_free(&r);
	/* GET gives the Response as the client got it. */
	snprintf(path, sizeof path, "/v1/responses/%s", id1);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "id"), id1);
	assert_string_equal(jstr(r.json, "object"), "response");
	assert_non_null(output_of(r.json, "message"));
	hreply_free(&r);
	request(f, "DELETE", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(cJSON_IsTrue(jget(r.json, "deleted")));
	hreply_free(&r);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(jstr(r.json, "error.message"), id1));
	hreply_free(&r);
	body =
	    xasprintf("{\"model\":\"to-an\",\"input\":\"x\",\"previous_response_id\":\"%s\"}", id1);
	request(f, "POST", "/v1/responses", body, &r);
	free(body);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "previous_response_id");
	hreply_free(&r);
	/* store: false keeps nothing. */
	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-an\",\"input\":\"Forget me\",\"store\":false}", &r);
	snprintf(path, sizeof path, "/v1/responses/%s", jstr(r.json, "id"));
	hreply_free(&r);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 404);
	hreply_free(&r);
	/* A streamed answer is stored before its last event: asked for at once, it is there. */
	request(f, "POST", "/v1/responses",
	    "{\"model\":\"to-oa\",\"input\":\"Stream me\",\"stream\":true}", &r);
	assert_int_equal(r.status, 200);
	{
		const char *p = strstr(r.body.data, "\"id\":\"resp_");
		assert_non_null(p);
		snprintf(path, sizeof path, "/v1/responses/%.*s", (int)strcspn(p + 6, "\""), p + 6);
	}
	hreply_free(&r);
	request(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(output_of(r.json, "message"));
	hreply_free(&r);
	request(f, "GET", "/v1/responses/not%20an%20id", NULL, &r);
	assert_int_equal(r.status, 404);
	hreply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_every_item),
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_refusals_name_the_path),
	    cmocka_unit_test(test_answer_text),
	    cmocka_unit_test(test_answer_tools_reasoning_incomplete),
	    cmocka_unit_test(test_stream_text),
	    cmocka_unit_test(test_stream_tool_call_and_incomplete),
	    cmocka_unit_test(test_stream_reasoning),
	    cmocka_unit_test(test_stream_error_after_open),
	    cmocka_unit_test(test_anthropic_thinking_round_trip),
	    cmocka_unit_test_setup_teardown(test_loopback_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_tool_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_passthrough_openai, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_stored_responses, setup, teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
