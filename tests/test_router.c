/*
 * test_router.c: the router against simulated providers over real loopback
 * HTTP: selection, failover for each fault, request errors returned at once,
 * misconfigured providers, retry-after, breakers, weights, rate limits and
 * streams.
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
#include <time.h>

#include "config/config.h"
#include "config/config_priv.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

struct fixture {
	struct testkit kit;
	struct router *r;
	uint64_t fake_now; /* test clock, ms */
};

static struct provider_conf *
add_provider(struct fixture *f, const char *name, enum sim_protocol proto, int priority,
    double weight)
{
	return testkit_add_provider(&f->kit, name, proto, priority, weight);
}

static void
control(struct fixture *f, size_t i, const char *json)
{
	testkit_control(&f->kit, i, json);
}

static uint64_t
sim_requests(struct fixture *f, size_t i)
{
	return testkit_sim_requests(&f->kit, i);
}

static void
start_router(struct fixture *f, int fake_clock_on)
{
	f->r = testkit_router(&f->kit, fake_clock_on ? &f->fake_now : NULL);
}

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
ask(struct fixture *f, const char *prompt, int stream, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, prompt);
	req.stream = stream;
	req.max_tokens = 200;
	router_generate(f->r, &req, NULL, NULL, res);
	llm_request_free(&req);
}

static const struct provider_snapshot *
snap_provider(struct router_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_providers; i++)
		if (strcmp(s->providers[i].name, name) == 0)
			return &s->providers[i];
	fail_msg("no provider %s in the snapshot", name);
	return NULL;
}

/* A name as long as the config allows is kept whole: answers, the snapshot and
 * operator calls all know it by that name. */
static void
test_longest_provider_name(void **state)
{
	struct fixture *f = *state;
	char name[LIMIT_NAME_LEN + 1], *cause = NULL;
	struct router_snapshot s;
	struct router_result res;

	memset(name, 'p', LIMIT_NAME_LEN);
	name[LIMIT_NAME_LEN] = '\0';
	assert_true(config_is_plain_name(name));
	add_provider(f, name, SIM_OPENAI, 1, 1.0);
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, name);
	assert_string_equal(res.attempts[0].provider, name);
	router_result_free(&res);
	router_snapshot(f->r, &s);
	assert_string_equal(s.providers[0].name, name);
	router_snapshot_free(&s);
	if (router_set_admin(f->r, name, ADMIN_DRAINED, &cause) != 0)
		fail_msg("drain by the longest name: %s", cause);
	router_snapshot(f->r, &s);
	assert_int_equal(s.providers[0].admin, ADMIN_DRAINED);
	router_snapshot_free(&s);
}

static void
test_answers_from_a_healthy_provider(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "anthropic", SIM_ANTHROPIC, 1, 1);
	start_router(f, 0);
	ask(f, "What is the capital of France?", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "anthropic");
	assert_string_equal(res.model, "test-model");
	assert_non_null(strstr(res.resp.content, "capital of France"));
	assert_true(res.resp.usage.input_tokens > 0);
	assert_true(res.resp.usage.output_tokens > 0);
	assert_int_equal(res.n_attempts, 1);
	assert_int_equal(res.attempts[0].status, 200);
	/* cost = in * 1 + out * 2 per million */
	assert_true(res.cost_usd > 0);
	assert_float_equal(res.cost_usd,
	    ((double)res.resp.usage.input_tokens * 1.0 +
	        (double)res.resp.usage.output_tokens * 2.0) /
	        1e6,
	    1e-12);
	router_result_free(&res);
}

static void
test_fails_over_from_500_and_lists_failed_attempts_first(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "bad", SIM_OPENAI, 1, 1);
	add_provider(f, "good", SIM_ANTHROPIC, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "good");
	/* A healthy provider stands ready: fail over at once, no retry on bad. */
	assert_int_equal(res.n_attempts, 2);
	assert_string_equal(res.attempts[0].provider, "bad");
	assert_int_equal(res.attempts[0].status, 500);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_SERVER);
	assert_string_equal(res.attempts[1].provider, "good");
	assert_int_equal(res.attempts[1].cls, LLM_OK);
	assert_int_equal(sim_requests(f, 0), 1);
	router_result_free(&res);
}

static void
check_request_error_returns_at_once(struct fixture *f, int status)
{
	struct router_result res;
	char json[128];

	add_provider(f, "first", SIM_OPENAI, 1, 1);
	add_provider(f, "second", SIM_OPENAI, 2, 1);
	snprintf(json, sizeof json, "{\"error_rate\":1,\"error_status\":%d}", status);
	control(f, 0, json);
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_ERR_BAD_REQUEST);
	assert_int_equal(res.n_attempts, 1);
	assert_int_equal(res.attempts[0].status, status);
	assert_int_equal(sim_requests(f, 1), 0);
	router_result_free(&res);
}

static void
test_400_returns_at_once_without_failover(void **state)
{
	check_request_error_returns_at_once(*state, 400);
}

static void
test_422_returns_at_once_without_failover(void **state)
{
	check_request_error_returns_at_once(*state, 422);
}

static void
check_auth_marks_misconfigured(struct fixture *f, int status)
{
	struct router_result res;
	struct router_snapshot s;
	struct event ev[16];
	size_t nev;
	int loud = 0;
	char json[128];
	char *cause = NULL;

	add_provider(f, "wrongkey", SIM_ANTHROPIC, 1, 1);
	add_provider(f, "backup", SIM_OPENAI, 2, 1);
	snprintf(json, sizeof json, "{\"error_rate\":1,\"error_status\":%d}", status);
	control(f, 0, json);
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "backup");
	assert_int_equal(res.n_attempts, 2);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_AUTH);
	router_result_free(&res);

	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "wrongkey")->admin, ADMIN_MISCONFIGURED);
	router_snapshot_free(&s);
	nev = event_last(router_events(f->r), ev, 16);
	for (size_t i = 0; i < nev; i++)
		if (strstr(ev[i].message, "MISCONFIGURED") != NULL &&
		    strcmp(ev[i].provider, "wrongkey") == 0)
			loud = 1;
	assert_true(loud);

	/* Stays out: the next request goes straight to the backup. */
	ask(f, "again", 0, &res);
	assert_int_equal(res.n_attempts, 1);
	assert_string_equal(res.provider, "backup");
	router_result_free(&res);
	assert_int_equal(sim_requests(f, 0), 1);

	/* Until an operator re-enables it. */
	control(f, 0, "{\"error_rate\":0}");
	assert_int_equal(router_set_admin(f->r, "wrongkey", ADMIN_ENABLED, &cause), 0);
	ask(f, "after the fix", 0, &res);
	assert_string_equal(res.provider, "wrongkey");
	router_result_free(&res);
}

static void
test_401_fails_over_and_marks_misconfigured(void **state)
{
	check_auth_marks_misconfigured(*state, 401);
}

static void
test_403_fails_over_and_marks_misconfigured(void **state)
{
	check_auth_marks_misconfigured(*state, 403);
}

static void
test_wrong_key_gets_real_401_and_fails_over(void **state)
{
	struct fixture *f = *state;
	struct provider_conf *p;
	struct router_result res;

	p = add_provider(f, "anthropic", SIM_ANTHROPIC, 1, 1);
	free(p->api_key);
	p->api_key = xstrdup("not-the-key");
	add_provider(f, "openai", SIM_OPENAI, 2, 1);
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "openai");
	assert_int_equal(res.attempts[0].status, 401);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_AUTH);
	router_result_free(&res);
}

static void
check_fault_fails_over(struct fixture *f, const char *fault, enum llm_errclass want)
{
	struct router_result res;
	char json[128];

	add_provider(f, "faulty", SIM_ANTHROPIC, 1, 1);
	add_provider(f, "healthy", SIM_OPENAI, 2, 1);
	f->kit.cfg.providers[0].timeout_seconds = 0.5;
	f->kit.cfg.providers[0].max_retries = 0;
	snprintf(json, sizeof json, "{\"fault\":\"%s\"}", fault);
	control(f, 0, json);
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "healthy");
	assert_int_equal(res.n_attempts, 2);
	assert_string_equal(res.attempts[0].provider, "faulty");
	assert_int_equal(res.attempts[0].cls, want);
	assert_true(res.attempts[0].error[0] != '\0');
	router_result_free(&res);
}

static void
test_hang_times_out_and_fails_over(void **state)
{
	check_fault_fails_over(*state, "hang", LLM_ERR_TIMEOUT);
}

static void
test_drop_fails_over(void **state)
{
	check_fault_fails_over(*state, "drop", LLM_ERR_CONNECT);
}

static void
test_malformed_fails_over(void **state)
{
	check_fault_fails_over(*state, "malformed", LLM_ERR_MALFORMED);
}

static void
test_truncated_fails_over(void **state)
{
	check_fault_fails_over(*state, "truncated", LLM_ERR_CONNECT);
}

static void
test_down_fails_over(void **state)
{
	check_fault_fails_over(*state, "down", LLM_ERR_CONNECT);
}

static void
test_529_overloaded_fails_over(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "anthropic", SIM_ANTHROPIC, 1, 1);
	add_provider(f, "openai", SIM_OPENAI, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":529}");
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "openai");
	assert_int_equal(res.attempts[0].status, 529);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_OVERLOADED);
	router_result_free(&res);
}

static void
test_insufficient_quota_is_not_retried_on_the_same_provider(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "openai", SIM_OPENAI, 1, 1);
	add_provider(f, "anthropic", SIM_ANTHROPIC, 2, 1);
	f->kit.cfg.providers[0].max_retries = 3;
	control(f, 0, "{\"error_rate\":1,\"error_status\":429,\"quota\":true}");
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "anthropic");
	assert_int_equal(res.n_attempts, 2);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_QUOTA);
	assert_int_equal(sim_requests(f, 0), 1);
	router_result_free(&res);
}

static void
test_retry_after_is_honoured_when_it_fits(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "only", SIM_OPENAI, 1, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":429,\"retry_after\":1}");
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_ERR_RATE_LIMIT);
	/* Retried once, after the second the provider asked for: a lower bound. */
	assert_int_equal(res.n_attempts, 2);
	assert_true(res.latency_us >= 1000000);
	router_result_free(&res);
}

static void
test_retry_after_longer_than_the_deadline_fails_over(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;

	add_provider(f, "limited", SIM_OPENAI, 1, 1);
	add_provider(f, "spare", SIM_ANTHROPIC, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":429,\"retry_after\":30}");
	start_router(f, 0);
	ask(f, "hello", 0, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "spare");
	assert_int_equal(res.n_attempts, 2);
	assert_int_equal(res.attempts[0].cls, LLM_ERR_RATE_LIMIT);
	router_result_free(&res);
	/* The provider is left alone until its retry-after ends. */
	router_snapshot(f->r, &s);
	assert_false(snap_provider(&s, "limited")->usable);
	assert_true(snap_provider(&s, "limited")->cooldown_left_ms > 20000);
	router_snapshot_free(&s);
	ask(f, "again", 0, &res);
	assert_int_equal(res.n_attempts, 1);
	assert_string_equal(res.provider, "spare");
	router_result_free(&res);
}

/* Poll (bounded) until the provider's last probe is recorded. */
static void
wait_probe(struct fixture *f, const char *name)
{
	struct router_snapshot s;
	struct timespec ts = {0, 5 * 1000 * 1000};

	for (int i = 0; i < 1000; i++) {
		router_snapshot(f->r, &s);
		int64_t when = snap_provider(&s, name)->last_probe_ms;
		router_snapshot_free(&s);
		if (when != 0)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("probe of %s never finished", name);
}

static void
test_breaker_opens_probes_and_closes(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;
	char *cause = NULL;

	add_provider(f, "flaky", SIM_OPENAI, 1, 1);
	add_provider(f, "steady", SIM_ANTHROPIC, 2, 1);
	f->kit.cfg.providers[0].max_retries = 0;
	control(f, 0, "{\"error_rate\":1,\"error_status\":503}");
	start_router(f, 1);
	for (int i = 0; i < 3; i++) {
		ask(f, "hello", 0, &res);
		assert_string_equal(res.provider, "steady");
		assert_int_equal(res.n_attempts, 2);
		router_result_free(&res);
	}
	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "flaky")->breaker, BREAKER_OPEN);
	assert_int_equal(snap_provider(&s, "flaky")->cooldown_left_ms, 30000);
	router_snapshot_free(&s);
	/* Open: not even tried. */
	ask(f, "hello", 0, &res);
	assert_int_equal(res.n_attempts, 1);
	assert_string_equal(res.provider, "steady");
	router_result_free(&res);
	assert_int_equal(sim_requests(f, 0), 3);

	/* The provider recovers, the cooldown passes, a probe closes the breaker. */
	control(f, 0, "{\"error_rate\":0}");
	f->fake_now += 30001;
	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "flaky")->breaker, BREAKER_HALF_OPEN);
	router_snapshot_free(&s);
	assert_int_equal(router_probe(f->r, "flaky", &cause), 0);
	wait_probe(f, "flaky");
	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "flaky")->breaker, BREAKER_CLOSED);
	assert_true(snap_provider(&s, "flaky")->last_probe_ok);
	router_snapshot_free(&s);
	ask(f, "hello", 0, &res);
	assert_string_equal(res.provider, "flaky");
	router_result_free(&res);
}

static void
test_breaker_half_open_trial_failure_reopens(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;

	add_provider(f, "flaky", SIM_OPENAI, 1, 1);
	add_provider(f, "steady", SIM_ANTHROPIC, 2, 1);
	f->kit.cfg.providers[0].max_retries = 0;
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	start_router(f, 1);
	for (int i = 0; i < 3; i++) {
		ask(f, "hello", 0, &res);
		router_result_free(&res);
	}
	f->fake_now += 30001;
	/* The trial request fails: open again with a longer cooldown. */
	ask(f, "hello", 0, &res);
	assert_int_equal(res.n_attempts, 2);
	assert_string_equal(res.attempts[0].provider, "flaky");
	router_result_free(&res);
	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "flaky")->breaker, BREAKER_OPEN);
	assert_int_equal(snap_provider(&s, "flaky")->cooldown_left_ms, 60000);
	router_snapshot_free(&s);
}

static void
test_weights_split_traffic(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct router_snapshot s;
	int n = 1000, a = 0;

	add_provider(f, "heavy", SIM_OPENAI, 1, 0.8);
	add_provider(f, "light", SIM_OPENAI, 1, 0.2);
	add_provider(f, "reserve", SIM_OPENAI, 2, 5);
	start_router(f, 0);
	for (int i = 0; i < n; i++) {
		ask(f, "x", 0, &res);
		assert_int_equal(res.cls, LLM_OK);
		if (strcmp(res.provider, "heavy") == 0)
			a++;
		else
			assert_string_equal(res.provider, "light");
		router_result_free(&res);
	}
	/* Binomial(1000, 0.8): sd 12.6; within 4 sd either way. */
	assert_in_range(a, 750, 850);
	router_snapshot(f->r, &s);
	assert_true(snap_provider(&s, "heavy")->share > 0.75);
	assert_int_equal(snap_provider(&s, "reserve")->requests, 0);
	router_snapshot_free(&s);
}

static void
test_rate_limit_skips_a_provider_at_its_limit(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	int first = 0;

	add_provider(f, "small", SIM_OPENAI, 1, 1)->rate_limit_rpm = 5;
	add_provider(f, "big", SIM_OPENAI, 2, 1);
	start_router(f, 1); /* the clock stands still: no refill */
	for (int i = 0; i < 10; i++) {
		ask(f, "x", 0, &res);
		assert_int_equal(res.n_attempts, 1);
		if (strcmp(res.provider, "small") == 0)
			first++;
		router_result_free(&res);
	}
	assert_int_equal(first, 5);
	assert_int_equal(sim_requests(f, 0), 5);
	/* A minute later the bucket is full again. */
	f->fake_now += 60000;
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "small");
	router_result_free(&res);
}

static void
test_token_rate_limit_skips_a_provider_and_refills(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	int small = 0, n = 0;

	/* Each request reserves about 200 tokens (max_tokens) and is charged its real use
	 * (a few dozen): a 400-token bucket takes a handful, then the provider is skipped. */
	add_provider(f, "small", SIM_OPENAI, 1, 1)->rate_limit_tpm = 400;
	add_provider(f, "big", SIM_OPENAI, 2, 1);
	start_router(f, 1);
	for (n = 0; n < 20; n++) {
		ask(f, "x", 0, &res);
		assert_int_equal(res.cls, LLM_OK);
		if (strcmp(res.provider, "small") != 0) {
			router_result_free(&res);
			break;
		}
		small++;
		router_result_free(&res);
	}
	assert_in_range(small, 1, 19);
	/* Still full: the clock stands still. */
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "big");
	router_result_free(&res);
	/* A minute later the bucket has refilled. */
	f->fake_now += 60000;
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "small");
	router_result_free(&res);
}

static void
test_retries_take_their_rate_limit_tokens_too(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	/* rpm 3, alone (so it retries): a request and its retry take two; the
	 * next request takes the last; the one after finds none. */
	add_provider(f, "limited", SIM_OPENAI, 1, 1)->rate_limit_rpm = 3;
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	start_router(f, 1);
	ask(f, "x", 0, &res);
	assert_int_equal(res.cls, LLM_ERR_SERVER);
	assert_int_equal(res.n_attempts, 2); /* the attempt and its retry */
	router_result_free(&res);
	control(f, 0, "{\"error_rate\":0}");
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "limited");
	router_result_free(&res);
	ask(f, "x", 0, &res);
	assert_int_equal(res.cls, LLM_ERR_NO_PROVIDER); /* three taken: no token left */
	router_result_free(&res);
	assert_int_equal(sim_requests(f, 0), 3);
}

struct deltas {
	struct buf text;
	int n;
};

static void
collect(void *arg, const struct llm_delta *delta)
{
	struct deltas *d = arg;

	if (delta->type != LLM_DELTA_TEXT)
		return;
	buf_append(&d->text, delta->text, delta->len);
	d->n++;
}

static void
ask_stream(struct fixture *f, struct deltas *d, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "Tell me a short story about a router");
	req.stream = 1;
	req.max_tokens = 200;
	buf_init(&d->text);
	d->n = 0;
	router_generate(f->r, &req, collect, d, res);
	llm_request_free(&req);
}

static void
check_stream_delivers_every_delta(struct fixture *f, enum sim_protocol proto)
{
	struct router_result res;
	struct deltas d;

	add_provider(f, "streamer", proto, 1, 1);
	start_router(f, 0);
	ask_stream(f, &d, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_true(d.n > 3);
	assert_non_null(res.resp.content);
	assert_string_equal(d.text.data, res.resp.content);
	assert_true(res.resp.usage.output_tokens > 0);
	assert_int_equal(res.resp.stop, LLM_STOP_END);
	buf_free(&d.text);
	router_result_free(&res);
}

static void
test_stream_anthropic_delivers_every_delta(void **state)
{
	check_stream_delivers_every_delta(*state, SIM_ANTHROPIC);
}

static void
test_stream_openai_delivers_every_delta(void **state)
{
	check_stream_delivers_every_delta(*state, SIM_OPENAI);
}

static void
test_stream_azure_delivers_every_delta(void **state)
{
	check_stream_delivers_every_delta(*state, SIM_AZURE);
}

static void
test_stream_mistral_delivers_every_delta(void **state)
{
	check_stream_delivers_every_delta(*state, SIM_MISTRAL);
}

static void
test_stream_failing_midway_is_an_error_not_a_failover(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct deltas d;

	add_provider(f, "broken", SIM_ANTHROPIC, 1, 1);
	add_provider(f, "fine", SIM_OPENAI, 2, 1);
	control(f, 0, "{\"fault\":\"midstream\"}");
	start_router(f, 0);
	ask_stream(f, &d, &res);
	assert_int_equal(res.cls, LLM_ERR_STREAM);
	assert_true(d.n > 0);
	assert_non_null(strstr(res.err.message, "after the first token"));
	assert_int_equal(sim_requests(f, 1), 0);
	buf_free(&d.text);
	router_result_free(&res);
}

static void
test_stream_fails_over_before_the_first_token(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct deltas d;

	add_provider(f, "overloaded", SIM_ANTHROPIC, 1, 1);
	add_provider(f, "fine", SIM_OPENAI, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":529}");
	start_router(f, 0);
	ask_stream(f, &d, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "fine");
	assert_non_null(strstr(d.text.data, "[fine]"));
	assert_null(strstr(d.text.data, "[overloaded]"));
	assert_string_equal(d.text.data, res.resp.content);
	buf_free(&d.text);
	router_result_free(&res);
}

static void
test_drain_moves_traffic_at_once(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct event ev[8];
	size_t n;
	char *cause = NULL;

	add_provider(f, "primary", SIM_OPENAI, 1, 1);
	add_provider(f, "secondary", SIM_ANTHROPIC, 2, 1);
	start_router(f, 0);
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "primary");
	router_result_free(&res);
	assert_int_equal(router_set_admin(f->r, "primary", ADMIN_DRAINED, &cause), 0);
	ask(f, "x", 0, &res);
	assert_string_equal(res.provider, "secondary");
	assert_int_equal(res.n_attempts, 1);
	router_result_free(&res);
	n = event_last(router_events(f->r), ev, 8);
	assert_true(n > 0);
	assert_non_null(strstr(ev[n - 1].message, "drained"));
	assert_int_equal(ev[n - 1].kind, EV_OPERATOR);
	/* Unknown names are refused with a reason. */
	assert_int_equal(router_set_admin(f->r, "nope", ADMIN_DRAINED, &cause), -1);
	assert_non_null(strstr(cause, "nope"));
	free(cause);
}

static void
test_routes_use_primary_then_fallbacks(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct llm_request req;

	add_provider(f, "anthropic", SIM_ANTHROPIC, 5, 1);
	add_provider(f, "openai", SIM_OPENAI, 1, 1);
	testkit_add_route(&f->kit, "LSR", "anthropic", "openai");
	start_router(f, 0);

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "route me");
	req.route = xstrdup("LSR");
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_string_equal(res.provider, "anthropic");
	assert_string_equal(res.route, "LSR");
	router_result_free(&res);
	control(f, 0, "{\"fault\":\"down\"}");
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_string_equal(res.provider, "openai");
	router_result_free(&res);
	free(req.route);
	req.route = xstrdup("NOPE");
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_int_equal(res.cls, LLM_ERR_BAD_REQUEST);
	assert_non_null(strstr(res.err.message, "NOPE"));
	router_result_free(&res);
	llm_request_free(&req);
}

static void
test_every_attempt_failing_reports_each(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	add_provider(f, "a", SIM_OPENAI, 1, 1)->max_retries = 0;
	add_provider(f, "b", SIM_ANTHROPIC, 2, 1)->max_retries = 0;
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	control(f, 1, "{\"error_rate\":1,\"error_status\":529}");
	start_router(f, 0);
	ask(f, "x", 0, &res);
	assert_int_equal(res.cls, LLM_ERR_OVERLOADED);
	assert_int_equal(res.n_attempts, 2);
	assert_int_equal(res.attempts[0].status, 500);
	assert_int_equal(res.attempts[1].status, 529);
	router_result_free(&res);
}

struct async_count {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int ok;
};

static void
async_done(void *arg, struct router_result *res)
{
	struct async_count *c = arg;

	pthread_mutex_lock(&c->mu);
	c->done++;
	if (res->cls == LLM_OK)
		c->ok++;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	router_result_free(res);
	free(res);
}

static void
test_many_concurrent_requests_with_a_half_failing_provider_lose_none(void **state)
{
	struct fixture *f = *state;
	struct async_count c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct llm_request req;
	int n = 500;

	add_provider(f, "half", SIM_OPENAI, 1, 1)->max_retries = 0;
	add_provider(f, "whole", SIM_ANTHROPIC, 1, 1);
	f->kit.cfg.breaker.failure_threshold = 1000;
	control(f, 0, "{\"error_rate\":0.5,\"error_status\":503,\"latency_ms\":20}");
	start_router(f, 0);
	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "load");
	for (int i = 0; i < n; i++)
		router_submit(f->r, &req, NULL, async_done, &c);
	llm_request_free(&req);
	pthread_mutex_lock(&c.mu);
	while (c.done < n) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 60;
		if (pthread_cond_timedwait(&c.cv, &c.mu, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&c.mu);
	assert_int_equal(c.done, n);
	assert_int_equal(c.ok, n);
}

/* ---- operations beside chat: embeddings through the same machinery ---- */

struct op_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct router_result *res;
};

static void
op_done(void *arg, struct router_result *res)
{
	struct op_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->res = res;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Submit an embeddings request for two inputs (not waiting); returns its id. */
static uint64_t
embed_submit(struct fixture *f, struct op_wait *w)
{
	struct router_op_request op;
	struct llm_request req;
	uint64_t id;

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->res = NULL;
	llm_request_init(&req);
	req.timeout_ms = 10000;
	memset(&op, 0, sizeof op);
	op.op = ROUTER_OP_EMBEDDINGS;
	op.req = &req;
	op.embed.input = "[\"one\",\"two\"]";
	op.n_inputs = 2;
	id = router_submit_op(f->r, &op, op_done, w);
	llm_request_free(&req);
	return id;
}

/* Its result (the caller frees it with router_result_free and free). */
static struct router_result *
embed_wait(struct op_wait *w)
{
	struct router_result *res;

	pthread_mutex_lock(&w->mu);
	while (w->res == NULL)
		pthread_cond_wait(&w->cv, &w->mu);
	res = w->res;
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	return res;
}

static struct router_result *
embed(struct fixture *f)
{
	struct op_wait w;

	embed_submit(f, &w);
	return embed_wait(&w);
}

static void
op_result_free(struct router_result *res)
{
	router_result_free(res);
	free(res);
}

/* An answered embeddings request: vectors, usage, and the router's counts. */
static void
test_embeddings_are_counted_like_chat(void **state)
{
	struct fixture *f = *state;
	struct router_result *res;
	struct router_snapshot s;
	const struct provider_snapshot *p;

	add_provider(f, "oa", SIM_OPENAI, 1, 1);
	add_provider(f, "an", SIM_ANTHROPIC, 1, 1); /* no embeddings API: never tried */
	start_router(f, 0);
	res = embed(f);
	assert_int_equal(res->cls, LLM_OK);
	assert_int_equal(res->op, ROUTER_OP_EMBEDDINGS);
	assert_string_equal(res->provider, "oa");
	assert_int_equal(res->embed.n_vectors, 2);
	assert_true(res->embed.vectors[1].n > 0);
	assert_true(res->resp.usage.input_tokens > 0);
	assert_int_equal(res->n_attempts, 1);
	op_result_free(res);
	router_snapshot(f->r, &s);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.answered, 1);
	assert_int_equal(s.attempts, 1);
	p = snap_provider(&s, "oa");
	assert_int_equal(p->requests, 1);
	assert_int_equal(p->successes, 1);
	assert_true(p->input_tokens > 0);
	assert_int_equal(snap_provider(&s, "an")->requests, 0);
	router_snapshot_free(&s);
	assert_int_equal(sim_requests(f, 1), 0);
}

/* Failing embeddings open the breaker; an open breaker sends them to the next provider. */
static void
test_embeddings_fail_over_from_an_open_breaker(void **state)
{
	struct fixture *f = *state;
	struct router_result *res;
	struct router_snapshot s;

	add_provider(f, "flaky", SIM_OPENAI, 1, 1)->max_retries = 0;
	add_provider(f, "steady", SIM_OPENAI, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":503}");
	start_router(f, 1);
	for (int i = 0; i < 3; i++) {
		res = embed(f);
		assert_int_equal(res->cls, LLM_OK);
		assert_string_equal(res->provider, "steady");
		assert_int_equal(res->n_attempts, 2);
		assert_string_equal(res->attempts[0].provider, "flaky");
		assert_int_equal(res->attempts[0].status, 503);
		assert_int_equal(res->attempts[1].cls, LLM_OK);
		op_result_free(res);
	}
	router_snapshot(f->r, &s);
	assert_int_equal(snap_provider(&s, "flaky")->breaker, BREAKER_OPEN);
	assert_int_equal(s.failovers, 3);
	router_snapshot_free(&s);
	/* Open: not even tried. */
	res = embed(f);
	assert_int_equal(res->cls, LLM_OK);
	assert_int_equal(res->n_attempts, 1);
	assert_string_equal(res->provider, "steady");
	op_result_free(res);
	assert_int_equal(sim_requests(f, 0), 3);
}

/* A 429 with retry-after: the provider is kept out until then, the request fails over. */
static void
test_embeddings_429_retry_after_fails_over(void **state)
{
	struct fixture *f = *state;
	struct router_result *res;
	struct router_snapshot s;
	struct event ev[64];
	size_t n;
	int seen = 0;

	add_provider(f, "limited", SIM_OPENAI, 1, 1);
	add_provider(f, "spare", SIM_OPENAI, 2, 1);
	control(f, 0, "{\"error_rate\":1,\"error_status\":429,\"retry_after\":30}");
	start_router(f, 1);
	res = embed(f);
	assert_int_equal(res->cls, LLM_OK);
	assert_string_equal(res->provider, "spare");
	assert_int_equal(res->n_attempts, 2);
	assert_int_equal(res->attempts[0].cls, LLM_ERR_RATE_LIMIT);
	assert_int_equal(res->attempts[0].status, 429);
	op_result_free(res);
	router_snapshot(f->r, &s);
	assert_false(snap_provider(&s, "limited")->usable);
	assert_int_equal(snap_provider(&s, "limited")->errors_by_class[LLM_ERR_RATE_LIMIT], 1);
	router_snapshot_free(&s);
	n = event_last(router_events(f->r), ev, nitems(ev));
	for (size_t i = 0; i < n; i++)
		if (ev[i].kind == EV_FAILOVER &&
		    strstr(ev[i].message, "limited -> spare") != NULL &&
		    strstr(ev[i].message, "rate_limit") != NULL)
			seen = 1;
	assert_true(seen);
	/* Still kept out: the next one goes straight to the spare. */
	res = embed(f);
	assert_string_equal(res->provider, "spare");
	assert_int_equal(res->n_attempts, 1);
	op_result_free(res);
	assert_int_equal(sim_requests(f, 0), 1);
}

/* The caller left: the transfer is aborted at once, the request ends cancelled. */
static void
test_embeddings_cancel_aborts_the_transfer(void **state)
{
	struct fixture *f = *state;
	struct router_result *res;
	struct router_snapshot s;
	struct op_wait w;
	uint64_t id, t0;

	add_provider(f, "slow", SIM_OPENAI, 1, 1);
	control(f, 0, "{\"fault\":\"hang\"}");
	start_router(f, 0);
	id = embed_submit(f, &w);
	assert_true(id > 0);
	while (sim_requests(f, 0) == 0) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	t0 = clock_mono_us();
	router_cancel(f->r, id);
	res = embed_wait(&w);
	assert_true(clock_mono_us() - t0 < 2000000);
	assert_int_equal(res->cls, LLM_ERR_CANCELLED);
	assert_int_equal(res->n_attempts, 1);
	assert_int_equal(res->attempts[0].cls, LLM_ERR_CANCELLED);
	op_result_free(res);
	router_snapshot(f->r, &s);
	assert_int_equal(s.cancelled, 1);
	assert_int_equal(s.in_flight, 0);
	assert_int_equal(snap_provider(&s, "slow")->in_flight, 0);
	router_snapshot_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_longest_provider_name),
	    T(test_answers_from_a_healthy_provider),
	    T(test_fails_over_from_500_and_lists_failed_attempts_first),
	    T(test_400_returns_at_once_without_failover),
	    T(test_422_returns_at_once_without_failover),
	    T(test_401_fails_over_and_marks_misconfigured),
	    T(test_403_fails_over_and_marks_misconfigured),
	    T(test_wrong_key_gets_real_401_and_fails_over),
	    T(test_hang_times_out_and_fails_over),
	    T(test_drop_fails_over),
	    T(test_malformed_fails_over),
	    T(test_truncated_fails_over),
	    T(test_down_fails_over),
	    T(test_529_overloaded_fails_over),
	    T(test_insufficient_quota_is_not_retried_on_the_same_provider),
	    T(test_retry_after_is_honoured_when_it_fits),
	    T(test_retry_after_longer_than_the_deadline_fails_over),
	    T(test_breaker_opens_probes_and_closes),
	    T(test_breaker_half_open_trial_failure_reopens),
	    T(test_weights_split_traffic),
	    T(test_rate_limit_skips_a_provider_at_its_limit),
	    T(test_token_rate_limit_skips_a_provider_and_refills),
	    T(test_retries_take_their_rate_limit_tokens_too),
	    T(test_stream_anthropic_delivers_every_delta),
	    T(test_stream_openai_delivers_every_delta),
	    T(test_stream_azure_delivers_every_delta),
	    T(test_stream_mistral_delivers_every_delta),
	    T(test_stream_failing_midway_is_an_error_not_a_failover),
	    T(test_stream_fails_over_before_the_first_token),
	    T(test_drain_moves_traffic_at_once),
	    T(test_routes_use_primary_then_fallbacks),
	    T(test_every_attempt_failing_reports_each),
	    T(test_many_concurrent_requests_with_a_half_failing_provider_lose_none),
	    T(test_embeddings_are_counted_like_chat),
	    T(test_embeddings_fail_over_from_an_open_breaker),
	    T(test_embeddings_429_retry_after_fails_over),
	    T(test_embeddings_cancel_aborts_the_transfer),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
