/*
 * test_admin.c: the admin API over loopback and over the Unix socket, with
 * the router and a database in-process and simulated providers behind it:
 * the snapshot's contract, every provider action and its event, the
 * errors, auth (token, off-loopback refusal), the live event stream, the
 * instance files `llmdeck ls` reads, draining, a router swapped in by a
 * reload, and the access log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "router/events.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "testkit.h"
#include "util/util.h"

struct fixture {
	struct testkit kit;
	char dir[64];
	struct store *st;
	struct router *r;
	struct gateway *gw;
	char base[128];   /* http://127.0.0.1:PORT */
	char socket[160]; /* "unix:PATH:" */
	FILE *log;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *cause = NULL, run[128], db[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-admin-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv("LLMDECK_TEST_ADMIN_TOKEN");
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "claude", SIM_ANTHROPIC, 1, 1);
	snprintf(db, sizeof db, "%s/admin.db", f->dir);
	if (store_open(&f->st, db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	store_set_instance(f->st, "adm-test");
	*state = f;
	return 0;
}

static struct router *
new_router(struct fixture *f)
{
	struct router_opts ro;
	struct router *r;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 3;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.store = f->st;
	if ((r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	return r;
}

/* The gateway on loopback with the Unix socket; go may adjust the options. */
static void
start(struct fixture *f, void (*adjust)(struct gateway_opts *, void *), void *arg)
{
	struct gateway_opts go;
	char *cause = NULL;

	f->r = new_router(f);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.store = f->st;
	go.instance = "adm-test";
	go.version = "9.9.9";
	go.local_socket = 1;
	go.admin_token_env = "LLMDECK_TEST_ADMIN_TOKEN";
	go.access_log = f->log;
	if (adjust != NULL)
		adjust(&go, arg);
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	if (gateway_socket_path(f->gw) != NULL)
		snprintf(f->socket, sizeof f->socket, "unix:%s:", gateway_socket_path(f->gw));
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	struct router *old;

	gateway_close(f->gw);
	while (f->gw != NULL && (old = gateway_retired_router(f->gw)) != NULL)
		router_free(old);
	gateway_stop(f->gw);
	router_free(f->r);
	store_close(f->st);
	testkit_free(&f->kit);
	if (f->log != NULL)
		fclose(f->log);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* An admin request on the TCP port: "GET", "/admin/v1/snapshot". */
static void
admin(struct fixture *f, struct hreply *r, const char *method, const char *path, const char *body)
{
	char url[512];

	/* Over TCP without the admin token the API is read-only: actions go to the
	 * Unix socket (test_cross_site.c has the refusals). */
	snprintf(url, sizeof url, "%s%s", strcmp(method, "GET") == 0 ? f->base : f->socket, path);
	hreq(r, method, url, body, NULL);
}

/* A chat completion through the gateway (temperature 0: cacheable). */
static long
chat(struct fixture *f, const char *text)
{
	struct hreply r;
	char url[256], body[512];
	long status;

	snprintf(url, sizeof url, "%s/v1/chat/completions", f->base);
	snprintf(body, sizeof body,
	    "{\"model\":\"test-model\",\"temperature\":0,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"%s\"}]}",
	    text);
	hreq(&r, "POST", url, body, NULL);
	status = r.status;
	hreply_free(&r);
	return status;
}

static void
assert_error(struct hreply *r, long status, const char *type, const char *text)
{
	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status, r->body.data);
	assert_string_equal(jstr(r->json, "error.type"), type);
	assert_non_null(strstr(jstr(r->json, "error.message"), text));
	assert_null(strchr(jstr(r->json, "error.message"), '\n'));
}

static const char *const provider_keys[] = {"name", "kind", "base_url", "no_key", "state.breaker",
    "state.admin", "cooldown_ms", "consecutive_failures", "priority", "weight",
    "overridden.priority", "overridden.weight", "overridden.admin", "usable", "in_flight",
    "rate_limit.rpm", "rate_limit.rpm_use", "rate_limit.tpm", "rate_limit.tpm_use",
    "totals.requests", "totals.successes", "totals.errors", "totals.input_tokens",
    "totals.output_tokens", "totals.cost_usd", "totals.p50_ms", "totals.p95_ms", "totals.p99_ms",
    "window.requests", "window.errors", "window.share", "window.p50_ms", "window.p95_ms",
    "window.p99_ms", "window.buckets", "window.series.requests", "window.series.errors",
    "learned.timeout_ms", "learned.first_token_timeout_ms", "learned.hedge_ms",
    "learned.first_token_hedge_ms", "learned.samples", "learned.first_token_samples",
    "learned.ewma_ms", "probe"};

static void
test_snapshot_has_the_whole_contract(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	cJSON *p;
	static const char *const top[] = {"instance.id", "instance.pid", "instance.host",
	    "instance.version", "instance.started_ms", "instance.config", "instance.database",
	    "instance.listen", "instance.draining", "time_ms", "window_seconds", "requests.total",
	    "requests.answered", "requests.failed", "requests.cancelled", "requests.failovers",
	    "requests.hedges", "requests.hedges_won", "requests.attempts",
	    "requests.attempts_failed", "requests.in_flight", "requests.cache_hits",
	    "requests.window.requests", "requests.window.failed", "requests.window.attempts_failed",
	    "requests.window.cancelled", "requests.window.p50_ms", "requests.window.p95_ms",
	    "requests.window.p99_ms", "requests.window.series.requests",
	    "requests.window.series.errors", "budget.daily_usd", "budget.spent_usd",
	    "budget.reserved_usd", "budget.rate_usd_per_hour", "budget.projected_usd",
	    "budget.alert_threshold", "budget.hard_stop", "cache.enabled", "cache.entries",
	    "cache.hits", "cache.misses", "cache.hit_rate_all", "cache.hit_rate_cacheable",
	    "gateway.in_flight", "gateway.requests", "gateway.errors", "gateway.stream_errors"};

	start(f, NULL, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(chat(f, "snapshot"), 200);
	admin(f, &r, "GET", "/admin/v1/snapshot?window=30", NULL);
	assert_int_equal(r.status, 200);
	for (size_t i = 0; i < nitems(top); i++)
		if (jget(r.json, top[i]) == NULL)
			fail_msg("snapshot: no %s", top[i]);
	assert_string_equal(jstr(r.json, "instance.id"), "adm-test");
	assert_string_equal(jstr(r.json, "instance.version"), "9.9.9");
	assert_int_equal((long)jnum(r.json, "instance.pid"), (long)getpid());
	assert_true(cJSON_IsNull(jget(r.json, "instance.config")));
	assert_string_equal(jstr(r.json, "instance.listen"), f->base);
	assert_true(cJSON_IsFalse(jget(r.json, "instance.draining")));
	assert_int_equal(jnum(r.json, "window_seconds"), 30);
	assert_int_equal(cJSON_GetArraySize(jget(r.json, "providers")), 2);
	for (int k = 0; k < 2; k++) {
		char key[128];

		for (size_t i = 0; i < nitems(provider_keys); i++) {
			snprintf(key, sizeof key, "providers.%d.%s", k, provider_keys[i]);
			if (jget(r.json, key) == NULL)
				fail_msg("snapshot: no %s", key);
		}
		snprintf(key, sizeof key, "providers.%d.window.series.requests", k);
		assert_int_equal(cJSON_GetArraySize(jget(r.json, key)), 30);
	}
	/* 4 requests, the same prompt: 1 to a provider, 3 from the cache. */
	assert_int_equal(jnum(r.json, "requests.total"), 4);
	assert_int_equal(jnum(r.json, "requests.window.requests"), 4);
	assert_int_equal(jnum(r.json, "requests.cache_hits"), 3);
	assert_true(jnum(r.json, "cache.hit_rate_all") > 0.74);
	assert_int_equal(jnum(r.json, "gateway.requests"), 4);
	assert_int_equal(jnum(r.json, "gateway.errors"), 0);
	assert_int_equal(jnum(r.json, "providers.0.window.requests") +
	        jnum(r.json, "providers.1.window.requests"),
	    1);
	p = jget(r.json, "providers.0");
	if (jnum(p, "window.requests") == 0)
		p = jget(r.json, "providers.1");
	assert_true(jnum(p, "window.share") == 1);
	/* Buckets: non-empty only, [upper_ms, count]. */
	assert_int_equal(cJSON_GetArraySize(jget(p, "window.buckets")), 1);
	assert_int_equal(jnum(p, "window.buckets.0.1"), 1);
	assert_true(jnum(p, "window.buckets.0.0") >= jnum(p, "window.p50_ms"));
	/* The series: one request in the last second or two. */
	assert_int_equal(jnum(p, "window.series.requests.28") +
	        jnum(p, "window.series.requests.29"),
	    1);
	assert_true(cJSON_IsNull(jget(p, "probe")));
	/* One answer: too few to learn a timeout from (0: the configured rule). */
	assert_int_equal(jnum(p, "learned.samples") + jnum(p, "learned.first_token_samples"), 1);
	assert_int_equal(jnum(p, "learned.timeout_ms"), 0);
	assert_true(jnum(p, "learned.ewma_ms") > 0);
	hreply_free(&r);

	/* The default window, and bad ones. */
	admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
	assert_int_equal(jnum(r.json, "window_seconds"), ROUTER_WINDOW_DEFAULT);
	hreply_free(&r);
	static const char *const bad[] = {"0", "121", "abc", "-5", "6.5"};
	for (size_t i = 0; i < nitems(bad); i++) {
		char path[64];

		snprintf(path, sizeof path, "/admin/v1/snapshot?window=%s", bad[i]);
		admin(f, &r, "GET", path, NULL);
		assert_error(&r, 400, "invalid_request_error", "window");
		hreply_free(&r);
	}
}

/* An event from this instance whose message holds text, via GET /admin/v1/events. */
static int
has_event(struct fixture *f, const char *text)
{
	struct hreply r;
	cJSON *e;
	int found = 0;

	admin(f, &r, "GET", "/admin/v1/events?after=0", NULL);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(e, jget(r.json, "events"))
	{
		if (strstr(jstr(e, "message"), text) != NULL &&
		    strcmp(jstr(e, "instance"), "adm-test") == 0 && jget(e, "id") != NULL &&
		    jget(e, "time_ms") != NULL && jget(e, "kind") != NULL &&
		    jget(e, "provider") != NULL)
			found = 1;
	}
	hreply_free(&r);
	return found;
}

static void
test_provider_actions_answer_the_new_state_and_leave_an_event(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	uint64_t before;

	start(f, NULL, NULL);
	admin(f, &r, "POST", "/admin/v1/providers/gpt/drain", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "provider.name"), "gpt");
	assert_string_equal(jstr(r.json, "provider.state.admin"), "drained");
	assert_true(cJSON_IsTrue(jget(r.json, "provider.overridden.admin")));
	assert_true(cJSON_IsFalse(jget(r.json, "provider.usable")));
	for (size_t i = 0; i < nitems(provider_keys); i++) {
		char key[128];

		snprintf(key, sizeof key, "provider.%s", provider_keys[i]);
		assert_non_null(jget(r.json, key));
	}
	hreply_free(&r);
	assert_true(has_event(f, "admin adm-test: drain gpt"));
	/* Drained: the gateway's traffic goes to claude only. */
	before = testkit_sim_requests(&f->kit, 0);
	for (int i = 0; i < 6; i++) {
		char text[32];

		snprintf(text, sizeof text, "drained %d", i);
		assert_int_equal(chat(f, text), 200);
	}
	assert_int_equal(testkit_sim_requests(&f->kit, 0), before);

	admin(f, &r, "POST", "/admin/v1/providers/gpt/disable", NULL);
	assert_string_equal(jstr(r.json, "provider.state.admin"), "disabled");
	hreply_free(&r);
	admin(f, &r, "POST", "/admin/v1/providers/gpt/enable", NULL);
	assert_string_equal(jstr(r.json, "provider.state.admin"), "enabled");
	hreply_free(&r);
	admin(f, &r, "PATCH", "/admin/v1/providers/claude", "{\"priority\": 4, \"weight\": 2.5}");
	assert_int_equal(r.status, 200);
	assert_int_equal(jnum(r.json, "provider.priority"), 4);
	assert_true(jnum(r.json, "provider.weight") == 2.5);
	assert_true(cJSON_IsTrue(jget(r.json, "provider.overridden.priority")));
	assert_true(cJSON_IsTrue(jget(r.json, "provider.overridden.weight")));
	hreply_free(&r);
	assert_true(has_event(f, "admin adm-test: set claude priority 4, weight 2.5"));
	admin(f, &r, "PATCH", "/admin/v1/providers/claude", "{\"weight\": 0.5}");
	assert_true(jnum(r.json, "provider.weight") == 0.5);
	assert_int_equal(jnum(r.json, "provider.priority"), 4);
	hreply_free(&r);
	admin(f, &r, "POST", "/admin/v1/providers/claude/clear-overrides", NULL);
	assert_int_equal(jnum(r.json, "provider.priority"), 1);
	assert_true(jnum(r.json, "provider.weight") == 1);
	assert_true(cJSON_IsFalse(jget(r.json, "provider.overridden.priority")));
	hreply_free(&r);
	assert_true(has_event(f, "admin adm-test: clear-overrides claude"));
	admin(f, &r, "POST", "/admin/v1/providers/gpt/reset", NULL);
	assert_string_equal(jstr(r.json, "provider.state.breaker"), "closed");
	hreply_free(&r);
	assert_true(has_event(f, "admin adm-test: reset gpt"));

	/* A probe's result shows in the snapshot once it is back. */
	admin(f, &r, "POST", "/admin/v1/providers/gpt/probe", NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	for (int waited = 0;; waited += 20) {
		admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
		if (cJSON_IsObject(jget(r.json, "providers.0.probe")))
			break;
		hreply_free(&r);
		if (waited > 5000)
			fail_msg("no probe result in the snapshot after 5 s");
		sleep_ms(20);
	}
	assert_true(cJSON_IsTrue(jget(r.json, "providers.0.probe.ok")));
	assert_true(jnum(r.json, "providers.0.probe.time_ms") > 0);
	assert_true(jnum(r.json, "providers.0.probe.latency_ms") >= 0);
	hreply_free(&r);

	/* The cache: one entry stored, one flushed. */
	assert_int_equal(chat(f, "to be flushed"), 200);
	admin(f, &r, "POST", "/admin/v1/cache/flush", NULL);
	assert_int_equal(r.status, 200);
	assert_true(jnum(r.json, "flushed") >= 1);
	hreply_free(&r);
	assert_true(has_event(f, "admin adm-test: cache flush"));
}

/* A provider whose key variable is unset says which one, from the start. */
static void
test_a_provider_without_its_key_says_which_variable(void **state)
{
	struct fixture *f = *state;
	struct provider_conf *pc = &f->kit.cfg.providers[1];
	struct hreply r;

	free(pc->api_key);
	pc->api_key = NULL;
	pc->api_key_env = xstrdup("LLMDECK_TEST_UNSET_KEY");
	start(f, NULL, NULL);
	admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
	assert_true(cJSON_IsNull(jget(r.json, "providers.0.no_key")));
	assert_string_equal(jstr(r.json, "providers.1.no_key"), "LLMDECK_TEST_UNSET_KEY");
	hreply_free(&r);
}

static void
test_bad_requests_name_the_problem(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	static const struct {
		const char *method, *path, *body;
		long status;
		const char *type, *text;
	} cases[] = {
	    {"POST", "/admin/v1/providers/nosuch/drain", NULL, 404, "not_found", "nosuch"},
	    {"POST", "/admin/v1/providers/gpt/explode", NULL, 404, "not_found", "explode"},
	    {"GET", "/admin/v1/providers/gpt/drain", NULL, 405, "invalid_request_error", "POST"},
	    {"POST", "/admin/v1/snapshot", NULL, 405, "invalid_request_error", "GET"},
	    {"GET", "/admin/v1/nothing", NULL, 404, "not_found", "/admin/v1/nothing"},
	    {"PATCH", "/admin/v1/providers/nosuch", "{\"weight\":1}", 404, "not_found", "nosuch"},
	    {"PATCH", "/admin/v1/providers/gpt", "{\"priority\":-1}", 400, "invalid_request_error",
	        "priority"},
	    {"PATCH", "/admin/v1/providers/gpt", "{\"priority\":1.5}", 400, "invalid_request_error",
	        "priority"},
	    {"PATCH", "/admin/v1/providers/gpt", "{\"weight\":0}", 400, "invalid_request_error",
	        "weight"},
	    {"PATCH", "/admin/v1/providers/gpt", "{\"weight\":\"2\"}", 400, "invalid_request_error",
	        "weight"},
	    {"PATCH", "/admin/v1/providers/gpt", "{\"colour\":\"red\"}", 400,
	        "invalid_request_error", "colour"},
	    {"PATCH", "/admin/v1/providers/gpt", "{}", 400, "invalid_request_error", "nothing"},
	    {"PATCH", "/admin/v1/providers/gpt", "[1]", 400, "invalid_request_error", "object"},
	    {"POST", "/admin/v1/reload", NULL, 400, "invalid_request_error", "reload"},
	    {"GET", "/admin/v1/events?after=x", NULL, 400, "invalid_request_error", "after"},
	};

	start(f, NULL, NULL);
	for (size_t i = 0; i < nitems(cases); i++) {
		admin(f, &r, cases[i].method, cases[i].path, cases[i].body);
		assert_error(&r, cases[i].status, cases[i].type, cases[i].text);
		hreply_free(&r);
	}
	/* A refused PATCH changed nothing, not even half of it. */
	admin(f, &r, "PATCH", "/admin/v1/providers/gpt", "{\"priority\":7,\"weight\":-1}");
	assert_int_equal(r.status, 400);
	hreply_free(&r);
	admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
	assert_int_equal(jnum(r.json, "providers.0.priority"), 1);
	hreply_free(&r);
}

static void
set_token_env(struct gateway_opts *go, void *arg)
{
	(void)go;
	(void)arg;
	setenv("LLMDECK_TEST_ADMIN_TOKEN", "admin-s3cret", 1);
	setenv("LLMDECK_TEST_GW_TOKEN", "gw-s3cret", 1);
	go->token_env = "LLMDECK_TEST_GW_TOKEN";
}

static void
test_the_admin_token_is_required_when_set_and_the_gateway_token_does_not_open_it(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[512];

	start(f, set_token_env, NULL);
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->base);
	hreq(&r, "GET", url, NULL, NULL);
	assert_error(&r, 401, "unauthorized", "admin token");
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, "admin-s3cre");
	assert_error(&r, 401, "unauthorized", "admin token");
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, "gw-s3cret");
	assert_error(&r, 401, "unauthorized", "admin token");
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, "admin-s3cret");
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* The socket (0600 in a 0700 directory) needs none. */
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, "admin-s3cret");
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* A refused action did nothing. */
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/drain", f->base);
	hreq(&r, "POST", url, NULL, "wrong");
	assert_int_equal(r.status, 401);
	hreply_free(&r);
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->base);
	hreq(&r, "GET", url, NULL, "admin-s3cret");
	assert_string_equal(jstr(r.json, "providers.0.state.admin"), "enabled");
	hreply_free(&r);
	unsetenv("LLMDECK_TEST_ADMIN_TOKEN");
	unsetenv("LLMDECK_TEST_GW_TOKEN");
}

static void
listen_anywhere(struct gateway_opts *go, void *arg)
{
	(void)arg;
	setenv("LLMDECK_TEST_GW_TOKEN", "gw-s3cret", 1);
	go->token_env = "LLMDECK_TEST_GW_TOKEN";
	go->listen = "0.0.0.0:0";
}

/* Off loopback without an admin token: refused over TCP, served on the socket. */
static void
test_off_loopback_the_admin_api_needs_its_token(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[512];

	start(f, listen_anywhere, NULL);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/admin/v1/snapshot", gateway_port(f->gw));
	hreq(&r, "GET", url, NULL, "gw-s3cret");
	assert_error(&r, 401, "unauthorized", "LLMDECK_TEST_ADMIN_TOKEN");
	hreply_free(&r);
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	unsetenv("LLMDECK_TEST_GW_TOKEN");
}

/* The Unix socket: 0600 in a 0700 directory, the same API, an instance file for ls. */
static void
test_the_local_socket_serves_everything_and_is_listed(void **state)
{
	struct fixture *f = *state;
	struct gateway_instance *in;
	struct hreply r;
	struct stat st;
	char url[512], path[256], *cause = NULL, *text;
	size_t n;
	cJSON *info;
	FILE *stale;

	start(f, NULL, NULL);
	assert_int_equal(stat(gateway_socket_path(f->gw), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof path, "%s/run/llmdeck", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "instance.socket"), gateway_socket_path(f->gw));
	hreply_free(&r);
	snprintf(url, sizeof url, "%s/health", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	snprintf(url, sizeof url, "%s/v1/chat/completions", f->socket);
	hreq(&r, "POST", url,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"sock\"}]}",
	    NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);

	/* The instance file. */
	snprintf(path, sizeof path, "%s/run/llmdeck/adm-test.json", f->dir);
	text = slurp(path);
	info = cJSON_Parse(text);
	free(text);
	assert_string_equal(jstr(info, "instance"), "adm-test");
	assert_int_equal((long)jnum(info, "pid"), (long)getpid());
	assert_string_equal(jstr(info, "listen"), f->base);
	assert_string_equal(jstr(info, "socket"), gateway_socket_path(f->gw));
	assert_non_null(jstr(info, "database"));
	cJSON_Delete(info);

	/* A dead instance's files are cleaned up by the lister; the live one is listed. */
	snprintf(path, sizeof path, "%s/run/llmdeck/ghost.json", f->dir);
	stale = fopen(path, "w");
	assert_non_null(stale);
	fprintf(stale,
	    "{\"instance\":\"ghost\",\"pid\":999999,\"socket\":\"%s/run/llmdeck/"
	    "ghost.sock\",\"listen\":\"http://127.0.0.1:1\",\"started_ms\":1}\n",
	    f->dir);
	fclose(stale);
	assert_int_equal(gateway_instances(&in, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_string_equal(in[0].id, "adm-test");
	assert_int_equal(in[0].pid, (long)getpid());
	free(in);
	assert_int_not_equal(access(path, F_OK), 0);

	/* A second gateway may not take the same instance id. */
	{
		struct gateway_opts go;
		struct gateway *gw2;

		gateway_opts_init(&go);
		go.listen = "127.0.0.1:0";
		go.instance = "adm-test";
		go.local_socket = 1;
		gw2 = gateway_start(f->r, &go, &cause);
		assert_null(gw2);
		assert_non_null(strstr(cause, "already running"));
		free(cause);
	}

	/* Stopped: both files gone. */
	gateway_stop(f->gw);
	f->gw = NULL;
	snprintf(path, sizeof path, "%s/run/llmdeck/adm-test.json", f->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/run/llmdeck/adm-test.sock", f->dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(gateway_instances(&in, &n, &cause), 0);
	assert_int_equal(n, 0);
	free(in);
}

/* A raw client of the event stream on the Unix socket. */
struct sse {
	int fd;
	struct buf got;
};

static void
sse_open(struct sse *s, const char *sock, const char *query)
{
	struct sockaddr_un sun;
	char req[256];

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock);
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(s->fd, (struct sockaddr *)&sun, sizeof sun), 0);
	snprintf(req, sizeof req,
	    "GET /admin/v1/events/stream%s HTTP/1.1\r\nHost: x\r\nAccept: "
	    "text/event-stream\r\n\r\n",
	    query);
	assert_int_equal(write(s->fd, req, strlen(req)), (ssize_t)strlen(req));
	buf_init(&s->got);
}

/* Read until text has arrived, 3 s at most; 1 if it did. */
static int
sse_wait(struct sse *s, const char *text)
{
	struct pollfd pfd = {s->fd, POLLIN, 0};
	char chunk[4096];
	uint64_t start = clock_mono_ms();

	while (strstr(s->got.data != NULL ? s->got.data : "", text) == NULL) {
		ssize_t n;

		if (clock_mono_ms() - start > 3000)
			return 0;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = read(s->fd, chunk, sizeof chunk)) <= 0)
			return 0;
		buf_append(&s->got, chunk, (size_t)n);
	}
	return 1;
}

static void
test_the_event_stream_is_live_and_resumable(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	struct sse s, again;
	char *cause = NULL, query[64];
	const char *id_line;
	long first_id;

	start(f, NULL, NULL);
	sse_open(&s, gateway_socket_path(f->gw), "");
	assert_true(sse_wait(&s, "text/event-stream"));
	assert_true(sse_wait(&s, ": llmdeck adm-test events"));
	/* An action through the API, and one in the router directly: both arrive. */
	admin(f, &r, "POST", "/admin/v1/providers/gpt/drain", NULL);
	hreply_free(&r);
	assert_true(sse_wait(&s, "admin adm-test: drain gpt"));
	assert_int_equal(router_set_weight(f->r, "claude", 3, &cause), 0);
	assert_true(sse_wait(&s, "claude weight 1.00 -> 3.00"));
	/* Frames: id, event, data (JSON with the instance). */
	id_line = strstr(s.got.data, "id: ");
	assert_non_null(id_line);
	first_id = atol(id_line + 4);
	assert_non_null(strstr(s.got.data, "\nevent: event\ndata: {\"id\":"));
	assert_non_null(strstr(s.got.data, "\"instance\":\"adm-test\""));

	/* Resuming after the first id gives what came after it, at once. */
	snprintf(query, sizeof query, "?after=%ld", first_id);
	sse_open(&again, gateway_socket_path(f->gw), query);
	assert_true(sse_wait(&again, "claude weight 1.00 -> 3.00"));
	assert_null(strstr(again.got.data, "failover: gpt drained"));
	close(again.fd);
	buf_free(&again.got);

	/* A reload's new router: the stream goes on, ids go on. */
	{
		struct router *r2 = new_router(f);
		struct router *old;

		gateway_set_router(f->gw, r2);
		assert_true(event_last_seq(router_events(r2)) >= (uint64_t)first_id + 1);
		event_add(router_events(r2), EV_INFO, NULL, "from the new router");
		assert_true(sse_wait(&s, "from the new router"));
		old = gateway_retired_router(f->gw);
		assert_true(old == f->r);
		router_free(old);
		f->r = r2;
	}
	close(s.fd);
	buf_free(&s.got);
}

struct slow {
	struct fixture *f;
	long status;
};

static void *
slow_chat(void *arg)
{
	struct slow *s = arg;
	char text[64];

	snprintf(text, sizeof text, "slow %p", arg);
	s->status = chat(s->f, text);
	return NULL;
}

/* Requests in flight are answered; new ones and /ready get 503 meanwhile. */
static void
test_a_drain_answers_what_is_in_flight_and_refuses_the_rest(void **state)
{
	struct fixture *f = *state;
	struct slow sl[4];
	pthread_t th[4];
	struct hreply r;
	int left;

	start(f, NULL, NULL);
	testkit_control(&f->kit, 0, "{\"latency_ms\":600}");
	testkit_control(&f->kit, 1, "{\"latency_ms\":600}");
	for (int i = 0; i < 4; i++) {
		sl[i].f = f;
		pthread_create(&th[i], NULL, slow_chat, &sl[i]);
	}
	for (int waited = 0;; waited += 10) {
		admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
		if (jnum(r.json, "gateway.in_flight") == 4)
			break;
		hreply_free(&r);
		if (waited > 5000)
			fail_msg("the 4 requests never were in flight together");
		sleep_ms(10);
	}
	hreply_free(&r);
	left = gateway_drain(f->gw, 0); /* starts the drain; they are still in */
	assert_int_equal(left, 4);
	admin(f, &r, "GET", "/admin/v1/snapshot", NULL);
	assert_true(cJSON_IsTrue(jget(r.json, "instance.draining")));
	hreply_free(&r);
	admin(f, &r, "GET", "/ready", NULL);
	assert_int_equal(r.status, 503);
	assert_string_equal(jstr(r.json, "status"), "draining");
	hreply_free(&r);
	assert_int_equal(chat(f, "too late"), 503);
	assert_int_equal(gateway_drain(f->gw, 10000), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sl[i].status, 200);
	}
}

static void
test_the_access_log_has_a_line_per_request_and_no_prompt(void **state)
{
	struct fixture *f = *state;
	char path[128], *text, *line, *save = NULL;
	int lines = 0;

	snprintf(path, sizeof path, "%s/access.log", f->dir);
	f->log = fopen(path, "w");
	start(f, NULL, NULL);
	assert_int_equal(chat(f, "secret prompt one"), 200);
	assert_int_equal(chat(f, "secret prompt one"), 200); /* a cache hit */
	testkit_control(&f->kit, 0, "{\"error_rate\":1,\"error_status\":400}");
	testkit_control(&f->kit, 1, "{\"error_rate\":1,\"error_status\":400}");
	assert_int_equal(chat(f, "secret prompt two"), 400);
	gateway_stop(f->gw); /* every completion logged */
	f->gw = NULL;
	text = slurp(path);
	assert_null(strstr(text, "secret"));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		static const char *const keys[] = {"time", "instance", "id", "model", "provider",
		    "status", "attempts", "latency_ms", "input_tokens", "output_tokens",
		    "cost_usd"};

		assert_non_null(o);
		for (size_t i = 0; i < nitems(keys); i++)
			assert_non_null(jget(o, keys[i]));
		assert_string_equal(jstr(o, "instance"), "adm-test");
		assert_string_equal(jstr(o, "model"), "test-model");
		if (lines == 0) {
			assert_int_equal(jnum(o, "status"), 200);
			assert_true(jnum(o, "output_tokens") > 0);
			assert_true(jnum(o, "cost_usd") > 0);
			assert_int_equal(jnum(o, "attempts"), 1);
			assert_non_null(strstr(jstr(o, "id"), "chatcmpl-"));
		} else if (lines == 1) {
			assert_true(cJSON_IsTrue(jget(o, "cached")));
		} else {
			assert_int_equal(jnum(o, "status"), 400);
			assert_string_equal(jstr(o, "error"), "bad_request");
		}
		cJSON_Delete(o);
		lines++;
	}
	assert_int_equal(lines, 3);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_snapshot_has_the_whole_contract, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_provider_actions_answer_the_new_state_and_leave_an_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_provider_without_its_key_says_which_variable,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests_name_the_problem, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_the_admin_token_is_required_when_set_and_the_gateway_token_does_not_open_it,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_off_loopback_the_admin_api_needs_its_token, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_the_local_socket_serves_everything_and_is_listed,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_event_stream_is_live_and_resumable, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_drain_answers_what_is_in_flight_and_refuses_the_rest, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_the_access_log_has_a_line_per_request_and_no_prompt, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
