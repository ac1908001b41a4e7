/* test_ledger.c: rows, group commit from many threads, settlement, unpriced events, kill -9. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/budget.h"
#include "config/config.h"
#include "store/ledger.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"

static struct ledger_row
row_make(const char *provider, const char *model, double cost)
{
	struct ledger_row r;

	memset(&r, 0, sizeof r);
	r.time_ms = 1700000000000LL;
	strlcpy_(r.route, "LSR", sizeof r.route);
	strlcpy_(r.provider, provider, sizeof r.provider);
	strlcpy_(r.model, model, sizeof r.model);
	r.input_tokens = 19;
	r.output_tokens = 10;
	r.cost_usd = cost;
	r.latency_us = 1234;
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.attempts = 1;
	return r;
}

static void
test_record_fields(void **state)
{
	char *path = xasprintf("%s/l.db", (char *)*state);
	struct ledger_row r = row_make("anthropic", "claude-sonnet", 0.000207);
	struct ledger_group *g;
	struct store *s;
	char *cause = NULL;
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	r = row_make("openai", "gpt-4o", 0);
	strlcpy_(r.outcome, "error", sizeof r.outcome);
	strlcpy_(r.error_class, "rate_limit", sizeof r.error_class);
	r.attempts = 3;
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	r = row_make("anthropic", "claude-sonnet", 0);
	r.cache_hit = 1;
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);

	/* every field as written */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT time_ms, route, provider, model, "
	                     "input_tokens, output_tokens, cost_usd, unpriced, latency_us, "
	                     "outcome, error_class, "
	                     "cache_hit, attempts FROM ledger ORDER BY id",
	                     -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(st, 0), 1700000000000LL);
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "LSR");
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "anthropic");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "claude-sonnet");
	assert_int_equal(sqlite3_column_int64(st, 4), 19);
	assert_int_equal(sqlite3_column_int64(st, 5), 10);
	assert_true(sqlite3_column_double(st, 6) == 0.000207);
	assert_int_equal(sqlite3_column_int(st, 7), 0);
	assert_int_equal(sqlite3_column_int64(st, 8), 1234);
	assert_string_equal((const char *)sqlite3_column_text(st, 9), "ok");
	assert_string_equal((const char *)sqlite3_column_text(st, 10), "");
	assert_int_equal(sqlite3_column_int(st, 11), 0);
	assert_int_equal(sqlite3_column_int(st, 12), 1);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 9), "error");
	assert_string_equal((const char *)sqlite3_column_text(st, 10), "rate_limit");
	assert_int_equal(sqlite3_column_int(st, 12), 3);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* aggregates for status */
	assert_int_equal(ledger_groups(s, 0, INT64_MAX, 0, &g, &cause), 2);
	assert_string_equal(g[0].name, "anthropic");
	assert_int_equal(g[0].requests, 2);
	assert_int_equal(g[0].errors, 0);
	assert_int_equal(g[0].cache_hits, 1);
	assert_true(g[0].cost_usd == 0.000207);
	assert_string_equal(g[1].name, "openai");
	assert_int_equal(g[1].errors, 1);
	free(g);
	assert_int_equal(ledger_groups(s, 0, INT64_MAX, 1, &g, &cause), 2);
	assert_string_equal(g[0].name, "claude-sonnet");
	assert_string_equal(g[1].name, "gpt-4o");
	free(g);
	/* a window with nothing in it */
	assert_int_equal(ledger_groups(s, 0, 1000, 0, &g, &cause), 0);
	free(g);
	assert_true(ledger_spent(s, 0, INT64_MAX) == 0.000207);
	store_close(s);
	free(path);
}

struct counter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int ok, failed;
};

static void
count_done(void *arg, int rc)
{
	struct counter *c = arg;

	pthread_mutex_lock(&c->mu);
	if (rc == 0)
		c->ok++;
	else
		c->failed++;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

struct async_arg {
	struct store *s;
	struct counter *c;
	int id;
};

#define ASYNC_THREADS 16
#define ASYNC_ROWS 200

static void *
async_main(void *arg)
{
	struct async_arg *a = arg;

	for (int i = 0; i < ASYNC_ROWS; i++) {
		struct ledger_row r = row_make("p", "m", 0.001);

		r.latency_us = (uint64_t)(a->id * ASYNC_ROWS + i);
		ledger_record_async(a->s, &r, 0, count_done, a->c);
	}
	return NULL;
}

/* Usage as the APIs give it: cache reads, 5-minute and 1-hour writes, reasoning (schema 6). */
static void
test_record_usage_columns(void **state)
{
	char *path = xasprintf("%s/u.db", (char *)*state);
	struct ledger_row r = row_make("anthropic", "claude-sonnet", 0.01);
	struct llm_usage u;
	struct store *s;
	char *cause = NULL;

	memset(&u, 0, sizeof u);
	u.input_tokens = 1000;
	u.output_tokens = 300;
	u.cache_read_tokens = 200;
	u.cache_write_tokens = 500;
	u.cache_write_1h_tokens = 400;
	u.reasoning_tokens = 120;
	ledger_row_usage(&r, &u);
	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	store_close(s);
	assert_int_equal(sttest_sql_int64(path, "SELECT input_tokens FROM ledger"), 1000);
	assert_int_equal(sttest_sql_int64(path, "SELECT output_tokens FROM ledger"), 300);
	assert_int_equal(sttest_sql_int64(path, "SELECT cache_read_tokens FROM ledger"), 200);
	assert_int_equal(sttest_sql_int64(path, "SELECT cache_write_tokens FROM ledger"), 500);
	assert_int_equal(sttest_sql_int64(path, "SELECT cache_write_1h_tokens FROM ledger"), 400);
	assert_int_equal(sttest_sql_int64(path, "SELECT reasoning_tokens FROM ledger"), 120);
	free(path);
}

static void
test_group_commit_many_threads(void **state)
{
	char *path = xasprintf("%s/g.db", (char *)*state);
	struct async_arg args[ASYNC_THREADS];
	pthread_t th[ASYNC_THREADS];
	struct counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct store *s;
	char *cause = NULL;

	assert_int_equal(store_open(&s, path, &cause), 0);
	for (int i = 0; i < ASYNC_THREADS; i++) {
		args[i] = (struct async_arg){s, &c, i};
		pthread_create(&th[i], NULL, async_main, &args[i]);
	}
	for (int i = 0; i < ASYNC_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_lock(&c.mu);
	while (c.ok + c.failed < ASYNC_THREADS * ASYNC_ROWS)
		pthread_cond_wait(&c.cond, &c.mu);
	pthread_mutex_unlock(&c.mu);
	assert_int_equal(c.ok, ASYNC_THREADS * ASYNC_ROWS);
	assert_int_equal(c.failed, 0);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(DISTINCT latency_us) FROM ledger"),
	    ASYNC_THREADS * ASYNC_ROWS);
	/* rows queued right before close are committed by close */
	for (int i = 0; i < 50; i++) {
		struct ledger_row r = row_make("late", "m", 0);

		ledger_record_async(s, &r, 0, NULL, NULL);
	}
	store_close(s);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = 'late'"),
	    50);
	free(path);
}

static void
test_reservation_settled(void **state)
{
	char *path = xasprintf("%s/r.db", (char *)*state);
	struct budget_conf bc = {
	    .daily_usd = 10, .alert_threshold = 0.8, .hard_stop = 1, .pressure = 0.2};
	struct ledger_row r = row_make("p", "m", 0.5);
	struct budget_status st;
	struct store *s;
	char *cause = NULL;
	int64_t id = 0;

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(budget_reserve(s, &bc, 2.0, &id, &cause), 0);
	assert_true(id > 0);
	assert_int_equal(budget_get_status(s, &bc, &st, &cause), 0);
	assert_true(st.reserved_usd == 2.0);
	r.time_ms = 0; /* now */
	assert_int_equal(ledger_record(s, &r, id, &cause), 0);
	assert_int_equal(budget_get_status(s, &bc, &st, &cause), 0);
	assert_true(st.reserved_usd == 0);
	assert_true(st.spent_usd == 0.5);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM reservations"), 0);
	store_close(s);
	free(path);
}

static void
test_unpriced_event_once(void **state)
{
	char *path = xasprintf("%s/u.db", (char *)*state);
	struct ledger_row r = row_make("local", "llama-3.1", 0);
	struct store_event ev[8];
	struct store *s;
	char *cause = NULL;

	r.unpriced = 1;
	assert_int_equal(store_open(&s, path, &cause), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	strlcpy_(r.model, "mystery", sizeof r.model);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(store_events_last(s, ev, 8), 2);
	assert_string_equal(ev[0].kind, "pricing");
	assert_non_null(strstr(ev[0].message, "llama-3.1"));
	assert_non_null(strstr(ev[0].message, "unpriced"));
	assert_non_null(strstr(ev[1].message, "mystery"));
	assert_int_equal(sttest_sql_int64(path, "SELECT SUM(unpriced) FROM ledger"), 4);
	store_close(s);
	free(path);
}

/* The child: writers racing forever; each committed row's marker goes to the pipe. */
struct kill_child {
	struct store *s;
	int fd;
	sem_t slots;
	atomic_long seq;
	long base;
};

static void
kill_done(void *arg, int rc)
{
	struct kill_child *k = *(struct kill_child **)arg;
	int64_t marker = *(int64_t *)((char *)arg + sizeof(void *));

	if (rc == 0 && write(k->fd, &marker, sizeof marker) != sizeof marker)
		_exit(3);
	free(arg);
	sem_post(&k->slots);
}

static void *
kill_writer(void *arg)
{
	struct kill_child *k = arg;

	for (;;) {
		struct ledger_row r = row_make("kill", "m", 0.0001);
		char *cb = xmalloc(sizeof(void *) + sizeof(int64_t));
		int64_t marker = k->base + atomic_fetch_add(&k->seq, 1);

		sem_wait(&k->slots);
		memcpy(cb, &k, sizeof(void *));
		memcpy(cb + sizeof(void *), &marker, sizeof marker);
		r.latency_us = (uint64_t)marker;
		ledger_record_async(k->s, &r, 0, kill_done, cb);
	}
	return NULL;
}

static void
kill_child_main(const char *path, int fd, long base, enum ledger_durability d)
{
	static struct kill_child k;
	pthread_t th[8];
	char *cause = NULL;

	if (store_open(&k.s, path, &cause) != 0 || ledger_set_durability(k.s, d, &cause) != 0)
		_exit(2);
	k.fd = fd;
	k.base = base;
	sem_init(&k.slots, 0, 256);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, kill_writer, &k);
	pthread_join(th[0], NULL);
	_exit(0);
}

static void
test_kill9_loses_nothing(void **state)
{
	char *path = xasprintf("%s/k.db", (char *)*state);
	struct rng rng;
	int64_t *told = NULL;
	size_t n_told = 0;

	rng_seed(&rng, 20250330);
	for (int round = 0; round < 5; round++) {
		int p[2], status;
		pid_t pid;
		size_t target = 20 + rng_next(&rng) % 400, got = 0;
		int killed = 0;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			/* Both durabilities: neither loses a told row to a crash of the process. */
			kill_child_main(path, p[1], (long)(round + 1) * 100000000L,
			    round % 2 ? LEDGER_DURABILITY_NORMAL : LEDGER_DURABILITY_FULL);
		}
		close(p[1]);
		for (;;) {
			struct pollfd pfd = {.fd = p[0], .events = POLLIN};
			int64_t buf[64];
			ssize_t n;

			/* every wait bounded: 30 s without a row is a failure */
			assert_true(poll(&pfd, 1, 30000) == 1);
			n = read(p[0], buf, sizeof buf);
			if (n == 0)
				break;
			assert_true(n > 0);
			assert_int_equal(n % (ssize_t)sizeof buf[0], 0);
			told =
			    xreallocarray(told, n_told + (size_t)n / sizeof buf[0], sizeof *told);
			memcpy(told + n_told, buf, (size_t)n);
			n_told += (size_t)n / sizeof buf[0];
			got += (size_t)n / sizeof buf[0];
			if (!killed && got >= target) {
				kill(pid, SIGKILL);
				killed = 1;
			}
		}
		close(p[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}

	/* every row the parent was told about is there, and the file is sound */
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		size_t missing = 0;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
		assert_int_equal(sqlite3_exec(db,
		                     "CREATE INDEX IF NOT EXISTS t_lat ON "
		                     "ledger(latency_us)",
		                     NULL, NULL, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM ledger WHERE latency_us = ?",
		                     -1, &st, NULL),
		    SQLITE_OK);
		for (size_t i = 0; i < n_told; i++) {
			sqlite3_bind_int64(st, 1, told[i]);
			if (sqlite3_step(st) != SQLITE_ROW)
				missing++;
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
		print_message("kill -9: 5 rounds, %zu rows acknowledged, %zu missing\n", n_told,
		    missing);
		assert_int_equal(missing, 0);
		assert_true(n_told >= 5 * 20);
	}
	/* and the store opens it again */
	{
		struct store *s;
		char *cause = NULL;

		assert_int_equal(store_open(&s, path, &cause), 0);
		store_close(s);
	}
	free(told);
	free(path);
}

/*
 * ledger.durability: the config key parses ("full", "normal", nothing else),
 * and the writer's connection runs the matching synchronous level (read back
 * from SQLite); rows commit either way.
 */
static void
test_durability(void **state)
{
	char *path = xasprintf("%s/d.db", (char *)*state);
	struct ledger_row r = row_make("anthropic", "claude-sonnet", 0.001);
	struct config cfg;
	struct store *s;
	char *cause = NULL;

	config_init(&cfg);
	/* The config's default: no fsync per commit (what llmdeck_open_store applies). */
	assert_int_equal(cfg.ledger.durability, LEDGER_DURABILITY_NORMAL);
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"durability\": \"full\"}}",
	                     "<string>", &cause),
	    0);
	assert_int_equal(cfg.ledger.durability, LEDGER_DURABILITY_FULL);
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"durability\": \"normal\"}}",
	                     "<string>", &cause),
	    0);
	assert_int_equal(cfg.ledger.durability, LEDGER_DURABILITY_NORMAL);
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"durability\": \"fast\"}}",
	                     "<string>", &cause),
	    -1);
	assert_non_null(strstr(cause, "ledger.durability"));
	assert_non_null(strstr(cause, "expected \"full\" or \"normal\""));
	free(cause);
	cause = NULL;
	assert_int_equal(config_load_string(&cfg, "{\"ledger\": {\"durable\": true}}", "<string>",
	                     &cause),
	    -1);
	free(cause);
	cause = NULL;
	assert_int_equal(cfg.ledger.durability, LEDGER_DURABILITY_NORMAL); /* unchanged */

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(ledger_synchronous(s), 2); /* a bare store handle: FULL */
	assert_int_equal(ledger_set_durability(s, cfg.ledger.durability, &cause), 0);
	assert_int_equal(ledger_synchronous(s), 1); /* NORMAL */
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(ledger_set_durability(s, LEDGER_DURABILITY_FULL, &cause), 0);
	assert_int_equal(ledger_synchronous(s), 2);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	store_close(s);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM ledger"), 2);
	config_free(&cfg);
	free(path);
}

static sem_t batch_sem;
static const char *batch_path;

static void
batch_row_done(void *arg, int rc)
{
	*(int *)arg = rc;
	sem_post(&batch_sem);
}

/* The bad row's done (on the writer, its batch over): the trigger stands down, so the
 * spool's replay lands it and no later batch fails on it, however the rows were batched. */
static void
bad_row_done(void *arg, int rc)
{
	sqlite3 *db;

	if (sqlite3_open(batch_path, &db) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		sqlite3_exec(db, "UPDATE bad_on SET v = 0", NULL, NULL, NULL);
	}
	sqlite3_close(db);
	batch_row_done(arg, rc);
}

/*
 * A row that fails (a trigger here; a constraint in real life) fails alone: the
 * rows batched with it are committed (the batch goes in without savepoints, and
 * again row by row in savepoints when one fails), and it goes to the spool.
 */
static void
test_a_bad_row_fails_alone(void **state)
{
	char *path = xasprintf("%s/b.db", (char *)*state);
	struct ledger_row good = row_make("anthropic", "claude-sonnet", 0.001);
	struct ledger_row bad = row_make("bad", "claude-sonnet", 0.001);
	struct store_health h;
	struct store *s;
	char *cause = NULL;
	int rc[3] = {-2, -2, -2};
	sqlite3 *db;

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	batch_path = path;
	assert_int_equal(sqlite3_exec(db,
	                     "CREATE TABLE bad_on (v INTEGER); INSERT INTO bad_on VALUES (1); "
	                     "CREATE TRIGGER no_bad BEFORE INSERT ON ledger WHEN NEW.provider = "
	                     "'bad' AND (SELECT v FROM bad_on) = 1 BEGIN SELECT RAISE(ABORT, "
	                     "'bad row'); END; BEGIN IMMEDIATE",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	/* The writer waits for the lock with the first row; the other two queue behind it and
	 * go in one batch once the lock is released. */
	sem_init(&batch_sem, 0, 0);
	ledger_record_async(s, &good, 0, batch_row_done, &rc[0]);
	ledger_record_async(s, &bad, 0, bad_row_done, &rc[1]);
	good.latency_us = 5678;
	ledger_record_async(s, &good, 0, batch_row_done, &rc[2]);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sem_wait(&batch_sem), 0);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], 0); /* spooled */
	assert_int_equal(rc[2], 0);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = "
	                     "'anthropic' AND latency_us IN (1234, 5678)"),
	    2);
	/* It went to the spool (rc 0 above, not in the ledger with the others' batch); with the trigger stood down its replay lands it, once. */
	sqlite3_close(db);
	store_close(s);
	assert_int_equal(store_open(&s, path, &cause), 0);
	store_health(s, &h);
	assert_int_equal(h.spooled_rows, 0);
	store_close(s);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = 'bad'"),
	    1);
	sem_destroy(&batch_sem);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_record_fields, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_record_usage_columns, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_group_commit_many_threads, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_reservation_settled, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_unpriced_event_once, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_durability, sttest_setup_dir, sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_a_bad_row_fails_alone, sttest_setup_dir,
	        sttest_teardown_dir),
	    cmocka_unit_test_setup_teardown(test_kill9_loses_nothing, sttest_setup_dir,
	        sttest_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
