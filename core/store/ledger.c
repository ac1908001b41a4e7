/*
 * ledger.c: the ledger rows: the group commit on the store's writer thread,
 * recording (asynchronous and blocking), aggregates, and the spool's use.
 *
 * A batch whose transaction cannot commit (disk full, a lock held past the
 * busy timeout, the database file gone, the server unreachable) is appended
 * to the spool and fsynced (spool.h); its rows' done callbacks then report
 * success: each row is committed or spooled before its request is answered,
 * and its charge stays out of the budget's lease either way
 * (budget_batch_end). Only a row that can be neither (the spool full, or its
 * write failed) reports failure, and the router withholds that answer. While
 * rows are spooled the writer retries with backoff (store_retry_due): each
 * batch, and each tick of the store's ticker, hands the whole spool to the
 * backend's ledger_commit ahead of the batch's rows, in its transaction (each
 * backend skips a uid already in the ledger), and empties the spool once that
 * commits: exactly once. This sits above the backend table; a handle without
 * a spool (PostgreSQL: no file next to the database) fails the rows instead,
 * and their charges go back into the lease.
 */
#include "store/ledger.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/spool.h"
#include "store/store_priv.h"
#include "util/util.h"
#include "util/waiter.h"
#include "util/workq.h"

struct spool_max {
	struct store *store;
	int64_t rows;
};

static void
ledger_spool_max_job(void *arg)
{
	struct spool_max *m = arg;

	if (store_spool(m->store) != NULL)
		spool_set_max(store_spool(m->store), m->rows);
	store_spool_changed(m->store);
	free(m);
}

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

/*
 * Insert one row and settle its reservation, inside the writer's open
 * transaction. A row whose uid is already in the ledger (a spooled row
 * replayed again) is left as it is.
 */
static int
ledger_insert(sqlite3 *db, const struct ledger_row *r, const char *uid, int64_t reservation_id)
{
	sqlite3_stmt *st = store_stmt(db,
	    "INSERT OR IGNORE INTO ledger(time_ms, route, provider, model, "
	    "input_tokens, output_tokens, cost_usd, unpriced, latency_us, outcome, "
	    "error_class, cache_hit, attempts, usage_estimated, response_id, "
	    "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, "
	    "uid, key_id, team, operator_test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	int rc;

	if (st == NULL)
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
	sqlite3_bind_text(st, 20, uid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 21, r->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 22, r->team, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 23, r->operator_test != 0);
	rc = sqlite3_step(st);
	store_stmt_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(db) == 0)
		return 0; /* replayed already */
	if (r->cost_usd != 0) {
		st = store_stmt(db,
		    "INSERT INTO spend_buckets(bucket, cost_usd) VALUES "
		    "(?, ?) ON CONFLICT(bucket) DO UPDATE SET cost_usd = cost_usd + "
		    "excluded.cost_usd");
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, r->time_ms / STORE_BUCKET_MS);
		sqlite3_bind_double(st, 2, r->cost_usd);
		rc = sqlite3_step(st);
		store_stmt_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	/* The key's and team's spend, and their reservations (keys.c), in the same transaction. */
	if (scope_sqlite_settle(db, r, 1) != 0)
		return -1;
	/* A reservation row goes as the cost lands; a lease reservation is the batch's (budget.c). */
	if (reservation_id <= 0)
		return 0;
	return store_exec_int64(db, "DELETE FROM reservations WHERE id = ?", reservation_id);
}

/*
 * The row's insert, and the once-per-model "pricing" event of an unpriced one.
 * savepoint 0: no savepoint, and a failure returns -1 at once (the caller
 * redoes the batch with savepoints); 1: the row in a savepoint, so it fails
 * alone (rc -1, the batch goes on).
 */
static int
ledger_insert_job(sqlite3 *db, struct ledger_job *j, struct budget_batch *bb, int savepoint)
{
	struct store *s = j->store;

	if (savepoint)
		store_stmt_exec(db, "SAVEPOINT row");
	j->rc = ledger_insert(db, &j->row, j->uid, j->reservation_id);
	if (j->rc != 0) {
		if (!savepoint)
			return -1;
		if (j->errp != NULL && *j->errp == NULL)
			*j->errp = store_error(s, db, "ledger: cannot insert row");
		store_stmt_exec(db, "ROLLBACK TO row");
		budget_batch_fail(bb, j->lease_charge);
	} else if (!j->replay && j->row.unpriced &&
	    (j->unpriced_event || store_first_unpriced(s, j->row.model))) {
		char *msg = xasprintf("model %s has no price: its requests are recorded "
		                      "as unpriced, not free",
		    j->row.model);

		j->unpriced_event = 1; /* a redo of the batch writes it again */
		store_event_insert(db, j->row.time_ms, "pricing", j->row.provider, msg);
		free(msg);
	}
	if (savepoint)
		store_stmt_exec(db, "RELEASE row");
	return 0;
}

/*
 * SQLite's side of the batch: one transaction (group commit), begun and
 * committed through the writer's failure path (store_sqlite_writer_begin:
 * a short busy timeout while failing; the tests' injected failure). The rows
 * go in without savepoints (a savepoint and its release cost more than the
 * row's insert); if one fails, the transaction is rolled back and the batch
 * done again with each row in a savepoint, so a bad row fails alone; but a
 * replayed row that fails fails the batch (the spool is emptied only once all
 * of it is in). The lease reservations they settle move their costs from the
 * lease to spent in the same transaction (budget_batch_apply). On failure
 * every row's rc is -1 and *err says why.
 */
void
ledger_sqlite_commit(struct store *s, struct ledger_job **jobs, size_t n, struct budget_batch *bb,
    char **err)
{
	sqlite3 *db = store_writer_db(s);
	size_t i;

	if (store_sqlite_writer_begin(s, err) != 0)
		goto failed;
	for (i = 0; i < n; i++)
		if (ledger_insert_job(db, jobs[i], bb, 0) != 0)
			break;
	if (i < n) {
		store_stmt_exec(db, "ROLLBACK");
		if (store_sqlite_writer_begin(s, err) != 0)
			goto failed;
		for (i = 0; i < n; i++) {
			ledger_insert_job(db, jobs[i], bb, 1);
			if (jobs[i]->replay && jobs[i]->rc != 0) {
				*err = store_error(s, db, "cannot replay the spool");
				goto fail;
			}
		}
	}
	store_apply_deferred(s, db); /* the cache's bookkeeping rides along */
	if (budget_batch_apply(db, bb) != 0) {
		*err = store_error(s, db, "cannot settle the budget");
		goto fail;
	}
	if (store_sqlite_writer_commit(s, err) != 0)
		goto fail;
	return;
fail:
	store_exec(db, "ROLLBACK");
failed:
	for (i = 0; i < n; i++)
		jobs[i]->rc = -1;
}

/*
 * The backend's transaction: the spooled rows first (old, n_old: replayed as
 * jobs of their own, a uid already in the ledger skipped, the reservation
 * settled only when this handle made it), then the batch's. 0 committed, or
 * -1 with *err (rolled back).
 */
static int
ledger_transaction(struct store *s, void **jobs, size_t n, const struct spool_rec *old,
    int64_t n_old, struct budget_batch *bb, char **err)
{
	struct ledger_job **all = xcalloc((size_t)n_old + n + 1, sizeof *all);
	size_t i, total = (size_t)n_old + n;
	int rc;

	for (int64_t k = 0; k < n_old; k++) {
		struct ledger_job *r = xcalloc(1, sizeof *r);

		r->store = s;
		r->row = old[k].row;
		strlcpy_(r->uid, old[k].uid, sizeof r->uid);
		r->reservation_id =
		    store_ledger_uid_mine(s, old[k].uid) ? old[k].reservation_id : 0;
		/* Another handle's scope reservations are its own (ids of its database). */
		if (!store_ledger_uid_mine(s, old[k].uid))
			memset(r->row.scope_res, 0, sizeof r->row.scope_res);
		r->replay = 1;
		r->rc = -1;
		all[k] = r;
	}
	for (i = 0; i < n; i++)
		all[(size_t)n_old + i] = jobs[i];
	store_backend_of(s)->ledger_commit(s, all, total, bb, err);
	/* Each backend fails the whole transaction when a replayed row fails. */
	rc = *err == NULL ? 0 : -1;
	for (int64_t k = 0; k < n_old; k++)
		free(all[k]);
	free(all);
	return rc;
}

/*
 * The rows the database did not take (all of them when the transaction did
 * not commit) into the spool: rc 0 once they are fsynced there, -1 (and the
 * message) if they cannot be, or if the handle has no spool.
 */
static void
ledger_spool_jobs(struct store *s, void **jobs, size_t n, int committed, const char *why)
{
	struct spool *sp = store_spool(s);
	struct spool_rec *recs;
	char *cause = NULL;
	size_t i;
	int m = 0, took, k = 0;

	if (sp == NULL) {
		for (i = 0; i < n; i++) {
			struct ledger_job *j = jobs[i];

			if (!(committed && j->rc == 0) && j->errp != NULL && *j->errp == NULL)
				*j->errp = xasprintf("the ledger cannot be written: %s",
				    why != NULL ? why : "row not committed");
		}
		return;
	}
	recs = xcalloc(n != 0 ? n : 1, sizeof *recs);
	for (i = 0; i < n; i++) {
		struct ledger_job *j = jobs[i];

		if (committed && j->rc == 0)
			continue;
		strlcpy_(recs[m].uid, j->uid, sizeof recs[m].uid);
		recs[m].reservation_id = j->reservation_id;
		recs[m].row = j->row;
		m++;
	}
	if (m == 0) {
		free(recs);
		return;
	}
	took = spool_append(sp, recs, m, &cause);
	free(recs);
	store_spool_changed(s);
	for (i = 0; i < n; i++) {
		struct ledger_job *j = jobs[i];

		if (committed && j->rc == 0)
			continue;
		j->rc = k++ < took ? 0 : -1;
		if (j->rc != 0 && j->errp != NULL && *j->errp == NULL)
			*j->errp =
			    xasprintf("the ledger cannot be written: %s; %lld rows spooled at "
			              "%s%s%s",
			        why != NULL ? why : "row not committed", (long long)spool_rows(sp),
			        spool_path(sp), took >= 0 ? " (the spool is full)" : ": ",
			        took >= 0 ? "" : cause);
	}
	free(cause);
}

/*
 * A batch (or, with n 0, the tick's retry): when a try is due, the spool's
 * rows and the batch's in one transaction of the backend's (group commit);
 * what the database did not take goes to the spool. Then each row's done, in
 * order.
 */
static void
ledger_run(struct store *s, void **jobs, size_t n)
{
	struct spool *sp = store_spool(s);
	struct spool_rec *old = NULL;
	struct budget_batch bb;
	char *err = NULL;
	int64_t n_old = 0;
	int tried = store_retry_due(s), committed = 0;
	size_t i;

	if (tried && store_writer_check(s, &err) != 0)
		tried = 0;
	if (tried && sp != NULL && spool_rows(sp) > 0 && (n_old = spool_read(sp, &old, &err)) < 0)
		tried = 0;
	if (n_old < 0)
		n_old = 0;
	budget_batch_begin(s, &bb);
	for (i = 0; i < n; i++) {
		struct ledger_job *j = jobs[i];

		j->rc = -1;
		j->lease_charge = budget_batch_take(&bb, j->reservation_id, j->row.cost_usd);
	}
	if (tried && n_old > 0)
		budget_batch_replay(&bb);
	budget_batch_ready(s, &bb);
	if (tried)
		committed = ledger_transaction(s, jobs, n, old, n_old, &bb, &err) == 0;
	budget_batch_end(&bb, committed, sp != NULL);
	free(old);
	if (committed) {
		char *cause = NULL;

		if (n_old > 0 && spool_clear(sp, &cause) != 0) {
			/* Replayed: a second replay is a no-op on the uids. */
			store_set_failing(s, cause);
			free(cause);
		} else
			store_set_failing(s, NULL);
	} else if (err != NULL)
		store_set_failing(s, err); /* a new failure, or a retry that failed */
	else {
		struct store_health h;

		/* Not tried (backoff): the failure is the one known. */
		store_health(s, &h);
		err = xstrdup(h.reason[0] != '\0' ? h.reason : "the store is failing");
	}
	ledger_spool_jobs(s, jobs, n, committed, err);
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

/* The writer's batch job: every row queued while the last batch committed. */
static void
ledger_commit_batch(void **jobs, size_t n)
{
	ledger_run(((struct ledger_job *)jobs[0])->store, jobs, n);
}

void
ledger_tick(struct store *s)
{
	struct store_health h;

	store_health(s, &h);
	if ((h.failing || h.spooled_rows > 0) && store_retry_due(s))
		ledger_run(s, NULL, 0);
}

void
ledger_set_spool_max(struct store *s, int64_t rows)
{
	struct spool_max *m = xmalloc(sizeof *m);

	m->store = s;
	m->rows = rows;
	workq_push(store_writer(s), ledger_spool_max_job, m);
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
	store_ledger_uid(s, j->uid);
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

int
ledger_prune(struct store *s, int64_t before_ms, int64_t *deleted, char **cause)
{
	return store_backend_of(s)->ledger_prune(s, before_ms, LEDGER_PRUNE_BATCH, deleted, cause);
}

/* SQLite's: each batch under BEGIN IMMEDIATE of its own, the lock let go between. */
int
ledger_sqlite_prune(struct store *s, int64_t before_ms, int batch, int64_t *deleted, char **cause)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n;

	*deleted = 0;
	do {
		if ((db = store_write_begin(s, "ledger prune", cause)) == NULL)
			return -1;
		if (sqlite3_prepare_v2(db,
		        "DELETE FROM ledger WHERE id IN (SELECT id FROM ledger WHERE time_ms < ? "
		        "LIMIT ?)",
		        -1, &st, NULL) != SQLITE_OK) {
			*cause = store_error(s, db, "ledger prune");
			store_write_rollback(s, db);
			return -1;
		}
		sqlite3_bind_int64(st, 1, before_ms);
		sqlite3_bind_int(st, 2, batch);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			*cause = store_error(s, db, "ledger prune");
			store_write_rollback(s, db);
			return -1;
		}
		sqlite3_finalize(st);
		n = sqlite3_changes(db);
		if (n < batch &&
		    (store_exec_int64(db, "DELETE FROM spend_buckets WHERE bucket < ?",
		         before_ms / 900000) != 0 ||
		        store_exec_int64(db, "DELETE FROM scope_spend WHERE bucket < ?",
		            before_ms / 900000) != 0)) {
			*cause = store_error(s, db, "ledger prune");
			store_write_rollback(s, db);
			return -1;
		}
		if (store_write_commit(s, db, "ledger prune", cause) != 0)
			return -1;
		*deleted += n;
	} while (n >= batch);
	return 0;
}

double
ledger_spent(struct store *s, int64_t from_ms, int64_t to_ms)
{
	return store_backend_of(s)->ledger_spent(s, from_ms, to_ms);
}

const char *
ledger_by_column(int by)
{
	switch (by) {
	case LEDGER_BY_MODEL: return "model";
	case LEDGER_BY_KEY: return "key_id";
	case LEDGER_BY_TEAM: return "team";
	default: return "provider";
	}
}

int
ledger_sqlite_groups(struct store *s, int64_t from_ms, int64_t to_ms, int by_model,
    struct ledger_group **out, char **cause)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	struct ledger_group *g = NULL;
	int n = 0, rc;
	const char *col = ledger_by_column(by_model);
	char sql[400];

	snprintf(sql, sizeof sql,
	    "SELECT %s, COUNT(*), SUM(outcome != 'ok'), SUM(cache_hit), SUM(input_tokens), "
	    "SUM(output_tokens), TOTAL(cost_usd), MAX(unpriced) FROM ledger "
	    "WHERE time_ms >= ? AND time_ms < ? GROUP BY %s ORDER BY %s",
	    col, col, col);
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
