/*
 * test_fleet_drills.c: drills and instance-scoped overrides across a fleet
 * (issues 17 and 18). Two (and a third, late) `llmdeck serve` processes on one
 * database, once on a SQLite file and once on a throwaway PostgreSQL cluster
 * (pg_testutil.h): a drill started on one applies on the other within 1 s,
 * ends by itself on both, is stopped from the other, picked up by an instance
 * that starts later, and leaves events naming who; an override for one
 * instance (NAME@INSTANCE, ?instance=) changes that one only and wins over a
 * fleet-wide one there. The drilled provider "gpt" is no simulator but a plain
 * HTTP server in this process counting requests: the faults are made inside
 * the gateway (its server sees no drilled attempt), and clients see failovers
 * to "claude" (a sim) or, for "drop" after the first token, a stream error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "pg_testutil.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

/* The bound this test holds a drill to, between two instances on one database. */
#define DRILL_REACH_MS 1000
#define ADMIN_TOKEN "drills-admin"

static struct testkit kit; /* claude (0, anthropic): the fallback */
static char dir[] = "/tmp/llmdeck-drills-XXXXXX";
static char config_path[128], sqlite_path[160];
static struct pgtest *pg;
static char *pg_why, *pg_url;

/* ---- gpt: a plain OpenAI-shaped HTTP server, no simulator ---- */

static struct MHD_Daemon *plain;
static unsigned plain_port;
static atomic_uint plain_requests;

static const char plain_answer[] =
    "{\"id\":\"chatcmpl-plain\",\"object\":\"chat.completion\",\"created\":1,"
    "\"model\":\"test-model-id\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"plain hello\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}";
static const char plain_stream[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"plain \"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

static enum MHD_Result
plain_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct buf *body = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int stream;

	(void)cls, (void)url, (void)method, (void)version;
	if (body == NULL) {
		body = xcalloc(1, sizeof *body);
		buf_init(body);
		*con_cls = body;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		buf_append(body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&plain_requests, 1);
	stream = body->len > 0 && memmem(body->data, body->len, "\"stream\":true", 13) != NULL;
	resp = MHD_create_response_from_buffer(stream ? sizeof plain_stream - 1
	                                              : sizeof plain_answer - 1,
	    (void *)(stream ? plain_stream : plain_answer), MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type",
	    stream ? "text/event-stream" : "application/json");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
plain_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct buf *body = *con_cls;

	(void)cls, (void)conn, (void)toe;
	if (body != NULL) {
		buf_free(body);
		free(body);
	}
	*con_cls = NULL;
}

static void
plain_start(void)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	plain = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	        MHD_USE_POLL,
	    0, NULL, NULL, plain_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_NOTIFY_COMPLETED, plain_completed, NULL, MHD_OPTION_END);
	assert_non_null(plain);
	info = MHD_get_daemon_info(plain, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	plain_port = info->port;
}

/* ---- the fleet ---- */

static void
write_config(void)
{
	FILE *f = fopen(config_path, "w");

	assert_non_null(f);
	fprintf(f,
	    "{\"providers\":[\n"
	    " {\"name\":\"gpt\",\"kind\":\"openai\",\"base_url\":\"http://127.0.0.1:%u/v1\","
	    "\"api_key_env\":\"DRILLS_GPT_KEY\",\"models\":[\"test-model\"],\"priority\":1,"
	    "\"max_retries\":0,\"timeout_seconds\":20},\n"
	    " {\"name\":\"claude\",\"kind\":\"anthropic\",\"base_url\":\"%s\","
	    "\"api_key_env\":\"DRILLS_CLAUDE_KEY\",\"models\":[\"test-model\"],"
	    "\"priority\":2,\"max_retries\":0,\"timeout_seconds\":20}],\n"
	    " \"breaker\":{\"failure_threshold\":1000},\n"
	    " \"models\":{\"test-model\":{\"id\":\"test-model-id\",\"input_per_mtok\":1,"
	    "\"output_per_mtok\":2}},\n"
	    " \"budget\":{\"daily_usd\":100}}\n",
	    plain_port, sim_url(kit.sims[0]));
	fclose(f);
}

static int
setup(void **state)
{
	char run[160];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sqlite_path, sizeof sqlite_path, "%s/fleet.db", dir);
	snprintf(run, sizeof run, "%s/run", dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	setenv("DRILLS_GPT_KEY", "test-key-gpt", 1);
	setenv("DRILLS_CLAUDE_KEY", "test-key-claude", 1);
	setenv("LLMDECK_ADMIN_TOKEN", ADMIN_TOKEN, 1);
	unsetenv("LLMDECK_GATEWAY_TOKEN");
	unsetenv("LLMDECK_CONFIG");
	testkit_init(&kit);
	testkit_add_provider(&kit, "claude", SIM_ANTHROPIC, 1, 1);
	plain_start();
	snprintf(config_path, sizeof config_path, "%s/config.json", dir);
	write_config();
	signal(SIGPIPE, SIG_IGN);
	if ((pg = pgtest_start(&pg_why)) != NULL)
		pg_url = pgtest_new_db(pg);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	testkit_free(&kit);
	MHD_stop_daemon(plain);
	pgtest_stop(pg);
	free(pg_why);
	free(pg_url);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct serve {
	pid_t pid;
	char url[128];
	char err[160];
};

static void
serve_start(struct serve *s, const char *db, const char *name)
{
	const char *args[] = {"llmdeck", "serve", "--listen", "127.0.0.1:0", "--config",
	    config_path, "--db", db, "--instance", name, NULL};

	snprintf(s->err, sizeof s->err, "%s/%s.err", dir, name);
	s->pid = spawn_serve(args, s->err, s->url, sizeof s->url);
}

static void
serve_stop(struct serve *s)
{
	kill(s->pid, SIGTERM);
	assert_int_equal(wait_exit(s->pid, 15000), 0);
}

static long
admin(struct hreply *r, const struct serve *s, const char *method, const char *path,
    const char *body)
{
	char url[320];

	snprintf(url, sizeof url, "%s%s", s->url, path);
	hreq(r, method, url, body, ADMIN_TOKEN);
	return r->status;
}

static void
admin_ok(const struct serve *s, const char *path, const char *body)
{
	struct hreply r;

	if (admin(&r, s, "POST", path, body) != 200)
		fail_msg("POST %s: %ld %s", path, r.status, r.body.data != NULL ? r.body.data : "");
	hreply_free(&r);
}

/* gpt in s's snapshot: what (a path in its object, "drill.fault" ...) says, "" if none. */
static void
gpt_says(const struct serve *s, const char *what, char *out, size_t len)
{
	struct hreply r;
	cJSON *p;

	out[0] = '\0';
	assert_int_equal(admin(&r, s, "GET", "/admin/v1/snapshot", NULL), 200);
	cJSON_ArrayForEach(p, jget(r.json, "providers"))
	{
		cJSON *x;

		if (strcmp(jstr(p, "name"), "gpt") != 0 || (x = jget(p, what)) == NULL)
			continue;
		if (cJSON_IsString(x))
			snprintf(out, len, "%s", x->valuestring);
		else if (cJSON_IsBool(x))
			snprintf(out, len, "%s", cJSON_IsTrue(x) ? "true" : "false");
	}
	hreply_free(&r);
}

/* Wait until gpt's what on s reads want; the milliseconds it took, or -1 past limit_ms. */
static long
gpt_wait(const struct serve *s, const char *what, const char *want, long limit_ms)
{
	uint64_t t0 = clock_mono_ms();
	char got[64];

	for (;;) {
		gpt_says(s, what, got, sizeof got);
		if (strcmp(got, want) == 0)
			return (long)(clock_mono_ms() - t0);
		if ((long)(clock_mono_ms() - t0) > limit_ms)
			return -1;
		sleep_ms(5);
	}
}

/* A chat on s: its status; *body and *ms if not NULL. */
static long
chat(const struct serve *s, int stream, struct buf *body, long *ms)
{
	struct hreply r;
	char url[256];
	long status;
	uint64_t t0 = clock_mono_ms();

	snprintf(url, sizeof url, "%s/v1/chat/completions", s->url);
	hreq(&r, "POST", url,
	    stream ? "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	             "\"content\":\"hi\"}]}"
	           : "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":"
	             "\"hi\"}]}",
	    NULL);
	if (ms != NULL)
		*ms = (long)(clock_mono_ms() - t0);
	status = r.status;
	if (body != NULL && r.body.data != NULL)
		buf_append(body, r.body.data, r.body.len);
	hreply_free(&r);
	return status;
}

/* Is there an event on s whose message holds text? */
static int
event_seen(const struct serve *s, const char *text)
{
	struct hreply r;
	int found;

	assert_int_equal(admin(&r, s, "GET", "/admin/v1/events", NULL), 200);
	found = r.body.data != NULL && strstr(r.body.data, text) != NULL;
	hreply_free(&r);
	return found;
}

static void
event_wait(const struct serve *s, const char *text)
{
	uint64_t t0 = clock_mono_ms();

	while (!event_seen(s, text)) {
		if (clock_mono_ms() - t0 > 3000)
			fail_msg("no event \"%s\" within 3 s", text);
		sleep_ms(20);
	}
}

static const char *
backend_db(int postgres)
{
	if (postgres) {
		if (pg_url == NULL)
			testkit_missing(pg_why != NULL ? pg_why : "PostgreSQL: no database");
		return pg_url;
	}
	return sqlite_path;
}

/* ---- the tests ---- */

/* s's database as its snapshot names it (instance.store.id), for consoles to send a
 * fleet-wide override once per database. */
static void
store_id(const struct serve *s, char *out, size_t len)
{
	struct hreply r;
	const char *id;

	assert_int_equal(admin(&r, s, "GET", "/admin/v1/snapshot", NULL), 200);
	id = jstr(r.json, "instance.store.id");
	snprintf(out, len, "%s", id != NULL ? id : "");
	hreply_free(&r);
}

static void
drill_across_the_fleet(int postgres)
{
	const char *db = backend_db(postgres);
	const char *kind = postgres ? "postgres" : "sqlite";
	struct serve a, b, c;
	unsigned before;
	uint64_t t0;
	long ms;
	char by[64];

	serve_start(&a, db, "dr-a");
	serve_start(&b, db, "dr-b");
	assert_int_equal(chat(&a, 0, NULL, NULL), 200);

	/* Started on a, applied on b within the bound, naming who started it. */
	t0 = clock_mono_ms();
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"500\",\"rate\":1,\"duration_s\":3}");
	ms = gpt_wait(&b, "drill.fault", "500", DRILL_REACH_MS);
	print_message("%s: drill on dr-a applied on dr-b after %ld ms\n", kind, ms);
	assert_true(ms >= 0);
	gpt_says(&b, "drill.by", by, sizeof by);
	assert_string_equal(by, "admin dr-a");
	gpt_says(&b, "drill.scope", by, sizeof by);
	assert_string_equal(by, "fleet");

	/* Clients of b get answers (failover to claude); gpt's server sees none of it. */
	before = atomic_load(&plain_requests);
	for (int i = 0; i < 3; i++)
		assert_int_equal(chat(&b, 0, NULL, NULL), 200);
	assert_int_equal(atomic_load(&plain_requests), before);

	/* It ends by itself on both, at its end, not before. */
	assert_true(gpt_wait(&a, "drill.fault", "", 5000) >= 0);
	assert_true(gpt_wait(&b, "drill.fault", "", 1000) >= 0);
	ms = (long)(clock_mono_ms() - t0);
	print_message("%s: the 3 s drill ended on both after %ld ms\n", kind, ms);
	assert_true(ms >= 2900);
	assert_int_equal(chat(&b, 0, NULL, NULL), 200);
	assert_int_equal(atomic_load(&plain_requests), before + 1);

	/* Started on a, stopped from b: it stops on a. */
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"hang\",\"rate\":1,\"duration_s\":60}");
	assert_true(gpt_wait(&b, "drill.fault", "hang", DRILL_REACH_MS) >= 0);
	admin_ok(&b, "/admin/v1/providers/gpt/drill", "{\"fault\":\"none\"}");
	ms = gpt_wait(&a, "drill.fault", "", DRILL_REACH_MS);
	print_message("%s: stop on dr-b reached dr-a after %ld ms\n", kind, ms);
	assert_true(ms >= 0);

	/* An instance that starts later picks up the live drill. */
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"503\",\"rate\":0.5,\"duration_s\":60}");
	if (postgres)
		serve_start(&c, db, "dr-c");
	else {
		/* The same file by another path: the same database to a console. */
		char *other = xasprintf("%s/./fleet.db", dir);
		serve_start(&c, other, "dr-c");
		free(other);
	}
	assert_true(gpt_wait(&c, "drill.fault", "503", 200) >= 0);
	{
		char ida[64], idb[64], idc[64];
		store_id(&a, ida, sizeof ida);
		store_id(&b, idb, sizeof idb);
		store_id(&c, idc, sizeof idc);
		assert_true(strncmp(ida, kind, strlen(kind)) == 0);
		assert_string_equal(ida, idb);
		assert_string_equal(ida, idc);
		if (!postgres) {
			/* Another file is another database. */
			struct serve d;
			char *other = xasprintf("%s/other.db", dir), idd[64];
			serve_start(&d, other, "dr-d");
			store_id(&d, idd, sizeof idd);
			assert_string_not_equal(ida, idd);
			serve_stop(&d);
			free(other);
		}
	}
	serve_stop(&c);
	admin_ok(&a, "/admin/v1/providers/gpt/drill", "{\"fault\":\"none\"}");
	assert_true(gpt_wait(&b, "drill.fault", "", DRILL_REACH_MS) >= 0);

	/* The events say who started and stopped it, and that it ended. */
	event_wait(&b,
	    "drill 500 on gpt: 100% of attempts for 3 s on every instance by admin dr-a");
	event_wait(&a, "drill on gpt ended (its time was up)");
	event_wait(&a, "drill on gpt stopped on every instance by admin dr-b");
	serve_stop(&b);
	serve_stop(&a);
}

static void
test_drill_across_the_fleet_sqlite(void **state)
{
	(void)state;
	drill_across_the_fleet(0);
}

static void
test_drill_across_the_fleet_postgres(void **state)
{
	(void)state;
	drill_across_the_fleet(1);
}

static void
override_for_one_instance(int postgres)
{
	const char *db = backend_db(postgres);
	struct serve a, b;
	struct hreply r;
	unsigned before;
	char v[64];

	serve_start(&a, db, "sc-a");
	serve_start(&b, db, "sc-b");

	/* Typed on a for b only: b disables gpt, a does not. */
	assert_int_equal(admin(&r, &a, "POST", "/admin/v1/providers/gpt/disable?instance=sc-b",
	                     NULL),
	    200);
	assert_string_equal(jstr(r.json, "scope"), "sc-b");
	assert_string_equal(jstr(r.json, "provider.state.admin"), "enabled");
	hreply_free(&r);
	assert_true(gpt_wait(&b, "state.admin", "disabled", DRILL_REACH_MS) >= 0);
	gpt_says(&b, "instance_scoped.admin", v, sizeof v);
	assert_string_equal(v, "true");
	sleep_ms(600); /* more than a poll on each: a would have applied it by now */
	gpt_says(&a, "state.admin", v, sizeof v);
	assert_string_equal(v, "enabled");
	gpt_says(&a, "overridden.admin", v, sizeof v);
	assert_string_equal(v, "false");
	before = atomic_load(&plain_requests);
	assert_int_equal(chat(&a, 0, NULL, NULL), 200);
	assert_int_equal(atomic_load(&plain_requests), before + 1);
	assert_int_equal(chat(&b, 0, NULL, NULL), 200);
	assert_int_equal(atomic_load(&plain_requests), before + 1);

	/* A fleet-wide drain: a drains; b keeps its own override, which wins there. */
	admin_ok(&a, "/admin/v1/providers/gpt/drain", NULL);
	assert_true(gpt_wait(&a, "state.admin", "drained", 100) >= 0);
	sleep_ms(600);
	gpt_says(&b, "state.admin", v, sizeof v);
	assert_string_equal(v, "disabled");

	/* b's own override cleared (NAME@INSTANCE in the path): the fleet's drain rules it. */
	admin_ok(&a, "/admin/v1/providers/gpt@sc-b/clear-overrides", NULL);
	assert_true(gpt_wait(&b, "state.admin", "drained", DRILL_REACH_MS) >= 0);
	gpt_says(&b, "instance_scoped.admin", v, sizeof v);
	assert_string_equal(v, "false");
	event_wait(&b, "operator: gpt enabled -> disabled on sc-b only");

	/* Everything cleared: both back to the config. */
	admin_ok(&b, "/admin/v1/providers/gpt/clear-overrides", NULL);
	assert_true(gpt_wait(&a, "state.admin", "enabled", DRILL_REACH_MS) >= 0);
	assert_true(gpt_wait(&b, "state.admin", "enabled", DRILL_REACH_MS) >= 0);

	/* A bad instance id is refused, naming it. */
	assert_int_equal(admin(&r, &a, "POST", "/admin/v1/providers/gpt/disable?instance=a%40b",
	                     NULL),
	    400);
	assert_non_null(strstr(r.body.data, "instance"));
	hreply_free(&r);
	serve_stop(&b);
	serve_stop(&a);
}

static void
test_override_for_one_instance_sqlite(void **state)
{
	(void)state;
	override_for_one_instance(0);
}

static void
test_override_for_one_instance_postgres(void **state)
{
	(void)state;
	override_for_one_instance(1);
}

/* slow, drop and malformed on a plain server, as clients see them. */
static void
test_faults_slow_drop_malformed(void **state)
{
	struct serve a;
	struct buf body;
	unsigned before;
	long ms;

	(void)state;
	serve_start(&a, sqlite_path, "fa-a");

	/* malformed: an unparseable answer made in the gateway; the client gets claude's. */
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"malformed\",\"rate\":1,\"duration_s\":60}");
	before = atomic_load(&plain_requests);
	buf_init(&body);
	assert_int_equal(chat(&a, 0, &body, NULL), 200);
	assert_null(strstr(body.data, "plain hello"));
	buf_free(&body);
	buf_init(&body);
	assert_int_equal(chat(&a, 1, &body, NULL), 200);
	assert_null(strstr(body.data, "plain"));
	assert_non_null(strstr(body.data, "[DONE]"));
	buf_free(&body);
	assert_int_equal(atomic_load(&plain_requests), before);
	event_wait(&a, "gpt");

	/* slow: the real answer, delay_ms late. */
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"slow\",\"rate\":1,\"duration_s\":60,\"delay_ms\":700}");
	buf_init(&body);
	assert_int_equal(chat(&a, 0, &body, &ms), 200);
	print_message("slow drill (700 ms): answered after %ld ms\n", ms);
	assert_true(ms >= 700);
	assert_non_null(strstr(body.data, "plain hello"));
	buf_free(&body);
	assert_int_equal(atomic_load(&plain_requests), before + 1);

	/* drop, whole answers: the answer never handed on; failover to claude. */
	admin_ok(&a, "/admin/v1/providers/gpt/drill",
	    "{\"fault\":\"drop\",\"rate\":1,\"duration_s\":60}");
	buf_init(&body);
	assert_int_equal(chat(&a, 0, &body, NULL), 200);
	assert_null(strstr(body.data, "plain hello"));
	buf_free(&body);
	/* drop, a stream: broken after its first token, the client sees a stream error. */
	buf_init(&body);
	assert_int_equal(chat(&a, 1, &body, NULL), 200);
	assert_non_null(strstr(body.data, "plain "));
	assert_non_null(strstr(body.data, "drill: drop"));
	assert_null(strstr(body.data, "[DONE]"));
	buf_free(&body);
	assert_int_equal(atomic_load(&plain_requests), before + 3);
	admin_ok(&a, "/admin/v1/providers/gpt/drill", "{\"fault\":\"none\"}");
	serve_stop(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drill_across_the_fleet_sqlite),
	    cmocka_unit_test(test_override_for_one_instance_sqlite),
	    cmocka_unit_test(test_faults_slow_drop_malformed),
	    cmocka_unit_test(test_drill_across_the_fleet_postgres),
	    cmocka_unit_test(test_override_for_one_instance_postgres),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
