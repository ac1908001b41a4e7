/*
 * test_keys_store.c: client keys, teams and their budgets in the store
 * (keys.h), on both backends: SQLite (a file in a scratch directory) and
 * PostgreSQL (a throwaway cluster this binary starts: pg_testutil.h; under
 * CI=true a missing PostgreSQL is a failure, elsewhere those cases skip). Two
 * handles on one database stand for two processes.
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
#include <unistd.h>

#include "pg_testutil.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

static struct pgtest *pg;
static char *pg_why;
static int pg_tried;

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

static struct store_key
key_in(const char *name, const char *team)
{
	struct store_key k;

	memset(&k, 0, sizeof k);
	strlcpy_(k.name, name, sizeof k.name);
	strlcpy_(k.team, team, sizeof k.team);
	return k;
}

static void
must_create(struct store *s, const struct store_key *in, char secret[KEY_SECRET_SIZE],
    struct store_key *out)
{
	char *cause = NULL;

	if (keys_create(s, in, secret, out, &cause) != 0)
		fail_msg("keys_create %s: %s", in->name, cause);
}

/* Does the SQLite database (its file and WAL) hold text anywhere? */
static int
db_holds(struct fixture *f, const char *text)
{
	char *cmd;
	FILE *p;
	char line[64];
	int found = 0;

	cmd = xasprintf("cat '%s' '%s-wal' 2>/dev/null | grep -c -a -F '%s'", f->where, f->where,
	    text);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof line, p) != NULL)
		found = atoi(line) > 0;
	pclose(p);
	free(cmd);
	return found;
}

/* Create, list, find, the secret's shape, and no secret stored. */
static void
test_create_list_find(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a");
	struct store_key in = key_in("ci-bot", "ml"), k, got, *v;
	struct store_team t;
	char secret[KEY_SECRET_SIZE], junk[KEY_SECRET_SIZE], *cause = NULL;
	int n;

	in.lim.day_usd = 5;
	in.lim.rpm = 10;
	strlcpy_(in.lim.models, "claude-haiku, gpt-4o", sizeof in.lim.models);
	must_create(s, &in, secret, &k);
	assert_int_equal(strncmp(secret, "llmd-", 5), 0);
	assert_int_equal(strlen(secret), 5 + 43);
	assert_int_equal(strncmp(k.id, "k-", 2), 0);
	assert_int_equal(strlen(k.id), 14);
	assert_int_equal(strncmp(k.prefix, secret, strlen(k.prefix)), 0);
	assert_true(strlen(k.prefix) < 20);
	assert_int_equal(k.created_ms, STTEST_NOON);
	/* a second live key of that name is refused, in one line */
	assert_int_equal(keys_create(s, &in, junk, NULL, &cause), -1);
	assert_string_equal(junk, "");
	assert_non_null(strstr(cause, "in use"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	cause = NULL;
	/* bad names */
	in = key_in("bad name", "");
	assert_int_equal(keys_create(s, &in, junk, NULL, &cause), -1);
	assert_non_null(strstr(cause, "bad name"));
	free(cause);
	cause = NULL;

	/* the secret of a second key; neither is in the database */
	{
		char s2[KEY_SECRET_SIZE];
		struct store_key k2;

		in = key_in("web", "");
		must_create(s, &in, s2, &k2);
		assert_string_not_equal(s2, secret);
		if (!f->postgres) {
			assert_true(db_holds(f, k2.prefix)); /* the check can see what is there */
			assert_true(strlen(s2) > 40 && strlen(secret) > 40);
			assert_false(db_holds(f, s2 + 5));
			assert_false(db_holds(f, secret + 5));
		}
		/* on both: no column of a key holds the secret (only its prefix) */
		assert_int_equal(keys_find(s, "web", &got, &cause), 0);
		assert_null(strstr(got.prefix, s2 + 5));
	}
	assert_int_equal(keys_list(s, &v, &cause), 2);
	assert_string_equal(v[0].name, "ci-bot");
	assert_string_equal(v[0].team, "ml");
	assert_true(v[0].lim.day_usd == 5);
	assert_int_equal(v[0].lim.rpm, 10);
	assert_string_equal(v[1].name, "web");
	free(v);
	assert_int_equal(keys_find(s, k.id, &got, &cause), 0);
	assert_string_equal(got.name, "ci-bot");
	assert_int_equal(keys_find(s, "ci-bot", &got, &cause), 0);
	assert_string_equal(got.id, k.id);
	assert_int_equal(keys_find(s, "nobody", &got, &cause), 1);
	/* the team was made with no limits */
	assert_int_equal(teams_find(s, "ml", &t, &cause), 0);
	assert_true(t.lim.day_usd == 0);
	{
		struct store_team *tv;

		n = teams_list(s, &tv, &cause);
		assert_int_equal(n, 1);
		assert_string_equal(tv[0].name, "ml");
		free(tv);
	}
	assert_true(spend_limits_allow_model(&got.lim, "gpt-4o"));
	assert_true(spend_limits_allow_model(&got.lim, "claude-haiku"));
	assert_false(spend_limits_allow_model(&got.lim, "claude-opus"));
	assert_false(spend_limits_allow_model(&got.lim, "gpt-4"));
	store_close(s);
}

/* Revoke, rotate with a grace on the store's clock, expire, update; the keyring's verdicts. */
static void
test_revoke_rotate_expire(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a");
	struct store_key in = key_in("svc", "ml"), k, got;
	struct keyring *kr;
	struct key_auth auth;
	char s1[KEY_SECRET_SIZE], s2[KEY_SECRET_SIZE], s3[KEY_SECRET_SIZE], *cause = NULL;
	int64_t now = STTEST_NOON, v0, v1;

	kr = keyring_new(s);
	assert_false(keyring_active(kr));
	assert_int_equal(keyring_check(kr, NULL, 0, now, &auth), KEY_OPEN);
	assert_int_equal(keys_version(s, &v0), 0);
	must_create(s, &in, s1, &k);
	assert_int_equal(keys_version(s, &v1), 0);
	assert_true(v1 > v0);
	assert_int_equal(keyring_refresh(kr, 0), 0);
	assert_true(keyring_active(kr));
	assert_int_equal(keyring_check(kr, NULL, 0, now, &auth), KEY_MISSING);
	assert_int_equal(keyring_check(kr, "llmd-nope", 9, now, &auth), KEY_UNKNOWN);
	assert_int_equal(keyring_check(kr, s1, strlen(s1), now, &auth), KEY_OK);
	assert_string_equal(auth.id, k.id);
	assert_string_equal(auth.name, "svc");
	assert_string_equal(auth.team, "ml");

	/* rotate with a one-hour grace: both work within it, only the new one after */
	assert_int_equal(keys_rotate(s, "svc", 3600 * 1000, s2, &got, &cause), 0);
	assert_string_not_equal(s1, s2);
	assert_int_equal(got.rotated_ms, now);
	assert_int_equal(keyring_refresh(kr, 0), 0);
	assert_int_equal(keyring_check(kr, s1, strlen(s1), now + 1000, &auth), KEY_OK);
	assert_int_equal(keyring_check(kr, s2, strlen(s2), now + 1000, &auth), KEY_OK);
	assert_int_equal(keyring_check(kr, s1, strlen(s1), now + 3600 * 1000, &auth), KEY_UNKNOWN);
	assert_int_equal(keyring_check(kr, s2, strlen(s2), now + 3600 * 1000, &auth), KEY_OK);
	/* a rotation with no grace drops the old secret at once */
	assert_int_equal(keys_rotate(s, k.id, 0, s3, NULL, &cause), 0);
	assert_int_equal(keyring_refresh(kr, 0), 0);
	assert_int_equal(keyring_check(kr, s2, strlen(s2), now, &auth), KEY_UNKNOWN);
	assert_int_equal(keyring_check(kr, s3, strlen(s3), now, &auth), KEY_OK);

	/* expiry and update */
	in = got;
	in.expires_ms = now + 60000;
	in.lim.day_usd = 2.5;
	assert_int_equal(keys_update(s, "svc", &in, &cause), 0);
	assert_int_equal(keyring_refresh(kr, 0), 0);
	assert_int_equal(keyring_check(kr, s3, strlen(s3), now + 59999, &auth), KEY_OK);
	assert_true(auth.key_lim.day_usd == 2.5);
	assert_int_equal(keyring_check(kr, s3, strlen(s3), now + 60000, &auth), KEY_EXPIRED);
	assert_int_equal(keyring_limits(kr, k.id, &auth), 0);

	/* revoked: the secret stops, the key is still listed */
	assert_int_equal(keys_revoke(s, "svc", &cause), 0);
	assert_int_equal(keyring_refresh(kr, 0), 0);
	assert_int_equal(keyring_check(kr, s3, strlen(s3), now, &auth), KEY_REVOKED);
	assert_int_equal(keyring_limits(kr, k.id, &auth), -1);
	assert_int_equal(keys_find(s, "svc", &got, &cause), 0);
	assert_int_equal(got.revoked_ms, now);
	assert_int_equal(keys_revoke(s, "nobody", &cause), 1);
	/* revoking the last key does not open the gateway: keys still exist */
	assert_true(keyring_active(kr));
	assert_int_equal(keyring_check(kr, NULL, 0, now, &auth), KEY_MISSING);
	/* a revoked key cannot be rotated; the name is free again */
	assert_int_equal(keys_rotate(s, k.id, 0, s3, NULL, &cause), -1);
	free(cause);
	cause = NULL;
	in = key_in("svc", "");
	must_create(s, &in, s3, &got);
	assert_string_not_equal(got.id, k.id);
	assert_int_equal(keys_find(s, "svc", &got, &cause), 0);
	assert_int_equal(got.revoked_ms, 0);
	/* a team with a live key cannot be deleted; without one it can */
	assert_int_equal(teams_delete(s, "ml", &cause), 0);
	assert_int_equal(teams_delete(s, "ml", &cause), 1);
	keyring_free(kr);
	store_close(s);
}

/* A revocation on handle A is seen by a keyring on handle B after one refresh; last uses land. */
static void
test_revocation_reaches_other(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "i-a"), *b = fx_open(f, "i-b");
	struct store_key in = key_in("shared", ""), k, got;
	struct keyring *kb;
	char sec[KEY_SECRET_SIZE], *cause = NULL;

	must_create(a, &in, sec, &k);
	kb = keyring_new(b);
	assert_int_equal(keyring_check(kb, sec, strlen(sec), STTEST_NOON + 5, NULL), KEY_OK);
	assert_int_equal(keys_revoke(a, k.id, &cause), 0);
	assert_int_equal(keyring_check(kb, sec, strlen(sec), STTEST_NOON + 6, NULL), KEY_OK);
	assert_int_equal(keyring_refresh(kb, 0), 0);
	assert_int_equal(keyring_check(kb, sec, strlen(sec), STTEST_NOON + 7, NULL), KEY_REVOKED);
	/* the last use seen by b's keyring was written by its refresh */
	assert_int_equal(keys_find(a, k.id, &got, &cause), 0);
	assert_int_equal(got.last_used_ms, STTEST_NOON + 6);
	keyring_free(kb);
	store_close(b);
	store_close(a);
}

static struct ledger_row
row_for(const char *key_id, const char *team, double cost, int64_t res[LEDGER_SCOPES])
{
	struct ledger_row r;

	memset(&r, 0, sizeof r);
	strlcpy_(r.provider, "p", sizeof r.provider);
	strlcpy_(r.model, "m", sizeof r.model);
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	strlcpy_(r.key_id, key_id, sizeof r.key_id);
	strlcpy_(r.team, team, sizeof r.team);
	r.cost_usd = cost;
	r.attempts = 1;
	if (res != NULL)
		memcpy(r.scope_res, res, sizeof r.scope_res);
	return r;
}

/* A key's daily budget: reserved, settled by the row, refused past it; spend figures. */
static void
test_scope_budget(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a");
	struct spend_limits lim;
	struct scope_spend sp;
	struct ledger_row r;
	int64_t id = 0, ids[3];
	char *cause = NULL;

	memset(&lim, 0, sizeof lim);
	lim.day_usd = 1.0;
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.6, &id, &cause),
	    0);
	assert_true(id > 0);
	/* 0.6 reserved: another 0.6 does not fit */
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.6, &ids[0],
	                     &cause),
	    1);
	assert_non_null(strstr(cause, "key a's daily budget $1.00"));
	free(cause);
	cause = NULL;
	/* the row settles the reservation at its cost */
	memset(ids, 0, sizeof ids);
	ids[0] = id;
	r = row_for("k-1", "ml", 0.25, ids);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.75, &id,
	                     &cause),
	    0);
	budget_scope_release(s, id);
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.76, &id,
	                     &cause),
	    1);
	free(cause);
	cause = NULL;
	/* a refused row counts as a refusal; spend by key and team */
	r = row_for("k-1", "ml", 0, NULL);
	strlcpy_(r.outcome, "refused", sizeof r.outcome);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(keys_scope_spend(s, "key:k-1", "UTC", &sp, &cause), 0);
	assert_true(sp.day_usd > 0.2499 && sp.day_usd < 0.2501);
	assert_true(sp.month_usd > 0.2499 && sp.month_usd < 0.2501);
	assert_int_equal(sp.requests_day, 2);
	assert_int_equal(sp.refused_day, 1);
	assert_true(sp.burn_5m_per_hour > 2.99 && sp.burn_5m_per_hour < 3.01);
	assert_int_equal(keys_scope_spend(s, "team:ml", "UTC", &sp, &cause), 0);
	assert_true(sp.day_usd > 0.2499 && sp.day_usd < 0.2501);
	/* the month: spend yesterday counts in the month, not the day */
	r = row_for("k-1", "ml", 0.5, NULL);
	r.time_ms = STTEST_NOON - 86400000;
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(keys_scope_spend(s, "key:k-1", "UTC", &sp, &cause), 0);
	assert_true(sp.day_usd > 0.2499 && sp.day_usd < 0.2501);
	assert_true(sp.month_usd > 0.7499 && sp.month_usd < 0.7501);
	lim.day_usd = 0;
	lim.month_usd = 1.0;
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.3, &id, &cause),
	    1);
	assert_non_null(strstr(cause, "monthly budget"));
	free(cause);
	cause = NULL;
	assert_int_equal(budget_scope_reserve(s, "key:k-1", "key a", &lim, "UTC", 0.2, &id, &cause),
	    0);
	budget_scope_release(s, id);
	/* a bad scope, in one line */
	assert_int_equal(keys_scope_spend(s, "k-1", "UTC", &sp, &cause), -1);
	free(cause);
	store_close(s);
}

/* A row spooled while the database fails keeps its scope reservation; the replay settles it. */
static void
test_spool_settles_scopes(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a");
	struct spend_limits lim;
	struct store_health h;
	struct scope_spend sp;
	struct ledger_row r;
	int64_t ids[LEDGER_SCOPES] = {0}, id;
	char *cause = NULL;

	memset(&lim, 0, sizeof lim);
	lim.day_usd = 1.0;
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.6, &ids[1],
	                     &cause),
	    0);
	store_test_fail_writes(s, 1);
	r = row_for("", "ml", 0.25, ids);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	store_health(s, &h);
	assert_int_equal(h.spooled_rows, 1);
	/* spooled: the reservation still holds its 0.6 */
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.5, &id,
	                     &cause),
	    1);
	free(cause);
	cause = NULL;
	store_test_fail_writes(s, 0);
	for (int i = 0; i < 400; i++) {
		store_health(s, &h);
		if (!h.failing && h.spooled_rows == 0)
			break;
		usleep(25000);
	}
	assert_int_equal(h.spooled_rows, 0);
	/* replayed: 0.25 spent, nothing reserved */
	assert_int_equal(keys_scope_spend(s, "team:ml", "UTC", &sp, &cause), 0);
	assert_true(sp.day_usd > 0.2499 && sp.day_usd < 0.2501);
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.76, &id,
	                     &cause),
	    1);
	free(cause);
	cause = NULL;
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.75, &id,
	                     &cause),
	    0);
	budget_scope_release(s, id);
	store_close(s);
}

/* The "budget" events whose message holds text. */
static int
budget_events(struct store *s, const char *text)
{
	struct store_event ev[64];
	int n = store_events_last(s, ev, 64), found = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		found += strcmp(ev[i].kind, "budget") == 0 && strstr(ev[i].message, text) != NULL;
	return found;
}

/* A team's alert threshold: once its spend today crosses threshold * day budget, the
 * next reservation writes one "budget" event naming it, once a day on the database;
 * a team under its threshold, or without one, gets none. */
static void
test_team_alert_once_a_day(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a"), *other = fx_open(f, "i-b");
	struct spend_limits lim, quiet;
	struct ledger_row r;
	int64_t id;
	char *cause = NULL;

	memset(&lim, 0, sizeof lim);
	lim.day_usd = 1.0;
	lim.alert_threshold = 0.5;
	quiet = lim;
	quiet.alert_threshold = 0;
	r = row_for("", "ml", 0.4, NULL);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	r = row_for("", "ops", 0.9, NULL);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	/* Under the threshold: nothing. */
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.05, &id,
	                     &cause),
	    0);
	budget_scope_release(s, id);
	assert_int_equal(budget_events(s, "team ml"), 0);
	/* No threshold: nothing, however much was spent. */
	assert_int_equal(budget_scope_reserve(s, "team:ops", "team ops", &quiet, "UTC", 0.05, &id,
	                     &cause),
	    0);
	budget_scope_release(s, id);
	assert_int_equal(budget_events(s, "team ops"), 0);
	/* Crossed (0.6 of 1.0 at 50%): one event naming the team, its spend and threshold. */
	r = row_for("", "ml", 0.2, NULL);
	assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.05, &id,
	                     &cause),
	    0);
	budget_scope_release(s, id);
	assert_int_equal(budget_events(s,
	                     "team ml's daily budget alert: spent $0.6000 of $1.00 "
	                     "(60%, threshold 50%)"),
	    1);
	/* Once a day, on every process on the database; a refusal does not repeat it. */
	assert_int_equal(budget_scope_reserve(other, "team:ml", "team ml", &lim, "UTC", 0.05, &id,
	                     &cause),
	    0);
	budget_scope_release(other, id);
	assert_int_equal(budget_scope_reserve(s, "team:ml", "team ml", &lim, "UTC", 0.9, &id,
	                     &cause),
	    1);
	free(cause);
	cause = NULL;
	assert_int_equal(budget_events(s, "team ml"), 1);
	/* The global budget's own alert is a separate one (its key is the day alone). */
	assert_int_equal(budget_events(s, "daily budget alert"), 1);
	store_close(other);
	store_close(s);
}

/* ledger_groups by key and by team: totals equal the ledger's. */
static void
test_groups_by_key_team(void **state)
{
	struct fixture *f = *state;
	struct store *s = fx_open(f, "i-a");
	struct ledger_group *g;
	struct ledger_row r;
	char *cause = NULL;
	double sum = 0, total;
	int n;

	for (int i = 0; i < 12; i++) {
		char key[16];

		snprintf(key, sizeof key, "k-%d", i % 3);
		r = row_for(i % 4 == 0 ? "" : key, i % 2 ? "a" : "b", 0.01 * (i + 1), NULL);
		assert_int_equal(ledger_record(s, &r, 0, &cause), 0);
	}
	total = ledger_spent(s, 0, INT64_MAX);
	n = ledger_groups(s, 0, INT64_MAX, LEDGER_BY_KEY, &g, &cause);
	assert_int_equal(n, 4); /* "", k-0, k-1, k-2 */
	assert_string_equal(g[0].name, "");
	assert_int_equal(g[0].requests, 3);
	for (int i = 0; i < n; i++)
		sum += g[i].cost_usd;
	assert_true(sum > total - 1e-9 && sum < total + 1e-9);
	free(g);
	sum = 0;
	n = ledger_groups(s, 0, INT64_MAX, LEDGER_BY_TEAM, &g, &cause);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "a");
	assert_int_equal(g[0].requests + g[1].requests, 12);
	for (int i = 0; i < n; i++)
		sum += g[i].cost_usd;
	assert_true(sum > total - 1e-9 && sum < total + 1e-9);
	free(g);
	store_close(s);
}

/* The race: 64 threads on 8 keys of 2 teams across two handles, key, team and global budgets. */
#define RACE_THREADS 64
#define RACE_ROUNDS 12
#define RACE_UPPER 0.05

struct race {
	struct store *s[2];
	char key[8][KEY_ID_SIZE];
	struct spend_limits key_lim, team_lim, global_lim;
	_Atomic int admitted, refused;
	_Atomic int next;
};

static void *
race_main(void *arg)
{
	struct race *x = arg;
	int me = atomic_fetch_add(&x->next, 1);
	struct store *s = x->s[me % 2];
	const char *key = x->key[me % 8];
	const char *team = (me % 8) < 4 ? "t0" : "t1";
	char ks[40], ts[40];

	snprintf(ks, sizeof ks, "key:%s", key);
	snprintf(ts, sizeof ts, "team:%s", team);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		struct budget_scope sc[3] = {{ks, "key", &x->key_lim}, {ts, "team", &x->team_lim},
		    {"global", "the global", &x->global_lim}};
		int64_t ids[3];
		char *cause = NULL;
		int rc = budget_scopes_reserve(s, 3, sc, "UTC", RACE_UPPER, ids, &cause);

		if (rc == 1) {
			atomic_fetch_add(&x->refused, 1);
			free(cause);
			continue;
		}
		if (rc != 0)
			fail_msg("reserve: %s", cause);
		atomic_fetch_add(&x->admitted, 1);
		{
			struct ledger_row r =
			    row_for(key, team, RACE_UPPER * (0.5 + 0.5 * (i % 2)), ids);

			if (ledger_record(s, &r, 0, &cause) != 0)
				fail_msg("ledger: %s", cause);
		}
	}
	return NULL;
}

static void
test_race_budgets(void **state)
{
	struct fixture *f = *state;
	struct race x;
	pthread_t th[RACE_THREADS];
	struct scope_spend sp;
	char *cause = NULL, sec[KEY_SECRET_SIZE];
	double tsum[2] = {0, 0}, all = 0;

	memset(&x, 0, sizeof x);
	x.s[0] = fx_open(f, "i-a");
	x.s[1] = fx_open(f, "i-b");
	for (int i = 0; i < 8; i++) {
		char name[16];
		struct store_key in, k;

		snprintf(name, sizeof name, "key%d", i);
		in = key_in(name, i < 4 ? "t0" : "t1");
		must_create(x.s[0], &in, sec, &k);
		strlcpy_(x.key[i], k.id, sizeof x.key[i]);
	}
	x.key_lim.day_usd = 0.3;  /* at most ~8 of 12 rounds of a key fit... */
	x.team_lim.day_usd = 0.9; /* ... and a team's 4 keys share less than that */
	x.global_lim.month_usd = 1.5;
	for (int i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_main, &x), 0);
	for (int i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&x.refused) > 0);
	assert_true(atomic_load(&x.admitted) > 0);
	for (int i = 0; i < 8; i++) {
		char scope[40];

		snprintf(scope, sizeof scope, "key:%s", x.key[i]);
		assert_int_equal(keys_scope_spend(x.s[1], scope, "UTC", &sp, &cause), 0);
		assert_true(sp.day_usd <= x.key_lim.day_usd + RACE_UPPER + 1e-9);
		tsum[i < 4 ? 0 : 1] += sp.day_usd;
		all += sp.day_usd;
	}
	for (int t = 0; t < 2; t++) {
		assert_int_equal(keys_scope_spend(x.s[0], t == 0 ? "team:t0" : "team:t1", "UTC",
		                     &sp, &cause),
		    0);
		assert_true(sp.day_usd > tsum[t] - 1e-9 && sp.day_usd < tsum[t] + 1e-9);
		assert_true(sp.day_usd <= x.team_lim.day_usd + RACE_UPPER + 1e-9);
	}
	assert_true(all <= x.global_lim.month_usd + RACE_UPPER + 1e-9);
	/* every reservation was settled by its row: a full budget's worth fits again tomorrow */
	print_message("race: %d admitted, %d refused, spent $%.4f of $%.2f\n",
	    atomic_load(&x.admitted), atomic_load(&x.refused), all, x.global_lim.month_usd);
	store_close(x.s[0]);
	store_close(x.s[1]);
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
	    BOTH(test_create_list_find),
	    BOTH(test_revoke_rotate_expire),
	    BOTH(test_revocation_reaches_other),
	    BOTH(test_scope_budget),
	    BOTH(test_spool_settles_scopes),
	    BOTH(test_team_alert_once_a_day),
	    BOTH(test_groups_by_key_team),
	    BOTH(test_race_budgets),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
