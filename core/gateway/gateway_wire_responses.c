/*
 * gateway_wire_responses.c: OpenAI's Responses API (POST /v1/responses) as
 * clients send it and expect it back (the openai SDK's responses.d.ts:
 * ResponseCreateParams, ResponseInputItem, Response, ResponseStreamEvent).
 *
 * In: input (a string, or items: messages of every role, function_call,
 * function_call_output, reasoning), instructions, function and built-in
 * tools, tool_choice, text.format, reasoning, the sampling fields; the body
 * itself goes along as raw_body for a provider that speaks the API, and the
 * fields only such a provider can honour are noted as dropped for the rest.
 * Out: the Response object and its event stream (sequence_number on every
 * event), output items in the order of the response's parts.
 *
 * Anthropic thinking survives a Responses client's tool loop: a THINKING
 * (with its signature) or REDACTED_THINKING part goes out as a reasoning item
 * whose encrypted_content is llmdeck's own, "llmdeck.v1." and the base64 of
 * [{"type":"thinking","thinking","signature"} | {"type":"redacted_thinking",
 * "data"}], and comes back in as those parts; any other encrypted_content is
 * OpenAI's and stays a REASONING part, untouched.
 */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_wire.h"

#define THINKING_PREFIX "llmdeck.v1."

/* ---- llmdeck's encoding of Anthropic thinking ---- */

/* "llmdeck.v1." + base64 of the block's JSON (a new string). */
static char *
thinking_encode(const struct llm_part *p)
{
	cJSON *a = cJSON_CreateArray(), *b = cJSON_CreateObject();
	char *json, *out;
	size_t n, pre = strlen(THINKING_PREFIX);

	cJSON_AddItemToArray(a, b);
	if (p->type == LLM_PART_REDACTED_THINKING) {
		cJSON_AddStringToObject(b, "type", "redacted_thinking");
		cJSON_AddStringToObject(b, "data", p->data != NULL ? p->data : "");
	} else {
		cJSON_AddStringToObject(b, "type", "thinking");
		cJSON_AddStringToObject(b, "thinking", p->text != NULL ? p->text : "");
		cJSON_AddStringToObject(b, "signature", p->signature != NULL ? p->signature : "");
	}
	json = gw_json_text(a);
	cJSON_Delete(a);
	n = strlen(json);
	out = xmalloc(pre + 4 * ((n + 2) / 3) + 1);
	memcpy(out, THINKING_PREFIX, pre);
	EVP_EncodeBlock((unsigned char *)out + pre, (const unsigned char *)json, (int)n);
	free(json);
	return out;
}

/* The blocks of an llmdeck encoding as parts of m; -1 if it is not one. */
static int
thinking_decode(const char *enc, struct llm_message *m)
{
	const char *b64 = enc + strlen(THINKING_PREFIX);
	size_t n = strlen(b64), pad = 0;
	unsigned char *raw;
	const cJSON *b;
	cJSON *a;
	int len;

	if (n == 0 || n % 4 != 0 || n > 64 << 20)
		return -1;
	raw = xmalloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (len < 0) {
		free(raw);
		return -1;
	}
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	len -= (int)pad;
	a = cJSON_ParseWithLength((const char *)raw, (size_t)len);
	free(raw);
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0) {
		cJSON_Delete(a);
		return -1;
	}
	cJSON_ArrayForEach(b, a)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(b, "thinking");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(b, "signature");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, "data");

		if (!cJSON_IsString(t) ||
		    !(strcmp(t->valuestring, "thinking") == 0
		            ? cJSON_IsString(x) && cJSON_IsString(s)
		            : strcmp(t->valuestring, "redacted_thinking") == 0 ? cJSON_IsString(d)
		                                                               : 0)) {
			cJSON_Delete(a);
			return -1;
		}
	}
	cJSON_ArrayForEach(b, a)
	{
		const char *t = cJSON_GetObjectItemCaseSensitive(b, "type")->valuestring;
		struct llm_part *p;

		if (strcmp(t, "thinking") == 0) {
			p = llm_message_add_part(m, LLM_PART_THINKING);
			p->text =
			    xstrdup(cJSON_GetObjectItemCaseSensitive(b, "thinking")->valuestring);
			p->signature =
			    xstrdup(cJSON_GetObjectItemCaseSensitive(b, "signature")->valuestring);
		} else {
			p = llm_message_add_part(m, LLM_PART_REDACTED_THINKING);
			p->data = xstrdup(cJSON_GetObjectItemCaseSensitive(b, "data")->valuestring);
		}
	}
	cJSON_Delete(a);
	return 0;
}

/* ---- input ---- */

/* The last message if it has the role (consecutive items of one role merge), else a new one. */
static struct llm_message *
message_for(struct llm_request *req, enum llm_role role)
{
	if (req->n_messages > 0 && req->messages[req->n_messages - 1].role == role)
		return &req->messages[req->n_messages - 1];
	return llm_request_new_message(req, role);
}

static int
is_text_type(const char *type)
{
	return strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0;
}

/* {"type":"input_image","image_url":...,"file_id":...,"detail":...} into an IMAGE part. */
static int
image_part(struct gw_parse *p, const cJSON *part, const char *at, struct llm_part *img)
{
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(part, "image_url");
	const cJSON *file = cJSON_GetObjectItemCaseSensitive(part, "file_id");
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(part, "detail");

	if (file != NULL && !cJSON_IsNull(file))
		return gw_bad_set(p->bad, at,
		    "%s.file_id: uploaded files are not supported through the gateway (send "
		    "image_url, a URL or a data: URL)",
		    at);
	if (!cJSON_IsString(url) || url->valuestring[0] == '\0')
		return gw_bad_set(p->bad, at, "%s.image_url: expected a URL or a data: URL", at);
	if (detail != NULL && !cJSON_IsNull(detail) && !cJSON_IsString(detail))
		return gw_bad_set(p->bad, at, "%s.detail: expected \"auto\", \"low\" or \"high\"",
		    at);
	img->url = xstrdup(url->valuestring);
	if (cJSON_IsString(detail))
		img->detail = xstrdup(detail->valuestring);
	return 0;
}

/*
 * A content part of a message or of a function_call_output's output. text
 * gets a text part's text (for system folding); otherwise parts go to m (or,
 * for a tool result, to tr's parts).
 */
static int
content_part(struct gw_parse *p, const cJSON *part, const char *at, int images_ok,
    struct llm_message *m, struct llm_part *tr, struct buf *text)
{
	const cJSON *t;
	struct llm_part *np;
	const char *type;

	if (gw_type_of(p, part, at, &type) != 0)
		return -1;
	if (is_text_type(type) || strcmp(type, "refusal") == 0) {
		const char *key = strcmp(type, "refusal") == 0 ? "refusal" : "text";

		t = cJSON_GetObjectItemCaseSensitive(part, key);
		if (!cJSON_IsString(t))
			return gw_bad_set(p->bad, at, "%s.%s: expected a string", at, key);
		if (text != NULL) {
			if (text->len > 0)
				buf_puts(text, "\n\n");
			buf_puts(text, t->valuestring);
			return 0;
		}
		if (tr != NULL) {
			tr->parts = xrealloc(tr->parts, (tr->n_parts + 1) * sizeof *tr->parts);
			np = &tr->parts[tr->n_parts++];
			memset(np, 0, sizeof *np);
			np->type = LLM_PART_TEXT;
		} else {
			np = llm_message_add_part(m, LLM_PART_TEXT);
		}
		np->text = xstrdup(t->valuestring);
		return 0;
	}
	if (strcmp(type, "input_image") == 0) {
		if (!images_ok)
			return gw_bad_set(p->bad, at,
			    "%s.type: input_image is only allowed in user content", at);
		if (tr != NULL) {
			struct llm_part img;

			memset(&img, 0, sizeof img);
			img.type = LLM_PART_IMAGE;
			if (image_part(p, part, at, &img) != 0)
				return -1;
			tr->parts = xrealloc(tr->parts, (tr->n_parts + 1) * sizeof *tr->parts);
			tr->parts[tr->n_parts++] = img;
			return 0;
		}
		/* Checked before the part is added, so a refusal leaves m as it was. */
		{
			struct llm_part img;

			memset(&img, 0, sizeof img);
			img.type = LLM_PART_IMAGE;
			if (image_part(p, part, at, &img) != 0)
				return -1;
			np = llm_message_add_part(m, LLM_PART_IMAGE);
			*np = img;
		}
		return 0;
	}
	if (strcmp(type, "input_file") == 0)
		return gw_bad_set(p->bad, at,
		    "%s.type: input_file parts are not supported through the gateway (no "
		    "provider-neutral place for a file: send its text as input_text)",
		    at);
	return gw_bad_set(p->bad, at,
	    "%s.type: \"%s\" parts are not supported (input_text, input_image, output_text, "
	    "refusal)",
	    at, type);
}

/* A message item: {"type":"message"?, "role", "content": string | parts}. */
static int
item_message(struct gw_parse *p, const cJSON *item, const char *path)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(item, "role");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "content"), *part;
	char cpath[GW_PATH];
	int system, i = 0;
	enum llm_role r;

	if (!cJSON_IsString(role))
		return gw_bad_set(p->bad, path,
		    "%s.role: expected user, assistant, system or developer", path);
	system =
	    strcmp(role->valuestring, "system") == 0 || strcmp(role->valuestring, "developer") == 0;
	if (strcmp(role->valuestring, "user") == 0 || system)
		r = LLM_ROLE_USER;
	else if (strcmp(role->valuestring, "assistant") == 0)
		r = LLM_ROLE_ASSISTANT;
	else
		return gw_bad_set(p->bad, path,
		    "%s.role: \"%s\" is not one of user, assistant, system, developer", path,
		    role->valuestring);
	gw_path(cpath, "%s.content", path);
	if (cJSON_IsString(c)) {
		if (system)
			gw_system_append(p->req, c->valuestring);
		else
			llm_message_add_part(message_for(p->req, r), LLM_PART_TEXT)->text =
			    xstrdup(c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return gw_bad_set(p->bad, cpath, "%s: expected a string or an array of parts",
		    cpath);
	if (system) {
		struct buf text;

		buf_init(&text);
		buf_append(&text, "", 0);
		cJSON_ArrayForEach(part, c)
		{
			char at[GW_PATH];

			gw_path(at, "%s[%d]", cpath, i++);
			if (content_part(p, part, at, 0, NULL, NULL, &text) != 0) {
				buf_free(&text);
				return -1;
			}
		}
		if (text.len > 0)
			gw_system_append(p->req, text.data);
		buf_free(&text);
		return 0;
	}
	cJSON_ArrayForEach(part, c)
	{
		char at[GW_PATH];

		gw_path(at, "%s[%d]", cpath, i++);
		if (content_part(p, part, at, r == LLM_ROLE_USER, message_for(p->req, r), NULL,
		        NULL) != 0)
			return -1;
	}
	/* An empty content array is still the role's turn. */
	if (i == 0)
		message_for(p->req, r);
	return 0;
}

/* A non-empty string field of an item, or -1 naming it. */
static int
item_string(struct gw_parse *p, const cJSON *item, const char *path, const char *key,
    const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);

	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return gw_bad_set(p->bad, path, "%s.%s: expected a non-empty string", path, key);
	*out = v->valuestring;
	return 0;
}

/* {"type":"function_call","call_id","name","arguments"}: the assistant's tool call. */
static int
item_function_call(struct gw_parse *p, const cJSON *item, const char *path)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(item, "arguments");
	const char *call_id = NULL, *name = NULL;
	struct llm_part *tc;

	if (item_string(p, item, path, "call_id", &call_id) != 0 ||
	    item_string(p, item, path, "name", &name) != 0)
		return -1;
	if (args != NULL && !cJSON_IsNull(args) && !cJSON_IsString(args))
		return gw_bad_set(p->bad, path, "%s.arguments: expected a string (JSON text)",
		    path);
	tc = llm_message_add_part(message_for(p->req, LLM_ROLE_ASSISTANT), LLM_PART_TOOL_CALL);
	tc->id = xstrdup(call_id);
	tc->name = xstrdup(name);
	tc->arguments =
	    xstrdup(cJSON_IsString(args) && args->valuestring[0] != '\0' ? args->valuestring
	                                                                 : "{}");
	return 0;
}

/* {"type":"function_call_output","call_id","output": string | parts}: a tool's answer. */
static int
item_function_call_output(struct gw_parse *p, const cJSON *item, const char *path)
{
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(item, "output"), *part;
	struct llm_part tr;
	char opath[GW_PATH];
	const char *call_id = NULL;
	int i = 0;

	if (item_string(p, item, path, "call_id", &call_id) != 0)
		return -1;
	gw_path(opath, "%s.output", path);
	memset(&tr, 0, sizeof tr);
	tr.type = LLM_PART_TOOL_RESULT;
	if (cJSON_IsString(out)) {
		tr.parts = xcalloc(1, sizeof *tr.parts);
		tr.parts[0].type = LLM_PART_TEXT;
		tr.parts[0].text = xstrdup(out->valuestring);
		tr.n_parts = 1;
	} else if (cJSON_IsArray(out)) {
		cJSON_ArrayForEach(part, out)
		{
			char at[GW_PATH];

			gw_path(at, "%s[%d]", opath, i++);
			if (content_part(p, part, at, 1, NULL, &tr, NULL) != 0) {
				llm_part_free(&tr);
				return -1;
			}
		}
	} else {
		return gw_bad_set(p->bad, opath, "%s: expected a string or an array of parts",
		    opath);
	}
	tr.id = xstrdup(call_id);
	*llm_message_add_part(message_for(p->req, LLM_ROLE_USER), LLM_PART_TOOL_RESULT) = tr;
	return 0;
}

/* {"type":"reasoning","id","summary":[{"type":"summary_text","text"}],"encrypted_content"}. */
static int
item_reasoning(struct gw_parse *p, const cJSON *item, const char *path)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
	const cJSON *summary = cJSON_GetObjectItemCaseSensitive(item, "summary");
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(item, "encrypted_content"), *s;
	struct llm_part *rp;
	struct buf text;
	int i = 0;

	if (id != NULL && !cJSON_IsNull(id) && !cJSON_IsString(id))
		return gw_bad_set(p->bad, path, "%s.id: expected a string", path);
	if (enc != NULL && !cJSON_IsNull(enc) && !cJSON_IsString(enc))
		return gw_bad_set(p->bad, path, "%s.encrypted_content: expected a string", path);
	if (summary != NULL && !cJSON_IsNull(summary) && !cJSON_IsArray(summary))
		return gw_bad_set(p->bad, path,
		    "%s.summary: expected an array of summary_text parts", path);
	if (cJSON_IsString(enc) &&
	    strncmp(enc->valuestring, THINKING_PREFIX, strlen(THINKING_PREFIX)) == 0) {
		/* llmdeck's own: the provider's thinking blocks, as they came. */
		if (thinking_decode(enc->valuestring, message_for(p->req, LLM_ROLE_ASSISTANT)) != 0)
			return gw_bad_set(p->bad, path,
			    "%s.encrypted_content: not a valid llmdeck reasoning encoding (send "
			    "the item back as the gateway gave it)",
			    path);
		return 0;
	}
	buf_init(&text);
	buf_append(&text, "", 0);
	cJSON_ArrayForEach(s, summary)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "text");
		char at[GW_PATH];

		gw_path(at, "%s.summary[%d]", path, i++);
		if (!cJSON_IsObject(s) || !cJSON_IsString(t)) {
			buf_free(&text);
			return gw_bad_set(p->bad, at, "%s.text: expected a string", at);
		}
		if (text.len > 0)
			buf_puts(&text, "\n\n");
		buf_puts(&text, t->valuestring);
	}
	rp = llm_message_add_part(message_for(p->req, LLM_ROLE_ASSISTANT), LLM_PART_REASONING);
	rp->text = xstrdup(text.data);
	if (cJSON_IsString(id))
		rp->id = xstrdup(id->valuestring);
	if (cJSON_IsString(enc))
		rp->data = xstrdup(enc->valuestring);
	buf_free(&text);
	return 0;
}

/* A short [a-z_] name as a dropped-field label under prefix, else prefix "other". */
static void
drop_named(struct gw_ask *ask, const char *prefix, const char *name)
{
	char label[GW_DROPPED_FIELD];
	size_t n = strlen(name), i;

	for (i = 0; i < n && ((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_'); i++)
		;
	snprintf(label, sizeof label, "%s%s", prefix,
	    n > 0 && i == n && n + strlen(prefix) < sizeof label ? name : "other");
	gw_ask_drop(ask, label);
}

static int
f_input(struct gw_parse *p, const cJSON *v)
{
	const cJSON *item;
	int i = 0;

	if (cJSON_IsString(v)) {
		llm_request_add_message(p->req, LLM_ROLE_USER, v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return gw_bad_set(p->bad, "input", "input: expected a string or an array of items");
	cJSON_ArrayForEach(item, v)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "type");
		char path[GW_PATH];
		const char *type;
		int rc;

		gw_path(path, "input[%d]", i++);
		if (!cJSON_IsObject(item))
			return gw_bad_set(p->bad, path, "%s: expected an object", path);
		/* EasyInputMessage has no type. */
		if (t == NULL && cJSON_GetObjectItemCaseSensitive(item, "role") != NULL)
			type = "message";
		else if (cJSON_IsString(t))
			type = t->valuestring;
		else
			return gw_bad_set(p->bad, path, "%s.type: expected a string", path);
		if (strcmp(type, "message") == 0)
			rc = item_message(p, item, path);
		else if (strcmp(type, "function_call") == 0)
			rc = item_function_call(p, item, path);
		else if (strcmp(type, "function_call_output") == 0)
			rc = item_function_call_output(p, item, path);
		else if (strcmp(type, "reasoning") == 0)
			rc = item_reasoning(p, item, path);
		else if (strcmp(type, "item_reference") == 0)
			rc = gw_bad_set(p->bad, path,
			    "%s.type: item_reference is not supported through the gateway (send "
			    "the "
			    "item itself)",
			    path);
		else {
			/* A built-in tool's call or output: only a Responses provider (raw_body)
			 * has a use for it. */
			drop_named(p->ask, "responses.input.", type);
			rc = 0;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
f_instructions(struct gw_parse *p, const cJSON *v)
{
	struct llm_request *req = p->req;
	char *s;

	if (!cJSON_IsString(v))
		return gw_bad_set(p->bad, "instructions", "instructions: expected a string");
	if (v->valuestring[0] == '\0')
		return 0;
	/* Before whatever system or developer messages input folded in already. */
	if (req->system == NULL) {
		req->system = xstrdup(v->valuestring);
		return 0;
	}
	s = xasprintf("%s\n\n%s", v->valuestring, req->system);
	free(req->system);
	req->system = s;
	return 0;
}

/* ---- tools ---- */

/* {"type":"function","name","description","parameters","strict"}; other keys go to extra. */
static int
function_tool(struct gw_parse *p, const cJSON *t, const char *path)
{
	const cJSON *v, *e;
	const char *name = NULL, *desc = NULL;
	struct llm_tool *tool;
	char *params = NULL;
	cJSON *extra = NULL;
	int strict = 0;

	if (item_string(p, t, path, "name", &name) != 0)
		return -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(t, "description")) != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return gw_bad_set(p->bad, path, "%s.description: expected a string", path);
		desc = v->valuestring;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(t, "strict")) != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsBool(v))
			return gw_bad_set(p->bad, path, "%s.strict: expected true or false", path);
		strict = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(t, "parameters")) != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v))
			return gw_bad_set(p->bad, path,
			    "%s.parameters: expected a JSON Schema object", path);
		params = gw_json_text(v);
	}
	cJSON_ArrayForEach(e, t)
	{
		static const char *const known[] = {
		    "type", "name", "description", "parameters", "strict"};
		size_t k;

		for (k = 0; k < nitems(known); k++)
			if (e->string != NULL && strcmp(e->string, known[k]) == 0)
				break;
		if (k < nitems(known) || e->string == NULL)
			continue;
		if (extra == NULL)
			extra = cJSON_CreateObject();
		cJSON_AddItemToObject(extra, e->string, cJSON_Duplicate(e, 1));
	}
	tool = llm_request_add_tool(p->req, name, desc, params);
	tool->strict = strict;
	if (extra != NULL) {
		tool->extra = gw_json_text(extra);
		gw_ask_drop(p->ask, "responses.tools[].extra");
		cJSON_Delete(extra);
	}
	free(params);
	return 0;
}

static int
f_tools(struct gw_parse *p, const cJSON *tools)
{
	cJSON *hosted = NULL;
	const cJSON *t;
	int i = 0;

	if (!cJSON_IsArray(tools))
		return gw_bad_set(p->bad, "tools", "tools: expected an array");
	cJSON_ArrayForEach(t, tools)
	{
		char path[GW_PATH];
		const char *type;

		gw_path(path, "tools[%d]", i++);
		if (gw_type_of(p, t, path, &type) != 0)
			goto bad;
		if (strcmp(type, "function") == 0) {
			if (function_tool(p, t, path) != 0)
				goto bad;
			continue;
		}
		/* Built-in: only a provider that speaks the Responses API runs it. */
		if (hosted == NULL)
			hosted = cJSON_CreateArray();
		cJSON_AddItemToArray(hosted, cJSON_Duplicate(t, 1));
	}
	if (hosted != NULL) {
		free(p->req->hosted_tools);
		p->req->hosted_tools = gw_json_text(hosted);
		cJSON_Delete(hosted);
	}
	return 0;
bad:
	cJSON_Delete(hosted);
	return -1;
}

static int
f_tool_choice(struct gw_parse *p, const cJSON *v)
{
	struct llm_request *req = p->req;
	const char *type;

	if (cJSON_IsString(v))
		return gw_parse_tool_choice_word(p, v->valuestring);
	if (gw_type_of(p, v, "tool_choice", &type) != 0)
		return -1;
	if (strcmp(type, "function") == 0) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");

		if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
			return gw_bad_set(p->bad, "tool_choice",
			    "tool_choice.name: expected the name of a function tool");
		req->tool_choice = LLM_TOOL_CHOICE_NAMED;
		req->tool_choice_name = xstrdup(name->valuestring);
		return 0;
	}
	if (strcmp(type, "allowed_tools") == 0) {
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(v, "mode");

		if (!cJSON_IsString(mode) ||
		    (strcmp(mode->valuestring, "auto") != 0 &&
		        strcmp(mode->valuestring, "required") != 0))
			return gw_bad_set(p->bad, "tool_choice",
			    "tool_choice.mode: expected \"auto\" or \"required\"");
		/* The mode carries over; the subset of tools only to a Responses provider. */
		req->tool_choice = strcmp(mode->valuestring, "auto") == 0 ? LLM_TOOL_CHOICE_AUTO
		                                                          : LLM_TOOL_CHOICE_ANY;
		gw_ask_drop(p->ask, "responses.tool_choice.allowed_tools");
		return 0;
	}
	/* A built-in tool forced: only a Responses provider can. */
	gw_ask_drop(p->ask, "responses.tool_choice.builtin");
	return 0;
}

static int
f_parallel_tool_calls(struct gw_parse *p, const cJSON *v)
{
	if (gw_want_bool(p, v, "parallel_tool_calls", &p->req->parallel_tool_calls) != 0)
		return -1;
	p->req->has_parallel_tool_calls = 1;
	return 0;
}

/* text: {"format": {"type": "text" | "json_object" | "json_schema", ...}, "verbosity"}. */
static int
f_text(struct gw_parse *p, const cJSON *v)
{
	struct llm_response_format *rf = &p->req->response_format;
	const cJSON *f, *name, *schema, *strict, *desc;
	const char *type;

	if (gw_want_object(p, v, "text") != 0)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(v, "verbosity") != NULL &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(v, "verbosity")))
		gw_ask_drop(p->ask, "responses.text.verbosity");
	f = cJSON_GetObjectItemCaseSensitive(v, "format");
	if (f == NULL || cJSON_IsNull(f))
		return 0;
	if (gw_type_of(p, f, "text.format", &type) != 0)
		return -1;
	if (strcmp(type, "text") == 0) {
		rf->type = LLM_FORMAT_TEXT;
		return 0;
	}
	if (strcmp(type, "json_object") == 0) {
		rf->type = LLM_FORMAT_JSON_OBJECT;
		return 0;
	}
	if (strcmp(type, "json_schema") != 0)
		return gw_bad_set(p->bad, "text.format",
		    "text.format.type: \"%s\" is not one of text, json_object, json_schema", type);
	name = cJSON_GetObjectItemCaseSensitive(f, "name");
	schema = cJSON_GetObjectItemCaseSensitive(f, "schema");
	strict = cJSON_GetObjectItemCaseSensitive(f, "strict");
	desc = cJSON_GetObjectItemCaseSensitive(f, "description");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
		return gw_bad_set(p->bad, "text.format.name",
		    "text.format.name: expected a non-empty string");
	if (!cJSON_IsObject(schema))
		return gw_bad_set(p->bad, "text.format.schema",
		    "text.format.schema: expected a JSON Schema object");
	if (strict != NULL && !cJSON_IsNull(strict) && !cJSON_IsBool(strict))
		return gw_bad_set(p->bad, "text.format.strict",
		    "text.format.strict: expected true or false");
	if (desc != NULL && !cJSON_IsNull(desc))
		gw_ask_drop(p->ask, "responses.text.format.description");
	rf->type = LLM_FORMAT_JSON_SCHEMA;
	rf->name = xstrdup(name->valuestring);
	rf->schema = gw_json_text(schema);
	rf->strict = cJSON_IsTrue(strict);
	return 0;
}

/* reasoning: {"effort", "summary" (or the older "generate_summary")}. */
static int
f_reasoning(struct gw_parse *p, const cJSON *v)
{
	const cJSON *effort, *summary;

	if (gw_want_object(p, v, "reasoning") != 0)
		return -1;
	effort = cJSON_GetObjectItemCaseSensitive(v, "effort");
	summary = cJSON_GetObjectItemCaseSensitive(v, "summary");
	if (summary == NULL || cJSON_IsNull(summary))
		summary = cJSON_GetObjectItemCaseSensitive(v, "generate_summary");
	if (effort != NULL && !cJSON_IsNull(effort)) {
		if (!cJSON_IsString(effort))
			return gw_bad_set(p->bad, "reasoning.effort",
			    "reasoning.effort: expected a string (minimal, low, medium, high)");
		p->req->reasoning_effort = xstrdup(effort->valuestring);
	}
	if (summary != NULL && !cJSON_IsNull(summary)) {
		if (!cJSON_IsString(summary))
			return gw_bad_set(p->bad, "reasoning.summary",
			    "reasoning.summary: expected a string (auto, concise, detailed)");
		p->req->reasoning_summary = xstrdup(summary->valuestring);
	}
	return 0;
}

static int
f_max_output_tokens(struct gw_parse *p, const cJSON *v)
{
	int64_t n;

	if (gw_want_int(p, v, "max_output_tokens", 1, 10000000, &n) != 0)
		return -1;
	p->req->max_tokens = (int)n;
	return 0;
}

static int
f_temperature(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_temperature(p, v, 2);
}

static int
f_top_p(struct gw_parse *p, const cJSON *v)
{
	return gw_parse_top_p(p, v);
}

static int
f_stream(struct gw_parse *p, const cJSON *v)
{
	return gw_want_bool(p, v, "stream", &p->req->stream);
}

static int
f_previous_response_id(struct gw_parse *p, const cJSON *v)
{
	const char *s;

	if (gw_want_string(p, v, "previous_response_id", &s) != 0)
		return -1;
	free(p->ask->previous_response_id);
	p->ask->previous_response_id = xstrdup(s);
	return 0;
}

/* Accepted, carried in raw_body to a Responses provider, left out when translating. */
static int
f_dropped(struct gw_parse *p, const cJSON *v)
{
	drop_named(p->ask, "responses.", v->string);
	return 0;
}

static const struct gw_field responses_fields[] = {
    {"input", f_input},
    {"instructions", f_instructions},
    {"tools", f_tools},
    {"tool_choice", f_tool_choice},
    {"parallel_tool_calls", f_parallel_tool_calls},
    {"text", f_text},
    {"reasoning", f_reasoning},
    {"max_output_tokens", f_max_output_tokens},
    {"temperature", f_temperature},
    {"top_p", f_top_p},
    {"metadata", gw_parse_metadata},
    {"user", gw_parse_user},
    {"stream", f_stream},
    {"previous_response_id", f_previous_response_id},
    {"include", f_dropped},
    {"store", f_dropped},
    {"truncation", f_dropped},
    {"prompt_cache_key", f_dropped},
    {"service_tier", f_dropped},
    {"safety_identifier", f_dropped},
    {"background", f_dropped},
    {"max_tool_calls", f_dropped},
    {"top_logprobs", f_dropped},
    {"stream_options", f_dropped},
    {"conversation", f_dropped},
    {"prompt", f_dropped},
};

/* The value of key in root, or the JSON def, into o. */
static void
echo_field(cJSON *o, const cJSON *root, const char *key, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v != NULL && !cJSON_IsNull(v))
		cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, 1));
	else
		cJSON_AddItemToObject(o, key, cJSON_Parse(def));
}

/* A byte JSON allows nowhere unescaped but in white space (NUL included). */
static int
has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 1;
	return 0;
}

static int
responses_finish(struct gw_parse *p)
{
	struct llm_request *req = p->req;
	cJSON *echo;

	if (req->n_messages == 0)
		return gw_bad_set(p->bad, "input",
		    "input: no user or assistant item (needs at least one)");
	req->passthrough_api = LLM_API_RESPONSES;
	/* The body as received, unless it is not strictly JSON (control characters
	 * in strings: cJSON takes them): then its JSON as parsed. */
	req->raw_body = has_control(p->body, p->body_len) ? gw_json_text(p->root)
	                                                  : xstrndup(p->body, p->body_len);
	echo = cJSON_CreateObject();
	echo_field(echo, p->root, "instructions", "null");
	echo_field(echo, p->root, "max_output_tokens", "null");
	echo_field(echo, p->root, "parallel_tool_calls", "true");
	echo_field(echo, p->root, "previous_response_id", "null");
	echo_field(echo, p->root, "reasoning", "{\"effort\":null,\"summary\":null}");
	echo_field(echo, p->root, "store", "true");
	echo_field(echo, p->root, "temperature", "1");
	echo_field(echo, p->root, "text", "{\"format\":{\"type\":\"text\"}}");
	echo_field(echo, p->root, "tool_choice", "\"auto\"");
	echo_field(echo, p->root, "tools", "[]");
	echo_field(echo, p->root, "top_p", "1");
	echo_field(echo, p->root, "truncation", "\"disabled\"");
	echo_field(echo, p->root, "user", "null");
	echo_field(echo, p->root, "metadata", "{}");
	free(p->ask->echo);
	p->ask->echo = gw_json_text(echo);
	cJSON_Delete(echo);
	return 0;
}

static const struct gw_format responses_format = {
    .api = LLM_API_RESPONSES,
    .fields = responses_fields,
    .n_fields = nitems(responses_fields),
    .required = "input",
    .required_what = "a string or an array of input items",
    .unknown = f_dropped,
    .finish = responses_finish,
};

int
gw_parse_responses(const char *body, size_t len, struct llm_request *req, struct gw_ask *ask,
    struct gw_bad *bad)
{
	return gw_parse_format(&responses_format, body, len, req, ask, bad);
}

/* ---- the Response object ---- */

/* An output item's id: its kind's prefix, the response's id after "resp_", the part's index. */
static void
item_id(char *out, size_t len, const struct gw_stream *st, const char *prefix, size_t part)
{
	const char *id = st->id != NULL ? st->id : "";

	if (strncmp(id, "resp_", 5) == 0)
		id += 5;
	snprintf(out, len, "%s_%s_%zu", prefix, id, part);
}

/* "completed", or "incomplete" with the reason in *why. */
static const char *
status_of(const struct llm_response *r, const char **why)
{
	*why = NULL;
	if (r->stop == LLM_STOP_MAX_TOKENS)
		*why = "max_output_tokens";
	else if (r->stop == LLM_STOP_CONTENT_FILTER)
		*why = "content_filter";
	return *why != NULL ? "incomplete" : "completed";
}

/* The output item of response part i (NULL for a part no item carries). */
static cJSON *
item_json(const struct gw_stream *st, const struct llm_part *p, size_t i, const char *status)
{
	cJSON *o = cJSON_CreateObject(), *a, *s;
	char id[96];

	switch (p->type) {
	case LLM_PART_TEXT:
		item_id(id, sizeof id, st, "msg", i);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "type", "message");
		cJSON_AddStringToObject(o, "status", status);
		cJSON_AddStringToObject(o, "role", "assistant");
		a = cJSON_AddArrayToObject(o, "content");
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "type", "output_text");
		cJSON_AddStringToObject(s, "text", p->text != NULL ? p->text : "");
		cJSON_AddArrayToObject(s, "annotations");
		cJSON_AddArrayToObject(s, "logprobs");
		cJSON_AddItemToArray(a, s);
		return o;
	case LLM_PART_TOOL_CALL:
		item_id(id, sizeof id, st, "fc", i);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "type", "function_call");
		cJSON_AddStringToObject(o, "status", "completed");
		cJSON_AddStringToObject(o, "call_id", p->id != NULL ? p->id : "");
		cJSON_AddStringToObject(o, "name", p->name != NULL ? p->name : "");
		cJSON_AddStringToObject(o, "arguments",
		    p->arguments != NULL && p->arguments[0] != '\0' ? p->arguments : "{}");
		return o;
	case LLM_PART_THINKING:
	case LLM_PART_REDACTED_THINKING:
	case LLM_PART_REASONING:
		if (p->type == LLM_PART_REASONING && p->id != NULL && p->id[0] != '\0')
			snprintf(id, sizeof id, "%s", p->id);
		else
			item_id(id, sizeof id, st, "rs", i);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "type", "reasoning");
		a = cJSON_AddArrayToObject(o, "summary");
		if (p->type != LLM_PART_REDACTED_THINKING && p->text != NULL &&
		    p->text[0] != '\0') {
			s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "type", "summary_text");
			cJSON_AddStringToObject(s, "text", p->text);
			cJSON_AddItemToArray(a, s);
		}
		if (p->type == LLM_PART_REASONING) {
			/* Only when the provider gave one (include:
			 * reasoning.encrypted_content): an empty one would be refused when
			 * the client sends the item back. */
			if (p->data != NULL && p->data[0] != '\0')
				cJSON_AddStringToObject(o, "encrypted_content", p->data);
		} else if (p->type == LLM_PART_REDACTED_THINKING ||
		    (p->signature != NULL && p->signature[0] != '\0')) {
			/* Thinking with no signature (a Chat Completions provider's
			 * reasoning_content) has nothing an Anthropic provider would take back. */
			char *enc = thinking_encode(p);
			cJSON_AddStringToObject(o, "encrypted_content", enc);
			free(enc);
		}
		return o;
	default: cJSON_Delete(o); return NULL;
	}
}

static void
usage_json(cJSON *o, const struct llm_usage *u)
{
	cJSON *x = cJSON_AddObjectToObject(o, "usage"), *d;

	cJSON_AddNumberToObject(x, "input_tokens", (double)u->input_tokens);
	d = cJSON_AddObjectToObject(x, "input_tokens_details");
	cJSON_AddNumberToObject(d, "cached_tokens", (double)u->cache_read_tokens);
	cJSON_AddNumberToObject(x, "output_tokens", (double)u->output_tokens);
	d = cJSON_AddObjectToObject(x, "output_tokens_details");
	cJSON_AddNumberToObject(d, "reasoning_tokens", (double)u->reasoning_tokens);
	cJSON_AddNumberToObject(x, "total_tokens", (double)(u->input_tokens + u->output_tokens));
}

/*
 * The Response: res NULL is one in progress (no output, no usage); err non-NULL a
 * failed one. The echoed request fields come from the ask.
 */
static cJSON *
response_json(const struct gw_stream *st, const struct router_result *res, const char *err_code,
    const char *err_message)
{
	static const char *const echo_keys[] = {"instructions", "max_output_tokens", "model",
	    "output", "parallel_tool_calls", "previous_response_id", "reasoning", "store",
	    "temperature", "text", "tool_choice", "tools", "top_p", "truncation", "usage", "user",
	    "metadata"};
	cJSON *o = cJSON_CreateObject(), *echo = NULL, *out, *x;
	const char *why = NULL, *status = "in_progress";

	if (st->ask != NULL && st->ask->echo != NULL)
		echo = cJSON_Parse(st->ask->echo);
	if (err_message != NULL)
		status = "failed";
	else if (res != NULL)
		status = status_of(&res->resp, &why);
	cJSON_AddStringToObject(o, "id", st->id != NULL ? st->id : "");
	cJSON_AddStringToObject(o, "object", "response");
	cJSON_AddNumberToObject(o, "created_at", (double)st->created);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddFalseToObject(o, "background");
	if (err_message != NULL) {
		x = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(x, "code", err_code);
		cJSON_AddStringToObject(x, "message", err_message);
	} else {
		cJSON_AddNullToObject(o, "error");
	}
	if (why != NULL)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "incomplete_details"), "reason",
		    why);
	else
		cJSON_AddNullToObject(o, "incomplete_details");
	for (size_t k = 0; k < nitems(echo_keys); k++) {
		const char *key = echo_keys[k];
		const cJSON *v;

		if (strcmp(key, "model") == 0) {
			cJSON_AddStringToObject(o, "model", st->model != NULL ? st->model : "");
		} else if (strcmp(key, "output") == 0) {
			out = cJSON_AddArrayToObject(o, "output");
			for (size_t i = 0; res != NULL && i < res->resp.n_parts; i++) {
				cJSON *it = item_json(st, &res->resp.parts[i], i,
				    why != NULL ? "incomplete" : "completed");
				if (it != NULL)
					cJSON_AddItemToArray(out, it);
			}
		} else if (strcmp(key, "usage") == 0) {
			if (res != NULL)
				usage_json(o, &res->resp.usage);
			else
				cJSON_AddNullToObject(o, "usage");
		} else if ((v = cJSON_GetObjectItemCaseSensitive(echo, key)) != NULL) {
			cJSON_AddItemToObject(o, key, cJSON_Duplicate(v, 1));
		} else {
			cJSON_AddNullToObject(o, key);
		}
	}
	cJSON_Delete(echo);
	return o;
}

char *
gw_responses_answer(const struct router_result *res, const struct gw_stream *st)
{
	cJSON *o = response_json(st, res, NULL, NULL);
	char *s = gw_json_text(o);

	cJSON_Delete(o);
	return s;
}

/* ---- streams ---- */

/* The start of an event: its name and data up to the sequence number. */
static void
event(struct gw_stream *st, struct buf *out, const char *name)
{
	buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%lld", name, name,
	    (long long)st->seq++);
}

static void
json_field(struct buf *out, const char *key, const char *s, size_t len)
{
	buf_printf(out, ",\"%s\":\"", key);
	gw_json_escape(out, s, len);
	buf_puts(out, "\"");
}

/* An event carrying one JSON value under key (takes v). */
static void
event_with(struct gw_stream *st, struct buf *out, const char *name, const char *key, cJSON *v)
{
	char *s = gw_json_text(v);

	cJSON_Delete(v);
	event(st, out, name);
	buf_printf(out, ",\"%s\":%s}\n\n", key, s);
	free(s);
}

/* ,"item_id":...,"output_index":N of the open item. */
static void
item_ref(struct gw_stream *st, struct buf *out)
{
	char id[96];

	item_id(id, sizeof id, st,
	    st->block_kind == LLM_PART_TEXT            ? "msg"
	        : st->block_kind == LLM_PART_TOOL_CALL ? "fc"
	                                               : "rs",
	    st->block_part);
	json_field(out, "item_id", id, strlen(id));
	buf_printf(out, ",\"output_index\":%d", st->block);
}

/* The open item as a part, for item_json (its strings borrowed from the stream). */
static struct llm_part
open_part(struct gw_stream *st)
{
	struct llm_part p;

	memset(&p, 0, sizeof p);
	buf_append(&st->acc, "", 0);
	buf_append(&st->sig, "", 0);
	p.type = (enum llm_part_type)st->block_kind;
	switch (p.type) {
	case LLM_PART_TEXT:
	case LLM_PART_THINKING: p.text = st->acc.data; break;
	case LLM_PART_REDACTED_THINKING: p.data = st->acc.data; break;
	case LLM_PART_TOOL_CALL:
		p.id = st->call_id;
		p.name = st->call_name;
		p.arguments = st->acc.data;
		break;
	case LLM_PART_REASONING:
		p.id = st->item_id;
		p.text = st->acc.data;
		p.data = st->item_id != NULL && st->sig.len > 0 ? st->sig.data : NULL;
		break;
	default: break;
	}
	if (p.type == LLM_PART_THINKING)
		p.signature = st->sig.data;
	return p;
}

static void
summary_part_added(struct gw_stream *st, struct buf *out)
{
	if (st->summary_open)
		return;
	st->summary_open = 1;
	event(st, out, "response.reasoning_summary_part.added");
	item_ref(st, out);
	buf_puts(out,
	    ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}\n\n");
}

/* Close the open item: its .done events, then output_item.done with the whole item. */
static void
item_close(struct gw_stream *st, struct buf *out)
{
	struct llm_part p;

	if (!st->block_open)
		return;
	buf_append(&st->acc, "", 0);
	switch (st->block_kind) {
	case LLM_PART_TEXT:
		event(st, out, "response.output_text.done");
		item_ref(st, out);
		buf_puts(out, ",\"content_index\":0");
		json_field(out, "text", st->acc.data, st->acc.len);
		buf_puts(out, ",\"logprobs\":[]}\n\n");
		event(st, out, "response.content_part.done");
		item_ref(st, out);
		buf_puts(out, ",\"content_index\":0,\"part\":{\"type\":\"output_text\"");
		json_field(out, "text", st->acc.data, st->acc.len);
		buf_puts(out, ",\"annotations\":[],\"logprobs\":[]}}\n\n");
		break;
	case LLM_PART_TOOL_CALL:
		event(st, out, "response.function_call_arguments.done");
		item_ref(st, out);
		json_field(out, "name", st->call_name != NULL ? st->call_name : "",
		    st->call_name != NULL ? strlen(st->call_name) : 0);
		json_field(out, "arguments", st->acc.len > 0 ? st->acc.data : "{}",
		    st->acc.len > 0 ? st->acc.len : 2);
		buf_puts(out, "}\n\n");
		break;
	case LLM_PART_THINKING:
	case LLM_PART_REASONING:
		if (!st->summary_open)
			break;
		event(st, out, "response.reasoning_summary_text.done");
		item_ref(st, out);
		buf_puts(out, ",\"summary_index\":0");
		json_field(out, "text", st->acc.data, st->acc.len);
		buf_puts(out, "}\n\n");
		event(st, out, "response.reasoning_summary_part.done");
		item_ref(st, out);
		buf_puts(out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\"");
		json_field(out, "text", st->acc.data, st->acc.len);
		buf_puts(out, "}}\n\n");
		break;
	default: break;
	}
	p = open_part(st);
	event(st, out, "response.output_item.done");
	buf_printf(out, ",\"output_index\":%d", st->block);
	{
		cJSON *it = item_json(st, &p, st->block_part, "completed");
		char *s = gw_json_text(it);

		cJSON_Delete(it);
		buf_printf(out, ",\"item\":%s}\n\n", s);
		free(s);
	}
	st->block_open = 0;
}

/* Open the item for d's part (closing the one before): output_item.added and, for a
 * message, its content part. */
static void
item_open(struct gw_stream *st, struct buf *out, const struct llm_delta *d, int kind)
{
	cJSON *it;
	struct llm_part p;

	item_close(st, out);
	st->block_open = 1;
	st->block = st->n_blocks++;
	st->block_part = d->part;
	st->block_kind = kind;
	st->summary_open = 0;
	buf_reset(&st->acc);
	buf_reset(&st->sig);
	free(st->item_id);
	free(st->call_id);
	free(st->call_name);
	st->item_id = st->call_id = st->call_name = NULL;
	if (kind == LLM_PART_TOOL_CALL) {
		st->call_id = xstrdup(d->id != NULL ? d->id : "");
		st->call_name = xstrdup(d->name != NULL ? d->name : "");
	} else if (kind == LLM_PART_REASONING && d->id != NULL && *d->id != '\0') {
		st->item_id = xstrdup(d->id); /* the provider's: added and done agree */
	}
	p = open_part(st);
	it = item_json(st, &p, d->part, "in_progress");
	if (kind == LLM_PART_TEXT) {
		cJSON_DeleteItemFromObject(it, "content");
		cJSON_AddArrayToObject(it, "content");
	} else if (kind == LLM_PART_TOOL_CALL) {
		cJSON_ReplaceItemInObject(it, "status", cJSON_CreateString("in_progress"));
		cJSON_ReplaceItemInObject(it, "arguments", cJSON_CreateString(""));
	} else {
		cJSON_DeleteItemFromObject(it, "encrypted_content");
	}
	event(st, out, "response.output_item.added");
	buf_printf(out, ",\"output_index\":%d", st->block);
	{
		char *s = gw_json_text(it);

		cJSON_Delete(it);
		buf_printf(out, ",\"item\":%s}\n\n", s);
		free(s);
	}
	if (kind == LLM_PART_TEXT) {
		event(st, out, "response.content_part.added");
		item_ref(st, out);
		buf_puts(out,
		    ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
		    "\"annotations\":[],\"logprobs\":[]}}\n\n");
	}
}

void
gw_responses_stream_open(struct gw_stream *st, struct buf *out)
{
	event_with(st, out, "response.created", "response", response_json(st, NULL, NULL, NULL));
	event_with(st, out, "response.in_progress", "response",
	    response_json(st, NULL, NULL, NULL));
	st->block_open = 0;
	st->n_blocks = 0;
}

/* Is the open item d's part of kind (a thinking delta may be on a REASONING part)? */
static int
item_is(const struct gw_stream *st, const struct llm_delta *d, int kind)
{
	if (!st->block_open || st->block_part != d->part)
		return 0;
	if (kind == LLM_PART_THINKING)
		return st->block_kind == LLM_PART_THINKING || st->block_kind == LLM_PART_REASONING;
	return st->block_kind == kind;
}

void
gw_responses_stream_typed(struct gw_stream *st, struct buf *out, const struct llm_delta *d)
{
	switch (d->type) {
	case LLM_DELTA_TEXT:
		if (!item_is(st, d, LLM_PART_TEXT))
			item_open(st, out, d, LLM_PART_TEXT);
		buf_append(&st->acc, d->text, d->len);
		event(st, out, "response.output_text.delta");
		item_ref(st, out);
		buf_puts(out, ",\"content_index\":0");
		json_field(out, "delta", d->text, d->len);
		buf_puts(out, ",\"logprobs\":[]}\n\n");
		break;
	case LLM_DELTA_THINKING:
		/* With an id, an OpenAI reasoning item's summary; else thinking text. */
		if (!item_is(st, d, LLM_PART_THINKING))
			item_open(st, out, d,
			    d->id != NULL && *d->id != '\0' ? LLM_PART_REASONING
			                                    : LLM_PART_THINKING);
		summary_part_added(st, out);
		buf_append(&st->acc, d->text, d->len);
		event(st, out, "response.reasoning_summary_text.delta");
		item_ref(st, out);
		buf_puts(out, ",\"summary_index\":0");
		json_field(out, "delta", d->text, d->len);
		buf_puts(out, "}\n\n");
		break;
	case LLM_DELTA_THINKING_SIGNATURE:
		if (!item_is(st, d, LLM_PART_THINKING))
			item_open(st, out, d, LLM_PART_THINKING);
		buf_append(&st->sig, d->text, d->len);
		break;
	case LLM_DELTA_REDACTED_THINKING:
		item_open(st, out, d, LLM_PART_REDACTED_THINKING);
		buf_append(&st->acc, d->text, d->len);
		item_close(st, out);
		break;
	case LLM_DELTA_REASONING_DONE:
		/* An OpenAI reasoning item: its id and encrypted_content, whole; it is done. */
		if (!item_is(st, d, LLM_PART_THINKING))
			item_open(st, out, d, LLM_PART_REASONING);
		st->block_kind = LLM_PART_REASONING;
		free(st->item_id);
		st->item_id = xstrdup(d->id != NULL ? d->id : "");
		buf_reset(&st->sig);
		if (d->text != NULL)
			buf_append(&st->sig, d->text, d->len);
		item_close(st, out);
		break;
	case LLM_DELTA_TOOL_CALL_START: item_open(st, out, d, LLM_PART_TOOL_CALL); break;
	case LLM_DELTA_TOOL_CALL_ARGS:
		if (!item_is(st, d, LLM_PART_TOOL_CALL))
			item_open(st, out, d, LLM_PART_TOOL_CALL);
		buf_append(&st->acc, d->text, d->len);
		event(st, out, "response.function_call_arguments.delta");
		item_ref(st, out);
		json_field(out, "delta", d->text, d->len);
		buf_puts(out, "}\n\n");
		break;
	default: break;
	}
}

void
gw_responses_stream_close(struct gw_stream *st, struct buf *out, const struct router_result *res)
{
	const char *why;

	item_close(st, out);
	event_with(st, out,
	    strcmp(status_of(&res->resp, &why), "incomplete") == 0 ? "response.incomplete"
	                                                           : "response.completed",
	    "response", response_json(st, res, NULL, NULL));
}

/* A failure after the stream opened: response.failed, the error in the response. */
void
gw_responses_stream_error(struct gw_stream *st, struct buf *out, int status, enum llm_errclass cls,
    const char *message)
{
	const char *code = cls == LLM_ERR_BUDGET ? "budget_exceeded"
	    : cls != LLM_OK                      ? llm_errclass_name(cls)
	                                         : "server_error";

	(void)status;
	event_with(st, out, "response.failed", "response", response_json(st, NULL, code, message));
}
