/*
 * test_router_store.c: the router with its database: every request ledgered
 * before it is answered, cache hits served without touching a provider,
 * budget refusals, the cost optimizer, persistent events and overrides.
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

#include "store/cache.h"
#include "config/config.h"
#include "config/config_limits.h"
#include "store/ledger.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "util/util.h"

struct fixture {
	char dir[64];
	char db[128];
	struct config cfg;
	struct sim *sim;
	struct store *store;
	struct router *r;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-rs-XXXXXX");
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
	*state = f;
	return 0;
}

static void
start(struct fixture *f)
{
	struct router_opts ro;
	char *cause = NULL;

	if (store_open(&f->store, f->db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.store = f->store;
	if ((f->r = router_new(&f->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
}

static void
stop(struct fixture *f)
{
	router_free(f->r);
	f->r = NULL;
	store_close(f->store);
	f->store = NULL;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->r != NULL)
		stop(f);
	sim_stop(f->sim);
	config_free(&f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
ask(struct fixture *f, const char *prompt, double temperature, const char *model,
    struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, prompt);
	if (temperature >= 0) {
		req.temperature = temperature;
		req.has_temperature = 1;
	}
	if (model != NULL)
		req.model = xstrdup(model);
	req.max_tokens = 100;
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

/* One integer from the database, read with a fresh connection. */
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

static void
test_every_answer_has_its_ledger_row_before_the_caller_sees_it(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	start(f);
	for (int i = 0; i < 5; i++) {
		char prompt[32];
		snprintf(prompt, sizeof prompt, "question %d", i);
		ask(f, prompt, -1, NULL, &res);
		assert_int_equal(res.cls, LLM_OK);
		/* Already committed: another connection sees the row now. */
		assert_int_equal(db_int(f, "SELECT count(*) FROM ledger"), i + 1);
		router_result_free(&res);
	}
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM ledger WHERE provider = 'anthropic' "
	                     "AND model = 'claude-sonnet' AND outcome = 'ok' AND input_tokens > 0 "
	                     "AND "
	                     "output_tokens > 0 AND cost_usd > 0 AND cache_hit = 0 AND attempts = "
	                     "1"),
	    5);
	stop(f);
}

static void
test_a_deterministic_request_is_served_from_the_cache(void **state)
{
	struct fixture *f = *state;
	struct router_result first, second, warm;
	struct cache_stats cs;

	start(f);
	ask(f, "What is 2+2?", 0.0, NULL, &first);
	assert_int_equal(first.cls, LLM_OK);
	assert_false(first.cached);
	assert_int_equal(sim_requests(f), 1);
	ask(f, "What is 2+2?", 0.0, NULL, &second);
	assert_int_equal(second.cls, LLM_OK);
	assert_true(second.cached);
	assert_int_equal(second.n_attempts, 0);
	assert_float_equal(second.cost_usd, 0, 0);
	assert_string_equal(second.resp.content, first.resp.content);
	assert_string_equal(second.provider, "anthropic");
	assert_int_equal(sim_requests(f), 1); /* no provider touched */
	/* A warm temperature is never cached, an omitted one neither. */
	ask(f, "What is 2+2?", 0.7, NULL, &warm);
	assert_false(warm.cached);
	router_result_free(&warm);
	ask(f, "What is 2+2?", -1, NULL, &warm);
	assert_false(warm.cached);
	router_result_free(&warm);
	assert_int_equal(sim_requests(f), 3);
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM ledger WHERE cache_hit = 1 AND "
	                     "cost_usd = 0 AND outcome = 'ok'"),
	    1);
	assert_int_equal(cache_get_stats(f->store, &cs), 0);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.hits, 1);
	router_result_free(&first);
	router_result_free(&second);
	stop(f);
}

/* Admitted without the worker when nothing needs the database: the budget's
 * reservation from the lease in memory; a cacheable request still goes through
 * the worker (its lookup reads the store); every answer keeps its row and the
 * budget its discipline. */
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

static void
test_admission_skips_the_worker_when_the_lease_covers_it(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	uint64_t fast;

	f->cfg.budget.daily_usd = 10;
	start(f);
	for (int i = 0; i < 20; i++) {
		ask(f, "a question", -1, NULL, &res);
		assert_int_equal(res.cls, LLM_OK);
		router_result_free(&res);
	}
	/* The first took a lease through the worker; the lease covers the rest. */
	fast = admitted_fast(f);
	assert_true(fast >= 10);
	assert_true(fast < 20);
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger WHERE outcome = 'ok'"), 20);
	assert_int_equal(db_int(f, "SELECT count(*) FROM reservations"), 0);
	/* Cacheable: the worker looks it up, twice (a miss, then a hit). */
	for (int i = 0; i < 2; i++) {
		ask(f, "a deterministic question", 0, NULL, &res);
		assert_int_equal(res.cls, LLM_OK);
		assert_int_equal(res.cached, i);
		router_result_free(&res);
	}
	assert_int_equal(admitted_fast(f), fast);
	stop(f);
}

static void
test_the_budget_refuses_what_it_cannot_afford(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	f->cfg.budget.daily_usd = 0.000001;
	start(f);
	ask(f, "expensive", -1, NULL, &res);
	assert_int_equal(res.cls, LLM_ERR_BUDGET);
	assert_non_null(strstr(res.err.message, "budget"));
	assert_int_equal(res.n_attempts, 0);
	router_result_free(&res);
	assert_int_equal(sim_requests(f), 0);
	assert_int_equal(db_int(f, "SELECT count(*) FROM ledger WHERE outcome = 'refused'"), 1);
	assert_int_equal(db_int(f, "SELECT count(*) FROM reservations"), 0);
	stop(f);
}

static void
test_spend_settles_to_the_real_cost(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	f->cfg.budget.daily_usd = 10;
	start(f);
	ask(f, "cheap question", -1, NULL, &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
	/* The reservation is gone; the ledger holds the real cost. */
	assert_int_equal(db_int(f, "SELECT count(*) FROM reservations"), 0);
	assert_true(db_int(f, "SELECT cost_usd * 1e9 FROM ledger") > 0);
	stop(f);
}

static void
test_cost_optimizer_downgrades_under_pressure(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct ledger_row row;
	struct event ev[16];
	size_t n;
	int seen = 0;
	char *cause = NULL;

	f->cfg.budget.daily_usd = 1.0;
	start(f);
	ask(f, "no pressure yet", -1, "claude-sonnet", &res);
	assert_string_equal(res.model, "claude-sonnet");
	router_result_free(&res);
	/* Spend 90% of the budget: below the default 20% left, the ladder steps down. */
	memset(&row, 0, sizeof row);
	snprintf(row.provider, sizeof row.provider, "anthropic");
	snprintf(row.model, sizeof row.model, "claude-opus");
	snprintf(row.outcome, sizeof row.outcome, "ok");
	row.cost_usd = 0.9;
	assert_int_equal(ledger_record(f->store, &row, 0, &cause), 0);
	ask(f, "under pressure", -1, "claude-sonnet", &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.model, "claude-haiku");
	router_result_free(&res);
	n = event_last(router_events(f->r), ev, 16);
	for (size_t i = 0; i < n; i++)
		if (strstr(ev[i].message, "claude-sonnet -> claude-haiku") != NULL)
			seen = 1;
	assert_true(seen);
	stop(f);
}

static void
test_events_reach_the_database(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	start(f);
	assert_int_equal(router_set_weight(f->r, "anthropic", 0.25, &cause), 0);
	stop(f); /* the worker drains its queue before it stops */
	assert_int_equal(db_int(f,
	                     "SELECT count(*) FROM events WHERE kind = 'operator' AND "
	                     "message LIKE '%weight 1.00 -> 0.25%'"),
	    1);
}

static void
test_overrides_survive_a_restart_until_reset(void **state)
{
	struct fixture *f = *state;
	struct router_snapshot s;
	char *cause = NULL;

	start(f);
	assert_int_equal(router_set_weight(f->r, "anthropic", 0.5, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", 3, &cause), 0);
	assert_int_equal(router_set_admin(f->r, "anthropic", ADMIN_DRAINED, &cause), 0);
	stop(f);
	start(f);
	router_snapshot(f->r, &s);
	assert_float_equal(s.providers[0].weight, 0.5, 1e-9);
	assert_int_equal(s.providers[0].priority, 3);
	assert_int_equal(s.providers[0].admin, ADMIN_DRAINED);
	assert_true(s.providers[0].weight_overridden);
	assert_true(s.providers[0].priority_overridden);
	assert_true(s.providers[0].admin_overridden);
	router_snapshot_free(&s);
	assert_int_equal(router_clear_overrides(f->r, "anthropic", &cause), 0);
	stop(f);
	start(f);
	router_snapshot(f->r, &s);
	assert_float_equal(s.providers[0].weight, 1.0, 1e-9);
	assert_int_equal(s.providers[0].priority, 1);
	assert_int_equal(s.providers[0].admin, ADMIN_ENABLED);
	assert_false(s.providers[0].weight_overridden);
	router_snapshot_free(&s);
	stop(f);
}

/* A configured priority outside the old 0..1000 can be raised, lowered and set again. */
static void
test_operators_take_what_the_config_allows(void **state)
{
	struct fixture *f = *state;
	struct router_snapshot s;
	char *cause = NULL;

	f->cfg.providers[0].priority = 5000;
	start(f);
	assert_int_equal(router_set_priority(f->r, "anthropic", 4999, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", 5001, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", 5000, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", LIMIT_PRIORITY_MAX, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", LIMIT_PRIORITY_MIN, &cause), 0);
	assert_int_equal(router_set_priority(f->r, "anthropic", LIMIT_PRIORITY_MIN - 1, &cause),
	    -1);
	assert_non_null(strstr(cause, "out of range"));
	free(cause);
	cause = NULL;
	assert_int_equal(router_set_weight(f->r, "anthropic", LIMIT_WEIGHT_MIN, &cause), 0);
	assert_int_equal(router_set_weight(f->r, "anthropic", LIMIT_WEIGHT_MAX, &cause), 0);
	assert_int_equal(router_set_weight(f->r, "anthropic", LIMIT_WEIGHT_MAX * 2, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(router_set_weight(f->r, "anthropic", 0, &cause), -1);
	free(cause);
	router_snapshot(f->r, &s);
	assert_int_equal(s.providers[0].priority, LIMIT_PRIORITY_MIN);
	assert_float_equal(s.providers[0].weight, LIMIT_WEIGHT_MAX, 1e-9);
	router_snapshot_free(&s);
	stop(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_every_answer_has_its_ledger_row_before_the_caller_sees_it),
	    T(test_a_deterministic_request_is_served_from_the_cache),
	    T(test_admission_skips_the_worker_when_the_lease_covers_it),
	    T(test_the_budget_refuses_what_it_cannot_afford),
	    T(test_spend_settles_to_the_real_cost),
	    T(test_cost_optimizer_downgrades_under_pressure),
	    T(test_events_reach_the_database),
	    T(test_overrides_survive_a_restart_until_reset),
	    T(test_operators_take_what_the_config_allows),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
