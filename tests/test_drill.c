/*
 * test_drill.c: failover that holds when a provider half-fails (issue 8).
 * The drill (three sims, every fault on the primary, c=16, half streamed)
 * asserts on counts: no failed request while a healthy provider exists, every
 * stream complete or ended by an explicit stream_broken error. Then each rule
 * on its own: per-attempt limits, no blame for a squeezed timeout, no retry
 * loop on a provider whose breaker opened, hedges, cancellation, recovery.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "drill.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

struct fixture {
	struct testkit kit;
	struct router *r;
};

static int
setup(void **state)
{
	*state = xcalloc(1, sizeof(struct fixture));
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
start(struct fixture *f)
{
	struct router_opts ro;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 99;
	ro.no_probes = 1;
	ro.backoff_base_ms = 5;
	ro.backoff_max_ms = 100;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
}

static void
ask(struct fixture *f, int stream, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "hello there");
	req.stream = stream;
	req.max_tokens = 200;
	router_generate(f->r, &req, NULL, NULL, res);
	llm_request_free(&req);
}

static const struct provider_snapshot *
snap(struct router_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_providers; i++)
		if (strcmp(s->providers[i].name, name) == 0)
			return &s->providers[i];
	fail_msg("no provider %s", name);
	return NULL;
}

static int
has_event(struct router *r, const char *provider, const char *text)
{
	struct event ev[256];
	size_t n = event_last(router_events(r), ev, 256);

	for (size_t i = 0; i < n; i++)
		if ((provider == NULL || strcmp(ev[i].provider, provider) == 0) &&
		    strstr(ev[i].message, text) != NULL)
			return 1;
	return 0;
}

/* Every fault on the primary: zero failures while two fallbacks are healthy. */
static void
test_drill_every_fault_loses_nothing(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	drill_kit(&f->kit, 4);
	start(f);
	for (size_t i = 0; i < drill_n_phases; i++) {
		struct drill_stats st;

		testkit_control(&f->kit, 0, drill_phases[i].control);
		drill_run(f->r, 48, 16, &st);
		print_message("drill %-16s ok %u failed %u broken %u silent %u attempts %u\n",
		    drill_phases[i].name, st.ok, st.failed, st.streams_broken, st.silent_cuts,
		    st.attempts);
		if (st.failed != 0)
			fail_msg("%s: %u failed; first: %s", drill_phases[i].name, st.failed,
			    st.first_failure);
		assert_int_equal(st.requests, 48);
		assert_int_equal(st.silent_cuts, 0);
		assert_int_equal(st.streams, 24);
		assert_int_equal(st.streams_complete + st.streams_broken, st.streams);
		assert_int_equal(st.ok + st.streams_broken, st.requests);
		testkit_control(&f->kit, 0,
		    "{\"fault\":\"none\",\"error_rate\":0,\"retry_after\":0}");
		assert_int_equal(router_reset_breaker(f->r, "primary", &cause), 0);
	}
}

/* The primary never answers: the attempt is abandoned at its own limit (half
 * the deadline while a fallback stands ready) and the fallback answers. */
static void
test_hung_primary_is_abandoned_in_time_for_the_fallback(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "hung", SIM_OPENAI, 1, 1)->timeout_seconds = 2;
	testkit_add_provider(&f->kit, "spare", SIM_ANTHROPIC, 2, 1)->timeout_seconds = 2;
	testkit_control(&f->kit, 0, "{\"fault\":\"hang\"}");
	start(f);
	for (int stream = 0; stream < 2; stream++) {
		ask(f, stream, &res);
		assert_int_equal(res.cls, LLM_OK);
		assert_string_equal(res.provider, "spare");
		assert_int_equal(res.n_attempts, 2);
		assert_int_equal(res.attempts[0].cls, LLM_ERR_TIMEOUT);
		assert_non_null(strstr(res.attempts[0].error,
		    stream ? "no first token within 1.0 s" : "no answer within 1.0 s"));
		router_result_free(&res);
	}
	router_snapshot(f->r, &s);
	assert_int_equal(snap(&s, "hung")->consecutive_failures, 2);
	assert_int_equal(snap(&s, "spare")->errors, 0);
	router_snapshot_free(&s);
}

/* An explicit first-token limit, and a stream that goes silent after its
 * first token: an explicit stream_broken error, never a silent cut. */
static void
test_stream_idle_timeout_is_an_explicit_error(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "trickle", SIM_OPENAI, 1, 1)->stream_idle_timeout_seconds =
	    0.3;
	testkit_control(&f->kit, 0, "{\"token_delay_ms\":2000}");
	start(f);
	ask(f, 1, &res);
	assert_int_equal(res.cls, LLM_ERR_STREAM);
	assert_non_null(strstr(res.err.message, "stream_broken"));
	assert_non_null(strstr(res.err.message, "stream idle"));
	router_result_free(&res);
}

/* The primary used most of the deadline; the fallback gets the leftovers and
 * times out with them: the timeout is the request's, not the fallback's. */
static void
test_a_squeezed_timeout_is_not_blamed_on_the_fallback(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;
	struct provider_conf *p;

	testkit_init(&f->kit);
	p = testkit_add_provider(&f->kit, "hung", SIM_OPENAI, 1, 1);
	p->timeout_seconds = 1.5;
	p->first_token_timeout_seconds = 1.3;
	testkit_add_provider(&f->kit, "slowish", SIM_ANTHROPIC, 2, 1)->timeout_seconds = 1.5;
	testkit_control(&f->kit, 0, "{\"fault\":\"hang\"}");
	testkit_control(&f->kit, 1, "{\"latency_ms\":1000}");
	start(f);
	ask(f, 0, &res);
	assert_int_equal(res.cls, LLM_ERR_TIMEOUT);
	assert_int_equal(res.n_attempts, 2);
	assert_string_equal(res.attempts[1].provider, "slowish");
	assert_int_equal(res.attempts[1].cls, LLM_ERR_TIMEOUT);
	router_result_free(&res);
	router_snapshot(f->r, &s);
	assert_int_equal(snap(&s, "hung")->consecutive_failures, 1);
	assert_int_equal(snap(&s, "slowish")->consecutive_failures, 0);
	assert_int_equal(snap(&s, "slowish")->errors, 0);
	router_snapshot_free(&s);
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct router_result *res[8];
	int deltas;
	struct router *r;
	uint64_t cancel_id; /* cancel this request at its first delta */
};

static void
w_delta(void *arg, const struct llm_delta *d)
{
	struct waiter *w = arg;

	if (d->type != LLM_DELTA_TEXT)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->deltas++ == 0 && w->cancel_id != 0)
		router_cancel(w->r, w->cancel_id);
	pthread_mutex_unlock(&w->mu);
}

static void
w_done(void *arg, struct router_result *res)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->res[w->n++] = res;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void
w_wait(struct waiter *w, int n)
{
	pthread_mutex_lock(&w->mu);
	while (w->n < n)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

static void
w_free(struct waiter *w)
{
	for (int i = 0; i < w->n; i++) {
		router_result_free(w->res[i]);
		free(w->res[i]);
	}
}

/*
 * Regression: a request waiting to retry on a provider whose breaker opened
 * meanwhile used to reschedule its retry there until the deadline. Now it
 * moves on at once (here: nothing else, so it ends with the provider's error).
 */
static void
test_no_retry_loop_on_a_provider_whose_breaker_opened(void **state)
{
	struct fixture *f = *state;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0, 0, 0};
	struct llm_request req;
	struct router_opts ro;
	char *cause = NULL;

	testkit_init(&f->kit);
	f->kit.cfg.breaker.failure_threshold = 2;
	testkit_add_provider(&f->kit, "only", SIM_OPENAI, 1, 1)->max_retries = 3;
	f->kit.cfg.providers[0].timeout_seconds = 30;
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":500}");
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	ro.backoff_base_ms = 400; /* both wait, the second failure opens the breaker */
	ro.backoff_max_ms = 400;
	ro.seed = 3;
	f->r = router_new(&f->kit.cfg, &ro, &cause);
	assert_non_null(f->r);
	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "x");
	router_submit(f->r, &req, NULL, w_done, &w);
	router_submit(f->r, &req, NULL, w_done, &w);
	llm_request_free(&req);
	w_wait(&w, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(w.res[i]->cls, LLM_ERR_SERVER);
		assert_in_range(w.res[i]->n_attempts, 1, 3);
	}
	w_free(&w);
}

/* A 3 s primary is beaten by a 20 ms fallback with a 300 ms hedge; the loser
 * is cancelled, its estimated usage costed, and its breaker untouched. */
static void
test_hedge_beats_a_slow_primary(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;

	testkit_init(&f->kit);
	f->kit.cfg.hedge_after_ms = 300;
	testkit_add_provider(&f->kit, "slow", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "fast", SIM_ANTHROPIC, 2, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":3000}");
	testkit_control(&f->kit, 1, "{\"latency_ms\":20}");
	start(f);
	for (int stream = 0; stream < 2; stream++) {
		ask(f, stream, &res);
		assert_int_equal(res.cls, LLM_OK);
		assert_string_equal(res.provider, "fast");
		assert_non_null(strstr(res.resp.content, "[fast]"));
		assert_int_equal(res.n_attempts, 2);
		assert_string_equal(res.attempts[0].provider, "slow");
		assert_int_equal(res.attempts[0].cls, LLM_ERR_CANCELLED);
		assert_int_equal(res.attempts[0].hedge, 0);
		assert_string_equal(res.attempts[1].provider, "fast");
		assert_int_equal(res.attempts[1].hedge, 1);
		assert_true(res.hedge_cost_usd > 0);
		assert_true(res.cost_usd > res.hedge_cost_usd);
		router_result_free(&res);
	}
	router_snapshot(f->r, &s);
	assert_int_equal(s.hedges, 2);
	assert_int_equal(s.hedges_won, 2);
	assert_int_equal(snap(&s, "slow")->errors, 0);
	assert_int_equal(snap(&s, "slow")->consecutive_failures, 0);
	assert_int_equal(snap(&s, "slow")->in_flight, 0);
	router_snapshot_free(&s);
	assert_true(has_event(f->r, "fast", "hedge: slow silent for 300 ms"));
}

/* Off by default: the same slow primary answers, alone. */
static void
test_no_hedge_unless_configured(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "slow", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "fast", SIM_ANTHROPIC, 2, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":400}");
	start(f);
	ask(f, 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "slow");
	assert_int_equal(res.n_attempts, 1);
	router_result_free(&res);
}

/* A caller that leaves mid-stream aborts the upstream transfer at once. */
static void
test_cancel_mid_stream_aborts_the_transfer(void **state)
{
	struct fixture *f = *state;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0, 0, 0};
	struct llm_request req;
	struct router_snapshot s;
	uint64_t id;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "streamer", SIM_ANTHROPIC, 1, 1);
	testkit_control(&f->kit, 0, "{\"token_delay_ms\":300}");
	start(f);
	w.r = f->r;
	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "tell me a long story");
	req.stream = 1;
	pthread_mutex_lock(&w.mu);
	id = router_submit(f->r, &req, w_delta, w_done, &w);
	w.cancel_id = id;
	pthread_mutex_unlock(&w.mu);
	llm_request_free(&req);
	assert_true(id > 0);
	w_wait(&w, 1);
	assert_int_equal(w.res[0]->cls, LLM_ERR_CANCELLED);
	/* Anthropic's message_start carries the input tokens: real, not estimated. */
	assert_true(w.res[0]->resp.usage.input_tokens > 0);
	assert_int_equal(w.res[0]->usage_estimated, 0);
	assert_true(w.deltas < 10);
	router_snapshot(f->r, &s);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(s.cancelled, 1);
	assert_int_equal(s.failed, 0);
	assert_int_equal(snap(&s, "streamer")->in_flight, 0);
	assert_int_equal(snap(&s, "streamer")->errors, 0);
	router_snapshot_free(&s);
	/* Cancelling a finished request is harmless. */
	router_cancel(f->r, id);
	router_cancel(f->r, 987654);
	w_free(&w);
}

/* Cancelled before any byte: the usage is an estimate, and says so. */
static void
test_cancel_before_the_answer_estimates_usage(void **state)
{
	struct fixture *f = *state;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0, 0, 0};
	struct llm_request req;
	uint64_t id;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "slow", SIM_OPENAI, 1, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":5000}");
	start(f);
	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "a prompt of some forty bytes in length..");
	id = router_submit(f->r, &req, NULL, w_done, &w);
	llm_request_free(&req);
	router_cancel(f->r, id);
	w_wait(&w, 1);
	assert_int_equal(w.res[0]->cls, LLM_ERR_CANCELLED);
	assert_int_equal(w.res[0]->usage_estimated, 1);
	assert_true(w.res[0]->resp.usage.input_tokens >= 10);
	assert_int_equal(w.res[0]->resp.usage.output_tokens, 0);
	assert_true(w.res[0]->cost_usd > 0);
	w_free(&w);
}

/* The ledger has a row for the lost hedge and for a request whose caller
 * left, each "cancelled", with estimated usage flagged and costed. */
static void
test_hedges_and_cancels_are_ledgered(void **state)
{
	struct fixture *f = *state;
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, 0, 0, 0};
	struct router_result res;
	struct router_opts ro;
	struct llm_request req;
	struct store *st = NULL;
	char dir[] = "/tmp/llmdeck-drill-XXXXXX", path[64], cmd[96];
	char *cause = NULL;
	uint64_t sent, id;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/db", dir);
	assert_int_equal(store_open(&st, path, &cause), 0);
	testkit_init(&f->kit);
	f->kit.cfg.hedge_after_ms = 200;
	testkit_add_provider(&f->kit, "slow", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "fast", SIM_ANTHROPIC, 2, 1);
	testkit_control(&f->kit, 0, "{\"latency_ms\":4000}");
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	ro.store = st;
	assert_non_null(f->r = router_new(&f->kit.cfg, &ro, &cause));
	ask(f, 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "fast");
	router_result_free(&res);

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "never mind");
	req.provider = xstrdup("slow");
	sent = testkit_sim_requests(&f->kit, 0);
	id = router_submit(f->r, &req, NULL, w_done, &w);
	llm_request_free(&req);
	/* Cancel once the provider has it (a cancel during admission never reaches one). */
	for (int i = 0; i < 500 && testkit_sim_requests(&f->kit, 0) == sent; i++) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	router_cancel(f->r, id);
	w_wait(&w, 1);
	assert_int_equal(w.res[0]->cls, LLM_ERR_CANCELLED);
	w_free(&w);
	router_free(f->r);
	f->r = NULL;
	store_close(st);

	assert_int_equal(sttest_sql_int64(path, "SELECT COUNT(*) FROM ledger"), 3);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = 'slow' AND "
	                     "outcome = 'cancelled' AND error_class = 'hedge_lost' AND "
	                     "usage_estimated = 1 AND input_tokens > 0 AND cost_usd > 0"),
	    1);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = 'fast' AND "
	                     "outcome = 'ok' AND usage_estimated = 0 AND response_id <> ''"),
	    1);
	assert_int_equal(sttest_sql_int64(path,
	                     "SELECT COUNT(*) FROM ledger WHERE provider = 'slow' AND "
	                     "outcome = 'cancelled' AND error_class = 'cancelled' AND "
	                     "usage_estimated = 1 AND cost_usd > 0"),
	    1);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A successful probe closes an open breaker at once, and says so. */
static void
test_probe_success_closes_the_breaker_at_once(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;
	char *cause = NULL;

	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "flaky", SIM_OPENAI, 1, 1)->max_retries = 0;
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":503}");
	start(f);
	for (int i = 0; i < 3; i++) {
		ask(f, 0, &res);
		router_result_free(&res);
	}
	router_snapshot(f->r, &s);
	assert_int_equal(snap(&s, "flaky")->breaker, BREAKER_OPEN);
	assert_true(snap(&s, "flaky")->cooldown_left_ms > 20000);
	router_snapshot_free(&s);
	testkit_control(&f->kit, 0, "{\"error_rate\":0}");
	assert_int_equal(router_probe(f->r, "flaky", &cause), 0);
	for (int i = 0; i < 500 && !has_event(f->r, "flaky", "probe ok in"); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_true(has_event(f->r, "flaky", "probe ok in"));
	assert_true(has_event(f->r, "flaky", "breaker open -> closed (health probe ok)"));
	router_snapshot(f->r, &s);
	assert_int_equal(snap(&s, "flaky")->breaker, BREAKER_CLOSED);
	assert_true(snap(&s, "flaky")->last_probe_ok);
	router_snapshot_free(&s);
	ask(f, 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	router_result_free(&res);
}

/* The new keys parse, and a bad one is named. */
static void
test_config_keys_for_deadlines_and_hedges(void **state)
{
	struct config cfg;
	char *cause = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_load_string(&cfg,
	                     "{\"hedge\":{\"after_ms\":250},\"providers\":[{\"name\":\"a\","
	                     "\"kind\":\"openai\",\"base_url\":\"http://127.0.0.1:9\","
	                     "\"models\":[\"m\"],\"connect_timeout_seconds\":2,"
	                     "\"first_token_timeout_seconds\":4.5,"
	                     "\"stream_idle_timeout_seconds\":7}],"
	                     "\"routes\":{\"r\":{\"primary\":\"a\",\"hedge_after_ms\":0}}}",
	                     "<test>", &cause),
	    0);
	assert_int_equal(cfg.hedge_after_ms, 250);
	assert_true(cfg.providers[0].connect_timeout_seconds == 2);
	assert_true(cfg.providers[0].first_token_timeout_seconds == 4.5);
	assert_true(cfg.providers[0].stream_idle_timeout_seconds == 7);
	assert_int_equal(cfg.routes[0].hedge_after_ms, -1);
	config_free(&cfg);

	config_init(&cfg);
	assert_int_not_equal(config_load_string(&cfg, "{\"hedge\":{\"after_ms\":-5}}", "<t>",
	                         &cause),
	    0);
	assert_non_null(strstr(cause, "hedge.after_ms"));
	free(cause);
	cause = NULL;
	assert_int_not_equal(config_load_string(&cfg, "{\"hedge\":{\"after\":5}}", "<t>", &cause),
	    0);
	assert_non_null(strstr(cause, "after"));
	free(cause);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_drill_every_fault_loses_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hung_primary_is_abandoned_in_time_for_the_fallback,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_idle_timeout_is_an_explicit_error, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_a_squeezed_timeout_is_not_blamed_on_the_fallback,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_retry_loop_on_a_provider_whose_breaker_opened,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hedge_beats_a_slow_primary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_hedge_unless_configured, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_mid_stream_aborts_the_transfer, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_before_the_answer_estimates_usage, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_hedges_and_cancels_are_ledgered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe_success_closes_the_breaker_at_once, setup,
	        teardown),
	    cmocka_unit_test(test_config_keys_for_deadlines_and_hedges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
