/* test_pricing.c: cost from usage, cached-token prices, unpriced models, upper bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider/llm.h"
#include "store/pricing.h"

static struct model_conf
model(double in, double out, double cached)
{
	struct model_conf m;

	memset(&m, 0, sizeof m);
	m.alias = (char *)"m";
	m.id = (char *)"m-1";
	m.input_per_mtok = in;
	m.output_per_mtok = out;
	m.cache_read_per_mtok = cached;
	m.cache_write_per_mtok = -1;
	m.cache_write_1h_per_mtok = -1;
	return m;
}

static void
test_cost_plain(void **state)
{
	struct model_conf m = model(3, 15, -1);
	struct llm_usage u = {.input_tokens = 1000000, .output_tokens = 100000};
	int unpriced = -1;

	(void)state;
	assert_true(fabs(pricing_cost(&m, &u, &unpriced) - 4.5) < 1e-9);
	assert_int_equal(unpriced, 0);
	u = (struct llm_usage){.input_tokens = 19, .output_tokens = 10};
	assert_true(fabs(pricing_cost(&m, &u, NULL) - (19 * 3 + 10 * 15) / 1e6) < 1e-15);
}

static void
test_cost_cached_tokens(void **state)
{
	struct model_conf m = model(2.5, 10, 1.25);
	struct model_conf same = model(2.5, 10, -1);
	struct llm_usage u = {.input_tokens = 2000, .output_tokens = 0, .cache_read_tokens = 1000};

	(void)state;
	/* 1000 fresh at 2.5 plus 1000 cached at 1.25 */
	assert_true(fabs(pricing_cost(&m, &u, NULL) - (1000 * 2.5 + 1000 * 1.25) / 1e6) < 1e-15);
	/* cache price < 0: the input price */
	assert_true(fabs(pricing_cost(&same, &u, NULL) - 2000 * 2.5 / 1e6) < 1e-15);
	/* more cached than input (bad report): never negative */
	u.cache_read_tokens = 5000;
	assert_true(pricing_cost(&m, &u, NULL) >= 0);
}

static void
test_unpriced(void **state)
{
	struct model_conf m = model(-1, 15, -1);
	struct model_conf m2 = model(3, -1, -1);
	struct llm_usage u = {.input_tokens = 100, .output_tokens = 100};
	struct llm_request r;
	int unpriced = 0;

	(void)state;
	assert_true(pricing_cost(&m, &u, &unpriced) == 0);
	assert_int_equal(unpriced, 1);
	unpriced = 0;
	assert_true(pricing_cost(&m2, &u, &unpriced) == 0);
	assert_int_equal(unpriced, 1);
	unpriced = 0;
	assert_true(pricing_cost(NULL, &u, &unpriced) == 0);
	assert_int_equal(unpriced, 1);
	llm_request_init(&r);
	llm_request_add_message(&r, LLM_ROLE_USER, "hello");
	assert_true(pricing_upper_bound(&m, &r) == 0);
	assert_true(pricing_upper_bound(NULL, &r) == 0);
	llm_request_free(&r);
}

static void
test_upper_bound(void **state)
{
	struct model_conf m = model(3, 15, -1);
	struct llm_usage u;
	struct llm_request r;
	int64_t est;
	char big[4001];

	(void)state;
	llm_request_init(&r);
	memset(big, 'a', 4000);
	big[4000] = '\0';
	llm_request_add_message(&r, LLM_ROLE_USER, big);
	r.system = strdup("12345678");
	est = pricing_input_estimate(&r);
	assert_int_equal(est, 1000 + 2 + 8 + 16);
	/* max_tokens unset and no max_output_tokens: the fallback */
	assert_true(fabs(pricing_upper_bound(&m, &r) -
	                (est * 3.0 + LLM_MAX_OUTPUT_FALLBACK * 15.0) / 1e6) < 1e-15);
	/* the model's max_output_tokens when the request sets none */
	m.max_output_tokens = 64000;
	assert_true(fabs(pricing_upper_bound(&m, &r) - (est * 3.0 + 64000 * 15.0) / 1e6) < 1e-15);
	m.max_output_tokens = 0;
	r.max_tokens = 10;
	assert_true(fabs(pricing_upper_bound(&m, &r) - (est * 3.0 + 10 * 15.0) / 1e6) < 1e-15);
	/* the bound covers any real answer within max_tokens and the estimate */
	u = (struct llm_usage){.input_tokens = est, .output_tokens = 10};
	assert_true(pricing_cost(&m, &u, NULL) <= pricing_upper_bound(&m, &r) + 1e-15);
	/* more text, more tokens */
	llm_request_add_message(&r, LLM_ROLE_ASSISTANT, "more");
	assert_true(pricing_input_estimate(&r) > est);
	llm_request_free(&r);
}

/* Anthropic's cache writes: 5-minute ones at cache_write_per_mtok (1.25x input by default),
 * 1-hour ones at cache_write_1h_per_mtok (2x); reasoning is output (already in it). */
static void
test_cost_cache_writes(void **state)
{
	struct model_conf m = model(3, 15, 0.3);
	struct llm_usage u;
	int unpriced = 1;

	(void)state;
	m.cache_write_per_mtok = 3.75;
	m.cache_write_1h_per_mtok = 6;
	memset(&u, 0, sizeof u);
	u.input_tokens = 1000; /* 300 fresh + 200 read + 500 written */
	u.cache_read_tokens = 200;
	u.cache_write_tokens = 500;
	u.cache_write_1h_tokens = 400;
	u.output_tokens = 300;
	u.reasoning_tokens = 100; /* of the 300: priced once, as output */
	assert_true(fabs(pricing_cost(&m, &u, &unpriced) -
	                (300 * 3.0 + 200 * 0.3 + 100 * 3.75 + 400 * 6.0 + 300 * 15.0) / 1e6) <
	    1e-15);
	assert_int_equal(unpriced, 0);
	/* No 1-hour rate: the 5-minute one; no write rate: the input price. */
	m.cache_write_1h_per_mtok = -1;
	assert_true(fabs(pricing_cost(&m, &u, NULL) -
	                (300 * 3.0 + 200 * 0.3 + 500 * 3.75 + 300 * 15.0) / 1e6) < 1e-15);
	m.cache_write_per_mtok = -1;
	assert_true(fabs(pricing_cost(&m, &u, NULL) -
	                (300 * 3.0 + 200 * 0.3 + 500 * 3.0 + 300 * 15.0) / 1e6) < 1e-15);
	/* Counts beyond the input never price negative. */
	u.cache_write_tokens = 5000;
	u.cache_write_1h_tokens = 9000;
	assert_true(pricing_cost(&m, &u, NULL) >= 0);
	/* A request with cache breakpoints reserves at the dearest input rate. */
	{
		struct llm_request r;
		double plain, marked;
		m.cache_write_1h_per_mtok = 6;
		llm_request_init(&r);
		llm_request_add_message(&r, LLM_ROLE_USER, "hello");
		plain = pricing_upper_bound(&m, &r);
		r.system = strdup("sys");
		r.system_cache = LLM_CACHE_1H;
		marked = pricing_upper_bound(&m, &r);
		assert_true(marked > plain);
		assert_true(fabs(marked -
		                ((double)pricing_input_estimate(&r) * 6.0 +
		                    LLM_MAX_OUTPUT_FALLBACK * 15.0) /
		                    1e6) < 1e-15);
		llm_request_free(&r);
	}
}

/* Images count as a fixed number of tokens each, not as their base64 bytes. */
static void
test_estimate_parts(void **state)
{
	struct llm_request r;
	struct llm_part *p;
	int64_t before;

	(void)state;
	llm_request_init(&r);
	llm_request_add_message(&r, LLM_ROLE_USER, "What is this?");
	before = pricing_input_estimate(&r);
	p = llm_message_add_part(&r.messages[0], LLM_PART_IMAGE);
	p->media_type = strdup("image/png");
	p->data = malloc(100001);
	memset(p->data, 'A', 100000);
	p->data[100000] = '\0';
	assert_int_equal(pricing_input_estimate(&r), before + PRICING_PER_IMAGE);
	llm_request_add_tool(&r, "calc", "adds two numbers", "{\"type\":\"object\"}");
	assert_true(pricing_input_estimate(&r) > before + PRICING_PER_IMAGE);
	llm_request_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cost_plain),
	    cmocka_unit_test(test_cost_cached_tokens),
	    cmocka_unit_test(test_unpriced),
	    cmocka_unit_test(test_upper_bound),
	    cmocka_unit_test(test_cost_cache_writes),
	    cmocka_unit_test(test_estimate_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
