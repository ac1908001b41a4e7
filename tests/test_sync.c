/*
 * test_sync.c: two routers on one database file (two store handles, two
 * instance ids, as two processes would be): an override made on one reaches
 * the other within a second (drain, clear, priority, weight), only changes
 * are applied (a provider found misconfigured stays out), and each sees the
 * other's events in its ring, tagged with the other's instance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/events.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "testkit.h"
#include "util/util.h"

/* The bound on every wait for the other router to catch up. */
#define SYNC_WAIT_MS 2000

struct fixture {
	struct testkit kit;
	char dir[64];
	char db[128];
	struct store *sa, *sb;
	struct router *a, *b;
};

static struct router *
open_router(struct fixture *f, struct store **st, const char *instance)
{
	struct router_opts ro;
	struct router *r;
	char *cause = NULL;

	if (store_open(st, f->db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	store_set_instance(*st, instance);
	memset(&ro, 0, sizeof ro);
	ro.seed = 5;
	ro.no_probes = 1;
	ro.store = *st;
	if ((r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	return r;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-sync-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof f->db, "%s/shared.db", f->dir);
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "claude", SIM_ANTHROPIC, 1, 1);
	f->a = open_router(f, &f->sa, "serve-a");
	f->b = open_router(f, &f->sb, "serve-b");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	router_free(f->a);
	router_free(f->b);
	store_close(f->sa);
	store_close(f->sb);
	testkit_free(&f->kit);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Provider name's state in r's snapshot. */
static struct provider_snapshot
provider_state(struct router *r, const char *name)
{
	struct router_snapshot s;
	struct provider_snapshot p;

	memset(&s, 0, sizeof s);
	router_snapshot(r, &s);
	for (size_t i = 0; i < s.n_providers; i++) {
		if (strcmp(s.providers[i].name, name) == 0) {
			p = s.providers[i];
			router_snapshot_free(&s);
			return p;
		}
	}
	fail_msg("no provider %s", name);
	return p;
}

/* Poll (bounded) until name's admin state in r is want; the milliseconds it took. */
static long
wait_admin(struct router *r, const char *name, enum provider_admin want)
{
	uint64_t start = clock_mono_ms();

	while (provider_state(r, name).admin != want) {
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("%s did not become %s within %d ms", name,
			    provider_admin_name(want), SYNC_WAIT_MS);
		sleep_ms(10);
	}
	return (long)(clock_mono_ms() - start);
}

static int
ask(struct router *r)
{
	struct llm_request req;
	struct router_result res;
	int rc;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "sync");
	req.max_tokens = 20;
	rc = router_generate(r, &req, NULL, NULL, &res);
	router_result_free(&res);
	llm_request_free(&req);
	return rc;
}

/* An event in r's ring from instance whose message holds text. */
static int
ring_has(struct router *r, const char *instance, const char *text)
{
	struct event ev[256];
	size_t n = event_last(router_events(r), ev, nitems(ev));

	for (size_t i = 0; i < n; i++)
		if (strcmp(ev[i].instance, instance) == 0 && strstr(ev[i].message, text) != NULL)
			return 1;
	return 0;
}

static void
test_a_drain_on_one_router_reaches_the_other_and_a_clear_brings_it_back(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;
	uint64_t before;
	long ms;

	assert_int_equal(router_set_admin(f->a, "gpt", ADMIN_DRAINED, &cause), 0);
	ms = wait_admin(f->b, "gpt", ADMIN_DRAINED);
	print_message("drain reached the other router in %ld ms\n", ms);
	assert_true(provider_state(f->b, "gpt").admin_overridden);

	/* Neither routes to it now. */
	before = testkit_sim_requests(&f->kit, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ask(f->a), 0);
		assert_int_equal(ask(f->b), 0);
	}
	assert_int_equal(testkit_sim_requests(&f->kit, 0), before);

	/* clear-overrides on the other one: back on both. */
	assert_int_equal(router_clear_overrides(f->b, "gpt", &cause), 0);
	assert_int_equal(provider_state(f->b, "gpt").admin, ADMIN_ENABLED);
	ms = wait_admin(f->a, "gpt", ADMIN_ENABLED);
	print_message("clear reached the other router in %ld ms\n", ms);
	assert_false(provider_state(f->a, "gpt").admin_overridden);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(ask(f->a), 0);
		assert_int_equal(ask(f->b), 0);
	}
	assert_true(testkit_sim_requests(&f->kit, 0) > before);

	/* Each sees the other's operator events, tagged; its own are not doubled. */
	assert_true(ring_has(f->b, "serve-a", "gpt drained"));
	assert_true(ring_has(f->a, "serve-b", "overrides of gpt reset"));
	assert_false(ring_has(f->a, "serve-a", "gpt drained"));
	assert_true(ring_has(f->a, "", "gpt drained"));
}

static void
test_priority_and_weight_travel_and_clear_all_reverts_them(void **state)
{
	struct fixture *f = *state;
	struct provider_snapshot p;
	char *cause = NULL;
	uint64_t start = clock_mono_ms();

	assert_int_equal(router_set_priority(f->a, "claude", 7, &cause), 0);
	assert_int_equal(router_set_weight(f->a, "claude", 2.5, &cause), 0);
	for (;;) {
		p = provider_state(f->b, "claude");
		if (p.priority == 7 && p.weight == 2.5)
			break;
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("priority/weight did not travel within %d ms", SYNC_WAIT_MS);
		sleep_ms(10);
	}
	assert_true(p.priority_overridden && p.weight_overridden);

	/* Clear every provider's overrides on b: a goes back to the config. */
	assert_int_equal(router_clear_overrides(f->b, NULL, &cause), 0);
	start = clock_mono_ms();
	for (;;) {
		p = provider_state(f->a, "claude");
		if (p.priority == 1 && p.weight == 1)
			break;
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("the clear did not travel within %d ms", SYNC_WAIT_MS);
		sleep_ms(10);
	}
	assert_false(p.priority_overridden || p.weight_overridden);
}

/* An old "enabled" row does not put back a provider this router found
 * misconfigured; an operator setting it again does. */
static void
test_only_changes_are_applied(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;
	uint64_t start;

	assert_int_equal(router_set_admin(f->a, "gpt", ADMIN_ENABLED, &cause), 0);
	start = clock_mono_ms();
	while (!provider_state(f->b, "gpt").admin_overridden) {
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("b never read the enabled row");
		sleep_ms(10);
	}
	/* gpt now answers 401 to everyone: b finds out. */
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":401}");
	start = clock_mono_ms();
	while (provider_state(f->b, "gpt").admin != ADMIN_MISCONFIGURED) {
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("gpt never became misconfigured on b");
		ask(f->b);
	}
	testkit_control(&f->kit, 0, "{\"error_rate\":0}");
	/* Another change in the table makes b read it again; gpt's row did not change. */
	assert_int_equal(router_set_weight(f->a, "claude", 3, &cause), 0);
	start = clock_mono_ms();
	while (provider_state(f->b, "claude").weight != 3) {
		if (clock_mono_ms() - start > SYNC_WAIT_MS)
			fail_msg("the weight did not travel");
		sleep_ms(10);
	}
	assert_int_equal(provider_state(f->b, "gpt").admin, ADMIN_MISCONFIGURED);
	/* An operator enabling it again, though it is enabled there, does reach b. */
	assert_int_equal(router_set_admin(f->a, "gpt", ADMIN_ENABLED, &cause), 0);
	wait_admin(f->b, "gpt", ADMIN_ENABLED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_drain_on_one_router_reaches_the_other_and_a_clear_brings_it_back, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_priority_and_weight_travel_and_clear_all_reverts_them, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_only_changes_are_applied, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
