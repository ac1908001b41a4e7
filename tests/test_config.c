/* test_config.c: the config file, the seed's environment variables, defaults, validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_limits.h"
#include "util/util.h"

/* Fake keys: every one contains SECRET, which must never show up in a message. */
#define FAKE_ANTHROPIC "sk-ant-api03-SECRETSECRETSECRETSECRET-abcd"
#define FAKE_OPENAI "sk-proj-SECRETSECRETSECRETSECRET5678"
#define FAKE_AZURE "SECRET0123456789abcdef0123456789"

#define KEYS_IN_ENV \
	"API keys belong in the environment, not in the config file: put the " \
	"key in an environment variable and name that variable in \"api_key_env\""

#define P0 \
	"{\"name\":\"anthropic\",\"kind\":\"anthropic\"," \
	"\"base_url\":\"https://api.anthropic.com\",\"models\":[\"claude-sonnet\"]"
/* The same without models, for cases that give their own. */
#define P0M \
	"{\"name\":\"anthropic\",\"kind\":\"anthropic\"," \
	"\"base_url\":\"https://api.anthropic.com\""
#define P1M "{\"name\":\"openai\",\"kind\":\"openai\",\"base_url\":\"https://api.openai.com\""
#define P1 \
	"{\"name\":\"openai\",\"kind\":\"openai\"," \
	"\"base_url\":\"https://api.openai.com\",\"models\":[\"gpt-4o\"]"

static char tmpdir[PATH_MAX];
static char cfgpath[PATH_MAX + 32];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "%s/llmdeck-config-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cfgpath, sizeof cfgpath, "%s/config.json", tmpdir);
	return 0;
}

static int
teardown_dir(void **state)
{
	char *cmd;
	int rc;

	(void)state;
	cmd = xasprintf("rm -rf '%s'", tmpdir);
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void
assert_no_secret(const char *s)
{
	if (s != NULL && strstr(s, "SECRET") != NULL)
		fail_msg("a key leaked: %s", s);
}

/* Load text as DIR/config.json; it must fail with exactly "DIR/config.json: expect". */
static void
expect_file_error(const char *text, const char *expect)
{
	struct config cfg;
	char *cause = NULL, *want;

	write_file(cfgpath, text);
	config_init(&cfg);
	if (config_load_file(&cfg, cfgpath, &cause) == 0)
		fail_msg("loaded, expected: %s", expect);
	want = xasprintf("%s: %s", cfgpath, expect);
	assert_non_null(cause);
	assert_null(strchr(cause, '\n'));
	assert_no_secret(cause);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	config_free(&cfg);
}

static void
test_defaults(void **state)
{
	struct config cfg;
	const struct model_conf *m;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.n_providers, 0);
	assert_int_equal(cfg.n_routes, 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.breaker.failure_threshold, 5);
	assert_int_equal(cfg.breaker.cooldown_ms, 30000);
	assert_int_equal(cfg.breaker.half_open_max, 1);
	assert_int_equal(cfg.breaker.probe_interval_ms, 10000);
	assert_int_equal(cfg.hedge_after_ms, 0);
	assert_int_equal(cfg.balance, BALANCE_WEIGHTED);
	assert_true(cfg.learn.enabled);
	assert_true(cfg.learn.multiple == 3);
	assert_int_equal(cfg.learn.floor_ms, 1000);
	assert_int_equal(cfg.learn.min_samples, 20);
	assert_int_equal(cfg.learn.hedge_min_ms, 50);
	assert_true(cfg.cache.enabled);
	assert_int_equal(cfg.cache.ttl_seconds, 3600);
	assert_int_equal(cfg.responses.ttl_seconds, 30 * 86400);
	assert_true(cfg.cache.max_temperature == 0.3);
	assert_int_equal(cfg.cache.max_entries, 10000);
	assert_true(cfg.budget.daily_usd == 0.0);
	assert_true(cfg.budget.alert_threshold == 0.8);
	assert_true(cfg.budget.hard_stop);
	assert_string_equal(cfg.budget.timezone, "UTC");
	assert_true(cfg.budget.pressure == 0.2);
	assert_string_equal(cfg.budget.tier_high_complex, "claude-opus");
	assert_string_equal(cfg.budget.tier_high, "claude-sonnet");
	assert_string_equal(cfg.budget.tier_standard, "claude-sonnet");
	assert_string_equal(cfg.budget.tier_low, "claude-haiku");
	assert_int_equal(cfg.budget.n_ladder, 5);
	assert_string_equal(cfg.budget.ladder[0].from, "claude-opus");
	assert_string_equal(cfg.budget.ladder[0].to, "claude-sonnet");
	assert_string_equal(cfg.budget.ladder[1].to, "claude-haiku");
	assert_string_equal(cfg.budget.ladder[2].from, "gpt-4-turbo");
	assert_string_equal(cfg.budget.ladder[3].to, "gpt-4o-mini");
	assert_string_equal(cfg.budget.ladder[4].from, "mistral-large");
	assert_string_equal(cfg.budget.ladder[4].to, "mistral-small");

	m = config_model(&cfg, "claude-opus");
	assert_non_null(m);
	assert_string_equal(m->id, "claude-opus-4-20250514");
	assert_true(m->input_per_mtok == 15.0 && m->output_per_mtok == 75.0);
	/* Anthropic's prompt-cache rates: read 0.1x, 5-minute write 1.25x, 1-hour write 2x. */
	assert_true(m->cache_read_per_mtok == 1.5);
	assert_true(m->cache_write_per_mtok == 18.75);
	assert_true(m->cache_write_1h_per_mtok == 30.0);
	assert_int_equal(m->context_tokens, 200000);
	assert_int_equal(m->max_output_tokens, 32000);
	assert_non_null(strstr(m->source, "anthropic.com/pricing"));
	assert_non_null(strstr(m->source, "1h write 2x"));
	m = config_model(&cfg, "claude-sonnet");
	assert_true(m->input_per_mtok == 3.0 && m->output_per_mtok == 15.0);
	assert_int_equal(m->max_output_tokens, 64000);
	m = config_model(&cfg, "claude-haiku");
	assert_string_equal(m->id, "claude-haiku-4-5");
	assert_true(m->input_per_mtok == 1.0 && m->output_per_mtok == 5.0);
	m = config_model(&cfg, "claude-haiku-3.5");
	assert_true(m->input_per_mtok == 0.80 && m->output_per_mtok == 4.0);
	m = config_model(&cfg, "gpt-4o");
	assert_true(m->input_per_mtok == 2.50 && m->output_per_mtok == 10.0);
	/* OpenAI: cached input at its own price, writes at the input price. */
	assert_true(m->cache_read_per_mtok == 1.25 && m->cache_write_per_mtok < 0);
	assert_int_equal(m->context_tokens, 128000);
	assert_non_null(strstr(m->source, "unverified"));
	m = config_model(&cfg, "gpt-4o-mini");
	assert_true(m->input_per_mtok == 0.15 && m->output_per_mtok == 0.60);
	m = config_model(&cfg, "gpt-4-turbo");
	assert_true(m->input_per_mtok == 10.0 && m->output_per_mtok == 30.0);
	m = config_model(&cfg, "mistral-large");
	assert_string_equal(m->id, "mistral-large-latest");
	assert_true(m->input_per_mtok == 2.0 && m->output_per_mtok == 6.0);
	assert_non_null(strstr(m->source, "unverified"));
	m = config_model(&cfg, "mistral-small");
	assert_true(m->input_per_mtok == 0.2 && m->output_per_mtok == 0.6);
	m = config_model(&cfg, "llama");
	assert_string_equal(m->id, "llama3.1");
	assert_true(m->input_per_mtok < 0 && m->output_per_mtok < 0);
	for (size_t i = 0; i < cfg.n_models; i++)
		assert_non_null(cfg.models[i].source);
	assert_null(config_model(&cfg, "nope"));

	assert_string_equal(provider_kind_name(PROVIDER_ANTHROPIC), "anthropic");
	assert_string_equal(provider_kind_name(PROVIDER_OPENAI), "openai");
	assert_string_equal(provider_kind_name(PROVIDER_AZURE), "azure");
	assert_string_equal(provider_flavor_name(FLAVOR_OPENAI), "openai");
	assert_string_equal(provider_flavor_name(FLAVOR_MISTRAL), "mistral");
	assert_string_equal(provider_flavor_name(FLAVOR_VLLM), "vllm");
	assert_string_equal(provider_flavor_name(FLAVOR_LLAMACPP), "llamacpp");
	assert_string_equal(provider_flavor_name(FLAVOR_OLLAMA), "ollama");
	config_free(&cfg);
}

static void
check_example(const struct config *cfg)
{
	const struct provider_conf *p;
	const struct model_conf *m;
	const struct route_conf *r;

	assert_int_equal(cfg->n_providers, 5);
	p = config_provider(cfg, "anthropic");
	assert_non_null(p);
	assert_int_equal(p->kind, PROVIDER_ANTHROPIC);
	assert_string_equal(p->base_url, "https://api.anthropic.com");
	assert_string_equal(p->api_key_env, "ANTHROPIC_API_KEY");
	assert_null(p->api_key);
	assert_int_equal(p->n_models, 2);
	assert_string_equal(p->models[0], "claude-sonnet");
	assert_string_equal(p->models[1], "claude-haiku");
	assert_int_equal(p->priority, 1);
	assert_true(p->weight == 0.7);
	assert_true(p->timeout_seconds == 60.0);
	assert_int_equal(p->max_retries, 3);
	assert_int_equal(p->rate_limit_rpm, 100);
	assert_int_equal(p->rate_limit_tpm, 0);
	assert_null(p->api_version);
	assert_true(p->tls_verify);
	assert_true(p->enabled);

	p = config_provider(cfg, "openai");
	assert_int_equal(p->kind, PROVIDER_OPENAI);
	assert_int_equal(p->flavor, FLAVOR_OPENAI);
	assert_string_equal(p->api_key_env, "OPENAI_API_KEY"); /* defaulted */
	assert_true(p->timeout_seconds == 45.5);
	assert_int_equal(p->rate_limit_tpm, 30000);

	p = config_provider(cfg, "azure-east");
	assert_int_equal(p->kind, PROVIDER_AZURE);
	assert_string_equal(p->api_version, "2024-06-01");
	assert_int_equal(p->priority, 2);
	assert_int_equal(p->max_retries, 2);
	assert_true(p->weight == 1.0);

	p = config_provider(cfg, "mistral");
	assert_int_equal(p->flavor, FLAVOR_MISTRAL);
	assert_string_equal(p->api_key_env, "MISTRAL_API_KEY");

	p = config_provider(cfg, "local");
	assert_int_equal(p->flavor, FLAVOR_OLLAMA);
	assert_null(p->api_key_env);
	assert_false(p->tls_verify);
	assert_false(p->enabled);
	assert_string_equal(p->base_url, "http://127.0.0.1:11434");

	m = config_model(cfg, "claude-sonnet");
	assert_true(m->input_per_mtok == 3.0);
	assert_int_equal(m->context_tokens, 200000);
	m = config_model(cfg, "llama");
	assert_true(m->input_per_mtok == 0.0 && m->output_per_mtok == 0.0);
	assert_string_equal(m->id, "llama3.1"); /* kept from the default */
	assert_string_equal(m->source, "self-hosted: free");
	m = config_model(cfg, "qwen2.5:7b");
	assert_non_null(m);
	assert_string_equal(m->id, "qwen2.5:7b-instruct");
	assert_true(m->input_per_mtok < 0);
	assert_true(m->cache_read_per_mtok == 0.01);
	assert_int_equal(m->context_tokens, 32768);
	assert_non_null(config_model(cfg, "gpt-4-turbo")); /* defaults stay */

	r = config_route(cfg, "VE");
	assert_non_null(r);
	assert_string_equal(r->primary, "openai");
	assert_int_equal(r->n_fallback, 2);
	assert_string_equal(r->fallback[1], "azure-east");
	assert_string_equal(r->model, "gpt-4o");
	r = config_route(cfg, "LSR");
	assert_null(r->model);

	assert_true(cfg->budget.daily_usd == 100.0);
	assert_string_equal(cfg->budget.timezone, "Europe/Paris");
	assert_true(cfg->budget.pressure == 0.25);
	assert_int_equal(cfg->budget.n_ladder, 2); /* the file's ladder replaces the default */
	assert_string_equal(cfg->budget.ladder[1].from, "gpt-4o");
	assert_string_equal(cfg->budget.tier_high_complex, "claude-sonnet");
	assert_string_equal(cfg->budget.tier_high, "claude-sonnet");
	assert_string_equal(cfg->budget.tier_low, "gpt-4o-mini");
	assert_false(cfg->cache.max_temperature != 0.2);
	assert_int_equal(cfg->cache.ttl_seconds, 1800);
	assert_int_equal(cfg->cache.max_entries, 5000);
	assert_int_equal(cfg->breaker.failure_threshold, 3);
	assert_int_equal(cfg->breaker.cooldown_ms, 12500);
	assert_int_equal(cfg->breaker.half_open_max, 2);
	assert_int_equal(cfg->breaker.probe_interval_ms, 0);
}

/* tests/data/config/example.json, next to this file. */
static char *
example_path(void)
{
	const char *slash = strrchr(__FILE__, '/');
	int dirlen = slash != NULL ? (int)(slash - __FILE__) : 1;

	return xasprintf("%.*s/data/config/example.json", dirlen, slash != NULL ? __FILE__ : ".");
}

static void
test_full_file(void **state)
{
	struct config cfg, copy;
	char *cause = NULL, *path = example_path();

	(void)state;
	config_init(&cfg);
	if (config_load_file(&cfg, path, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(cfg.path, path);
	check_example(&cfg);
	if (config_validate(&cfg, &cause) != 0)
		fail_msg("%s", cause);

	/* A deep copy is equal and independent. */
	config_copy(&copy, &cfg);
	config_free(&cfg);
	check_example(&copy);
	config_free(&copy);
	free(path);
}

/* The keys issue 10 added: model output limits and cache-write prices, Azure's Entra ID
 * token variable, Ollama's num_ctx and keep_alive; each refused where it does not belong. */
static void
test_provider_and_model_extras(void **state)
{
	static const struct {
		const char *json;
		const char *cause; /* NULL: loads */
	} cases[] = {
	    {"{\"providers\":[{\"name\":\"az\",\"kind\":\"azure\",\"base_url\":"
	     "\"https://r.openai.azure.com\",\"models\":[\"m\"],\"api_version\":\"v1\","
	     "\"entra_token_env\":\"AZ_TOKEN\"}]}",
	        NULL},
	    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"anthropic\",\"base_url\":\"https://h\","
	     "\"models\":[\"m\"],\"entra_token_env\":\"AZ_TOKEN\"}]}",
	        "entra_token_env"},
	    {"{\"providers\":[{\"name\":\"az\",\"kind\":\"azure\",\"base_url\":\"https://h\","
	     "\"models\":[\"m\"],\"entra_token_env\":\"not a name\"}]}",
	        "entra_token_env"},
	    {"{\"providers\":[{\"name\":\"o\",\"kind\":\"openai\",\"flavor\":\"ollama\","
	     "\"base_url\":\"http://h:11434\",\"models\":[\"m\"],\"num_ctx\":32768,"
	     "\"keep_alive\":\"1h30m\"}]}",
	        NULL},
	    {"{\"providers\":[{\"name\":\"o\",\"kind\":\"openai\",\"flavor\":\"ollama\","
	     "\"base_url\":\"http://h:11434\",\"models\":[\"m\"],\"keep_alive\":-1}]}",
	        NULL},
	    {"{\"providers\":[{\"name\":\"o\",\"kind\":\"openai\",\"flavor\":\"ollama\","
	     "\"base_url\":\"http://h:11434\",\"models\":[\"m\"],\"keep_alive\":\"soon\"}]}",
	        "keep_alive"},
	    {"{\"providers\":[{\"name\":\"o\",\"kind\":\"openai\",\"flavor\":\"ollama\","
	     "\"base_url\":\"http://h:11434\",\"models\":[\"m\"],\"num_ctx\":0}]}",
	        "num_ctx"},
	    {"{\"providers\":[{\"name\":\"v\",\"kind\":\"openai\",\"flavor\":\"vllm\","
	     "\"base_url\":\"http://h:8000/v1\",\"models\":[\"m\"],\"num_ctx\":4096}]}",
	        "num_ctx"},
	    {"{\"models\":{\"big\":{\"id\":\"claude-x\",\"input_per_mtok\":3,\"output_per_mtok\":"
	     "15,"
	     "\"cache_write_per_mtok\":3.75,\"cache_write_1h_per_mtok\":6,"
	     "\"max_output_tokens\":64000}}}",
	        NULL},
	    {"{\"models\":{\"big\":{\"max_output_tokens\":0}}}", "max_output_tokens"},
	    {"{\"models\":{\"big\":{\"cache_write_per_mtok\":-1}}}", "cache_write_per_mtok"},
	};
	struct config cfg;
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		int rc;
		config_init(&cfg);
		rc = config_load_string(&cfg, cases[i].json, "x.json", &cause);
		if (cases[i].cause == NULL && rc != 0)
			fail_msg("case %zu: %s", i, cause);
		if (cases[i].cause != NULL) {
			if (rc == 0)
				fail_msg("case %zu: loaded, expected a refusal of %s", i,
				    cases[i].cause);
			if (strstr(cause, cases[i].cause) == NULL)
				fail_msg("case %zu: \"%s\" does not name %s", i, cause,
				    cases[i].cause);
			free(cause);
			cause = NULL;
		}
		if (i == 0)
			assert_string_equal(cfg.providers[0].entra_token_env, "AZ_TOKEN");
		if (i == 3) {
			assert_int_equal(cfg.providers[0].num_ctx, 32768);
			assert_string_equal(cfg.providers[0].keep_alive, "1h30m");
		}
		if (i == 4)
			assert_string_equal(cfg.providers[0].keep_alive, "-1");
		if (i == 8) {
			const struct model_conf *m = config_model(&cfg, "big");
			assert_int_equal(m->max_output_tokens, 64000);
			assert_true(m->cache_write_per_mtok == 3.75 &&
			    m->cache_write_1h_per_mtok == 6);
		}
		config_free(&cfg);
	}
}

/* The ends of config_limits.h's ranges load; the router and the console take the same. */
static void
test_priority_and_weight_limits(void **state)
{
	struct config cfg;
	char *cause = NULL, *json;

	(void)state;
	config_init(&cfg);
	json = xasprintf("{\"providers\":[" P0 ",\"priority\":5000,\"weight\":%g}," P1
	                 ",\"priority\":%d,\"weight\":%g}]}",
	    LIMIT_WEIGHT_MAX, LIMIT_PRIORITY_MAX, LIMIT_WEIGHT_MIN);
	if (config_load_string(&cfg, json, "limits.json", &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(cfg.providers[0].priority, 5000);
	assert_true(cfg.providers[0].weight == LIMIT_WEIGHT_MAX);
	assert_int_equal(cfg.providers[1].priority, LIMIT_PRIORITY_MAX);
	assert_true(cfg.providers[1].weight == LIMIT_WEIGHT_MIN);
	free(json);
	config_free(&cfg);
}

/* "hedge": "auto", "balance" and "learned_timeouts", globally and per route. */
static void
test_hedge_balance_and_learned_timeouts(void **state)
{
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_load_string(&cfg,
	                     "{\"providers\":[" P0 "}],\"hedge\":\"auto\",\"balance\":\"latency\","
	                     "\"learned_timeouts\":{\"enabled\":false,\"multiple\":4.5,"
	                     "\"floor_seconds\":0.25,\"min_samples\":10},"
	                     "\"routes\":{\"A\":{\"primary\":\"anthropic\",\"hedge_after_ms\":"
	                     "\"auto\","
	                     "\"balance\":\"latency\"},\"B\":{\"primary\":\"anthropic\","
	                     "\"hedge_after_ms\":0,\"balance\":\"weighted\"},"
	                     "\"C\":{\"primary\":\"anthropic\",\"hedge_after_ms\":250}}}",
	                     "a.json", &cause),
	    0);
	assert_int_equal(cfg.hedge_after_ms, CONFIG_HEDGE_AUTO);
	assert_int_equal(cfg.balance, BALANCE_LATENCY);
	assert_false(cfg.learn.enabled);
	assert_true(cfg.learn.multiple == 4.5);
	assert_int_equal(cfg.learn.floor_ms, 250);
	assert_int_equal(cfg.learn.min_samples, 10);
	assert_int_equal(config_route(&cfg, "A")->hedge_after_ms, CONFIG_HEDGE_AUTO);
	assert_int_equal(config_route(&cfg, "A")->balance, BALANCE_LATENCY);
	assert_int_equal(config_route(&cfg, "B")->hedge_after_ms, -1);
	assert_int_equal(config_route(&cfg, "B")->balance, BALANCE_WEIGHTED);
	assert_int_equal(config_route(&cfg, "C")->hedge_after_ms, 250);
	assert_int_equal(config_route(&cfg, "C")->balance, BALANCE_DEFAULT);
	/* The object form, and a copy keeps it all. */
	assert_int_equal(config_load_string(&cfg,
	                     "{\"hedge\":{\"after_ms\":\"auto\",\"auto_min_ms\":80},"
	                     "\"balance\":\"weighted\"}",
	                     "b.json", &cause),
	    0);
	assert_int_equal(cfg.hedge_after_ms, CONFIG_HEDGE_AUTO);
	assert_int_equal(cfg.learn.hedge_min_ms, 80);
	assert_int_equal(cfg.balance, BALANCE_WEIGHTED);
	assert_int_equal(config_load_string(&cfg, "{\"hedge\":{\"after_ms\":0}}", "c.json", &cause),
	    0);
	assert_int_equal(cfg.hedge_after_ms, 0);
	assert_int_equal(cfg.learn.min_samples, 10);
	config_free(&cfg);
}

static void
test_failed_load_keeps_config(void **state)
{
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_load_string(&cfg, "{\"providers\":[" P0 "}]}", "a.json", &cause),
	    0);
	/* The second file's first provider is fine, its second is not: nothing changes. */
	assert_int_equal(config_load_string(&cfg,
	                     "{\"providers\":[" P1 "}," P1
	                     ",\"weight\":0}], \"cache\":{\"ttl_seconds\":5}}",
	                     "b.json", &cause),
	    -1);
	assert_string_equal(cause,
	    "b.json: providers[1].name: duplicate provider name "
	    "\"openai\" (also providers[0])");
	free(cause);
	assert_int_equal(cfg.n_providers, 1);
	assert_int_equal(cfg.cache.ttl_seconds, 3600);
	/* A second good file adds to the first. */
	assert_int_equal(config_load_string(&cfg, "{\"providers\":[" P1 "}]}", "c.json", &cause),
	    0);
	assert_int_equal(cfg.n_providers, 2);
	assert_int_equal(config_load_string(&cfg, "{\"providers\":[" P1 "}]}", "d.json", &cause),
	    -1);
	assert_string_equal(cause,
	    "d.json: providers[0].name: duplicate provider name "
	    "\"openai\"");
	free(cause);
	config_free(&cfg);
}

static const struct {
	const char *json;
	const char *expect;
} file_errors[] = {
    /* unknown keys, with a suggestion by edit distance */
    {"{\"providers\":[" P0 ",\"wieght\":0.7}]}",
        "providers[0].wieght: unknown key (did you mean \"weight\"?)"},
    {"{\"providers\":[" P0 ",\"Weight\":0.7}]}",
        "providers[0].Weight: unknown key (did you mean \"weight\"?)"},
    {"{\"provders\":[]}", "provders: unknown key (did you mean \"providers\"?)"},
    {"{\"cache\":{\"ttl\":5}}", "cache.ttl: unknown key (did you mean \"ttl_seconds\"?)"},
    {"{\"responses\":{\"ttl\":5}}", "responses.ttl: unknown key (did you mean \"ttl_seconds\"?)"},
    {"{\"responses\":{\"ttl_seconds\":0}}", "responses.ttl_seconds: must be in 1..31622400, got 0"},
    {"{\"budget\":{\"zzzzzz\":1}}",
        "budget.zzzzzz: unknown key (expected one of: daily_usd, monthly_usd, alert_threshold, "
        "hard_stop, "
        "timezone, pressure, downgrade, tiers)"},
    {"{\"budget\":{\"monthly_usd\":-1}}", "budget.monthly_usd: must be >= 0, got -1"},
    {"{\"models\":{\"gpt-4o\":{\"input_per_mtk\":1}}}",
        "models.gpt-4o.input_per_mtk: unknown key (did you mean \"input_per_mtok\"?)"},
    {"{\"routes\":{\"LSR\":{\"primary\":\"a\",\"fallbak\":[]}}}",
        "routes.LSR.fallbak: unknown key (did you mean \"fallback\"?)"},
    {"{\"breaker\":{\"cooldown_ms\":5}}",
        "breaker.cooldown_ms: unknown key (did you mean \"cooldown_seconds\"?)"},
    {"{\"hedge\":\"fast\"}", "hedge: expected a number of milliseconds or \"auto\", got \"fast\""},
    {"{\"hedge\":{\"after_ms\":\"p95\"}}",
        "hedge.after_ms: expected a number of milliseconds or \"auto\", got \"p95\""},
    {"{\"hedge\":{\"auto_min_ms\":0}}", "hedge.auto_min_ms: must be in 1..600000, got 0"},
    {"{\"routes\":{\"R\":{\"primary\":\"a\",\"hedge_after_ms\":\"p95\"}}}",
        "routes.R.hedge_after_ms: expected a number of milliseconds or \"auto\", got \"p95\""},
    {"{\"balance\":\"fastest\"}", "balance: expected \"weighted\" or \"latency\""},
    {"{\"routes\":{\"R\":{\"primary\":\"a\",\"balance\":1}}}",
        "routes.R.balance: expected \"weighted\" or \"latency\""},
    {"{\"learned_timeouts\":{\"multiple\":0.5}}",
        "learned_timeouts.multiple: must be in [1, 100], got 0.5"},
    {"{\"learned_timeouts\":{\"min_samples\":1000}}",
        "learned_timeouts.min_samples: must be in 1..256, got 1000"},
    {"{\"learned_timeouts\":{\"multiplier\":3}}",
        "learned_timeouts.multiplier: unknown key (did you mean \"multiple\"?)"},
    {"{\"breaker\":{\"threshold\":5}}",
        "breaker.threshold: unknown key (expected one of: failure_threshold, "
        "cooldown_seconds, half_open_max, probe_interval_seconds)"},
    {"{\"budget\":{\"tiers\":{\"hihg\":\"gpt-4o\"}}}",
        "budget.tiers.hihg: unknown key (did you mean \"high\"?)"},
    /* wrong types */
    {"{\"providers\":[" P0 "}," P1 ",\"priority\":\"1\"}]}",
        "providers[1].priority: expected an integer, got a string"},
    {"{\"providers\":[" P0 ",\"priority\":1.5}]}",
        "providers[0].priority: expected an integer, got 1.5"},
    {"{\"providers\":[" P0 ",\"weight\":\"heavy\"}]}",
        "providers[0].weight: expected a number, got a string"},
    {"{\"providers\":[" P0 ",\"enabled\":1}]}",
        "providers[0].enabled: expected true or false, got a number"},
    {"{\"providers\":[" P0 ",\"name\":null}]}", "providers[0].name: duplicate key"},
    {"{\"providers\":[{\"name\":7,\"kind\":\"anthropic\",\"base_url\":\"https://x\","
     "\"models\":[\"claude-sonnet\"]}]}",
        "providers[0].name: expected a string, got a number"},
    {"{\"providers\":{}}", "providers: expected an array, got an object"},
    {"{\"providers\":[[]]}", "providers[0]: expected an object, got an array"},
    {"{\"cache\":{\"enabled\":\"yes\"}}", "cache.enabled: expected true or false, got a string"},
    {"{\"budget\":[]}", "budget: expected an object, got an array"},
    {"{\"routes\":{\"LSR\":{\"primary\":\"anthropic\",\"fallback\":\"openai\"}}}",
        "routes.LSR.fallback: expected an array of strings, got a string"},
    {"{\"providers\":[{\"name\":\"x\",\"kind\":\"anthropic\",\"base_url\":\"https://x\","
     "\"models\":[1]}]}",
        "providers[0].models[0]: expected a string, got a number"},
    {"{\"budget\":{\"downgrade\":{\"gpt-4o\":null}}}",
        "budget.downgrade.gpt-4o: expected a model alias (a string), got null"},
    {"[1,2]", "expected a JSON object at the top level, got an array"},
    /* out of range */
    {"{\"providers\":[" P0 ",\"priority\":-1}]}", "providers[0].priority: must be >= 0, got -1"},
    {"{\"providers\":[" P0 ",\"weight\":0}]}",
        "providers[0].weight: must be in [0.001, 1000], got 0"},
    {"{\"providers\":[" P0 ",\"weight\":-0.5}]}",
        "providers[0].weight: must be in [0.001, 1000], got -0.5"},
    {"{\"providers\":[" P0 ",\"weight\":1000.5}]}",
        "providers[0].weight: must be in [0.001, 1000], got 1000.5"},
    {"{\"providers\":[" P0 ",\"timeout_seconds\":0}]}",
        "providers[0].timeout_seconds: must be in (0, 86400], got 0"},
    {"{\"providers\":[" P0 ",\"max_retries\":11}]}",
        "providers[0].max_retries: must be in 0..10, got 11"},
    {"{\"providers\":[" P0 ",\"rate_limit_rpm\":-5}]}",
        "providers[0].rate_limit_rpm: must be >= 0, got -5"},
    {"{\"budget\":{\"alert_threshold\":0}}", "budget.alert_threshold: must be in (0, 1], got 0"},
    {"{\"budget\":{\"alert_threshold\":1.5}}",
        "budget.alert_threshold: must be in (0, 1], got 1.5"},
    {"{\"budget\":{\"daily_usd\":-1}}", "budget.daily_usd: must be >= 0, got -1"},
    {"{\"budget\":{\"pressure\":2}}", "budget.pressure: must be in [0, 1], got 2"},
    {"{\"budget\":{\"timezone\":\"../../etc/passwd\"}}",
        "budget.timezone: expected a time zone name like \"UTC\" or \"Europe/Paris\""},
    {"{\"budget\":{\"downgrade\":{\"gpt-4o\":\"gpt-4o\"}}}",
        "budget.downgrade.gpt-4o: a model cannot downgrade to itself"},
    {"{\"cache\":{\"max_temperature\":2.5}}", "cache.max_temperature: must be in [0, 2], got 2.5"},
    {"{\"cache\":{\"max_temperature\":-0.1}}",
        "cache.max_temperature: must be in [0, 2], got -0.1"},
    {"{\"cache\":{\"ttl_seconds\":0}}", "cache.ttl_seconds: must be > 0, got 0"},
    {"{\"cache\":{\"max_entries\":0}}", "cache.max_entries: must be > 0, got 0"},
    {"{\"breaker\":{\"cooldown_seconds\":0}}",
        "breaker.cooldown_seconds: must be in (0, 86400], got 0"},
    {"{\"breaker\":{\"probe_interval_seconds\":-1}}",
        "breaker.probe_interval_seconds: must be in [0, 86400], got -1"},
    {"{\"breaker\":{\"failure_threshold\":0}}",
        "breaker.failure_threshold: must be in 1..1000000, got 0"},
    {"{\"models\":{\"claude-sonnet\":{\"input_per_mtok\":-3}}}",
        "models.claude-sonnet.input_per_mtok: must be >= 0, got -3"},
    {"{\"models\":{\"claude-haiku-3.5\":{\"context_tokens\":0}}}",
        "models[\"claude-haiku-3.5\"].context_tokens: must be > 0, got 0"},
    {"{\"models\":{\"my model\":{}}}",
        "models[\"my model\"]: a model alias must be 1 to 128 printable characters without spaces"},
    /* providers: names, kinds, required keys */
    {"{\"providers\":[" P0 "}," P0 "}]}",
        "providers[1].name: duplicate provider name \"anthropic\" (also providers[0])"},
    {"{\"providers\":[{\"kind\":\"anthropic\",\"base_url\":\"https://x\",\"models\":[\"a\"]}]}",
        "providers[0]: missing required key \"name\""},
    {"{\"providers\":[{\"name\":\"a\",\"base_url\":\"https://x\",\"models\":[\"a\"]}]}",
        "providers[0]: missing required key \"kind\""},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"models\":[\"a\"]}]}",
        "providers[0]: missing required key \"base_url\""},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"base_url\":\"https://x\"}]}",
        "providers[0]: missing required key \"models\""},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"base_url\":\"https://x\","
     "\"models\":[]}]}",
        "providers[0].models: at least one model is required"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"base_url\":\"https://x\","
     "\"models\":[\"gpt-4o\",\"gpt-4o\"]}]}",
        "providers[0].models[1]: \"gpt-4o\" is listed twice"},
    {"{\"providers\":[{\"name\":\"\",\"kind\":\"openai\",\"base_url\":\"https://x\","
     "\"models\":[\"a\"]}]}",
        "providers[0].name: must not be empty"},
    {"{\"providers\":[{\"name\":\"my provider\",\"kind\":\"openai\",\"base_url\":\"https://x\","
     "\"models\":[\"a\"]}]}",
        "providers[0].name: expected up to 64 letters, digits, '.', '_' or '-'"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"anthropc\",\"base_url\":\"https://x\","
     "\"models\":[\"a\"]}]}",
        "providers[0].kind: unknown kind \"anthropc\" (did you mean \"anthropic\"?)"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"mistral\",\"base_url\":\"https://x\","
     "\"models\":[\"a\"]}]}",
        "providers[0].kind: unknown kind \"mistral\" (use kind \"openai\" with flavor "
        "\"mistral\")"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"bedrock\",\"base_url\":\"https://x\","
     "\"models\":[\"a\"]}]}",
        "providers[0].kind: unknown kind \"bedrock\" (expected anthropic, openai or azure)"},
    {"{\"providers\":[" P1 ",\"flavor\":\"vlm\"}]}",
        "providers[0].flavor: unknown flavor \"vlm\" (did you mean \"vllm\"?)"},
    {"{\"providers\":[" P1 ",\"flavor\":\"tgi\"}]}",
        "providers[0].flavor: unknown flavor \"tgi\" (expected openai, mistral, vllm, llamacpp "
        "or ollama)"},
    {"{\"providers\":[" P0 ",\"flavor\":\"vllm\"}]}",
        "providers[0].flavor: only valid with kind \"openai\""},
    {"{\"providers\":[" P0 ",\"api_version\":\"2024-10-21\"}]}",
        "providers[0].api_version: only valid with kind \"azure\""},
    {"{\"providers\":[" P0 ",\"base_url\":\"api.anthropic.com\"}]}",
        "providers[0].base_url: duplicate key"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"base_url\":\"api.openai.com\","
     "\"models\":[\"a\"]}]}",
        "providers[0].base_url: expected an http:// or https:// URL"},
    {"{\"providers\":[{\"name\":\"a\",\"kind\":\"openai\",\"base_url\":\"https:///\","
     "\"models\":[\"a\"]}]}",
        "providers[0].base_url: expected an http:// or https:// URL with a host"},
    {"{\"routes\":{\"LSR\":{\"fallback\":[]}}}", "routes.LSR: missing required key \"primary\""},
    /* keys belong in the environment; the key itself is never echoed */
    {"{\"providers\":[" P0 ",\"api_key\":\"" FAKE_ANTHROPIC "\"}]}",
        "providers[0].api_key: " KEYS_IN_ENV},
    {"{\"providers\":[" P0 ",\"api_key\":\"changeme\"}]}", "providers[0].api_key: " KEYS_IN_ENV},
    {"{\"providers\":[" P0 ",\"api-key\":\"x\"}]}", "providers[0].api-key: " KEYS_IN_ENV},
    {"{\"token\":\"abc\"}", "token: " KEYS_IN_ENV},
    {"{\"providers\":[" P0 ",\"api_key_env\":\"" FAKE_OPENAI "\"}]}",
        "providers[0].api_key_env: expected the name of an environment variable, got what "
        "looks like an API key; " KEYS_IN_ENV},
    {"{\"providers\":[" P0 ",\"api_key_env\":\"" FAKE_AZURE "\"}]}",
        "providers[0].api_key_env: expected the name of an environment variable, got what "
        "looks like an API key; " KEYS_IN_ENV},
    {"{\"providers\":[" P0 ",\"api_key_env\":\"sk-SECRET\"}]}",
        "providers[0].api_key_env: expected the name of an environment variable "
        "(letters, digits and '_')"},
    {"{\"providers\":[" P0 ",\"api_key_env\":\"Bearer SECRET\"}]}",
        "providers[0].api_key_env: expected the name of an environment variable, got what "
        "looks like an API key; " KEYS_IN_ENV},
    {"{\"routes\":{\"LSR\":{\"primary\":\"a\",\"model\":\"" FAKE_ANTHROPIC "\"}}}",
        "routes.LSR.model: value looks like an API key; " KEYS_IN_ENV},
    {"{\"providers\":[" P0M ",\"models\":[\"" FAKE_OPENAI "\"]}]}",
        "providers[0].models[0]: value looks like an API key; " KEYS_IN_ENV},
    {"{\"models\":{\"" FAKE_OPENAI "\":{}}}",
        "models: a key name looks like an API key; " KEYS_IN_ENV},
    /* syntax */
    {"{\n  \"cache\": {\"enabled\": true}\n  \"budget\": {}\n}",
        "line 3, column 3: JSON syntax error"},
    {"{\"cache\": {\"enabled\": tru}}", "line 1, column 23: JSON syntax error"},
    {"{\n\t\"cache\": {\"ttl_seconds\": 1}} trailing", "line 2, column 31: JSON syntax error"},
    /* Columns count characters, not bytes: both texts fail at the same column. */
    {"{\"budget\": {\"timezone\": \"ete\", x}}", "line 1, column 33: JSON syntax error"},
    {"{\"budget\": {\"timezone\": \"\xc3\xa9t\xc3\xa9\", x}}",
        "line 1, column 33: JSON syntax error"},
    {"   \n  ", "empty file (expected a JSON object)"},
    {"{\"cache\":{\"ttl_seconds\":1},\"cache\":{}}", "cache: duplicate key"},
    /* the store: a PostgreSQL URL, never with its password (PGPASSWORD, ~/.pgpass) */
    {"{\"store\":{\"url\":\"postgres://llm:hunter2@db.internal/llmdeck\"}}",
        "store.url: a password in the config file; put it in PGPASSWORD or ~/.pgpass"},
    {"{\"store\":{\"url\":\"postgresql:///llmdeck?host=/run&password=x\"}}",
        "store.url: a password in the config file; put it in PGPASSWORD or ~/.pgpass"},
    {"{\"store\":{\"url\":\"/var/lib/llmdeck.db\"}}",
        "store.url: expected a postgres:// or postgresql:// URL"},
    {"{\"store\":{\"uri\":\"postgres://db/x\"}}", "store.uri: unknown key (did you mean \"url\"?)"},
    /* the cache in Redis: never with userinfo (LLMDECK_REDIS_PASSWORD holds a password) */
    {"{\"cache\":{\"url\":\"redis://:hunter2@cache.internal:6379/0\"}}",
        "cache.url: a user or password in the config file; put the password in "
        "LLMDECK_REDIS_PASSWORD"},
    {"{\"cache\":{\"url\":\"postgres://db/x\"}}",
        "cache.url: expected a redis://HOST:PORT/DB or unix:///PATH URL"},
    {"{\"cache\":{\"url\":6379}}",
        "cache.url: expected a redis://HOST:PORT/DB or unix:///PATH URL"},
};

static void
test_file_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(file_errors); i++) {
		print_message("case %zu: %s\n", i, file_errors[i].expect);
		expect_file_error(file_errors[i].json, file_errors[i].expect);
	}
}

static void
test_file_io_errors(void **state)
{
	struct config cfg;
	char *cause = NULL, *path;

	(void)state;
	config_init(&cfg);
	path = xasprintf("%s/missing.json", tmpdir);
	assert_int_equal(config_load_file(&cfg, path, &cause), -1);
	assert_non_null(strstr(cause, "missing.json: cannot open: "));
	assert_int_equal(strncmp(cause, path, strlen(path)), 0);
	free(cause);
	free(path);

	write_file(cfgpath, "");
	assert_int_equal(config_load_file(&cfg, cfgpath, &cause), -1);
	path = xasprintf("%s: empty file (expected a JSON object)", cfgpath);
	assert_string_equal(cause, path);
	free(cause);
	free(path);

	/* A BOM is not an error. */
	write_file(cfgpath,
	    "\xef\xbb\xbf{\"cache\":{\"ttl_seconds\":7,"
	    "\"url\":\"redis://cache.internal:6380/2\"}}");
	assert_int_equal(config_load_file(&cfg, cfgpath, &cause), 0);
	assert_int_equal(cfg.cache.ttl_seconds, 7);
	assert_string_equal(cfg.cache.url, "redis://cache.internal:6380/2");
	config_free(&cfg);

	/* load_string names its origin. */
	config_init(&cfg);
	assert_int_equal(config_load_string(&cfg, "{\"x\":1}", NULL, &cause), -1);
	assert_string_equal(cause,
	    "<string>: x: unknown key (expected one of: providers, "
	    "models, routes, budget, cache, ledger, responses, breaker, hedge, balance, "
	    "learned_timeouts, store)");
	free(cause);
	config_free(&cfg);
}

/* ---- environment ---- */

/* The environment as NULL-terminated name, value pairs. */
static const char *
fake_getenv(const char *name, void *arg)
{
	const char *const *kv = arg;

	for (; kv != NULL && kv[0] != NULL; kv += 2) {
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	}
	return NULL;
}

static const struct {
	const char *file; /* JSON or NULL */
	const char *env[24];
	const char *expect;
} env_errors[] = {
    {NULL, {"LLM_MAX_RETRIES", "x"}, "LLM_MAX_RETRIES: expected an integer 0..10, got \"x\""},
    {NULL, {"LLM_MAX_RETRIES", "11"}, "LLM_MAX_RETRIES: expected an integer 0..10, got \"11\""},
    {NULL, {"LLM_MAX_RETRIES", "-1"}, "LLM_MAX_RETRIES: expected an integer 0..10, got \"-1\""},
    {NULL, {"LLM_MAX_RETRIES", "3 "}, "LLM_MAX_RETRIES: expected an integer 0..10, got \"3 \""},
    {NULL, {"LLM_TIMEOUT_SECONDS", "0"},
        "LLM_TIMEOUT_SECONDS: expected a positive number of seconds (at most 86400), got \"0\""},
    {NULL, {"LLM_TIMEOUT_SECONDS", "fast"},
        "LLM_TIMEOUT_SECONDS: expected a positive number of seconds (at most 86400), got "
        "\"fast\""},
    {NULL, {"LLM_TIMEOUT_SECONDS", "nan"},
        "LLM_TIMEOUT_SECONDS: expected a positive number of seconds (at most 86400), got "
        "\"nan\""},
    {NULL, {"LLM_DAILY_BUDGET", "-1"},
        "LLM_DAILY_BUDGET: expected a number of USD >= 0, got \"-1\""},
    {NULL, {"LLM_DAILY_BUDGET", "$100"},
        "LLM_DAILY_BUDGET: expected a number of USD >= 0, got \"$100\""},
    {NULL, {"LLM_ALERT_THRESHOLD", "0"},
        "LLM_ALERT_THRESHOLD: expected a number in (0, 1], got \"0\""},
    {NULL, {"LLM_ALERT_THRESHOLD", "80%"},
        "LLM_ALERT_THRESHOLD: expected a number in (0, 1], got \"80%\""},
    {NULL, {"LLM_CACHE_ENABLED", "maybe"},
        "LLM_CACHE_ENABLED: expected true, false, 1, 0, yes or no, got \"maybe\""},
    {NULL, {"LLM_CACHE_TTL", "0"},
        "LLM_CACHE_TTL: expected a positive integer (seconds), got \"0\""},
    {NULL, {"LLM_CACHE_TTL", "1.5"},
        "LLM_CACHE_TTL: expected a positive integer (seconds), got \"1.5\""},
    {NULL, {"LLM_MAX_RETRIES", FAKE_OPENAI},
        "LLM_MAX_RETRIES: expected an integer 0..10, got a value that is not one"},
    {NULL, {"AZURE_OPENAI_ENDPOINT", "https://x.openai.azure.com"},
        "AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_KEY is not: set both "
        "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_KEY, or neither"},
    {NULL, {"AZURE_OPENAI_KEY", FAKE_AZURE},
        "AZURE_OPENAI_KEY is set but AZURE_OPENAI_ENDPOINT is not: set both "
        "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_KEY, or neither"},
    {NULL, {"AZURE_OPENAI_ENDPOINT", "x.openai.azure.com", "AZURE_OPENAI_KEY", FAKE_AZURE},
        "AZURE_OPENAI_ENDPOINT: expected an http:// or https:// URL"},
    {NULL, {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "LLM_PRIMARY_PROVIDER", "anthropc"},
        "LLM_PRIMARY_PROVIDER: no provider named \"anthropc\" (did you mean \"anthropic\"?)"},
    {NULL, {"LLM_PRIMARY_PROVIDER", "anthropic"},
        "LLM_PRIMARY_PROVIDER: no provider named \"anthropic\" (no providers are configured)"},
    {NULL, {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "LLM_FALLBACK_PROVIDER", "bedrock"},
        "LLM_FALLBACK_PROVIDER: no provider named \"bedrock\""},
    {NULL, {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "LLM_PRIMARY_PROVIDER", FAKE_ANTHROPIC},
        "LLM_PRIMARY_PROVIDER: no such provider"},
    {NULL,
        {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "LLM_PRIMARY_PROVIDER", "anthropic",
            "LLM_FALLBACK_PROVIDER", "anthropic"},
        "LLM_PRIMARY_PROVIDER and LLM_FALLBACK_PROVIDER name the same provider"},
    {"{\"providers\":[{\"name\":\"anthropic\",\"kind\":\"openai\",\"flavor\":\"vllm\","
     "\"base_url\":\"http://127.0.0.1:8000\",\"models\":[\"llama\"]}]}",
        {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC},
        "ANTHROPIC_API_KEY: cannot add provider \"anthropic\": a provider of kind openai "
        "already has that name"},
};

static void
test_env_errors(void **state)
{
	struct config cfg;
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(env_errors); i++) {
		print_message("case %zu: %s\n", i, env_errors[i].expect);
		config_init(&cfg);
		if (env_errors[i].file != NULL &&
		    config_load_string(&cfg, env_errors[i].file, "f.json", &cause) != 0)
			fail_msg("%s", cause);
		assert_int_equal(config_apply_env(&cfg, fake_getenv, (void *)env_errors[i].env,
		                     &cause),
		    -1);
		assert_no_secret(cause);
		assert_string_equal(cause, env_errors[i].expect);
		free(cause);
		cause = NULL;
		/* Nothing was applied. */
		assert_int_equal(cfg.n_providers, env_errors[i].file != NULL ? 1 : 0);
		assert_int_equal(cfg.n_routes, 0);
		config_free(&cfg);
	}
}

static void
test_env_only_anthropic(void **state)
{
	const char *env[] = {
	    "ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "OPENAI_API_KEY", "", "LLM_MAX_RETRIES", "", NULL};
	const struct provider_conf *p;
	const struct route_conf *r;
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	if (config_apply_env(&cfg, fake_getenv, env, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(cfg.n_providers, 1); /* an empty variable counts as unset */
	p = config_provider(&cfg, "anthropic");
	assert_non_null(p);
	assert_int_equal(p->kind, PROVIDER_ANTHROPIC);
	assert_string_equal(p->base_url, "https://api.anthropic.com");
	assert_string_equal(p->api_key_env, "ANTHROPIC_API_KEY");
	assert_string_equal(p->api_key, FAKE_ANTHROPIC);
	assert_int_equal(p->n_models, 3);
	assert_string_equal(p->models[0], "claude-sonnet");
	assert_string_equal(p->models[1], "claude-haiku");
	assert_string_equal(p->models[2], "claude-opus");
	assert_int_equal(p->max_retries, 2);
	/* The seed's routes whose primary exists; no fallback that does not. */
	assert_int_equal(cfg.n_routes, 3);
	r = config_route(&cfg, "LSR");
	assert_string_equal(r->primary, "anthropic");
	assert_int_equal(r->n_fallback, 0);
	assert_non_null(config_route(&cfg, "GS"));
	assert_non_null(config_route(&cfg, "EP"));
	assert_null(config_route(&cfg, "VE"));
	if (config_validate(&cfg, &cause) != 0)
		fail_msg("%s", cause);
	config_free(&cfg);
}

static void
test_env_everything(void **state)
{
	const char *env[] = {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "OPENAI_API_KEY", FAKE_OPENAI,
	    "AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/", "AZURE_OPENAI_KEY",
	    FAKE_AZURE, "LLM_PRIMARY_PROVIDER", "openai", "LLM_FALLBACK_PROVIDER", "anthropic",
	    "LLM_TIMEOUT_SECONDS", "30.5", "LLM_MAX_RETRIES", "5", "LLM_DAILY_BUDGET", "50",
	    "LLM_ALERT_THRESHOLD", "0.9", "LLM_CACHE_ENABLED", "no", "LLM_CACHE_TTL", "60", NULL};
	const struct provider_conf *p;
	const struct route_conf *r;
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	if (config_apply_env(&cfg, fake_getenv, env, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(cfg.n_providers, 3);
	p = config_provider(&cfg, "openai");
	assert_string_equal(p->base_url, "https://api.openai.com");
	assert_string_equal(p->api_key, FAKE_OPENAI);
	assert_int_equal(p->n_models, 3);
	assert_string_equal(p->models[0], "gpt-4o");
	assert_int_equal(p->priority, 1);
	assert_true(p->timeout_seconds == 30.5);
	assert_int_equal(p->max_retries, 5);
	p = config_provider(&cfg, "anthropic");
	assert_int_equal(p->priority, 2);
	p = config_provider(&cfg, "azure");
	assert_int_equal(p->priority, 3); /* after the primary and the fallback */
	assert_int_equal(p->kind, PROVIDER_AZURE);
	assert_string_equal(p->base_url, "https://res.openai.azure.com");
	assert_string_equal(p->api_key, FAKE_AZURE);
	assert_string_equal(p->api_version, "2024-10-21");
	assert_true(p->timeout_seconds == 30.5);
	assert_true(cfg.budget.daily_usd == 50.0);
	assert_true(cfg.budget.alert_threshold == 0.9);
	assert_false(cfg.cache.enabled);
	assert_int_equal(cfg.cache.ttl_seconds, 60);

	r = config_route(&cfg, "default");
	assert_non_null(r);
	assert_string_equal(r->primary, "openai");
	assert_int_equal(r->n_fallback, 1);
	assert_string_equal(r->fallback[0], "anthropic");
	r = config_route(&cfg, "VE");
	assert_string_equal(r->primary, "openai");
	assert_string_equal(r->fallback[0], "anthropic");
	r = config_route(&cfg, "EP");
	assert_string_equal(r->primary, "anthropic");
	assert_string_equal(r->fallback[0], "openai");
	assert_int_equal(cfg.n_routes, 5);
	if (config_validate(&cfg, &cause) != 0)
		fail_msg("%s", cause);
	config_free(&cfg);
}

/* Each boolean spelling of LLM_CACHE_ENABLED. */
static void
test_env_cache_bool(void **state)
{
	static const struct {
		const char *v;
		int want;
	} cases[] = {
	    {"true", 1}, {"TRUE", 1}, {"1", 1}, {"yes", 1}, {"false", 0}, {"0", 0}, {"No", 0}};
	struct config cfg;
	char *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *env[] = {"LLM_CACHE_ENABLED", cases[i].v, NULL};

		config_init(&cfg);
		cfg.cache.enabled = !cases[i].want;
		assert_int_equal(config_apply_env(&cfg, fake_getenv, env, &cause), 0);
		assert_int_equal(cfg.cache.enabled, cases[i].want);
		config_free(&cfg);
	}
}

static void
test_env_over_file(void **state)
{
	const char *env[] = {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "MY_ANTHROPIC", "SECRET-mine",
	    "OPENAI_API_KEY", FAKE_OPENAI, "AZURE_OPENAI_ENDPOINT", "https://new.example.com",
	    "LLM_TIMEOUT_SECONDS", "20", "LLM_CACHE_TTL", "99", NULL};
	const char *file =
	    "{\"providers\":["
	    "{\"name\":\"claude\",\"kind\":\"anthropic\",\"base_url\":\"https://a\","
	    "\"api_key_env\":\"MY_ANTHROPIC\",\"models\":[\"claude-haiku\"],\"timeout_seconds\":5},"
	    "{\"name\":\"claude2\",\"kind\":\"anthropic\",\"base_url\":\"https://b\","
	    "\"models\":[\"claude-haiku\"]},"
	    "{\"name\":\"vllm\",\"kind\":\"openai\",\"flavor\":\"vllm\","
	    "\"base_url\":\"http://127.0.0.1:8000\",\"models\":[\"llama\"]},"
	    "{\"name\":\"az\",\"kind\":\"azure\",\"base_url\":\"https://old.example.com\","
	    "\"models\":[\"gpt-4o\"]}],"
	    "\"cache\":{\"ttl_seconds\":10},"
	    "\"routes\":{\"LSR\":{\"primary\":\"claude\"}}}";
	const struct provider_conf *p;
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	if (config_load_string(&cfg, file, "f.json", &cause) != 0)
		fail_msg("%s", cause);
	if (config_apply_env(&cfg, fake_getenv, env, &cause) != 0)
		fail_msg("%s", cause);
	/* An anthropic provider exists, so none is added; vllm is not OpenAI, so one is. */
	assert_int_equal(cfg.n_providers, 5);
	assert_null(config_provider(&cfg, "anthropic"));
	p = config_provider(&cfg, "claude");
	assert_string_equal(p->api_key, "SECRET-mine");
	assert_true(p->timeout_seconds == 20.0);
	p = config_provider(&cfg, "claude2");
	assert_string_equal(p->api_key_env, "ANTHROPIC_API_KEY");
	assert_string_equal(p->api_key, FAKE_ANTHROPIC);
	p = config_provider(&cfg, "vllm");
	assert_null(p->api_key_env);
	assert_null(p->api_key);
	p = config_provider(&cfg, "openai");
	assert_non_null(p);
	assert_string_equal(p->api_key, FAKE_OPENAI);
	/* The endpoint alone is fine when the file has the azure provider. */
	p = config_provider(&cfg, "az");
	assert_string_equal(p->base_url, "https://new.example.com");
	assert_null(p->api_key);
	assert_int_equal(cfg.cache.ttl_seconds, 99);
	/* The file's LSR stays; VE appears now that openai exists, GS/EP name no provider. */
	assert_string_equal(config_route(&cfg, "LSR")->primary, "claude");
	assert_string_equal(config_route(&cfg, "VE")->primary, "openai");
	assert_int_equal(config_route(&cfg, "VE")->n_fallback, 0);
	assert_null(config_route(&cfg, "GS"));
	if (config_validate(&cfg, &cause) != 0)
		fail_msg("%s", cause);
	config_free(&cfg);
}

/* ---- validation ---- */

static const struct {
	const char *json;
	const char *expect;
} validate_errors[] = {
    {"{}",
        "no providers configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY (or "
        "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_KEY), or list providers in the config file"},
    {"{\"providers\":[" P0 "}],\"routes\":{\"LSR\":{\"primary\":\"nobody\"}}}",
        "route \"LSR\": primary \"nobody\" is not a configured provider"},
    {"{\"providers\":[" P0 "}],\"routes\":{\"LSR\":{\"primary\":\"anthropic\","
     "\"fallback\":[\"openai\"]}}}",
        "route \"LSR\": fallback \"openai\" is not a configured provider"},
    {"{\"providers\":[" P0 "}],\"routes\":{\"LSR\":{\"primary\":\"anthropic\","
     "\"fallback\":[\"anthropic\"]}}}",
        "route \"LSR\": fallback \"anthropic\" is also the primary"},
    {"{\"providers\":[" P0 "}],\"routes\":{\"LSR\":{\"primary\":\"anthropic\","
     "\"model\":\"claude-sonet\"}}}",
        "route \"LSR\": model \"claude-sonet\" is not in the models table (did you mean "
        "\"claude-sonnet\"?)"},
    {"{\"providers\":[" P1M ",\"models\":[\"gpt-4o\",\"gpt-5\"]}]}",
        "provider \"openai\": model \"gpt-5\" is not in the models table (did you mean "
        "\"gpt-4o\"?)"},
    {"{\"providers\":[" P0M ",\"models\":[\"claude-sonnet-4-20250514\"]}]}",
        "provider \"anthropic\": model \"claude-sonnet-4-20250514\" is not in the models "
        "table (it is the id of alias \"claude-sonnet\")"},
    {"{\"providers\":[" P0M ",\"models\":[\"totally-unknown-model\"]}]}",
        "provider \"anthropic\": model \"totally-unknown-model\" is not in the models table"},
    {"{\"providers\":[" P0 "}],\"budget\":{\"tiers\":{\"low\":\"cheap\"}}}",
        "budget.tiers.low: model \"cheap\" is not in the models table"},
    {"{\"providers\":[" P0 "}],\"budget\":{\"downgrade\":{\"claude-sonnet\":\"claude-tiny\"}}}",
        "budget.downgrade.claude-sonnet: model \"claude-tiny\" is not in the models table"},
    {"{\"providers\":[" P0 "}],\"budget\":{\"downgrade\":{\"gpt-4o\":\"gpt-4o-mini\","
     "\"gpt-4o-mini\":\"gpt-4o\"}}}",
        "budget.downgrade.gpt-4o: the downgrade ladder has a cycle"},
};

static void
test_validate_errors(void **state)
{
	struct config cfg;
	char *cause = NULL, *want;

	(void)state;
	for (size_t i = 0; i < nitems(validate_errors); i++) {
		print_message("case %zu: %s\n", i, validate_errors[i].expect);
		write_file(cfgpath, validate_errors[i].json);
		config_init(&cfg);
		if (config_load_file(&cfg, cfgpath, &cause) != 0)
			fail_msg("%s", cause);
		assert_int_equal(config_validate(&cfg, &cause), -1);
		want = xasprintf("%s: %s", cfgpath, validate_errors[i].expect);
		assert_string_equal(cause, want);
		free(want);
		free(cause);
		config_free(&cfg);
	}
	/* Without a file the message says "config". */
	config_init(&cfg);
	assert_int_equal(config_validate(&cfg, &cause), -1);
	assert_int_equal(strncmp(cause, "config: no providers configured", 31), 0);
	free(cause);
	config_free(&cfg);
}

/* ---- config_load: file discovery, then env, then validate ---- */

static void
clear_env(void)
{
	static const char *const vars[] = {"LLMDECK_CONFIG", "XDG_CONFIG_HOME", "ANTHROPIC_API_KEY",
	    "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_KEY", "LLM_PRIMARY_PROVIDER",
	    "LLM_FALLBACK_PROVIDER", "LLM_TIMEOUT_SECONDS", "LLM_MAX_RETRIES", "LLM_DAILY_BUDGET",
	    "LLM_ALERT_THRESHOLD", "LLM_CACHE_ENABLED", "LLM_CACHE_TTL"};

	for (size_t i = 0; i < nitems(vars); i++)
		unsetenv(vars[i]);
}

static void
test_config_load(void **state)
{
	struct config cfg;
	char *cause = NULL, *dir, *path, *want;

	(void)state;
	clear_env();
	setenv("HOME", tmpdir, 1);

	/* Nothing anywhere: no providers. */
	config_init(&cfg);
	assert_int_equal(config_load(&cfg, NULL, &cause), -1);
	assert_non_null(strstr(cause, "no providers configured"));
	free(cause);

	/* Environment only. */
	setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC, 1);
	if (config_load(&cfg, NULL, &cause) != 0)
		fail_msg("%s", cause);
	assert_null(cfg.path);
	assert_string_equal(config_provider(&cfg, "anthropic")->api_key, FAKE_ANTHROPIC);
	config_free(&cfg);

	/* $XDG_CONFIG_HOME/llmdeck/config.json. */
	dir = xasprintf("%s/xdg", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	path = xasprintf("%s/llmdeck", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	path = xasprintf("%s/llmdeck/config.json", dir);
	write_file(path,
	    "{\"providers\":[" P1 ",\"api_key_env\":\"MY_OPENAI\"}],"
	    "\"budget\":{\"daily_usd\":5}}");
	setenv("XDG_CONFIG_HOME", dir, 1);
	setenv("MY_OPENAI", FAKE_OPENAI, 1);
	setenv("LLM_DAILY_BUDGET", "7", 1);
	config_init(&cfg);
	if (config_load(&cfg, NULL, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(cfg.path, path);
	assert_string_equal(config_provider(&cfg, "openai")->api_key, FAKE_OPENAI);
	assert_non_null(config_provider(&cfg, "anthropic"));
	assert_true(cfg.budget.daily_usd == 7.0);
	config_free(&cfg);

	/* $LLMDECK_CONFIG wins, and a file that is not there is an error. */
	write_file(cfgpath, "{\"providers\":[" P0 "}]}");
	setenv("LLMDECK_CONFIG", cfgpath, 1);
	config_init(&cfg);
	if (config_load(&cfg, NULL, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(cfg.path, cfgpath);
	assert_null(config_provider(&cfg, "openai"));
	config_free(&cfg);
	setenv("LLMDECK_CONFIG", "/nonexistent/llmdeck.json", 1);
	config_init(&cfg);
	assert_int_equal(config_load(&cfg, NULL, &cause), -1);
	assert_int_equal(strncmp(cause, "/nonexistent/llmdeck.json: cannot open: ", 40), 0);
	free(cause);

	/* An explicit path wins over both; a bad variable fails the load and changes nothing. */
	setenv("LLM_MAX_RETRIES", "lots", 1);
	assert_int_equal(config_load(&cfg, path, &cause), -1);
	assert_string_equal(cause, "LLM_MAX_RETRIES: expected an integer 0..10, got \"lots\"");
	free(cause);
	assert_int_equal(cfg.n_providers, 0);
	unsetenv("LLM_MAX_RETRIES");
	write_file(cfgpath, "{\"providers\":[" P0M ",\"models\":[\"claude-sonnet\",\"x\"]}]}");
	unsetenv("LLMDECK_CONFIG");
	assert_int_equal(config_load(&cfg, cfgpath, &cause), -1);
	want = xasprintf("%s: provider \"anthropic\": model \"x\" is not in the models table",
	    cfgpath);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	config_free(&cfg);
	/* Without the checks (llmdeck status): the same file loads, the budget with it. */
	config_init(&cfg);
	if (config_load_unchecked(&cfg, cfgpath, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(cfg.path, cfgpath);
	assert_non_null(config_provider(&cfg, "anthropic"));
	config_free(&cfg);

	clear_env();
	unsetenv("MY_OPENAI");
	free(path);
	free(dir);
}

/* Where config_load looks, in order: the argument, $LLMDECK_CONFIG, the XDG file. */
static void
test_config_find_file(void **state)
{
	char *dir, *xdgfile, *found;

	(void)state;
	clear_env();
	setenv("HOME", tmpdir, 1);
	assert_null(config_find_file(NULL)); /* ~/.config/llmdeck/config.json is not there */
	dir = xasprintf("%s/xdg2", tmpdir);
	xdgfile = xasprintf("%s/llmdeck/config.json", dir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	assert_null(config_find_file(NULL));
	assert_int_equal(mkdir(dir, 0700), 0);
	free(dir);
	dir = xasprintf("%s/xdg2/llmdeck", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(xdgfile, "{}");
	found = config_find_file(NULL);
	assert_string_equal(found, xdgfile);
	free(found);
	setenv("LLMDECK_CONFIG", "", 1); /* empty counts as unset */
	found = config_find_file(NULL);
	assert_string_equal(found, xdgfile);
	free(found);
	setenv("LLMDECK_CONFIG", "/some/where.json", 1); /* need not exist: loading says so */
	found = config_find_file(NULL);
	assert_string_equal(found, "/some/where.json");
	free(found);
	found = config_find_file("given.json");
	assert_string_equal(found, "given.json");
	free(found);
	clear_env();
	free(dir);
	free(xdgfile);
}

static void
test_mask_key(void **state)
{
	char out[64];

	(void)state;
	config_mask_key(NULL, out, sizeof out);
	assert_string_equal(out, "(unset)");
	config_mask_key("", out, sizeof out);
	assert_string_equal(out, "(unset)");
	config_mask_key("sk-SECRET", out, sizeof out);
	assert_string_equal(out, "****");
	config_mask_key("SECRETSECRETSECRET1", out, sizeof out);
	assert_string_equal(out, "****");
	config_mask_key(FAKE_ANTHROPIC, out, sizeof out);
	assert_string_equal(out, "sk-ant-...abcd");
	config_mask_key(FAKE_OPENAI, out, sizeof out);
	assert_string_equal(out, "sk-...5678");
	config_mask_key("0123456789abcdef0123456789abcdef", out, sizeof out);
	assert_string_equal(out, "0123...cdef");
	config_mask_key(FAKE_AZURE, out, sizeof out);
	assert_no_secret(out);
	/* A short buffer truncates, never overflows. */
	memset(out, 'Z', sizeof out);
	config_mask_key(FAKE_ANTHROPIC, out, 5);
	assert_string_equal(out, "sk-a");
	assert_int_equal(out[5], 'Z');
	config_mask_key(FAKE_ANTHROPIC, out, 0);
	assert_int_equal(out[0], 's');
}

/* No message in any failing path formats a resolved key. */
static void
test_key_never_in_errors(void **state)
{
	const char *env[] = {"ANTHROPIC_API_KEY", FAKE_ANTHROPIC, "OPENAI_API_KEY", FAKE_OPENAI,
	    "LLM_PRIMARY_PROVIDER", "nobody", NULL};
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_apply_env(&cfg, fake_getenv, env, &cause), -1);
	assert_no_secret(cause);
	free(cause);
	env[4] = NULL;
	assert_int_equal(config_apply_env(&cfg, fake_getenv, env, &cause), 0);
	assert_int_equal(config_load_string(&cfg, "{\"routes\":{\"X\":{\"primary\":\"y\"}}}", "s",
	                     &cause),
	    0);
	assert_int_equal(config_validate(&cfg, &cause), -1);
	assert_string_equal(cause,
	    "config: route \"X\": primary \"y\" is not a configured "
	    "provider");
	free(cause);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_priority_and_weight_limits),
	    cmocka_unit_test(test_provider_and_model_extras),
	    cmocka_unit_test(test_hedge_balance_and_learned_timeouts),
	    cmocka_unit_test(test_failed_load_keeps_config),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_file_io_errors),
	    cmocka_unit_test(test_env_errors),
	    cmocka_unit_test(test_env_only_anthropic),
	    cmocka_unit_test(test_env_everything),
	    cmocka_unit_test(test_env_cache_bool),
	    cmocka_unit_test(test_env_over_file),
	    cmocka_unit_test(test_validate_errors),
	    cmocka_unit_test(test_config_load),
	    cmocka_unit_test(test_config_find_file),
	    cmocka_unit_test(test_mask_key),
	    cmocka_unit_test(test_key_never_in_errors),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
