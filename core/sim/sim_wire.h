/*
 * sim_wire.h: the simulated providers' bytes on the wire: bodies, headers,
 * stream events and error shapes of each provider. Internal to sim*.c.
 */
#ifndef LLMDECK_SIM_WIRE_H
#define LLMDECK_SIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"
#include "util/util.h"

enum sim_endpoint {
	SIM_EP_NONE,           /* 404 */
	SIM_EP_MESSAGES,       /* anthropic POST /v1/messages */
	SIM_EP_CHAT,           /* POST /v1/chat/completions and azure's forms */
	SIM_EP_MODELS,         /* GET /v1/models, /openai/models */
	SIM_EP_HEALTH,         /* GET /health (vLLM-like, openai protocol) */
	SIM_EP_OLLAMA_CHAT,    /* POST /api/chat */
	SIM_EP_OLLAMA_VERSION, /* GET /api/version */
	SIM_EP_OLLAMA_TAGS,    /* GET /api/tags */
	SIM_EP_OLLAMA_ROOT,    /* GET / */
	SIM_EP_EMBEDDINGS,     /* POST /v1/embeddings, azure's forms */
	SIM_EP_OLLAMA_EMBED,   /* POST /api/embed (and the older /api/embeddings) */
	SIM_EP_RESPONSES,      /* POST /v1/responses (openai, azure's forms) */
};

struct sim_header {
	char *name;
	char *value;
};

struct sim_chunk {
	char *data;
	size_t len;
	int delta; /* a text delta: paced by token_delay_ms */
};

/* What to answer: a whole body, or a stream of chunks. */
struct sim_reply {
	int status;
	struct sim_header *hdr;
	size_t nhdr;
	char *body;
	size_t len;
	int stream;
	struct sim_chunk *chunks;
	size_t nchunks;
	size_t ndeltas;
};

/* The request as the wire code sees it. */
struct sim_call {
	enum sim_protocol protocol;
	enum sim_endpoint ep;
	const char *name;       /* the sim's name */
	const char *model;      /* default model */
	const char *deployment; /* azure deployment from the URL, or NULL */
	const char *body;
	size_t body_len;
	const char *auth_key; /* the key the client sent, NULL if none */
	int retry_after_s;
	int quota;
	uint64_t idseed;         /* randomness for ids */
	uint64_t reqno;          /* for rate-limit headers */
	struct sim_cache *cache; /* the sim's prompt cache; NULL: nothing is cached */
	int legacy_embed;        /* ollama's older POST /api/embeddings */
};

void sim_reply_free(struct sim_reply *);
void sim_reply_header(struct sim_reply *, const char *name, const char *value);
void sim_reply_chunk(struct sim_reply *, int delta, const char *fmt, ...) PRINTFLIKE(3, 4);

/* 401 with the provider's body. */
void sim_wire_auth_error(const struct sim_call *, struct sim_reply *);
/* An injected error status with the provider's body and headers. */
void sim_wire_status_error(const struct sim_call *, int status, struct sim_reply *);
/* 404 for an unknown path. */
void sim_wire_not_found(const struct sim_call *, const char *path, struct sim_reply *);
/* The endpoint's normal answer: validation errors, success, or a stream. */
void sim_wire_answer(const struct sim_call *, struct sim_reply *);
/* The Responses API's answer (sim_wire_responses.c). */
void sim_wire_responses(const struct sim_call *, struct sim_reply *);
/* The embeddings endpoints' answer (sim_wire_embed.c). */
void sim_wire_embeddings(const struct sim_call *, struct sim_reply *);
/* A 200 whose body is broken JSON (a stream: one broken event). */
void sim_wire_malformed(const struct sim_call *, int stream, struct sim_reply *);
/* The provider's error event sent in the middle of a stream, as its event number seq. */
char *sim_wire_stream_error(const struct sim_call *, size_t seq);

/* ---- shared by sim_wire.c (answers) and sim_wire_error.c (refusals) ---- */

struct cJSON;

/* splitmix64: the next pseudo-random value from *x (advanced). */
uint64_t sim_wire_mix64(uint64_t *x);
/* Alphabets for ids. */
extern const char SIM_WIRE_B62[];
extern const char SIM_WIRE_HEX[];
/* An id: prefix then n characters of alphabet, from the call's seed and a salt. */
void sim_wire_make_id(const struct sim_call *, int salt, const char *prefix, const char *alphabet,
    size_t n, char *out, size_t outsz);
/* The provider's usual headers (request ids, rate limits) and the JSON content type. */
void sim_wire_common_headers(const struct sim_call *, struct sim_reply *);
void sim_wire_content_type_json(const struct sim_call *, struct sim_reply *);
/* j printed as one stream chunk between before and after; j is consumed. */
void sim_wire_chunk_json(struct sim_reply *, int delta, const char *before, struct cJSON *j,
    const char *after);
/* Where the stream delta from at ends: a word with its leading spaces ("Hello", " there"),
 * or a piece of about 12 bytes of JSON (never inside a UTF-8 character). */
size_t sim_wire_next_token(const char *s, size_t at, size_t len);
size_t sim_wire_next_piece(const char *s, size_t at, size_t len);
/* j printed as the reply body with this status; j is consumed. */
void sim_wire_reply_json(struct sim_reply *, int status, struct cJSON *j);
/* An error reply in the shape of the provider (and, for ollama, of the endpoint). */
void sim_wire_error_reply(const struct sim_call *, int status, const char *type, const char *code,
    const char *param, const char *message, struct sim_reply *);
/* A generation request the provider would refuse: 0 if it is fine, else -1 with the
 * provider's 4xx in the reply. root: the parsed body, NULL if it did not parse. */
int sim_wire_check_request(const struct sim_call *, const struct cJSON *root, struct sim_reply *);
/* The checks of tools, images, sampling, thinking and response formats (sim_wire_check.c),
 * after the basic ones. */
int sim_wire_check_features(const struct sim_call *, const struct cJSON *root, struct sim_reply *);
/* The same for an embeddings request. */
int
sim_wire_check_embeddings(const struct sim_call *, const struct cJSON *root, struct sim_reply *);
/* Ollama's own API (/api/...), whose errors are {"error":"..."}, not its OpenAI-compatible /v1. */
int sim_wire_ollama_native(const struct sim_call *);
/* The Responses API's own checks (input items, known keys, text.format, reasoning items),
 * after the JSON parsed as an object (sim_wire_responses.c). */
int sim_wire_check_responses(const struct sim_call *, const struct cJSON *root, struct sim_reply *);
/* The sampling and image checks shared with chat (sim_wire_check.c); input: the Responses
 * API's input array. */
int sim_wire_check_responses_features(const struct sim_call *, const struct cJSON *root,
    const struct cJSON *input, struct sim_reply *);

#endif
