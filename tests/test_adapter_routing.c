/*
 * test_adapter_routing.c: the adapters' capability checks as the router uses
 * them, over loopback against simulated providers: a provider that cannot
 * honour a field of the request is skipped and the skip is in the result's
 * attempts; when none can, the request fails as a bad request naming the
 * field; typed deltas reach router_submit's callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "router/router.h"
#include "testkit.h"

struct fixture {
	struct testkit kit;
	struct router *r;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct router_opts ro;
	char *cause = NULL;

	testkit_init(&f->kit);
	/* Anthropic preferred, OpenAI behind it. */
	testkit_add_provider(&f->kit, "claude", SIM_ANTHROPIC, 1, 1);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 2, 1);
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
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

static void
request(struct llm_request *req)
{
	llm_request_init(req);
	llm_request_add_message(req, LLM_ROLE_USER, "What is the capital of France?");
	req->max_tokens = 50;
}

/* A seed: Anthropic has none, so the request goes to OpenAI and says why. */
static void
test_skip_recorded(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct llm_request req;

	request(&req);
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "claude");
	router_result_free(&res);

	req.has_seed = 1;
	req.seed = 11;
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "gpt");
	assert_int_equal(res.n_attempts, 2);
	assert_true(res.attempts[0].skipped);
	assert_string_equal(res.attempts[0].provider, "claude");
	assert_int_equal(res.attempts[0].cls, LLM_ERR_BAD_REQUEST);
	assert_non_null(strstr(res.attempts[0].error, "seed"));
	assert_false(res.attempts[1].skipped);
	assert_int_equal(res.attempts[1].cls, LLM_OK);
	router_result_free(&res);
	assert_int_equal(testkit_sim_requests(&f->kit, 0), 1);
	llm_request_free(&req);
}

/* Fields an OpenAI client sent for its own API go only to an OpenAI-compatible
 * provider: the Anthropic one is skipped, naming the field; with only
 * Anthropic left, a bad request. */
static void
test_passthrough_only_to_its_own_kind(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct llm_request req;

	request(&req);
	req.passthrough = xstrdup("{\"logit_bias\":{\"50256\":-100}}");
	req.passthrough_api = LLM_API_OPENAI;
	router_generate(f->r, &req, NULL, NULL, &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_string_equal(res.provider, "gpt");
	assert_true(res.attempts[0].skipped);
	assert_string_equal(res.attempts[0].provider, "claude");
	assert_non_null(strstr(res.attempts[0].error, "logit_bias"));
	router_result_free(&res);

	assert_int_equal(router_set_admin(f->r, "gpt", ADMIN_DISABLED, NULL), 0);
	free(req.provider);
	req.provider = xstrdup("claude");
	assert_int_equal(router_generate(f->r, &req, NULL, NULL, &res), -1);
	assert_int_equal(res.cls, LLM_ERR_BAD_REQUEST);
	assert_string_equal(res.err.param, "logit_bias");
	router_result_free(&res);
	llm_request_free(&req);
}

/* Nothing can honour it: a bad request naming the field, and nothing is sent. */
static void
test_none_capable(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct llm_request req;
	uint64_t before = testkit_sim_requests(&f->kit, 0) + testkit_sim_requests(&f->kit, 1);

	request(&req);
	req.has_seed = 1; /* not on Anthropic */
	req.top_k = 5;    /* not on OpenAI */
	assert_int_equal(router_generate(f->r, &req, NULL, NULL, &res), -1);
	assert_int_equal(res.cls, LLM_ERR_BAD_REQUEST);
	assert_string_equal(res.err.param, "seed");
	assert_non_null(strstr(res.err.message, "claude"));
	assert_non_null(strstr(res.err.message, "top_k"));
	assert_int_equal(res.n_attempts, 2);
	assert_true(res.attempts[0].skipped && res.attempts[1].skipped);
	router_result_free(&res);
	assert_int_equal(testkit_sim_requests(&f->kit, 0) + testkit_sim_requests(&f->kit, 1),
	    before);

	/* One could but cannot take it now (disabled): no provider, not a bad request. */
	llm_request_free(&req);
	request(&req);
	req.has_seed = 1;
	assert_int_equal(router_set_admin(f->r, "gpt", ADMIN_DISABLED, NULL), 0);
	assert_int_equal(router_generate(f->r, &req, NULL, NULL, &res), -1);
	assert_int_equal(res.cls, LLM_ERR_NO_PROVIDER);
	assert_true(res.n_attempts == 1 && res.attempts[0].skipped);
	router_result_free(&res);
	assert_int_equal(router_set_admin(f->r, "gpt", ADMIN_ENABLED, NULL), 0);

	/* Pinned to a provider that cannot: the same 400. */
	llm_request_free(&req);
	request(&req);
	req.top_k = 5;
	req.provider = xstrdup("gpt");
	assert_int_equal(router_generate(f->r, &req, NULL, NULL, &res), -1);
	assert_int_equal(res.cls, LLM_ERR_BAD_REQUEST);
	assert_string_equal(res.err.param, "top_k");
	router_result_free(&res);
	llm_request_free(&req);
}

/* What a typed stream delivered; the deltas (engine thread) and done share it. */
struct typed {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct buf text;
	int n, other;
	size_t last_part;
	struct router_result *res;
};

static void
on_typed(void *arg, const struct llm_delta *d)
{
	struct typed *t = arg;

	pthread_mutex_lock(&t->mu);
	if (d->type == LLM_DELTA_TEXT) {
		buf_append(&t->text, d->text, d->len);
		t->n++;
		t->last_part = d->part;
	} else
		t->other++;
	pthread_mutex_unlock(&t->mu);
}

static void
on_done(void *arg, struct router_result *res)
{
	struct typed *t = arg;

	pthread_mutex_lock(&t->mu);
	t->res = res;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* Typed deltas for the gateway: a streamed answer arrives as text deltas of one part,
 * adding up to the content; the answer's parts hold the same text. */
static void
test_typed_deltas(void **state)
{
	struct fixture *f = *state;
	struct llm_request req;
	struct typed t;

	memset(&t, 0, sizeof t);
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	buf_init(&t.text);
	buf_puts(&t.text, "");
	request(&req);
	req.stream = 1;
	router_submit(f->r, &req, on_typed, on_done, &t);
	llm_request_free(&req);
	pthread_mutex_lock(&t.mu);
	while (t.res == NULL)
		pthread_cond_wait(&t.cv, &t.mu);
	pthread_mutex_unlock(&t.mu);
	assert_int_equal(t.res->cls, LLM_OK);
	assert_true(t.n > 1);
	assert_int_equal(t.other, 0);
	assert_int_equal(t.last_part, 0);
	assert_string_equal(t.text.data, t.res->resp.content);
	assert_int_equal(t.res->resp.n_parts, 1);
	assert_string_equal(t.res->resp.parts[0].text, t.res->resp.content);
	router_result_free(t.res);
	free(t.res);
	buf_free(&t.text);
	pthread_mutex_destroy(&t.mu);
	pthread_cond_destroy(&t.cv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_skip_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_none_capable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passthrough_only_to_its_own_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_typed_deltas, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
