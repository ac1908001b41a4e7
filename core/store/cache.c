/* cache.c: the response cache's rules: which requests may be cached and their
 * canonical keys. Storage (lookups, writes, counters) is cache_store.c. */
#include "cache.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"
#include "util.h"

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

void
cache_key(const struct llm_request *r, const char *model_alias, char out_hex[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	cJSON *o = cJSON_CreateObject(), *a, *tools;
	char *text;

	/* Keys added in sorted order: cJSON keeps insertion order when printing. */
	cJSON_AddNumberToObject(o, "max_tokens", llm_request_max_tokens(r));
	a = cJSON_AddArrayToObject(o, "messages");
	for (size_t i = 0; i < r->n_messages; i++) {
		cJSON *m = cJSON_CreateArray();

		cJSON_AddItemToArray(m,
		    cJSON_CreateString(r->messages[i].role == LLM_ROLE_ASSISTANT ? "assistant"
		                                                                 : "user"));
		cJSON_AddItemToArray(m, cache_string_or_null(r->messages[i].content));
		cJSON_AddItemToArray(a, m);
	}
	cJSON_AddItemToObject(o, "model",
	    cache_string_or_null(model_alias != NULL ? model_alias : r->model));
	cJSON_AddItemToObject(o, "provider", cache_string_or_null(r->provider));
	cJSON_AddItemToObject(o, "route", cache_string_or_null(r->route));
	a = cJSON_AddArrayToObject(o, "stop");
	for (size_t i = 0; i < r->n_stop; i++)
		cJSON_AddItemToArray(a, cache_string_or_null(r->stop[i]));
	cJSON_AddItemToObject(o, "system", cache_string_or_null(r->system));
	if (r->has_temperature)
		cJSON_AddNumberToObject(o, "temperature", r->temperature);
	else
		cJSON_AddNullToObject(o, "temperature");
	if (r->tools_json == NULL)
		cJSON_AddNullToObject(o, "tools");
	else if ((tools = cJSON_Parse(r->tools_json)) != NULL) {
		cJSON_AddItemToObject(o, "tools", cache_canon(tools));
		cJSON_Delete(tools);
	} else
		cJSON_AddStringToObject(o, "tools_raw", r->tools_json);
	if (r->has_top_p)
		cJSON_AddNumberToObject(o, "top_p", r->top_p);
	else
		cJSON_AddNullToObject(o, "top_p");
	cJSON_AddNumberToObject(o, "v", 1);

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
