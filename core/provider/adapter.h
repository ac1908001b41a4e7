/*
 * adapter.h: one const table per provider kind, like tmux's cmd entries. An
 * adapter builds the real HTTP request for a provider, parses its real
 * response, classifies its errors and decodes its stream. Pure functions: no
 * I/O, so the recorded traffic in tests drives them directly.
 */
#ifndef LLMDECK_ADAPTER_H
#define LLMDECK_ADAPTER_H

#include <stddef.h>

#include "config/config.h"
#include "provider/http.h"
#include "provider/llm.h"

/* A request ready for the HTTP engine. Everything owned. */
struct adapter_http {
	char *method;
	char *url;
	char **headers; /* "Name: value" */
	size_t n_headers;
	char *body;
	size_t body_len;
};
void adapter_http_free(struct adapter_http *);

/* Stream decoder state (opaque per adapter). */
struct adapter_stream;

/* An Anthropic request must say max_tokens: with no limit from the caller and no
 * max_output_tokens configured for the model, LLM_MAX_OUTPUT_FALLBACK is sent. */
#define ADAPTER_FALLBACK_MAX_OUTPUT LLM_MAX_OUTPUT_FALLBACK

/* The output limit a request goes out with on model m (NULL: not configured):
 * the caller's max_tokens, else the model's max_output_tokens, else 0 (none). */
int64_t adapter_max_output(const struct model_conf *m, const struct llm_request *);

struct adapter {
	const char *kind;

	/*
	 * Can this provider honour every field of the request on model_id? 0 yes;
	 * -1 no: why gets LLM_ERR_BAD_REQUEST, the field it cannot honour in
	 * why->param ("tools", "response_format", "messages[2].content[0]") and the
	 * reason in why->message. The router skips a provider that says no.
	 */
	int (*check_request)(const struct provider_conf *, const struct model_conf *,
	    const char *model_id, const struct llm_request *, struct llm_error *why);

	/* Build the request for model_id (the provider's real id / deployment); m is
	 * the model's config (its max_output_tokens) or NULL. */
	int (*build_request)(const struct provider_conf *, const struct model_conf *m,
	    const char *model_id, const struct llm_request *, int stream, struct adapter_http *out,
	    char **cause);

	/* Parse a 2xx non-streamed body. On failure fills err (LLM_ERR_MALFORMED). */
	int (*parse_response)(const char *body, size_t len, struct llm_response *out,
	    struct llm_error *err);

	/* Classify a non-2xx response (status first, body second, headers for retry). */
	void (*classify_error)(int status, const struct http_headers *, const char *body,
	    size_t len, struct llm_error *err);

	/* Stream decoding: feed raw bytes as they arrive. Returns 0 to go on, 1 when the
	 * stream ended properly, -1 on an error event or broken data (err filled).
	 * acc gathers content, parts, usage, stop reason and id as the stream goes;
	 * cb (may be NULL) gets every typed delta. */
	struct adapter_stream *(*stream_new)(void);
	int (*stream_feed)(struct adapter_stream *, const char *data, size_t len, llm_delta_cb cb,
	    void *arg, struct llm_response *acc, struct llm_error *err);
	/* The transfer ended: 0 if the stream had ended properly, else -1 (err filled:
	 * a cut stream). */
	int (*stream_finish)(struct adapter_stream *, struct llm_response *acc,
	    struct llm_error *err);
	void (*stream_free)(struct adapter_stream *);

	/* Health probe request (GET models / health). */
	int (*build_probe)(const struct provider_conf *, struct adapter_http *out, char **cause);
};

extern const struct adapter adapter_anthropic;
extern const struct adapter adapter_openai; /* flavors: openai, mistral, vllm, llamacpp, ollama */
extern const struct adapter adapter_azure;
extern const struct adapter adapter_ollama; /* the ollama flavor: native /api/chat */
/* OpenAI's Responses API (POST /v1/responses), for a request that came in through it. */
extern const struct adapter adapter_openai_responses;
extern const struct adapter adapter_azure_responses;

/* The adapter of a kind (the openai one speaks every flavor's /v1). */
const struct adapter *adapter_for(enum provider_kind);
/* The adapter a provider uses: its kind's, but Ollama's native API for the ollama flavor. */
const struct adapter *adapter_for_provider(const struct provider_conf *);

/*
 * The adapter for one request on a provider: the provider's own, except that a
 * request that came in through the Responses API (raw_body set) goes to an
 * OpenAI or Azure provider through that provider's own Responses endpoint.
 */
const struct adapter *adapter_for_request(const struct provider_conf *, const struct llm_request *);
/* The client API a provider's requests are built in for this request (same-kind
 * passthrough goes only there): LLM_API_NONE for Ollama's native API. */
enum llm_api adapter_api(const struct provider_conf *, const struct llm_request *);

/* Shared by adapters: retry-after-ms / retry-after (seconds or HTTP date) and
 * x-should-retry into err. */
void adapter_read_retry_headers(const struct http_headers *, struct llm_error *err);

/* request-id / x-request-id / apim-request-id into resp->request_id. */
void adapter_read_request_id(const struct http_headers *, struct llm_response *resp);

#endif
