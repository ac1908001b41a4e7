/*
 * limits.c: the fleet's per-minute allowances (limits.h), over the backend's
 * rate_take; with the SQLite backend's half (BEGIN IMMEDIATE serialises the
 * takes of every process on the file).
 */
#include "store/limits.h"

#include <stdlib.h>

#include "store/store_priv.h"
#include "util/util.h"

/* Minutes kept behind the current one before their rows are deleted. */
#define LIMITS_KEEP_MINUTES 2

int
limits_take(struct store *s, const char *provider, const char *kind, int64_t minute, double limit,
    double want, double *granted, char **cause)
{
	*granted = 0;
	if (!(limit > 0) || want == 0)
		return 0;
	return store_backend_of(s)->rate_take(s, provider, kind, minute, limit, want, granted,
	    cause);
}

int
limits_live_instances(struct store *s)
{
	struct store_instance *v = NULL;
	int n = store_instances(s, &v), live = 0;

	for (int i = 0; i < n; i++)
		if (!v[i].gone)
			live++;
	free(v);
	return live > 0 ? live : 1;
}

double
limits_slice(double limit, int live)
{
	double slice = limit / (double)(live > 0 ? live : 1) / LIMITS_SLICES;

	return slice >= 1 ? slice : 1;
}

double
limits_grant(double used, double limit, double want)
{
	double left = limit - used;

	if (want < 0) /* given back: never below nothing used */
		return -want > used ? -used : want;
	if (left <= 0)
		return 0;
	return want < left ? want : left;
}

int
limits_sqlite_take(struct store *s, const char *provider, const char *kind, int64_t minute,
    double limit, double want, double *granted, char **cause)
{
	sqlite3 *db = store_write_begin(s, "rate limit lease", cause);
	sqlite3_stmt *st = NULL;
	double used = 0, g;

	if (db == NULL)
		return -1;
	if (store_exec_int64(db, "DELETE FROM rate_windows WHERE minute < ?",
	        minute - LIMITS_KEEP_MINUTES) != 0 ||
	    sqlite3_prepare_v2(db,
	        "SELECT used FROM rate_windows WHERE provider = ? AND kind = ? AND minute = ?", -1,
	        &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, minute);
	if (sqlite3_step(st) == SQLITE_ROW)
		used = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	g = limits_grant(used, limit, want);
	if (sqlite3_prepare_v2(db,
	        "INSERT INTO rate_windows(provider, kind, minute, used) VALUES (?, ?, ?, ?) "
	        "ON CONFLICT(provider, kind, minute) DO UPDATE SET used = excluded.used",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, minute);
	sqlite3_bind_double(st, 4, used + g);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (store_write_commit(s, db, "rate limit lease", cause) != 0)
		return -1;
	*granted = g > 0 ? g : 0;
	return 0;
fail:
	if (cause != NULL)
		*cause = store_error(s, db, "rate limit lease");
	store_write_rollback(s, db);
	return -1;
}
