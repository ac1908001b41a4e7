/*
 * adapter_priv.h: what the adapter implementations share (adapter.c and adapter_error.c hold it).
 * Not for use outside the adapters and their tests.
 */
#ifndef LLMDECK_ADAPTER_PRIV_H
#define LLMDECK_ADAPTER_PRIV_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "provider/adapter.h"
#include "provider/sse.h"
#include "util/util.h"

/* Request building. */
void adapter_http_init(struct adapter_http *);
void adapter_http_header(struct adapter_http *, const char *fmt, ...) PRINTFLIKE(2, 3);
/* JSON content-type and accept (an event stream if stream) headers, then root
 * printed as the body (root stays the caller's). */
void adapter_http_json(struct adapter_http *, const cJSON *root, int stream);
/* req's messages as {role, content} objects onto the array msgs. */
void adapter_json_messages(cJSON *msgs, const struct llm_request *req);
/* temperature, top_p, the stop words as an array at stop_key, then tools
 * (root takes it; NULL: none): the fields both wire formats spell alike. */
void adapter_json_sampling(cJSON *root, const struct llm_request *req, const char *stop_key,
    cJSON *tools);
/* The base URL without trailing slashes and without a trailing "/v1" (vLLM and
 * llama.cpp document theirs with it; the adapters add the version themselves);
 * -1 and cause if the conf has none. */
int adapter_base_url(const struct provider_conf *, const char *who, char **base, char **cause);
/* Percent-encode s for a URL path segment or query value. */
char *adapter_url_escape(const char *s);

/* Capability checks (check_request). */
/* Fill why as a refusal of param (a field path) and return -1. */
int adapter_refuse(struct llm_error *why, const char *param, const char *fmt, ...) PRINTFLIKE(3, 4);
/* What every kind checks: parts in the right role, tool calls with a name and
 * JSON object arguments, tool results with an id and text or image content,
 * images with a source, a named tool choice naming a tool, tools and schemas
 * that are JSON objects. 0, or -1 with why filled. */
int adapter_check_common(const struct llm_request *, struct llm_error *why);
/* The path of part j of message i, for refusals: "messages[i].content[j]". */
const char *adapter_part_path(char *buf, size_t len, size_t i, size_t j);
/* A base64 data: URL split into its media type and data (both new strings): 0,
 * or -1 if url is not one. */
int adapter_data_url(const char *url, char **media_type, char **data);
/* An image's data as a data: URL, or its URL (a new string). */
char *adapter_image_url(const struct llm_part *);
/* Same-kind passthrough: the keys of req->passthrough that root lacks, when the
 * request came in through api. */
void adapter_json_passthrough(cJSON *root, const struct llm_request *, enum llm_api api);
/* The keys of object from that into lacks, copied in (from may be NULL). */
void adapter_json_merge(cJSON *into, const cJSON *from);
/* A tool's extra keys (llm_tool.extra) when the request came in through api, else
 * NULL: the caller merges them and frees them. */
cJSON *adapter_tool_extra(const struct llm_request *, const struct llm_tool *, enum llm_api api);
/* A JSON object text parsed; NULL if it is not one. */
cJSON *adapter_json_object(const char *text);
/* Tool call arguments as a JSON object ({} when empty); NULL if not an object. */
cJSON *adapter_tool_arguments(const struct llm_part *);

/* JSON reading. */
cJSON *adapter_json_parse(const char *body, size_t len);
const char *adapter_json_string(const cJSON *obj, const char *key);
/* The number at key as an integer, or dflt if absent or not a number. */
int64_t adapter_json_int(const cJSON *obj, const char *key, int64_t dflt);
/* A token count at key, 0..ADAPTER_MAX_TOKENS, else dflt: a negative or absurd count
 * from a provider is not counted (it would price negative or overflow the sums). */
#define ADAPTER_MAX_TOKENS ((int64_t)1 << 53)
int64_t adapter_json_tokens(const cJSON *obj, const char *key, int64_t dflt);
/* Replace *dst by a copy of s (NULL: leave *dst alone). */
void adapter_set_string(char **dst, const char *s);

/* Stop reasons: a provider's words and what each means. */
struct adapter_stop_word {
	const char *word;
	enum llm_stop stop;
};
/* The reason string at key in obj, if any, into out->stop (through map; an
 * unknown word is LLM_STOP_OTHER) and out->stop_raw; absent: out is left alone. */
void adapter_stop_reason(const cJSON *obj, const char *key, const struct adapter_stop_word *map,
    size_t n, struct llm_response *out);

/* Errors. */
/* Status first, body second, then retry headers: the classification all kinds share. */
void adapter_classify_http(int status, const struct http_headers *, const char *body, size_t len,
    struct llm_error *err);
/* The class of a provider's error type or code where there is no status (stream errors). */
enum llm_errclass adapter_class_for_type(const char *type);
/* The same for a whole error body: its type, else its code; LLM_ERR_SERVER if unknown. */
enum llm_errclass adapter_class_for_body(const cJSON *root);
/* Fill err->type and err->message from an error JSON object (any provider's shape). */
void adapter_error_from_json(const cJSON *root, struct llm_error *err);
/* A 2xx body that is an error object: LLM_ERR_MALFORMED, with its type and message. */
void adapter_error_in_2xx(const cJSON *root, const char *who, struct llm_error *err);
/* Copy a provider's message into err->message: one line, cut on a UTF-8 boundary. */
void adapter_error_message(struct llm_error *err, const char *msg);
/* retry-after value (seconds or HTTP date) in ms relative to now_ms, or -1. */
int64_t adapter_parse_retry_after(const char *value, int64_t now_ms);
/* An HTTP date (IMF-fixdate, RFC 850 or asctime) in ms since the epoch, or -1. */
int64_t adapter_parse_http_date(const char *value);

/* Streams: one decoder shape for every kind, with a per-kind event handler. */
typedef int (*adapter_event_fn)(struct adapter_stream *, const char *event, const char *data,
    size_t len);

struct adapter_stream {
	struct sse_parser *sse;
	adapter_event_fn on_event;
	const char *who;      /* "anthropic stream" */
	const char *end_name; /* what a proper end looks like, for the cut-stream message */
	int state;            /* 0 running, 1 ended properly, -1 failed */
	int delivered;        /* some delta went to the callback */
	int seen_stop;        /* a stop reason arrived (OpenAI: finish_reason) */
	struct llm_error saved;
	char *content; /* acc->content as this decoder last left it */
	size_t content_len;
	size_t content_cap;
	/* acc->parts as this decoder last left them, with the length and room of
	 * each part's growing string (text, arguments or data), for cheap appends. */
	struct llm_part *parts;
	size_t n_parts;
	size_t *part_len;
	size_t *part_cap;
	/* Per kind: Anthropic content block index -> part (+1, 0: none); OpenAI tool
	 * call index -> part (+1); the open text part (+1). */
	size_t *map;
	size_t n_map;
	size_t text_part;
	size_t thinking_part;
	int n_tool_calls;
	int refused;     /* Responses: a refusal was streamed (stop: content filter) */
	int ndjson;      /* lines of JSON (Ollama), not server-sent events */
	struct buf line; /* NDJSON: the line so far */
	/* Valid during one feed or finish call. */
	llm_delta_cb cb;
	void *arg;
	struct llm_response *acc;
};

struct adapter_stream *adapter_stream_new(adapter_event_fn, const char *who, const char *end_name);
int adapter_stream_feed(struct adapter_stream *, const char *data, size_t len, llm_delta_cb,
    void *arg, struct llm_response *acc, struct llm_error *err);
int adapter_stream_finish(struct adapter_stream *, struct llm_response *acc, struct llm_error *err);
void adapter_stream_free(struct adapter_stream *);
/* Open a new part of type in acc; returns its index. */
size_t adapter_stream_open(struct adapter_stream *, enum llm_part_type);
/* A tool call begins: a TOOL_CALL part with index, id and name (NULL: ""), and
 * its TOOL_CALL_START delta. Returns the part's index. */
size_t
adapter_stream_tool_call(struct adapter_stream *, int index, const char *id, const char *name);
/* A REASONING part is done: its id and encrypted content (data, whole; NULL: "")
 * set, and its REASONING_DONE delta. */
void adapter_stream_reasoning_done(struct adapter_stream *, size_t part, const char *id,
    const char *data);
/* A delta onto part `part` (TEXT also onto acc->content) and to the callback:
 * TEXT and THINKING grow the part's text, TOOL_CALL_ARGS its arguments,
 * THINKING_SIGNATURE its signature, REDACTED_THINKING its data. */
void adapter_stream_delta(struct adapter_stream *, enum llm_delta_type, size_t part,
    const char *text, size_t len);
/* A text (thinking) delta onto the last part if it is text (thinking), else onto a new one. */
void adapter_stream_text(struct adapter_stream *, const char *text, size_t len);
void adapter_stream_thinking(struct adapter_stream *, const char *text, size_t len);
/* The per-kind map (block or tool call index -> part): the part + 1, 0 if none. Keys
 * are bounded by the caller. */
size_t adapter_stream_map_get(const struct adapter_stream *, size_t key);
void adapter_stream_map_set(struct adapter_stream *, size_t key, size_t part);
/* Fail the stream with cls; returns -1. */
int adapter_stream_fail(struct adapter_stream *, enum llm_errclass cls, const char *fmt, ...)
    PRINTFLIKE(3, 4);
/* Broken data: LLM_ERR_MALFORMED before any delta, LLM_ERR_STREAM after; returns -1. */
int adapter_stream_broken(struct adapter_stream *, const char *fmt, ...) PRINTFLIKE(2, 3);
/* An error object arrived in the stream: classify it by type/code; returns -1. */
int adapter_stream_error_json(struct adapter_stream *, const cJSON *root);

/* Azure's URL and auth rules, shared by its chat and embeddings adapters. */
/* The v1 API: api_version "v1", or a base URL that already ends in /openai/v1. */
int adapter_azure_v1(const struct provider_conf *);
/* The resource endpoint: the base URL without /openai. 0, or -1 with *cause. */
int adapter_azure_endpoint(const struct provider_conf *, char **base, char **cause);
/* The Entra ID token now, or NULL (unset, empty, or not one header line). */
const char *adapter_azure_token(const struct provider_conf *);
/* The Entra ID bearer when configured, else the api-key header. */
void adapter_azure_auth(const struct provider_conf *, struct adapter_http *);
/* The api-version query value (escaped, a new string): the conf's, else dflt. */
char *adapter_azure_api_version(const struct provider_conf *, const char *dflt);
/* An Entra ID provider whose token variable is unset or unusable: -1, why filled. */
int adapter_azure_check_auth(const struct provider_conf *, struct llm_error *why);

/* OpenAI's wire format, shared by the openai and azure adapters. */
struct openai_body_opts {
	const char *model;         /* NULL: no model field (azure) */
	int max_completion_tokens; /* else max_tokens */
	int stream_options;        /* send stream_options.include_usage when streaming */
	int mistral;               /* random_seed, tool_choice "any" */
};
int adapter_openai_body(const struct llm_request *, int stream, const struct openai_body_opts *,
    struct adapter_http *out, const char *who, char **cause);
int
adapter_openai_parse(const char *body, size_t len, struct llm_response *out, struct llm_error *err);
struct adapter_stream *adapter_openai_stream_new(void);
/* What an OpenAI-compatible server (by flavor; Azure: OpenAI's) cannot take. */
int adapter_openai_check(const struct provider_conf *, const struct model_conf *,
    const char *model_id, const struct llm_request *, struct llm_error *why);

/* OpenAI's usage object (adapter_openai.c): in and out name its two counts
 * ("prompt_tokens"/"completion_tokens", or the Responses API's
 * "input_tokens"/"output_tokens"); their _details give cached and reasoning tokens. */
void adapter_openai_usage(const cJSON *usage, const char *in, const char *out, struct llm_usage *);

#endif
