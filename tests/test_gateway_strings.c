/*
 * test_gateway_strings.c: strings keep their bytes. A \u0000 in any string
 * of a client's request (cJSON would cut it there: "secret\u0000AAAA" would
 * reach the provider as "secret", and hit the cache for "secret\u0000BBBB"),
 * invalid UTF-8 in it, and bytes after the JSON object are each refused with
 * a 400 naming the field, by the one skeleton all three client APIs share
 * (gw_body_check in gateway_wire.c); the walker that finds the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "gateway/gateway_wire.h"
#include "provider/llm.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

/* A request with one string field marked @: the field's path. */
struct field {
	const char *body;
	const char *path;
};

static const struct field openai_fields[] = {
    {"{\"model\":@,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":@}]}", "messages[0].content"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\","
     "\"content\":[{\"type\":\"text\",\"text\":@}]}]}",
        "messages[1].content[0].text"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":@,\"content\":\"x\"}]}", "messages[0].role"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":@}]}",
        "messages[0].name"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":"
     "\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
     "\"f\",\"arguments\":@}}]}]}",
        "messages[1].tool_calls[0].function.arguments"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
     "\"function\",\"function\":{\"name\":\"f\",\"description\":@}}]}",
        "tools[0].function.description"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[\"a\",@]}",
        "stop[1]"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"user\":@}", "user"},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"metadata\":{\"k\":@}"
     "}",
        "metadata.k"},
};

static const struct field anthropic_fields[] = {
    {"{\"model\":@,\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "model"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"system\":@,\"messages\":[{\"role\":\"user\",\"content\":"
     "\"x\"}]}",
        "system"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":@}],\"messages\":"
     "[{\"role\":\"user\",\"content\":\"x\"}]}",
        "system[0].text"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":@}]}",
        "messages[0].content"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":@}]}]}",
        "messages[0].content[1].text"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{"
     "\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":@,"
     "\"input\":{}}]}]}",
        "messages[1].content[0].name"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"tool_result\",\"tool_use_id\":\"t\",\"content\":@}]}]}",
        "messages[0].content[0].content"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"tools\":[{\"name\":\"f\",\"description\":@,\"input_schema\":{\"type\":\"object\"}}]}",
        "tools[0].description"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"stop_sequences\":[@]}",
        "stop_sequences[0]"},
    {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"metadata\":{\"user_id\":@}}",
        "metadata.user_id"},
};

static const struct field responses_fields[] = {
    {"{\"model\":@,\"input\":\"x\"}", "model"},
    {"{\"model\":\"m\",\"input\":@}", "input"},
    {"{\"model\":\"m\",\"instructions\":@,\"input\":\"x\"}", "instructions"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":@}]}", "input[0].content"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
     "\"text\":@}]}]}",
        "input[0].content[0].text"},
    {"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"x\"},{\"type\":"
     "\"function_call_output\",\"call_id\":\"c\",\"output\":@}]}",
        "input[1].output"},
    {"{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\","
     "\"description\":@,\"parameters\":{}}]}",
        "tools[0].description"},
    {"{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":@}", "previous_response_id"},
    {"{\"model\":\"m\",\"input\":\"x\",\"user\":@}", "user"},
};

static int
parse(enum gw_api api, const char *body, size_t len, struct gw_bad *bad)
{
	struct llm_request req;
	struct gw_ask ask;
	int rc;

	memset(bad, 0, sizeof *bad);
	llm_request_init(&req);
	rc = gw_api_ops(api)->parse(body, len, &req, &ask, bad);
	llm_request_free(&req);
	gw_ask_free(&ask);
	return rc;
}

/* The body with @ replaced by what. */
static char *
fill(const char *body, const char *what, size_t *len)
{
	const char *at = strchr(body, '@');
	struct buf b;

	buf_init(&b);
	buf_append(&b, body, (size_t)(at - body));
	buf_puts(&b, what);
	buf_puts(&b, at + 1);
	*len = b.len;
	return buf_detach(&b);
}

static void
check_fields(enum gw_api api, const struct field *f, size_t n)
{
	struct gw_bad bad;
	size_t len;
	char *body;

	for (size_t i = 0; i < n; i++) {
		/* The body is fine with a plain string there. */
		body = fill(f[i].body, "\"plain \\u00e9 text\"", &len);
		if (parse(api, body, len, &bad) != 0 && strcmp(bad.param, f[i].path) == 0)
			fail_msg("%s: refused with a plain string: %s", body, bad.message);
		free(body);

		body = fill(f[i].body, "\"secret\\u0000AAAA\"", &len);
		assert_int_equal(parse(api, body, len, &bad), -1);
		if (strcmp(bad.param, f[i].path) != 0 || strstr(bad.message, "\\u0000") == NULL ||
		    strncmp(bad.message, f[i].path, strlen(f[i].path)) != 0)
			fail_msg("%s: param \"%s\" message \"%s\" (wanted %s)", body, bad.param,
			    bad.message, f[i].path);
		free(body);

		body = fill(f[i].body, "\"bad \xff\xfe bytes\"", &len);
		assert_int_equal(parse(api, body, len, &bad), -1);
		if (strcmp(bad.param, f[i].path) != 0 || strstr(bad.message, "UTF-8") == NULL)
			fail_msg("%s: param \"%s\" message \"%s\" (wanted %s)", body, bad.param,
			    bad.message, f[i].path);
		free(body);

		/* An overlong '/' and an encoded surrogate are not UTF-8 either. */
		body = fill(f[i].body, "\"\xc0\xaf \xed\xa0\x80\"", &len);
		assert_int_equal(parse(api, body, len, &bad), -1);
		assert_string_equal(bad.param, f[i].path);
		free(body);
	}
}

static void
test_nul_and_bad_utf8_openai(void **state)
{
	(void)state;
	check_fields(GW_OPENAI, openai_fields, nitems(openai_fields));
}

static void
test_nul_and_bad_utf8_anthropic(void **state)
{
	(void)state;
	check_fields(GW_ANTHROPIC, anthropic_fields, nitems(anthropic_fields));
}

static void
test_nul_and_bad_utf8_responses(void **state)
{
	(void)state;
	check_fields(GW_RESPONSES, responses_fields, nitems(responses_fields));
}

/* An escaped backslash before u0000 is text, not NUL; a NUL in a key names it. */
static void
test_nul_walker(void **state)
{
	static const char esc[] = "{\"a\":\"x\\\\u0000\",\"b\":[1,{\"c\":\"y\"}]}";
	static const char key[] = "{\"a\":{\"k\\u0000\":1}}";
	static const char deep[] = "{\"a\":[[],[{\"b\":[\"p\",\"q\\u0000\"]}]]}";
	char path[GW_PATH];

	(void)state;
	assert_int_equal(gw_json_nul_path(esc, strlen(esc), path, sizeof path), 0);
	assert_int_equal(gw_json_nul_path(key, strlen(key), path, sizeof path), 1);
	assert_string_equal(path, "a.k\\u0000");
	assert_int_equal(gw_json_nul_path(deep, strlen(deep), path, sizeof path), 1);
	assert_string_equal(path, "a[1][0].b[1]");
	/* Not JSON at all: no crash, no path. */
	assert_int_equal(gw_json_nul_path("\"\\", 2, path, sizeof path), 0);
	assert_int_equal(gw_json_nul_path("]]]}}", 5, path, sizeof path), 0);
}

/* Bytes after the object are refused, by every API; white space is not. */
static void
test_trailing_bytes(void **state)
{
	static const char *bodies[] = {
	    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	    "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
	    "}",
	    "{\"model\":\"m\",\"input\":\"x\"}",
	};
	static const enum gw_api apis[] = {GW_OPENAI, GW_ANTHROPIC, GW_RESPONSES};
	struct gw_bad bad;
	char body[256];

	(void)state;
	for (size_t i = 0; i < nitems(apis); i++) {
		snprintf(body, sizeof body, "%s \r\n\t", bodies[i]);
		assert_int_equal(parse(apis[i], body, strlen(body), &bad), 0);
		snprintf(body, sizeof body, "%s trailing", bodies[i]);
		assert_int_equal(parse(apis[i], body, strlen(body), &bad), -1);
		assert_non_null(strstr(bad.message, "bytes after its JSON object"));
		snprintf(body, sizeof body, "%s{}", bodies[i]);
		assert_int_equal(parse(apis[i], body, strlen(body), &bad), -1);
		/* A NUL after the object is a byte too. */
		snprintf(body, sizeof body, "%s", bodies[i]);
		assert_int_equal(parse(apis[i], body, strlen(body) + 1, &bad), -1);
	}
}

/* Through a gateway: the 400 names the field, and the provider gets nothing
 * (embeddings, with a parser of its own, checks the same). */
static void
test_through_the_gateway_nothing_reaches_the_provider(void **state)
{
	static const struct {
		const char *path, *body, *param;
	} cases[] = {
	    {"/v1/chat/completions",
	        "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":"
	        "\"secret\\u0000AAAA\"}]}",
	        "messages[0].content"},
	    {"/v1/messages",
	        "{\"model\":\"test-model\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
	        "\"content\":\"bad \xff\"}]}",
	        "messages[0].content"},
	    {"/v1/responses", "{\"model\":\"test-model\",\"input\":\"x\"} {}", ""},
	    {"/v1/embeddings", "{\"model\":\"test-model\",\"input\":[\"a\",\"b\\u0000c\"]}",
	        "input[1]"},
	};
	struct testkit kit;
	struct router_opts ro;
	struct gateway_opts go;
	struct router *r;
	struct gateway *gw;
	struct hreply rep;
	char *cause = NULL, url[256];
	const char *param, *msg;

	(void)state;
	setenv("XDG_RUNTIME_DIR", "/nonexistent", 1);
	testkit_init(&kit);
	testkit_add_provider(&kit, "gpt", SIM_OPENAI, 1, 1);
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	assert_non_null(r = router_new(&kit.cfg, &ro, &cause));
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	assert_non_null(gw = gateway_start(r, &go, &cause));
	for (size_t i = 0; i < nitems(cases); i++) {
		snprintf(url, sizeof url, "%s%s", gateway_url(gw), cases[i].path);
		hreq(&rep, "POST", url, cases[i].body, NULL);
		if (rep.status != 400)
			fail_msg("%s: %ld %s", cases[i].path, rep.status, rep.body.data);
		/* OpenAI's shape has the param; Anthropic's names it in the message. */
		param = jstr(rep.json, "error.param");
		msg = jstr(rep.json, "error.message");
		if (cases[i].param[0] != '\0' &&
		    (param == NULL || strcmp(param, cases[i].param) != 0) &&
		    (msg == NULL || strncmp(msg, cases[i].param, strlen(cases[i].param)) != 0))
			fail_msg("%s: %s", cases[i].path, rep.body.data);
		hreply_free(&rep);
	}
	assert_int_equal(testkit_sim_requests(&kit, 0), 0);
	gateway_stop(gw);
	router_free(r);
	testkit_free(&kit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nul_and_bad_utf8_openai),
	    cmocka_unit_test(test_nul_and_bad_utf8_anthropic),
	    cmocka_unit_test(test_nul_and_bad_utf8_responses),
	    cmocka_unit_test(test_nul_walker),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_through_the_gateway_nothing_reaches_the_provider),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
