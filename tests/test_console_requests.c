/*
 * test_console_requests.c: the live request view and test prompts in the
 * console, in tmux at 80x24: attached to a `llmdeck serve` whose first
 * provider (a simulated one, in this process) answers slowly, R lists the
 * slow request in flight with its model and provider and Enter shows its
 * attempt; `:prompt --provider NAME TEXT` goes through the gateway and shows
 * who answered, the cost and the cache; embedded (--demo), R lists the
 * demo's finished requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "sim/sim.h"
#include "testkit.h"
#include "tmux_testutil.h"
#include "util/util.h"

#define REQ_ADMIN_TOKEN "requests-admin-token"

static struct testkit kit; /* slow (0, openai) and quick (1, anthropic) */
static char dir[] = "/tmp/llmdeck-creq-XXXXXX";
static char config_path[128], db_path[128], run_dir[128];
static pid_t serve_pid;
static char serve_url[128];

/* Traffic: a thread posting to the gateway until told to stop. */
static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	int stop, running;
} load = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *
load_run(void *arg)
{
	char *url = xasprintf("%s/v1/chat/completions", serve_url);
	int stop = 0;

	(void)arg;
	while (!stop) {
		struct buf body;

		testkit_post_json(url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
		    "]}",
		    &body);
		buf_free(&body);
		pthread_mutex_lock(&load.mu);
		stop = load.stop;
		pthread_mutex_unlock(&load.mu);
	}
	free(url);
	return NULL;
}

static int
setup(void **state)
{
	FILE *f;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(run_dir, sizeof run_dir, "%s/run", dir);
	mkdir(run_dir, 0700);
	setenv("XDG_RUNTIME_DIR", run_dir, 1);
	setenv("CREQ_SLOW_KEY", "test-key-slow", 1);
	setenv("CREQ_QUICK_KEY", "test-key-quick", 1);
	setenv("LLMDECK_ADMIN_TOKEN", REQ_ADMIN_TOKEN, 1);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("LLM_PRIMARY_PROVIDER");
	unsetenv("LLM_FALLBACK_PROVIDER");
	testkit_init(&kit);
	testkit_add_provider(&kit, "slow", SIM_OPENAI, 1, 1);
	testkit_add_provider(&kit, "quick", SIM_ANTHROPIC, 2, 1);
	snprintf(config_path, sizeof config_path, "%s/config.json", dir);
	snprintf(db_path, sizeof db_path, "%s/creq.db", dir);
	f = fopen(config_path, "w");
	assert_non_null(f);
	fprintf(f,
	    "{\"providers\":[\n"
	    " {\"name\":\"slow\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"CREQ_SLOW_KEY\",\"models\":[\"test-model\"],\"priority\":1,"
	    "\"max_retries\":0,\"timeout_seconds\":30,\"first_token_timeout_seconds\":30},\n"
	    " {\"name\":\"quick\",\"kind\":\"anthropic\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"CREQ_QUICK_KEY\",\"models\":[\"test-model\"],"
	    "\"priority\":2,\"max_retries\":0,\"timeout_seconds\":30}],\n"
	    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
	    "\"output_per_mtok\":2}}}\n",
	    sim_url(kit.sims[0]), sim_url(kit.sims[1]));
	fclose(f);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	testkit_free(&kit);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
test_setup(void **state)
{
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db_path, "--instance", "gw-r", NULL};
	char err[160];

	if (!tmux_have()) {
		*state = NULL;
		return 0;
	}
	testkit_control(&kit, 0, "{\"latency_ms\":20,\"error_rate\":0,\"fault\":\"none\"}");
	testkit_control(&kit, 1, "{\"latency_ms\":20,\"error_rate\":0,\"fault\":\"none\"}");
	snprintf(err, sizeof err, "%s/serve.err", dir);
	serve_pid = spawn_serve(args, err, serve_url, sizeof serve_url);
	*state = tmux_new("creq-tmux");
	return 0;
}

static int
test_teardown(void **state)
{
	if (load.running) {
		pthread_mutex_lock(&load.mu);
		load.stop = 1;
		pthread_mutex_unlock(&load.mu);
		/* The slow answer in flight ends within its latency. */
		testkit_control(&kit, 0, "{\"latency_ms\":20}");
		pthread_join(load.thread, NULL);
		load.running = 0;
	}
	if (serve_pid > 0) {
		kill(serve_pid, SIGTERM);
		wait_exit(serve_pid, 15000);
		serve_pid = 0;
	}
	tmux_free(*state);
	return 0;
}

#define NEED_TMUX(t) \
	do { \
		if ((t) == NULL) \
			testkit_missing("tmux"); \
	} while (0)

static void
attach(struct tmux *t, const char *target)
{
	char *cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s attach %s; echo EXIT=$?; "
	                      "sleep 120",
	    run_dir, tmux_llmdeck(), target);

	tmux_start(t, 80, 24, cmd);
	free(cmd);
}

/* A request the slow provider holds for 8 s: in the view with its model and provider. */
static void
test_attached_view_shows_slow_request(void **state)
{
	struct tmux *t = *state;

	NEED_TMUX(t);
	testkit_control(&kit, 0, "{\"latency_ms\":8000}");
	load.stop = 0;
	assert_int_equal(pthread_create(&load.thread, NULL, load_run, NULL), 0);
	load.running = 1;
	attach(t, serve_url);
	assert_true(tmux_wait(t, "ATTACHED gw-r", 0));
	tmux_keys(t, 1, "R");
	assert_true(tmux_wait(t, "Requests on gw-r", 0));
	assert_true(tmux_wait(t, "In flight: 1, oldest first", 0));
	/* ID, its age (seconds once it is slow), the model, the provider, attempt 1. */
	assert_true(tmux_wait_regex(t, "[0-9]+ +[0-9.]+s +test-model +slow +1 "));
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait_regex(t, "request [0-9]+: in flight for [0-9.]+m?s, attempt 1"));
	assert_true(tmux_wait_regex(t, "1\\. slow \\(test-model\\) in flight for"));
	tmux_keys(t, 0, "Escape");
	assert_true(tmux_wait(t, "In flight:", 0));
	/* Once answered it is among the recent ones, with its cost. */
	assert_true(tmux_wait_regex(t, "test-model +slow +ok 200 +\\$0\\.[0-9]{4} miss"));
	tmux_keys(t, 0, "Escape");
	assert_true(tmux_wait(t, "Requests on gw-r", 1));
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
}

/* :prompt through the gateway, pinned: the answer names who answered. */
static void
test_attached_prompt_names_who_answered(void **state)
{
	struct tmux *t = *state;

	NEED_TMUX(t);
	attach(t, serve_url);
	assert_true(tmux_wait(t, "ATTACHED gw-r", 0));
	tmux_keys(t, 1, ":prompt --provider quick say hello please");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "on gw-r, pinned to quick: say hello please", 0));
	assert_true(tmux_wait_regex(t,
	    "answered by quick \\(test-model\\) in [0-9]+ ms, cost "
	    "\\$0\\.[0-9]{4}, cache miss"));
	assert_true(tmux_wait_regex(t, "attempt 1: quick \\(test-model\\) ok HTTP 200"));
	/* An unknown provider: the gateway's 400, said in one line. */
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, ":prompt --provider nobody hi");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "FAILED: provider: no provider \"nobody\"", 0));
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
}

/* Embedded (--demo): the router's own requests, finished ones listed. */
static void
test_embedded_view_lists_requests(void **state)
{
	struct tmux *t = *state;
	char *cmd;

	NEED_TMUX(t);
	cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s --demo --db %s/demo.db; echo EXIT=$?; "
	                "sleep 120",
	    run_dir, tmux_llmdeck(), dir);
	tmux_start(t, 80, 24, cmd);
	free(cmd);
	assert_true(tmux_wait(t, "DEMO", 0));
	tmux_keys(t, 1, "R");
	assert_true(tmux_wait(t, "Requests on", 0));
	assert_true(tmux_wait_regex(t, "Recent: [1-9][0-9]*, newest first"));
	assert_true(tmux_wait_regex(t, " ok 200 +\\$0\\.[0-9]{4} (hit|miss)"));
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_attached_view_shows_slow_request, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_attached_prompt_names_who_answered, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_embedded_view_lists_requests, test_setup,
	        test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
