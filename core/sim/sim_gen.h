/*
 * sim_gen.h: what a generation request asked for and what the simulated model
 * answers (text, tool calls, JSON, thinking), with the token counts each provider
 * reports. sim_gen.c reads the request and decides; sim_wire.c puts the answer in
 * each provider's shape. Internal to core/sim.
 */
#ifndef LLMDECK_SIM_GEN_H
#define LLMDECK_SIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_wire.h"

struct cJSON;

/* Input tokens an image counts for when its size is not known (OpenAI's low detail). */
#define SIM_IMAGE_TOKENS 85
/* The prompt caches' minimum prefix: OpenAI's, and Anthropic's for most models. */
#define SIM_CACHE_MIN_TOKENS 1024
/* Ollama's context window when the request sets no options.num_ctx. */
#define SIM_OLLAMA_NUM_CTX 2048

enum sim_choice {
	SIM_CHOICE_AUTO,  /* call a tool the last user message names */
	SIM_CHOICE_NONE,  /* never */
	SIM_CHOICE_ANY,   /* OpenAI "required", Anthropic {"type":"any"} */
	SIM_CHOICE_NAMED, /* a named function or tool */
};

struct sim_tool {
	const char *name;
	const struct cJSON *schema; /* parameters / input_schema; may be NULL */
};

struct sim_tool_call {
	char id[64];
	const char *name;
	char *args; /* JSON object text */
};

struct gen {
	struct cJSON *root;
	const char *model;
	char prompt[61 * 4 + 1]; /* first 60 characters of the last user message */
	size_t input_bytes;
	long max_tokens; /* -1: none */
	int stream;
	int include_usage;
	char *text; /* the answer, cut to max_tokens */
	int cut;    /* cut by max_tokens */
	long in_tokens, out_tokens;
	char id[64];
	int64_t created;

	/* tools */
	struct sim_tool *tools;
	size_t ntools;
	enum sim_choice choice;
	const char *choice_name;
	int parallel;                 /* more than one call allowed */
	char tool_result[61 * 4 + 1]; /* the last message is a tool result: its start */
	int after_tool;               /* ... and this is set */
	char last_user[2048];         /* the last user message's text, for names */
	struct sim_tool_call *calls;  /* the answer is these calls (text empty) */
	size_t ncalls;

	/* output shape */
	int json_object;                 /* response_format json_object, Ollama format "json" */
	const struct cJSON *json_schema; /* response_format json_schema's schema */
	const char *stops[8];            /* stop sequences */
	size_t nstops;
	const char *stopped; /* the stop sequence that ended the answer */

	/* input extras */
	int nimages;
	long image_tokens;
	long cache_read, cache_write, cache_write_1h; /* Anthropic; OpenAI: cache_read */
	long num_ctx; /* Ollama: the context the prompt was cut to, 0 if not cut */

	/* reasoning */
	int reasoning; /* a reasoning model: reasoning_tokens in usage */
	long reasoning_tokens;
	int thinking; /* Anthropic thinking enabled: a thinking block */
	char *thinking_text;
	char signature[128];
};

/* Read a generation request (refusing the bad ones with the provider's 4xx in r) and
 * decide the answer: 0, or -1 with the refusal in r. g is freed by sim_gen_free either way. */
int sim_gen_read(const struct sim_call *, struct gen *, struct sim_reply *r);
void sim_gen_free(struct gen *);

/* A reasoning model by its id: o1, o3, o4, gpt-5..., "reasoning" or "magistral" in it. */
int sim_model_reasons(const char *model);

/* tokens for so many bytes of text: a quarter, at least one */
long sim_tokens_of(size_t bytes);

/* A value that satisfies the JSON Schema (sim_schema.c); never NULL. */
struct cJSON *sim_schema_example(const struct cJSON *schema);

/* ---- images (sim_image.c) ---- */

enum sim_image_status {
	SIM_IMAGE_OK,
	SIM_IMAGE_EMPTY,    /* no data */
	SIM_IMAGE_BASE64,   /* not valid base64 */
	SIM_IMAGE_FORMAT,   /* not PNG, JPEG, GIF or WebP */
	SIM_IMAGE_MISMATCH, /* the bytes are another type than declared */
};

/* Check base64 image data; *sniffed gets its media type ("image/png"...) when known,
 * *tokens what it counts for (from its size when the header tells it). declared may be
 * NULL (not checked against). */
enum sim_image_status sim_image_check(const char *b64, size_t len, const char *declared,
    const char **sniffed, long *tokens);
/* One of the media types the providers take: image/jpeg, image/png, image/gif, image/webp. */
int sim_image_type_allowed(const char *media_type);

/* ---- the prompt cache (sim_cache.c): prefixes seen, by hash ---- */

struct sim_cache;
struct sim_cache *sim_cache_new(void);
void sim_cache_free(struct sim_cache *);
/* Was the prefix with this hash seen (1) or not (0)? Either way it is now. */
int sim_cache_seen(struct sim_cache *, uint64_t hash, int remember);

#endif
