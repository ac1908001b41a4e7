/*
 * test_serve_ops.c: `llmdeck serve` run as operators run it, as processes:
 * two gateways on one database share a drain and its clear within 2 s;
 * SIGHUP applies a new priority and survives a broken file; SIGTERM answers
 * every slow request in flight while refusing new ones, then exits 0;
 * --drain-seconds bounds the wait; `llmdeck ls` lists live instances and
 * cleans up after a killed one; the access log has a line per request.
 * Simulated providers run in this process; the gateways are the real binary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

/* The bound the issue sets on an override reaching every gateway. */
#define PROPAGATION_MS 2000
/* The admin token every serve here takes from the environment. */
#define SERVE_ADMIN_TOKEN "serve-ops-admin"

static struct testkit kit; /* gpt (0, openai) and claude (1, anthropic) */
static char dir[] = "/tmp/llmdeck-serveops-XXXXXX";
static char config_path[128], db_path[128];

/* The config: both providers on the sims, claude's priority as given. */
static void
write_config(int claude_priority, const char *raw)
{
	FILE *f = fopen(config_path, "w");

	assert_non_null(f);
	if (raw != NULL) {
		fputs(raw, f);
	} else {
		fprintf(f,
		    "{\"providers\":[\n"
		    " {\"name\":\"gpt\",\"kind\":\"openai\",\"base_url\":\"%s\","
		    "\"api_key_env\":\"SERVEOPS_GPT_KEY\",\"models\":[\"test-model\"],\"priority\":"
		    "1,"
		    "\"max_retries\":0,\"timeout_seconds\":20},\n"
		    " {\"name\":\"claude\",\"kind\":\"anthropic\",\"base_url\":\"%s\","
		    "\"api_key_env\":\"SERVEOPS_CLAUDE_KEY\",\"models\":[\"test-model\"],"
		    "\"priority\":%d,\"max_retries\":0,\"timeout_seconds\":20}],\n"
		    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
		    "\"output_per_mtok\":2}}}\n",
		    sim_url(kit.sims[0]), sim_url(kit.sims[1]), claude_priority);
	}
	fclose(f);
}

static int
setup(void **state)
{
	char run[160];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	setenv("SERVEOPS_GPT_KEY", "test-key-gpt", 1);
	setenv("SERVEOPS_CLAUDE_KEY", "test-key-claude", 1);
	/* Admin actions over TCP need the token (without it the API is read-only). */
	setenv("LLMDECK_ADMIN_TOKEN", SERVE_ADMIN_TOKEN, 1);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("LLM_PRIMARY_PROVIDER");
	unsetenv("LLM_FALLBACK_PROVIDER");
	testkit_init(&kit);
	testkit_add_provider(&kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&kit, "claude", SIM_ANTHROPIC, 1, 1);
	snprintf(config_path, sizeof config_path, "%s/config.json", dir);
	snprintf(db_path, sizeof db_path, "%s/shared.db", dir);
	write_config(1, NULL);
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

/* Per test: the sims answer at once, the config is the plain one. */
static int
reset(void **state)
{
	(void)state;
	for (size_t i = 0; i < kit.n; i++)
		testkit_control(&kit, i, "{\"latency_ms\":0,\"error_rate\":0}");
	write_config(1, NULL);
	return 0;
}

struct serve {
	pid_t pid;
	char url[128];
	char err[160];
};

/* llmdeck serve --instance NAME on the shared database, plus extra arguments. */
static void
serve_start(struct serve *s, const char *name, const char *const extra[])
{
	const char *args[24] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db_path, "--instance", name};
	size_t n = 10;

	for (; extra != NULL && *extra != NULL; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
}

/* SIGTERM and its exit code (within 15 s). */
static int
serve_stop(struct serve *s)
{
	kill(s->pid, SIGTERM);
	return wait_exit(s->pid, 15000);
}

static void
get(struct hreply *r, const struct serve *s, const char *path)
{
	char url[256];

	snprintf(url, sizeof url, "%s%s", s->url, path);
	hreq(r, "GET", url, NULL, strncmp(path, "/admin/", 7) == 0 ? SERVE_ADMIN_TOKEN : NULL);
}

static void
post(struct hreply *r, const struct serve *s, const char *path)
{
	char url[256];

	snprintf(url, sizeof url, "%s%s", s->url, path);
	hreq(r, "POST", url, NULL, SERVE_ADMIN_TOKEN);
}

/* The provider's object in s's snapshot, detached (caller deletes). */
static cJSON *
provider(const struct serve *s, const char *name)
{
	struct hreply r;
	cJSON *p, *found = NULL;

	get(&r, s, "/admin/v1/snapshot");
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		if (strcmp(jstr(p, "name"), name) == 0)
			found = cJSON_Duplicate(p, 1);
	}
	hreply_free(&r);
	assert_non_null(found);
	return found;
}

/* Poll (bounded) until name's admin state on s is want; the milliseconds it took. */
static long
wait_admin(const struct serve *s, const char *name, const char *want, uint64_t since)
{
	for (;;) {
		cJSON *p = provider(s, name);
		int ok = strcmp(jstr(p, "state.admin"), want) == 0;

		cJSON_Delete(p);
		if (ok)
			return (long)(clock_mono_ms() - since);
		if (clock_mono_ms() - since > PROPAGATION_MS)
			fail_msg("%s on %s: not %s within %d ms", name, s->url, want,
			    PROPAGATION_MS);
		sleep_ms(10);
	}
}

static long
chat(const struct serve *s, const char *text)
{
	struct hreply r;
	char url[256], body[256];
	long status;

	snprintf(url, sizeof url, "%s/v1/chat/completions", s->url);
	snprintf(body, sizeof body,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
	    text);
	hreq(&r, "POST", url, body, NULL);
	status = r.status;
	hreply_free(&r);
	return status;
}

/* An event on s from instance whose message holds text. */
static int
has_event(const struct serve *s, const char *instance, const char *text)
{
	struct hreply r;
	cJSON *e;
	int found = 0;

	get(&r, s, "/admin/v1/events?after=0");
	cJSON_ArrayForEach(e, jget(r.json, "events"))
	{
		if (strcmp(jstr(e, "instance"), instance) == 0 &&
		    strstr(jstr(e, "message"), text) != NULL)
			found = 1;
	}
	hreply_free(&r);
	return found;
}

/* `llmdeck ls --json`: the instance names it lists, comma-separated; its exit code. */
static int
run_ls(char *names, size_t len)
{
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	char cmd[512], out[8192];
	size_t n;
	cJSON *a, *it;
	FILE *p;
	int rc;

	snprintf(cmd, sizeof cmd, "%s ls --json 2>/dev/null", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	names[0] = '\0';
	a = cJSON_Parse(out);
	cJSON_ArrayForEach(it, a)
	{
		snprintf(names + strlen(names), len - strlen(names), "%s%s", names[0] ? "," : "",
		    jstr(it, "instance"));
	}
	cJSON_Delete(a);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void
test_two_gateways_on_one_database_share_a_drain_and_its_clear(void **state)
{
	struct serve a, b;
	struct hreply r;
	char names[256];
	uint64_t before, t0;
	long ms_drain, ms_clear;
	cJSON *p;

	(void)state;
	serve_start(&a, "serve-a", NULL);
	serve_start(&b, "serve-b", NULL);
	assert_int_equal(run_ls(names, sizeof names), 0);
	assert_true(strstr(names, "serve-a") != NULL && strstr(names, "serve-b") != NULL);

	/* POST drain on a: within 2 s neither routes to gpt. */
	t0 = clock_mono_ms();
	post(&r, &a, "/admin/v1/providers/gpt/drain");
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "provider.state.admin"), "drained");
	hreply_free(&r);
	ms_drain = wait_admin(&b, "gpt", "drained", t0);
	before = testkit_sim_requests(&kit, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(chat(&a, "after the drain"), 200);
		assert_int_equal(chat(&b, "after the drain"), 200);
	}
	assert_int_equal(testkit_sim_requests(&kit, 0), before);
	/* b's log has a's action, tagged with a's instance. */
	assert_true(has_event(&b, "serve-a", "admin serve-a: drain gpt"));

	/* clear-overrides on b brings gpt back on both. */
	t0 = clock_mono_ms();
	post(&r, &b, "/admin/v1/providers/gpt/clear-overrides");
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "provider.state.admin"), "enabled");
	hreply_free(&r);
	ms_clear = wait_admin(&a, "gpt", "enabled", t0);
	p = provider(&a, "gpt");
	assert_true(cJSON_IsFalse(jget(p, "overridden.admin")));
	cJSON_Delete(p);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(chat(&a, "after the clear"), 200);
		assert_int_equal(chat(&b, "after the clear"), 200);
	}
	for (int k = 0; k < 2; k++) {
		p = provider(k == 0 ? &a : &b, "gpt");
		assert_true(jnum(p, "window.requests") > 0);
		cJSON_Delete(p);
	}
	print_message("override propagation between two serve processes: drain %ld ms, "
	              "clear %ld ms\n",
	    ms_drain, ms_clear);

	assert_int_equal(serve_stop(&a), 0);
	assert_int_equal(serve_stop(&b), 0);
	assert_int_equal(run_ls(names, sizeof names), 1);
	assert_string_equal(names, "");
}

static void
test_sighup_applies_a_new_priority_and_survives_a_broken_file(void **state)
{
	struct serve a;
	struct hreply r;
	uint64_t before, t0;
	cJSON *p;
	int prio;

	(void)state;
	serve_start(&a, "serve-hup", NULL);
	write_config(5, NULL);
	kill(a.pid, SIGHUP);
	t0 = clock_mono_ms();
	do {
		p = provider(&a, "claude");
		prio = (int)jnum(p, "priority");
		cJSON_Delete(p);
		if (prio != 5 && clock_mono_ms() - t0 > 5000)
			fail_msg("SIGHUP: claude's priority still %d after 5 s", prio);
		if (prio != 5)
			sleep_ms(10);
	} while (prio != 5);
	/* Priority 5 against gpt's 1: everything goes to gpt now. */
	before = testkit_sim_requests(&kit, 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(chat(&a, "after the reload"), 200);
	assert_int_equal(testkit_sim_requests(&kit, 1), before);
	assert_true(has_event(&a, "serve-hup", "config reloaded"));

	/* A broken file: the process stays, the old config too, an event says why. */
	write_config(0, "{\"providers\": [ {\"name\": \"gpt\", ");
	kill(a.pid, SIGHUP);
	t0 = clock_mono_ms();
	while (!has_event(&a, "serve-hup", "reload refused")) {
		if (clock_mono_ms() - t0 > 5000)
			fail_msg("no 'reload refused' event 5 s after SIGHUP with a broken file");
		sleep_ms(20);
	}
	assert_true(has_event(&a, "serve-hup", "config.json"));
	assert_int_equal(kill(a.pid, 0), 0);
	p = provider(&a, "claude");
	assert_int_equal(jnum(p, "priority"), 5);
	cJSON_Delete(p);
	assert_int_equal(chat(&a, "still serving"), 200);

	/* The same through the admin API: a 400 naming the file, then a 200. */
	post(&r, &a, "/admin/v1/reload");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "config.json"));
	hreply_free(&r);
	write_config(2, NULL);
	post(&r, &a, "/admin/v1/reload");
	assert_int_equal(r.status, 200);
	assert_true(cJSON_IsTrue(jget(r.json, "reloaded")));
	hreply_free(&r);
	p = provider(&a, "claude");
	assert_int_equal(jnum(p, "priority"), 2);
	cJSON_Delete(p);
	assert_int_equal(serve_stop(&a), 0);
}

struct slow {
	const struct serve *s;
	int i;
	long status;
};

static void *
slow_chat(void *arg)
{
	struct slow *sl = arg;
	char text[64];

	snprintf(text, sizeof text, "slow request %d", sl->i);
	sl->status = chat(sl->s, text);
	return NULL;
}

static void
test_sigterm_answers_every_slow_request_in_flight(void **state)
{
	const char *extra[] = {"--access-log", NULL, NULL};
	char log_path[160], names[256], *text, *line, *save = NULL;
	struct slow sl[8];
	pthread_t th[8];
	struct serve a;
	struct hreply r;
	uint64_t t0;
	int ready_503 = 0, lines = 0, rc;

	(void)state;
	snprintf(log_path, sizeof log_path, "%s/access.log", dir);
	extra[1] = log_path;
	for (size_t i = 0; i < kit.n; i++)
		testkit_control(&kit, i, "{\"latency_ms\":1500}");
	serve_start(&a, "serve-term", extra);
	for (int i = 0; i < 8; i++) {
		sl[i].s = &a;
		sl[i].i = i;
		pthread_create(&th[i], NULL, slow_chat, &sl[i]);
	}
	t0 = clock_mono_ms();
	for (;;) {
		get(&r, &a, "/admin/v1/snapshot");
		if (jnum(r.json, "gateway.in_flight") == 8)
			break;
		hreply_free(&r);
		if (clock_mono_ms() - t0 > 5000)
			fail_msg("the 8 slow requests were never in flight together");
		sleep_ms(10);
	}
	hreply_free(&r);

	t0 = clock_mono_ms();
	kill(a.pid, SIGTERM);
	/* Draining: /ready says 503 and a new request is refused, at once. */
	while (!ready_503 && clock_mono_ms() - t0 < 1000) {
		get(&r, &a, "/ready");
		ready_503 = r.status == 503 && jstr(r.json, "status") != NULL &&
		    strcmp(jstr(r.json, "status"), "draining") == 0;
		hreply_free(&r);
	}
	assert_true(ready_503);
	assert_int_equal(chat(&a, "too late"), 503);
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sl[i].status, 200);
	}
	rc = wait_exit(a.pid, 10000);
	print_message("SIGTERM with 8 slow requests in flight: 8 of 8 answered, exit %d after %llu "
	              "ms\n",
	    rc, (unsigned long long)(clock_mono_ms() - t0));
	assert_int_equal(rc, 0);
	assert_int_equal(run_ls(names, sizeof names), 1);

	/* A line per request: the 8 answered and the one refused; no prompt text. */
	text = slurp(log_path);
	assert_null(strstr(text, "slow request"));
	assert_null(strstr(text, "too late"));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);

		assert_non_null(o);
		assert_string_equal(jstr(o, "instance"), "serve-term");
		assert_true(jnum(o, "status") == 200 || jnum(o, "status") == 503);
		if (jnum(o, "status") == 200) {
			assert_true(jnum(o, "latency_ms") >= 1500);
			assert_true(jnum(o, "output_tokens") > 0);
			assert_non_null(jstr(o, "provider"));
		}
		cJSON_Delete(o);
		lines++;
	}
	assert_int_equal(lines, 9);
	free(text);
}

static void
test_drain_seconds_bounds_the_wait(void **state)
{
	const char *extra[] = {"--drain-seconds", "1", NULL};
	struct slow sl = {NULL, 0, 0};
	struct serve a;
	struct hreply r;
	pthread_t th;
	uint64_t t0;
	char *err;

	(void)state;
	testkit_control(&kit, 0, "{\"latency_ms\":8000}");
	testkit_control(&kit, 1, "{\"latency_ms\":8000}");
	serve_start(&a, "serve-short", extra);
	sl.s = &a;
	pthread_create(&th, NULL, slow_chat, &sl);
	t0 = clock_mono_ms();
	for (;;) {
		get(&r, &a, "/admin/v1/snapshot");
		if (jnum(r.json, "gateway.in_flight") == 1)
			break;
		hreply_free(&r);
		if (clock_mono_ms() - t0 > 5000)
			fail_msg("the slow request never got in");
		sleep_ms(10);
	}
	hreply_free(&r);
	t0 = clock_mono_ms();
	kill(a.pid, SIGTERM);
	assert_int_equal(wait_exit(a.pid, 6000), 0);
	assert_true(clock_mono_ms() - t0 < 6000);
	pthread_join(th, NULL);
	assert_int_not_equal(sl.status, 200);
	err = slurp(a.err);
	assert_non_null(strstr(err, "1 requests still in flight after 1 s"));
	free(err);
}

static void
test_ls_cleans_up_after_a_killed_instance(void **state)
{
	struct serve a;
	char names[256], path[256];

	(void)state;
	serve_start(&a, "serve-killed", NULL);
	assert_int_equal(run_ls(names, sizeof names), 0);
	assert_string_equal(names, "serve-killed");
	kill(a.pid, SIGKILL);
	waitpid(a.pid, NULL, 0);
	snprintf(path, sizeof path, "%s/run/llmdeck/serve-killed.json", dir);
	assert_int_equal(access(path, F_OK), 0); /* left behind */
	assert_int_equal(run_ls(names, sizeof names), 1);
	assert_string_equal(names, "");
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/run/llmdeck/serve-killed.sock", dir);
	assert_int_not_equal(access(path, F_OK), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_two_gateways_on_one_database_share_a_drain_and_its_clear,
	        reset),
	    cmocka_unit_test_setup(test_sighup_applies_a_new_priority_and_survives_a_broken_file,
	        reset),
	    cmocka_unit_test_setup(test_sigterm_answers_every_slow_request_in_flight, reset),
	    cmocka_unit_test_setup(test_drain_seconds_bounds_the_wait, reset),
	    cmocka_unit_test_setup(test_ls_cleans_up_after_a_killed_instance, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
