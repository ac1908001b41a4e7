/* cache.c: the response cache: canonical keys, lookups with TTL and LRU, counters. */
#include "cache.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"
#include "util.h"

int
cache_eligible(const struct cache_conf *c, const struct llm_request *r)
{
	return c != NULL && r != NULL && c->enabled && !r->no_cache && r->has_temperature &&
	    r->temperature <= c->max_temperature;
}

static int
cache_cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* A copy of j with every object's keys sorted, recursively; arrays keep their order. */
static cJSON *
cache_canon(const cJSON *j)
{
	const cJSON *e;
	cJSON *out, **kids;
	size_t n = 0, i = 0;

	if (cJSON_IsArray(j)) {
		out = cJSON_CreateArray();
		cJSON_ArrayForEach(e, j) cJSON_AddItemToArray(out, cache_canon(e));
		return out;
	}
	if (!cJSON_IsObject(j))
		return cJSON_Duplicate(j, 1);
	cJSON_ArrayForEach(e, j) n++;
	kids = xcalloc(n, sizeof *kids);
	cJSON_ArrayForEach(e, j) kids[i++] = (cJSON *)e;
	qsort(kids, n, sizeof *kids, cache_cmp_keys);
	out = cJSON_CreateObject();
	for (i = 0; i < n; i++)
		cJSON_AddItemToObject(out, kids[i]->string, cache_canon(kids[i]));
	free(kids);
	return out;
}

static cJSON *
cache_string_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

void
cache_key(const struct llm_request *r, const char *model_alias, char out_hex[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	cJSON *o = cJSON_CreateObject(), *a, *tools;
	char *text;

	/* Keys added in sorted order: cJSON keeps insertion order when printing. */
	cJSON_AddNumberToObject(o, "max_tokens", llm_request_max_tokens(r));
	a = cJSON_AddArrayToObject(o, "messages");
	for (size_t i = 0; i < r->n_messages; i++) {
		cJSON *m = cJSON_CreateArray();

		cJSON_AddItemToArray(m,
		    cJSON_CreateString(r->messages[i].role == LLM_ROLE_ASSISTANT ? "assistant"
		                                                                 : "user"));
		cJSON_AddItemToArray(m, cache_string_or_null(r->messages[i].content));
		cJSON_AddItemToArray(a, m);
	}
	cJSON_AddItemToObject(o, "model",
	    cache_string_or_null(model_alias != NULL ? model_alias : r->model));
	cJSON_AddItemToObject(o, "provider", cache_string_or_null(r->provider));
	cJSON_AddItemToObject(o, "route", cache_string_or_null(r->route));
	a = cJSON_AddArrayToObject(o, "stop");
	for (size_t i = 0; i < r->n_stop; i++)
		cJSON_AddItemToArray(a, cache_string_or_null(r->stop[i]));
	cJSON_AddItemToObject(o, "system", cache_string_or_null(r->system));
	if (r->has_temperature)
		cJSON_AddNumberToObject(o, "temperature", r->temperature);
	else
		cJSON_AddNullToObject(o, "temperature");
	if (r->tools_json == NULL)
		cJSON_AddNullToObject(o, "tools");
	else if ((tools = cJSON_Parse(r->tools_json)) != NULL) {
		cJSON_AddItemToObject(o, "tools", cache_canon(tools));
		cJSON_Delete(tools);
	} else
		cJSON_AddStringToObject(o, "tools_raw", r->tools_json);
	if (r->has_top_p)
		cJSON_AddNumberToObject(o, "top_p", r->top_p);
	else
		cJSON_AddNullToObject(o, "top_p");
	cJSON_AddNumberToObject(o, "v", 1);

	text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		fatal("cache: out of memory printing a key");
	if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		fatal("cache: SHA-256 failed");
	for (unsigned int i = 0; i < mdlen; i++) {
		out_hex[2 * i] = hex[md[i] >> 4];
		out_hex[2 * i + 1] = hex[md[i] & 15];
	}
	out_hex[64] = '\0';
	cJSON_free(text);
	cJSON_Delete(o);
}

static char *
cache_col_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return t != NULL ? xstrdup(t) : NULL;
}

int
cache_get(struct store *s, const struct cache_conf *c, const char *key, struct llm_response *out,
    char provider[64], char model[128])
{
	int64_t now = store_now_ms(s);
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc, hit = 0, expired = 0;

	llm_response_init(out);
	if (c == NULL || !c->enabled)
		return 0;
	if ((db = store_write_begin(s, NULL, NULL)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(db,
	        "SELECT provider, model, created_ms, resp_id, resp_model, "
	        "content, stop, stop_raw, input_tokens, output_tokens, cache_read_tokens, "
	        "cache_write_tokens FROM cache WHERE key = ?",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t created = sqlite3_column_int64(st, 2);

		if (now - created >= (int64_t)c->ttl_seconds * 1000 || now < created - 60000)
			expired = 1;
		else {
			hit = 1;
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
			if (out->content == NULL)
				out->content = xstrdup("");
		}
	} else if (rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (expired && store_exec_text(db, "DELETE FROM cache WHERE key = ?", key) != 0)
		goto fail;
	if (hit &&
	    store_exec_text(db,
	        "UPDATE cache SET hits = hits + 1, lru = "
	        "(SELECT IFNULL(MAX(lru), 0) + 1 FROM cache) WHERE key = ?",
	        key) != 0)
		goto fail;
	if (store_exec_text(db, "UPDATE counters SET value = value + 1 WHERE name = ?",
	        hit ? "cache_hits" : "cache_misses") != 0)
		goto fail;
	if (store_write_commit(s, db, NULL, NULL) != 0) {
		llm_response_free(out);
		return -1;
	}
	return hit;
fail:
	store_write_rollback(s, db);
	llm_response_free(out);
	return -1;
}

int
cache_put(struct store *s, const struct cache_conf *c, const char *key, const char *provider,
    const char *model, const struct llm_response *r)
{
	int64_t now = store_now_ms(s), n = 0;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	if (c == NULL || !c->enabled)
		return 0;
	if ((db = store_write_begin(s, NULL, NULL)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(db,
	        "INSERT OR REPLACE INTO cache(key, provider, model, "
	        "created_ms, lru, hits, resp_id, resp_model, content, stop, stop_raw, "
	        "input_tokens, "
	        "output_tokens, cache_read_tokens, cache_write_tokens) VALUES (?, ?, ?, ?, "
	        "(SELECT IFNULL(MAX(lru), 0) + 1 FROM cache), 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, provider != NULL ? provider : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, model != NULL ? model : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_text(st, 5, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->content != NULL ? r->content : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, (int)r->stop);
	sqlite3_bind_text(st, 9, r->stop_raw, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, r->usage.input_tokens);
	sqlite3_bind_int64(st, 11, r->usage.output_tokens);
	sqlite3_bind_int64(st, 12, r->usage.cache_read_tokens);
	sqlite3_bind_int64(st, 13, r->usage.cache_write_tokens);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	if (store_exec_int64(db, "DELETE FROM cache WHERE created_ms <= ?",
	        now - (int64_t)c->ttl_seconds * 1000) != 0)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM cache", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (c->max_entries > 0 && n > c->max_entries &&
	    store_exec_int64(db,
	        "DELETE FROM cache WHERE key IN (SELECT key FROM cache "
	        "ORDER BY lru LIMIT ?)",
	        n - c->max_entries) != 0)
		goto fail;
	return store_write_commit(s, db, NULL, NULL);
fail:
	store_write_rollback(s, db);
	return -1;
}

int
cache_flush(struct store *s)
{
	sqlite3 *db = store_lock(s);
	int n = -1;

	if (store_exec(db, "DELETE FROM cache") == 0)
		n = sqlite3_changes(db);
	store_unlock(s);
	return n;
}

int
cache_get_stats(struct store *s, struct cache_stats *cs)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc = -1;

	memset(cs, 0, sizeof *cs);
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
