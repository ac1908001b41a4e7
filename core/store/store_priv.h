/*
 * store_priv.h: what the store's sibling modules (ledger, budget, cache) need
 * of its insides. Not for the router or the console.
 */
#ifndef LLMDECK_STORE_PRIV_H
#define LLMDECK_STORE_PRIV_H

#include <sqlite3.h>

#include "store/budget.h"
#include "store/ledger.h"
#include "store/store.h"

/* The caller-thread connection, locked; every store_lock needs its store_unlock. */
sqlite3 *store_lock(struct store *);
void store_unlock(struct store *);

/* A one-line "<what>: <file>: <sqlite message>" for the last error on db. */
char *store_error(struct store *, sqlite3 *, const char *what);

/* Run one statement with no results; 0 or -1. */
int store_exec(sqlite3 *, const char *sql);
/* The same for a statement whose one parameter is the integer v, or the text t. */
int store_exec_int64(sqlite3 *, const char *sql, int64_t v);
int store_exec_text(sqlite3 *, const char *sql, const char *t);
/* The one REAL a query of two integer parameters (a, b) returns into *out;
 * 0, or -1 with *out left alone. */
int store_select_double(sqlite3 *, const char *sql, int64_t a, int64_t b, double *out);
/* Column col of st's row into dst (len bytes), cut to fit; NULL is "". */
void store_copy_text(char *dst, size_t len, sqlite3_stmt *st, int col);
/* For store_select_double: the ledger's spend with time_ms in [a, b). */
#define STORE_SQL_LEDGER_SPENT \
	"SELECT TOTAL(cost_usd) FROM ledger WHERE time_ms >= ? AND time_ms < ?"

/* BEGIN IMMEDIATE, retried while another process holds the write lock past the busy timeout. */
int store_begin_immediate(sqlite3 *);
/*
 * A write transaction on the caller connection: store_lock, then
 * store_begin_immediate; NULL (unlocked again) if it cannot begin. commit:
 * COMMIT and store_unlock; 0, or -1 after a ROLLBACK if the commit failed.
 * On failure, with cause not NULL, *cause is store_error(what).
 */
sqlite3 *store_write_begin(struct store *, const char *what, char **cause);
int store_write_commit(struct store *, sqlite3 *, const char *what, char **cause);
/* ROLLBACK and store_unlock. */
void store_write_rollback(struct store *, sqlite3 *);

/*
 * The writer thread: jobs pushed on its queue run there in order, and
 * store_writer_db (synchronous=FULL) is theirs alone. store_close runs every
 * queued job before it closes the database. The ledger's group commit is its
 * batch job (ledger.c).
 */
struct workq *store_writer(struct store *);
/*
 * Writes that may wait (the cache's hit counters and LRU ranks): apply(db, arg)
 * runs on the writer inside whichever of its transactions comes first (a
 * ledger batch calls store_apply_deferred before its COMMIT), else in one of
 * their own, so a lookup never costs a transaction of its own. apply must
 * free arg; db is NULL when the write cannot be made (free only).
 */
void store_defer(struct store *, void (*apply)(sqlite3 *, void *arg), void *arg);
/* Writer thread, inside a transaction on wdb: apply every deferred write. */
void store_apply_deferred(struct store *, sqlite3 *wdb);
sqlite3 *store_writer_db(struct store *);

/*
 * The budget's state for this handle (budget.c: its lease): made by create on
 * the first call that passes one (NULL: only look), and handed to release by
 * store_close once the writer has stopped, before the connections close.
 */
void *
store_budget_state(struct store *, void *(*create)(void), void (*release)(struct store *, void *));

/*
 * The ledger's group commit settles lease reservations (budget.c), on the
 * writer thread. Before the batch's transaction: budget_batch_begin, then
 * budget_batch_take for each row (the cost it charges the lease: 0 for a row
 * without a lease reservation), then budget_batch_ready. In the transaction:
 * budget_batch_fail for a row whose insert was rolled back, then
 * budget_batch_apply after the rows (-1: the batch must not commit). After
 * COMMIT (committed 1) or ROLLBACK (0): budget_batch_end. No charge goes back
 * into the lease: the rows that did not commit are spooled, and their charges
 * wait, counted in the lease's row, for the spool's replay: a batch that
 * replays the spool calls budget_batch_replay before budget_batch_ready, and
 * its transaction takes them out of the row.
 */
struct budget_lease;
struct budget_batch {
	struct budget_lease *lease; /* NULL: this handle has no lease state */
	int64_t row;                /* the lease's row to charge, 0: none */
	double charged;             /* costs taken out of the lease in memory */
	double failed;              /* of those, the rows that failed */
	double replayed;            /* spooled charges this batch's replay settles */
	int alert;                  /* write the day's alert in the transaction */
	struct budget_conf conf;    /* its daily_usd and alert_threshold */
	char day[16];
	int64_t now, day_start, day_end;
	double spent_read; /* spent today, read for the alert */
};
void budget_batch_begin(struct store *, struct budget_batch *);
double budget_batch_take(struct budget_batch *, int64_t reservation_id, double cost_usd);
void budget_batch_ready(struct store *, struct budget_batch *);
void budget_batch_replay(struct budget_batch *);
void budget_batch_fail(struct budget_batch *, double charged);
int budget_batch_apply(sqlite3 *, struct budget_batch *);
void budget_batch_end(struct budget_batch *, int committed);

/*
 * The ledger's failure path (store.c), for the writer thread. store_writer_check:
 * is the file at the path still the one open (reopened on it if it came back
 * as a valid database)? 0, or -1 with *reason (caller frees).
 * store_writer_begin: BEGIN IMMEDIATE on the writer's connection, waiting for
 * a lock the normal busy timeout while healthy, briefly while failing.
 * store_writer_commit: COMMIT (or the tests' injected failure); 0 or -1 with
 * *reason. store_set_failing: the ledger's writes fail (reason) or work again
 * (NULL); store_retry_due: whether a failing writer should try the database
 * now (always when healthy). store_spool: the spool (writer only).
 */
struct spool;
int store_writer_check(struct store *, char **reason);
int store_writer_begin(struct store *, char **reason);
int store_writer_commit(struct store *, char **reason);
void store_set_failing(struct store *, const char *reason);
int store_retry_due(struct store *);
struct spool *store_spool(struct store *);
/* The spool's row count and bound changed: mirror them into the health. */
void store_spool_changed(struct store *);
/* A new ledger row's uid, unique across handles and processes. */
void store_ledger_uid(struct store *, char uid[40]);
/* Was uid made by this handle (its reservation ids are ours)? */
int store_ledger_uid_mine(struct store *, const char *uid);
/* Writer, from the tick: replay the spool if a retry is due (ledger.c). */
void ledger_tick(struct store *);

/* Write transactions committed so far on the caller connection and on the writer's (benches). */
void store_commits(struct store *, uint64_t *caller, uint64_t *writer);

/* Insert an event on db (inside the caller's transaction, if any). 0 or -1. */
int store_event_insert(sqlite3 *, int64_t time_ms, const char *kind, const char *provider,
    const char *message);

/* store_day_bounds with the zone read once per store handle (the budget asks per request). */
int store_today(struct store *, const char *tz, int64_t now_ms, int64_t *start_ms, int64_t *end_ms,
    char day[16]);

/* Unpriced models are reported once per model per store handle: returns 1 the
 * first time model is seen here. */
int store_first_unpriced(struct store *, const char *model);

#endif
