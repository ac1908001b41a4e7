/*
 * test_console_attach.c: `llmdeck attach` on gateways that run as operators
 * run them: `llmdeck serve` processes on one database, simulated providers
 * in this process, traffic from a thread of ours, the console in tmux. It
 * shows the gateway's providers and its live request rate, `:failover NAME`
 * typed there reaches the gateway (read back with GET /admin/v1/snapshot),
 * two gateways make a fleet view, the windowed numbers are the gateway's,
 * and a gateway that dies is shown lost while the console keeps answering.
 * What clients get: a hang shows as slow attempts and a request p99 over 1 s, a
 * SIGTERMed gateway as draining (in a fleet too, with one whose database went away
 * as store-failing), a SIGHUP with another config as drift; the
 * last usable provider wants its name typed, then a banner, and u undoes; a
 * wrong token is said once and not retried; a missing socket is named.
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
#include "tmux_testutil.h"
#include "util/util.h"

/* The admin token the gateways and the console share. */
#define ATTACH_ADMIN_TOKEN "attach-admin-token"

static struct testkit kit; /* gpt (0, openai) and claude (1, anthropic) */
static char dir[] = "/tmp/llmdeck-attach-XXXXXX";
static char config_path[128], db_path[128], run_dir[128];

struct serve {
	pid_t pid;
	char url[128];
	char err[160];
};

/* Every gateway a test started, stopped by its teardown even when it failed. */
static struct serve serves[4];
static size_t n_serves;

/* Traffic: a thread posting to the gateways in turn until told to stop. */
static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	int stop;
	char urls[2][160];
	int n;
} load = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *
load_run(void *arg)
{
	struct buf body;
	int i = 0, stop = 0;

	(void)arg;
	while (!stop) {
		char url[160];

		pthread_mutex_lock(&load.mu);
		snprintf(url, sizeof url, "%s", load.urls[i++ % load.n]);
		stop = load.stop;
		pthread_mutex_unlock(&load.mu);
		if (stop)
			break;
		testkit_post_json(url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}"
		    "]}",
		    &body);
		buf_free(&body);
		sleep_ms(50);
	}
	return NULL;
}

static void
load_start(const struct serve *a, const struct serve *b)
{
	load.stop = 0;
	load.n = 0;
	snprintf(load.urls[load.n++], sizeof load.urls[0], "%s/v1/chat/completions", a->url);
	if (b != NULL)
		snprintf(load.urls[load.n++], sizeof load.urls[0], "%s/v1/chat/completions",
		    b->url);
	assert_int_equal(pthread_create(&load.thread, NULL, load_run, NULL), 0);
}

static void
load_stop(void)
{
	pthread_mutex_lock(&load.mu);
	load.stop = 1;
	pthread_mutex_unlock(&load.mu);
	pthread_join(load.thread, NULL);
	load.n = 0;
}

/* The gateways' config; gpt_priority differs to make one drift after a SIGHUP. */
static void
config_write(int gpt_priority)
{
	FILE *f;

	f = fopen(config_path, "w");
	assert_non_null(f);
	fprintf(f,
	    "{\"providers\":[\n"
	    " {\"name\":\"gpt\",\"kind\":\"openai\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"ATTACH_GPT_KEY\",\"models\":[\"test-model\"],\"priority\":%d,"
	    "\"max_retries\":0,\"timeout_seconds\":20},\n"
	    " {\"name\":\"claude\",\"kind\":\"anthropic\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"ATTACH_CLAUDE_KEY\",\"models\":[\"test-model\"],"
	    "\"priority\":1,\"max_retries\":0,\"timeout_seconds\":20}],\n"
	    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
	    "\"output_per_mtok\":2}}}\n",
	    sim_url(kit.sims[0]), gpt_priority, sim_url(kit.sims[1]));
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(run_dir, sizeof run_dir, "%s/run", dir);
	mkdir(run_dir, 0700);
	setenv("XDG_RUNTIME_DIR", run_dir, 1);
	setenv("ATTACH_GPT_KEY", "test-key-gpt", 1);
	setenv("ATTACH_CLAUDE_KEY", "test-key-claude", 1);
	/* Actions over TCP need the admin token (without it the API is read-only):
	 * the gateways and the console take it from the environment. */
	setenv("LLMDECK_ADMIN_TOKEN", ATTACH_ADMIN_TOKEN, 1);
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
	config_write(1);
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

#define NEED_TMUX(t) \
	do { \
		if ((t) == NULL) \
			testkit_missing("tmux"); \
	} while (0)

/* llmdeck serve --instance NAME on database db. */
static struct serve *
serve_start_db(const char *name, const char *db)
{
	struct serve *s = &serves[n_serves++];
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db, "--instance", name, NULL};

	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
	return s;
}

/* llmdeck serve --instance NAME on the shared database. */
static struct serve *
serve_start(const char *name)
{
	struct serve *s = &serves[n_serves++];
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db_path, "--instance", name, NULL};

	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
	return s;
}

/* How many of s's events (its own and those it read from the database) hold text. */
static int
events_with(const struct serve *s, const char *text)
{
	struct hreply r;
	char url[256];
	cJSON *e;
	int n = 0;

	snprintf(url, sizeof url, "%s/admin/v1/events", s->url);
	hreq(&r, "GET", url, NULL, ATTACH_ADMIN_TOKEN);
	assert_int_equal(r.status, 200);
	cJSON_ArrayForEach(e, jget(r.json, "events"))
	{
		const char *m = jstr(e, "message");
		n += m != NULL && strstr(m, text) != NULL;
	}
	hreply_free(&r);
	return n;
}

/* The overrides cleared (the next test starts from the config's), then SIGTERM. */
static void
serve_stop(struct serve *s)
{
	struct hreply r;
	char url[256];

	if (s->pid <= 0)
		return;
	for (int i = 0; i < 2; i++) {
		snprintf(url, sizeof url, "%s/admin/v1/providers/%s/clear-overrides", s->url,
		    i == 0 ? "gpt" : "claude");
		hreq(&r, "POST", url, "", ATTACH_ADMIN_TOKEN);
		hreply_free(&r);
	}
	kill(s->pid, SIGTERM);
	wait_exit(s->pid, 15000);
	s->pid = 0;
}

/* A gateway gone without a word (kill -9). */
static void
serve_kill(struct serve *s)
{
	kill(s->pid, SIGKILL);
	wait_exit(s->pid, 5000);
	s->pid = 0;
}

/* Per test: a tmux server of its own, the sims healthy, the overrides cleared. */
static int
test_setup(void **state)
{
	if (!tmux_have()) {
		*state = NULL;
		return 0;
	}
	for (size_t i = 0; i < kit.n; i++)
		testkit_control(&kit, i, "{\"latency_ms\":20,\"error_rate\":0,\"fault\":\"none\"}");
	*state = tmux_new("attach-tmux");
	return 0;
}

static int
test_teardown(void **state)
{
	if (load.n > 0 && !load.stop)
		load_stop();
	while (n_serves > 0)
		serve_stop(&serves[--n_serves]);
	tmux_free(*state);
	return 0;
}

/* The console attached to targets (a string of arguments) at w x h. */
static void
attach(struct tmux *t, int w, int h, const char *targets)
{
	char *cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s attach %s; echo EXIT=$?; "
	                      "sleep 120",
	    run_dir, tmux_llmdeck(), targets);

	tmux_start(t, w, h, cmd);
	free(cmd);
}

/* gpt's operator state in s's snapshot, polled until it is want (bounded). */
static int
wait_admin(const struct serve *s, const char *provider, const char *want)
{
	uint64_t end = clock_mono_ms() + 5000;
	char url[256], path[64], got[32] = "";

	snprintf(url, sizeof url, "%s/admin/v1/snapshot", s->url);
	while (clock_mono_ms() < end) {
		struct hreply r;
		cJSON *p;

		hreq(&r, "GET", url, NULL, ATTACH_ADMIN_TOKEN);
		cJSON_ArrayForEach(p, jget(r.json, "providers"))
		{
			if (strcmp(jstr(p, "name"), provider) == 0)
				snprintf(got, sizeof got, "%s", jstr(p, "state.admin"));
		}
		hreply_free(&r);
		if (strcmp(got, want) == 0)
			return 1;
		sleep_ms(100);
	}
	snprintf(path, sizeof path, "%s", provider);
	print_error("%s on %s: admin state \"%s\", wanted \"%s\"\n", path, s->url, got, want);
	return 0;
}

static void
test_attach_shows_gateway_and_fails_over(void **state)
{
	struct tmux *t = *state;
	struct serve *a;

	NEED_TMUX(t);
	a = serve_start("gw-a");
	load_start(a, NULL);
	attach(t, 80, 24, a->url);
	assert_true(tmux_wait(t, "ATTACHED gw-a", 0));
	assert_true(tmux_wait_regex(t, ">gpt +up"));
	assert_true(tmux_wait_regex(t, " claude +up"));
	/* A live request rate: the gateway's traffic, not the console's. */
	assert_true(tmux_wait_regex(t, "req/s ([1-9]|0\\.[1-9])"));
	assert_true(tmux_wait(t, "last 60s", 0));
	/* :failover NAME asks, naming the instance, then reaches the gateway. */
	tmux_keys(t, 1, ":failover gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "failover gpt on every instance: drain a provider", 0));
	tmux_keys(t, 0, "y");
	assert_true(tmux_wait(t, "gpt drained", 0));
	assert_true(wait_admin(a, "gpt", "drained"));
	assert_true(tmux_wait_regex(t, ">gpt +D\\* +drained"));
	/* The gateway's own event for it comes back to the log. */
	assert_true(tmux_wait(t, "admin gw-a: drain gpt", 0));
	tmux_keys(t, 1, ":enable gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(wait_admin(a, "gpt", "enabled"));
	/* A refusal from the API is shown with its words. */
	tmux_keys(t, 1, ":weight gpt 0.5");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "gpt: weight 0.5", 0));
	assert_true(tmux_wait_regex(t, ">gpt .* 0\\.50\\*"));
	/* The cache is the gateway's: flushing it asks, naming the instance. */
	tmux_keys(t, 0, "F");
	assert_true(tmux_wait(t, "flush on gw-a: flush the response cache? (y/n)", 0));
	tmux_keys(t, 0, "y");
	assert_true(tmux_wait(t, "cache flushed: ", 0));
	assert_true(tmux_wait(t, "admin gw-a: cache flush", 0));
	/* A test prompt goes through the gateway (test_console_requests.c has more). */
	tmux_keys(t, 1, ":prompt --provider claude hi");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "answered by claude (test-model)", 0));
	tmux_keys(t, 0, "Escape");
	load_stop();
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(a);
}

/* The header's error rate is the gateway's failed requests over the window; a
 * provider failing every attempt while failover saves the requests shows on its row. */
static void
test_attach_windowed_numbers(void **state)
{
	struct tmux *t = *state;
	struct serve *a;

	NEED_TMUX(t);
	a = serve_start("gw-w");
	testkit_control(&kit, 1, "{\"error_rate\":1,\"error_status\":500}");
	load_start(a, NULL);
	attach(t, 140, 45, a->url);
	assert_true(tmux_wait(t, "ATTACHED gw-w", 0));
	assert_true(tmux_wait_regex(t, " claude .* 100\\.0 "));
	assert_true(tmux_wait_regex(t, "attempts failed [1-9][0-9]*\\.[0-9]%"));
	assert_true(tmux_wait(t, "failed 0.0%", 0));
	assert_true(tmux_wait_regex(t, ">gpt .* 0\\.0 "));
	load_stop();
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(a);
}

/* Two gateways: one table with an INSTANCE column, an aggregated header; a lost
 * one is shown and retried while the console goes on answering keys. */
static void
test_fleet_view(void **state)
{
	struct tmux *t = *state;
	struct serve *a, *b;
	char *targets;

	NEED_TMUX(t);
	a = serve_start("gw-a");
	b = serve_start("gw-b");
	load_start(a, b);
	targets = xasprintf("%s %s", a->url, b->url);
	attach(t, 140, 45, targets);
	free(targets);
	assert_true(tmux_wait(t, "FLEET 2/2 up", 0));
	assert_true(tmux_wait_regex(t, "INST(ANCE)? +PROVIDER"));
	/* Both instances' rows (the cursor sits on whichever row came first). */
	assert_true(tmux_wait_regex(t, "gw-a +>?gpt"));
	assert_true(tmux_wait_regex(t, "gw-b +>?claude"));
	assert_true(tmux_wait_regex(t, "req/s ([1-9]|0\\.[1-9])"));
	/* Each instance's own client figures, and the instances view. */
	assert_true(tmux_wait_regex(t, "gw-a [0-9.]+% p99 [^ ]+ \\| gw-b [0-9.]+% p99 "));
	tmux_keys(t, 1, ":instances");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "Instances (any key closes)", 0));
	assert_true(tmux_wait_regex(t, "gw-a +up"));
	assert_true(tmux_wait_regex(t,
	    "pid [0-9]+  host [^ ]+  version [^ ]+  up [0-9]+m[0-9]+s  "
	    "config [0-9a-f]{16}  admin http://127"));
	assert_true(tmux_wait(t, "DRIFT", 1));
	tmux_keys(t, 0, "Escape");
	assert_true(tmux_wait(t, "Instances (any key closes)", 1));
	/* gw-a reloads an edited config, gw-b does not: drift shows, and goes when they agree. */
	config_write(2);
	kill(a->pid, SIGHUP);
	assert_true(tmux_wait(t, "DRIFT", 0));
	config_write(1);
	kill(a->pid, SIGHUP);
	assert_true(tmux_wait(t, "DRIFT", 1));
	/* A name alone acts on every instance that has it. */
	tmux_keys(t, 1, ":failover gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "failover gpt on every instance on the database (sent once, via",
	    0));
	tmux_keys(t, 0, "y");
	assert_true(wait_admin(a, "gpt", "drained"));
	assert_true(wait_admin(b, "gpt", "drained"));
	/* Stored once, so said once: each sees the one event (its own or the other's). */
	{
		uint64_t end = clock_mono_ms() + 3000;
		while ((events_with(a, "gpt drained") < 1 || events_with(b, "gpt drained") < 1) &&
		    clock_mono_ms() < end)
			sleep_ms(50);
		assert_int_equal(events_with(a, "gpt drained"), 1);
		assert_int_equal(events_with(b, "gpt drained"), 1);
	}
	/* NAME@INSTANCE names one. */
	tmux_keys(t, 1, ":enable gpt@gw-b");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "gw-b: gpt enabled: it takes traffic again (gw-b only)", 0));
	assert_true(wait_admin(b, "gpt", "enabled"));
	/* u takes it back as it was done, on gw-b only (sent fleet-wide, gw-b's own
	 * "enabled" row would outrank it). */
	tmux_keys(t, 0, "u");
	assert_true(wait_admin(b, "gpt", "drained"));
	assert_true(wait_admin(a, "gpt", "drained"));
	tmux_keys(t, 1, ":filter undo"); /* the log may have moved on under load */
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "undo enable gpt@gw-b: back to drained", 0));
	tmux_keys(t, 1, ":filter off");
	tmux_keys(t, 0, "Enter");
	/* gw-b dies: lost, retried, and the console still answers. */
	load_stop();
	serve_kill(b);
	assert_true(tmux_wait(t, "FLEET 1/2 up", 0));
	assert_true(tmux_wait(t, "connection to gw-b", 0));
	assert_true(tmux_wait_regex(t, "retry in [0-9]+s"));
	assert_true(tmux_wait_regex(t, "gw-b +>?gpt .*stale"));
	tmux_keys(t, 0, "?");
	assert_true(tmux_wait(t, "Keys, commands", 0));
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(a);
}

/* A provider that hangs looks healthy by its finished attempts: the screen shows its slow
 * attempts in flight and the request p99 clients wait, within 5 s. */
static void
test_attach_hang_shows_what_clients_wait(void **state)
{
	struct tmux *t = *state;
	struct serve *a;
	uint64_t t0;

	NEED_TMUX(t);
	a = serve_start("gw-h");
	load_start(a, NULL);
	attach(t, 160, 48, a->url);
	assert_true(tmux_wait(t, "ATTACHED gw-h", 0));
	assert_true(tmux_wait_regex(t, "answered 100\\.0%  p50 [0-9]+ms p99 [0-9]+ms"));
	testkit_control(&kit, 1, "{\"fault\":\"hang\"}");
	t0 = clock_mono_ms();
	assert_true(tmux_wait_regex(t, " claude +slow [1-9]"));
	assert_true(tmux_wait_regex(t, "p99 [0-9.]+s "));
	assert_true(clock_mono_ms() - t0 < 5000 + 2000 /* the load may wait for gpt first */);
	/* SIGTERM: the gateway drains (its hung request holds it open) and says so. */
	kill(a->pid, SIGTERM);
	assert_true(tmux_wait(t, "DRAINING gw-h", 0));
	/* Its refusals are what clients get: they count as not answered. */
	for (int i = 0; i < 3; i++) {
		struct buf body;
		char *url = xasprintf("%s/v1/chat/completions", a->url);
		testkit_post_json(url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"hi\"}]}",
		    &body);
		buf_free(&body);
		free(url);
	}
	assert_true(tmux_wait_regex(t, "answered [0-9]{1,2}\\.[0-9]%"));
	tmux_keys(t, 1, ":instances");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait_regex(t, "gw-h +draining"));
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	/* The hung request ends with its gateway. */
	serve_kill(a);
	load_stop();
}

/* Instances as they are, in a fleet at 80x24: one whose database went away shows as
 * store-failing (header, fleet line, :instances with the reason); a SIGTERMed one as
 * draining while a request holds it open, and its 503s count as not answered. */
static void
test_attach_fleet_store_failing_and_draining(void **state)
{
	struct tmux *t = *state;
	struct serve *a, *b;
	char *own, *targets, *url;
	struct buf body;

	NEED_TMUX(t);
	own = xasprintf("%s/own.db", dir);
	a = serve_start_db("gw-s", own);
	b = serve_start("gw-u");
	targets = xasprintf("%s %s", a->url, b->url);
	attach(t, 80, 24, targets);
	free(targets);
	assert_true(tmux_wait(t, "FLEET 2/2 up", 0));
	/* gw-s's database is deleted: its next ledger row goes to the spool. */
	for (int i = 0; i < 3; i++) {
		char *p = xasprintf("%s%s", own, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(p);
		free(p);
	}
	url = xasprintf("%s/v1/chat/completions", a->url);
	testkit_post_json(url,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    &body);
	buf_free(&body);
	free(url);
	assert_true(tmux_wait(t, "STORE FAILING gw-s", 0));
	assert_true(tmux_wait_regex(t, "gw-s store-failing [0-9.]+% p99"));
	tmux_keys(t, 1, ":instances");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait_regex(t, "gw-s +store-failing"));
	assert_true(tmux_wait_regex(t, "store: [a-z]"));
	tmux_keys(t, 0, "Escape");
	/* gw-u: a request that hangs holds it open once SIGTERMed. */
	for (size_t i = 0; i < kit.n; i++)
		testkit_control(&kit, i, "{\"fault\":\"hang\"}");
	load_start(b, NULL);
	{
		/* Its first request is in the gateway (requests.in_flight), bounded. */
		uint64_t end = clock_mono_ms() + 5000;
		double fly = 0;
		char *snap = xasprintf("%s/admin/v1/snapshot", b->url);
		while (fly < 1 && clock_mono_ms() < end) {
			struct hreply r;
			hreq(&r, "GET", snap, NULL, ATTACH_ADMIN_TOKEN);
			fly = jnum(r.json, "requests.in_flight");
			hreply_free(&r);
			if (fly < 1)
				sleep_ms(20);
		}
		free(snap);
		assert_true(fly >= 1);
	}
	kill(b->pid, SIGTERM);
	assert_true(tmux_wait(t, "FLEET 2/2 up, 1 draining", 0));
	assert_true(tmux_wait_regex(t, "gw-u draining "));
	url = xasprintf("%s/v1/chat/completions", b->url);
	for (int i = 0; i < 3; i++) {
		testkit_post_json(url,
		    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"hi\"}]}",
		    &body);
		buf_free(&body);
	}
	free(url);
	assert_true(tmux_wait_regex(t, "gw-u draining [0-9]{1,2}\\.[0-9]% p99"));
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_kill(b);
	load_stop();
	free(own);
}

/* Draining the last usable provider of a model wants its name typed and says requests
 * will fail; then a banner says the model has none and why; u takes each step back. */
static void
test_attach_last_provider_banner_and_undo(void **state)
{
	struct tmux *t = *state;
	struct serve *a;

	NEED_TMUX(t);
	a = serve_start("gw-o");
	attach(t, 80, 24, a->url);
	assert_true(tmux_wait(t, "ATTACHED gw-o", 0));
	assert_true(tmux_wait_regex(t, " claude +up"));
	tmux_keys(t, 1, ":disable claude");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "(y/n)", 0));
	tmux_keys(t, 0, "y");
	assert_true(wait_admin(a, "claude", "disabled"));
	/* gpt is the last one: a y does not do. */
	tmux_keys(t, 1, ":failover gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "leaves no usable provider for test-model", 0));
	assert_true(tmux_wait(t, "will FAIL (503)", 0));
	tmux_keys(t, 0, "y");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "cancelled: failover gpt", 0));
	assert_true(wait_admin(a, "gpt", "enabled"));
	tmux_keys(t, 1, ":failover gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "Type gpt and Enter", 0));
	tmux_keys(t, 1, "gpt");
	tmux_keys(t, 0, "Enter");
	assert_true(wait_admin(a, "gpt", "drained"));
	assert_true(tmux_wait(t,
	    "no usable provider for model test-model: gpt drained, claude "
	    "disabled",
	    0));
	/* u: gpt back as it was, then claude; the log says so. */
	tmux_keys(t, 0, "u");
	assert_true(wait_admin(a, "gpt", "enabled"));
	assert_true(tmux_wait(t, "no usable provider", 1));
	assert_true(tmux_wait(t, "undo drain gpt: back to enabled", 0));
	tmux_keys(t, 0, "u");
	assert_true(wait_admin(a, "claude", "enabled"));
	assert_true(tmux_wait(t, "undo disable claude: back to enabled", 0));
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(a);
}

/* A wrong token is not a network outage: said once, not retried until :token changes it. */
static void
test_attach_wrong_token(void **state)
{
	struct tmux *t = *state;
	struct serve *a;
	char *cmd;

	NEED_TMUX(t);
	setenv("LLMDECK_ADMIN_TOKEN", "right-token", 1);
	a = serve_start("gw-t");
	setenv("LLMDECK_ADMIN_TOKEN", ATTACH_ADMIN_TOKEN, 1);
	cmd = xasprintf("XDG_RUNTIME_DIR=%s LANG=C.UTF-8 LLMDECK_ADMIN_TOKEN=wrong %s attach %s; "
	                "echo EXIT=$?; sleep 120",
	    run_dir, tmux_llmdeck(), a->url);
	tmux_start(t, 80, 24, cmd);
	free(cmd);
	assert_true(tmux_wait(t, "401: admin token rejected; not retrying until it", 0));
	assert_true(tmux_wait(t, "retry in", 1));
	tmux_keys(t, 1, ":token right-token");
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t, "ATTACHED gw-t", 0));
	assert_true(tmux_wait_regex(t, ">gpt +up"));
	/* Up does not bring the token back. */
	tmux_keys(t, 1, ":");
	tmux_keys(t, 0, "Up");
	assert_true(tmux_wait(t, "right-token", 1));
	tmux_keys(t, 0, "Escape");
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_kill(a);
}

/* A socket that is not there is named, not "localhost port 80". */
static void
test_attach_missing_socket(void **state)
{
	struct tmux *t = *state;
	char *path;

	NEED_TMUX(t);
	path = xasprintf("%s/nosuch.sock", dir);
	attach(t, 80, 24, path);
	free(path);
	assert_true(tmux_wait(t, "nosuch.sock: No such file or directory", 0));
	assert_true(tmux_wait(t, "localhost port 80", 1));
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
}

/* gpt's numbers in s's snapshot: the drill's fault ("" none) and its attempts so far. */
static void
gpt_drill(const struct serve *s, char *fault, size_t len, double *attempts)
{
	struct hreply r;
	char url[256];
	cJSON *p;

	snprintf(url, sizeof url, "%s/admin/v1/snapshot", s->url);
	hreq(&r, "GET", url, NULL, ATTACH_ADMIN_TOKEN);
	fault[0] = '\0';
	*attempts = 0;
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		if (strcmp(jstr(p, "name"), "gpt") != 0)
			continue;
		const char *f = jstr(p, "drill.fault");
		snprintf(fault, len, "%s", f != NULL ? f : "");
		*attempts = jnum(p, "totals.requests");
	}
	hreply_free(&r);
}

/* A drill started from one console runs inside both gateways (gpt's server sees none of
 * it), shows with ! and its time left on a second console, saves every request by
 * failover, ends by itself, and is in the events. */
static void
test_attach_drill_in_gateway(void **state)
{
	struct tmux *t = *state, *t2;
	struct serve *a, *b;
	struct sim_stats st0, st1;
	char *targets, fault[16];
	double g0 = 0, g1 = 0;
	uint64_t end, t0;

	NEED_TMUX(t);
	a = serve_start("gw-d");
	b = serve_start("gw-e");
	load_start(a, b);
	targets = xasprintf("%s %s", a->url, b->url);
	attach(t, 160, 48, targets);
	t2 = tmux_new("attach-tmux2");
	attach(t2, 80, 24, targets);
	free(targets);
	assert_true(tmux_wait(t, "FLEET 2/2 up", 0));
	assert_true(tmux_wait(t2, "FLEET 2/2 up", 0));
	tmux_keys(t, 1, ":drill gpt 500 1 6");
	tmux_keys(t, 0, "Enter");
	/* One drill row for the database both share, sent through one of them. */
	assert_true(tmux_wait(t,
	    "drill gpt 500 1 6 on every instance on the database (sent once, via gw-d): 100% "
	    "of gpt's attempts fail with 500 for 6 s (made in the gateway)? (y/n)",
	    0));
	tmux_keys(t, 0, "y");
	t0 = clock_mono_ms();
	/* Both instances' rows show it, with its time left, within a second. */
	assert_true(tmux_wait_regex(t, "gw-d +>?gpt +[DX ]?[*@ ]?! +drill 500 [0-9]s"));
	assert_true(tmux_wait_regex(t, "gw-e +>?gpt +[DX ]?[*@ ]?! +drill 500 [0-9]s"));
	print_message("drill on both instances' rows %llu ms after y\n",
	    (unsigned long long)(clock_mono_ms() - t0));
	assert_true(clock_mono_ms() - t0 < 1000 + 200 /* a capture's poll */);
	end = clock_mono_ms() + 3000;
	do {
		gpt_drill(b, fault, sizeof fault, &g0);
	} while (strcmp(fault, "500") != 0 && clock_mono_ms() < end);
	assert_string_equal(fault, "500");
	gpt_drill(a, fault, sizeof fault, &g0);
	assert_string_equal(fault, "500");
	/* Inside the gateway: gpt's own server sees none of the drilled attempts. */
	sim_get_stats(kit.sims[0], &st0);
	end = clock_mono_ms() + 5000;
	do {
		sleep_ms(200);
		gpt_drill(a, fault, sizeof fault, &g1);
	} while (g1 < g0 + 2 && clock_mono_ms() < end);
	sim_get_stats(kit.sims[0], &st1);
	assert_true(g1 >= g0 + 2);
	assert_true(st1.requests - st0.requests < (uint64_t)(g1 - g0));
	/* Both consoles show it with its time left; clients got answers (failover). */
	assert_true(tmux_wait_regex(t, "gw-d +>?gpt +[DX ]?[*@ ]?! +drill 500 [0-9]s"));
	assert_true(tmux_wait_regex(t2, "gpt +[DX ]?[*@ ]?! +(drill )?500 [0-9]s"));
	assert_true(tmux_wait(t, "answered 100.0%", 0));
	tmux_keys(t, 1, ":filter drill"); /* the log may have moved on under load */
	tmux_keys(t, 0, "Enter");
	assert_true(tmux_wait(t,
	    "drill 500 on gpt: 100% of attempts for 6 s on every instance by admin gw-d", 0));
	/* It ends by itself, and says so: the row loses its mark (the event log keeps
	 * the drill's lines, so the words alone are not gone). */
	assert_true(tmux_wait_regex(t, "gw-d +>?gpt +[DX ]?[*@ ]? +(up|OPEN|half)"));
	assert_true(tmux_wait(t, "drill on gpt ended (its time was up)", 0));
	gpt_drill(a, fault, sizeof fault, &g1);
	assert_string_equal(fault, "");
	/* One start, one end on each: not one start per instance attached. */
	assert_int_equal(events_with(a, "drill 500 on gpt: 100% of attempts for 6 s"), 1);
	assert_int_equal(events_with(b, "drill 500 on gpt: 100% of attempts for 6 s"), 1);
	/* The API: a hang on one gateway only (its instance named: the two share a database,
	 * and a drill not scoped runs on both); a fault it cannot make is refused, naming
	 * those it can. */
	{
		struct hreply r;
		char url[256];

		snprintf(url, sizeof url, "%s/admin/v1/providers/gpt/drill", a->url);
		hreq(&r, "POST", url, "{\"fault\":\"oops\",\"duration_s\":3}", ATTACH_ADMIN_TOKEN);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(r.body.data,
		    "500, 429, 503, 529, hang, slow, drop, malformed, none"));
		hreply_free(&r);
		hreq(&r, "POST", url,
		    "{\"fault\":\"hang\",\"rate\":1,\"duration_s\":4,\"instance\":\"gw-d\"}",
		    ATTACH_ADMIN_TOKEN);
		assert_int_equal(r.status, 200);
		assert_string_equal(jstr(r.json, "provider.drill.fault"), "hang");
		hreply_free(&r);
	}
	assert_true(tmux_wait_regex(t, "gw-d +>?gpt +[DX ]?[*@ ]?! +drill hang [0-9]s"));
	assert_true(tmux_wait_regex(t, "gw-e +>?gpt +[DX ]?[*@ ]? +(up|OPEN|half)"));
	assert_true(tmux_wait(t,
	    "drill hang on gpt: 100% of attempts for 4 s on gw-d only by admin gw-d", 0));
	assert_true(tmux_wait_regex(t, "gw-d +>?gpt +[DX ]?[*@ ]? +(up|OPEN|half)"));
	tmux_free(t2);
	load_stop();
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(b);
	serve_stop(a);
}

/* No argument: every live local instance, through its Unix socket. */
static void
test_attach_finds_local_instances(void **state)
{
	struct tmux *t = *state;
	struct serve *a;

	NEED_TMUX(t);
	attach(t, 80, 24, "");
	assert_true(tmux_wait(t, "no live local instance", 0));
	assert_true(tmux_wait(t, "EXIT=1", 0));
	tmux_cmd(t, "kill-server", NULL, NULL, NULL, NULL);
	a = serve_start("gw-local");
	attach(t, 80, 24, "");
	assert_true(tmux_wait(t, "ATTACHED gw-local", 0));
	assert_true(tmux_wait_regex(t, ">gpt +up"));
	tmux_keys(t, 1, "q");
	assert_true(tmux_wait(t, "EXIT=0", 0));
	serve_stop(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_attach_shows_gateway_and_fails_over, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_windowed_numbers, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_fleet_view, test_setup, test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_finds_local_instances, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_hang_shows_what_clients_wait, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_last_provider_banner_and_undo, test_setup,
	        test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_fleet_store_failing_and_draining,
	        test_setup, test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_wrong_token, test_setup, test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_missing_socket, test_setup, test_teardown),
	    cmocka_unit_test_setup_teardown(test_attach_drill_in_gateway, test_setup,
	        test_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
