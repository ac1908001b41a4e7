/* drill.c: failover drills shared by test_drill and bench_drill (see drill.h). */
#include "drill.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

const struct drill_phase drill_phases[] = {
    {"30% 500", "{\"error_rate\":0.3,\"error_status\":500}"},
    {"429 retry-after", "{\"error_rate\":0.3,\"error_status\":429,\"retry_after\":1}"},
    {"30% 529", "{\"error_rate\":0.3,\"error_status\":529}"},
    {"30% 503", "{\"error_rate\":0.3,\"error_status\":503}"},
    {"hang", "{\"fault\":\"hang\"}"},
    {"slow", "{\"fault\":\"slow\"}"},
    {"drop", "{\"fault\":\"drop\"}"},
    {"malformed", "{\"fault\":\"malformed\"}"},
    {"truncated", "{\"fault\":\"truncated\"}"},
    {"midstream", "{\"fault\":\"midstream\"}"},
    {"down", "{\"fault\":\"down\"}"},
};
const size_t drill_n_phases = sizeof drill_phases / sizeof drill_phases[0];

void
drill_kit(struct testkit *k, double timeout_seconds)
{
	testkit_init(k);
	testkit_add_provider(k, "primary", SIM_ANTHROPIC, 1, 1);
	testkit_add_provider(k, "fb-openai", SIM_OPENAI, 2, 1);
	testkit_add_provider(k, "fb-mistral", SIM_MISTRAL, 2, 1);
	for (size_t i = 0; i < k->cfg.n_providers; i++)
		k->cfg.providers[i].timeout_seconds = timeout_seconds;
}

struct drill {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned running;
	struct drill_stats *st;
	uint64_t *lat;
	size_t n_lat;
	uint64_t *fb_lat; /* answered after a timed-out attempt */
	size_t n_fb;
};

struct drill_req {
	struct drill *d;
	int stream;
	struct buf text; /* the deltas, in order */
};

static void
on_delta(void *arg, const struct llm_delta *d)
{
	struct drill_req *q = arg;

	if (d->type != LLM_DELTA_TEXT)
		return;
	buf_append(&q->text, d->text, d->len);
}

static void
drill_fail(struct drill_stats *st, const struct router_result *res)
{
	if (st->first_failure[0] == '\0')
		snprintf(st->first_failure, sizeof st->first_failure, "%s: %s",
		    llm_errclass_name(res->cls), res->err.message);
}

static void
on_done(void *arg, struct router_result *res)
{
	struct drill_req *q = arg;
	struct drill *d = q->d;
	struct drill_stats *st = d->st;
	const char *c = res->resp.content;
	int whole = res->cls == LLM_OK && c != NULL && c[0] != '\0' && c[strlen(c) - 1] == '.';

	int timed_out = 0;

	pthread_mutex_lock(&d->mu);
	st->attempts += (unsigned)res->n_attempts;
	d->lat[d->n_lat++] = res->latency_us;
	for (size_t i = 0; i < res->n_attempts; i++)
		if (res->attempts[i].cls == LLM_ERR_TIMEOUT) {
			timed_out = 1;
			if (res->attempts[i].limit_ms > st->timeout_limit_ms)
				st->timeout_limit_ms = res->attempts[i].limit_ms;
		}
	if (timed_out && res->cls == LLM_OK)
		d->fb_lat[d->n_fb++] = res->latency_us;
	if (q->stream) {
		st->streams++;
		if (res->cls == LLM_OK && whole && q->text.len > 0 && strcmp(q->text.data, c) == 0)
			st->streams_complete++;
		else if (res->cls == LLM_OK)
			st->silent_cuts++;
		else if (res->cls == LLM_ERR_STREAM)
			st->streams_broken++;
	} else if (res->cls == LLM_OK && !whole) {
		st->silent_cuts++;
	}
	if (res->cls == LLM_OK) {
		st->ok++;
		if (strcmp(res->provider, "primary") == 0)
			st->by_primary++;
	} else if (!(q->stream && res->cls == LLM_ERR_STREAM)) {
		st->failed++;
		drill_fail(st, res);
	}
	d->running--;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	buf_free(&q->text);
	free(q);
	router_result_free(res);
	free(res);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
drill_run(struct router *r, unsigned n, unsigned concurrency, struct drill_stats *st)
{
	struct drill d;

	memset(st, 0, sizeof *st);
	memset(&d, 0, sizeof d);
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.st = st;
	d.lat = xcalloc(n + 1, sizeof *d.lat);
	d.fb_lat = xcalloc(n + 1, sizeof *d.fb_lat);
	for (unsigned i = 0; i < n; i++) {
		struct drill_req *q = xcalloc(1, sizeof *q);
		struct llm_request req;
		char prompt[64];

		pthread_mutex_lock(&d.mu);
		while (d.running >= concurrency)
			pthread_cond_wait(&d.cv, &d.mu);
		d.running++;
		st->requests++;
		pthread_mutex_unlock(&d.mu);

		q->d = &d;
		q->stream = (int)(i % 2);
		buf_init(&q->text);
		buf_puts(&q->text, "");
		snprintf(prompt, sizeof prompt, "drill request %u", i);
		llm_request_init(&req);
		llm_request_add_message(&req, LLM_ROLE_USER, prompt);
		req.model = xstrdup("test-model");
		req.stream = q->stream;
		req.max_tokens = 400;
		router_submit(r, &req, on_delta, on_done, q);
		llm_request_free(&req);
	}
	pthread_mutex_lock(&d.mu);
	while (d.running > 0)
		pthread_cond_wait(&d.cv, &d.mu);
	pthread_mutex_unlock(&d.mu);
	qsort(d.lat, d.n_lat, sizeof *d.lat, cmp_u64);
	if (d.n_lat > 0) {
		st->p50_us = d.lat[(d.n_lat - 1) / 2];
		st->p99_us = d.lat[(d.n_lat * 99 + 99) / 100 - 1];
		st->max_us = d.lat[d.n_lat - 1];
	}
	qsort(d.fb_lat, d.n_fb, sizeof *d.fb_lat, cmp_u64);
	st->after_timeout = (unsigned)d.n_fb;
	if (d.n_fb > 0) {
		st->after_timeout_p50_us = d.fb_lat[(d.n_fb - 1) / 2];
		st->after_timeout_max_us = d.fb_lat[d.n_fb - 1];
	}
	free(d.lat);
	free(d.fb_lat);
	pthread_mutex_destroy(&d.mu);
	pthread_cond_destroy(&d.cv);
}
