/*
 * test_admin_requests.c: the admin API's live request view and operator
 * test prompts (gateway_requests.c) over loopback and the Unix socket, with
 * the router and a database in-process and simulated providers behind it:
 * GET /admin/v1/requests and /requests/ID on a slow request in flight and
 * once finished, their errors; POST /admin/v1/prompt's stream (delta frames,
 * the done record naming who answered), pinned to a provider, kept out of
 * the window's client figures, an operator event; and who may send one
 * (TCP without the admin token: refused, nothing reaches a provider).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "testkit.h"
#include "util/util.h"
#include "util/waiter.h"

#define TOKEN_ENV "LLMDECK_TEST_REQ_ADMIN_TOKEN"

struct fixture {
	struct testkit kit;
	char dir[64];
	struct store *st;
	struct router *r;
	struct gateway *gw;
	char base[128];   /* http://127.0.0.1:PORT */
	char socket[160]; /* "unix:PATH:" */
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *cause = NULL, run[128], db[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-adreq-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv(TOKEN_ENV);
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "claude", SIM_ANTHROPIC, 2, 1);
	snprintf(db, sizeof db, "%s/adreq.db", f->dir);
	if (store_open(&f->st, db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	store_set_instance(f->st, "req-test");
	*state = f;
	return 0;
}

static void
start(struct fixture *f)
{
	struct router_opts ro;
	struct gateway_opts go;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 3;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.store = f->st;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.store = f->st;
	go.instance = "req-test";
	go.version = "9.9.9";
	go.local_socket = 1;
	go.admin_token_env = TOKEN_ENV;
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	snprintf(f->socket, sizeof f->socket, "unix:%s:", gateway_socket_path(f->gw));
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	gateway_close(f->gw);
	gateway_stop(f->gw);
	router_free(f->r);
	store_close(f->st);
	testkit_free(&f->kit);
	unsetenv(TOKEN_ENV);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
get(struct fixture *f, struct hreply *r, const char *path)
{
	char url[512];

	snprintf(url, sizeof url, "%s%s", f->base, path);
	hreq(r, "GET", url, NULL, NULL);
}

static void
assert_error(struct hreply *r, long status, const char *type, const char *text)
{
	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body.data);
	assert_string_equal(jstr(r->json, "error.type"), type);
	if (strstr(jstr(r->json, "error.message"), text) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", jstr(r->json, "error.message"), text);
}

static void
on_done(void *arg, struct router_result *res)
{
	waiter_done(arg, 0, res);
}

/* The done frame's JSON in an admin prompt's SSE body (the test fails without one). */
static cJSON *
done_frame(const struct hreply *r)
{
	const char *p = strstr(r->body.data, "event: done\ndata: ");
	const char *end;

	if (p == NULL)
		fail_msg("no done frame in: %s", r->body.data);
	p += strlen("event: done\ndata: ");
	end = strstr(p, "\n\n");
	assert_non_null(end);
	return cJSON_ParseWithLength(p, (size_t)(end - p));
}

static void
test_requests_in_flight_and_recent(void **state)
{
	struct fixture *f = *state;
	struct llm_request req;
	struct hreply r;
	struct waiter w;
	struct router_result *res;
	uint64_t id;
	char path[64];
	cJSON *x = NULL;

	testkit_control(&f->kit, 0, "{\"latency_ms\":1500}");
	start(f);
	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "hello");
	req.model = xstrdup("test-model");
	waiter_init(&w);
	id = router_submit(f->r, &req, NULL, on_done, &w);
	llm_request_free(&req);

	/* Polled: the attempt starts on the router's threads. */
	for (int i = 0; i < 200 && x == NULL; i++) {
		get(f, &r, "/admin/v1/requests?limit=5");
		assert_int_equal(r.status, 200);
		x = cJSON_Duplicate(jget(r.json, "in_flight.0"), 1);
		if (x != NULL && jget(x, "provider") != NULL && cJSON_IsNull(jget(x, "provider"))) {
			cJSON_Delete(x);
			x = NULL;
		}
		if (x == NULL)
			sleep_ms(10);
		else
			assert_int_equal(jnum(r.json, "in_flight_total"), 1);
		hreply_free(&r);
	}
	assert_non_null(x);
	assert_int_equal(jnum(x, "id"), (double)id);
	assert_string_equal(jstr(x, "state"), "in_flight");
	assert_string_equal(jstr(x, "model"), "test-model");
	assert_string_equal(jstr(x, "provider"), "gpt");
	assert_int_equal(jnum(x, "attempts"), 1);
	assert_true(cJSON_IsFalse(jget(x, "operator_test")));
	assert_true(jnum(x, "elapsed_ms") >= 0);
	cJSON_Delete(x);

	snprintf(path, sizeof path, "/admin/v1/requests/%llu", (unsigned long long)id);
	get(f, &r, path);
	assert_int_equal(r.status, 200);
	assert_int_equal(jnum(r.json, "request.id"), (double)id);
	assert_string_equal(jstr(r.json, "attempts.0.provider"), "gpt");
	assert_true(cJSON_IsTrue(jget(r.json, "attempts.0.in_flight")));
	hreply_free(&r);

	waiter_wait(&w);
	res = w.ptr;
	assert_int_equal(res->cls, LLM_OK);
	router_result_free(res);
	free(res);

	get(f, &r, "/admin/v1/requests");
	assert_int_equal(r.status, 200);
	assert_int_equal(jnum(r.json, "in_flight_total"), 0);
	assert_int_equal(jnum(r.json, "recent.0.id"), (double)id);
	assert_string_equal(jstr(r.json, "recent.0.state"), "ok");
	assert_int_equal(jnum(r.json, "recent.0.status"), 200);
	assert_true(jnum(r.json, "recent.0.cost_usd") > 0);
	assert_true(jnum(r.json, "recent.0.elapsed_ms") >= 1500);
	assert_true(cJSON_IsFalse(jget(r.json, "recent.0.cached")));
	hreply_free(&r);

	get(f, &r, path);
	assert_int_equal(r.status, 200);
	assert_true(cJSON_IsFalse(jget(r.json, "attempts.0.in_flight")));
	assert_int_equal(jnum(r.json, "attempts.0.status"), 200);
	assert_true(jnum(r.json, "attempts.0.latency_ms") >= 1500);
	hreply_free(&r);

	get(f, &r, "/admin/v1/requests/987654");
	assert_error(&r, 404, "not_found", "no request 987654");
	hreply_free(&r);
	get(f, &r, "/admin/v1/requests/abc");
	assert_error(&r, 404, "not_found", "expected a request id");
	hreply_free(&r);
	get(f, &r, "/admin/v1/requests?limit=0");
	assert_error(&r, 400, "invalid_request_error", "limit");
	hreply_free(&r);
	{
		char url[512];
		snprintf(url, sizeof url, "%s/admin/v1/requests", f->socket);
		hreq(&r, "POST", url, "{}", NULL);
		assert_error(&r, 405, "invalid_request_error", "use GET");
		hreply_free(&r);
	}
}

static void
test_prompt_streams_and_names_who_answered(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[512];
	cJSON *done;
	uint64_t before = 0;

	start(f);
	before = testkit_sim_requests(&f->kit, 1);
	snprintf(url, sizeof url, "%s/admin/v1/prompt", f->socket);
	hreq(&r, "POST", url,
	    "{\"prompt\":\"say hello\",\"provider\":\"claude\",\"max_tokens\":40}", NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers.data, "text/event-stream"));
	assert_non_null(strstr(r.body.data, "event: delta\ndata: {\"text\":\""));
	done = done_frame(&r);
	assert_true(cJSON_IsTrue(jget(done, "ok")));
	assert_string_equal(jstr(done, "provider"), "claude");
	assert_string_equal(jstr(done, "attempts.0.provider"), "claude");
	assert_true(cJSON_IsNull(jget(done, "attempts.0.error_class")));
	assert_true(jnum(done, "latency_ms") > 0);
	assert_true(jnum(done, "cost_usd") > 0);
	assert_true(cJSON_IsFalse(jget(done, "cached")));
	assert_true(jnum(done, "usage.output_tokens") > 0);
	assert_true(jnum(done, "request_id") >= 1);
	cJSON_Delete(done);
	hreply_free(&r);
	/* The pin held: the second provider answered, the first saw nothing. */
	assert_int_equal(testkit_sim_requests(&f->kit, 1), before + 1);
	assert_int_equal(testkit_sim_requests(&f->kit, 0), 0);

	/* Not what clients get: out of the window; listed as an operator test; an event. */
	get(&*f, &r, "/admin/v1/snapshot");
	assert_int_equal(jnum(r.json, "requests.window.requests"), 0);
	assert_int_equal(jnum(r.json, "requests.answered"), 1);
	hreply_free(&r);
	get(f, &r, "/admin/v1/requests");
	assert_true(cJSON_IsTrue(jget(r.json, "recent.0.operator_test")));
	assert_string_equal(jstr(r.json, "recent.0.provider"), "claude");
	hreply_free(&r);
	get(f, &r, "/admin/v1/events");
	assert_non_null(strstr(r.body.data, "test prompt pinned to claude"));
	hreply_free(&r);
}

static void
test_prompt_failure_is_a_done_record(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[512];
	cJSON *done;

	testkit_control(&f->kit, 1, "{\"error_rate\":1,\"error_status\":400}");
	start(f);
	snprintf(url, sizeof url, "%s/admin/v1/prompt", f->socket);
	hreq(&r, "POST", url, "{\"prompt\":\"hi\",\"provider\":\"claude\"}", NULL);
	assert_int_equal(r.status, 200);
	done = done_frame(&r);
	assert_true(cJSON_IsFalse(jget(done, "ok")));
	assert_int_equal(jnum(done, "attempts.0.status"), 400);
	assert_non_null(jstr(done, "error.class"));
	assert_non_null(jstr(done, "error.message"));
	cJSON_Delete(done);
	hreply_free(&r);
}

static void
test_prompt_bad_bodies(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *body, *says;
	} cases[] = {
	    {"[]", "JSON object"},
	    {"{}", "prompt: missing"},
	    {"{\"prompt\":\"  \"}", "prompt: expected a non-empty string"},
	    {"{\"prompt\":\"x\",\"provider\":\"nope\"}", "provider: no provider \"nope\""},
	    {"{\"prompt\":\"x\",\"model\":\"no-such-model\"}", "model:"},
	    {"{\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens"},
	    {"{\"prompt\":\"x\",\"temperature\":1}", "temperature: unknown field"},
	};
	struct hreply r;
	char url[512];

	start(f);
	snprintf(url, sizeof url, "%s/admin/v1/prompt", f->socket);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hreq(&r, "POST", url, cases[i].body, NULL);
		assert_error(&r, 400, "invalid_request_error", cases[i].says);
		hreply_free(&r);
	}
	hreq(&r, "GET", url, NULL, NULL);
	assert_error(&r, 405, "invalid_request_error", "use POST");
	hreply_free(&r);
	assert_int_equal(testkit_sim_requests(&f->kit, 0) + testkit_sim_requests(&f->kit, 1), 0);
}

/* TCP without the token: refused, and nothing reaches a provider; with it: served. */
static void
test_prompt_needs_the_admin_token_over_tcp(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[512];

	start(f);
	snprintf(url, sizeof url, "%s/admin/v1/prompt", f->base);
	hreq(&r, "POST", url, "{\"prompt\":\"hi\"}", NULL);
	assert_error(&r, 403, "forbidden", "read-only over TCP");
	hreply_free(&r);
	assert_int_equal(testkit_sim_requests(&f->kit, 0) + testkit_sim_requests(&f->kit, 1), 0);
	gateway_close(f->gw);
	gateway_stop(f->gw);
	router_free(f->r);

	setenv(TOKEN_ENV, "s3cret-admin", 1);
	start(f);
	snprintf(url, sizeof url, "%s/admin/v1/prompt", f->base);
	hreq(&r, "POST", url, "{\"prompt\":\"hi\"}", NULL);
	assert_error(&r, 401, "unauthorized", "admin token");
	hreply_free(&r);
	hreq(&r, "POST", url, "{\"prompt\":\"hi\"}", "wrong");
	assert_error(&r, 401, "unauthorized", "admin token");
	hreply_free(&r);
	assert_int_equal(testkit_sim_requests(&f->kit, 0) + testkit_sim_requests(&f->kit, 1), 0);
	hreq(&r, "POST", url, "{\"prompt\":\"hi\"}", "s3cret-admin");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "\"ok\":true"));
	hreply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_requests_in_flight_and_recent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prompt_streams_and_names_who_answered, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_prompt_failure_is_a_done_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prompt_bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prompt_needs_the_admin_token_over_tcp, setup,
	        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
