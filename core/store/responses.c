/*
 * responses.c: stored Responses API responses, in the database (a row per
 * response, committed by the writer thread like the cache's answers) or, with
 * no database, in this process's memory (a list, newest first, cut at
 * RESP_STORE_MEMORY_MAX). Expired entries are never returned; the writer
 * deletes them as it stores new ones.
 */
#include "store/responses.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"
#include "util/util.h"
#include "util/workq.h"

/* In memory: under mu. */
struct resp_mem {
	char *id;
	char *json;
	int64_t expires_ms;
	struct resp_mem *next;
};

struct resp_store {
	struct store *store; /* NULL: in memory */
	int ttl_seconds;
	pthread_mutex_t mu;
	struct resp_mem *mem; /* newest first */
	size_t n_mem;
};

/* A put for the writer. */
struct resp_job {
	struct store *store;
	char *id;
	char *json;
	int64_t now_ms, expires_ms;
	void (*done)(void *, int);
	void *arg;
};

struct resp_store *
resp_store_new(struct store *s, int ttl_seconds)
{
	struct resp_store *rs = xcalloc(1, sizeof *rs);

	rs->store = s;
	rs->ttl_seconds = ttl_seconds > 0 ? ttl_seconds : RESP_STORE_TTL_DEFAULT;
	pthread_mutex_init(&rs->mu, NULL);
	return rs;
}

static void
resp_mem_free(struct resp_mem *m)
{
	free(m->id);
	free(m->json);
	free(m);
}

void
resp_store_free(struct resp_store *rs)
{
	struct resp_mem *m, *next;

	if (rs == NULL)
		return;
	for (m = rs->mem; m != NULL; m = next) {
		next = m->next;
		resp_mem_free(m);
	}
	pthread_mutex_destroy(&rs->mu);
	free(rs);
}

static int64_t
resp_now_ms(const struct resp_store *rs)
{
	return rs->store != NULL ? store_now_ms(rs->store) : clock_wall_ms();
}

/* Unlink the entry of id, if any; the caller frees it. Under mu. */
static struct resp_mem *
resp_mem_take(struct resp_store *rs, const char *id)
{
	for (struct resp_mem **pp = &rs->mem; *pp != NULL; pp = &(*pp)->next) {
		struct resp_mem *m = *pp;

		if (strcmp(m->id, id) == 0) {
			*pp = m->next;
			rs->n_mem--;
			return m;
		}
	}
	return NULL;
}

static void
resp_mem_put(struct resp_store *rs, const char *id, const char *json, int64_t expires_ms)
{
	struct resp_mem *m, **pp;
	size_t n = 0;

	pthread_mutex_lock(&rs->mu);
	if ((m = resp_mem_take(rs, id)) != NULL)
		resp_mem_free(m);
	m = xcalloc(1, sizeof *m);
	m->id = xstrdup(id);
	m->json = xstrdup(json);
	m->expires_ms = expires_ms;
	m->next = rs->mem;
	rs->mem = m;
	rs->n_mem++;
	/* The oldest go past the cap. */
	for (pp = &rs->mem; *pp != NULL && n < RESP_STORE_MEMORY_MAX; pp = &(*pp)->next)
		n++;
	while (*pp != NULL) {
		m = *pp;
		*pp = m->next;
		rs->n_mem--;
		resp_mem_free(m);
	}
	pthread_mutex_unlock(&rs->mu);
}

static void
resp_job_free(struct resp_job *j)
{
	free(j->id);
	free(j->json);
	free(j);
}

/* SQLite's: every queued put in one transaction on the writer, then the expired rows go. */
static void
resp_commit_batch(void **jobs, size_t n)
{
	struct resp_job *first = jobs[0];
	sqlite3 *db = store_writer_db(first->store);
	sqlite3_stmt *st = NULL;
	int rc = store_begin_immediate(db);

	if (rc == 0 &&
	    sqlite3_prepare_v2(db,
	        "INSERT OR REPLACE INTO responses (id, created_ms, expires_ms, body) "
	        "VALUES (?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct resp_job *j = jobs[i];

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, j->now_ms);
		sqlite3_bind_int64(st, 3, j->expires_ms);
		sqlite3_bind_text(st, 4, j->json, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = -1;
	}
	sqlite3_finalize(st);
	if (rc == 0)
		rc = store_exec_int64(db, "DELETE FROM responses WHERE expires_ms <= ?",
		    first->now_ms);
	if (rc == 0)
		rc = store_exec(db, "COMMIT");
	if (rc != 0)
		store_exec(db, "ROLLBACK");
	for (size_t i = 0; i < n; i++) {
		struct resp_job *j = jobs[i];

		if (j->done != NULL)
			j->done(j->arg, rc);
		resp_job_free(j);
	}
}

void
resp_store_put(struct resp_store *rs, const char *id, const char *json,
    void (*done)(void *arg, int rc), void *arg)
{
	int64_t now = resp_now_ms(rs), expires = now + (int64_t)rs->ttl_seconds * 1000;

	if (rs->store == NULL) {
		resp_mem_put(rs, id, json, expires);
		if (done != NULL)
			done(arg, 0);
		return;
	}
	store_backend_of(rs->store)->resp_put(rs->store, id, json, now, expires, done, arg);
}

void
resp_sqlite_put(struct store *s, const char *id, const char *json, int64_t now, int64_t expires,
    void (*done)(void *, int), void *arg)
{
	struct resp_job *j = xcalloc(1, sizeof *j);

	j->store = s;
	j->id = xstrdup(id);
	j->json = xstrdup(json);
	j->now_ms = now;
	j->expires_ms = expires;
	j->done = done;
	j->arg = arg;
	workq_push_batch(store_writer(s), resp_commit_batch, j);
}

char *
resp_store_get(struct resp_store *rs, const char *id, int *err)
{
	int64_t now = resp_now_ms(rs);
	char *out = NULL;

	if (err != NULL)
		*err = 0;
	if (rs->store == NULL) {
		pthread_mutex_lock(&rs->mu);
		for (struct resp_mem *m = rs->mem; m != NULL; m = m->next)
			if (strcmp(m->id, id) == 0) {
				if (m->expires_ms > now)
					out = xstrdup(m->json);
				break;
			}
		pthread_mutex_unlock(&rs->mu);
		return out;
	}
	return store_backend_of(rs->store)->resp_get(rs->store, id, now, err);
}

char *
resp_sqlite_get(struct store *s, const char *id, int64_t now, int *err)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	char *out = NULL;
	int rc;

	db = store_lock(s);
	if (sqlite3_prepare_v2(db, "SELECT body FROM responses WHERE id = ? AND expires_ms > ?", -1,
	        &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		if (err != NULL)
			*err = 1;
		return NULL;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		out = xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE && err != NULL)
		*err = 1;
	sqlite3_finalize(st);
	store_unlock(s);
	return out;
}

int
resp_store_delete(struct resp_store *rs, const char *id)
{
	struct resp_mem *m;
	int n;

	if (rs->store == NULL) {
		pthread_mutex_lock(&rs->mu);
		m = resp_mem_take(rs, id);
		pthread_mutex_unlock(&rs->mu);
		n = m != NULL && m->expires_ms > resp_now_ms(rs);
		if (m != NULL)
			resp_mem_free(m);
		return n;
	}
	workq_drain(store_writer(rs->store)); /* a put still queued is deleted too */
	return store_backend_of(rs->store)->resp_delete(rs->store, id, store_now_ms(rs->store));
}

int
resp_sqlite_delete(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int n = -1;

	if ((db = store_write_begin(s, "delete a stored response", NULL)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, "DELETE FROM responses WHERE id = ? AND expires_ms > ?", -1, &st,
	        NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) == SQLITE_DONE)
			n = sqlite3_changes(db) > 0;
		sqlite3_finalize(st);
	}
	if (n < 0) {
		store_write_rollback(s, db);
		return -1;
	}
	return store_write_commit(s, db, "delete a stored response", NULL) == 0 ? n : -1;
}
