/* test_store.c: opening, schema and migrations, refusals, events, overrides, day bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/ledger.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"

/* The read-only test's directory is made writable again first, whatever the test left. */
static int
teardown_dir(void **state)
{
	char *ro = xasprintf("%s/ro", (char *)*state);

	chmod(ro, 0700);
	free(ro);
	return sttest_teardown_dir(state);
}

static void
test_open_default_path(void **state)
{
	char *xdg = xasprintf("%s/state", (char *)*state), *expect, *dir;
	struct store *s;
	char *cause = NULL;
	struct stat st;

	setenv("XDG_STATE_HOME", xdg, 1);
	assert_int_equal(store_open(&s, NULL, &cause), 0);
	expect = xasprintf("%s/llmdeck/llmdeck.db", xdg);
	assert_string_equal(store_path(s), expect);
	store_close(s);
	dir = xasprintf("%s/llmdeck", xdg);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(expect, &st), 0);
	/* WAL and the schema version */
	assert_int_equal(sttest_sql_int64(expect, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sttest_sql_int64(expect,
	                     "SELECT journal_mode = 'wal' FROM pragma_journal_mode"),
	    1);
	unsetenv("XDG_STATE_HOME");
	free(dir);
	free(expect);
	free(xdg);
}

static void
test_reopen_keeps_data(void **state)
{
	char *path = xasprintf("%s/a.db", (char *)*state);
	struct store_event ev[4];
	struct store *s;
	char *cause = NULL;

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(store_event_add(s, 1000, "operator", "anthropic", "drained"), 0);
	store_close(s);
	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(store_events_last(s, ev, 4), 1);
	assert_int_equal(ev[0].time_ms, 1000);
	assert_string_equal(ev[0].kind, "operator");
	assert_string_equal(ev[0].provider, "anthropic");
	assert_string_equal(ev[0].message, "drained");
	store_close(s);
	free(path);
}

/* The database, its WAL and its SHM are the owner's alone, whatever the umask. */
static void
test_files_private(void **state)
{
	char *path = xasprintf("%s/private.db", (char *)*state);
	const char *suffix[] = {"", "-wal", "-shm"};
	struct store *s;
	char *cause = NULL;
	mode_t old = umask(022);

	assert_int_equal(store_open(&s, path, &cause), 0);
	umask(old);
	assert_int_equal(store_event_add(s, 1000, "operator", NULL, "x"), 0);
	for (size_t i = 0; i < 3; i++) {
		char *f = xasprintf("%s%s", path, suffix[i]);
		struct stat st;

		assert_int_equal(stat(f, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		free(f);
	}
	store_close(s);
	free(path);
}

static int64_t
fixed_clock(void *arg)
{
	return *(int64_t *)arg;
}

/* Instances beat, are listed live first, and are gone after 10 s unseen. */
static void
test_instances(void **state)
{
	char *path = xasprintf("%s/inst.db", (char *)*state);
	struct store_instance a = {.id = "web1-1",
	    .host = "web1",
	    .pid = 1,
	    .admin_url = "http://127.0.0.1:1/",
	    .version = "1",
	    .config_hash = "h",
	    .started_ms = 5,
	    .state = "ready"};
	struct store_instance b = a, *v;
	int64_t now = STTEST_NOON;
	struct store *s;
	char *cause = NULL;

	strlcpy_(b.id, "web2-2", sizeof b.id);
	assert_int_equal(store_open(&s, path, &cause), 0);
	store_set_clock(s, fixed_clock, &now);
	assert_int_equal(store_instance_beat(s, &b), 0);
	now += 6000;
	assert_int_equal(store_instance_beat(s, &a), 0);
	assert_int_equal(store_instances(s, &v), 2);
	assert_string_equal(v[0].id, "web1-1");
	assert_string_equal(v[0].admin_url, "http://127.0.0.1:1/");
	assert_int_equal(v[0].seen_ms, now);
	assert_false(v[0].gone);
	assert_false(v[1].gone);
	free(v);
	now += 5000; /* web2 unseen for 11 s */
	assert_int_equal(store_instances(s, &v), 2);
	assert_string_equal(v[0].id, "web1-1");
	assert_false(v[0].gone);
	assert_string_equal(v[1].id, "web2-2");
	assert_true(v[1].gone);
	free(v);
	assert_int_equal(store_instance_remove(s, "web2-2"), 0);
	assert_int_equal(store_instances(s, &v), 1);
	free(v);
	store_close(s);
	free(path);
}

static void
test_newer_schema_refused(void **state)
{
	char *path = xasprintf("%s/new.db", (char *)*state);
	struct store *s;
	char *cause = NULL;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(a); PRAGMA user_version=99", NULL, NULL,
	                     NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, path, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "newer"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	/* untouched */
	assert_int_equal(sttest_sql_int64(path, "PRAGMA user_version"), 99);
	free(path);
}

/* A version-8 database (main's instance registry, no ledger uid) gains the uid (9),
 * the fleet's rate limit allowances (10) and instance-scoped overrides (11), and keeps
 * its instances, overrides and rows. */
static void
test_migration_from_v8(void **state)
{
	char *path = xasprintf("%s/v8.db", (char *)*state);
	struct store_instance in = {0}, *v = NULL;
	struct ledger_row r = {0};
	struct store *s;
	char *cause = NULL;
	sqlite3 *db;

	assert_int_equal(store_open(&s, path, &cause), 0);
	strlcpy_(in.id, "a-1", sizeof in.id);
	strlcpy_(in.host, "h", sizeof in.host);
	strlcpy_(in.state, "serving", sizeof in.state);
	in.seen_ms = store_now_ms(s);
	assert_int_equal(store_instance_beat(s, &in), 0);
	store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "DROP INDEX ledger_uid; ALTER TABLE ledger DROP COLUMN uid; "
	                     "DROP TABLE rate_windows; DROP TABLE teams; DROP TABLE keys; "
	                     "DROP TABLE keys_meta; DROP TABLE scope_spend; "
	                     "DROP TABLE scope_reservations; DROP INDEX ledger_key_time; "
	                     "DROP INDEX ledger_team_time; ALTER TABLE ledger DROP COLUMN key_id; "
	                     "ALTER TABLE ledger DROP COLUMN team; "
	                     "ALTER TABLE ledger DROP COLUMN operator_test; DROP TABLE overrides; "
	                     "CREATE TABLE overrides (provider TEXT NOT NULL, field TEXT NOT "
	                     "NULL, value TEXT NOT NULL, PRIMARY KEY (provider, field)); "
	                     "INSERT INTO overrides VALUES ('p', 'admin', 'drained'); "
	                     "PRAGMA user_version=8; "
	                     "INSERT INTO ledger(time_ms, provider, model, cost_usd) VALUES "
	                     "(strftime('%s','now') * 1000, 'p', 'm', 1.25)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(sttest_sql_int64(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(STORE_SCHEMA_VERSION, 12);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM overrides WHERE provider = 'p' AND instance = "
	                     "'' "
	                     "AND value = 'drained'"),
	    1);
	assert_int_equal(store_instances(s, &v), 1);
	free(v);
	r.cost_usd = 0.5;
	strlcpy_(r.provider, "p", sizeof r.provider);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	store_close(s);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM ledger WHERE uid IS NULL"),
	    1);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE uid IS NOT NULL"),
	    1);
	free(path);
}

static void
test_migration_from_v1(void **state)
{
	char *path = xasprintf("%s/v1.db", (char *)*state);
	struct budget_conf bc = {.daily_usd = 10, .alert_threshold = 0.8, .hard_stop = 1};
	struct budget_status bs;
	struct store *s;
	char *cause = NULL;
	sqlite3 *db;

	/* a version-1 database with spend in it */
	assert_int_equal(store_open(&s, path, &cause), 0);
	store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "DROP INDEX ledger_uid; ALTER TABLE ledger DROP COLUMN uid; "
	                     "ALTER TABLE ledger DROP COLUMN cache_read_tokens; "
	                     "ALTER TABLE ledger DROP COLUMN cache_write_tokens; "
	                     "ALTER TABLE ledger DROP COLUMN cache_write_1h_tokens; "
	                     "ALTER TABLE ledger DROP COLUMN reasoning_tokens; "
	                     "ALTER TABLE cache DROP COLUMN parts; "
	                     "ALTER TABLE cache DROP COLUMN cache_write_1h_tokens; "
	                     "ALTER TABLE cache DROP COLUMN reasoning_tokens; "
	                     "ALTER TABLE events DROP COLUMN instance; "
	                     "DROP TABLE responses; DROP TABLE instances; "
	                     "DROP TABLE budget_leases; DROP TABLE rate_windows; "
	                     "DROP TABLE teams; DROP TABLE keys; DROP TABLE keys_meta; "
	                     "DROP TABLE scope_spend; DROP TABLE scope_reservations; "
	                     "DROP INDEX ledger_key_time; DROP INDEX ledger_team_time; "
	                     "ALTER TABLE ledger DROP COLUMN key_id; "
	                     "ALTER TABLE ledger DROP COLUMN team; "
	                     "ALTER TABLE ledger DROP COLUMN operator_test; "
	                     "DROP TABLE spend_buckets; ALTER TABLE ledger DROP COLUMN "
	                     "usage_estimated; ALTER TABLE ledger DROP COLUMN response_id; "
	                     "PRAGMA user_version=1; "
	                     "INSERT INTO ledger(time_ms, provider, model, cost_usd) VALUES "
	                     "(strftime('%s','now') * 1000, 'p', 'm', 1.25), "
	                     "(strftime('%s','now') * 1000, 'p', 'm', 0.5)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(sttest_sql_int64(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(budget_get_status(s, &bc, &bs, &cause), 0);
	assert_true(bs.spent_usd == 1.75);
	store_close(s);
	free(path);
}

static void
test_corrupt_file_refused(void **state)
{
	char *path = xasprintf("%s/corrupt.db", (char *)*state);
	char garbage[8192], back[8192];
	struct store *s;
	char *cause = NULL;
	FILE *f;

	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)(i * 7 + 13);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(garbage, 1, sizeof garbage, f), sizeof garbage);
	fclose(f);
	assert_int_equal(store_open(&s, path, &cause), -1);
	assert_null(s);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "corrupt"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	/* nothing silently reset */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, sizeof back, f), sizeof back);
	fclose(f);
	assert_memory_equal(garbage, back, sizeof back);
	free(path);
}

static void
test_readonly_dir_refused(void **state)
{
	char *dir = xasprintf("%s/ro", (char *)*state);
	char *path = xasprintf("%s/x.db", dir);
	char *nodir = xasprintf("%s/missing/x.db", (char *)*state);
	struct store *s;
	char *cause = NULL;

	/* a missing directory given with --db is not created: clear error */
	assert_int_equal(store_open(&s, nodir, &cause), -1);
	assert_non_null(strstr(cause, nodir));
	free(cause);
	cause = NULL;

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0500), 0);
	if (geteuid() == 0 || access(dir, W_OK) == 0) {
		/* root ignores the mode bits: the assertion cannot hold here. */
		chmod(dir, 0700);
		free(dir);
		free(path);
		free(nodir);
		skip();
	}
	assert_int_equal(store_open(&s, path, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "not writable"));
	free(cause);
	chmod(dir, 0700);
	free(dir);
	free(path);
	free(nodir);
}

static void
test_events_last(void **state)
{
	char *path = xasprintf("%s/ev.db", (char *)*state);
	struct store_event ev[30];
	struct store *s;
	char *cause = NULL, msg[32];

	assert_int_equal(store_open(&s, path, &cause), 0);
	for (int i = 0; i < 25; i++) {
		snprintf(msg, sizeof msg, "event %d", i);
		assert_int_equal(store_event_add(s, 1000 + i, "info", NULL, msg), 0);
	}
	assert_int_equal(store_events_last(s, ev, 20), 20);
	assert_string_equal(ev[0].message, "event 5");
	assert_string_equal(ev[19].message, "event 24");
	assert_string_equal(ev[19].provider, "");
	store_close(s);
	free(path);
}

struct ov {
	char text[512];
	int n;
};

static void
ov_cb(void *arg, const char *provider, const char *field, const char *value)
{
	struct ov *o = arg;
	size_t len = strlen(o->text);

	snprintf(o->text + len, sizeof o->text - len, "%s.%s=%s;", provider, field, value);
	o->n++;
}

static void
test_overrides(void **state)
{
	char *path = xasprintf("%s/ov.db", (char *)*state);
	struct store *s;
	char *cause = NULL;
	struct ov o = {"", 0};

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(store_override_set(s, "openai", "weight", "2"), 0);
	assert_int_equal(store_override_set(s, "anthropic", "admin", "drained"), 0);
	assert_int_equal(store_override_set(s, "anthropic", "priority", "3"), 0);
	assert_int_equal(store_override_set(s, "anthropic", "priority", "4"), 0);
	store_close(s);
	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(store_overrides(s, ov_cb, &o), 0);
	assert_string_equal(o.text,
	    "anthropic.admin=drained;anthropic.priority=4;openai.weight=2;");
	/* One instance's own rows come after the fleet-wide ones, named NAME@INSTANCE;
	 * clearing one scope leaves the others. */
	assert_int_equal(store_override_set_for(s, "openai", "gw1", "weight", "5"), 0);
	assert_int_equal(store_override_set_for(s, "openai", "gw2", "admin", "disabled"), 0);
	o.text[0] = '\0';
	assert_int_equal(store_overrides(s, ov_cb, &o), 0);
	assert_string_equal(o.text,
	    "anthropic.admin=drained;anthropic.priority=4;openai.weight=2;"
	    "openai@gw1.weight=5;openai@gw2.admin=disabled;");
	assert_int_equal(store_override_clear_for(s, "openai", "gw1"), 0);
	assert_int_equal(store_override_clear_for(s, NULL, "gw2"), 0);
	assert_int_equal(store_override_clear(s, "anthropic"), 0);
	o.text[0] = '\0';
	assert_int_equal(store_overrides(s, ov_cb, &o), 0);
	assert_string_equal(o.text, "openai.weight=2;");
	assert_int_equal(store_override_clear(s, NULL), 0);
	o.text[0] = '\0';
	o.n = 0;
	assert_int_equal(store_overrides(s, ov_cb, &o), 0);
	assert_int_equal(o.n, 0);
	store_close(s);
	free(path);
}

static void
test_day_bounds(void **state)
{
	int64_t start, end;
	char day[16];
	/* 2025-03-30 12:00:00 UTC */
	int64_t noon = 1743336000000LL;
	struct stat st;

	(void)state;
	assert_int_equal(store_day_bounds(NULL, noon, &start, &end, day), 0);
	assert_string_equal(day, "2025-03-30");
	assert_int_equal(start, 1743292800000LL);
	assert_int_equal(end - start, 86400000);
	assert_int_equal(store_day_bounds("UTC", start, &start, &end, day), 0);
	assert_string_equal(day, "2025-03-30");
	assert_int_equal(store_day_bounds("UTC", start - 1, &start, &end, day), 0);
	assert_string_equal(day, "2025-03-29");

	/* +02:00: the day starts at 22:00 UTC the day before */
	assert_int_equal(store_day_bounds("+02:00", noon, &start, &end, day), 0);
	assert_string_equal(day, "2025-03-30");
	assert_int_equal(start, 1743292800000LL - 2 * 3600000);
	assert_int_equal(store_day_bounds("+02:00", 1743292800000LL - 2 * 3600000 - 1, &start, &end,
	                     day),
	    0);
	assert_string_equal(day, "2025-03-29");
	/* -05:30 at 03:00 UTC is still the day before */
	assert_int_equal(store_day_bounds("-0530", 1743292800000LL + 3 * 3600000, &start, &end,
	                     day),
	    0);
	assert_string_equal(day, "2025-03-29");
	assert_int_equal(store_day_bounds("UTC+01:00", noon, &start, &end, day), 0);
	assert_int_equal(start, 1743292800000LL - 3600000);

	assert_int_equal(store_day_bounds("+2x", noon, &start, &end, day), -1);
	assert_int_equal(store_day_bounds("+99:00", noon, &start, &end, day), -1);
	assert_int_equal(store_day_bounds("Nowhere/Atlantis", noon, &start, &end, day), -1);
	assert_int_equal(store_day_bounds("../../etc/passwd", noon, &start, &end, day), -1);

	if (stat("/usr/share/zoneinfo/Europe/Paris", &st) == 0 && getenv("TZDIR") == NULL) {
		const char *before = getenv("TZ");

		/* 2025-03-30 is the spring-forward day in Paris: 23 hours long */
		assert_int_equal(store_day_bounds("Europe/Paris", noon, &start, &end, day), 0);
		assert_string_equal(day, "2025-03-30");
		assert_int_equal(start, 1743292800000LL - 3600000);
		assert_int_equal(end - start, 23 * 3600000);
		/* TZ restored */
		assert_true((before == NULL) == (getenv("TZ") == NULL));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_default_path, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_reopen_keeps_data, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_files_private, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_instances, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, sttest_setup_dir,
	        teardown_dir),
	    cmocka_unit_test_setup_teardown(test_migration_from_v1, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_migration_from_v8, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_corrupt_file_refused, sttest_setup_dir,
	        teardown_dir),
	    cmocka_unit_test_setup_teardown(test_readonly_dir_refused, sttest_setup_dir,
	        teardown_dir),
	    cmocka_unit_test_setup_teardown(test_events_last, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_overrides, sttest_setup_dir, teardown_dir),
	    cmocka_unit_test(test_day_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
