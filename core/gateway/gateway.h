/*
 * gateway.h: the router as an HTTP gateway speaking OpenAI's and Anthropic's
 * APIs, with Prometheus metrics.
 *
 * Endpoints:
 *   POST /v1/chat/completions  OpenAI Chat Completions in and out, streamed or not
 *   POST /v1/messages          Anthropic Messages in and out, streamed or not
 *   GET  /v1/models            model aliases and route names, OpenAI's list format
 *   GET  /health               200 while the process runs (no auth)
 *   GET  /ready                200 if a provider is usable now, else 503 (no auth)
 *   GET  /metrics              Prometheus text exposition format
 *
 * The request's "model" names a route (config routes), a model alias, or a
 * configured model id (mapped to its alias); anything else is a 400.
 *
 * libmicrohttpd runs one polling thread (epoll) with suspended connections: a
 * handler parses the body, calls router_submit() and suspends; the router's
 * done and delta callbacks (on the engine thread) queue the bytes and resume
 * it, so a waiting client holds no thread.
 *
 * Errors map from the router's class: bad input 400, body too large 413,
 * unauthenticated 401, rate limited 429 (retry-after), budget refusal 429 with
 * type "budget_exceeded" and x-should-retry: false (so SDKs do not retry it),
 * no usable provider 503 (retry-after), every provider failed 502, overloaded
 * 503, deadline 504, internal 500. Bodies are OpenAI's {"error":{message, type,
 * param, code}} or Anthropic's {"type":"error","error":{type, message}} by
 * endpoint. A stream that fails after its first token ends with an error
 * event in the client's format, never with [DONE] or message_stop.
 *
 * Every answer carries x-llmdeck-provider, x-llmdeck-model,
 * x-llmdeck-attempts ("2 a:rate_limit,b:ok"), x-llmdeck-cost-usd
 * ("0.000123" or "unpriced") and x-llmdeck-cache (hit|miss). A stream's
 * headers leave before the router knows who answers: streams carry
 * x-llmdeck-model only and end with an SSE comment line
 * ": llmdeck provider=P model=M attempts=... cost_usd=C cache=hit|miss".
 *
 * Auth: listening on a non-loopback address requires a bearer token from the
 * environment variable named by token_env; without one gateway_start refuses.
 * Clients send "Authorization: Bearer T" or "x-api-key: T"; it is compared in
 * constant time. /health and /ready need no token. Provider keys never appear
 * in answers, errors, headers or metrics.
 */
#ifndef LLMDECK_GATEWAY_H
#define LLMDECK_GATEWAY_H

#include <stddef.h>

struct router;
struct store;
struct gateway;

#define GATEWAY_DEFAULT_LISTEN "127.0.0.1:8088"
#define GATEWAY_DEFAULT_TOKEN_ENV "LLMDECK_GATEWAY_TOKEN"
#define GATEWAY_DEFAULT_MAX_BODY (1024 * 1024)

struct gateway_opts {
	const char *listen;    /* "HOST:PORT" (port 0: ephemeral); NULL: the default */
	const char *token_env; /* variable holding the bearer token; NULL: the default */
	size_t max_body;       /* request body limit in bytes (413 above); 0: 1 MiB */
	int require_token;     /* require the token on loopback too (tests) */
	int threads;           /* libmicrohttpd polling threads; 0: 1 */
	struct store *store;   /* optional: budget and cache figures in /metrics */
};

void gateway_opts_init(struct gateway_opts *);

/*
 * Start serving the router (which must outlive the gateway). Returns NULL with
 * *cause set (one line, caller frees) on a bad address, a missing token, or a
 * port that cannot be bound.
 */
struct gateway *gateway_start(struct router *, const struct gateway_opts *, char **cause);
/* The bound port (the real one when listen asked for port 0). */
int gateway_port(const struct gateway *);
/* "http://HOST:PORT" with the real port. */
const char *gateway_url(const struct gateway *);
/*
 * Stop listening, close every connection and free. Requests still inside the
 * router finish there; their results are dropped.
 */
void gateway_stop(struct gateway *);

/* The /metrics text (caller frees): what GET /metrics answers. */
char *gateway_metrics_text(struct gateway *);

#endif
