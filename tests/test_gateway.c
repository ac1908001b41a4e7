/*
 * test_gateway.c: the HTTP gateway over loopback, libcurl as the client, the
 * router in-process and simulated providers behind it: every endpoint, both
 * client formats against both provider kinds, streams (failover before the
 * first token, failure after it), errors, auth, limits, metrics, and a load
 * test through a provider failing half its requests that loses nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

struct fixture {
	struct testkit kit;
	struct router *r;
	struct gateway *gw;
	char base[128];
};

struct reply {
	long status;
	struct buf body;
	struct buf headers;
	cJSON *json;
};

static size_t
on_write(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

static void
reply_free(struct reply *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
	cJSON_Delete(r->json);
}

/* A header's value from the reply (case-insensitive name), or NULL. */
static char *
reply_header(struct reply *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	char *line = r->headers.data;

	while (line != NULL && *line != '\0') {
		char *eol = strstr(line, "\r\n");
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			size_t len = (eol != NULL ? (size_t)(eol - line) : strlen(line)) - n - 1;
			const char *v = line + n + 1;
			while (len > 0 && *v == ' ') {
				v++;
				len--;
			}
			snprintf(out, outlen, "%.*s", (int)len, v);
			return out;
		}
		line = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

static void
easy_setup(CURL *c, struct reply *r, const char *url, const char *method, const char *body,
    struct curl_slist *hdrs)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* One request; extra is a NULL-terminated list of header lines. */
static void
http(struct fixture *f, const char *method, const char *path, const char *body, struct reply *r,
    const char *const *extra)
{
	struct curl_slist *h = NULL;
	char url[256];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	buf_init(&r->headers);
	snprintf(url, sizeof url, "%s%s", f->base, path);
	if (body != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	for (; extra != NULL && *extra != NULL; extra++)
		h = curl_slist_append(h, *extra);
	easy_setup(c, r, url,
	    strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ? NULL : method, body, h);
	if (strcmp(method, "GET") == 0 && body == NULL)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	r->json = cJSON_Parse(r->body.data);
}

static const char *
jstr(const cJSON *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o != NULL && (dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
		o = key[0] >= '0' && key[0] <= '9' ? cJSON_GetArrayItem(o, atoi(key))
		                                   : cJSON_GetObjectItemCaseSensitive(o, key);
		path = dot + 1;
	}
	if (o == NULL)
		return NULL;
	o = path[0] >= '0' && path[0] <= '9' ? cJSON_GetArrayItem(o, atoi(path))
	                                     : cJSON_GetObjectItemCaseSensitive(o, path);
	return cJSON_IsString(o) ? o->valuestring : NULL;
}

static struct provider_conf *
add_provider(struct fixture *f, const char *name, enum sim_protocol proto, int priority)
{
	return testkit_add_provider(&f->kit, name, proto, priority, 1);
}

static void
add_route(struct fixture *f, const char *name, const char *primary, const char *fallback)
{
	testkit_add_route(&f->kit, name, primary, fallback);
}

static void
control(struct fixture *f, size_t i, const char *json)
{
	testkit_control(&f->kit, i, json);
}

static struct gateway *
start_gateway_opts(struct fixture *f, const struct gateway_opts *go)
{
	struct router_opts ro;
	char *cause = NULL;
	struct gateway *gw;

	if (f->r == NULL) {
		memset(&ro, 0, sizeof ro);
		ro.seed = 99;
		ro.no_probes = 1;
		ro.backoff_base_ms = 1;
		ro.backoff_max_ms = 50;
		f->r = router_new(&f->kit.cfg, &ro, &cause);
		if (f->r == NULL)
			fail_msg("router_new: %s", cause);
	}
	gw = gateway_start(f->r, go, &cause);
	if (gw == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(gw));
	return gw;
}

/* Two providers (an: anthropic, oa: openai) and routes pinned to each. */
static void
start_two(struct fixture *f)
{
	struct gateway_opts go;

	add_provider(f, "an", SIM_ANTHROPIC, 1);
	add_provider(f, "oa", SIM_OPENAI, 1);
	add_route(f, "to-an", "an", NULL);
	add_route(f, "to-oa", "oa", NULL);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	f->gw = start_gateway_opts(f, &go);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	testkit_init(&f->kit);
	f->kit.cfg.breaker.failure_threshold = 1000;
	f->kit.cfg.cache.enabled = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	gateway_stop(f->gw);
	if (f->r != NULL)
		router_free(f->r);
	testkit_free(&f->kit);
	free(f);
	return 0;
}

static const char chat_body[] =
    "{\"model\":\"%s\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is 2+2?\"}]}],"
    "\"temperature\":0.5,\"max_tokens\":50,\"stop\":\"END\",\"user\":\"ignored\"%s}";
static const char msg_body[] =
    "{\"model\":\"%s\",\"max_tokens\":50,\"system\":\"be brief\",\"messages\":[{\"role\":"
    "\"user\",\"content\":\"What is 2+2?\"}],\"stop_sequences\":[\"END\"]%s}";

static void
chat(struct fixture *f, const char *model, const char *extra, struct reply *r)
{
	char *body = xasprintf(chat_body, model, extra);

	http(f, "POST", "/v1/chat/completions", body, r, NULL);
	free(body);
}

static void
messages(struct fixture *f, const char *model, const char *extra, struct reply *r)
{
	char *body = xasprintf(msg_body, model, extra);

	http(f, "POST", "/v1/messages", body, r, NULL);
	free(body);
}

static void
test_health_ready_models(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *cause = NULL;

	start_two(f);
	http(f, "GET", "/health", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "ok");
	reply_free(&r);

	http(f, "GET", "/ready", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	reply_free(&r);

	http(f, "GET", "/v1/models", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "object"), "list");
	assert_non_null(strstr(r.body.data, "\"id\":\"test-model\""));
	assert_non_null(strstr(r.body.data, "\"id\":\"to-an\""));
	assert_non_null(strstr(r.body.data, "\"id\":\"to-oa\""));
	assert_null(strstr(r.body.data, "test-key"));
	reply_free(&r);

	assert_int_equal(router_set_admin(f->r, "an", ADMIN_DISABLED, &cause), 0);
	assert_int_equal(router_set_admin(f->r, "oa", ADMIN_DISABLED, &cause), 0);
	http(f, "GET", "/ready", NULL, &r, NULL);
	assert_int_equal(r.status, 503);
	reply_free(&r);

	http(f, "GET", "/nope", NULL, &r, NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(jstr(r.json, "error.message"));
	reply_free(&r);
	http(f, "GET", "/v1/chat/completions", NULL, &r, NULL);
	assert_int_equal(r.status, 405);
	reply_free(&r);
}

/* OpenAI in, Anthropic behind; and Anthropic in, OpenAI behind. */
static void
test_formats_cross_providers(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char h[256];

	start_two(f);
	chat(f, "to-an", "", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "object"), "chat.completion");
	assert_string_equal(jstr(r.json, "choices.0.message.role"), "assistant");
	assert_non_null(strstr(jstr(r.json, "choices.0.message.content"), "[an]"));
	assert_non_null(strstr(jstr(r.json, "choices.0.message.content"), "2+2"));
	assert_non_null(jstr(r.json, "choices.0.finish_reason"));
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "usage"), "completion_tokens")
	                ->valuedouble > 0);
	assert_string_equal(reply_header(&r, "x-llmdeck-provider", h, sizeof h), "an");
	assert_string_equal(reply_header(&r, "x-llmdeck-model", h, sizeof h), "test-model");
	assert_string_equal(reply_header(&r, "x-llmdeck-attempts", h, sizeof h), "1 an:ok");
	assert_string_equal(reply_header(&r, "x-llmdeck-cache", h, sizeof h), "miss");
	assert_non_null(reply_header(&r, "x-llmdeck-cost-usd", h, sizeof h));
	assert_true(atof(h) > 0);
	assert_null(strstr(r.headers.data, "test-key"));
	reply_free(&r);

	messages(f, "to-oa", "", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "type"), "message");
	assert_string_equal(jstr(r.json, "role"), "assistant");
	assert_string_equal(jstr(r.json, "content.0.type"), "text");
	assert_non_null(strstr(jstr(r.json, "content.0.text"), "[oa]"));
	assert_non_null(jstr(r.json, "stop_reason"));
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(r.json, "usage"), "output_tokens")
	                ->valuedouble > 0);
	assert_string_equal(reply_header(&r, "x-llmdeck-provider", h, sizeof h), "oa");
	reply_free(&r);

	/* A model alias, and a configured model id, work as the model too. */
	chat(f, "test-model", "", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	messages(f, "test-model-id", "", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

/* The data: payloads of an SSE body, in order; event names into events if given. */
static size_t
sse_split(const char *body, char **datas, size_t max, struct buf *events)
{
	size_t n = 0;
	const char *p = body;

	while (*p != '\0' && n < max) {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		if (len > 6 && strncmp(p, "data: ", 6) == 0)
			datas[n++] = xstrndup(p + 6, len - 6);
		else if (events != NULL && len > 7 && strncmp(p, "event: ", 7) == 0) {
			buf_append(events, p + 7, len - 7);
			buf_puts(events, " ");
		}
		p = eol != NULL ? eol + 1 : p + len;
	}
	return n;
}

static void
free_datas(char **d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i]);
}

static void
test_openai_stream_with_usage(void **state)
{
	struct fixture *f = *state;
	struct reply r, whole;
	struct buf text;
	char *d[512], h[128];
	size_t n;
	int saw_usage = 0;

	start_two(f);
	chat(f, "to-an", "", &whole);
	chat(f, "to-an", ",\"stream\":true,\"stream_options\":{\"include_usage\":true}", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(reply_header(&r, "content-type", h, sizeof h), "text/event-stream"));
	n = sse_split(r.body.data, d, nitems(d), NULL);
	assert_true(n >= 4);
	assert_string_equal(d[n - 1], "[DONE]");
	buf_init(&text);
	for (size_t i = 0; i + 1 < n; i++) {
		cJSON *c = cJSON_Parse(d[i]);
		const char *t;
		assert_non_null(c);
		assert_string_equal(jstr(c, "object"), "chat.completion.chunk");
		if ((t = jstr(c, "choices.0.delta.content")) != NULL)
			buf_puts(&text, t);
		if (cJSON_IsObject(cJSON_GetObjectItem(c, "usage"))) {
			saw_usage = 1;
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c, "choices")), 0);
		}
		cJSON_Delete(c);
	}
	assert_true(saw_usage);
	assert_string_equal(text.data, jstr(whole.json, "choices.0.message.content"));
	assert_non_null(strstr(r.body.data, ": llmdeck provider=an "));
	buf_free(&text);
	free_datas(d, n);
	reply_free(&r);
	reply_free(&whole);
}

static void
test_anthropic_stream(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	struct buf ev, text;
	char *d[512];
	size_t n;

	start_two(f);
	messages(f, "to-oa", ",\"stream\":true", &r);
	assert_int_equal(r.status, 200);
	buf_init(&ev);
	buf_init(&text);
	n = sse_split(r.body.data, d, nitems(d), &ev);
	assert_non_null(strstr(ev.data, "message_start content_block_start"));
	assert_non_null(strstr(ev.data, "content_block_delta"));
	assert_non_null(strstr(ev.data, "content_block_stop message_delta message_stop"));
	for (size_t i = 0; i < n; i++) {
		cJSON *c = cJSON_Parse(d[i]);
		const char *t;
		assert_non_null(c);
		if ((t = jstr(c, "delta.text")) != NULL)
			buf_puts(&text, t);
		cJSON_Delete(c);
	}
	assert_non_null(strstr(text.data, "[oa]"));
	buf_free(&ev);
	buf_free(&text);
	free_datas(d, n);
	reply_free(&r);
}

/* The primary is down: the stream is answered by the fallback, cleanly. */
static void
test_stream_fails_over_before_first_token(void **state)
{
	struct fixture *f = *state;
	struct gateway_opts go;
	struct reply r;
	char *d[512];
	size_t n;

	add_provider(f, "p1", SIM_OPENAI, 1);
	add_provider(f, "p2", SIM_ANTHROPIC, 2);
	add_route(f, "main", "p1", "p2");
	control(f, 0, "{\"fault\":\"down\"}");
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	f->gw = start_gateway_opts(f, &go);

	chat(f, "main", ",\"stream\":true", &r);
	assert_int_equal(r.status, 200);
	n = sse_split(r.body.data, d, nitems(d), NULL);
	assert_string_equal(d[n - 1], "[DONE]");
	assert_non_null(strstr(r.body.data, "[p2]"));
	assert_null(strstr(r.body.data, "\"error\""));
	assert_non_null(strstr(r.body.data, "provider=p2 "));
	free_datas(d, n);
	reply_free(&r);

	messages(f, "main", ",\"stream\":true", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "event: message_stop"));
	assert_non_null(strstr(r.body.data, "[p2]"));
	reply_free(&r);
}

/* A failure after the first token ends with an error event, never a clean end. */
static void
test_stream_failure_midway_is_an_error_event(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *d[512];
	size_t n;
	cJSON *last;

	start_two(f);
	control(f, 0, "{\"fault\":\"midstream\"}");
	control(f, 1, "{\"fault\":\"midstream\"}");

	chat(f, "to-an", ",\"stream\":true", &r);
	assert_int_equal(r.status, 200);
	n = sse_split(r.body.data, d, nitems(d), NULL);
	assert_true(n >= 2);
	assert_null(strstr(r.body.data, "[DONE]"));
	assert_non_null(strstr(r.body.data, "\"delta\":{\"content\":"));
	last = cJSON_Parse(d[n - 1]);
	assert_non_null(jstr(last, "error.message"));
	assert_non_null(jstr(last, "error.type"));
	cJSON_Delete(last);
	free_datas(d, n);
	reply_free(&r);

	messages(f, "to-oa", ",\"stream\":true", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "event: content_block_delta"));
	assert_non_null(strstr(r.body.data, "event: error\ndata: {\"type\":\"error\""));
	assert_null(strstr(r.body.data, "message_stop"));
	reply_free(&r);
}

/* A write callback that takes the first bytes of a stream, then hangs up. */
static size_t
on_write_then_leave(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return strstr(((struct buf *)arg)->data, "data:") != NULL ? 0 : sz * n;
}

/* A client that leaves mid-stream cancels the upstream call at once: the
 * router's request ends as cancelled and nothing is in flight. */
static void
test_client_leaving_mid_stream_cancels_upstream(void **state)
{
	struct fixture *f = *state;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct router_snapshot s;
	struct buf got;
	char url[256];
	CURL *c = curl_easy_init();
	uint64_t cancelled = 0, in_flight = 1;

	start_two(f);
	control(f, 0, "{\"token_delay_ms\":500}");
	buf_init(&got);
	buf_puts(&got, "");
	snprintf(url, sizeof url, "%s/v1/chat/completions", f->base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS,
	    "{\"model\":\"to-an\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"a long story please\"}]}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write_then_leave);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	assert_non_null(strstr(got.data, "data:"));
	buf_free(&got);
	/* Bounded wait for the cancel to travel (the next delta wakes the stream). */
	for (int i = 0; i < 400 && (cancelled == 0 || in_flight != 0); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		router_snapshot(f->r, &s);
		cancelled = s.cancelled;
		in_flight = s.in_flight;
		router_snapshot_free(&s);
		if (cancelled == 0 || in_flight != 0)
			nanosleep(&ts, NULL);
	}
	assert_int_equal(cancelled, 1);
	assert_int_equal(in_flight, 0);
	router_snapshot(f->r, &s);
	assert_int_equal(s.failed, 0);
	assert_int_equal(s.providers[0].errors, 0);
	router_snapshot_free(&s);
}

static void
test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	start_two(f);
	http(f, "POST", "/v1/chat/completions", "{\"model\":", &r, NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "not valid JSON"));
	reply_free(&r);

	http(f, "POST", "/v1/chat/completions", "[1,2]", &r, NULL);
	assert_int_equal(r.status, 400);
	reply_free(&r);

	chat(f, "to-an", ",\"temperature\":\"hot\"", &r);
	/* A duplicate key: cJSON takes the first, so use a fresh body instead. */
	reply_free(&r);
	http(f, "POST", "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}],\"temperature\":\"hot\"}",
	    &r, NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "temperature");
	assert_non_null(strstr(jstr(r.json, "error.message"), "temperature"));
	reply_free(&r);

	http(f, "POST", "/v1/chat/completions", "{\"model\":\"to-an\",\"messages\":\"hi\"}", &r,
	    NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "messages");
	reply_free(&r);

	http(f, "POST", "/v1/chat/completions",
	    "{\"model\":\"to-an\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}],\"stop\":[1]}",
	    &r, NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "stop");
	reply_free(&r);

	chat(f, "no-such-model", "", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.param"), "model");
	assert_non_null(strstr(jstr(r.json, "error.message"), "no-such-model"));
	reply_free(&r);

	http(f, "POST", "/v1/messages",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}",
	    &r, NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "type"), "error");
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "max_tokens"));
	reply_free(&r);

	messages(f, "nope", "", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "model"));
	reply_free(&r);

	/* Regression: an empty content array crashed serve (NULL text), every role. */
	static const char *const roles[] = {"system", "developer", "user", "assistant"};
	char body[256];

	for (size_t i = 0; i < nitems(roles); i++) {
		snprintf(body, sizeof body,
		    "{\"model\":\"to-an\",\"messages\":[{\"role\":\"%s\",\"content\":[]}]}",
		    roles[i]);
		http(f, "POST", "/v1/chat/completions", body, &r, NULL);
		assert_int_equal(r.status, 400);
		assert_string_equal(jstr(r.json, "error.param"), "messages[0].content");
		assert_non_null(strstr(jstr(r.json, "error.message"), "empty"));
		reply_free(&r);
	}
	http(f, "POST", "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":5,\"system\":[],"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    &r, NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "system: an empty array"));
	reply_free(&r);
	http(f, "POST", "/v1/messages",
	    "{\"model\":\"to-oa\",\"max_tokens\":5,"
	    "\"messages\":[{\"role\":\"assistant\",\"content\":[]}]}",
	    &r, NULL);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "messages[0].content"));
	reply_free(&r);
	/* Still serving. */
	chat(f, "to-an", "", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

static void
test_body_limit(void **state)
{
	struct fixture *f = *state;
	struct gateway_opts go;
	struct gateway *small;
	struct reply r;
	char *big, *body;

	start_two(f);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.max_body = 1024;
	small = start_gateway_opts(f, &go);
	big = xmalloc(4000);
	memset(big, 'a', 3999);
	big[3999] = '\0';
	body =
	    xasprintf("{\"model\":\"to-an\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
	        big);
	http(f, "POST", "/v1/chat/completions", body, &r, NULL);
	assert_int_equal(r.status, 413);
	assert_non_null(jstr(r.json, "error.message"));
	reply_free(&r);
	/* Under the limit, the same gateway answers. */
	chat(f, "to-an", "", &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	free(body);
	free(big);
	gateway_stop(small);
}

/*
 * The connection's memory is 16 KiB: an SDK's headers plus an 8 KiB token
 * still pass with a body just under the 1 MiB limit, and headers too
 * large for it get a 431: the gateway's, in the API's format, while an answer
 * still fits beside them; libmicrohttpd's beyond.
 */
static void
test_header_limits(void **state)
{
	struct fixture *f = *state;
	static const char *sdk[] = {"Accept: application/json", "User-Agent: OpenAI/JS 4.77.0",
	    "x-stainless-lang: js", "x-stainless-package-version: 4.77.0", "x-stainless-os: Linux",
	    "x-stainless-arch: x64", "x-stainless-runtime: node",
	    "x-stainless-runtime-version: v18.19.0", "x-stainless-retry-count: 0",
	    "x-stainless-timeout: 600000",
	    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01",
	    NULL, NULL};
	struct reply r;
	char h[256], *pad, *big, *body;
	size_t n = 8192;

	start_two(f);
	pad = xmalloc(20001);
	memset(pad, 't', 20000);
	pad[20000] = '\0';
	sdk[nitems(sdk) - 2] = big = xasprintf("x-forwarded-token: %.*s", (int)n, pad);
	body = xasprintf("{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\","
	                 "\"content\":\"%*s\"}]}",
	    GATEWAY_DEFAULT_MAX_BODY - 100, "hi");
	assert_true(strlen(body) < GATEWAY_DEFAULT_MAX_BODY);
	http(f, "POST", "/v1/chat/completions", body, &r, sdk);
	assert_int_equal(r.status, 200);
	assert_string_equal(reply_header(&r, "x-llmdeck-attempts", h, sizeof h), "1 oa:ok");
	reply_free(&r);
	free(big);

	/* 14 KB of headers: a 431 from the gateway, in OpenAI's and Anthropic's format. */
	n = 14200;
	sdk[nitems(sdk) - 2] = big = xasprintf("x-forwarded-token: %.*s", (int)n, pad);
	http(f, "POST", "/v1/chat/completions", "{}", &r, sdk);
	assert_int_equal(r.status, 431);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "headers too large"));
	reply_free(&r);
	http(f, "POST", "/v1/messages", "{}", &r, sdk);
	assert_int_equal(r.status, 431);
	assert_string_equal(jstr(r.json, "type"), "error");
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	reply_free(&r);
	free(big);

	/* 20 KB: libmicrohttpd's own 431, still an answer. */
	n = 20000;
	sdk[nitems(sdk) - 2] = big = xasprintf("x-forwarded-token: %.*s", (int)n, pad);
	http(f, "POST", "/v1/chat/completions", "{}", &r, sdk);
	assert_int_equal(r.status, 431);
	reply_free(&r);
	free(big);
	free(body);
	free(pad);
}

static void
test_upstream_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char h[256];

	start_two(f);
	/* Every attempt fails: 502 with the attempts listed. */
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	chat(f, "to-an", "", &r);
	assert_int_equal(r.status, 502);
	assert_non_null(jstr(r.json, "error.message"));
	assert_string_equal(jstr(r.json, "error.code"), "server_error");
	assert_string_equal(reply_header(&r, "x-llmdeck-attempts", h, sizeof h),
	    "2 an:server_error,an:server_error");
	reply_free(&r);

	/* Rate limited with a long retry-after: 429 passing it on. */
	control(f, 1, "{\"error_rate\":1,\"error_status\":429,\"retry_after\":30}");
	chat(f, "to-oa", "", &r);
	assert_int_equal(r.status, 429);
	assert_string_equal(jstr(r.json, "error.type"), "rate_limit_exceeded");
	assert_string_equal(reply_header(&r, "retry-after", h, sizeof h), "30");
	reply_free(&r);

	/* Its retry-after keeps the provider out: nothing usable, 503 with a retry-after. */
	messages(f, "to-oa", "", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(jstr(r.json, "type"), "error");
	assert_string_equal(jstr(r.json, "error.type"), "api_error");
	assert_non_null(reply_header(&r, "retry-after", h, sizeof h));
	reply_free(&r);

	/* An error before the first token of a stream is a plain error response. */
	chat(f, "to-an", ",\"stream\":true", &r);
	assert_int_equal(r.status, 502);
	assert_non_null(jstr(r.json, "error.message"));
	reply_free(&r);
}

static void
test_auth(void **state)
{
	struct fixture *f = *state;
	struct gateway_opts go;
	struct reply r;
	char *cause = NULL;
	const char *none[] = {NULL};
	const char *wrong[] = {"Authorization: Bearer nope", NULL};
	const char *shorter[] = {"Authorization: Bearer s3cr", NULL};
	const char *right[] = {"Authorization: Bearer s3cret-token", NULL};
	const char *xkey[] = {"x-api-key: s3cret-token", NULL};

	add_provider(f, "an", SIM_ANTHROPIC, 1);
	/* Non-loopback without a token: refused, naming the variable. */
	unsetenv("LLMDECK_TEST_GW_TOKEN");
	gateway_opts_init(&go);
	go.listen = "0.0.0.0:0";
	go.token_env = "LLMDECK_TEST_GW_TOKEN";
	{
		struct router_opts ro;
		memset(&ro, 0, sizeof ro);
		ro.no_probes = 1;
		f->r = router_new(&f->kit.cfg, &ro, &cause);
		assert_non_null(f->r);
	}
	assert_null(gateway_start(f->r, &go, &cause));
	assert_non_null(strstr(cause, "LLMDECK_TEST_GW_TOKEN"));
	assert_null(strchr(cause, '\n'));
	free(cause);
	cause = NULL;
	go.listen = "127.0.0.1:0";
	go.require_token = 1;
	assert_null(gateway_start(f->r, &go, &cause));
	free(cause);
	cause = NULL;
	go.listen = "127.0.0.1:notaport";
	go.require_token = 0;
	assert_null(gateway_start(f->r, &go, &cause));
	assert_non_null(strstr(cause, "HOST:PORT"));
	free(cause);

	setenv("LLMDECK_TEST_GW_TOKEN", "s3cret-token", 1);
	go.listen = "127.0.0.1:0";
	go.require_token = 1;
	f->gw = start_gateway_opts(f, &go);
	http(f, "POST", "/v1/chat/completions", "{}", &r, none);
	assert_int_equal(r.status, 401);
	assert_string_equal(jstr(r.json, "error.type"), "authentication_error");
	reply_free(&r);
	http(f, "GET", "/v1/models", NULL, &r, wrong);
	assert_int_equal(r.status, 401);
	reply_free(&r);
	http(f, "GET", "/metrics", NULL, &r, shorter);
	assert_int_equal(r.status, 401);
	reply_free(&r);
	http(f, "POST", "/v1/messages", "{}", &r, none);
	assert_int_equal(r.status, 401);
	assert_string_equal(jstr(r.json, "type"), "error");
	reply_free(&r);
	http(f, "GET", "/v1/models", NULL, &r, right);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	http(f, "POST", "/v1/messages",
	    "{\"model\":\"test-model\",\"max_tokens\":10,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    &r, xkey);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	http(f, "GET", "/health", NULL, &r, none);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	unsetenv("LLMDECK_TEST_GW_TOKEN");
}

/* The value of an unlabelled series in a /metrics text; fails the test if absent. */
static unsigned long long
metric(const char *text, const char *name)
{
	char want[128];
	const char *p;

	snprintf(want, sizeof want, "\n%s ", name);
	if ((p = strstr(text, want)) == NULL)
		fail_msg("no %s in the metrics", name);
	return strtoull(p + strlen(want), NULL, 10);
}

static void
test_metrics_after_traffic(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	const char *want[] = {
	    "# HELP llmdeck_gateway_http_requests_total ",
	    "# TYPE llmdeck_gateway_http_requests_total counter\n",
	    "llmdeck_gateway_http_requests_total{endpoint=\"chat_completions\",code=\"200\"} 2\n",
	    "llmdeck_gateway_http_requests_total{endpoint=\"messages\",code=\"200\"} 1\n",
	    "llmdeck_gateway_http_requests_total{endpoint=\"chat_completions\",code=\"400\"} 1\n",
	    "llmdeck_gateway_http_requests_total{endpoint=\"chat_completions\",code=\"502\"} 1\n",
	    "llmdeck_gateway_errors_total{api=\"openai\",class=\"server_error\"} 1\n",
	    "# TYPE llmdeck_gateway_request_duration_seconds histogram\n",
	    "llmdeck_gateway_request_duration_seconds_bucket{api=\"openai\",le=\"+Inf\"} ",
	    "llmdeck_gateway_request_duration_seconds_count{api=\"anthropic\"} 1\n",
	    "llmdeck_requests_total 4\n",
	    "llmdeck_requests_answered_total 3\n",
	    "llmdeck_provider_requests_total{provider=\"an\"} ",
	    "llmdeck_provider_successes_total{provider=\"oa\"} ",
	    "llmdeck_provider_errors_total{provider=\"an\",class=\"server_error\"} 2\n",
	    "llmdeck_provider_breaker_state{provider=\"an\",state=\"closed\"} 1\n",
	    "llmdeck_provider_input_tokens_total{provider=\"oa\"} ",
	    "llmdeck_provider_cost_usd_total{provider=\"an\"} ",
	    "# TYPE llmdeck_provider_latency_seconds histogram\n",
	    "llmdeck_provider_latency_seconds_bucket{provider=\"an\",le=\"0.1\"} ",
	    "llmdeck_cache_hits_total 0\n",
	    "llmdeck_cost_usd_total ",
	};

	start_two(f);
	chat(f, "to-an", "", &r);
	reply_free(&r);
	chat(f, "to-oa", "", &r);
	reply_free(&r);
	messages(f, "to-an", "", &r);
	reply_free(&r);
	chat(f, "nope", "", &r);
	reply_free(&r);
	control(f, 0, "{\"error_rate\":1,\"error_status\":500}");
	chat(f, "to-an", "", &r);
	assert_int_equal(r.status, 502);
	reply_free(&r);

	http(f, "GET", "/metrics", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	for (size_t i = 0; i < nitems(want); i++)
		if (strstr(r.body.data, want[i]) == NULL)
			fail_msg("metrics lack \"%s\":\n%s", want[i], r.body.data);
	assert_null(strstr(r.body.data, "test-key"));
	/* Connection reuse: 5 sequential attempts on 2 providers, at most one
	 * connection each (and no TLS on loopback). */
	assert_true(metric(r.body.data, "llmdeck_upstream_transfers_total") >= 5);
	assert_in_range(metric(r.body.data, "llmdeck_upstream_connections_total"), 1, 2);
	assert_int_equal(metric(r.body.data, "llmdeck_upstream_tls_handshakes_total"), 0);
	reply_free(&r);
}

/*
 * 2000 requests, 64 at a time over kept-alive connections, one of two
 * providers failing half of its requests: every client gets a 200.
 */
static void
test_load_loses_nothing(void **state)
{
	struct fixture *f = *state;
	struct gateway_opts go;
	enum { TOTAL = 2000, CONC = 64 };
	struct reply *rs = xcalloc(CONC, sizeof *rs);
	CURL **easy = xcalloc(CONC, sizeof *easy);
	CURLM *m = curl_multi_init();
	struct curl_slist *h = NULL;
	char url[256];
	int started = 0, ok = 0, running, bad = 0;
	long conns = 0, nc;
	const char *body = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\","
	                   "\"content\":\"load\"}],\"max_tokens\":20}";

	add_provider(f, "flaky", SIM_OPENAI, 1);
	add_provider(f, "steady", SIM_ANTHROPIC, 1);
	f->kit.cfg.providers[0].max_retries = 2;
	control(f, 0, "{\"error_rate\":0.5,\"error_status\":503}");
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	f->gw = start_gateway_opts(f, &go);
	snprintf(url, sizeof url, "%s/v1/chat/completions", f->base);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)CONC);
	for (int i = 0; i < CONC; i++) {
		easy[i] = curl_easy_init();
		buf_init(&rs[i].body);
		buf_init(&rs[i].headers);
		easy_setup(easy[i], &rs[i], url, NULL, body, h);
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (char *)(intptr_t)i);
		curl_multi_add_handle(m, easy[i]);
		started++;
	}
	do {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			char *priv;
			long status = 0;
			int i;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			i = (int)(intptr_t)priv;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &nc);
			conns += nc;
			if (msg->data.result == CURLE_OK && status == 200 &&
			    strstr(rs[i].body.data, "\"chat.completion\"") != NULL)
				ok++;
			else if (bad++ == 0)
				fprintf(stderr, "failed: curl %d status %ld body %s\n",
				    msg->data.result, status, rs[i].body.data);
			curl_multi_remove_handle(m, easy[i]);
			if (started < TOTAL) {
				buf_reset(&rs[i].body);
				buf_reset(&rs[i].headers);
				curl_multi_add_handle(m, easy[i]);
				started++;
				running++;
			}
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running > 0);
	assert_int_equal(bad, 0);
	assert_int_equal(ok, TOTAL);
	/* Kept alive: far fewer connections than requests. */
	assert_true(conns <= 2 * CONC);
	for (int i = 0; i < CONC; i++) {
		curl_easy_cleanup(easy[i]);
		reply_free(&rs[i]);
	}
	curl_slist_free_all(h);
	curl_multi_cleanup(m);
	free(easy);
	free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_health_ready_models, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_formats_cross_providers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_openai_stream_with_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_anthropic_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_fails_over_before_first_token, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_stream_failure_midway_is_an_error_event, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_client_leaving_mid_stream_cancels_upstream, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upstream_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_after_traffic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_loses_nothing, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
