/*
 * test_ledger_spool.c: no answer without its charge. A ledger batch that
 * cannot commit (an injected write failure, a database locked past the busy
 * timeout, its file deleted) goes to the spool before its request is
 * answered, and is replayed exactly once when the store takes writes again;
 * a full spool refuses the rows it cannot take, with its reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/ledger.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"

static struct ledger_row
row_make(double cost)
{
	struct ledger_row r;

	memset(&r, 0, sizeof r);
	strlcpy_(r.route, "r\tx", sizeof r.route); /* a tab survives the spool */
	strlcpy_(r.provider, "anthropic", sizeof r.provider);
	strlcpy_(r.model, "claude-sonnet", sizeof r.model);
	r.input_tokens = 19;
	r.output_tokens = 10;
	r.cost_usd = cost;
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.attempts = 1;
	return r;
}

/* Lines (rows) in the spool file, and its size into *bytes. */
static long
spool_lines(struct store *s, long *bytes)
{
	struct store_health h;
	long n = 0;
	FILE *f;
	int c;

	store_health(s, &h);
	*bytes = 0;
	if ((f = fopen(h.spool_path, "r")) == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF) {
		(*bytes)++;
		n += c == '\n';
	}
	fclose(f);
	return n;
}

/* Wait up to ms for the store to be failing (want 1) or healthy with an empty spool (0). */
static int
wait_health(struct store *s, int want, int ms)
{
	struct store_health h;

	for (int waited = 0;; waited += 20) {
		store_health(s, &h);
		if (want ? h.failing : !h.failing && h.spooled_rows == 0)
			return waited;
		if (waited >= ms)
			return -1;
		usleep(20000);
	}
}

static void
test_a_failed_commit_is_spooled_then_replayed_once(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	char *cause = NULL, *copy, *cmd;
	struct ledger_row r = row_make(0.01);
	long bytes;

	store_test_fail_writes(t->s, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0); /* spooled: recorded */
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 0);
	assert_int_equal(spool_lines(t->s, &bytes), 5);
	assert_true(bytes > 5 * 100);
	store_health(t->s, &h);
	assert_int_equal(h.failing, 1);
	assert_int_equal(h.spooled_rows, 5);
	assert_non_null(strstr(h.reason, "injected write failure"));
	/* What a crash between the replay's commit and the spool's truncation leaves. */
	copy = xasprintf("%s/spool.copy", t->dir);
	cmd = xasprintf("cp %s %s", h.spool_path, copy);
	assert_int_equal(system(cmd), 0);
	free(cmd);

	store_test_fail_writes(t->s, 0);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 5);
	assert_int_equal(sttest_sql_int64(t->path,
	                     "SELECT count(*) FROM ledger WHERE route = "
	                     "'r\tx'"),
	    5);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
	assert_int_equal(bytes, 0);
	/* A new row commits at once again. */
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 6);

	/* The same spool replayed again on the next open: the uids make it a no-op. */
	store_close(t->s);
	cmd = xasprintf("cp %s %s", copy, h.spool_path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(store_open(&t->s, t->path, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 6);
	assert_true(sttest_sql_double(t->path, "SELECT TOTAL(cost_usd) FROM ledger") < 0.0601);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
	free(copy);
}

static void
test_a_torn_last_record_is_dropped(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	char *cause = NULL;
	struct ledger_row r = row_make(0.02);
	long bytes;
	FILE *f;

	store_test_fail_writes(t->s, 1);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	store_health(t->s, &h);
	store_close(t->s);
	/* A crash in the middle of an append: half a line, no newline. */
	f = fopen(h.spool_path, "a");
	assert_non_null(f);
	fputs("L1\tdeadbeef-1\t0\t1700000000000\tr\tanthropic\tclaude", f);
	fclose(f);
	assert_int_equal(store_open(&t->s, t->path, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
	assert_int_equal(spool_lines(t->s, &bytes), 0);
}

static void
test_a_full_spool_refuses_with_its_reason(void **state)
{
	struct sttest_store *t = *state;
	struct store_health h;
	struct ledger_row r = row_make(0.01);
	char *cause = NULL;
	long bytes;

	ledger_set_spool_max(t->s, 3);
	store_test_fail_writes(t->s, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), -1);
	assert_non_null(strstr(cause, "the ledger cannot be written: "));
	assert_non_null(strstr(cause, "injected write failure"));
	assert_non_null(strstr(cause, "3 rows spooled at "));
	assert_non_null(strstr(cause, "-spool"));
	free(cause);
	store_health(t->s, &h);
	assert_int_equal(h.spool_full, 1);
	assert_int_equal(spool_lines(t->s, &bytes), 3);
	store_test_fail_writes(t->s, 0);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	store_health(t->s, &h);
	assert_int_equal(h.spool_full, 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 3);
}

static void
test_a_deleted_database_is_noticed_and_reopened(void **state)
{
	struct sttest_store *t = *state;
	struct ledger_row r = row_make(0.01);
	struct store *other;
	char *cause = NULL, *p;
	long bytes;
	int waited;

	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	for (int i = 0; i < 3; i++) {
		p = xasprintf("%s%s", t->path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(p);
		free(p);
	}
	waited = wait_health(t->s, 1, 2000);
	print_message("deleted database noticed after %d ms\n", waited);
	assert_true(waited >= 0);
	/* The answer path spools. */
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(spool_lines(t->s, &bytes), 1);
	/* A database at the path again (another handle creates it): reopened, replayed. */
	assert_int_equal(store_open(&other, t->path, &cause), 0);
	store_close(other);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 2);
}

static void
test_a_locked_database_takes_the_same_path(void **state)
{
	struct sttest_store *t = *state;
	struct ledger_row r = row_make(0.01);
	struct store_health h;
	char *cause = NULL;
	sqlite3 *db;
	long bytes;
	uint64_t t0;

	store_test_busy_timeout(t->s, 300);
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	t0 = clock_mono_ms();
	assert_int_equal(ledger_record(t->s, &r, 0, &cause), 0);
	print_message("a locked database spooled the row after %llu ms\n",
	    (unsigned long long)(clock_mono_ms() - t0));
	assert_int_equal(spool_lines(t->s, &bytes), 1);
	store_health(t->s, &h);
	assert_int_equal(h.failing, 1);
	assert_non_null(strstr(h.reason, "locked"));
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_true(wait_health(t->s, 0, 10000) >= 0);
	assert_int_equal(sttest_sql_int64(t->path, "SELECT count(*) FROM ledger"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_failed_commit_is_spooled_then_replayed_once,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_torn_last_record_is_dropped, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_full_spool_refuses_with_its_reason,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_deleted_database_is_noticed_and_reopened,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_a_locked_database_takes_the_same_path,
	        sttest_setup_store, sttest_teardown_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
