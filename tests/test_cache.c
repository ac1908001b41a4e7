/* test_cache.c: canonical keys, eligibility, hits and misses, TTL, LRU, flush. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"

static struct cache_conf
conf(void)
{
	return (struct cache_conf){
	    .enabled = 1, .ttl_seconds = 3600, .max_temperature = 0.3, .max_entries = 10000};
}

static void
request(struct llm_request *r)
{
	llm_request_init(r);
	r->model = xstrdup("claude-sonnet");
	r->system = xstrdup("You are terse.");
	llm_request_add_message(r, LLM_ROLE_USER, "What is 2+2?");
	llm_request_add_message(r, LLM_ROLE_ASSISTANT, "4");
	llm_request_add_message(r, LLM_ROLE_USER, "And 3+3?");
	r->temperature = 0;
	r->has_temperature = 1;
	r->max_tokens = 100;
	r->stop = xcalloc(1, sizeof *r->stop);
	r->stop[0] = xstrdup("END");
	r->n_stop = 1;
	llm_request_add_tool(r, "calc", "adds",
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},"
	    "\"b\":{\"type\":\"number\"}}}");
}

static void
key_of(const struct llm_request *r, char out[65])
{
	cache_key(r, NULL, out);
	assert_int_equal(strlen(out), 64);
}

static void
test_key_canonical(void **state)
{
	struct llm_request a, b;
	char ka[65], kb[65];

	(void)state;
	request(&a);
	request(&b);
	key_of(&a, ka);
	key_of(&b, kb);
	assert_string_equal(ka, kb);
	/* the same tools with keys in another order, other whitespace */
	free(b.tools[0].parameters);
	b.tools[0].parameters =
	    xstrdup(" { \"properties\": {\"b\":{\"type\":"
	            "\"number\"}, \"a\":{\"type\":\"number\"}}, \"type\":\"object\"}");
	key_of(&b, kb);
	assert_string_equal(ka, kb);
	/* what does not change the answer does not change the key */
	b.stream = 1;
	b.timeout_ms = 5;
	b.no_cache = 1;
	key_of(&b, kb);
	assert_string_equal(ka, kb);
	/* who asks and prompt-cache breakpoints do not change the answer either */
	b.user = xstrdup("user-42");
	b.metadata = xstrdup("{\"k\":\"v\"}");
	b.system_cache = LLM_CACHE_1H;
	b.messages[0].parts[0].cache = LLM_CACHE_5M;
	b.tools[0].cache = LLM_CACHE_5M;
	key_of(&b, kb);
	assert_string_equal(ka, kb);
	/* unset and "text" are the same response format */
	b.response_format.type = LLM_FORMAT_TEXT;
	key_of(&b, kb);
	assert_string_equal(ka, kb);
	/* model_alias overrides req->model */
	cache_key(&a, "claude-sonnet", kb);
	assert_string_equal(ka, kb);
	llm_request_free(&a);
	llm_request_free(&b);
}

static void
test_key_each_parameter_misses(void **state)
{
	struct llm_request a, b;
	char ka[65], kb[65];
	int i;

	(void)state;
	request(&a);
	key_of(&a, ka);
	for (i = 0; i < 27; i++) {
		struct llm_part *p;
		request(&b);
		switch (i) {
		case 0: b.messages[2].parts[0].text[0] = 'a'; break;
		case 1:
			free(b.system);
			b.system = NULL;
			break;
		case 2:
			free(b.model);
			b.model = xstrdup("claude-haiku");
			break;
		case 3: b.temperature = 0.1; break;
		case 4:
			b.has_top_p = 1;
			b.top_p = 0.9;
			break;
		case 5: b.max_tokens = 101; break;
		case 6:
			free(b.stop[0]);
			b.stop[0] = xstrdup("STOP");
			break;
		case 7:
			free(b.tools[0].parameters);
			b.tools[0].parameters = NULL;
			break;
		case 8: b.messages[1].role = LLM_ROLE_USER; break;
		case 9: b.route = xstrdup("LSR"); break;
		case 10: b.provider = xstrdup("openai"); break;
		case 11:
			llm_request_free(&b);
			request(&b);
			free(b.tools[0].name);
			b.tools[0].name = xstrdup("sum");
			break;
		case 12: b.max_tokens = 0; break;
		case 13:
			p = llm_message_add_part(&b.messages[2], LLM_PART_IMAGE);
			p->url = xstrdup("https://example.com/cat.png");
			break;
		case 14:
			p = llm_message_add_part(&b.messages[2], LLM_PART_IMAGE);
			p->media_type = xstrdup("image/png");
			p->data = xstrdup("iVBORw0KGgo=");
			break;
		case 15: b.tool_choice = LLM_TOOL_CHOICE_ANY; break;
		case 16:
			b.tool_choice = LLM_TOOL_CHOICE_NAMED;
			b.tool_choice_name = xstrdup("calc");
			break;
		case 17: b.response_format.type = LLM_FORMAT_JSON_OBJECT; break;
		case 18:
			b.response_format.type = LLM_FORMAT_JSON_SCHEMA;
			b.response_format.name = xstrdup("answer");
			b.response_format.schema = xstrdup("{\"type\":\"object\"}");
			break;
		case 19:
			b.has_seed = 1;
			b.seed = 7;
			break;
		case 20: b.reasoning_effort = xstrdup("high"); break;
		case 21: b.thinking_budget = 2048; break;
		case 22:
			b.has_parallel_tool_calls = 1;
			b.parallel_tool_calls = 0;
			break;
		case 23:
			p = llm_message_add_part(&b.messages[1], LLM_PART_TOOL_CALL);
			p->id = xstrdup("call_1");
			p->name = xstrdup("calc");
			p->arguments = xstrdup("{\"a\":1,\"b\":2}");
			break;
		case 24:
			p = llm_message_add_part(&b.messages[2], LLM_PART_TOOL_RESULT);
			p->id = xstrdup("call_1");
			p->parts = xcalloc(1, sizeof *p->parts);
			p->n_parts = 1;
			p->parts[0].type = LLM_PART_TEXT;
			p->parts[0].text = xstrdup("3");
			break;
		case 25:
			b.passthrough = xstrdup("{\"top_k\":3}");
			b.passthrough_api = LLM_API_ANTHROPIC;
			break;
		case 26: b.top_k = 5; break;
		}
		key_of(&b, kb);
		if (strcmp(ka, kb) == 0)
			fail_msg("parameter %d does not change the key", i);
		llm_request_free(&b);
	}
	/* a message boundary moved is another conversation */
	request(&b);
	{
		/* the text moved into another part of the same message */
		struct llm_part *p = llm_message_add_part(&b.messages[2], LLM_PART_TEXT);
		p->text = xstrdup("3?");
		b.messages[2].parts[0].text[strlen(b.messages[2].parts[0].text) - 2] = '\0';
	}
	key_of(&b, kb);
	assert_string_not_equal(ka, kb);
	llm_request_free(&b);
	llm_request_free(&a);
}

static void
test_eligible(void **state)
{
	struct cache_conf c = conf();
	struct llm_request r;

	(void)state;
	request(&r);
	assert_true(cache_eligible(&c, &r));
	r.temperature = 0.3;
	assert_true(cache_eligible(&c, &r));
	r.temperature = 0.31;
	assert_false(cache_eligible(&c, &r));
	r.temperature = 0;
	r.has_temperature = 0; /* the provider's default, 1.0 */
	assert_false(cache_eligible(&c, &r));
	r.has_temperature = 1;
	r.no_cache = 1;
	assert_false(cache_eligible(&c, &r));
	r.no_cache = 0;
	c.enabled = 0;
	assert_false(cache_eligible(&c, &r));
	assert_false(cache_eligible(NULL, &r));
	llm_request_free(&r);
}

static void
answer(struct llm_response *resp, const char *text)
{
	llm_response_init(resp);
	resp->id = xstrdup("msg_1");
	resp->model = xstrdup("claude-sonnet-4-20250514");
	resp->content = xstrdup(text);
	resp->stop = LLM_STOP_END;
	resp->stop_raw = xstrdup("end_turn");
	resp->usage.input_tokens = 19;
	resp->usage.output_tokens = 10;
	resp->usage.cache_read_tokens = 3;
}

static void
test_put_get_stats(void **state)
{
	struct sttest_store *f = *state;
	struct cache_conf c = conf();
	struct llm_response in, out;
	struct cache_stats cs;
	struct llm_request r;
	char key[65], provider[LIMIT_NAME_SIZE], model[LIMIT_ALIAS_SIZE];

	request(&r);
	key_of(&r, key);
	assert_int_equal(cache_get(f->s, &c, key, &out, provider, model), 0);
	answer(&in, "6");
	assert_int_equal(cache_put(f->s, &c, key, "anthropic", "claude-sonnet", &in), 0);
	assert_int_equal(cache_get(f->s, &c, key, &out, provider, model), 1);
	assert_string_equal(out.content, "6");
	assert_string_equal(out.id, "msg_1");
	assert_string_equal(out.model, "claude-sonnet-4-20250514");
	assert_string_equal(out.stop_raw, "end_turn");
	assert_int_equal(out.stop, LLM_STOP_END);
	assert_int_equal(out.usage.input_tokens, 19);
	assert_int_equal(out.usage.output_tokens, 10);
	assert_int_equal(out.usage.cache_read_tokens, 3);
	assert_string_equal(provider, "anthropic");
	assert_string_equal(model, "claude-sonnet");
	llm_response_free(&out);
	assert_int_equal(cache_get(f->s, &c, key, &out, NULL, NULL), 1);
	llm_response_free(&out);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.hits, 2);
	assert_int_equal(cs.misses, 1);
	/* disabled: misses without counting, stores nothing */
	c.enabled = 0;
	assert_int_equal(cache_get(f->s, &c, key, &out, NULL, NULL), 0);
	assert_int_equal(cache_put(f->s, &c, "x", "p", "m", &in), 0);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.misses, 1);
	llm_response_free(&in);
	llm_request_free(&r);
}

/* A cached tool-call answer comes back with its parts (tool calls, thinking) and its
 * usage, cache writes and reasoning tokens included. */
static void
test_put_get_parts(void **state)
{
	struct sttest_store *f = *state;
	struct cache_conf c = conf();
	struct llm_response in, out;
	struct llm_part *p;

	answer(&in, "Checking.");
	p = llm_response_add_part(&in, LLM_PART_THINKING);
	p->text = xstrdup("think");
	p->signature = xstrdup("sig");
	llm_response_add_part(&in, LLM_PART_TEXT)->text = xstrdup("Checking.");
	p = llm_response_add_part(&in, LLM_PART_TOOL_CALL);
	p->id = xstrdup("toolu_1");
	p->name = xstrdup("get_weather");
	p->arguments = xstrdup("{\"location\":\"Paris\"}");
	p->index = 0;
	in.stop = LLM_STOP_TOOL_USE;
	in.usage.cache_write_tokens = 100;
	in.usage.cache_write_1h_tokens = 60;
	in.usage.reasoning_tokens = 7;
	assert_int_equal(cache_put(f->s, &c, "kp", "anthropic", "claude-sonnet", &in), 0);
	assert_int_equal(cache_get(f->s, &c, "kp", &out, NULL, NULL), 1);
	assert_string_equal(out.content, "Checking.");
	assert_int_equal(out.stop, LLM_STOP_TOOL_USE);
	assert_int_equal(out.n_parts, 3);
	assert_int_equal(out.parts[0].type, LLM_PART_THINKING);
	assert_string_equal(out.parts[0].signature, "sig");
	assert_int_equal(out.parts[2].type, LLM_PART_TOOL_CALL);
	assert_string_equal(out.parts[2].id, "toolu_1");
	assert_string_equal(out.parts[2].arguments, "{\"location\":\"Paris\"}");
	assert_int_equal(out.usage.cache_write_tokens, 100);
	assert_int_equal(out.usage.cache_write_1h_tokens, 60);
	assert_int_equal(out.usage.reasoning_tokens, 7);
	llm_response_free(&out);
	llm_response_free(&in);
}

static void
test_ttl(void **state)
{
	struct sttest_store *f = *state;
	struct cache_conf c = conf();
	struct llm_response in, out;
	struct cache_stats cs;

	c.ttl_seconds = 60;
	answer(&in, "x");
	assert_int_equal(cache_put(f->s, &c, "k1", "p", "m", &in), 0);
	f->now += 59999;
	assert_int_equal(cache_get(f->s, &c, "k1", &out, NULL, NULL), 1);
	llm_response_free(&out);
	f->now += 1;
	assert_int_equal(cache_get(f->s, &c, "k1", &out, NULL, NULL), 0);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 0); /* the expired entry is gone */
	/* expired entries are swept by put too */
	assert_int_equal(cache_put(f->s, &c, "k2", "p", "m", &in), 0);
	f->now += 61000;
	assert_int_equal(cache_put(f->s, &c, "k3", "p", "m", &in), 0);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 1);
	llm_response_free(&in);
}

static void
test_lru_eviction(void **state)
{
	struct sttest_store *f = *state;
	struct cache_conf c = conf();
	struct llm_response in, out;
	struct cache_stats cs;
	char key[16];

	c.max_entries = 3;
	answer(&in, "x");
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(cache_put(f->s, &c, key, "p", "m", &in), 0);
	}
	/* k0 used: k1 is now the least recently used */
	assert_int_equal(cache_get(f->s, &c, "k0", &out, NULL, NULL), 1);
	llm_response_free(&out);
	assert_int_equal(cache_put(f->s, &c, "k3", "p", "m", &in), 0);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 3);
	assert_int_equal(cache_get(f->s, &c, "k1", &out, NULL, NULL), 0);
	assert_int_equal(cache_get(f->s, &c, "k0", &out, NULL, NULL), 1);
	llm_response_free(&out);
	assert_int_equal(cache_get(f->s, &c, "k2", &out, NULL, NULL), 1);
	llm_response_free(&out);
	assert_int_equal(cache_get(f->s, &c, "k3", &out, NULL, NULL), 1);
	llm_response_free(&out);
	llm_response_free(&in);
}

static void
test_flush(void **state)
{
	struct sttest_store *f = *state;
	struct cache_conf c = conf();
	struct llm_response in, out;
	struct cache_stats cs;

	answer(&in, "x");
	assert_int_equal(cache_put(f->s, &c, "a", "p", "m", &in), 0);
	assert_int_equal(cache_put(f->s, &c, "b", "p", "m", &in), 0);
	assert_int_equal(cache_put(f->s, &c, "b", "p", "m", &in), 0); /* replaced */
	assert_int_equal(cache_flush(f->s), 2);
	assert_int_equal(cache_get(f->s, &c, "a", &out, NULL, NULL), 0);
	assert_int_equal(cache_get_stats(f->s, &cs), 0);
	assert_int_equal(cs.entries, 0);
	assert_int_equal(cache_flush(f->s), 0);
	llm_response_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_canonical),
	    cmocka_unit_test(test_key_each_parameter_misses),
	    cmocka_unit_test(test_eligible),
	    cmocka_unit_test_setup_teardown(test_put_get_stats, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_put_get_parts, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_ttl, sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lru_eviction, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_flush, sttest_setup_store, sttest_teardown_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
