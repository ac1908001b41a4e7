/*
 * llm.h: the one request/response model inside llmdeck. Adapters translate it
 * to and from each provider's wire format; the router, cache, ledger, console
 * and gateway only ever see these types.
 */
#ifndef LLMDECK_LLM_H
#define LLMDECK_LLM_H

#include <stddef.h>
#include <stdint.h>

enum llm_role {
	LLM_ROLE_USER,
	LLM_ROLE_ASSISTANT,
};

struct llm_message {
	enum llm_role role;
	char *content;
};

/* A request as the caller asked for it. Strings are owned by the request. */
struct llm_request {
	char *model;    /* alias ("claude-sonnet") or NULL: the route's or provider's first */
	char *route;    /* route name ("LSR") or NULL */
	char *provider; /* pin to one provider by name, or NULL */
	char *system;   /* system prompt or NULL */
	struct llm_message *messages;
	size_t n_messages;
	double temperature;  /* meaningful only if has_temperature */
	int has_temperature; /* omitted: the provider's default (1.0), never cached */
	double top_p;
	int has_top_p;
	int max_tokens; /* 0: the default, 1024 */
	char **stop;    /* stop sequences */
	size_t n_stop;
	char *tools_json; /* JSON array [{name, description, input_schema}] or NULL */
	int stream;       /* deliver text deltas as they arrive */
	int no_cache;     /* skip the response cache for this request */
	int timeout_ms;   /* overall deadline; 0: the provider's timeout_seconds */
	char *quality;    /* "high" / "standard" / "low" or NULL (the cost optimizer's input) */
	char *complexity; /* "complex" / "simple" or NULL */
};

#define LLM_DEFAULT_MAX_TOKENS 1024

void llm_request_init(struct llm_request *);
void llm_request_free(struct llm_request *);
/* Append a message (content copied). */
void llm_request_add_message(struct llm_request *, enum llm_role, const char *content);
/* Deep copy. */
void llm_request_copy(struct llm_request *dst, const struct llm_request *src);
int llm_request_max_tokens(const struct llm_request *);

enum llm_stop {
	LLM_STOP_NONE,
	LLM_STOP_END,        /* end_turn, stop */
	LLM_STOP_MAX_TOKENS, /* max_tokens, length, model_length */
	LLM_STOP_STOP_SEQUENCE,
	LLM_STOP_TOOL_USE,       /* tool_use, tool_calls */
	LLM_STOP_CONTENT_FILTER, /* content_filter, refusal */
	LLM_STOP_OTHER,
};
const char *llm_stop_name(enum llm_stop);

/* input_tokens counts every input token, cached ones included (OpenAI's
 * convention; the Anthropic adapter adds its cache reads and writes in). */
struct llm_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens;  /* Anthropic cache_read_input_tokens, OpenAI cached_tokens */
	int64_t cache_write_tokens; /* Anthropic cache_creation_input_tokens */
};

struct llm_response {
	char *id;      /* provider's message id */
	char *model;   /* model id the provider reports */
	char *content; /* the text, concatenated */
	enum llm_stop stop;
	char *stop_raw; /* the provider's own word for it */
	struct llm_usage usage;
	char *request_id; /* request-id / x-request-id header */
};

void llm_response_init(struct llm_response *);
void llm_response_free(struct llm_response *);

/* What went wrong, by class: the router decides retry / failover from this. */
enum llm_errclass {
	LLM_OK = 0,
	LLM_ERR_RATE_LIMIT,  /* 429 rate limit: retryable, honour retry-after */
	LLM_ERR_OVERLOADED,  /* 529, 503: retryable */
	LLM_ERR_SERVER,      /* other 5xx, 408, 409: retryable */
	LLM_ERR_TIMEOUT,     /* deadline or read timeout: retryable */
	LLM_ERR_CONNECT,     /* refused, reset, DNS, closed: retryable */
	LLM_ERR_MALFORMED,   /* unparseable or truncated body: retryable elsewhere */
	LLM_ERR_AUTH,        /* 401, 403: fail over, mark provider misconfigured */
	LLM_ERR_QUOTA,       /* insufficient_quota / billing: fail over, never retry here */
	LLM_ERR_NOT_FOUND,   /* 404 model or deployment not found: fail over */
	LLM_ERR_BAD_REQUEST, /* 400, 413, 422: the request is wrong; return at once */
	LLM_ERR_STREAM,      /* a stream failed after its first token */
	LLM_ERR_NO_PROVIDER, /* nothing usable to send to */
	LLM_ERR_BUDGET,      /* refused by the budget */
	LLM_ERR_CANCELLED,
	LLM_ERR_INTERNAL,
	LLM_ERR__COUNT
};
const char *llm_errclass_name(enum llm_errclass);

struct llm_error {
	enum llm_errclass cls;
	int status;             /* HTTP status, 0 if none */
	int retryable;          /* worth retrying on the same provider */
	int64_t retry_after_ms; /* from retry-after-ms / retry-after, -1 if absent */
	int should_retry;       /* x-should-retry: 1 true, 0 false, -1 absent */
	char type[64];          /* provider's error type or code, e.g. "overloaded_error" */
	char message[512];      /* one line */
};

void llm_error_clear(struct llm_error *);
void llm_error_set(struct llm_error *, enum llm_errclass, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Default retryability for a class (before x-should-retry). */
int llm_errclass_retryable(enum llm_errclass);

#endif
