/*
 * store.h: llmdeck's one database: the ledger (a row per request), the
 * budget's leases and reservations, the response cache, the event log, the operator
 * overrides, stored Responses answers and the instance registry.
 *
 * Two backends behind one interface (store_priv.h's struct store_backend):
 * SQLite, the embedded default, for a path; PostgreSQL (store_pg.c) for a
 * postgres:// URL, shared by a fleet across hosts. What follows about files
 * and PRAGMAs is SQLite's.
 *
 * The file is in WAL mode with a busy timeout, so several llmdeck processes
 * (a console, a gateway, `ask` runs) can share it. The schema is versioned
 * with PRAGMA user_version and upgraded by an ordered list of migrations; a
 * database newer than this program, a corrupt file or an unwritable directory
 * is refused with a one-line error naming the file, never silently reset.
 *
 * A store handle is thread-safe: every call may come from any thread. Ledger
 * rows are committed by a writer thread in batches (group commit, see
 * ledger.h); everything else runs on the caller's thread on a second
 * connection guarded by a mutex.
 */
#ifndef LLMDECK_STORE_H
#define LLMDECK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config_limits.h"

struct store;

/* The newest schema version this program knows. */
#define STORE_SCHEMA_VERSION 12
/* Spend is also kept per 15 minutes (every real timezone's day starts on one). */
#define STORE_BUCKET_MS 900000

/*
 * Open (creating if needed) the database at path (or PostgreSQL at a
 * postgres:// URL: its password from PGPASSWORD or ~/.pgpass), or with path NULL at
 * $XDG_STATE_HOME/llmdeck/llmdeck.db (~/.local/state/... if unset); missing
 * directories are created with mode 0700. Starts the ledger writer thread.
 * Returns 0, or -1 with *cause set (caller frees).
 */
int store_open(struct store **out, const char *path, char **cause);
/*
 * $XDG_STATE_HOME/llmdeck/FILE (~/.local/state/llmdeck/FILE if unset), creating
 * the directories with mode 0700. Caller frees; NULL with *cause set on failure.
 */
char *store_state_path(const char *file, char **cause);
/* Commit every queued ledger row (their done callbacks run), stop the writer, close. */
void store_close(struct store *);
/* The database file's path. */
const char *store_path(const struct store *);

/*
 * The ledger's health. While its rows cannot be committed (disk full, the
 * database locked past the busy timeout or unreachable, its file deleted or
 * replaced under the process) they go to the spool, a file next to the
 * database (PATH-spool; ledger.h), and failing is 1 with the reason; the
 * writer retries with backoff and replays the spool once the database takes
 * writes again. spool_full: the spool holds spool_max_rows rows, and paid
 * requests are refused. changes counts the changes of failing and
 * spool_full, so a watcher says each once. No SQLite call: cheap, any thread.
 */
struct store_health {
	int failing;
	int spool_full;
	int64_t spooled_rows;
	int64_t spool_max_rows;
	uint64_t changes;
	char reason[256];
	char spool_path[512];
};
void store_health(struct store *, struct store_health *);

/*
 * Tests: fail (1) or stop failing (0) every commit of the ledger's writer, as a
 * full disk would ("injected write failure").
 */
void store_test_fail_writes(struct store *, int on);
/* Tests: the writer's busy timeout while healthy (default 10 s). */
void store_test_busy_timeout(struct store *, int ms);

/*
 * Tests: replace the wall clock (milliseconds since the epoch) used for
 * "today", reservation ages, cache TTL and event times. NULL: the real clock.
 * Set it before the store is used from other threads.
 */
void store_set_clock(struct store *, int64_t (*wall_ms)(void *), void *arg);
/* The store's wall clock now. */
int64_t store_now_ms(struct store *);

/*
 * Append to the persistent event log. time_ms <= 0: now. kind is a short word
 * ("budget", "failover", "operator", "pricing" ...); provider may be NULL.
 * Returns 0 or -1.
 */
int store_event_add(struct store *, int64_t time_ms, const char *kind, const char *provider,
    const char *message);

struct store_event {
	int64_t id;
	int64_t time_ms;
	char kind[32];
	char provider[LIMIT_NAME_SIZE];
	char message[256];
	char instance[64]; /* the process that wrote it (store_set_instance), "" if unknown */
};
/* The last max events, oldest first; returns how many, or -1 on error. */
int store_events_last(struct store *, struct store_event *out, int max);
/* Up to max events with id > after_id, oldest first; how many, or -1. */
int store_events_after(struct store *, int64_t after_id, struct store_event *out, int max);
/* The newest event's id (0 if none), or -1 on error. */
int64_t store_events_last_id(struct store *);

/*
 * The instance id of the process using this handle (the admin API's, such as
 * "web1-4242"): written into every event row this handle inserts, so
 * processes sharing the database can tell whose events they read. Set it
 * before the store is used from other threads; "" (the default) is unknown.
 */
void store_set_instance(struct store *, const char *id);
const char *store_instance(const struct store *);

/*
 * SQLite's PRAGMA data_version on the callers' connection: it changes when
 * another connection (another process, or this handle's writer) commits.
 * A cheap "did anything change" poll. 0, or -1.
 */
int store_data_version(struct store *, int64_t *version);

/*
 * hook(arg) runs (on a thread of the store's) when another handle changed
 * overrides or events and the backend can tell at once (PostgreSQL's NOTIFY);
 * SQLite never calls it: poll store_data_version. It must not block nor call
 * the store. One hook per handle: the last set wins (a router swapped in by a
 * reload takes it over). hook NULL removes arg's hook, if it is still the one
 * set; once this returns, the old hook is not running.
 */
void store_set_change_hook(struct store *, void (*hook)(void *), void *arg);

/*
 * Operator overrides (priority, weight, admin state ... as text), keyed by
 * provider and field; they survive restarts. set replaces; clear with provider
 * NULL removes all. store_overrides calls cb for each, ordered by provider and
 * field, with no store lock held (cb may call the store). All return 0 or -1.
 */
int store_override_set(struct store *, const char *provider, const char *field, const char *value);
int store_override_clear(struct store *, const char *provider);
/*
 * The same with a scope: instance "" (or NULL) is fleet-wide, every instance
 * on the database; an instance id is that instance only (`NAME@INSTANCE`).
 * store_override_clear is clear_for(provider, NULL): every scope; clear_for's
 * provider NULL is every provider. Rows and store_overrides name a scoped
 * row's provider "PROVIDER@INSTANCE" (after its fleet-wide rows).
 */
int store_override_set_for(struct store *, const char *provider, const char *instance,
    const char *field, const char *value);
int store_override_clear_for(struct store *, const char *provider, const char *instance);
int store_overrides(struct store *,
    void (*cb)(void *, const char *provider, const char *field, const char *value), void *arg);
/*
 * Every override row appended to out as "provider\tfield\tvalue\tROWID\n",
 * ordered by provider and field. A row set again gets a new ROWID even with
 * the same value, so a reader comparing two reads sees every change. 0 or -1.
 */
struct buf;
int store_override_rows(struct store *, struct buf *out);

/*
 * The instance registry: each gateway on the database says who and where it
 * is (store_instance_beat, every few seconds); `llmdeck ls --db` and `attach
 * --db` read it. An instance not seen for STORE_INSTANCE_GONE_MS is gone.
 */
#define STORE_INSTANCE_GONE_MS 10000
struct store_instance {
	char id[64]; /* the admin API's instance id, "web1-4242" */
	char host[64];
	int64_t pid;
	char admin_url[256]; /* where `attach` reaches it */
	char version[32];
	char config_hash[72];
	int64_t started_ms;
	char state[16];  /* "starting", "ready", "draining" ... */
	int64_t seen_ms; /* its last heartbeat (the store's clock; ignored by beat) */
	int gone;        /* not seen for STORE_INSTANCE_GONE_MS (read only) */
};
/* Insert or refresh i, seen now. 0 or -1. */
int store_instance_beat(struct store *, const struct store_instance *i);
/* Remove an instance (a clean shutdown). 0 or -1. */
int store_instance_remove(struct store *, const char *id);
/* Every instance, the live first, then by id: the count with *out set (caller
 * frees), or -1. */
int store_instances(struct store *, struct store_instance **out);

/* 1 when where is a PostgreSQL URL (postgres:// or postgresql://), not a path. */
int store_is_url(const char *where);
/* "sqlite" or "postgres". */
const char *store_backend_name(const struct store *);

/*
 * The day (in timezone tz: NULL or "UTC", a fixed offset "+02:00" / "-0530",
 * or an IANA name such as "Europe/Paris") containing time now_ms: its first
 * and one-past-last milliseconds and its name "YYYY-MM-DD". IANA names are
 * read from their TZif file in $TZDIR or /usr/share/zoneinfo (tz.h), never
 * through the C library's TZ. Returns 0, or -1 for a malformed offset or an
 * unknown zone.
 */
int
store_day_bounds(const char *tz, int64_t now_ms, int64_t *start_ms, int64_t *end_ms, char day[16]);

#endif
