/*
 * cache.h: the exact-match response cache, in the store.
 *
 * The key is the SHA-256 of a canonical JSON of everything that changes the
 * answer (cache_key()). Only requests with an explicit temperature at or
 * below cache.max_temperature are cached: an omitted temperature means the
 * provider's default (1.0). Entries expire after ttl_seconds; beyond
 * max_entries the least recently used are evicted. Hit and miss counters live
 * in the database, so `llmdeck status` sees every process's. Thread-safe.
 *
 * With cache.url set (a redis:// or unix:// URL) the same calls use Redis
 * instead (cache_redis.c): SETEX llm_cache:<key> with ttl_seconds, Redis's own
 * eviction (max_entries does not apply), the counters llm_cache:hits and
 * llm_cache:misses shared by every instance on it. The store may then be NULL
 * (a router with no database). Redis unreachable is a miss (and a put that
 * fails), never an error; cache_health says so.
 */
#ifndef LLMDECK_CACHE_H
#define LLMDECK_CACHE_H

#include <stdint.h>

#include "config/config.h"
#include "provider/llm.h"

struct store;

/* 1 when this request may be served from and stored in the cache: enabled,
 * not no_cache, has_temperature and temperature <= max_temperature. */
int cache_eligible(const struct cache_conf *, const struct llm_request *);

/*
 * The key: lower-case hex SHA-256 (OpenSSL EVP) of a canonical JSON of
 * everything that changes the answer: the messages (role and every part: text,
 * images, tool calls and results, thinking), system prompt, model_alias
 * (req->model if NULL), temperature, top_p, top_k, max_tokens, stop sequences,
 * seed, tools, tool choice, parallel tool calls, response format, reasoning
 * effort, thinking budget, same-kind passthrough fields, and the route and
 * provider pins. JSON texts (schemas, arguments, passthrough) are parsed with
 * object keys sorted recursively, so key order does not matter (kept verbatim
 * if not JSON). Not in it: user, metadata, cache breakpoints, stream.
 */
void cache_key(const struct llm_request *, const char *model_alias, char out_hex[65]);

/*
 * Look key up. 1: hit (out filled, caller frees with llm_response_free;
 * provider and model, either may be NULL, get who answered originally; counts
 * a hit and makes the entry most recently used). 0: miss, counted (also when
 * the entry had expired: it is deleted). -1: error. A disabled cache always
 * misses without counting.
 */
int cache_get(struct store *, const struct cache_conf *, const char *key, struct llm_response *out,
    char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE]);

/* Store (or replace) an answer; deletes expired entries and evicts the least
 * recently used beyond max_entries. 0, or -1. A disabled cache stores nothing. */
int cache_put(struct store *, const struct cache_conf *, const char *key, const char *provider,
    const char *model, const struct llm_response *);

/* The same, from the store's writer thread: done(arg, 0 or -1) runs there once the
 * entry is committed (with whatever else was queued: group commit). */
void
cache_put_async(struct store *, const struct cache_conf *, const char *key, const char *provider,
    const char *model, const struct llm_response *, void (*done)(void *, int), void *arg);

/* Bind s's cache (NULL s: this process's, for a router with no store) to Redis at url
 * (cache.url), so that cache_flush and cache_get_stats go there before any lookup has;
 * NULL or "": nothing to do. Connects on first use, not here. */
void cache_set_url(struct store *, const char *url);

/* 1 when the cache's Redis is unreachable (reason says why), else 0; *changes moves on each
 * change of that state (0 and no Redis: 0). For one event per change. */
int cache_health(struct store *, const struct cache_conf *, unsigned *changes, char *reason,
    size_t len);

/* Remove every entry (counters are kept); returns how many, or -1. */
int cache_flush(struct store *);

struct cache_stats {
	int64_t entries;
	int64_t hits;
	int64_t misses;
	int ttl_seconds; /* not in the database: 0 (cmd_status fills it from the config) */
};
/* 0, or -1. */
int cache_get_stats(struct store *, struct cache_stats *);

#endif
