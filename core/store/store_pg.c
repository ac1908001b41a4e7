/*
 * store_pg.c: the PostgreSQL backend (a postgres:// or postgresql:// URL):
 * one database shared by a fleet of gateways across hosts. libpq; server 15
 * or newer; the password comes from PGPASSWORD or ~/.pgpass (libpq's own),
 * never from llmdeck's config file.
 *
 * Three connections per handle: the callers' (under a mutex, like SQLite's
 * caller connection), the writer thread's (the ledger's group commit: a
 * batch is one transaction with one multi-row INSERT), and the listener's,
 * a thread blocked in poll() on LISTEN llmdeck: every override change and
 * event is followed by a NOTIFY, which moves the counter store_data_version
 * returns and calls the change hook, so the routers' poll sees it at once.
 *
 * The budget's invariant (budget.c's (I)) holds across hosts because every
 * transaction that can change its terms together, a grant and a ledger batch
 * that settles reservations, first takes one transaction-scoped advisory lock
 * (pg_advisory_xact_lock), as SQLite's BEGIN IMMEDIATE takes its write lock,
 * and reads under READ COMMITTED after it, so it sees every commit before it.
 * Liveness across hosts cannot ask kill(pid, 0): a lease counts until it
 * expires and then for BUDGET_RESERVATION_TTL_MS more (a long request still in
 * flight on it), a reservation row for its TTL; a process that dies holds its
 * slice that long, never more (conservative: no overrun, some budget idle).
 *
 * The schema is versioned in llmdeck_schema and upgraded by an ordered list
 * of migrations under an advisory lock, so instances starting together
 * migrate once; a newer schema is refused.
 *
 * Ledger rows carry ledger.c's uid under a unique index, and a batch inserts
 * ON CONFLICT (uid) DO NOTHING, its spend counted from the rows it inserted,
 * so a replayed row lands once. A batch that cannot commit (the server gone)
 * goes to the spool under the state directory (spool_local: spool-HASH of the
 * URL), answers keep flowing on the budget lease held in memory (never beyond
 * it: a grant needs the server), and the writer's tick retries with backoff,
 * reconnecting, until the spool's replay commits.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_priv.h"
#include "util/util.h"
#include "util/waiter.h"
#include "util/workq.h"

/* Advisory lock keys: the budget's terms, and the schema's migration. */
#define PG_LOCK_BUDGET 0x6c6c6d6401LL
#define PG_LOCK_SCHEMA 0x6c6c6d6402LL
#define PG_CHANNEL "llmdeck"

struct pg {
	char *conninfo;
	PGconn *conn;  /* callers', under mu */
	PGconn *wconn; /* the writer thread's */
	pthread_mutex_t mu;
	/* The listener: its own connection, a thread, a pipe to stop it. */
	pthread_t listener;
	int listening;
	int stop_pipe[2];
	atomic_int_least64_t changes;
};

/* Version i + 1's schema. Append, never edit a released entry. */
static const char *const pg_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE ledger ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  time_ms BIGINT NOT NULL,"
    "  route TEXT NOT NULL DEFAULT '',"
    "  provider TEXT NOT NULL DEFAULT '',"
    "  model TEXT NOT NULL DEFAULT '',"
    "  input_tokens BIGINT NOT NULL DEFAULT 0,"
    "  output_tokens BIGINT NOT NULL DEFAULT 0,"
    "  cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  unpriced SMALLINT NOT NULL DEFAULT 0,"
    "  latency_us BIGINT NOT NULL DEFAULT 0,"
    "  outcome TEXT NOT NULL DEFAULT 'ok',"
    "  error_class TEXT NOT NULL DEFAULT '',"
    "  cache_hit SMALLINT NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  usage_estimated SMALLINT NOT NULL DEFAULT 0,"
    "  response_id TEXT NOT NULL DEFAULT '',"
    "  cache_read_tokens BIGINT NOT NULL DEFAULT 0,"
    "  cache_write_tokens BIGINT NOT NULL DEFAULT 0,"
    "  cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,"
    "  reasoning_tokens BIGINT NOT NULL DEFAULT 0,"
    "  instance TEXT NOT NULL DEFAULT '');"
    /* the reports' and the console's queries: a window, by provider or by model */
    "CREATE INDEX ledger_time ON ledger(time_ms);"
    "CREATE INDEX ledger_provider_time ON ledger(provider, time_ms);"
    "CREATE INDEX ledger_model_time ON ledger(model, time_ms);"
    "CREATE TABLE spend_buckets ("
    "  bucket BIGINT PRIMARY KEY,"
    "  cost_usd DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE reservations ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  instance TEXT NOT NULL DEFAULT '',"
    "  pid BIGINT NOT NULL,"
    "  time_ms BIGINT NOT NULL,"
    "  amount_usd DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE budget_leases ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  instance TEXT NOT NULL,"
    "  pid BIGINT NOT NULL,"
    "  amount_usd DOUBLE PRECISION NOT NULL,"
    "  granted_ms BIGINT NOT NULL,"
    "  expires_ms BIGINT NOT NULL);"
    "CREATE TABLE budget_alerts ("
    "  day TEXT PRIMARY KEY,"
    "  time_ms BIGINT NOT NULL);"
    "CREATE TABLE events ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  time_ms BIGINT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  provider TEXT NOT NULL DEFAULT '',"
    "  message TEXT NOT NULL,"
    "  instance TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_time ON events(time_ms);"
    "CREATE SEQUENCE overrides_change;"
    "CREATE TABLE overrides ("
    "  provider TEXT NOT NULL,"
    "  field TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  change BIGINT NOT NULL DEFAULT nextval('overrides_change'),"
    "  PRIMARY KEY (provider, field));"
    "CREATE SEQUENCE cache_lru;"
    "CREATE TABLE cache ("
    "  key TEXT PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  created_ms BIGINT NOT NULL,"
    "  lru BIGINT NOT NULL DEFAULT nextval('cache_lru'),"
    "  hits BIGINT NOT NULL DEFAULT 0,"
    "  resp_id TEXT, resp_model TEXT, content TEXT NOT NULL,"
    "  stop INTEGER NOT NULL, stop_raw TEXT,"
    "  input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,"
    "  cache_read_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL,"
    "  parts TEXT, cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,"
    "  reasoning_tokens BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX cache_lru_rank ON cache(lru);"
    "CREATE TABLE counters ("
    "  name TEXT PRIMARY KEY,"
    "  value BIGINT NOT NULL);"
    "INSERT INTO counters VALUES ('cache_hits', 0), ('cache_misses', 0);"
    "CREATE TABLE responses ("
    "  id TEXT PRIMARY KEY,"
    "  created_ms BIGINT NOT NULL,"
    "  expires_ms BIGINT NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE INDEX responses_expires ON responses(expires_ms);"
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  pid BIGINT NOT NULL,"
    "  admin_url TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  config_hash TEXT NOT NULL,"
    "  started_ms BIGINT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  seen_ms BIGINT NOT NULL);",
    /* 1 -> 2: a ledger row's uid, so a row replayed from the spool twice is one row
     * (ledger.c; rows from before it keep NULL, which never conflicts) */
    "ALTER TABLE ledger ADD COLUMN uid TEXT;"
    "CREATE UNIQUE INDEX ledger_uid ON ledger(uid);",
    /* 2 -> 3: the fleet's per-minute rate limit allowances (limits.c) */
    "CREATE TABLE rate_windows ("
    "  provider TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  minute BIGINT NOT NULL,"
    "  used DOUBLE PRECISION NOT NULL,"
    "  PRIMARY KEY (provider, kind, minute));",
    /* 3 -> 4: client keys and teams (keys.c): their limits, a version moved by every
     * change, the ledger's attribution, spend per scope and 15 minutes, scope reservations */
    "CREATE TABLE teams ("
    "  name TEXT PRIMARY KEY,"
    "  created_ms BIGINT NOT NULL,"
    "  day_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  month_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT NULL DEFAULT 0,"
    "  models TEXT NOT NULL DEFAULT '',"
    "  alert_threshold DOUBLE PRECISION NOT NULL DEFAULT 0);"
    "CREATE TABLE keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  team TEXT NOT NULL DEFAULT '',"
    "  prefix TEXT NOT NULL,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  old_hash TEXT NOT NULL DEFAULT '',"
    "  grace_until_ms BIGINT NOT NULL DEFAULT 0,"
    "  created_ms BIGINT NOT NULL,"
    "  expires_ms BIGINT NOT NULL DEFAULT 0,"
    "  revoked_ms BIGINT NOT NULL DEFAULT 0,"
    "  rotated_ms BIGINT NOT NULL DEFAULT 0,"
    "  last_used_ms BIGINT NOT NULL DEFAULT 0,"
    "  day_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  month_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT NULL DEFAULT 0,"
    "  models TEXT NOT NULL DEFAULT '',"
    "  alert_threshold DOUBLE PRECISION NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX keys_live_name ON keys(name) WHERE revoked_ms = 0;"
    "CREATE TABLE keys_meta (version BIGINT NOT NULL);"
    "INSERT INTO keys_meta VALUES (0);"
    "ALTER TABLE ledger ADD COLUMN key_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE ledger ADD COLUMN team TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE ledger ADD COLUMN operator_test SMALLINT NOT NULL DEFAULT 0;"
    "CREATE INDEX ledger_key_time ON ledger(key_id, time_ms);"
    "CREATE INDEX ledger_team_time ON ledger(team, time_ms);"
    "CREATE TABLE scope_spend ("
    "  scope TEXT NOT NULL,"
    "  bucket BIGINT NOT NULL,"
    "  cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,"
    "  requests BIGINT NOT NULL DEFAULT 0,"
    "  refused BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (scope, bucket));"
    "CREATE TABLE scope_reservations ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  scope TEXT NOT NULL,"
    "  instance TEXT NOT NULL DEFAULT '',"
    "  pid BIGINT NOT NULL,"
    "  time_ms BIGINT NOT NULL,"
    "  amount_usd DOUBLE PRECISION NOT NULL);"
    "CREATE INDEX scope_reservations_scope ON scope_reservations(scope);",
    /* 4 -> 5: an override (or drill) is fleet-wide (instance '') or for one instance */
    "ALTER TABLE overrides ADD COLUMN instance TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE overrides DROP CONSTRAINT overrides_pkey;"
    "ALTER TABLE overrides ADD PRIMARY KEY (provider, instance, field);",
};

/* Text parameters for PQexecParams, built up and freed together. */
struct pgargs {
	int n, cap;
	char **v;
};

static void
pa_str(struct pgargs *a, const char *t)
{
	if (a->n == a->cap) {
		a->cap = a->cap != 0 ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, (size_t)a->cap, sizeof *a->v);
	}
	a->v[a->n++] = xstrdup(t != NULL ? t : "");
}

/* A NULL parameter. */
static void
pa_null(struct pgargs *a)
{
	pa_str(a, "");
	free(a->v[a->n - 1]);
	a->v[a->n - 1] = NULL;
}

static void
pa_i64(struct pgargs *a, int64_t v)
{
	char b[32];

	snprintf(b, sizeof b, "%" PRId64, v);
	pa_str(a, b);
}

static void
pa_dbl(struct pgargs *a, double v)
{
	char b[40];

	snprintf(b, sizeof b, "%.17g", v);
	pa_str(a, b);
}

static void
pa_free(struct pgargs *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

static struct pg *
pg_of(struct store *s)
{
	return store_backend_data(s);
}

/* One line of libpq's message, for a cause. */
static char *
pg_error(struct store *s, PGconn *c, const char *what)
{
	char *msg = xstrdup(c != NULL ? PQerrorMessage(c) : "no connection"), *nl;
	char *out;

	while ((nl = strchr(msg, '\n')) != NULL)
		*nl = nl[1] != '\0' ? ' ' : '\0';
	out = xasprintf("%s: %s: %s", what, store_where(s), *msg != '\0' ? msg : "error");
	free(msg);
	return out;
}

/* A query's result, or NULL (cleared) when it failed. */
static PGresult *
pg_query(PGconn *c, const char *sql, const struct pgargs *a)
{
	PGresult *r = PQexecParams(c, sql, a != NULL ? a->n : 0, NULL,
	    a != NULL ? (const char *const *)a->v : NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		PQclear(r);
		return NULL;
	}
	return r;
}

/* A statement with no result wanted: 0 or -1. */
static int
pg_exec(PGconn *c, const char *sql, const struct pgargs *a)
{
	PGresult *r = pg_query(c, sql, a);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

/* How many rows a statement changed. */
static int64_t
pg_changes(PGresult *r)
{
	return strtoll(PQcmdTuples(r), NULL, 10);
}

static int64_t
pg_i64(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double
pg_dbl(PGresult *r, int row, int col)
{
	return strtod(PQgetvalue(r, row, col), NULL);
}

static void
pg_text(char *dst, size_t len, PGresult *r, int row, int col)
{
	strlcpy_(dst, PQgetvalue(r, row, col), len);
}

/* A connection that dropped is reset before use (the next call fails if it still can't). */
static PGconn *
pg_ready(PGconn *c)
{
	if (PQstatus(c) == CONNECTION_BAD)
		PQreset(c);
	return c;
}

static PGconn *
pg_lock(struct store *s)
{
	struct pg *p = pg_of(s);

	pthread_mutex_lock(&p->mu);
	return pg_ready(p->conn);
}

static void
pg_unlock(struct store *s)
{
	pthread_mutex_unlock(&pg_of(s)->mu);
}

static void
pg_rollback(PGconn *c)
{
	pg_exec(c, "ROLLBACK", NULL);
}

static int
pg_connect(struct store *s, const char *conninfo, PGconn **out, char **cause)
{
	PGconn *c = PQconnectdb(conninfo);

	*out = NULL;
	if (PQstatus(c) != CONNECTION_OK) {
		*cause = pg_error(s, c, "store: cannot connect to PostgreSQL");
		PQfinish(c);
		return -1;
	}
	pg_exec(c, "SET client_min_messages TO warning", NULL);
	*out = c;
	return 0;
}

/* The schema to the newest version, once across instances starting together. */
static int
pg_migrate(struct store *s, PGconn *c, char **cause)
{
	PGresult *r;
	int version = 0;

	if (pg_exec(c, "BEGIN", NULL) != 0)
		goto fail;
	{
		struct pgargs a = {0};

		pa_i64(&a, PG_LOCK_SCHEMA);
		if (pg_exec(c, "SELECT pg_advisory_xact_lock($1)", &a) != 0) {
			pa_free(&a);
			goto fail;
		}
		pa_free(&a);
	}
	if (pg_exec(c, "CREATE TABLE IF NOT EXISTS llmdeck_schema (version INTEGER NOT NULL)",
	        NULL) != 0 ||
	    (r = pg_query(c, "SELECT version FROM llmdeck_schema", NULL)) == NULL)
		goto fail;
	if (PQntuples(r) > 0)
		version = (int)pg_i64(r, 0, 0);
	else if (pg_exec(c, "INSERT INTO llmdeck_schema VALUES (0)", NULL) != 0) {
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (version > (int)nitems(pg_migrations)) {
		*cause = xasprintf("store: database %s has schema version %d, newer than this "
		                   "llmdeck's %d: upgrade llmdeck or use another --db",
		    store_where(s), version, (int)nitems(pg_migrations));
		pg_rollback(c);
		return -1;
	}
	for (int v = version; v < (int)nitems(pg_migrations); v++) {
		struct pgargs a = {0};
		PGresult *m = PQexec(c, pg_migrations[v]);
		int ok = PQresultStatus(m) == PGRES_COMMAND_OK;

		PQclear(m);
		if (!ok) {
			char *e = pg_error(s, c, "migration failed");

			*cause = xasprintf("store: migration to schema version %d: %s", v + 1, e);
			free(e);
			pg_rollback(c);
			return -1;
		}
		pa_i64(&a, v + 1);
		ok = pg_exec(c, "UPDATE llmdeck_schema SET version = $1", &a) == 0;
		pa_free(&a);
		if (!ok)
			goto fail;
	}
	if (pg_exec(c, "COMMIT", NULL) != 0)
		goto fail;
	return 0;
fail:
	*cause = pg_error(s, c, "store: cannot set up the schema");
	pg_rollback(c);
	return -1;
}

/* The listener thread: LISTEN, then poll() on its socket and the stop pipe. */
static void *
pg_listen_main(void *arg)
{
	struct store *s = arg;
	struct pg *p = pg_of(s);
	PGconn *c = NULL;
	int backoff_ms = 100;

	for (;;) {
		struct pollfd fds[2] = {{.fd = p->stop_pipe[0], .events = POLLIN}};
		PGnotify *n;
		int got = 0;

		if (c == NULL || PQstatus(c) == CONNECTION_BAD) {
			PQfinish(c);
			c = PQconnectdb(p->conninfo);
			if (PQstatus(c) != CONNECTION_OK ||
			    pg_exec(c, "LISTEN " PG_CHANNEL, NULL) != 0) {
				PQfinish(c);
				c = NULL;
				if (poll(fds, 1, backoff_ms) > 0)
					break;
				backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
				continue;
			}
			backoff_ms = 100;
			/* What changed while we were not listening is seen by the next poll. */
			atomic_fetch_add(&p->changes, 1);
			store_changed(s);
		}
		fds[1].fd = PQsocket(c);
		fds[1].events = POLLIN;
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents != 0)
			break;
		if (PQconsumeInput(c) == 0)
			continue; /* reconnect */
		while ((n = PQnotifies(c)) != NULL) {
			got = 1;
			PQfreemem(n);
		}
		if (got) {
			atomic_fetch_add(&p->changes, 1);
			store_changed(s);
		}
	}
	PQfinish(c);
	return NULL;
}

static void pg_close(struct store *);

static int
pg_open(struct store *s, const char *where, char **cause)
{
	struct pg *p = xcalloc(1, sizeof *p);

	pthread_mutex_init(&p->mu, NULL);
	p->stop_pipe[0] = p->stop_pipe[1] = -1;
	p->conninfo = xstrdup(where);
	store_set_backend_data(s, p);
	if (pg_connect(s, where, &p->conn, cause) != 0 || pg_migrate(s, p->conn, cause) != 0 ||
	    pg_connect(s, where, &p->wconn, cause) != 0)
		return -1;
	if (pipe(p->stop_pipe) != 0) {
		*cause = xasprintf("store: pipe: %s", strerror(errno));
		return -1;
	}
	if (pthread_create(&p->listener, NULL, pg_listen_main, s) != 0) {
		*cause = xasprintf("store: cannot start the PostgreSQL listener");
		return -1;
	}
	p->listening = 1;
	return 0;
}

static void
pg_close(struct store *s)
{
	struct pg *p = pg_of(s);

	if (p == NULL)
		return;
	if (p->listening) {
		if (write(p->stop_pipe[1], "x", 1) < 0) {
			/* the thread still stops at its next wake-up */
		}
		pthread_join(p->listener, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (p->stop_pipe[i] >= 0)
			close(p->stop_pipe[i]);
	PQfinish(p->conn);
	PQfinish(p->wconn);
	pthread_mutex_destroy(&p->mu);
	free(p->conninfo);
	free(p);
	store_set_backend_data(s, NULL);
}

/* Tell every listener (this handle's too) that something changed. */
static void
pg_notify(PGconn *c)
{
	pg_exec(c, "NOTIFY " PG_CHANNEL, NULL);
}

/* Events */

static int
pg_event_insert(struct store *s, PGconn *c, int64_t time_ms, const char *kind, const char *provider,
    const char *message)
{
	struct pgargs a = {0};
	int rc;

	pa_i64(&a, time_ms);
	pa_str(&a, kind);
	pa_str(&a, provider);
	pa_str(&a, message);
	pa_str(&a, store_instance(s));
	rc = pg_exec(c,
	    "INSERT INTO events(time_ms, kind, provider, message, instance) "
	    "VALUES ($1, $2, $3, $4, $5)",
	    &a);
	pa_free(&a);
	return rc;
}

static int
pg_event_add(struct store *s, int64_t time_ms, const char *kind, const char *provider,
    const char *message)
{
	PGconn *c = pg_lock(s);
	int rc = pg_event_insert(s, c, time_ms, kind, provider, message);

	if (rc == 0)
		pg_notify(c);
	pg_unlock(s);
	return rc;
}

static int
pg_events_read(struct store *s, int64_t after_id, struct store_event *out, int max)
{
	struct pgargs a = {0};
	PGresult *r;
	PGconn *c;
	int n;

	pa_i64(&a, after_id);
	pa_i64(&a, max);
	c = pg_lock(s);
	r = pg_query(c,
	    after_id < 0 ? "SELECT id, time_ms, kind, provider, message, instance FROM "
	                   "(SELECT * FROM events WHERE $1::bigint < 0 ORDER BY id DESC LIMIT $2) "
	                   "e ORDER BY id"
	                 : "SELECT id, time_ms, kind, provider, message, instance FROM events "
	                   "WHERE id > $1 ORDER BY id LIMIT $2",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	if (r == NULL)
		return -1;
	n = PQntuples(r) < max ? PQntuples(r) : max;
	for (int i = 0; i < n; i++) {
		struct store_event *e = &out[i];

		memset(e, 0, sizeof *e);
		e->id = pg_i64(r, i, 0);
		e->time_ms = pg_i64(r, i, 1);
		pg_text(e->kind, sizeof e->kind, r, i, 2);
		pg_text(e->provider, sizeof e->provider, r, i, 3);
		pg_text(e->message, sizeof e->message, r, i, 4);
		pg_text(e->instance, sizeof e->instance, r, i, 5);
	}
	PQclear(r);
	return n;
}

static int64_t
pg_events_last_id(struct store *s)
{
	PGconn *c = pg_lock(s);
	PGresult *r = pg_query(c, "SELECT COALESCE(MAX(id), 0) FROM events", NULL);
	int64_t id = r != NULL && PQntuples(r) == 1 ? pg_i64(r, 0, 0) : -1;

	pg_unlock(s);
	PQclear(r);
	return id;
}

/* Overrides */

/* An override's write on the callers' connection, and, once done, the NOTIFY that
 * wakes every instance's poll. 0 or -1. */
static int
pg_override_write(struct store *s, const char *sql, struct pgargs *a)
{
	PGconn *c = pg_lock(s);
	int rc = pg_exec(c, sql, a);

	if (rc == 0)
		pg_notify(c);
	pg_unlock(s);
	pa_free(a);
	return rc;
}

static int
pg_override_set(struct store *s, const char *provider, const char *instance, const char *field,
    const char *value)
{
	struct pgargs a = {0};

	pa_str(&a, provider);
	pa_str(&a, instance);
	pa_str(&a, field);
	pa_str(&a, value);
	return pg_override_write(s,
	    "INSERT INTO overrides(provider, instance, field, value) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (provider, instance, field) DO UPDATE SET value = excluded.value, "
	    "change = nextval('overrides_change')",
	    &a);
}

/* provider NULL: every provider; instance NULL: every scope. */
static int
pg_override_clear(struct store *s, const char *provider, const char *instance)
{
	struct pgargs a = {0};

	if (provider != NULL)
		pa_str(&a, provider);
	else
		pa_null(&a);
	if (instance != NULL)
		pa_str(&a, instance);
	else
		pa_null(&a);
	return pg_override_write(s,
	    "DELETE FROM overrides WHERE ($1::text IS NULL OR provider = $1) "
	    "AND ($2::text IS NULL OR instance = $2)",
	    &a);
}

static int
pg_override_rows(struct store *s, struct buf *out)
{
	PGconn *c = pg_lock(s);
	PGresult *r = pg_query(c,
	    "SELECT provider, instance, field, value, change FROM overrides "
	    "ORDER BY provider, instance, field",
	    NULL);

	pg_unlock(s);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *inst = PQgetvalue(r, i, 1);

		buf_printf(out, "%s%s%s\t%s\t%s\t%s\n", PQgetvalue(r, i, 0),
		    *inst != '\0' ? "@" : "", inst, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		    PQgetvalue(r, i, 4));
	}
	PQclear(r);
	return 0;
}

static int
pg_changed(struct store *s, int64_t *version)
{
	*version = atomic_load(&pg_of(s)->changes);
	return 0;
}

/* The ledger */

#define PG_LEDGER_COLS 24

/*
 * The batch's rows in one multi-row INSERT, a uid already in the ledger (a
 * spooled row replayed again) skipped; the spend of the rows it inserted, per
 * 15-minute bucket, upserted by the same statement.
 */
static int
pg_ledger_insert(struct store *s, PGconn *c, struct ledger_job **jobs, size_t n)
{
	struct buf sql;
	struct pgargs a = {0};
	int rc, k = 0;

	if (n == 0)
		return 0;
	buf_init(&sql);
	buf_printf(&sql,
	    "WITH ins AS (INSERT INTO ledger(time_ms, route, provider, model, input_tokens, "
	    "output_tokens, cost_usd, unpriced, latency_us, outcome, error_class, "
	    "cache_hit, attempts, usage_estimated, response_id, cache_read_tokens, "
	    "cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, instance, uid, key_id, "
	    "team, operator_test) VALUES ");
	for (size_t i = 0; i < n; i++) {
		const struct ledger_row *r = &jobs[i]->row;

		buf_printf(&sql, "%s(", i > 0 ? ", " : "");
		for (int col = 0; col < PG_LEDGER_COLS; col++)
			buf_printf(&sql, "%s$%d", col > 0 ? ", " : "", ++k);
		buf_printf(&sql, ")");
		pa_i64(&a, r->time_ms);
		pa_str(&a, r->route);
		pa_str(&a, r->provider);
		pa_str(&a, r->model);
		pa_i64(&a, r->input_tokens);
		pa_i64(&a, r->output_tokens);
		pa_dbl(&a, r->cost_usd);
		pa_i64(&a, r->unpriced != 0);
		pa_i64(&a, (int64_t)r->latency_us);
		pa_str(&a, r->outcome[0] != '\0' ? r->outcome : "ok");
		pa_str(&a, r->error_class);
		pa_i64(&a, r->cache_hit != 0);
		pa_i64(&a, r->attempts);
		pa_i64(&a, r->usage_estimated != 0);
		pa_str(&a, r->response_id);
		pa_i64(&a, r->cache_read_tokens);
		pa_i64(&a, r->cache_write_tokens);
		pa_i64(&a, r->cache_write_1h_tokens);
		pa_i64(&a, r->reasoning_tokens);
		pa_str(&a, store_instance(s));
		if (jobs[i]->uid[0] != '\0')
			pa_str(&a, jobs[i]->uid);
		else
			pa_null(&a);
		pa_str(&a, r->key_id);
		pa_str(&a, r->team);
		pa_i64(&a, r->operator_test != 0);
	}
	/* The rows inserted (not a uid already there) add to the global and the scopes'
	 * buckets (keys.c's scope_spend). */
	buf_printf(&sql,
	    " ON CONFLICT (uid) DO NOTHING RETURNING time_ms, cost_usd, key_id, team, outcome), "
	    "sb AS (INSERT INTO spend_buckets(bucket, cost_usd) "
	    "SELECT time_ms / %d, SUM(cost_usd) FROM ins WHERE cost_usd <> 0 GROUP BY 1 "
	    "ON CONFLICT (bucket) DO UPDATE SET cost_usd = "
	    "spend_buckets.cost_usd + excluded.cost_usd) "
	    "INSERT INTO scope_spend(scope, bucket, cost_usd, requests, refused) "
	    "SELECT scope, bucket, SUM(cost_usd), COUNT(*), SUM(refused) FROM ("
	    "SELECT 'key:' || key_id AS scope, time_ms / %d AS bucket, cost_usd, "
	    "CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END AS refused FROM ins WHERE key_id <> "
	    "'' "
	    "UNION ALL SELECT 'team:' || team, time_ms / %d, cost_usd, "
	    "CASE WHEN outcome = 'refused' THEN 1 ELSE 0 END FROM ins WHERE team <> '') x "
	    "GROUP BY scope, bucket ON CONFLICT (scope, bucket) DO UPDATE SET "
	    "cost_usd = scope_spend.cost_usd + excluded.cost_usd, "
	    "requests = scope_spend.requests + excluded.requests, "
	    "refused = scope_spend.refused + excluded.refused",
	    STORE_BUCKET_MS, STORE_BUCKET_MS, STORE_BUCKET_MS);
	rc = pg_exec(c, sql.data, &a);
	pa_free(&a);
	buf_free(&sql);
	return rc;
}

static int pg_budget_alert_once(struct store *, PGconn *, const char *key, const char *day,
    const char *who, double daily_usd, double threshold, double spent, int64_t now);
static int pg_budget_alert(struct store *, PGconn *, const struct budget_conf *, const char *day,
    double spent, int64_t now);
static double pg_spent_between(PGconn *, int64_t from, int64_t to, int *err);

static int
pg_lock_budget(PGconn *c)
{
	struct pgargs a = {0};
	int rc;

	pa_i64(&a, PG_LOCK_BUDGET);
	rc = pg_exec(c, "SELECT pg_advisory_xact_lock($1)", &a);
	pa_free(&a);
	return rc;
}

/*
 * The batch in one transaction: the rows, their spend, the reservation rows
 * they settle, the lease's charge (budget_batch_*), the day's alert and the
 * unpriced models' events. A batch that touches the budget takes the budget's
 * lock first, so a grant never sees half of it.
 */
static void
pg_ledger_commit(struct store *s, struct ledger_job **jobs, size_t n, struct budget_batch *bb,
    char **err)
{
	PGconn *c = pg_ready(pg_of(s)->wconn);
	struct pgargs rows = {0};
	struct buf ids, sids;
	double cost = bb->charged - bb->failed + bb->replayed;
	int budget = bb->alert || (cost > 0 && bb->row != 0), rc = 0;
	size_t i;

	buf_init(&ids);
	buf_init(&sids);
	buf_printf(&ids, "{");
	buf_printf(&sids, "{");
	for (i = 0; i < n; i++) {
		if (jobs[i]->reservation_id > 0) {
			buf_printf(&ids, "%s%" PRId64, ids.len > 1 ? "," : "",
			    jobs[i]->reservation_id);
			budget = 1;
		}
		for (int k = 0; k < LEDGER_SCOPES; k++)
			if (jobs[i]->row.scope_res[k] > 0) {
				buf_printf(&sids, "%s%" PRId64, sids.len > 1 ? "," : "",
				    jobs[i]->row.scope_res[k]);
				budget = 1;
			}
		/* A scope's spend grows: a reservation reading it must see all of it or none. */
		if (jobs[i]->row.key_id[0] != '\0' || jobs[i]->row.team[0] != '\0')
			budget = 1;
	}
	buf_printf(&ids, "}");
	buf_printf(&sids, "}");
	if (pg_exec(c, "BEGIN", NULL) != 0 || (budget && pg_lock_budget(c) != 0) ||
	    pg_ledger_insert(s, c, jobs, n) != 0)
		rc = -1;
	if (rc == 0 && ids.len > 2) {
		pa_str(&rows, ids.data);
		rc = pg_exec(c, "DELETE FROM reservations WHERE id = ANY($1::bigint[])", &rows);
		pa_free(&rows);
	}
	if (rc == 0 && sids.len > 2) {
		pa_str(&rows, sids.data);
		rc = pg_exec(c, "DELETE FROM scope_reservations WHERE id = ANY($1::bigint[])",
		    &rows);
		pa_free(&rows);
	}
	buf_free(&sids);
	if (rc == 0 && cost > 0 && bb->row != 0) {
		pa_dbl(&rows, cost);
		pa_i64(&rows, bb->row);
		rc = pg_exec(c,
		    "UPDATE budget_leases SET amount_usd = GREATEST(amount_usd - $1, 0) WHERE id = "
		    "$2",
		    &rows);
		pa_free(&rows);
	}
	if (rc == 0 && bb->alert && pg_exec(c, "SAVEPOINT alert", NULL) == 0) {
		int e = 0;

		bb->spent_read = pg_spent_between(c, bb->day_start, bb->day_end, &e);
		if (e || pg_budget_alert(s, c, &bb->conf, bb->day, bb->spent_read, bb->now) != 0) {
			bb->alert = 0;
			pg_exec(c, "ROLLBACK TO SAVEPOINT alert", NULL);
		}
		pg_exec(c, "RELEASE SAVEPOINT alert", NULL);
	}
	for (i = 0; i < n && rc == 0; i++) {
		struct ledger_job *j = jobs[i];

		if (!j->replay && j->row.unpriced && store_first_unpriced(s, j->row.model)) {
			char *msg = xasprintf("model %s has no price: its requests are recorded "
			                      "as unpriced, not free",
			    j->row.model);

			rc = pg_event_insert(s, c, j->row.time_ms, "pricing", j->row.provider, msg);
			free(msg);
		}
	}
	if (rc == 0 && store_writes_fail_injected(s)) {
		buf_free(&ids);
		*err = xasprintf("cannot commit: %s: injected write failure", store_where(s));
		pg_rollback(c);
		for (i = 0; i < n; i++)
			jobs[i]->rc = -1;
		return;
	}
	if (rc == 0)
		rc = pg_exec(c, "COMMIT", NULL);
	buf_free(&ids);
	if (rc == 0) {
		for (i = 0; i < n; i++)
			jobs[i]->rc = 0;
		return;
	}
	*err = pg_error(s, c, "ledger: commit failed");
	pg_rollback(c);
	for (i = 0; i < n; i++)
		jobs[i]->rc = -1;
}

static int
pg_ledger_groups(struct store *s, int64_t from_ms, int64_t to_ms, int by_model,
    struct ledger_group **out, char **cause)
{
	struct pgargs a = {0};
	struct ledger_group *g = NULL;
	PGresult *r;
	PGconn *c;
	int n;
	const char *col = ledger_by_column(by_model);
	char sql[400];

	snprintf(sql, sizeof sql,
	    "SELECT %s, COUNT(*), SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), "
	    "SUM(cache_hit), SUM(input_tokens), SUM(output_tokens), COALESCE(SUM(cost_usd), 0), "
	    "MAX(unpriced) FROM ledger WHERE time_ms >= $1 AND time_ms < $2 GROUP BY %s "
	    "ORDER BY %s",
	    col, col, col);
	pa_i64(&a, from_ms);
	pa_i64(&a, to_ms);
	c = pg_lock(s);
	r = pg_query(c, sql, &a);
	if (r == NULL)
		*cause = pg_error(s, c, "ledger: cannot read");
	pg_unlock(s);
	pa_free(&a);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0)
		g = xcalloc((size_t)n, sizeof *g);
	for (int i = 0; i < n; i++) {
		pg_text(g[i].name, sizeof g[i].name, r, i, 0);
		g[i].requests = pg_i64(r, i, 1);
		g[i].errors = pg_i64(r, i, 2);
		g[i].cache_hits = pg_i64(r, i, 3);
		g[i].input_tokens = pg_i64(r, i, 4);
		g[i].output_tokens = pg_i64(r, i, 5);
		g[i].cost_usd = pg_dbl(r, i, 6);
		g[i].unpriced = (int)pg_i64(r, i, 7);
	}
	PQclear(r);
	*out = g;
	return n;
}

/* Spend in [from, to): from the 15-minute buckets when aligned to them (a day is). */
static double
pg_spent_between(PGconn *c, int64_t from, int64_t to, int *err)
{
	struct pgargs a = {0};
	PGresult *r;
	double v = 0;

	if (from >= 0 && from % STORE_BUCKET_MS == 0 && to % STORE_BUCKET_MS == 0) {
		pa_i64(&a, from / STORE_BUCKET_MS);
		pa_i64(&a, to / STORE_BUCKET_MS);
		r = pg_query(c,
		    "SELECT COALESCE(SUM(cost_usd), 0) FROM spend_buckets WHERE bucket >= $1 AND "
		    "bucket < $2",
		    &a);
	} else {
		pa_i64(&a, from);
		pa_i64(&a, to);
		r = pg_query(c,
		    "SELECT COALESCE(SUM(cost_usd), 0) FROM ledger WHERE time_ms >= $1 AND "
		    "time_ms < $2",
		    &a);
	}
	pa_free(&a);
	if (r == NULL || PQntuples(r) != 1)
		*err = 1;
	else
		v = pg_dbl(r, 0, 0);
	PQclear(r);
	return v;
}

static double
pg_ledger_spent(struct store *s, int64_t from_ms, int64_t to_ms)
{
	struct pgargs a = {0};
	PGresult *r;
	double v = -1;

	pa_i64(&a, from_ms);
	pa_i64(&a, to_ms);
	r = pg_query(pg_lock(s),
	    "SELECT COALESCE(SUM(cost_usd), 0) FROM ledger WHERE time_ms >= $1 AND time_ms < $2",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	if (r != NULL && PQntuples(r) == 1)
		v = pg_dbl(r, 0, 0);
	PQclear(r);
	return v;
}

/* FULL: synchronous_commit on (the commit waits for the WAL's flush); NORMAL: off. */
static int
pg_ledger_durability(struct store *s, int set, enum ledger_durability d, int *value, char **cause)
{
	PGconn *c = pg_ready(pg_of(s)->wconn);
	PGresult *r;

	if (set) {
		if (pg_exec(c,
		        d == LEDGER_DURABILITY_NORMAL ? "SET synchronous_commit TO off"
		                                      : "SET synchronous_commit TO on",
		        NULL) != 0) {
			*cause = pg_error(s, c, "ledger: cannot set durability");
			return -1;
		}
		return 0;
	}
	if ((r = pg_query(c, "SHOW synchronous_commit", NULL)) == NULL) {
		*cause = pg_error(s, c, "ledger: cannot read durability");
		return -1;
	}
	*value = strcmp(PQgetvalue(r, 0, 0), "off") == 0 ? 1 : 2;
	PQclear(r);
	return 0;
}

/* The budget */

static double
pg_threshold(const struct budget_conf *c)
{
	return c->alert_threshold > 0 ? c->alert_threshold : 0.8;
}

/* The once-a-day alert: budget_alerts' primary key makes it once across the fleet. */
static int
pg_budget_alert(struct store *s, PGconn *c, const struct budget_conf *conf, const char *day,
    double spent, int64_t now)
{
	return pg_budget_alert_once(s, c, day, day, NULL, conf->daily_usd, pg_threshold(conf),
	    spent, now);
}

/* The same for any budget: key in budget_alerts, the event naming who (NULL: the global). */
static int
pg_budget_alert_once(struct store *s, PGconn *c, const char *key, const char *day, const char *who,
    double daily_usd, double threshold, double spent, int64_t now)
{
	struct pgargs a = {0};
	PGresult *r;
	char *msg;
	int rc;

	if (daily_usd <= 0 || threshold <= 0 || spent < threshold * daily_usd)
		return 0;
	pa_str(&a, key);
	pa_i64(&a, now);
	r = pg_query(c,
	    "INSERT INTO budget_alerts(day, time_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING", &a);
	pa_free(&a);
	if (r == NULL)
		return -1;
	rc = (int)pg_changes(r);
	PQclear(r);
	if (rc == 0)
		return 0;
	msg = xasprintf("%s%sdaily budget alert: spent $%.4f of $%.2f (%.0f%%, threshold %.0f%%) "
	                "on %s",
	    who != NULL ? who : "", who != NULL ? "'s " : "", spent, daily_usd,
	    100 * spent / daily_usd, 100 * threshold, day);
	rc = pg_event_insert(s, c, now, "budget", NULL, msg);
	free(msg);
	return rc;
}

/* Reservations and leases that still count at now (see the head comment), but row mine. */
static int
pg_budget_terms(PGconn *c, int64_t now, int64_t mine, double *rows, double *others,
    double *mine_amount)
{
	struct pgargs a = {0};
	PGresult *r;

	pa_i64(&a, now - BUDGET_RESERVATION_TTL_MS);
	pa_i64(&a, mine);
	r = pg_query(c,
	    "SELECT (SELECT COALESCE(SUM(amount_usd), 0) FROM reservations WHERE time_ms >= $1), "
	    "(SELECT COALESCE(SUM(amount_usd), 0) FROM budget_leases WHERE expires_ms > $1 AND "
	    "id <> $2), "
	    "(SELECT amount_usd FROM budget_leases WHERE expires_ms > $1 AND id = $2)",
	    &a);
	pa_free(&a);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	*rows = pg_dbl(r, 0, 0);
	*others = pg_dbl(r, 0, 1);
	if (mine_amount != NULL)
		*mine_amount = PQgetisnull(r, 0, 2) ? -1 : pg_dbl(r, 0, 2);
	PQclear(r);
	return 0;
}

static int
pg_budget_grant(struct store *s, struct budget_grant *g, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *r;
	int err = 0;

	if (pg_exec(c, "BEGIN", NULL) != 0 || pg_lock_budget(c) != 0)
		goto fail;
	pa_i64(&a, g->now - BUDGET_RESERVATION_TTL_MS);
	if (pg_exec(c, "DELETE FROM reservations WHERE time_ms < $1", &a) != 0 ||
	    pg_exec(c, "DELETE FROM budget_leases WHERE expires_ms <= $1", &a) != 0)
		goto fail;
	pa_free(&a);
	g->spent = pg_spent_between(c, g->day_start, g->day_end, &err);
	if (err || pg_budget_terms(c, g->now, g->row, &g->rows, &g->others, &g->mine) != 0 ||
	    pg_budget_alert(s, c, g->conf, g->day, g->spent, g->now) != 0)
		goto fail;
	g->decide(g);
	g->new_row = g->mine >= 0 ? g->row : 0;
	if (g->amount <= 0) {
		g->new_row = 0;
		if (g->mine >= 0) {
			pa_i64(&a, g->row);
			if (pg_exec(c, "DELETE FROM budget_leases WHERE id = $1", &a) != 0)
				goto fail;
			pa_free(&a);
		}
	} else {
		pa_dbl(&a, g->amount);
		pa_i64(&a, g->now);
		pa_i64(&a, g->now + BUDGET_LEASE_TTL_MS);
		if (g->mine >= 0) {
			pa_i64(&a, g->row);
			if (pg_exec(c,
			        "UPDATE budget_leases SET amount_usd = $1, granted_ms = $2, "
			        "expires_ms = $3 WHERE id = $4",
			        &a) != 0)
				goto fail;
		} else {
			pa_str(&a, g->owner);
			pa_i64(&a, (int64_t)getpid());
			if ((r = pg_query(c,
			         "INSERT INTO budget_leases(amount_usd, granted_ms, expires_ms, "
			         "instance, pid) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			         &a)) == NULL)
				goto fail;
			g->new_row = pg_i64(r, 0, 0);
			PQclear(r);
		}
		pa_free(&a);
	}
	if (g->reserve) {
		pa_str(&a, store_instance(s));
		pa_i64(&a, (int64_t)getpid());
		pa_i64(&a, g->now);
		pa_dbl(&a, g->upper);
		if ((r = pg_query(c,
		         "INSERT INTO reservations(instance, pid, time_ms, amount_usd) VALUES ($1, "
		         "$2, $3, $4) RETURNING id",
		         &a)) == NULL)
			goto fail;
		g->reservation_id = pg_i64(r, 0, 0);
		PQclear(r);
		pa_free(&a);
	}
	if (pg_exec(c, "COMMIT", NULL) != 0)
		goto fail;
	pg_unlock(s);
	return 0;
fail:
	pa_free(&a);
	*cause = pg_error(s, c, "budget: cannot reserve");
	pg_rollback(c);
	pg_unlock(s);
	g->reservation_id = 0;
	return -1;
}

static void
pg_budget_delete(struct store *s, const char *sql, int64_t id)
{
	struct pgargs a = {0};

	pa_i64(&a, id);
	pg_exec(pg_lock(s), sql, &a);
	pg_unlock(s);
	pa_free(&a);
}

/* A take of the fleet's minute (limits.h): the row locked, its share granted. */
static int
pg_rate_take(struct store *s, const char *provider, const char *kind, int64_t minute, double limit,
    double want, double *granted, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *r;
	double used, g;

	pa_str(&a, provider);
	pa_str(&a, kind);
	pa_i64(&a, minute);
	if (pg_exec(c, "BEGIN", NULL) != 0 ||
	    pg_exec(c,
	        "INSERT INTO rate_windows(provider, kind, minute, used) VALUES ($1, $2, $3, 0) "
	        "ON CONFLICT DO NOTHING",
	        &a) != 0 ||
	    (r = pg_query(c,
	         "SELECT used FROM rate_windows WHERE provider = $1 AND kind = $2 AND minute = $3 "
	         "FOR UPDATE",
	         &a)) == NULL)
		goto fail;
	used = PQntuples(r) == 1 ? pg_dbl(r, 0, 0) : 0;
	PQclear(r);
	g = limits_grant(used, limit, want);
	pa_dbl(&a, used + g);
	if (pg_exec(c,
	        "UPDATE rate_windows SET used = $4 WHERE provider = $1 AND kind = $2 AND minute = "
	        "$3",
	        &a) != 0)
		goto fail;
	pa_free(&a);
	pa_i64(&a, minute - 2);
	if (pg_exec(c, "DELETE FROM rate_windows WHERE minute < $1", &a) != 0 ||
	    pg_exec(c, "COMMIT", NULL) != 0)
		goto fail;
	pa_free(&a);
	pg_unlock(s);
	*granted = g > 0 ? g : 0;
	return 0;
fail:
	pa_free(&a);
	if (cause != NULL)
		*cause = pg_error(s, c, "rate limit lease");
	pg_rollback(c);
	pg_unlock(s);
	return -1;
}

/* The ledger's old rows in batches of their own transactions (autocommit each). */
static int
pg_ledger_prune(struct store *s, int64_t before_ms, int batch, int64_t *deleted, char **cause)
{
	struct pgargs a = {0};
	PGconn *c;
	PGresult *r;
	int64_t n;

	*deleted = 0;
	pa_i64(&a, before_ms);
	pa_i64(&a, batch);
	do {
		c = pg_lock(s);
		r = pg_query(c,
		    "DELETE FROM ledger WHERE id IN (SELECT id FROM ledger WHERE time_ms < $1 "
		    "LIMIT $2)",
		    &a);
		if (r == NULL) {
			*cause = pg_error(s, c, "ledger prune");
			pg_unlock(s);
			pa_free(&a);
			return -1;
		}
		n = pg_changes(r);
		PQclear(r);
		pg_unlock(s);
		*deleted += n;
	} while (n >= batch);
	pa_free(&a);
	pa_i64(&a, before_ms / 900000);
	c = pg_lock(s);
	if (pg_exec(c, "DELETE FROM spend_buckets WHERE bucket < $1", &a) != 0 ||
	    pg_exec(c, "DELETE FROM scope_spend WHERE bucket < $1", &a) != 0) {
		*cause = pg_error(s, c, "ledger prune");
		pg_unlock(s);
		pa_free(&a);
		return -1;
	}
	pg_unlock(s);
	pa_free(&a);
	return 0;
}

static void
pg_budget_unreserve(struct store *s, int64_t reservation_id)
{
	pg_budget_delete(s, "DELETE FROM reservations WHERE id = $1", reservation_id);
}

static void
pg_budget_lease_return(struct store *s, int64_t row)
{
	pg_budget_delete(s, "DELETE FROM budget_leases WHERE id = $1", row);
}

static int
pg_budget_read(struct store *s, const struct budget_conf *conf, int64_t now, int64_t start,
    int64_t end, struct budget_status *bs, char **cause)
{
	PGconn *c = pg_lock(s);
	int err = 0;

	/* One snapshot: spent, reserved and leased read together. */
	if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL) != 0)
		err = 1;
	if (!err) {
		bs->spent_usd = pg_spent_between(c, start, end, &err);
		if (pg_budget_terms(c, now, 0, &bs->reserved_usd, &bs->leased_usd, NULL) != 0)
			err = 1;
		bs->burn_5m_per_hour = pg_spent_between(c, now - 5 * 60000, now + 1, &err) * 12;
		bs->burn_60m_per_hour = pg_spent_between(c, now - 60 * 60000, now + 1, &err);
	}
	if (err) {
		*cause = pg_error(s, c, "budget: cannot read");
		pg_rollback(c);
		pg_unlock(s);
		return -1;
	}
	pg_exec(c, "COMMIT", NULL);
	/* The alert is once a day by its primary key. */
	if (bs->budget_usd > 0 && bs->spent_usd >= bs->alert_threshold * bs->budget_usd)
		pg_budget_alert(s, c, conf, bs->day, bs->spent_usd, now);
	pg_unlock(s);
	(void)end;
	return 0;
}

/* The cache: reads and their bookkeeping on the callers' connection, stores on the writer. */

static void
pg_cache_count(PGconn *c, const char *name)
{
	struct pgargs a = {0};

	pa_str(&a, name);
	pg_exec(c, "UPDATE counters SET value = value + 1 WHERE name = $1", &a);
	pa_free(&a);
}

static char *
pg_dup_or_null(PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NULL : xstrdup(PQgetvalue(r, 0, col));
}

static int
pg_cache_get(struct store *s, const struct cache_conf *conf, const char *key,
    struct llm_response *out, char provider[LIMIT_NAME_SIZE], char model[LIMIT_ALIAS_SIZE])
{
	int64_t now = store_now_ms(s), created;
	struct pgargs a = {0};
	PGresult *r;
	PGconn *c;
	int hit = 0;

	pa_str(&a, key);
	c = pg_lock(s);
	r = pg_query(c,
	    "SELECT provider, model, created_ms, resp_id, resp_model, content, stop, stop_raw, "
	    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, parts, "
	    "cache_write_1h_tokens, reasoning_tokens FROM cache WHERE key = $1",
	    &a);
	if (r == NULL) {
		pg_unlock(s);
		pa_free(&a);
		return -1;
	}
	if (PQntuples(r) == 1) {
		created = pg_i64(r, 0, 2);
		if (now - created >= (int64_t)conf->ttl_seconds * 1000 || now < created - 60000)
			pg_exec(c, "DELETE FROM cache WHERE key = $1", &a);
		else {
			hit = 1;
			if (provider != NULL)
				pg_text(provider, LIMIT_NAME_SIZE, r, 0, 0);
			if (model != NULL)
				pg_text(model, LIMIT_ALIAS_SIZE, r, 0, 1);
			out->id = pg_dup_or_null(r, 3);
			out->model = pg_dup_or_null(r, 4);
			out->content = xstrdup(PQgetvalue(r, 0, 5));
			out->stop = (enum llm_stop)pg_i64(r, 0, 6);
			out->stop_raw = pg_dup_or_null(r, 7);
			out->usage.input_tokens = pg_i64(r, 0, 8);
			out->usage.output_tokens = pg_i64(r, 0, 9);
			out->usage.cache_read_tokens = pg_i64(r, 0, 10);
			out->usage.cache_write_tokens = pg_i64(r, 0, 11);
			out->usage.cache_write_1h_tokens = pg_i64(r, 0, 13);
			out->usage.reasoning_tokens = pg_i64(r, 0, 14);
			if (!PQgetisnull(r, 0, 12) &&
			    llm_parts_from_json(PQgetvalue(r, 0, 12), &out->parts, &out->n_parts) !=
			        0) {
				out->parts = NULL;
				out->n_parts = 0;
			}
			pg_exec(c,
			    "UPDATE cache SET hits = hits + 1, lru = nextval('cache_lru') WHERE "
			    "key = $1",
			    &a);
		}
	}
	pg_cache_count(c, hit ? "cache_hits" : "cache_misses");
	pg_unlock(s);
	PQclear(r);
	pa_free(&a);
	return hit;
}

/* An answer to store, on the writer's queue. */
struct pg_cache_job {
	struct store *s;
	struct pgargs a;
	int64_t expire_before, max_entries;
	void (*done)(void *, int);
	void *arg;
};

static void
pg_cache_put_job(void *arg)
{
	struct pg_cache_job *j = arg;
	PGconn *c = pg_ready(pg_of(j->s)->wconn);
	struct pgargs e = {0};
	int rc = pg_exec(c, "BEGIN", NULL);

	if (rc == 0)
		rc = pg_exec(c,
		    "INSERT INTO cache(key, provider, model, created_ms, resp_id, resp_model, "
		    "content, stop, stop_raw, input_tokens, output_tokens, cache_read_tokens, "
		    "cache_write_tokens, parts, cache_write_1h_tokens, reasoning_tokens) VALUES "
		    "($1, "
		    "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
		    "ON CONFLICT (key) DO UPDATE SET provider = excluded.provider, model = "
		    "excluded.model, created_ms = excluded.created_ms, lru = nextval('cache_lru'), "
		    "hits = 0, resp_id = excluded.resp_id, resp_model = excluded.resp_model, "
		    "content = excluded.content, stop = excluded.stop, stop_raw = "
		    "excluded.stop_raw, "
		    "input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, "
		    "cache_read_tokens = excluded.cache_read_tokens, cache_write_tokens = "
		    "excluded.cache_write_tokens, parts = excluded.parts, cache_write_1h_tokens = "
		    "excluded.cache_write_1h_tokens, reasoning_tokens = excluded.reasoning_tokens",
		    &j->a);
	pa_i64(&e, j->expire_before);
	if (rc == 0)
		rc = pg_exec(c, "DELETE FROM cache WHERE created_ms <= $1", &e);
	pa_free(&e);
	if (rc == 0 && j->max_entries > 0) {
		pa_i64(&e, j->max_entries);
		rc = pg_exec(c,
		    "DELETE FROM cache WHERE key IN (SELECT key FROM cache ORDER BY lru DESC "
		    "OFFSET $1)",
		    &e);
		pa_free(&e);
	}
	if (rc == 0)
		rc = pg_exec(c, "COMMIT", NULL);
	if (rc != 0)
		pg_rollback(c);
	if (j->done != NULL)
		j->done(j->arg, rc);
	pa_free(&j->a);
	free(j);
}

static void
pg_cache_put_async(struct store *s, const struct cache_conf *conf, const char *key,
    const char *provider, const char *model, const struct llm_response *r,
    void (*done)(void *, int), void *arg)
{
	struct pg_cache_job *j = xcalloc(1, sizeof *j);
	int64_t now = store_now_ms(s);
	char *parts = r->n_parts > 0 ? llm_parts_to_json(r->parts, r->n_parts) : NULL;

	j->s = s;
	j->expire_before = now - (int64_t)conf->ttl_seconds * 1000;
	j->max_entries = conf->max_entries;
	j->done = done;
	j->arg = arg;
	pa_str(&j->a, key);
	pa_str(&j->a, provider);
	pa_str(&j->a, model);
	pa_i64(&j->a, now);
	if (r->id != NULL)
		pa_str(&j->a, r->id);
	else
		pa_null(&j->a);
	if (r->model != NULL)
		pa_str(&j->a, r->model);
	else
		pa_null(&j->a);
	pa_str(&j->a, r->content);
	pa_i64(&j->a, (int64_t)r->stop);
	if (r->stop_raw != NULL)
		pa_str(&j->a, r->stop_raw);
	else
		pa_null(&j->a);
	pa_i64(&j->a, r->usage.input_tokens);
	pa_i64(&j->a, r->usage.output_tokens);
	pa_i64(&j->a, r->usage.cache_read_tokens);
	pa_i64(&j->a, r->usage.cache_write_tokens);
	if (parts != NULL)
		pa_str(&j->a, parts);
	else
		pa_null(&j->a);
	pa_i64(&j->a, r->usage.cache_write_1h_tokens);
	pa_i64(&j->a, r->usage.reasoning_tokens);
	free(parts);
	workq_push(store_writer(s), pg_cache_put_job, j);
}

static int
pg_cache_flush(struct store *s)
{
	PGresult *r;
	int n = -1;

	workq_drain(store_writer(s)); /* queued answers are flushed too */
	r = pg_query(pg_lock(s), "DELETE FROM cache", NULL);
	pg_unlock(s);
	if (r != NULL)
		n = (int)pg_changes(r);
	PQclear(r);
	return n;
}

static int
pg_cache_stats(struct store *s, struct cache_stats *cs)
{
	PGresult *r;
	int rc = -1;

	workq_drain(store_writer(s));
	r = pg_query(pg_lock(s),
	    "SELECT (SELECT COUNT(*) FROM cache), (SELECT value FROM counters WHERE name = "
	    "'cache_hits'), (SELECT value FROM counters WHERE name = 'cache_misses')",
	    NULL);
	pg_unlock(s);
	if (r != NULL && PQntuples(r) == 1) {
		cs->entries = pg_i64(r, 0, 0);
		cs->hits = pg_i64(r, 0, 1);
		cs->misses = pg_i64(r, 0, 2);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* Stored responses: puts on the writer's queue, like SQLite's. */

struct pg_resp_job {
	struct store *s;
	struct pgargs a;
	int64_t now;
	void (*done)(void *, int);
	void *arg;
};

static void
pg_resp_put_job(void *arg)
{
	struct pg_resp_job *j = arg;
	PGconn *c = pg_ready(pg_of(j->s)->wconn);
	struct pgargs e = {0};
	int rc = pg_exec(c,
	    "INSERT INTO responses(id, created_ms, expires_ms, body) VALUES ($1, $2, $3, $4) "
	    "ON CONFLICT (id) DO UPDATE SET created_ms = excluded.created_ms, expires_ms = "
	    "excluded.expires_ms, body = excluded.body",
	    &j->a);

	if (rc == 0) {
		pa_i64(&e, j->now);
		pg_exec(c, "DELETE FROM responses WHERE expires_ms <= $1", &e);
		pa_free(&e);
	}
	if (j->done != NULL)
		j->done(j->arg, rc);
	pa_free(&j->a);
	free(j);
}

static void
pg_resp_put(struct store *s, const char *id, const char *json, int64_t now, int64_t expires,
    void (*done)(void *, int), void *arg)
{
	struct pg_resp_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->now = now;
	j->done = done;
	j->arg = arg;
	pa_str(&j->a, id);
	pa_i64(&j->a, now);
	pa_i64(&j->a, expires);
	pa_str(&j->a, json);
	workq_push(store_writer(s), pg_resp_put_job, j);
}

static char *
pg_resp_get(struct store *s, const char *id, int64_t now, int *err)
{
	struct pgargs a = {0};
	PGresult *r;
	char *out = NULL;

	pa_str(&a, id);
	pa_i64(&a, now);
	r = pg_query(pg_lock(s), "SELECT body FROM responses WHERE id = $1 AND expires_ms > $2",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	if (r == NULL) {
		if (err != NULL)
			*err = 1;
		return NULL;
	}
	if (PQntuples(r) == 1)
		out = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static int
pg_resp_delete(struct store *s, const char *id, int64_t now)
{
	struct pgargs a = {0};
	PGresult *r;
	int n = -1;

	pa_str(&a, id);
	pa_i64(&a, now);
	r = pg_query(pg_lock(s), "DELETE FROM responses WHERE id = $1 AND expires_ms > $2", &a);
	pg_unlock(s);
	pa_free(&a);
	if (r != NULL)
		n = pg_changes(r) > 0;
	PQclear(r);
	return n;
}

/* The instance registry */

static int
pg_instance_beat(struct store *s, const struct store_instance *i)
{
	struct pgargs a = {0};
	int rc;

	pa_str(&a, i->id);
	pa_str(&a, i->host);
	pa_i64(&a, i->pid);
	pa_str(&a, i->admin_url);
	pa_str(&a, i->version);
	pa_str(&a, i->config_hash);
	pa_i64(&a, i->started_ms);
	pa_str(&a, i->state);
	pa_i64(&a, store_now_ms(s));
	rc = pg_exec(pg_lock(s),
	    "INSERT INTO instances(id, host, pid, admin_url, version, config_hash, started_ms, "
	    "state, seen_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO "
	    "UPDATE SET host = excluded.host, pid = excluded.pid, admin_url = excluded.admin_url, "
	    "version = excluded.version, config_hash = excluded.config_hash, started_ms = "
	    "excluded.started_ms, state = excluded.state, seen_ms = excluded.seen_ms",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	return rc;
}

static int
pg_instance_remove(struct store *s, const char *id)
{
	struct pgargs a = {0};
	int rc;

	pa_str(&a, id);
	rc = pg_exec(pg_lock(s), "DELETE FROM instances WHERE id = $1", &a);
	pg_unlock(s);
	pa_free(&a);
	return rc;
}

static int
pg_instances(struct store *s, struct store_instance **out)
{
	int64_t now = store_now_ms(s);
	struct store_instance *v = NULL;
	struct pgargs a = {0};
	PGresult *r;
	int n;

	pa_i64(&a, now - STORE_INSTANCE_GONE_MS);
	r = pg_query(pg_lock(s),
	    "SELECT id, host, pid, admin_url, version, config_hash, started_ms, state, seen_ms "
	    "FROM instances ORDER BY seen_ms <= $1, id",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	if (r == NULL)
		return -1;
	n = PQntuples(r);
	if (n > 0)
		v = xcalloc((size_t)n, sizeof *v);
	for (int k = 0; k < n; k++) {
		struct store_instance *i = &v[k];

		pg_text(i->id, sizeof i->id, r, k, 0);
		pg_text(i->host, sizeof i->host, r, k, 1);
		i->pid = pg_i64(r, k, 2);
		pg_text(i->admin_url, sizeof i->admin_url, r, k, 3);
		pg_text(i->version, sizeof i->version, r, k, 4);
		pg_text(i->config_hash, sizeof i->config_hash, r, k, 5);
		i->started_ms = pg_i64(r, k, 6);
		pg_text(i->state, sizeof i->state, r, k, 7);
		i->seen_ms = pg_i64(r, k, 8);
		i->gone = now - i->seen_ms > STORE_INSTANCE_GONE_MS;
	}
	PQclear(r);
	*out = v;
	return n;
}

/* Keys and teams (keys.c's operations on PostgreSQL). */

#define PG_LIM_COLS "day_usd, month_usd, rpm, tpm, models, alert_threshold"

static void
pg_lim(PGresult *r, int row, int col, struct spend_limits *l)
{
	l->day_usd = pg_dbl(r, row, col);
	l->month_usd = pg_dbl(r, row, col + 1);
	l->rpm = (int)pg_i64(r, row, col + 2);
	l->tpm = (int)pg_i64(r, row, col + 3);
	pg_text(l->models, sizeof l->models, r, row, col + 4);
	l->alert_threshold = pg_dbl(r, row, col + 5);
}

static void
pa_lim(struct pgargs *a, const struct spend_limits *l)
{
	pa_dbl(a, l->day_usd);
	pa_dbl(a, l->month_usd);
	pa_i64(a, l->rpm);
	pa_i64(a, l->tpm);
	pa_str(a, l->models);
	pa_dbl(a, l->alert_threshold);
}

static int
pg_keys_rows(struct store *s, struct key_row **keys, int *n_keys, struct store_team **teams,
    int *n_teams, int64_t *version, char **cause)
{
	PGconn *c = pg_lock(s);
	PGresult *rv = NULL, *rk = NULL, *rt = NULL;
	int n, nt;

	*keys = NULL;
	*teams = NULL;
	*n_keys = *n_teams = 0;
	if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL) != 0 ||
	    (rv = pg_query(c, "SELECT version FROM keys_meta", NULL)) == NULL ||
	    (rk = pg_query(c,
	         "SELECT id, name, team, prefix, hash, old_hash, grace_until_ms, created_ms, "
	         "expires_ms, revoked_ms, rotated_ms, last_used_ms, " PG_LIM_COLS
	         " FROM keys ORDER BY name, revoked_ms, id",
	         NULL)) == NULL ||
	    (rt = pg_query(c, "SELECT name, created_ms, " PG_LIM_COLS " FROM teams ORDER BY name",
	         NULL)) == NULL ||
	    pg_exec(c, "COMMIT", NULL) != 0) {
		*cause = pg_error(s, c, "keys: cannot read");
		pg_rollback(c);
		pg_unlock(s);
		PQclear(rv);
		PQclear(rk);
		PQclear(rt);
		return -1;
	}
	pg_unlock(s);
	*version = PQntuples(rv) > 0 ? pg_i64(rv, 0, 0) : 0;
	n = PQntuples(rk);
	if (n > 0)
		*keys = xcalloc((size_t)n, sizeof **keys);
	for (int i = 0; i < n; i++) {
		struct key_row *k = &(*keys)[i];

		pg_text(k->k.id, sizeof k->k.id, rk, i, 0);
		pg_text(k->k.name, sizeof k->k.name, rk, i, 1);
		pg_text(k->k.team, sizeof k->k.team, rk, i, 2);
		pg_text(k->k.prefix, sizeof k->k.prefix, rk, i, 3);
		pg_text(k->hash, sizeof k->hash, rk, i, 4);
		pg_text(k->old_hash, sizeof k->old_hash, rk, i, 5);
		k->k.grace_until_ms = pg_i64(rk, i, 6);
		k->k.created_ms = pg_i64(rk, i, 7);
		k->k.expires_ms = pg_i64(rk, i, 8);
		k->k.revoked_ms = pg_i64(rk, i, 9);
		k->k.rotated_ms = pg_i64(rk, i, 10);
		k->k.last_used_ms = pg_i64(rk, i, 11);
		pg_lim(rk, i, 12, &k->k.lim);
	}
	nt = PQntuples(rt);
	if (nt > 0)
		*teams = xcalloc((size_t)nt, sizeof **teams);
	for (int i = 0; i < nt; i++) {
		pg_text((*teams)[i].name, sizeof(*teams)[i].name, rt, i, 0);
		(*teams)[i].created_ms = pg_i64(rt, i, 1);
		pg_lim(rt, i, 2, &(*teams)[i].lim);
	}
	*n_keys = n;
	*n_teams = nt;
	PQclear(rv);
	PQclear(rk);
	PQclear(rt);
	return 0;
}

/* 1 when the last statement on c failed on a unique index (SQLSTATE 23505). */
static int
pg_unique_violation(PGresult *r)
{
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return st != NULL && strcmp(st, "23505") == 0;
}

/* A key or team change's end: keys_version moves (every keyring rereads), then COMMIT. */
static int
pg_keys_commit(PGconn *c)
{
	return pg_exec(c, "UPDATE keys_meta SET version = version + 1", NULL) != 0 ||
	        pg_exec(c, "COMMIT", NULL) != 0
	    ? -1
	    : 0;
}

static int
pg_key_write(struct store *s, const struct key_row *r, int insert, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *res;
	ExecStatusType st;
	int64_t changed;

	if (pg_exec(c, "BEGIN", NULL) != 0)
		goto fail;
	if (r->k.team[0] != '\0') {
		pa_str(&a, r->k.team);
		pa_i64(&a, r->k.created_ms);
		if (pg_exec(c,
		        "INSERT INTO teams(name, created_ms) VALUES ($1, $2) ON CONFLICT (name) DO "
		        "NOTHING",
		        &a) != 0)
			goto fail;
		pa_free(&a);
	}
	pa_str(&a, r->k.name);
	pa_str(&a, r->k.team);
	pa_str(&a, r->k.prefix);
	pa_str(&a, r->hash);
	pa_str(&a, r->old_hash);
	pa_i64(&a, r->k.grace_until_ms);
	pa_i64(&a, r->k.created_ms);
	pa_i64(&a, r->k.expires_ms);
	pa_i64(&a, r->k.revoked_ms);
	pa_i64(&a, r->k.rotated_ms);
	pa_i64(&a, r->k.last_used_ms);
	pa_lim(&a, &r->k.lim);
	pa_str(&a, r->k.id);
	res = PQexecParams(c,
	    insert ? "INSERT INTO keys(name, team, prefix, hash, old_hash, grace_until_ms, "
	             "created_ms, expires_ms, revoked_ms, rotated_ms, last_used_ms, " PG_LIM_COLS
	             ", id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
	             "$15, $16, $17, $18)"
	           : "UPDATE keys SET name = $1, team = $2, prefix = $3, hash = $4, old_hash = $5, "
	             "grace_until_ms = $6, created_ms = $7, expires_ms = $8, revoked_ms = $9, "
	             "rotated_ms = $10, last_used_ms = GREATEST(last_used_ms, $11), day_usd = $12, "
	             "month_usd = $13, rpm = $14, tpm = $15, models = $16, alert_threshold = $17 "
	             "WHERE id = $18",
	    a.n, NULL, (const char *const *)a.v, NULL, NULL, 0);
	pa_free(&a);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK) {
		int unique = pg_unique_violation(res);

		PQclear(res);
		if (unique) {
			pg_rollback(c);
			pg_unlock(s);
			return 1;
		}
		goto fail;
	}
	changed = pg_changes(res);
	PQclear(res);
	if (changed == 0) {
		pg_rollback(c);
		pg_unlock(s);
		return 1;
	}
	if (pg_keys_commit(c) != 0)
		goto fail;
	pg_unlock(s);
	return 0;
fail:
	pa_free(&a);
	*cause = pg_error(s, c, "keys: cannot write");
	pg_rollback(c);
	pg_unlock(s);
	return -1;
}

static int
pg_team_write(struct store *s, const struct store_team *t, int del, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *r;
	int64_t n;

	if (pg_exec(c, "BEGIN", NULL) != 0)
		goto fail;
	pa_str(&a, t->name);
	if (del) {
		if ((r = pg_query(c, "SELECT COUNT(*) FROM keys WHERE team = $1 AND revoked_ms = 0",
		         &a)) == NULL)
			goto fail;
		n = pg_i64(r, 0, 0);
		PQclear(r);
		if (n > 0) {
			pa_free(&a);
			pg_rollback(c);
			pg_unlock(s);
			return 2;
		}
		if ((r = pg_query(c, "DELETE FROM teams WHERE name = $1", &a)) == NULL)
			goto fail;
		n = pg_changes(r);
		PQclear(r);
		if (n == 0) {
			pa_free(&a);
			pg_rollback(c);
			pg_unlock(s);
			return 1;
		}
	} else {
		pa_i64(&a, t->created_ms);
		pa_lim(&a, &t->lim);
		if (pg_exec(c,
		        "INSERT INTO teams(name, created_ms, " PG_LIM_COLS
		        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE "
		        "SET "
		        "day_usd = excluded.day_usd, month_usd = excluded.month_usd, rpm = "
		        "excluded.rpm, tpm = excluded.tpm, models = excluded.models, "
		        "alert_threshold = excluded.alert_threshold",
		        &a) != 0)
			goto fail;
	}
	pa_free(&a);
	if (pg_keys_commit(c) != 0)
		goto fail;
	pg_unlock(s);
	return 0;
fail:
	pa_free(&a);
	*cause = pg_error(s, c, "teams: cannot write");
	pg_rollback(c);
	pg_unlock(s);
	return -1;
}

static int
pg_keys_version(struct store *s, int64_t *version)
{
	PGresult *r = pg_query(pg_lock(s), "SELECT version FROM keys_meta", NULL);
	int rc = -1;

	pg_unlock(s);
	if (r != NULL && PQntuples(r) == 1) {
		*version = pg_i64(r, 0, 0);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pg_keys_touch(struct store *s, const struct key_touch *t, int n)
{
	struct pgargs a = {0};
	struct buf ids, ms;
	int rc;

	buf_init(&ids);
	buf_init(&ms);
	buf_puts(&ids, "{");
	buf_puts(&ms, "{");
	for (int i = 0; i < n; i++) {
		buf_printf(&ids, "%s\"%s\"", i > 0 ? "," : "", t[i].id);
		buf_printf(&ms, "%s%" PRId64, i > 0 ? "," : "", t[i].last_used_ms);
	}
	buf_puts(&ids, "}");
	buf_puts(&ms, "}");
	pa_str(&a, ids.data);
	pa_str(&a, ms.data);
	rc = pg_exec(pg_lock(s),
	    "UPDATE keys SET last_used_ms = GREATEST(keys.last_used_ms, u.ms) FROM "
	    "unnest($1::text[], $2::bigint[]) AS u(id, ms) WHERE keys.id = u.id",
	    &a);
	pg_unlock(s);
	pa_free(&a);
	buf_free(&ids);
	buf_free(&ms);
	return rc;
}

/* One scope's spend in [from, to) (keys.c's scope_sqlite_spent on PostgreSQL). */
static double
pg_scope_spent(PGconn *c, const char *scope, int64_t from, int64_t to, int *err)
{
	struct pgargs a = {0};
	PGresult *r;
	double v = 0;
	int aligned = from >= 0 && from % STORE_BUCKET_MS == 0 && to % STORE_BUCKET_MS == 0;
	const char *sql;

	pa_i64(&a, aligned ? from / STORE_BUCKET_MS : from);
	pa_i64(&a, aligned ? to / STORE_BUCKET_MS : to);
	if (strcmp(scope, "global") == 0) {
		pa_free(&a);
		return pg_spent_between(c, from, to, err);
	}
	if (aligned) {
		pa_str(&a, scope);
		sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM scope_spend WHERE scope = $3 AND "
		      "bucket >= $1 AND bucket < $2";
	} else if (strncmp(scope, "key:", 4) == 0) {
		pa_str(&a, scope + 4);
		sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM ledger WHERE time_ms >= $1 AND "
		      "time_ms < $2 AND key_id = $3";
	} else {
		pa_str(&a, strncmp(scope, "team:", 5) == 0 ? scope + 5 : scope);
		sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM ledger WHERE time_ms >= $1 AND "
		      "time_ms < $2 AND team = $3";
	}
	r = pg_query(c, sql, &a);
	pa_free(&a);
	if (r == NULL || PQntuples(r) != 1)
		*err = 1;
	else
		v = pg_dbl(r, 0, 0);
	PQclear(r);
	return v;
}

static int
pg_scope_reserve(struct store *s, struct scope_grant *g, int n, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *r;
	int err = 0, refused = 0;

	if (pg_exec(c, "BEGIN", NULL) != 0 || pg_lock_budget(c) != 0)
		goto fail;
	pa_i64(&a, g[0].now - BUDGET_RESERVATION_TTL_MS);
	if (pg_exec(c, "DELETE FROM scope_reservations WHERE time_ms < $1", &a) != 0)
		goto fail;
	pa_free(&a);
	for (int i = 0; i < n; i++) {
		struct scope_grant *x = &g[i];

		/* Under the lock, READ COMMITTED: each read sees every commit before it. */
		x->spent_day = x->day_usd > 0
		    ? pg_scope_spent(c, x->scope, x->day_start, x->day_end, &err)
		    : 0;
		x->spent_month = x->month_usd > 0
		    ? pg_scope_spent(c, x->scope, x->month_start, x->month_end, &err)
		    : 0;
		pa_str(&a, x->scope);
		pa_i64(&a, x->now - BUDGET_RESERVATION_TTL_MS);
		r = pg_query(c,
		    "SELECT COALESCE(SUM(amount_usd), 0) FROM scope_reservations WHERE scope = $1 "
		    "AND time_ms >= $2",
		    &a);
		pa_free(&a);
		if (r == NULL || PQntuples(r) != 1 || err) {
			PQclear(r);
			goto fail;
		}
		x->reserved = pg_dbl(r, 0, 0);
		PQclear(r);
		scope_grant_decide(x);
		refused |= x->refused;
		/* The scope's once-a-day alert, as the global budget's. */
		if (x->day_usd > 0 && x->alert_threshold > 0 &&
		    pg_budget_alert_once(s, c, x->alert_key, x->day, x->label, x->day_usd,
		        x->alert_threshold, x->spent_day, x->now) != 0)
			goto fail;
	}
	if (!refused)
		for (int i = 0; i < n; i++) {
			pa_str(&a, g[i].scope);
			pa_str(&a, store_instance(s));
			pa_i64(&a, (int64_t)getpid());
			pa_i64(&a, g[i].now);
			pa_dbl(&a, g[i].upper);
			r = pg_query(c,
			    "INSERT INTO scope_reservations(scope, instance, pid, time_ms, "
			    "amount_usd) "
			    "VALUES ($1, $2, $3, $4, $5) RETURNING id",
			    &a);
			pa_free(&a);
			if (r == NULL)
				goto fail;
			g[i].reservation_id = pg_i64(r, 0, 0);
			PQclear(r);
		}
	if (pg_exec(c, "COMMIT", NULL) != 0)
		goto fail;
	pg_unlock(s);
	return 0;
fail:
	pa_free(&a);
	*cause = pg_error(s, c, "budget: cannot reserve");
	pg_rollback(c);
	pg_unlock(s);
	for (int i = 0; i < n; i++)
		g[i].reservation_id = 0;
	return -1;
}

static void
pg_scope_unreserve(struct store *s, int64_t reservation_id)
{
	pg_budget_delete(s, "DELETE FROM scope_reservations WHERE id = $1", reservation_id);
}

static int
pg_scope_spend(struct store *s, const char *scope, const int64_t b[4], int64_t now,
    struct scope_spend *out, char **cause)
{
	struct pgargs a = {0};
	PGconn *c = pg_lock(s);
	PGresult *r = NULL;
	int err = 0;
	const char *col = strncmp(scope, "key:", 4) == 0 ? "key_id" : "team";
	const char *value = strncmp(scope, "key:", 4) == 0 ? scope + 4
	    : strncmp(scope, "team:", 5) == 0              ? scope + 5
	                                                   : NULL;
	char sql[500];

	if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL) != 0)
		goto fail;
	out->day_usd = pg_scope_spent(c, scope, b[0], b[1], &err);
	out->month_usd = pg_scope_spent(c, scope, b[2], b[3], &err);
	if (err)
		goto fail;
	snprintf(sql, sizeof sql,
	    "SELECT COALESCE(SUM(CASE WHEN time_ms >= $4 THEN cost_usd ELSE 0 END), 0), "
	    "COALESCE(SUM(CASE WHEN time_ms >= $5 THEN cost_usd ELSE 0 END), 0), "
	    "COUNT(CASE WHEN time_ms >= $1 THEN 1 END), "
	    "COUNT(CASE WHEN time_ms >= $1 AND outcome = 'refused' THEN 1 END) "
	    "FROM ledger WHERE time_ms >= LEAST($1, $5) AND time_ms < $2 AND %s",
	    value != NULL ? (strcmp(col, "key_id") == 0 ? "key_id = $3" : "team = $3") : "$3 = $3");
	pa_i64(&a, b[0]);
	pa_i64(&a, now + 1 > b[1] ? now + 1 : b[1]);
	pa_str(&a, value != NULL ? value : "");
	pa_i64(&a, now - 5 * 60000);
	pa_i64(&a, now - 60 * 60000);
	r = pg_query(c, sql, &a);
	pa_free(&a);
	if (r == NULL || PQntuples(r) != 1)
		goto fail;
	out->burn_5m_per_hour = pg_dbl(r, 0, 0) * 12;
	out->burn_60m_per_hour = pg_dbl(r, 0, 1);
	out->requests_day = pg_i64(r, 0, 2);
	out->refused_day = pg_i64(r, 0, 3);
	PQclear(r);
	pg_exec(c, "COMMIT", NULL);
	pg_unlock(s);
	return 0;
fail:
	PQclear(r);
	*cause = pg_error(s, c, "keys: cannot read spend");
	pg_rollback(c);
	pg_unlock(s);
	return -1;
}

const struct store_backend store_pg_backend = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .event_add = pg_event_add,
    .events_read = pg_events_read,
    .events_last_id = pg_events_last_id,
    .override_set = pg_override_set,
    .override_clear = pg_override_clear,
    .override_rows = pg_override_rows,
    .changed = pg_changed,
    .ledger_commit = pg_ledger_commit,
    .ledger_groups = pg_ledger_groups,
    .ledger_spent = pg_ledger_spent,
    .ledger_durability = pg_ledger_durability,
    .budget_grant = pg_budget_grant,
    .budget_unreserve = pg_budget_unreserve,
    .budget_lease_return = pg_budget_lease_return,
    .budget_read = pg_budget_read,
    .cache_get = pg_cache_get,
    .cache_put_async = pg_cache_put_async,
    .cache_flush = pg_cache_flush,
    .cache_stats = pg_cache_stats,
    .resp_put = pg_resp_put,
    .resp_get = pg_resp_get,
    .resp_delete = pg_resp_delete,
    .rate_take = pg_rate_take,
    .ledger_prune = pg_ledger_prune,
    .instance_beat = pg_instance_beat,
    .instance_remove = pg_instance_remove,
    .instances = pg_instances,
    .keys_rows = pg_keys_rows,
    .key_write = pg_key_write,
    .team_write = pg_team_write,
    .keys_version = pg_keys_version,
    .keys_touch = pg_keys_touch,
    .scope_reserve = pg_scope_reserve,
    .scope_unreserve = pg_scope_unreserve,
    .scope_spend = pg_scope_spend,
    .spool_local = 1,
};
