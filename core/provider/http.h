/*
 * http.h: an asynchronous HTTP client engine on libcurl's multi interface.
 *
 * One event-loop thread drives every transfer (curl_multi_socket_action on
 * epoll), reuses connections, enforces each request's deadline and bounds each
 * response's size. Every callback runs on that thread and must not block.
 * http_submit(), http_cancel() and http_call_later() are safe from any thread.
 */
#ifndef LLMDECK_HTTP_H
#define LLMDECK_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct http_engine;

struct http_header {
	char *name;  /* lower case */
	char *value; /* trimmed */
};

struct http_headers {
	struct http_header *v;
	size_t n;
};

/* The value of header name (case-insensitive), or NULL. */
const char *http_headers_get(const struct http_headers *, const char *name);
void http_headers_add(struct http_headers *, const char *name, const char *value);
void http_headers_free(struct http_headers *);

enum http_err {
	HTTP_OK = 0,      /* a response arrived (any status) */
	HTTP_ERR_CONNECT, /* refused, reset, closed before a response */
	HTTP_ERR_TIMEOUT, /* the deadline passed */
	HTTP_ERR_TOO_LARGE,
	HTTP_ERR_ABORTED, /* cancelled, or on_data asked to stop */
	HTTP_ERR_OTHER,
};
const char *http_err_name(enum http_err);

struct http_result {
	enum http_err err;
	int status;                  /* 0 if no response */
	char errmsg[256];            /* curl's words when err != HTTP_OK */
	struct http_headers headers; /* response headers */
	const char *body;            /* whole body (NUL-terminated) unless on_data consumed it */
	size_t body_len;
	uint64_t elapsed_us;    /* submit to completion */
	uint64_t first_byte_us; /* submit to the first body byte, 0 if none */
};

/*
 * on_headers: once, when the status line and headers are in (before any body).
 * on_data: if set, body bytes go here as they arrive and are not kept; return
 *          non-zero to abort the transfer (it then ends with HTTP_ERR_ABORTED).
 * on_done: exactly once, always, whatever happened. The result is only valid
 *          during the call.
 */
struct http_request {
	const char *method; /* "GET", "POST"; NULL: POST if body else GET */
	const char *url;
	const char *const *headers; /* "Name: value" strings */
	size_t n_headers;
	const char *body;
	size_t body_len;
	int timeout_ms;         /* total deadline; 0: none */
	int connect_timeout_ms; /* 0: 10 s */
	size_t max_response;    /* 0: 16 MiB */
	const char *ca_file;    /* PEM bundle to trust for https (NULL: the system's) */
	int insecure;           /* skip TLS verification (an explicit per-provider choice) */
	/* Connect to this Unix socket instead of the URL's host (the URL still gives the
	 * path and the Host header); NULL: TCP. */
	const char *unix_socket;
	void (*on_headers)(void *arg, int status, const struct http_headers *);
	int (*on_data)(void *arg, const char *data, size_t len);
	void (*on_done)(void *arg, const struct http_result *);
	void *arg;
};

struct http_engine_opts {
	long max_connections;      /* 0: unlimited total connections */
	long max_host_connections; /* 0: unlimited per host */
};

/* Start the engine and its thread. NULL opts: defaults. */
struct http_engine *http_engine_new(const struct http_engine_opts *);
/* Stop the thread; every unfinished transfer ends with HTTP_ERR_ABORTED. */
void http_engine_free(struct http_engine *);

/* Queue a request (everything is copied). Returns an id > 0. */
uint64_t http_submit(struct http_engine *, const struct http_request *);
/* Abort a transfer; its on_done still runs (HTTP_ERR_ABORTED) unless it already ran. */
void http_cancel(struct http_engine *, uint64_t id);
/* Run fn(arg) on the engine thread after delay_ms (0: as soon as possible). Returns an id. */
uint64_t http_call_later(struct http_engine *, uint64_t delay_ms, void (*fn)(void *), void *arg);
/* Cancel a timer that has not run yet; returns 1 if it was cancelled. */
int http_cancel_timer(struct http_engine *, uint64_t id);
/* Is the caller on the engine thread? */
int http_on_engine_thread(struct http_engine *);
/* Transfers in flight now. */
size_t http_inflight(struct http_engine *);

/* Connection reuse, as counted since the engine started: a connection (and a
 * TLS handshake) per transfer would mean no reuse; near the pool size is right. */
struct http_stats {
	uint64_t transfers;
	uint64_t connections;     /* new connections opened */
	uint64_t tls_handshakes;  /* of those, TLS ones */
	uint64_t http2_transfers; /* transfers that went over HTTP/2 (multiplexed) */
	size_t in_flight;
};
void http_get_stats(struct http_engine *, struct http_stats *);

#endif
