/*
 * test_ask.c: the real binary end to end: `llmdeck sim --config` starts a
 * failing and a healthy provider, `llmdeck ask --json` goes through them.
 * Asserts the JSON printed, the lines on stderr and the exit codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testkit.h"
#include "util/util.h"

static const char *llmdeck;
static char dir[] = "/tmp/llmdeck-ask-XXXXXX";
static pid_t sim_pid;
static int port_bad, port_good;

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Run llmdeck with args; capture stdout and stderr; return the exit code. */
static int
run(const char *const args[], const char *stdin_text, char **out, char **err)
{
	char outp[256], errp[256], inp[256];
	pid_t pid;
	int status;
	FILE *f;
	struct buf b;
	char chunk[4096];
	size_t n;

	snprintf(outp, sizeof outp, "%s/out", dir);
	snprintf(errp, sizeof errp, "%s/err", dir);
	snprintf(inp, sizeof inp, "%s/in", dir);
	write_file(inp, stdin_text != NULL ? stdin_text : "");
	pid = fork();
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int i = open(inp, O_RDONLY);
		dup2(o, 1);
		dup2(e, 2);
		dup2(i, 0);
		execv(llmdeck, (char *const *)args);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	for (int k = 0; k < 2; k++) {
		buf_init(&b);
		f = fopen(k == 0 ? outp : errp, "r");
		assert_non_null(f);
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_append(&b, chunk, n);
		fclose(f);
		*(k == 0 ? out : err) = buf_detach(&b);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int
setup_sims(void **state)
{
	char path[256], line[512];
	int fds[2];
	FILE *f;

	(void)state;
	llmdeck = getenv("LLMDECK");
	if (llmdeck == NULL)
		llmdeck = "build/llmdeck";
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/sims.json", dir);
	write_file(path,
	    "{\"sims\":[\n"
	    " {\"name\":\"bad\",\"protocol\":\"anthropic\",\"listen\":\"127.0.0.1:0\","
	    "  \"key\":\"k-bad\",\"error_rate\":1,\"error_status\":529},\n"
	    " {\"name\":\"good\",\"protocol\":\"openai\",\"listen\":\"127.0.0.1:0\","
	    "  \"key\":\"k-good\"}\n"
	    "]}\n");
	if (pipe(fds) != 0)
		return -1;
	sim_pid = fork();
	if (sim_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(llmdeck, llmdeck, "sim", "--config", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	/* "sim NAME PROTOCOL listening on http://HOST:PORT" */
	while ((port_bad == 0 || port_good == 0) && fgets(line, sizeof line, f) != NULL) {
		char *colon = strrchr(line, ':');
		int port = colon != NULL ? atoi(colon + 1) : 0;
		if (strncmp(line, "sim bad ", 8) == 0)
			port_bad = port;
		else if (strncmp(line, "sim good ", 9) == 0)
			port_good = port;
	}
	fclose(f);
	if (port_bad == 0 || port_good == 0) {
		fprintf(stderr, "could not read the sims' ports\n");
		return -1;
	}
	snprintf(path, sizeof path, "%s/config.json", dir);
	snprintf(line, sizeof line, "%d", port_bad);
	{
		char *cfg = xasprintf("{\"providers\":[\n"
		                      " {\"name\":\"bad\",\"kind\":\"anthropic\",\"base_url\":"
		                      "\"http://127.0.0.1:%d\","
		                      "  "
		                      "\"api_key_env\":\"TEST_BAD_KEY\",\"models\":[\"claude-"
		                      "sonnet\"],\"priority\":1,"
		                      "  \"max_retries\":1,\"timeout_seconds\":10},\n"
		                      " {\"name\":\"good\",\"kind\":\"openai\",\"base_url\":\"http:"
		                      "//127.0.0.1:%d\","
		                      "  "
		                      "\"api_key_env\":\"TEST_GOOD_KEY\",\"models\":[\"claude-"
		                      "sonnet\"],\"priority\":2}\n"
		                      "],\n"
		                      " \"routes\":{\"LSR\":{\"primary\":\"good\",\"fallback\":["
		                      "\"bad\"]}}}\n",
		    port_bad, port_good);
		write_file(path, cfg);
		free(cfg);
	}
	setenv("XDG_STATE_HOME", dir, 1);
	setenv("TEST_BAD_KEY", "k-bad", 1);
	setenv("TEST_GOOD_KEY", "k-good", 1);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("LLM_PRIMARY_PROVIDER");
	unsetenv("LLM_FALLBACK_PROVIDER");
	return 0;
}

static int
teardown_sims(void **state)
{
	char cmd[300];

	(void)state;
	if (sim_pid > 0) {
		kill(sim_pid, SIGTERM);
		waitpid(sim_pid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
config_path(void)
{
	static char path[256];

	snprintf(path, sizeof path, "%s/config.json", dir);
	return path;
}

static void
test_json_answers_from_the_healthy_sim_and_lists_the_failed_attempt_first(void **state)
{
	char *out, *err;
	const char *args[] = {llmdeck, "ask", "--config", config_path(), "--json", "--temperature",
	    "0", "What is 2+2?", NULL};
	cJSON *o, *atts;
	int rc;

	(void)state;
	rc = run(args, NULL, &out, &err);
	assert_int_equal(rc, 0);
	o = cJSON_Parse(out);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "provider")->valuestring, "good");
	assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "claude-sonnet");
	assert_non_null(strstr(cJSON_GetObjectItem(o, "content")->valuestring, "2+2"));
	assert_true(cJSON_GetObjectItem(o, "input_tokens")->valuedouble > 0);
	assert_true(cJSON_GetObjectItem(o, "output_tokens")->valuedouble > 0);
	assert_true(cJSON_GetObjectItem(o, "cost_usd")->valuedouble > 0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "cached")));
	assert_true(cJSON_GetObjectItem(o, "latency_ms")->valuedouble > 0);
	atts = cJSON_GetObjectItem(o, "attempts");
	/* bad once, then good at once (no retry on bad while good stands ready). */
	assert_int_equal(cJSON_GetArraySize(atts), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 0), "provider")
	                        ->valuestring,
	    "bad");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 0), "status")->valueint, 529);
	assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 0), "error")
	                           ->valuestring,
	    "Overloaded"));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 1), "provider")
	                        ->valuestring,
	    "good");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 1), "error")));
	cJSON_Delete(o);
	free(out);
	free(err);
}

static void
test_plain_and_stream_print_the_answer(void **state)
{
	char *out, *err;
	const char *plain[] = {
	    llmdeck, "ask", "--config", config_path(), "--provider", "good", "hello there", NULL};
	const char *stream[] = {
	    llmdeck, "ask", "--config", config_path(), "--route", "LSR", "--stream", "-", NULL};

	(void)state;
	assert_int_equal(run(plain, NULL, &out, &err), 0);
	assert_non_null(strstr(out, "[good]"));
	assert_non_null(strstr(out, "hello there"));
	assert_string_equal(err, "");
	free(out);
	free(err);
	assert_int_equal(run(stream, "from standard input\n", &out, &err), 0);
	assert_non_null(strstr(out, "from standard input"));
	free(out);
	free(err);
}

static void
test_every_attempt_failing_exits_1_with_a_line_per_attempt(void **state)
{
	char *out, *err;
	const char *args[] = {
	    llmdeck, "ask", "--config", config_path(), "--provider", "bad", "hello", NULL};
	int lines = 0;

	(void)state;
	assert_int_equal(run(args, NULL, &out, &err), 1);
	assert_string_equal(out, "");
	for (char *p = err; (p = strstr(p, "attempt ")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 2);
	assert_non_null(strstr(err, "HTTP 529"));
	assert_non_null(strstr(err, "overloaded"));
	free(out);
	free(err);
}

static void
test_usage_and_config_errors_exit_2(void **state)
{
	char *out, *err;
	char bad_cfg[300];
	const char *noprompt[] = {llmdeck, "ask", "--config", config_path(), NULL};
	const char *badtemp[] = {llmdeck, "ask", "--temperature", "hot", "x", NULL};
	const char *badroute[] = {
	    llmdeck, "ask", "--config", config_path(), "--route", "ZZ", "x", NULL};
	const char *badfile[] = {llmdeck, "ask", "--config", bad_cfg, "x", NULL};

	(void)state;
	assert_int_equal(run(noprompt, NULL, &out, &err), 2);
	assert_non_null(strstr(err, "PROMPT"));
	free(out);
	free(err);
	assert_int_equal(run(badtemp, NULL, &out, &err), 2);
	assert_non_null(strstr(err, "--temperature"));
	free(out);
	free(err);
	assert_int_equal(run(badroute, NULL, &out, &err), 2);
	assert_non_null(strstr(err, "ZZ"));
	free(out);
	free(err);
	snprintf(bad_cfg, sizeof bad_cfg, "%s/bad.json", dir);
	write_file(bad_cfg,
	    "{\"providers\":[{\"name\":\"x\",\"kind\":\"anthropic\","
	    "\"base_url\":\"http://127.0.0.1:1\",\"models\":[\"claude-sonnet\"],\"wieght\":1}]}");
	assert_int_equal(run(badfile, NULL, &out, &err), 2);
	assert_non_null(strstr(err, "bad.json"));
	assert_non_null(strstr(err, "wieght"));
	assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
	free(out);
	free(err);
}

static void
test_budget_refusal_exits_3(void **state)
{
	char *out, *err;
	char path[300];
	char *cfg;
	const char *args[] = {llmdeck, "ask", "--config", path, "--db", NULL, "hello", NULL};
	char db[300];

	(void)state;
	snprintf(path, sizeof path, "%s/budget.json", dir);
	snprintf(db, sizeof db, "%s/budget.db", dir);
	args[5] = db;
	cfg = xasprintf("{\"providers\":[{\"name\":\"good\",\"kind\":\"openai\","
	                "\"base_url\":\"http://127.0.0.1:%d\",\"api_key_env\":\"TEST_GOOD_KEY\","
	                "\"models\":[\"claude-sonnet\"]}],\"budget\":{\"daily_usd\":0.000001}}",
	    port_good);
	write_file(path, cfg);
	free(cfg);
	assert_int_equal(run(args, NULL, &out, &err), 3);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "budget"));
	free(out);
	free(err);
}

/* llmdeck serve ledgers what applications send through it, like ask does. */
static void
test_serve_ledgers_gateway_traffic(void **state)
{
	char db[300], line[256], url[300];
	int fds[2];
	pid_t pid;
	FILE *f;
	struct buf body;
	long status = 0;
	sqlite3 *sq;
	sqlite3_stmt *st;
	int rows = -1;

	(void)state;
	snprintf(db, sizeof db, "%s/serve.db", dir);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(llmdeck, llmdeck, "serve", "--listen", "127.0.0.1:0", "--config",
		    config_path(), "--db", db, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	assert_non_null(strstr(line, "listening on http://"));
	*strchr(line, '\n') = '\0';
	snprintf(url, sizeof url, "%s/v1/chat/completions", strstr(line, "http://"));

	status = testkit_post_json(url,
	    "{\"model\":\"LSR\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"through the gateway\"}]}",
	    &body);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body.data, "through the gateway"));
	buf_free(&body);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);

	/* The answer was committed to the ledger before the client had it. */
	assert_int_equal(sqlite3_open_v2(db, &sq, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sq,
	                     "SELECT count(*) FROM ledger WHERE provider = "
	                     "'good' AND route = 'LSR' AND outcome = 'ok' AND cost_usd > 0",
	                     -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		rows = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(sq);
	assert_int_equal(rows, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_json_answers_from_the_healthy_sim_and_lists_the_failed_attempt_first),
	    cmocka_unit_test(test_plain_and_stream_print_the_answer),
	    cmocka_unit_test(test_every_attempt_failing_exits_1_with_a_line_per_attempt),
	    cmocka_unit_test(test_usage_and_config_errors_exit_2),
	    cmocka_unit_test(test_budget_refusal_exits_3),
	    cmocka_unit_test(test_serve_ledgers_gateway_traffic),
	};

	return cmocka_run_group_tests(tests, setup_sims, teardown_sims);
}
