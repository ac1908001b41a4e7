/*
 * test_console_source.c: the console's sources without a terminal. The admin
 * API's JSON into the console's types (a recorded snapshot, events, errors,
 * and bodies that are broken or from another version), and the remote source
 * against a stub admin API on loopback: it polls without blocking, marks the
 * link lost with the reason when the server goes away and comes back with
 * backoff, and sends each action as the API wants it.
 *
 * The console's sources live in tui/console (not in the library the tests
 * link), so their files are compiled in here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console/console_source_json.c"
#include "console/console_source_remote.c"
#include "provider/http.h"
#include "util/util.h"

/* What `GET /admin/v1/snapshot?window=60` answered (trimmed to two providers). */
static const char snapshot_json[] =
    "{\"instance\":{\"id\":\"gw-a\",\"pid\":4242,\"host\":\"box\",\"version\":\"0.1.0\","
    "\"started_ms\":1700000000000,\"config\":\"/etc/llmdeck.json\",\"database\":\"/var/db\","
    "\"listen\":\"http://127.0.0.1:8088\",\"draining\":false,"
    "\"store\":{\"status\":\"failing\",\"reason\":\"disk full\",\"spooled_rows\":3}},"
    "\"time_ms\":1700000060000,\"window_seconds\":5,"
    "\"providers\":[{\"name\":\"openai\",\"kind\":\"openai\",\"base_url\":\"http://x\","
    "\"state\":{\"breaker\":\"open\",\"admin\":\"drained\"},\"cooldown_ms\":12000,"
    "\"consecutive_failures\":5,\"priority\":2,\"weight\":0.5,"
    "\"overridden\":{\"priority\":true,\"weight\":false,\"admin\":true},\"usable\":false,"
    "\"in_flight\":3,\"rate_limit\":{\"rpm\":600,\"rpm_use\":0.25,\"tpm\":0,\"tpm_use\":0},"
    "\"totals\":{\"requests\":100,\"successes\":90,\"errors\":10,\"input_tokens\":1000,"
    "\"output_tokens\":2000,\"cost_usd\":1.5,\"p50_ms\":450.5,\"p95_ms\":900,\"p99_ms\":1200},"
    "\"window\":{\"requests\":20,\"errors\":4,\"share\":0.8,\"p50_ms\":400,\"p95_ms\":800,"
    "\"p99_ms\":1000,\"buckets\":[[256,10],[1024,6]],"
    "\"series\":{\"requests\":[1,2,3,4,10],\"errors\":[0,0,1,1,2]}},"
    "\"probe\":{\"time_ms\":1700000050000,\"ok\":false,\"latency_ms\":30}},"
    "{\"name\":\"mistral\",\"kind\":\"mistral\",\"base_url\":\"http://y\","
    "\"state\":{\"breaker\":\"half-open\",\"admin\":\"enabled\"},\"priority\":1,\"weight\":1,"
    "\"overridden\":{\"priority\":false,\"weight\":false,\"admin\":false},\"usable\":true,"
    "\"totals\":{\"requests\":300},\"window\":{\"requests\":5,\"errors\":0,\"share\":0.2},"
    "\"probe\":null,\"no_key\":\"MISTRAL_API_KEY\",\"something_new\":[1,2]}],"
    "\"requests\":{\"total\":400,\"answered\":380,\"failed\":20,\"cancelled\":1,"
    "\"failovers\":7,\"hedges\":0,\"hedges_won\":0,\"attempts\":420,\"attempts_failed\":40,"
    "\"in_flight\":3,\"cache_hits\":40,\"window\":{\"requests\":25,\"failed\":2,"
    "\"attempts_failed\":4,\"cancelled\":0,\"p50_ms\":500,\"p95_ms\":900,\"p99_ms\":1100,"
    "\"series\":{\"requests\":[5,5,5,5,5],\"errors\":[0,1,0,1,0]}}},"
    "\"budget\":{\"daily_usd\":20,\"spent_usd\":17,\"reserved_usd\":0,\"leased_usd\":0,"
    "\"rate_usd_per_hour\":2.5,\"rate_5m_usd_per_hour\":30,\"projected_usd\":30,\"alert_"
    "threshold\":0.8,"
    "\"hard_stop\":true},"
    "\"cache\":{\"enabled\":true,\"entries\":12,\"hits\":40,\"misses\":60,"
    "\"hit_rate_all\":0.1,\"hit_rate_cacheable\":0.4},"
    "\"gateway\":{\"in_flight\":3,\"requests\":400,\"errors\":20}}";

static void
test_parse_snapshot(void **state)
{
	struct source_frame f;
	const struct provider_snapshot *p;
	char *cause = NULL;

	(void)state;
	assert_int_equal(source_parse_snapshot(snapshot_json, strlen(snapshot_json), &f, &cause),
	    0);
	assert_string_equal(f.inst.id, "gw-a");
	assert_int_equal(f.inst.pid, 4242);
	assert_string_equal(f.inst.listen, "http://127.0.0.1:8088");
	assert_string_equal(f.inst.database, "/var/db");
	assert_string_equal(f.inst.store_status, "failing");
	assert_string_equal(f.inst.store_reason, "disk full");
	assert_int_equal(f.snap.window_s, 5);
	assert_int_equal(f.snap.n_providers, 2);

	p = &f.snap.providers[0];
	assert_string_equal(p->name, "openai");
	assert_int_equal(p->breaker, BREAKER_OPEN);
	assert_int_equal(p->admin, ADMIN_DRAINED);
	assert_int_equal(p->cooldown_left_ms, 12000);
	assert_int_equal(p->priority, 2);
	assert_true(p->priority_overridden && p->admin_overridden && !p->weight_overridden);
	assert_int_equal(p->rate_limit_rpm, 600);
	assert_true(p->rpm_usage > 0.24 && p->rpm_usage < 0.26);
	/* Totals apart from the window. */
	assert_int_equal(p->requests, 100);
	assert_int_equal(p->errors, 10);
	assert_int_equal(f.extra[0].p50_us, 450500);
	assert_int_equal(p->window.requests, 20);
	assert_int_equal(p->window.errors, 4);
	assert_true(p->window.share > 0.79 && p->window.share < 0.81);
	assert_int_equal(p->window.p95_us, 800000);
	assert_int_equal(p->window.latency.total, 16);
	/* The series oldest first, the current second last. */
	assert_int_equal(p->window.series_requests[0], 1);
	assert_int_equal(p->window.series_requests[4], 10);
	assert_int_equal(p->window.series_errors[4], 2);
	assert_int_equal(p->last_probe_ms, 1700000050000LL);
	assert_false(p->last_probe_ok);
	assert_int_equal(p->last_probe_latency_us, 30000);
	/* The totals' share is the reader's: 100 of 400 attempts. */
	assert_true(p->share > 0.24 && p->share < 0.26);

	p = &f.snap.providers[1];
	assert_int_equal(p->breaker, BREAKER_HALF_OPEN);
	assert_int_equal(p->last_probe_ms, 0);
	assert_string_equal(f.extra[1].no_key, "MISTRAL_API_KEY");

	assert_int_equal(f.snap.requests, 400);
	assert_int_equal(f.snap.failed, 20);
	assert_int_equal(f.snap.cache_hits, 40);
	assert_int_equal(f.snap.window.requests, 25);
	assert_int_equal(f.snap.window.errors, 2);
	assert_int_equal(f.snap.window_attempts_failed, 4);
	assert_int_equal(f.snap.window.series_errors[1], 1);

	assert_true(f.budget.present);
	assert_true(f.budget.daily_usd == 20 && f.budget.spent_usd == 17);
	assert_true(f.budget.burn_per_hour == 2.5);
	assert_true(f.budget.burn_5m_per_hour == 30);
	assert_int_equal(f.budget.hard_stop, 1);
	assert_true(f.budget.alert_crossed); /* 17 of 20 is past 80% */
	assert_true(f.cache.present && f.cache.enabled);
	assert_true(f.cache.hit_rate_all > 0.09 && f.cache.hit_rate_all < 0.11);
	assert_true(f.cache.hit_rate_cacheable > 0.39 && f.cache.hit_rate_cacheable < 0.41);
	source_frame_free(&f);
}

/* No database: budget and cache are null; an older server leaves fields out. */
static void
test_parse_snapshot_sparse(void **state)
{
	static const char json[] = "{\"providers\":[{\"name\":\"a\"},7,{\"name\":\"b\","
	                           "\"window\":{\"series\":{\"requests\":\"x\"}}}],"
	                           "\"budget\":null,\"cache\":null}";
	struct source_frame f;
	char *cause = NULL;

	(void)state;
	assert_int_equal(source_parse_snapshot(json, strlen(json), &f, &cause), 0);
	assert_int_equal(f.snap.n_providers, 2); /* the 7 is skipped */
	assert_string_equal(f.snap.providers[1].name, "b");
	assert_int_equal(f.snap.providers[0].admin, ADMIN_ENABLED);
	assert_false(f.budget.present);
	assert_false(f.cache.present);
	assert_true(f.cache.hit_rate_all < 0);
	source_frame_free(&f);
}

static void
test_parse_refuses_broken(void **state)
{
	static const char *const bad[] = {
	    "", "[]", "{\"providers\":{}}", "{\"providers\":[", "null", "{\"instance\":{}}"};
	struct source_frame f;
	char *cause;

	(void)state;
	for (size_t i = 0; i < nitems(bad); i++) {
		cause = NULL;
		assert_int_equal(source_parse_snapshot(bad[i], strlen(bad[i]), &f, &cause), -1);
		assert_non_null(cause);
		free(cause);
	}
}

static void
test_parse_events_and_errors(void **state)
{
	static const char json[] =
	    "{\"events\":[{\"id\":7,\"time_ms\":1000,\"kind\":\"operator\",\"provider\":\"openai\","
	    "\"message\":\"operator: failover: openai drained\",\"instance\":\"gw-b\"},"
	    "{\"id\":9,\"time_ms\":2000,\"kind\":\"what-is-this\",\"message\":\"m\"}],\"last\":12}";
	static const char err[] = "{\"error\":{\"type\":\"not_found\",\"message\":\"no provider "
	                          "\\\"x\\\"\"}}";
	struct source_event *ev;
	size_t n;
	uint64_t last = 0;
	char *cause = NULL, *msg;

	(void)state;
	assert_int_equal(source_parse_events(json, strlen(json), &ev, &n, &last, &cause), 0);
	assert_int_equal(n, 2);
	assert_int_equal(last, 12);
	assert_int_equal(ev[0].ev.kind, EV_OPERATOR);
	assert_string_equal(ev[0].instance, "gw-b");
	assert_string_equal(ev[0].ev.provider, "openai");
	assert_int_equal(ev[1].ev.kind, EV_INFO);
	free(ev);
	assert_int_equal(source_parse_events("{}", 2, &ev, &n, &last, &cause), -1);
	free(cause);
	msg = source_parse_error(err, strlen(err));
	assert_string_equal(msg, "no provider \"x\"");
	free(msg);
	assert_null(source_parse_error("<html>", 6));
}

/* A stub admin API: answers the recorded snapshot and notes every request. */
struct stub {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	char log[4096];
	int fail; /* answer 500 to everything */
};

static enum MHD_Result
stub_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	struct stub *s = cls;
	struct MHD_Response *r;
	const char *body = "{\"provider\":{\"name\":\"openai\"}}";
	const char *after = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
	unsigned status = 200;
	enum MHD_Result ret;

	(void)version, (void)upload;
	if (*con_cls == NULL) { /* first call: headers only */
		*con_cls = s;
		return MHD_YES;
	}
	if (*upload_len > 0) {
		pthread_mutex_lock(&s->mu);
		strncat(s->log, upload, *upload_len < 200 ? *upload_len : 200);
		pthread_mutex_unlock(&s->mu);
		*upload_len = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->mu);
	snprintf(s->log + strlen(s->log), sizeof s->log - strlen(s->log), " %s %s%s%s;", method,
	    url, after != NULL ? "?after=" : "", after != NULL ? after : "");
	if (s->fail)
		status = 500;
	pthread_mutex_unlock(&s->mu);
	if (status != 200)
		body = "{\"error\":{\"type\":\"internal\",\"message\":\"stub says no\"}}";
	else if (strcmp(url, "/admin/v1/snapshot") == 0)
		body = snapshot_json;
	else if (strcmp(url, "/admin/v1/events") == 0)
		body =
		    "{\"events\":[{\"id\":3,\"time_ms\":5,\"kind\":\"breaker\",\"message\":\"x\"}],"
		    "\"last\":3}";
	else if (strstr(url, "/nosuch/") != NULL) {
		status = 404;
		body = "{\"error\":{\"type\":\"not_found\",\"message\":\"no provider "
		       "\\\"nosuch\\\"\"}}";
	}
	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* On an ephemeral loopback port, or on the Unix socket at path. */
static void
stub_start(struct stub *s, const char *path)
{
	const union MHD_DaemonInfo *info;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	if (path != NULL) {
		struct sockaddr_un sun;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		strlcpy_(sun.sun_path, path, sizeof sun.sun_path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
		assert_int_equal(listen(fd, 16), 0);
		s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
		    NULL, NULL, stub_answer, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
		assert_non_null(s->d);
		return;
	}
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    stub_answer, s, MHD_OPTION_END);
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info->port;
}

static void
stub_stop(struct stub *s)
{
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	s->d = NULL;
	pthread_mutex_destroy(&s->mu);
}

static int
stub_logged(struct stub *s, const char *what)
{
	int found;

	pthread_mutex_lock(&s->mu);
	found = strstr(s->log, what) != NULL;
	pthread_mutex_unlock(&s->mu);
	return found;
}

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static int wakes;

static void
count_wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wake_mu);
	wakes++;
	pthread_mutex_unlock(&wake_mu);
}

/* Poll until a frame comes (or the link goes down, with down); bounded. */
static int
poll_until(struct source *src, struct source_frame *f, int down)
{
	struct source_link l;
	uint64_t end = clock_mono_ms() + 10000;

	while (clock_mono_ms() < end) {
		src->ops->poll(src);
		src->ops->link(src, &l);
		if (down ? !l.up && l.ever_up : src->ops->take(src, f) == 1)
			return 1;
		usleep(20 * 1000);
	}
	return 0;
}

static void
test_remote_source(void **state)
{
	struct http_engine *e = http_engine_new(NULL);
	struct stub s;
	struct source *src;
	struct source_frame f;
	struct source_event ev[8];
	struct source_result res[8];
	struct source_link l;
	char url[64], *cause = NULL;
	uint64_t t0, end;
	size_t n = 0;

	(void)state;
	stub_start(&s, NULL);
	snprintf(url, sizeof url, "127.0.0.1:%d", s.port);
	src = source_remote_new(url, "sekrit", e, count_wake, NULL);
	memset(&f, 0, sizeof f);
	/* poll never waits for the network. */
	t0 = clock_mono_ms();
	src->ops->poll(src);
	assert_true(clock_mono_ms() - t0 < 50);
	assert_true(poll_until(src, &f, 0));
	assert_string_equal(f.inst.id, "gw-a");
	assert_int_equal(f.snap.n_providers, 2);
	src->ops->link(src, &l);
	assert_true(l.up);
	assert_true(stub_logged(&s, "GET /admin/v1/snapshot;"));
	/* Events come with the next polls, after the last id seen. */
	end = clock_mono_ms() + 5000;
	while (n == 0 && clock_mono_ms() < end) {
		src->ops->poll(src);
		usleep(20 * 1000);
		n = src->ops->events(src, ev, nitems(ev));
	}
	assert_true(n >= 1);
	assert_int_equal(ev[0].ev.kind, EV_BREAKER);
	end = clock_mono_ms() + 5000;
	while (!stub_logged(&s, "events?after=3") && clock_mono_ms() < end) {
		src->ops->poll(src);
		usleep(20 * 1000);
	}
	assert_true(stub_logged(&s, "events?after=3"));

	/* Actions, as the API spells them. */
	assert_int_equal(src->ops->act(src, SA_DRAIN, "openai", 0, &cause), 0);
	assert_int_equal(src->ops->act(src, SA_WEIGHT, "openai", 0.5, &cause), 0);
	assert_int_equal(src->ops->act(src, SA_FLUSH, NULL, 0, &cause), 0);
	assert_int_equal(src->ops->act(src, SA_DRAIN, "nosuch", 0, &cause), 0);
	n = 0;
	end = clock_mono_ms() + 5000;
	while (n < 4 && clock_mono_ms() < end) {
		usleep(20 * 1000);
		n += src->ops->results(src, res + n, nitems(res) - n);
	}
	assert_int_equal(n, 4);
	assert_true(stub_logged(&s, "POST /admin/v1/providers/openai/drain;"));
	assert_true(stub_logged(&s, "{\"weight\":0.5} PATCH /admin/v1/providers/openai;"));
	assert_true(stub_logged(&s, "POST /admin/v1/cache/flush;"));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(res[i].provider, "nosuch") == 0) {
			assert_false(res[i].ok);
			assert_non_null(strstr(res[i].text, "no provider \"nosuch\""));
		} else
			assert_true(res[i].ok);
	}
	/* "Every provider" is one call per provider the API knows. */
	assert_int_equal(src->ops->act(src, SA_CLEAR_OVERRIDES, "", 0, &cause), 0);
	end = clock_mono_ms() + 5000;
	while (!stub_logged(&s, "mistral/clear-overrides") && clock_mono_ms() < end)
		usleep(20 * 1000);
	assert_true(stub_logged(&s, "openai/clear-overrides"));

	/* The server fails: the link is down with its words, the last frame stays ours. */
	pthread_mutex_lock(&s.mu);
	s.fail = 1;
	pthread_mutex_unlock(&s.mu);
	assert_true(poll_until(src, &f, 1));
	src->ops->link(src, &l);
	assert_non_null(strstr(l.why, "stub says no"));
	assert_true(l.retry_ms > clock_mono_ms());
	/* Gone altogether: connection refused, retried with backoff, not hammered. */
	MHD_stop_daemon(s.d);
	s.d = NULL;
	end = clock_mono_ms() + 3000;
	while (clock_mono_ms() < end) {
		src->ops->poll(src);
		usleep(20 * 1000);
	}
	src->ops->link(src, &l);
	assert_false(l.up);
	assert_true(l.ever_up);
	assert_true(l.retry_ms > clock_mono_ms() || strstr(l.why, "onnect") != NULL);
	http_engine_free(e);
	src->ops->free(src);
	source_frame_free(&f);
	stub_stop(&s);
	pthread_mutex_lock(&wake_mu);
	assert_true(wakes > 0);
	pthread_mutex_unlock(&wake_mu);
}

/* The same over a Unix socket (what `llmdeck attach` uses for local instances). */
static void
test_remote_source_unix_socket(void **state)
{
	struct http_engine *e = http_engine_new(NULL);
	struct source *src;
	struct source_frame f;
	struct source_link l;
	struct stub s;
	char dir[] = "/tmp/llmdeck-src-XXXXXX", path[128];
	uint64_t end;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/gw.sock", dir);
	/* Nobody there yet: down, with the reason. */
	src = source_remote_new(path, NULL, e, NULL, NULL);
	memset(&f, 0, sizeof f);
	end = clock_mono_ms() + 5000;
	do {
		src->ops->poll(src);
		usleep(20 * 1000);
		src->ops->link(src, &l);
	} while (strcmp(l.why, "connecting") == 0 && clock_mono_ms() < end);
	assert_false(l.up);
	assert_false(l.ever_up);
	assert_string_not_equal(l.why, "connecting");
	/* It comes up: the next try (after the backoff) gets the snapshot. */
	stub_start(&s, path);
	assert_true(poll_until(src, &f, 0));
	assert_string_equal(f.inst.id, "gw-a");
	src->ops->link(src, &l);
	assert_true(l.up);
	assert_true(stub_logged(&s, "GET /admin/v1/snapshot;"));
	http_engine_free(e);
	src->ops->free(src);
	source_frame_free(&f);
	stub_stop(&s);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_snapshot),
	    cmocka_unit_test(test_parse_snapshot_sparse),
	    cmocka_unit_test(test_parse_refuses_broken),
	    cmocka_unit_test(test_parse_events_and_errors),
	    cmocka_unit_test(test_remote_source),
	    cmocka_unit_test(test_remote_source_unix_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
