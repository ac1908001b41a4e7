/*
 * config.c: the configuration model: defaults (pricing table, downgrade ladder,
 * budget, cache and breaker settings), deep copies, frees and lookups. Reading
 * the file is config_file.c, the environment config_env.c, the checks
 * config_check.c; all of them work on a copy and swap it in on success.
 */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_priv.h"
#include "util/util.h"

#define AZURE_API_VERSION "2024-10-21"

#define SRC_ANTHROPIC \
	"anthropic.com/pricing (PROTOCOLS.md); cache: read 0.1x, 5m write 1.25x, 1h write 2x " \
	"input"
#define SRC_OPENAI "secondary sources, unverified (PROTOCOLS.md)"
#define SRC_MISTRAL "secondary sources, unverified (PROTOCOLS.md)"

const char *const config_kind_names[CONFIG_N_KINDS] = {"anthropic", "openai", "azure"};
const char *const config_flavor_names[CONFIG_N_FLAVORS] = {
    "openai", "mistral", "vllm", "llamacpp", "ollama"};
/*
 * PROTOCOLS.md's price list; every entry says where its price came from.
 * Anthropic prompt caching (anthropic.com/pricing, "Prompt caching"): a read
 * costs 0.1x the input price, a 5-minute write 1.25x, a 1-hour write 2x.
 * OpenAI bills cache writes at the input price and reads at its "cached input"
 * price (gpt-4o $1.25, gpt-4o-mini $0.075; gpt-4-turbo has none). max_output
 * is the model's documented output limit (Anthropic's models overview; OpenAI's
 * model pages), 0 where no separate limit is documented.
 */
#define CACHE_READ(in) ((in)*0.1)
#define CACHE_WRITE_5M(in) ((in)*1.25)
#define CACHE_WRITE_1H(in) ((in)*2.0)
static const struct {
	const char *alias;
	const char *id;
	double input;
	double output;
	double cache_read;     /* < 0: the input price */
	double cache_write;    /* < 0: the input price */
	double cache_write_1h; /* < 0: cache_write */
	int64_t context;
	int64_t max_output;
	const char *source;
} default_models[] = {
    {"claude-opus", "claude-opus-4-20250514", 15.0, 75.0, CACHE_READ(15.0), CACHE_WRITE_5M(15.0),
        CACHE_WRITE_1H(15.0), 200000, 32000, SRC_ANTHROPIC},
    {"claude-sonnet", "claude-sonnet-4-20250514", 3.0, 15.0, CACHE_READ(3.0), CACHE_WRITE_5M(3.0),
        CACHE_WRITE_1H(3.0), 200000, 64000, SRC_ANTHROPIC},
    {"claude-haiku", "claude-haiku-4-5", 1.0, 5.0, CACHE_READ(1.0), CACHE_WRITE_5M(1.0),
        CACHE_WRITE_1H(1.0), 200000, 64000, SRC_ANTHROPIC},
    {"claude-haiku-3.5", "claude-3-5-haiku-20241022", 0.80, 4.0, CACHE_READ(0.80),
        CACHE_WRITE_5M(0.80), CACHE_WRITE_1H(0.80), 200000, 8192, SRC_ANTHROPIC},
    {"gpt-4o", "gpt-4o", 2.50, 10.0, 1.25, -1, -1, 128000, 16384, SRC_OPENAI},
    {"gpt-4o-mini", "gpt-4o-mini", 0.15, 0.60, 0.075, -1, -1, 128000, 16384, SRC_OPENAI},
    {"gpt-4-turbo", "gpt-4-turbo", 10.0, 30.0, -1, -1, -1, 128000, 4096, SRC_OPENAI},
    {"mistral-large", "mistral-large-latest", 2.0, 6.0, -1, -1, -1, 128000, 0, SRC_MISTRAL},
    {"mistral-small", "mistral-small-latest", 0.2, 0.6, -1, -1, -1, 32000, 0,
        "unverified (not in PROTOCOLS.md)"},
    {"llama", "llama3.1", -1.0, -1.0, -1, -1, -1, 128000, 0,
        "self-hosted: unpriced unless the config gives a price"},
};

/* The seed's CostOptimizer fallbacks: each model to the next cheaper one. */
static const struct {
	const char *from;
	const char *to;
} default_ladder[] = {
    {"claude-opus", "claude-sonnet"},
    {"claude-sonnet", "claude-haiku"},
    {"gpt-4-turbo", "gpt-4o"},
    {"gpt-4o", "gpt-4o-mini"},
    {"mistral-large", "mistral-small"},
};

const char *
provider_kind_name(enum provider_kind kind)
{
	if ((size_t)kind < nitems(config_kind_names))
		return config_kind_names[kind];
	return "unknown";
}

const char *
provider_flavor_name(enum provider_flavor flavor)
{
	if ((size_t)flavor < nitems(config_flavor_names))
		return config_flavor_names[flavor];
	return "unknown";
}

char *
config_dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
config_replace_str(char **dst, const char *s)
{
	char *copy = config_dupnull(s);

	free(*dst);
	*dst = copy;
}

static char **
strv_copy(char *const *v, size_t n)
{
	char **out;

	if (n == 0)
		return NULL;
	out = xreallocarray(NULL, n, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void
config_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
config_strv_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

void
config_provider_init(struct provider_conf *pc, enum provider_kind kind)
{
	memset(pc, 0, sizeof *pc);
	pc->kind = kind;
	pc->flavor = FLAVOR_OPENAI;
	pc->priority = 1;
	pc->weight = 1.0;
	pc->timeout_seconds = 60.0;
	pc->max_retries = 2;
	pc->tls_verify = 1;
	pc->enabled = 1;
	if (kind == PROVIDER_AZURE)
		pc->api_version = xstrdup(AZURE_API_VERSION);
}

void
config_provider_free(struct provider_conf *pc)
{
	free(pc->name);
	free(pc->base_url);
	free(pc->api_key_env);
	if (pc->api_key != NULL) {
		explicit_bzero(pc->api_key, strlen(pc->api_key));
		free(pc->api_key);
	}
	config_strv_free(pc->models, pc->n_models);
	free(pc->api_version);
	free(pc->entra_token_env);
	free(pc->keep_alive);
	free(pc->ca_file);
	memset(pc, 0, sizeof *pc);
}

static void
provider_copy(struct provider_conf *dst, const struct provider_conf *src)
{
	*dst = *src;
	dst->name = config_dupnull(src->name);
	dst->base_url = config_dupnull(src->base_url);
	dst->api_key_env = config_dupnull(src->api_key_env);
	dst->api_key = config_dupnull(src->api_key);
	dst->models = strv_copy(src->models, src->n_models);
	dst->api_version = config_dupnull(src->api_version);
	dst->entra_token_env = config_dupnull(src->entra_token_env);
	dst->keep_alive = config_dupnull(src->keep_alive);
	dst->ca_file = config_dupnull(src->ca_file);
}

void
config_model_free(struct model_conf *m)
{
	free(m->alias);
	free(m->id);
	free(m->source);
	memset(m, 0, sizeof *m);
}

void
config_model_copy(struct model_conf *dst, const struct model_conf *src)
{
	*dst = *src;
	dst->alias = config_dupnull(src->alias);
	dst->id = config_dupnull(src->id);
	dst->source = config_dupnull(src->source);
}

void
config_route_free(struct route_conf *r)
{
	free(r->name);
	free(r->primary);
	config_strv_free(r->fallback, r->n_fallback);
	free(r->model);
	memset(r, 0, sizeof *r);
}

static void
route_copy(struct route_conf *dst, const struct route_conf *src)
{
	dst->name = config_dupnull(src->name);
	dst->primary = config_dupnull(src->primary);
	dst->fallback = strv_copy(src->fallback, src->n_fallback);
	dst->n_fallback = src->n_fallback;
	dst->model = config_dupnull(src->model);
	dst->hedge_after_ms = src->hedge_after_ms;
	dst->balance = src->balance;
}

void
config_ladder_free(struct budget_conf *b)
{
	for (size_t i = 0; i < b->n_ladder; i++) {
		free(b->ladder[i].from);
		free(b->ladder[i].to);
	}
	free(b->ladder);
	b->ladder = NULL;
	b->n_ladder = 0;
}

void
config_ladder_push(struct budget_conf *b, const char *from, const char *to)
{
	b->ladder = xreallocarray(b->ladder, b->n_ladder + 1, sizeof *b->ladder);
	b->ladder[b->n_ladder].from = xstrdup(from);
	b->ladder[b->n_ladder].to = xstrdup(to);
	b->n_ladder++;
}

struct provider_conf *
config_provider_find(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_providers; i++) {
		if (strcmp(cfg->providers[i].name, name) == 0)
			return &cfg->providers[i];
	}
	return NULL;
}

struct model_conf *
config_model_find(struct config *cfg, const char *alias)
{
	for (size_t i = 0; i < cfg->n_models; i++) {
		if (strcmp(cfg->models[i].alias, alias) == 0)
			return &cfg->models[i];
	}
	return NULL;
}

struct route_conf *
config_route_find(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_routes; i++) {
		if (strcmp(cfg->routes[i].name, name) == 0)
			return &cfg->routes[i];
	}
	return NULL;
}

const struct provider_conf *
config_provider(const struct config *cfg, const char *name)
{
	return config_provider_find((struct config *)cfg, name);
}

const struct model_conf *
config_model(const struct config *cfg, const char *alias)
{
	return config_model_find((struct config *)cfg, alias);
}

const struct route_conf *
config_route(const struct config *cfg, const char *name)
{
	return config_route_find((struct config *)cfg, name);
}

/* Takes ownership of *pc (which is cleared). */
struct provider_conf *
config_provider_append(struct config *cfg, struct provider_conf *pc)
{
	cfg->providers =
	    xreallocarray(cfg->providers, cfg->n_providers + 1, sizeof *cfg->providers);
	cfg->providers[cfg->n_providers] = *pc;
	memset(pc, 0, sizeof *pc);
	return &cfg->providers[cfg->n_providers++];
}

static struct model_conf *
model_add(struct config *cfg, const char *alias)
{
	struct model_conf *m;

	cfg->models = xreallocarray(cfg->models, cfg->n_models + 1, sizeof *cfg->models);
	m = &cfg->models[cfg->n_models++];
	memset(m, 0, sizeof *m);
	m->alias = xstrdup(alias);
	m->id = xstrdup(alias);
	m->input_per_mtok = -1.0;
	m->output_per_mtok = -1.0;
	m->cache_read_per_mtok = -1.0;
	m->cache_write_per_mtok = -1.0;
	m->cache_write_1h_per_mtok = -1.0;
	m->source = xstrdup(SRC_UNPRICED);
	return m;
}

/* Takes ownership of *r; a route of the same name is replaced. */
void
config_route_set(struct config *cfg, struct route_conf *r)
{
	struct route_conf *old = config_route_find(cfg, r->name);

	if (old != NULL) {
		config_route_free(old);
		*old = *r;
	} else {
		cfg->routes = xreallocarray(cfg->routes, cfg->n_routes + 1, sizeof *cfg->routes);
		cfg->routes[cfg->n_routes++] = *r;
	}
	memset(r, 0, sizeof *r);
}

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);

	for (size_t i = 0; i < nitems(default_models); i++) {
		struct model_conf *m = model_add(cfg, default_models[i].alias);

		config_replace_str(&m->id, default_models[i].id);
		m->input_per_mtok = default_models[i].input;
		m->output_per_mtok = default_models[i].output;
		m->cache_read_per_mtok = default_models[i].cache_read;
		m->cache_write_per_mtok = default_models[i].cache_write;
		m->cache_write_1h_per_mtok = default_models[i].cache_write_1h;
		m->context_tokens = default_models[i].context;
		m->max_output_tokens = default_models[i].max_output;
		config_replace_str(&m->source, default_models[i].source);
	}

	cfg->budget.daily_usd = 0.0;
	cfg->budget.alert_threshold = 0.8;
	cfg->budget.hard_stop = 1;
	cfg->budget.timezone = xstrdup("UTC");
	cfg->budget.pressure = 0.2;
	for (size_t i = 0; i < nitems(default_ladder); i++)
		config_ladder_push(&cfg->budget, default_ladder[i].from, default_ladder[i].to);
	cfg->budget.tier_high_complex = xstrdup("claude-opus");
	cfg->budget.tier_high = xstrdup("claude-sonnet");
	cfg->budget.tier_standard = xstrdup("claude-sonnet");
	cfg->budget.tier_low = xstrdup("claude-haiku");

	cfg->cache.enabled = 1;
	cfg->cache.ttl_seconds = 3600;
	cfg->cache.max_temperature = 0.3;
	cfg->cache.max_entries = 10000;
	cfg->responses.ttl_seconds = 30 * 86400;
	/* An answer still waits for its row's commit; the commit waits for no fsync (a crash of
	 * llmdeck loses nothing; README "Spend, budget and cache" says what a power loss can). */
	cfg->ledger.durability = LEDGER_DURABILITY_NORMAL;

	cfg->breaker.failure_threshold = 5;
	cfg->breaker.cooldown_ms = 30000;
	cfg->breaker.half_open_max = 1;
	cfg->breaker.probe_interval_ms = 10000;

	cfg->balance = BALANCE_WEIGHTED;
	cfg->learn.enabled = 1;
	cfg->learn.multiple = 3;
	cfg->learn.floor_ms = 1000;
	cfg->learn.min_samples = 20;
	cfg->learn.hedge_min_ms = 50;
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	for (size_t i = 0; i < cfg->n_providers; i++)
		config_provider_free(&cfg->providers[i]);
	free(cfg->providers);
	for (size_t i = 0; i < cfg->n_models; i++)
		config_model_free(&cfg->models[i]);
	free(cfg->models);
	for (size_t i = 0; i < cfg->n_routes; i++)
		config_route_free(&cfg->routes[i]);
	free(cfg->routes);
	config_ladder_free(&cfg->budget);
	free(cfg->budget.timezone);
	free(cfg->store.url);
	free(cfg->budget.tier_high_complex);
	free(cfg->budget.tier_high);
	free(cfg->budget.tier_standard);
	free(cfg->budget.tier_low);
	memset(cfg, 0, sizeof *cfg);
}

void
config_copy(struct config *dst, const struct config *src)
{
	memset(dst, 0, sizeof *dst);
	dst->path = config_dupnull(src->path);
	if (src->n_providers > 0) {
		dst->providers = xreallocarray(NULL, src->n_providers, sizeof *dst->providers);
		for (size_t i = 0; i < src->n_providers; i++)
			provider_copy(&dst->providers[i], &src->providers[i]);
	}
	dst->n_providers = src->n_providers;
	if (src->n_models > 0) {
		dst->models = xreallocarray(NULL, src->n_models, sizeof *dst->models);
		for (size_t i = 0; i < src->n_models; i++)
			config_model_copy(&dst->models[i], &src->models[i]);
	}
	dst->n_models = src->n_models;
	if (src->n_routes > 0) {
		dst->routes = xreallocarray(NULL, src->n_routes, sizeof *dst->routes);
		for (size_t i = 0; i < src->n_routes; i++)
			route_copy(&dst->routes[i], &src->routes[i]);
	}
	dst->n_routes = src->n_routes;

	dst->budget = src->budget;
	dst->budget.ladder = NULL;
	dst->budget.n_ladder = 0;
	for (size_t i = 0; i < src->budget.n_ladder; i++)
		config_ladder_push(&dst->budget, src->budget.ladder[i].from,
		    src->budget.ladder[i].to);
	dst->budget.timezone = config_dupnull(src->budget.timezone);
	dst->budget.tier_high_complex = config_dupnull(src->budget.tier_high_complex);
	dst->budget.tier_high = config_dupnull(src->budget.tier_high);
	dst->budget.tier_standard = config_dupnull(src->budget.tier_standard);
	dst->budget.tier_low = config_dupnull(src->budget.tier_low);
	dst->cache = src->cache;
	dst->ledger = src->ledger;
	dst->store.url = config_dupnull(src->store.url);
	dst->responses = src->responses;
	dst->breaker = src->breaker;
	dst->hedge_after_ms = src->hedge_after_ms;
	dst->balance = src->balance;
	dst->learn = src->learn;
}
void
config_mask_key(const char *key, char *out, size_t outlen)
{
	size_t len, pre = 0;
	char tmp[32];

	if (outlen == 0)
		return;
	if (key == NULL || *key == '\0') {
		strlcpy_(out, "(unset)", outlen);
		return;
	}
	len = strlen(key);
	if (len < 20) {
		strlcpy_(out, "****", outlen);
		return;
	}
	/* Keep the vendor prefix ("sk-ant-") when there is one: it says what the key is. */
	for (size_t i = 0; i < 7; i++) {
		if (key[i] == '-' || key[i] == '_')
			pre = i + 1;
	}
	if (pre < 3)
		pre = 4;
	snprintf(tmp, sizeof tmp, "%.*s...%s", (int)pre, key, key + len - 4);
	strlcpy_(out, tmp, outlen);
}
