/*
 * test_store_backends.c: the store's shared behaviour, run on both backends:
 * SQLite (a file in a scratch directory) and PostgreSQL (a throwaway cluster
 * this binary starts: pg_testutil.h; under CI=true a missing PostgreSQL is a
 * failure, elsewhere those cases skip). Two handles on one database stand for
 * two instances of a fleet.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_testutil.h"
#include "store/budget.h"
#include "store/cache.h"
#include "store/ledger.h"
#include "store/responses.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

static struct pgtest *pg;
static char *pg_why;
static int pg_tried;

/* A test's database: a file under a scratch directory, or a fresh PostgreSQL database. */
struct fixture {
	int postgres;
	char *dir;
	char *where;
	_Atomic int64_t now;
};

static int64_t
fx_clock(void *arg)
{
	return atomic_load(&((struct fixture *)arg)->now);
}

static int
setup(void **state, int postgres)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	void *dir;

	f->postgres = postgres;
	atomic_store(&f->now, STTEST_NOON);
	sttest_setup_dir(&dir);
	f->dir = dir;
	/* PostgreSQL's spool lives under the state directory: the scratch one. */
	setenv("XDG_STATE_HOME", f->dir, 1);
	if (!postgres) {
		f->where = xasprintf("%s/store.db", f->dir);
	} else {
		if (!pg_tried) {
			pg_tried = 1;
			pg = pgtest_start(&pg_why);
		}
		if (pg != NULL)
			f->where = pgtest_new_db(pg);
	}
	*state = f;
	return 0;
}

static int
setup_sqlite(void **state)
{
	return setup(state, 0);
}

static int
setup_pg(void **state)
{
	return setup(state, 1);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->dir != NULL) {
		void *dir = f->dir;

		sttest_teardown_dir(&dir);
	}
	free(f->where);
	free(f);
	return 0;
}

/* A handle on the fixture's database, on its clock; skips (fails under CI) without PostgreSQL. */
static struct store *
fx_open(struct fixture *f, const char *instance)
{
	struct store *s;
	char *cause = NULL;

	if (f->where == NULL)
		testkit_missing(pg_why != NULL ? pg_why : "PostgreSQL: no database");
	if (store_open(&s, f->where, &cause) != 0)
		fail_msg("store_open %s: %s", f->where, cause);
	store_set_clock(s, fx_clock, f);
	store_set_instance(s, instance);
	return s;
}

static struct ledger_row
row_of(const char *provider, double cost, int64_t time_ms)
{
	struct ledger_row r;

	memset(&r, 0, sizeof r);
	r.time_ms = time_ms;
	strlcpy_(r.provider, provider, sizeof r.provider);
	strlcpy_(r.model, "m", sizeof r.model);
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.input_tokens = 10;
	r.output_tokens = 5;
	r.cost_usd = cost;
	r.attempts = 1;
	return r;
}

/* Rows committed by one handle are read back, grouped, by another. */
static void
test_ledger_rows(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	struct ledger_group *g;
	char *cause = NULL;
	struct ledger_row r;

	r = row_of("anthropic", 0.25, STTEST_NOON);
	assert_int_equal(ledger_record(a, &r, 0, &cause), 0);
	r = row_of("anthropic", 0.5, STTEST_NOON + 1);
	strlcpy_(r.outcome, "error", sizeof r.outcome);
	assert_int_equal(ledger_record(a, &r, 0, &cause), 0);
	r = row_of("openai", 0.125, STTEST_NOON + 2);
	assert_int_equal(ledger_record(a, &r, 0, &cause), 0);
	assert_int_equal(ledger_groups(b, STTEST_NOON, STTEST_NOON + 10, 0, &g, &cause), 2);
	assert_string_equal(g[0].name, "anthropic");
	assert_int_equal(g[0].requests, 2);
	assert_int_equal(g[0].errors, 1);
	assert_int_equal(g[0].input_tokens, 20);
	assert_true(g[0].cost_usd == 0.75);
	assert_string_equal(g[1].name, "openai");
	free(g);
	assert_true(ledger_spent(b, STTEST_NOON, STTEST_NOON + 10) == 0.875);
	assert_int_equal(ledger_synchronous(a), 2);
	store_close(b);
	store_close(a);
}

/* Two "instances", four threads each, spend to the end of a $1 hard-stop day. */
struct spender {
	struct store *s;
	const struct budget_conf *bc;
	int refused, errors;
	double spent;
};

static void *
spend_main(void *arg)
{
	struct spender *sp = arg;

	for (int i = 0; i < 400; i++) {
		int64_t id = 0;
		char *cause = NULL;
		int rc = budget_reserve(sp->s, sp->bc, 0.02, &id, &cause);
		struct ledger_row r;

		free(cause);
		if (rc == 1) {
			sp->refused++;
			break;
		}
		if (rc != 0) {
			sp->errors++;
			break;
		}
		/* what it really cost: at most its upper bound */
		r = row_of("p", 0.005 + (i % 4) * 0.005, 0);
		if (ledger_record(sp->s, &r, id, NULL) != 0) {
			sp->errors++;
			break;
		}
		sp->spent += r.cost_usd;
	}
	return NULL;
}

static void
test_budget_two_instances(void **state)
{
	struct fixture *f = *state;
	struct budget_conf bc = {.daily_usd = 1, .alert_threshold = 0.8, .hard_stop = 1};
	struct store *s[2] = {fx_open(f, "a-1"), fx_open(f, "b-2")};
	struct spender sp[8];
	pthread_t th[8];
	struct budget_status bs;
	double spent = 0;
	char *cause = NULL;

	memset(sp, 0, sizeof sp);
	for (int i = 0; i < 8; i++) {
		sp[i].s = s[i % 2];
		sp[i].bc = &bc;
		pthread_create(&th[i], NULL, spend_main, &sp[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sp[i].errors, 0);
		spent += sp[i].spent;
	}
	assert_int_equal(budget_get_status(s[1], &bc, &bs, &cause), 0);
	/* never over the day's budget, and not far under it either */
	assert_true(bs.spent_usd <= 1.0 + 1e-9);
	assert_true(bs.spent_usd > 0.8);
	assert_true(bs.spent_usd > spent - 1e-9 && bs.spent_usd < spent + 1e-9);
	assert_true(bs.alert_crossed);
	store_close(s[0]);
	store_close(s[1]);
}

static void
test_events(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	struct store_event ev[4];
	int64_t last = store_events_last_id(b);

	assert_true(last >= 0);
	assert_int_equal(store_event_add(a, 1000, "operator", "anthropic", "drained"), 0);
	assert_int_equal(store_event_add(a, 2000, "failover", NULL, "x"), 0);
	assert_int_equal(store_events_after(b, last, ev, 4), 2);
	assert_string_equal(ev[0].kind, "operator");
	assert_string_equal(ev[0].provider, "anthropic");
	assert_string_equal(ev[0].message, "drained");
	assert_string_equal(ev[0].instance, "a-1");
	assert_string_equal(ev[1].provider, "");
	assert_int_equal(store_events_last(b, ev, 1), 1);
	assert_string_equal(ev[0].kind, "failover");
	assert_int_equal(store_events_last_id(b), ev[0].id);
	store_close(b);
	store_close(a);
}

static atomic_int hooked;

static void
on_change(void *arg)
{
	(void)arg;
	atomic_fetch_add(&hooked, 1);
}

/* An override set by one handle is seen by the other within 250 ms. */
static void
test_overrides_reach_other(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	int64_t v0, v;
	uint64_t t0, waited;
	struct buf rows;

	atomic_store(&hooked, 0);
	store_set_change_hook(b, on_change, NULL);
	assert_int_equal(store_data_version(b, &v0), 0);
	t0 = clock_mono_us();
	assert_int_equal(store_override_set(a, "anthropic", "admin", "drain"), 0);
	do {
		assert_int_equal(store_data_version(b, &v), 0);
		if (v != v0)
			break;
		usleep(2000);
	} while (clock_mono_us() - t0 < 2000000);
	waited = clock_mono_us() - t0;
	print_message("%s: override seen by the other handle after %.1f ms\n",
	    f->postgres ? "postgres" : "sqlite", (double)waited / 1000);
	assert_true(v != v0);
	assert_true(waited < 250000);
	if (f->postgres)
		assert_true(atomic_load(&hooked) > 0);
	buf_init(&rows);
	assert_int_equal(store_override_rows(b, &rows), 0);
	assert_non_null(strstr(rows.data, "anthropic\tadmin\tdrain\t"));
	buf_free(&rows);
	/* An override for one instance: its own row, named NAME@INSTANCE, beside the
	 * fleet-wide one; a clear of that scope leaves the fleet-wide row. */
	assert_int_equal(store_override_set_for(a, "anthropic", "b-2", "admin", "disabled"), 0);
	buf_init(&rows);
	assert_int_equal(store_override_rows(b, &rows), 0);
	assert_non_null(strstr(rows.data, "anthropic\tadmin\tdrain\t"));
	assert_non_null(strstr(rows.data, "anthropic@b-2\tadmin\tdisabled\t"));
	buf_free(&rows);
	assert_int_equal(store_override_clear_for(a, "anthropic", "b-2"), 0);
	buf_init(&rows);
	assert_int_equal(store_override_rows(b, &rows), 0);
	assert_non_null(strstr(rows.data, "anthropic\tadmin\tdrain\t"));
	assert_null(strstr(rows.data, "anthropic@"));
	buf_free(&rows);
	assert_int_equal(store_override_clear(a, NULL), 0);
	buf_init(&rows);
	assert_int_equal(store_override_rows(b, &rows), 0);
	assert_int_equal(rows.len, 0);
	buf_free(&rows);
	store_set_change_hook(b, NULL, NULL);
	store_close(b);
	store_close(a);
}

static void
test_cache(void **state)
{
	struct fixture *f = *state;
	struct cache_conf cc = {.enabled = 1, .ttl_seconds = 60, .max_entries = 2};
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	struct llm_response r, out;
	char provider[LIMIT_NAME_SIZE], model[LIMIT_ALIAS_SIZE];
	struct cache_stats cs;

	llm_response_init(&r);
	r.content = xstrdup("hello");
	r.id = xstrdup("id1");
	r.usage.input_tokens = 7;
	assert_int_equal(cache_put(a, &cc, "k1", "anthropic", "claude", &r), 0);
	assert_int_equal(cache_get(b, &cc, "k1", &out, provider, model), 1);
	assert_string_equal(out.content, "hello");
	assert_string_equal(out.id, "id1");
	assert_int_equal(out.usage.input_tokens, 7);
	assert_string_equal(provider, "anthropic");
	assert_string_equal(model, "claude");
	llm_response_free(&out);
	assert_int_equal(cache_get(b, &cc, "nope", &out, NULL, NULL), 0);
	llm_response_free(&out);
	/* expired after its TTL */
	atomic_fetch_add(&f->now, 61000);
	assert_int_equal(cache_get(b, &cc, "k1", &out, NULL, NULL), 0);
	llm_response_free(&out);
	assert_int_equal(cache_put(a, &cc, "k2", "p", "m", &r), 0);
	assert_int_equal(cache_put(a, &cc, "k3", "p", "m", &r), 0);
	assert_int_equal(cache_put(a, &cc, "k4", "p", "m", &r), 0); /* k2 evicted: max 2 */
	assert_int_equal(cache_get_stats(b, &cs), 0);
	assert_int_equal(cs.entries, 2);
	assert_int_equal(cs.hits, 1);
	assert_int_equal(cs.misses, 2);
	assert_int_equal(cache_flush(b), 2);
	assert_int_equal(cache_get_stats(a, &cs), 0);
	assert_int_equal(cs.entries, 0);
	llm_response_free(&r);
	store_close(b);
	store_close(a);
}

static void
test_responses_shared(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	struct resp_store *ra = resp_store_new(a, 60), *rb = resp_store_new(b, 60);
	char *got;
	int err = 0;

	resp_store_put(ra, "resp_1", "{\"input\": [], \"response\": {}}", NULL, NULL);
	assert_null(resp_store_get(ra, "resp_nope", &err));
	assert_int_equal(err, 0);
	/* the put is on a's writer: wait for it through a delete of something else */
	assert_int_equal(resp_store_delete(ra, "resp_other"), 0);
	got = resp_store_get(rb, "resp_1", &err);
	assert_non_null(got);
	assert_string_equal(got, "{\"input\": [], \"response\": {}}");
	free(got);
	assert_int_equal(resp_store_delete(rb, "resp_1"), 1);
	assert_null(resp_store_get(ra, "resp_1", &err));
	resp_store_free(ra);
	resp_store_free(rb);
	store_close(b);
	store_close(a);
}

static void
test_instances_expire(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	struct store_instance i = {.id = "a-1",
	    .host = "web1",
	    .pid = 11,
	    .admin_url = "http://127.0.0.1:7001/",
	    .version = "0.1",
	    .config_hash = "abc",
	    .started_ms = STTEST_NOON,
	    .state = "ready"};
	struct store_instance *v;

	assert_int_equal(store_instance_beat(a, &i), 0);
	strlcpy_(i.id, "b-2", sizeof i.id);
	i.pid = 22;
	strlcpy_(i.admin_url, "http://127.0.0.1:7002/", sizeof i.admin_url);
	assert_int_equal(store_instance_beat(b, &i), 0);
	assert_int_equal(store_instances(a, &v), 2);
	assert_string_equal(v[0].id, "a-1");
	assert_string_equal(v[1].admin_url, "http://127.0.0.1:7002/");
	assert_int_equal(v[1].pid, 22);
	assert_false(v[0].gone || v[1].gone);
	free(v);
	/* b keeps beating, a stops: 10 s later a is gone */
	atomic_fetch_add(&f->now, 6000);
	assert_int_equal(store_instance_beat(b, &i), 0);
	atomic_fetch_add(&f->now, 5000);
	assert_int_equal(store_instances(a, &v), 2);
	assert_string_equal(v[0].id, "b-2");
	assert_false(v[0].gone);
	assert_string_equal(v[1].id, "a-1");
	assert_true(v[1].gone);
	free(v);
	store_close(b);
	store_close(a);
}

/*
 * The ledger's commits fail (the tests' injected failure: a full disk, a
 * server gone): either backend spools the row (SQLite beside its file,
 * PostgreSQL under the state directory) and replays it once writes work again,
 * on its own (the writer's tick); no row counts twice, not even after a reopen.
 */
static void
test_ledger_write_failure(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "a-1");
	double want = 1.75;
	struct store_health h;
	char *cause = NULL;
	struct ledger_row r;
	int rc;

	r = row_of("anthropic", 0.25, STTEST_NOON);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	store_test_fail_writes(s, 1);
	r = row_of("anthropic", 0.5, STTEST_NOON + 1);
	rc = ledger_record(s, &r, 0, &cause);
	store_health(s, &h);
	assert_true(h.failing);
	assert_int_equal(rc, 0);
	assert_false(h.spool_full);
	assert_int_equal(h.spooled_rows, 1);
	if (f->postgres)
		assert_non_null(strstr(h.spool_path, "/llmdeck/spool-"));
	store_test_fail_writes(s, 0);
	for (int i = 0; i < 400; i++) {
		store_health(s, &h);
		if (!h.failing && h.spooled_rows == 0)
			break;
		usleep(25000);
	}
	assert_false(h.failing);
	assert_false(h.spool_full);
	assert_int_equal(h.spooled_rows, 0);
	r = row_of("anthropic", 1, STTEST_NOON + 2);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_true(ledger_spent(s, STTEST_NOON, STTEST_NOON + 10) == want);
	store_close(s);
	s = fx_open(f, "a-1");
	r = row_of("anthropic", 0, STTEST_NOON + 3);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_true(ledger_spent(s, STTEST_NOON, STTEST_NOON + 10) == want);
	store_close(s);
}

static void
count_done(void *arg, int rc)
{
	if (rc == 0)
		atomic_fetch_add((_Atomic int *)arg, 1);
}

/*
 * ledger_prune: the rows before a past day go, in batches of
 * LEDGER_PRUNE_BATCH (more rows than one batch here), with their spend
 * buckets; yesterday's and today's rows and today's spend stay.
 */
static void
test_ledger_prune(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "a-1"), *b;
	struct budget_conf bc = {.daily_usd = 100, .alert_threshold = 0.8, .hard_stop = 1};
	struct budget_status before, after;
	int64_t day = 86400000, deleted = -1, t0;
	const int old = LEDGER_PRUNE_BATCH + 1500;
	_Atomic int done = 0;
	char *cause = NULL;

	for (int i = 0; i < old; i++) {
		struct ledger_row r = row_of("anthropic", 0.001, STTEST_NOON - 3 * day + i);

		ledger_record_async(s, &r, 0, count_done, &done);
	}
	for (int i = 0; i < 3; i++) {
		struct ledger_row r = row_of("anthropic", 0.25, STTEST_NOON - day + i);

		assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
		r = row_of("anthropic", 0.5, STTEST_NOON + i);
		assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	}
	assert_int_equal(atomic_load(&done), old);
	assert_int_equal(budget_get_status(s, &bc, &before, &cause), 0);
	assert_true(before.spent_usd > 1.5 - 1e-9 && before.spent_usd < 1.5 + 1e-9);
	/* another handle writes while the prune runs: it waits a batch at most */
	b = fx_open(f, "b-2");
	t0 = (int64_t)clock_mono_ms();
	assert_int_equal(ledger_prune(s, STTEST_NOON - day - 12 * 3600000LL, &deleted, &cause), 0);
	print_message("%s: pruned %lld rows in %lld ms\n", f->postgres ? "postgres" : "sqlite",
	    (long long)deleted, (long long)((int64_t)clock_mono_ms() - t0));
	assert_int_equal(deleted, old);
	assert_true(ledger_spent(b, STTEST_NOON - 4 * day, STTEST_NOON - 2 * day) == 0);
	assert_true(ledger_spent(b, STTEST_NOON - 2 * day, STTEST_NOON - day / 2) == 0.75);
	assert_int_equal(budget_get_status(b, &bc, &after, &cause), 0);
	assert_true(after.spent_usd == before.spent_usd);
	assert_int_equal(ledger_prune(b, STTEST_NOON - day - 12 * 3600000LL, &deleted, &cause), 0);
	assert_int_equal(deleted, 0);
	store_close(b);
	store_close(s);
}

/* `llmdeck ledger prune` on the fixture's database: its exit code, its first line in out. */
static int
fx_prune_cli(struct fixture *f, const char *day, char *out, size_t len)
{
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	char *cmd = xasprintf("%s ledger prune --before %s --db '%s' 2>&1", bin, day, f->where);
	FILE *p = popen(cmd, "r");
	int rc;

	free(cmd);
	assert_non_null(p);
	out[0] = '\0';
	if (fgets(out, (int)len, p) == NULL)
		out[0] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The command: a past day prunes and says how many rows went; today or later is refused. */
static void
test_ledger_prune_command(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "a-1");
	char out[512], day[16];
	int64_t start, end;
	struct ledger_row r;
	char *cause = NULL;

	store_set_clock(s, NULL, NULL); /* the command runs on the real clock */
	r = row_of("anthropic", 0.25, 1700000000000LL);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	r = row_of("anthropic", 0.25, store_now_ms(s));
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(store_day_bounds("UTC", store_now_ms(s), &start, &end, day), 0);
	assert_int_equal(fx_prune_cli(f, day, out, sizeof out), 2);
	assert_non_null(strstr(out, "is not before today"));
	assert_int_equal(fx_prune_cli(f, "2099-01-01", out, sizeof out), 2);
	assert_int_equal(fx_prune_cli(f, "2024-02-30", out, sizeof out), 2);
	assert_int_equal(store_day_bounds("UTC", start - 1, &start, &end, day), 0); /* yesterday */
	assert_int_equal(fx_prune_cli(f, day, out, sizeof out), 0);
	print_message("%s: llmdeck ledger prune --before %s: %s",
	    f->postgres ? "postgres" : "sqlite", day, out);
	assert_non_null(strstr(out, "1 ledger rows before"));
	assert_int_equal(fx_prune_cli(f, day, out, sizeof out), 0);
	assert_non_null(strstr(out, "0 ledger rows before"));
	assert_true(ledger_spent(s, 0, INT64_MAX) == 0.25);
	store_close(s);
}

/* Rows in the ledger today, every provider. */
static int64_t
fx_rows(struct store *s)
{
	struct ledger_group *g = NULL;
	char *cause = NULL;
	int64_t n = 0;
	int k = ledger_groups(s, STTEST_NOON - 3600000, STTEST_NOON + 3600000, 0, &g, &cause);

	if (k < 0)
		fail_msg("ledger_groups: %s", cause);
	for (int i = 0; i < k; i++)
		n += g[i].requests;
	free(g);
	return n;
}

/*
 * PostgreSQL stopped mid-test (pg_ctl stop): requests keep being admitted on
 * the budget lease held in memory, never beyond it, and their rows are
 * spooled under the state directory; once the server is back the writer
 * reconnects and the spool drains: every answered row lands exactly once.
 */
static void
test_pg_server_lost_for_a_while(void **state)
{
	struct fixture *f = *state;
	struct budget_conf bc = {.daily_usd = 1, .alert_threshold = 0.8, .hard_stop = 1};
	struct store *s;
	struct store_health h;
	struct budget_status bs;
	char *cause = NULL;
	int answered = 0, refused = 0;
	int64_t id, before;

	if (!f->postgres)
		skip();
	s = fx_open(f, "a-1");
	for (int i = 0; i < 3; i++) { /* rows committed, and a lease taken, before the loss */
		struct ledger_row r = row_of("anthropic", 0.01, STTEST_NOON + i);

		assert_int_equal(budget_reserve(s, &bc, 0.02, &id, &cause), 0);
		assert_int_equal(ledger_record(s, &r, id, &cause), 0);
	}
	before = fx_rows(s);
	assert_int_equal(before, 3);
	assert_int_equal(pgtest_pause(pg), 0);
	for (int i = 0; i < 200; i++) {
		struct ledger_row r = row_of("anthropic", 0.01, STTEST_NOON + 10 + i);
		int rc = budget_reserve(s, &bc, 0.02, &id, &cause);

		if (rc != 0) {
			refused++;
			free(cause);
			cause = NULL;
			continue;
		}
		assert_true(id < 0); /* in the lease: no server needed */
		if (ledger_record(s, &r, id, &cause) != 0)
			fail_msg("ledger_record while the server is gone: %s", cause);
		answered++;
	}
	store_health(s, &h);
	print_message("PostgreSQL stopped: %d requests answered on the lease and spooled (%lld "
	              "rows at %s), %d refused\n",
	    answered, (long long)h.spooled_rows, h.spool_path, refused);
	assert_true(answered > 0);
	assert_true(refused > 0); /* the lease ran out: nothing beyond it */
	assert_true(h.failing);
	assert_int_equal(h.spooled_rows, answered);
	assert_int_equal(pgtest_resume(pg), 0);
	for (int i = 0; i < 800; i++) {
		store_health(s, &h);
		if (!h.failing && h.spooled_rows == 0)
			break;
		usleep(25000);
	}
	assert_false(h.failing);
	assert_int_equal(h.spooled_rows, 0);
	print_message("PostgreSQL back: %lld rows in the ledger (%lld before + %d spooled)\n",
	    (long long)fx_rows(s), (long long)before, answered);
	assert_int_equal(fx_rows(s), before + answered);
	assert_int_equal(budget_get_status(s, &bc, &bs, &cause), 0);
	assert_true(bs.spent_usd <= bc.daily_usd + 1e-9);
	store_close(s);
	/* Replayed once: a new handle finds nothing more to land. */
	s = fx_open(f, "a-1");
	assert_int_equal(fx_rows(s), before + answered);
	store_close(s);
}

static int
group_teardown(void **state)
{
	(void)state;
	pgtest_stop(pg);
	free(pg_why);
	return 0;
}

#define BOTH(t) \
	cmocka_unit_test_setup_teardown(t, setup_sqlite, teardown), \
	    cmocka_unit_test_setup_teardown(t, setup_pg, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_ledger_rows),
	    BOTH(test_ledger_write_failure),
	    BOTH(test_budget_two_instances),
	    BOTH(test_events),
	    BOTH(test_overrides_reach_other),
	    BOTH(test_cache),
	    BOTH(test_responses_shared),
	    BOTH(test_instances_expire),
	    BOTH(test_ledger_prune),
	    BOTH(test_ledger_prune_command),
	    cmocka_unit_test_setup_teardown(test_pg_server_lost_for_a_while, setup_pg, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
