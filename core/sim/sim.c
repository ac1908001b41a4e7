/*
 * sim.c: the simulated provider server: libmicrohttpd, a timer thread that
 * resumes suspended connections, fault and error injection, run-time control.
 */
#include "sim/sim.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim/sim_gen.h"
#include "sim/sim_wire.h"
#include "util/util.h"

#define SIM_BODY_MAX (8u * 1024 * 1024)
#define SIM_NEVER UINT64_MAX

/* What can change at run time through sim_control(). */
struct sim_settings {
	char key[128];
	char model[128];
	int latency_ms, jitter_ms, token_delay_ms;
	double error_rate;
	int error_status;
	int retry_after_s;
	int quota;
	enum sim_fault fault;
};

struct sim_req;

struct sim_timer {
	uint64_t due; /* monotonic ms, SIM_NEVER for a hang */
	struct sim_req *req;
};

struct sim {
	struct sim_opts opts;
	char *tls_cert, *tls_key; /* PEM, read at start: libmicrohttpd keeps pointers */
	char url[128];
	int port;
	struct MHD_Daemon *daemon;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	pthread_t timer_thread;
	int timer_started;
	int stopping;
	struct sim_settings set;
	struct rng rng;   /* error_rate and jitter */
	struct rng idrng; /* ids */
	struct sim_stats stats;
	uint64_t reqno;
	struct sim_timer *heap;
	size_t nheap, capheap;
	struct sim_cache *cache; /* prompt prefixes seen (its own lock) */
};

enum sim_phase { PHASE_BODY, PHASE_WAIT, PHASE_DONE };

/* One request; referenced by its connection and, while streaming, by its response. */
struct sim_req {
	struct sim *sim;
	struct MHD_Connection *conn;
	atomic_int refs;
	enum sim_phase phase;
	int control;
	struct buf body;
	int too_large;
	struct sim_reply reply;
	int truncate;  /* send half the body, then close */
	int end_error; /* a stream ends by closing, not by its last chunk */
	int token_delay_ms;
	size_t chunk, off; /* stream position */
	uint64_t next_due; /* when the next delta may go */
};

static const char *protocol_names[] = {"anthropic", "openai", "azure", "mistral", "ollama"};
static const char *fault_names[] = {
    "none", "hang", "slow", "drop", "malformed", "truncated", "down", "midstream"};

const char *
sim_protocol_name(enum sim_protocol p)
{
	return (unsigned)p < nitems(protocol_names) ? protocol_names[p] : "?";
}

int
sim_protocol_parse(const char *s, enum sim_protocol *p)
{
	for (size_t i = 0; i < nitems(protocol_names); i++) {
		if (strcmp(s, protocol_names[i]) == 0) {
			*p = (enum sim_protocol)i;
			return 0;
		}
	}
	return -1;
}

const char *
sim_fault_name(enum sim_fault f)
{
	return (unsigned)f < nitems(fault_names) ? fault_names[f] : "?";
}

int
sim_fault_parse(const char *s, enum sim_fault *f)
{
	for (size_t i = 0; i < nitems(fault_names); i++) {
		if (strcmp(s, fault_names[i]) == 0) {
			*f = (enum sim_fault)i;
			return 0;
		}
	}
	return -1;
}

void
sim_opts_init(struct sim_opts *o)
{
	memset(o, 0, sizeof *o);
	o->protocol = SIM_OPENAI;
	strlcpy_(o->host, "127.0.0.1", sizeof o->host);
	o->error_status = 429;
	o->fault = SIM_FAULT_NONE;
	o->seed = 1;
	o->threads = 2;
}

static const char *
default_model(enum sim_protocol p)
{
	switch (p) {
	case SIM_ANTHROPIC: return "claude-sonnet-4-5";
	case SIM_OPENAI: return "gpt-4o-mini";
	case SIM_AZURE: return "gpt-4o";
	case SIM_MISTRAL: return "mistral-large-latest";
	case SIM_OLLAMA: return "llama3.2:latest";
	}
	return "sim";
}

/* ---- the timer heap ---- */

static void
heap_push(struct sim *s, uint64_t due, struct sim_req *q)
{
	size_t i, p;
	struct sim_timer t;

	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? s->capheap * 2 : 256;
		s->heap = xreallocarray(s->heap, s->capheap, sizeof *s->heap);
	}
	i = s->nheap++;
	s->heap[i].due = due;
	s->heap[i].req = q;
	while (i > 0) {
		p = (i - 1) / 2;
		if (s->heap[p].due <= s->heap[i].due)
			break;
		t = s->heap[p];
		s->heap[p] = s->heap[i];
		s->heap[i] = t;
		i = p;
	}
}

static struct sim_req *
heap_pop(struct sim *s)
{
	struct sim_req *q = s->heap[0].req;
	size_t i = 0, l, r, m;
	struct sim_timer t;

	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->nheap && s->heap[l].due < s->heap[m].due)
			m = l;
		if (r < s->nheap && s->heap[r].due < s->heap[m].due)
			m = r;
		if (m == i)
			break;
		t = s->heap[m];
		s->heap[m] = s->heap[i];
		s->heap[i] = t;
		i = m;
	}
	return q;
}

/*
 * Suspend the request's connection until due (monotonic ms). Only from MHD's
 * handler or content reader. Returns -1 if the sim is stopping (the caller
 * closes the connection instead).
 */
static int
sim_suspend_until(struct sim_req *q, uint64_t due)
{
	struct sim *s = q->sim;

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	MHD_suspend_connection(q->conn);
	heap_push(s, due, q);
	if (s->heap[0].req == q)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The timer thread: resume connections whose time has come. */
static void *
sim_timer_main(void *arg)
{
	struct sim *s = arg;
	struct sim_req *batch[256];
	size_t n;
	uint64_t now, due;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		now = clock_mono_ms();
		n = 0;
		while (s->nheap > 0 && s->heap[0].due <= now && n < nitems(batch))
			batch[n++] = heap_pop(s);
		if (n > 0) {
			pthread_mutex_unlock(&s->lock);
			for (size_t i = 0; i < n; i++)
				MHD_resume_connection(batch[i]->conn);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		if (s->nheap == 0 || s->heap[0].due == SIM_NEVER) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		due = s->heap[0].due;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)((due - now) / 1000);
		ts.tv_nsec += (long)((due - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- requests ---- */

static void
req_unref(struct sim_req *q)
{
	if (atomic_fetch_sub(&q->refs, 1) != 1)
		return;
	buf_free(&q->body);
	sim_reply_free(&q->reply);
	free(q);
}

static void
req_response_free(void *cls)
{
	req_unref(cls);
}

static void
sim_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	if (*con_cls != NULL)
		req_unref(*con_cls);
	*con_cls = NULL;
}

static int
sim_is_stopping(struct sim *s)
{
	int v;

	pthread_mutex_lock(&s->lock);
	v = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/*
 * The body of a streamed or truncated answer. Paces text deltas by
 * suspending the connection (returning 0 bytes) until the next one is due.
 */
static ssize_t
req_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sim_req *q = cls;
	struct sim_reply *r = &q->reply;
	struct sim_chunk *c;
	size_t n = 0, k;
	uint64_t now;

	if (sim_is_stopping(q->sim))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (!r->stream) {
		size_t half = r->len / 2;

		if (pos >= half)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		k = half - (size_t)pos < max ? half - (size_t)pos : max;
		memcpy(out, r->body + pos, k);
		return (ssize_t)k;
	}
	while (q->chunk < r->nchunks && n < max) {
		c = &r->chunks[q->chunk];
		if (q->off == 0 && c->delta && q->token_delay_ms > 0) {
			now = clock_mono_ms();
			if (now < q->next_due) {
				if (n > 0)
					break;
				if (sim_suspend_until(q, q->next_due) != 0)
					return MHD_CONTENT_READER_END_WITH_ERROR;
				return 0;
			}
			q->next_due = now + (uint64_t)q->token_delay_ms;
		}
		k = c->len - q->off < max - n ? c->len - q->off : max - n;
		memcpy(out + n, c->data + q->off, k);
		n += k;
		q->off += k;
		if (q->off == c->len) {
			q->chunk++;
			q->off = 0;
		}
	}
	if (n > 0)
		return (ssize_t)n;
	return q->end_error ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
}

/* Hand the prepared reply to MHD. */
static enum MHD_Result
req_queue(struct sim_req *q)
{
	struct sim_reply *r = &q->reply;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->stream || q->truncate) {
		resp = MHD_create_response_from_callback(r->stream ? MHD_SIZE_UNKNOWN
		                                                   : (uint64_t)r->len,
		    16384, req_read, q, req_response_free);
		if (resp == NULL)
			return MHD_NO;
		atomic_fetch_add(&q->refs, 1);
	} else {
		resp = MHD_create_response_from_buffer(r->len,
		    r->body != NULL ? r->body : (void *)"", MHD_RESPMEM_MUST_COPY);
		if (resp == NULL)
			return MHD_NO;
	}
	for (size_t i = 0; i < r->nhdr; i++)
		MHD_add_response_header(resp, r->hdr[i].name, r->hdr[i].value);
	ret = MHD_queue_response(q->conn, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	q->phase = PHASE_DONE;
	if (!q->control) {
		pthread_mutex_lock(&q->sim->lock);
		q->sim->stats.answered++;
		pthread_mutex_unlock(&q->sim->lock);
	}
	return ret;
}

/* Which endpoint a method and path reach on this protocol; dep gets azure's deployment. */
static enum sim_endpoint
sim_route(enum sim_protocol p, const char *method, const char *url, char *dep, size_t depsz)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	const char *pre = "/openai/deployments/", *rest;
	size_t n;

	dep[0] = '\0';
	switch (p) {
	case SIM_ANTHROPIC:
		if (post && strcmp(url, "/v1/messages") == 0)
			return SIM_EP_MESSAGES;
		if (get && strcmp(url, "/v1/models") == 0)
			return SIM_EP_MODELS;
		break;
	case SIM_OPENAI:
	case SIM_MISTRAL:
		if (post && strcmp(url, "/v1/chat/completions") == 0)
			return SIM_EP_CHAT;
		if (p == SIM_OPENAI && post && strcmp(url, "/v1/responses") == 0)
			return SIM_EP_RESPONSES;
		if (post && strcmp(url, "/v1/embeddings") == 0)
			return SIM_EP_EMBEDDINGS;
		if (get && strcmp(url, "/v1/models") == 0)
			return SIM_EP_MODELS;
		if (p == SIM_OPENAI && get && strcmp(url, "/health") == 0)
			return SIM_EP_HEALTH;
		break;
	case SIM_AZURE:
		if (post &&
		    (strcmp(url, "/openai/v1/chat/completions") == 0 ||
		        strcmp(url, "/v1/chat/completions") == 0))
			return SIM_EP_CHAT;
		if (post &&
		    (strcmp(url, "/openai/v1/responses") == 0 ||
		        strcmp(url, "/openai/responses") == 0 || strcmp(url, "/v1/responses") == 0))
			return SIM_EP_RESPONSES;
		if (post &&
		    (strcmp(url, "/openai/v1/embeddings") == 0 ||
		        strcmp(url, "/v1/embeddings") == 0))
			return SIM_EP_EMBEDDINGS;
		if (get &&
		    (strcmp(url, "/openai/models") == 0 || strcmp(url, "/openai/v1/models") == 0))
			return SIM_EP_MODELS;
		if (post && strncmp(url, pre, strlen(pre)) == 0) {
			rest = strchr(url + strlen(pre), '/');
			n = rest != NULL ? (size_t)(rest - url - strlen(pre)) : 0;
			if (n > 0 && n < depsz &&
			    (strcmp(rest, "/chat/completions") == 0 ||
			        strcmp(rest, "/embeddings") == 0)) {
				memcpy(dep, url + strlen(pre), n);
				dep[n] = '\0';
				return strcmp(rest, "/embeddings") == 0 ? SIM_EP_EMBEDDINGS
				                                        : SIM_EP_CHAT;
			}
		}
		break;
	case SIM_OLLAMA:
		if (post && strcmp(url, "/v1/chat/completions") == 0)
			return SIM_EP_CHAT;
		if (post && strcmp(url, "/api/chat") == 0)
			return SIM_EP_OLLAMA_CHAT;
		if (post && strcmp(url, "/v1/embeddings") == 0)
			return SIM_EP_EMBEDDINGS;
		if (post && (strcmp(url, "/api/embed") == 0 || strcmp(url, "/api/embeddings") == 0))
			return SIM_EP_OLLAMA_EMBED;
		if (get && strcmp(url, "/api/version") == 0)
			return SIM_EP_OLLAMA_VERSION;
		if (get && strcmp(url, "/api/tags") == 0)
			return SIM_EP_OLLAMA_TAGS;
		if (get && strcmp(url, "/v1/models") == 0)
			return SIM_EP_MODELS;
		if (get && strcmp(url, "/") == 0)
			return SIM_EP_OLLAMA_ROOT;
		break;
	}
	return SIM_EP_NONE;
}

/* The key the client sent in this protocol's header, or NULL. */
static const char *
sim_client_key(struct MHD_Connection *conn, enum sim_protocol p)
{
	const char *v;

	switch (p) {
	case SIM_ANTHROPIC:
		/* x-api-key; newer SDKs (JS 1.x) send the key as a Bearer token instead */
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
		if (v != NULL)
			return v;
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		if (v != NULL && strncasecmp(v, "Bearer ", 7) == 0)
			return v + 7;
		return NULL;
	case SIM_AZURE: return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "api-key");
	default:
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		if (v == NULL)
			return NULL;
		if (strncasecmp(v, "Bearer ", 7) == 0)
			v += 7;
		return v;
	}
}

/* Ollama takes no key (a key sent to it is ignored), like the real one. */
static int
needs_auth(enum sim_protocol p, enum sim_endpoint ep)
{
	if (p == SIM_OLLAMA)
		return 0;
	return ep == SIM_EP_MESSAGES || ep == SIM_EP_CHAT || ep == SIM_EP_MODELS ||
	    ep == SIM_EP_EMBEDDINGS || ep == SIM_EP_RESPONSES;
}

static int
is_generation(enum sim_endpoint ep)
{
	return ep == SIM_EP_MESSAGES || ep == SIM_EP_CHAT || ep == SIM_EP_OLLAMA_CHAT ||
	    ep == SIM_EP_RESPONSES;
}

/* Would this body stream? Only to shape a malformed answer. */
static int
body_streams(const struct sim_req *q, enum sim_endpoint ep)
{
	cJSON *j = cJSON_ParseWithLength(q->body.data != NULL ? q->body.data : "", q->body.len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "stream");
	int st = ep == SIM_EP_OLLAMA_CHAT ? !cJSON_IsFalse(v) : cJSON_IsTrue(v);

	cJSON_Delete(j);
	return st;
}

/* Cut a stream after half its deltas; with an error event if err is set. */
static void
stream_cut(struct sim_req *q, const struct sim_call *c, int err)
{
	struct sim_reply *r = &q->reply;
	size_t half = r->ndeltas / 2, seen = 0, i;
	char *e;

	if (half == 0)
		half = 1;
	for (i = 0; i < r->nchunks; i++) {
		if (r->chunks[i].delta && ++seen > half)
			break;
	}
	for (size_t j = i; j < r->nchunks; j++)
		free(r->chunks[j].data);
	r->nchunks = i;
	if (err) {
		e = sim_wire_stream_error(c, i);
		sim_reply_chunk(r, 0, "%s", e);
		free(e);
	}
	q->end_error = 1;
}

static char *settings_json_locked(struct sim *, int);
static int control_apply(struct sim *, const char *, size_t, char **);

/* /_sim/control and /_sim/stats. */
static enum MHD_Result
req_control(struct sim_req *q, const char *method, const char *url)
{
	struct sim *s = q->sim;
	struct sim_reply *r = &q->reply;
	char *cause = NULL, *j;
	cJSON *o;

	r->status = 200;
	sim_reply_header(r, "content-type", "application/json");
	if (strcmp(url, "/_sim/stats") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		r->body =
		    xasprintf("{\"requests\":%llu,\"answered\":%llu,\"errors_injected\":%llu,"
		              "\"faults_injected\":%llu,\"streams\":%llu,\"auth_failures\":%llu}",
		        (unsigned long long)s->stats.requests,
		        (unsigned long long)s->stats.answered,
		        (unsigned long long)s->stats.errors_injected,
		        (unsigned long long)s->stats.faults_injected,
		        (unsigned long long)s->stats.streams,
		        (unsigned long long)s->stats.auth_failures);
		pthread_mutex_unlock(&s->lock);
	} else if (strcmp(url, "/_sim/control") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		r->body = settings_json_locked(s, 1);
		pthread_mutex_unlock(&s->lock);
	} else if (strcmp(url, "/_sim/control") == 0 && strcmp(method, "POST") == 0) {
		if (control_apply(s, q->body.data, q->body.len, &cause) != 0) {
			o = cJSON_CreateObject();
			cJSON_AddFalseToObject(o, "ok");
			cJSON_AddStringToObject(o, "error", cause);
			j = cJSON_PrintUnformatted(o);
			r->body = xstrdup(j);
			cJSON_free(j);
			cJSON_Delete(o);
			free(cause);
			r->status = 400;
		} else {
			pthread_mutex_lock(&s->lock);
			r->body = settings_json_locked(s, 1);
			pthread_mutex_unlock(&s->lock);
		}
	} else {
		r->status = 404;
		r->body = xstrdup("{\"ok\":false,\"error\":\"unknown /_sim/ endpoint\"}");
	}
	r->len = strlen(r->body);
	return req_queue(q);
}

/* The reply to a provider request: 404, 401, an injected error, a fault or the answer.
 * Returns 1 if a fault shaped it. */
static int
req_reply(struct sim_req *q, const struct sim_call *c, const struct sim_settings *set, int inject,
    const char *url)
{
	struct sim *s = q->sim;

	if (c->ep == SIM_EP_NONE)
		sim_wire_not_found(c, url, &q->reply);
	else if (c->protocol == SIM_AZURE &&
	    (c->deployment != NULL || strcmp(url, "/openai/responses") == 0) &&
	    MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, "api-version") == NULL)
		sim_wire_not_found(c, url, &q->reply);
	else if (set->key[0] != '\0' && needs_auth(c->protocol, c->ep) &&
	    (c->auth_key == NULL || strcmp(c->auth_key, set->key) != 0)) {
		sim_wire_auth_error(c, &q->reply);
		pthread_mutex_lock(&s->lock);
		s->stats.auth_failures++;
		pthread_mutex_unlock(&s->lock);
	} else if (inject) {
		sim_wire_status_error(c, set->error_status, &q->reply);
		pthread_mutex_lock(&s->lock);
		s->stats.errors_injected++;
		pthread_mutex_unlock(&s->lock);
	} else if (set->fault == SIM_FAULT_MALFORMED && is_generation(c->ep)) {
		sim_wire_malformed(c, body_streams(q, c->ep), &q->reply);
		return 1;
	} else {
		sim_wire_answer(c, &q->reply);
		if (q->reply.status == 200 && is_generation(c->ep) &&
		    (set->fault == SIM_FAULT_TRUNCATED || set->fault == SIM_FAULT_MIDSTREAM)) {
			if (q->reply.stream)
				stream_cut(q, c, set->fault == SIM_FAULT_MIDSTREAM);
			else
				q->truncate = 1;
			return 1;
		}
	}
	return 0;
}

/* A provider request with its whole body in: decide the answer and when. */
static enum MHD_Result
req_start(struct sim_req *q, const char *method, const char *url)
{
	struct sim *s = q->sim;
	struct sim_settings set;
	struct sim_call c;
	char dep[128];
	const char *key;
	double roll;
	uint64_t delay, jitter = 0, due;
	int faulted;

	if (q->control)
		return req_control(q, method, url);

	memset(&c, 0, sizeof c);
	c.protocol = s->opts.protocol;
	c.ep = sim_route(c.protocol, method, url, dep, sizeof dep);
	pthread_mutex_lock(&s->lock);
	set = s->set;
	roll = rng_double(&s->rng);
	if (set.jitter_ms > 0)
		jitter = rng_next(&s->rng) % (uint64_t)set.jitter_ms;
	c.idseed = rng_next(&s->idrng);
	c.reqno = s->reqno++;
	pthread_mutex_unlock(&s->lock);

	c.name = s->opts.name;
	c.model = set.model;
	c.deployment = dep[0] != '\0' ? dep : NULL;
	c.body = q->body.data;
	c.body_len = q->body.len;
	c.retry_after_s = set.retry_after_s;
	c.quota = set.quota;
	key = sim_client_key(q->conn, c.protocol);
	c.auth_key = key;
	c.cache = s->cache;
	c.legacy_embed = c.ep == SIM_EP_OLLAMA_EMBED && strcmp(url, "/api/embeddings") == 0;

	if (set.fault == SIM_FAULT_DOWN || set.fault == SIM_FAULT_DROP) {
		pthread_mutex_lock(&s->lock);
		s->stats.faults_injected++;
		pthread_mutex_unlock(&s->lock);
		return MHD_NO;
	}
	faulted = req_reply(q, &c, &set, set.error_rate > 0 && roll < set.error_rate, url);
	q->token_delay_ms = set.token_delay_ms;

	delay = (uint64_t)(set.latency_ms > 0 ? set.latency_ms : 0) + jitter;
	if (set.fault == SIM_FAULT_SLOW) {
		delay = (uint64_t)(set.latency_ms > 0 ? set.latency_ms : 0) * 10 + jitter;
		if (delay < 2000)
			delay = 2000;
		faulted = 1;
	}
	due = clock_mono_ms() + delay;
	if (set.fault == SIM_FAULT_HANG) {
		due = SIM_NEVER;
		faulted = 1;
	}
	pthread_mutex_lock(&s->lock);
	if (faulted)
		s->stats.faults_injected++;
	if (q->reply.stream)
		s->stats.streams++;
	pthread_mutex_unlock(&s->lock);

	if (due != SIM_NEVER && delay == 0)
		return req_queue(q);
	q->phase = PHASE_WAIT;
	if (sim_suspend_until(q, due) != 0)
		return MHD_NO;
	return MHD_YES;
}

static enum MHD_Result
sim_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct sim *s = cls;
	struct sim_req *q = *con_cls;
	int down;

	(void)version;
	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		atomic_init(&q->refs, 1);
		q->sim = s;
		q->conn = conn;
		buf_init(&q->body);
		*con_cls = q;
		q->control = strncmp(url, "/_sim/", 6) == 0;
		if (q->control)
			return MHD_YES;
		pthread_mutex_lock(&s->lock);
		s->stats.requests++;
		down = s->set.fault == SIM_FAULT_DOWN;
		if (down)
			s->stats.faults_injected++;
		pthread_mutex_unlock(&s->lock);
		return down ? MHD_NO : MHD_YES;
	}
	switch (q->phase) {
	case PHASE_BODY:
		if (*upload_data_size > 0) {
			if (q->body.len + *upload_data_size <= SIM_BODY_MAX)
				buf_append(&q->body, upload_data, *upload_data_size);
			else
				q->too_large = 1;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (q->too_large)
			return MHD_NO;
		return req_start(q, method, url);
	case PHASE_WAIT:
		if (sim_is_stopping(s))
			return MHD_NO;
		return req_queue(q);
	case PHASE_DONE: break;
	}
	return MHD_NO;
}

/* ---- settings and control ---- */

static char *
settings_json_locked(struct sim *s, int ok)
{
	cJSON *o = cJSON_CreateObject();
	char *p, *out;

	if (ok)
		cJSON_AddTrueToObject(o, "ok");
	cJSON_AddStringToObject(o, "name", s->opts.name);
	cJSON_AddStringToObject(o, "protocol", sim_protocol_name(s->opts.protocol));
	cJSON_AddStringToObject(o, "url", s->url);
	cJSON_AddStringToObject(o, "fault", sim_fault_name(s->set.fault));
	cJSON_AddNumberToObject(o, "error_rate", s->set.error_rate);
	cJSON_AddNumberToObject(o, "error_status", s->set.error_status);
	cJSON_AddNumberToObject(o, "retry_after", s->set.retry_after_s);
	cJSON_AddBoolToObject(o, "quota", s->set.quota);
	cJSON_AddNumberToObject(o, "latency_ms", s->set.latency_ms);
	cJSON_AddNumberToObject(o, "jitter_ms", s->set.jitter_ms);
	cJSON_AddNumberToObject(o, "token_delay_ms", s->set.token_delay_ms);
	cJSON_AddStringToObject(o, "model", s->set.model);
	cJSON_AddBoolToObject(o, "auth", s->set.key[0] != '\0');
	p = cJSON_PrintUnformatted(o);
	out = xstrdup(p);
	cJSON_free(p);
	cJSON_Delete(o);
	return out;
}

char *
sim_settings_json(struct sim *s)
{
	char *j;

	pthread_mutex_lock(&s->lock);
	j = settings_json_locked(s, 0);
	pthread_mutex_unlock(&s->lock);
	return j;
}

static int
json_int(const cJSON *v, const char *name, int lo, int hi, int *out, char **cause)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
	    v->valuedouble != (double)(int)v->valuedouble) {
		*cause = xasprintf("%s must be an integer from %d to %d", name, lo, hi);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

/* Apply a control object to a settings copy; seed gets a new seed if given. */
static int
settings_apply(struct sim_settings *set, const cJSON *o, int *reseed, uint64_t *seed, char **cause)
{
	const cJSON *v;

	if (!cJSON_IsObject(o)) {
		*cause = xstrdup("sim control: not a JSON object");
		return -1;
	}
	for (v = o->child; v != NULL; v = v->next) {
		const char *k = v->string;

		if (strcmp(k, "error_rate") == 0) {
			if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1) {
				*cause = xstrdup("error_rate must be a number from 0 to 1");
				return -1;
			}
			set->error_rate = v->valuedouble;
		} else if (strcmp(k, "error_status") == 0) {
			if (json_int(v, k, 100, 599, &set->error_status, cause) != 0)
				return -1;
		} else if (strcmp(k, "retry_after") == 0 || strcmp(k, "retry_after_s") == 0) {
			if (json_int(v, k, 0, 86400, &set->retry_after_s, cause) != 0)
				return -1;
		} else if (strcmp(k, "latency_ms") == 0) {
			if (json_int(v, k, 0, 3600000, &set->latency_ms, cause) != 0)
				return -1;
		} else if (strcmp(k, "jitter_ms") == 0) {
			if (json_int(v, k, 0, 3600000, &set->jitter_ms, cause) != 0)
				return -1;
		} else if (strcmp(k, "token_delay_ms") == 0) {
			if (json_int(v, k, 0, 600000, &set->token_delay_ms, cause) != 0)
				return -1;
		} else if (strcmp(k, "quota") == 0) {
			if (!cJSON_IsBool(v)) {
				*cause = xstrdup("quota must be true or false");
				return -1;
			}
			set->quota = cJSON_IsTrue(v);
		} else if (strcmp(k, "fault") == 0) {
			if (!cJSON_IsString(v) ||
			    sim_fault_parse(v->valuestring, &set->fault) != 0) {
				*cause = xstrdup("fault must be one of none, hang, slow, drop, "
				                 "malformed, truncated, down, midstream");
				return -1;
			}
		} else if (strcmp(k, "seed") == 0) {
			/* Beyond 2^64 the conversion is undefined. */
			if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
			    v->valuedouble >= 18446744073709551616.0) {
				*cause = xstrdup("seed must be a non-negative number below 2^64");
				return -1;
			}
			*reseed = 1;
			*seed = (uint64_t)v->valuedouble;
		} else if (strcmp(k, "key") == 0) {
			if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof set->key) {
				*cause = xstrdup("key must be a string shorter than 128 bytes");
				return -1;
			}
			strlcpy_(set->key, v->valuestring, sizeof set->key);
		} else if (strcmp(k, "model") == 0) {
			if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof set->model) {
				*cause = xstrdup("model must be a string shorter than 128 bytes");
				return -1;
			}
			strlcpy_(set->model,
			    v->valuestring[0] != '\0' ? v->valuestring : set->model,
			    sizeof set->model);
		} else {
			*cause = xasprintf("sim control: unknown setting \"%s\"", k);
			return -1;
		}
	}
	return 0;
}

static int
control_apply(struct sim *s, const char *json, size_t len, char **cause)
{
	cJSON *o = cJSON_ParseWithLength(json != NULL ? json : "", len);
	struct sim_settings set;
	int reseed = 0;
	uint64_t seed = 0;
	char *why = NULL;

	if (o == NULL) {
		*cause = xstrdup("sim control: invalid JSON");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	set = s->set;
	if (settings_apply(&set, o, &reseed, &seed, &why) != 0) {
		pthread_mutex_unlock(&s->lock);
		cJSON_Delete(o);
		*cause = why;
		return -1;
	}
	s->set = set;
	if (reseed) {
		rng_seed(&s->rng, seed);
		rng_seed(&s->idrng, seed ^ 0x5bd1e995ULL);
	}
	pthread_mutex_unlock(&s->lock);
	cJSON_Delete(o);
	return 0;
}

int
sim_control(struct sim *s, const char *json, char **cause)
{
	if (control_apply(s, json, json != NULL ? strlen(json) : 0, cause) != 0) {
		str_oneline(*cause); /* it may echo the caller's bytes */
		return -1;
	}
	return 0;
}

void
sim_get_stats(struct sim *s, struct sim_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->stats;
	pthread_mutex_unlock(&s->lock);
}

/* ---- start and stop ---- */

static int
host_is_loopback(const char *h)
{
	struct in_addr a4;

	if (strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0)
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

int
sim_opts_check(const struct sim_opts *opts, char **cause)
{
	const char *host = opts->host[0] != '\0' ? opts->host : "127.0.0.1";
	struct in_addr a4;
	struct in6_addr a6;

	if ((unsigned)opts->protocol >= nitems(protocol_names)) {
		*cause = xstrdup("unknown protocol");
		return -1;
	}
	if (opts->port < 0 || opts->port > 65535) {
		*cause = xasprintf("port %d out of range", opts->port);
		return -1;
	}
	if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &a4) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1) {
		*cause = xasprintf("bad listen address \"%s\" (a numeric IP is needed)", host);
		return -1;
	}
	if (!opts->allow_remote && !host_is_loopback(host)) {
		*cause = xasprintf("refusing to listen on %s: not a loopback address "
		                   "(use --allow-remote)",
		    host);
		return -1;
	}
	return 0;
}

/* The certificate and key files of an HTTPS sim, read into memory. 0, or -1. */
static int
sim_tls_load(struct sim *s, char **cause)
{
	const struct sim_opts *o = &s->opts;
	size_t n;

	if (o->tls_cert_file[0] == '\0' && o->tls_key_file[0] == '\0')
		return 0;
	if (o->tls_cert_file[0] == '\0' || o->tls_key_file[0] == '\0') {
		*cause = xasprintf("%s: TLS needs both --tls-cert and --tls-key", o->name);
		return -1;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		*cause = xasprintf("%s: this libmicrohttpd has no TLS", o->name);
		return -1;
	}
	if ((s->tls_cert = read_file(o->tls_cert_file, 1 << 20, &n, cause)) == NULL ||
	    (s->tls_key = read_file(o->tls_key_file, 1 << 20, &n, cause)) == NULL)
		return -1;
	return 0;
}

/* A new simulator's state from opts: settings, random streams, cache, lock. */
static struct sim *
sim_alloc(const struct sim_opts *opts)
{
	struct sim *s;
	pthread_condattr_t ca;

	s = xcalloc(1, sizeof *s);
	s->opts = *opts;
	if (s->opts.name[0] == '\0')
		snprintf(s->opts.name, sizeof s->opts.name, "%s-sim",
		    sim_protocol_name(opts->protocol));
	strlcpy_(s->set.key, opts->key, sizeof s->set.key);
	strlcpy_(s->set.model, opts->model[0] != '\0' ? opts->model : default_model(opts->protocol),
	    sizeof s->set.model);
	s->set.latency_ms = opts->latency_ms;
	s->set.jitter_ms = opts->jitter_ms;
	s->set.token_delay_ms = opts->token_delay_ms;
	s->set.error_rate = opts->error_rate;
	s->set.error_status = opts->error_status > 0 ? opts->error_status : 429;
	s->set.retry_after_s = opts->retry_after_s;
	s->set.quota = opts->quota;
	s->set.fault = opts->fault;
	rng_seed(&s->rng, opts->seed);
	rng_seed(&s->idrng, opts->seed ^ 0x5bd1e995ULL);
	s->cache = sim_cache_new();
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

/* The HTTP daemon on sa (TLS if s has a certificate): 0, or -1 and cause. */
static int
sim_daemon_start(struct sim *s, struct sockaddr *sa, int v6, const char *host, char **cause)
{
	const struct sim_opts *opts = &s->opts;
	unsigned int flags, limit;
	struct MHD_OptionItem tls[3] = {
	    {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
	long fds;

	fds = fd_limit(); /* the command raised it, if it wanted more */
	limit = fds > 256 ? (unsigned)(fds - 64) : 200;
	if (limit > 65000)
		limit = 65000;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (sim_tls_load(s, cause) != 0)
		return -1;
	if (s->tls_cert != NULL) {
		tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
		tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
		flags |= MHD_USE_TLS;
	}
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, sim_handler, s, MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(opts->threads > 1 ? opts->threads : 1),
	    MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)4096, MHD_OPTION_NOTIFY_COMPLETED,
	    sim_completed, s, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (s->daemon == NULL) {
		*cause = xasprintf("%s: cannot listen on %s:%d: %s", s->opts.name, host, opts->port,
		    errno != 0 ? strerror(errno) : "libmicrohttpd failed");
		return -1;
	}
	return 0;
}

struct sim *
sim_start(const struct sim_opts *opts, char **cause)
{
	struct sim *s;
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	struct sockaddr *sa;
	const union MHD_DaemonInfo *info;
	const char *host = opts->host[0] != '\0' ? opts->host : "127.0.0.1";
	int v6 = 0;

	if (sim_opts_check(opts, cause) != 0)
		return NULL;
	memset(&a4, 0, sizeof a4);
	memset(&a6, 0, sizeof a6);
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)opts->port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)opts->port);
		sa = (struct sockaddr *)&a6;
		v6 = 1;
	} else {
		*cause = xasprintf("bad listen address \"%s\"", host);
		return NULL;
	}

	s = sim_alloc(opts);
	if (sim_daemon_start(s, sa, v6, host, cause) != 0)
		goto fail;
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info != NULL ? info->port : opts->port;
	if (v6)
		snprintf(s->url, sizeof s->url, "%s://[%s]:%d", s->tls_cert ? "https" : "http",
		    host, s->port);
	else
		snprintf(s->url, sizeof s->url, "%s://%s:%d", s->tls_cert ? "https" : "http", host,
		    s->port);
	if (pthread_create(&s->timer_thread, NULL, sim_timer_main, s) != 0) {
		*cause = xasprintf("%s: cannot start the timer thread", s->opts.name);
		MHD_stop_daemon(s->daemon);
		goto fail;
	}
	s->timer_started = 1;
	return s;

fail:
	sim_cache_free(s->cache);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
	return NULL;
}

int
sim_port(const struct sim *s)
{
	return s->port;
}

const char *
sim_url(const struct sim *s)
{
	return s->url;
}

const char *
sim_name(const struct sim *s)
{
	return s->opts.name;
}

void
sim_stop(struct sim *s)
{
	struct sim_timer *left;
	size_t n;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	left = s->heap;
	n = s->nheap;
	s->heap = NULL;
	s->nheap = s->capheap = 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->timer_started)
		pthread_join(s->timer_thread, NULL);
	for (size_t i = 0; i < n; i++)
		MHD_resume_connection(left[i].req->conn);
	free(left);
	MHD_stop_daemon(s->daemon);
	sim_cache_free(s->cache);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
}
