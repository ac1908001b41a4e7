/*
 * test_budget_gateways.c: several gateways on one database race a small daily
 * budget. Each is what `llmdeck serve` runs (its own store handle, router and
 * HTTP gateway) in this process, all on one file and one simulated provider;
 * clients hammer all of them until each answers with the budget refusal. The
 * ledger's total never exceeds the budget, spent + reservations + leases never
 * does either at any moment a watcher looks, the refusals are the budget's
 * (429, budget_exceeded), and every lease is returned when the gateways stop.
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

#include "store/budget.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

#define GATEWAYS 4
#define CLIENTS_PER_GATEWAY 4
/* A client stops after this many refusals in a row, or this many requests. */
#define CLIENT_REFUSALS 5
#define CLIENT_MAX_REQUESTS 2000
#define DAILY_USD 2.0
#define EPS 1e-9

struct gw {
	struct store *store;
	struct router *r;
	struct gateway *gw;
	atomic_int ok, refused, other;
};

struct client {
	struct gw *g;
	int n;
};

struct watcher {
	const char *path;
	struct budget_conf conf;
	atomic_int stop, errors;
	double worst; /* largest spent + reserved + leased seen */
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	char url[256], body[256];
	int refusals = 0;

	snprintf(url, sizeof url, "%s/v1/chat/completions", gateway_url(c->g->gw));
	for (int i = 0; i < CLIENT_MAX_REQUESTS && refusals < CLIENT_REFUSALS; i++) {
		struct buf out;
		long status;

		/* temperature 1: nothing is cached, every request reserves */
		snprintf(body, sizeof body,
		    "{\"model\":\"test-model\",\"max_tokens\":32,\"temperature\":1,"
		    "\"messages\":[{\"role\":\"user\",\"content\":\"gateway %d request %d\"}]}",
		    c->n, i);
		status = testkit_post_json(url, body, &out);
		if (status == 200) {
			atomic_fetch_add(&c->g->ok, 1);
			refusals = 0;
		} else if (status == 429 && strstr(out.data, "budget_exceeded") != NULL) {
			atomic_fetch_add(&c->g->refused, 1);
			refusals++;
		} else {
			print_message("gateway %d: HTTP %ld: %s\n", c->n, status, out.data);
			atomic_fetch_add(&c->g->other, 1);
			refusals++;
		}
		buf_free(&out);
	}
	return NULL;
}

/* On a store handle of its own, like `llmdeck status` beside the gateways. */
static void *
watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct store *s;
	char *cause = NULL;

	if (store_open(&s, w->path, &cause) != 0) {
		free(cause);
		atomic_fetch_add(&w->errors, 1);
		return NULL;
	}
	while (!atomic_load(&w->stop)) {
		struct budget_status st;

		if (budget_get_status(s, &w->conf, &st, &cause) != 0) {
			free(cause);
			cause = NULL;
			atomic_fetch_add(&w->errors, 1);
			continue;
		}
		if (st.spent_usd + st.reserved_usd + st.leased_usd > w->worst)
			w->worst = st.spent_usd + st.reserved_usd + st.leased_usd;
	}
	store_close(s);
	return NULL;
}

static void
test_gateways_share_the_budget(void **state)
{
	const char *dir = *state;
	char *path = xasprintf("%s/gateways.db", dir);
	struct client clients[GATEWAYS * CLIENTS_PER_GATEWAY];
	pthread_t th[GATEWAYS * CLIENTS_PER_GATEWAY], wt;
	struct gw gws[GATEWAYS];
	struct testkit kit;
	struct watcher w;
	char *cause = NULL;
	double spent;
	int ok = 0, refused = 0;

	testkit_init(&kit);
	testkit_add_provider(&kit, "sim", SIM_OPENAI, 1, 1.0);
	/* dearer than the default test price, so a few hundred answers use the budget */
	for (size_t i = 0; i < kit.cfg.n_models; i++)
		if (strcmp(kit.cfg.models[i].alias, "test-model") == 0) {
			kit.cfg.models[i].input_per_mtok = 100;
			kit.cfg.models[i].output_per_mtok = 200;
		}
	kit.cfg.budget.daily_usd = DAILY_USD;
	kit.cfg.budget.hard_stop = 1;
	kit.cfg.cache.enabled = 0;
	memset(gws, 0, sizeof gws);
	for (int i = 0; i < GATEWAYS; i++) {
		struct router_opts ro;
		struct gateway_opts go;

		if (store_open(&gws[i].store, path, &cause) != 0)
			fail_msg("store_open: %s", cause);
		memset(&ro, 0, sizeof ro);
		ro.seed = (uint64_t)i + 1;
		ro.no_probes = 1;
		ro.store = gws[i].store;
		if ((gws[i].r = router_new(&kit.cfg, &ro, &cause)) == NULL)
			fail_msg("router_new: %s", cause);
		gateway_opts_init(&go);
		go.listen = "127.0.0.1:0";
		go.store = gws[i].store;
		if ((gws[i].gw = gateway_start(gws[i].r, &go, &cause)) == NULL)
			fail_msg("gateway_start: %s", cause);
	}
	memset(&w, 0, sizeof w);
	w.path = path;
	w.conf = kit.cfg.budget;
	pthread_create(&wt, NULL, watcher_main, &w);
	for (int i = 0; i < GATEWAYS * CLIENTS_PER_GATEWAY; i++) {
		clients[i].g = &gws[i % GATEWAYS];
		clients[i].n = i % GATEWAYS;
		pthread_create(&th[i], NULL, client_main, &clients[i]);
	}
	for (int i = 0; i < GATEWAYS * CLIENTS_PER_GATEWAY; i++)
		pthread_join(th[i], NULL);
	atomic_store(&w.stop, 1);
	pthread_join(wt, NULL);
	for (int i = 0; i < GATEWAYS; i++) {
		print_message("gateway %d: %d answered, %d refused by the budget, %d other\n", i,
		    atomic_load(&gws[i].ok), atomic_load(&gws[i].refused),
		    atomic_load(&gws[i].other));
		assert_int_equal(atomic_load(&gws[i].other), 0);
		assert_true(atomic_load(&gws[i].refused) >= CLIENTS_PER_GATEWAY * CLIENT_REFUSALS);
		ok += atomic_load(&gws[i].ok);
		refused += atomic_load(&gws[i].refused);
		gateway_stop(gws[i].gw);
		router_free(gws[i].r);
		store_close(gws[i].store);
	}
	spent = sttest_sql_double(path, "SELECT TOTAL(cost_usd) FROM ledger");
	print_message("%d gateways: %d answered, %d refused, ledger $%.6f of $%.2f, worst "
	              "spent+reserved+leased $%.6f\n",
	    GATEWAYS, ok, refused, spent, DAILY_USD, w.worst);
	assert_int_equal(atomic_load(&w.errors), 0);
	assert_true(ok > 0);
	assert_true(spent <= DAILY_USD + EPS);
	assert_true(w.worst <= DAILY_USD + EPS);
	/* the budget was used, not stranded in leases: each answer costs well under 1% */
	assert_true(spent >= 0.9 * DAILY_USD);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM budget_leases"), 0);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM reservations"), 0);
	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM ledger WHERE outcome = 'ok'"),
	    ok);
	testkit_free(&kit);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_gateways_share_the_budget, sttest_setup_dir,
	        sttest_teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
