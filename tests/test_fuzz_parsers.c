/*
 * test_fuzz_parsers.c: mutation fuzzing, bounded and seeded, of every parser
 * that reads outside input besides the adapters (test_adapter_fuzz): the
 * config file, theme files, the gateway's OpenAI and Anthropic request bodies
 * and the simulator's control JSON. Each must never crash (ASan and UBSan
 * watch under `make asan`), and every refusal must come with a one-line,
 * non-empty message: the property the users see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "gateway/gateway_priv.h"
#include "provider/llm.h"
#include "sim/sim.h"
#include "util/util.h"
#include "../tui/console/theme.c"

#define ROUNDS 2500

static const char *const config_seeds[] = {
    "{\"providers\":[{\"name\":\"a\",\"kind\":\"anthropic\",\"base_url\":\"http://127.0.0.1:1\","
    "\"api_key_env\":\"K\",\"models\":[\"claude-sonnet\"],\"priority\":1,\"weight\":0.7,"
    "\"timeout_seconds\":60,\"max_retries\":3,\"rate_limit_rpm\":100,\"rate_limit_tpm\":0}],"
    "\"models\":{\"claude-sonnet\":{\"id\":\"claude-sonnet-4-20250514\",\"input_per_mtok\":3.0,"
    "\"output_per_mtok\":15.0,\"context_tokens\":200000}},"
    "\"routes\":{\"LSR\":{\"primary\":\"a\",\"fallback\":[]}},"
    "\"budget\":{\"daily_usd\":100.0,\"alert_threshold\":0.8,\"hard_stop\":true},"
    "\"cache\":{\"enabled\":true,\"ttl_seconds\":3600,\"max_temperature\":0.3}}",
    "{\"providers\":[{\"name\":\"m\",\"kind\":\"openai\",\"flavor\":\"mistral\","
    "\"base_url\":\"http://127.0.0.1:2\",\"models\":[\"mistral-large\"]}],"
    "\"breaker\":{\"failure_threshold\":5,\"cooldown_seconds\":30,\"half_open_max\":1}}",
};

static const char *const theme_seeds[] = {
    "# a theme\nnormal = #d0d0d0 #101010\nprovider_up = #50fa7b bold\n"
    "breaker_open = #ff5555 #000000 bold,underline\nbudget_warn = 214\n",
    "normal = default default\nheader = 15 4 bold\n",
};

static const char *const openai_seeds[] = {
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0.2,\"max_tokens\":50,"
    "\"stop\":[\"x\"],\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
    "{\"model\":\"LSR\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"parts\"}]}],\"max_completion_tokens\":5,\"top_p\":0.5}",
};

static const char *const anthropic_seeds[] = {
    "{\"model\":\"claude-sonnet\",\"max_tokens\":100,\"system\":\"be brief\",\"messages\":"
    "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"again\"}]}],"
    "\"temperature\":0,\"stop_sequences\":[\"END\"],\"stream\":true}",
};

static const char *const control_seeds[] = {
    "{\"error_rate\":0.3,\"error_status\":529}",
    "{\"fault\":\"down\",\"latency_ms\":5,\"retry_after\":2}",
    "{\"fault\":\"none\",\"error_rate\":0,\"quota\":true}",
};

/* One mutation of seed: flips, inserts of JSON-ish bytes, deletions, cuts. */
static char *
mutate(struct rng *r, const char *seed, size_t *lenp)
{
	static const char tokens[] = "{}[]\":,0123456789.-+eE\\ntfl \x80\xff";
	size_t len = strlen(seed), cap = len * 2 + 64;
	char *s = xmalloc(cap + 1);
	int n = 1 + (int)(rng_next(r) % 8);

	memcpy(s, seed, len);
	for (int i = 0; i < n && len > 0; i++) {
		size_t at = rng_next(r) % len;
		switch (rng_next(r) % 5) {
		case 0: s[at] = (char)(rng_next(r) & 0xff); break;
		case 1: s[at] = tokens[rng_next(r) % (sizeof tokens - 1)]; break;
		case 2:
			if (len < cap) {
				memmove(s + at + 1, s + at, len - at);
				s[at] = tokens[rng_next(r) % (sizeof tokens - 1)];
				len++;
			}
			break;
		case 3:
			memmove(s + at, s + at + 1, len - at - 1);
			len--;
			break;
		default: len = at; break;
		}
	}
	s[len] = '\0';
	*lenp = len;
	return s;
}

static void
assert_one_line(const char *msg)
{
	assert_non_null(msg);
	assert_true(msg[0] != '\0');
	assert_null(strchr(msg, '\n'));
}

static void
test_config_files(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 1);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len;
		char *text = mutate(&r, config_seeds[i % nitems(config_seeds)], &len);
		struct config cfg;
		char *cause = NULL;

		config_init(&cfg);
		if (config_load_string(&cfg, text, "fuzz.json", &cause) != 0) {
			assert_one_line(cause);
			assert_non_null(strstr(cause, "fuzz.json"));
		}
		free(cause);
		config_free(&cfg);
		free(text);
	}
}

static void
test_theme_files(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 2);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len;
		char *text = mutate(&r, theme_seeds[i % nitems(theme_seeds)], &len);
		struct theme t;
		char *cause = NULL;

		theme_default(&t);
		if (theme_parse(&t, text, "fuzz.theme", &cause) != 0) {
			assert_one_line(cause);
			assert_non_null(strstr(cause, "fuzz.theme"));
		}
		free(cause);
		free(text);
	}
}

static void
fuzz_gateway(uint64_t seed, const char *const *seeds, size_t nseeds,
    int (*parse)(const char *, size_t, struct llm_request *, struct gw_ask *, struct gw_bad *))
{
	struct rng r;

	rng_seed(&r, seed);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len;
		char *text = mutate(&r, seeds[i % nseeds], &len);
		struct llm_request req;
		struct gw_ask ask;
		struct gw_bad bad;

		llm_request_init(&req);
		memset(&ask, 0, sizeof ask);
		memset(&bad, 0, sizeof bad);
		if (parse(text, len, &req, &ask, &bad) != 0)
			assert_one_line(bad.message);
		llm_request_free(&req);
		free(text);
	}
}

static void
test_gateway_openai_bodies(void **state)
{
	(void)state;
	fuzz_gateway(3, openai_seeds, nitems(openai_seeds), gw_parse_openai);
}

static void
test_gateway_anthropic_bodies(void **state)
{
	(void)state;
	fuzz_gateway(4, anthropic_seeds, nitems(anthropic_seeds), gw_parse_anthropic);
}

static void
test_sim_control_json(void **state)
{
	struct sim_opts so;
	struct sim *sim;
	struct rng r;
	char *cause = NULL;

	(void)state;
	sim_opts_init(&so);
	sim = sim_start(&so, &cause);
	assert_non_null(sim);
	rng_seed(&r, 5);
	for (int i = 0; i < ROUNDS; i++) {
		size_t len;
		char *text = mutate(&r, control_seeds[i % nitems(control_seeds)], &len);

		cause = NULL;
		if (sim_control(sim, text, &cause) != 0)
			assert_one_line(cause);
		free(cause);
		free(text);
	}
	/* Still answering its control endpoint's settings after all that. */
	{
		char *settings = sim_settings_json(sim);
		assert_non_null(settings);
		free(settings);
	}
	sim_stop(sim);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_files),
	    cmocka_unit_test(test_theme_files),
	    cmocka_unit_test(test_gateway_openai_bodies),
	    cmocka_unit_test(test_gateway_anthropic_bodies),
	    cmocka_unit_test(test_sim_control_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
