/*
 * cache_redis.c: the response cache in Redis (hiredis), chosen by cache.url
 * ("redis://HOST[:PORT][/DB]" or "unix:///PATH[?db=N]"), shared by every
 * instance on that Redis whatever its store. An entry is `SETEX
 * llm_cache:<cache_key()> <ttl_seconds> <JSON of the answer>` (Redis's own TTL
 * and eviction: max_entries does not apply, Redis's maxmemory-policy does); the
 * fleet's figures are the counters `llm_cache:hits` and `llm_cache:misses`
 * (INCR); flush and the entry count SCAN for `llm_cache:*` (never KEYS).
 *
 * Threads and locks: a struct cache_redis is owned by a store handle
 * (store_cache_data, freed by store_close) or, for a router with no store
 * (serve --no-db), by this process (cache_redis_process, never freed). It holds
 * one hiredis connection, which is not thread safe: every use of it, and every
 * field below the mutex, is under cache_redis.mu, on whichever thread calls
 * (lookups, flush and stats on the callers' threads; cache_put_async's SETEX on
 * its caller's, the store's writer thread for the router). cache_redis_mu guards
 * making the state (the slot's first use).
 *
 * Redis unreachable (refused, timed out, a broken connection) is a miss, never
 * an error for the request: the connection is dropped, no new one is tried for
 * a backoff (100 ms doubling to 5 s), and calls in between miss at once.
 * Connect and command timeouts are 150 ms. Each change of state (unreachable,
 * reachable again) moves `changes`, which the router turns into one event
 * (cache_health).
 */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h"
#include "store/store_priv.h"
#include "util/util.h"

#define CR_TIMEOUT_MS 150
#define CR_BACKOFF_MIN_MS 100
#define CR_BACKOFF_MAX_MS 5000
#define CR_PREFIX "llm_cache:"
#define CR_HITS CR_PREFIX "hits"
#define CR_MISSES CR_PREFIX "misses"

struct cache_redis {
	pthread_mutex_t mu; /* guards everything below */
	char url[CONFIG_CACHE_URL_SIZE];
	char host[256]; /* or the socket's path */
	int port;       /* 0: a Unix socket */
	int db;
	redisContext *c;   /* NULL: not connected */
	int down;          /* the last attempt failed: unreachable */
	uint64_t retry_at; /* monotonic ms: no attempt before */
	int backoff_ms;
	char reason[256];    /* why it is down */
	atomic_uint changes; /* moves on each change of state */
};

static pthread_mutex_t cache_redis_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cache_redis *cache_redis_process;

/* Parse url into cr's address; -1 when it is not one. */
static int
cr_parse(struct cache_redis *cr, const char *url)
{
	const char *p, *q;
	size_t n;

	cr->port = 0;
	cr->db = 0;
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		n = strcspn(p, "?");
		if (n == 0 || n >= sizeof cr->host)
			return -1;
		memcpy(cr->host, p, n);
		cr->host[n] = '\0';
		if ((q = strstr(p + n, "db=")) != NULL)
			cr->db = atoi(q + 3);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	n = strcspn(p, ":/");
	if (n == 0 || n >= sizeof cr->host)
		return -1;
	memcpy(cr->host, p, n);
	cr->host[n] = '\0';
	p += n;
	cr->port = 6379;
	if (*p == ':') {
		cr->port = atoi(p + 1);
		p += 1 + strspn(p + 1, "0123456789");
	}
	if (*p == '/' && p[1] != '\0')
		cr->db = atoi(p + 1);
	return cr->port > 0 && cr->port < 65536 ? 0 : -1;
}

/* Under mu: point cr at url (a reload may change it): any connection is dropped. */
static void
cr_set_url_locked(struct cache_redis *cr, const char *url)
{
	if (url == NULL || url[0] == '\0' || strcmp(cr->url, url) == 0)
		return;
	strlcpy_(cr->url, url, sizeof cr->url);
	if (cr->c != NULL)
		redisFree(cr->c);
	cr->c = NULL;
	cr->retry_at = 0;
	cr->backoff_ms = 0;
	if (cr_parse(cr, url) != 0) {
		cr->host[0] = '\0';
		snprintf(cr->reason, sizeof cr->reason, "not a Redis URL");
	}
}

struct cache_redis *
cache_redis_of(struct store *s, const char *url)
{
	struct cache_redis **slot, *cr;

	pthread_mutex_lock(&cache_redis_mu);
	slot = s != NULL ? (struct cache_redis **)store_cache_data(s) : &cache_redis_process;
	if (*slot == NULL && url != NULL && url[0] != '\0') {
		cr = xcalloc(1, sizeof *cr);
		pthread_mutex_init(&cr->mu, NULL);
		atomic_init(&cr->changes, 0);
		*slot = cr;
	}
	cr = *slot;
	pthread_mutex_unlock(&cache_redis_mu);
	if (cr != NULL && url != NULL && url[0] != '\0') {
		pthread_mutex_lock(&cr->mu);
		cr_set_url_locked(cr, url);
		pthread_mutex_unlock(&cr->mu);
	}
	return cr;
}

void
cache_redis_free(void *p)
{
	struct cache_redis *cr = p;

	if (cr == NULL)
		return;
	if (cr->c != NULL)
		redisFree(cr->c);
	pthread_mutex_destroy(&cr->mu);
	free(cr);
}

/* Under mu: unreachable, because of what (why may be the connection's own errstr:
 * it is copied before the connection goes); one change of state, however many calls. */
static void
cr_down_locked(struct cache_redis *cr, const char *why)
{
	uint64_t now = clock_mono_ms();
	char reason[sizeof cr->reason];

	snprintf(reason, sizeof reason, "%s", why != NULL && why[0] ? why : "no answer");
	if (cr->c != NULL)
		redisFree(cr->c);
	cr->c = NULL;
	cr->backoff_ms = cr->backoff_ms == 0 ? CR_BACKOFF_MIN_MS : cr->backoff_ms * 2;
	if (cr->backoff_ms > CR_BACKOFF_MAX_MS)
		cr->backoff_ms = CR_BACKOFF_MAX_MS;
	cr->retry_at = now + (uint64_t)cr->backoff_ms;
	memcpy(cr->reason, reason, sizeof cr->reason);
	if (!cr->down) {
		cr->down = 1;
		atomic_fetch_add(&cr->changes, 1);
	}
}

/*
 * hiredis writes with write(): a server gone away would raise SIGPIPE, which kills a
 * program that has not ignored it (the commands do; an embedder may not). As libpq
 * does, SIGPIPE is blocked on this thread around a command, and one it raised is
 * taken before the mask is put back.
 */
struct cr_sigpipe {
	sigset_t old;
	int pending; /* one was pending before: not ours to take */
};

static void
cr_sigpipe_block(struct cr_sigpipe *sp)
{
	sigset_t pipe, pend;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &sp->old);
	sigpending(&pend);
	sp->pending = sigismember(&pend, SIGPIPE);
}

static void
cr_sigpipe_restore(struct cr_sigpipe *sp)
{
	struct timespec zero = {0, 0};
	sigset_t pipe, pend;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pend);
	if (!sp->pending && sigismember(&pend, SIGPIPE))
		sigtimedwait(&pipe, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &sp->old, NULL);
}

/* Under mu: a command; NULL when Redis did not answer (then it is down). */
static redisReply *
cr_command_locked(struct cache_redis *cr, const char *fmt, ...)
{
	struct cr_sigpipe sp;
	redisReply *rep;
	va_list ap;

	cr_sigpipe_block(&sp);
	va_start(ap, fmt);
	rep = redisvCommand(cr->c, fmt, ap);
	va_end(ap);
	cr_sigpipe_restore(&sp);
	if (rep == NULL)
		cr_down_locked(cr, cr->c->errstr);
	return rep;
}

/* Under mu: a connection, made if none and the backoff allows; 0, or -1 (a miss). */
static int
cr_connect_locked(struct cache_redis *cr)
{
	struct timeval tv = {0, CR_TIMEOUT_MS * 1000};
	const char *pass = getenv("LLMDECK_REDIS_PASSWORD");
	redisReply *rep;

	if (cr->c != NULL)
		return 0;
	if (cr->host[0] == '\0' || clock_mono_ms() < cr->retry_at)
		return -1;
	cr->c = cr->port == 0 ? redisConnectUnixWithTimeout(cr->host, tv)
	                      : redisConnectWithTimeout(cr->host, cr->port, tv);
	if (cr->c == NULL)
		fatal("cache: out of memory connecting to Redis");
	if (cr->c->err != 0) {
		cr_down_locked(cr, cr->c->errstr);
		return -1;
	}
	redisSetTimeout(cr->c, tv);
	if (pass != NULL && pass[0] != '\0') {
		if ((rep = cr_command_locked(cr, "AUTH %s", pass)) == NULL)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR) {
			cr_down_locked(cr, rep->str);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	if (cr->db != 0) {
		if ((rep = cr_command_locked(cr, "SELECT %d", cr->db)) == NULL)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR) {
			cr_down_locked(cr, rep->str);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	cr->backoff_ms = 0;
	cr->reason[0] = '\0';
	if (cr->down) {
		cr->down = 0;
		atomic_fetch_add(&cr->changes, 1);
	}
	return 0;
}

/* Under mu: INCR a counter, the reply dropped. */
static void
cr_incr_locked(struct cache_redis *cr, const char *counter)
{
	redisReply *rep = cr_command_locked(cr, "INCR %s", counter);

	if (rep != NULL)
		freeReplyObject(rep);
}

static char *
cr_json_dup(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static int64_t
cr_json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void
cr_json_copy(const cJSON *o, const char *key, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (out != NULL)
		strlcpy_(out, cJSON_IsString(v) ? v->valuestring : "", len);
}

/* An entry's JSON into out; -1 when it is not one of ours. */
static int
cr_read_entry(const char *json, size_t len, struct llm_response *out, char *provider, char *model)
{
	cJSON *o = cJSON_ParseWithLength(json, len), *u;
	const cJSON *parts;

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	cr_json_copy(o, "provider", provider, LIMIT_NAME_SIZE);
	cr_json_copy(o, "alias", model, LIMIT_ALIAS_SIZE);
	out->id = cr_json_dup(o, "id");
	out->model = cr_json_dup(o, "model");
	out->content = cr_json_dup(o, "content");
	if (out->content == NULL)
		out->content = xstrdup("");
	out->stop = (enum llm_stop)cr_json_int(o, "stop");
	out->stop_raw = cr_json_dup(o, "stop_raw");
	u = cJSON_GetObjectItemCaseSensitive(o, "usage");
	out->usage.input_tokens = cr_json_int(u, "input_tokens");
	out->usage.output_tokens = cr_json_int(u, "output_tokens");
	out->usage.cache_read_tokens = cr_json_int(u, "cache_read_tokens");
	out->usage.cache_write_tokens = cr_json_int(u, "cache_write_tokens");
	out->usage.cache_write_1h_tokens = cr_json_int(u, "cache_write_1h_tokens");
	out->usage.reasoning_tokens = cr_json_int(u, "reasoning_tokens");
	/* Unreadable parts: the text alone, as the SQLite cache does. */
	parts = cJSON_GetObjectItemCaseSensitive(o, "parts");
	if (cJSON_IsArray(parts)) {
		char *text = cJSON_PrintUnformatted(parts);

		if (text == NULL || llm_parts_from_json(text, &out->parts, &out->n_parts) != 0) {
			out->parts = NULL;
			out->n_parts = 0;
		}
		cJSON_free(text);
	}
	cJSON_Delete(o);
	return 0;
}

int
cache_redis_get(struct cache_redis *cr, const struct cache_conf *c, const char *key,
    struct llm_response *out, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE])
{
	redisReply *rep;
	int hit = 0;

	(void)c;
	pthread_mutex_lock(&cr->mu);
	if (cr_connect_locked(cr) != 0 ||
	    (rep = cr_command_locked(cr, "GET " CR_PREFIX "%s", key)) == NULL) {
		pthread_mutex_unlock(&cr->mu);
		return 0;
	}
	if (rep->type == REDIS_REPLY_STRING &&
	    cr_read_entry(rep->str, rep->len, out, provider, model) == 0)
		hit = 1;
	else {
		llm_response_free(out);
		llm_response_init(out);
	}
	freeReplyObject(rep);
	if (cr->c != NULL)
		cr_incr_locked(cr, hit ? CR_HITS : CR_MISSES);
	pthread_mutex_unlock(&cr->mu);
	return hit;
}

static char *
cr_entry_json(const char *provider, const char *model, const struct llm_response *r)
{
	cJSON *o = cJSON_CreateObject(), *u;
	char *text;

	cJSON_AddNumberToObject(o, "v", 1);
	cJSON_AddStringToObject(o, "provider", provider != NULL ? provider : "");
	cJSON_AddStringToObject(o, "alias", model != NULL ? model : "");
	if (r->id != NULL)
		cJSON_AddStringToObject(o, "id", r->id);
	if (r->model != NULL)
		cJSON_AddStringToObject(o, "model", r->model);
	cJSON_AddStringToObject(o, "content", r->content != NULL ? r->content : "");
	cJSON_AddNumberToObject(o, "stop", (double)r->stop);
	if (r->stop_raw != NULL)
		cJSON_AddStringToObject(o, "stop_raw", r->stop_raw);
	u = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)r->usage.input_tokens);
	cJSON_AddNumberToObject(u, "output_tokens", (double)r->usage.output_tokens);
	cJSON_AddNumberToObject(u, "cache_read_tokens", (double)r->usage.cache_read_tokens);
	cJSON_AddNumberToObject(u, "cache_write_tokens", (double)r->usage.cache_write_tokens);
	cJSON_AddNumberToObject(u, "cache_write_1h_tokens", (double)r->usage.cache_write_1h_tokens);
	cJSON_AddNumberToObject(u, "reasoning_tokens", (double)r->usage.reasoning_tokens);
	if (r->n_parts > 0) {
		char *parts = llm_parts_to_json(r->parts, r->n_parts);
		cJSON *pj = parts != NULL ? cJSON_Parse(parts) : NULL;

		if (pj != NULL)
			cJSON_AddItemToObject(o, "parts", pj);
		free(parts);
	}
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		fatal("cache: out of memory printing an entry");
	cJSON_Delete(o);
	return text;
}

int
cache_redis_put(struct cache_redis *cr, const struct cache_conf *c, const char *key,
    const char *provider, const char *model, const struct llm_response *r)
{
	char *json = cr_entry_json(provider, model, r);
	redisReply *rep;
	int rc = -1;

	pthread_mutex_lock(&cr->mu);
	if (cr_connect_locked(cr) == 0 &&
	    (rep = cr_command_locked(cr, "SETEX " CR_PREFIX "%s %d %b", key, c->ttl_seconds, json,
	         strlen(json))) != NULL) {
		rc = rep->type == REDIS_REPLY_STATUS ? 0 : -1;
		freeReplyObject(rep);
	}
	pthread_mutex_unlock(&cr->mu);
	cJSON_free(json);
	return rc;
}

/* An entry's key (llm_cache:<64 hex>), not a counter. */
static int
cr_is_entry(const redisReply *k)
{
	return k->type == REDIS_REPLY_STRING && k->len == sizeof CR_PREFIX - 1 + 64 &&
	    strncmp(k->str, CR_PREFIX, sizeof CR_PREFIX - 1) == 0;
}

/* Under mu: SCAN every entry; del: DEL them too. How many, or -1. */
static int64_t
cr_scan_locked(struct cache_redis *cr, int del)
{
	char cursor[32] = "0";
	int64_t n = 0;

	do {
		redisReply *rep, *keys;

		rep = cr_command_locked(cr, "SCAN %s MATCH " CR_PREFIX "* COUNT 1000", cursor);
		if (rep == NULL)
			return -1;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(rep);
			return -1;
		}
		strlcpy_(cursor, rep->element[0]->str, sizeof cursor);
		keys = rep->element[1];
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *d;

			if (!cr_is_entry(keys->element[i]))
				continue;
			if (!del) {
				n++;
				continue;
			}
			if ((d = cr_command_locked(cr, "DEL %b", keys->element[i]->str,
			         keys->element[i]->len)) == NULL) {
				freeReplyObject(rep);
				return -1;
			}
			if (d->type == REDIS_REPLY_INTEGER)
				n += d->integer;
			freeReplyObject(d);
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

int
cache_redis_flush(struct cache_redis *cr)
{
	int64_t n = -1;

	pthread_mutex_lock(&cr->mu);
	if (cr_connect_locked(cr) == 0)
		n = cr_scan_locked(cr, 1);
	pthread_mutex_unlock(&cr->mu);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* Under mu: a counter's value (0 when unset). */
static int
cr_counter_locked(struct cache_redis *cr, const char *name, int64_t *v)
{
	redisReply *rep = cr_command_locked(cr, "GET %s", name);

	if (rep == NULL)
		return -1;
	*v = rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;
	freeReplyObject(rep);
	return 0;
}

int
cache_redis_stats(struct cache_redis *cr, struct cache_stats *cs)
{
	int rc = -1;

	pthread_mutex_lock(&cr->mu);
	if (cr_connect_locked(cr) == 0 && cr_counter_locked(cr, CR_HITS, &cs->hits) == 0 &&
	    cr_counter_locked(cr, CR_MISSES, &cs->misses) == 0 &&
	    (cs->entries = cr_scan_locked(cr, 0)) >= 0)
		rc = 0;
	pthread_mutex_unlock(&cr->mu);
	return rc;
}

int
cache_redis_health(struct cache_redis *cr, unsigned *changes, char *reason, size_t len)
{
	int down;

	pthread_mutex_lock(&cr->mu);
	down = cr->down;
	if (reason != NULL && len > 0)
		snprintf(reason, len, "Redis at %s unreachable: %s", cr->url, cr->reason);
	pthread_mutex_unlock(&cr->mu);
	*changes = atomic_load(&cr->changes);
	return down;
}
