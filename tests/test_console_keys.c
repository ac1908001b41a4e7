/*
 * test_console_keys.c: the console's keys view (K, :keys) in tmux at 80x24.
 * A database with a team "ml" (a daily budget), a key "ci-bot" in it and a
 * revoked key "old-bot"; a `llmdeck serve` on it answers a request sent with
 * ci-bot's secret. Attached to that serve, K shows the team and the key with
 * its name, team, spend today (the figure the admin API reports, from the
 * ledger), share, budget left and state, every column label whole; s changes
 * the sort; the revoked key says so. Embedded (the console on the same
 * database), the view reads the store itself and shows the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "sim/sim.h"
#include "store/keys.h"
#include "store/store.h"
#include "testkit.h"
#include "tmux_testutil.h"
#include "util/util.h"

#define CK_ADMIN_TOKEN "keys-view-admin-token"

static struct testkit kit;
static char dir[] = "/tmp/llmdeck-ckeys-XXXXXX";
static char config_path[128], db_path[128], run_dir[128];
static char secret[KEY_SECRET_SIZE];
static pid_t serve_pid;
static char serve_url[128];

static int
setup(void **state)
{
	struct store *st;
	struct store_key in, out;
	struct store_team team;
	char other[KEY_SECRET_SIZE], *cause = NULL;
	FILE *f;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(run_dir, sizeof run_dir, "%s/run", dir);
	mkdir(run_dir, 0700);
	setenv("XDG_RUNTIME_DIR", run_dir, 1);
	setenv("CKEYS_KEY", "test-key-p", 1);
	setenv("LLMDECK_ADMIN_TOKEN", CK_ADMIN_TOKEN, 1);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("LLM_PRIMARY_PROVIDER");
	unsetenv("LLM_FALLBACK_PROVIDER");
	testkit_init(&kit);
	testkit_add_provider(&kit, "p", SIM_OPENAI, 1, 1);
	snprintf(config_path, sizeof config_path, "%s/config.json", dir);
	snprintf(db_path, sizeof db_path, "%s/ckeys.db", dir);
	f = fopen(config_path, "w");
	assert_non_null(f);
	/* Dear tokens, so one request's cost shows in cents. */
	fprintf(f,
	    "{\"providers\":[\n"
	    " {\"name\":\"p\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"CKEYS_KEY\",\"models\":[\"test-model\"],\"priority\":1,"
	    "\"max_retries\":0,\"timeout_seconds\":30}],\n"
	    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":20000,"
	    "\"output_per_mtok\":40000}}}\n",
	    sim_url(kit.sims[0]));
	fclose(f);
	signal(SIGPIPE, SIG_IGN);

	if (store_open(&st, db_path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	memset(&team, 0, sizeof team);
	strlcpy_(team.name, "ml", sizeof team.name);
	team.lim.day_usd = 900;
	if (teams_put(st, &team, &cause) != 0)
		fail_msg("teams_put: %s", cause);
	memset(&in, 0, sizeof in);
	strlcpy_(in.name, "ci-bot", sizeof in.name);
	strlcpy_(in.team, "ml", sizeof in.team);
	in.lim.day_usd = 500;
	if (keys_create(st, &in, secret, &out, &cause) != 0)
		fail_msg("keys_create: %s", cause);
	memset(&in, 0, sizeof in);
	strlcpy_(in.name, "old-bot", sizeof in.name);
	if (keys_create(st, &in, other, &out, &cause) != 0 ||
	    keys_revoke(st, "old-bot", &cause) != 0)
		fail_msg("old-bot: %s", cause);
	store_close(st);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (serve_pid > 0) {
		kill(serve_pid, SIGTERM);
		wait_exit(serve_pid, 15000);
	}
	testkit_free(&kit);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define NEED_TMUX(t) \
	do { \
		if ((t) == NULL) \
			testkit_missing("tmux"); \
	} while (0)

/* Start serve once, send ci-bot's request, and return its spend today as the view
 * prints it ("$1.23"). */
static void
serve_with_traffic(char *spend, size_t len)
{
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db_path, "--instance", "gw-k", NULL};
	char err[160], *url;
	struct hreply r;
	const cJSON *it;
	double day = -1;

	if (serve_pid == 0) {
		snprintf(err, sizeof err, "%s/serve.err", dir);
		serve_pid = spawn_serve(args, err, serve_url, sizeof serve_url);
		url = xasprintf("%s/v1/chat/completions", serve_url);
		hreq(&r, "POST", url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
		    "]}",
		    secret);
		assert_int_equal(r.status, 200);
		hreply_free(&r);
		/* Without a key: refused, so keys are in force. */
		hreq(&r, "POST", url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
		    "]}",
		    NULL);
		assert_int_equal(r.status, 401);
		hreply_free(&r);
		free(url);
	}
	/* The figure the admin API reports: the ledger's. */
	url = xasprintf("%s/admin/v1/keys", serve_url);
	hreq(&r, "GET", url, NULL, CK_ADMIN_TOKEN);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(it, jget(r.json, "keys"))
	{
		if (strcmp(jstr(it, "name"), "ci-bot") == 0)
			day = jnum(it, "spend.day_usd");
	}
	hreply_free(&r);
	free(url);
	assert_true(day > 0.01 && day < 100);
	snprintf(spend, len, "$%.2f", day);
}

/* Escape a "$1.23" for a regular expression. */
static void
re_money(char *out, size_t len, const char *money)
{
	size_t o = 0;

	for (const char *p = money; *p != '\0' && o + 3 < len; p++) {
		if (*p == '$' || *p == '.')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o] = '\0';
}

static void
check_view(struct tmux *t, const char *spend)
{
	char money[32], *re;

	re_money(money, sizeof money, spend);
	/* Every label whole at 80 columns. */
	assert_true(tmux_wait_regex(t,
	    "^ TEAM +KEYS +TODAY +BURN 5m/60m +SHARE +429s +LEFT/DAY +LEFT/MON *$"));
	assert_true(tmux_wait_regex(t,
	    "^ KEY +TEAM +TODAY +BURN 5m/60m +SHARE +429s +LEFT/DAY +LEFT/MON STATE *$"));
	/* The team: one live key, its spend is the key's, 900 a day less it left. */
	re = xasprintf("^ ml +1 key +%s +\\$[0-9.]+/\\$[0-9.]+ +100%% +0 +\\$[0-9.]+ +- *$", money);
	assert_true(tmux_wait_regex(t, re));
	free(re);
	/* The key: its team, spend today, all of the requests, its budget left, live. */
	re = xasprintf("^ ci-bot +ml +%s +\\$[0-9.]+/\\$[0-9.]+ +100%% +0 "
	               "+\\$4[0-9][0-9]\\.[0-9]{2} "
	               "+- +live *$",
	    money);
	assert_true(tmux_wait_regex(t, re));
	free(re);
	assert_true(tmux_wait_regex(t, "^ old-bot +- +\\$0\\.00 .* revoked *$"));
	/* s: the next sort column, said in the title. */
	tmux_keys(t, 1, "s");
	assert_true(tmux_wait(t, "sorted by burn", 0));
	tmux_keys(t, 1, "s");
	assert_true(tmux_wait(t, "sorted by share", 0));
	tmux_keys(t, 0, "Escape");
	assert_true(tmux_wait(t, "sorted by share", 1));
}

/* Attached: GET /admin/v1/keys and /teams through the source. */
static void
test_attached_keys_view(void **state)
{
	struct tmux *t = tmux_have() ? tmux_new("ckeys-a") : NULL;
	char spend[32], *cmd;

	(void)state;
	NEED_TMUX(t);
	serve_with_traffic(spend, sizeof spend);
	cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s attach %s; echo EXIT=$?; sleep 120",
	    run_dir, tmux_llmdeck(), serve_url);
	tmux_start(t, 80, 24, cmd);
	free(cmd);
	assert_true(tmux_wait(t, "ATTACHED gw-k", 0));
	tmux_keys(t, 1, "K");
	assert_true(tmux_wait(t, "Keys on gw-k, sorted by today", 0));
	check_view(t, spend);
	/* :keys opens it too. */
	tmux_keys(t, 1, ":keys");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "Keys on gw-k", 0));
	tmux_keys(t, 1, "q");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	tmux_free(t);
}

/* Embedded: the console on the same database reads the store itself. */
static void
test_embedded_keys_view(void **state)
{
	struct tmux *t = tmux_have() ? tmux_new("ckeys-e") : NULL;
	char spend[32], *cmd;

	(void)state;
	NEED_TMUX(t);
	serve_with_traffic(spend, sizeof spend);
	cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s --config %s --db %s; echo EXIT=$?; "
	                "sleep 120",
	    run_dir, tmux_llmdeck(), config_path, db_path);
	tmux_start(t, 80, 24, cmd);
	free(cmd);
	assert_true(tmux_wait(t, "Providers", 0));
	tmux_keys(t, 1, "K");
	assert_true(tmux_wait(t, "sorted by today", 0));
	check_view(t, spend);
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	tmux_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attached_keys_view),
	    cmocka_unit_test(test_embedded_keys_view),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
