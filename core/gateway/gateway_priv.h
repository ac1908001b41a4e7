/*
 * gateway_priv.h: shared between gateway.c (the server, a request's life),
 * gateway_ops.c (/health, /ready, /v1/models, the access log, reloads,
 * draining and shutdown),
 * gateway_wire*.c (the client formats), gateway_embed.c (/v1/embeddings and
 * /v1/messages/count_tokens), gateway_metrics.c (/metrics),
 * gateway_admin.c (/admin/v1/) and gateway_local.c (the Unix socket and the
 * instance file).
 *
 * Locks: gw->mu guards the gateway's shared state and every request's; it
 * comes after the router's r->mu and the event ring's lock (a ring's watcher
 * takes it to wake event streams), so no router call is ever made with
 * gw->mu held. gw->log_mu (the access log) is a leaf.
 */
#ifndef LLMDECK_GATEWAY_PRIV_H
#define LLMDECK_GATEWAY_PRIV_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config/config.h"
#include "router/histogram.h"
#include "provider/llm.h"
#include "router/router.h"
#include "store/keys.h"
#include "util/util.h"

/* The wire format a client speaks (an entry of the client API table, gw_api_ops). */
enum gw_api {
	GW_OPENAI,    /* Chat Completions */
	GW_ANTHROPIC, /* Messages */
	GW_RESPONSES, /* OpenAI Responses */
	GW_API__COUNT
};

/* A client's parse error: the message names the field; param is the field's path. */
struct gw_bad {
	char message[512];
	char param[128];
};

/* A field the client sent that a translation leaves out: its label is the
 * field's shape, not its path ("tool_message.name", "tools[].eager_input_streaming"),
 * so the metric's cardinality stays bounded. */
#define GW_DROPPED_FIELD 48
#define GW_DROPPED_PER_REQUEST 8
#define GW_DROPPED_NAMES 64

/* What a parsed request asked for besides the llm_request. */
struct gw_ask {
	char model[128];        /* as the client named it */
	int include_usage;      /* OpenAI stream_options.include_usage */
	int64_t input_estimate; /* input tokens estimated from the request (pricing.h) */
	/* Fields accepted but carried only to a provider of the client's own API
	 * (dropped when translating): llmdeck_dropped_fields_total and the
	 * x-llmdeck-dropped header. The first GW_DROPPED_PER_REQUEST distinct ones. */
	char dropped[GW_DROPPED_PER_REQUEST][GW_DROPPED_FIELD];
	int n_dropped;
	/* Responses: previous_response_id as the client sent it, or NULL (the
	 * gateway resolves it; the parser does not). */
	char *previous_response_id;
	/* Responses: the request fields a Response object echoes back
	 * (instructions, tools, tool_choice, parallel_tool_calls, temperature,
	 * top_p, text, reasoning, max_output_tokens, previous_response_id, store,
	 * metadata, truncation, user), defaults filled in, as a JSON object; or NULL. */
	char *echo;
};
/* Note a dropped field's label (once per request). */
void gw_ask_drop(struct gw_ask *, const char *label);
/* Free what a parse allocated in the ask (it stays usable, emptied of them). */
void gw_ask_free(struct gw_ask *);

/*
 * Formatting state of one streamed answer. The provider's typed deltas
 * (llm.h) come in order, each naming its response part; an Anthropic client
 * gets one content block per part (opened at its first delta, closed when
 * the next part begins or the stream ends), an OpenAI client a chunk per
 * delta with tool calls as delta.tool_calls[index].
 */
struct gw_stream {
	enum gw_api api;
	const char *id; /* the request's (it outlives the stream) */
	const char *model;
	const struct gw_ask *ask; /* the request's, or NULL */
	int64_t created;
	int include_usage;
	int64_t input_estimate; /* Anthropic message_start's input_tokens, until the real count */
	int opened;             /* the opening chunk or events are out */
	int delivered;          /* some delta went out */
	/* Anthropic: the content block open now. */
	int block_open;
	int block;         /* its index (blocks are numbered from 0 as they open) */
	size_t block_part; /* the response part it carries */
	int block_kind;    /* enum llm_part_type of the part */
	int n_blocks;
	/* Responses: the block is the output item open now (output_index block);
	 * every event's sequence_number; the item's text, arguments or reasoning
	 * so far, and its signature (Anthropic thinking) or encrypted_content. */
	int64_t seq;
	int summary_open; /* a reasoning item's summary part was added */
	struct buf acc;
	struct buf sig;
	char *item_id; /* the provider's (a reasoning item's rs_...), or NULL */
	char *call_id;
	char *call_name;
};
/* Free the stream's formatting state. */
void gw_stream_free(struct gw_stream *);

/*
 * The client API table: one entry per enum gw_api, with everything a request's
 * life needs from its wire format (gateway.c and gateway_wire.c call through
 * it, never on the API's name).
 */
struct gw_api_ops {
	const char *name;      /* metrics label api="..." */
	const char *id_prefix; /* of the answer's id: "chatcmpl-", "msg_", "resp_" */
	/* A request body into req (initialised by the caller). 0, or -1 with bad. */
	int (*parse)(const char *body, size_t len, struct llm_request *, struct gw_ask *,
	    struct gw_bad *);
	/* The whole answer (caller frees); st has the id, model, created and ask. */
	char *(*answer)(const struct router_result *, const struct gw_stream *st);
	/* The opening events, once; one typed delta; the end; an error after opening. */
	void (*stream_open)(struct gw_stream *, struct buf *out);
	void (*stream_typed)(struct gw_stream *, struct buf *out, const struct llm_delta *);
	void (*stream_close)(struct gw_stream *, struct buf *out, const struct router_result *);
	void (*stream_error)(struct gw_stream *, struct buf *out, int status, enum llm_errclass,
	    const char *message);
	/* An error's JSON body (caller frees); param may be NULL. */
	char *(*error_body)(int status, enum llm_errclass, const char *message, const char *param);
	/* Answers are kept for previous_response_id and GET /v1/responses/{id}
	 * unless the request says "store": false (gateway_stored.c). */
	int stored;
};
/* The table's entry for api (an unknown api gets Chat Completions'). */
const struct gw_api_ops *gw_api_ops(enum gw_api);

/* Parse a request body into req (initialised by the caller). 0, or -1 with bad. */
int gw_parse_openai(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
int gw_parse_anthropic(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
/* The body of POST /v1/messages/count_tokens: a Messages request without max_tokens. */
int gw_parse_anthropic_count(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
/* POST /v1/responses (gateway_wire_responses.c): input items, instructions, function and
 * built-in tools, text.format, reasoning; req->raw_body is the body, passthrough_api
 * LLM_API_RESPONSES; previous_response_id and the echoed fields go to the ask. */
int gw_parse_responses(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
/*
 * Before any parse: the body is valid UTF-8 and no string in it holds the
 * escape \u0000 (cJSON would cut the string there). 0, or -1 with bad naming
 * the byte or the field's path. The skeleton calls it; so does the gateway
 * before it rewrites a body (previous_response_id).
 */
int gw_body_check(const char *body, size_t len, struct gw_bad *);
/* Point req at a route or a model alias for the client's model name; -1 if unknown. */
int
gw_resolve_model(const struct config *, const char *name, struct llm_request *, struct gw_bad *);

/* Whole answers (caller frees). */
char *
gw_openai_answer(const struct router_result *, const char *id, const char *model, int64_t created);
char *gw_anthropic_answer(const struct router_result *, const char *id, const char *model);
/* The Response object (status completed or incomplete, output items in the parts' order). */
char *gw_responses_answer(const struct router_result *, const struct gw_stream *);

/* Stream events appended to out (the first call opens the stream): one typed delta
 * (router_submit's). */
void gw_stream_typed(struct gw_stream *, struct buf *out, const struct llm_delta *);
/* The end: a whole answer's deltas first if none went out, then the stop, usage and end. */
void gw_stream_close(struct gw_stream *, struct buf *out, const struct router_result *);
void gw_stream_error(struct gw_stream *, struct buf *out, int status, enum llm_errclass,
    const char *message);

/* The answer of an endpoint that is not chat (gateway_embed.c). */
struct gw_answer {
	int status;
	char *body;            /* JSON, in the endpoint's format (errors too) */
	enum llm_errclass cls; /* LLM_OK unless an error */
	long retry_after_s;    /* -1: none */
	char provider[64];     /* who answered, "" if none */
	char attempts[256];    /* x-llmdeck-attempts, "" if none */
	char cost[32];         /* x-llmdeck-cost-usd, "" if none */
	int estimate;          /* the gateway's own count: x-llmdeck-estimate: true */
};
/* Called exactly once per request, now or from another thread; the callee owns the answer. */
typedef void (*gw_answer_cb)(void *arg, struct gw_answer *);
void gw_answer_free(struct gw_answer *);
/* POST /v1/embeddings and POST /v1/messages/count_tokens with their bodies,
 * through the router (router_submit_op). Returns the router's id for
 * router_cancel, or 0 if answered at once (a refusal). */
uint64_t gw_embeddings(struct router *, const char *body, size_t len, const char *key_id,
    const char *team, gw_answer_cb, void *arg);
uint64_t gw_count_tokens(struct router *, const char *body, size_t len, const char *key_id,
    const char *team, gw_answer_cb, void *arg);

/* HTTP status, error type and body for an error (caller frees the body). */
int gw_error_status(enum llm_errclass);
/* A finished request's status: gw_error_status of its class, but 401 for the client's own
 * key refused by the router at admission (revoked between the gateway's check and it). */
int gw_result_status(const struct router_result *);
char *
gw_error_body(enum gw_api, int status, enum llm_errclass, const char *message, const char *param);

/* JSON string contents (no quotes) appended to out. */
void gw_json_escape(struct buf *out, const char *s, size_t len);

/* Endpoints, for routing and metrics. */
enum gw_endpoint {
	GW_EP_CHAT,
	GW_EP_MESSAGES,
	GW_EP_RESPONSES, /* POST /v1/responses */
	GW_EP_RESPONSE, /* GET, DELETE /v1/responses/{id}, GET .../input_items (gateway_stored.c) */
	GW_EP_MODELS,
	GW_EP_HEALTH,
	GW_EP_READY,
	GW_EP_METRICS,
	GW_EP_ADMIN,
	GW_EP_EMBEDDINGS,   /* POST /v1/embeddings (gateway_embed.c) */
	GW_EP_COUNT_TOKENS, /* POST /v1/messages/count_tokens (gateway_embed.c) */
	GW_EP_OTHER,
	GW_EP__COUNT
};
#define GW_CODES 15 /* see gw_code_index() */

enum gw_phase {
	PH_READ, /* receiving the body */
	PH_WAIT, /* inside the router */
	PH_SENT, /* response queued */
};

/*
 * A router the gateway serves or has served: a reload swaps in a new one and
 * the old one retires once nothing uses it. refs (under gw->mu): 1 while it is
 * the current one, plus every request and handler using it.
 */
struct gw_router {
	struct router *router;
	int refs;
	struct gw_router *next; /* on gw->retired */
};

struct gw_req {
	struct gateway *gw;
	struct MHD_Connection *conn;
	int refs; /* under gw->mu */
	enum gw_endpoint ep;
	enum gw_api api;
	enum gw_phase phase;
	int bad_method;
	int too_large;
	int local;    /* came in on the Unix socket */
	int admitted; /* arrived before the gateway began to drain */
	/* The client key it presented (gateway_keys.c), "" when none. */
	char key_id[KEY_ID_SIZE];
	char key_name[LIMIT_NAME_SIZE];
	char team[LIMIT_NAME_SIZE];
	char method[8];
	char *path; /* the URL's path (the admin API routes on it) */
	/* A Responses request to keep once answered: its body, previous_response_id
	 * expanded (gateway_stored.c), and the answer's JSON made for the store. */
	char *stored_body;
	char *answer_json;
	struct buf body;
	uint64_t start_us;
	struct gw_ask ask;
	int stream;
	int status; /* HTTP status sent, 0 before */
	char id[64];
	struct gw_router *gr; /* the router it went to, referenced until the request is freed */

	/* Shared with the engine thread: under gw->mu. */
	int suspended;
	uint64_t rid; /* the router's id for it, 0 before submit */
	int closed;   /* MHD completed it */
	int finished; /* the router's done arrived */
	struct router_result *res;
	struct router_result *pending; /* done, its answer being stored (gateway_stored.c) */
	struct gw_answer *ans;         /* GW_EP_EMBEDDINGS, GW_EP_COUNT_TOKENS: the answer */
	struct gw_stream st;
	struct buf out; /* SSE bytes not yet read */
	size_t out_off;
	int out_end; /* nothing more will be appended */
	struct gw_req *prev, *next;

	/* An admin event stream (under gw->mu). */
	int events;                       /* this request is one */
	uint64_t ev_after;                /* the last event sent */
	int ev_pending;                   /* woken since the last read: look again */
	uint64_t ev_sent_ms;              /* when bytes last went out (the heartbeat) */
	struct gw_req *ev_prev, *ev_next; /* on gw->streams */
};

struct gateway {
	struct store *store;
	struct MHD_Daemon *daemon;
	int port;
	char url[128];
	char *token; /* NULL: no auth */
	size_t max_body;
	unsigned max_connections; /* on the TCP port */
	int per_ip_limit;         /* per client address; -1: none */
	unsigned idle_seconds;
	atomic_int refs; /* 1 + live requests */
	uint64_t seq;    /* ids, under mu */

	pthread_mutex_t mu; /* everything below, and every gw_req's shared state */
	int stopping;
	int closed;                /* gateway_close ran (its caller's thread only) */
	struct gw_req *live;       /* requests MHD still holds */
	struct gw_req *streams;    /* admin event streams among them */
	struct gw_router *cur;     /* the router new requests go to */
	struct gw_router *retired; /* older ones, until their last reference goes */
	int draining;              /* SIGTERM: no new LLM requests, /ready 503 */
	uint64_t llm_live;         /* LLM requests MHD holds (a drain waits for 0) */
	pthread_cond_t idle;       /* llm_live went down */
	pthread_cond_t tick;       /* the ticker's sleep (stopping wakes it) */
	pthread_t ticker;          /* heartbeats for event streams */
	int ticking;
	uint64_t http[GW_EP__COUNT][GW_CODES];
	uint64_t errors[GW_API__COUNT][LLM_ERR__COUNT]; /* [api][class] of failed router results */
	uint64_t stream_errors[GW_API__COUNT];          /* streams that ended with an error event */
	uint64_t in_flight;                             /* inside the router */
	uint64_t auth_failures;
	struct gw_teams *teams; /* per-team counters (gateway_keys.c; its own lock) */
	struct {
		char field[GW_DROPPED_FIELD];
		uint64_t n;
	} dropped[GW_DROPPED_NAMES]; /* llmdeck_dropped_fields_total; the rest count as "other" */
	size_t n_dropped;
	struct histogram
	    latency[GW_API__COUNT]; /* [api]: request start to last byte, microseconds */

	/* Set at start, then read only. */
	char instance[64];
	char host[64];
	char version[32];
	char *config_path;
	int64_t started_ms;
	char *admin_token;  /* NULL: none */
	char admin_env[64]; /* the variable it comes from */
	int admin_tcp;      /* the admin API is served over TCP (loopback, or a token is set) */
	int (*reload)(void *, char **);
	void *reload_arg;
	struct MHD_Daemon *local_daemon; /* the Unix socket's, or NULL */
	char *socket_path;               /* NULL: none */
	char *info_path;                 /* the instance file next to it */
	struct resp_store *responses;    /* stored Responses answers (responses.h) */
	/* The access log (under log_mu): the file; its path and size when the
	 * gateway opened it (rotated to PATH.1 past log_max bytes, reopened on
	 * gateway_reopen_access_log); refusals sampled per second. */
	FILE *access_log;
	pthread_mutex_t log_mu;
	char *log_path; /* NULL: the caller's FILE (stdout), never rotated */
	int log_owned;  /* the gateway opened it and closes it */
	off_t log_size, log_max;
	uint64_t log_rotations;
	unsigned log_refused_per_s;
	int64_t log_second;
	unsigned log_refused_in_second;
	uint64_t log_suppressed;
};

/* gateway.c, for the other files. */
/* The current router, referenced (gw_router_put when done); never NULL. */
struct gw_router *gw_router_get(struct gateway *);
void gw_router_put(struct gateway *, struct gw_router *);
/* Queue a whole response (takes body, malloc'd). */
enum MHD_Result gw_reply(struct gw_req *, int status, const char *ctype, char *body);
/* gateway_reply.c: a whole answer with its result's x-llmdeck-* headers (res may be
 * NULL), retry-after (-1: none) and x-should-retry: false (no_retry); takes body. */
enum MHD_Result gw_reply_result(struct gw_req *, int status, const char *ctype, char *body,
    const struct router_result *res, long retry_after_s, int no_retry);
/* An error in the client API's shape (res may be NULL). */
enum MHD_Result gw_reply_error(struct gw_req *, int status, enum llm_errclass, const char *message,
    const char *param, const struct router_result *res);
/* The SSE response whose reader hands out q->out as the router appends to it. */
enum MHD_Result gw_reply_stream(struct gw_req *);
/* An embeddings or count_tokens answer, with its headers. */
enum MHD_Result gw_reply_answer(struct gw_req *, struct gw_answer *);
/* Suspend until woken (-1 if the gateway is stopping), and wake; gw->mu held. */
int gw_req_sleep(struct gw_req *);
void gw_req_wake(struct gw_req *);
/* A reference for a response callback; the last unref frees the request. */
void gw_req_ref(struct gw_req *);
void gw_req_unref(struct gw_req *);
/* Is the Content-Type header's value application/json (parameters allowed)? */
int gw_json_content_type(const char *ctype);
/* The request has a body that does not say it is JSON (a 415). */
int gw_body_not_json(struct gw_req *);
/* Does given match want? Constant time in want's length. */
int gw_token_equal(const char *want, const char *given);
/* A libmicrohttpd daemon running the gateway's handler on a bound listening socket:
 * the TCP port's limits, or (local) the Unix socket's own. */
struct MHD_Daemon *
gw_daemon_start(struct gateway *, int listen_fd, int ipv6, unsigned threads, int local);
/* Drop a reference to the gateway; the last one frees it. */
void gw_unref(struct gateway *);
/* Queue a JSON response (takes o). */
enum MHD_Result gw_reply_json(struct gw_req *, int status, cJSON *o);

/* gateway_ops.c: /health, /ready, GET /v1/models once the request is admitted; one
 * access log line for a completed LLM request. */
enum MHD_Result gw_serve_health(struct gw_req *);
enum MHD_Result gw_serve_ready(struct gw_req *);
enum MHD_Result gw_serve_models(struct gw_req *);
void gw_access_log_line(struct gw_req *);
/* Open the access log at path (appended, 0600); -1 with *cause. */
int gw_access_log_open(struct gateway *, const char *path, char **cause);
/* Once a second (the ticker): the summary line of refusals left out. */
void gw_access_log_tick(struct gateway *);
/* gateway_ops.c: a path not served (404 and a log line); x-llmdeck-dropped (ask.dropped). */
enum MHD_Result gw_serve_unknown(struct gw_req *);
void gw_add_dropped_header(struct MHD_Response *, const struct gw_req *);

/* gateway_stored.c: previous_response_id and the stored responses' endpoints. */
struct resp_store;
int gw_stored_id_ok(const char *id);
/* owner: the caller's client key id ("" or NULL: none); an entry stored with a key is
 * that key's alone (gateway_stored.c). */
int gw_stored_expand(struct resp_store *, cJSON *body, const char *owner, struct gw_bad *);
int gw_stored_wanted(const cJSON *body);
void gw_stored_put_items(struct resp_store *, const char *response_json, const char *owner);
char *gw_stored_entry(const cJSON *body, const char *response_json, const char *resp_id,
    const char *owner);
typedef const char *(*gw_query_fn)(void *arg, const char *key);
int gw_stored_serve(struct resp_store *, const char *method, const char *id, const char *what,
    const char *owner, gw_query_fn query, void *qarg, char **body);

/* gateway_admin.c: is the Host header's value a loopback name (localhost, 127.0.0.1,
 * [::1], with or without a port)? */
int gw_loopback_host(const char *host);
/* gateway_admin.c: a hash of the routing config loaded (drift between instances shows
 * as different hashes: the admin snapshot and the instance registry carry it). */
void gw_config_hash(const struct config *, char out[17]);

/* gateway_admin.c: /admin/v1/ once the body is in; the ring's watcher; the heartbeat. */
enum MHD_Result gw_admin(struct gw_req *);
/* An admin API error {"error":{"type","message"}}, and a JSON answer (takes o). */
enum MHD_Result gw_admin_error(struct gw_req *, int status, const char *type, const char *fmt, ...)
    PRINTFLIKE(4, 5);
enum MHD_Result gw_admin_json(struct gw_req *, int status, cJSON *o);
/* gateway_requests.c: requests, requests/ID and prompt (rest: the path after /admin/v1/). */
enum MHD_Result gw_admin_requests(struct gw_req *, const char *rest);
void gw_admin_events_changed(void *gw);
void gw_admin_heartbeat(struct gateway *);

/* gateway_keys.c: client keys (store/keys.h). gw_keys_admit: may the request in (every
 * endpoint but /health, /ready and the admin API)? 1, with q->key_id, key_name and team
 * set for a key; 0 with *ret the 401 queued in the API's shape. */
int gw_keys_admit(struct gw_req *, enum MHD_Result *ret);
/* The key's id and team, and the quality and complexity the client stated
 * (x-llmdeck-quality, x-llmdeck-complexity, or metadata's llmdeck_quality,
 * llmdeck_complexity), into req. 0, or -1 with bad (a 400 naming the header). */
int gw_keys_request(struct gw_req *, struct llm_request *, struct gw_bad *);
/* Who sent it: the key's id and team ("" or NULL: none) into req, for its ledger row
 * (gw_keys_request's first step; embeddings and count_tokens take only this). */
void gw_keys_caller(struct llm_request *, const char *key_id, const char *team);
/* The secret a client sent: "Authorization: Bearer S" (the scheme in any case), else
 * "x-api-key: S", blanks around it trimmed. 1 with *secret (pointing into the header)
 * and *len (0: sent empty), 0 when neither header says one. */
int gw_key_presented(const char *authorization, const char *x_api_key, const char **secret,
    size_t *len);
/* Is value one that header ("...quality" or "...complexity") allows? 0 yes, -1 no. */
int gw_hint_check(const char *header, const char *value);
/* Per-team counters: made and freed with the gateway, counted when a request completes,
 * written into /metrics. */
void gw_keys_setup(struct gateway *);
void gw_keys_free(struct gateway *);
void gw_keys_count(struct gw_req *);
void gw_keys_metrics(struct gateway *, struct buf *);
/* gateway_metrics.c: a label's value escaped as the exposition format asks (backslash,
 * quote, newline). */
void gw_metrics_label(struct buf *, const char *);
/* /admin/v1/keys[/ID[/revoke|/rotate]] and /admin/v1/teams[/NAME], access checked. */
enum MHD_Result gw_admin_keys(struct gw_req *, const char *rest);

/* gateway_local.c: the Unix socket and the instance file beside it. */
int gw_local_start(struct gateway *, char **cause);
void gw_local_stop(struct gateway *);
/* The store's instance registry: this gateway's row now (not under gw->mu), and
 * removed at stop. */
#define GW_REGISTRY_BEAT_MS 2000
void gw_registry_beat(struct gateway *);
void gw_registry_remove(struct gateway *);

const char *gw_endpoint_name(enum gw_endpoint);
int gw_code_index(int status);
extern const int gw_codes[GW_CODES];

#endif
