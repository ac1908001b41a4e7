/*
 * adapter_embed.c: the embeddings requests and answers of each provider kind
 * that has them (adapter_embed.h).
 *
 * OpenAI (openai-openapi CreateEmbeddingRequest): {model, input, dimensions,
 * user, encoding_format}; the answer {data: [{index, embedding}], usage:
 * {prompt_tokens, total_tokens}}. Floats are asked for (the default), so the
 * gateway can give a client either form. vLLM and llama.cpp speak it too.
 * Mistral (client-python EmbeddingRequest): {model, input, output_dimension};
 * it refuses fields it does not know (422), so nothing else is sent.
 * Azure: the deployment's /embeddings?api-version=V, or the v1 path with
 * the deployment as model; api-key or an Entra ID bearer token.
 * Ollama (docs/api.md): POST /api/embed {model, input, dimensions,
 * keep_alive, options.num_ctx} -> {embeddings: [[...]], prompt_eval_count}.
 */
#include "provider/adapter_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider/adapter_priv.h"

#define AZURE_EMBED_API_VERSION "2024-10-21"

void
embed_response_free(struct embed_response *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_vectors; i++)
		free(r->vectors[i].v);
	free(r->vectors);
	free(r->model);
	memset(r, 0, sizeof *r);
}

/* The inputs as a JSON value (the gateway checked their shape). */
static cJSON *
embed_input(const struct embed_request *req)
{
	cJSON *in = cJSON_Parse(req->input);

	return in != NULL ? in : cJSON_CreateString("");
}

/* Token ids instead of text: only OpenAI's API takes them. */
static int
embed_has_token_ids(const struct embed_request *req)
{
	cJSON *in = embed_input(req), *e;
	int ids = 0;

	cJSON_ArrayForEach(e, in)
	{
		if (cJSON_IsNumber(e) || cJSON_IsArray(e))
			ids = 1;
	}
	cJSON_Delete(in);
	return ids;
}

static int
openai_check(const struct provider_conf *conf, const struct embed_request *req,
    struct llm_error *why)
{
	(void)conf;
	(void)req;
	llm_error_clear(why);
	return 0;
}

/* An API that embeds text only and has no user field (Mistral, Ollama). */
static int
text_only_check(const char *who, const struct embed_request *req, struct llm_error *why)
{
	llm_error_clear(why);
	if (req->user != NULL)
		return adapter_refuse(why, "user", "%s's embeddings API takes no user", who);
	if (embed_has_token_ids(req))
		return adapter_refuse(why, "input", "%s embeds text, not token ids", who);
	return 0;
}

static int
mistral_check(const struct provider_conf *conf, const struct embed_request *req,
    struct llm_error *why)
{
	(void)conf;
	return text_only_check("Mistral", req, why);
}

static int
ollama_check(const struct provider_conf *conf, const struct embed_request *req,
    struct llm_error *why)
{
	(void)conf;
	return text_only_check("Ollama", req, why);
}

/* {model?, input, dimensions, user}: OpenAI's body (model NULL: Azure's deployment path). */
static cJSON *
openai_body(const char *model_id, const struct embed_request *req)
{
	cJSON *root = cJSON_CreateObject();

	if (model_id != NULL)
		cJSON_AddStringToObject(root, "model", model_id);
	cJSON_AddItemToObject(root, "input", embed_input(req));
	if (req->dimensions > 0)
		cJSON_AddNumberToObject(root, "dimensions", (double)req->dimensions);
	if (req->user != NULL)
		cJSON_AddStringToObject(root, "user", req->user);
	return root;
}

static int
openai_build(const struct provider_conf *conf, const char *model_id,
    const struct embed_request *req, struct adapter_http *out, char **cause)
{
	char *base;
	cJSON *root;

	adapter_http_init(out);
	if (adapter_base_url(conf, "openai embeddings", &base, cause) != 0)
		return -1;
	root = openai_body(model_id, req);
	out->method = xstrdup("POST");
	out->url = xasprintf("%s/v1/embeddings", base);
	if (conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	adapter_http_json(out, root, 0);
	cJSON_Delete(root);
	free(base);
	return 0;
}

static int
mistral_build(const struct provider_conf *conf, const char *model_id,
    const struct embed_request *req, struct adapter_http *out, char **cause)
{
	char *base;
	cJSON *root = cJSON_CreateObject();

	adapter_http_init(out);
	if (adapter_base_url(conf, "mistral embeddings", &base, cause) != 0) {
		cJSON_Delete(root);
		return -1;
	}
	cJSON_AddStringToObject(root, "model", model_id);
	cJSON_AddItemToObject(root, "input", embed_input(req));
	if (req->dimensions > 0)
		cJSON_AddNumberToObject(root, "output_dimension", (double)req->dimensions);
	out->method = xstrdup("POST");
	out->url = xasprintf("%s/v1/embeddings", base);
	if (conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	adapter_http_json(out, root, 0);
	cJSON_Delete(root);
	free(base);
	return 0;
}

static int
azure_check(const struct provider_conf *conf, const struct embed_request *req,
    struct llm_error *why)
{
	(void)req;
	llm_error_clear(why);
	if (conf->entra_token_env != NULL && adapter_azure_token(conf) == NULL)
		return adapter_refuse(why, "",
		    "no Microsoft Entra ID token: the variable %s is unset, empty or not one line",
		    conf->entra_token_env);
	return 0;
}

static int
azure_build(const struct provider_conf *conf, const char *model_id, const struct embed_request *req,
    struct adapter_http *out, char **cause)
{
	const char *ver = conf->api_version != NULL && *conf->api_version != '\0'
	    ? conf->api_version
	    : AZURE_EMBED_API_VERSION;
	char *base, *dep, *v;
	cJSON *root;
	int v1 = adapter_azure_v1(conf);

	adapter_http_init(out);
	if (adapter_azure_endpoint(conf, &base, cause) != 0)
		return -1;
	root = openai_body(v1 ? model_id : NULL, req);
	out->method = xstrdup("POST");
	if (v1)
		out->url = xasprintf("%s/openai/v1/embeddings", base);
	else {
		dep = adapter_url_escape(model_id);
		v = adapter_url_escape(ver);
		out->url =
		    xasprintf("%s/openai/deployments/%s/embeddings?api-version=%s", base, dep, v);
		free(dep);
		free(v);
	}
	adapter_azure_auth(conf, out);
	adapter_http_json(out, root, 0);
	cJSON_Delete(root);
	free(base);
	return 0;
}

static int
ollama_build(const struct provider_conf *conf, const char *model_id,
    const struct embed_request *req, struct adapter_http *out, char **cause)
{
	char *base;
	cJSON *root = cJSON_CreateObject(), *opt;

	adapter_http_init(out);
	if (adapter_base_url(conf, "ollama embeddings", &base, cause) != 0) {
		cJSON_Delete(root);
		return -1;
	}
	cJSON_AddStringToObject(root, "model", model_id);
	cJSON_AddItemToObject(root, "input", embed_input(req));
	if (req->dimensions > 0)
		cJSON_AddNumberToObject(root, "dimensions", (double)req->dimensions);
	if (conf->keep_alive != NULL)
		cJSON_AddStringToObject(root, "keep_alive", conf->keep_alive);
	if (conf->num_ctx > 0) {
		opt = cJSON_AddObjectToObject(root, "options");
		cJSON_AddNumberToObject(opt, "num_ctx", conf->num_ctx);
	}
	out->method = xstrdup("POST");
	out->url = xasprintf("%s/api/embed", base);
	if (conf->api_key != NULL)
		adapter_http_header(out, "Authorization: Bearer %s", conf->api_key);
	adapter_http_json(out, root, 0);
	cJSON_Delete(root);
	free(base);
	return 0;
}

/* A JSON array of numbers into v; -1 if it is not one. */
static int
vector_of(const cJSON *a, struct embed_vector *v)
{
	const cJSON *e;
	size_t n = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return -1;
	v->v = xcalloc((size_t)cJSON_GetArraySize(a), sizeof *v->v);
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsNumber(e))
			return -1;
		v->v[n++] = e->valuedouble;
	}
	v->n = n;
	return 0;
}

static int
malformed(struct embed_response *out, struct llm_error *err, const char *who, const char *what)
{
	embed_response_free(out);
	llm_error_clear(err);
	llm_error_set(err, LLM_ERR_MALFORMED, 0, "%s embeddings answer: %s", who, what);
	return -1;
}

/* {data: [{index, embedding: [...]}], usage: {prompt_tokens}, model}: OpenAI, Azure, Mistral. */
static int
openai_parse(const char *body, size_t len, size_t n_inputs, struct embed_response *out,
    struct llm_error *err)
{
	cJSON *root = adapter_json_parse(body, len);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data"), *e;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != n_inputs) {
		cJSON_Delete(root);
		return malformed(out, err, "openai", "not one vector per input");
	}
	out->vectors = xcalloc(n_inputs, sizeof *out->vectors);
	out->n_vectors = n_inputs;
	cJSON_ArrayForEach(e, data)
	{
		int64_t i = adapter_json_int(e, "index", -1);

		if (i < 0 || (size_t)i >= n_inputs || out->vectors[i].v != NULL ||
		    vector_of(cJSON_GetObjectItemCaseSensitive(e, "embedding"), &out->vectors[i]) !=
		        0)
			goto out;
	}
	out->input_tokens = adapter_json_tokens(cJSON_GetObjectItemCaseSensitive(root, "usage"),
	    "prompt_tokens", 0);
	if (adapter_json_string(root, "model") != NULL)
		out->model = xstrdup(adapter_json_string(root, "model"));
	rc = 0;
out:
	cJSON_Delete(root);
	return rc == 0 ? 0 : malformed(out, err, "openai", "a vector is missing or not numbers");
}

static int
ollama_parse(const char *body, size_t len, size_t n_inputs, struct embed_response *out,
    struct llm_error *err)
{
	cJSON *root = adapter_json_parse(body, len);
	const cJSON *embs = cJSON_GetObjectItemCaseSensitive(root, "embeddings"), *e;
	size_t i = 0;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsArray(embs) || (size_t)cJSON_GetArraySize(embs) != n_inputs) {
		cJSON_Delete(root);
		return malformed(out, err, "ollama", "not one vector per input");
	}
	out->vectors = xcalloc(n_inputs, sizeof *out->vectors);
	out->n_vectors = n_inputs;
	cJSON_ArrayForEach(e, embs)
	{
		if (vector_of(e, &out->vectors[i++]) != 0) {
			cJSON_Delete(root);
			return malformed(out, err, "ollama", "a vector is not numbers");
		}
	}
	out->input_tokens = adapter_json_tokens(root, "prompt_eval_count", 0);
	if (adapter_json_string(root, "model") != NULL)
		out->model = xstrdup(adapter_json_string(root, "model"));
	cJSON_Delete(root);
	return 0;
}

static const struct adapter_embed embed_openai = {
    .name = "openai", .check = openai_check, .build = openai_build, .parse = openai_parse};
static const struct adapter_embed embed_mistral = {
    .name = "mistral", .check = mistral_check, .build = mistral_build, .parse = openai_parse};
static const struct adapter_embed embed_azure = {
    .name = "azure", .check = azure_check, .build = azure_build, .parse = openai_parse};
static const struct adapter_embed embed_ollama = {
    .name = "ollama", .check = ollama_check, .build = ollama_build, .parse = ollama_parse};

const struct adapter_embed *
adapter_embed_for(const struct provider_conf *conf)
{
	switch (conf->kind) {
	case PROVIDER_ANTHROPIC: return NULL;
	case PROVIDER_AZURE: return &embed_azure;
	case PROVIDER_OPENAI:
		switch (conf->flavor) {
		case FLAVOR_MISTRAL: return &embed_mistral;
		case FLAVOR_OLLAMA: return &embed_ollama;
		default: return &embed_openai;
		}
	}
	return NULL;
}

const struct adapter_count *
adapter_count_for(const struct provider_conf *conf)
{
	return conf->kind == PROVIDER_ANTHROPIC ? &adapter_count_anthropic : NULL;
}
