/*
 * test_gateway_keys.c: client keys at the gateway (gateway_keys.c over
 * store/keys.h). While no key exists a request needs none; once one does, a
 * request without a live key is a 401 in its API's shape naming why
 * (missing, unknown, revoked, expired), streamed or not, and never echoes the
 * secret; a rotated key's old secret works for its grace and not after; a
 * key's RPM, model list and budget, and its team's budget, refuse with 429 /
 * 403. The admin API creates a key (its secret once), lists it without
 * secret or hash, revokes it, and refuses to create one over TCP without the
 * admin token. /metrics counts per team; the seed's hints are checked. A
 * stored Response is its key's alone (another key gets 404). The
 * CLI (keys create, ls, revoke; report) runs as the built binary on the same
 * database. A fixture of its own: gateway, router and SQLite in-process, a
 * simulated OpenAI provider behind them, the store's clock under the test's
 * hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/keys.h"
#include "store/store.h"
#include "store_testutil.h"
#include "testkit.h"
#include "util/util.h"

#define ADMIN_ENV "LLMDECK_KEYS_TEST_ADMIN_TOKEN"
#define OPENAI_BODY \
	"{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define OPENAI_STREAM \
	"{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"hi\"}]}"
#define ANTHROPIC_BODY \
	"{\"model\":\"test-model\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"hi\"}]}"
#define ANTHROPIC_STREAM \
	"{\"model\":\"test-model\",\"max_tokens\":16,\"stream\":true,\"messages\":[{\"role\":" \
	"\"user\",\"content\":\"hi\"}]}"

struct fixture {
	struct testkit kit;
	char dir[64];
	char db[128];
	struct store *st;
	struct router *r;
	struct gateway *gw;
	char base[128];
	char socket[160];
	int64_t now_ms; /* the store's clock */
};

static int64_t
test_clock(void *arg)
{
	return ((struct fixture *)arg)->now_ms;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct router_opts ro;
	struct gateway_opts go;
	char *cause = NULL, run[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-keys-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv(ADMIN_ENV);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	snprintf(f->db, sizeof f->db, "%s/k.db", f->dir);
	if (store_open(&f->st, f->db, &cause) != 0)
		fail_msg("store_open: %s", cause);
	f->now_ms = clock_wall_ms();
	store_set_clock(f->st, test_clock, f);
	memset(&ro, 0, sizeof ro);
	ro.seed = 5;
	ro.no_probes = 1;
	ro.store = f->st;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.store = f->st;
	go.instance = "keys";
	go.local_socket = 1;
	go.admin_token_env = ADMIN_ENV;
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	snprintf(f->socket, sizeof f->socket, "unix:%s:", gateway_socket_path(f->gw));
	*state = f;
	return 0;
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
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The keyring rereads the keys now (as its tick would within KEYRING_REFRESH_MS). */
static void
refresh(struct fixture *f)
{
	assert_int_equal(keyring_refresh(router_keyring(f->r), 1), 0);
}

/* A key made in the store: its secret in secret. */
static void
make_key(struct fixture *f, const char *name, const char *team, const struct spend_limits *lim,
    int64_t expires_ms, char secret[KEY_SECRET_SIZE], struct store_key *out)
{
	struct store_key in;
	char *cause = NULL;

	memset(&in, 0, sizeof in);
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.team, sizeof in.team, "%s", team != NULL ? team : "");
	in.expires_ms = expires_ms;
	if (lim != NULL)
		in.lim = *lim;
	if (keys_create(f->st, &in, secret, out, &cause) != 0)
		fail_msg("keys_create: %s", cause);
	refresh(f);
}

/* POST path with body and the key (NULL: none) as "Authorization: Bearer" or (xkey) x-api-key. */
static void
post(struct fixture *f, struct hreply *r, const char *path, const char *body, const char *key,
    int xkey, const char *extra)
{
	char url[256], h1[KEY_SECRET_SIZE + 64];
	const char *hs[5] = {
	    "Content-Type: application/json", "anthropic-version: 2023-06-01", NULL, NULL, NULL};
	int n = 2;

	if (key != NULL) {
		snprintf(h1, sizeof h1, "%s%s", xkey ? "x-api-key: " : "Authorization: Bearer ",
		    key);
		hs[n++] = h1;
	}
	if (extra != NULL)
		hs[n++] = extra;
	snprintf(url, sizeof url, "%s%s", f->base, path);
	hreq_headers(r, "POST", url, body, hs);
}

static const char *const openai_401_missing =
    "{\"error\":{\"message\":\"missing API key: this gateway requires a client key "
    "(Authorization: Bearer llmd-... or x-api-key: llmd-...)\",\"type\":\"invalid_request_error\","
    "\"param\":null,\"code\":\"invalid_api_key\"}}";

static void
assert_body(const struct hreply *r, long status, const char *body)
{
	if (r->status != status || r->body.data == NULL || strcmp(r->body.data, body) != 0)
		fail_msg("got %ld %s\nwant %ld %s", r->status,
		    r->body.data != NULL ? r->body.data : "", status, body);
}

/* A 401 naming want, in OpenAI's or Anthropic's shape, never holding the secret sent. */
static void
assert_401(const struct hreply *r, int anthropic, const char *want, const char *sent)
{
	const char *msg;

	if (r->status != 401)
		fail_msg("status %ld, want 401: %s", r->status, r->body.data);
	if (anthropic) {
		assert_string_equal(jstr(r->json, "type"), "error");
		assert_string_equal(jstr(r->json, "error.type"), "authentication_error");
	} else {
		assert_string_equal(jstr(r->json, "error.code"), "invalid_api_key");
		assert_string_equal(jstr(r->json, "error.type"), "invalid_request_error");
	}
	msg = jstr(r->json, "error.message");
	assert_non_null(msg);
	if (strstr(msg, want) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", msg, want);
	if (sent != NULL && strlen(sent) > 8)
		assert_null(strstr(r->body.data, sent + 5)); /* not even past the "llmd-" */
}

static void
test_no_key_on_the_database_needs_none(void **state)
{
	struct fixture *f = *state;
	struct hreply r;

	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
}

static void
test_once_a_key_exists_every_request_needs_a_live_one(void **state)
{
	struct fixture *f = *state;
	char secret[KEY_SECRET_SIZE], wrong[KEY_SECRET_SIZE];
	struct store_key k;
	struct hreply r;
	const char *paths[] = {"/v1/chat/completions", "/v1/messages"};
	const char *bodies[][2] = {
	    {OPENAI_BODY, OPENAI_STREAM}, {ANTHROPIC_BODY, ANTHROPIC_STREAM}};
	char *cause = NULL;

	make_key(f, "ci-bot", "ml", NULL, 0, secret, &k);
	assert_int_equal(strncmp(secret, KEY_SECRET_PREFIX, 5), 0);
	snprintf(wrong, sizeof wrong, "%s", secret);
	wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
	/* The exact bytes of the OpenAI refusal. */
	post(f, &r, paths[0], OPENAI_BODY, NULL, 0, NULL);
	assert_body(&r, 401, openai_401_missing);
	hreply_free(&r);
	for (int api = 0; api < 2; api++)
		for (int s = 0; s < 2; s++) {
			post(f, &r, paths[api], bodies[api][s], NULL, 0, NULL);
			assert_401(&r, api, "missing API key", NULL);
			hreply_free(&r);
			post(f, &r, paths[api], bodies[api][s], wrong, api, NULL);
			assert_401(&r, api, "unknown API key", wrong);
			hreply_free(&r);
			post(f, &r, paths[api], bodies[api][s], secret, api, NULL);
			assert_int_equal(r.status, 200);
			hreply_free(&r);
		}
	/* The shared token no longer admits once keys exist: a key is needed. Revoked: */
	assert_int_equal(keys_revoke(f->st, k.id, &cause), 0);
	refresh(f);
	for (int api = 0; api < 2; api++)
		for (int s = 0; s < 2; s++) {
			post(f, &r, paths[api], bodies[api][s], secret, api, NULL);
			assert_401(&r, api, "revoked", secret);
			hreply_free(&r);
		}
	/* Expired: a key for one minute, the clock moved on two. */
	make_key(f, "short", NULL, NULL, f->now_ms + 60000, secret, &k);
	post(f, &r, paths[0], OPENAI_BODY, secret, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	f->now_ms += 120000;
	refresh(f);
	for (int api = 0; api < 2; api++) {
		post(f, &r, paths[api], bodies[api][1], secret, 0, NULL);
		assert_401(&r, api, "expired", secret);
		hreply_free(&r);
	}
	/* /health needs no key; /v1/models does. */
	{
		char url[256];

		snprintf(url, sizeof url, "%s/health", f->base);
		hreq(&r, "GET", url, NULL, NULL);
		assert_int_equal(r.status, 200);
		hreply_free(&r);
		snprintf(url, sizeof url, "%s/v1/models", f->base);
		hreq(&r, "GET", url, NULL, NULL);
		assert_401(&r, 0, "missing API key", NULL);
		hreply_free(&r);
	}
}

/* method path [body] with key (NULL: none) as "Authorization: Bearer". */
static void
call(struct fixture *f, struct hreply *r, const char *method, const char *path, const char *body,
    const char *key)
{
	char url[384], h1[KEY_SECRET_SIZE + 64];
	const char *hs[3] = {"Content-Type: application/json", NULL, NULL};

	if (key != NULL) {
		snprintf(h1, sizeof h1, "Authorization: Bearer %s", key);
		hs[1] = h1;
	}
	snprintf(url, sizeof url, "%s%s", f->base, path);
	hreq_headers(r, method, url, body, hs);
}

/* A 404 for id in OpenAI's words, as for an id never stored. */
static void
assert_stored_404(const struct hreply *r, const char *id)
{
	char want[160];

	snprintf(want, sizeof want, "Response with id '%s' not found.", id);
	if (r->status != 404)
		fail_msg("status %ld, want 404: %s", r->status, r->body.data);
	assert_string_equal(jstr(r->json, "error.message"), want);
}

/* Stored Responses are their key's: key A stores; key B gets 404 on GET, input_items and
 * DELETE and a 400 on previous_response_id and item_reference, as for an id never stored;
 * key A reads, continues, references and deletes it. One stored with no key, before any key
 * existed, stays everyone's. */
static void
test_stored_responses_are_their_keys(void **state)
{
	struct fixture *f = *state;
	char sa[KEY_SECRET_SIZE], sb[KEY_SECRET_SIZE];
	char id0[64], id1[64], item[96], path[160], sql[256], *body;
	struct store_key ka, kb;
	struct hreply r;

	/* No key on the database: stored with no owner. */
	call(f, &r, "POST", "/v1/responses", "{\"model\":\"test-model\",\"input\":\"Before keys\"}",
	    NULL);
	assert_int_equal(r.status, 200);
	snprintf(id0, sizeof id0, "%s", jstr(r.json, "id"));
	hreply_free(&r);
	make_key(f, "alice", NULL, NULL, 0, sa, &ka);
	make_key(f, "bob", NULL, NULL, 0, sb, &kb);
	call(f, &r, "POST", "/v1/responses", "{\"model\":\"test-model\",\"input\":\"Mine\"}", sa);
	assert_int_equal(r.status, 200);
	snprintf(id1, sizeof id1, "%s", jstr(r.json, "id"));
	snprintf(item, sizeof item, "%s", jstr(r.json, "output.0.id"));
	hreply_free(&r);
	/* the envelope names its owner; the one from before keys none */
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM responses WHERE body LIKE '%%\"owner\":\"%s\"%%'", ka.id);
	assert_int_equal(sttest_sql_int64(f->db, sql), 2); /* the response and its output item */
	assert_int_equal(sttest_sql_int64(f->db,
	                     "SELECT count(*) FROM responses WHERE body LIKE '%\"owner\"%'"),
	    2);

	/* Bob: as if it did not exist. */
	snprintf(path, sizeof path, "/v1/responses/%s", id1);
	call(f, &r, "GET", path, NULL, sb);
	assert_stored_404(&r, id1);
	hreply_free(&r);
	snprintf(path, sizeof path, "/v1/responses/%s/input_items", id1);
	call(f, &r, "GET", path, NULL, sb);
	assert_stored_404(&r, id1);
	hreply_free(&r);
	body = xasprintf("{\"model\":\"test-model\",\"input\":\"Next\",\"previous_response_id\":"
	                 "\"%s\"}",
	    id1);
	call(f, &r, "POST", "/v1/responses", body, sb);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "previous_response_id");
	assert_non_null(strstr(jstr(r.json, "error.message"), "no stored response"));
	hreply_free(&r);
	{
		char *refb = xasprintf("{\"model\":\"test-model\",\"input\":[{\"type\":"
		                       "\"item_reference\",\"id\":\"%s\"}]}",
		    item);

		call(f, &r, "POST", "/v1/responses", refb, sb);
		assert_int_equal(r.status, 400);
		assert_string_equal(jstr(r.json, "error.param"), "input[0].id");
		hreply_free(&r);
		call(f, &r, "POST", "/v1/responses", refb, sa);
		assert_int_equal(r.status, 200);
		hreply_free(&r);
		free(refb);
	}
	snprintf(path, sizeof path, "/v1/responses/%s", id1);
	call(f, &r, "DELETE", path, NULL, sb);
	assert_stored_404(&r, id1);
	hreply_free(&r);
	/* ...and it is still there for Alice. */
	call(f, &r, "GET", path, NULL, sa);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "id"), id1);
	hreply_free(&r);
	snprintf(path, sizeof path, "/v1/responses/%s/input_items", id1);
	call(f, &r, "GET", path, NULL, sa);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "data.0.content"), "Mine");
	hreply_free(&r);
	call(f, &r, "POST", "/v1/responses", body, sa);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "previous_response_id"), id1);
	hreply_free(&r);
	free(body);
	/* The one from before keys: anyone's. */
	snprintf(path, sizeof path, "/v1/responses/%s", id0);
	call(f, &r, "GET", path, NULL, sb);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* Alice deletes hers; then it is gone for her too. */
	snprintf(path, sizeof path, "/v1/responses/%s", id1);
	call(f, &r, "DELETE", path, NULL, sa);
	assert_int_equal(r.status, 200);
	assert_true(cJSON_IsTrue(jget(r.json, "deleted")));
	hreply_free(&r);
	call(f, &r, "GET", path, NULL, sa);
	assert_stored_404(&r, id1);
	hreply_free(&r);
}

static void
test_a_rotated_key_keeps_its_old_secret_for_the_grace_only(void **state)
{
	struct fixture *f = *state;
	char old[KEY_SECRET_SIZE], fresh[KEY_SECRET_SIZE], *cause = NULL;
	struct store_key k;
	struct hreply r;

	make_key(f, "rotating", NULL, NULL, 0, old, &k);
	assert_int_equal(keys_rotate(f->st, k.id, 60000, fresh, &k, &cause), 0);
	assert_string_not_equal(old, fresh);
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, old, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	post(f, &r, "/v1/messages", ANTHROPIC_BODY, fresh, 1, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	f->now_ms += 61000;
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, old, 0, NULL);
	assert_401(&r, 0, "unknown API key", old);
	hreply_free(&r);
	post(f, &r, "/v1/messages", ANTHROPIC_STREAM, old, 1, NULL);
	assert_401(&r, 1, "unknown API key", old);
	hreply_free(&r);
	post(f, &r, "/v1/chat/completions", OPENAI_STREAM, fresh, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
}

static void
test_a_keys_limits_refuse_with_429_and_403(void **state)
{
	struct fixture *f = *state;
	char secret[KEY_SECRET_SIZE], url[256];
	struct spend_limits lim;
	struct store_key k;
	struct hreply r;
	int ok = 0, refused = 0;

	/* RPM 2: the third request in the minute is a 429. */
	memset(&lim, 0, sizeof lim);
	lim.rpm = 2;
	make_key(f, "slow", "ml", &lim, 0, secret, &k);
	for (int i = 0; i < 3; i++) {
		post(f, &r, i % 2 ? "/v1/messages" : "/v1/chat/completions",
		    i % 2 ? ANTHROPIC_BODY : OPENAI_BODY, secret, i % 2, NULL);
		if (r.status == 200)
			ok++;
		else if (r.status == 429)
			refused++;
		else
			fail_msg("status %ld: %s", r.status, r.body.data);
		hreply_free(&r);
	}
	assert_int_equal(ok, 2);
	assert_int_equal(refused, 1);
	/* A model outside the key's list: 403 naming it, both APIs, streamed too. */
	memset(&lim, 0, sizeof lim);
	snprintf(lim.models, sizeof lim.models, "other-model");
	make_key(f, "narrow", "ml", &lim, 0, secret, &k);
	post(f, &r, "/v1/chat/completions", OPENAI_STREAM, secret, 0, NULL);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(jstr(r.json, "error.message"), "test-model"));
	hreply_free(&r);
	post(f, &r, "/v1/messages", ANTHROPIC_BODY, secret, 1, NULL);
	assert_int_equal(r.status, 403);
	assert_string_equal(jstr(r.json, "error.type"), "permission_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "test-model"));
	hreply_free(&r);
	/* A key's budget: spent, then refused with budget_exceeded. */
	memset(&lim, 0, sizeof lim);
	lim.day_usd = 0.0000001;
	make_key(f, "thrifty", "ops", &lim, 0, secret, &k);
	for (int i = 0; i < 4; i++) {
		post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
		if (r.status == 429)
			break;
		assert_int_equal(r.status, 200);
		hreply_free(&r);
	}
	assert_int_equal(r.status, 429);
	assert_string_equal(jstr(r.json, "error.type"), "budget_exceeded");
	assert_non_null(strstr(jstr(r.json, "error.message"), "thrifty"));
	hreply_free(&r);
	post(f, &r, "/v1/messages", ANTHROPIC_STREAM, secret, 1, NULL);
	assert_int_equal(r.status, 429);
	assert_string_equal(jstr(r.json, "error.type"), "budget_exceeded");
	hreply_free(&r);
	/* /metrics counted them by team. */
	snprintf(url, sizeof url, "%s/metrics", f->base);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data,
	    "llmdeck_team_requests_total{team=\"ml\",outcome=\"ok\"} 2\n"));
	assert_non_null(strstr(r.body.data,
	    "llmdeck_team_refused_total{team=\"ml\",reason=\"rate_limit\"} 1\n"));
	assert_non_null(strstr(r.body.data,
	    "llmdeck_team_refused_total{team=\"ml\",reason=\"forbidden\"} 2\n"));
	assert_non_null(strstr(r.body.data,
	    "llmdeck_team_refused_total{team=\"ops\",reason=\"budget\"} 2\n"));
	hreply_free(&r);
}

static void
test_a_teams_budget_refuses_its_keys(void **state)
{
	struct fixture *f = *state;
	char a[KEY_SECRET_SIZE], b[KEY_SECRET_SIZE], *cause = NULL;
	struct store_team t;
	struct store_key k;
	struct hreply r;

	memset(&t, 0, sizeof t);
	snprintf(t.name, sizeof t.name, "tiny");
	make_key(f, "tiny-a", "tiny", NULL, 0, a, &k);
	make_key(f, "tiny-b", "tiny", NULL, 0, b, &k);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, a, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* The team's day is cut below what a spent (a request reserves its upper bound, so
	 * a budget smaller than one request's refuses it outright): b is refused too. */
	t.lim.day_usd = 0.0000001;
	assert_int_equal(teams_put(f->st, &t, &cause), 0);
	refresh(f);
	post(f, &r, "/v1/messages", ANTHROPIC_BODY, b, 1, NULL);
	assert_int_equal(r.status, 429);
	assert_string_equal(jstr(r.json, "error.type"), "budget_exceeded");
	assert_non_null(strstr(jstr(r.json, "error.message"), "tiny"));
	hreply_free(&r);
	post(f, &r, "/v1/chat/completions", OPENAI_STREAM, b, 0, NULL);
	assert_int_equal(r.status, 429);
	hreply_free(&r);
}

static void
test_hints_are_checked_and_named(void **state)
{
	struct fixture *f = *state;
	struct hreply r;

	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, NULL, 0, "x-llmdeck-quality: best");
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.message"),
	    "header x-llmdeck-quality: expected high, standard or low, got \"best\"");
	hreply_free(&r);
	post(f, &r, "/v1/messages",
	    "{\"model\":\"test-model\",\"max_tokens\":16,\"metadata\":{\"llmdeck_complexity\":"
	    "\"hard\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    NULL, 0, NULL);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "metadata.llmdeck_complexity"));
	hreply_free(&r);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, NULL, 0, "x-llmdeck-complexity: simple");
	assert_int_equal(r.status, 200);
	hreply_free(&r);
}

static void
test_admin_api_creates_lists_and_revokes(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[256], secret[KEY_SECRET_SIZE], id[KEY_ID_SIZE];

	snprintf(url, sizeof url, "%s/admin/v1/keys", f->socket);
	hreq(&r, "POST", url,
	    "{\"name\":\"web\",\"team\":\"front\",\"budget_day_usd\":5,\"rpm\":60,"
	    "\"models\":[\"test-model\"],\"expires_s\":86400}",
	    NULL);
	assert_int_equal(r.status, 201);
	snprintf(secret, sizeof secret, "%s", jstr(r.json, "secret"));
	snprintf(id, sizeof id, "%s", jstr(r.json, "id"));
	assert_int_equal(strncmp(secret, "llmd-", 5), 0);
	assert_string_equal(jstr(r.json, "limits.models.0"), "test-model");
	assert_int_equal((int)jnum(r.json, "limits.rpm"), 60);
	hreply_free(&r);
	/* The list never shows it, nor its hash. */
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "keys.0.name"), "web");
	assert_string_equal(jstr(r.json, "keys.0.state"), "live");
	assert_null(strstr(r.body.data, secret + 5));
	assert_null(strstr(r.body.data, "secret"));
	assert_null(strstr(r.body.data, "hash"));
	hreply_free(&r);
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	/* TCP without the admin token: read-only. */
	snprintf(url, sizeof url, "%s/admin/v1/keys", f->base);
	hreq(&r, "POST", url, "{\"name\":\"sneaky\"}", NULL);
	assert_int_equal(r.status, 403);
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body.data, "sneaky"));
	hreply_free(&r);
	/* Bad fields are named. */
	snprintf(url, sizeof url, "%s/admin/v1/keys", f->socket);
	hreq(&r, "POST", url, "{\"name\":\"x\",\"rpm\":-1}", NULL);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "rpm"));
	hreply_free(&r);
	/* Revoke. */
	snprintf(url, sizeof url, "%s/admin/v1/keys/%s/revoke", f->socket, id);
	hreq(&r, "POST", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "state"), "revoked");
	hreply_free(&r);
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
	assert_401(&r, 0, "revoked", secret);
	hreply_free(&r);
	/* Teams. */
	snprintf(url, sizeof url, "%s/admin/v1/teams/front", f->socket);
	hreq(&r, "PUT", url, "{\"budget_month_usd\":100,\"tpm\":5000}", NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal((int)jnum(r.json, "limits.tpm"), 5000);
	hreply_free(&r);
	/* The events name the key, never its secret. */
	snprintf(url, sizeof url, "%s/admin/v1/events", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_non_null(strstr(r.body.data, "key web ("));
	assert_non_null(strstr(r.body.data, "revoked"));
	assert_null(strstr(r.body.data, secret + 5));
	hreply_free(&r);
}

/* ---- the CLI, as the built binary ---- */

static int
run_cli(struct fixture *f, const char *const args[], char **out, char **err)
{
	char outp[256], errp[256];
	const char *llmdeck = getenv("LLMDECK");
	pid_t pid;
	int status;

	if (llmdeck == NULL)
		testkit_missing("LLMDECK (the built binary; make test sets it)");
	snprintf(outp, sizeof outp, "%s/out", f->dir);
	snprintf(errp, sizeof errp, "%s/err", f->dir);
	pid = fork();
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(o, 1);
		dup2(e, 2);
		execv(llmdeck, (char *const *)args);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	*out = slurp(outp);
	*err = slurp(errp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
test_cli_keys_create_ls_revoke_and_report(void **state)
{
	struct fixture *f = *state;
	const char *bin = getenv("LLMDECK");
	char *out, *err, secret[KEY_SECRET_SIZE], *nl;
	struct hreply r;
	double sum;

	if (bin == NULL)
		testkit_missing("LLMDECK (the built binary; make test sets it)");
	{
		const char *args[] = {bin, "keys", "create", "--name", "cli-key", "--team", "data",
		    "--budget", "5/day", "--budget", "50/month", "--rpm", "100", "--models",
		    "test-model", "--expires", "30d", "--db", f->db, NULL};

		assert_int_equal(run_cli(f, args, &out, &err), 0);
		assert_int_equal(strncmp(out, "llmd-", 5), 0);
		assert_non_null(strstr(err, "will not be shown again"));
		snprintf(secret, sizeof secret, "%s", out);
		if ((nl = strchr(secret, '\n')) != NULL)
			*nl = '\0';
		free(out);
		free(err);
	}
	{
		const char *args[] = {bin, "keys", "ls", "--db", f->db, NULL};

		assert_int_equal(run_cli(f, args, &out, &err), 0);
		assert_non_null(strstr(out, "cli-key"));
		assert_non_null(strstr(out, "data"));
		assert_non_null(strstr(out, "live"));
		assert_null(strstr(out, secret + 5));
		free(out);
		free(err);
	}
	{
		const char *args[] = {
		    bin, "keys", "create", "--name", "x", "--rpm", "lots", "--db", f->db, NULL};

		assert_int_equal(run_cli(f, args, &out, &err), 2);
		assert_non_null(strstr(err, "--rpm \"lots\""));
		assert_null(strchr(err, '\n') == err + strlen(err) - 1 ? NULL : "two lines");
		free(out);
		free(err);
	}
	/* The gateway sees it at its next refresh; a request ledgers under it. */
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	{
		const char *args[] = {bin, "report", "--by", "key", "--json", "--db", f->db, NULL};
		cJSON *o, *row;
		double rows_sum = 0;

		assert_int_equal(run_cli(f, args, &out, &err), 0);
		o = cJSON_Parse(out);
		assert_non_null(o);
		cJSON_ArrayForEach(row, jget(o, "rows")) rows_sum += jnum(row, "cost_usd");
		sum = sttest_sql_double(f->db, "SELECT coalesce(sum(cost_usd),0) FROM ledger");
		assert_true(sum > 0);
		assert_true(fabs(jnum(o, "total.cost_usd") - sum) < 1e-9);
		assert_true(fabs(rows_sum - sum) < 1e-9);
		assert_int_equal((int64_t)jnum(o, "total.requests"),
		    sttest_sql_int64(f->db, "SELECT count(*) FROM ledger"));
		assert_non_null(strstr(out, "cli-key ("));
		cJSON_Delete(o);
		free(out);
		free(err);
	}
	{
		const char *args[] = {bin, "keys", "revoke", "cli-key", "--db", f->db, NULL};

		assert_int_equal(run_cli(f, args, &out, &err), 0);
		assert_non_null(strstr(out, "revoked"));
		free(out);
		free(err);
	}
	refresh(f);
	post(f, &r, "/v1/chat/completions", OPENAI_BODY, secret, 0, NULL);
	assert_401(&r, 0, "revoked", secret);
	hreply_free(&r);
}

/* Embeddings are attributed like chat: the ledger row carries the key and its team. */
static void
test_embeddings_are_attributed(void **state)
{
	struct fixture *f = *state;
	char secret[KEY_SECRET_SIZE], sql[256];
	struct store_key k;
	struct hreply r;

	make_key(f, "embedder", "ml", NULL, 0, secret, &k);
	refresh(f);
	post(f, &r, "/v1/embeddings", "{\"model\":\"test-model\",\"input\":[\"one\",\"two\"]}",
	    secret, 0, NULL);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	snprintf(sql, sizeof sql,
	    "SELECT count(*) FROM ledger WHERE key_id = '%s' AND team = 'ml' AND outcome = 'ok'",
	    k.id);
	assert_int_equal(sttest_sql_int64(f->db, sql), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_embeddings_are_attributed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_key_on_the_database_needs_none, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_once_a_key_exists_every_request_needs_a_live_one,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_rotated_key_keeps_its_old_secret_for_the_grace_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_keys_limits_refuse_with_429_and_403, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_a_teams_budget_refuses_its_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hints_are_checked_and_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_api_creates_lists_and_revokes, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_cli_keys_create_ls_revoke_and_report, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_stored_responses_are_their_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
