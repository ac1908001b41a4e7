/*
 * test_router_requests.c: the live request view (router_requests.c) against
 * simulated providers over loopback: a slow request listed in flight with
 * its key, team, model, provider and attempt, its detail while in flight and
 * once finished (attempts, statuses, errors, cost), failover attempts, the
 * stream's delta count, the ring of recent requests bounded at
 * ROUTER_REQUESTS_RECENT, and an operator's test prompt kept out of the
 * window's client figures.
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

#include "config/config.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"
#include "util/waiter.h"

struct fixture {
	struct testkit kit;
	struct router *r;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	testkit_init(&f->kit);
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

static void
on_done(void *arg, struct router_result *res)
{
	waiter_done(arg, 0, res);
}

static uint64_t
submit(struct fixture *f, int stream, int operator_test, struct waiter *w)
{
	struct llm_request req;
	uint64_t id;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "hello there");
	req.model = xstrdup("test-model");
	req.stream = stream;
	req.max_tokens = 50;
	req.key_id = xstrdup("key_abc");
	req.team = xstrdup("search");
	req.operator_test = operator_test;
	waiter_init(w);
	id = router_submit(f->r, &req, NULL, on_done, w);
	llm_request_free(&req);
	return id;
}

static enum llm_errclass
wait_done(struct waiter *w)
{
	struct router_result *res;
	enum llm_errclass cls;

	waiter_wait(w);
	res = w->ptr;
	cls = res->cls;
	router_result_free(res);
	free(res);
	return cls;
}

static void
nap_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* The in-flight entry of id once its first attempt is out (5 s at most). */
static void
await_attempt(struct fixture *f, uint64_t id, struct router_request_info *out)
{
	uint64_t until = clock_mono_ms() + 5000;

	while (clock_mono_ms() < until) {
		struct router_requests rq;
		int found = 0;

		router_requests(f->r, 0, &rq);
		for (size_t i = 0; i < rq.n_in_flight; i++)
			if (rq.in_flight[i].id == id && rq.in_flight[i].attempts > 0) {
				*out = rq.in_flight[i];
				found = 1;
			}
		router_requests_free(&rq);
		if (found)
			return;
		nap_ms(5);
	}
	fail_msg("request %llu never showed an attempt in flight", (unsigned long long)id);
}

static void
test_slow_request_in_flight_then_recent(void **state)
{
	struct fixture *f = *state;
	struct router_request_info in;
	struct router_request_detail d;
	struct router_requests rq;
	struct waiter w;
	uint64_t id;

	testkit_add_provider(&f->kit, "slowone", SIM_OPENAI, 1, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":700}");
	f->r = testkit_router(&f->kit, NULL);

	id = submit(f, 0, 0, &w);
	assert_true(id > 0);
	await_attempt(f, id, &in);
	assert_int_equal(in.done, 0);
	assert_string_equal(in.model, "test-model");
	assert_string_equal(in.provider, "slowone");
	assert_string_equal(in.key_id, "key_abc");
	assert_string_equal(in.team, "search");
	assert_int_equal(in.attempts, 1);
	assert_int_equal(in.operator_test, 0);

	assert_int_equal(router_request_detail(f->r, id, &d), 0);
	assert_int_equal(d.info.id, id);
	assert_int_equal(d.n_attempts, 1);
	assert_int_equal(d.attempts[0].in_flight, 1);
	assert_string_equal(d.attempts[0].provider, "slowone");
	router_request_detail_free(&d);

	assert_int_equal(wait_done(&w), LLM_OK);
	router_requests(f->r, 10, &rq);
	assert_int_equal(rq.n_in_flight, 0);
	assert_int_equal(rq.total_in_flight, 0);
	assert_int_equal(rq.n_recent, 1);
	assert_int_equal(rq.recent[0].id, id);
	assert_int_equal(rq.recent[0].done, 1);
	assert_int_equal(rq.recent[0].cls, LLM_OK);
	assert_int_equal(rq.recent[0].status, 200);
	assert_string_equal(rq.recent[0].provider, "slowone");
	assert_true(rq.recent[0].cost_usd > 0);
	assert_true(rq.recent[0].elapsed_us >= 700000);
	assert_true(rq.recent[0].finished_ms > 0);
	router_requests_free(&rq);

	assert_int_equal(router_request_detail(f->r, id, &d), 0);
	assert_int_equal(d.n_attempts, 1);
	assert_int_equal(d.attempts[0].in_flight, 0);
	assert_int_equal(d.attempts[0].status, 200);
	assert_int_equal(d.attempts[0].cls, LLM_OK);
	assert_true(d.attempts[0].latency_us >= 700000);
	assert_true(d.attempts[0].cost_usd > 0);
	router_request_detail_free(&d);
	assert_int_equal(router_request_detail(f->r, id + 1000, &d), -1);
}

/* In flight, oldest first, and the limit keeps the oldest. */
static void
test_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct router_request_info in;
	struct router_requests rq;
	struct waiter w[3];
	uint64_t id[3];

	testkit_add_provider(&f->kit, "slowone", SIM_OPENAI, 1, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":600}");
	f->r = testkit_router(&f->kit, NULL);
	for (int i = 0; i < 3; i++) {
		id[i] = submit(f, 0, 0, &w[i]);
		await_attempt(f, id[i], &in);
	}
	router_requests(f->r, 2, &rq);
	assert_int_equal(rq.total_in_flight, 3);
	assert_int_equal(rq.n_in_flight, 2);
	assert_int_equal(rq.in_flight[0].id, id[0]);
	assert_int_equal(rq.in_flight[1].id, id[1]);
	assert_true(rq.in_flight[0].elapsed_us >= rq.in_flight[1].elapsed_us);
	router_requests_free(&rq);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wait_done(&w[i]), LLM_OK);
}

/* A failed attempt then the answer: both in the detail, with the error. */
static void
test_failover_attempts_in_detail(void **state)
{
	struct fixture *f = *state;
	struct router_request_detail d;
	struct waiter w;
	uint64_t id;

	testkit_add_provider(&f->kit, "broken", SIM_ANTHROPIC, 1, 1);
	testkit_add_provider(&f->kit, "healthy", SIM_OPENAI, 2, 1);
	f->kit.cfg.providers[0].max_retries = 0;
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":500}");
	f->r = testkit_router(&f->kit, NULL);
	id = submit(f, 0, 0, &w);
	assert_int_equal(wait_done(&w), LLM_OK);
	assert_int_equal(router_request_detail(f->r, id, &d), 0);
	assert_string_equal(d.info.provider, "healthy");
	assert_int_equal(d.info.attempts, 2);
	assert_int_equal(d.n_attempts, 2);
	assert_string_equal(d.attempts[0].provider, "broken");
	assert_int_equal(d.attempts[0].status, 500);
	assert_int_not_equal(d.attempts[0].cls, LLM_OK);
	assert_true(d.attempts[0].error[0] != '\0');
	assert_string_equal(d.attempts[1].provider, "healthy");
	assert_int_equal(d.attempts[1].cls, LLM_OK);
	router_request_detail_free(&d);
}

/* Streamed deltas are counted; the ring keeps the newest ROUTER_REQUESTS_RECENT. */
static void
test_stream_deltas_and_ring_bound(void **state)
{
	struct fixture *f = *state;
	struct router_request_detail d;
	struct router_requests rq;
	struct waiter w;
	uint64_t first, last = 0;

	testkit_add_provider(&f->kit, "fast", SIM_OPENAI, 1, 1);
	f->r = testkit_router(&f->kit, NULL);
	first = submit(f, 1, 0, &w);
	assert_int_equal(wait_done(&w), LLM_OK);
	assert_int_equal(router_request_detail(f->r, first, &d), 0);
	assert_int_equal(d.info.stream, 1);
	assert_true(d.info.deltas > 0);
	router_request_detail_free(&d);

	for (int i = 0; i < ROUTER_REQUESTS_RECENT; i++) {
		last = submit(f, 0, 0, &w);
		assert_int_equal(wait_done(&w), LLM_OK);
	}
	router_requests(f->r, 1000, &rq);
	assert_int_equal(rq.n_recent, ROUTER_REQUESTS_RECENT);
	assert_int_equal(rq.recent[0].id, last);
	assert_int_equal(rq.recent[ROUTER_REQUESTS_RECENT - 1].id, first + 1);
	router_requests_free(&rq);
	assert_int_equal(router_request_detail(f->r, first, &d), -1);
}

/* An operator's test prompt: listed as one, not in the window's requests. */
static void
test_operator_test_out_of_client_figures(void **state)
{
	struct fixture *f = *state;
	struct router_snapshot s;
	struct router_requests rq;
	struct waiter w;

	testkit_add_provider(&f->kit, "fast", SIM_OPENAI, 1, 1);
	f->r = testkit_router(&f->kit, NULL);
	submit(f, 0, 1, &w);
	assert_int_equal(wait_done(&w), LLM_OK);
	router_snapshot_window(f->r, &s, 60);
	assert_int_equal(s.window.requests, 0);
	assert_int_equal(s.answered, 1); /* the totals are the router's own */
	router_snapshot_free(&s);
	submit(f, 0, 0, &w);
	assert_int_equal(wait_done(&w), LLM_OK);
	router_snapshot_window(f->r, &s, 60);
	assert_int_equal(s.window.requests, 1);
	router_snapshot_free(&s);
	router_requests(f->r, 0, &rq);
	assert_int_equal(rq.n_recent, 2);
	assert_int_equal(rq.recent[0].operator_test, 0);
	assert_int_equal(rq.recent[1].operator_test, 1);
	router_requests_free(&rq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_slow_request_in_flight_then_recent, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_oldest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failover_attempts_in_detail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_deltas_and_ring_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_operator_test_out_of_client_figures, setup,
	        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
