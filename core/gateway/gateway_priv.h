/* gateway_priv.h: shared between gateway.c, gateway_wire.c and gateway_metrics.c. */
#ifndef LLMDECK_GATEWAY_PRIV_H
#define LLMDECK_GATEWAY_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "histogram.h"
#include "llm.h"
#include "router.h"
#include "util.h"

/* The wire format a client speaks. */
enum gw_api {
	GW_OPENAI,
	GW_ANTHROPIC,
};

/* A client's parse error: the message names the field; param is the field's path. */
struct gw_bad {
	char message[512];
	char param[128];
};

/* What a parsed request asked for besides the llm_request. */
struct gw_ask {
	char model[128];   /* as the client named it */
	int include_usage; /* OpenAI stream_options.include_usage */
};

/* Formatting state of one streamed answer. */
struct gw_stream {
	enum gw_api api;
	const char *id; /* the request's (it outlives the stream) */
	const char *model;
	int64_t created;
	int include_usage;
	int opened; /* the opening chunk or events are out */
};

/* Parse a request body into req (initialised by the caller). 0, or -1 with bad. */
int gw_parse_openai(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
int gw_parse_anthropic(const char *body, size_t len, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
/* Point req at a route or a model alias for the client's model name; -1 if unknown. */
int
gw_resolve_model(const struct config *, const char *name, struct llm_request *, struct gw_bad *);

/* Whole answers (caller frees). */
char *
gw_openai_answer(const struct router_result *, const char *id, const char *model, int64_t created);
char *gw_anthropic_answer(const struct router_result *, const char *id, const char *model);

/* Stream events appended to out. */
void gw_stream_open(struct gw_stream *, struct buf *out);
void gw_stream_delta(struct gw_stream *, struct buf *out, const char *text, size_t len);
void gw_stream_close(struct gw_stream *, struct buf *out, const struct router_result *);
void gw_stream_error(struct gw_stream *, struct buf *out, int status, enum llm_errclass,
    const char *message);

/* HTTP status, error type and body for an error (caller frees the body). */
int gw_error_status(enum llm_errclass);
char *
gw_error_body(enum gw_api, int status, enum llm_errclass, const char *message, const char *param);

/* JSON string contents (no quotes) appended to out. */
void gw_json_escape(struct buf *out, const char *s, size_t len);

/* Endpoints, for routing and metrics. */
enum gw_endpoint {
	GW_EP_CHAT,
	GW_EP_MESSAGES,
	GW_EP_MODELS,
	GW_EP_HEALTH,
	GW_EP_READY,
	GW_EP_METRICS,
	GW_EP_OTHER,
	GW_EP__COUNT
};
#define GW_CODES 12 /* see gw_code_index() */

struct gw_req;

struct gateway {
	struct router *router;
	struct store *store;
	struct MHD_Daemon *daemon;
	int port;
	char url[128];
	char *token; /* NULL: no auth */
	size_t max_body;
	atomic_int refs; /* 1 + live requests */
	uint64_t seq;    /* ids, under mu */

	pthread_mutex_t mu; /* everything below, and every gw_req's shared state */
	int stopping;
	struct gw_req *live; /* requests MHD still holds */
	uint64_t http[GW_EP__COUNT][GW_CODES];
	uint64_t errors[2][LLM_ERR__COUNT]; /* [api][class] of failed router results */
	uint64_t stream_errors[2];          /* streams that ended with an error event */
	uint64_t in_flight;                 /* inside the router */
	uint64_t auth_failures;
	struct histogram latency[2]; /* [api]: request start to last byte, microseconds */
};

const char *gw_endpoint_name(enum gw_endpoint);
int gw_code_index(int status);
extern const int gw_codes[GW_CODES];

#endif
