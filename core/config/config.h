/*
 * config.h: the JSON config file plus the seed's environment variables, which
 * override it. Every error names the file (or variable), the key and the reason.
 * API keys never appear in the file: only the name of the variable that holds
 * each. The resolved key lives in memory only and is never printed.
 */
#ifndef LLMDECK_CONFIG_H
#define LLMDECK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/config_limits.h"

enum provider_kind {
	PROVIDER_ANTHROPIC,
	PROVIDER_OPENAI,
	PROVIDER_AZURE,
};

/* Quirks of OpenAI-compatible servers. */
enum provider_flavor {
	FLAVOR_OPENAI,
	FLAVOR_MISTRAL, /* rejects unknown fields: no max_completion_tokens, no stream_options */
	FLAVOR_VLLM,
	FLAVOR_LLAMACPP,
	FLAVOR_OLLAMA,
};

const char *provider_kind_name(enum provider_kind);
const char *provider_flavor_name(enum provider_flavor);

struct provider_conf {
	char *name;
	enum provider_kind kind;
	enum provider_flavor flavor;
	char *base_url;    /* no trailing slash */
	char *api_key_env; /* name of the variable, or NULL (self-hosted without auth);
				 * if the file omits it: ANTHROPIC_API_KEY, OPENAI_API_KEY
				 * (flavor openai) or AZURE_OPENAI_KEY by kind */
	char *api_key;     /* resolved from the environment; NULL if unset */
	char **models;     /* aliases this provider serves, in preference order */
	size_t n_models;
	int priority;           /* lower is preferred; default 1; config_limits.h */
	double weight;          /* default 1.0; range in config_limits.h */
	double timeout_seconds; /* per-request deadline; default 60 */
	/* Per-attempt limits inside that deadline (README: "How the router decides"). */
	double connect_timeout_seconds;     /* 0: 5 */
	double first_token_timeout_seconds; /* whole answer / first streamed token; 0: automatic */
	double stream_idle_timeout_seconds; /* silence between stream chunks; 0: 30 */
	int max_retries;                    /* retries on the same provider; default 2 */
	int rate_limit_rpm;                 /* 0: unlimited */
	int rate_limit_tpm;                 /* 0: unlimited */
	char *api_version;                  /* azure: default "2024-10-21"; "v1": the v1 API
					     * ({endpoint}/openai/v1/chat/completions) */
	char *entra_token_env; /* azure: a Microsoft Entra ID bearer token is in this variable,
				* read at each request (so it can be refreshed); NULL: api-key */
	int num_ctx;           /* ollama flavor: options.num_ctx; 0: the server's default */
	char *keep_alive;      /* ollama flavor: keep_alive ("5m", "-1", "0"); NULL: default */
	int tls_verify;        /* default 1; only an explicit "tls_verify": false turns it off */
	char *ca_file;         /* "ca_file": a PEM CA bundle to trust for this provider, or NULL */
	int enabled;           /* default 1 */
};

struct model_conf {
	char *alias;           /* "claude-sonnet" */
	char *id;              /* "claude-sonnet-4-20250514"; azure: the deployment name */
	double input_per_mtok; /* USD per million input tokens; < 0: unpriced */
	double output_per_mtok;
	double cache_read_per_mtok;     /* < 0: same as input */
	double cache_write_per_mtok;    /* 5-minute cache writes; < 0: same as input */
	double cache_write_1h_per_mtok; /* 1-hour cache writes; < 0: cache_write_per_mtok */
	int64_t context_tokens;
	int64_t max_output_tokens; /* the model's output limit: Anthropic's required max_tokens
				    * and the budget's reservation when a request sets none;
				    * 0: unknown */
	char *source;              /* where the price came from */
};

/* How the providers of the top usable priority share requests ("balance"). */
enum balance {
	BALANCE_DEFAULT,  /* globally: weighted; on a route: its order */
	BALANCE_WEIGHTED, /* weighted random */
	BALANCE_LATENCY,  /* two picked by weight, the one with the lower peak-EWMA latency
			   * times (in flight + 1) taken */
};

/* hedge_after_ms: hedge after the provider's own p95 (learned), not a fixed time. */
#define CONFIG_HEDGE_AUTO (-2)
/* The samples a provider's learned latency keeps (the router's ring). */
#define LEARN_MAX_SAMPLES 256

/*
 * "learned_timeouts": each provider's first-token (streams) or whole-answer
 * timeout is multiple x its p99 over the last minute, at least floor_ms, at
 * most the configured first_token_timeout_seconds (or the automatic one), once
 * it has min_samples answers in that minute.
 */
struct learn_conf {
	int enabled;      /* default 1 */
	double multiple;  /* default 3 */
	int floor_ms;     /* default 1000 */
	int min_samples;  /* default 20; at most LEARN_MAX_SAMPLES */
	int hedge_min_ms; /* "hedge": "auto" never hedges sooner; default 50 */
};

struct route_conf {
	char *name;      /* "LSR" */
	char *primary;   /* provider name */
	char **fallback; /* provider names in order */
	size_t n_fallback;
	char *model;          /* alias to use on this route, or NULL */
	int hedge_after_ms;   /* 0: the config's hedge.after_ms; -1: no hedging;
			     * CONFIG_HEDGE_AUTO: after the provider's own p95 */
	enum balance balance; /* BALANCE_DEFAULT: primary, then fallbacks in order */
};

struct downgrade_step {
	char *from; /* model alias */
	char *to;   /* cheaper alias */
};

struct budget_conf {
	double daily_usd;   /* 0: no budget */
	double monthly_usd; /* a calendar month in timezone (keys.h's scope "global"); 0: none */
	double alert_threshold; /* fraction, default 0.8 */
	int hard_stop;          /* default 1 */
	char *timezone;         /* default "UTC" */
	double pressure;        /* downgrade when remaining < pressure * budget; default 0.2 */
	struct downgrade_step *ladder;
	size_t n_ladder;
	/* The seed's CostOptimizer: model per quality tier. */
	char *tier_high_complex; /* default "claude-opus" */
	char *tier_high;         /* default "claude-sonnet" */
	char *tier_standard;     /* default "claude-sonnet" */
	char *tier_low;          /* default "claude-haiku" */
};

struct cache_conf {
	int enabled;            /* default 1 */
	int ttl_seconds;        /* default 3600 */
	double max_temperature; /* default 0.3 */
	int64_t max_entries;    /* default 10000 */
	/* "url": "redis://HOST[:PORT][/DB]" or "unix:///PATH[?db=N]": the cache in Redis, shared by
	 * every instance whatever its store ("": in the store). Never with userinfo: a password
	 * comes from LLMDECK_REDIS_PASSWORD. */
#define CONFIG_CACHE_URL_SIZE 512
	char url[CONFIG_CACHE_URL_SIZE];
};

/* How the ledger's commits reach the disk (README: "Spend, budget and cache"). */
enum ledger_durability {
	LEDGER_DURABILITY_FULL,   /* synchronous=FULL: a committed row survives a power loss */
	LEDGER_DURABILITY_NORMAL, /* synchronous=NORMAL (WAL): survives a crash of the process,
	                           * a power loss may take the last commits */
};

/* Stored Responses API responses (store: true; responses.h). */
struct responses_conf {
	int ttl_seconds; /* "responses": {"ttl_seconds": N}; default 30 days */
};

struct store_conf {
	/* "store": {"url": "postgres://..."}: the database when no --db is given (NULL: the
	 * SQLite default). Never with a password: PGPASSWORD or ~/.pgpass hold it. */
	char *url;
};

struct ledger_conf {
	enum ledger_durability durability; /* "ledger": {"durability": "full"|"normal"}; normal */
	int64_t
	    spool_max_rows; /* "ledger": {"spool_max_rows": N}: rows the spool takes; 0: 10000 */
};

struct breaker_conf {
	int failure_threshold; /* consecutive failures that open it; default 5 */
	int cooldown_ms;       /* open -> half-open; default 30000 */
	int half_open_max;     /* trial requests in half-open; default 1 */
	int probe_interval_ms; /* active health probes; default 10000, 0: off */
};

struct config {
	char *path; /* file it came from, or NULL */
	struct provider_conf *providers;
	size_t n_providers;
	struct model_conf *models;
	size_t n_models;
	struct route_conf *routes;
	size_t n_routes;
	struct budget_conf budget;
	struct cache_conf cache;
	struct ledger_conf ledger;
	struct responses_conf responses;
	struct store_conf store;
	struct breaker_conf breaker;
#define CONFIG_MAX_HEDGE_MS 600000
	int hedge_after_ms; /* "hedge": {"after_ms": N}: a second attempt after N ms of silence; 0 off;
			     * CONFIG_HEDGE_AUTO ("hedge": "auto"): after the provider's p95 */
	enum balance balance; /* "balance": "weighted" (default) or "latency" */
	struct learn_conf learn;
};

/* Defaults only: no providers, the default pricing table, default budget/cache/breaker. */
void config_init(struct config *);
void config_free(struct config *);
/* A deep copy (dst is overwritten, not freed): loaders work on one and swap on success. */
void config_copy(struct config *dst, const struct config *src);

/*
 * Parse a JSON config. origin names it in errors (a path, "<string>"). On error
 * the config is unchanged. Over a loaded config, a file adds providers (names
 * must stay unique), adds or overrides models and routes, and overrides the
 * budget, cache and breaker keys it gives; its "downgrade" replaces the ladder.
 */
int config_load_string(struct config *, const char *json, const char *origin, char **cause);
int config_load_file(struct config *, const char *path, char **cause);

/*
 * Apply the seed's environment variables over the config: keys, Azure endpoint,
 * primary/fallback, timeout, retries, budget, threshold, cache. A key variable
 * with no provider of its kind adds one with defaults. getenv_fn lets tests
 * supply the environment; NULL means getenv. LLM_PRIMARY_PROVIDER and
 * LLM_FALLBACK_PROVIDER get priorities 1 and 2 and every other provider 3 or
 * more, plus a route "default". Empty variables count as unset. On error the
 * config is unchanged.
 */
int config_apply_env(struct config *, const char *(*getenv_fn)(const char *, void *), void *arg,
    char **cause);

/*
 * The seed's paradigm routes (LSR, GS, EP: anthropic then openai; VE: openai then
 * anthropic) for those whose primary provider exists and that the config does not
 * define; a fallback is kept only if it exists. config_apply_env calls this last.
 */
void config_add_default_routes(struct config *);

/* Check cross references (routes name providers, providers' models exist...). */
int config_validate(const struct config *, char **cause);

/* The usual sequence: file (config_find_file(path), if any), env, validate. */
int config_load(struct config *, const char *path, char **cause);
/* The same without config_validate: for readers of the database (`llmdeck status`)
 * that need the budget, time zone and cache, not a provider. */
int config_load_unchecked(struct config *, const char *path, char **cause);
/*
 * The config file to read: path if not NULL, else $LLMDECK_CONFIG if set and not
 * empty, else $XDG_CONFIG_HOME/llmdeck/config.json (~/.config/llmdeck/config.json
 * when unset) if it exists; NULL if there is none. Caller frees.
 */
char *config_find_file(const char *path);

const struct provider_conf *config_provider(const struct config *, const char *name);
const struct model_conf *config_model(const struct config *, const char *alias);
const struct route_conf *config_route(const struct config *, const char *name);

/* "sk-a...wxyz" style: never the whole key. Writes into out. */
void config_mask_key(const char *key, char *out, size_t outlen);

#endif
