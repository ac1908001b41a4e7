/*
 * llm.h: the one request/response model inside llmdeck. Adapters translate it
 * to and from each provider's wire format; the router, cache, ledger, console
 * and gateway only ever see these types.
 *
 * A message is a role and a list of typed parts: text, image, tool call (the
 * assistant asks for a tool), tool result (the user side answers one), and
 * thinking (a reasoning block a provider returned, to be sent back verbatim in
 * a tool loop). Tool results live in user messages, as Anthropic has them; the
 * OpenAI adapter sends each as a `role: tool` message of its own.
 *
 * Nothing is dropped silently: an adapter's check_request (adapter.h) names
 * the first field a provider cannot honour, and the router skips it.
 */
#ifndef LLMDECK_LLM_H
#define LLMDECK_LLM_H

#include <stddef.h>
#include <stdint.h>

enum llm_role {
	LLM_ROLE_USER,
	LLM_ROLE_ASSISTANT,
};
const char *llm_role_name(enum llm_role);

/* Anthropic's prompt-cache breakpoint (cache_control: {"type": "ephemeral"}). */
enum llm_cache_mark {
	LLM_CACHE_NONE,
	LLM_CACHE_5M, /* ephemeral, the default 5-minute lifetime */
	LLM_CACHE_1H, /* ephemeral with "ttl": "1h" */
};

enum llm_part_type {
	LLM_PART_TEXT,
	LLM_PART_IMAGE,
	LLM_PART_TOOL_CALL,         /* assistant: call a tool */
	LLM_PART_TOOL_RESULT,       /* user: a tool's answer */
	LLM_PART_THINKING,          /* assistant: reasoning text, with Anthropic's signature */
	LLM_PART_REDACTED_THINKING, /* assistant: Anthropic's encrypted reasoning (data) */
	/* assistant: an OpenAI Responses reasoning item: id (rs_...), its summary in
	 * text (summary parts joined by a blank line), encrypted_content in data
	 * (opaque: goes back to an OpenAI Responses provider as it came; every
	 * other adapter leaves it out, as Chat Completions has no field for it). */
	LLM_PART_REASONING,
	LLM_PART__COUNT
};
const char *llm_part_type_name(enum llm_part_type);

/*
 * One part. Which fields mean something depends on type; the others are NULL
 * (0). Every string is owned by the part.
 */
struct llm_part {
	enum llm_part_type type;
	/* TEXT, THINKING: the text. */
	char *text;
	/* IMAGE: either url (http(s) or a data: URL), or media_type plus data (base64). */
	char *url;
	char *media_type; /* "image/png", "image/jpeg", "image/gif", "image/webp" */
	char *data;       /* base64, no data: prefix; REDACTED_THINKING: the opaque data */
	char *detail;     /* OpenAI image detail ("auto", "low", "high") or NULL */
	/* TOOL_CALL: id, name and arguments (a JSON object as text, "{}" if none).
	 * TOOL_RESULT: id is the tool call's id. */
	char *id;
	char *name;
	char *arguments;
	/* TOOL_RESULT: the content (TEXT parts; IMAGE parts where the provider takes
	 * them) and whether the tool failed. */
	struct llm_part *parts;
	size_t n_parts;
	int is_error;
	/* THINKING: Anthropic's signature (must go back unchanged), or NULL. */
	char *signature;
	/* A response's tool call: its position among the response's tool calls
	 * (OpenAI's tool_calls[].index), 0 based. */
	int index;
	enum llm_cache_mark cache; /* a cache breakpoint after this part */
};

void llm_part_free(struct llm_part *);
void llm_part_copy(struct llm_part *dst, const struct llm_part *src);

struct llm_message {
	enum llm_role role;
	struct llm_part *parts;
	size_t n_parts;
};

/* The message's text parts, concatenated (a new string, "" if none). */
char *llm_message_text(const struct llm_message *);
/* Append a part to a message; returns it, zeroed but for its type, for the caller to fill. */
struct llm_part *llm_message_add_part(struct llm_message *, enum llm_part_type);

/* A tool the model may call. */
struct llm_tool {
	char *name;
	char *description; /* or NULL */
	char *parameters;  /* JSON Schema of the arguments (an object) as text, or NULL: {} */
	int strict;        /* OpenAI's function.strict: true (false is the default) */
	enum llm_cache_mark cache;
	/* Keys of the client's tool that the model does not carry (the AI SDK's
	 * eager_input_streaming), as a JSON object, or NULL: merged into the tool
	 * only by a provider of the request's passthrough_api, dropped by others. */
	char *extra;
};

enum llm_tool_choice {
	LLM_TOOL_CHOICE_UNSET, /* the provider's default (auto when tools are given) */
	LLM_TOOL_CHOICE_AUTO,
	LLM_TOOL_CHOICE_NONE,
	LLM_TOOL_CHOICE_ANY,   /* OpenAI "required", Anthropic {"type":"any"} */
	LLM_TOOL_CHOICE_NAMED, /* tool_choice_name */
};

enum llm_format {
	LLM_FORMAT_UNSET, /* text, the default */
	LLM_FORMAT_TEXT,
	LLM_FORMAT_JSON_OBJECT,
	LLM_FORMAT_JSON_SCHEMA,
};

struct llm_response_format {
	enum llm_format type;
	char *name;   /* JSON_SCHEMA: the schema's name */
	char *schema; /* JSON_SCHEMA: the schema (an object) as text */
	int strict;   /* JSON_SCHEMA: strict: true (false is the default) */
};

/* The client API a request came in through (for same-kind passthrough). */
enum llm_api {
	LLM_API_NONE,
	LLM_API_OPENAI,    /* Chat Completions */
	LLM_API_ANTHROPIC, /* Messages */
	LLM_API_RESPONSES, /* OpenAI Responses (POST /v1/responses) */
	LLM_API__COUNT
};
const char *llm_api_name(enum llm_api);

/* A request as the caller asked for it. Strings are owned by the request. */
struct llm_request {
	char *model;    /* alias ("claude-sonnet") or NULL: the route's or provider's first */
	char *route;    /* route name ("LSR") or NULL */
	char *provider; /* pin to one provider by name, or NULL */
	char *system;   /* system prompt or NULL */
	enum llm_cache_mark system_cache;
	struct llm_message *messages;
	size_t n_messages;
	double temperature;  /* meaningful only if has_temperature */
	int has_temperature; /* omitted: the provider's default (1.0), never cached */
	double top_p;
	int has_top_p;
	int top_k; /* 0: unset (Anthropic, Ollama, vLLM) */
	/* The output limit the caller asked for; 0: none. No cap is injected: an
	 * API that requires one (Anthropic) gets the model's max_output_tokens. */
	int max_tokens;
	char **stop; /* stop sequences */
	size_t n_stop;
	struct llm_tool *tools;
	size_t n_tools;
	enum llm_tool_choice tool_choice;
	char *tool_choice_name; /* LLM_TOOL_CHOICE_NAMED */
	int parallel_tool_calls; /* meaningful only if has_parallel_tool_calls; 0: one call at most */
	int has_parallel_tool_calls;
	struct llm_response_format response_format;
	int64_t seed;
	int has_seed;
	char *reasoning_effort; /* "minimal", "low", "medium", "high"... or NULL */
	int thinking_budget;    /* Anthropic's thinking.budget_tokens; 0: no thinking asked */
	char *user;             /* end-user id: OpenAI user, Anthropic metadata.user_id */
	char *metadata;         /* JSON object of strings (OpenAI metadata) or NULL */
	/* Provider-specific fields the model does not carry, as a JSON object, set
	 * into the body only when the chosen provider speaks passthrough_api
	 * (same-kind passthrough); fields the adapter wrote win. */
	char *passthrough;
	enum llm_api passthrough_api;
	/* Fields of the client's own API that the model carries only in part (Claude
	 * Code's thinking {"type": "adaptive"}, translated as reasoning_effort), as a
	 * JSON object: set as they came by a provider of passthrough_api (over what
	 * the adapter wrote), left out by any other, which the translation serves. */
	char *passthrough_soft;
	/*
	 * LLM_API_RESPONSES: the client's body as JSON (previous_response_id
	 * already expanded into input), sent whole, with model and stream set, by
	 * a provider that speaks the Responses API itself; the fields above are
	 * its translation for every other provider. NULL otherwise.
	 */
	char *raw_body;
	/* Responses built-in tools (web_search, file_search, code_interpreter,
	 * computer_use...) as a JSON array: only a provider that speaks the
	 * Responses API can run them; any other is skipped naming the tool. */
	char *hosted_tools;
	char *reasoning_summary; /* Responses reasoning.summary ("auto", "concise", "detailed") */
	int stream;              /* deliver deltas as they arrive */
	int no_cache;            /* skip the response cache for this request */
	int timeout_ms;          /* overall deadline; 0: the provider's timeout_seconds */
	char *quality;    /* "high" / "standard" / "low" or NULL (the cost optimizer's input) */
	char *complexity; /* "complex" / "simple" or NULL */
	/* Who sent it (store/keys.h): the client key's id and its team, or NULL; an
	 * operator's test prompt is ledgered as such and kept out of client figures. */
	char *key_id;
	char *team;
	int operator_test;
};

/*
 * The output limit assumed when neither the request nor the model's config
 * gives one: what an Anthropic request is sent with (the API requires one) and
 * what the budget reserves. 4096 is the smallest output limit of any Claude
 * model (Claude 3 Haiku), so it is never refused.
 */
#define LLM_MAX_OUTPUT_FALLBACK 4096

void llm_request_init(struct llm_request *);
void llm_request_free(struct llm_request *);
/* Append a message of one text part (text copied): the text-only convenience. */
void llm_request_add_message(struct llm_request *, enum llm_role, const char *text);
/* Append an empty message; returns it for llm_message_add_part. */
struct llm_message *llm_request_new_message(struct llm_request *, enum llm_role);
/* Append a tool (strings copied; description and parameters may be NULL). */
struct llm_tool *llm_request_add_tool(struct llm_request *, const char *name,
    const char *description, const char *parameters);
/*
 * Tools from a JSON array in either common shape: Anthropic's
 * [{name, description, input_schema}] or OpenAI's
 * [{type: "function", function: {name, description, parameters, strict}}].
 * Returns 0, or -1 with cause (request unchanged).
 */
int llm_request_tools_from_json(struct llm_request *, const char *json, char **cause);
/* Deep copy. */
void llm_request_copy(struct llm_request *dst, const struct llm_request *src);
/* Does the request use the feature? (for adapters and the cache) */
int llm_request_has_images(const struct llm_request *);
int llm_request_has_part(const struct llm_request *, enum llm_part_type);

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

/*
 * input_tokens counts every input token, cached ones included (OpenAI's
 * convention; the Anthropic adapter adds its cache reads and writes in, so
 * Anthropic's own input_tokens is input_tokens - cache_read_tokens -
 * cache_write_tokens). output_tokens counts every output token, reasoning
 * included (both APIs bill reasoning as output); reasoning_tokens says how
 * many of them were reasoning, where the API reports it.
 */
struct llm_usage {
	int64_t input_tokens;
	int64_t output_tokens;
	int64_t cache_read_tokens;     /* Anthropic cache_read_input_tokens, OpenAI cached_tokens */
	int64_t cache_write_tokens;    /* Anthropic cache_creation_input_tokens (5m and 1h) */
	int64_t cache_write_1h_tokens; /* of cache_write_tokens, written for 1 hour */
	int64_t reasoning_tokens;      /* OpenAI completion_tokens_details.reasoning_tokens */
	int has_cache_detail;          /* the provider reported cache counts (even 0) */
};

struct llm_response {
	char *id;      /* provider's message id */
	char *model;   /* model id the provider reports */
	char *content; /* the text parts, concatenated ("" if none) */
	/* Every part in order: TEXT, THINKING, REDACTED_THINKING, TOOL_CALL. */
	struct llm_part *parts;
	size_t n_parts;
	enum llm_stop stop;
	char *stop_raw; /* the provider's own word for it */
	struct llm_usage usage;
	char *request_id; /* request-id / x-request-id header */
};

void llm_response_init(struct llm_response *);
void llm_response_free(struct llm_response *);
/* Free the parts a failed parse had added (the rest of the response stays). */
void llm_response_drop_parts(struct llm_response *);
/* Append a part; returns it, zeroed but for its type. */
struct llm_part *llm_response_add_part(struct llm_response *, enum llm_part_type);
/* Number of TOOL_CALL parts. */
size_t llm_response_tool_calls(const struct llm_response *);

/*
 * Parts as JSON and back, for the cache and the gateway:
 * [{"type":"text","text":...}, {"type":"tool_call","id","name","arguments","index"},
 *  {"type":"thinking","text","signature"}, {"type":"image","url"|"media_type"+"data"},
 *  {"type":"tool_result","id","parts":[...],"is_error"}, ...]. Caller frees.
 */
char *llm_parts_to_json(const struct llm_part *, size_t n);
/* Returns 0 and fills *parts / *n, or -1 if json is not such an array. */
int llm_parts_from_json(const char *json, struct llm_part **parts, size_t *n);

/*
 * Streams: typed deltas. Every delta belongs to response part `part` (its index
 * in the accumulated response's parts), so a consumer can open and close
 * content blocks; deltas of one part arrive together but parts may follow one
 * another in any order the provider sends them.
 */
enum llm_delta_type {
	LLM_DELTA_TEXT,               /* text, len */
	LLM_DELTA_THINKING,           /* text, len: reasoning text */
	LLM_DELTA_THINKING_SIGNATURE, /* text, len: the thinking block's signature */
	LLM_DELTA_REDACTED_THINKING,  /* text, len: a redacted block's data, whole */
	LLM_DELTA_TOOL_CALL_START,    /* index, id, name: a tool call begins */
	LLM_DELTA_TOOL_CALL_ARGS,     /* index, text, len: a fragment of its arguments JSON */
	/* id, text, len: a REASONING part's encrypted_content, whole, once the
	 * item is done (its summary text came as LLM_DELTA_THINKING deltas). */
	LLM_DELTA_REASONING_DONE,
};

struct llm_delta {
	enum llm_delta_type type;
	size_t part; /* index of the part in the response */
	int index;   /* TOOL_CALL_*: the call's index among the response's tool calls */
	const char
	    *id; /* TOOL_CALL_START, REASONING_DONE; THINKING on a REASONING part: its item id */
	const char *name; /* TOOL_CALL_START */
	const char *text; /* not NUL-terminated: len bytes */
	size_t len;
};

/* Called once per delta, in order; the delta is valid only during the call. */
typedef void (*llm_delta_cb)(void *arg, const struct llm_delta *);

/* A whole response as the deltas a stream of it would have given (a cached or
 * non-streamed answer to a streamed request). */
void llm_response_replay(const struct llm_response *, llm_delta_cb, void *arg);

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
	LLM_ERR_FORBIDDEN, /* the client's key or team may not use this (a model outside its list) */
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
	char param[64];         /* the request field at fault (a capability refusal), or "" */
	char message[512];      /* one line */
};

void llm_error_clear(struct llm_error *);
void llm_error_set(struct llm_error *, enum llm_errclass, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Default retryability for a class (before x-should-retry). */
int llm_errclass_retryable(enum llm_errclass);

/* A provider's answer held invalid UTF-8 (sequences: how many were replaced
 * by U+FFFD; adapter_json_parse repairs it); the count of such answers since
 * start, for llmdeck_upstream_invalid_utf8_total. */
void llm_note_invalid_utf8(size_t sequences);
uint64_t llm_invalid_utf8_total(void);

#endif
