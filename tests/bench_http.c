/*
 * bench_http.c: requests per second through the HTTP engine against an
 * in-process libmicrohttpd server on 127.0.0.1. Prints numbers; asserts nothing
 * about speed, only that every request succeeded.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "provider/http.h"
#include "testkit.h"
#include "util/util.h"

#define TOTAL 20000
#define WAIT_S 120

static const char reply[] = "{\"id\":\"bench\",\"choices\":[{\"message\":{\"content\":\"ok\"}}]}";

struct run {
	struct http_engine *engine;
	const char *url;
	int total;     /* requests to complete */
	int submitted; /* loop thread only */
	int completed; /* loop thread only until finished is set */
	int failed;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int finished;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static int conns;

static enum MHD_Result
bench_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int seen;
	struct MHD_Response *resp;
	enum MHD_Result rc;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	(void)upload_size;
	/* Answering on the first call makes MHD close the connection afterwards. */
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(sizeof reply - 1, (void *)(uintptr_t)reply,
	    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	rc = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void
bench_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&conns_lock);
		conns++;
		pthread_mutex_unlock(&conns_lock);
	}
}

static void bench_done(void *, const struct http_result *);

static void
bench_submit(struct run *r)
{
	struct http_request rq;

	memset(&rq, 0, sizeof rq);
	rq.url = r->url;
	rq.timeout_ms = 30000;
	rq.on_done = bench_done;
	rq.arg = r;
	r->submitted++;
	http_submit(r->engine, &rq);
}

static void
bench_kick(void *arg)
{
	bench_submit(arg);
}

/* Each completion starts the next request from the loop thread. */
static void
bench_done(void *arg, const struct http_result *res)
{
	struct run *r = arg;

	r->completed++;
	if (res->err != HTTP_OK || res->status != 200 || res->body_len != sizeof reply - 1)
		r->failed++;
	if (r->submitted < r->total)
		bench_submit(r);
	if (r->completed == r->total) {
		pthread_mutex_lock(&r->lock);
		r->finished = 1;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
}

static int
bench_run(const char *name, const char *url, int concurrency)
{
	struct run r;
	struct timespec ts;
	pthread_condattr_t ca;
	uint64_t t0, t1;
	int i, c0, c1, rc = 0;
	double secs;

	memset(&r, 0, sizeof r);
	r.engine = http_engine_new(NULL);
	if (r.engine == NULL) {
		fprintf(stderr, "bench_http: engine failed to start\n");
		return -1;
	}
	r.url = url;
	r.total = TOTAL;
	pthread_mutex_init(&r.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r.cond, &ca);
	pthread_condattr_destroy(&ca);

	pthread_mutex_lock(&conns_lock);
	c0 = conns;
	pthread_mutex_unlock(&conns_lock);
	t0 = clock_mono_us();
	/* The first wave goes through zero-delay timers so that the counters
	 * are only ever touched on the loop thread. */
	for (i = 0; i < concurrency; i++)
		http_call_later(r.engine, 0, bench_kick, &r);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&r.lock);
	while (!r.finished && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&r.cond, &r.lock, &ts);
	pthread_mutex_unlock(&r.lock);
	t1 = clock_mono_us();
	pthread_mutex_lock(&conns_lock);
	c1 = conns;
	pthread_mutex_unlock(&conns_lock);

	http_engine_free(r.engine);
	secs = (double)(t1 - t0) / 1e6;
	printf("%-28s %6d requests  %8.0f req/s  %7.1f us/req  %d connections  %d failed%s\n", name,
	    r.completed, r.completed / secs, secs * 1e6 / (r.completed ? r.completed : 1), c1 - c0,
	    r.failed, rc == ETIMEDOUT ? "  (TIMED OUT)" : "");
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	return (rc == ETIMEDOUT || r.failed > 0) ? -1 : 0;
}

/* bench_http [N]: also run N concurrent transfers (each an open connection). */
int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sin;
	char *url;
	int rc = 0;

	testkit_raise_fd_limit();
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
	    bench_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_NOTIFY_CONNECTION, bench_notify, NULL, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)20000, MHD_OPTION_END);
	if (d == NULL || (info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
		fprintf(stderr, "bench_http: cannot start the server\n");
		return 1;
	}
	url = xasprintf("http://127.0.0.1:%u/v1/chat/completions", (unsigned)info->port);

	if (bench_run("http sequential", url, 1) != 0)
		rc = 1;
	if (bench_run("http 64 concurrent", url, 64) != 0)
		rc = 1;
	if (bench_run("http 1000 concurrent", url, 1000) != 0)
		rc = 1;
	if (argc > 1 && atoi(argv[1]) > 0) {
		char *name = xasprintf("http %d concurrent", atoi(argv[1]));

		if (bench_run(name, url, atoi(argv[1])) != 0)
			rc = 1;
		free(name);
	}

	free(url);
	MHD_stop_daemon(d);
	return rc;
}
