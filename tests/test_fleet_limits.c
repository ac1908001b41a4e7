/*
 * test_fleet_limits.c: a provider's RPM limit held across the fleet. Two
 * routers, each on its own store handle (two instances), share one database
 * (SQLite, then a throwaway PostgreSQL cluster: pg_testutil.h) and a provider
 * with rate_limit_rpm 120; both send more than the limit for two minutes of
 * an injected clock. The fleet admits at most the limit + 5% per minute, and
 * each instance gets a share. Also the leases' arithmetic (ratelimit.h) and
 * the allowance's transaction (limits.h) on their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "pg_testutil.h"
#include "router/ratelimit.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/limits.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

#define RPM 120
#define MINUTES 2
/* Simulated ms per step; each step waits a little over one worker poll (250 ms). */
#define STEP_MS 2000
#define STEP_REAL_US 270000
#define TRIES_PER_STEP 6

static struct pgtest *pg;
static char *pg_why;
static int pg_tried;

struct fixture {
	int postgres;
	void *dir;
	char *where;
	_Atomic int64_t now;
	struct sim *sim;
	struct config cfg;
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
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	f->postgres = postgres;
	/* a minute's start, at noon of the test day */
	atomic_store(&f->now, STTEST_NOON - STTEST_NOON % 60000);
	sttest_setup_dir(&f->dir);
	setenv("XDG_STATE_HOME", (const char *)f->dir, 1);
	if (!postgres)
		f->where = xasprintf("%s/store.db", (const char *)f->dir);
	else {
		if (!pg_tried) {
			pg_tried = 1;
			pg = pgtest_start(&pg_why);
		}
		if (pg != NULL)
			f->where = pgtest_new_db(pg);
	}
	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "sim");
	so.protocol = SIM_ANTHROPIC;
	if ((f->sim = sim_start(&so, &cause)) == NULL)
		return -1;
	config_init(&f->cfg);
	f->cfg.providers = xcalloc(1, sizeof *f->cfg.providers);
	f->cfg.n_providers = 1;
	p = &f->cfg.providers[0];
	p->name = xstrdup("anthropic");
	p->kind = PROVIDER_ANTHROPIC;
	p->base_url = xstrdup(sim_url(f->sim));
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("claude-haiku");
	p->n_models = 1;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 10;
	p->tls_verify = 1;
	p->enabled = 1;
	p->rate_limit_rpm = RPM;
	f->cfg.breaker.probe_interval_ms = 0;
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

	sim_stop(f->sim);
	config_free(&f->cfg);
	sttest_teardown_dir(&f->dir);
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

static void
beat(struct store *s, const char *id)
{
	struct store_instance i;

	memset(&i, 0, sizeof i);
	strlcpy_(i.id, id, sizeof i.id);
	strlcpy_(i.host, "h", sizeof i.host);
	strlcpy_(i.state, "ready", sizeof i.state);
	assert_int_equal(store_instance_beat(s, &i), 0);
}

static int
ask(struct router *r)
{
	struct llm_request req;
	struct router_result res;
	int ok;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "hello");
	req.model = xstrdup("claude-haiku");
	req.max_tokens = 20;
	router_generate(r, &req, NULL, NULL, &res);
	ok = res.cls == LLM_OK;
	router_result_free(&res);
	llm_request_free(&req);
	return ok;
}

/* Two instances over MINUTES minutes: the fleet's admitted count per minute. */
static void
test_two_routers_share_the_limit(void **state)
{
	struct fixture *f = *state;
	const char *ids[2] = {"a-1", "b-2"};
	struct store *s[2];
	struct router *r[2];
	int admitted[2][MINUTES], tried = 0;
	char *cause = NULL;

	memset(admitted, 0, sizeof admitted);
	for (int k = 0; k < 2; k++) {
		s[k] = fx_open(f, ids[k]);
		beat(s[k], ids[k]);
	}
	for (int k = 0; k < 2; k++) {
		struct router_opts ro;

		memset(&ro, 0, sizeof ro);
		ro.seed = 7 + (uint64_t)k;
		ro.no_probes = 1;
		ro.store = s[k];
		if ((r[k] = router_new(&f->cfg, &ro, &cause)) == NULL)
			fail_msg("router_new: %s", cause);
	}
	for (int m = 0; m < MINUTES; m++) {
		for (int step = 0; step < 60000 / STEP_MS; step++) {
			for (int t = 0; t < TRIES_PER_STEP; t++)
				for (int k = 0; k < 2; k++) {
					admitted[k][m] += ask(r[k]);
					tried++;
				}
			for (int k = 0; k < 2; k++)
				beat(s[k], ids[k]);
			usleep(STEP_REAL_US); /* a worker poll refills the leases */
			atomic_fetch_add(&f->now, STEP_MS);
		}
	}
	for (int m = 0; m < MINUTES; m++) {
		int total = admitted[0][m] + admitted[1][m];

		print_message("%s minute %d: admitted %d + %d = %d of %d tried, limit %d "
		              "(%.1f%%)\n",
		    f->postgres ? "postgres" : "sqlite", m, admitted[0][m], admitted[1][m], total,
		    tried / MINUTES, RPM, 100.0 * total / RPM);
		assert_true(total <= RPM * 105 / 100);
		assert_true(total >= RPM * 90 / 100); /* the allowance is used, not lost */
		assert_true(admitted[0][m] >= RPM / 4 && admitted[1][m] >= RPM / 4);
	}
	for (int k = 0; k < 2; k++) {
		router_free(r[k]);
		store_close(s[k]);
	}
}

/* The allowance's transaction: never more than the limit a minute, give-backs, a new minute. */
static void
test_allowance(void **state)
{
	struct fixture *f = *state;
	struct store *a = fx_open(f, "a-1"), *b = fx_open(f, "b-2");
	double g, total = 0;
	char *cause = NULL;

	for (int i = 0; i < 10; i++) {
		assert_int_equal(limits_take(i % 2 ? a : b, "p", "rpm", 7, 100, 15, &g, &cause), 0);
		total += g;
	}
	assert_true(total == 100);
	assert_int_equal(limits_take(a, "p", "rpm", 7, 100, 15, &g, &cause), 0);
	assert_true(g == 0);
	assert_int_equal(limits_take(a, "p", "rpm", 7, 100, -10, &g, &cause), 0); /* given back */
	assert_int_equal(limits_take(b, "p", "rpm", 7, 100, 15, &g, &cause), 0);
	assert_true(g == 10);
	assert_int_equal(limits_take(b, "p", "tpm", 7, 1000, 300, &g, &cause), 0);
	assert_true(g == 300); /* another kind, its own allowance */
	assert_int_equal(limits_take(b, "p", "rpm", 8, 100, 15, &g, &cause), 0);
	assert_true(g == 15); /* the next minute starts afresh */
	beat(a, "a-1");
	beat(b, "b-2");
	assert_int_equal(limits_live_instances(a), 2);
	assert_true(limits_slice(120, 2) == 15);
	assert_true(limits_slice(2, 3) == 1);
	store_close(a);
	store_close(b);
}

/* The lease in memory: taken, refunded, expired with its minute, the next one ahead. */
static void
test_lease_arithmetic(void **state)
{
	struct rate_lease l;
	int64_t minute;
	int ahead;

	(void)state;
	rate_lease_init(&l);
	assert_false(rate_lease_take(&l, 1, 60000, 1));
	l.slice = 10;
	assert_true(rate_lease_want(&l, 60000, 1500, &ahead, &minute) == 10);
	assert_int_equal(ahead, 0);
	assert_int_equal(minute, 1);
	rate_lease_add(&l, minute, 10);
	assert_true(rate_lease_want(&l, 60000, 1500, &ahead, &minute) == 0);
	for (int i = 0; i < 6; i++)
		assert_true(rate_lease_take(&l, 1, 61000, 1));
	rate_lease_refund(&l, 1, 61000);
	assert_true(l.held == 5);
	assert_true(rate_lease_want(&l, 62000, 1500, &ahead, &minute) == 0);
	/* near the minute's end the next one is taken ahead */
	assert_true(rate_lease_want(&l, 119000, 1500, &ahead, &minute) == 10);
	assert_int_equal(ahead, 1);
	assert_int_equal(minute, 2);
	rate_lease_add(&l, minute, 10);
	assert_true(rate_lease_take(&l, 5, 119500, 1));
	assert_false(rate_lease_take(&l, 1, 119600, 1));
	assert_true(rate_lease_take(&l, 10, 120000, 1)); /* the next minute's lease */
	assert_false(rate_lease_take(&l, 1, 120001, 1));
	rate_lease_add(&l, 2, 3);
	assert_true(rate_lease_take(&l, 3, 125000, 1));
	/* what a minute left expires with it */
	rate_lease_add(&l, 2, 4);
	assert_false(rate_lease_take(&l, 1, 180000, 1));
}

static int
group_teardown(void **state)
{
	(void)state;
	pgtest_stop(pg);
	free(pg_why);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lease_arithmetic),
	    cmocka_unit_test_setup_teardown(test_allowance, setup_sqlite, teardown),
	    cmocka_unit_test_setup_teardown(test_allowance, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_two_routers_share_the_limit, setup_sqlite,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_two_routers_share_the_limit, setup_pg, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
