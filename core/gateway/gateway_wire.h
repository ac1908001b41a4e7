/*
 * gateway_wire.h: what the client formats' files share (gateway_wire.c
 * holds it; gateway_wire_openai.c, gateway_wire_anthropic.c and
 * gateway_wire_responses.c use it). Not for use outside them.
 *
 * Every parser is one skeleton (gw_parse_format; gw_parse_body for the
 * formats whose requests have messages): the body must be a JSON object with
 * a model; each top-level key is looked up in the format's field table and
 * parsed by its handler into the llm_request; a key no table knows is the
 * format's unknown handler's (Responses: noted as dropped, as raw_body
 * carries it), or else kept for same-kind passthrough
 * (llm_request.passthrough), so a provider
 * of the client's own kind gets it unchanged and the router refuses the
 * others (the adapter's check_request). A field the model carries in a form
 * llm.h cannot hold is a 400 naming it, never silently dropped; the keys
 * clients add inside a tool or a content part (gw_lenient_keys) and a tool
 * message's name are taken and noted as dropped (gw_ask_drop), a tool's kept
 * for a provider of the client's own API (llm_tool.extra).
 */
#ifndef LLMDECK_GATEWAY_WIRE_H
#define LLMDECK_GATEWAY_WIRE_H

#include <cjson/cJSON.h>

#include "gateway/gateway_priv.h"

/* Room for a field's path in an error ("messages[3].content[1].source.media_type"). */
#define GW_PATH 256

/* The state of one parse. */
struct gw_parse {
	struct llm_request *req;
	struct gw_ask *ask;
	struct gw_bad *bad;
	const cJSON *root;
	cJSON *extra;                  /* passthrough fields, or NULL */
	cJSON *soft;                   /* soft passthrough fields (llm.h), or NULL */
	enum llm_api api;              /* the client's API */
	int count_tokens;              /* a count_tokens body (no max_tokens, no stream) */
	int max_completion;            /* OpenAI: max_completion_tokens was given (it wins) */
	int saw_max_tokens;            /* Anthropic: max_tokens was given */
	int tool_results_in;           /* OpenAI: the last message holds tool results (role tool) */
	enum llm_cache_mark top_cache; /* Anthropic's top-level cache_control */
	const char *body;              /* the body as received */
	size_t body_len;
};

/* One top-level field a format knows: handler(p, value) is 0, or -1 with p->bad set. */
struct gw_field {
	const char *key;
	int (*parse)(struct gw_parse *, const cJSON *);
};

/*
 * The skeleton: body into req through fields (n of them); finish (may be
 * NULL) runs once every field is in, for the checks that need several.
 * 0, or -1 with bad set.
 */
int gw_parse_body(const char *body, size_t len, enum llm_api, int count_tokens,
    const struct gw_field *fields, size_t n, int (*finish)(struct gw_parse *), struct llm_request *,
    struct gw_ask *, struct gw_bad *);

/*
 * A format for the skeleton: its fields, the key every request must have
 * (with what it is, for the error), what becomes of a key no field knows
 * (NULL: kept for same-kind passthrough) and the finishing checks.
 */
struct gw_format {
	enum llm_api api;
	int count_tokens;
	const struct gw_field *fields;
	size_t n_fields;
	const char *required;      /* "messages", "input" */
	const char *required_what; /* "an array of messages" */
	int (*unknown)(struct gw_parse *, const cJSON *);
	int (*finish)(struct gw_parse *);
};
/* Does a string (a key or a value) of the JSON text hold \u0000? 1 with its
 * path ("messages[0].content") in path, else 0. Any bytes are safe to give. */
int gw_json_nul_path(const char *s, size_t len, char *path, size_t pathlen);
int gw_parse_format(const struct gw_format *, const char *body, size_t len, struct llm_request *,
    struct gw_ask *, struct gw_bad *);

/* A field's path into out (GW_PATH bytes); a longer one is cut. */
void gw_path(char *out, const char *fmt, ...) PRINTFLIKE(2, 3);

/* Keep v under key for a same-kind provider. */
void gw_passthrough(struct gw_parse *, const char *key, const cJSON *v);
/* A field carried as it came to a provider of the client's API, and translated
 * for the others (req->passthrough_soft). */
void gw_passthrough_soft(struct gw_parse *, const char *key, const cJSON *v);

/* Fill bad (param: a field path) and return -1. The message is kept to one line. */
int gw_bad_set(struct gw_bad *, const char *param, const char *fmt, ...) PRINTFLIKE(3, 4);

/* Value checks: 0 and the value, or -1 with bad naming path. */
int gw_want_number(struct gw_parse *, const cJSON *, const char *path, double lo, double hi,
    double *out);
int
gw_want_int(struct gw_parse *, const cJSON *, const char *path, double lo, double hi, int64_t *out);
int gw_want_bool(struct gw_parse *, const cJSON *, const char *path, int *out);
int gw_want_string(struct gw_parse *, const cJSON *, const char *path, const char **out);
int gw_want_object(struct gw_parse *, const cJSON *, const char *path);
/* Every key of object o is one of keys (NULL-terminated): else -1 naming path.key. */
int gw_known_keys(struct gw_parse *, const cJSON *o, const char *path, const char *const *keys);
/*
 * The keys of object o not among keys (NULL-terminated), which a client adds
 * and a translation can leave out (the AI SDK's tools[].eager_input_streaming,
 * a content part's extras): each noted as dropped under "LABEL.KEY" (KEY
 * only when it is short and [a-z_], else "LABEL.other", so the metric stays
 * bounded) and, if keep is not NULL, copied into *keep (created when needed).
 * Defined in gateway_wire_openai.c.
 */
void gw_lenient_keys(struct gw_parse *, const cJSON *o, const char *const *keys, const char *label,
    cJSON **keep);
/* The object's "type" string, or -1 naming path.type. */
int gw_type_of(struct gw_parse *, const cJSON *o, const char *path, const char **type);

/* A JSON value as compact text (a new string). */
char *gw_json_text(const cJSON *);
/* A string or an array of strings into req->stop (one_ok: a lone string too). */
int gw_parse_stops(struct gw_parse *, const cJSON *, const char *path, int one_ok);
/* Append text to req->system (paragraphs apart). */
void gw_system_append(struct llm_request *, const char *text);
/* temperature in [0, hi], top_p in [0, 1]. */
int gw_parse_temperature(struct gw_parse *, const cJSON *, double hi);
int gw_parse_top_p(struct gw_parse *, const cJSON *);
/* OpenAI's user (a string) and metadata (an object of strings), Chat Completions' and
 * Responses' alike. */
int gw_parse_user(struct gw_parse *, const cJSON *);
/* OpenAI's tool_choice as a word: none, auto, required. */
int gw_parse_tool_choice_word(struct gw_parse *, const char *word);
int gw_parse_metadata(struct gw_parse *, const cJSON *);

/* Usage as each API counts it (llm.h's input_tokens includes cached and written tokens). */
void gw_usage_openai(struct buf *out, const struct llm_usage *);
void gw_usage_anthropic(struct buf *out, const struct llm_usage *);

/* The OpenAI, Anthropic and Responses halves of gw_stream_*, gw_*_answer. */
void gw_openai_stream_open(struct gw_stream *, struct buf *out);
void gw_openai_stream_typed(struct gw_stream *, struct buf *out, const struct llm_delta *);
void gw_openai_stream_close(struct gw_stream *, struct buf *out, const struct router_result *);
void gw_anthropic_stream_open(struct gw_stream *, struct buf *out);
void gw_anthropic_stream_typed(struct gw_stream *, struct buf *out, const struct llm_delta *);
void gw_anthropic_stream_close(struct gw_stream *, struct buf *out, const struct router_result *);
void gw_responses_stream_open(struct gw_stream *, struct buf *out);
void gw_responses_stream_typed(struct gw_stream *, struct buf *out, const struct llm_delta *);
void gw_responses_stream_close(struct gw_stream *, struct buf *out, const struct router_result *);
void gw_responses_stream_error(struct gw_stream *, struct buf *out, int status, enum llm_errclass,
    const char *message);
/* An error body in OpenAI's shape (Chat Completions and Responses share it). */
char *gw_error_body_openai(int status, enum llm_errclass, const char *message, const char *param);

#endif
