/*
 * test_http.c: the HTTP engine against an in-process libmicrohttpd server on
 * 127.0.0.1 (and a raw socket server for interim 1xx responses).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "provider/http.h"
#include "testkit.h"
#include "util/util.h"

#define WAIT_MS 15000
#define LARGE_LEN (3u * 1024 * 1024 + 17)
#define CHUNK_PIECES 200

/* The server side: counts connections, holds /hang requests until released. */
struct srv {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int conns;
	int hanging;
	int release;
};

/* The client side: what one request's callbacks saw. */
struct call {
	int headers_calls;
	int headers_status;
	int data_calls;
	int data_before_headers;
	int abort_after; /* on_data returns 1 on this call (1-based); 0: never */
	struct buf streamed;
	int done_calls;
	int off_thread;
	enum http_err err;
	int status;
	char errmsg[256];
	struct http_headers hdrs;
	char *body;
	size_t body_len;
	uint64_t first_byte_us;
	struct http_engine *engine;
};

struct fixture {
	struct srv srv;
	struct http_engine *engine;
};

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond;
static int t_done;
static char *large_body;

static void
cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void
deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait (bounded) until *counter under lock reaches n; returns the count seen. */
static int
wait_count(pthread_mutex_t *lock, pthread_cond_t *cond, int *counter, int n)
{
	struct timespec ts;
	int v, rc = 0;

	deadline_in(&ts, WAIT_MS);
	pthread_mutex_lock(lock);
	while (*counter < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(cond, lock, &ts);
	v = *counter;
	pthread_mutex_unlock(lock);
	return v;
}

static int
wait_done(int n)
{
	return wait_count(&t_lock, &t_cond, &t_done, n);
}

static void
on_headers(void *arg, int status, const struct http_headers *h)
{
	struct call *c = arg;

	(void)h;
	c->headers_calls++;
	c->headers_status = status;
}

static int
on_data(void *arg, const char *data, size_t len)
{
	struct call *c = arg;

	if (c->headers_calls == 0)
		c->data_before_headers = 1;
	c->data_calls++;
	buf_append(&c->streamed, data, len);
	if (c->abort_after != 0 && c->data_calls >= c->abort_after)
		return 1;
	return 0;
}

static void
on_done(void *arg, const struct http_result *r)
{
	struct call *c = arg;
	size_t i;

	if (c->engine != NULL && !http_on_engine_thread(c->engine))
		c->off_thread = 1;
	c->err = r->err;
	c->status = r->status;
	strlcpy_(c->errmsg, r->errmsg, sizeof c->errmsg);
	http_headers_free(&c->hdrs);
	for (i = 0; i < r->headers.n; i++)
		http_headers_add(&c->hdrs, r->headers.v[i].name, r->headers.v[i].value);
	free(c->body);
	c->body = xmalloc(r->body_len + 1);
	memcpy(c->body, r->body, r->body_len + 1);
	c->body_len = r->body_len;
	c->first_byte_us = r->first_byte_us;
	pthread_mutex_lock(&t_lock);
	c->done_calls++;
	t_done++;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_lock);
}

static void
call_init(struct call *c, struct http_engine *e)
{
	memset(c, 0, sizeof *c);
	buf_init(&c->streamed);
	c->engine = e;
	c->err = (enum http_err) - 1;
}

static void
call_free(struct call *c)
{
	buf_free(&c->streamed);
	http_headers_free(&c->hdrs);
	free(c->body);
}

static void
reset_done(void)
{
	pthread_mutex_lock(&t_lock);
	t_done = 0;
	pthread_mutex_unlock(&t_lock);
}

/* ---- the MHD server ---- */

struct chunk_state {
	int piece;
};

static ssize_t
chunk_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct chunk_state *st = cls;
	int n;

	(void)pos;
	if (st->piece >= CHUNK_PIECES)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = snprintf(buf, max, "piece-%03d:%.*s;", st->piece, st->piece % 37,
	    "abcdefghijklmnopqrstuvwxyz0123456789");
	st->piece++;
	return n;
}

static ssize_t
partial_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= 100)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > 100 - pos)
		max = 100 - pos;
	memset(buf, 'p', max);
	return (ssize_t)max;
}

static enum MHD_Result
queue(struct MHD_Connection *conn, unsigned int code, struct MHD_Response *resp)
{
	enum MHD_Result rc;

	rc = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
srv_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct srv *s = cls;
	struct MHD_Response *resp;
	struct buf *in = *con_cls;
	struct timespec ts;
	const char *v;
	int rc = 0;

	(void)version;
	if (strcmp(url, "/close") == 0)
		return MHD_NO;
	if (in == NULL) {
		in = xmalloc(sizeof *in);
		buf_init(in);
		*con_cls = in;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		buf_append(in, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}

	if (strcmp(url, "/json") == 0) {
		static const char body[] = "{\"ok\":true,\"n\":42}";

		resp = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
		    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "X-Custom", "Hello World");
		MHD_add_response_header(resp, "X-Request-Id", "req-123");
		return queue(conn, 200, resp);
	}
	if (strcmp(url, "/echo") == 0) {
		if (in->data == NULL)
			buf_append(in, "", 0);
		resp = MHD_create_response_from_buffer(in->len, in->data, MHD_RESPMEM_MUST_COPY);
		MHD_add_response_header(resp, "X-Method", method);
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
		MHD_add_response_header(resp, "X-Saw-Expect", v != NULL ? v : "none");
		v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
		MHD_add_response_header(resp, "X-Test-Echo", v != NULL ? v : "none");
		return queue(conn, 201, resp);
	}
	if (strcmp(url, "/chunked") == 0) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, chunk_reader,
		    xcalloc(1, sizeof(struct chunk_state)), free);
		return queue(conn, 200, resp);
	}
	if (strcmp(url, "/large") == 0) {
		resp =
		    MHD_create_response_from_buffer(LARGE_LEN, large_body, MHD_RESPMEM_PERSISTENT);
		return queue(conn, 200, resp);
	}
	if (strcmp(url, "/partial") == 0) {
		resp = MHD_create_response_from_callback(1000, 64, partial_reader, NULL, NULL);
		return queue(conn, 200, resp);
	}
	if (strcmp(url, "/hang") == 0) {
		/* Thread per connection: blocking here holds only this connection. */
		deadline_in(&ts, WAIT_MS);
		pthread_mutex_lock(&s->lock);
		s->hanging++;
		pthread_cond_broadcast(&s->cond);
		while (!s->release && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		pthread_mutex_unlock(&s->lock);
		resp = MHD_create_response_from_buffer(4, (void *)(uintptr_t) "late",
		    MHD_RESPMEM_PERSISTENT);
		return queue(conn, 200, resp);
	}
	resp = MHD_create_response_from_buffer(9, (void *)(uintptr_t) "not found",
	    MHD_RESPMEM_PERSISTENT);
	return queue(conn, 404, resp);
}

static void
srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct buf *in = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (in != NULL) {
		buf_free(in);
		free(in);
		*con_cls = NULL;
	}
}

static void
srv_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct srv *s = cls;

	(void)conn;
	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&s->lock);
	s->conns++;
	pthread_mutex_unlock(&s->lock);
}

static void
srv_start(struct srv *s)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	cond_init_mono(&s->cond);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	        MHD_USE_POLL,
	    0, NULL, NULL, srv_handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_NOTIFY_COMPLETED, srv_completed, s, MHD_OPTION_NOTIFY_CONNECTION, srv_notify,
	    s, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000, MHD_OPTION_THREAD_STACK_SIZE,
	    (size_t)(1024 * 1024), MHD_OPTION_END);
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	assert_true(s->port > 0);
}

static void
srv_release(struct srv *s)
{
	pthread_mutex_lock(&s->lock);
	s->release = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void
srv_stop(struct srv *s)
{
	srv_release(s);
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

static int
srv_conns(struct srv *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->conns;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static char *
url_for(struct fixture *f, const char *path)
{
	return xasprintf("http://127.0.0.1:%u%s", (unsigned)f->srv.port, path);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	srv_start(&f->srv);
	f->engine = http_engine_new(NULL);
	assert_non_null(f->engine);
	reset_done();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_engine_free(f->engine);
	srv_stop(&f->srv);
	free(f);
	return 0;
}

/* Submit one GET (or the given request shape) and wait for its on_done. */
static void
get(struct fixture *f, const char *path, struct http_request *rq, struct call *c)
{
	char *url = url_for(f, path);
	int before;

	pthread_mutex_lock(&t_lock);
	before = t_done;
	pthread_mutex_unlock(&t_lock);
	rq->url = url;
	rq->on_headers = on_headers;
	rq->on_done = on_done;
	rq->arg = c;
	assert_true(http_submit(f->engine, rq) > 0);
	free(url); /* the engine copied it */
	assert_int_equal(wait_done(before + 1), before + 1);
}

/* ---- tests ---- */

static void
test_headers_api(void **state)
{
	struct http_headers h = {NULL, 0};

	(void)state;
	http_headers_add(&h, "Content-Type", "text/plain");
	http_headers_add(&h, "X-A", "1");
	assert_string_equal(h.v[0].name, "content-type");
	assert_string_equal(http_headers_get(&h, "CONTENT-TYPE"), "text/plain");
	assert_string_equal(http_headers_get(&h, "x-a"), "1");
	assert_null(http_headers_get(&h, "x-b"));
	http_headers_free(&h);
	assert_int_equal(h.n, 0);
	assert_string_equal(http_err_name(HTTP_ERR_TIMEOUT), "timeout");
	assert_string_equal(http_err_name(HTTP_OK), "ok");
}

static void
test_json(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	call_init(&c, f->engine);
	get(f, "/json", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.body, "{\"ok\":true,\"n\":42}");
	assert_int_equal(c.body_len, strlen("{\"ok\":true,\"n\":42}"));
	assert_string_equal(http_headers_get(&c.hdrs, "X-CUSTOM"), "Hello World");
	assert_string_equal(http_headers_get(&c.hdrs, "content-type"), "application/json");
	assert_string_equal(http_headers_get(&c.hdrs, "x-request-id"), "req-123");
	assert_non_null(http_headers_get(&c.hdrs, "Content-Length"));
	assert_int_equal(c.headers_calls, 1);
	assert_int_equal(c.headers_status, 200);
	assert_true(c.first_byte_us > 0);
	assert_int_equal(c.off_thread, 0);
	assert_int_equal(c.done_calls, 1);
	assert_int_equal(http_inflight(f->engine), 0);
	call_free(&c);
}

static void
test_post_echo(void **state)
{
	struct fixture *f = *state;
	const char *hdrs[] = {"X-Test: abc def", "Content-Type: application/octet-stream"};
	struct http_request rq = {0};
	struct call c;
	size_t n = 2 * 1024 * 1024 + 5, i;
	char *body = xmalloc(n);

	for (i = 0; i < n; i++)
		body[i] = (char)('a' + (i * 7) % 26);
	call_init(&c, f->engine);
	rq.headers = hdrs;
	rq.n_headers = nitems(hdrs);
	rq.body = body;
	rq.body_len = n;
	get(f, "/echo", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.status, 201);
	assert_int_equal(c.body_len, n);
	assert_memory_equal(c.body, body, n);
	assert_string_equal(http_headers_get(&c.hdrs, "x-method"), "POST");
	assert_string_equal(http_headers_get(&c.hdrs, "x-saw-expect"), "none");
	assert_string_equal(http_headers_get(&c.hdrs, "x-test-echo"), "abc def");
	call_free(&c);

	call_init(&c, f->engine);
	memset(&rq, 0, sizeof rq);
	rq.method = "PUT";
	rq.body = "put-body";
	rq.body_len = 8;
	get(f, "/echo", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_string_equal(c.body, "put-body");
	assert_string_equal(http_headers_get(&c.hdrs, "x-method"), "PUT");
	call_free(&c);
	free(body);
}

static void
expected_chunked(struct buf *b)
{
	char piece[128];
	int i;

	for (i = 0; i < CHUNK_PIECES; i++) {
		snprintf(piece, sizeof piece, "piece-%03d:%.*s;", i, i % 37,
		    "abcdefghijklmnopqrstuvwxyz0123456789");
		buf_puts(b, piece);
	}
}

static void
test_chunked_stream(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;
	struct buf want;

	buf_init(&want);
	expected_chunked(&want);
	call_init(&c, f->engine);
	rq.on_data = on_data;
	get(f, "/chunked", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.status, 200);
	assert_string_equal(http_headers_get(&c.hdrs, "transfer-encoding"), "chunked");
	assert_int_equal(c.headers_calls, 1);
	assert_int_equal(c.data_before_headers, 0);
	assert_true(c.data_calls >= 1);
	assert_int_equal(c.streamed.len, want.len);
	assert_memory_equal(c.streamed.data, want.data, want.len);
	assert_int_equal(c.body_len, 0); /* on_data consumed it */
	call_free(&c);

	/* Without on_data the same body is kept whole. */
	call_init(&c, f->engine);
	memset(&rq, 0, sizeof rq);
	get(f, "/chunked", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.body_len, want.len);
	assert_memory_equal(c.body, want.data, want.len);
	call_free(&c);
	buf_free(&want);
}

static void
test_large(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	call_init(&c, f->engine);
	get(f, "/large", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.body_len, LARGE_LEN);
	assert_memory_equal(c.body, large_body, LARGE_LEN);
	call_free(&c);
}

static void
test_too_large(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	/* Known length: refused up front. */
	call_init(&c, f->engine);
	rq.max_response = 1000;
	get(f, "/large", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_TOO_LARGE);
	assert_int_equal(c.status, 200);
	assert_true(c.errmsg[0] != '\0');
	call_free(&c);

	/* Chunked: cut while streaming, after exactly max bytes at most. */
	call_init(&c, f->engine);
	memset(&rq, 0, sizeof rq);
	rq.max_response = 500;
	rq.on_data = on_data;
	get(f, "/chunked", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_TOO_LARGE);
	assert_true(c.streamed.len <= 500);
	call_free(&c);

	/* Exactly at the limit is fine. */
	call_init(&c, f->engine);
	memset(&rq, 0, sizeof rq);
	rq.max_response = strlen("{\"ok\":true,\"n\":42}");
	get(f, "/json", &rq, &c);
	assert_int_equal(c.err, HTTP_OK);
	call_free(&c);
}

static void
test_on_data_abort(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	call_init(&c, f->engine);
	rq.on_data = on_data;
	c.abort_after = 1;
	get(f, "/large", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_ABORTED);
	assert_int_equal(c.data_calls, 1);
	assert_int_equal(c.done_calls, 1);
	call_free(&c);
}

static void
test_timeout(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	call_init(&c, f->engine);
	rq.timeout_ms = 200;
	get(f, "/hang", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_TIMEOUT);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.headers_calls, 0);
	assert_true(c.errmsg[0] != '\0');
	call_free(&c);
}

static void
test_refused(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	struct call c;
	char *url;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);

	call_init(&c, f->engine);
	url = xasprintf("http://127.0.0.1:%u/", (unsigned)ntohs(sin.sin_port));
	rq.url = url;
	rq.on_done = on_done;
	rq.arg = &c;
	http_submit(f->engine, &rq);
	assert_int_equal(wait_done(1), 1);
	assert_int_equal(c.err, HTTP_ERR_CONNECT);
	assert_int_equal(c.status, 0);
	free(url);
	call_free(&c);

	/* Only http and https. */
	call_init(&c, f->engine);
	rq.url = "file:///etc/passwd";
	http_submit(f->engine, &rq);
	assert_int_equal(wait_done(2), 2);
	assert_int_equal(c.err, HTTP_ERR_OTHER);
	assert_int_equal(c.body_len, 0);
	call_free(&c);
}

static void
test_closed(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c;

	call_init(&c, f->engine);
	get(f, "/close", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_CONNECT);
	assert_int_equal(c.status, 0);
	call_free(&c);

	/* Body cut short: still connect-class, the status is kept. */
	call_init(&c, f->engine);
	memset(&rq, 0, sizeof rq);
	get(f, "/partial", &rq, &c);
	assert_int_equal(c.err, HTTP_ERR_CONNECT);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.headers_calls, 1);
	call_free(&c);
}

static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c, c2;
	char *url = url_for(f, "/hang");
	uint64_t id;

	call_init(&c, f->engine);
	rq.url = url;
	rq.on_done = on_done;
	rq.arg = &c;
	id = http_submit(f->engine, &rq);
	assert_true(id > 0);
	assert_int_equal(wait_count(&f->srv.lock, &f->srv.cond, &f->srv.hanging, 1), 1);
	assert_int_equal(http_inflight(f->engine), 1);
	http_cancel(f->engine, id);
	assert_int_equal(wait_done(1), 1);
	assert_int_equal(c.err, HTTP_ERR_ABORTED);
	assert_int_equal(http_inflight(f->engine), 0);
	/* A second cancel, or one for an unknown id, does nothing. */
	http_cancel(f->engine, id);
	http_cancel(f->engine, 999999);

	/* Cancelled right after submit, before the loop could start it. */
	call_init(&c2, f->engine);
	rq.arg = &c2;
	id = http_submit(f->engine, &rq);
	http_cancel(f->engine, id);
	assert_int_equal(wait_done(2), 2);
	assert_int_equal(c2.err, HTTP_ERR_ABORTED);

	/* Free the engine now: nothing runs twice. */
	http_engine_free(f->engine);
	f->engine = http_engine_new(NULL);
	assert_int_equal(c.done_calls, 1);
	assert_int_equal(c2.done_calls, 1);
	free(url);
	call_free(&c);
	call_free(&c2);
}

static void
test_free_inflight(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	struct call c[5];
	char *url = url_for(f, "/hang");
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		call_init(&c[i], NULL);
		rq.url = url;
		rq.on_done = on_done;
		rq.arg = &c[i];
		http_submit(f->engine, &rq);
	}
	assert_int_equal(wait_count(&f->srv.lock, &f->srv.cond, &f->srv.hanging, 5), 5);
	assert_int_equal(http_inflight(f->engine), 5);
	http_engine_free(f->engine);
	f->engine = http_engine_new(NULL);
	pthread_mutex_lock(&t_lock);
	assert_int_equal(t_done, 5);
	pthread_mutex_unlock(&t_lock);
	for (i = 0; i < nitems(c); i++) {
		assert_int_equal(c[i].done_calls, 1);
		assert_int_equal(c[i].err, HTTP_ERR_ABORTED);
		call_free(&c[i]);
	}
	free(url);
}

struct timer_log {
	struct http_engine *engine;
	int order[16];
	int n;
	int off_thread;
};

struct timer_arg {
	struct timer_log *log;
	int tag;
};

static void
timer_fire(void *arg)
{
	struct timer_arg *ta = arg;

	if (!http_on_engine_thread(ta->log->engine))
		ta->log->off_thread = 1;
	pthread_mutex_lock(&t_lock);
	ta->log->order[ta->log->n++] = ta->tag;
	t_done++;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_lock);
}

static void
timer_never(void *arg)
{
	(void)arg;
	fail_msg("a cancelled timer ran");
}

static void
test_timers(void **state)
{
	struct fixture *f = *state;
	struct timer_log log;
	struct timer_arg a[7];
	uint64_t delays[7] = {120, 40, 80, 0, 60, 40, 100};
	uint64_t ids[7];
	size_t i;

	memset(&log, 0, sizeof log);
	log.engine = f->engine;
	for (i = 0; i < nitems(a); i++) {
		a[i].log = &log;
		a[i].tag = (int)i;
		ids[i] = http_call_later(f->engine, delays[i], timer_fire, &a[i]);
		assert_true(ids[i] > 0);
	}
	assert_int_equal(http_cancel_timer(f->engine, ids[4]), 1);
	assert_int_equal(http_cancel_timer(f->engine, ids[6]), 1);
	assert_int_equal(http_cancel_timer(f->engine, ids[6]), 0);
	assert_int_equal(wait_done(5), 5);
	assert_int_equal(log.n, 5);
	/* Due order; equal due times in the order they were set. */
	assert_int_equal(log.order[0], 3);
	assert_int_equal(log.order[1], 1);
	assert_int_equal(log.order[2], 5);
	assert_int_equal(log.order[3], 2);
	assert_int_equal(log.order[4], 0);
	assert_int_equal(log.off_thread, 0);
	assert_int_equal(http_cancel_timer(f->engine, ids[0]), 0);
	assert_int_equal(http_on_engine_thread(f->engine), 0);
	/* A pending timer is dropped, not run, when the engine goes. */
	http_call_later(f->engine, 60000, timer_fire, &a[0]);
	http_engine_free(f->engine);
	f->engine = http_engine_new(NULL);
	assert_int_equal(log.n, 5);
}

static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct http_request rq = {0};
	enum { N = 500 };
	struct call *c = xcalloc(N, sizeof *c);
	char *url = url_for(f, "/json");
	size_t i;

	for (i = 0; i < N; i++) {
		call_init(&c[i], f->engine);
		rq.url = url;
		rq.on_headers = on_headers;
		rq.on_done = on_done;
		rq.arg = &c[i];
		rq.timeout_ms = WAIT_MS;
		http_submit(f->engine, &rq);
	}
	assert_int_equal(wait_done(N), N);
	for (i = 0; i < N; i++) {
		assert_int_equal(c[i].done_calls, 1);
		assert_int_equal(c[i].err, HTTP_OK);
		assert_int_equal(c[i].status, 200);
		assert_string_equal(c[i].body, "{\"ok\":true,\"n\":42}");
		assert_int_equal(c[i].headers_calls, 1);
		call_free(&c[i]);
	}
	assert_int_equal(http_inflight(f->engine), 0);
	free(c);
	free(url);
}

static void
test_reuse(void **state)
{
	struct fixture *f = *state;
	struct http_request rq;
	struct call c;
	int i;

	for (i = 0; i < 100; i++) {
		memset(&rq, 0, sizeof rq);
		call_init(&c, f->engine);
		get(f, (i % 2) ? "/json" : "/echo", &rq, &c);
		assert_int_equal(c.err, HTTP_OK);
		call_free(&c);
	}
	assert_int_equal(srv_conns(&f->srv), 1);
}

struct submitter {
	struct fixture *f;
	char *url;
	struct call c[100];
};

/* Submit from a thread of our own, with a cancel and a timer mixed in. */
static void *
submitter_main(void *arg)
{
	struct submitter *sb = arg;
	struct http_request rq;
	size_t i;

	for (i = 0; i < nitems(sb->c); i++) {
		memset(&rq, 0, sizeof rq);
		call_init(&sb->c[i], sb->f->engine);
		rq.url = sb->url;
		rq.on_done = on_done;
		rq.arg = &sb->c[i];
		http_submit(sb->f->engine, &rq);
		http_cancel_timer(sb->f->engine,
		    http_call_later(sb->f->engine, 1000, timer_never, NULL));
	}
	return NULL;
}

static void
test_threads_submit(void **state)
{
	struct fixture *f = *state;
	struct submitter sb[4];
	pthread_t th[4];
	size_t i, j;

	for (i = 0; i < nitems(sb); i++) {
		sb[i].f = f;
		sb[i].url = url_for(f, "/json");
		assert_int_equal(pthread_create(&th[i], NULL, submitter_main, &sb[i]), 0);
	}
	for (i = 0; i < nitems(sb); i++)
		pthread_join(th[i], NULL);
	assert_int_equal(wait_done(400), 400);
	for (i = 0; i < nitems(sb); i++) {
		for (j = 0; j < nitems(sb[i].c); j++) {
			assert_int_equal(sb[i].c[j].done_calls, 1);
			assert_int_equal(sb[i].c[j].err, HTTP_OK);
			assert_int_equal(sb[i].c[j].status, 200);
			call_free(&sb[i].c[j]);
		}
		free(sb[i].url);
	}
	assert_int_equal(http_inflight(f->engine), 0);
}

struct chain {
	struct http_engine *engine;
	char *url;
	int left;
	int ok;
	int finished;
};

/* on_done submits the next request itself, from the engine thread. */
static void
chain_done(void *arg, const struct http_result *r)
{
	struct chain *ch = arg;
	struct http_request rq;

	if (r->err == HTTP_OK && r->status == 200 && http_on_engine_thread(ch->engine))
		ch->ok++;
	if (--ch->left > 0) {
		memset(&rq, 0, sizeof rq);
		rq.url = ch->url;
		rq.on_done = chain_done;
		rq.arg = ch;
		http_submit(ch->engine, &rq);
		return;
	}
	pthread_mutex_lock(&t_lock);
	ch->finished = 1;
	t_done++;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_lock);
}

static void
test_submit_from_callback(void **state)
{
	struct fixture *f = *state;
	struct chain ch = {f->engine, NULL, 50, 0, 0};
	struct http_request rq = {0};

	ch.url = url_for(f, "/json");
	rq.url = ch.url;
	rq.on_done = chain_done;
	rq.arg = &ch;
	http_submit(f->engine, &rq);
	assert_int_equal(wait_done(1), 1);
	assert_int_equal(ch.ok, 50);
	assert_int_equal(srv_conns(&f->srv), 1);
	free(ch.url);
}

/* A raw server: one connection, one canned reply, for what MHD will not send. */
struct raw_srv {
	int fd;
	uint16_t port;
	const char *reply;
	pthread_t thread;
};

static void *
raw_srv_main(void *arg)
{
	struct raw_srv *r = arg;
	char buf[4096];
	size_t have = 0;
	ssize_t n;
	int c;

	if ((c = accept(r->fd, NULL, NULL)) == -1)
		return NULL;
	while (have < sizeof buf - 1) {
		if ((n = read(c, buf + have, sizeof buf - 1 - have)) <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	n = write(c, r->reply, strlen(r->reply));
	(void)n;
	shutdown(c, SHUT_WR);
	while (read(c, buf, sizeof buf) > 0)
		;
	close(c);
	return NULL;
}

static void
raw_srv_start(struct raw_srv *r, const char *reply)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	r->reply = reply;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(r->fd, 4), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sin, &len), 0);
	r->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, raw_srv_main, r), 0);
}

static void
test_interim_headers(void **state)
{
	struct fixture *f = *state;
	struct raw_srv r;
	struct http_request rq = {0};
	struct call c;
	char *url;

	raw_srv_start(&r,
	    "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final:   padded value \t\r\n"
	    "X-Folded: first\r\n  second\r\nConnection: close\r\n\r\nok");
	url = xasprintf("http://127.0.0.1:%u/", (unsigned)r.port);
	call_init(&c, f->engine);
	rq.url = url;
	rq.on_headers = on_headers;
	rq.on_done = on_done;
	rq.arg = &c;
	http_submit(f->engine, &rq);
	assert_int_equal(wait_done(1), 1);
	pthread_join(r.thread, NULL);
	close(r.fd);
	assert_int_equal(c.err, HTTP_OK);
	assert_int_equal(c.status, 200);
	assert_int_equal(c.headers_calls, 1);
	assert_int_equal(c.headers_status, 200);
	assert_string_equal(c.body, "ok");
	assert_null(http_headers_get(&c.hdrs, "x-interim"));
	assert_string_equal(http_headers_get(&c.hdrs, "x-final"), "padded value");
	assert_string_equal(http_headers_get(&c.hdrs, "x-folded"), "first second");
	free(url);
	call_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_api),
	    cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post_echo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_on_data_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_inflight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_submit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_from_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interim_headers, setup, teardown),
	};
	size_t i;
	int rc;

	testkit_raise_fd_limit();
	cond_init_mono(&t_cond);
	large_body = xmalloc(LARGE_LEN);
	for (i = 0; i < LARGE_LEN; i++)
		large_body[i] = (char)(i * 31 + (i >> 11));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(large_body);
	return rc;
}
