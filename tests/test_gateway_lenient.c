/*
 * test_gateway_lenient.c: what real agent clients send that the APIs take and
 * the gateway used to refuse, over loopback through a real gateway in front of
 * the sims, each provider behind a recording proxy (what the provider got):
 * LangChain's name on a tool message, the AI SDK's eager_input_streaming on
 * Anthropic tools (kept for an Anthropic provider, dropped and counted for an
 * OpenAI one; an OpenAI client's own tool keys likewise), Claude Code's system
 * message inside messages, GET /v1/models in each client's shape, unknown
 * endpoints in the access log, and the x-llmdeck-dropped header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "admin_testutil.h"
#include "testkit.h"
#include "util/util.h"

/* ---- a recording proxy in front of a sim ---- */

/* Forwards each request to the sim and keeps the last body it forwarded. */
struct recorder {
	struct MHD_Daemon *d;
	char target[128]; /* the sim's URL */
	char url[128];    /* ours */
	pthread_mutex_t mu;
	char *last; /* the last request body, or NULL */
};

struct rec_req {
	struct buf body;
};

static size_t
on_write(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

/* A request header the sim needs, copied onto the forwarded request. */
static struct curl_slist *
copy_header(struct curl_slist *h, struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
	char line[512];

	if (v == NULL)
		return h;
	snprintf(line, sizeof line, "%s: %s", name, v);
	return curl_slist_append(h, line);
}

static enum MHD_Result
rec_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static const char *const headers[] = {
	    "Content-Type", "Authorization", "x-api-key", "anthropic-version", "api-key"};
	struct recorder *rc = cls;
	struct rec_req *q = *con_cls;
	struct curl_slist *h = NULL;
	struct MHD_Response *resp;
	struct buf out;
	char target[512], *ctype = NULL;
	long status = 502;
	CURL *c;
	enum MHD_Result ret;

	(void)version;
	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		buf_init(&q->body);
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		buf_append(&q->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	buf_append(&q->body, "", 0);
	pthread_mutex_lock(&rc->mu);
	free(rc->last);
	rc->last = xstrdup(q->body.data);
	pthread_mutex_unlock(&rc->mu);
	snprintf(target, sizeof target, "%s%s", rc->target, url);
	for (size_t i = 0; i < nitems(headers); i++)
		h = copy_header(h, conn, headers[i]);
	h = curl_slist_append(h, "Expect:");
	buf_init(&out);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, target);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body.data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)q->body.len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	}
	buf_append(&out, "", 0);
	/* A stream arrives whole, which the gateway's SSE reader takes as well. */
	resp = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "Content-Type", ctype != NULL ? ctype : "application/json");
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	buf_free(&out);
	return ret;
}

static void
rec_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct rec_req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)t;
	if (q != NULL) {
		buf_free(&q->body);
		free(q);
	}
	*con_cls = NULL;
}

static struct recorder *
recorder_start(const char *target)
{
	struct recorder *rc = xcalloc(1, sizeof *rc);
	const union MHD_DaemonInfo *di;

	pthread_mutex_init(&rc->mu, NULL);
	snprintf(rc->target, sizeof rc->target, "%s", target);
	rc->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	        MHD_USE_ERROR_LOG,
	    0, NULL, NULL, rec_handler, rc, MHD_OPTION_NOTIFY_COMPLETED, rec_done, rc,
	    MHD_OPTION_END);
	if (rc->d == NULL)
		fail_msg("recorder: MHD_start_daemon");
	di = MHD_get_daemon_info(rc->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(rc->url, sizeof rc->url, "http://127.0.0.1:%u", (unsigned)di->port);
	return rc;
}

static void
recorder_stop(struct recorder *rc)
{
	if (rc == NULL)
		return;
	MHD_stop_daemon(rc->d);
	free(rc->last);
	pthread_mutex_destroy(&rc->mu);
	free(rc);
}

/* The last body the provider got, parsed (caller deletes). */
static cJSON *
recorder_last(struct recorder *rc)
{
	cJSON *o;

	pthread_mutex_lock(&rc->mu);
	o = rc->last != NULL ? cJSON_Parse(rc->last) : NULL;
	pthread_mutex_unlock(&rc->mu);
	assert_non_null(o);
	return o;
}

/* ---- the fixture: an Anthropic and an OpenAI sim, each behind a recorder ---- */

struct fixture {
	struct testkit kit;
	struct router *r;
	struct gateway *gw;
	struct recorder *an, *oa;
	FILE *log;
	char base[128];
};

struct reply {
	long status;
	struct buf body;
	struct buf headers;
	cJSON *json;
};

static void
reply_free(struct reply *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
	cJSON_Delete(r->json);
}

/* method path (body: POST's, or NULL), with extra headers (NULL-terminated). */
static void
call(struct fixture *f, const char *method, const char *path, const char *body, struct reply *r,
    const char *const *headers)
{
	struct curl_slist *h = NULL;
	char url[256];
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	buf_init(&r->headers);
	snprintf(url, sizeof url, "%s%s", f->base, path);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	for (; headers != NULL && *headers != NULL; headers++)
		h = curl_slist_append(h, *headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	buf_append(&r->body, "", 0);
	buf_append(&r->headers, "", 0);
	r->json = cJSON_Parse(r->body.data);
}

static void
post(struct fixture *f, const char *path, const char *body, struct reply *r)
{
	call(f, "POST", path, body, r, NULL);
}

/* The response header's value ("" if absent), into out. */
static const char *
header(const struct reply *r, const char *name, char *out, size_t n)
{
	const char *at = r->headers.data;
	size_t len = strlen(name);

	out[0] = '\0';
	while (at != NULL && *at != '\0') {
		if (strncasecmp(at, name, len) == 0 && at[len] == ':') {
			at += len + 1;
			at += strspn(at, " ");
			snprintf(out, n, "%.*s", (int)strcspn(at, "\r\n"), at);
			break;
		}
		at = strchr(at, '\n');
		at = at != NULL ? at + 1 : NULL;
	}
	return out;
}

/* The count of llmdeck_dropped_fields_total{field="label"} in /metrics (0 if absent). */
static long
dropped_count(struct fixture *f, const char *label)
{
	struct reply r;
	char want[128];
	const char *at;
	long n = 0;

	call(f, "GET", "/metrics", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof want, "llmdeck_dropped_fields_total{field=\"%s\"} ", label);
	if ((at = strstr(r.body.data, want)) != NULL)
		n = atol(at + strlen(want));
	reply_free(&r);
	return n;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct gateway_opts go;
	struct router_opts ro;
	struct provider_conf *p;
	char *cause = NULL;

	testkit_init(&f->kit);
	f->kit.cfg.breaker.failure_threshold = 1000;
	f->kit.cfg.cache.enabled = 0;
	p = testkit_add_provider(&f->kit, "an", SIM_ANTHROPIC, 1, 1);
	p->max_retries = 0;
	f->an = recorder_start(p->base_url);
	free(p->base_url);
	p->base_url = xstrdup(f->an->url);
	p = testkit_add_provider(&f->kit, "oa", SIM_OPENAI, 1, 1);
	p->max_retries = 0;
	f->oa = recorder_start(p->base_url);
	free(p->base_url);
	p->base_url = xstrdup(f->oa->url);
	testkit_add_route(&f->kit, "to-an", "an", NULL);
	testkit_add_route(&f->kit, "to-oa", "oa", NULL);
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.backoff_max_ms = 20;
	f->r = router_new(&f->kit.cfg, &ro, &cause);
	if (f->r == NULL)
		fail_msg("router_new: %s", cause);
	f->log = tmpfile();
	assert_non_null(f->log);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.access_log = f->log;
	f->gw = gateway_start(f->r, &go, &cause);
	if (f->gw == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	gateway_stop(f->gw);
	router_free(f->r);
	recorder_stop(f->an);
	recorder_stop(f->oa);
	testkit_free(&f->kit);
	fclose(f->log);
	free(f);
	return 0;
}

#define OA_TOOLS \
	"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"," \
	"\"description\":\"Weather in a city\",\"parameters\":{\"type\":\"object\"," \
	"\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]"

/* LangChain's second request of a tool loop: the ToolMessage carries the tool's name. */
static void
test_tool_message_name(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char v[256];

	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in "
	    "Paris?\"},{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":"
	    "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"content\":"
	    "\"18C\",\"tool_call_id\":\"call_1\",\"name\":\"get_weather\"}]," OA_TOOLS "}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_non_null(jstr(r.json, "choices.0.message.content"));
	assert_string_equal(header(&r, "x-llmdeck-dropped", v, sizeof v), "tool_message.name");
	reply_free(&r);
	assert_int_equal(dropped_count(f, "tool_message.name"), 1);
	/* A name that is not a string is still a 400 naming it. */
	post(f, "/v1/chat/completions",
	    "{\"model\":\"to-oa\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\","
	    "\"tool_call_id\":\"c\",\"name\":7}]}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(jstr(r.json, "error.message"), "messages[0].name"));
	reply_free(&r);
}

#define AN_EAGER_BODY(route) \
	"{\"model\":\"" route "\",\"max_tokens\":200,\"stream\":true,\"messages\":[{\"role\":" \
	"\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"," \
	"\"providerOptions\":{}}]}],\"tools\":[{\"name\":\"get_weather\",\"description\":" \
	"\"Weather in a city\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":" \
	"{\"type\":\"string\"}},\"required\":[\"city\"]},\"eager_input_streaming\":true}]," \
	"\"tool_choice\":{\"type\":\"any\"}}"

/* The AI SDK's streamText with tools on Claude: eager_input_streaming on each tool. */
static void
test_eager_input_streaming(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *got;
	char v[256];

	/* An Anthropic provider gets the key back in place. */
	post(f, "/v1/messages", AN_EAGER_BODY("to-an"), &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "event: message_stop"));
	assert_non_null(strstr(r.body.data, "\"tool_use\""));
	header(&r, "x-llmdeck-dropped", v, sizeof v);
	assert_non_null(strstr(v, "tools[].eager_input_streaming"));
	assert_non_null(strstr(v, "content[].other")); /* providerOptions: not [a-z_] */
	reply_free(&r);
	got = recorder_last(f->an);
	assert_true(cJSON_IsTrue(jget(got, "tools.0.eager_input_streaming")));
	assert_string_equal(jstr(got, "tools.0.name"), "get_weather");
	assert_null(jget(got, "messages.0.content.0.providerOptions"));
	cJSON_Delete(got);

	/* An OpenAI provider answers without it: dropped, counted. */
	post(f, "/v1/messages", AN_EAGER_BODY("to-oa"), &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "event: message_stop"));
	reply_free(&r);
	got = recorder_last(f->oa);
	assert_string_equal(jstr(got, "tools.0.function.name"), "get_weather");
	assert_null(jget(got, "tools.0.eager_input_streaming"));
	assert_null(jget(got, "tools.0.function.eager_input_streaming"));
	cJSON_Delete(got);
	assert_int_equal(dropped_count(f, "tools[].eager_input_streaming"), 2);
}

#define OA_EXTRA_BODY(route) \
	"{\"model\":\"" route "\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in " \
	"Paris?\"}],\"tools\":[{\"type\":\"function\",\"cache_control\":{\"type\":" \
	"\"ephemeral\"},\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":" \
	"\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"x-vendor\":1}}]}"

/* An OpenAI client's own keys on a tool and its function: back in place for an
 * OpenAI provider, dropped for an Anthropic one. */
static void
test_openai_tool_keys(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *got;
	char v[256];

	post(f, "/v1/chat/completions", OA_EXTRA_BODY("to-oa"), &r);
	assert_int_equal(r.status, 200);
	header(&r, "x-llmdeck-dropped", v, sizeof v);
	assert_string_equal(v, "tools[].cache_control,tools[].function.other");
	reply_free(&r);
	got = recorder_last(f->oa);
	assert_string_equal(jstr(got, "tools.0.cache_control.type"), "ephemeral");
	assert_int_equal(jget(got, "tools.0.function.x-vendor")->valueint, 1);
	assert_string_equal(jstr(got, "tools.0.function.name"), "get_weather");
	cJSON_Delete(got);

	post(f, "/v1/chat/completions", OA_EXTRA_BODY("to-an"), &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	got = recorder_last(f->an);
	assert_string_equal(jstr(got, "tools.0.name"), "get_weather");
	assert_null(jget(got, "tools.0.cache_control"));
	assert_null(jget(got, "tools.0.x-vendor"));
	assert_null(jget(got, "tools.0.function"));
	cJSON_Delete(got);
	assert_int_equal(dropped_count(f, "tools[].function.other"), 2);
}

/* The system prompt as the provider got it: Anthropic's string or text blocks. */
static char *
anthropic_system(const cJSON *body)
{
	const cJSON *s = jget(body, "system"), *b;
	struct buf out;

	if (cJSON_IsString(s))
		return xstrdup(s->valuestring);
	buf_init(&out);
	buf_append(&out, "", 0);
	cJSON_ArrayForEach(b, s)
	{
		if (out.len > 0)
			buf_puts(&out, "\n\n");
		buf_puts(&out, jstr(b, "text"));
	}
	return out.data;
}

#define SYSTEM_BODY(route) \
	"{\"model\":\"" route "\",\"max_tokens\":100,\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"hi\"},{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":" \
	"\"be terse\"}]},{\"role\":\"user\",\"content\":\"again\"}],\"system\":\"top\"}"

/* Claude Code's system message at messages[1]: folded into the system prompt. */
static void
test_system_message_folds(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	cJSON *got;
	char *sys, v[256];

	/* "system" after "messages" in the body: the top-level prompt still leads. */
	post(f, "/v1/messages", SYSTEM_BODY("to-an"), &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "x-llmdeck-dropped", v, sizeof v), "");
	reply_free(&r);
	got = recorder_last(f->an);
	sys = anthropic_system(got);
	assert_string_equal(sys, "top\n\nbe terse");
	free(sys);
	for (const cJSON *m = jget(got, "messages")->child; m != NULL; m = m->next)
		assert_string_not_equal(jstr(m, "role"), "system");
	cJSON_Delete(got);

	post(f, "/v1/messages", SYSTEM_BODY("to-oa"), &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	got = recorder_last(f->oa);
	assert_string_equal(jstr(got, "messages.0.role"), "system");
	assert_string_equal(jstr(got, "messages.0.content"), "top\n\nbe terse");
	assert_string_equal(jstr(got, "messages.1.role"), "user");
	cJSON_Delete(got);

	/* Nothing but system messages: no conversation. */
	post(f, "/v1/messages",
	    "{\"model\":\"to-an\",\"max_tokens\":9,\"messages\":[{\"role\":\"system\","
	    "\"content\":\"x\"}]}",
	    &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(jstr(r.json, "error.type"), "invalid_request_error");
	assert_non_null(strstr(jstr(r.json, "error.message"), "user or assistant"));
	reply_free(&r);
}

/* Every model in an Anthropic page has its four fields; first and last are the ends. */
static void
assert_anthropic_models(const cJSON *o)
{
	const cJSON *data = jget(o, "data"), *m;
	int n = cJSON_GetArraySize(data);

	assert_true(n >= 3); /* test-model, to-an, to-oa */
	assert_true(cJSON_IsFalse(jget(o, "has_more")));
	assert_null(jget(o, "object"));
	cJSON_ArrayForEach(m, data)
	{
		assert_string_equal(jstr(m, "type"), "model");
		assert_non_null(jstr(m, "id"));
		assert_non_null(jstr(m, "display_name"));
		assert_non_null(jstr(m, "created_at"));
		assert_null(jget(m, "object"));
	}
	assert_string_equal(jstr(o, "first_id"), jstr(cJSON_GetArrayItem(data, 0), "id"));
	assert_string_equal(jstr(o, "last_id"), jstr(cJSON_GetArrayItem(data, n - 1), "id"));
}

static void
test_models_in_the_callers_shape(void **state)
{
	static const char *const anthropic_sdk[] = {
	    "anthropic-version: 2023-06-01", "x-api-key: k", NULL};
	static const char *const key_only[] = {"x-api-key: k", NULL};
	static const char *const openai_sdk[] = {"Authorization: Bearer k", NULL};
	struct fixture *f = *state;
	struct reply r;
	const cJSON *m;

	call(f, "GET", "/v1/models", NULL, &r, anthropic_sdk);
	assert_int_equal(r.status, 200);
	assert_non_null(r.json);
	assert_anthropic_models(r.json);
	reply_free(&r);
	call(f, "GET", "/v1/models", NULL, &r, key_only);
	assert_int_equal(r.status, 200);
	assert_anthropic_models(r.json);
	reply_free(&r);

	call(f, "GET", "/v1/models", NULL, &r, openai_sdk);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "object"), "list");
	assert_null(jget(r.json, "has_more"));
	assert_true(cJSON_GetArraySize(jget(r.json, "data")) >= 3);
	cJSON_ArrayForEach(m, jget(r.json, "data"))
	{
		assert_string_equal(jstr(m, "object"), "model");
		assert_non_null(jstr(m, "id"));
		assert_non_null(jstr(m, "owned_by"));
		assert_true(cJSON_IsNumber(jget(m, "created")));
		assert_null(jget(m, "type"));
	}
	reply_free(&r);
}

/* A path not served: a 404 naming what is, and a line in the access log. */
static void
test_unknown_endpoint_logged(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char line[4096];
	int found = 0;

	post(f, "/v1/completions", "{\"model\":\"to-oa\",\"prompt\":\"x\"}", &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(jstr(r.json, "error.message"), "POST /v1/responses"));
	assert_non_null(strstr(jstr(r.json, "error.message"), "/v1/responses/{id}/input_items"));
	reply_free(&r);
	fflush(f->log);
	rewind(f->log);
	while (fgets(line, sizeof line, f->log) != NULL) {
		cJSON *o = cJSON_Parse(line);

		if (o != NULL && jstr(o, "endpoint") != NULL &&
		    strcmp(jstr(o, "endpoint"), "unknown") == 0) {
			assert_string_equal(jstr(o, "path"), "/v1/completions");
			assert_string_equal(jstr(o, "method"), "POST");
			assert_int_equal((int)jget(o, "status")->valuedouble, 404);
			found = 1;
		}
		cJSON_Delete(o);
	}
	assert_true(found);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tool_message_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eager_input_streaming, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_openai_tool_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_system_message_folds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_models_in_the_callers_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_endpoint_logged, setup, teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
