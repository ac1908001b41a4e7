/*
 * test_cross_site.c: no web page can drive the gateway. A browser sends a
 * "simple" request (text/plain, a form, multipart; no custom header) to any
 * address without asking, and DNS rebinding lets a page read a loopback
 * port under its own name. So, over TCP without the admin token, the admin
 * API is read-only and refuses any request with an Origin header or a Host
 * that is not a loopback name (403); every JSON endpoint refuses a body that
 * is not application/json (415). Each refusal changes nothing: the provider
 * stays enabled, no upstream request is made, no ledger row written. The
 * admin token still opens everything over TCP; the Unix socket needs none.
 * A fixture of its own: the gateway, router and database in-process, two
 * simulated providers behind it.
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
#include <unistd.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

#define ADMIN_ENV "LLMDECK_XSITE_ADMIN_TOKEN"
#define CHAT_BODY "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

struct fixture {
	struct testkit kit;
	char dir[64];
	char db[128];
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
	char *cause = NULL, run[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-xsite-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv(ADMIN_ENV);
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&f->kit, "claude", SIM_ANTHROPIC, 1, 1);
	snprintf(f->db, sizeof f->db, "%s/x.db", f->dir);
	if (store_open(&f->st, f->db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	*state = f;
	return 0;
}

static void
start(struct fixture *f, const char *admin_token)
{
	struct router_opts ro;
	struct gateway_opts go;
	char *cause = NULL;

	if (admin_token != NULL)
		setenv(ADMIN_ENV, admin_token, 1);
	else
		unsetenv(ADMIN_ENV);
	memset(&ro, 0, sizeof ro);
	ro.seed = 3;
	ro.no_probes = 1;
	ro.store = f->st;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.store = f->st;
	go.instance = "xsite";
	go.local_socket = 1;
	go.admin_token_env = ADMIN_ENV;
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

	gateway_stop(f->gw);
	router_free(f->r);
	store_close(f->st);
	testkit_free(&f->kit);
	unsetenv(ADMIN_ENV);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A refusal: the status, a one-line JSON error whose message has want. */
static void
assert_refused(struct hreply *r, long status, const char *want)
{
	const char *msg;

	if (r->status != status)
		fail_msg("status %ld, expected %ld: %s", r->status, status,
		    r->body.data != NULL ? r->body.data : "");
	msg = jstr(r->json, "error.message");
	assert_non_null(msg);
	if (strstr(msg, want) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", msg, want);
	assert_null(strchr(r->body.data, '\n'));
}

/* gpt's operator state in the snapshot, read over the socket. */
static void
assert_gpt(struct fixture *f, const char *want)
{
	struct hreply r;
	char url[256];
	cJSON *p;

	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		if (strcmp(jstr(p, "name"), "gpt") == 0)
			assert_string_equal(jstr(p, "state.admin"), want);
	}
	hreply_free(&r);
}

static int64_t
ledger_rows(struct fixture *f)
{
	return sttest_sql_int64(f->db, "SELECT count(*) FROM ledger");
}

static void
test_a_web_page_cannot_switch_a_provider_off(void **state)
{
	struct fixture *f = *state;
	const char *page[] = {"Content-Type: text/plain", "Origin: https://evil.example", NULL};
	const char *plain[] = {"Content-Type: text/plain", NULL};
	const char *json[] = {"Content-Type: application/json", NULL};
	struct hreply r;
	char url[256];

	start(f, NULL);
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/disable", f->base);
	/* The security engineer's request. */
	hreq_headers(&r, "POST", url, "", page);
	assert_refused(&r, 403, "Origin");
	assert_string_equal(jstr(r.json, "error.type"), "forbidden");
	hreply_free(&r);
	hreq_headers(&r, "POST", url, "x", page);
	assert_refused(&r, 403, "Origin");
	hreply_free(&r);
	/* No Origin (curl, a script): still read-only without the token. */
	hreq_headers(&r, "POST", url, NULL, plain);
	assert_refused(&r, 403, "read-only");
	hreply_free(&r);
	hreq_headers(&r, "POST", url, "{}", json);
	assert_refused(&r, 403, "read-only");
	hreply_free(&r);
	snprintf(url, sizeof url, "%s/admin/v1/reload", f->base);
	hreq_headers(&r, "POST", url, NULL, NULL);
	assert_refused(&r, 403, ADMIN_ENV);
	hreply_free(&r);
	assert_gpt(f, "enabled");
}

/* DNS rebinding: the page's name in Host. Loopback names, with or without the port, pass. */
static void
test_a_foreign_host_or_an_origin_cannot_read_the_snapshot(void **state)
{
	struct fixture *f = *state;
	char url[256], host[64];
	const char *attacker[] = {"Host: attacker.example", NULL};
	const char *attacker_port[] = {host, NULL};
	const char *origin[] = {"Origin: http://localhost", NULL};
	const char *fine[][2] = {{"Host: localhost", NULL}, {"Host: 127.0.0.1", NULL},
	    {"Host: [::1]", NULL}, {host, NULL}};
	struct hreply r;

	start(f, NULL);
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->base);
	hreq_headers(&r, "GET", url, NULL, attacker);
	assert_refused(&r, 403, "attacker.example");
	hreply_free(&r);
	snprintf(host, sizeof host, "Host: attacker.example:%d", gateway_port(f->gw));
	hreq_headers(&r, "GET", url, NULL, attacker_port);
	assert_refused(&r, 403, "not a loopback name");
	hreply_free(&r);
	hreq_headers(&r, "GET", url, NULL, origin);
	assert_refused(&r, 403, "Origin");
	hreply_free(&r);
	snprintf(host, sizeof host, "Host: localhost:%d", gateway_port(f->gw));
	for (size_t i = 0; i < nitems(fine); i++) {
		hreq_headers(&r, "GET", url, NULL, fine[i]);
		assert_int_equal(r.status, 200);
		hreply_free(&r);
	}
	/* The events too. */
	snprintf(url, sizeof url, "%s/admin/v1/events", f->base);
	hreq_headers(&r, "GET", url, NULL, attacker);
	assert_int_equal(r.status, 403);
	hreply_free(&r);
}

/* A page's chat request: no preflight for text/plain, so the gateway refuses it. */
static void
test_a_web_page_cannot_send_a_chat_request(void **state)
{
	struct fixture *f = *state;
	static const char *paths[] = {"/v1/chat/completions", "/v1/messages", "/v1/responses",
	    "/v1/embeddings", "/v1/messages/count_tokens"};
	const char *types[][3] = {
	    {"Content-Type: text/plain", "Origin: https://evil.example", NULL},
	    {"Content-Type: text/plain;charset=UTF-8", NULL, NULL},
	    {"Content-Type: application/x-www-form-urlencoded", NULL, NULL},
	    {"Content-Type: multipart/form-data; boundary=x", NULL, NULL},
	    {"Content-Type: application/jsonx", NULL, NULL},
	    {"Content-Type:", NULL, NULL}, /* none at all */
	};
	const char *json[] = {"Content-Type: Application/JSON; charset=utf-8", NULL};
	struct hreply r;
	char url[256];

	start(f, NULL);
	for (size_t p = 0; p < nitems(paths); p++) {
		snprintf(url, sizeof url, "%s%s", f->base, paths[p]);
		for (size_t t = 0; t < nitems(types); t++) {
			hreq_headers(&r, "POST", url, CHAT_BODY, types[t]);
			assert_refused(&r, 415, "application/json");
			/* In the client API's shape. */
			if (p == 1 || p == 4)
				assert_string_equal(jstr(r.json, "type"), "error");
			else
				assert_string_equal(jstr(r.json, "error.type"),
				    "invalid_request_error");
			hreply_free(&r);
		}
	}
	assert_int_equal(testkit_sim_requests(&f->kit, 0), 0);
	assert_int_equal(testkit_sim_requests(&f->kit, 1), 0);
	assert_int_equal(ledger_rows(f), 0);
	/* application/json, any case, with parameters: served. */
	snprintf(url, sizeof url, "%s/v1/chat/completions", f->base);
	hreq_headers(&r, "POST", url, CHAT_BODY, json);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* The admin API's bodies are JSON too (on the socket, where actions are allowed). */
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt", f->socket);
	hreq_headers(&r, "PATCH", url, "{\"priority\":3}", types[1]);
	assert_refused(&r, 415, "application/json");
	hreply_free(&r);
}

/* The admin token opens the API over TCP as before; the socket needs none. */
static void
test_the_token_and_the_socket_still_work(void **state)
{
	struct fixture *f = *state;
	const char *with_token[] = {"Authorization: Bearer adm-xs", NULL};
	const char *wrong[] = {"Authorization: Bearer nope", NULL};
	struct hreply r;
	char url[256];

	start(f, "adm-xs");
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/disable", f->base);
	hreq_headers(&r, "POST", url, NULL, wrong);
	assert_refused(&r, 401, "admin token");
	hreply_free(&r);
	assert_gpt(f, "enabled");
	hreq_headers(&r, "POST", url, NULL, with_token);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "provider.state.admin"), "disabled");
	hreply_free(&r);
	/* The socket, no token, even with one set. */
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/enable", f->socket);
	hreq_headers(&r, "POST", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	assert_gpt(f, "enabled");
}

static void
test_socket_without_a_token_does_everything(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[256];

	start(f, NULL);
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/drain", f->socket);
	hreq(&r, "POST", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	assert_gpt(f, "drained");
	snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/clear-overrides", f->socket);
	hreq(&r, "POST", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
}

static void
test_loopback_host_names(void **state)
{
	static const struct {
		const char *host;
		int ok;
	} cases[] = {
	    {"localhost", 1},
	    {"LOCALHOST:8088", 1},
	    {"127.0.0.1", 1},
	    {"127.0.0.1:1", 1},
	    {"[::1]", 1},
	    {"[::1]:65535", 1},
	    {NULL, 0},
	    {"", 0},
	    {"localhost:", 0},
	    {"localhost:123456", 0},
	    {"localhost:80x", 0},
	    {"localhost.evil.example", 0},
	    {"127.0.0.1.evil.example", 0},
	    {"127.0.0.2", 0},
	    {"::1", 0},
	    {"[::1]x", 0},
	    {"evil.example", 0},
	    {"localhostx", 0},
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		if (gw_loopback_host(cases[i].host) != cases[i].ok)
			fail_msg("%s: expected %d", cases[i].host ? cases[i].host : "(null)",
			    cases[i].ok);
	}
	assert_true(gw_json_content_type("application/json"));
	assert_true(gw_json_content_type("application/json; charset=utf-8"));
	assert_false(gw_json_content_type("application/json-seq"));
	assert_false(gw_json_content_type("text/plain"));
	assert_false(gw_json_content_type(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_web_page_cannot_switch_a_provider_off, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_foreign_host_or_an_origin_cannot_read_the_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_web_page_cannot_send_a_chat_request, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_the_token_and_the_socket_still_work, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_socket_without_a_token_does_everything, setup,
	        teardown),
	    cmocka_unit_test(test_loopback_host_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
