/* cache.c: the response cache's rules: which requests may be cached and their
 * canonical keys. Storage (lookups, writes, counters) is cache_store.c. */
#include "store/cache.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_priv.h"
#include "util/util.h"

int
cache_eligible(const struct cache_conf *c, const struct llm_request *r)
{
	return c != NULL && r != NULL && c->enabled && !r->no_cache && r->has_temperature &&
	    r->temperature <= c->max_temperature;
}

static int
cache_cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* A copy of j with every object's keys sorted, recursively; arrays keep their order. */
static cJSON *
cache_canon(const cJSON *j)
{
	const cJSON *e;
	cJSON *out, **kids;
	size_t n = 0, i = 0;

	if (cJSON_IsArray(j)) {
		out = cJSON_CreateArray();
		cJSON_ArrayForEach(e, j) cJSON_AddItemToArray(out, cache_canon(e));
		return out;
	}
	if (!cJSON_IsObject(j))
		return cJSON_Duplicate(j, 1);
	cJSON_ArrayForEach(e, j) n++;
	kids = xcalloc(n, sizeof *kids);
	cJSON_ArrayForEach(e, j) kids[i++] = (cJSON *)e;
	qsort(kids, n, sizeof *kids, cache_cmp_keys);
	out = cJSON_CreateObject();
	for (i = 0; i < n; i++)
		cJSON_AddItemToObject(out, kids[i]->string, cache_canon(kids[i]));
	free(kids);
	return out;
}

static cJSON *
cache_string_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* A JSON text as canonical JSON (keys sorted), or the text verbatim if it is not JSON. */
static cJSON *
cache_json_text(const char *text)
{
	cJSON *j, *out;

	if (text == NULL)
		return cJSON_CreateNull();
	if ((j = cJSON_Parse(text)) == NULL)
		return cJSON_CreateString(text);
	out = cache_canon(j);
	cJSON_Delete(j);
	return out;
}

static void
cache_add_str(cJSON *o, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, key, s);
}

/* Parts as they change the answer: everything but cache breakpoints (keys in order). */
static cJSON *
cache_parts(const struct llm_part *parts, size_t n)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		const struct llm_part *p = &parts[i];
		cJSON *o = cJSON_CreateObject();

		if (p->arguments != NULL)
			cJSON_AddItemToObject(o, "arguments", cache_json_text(p->arguments));
		cache_add_str(o, "data", p->data);
		cache_add_str(o, "detail", p->detail);
		cache_add_str(o, "id", p->id);
		if (p->is_error)
			cJSON_AddBoolToObject(o, "is_error", 1);
		cache_add_str(o, "media_type", p->media_type);
		cache_add_str(o, "name", p->name);
		if (p->n_parts > 0)
			cJSON_AddItemToObject(o, "parts", cache_parts(p->parts, p->n_parts));
		cache_add_str(o, "signature", p->signature);
		cache_add_str(o, "text", p->text);
		cJSON_AddStringToObject(o, "type", llm_part_type_name(p->type));
		cache_add_str(o, "url", p->url);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *
cache_tools(const struct llm_request *r)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < r->n_tools; i++) {
		const struct llm_tool *t = &r->tools[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "description", cache_string_or_null(t->description));
		cJSON_AddItemToObject(o, "name", cache_string_or_null(t->name));
		cJSON_AddItemToObject(o, "parameters", cache_json_text(t->parameters));
		cJSON_AddBoolToObject(o, "strict", t->strict);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *
cache_number_or_null(int has, double v)
{
	return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void
cache_key(const struct llm_request *r, const char *model_alias, char out_hex[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	cJSON *o = cJSON_CreateObject(), *a, *f;
	char *text;

	/* Keys added in sorted order: cJSON keeps insertion order when printing. Left
	 * out: what does not change the answer (user, metadata, cache breakpoints,
	 * stream, timeout, the cost optimizer's hints). */
	cJSON_AddNumberToObject(o, "max_tokens", r->max_tokens > 0 ? r->max_tokens : 0);
	a = cJSON_AddArrayToObject(o, "messages");
	for (size_t i = 0; i < r->n_messages; i++) {
		cJSON *m = cJSON_CreateArray();

		cJSON_AddItemToArray(m, cJSON_CreateString(llm_role_name(r->messages[i].role)));
		cJSON_AddItemToArray(m, cache_parts(r->messages[i].parts, r->messages[i].n_parts));
		cJSON_AddItemToArray(a, m);
	}
	cJSON_AddItemToObject(o, "model",
	    cache_string_or_null(model_alias != NULL ? model_alias : r->model));
	cJSON_AddItemToObject(o, "parallel_tool_calls",
	    cache_number_or_null(r->has_parallel_tool_calls, r->parallel_tool_calls));
	/* Provider-specific fields reach only providers of their API: both count. */
	cJSON_AddItemToObject(o, "passthrough", cache_json_text(r->passthrough));
	cJSON_AddNumberToObject(o, "passthrough_api", r->passthrough ? r->passthrough_api : 0);
	cJSON_AddItemToObject(o, "provider", cache_string_or_null(r->provider));
	cJSON_AddItemToObject(o, "reasoning_effort", cache_string_or_null(r->reasoning_effort));
	f = cJSON_AddObjectToObject(o, "response_format");
	cJSON_AddItemToObject(f, "name", cache_string_or_null(r->response_format.name));
	cJSON_AddItemToObject(f, "schema", cache_json_text(r->response_format.schema));
	cJSON_AddBoolToObject(f, "strict", r->response_format.strict);
	/* Unset and "text" ask for the same thing. */
	cJSON_AddNumberToObject(f, "type",
	    r->response_format.type == LLM_FORMAT_TEXT ? LLM_FORMAT_UNSET
	                                               : r->response_format.type);
	cJSON_AddItemToObject(o, "route", cache_string_or_null(r->route));
	cJSON_AddItemToObject(o, "seed", cache_number_or_null(r->has_seed, (double)r->seed));
	a = cJSON_AddArrayToObject(o, "stop");
	for (size_t i = 0; i < r->n_stop; i++)
		cJSON_AddItemToArray(a, cache_string_or_null(r->stop[i]));
	cJSON_AddItemToObject(o, "system", cache_string_or_null(r->system));
	cJSON_AddItemToObject(o, "temperature",
	    cache_number_or_null(r->has_temperature, r->temperature));
	cJSON_AddNumberToObject(o, "thinking_budget", r->thinking_budget);
	f = cJSON_AddObjectToObject(o, "tool_choice");
	cJSON_AddNumberToObject(f, "mode", r->tool_choice);
	cJSON_AddItemToObject(f, "name",
	    cache_string_or_null(r->tool_choice == LLM_TOOL_CHOICE_NAMED ? r->tool_choice_name
	                                                                 : NULL));
	cJSON_AddItemToObject(o, "tools", cache_tools(r));
	cJSON_AddNumberToObject(o, "top_k", r->top_k);
	cJSON_AddItemToObject(o, "top_p", cache_number_or_null(r->has_top_p, r->top_p));
	cJSON_AddNumberToObject(o, "v", 2);

	text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		fatal("cache: out of memory printing a key");
	if (EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		fatal("cache: SHA-256 failed");
	for (unsigned int i = 0; i < mdlen; i++) {
		out_hex[2 * i] = hex[md[i] >> 4];
		out_hex[2 * i + 1] = hex[md[i] & 15];
	}
	out_hex[64] = '\0';
	cJSON_free(text);
	cJSON_Delete(o);
}
