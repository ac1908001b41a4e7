/*
 * ledger.c: the ledger rows: the group commit on the store's writer thread,
 * recording (asynchronous and blocking), aggregates.
 */
#include "store/ledger.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"
#include "util/util.h"
#include "util/waiter.h"
#include "util/workq.h"

void
ledger_row_usage(struct ledger_row *row, const struct llm_usage *u)
{
	row->input_tokens = u->input_tokens;
	row->output_tokens = u->output_tokens;
	row->cache_read_tokens = u->cache_read_tokens;
	row->cache_write_tokens = u->cache_write_tokens;
	row->cache_write_1h_tokens = u->cache_write_1h_tokens;
	row->reasoning_tokens = u->reasoning_tokens;
}

/* Insert one row and settle its reservation, inside the writer's open transaction. */
static int
ledger_insert(sqlite3 *db, const struct ledger_row *r, int64_t reservation_id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT INTO ledger(time_ms, route, provider, model, "
	        "input_tokens, output_tokens, cost_usd, unpriced, latency_us, outcome, "
	        "error_class, cache_hit, attempts, usage_estimated, response_id, "
	        "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens) "
	        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, r->time_ms);
	sqlite3_bind_text(st, 2, r->route, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, r->input_tokens);
	sqlite3_bind_int64(st, 6, r->output_tokens);
	sqlite3_bind_double(st, 7, r->cost_usd);
	sqlite3_bind_int(st, 8, r->unpriced != 0);
	sqlite3_bind_int64(st, 9, (int64_t)r->latency_us);
	sqlite3_bind_text(st, 10, r->outcome[0] != '\0' ? r->outcome : "ok", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, r->error_class, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, r->cache_hit != 0);
	sqlite3_bind_int(st, 13, r->attempts);
	sqlite3_bind_int(st, 14, r->usage_estimated != 0);
	sqlite3_bind_text(st, 15, r->response_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 16, r->cache_read_tokens);
	sqlite3_bind_int64(st, 17, r->cache_write_tokens);
	sqlite3_bind_int64(st, 18, r->cache_write_1h_tokens);
	sqlite3_bind_int64(st, 19, r->reasoning_tokens);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (r->cost_usd != 0) {
		if (sqlite3_prepare_v2(db,
		        "INSERT INTO spend_buckets(bucket, cost_usd) VALUES "
		        "(?, ?) ON CONFLICT(bucket) DO UPDATE SET cost_usd = cost_usd + "
		        "excluded.cost_usd",
		        -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_int64(st, 1, r->time_ms / STORE_BUCKET_MS);
		sqlite3_bind_double(st, 2, r->cost_usd);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	/* A reservation row goes as the cost lands; a lease reservation is the batch's (budget.c). */
	if (reservation_id <= 0)
		return 0;
	return store_exec_int64(db, "DELETE FROM reservations WHERE id = ?", reservation_id);
}

/* The row's insert, and the once-per-model "pricing" event of an unpriced one. */
static void
ledger_insert_job(sqlite3 *db, struct ledger_job *j, struct budget_batch *bb)
{
	struct store *s = j->store;

	store_exec(db, "SAVEPOINT row");
	j->rc = ledger_insert(db, &j->row, j->reservation_id);
	if (j->rc != 0) {
		if (j->errp != NULL && *j->errp == NULL)
			*j->errp = store_error(s, db, "ledger: cannot insert row");
		store_exec(db, "ROLLBACK TO row");
		budget_batch_fail(bb, j->lease_charge);
	} else if (j->row.unpriced && store_first_unpriced(s, j->row.model)) {
		char *msg = xasprintf("model %s has no price: its requests are recorded "
		                      "as unpriced, not free",
		    j->row.model);

		store_event_insert(db, j->row.time_ms, "pricing", j->row.provider, msg);
		free(msg);
	}
	store_exec(db, "RELEASE row");
}

/*
 * SQLite's side of the batch: one transaction (group commit); each row in a
 * savepoint so a bad row fails alone; the lease reservations they settle move
 * their costs from the lease to spent in the same transaction (budget_batch_apply).
 * On failure every row's rc is -1 and *err says why.
 */
void
ledger_sqlite_commit(struct store *s, struct ledger_job **jobs, size_t n, struct budget_batch *bb,
    char **err)
{
	sqlite3 *db = store_writer_db(s);
	size_t i;

	if (store_begin_immediate(db) != 0) {
		*err = store_error(s, db, "ledger: cannot begin transaction");
		for (i = 0; i < n; i++)
			jobs[i]->rc = -1;
		return;
	}
	for (i = 0; i < n; i++)
		ledger_insert_job(db, jobs[i], bb);
	store_apply_deferred(s, db); /* the cache's bookkeeping rides along */
	if (budget_batch_apply(db, bb) != 0 || store_exec(db, "COMMIT") != 0) {
		*err = store_error(s, db, "ledger: commit failed");
		store_exec(db, "ROLLBACK");
		for (i = 0; i < n; i++)
			jobs[i]->rc = -1;
	}
}

/*
 * The writer's batch job: every row queued while the last batch committed, in
 * one transaction of the backend's (group commit); the lease reservations they
 * settle move their costs from the lease to spent in the same transaction. Then
 * each row's done, in order.
 */
static void
ledger_commit_batch(void **jobs, size_t n)
{
	struct store *s = ((struct ledger_job *)jobs[0])->store;
	struct budget_batch bb;
	char *err = NULL;
	size_t i;

	budget_batch_begin(s, &bb);
	for (i = 0; i < n; i++) {
		struct ledger_job *j = jobs[i];

		j->lease_charge = budget_batch_take(&bb, j->reservation_id, j->row.cost_usd);
	}
	budget_batch_ready(s, &bb);
	store_backend_of(s)->ledger_commit(s, (struct ledger_job **)jobs, n, &bb, &err);
	budget_batch_end(&bb, err == NULL);
	for (i = 0; i < n; i++) {
		struct ledger_job *j = jobs[i];

		if (j->rc != 0 && j->errp != NULL && *j->errp == NULL)
			*j->errp = xstrdup(err != NULL ? err : "ledger: row not committed");
		if (j->done != NULL)
			j->done(j->arg, j->rc);
		free(j);
	}
	free(err);
}

static void
ledger_enqueue(struct store *s, const struct ledger_row *row, int64_t reservation_id,
    void (*done)(void *, int), void *arg, char **errp)
{
	struct ledger_job *j = xcalloc(1, sizeof *j);

	j->store = s;
	j->row = *row;
	j->row.route[sizeof j->row.route - 1] = '\0';
	j->row.provider[sizeof j->row.provider - 1] = '\0';
	j->row.model[sizeof j->row.model - 1] = '\0';
	j->row.outcome[sizeof j->row.outcome - 1] = '\0';
	j->row.error_class[sizeof j->row.error_class - 1] = '\0';
	if (j->row.time_ms <= 0)
		j->row.time_ms = store_now_ms(s);
	j->reservation_id = reservation_id;
	j->done = done;
	j->arg = arg;
	j->errp = errp;
	workq_push_batch(store_writer(s), ledger_commit_batch, j);
}

void
ledger_record_async(struct store *s, const struct ledger_row *row, int64_t reservation_id,
    void (*done)(void *, int), void *arg)
{
	ledger_enqueue(s, row, reservation_id, done, arg, NULL);
}

int
ledger_record(struct store *s, const struct ledger_row *row, int64_t reservation_id, char **cause)
{
	struct waiter w;
	char *err = NULL;

	waiter_init(&w);
	ledger_enqueue(s, row, reservation_id, waiter_done_rc, &w, &err);
	if (waiter_wait(&w) != 0) {
		if (cause != NULL)
			*cause = err != NULL ? err : xstrdup("ledger: row not committed");
		else
			free(err);
		return -1;
	}
	free(err);
	return 0;
}

/* The writer's durability, set or read on the writer thread between batches. */
struct ledger_pragma {
	struct store *store;
	int set; /* 1: make it d; 0: read it into value */
	enum ledger_durability d;
	int rc;    /* 0, or -1 */
	int value; /* read: 2 FULL, 1 NORMAL */
	char *err;
};

static void
ledger_pragma_job(void *arg)
{
	struct ledger_pragma *p = arg;

	p->rc = store_backend_of(p->store)->ledger_durability(p->store, p->set, p->d, &p->value,
	    &p->err);
}

int
ledger_sqlite_durability(struct store *s, int set, enum ledger_durability d, int *value,
    char **cause)
{
	sqlite3 *db = store_writer_db(s);
	const char *sql = !set              ? "PRAGMA synchronous"
	    : d == LEDGER_DURABILITY_NORMAL ? "PRAGMA synchronous=NORMAL"
	                                    : "PRAGMA synchronous=FULL";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*cause = store_error(s, db, "ledger: cannot set durability");
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*value = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*cause = store_error(s, db, "ledger: cannot set durability");
		return -1;
	}
	return 0;
}

/* Run it on the writer and wait for it: the jobs queued before it run first. */
static int
ledger_pragma(struct store *s, int set, enum ledger_durability d, int *value, char **cause)
{
	struct ledger_pragma p = {.store = s, .set = set, .d = d, .rc = -1, .value = -1};

	workq_push(store_writer(s), ledger_pragma_job, &p);
	workq_drain(store_writer(s));
	if (value != NULL)
		*value = p.value;
	if (p.rc != 0 && cause != NULL)
		*cause = p.err != NULL ? p.err : xstrdup("ledger: cannot set durability");
	else
		free(p.err);
	return p.rc;
}

int
ledger_set_durability(struct store *s, enum ledger_durability d, char **cause)
{
	return ledger_pragma(s, 1, d, NULL, cause);
}

int
ledger_synchronous(struct store *s)
{
	int v = -1;

	return ledger_pragma(s, 0, LEDGER_DURABILITY_FULL, &v, NULL) == 0 ? v : -1;
}

int
ledger_groups(struct store *s, int64_t from_ms, int64_t to_ms, int by_model,
    struct ledger_group **out, char **cause)
{
	*out = NULL;
	return store_backend_of(s)->ledger_groups(s, from_ms, to_ms, by_model, out, cause);
}

double
ledger_spent(struct store *s, int64_t from_ms, int64_t to_ms)
{
	return store_backend_of(s)->ledger_spent(s, from_ms, to_ms);
}

int
ledger_sqlite_groups(struct store *s, int64_t from_ms, int64_t to_ms, int by_model,
    struct ledger_group **out, char **cause)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	struct ledger_group *g = NULL;
	int n = 0, rc;
	const char *sql = by_model
	    ? "SELECT model, COUNT(*), SUM(outcome != 'ok'), SUM(cache_hit), SUM(input_tokens), "
	      "SUM(output_tokens), TOTAL(cost_usd), MAX(unpriced) FROM ledger "
	      "WHERE time_ms >= ? AND time_ms < ? GROUP BY model ORDER BY model"
	    : "SELECT provider, COUNT(*), SUM(outcome != 'ok'), SUM(cache_hit), SUM(input_tokens), "
	      "SUM(output_tokens), TOTAL(cost_usd), MAX(unpriced) FROM ledger "
	      "WHERE time_ms >= ? AND time_ms < ? GROUP BY provider ORDER BY provider";

	*out = NULL;
	db = store_lock(s);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*cause = store_error(s, db, "ledger: cannot read");
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, from_ms);
	sqlite3_bind_int64(st, 2, to_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ledger_group *e;

		g = xreallocarray(g, (size_t)n + 1, sizeof *g);
		e = &g[n++];
		memset(e, 0, sizeof *e);
		store_copy_text(e->name, sizeof e->name, st, 0);
		e->requests = sqlite3_column_int64(st, 1);
		e->errors = sqlite3_column_int64(st, 2);
		e->cache_hits = sqlite3_column_int64(st, 3);
		e->input_tokens = sqlite3_column_int64(st, 4);
		e->output_tokens = sqlite3_column_int64(st, 5);
		e->cost_usd = sqlite3_column_double(st, 6);
		e->unpriced = sqlite3_column_int(st, 7);
	}
	if (rc != SQLITE_DONE) {
		*cause = store_error(s, db, "ledger: cannot read");
		sqlite3_finalize(st);
		store_unlock(s);
		free(g);
		return -1;
	}
	sqlite3_finalize(st);
	store_unlock(s);
	*out = g;
	return n;
}

double
ledger_sqlite_spent(struct store *s, int64_t from_ms, int64_t to_ms)
{
	sqlite3 *db = store_lock(s);
	double v = -1;

	store_select_double(db, STORE_SQL_LEDGER_SPENT, from_ms, to_ms, &v);
	store_unlock(s);
	return v;
}
