/*
 * adapter_embed.h: what a provider may serve beside chat, a const table per
 * wire format like adapter.h's (the router's operation table, router_op.c,
 * reaches them):
 *   embeddings    OpenAI's POST /v1/embeddings (openai, vllm, llamacpp
 *                 flavors), Mistral's (the same path, its own fields), Azure's
 *                 deployment and v1 paths, and Ollama's native POST /api/embed.
 *                 Anthropic has no embeddings API.
 *   count_tokens  Anthropic's POST /v1/messages/count_tokens; no other kind has one.
 * Pure functions, no I/O; errors are classified by the provider's adapter.
 */
#ifndef LLMDECK_ADAPTER_EMBED_H
#define LLMDECK_ADAPTER_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "provider/adapter.h"

/* What a client asked to embed. */
struct embed_request {
	const char *input;  /* the inputs as JSON: a string, an array of strings, of
			      * token ids, or of arrays of token ids */
	int64_t dimensions; /* 0: the model's own */
	const char *user;   /* end-user id, or NULL */
};

struct embed_vector {
	double *v;
	size_t n;
};

struct embed_response {
	struct embed_vector *vectors; /* one per input, in input order */
	size_t n_vectors;
	int64_t input_tokens;
	char *model; /* as the provider names it, or NULL */
};
void embed_response_free(struct embed_response *);

struct adapter_embed {
	const char *name; /* "openai", "mistral", "azure", "ollama" */
	/* Can the provider take the request? 0, or -1 with why (param: the field). */
	int (*check)(const struct provider_conf *, const struct embed_request *,
	    struct llm_error *why);
	int (*build)(const struct provider_conf *, const char *model_id,
	    const struct embed_request *, struct adapter_http *out, char **cause);
	/* A 2xx body: 0, or -1 with err (LLM_ERR_MALFORMED). n_inputs: how many vectors are due. */
	int (*parse)(const char *body, size_t len, size_t n_inputs, struct embed_response *out,
	    struct llm_error *err);
};

/* The embeddings table a provider speaks, or NULL (Anthropic: none). */
const struct adapter_embed *adapter_embed_for(const struct provider_conf *);

/* Counting a Messages request's input tokens without running it. */
struct adapter_count {
	const char *name; /* "anthropic" */
	int (*build)(const struct provider_conf *, const struct model_conf *m, const char *model_id,
	    const struct llm_request *, struct adapter_http *out, char **cause);
	/* A 2xx body: 0 with *input_tokens, or -1 with err (LLM_ERR_MALFORMED). */
	int (*parse)(const char *body, size_t len, int64_t *input_tokens, struct llm_error *err);
};
extern const struct adapter_count adapter_count_anthropic;

/* The count_tokens table a provider speaks, or NULL (all but Anthropic). */
const struct adapter_count *adapter_count_for(const struct provider_conf *);

#endif
