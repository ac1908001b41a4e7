/*
 * test_cache_redis.c: the response cache in Redis (cache.url), against a
 * redis-server each test starts on a Unix socket in its own directory: two
 * store handles on different databases share it, entries are
 * llm_cache:<the canonical key> with Redis's TTL, flush and the figures work,
 * and Redis going away is a miss and one event, never a failed request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "provider/llm.h"
#include "router/events.h"
#include "router/router.h"
#include "sim/sim.h"
#include "store/cache.h"
#include "store/store.h"
#include "testkit.h"
#include "util/util.h"

struct fixture {
	char dir[64];
	char sock[128];
	pid_t redis;
	struct cache_conf conf;
	struct store *a, *b;
	/* the router tests */
	struct config cfg;
	struct sim *sim;
	struct router *r;
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
have_redis_server(void)
{
	return system("command -v redis-server >/dev/null 2>&1") == 0;
}

/* The test's own redis-server on DIR/redis.sock; waits (5 s at most) for its PING. */
static void
redis_start(struct fixture *f)
{
	pid_t pid;

	unlink(f->sock);
	if ((pid = fork()) < 0)
		fail_msg("fork: redis-server");
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", f->sock,
		    "--save", "", "--appendonly", "no", "--dir", f->dir, (char *)NULL);
		_exit(127);
	}
	f->redis = pid;
	for (int i = 0; i < 250; i++) {
		redisContext *c = redisConnectUnix(f->sock);
		redisReply *rep = NULL;

		if (c != NULL && c->err == 0)
			rep = redisCommand(c, "PING");
		if (rep != NULL && rep->type == REDIS_REPLY_STATUS &&
		    strcmp(rep->str, "PONG") == 0) {
			freeReplyObject(rep);
			redisFree(c);
			return;
		}
		if (rep != NULL)
			freeReplyObject(rep);
		if (c != NULL)
			redisFree(c);
		sleep_ms(20);
	}
	fail_msg("redis-server did not answer PING on %s within 5 s", f->sock);
}

static void
redis_stop(struct fixture *f, int sig)
{
	if (f->redis <= 0)
		return;
	kill(f->redis, sig);
	waitpid(f->redis, NULL, 0);
	f->redis = 0;
}

/* One command on a fresh connection of the test's own: the server's view. */
static redisReply *
redis_cmd(struct fixture *f, const char *fmt, ...)
{
	redisContext *c = redisConnectUnix(f->sock);
	redisReply *rep;
	va_list ap;

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	redisFree(c);
	assert_non_null(rep);
	return rep;
}

static long long
redis_int(struct fixture *f, const char *fmt, const char *arg)
{
	redisReply *rep = redis_cmd(f, fmt, arg);
	long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer
	    : rep->type == REDIS_REPLY_STRING          ? atoll(rep->str)
	                                               : -100;

	freeReplyObject(rep);
	return v;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char path[128], *cause = NULL;

	if (!have_redis_server())
		testkit_missing("redis-server (Debian's redis-server)");
	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-redis-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->sock, sizeof f->sock, "%s/redis.sock", f->dir);
	redis_start(f);
	f->conf.enabled = 1;
	f->conf.ttl_seconds = 600;
	f->conf.max_temperature = 0.3;
	f->conf.max_entries = 10000;
	snprintf(f->conf.url, sizeof f->conf.url, "unix://%s", f->sock);
	/* Two instances on two different databases: the cache is Redis's, not theirs. */
	snprintf(path, sizeof path, "%s/a.db", f->dir);
	if (store_open(&f->a, path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	snprintf(path, sizeof path, "%s/b.db", f->dir);
	if (store_open(&f->b, path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->r != NULL)
		router_free(f->r);
	if (f->sim != NULL) {
		sim_stop(f->sim);
		config_free(&f->cfg);
	}
	store_close(f->a);
	store_close(f->b);
	redis_stop(f, SIGTERM);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A deterministic request's canonical key, as the router computes it. */
static void
key_of(const char *prompt, char key[65])
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, prompt);
	req.model = xstrdup("claude-sonnet");
	req.has_temperature = 1;
	req.temperature = 0;
	cache_key(&req, NULL, key);
	llm_request_free(&req);
}

static void
answer(struct llm_response *r, const char *text)
{
	struct llm_part *p;

	llm_response_init(r);
	r->id = xstrdup("msg_1");
	r->model = xstrdup("claude-sonnet-4");
	r->content = xstrdup(text);
	r->stop = LLM_STOP_END;
	r->stop_raw = xstrdup("end_turn");
	r->usage.input_tokens = 12;
	r->usage.output_tokens = 34;
	r->usage.cache_read_tokens = 5;
	p = llm_response_add_part(r, LLM_PART_TEXT);
	p->text = xstrdup(text);
}

static void
test_two_handles_share_entries_under_the_canonical_key_with_a_ttl(void **state)
{
	struct fixture *f = *state;
	struct llm_response put, got;
	char key[65], provider[LIMIT_NAME_SIZE], model[LIMIT_ALIAS_SIZE];
	long long ttl;

	key_of("What is 2+2?", key);
	answer(&put, "4");
	assert_int_equal(cache_put(f->a, &f->conf, key, "anthropic", "claude-sonnet", &put), 0);
	/* The other instance (another database) finds it. */
	assert_int_equal(cache_get(f->b, &f->conf, key, &got, provider, model), 1);
	assert_string_equal(got.content, "4");
	assert_string_equal(got.id, "msg_1");
	assert_string_equal(got.model, "claude-sonnet-4");
	assert_string_equal(got.stop_raw, "end_turn");
	assert_int_equal(got.stop, LLM_STOP_END);
	assert_int_equal(got.usage.input_tokens, 12);
	assert_int_equal(got.usage.output_tokens, 34);
	assert_int_equal(got.usage.cache_read_tokens, 5);
	assert_int_equal(got.n_parts, 1);
	assert_string_equal(got.parts[0].text, "4");
	assert_string_equal(provider, "anthropic");
	assert_string_equal(model, "claude-sonnet");
	llm_response_free(&got);
	/* The server holds llm_cache:<sha256> with the cache's TTL. */
	assert_int_equal(redis_int(f, "EXISTS llm_cache:%s", key), 1);
	ttl = redis_int(f, "TTL llm_cache:%s", key);
	assert_true(ttl > 590 && ttl <= 600);
	/* Not in either SQLite database. */
	assert_int_equal(cache_get(f->a, &(struct cache_conf){.enabled = 1, .ttl_seconds = 600},
	                     key, &got, NULL, NULL),
	    0);
	llm_response_free(&put);
}

static void
test_flush_and_the_figures_work_on_redis(void **state)
{
	struct fixture *f = *state;
	struct llm_response put, got;
	struct cache_stats cs;
	char k1[65], k2[65], k3[65];

	key_of("one", k1);
	key_of("two", k2);
	key_of("three", k3);
	answer(&put, "an answer");
	/* Bound before any lookup: flush and stats go to Redis (llmdeck_open_store does this). */
	cache_set_url(f->b, f->conf.url);
	assert_int_equal(cache_put(f->a, &f->conf, k1, "p", "m", &put), 0);
	assert_int_equal(cache_put(f->a, &f->conf, k2, "p", "m", &put), 0);
	assert_int_equal(cache_get(f->a, &f->conf, k1, &got, NULL, NULL), 1);
	llm_response_free(&got);
	assert_int_equal(cache_get(f->b, &f->conf, k2, &got, NULL, NULL), 1);
	llm_response_free(&got);
	assert_int_equal(cache_get(f->a, &f->conf, k3, &got, NULL, NULL), 0);
	llm_response_free(&got);
	/* The fleet's figures, from either handle. */
	assert_int_equal(cache_get_stats(f->b, &cs), 0);
	assert_int_equal(cs.entries, 2);
	assert_int_equal(cs.hits, 2);
	assert_int_equal(cs.misses, 1);
	assert_int_equal(redis_int(f, "GET %s", "llm_cache:hits"), 2);
	assert_int_equal(redis_int(f, "GET %s", "llm_cache:misses"), 1);
	/* Flush deletes the entries, keeps the counters. */
	assert_int_equal(cache_flush(f->b), 2);
	assert_int_equal(redis_int(f, "EXISTS llm_cache:%s", k1), 0);
	assert_int_equal(redis_int(f, "EXISTS llm_cache:%s", k2), 0);
	assert_int_equal(cache_get_stats(f->a, &cs), 0);
	assert_int_equal(cs.entries, 0);
	assert_int_equal(cs.hits, 2);
	assert_int_equal(cs.misses, 1);
	assert_int_equal(cache_get(f->a, &f->conf, k1, &got, NULL, NULL), 0);
	llm_response_free(&got);
	llm_response_free(&put);
}

/* A router on one simulated Anthropic provider with the cache in Redis; store may be NULL. */
static void
router_start(struct fixture *f, struct store *store)
{
	struct router_opts ro;
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "sim");
	so.protocol = SIM_ANTHROPIC;
	if ((f->sim = sim_start(&so, &cause)) == NULL)
		fail_msg("sim_start: %s", cause);
	config_init(&f->cfg);
	f->cfg.providers = xcalloc(1, sizeof *f->cfg.providers);
	f->cfg.n_providers = 1;
	p = &f->cfg.providers[0];
	p->name = xstrdup("anthropic");
	p->kind = PROVIDER_ANTHROPIC;
	p->base_url = xstrdup(sim_url(f->sim));
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("claude-sonnet");
	p->n_models = 1;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 10;
	p->tls_verify = 1;
	p->enabled = 1;
	f->cfg.breaker.probe_interval_ms = 0;
	f->cfg.cache.url[0] = '\0';
	strlcpy_(f->cfg.cache.url, f->conf.url, sizeof f->cfg.cache.url);
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.store = store;
	if ((f->r = router_new(&f->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
}

static void
ask(struct fixture *f, const char *prompt, struct router_result *res)
{
	struct llm_request req;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, prompt);
	req.temperature = 0;
	req.has_temperature = 1;
	req.max_tokens = 100;
	router_generate(f->r, &req, NULL, NULL, res);
	llm_request_free(&req);
}

/* Events whose message has needle. */
static int
events_with(struct fixture *f, const char *needle)
{
	struct event ev[256];
	size_t n = event_last(router_events(f->r), ev, 256);
	int k = 0;

	for (size_t i = 0; i < n; i++)
		if (ev[i].kind == EV_CACHE && strstr(ev[i].message, needle) != NULL)
			k++;
	return k;
}

/* Ask until the answer comes from the cache (Redis back, its backoff over): 5 s at most. */
static void
ask_until_cached(struct fixture *f, const char *prompt)
{
	struct router_result res;

	for (int i = 0; i < 100; i++) {
		ask(f, prompt, &res);
		assert_int_equal(res.cls, LLM_OK);
		if (res.cached) {
			router_result_free(&res);
			return;
		}
		router_result_free(&res);
		sleep_ms(50);
	}
	fail_msg("no cache hit within 5 s");
}

static void
test_redis_down_is_a_miss_and_one_event_never_a_failed_request(void **state)
{
	struct fixture *f = *state;
	struct router_result res;

	router_start(f, f->a);
	ask(f, "What is 2+2?", &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_false(res.cached);
	router_result_free(&res);
	ask(f, "What is 2+2?", &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_true(res.cached);
	router_result_free(&res);

	redis_stop(f, SIGKILL);
	for (int i = 0; i < 5; i++) {
		ask(f, "What is 2+2?", &res);
		assert_int_equal(res.cls, LLM_OK); /* answered by the provider */
		assert_false(res.cached);
		assert_true(res.resp.content[0] != '\0');
		router_result_free(&res);
	}
	assert_int_equal(events_with(f, "unreachable"), 1); /* once, not per request */
	assert_int_equal(events_with(f, "answers again"), 0);

	redis_start(f); /* empty: no persistence */
	ask_until_cached(f, "What is 2+2?");
	assert_int_equal(events_with(f, "answers again"), 1);
	assert_int_equal(events_with(f, "unreachable"), 1);
}

static void
test_a_router_with_no_store_uses_redis(void **state)
{
	struct fixture *f = *state;
	struct router_result res;
	struct cache_stats cs;

	router_start(f, NULL); /* serve --no-db */
	ask(f, "no database", &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_false(res.cached);
	router_result_free(&res);
	ask(f, "no database", &res);
	assert_int_equal(res.cls, LLM_OK);
	assert_true(res.cached);
	router_result_free(&res);
	/* An instance with a store sees the same entry and figures. */
	cache_set_url(f->b, f->conf.url);
	assert_int_equal(cache_get_stats(f->b, &cs), 0);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.hits, 1);
	assert_int_equal(cs.misses, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_two_handles_share_entries_under_the_canonical_key_with_a_ttl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_and_the_figures_work_on_redis, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_redis_down_is_a_miss_and_one_event_never_a_failed_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_router_with_no_store_uses_redis, setup,
	        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
