/*
 * ledger.h: a row per request in the store, the source of truth for spend.
 *
 * A response must not be handed to its caller before its row is committed:
 * the router submits with ledger_record_async() and answers from done. Rows
 * from all threads are batched on the store's writer thread into one
 * transaction (group commit: whatever queued up while the last batch
 * committed), so the cost of durability is paid once per batch, not once per
 * request. The writer connection runs synchronous=FULL by default: a
 * committed row survives a process crash (kill -9) and also a power loss.
 * ledger_set_durability (config "ledger.durability") may relax it to NORMAL.
 *
 * A batch that cannot commit (disk full, the database locked past the busy
 * timeout, its file deleted or replaced) is appended to the spool, PATH-spool
 * next to the database, and fsynced; its rows count as recorded (done rc 0)
 * and their charges stay charged. The writer retries with backoff and replays
 * the spool exactly once (rows are keyed by a uid) when the database takes
 * writes again; store_health says how it stands. Only a row the spool cannot
 * take either (full: ledger_set_spool_max) reports failure.
 */
#ifndef LLMDECK_LEDGER_H
#define LLMDECK_LEDGER_H

#include <stdint.h>

#include "config/config.h"
#include "provider/llm.h"

struct store;

/* The scoped reservations a row may settle: its key's, its team's, the global month's. */
#define LEDGER_SCOPES 3

struct ledger_row {
	int64_t time_ms;             /* wall clock; <= 0: the store's clock now */
	char route[LIMIT_NAME_SIZE]; /* may be empty */
	char provider[LIMIT_NAME_SIZE];
	char model[LIMIT_ALIAS_SIZE]; /* alias */
	int64_t input_tokens;         /* every input token, cache reads and writes included */
	int64_t output_tokens;        /* every output token, reasoning included */
	int64_t cache_read_tokens;
	int64_t cache_write_tokens;    /* 5-minute and 1-hour ones */
	int64_t cache_write_1h_tokens; /* of cache_write_tokens */
	int64_t reasoning_tokens;      /* of output_tokens, where the API says */
	int usage_estimated; /* cancelled before the provider said: the tokens are estimates */
	double cost_usd;     /* 0 for cache hits and unpriced models */
	int unpriced;        /* the model has no price: cost unknown, not zero */
	uint64_t latency_us;
	char outcome[16];     /* "ok", "error", "refused", "cancelled" */
	char error_class[32]; /* llm_errclass_name(), empty when ok */
	int cache_hit;
	int attempts;
	char response_id[128]; /* the provider's id for the answer, may be empty */
	/* Attribution (keys.h): the client key's id and its team ("" when none), and
	 * whether an operator sent it as a test (`:prompt`), kept out of client figures. */
	char key_id[24];
	char team[LIMIT_NAME_SIZE];
	int operator_test;
	/* The key's, the team's and the global month's budget reservations
	 * (budget_scope_reserve; 0: none), settled in the row's own transaction. */
	int64_t scope_res[LEDGER_SCOPES];
};

/* A request's usage into the row's token columns. */
void ledger_row_usage(struct ledger_row *, const struct llm_usage *);

/*
 * Queue row for commit. done(arg, rc) runs on the writer thread once the
 * row's transaction committed (rc 0) or failed (rc -1); it must not block for
 * long and must not call ledger_record() (it may call ledger_record_async()).
 * reservation_id (from budget_reserve; 0: none) is settled in the same
 * transaction, so spend moves from reserved to spent atomically: a
 * reservation row is deleted, a lease reservation's cost moves from the
 * handle's lease to spent. An unpriced row also writes a "pricing" event,
 * once per model per store handle. done may be NULL.
 */
void ledger_record_async(struct store *, const struct ledger_row *, int64_t reservation_id,
    void (*done)(void *, int), void *arg);
/* Blocking wrapper: 0 once committed, or -1 with *cause set. */
int ledger_record(struct store *, const struct ledger_row *, int64_t reservation_id, char **cause);

/*
 * How the writer's commits reach the disk, from the next batch on:
 * LEDGER_DURABILITY_FULL (the default: an fsync of the WAL per group commit,
 * a committed row survives a power loss) or LEDGER_DURABILITY_NORMAL (WAL
 * synchronous=NORMAL: a committed row survives a crash of the process; a
 * power loss or an OS crash may take the last commits). An answer still
 * waits for its row's commit either way. Not from the writer thread (a
 * ledger_record_async done callback). 0, or -1 with *cause set.
 */
int ledger_set_durability(struct store *, enum ledger_durability, char **cause);
/* The spool's bound in rows ("ledger": {"spool_max_rows": N}); <= 0: 10000. */
void ledger_set_spool_max(struct store *, int64_t rows);
/* The writer connection's PRAGMA synchronous as SQLite reads it back: 2 FULL, 1 NORMAL; -1
 * on error. Not from the writer thread. */
int ledger_synchronous(struct store *);

/* Aggregates over [from_ms, to_ms), for the console and `llmdeck status`. */
struct ledger_group {
	char name[LIMIT_ALIAS_SIZE]; /* provider name or model alias */
	int64_t requests;
	int64_t errors; /* outcome != "ok" */
	int64_t cache_hits;
	int64_t input_tokens;
	int64_t output_tokens;
	double cost_usd;
	int unpriced; /* some rows were unpriced */
};
/* What ledger_groups groups by (LEDGER_BY_KEY: the key's id, "" for rows without one). */
enum ledger_by { LEDGER_BY_PROVIDER, LEDGER_BY_MODEL, LEDGER_BY_KEY, LEDGER_BY_TEAM };
/* by_model: an enum ledger_by (0 provider, 1 model as before). Sets *out (caller frees)
 * and returns the count, or -1 with *cause set. */
int ledger_groups(struct store *, int64_t from_ms, int64_t to_ms, int by_model,
    struct ledger_group **out, char **cause);

/* Sum of cost_usd over [from_ms, to_ms); -1 on error. */
double ledger_spent(struct store *, int64_t from_ms, int64_t to_ms);

/*
 * Delete the ledger's rows older than before_ms (`llmdeck ledger prune`), with
 * the 15-minute spend buckets wholly before it, LEDGER_PRUNE_BATCH rows per
 * transaction so writers never wait for more than one batch. before_ms must be
 * the start of a day before today (the budget's window is today: its spend is
 * never touched); the caller checks. *deleted: the rows that went. 0, or -1
 * with *cause (the batches before the failure stay deleted).
 */
#define LEDGER_PRUNE_BATCH 10000
int ledger_prune(struct store *, int64_t before_ms, int64_t *deleted, char **cause);

#endif
