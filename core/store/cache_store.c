/*
 * cache_store.c: the response cache in the database. A lookup is a plain read
 * on the caller's connection (no write transaction, no wait behind the ledger's
 * commit); what it changes (the hit counters, the entry's LRU rank, an expired
 * entry's removal) is deferred into the writer's next transaction (usually the
 * ledger batch its own request's row goes in: store_defer), and every store of
 * an answer is queued to the writer, which applies whatever piled up in one
 * transaction (group commit, like the ledger). cache_put waits for its own commit; cache_put_async
 * calls back once committed. Counters and stats first let the queue drain.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h"
#include "store/store_priv.h"
#include "util/util.h"
#include "util/waiter.h"
#include "util/workq.h"

/* One queued change: a lookup's bookkeeping or an answer to store. */
struct cache_job {
	struct store *s;
	enum { CJ_TOUCH, CJ_PUT } kind;
	char key[65];
	int hit;     /* CJ_TOUCH: 1 hit, 0 miss */
	int expired; /* CJ_TOUCH: delete the entry */
	/* CJ_PUT */
	int ttl_seconds;
	int64_t max_entries;
	int64_t now;
	char *provider, *model;
	struct llm_response resp;
	void (*done)(void *, int);
	void *arg;
	int rc;
};

static char *
cache_col_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return t != NULL ? xstrdup(t) : NULL;
}

static void
cache_job_free(struct cache_job *j)
{
	free(j->provider);
	free(j->model);
	llm_response_free(&j->resp);
	free(j);
}

static int
cache_put_row(sqlite3 *db, const struct cache_job *j)
{
	const struct llm_response *r = &j->resp;
	sqlite3_stmt *st;
	char *parts;
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT OR REPLACE INTO cache(key, provider, model, "
	        "created_ms, lru, hits, resp_id, resp_model, content, stop, stop_raw, "
	        "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, parts, "
	        "cache_write_1h_tokens, reasoning_tokens) VALUES (?, ?, ?, ?, "
	        "(SELECT IFNULL(MAX(lru), 0) + 1 FROM cache), 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	        "?)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, j->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->provider != NULL ? j->provider : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->model != NULL ? j->model : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, j->now);
	sqlite3_bind_text(st, 5, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->content != NULL ? r->content : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, (int)r->stop);
	sqlite3_bind_text(st, 9, r->stop_raw, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, r->usage.input_tokens);
	sqlite3_bind_int64(st, 11, r->usage.output_tokens);
	sqlite3_bind_int64(st, 12, r->usage.cache_read_tokens);
	sqlite3_bind_int64(st, 13, r->usage.cache_write_tokens);
	/* The parts (tool calls, thinking) as JSON; NULL when it is text alone. */
	parts = r->n_parts > 0 ? llm_parts_to_json(r->parts, r->n_parts) : NULL;
	sqlite3_bind_text(st, 14, parts, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, r->usage.cache_write_1h_tokens);
	sqlite3_bind_int64(st, 16, r->usage.reasoning_tokens);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	free(parts);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Expired entries out, then the least recently used beyond the cap. */
static int
cache_evict(sqlite3 *db, int64_t now, int ttl_seconds, int64_t max_entries)
{
	sqlite3_stmt *st;
	int64_t n = 0;

	if (store_exec_int64(db, "DELETE FROM cache WHERE created_ms <= ?",
	        now - (int64_t)ttl_seconds * 1000) != 0)
		return -1;
	if (max_entries <= 0)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM cache", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (n <= max_entries)
		return 0;
	return store_exec_int64(db,
	    "DELETE FROM cache WHERE key IN (SELECT key FROM cache ORDER BY lru LIMIT ?)",
	    n - max_entries);
}

static int
cache_apply(sqlite3 *db, struct cache_job *j, int64_t *hits, int64_t *misses)
{
	if (j->kind == CJ_PUT)
		return cache_put_row(db, j);
	*(j->hit ? hits : misses) += 1;
	if (j->expired)
		return store_exec_text(db, "DELETE FROM cache WHERE key = ?", j->key);
	if (!j->hit)
		return 0;
	return store_exec_text(db,
	    "UPDATE cache SET hits = hits + 1, lru = (SELECT IFNULL(MAX(lru), 0) + 1 FROM cache) "
	    "WHERE key = ?",
	    j->key);
}

/* The writer's batch job: every queued change in one transaction. */
static void
cache_commit_batch(void **jobs, size_t n)
{
	struct cache_job *last_put = NULL;
	sqlite3 *db = store_writer_db(((struct cache_job *)jobs[0])->s);
	int64_t hits = 0, misses = 0;
	int rc = store_begin_immediate(db);

	for (size_t i = 0; i < n && rc == 0; i++) {
		struct cache_job *j = jobs[i];
		rc = cache_apply(db, j, &hits, &misses);
		if (j->kind == CJ_PUT)
			last_put = j;
	}
	if (rc == 0 && hits > 0)
		rc = store_exec_int64(db,
		    "UPDATE counters SET value = value + ? WHERE name = 'cache_hits'", hits);
	if (rc == 0 && misses > 0)
		rc = store_exec_int64(db,
		    "UPDATE counters SET value = value + ? WHERE name = 'cache_misses'", misses);
	if (rc == 0 && last_put != NULL)
		rc = cache_evict(db, last_put->now, last_put->ttl_seconds, last_put->max_entries);
	if (rc == 0)
		rc = store_exec(db, "COMMIT");
	if (rc != 0)
		store_exec(db, "ROLLBACK");
	for (size_t i = 0; i < n; i++) {
		struct cache_job *j = jobs[i];
		j->rc = rc;
		if (j->done != NULL)
			j->done(j->arg, rc);
		cache_job_free(j);
	}
}

/* A lookup's bookkeeping, deferred to the writer's next transaction. */
static void
cache_touch_apply(sqlite3 *db, void *arg)
{
	struct cache_job *j = arg;
	int64_t hits = 0, misses = 0;

	if (db != NULL && cache_apply(db, j, &hits, &misses) == 0)
		store_exec_text(db, "UPDATE counters SET value = value + 1 WHERE name = ?",
		    hits > 0 ? "cache_hits" : "cache_misses");
	cache_job_free(j);
}

static void
cache_touch(struct store *s, const char *key, int hit, int expired)
{
	struct cache_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->kind = CJ_TOUCH;
	strlcpy_(j->key, key, sizeof j->key);
	j->hit = hit;
	j->expired = expired;
	llm_response_init(&j->resp);
	store_defer(s, cache_touch_apply, j);
}

static void
cache_read_row(sqlite3_stmt *st, struct llm_response *out, char *provider, char *model)
{
	if (provider != NULL)
		store_copy_text(provider, 64, st, 0);
	if (model != NULL)
		store_copy_text(model, 128, st, 1);
	out->id = cache_col_dup(st, 3);
	out->model = cache_col_dup(st, 4);
	out->content = cache_col_dup(st, 5);
	out->stop = (enum llm_stop)sqlite3_column_int(st, 6);
	out->stop_raw = cache_col_dup(st, 7);
	out->usage.input_tokens = sqlite3_column_int64(st, 8);
	out->usage.output_tokens = sqlite3_column_int64(st, 9);
	out->usage.cache_read_tokens = sqlite3_column_int64(st, 10);
	out->usage.cache_write_tokens = sqlite3_column_int64(st, 11);
	out->usage.cache_write_1h_tokens = sqlite3_column_int64(st, 13);
	out->usage.reasoning_tokens = sqlite3_column_int64(st, 14);
	/* Unreadable parts: the text alone, as an older row has it. */
	if (sqlite3_column_type(st, 12) == SQLITE_TEXT &&
	    llm_parts_from_json((const char *)sqlite3_column_text(st, 12), &out->parts,
	        &out->n_parts) != 0) {
		out->parts = NULL;
		out->n_parts = 0;
	}
	if (out->content == NULL)
		out->content = xstrdup("");
}

int
cache_get(struct store *s, const struct cache_conf *c, const char *key, struct llm_response *out,
    char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE])
{
	llm_response_init(out);
	if (c == NULL || !c->enabled)
		return 0;
	if (c->url[0] != '\0')
		return cache_redis_get(cache_redis_of(s, c->url), c, key, out, provider, model);
	if (s == NULL)
		return 0;
	return store_backend_of(s)->cache_get(s, c, key, out, provider, model);
}

int
cache_sqlite_get(struct store *s, const struct cache_conf *c, const char *key,
    struct llm_response *out, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE])
{
	int64_t now = store_now_ms(s);
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc, hit = 0, expired = 0;

	db = store_lock(s);
	if (sqlite3_prepare_v2(db,
	        "SELECT provider, model, created_ms, resp_id, resp_model, "
	        "content, stop, stop_raw, input_tokens, output_tokens, cache_read_tokens, "
	        "cache_write_tokens, parts, cache_write_1h_tokens, reasoning_tokens FROM cache "
	        "WHERE key = ?",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t created = sqlite3_column_int64(st, 2);

		if (now - created >= (int64_t)c->ttl_seconds * 1000 || now < created - 60000)
			expired = 1;
		else {
			hit = 1;
			cache_read_row(st, out, provider, model);
		}
	}
	sqlite3_finalize(st);
	store_unlock(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	cache_touch(s, key, hit, expired);
	return hit;
}

static struct cache_job *
cache_put_job(struct store *s, const struct cache_conf *c, const char *key, const char *provider,
    const char *model, const struct llm_response *r)
{
	struct cache_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->kind = CJ_PUT;
	strlcpy_(j->key, key, sizeof j->key);
	j->ttl_seconds = c->ttl_seconds;
	j->max_entries = c->max_entries;
	j->now = store_now_ms(s);
	j->provider = provider != NULL ? xstrdup(provider) : NULL;
	j->model = model != NULL ? xstrdup(model) : NULL;
	llm_response_init(&j->resp);
	j->resp.id = r->id != NULL ? xstrdup(r->id) : NULL;
	j->resp.model = r->model != NULL ? xstrdup(r->model) : NULL;
	j->resp.content = xstrdup(r->content != NULL ? r->content : "");
	j->resp.stop = r->stop;
	j->resp.stop_raw = r->stop_raw != NULL ? xstrdup(r->stop_raw) : NULL;
	j->resp.usage = r->usage;
	for (size_t i = 0; i < r->n_parts; i++)
		llm_part_copy(llm_response_add_part(&j->resp, r->parts[i].type), &r->parts[i]);
	return j;
}

void
cache_put_async(struct store *s, const struct cache_conf *c, const char *key, const char *provider,
    const char *model, const struct llm_response *r, void (*done)(void *, int), void *arg)
{
	if (c == NULL || !c->enabled) {
		if (done != NULL)
			done(arg, 0);
		return;
	}
	if (c->url[0] != '\0' || s == NULL) {
		/* Redis: the SETEX on this thread, bounded by its timeout. */
		int rc = c->url[0] != '\0'
		    ? cache_redis_put(cache_redis_of(s, c->url), c, key, provider, model, r)
		    : -1;

		if (done != NULL)
			done(arg, rc);
		return;
	}
	store_backend_of(s)->cache_put_async(s, c, key, provider, model, r, done, arg);
}

void
cache_sqlite_put_async(struct store *s, const struct cache_conf *c, const char *key,
    const char *provider, const char *model, const struct llm_response *r,
    void (*done)(void *, int), void *arg)
{
	struct cache_job *j;

	j = cache_put_job(s, c, key, provider, model, r);
	j->done = done;
	j->arg = arg;
	workq_push_batch(store_writer(s), cache_commit_batch, j);
}

int
cache_put(struct store *s, const struct cache_conf *c, const char *key, const char *provider,
    const char *model, const struct llm_response *r)
{
	struct waiter w;

	waiter_init(&w);
	cache_put_async(s, c, key, provider, model, r, waiter_done_rc, &w);
	return waiter_wait(&w);
}

void
cache_set_url(struct store *s, const char *url)
{
	(void)cache_redis_of(s, url);
}

int
cache_health(struct store *s, const struct cache_conf *c, unsigned *changes, char *reason,
    size_t len)
{
	struct cache_redis *cr = cache_redis_of(s, c != NULL ? c->url : NULL);

	*changes = 0;
	if (reason != NULL && len > 0)
		reason[0] = '\0';
	return cr != NULL ? cache_redis_health(cr, changes, reason, len) : 0;
}

/* Flush and stats: Redis once the handle's cache is bound to it (cache_set_url, or a
 * lookup with cache.url), else the store's backend. */
int
cache_flush(struct store *s)
{
	struct cache_redis *cr = cache_redis_of(s, NULL);

	if (cr != NULL)
		return cache_redis_flush(cr);
	return s != NULL ? store_backend_of(s)->cache_flush(s) : 0;
}

int
cache_get_stats(struct store *s, struct cache_stats *cs)
{
	struct cache_redis *cr = cache_redis_of(s, NULL);

	memset(cs, 0, sizeof *cs);
	if (cr != NULL)
		return cache_redis_stats(cr, cs);
	return s != NULL ? store_backend_of(s)->cache_stats(s, cs) : 0;
}

int
cache_sqlite_flush(struct store *s)
{
	sqlite3 *db;
	int n = -1;

	workq_drain(store_writer(s)); /* queued answers are flushed too */
	db = store_lock(s);
	if (store_exec(db, "DELETE FROM cache") == 0)
		n = sqlite3_changes(db);
	store_unlock(s);
	return n;
}

int
cache_sqlite_stats(struct store *s, struct cache_stats *cs)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc = -1;

	workq_drain(store_writer(s)); /* counters include every lookup made so far */
	db = store_lock(s);
	if (sqlite3_prepare_v2(db,
	        "SELECT (SELECT COUNT(*) FROM cache), "
	        "(SELECT value FROM counters WHERE name = 'cache_hits'), "
	        "(SELECT value FROM counters WHERE name = 'cache_misses')",
	        -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			cs->entries = sqlite3_column_int64(st, 0);
			cs->hits = sqlite3_column_int64(st, 1);
			cs->misses = sqlite3_column_int64(st, 2);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return rc;
}
