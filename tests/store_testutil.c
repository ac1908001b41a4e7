/* store_testutil.c: scratch directories, a store fixture and SQL peeks for the store tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_testutil.h"
#include "util/util.h"

static int
sttest_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(p, 0700);
	return remove(p);
}

/* Named after the test program, so a leftover directory says whose it is. */
static char *
sttest_mkdtemp(void)
{
	char *d = xasprintf("/tmp/llmdeck-%s-XXXXXX", program_invocation_short_name);

	if (mkdtemp(d) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

static void
sttest_rmtree(char *dir)
{
	nftw(dir, sttest_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

int
sttest_setup_dir(void **state)
{
	return (*state = sttest_mkdtemp()) != NULL ? 0 : -1;
}

int
sttest_teardown_dir(void **state)
{
	sttest_rmtree(*state);
	return 0;
}

int64_t
sttest_clock(void *arg)
{
	struct sttest_store *f = arg;

	return atomic_load(&f->now);
}

int
sttest_setup_store(void **state)
{
	struct sttest_store *f = xcalloc(1, sizeof *f);
	char *cause = NULL;

	if ((f->dir = sttest_mkdtemp()) == NULL)
		return -1;
	f->path = xasprintf("%s/store.db", f->dir);
	if (store_open(&f->s, f->path, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return -1;
	}
	atomic_store(&f->now, STTEST_NOON);
	store_set_clock(f->s, sttest_clock, f);
	*state = f;
	return 0;
}

int
sttest_teardown_store(void **state)
{
	struct sttest_store *f = *state;

	store_close(f->s);
	sttest_rmtree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

int64_t
sttest_sql_int64(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

double
sttest_sql_double(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	double v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}
