/*
 * test_serve_fleet.c: a fleet on PostgreSQL, as operators run it: two
 * `llmdeck serve` processes on one PostgreSQL database (a throwaway cluster
 * this binary starts: pg_testutil.h) share a drain, applied on the other
 * within 250 ms (NOTIFY wakes its poll); `llmdeck ls --db URL` lists both from
 * the instance registry with their admin URLs, and neither once they stopped.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "pg_testutil.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

/* The bound the issue sets on an override reaching every instance on PostgreSQL. */
#define FLEET_PROPAGATION_MS 250

static struct testkit kit; /* gpt (0, openai) and claude (1, anthropic) */
static char dir[] = "/tmp/llmdeck-fleet-XXXXXX";
static char config_path[128];
static struct pgtest *pg;
static char *pg_why, *db_url;

static void
write_config(void)
{
	FILE *f = fopen(config_path, "w");

	assert_non_null(f);
	fprintf(f,
	    "{\"providers\":[\n"
	    " {\"name\":\"gpt\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"FLEET_GPT_KEY\",\"models\":[\"test-model\"],\"priority\":1,"
	    "\"max_retries\":0,\"timeout_seconds\":20},\n"
	    " {\"name\":\"claude\",\"kind\":\"anthropic\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"FLEET_CLAUDE_KEY\",\"models\":[\"test-model\"],"
	    "\"priority\":1,\"max_retries\":0,\"timeout_seconds\":20}],\n"
	    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
	    "\"output_per_mtok\":2}},\n"
	    " \"budget\":{\"daily_usd\":100}}\n",
	    sim_url(kit.sims[0]), sim_url(kit.sims[1]));
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
	setenv("FLEET_GPT_KEY", "test-key-gpt", 1);
	setenv("FLEET_CLAUDE_KEY", "test-key-claude", 1);
	unsetenv("LLMDECK_ADMIN_TOKEN");
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	testkit_init(&kit);
	testkit_add_provider(&kit, "gpt", SIM_OPENAI, 1, 1);
	testkit_add_provider(&kit, "claude", SIM_ANTHROPIC, 1, 1);
	snprintf(config_path, sizeof config_path, "%s/config.json", dir);
	write_config();
	signal(SIGPIPE, SIG_IGN);
	if ((pg = pgtest_start(&pg_why)) != NULL)
		db_url = pgtest_new_db(pg);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	testkit_free(&kit);
	pgtest_stop(pg);
	free(pg_why);
	free(db_url);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct serve {
	pid_t pid;
	char url[128];
	char err[160];
};

/* Over TCP an admin action needs the admin token (the gateway's access model). */
#define FLEET_ADMIN_TOKEN "fleet-admin"

static void
serve_start(struct serve *s, const char *name)
{
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db_url, "--instance", name, NULL};

	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	setenv("LLMDECK_ADMIN_TOKEN", FLEET_ADMIN_TOKEN, 1);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
}

static void
post(struct hreply *r, const struct serve *s, const char *path)
{
	char url[256];

	snprintf(url, sizeof url, "%s%s", s->url, path);
	hreq(r, "POST", url, NULL, FLEET_ADMIN_TOKEN);
}

/* gpt's admin state in s's snapshot. */
static int
gpt_is(const struct serve *s, const char *want)
{
	struct hreply r;
	char url[256];
	cJSON *p;
	int ok = 0;

	snprintf(url, sizeof url, "%s/admin/v1/snapshot", s->url);
	hreq(&r, "GET", url, NULL, FLEET_ADMIN_TOKEN);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		if (strcmp(jstr(p, "name"), "gpt") == 0)
			ok = strcmp(jstr(p, "state.admin"), want) == 0;
	}
	hreply_free(&r);
	return ok;
}

static long
chat(const struct serve *s)
{
	struct hreply r;
	char url[256];
	long status;

	snprintf(url, sizeof url, "%s/v1/chat/completions", s->url);
	hreq(&r, "POST", url,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    NULL);
	status = r.status;
	hreply_free(&r);
	return status;
}

/* `llmdeck ls --db URL --json`: "name=admin_url" of the live ones, comma-separated. */
static int
run_ls_db(char *names, size_t len)
{
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	char cmd[768], out[8192];
	size_t n;
	cJSON *a, *it;
	FILE *p;
	int rc;

	snprintf(cmd, sizeof cmd, "%s ls --db '%s' --json 2>/dev/null", bin, db_url);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	names[0] = '\0';
	a = cJSON_Parse(out);
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsTrue(jget(it, "gone"))) {
			/* Both run one config: the same 16-hex-digit hash. */
			assert_int_equal(strlen(jstr(it, "config_hash")), 16);
			snprintf(names + strlen(names), len - strlen(names), "%s%s=%s",
			    names[0] ? "," : "", jstr(it, "instance"), jstr(it, "admin_url"));
		}
	}
	cJSON_Delete(a);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void
test_two_serve_on_postgres_share_a_drain_within_250ms(void **state)
{
	struct serve a, b;
	struct hreply r;
	char names[512], want[300];
	uint64_t t0;
	long ms;

	(void)state;
	if (db_url == NULL)
		testkit_missing(pg_why != NULL ? pg_why : "PostgreSQL: no database");
	serve_start(&a, "fleet-a");
	serve_start(&b, "fleet-b");
	assert_int_equal(chat(&a), 200);
	assert_int_equal(chat(&b), 200);

	assert_int_equal(run_ls_db(names, sizeof names), 0);
	snprintf(want, sizeof want, "fleet-a=%s", a.url);
	assert_non_null(strstr(names, want));
	snprintf(want, sizeof want, "fleet-b=%s", b.url);
	assert_non_null(strstr(names, want));

	t0 = clock_mono_ms();
	post(&r, &a, "/admin/v1/providers/gpt/drain");
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	while (!gpt_is(&b, "drained")) {
		if (clock_mono_ms() - t0 > 2000)
			fail_msg("the drain did not reach fleet-b within 2 s");
		sleep_ms(2);
	}
	ms = (long)(clock_mono_ms() - t0);
	print_message("drain on fleet-a applied on fleet-b after %ld ms (PostgreSQL NOTIFY)\n", ms);
	assert_true(ms <= FLEET_PROPAGATION_MS);

	post(&r, &b, "/admin/v1/providers/gpt/clear-overrides");
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	t0 = clock_mono_ms();
	while (!gpt_is(&a, "enabled")) {
		if (clock_mono_ms() - t0 > 2000)
			fail_msg("the clear did not reach fleet-a within 2 s");
		sleep_ms(2);
	}

	kill(a.pid, SIGTERM);
	assert_int_equal(wait_exit(a.pid, 15000), 0);
	kill(b.pid, SIGTERM);
	assert_int_equal(wait_exit(b.pid, 15000), 0);
	assert_int_equal(run_ls_db(names, sizeof names), 1);
	assert_string_equal(names, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_serve_on_postgres_share_a_drain_within_250ms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
