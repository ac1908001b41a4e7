/* test_responses_store.c: stored Responses API responses, in the database and in memory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/responses.h"
#include "store/store.h"
#include "store_testutil.h"
#include "util/util.h"
#include "util/waiter.h"

/* Put and wait for the commit; returns its rc. */
static int
put_wait(struct resp_store *rs, const char *id, const char *json)
{
	struct waiter w;

	waiter_init(&w);
	resp_store_put(rs, id, json, waiter_done_rc, &w);
	return waiter_wait(&w);
}

static void
test_db_put_get_delete(void **state)
{
	struct sttest_store *f = *state;
	struct resp_store *rs = resp_store_new(f->s, 60);
	char *got;
	int err = -1;

	assert_null(resp_store_get(rs, "resp_1", &err));
	assert_int_equal(err, 0);
	assert_int_equal(put_wait(rs, "resp_1", "{\"input\":[],\"response\":{\"id\":\"resp_1\"}}"),
	    0);
	/* The row is in the file, committed. */
	assert_int_equal(sttest_sql_int64(f->path,
	                     "SELECT COUNT(*) FROM responses WHERE id = "
	                     "'resp_1'"),
	    1);
	got = resp_store_get(rs, "resp_1", &err);
	assert_non_null(got);
	assert_string_equal(got, "{\"input\":[],\"response\":{\"id\":\"resp_1\"}}");
	free(got);
	/* Replaced, not doubled. */
	assert_int_equal(put_wait(rs, "resp_1", "{\"v\":2}"), 0);
	got = resp_store_get(rs, "resp_1", NULL);
	assert_string_equal(got, "{\"v\":2}");
	free(got);
	assert_int_equal(resp_store_delete(rs, "resp_1"), 1);
	assert_int_equal(resp_store_delete(rs, "resp_1"), 0);
	assert_null(resp_store_get(rs, "resp_1", NULL));
	assert_int_equal(sttest_sql_int64(f->path, "SELECT COUNT(*) FROM responses"), 0);
	resp_store_free(rs);
}

static void
test_db_ttl(void **state)
{
	struct sttest_store *f = *state;
	struct resp_store *rs = resp_store_new(f->s, 60);
	char *got;

	assert_int_equal(put_wait(rs, "resp_old", "{}"), 0);
	f->now += 59 * 1000;
	got = resp_store_get(rs, "resp_old", NULL);
	assert_non_null(got);
	free(got);
	f->now += 2 * 1000;
	assert_null(resp_store_get(rs, "resp_old", NULL));
	assert_int_equal(resp_store_delete(rs, "resp_old"), 0);
	/* The next put removes the expired row from the file. */
	assert_int_equal(put_wait(rs, "resp_new", "{}"), 0);
	assert_int_equal(sttest_sql_int64(f->path, "SELECT COUNT(*) FROM responses"), 1);
	resp_store_free(rs);
}

/* A second process on the same file reads what the first stored. */
static void
test_db_shared(void **state)
{
	struct sttest_store *f = *state;
	struct resp_store *a = resp_store_new(f->s, 0), *b;
	struct store *other;
	char *cause = NULL, *got;

	assert_int_equal(store_open(&other, f->path, &cause), 0);
	store_set_clock(other, sttest_clock, f);
	b = resp_store_new(other, 0);
	assert_int_equal(put_wait(a, "resp_shared", "{\"x\":1}"), 0);
	got = resp_store_get(b, "resp_shared", NULL);
	assert_non_null(got);
	assert_string_equal(got, "{\"x\":1}");
	free(got);
	assert_int_equal(resp_store_delete(b, "resp_shared"), 1);
	assert_null(resp_store_get(a, "resp_shared", NULL));
	resp_store_free(b);
	store_close(other);
	resp_store_free(a);
}

static void
test_memory(void **state)
{
	struct resp_store *rs = resp_store_new(NULL, 0);
	char id[32], *got;

	(void)state;
	assert_int_equal(put_wait(rs, "resp_a", "{\"a\":1}"), 0);
	got = resp_store_get(rs, "resp_a", NULL);
	assert_string_equal(got, "{\"a\":1}");
	free(got);
	assert_int_equal(resp_store_delete(rs, "resp_a"), 1);
	assert_null(resp_store_get(rs, "resp_a", NULL));
	/* Past the cap the oldest go. */
	for (int i = 0; i < RESP_STORE_MEMORY_MAX + 10; i++) {
		snprintf(id, sizeof id, "resp_%d", i);
		resp_store_put(rs, id, "{}", NULL, NULL);
	}
	assert_null(resp_store_get(rs, "resp_0", NULL));
	assert_null(resp_store_get(rs, "resp_9", NULL));
	got = resp_store_get(rs, "resp_10", NULL);
	assert_non_null(got);
	free(got);
	snprintf(id, sizeof id, "resp_%d", RESP_STORE_MEMORY_MAX + 9);
	got = resp_store_get(rs, id, NULL);
	assert_non_null(got);
	free(got);
	resp_store_free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_db_put_get_delete, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_db_ttl, sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_db_shared, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test(test_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
