/*
 * fuzz_config.c: the config loader, through its public API (config.h).
 * An input is a JSON config file, read by config_load_string() then loaded a
 * second time over itself (the merge), checked, copied and freed; or, if it
 * starts with "env\n", lines NAME=VALUE that config_apply_env() reads as the
 * environment. A refusal must name the origin in one line and leave the
 * config as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz.h"
#include "util/util.h"

#define ORIGIN "fuzz.json"

/*
 * A refusal is one line even when it quotes the file's strings (an unknown
 * kind holding a newline, a model alias): found by this harness, fixed in
 * config_parse_error() and validate_error(); inputs in regress/config/.
 */
#ifndef CONFIG_CAUSE_ONE_LINE
#define CONFIG_CAUSE_ONE_LINE 1
#endif

static void
check_cause(char *cause, const char *origin)
{
	FUZZ_CHECK(cause != NULL && cause[0] != '\0');
	if (CONFIG_CAUSE_ONE_LINE)
		fuzz_check_message(cause, strlen(cause) + 1);
	FUZZ_CHECK(origin == NULL || strstr(cause, origin) != NULL);
	free(cause);
}

/* The whole config, as far as a refusal must leave it untouched. */
static int
same_shape(const struct config *a, const struct config *b)
{
	return a->n_providers == b->n_providers && a->n_models == b->n_models &&
	    a->n_routes == b->n_routes && a->budget.daily_usd == b->budget.daily_usd &&
	    a->budget.n_ladder == b->budget.n_ladder && a->cache.enabled == b->cache.enabled &&
	    a->cache.ttl_seconds == b->cache.ttl_seconds &&
	    a->breaker.failure_threshold == b->breaker.failure_threshold;
}

/* Loaded, then checked and copied the ways the program does. */
static void
use(struct config *cfg)
{
	struct config copy;
	char *cause = NULL;

	if (config_validate(cfg, &cause) != 0)
		check_cause(cause, NULL);
	config_copy(&copy, cfg);
	FUZZ_CHECK(same_shape(&copy, cfg));
	for (size_t i = 0; i < cfg->n_providers; i++) {
		FUZZ_CHECK(cfg->providers[i].name != NULL);
		FUZZ_CHECK(config_provider(cfg, cfg->providers[i].name) != NULL);
	}
	config_add_default_routes(&copy);
	cause = NULL;
	if (config_validate(&copy, &cause) != 0)
		check_cause(cause, NULL);
	config_free(&copy);
}

static void
json_mode(const char *text)
{
	struct config cfg, before;
	char *cause = NULL;

	config_init(&cfg);
	config_init(&before);
	if (config_load_string(&cfg, text, ORIGIN, &cause) != 0) {
		check_cause(cause, ORIGIN);
		FUZZ_CHECK(same_shape(&cfg, &before));
		fuzz_refused = 1;
	} else {
		fuzz_refused = 0;
		use(&cfg);
		/* The same file over itself: merged or refused, never half applied. */
		config_free(&before);
		config_copy(&before, &cfg);
		cause = NULL;
		if (config_load_string(&cfg, text, ORIGIN, &cause) != 0) {
			check_cause(cause, ORIGIN);
			FUZZ_CHECK(same_shape(&cfg, &before));
		} else
			use(&cfg);
	}
	config_free(&before);
	config_free(&cfg);
}

/* getenv over "NAME=VALUE" lines; the first line naming the variable wins. */
static const char *
lines_getenv(const char *name, void *arg)
{
	char **lines = arg;
	size_t n = strlen(name);

	for (size_t i = 0; lines[i] != NULL; i++)
		if (strncmp(lines[i], name, n) == 0 && lines[i][n] == '=')
			return lines[i] + n + 1;
	return NULL;
}

static void
env_mode(char *text)
{
	char *lines[65], *p = text, *nl;
	size_t n = 0;
	struct config cfg, before;
	char *cause = NULL;

	while (n < nitems(lines) - 1 && *p != '\0') {
		lines[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	lines[n] = NULL;
	config_init(&cfg);
	config_init(&before);
	if (config_apply_env(&cfg, lines_getenv, lines, &cause) != 0) {
		check_cause(cause, NULL);
		FUZZ_CHECK(same_shape(&cfg, &before));
		fuzz_refused = 1;
	} else {
		fuzz_refused = 0;
		use(&cfg);
	}
	config_free(&before);
	config_free(&cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);

	if (strncmp(text, "env\n", 4) == 0)
		env_mode(text + 4);
	else
		json_mode(text);
	free(text);
	return 0;
}
