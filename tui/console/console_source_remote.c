/*
 * console_source_remote.c: the source for a routing process reached through
 * its admin API (llmdeck attach). Every request is a transfer on the shared
 * HTTP engine: the UI thread only queues them (poll, act) and takes what came
 * back (take, events, results, link); the engine thread parses the answers
 * and posts them under the source's lock, then wakes the UI thread.
 *
 * A poll asks for a snapshot (GET /admin/v1/snapshot?window=60) and the new
 * events (GET /admin/v1/events?after=ID), each only if the previous one is
 * back. A snapshot that fails marks the link down with the reason, and the
 * next one waits 0.5, 1, 2, 4, 8, then 10 s (backoff); the last picture stays
 * on screen, marked stale, until one comes back.
 *
 * Lock order: the source's mu is never held while calling into the engine
 * (http_submit takes the engine's lock, and on_done runs under neither).
 */
#include "console/console_source.h"

#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/http.h"
#include "util/util.h"

#define REMOTE_RESULTS 32
#define REMOTE_EVENTS_MAX 1024
#define REMOTE_SNAPSHOT_TIMEOUT_MS 4000
#define REMOTE_ACTION_TIMEOUT_MS 10000
#define REMOTE_CONNECT_TIMEOUT_MS 2000
#define REMOTE_BACKOFF_FIRST_MS 500
#define REMOTE_BACKOFF_MAX_MS 10000

struct remote {
	struct source base; /* first: the ops cast back */
	struct http_engine *engine;
	void (*wake)(void *);
	void *wake_arg;
	char base_url[512];  /* "http://HOST:PORT", no trailing slash */
	char unix_path[256]; /* "" for TCP */
	char auth[640];      /* "Authorization: Bearer T", or "" */

	pthread_mutex_t mu; /* guards everything below */
	int snap_busy;
	int events_busy;
	struct source_frame frame;
	int have_frame;
	char names[256][64]; /* the providers of the last frame, for "clear-overrides all" */
	size_t n_names;
	struct source_event *events;
	size_t n_events;
	uint64_t events_after;
	struct source_result results[REMOTE_RESULTS];
	size_t n_results;
	struct source_link link;
	int fails;
};

enum remote_kind { RK_SNAPSHOT, RK_EVENTS, RK_ACTION, RK_CALL };

/* One transfer's context. */
struct remote_req {
	struct remote *r;
	enum remote_kind kind;
	enum source_action action;
	char provider[LIMIT_NAME_SIZE];
	double value;
	char fault[16]; /* SA_DRILL */
	int duration_s;
	struct source_call call; /* RK_CALL */
};

static void
remote_headers(struct remote *r, const char *hdrs[3], size_t *n, int json_body)
{
	*n = 0;
	hdrs[(*n)++] = "Accept: application/json";
	if (r->auth[0] != '\0')
		hdrs[(*n)++] = r->auth;
	if (json_body)
		hdrs[(*n)++] = "Content-Type: application/json";
}

static void remote_done(void *arg, const struct http_result *res);
static void path_escape(const char *s, char *out, size_t len);

/* Queue a transfer (never with mu held); on_data (or NULL) takes the body as it comes. */
static void
remote_send(struct remote *r, struct remote_req *q, const char *method, const char *path,
    const char *body, int timeout_ms, int (*on_data)(void *, const char *, size_t))
{
	struct http_request req;
	const char *hdrs[3];
	char *url = xasprintf("%s%s", r->base_url, path);

	memset(&req, 0, sizeof req);
	remote_headers(r, hdrs, &req.n_headers, body != NULL);
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	req.timeout_ms = timeout_ms;
	req.connect_timeout_ms = REMOTE_CONNECT_TIMEOUT_MS;
	req.max_response = 64 << 20;
	req.unix_socket = r->unix_path[0] != '\0' ? r->unix_path : NULL;
	req.on_data = on_data;
	req.on_done = remote_done;
	req.arg = q;
	http_submit(r->engine, &req);
	free(url);
}

static void
remote_submit(struct remote *r, struct remote_req *q, const char *method, const char *path,
    const char *body, int timeout_ms)
{
	remote_send(r, q, method, path, body, timeout_ms, NULL);
}

static struct remote_req *
remote_req_new(struct remote *r, enum remote_kind kind)
{
	struct remote_req *q = xcalloc(1, sizeof *q);

	q->r = r;
	q->kind = kind;
	return q;
}

/* A failure in one line: curl's words (a socket's failure names the socket, not the
 * "localhost port 80" curl would say), or the status and the body's message. */
static void
remote_why(struct remote *r, const struct http_result *res, char *out, size_t len)
{
	char *msg;

	if (res->err != HTTP_OK && r->unix_path[0] != '\0') {
		struct stat st;
		const char *what = res->err == HTTP_ERR_TIMEOUT ? "timed out"
		    : stat(r->unix_path, &st) != 0              ? strerror(errno)
		    : !S_ISSOCK(st.st_mode)                     ? "not a socket"
		    : res->err == HTTP_ERR_CONNECT              ? "connection refused (no process "
		                                                  "listening?)"
		                                                : http_err_name(res->err);
		snprintf(out, len, "socket %.160s: %s", r->unix_path, what);
		return;
	}
	if (res->err != HTTP_OK) {
		snprintf(out, len, "%s",
		    res->errmsg[0] != '\0' ? res->errmsg : http_err_name(res->err));
		return;
	}
	msg = source_parse_error(res->body, res->body_len);
	if (res->status == 401)
		snprintf(out, len,
		    "401: admin token rejected%s; not retrying until it changes "
		    "(:token TOKEN)",
		    r->auth[0] == '\0' ? " (none sent: LLMDECK_ADMIN_TOKEN is unset)" : "");
	else if (res->status == 404 && msg == NULL)
		snprintf(out, len, "404: no admin API there (an older llmdeck, or not llmdeck)");
	else
		snprintf(out, len, "%d%s%s", res->status, msg != NULL ? ": " : "",
		    msg != NULL ? msg : "");
	free(msg);
}

static void
remote_snapshot_done(struct remote *r, const struct http_result *res)
{
	struct source_frame f;
	char why[256] = "", *cause = NULL;
	int ok = 0;

	if (res->err == HTTP_OK && res->status == 200) {
		if (source_parse_snapshot(res->body, res->body_len, &f, &cause) == 0)
			ok = 1;
		else
			snprintf(why, sizeof why, "bad snapshot: %s", cause);
		free(cause);
	} else
		remote_why(r, res, why, sizeof why);
	pthread_mutex_lock(&r->mu);
	r->snap_busy = 0;
	if (ok) {
		if (r->have_frame)
			source_frame_free(&r->frame);
		r->frame = f;
		r->have_frame = 1;
		r->n_names = 0;
		for (size_t i = 0; i < f.snap.n_providers && i < nitems(r->names); i++)
			strlcpy_(r->names[r->n_names++], f.snap.providers[i].name,
			    sizeof r->names[0]);
		r->link.up = r->link.ever_up = 1;
		r->link.stopped = 0;
		r->link.why[0] = '\0';
		r->link.last_ok_ms = clock_wall_ms();
		r->fails = 0;
	} else {
		uint64_t backoff = REMOTE_BACKOFF_FIRST_MS;

		for (int i = 0; i < r->fails && backoff < REMOTE_BACKOFF_MAX_MS; i++)
			backoff *= 2;
		if (backoff > REMOTE_BACKOFF_MAX_MS)
			backoff = REMOTE_BACKOFF_MAX_MS;
		r->fails++;
		r->link.up = 0;
		strlcpy_(r->link.why, why, sizeof r->link.why);
		r->link.retry_ms = clock_mono_ms() + backoff;
		/* A rejected token is not an outage: asking again with it is pointless. */
		r->link.stopped = res->err == HTTP_OK && res->status == 401;
	}
	pthread_mutex_unlock(&r->mu);
}

static void
remote_events_done(struct remote *r, const struct http_result *res)
{
	struct source_event *ev = NULL;
	size_t n = 0;
	uint64_t last;
	char *cause = NULL;

	pthread_mutex_lock(&r->mu);
	last = r->events_after;
	pthread_mutex_unlock(&r->mu);
	if (res->err != HTTP_OK || res->status != 200 ||
	    source_parse_events(res->body, res->body_len, &ev, &n, &last, &cause) != 0) {
		free(cause);
		pthread_mutex_lock(&r->mu);
		r->events_busy = 0;
		pthread_mutex_unlock(&r->mu);
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->events_busy = 0;
	r->events_after = last;
	/* A console that is not taking them keeps the newest. */
	if (r->n_events + n > REMOTE_EVENTS_MAX) {
		size_t drop = r->n_events + n - REMOTE_EVENTS_MAX;
		if (drop > r->n_events)
			drop = r->n_events;
		memmove(r->events, r->events + drop, (r->n_events - drop) * sizeof *r->events);
		r->n_events -= drop;
	}
	r->events = xreallocarray(r->events, r->n_events + n + 1, sizeof *r->events);
	for (size_t i = n > REMOTE_EVENTS_MAX ? n - REMOTE_EVENTS_MAX : 0; i < n; i++)
		r->events[r->n_events++] = ev[i];
	pthread_mutex_unlock(&r->mu);
	free(ev);
}

/* What an accepted action did, from the provider state the API answers. */
static void remote_action_words(const struct remote_req *, const char *p, const char *body,
    size_t len, char *out, size_t olen);

static void
remote_action_text(const struct remote_req *q, const char *body, size_t len, char *out, size_t olen)
{
	char p[sizeof q->provider];
	const char *at = strchr(q->provider, '@');

	/* NAME@INSTANCE: the name, and the scope said at the end. */
	snprintf(p, sizeof p, "%.*s",
	    at != NULL ? (int)(at - q->provider) : (int)strlen(q->provider), q->provider);
	remote_action_words(q, p, body, len, out, olen);
	if (at != NULL && strlen(out) + strlen(at) + 10 < olen)
		snprintf(out + strlen(out), olen - strlen(out), " (%s only)", at + 1);
}

static void
remote_action_words(const struct remote_req *q, const char *p, const char *body, size_t len,
    char *out, size_t olen)
{

	switch (q->action) {
	case SA_DRAIN:
		snprintf(out, olen, "%s drained: new traffic goes to the next provider", p);
		break;
	case SA_ENABLE: snprintf(out, olen, "%s enabled: it takes traffic again", p); break;
	case SA_DISABLE: snprintf(out, olen, "%s disabled", p); break;
	case SA_RESET: snprintf(out, olen, "%s: breaker reset to closed", p); break;
	case SA_PROBE: snprintf(out, olen, "%s: health probe sent", p); break;
	case SA_CLEAR_OVERRIDES:
		snprintf(out, olen, "overrides of %s reset to the config", p);
		break;
	case SA_PRIORITY:
		snprintf(out, olen, "%s: priority %d (lower is preferred)", p, (int)q->value);
		break;
	case SA_WEIGHT: snprintf(out, olen, "%s: weight %g", p, q->value); break;
	case SA_DRILL:
		if (strcmp(q->fault, "none") == 0)
			snprintf(out, olen, "%s: drill stopped", p);
		else
			snprintf(out, olen,
			    "%s: drill %s on %.0f%% of attempts for %d s (in the gateway)", p,
			    q->fault, q->value * 100, q->duration_s);
		break;
	case SA_FLUSH: {
		/* {"flushed":N} */
		cJSON *root = cJSON_ParseWithLength(body, len);
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "flushed");
		if (cJSON_IsNumber(n))
			snprintf(out, olen, "cache flushed: %.0f entries removed", n->valuedouble);
		else
			snprintf(out, olen, "cache flushed");
		cJSON_Delete(root);
		break;
	}
	case SA__COUNT: out[0] = '\0'; break;
	}
}

static void
remote_action_done(struct remote *r, struct remote_req *q, const struct http_result *res)
{
	struct source_result out;
	char why[256];

	memset(&out, 0, sizeof out);
	out.action = q->action;
	strlcpy_(out.provider, q->provider, sizeof out.provider);
	if (res->err == HTTP_OK && res->status >= 200 && res->status < 300) {
		out.ok = 1;
		remote_action_text(q, res->body, res->body_len, out.text, sizeof out.text);
	} else {
		remote_why(r, res, why, sizeof why);
		snprintf(out.text, sizeof out.text, "%s%s%s failed: %s",
		    source_action_name(q->action), q->provider[0] != '\0' ? " " : "", q->provider,
		    why);
	}
	pthread_mutex_lock(&r->mu);
	if (r->n_results == REMOTE_RESULTS) {
		memmove(r->results, r->results + 1, sizeof r->results[0] * (REMOTE_RESULTS - 1));
		r->n_results--;
	}
	r->results[r->n_results++] = out;
	pthread_mutex_unlock(&r->mu);
}

/* Engine thread: every transfer ends here. */
static void
remote_done(void *arg, const struct http_result *res)
{
	struct remote_req *q = arg;
	struct remote *r = q->r;

	switch (q->kind) {
	case RK_SNAPSHOT: remote_snapshot_done(r, res); break;
	case RK_EVENTS: remote_events_done(r, res); break;
	case RK_ACTION: remote_action_done(r, q, res); break;
	case RK_CALL: {
		char why[256] = "";

		if (res->err != HTTP_OK || res->status < 200 || res->status >= 300)
			remote_why(r, res, why, sizeof why);
		q->call.done(q->call.arg, res->err == HTTP_OK ? res->status : -1, res->body,
		    res->body_len, why);
		break;
	}
	}
	free(q);
	if (r->wake != NULL)
		r->wake(r->wake_arg);
}

static int
remote_call_data(void *arg, const char *data, size_t len)
{
	struct remote_req *q = arg;

	q->call.data(q->call.arg, data, len);
	return 0;
}

/* A raw admin API call (the request view, test prompts). */
static void
remote_call(struct source *src, const char *method, const char *path, const char *body,
    int timeout_ms, const struct source_call *cb)
{
	struct remote *r = (struct remote *)src;
	struct remote_req *q = remote_req_new(r, RK_CALL);

	q->call = *cb;
	remote_send(r, q, method, path, body, timeout_ms,
	    cb->data != NULL ? remote_call_data : NULL);
}

static void remote_provider_path(const char *target, const char *tail, char *out, size_t len);

/* POST /admin/v1/providers/NAME/drill. */
static int
remote_drill(struct source *src, const char *provider, const char *fault, double rate,
    int duration_s, char **cause)
{
	struct remote *r = (struct remote *)src;
	struct remote_req *q;
	char path[320], body[160];

	(void)cause;
	q = remote_req_new(r, RK_ACTION);
	q->action = SA_DRILL;
	q->value = rate;
	q->duration_s = duration_s;
	strlcpy_(q->fault, fault, sizeof q->fault);
	strlcpy_(q->provider, provider, sizeof q->provider);
	remote_provider_path(q->provider, "/drill", path, sizeof path);
	snprintf(body, sizeof body, "{\"fault\":\"%s\",\"rate\":%.6g,\"duration_s\":%d}", q->fault,
	    rate, duration_s);
	remote_submit(r, q, "POST", path, body, REMOTE_ACTION_TIMEOUT_MS);
	return 0;
}

/* A new token: the next poll tries it at once. */
static void
remote_set_token(struct source *src, const char *token)
{
	struct remote *r = (struct remote *)src;

	pthread_mutex_lock(&r->mu);
	if (token != NULL && *token != '\0')
		snprintf(r->auth, sizeof r->auth, "Authorization: Bearer %s", token);
	else
		r->auth[0] = '\0';
	r->link.stopped = 0;
	r->link.retry_ms = 0;
	r->fails = 0;
	pthread_mutex_unlock(&r->mu);
}

static void
remote_poll(struct source *src)
{
	struct remote *r = (struct remote *)src;
	int snap = 0, events = 0;
	char path[96];
	uint64_t after;

	pthread_mutex_lock(&r->mu);
	if (!r->snap_busy && !r->link.stopped &&
	    (r->link.up || clock_mono_ms() >= r->link.retry_ms)) {
		r->snap_busy = 1;
		snap = 1;
	}
	if (!r->events_busy && r->link.up) {
		r->events_busy = 1;
		events = 1;
	}
	after = r->events_after;
	pthread_mutex_unlock(&r->mu);
	if (snap) {
		snprintf(path, sizeof path, "/admin/v1/snapshot?window=%d", SOURCE_WINDOW_S);
		remote_submit(r, remote_req_new(r, RK_SNAPSHOT), "GET", path, NULL,
		    REMOTE_SNAPSHOT_TIMEOUT_MS);
	}
	if (events) {
		snprintf(path, sizeof path, "/admin/v1/events?after=%llu",
		    (unsigned long long)after);
		remote_submit(r, remote_req_new(r, RK_EVENTS), "GET", path, NULL,
		    REMOTE_SNAPSHOT_TIMEOUT_MS);
	}
}

static int
remote_take(struct source *src, struct source_frame *out)
{
	struct remote *r = (struct remote *)src;
	int got = 0;

	pthread_mutex_lock(&r->mu);
	if (r->have_frame) {
		source_frame_free(out);
		*out = r->frame;
		memset(&r->frame, 0, sizeof r->frame);
		r->have_frame = 0;
		got = 1;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

static size_t
remote_events(struct source *src, struct source_event *out, size_t max)
{
	struct remote *r = (struct remote *)src;
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_events < max ? r->n_events : max;
	if (n > 0) { /* r->events is NULL until the first event */
		memcpy(out, r->events, n * sizeof *out);
		memmove(r->events, r->events + n, (r->n_events - n) * sizeof *out);
		r->n_events -= n;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* A provider name as a URL path segment. */
static void
path_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < len; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			out[o++] = (char)ch;
		else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/* /admin/v1/providers/NAME<tail>, and for "NAME@INSTANCE" ?instance=INSTANCE: an
 * override for that instance only. */
static void
remote_provider_path(const char *target, const char *tail, char *out, size_t len)
{
	char name[200], esc[140], iesc[100];
	const char *at = strchr(target, '@');

	snprintf(name, sizeof name, "%.*s", at != NULL ? (int)(at - target) : (int)strlen(target),
	    target);
	path_escape(name, esc, sizeof esc);
	if (at == NULL) {
		snprintf(out, len, "/admin/v1/providers/%.139s%.40s", esc, tail);
		return;
	}
	path_escape(at + 1, iesc, sizeof iesc);
	snprintf(out, len, "/admin/v1/providers/%.139s%.40s?instance=%.99s", esc, tail, iesc);
}

static void
remote_act_one(struct remote *r, enum source_action a, const char *provider, double value)
{
	struct remote_req *q = remote_req_new(r, RK_ACTION);
	char path[320], body[96];

	q->action = a;
	q->value = value;
	strlcpy_(q->provider, provider != NULL ? provider : "", sizeof q->provider);
	switch (a) {
	case SA_FLUSH:
		remote_submit(r, q, "POST", "/admin/v1/cache/flush", "", REMOTE_ACTION_TIMEOUT_MS);
		return;
	case SA_PRIORITY:
	case SA_WEIGHT:
		remote_provider_path(q->provider, "", path, sizeof path);
		if (a == SA_PRIORITY)
			snprintf(body, sizeof body, "{\"priority\":%d}", (int)value);
		else
			snprintf(body, sizeof body, "{\"weight\":%.17g}", value);
		remote_submit(r, q, "PATCH", path, body, REMOTE_ACTION_TIMEOUT_MS);
		return;
	default:
		snprintf(body, sizeof body, "/%s", source_action_name(a));
		remote_provider_path(q->provider, body, path, sizeof path);
		remote_submit(r, q, "POST", path, "", REMOTE_ACTION_TIMEOUT_MS);
		return;
	}
}

static int
remote_act(struct source *src, enum source_action a, const char *provider, double value,
    char **cause)
{
	struct remote *r = (struct remote *)src;
	char names[256][64];
	size_t n = 0;

	if (a != SA_CLEAR_OVERRIDES || (provider != NULL && *provider != '\0')) {
		remote_act_one(r, a, provider, value);
		return 0;
	}
	/* Every provider: the API takes them one at a time. */
	pthread_mutex_lock(&r->mu);
	n = r->n_names;
	memcpy(names, r->names, n * sizeof names[0]);
	pthread_mutex_unlock(&r->mu);
	if (n == 0) {
		*cause = xasprintf("clear-overrides: no providers known yet");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		remote_act_one(r, a, names[i], value);
	return 0;
}

static size_t
remote_results(struct source *src, struct source_result *out, size_t max)
{
	struct remote *r = (struct remote *)src;
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_results < max ? r->n_results : max;
	memcpy(out, r->results, n * sizeof *out);
	memmove(r->results, r->results + n, (r->n_results - n) * sizeof *out);
	r->n_results -= n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void
remote_link(struct source *src, struct source_link *out)
{
	struct remote *r = (struct remote *)src;

	pthread_mutex_lock(&r->mu);
	*out = r->link;
	pthread_mutex_unlock(&r->mu);
}

/* After the engine is freed: no transfer can still call back. */
static void
remote_free(struct source *src)
{
	struct remote *r = (struct remote *)src;

	if (r->have_frame)
		source_frame_free(&r->frame);
	free(r->events);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static const struct source_ops remote_ops = {
    .kind = "remote",
    .poll = remote_poll,
    .take = remote_take,
    .events = remote_events,
    .act = remote_act,
    .results = remote_results,
    .link = remote_link,
    .free = remote_free,
    .set_token = remote_set_token,
    .drill = remote_drill,
    .call = remote_call,
};

struct source *
source_remote_new(const char *target, const char *token, struct http_engine *engine,
    void (*wake)(void *), void *wake_arg)
{
	struct remote *r = xcalloc(1, sizeof *r);
	size_t n;

	r->base.ops = &remote_ops;
	strlcpy_(r->base.name, target, sizeof r->base.name);
	r->engine = engine;
	r->wake = wake;
	r->wake_arg = wake_arg;
	pthread_mutex_init(&r->mu, NULL);
	if (strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0)
		strlcpy_(r->base_url, target, sizeof r->base_url);
	else if (strchr(target, '/') != NULL) {
		strlcpy_(r->unix_path, target, sizeof r->unix_path);
		strlcpy_(r->base_url, "http://localhost", sizeof r->base_url);
	} else
		snprintf(r->base_url, sizeof r->base_url, "http://%s", target);
	n = strlen(r->base_url);
	while (n > 0 && r->base_url[n - 1] == '/')
		r->base_url[--n] = '\0';
	if (token != NULL && *token != '\0')
		snprintf(r->auth, sizeof r->auth, "Authorization: Bearer %s", token);
	r->link.why[0] = '\0';
	strlcpy_(r->link.why, "connecting", sizeof r->link.why);
	return &r->base;
}
