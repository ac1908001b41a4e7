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
 *   /admin/v1/...              the admin API (gateway_admin.c; README "The admin API"):
 *                              snapshot, events (also as a live SSE stream),
 *                              provider actions, cache flush, reload
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
 * constant time. /health and /ready need no token. Once a client key exists
 * on the database (store/keys.h; gateway_keys.c), every API request needs a
 * live key instead (401 naming missing, unknown, revoked or expired) and the
 * shared token opens /metrics only. Provider keys never appear
 * in answers, errors, headers or metrics.
 *
 * The admin API: the Unix socket may do everything with no token; over TCP,
 * the bearer token in LLMDECK_ADMIN_TOKEN (the gateway's token does not open
 * it) when that is set. Without it, TCP on loopback is read-only and refuses
 * a request with an Origin header or a non-loopback Host (a web page, DNS
 * rebinding); TCP anywhere else is refused. Every JSON endpoint takes only
 * application/json bodies (415), so no cross-site "simple" request works.
 *
 * With local_socket, the gateway also listens on a Unix socket,
 * $XDG_RUNTIME_DIR/llmdeck/INSTANCE.sock (else /tmp/llmdeck-UID/; the
 * directory 0700, the socket 0600), serving the same endpoints, and writes
 * INSTANCE.json beside it (id, pid, host, listen URL, socket, start time,
 * version) for `llmdeck ls` and `llmdeck attach`; gateway_stop removes both.
 *
 * Operating it: gateway_drain() (SIGTERM) refuses new LLM requests with 503
 * and /ready says 503, while the ones already in finish; gateway_set_router()
 * (a reload) sends new requests to a new router while the old one finishes
 * its own, and gateway_retired_router() hands the old one back once nothing
 * uses it.
 */
#ifndef LLMDECK_GATEWAY_H
#define LLMDECK_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct router;
struct store;
struct gateway;

#define GATEWAY_DEFAULT_LISTEN "127.0.0.1:8088"
#define GATEWAY_DEFAULT_TOKEN_ENV "LLMDECK_GATEWAY_TOKEN"
#define GATEWAY_DEFAULT_MAX_BODY (1024 * 1024)
#define GATEWAY_ADMIN_TOKEN_ENV "LLMDECK_ADMIN_TOKEN"
#define GATEWAY_DEFAULT_LOG_MAX (100L * 1024 * 1024)
#define GATEWAY_DEFAULT_REFUSED_PER_SECOND 10
/* Connections one client address may hold at once (0 in the options: this). */
#define GATEWAY_DEFAULT_PER_IP 1024
/* Seconds an idle connection (keep-alive, or a client that stopped sending) is kept. */
#define GATEWAY_DEFAULT_IDLE_SECONDS 15
/* Descriptors kept out of the connection limit: SQLite, the access log, the
 * HTTP engine's epoll and pipes, threads' wake-ups, the config on reload. */
#define GATEWAY_FD_RESERVE 256
/* Connections the Unix socket's own daemon takes (it is apart from the TCP limit). */
#define GATEWAY_LOCAL_CONNECTIONS 64

struct gateway_opts {
	const char *listen;    /* "HOST:PORT" (port 0: ephemeral); NULL: the default */
	const char *token_env; /* variable holding the bearer token; NULL: the default */
	size_t max_body;       /* request body limit in bytes (413 above); 0: 1 MiB */
	int require_token;     /* require the token on loopback too (tests) */
	int threads;           /* libmicrohttpd polling threads; 0: 1 */
	/* Hostile clients: connections at once on the TCP port (0: gateway_max_connections()),
	 * per client address (0: GATEWAY_DEFAULT_PER_IP; -1: no limit), and how long an
	 * idle one is kept (0: GATEWAY_DEFAULT_IDLE_SECONDS). */
	unsigned max_connections;
	int per_ip_limit;
	unsigned idle_seconds;
	struct store *store; /* optional: budget and cache figures in /metrics */

	/* The admin API, the local socket, the access log. */
	const char *instance;        /* instance id; NULL: gateway_default_instance() */
	const char *version;         /* shown by the snapshot */
	const char *config_path;     /* shown by the snapshot; NULL: none */
	const char *admin_token_env; /* NULL: GATEWAY_ADMIN_TOKEN_ENV */
	int local_socket;            /* also serve on the Unix socket, write the instance file */
	FILE *access_log; /* a JSON line per LLM request, or NULL (see access_log_path) */
	/* The access log as a file the gateway opens (0600, appended) and rotates:
	 * past access_log_max bytes (0: GATEWAY_DEFAULT_LOG_MAX) it becomes PATH.1 and
	 * a new PATH starts; gateway_reopen_access_log reopens it (logrotate, SIGHUP).
	 * Refused requests (4xx before auth or parse) are logged at most
	 * refused_per_second a second (0: GATEWAY_DEFAULT_REFUSED_PER_SECOND); the rest
	 * are counted in one summary line. */
	const char *access_log_path;
	size_t access_log_max;
	unsigned refused_per_second;
	/* POST /admin/v1/reload: 0, or -1 with *cause (one line); NULL: not offered.
	 * Called on a libmicrohttpd thread. */
	int (*reload)(void *arg, char **cause);
	void *reload_arg;
};

void gateway_opts_init(struct gateway_opts *);

/*
 * The most TCP connections the descriptor limit (RLIMIT_NOFILE, soft) allows:
 * (limit - GATEWAY_FD_RESERVE - GATEWAY_LOCAL_CONNECTIONS) / 2, since a
 * connection's request may hold an upstream transfer (a socket) of its own.
 * At 20,000 descriptors: 9,840. Past it libmicrohttpd stops accepting (clients
 * wait in the backlog) rather than run out of descriptors, so the Unix socket,
 * SQLite and upstream transfers keep theirs. fd_limit, if not NULL, is set.
 */
unsigned gateway_max_connections(unsigned long *fd_limit);

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
 * Stop listening, close every connection and free (gateway_close, then free).
 * Requests still inside the router finish there; their results are dropped.
 */
void gateway_stop(struct gateway *);
/* Stop listening and close every connection, but keep the handle: the routers
 * a reload retired can still be had from gateway_retired_router; then
 * gateway_stop frees it. */
void gateway_close(struct gateway *);

/* Reopen the access log file (after logrotate moved it; SIGHUP): 0, or -1 with
 * *cause (the old file stays in use). Nothing to do without access_log_path. */
int gateway_reopen_access_log(struct gateway *, char **cause);

/* Client keys and teams as the admin API shows them (gateway_keys.c): limits, state
 * (live, revoked, expired at now_ms), spend today and this month in tz, never a secret
 * or a hash; `llmdeck keys ls --json` prints the same. The caller deletes the object. */
struct cJSON;
struct store_key;
struct store_team;
struct cJSON *
gateway_key_json(struct store *, const struct store_key *, const char *tz, int64_t now_ms);
struct cJSON *gateway_team_json(struct store *, const struct store_team *, const char *tz);
/* A key's or team's name: 1 to 64 of A-Z a-z 0-9 . _ - (1), else 0. */
int gateway_key_name_ok(const char *);

/* The /metrics text (caller frees): what GET /metrics answers. */
char *gateway_metrics_text(struct gateway *);

/* The instance id ("HOST-PID" unless opts said), and the Unix socket's path (NULL if none). */
const char *gateway_instance(const struct gateway *);
const char *gateway_socket_path(const struct gateway *);
/* "HOST-PID": the short host name (letters, digits, '-', '_', '.') and the pid. */
void gateway_default_instance(char *out, size_t len);

/*
 * A reload: new requests go to router from now on (which must outlive the
 * gateway or come back from gateway_retired_router); the events of the old
 * one's ring are carried over so event ids go on. The old router finishes the
 * requests it has.
 */
void gateway_set_router(struct gateway *, struct router *);
/* A router set aside by gateway_set_router that nothing uses any more (the
 * caller frees it), or NULL. */
struct router *gateway_retired_router(struct gateway *);

/*
 * Stop taking LLM requests (503, "draining"; /ready 503 too) and wait up to
 * timeout_ms for the ones already in to be answered. Returns how many are left.
 */
int gateway_drain(struct gateway *, int timeout_ms);

/* A live local instance, from its file in the runtime directory. */
struct gateway_instance {
	char id[64];
	long pid;
	char host[64];
	char listen[128]; /* "http://HOST:PORT" */
	char socket[108]; /* the Unix socket's path */
	char version[32];
	int64_t started_ms;
};
/*
 * The runtime directory: $XDG_RUNTIME_DIR/llmdeck, else /tmp/llmdeck-UID;
 * created 0700 if missing, refused if another user owns it or others may
 * enter it. Caller frees; NULL with *cause.
 */
char *gateway_runtime_dir(char **cause);
/*
 * The live local instances (their process alive and their socket answering),
 * ordered by start time; the files of dead ones are removed. 0 (*out: caller
 * frees), or -1 with *cause.
 */
int gateway_instances(struct gateway_instance **out, size_t *n, char **cause);

#endif
