/*
 * sim_wire_embed.c: the simulated embeddings endpoints: OpenAI's (also Azure's
 * and Ollama's /v1) POST /v1/embeddings, Mistral's, and Ollama's /api/embed
 * (and its older /api/embeddings). Each input gets a deterministic unit vector
 * from a hash of the model and the text; dimensions (OpenAI, Ollama) and
 * output_dimension (Mistral) are honoured, encoding_format "base64" (what the
 * openai client asks for by default) is little-endian float32, and usage counts
 * the inputs' tokens.
 */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_DIMS_MAX 8192
#define EMBED_INPUTS_MAX 2048

/* The vector size a model has when the request does not ask for one. */
static int
embed_default_dims(const struct sim_call *c, const char *model)
{
	if (c->protocol == SIM_MISTRAL)
		return strstr(model, "codestral") != NULL ? 1536 : 1024;
	if (c->protocol == SIM_OLLAMA && c->ep == SIM_EP_OLLAMA_EMBED)
		return 768;
	if (strstr(model, "3-large") != NULL)
		return 3072;
	return 1536;
}

/* A unit vector of n floats from the model and the input's bytes. */
static void
embed_vector(const char *model, const char *in, size_t len, float *v, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	double norm = 0;

	for (const char *p = model; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)in[i]) * 0x100000001b3ULL;
	for (int i = 0; i < n; i++) {
		v[i] = (float)((double)(sim_wire_mix64(&h) >> 11) / 4503599627370496.0 - 1.0);
		norm += (double)v[i] * v[i];
	}
	norm = sqrt(norm);
	for (int i = 0; i < n && norm > 0; i++)
		v[i] = (float)(round(v[i] / norm * 1e6) / 1e6);
}

static void
b64_encode(const unsigned char *p, size_t n, struct buf *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			x |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			x |= p[i + 2];
		q[0] = al[(x >> 18) & 63];
		q[1] = al[(x >> 12) & 63];
		q[2] = i + 1 < n ? al[(x >> 6) & 63] : '=';
		q[3] = i + 2 < n ? al[x & 63] : '=';
		buf_append(out, q, 4);
	}
}

/* One input's vector: a JSON array of numbers, or base64 of little-endian float32. */
static cJSON *
embed_item(const char *model, const char *in, size_t len, int dims, int b64)
{
	float *v = xcalloc((size_t)dims, sizeof *v);
	cJSON *a;
	struct buf b;

	embed_vector(model, in, len, v, dims);
	if (b64) {
		unsigned char *le = xcalloc((size_t)dims, 4);

		for (int i = 0; i < dims; i++) {
			uint32_t u;

			memcpy(&u, &v[i], 4);
			le[4 * i] = (unsigned char)u;
			le[4 * i + 1] = (unsigned char)(u >> 8);
			le[4 * i + 2] = (unsigned char)(u >> 16);
			le[4 * i + 3] = (unsigned char)(u >> 24);
		}
		buf_init(&b);
		b64_encode(le, (size_t)dims * 4, &b);
		a = cJSON_CreateString(b.data != NULL ? b.data : "");
		buf_free(&b);
		free(le);
	} else {
		a = cJSON_CreateArray();
		for (int i = 0; i < dims; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	}
	free(v);
	return a;
}

/*
 * The inputs: a string, an array of strings, of token ids, or of arrays of
 * token ids. Fills texts (pointers into the request, or NULL for token arrays,
 * whose printed form is hashed) and returns how many, or -1 if the shape is
 * not one the API takes (empty, or another type).
 */
static int
embed_inputs(const cJSON *input, const cJSON **items, long *tokens)
{
	const cJSON *e;
	int n = 0, ints = 0;

	*tokens = 0;
	if (cJSON_IsString(input)) {
		if (input->valuestring[0] == '\0')
			return -1;
		items[0] = input;
		*tokens = sim_tokens_of(strlen(input->valuestring));
		return 1;
	}
	if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0 ||
	    cJSON_GetArraySize(input) > EMBED_INPUTS_MAX)
		return -1;
	cJSON_ArrayForEach(e, input)
	{
		if (cJSON_IsNumber(e)) {
			ints++;
			continue;
		}
		if (cJSON_IsString(e) && e->valuestring[0] != '\0')
			*tokens += sim_tokens_of(strlen(e->valuestring));
		else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) > 0)
			*tokens += cJSON_GetArraySize(e);
		else
			return -1;
		items[n++] = e;
	}
	if (ints > 0) { /* one input of token ids */
		if (n > 0)
			return -1;
		items[0] = input;
		*tokens = ints;
		return 1;
	}
	return n;
}

static void
embed_refuse(const struct sim_call *c, const char *param, const char *msg, struct sim_reply *r)
{
	if (c->protocol == SIM_OLLAMA && c->ep == SIM_EP_OLLAMA_EMBED)
		sim_wire_error_reply(c, 400, NULL, NULL, NULL, msg, r);
	else if (c->protocol == SIM_MISTRAL)
		sim_wire_error_reply(c, 400, "invalid_request_error", "3210", param, msg, r);
	else
		sim_wire_error_reply(c, 400, "invalid_request_error", NULL, param, msg, r);
}

/* Ollama's native answer into j: /api/embed's embeddings, or the legacy
 * /api/embeddings' one embedding. */
static void
embed_reply_native(const struct sim_call *c, const char *m, const cJSON **items, int n, int dims,
    long tokens, cJSON *j)
{
	cJSON *data;
	char *s;

	cJSON_AddStringToObject(j, "model", m);
	data = cJSON_CreateArray();
	for (int i = 0; i < n; i++) {
		s = cJSON_IsString(items[i]) ? NULL : cJSON_PrintUnformatted(items[i]);
		cJSON_AddItemToArray(data,
		    embed_item(m, s != NULL ? s : items[i]->valuestring,
		        strlen(s != NULL ? s : items[i]->valuestring), dims, 0));
		cJSON_free(s);
	}
	if (c->legacy_embed) {
		cJSON_AddItemToObject(j, "embedding", cJSON_DetachItemFromArray(data, 0));
		cJSON_DeleteItemFromObject(j, "model");
		cJSON_Delete(data);
	} else {
		cJSON_AddItemToObject(j, "embeddings", data);
		cJSON_AddNumberToObject(j, "total_duration", 14143917.0);
		cJSON_AddNumberToObject(j, "load_duration", 1019500.0);
		cJSON_AddNumberToObject(j, "prompt_eval_count", (double)tokens);
	}
}

/* The OpenAI-shaped answer (OpenAI, Azure, Mistral) into j: a list of embeddings and usage. */
static void
embed_reply_list(const struct sim_call *c, const char *m, const cJSON **items, int n, int dims,
    int b64, long tokens, cJSON *j)
{
	cJSON *data, *e, *u;
	char id[64], *s;

	if (c->protocol == SIM_MISTRAL) {
		sim_wire_make_id(c, 3, "", SIM_WIRE_HEX, 32, id, sizeof id);
		cJSON_AddStringToObject(j, "id", id);
	}
	cJSON_AddStringToObject(j, "object", "list");
	data = cJSON_AddArrayToObject(j, "data");
	for (int i = 0; i < n; i++) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "object", "embedding");
		cJSON_AddNumberToObject(e, "index", i);
		s = cJSON_IsString(items[i]) ? NULL : cJSON_PrintUnformatted(items[i]);
		cJSON_AddItemToObject(e, "embedding",
		    embed_item(m, s != NULL ? s : items[i]->valuestring,
		        strlen(s != NULL ? s : items[i]->valuestring), dims, b64));
		cJSON_free(s);
		cJSON_AddItemToArray(data, e);
	}
	cJSON_AddStringToObject(j, "model", m);
	u = cJSON_AddObjectToObject(j, "usage");
	cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
	cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
	if (c->protocol == SIM_MISTRAL)
		cJSON_AddNumberToObject(u, "completion_tokens", 0);
}

void
sim_wire_embeddings(const struct sim_call *c, struct sim_reply *r)
{
	cJSON *root = cJSON_ParseWithLength(c->body != NULL ? c->body : "", c->body_len);
	const cJSON *model, *input, *dimv, *fmt, **items = NULL;
	const char *m;
	cJSON *j;
	int native = c->ep == SIM_EP_OLLAMA_EMBED, n, dims, b64;
	long tokens;

	if (sim_wire_check_embeddings(c, root, r) != 0)
		goto out;
	model = cJSON_GetObjectItemCaseSensitive(root, "model");
	m = c->deployment != NULL                                    ? c->deployment
	    : cJSON_IsString(model) && model->valuestring[0] != '\0' ? model->valuestring
	                                                             : c->model;
	input = cJSON_GetObjectItemCaseSensitive(root, c->legacy_embed ? "prompt" : "input");
	items = xcalloc(EMBED_INPUTS_MAX, sizeof *items);
	if ((n = embed_inputs(input, items, &tokens)) < 0) {
		if (native)
			embed_refuse(c, NULL, "invalid input type", r);
		else if (c->protocol == SIM_MISTRAL)
			embed_refuse(c, "input",
			    "Input should be a valid string or list of strings", r);
		else
			embed_refuse(c, NULL,
			    "'$.input' is invalid. Please check the API reference: "
			    "https://platform.openai.com/docs/api-reference.",
			    r);
		goto out;
	}
	dimv = cJSON_GetObjectItemCaseSensitive(root,
	    c->protocol == SIM_MISTRAL ? "output_dimension" : "dimensions");
	dims = embed_default_dims(c, m);
	if (cJSON_IsNumber(dimv)) {
		if (c->protocol != SIM_MISTRAL && !native && strstr(m, "ada-002") != NULL) {
			embed_refuse(c, NULL, "This model does not support specifying dimensions.",
			    r);
			goto out;
		}
		if (dimv->valuedouble < 1 || dimv->valuedouble > dims) {
			embed_refuse(c,
			    c->protocol == SIM_MISTRAL ? "output_dimension" : "dimensions",
			    "Invalid value for 'dimensions': must be between 1 and the model's "
			    "size.",
			    r);
			goto out;
		}
		dims = (int)dimv->valuedouble;
	}
	if (dims > EMBED_DIMS_MAX)
		dims = EMBED_DIMS_MAX;
	fmt = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
	b64 = !native && cJSON_IsString(fmt) && strcmp(fmt->valuestring, "base64") == 0;

	r->status = 200;
	sim_wire_common_headers(c, r);
	sim_wire_content_type_json(c, r);
	j = cJSON_CreateObject();
	if (native)
		embed_reply_native(c, m, items, n, dims, tokens, j);
	else
		embed_reply_list(c, m, items, n, dims, b64, tokens, j);
	sim_wire_reply_json(r, 200, j);
out:
	free(items);
	cJSON_Delete(root);
}
