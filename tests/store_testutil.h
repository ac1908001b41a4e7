/*
 * store_testutil.h: what the store, ledger, budget and cache tests share: a
 * scratch directory per test, a store in it on a settable clock, and a look
 * at the database file with a plain sqlite3 connection.
 */
#ifndef LLMDECK_STORE_TESTUTIL_H
#define LLMDECK_STORE_TESTUTIL_H

#include <stdint.h>

#include "store/store.h"

/* 2025-03-30 12:00:00 UTC: where a fixture's clock starts. */
#define STTEST_NOON 1743336000000LL

/* cmocka setup and teardown: a fresh /tmp/llmdeck-<program>-XXXXXX in *state,
 * removed with all below it (entries made writable first) after the test. */
int sttest_setup_dir(void **state);
int sttest_teardown_dir(void **state);

/* A store on dir/store.db whose clock reads now. */
struct sttest_store {
	char *dir;
	char *path;
	struct store *s;
	_Atomic int64_t now;
};
/* cmocka setup and teardown: a struct sttest_store in *state, now at STTEST_NOON. */
int sttest_setup_store(void **state);
int sttest_teardown_store(void **state);
/* The clock function behind the fixture (arg: the struct sttest_store), for
 * a store reopened on its path. */
int64_t sttest_clock(void *arg);

/* The first column of the first row sql returns on the database at path, -1
 * if no row; the open and the prepare are asserted. */
int64_t sttest_sql_int64(const char *path, const char *sql);
/* The same for a REAL: the first column of the first row, -1 if no row. */
double sttest_sql_double(const char *path, const char *sql);

#endif
