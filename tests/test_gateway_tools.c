/*
 * test_gateway_tools.c: what agents send through the gateway, both client
 * formats, both directions.
 *
 * In process: each parser's reading of typed parts, tools, tool choice,
 * response format and the other fields into llm.h, what it passes through and
 * what it refuses (naming the field); a tool round trip from each client as
 * the other kind's adapter puts it on the wire; the answers and streams it
 * writes from llm.h's responses and typed deltas, byte for byte, with usage as
 * each API counts it. Over loopback, an OpenAI client served by an Anthropic sim and an
 * Anthropic client by an OpenAI sim: forced, streamed and round-trip tool
 * calls, images, JSON output, failover between kinds keeping the tools,
 * embeddings, count_tokens (forwarded, and estimated), errors in each API's
 * shape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "provider/adapter.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "store_testutil.h"
#include "admin_testutil.h"
#include "testkit.h"
#include "util/util.h"

/* ---- in process: parsing ---- */

static void
parse_ok(enum gw_api api, const char *body, struct llm_request *req, struct gw_ask *ask)
{
	struct gw_bad bad;
	int rc;

	memset(&bad, 0, sizeof bad);
	llm_request_init(req);
	rc = api == GW_OPENAI ? gw_parse_openai(body, strlen(body), req, ask, &bad)
	                      : gw_parse_anthropic(body, strlen(body), req, ask, &bad);
	if (rc != 0)
		fail_msg("refused: %s (param %s)", bad.message, bad.param);
}

/* The body is refused naming param, with want in the message. */
static void
parse_bad(enum gw_api api, const char *body, const char *param, const char *want)
{
	struct llm_request req;
	struct gw_ask ask;
	struct gw_bad bad;
	int rc;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	rc = api == GW_OPENAI ? gw_parse_openai(body, strlen(body), &req, &ask, &bad)
	                      : gw_parse_anthropic(body, strlen(body), &req, &ask, &bad);
	llm_request_free(&req);
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

static void
test_openai_request_of_an_agent(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"be brief\"},"
	    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"use tools\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"weather?\"},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/"
	    "png;base64,iVBORw0KGgo=\"}},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.jpg\","
	    "\"detail\":\"low\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
	    "\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"noon\"}]},"
	    "{\"role\":\"user\",\"content\":\"thanks\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"description\":\"Weather now\",\"parameters\":{\"type\":\"object\",\"properties\":"
	    "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},\"strict\":true}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
	    "\"parallel_tool_calls\":false,"
	    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"w\","
	    "\"schema\":{\"type\":\"object\"},\"strict\":true}},"
	    "\"seed\":7,\"reasoning_effort\":\"low\",\"user\":\"u-1\",\"metadata\":{\"team\":\"a\"}"
	    ","
	    "\"stop\":[\"END\",\"STOP\"],\"max_tokens\":50,\"max_completion_tokens\":200,"
	    "\"frequency_penalty\":0,\"presence_penalty\":0.5,\"logit_bias\":{\"42\":-100},"
	    "\"store\":false,\"n\":1,\"logprobs\":false,\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}";
	struct llm_request req;
	struct gw_ask ask;
	cJSON *pt;

	(void)state;
	parse_ok(GW_OPENAI, body, &req, &ask);
	assert_string_equal(ask.model, "m");
	assert_true(ask.include_usage);
	assert_true(ask.input_estimate > 0);
	assert_string_equal(req.system, "be brief\n\nuse tools");
	/* user; assistant (two calls); user (two results, then the text) */
	assert_int_equal(req.n_messages, 3);
	assert_int_equal(req.messages[0].role, LLM_ROLE_USER);
	assert_int_equal(req.messages[0].n_parts, 3);
	assert_int_equal(part(&req, 0, 1)->type, LLM_PART_IMAGE);
	assert_string_equal(part(&req, 0, 1)->url, "data:image/png;base64,iVBORw0KGgo=");
	assert_string_equal(part(&req, 0, 2)->detail, "low");
	assert_int_equal(req.messages[1].role, LLM_ROLE_ASSISTANT);
	assert_int_equal(req.messages[1].n_parts, 2);
	assert_int_equal(part(&req, 1, 0)->type, LLM_PART_TOOL_CALL);
	assert_string_equal(part(&req, 1, 0)->id, "call_1");
	assert_string_equal(part(&req, 1, 0)->name, "get_weather");
	assert_string_equal(part(&req, 1, 0)->arguments, "{\"city\":\"Paris\"}");
	assert_int_equal(req.messages[2].role, LLM_ROLE_USER);
	assert_int_equal(req.messages[2].n_parts, 3);
	assert_int_equal(part(&req, 2, 0)->type, LLM_PART_TOOL_RESULT);
	assert_string_equal(part(&req, 2, 0)->id, "call_1");
	assert_string_equal(part(&req, 2, 0)->parts[0].text, "18C");
	assert_string_equal(part(&req, 2, 1)->parts[0].text, "noon");
	assert_int_equal(part(&req, 2, 2)->type, LLM_PART_TEXT);
	assert_string_equal(part(&req, 2, 2)->text, "thanks");
	assert_int_equal(req.n_tools, 2);
	assert_true(req.tools[0].strict);
	assert_string_equal(req.tools[0].description, "Weather now");
	assert_non_null(strstr(req.tools[0].parameters, "\"required\":[\"city\"]"));
	assert_null(req.tools[1].parameters);
	assert_int_equal(req.tool_choice, LLM_TOOL_CHOICE_NAMED);
	assert_string_equal(req.tool_choice_name, "get_weather");
	assert_true(req.has_parallel_tool_calls && !req.parallel_tool_calls);
	assert_int_equal(req.response_format.type, LLM_FORMAT_JSON_SCHEMA);
	assert_string_equal(req.response_format.name, "w");
	assert_true(req.response_format.strict);
	assert_true(req.has_seed && req.seed == 7);
	assert_string_equal(req.reasoning_effort, "low");
	assert_string_equal(req.user, "u-1");
	assert_string_equal(req.metadata, "{\"team\":\"a\"}");
	assert_int_equal(req.n_stop, 2);
	assert_int_equal(req.max_tokens, 200); /* max_completion_tokens wins */
	assert_true(req.stream);
	/* Defaults that ask for nothing are taken; the rest waits for an OpenAI provider. */
	assert_int_equal(req.passthrough_api, LLM_API_OPENAI);
	pt = cJSON_Parse(req.passthrough);
	assert_int_equal(cJSON_GetArraySize(pt), 2);
	assert_non_null(cJSON_GetObjectItem(pt, "presence_penalty"));
	assert_non_null(cJSON_GetObjectItem(pt, "logit_bias"));
	cJSON_Delete(pt);
	llm_request_free(&req);
}

static void
test_openai_tool_choice_forms(void **state)
{
	static const char *const forms[] = {"\"none\"", "\"auto\"", "\"required\""};
	static const enum llm_tool_choice want[] = {
	    LLM_TOOL_CHOICE_NONE, LLM_TOOL_CHOICE_AUTO, LLM_TOOL_CHOICE_ANY};
	struct llm_request req;
	struct gw_ask ask;
	char body[512];

	(void)state;
	for (size_t i = 0; i < nitems(forms); i++) {
		snprintf(body, sizeof body,
		    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
		    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
		    "\"tool_choice\":%s}",
		    forms[i]);
		parse_ok(GW_OPENAI, body, &req, &ask);
		assert_int_equal(req.tool_choice, want[i]);
		assert_null(req.passthrough);
		llm_request_free(&req);
	}
	parse_ok(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"response_format\":{\"type\":\"json_object\"}}",
	    &req, &ask);
	assert_int_equal(req.response_format.type, LLM_FORMAT_JSON_OBJECT);
	llm_request_free(&req);
}

static void
test_openai_refusals_name_the_field(void **state)
{
	(void)state;
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"tool_choice\":\"sometimes\"}",
	    "tool_choice", "none, auto, required");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://x\"}}]}]}",
	    "messages[0].content", "only \"text\" parts");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_audio\",\"input_audio\":{}}]}]}",
	    "messages[0].content[0]", "input_audio");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":\"bob\"}]"
	    "}",
	    "messages[0]", "name");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[0]",
	    "tool_call_id");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
	    "\"type\":\"function\",\"function\":{\"arguments\":\"{}\"}}]}]}",
	    "messages[0].tool_calls[0].function", "name");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":["
	    "{\"type\":\"custom\",\"custom\":{\"name\":\"c\"}}]}",
	    "tools[0]", "only \"function\" tools");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "n",
	    "only 1");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"logprobs\":true}",
	    "logprobs", "not supported");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"functions\":[]}",
	    "functions", "tools");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a\"}}}",
	    "response_format", "schema");
	parse_bad(GW_OPENAI,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"seed\":1,\"seed\":2}",
	    "seed", "given twice");
}

static void
test_anthropic_request_of_an_agent(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"max_tokens\":4000,"
	    "\"system\":[{\"type\":\"text\",\"text\":\"be brief\"},{\"type\":\"text\",\"text\":"
	    "\"a long manual\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}}],"
	    "\"messages\":["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
	    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\","
	    "\"url\":\"https://x.test/a.jpg\"}}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\","
	    "\"signature\":\"sig\"},{\"type\":\"redacted_thinking\",\"data\":\"xyz\"},"
	    "{\"type\":\"text\",\"text\":\"checking\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
	    "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
	    "\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"18C\"},{\"type\":\"image\","
	    "\"source\":{\"type\":\"base64\",\"media_type\":\"image/gif\",\"data\":\"R0lGOD\"}}],"
	    "\"is_error\":false},{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\","
	    "\"content\":\"boom\",\"is_error\":true}]}],"
	    "\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather now\","
	    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
	    "\"string\"}}},\"cache_control\":{\"type\":\"ephemeral\"}}],"
	    "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\","
	    "\"disable_parallel_tool_use\":true},"
	    "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},"
	    "\"metadata\":{\"user_id\":\"u-1\"},\"top_k\":5,\"stop_sequences\":[\"END\"],"
	    "\"cache_control\":{\"type\":\"ephemeral\"},\"service_tier\":\"auto\","
	    "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
	    "\"object\"}}}}";
	struct llm_request req;
	struct gw_ask ask;
	const struct llm_part *tr;

	(void)state;
	parse_ok(GW_ANTHROPIC, body, &req, &ask);
	assert_string_equal(req.system, "be brief\n\na long manual");
	assert_int_equal(req.system_cache, LLM_CACHE_1H);
	assert_int_equal(req.max_tokens, 4000);
	assert_int_equal(req.n_messages, 3);
	assert_int_equal(part(&req, 0, 1)->type, LLM_PART_IMAGE);
	assert_string_equal(part(&req, 0, 1)->media_type, "image/png");
	assert_string_equal(part(&req, 0, 1)->data, "iVBORw0KGgo=");
	assert_string_equal(part(&req, 0, 2)->url, "https://x.test/a.jpg");
	assert_int_equal(part(&req, 1, 0)->type, LLM_PART_THINKING);
	assert_string_equal(part(&req, 1, 0)->signature, "sig");
	assert_int_equal(part(&req, 1, 1)->type, LLM_PART_REDACTED_THINKING);
	assert_string_equal(part(&req, 1, 1)->data, "xyz");
	assert_int_equal(part(&req, 1, 3)->type, LLM_PART_TOOL_CALL);
	assert_string_equal(part(&req, 1, 3)->arguments, "{\"city\":\"Paris\"}");
	tr = part(&req, 2, 0);
	assert_int_equal(tr->type, LLM_PART_TOOL_RESULT);
	assert_string_equal(tr->id, "toolu_1");
	assert_int_equal(tr->n_parts, 2);
	assert_int_equal(tr->parts[1].type, LLM_PART_IMAGE);
	assert_false(tr->is_error);
	assert_true(part(&req, 2, 1)->is_error);
	assert_string_equal(part(&req, 2, 1)->parts[0].text, "boom");
	/* The top-level cache_control marks the last block. */
	assert_int_equal(part(&req, 2, 1)->cache, LLM_CACHE_5M);
	assert_int_equal(req.tools[0].cache, LLM_CACHE_5M);
	assert_int_equal(req.tool_choice, LLM_TOOL_CHOICE_NAMED);
	assert_true(req.has_parallel_tool_calls && !req.parallel_tool_calls);
	assert_int_equal(req.thinking_budget, 2048);
	assert_string_equal(req.user, "u-1");
	assert_int_equal(req.top_k, 5);
	assert_int_equal(req.response_format.type, LLM_FORMAT_JSON_SCHEMA);
	assert_string_equal(req.passthrough, "{\"service_tier\":\"auto\"}");
	assert_int_equal(req.passthrough_api, LLM_API_ANTHROPIC);
	llm_request_free(&req);

	/* Anthropic's own forms of known fields go whole to an Anthropic provider, and as a
	 * reasoning effort to the others (Claude Code's defaults). */
	parse_ok(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"low\"},"
	    "\"tool_choice\":{\"type\":\"any\"},\"tools\":[{\"name\":\"f\",\"input_schema\":{}}]}",
	    &req, &ask);
	assert_null(req.passthrough);
	assert_string_equal(req.passthrough_soft,
	    "{\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"low\"}}");
	assert_string_equal(req.reasoning_effort, "low");
	assert_int_equal(req.thinking_budget, 0);
	assert_int_equal(req.tool_choice, LLM_TOOL_CHOICE_ANY);
	llm_request_free(&req);

	/* A hint another API can do without goes soft: no refusal elsewhere. */
	parse_ok(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"context_management\":{\"edits\":[]},\"thinking\":{\"type\":\"adaptive\"}}",
	    &req, &ask);
	assert_null(req.passthrough);
	assert_string_equal(req.passthrough_soft,
	    "{\"context_management\":{\"edits\":[]},\"thinking\":{\"type\":\"adaptive\"}}");
	assert_string_equal(req.reasoning_effort, "medium");
	llm_request_free(&req);
}

static void
test_anthropic_refusals_name_the_field(void **state)
{
	(void)state;
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"document\",\"source\":{}}]}]}",
	    "messages[0].content[0]", "\"document\" blocks");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}]}]}",
	    "messages[0].content[0]", "from the user");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}",
	    "tools[0]", "server tools");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"metadata\":{\"team\":\"a\"}}",
	    "metadata", "metadata.team");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"temperature\":1.5}",
	    "temperature", "out of range");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"image\",\"source\":{\"type\":\"file\",\"file_id\":\"f\"}}]}]}",
	    "messages[0].content[0].source", "\"file\" images");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{"
	    "\"type\":\"text\",\"text\":\"x\",\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":"
	    "\"2h\"}}]}]}",
	    "messages[0].content[0].cache_control", "ttl");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "max_tokens",
	    "required");
	parse_bad(GW_ANTHROPIC,
	    "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    ","
	    "\"tool_choice\":{\"type\":\"tool\"}}",
	    "tool_choice", "name");
}

/* ---- in process: a client's request as the other kind's provider gets it ---- */

/* clang-format off */
static const char openai_round_trip[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":"
    "\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"and this?\"},{\"type\":"
    "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
    "{\"type\":\"object\"}}}],\"tool_choice\":\"required\",\"parallel_tool_calls\":false,"
    "\"max_tokens\":100}";
static const char openai_round_trip_to_anthropic[] =
    "{\"model\":\"claude-x\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\",\"content\":"
    "\"Weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_1\","
    "\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":[{\"type\":\"text\","
    "\"text\":\"18C\"}]},{\"type\":\"text\",\"text\":\"and this?\"},{\"source\":{\"type\":"
    "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"},\"type\":\"image\"}]}],"
    "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],"
    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}";
static const char anthropic_round_trip[] =
    "{\"model\":\"m\",\"max_tokens\":100,\"system\":\"be brief\",\"messages\":[{\"role\":"
    "\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
    "\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},{\"type\":\"image\",\"source\":{\"type\":"
    "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}]}],\"tools\":[{\"name\":"
    "\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"tool\","
    "\"name\":\"get_weather\",\"disable_parallel_tool_use\":true}}";
static const char anthropic_round_trip_to_openai[] =
    "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":"
    "\"Checking.\",\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":"
    "\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"18C\"},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}],"
    "\"max_completion_tokens\":100,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":{\"type\":"
    "\"function\",\"function\":{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false,"
    "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
/* clang-format on */

/* The body kind's adapter builds from what the gateway parsed of body. */
static char *
provider_body(enum gw_api api, const char *body, enum provider_kind kind, const char *model_id,
    int stream)
{
	char name[] = "p", url[] = "http://127.0.0.1:9", key[] = "k", model[] = "m";
	char *models[] = {model}, *cause = NULL, *out;
	struct provider_conf conf;
	struct adapter_http http;
	struct llm_request req;
	struct llm_error why;
	struct gw_ask ask;

	parse_ok(api, body, &req, &ask);
	memset(&conf, 0, sizeof conf);
	conf.name = name;
	conf.kind = kind;
	conf.base_url = url;
	conf.api_key = key;
	conf.models = models;
	conf.n_models = 1;
	conf.enabled = 1;
	conf.tls_verify = 1;
	if (adapter_for(kind)->check_request(&conf, NULL, model_id, &req, &why) != 0)
		fail_msg("refused: %s: %s", why.param, why.message);
	if (adapter_for(kind)->build_request(&conf, NULL, model_id, &req, stream, &http, &cause) !=
	    0)
		fail_msg("build: %s", cause);
	out = xstrdup(http.body);
	adapter_http_free(&http);
	llm_request_free(&req);
	return out;
}

/* A tool round trip with an image, from each client to the other kind, on the wire. */
static void
test_translation_to_the_provider_wire(void **state)
{
	char *s;

	(void)state;
	s = provider_body(GW_OPENAI, openai_round_trip, PROVIDER_ANTHROPIC, "claude-x", 0);
	assert_string_equal(s, openai_round_trip_to_anthropic);
	free(s);
	s = provider_body(GW_ANTHROPIC, anthropic_round_trip, PROVIDER_OPENAI, "gpt-x", 1);
	assert_string_equal(s, anthropic_round_trip_to_openai);
	free(s);
}

/* ---- in process: answers and streams, byte for byte ---- */

static void
result_init(struct router_result *res)
{
	memset(res, 0, sizeof *res);
	llm_response_init(&res->resp);
}

static void
add_text(struct llm_response *r, const char *text)
{
	llm_response_add_part(r, LLM_PART_TEXT)->text = xstrdup(text);
	free(r->content);
	r->content = xstrdup(text);
}

static void
add_call(struct llm_response *r, int index, const char *id, const char *name, const char *args)
{
	struct llm_part *p = llm_response_add_part(r, LLM_PART_TOOL_CALL);

	p->index = index;
	p->id = xstrdup(id);
	p->name = xstrdup(name);
	p->arguments = xstrdup(args);
}

/* Anthropic's counts for the example: 10 plain, 4000 read, 2000 written (500 for 1 h). */
static void
cached_usage(struct llm_usage *u)
{
	u->input_tokens = 6010;
	u->cache_read_tokens = 4000;
	u->cache_write_tokens = 2000;
	u->cache_write_1h_tokens = 500;
	u->output_tokens = 20;
	u->reasoning_tokens = 5;
	u->has_cache_detail = 1;
}

static void
test_openai_answer_bytes(void **state)
{
	struct router_result res;
	char *s;

	(void)state;
	result_init(&res);
	add_call(&res.resp, 0, "toolu_1", "get_weather", "{\"city\":\"Paris\"}");
	res.resp.content = xstrdup("");
	res.resp.stop = LLM_STOP_TOOL_USE;
	cached_usage(&res.resp.usage);
	s = gw_openai_answer(&res, "chatcmpl-1", "m", 1700000000);
	assert_string_equal(s,
	    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":null,\"refusal\":null,\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
	    "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":"
	    "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":6010,\"completion_tokens\":20,"
	    "\"total_tokens\":6030,\"prompt_tokens_details\":{\"cached_tokens\":4000,"
	    "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":5,"
	    "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
	    "\"rejected_prediction_tokens\":0}},\"system_fingerprint\":null}");
	free(s);
	/* Text beside the call, and thinking as reasoning_content. */
	llm_response_free(&res.resp);
	llm_response_init(&res.resp);
	llm_response_add_part(&res.resp, LLM_PART_THINKING)->text = xstrdup("hm");
	add_text(&res.resp, "Let me look.");
	add_call(&res.resp, 0, "call_9", "f", "");
	s = gw_openai_answer(&res, "chatcmpl-2", "m", 1);
	assert_non_null(strstr(s,
	    "\"message\":{\"role\":\"assistant\",\"content\":\"Let me look.\",\"refusal\":null,"
	    "\"reasoning_content\":\"hm\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}"));
	/* A call the provider did not call a stop for still ends in tool_calls. */
	assert_non_null(strstr(s, "\"finish_reason\":\"tool_calls\""));
	free(s);
	llm_response_free(&res.resp);
}

static void
test_anthropic_answer_bytes(void **state)
{
	struct router_result res;
	struct llm_part *th;
	char *s;

	(void)state;
	result_init(&res);
	th = llm_response_add_part(&res.resp, LLM_PART_THINKING);
	th->text = xstrdup("Paris, then.");
	th->signature = xstrdup("sig==");
	add_text(&res.resp, "Checking.");
	add_call(&res.resp, 0, "call_1", "get_weather", "{\"city\":\"Paris\"}");
	res.resp.stop = LLM_STOP_TOOL_USE;
	cached_usage(&res.resp.usage);
	s = gw_anthropic_answer(&res, "msg_1", "m");
	assert_string_equal(s,
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
	    "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Paris, then.\",\"signature\":"
	    "\"sig==\"},{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":"
	    "\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}],"
	    "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
	    "\"cache_creation_input_tokens\":2000,\"cache_read_input_tokens\":4000,"
	    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1500,\"ephemeral_1h_input_tokens\":"
	    "500},\"output_tokens\":20,\"output_tokens_details\":{\"thinking_tokens\":5}}}");
	free(s);
	llm_response_free(&res.resp);
}

static void
delta(struct gw_stream *st, struct buf *out, enum llm_delta_type type, size_t p, int index,
    const char *id, const char *name, const char *text)
{
	struct llm_delta d;

	memset(&d, 0, sizeof d);
	d.type = type;
	d.part = p;
	d.index = index;
	d.id = id;
	d.name = name;
	d.text = text;
	d.len = text != NULL ? strlen(text) : 0;
	gw_stream_typed(st, out, &d);
}

/* Text, then a tool call in two argument pieces, as a provider streams them. */
static void
stream_text_and_call(struct gw_stream *st, struct buf *out, struct router_result *res)
{
	delta(st, out, LLM_DELTA_TEXT, 0, 0, NULL, NULL, "Let me check.");
	delta(st, out, LLM_DELTA_TOOL_CALL_START, 1, 0, "call_1", "get_weather", NULL);
	delta(st, out, LLM_DELTA_TOOL_CALL_ARGS, 1, 0, NULL, NULL, "{\"city\":");
	delta(st, out, LLM_DELTA_TOOL_CALL_ARGS, 1, 0, NULL, NULL, "\"Paris\"}");
	result_init(res);
	add_text(&res->resp, "Let me check.");
	add_call(&res->resp, 0, "call_1", "get_weather", "{\"city\":\"Paris\"}");
	res->resp.stop = LLM_STOP_TOOL_USE;
	cached_usage(&res->resp.usage);
	gw_stream_close(st, out, res);
}

#define OA_HEAD \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\"," \
	"\"system_fingerprint\":null,\"choices\":["
#define OA_TAIL "],\"usage\":null}\n\n"

static void
test_openai_stream_bytes(void **state)
{
	struct gw_stream st;
	struct router_result res;
	struct buf out;

	(void)state;
	memset(&st, 0, sizeof st);
	st.api = GW_OPENAI;
	st.id = "c1";
	st.model = "m";
	st.created = 7;
	st.include_usage = 1;
	buf_init(&out);
	stream_text_and_call(&st, &out, &res);
	assert_string_equal(out.data,
	    OA_HEAD
	    "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":"
	    "null},\"logprobs\":null,\"finish_reason\":null}" OA_TAIL OA_HEAD
	    "{\"index\":0,\"delta\":{\"content\":\"Let me check.\"},\"logprobs\":null,"
	    "\"finish_reason\":null}" OA_TAIL OA_HEAD
	    "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
	    "\"\"}}]},\"logprobs\":null,\"finish_reason\":null}" OA_TAIL OA_HEAD
	    "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"{\\\"city\\\":\"}}]},\"logprobs\":null,\"finish_reason\":"
	    "null}" OA_TAIL OA_HEAD
	    "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":"
	    "null}" OA_TAIL OA_HEAD
	    "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}" OA_TAIL
	        OA_HEAD "],\"usage\":{\"prompt_tokens\":6010,\"completion_tokens\":20,"
	    "\"total_tokens\":6030,\"prompt_tokens_details\":{\"cached_tokens\":4000,"
	    "\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":5,"
	    "\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
	    "\"rejected_prediction_tokens\":0}}}\n\n"
	    "data: [DONE]\n\n");
	buf_free(&out);
	llm_response_free(&res.resp);
}

/* clang-format off */
static const char anthropic_stream_want[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],"
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":42,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me check.\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
    "\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\","
    "\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
    "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
    "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":10,"
    "\"cache_creation_input_tokens\":2000,\"cache_read_input_tokens\":4000,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1500,\"ephemeral_1h_input_tokens\":500},"
    "\"output_tokens\":20,\"output_tokens_details\":{\"thinking_tokens\":5}}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
/* clang-format on */

static void
test_anthropic_stream_bytes(void **state)
{
	struct gw_stream st;
	struct router_result res;
	struct buf out;

	(void)state;
	memset(&st, 0, sizeof st);
	st.api = GW_ANTHROPIC;
	st.id = "msg_1";
	st.model = "m";
	st.input_estimate = 42;
	buf_init(&out);
	stream_text_and_call(&st, &out, &res);
	assert_string_equal(out.data, anthropic_stream_want);
	buf_free(&out);
	llm_response_free(&res.resp);
}

/* Thinking with its signature, a redacted block, and a cached answer replayed at the end. */
static void
test_anthropic_stream_thinking_and_replay(void **state)
{
	struct gw_stream st;
	struct router_result res;
	struct buf out;
	struct llm_part *th;

	(void)state;
	memset(&st, 0, sizeof st);
	st.api = GW_ANTHROPIC;
	st.id = "msg_2";
	st.model = "m";
	buf_init(&out);
	delta(&st, &out, LLM_DELTA_THINKING, 0, 0, NULL, NULL, "Hmm");
	delta(&st, &out, LLM_DELTA_THINKING_SIGNATURE, 0, 0, NULL, NULL, "sig");
	delta(&st, &out, LLM_DELTA_REDACTED_THINKING, 1, 0, NULL, NULL, "opaque");
	delta(&st, &out, LLM_DELTA_TEXT, 2, 0, NULL, NULL, "Hi");
	assert_non_null(strstr(out.data,
	    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
	    "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"));
	assert_non_null(strstr(out.data,
	    "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
	    "\"Hmm\"}"));
	assert_non_null(strstr(out.data,
	    ",\"index\":0,\"delta\":{\"type\":\"signature_delta\","
	    "\"signature\":\"sig\"}"));
	assert_non_null(strstr(out.data,
	    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
	    "\"redacted_thinking\",\"data\":\"opaque\"}}\n\nevent: content_block_stop\ndata: "
	    "{\"type\":\"content_block_stop\",\"index\":1}\n\n"));
	assert_non_null(strstr(out.data, ",\"index\":2,\"delta\":{\"type\":\"text_delta\""));
	buf_free(&out);

	/* Nothing streamed (a cached answer): the close replays it whole. */
	memset(&st, 0, sizeof st);
	st.api = GW_ANTHROPIC;
	st.id = "msg_3";
	st.model = "m";
	buf_init(&out);
	result_init(&res);
	th = llm_response_add_part(&res.resp, LLM_PART_THINKING);
	th->text = xstrdup("t");
	add_call(&res.resp, 0, "toolu_9", "f", "{}");
	res.resp.stop = LLM_STOP_TOOL_USE;
	gw_stream_close(&st, &out, &res);
	assert_non_null(strstr(out.data, "\"content_block\":{\"type\":\"thinking\""));
	assert_non_null(strstr(out.data,
	    "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":"
	    "\"f\",\"input\":{}}"));
	assert_non_null(strstr(out.data, "\"partial_json\":\"{}\""));
	assert_non_null(strstr(out.data, "\"stop_reason\":\"tool_use\""));
	buf_free(&out);
	llm_response_free(&res.resp);
}

static void
test_error_bodies(void **state)
{
	char *s;

	(void)state;
	s = gw_error_body(GW_ANTHROPIC, 404, LLM_OK, "no such endpoint", NULL);
	assert_string_equal(s,
	    "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
	    "\"message\":\"no such endpoint\"}}");
	free(s);
	s = gw_error_body(GW_OPENAI, 400, LLM_ERR_BAD_REQUEST, "tools: x", "tools");
	assert_string_equal(s,
	    "{\"error\":{\"message\":\"tools: x\",\"type\":"
	    "\"invalid_request_error\",\"param\":\"tools\",\"code\":"
	    "\"bad_request\"}}");
	free(s);
}

/* ---- over loopback: the gateway, the router and sims of both kinds ---- */

struct fixture {
	struct testkit kit;
	struct router *r;
	struct gateway *gw;
	char base[128];
};

struct reply {
	long status;
	struct buf body;
	struct buf headers;
	cJSON *json;
};

static size_t
on_write(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

static void
reply_free(struct reply *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
	cJSON_Delete(r->json);
}

static int
reply_has_header(const struct reply *r, const char *line)
{
	return r->headers.data != NULL && strcasestr(r->headers.data, line) != NULL;
}

static void
post(struct fixture *f, const char *path, const char *body, struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[256];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	buf_init(&r->headers);
	snprintf(url, sizeof url, "%s%s", f->base, path);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("POST %s: %s", path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	buf_append(&r->body, "", 0);
	r->json = cJSON_Parse(r->body.data);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	testkit_init(&f->kit);
	f->kit.cfg.breaker.failure_threshold = 1000;
	f->kit.cfg.cache.enabled = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	gateway_stop(f->gw);
	if (f->r != NULL)
		router_free(f->r);
	testkit_free(&f->kit);
	free(f);
	return 0;
}

/* an: an Anthropic sim, oa: an OpenAI sim; routes to each, and "an-then-oa". */
static void
start_two(struct fixture *f)
{
	struct gateway_opts go;
	struct router_opts ro;
	char *cause = NULL;

	testkit_add_provider(&f->kit, "an", SIM_ANTHROPIC, 1, 1)->max_retries = 0;
	testkit_add_provider(&f->kit, "oa", SIM_OPENAI, 1, 1)->max_retries = 0;
	testkit_add_route(&f->kit, "to-an", "an", NULL);
	testkit_add_route(&f->kit, "to-oa", "oa", NULL);
	testkit_add_route(&f->kit, "an-then-oa", "an", "oa");
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
	go.max_body = 4 << 20;
	f->gw = gateway_start(f->r, &go, &cause);
	if (f->gw == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
}

#define OA_TOOLS \
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"," \
	"\"description\":" \
	"\"Weather in a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":" \
	"{\"type\":\"string\"}},\"required\":[\"city\"]}}}]"
#define AN_TOOLS \
	"\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather in a " \
	"city\",\"input_schema\":" \
	"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":" \
	"[\"city\"]}}]"

/* A tool call's arguments are a JSON object with the schema's required city. */
static void
assert_city_args(const char *args)
{
	cJSON *a = cJSON_Parse(args);

	assert_true(cJSON_IsObject(a));
	assert_true(cJSON_IsString(cJSON_GetObjectItem(a, "city")));
	cJSON_Delete(a);
}

/* OpenAI client, Anthropic provider: a forced call comes back as tool_calls. */
static void
test_openai_client_anthropic_provider_tools(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *body;

	start_two(f);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}]"
	    "," OA_TOOLS ",\"tool_choice\":\"required\"}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "choices.0.finish_reason"), "tool_calls");
	assert_true(cJSON_IsNull(jget(r.json, "choices.0.message.content")));
	assert_string_equal(jstr(r.json, "choices.0.message.tool_calls.0.type"), "function");
	assert_string_equal(jstr(r.json, "choices.0.message.tool_calls.0.function.name"),
	    "get_weather");
	assert_non_null(strstr(jstr(r.json, "choices.0.message.tool_calls.0.id"), "toolu_"));
	assert_city_args(jstr(r.json, "choices.0.message.tool_calls.0.function.arguments"));
	assert_true(reply_has_header(&r, "x-llmdeck-provider: an"));

	/* The round trip: the call and its result go back, the answer is text. */
	body =
	    xasprintf("{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather?"
	              "\"},"
	              "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"%s\","
	              "\"type\":"
	              "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{"
	              "\\\"city\\\":"
	              "\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":"
	              "\"18C and sunny\"}]," OA_TOOLS "}",
	        jstr(r.json, "choices.0.message.tool_calls.0.id"),
	        jstr(r.json, "choices.0.message.tool_calls.0.id"));
	reply_free(&r);
	post(f, "/v1/chat/completions", body, &r);
	free(body);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "choices.0.finish_reason"), "stop");
	assert_non_null(jstr(r.json, "choices.0.message.content"));
	assert_null(jget(r.json, "choices.0.message.tool_calls"));
	reply_free(&r);
}

/* The data: payloads of an SSE body, parsed; event names into events. */
static size_t
sse_json(const char *body, cJSON **out, size_t max, struct buf *events)
{
	size_t n = 0;
	const char *p = body;

	while (*p != '\0' && n < max) {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

		if (len > 6 && strncmp(p, "data: ", 6) == 0 && strncmp(p + 6, "[DONE]", 6) != 0) {
			char *s = xstrndup(p + 6, len - 6);
			out[n++] = cJSON_Parse(s);
			free(s);
		} else if (events != NULL && len > 7 && strncmp(p, "event: ", 7) == 0) {
			buf_append(events, p + 7, len - 7);
			buf_puts(events, " ");
		}
		p = eol != NULL ? eol + 1 : p + len;
	}
	return n;
}

static void
free_json(cJSON **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(v[i]);
}

/* A streamed forced call to an Anthropic provider: OpenAI index deltas. */
static void
test_openai_client_anthropic_provider_streamed_tools(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *c[512];
	struct buf args;
	size_t n;
	const char *finish = NULL, *name = NULL, *id = NULL;
	const cJSON *usage = NULL;

	start_two(f);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}]," OA_TOOLS
	    ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "data: [DONE]\n\n"));
	n = sse_json(r.body.data, c, nitems(c), NULL);
	buf_init(&args);
	for (size_t i = 0; i < n; i++) {
		const cJSON *tc = jget(c[i], "choices.0.delta.tool_calls.0");

		assert_non_null(c[i]);
		assert_string_equal(jstr(c[i], "object"), "chat.completion.chunk");
		if (tc != NULL) {
			assert_int_equal(jnum(tc, "index"), 0);
			if (jstr(tc, "id") != NULL) {
				id = jstr(tc, "id");
				name = jstr(tc, "function.name");
				assert_string_equal(jstr(tc, "type"), "function");
			}
			if (jstr(tc, "function.arguments") != NULL)
				buf_puts(&args, jstr(tc, "function.arguments"));
		}
		if (jstr(c[i], "choices.0.finish_reason") != NULL)
			finish = jstr(c[i], "choices.0.finish_reason");
		if (cJSON_IsObject(jget(c[i], "usage")))
			usage = jget(c[i], "usage");
	}
	assert_non_null(id);
	assert_string_equal(name, "get_weather");
	assert_city_args(args.data);
	assert_string_equal(finish, "tool_calls");
	assert_non_null(usage);
	assert_true(jnum(usage, "prompt_tokens_details.cached_tokens") >= 0);
	assert_true(jnum(usage, "completion_tokens") > 0);
	buf_free(&args);
	free_json(c, n);
	reply_free(&r);
}

/* Anthropic client, OpenAI provider: tool_use blocks, streamed as input_json_delta. */
static void
test_anthropic_client_openai_provider_tools(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *c[512];
	struct buf ev, json;
	size_t n;
	int tool_block = -1;
	char *body, *id;

	start_two(f);
	post(f, "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"Weather?\"}]," AN_TOOLS ",\"tool_choice\":{\"type\":\"any\"}}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "stop_reason"), "tool_use");
	assert_string_equal(jstr(r.json, "content.0.type"), "tool_use");
	assert_string_equal(jstr(r.json, "content.0.name"), "get_weather");
	assert_true(cJSON_IsString(jget(r.json, "content.0.input.city")));
	assert_true(reply_has_header(&r, "x-llmdeck-provider: oa"));
	id = xstrdup(jstr(r.json, "content.0.id"));
	reply_free(&r);

	/* Round trip. */
	body = xasprintf("{\"model\":\"to-oa\",\"max_tokens\":200,\"messages\":[{\"role\":\"user\","
	                 "\"content\":"
	                 "\"Weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_"
	                 "use\",\"id\":"
	                 "\"%s\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{"
	                 "\"role\":\"user\","
	                 "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"%s\","
	                 "\"content\":\"18C\"}]}]," AN_TOOLS "}",
	    id, id);
	post(f, "/v1/messages", body, &r);
	free(body);
	free(id);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "stop_reason"), "end_turn");
	assert_string_equal(jstr(r.json, "content.0.type"), "text");
	reply_free(&r);

	/* Streamed. */
	post(f, "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":200,\"stream\":true,\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"Weather?\"}]," AN_TOOLS
	    ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}}",
	    &r);
	assert_int_equal(r.status, 200);
	buf_init(&ev);
	buf_init(&json);
	n = sse_json(r.body.data, c, nitems(c), &ev);
	assert_non_null(strstr(ev.data, "message_start "));
	assert_non_null(strstr(ev.data, "content_block_stop message_delta message_stop "));
	for (size_t i = 0; i < n; i++) {
		const char *type = jstr(c[i], "type");

		assert_non_null(type);
		if (strcmp(type, "content_block_start") == 0 &&
		    strcmp(jstr(c[i], "content_block.type"), "tool_use") == 0) {
			tool_block = (int)jnum(c[i], "index");
			assert_string_equal(jstr(c[i], "content_block.name"), "get_weather");
			assert_non_null(jstr(c[i], "content_block.id"));
		}
		if (strcmp(type, "content_block_delta") == 0 &&
		    strcmp(jstr(c[i], "delta.type"), "input_json_delta") == 0) {
			assert_int_equal(jnum(c[i], "index"), tool_block);
			buf_puts(&json, jstr(c[i], "delta.partial_json"));
		}
		if (strcmp(type, "message_delta") == 0) {
			assert_string_equal(jstr(c[i], "delta.stop_reason"), "tool_use");
			assert_true(jnum(c[i], "usage.output_tokens") > 0);
			assert_true(jnum(c[i], "usage.input_tokens") > 0);
		}
		if (strcmp(type, "message_start") == 0)
			assert_true(jnum(c[i], "message.usage.input_tokens") > 0);
	}
	assert_true(tool_block >= 0);
	assert_city_args(json.data);
	buf_free(&ev);
	buf_free(&json);
	free_json(c, n);
	reply_free(&r);
}

/* A 1x1 PNG. */
#define PNG_B64 \
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU" \
	"5ErkJggg=="

static void
test_images_both_ways(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	start_two(f);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
	    "\"text\":\"What is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64," PNG_B64 "\"}}]}]}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_non_null(jstr(r.json, "choices.0.message.content"));
	reply_free(&r);
	post(f, "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
	    "\"data\":\"" PNG_B64 "\"}},{\"type\":\"text\",\"text\":\"What is this?\"}]}]}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "content.0.type"), "text");
	reply_free(&r);
}

static void
test_json_output(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *j;

	start_two(f);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\",\"content\":\"A JSON object "
	    "please\"}],\"response_format\":{\"type\":\"json_object\"}}",
	    &r);
	assert_int_equal(r.status, 200);
	j = cJSON_Parse(jstr(r.json, "choices.0.message.content"));
	assert_true(cJSON_IsObject(j));
	cJSON_Delete(j);
	reply_free(&r);
	/* Anthropic has no JSON mode without a schema: refused, naming the field. */
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":\"JSON\"}],"
	    "\"response_format\":{\"type\":\"json_object\"}}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "response_format");
	reply_free(&r);
}

/* Fields only the client's kind takes reach a provider of that kind; none: a 400 naming one. */
static void
test_passthrough_same_kind_only(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	start_two(f);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"logit_bias\":{\"42\":-100},\"presence_penalty\":0.5}",
	    &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"logit_bias\":{\"42\":-100}}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "logit_bias");
	assert_non_null(strstr(jstr(r.json, "error.message"), "OpenAI-compatible"));
	reply_free(&r);
	post(f, "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"service_tier\":\"standard_only\"}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "service_tier"));
	reply_free(&r);
}

/* The primary (Anthropic) fails: the OpenAI fallback answers with the same tools. */
static void
test_failover_between_kinds_keeps_the_tools(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	start_two(f);
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":500}");
	post(f, "/v1/messages",
	    "{\"model\":\"an-then-oa\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Weather?\"}]," AN_TOOLS ",\"tool_choice\":{\"type\":\"any\"}}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_true(reply_has_header(&r, "x-llmdeck-attempts: 2 an:server_error,oa:ok"));
	assert_string_equal(jstr(r.json, "content.0.type"), "tool_use");
	assert_string_equal(jstr(r.json, "stop_reason"), "tool_use");
	reply_free(&r);
}

/* Usage on /v1/messages: input_tokens without the cache's, which have their own fields. */
static void
test_anthropic_usage_apart_from_cache(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	struct buf sys;
	char *body;
	double in, read, write;

	start_two(f);
	buf_init(&sys);
	for (int i = 0; i < 600; i++)
		buf_puts(&sys, "Rule: answer briefly and exactly. ");
	body = xasprintf("{\"model\":\"to-an\",\"max_tokens\":50,\"system\":[{\"type\":\"text\","
	                 "\"text\":\"%s\","
	                 "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":"
	                 "\"user\","
	                 "\"content\":\"hi\"}]}",
	    sys.data);
	post(f, "/v1/messages", body, &r);
	assert_int_equal(r.status, 200);
	write = jnum(r.json, "usage.cache_creation_input_tokens");
	in = jnum(r.json, "usage.input_tokens");
	assert_true(write > 1000);
	assert_true(in > 0 && in < 100);
	assert_int_equal(jnum(r.json, "usage.cache_creation.ephemeral_5m_input_tokens"), write);
	reply_free(&r);
	post(f, "/v1/messages", body, &r);
	read = jnum(r.json, "usage.cache_read_input_tokens");
	assert_true(read > 1000);
	assert_true(jnum(r.json, "usage.input_tokens") < 100);
	reply_free(&r);
	free(body);
	buf_free(&sys);
}

static void
test_embeddings(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	const cJSON *e;

	start_two(f);
	post(f, "/v1/embeddings",
	    "{\"model\":\"to-oa\",\"input\":[\"one\",\"two\"],\"encoding_format\":\"float\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "object"), "list");
	assert_int_equal(cJSON_GetArraySize(jget(r.json, "data")), 2);
	assert_int_equal(jnum(r.json, "data.1.index"), 1);
	e = jget(r.json, "data.0.embedding");
	assert_true(cJSON_IsArray(e) && cJSON_GetArraySize(e) > 0);
	assert_true(jnum(r.json, "usage.prompt_tokens") > 0);
	assert_true(reply_has_header(&r, "x-llmdeck-provider: oa"));
	assert_true(reply_has_header(&r, "x-llmdeck-cost-usd: "));
	reply_free(&r);

	/* base64: little-endian float32, as the openai client asks by default. */
	post(f, "/v1/embeddings",
	    "{\"model\":\"to-oa\",\"input\":\"one\",\"encoding_format\":\"base64\","
	    "\"dimensions\":4}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(strlen(jstr(r.json, "data.0.embedding")), 24); /* 16 bytes */
	reply_free(&r);

	/* Anthropic has no embeddings API. */
	post(f, "/v1/embeddings", "{\"model\":\"to-an\",\"input\":\"one\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "model");
	assert_non_null(strstr(jstr(r.json, "error.message"), "embeddings API"));
	reply_free(&r);
	post(f, "/v1/embeddings", "{\"model\":\"to-oa\",\"input\":[]}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "input");
	reply_free(&r);
	post(f, "/v1/embeddings", "{\"model\":\"to-oa\",\"input\":\"x\",\"shape\":1}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "shape");
	reply_free(&r);
}

/* With a store: an embeddings request is a ledger row with its cost; over the budget, a 429. */
static void
test_embeddings_ledgered_and_budgeted(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/llmdeck-gwtools-XXXXXX", *path, *cause = NULL, cost[64];
	struct gateway_opts go;
	struct router_opts ro;
	struct store *st = NULL;
	struct reply r;
	const char *h;

	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/store.db", dir);
	assert_int_equal(store_open(&st, path, &cause), 0);
	testkit_add_provider(&f->kit, "oa", SIM_OPENAI, 1, 1);
	testkit_add_route(&f->kit, "to-oa", "oa", NULL);
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	ro.store = st;
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	for (int budgeted = 0; budgeted < 2; budgeted++) {
		f->kit.cfg.budget.daily_usd = budgeted ? 0.000001 : 0;
		f->kit.cfg.budget.hard_stop = 1;
		f->r = router_new(&f->kit.cfg, &ro, &cause);
		assert_non_null(f->r);
		f->gw = gateway_start(f->r, &go, &cause);
		assert_non_null(f->gw);
		snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
		post(f, "/v1/embeddings", "{\"model\":\"to-oa\",\"input\":[\"one\",\"two\"]}", &r);
		if (!budgeted) {
			assert_int_equal(r.status, 200);
			h = strcasestr(r.headers.data, "x-llmdeck-cost-usd: ");
			assert_non_null(h);
			snprintf(cost, sizeof cost, "%.*s", (int)strcspn(h + 20, "\r\n"), h + 20);
			/* The row is committed before the answer goes out. */
			assert_int_equal(sttest_sql_int64(path,
			                     "SELECT count(*) FROM ledger WHERE provider = 'oa' "
			                     "AND "
			                     "route = 'to-oa' AND model = 'test-model' AND outcome "
			                     "= 'ok' "
			                     "AND input_tokens > 0 AND output_tokens = 0"),
			    1);
			assert_true(sttest_sql_double(path, "SELECT cost_usd FROM ledger") > 0);
			assert_true(fabs(sttest_sql_double(path, "SELECT cost_usd FROM ledger") -
			                atof(cost)) < 1e-6);
		} else {
			assert_int_equal(r.status, 429);
			assert_string_equal(jstr(r.json, "error.type"), "budget_exceeded");
			assert_true(reply_has_header(&r, "x-should-retry: false"));
			assert_int_equal(sttest_sql_int64(path, "SELECT count(*) FROM ledger"), 1);
		}
		reply_free(&r);
		gateway_stop(f->gw);
		f->gw = NULL;
		router_free(f->r);
		f->r = NULL;
	}
	store_close(st);
	unlink(path);
	free(path);
	{
		char *cmd = xasprintf("rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
}

/* A stand-in for Anthropic's count_tokens: it records the body it was sent. */
static struct buf counted;

static enum MHD_Result
count_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	static const char answer[] = "{\"input_tokens\":4242}";
	struct MHD_Response *resp;
	enum MHD_Result rc;
	int found = strcmp(url, "/v1/messages/count_tokens") == 0;

	(void)cls;
	(void)method;
	(void)version;
	if (*con_cls == NULL) {
		*con_cls = &counted;
		buf_reset(&counted);
		return MHD_YES;
	}
	if (*size > 0) {
		buf_append(&counted, data, *size);
		*size = 0;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(found ? strlen(answer) : 2,
	    (void *)(found ? answer : "{}"), MHD_RESPMEM_PERSISTENT);
	rc = MHD_queue_response(conn, found ? 200 : 404, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void
test_count_tokens(void **state)
{
	struct fixture *f = *state;
	struct MHD_Daemon *d;
	struct provider_conf *p;
	struct reply r;
	const union MHD_DaemonInfo *info;
	char url[64];
	cJSON *sent;

	/* A provider whose count_tokens answers; the sims have none. */
	buf_init(&counted);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, count_handler, NULL,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);
	start_two(f);
	post(f, "/v1/messages/count_tokens",
	    "{\"model\":\"to-an\",\"system\":\"be brief\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hello there\"}]," AN_TOOLS "}",
	    &r);
	/* The Anthropic sim has no count_tokens (404): estimated, and labelled so. */
	assert_int_equal(r.status, 200);
	assert_true(jnum(r.json, "input_tokens") > 0);
	assert_true(reply_has_header(&r, "x-llmdeck-estimate: true"));
	reply_free(&r);
	/* A model only OpenAI serves: estimated too. */
	post(f, "/v1/messages/count_tokens",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}", &r);
	assert_int_equal(r.status, 200);
	assert_true(reply_has_header(&r, "x-llmdeck-estimate: true"));
	reply_free(&r);
	gateway_stop(f->gw);
	f->gw = NULL;
	router_free(f->r);
	f->r = NULL;

	/* Now the Anthropic provider is one that counts: forwarded, its number comes back. */
	p = &f->kit.cfg.providers[0];
	free(p->base_url);
	p->base_url = xstrdup(url);
	{
		struct gateway_opts go;
		struct router_opts ro;
		char *cause = NULL;

		memset(&ro, 0, sizeof ro);
		ro.no_probes = 1;
		f->r = router_new(&f->kit.cfg, &ro, &cause);
		assert_non_null(f->r);
		gateway_opts_init(&go);
		go.listen = "127.0.0.1:0";
		f->gw = gateway_start(f->r, &go, &cause);
		assert_non_null(f->gw);
		snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	}
	post(f, "/v1/messages/count_tokens",
	    "{\"model\":\"to-an\",\"system\":\"be brief\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hello there\"}]," AN_TOOLS "}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"input_tokens\":4242}");
	assert_false(reply_has_header(&r, "x-llmdeck-estimate"));
	assert_true(reply_has_header(&r, "x-llmdeck-provider: an"));
	reply_free(&r);
	/* What count_tokens takes: no max_tokens, no stream. */
	sent = cJSON_Parse(counted.data);
	assert_non_null(sent);
	assert_string_equal(jstr(sent, "model"), "test-model-id");
	assert_string_equal(jstr(sent, "system"), "be brief");
	assert_non_null(jget(sent, "tools.0.input_schema"));
	assert_null(jget(sent, "max_tokens"));
	assert_null(jget(sent, "stream"));
	cJSON_Delete(sent);
	MHD_stop_daemon(d);
	buf_free(&counted);
}

/* Errors on /v1/messages paths are Anthropic's shape, 404s too. */
static void
test_anthropic_paths_answer_anthropic_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	start_two(f);
	post(f, "/v1/messages/batches", "{}", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(jstr(r.json, "type"), "error");
	assert_string_equal(jstr(r.json, "error.type"), "not_found_error");
	reply_free(&r);
	post(f, "/v1/messages/count_tokens", "{\"model\":\"to-an\"}", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "messages"));
	reply_free(&r);
	/* A capability refusal by every provider names the field, in the client's shape. */
	post(f, "/v1/messages",
	    "{\"model\":\"to-an\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}],\"temperature\":0.5,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
	    "2000}}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "type"), "error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "thinking"));
	reply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_request_of_an_agent),
	    cmocka_unit_test(test_openai_tool_choice_forms),
	    cmocka_unit_test(test_openai_refusals_name_the_field),
	    cmocka_unit_test(test_anthropic_request_of_an_agent),
	    cmocka_unit_test(test_anthropic_refusals_name_the_field),
	    cmocka_unit_test(test_translation_to_the_provider_wire),
	    cmocka_unit_test(test_openai_answer_bytes),
	    cmocka_unit_test(test_anthropic_answer_bytes),
	    cmocka_unit_test(test_openai_stream_bytes),
	    cmocka_unit_test(test_anthropic_stream_bytes),
	    cmocka_unit_test(test_anthropic_stream_thinking_and_replay),
	    cmocka_unit_test(test_error_bodies),
	    cmocka_unit_test_setup_teardown(test_openai_client_anthropic_provider_tools, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_openai_client_anthropic_provider_streamed_tools,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anthropic_client_openai_provider_tools, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_images_both_ways, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passthrough_same_kind_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failover_between_kinds_keeps_the_tools, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_anthropic_usage_apart_from_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_embeddings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_embeddings_ledgered_and_budgeted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_count_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anthropic_paths_answer_anthropic_errors, setup,
	        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
