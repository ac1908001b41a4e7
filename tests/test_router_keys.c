/*
 * test_router_keys.c: the router's admission of a request carrying a client
 * key (router_keys.c, store/keys.h): a model outside the key's or team's list
 * (403), a key's and a team's budget, the key's RPM (429 with retry-after), a
 * key revoked since, the global monthly budget; each refusal ledgered as
 * "refused", each row attributed to its key and team, no reservation left; the
 * budget ladder under a team's pressure (its keys downgraded, another team's not).
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

#include "config/config.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/store.h"
#include "util/util.h"

/* 2025-03-30 12:00:10 UTC: a fixed clock, so a minute's RPM cannot roll over mid-test. */
#define RK_NOW 1743336010000LL

struct fixture {
	char dir[64];
	char db[128];
	struct config cfg;
	struct sim *sim;
	struct store *store;
	struct router *r;
};

static int64_t
fixed_clock(void *arg)
{
	(void)arg;
	return RK_NOW;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-rk-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof f->db, "%s/test.db", f->dir);
	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "sim");
	so.protocol = SIM_ANTHROPIC;
	f->sim = sim_start(&so, &cause);
	if (f->sim == NULL)
		return -1;
	config_init(&f->cfg);
	f->cfg.providers = xcalloc(1, sizeof *f->cfg.providers);
	f->cfg.n_providers = 1;
	p = &f->cfg.providers[0];
	p->name = xstrdup("anthropic");
	p->kind = PROVIDER_ANTHROPIC;
	p->base_url = xstrdup(sim_url(f->sim));
	p->models = xcalloc(2, sizeof *p->models);
	p->models[0] = xstrdup("claude-sonnet");
	p->models[1] = xstrdup("claude-haiku");
	p->n_models = 2;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 10;
	p->max_retries = 0;
	p->tls_verify = 1;
	p->enabled = 1;
	f->cfg.breaker.probe_interval_ms = 0;
	if (store_open(&f->store, f->db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	store_set_clock(f->store, fixed_clock, NULL);
	*state = f;
	return 0;
}

static void
start(struct fixture *f)
{
	struct router_opts ro;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.store = f->store;
	if ((f->r = router_new(&f->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	assert_non_null(router_keyring(f->r));
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	router_free(f->r);
	store_close(f->store);
	sim_stop(f->sim);
	config_free(&f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A key (and its team's limits when team_lim is not NULL), the router's keyring refreshed. */
static void
make_key(struct fixture *f, const char *name, const char *team, const struct spend_limits *lim,
    const struct spend_limits *team_lim, struct store_key *out)
{
	struct store_key in;
	char secret[KEY_SECRET_SIZE], *cause = NULL;

	memset(&in, 0, sizeof in);
	strlcpy_(in.name, name, sizeof in.name);
	strlcpy_(in.team, team, sizeof in.team);
	if (lim != NULL)
		in.lim = *lim;
	if (keys_create(f->store, &in, secret, out, &cause) != 0)
		fail_msg("keys_create: %s", cause);
	if (team_lim != NULL) {
		struct store_team t;

		memset(&t, 0, sizeof t);
		strlcpy_(t.name, team, sizeof t.name);
		t.lim = *team_lim;
		if (teams_put(f->store, &t, &cause) != 0)
			fail_msg("teams_put: %s", cause);
	}
	if (f->r != NULL)
		assert_int_equal(keyring_refresh(router_keyring(f->r), 1), 0);
}

static void
ask(struct fixture *f, const char *key_id, const char *model, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "hello there");
	req.model = xstrdup(model);
	req.max_tokens = 100;
	if (key_id != NULL)
		req.key_id = xstrdup(key_id);
	router_generate(f->r, &req, NULL, NULL, res);
	llm_request_free(&req);
}

static uint64_t
sim_requests(struct fixture *f)
{
	struct sim_stats st;

	sim_get_stats(f->sim, &st);
	return st.requests;
}

static long long
db_int(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* db_int of sql with every "KEY" replaced by key (an id: no quoting needed). */
static long long
db_count(struct fixture *f, const char *sql, const char *key)
{
	struct buf b;
	const char *p = sql, *m;
	long long v;

	buf_init(&b);
	while ((m = strstr(p, "KEY")) != NULL) {
		buf_append(&b, p, (size_t)(m - p));
		buf_puts(&b, key);
		p = m + 3;
	}
	buf_puts(&b, p);
	v = db_int(f, b.data);
	buf_free(&b);
	return v;
}

/* A model outside the key's list: 403 naming it; inside: answered and attributed. */
static void
test_allow_list(void **state)
{
	struct fixture *f = *state;
	struct spend_limits lim, tl;
	struct store_key k;
	struct router_result res;

	memset(&lim, 0, sizeof lim);
	memset(&tl, 0, sizeof tl);
	strlcpy_(lim.models, "claude-haiku,claude-sonnet", sizeof lim.models);
	strlcpy_(tl.models, "claude-haiku", sizeof tl.models);
	start(f);
	make_key(f, "ci-bot", "ml", &lim, &tl, &k);
	ask(f, k.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_ERR_FORBIDDEN);
	assert_non_null(strstr(res.err.message, "\"claude-sonnet\""));
	assert_non_null(strstr(res.err.message, "team ml"));
	assert_int_equal(res.n_attempts, 0);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 0);
	ask(f, k.id, "claude-opus", &res);
	assert_int_equal(res.cls, LLM_ERR_FORBIDDEN);
	assert_non_null(strstr(res.err.message, "key ci-bot"));
	router_result_free(&res);
	ask(f, k.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 1);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND team = 'ml' AND "
	                     "outcome = 'refused' AND error_class = 'forbidden'",
	                     k.id),
	    2);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND team = 'ml' AND "
	                     "outcome = 'ok' AND cost_usd > 0 AND model = 'claude-haiku'",
	                     k.id),
	    1);
	/* the key's spend is the ledger's, the refusals counted */
	{
		struct scope_spend sp;
		char scope[40], *cause = NULL;

		snprintf(scope, sizeof scope, "key:%s", k.id);
		assert_int_equal(keys_scope_spend(f->store, scope, "UTC", &sp, &cause), 0);
		assert_int_equal(sp.requests_day, 3);
		assert_int_equal(sp.refused_day, 2);
		assert_true(sp.day_usd > 0);
		assert_true(sp.day_usd == ledger_spent(f->store, 0, INT64_MAX));
	}
}

/* A key's budget, then a team's: refused naming the scope; nothing left reserved. */
static void
test_key_and_team_budgets(void **state)
{
	struct fixture *f = *state;
	struct spend_limits lim, tl;
	struct store_key k1, k2, k3;
	struct router_result res;

	memset(&lim, 0, sizeof lim);
	memset(&tl, 0, sizeof tl);
	start(f);
	lim.day_usd = 0.000001;
	make_key(f, "tight", "", &lim, NULL, &k1);
	ask(f, k1.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_ERR_BUDGET);
	assert_non_null(strstr(res.err.message, "key tight's daily budget"));
	router_result_free(&res);
	/* a team's budget binds a key without one of its own */
	lim.day_usd = 0;
	tl.day_usd = 0.000001;
	make_key(f, "member", "ml", &lim, &tl, &k2);
	ask(f, k2.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_ERR_BUDGET);
	assert_non_null(strstr(res.err.message, "team ml's daily budget"));
	router_result_free(&res);
	/* a key with room in a team with room */
	tl.day_usd = 10;
	lim.month_usd = 10;
	make_key(f, "roomy", "ml", &lim, &tl, &k3);
	ask(f, k3.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger WHERE outcome = 'refused'"), 2);
	assert_int_equal(db_int(f, "SELECT count(*) FROM scope_reservations"), 0);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM scope_spend WHERE scope = 'team:ml' AND "
	                     "requests = 2 AND refused = 1 AND cost_usd > 0"),
	    1);
}

/* A team without a threshold of its own alerts at the global one (0.8 by default):
 * once its spend today reaches 80% of its day budget, the next request's reservation
 * writes one "budget" event naming the team. */
static void
test_team_alert_at_global_threshold(void **state)
{
	struct fixture *f = *state;
	struct spend_limits lim, tl;
	struct store_key k1, k2;
	struct router_result res;
	double spent;

	memset(&lim, 0, sizeof lim);
	memset(&tl, 0, sizeof tl);
	start(f);
	tl.day_usd = 10;
	make_key(f, "a1", "ops", &lim, &tl, &k1);
	ask(f, k1.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE message LIKE 'team ops''s daily%'"),
	    0);
	spent = ledger_spent(f->store, 0, INT64_MAX);
	assert_true(spent > 0);
	/* Now 1/1.1 = 91% of the team's day: over 80%. */
	tl.day_usd = spent * 1.1;
	make_key(f, "a2", "ops", &lim, &tl, &k2);
	ask(f, k2.id, "claude-haiku", &res);
	router_result_free(&res);
	ask(f, k1.id, "claude-haiku", &res);
	router_result_free(&res);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE kind = 'budget' AND message LIKE "
	                     "'team ops''s daily budget alert: %threshold 80%'"),
	    1);
}

/* The key's RPM: the third request in a minute is a 429 naming the key, with retry-after. */
static void
test_key_rpm(void **state)
{
	struct fixture *f = *state;
	struct spend_limits lim;
	struct store_key k, other;
	struct router_result res;

	memset(&lim, 0, sizeof lim);
	lim.rpm = 2;
	start(f);
	make_key(f, "slow", "", &lim, NULL, &k);
	lim.rpm = 0;
	make_key(f, "free", "", &lim, NULL, &other);
	for (int i = 0; i < 2; i++) {
		ask(f, k.id, "claude-haiku", &res);
		assert_int_equal(res.cls, LLM_OK);
		router_result_free(&res);
	}
	ask(f, k.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_ERR_RATE_LIMIT);
	assert_non_null(strstr(res.err.message, "key slow"));
	assert_non_null(strstr(res.err.message, "2 requests per minute"));
	assert_int_equal(res.err.retry_after_ms, 60000 - RK_NOW % 60000);
	router_result_free(&res);
	/* another key is not held back */
	ask(f, other.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 3);
	/* the fleet's count for the minute is the key's scope */
	assert_int_equal(db_count(f,
	                     "SELECT CAST(used AS INTEGER) FROM rate_windows WHERE provider = "
	                     "'key:KEY' AND kind = 'rpm'",
	                     k.id),
	    2);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND outcome = "
	                     "'refused' AND error_class = 'rate_limit'",
	                     k.id),
	    1);
}

/* A key revoked since the gateway's check is refused at admission; no key: no checks. */
static void
test_revoked_since(void **state)
{
	struct fixture *f = *state;
	struct store_key k;
	struct router_result res;
	char *cause = NULL;

	start(f);
	make_key(f, "gone", "", NULL, NULL, &k);
	assert_int_equal(keys_revoke(f->store, k.id, &cause), 0);
	assert_int_equal(keyring_refresh(router_keyring(f->r), 0), 0);
	ask(f, k.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_ERR_AUTH);
	assert_int_equal(res.err.status, 401);
	assert_non_null(strstr(res.err.message, "revoked"));
	router_result_free(&res);
	ask(f, NULL, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 1);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = '' AND outcome = 'ok'"),
	    1);
}

static uint64_t
admitted_fast(struct fixture *f)
{
	struct router_snapshot sn;
	uint64_t v;

	router_snapshot(f->r, &sn);
	v = sn.admitted_fast;
	router_snapshot_free(&sn);
	return v;
}

/* A key with no rate or budget of its own or its team's is admitted without the worker,
 * attributed all the same; one with an RPM, or asking for a model outside its list, still
 * goes through the worker (which counts or refuses it). */
static void
test_a_free_key_skips_the_worker(void **state)
{
	struct fixture *f = *state;
	struct spend_limits lim;
	struct store_key free_key, rated;
	struct router_result res;
	uint64_t fast;

	start(f);
	make_key(f, "free", "ml", NULL, NULL, &free_key);
	memset(&lim, 0, sizeof lim);
	lim.rpm = 100;
	make_key(f, "rated", "", &lim, NULL, &rated);
	ask(f, free_key.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	fast = admitted_fast(f);
	assert_int_equal(fast, 1);
	ask(f, rated.id, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(admitted_fast(f), fast);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND team = 'ml' "
	                     "AND outcome = 'ok'",
	                     free_key.id),
	    1);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND outcome = 'ok'",
	                     rated.id),
	    1);
}

/* A ledger row of cost usd spent by key k of team, now. */
static void
spend(struct fixture *f, const struct store_key *k, double usd)
{
	struct ledger_row row;
	char *cause = NULL;

	memset(&row, 0, sizeof row);
	strlcpy_(row.provider, "anthropic", sizeof row.provider);
	strlcpy_(row.model, "claude-sonnet", sizeof row.model);
	strlcpy_(row.outcome, "ok", sizeof row.outcome);
	strlcpy_(row.key_id, k->id, sizeof row.key_id);
	strlcpy_(row.team, k->team, sizeof row.team);
	row.cost_usd = usd;
	row.input_tokens = 10;
	row.output_tokens = 10;
	if (ledger_record(f->store, &row, 0, &cause) != 0)
		fail_msg("ledger_record: %s", cause);
}

/* The budget ladder per team: a team with 15% of its day (or month) left is under
 * pressure (default 0.2), so its keys' claude-sonnet goes one step down the ladder to
 * claude-haiku, with an event naming the team; a key of a team with room, and a key with
 * no team, keep their model. No global budget is set: the team's pressure alone decides. */
static void
test_team_budget_ladder(void **state)
{
	struct fixture *f = *state;
	struct spend_limits tl, tm, to;
	struct store_key ml, ops, res_key, lone;
	struct router_result res;

	memset(&tl, 0, sizeof tl);
	memset(&tm, 0, sizeof tm);
	memset(&to, 0, sizeof to);
	start(f);
	tl.day_usd = 1;
	make_key(f, "ml-dev", "ml", NULL, &tl, &ml);
	to.day_usd = 1;
	make_key(f, "ops-dev", "ops", NULL, &to, &ops);
	tm.month_usd = 1;
	tm.day_usd = 100;
	make_key(f, "res-dev", "research", NULL, &tm, &res_key);
	make_key(f, "lone", "", NULL, NULL, &lone);
	spend(f, &ml, 0.85);
	spend(f, &ops, 0.5);
	spend(f, &res_key, 0.9);

	ask(f, ml.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	ask(f, ops.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	ask(f, res_key.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	ask(f, lone.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 4);
	/* the keys of teams with a budget went through the worker; only lone skipped it */
	assert_int_equal(admitted_fast(f), 1);

	/* the ledger: ml's and research's answers downgraded, ops's and lone's not */
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND team = 'ml' "
	                     "AND cost_usd < 0.5 AND outcome = 'ok' AND model = 'claude-haiku'",
	                     ml.id),
	    1);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND cost_usd < 0.5 "
	                     "AND outcome = 'ok' AND model = 'claude-haiku'",
	                     res_key.id),
	    1);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND cost_usd < 0.5 "
	                     "AND outcome = 'ok' AND model = 'claude-sonnet'",
	                     ops.id),
	    1);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND outcome = 'ok' "
	                     "AND model = 'claude-sonnet'",
	                     lone.id),
	    1);
	/* one event each, naming the team and its window */
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE kind = 'budget' AND message LIKE "
	                     "'cost optimizer: claude-sonnet -> claude-haiku (team ml''s daily "
	                     "budget: budget pressure (spent $0.85 of $1.00)%'"),
	    1);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE kind = 'budget' AND message LIKE "
	                     "'cost optimizer: claude-sonnet -> claude-haiku (team research''s "
	                     "monthly budget: %'"),
	    1);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE message LIKE 'cost optimizer:%'"),
	    2);
}

/* With a global daily budget under pressure too, the stricter wins: a key of a team with
 * room is downgraded by the global pressure, the event naming no team. */
static void
test_global_pressure_beats_a_roomy_team(void **state)
{
	struct fixture *f = *state;
	struct spend_limits to;
	struct store_key ops;
	struct router_result res;

	memset(&to, 0, sizeof to);
	f->cfg.budget.daily_usd = 1;
	start(f);
	to.day_usd = 100;
	make_key(f, "ops-dev", "ops", NULL, &to, &ops);
	spend(f, &ops, 0.9);
	ask(f, ops.id, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(db_count(f,
	                     "SELECT count(*) FROM ledger WHERE key_id = 'KEY' AND cost_usd < 0.5 "
	                     "AND model = 'claude-haiku'",
	                     ops.id),
	    1);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE message LIKE 'cost optimizer: "
	                     "claude-sonnet -> claude-haiku (budget pressure (spent $0.90 of "
	                     "$1.00)%'"),
	    1);
}

/* The global budget's monthly window refuses a request with no key too. */
static void
test_global_month(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	f->cfg.budget.monthly_usd = 0.000001;
	start(f);
	ask(f, NULL, "claude-haiku", &res);
	assert_int_equal(res.cls, LLM_ERR_BUDGET);
	assert_non_null(strstr(res.err.message, "monthly budget"));
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 0);
	assert_int_equal(db_int(f, "SELECT count(*) FROM scope_reservations"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_and_team_budgets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_key_rpm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_team_alert_at_global_threshold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_since, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_global_month, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_free_key_skips_the_worker, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_team_budget_ladder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_global_pressure_beats_a_roomy_team, setup,
	        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
