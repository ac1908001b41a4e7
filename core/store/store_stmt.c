/*
 * store_stmt.c: SQLite statements prepared once per connection and kept.
 *
 * Parsing a statement costs SQLite tens of microseconds: when each ledger row
 * prepared its INSERT, its spend-bucket upsert and its savepoints, parsing was
 * a quarter of every instruction `serve` ran (callgrind, issue 19). Here a
 * connection keeps its statements, found by the SQL's address and checked by
 * its text, so a statement built at run time is never confused with another
 * that once lived at the same address.
 *
 * Threads: a connection's cache is used under the same discipline as the
 * connection (the store's mutex for the callers' connection, the writer
 * thread for its own). The registry that maps a connection to its cache has
 * a mutex of its own, a leaf lock held only to find or drop an entry.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"
#include "util/util.h"

/* Statements kept per connection; past this the oldest is finalized. */
#define STMT_CACHE_MAX 48

struct stmt_entry {
	const char *sql; /* the caller's string (its address is the key) */
	sqlite3_stmt *st;
	int in_use; /* handed out and not yet done */
};

/* One connection's statements (the connection's own discipline guards it). */
struct stmt_cache {
	sqlite3 *db;
	struct stmt_entry e[STMT_CACHE_MAX];
	int n;
	struct stmt_cache *next;
};

static pthread_mutex_t caches_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stmt_cache *caches; /* under caches_mu */

static struct stmt_cache *
cache_of(sqlite3 *db, int create)
{
	struct stmt_cache *c;

	pthread_mutex_lock(&caches_mu);
	for (c = caches; c != NULL; c = c->next)
		if (c->db == db)
			break;
	if (c == NULL && create) {
		c = xcalloc(1, sizeof *c);
		c->db = db;
		c->next = caches;
		caches = c;
	}
	pthread_mutex_unlock(&caches_mu);
	return c;
}

sqlite3_stmt *
store_stmt(sqlite3 *db, const char *sql)
{
	struct stmt_cache *c = cache_of(db, 1);
	struct stmt_entry *e;
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < c->n; i++) {
		e = &c->e[i];
		if (e->sql != sql || e->in_use)
			continue;
		if (strcmp(sqlite3_sql(e->st), sql) != 0) {
			/* Another string now at that address: forget the old statement. */
			sqlite3_finalize(e->st);
			c->e[i] = c->e[--c->n];
			break;
		}
		e->in_use = 1;
		return e->st;
	}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->e[i].sql == sql && c->e[i].in_use)
			return st; /* nested use of the same SQL: this one is not kept */
	if (c->n == STMT_CACHE_MAX) {
		for (i = 0; i < c->n && c->e[i].in_use; i++)
			;
		if (i == c->n)
			return st; /* all in use: not kept */
		sqlite3_finalize(c->e[i].st);
		c->e[i] = c->e[--c->n];
	}
	c->e[c->n++] = (struct stmt_entry){.sql = sql, .st = st, .in_use = 1};
	return st;
}

void
store_stmt_done(sqlite3_stmt *st)
{
	struct stmt_cache *c;

	if (st == NULL)
		return;
	c = cache_of(sqlite3_db_handle(st), 0);
	for (int i = 0; c != NULL && i < c->n; i++) {
		if (c->e[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			c->e[i].in_use = 0;
			return;
		}
	}
	sqlite3_finalize(st);
}

int
store_stmt_exec(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = store_stmt(db, sql);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	store_stmt_done(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
store_db_close(sqlite3 *db)
{
	struct stmt_cache *c, **pp;

	if (db == NULL)
		return 0;
	pthread_mutex_lock(&caches_mu);
	for (pp = &caches; (c = *pp) != NULL; pp = &c->next)
		if (c->db == db) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&caches_mu);
	if (c != NULL) {
		for (int i = 0; i < c->n; i++)
			sqlite3_finalize(c->e[i].st);
		free(c);
	}
	return sqlite3_close(db);
}
