/*
 * config.c: defaults, the JSON config file, the seed's environment variables and
 * the cross-reference checks. Loading works on a copy and replaces the caller's
 * config only on success, so a rejected file leaves the running config intact.
 * API keys are read from the environment only and never formatted into a message.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util.h"

#define CONFIG_MAX_FILE (4 * 1024 * 1024)
#define CONFIG_PATH_LEN 512
#define CONFIG_MAX_SECONDS 86400.0
#define CONFIG_MAX_INT64 ((int64_t)1 << 53)
#define AZURE_API_VERSION "2024-10-21"

#define KEYS_IN_ENV \
	"API keys belong in the environment, not in the config file: put the " \
	"key in an environment variable and name that variable in \"api_key_env\""

#define SRC_ANTHROPIC "anthropic.com/pricing (PROTOCOLS.md)"
#define SRC_OPENAI "secondary sources, unverified (PROTOCOLS.md)"
#define SRC_MISTRAL "secondary sources, unverified (PROTOCOLS.md)"
#define SRC_UNPRICED "unpriced (no price configured)"

static const char *const kind_names[] = {"anthropic", "openai", "azure"};
static const char *const flavor_names[] = {"openai", "mistral", "vllm", "llamacpp", "ollama"};

/* PROTOCOLS.md's price list; every entry says where its price came from. */
static const struct {
	const char *alias;
	const char *id;
	double input;
	double output;
	int64_t context;
	const char *source;
} default_models[] = {
    {"claude-opus", "claude-opus-4-20250514", 15.0, 75.0, 200000, SRC_ANTHROPIC},
    {"claude-sonnet", "claude-sonnet-4-20250514", 3.0, 15.0, 200000, SRC_ANTHROPIC},
    {"claude-haiku", "claude-haiku-4-5", 1.0, 5.0, 200000, SRC_ANTHROPIC},
    {"claude-haiku-3.5", "claude-3-5-haiku-20241022", 0.80, 4.0, 200000, SRC_ANTHROPIC},
    {"gpt-4o", "gpt-4o", 2.50, 10.0, 128000, SRC_OPENAI},
    {"gpt-4o-mini", "gpt-4o-mini", 0.15, 0.60, 128000, SRC_OPENAI},
    {"gpt-4-turbo", "gpt-4-turbo", 10.0, 30.0, 128000, SRC_OPENAI},
    {"mistral-large", "mistral-large-latest", 2.0, 6.0, 128000, SRC_MISTRAL},
    {"mistral-small", "mistral-small-latest", 0.2, 0.6, 32000, "unverified (not in PROTOCOLS.md)"},
    {"llama", "llama3.1", -1.0, -1.0, 128000,
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

const char *
provider_kind_name(enum provider_kind kind)
{
	if ((size_t)kind < nitems(kind_names))
		return kind_names[kind];
	return "unknown";
}

const char *
provider_flavor_name(enum provider_flavor flavor)
{
	if ((size_t)flavor < nitems(flavor_names))
		return flavor_names[flavor];
	return "unknown";
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
replace_str(char **dst, const char *s)
{
	char *copy = dupnull(s);

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

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
strv_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

/* Optimal string alignment distance, case-insensitive: a transposition counts once. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *d, r;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	d = xcalloc((la + 1) * (lb + 1), sizeof *d);
#define D(i, j) d[(i) * (lb + 1) + (j)]
	for (size_t i = 0; i <= la; i++)
		D(i, 0) = i;
	for (size_t j = 0; j <= lb; j++)
		D(0, j) = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca != cb, v;

			v = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < v)
				v = D(i, j - 1) + 1;
			if (D(i - 1, j - 1) + cost < v)
				v = D(i - 1, j - 1) + cost;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && D(i - 2, j - 2) + 1 < v)
				v = D(i - 2, j - 2) + 1;
			D(i, j) = v;
		}
	}
	r = D(la, lb);
#undef D
	free(d);
	return r;
}

/*
 * The closest candidate, if it is close enough to be what was meant. loose (for key
 * names) also accepts a shared prefix: "ttl" for "ttl_seconds", "cooldown_ms".
 */
static const char *
suggest(const char *word, const char *const *cands, size_t n, int loose)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, limit = strlen(word) / 2;

	if (limit > 3)
		limit = 3;
	if (limit < 1)
		limit = 1;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, cands[i]);

		if (dist < bestd) {
			bestd = dist;
			best = cands[i];
		}
	}
	if (bestd <= limit || !loose)
		return bestd <= limit ? best : NULL;
	best = NULL;
	bestd = 0;
	for (size_t i = 0; i < n; i++) {
		size_t common = 0;

		while (word[common] != '\0' &&
		    tolower((unsigned char)word[common]) == cands[i][common])
			common++;
		if ((word[common] == '\0' && common >= 3) || common >= 6) {
			if (common > bestd) {
				bestd = common;
				best = cands[i];
			}
		}
	}
	return best;
}

/* A string that is probably a credential: a known vendor prefix or a long random token. */
static int
looks_like_key(const char *s)
{
	static const char *const prefixes[] = {
	    "sk-", "sk_", "rk-", "rk_", "xai-", "gsk_", "hf_", "AIza", "ghp_", "github_pat_"};
	size_t len = strlen(s), run = 0, longest = 0;
	int digit = 0, alpha = 0;

	if (strncasecmp(s, "bearer ", 7) == 0)
		return 1;
	for (size_t i = 0; i < nitems(prefixes); i++) {
		size_t pl = strlen(prefixes[i]);

		if (strncmp(s, prefixes[i], pl) == 0 && len >= pl + 12 &&
		    strpbrk(s, " /.:") == NULL)
			return 1;
	}
	if (len < 32)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (isalnum(c)) {
			if (++run > longest)
				longest = run;
			if (isdigit(c))
				digit = 1;
			else
				alpha = 1;
		} else if (c == '-' || c == '_')
			run = 0;
		else
			return 0;
	}
	return digit && alpha && longest >= 24;
}

/* Names people use for a key field; these get the "keys belong in the environment" error. */
static int
is_secret_name(const char *name)
{
	static const char *const names[] = {"api_key", "apikey", "key", "secret", "secret_key",
	    "access_key", "token", "access_token", "auth_token", "password", "authorization",
	    "bearer", "x_api_key", "api_token"};
	char norm[64];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof norm - 1; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	norm[i] = '\0';
	for (i = 0; i < nitems(names); i++) {
		if (strcmp(norm, names[i]) == 0)
			return 1;
	}
	return 0;
}

static int
is_env_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	}
	return 1;
}

/* Provider and route names: shown in the console, typed in commands. */
static int
is_plain_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 64)
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	}
	return 1;
}

/* Model aliases may carry tags ("llama3.1:8b"): anything printable without spaces. */
static int
is_alias(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 128)
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '"')
			return 0;
	}
	return 1;
}

static void
provider_init(struct provider_conf *pc, enum provider_kind kind)
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

static void
provider_free(struct provider_conf *pc)
{
	free(pc->name);
	free(pc->base_url);
	free(pc->api_key_env);
	if (pc->api_key != NULL) {
		explicit_bzero(pc->api_key, strlen(pc->api_key));
		free(pc->api_key);
	}
	strv_free(pc->models, pc->n_models);
	free(pc->api_version);
	memset(pc, 0, sizeof *pc);
}

static void
provider_copy(struct provider_conf *dst, const struct provider_conf *src)
{
	*dst = *src;
	dst->name = dupnull(src->name);
	dst->base_url = dupnull(src->base_url);
	dst->api_key_env = dupnull(src->api_key_env);
	dst->api_key = dupnull(src->api_key);
	dst->models = strv_copy(src->models, src->n_models);
	dst->api_version = dupnull(src->api_version);
}

static void
model_free(struct model_conf *m)
{
	free(m->alias);
	free(m->id);
	free(m->source);
	memset(m, 0, sizeof *m);
}

static void
model_copy(struct model_conf *dst, const struct model_conf *src)
{
	*dst = *src;
	dst->alias = dupnull(src->alias);
	dst->id = dupnull(src->id);
	dst->source = dupnull(src->source);
}

static void
route_free(struct route_conf *r)
{
	free(r->name);
	free(r->primary);
	strv_free(r->fallback, r->n_fallback);
	free(r->model);
	memset(r, 0, sizeof *r);
}

static void
route_copy(struct route_conf *dst, const struct route_conf *src)
{
	dst->name = dupnull(src->name);
	dst->primary = dupnull(src->primary);
	dst->fallback = strv_copy(src->fallback, src->n_fallback);
	dst->n_fallback = src->n_fallback;
	dst->model = dupnull(src->model);
}

static void
ladder_free(struct budget_conf *b)
{
	for (size_t i = 0; i < b->n_ladder; i++) {
		free(b->ladder[i].from);
		free(b->ladder[i].to);
	}
	free(b->ladder);
	b->ladder = NULL;
	b->n_ladder = 0;
}

static void
ladder_push(struct budget_conf *b, const char *from, const char *to)
{
	b->ladder = xreallocarray(b->ladder, b->n_ladder + 1, sizeof *b->ladder);
	b->ladder[b->n_ladder].from = xstrdup(from);
	b->ladder[b->n_ladder].to = xstrdup(to);
	b->n_ladder++;
}

static struct provider_conf *
provider_find(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_providers; i++) {
		if (strcmp(cfg->providers[i].name, name) == 0)
			return &cfg->providers[i];
	}
	return NULL;
}

static struct model_conf *
model_find(struct config *cfg, const char *alias)
{
	for (size_t i = 0; i < cfg->n_models; i++) {
		if (strcmp(cfg->models[i].alias, alias) == 0)
			return &cfg->models[i];
	}
	return NULL;
}

static struct route_conf *
route_find(struct config *cfg, const char *name)
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
	return provider_find((struct config *)cfg, name);
}

const struct model_conf *
config_model(const struct config *cfg, const char *alias)
{
	return model_find((struct config *)cfg, alias);
}

const struct route_conf *
config_route(const struct config *cfg, const char *name)
{
	return route_find((struct config *)cfg, name);
}

/* Takes ownership of *pc (which is cleared). */
static struct provider_conf *
provider_append(struct config *cfg, struct provider_conf *pc)
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
	m->source = xstrdup(SRC_UNPRICED);
	return m;
}

/* Takes ownership of *r; a route of the same name is replaced. */
static void
route_set(struct config *cfg, struct route_conf *r)
{
	struct route_conf *old = route_find(cfg, r->name);

	if (old != NULL) {
		route_free(old);
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

		replace_str(&m->id, default_models[i].id);
		m->input_per_mtok = default_models[i].input;
		m->output_per_mtok = default_models[i].output;
		m->context_tokens = default_models[i].context;
		replace_str(&m->source, default_models[i].source);
	}

	cfg->budget.daily_usd = 0.0;
	cfg->budget.alert_threshold = 0.8;
	cfg->budget.hard_stop = 1;
	cfg->budget.timezone = xstrdup("UTC");
	cfg->budget.pressure = 0.2;
	for (size_t i = 0; i < nitems(default_ladder); i++)
		ladder_push(&cfg->budget, default_ladder[i].from, default_ladder[i].to);
	cfg->budget.tier_high_complex = xstrdup("claude-opus");
	cfg->budget.tier_high = xstrdup("claude-sonnet");
	cfg->budget.tier_standard = xstrdup("claude-sonnet");
	cfg->budget.tier_low = xstrdup("claude-haiku");

	cfg->cache.enabled = 1;
	cfg->cache.ttl_seconds = 3600;
	cfg->cache.max_temperature = 0.3;
	cfg->cache.max_entries = 10000;

	cfg->breaker.failure_threshold = 5;
	cfg->breaker.cooldown_ms = 30000;
	cfg->breaker.half_open_max = 1;
	cfg->breaker.probe_interval_ms = 10000;
}

void
config_free(struct config *cfg)
{
	free(cfg->path);
	for (size_t i = 0; i < cfg->n_providers; i++)
		provider_free(&cfg->providers[i]);
	free(cfg->providers);
	for (size_t i = 0; i < cfg->n_models; i++)
		model_free(&cfg->models[i]);
	free(cfg->models);
	for (size_t i = 0; i < cfg->n_routes; i++)
		route_free(&cfg->routes[i]);
	free(cfg->routes);
	ladder_free(&cfg->budget);
	free(cfg->budget.timezone);
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
	dst->path = dupnull(src->path);
	if (src->n_providers > 0) {
		dst->providers = xreallocarray(NULL, src->n_providers, sizeof *dst->providers);
		for (size_t i = 0; i < src->n_providers; i++)
			provider_copy(&dst->providers[i], &src->providers[i]);
	}
	dst->n_providers = src->n_providers;
	if (src->n_models > 0) {
		dst->models = xreallocarray(NULL, src->n_models, sizeof *dst->models);
		for (size_t i = 0; i < src->n_models; i++)
			model_copy(&dst->models[i], &src->models[i]);
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
		ladder_push(&dst->budget, src->budget.ladder[i].from, src->budget.ladder[i].to);
	dst->budget.timezone = dupnull(src->budget.timezone);
	dst->budget.tier_high_complex = dupnull(src->budget.tier_high_complex);
	dst->budget.tier_high = dupnull(src->budget.tier_high);
	dst->budget.tier_standard = dupnull(src->budget.tier_standard);
	dst->budget.tier_low = dupnull(src->budget.tier_low);
	dst->cache = src->cache;
	dst->breaker = src->breaker;
}

/* ---- parsing the file ---- */

struct parse {
	const char *origin;
	char **cause;
};

static int PRINTFLIKE(3, 4) parse_error(struct parse *p, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (path == NULL || *path == '\0')
		*p->cause = xasprintf("%s: %s", p->origin, msg);
	else
		*p->cause = xasprintf("%s: %s: %s", p->origin, path, msg);
	free(msg);
	return -1;
}

/* base.key, or base["odd key"] when the key is not a plain word. */
static void
path_key(char *out, size_t len, const char *base, const char *key)
{
	int plain = *key != '\0';
	char safe[128];
	size_t i;

	for (const char *s = key; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			plain = 0;
	}
	if (plain) {
		snprintf(out, len, "%s%s%s", base, *base != '\0' ? "." : "", key);
		return;
	}
	for (i = 0; key[i] != '\0' && i < sizeof safe - 1; i++) {
		unsigned char c = key[i];

		safe[i] = (c < ' ' || c == '"' || c == '\\' || c == 0x7f) ? '?' : (char)c;
	}
	safe[i] = '\0';
	snprintf(out, len, "%s[\"%s\"]", base, safe);
}

static void
path_index(char *out, size_t len, const char *base, size_t i)
{
	snprintf(out, len, "%s[%zu]", base, i);
}

static const char *
json_type(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsObject(j))
		return "an object";
	return "an invalid value";
}

/* Walk the whole document before reading it, so no later message can echo a key. */
static int
scan_secrets(struct parse *p, const cJSON *j, const char *path, const char *name)
{
	char sub[CONFIG_PATH_LEN];
	size_t i = 0;

	if (name != NULL && is_secret_name(name) && !cJSON_IsArray(j))
		return parse_error(p, path, KEYS_IN_ENV);
	if (cJSON_IsString(j) && looks_like_key(j->valuestring)) {
		if (name != NULL && strcmp(name, "api_key_env") == 0)
			return parse_error(p, path,
			    "expected the name of an environment variable, got what "
			    "looks like an API key; " KEYS_IN_ENV);
		return parse_error(p, path, "value looks like an API key; " KEYS_IN_ENV);
	}
	if (cJSON_IsObject(j)) {
		for (const cJSON *c = j->child; c != NULL; c = c->next) {
			if (looks_like_key(c->string))
				return parse_error(p, path,
				    "a key name looks like an API key; " KEYS_IN_ENV);
			path_key(sub, sizeof sub, path, c->string);
			if (scan_secrets(p, c, sub, c->string) != 0)
				return -1;
		}
	} else if (cJSON_IsArray(j)) {
		for (const cJSON *c = j->child; c != NULL; c = c->next, i++) {
			path_index(sub, sizeof sub, path, i);
			if (scan_secrets(p, c, sub, name) != 0)
				return -1;
		}
	}
	return 0;
}

static int
check_object(struct parse *p, const cJSON *j, const char *path)
{
	if (!cJSON_IsObject(j))
		return parse_error(p, path, "expected an object, got %s", json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		for (const cJSON *d = j->child; d != c; d = d->next) {
			if (strcmp(c->string, d->string) == 0) {
				char sub[CONFIG_PATH_LEN];

				path_key(sub, sizeof sub, path, c->string);
				return parse_error(p, sub, "duplicate key");
			}
		}
	}
	return 0;
}

/* An object with a fixed set of keys: unknown ones are errors, with a suggestion. */
static int
check_keys(struct parse *p, const cJSON *j, const char *path, const char *const *keys, size_t n)
{
	char sub[CONFIG_PATH_LEN];
	const char *s;
	struct buf list;
	size_t i;

	if (check_object(p, j, path) != 0)
		return -1;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		for (i = 0; i < n; i++) {
			if (strcmp(c->string, keys[i]) == 0)
				break;
		}
		if (i < n)
			continue;
		path_key(sub, sizeof sub, path, c->string);
		if (is_secret_name(c->string))
			return parse_error(p, sub, KEYS_IN_ENV);
		if ((s = suggest(c->string, keys, n, 1)) != NULL)
			return parse_error(p, sub, "unknown key (did you mean \"%s\"?)", s);
		buf_init(&list);
		for (i = 0; i < n; i++)
			buf_printf(&list, "%s%s", i > 0 ? ", " : "", keys[i]);
		parse_error(p, sub, "unknown key (expected one of: %s)", list.data);
		buf_free(&list);
		return -1;
	}
	return 0;
}

static int
get_string(struct parse *p, const cJSON *j, const char *path, char **out)
{
	if (!cJSON_IsString(j))
		return parse_error(p, path, "expected a string, got %s", json_type(j));
	replace_str(out, j->valuestring);
	return 0;
}

static int
get_nonempty(struct parse *p, const cJSON *j, const char *path, char **out)
{
	if (get_string(p, j, path, out) != 0)
		return -1;
	if (**out == '\0')
		return parse_error(p, path, "must not be empty");
	return 0;
}

static int
get_bool(struct parse *p, const cJSON *j, const char *path, int *out)
{
	if (!cJSON_IsBool(j))
		return parse_error(p, path, "expected true or false, got %s", json_type(j));
	*out = cJSON_IsTrue(j);
	return 0;
}

static int
get_int64(struct parse *p, const cJSON *j, const char *path, int64_t lo, int64_t hi, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(j))
		return parse_error(p, path, "expected an integer, got %s", json_type(j));
	v = j->valuedouble;
	if (!isfinite(v))
		return parse_error(p, path, "expected a finite number");
	if (v != floor(v))
		return parse_error(p, path, "expected an integer, got %g", v);
	if (v < (double)lo || v > (double)hi) {
		if (hi >= INT_MAX && lo == 1)
			return parse_error(p, path, "must be > 0, got %.0f", v);
		if (hi >= INT_MAX)
			return parse_error(p, path, "must be >= %lld, got %.0f", (long long)lo, v);
		return parse_error(p, path, "must be in %lld..%lld, got %.0f", (long long)lo,
		    (long long)hi, v);
	}
	*out = (int64_t)v;
	return 0;
}

static int
get_int(struct parse *p, const cJSON *j, const char *path, int lo, int hi, int *out)
{
	int64_t v;

	if (get_int64(p, j, path, lo, hi, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* A number in a range; lo_open/hi_open make that end exclusive; hi INFINITY: no limit. */
static int
get_number(struct parse *p, const cJSON *j, const char *path, double lo, int lo_open, double hi,
    int hi_open, double *out)
{
	double v;

	if (!cJSON_IsNumber(j))
		return parse_error(p, path, "expected a number, got %s", json_type(j));
	v = j->valuedouble;
	if (!isfinite(v))
		return parse_error(p, path, "expected a finite number");
	if ((lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
		if (isinf(hi))
			return parse_error(p, path, "must be %s %g, got %g",
			    lo_open ? ">" : ">=", lo, v);
		return parse_error(p, path, "must be in %c%g, %g%c, got %g", lo_open ? '(' : '[',
		    lo, hi, hi_open ? ')' : ']', v);
	}
	*out = v;
	return 0;
}

static int
get_seconds_ms(struct parse *p, const cJSON *j, const char *path, int zero_ok, int *out_ms)
{
	double v;

	if (get_number(p, j, path, 0.0, !zero_ok, CONFIG_MAX_SECONDS, 0, &v) != 0)
		return -1;
	*out_ms = (int)llround(v * 1000.0);
	if (*out_ms == 0 && v > 0)
		*out_ms = 1;
	return 0;
}

static int
get_strv(struct parse *p, const cJSON *j, const char *path, char ***v, size_t *n)
{
	char sub[CONFIG_PATH_LEN];
	size_t i = 0;

	if (!cJSON_IsArray(j))
		return parse_error(p, path, "expected an array of strings, got %s", json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next, i++) {
		path_index(sub, sizeof sub, path, i);
		if (!cJSON_IsString(c))
			return parse_error(p, sub, "expected a string, got %s", json_type(c));
		if (*c->valuestring == '\0')
			return parse_error(p, sub, "must not be empty");
		for (size_t k = 0; k < *n; k++) {
			if (strcmp((*v)[k], c->valuestring) == 0)
				return parse_error(p, sub, "\"%s\" is listed twice",
				    c->valuestring);
		}
		strv_push(v, n, c->valuestring);
	}
	return 0;
}

static int
check_url(struct parse *p, const char *path, char *url)
{
	size_t len;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return parse_error(p, path, "expected an http:// or https:// URL");
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	if (strcmp(url, "https:") == 0 || strcmp(url, "http:") == 0 ||
	    strcmp(url, "https:/") == 0 || strcmp(url, "http:/") == 0 ||
	    strpbrk(url, " \t\r\n") != NULL)
		return parse_error(p, path, "expected an http:// or https:// URL with a host");
	return 0;
}

static const char *
default_key_env(const struct provider_conf *pc)
{
	switch (pc->kind) {
	case PROVIDER_ANTHROPIC: return "ANTHROPIC_API_KEY";
	case PROVIDER_OPENAI: return pc->flavor == FLAVOR_OPENAI ? "OPENAI_API_KEY" : NULL;
	case PROVIDER_AZURE: return "AZURE_OPENAI_KEY";
	}
	return NULL;
}

static int
parse_kind(struct parse *p, const cJSON *j, const char *path, enum provider_kind *kind)
{
	const char *s;

	if (!cJSON_IsString(j))
		return parse_error(p, path, "expected a string, got %s", json_type(j));
	for (size_t i = 0; i < nitems(kind_names); i++) {
		if (strcmp(j->valuestring, kind_names[i]) == 0) {
			*kind = (enum provider_kind)i;
			return 0;
		}
	}
	for (size_t i = 1; i < nitems(flavor_names); i++) {
		if (strcmp(j->valuestring, flavor_names[i]) == 0)
			return parse_error(p, path,
			    "unknown kind \"%s\" (use kind \"openai\" with flavor \"%s\")",
			    j->valuestring, flavor_names[i]);
	}
	if ((s = suggest(j->valuestring, kind_names, nitems(kind_names), 0)) != NULL)
		return parse_error(p, path, "unknown kind \"%s\" (did you mean \"%s\"?)",
		    j->valuestring, s);
	return parse_error(p, path, "unknown kind \"%s\" (expected anthropic, openai or azure)",
	    j->valuestring);
}

static int
parse_flavor(struct parse *p, const cJSON *j, const char *path, enum provider_flavor *flavor)
{
	const char *s;

	if (!cJSON_IsString(j))
		return parse_error(p, path, "expected a string, got %s", json_type(j));
	for (size_t i = 0; i < nitems(flavor_names); i++) {
		if (strcmp(j->valuestring, flavor_names[i]) == 0) {
			*flavor = (enum provider_flavor)i;
			return 0;
		}
	}
	if ((s = suggest(j->valuestring, flavor_names, nitems(flavor_names), 0)) != NULL)
		return parse_error(p, path, "unknown flavor \"%s\" (did you mean \"%s\"?)",
		    j->valuestring, s);
	return parse_error(p, path,
	    "unknown flavor \"%s\" (expected openai, mistral, vllm, llamacpp or ollama)",
	    j->valuestring);
}

static const char *const provider_keys[] = {"name", "kind", "flavor", "base_url", "api_key_env",
    "models", "priority", "weight", "timeout_seconds", "max_retries", "rate_limit_rpm",
    "rate_limit_tpm", "api_version", "tls_verify", "enabled"};

/* One providers[] entry; appended to cfg only when every field is good. */
static int
parse_provider(struct parse *p, struct config *cfg, const cJSON *j, const char *path, size_t first)
{
	static const char *const required[] = {"name", "kind", "base_url", "models"};
	struct provider_conf pc;
	enum provider_kind kind = PROVIDER_ANTHROPIC;
	struct provider_conf *dup;
	const cJSON *v;
	char sub[CONFIG_PATH_LEN];
	char *name = NULL;

#define FIELD(k) (path_key(sub, sizeof sub, path, k), cJSON_GetObjectItemCaseSensitive(j, k))
	if (check_keys(p, j, path, provider_keys, nitems(provider_keys)) != 0)
		return -1;
	for (size_t i = 0; i < nitems(required); i++) {
		if (cJSON_GetObjectItemCaseSensitive(j, required[i]) == NULL)
			return parse_error(p, path, "missing required key \"%s\"", required[i]);
	}
	v = FIELD("name");
	if (get_nonempty(p, v, sub, &name) != 0) {
		free(name);
		return -1;
	}
	if (!is_plain_name(name)) {
		free(name);
		return parse_error(p, sub, "expected up to 64 letters, digits, '.', '_' or '-'");
	}
	if ((dup = provider_find(cfg, name)) != NULL) {
		size_t at = (size_t)(dup - cfg->providers);

		if (at >= first)
			parse_error(p, sub, "duplicate provider name \"%s\" (also providers[%zu])",
			    name, at - first);
		else
			parse_error(p, sub, "duplicate provider name \"%s\"", name);
		free(name);
		return -1;
	}
	if (parse_kind(p, FIELD("kind"), sub, &kind) != 0) {
		free(name);
		return -1;
	}
	provider_init(&pc, kind);
	pc.name = name;

	if (get_nonempty(p, FIELD("base_url"), sub, &pc.base_url) != 0 ||
	    check_url(p, sub, pc.base_url) != 0)
		goto fail;
	if ((v = FIELD("flavor")) != NULL) {
		if (kind != PROVIDER_OPENAI) {
			parse_error(p, sub, "only valid with kind \"openai\"");
			goto fail;
		}
		if (parse_flavor(p, v, sub, &pc.flavor) != 0)
			goto fail;
	}
	if ((v = FIELD("api_key_env")) != NULL) {
		if (!cJSON_IsNull(v)) {
			if (get_string(p, v, sub, &pc.api_key_env) != 0)
				goto fail;
			if (!is_env_name(pc.api_key_env)) {
				parse_error(p, sub,
				    "expected the name of an environment variable "
				    "(letters, digits and '_')");
				goto fail;
			}
		}
	} else
		pc.api_key_env = dupnull(default_key_env(&pc));
	if (get_strv(p, FIELD("models"), sub, &pc.models, &pc.n_models) != 0)
		goto fail;
	if (pc.n_models == 0) {
		parse_error(p, sub, "at least one model is required");
		goto fail;
	}
	if ((v = FIELD("priority")) != NULL && get_int(p, v, sub, 0, INT_MAX, &pc.priority) != 0)
		goto fail;
	if ((v = FIELD("weight")) != NULL &&
	    get_number(p, v, sub, 0.0, 1, INFINITY, 0, &pc.weight) != 0)
		goto fail;
	if ((v = FIELD("timeout_seconds")) != NULL &&
	    get_number(p, v, sub, 0.0, 1, CONFIG_MAX_SECONDS, 0, &pc.timeout_seconds) != 0)
		goto fail;
	if ((v = FIELD("max_retries")) != NULL && get_int(p, v, sub, 0, 10, &pc.max_retries) != 0)
		goto fail;
	if ((v = FIELD("rate_limit_rpm")) != NULL &&
	    get_int(p, v, sub, 0, INT_MAX, &pc.rate_limit_rpm) != 0)
		goto fail;
	if ((v = FIELD("rate_limit_tpm")) != NULL &&
	    get_int(p, v, sub, 0, INT_MAX, &pc.rate_limit_tpm) != 0)
		goto fail;
	if ((v = FIELD("api_version")) != NULL) {
		if (kind != PROVIDER_AZURE) {
			parse_error(p, sub, "only valid with kind \"azure\"");
			goto fail;
		}
		if (get_nonempty(p, v, sub, &pc.api_version) != 0)
			goto fail;
	}
	if ((v = FIELD("tls_verify")) != NULL && get_bool(p, v, sub, &pc.tls_verify) != 0)
		goto fail;
	if ((v = FIELD("enabled")) != NULL && get_bool(p, v, sub, &pc.enabled) != 0)
		goto fail;
#undef FIELD
	provider_append(cfg, &pc);
	return 0;
fail:
	provider_free(&pc);
	return -1;
}

static int
parse_providers(struct parse *p, struct config *cfg, const cJSON *j)
{
	char sub[CONFIG_PATH_LEN];
	size_t first = cfg->n_providers, i = 0;

	if (!cJSON_IsArray(j))
		return parse_error(p, "providers", "expected an array, got %s", json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next, i++) {
		path_index(sub, sizeof sub, "providers", i);
		if (parse_provider(p, cfg, c, sub, first) != 0)
			return -1;
	}
	return 0;
}

static const char *const model_keys[] = {
    "id", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "context_tokens", "source"};

/* models: alias -> fields; an existing alias (a default) keeps what the file leaves out. */
static int
parse_models(struct parse *p, struct config *cfg, const cJSON *j)
{
	char path[CONFIG_PATH_LEN], sub[CONFIG_PATH_LEN];
	struct model_conf m, *old;
	const cJSON *v;
	int priced;

	if (check_object(p, j, "models") != 0)
		return -1;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		path_key(path, sizeof path, "models", c->string);
		if (!is_alias(c->string))
			return parse_error(p, path,
			    "a model alias must be 1 to 128 printable characters without spaces");
		if (check_keys(p, c, path, model_keys, nitems(model_keys)) != 0)
			return -1;
		if ((old = model_find(cfg, c->string)) != NULL)
			model_copy(&m, old);
		else {
			memset(&m, 0, sizeof m);
			m.alias = xstrdup(c->string);
			m.id = xstrdup(c->string);
			m.input_per_mtok = m.output_per_mtok = m.cache_read_per_mtok = -1.0;
			m.source = xstrdup(SRC_UNPRICED);
		}
		priced = 0;
#define FIELD(k) (path_key(sub, sizeof sub, path, k), cJSON_GetObjectItemCaseSensitive(c, k))
		if ((v = FIELD("id")) != NULL && get_nonempty(p, v, sub, &m.id) != 0)
			goto fail;
		if ((v = FIELD("input_per_mtok")) != NULL) {
			if (get_number(p, v, sub, 0.0, 0, INFINITY, 0, &m.input_per_mtok) != 0)
				goto fail;
			priced = 1;
		}
		if ((v = FIELD("output_per_mtok")) != NULL) {
			if (get_number(p, v, sub, 0.0, 0, INFINITY, 0, &m.output_per_mtok) != 0)
				goto fail;
			priced = 1;
		}
		if ((v = FIELD("cache_read_per_mtok")) != NULL) {
			if (get_number(p, v, sub, 0.0, 0, INFINITY, 0, &m.cache_read_per_mtok) != 0)
				goto fail;
			priced = 1;
		}
		if ((v = FIELD("context_tokens")) != NULL &&
		    get_int64(p, v, sub, 1, CONFIG_MAX_INT64, &m.context_tokens) != 0)
			goto fail;
		if ((v = FIELD("source")) != NULL) {
			if (get_nonempty(p, v, sub, &m.source) != 0)
				goto fail;
		} else if (priced) {
			free(m.source);
			m.source = xasprintf("config: %s", p->origin);
		}
#undef FIELD
		if (old != NULL) {
			model_free(old);
			*old = m;
		} else {
			cfg->models =
			    xreallocarray(cfg->models, cfg->n_models + 1, sizeof *cfg->models);
			cfg->models[cfg->n_models++] = m;
		}
	}
	return 0;
fail:
	model_free(&m);
	return -1;
}

static const char *const route_keys[] = {"primary", "fallback", "model"};

static int
parse_routes(struct parse *p, struct config *cfg, const cJSON *j)
{
	char path[CONFIG_PATH_LEN], sub[CONFIG_PATH_LEN];
	struct route_conf r;
	const cJSON *v;

	if (check_object(p, j, "routes") != 0)
		return -1;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		path_key(path, sizeof path, "routes", c->string);
		if (!is_plain_name(c->string))
			return parse_error(p, path,
			    "a route name must be up to 64 letters, "
			    "digits, '.', '_' or '-'");
		if (check_keys(p, c, path, route_keys, nitems(route_keys)) != 0)
			return -1;
		if (cJSON_GetObjectItemCaseSensitive(c, "primary") == NULL)
			return parse_error(p, path, "missing required key \"primary\"");
		memset(&r, 0, sizeof r);
		r.name = xstrdup(c->string);
#define FIELD(k) (path_key(sub, sizeof sub, path, k), cJSON_GetObjectItemCaseSensitive(c, k))
		if (get_nonempty(p, FIELD("primary"), sub, &r.primary) != 0)
			goto fail;
		if ((v = FIELD("fallback")) != NULL &&
		    get_strv(p, v, sub, &r.fallback, &r.n_fallback) != 0)
			goto fail;
		if ((v = FIELD("model")) != NULL && get_nonempty(p, v, sub, &r.model) != 0)
			goto fail;
#undef FIELD
		route_set(cfg, &r);
	}
	return 0;
fail:
	route_free(&r);
	return -1;
}

static int
check_timezone(struct parse *p, const char *path, const char *tz)
{
	if (*tz == '\0' || *tz == '/' || strstr(tz, "..") != NULL || strlen(tz) > 64)
		return parse_error(p, path,
		    "expected a time zone name like \"UTC\" or "
		    "\"Europe/Paris\"");
	for (const char *s = tz; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("/_+-", *s) == NULL)
			return parse_error(p, path,
			    "expected a time zone name like \"UTC\" or "
			    "\"Europe/Paris\"");
	}
	return 0;
}

static const char *const budget_keys[] = {
    "daily_usd", "alert_threshold", "hard_stop", "timezone", "pressure", "downgrade", "tiers"};
static const char *const tier_keys[] = {"high_complex", "high", "standard", "low"};

/* A file's "downgrade" replaces the default ladder: it is the only way to drop a step. */
static int
parse_budget(struct parse *p, struct config *cfg, const cJSON *j)
{
	struct budget_conf *b = &cfg->budget;
	char sub[CONFIG_PATH_LEN], step[CONFIG_PATH_LEN];
	const cJSON *v;

	if (check_keys(p, j, "budget", budget_keys, nitems(budget_keys)) != 0)
		return -1;
#define FIELD(o, k) (path_key(sub, sizeof sub, "budget", k), cJSON_GetObjectItemCaseSensitive(o, k))
	if ((v = FIELD(j, "daily_usd")) != NULL &&
	    get_number(p, v, sub, 0.0, 0, INFINITY, 0, &b->daily_usd) != 0)
		return -1;
	if ((v = FIELD(j, "alert_threshold")) != NULL &&
	    get_number(p, v, sub, 0.0, 1, 1.0, 0, &b->alert_threshold) != 0)
		return -1;
	if ((v = FIELD(j, "hard_stop")) != NULL && get_bool(p, v, sub, &b->hard_stop) != 0)
		return -1;
	if ((v = FIELD(j, "timezone")) != NULL &&
	    (get_string(p, v, sub, &b->timezone) != 0 || check_timezone(p, sub, b->timezone) != 0))
		return -1;
	if ((v = FIELD(j, "pressure")) != NULL &&
	    get_number(p, v, sub, 0.0, 0, 1.0, 0, &b->pressure) != 0)
		return -1;
	if ((v = FIELD(j, "downgrade")) != NULL) {
		char dpath[CONFIG_PATH_LEN];

		strlcpy_(dpath, sub, sizeof dpath);
		if (check_object(p, v, dpath) != 0)
			return -1;
		ladder_free(b);
		for (const cJSON *c = v->child; c != NULL; c = c->next) {
			path_key(step, sizeof step, dpath, c->string);
			if (!cJSON_IsString(c))
				return parse_error(p, step,
				    "expected a model alias (a string), "
				    "got %s",
				    json_type(c));
			if (strcmp(c->string, c->valuestring) == 0)
				return parse_error(p, step, "a model cannot downgrade to itself");
			ladder_push(b, c->string, c->valuestring);
		}
	}
	if ((v = FIELD(j, "tiers")) != NULL) {
		char tpath[CONFIG_PATH_LEN];
		char **slots[] = {
		    &b->tier_high_complex, &b->tier_high, &b->tier_standard, &b->tier_low};
		const cJSON *t;

		strlcpy_(tpath, sub, sizeof tpath);
		if (check_keys(p, v, tpath, tier_keys, nitems(tier_keys)) != 0)
			return -1;
		for (size_t i = 0; i < nitems(tier_keys); i++) {
			path_key(step, sizeof step, tpath, tier_keys[i]);
			if ((t = cJSON_GetObjectItemCaseSensitive(v, tier_keys[i])) != NULL &&
			    get_nonempty(p, t, step, slots[i]) != 0)
				return -1;
		}
	}
#undef FIELD
	return 0;
}

static const char *const cache_keys[] = {
    "enabled", "ttl_seconds", "max_temperature", "max_entries"};

static int
parse_cache(struct parse *p, struct config *cfg, const cJSON *j)
{
	struct cache_conf *c = &cfg->cache;
	char sub[CONFIG_PATH_LEN];
	const cJSON *v;

	if (check_keys(p, j, "cache", cache_keys, nitems(cache_keys)) != 0)
		return -1;
#define FIELD(k) (path_key(sub, sizeof sub, "cache", k), cJSON_GetObjectItemCaseSensitive(j, k))
	if ((v = FIELD("enabled")) != NULL && get_bool(p, v, sub, &c->enabled) != 0)
		return -1;
	if ((v = FIELD("ttl_seconds")) != NULL &&
	    get_int(p, v, sub, 1, INT_MAX, &c->ttl_seconds) != 0)
		return -1;
	if ((v = FIELD("max_temperature")) != NULL &&
	    get_number(p, v, sub, 0.0, 0, 2.0, 0, &c->max_temperature) != 0)
		return -1;
	if ((v = FIELD("max_entries")) != NULL &&
	    get_int64(p, v, sub, 1, CONFIG_MAX_INT64, &c->max_entries) != 0)
		return -1;
#undef FIELD
	return 0;
}

static const char *const breaker_keys[] = {
    "failure_threshold", "cooldown_seconds", "half_open_max", "probe_interval_seconds"};

static int
parse_breaker(struct parse *p, struct config *cfg, const cJSON *j)
{
	struct breaker_conf *b = &cfg->breaker;
	char sub[CONFIG_PATH_LEN];
	const cJSON *v;

	if (check_keys(p, j, "breaker", breaker_keys, nitems(breaker_keys)) != 0)
		return -1;
#define FIELD(k) (path_key(sub, sizeof sub, "breaker", k), cJSON_GetObjectItemCaseSensitive(j, k))
	if ((v = FIELD("failure_threshold")) != NULL &&
	    get_int(p, v, sub, 1, 1000000, &b->failure_threshold) != 0)
		return -1;
	if ((v = FIELD("cooldown_seconds")) != NULL &&
	    get_seconds_ms(p, v, sub, 0, &b->cooldown_ms) != 0)
		return -1;
	if ((v = FIELD("half_open_max")) != NULL &&
	    get_int(p, v, sub, 1, 1000000, &b->half_open_max) != 0)
		return -1;
	if ((v = FIELD("probe_interval_seconds")) != NULL &&
	    get_seconds_ms(p, v, sub, 1, &b->probe_interval_ms) != 0)
		return -1;
#undef FIELD
	return 0;
}

static const char *const top_keys[] = {
    "providers", "models", "routes", "budget", "cache", "breaker"};

/* Line and column (1-based, in characters) of a byte offset, for syntax errors. */
static void
text_position(const char *text, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i] != '\0'; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

static int
parse_document(struct parse *p, struct config *cfg, const char *json)
{
	const char *end = NULL, *s;
	cJSON *root, *v;
	size_t line, col;
	int rc = -1;

	if (strncmp(json, "\xef\xbb\xbf", 3) == 0)
		json += 3;
	for (s = json; *s != '\0' && isspace((unsigned char)*s); s++)
		;
	if (*s == '\0')
		return parse_error(p, NULL, "empty file (expected a JSON object)");
	root = cJSON_ParseWithOpts(json, &end, 1);
	if (root == NULL) {
		size_t off = end != NULL && end >= json ? (size_t)(end - json) : 0;

		text_position(json, off, &line, &col);
		return parse_error(p, NULL, "line %zu, column %zu: JSON syntax error", line, col);
	}
	if (!cJSON_IsObject(root)) {
		parse_error(p, NULL, "expected a JSON object at the top level, got %s",
		    json_type(root));
		goto out;
	}
	if (scan_secrets(p, root, "", NULL) != 0)
		goto out;
	if (check_keys(p, root, "", top_keys, nitems(top_keys)) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "providers")) != NULL &&
	    parse_providers(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "models")) != NULL &&
	    parse_models(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "routes")) != NULL &&
	    parse_routes(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "budget")) != NULL &&
	    parse_budget(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "cache")) != NULL &&
	    parse_cache(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "breaker")) != NULL &&
	    parse_breaker(p, cfg, v) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int
config_load_string(struct config *cfg, const char *json, const char *origin, char **cause)
{
	struct parse p = {origin != NULL ? origin : "<string>", cause};
	struct config tmp;

	config_copy(&tmp, cfg);
	if (parse_document(&p, &tmp, json) != 0) {
		config_free(&tmp);
		return -1;
	}
	config_free(cfg);
	*cfg = tmp;
	return 0;
}

int
config_load_file(struct config *cfg, const char *path, char **cause)
{
	FILE *f;
	struct buf b;
	char chunk[8192];
	size_t n;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > CONFIG_MAX_FILE) {
			fclose(f);
			buf_free(&b);
			*cause =
			    xasprintf("%s: file is larger than %d bytes", path, CONFIG_MAX_FILE);
			return -1;
		}
		buf_append(&b, chunk, n);
	}
	if (ferror(f)) {
		*cause = xasprintf("%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		buf_free(&b);
		return -1;
	}
	fclose(f);
	if (b.len == 0 || memchr(b.data, '\0', b.len) != NULL) {
		*cause = xasprintf("%s: %s", path,
		    b.len == 0 ? "empty file (expected a JSON "
		                 "object)"
		               : "contains a NUL byte: not a JSON text file");
		buf_free(&b);
		return -1;
	}
	rc = config_load_string(cfg, b.data, path, cause);
	buf_free(&b);
	if (rc == 0)
		replace_str(&cfg->path, path);
	return rc;
}

/* ---- the environment ---- */

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
	if (looks_like_key(value) || strlen(value) > 64)
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

	if ((old = provider_find(cfg, name)) != NULL) {
		*cause = xasprintf("%s: cannot add provider \"%s\": a provider of kind %s "
		                   "already has that name",
		    var, name, provider_kind_name(old->kind));
		return NULL;
	}
	provider_init(&pc, kind);
	pc.name = xstrdup(name);
	pc.base_url = xstrdup(base_url);
	pc.api_key_env = xstrdup(var);
	for (size_t i = 0; i < n; i++)
		strv_push(&pc.models, &pc.n_models, models[i]);
	return provider_append(cfg, &pc);
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
		struct parse p = {"AZURE_OPENAI_ENDPOINT", cause};

		url = xstrdup(endpoint);
		if (check_url(&p, NULL, url) != 0) {
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
			replace_str(&pc->base_url, url);
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
	struct provider_conf *pc = provider_find(cfg, name);
	const char **names;
	const char *s = NULL;

	if (pc != NULL)
		return pc;
	names = xreallocarray(NULL, cfg->n_providers + 1, sizeof *names);
	for (size_t i = 0; i < cfg->n_providers; i++)
		names[i] = cfg->providers[i].name;
	if (!looks_like_key(name) && strlen(name) <= 64)
		s = suggest(name, names, cfg->n_providers, 0);
	if (looks_like_key(name) || strlen(name) > 64)
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
		strv_push(&r.fallback, &r.n_fallback, fp->name);
	route_set(cfg, &r);
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
		if (route_find(cfg, default_routes[i].name) != NULL ||
		    provider_find(cfg, default_routes[i].primary) == NULL)
			continue;
		memset(&r, 0, sizeof r);
		r.name = xstrdup(default_routes[i].name);
		r.primary = xstrdup(default_routes[i].primary);
		if (provider_find(cfg, default_routes[i].fallback) != NULL)
			strv_push(&r.fallback, &r.n_fallback, default_routes[i].fallback);
		route_set(cfg, &r);
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
			replace_str(&pc->api_key, env_get(e, pc->api_key_env));
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

/* ---- cross references ---- */

/* "is not in the models table", with a hint: a model id used as an alias, or a near miss. */
static char *
unknown_model(const struct config *cfg, const char *alias)
{
	const char **names;
	const char *s;
	char *msg;

	for (size_t i = 0; i < cfg->n_models; i++) {
		if (strcmp(cfg->models[i].id, alias) == 0)
			return xasprintf("model \"%s\" is not in the models table (it is the id "
			                 "of alias \"%s\")",
			    alias, cfg->models[i].alias);
	}
	names = xreallocarray(NULL, cfg->n_models + 1, sizeof *names);
	for (size_t i = 0; i < cfg->n_models; i++)
		names[i] = cfg->models[i].alias;
	s = suggest(alias, names, cfg->n_models, 0);
	if (s != NULL)
		msg = xasprintf("model \"%s\" is not in the models table (did you mean \"%s\"?)",
		    alias, s);
	else
		msg = xasprintf("model \"%s\" is not in the models table", alias);
	free(names);
	return msg;
}

static int
    PRINTFLIKE(3, 4) validate_error(const struct config *cfg, char **cause, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	*cause = xasprintf("%s: %s", cfg->path != NULL ? cfg->path : "config", msg);
	free(msg);
	return -1;
}

static int
validate_model(const struct config *cfg, char **cause, const char *where, const char *alias)
{
	char *msg;

	if (config_model(cfg, alias) != NULL)
		return 0;
	msg = unknown_model(cfg, alias);
	validate_error(cfg, cause, "%s: %s", where, msg);
	free(msg);
	return -1;
}

static int
validate_route(const struct config *cfg, const struct route_conf *r, char **cause)
{
	char where[CONFIG_PATH_LEN];

	snprintf(where, sizeof where, "route \"%s\"", r->name);
	if (config_provider(cfg, r->primary) == NULL)
		return validate_error(cfg, cause,
		    "%s: primary \"%s\" is not a configured "
		    "provider",
		    where, r->primary);
	for (size_t k = 0; k < r->n_fallback; k++) {
		if (config_provider(cfg, r->fallback[k]) == NULL)
			return validate_error(cfg, cause,
			    "%s: fallback \"%s\" is not a "
			    "configured provider",
			    where, r->fallback[k]);
		if (strcmp(r->fallback[k], r->primary) == 0)
			return validate_error(cfg, cause,
			    "%s: fallback \"%s\" is also the "
			    "primary",
			    where, r->fallback[k]);
	}
	if (r->model != NULL && validate_model(cfg, cause, where, r->model) != 0)
		return -1;
	return 0;
}

static int
validate_budget(const struct config *cfg, char **cause)
{
	const struct budget_conf *b = &cfg->budget;
	const char *tiers[] = {b->tier_high_complex, b->tier_high, b->tier_standard, b->tier_low};
	char where[CONFIG_PATH_LEN];

	for (size_t i = 0; i < nitems(tiers); i++) {
		snprintf(where, sizeof where, "budget.tiers.%s", tier_keys[i]);
		if (tiers[i] != NULL && validate_model(cfg, cause, where, tiers[i]) != 0)
			return -1;
	}
	for (size_t i = 0; i < b->n_ladder; i++) {
		const char *at = b->ladder[i].from;
		size_t steps = 0;

		snprintf(where, sizeof where, "budget.downgrade.%s", b->ladder[i].from);
		if (validate_model(cfg, cause, where, b->ladder[i].from) != 0 ||
		    validate_model(cfg, cause, where, b->ladder[i].to) != 0)
			return -1;
		/* Follow the ladder: it must end, or a downgrade would never settle. */
		while (at != NULL) {
			const char *next = NULL;

			for (size_t k = 0; k < b->n_ladder; k++) {
				if (strcmp(b->ladder[k].from, at) == 0)
					next = b->ladder[k].to;
			}
			at = next;
			if (++steps > b->n_ladder)
				return validate_error(cfg, cause,
				    "%s: the downgrade ladder has a "
				    "cycle",
				    where);
		}
	}
	return 0;
}

int
config_validate(const struct config *cfg, char **cause)
{
	char where[CONFIG_PATH_LEN];

	if (cfg->n_providers == 0)
		return validate_error(cfg, cause,
		    "no providers configured: set "
		    "ANTHROPIC_API_KEY or OPENAI_API_KEY (or AZURE_OPENAI_ENDPOINT and "
		    "AZURE_OPENAI_KEY), or list providers in the config file");
	for (size_t i = 0; i < cfg->n_providers; i++) {
		const struct provider_conf *pc = &cfg->providers[i];

		snprintf(where, sizeof where, "provider \"%s\"", pc->name);
		for (size_t k = 0; k < pc->n_models; k++) {
			if (validate_model(cfg, cause, where, pc->models[k]) != 0)
				return -1;
		}
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		if (validate_route(cfg, &cfg->routes[i], cause) != 0)
			return -1;
	}
	return validate_budget(cfg, cause);
}

/* $XDG_CONFIG_HOME/llmdeck/config.json, else ~/.config/...; NULL if there is none. */
static char *
config_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct stat sb;
	char *path;

	if (xdg != NULL && *xdg == '/')
		path = xasprintf("%s/llmdeck/config.json", xdg);
	else if (home != NULL && *home != '\0')
		path = xasprintf("%s/.config/llmdeck/config.json", home);
	else
		return NULL;
	if (stat(path, &sb) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

int
config_load(struct config *cfg, const char *path, char **cause)
{
	struct config tmp;
	char *found = NULL;
	const char *env;

	if (path == NULL) {
		if ((env = getenv("LLMDECK_CONFIG")) != NULL && *env != '\0')
			path = env;
		else
			path = found = config_default_path();
	}
	config_copy(&tmp, cfg);
	if ((path != NULL && config_load_file(&tmp, path, cause) != 0) ||
	    config_apply_env(&tmp, NULL, NULL, cause) != 0 || config_validate(&tmp, cause) != 0) {
		free(found);
		config_free(&tmp);
		return -1;
	}
	free(found);
	config_free(cfg);
	*cfg = tmp;
	return 0;
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
