/*
 * config_file.c: the JSON config file. The whole document is scanned for
 * credentials before anything is read, so no later message can echo a key;
 * every error names the origin, the key path and the reason. Also the usual
 * load sequence (file, environment, checks) and where the file is found.
 */
#include "config/config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_limits.h"
#include "config/config_priv.h"
#include "util/util.h"

#define CONFIG_MAX_FILE (4 * 1024 * 1024)
#define CONFIG_MAX_INT64 ((int64_t)1 << 53)

#define KEYS_IN_ENV \
	"API keys belong in the environment, not in the config file: put the " \
	"key in an environment variable and name that variable in \"api_key_env\""

int
config_parse_error(struct config_parse *p, const char *path, const char *fmt, ...)
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
	str_oneline(*p->cause); /* it may quote the file's strings, newlines and all */
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
scan_secrets(struct config_parse *p, const cJSON *j, const char *path, const char *name)
{
	char sub[CONFIG_PATH_LEN];
	size_t i = 0;

	if (name != NULL && config_is_secret_name(name) && !cJSON_IsArray(j))
		return config_parse_error(p, path, KEYS_IN_ENV);
	if (cJSON_IsString(j) && config_looks_like_key(j->valuestring)) {
		if (name != NULL && strcmp(name, "api_key_env") == 0)
			return config_parse_error(p, path,
			    "expected the name of an environment variable, got what "
			    "looks like an API key; " KEYS_IN_ENV);
		return config_parse_error(p, path, "value looks like an API key; " KEYS_IN_ENV);
	}
	if (cJSON_IsObject(j)) {
		for (const cJSON *c = j->child; c != NULL; c = c->next) {
			if (config_looks_like_key(c->string))
				return config_parse_error(p, path,
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
check_object(struct config_parse *p, const cJSON *j, const char *path)
{
	if (!cJSON_IsObject(j))
		return config_parse_error(p, path, "expected an object, got %s", json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		for (const cJSON *d = j->child; d != c; d = d->next) {
			if (strcmp(c->string, d->string) == 0) {
				char sub[CONFIG_PATH_LEN];

				path_key(sub, sizeof sub, path, c->string);
				return config_parse_error(p, sub, "duplicate key");
			}
		}
	}
	return 0;
}

/* An object with a fixed set of keys: unknown ones are errors, with a suggestion. */
static int
check_keys(struct config_parse *p, const cJSON *j, const char *path, const char *const *keys,
    size_t n)
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
		if (config_is_secret_name(c->string))
			return config_parse_error(p, sub, KEYS_IN_ENV);
		if ((s = config_suggest(c->string, keys, n, 1)) != NULL)
			return config_parse_error(p, sub, "unknown key (did you mean \"%s\"?)", s);
		buf_init(&list);
		for (i = 0; i < n; i++)
			buf_printf(&list, "%s%s", i > 0 ? ", " : "", keys[i]);
		config_parse_error(p, sub, "unknown key (expected one of: %s)", list.data);
		buf_free(&list);
		return -1;
	}
	return 0;
}

static int
get_string(struct config_parse *p, const cJSON *j, const char *path, char **out)
{
	if (!cJSON_IsString(j))
		return config_parse_error(p, path, "expected a string, got %s", json_type(j));
	config_replace_str(out, j->valuestring);
	return 0;
}

static int
get_nonempty(struct config_parse *p, const cJSON *j, const char *path, char **out)
{
	if (get_string(p, j, path, out) != 0)
		return -1;
	if (**out == '\0')
		return config_parse_error(p, path, "must not be empty");
	return 0;
}

static int
get_bool(struct config_parse *p, const cJSON *j, const char *path, int *out)
{
	if (!cJSON_IsBool(j))
		return config_parse_error(p, path, "expected true or false, got %s", json_type(j));
	*out = cJSON_IsTrue(j);
	return 0;
}

static int
get_int64(struct config_parse *p, const cJSON *j, const char *path, int64_t lo, int64_t hi,
    int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(j))
		return config_parse_error(p, path, "expected an integer, got %s", json_type(j));
	v = j->valuedouble;
	if (!isfinite(v))
		return config_parse_error(p, path, "expected a finite number");
	if (v != floor(v))
		return config_parse_error(p, path, "expected an integer, got %g", v);
	if (v < (double)lo || v > (double)hi) {
		if (hi >= INT_MAX && lo == 1)
			return config_parse_error(p, path, "must be > 0, got %.0f", v);
		if (hi >= INT_MAX)
			return config_parse_error(p, path, "must be >= %lld, got %.0f",
			    (long long)lo, v);
		return config_parse_error(p, path, "must be in %lld..%lld, got %.0f", (long long)lo,
		    (long long)hi, v);
	}
	*out = (int64_t)v;
	return 0;
}

static int
get_int(struct config_parse *p, const cJSON *j, const char *path, int lo, int hi, int *out)
{
	int64_t v;

	if (get_int64(p, j, path, lo, hi, &v) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* A number in a range; lo_open/hi_open make that end exclusive; hi INFINITY: no limit. */
static int
get_number(struct config_parse *p, const cJSON *j, const char *path, double lo, int lo_open,
    double hi, int hi_open, double *out)
{
	double v;

	if (!cJSON_IsNumber(j))
		return config_parse_error(p, path, "expected a number, got %s", json_type(j));
	v = j->valuedouble;
	if (!isfinite(v))
		return config_parse_error(p, path, "expected a finite number");
	if ((lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi)) {
		if (isinf(hi))
			return config_parse_error(p, path, "must be %s %g, got %g",
			    lo_open ? ">" : ">=", lo, v);
		return config_parse_error(p, path, "must be in %c%g, %g%c, got %g",
		    lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']', v);
	}
	*out = v;
	return 0;
}

static int
get_seconds_ms(struct config_parse *p, const cJSON *j, const char *path, int zero_ok, int *out_ms)
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
get_strv(struct config_parse *p, const cJSON *j, const char *path, char ***v, size_t *n)
{
	char sub[CONFIG_PATH_LEN];
	size_t i = 0;

	if (!cJSON_IsArray(j))
		return config_parse_error(p, path, "expected an array of strings, got %s",
		    json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next, i++) {
		path_index(sub, sizeof sub, path, i);
		if (!cJSON_IsString(c))
			return config_parse_error(p, sub, "expected a string, got %s",
			    json_type(c));
		if (*c->valuestring == '\0')
			return config_parse_error(p, sub, "must not be empty");
		for (size_t k = 0; k < *n; k++) {
			if (strcmp((*v)[k], c->valuestring) == 0)
				return config_parse_error(p, sub, "\"%s\" is listed twice",
				    c->valuestring);
		}
		config_strv_push(v, n, c->valuestring);
	}
	return 0;
}

int
config_check_url(struct config_parse *p, const char *path, char *url)
{
	size_t len;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return config_parse_error(p, path, "expected an http:// or https:// URL");
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	if (strcmp(url, "https:") == 0 || strcmp(url, "http:") == 0 ||
	    strcmp(url, "https:/") == 0 || strcmp(url, "http:/") == 0 ||
	    strpbrk(url, " \t\r\n") != NULL)
		return config_parse_error(p, path,
		    "expected an http:// or https:// URL with a host");
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
parse_kind(struct config_parse *p, const cJSON *j, const char *path, enum provider_kind *kind)
{
	const char *s;

	if (!cJSON_IsString(j))
		return config_parse_error(p, path, "expected a string, got %s", json_type(j));
	for (size_t i = 0; i < nitems(config_kind_names); i++) {
		if (strcmp(j->valuestring, config_kind_names[i]) == 0) {
			*kind = (enum provider_kind)i;
			return 0;
		}
	}
	for (size_t i = 1; i < nitems(config_flavor_names); i++) {
		if (strcmp(j->valuestring, config_flavor_names[i]) == 0)
			return config_parse_error(p, path,
			    "unknown kind \"%s\" (use kind \"openai\" with flavor \"%s\")",
			    j->valuestring, config_flavor_names[i]);
	}
	if ((s = config_suggest(j->valuestring, config_kind_names, nitems(config_kind_names), 0)) !=
	    NULL)
		return config_parse_error(p, path, "unknown kind \"%s\" (did you mean \"%s\"?)",
		    j->valuestring, s);
	return config_parse_error(p, path,
	    "unknown kind \"%s\" (expected anthropic, openai or azure)", j->valuestring);
}

static int
parse_flavor(struct config_parse *p, const cJSON *j, const char *path, enum provider_flavor *flavor)
{
	const char *s;

	if (!cJSON_IsString(j))
		return config_parse_error(p, path, "expected a string, got %s", json_type(j));
	for (size_t i = 0; i < nitems(config_flavor_names); i++) {
		if (strcmp(j->valuestring, config_flavor_names[i]) == 0) {
			*flavor = (enum provider_flavor)i;
			return 0;
		}
	}
	if ((s = config_suggest(j->valuestring, config_flavor_names, nitems(config_flavor_names),
	         0)) != NULL)
		return config_parse_error(p, path, "unknown flavor \"%s\" (did you mean \"%s\"?)",
		    j->valuestring, s);
	return config_parse_error(p, path,
	    "unknown flavor \"%s\" (expected openai, mistral, vllm, llamacpp or ollama)",
	    j->valuestring);
}

static const char *const provider_keys[] = {"name", "kind", "flavor", "base_url", "api_key_env",
    "models", "priority", "weight", "timeout_seconds", "connect_timeout_seconds",
    "first_token_timeout_seconds", "stream_idle_timeout_seconds", "max_retries", "rate_limit_rpm",
    "rate_limit_tpm", "api_version", "tls_verify", "ca_file", "enabled", "entra_token_env",
    "num_ctx", "keep_alive"};

/* A provider's numbers: integers in lo..hi, or numbers in [lo, hi] ((lo, hi] if lo_open). */
static const struct provider_number {
	const char *key;
	int integer;
	double lo;
	int lo_open;
	double hi;
	size_t off;
} provider_numbers[] = {
    {"priority", 1, LIMIT_PRIORITY_MIN, 0, LIMIT_PRIORITY_MAX,
        offsetof(struct provider_conf, priority)},
    {"weight", 0, LIMIT_WEIGHT_MIN, 0, LIMIT_WEIGHT_MAX, offsetof(struct provider_conf, weight)},
    {"timeout_seconds", 0, 0.0, 1, CONFIG_MAX_SECONDS,
        offsetof(struct provider_conf, timeout_seconds)},
    {"connect_timeout_seconds", 0, 0.0, 1, CONFIG_MAX_SECONDS,
        offsetof(struct provider_conf, connect_timeout_seconds)},
    {"first_token_timeout_seconds", 0, 0.0, 1, CONFIG_MAX_SECONDS,
        offsetof(struct provider_conf, first_token_timeout_seconds)},
    {"stream_idle_timeout_seconds", 0, 0.0, 1, CONFIG_MAX_SECONDS,
        offsetof(struct provider_conf, stream_idle_timeout_seconds)},
    {"max_retries", 1, 0, 0, 10, offsetof(struct provider_conf, max_retries)},
    {"rate_limit_rpm", 1, 0, 0, INT_MAX, offsetof(struct provider_conf, rate_limit_rpm)},
    {"rate_limit_tpm", 1, 0, 0, INT_MAX, offsetof(struct provider_conf, rate_limit_tpm)},
};

static int
parse_provider_numbers(struct config_parse *p, const cJSON *j, const char *path,
    struct provider_conf *pc)
{
	char sub[CONFIG_PATH_LEN];

	for (size_t i = 0; i < nitems(provider_numbers); i++) {
		const struct provider_number *n = &provider_numbers[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, n->key);
		char *field = (char *)pc + n->off;
		int rc;

		if (v == NULL)
			continue;
		path_key(sub, sizeof sub, path, n->key);
		if (n->integer)
			rc = get_int(p, v, sub, (int)n->lo, (int)n->hi, (int *)(void *)field);
		else
			rc = get_number(p, v, sub, n->lo, n->lo_open, n->hi, 0,
			    (double *)(void *)field);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The name of a providers[] entry: plain, and not taken (first: this file's first). */
static int
parse_provider_name(struct config_parse *p, struct config *cfg, const cJSON *j, const char *path,
    size_t first, char **name)
{
	struct provider_conf *dup;
	char sub[CONFIG_PATH_LEN];

	path_key(sub, sizeof sub, path, "name");
	if (get_nonempty(p, cJSON_GetObjectItemCaseSensitive(j, "name"), sub, name) != 0)
		return -1;
	if (!config_is_plain_name(*name))
		return config_parse_error(p, sub,
		    "expected up to 64 letters, digits, '.', '_' or '-'");
	if ((dup = config_provider_find(cfg, *name)) != NULL) {
		size_t at = (size_t)(dup - cfg->providers);

		if (at >= first)
			return config_parse_error(p, sub,
			    "duplicate provider name \"%s\" (also providers[%zu])", *name,
			    at - first);
		return config_parse_error(p, sub, "duplicate provider name \"%s\"", *name);
	}
	return 0;
}

/* Everything of a providers[] entry but its name and kind, into pc. */
static int
parse_provider_fields(struct config_parse *p, const cJSON *j, const char *path,
    struct provider_conf *pc)
{
	char sub[CONFIG_PATH_LEN];
	const cJSON *v;

#define FIELD(k) (path_key(sub, sizeof sub, path, k), cJSON_GetObjectItemCaseSensitive(j, k))
	if (get_nonempty(p, FIELD("base_url"), sub, &pc->base_url) != 0 ||
	    config_check_url(p, sub, pc->base_url) != 0)
		return -1;
	if ((v = FIELD("flavor")) != NULL) {
		if (pc->kind != PROVIDER_OPENAI)
			return config_parse_error(p, sub, "only valid with kind \"openai\"");
		if (parse_flavor(p, v, sub, &pc->flavor) != 0)
			return -1;
	}
	if ((v = FIELD("api_key_env")) == NULL)
		pc->api_key_env = config_dupnull(default_key_env(pc));
	else if (!cJSON_IsNull(v)) {
		if (get_string(p, v, sub, &pc->api_key_env) != 0)
			return -1;
		if (!config_is_env_name(pc->api_key_env))
			return config_parse_error(p, sub,
			    "expected the name of an environment variable (letters, digits and "
			    "'_')");
	}
	if (get_strv(p, FIELD("models"), sub, &pc->models, &pc->n_models) != 0)
		return -1;
	if (pc->n_models == 0)
		return config_parse_error(p, sub, "at least one model is required");
	if (parse_provider_numbers(p, j, path, pc) != 0)
		return -1;
	if ((v = FIELD("api_version")) != NULL) {
		if (pc->kind != PROVIDER_AZURE)
			return config_parse_error(p, sub, "only valid with kind \"azure\"");
		if (get_nonempty(p, v, sub, &pc->api_version) != 0)
			return -1;
	}
	if ((v = FIELD("entra_token_env")) != NULL) {
		if (pc->kind != PROVIDER_AZURE)
			return config_parse_error(p, sub, "only valid with kind \"azure\"");
		if (get_nonempty(p, v, sub, &pc->entra_token_env) != 0)
			return -1;
		if (!config_is_env_name(pc->entra_token_env))
			return config_parse_error(p, sub,
			    "expected the name of an environment variable (letters, digits and "
			    "'_')");
	}
	if ((v = FIELD("num_ctx")) != NULL) {
		if (pc->kind != PROVIDER_OPENAI || pc->flavor != FLAVOR_OLLAMA)
			return config_parse_error(p, sub, "only valid with flavor \"ollama\"");
		if (get_int(p, v, sub, 1, LIMIT_NUM_CTX_MAX, &pc->num_ctx) != 0)
			return -1;
	}
	if ((v = FIELD("keep_alive")) != NULL) {
		if (pc->kind != PROVIDER_OPENAI || pc->flavor != FLAVOR_OLLAMA)
			return config_parse_error(p, sub, "only valid with flavor \"ollama\"");
		if (cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
		    v->valuedouble == (double)(long long)v->valuedouble &&
		    fabs(v->valuedouble) < 1e12)
			pc->keep_alive = xasprintf("%lld", (long long)v->valuedouble);
		else if (get_nonempty(p, v, sub, &pc->keep_alive) != 0)
			return -1;
		else if (!config_is_keep_alive(pc->keep_alive))
			return config_parse_error(p, sub,
			    "expected a duration like \"5m\", \"1h30m\", \"-1\" or \"0\", or a "
			    "number "
			    "of seconds");
	}
	if ((v = FIELD("tls_verify")) != NULL && get_bool(p, v, sub, &pc->tls_verify) != 0)
		return -1;
	if ((v = FIELD("ca_file")) != NULL && get_nonempty(p, v, sub, &pc->ca_file) != 0)
		return -1;
	if ((v = FIELD("enabled")) != NULL && get_bool(p, v, sub, &pc->enabled) != 0)
		return -1;
#undef FIELD
	return 0;
}

/* One providers[] entry; appended to cfg only when every field is good. */
static int
parse_provider(struct config_parse *p, struct config *cfg, const cJSON *j, const char *path,
    size_t first)
{
	static const char *const required[] = {"name", "kind", "base_url", "models"};
	enum provider_kind kind = PROVIDER_ANTHROPIC;
	struct provider_conf pc;
	char sub[CONFIG_PATH_LEN];
	char *name = NULL;

	if (check_keys(p, j, path, provider_keys, nitems(provider_keys)) != 0)
		return -1;
	for (size_t i = 0; i < nitems(required); i++) {
		if (cJSON_GetObjectItemCaseSensitive(j, required[i]) == NULL)
			return config_parse_error(p, path, "missing required key \"%s\"",
			    required[i]);
	}
	path_key(sub, sizeof sub, path, "kind");
	if (parse_provider_name(p, cfg, j, path, first, &name) != 0 ||
	    parse_kind(p, cJSON_GetObjectItemCaseSensitive(j, "kind"), sub, &kind) != 0) {
		free(name);
		return -1;
	}
	config_provider_init(&pc, kind);
	pc.name = name;
	if (parse_provider_fields(p, j, path, &pc) != 0) {
		config_provider_free(&pc);
		return -1;
	}
	config_provider_append(cfg, &pc);
	return 0;
}

static int
parse_providers(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	char sub[CONFIG_PATH_LEN];
	size_t first = cfg->n_providers, i = 0;

	if (!cJSON_IsArray(j))
		return config_parse_error(p, "providers", "expected an array, got %s",
		    json_type(j));
	for (const cJSON *c = j->child; c != NULL; c = c->next, i++) {
		path_index(sub, sizeof sub, "providers", i);
		if (parse_provider(p, cfg, c, sub, first) != 0)
			return -1;
	}
	return 0;
}

static const char *const model_keys[] = {"id", "input_per_mtok", "output_per_mtok",
    "cache_read_per_mtok", "cache_write_per_mtok", "cache_write_1h_per_mtok", "context_tokens",
    "max_output_tokens", "source"};

/* models: alias -> fields; an existing alias (a default) keeps what the file leaves out. */
static int
parse_models(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	char path[CONFIG_PATH_LEN], sub[CONFIG_PATH_LEN];
	struct model_conf m, *old;
	const cJSON *v;
	int priced;

	if (check_object(p, j, "models") != 0)
		return -1;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		path_key(path, sizeof path, "models", c->string);
		if (!config_is_alias(c->string))
			return config_parse_error(p, path,
			    "a model alias must be 1 to 128 printable characters without spaces");
		if (check_keys(p, c, path, model_keys, nitems(model_keys)) != 0)
			return -1;
		if ((old = config_model_find(cfg, c->string)) != NULL)
			config_model_copy(&m, old);
		else {
			memset(&m, 0, sizeof m);
			m.alias = xstrdup(c->string);
			m.id = xstrdup(c->string);
			m.input_per_mtok = m.output_per_mtok = m.cache_read_per_mtok = -1.0;
			m.cache_write_per_mtok = m.cache_write_1h_per_mtok = -1.0;
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
		if ((v = FIELD("cache_write_per_mtok")) != NULL) {
			if (get_number(p, v, sub, 0.0, 0, INFINITY, 0, &m.cache_write_per_mtok) !=
			    0)
				goto fail;
			priced = 1;
		}
		if ((v = FIELD("cache_write_1h_per_mtok")) != NULL) {
			if (get_number(p, v, sub, 0.0, 0, INFINITY, 0,
			        &m.cache_write_1h_per_mtok) != 0)
				goto fail;
			priced = 1;
		}
		if ((v = FIELD("context_tokens")) != NULL &&
		    get_int64(p, v, sub, 1, CONFIG_MAX_INT64, &m.context_tokens) != 0)
			goto fail;
		if ((v = FIELD("max_output_tokens")) != NULL &&
		    get_int64(p, v, sub, 1, LIMIT_MAX_OUTPUT_TOKENS, &m.max_output_tokens) != 0)
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
			config_model_free(old);
			*old = m;
		} else {
			cfg->models =
			    xreallocarray(cfg->models, cfg->n_models + 1, sizeof *cfg->models);
			cfg->models[cfg->n_models++] = m;
		}
	}
	return 0;
fail:
	config_model_free(&m);
	return -1;
}

static const char *const route_keys[] = {
    "primary", "fallback", "model", "hedge_after_ms", "balance"};

/* A hedge delay: N ms (0: off, as *off) or "auto" (the provider's own p95). */
static int
get_hedge_ms(struct config_parse *p, const cJSON *v, const char *path, int off, int *out)
{
	if (cJSON_IsString(v)) {
		if (strcmp(v->valuestring, "auto") != 0)
			return config_parse_error(p, path,
			    "expected a number of milliseconds or \"auto\", got \"%s\"",
			    v->valuestring);
		*out = CONFIG_HEDGE_AUTO;
		return 0;
	}
	if (get_int(p, v, path, 0, CONFIG_MAX_HEDGE_MS, out) != 0)
		return -1;
	if (*out == 0)
		*out = off;
	return 0;
}

/* "balance": "weighted" or "latency". */
static int
get_balance(struct config_parse *p, const cJSON *v, const char *path, enum balance *out)
{
	if (cJSON_IsString(v) && strcmp(v->valuestring, "weighted") == 0)
		*out = BALANCE_WEIGHTED;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "latency") == 0)
		*out = BALANCE_LATENCY;
	else
		return config_parse_error(p, path, "expected \"weighted\" or \"latency\"");
	return 0;
}

static int
parse_routes(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	char path[CONFIG_PATH_LEN], sub[CONFIG_PATH_LEN];
	struct route_conf r;
	const cJSON *v;

	if (check_object(p, j, "routes") != 0)
		return -1;
	for (const cJSON *c = j->child; c != NULL; c = c->next) {
		path_key(path, sizeof path, "routes", c->string);
		if (!config_is_plain_name(c->string))
			return config_parse_error(p, path,
			    "a route name must be up to 64 letters, "
			    "digits, '.', '_' or '-'");
		if (check_keys(p, c, path, route_keys, nitems(route_keys)) != 0)
			return -1;
		if (cJSON_GetObjectItemCaseSensitive(c, "primary") == NULL)
			return config_parse_error(p, path, "missing required key \"primary\"");
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
		/* 0 turns hedging off on this route; absent: the top-level "hedge". */
		if ((v = FIELD("hedge_after_ms")) != NULL &&
		    get_hedge_ms(p, v, sub, -1, &r.hedge_after_ms) != 0)
			goto fail;
		if ((v = FIELD("balance")) != NULL && get_balance(p, v, sub, &r.balance) != 0)
			goto fail;
#undef FIELD
		config_route_set(cfg, &r);
	}
	return 0;
fail:
	config_route_free(&r);
	return -1;
}

static int
check_timezone(struct config_parse *p, const char *path, const char *tz)
{
	if (*tz == '\0' || *tz == '/' || strstr(tz, "..") != NULL || strlen(tz) > 64)
		return config_parse_error(p, path,
		    "expected a time zone name like \"UTC\" or "
		    "\"Europe/Paris\"");
	for (const char *s = tz; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("/_+-", *s) == NULL)
			return config_parse_error(p, path,
			    "expected a time zone name like \"UTC\" or "
			    "\"Europe/Paris\"");
	}
	return 0;
}

static const char *const budget_keys[] = {"daily_usd", "monthly_usd", "alert_threshold",
    "hard_stop", "timezone", "pressure", "downgrade", "tiers"};
const char *const config_tier_keys[CONFIG_N_TIERS] = {"high_complex", "high", "standard", "low"};

/* A file's "downgrade" replaces the default ladder: it is the only way to drop a step. */
static int
parse_budget(struct config_parse *p, struct config *cfg, const cJSON *j)
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
	if ((v = FIELD(j, "monthly_usd")) != NULL &&
	    get_number(p, v, sub, 0.0, 0, INFINITY, 0, &b->monthly_usd) != 0)
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
		config_ladder_free(b);
		for (const cJSON *c = v->child; c != NULL; c = c->next) {
			path_key(step, sizeof step, dpath, c->string);
			if (!cJSON_IsString(c))
				return config_parse_error(p, step,
				    "expected a model alias (a string), "
				    "got %s",
				    json_type(c));
			if (strcmp(c->string, c->valuestring) == 0)
				return config_parse_error(p, step,
				    "a model cannot downgrade to itself");
			config_ladder_push(b, c->string, c->valuestring);
		}
	}
	if ((v = FIELD(j, "tiers")) != NULL) {
		char tpath[CONFIG_PATH_LEN];
		char **slots[] = {
		    &b->tier_high_complex, &b->tier_high, &b->tier_standard, &b->tier_low};
		const cJSON *t;

		strlcpy_(tpath, sub, sizeof tpath);
		if (check_keys(p, v, tpath, config_tier_keys, nitems(config_tier_keys)) != 0)
			return -1;
		for (size_t i = 0; i < nitems(config_tier_keys); i++) {
			path_key(step, sizeof step, tpath, config_tier_keys[i]);
			if ((t = cJSON_GetObjectItemCaseSensitive(v, config_tier_keys[i])) !=
			        NULL &&
			    get_nonempty(p, t, step, slots[i]) != 0)
				return -1;
		}
	}
#undef FIELD
	return 0;
}

static const char *const cache_keys[] = {
    "enabled", "ttl_seconds", "max_temperature", "max_entries", "url"};

/* A cache URL's authority has userinfo (user@, user:password@). */
static int
url_has_userinfo(const char *url)
{
	const char *a = strstr(url, "://"), *at, *slash;

	if (a == NULL)
		return 0;
	a += 3;
	at = strchr(a, '@');
	slash = strchr(a, '/');
	return at != NULL && (slash == NULL || at < slash);
}

static int
parse_cache(struct config_parse *p, struct config *cfg, const cJSON *j)
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
	if ((v = FIELD("url")) != NULL) {
		if (!cJSON_IsString(v) ||
		    (strncmp(v->valuestring, "redis://", 8) != 0 &&
		        strncmp(v->valuestring, "unix://", 7) != 0) ||
		    strlen(v->valuestring) >= sizeof c->url)
			return config_parse_error(p, sub,
			    "expected a redis://HOST:PORT/DB or unix:///PATH URL");
		if (url_has_userinfo(v->valuestring))
			return config_parse_error(p, sub,
			    "a user or password in the config file; put the password in "
			    "LLMDECK_REDIS_PASSWORD");
		strlcpy_(c->url, v->valuestring, sizeof c->url);
	}
#undef FIELD
	return 0;
}

static const char *const responses_keys[] = {"ttl_seconds"};

static int
parse_responses(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	const cJSON *v;

	if (check_keys(p, j, "responses", responses_keys, nitems(responses_keys)) != 0)
		return -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "ttl_seconds")) != NULL &&
	    get_int(p, v, "responses.ttl_seconds", 1, 366 * 86400, &cfg->responses.ttl_seconds) !=
	        0)
		return -1;
	return 0;
}

static const char *const store_keys[] = {"url"};

/* user:password@ in a URL's authority, or a password= parameter. */
static int
url_has_password(const char *url)
{
	const char *a = strstr(url, "://"), *at, *colon, *slash;

	if (strstr(url, "password=") != NULL)
		return 1;
	if (a == NULL)
		return 0;
	a += 3;
	at = strchr(a, '@');
	colon = strchr(a, ':');
	slash = strchr(a, '/');
	return at != NULL && colon != NULL && colon < at && (slash == NULL || at < slash);
}

static int
parse_store(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	const cJSON *v;

	if (check_keys(p, j, "store", store_keys, nitems(store_keys)) != 0)
		return -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "url")) == NULL)
		return 0;
	if (!cJSON_IsString(v) ||
	    (strncmp(v->valuestring, "postgres://", 11) != 0 &&
	        strncmp(v->valuestring, "postgresql://", 13) != 0))
		return config_parse_error(p, "store.url",
		    "expected a postgres:// or postgresql:// URL");
	if (url_has_password(v->valuestring))
		return config_parse_error(p, "store.url",
		    "a password in the config file; put it in PGPASSWORD or ~/.pgpass");
	free(cfg->store.url);
	cfg->store.url = xstrdup(v->valuestring);
	return 0;
}

static const char *const ledger_keys[] = {"durability", "spool_max_rows"};

static int
parse_ledger(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	char sub[CONFIG_PATH_LEN];
	const cJSON *v;

	if (check_keys(p, j, "ledger", ledger_keys, nitems(ledger_keys)) != 0)
		return -1;
	path_key(sub, sizeof sub, "ledger", "spool_max_rows");
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "spool_max_rows")) != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			return config_parse_error(p, sub,
			    "expected a whole number from 1 to 1000000000");
		cfg->ledger.spool_max_rows = (int64_t)v->valuedouble;
	}
	path_key(sub, sizeof sub, "ledger", "durability");
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "durability")) == NULL)
		return 0;
	if (cJSON_IsString(v) && strcmp(v->valuestring, "full") == 0)
		cfg->ledger.durability = LEDGER_DURABILITY_FULL;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "normal") == 0)
		cfg->ledger.durability = LEDGER_DURABILITY_NORMAL;
	else
		return config_parse_error(p, sub, "expected \"full\" or \"normal\"");
	return 0;
}

static const char *const breaker_keys[] = {
    "failure_threshold", "cooldown_seconds", "half_open_max", "probe_interval_seconds"};

static int
parse_breaker(struct config_parse *p, struct config *cfg, const cJSON *j)
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

static const char *const hedge_keys[] = {"after_ms", "auto_min_ms"};

/* "hedge": {"after_ms": N | "auto", "auto_min_ms": M}, or "hedge": "auto": a
 * second attempt when the first is silent for N ms, or for its provider's own
 * p95 (never sooner than M ms). */
static int
parse_hedge(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	const cJSON *v;

	if (cJSON_IsString(j))
		return get_hedge_ms(p, j, "hedge", 0, &cfg->hedge_after_ms);
	if (check_keys(p, j, "hedge", hedge_keys, nitems(hedge_keys)) != 0)
		return -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "after_ms")) != NULL &&
	    get_hedge_ms(p, v, "hedge.after_ms", 0, &cfg->hedge_after_ms) != 0)
		return -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(j, "auto_min_ms")) != NULL &&
	    get_int(p, v, "hedge.auto_min_ms", 1, CONFIG_MAX_HEDGE_MS, &cfg->learn.hedge_min_ms) !=
	        0)
		return -1;
	return 0;
}

static const char *const learn_keys[] = {"enabled", "multiple", "floor_seconds", "min_samples"};

/* "learned_timeouts": {"enabled", "multiple", "floor_seconds", "min_samples"} (struct learn_conf). */
static int
parse_learned_timeouts(struct config_parse *p, struct config *cfg, const cJSON *j)
{
	struct learn_conf *l = &cfg->learn;
	char sub[CONFIG_PATH_LEN];
	const cJSON *v;

	if (check_keys(p, j, "learned_timeouts", learn_keys, nitems(learn_keys)) != 0)
		return -1;
#define FIELD(k) \
	(path_key(sub, sizeof sub, "learned_timeouts", k), cJSON_GetObjectItemCaseSensitive(j, k))
	if ((v = FIELD("enabled")) != NULL && get_bool(p, v, sub, &l->enabled) != 0)
		return -1;
	if ((v = FIELD("multiple")) != NULL &&
	    get_number(p, v, sub, 1, 0, 100, 0, &l->multiple) != 0)
		return -1;
	if ((v = FIELD("floor_seconds")) != NULL && get_seconds_ms(p, v, sub, 0, &l->floor_ms) != 0)
		return -1;
	if ((v = FIELD("min_samples")) != NULL &&
	    get_int(p, v, sub, 1, LEARN_MAX_SAMPLES, &l->min_samples) != 0)
		return -1;
#undef FIELD
	return 0;
}

static const char *const top_keys[] = {"providers", "models", "routes", "budget", "cache", "ledger",
    "responses", "breaker", "hedge", "balance", "learned_timeouts", "store"};

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
parse_document(struct config_parse *p, struct config *cfg, const char *json)
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
		return config_parse_error(p, NULL, "empty file (expected a JSON object)");
	root = cJSON_ParseWithOpts(json, &end, 1);
	if (root == NULL) {
		size_t off = end != NULL && end >= json ? (size_t)(end - json) : 0;

		text_position(json, off, &line, &col);
		return config_parse_error(p, NULL, "line %zu, column %zu: JSON syntax error", line,
		    col);
	}
	if (!cJSON_IsObject(root)) {
		config_parse_error(p, NULL, "expected a JSON object at the top level, got %s",
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
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "ledger")) != NULL &&
	    parse_ledger(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "responses")) != NULL &&
	    parse_responses(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "store")) != NULL &&
	    parse_store(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "breaker")) != NULL &&
	    parse_breaker(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "hedge")) != NULL &&
	    parse_hedge(p, cfg, v) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "balance")) != NULL &&
	    get_balance(p, v, "balance", &cfg->balance) != 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "learned_timeouts")) != NULL &&
	    parse_learned_timeouts(p, cfg, v) != 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int
config_load_string(struct config *cfg, const char *json, const char *origin, char **cause)
{
	struct config_parse p = {origin != NULL ? origin : "<string>", cause};
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
		config_replace_str(&cfg->path, path);
	return rc;
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

char *
config_find_file(const char *path)
{
	const char *env = getenv("LLMDECK_CONFIG");

	if (path != NULL)
		return xstrdup(path);
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	return config_default_path();
}

/* File and environment into a copy of cfg, checked if validate; cfg replaced on success. */
static int
config_load_as(struct config *cfg, const char *path, int validate, char **cause)
{
	char *file = config_find_file(path);
	struct config tmp;

	config_copy(&tmp, cfg);
	if ((file != NULL && config_load_file(&tmp, file, cause) != 0) ||
	    config_apply_env(&tmp, NULL, NULL, cause) != 0 ||
	    (validate && config_validate(&tmp, cause) != 0)) {
		free(file);
		config_free(&tmp);
		return -1;
	}
	free(file);
	config_free(cfg);
	*cfg = tmp;
	return 0;
}

int
config_load(struct config *cfg, const char *path, char **cause)
{
	return config_load_as(cfg, path, 1, cause);
}

int
config_load_unchecked(struct config *cfg, const char *path, char **cause)
{
	return config_load_as(cfg, path, 0, cause);
}
