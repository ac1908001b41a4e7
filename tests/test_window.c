/*
 * test_window.c: the windowed numbers. window.c on its own (slots reused
 * after a wrap, seconds before the window left out, quantiles of the window
 * only), then the router on a test clock: share, error rate, series and
 * p50/p95/p99 over the last window_s seconds, apart from the totals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"
#include "router/window.h"

static void
test_a_window_counts_only_its_seconds(void **state)
{
	struct window *w = xcalloc(1, sizeof *w);
	struct window_stats ws;
	uint64_t cancelled = 0;

	(void)state;
	/* Second 1000: 3 answers at 100 ms, second 1001: an error, second 1030: a cancel. */
	for (int i = 0; i < 3; i++)
		window_record(w, 1000000 + (uint64_t)i, LLM_OK, 100000);
	window_record(w, 1001500, LLM_ERR_SERVER, 0);
	window_record(w, 1030000, LLM_ERR_CANCELLED, 0);

	memset(&ws, 0, sizeof ws);
	window_read(w, 1030999, 60, &ws, &cancelled);
	assert_int_equal(ws.requests, 5);
	assert_int_equal(ws.errors, 1);
	assert_int_equal(cancelled, 1);
	assert_int_equal(ws.latency.total, 3);
	/* Oldest first, the current second last: 1030 - 59 = 971, so 1000 is entry 29. */
	assert_int_equal(ws.series_requests[29], 3);
	assert_int_equal(ws.series_requests[30], 1);
	assert_int_equal(ws.series_errors[30], 1);
	assert_int_equal(ws.series_requests[59], 1);
	assert_int_equal(ws.series_requests[0], 0);
	/* 100 ms within the histogram's 1/16 resolution. */
	assert_true(ws.p50_us >= 100000 && ws.p50_us < 106250);
	assert_true(ws.p99_us >= 100000 && ws.p99_us < 106250);

	/* A 10 s window at 1030 sees only the cancel. */
	window_read(w, 1030999, 10, &ws, &cancelled);
	assert_int_equal(ws.requests, 1);
	assert_int_equal(ws.errors, 0);
	assert_int_equal(ws.p50_us, 0);

	/* Two minutes later the slots are reused: second 1000 + 120 replaces second 1000. */
	window_record(w, 1120000, LLM_OK, 2000000);
	window_read(w, 1120000, ROUTER_WINDOW_MAX, &ws, &cancelled);
	assert_int_equal(ws.requests, 3); /* 1001's error, 1030's cancel, 1120's answer */
	assert_int_equal(ws.latency.total, 1);
	assert_true(ws.p50_us >= 2000000 && ws.p50_us < 2125000);

	/* Much later nothing is left, even where a stale slot still says otherwise. */
	window_read(w, 5000000, 60, &ws, &cancelled);
	assert_int_equal(ws.requests, 0);
	assert_int_equal(ws.latency.total, 0);
	free(w);
}

static void
test_quantiles_are_of_the_window_only(void **state)
{
	struct window *w = xcalloc(1, sizeof *w);
	struct window_stats ws;

	(void)state;
	/* 90 fast answers at second 100, 10 slow ones at 101: p50 fast, p95 slow. */
	for (int i = 0; i < 90; i++)
		window_record(w, 100000, LLM_OK, 10000);
	for (int i = 0; i < 10; i++)
		window_record(w, 101000, LLM_OK, 1000000);
	memset(&ws, 0, sizeof ws);
	window_read(w, 101000, 60, &ws, NULL);
	assert_true(ws.p50_us < 11000);
	assert_true(ws.p95_us >= 1000000);
	assert_true(ws.p99_us >= 1000000);
	/* A one-second window holds the slow ones only. */
	window_read(w, 101000, 1, &ws, NULL);
	assert_int_equal(ws.requests, 10);
	assert_true(ws.p50_us >= 1000000);
	free(w);
}

struct fixture {
	struct testkit kit;
	struct router *r;
	_Atomic uint64_t now; /* test clock, ms */
};

static uint64_t
fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct router_opts ro;
	char *cause = NULL;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "a", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "b", SIM_ANTHROPIC, 1, 1);
	/* Failures must not open a breaker here: the window is what is looked at. */
	f->kit.cfg.breaker.failure_threshold = 1000;
	f->now = 5000000;
	memset(&ro, 0, sizeof ro);
	ro.seed = 99;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.now_ms = fake_clock;
	ro.now_arg = f;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	router_free(f->r);
	testkit_free(&f->kit);
	free(f);
	return 0;
}

static int
ask(struct fixture *f, const char *provider)
{
	struct llm_request req;
	struct router_result res;
	int rc;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "window");
	req.max_tokens = 50;
	req.provider = provider != NULL ? xstrdup(provider) : NULL;
	rc = router_generate(f->r, &req, NULL, NULL, &res);
	router_result_free(&res);
	llm_request_free(&req);
	return rc;
}

static const struct provider_snapshot *
provider_of(const struct router_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_providers; i++)
		if (strcmp(s->providers[i].name, name) == 0)
			return &s->providers[i];
	fail_msg("no provider %s", name);
	return NULL;
}

/*
 * A minute of traffic on a, then a minute on b only: over the last 60 s a's
 * share is 0 and b's 1, while the totals still say half and half; a's
 * errors leave its window with the minute they happened in.
 */
static void
test_share_and_errors_follow_the_window_not_the_totals(void **state)
{
	struct fixture *f = *state;
	struct router_snapshot s;
	const struct provider_snapshot *a, *b;

	for (int i = 0; i < 4; i++)
		assert_int_equal(ask(f, "a"), 0);
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":500}");
	assert_int_not_equal(ask(f, "a"), 0);
	testkit_control(&f->kit, 0, "{\"error_rate\":0}");

	memset(&s, 0, sizeof s);
	router_snapshot_window(f->r, &s, 60);
	a = provider_of(&s, "a");
	assert_int_equal(s.window_s, 60);
	assert_int_equal(a->window.requests, a->requests);
	assert_true(a->window.errors >= 1);
	assert_int_equal(a->window.errors, a->errors);
	assert_true(a->window.share > 0.99);
	assert_true(a->window.p50_us > 0);
	assert_int_equal(a->window.series_requests[59], a->requests); /* all this second */
	assert_int_equal(s.window.requests, 5);
	assert_int_equal(s.window.errors, 1); /* failed requests */
	assert_int_equal(s.window_attempts_failed, a->errors);
	assert_int_equal(s.window.latency.total, 4);
	router_snapshot_free(&s);

	/* 61 s later only b serves. */
	f->now += 61000;
	for (int i = 0; i < 5; i++)
		assert_int_equal(ask(f, "b"), 0);
	memset(&s, 0, sizeof s);
	router_snapshot_window(f->r, &s, 60);
	a = provider_of(&s, "a");
	b = provider_of(&s, "b");
	assert_int_equal(a->window.requests, 0);
	assert_int_equal(a->window.errors, 0);
	assert_true(a->window.share == 0);
	assert_true(b->window.share > 0.99);
	assert_true(a->share > 0.4 && a->share < 0.7); /* totals are apart */
	assert_true(a->errors >= 1);
	assert_int_equal(s.window.requests, 5);
	assert_int_equal(s.window.errors, 0);
	assert_int_equal(s.window_attempts_failed, 0);
	assert_int_equal(s.requests, 10);
	assert_int_equal(s.failed, 1);
	/* The series: b's 5 in the last second; a's burst fell out of the window. */
	assert_int_equal(b->window.series_requests[59], 5);
	assert_int_equal(a->window.series_requests[0], 0);
	router_snapshot_free(&s);

	/* A 120 s window still holds a's minute, 61 s back. */
	memset(&s, 0, sizeof s);
	router_snapshot_window(f->r, &s, 120);
	a = provider_of(&s, "a");
	assert_int_equal(a->window.requests, a->requests);
	assert_int_equal(a->window.series_requests[119 - 61], a->requests);
	router_snapshot_free(&s);

	/* No window asked: nothing filled. */
	memset(&s, 0, sizeof s);
	router_snapshot(f->r, &s);
	assert_int_equal(s.window_s, 0);
	assert_int_equal(s.window.requests, 0);
	assert_int_equal(provider_of(&s, "b")->window.requests, 0);
	router_snapshot_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_window_counts_only_its_seconds),
	    cmocka_unit_test(test_quantiles_are_of_the_window_only),
	    cmocka_unit_test_setup_teardown(test_share_and_errors_follow_the_window_not_the_totals,
	        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
