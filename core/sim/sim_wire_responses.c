/*
 * sim_wire_responses.c: OpenAI's Responses API (POST /v1/responses, and Azure's
 * /openai/v1/responses and /openai/responses?api-version=) on the openai and
 * azure sims: the request's checks (known keys and their types, input items,
 * tools, text.format, reasoning, include), the response object and its stream
 * of numbered events. sim_gen.c decides the answer as it does for chat.
 *
 * Choices the real API leaves to a stateful server: the sim stores nothing, so
 * previous_response_id is refused (400, previous_response_not_found) and a
 * reasoning item sent back must carry the encrypted_content the sim issued
 * (checked by a keyed hash of its id), or none. Built-in tools (web_search...)
 * are accepted, echoed and never called.
 */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* encrypted_content: this prefix (Fernet's, as the real one), the item id's hex, a MAC */
#define ENC_PREFIX "gAAAAAB"
#define ID_HEX 48

enum kind { K_ANY, K_STRING, K_BOOL, K_NUMBER, K_INT, K_OBJECT, K_ARRAY, K_STRING_OR_ARRAY };

/* The request's top-level keys the API knows, with the JSON type each takes (null: any). */
static const struct known_key {
	const char *name;
	enum kind kind;
} known_keys[] = {
    {"model", K_STRING}, {"input", K_STRING_OR_ARRAY}, {"instructions", K_STRING},
    {"tools", K_ARRAY}, {"tool_choice", K_ANY}, {"parallel_tool_calls", K_BOOL}, {"text", K_OBJECT},
    {"reasoning", K_OBJECT}, {"include", K_ARRAY}, {"max_output_tokens", K_INT},
    {"max_tool_calls", K_INT}, {"temperature", K_NUMBER}, {"top_p", K_NUMBER},
    {"top_logprobs", K_INT}, {"metadata", K_OBJECT}, {"store", K_BOOL}, {"stream", K_BOOL},
    {"stream_options", K_OBJECT}, {"previous_response_id", K_STRING}, {"truncation", K_STRING},
    {"prompt_cache_key", K_STRING}, {"prompt_cache_retention", K_STRING}, {"background", K_BOOL},
    {"service_tier", K_STRING}, {"safety_identifier", K_STRING}, {"user", K_STRING},
    {"conversation", K_ANY}, {"prompt", K_OBJECT},
    {"client_metadata", K_OBJECT}, /* the Codex CLI sends it on every request */
};

static const char *includable[] = {
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
    "message.input_image.image_url",
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
};

/* ---- checks ---- */

static int
refuse(const struct sim_call *c, const char *code, const char *param, const char *msg,
    struct sim_reply *r)
{
	sim_wire_error_reply(c, 400, "invalid_request_error", code, param, msg, r);
	return -1;
}

/* A whole number (checked in range first: converting a larger double is undefined). */
static int
integral(double d)
{
	return d > -9e18 && d < 9e18 && d == (double)(long long)d;
}

/* The API's name for a JSON value's type, as in "but got an integer instead". */
static const char *
json_kind_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return integral(v->valuedouble) ? "an integer" : "a decimal";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

static int
kind_ok(const cJSON *v, enum kind k)
{
	switch (k) {
	case K_ANY: return 1;
	case K_STRING: return cJSON_IsString(v);
	case K_BOOL: return cJSON_IsBool(v);
	case K_NUMBER: return cJSON_IsNumber(v);
	case K_INT: return cJSON_IsNumber(v) && integral(v->valuedouble);
	case K_OBJECT: return cJSON_IsObject(v);
	case K_ARRAY: return cJSON_IsArray(v);
	case K_STRING_OR_ARRAY: return cJSON_IsString(v) || cJSON_IsArray(v);
	}
	return 0;
}

static const char *
kind_want(enum kind k)
{
	switch (k) {
	case K_STRING: return "a string";
	case K_BOOL: return "a boolean";
	case K_NUMBER: return "a decimal";
	case K_INT: return "an integer";
	case K_OBJECT: return "an object";
	case K_ARRAY: return "an array";
	case K_STRING_OR_ARRAY: return "one of a string or array of input items";
	case K_ANY: break;
	}
	return "a value";
}

static int
bad_type(const struct sim_call *c, const char *param, const char *want, const cJSON *v,
    struct sim_reply *r)
{
	char msg[512];

	snprintf(msg, sizeof msg, "Invalid type for '%s': expected %s, but got %s instead.", param,
	    want, json_kind_name(v));
	return refuse(c, "invalid_type", param, msg, r);
}

static int
bad_value(const struct sim_call *c, const char *param, const char *value, const char *supported,
    struct sim_reply *r)
{
	char msg[512];

	snprintf(msg, sizeof msg, "Invalid value: '%.100s'. Supported values are: %s.", value,
	    supported);
	return refuse(c, "invalid_value", param, msg, r);
}

static int
missing(const struct sim_call *c, const char *param, struct sim_reply *r)
{
	char msg[256];

	snprintf(msg, sizeof msg, "Missing required parameter: '%s'.", param);
	return refuse(c, "missing_required_parameter", param, msg, r);
}

/* Is s one of the NULL-terminated list? */
static int
one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* Every key known and of its type (null stands for "not given"). */
static int
check_keys(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	char msg[256];
	size_t i;

	for (const cJSON *v = root->child; v != NULL; v = v->next) {
		for (i = 0; i < nitems(known_keys); i++)
			if (strcmp(v->string, known_keys[i].name) == 0)
				break;
		if (i == nitems(known_keys)) {
			snprintf(msg, sizeof msg, "Unknown parameter: '%.100s'.", v->string);
			return refuse(c, "unknown_parameter", v->string, msg, r);
		}
		if (!cJSON_IsNull(v) && !kind_ok(v, known_keys[i].kind))
			return bad_type(c, v->string, kind_want(known_keys[i].kind), v, r);
	}
	return 0;
}

/* A keyed hash of a reasoning item's id: what makes its encrypted_content ours. */
static uint64_t
enc_mac(const char *idhex, size_t n)
{
	static const char key[] = "llmdeck-sim reasoning";
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof key - 1; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)idhex[i]) * 0x100000001b3ULL;
	return sim_wire_mix64(&h);
}

/* The encrypted_content the sim gives the reasoning item rs_HEX. */
static void
enc_make(const char *id, char *out, size_t outsz)
{
	const char *hex = id + 3;

	snprintf(out, outsz, "%s%s%016llx", ENC_PREFIX, hex,
	    (unsigned long long)enc_mac(hex, strlen(hex)));
}

/* Did the sim issue this encrypted_content (for the item id, when one is given)? */
static int
enc_valid(const char *enc, const char *id)
{
	size_t pl = strlen(ENC_PREFIX);
	char mac[17];

	if (strlen(enc) != pl + ID_HEX + 16 || strncmp(enc, ENC_PREFIX, pl) != 0)
		return 0;
	if (id != NULL &&
	    (strncmp(id, "rs_", 3) != 0 || strlen(id) != 3 + ID_HEX ||
	        strncmp(id + 3, enc + pl, ID_HEX) != 0))
		return 0;
	snprintf(mac, sizeof mac, "%016llx", (unsigned long long)enc_mac(enc + pl, ID_HEX));
	return strcmp(mac, enc + pl + ID_HEX) == 0;
}

/* A message item's role and content parts. */
static int
check_message(const struct sim_call *c, const cJSON *it, const char *at, struct sim_reply *r)
{
	static const char *const roles[] = {"user", "assistant", "system", "developer", NULL};
	static const char *const in_parts[] = {"input_text", "input_image", "input_file", NULL};
	static const char *const out_parts[] = {"output_text", "refusal", NULL};
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content"), *p, *t;
	char param[128];
	int j = 0, out;

	snprintf(param, sizeof param, "%s.role", at);
	if (role == NULL)
		return missing(c, param, r);
	if (!cJSON_IsString(role))
		return bad_type(c, param, "a string", role, r);
	if (!one_of(role->valuestring, roles))
		return bad_value(c, param, role->valuestring,
		    "'assistant', 'system', 'developer', and 'user'", r);
	out = strcmp(role->valuestring, "assistant") == 0;
	snprintf(param, sizeof param, "%s.content", at);
	if (content == NULL)
		return missing(c, param, r);
	if (!cJSON_IsString(content) && !cJSON_IsArray(content))
		return bad_type(c, param, "one of a string or array of objects", content, r);
	cJSON_ArrayForEach(p, (cJSON_IsArray(content) ? content : NULL))
	{
		snprintf(param, sizeof param, "%s.content[%d]", at, j++);
		if (!cJSON_IsObject(p))
			return bad_type(c, param, "an object", p, r);
		strlcpy_(param + strlen(param), ".type", sizeof param - strlen(param));
		t = cJSON_GetObjectItemCaseSensitive(p, "type");
		if (!cJSON_IsString(t))
			return missing(c, param, r);
		if (!one_of(t->valuestring, out ? out_parts : in_parts))
			return bad_value(c, param, t->valuestring,
			    out ? "'output_text' and 'refusal'"
			        : "'input_text', 'input_image', and 'input_file'",
			    r);
		param[strlen(param) - 5] = '\0';
		if ((strcmp(t->valuestring, "input_text") == 0 ||
		        strcmp(t->valuestring, "output_text") == 0) &&
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "text"))) {
			strlcpy_(param + strlen(param), ".text", sizeof param - strlen(param));
			return missing(c, param, r);
		}
		if (strcmp(t->valuestring, "input_image") == 0 &&
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "image_url")) &&
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "file_id"))) {
			strlcpy_(param + strlen(param), ".image_url", sizeof param - strlen(param));
			return missing(c, param, r);
		}
	}
	return 0;
}

/* A string field of an item that must be there. */
static int
item_string(const struct sim_call *c, const cJSON *it, const char *at, const char *key,
    struct sim_reply *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
	char param[128];

	snprintf(param, sizeof param, "%s.%s", at, key);
	if (v == NULL)
		return missing(c, param, r);
	if (!cJSON_IsString(v))
		return bad_type(c, param, "a string", v, r);
	return 0;
}

/* Has an item before end a function_call with this call_id? */
static int
call_before(const cJSON *input, const cJSON *end, const char *call_id)
{
	const cJSON *it, *t, *id;

	for (it = input->child; it != NULL && it != end; it = it->next) {
		t = cJSON_GetObjectItemCaseSensitive(it, "type");
		id = cJSON_GetObjectItemCaseSensitive(it, "call_id");
		if (cJSON_IsString(t) && strcmp(t->valuestring, "function_call") == 0 &&
		    cJSON_IsString(id) && strcmp(id->valuestring, call_id) == 0)
			return 1;
	}
	return 0;
}

/* A reasoning item sent back: its summary, and an encrypted_content the sim issued. */
static int
check_reasoning_item(const struct sim_call *c, const cJSON *it, const char *at, struct sim_reply *r)
{
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(it, "summary");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(it, "encrypted_content");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
	char param[128], msg[512];

	snprintf(param, sizeof param, "%s.summary", at);
	if (sum == NULL)
		return missing(c, param, r);
	if (!cJSON_IsArray(sum))
		return bad_type(c, param, "an array", sum, r);
	if (enc == NULL || cJSON_IsNull(enc))
		return 0;
	snprintf(param, sizeof param, "%s.encrypted_content", at);
	if (!cJSON_IsString(enc))
		return bad_type(c, param, "a string", enc, r);
	if (enc_valid(enc->valuestring, cJSON_IsString(id) ? id->valuestring : NULL))
		return 0;
	snprintf(msg, sizeof msg,
	    "The encrypted content for item %.64s could not be verified. Reason: Encrypted "
	    "content could not be decrypted or parsed.",
	    cJSON_IsString(id) ? id->valuestring : "(no id)");
	return refuse(c, "invalid_encrypted_content", NULL, msg, r);
}

/* The input: a string, or items of the types the sim knows, each well formed. */
static int
check_input(const struct sim_call *c, const cJSON *input, struct sim_reply *r)
{
	const cJSON *it, *type, *id;
	char at[64], param[96], msg[256];
	int i = 0;

	if (input == NULL || cJSON_IsNull(input))
		return missing(c, "input", r);
	cJSON_ArrayForEach(it, (cJSON_IsArray(input) ? input : NULL))
	{
		snprintf(at, sizeof at, "input[%d]", i++);
		if (!cJSON_IsObject(it))
			return bad_type(c, at, "an object", it, r);
		type = cJSON_GetObjectItemCaseSensitive(it, "type");
		snprintf(param, sizeof param, "%s.type", at);
		if (type != NULL && !cJSON_IsString(type))
			return bad_type(c, param, "a string", type, r);
		if (type == NULL || strcmp(type->valuestring, "message") == 0) {
			if (check_message(c, it, at, r) != 0)
				return -1;
		} else if (strcmp(type->valuestring, "function_call") == 0) {
			if (item_string(c, it, at, "call_id", r) != 0 ||
			    item_string(c, it, at, "name", r) != 0 ||
			    item_string(c, it, at, "arguments", r) != 0)
				return -1;
		} else if (strcmp(type->valuestring, "function_call_output") == 0) {
			if (item_string(c, it, at, "call_id", r) != 0)
				return -1;
			snprintf(param, sizeof param, "%s.output", at);
			if (cJSON_GetObjectItemCaseSensitive(it, "output") == NULL)
				return missing(c, param, r);
			if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "output")) &&
			    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(it, "output")))
				return bad_type(c, param, "one of a string or array of objects",
				    cJSON_GetObjectItemCaseSensitive(it, "output"), r);
			id = cJSON_GetObjectItemCaseSensitive(it, "call_id");
			if (!call_before(input, it, id->valuestring)) {
				snprintf(msg, sizeof msg,
				    "No tool call found for function call output with call_id "
				    "%.64s.",
				    id->valuestring);
				return refuse(c, NULL, "input", msg, r);
			}
		} else if (strcmp(type->valuestring, "reasoning") == 0) {
			if (check_reasoning_item(c, it, at, r) != 0)
				return -1;
		} else
			return bad_value(c, param, type->valuestring,
			    "'message', 'function_call', 'function_call_output', and 'reasoning'",
			    r);
	}
	return 0;
}

/* Function tools are flat ({type, name, parameters}); other types are built-in tools. */
static int
check_tools(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools"), *t, *type, *v;
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), *u;
	static const char *const choices[] = {"auto", "none", "required", NULL};
	char param[64], msg[256];
	int i = 0, found = 0;

	cJSON_ArrayForEach(t, tools)
	{
		snprintf(param, sizeof param, "tools[%d]", i);
		if (!cJSON_IsObject(t))
			return bad_type(c, param, "an object", t, r);
		type = cJSON_GetObjectItemCaseSensitive(t, "type");
		snprintf(param, sizeof param, "tools[%d].type", i);
		if (!cJSON_IsString(type))
			return missing(c, param, r);
		if (strcmp(type->valuestring, "function") == 0) {
			snprintf(param, sizeof param, "tools[%d].name", i);
			if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "name")))
				return missing(c, param, r);
			v = cJSON_GetObjectItemCaseSensitive(t, "parameters");
			snprintf(param, sizeof param, "tools[%d].parameters", i);
			if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsObject(v))
				return bad_type(c, param, "an object", v, r);
		}
		i++;
	}
	if (tc == NULL || cJSON_IsNull(tc))
		return 0;
	if (cJSON_IsString(tc))
		return one_of(tc->valuestring, choices)
		    ? 0
		    : bad_value(c, "tool_choice", tc->valuestring, "'auto', 'none', and 'required'",
		          r);
	if (!cJSON_IsObject(tc))
		return bad_type(c, "tool_choice", "one of a string or object", tc, r);
	type = cJSON_GetObjectItemCaseSensitive(tc, "type");
	v = cJSON_GetObjectItemCaseSensitive(tc, "name");
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0)
		return 0;
	if (!cJSON_IsString(v))
		return missing(c, "tool_choice.name", r);
	cJSON_ArrayForEach(u, tools)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(u, "name");

		if (cJSON_IsString(n) && strcmp(n->valuestring, v->valuestring) == 0)
			found = 1;
	}
	if (found)
		return 0;
	snprintf(msg, sizeof msg,
	    "Tool choice 'function' not found in 'tools' parameter: '%.100s'.", v->valuestring);
	return refuse(c, NULL, "tool_choice", msg, r);
}

/* text.format: text, json_object (the input must say "json"), json_schema (name, schema). */
static int
check_text_format(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *f =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "text"),
	        "format");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
	char *all;
	int found;

	if (f == NULL || cJSON_IsNull(f))
		return 0;
	if (!cJSON_IsObject(f))
		return bad_type(c, "text.format", "an object", f, r);
	if (!cJSON_IsString(type))
		return missing(c, "text.format.type", r);
	if (strcmp(type->valuestring, "text") == 0)
		return 0;
	if (strcmp(type->valuestring, "json_schema") == 0) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "name")))
			return missing(c, "text.format.name", r);
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(f, "schema")))
			return missing(c, "text.format.schema", r);
		return 0;
	}
	if (strcmp(type->valuestring, "json_object") != 0)
		return bad_value(c, "text.format.type", type->valuestring,
		    "'text', 'json_schema', and 'json_object'", r);
	all = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "input"));
	found = all != NULL && strcasestr(all, "json") != NULL;
	cJSON_free(all);
	if (!found) {
		all =
		    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "instructions"));
		found = all != NULL && strcasestr(all, "json") != NULL;
		cJSON_free(all);
	}
	if (found)
		return 0;
	return refuse(c, NULL, "input",
	    "Response input messages must contain the word 'json' in some form to use "
	    "'text.format' of type 'json_object'.",
	    r);
}

/* reasoning.effort and .summary, include[], max_output_tokens, truncation. */
static int
check_options(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	static const char *const efforts[] = {
	    "none", "minimal", "low", "medium", "high", "xhigh", NULL};
	static const char *const summaries[] = {"auto", "concise", "detailed", NULL};
	static const char *const truncations[] = {"auto", "disabled", NULL};
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "reasoning"), *v;
	char param[64], msg[256];
	int i = 0;

	v = cJSON_GetObjectItemCaseSensitive(ro, "effort");
	if (cJSON_IsString(v) && !one_of(v->valuestring, efforts))
		return bad_value(c, "reasoning.effort", v->valuestring,
		    "'none', 'minimal', 'low', 'medium', 'high', and 'xhigh'", r);
	v = cJSON_GetObjectItemCaseSensitive(ro, "summary");
	if (cJSON_IsString(v) && !one_of(v->valuestring, summaries))
		return bad_value(c, "reasoning.summary", v->valuestring,
		    "'auto', 'concise', and 'detailed'", r);
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "include"))
	{
		size_t k;

		snprintf(param, sizeof param, "include[%d]", i++);
		if (!cJSON_IsString(v))
			return bad_type(c, param, "a string", v, r);
		for (k = 0; k < nitems(includable); k++)
			if (strcmp(v->valuestring, includable[k]) == 0)
				break;
		if (k == nitems(includable))
			return bad_value(c, param, v->valuestring,
			    "'reasoning.encrypted_content', 'message.output_text.logprobs', and "
			    "the tool outputs' includables",
			    r);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "max_output_tokens");
	if (cJSON_IsNumber(v) && v->valuedouble < 16) {
		snprintf(msg, sizeof msg,
		    "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
		    "16, but got %.0f instead.",
		    v->valuedouble);
		return refuse(c, "integer_below_min_value", "max_output_tokens", msg, r);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "truncation");
	if (cJSON_IsString(v) && !one_of(v->valuestring, truncations))
		return bad_value(c, "truncation", v->valuestring, "'auto' and 'disabled'", r);
	return 0;
}

int
sim_wire_check_responses(const struct sim_call *c, const cJSON *root, struct sim_reply *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "previous_response_id");
	char msg[256];

	if (check_keys(c, root, r) != 0)
		return -1;
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "model")))
		return missing(c, "model", r);
	if (cJSON_IsString(v)) { /* the sim keeps no responses */
		snprintf(msg, sizeof msg, "Previous response with id '%.100s' not found.",
		    v->valuestring);
		return refuse(c, "previous_response_not_found", "previous_response_id", msg, r);
	}
	if (check_input(c, cJSON_GetObjectItemCaseSensitive(root, "input"), r) != 0 ||
	    check_tools(c, root, r) != 0 || check_text_format(c, root, r) != 0 ||
	    check_options(c, root, r) != 0)
		return -1;
	return sim_wire_check_responses_features(c, root,
	    cJSON_GetObjectItemCaseSensitive(root, "input"), r);
}

/* ---- the response ---- */

/* Building one answer: the stream's next event number, the output items. */
struct rsp {
	const struct sim_call *c;
	struct gen *g;
	struct sim_reply *r;
	size_t seq;
	char id[64];
	int summary;   /* reasoning.summary asked for */
	int encrypted; /* include has reasoning.encrypted_content */
};

/* root's value at key (a copy), or def when absent or null; def is consumed either way. */
static void
echo(cJSON *j, const cJSON *root, const char *key, cJSON *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v != NULL && !cJSON_IsNull(v)) {
		cJSON_AddItemToObject(j, key, cJSON_Duplicate(v, 1));
		cJSON_Delete(def);
	} else
		cJSON_AddItemToObject(j, key, def);
}

static cJSON *
rsp_usage(const struct gen *g)
{
	cJSON *u = cJSON_CreateObject(), *d;

	cJSON_AddNumberToObject(u, "input_tokens", (double)g->in_tokens);
	d = cJSON_AddObjectToObject(u, "input_tokens_details");
	cJSON_AddNumberToObject(d, "cached_tokens", (double)g->cache_read);
	cJSON_AddNumberToObject(u, "output_tokens", (double)g->out_tokens);
	d = cJSON_AddObjectToObject(u, "output_tokens_details");
	cJSON_AddNumberToObject(d, "reasoning_tokens",
	    g->reasoning ? (double)g->reasoning_tokens : 0);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(g->in_tokens + g->out_tokens));
	return u;
}

/* The reasoning settings echoed: the request's, with the defaults filled in. */
static cJSON *
rsp_reasoning(const struct gen *g)
{
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(g->root, "reasoning");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(ro, "effort");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(ro, "summary");
	cJSON *o = cJSON_CreateObject();

	if (cJSON_IsString(e))
		cJSON_AddStringToObject(o, "effort", e->valuestring);
	else if (g->reasoning)
		cJSON_AddStringToObject(o, "effort", "medium");
	else
		cJSON_AddNullToObject(o, "effort");
	if (cJSON_IsString(s))
		cJSON_AddStringToObject(o, "summary", s->valuestring);
	else
		cJSON_AddNullToObject(o, "summary");
	return o;
}

static cJSON *
rsp_text_default(void)
{
	cJSON *t = cJSON_CreateObject(), *f;

	f = cJSON_AddObjectToObject(t, "format");
	cJSON_AddStringToObject(f, "type", "text");
	cJSON_AddStringToObject(t, "verbosity", "medium");
	return t;
}

/* The response object; output NULL (and no usage) for the stream's opening snapshots. */
static cJSON *
rsp_object(const struct rsp *x, const char *status, cJSON *output)
{
	const struct gen *g = x->g;
	const cJSON *root = g->root;
	cJSON *j = cJSON_CreateObject(), *d;
	int incomplete = strcmp(status, "incomplete") == 0;

	cJSON_AddStringToObject(j, "id", x->id);
	cJSON_AddStringToObject(j, "object", "response");
	cJSON_AddNumberToObject(j, "created_at", (double)g->created);
	cJSON_AddStringToObject(j, "status", status);
	cJSON_AddFalseToObject(j, "background");
	cJSON_AddNullToObject(j, "error");
	if (incomplete) {
		d = cJSON_AddObjectToObject(j, "incomplete_details");
		cJSON_AddStringToObject(d, "reason", "max_output_tokens");
	} else
		cJSON_AddNullToObject(j, "incomplete_details");
	echo(j, root, "instructions", cJSON_CreateNull());
	echo(j, root, "max_output_tokens", cJSON_CreateNull());
	echo(j, root, "max_tool_calls", cJSON_CreateNull());
	cJSON_AddStringToObject(j, "model", g->model);
	cJSON_AddItemToObject(j, "output", output != NULL ? output : cJSON_CreateArray());
	echo(j, root, "parallel_tool_calls", cJSON_CreateTrue());
	cJSON_AddNullToObject(j, "previous_response_id");
	echo(j, root, "prompt_cache_key", cJSON_CreateNull());
	cJSON_AddItemToObject(j, "reasoning", rsp_reasoning(g));
	echo(j, root, "safety_identifier", cJSON_CreateNull());
	cJSON_AddStringToObject(j, "service_tier", "default");
	echo(j, root, "store", cJSON_CreateTrue());
	echo(j, root, "temperature", cJSON_CreateNumber(1.0));
	echo(j, root, "text", rsp_text_default());
	echo(j, root, "tool_choice", cJSON_CreateString("auto"));
	echo(j, root, "tools", cJSON_CreateArray());
	echo(j, root, "top_logprobs", cJSON_CreateNumber(0));
	echo(j, root, "top_p", cJSON_CreateNumber(1.0));
	echo(j, root, "truncation", cJSON_CreateString("disabled"));
	if (output != NULL)
		cJSON_AddItemToObject(j, "usage", rsp_usage(g));
	else
		cJSON_AddNullToObject(j, "usage");
	echo(j, root, "user", cJSON_CreateNull());
	echo(j, root, "metadata", cJSON_CreateObject());
	return j;
}

/* An output_text part: empty (stream's opening) or with the answer. */
static cJSON *
rsp_text_part(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "type", "output_text");
	cJSON_AddArrayToObject(p, "annotations");
	cJSON_AddArrayToObject(p, "logprobs");
	cJSON_AddStringToObject(p, "text", text);
	return p;
}

static cJSON *
rsp_summary_part(const char *text)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "type", "summary_text");
	cJSON_AddStringToObject(p, "text", text);
	return p;
}

/* What the reasoning summary says. */
static char *
rsp_summary_text(const struct gen *g)
{
	return xasprintf("**Answering the question**\n\nThe user asks: %s. I will answer briefly "
	                 "and check the facts.",
	    g->after_tool ? g->tool_result : g->prompt);
}

/* The output items, done: reasoning (reasoning models), function calls or a message. */
static cJSON *
rsp_output(const struct rsp *x)
{
	const struct gen *g = x->g;
	cJSON *out = cJSON_CreateArray(), *it, *a;
	char id[64], enc[128], *sum;

	if (g->reasoning && g->reasoning_tokens > 0) {
		it = cJSON_CreateObject();
		sim_wire_make_id(x->c, 50, "rs_", SIM_WIRE_HEX, ID_HEX, id, sizeof id);
		cJSON_AddStringToObject(it, "id", id);
		cJSON_AddStringToObject(it, "type", "reasoning");
		a = cJSON_AddArrayToObject(it, "summary");
		if (x->summary) {
			sum = rsp_summary_text(g);
			cJSON_AddItemToArray(a, rsp_summary_part(sum));
			free(sum);
		}
		if (x->encrypted) {
			enc_make(id, enc, sizeof enc);
			cJSON_AddStringToObject(it, "encrypted_content", enc);
		}
		cJSON_AddItemToArray(out, it);
	}
	for (size_t i = 0; i < g->ncalls; i++) {
		it = cJSON_CreateObject();
		sim_wire_make_id(x->c, 60 + (int)i, "fc_", SIM_WIRE_HEX, ID_HEX, id, sizeof id);
		cJSON_AddStringToObject(it, "id", id);
		cJSON_AddStringToObject(it, "type", "function_call");
		cJSON_AddStringToObject(it, "status", "completed");
		cJSON_AddStringToObject(it, "arguments", g->calls[i].args);
		cJSON_AddStringToObject(it, "call_id", g->calls[i].id);
		cJSON_AddStringToObject(it, "name", g->calls[i].name);
		cJSON_AddItemToArray(out, it);
	}
	if (g->ncalls == 0 && !(g->cut && g->text[0] == '\0')) {
		it = cJSON_CreateObject();
		sim_wire_make_id(x->c, 51, "msg_", SIM_WIRE_HEX, ID_HEX, id, sizeof id);
		cJSON_AddStringToObject(it, "id", id);
		cJSON_AddStringToObject(it, "type", "message");
		cJSON_AddStringToObject(it, "status", g->cut ? "incomplete" : "completed");
		a = cJSON_AddArrayToObject(it, "content");
		cJSON_AddItemToArray(a, rsp_text_part(g->text));
		cJSON_AddStringToObject(it, "role", "assistant");
		cJSON_AddItemToArray(out, it);
	}
	return out;
}

/* ---- the stream ---- */

/* One event: "event: NAME", then its data with type first and sequence_number last.
 * Consumes j (the fields between). */
static void
rsp_event(struct rsp *x, int delta, const char *name, cJSON *j)
{
	cJSON *e = cJSON_CreateObject(), *v;
	char before[96];

	cJSON_AddStringToObject(e, "type", name);
	while ((v = j->child) != NULL)
		cJSON_AddItemToObject(e, v->string, cJSON_DetachItemViaPointer(j, v));
	cJSON_Delete(j);
	cJSON_AddNumberToObject(e, "sequence_number", (double)x->seq++);
	snprintf(before, sizeof before, "event: %s\ndata: ", name);
	sim_wire_chunk_json(x->r, delta, before, e, "\n\n");
}

/* The fields that place an event: item_id, output_index (and content or summary index). */
static cJSON *
rsp_at(const char *item_id, int index, const char *sub, int subindex)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "item_id", item_id);
	cJSON_AddNumberToObject(j, "output_index", index);
	if (sub != NULL)
		cJSON_AddNumberToObject(j, sub, subindex);
	return j;
}

/* Deltas of text: words (pieces of JSON for arguments), each its own event. */
static void
rsp_deltas(struct rsp *x, const char *name, const char *item_id, int index, const char *sub,
    const char *text, int words)
{
	size_t len = strlen(text), at, e;
	cJSON *j;
	char *s;

	for (at = 0; at < len; at = e) {
		e = words ? sim_wire_next_token(text, at, len) : sim_wire_next_piece(text, at, len);
		j = rsp_at(item_id, index, sub, 0);
		s = xstrndup(text + at, e - at);
		cJSON_AddStringToObject(j, "delta", s);
		free(s);
		if (strcmp(name, "response.output_text.delta") == 0)
			cJSON_AddArrayToObject(j, "logprobs");
		rsp_event(x, 1, name, j);
	}
}

/* A reasoning item's summary parts: added, text deltas, text done, part done. */
static void
rsp_stream_reasoning(struct rsp *x, const cJSON *item, const char *id, int index)
{
	const cJSON *p, *t;
	cJSON *j;
	int k = 0;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(item, "summary"))
	{
		t = cJSON_GetObjectItemCaseSensitive(p, "text");
		j = rsp_at(id, index, "summary_index", k);
		cJSON_AddItemToObject(j, "part", rsp_summary_part(""));
		rsp_event(x, 0, "response.reasoning_summary_part.added", j);
		rsp_deltas(x, "response.reasoning_summary_text.delta", id, index, "summary_index",
		    t->valuestring, 1);
		j = rsp_at(id, index, "summary_index", k);
		cJSON_AddStringToObject(j, "text", t->valuestring);
		rsp_event(x, 0, "response.reasoning_summary_text.done", j);
		j = rsp_at(id, index, "summary_index", k);
		cJSON_AddItemToObject(j, "part", cJSON_Duplicate(p, 1));
		rsp_event(x, 0, "response.reasoning_summary_part.done", j);
		k++;
	}
}

/* A message's one output_text part: added, deltas, text done, part done. */
static void
rsp_stream_message(struct rsp *x, const cJSON *item, const char *id, int index)
{
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(item, "content"), 0);
	const char *text = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
	cJSON *j;

	j = rsp_at(id, index, "content_index", 0);
	cJSON_AddItemToObject(j, "part", rsp_text_part(""));
	rsp_event(x, 0, "response.content_part.added", j);
	rsp_deltas(x, "response.output_text.delta", id, index, "content_index", text, 1);
	j = rsp_at(id, index, "content_index", 0);
	cJSON_AddStringToObject(j, "text", text);
	cJSON_AddArrayToObject(j, "logprobs");
	rsp_event(x, 0, "response.output_text.done", j);
	j = rsp_at(id, index, "content_index", 0);
	cJSON_AddItemToObject(j, "part", cJSON_Duplicate(p, 1));
	rsp_event(x, 0, "response.content_part.done", j);
}

static void
rsp_stream_call(struct rsp *x, const cJSON *item, const char *id, int index)
{
	const char *args = cJSON_GetObjectItemCaseSensitive(item, "arguments")->valuestring;
	cJSON *j;

	rsp_deltas(x, "response.function_call_arguments.delta", id, index, NULL, args, 0);
	j = rsp_at(id, index, NULL, 0);
	cJSON_AddStringToObject(j, "name",
	    cJSON_GetObjectItemCaseSensitive(item, "name")->valuestring);
	cJSON_AddStringToObject(j, "arguments", args);
	rsp_event(x, 0, "response.function_call_arguments.done", j);
}

/* An item as output_item.added shows it: in progress, nothing said yet. */
static cJSON *
rsp_item_opening(const cJSON *item)
{
	cJSON *o = cJSON_Duplicate(item, 1);
	const char *type = cJSON_GetObjectItemCaseSensitive(item, "type")->valuestring;

	if (strcmp(type, "reasoning") == 0) {
		cJSON_ReplaceItemInObjectCaseSensitive(o, "summary", cJSON_CreateArray());
		cJSON_DeleteItemFromObjectCaseSensitive(o, "encrypted_content");
		return o;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(o, "status", cJSON_CreateString("in_progress"));
	if (strcmp(type, "message") == 0)
		cJSON_ReplaceItemInObjectCaseSensitive(o, "content", cJSON_CreateArray());
	else
		cJSON_ReplaceItemInObjectCaseSensitive(o, "arguments", cJSON_CreateString(""));
	return o;
}

/*
 * The stream: response.created, response.in_progress, then per output item
 * output_item.added, its parts and deltas, output_item.done; last
 * response.completed (or response.incomplete) with the whole response. No [DONE].
 */
static void
rsp_stream(struct rsp *x, cJSON *whole, const char *status)
{
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(whole, "output"), *item;
	const char *id, *type;
	cJSON *j;
	int index = 0;

	x->r->stream = 1;
	sim_reply_header(x->r, "content-type", "text/event-stream; charset=utf-8");
	sim_reply_header(x->r, "cache-control", "no-cache");
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "response", rsp_object(x, "in_progress", NULL));
	rsp_event(x, 0, "response.created", j);
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "response", rsp_object(x, "in_progress", NULL));
	rsp_event(x, 0, "response.in_progress", j);
	cJSON_ArrayForEach(item, out)
	{
		id = cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring;
		type = cJSON_GetObjectItemCaseSensitive(item, "type")->valuestring;
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "output_index", index);
		cJSON_AddItemToObject(j, "item", rsp_item_opening(item));
		rsp_event(x, 0, "response.output_item.added", j);
		if (strcmp(type, "reasoning") == 0)
			rsp_stream_reasoning(x, item, id, index);
		else if (strcmp(type, "message") == 0)
			rsp_stream_message(x, item, id, index);
		else
			rsp_stream_call(x, item, id, index);
		j = cJSON_CreateObject();
		cJSON_AddNumberToObject(j, "output_index", index);
		cJSON_AddItemToObject(j, "item", cJSON_Duplicate(item, 1));
		rsp_event(x, 0, "response.output_item.done", j);
		index++;
	}
	j = cJSON_CreateObject();
	cJSON_AddItemToObject(j, "response", whole);
	rsp_event(x, 0,
	    strcmp(status, "incomplete") == 0 ? "response.incomplete" : "response.completed", j);
}

/* Does the request's include list name this? */
static int
rsp_includes(const cJSON *root, const char *what)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "include"))
	{
		if (cJSON_IsString(v) && strcmp(v->valuestring, what) == 0)
			return 1;
	}
	return 0;
}

void
sim_wire_responses(const struct sim_call *c, struct sim_reply *r)
{
	struct gen g;
	struct rsp x;
	const cJSON *sum;
	const char *status;
	cJSON *whole;

	if (sim_gen_read(c, &g, r) != 0) {
		sim_gen_free(&g);
		return;
	}
	memset(&x, 0, sizeof x);
	x.c = c;
	x.g = &g;
	x.r = r;
	sim_wire_make_id(c, 3, "resp_", SIM_WIRE_HEX, ID_HEX, x.id, sizeof x.id);
	sum =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g.root, "reasoning"),
	        "summary");
	x.summary = cJSON_IsString(sum);
	x.encrypted = rsp_includes(g.root, "reasoning.encrypted_content");
	status = g.cut ? "incomplete" : "completed";
	r->status = 200;
	sim_wire_common_headers(c, r);
	whole = rsp_object(&x, status, rsp_output(&x));
	if (g.stream)
		rsp_stream(&x, whole, status);
	else {
		sim_wire_content_type_json(c, r);
		sim_wire_reply_json(r, 200, whole);
	}
	sim_gen_free(&g);
}
