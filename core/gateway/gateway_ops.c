/*
 * gateway_ops.c: the gateway's operational side, around the request path in
 * gateway.c: the endpoints that answer from the gateway's own state
 * (/health, /ready, GET /v1/models), the access log, a reload's router swap and
 * the retired routers' hand-back, draining (SIGTERM) and shutdown.
 */
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router/events.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"

/* ---- the access log: size cap and rotation, reopen, sampled refusals ---- */

/* The file at its path, appended to (0600); NULL with errno. */
static FILE *
log_open(const char *path, off_t *size)
{
	struct stat st;
	FILE *f;
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return NULL;
	if ((f = fdopen(fd, "a")) == NULL) {
		close(fd);
		return NULL;
	}
	*size = fstat(fd, &st) == 0 ? st.st_size : 0;
	return f;
}

/* PATH -> PATH.1 (the previous .1 goes), and a new PATH. With log_mu held. */
static void
log_rotate(struct gateway *gw)
{
	char *old = xasprintf("%s.1", gw->log_path);
	FILE *f;
	off_t size = 0;

	fflush(gw->access_log);
	if (rename(gw->log_path, old) == 0 && (f = log_open(gw->log_path, &size)) != NULL) {
		fclose(gw->access_log);
		gw->access_log = f;
		gw->log_size = size;
		gw->log_rotations++;
	}
	free(old);
}

/* One line out (with log_mu held): first the summary of refusals left out, if a
 * second has passed; rotated first if the file would pass its cap. */
static void
log_write(struct gateway *gw, const char *line)
{
	size_t len = strlen(line) + 1;

	if (gw->log_path != NULL && gw->log_max > 0 && gw->log_size > 0 &&
	    gw->log_size + (off_t)len > gw->log_max)
		log_rotate(gw);
	if (fprintf(gw->access_log, "%s\n", line) > 0)
		gw->log_size += (off_t)len;
	fflush(gw->access_log);
}

/* The summary line of the refusals not logged, once their second is over. */
static void
log_flush_suppressed(struct gateway *gw, int64_t now_s)
{
	char line[256], when[32];
	struct tm tm;
	time_t t = (time_t)now_s;

	if (gw->log_suppressed == 0)
		return;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof line,
	    "{\"time\":\"%s\",\"instance\":\"%s\",\"refused_not_logged\":%llu,"
	    "\"limit_per_second\":%u}",
	    when, gw->instance, (unsigned long long)gw->log_suppressed, gw->log_refused_per_s);
	gw->log_suppressed = 0;
	log_write(gw, line);
}

/* May this refused request have its line? With log_mu held. */
static int
log_sample(struct gateway *gw)
{
	int64_t now = (int64_t)time(NULL);

	if (now != gw->log_second) {
		log_flush_suppressed(gw, now);
		gw->log_second = now;
		gw->log_refused_in_second = 0;
	}
	return gw->log_refused_in_second++ < gw->log_refused_per_s;
}

int
gw_access_log_open(struct gateway *gw, const char *path, char **cause)
{
	gw->log_path = xstrdup(path);
	if ((gw->access_log = log_open(path, &gw->log_size)) == NULL) {
		*cause = xasprintf("gateway: access log %s: %s", path, strerror(errno));
		return -1;
	}
	gw->log_owned = 1;
	return 0;
}

void
gw_access_log_tick(struct gateway *gw)
{
	int64_t now = (int64_t)time(NULL);

	pthread_mutex_lock(&gw->log_mu);
	if (gw->access_log != NULL && now != gw->log_second) {
		log_flush_suppressed(gw, now);
		gw->log_second = now;
		gw->log_refused_in_second = 0;
	}
	pthread_mutex_unlock(&gw->log_mu);
}

int
gateway_reopen_access_log(struct gateway *gw, char **cause)
{
	FILE *f;
	off_t size = 0;
	int rc = 0;

	pthread_mutex_lock(&gw->log_mu);
	if (gw->log_path != NULL) {
		if ((f = log_open(gw->log_path, &size)) == NULL) {
			*cause = xasprintf("access log %s: %s (still writing to the old file)",
			    gw->log_path, strerror(errno));
			rc = -1;
		} else {
			fclose(gw->access_log);
			gw->access_log = f;
			gw->log_size = size;
		}
	}
	pthread_mutex_unlock(&gw->log_mu);
	return rc;
}

enum MHD_Result
gw_serve_health(struct gw_req *q)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	return gw_reply_json(q, 200, o);
}

/* Does GET /v1/models come from an Anthropic client? Its SDK always sends
 * anthropic-version; x-api-key without Authorization is its key too (an
 * OpenAI client sends only Authorization). */
static int
asks_anthropic(struct MHD_Connection *conn)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version") != NULL ||
	    (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key") != NULL &&
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization") == NULL);
}

/* One model in the asking API's shape: Anthropic's ModelInfo or OpenAI's Model. */
static void
add_model(cJSON *data, int anthropic, const char *id, const char *owned_by)
{
	cJSON *m = cJSON_CreateObject();

	if (anthropic) {
		cJSON_AddStringToObject(m, "type", "model");
		cJSON_AddStringToObject(m, "id", id);
		cJSON_AddStringToObject(m, "display_name", id);
		cJSON_AddStringToObject(m, "created_at", "1970-01-01T00:00:00Z");
	} else {
		cJSON_AddStringToObject(m, "id", id);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 0);
		cJSON_AddStringToObject(m, "owned_by", owned_by);
	}
	cJSON_AddItemToArray(data, m);
}

/*
 * The model aliases and routes, in the shape of the API that asks: Anthropic's
 * page ({"data":[...],"has_more":false,"first_id","last_id"}, all on one page)
 * or OpenAI's list ({"object":"list","data":[...]}).
 */
enum MHD_Result
gw_serve_models(struct gw_req *q)
{
	struct gw_router *gr = gw_router_get(q->gw);
	const struct config *cfg = router_config(gr->router);
	int anthropic = asks_anthropic(q->conn);
	cJSON *o = cJSON_CreateObject(), *data, *it, *first, *last;

	if (!anthropic)
		cJSON_AddStringToObject(o, "object", "list");
	data = cJSON_AddArrayToObject(o, "data");
	for (size_t i = 0; i < cfg->n_providers; i++) {
		for (size_t j = 0; j < cfg->providers[i].n_models; j++) {
			const char *alias = cfg->providers[i].models[j];
			int dup = 0;

			cJSON_ArrayForEach(it, data)
			{
				if (strcmp(cJSON_GetObjectItem(it, "id")->valuestring, alias) == 0)
					dup = 1;
			}
			if (!dup)
				add_model(data, anthropic, alias, "llmdeck");
		}
	}
	for (size_t i = 0; i < cfg->n_routes; i++)
		add_model(data, anthropic, cfg->routes[i].name, "llmdeck-route");
	gw_router_put(q->gw, gr);
	if (anthropic) {
		first = cJSON_GetArrayItem(data, 0);
		last = cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1);
		cJSON_AddFalseToObject(o, "has_more");
		if (first != NULL) {
			cJSON_AddStringToObject(o, "first_id",
			    cJSON_GetObjectItem(first, "id")->valuestring);
			cJSON_AddStringToObject(o, "last_id",
			    cJSON_GetObjectItem(last, "id")->valuestring);
		} else {
			cJSON_AddNullToObject(o, "first_id");
			cJSON_AddNullToObject(o, "last_id");
		}
	}
	return gw_reply_json(q, 200, o);
}

/* A path the gateway does not serve: a 404 in the client's format naming what
 * it serves, and an access log line (endpoint "unknown"), so that a client
 * calling what is not there shows in the log. */
enum MHD_Result
gw_serve_unknown(struct gw_req *q)
{
	enum MHD_Result ret;

	ret = gw_reply(q, 404, "application/json",
	    gw_error_body(q->api, 404, LLM_OK,
	        "no such endpoint (POST /v1/chat/completions, POST /v1/messages, POST "
	        "/v1/messages/count_tokens, POST /v1/responses, GET and DELETE "
	        "/v1/responses/{id}, GET /v1/responses/{id}/input_items, POST /v1/embeddings, "
	        "GET /v1/models, /health, /ready, /metrics, /admin/v1/)",
	        NULL));
	if (q->gw->access_log != NULL)
		gw_access_log_line(q);
	return ret;
}

void
gw_add_dropped_header(struct MHD_Response *resp, const struct gw_req *q)
{
	struct buf b;

	if (q->ask.n_dropped == 0)
		return;
	buf_init(&b);
	for (int i = 0; i < q->ask.n_dropped; i++)
		buf_printf(&b, "%s%s", i > 0 ? "," : "", q->ask.dropped[i]);
	MHD_add_response_header(resp, "x-llmdeck-dropped", b.data);
	buf_free(&b);
}

enum MHD_Result
gw_serve_ready(struct gw_req *q)
{
	struct router_snapshot s;
	struct gw_router *gr = gw_router_get(q->gw);
	cJSON *o = cJSON_CreateObject();
	int usable = 0, draining;

	memset(&s, 0, sizeof s);
	router_snapshot(gr->router, &s);
	gw_router_put(q->gw, gr);
	for (size_t i = 0; i < s.n_providers; i++)
		usable += s.providers[i].usable != 0;
	router_snapshot_free(&s);
	pthread_mutex_lock(&q->gw->mu);
	draining = q->gw->draining;
	pthread_mutex_unlock(&q->gw->mu);
	cJSON_AddStringToObject(o, "status",
	    draining         ? "draining"
	        : usable > 0 ? "ready"
	                     : "unavailable");
	cJSON_AddNumberToObject(o, "usable_providers", usable);
	return gw_reply_json(q, usable > 0 && !draining ? 200 : 503, o);
}

/* One JSON line per LLM request: who answered and what it cost, never the
 * prompt, the answer or a key. */
void
gw_access_log_line(struct gw_req *q)
{
	struct gateway *gw = q->gw;
	const struct router_result *res;
	cJSON *o = cJSON_CreateObject();
	char when[64], *line;
	struct timespec ts;
	struct tm tm;
	int status, finished;
	uint64_t rid;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (ts.tv_nsec / 1000000) % 1000);
	pthread_mutex_lock(&gw->mu);
	status = q->status;
	finished = q->finished;
	res = finished ? q->res : NULL;
	rid = q->rid;
	pthread_mutex_unlock(&gw->mu);
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "instance", gw->instance);
	cJSON_AddStringToObject(o, "id", q->id);
	/* "unknown": a path not served (the metrics count it under "other"). */
	cJSON_AddStringToObject(o, "endpoint",
	    q->ep == GW_EP_OTHER ? "unknown" : gw_endpoint_name(q->ep));
	if (q->ep == GW_EP_OTHER) {
		cJSON_AddStringToObject(o, "method", q->method);
		cJSON_AddStringToObject(o, "path", q->path != NULL ? q->path : "");
	}
	cJSON_AddStringToObject(o, "model", q->ask.model);
	cJSON_AddBoolToObject(o, "stream", q->stream);
	cJSON_AddNumberToObject(o, "status", status);
	cJSON_AddStringToObject(o, "provider", res != NULL ? res->provider : "");
	cJSON_AddNumberToObject(o, "attempts", res != NULL ? (double)res->n_attempts : 0);
	cJSON_AddNumberToObject(o, "latency_ms",
	    (double)((clock_mono_us() - q->start_us) / 100) / 10.0);
	cJSON_AddNumberToObject(o, "input_tokens",
	    res != NULL ? (double)res->resp.usage.input_tokens : 0);
	cJSON_AddNumberToObject(o, "output_tokens",
	    res != NULL ? (double)res->resp.usage.output_tokens : 0);
	cJSON_AddNumberToObject(o, "cost_usd", res != NULL ? res->cost_usd : 0);
	cJSON_AddBoolToObject(o, "cached", res != NULL && res->cached);
	if (res == NULL)
		cJSON_AddStringToObject(o, "error", rid != 0 ? "client_left" : "refused");
	else if (res->cls != LLM_OK)
		cJSON_AddStringToObject(o, "error", llm_errclass_name(res->cls));
	else
		cJSON_AddNullToObject(o, "error");
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	pthread_mutex_lock(&gw->log_mu);
	/* Refused before auth or parse (4xx, nothing routed): sampled, the rest counted. */
	if (res == NULL && rid == 0 && status >= 400 && status < 500 && !log_sample(gw))
		gw->log_suppressed++;
	else
		log_write(gw, line);
	pthread_mutex_unlock(&gw->log_mu);
	free(line);
}

void
gateway_set_router(struct gateway *gw, struct router *router)
{
	struct gw_router *gr = xcalloc(1, sizeof *gr), *old;

	gr->router = router;
	gr->refs = 1;
	pthread_mutex_lock(&gw->mu);
	old = gw->cur;
	pthread_mutex_unlock(&gw->mu);
	/* The new ring continues the old one's numbers before anyone reads it. */
	event_ring_set_watch(router_events(old->router), NULL, NULL);
	event_ring_continue(router_events(router), router_events(old->router));
	pthread_mutex_lock(&gw->mu);
	gw->cur = gr;
	old->refs--;
	old->next = gw->retired;
	gw->retired = old;
	pthread_mutex_unlock(&gw->mu);
	event_ring_set_watch(router_events(router), gw_admin_events_changed, gw);
	/* Streams waiting on the old ring look at the new one. */
	gw_admin_events_changed(gw);
}

struct router *
gateway_retired_router(struct gateway *gw)
{
	struct gw_router **pp, *gr;
	struct router *r = NULL;

	pthread_mutex_lock(&gw->mu);
	for (pp = &gw->retired; (gr = *pp) != NULL; pp = &gr->next) {
		if (gr->refs == 0) {
			*pp = gr->next;
			r = gr->router;
			free(gr);
			break;
		}
	}
	pthread_mutex_unlock(&gw->mu);
	return r;
}

int
gateway_drain(struct gateway *gw, int timeout_ms)
{
	struct timespec ts;
	int left;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&gw->mu);
	gw->draining = 1;
	while (gw->llm_live > 0)
		if (pthread_cond_timedwait(&gw->idle, &gw->mu, &ts) != 0)
			break;
	left = (int)gw->llm_live;
	pthread_mutex_unlock(&gw->mu);
	return left;
}

void
gateway_close(struct gateway *gw)
{
	struct router *r;

	if (gw == NULL || gw->closed)
		return;
	gw->closed = 1;
	pthread_mutex_lock(&gw->mu);
	r = gw->cur->router;
	pthread_mutex_unlock(&gw->mu);
	event_ring_set_watch(router_events(r), NULL, NULL);
	pthread_mutex_lock(&gw->mu);
	gw->stopping = 1;
	for (struct gw_req *q = gw->live; q != NULL; q = q->next)
		gw_req_wake(q);
	pthread_cond_broadcast(&gw->tick);
	pthread_mutex_unlock(&gw->mu);
	if (gw->ticking)
		pthread_join(gw->ticker, NULL);
	gw_registry_remove(gw);
	MHD_stop_daemon(gw->daemon);
	if (gw->local_daemon != NULL)
		MHD_stop_daemon(gw->local_daemon);
	gw_local_stop(gw);
}

void
gateway_stop(struct gateway *gw)
{
	if (gw == NULL)
		return;
	gateway_close(gw);
	gw_unref(gw);
}
