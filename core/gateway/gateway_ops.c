/*
 * gateway_ops.c: the gateway's operational side, around the request path in
 * gateway.c: the endpoints that answer from the gateway's own state
 * (/health, /ready, GET /v1/models), the access log, a reload's router swap and
 * the retired routers' hand-back, draining (SIGTERM) and shutdown.
 */
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "gateway.h"
#include "gateway_priv.h"

enum MHD_Result
gw_serve_health(struct gw_req *q)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", "ok");
	return gw_reply_json(q, 200, o);
}

enum MHD_Result
gw_serve_models(struct gw_req *q)
{
	struct gw_router *gr = gw_router_get(q->gw);
	const struct config *cfg = router_config(gr->router);
	cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m, *it;
	int dup;

	cJSON_AddStringToObject(o, "object", "list");
	for (size_t i = 0; i < cfg->n_providers; i++) {
		for (size_t j = 0; j < cfg->providers[i].n_models; j++) {
			const char *alias = cfg->providers[i].models[j];
			dup = 0;
			cJSON_ArrayForEach(it, data)
			{
				if (strcmp(cJSON_GetObjectItem(it, "id")->valuestring, alias) == 0)
					dup = 1;
			}
			if (dup)
				continue;
			m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "id", alias);
			cJSON_AddStringToObject(m, "object", "model");
			cJSON_AddNumberToObject(m, "created", 0);
			cJSON_AddStringToObject(m, "owned_by", "llmdeck");
			cJSON_AddItemToArray(data, m);
		}
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "id", cfg->routes[i].name);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 0);
		cJSON_AddStringToObject(m, "owned_by", "llmdeck-route");
		cJSON_AddItemToArray(data, m);
	}
	gw_router_put(q->gw, gr);
	return gw_reply_json(q, 200, o);
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
	cJSON_AddStringToObject(o, "endpoint", gw_endpoint_name(q->ep));
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
	fprintf(gw->access_log, "%s\n", line);
	fflush(gw->access_log);
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
