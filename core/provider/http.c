/*
 * http.c: the asynchronous HTTP engine.
 *
 * One thread per engine runs an epoll loop that drives libcurl's multi
 * interface with curl_multi_socket_action(). Other threads talk to it through
 * a mutex-protected queue (new transfers, cancellations) and a timer heap, and
 * wake it with an eventfd. Everything curl-related (the multi handle, the easy
 * handles, the id table of running transfers) is touched only by the loop.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "provider/http.h"
#include "util/util.h"

#define HTTP_DEFAULT_MAX_RESPONSE (16u * 1024 * 1024)
#define HTTP_DEFAULT_CONNECT_MS 10000
#define HTTP_MAX_CONNECTS 20000
#define HTTP_FREE_EASY_MAX 256
#define HTTP_EPOLL_EVENTS 256
#define HTTP_MAX_DELAY_MS (1000ULL * 1000 * 1000 * 1000)

/* An intrusive id -> object table (chained, grows by doubling). */
struct idnode {
	uint64_t id;
	struct idnode *next;
};

struct idmap {
	struct idnode **b;
	size_t nb;
	size_t n;
};

struct http_xfer {
	struct idnode node; /* first: the table casts back */
	TAILQ_ENTRY(http_xfer) entry;
	struct http_engine *engine;
	CURL *easy;

	char *method;
	char *url;
	char *ca_file; /* NULL: the system's trust store */
	int insecure;
	char *unix_socket; /* NULL: TCP */
	struct curl_slist *hdrs;
	char *body;
	size_t body_len;
	int has_body;
	int timeout_ms;
	int connect_timeout_ms;
	size_t max_response;
	void (*on_headers)(void *, int, const struct http_headers *);
	int (*on_data)(void *, const char *, size_t);
	void (*on_done)(void *, const struct http_result *);
	void *arg;

	uint64_t submit_us;
	uint64_t first_byte_us;
	int status;
	int headers_done;
	struct http_headers headers;
	struct buf resp;
	size_t received;
	enum http_err abort_err; /* set when a callback aborts the transfer */
	char errbuf[CURL_ERROR_SIZE];
};
TAILQ_HEAD(http_xfers, http_xfer);

struct http_timer {
	struct idnode node; /* first: the table casts back */
	uint64_t due_us;
	size_t idx; /* position in the heap */
	void (*fn)(void *);
	void *arg;
};

struct http_engine {
	pthread_t thread;   /* for pthread_join */
	pthread_t loop_tid; /* written once by the loop before http_engine_new returns */
	int epfd;
	int wakefd;
	CURLM *multi;
	uint64_t curl_due_us; /* curl's timer; 0: none */

	/* Loop thread only. */
	struct idmap running;
	struct http_xfers active;
	CURL **free_easy;
	size_t n_free_easy;

	/* Under lock. */
	pthread_mutex_t lock;
	pthread_cond_t started_cond;
	int started;
	int stop;
	int woken;
	uint64_t next_id;
	struct http_xfers pending;
	uint64_t *cancels;
	size_t n_cancels;
	size_t cap_cancels;
	struct http_timer **heap;
	size_t n_heap;
	size_t cap_heap;
	struct idmap timers;

	atomic_size_t inflight;
	/* What reuse saves: transfers, the connections and TLS handshakes they needed. */
	atomic_uint_fast64_t transfers;
	atomic_uint_fast64_t connections;
	atomic_uint_fast64_t tls_handshakes;
	atomic_uint_fast64_t http2;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

static void
idmap_init(struct idmap *m)
{
	m->nb = 64;
	m->b = xcalloc(m->nb, sizeof *m->b);
	m->n = 0;
}

static void
idmap_free(struct idmap *m)
{
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}

static size_t
idmap_slot(const struct idmap *m, uint64_t id)
{
	id *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(id >> 32) & (m->nb - 1);
}

/* Keep chains short as the table grows: rehash into twice the buckets. */
static void
idmap_grow(struct idmap *m)
{
	struct idmap g;
	struct idnode *n, *next;
	size_t i;

	g.nb = m->nb * 2;
	g.b = xcalloc(g.nb, sizeof *g.b);
	g.n = m->n;
	for (i = 0; i < m->nb; i++) {
		for (n = m->b[i]; n != NULL; n = next) {
			next = n->next;
			n->next = g.b[idmap_slot(&g, n->id)];
			g.b[idmap_slot(&g, n->id)] = n;
		}
	}
	free(m->b);
	*m = g;
}

static void
idmap_put(struct idmap *m, struct idnode *n)
{
	size_t s;

	if (m->n >= m->nb)
		idmap_grow(m);
	s = idmap_slot(m, n->id);
	n->next = m->b[s];
	m->b[s] = n;
	m->n++;
}

static struct idnode *
idmap_get(const struct idmap *m, uint64_t id)
{
	struct idnode *n;

	for (n = m->b[idmap_slot(m, id)]; n != NULL; n = n->next) {
		if (n->id == id)
			return n;
	}
	return NULL;
}

static struct idnode *
idmap_del(struct idmap *m, uint64_t id)
{
	struct idnode **pp, *n;

	for (pp = &m->b[idmap_slot(m, id)]; (n = *pp) != NULL; pp = &n->next) {
		if (n->id == id) {
			*pp = n->next;
			m->n--;
			return n;
		}
	}
	return NULL;
}

const char *
http_headers_get(const struct http_headers *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	}
	return NULL;
}

void
http_headers_add(struct http_headers *h, const char *name, const char *value)
{
	char *p;

	h->v = xreallocarray(h->v, h->n + 1, sizeof *h->v);
	h->v[h->n].name = xstrdup(name);
	for (p = h->v[h->n].name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	h->v[h->n].value = xstrdup(value);
	h->n++;
}

void
http_headers_free(struct http_headers *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

const char *
http_err_name(enum http_err err)
{
	switch (err) {
	case HTTP_OK: return "ok";
	case HTTP_ERR_CONNECT: return "connect";
	case HTTP_ERR_TIMEOUT: return "timeout";
	case HTTP_ERR_TOO_LARGE: return "too-large";
	case HTTP_ERR_ABORTED: return "aborted";
	case HTTP_ERR_OTHER: return "other";
	}
	return "unknown";
}

static void
http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* Wake the loop unless a wake-up is already pending; called under lock. */
static void
http_wake_locked(struct http_engine *e)
{
	uint64_t one = 1;
	ssize_t n;

	if (e->woken)
		return;
	e->woken = 1;
	do
		n = write(e->wakefd, &one, sizeof one);
	while (n == -1 && errno == EINTR);
}

/* Timer heap: a binary min-heap on (due, id); idx tracks positions for removal. */
static int
http_timer_less(const struct http_timer *a, const struct http_timer *b)
{
	if (a->due_us != b->due_us)
		return a->due_us < b->due_us;
	return a->node.id < b->node.id;
}

static void
http_heap_set(struct http_engine *e, size_t i, struct http_timer *t)
{
	e->heap[i] = t;
	t->idx = i;
}

static void
http_heap_up(struct http_engine *e, size_t i)
{
	struct http_timer *t = e->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!http_timer_less(t, e->heap[parent]))
			break;
		http_heap_set(e, i, e->heap[parent]);
		i = parent;
	}
	http_heap_set(e, i, t);
}

static void
http_heap_down(struct http_engine *e, size_t i)
{
	struct http_timer *t = e->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= e->n_heap)
			break;
		if (c + 1 < e->n_heap && http_timer_less(e->heap[c + 1], e->heap[c]))
			c++;
		if (!http_timer_less(e->heap[c], t))
			break;
		http_heap_set(e, i, e->heap[c]);
		i = c;
	}
	http_heap_set(e, i, t);
}

static void
http_heap_remove(struct http_engine *e, struct http_timer *t)
{
	size_t i = t->idx;
	struct http_timer *last;

	last = e->heap[--e->n_heap];
	if (i == e->n_heap)
		return;
	http_heap_set(e, i, last);
	http_heap_up(e, i);
	http_heap_down(e, last->idx);
}

uint64_t
http_call_later(struct http_engine *e, uint64_t delay_ms, void (*fn)(void *), void *arg)
{
	struct http_timer *t;
	uint64_t id;

	if (delay_ms > HTTP_MAX_DELAY_MS)
		delay_ms = HTTP_MAX_DELAY_MS; /* about 31 years: no overflow below */
	t = xcalloc(1, sizeof *t);
	t->due_us = clock_mono_us() + delay_ms * 1000;
	t->fn = fn;
	t->arg = arg;

	pthread_mutex_lock(&e->lock);
	id = t->node.id = e->next_id++;
	if (e->n_heap == e->cap_heap) {
		e->cap_heap = e->cap_heap == 0 ? 16 : e->cap_heap * 2;
		e->heap = xreallocarray(e->heap, e->cap_heap, sizeof *e->heap);
	}
	e->heap[e->n_heap] = t;
	t->idx = e->n_heap++;
	http_heap_up(e, t->idx);
	idmap_put(&e->timers, &t->node);
	if (t->idx == 0 && !pthread_equal(pthread_self(), e->loop_tid))
		http_wake_locked(e);
	pthread_mutex_unlock(&e->lock);
	return id;
}

int
http_cancel_timer(struct http_engine *e, uint64_t id)
{
	struct idnode *n;

	pthread_mutex_lock(&e->lock);
	n = idmap_del(&e->timers, id);
	if (n != NULL)
		http_heap_remove(e, (struct http_timer *)n);
	pthread_mutex_unlock(&e->lock);
	free(n);
	return n != NULL;
}

/* Run the timers due now, without the lock so they may schedule more. */
static void
http_run_timers(struct http_engine *e)
{
	uint64_t now = clock_mono_us(), limit;
	struct http_timer *t;

	pthread_mutex_lock(&e->lock);
	limit = e->next_id; /* timers added while running wait for the next round */
	while (e->n_heap > 0 && e->heap[0]->due_us <= now && e->heap[0]->node.id < limit) {
		t = e->heap[0];
		http_heap_remove(e, t);
		idmap_del(&e->timers, t->node.id);
		pthread_mutex_unlock(&e->lock);
		t->fn(t->arg);
		free(t);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
}

size_t
http_inflight(struct http_engine *e)
{
	return atomic_load(&e->inflight);
}

void
http_get_stats(struct http_engine *e, struct http_stats *st)
{
	st->transfers = atomic_load(&e->transfers);
	st->connections = atomic_load(&e->connections);
	st->tls_handshakes = atomic_load(&e->tls_handshakes);
	st->http2_transfers = atomic_load(&e->http2);
	st->in_flight = atomic_load(&e->inflight);
}

int
http_on_engine_thread(struct http_engine *e)
{
	return pthread_equal(pthread_self(), e->loop_tid);
}

uint64_t
http_submit(struct http_engine *e, const struct http_request *req)
{
	struct http_xfer *x;
	struct curl_slist *l;
	uint64_t id;
	size_t i;

	x = xcalloc(1, sizeof *x);
	x->engine = e;
	x->has_body = req->body != NULL;
	if (req->method != NULL)
		x->method = xstrdup(req->method);
	else
		x->method = xstrdup(x->has_body ? "POST" : "GET");
	x->url = xstrdup(req->url != NULL ? req->url : "");
	for (i = 0; i < req->n_headers; i++) {
		if ((l = curl_slist_append(x->hdrs, req->headers[i])) == NULL)
			fatal("http_submit: out of memory");
		x->hdrs = l;
	}
	/* Never wait for a 100-continue. */
	if ((l = curl_slist_append(x->hdrs, "Expect:")) == NULL)
		fatal("http_submit: out of memory");
	x->hdrs = l;
	if (x->has_body) {
		x->body = xmalloc(req->body_len + 1);
		if (req->body_len > 0)
			memcpy(x->body, req->body, req->body_len);
		x->body[req->body_len] = '\0';
		x->body_len = req->body_len;
	}
	x->timeout_ms = req->timeout_ms;
	x->connect_timeout_ms =
	    req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS;
	x->max_response = req->max_response > 0 ? req->max_response : HTTP_DEFAULT_MAX_RESPONSE;
	x->ca_file = req->ca_file != NULL ? xstrdup(req->ca_file) : NULL;
	x->insecure = req->insecure;
	x->unix_socket = req->unix_socket != NULL ? xstrdup(req->unix_socket) : NULL;
	x->on_headers = req->on_headers;
	x->on_data = req->on_data;
	x->on_done = req->on_done;
	x->arg = req->arg;
	buf_init(&x->resp);
	x->submit_us = clock_mono_us();

	atomic_fetch_add(&e->inflight, 1);
	pthread_mutex_lock(&e->lock);
	id = x->node.id = e->next_id++;
	TAILQ_INSERT_TAIL(&e->pending, x, entry);
	http_wake_locked(e);
	pthread_mutex_unlock(&e->lock);
	return id;
}

void
http_cancel(struct http_engine *e, uint64_t id)
{
	pthread_mutex_lock(&e->lock);
	if (e->n_cancels == e->cap_cancels) {
		e->cap_cancels = e->cap_cancels == 0 ? 16 : e->cap_cancels * 2;
		e->cancels = xreallocarray(e->cancels, e->cap_cancels, sizeof *e->cancels);
	}
	e->cancels[e->n_cancels++] = id;
	http_wake_locked(e);
	pthread_mutex_unlock(&e->lock);
}

static void
http_xfer_free(struct http_xfer *x)
{
	free(x->method);
	free(x->url);
	free(x->ca_file);
	free(x->unix_socket);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	http_headers_free(&x->headers);
	buf_free(&x->resp);
	free(x);
}

static enum http_err
http_map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK: return HTTP_OK;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR: return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT: return HTTP_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED: return HTTP_ERR_TOO_LARGE;
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR: return HTTP_ERR_ABORTED;
	default: return HTTP_ERR_OTHER;
	}
}

/*
 * Finish a transfer: take it out of curl, report it exactly once, keep the
 * easy handle for reuse (its connection stays in the multi's pool).
 */
static void
http_finish(struct http_engine *e, struct http_xfer *x, CURLcode rc, enum http_err err,
    const char *msg)
{
	struct http_result r;
	long code = 0;

	memset(&r, 0, sizeof r);
	if (x->easy != NULL) {
		long conns = 0, version = 0;
		curl_off_t tls_us = 0;

		if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
		    code > 0)
			x->status = (int)code;
		atomic_fetch_add(&e->transfers, 1);
		/* A transfer that opened a connection of its own (0: it reused one). */
		if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK &&
		    conns > 0) {
			atomic_fetch_add(&e->connections, (uint_fast64_t)conns);
			if (curl_easy_getinfo(x->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us) ==
			        CURLE_OK &&
			    tls_us > 0)
				atomic_fetch_add(&e->tls_handshakes, 1);
		}
		if (curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK &&
		    version >= CURL_HTTP_VERSION_2_0)
			atomic_fetch_add(&e->http2, 1);
		curl_multi_remove_handle(e->multi, x->easy);
		idmap_del(&e->running, x->node.id);
		TAILQ_REMOVE(&e->active, x, entry);
	}
	if (x->abort_err != HTTP_OK)
		err = x->abort_err;
	else if (msg == NULL)
		err = http_map_curl(rc);
	r.err = err;
	r.status = x->status;
	if (err != HTTP_OK) {
		if (msg != NULL)
			strlcpy_(r.errmsg, msg, sizeof r.errmsg);
		else if (x->errbuf[0] != '\0')
			strlcpy_(r.errmsg, x->errbuf, sizeof r.errmsg);
		else
			strlcpy_(r.errmsg, curl_easy_strerror(rc), sizeof r.errmsg);
	}
	r.headers = x->headers;
	r.body = x->resp.data != NULL ? x->resp.data : "";
	r.body_len = x->resp.len;
	r.elapsed_us = clock_mono_us() - x->submit_us;
	r.first_byte_us = x->first_byte_us;

	if (x->easy != NULL) {
		if (e->n_free_easy < HTTP_FREE_EASY_MAX) {
			curl_easy_reset(x->easy);
			e->free_easy[e->n_free_easy++] = x->easy;
		} else
			curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	atomic_fetch_sub(&e->inflight, 1);
	if (x->on_done != NULL)
		x->on_done(x->arg, &r);
	http_xfer_free(x);
}

/* The final response's headers are in: tell the caller, once. */
static void
http_headers_complete(struct http_xfer *x)
{
	x->headers_done = 1;
	if (x->on_headers != NULL)
		x->on_headers(x->arg, x->status, &x->headers);
}

static int
http_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * curl hands over each header line (status lines included, CRLF kept). A new
 * status line starts a new response, so interim 1xx headers are dropped.
 */
static size_t
http_header_cb(char *p, size_t size, size_t nitems, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * nitems, nlen;
	const char *end = p + len, *colon, *v, *ve;
	char *name, *value;
	struct http_header *last;

	if (x->headers_done)
		return len; /* trailers */
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		http_headers_free(&x->headers);
		v = memchr(p, ' ', len);
		x->status = 0;
		if (v != NULL) {
			for (v++; v < end && *v >= '0' && *v <= '9'; v++)
				x->status = x->status * 10 + (*v - '0');
		}
		return len;
	}
	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (end == p) {
		/* A blank line ends a header block; 1xx blocks are interim. */
		if (x->status >= 200)
			http_headers_complete(x);
		return len;
	}
	if (*p == ' ' || *p == '\t') {
		/* An obsolete folded continuation of the previous header. */
		if (x->headers.n == 0)
			return len;
		for (v = p; v < end && http_is_space(*v); v++)
			;
		last = &x->headers.v[x->headers.n - 1];
		value = xasprintf("%s %.*s", last->value, (int)(end - v), v);
		free(last->value);
		last->value = value;
		return len;
	}
	if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
		return len;
	nlen = (size_t)(colon - p);
	while (nlen > 0 && http_is_space(p[nlen - 1]))
		nlen--;
	for (v = colon + 1; v < end && http_is_space(*v); v++)
		;
	for (ve = end; ve > v && http_is_space(ve[-1]); ve--)
		;
	name = xstrndup(p, nlen);
	value = xstrndup(v, (size_t)(ve - v));
	http_headers_add(&x->headers, name, value);
	free(name);
	free(value);
	return len;
}

static size_t
http_write_cb(char *p, size_t size, size_t nitems, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = size * nitems;
	long code = 0;

	if (!x->headers_done) {
		if (x->status == 0 &&
		    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
			x->status = (int)code;
		http_headers_complete(x);
	}
	if (len == 0)
		return 0;
	if (x->first_byte_us == 0)
		x->first_byte_us = clock_mono_us() - x->submit_us;
	if (len > x->max_response - x->received) {
		x->abort_err = HTTP_ERR_TOO_LARGE;
		snprintf(x->errbuf, sizeof x->errbuf, "response larger than %zu bytes",
		    x->max_response);
		return 0;
	}
	x->received += len;
	if (x->on_data != NULL) {
		if (x->on_data(x->arg, p, len) != 0) {
			x->abort_err = HTTP_ERR_ABORTED;
			strlcpy_(x->errbuf, "aborted by on_data", sizeof x->errbuf);
			return 0;
		}
	} else
		buf_append(&x->resp, p, len);
	return len;
}

/* Give a queued transfer an easy handle and hand it to curl. */
static void
http_start(struct http_engine *e, struct http_xfer *x)
{
	CURL *c;
	CURLMcode mrc;
	long remaining = 0;
	uint64_t spent;

	if (x->timeout_ms > 0) {
		spent = (clock_mono_us() - x->submit_us) / 1000;
		if (spent >= (uint64_t)x->timeout_ms) {
			http_finish(e, x, CURLE_OPERATION_TIMEDOUT, HTTP_ERR_TIMEOUT,
			    "deadline passed before the transfer started");
			return;
		}
		remaining = x->timeout_ms - (long)spent;
	}
	if (e->n_free_easy > 0)
		c = e->free_easy[--e->n_free_easy];
	else if ((c = curl_easy_init()) == NULL) {
		http_finish(e, x, CURLE_OUT_OF_MEMORY, HTTP_ERR_OTHER,
		    "http_start: curl_easy_init failed");
		return;
	}

	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* LLM answers are small and arrive slowly: a 1 KiB receive buffer instead of
	 * curl's 16 KiB saves 15 KiB per transfer when thousands are in flight. Not
	 * over TLS: records are up to 16 KiB, and libcurl's HTTP/2 path (negotiated
	 * by ALPN) mishandles a small buffer (a heap overflow under ASan in 7.88). */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE,
	    strncmp(x->url, "https:", 6) == 0 ? (long)CURL_MAX_WRITE_SIZE : 1024L);
	if (x->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, x->ca_file);
	/* Only a provider's explicit "tls_verify": false gets here. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, x->insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, x->insecure ? 0L : 2L);
	/* Set every time: a reused handle must not keep another transfer's socket. */
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, x->unix_socket);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, remaining);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)x->connect_timeout_ms);
	if (x->max_response <= (size_t)INT64_MAX)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_response);
	curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);

	if (strcmp(x->method, "GET") == 0 && !x->has_body)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else if (strcmp(x->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else {
		if (strcmp(x->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
		if (x->has_body || strcmp(x->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body != NULL ? x->body : "");
		}
	}

	x->easy = c;
	idmap_put(&e->running, &x->node);
	TAILQ_INSERT_TAIL(&e->active, x, entry);
	if ((mrc = curl_multi_add_handle(e->multi, c)) != CURLM_OK) {
		char msg[128];

		snprintf(msg, sizeof msg, "http_start: %s", curl_multi_strerror(mrc));
		http_finish(e, x, CURLE_FAILED_INIT, HTTP_ERR_OTHER, msg);
	}
}

/* Take what other threads queued (new transfers, cancellations) and act on it. */
static void
http_drain(struct http_engine *e)
{
	struct http_xfers q;
	struct http_xfer *x;
	uint64_t *cancels;
	size_t n, i;
	struct idnode *node;

	TAILQ_INIT(&q);
	pthread_mutex_lock(&e->lock);
	e->woken = 0;
	TAILQ_CONCAT(&q, &e->pending, entry);
	cancels = e->cancels;
	n = e->n_cancels;
	e->cancels = NULL;
	e->n_cancels = e->cap_cancels = 0;
	pthread_mutex_unlock(&e->lock);

	while ((x = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, x, entry);
		http_start(e, x);
	}
	for (i = 0; i < n; i++) {
		if ((node = idmap_get(&e->running, cancels[i])) != NULL)
			http_finish(e, (struct http_xfer *)node, CURLE_OK, HTTP_ERR_ABORTED,
			    "cancelled");
	}
	free(cancels);
}

/* Collect the transfers curl says are done. */
static void
http_check_done(struct http_engine *e)
{
	CURLMsg *m;
	int left;
	struct http_xfer *x;
	char *p;

	while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		x = (struct http_xfer *)(void *)p;
		http_finish(e, x, m->data.result, HTTP_OK, NULL);
	}
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in a socket into epoll. */
static int
http_socket_cb(CURL *c, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct http_engine *e = arg;
	struct epoll_event ev;

	(void)c;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(e->multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof ev);
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	ev.data.fd = s;
	if (sockp == NULL) {
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev) == -1 && errno == EEXIST)
			epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev);
		curl_multi_assign(e->multi, s, e);
	} else {
		if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev) == -1 && errno == ENOENT)
			epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev);
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: remember when curl wants to be called back. */
static int
http_timer_cb(CURLM *m, long timeout_ms, void *arg)
{
	struct http_engine *e = arg;

	(void)m;
	if (timeout_ms < 0)
		e->curl_due_us = 0;
	else
		e->curl_due_us = clock_mono_us() + (uint64_t)timeout_ms * 1000;
	return 0;
}

/* How long epoll may sleep: until curl's timer or the first of ours, rounded up. */
static int
http_wait_ms(struct http_engine *e)
{
	uint64_t now = clock_mono_us(), due = 0, d;

	if (e->curl_due_us != 0)
		due = e->curl_due_us;
	pthread_mutex_lock(&e->lock);
	if (e->n_heap > 0 && (due == 0 || e->heap[0]->due_us < due))
		due = e->heap[0]->due_us;
	if (e->woken || !TAILQ_EMPTY(&e->pending) || e->n_cancels > 0 || e->stop)
		due = now;
	pthread_mutex_unlock(&e->lock);
	if (due == 0)
		return -1;
	if (due <= now)
		return 0;
	d = (due - now + 999) / 1000;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* Engine shutdown: everything unfinished ends with HTTP_ERR_ABORTED. */
static void
http_abort_all(struct http_engine *e)
{
	struct http_xfer *x;
	struct http_timer *t;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		x = TAILQ_FIRST(&e->pending);
		if (x != NULL)
			TAILQ_REMOVE(&e->pending, x, entry);
		e->n_cancels = 0;
		pthread_mutex_unlock(&e->lock);
		if (x == NULL)
			x = TAILQ_FIRST(&e->active);
		if (x == NULL)
			break;
		http_finish(e, x, CURLE_OK, HTTP_ERR_ABORTED, "engine shut down");
	}
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->n_heap; i++) {
		t = e->heap[i];
		idmap_del(&e->timers, t->node.id);
		free(t);
	}
	e->n_heap = 0;
	pthread_mutex_unlock(&e->lock);
}

static void *
http_loop(void *arg)
{
	struct http_engine *e = arg;
	struct epoll_event evs[HTTP_EPOLL_EVENTS];
	int n, i, running, flags, stop;
	uint64_t buf;

	pthread_mutex_lock(&e->lock);
	e->loop_tid = pthread_self();
	e->started = 1;
	pthread_cond_signal(&e->started_cond);
	pthread_mutex_unlock(&e->lock);

	for (;;) {
		pthread_mutex_lock(&e->lock);
		stop = e->stop;
		pthread_mutex_unlock(&e->lock);
		if (stop)
			break;
		http_drain(e);
		http_check_done(e);

		n = epoll_wait(e->epfd, evs, HTTP_EPOLL_EVENTS, http_wait_ms(e));
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == e->wakefd) {
				while (read(e->wakefd, &buf, sizeof buf) == -1 && errno == EINTR)
					;
				continue;
			}
			flags = 0;
			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(e->multi, evs[i].data.fd, flags, &running);
		}
		if (e->curl_due_us != 0 && e->curl_due_us <= clock_mono_us()) {
			e->curl_due_us = 0;
			curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		http_check_done(e);
		http_run_timers(e);
	}
	http_abort_all(e);

	/* Curl's handles belong to this thread; close them while epfd is open. */
	while (e->n_free_easy > 0)
		curl_easy_cleanup(e->free_easy[--e->n_free_easy]);
	curl_multi_cleanup(e->multi);
	e->multi = NULL;
	return NULL;
}

struct http_engine *
http_engine_new(const struct http_engine_opts *opts)
{
	struct http_engine *e;
	struct epoll_event ev;

	pthread_once(&http_once, http_global_init);
	if (http_global_rc != CURLE_OK)
		return NULL;

	e = xcalloc(1, sizeof *e);
	e->epfd = e->wakefd = -1;
	e->next_id = 1;
	TAILQ_INIT(&e->pending);
	TAILQ_INIT(&e->active);
	idmap_init(&e->running);
	idmap_init(&e->timers);
	e->free_easy = xcalloc(HTTP_FREE_EASY_MAX, sizeof *e->free_easy);
	atomic_init(&e->inflight, 0);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->started_cond, NULL);

	if ((e->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	if ((e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = e->wakefd;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) == -1)
		goto fail;
	if ((e->multi = curl_multi_init()) == NULL)
		goto fail;
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_MAX_CONNECTS);
	if (opts != NULL && opts->max_connections > 0)
		curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opts->max_connections);
	if (opts != NULL && opts->max_host_connections > 0)
		curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		    opts->max_host_connections);

	if (pthread_create(&e->thread, NULL, http_loop, e) != 0)
		goto fail;
	pthread_mutex_lock(&e->lock);
	while (!e->started)
		pthread_cond_wait(&e->started_cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	return e;

fail:
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	if (e->wakefd != -1)
		close(e->wakefd);
	if (e->epfd != -1)
		close(e->epfd);
	idmap_free(&e->running);
	idmap_free(&e->timers);
	free(e->free_easy);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->started_cond);
	free(e);
	return NULL;
}

void
http_engine_free(struct http_engine *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = 1;
	e->woken = 0;
	http_wake_locked(e);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);

	close(e->wakefd);
	close(e->epfd);
	idmap_free(&e->running);
	idmap_free(&e->timers);
	free(e->free_easy);
	free(e->cancels);
	free(e->heap);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->started_cond);
	free(e);
}
