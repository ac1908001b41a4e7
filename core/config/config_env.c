/*
 * config_env.c: the seed's environment variables over a loaded config (keys,
 * Azure endpoint, primary and fallback, timeout, retries, budget, cache) and
 * the seed's paradigm routes. Values that might be credentials are never
 * quoted in an error.
 */
#include "config/config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_priv.h"
#include "util/util.h"

/* The seed's paradigm table. */
static const struct {
	const char *name;
	const char *primary;
	const char *fallback;
} default_routes[] = {
    {"LSR", "anthropic", "openai"},
    {"GS", "anthropic", "openai"},
    {"EP", "anthropic", "openai"},
    {"VE", "openai", "anthropic"},
};

static const char *const anthropic_models[] = {"claude-sonnet", "claude-haiku", "claude-opus"};
static const char *const openai_models[] = {"gpt-4o", "gpt-4o-mini", "gpt-4-turbo"};
static const char *const azure_models[] = {"gpt-4o", "gpt-4o-mini"};

struct env {
	const char *(*get)(const char *, void *);
	void *arg;
};

static const char *
env_get(const struct env *e, const char *name)
{
	const char *v = e->get(name, e->arg);

	return v != NULL && *v != '\0' ? v : NULL;
}

static const char *
real_getenv(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

/* A value quoted for an error message, unless it might be a credential. */
static int
env_error(char **cause, const char *var, const char *expected, const char *value)
{
	if (config_looks_like_key(value) || strlen(value) > 64)
		*cause = xasprintf("%s: expected %s, got a value that is not one", var, expected);
	else
		*cause = xasprintf("%s: expected %s, got \"%s\"", var, expected, value);
	return -1;
}

static int
env_number(const char *s, double *out)
{
	return parse_double(s, -HUGE_VAL, HUGE_VAL, out);
}

static int
env_integer(const char *s, long *out)
{
	return parse_long(s, LONG_MIN, LONG_MAX, out);
}

static int
env_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static struct provider_conf *
env_add_provider(struct config *cfg, const char *var, const char *name, enum provider_kind kind,
    const char *base_url, const char *const *models, size_t n, char **cause)
{
	struct provider_conf pc, *old;

	if ((old = config_provider_find(cfg, name)) != NULL) {
		*cause = xasprintf("%s: cannot add provider \"%s\": a provider of kind %s "
		                   "already has that name",
		    var, name, provider_kind_name(old->kind));
		return NULL;
	}
	config_provider_init(&pc, kind);
	pc.name = xstrdup(name);
	pc.base_url = xstrdup(base_url);
	pc.api_key_env = xstrdup(var);
	for (size_t i = 0; i < n; i++)
		config_strv_push(&pc.models, &pc.n_models, models[i]);
	return config_provider_append(cfg, &pc);
}

static int
has_provider(const struct config *cfg, enum provider_kind kind, int openai_proper)
{
	for (size_t i = 0; i < cfg->n_providers; i++) {
		const struct provider_conf *pc = &cfg->providers[i];

		if (pc->kind == kind && (!openai_proper || pc->flavor == FLAVOR_OPENAI))
			return 1;
	}
	return 0;
}

static int
env_azure(struct config *cfg, const struct env *e, char **cause)
{
	const char *endpoint = env_get(e, "AZURE_OPENAI_ENDPOINT");
	const char *key = env_get(e, "AZURE_OPENAI_KEY");
	struct provider_conf *pc;
	int matched = 0;
	char *url = NULL;

	if (endpoint != NULL) {
		struct config_parse p = {"AZURE_OPENAI_ENDPOINT", cause};

		url = xstrdup(endpoint);
		if (config_check_url(&p, NULL, url) != 0) {
			free(url);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->n_providers; i++) {
		pc = &cfg->providers[i];
		if (pc->kind != PROVIDER_AZURE || pc->api_key_env == NULL ||
		    strcmp(pc->api_key_env, "AZURE_OPENAI_KEY") != 0)
			continue;
		matched = 1;
		if (url != NULL)
			config_replace_str(&pc->base_url, url);
	}
	if (matched || (url == NULL && key == NULL)) {
		free(url);
		return 0;
	}
	if (url == NULL || key == NULL) {
		*cause = xasprintf("%s is set but %s is not: set both AZURE_OPENAI_ENDPOINT and "
		                   "AZURE_OPENAI_KEY, or neither",
		    url != NULL ? "AZURE_OPENAI_ENDPOINT" : "AZURE_OPENAI_KEY",
		    url != NULL ? "AZURE_OPENAI_KEY" : "AZURE_OPENAI_ENDPOINT");
		free(url);
		return -1;
	}
	pc = env_add_provider(cfg, "AZURE_OPENAI_KEY", "azure", PROVIDER_AZURE, url, azure_models,
	    nitems(azure_models), cause);
	free(url);
	return pc != NULL ? 0 : -1;
}

static struct provider_conf *
env_provider(struct config *cfg, const char *var, const char *name, char **cause)
{
	struct provider_conf *pc = config_provider_find(cfg, name);
	const char **names;
	const char *s = NULL;

	if (pc != NULL)
		return pc;
	names = xreallocarray(NULL, cfg->n_providers + 1, sizeof *names);
	for (size_t i = 0; i < cfg->n_providers; i++)
		names[i] = cfg->providers[i].name;
	if (!config_looks_like_key(name) && strlen(name) <= 64)
		s = config_suggest(name, names, cfg->n_providers, 0);
	if (config_looks_like_key(name) || strlen(name) > 64)
		*cause = xasprintf("%s: no such provider", var);
	else if (s != NULL)
		*cause =
		    xasprintf("%s: no provider named \"%s\" (did you mean \"%s\"?)", var, name, s);
	else if (cfg->n_providers == 0)
		*cause = xasprintf("%s: no provider named \"%s\" (no providers are configured)",
		    var, name);
	else
		*cause = xasprintf("%s: no provider named \"%s\"", var, name);
	free(names);
	return NULL;
}

static int
env_primary_fallback(struct config *cfg, const struct env *e, char **cause)
{
	const char *primary = env_get(e, "LLM_PRIMARY_PROVIDER");
	const char *fallback = env_get(e, "LLM_FALLBACK_PROVIDER");
	struct provider_conf *pp = NULL, *fp = NULL;
	struct route_conf r;

	if (primary != NULL &&
	    (pp = env_provider(cfg, "LLM_PRIMARY_PROVIDER", primary, cause)) == NULL)
		return -1;
	if (fallback != NULL &&
	    (fp = env_provider(cfg, "LLM_FALLBACK_PROVIDER", fallback, cause)) == NULL)
		return -1;
	if (pp != NULL && pp == fp) {
		*cause = xstrdup("LLM_PRIMARY_PROVIDER and LLM_FALLBACK_PROVIDER name the same "
		                 "provider");
		return -1;
	}
	/* Primary first, fallback next, everyone else after them: what the variables say. */
	for (size_t i = 0; i < cfg->n_providers && (pp != NULL || fp != NULL); i++) {
		struct provider_conf *pc = &cfg->providers[i];

		if (pc == pp)
			pc->priority = 1;
		else if (pc == fp)
			pc->priority = 2;
		else if (pc->priority < 3)
			pc->priority = 3;
	}
	if (pp == NULL)
		return 0;
	memset(&r, 0, sizeof r);
	r.name = xstrdup("default");
	r.primary = xstrdup(pp->name);
	if (fp != NULL)
		config_strv_push(&r.fallback, &r.n_fallback, fp->name);
	config_route_set(cfg, &r);
	return 0;
}

static int
env_settings(struct config *cfg, const struct env *e, char **cause)
{
	const char *s;
	double d;
	long l;
	int b;

	if ((s = env_get(e, "LLM_TIMEOUT_SECONDS")) != NULL) {
		if (env_number(s, &d) != 0 || d <= 0 || d > CONFIG_MAX_SECONDS)
			return env_error(cause, "LLM_TIMEOUT_SECONDS",
			    "a positive number of seconds (at most 86400)", s);
		for (size_t i = 0; i < cfg->n_providers; i++)
			cfg->providers[i].timeout_seconds = d;
	}
	if ((s = env_get(e, "LLM_MAX_RETRIES")) != NULL) {
		if (env_integer(s, &l) != 0 || l < 0 || l > 10)
			return env_error(cause, "LLM_MAX_RETRIES", "an integer 0..10", s);
		for (size_t i = 0; i < cfg->n_providers; i++)
			cfg->providers[i].max_retries = (int)l;
	}
	if ((s = env_get(e, "LLM_DAILY_BUDGET")) != NULL) {
		if (env_number(s, &d) != 0 || d < 0)
			return env_error(cause, "LLM_DAILY_BUDGET", "a number of USD >= 0", s);
		cfg->budget.daily_usd = d;
	}
	if ((s = env_get(e, "LLM_ALERT_THRESHOLD")) != NULL) {
		if (env_number(s, &d) != 0 || d <= 0 || d > 1)
			return env_error(cause, "LLM_ALERT_THRESHOLD", "a number in (0, 1]", s);
		cfg->budget.alert_threshold = d;
	}
	if ((s = env_get(e, "LLM_CACHE_ENABLED")) != NULL) {
		if (env_bool(s, &b) != 0)
			return env_error(cause, "LLM_CACHE_ENABLED", "true, false, 1, 0, yes or no",
			    s);
		cfg->cache.enabled = b;
	}
	if ((s = env_get(e, "LLM_CACHE_TTL")) != NULL) {
		if (env_integer(s, &l) != 0 || l <= 0 || l > INT_MAX)
			return env_error(cause, "LLM_CACHE_TTL", "a positive integer (seconds)", s);
		cfg->cache.ttl_seconds = (int)l;
	}
	return 0;
}

void
config_add_default_routes(struct config *cfg)
{
	struct route_conf r;

	for (size_t i = 0; i < nitems(default_routes); i++) {
		if (config_route_find(cfg, default_routes[i].name) != NULL ||
		    config_provider_find(cfg, default_routes[i].primary) == NULL)
			continue;
		memset(&r, 0, sizeof r);
		r.name = xstrdup(default_routes[i].name);
		r.primary = xstrdup(default_routes[i].primary);
		if (config_provider_find(cfg, default_routes[i].fallback) != NULL)
			config_strv_push(&r.fallback, &r.n_fallback, default_routes[i].fallback);
		config_route_set(cfg, &r);
	}
}

static int
apply_env(struct config *cfg, const struct env *e, char **cause)
{
	if (env_get(e, "ANTHROPIC_API_KEY") != NULL && !has_provider(cfg, PROVIDER_ANTHROPIC, 0) &&
	    env_add_provider(cfg, "ANTHROPIC_API_KEY", "anthropic", PROVIDER_ANTHROPIC,
	        "https://api.anthropic.com", anthropic_models, nitems(anthropic_models),
	        cause) == NULL)
		return -1;
	if (env_get(e, "OPENAI_API_KEY") != NULL && !has_provider(cfg, PROVIDER_OPENAI, 1) &&
	    env_add_provider(cfg, "OPENAI_API_KEY", "openai", PROVIDER_OPENAI,
	        "https://api.openai.com", openai_models, nitems(openai_models), cause) == NULL)
		return -1;
	if (env_azure(cfg, e, cause) != 0)
		return -1;
	for (size_t i = 0; i < cfg->n_providers; i++) {
		struct provider_conf *pc = &cfg->providers[i];

		if (pc->api_key_env != NULL)
			config_replace_str(&pc->api_key, env_get(e, pc->api_key_env));
	}
	if (env_primary_fallback(cfg, e, cause) != 0)
		return -1;
	if (env_settings(cfg, e, cause) != 0)
		return -1;
	config_add_default_routes(cfg);
	return 0;
}

int
config_apply_env(struct config *cfg, const char *(*getenv_fn)(const char *, void *), void *arg,
    char **cause)
{
	struct env e = {getenv_fn != NULL ? getenv_fn : real_getenv, arg};
	struct config tmp;

	config_copy(&tmp, cfg);
	if (apply_env(&tmp, &e, cause) != 0) {
		config_free(&tmp);
		return -1;
	}
	config_free(cfg);
	*cfg = tmp;
	return 0;
}
