/*
 * config_check.c: what a value may be (names, aliases, environment variable
 * names, things that look like credentials), near-miss suggestions for error
 * messages, and the cross-reference checks run once everything is loaded.
 */
#include "config/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_priv.h"
#include "util/util.h"

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
const char *
config_suggest(const char *word, const char *const *cands, size_t n, int loose)
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
int
config_looks_like_key(const char *s)
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
int
config_is_secret_name(const char *name)
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

int
config_is_env_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	}
	return 1;
}

/*
 * Ollama's keep_alive: a number of seconds ("300", "-1", "0") or a Go duration
 * ("5m", "1h30m", "-1m", "2.5h", "300ms"), as its API documents it.
 */
int
config_is_keep_alive(const char *s)
{
	static const char *const units[] = {"ns", "us", "ms", "s", "m", "h"};
	int n = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (strspn(s, "0123456789") == strlen(s) && *s != '\0')
		return strlen(s) <= 12;
	while (*s != '\0') {
		size_t digits = strspn(s, "0123456789."), k;

		if (digits == 0 || digits > 12 || ++n > 8)
			return 0;
		s += digits;
		for (k = 0; k < sizeof units / sizeof units[0]; k++) {
			/* "ms" is tried before "m", "ns" and "us" before "s". */
			if (strncmp(s, units[k], strlen(units[k])) == 0)
				break;
		}
		if (k == sizeof units / sizeof units[0])
			return 0;
		s += strlen(units[k]);
	}
	return n > 0;
}

/* Provider and route names: shown in the console, typed in commands. */
int
config_is_plain_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > LIMIT_NAME_LEN)
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	}
	return 1;
}

/* Model aliases may carry tags ("llama3.1:8b"): anything printable without spaces. */
int
config_is_alias(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > LIMIT_ALIAS_LEN)
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '"')
			return 0;
	}
	return 1;
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
	s = config_suggest(alias, names, cfg->n_models, 0);
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
	str_oneline(*cause);
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
		snprintf(where, sizeof where, "budget.tiers.%s", config_tier_keys[i]);
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
