/*
 * store_priv.h: what the store's sibling modules (ledger, budget, cache) need
 * of its insides. Not for the router or the console.
 */
#ifndef LLMDECK_STORE_PRIV_H
#define LLMDECK_STORE_PRIV_H

#include <sqlite3.h>

#include "store/budget.h"
#include "store/cache.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/store.h"

struct buf;
struct budget_batch;
struct budget_grant;
struct ledger_job;

/* A key's row as stored (keys.c): the key and its secrets' SHA-256 (hex). */
#define KEY_HASH_SIZE 65
struct key_row {
	struct store_key k;
	char hash[KEY_HASH_SIZE];
	char old_hash[KEY_HASH_SIZE]; /* "": none (or its grace is over) */
};
struct key_touch {
	char id[KEY_ID_SIZE];
	int64_t last_used_ms;
};
/*
 * One scope's terms for scope_reserve (keys.c): scope is "key:ID", "team:NAME" or
 * "global" (the global budget's monthly window: spent from spend_buckets). The
 * windows' bounds: [day_start, day_end), [month_start, month_end).
 */
struct scope_grant {
	const char *scope;
	double day_usd, month_usd; /* 0: no budget of that window */
	/* The day's alert: written once a day when spent_day >= alert_threshold * day_usd
	 * (0: none), under budget_alerts' key alert_key ("DAY SCOPE"), naming label. */
	double alert_threshold;
	const char *label;
	char day[16];
	char alert_key[LIMIT_NAME_SIZE + 48];
	double upper;
	int64_t now, day_start, day_end, month_start, month_end;
	/* Read by the backend in the transaction. */
	double spent_day, spent_month, reserved;
	/* Written: refused (1 the day's budget, 2 the month's), the row's id. */
	int refused;
	int64_t reservation_id;
};
/* The ledger's column for an enum ledger_by (ledger.c). */
const char *ledger_by_column(int by);
/* SQLite's once-a-day budget alert (budget.c), in the caller's write transaction: an
 * INSERT OR IGNORE of key into budget_alerts, and when it was new a "budget" event
 * ("WHO's daily budget alert: spent ... on DAY"; who NULL: the global budget's). 0 or -1. */
/* A reservation's owner is alive: this process, or one kill(pid, 0) finds (budget.c). */
int budget_pid_alive(int64_t pid);
/* Inside a write transaction: the reservation rows (scoped 0: the global budget's
 * `reservations`; 1: keys.c's `scope_reservations`) past their TTL or whose process is
 * gone are deleted. 0 or -1. */
int budget_reservations_clean(sqlite3 *, int scoped, int64_t now);
int budget_alert_once(sqlite3 *, const char *key, const char *day, const char *who,
    double daily_usd, double threshold, double spent, int64_t now);
/* The decision on g's terms as read (both backends): sets g->refused. */
void scope_grant_decide(struct scope_grant *);
/* SQLite's halves (keys.c) for the table in store.c. */
int keys_sqlite_rows(struct store *, struct key_row **, int *, struct store_team **, int *,
    int64_t *, char **);
int keys_sqlite_write(struct store *, const struct key_row *, int, char **);
int teams_sqlite_write(struct store *, const struct store_team *, int, char **);
int keys_sqlite_version(struct store *, int64_t *);
int keys_sqlite_touch(struct store *, const struct key_touch *, int);
int scope_sqlite_reserve(struct store *, struct scope_grant *, int, char **);
void scope_sqlite_unreserve(struct store *, int64_t);
int scope_sqlite_spend(struct store *, const char *, const int64_t[4], int64_t,
    struct scope_spend *, char **);
/* Add a committed row's cost to its key's and team's spend buckets and settle its scope
 * reservations, inside the writer's transaction on db (ledger.c). 0 or -1. */
int scope_sqlite_settle(sqlite3 *db, const struct ledger_row *, int settle_reservations);

/*
 * A backend: the store's operations, each backend with its own schema,
 * migrations and queries (curl's lib/vtls/ shape). store_open picks one from
 * its argument: SQLite for a path, PostgreSQL for a postgres:// or
 * postgresql:// URL. What is shared above the table (the writer thread and its
 * group commit, the budget's leases in memory, the clock, the instance id)
 * lives in store.c, ledger.c and budget.c; the backend runs the transactions.
 * The public calls in store.h, ledger.h, budget.h, cache.h and responses.h
 * dispatch here.
 */
struct store_backend {
	const char *name;
	/* Connect, create or migrate the schema; where is the path or the URL. 0, or -1
	 * with *cause. close runs after the writer has stopped and the lease is returned. */
	int (*open)(struct store *, const char *where, char **cause);
	void (*close)(struct store *);

	/* The event log (store.h). events_read: the last max with after_id < 0, else those
	 * after it. */
	int (*event_add)(struct store *, int64_t time_ms, const char *kind, const char *provider,
	    const char *message);
	int (*events_read)(struct store *, int64_t after_id, struct store_event *, int max);
	int64_t (*events_last_id)(struct store *);

	/* Operator overrides (store.h); changed: a number that moves when another handle
	 * (or this one's writer) committed something (SQLite's data_version, a counter of
	 * PostgreSQL's notifications);
	 * instance: "" fleet-wide, else the one instance the row is for; clear's NULL
	 * provider or instance: every one. Rows name a scoped row's provider
	 * "PROVIDER@INSTANCE". */
	int (*override_set)(struct store *, const char *provider, const char *instance,
	    const char *field, const char *value);
	int (*override_clear)(struct store *, const char *provider, const char *instance);
	int (*override_rows)(struct store *, struct buf *out);
	int (*changed)(struct store *, int64_t *version);

	/* The ledger (ledger.h). commit runs on the writer thread between
	 * budget_batch_ready and budget_batch_end: every job's row in one transaction,
	 * each job's rc set, the batch's lease charges applied; *err on failure. A
	 * job's uid already in the ledger is skipped (a spooled row replayed again),
	 * and a replay job that fails fails the whole transaction. n may be 0 (the
	 * tick's retry while failing: a probe). */
	void (*ledger_commit)(struct store *, struct ledger_job **, size_t n, struct budget_batch *,
	    char **err);
	int (*ledger_groups)(struct store *, int64_t from_ms, int64_t to_ms, int by_model,
	    struct ledger_group **out, char **cause);
	double (*ledger_spent)(struct store *, int64_t from_ms, int64_t to_ms);
	/* set 1: make d the writer's durability; set 0: read it into *value (2 full, 1
	 * normal). Called on the writer thread. 0 or -1. */
	int (*ledger_durability)(struct store *, int set, enum ledger_durability d, int *value,
	    char **cause);

	/* The budget (budget.h, budget.c's discipline): one transaction serialised with
	 * every other grant and ledger commit on the database, in which the backend reads
	 * the terms of (I), writes the day's alert, calls g->decide and writes what it
	 * decided. 0, or -1 with *cause. */
	int (*budget_grant)(struct store *, struct budget_grant *, char **cause);
	void (*budget_unreserve)(struct store *, int64_t reservation_id);
	void (*budget_lease_return)(struct store *, int64_t row);
	/* Today's figures in one snapshot into bs (day already set), writing the alert if
	 * spend crossed the threshold. 0, or -1 with *cause. */
	int (*budget_read)(struct store *, const struct budget_conf *, int64_t now,
	    int64_t day_start, int64_t day_end, struct budget_status *bs, char **cause);

	/* The response cache (cache.h), the conf already checked enabled. */
	int (*cache_get)(struct store *, const struct cache_conf *, const char *key,
	    struct llm_response *out, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE]);
	void (*cache_put_async)(struct store *, const struct cache_conf *, const char *key,
	    const char *provider, const char *model, const struct llm_response *,
	    void (*done)(void *, int), void *arg);
	int (*cache_flush)(struct store *);
	int (*cache_stats)(struct store *, struct cache_stats *);

	/* Stored Responses answers (responses.h): put from the writer queue, done after
	 * the commit; get *err 1 when unreadable; delete 1, 0 or -1. */
	void (*resp_put)(struct store *, const char *id, const char *json, int64_t now_ms,
	    int64_t expires_ms, void (*done)(void *, int), void *arg);
	char *(*resp_get)(struct store *, const char *id, int64_t now_ms, int *err);
	int (*resp_delete)(struct store *, const char *id, int64_t now_ms);

	/* The fleet's rate limits (limits.h): in one transaction serialised with every
	 * other take of the row, read what minute has used of provider's kind, add
	 * limits_grant's share of want, delete minutes long gone. 0, or -1 with *cause. */
	int (*rate_take)(struct store *, const char *provider, const char *kind, int64_t minute,
	    double limit, double want, double *granted, char **cause);

	/* Delete the ledger's rows with time_ms < before_ms (and spend buckets wholly
	 * before it), at most batch rows per transaction so writers wait for one batch
	 * at most; *deleted counts them. 0, or -1 with *cause (what went before stays
	 * deleted). */
	int (*ledger_prune)(struct store *, int64_t before_ms, int batch, int64_t *deleted,
	    char **cause);

	/* Keys and teams (keys.c; keys.h). keys_rows: every key with its hashes, every
	 * team and keys_version, in one snapshot (*keys and *teams: caller frees), 0 or -1
	 * with *cause. key_write: insert (insert 1) or replace by id a key row, its team
	 * created with no limits if missing, keys_version moved, in one transaction; 0, 1
	 * (insert: a live key has that name; replace: no such id) or -1 with *cause.
	 * team_write: replace (del 0) or delete (del 1) a team, keys_version moved; 0, 1
	 * (delete: none), 2 (delete: a live key is in it) or -1 with *cause. keys_touch:
	 * each key's last use, one transaction, keys_version left alone. */
	int (*keys_rows)(struct store *, struct key_row **keys, int *n_keys,
	    struct store_team **teams, int *n_teams, int64_t *version, char **cause);
	int (*key_write)(struct store *, const struct key_row *, int insert, char **cause);
	int (*team_write)(struct store *, const struct store_team *, int del, char **cause);
	int (*keys_version)(struct store *, int64_t *version);
	int (*keys_touch)(struct store *, const struct key_touch *, int n);
	/* Scoped budgets (keys.c, budget.c's discipline): in one transaction serialised
	 * with every grant and ledger commit on the database, for each of the n scopes
	 * clean its stale reservations, read its terms, decide, and insert a reservation
	 * row for each only when all fit (all or none). 0 (each g->refused says; every
	 * reservation_id set when none refused), or -1 with *cause. scope_unreserve:
	 * delete a reservation row. scope_spend: a scope's figures (keys.h). */
	int (*scope_reserve)(struct store *, struct scope_grant *, int n, char **cause);
	void (*scope_unreserve)(struct store *, int64_t reservation_id);
	int (*scope_spend)(struct store *, const char *scope, const int64_t bounds[4], int64_t now,
	    struct scope_spend *, char **cause);

	/* The instance registry (store.h). */
	int (*instance_beat)(struct store *, const struct store_instance *);
	int (*instance_remove)(struct store *, const char *id);
	int (*instances)(struct store *, struct store_instance **out);

	/* The ledger's failure path (ledger.c's spool), on the writer thread; NULL
	 * where the backend has nothing to do. writer_check, before each batch and on
	 * each tick: is the database still the one open (SQLite: the path's inode; a
	 * database put back there is reopened)? 0, or -1 with *reason. writer_upkeep:
	 * recovered 1 right after writes work again, 0 on an idle tick (SQLite:
	 * checkpoint the WAL back to nothing). */
	int (*writer_check)(struct store *, char **reason);
	void (*writer_upkeep)(struct store *, int recovered);
	/* Where the ledger's spool lives: spool_beside, a file next to the database
	 * (PATH-spool); spool_local, a file under the state directory named by a hash
	 * of the URL (store_state_path's spool-HASH: a server has no file beside it).
	 * A backend with neither fails the rows it cannot commit, and paid requests are
	 * refused while it fails. */
	int spool_beside;
	int spool_local;
};

extern const struct store_backend store_sqlite_backend;
/* SQLite's operations that live with their module (ledger.c, budget.c, cache_store.c,
 * responses.c), for the table in store.c. */
void ledger_sqlite_commit(struct store *, struct ledger_job **, size_t, struct budget_batch *,
    char **err);
int ledger_sqlite_groups(struct store *, int64_t, int64_t, int, struct ledger_group **, char **);
double ledger_sqlite_spent(struct store *, int64_t, int64_t);
int ledger_sqlite_durability(struct store *, int, enum ledger_durability, int *, char **);
int budget_sqlite_grant(struct store *, struct budget_grant *, char **cause);
void budget_sqlite_unreserve(struct store *, int64_t reservation_id);
void budget_sqlite_lease_return(struct store *, int64_t row);
int budget_sqlite_read(struct store *, const struct budget_conf *, int64_t now, int64_t day_start,
    int64_t day_end, struct budget_status *, char **cause);
int cache_sqlite_get(struct store *, const struct cache_conf *, const char *key,
    struct llm_response *, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE]);
void cache_sqlite_put_async(struct store *, const struct cache_conf *, const char *key,
    const char *provider, const char *model, const struct llm_response *, void (*done)(void *, int),
    void *arg);
int cache_sqlite_flush(struct store *);
int cache_sqlite_stats(struct store *, struct cache_stats *);
void resp_sqlite_put(struct store *, const char *id, const char *json, int64_t now_ms,
    int64_t expires_ms, void (*done)(void *, int), void *arg);
char *resp_sqlite_get(struct store *, const char *id, int64_t now_ms, int *err);
int resp_sqlite_delete(struct store *, const char *id, int64_t now_ms);
int limits_sqlite_take(struct store *, const char *provider, const char *kind, int64_t minute,
    double limit, double want, double *granted, char **cause);
int
ledger_sqlite_prune(struct store *, int64_t before_ms, int batch, int64_t *deleted, char **cause);
/* What a take of want gets from a minute that has used of limit (limits.c): want
 * cut to what is left, or (want < 0, a give-back) never more than was used. */
double limits_grant(double used, double limit, double want);
extern const struct store_backend store_pg_backend;

/* The backend saw a change from elsewhere: the change hook runs. */
void store_changed(struct store *);
/* The handle's backend. */
const struct store_backend *store_backend_of(struct store *);
/* The backend's own state for this handle (store_pg.c's connections). */
void *store_backend_data(struct store *);
void store_set_backend_data(struct store *, void *);
/* The handle's slot for the cache's Redis state (cache_redis.c; freed by store_close). */
void **store_cache_data(struct store *);

/* The cache in Redis (cache_redis.c), chosen by cache.url: the same operations as the
 * backend table's, on state owned by the store handle (NULL: this process's, for a
 * router with no store). cache_redis_of: s's state for url, made on first use; NULL
 * when url is empty and s has none. */
struct cache_redis;
struct cache_redis *cache_redis_of(struct store *, const char *url);
void cache_redis_free(void *);
int cache_redis_get(struct cache_redis *, const struct cache_conf *, const char *key,
    struct llm_response *, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE]);
int cache_redis_put(struct cache_redis *, const struct cache_conf *, const char *key,
    const char *provider, const char *model, const struct llm_response *);
int cache_redis_flush(struct cache_redis *);
int cache_redis_stats(struct cache_redis *, struct cache_stats *);
int cache_redis_health(struct cache_redis *, unsigned *changes, char *reason, size_t len);

/* The path or URL the handle was opened on, for messages (never a password). */
const char *store_where(const struct store *);

/* A row on its way to the writer (ledger.c). */
struct ledger_job {
	struct store *store;
	struct ledger_row row;
	char uid[40]; /* unique across handles: a replayed row is inserted once */
	int64_t reservation_id;
	double lease_charge; /* its cost taken out of the handle's budget lease */
	void (*done)(void *, int);
	void *arg;
	char **errp; /* may be NULL: receives the failure message before done runs */
	int replay;  /* a row from the spool (no done): its failure fails the batch */
	int rc;
	int unpriced_event; /* it carries the once-per-model "pricing" event (SQLite's commit) */
};

/*
 * A grant (budget.c's slow path), run by the backend in one transaction
 * serialised with every other grant and ledger commit on the database.
 */
struct budget_grant {
	const struct budget_conf *conf;
	double upper;                    /* the request's upper bound */
	int64_t now, day_start, day_end; /* today's bounds */
	const char *day;
	int64_t row;       /* this handle's lease row, 0: none */
	const char *owner; /* the lease's owner (its instance column) */
	/* Read by the backend in the transaction: the terms of (I). mine: this
	 * handle's row's amount, -1 if it has none (or it is gone). */
	double spent, rows, others, mine;
	/* Called by the backend after the reads: sets amount (the lease row's new
	 * amount; <= 0 deletes it) and reserve (1: insert a reservation row of upper). */
	void (*decide)(struct budget_grant *);
	void *arg;
	double amount;
	int reserve;
	/* Written by the backend: the lease's row afterwards (0: none), the reservation's. */
	int64_t new_row, reservation_id;
};

/* The caller-thread connection, locked; every store_lock needs its store_unlock. */
sqlite3 *store_lock(struct store *);
void store_unlock(struct store *);

/* A one-line "<what>: <file>: <sqlite message>" for the last error on db. */
char *store_error(struct store *, sqlite3 *, const char *what);

/* Run one statement with no results; 0 or -1. */
int store_exec(sqlite3 *, const char *sql);
/*
 * Statements prepared once per connection and kept (store_stmt.c): store_stmt
 * gives sql's statement on db ready to bind (NULL on error), under the
 * connection's own thread discipline; store_stmt_done resets it for the next
 * use (instead of sqlite3_finalize: a statement not kept is finalized).
 * store_stmt_exec runs one statement with no parameters. store_db_close
 * finalizes a connection's kept statements and closes it (every close).
 */
sqlite3_stmt *store_stmt(sqlite3 *, const char *sql);
void store_stmt_done(sqlite3_stmt *);
int store_stmt_exec(sqlite3 *, const char *sql);
int store_db_close(sqlite3 *);
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
/* spooled: the handle has a spool, so the charges of rows that did not commit
 * stay charged (counted as spooled); 0: they go back into the lease. */
void budget_batch_end(struct budget_batch *, int committed, int spooled);

/*
 * The ledger's failure path (store.c), for the writer thread. store_writer_check:
 * the backend's writer_check (0 when it has none). store_sqlite_writer_begin
 * (SQLite's): BEGIN IMMEDIATE on the writer's connection, waiting for a lock
 * the normal busy timeout while healthy, briefly while failing.
 * store_sqlite_writer_commit: COMMIT (or the tests' injected failure); 0 or -1
 * with *reason. store_writes_fail_injected: the tests' injected failure is on
 * (another backend's commit honours it too). store_set_failing: the ledger's
 * writes fail (reason) or work again (NULL); store_retry_due: whether a
 * failing writer should try the database now (always when healthy).
 * store_spool: the spool (writer only; NULL for a backend without one).
 */
struct spool;
int store_writer_check(struct store *, char **reason);
int store_sqlite_writer_begin(struct store *, char **reason);
int store_sqlite_writer_commit(struct store *, char **reason);
int store_writes_fail_injected(struct store *);
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
