/*
 * gateway_stored.c: the Responses API's stored responses on the gateway's
 * side. A request with previous_response_id is expanded before it is parsed:
 * the stored conversation (its input items, then the stored response's
 * output items) goes in front of the new input, so any provider can answer
 * it, whichever answered before. An answered request with store (true unless
 * the client said false) is kept as {"input": [the expanded items, each with
 * an id], "response": {the Response object}} (responses.h), and served back by
 * GET /v1/responses/{id}, GET /v1/responses/{id}/input_items and
 * DELETE /v1/responses/{id}, in OpenAI's shapes.
 *
 * Ownership: an entry stored by a request carrying a client key (gateway_keys.c)
 * holds that key's id in the envelope ("owner": "k-...", next to "input" and
 * "response"; the output items' entries too), so no schema change: the store
 * keeps an opaque JSON text. Only a request with the same key reads it, expands
 * it (previous_response_id, item_reference) or deletes it; to any other caller
 * it is absent, the same 404 (or 400 naming the field) as an id never stored.
 * An entry with no owner (stored with no key, e.g. before any key existed) is
 * everyone's, as before keys.
 *
 * These run on the HTTP server's threads: a stored response is read by its
 * primary key (a WAL reader never waits for the writer); storing goes through
 * the store's writer (resp_store_put never blocks).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_priv.h"
#include "store/responses.h"
#include "util/util.h"

static char *stored_print(cJSON *);

/* Does an entry belong to the caller's key (owner: its id, "" or NULL when none)? */
static int
stored_owned(const cJSON *stored, const char *owner)
{
	const char *o = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(stored, "owner"));

	if (o == NULL || o[0] == '\0')
		return 1;
	return owner != NULL && strcmp(o, owner) == 0;
}

/* The entry id as owner may see it, parsed, or NULL: absent, expired, another key's, or
 * (*err 1) the store could not be read. */
static cJSON *
stored_get(struct resp_store *rs, const char *id, const char *owner, int *err)
{
	char *json;
	cJSON *stored;

	*err = 0;
	if (rs == NULL || (json = resp_store_get(rs, id, err)) == NULL)
		return NULL;
	stored = cJSON_Parse(json);
	free(json);
	if (stored != NULL && !stored_owned(stored, owner)) {
		cJSON_Delete(stored);
		return NULL;
	}
	return stored;
}

/* The owner into an entry about to be stored ("" or NULL: none). */
static void
stored_set_owner(cJSON *entry, const char *owner)
{
	if (owner != NULL && owner[0] != '\0')
		cJSON_AddStringToObject(entry, "owner", owner);
}

/* A string input is one user message item. */
static cJSON *
stored_input_items(const cJSON *input)
{
	cJSON *items, *m;

	if (cJSON_IsArray(input))
		return cJSON_Duplicate(input, 1);
	items = cJSON_CreateArray();
	if (cJSON_IsString(input)) {
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "type", "message");
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", input->valuestring);
		cJSON_AddItemToArray(items, m);
	}
	return items;
}

static void
stored_bad(struct gw_bad *bad, const char *param, const char *message)
{
	snprintf(bad->message, sizeof bad->message, "%s", message);
	snprintf(bad->param, sizeof bad->param, "%s", param);
}

/* Is id a plausible response id (what a client may name in a URL or a field)? */
int
gw_stored_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= RESP_STORE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Replace each {"type": "item_reference", "id": ID} of input by the stored
 * item of that id (every output item of a stored answer is kept under its own
 * id too: the AI SDK sends references, not items, when store is on). 1 if
 * any was replaced, 0 if none, -1 / -2 as gw_stored_expand.
 */
static int
stored_resolve_refs(struct resp_store *rs, cJSON *body, const char *owner, struct gw_bad *bad)
{
	cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input"), *it, *stored, *item;
	char msg[256], path[64];
	int i = 0, n = 0, err;

	if (!cJSON_IsArray(input))
		return 0;
	cJSON_ArrayForEach(it, input)
	{
		const char *type =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));

		i++;
		if (type == NULL || strcmp(type, "item_reference") != 0)
			continue;
		snprintf(path, sizeof path, "input[%d].id", i - 1);
		if (id == NULL || !gw_stored_id_ok(id)) {
			snprintf(msg, sizeof msg, "%s: expected the id of a stored item", path);
			stored_bad(bad, path, msg);
			return -1;
		}
		stored = stored_get(rs, id, owner, &err);
		item = cJSON_DetachItemFromObjectCaseSensitive(stored, "item");
		cJSON_Delete(stored);
		if (item == NULL) {
			snprintf(msg, sizeof msg,
			    err ? "%s: the store of responses could not be read"
			        : "%s: no stored item '%s' (its response was not stored, or "
			          "expired)",
			    path, id);
			stored_bad(bad, path, msg);
			return err ? -2 : -1;
		}
		cJSON_ReplaceItemViaPointer(input, it, item);
		it = item;
		n++;
	}
	return n > 0;
}

/* Each output item of an answer kept under its own id, for item_reference. */
void
gw_stored_put_items(struct resp_store *rs, const char *response_json, const char *owner)
{
	cJSON *resp = cJSON_Parse(response_json), *it, *entry;
	char *s;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(resp, "output"))
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"));

		if (id == NULL || !gw_stored_id_ok(id))
			continue;
		entry = cJSON_CreateObject();
		cJSON_AddItemToObject(entry, "item", cJSON_Duplicate(it, 1));
		stored_set_owner(entry, owner);
		s = stored_print(entry);
		resp_store_put(rs, id, s, NULL, NULL);
		free(s);
	}
	cJSON_Delete(resp);
}

/*
 * Expand body in place: item_reference items become the stored items, and
 * previous_response_id puts the stored input items and the stored output
 * items before the request's own input; the field stays (the answer echoes
 * it). Returns 0 (nothing to do), 1 (body changed), -1 with bad (400: not a
 * string, unknown or expired id), -2 the store could not be read (bad says so).
 */
int
gw_stored_expand(struct resp_store *rs, cJSON *body, const char *owner, struct gw_bad *bad)
{
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
	cJSON *stored, *items, *resp, *out, *it;
	char msg[256];
	int err = 0, refs;

	if ((refs = stored_resolve_refs(rs, body, owner, bad)) < 0)
		return refs;
	if (prev == NULL || cJSON_IsNull(prev))
		return refs;
	if (!cJSON_IsString(prev) || !gw_stored_id_ok(prev->valuestring)) {
		stored_bad(bad, "previous_response_id",
		    "previous_response_id: expected a response id");
		return -1;
	}
	stored = stored_get(rs, prev->valuestring, owner, &err);
	if (stored == NULL) {
		if (err) {
			stored_bad(bad, "previous_response_id",
			    "previous_response_id: the store of responses could not be read");
			return -2;
		}
		snprintf(msg, sizeof msg,
		    "previous_response_id: no stored response '%s' (never stored, store: false, "
		    "deleted or expired)",
		    prev->valuestring);
		stored_bad(bad, "previous_response_id", msg);
		return -1;
	}
	items = cJSON_CreateArray();
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(stored, "input"))
	    cJSON_AddItemToArray(items, cJSON_Duplicate(it, 1));
	resp = cJSON_GetObjectItemCaseSensitive(stored, "response");
	out = cJSON_GetObjectItemCaseSensitive(resp, "output");
	cJSON_ArrayForEach(it, out) cJSON_AddItemToArray(items, cJSON_Duplicate(it, 1));
	out = stored_input_items(cJSON_GetObjectItemCaseSensitive(body, "input"));
	cJSON_ArrayForEach(it, out) cJSON_AddItemToArray(items, cJSON_Duplicate(it, 1));
	cJSON_Delete(out);
	cJSON_Delete(stored);
	cJSON_DeleteItemFromObjectCaseSensitive(body, "input");
	cJSON_AddItemToObject(body, "input", items);
	/* previous_response_id stays: the answer echoes it; a provider reached by
	 * pass-through never sees it (the Responses adapter takes it out). */
	return 1;
}

/* Does the request want its response kept? OpenAI's default is yes. */
int
gw_stored_wanted(const cJSON *body)
{
	return !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "store"));
}

/*
 * What is kept for a response: the request's (expanded) input items, each
 * given an id if it had none (msg_/item_ + the response id + its position),
 * and the Response object as the client got it. Caller frees.
 */
char *
gw_stored_entry(const cJSON *body, const char *response_json, const char *resp_id,
    const char *owner)
{
	cJSON *entry = cJSON_CreateObject(), *items, *it, *resp;
	char id[RESP_STORE_ID_MAX + 32];
	char *s;
	int n = 0;

	items = stored_input_items(cJSON_GetObjectItemCaseSensitive(body, "input"));
	cJSON_ArrayForEach(it, items)
	{
		const char *type =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));

		if (cJSON_IsObject(it) && !cJSON_HasObjectItem(it, "id")) {
			snprintf(id, sizeof id, "%s_%s_in%d",
			    type == NULL || strcmp(type, "message") == 0 ? "msg" : "item",
			    strncmp(resp_id, "resp_", 5) == 0 ? resp_id + 5 : resp_id, n);
			cJSON_AddStringToObject(it, "id", id);
		}
		n++;
	}
	cJSON_AddItemToObject(entry, "input", items);
	resp = cJSON_Parse(response_json);
	cJSON_AddItemToObject(entry, "response", resp != NULL ? resp : cJSON_CreateNull());
	stored_set_owner(entry, owner);
	s = cJSON_PrintUnformatted(entry);
	cJSON_Delete(entry);
	if (s == NULL)
		fatal("out of memory printing a stored response");
	return s;
}

/* OpenAI's 404 for a response id. */
static char *
stored_not_found(const char *id)
{
	char msg[160];

	snprintf(msg, sizeof msg, "Response with id '%s' not found.", id);
	return gw_error_body(GW_OPENAI, 404, LLM_OK, msg, NULL);
}

static char *
stored_print(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	if (s == NULL)
		fatal("out of memory printing a stored response");
	return s;
}

/*
 * GET /v1/responses/{id}, GET /v1/responses/{id}/input_items (what is "" or
 * "input_items") and DELETE /v1/responses/{id}: the status and the JSON body
 * (caller frees). Query: input_items' limit (1..100, default 20), order
 * (asc, or desc, the default) and after (an item id).
 */
int
gw_stored_serve(struct resp_store *rs, const char *method, const char *id, const char *what,
    const char *owner, gw_query_fn query, void *qarg, char **body)
{
	cJSON *stored, *items, *page, *data, *it;
	const char *order, *after, *limit_s;
	char *end;
	int err = 0, n, limit = 20, asc, started, rc;

	if (!gw_stored_id_ok(id) || rs == NULL) {
		*body = stored_not_found(gw_stored_id_ok(id) ? id : "(invalid)");
		return 404;
	}
	stored = stored_get(rs, id, owner, &err);
	if (stored == NULL) {
		if (err) {
			*body = gw_error_body(GW_OPENAI, 503, LLM_ERR_INTERNAL,
			    "the store of responses could not be read", NULL);
			return 503;
		}
		*body = stored_not_found(id);
		return 404;
	}
	if (strcmp(method, "DELETE") == 0 && *what == '\0') {
		/* Owned by the caller (read just above): ids are unique, an owner never changes. */
		cJSON_Delete(stored);
		rc = resp_store_delete(rs, id);
		if (rc < 0) {
			*body = gw_error_body(GW_OPENAI, 503, LLM_ERR_INTERNAL,
			    "the store of responses could not be written", NULL);
			return 503;
		}
		if (rc == 0) {
			*body = stored_not_found(id);
			return 404;
		}
		page = cJSON_CreateObject();
		cJSON_AddStringToObject(page, "id", id);
		cJSON_AddStringToObject(page, "object", "response");
		cJSON_AddBoolToObject(page, "deleted", 1);
		*body = stored_print(page);
		return 200;
	}
	if (*what == '\0') {
		it = cJSON_DetachItemFromObjectCaseSensitive(stored, "response");
		cJSON_Delete(stored);
		*body = stored_print(it != NULL ? it : cJSON_CreateObject());
		return 200;
	}
	limit_s = query(qarg, "limit");
	if (limit_s != NULL) {
		long l = strtol(limit_s, &end, 10);

		if (*limit_s == '\0' || *end != '\0' || l < 1 || l > 100) {
			cJSON_Delete(stored);
			*body = gw_error_body(GW_OPENAI, 400, LLM_ERR_BAD_REQUEST,
			    "limit: expected an integer from 1 to 100", "limit");
			return 400;
		}
		limit = (int)l;
	}
	order = query(qarg, "order");
	if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		cJSON_Delete(stored);
		*body = gw_error_body(GW_OPENAI, 400, LLM_ERR_BAD_REQUEST,
		    "order: expected asc or desc", "order");
		return 400;
	}
	asc = order != NULL && strcmp(order, "asc") == 0;
	after = query(qarg, "after");
	items = cJSON_GetObjectItemCaseSensitive(stored, "input");
	page = cJSON_CreateObject();
	cJSON_AddStringToObject(page, "object", "list");
	data = cJSON_AddArrayToObject(page, "data");
	n = cJSON_GetArraySize(items);
	started = after == NULL;
	for (int k = 0; k < n; k++) {
		const cJSON *item = cJSON_GetArrayItem(items, asc ? k : n - 1 - k);
		const char *iid =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "id"));

		if (!started) {
			started = iid != NULL && strcmp(iid, after) == 0;
			continue;
		}
		if (cJSON_GetArraySize(data) == limit) {
			cJSON_AddBoolToObject(page, "has_more", 1);
			break;
		}
		cJSON_AddItemToArray(data, cJSON_Duplicate(item, 1));
	}
	if (!cJSON_HasObjectItem(page, "has_more"))
		cJSON_AddBoolToObject(page, "has_more", 0);
	it = cJSON_GetArrayItem(data, 0);
	if (it != NULL && cJSON_HasObjectItem(it, "id"))
		cJSON_AddItemToObject(page, "first_id",
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(it, "id"), 0));
	else
		cJSON_AddNullToObject(page, "first_id");
	it = cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1);
	if (it != NULL && cJSON_HasObjectItem(it, "id"))
		cJSON_AddItemToObject(page, "last_id",
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(it, "id"), 0));
	else
		cJSON_AddNullToObject(page, "last_id");
	cJSON_Delete(stored);
	*body = stored_print(page);
	return 200;
}
