/*
 * store.c: the SQLite database: opening it safely, the schema and its
 * migrations, the caller connection, the writer thread and its connection
 * (the ledger's group commit runs on it: ledger.c), the event log, operator
 * overrides, the polls that let processes sharing the file see each other's
 * changes (data_version, events after an id) and the budget day's bounds
 * (tz.c).
 *
 * Two connections per handle: the writer thread's own, and one for calls on
 * callers' threads, serialised by a mutex. Both run in WAL mode, so readers
 * never block the writer, and other processes share the file through SQLite's
 * locks and the busy timeout.
 *
 * Durability: the caller connection runs synchronous=NORMAL. In WAL mode that
 * is durable against a crash of the process (kill -9): a committed
 * transaction is in the WAL file, which the OS keeps; only a power loss or OS
 * crash can lose the last transactions. The ledger writer runs
 * synchronous=FULL (an fsync of the WAL per commit): with group commit it is
 * paid once per batch, and bench_store measured it cheap enough, so spend
 * also survives a power loss, unless the config relaxes it to NORMAL
 * ("ledger.durability", ledger_set_durability).
 *
 * The ledger's failure path: a ticker thread queues a tick on the writer every
 * STORE_TICK_MS (the backend's writer_check, the spool's retries with backoff,
 * the backend's idle upkeep); the health it keeps (store_health) is the
 * same for both backends. SQLite's writer_check compares the path's inode
 * with the open file's and reopens a database put back; its upkeep
 * checkpoints the WAL. The spool (PATH-spool) is opened for a backend that
 * keeps one beside its file (spool_beside).
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/spool.h"
#include "store/store_priv.h"
#include "util/tz.h"
#include "util/util.h"
#include "util/workq.h"

#define STORE_BUSY_TIMEOUT_MS 10000
/* While the ledger's writes fail, the writer waits this long for a lock, then spools. */
#define STORE_FAILING_BUSY_MS 100
/* The writer's tick: the file check, the spool's retries, idle checkpoints. */
#define STORE_TICK_MS 500
/* Retries of a failing store back off from the first to the last. */
#define STORE_RETRY_FIRST_MS 250
#define STORE_RETRY_MAX_MS 8000
/* Processes sharing a database have a spool each: PATH-spool, PATH-spool.1 ... */
#define STORE_SPOOLS 64
/* A WAL past this is checkpointed (TRUNCATE) once the writer is idle. */
#define STORE_WAL_TRUNCATE_BYTES (4 << 20)

struct store {
	char *path; /* or the URL, without a password */
	const struct store_backend *be;
	void *be_data;    /* the backend's own (store_pg.c) */
	void *cache_data; /* the cache in Redis (cache_redis.c), when cache.url names one */
	sqlite3 *db;      /* callers' connection, under mu */
	sqlite3 *wdb;     /* the writer thread's connection: only its jobs use it */
	pthread_mutex_t mu;
	struct workq *writer;

	int64_t (*wall_ms)(void *);
	void *wall_arg;
	char instance[64];   /* written into every event row: set before use, then read only */
	pthread_mutex_t hmu; /* the change hook's own: held while it runs */
	void (*change_hook)(void *); /* store_set_change_hook, under hmu */
	void *change_arg;

	/* Write transactions committed on db and on wdb (sqlite3_commit_hook): what a request costs. */
	atomic_uint_least64_t commits_caller, commits_writer;

	pthread_mutex_t umu; /* the small caches: models already reported unpriced, the zone */
	char **unpriced;
	size_t n_unpriced;
	struct tz *zone; /* the budget's time zone, read once */
	void *budget;    /* the budget's state for this handle (its lease), under umu */
	void (*budget_release)(struct store *, void *);

	/*
	 * The ledger's health (store_health), under health_mu; failing and spool are the
	 * writer's, mirrored here. dev and ino: the database file the connections
	 * have open, compared with the path's before each batch and on each tick.
	 */
	pthread_mutex_t health_mu;
	struct store_health health;
	struct spool *spool;
	dev_t dev;
	ino_t ino;
	int64_t retry_at_ms;    /* writer: monotonic ms of the next attempt while failing */
	int64_t backoff_ms;     /* writer */
	int64_t batch_ms;       /* writer: monotonic ms of the last ledger batch */
	atomic_int fail_writes; /* tests: the writer's commits fail */
	atomic_int busy_ms;     /* the writer's busy timeout while healthy */
	char uid_prefix[20];    /* this handle's ledger row uids: prefix-seq */
	atomic_uint_least64_t uid_seq;
	pthread_t ticker;
	int ticker_started, ticker_stop, tick_queued; /* under health_mu */
	pthread_cond_t tick_cond;

	/* Deferred writes (store_defer), under dmu. */
	pthread_mutex_t dmu;
	struct deferred *deferred, **deferred_tail;
	int deferred_flush_queued;
};

struct deferred {
	struct deferred *next;
	void (*apply)(sqlite3 *, void *);
	void *arg;
};

/*
 * The schema, one entry per version: migrations[i] takes user_version i to
 * i + 1. Append, never edit a released entry.
 */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE ledger ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  route TEXT NOT NULL DEFAULT '',"
    "  provider TEXT NOT NULL DEFAULT '',"
    "  model TEXT NOT NULL DEFAULT '',"
    "  input_tokens INTEGER NOT NULL DEFAULT 0,"
    "  output_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"
    "  unpriced INTEGER NOT NULL DEFAULT 0,"
    "  latency_us INTEGER NOT NULL DEFAULT 0,"
    "  outcome TEXT NOT NULL DEFAULT 'ok',"
    "  error_class TEXT NOT NULL DEFAULT '',"
    "  cache_hit INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX ledger_time ON ledger(time_ms);"
    "CREATE TABLE reservations ("
    "  id INTEGER PRIMARY KEY,"
    "  pid INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  amount_usd REAL NOT NULL);"
    "CREATE TABLE budget_alerts ("
    "  day TEXT PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  provider TEXT NOT NULL DEFAULT '',"
    "  message TEXT NOT NULL);"
    "CREATE INDEX events_time ON events(time_ms);"
    "CREATE TABLE overrides ("
    "  provider TEXT NOT NULL,"
    "  field TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (provider, field));"
    "CREATE TABLE cache ("
    "  key TEXT PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  lru INTEGER NOT NULL,"
    "  hits INTEGER NOT NULL DEFAULT 0,"
    "  resp_id TEXT, resp_model TEXT, content TEXT NOT NULL,"
    "  stop INTEGER NOT NULL, stop_raw TEXT,"
    "  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
    "  cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL);"
    "CREATE INDEX cache_lru ON cache(lru);"
    "CREATE TABLE counters ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL);"
    "INSERT INTO counters VALUES ('cache_hits', 0), ('cache_misses', 0);",
    /* 1 -> 2: spend per 15 minutes, so today's spend is <= 96 rows, not a scan of today's ledger */
    "CREATE TABLE spend_buckets ("
    "  bucket INTEGER PRIMARY KEY,"
    "  cost_usd REAL NOT NULL);"
    "INSERT INTO spend_buckets SELECT time_ms / 900000, TOTAL(cost_usd) FROM ledger "
    "  GROUP BY time_ms / 900000;",
    /* 2 -> 3: cancelled requests' usage may be an estimate; the provider's answer id */
    "ALTER TABLE ledger ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ledger ADD COLUMN response_id TEXT NOT NULL DEFAULT '';",
    /* 3 -> 4: budget leases: a handle's slice of today's budget, reserved and settled in memory */
    "CREATE TABLE budget_leases ("
    "  id INTEGER PRIMARY KEY,"
    "  instance TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  amount_usd REAL NOT NULL,"
    "  granted_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL);",
    /* 4 -> 5: events say which process wrote them (its instance id, the admin API's) */
    "ALTER TABLE events ADD COLUMN instance TEXT NOT NULL DEFAULT '';",
    /* 5 -> 6: usage as the APIs give it: cache reads and writes (the 1-hour ones apart) and
     * reasoning tokens per ledger row; a cached answer keeps its parts (tool calls,
     * thinking) and the same usage */
    "ALTER TABLE ledger ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ledger ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ledger ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ledger ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE cache ADD COLUMN parts TEXT;"
    "ALTER TABLE cache ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE cache ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;",
    /* 6 -> 7: stored Responses API responses (responses.c), so previous_response_id works
     * on every process on the database */
    "CREATE TABLE responses ("
    "  id TEXT PRIMARY KEY,"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE INDEX responses_expires ON responses(expires_ms);",
    /* 7 -> 8: the instance registry (`llmdeck ls --db`, `attach --db`) */
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  admin_url TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  config_hash TEXT NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  seen_ms INTEGER NOT NULL);",
    /* 8 -> 9: a ledger row's uid, so a row replayed from the spool twice is one row */
    "ALTER TABLE ledger ADD COLUMN uid TEXT;"
    "CREATE UNIQUE INDEX ledger_uid ON ledger(uid);",
    /* 9 -> 10: the fleet's per-minute rate limit allowances (limits.c) */
    "CREATE TABLE rate_windows ("
    "  provider TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  minute INTEGER NOT NULL,"
    "  used REAL NOT NULL,"
    "  PRIMARY KEY (provider, kind, minute));",
    /* 10 -> 11: client keys and teams (keys.c): their limits, a version moved by every
     * change, the ledger's attribution, spend per scope and 15 minutes, scope reservations */
    "CREATE TABLE teams ("
    "  name TEXT PRIMARY KEY,"
    "  created_ms INTEGER NOT NULL,"
    "  day_usd REAL NOT NULL DEFAULT 0, month_usd REAL NOT NULL DEFAULT 0,"
    "  rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT NULL DEFAULT 0,"
    "  models TEXT NOT NULL DEFAULT '', alert_threshold REAL NOT NULL DEFAULT 0);"
    "CREATE TABLE keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  team TEXT NOT NULL DEFAULT '',"
    "  prefix TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  old_hash TEXT NOT NULL DEFAULT '',"
    "  grace_until_ms INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL DEFAULT 0,"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0,"
    "  rotated_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_used_ms INTEGER NOT NULL DEFAULT 0,"
    "  day_usd REAL NOT NULL DEFAULT 0, month_usd REAL NOT NULL DEFAULT 0,"
    "  rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT NULL DEFAULT 0,"
    "  models TEXT NOT NULL DEFAULT '', alert_threshold REAL NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX keys_live_name ON keys(name) WHERE revoked_ms = 0;"
    "CREATE TABLE keys_meta (version INTEGER NOT NULL);"
    "INSERT INTO keys_meta VALUES (0);"
    "ALTER TABLE ledger ADD COLUMN key_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE ledger ADD COLUMN team TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE ledger ADD COLUMN operator_test INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX ledger_key_time ON ledger(key_id, time_ms);"
    "CREATE INDEX ledger_team_time ON ledger(team, time_ms);"
    "CREATE TABLE scope_spend ("
    "  scope TEXT NOT NULL,"
    "  bucket INTEGER NOT NULL,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  refused INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (scope, bucket));"
    "CREATE TABLE scope_reservations ("
    "  id INTEGER PRIMARY KEY,"
    "  scope TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  amount_usd REAL NOT NULL);"
    "CREATE INDEX scope_reservations_scope ON scope_reservations(scope);",
    /* 11 -> 12: an override (or drill) is fleet-wide (instance '') or for one instance (router_admin.c) */
    "CREATE TABLE overrides_scoped ("
    "  provider TEXT NOT NULL,"
    "  instance TEXT NOT NULL DEFAULT '',"
    "  field TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (provider, instance, field));"
    "INSERT INTO overrides_scoped(provider, field, value) "
    "  SELECT provider, field, value FROM overrides;"
    "DROP TABLE overrides;"
    "ALTER TABLE overrides_scoped RENAME TO overrides;",
};

int
store_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Step a prepared one-parameter statement to its end and finalize it. */
static int
store_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	store_stmt_done(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_exec_int64(sqlite3 *db, const char *sql, int64_t v)
{
	sqlite3_stmt *st = store_stmt(db, sql);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, v);
	return store_step_done(st);
}

int
store_exec_text(sqlite3 *db, const char *sql, const char *t)
{
	sqlite3_stmt *st = store_stmt(db, sql);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
	return store_step_done(st);
}

int
store_select_double(sqlite3 *db, const char *sql, int64_t a, int64_t b, double *out)
{
	sqlite3_stmt *st = store_stmt(db, sql);
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_double(st, 0);
		rc = 0;
	}
	store_stmt_done(st);
	return rc;
}

/* Busy timeouts can still end in SQLITE_BUSY under a long writer: try again, bounded. */
int
store_begin_immediate(sqlite3 *db)
{
	for (int i = 0; i < 6; i++) {
		int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

		if (rc == SQLITE_OK)
			return 0;
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			return -1;
	}
	return -1;
}

sqlite3 *
store_write_begin(struct store *s, const char *what, char **cause)
{
	sqlite3 *db = store_lock(s);

	if (store_begin_immediate(db) != 0) {
		if (cause != NULL)
			*cause = store_error(s, db, what);
		store_unlock(s);
		return NULL;
	}
	return db;
}

int
store_write_commit(struct store *s, sqlite3 *db, const char *what, char **cause)
{
	if (store_exec(db, "COMMIT") != 0) {
		if (cause != NULL)
			*cause = store_error(s, db, what);
		store_write_rollback(s, db);
		return -1;
	}
	store_unlock(s);
	return 0;
}

void
store_write_rollback(struct store *s, sqlite3 *db)
{
	store_exec(db, "ROLLBACK");
	store_unlock(s);
}

char *
store_error(struct store *s, sqlite3 *db, const char *what)
{
	return xasprintf("%s: %s: %s", what, s->path, sqlite3_errmsg(db));
}

sqlite3 *
store_lock(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	return s->db;
}

void
store_unlock(struct store *s)
{
	pthread_mutex_unlock(&s->mu);
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

void
store_set_change_hook(struct store *s, void (*hook)(void *), void *arg)
{
	pthread_mutex_lock(&s->hmu);
	if (hook != NULL || s->change_arg == arg) {
		s->change_hook = hook;
		s->change_arg = hook != NULL ? arg : NULL;
	}
	pthread_mutex_unlock(&s->hmu);
}

void
store_changed(struct store *s)
{
	pthread_mutex_lock(&s->hmu);
	if (s->change_hook != NULL)
		s->change_hook(s->change_arg);
	pthread_mutex_unlock(&s->hmu);
}

const char *
store_where(const struct store *s)
{
	return s->path;
}

const char *
store_backend_name(const struct store *s)
{
	return s->be->name;
}

const struct store_backend *
store_backend_of(struct store *s)
{
	return s->be;
}

void **
store_cache_data(struct store *s)
{
	return &s->cache_data;
}

void *
store_backend_data(struct store *s)
{
	return s->be_data;
}

void
store_set_backend_data(struct store *s, void *data)
{
	s->be_data = data;
}

void
store_set_clock(struct store *s, int64_t (*wall_ms)(void *), void *arg)
{
	s->wall_ms = wall_ms;
	s->wall_arg = arg;
}

int64_t
store_now_ms(struct store *s)
{
	if (s->wall_ms != NULL)
		return s->wall_ms(s->wall_arg);
	return clock_wall_ms();
}

/* mkdir -p with mode 0700 for the directories we create. */
static int
store_mkdirs(const char *dir, char **cause)
{
	char *p = xstrdup(dir);

	for (char *q = p + 1;; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			*cause =
			    xasprintf("store: cannot create directory %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*q = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;
}

char *
store_state_path(const char *file, char **cause)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir, *path;

	if (state != NULL && *state == '/')
		dir = xasprintf("%s/llmdeck", state);
	else if (home != NULL && *home != '\0')
		dir = xasprintf("%s/.local/state/llmdeck", home);
	else {
		*cause = xasprintf("store: no database path: set --db, XDG_STATE_HOME or HOME");
		return NULL;
	}
	if (store_mkdirs(dir, cause) != 0) {
		free(dir);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, file);
	free(dir);
	return path;
}

static char *
store_default_path(char **cause)
{
	return store_state_path("llmdeck.db", cause);
}

/* Refuse early and clearly where SQLite would say only "unable to open database file". */
static int
store_check_access(const char *path, char **cause)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat st;

	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0) {
		*cause = xasprintf("store: cannot open database %s: directory %s: %s", path, dir,
		    strerror(errno));
		free(dir);
		return -1;
	}
	/* WAL mode creates FILE-wal and FILE-shm next to the database. */
	if (access(dir, W_OK | X_OK) != 0) {
		*cause = xasprintf("store: cannot open database %s: directory %s is not "
		                   "writable (%s)",
		    path, dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			*cause = xasprintf("store: database %s is not a regular file", path);
			return -1;
		}
		if (access(path, R_OK | W_OK) != 0) {
			*cause = xasprintf("store: database %s is not writable (%s)", path,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The message for a failed open or setup: corruption is told apart from the rest. */
static char *
store_open_error(const char *path, sqlite3 *db, int rc)
{
	int code = rc & 0xff;

	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
		return xasprintf("store: database %s is corrupt or not an llmdeck database "
		                 "(%s); it was left untouched: move it aside or use --db",
		    path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return xasprintf("store: cannot open database %s: %s", path,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int
store_connect(const char *path, int synchronous_full, sqlite3 **out, char **cause)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	rc = sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*cause = store_open_error(path, db, rc);
		store_db_close(db);
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	/* The first read of the file: a garbage file fails here with SQLITE_NOTADB. */
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);

			if (mode == NULL || strcmp(mode, "wal") != 0) {
				*cause = xasprintf("store: database %s: cannot switch to WAL "
				                   "mode (journal_mode is %s)",
				    path, mode ? mode : "?");
				sqlite3_finalize(st);
				store_db_close(db);
				return -1;
			}
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		*cause = store_open_error(path, db, rc);
		store_db_close(db);
		return -1;
	}
	if (store_exec(db,
	        synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") != 0) {
		*cause = store_open_error(path, db, sqlite3_errcode(db));
		store_db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* SQL llmdeck_instance(): the handle's instance id, so every event row says who wrote it. */
static void
store_sql_instance(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store *s = sqlite3_user_data(ctx);

	(void)argc;
	(void)argv;
	sqlite3_result_text(ctx, s->instance, -1, SQLITE_TRANSIENT);
}

static int
store_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return sqlite3_errcode(db);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema to STORE_SCHEMA_VERSION in one transaction; refuse a newer one. */
static int
store_migrate(const char *path, sqlite3 *db, char **cause)
{
	int version = 0, rc;

	if (store_begin_immediate(db) != 0) {
		*cause = store_open_error(path, db, sqlite3_errcode(db));
		return -1;
	}
	if ((rc = store_user_version(db, &version)) != SQLITE_OK) {
		*cause = store_open_error(path, db, rc);
		goto fail;
	}
	if (version > (int)nitems(migrations)) {
		*cause = xasprintf("store: database %s has schema version %d, newer than this "
		                   "llmdeck's %d: upgrade llmdeck or use another --db",
		    path, version, (int)nitems(migrations));
		goto fail;
	}
	for (int v = version; v < (int)nitems(migrations); v++) {
		char pragma[64];

		if (store_exec(db, migrations[v]) != 0) {
			*cause = xasprintf("store: database %s: migration to schema version "
			                   "%d failed: %s",
			    path, v + 1, sqlite3_errmsg(db));
			goto fail;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
		if (store_exec(db, pragma) != 0) {
			*cause = store_open_error(path, db, sqlite3_errcode(db));
			goto fail;
		}
	}
	if (store_exec(db, "COMMIT") != 0) {
		*cause = store_open_error(path, db, sqlite3_errcode(db));
		goto fail;
	}
	return 0;
fail:
	store_exec(db, "ROLLBACK");
	return -1;
}

int
store_first_unpriced(struct store *s, const char *model)
{
	int first = 1;

	pthread_mutex_lock(&s->umu);
	for (size_t i = 0; i < s->n_unpriced; i++)
		if (strcmp(s->unpriced[i], model) == 0)
			first = 0;
	if (first) {
		s->unpriced = xreallocarray(s->unpriced, s->n_unpriced + 1, sizeof *s->unpriced);
		s->unpriced[s->n_unpriced++] = xstrdup(model);
	}
	pthread_mutex_unlock(&s->umu);
	return first;
}

int
store_event_insert(sqlite3 *db, int64_t time_ms, const char *kind, const char *provider,
    const char *message)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT INTO events(time_ms, kind, provider, message, instance) "
	        "VALUES (?, ?, ?, ?, llmdeck_instance())",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, time_ms);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, provider != NULL ? provider : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct workq *
store_writer(struct store *s)
{
	return s->writer;
}

/* Take every deferred write queued so far. */
static struct deferred *
store_take_deferred(struct store *s, int flushing)
{
	struct deferred *d;

	pthread_mutex_lock(&s->dmu);
	d = s->deferred;
	s->deferred = NULL;
	s->deferred_tail = &s->deferred;
	if (flushing)
		s->deferred_flush_queued = 0;
	pthread_mutex_unlock(&s->dmu);
	return d;
}

static void
store_run_deferred(sqlite3 *db, struct deferred *d)
{
	while (d != NULL) {
		struct deferred *next = d->next;
		d->apply(db, d->arg);
		free(d);
		d = next;
	}
}

void
store_apply_deferred(struct store *s, sqlite3 *wdb)
{
	store_run_deferred(wdb, store_take_deferred(s, 0));
}

/* Writer: the deferred writes no other transaction took, in one of their own. */
static void
store_flush_deferred(void *arg)
{
	struct store *s = arg;
	struct deferred *d = store_take_deferred(s, 1);
	char *reason = NULL;

	if (d == NULL)
		return;
	/* While the ledger cannot commit, the cache's bookkeeping is dropped: it must not
	 * hold the writer (and the answers waiting for their rows) on a lock. */
	if (s->health.failing || store_sqlite_writer_begin(s, &reason) != 0) {
		free(reason);
		store_run_deferred(NULL, d); /* apply(NULL, arg) only frees */
		return;
	}
	store_run_deferred(s->wdb, d);
	if (store_exec(s->wdb, "COMMIT") != 0)
		store_exec(s->wdb, "ROLLBACK");
}

void
store_defer(struct store *s, void (*apply)(sqlite3 *, void *), void *arg)
{
	struct deferred *d = xmalloc(sizeof *d);
	int queue;

	d->apply = apply;
	d->arg = arg;
	d->next = NULL;
	pthread_mutex_lock(&s->dmu);
	*s->deferred_tail = d;
	s->deferred_tail = &d->next;
	queue = !s->deferred_flush_queued;
	s->deferred_flush_queued = 1;
	pthread_mutex_unlock(&s->dmu);
	if (queue)
		workq_push(s->writer, store_flush_deferred, s);
}

sqlite3 *
store_writer_db(struct store *s)
{
	return s->wdb;
}

/* SQLite's commit hook: counts a write transaction; 0 lets the commit go on. */
static int
store_count_commit(void *counter)
{
	atomic_fetch_add_explicit((atomic_uint_least64_t *)counter, 1, memory_order_relaxed);
	return 0;
}

void *
store_budget_state(struct store *s, void *(*create)(void), void (*release)(struct store *, void *))
{
	void *b;

	pthread_mutex_lock(&s->umu);
	if (s->budget == NULL && create != NULL) {
		s->budget = create();
		s->budget_release = release;
	}
	b = s->budget;
	pthread_mutex_unlock(&s->umu);
	return b;
}

void
store_commits(struct store *s, uint64_t *caller, uint64_t *writer)
{
	*caller = atomic_load_explicit(&s->commits_caller, memory_order_relaxed);
	*writer = atomic_load_explicit(&s->commits_writer, memory_order_relaxed);
}

/* A connection's hooks: its commit counter, llmdeck_instance(), a WAL kept in bounds. */
static void
store_setup(struct store *s, sqlite3 *db, int writer)
{
	sqlite3_commit_hook(db, store_count_commit,
	    writer ? &s->commits_writer : &s->commits_caller);
	sqlite3_create_function(db, "llmdeck_instance", 0, SQLITE_UTF8, s, store_sql_instance, NULL,
	    NULL);
	/* SQLite's default, said out loud: a commit past 1000 pages of WAL checkpoints. */
	store_exec(db, "PRAGMA wal_autocheckpoint=1000");
	/* A WAL reset by a checkpoint is cut back to this, not left at its peak. */
	store_exec(db, "PRAGMA journal_size_limit=4194304");
}

/* The database file the connections have open: the path's device and inode now. */
static int
store_file_id(struct store *s, char **cause)
{
	struct stat st;

	if (stat(s->path, &st) != 0) {
		*cause = xasprintf("store: database %s: %s", s->path, strerror(errno));
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

/*
 * A new database file is made 0600 before SQLite opens it: SQLite creates the
 * -wal and -shm files with the database's mode, so the ledger, the cache's
 * answers and the stored responses are the owner's alone.
 */
static int
store_create_private(const char *path, char **cause)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		*cause = xasprintf("store: cannot create database %s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) != 0) { /* whatever the umask said */
		*cause = xasprintf("store: cannot chmod database %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The SQLite backend's open: the file checked, two connections, the schema migrated. */
static int
sqlite_open(struct store *s, const char *where, char **cause)
{
	(void)where;
	if (store_check_access(s->path, cause) != 0 || store_create_private(s->path, cause) != 0)
		return -1;
	if (store_connect(s->path, 0, &s->db, cause) != 0 ||
	    store_migrate(s->path, s->db, cause) != 0 ||
	    store_connect(s->path, 1, &s->wdb, cause) != 0)
		return -1;
	if (store_file_id(s, cause) != 0)
		return -1;
	store_setup(s, s->db, 0);
	store_setup(s, s->wdb, 1);
	return 0;
}

static void
sqlite_close(struct store *s)
{
	store_db_close(s->wdb);
	store_db_close(s->db);
	s->wdb = s->db = NULL;
}

int
store_is_url(const char *where)
{
	return where != NULL &&
	    (strncmp(where, "postgres://", 11) == 0 || strncmp(where, "postgresql://", 13) == 0);
}

/* The URL as messages may show it: a password (user:secret@) cut out. */
static char *
store_url_redact(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *colon;

	if (scheme == NULL)
		return xstrdup(url);
	scheme += 3;
	at = strchr(scheme, '@');
	colon = strchr(scheme, ':');
	if (at == NULL || colon == NULL || colon > at || strchr(scheme, '/') < at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(colon - url), url, at);
}

static void
store_uid_prefix(struct store *s)
{
	struct rng rng;

	rng_seed(&rng,
	    clock_mono_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s ^
	        (uint64_t)clock_wall_ms());
	snprintf(s->uid_prefix, sizeof s->uid_prefix, "%016llx",
	    (unsigned long long)rng_next(&rng));
}

void
store_ledger_uid(struct store *s, char uid[40])
{
	unsigned long long seq =
	    (unsigned long long)atomic_fetch_add_explicit(&s->uid_seq, 1, memory_order_relaxed);

	snprintf(uid, 40, "%s-%llu", s->uid_prefix, seq + 1);
}

int
store_ledger_uid_mine(struct store *s, const char *uid)
{
	size_t n = strlen(s->uid_prefix);

	return strncmp(uid, s->uid_prefix, n) == 0 && uid[n] == '-';
}

void
store_health(struct store *s, struct store_health *h)
{
	pthread_mutex_lock(&s->health_mu);
	*h = s->health;
	pthread_mutex_unlock(&s->health_mu);
}

void
store_test_fail_writes(struct store *s, int on)
{
	atomic_store(&s->fail_writes, on);
}

void
store_test_busy_timeout(struct store *s, int ms)
{
	atomic_store(&s->busy_ms, ms);
}

struct spool *
store_spool(struct store *s)
{
	return s->spool;
}

void
store_spool_changed(struct store *s)
{
	int64_t rows = s->spool != NULL ? spool_rows(s->spool) : 0;
	int64_t max = s->spool != NULL ? spool_max(s->spool) : 0;
	/* Without a spool, a failing ledger takes no row: full while it fails. */
	int full = s->spool != NULL ? rows >= max : s->health.failing;

	pthread_mutex_lock(&s->health_mu);
	s->health.spooled_rows = rows;
	s->health.spool_max_rows = max;
	if (full != s->health.spool_full) {
		s->health.spool_full = full;
		s->health.changes++;
	}
	pthread_mutex_unlock(&s->health_mu);
}

/* Writer: a checkpoint that waits for no one (readers in the way: the next one). */
static void
store_checkpoint(struct store *s, int truncate)
{
	sqlite3_busy_timeout(s->wdb, 0);
	sqlite3_wal_checkpoint_v2(s->wdb, NULL,
	    truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	sqlite3_busy_timeout(s->wdb, atomic_load(&s->busy_ms));
}

void
store_set_failing(struct store *s, const char *reason)
{
	int failing = reason != NULL, was = s->health.failing;

	if (!failing)
		s->backoff_ms = s->retry_at_ms = 0;
	else {
		s->backoff_ms = s->backoff_ms == 0           ? STORE_RETRY_FIRST_MS
		    : s->backoff_ms * 2 > STORE_RETRY_MAX_MS ? STORE_RETRY_MAX_MS
		                                             : s->backoff_ms * 2;
		s->retry_at_ms = (int64_t)clock_mono_ms() + s->backoff_ms;
	}
	pthread_mutex_lock(&s->health_mu);
	if (was != failing)
		s->health.changes++;
	s->health.failing = failing;
	strlcpy_(s->health.reason, failing ? reason : "", sizeof s->health.reason);
	pthread_mutex_unlock(&s->health_mu);
	store_spool_changed(s);
	/* Back from a failure: whatever the WAL grew to goes back into the file. */
	if (was && !failing && s->be->writer_upkeep != NULL)
		s->be->writer_upkeep(s, 1);
}

int
store_retry_due(struct store *s)
{
	return !s->health.failing || (int64_t)clock_mono_ms() >= s->retry_at_ms;
}

/* BEGIN IMMEDIATE on a kept statement: SQLite's result code. */
static int
store_stmt_begin(sqlite3 *db)
{
	sqlite3_stmt *st = store_stmt(db, "BEGIN IMMEDIATE");
	int rc;

	if (st == NULL)
		return sqlite3_errcode(db);
	rc = sqlite3_step(st);
	store_stmt_done(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
store_sqlite_writer_begin(struct store *s, char **reason)
{
	int tries = s->health.failing ? 1 : 3, rc = SQLITE_BUSY;

	s->batch_ms = (int64_t)clock_mono_ms();
	sqlite3_busy_timeout(s->wdb,
	    s->health.failing ? STORE_FAILING_BUSY_MS : atomic_load(&s->busy_ms));
	while (tries-- > 0 && (rc = store_stmt_begin(s->wdb)) == SQLITE_BUSY)
		;
	sqlite3_busy_timeout(s->wdb, atomic_load(&s->busy_ms));
	if (rc == SQLITE_OK)
		return 0;
	*reason = store_error(s, s->wdb, "cannot begin a transaction");
	return -1;
}

int
store_writes_fail_injected(struct store *s)
{
	return atomic_load(&s->fail_writes);
}

int
store_sqlite_writer_commit(struct store *s, char **reason)
{
	if (store_writes_fail_injected(s)) {
		*reason = xasprintf("cannot commit: %s: injected write failure", s->path);
		return -1;
	}
	if (store_stmt_exec(s->wdb, "COMMIT") != 0) {
		*reason = store_error(s, s->wdb, "cannot commit");
		return -1;
	}
	return 0;
}

/* Old connections to a file no longer at the path: closing them must not delete the WAL
 * file at the path (it may be the new database's). */
static void
store_close_stale(sqlite3 *db)
{
	int one = 1;

	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	store_db_close(db);
}

/* Writer: connect to the database now at the path, and use it from here on. */
static int
store_reopen(struct store *s, char **reason)
{
	sqlite3 *db = NULL, *wdb = NULL, *old;
	char *cause = NULL;
	int full = 2;
	sqlite3_stmt *st;

	if (store_connect(s->path, 0, &db, &cause) != 0 ||
	    store_migrate(s->path, db, &cause) != 0 ||
	    store_connect(s->path, 1, &wdb, &cause) != 0) {
		store_db_close(db);
		*reason = cause;
		return -1;
	}
	/* The durability the old writer ran (ledger_set_durability). */
	if (sqlite3_prepare_v2(s->wdb, "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			full = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (full < 2)
		store_exec(wdb, "PRAGMA synchronous=NORMAL");
	store_setup(s, db, 0);
	store_setup(s, wdb, 1);
	pthread_mutex_lock(&s->mu);
	old = s->db;
	s->db = db;
	pthread_mutex_unlock(&s->mu);
	store_close_stale(old);
	store_close_stale(s->wdb);
	s->wdb = wdb;
	if (store_file_id(s, reason) != 0)
		return -1;
	return 0;
}

/* SQLite's writer_check: the file at the path is still the one open, or is reopened. */
static int
sqlite_writer_check(struct store *s, char **reason)
{
	struct stat st;

	if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		return 0;
	if (stat(s->path, &st) != 0) {
		*reason = xasprintf("database %s is gone (%s): rows go to the spool until it is "
		                    "back",
		    s->path, strerror(errno));
		return -1;
	}
	if (store_reopen(s, reason) != 0)
		return -1;
	return 0;
}

int
store_writer_check(struct store *s, char **reason)
{
	return s->be->writer_check != NULL ? s->be->writer_check(s, reason) : 0;
}

/* SQLite's writer_upkeep: after a failure, or idle with a WAL grown past its bound, a
 * TRUNCATE checkpoint. */
static void
sqlite_writer_upkeep(struct store *s, int recovered)
{
	char *wal;
	struct stat st;

	if (recovered) {
		store_checkpoint(s, 1);
		return;
	}
	if ((int64_t)clock_mono_ms() - s->batch_ms < STORE_TICK_MS)
		return;
	wal = xasprintf("%s-wal", s->path);
	if (stat(wal, &st) == 0 && st.st_size > STORE_WAL_TRUNCATE_BYTES)
		store_checkpoint(s, 1);
	free(wal);
}

/* Writer: the backend's check, the spool's retries, the backend's upkeep when idle. */
static void
store_tick(void *arg)
{
	struct store *s = arg;
	char *reason = NULL;

	pthread_mutex_lock(&s->health_mu);
	s->tick_queued = 0;
	pthread_mutex_unlock(&s->health_mu);
	if (store_writer_check(s, &reason) != 0) {
		if (!s->health.failing || strcmp(s->health.reason, reason) != 0)
			store_set_failing(s, reason);
		free(reason);
		return;
	}
	ledger_tick(s);
	if (!s->health.failing && s->be->writer_upkeep != NULL)
		s->be->writer_upkeep(s, 0);
}

static void *
store_ticker(void *arg)
{
	struct store *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->health_mu);
	while (!s->ticker_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)STORE_TICK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->tick_cond, &s->health_mu, &ts);
		if (s->ticker_stop || s->tick_queued)
			continue;
		s->tick_queued = 1;
		pthread_mutex_unlock(&s->health_mu);
		workq_push(s->writer, store_tick, s);
		pthread_mutex_lock(&s->health_mu);
	}
	pthread_mutex_unlock(&s->health_mu);
	return NULL;
}

static void
store_ticker_start(struct store *s)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->ticker, NULL, store_ticker, s) != 0)
		fatal("store: cannot start the writer's ticker thread");
	s->ticker_started = 1;
}

static void
store_ticker_stop(struct store *s)
{
	if (!s->ticker_started)
		return;
	pthread_mutex_lock(&s->health_mu);
	s->ticker_stop = 1;
	pthread_cond_signal(&s->tick_cond);
	pthread_mutex_unlock(&s->health_mu);
	pthread_join(s->ticker, NULL);
	pthread_cond_destroy(&s->tick_cond);
	s->ticker_started = 0;
}

/* FNV-1a of the redacted URL: a PostgreSQL database's spool name on this host. */
static uint64_t
store_where_hash(const char *where)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)where; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

/* The spool's base name: PATH-spool beside the file, or the state directory's
 * spool-HASH for a server's database; NULL with *cause. */
static char *
store_spool_base(struct store *s, char **cause)
{
	char name[40];

	if (s->be->spool_beside)
		return xasprintf("%s-spool", s->path);
	snprintf(name, sizeof name, "spool-%016llx", (unsigned long long)store_where_hash(s->path));
	return store_state_path(name, cause);
}

/*
 * The spool: BASE, or BASE.N when other processes on the database hold those
 * (BASE is PATH-spool, or spool-HASH under the state directory). The rows of
 * any spool no process holds (its process died) are replayed before this one
 * admits anything, and an emptied one is removed.
 */
static int
store_spools_open(struct store *s, char **cause)
{
	struct spool *own = NULL, *sp;
	char *base = store_spool_base(s, cause);
	int busy;

	if (base == NULL)
		return -1;
	for (int i = 0; i < STORE_SPOOLS; i++) {
		char *name = i == 0 ? xstrdup(base) : xasprintf("%s.%d", base, i);

		if (own != NULL && access(name, F_OK) != 0) {
			free(name);
			continue;
		}
		sp = spool_open(name, 0, &busy, cause);
		free(name);
		if (sp == NULL && busy)
			continue;
		if (sp == NULL) {
			spool_close(own);
			free(base);
			return -1;
		}
		if (own == NULL) {
			own = sp;
			continue;
		}
		/* Another process's, left behind: replay it now. */
		s->spool = sp;
		store_spool_changed(s);
		ledger_tick(s);
		if (spool_rows(sp) == 0)
			unlink(spool_path(sp));
		spool_close(sp);
	}
	free(base);
	if (own == NULL) {
		*cause = xasprintf("store: database %s: every one of its %d spools is in use",
		    s->path, STORE_SPOOLS);
		return -1;
	}
	s->spool = own;
	strlcpy_(s->health.spool_path, spool_path(own), sizeof s->health.spool_path);
	store_spool_changed(s);
	if (spool_rows(own) > 0)
		ledger_tick(s);
	return 0;
}

int
store_open(struct store **out, const char *path, char **cause)
{
	struct store *s;
	char *p;

	*out = NULL;
	if (path != NULL && *path == '\0') {
		*cause = xasprintf("store: empty database path");
		return -1;
	}
	if (store_is_url(path))
		p = store_url_redact(path);
	else
		p = path != NULL ? xstrdup(path) : store_default_path(cause);
	if (p == NULL)
		return -1;
	s = xcalloc(1, sizeof *s);
	s->path = p;
	s->be = store_is_url(path) ? &store_pg_backend : &store_sqlite_backend;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->umu, NULL);
	pthread_mutex_init(&s->dmu, NULL);
	pthread_mutex_init(&s->hmu, NULL);
	pthread_mutex_init(&s->health_mu, NULL);
	s->deferred_tail = &s->deferred;
	atomic_init(&s->busy_ms, STORE_BUSY_TIMEOUT_MS);
	store_uid_prefix(s);
	if (s->be->open(s, path != NULL ? path : p, cause) != 0 ||
	    ((s->be->spool_beside || s->be->spool_local) && store_spools_open(s, cause) != 0)) {
		store_close(s);
		return -1;
	}
	s->writer = workq_start("store-writer");
	store_ticker_start(s);
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_ticker_stop(s);
	if (s->writer != NULL)
		workq_stop(s->writer, NULL); /* every queued ledger row is committed first */
	if (s->budget != NULL)
		s->budget_release(s, s->budget); /* returns the lease: needs the connections */
	s->be->close(s);
	cache_redis_free(s->cache_data);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->umu);
	pthread_mutex_destroy(&s->dmu);
	pthread_mutex_destroy(&s->hmu);
	pthread_mutex_destroy(&s->health_mu);
	spool_close(s->spool);
	for (size_t i = 0; i < s->n_unpriced; i++)
		free(s->unpriced[i]);
	free(s->unpriced);
	tz_free(s->zone);
	free(s->path);
	free(s);
}

int
store_event_add(struct store *s, int64_t time_ms, const char *kind, const char *provider,
    const char *message)
{
	if (time_ms <= 0)
		time_ms = store_now_ms(s);
	return s->be->event_add(s, time_ms, kind, provider, message);
}

static int
sqlite_event_add(struct store *s, int64_t time_ms, const char *kind, const char *provider,
    const char *message)
{
	sqlite3 *db;
	int rc;

	db = store_lock(s);
	rc = store_event_insert(db, time_ms, kind, provider, message);
	store_unlock(s);
	return rc;
}

void
store_copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	strlcpy_(dst, t != NULL ? t : "", len);
}

/* Step st (selecting id, time_ms, kind, provider, message, instance) into out;
 * finalizes st and unlocks s. Returns how many, or -1. */
static int
store_read_events(struct store *s, sqlite3_stmt *st, struct store_event *out, int max)
{
	int n = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		struct store_event *e = &out[n++];

		e->id = sqlite3_column_int64(st, 0);
		e->time_ms = sqlite3_column_int64(st, 1);
		store_copy_text(e->kind, sizeof e->kind, st, 2);
		store_copy_text(e->provider, sizeof e->provider, st, 3);
		store_copy_text(e->message, sizeof e->message, st, 4);
		store_copy_text(e->instance, sizeof e->instance, st, 5);
	}
	sqlite3_finalize(st);
	store_unlock(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

int
store_events_last(struct store *s, struct store_event *out, int max)
{
	return max <= 0 ? 0 : s->be->events_read(s, -1, out, max);
}

int
store_events_after(struct store *s, int64_t after_id, struct store_event *out, int max)
{
	return max <= 0 ? 0 : s->be->events_read(s, after_id < 0 ? 0 : after_id, out, max);
}

int64_t
store_events_last_id(struct store *s)
{
	return s->be->events_last_id(s);
}

static int
sqlite_events_last(struct store *s, struct store_event *out, int max)
{
	sqlite3_stmt *st;
	sqlite3 *db;

	db = store_lock(s);
	if (sqlite3_prepare_v2(db,
	        "SELECT id, time_ms, kind, provider, message, instance FROM "
	        "(SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_int(st, 1, max);
	return store_read_events(s, st, out, max);
}

static int
sqlite_events_read(struct store *s, int64_t after_id, struct store_event *out, int max)
{
	sqlite3_stmt *st;
	sqlite3 *db;

	if (after_id < 0)
		return sqlite_events_last(s, out, max);
	db = store_lock(s);
	if (sqlite3_prepare_v2(db,
	        "SELECT id, time_ms, kind, provider, message, instance FROM events "
	        "WHERE id > ? ORDER BY id LIMIT ?",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int(st, 2, max);
	return store_read_events(s, st, out, max);
}

static int64_t
sqlite_events_last_id(struct store *s)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int64_t id = -1;

	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(id), 0) FROM events", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return id;
}

int
store_data_version(struct store *s, int64_t *version)
{
	return s->be->changed(s, version);
}

static int
sqlite_data_version(struct store *s, int64_t *version)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*version = sqlite3_column_int64(st, 0);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return rc;
}

int
store_override_rows(struct store *s, struct buf *out)
{
	return s->be->override_rows(s, out);
}

static int
sqlite_override_rows(struct store *s, struct buf *out)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int rc;

	if (sqlite3_prepare_v2(db,
	        "SELECT provider, instance, field, value, rowid FROM overrides "
	        "ORDER BY provider, instance, field",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c[4];

		for (int i = 0; i < 4; i++) {
			c[i] = (const char *)sqlite3_column_text(st, i);
			if (c[i] == NULL)
				c[i] = "";
		}
		buf_printf(out, "%s%s%s\t%s\t%s\t%lld\n", c[0], *c[1] != '\0' ? "@" : "", c[1],
		    c[2], c[3], (long long)sqlite3_column_int64(st, 4));
	}
	sqlite3_finalize(st);
	store_unlock(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
store_set_instance(struct store *s, const char *id)
{
	strlcpy_(s->instance, id != NULL ? id : "", sizeof s->instance);
}

const char *
store_instance(const struct store *s)
{
	return s->instance;
}

int
store_override_set(struct store *s, const char *provider, const char *field, const char *value)
{
	return s->be->override_set(s, provider, "", field, value);
}

int
store_override_set_for(struct store *s, const char *provider, const char *instance,
    const char *field, const char *value)
{
	return s->be->override_set(s, provider, instance != NULL ? instance : "", field, value);
}

int
store_override_clear(struct store *s, const char *provider)
{
	return s->be->override_clear(s, provider, NULL);
}

int
store_override_clear_for(struct store *s, const char *provider, const char *instance)
{
	return s->be->override_clear(s, provider, instance);
}

static int
sqlite_override_set(struct store *s, const char *provider, const char *instance, const char *field,
    const char *value)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT OR REPLACE INTO overrides(provider, instance, field, value) "
	        "VALUES (?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	store_unlock(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* provider NULL: every provider; instance NULL: every scope. */
static int
sqlite_override_clear(struct store *s, const char *provider, const char *instance)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int rc;

	if (sqlite3_prepare_v2(db,
	        "DELETE FROM overrides WHERE (?1 IS NULL OR provider = ?1) "
	        "AND (?2 IS NULL OR instance = ?2)",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	if (provider != NULL)
		sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC);
	if (instance != NULL)
		sqlite3_bind_text(st, 2, instance, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	store_unlock(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* From the rows (provider\tfield\tvalue\tid\n), so no backend needs its own. */
int
store_overrides(struct store *s, void (*cb)(void *, const char *, const char *, const char *),
    void *arg)
{
	struct buf b;
	char *line, *next;

	buf_init(&b);
	if (store_override_rows(s, &b) != 0) {
		buf_free(&b);
		return -1;
	}
	for (line = b.len > 0 ? b.data : NULL; line != NULL && *line != '\0'; line = next) {
		char *f[4] = {line, NULL, NULL, NULL};

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (int k = 1; k < 4 && f[k - 1] != NULL; k++)
			if ((f[k] = strchr(f[k - 1], '\t')) != NULL)
				*f[k]++ = '\0';
		if (f[2] != NULL)
			cb(arg, f[0], f[1], f[2]);
	}
	buf_free(&b);
	return 0;
}

int
store_day_bounds(const char *tz, int64_t now_ms, int64_t *start_ms, int64_t *end_ms, char day[16])
{
	struct tz *z = tz_open(tz);

	if (z == NULL)
		return -1;
	tz_day(z, now_ms, start_ms, end_ms, day);
	tz_free(z);
	return 0;
}

int
store_today(struct store *s, const char *tz, int64_t now_ms, int64_t *start_ms, int64_t *end_ms,
    char day[16])
{
	const char *name = tz != NULL && *tz != '\0' ? tz : "UTC";
	struct tz *z;

	pthread_mutex_lock(&s->umu);
	if (s->zone == NULL || strcmp(tz_name(s->zone), name) != 0) {
		if ((z = tz_open(name)) == NULL) {
			pthread_mutex_unlock(&s->umu);
			return -1;
		}
		tz_free(s->zone);
		s->zone = z;
	}
	tz_day(s->zone, now_ms, start_ms, end_ms, day);
	pthread_mutex_unlock(&s->umu);
	return 0;
}

int
store_instance_beat(struct store *s, const struct store_instance *i)
{
	return s->be->instance_beat(s, i);
}

int
store_instance_remove(struct store *s, const char *id)
{
	return s->be->instance_remove(s, id);
}

int
store_instances(struct store *s, struct store_instance **out)
{
	*out = NULL;
	return s->be->instances(s, out);
}

static int
sqlite_instance_beat(struct store *s, const struct store_instance *i)
{
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT OR REPLACE INTO instances(id, host, pid, admin_url, version, config_hash, "
	        "started_ms, state, seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, i->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, i->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, i->pid);
	sqlite3_bind_text(st, 4, i->admin_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, i->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, i->config_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, i->started_ms);
	sqlite3_bind_text(st, 8, i->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, store_now_ms(s));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	store_unlock(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sqlite_instance_remove(struct store *s, const char *id)
{
	sqlite3 *db = store_lock(s);
	int rc = store_exec_text(db, "DELETE FROM instances WHERE id = ?", id);

	store_unlock(s);
	return rc;
}

static int
sqlite_instances(struct store *s, struct store_instance **out)
{
	int64_t now = store_now_ms(s);
	struct store_instance *v = NULL;
	sqlite3_stmt *st;
	sqlite3 *db = store_lock(s);
	int n = 0, rc;

	if (sqlite3_prepare_v2(db,
	        "SELECT id, host, pid, admin_url, version, config_hash, started_ms, state, seen_ms "
	        "FROM instances ORDER BY seen_ms <= ?, id",
	        -1, &st, NULL) != SQLITE_OK) {
		store_unlock(s);
		return -1;
	}
	sqlite3_bind_int64(st, 1, now - STORE_INSTANCE_GONE_MS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_instance *i;

		v = xreallocarray(v, (size_t)n + 1, sizeof *v);
		i = &v[n++];
		memset(i, 0, sizeof *i);
		store_copy_text(i->id, sizeof i->id, st, 0);
		store_copy_text(i->host, sizeof i->host, st, 1);
		i->pid = sqlite3_column_int64(st, 2);
		store_copy_text(i->admin_url, sizeof i->admin_url, st, 3);
		store_copy_text(i->version, sizeof i->version, st, 4);
		store_copy_text(i->config_hash, sizeof i->config_hash, st, 5);
		i->started_ms = sqlite3_column_int64(st, 6);
		store_copy_text(i->state, sizeof i->state, st, 7);
		i->seen_ms = sqlite3_column_int64(st, 8);
		i->gone = now - i->seen_ms > STORE_INSTANCE_GONE_MS;
	}
	sqlite3_finalize(st);
	store_unlock(s);
	if (rc != SQLITE_DONE) {
		free(v);
		return -1;
	}
	*out = v;
	return n;
}

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .event_add = sqlite_event_add,
    .events_read = sqlite_events_read,
    .events_last_id = sqlite_events_last_id,
    .override_set = sqlite_override_set,
    .override_clear = sqlite_override_clear,
    .override_rows = sqlite_override_rows,
    .changed = sqlite_data_version,
    .ledger_commit = ledger_sqlite_commit,
    .ledger_groups = ledger_sqlite_groups,
    .ledger_spent = ledger_sqlite_spent,
    .ledger_durability = ledger_sqlite_durability,
    .budget_grant = budget_sqlite_grant,
    .budget_unreserve = budget_sqlite_unreserve,
    .budget_lease_return = budget_sqlite_lease_return,
    .budget_read = budget_sqlite_read,
    .cache_get = cache_sqlite_get,
    .cache_put_async = cache_sqlite_put_async,
    .cache_flush = cache_sqlite_flush,
    .cache_stats = cache_sqlite_stats,
    .resp_put = resp_sqlite_put,
    .resp_get = resp_sqlite_get,
    .resp_delete = resp_sqlite_delete,
    .rate_take = limits_sqlite_take,
    .ledger_prune = ledger_sqlite_prune,
    .instance_beat = sqlite_instance_beat,
    .instance_remove = sqlite_instance_remove,
    .instances = sqlite_instances,
    .keys_rows = keys_sqlite_rows,
    .key_write = keys_sqlite_write,
    .team_write = teams_sqlite_write,
    .keys_version = keys_sqlite_version,
    .keys_touch = keys_sqlite_touch,
    .scope_reserve = scope_sqlite_reserve,
    .scope_unreserve = scope_sqlite_unreserve,
    .scope_spend = scope_sqlite_spend,
    .writer_check = sqlite_writer_check,
    .writer_upkeep = sqlite_writer_upkeep,
    .spool_beside = 1,
};
