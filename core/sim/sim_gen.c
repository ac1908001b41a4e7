/*
 * sim_gen.c: the simulated model. Reads a generation request of any protocol
 * (messages, tools and tool choice, images, response format, stop sequences,
 * thinking, cache_control) and decides the answer: a deterministic text
 * ("[NAME] You asked: ..."), tool calls with arguments built from the tools'
 * JSON Schemas, a JSON object, and the token counts a provider would report
 * (images, prompt-cache reads and writes, reasoning tokens, Ollama's num_ctx).
 */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *filler[] = {
    "the",
    "router",
    "keeps",
    "every",
    "request",
    "inside",
    "its",
    "deadline",
    "while",
    "providers",
    "answer",
    "with",
    "steady",
    "latency",
    "and",
    "honest",
    "token",
    "counts",
    "so",
    "operators",
    "can",
    "watch",
    "budgets",
    "breakers",
    "and",
    "caches",
    "from",
    "one",
    "calm",
    "screen",
    "without",
    "guessing",
    "what",
    "happens",
    "next",
};

/* Where the request's text stands: the bytes counted as input, and prompt-cache marks. */
struct gen_input {
	struct buf all;  /* tools, system and messages as text: input tokens, cache prefixes */
	size_t marks[8]; /* Anthropic cache_control breakpoints: offsets in all */
	size_t nmarks;
	int mark_1h; /* the last breakpoint asks for a 1-hour cache */
};

long
sim_tokens_of(size_t bytes)
{
	long t = (long)((bytes + 3) / 4);

	return t < 1 ? 1 : t;
}

int
sim_model_reasons(const char *m)
{
	if (m == NULL)
		return 0;
	return strncmp(m, "o1", 2) == 0 || strncmp(m, "o3", 2) == 0 || strncmp(m, "o4", 2) == 0 ||
	    strncmp(m, "gpt-5", 5) == 0 || strstr(m, "reasoning") != NULL ||
	    strstr(m, "magistral") != NULL;
}

static void
hash_bytes(uint64_t *h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
}

/* A block's cache_control mark: remember where the prefix it closes ends. */
static void
input_mark(struct gen_input *in, const cJSON *block)
{
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(block, "cache_control"), *ttl;

	if (!cJSON_IsObject(cc) || in->nmarks == nitems(in->marks))
		return;
	in->marks[in->nmarks++] = in->all.len;
	ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
	in->mark_1h = cJSON_IsString(ttl) && strcmp(ttl->valuestring, "1h") == 0;
}

static void
buf_sep_puts(struct buf *b, const char *s)
{
	if (b->len > 0)
		buf_puts(b, " ");
	buf_puts(b, s);
}

/*
 * Append the text of a content value: a string or an array of parts with "text".
 * With in (the whole input), tool calls, tool results and images count too, and
 * cache_control marks are recorded; without it (the prompt), only text.
 */
static void
content_text(const cJSON *content, struct buf *b, struct gen_input *in)
{
	const cJSON *part, *t, *type;
	char *s;

	if (cJSON_IsString(content)) {
		buf_puts(b, content->valuestring);
		return;
	}
	if (!cJSON_IsArray(content))
		return;
	cJSON_ArrayForEach(part, content)
	{
		t = cJSON_GetObjectItemCaseSensitive(part, "text");
		type = cJSON_GetObjectItemCaseSensitive(part, "type");
		if (cJSON_IsString(t))
			buf_sep_puts(b, t->valuestring);
		else if (in != NULL && cJSON_IsString(type)) {
			if (strcmp(type->valuestring, "tool_result") == 0) {
				struct buf r;

				buf_init(&r);
				content_text(cJSON_GetObjectItemCaseSensitive(part, "content"), &r,
				    NULL);
				buf_sep_puts(b, r.data != NULL ? r.data : "");
				buf_free(&r);
			} else if (strcmp(type->valuestring, "tool_use") == 0) {
				s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(part,
				    "input"));
				buf_sep_puts(b, s != NULL ? s : "{}");
				cJSON_free(s);
			} else if (strcmp(type->valuestring, "thinking") == 0) {
				t = cJSON_GetObjectItemCaseSensitive(part, "thinking");
				if (cJSON_IsString(t))
					buf_sep_puts(b, t->valuestring);
			}
		}
		if (in != NULL && b == &in->all)
			input_mark(in, part);
	}
}

/* Count an image part's tokens (validation already refused bad ones). */
static void
content_images(const cJSON *content, struct gen *g)
{
	const cJSON *part, *type, *src, *data, *url;
	const char *sniffed, *u;
	long tokens;

	cJSON_ArrayForEach(part, content)
	{
		type = cJSON_GetObjectItemCaseSensitive(part, "type");
		if (!cJSON_IsString(type))
			continue;
		data = NULL;
		if (strcmp(type->valuestring, "image") == 0) {
			src = cJSON_GetObjectItemCaseSensitive(part, "source");
			data = cJSON_GetObjectItemCaseSensitive(src, "data");
		} else if (strcmp(type->valuestring, "image_url") == 0 ||
		    strcmp(type->valuestring, "input_image") == 0) {
			/* chat's {"url": ...} or the Responses API's string (or a file_id) */
			url = cJSON_GetObjectItemCaseSensitive(part, "image_url");
			if (cJSON_IsObject(url))
				url = cJSON_GetObjectItemCaseSensitive(url, "url");
			u = cJSON_IsString(url) ? url->valuestring : "";
			if (strncmp(u, "data:", 5) == 0 && strstr(u, ";base64,") != NULL)
				data = url;
		} else if (strcmp(type->valuestring, "tool_result") == 0) {
			content_images(cJSON_GetObjectItemCaseSensitive(part, "content"), g);
			continue;
		} else
			continue;
		tokens = SIM_IMAGE_TOKENS;
		if (cJSON_IsString(data)) {
			const char *d = data->valuestring, *comma = strstr(d, ";base64,");

			if (strncmp(d, "data:", 5) == 0 && comma != NULL)
				d = comma + 8;
			sim_image_check(d, strlen(d), NULL, &sniffed, &tokens);
		}
		g->nimages++;
		g->image_tokens += tokens;
	}
}

/* Ollama's images: base64 strings beside the content. */
static void
native_images(const cJSON *images, struct gen *g)
{
	const cJSON *im;
	const char *sniffed;
	long tokens;

	cJSON_ArrayForEach(im, images)
	{
		tokens = SIM_IMAGE_TOKENS;
		if (cJSON_IsString(im))
			sim_image_check(im->valuestring, strlen(im->valuestring), NULL, &sniffed,
			    &tokens);
		g->nimages++;
		g->image_tokens += tokens;
	}
}

/* Copy the first 60 characters (not bytes) of s, control characters as spaces. */
static void
copy_prompt(char *dst, size_t dstsz, const char *s)
{
	size_t o = 0;
	int chars = 0;

	while (*s != '\0' && o + 5 < dstsz) {
		unsigned char ch = (unsigned char)*s;

		if ((ch & 0xc0) != 0x80) {
			if (chars == 60)
				break;
			chars++;
		}
		dst[o++] = ch < 0x20 ? ' ' : (char)ch;
		s++;
	}
	dst[o] = '\0';
}

/* Is the last message a tool's result (OpenAI role "tool", Anthropic tool_result)? */
static void
gen_tool_result(struct gen *g, const cJSON *m)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content"), *part, *type;
	struct buf b;

	if (!cJSON_IsString(role))
		return;
	buf_init(&b);
	if (strcmp(role->valuestring, "tool") == 0) {
		g->after_tool = 1;
		content_text(content, &b, NULL);
	} else if (strcmp(role->valuestring, "user") == 0 && cJSON_IsArray(content)) {
		cJSON_ArrayForEach(part, content)
		{
			type = cJSON_GetObjectItemCaseSensitive(part, "type");
			if (cJSON_IsString(type) && strcmp(type->valuestring, "tool_result") == 0) {
				g->after_tool = 1;
				content_text(cJSON_GetObjectItemCaseSensitive(part, "content"), &b,
				    NULL);
				break;
			}
		}
	}
	copy_prompt(g->tool_result, sizeof g->tool_result, b.data != NULL ? b.data : "");
	buf_free(&b);
}

/* Read tools (any protocol's shape) into the input and g->tools. The Responses API's
 * function tools are flat ({type, name, parameters}); its built-in tools (web_search...)
 * count as input but are never called (resp set). */
static void
gen_tools(struct gen *g, const cJSON *tools, struct gen_input *in, int resp)
{
	const cJSON *t, *f, *name, *schema, *type;
	char *s;

	if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
		return;
	g->tools = xcalloc((size_t)cJSON_GetArraySize(tools), sizeof *g->tools);
	cJSON_ArrayForEach(t, tools)
	{
		f = cJSON_GetObjectItemCaseSensitive(t, "function");
		if (cJSON_IsObject(f)) {
			name = cJSON_GetObjectItemCaseSensitive(f, "name");
			schema = cJSON_GetObjectItemCaseSensitive(f, "parameters");
		} else {
			name = cJSON_GetObjectItemCaseSensitive(t, "name");
			schema = cJSON_GetObjectItemCaseSensitive(t,
			    resp ? "parameters" : "input_schema");
		}
		type = cJSON_GetObjectItemCaseSensitive(t, "type");
		s = cJSON_PrintUnformatted(t);
		if (s != NULL)
			buf_puts(&in->all, s);
		cJSON_free(s);
		input_mark(in, t);
		if (!cJSON_IsString(name) ||
		    (resp && !(cJSON_IsString(type) && strcmp(type->valuestring, "function") == 0)))
			continue;
		g->tools[g->ntools].name = name->valuestring;
		g->tools[g->ntools].schema = cJSON_IsObject(schema) ? schema : NULL;
		g->ntools++;
	}
}

/* Read messages (and Anthropic's system) into the prompt, the input size and cache marks. */
static void
gen_messages(struct gen *g, const cJSON *messages, const cJSON *system, struct gen_input *in)
{
	const cJSON *m, *role, *content, *last_m = NULL, *calls, *call, *f, *args;
	struct buf last;

	buf_init(&last);
	if (system != NULL)
		content_text(system, &in->all, in);
	cJSON_ArrayForEach(m, messages)
	{
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		content = cJSON_GetObjectItemCaseSensitive(m, "content");
		content_text(content, &in->all, in);
		if (cJSON_IsArray(content))
			content_images(content, g);
		native_images(cJSON_GetObjectItemCaseSensitive(m, "images"), g);
		/* an assistant's tool calls (OpenAI, Ollama) count as input */
		calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
		cJSON_ArrayForEach(call, calls)
		{
			f = cJSON_GetObjectItemCaseSensitive(call, "function");
			args = cJSON_GetObjectItemCaseSensitive(f, "arguments");
			if (cJSON_IsString(args))
				buf_sep_puts(&in->all, args->valuestring);
		}
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) {
			buf_reset(&last);
			content_text(content, &last, NULL);
		}
		last_m = m;
	}
	g->input_bytes = in->all.len;
	copy_prompt(g->prompt, sizeof g->prompt, last.data != NULL ? last.data : "");
	strlcpy_(g->last_user, last.data != NULL ? last.data : "", sizeof g->last_user);
	if (last_m != NULL)
		gen_tool_result(g, last_m);
	buf_free(&last);
}

/* An item's "type", "" if it has none. */
static const char *
item_type(const cJSON *it)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");

	return cJSON_IsString(t) ? t->valuestring : "";
}

/*
 * The Responses API's instructions and input (a string, or items: messages, function
 * calls, their outputs, reasoning) into the prompt, the input size and images, as
 * gen_messages does for chat. After a function_call_output the model answers in text.
 */
static void
gen_items(struct gen *g, const cJSON *input, const cJSON *instructions, struct gen_input *in)
{
	const cJSON *it, *role, *content, *last_it = NULL, *v;
	const char *type;
	struct buf last, out;

	buf_init(&last);
	if (cJSON_IsString(instructions))
		content_text(instructions, &in->all, in);
	if (cJSON_IsString(input)) {
		buf_sep_puts(&in->all, input->valuestring);
		buf_puts(&last, input->valuestring);
	}
	cJSON_ArrayForEach(it, (cJSON_IsArray(input) ? input : NULL))
	{
		type = item_type(it);
		role = cJSON_GetObjectItemCaseSensitive(it, "role");
		content = cJSON_GetObjectItemCaseSensitive(it, "content");
		if (type[0] == '\0' || strcmp(type, "message") == 0) {
			content_text(content, &in->all, in);
			if (cJSON_IsArray(content))
				content_images(content, g);
			if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) {
				buf_reset(&last);
				content_text(content, &last, NULL);
			}
		} else if (strcmp(type, "function_call") == 0) {
			v = cJSON_GetObjectItemCaseSensitive(it, "arguments");
			if (cJSON_IsString(v))
				buf_sep_puts(&in->all, v->valuestring);
		} else if (strcmp(type, "function_call_output") == 0)
			content_text(cJSON_GetObjectItemCaseSensitive(it, "output"), &in->all, in);
		else if (strcmp(type, "reasoning") == 0)
			content_text(cJSON_GetObjectItemCaseSensitive(it, "summary"), &in->all, in);
		last_it = it;
	}
	g->input_bytes = in->all.len;
	copy_prompt(g->prompt, sizeof g->prompt, last.data != NULL ? last.data : "");
	strlcpy_(g->last_user, last.data != NULL ? last.data : "", sizeof g->last_user);
	if (last_it != NULL && strcmp(item_type(last_it), "function_call_output") == 0) {
		buf_init(&out);
		content_text(cJSON_GetObjectItemCaseSensitive(last_it, "output"), &out, NULL);
		g->after_tool = 1;
		copy_prompt(g->tool_result, sizeof g->tool_result,
		    out.data != NULL ? out.data : "");
		buf_free(&out);
	}
	buf_free(&last);
}

/* The number at key, or def; one beyond long's range (converting it is undefined) is clamped. */
static long
json_long(const cJSON *o, const char *key, long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return def;
	if (v->valuedouble >= (double)LONG_MAX)
		return LONG_MAX;
	if (v->valuedouble <= (double)LONG_MIN)
		return LONG_MIN;
	return (long)v->valuedouble;
}

/* tool_choice in OpenAI's (chat's or the Responses API's), Mistral's or Anthropic's form. */
static void
gen_choice(struct gen *g, const cJSON *root, int anth)
{
	const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice"), *type, *name;
	const cJSON *par = cJSON_GetObjectItemCaseSensitive(root, "parallel_tool_calls");

	g->choice = SIM_CHOICE_AUTO;
	g->parallel = !cJSON_IsFalse(par);
	if (cJSON_IsString(tc)) {
		if (strcmp(tc->valuestring, "none") == 0)
			g->choice = SIM_CHOICE_NONE;
		else if (strcmp(tc->valuestring, "required") == 0 ||
		    strcmp(tc->valuestring, "any") == 0)
			g->choice = SIM_CHOICE_ANY;
		return;
	}
	if (!cJSON_IsObject(tc))
		return;
	type = cJSON_GetObjectItemCaseSensitive(tc, "type");
	if (anth) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "disable_parallel_tool_use")))
			g->parallel = 0;
		name = cJSON_GetObjectItemCaseSensitive(tc, "name");
		if (!cJSON_IsString(type))
			return;
		if (strcmp(type->valuestring, "any") == 0)
			g->choice = SIM_CHOICE_ANY;
		else if (strcmp(type->valuestring, "none") == 0)
			g->choice = SIM_CHOICE_NONE;
		else if (strcmp(type->valuestring, "tool") == 0 && cJSON_IsString(name)) {
			g->choice = SIM_CHOICE_NAMED;
			g->choice_name = name->valuestring;
		}
		return;
	}
	name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tc, "function"),
	    "name");
	if (!cJSON_IsString(name) && cJSON_IsString(type) &&
	    strcmp(type->valuestring, "function") == 0) /* Responses: {type, name} */
		name = cJSON_GetObjectItemCaseSensitive(tc, "name");
	if (cJSON_IsString(name)) {
		g->choice = SIM_CHOICE_NAMED;
		g->choice_name = name->valuestring;
	}
}

/* Does text name the tool (as a word: not inside a longer identifier)? */
static int
names_tool(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	if (n == 0)
		return 0;
	while ((p = strstr(p, name)) != NULL) {
		int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
		int after = isalnum((unsigned char)p[n]) || p[n] == '_';

		if (!before && !after)
			return 1;
		p += n;
	}
	return 0;
}

static void
gen_call(const struct sim_call *c, struct gen *g, const struct sim_tool *t)
{
	struct sim_tool_call *k;
	cJSON *args = t->schema != NULL ? sim_schema_example(t->schema) : cJSON_CreateObject();
	char *s = cJSON_PrintUnformatted(args);
	int salt = 40 + (int)g->ncalls;

	g->calls = xreallocarray(g->calls, g->ncalls + 1, sizeof *g->calls);
	k = &g->calls[g->ncalls++];
	memset(k, 0, sizeof *k);
	k->name = t->name;
	k->args = xstrdup(s != NULL ? s : "{}");
	cJSON_free(s);
	cJSON_Delete(args);
	if (c->protocol == SIM_ANTHROPIC)
		sim_wire_make_id(c, salt, "toolu_01", SIM_WIRE_B62, 22, k->id, sizeof k->id);
	else if (c->protocol == SIM_MISTRAL)
		sim_wire_make_id(c, salt, "", SIM_WIRE_B62, 9, k->id, sizeof k->id);
	else if (c->protocol == SIM_OLLAMA)
		sim_wire_make_id(c, salt, "call_", "abcdefghijklmnopqrstuvwxyz0123456789", 8, k->id,
		    sizeof k->id);
	else
		sim_wire_make_id(c, salt, "call_", SIM_WIRE_B62, 24, k->id, sizeof k->id);
}

/* Which tools the model calls, if any. */
static void
gen_decide_calls(const struct sim_call *c, struct gen *g)
{
	size_t i;

	if (g->ntools == 0 || g->choice == SIM_CHOICE_NONE)
		return;
	if (g->choice == SIM_CHOICE_NAMED) {
		for (i = 0; i < g->ntools; i++) {
			if (strcmp(g->tools[i].name, g->choice_name) == 0) {
				gen_call(c, g, &g->tools[i]);
				break;
			}
		}
		return;
	}
	if (g->choice == SIM_CHOICE_AUTO && g->after_tool)
		return;
	for (i = 0; i < g->ntools && (g->parallel || g->ncalls == 0); i++)
		if (names_tool(g->last_user, g->tools[i].name))
			gen_call(c, g, &g->tools[i]);
	if (g->ncalls == 0 && g->choice == SIM_CHOICE_ANY)
		gen_call(c, g, &g->tools[0]);
}

/* response_format (OpenAI, Azure, Mistral), text.format (the Responses API),
 * output_config.format (Anthropic) or format (Ollama's /api/chat). */
static void
gen_format(const struct sim_call *c, struct gen *g, const cJSON *root)
{
	const cJSON *f, *type, *js;
	int flat = c->protocol == SIM_ANTHROPIC || c->ep == SIM_EP_RESPONSES;

	if (c->ep == SIM_EP_OLLAMA_CHAT) {
		f = cJSON_GetObjectItemCaseSensitive(root, "format");
		if (cJSON_IsString(f) && strcmp(f->valuestring, "json") == 0)
			g->json_object = 1;
		else if (cJSON_IsObject(f))
			g->json_schema = f;
		return;
	}
	if (c->protocol == SIM_ANTHROPIC)
		f = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root,
		                                         "output_config"),
		    "format");
	else if (c->ep == SIM_EP_RESPONSES)
		f = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "text"),
		    "format");
	else
		f = cJSON_GetObjectItemCaseSensitive(root, "response_format");
	type = cJSON_GetObjectItemCaseSensitive(f, "type");
	if (!cJSON_IsString(type))
		return;
	if (strcmp(type->valuestring, "json_object") == 0)
		g->json_object = 1;
	else if (strcmp(type->valuestring, "json_schema") == 0) {
		/* the schema is beside the type in the flat forms, under json_schema in chat's */
		js = flat ? f : cJSON_GetObjectItemCaseSensitive(f, "json_schema");
		js = cJSON_GetObjectItemCaseSensitive(js, "schema");
		g->json_schema = cJSON_IsObject(js) ? js : NULL;
		if (g->json_schema == NULL)
			g->json_object = 1;
	}
}

/* stop (OpenAI, Mistral), stop_sequences (Anthropic), options.stop (Ollama). */
static void
gen_stops(struct gen *g, const cJSON *root, int anth, int native)
{
	const cJSON *s, *e;

	if (anth)
		s = cJSON_GetObjectItemCaseSensitive(root, "stop_sequences");
	else if (native)
		s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root,
		                                         "options"),
		    "stop");
	else
		s = cJSON_GetObjectItemCaseSensitive(root, "stop");
	if (cJSON_IsString(s) && s->valuestring[0] != '\0') {
		g->stops[g->nstops++] = s->valuestring;
		return;
	}
	cJSON_ArrayForEach(e, s)
	{
		if (cJSON_IsString(e) && e->valuestring[0] != '\0' && g->nstops < nitems(g->stops))
			g->stops[g->nstops++] = e->valuestring;
	}
}

/* Reasoning: Anthropic's thinking, Magistral's thinking chunks, other reasoning models'
 * hidden tokens by effort (chat's reasoning_effort, the Responses API's reasoning.effort;
 * there a reasoning object makes any model reason). */
static void
gen_reasoning(struct gen *g, const cJSON *root, int anth, int mistral, int resp)
{
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "thinking"), *type, *eff;
	const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "reasoning");

	if (anth) {
		type = cJSON_GetObjectItemCaseSensitive(th, "type");
		g->thinking = cJSON_IsString(type) && strcmp(type->valuestring, "enabled") == 0;
		return;
	}
	if (!sim_model_reasons(g->model) && !(resp && cJSON_IsObject(ro)))
		return;
	if (mistral) { /* Magistral shows its thinking as a content chunk */
		g->thinking = 1;
		return;
	}
	g->reasoning = 1;
	g->reasoning_tokens = 64;
	eff = resp ? cJSON_GetObjectItemCaseSensitive(ro, "effort")
	           : cJSON_GetObjectItemCaseSensitive(root, "reasoning_effort");
	if (cJSON_IsString(eff)) {
		if (strcmp(eff->valuestring, "none") == 0)
			g->reasoning_tokens = 0;
		else if (strcmp(eff->valuestring, "minimal") == 0)
			g->reasoning_tokens = 8;
		else if (strcmp(eff->valuestring, "low") == 0)
			g->reasoning_tokens = 32;
		else if (strcmp(eff->valuestring, "high") == 0)
			g->reasoning_tokens = 128;
	}
}

/*
 * Prompt caching. Anthropic: each cache_control breakpoint closes a prefix; the
 * longest one seen before is read, the rest up to the last breakpoint written.
 * OpenAI and Azure: automatic, on prefixes of 1024 tokens and then every 128.
 * Prefixes shorter than the minimum are never cached (no error, like the APIs).
 */
static void
gen_cache(const struct sim_call *c, struct gen *g, const struct gen_input *in)
{
	uint64_t h = 0xcbf29ce484222325ULL, at[8];
	long min = strstr(g->model, "haiku") != NULL ? 2048 : SIM_CACHE_MIN_TOKENS, t;
	size_t from = 0, best = 0, i;
	int hit = -1;

	if (c->cache == NULL)
		return;
	hash_bytes(&h, sim_protocol_name(c->protocol), strlen(sim_protocol_name(c->protocol)));
	hash_bytes(&h, g->model, strlen(g->model) + 1);
	if (c->protocol == SIM_ANTHROPIC) {
		if (in->nmarks == 0 || sim_tokens_of(in->marks[in->nmarks - 1]) < min)
			return;
		for (i = 0; i < in->nmarks; i++) {
			hash_bytes(&h, in->all.data + from, in->marks[i] - from);
			from = in->marks[i];
			at[i] = h;
		}
		for (i = in->nmarks; i-- > 0;) {
			if (sim_tokens_of(in->marks[i]) >= min &&
			    sim_cache_seen(c->cache, at[i], 0)) {
				hit = (int)i;
				break;
			}
		}
		for (i = 0; i < in->nmarks; i++)
			if (sim_tokens_of(in->marks[i]) >= min)
				sim_cache_seen(c->cache, at[i], 1);
		if (hit >= 0)
			g->cache_read = sim_tokens_of(in->marks[hit]);
		t = sim_tokens_of(in->marks[in->nmarks - 1]) - g->cache_read;
		if (t > 0) {
			if (in->mark_1h)
				g->cache_write_1h = t;
			else
				g->cache_write = t;
		}
		return;
	}
	if (c->protocol != SIM_OPENAI && c->protocol != SIM_AZURE)
		return;
	for (long l = SIM_CACHE_MIN_TOKENS; (size_t)l * 4 <= in->all.len; l += 128) {
		hash_bytes(&h, in->all.data + from, (size_t)l * 4 - from);
		from = (size_t)l * 4;
		if (sim_cache_seen(c->cache, h, 1))
			best = (size_t)l;
	}
	g->cache_read = (long)best;
}

/* The deterministic filler after a head; h seeds the words. */
static void
gen_filler(struct buf *b, uint64_t h)
{
	for (int i = 0; i < 28; i++)
		buf_printf(b, " %s", filler[sim_wire_mix64(&h) % nitems(filler)]);
	buf_puts(b, ".");
}

/* Cut text to max tokens at a character boundary; 1 if it was cut. */
static int
cut_to(struct buf *b, long max)
{
	size_t limit;

	if (max < 0 || sim_tokens_of(b->len) <= max)
		return 0;
	limit = (size_t)max * 4;
	if (limit > b->len)
		limit = b->len;
	while (limit > 0 && ((unsigned char)b->data[limit] & 0xc0) == 0x80)
		limit--;
	b->len = limit;
	b->data[limit] = '\0';
	return 1;
}

/* The answer's text: plain, after a tool's result, or JSON. */
static void
gen_text(const struct sim_call *c, struct gen *g, struct buf *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	cJSON *j;
	char *s;

	for (const char *p = g->after_tool ? g->tool_result : g->prompt; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (const char *p = c->name; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	if (g->after_tool)
		buf_printf(b, "[%s] The tool returned: %s. Here is a simulated answer:", c->name,
		    g->tool_result);
	else
		buf_printf(b, "[%s] You asked: %s. Here is a simulated answer:", c->name,
		    g->prompt);
	gen_filler(b, h);
	if (!g->json_object && g->json_schema == NULL)
		return;
	if (g->json_schema != NULL)
		j = sim_schema_example(g->json_schema);
	else {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "answer", b->data);
	}
	s = cJSON_PrintUnformatted(j);
	buf_reset(b);
	buf_puts(b, s != NULL ? s : "{}");
	cJSON_free(s);
	cJSON_Delete(j);
}

/* The answer for a request that parsed and passed validation. */
static void
gen_answer(const struct sim_call *c, struct gen *g)
{
	struct buf b;
	long budget = g->max_tokens, think = 0;
	char *stop;

	buf_init(&b);
	if (g->thinking) {
		struct buf t;

		buf_init(&t);
		buf_printf(&t, "The user asks: %s. I will answer briefly and check the facts.",
		    g->prompt);
		g->thinking_text = buf_detach(&t);
		think = sim_tokens_of(strlen(g->thinking_text));
		sim_wire_make_id(c, 8, "Eq", SIM_WIRE_B62, 94, g->signature, sizeof g->signature);
	}
	if (g->reasoning) {
		think = g->reasoning_tokens;
		if (budget > 0 && think > budget)
			think = g->reasoning_tokens = budget;
	}
	if (budget > 0)
		budget = budget - think > 0 ? budget - think : 0;
	if (g->ncalls > 0) {
		for (size_t i = 0; i < g->ncalls; i++)
			b.len += strlen(g->calls[i].name) + strlen(g->calls[i].args);
		g->out_tokens = sim_tokens_of(b.len) + think;
		buf_reset(&b);
		buf_puts(&b, "");
		g->text = buf_detach(&b);
		g->in_tokens = sim_tokens_of(g->input_bytes) + g->image_tokens;
		return;
	}
	gen_text(c, g, &b);
	if (!g->json_object && g->json_schema == NULL) {
		for (size_t i = 0; i < g->nstops; i++) {
			stop = strstr(b.data, g->stops[i]);
			if (stop != NULL) { /* later ones search what is left: the first wins */
				b.len = (size_t)(stop - b.data);
				b.data[b.len] = '\0';
				g->stopped = g->stops[i];
			}
		}
	}
	if (g->max_tokens > 0 && budget == 0) {
		/* the reasoning took every token: nothing left to say */
		g->cut = 1;
		b.len = 0;
		b.data[0] = '\0';
	} else
		g->cut = cut_to(&b, budget > 0 ? budget : -1);
	if (g->cut)
		g->stopped = NULL;
	g->text = buf_detach(&b);
	g->out_tokens = g->text[0] != '\0' ? sim_tokens_of(strlen(g->text)) : 0;
	if (budget > 0 && g->out_tokens > budget)
		g->out_tokens = budget;
	if (g->text[0] == '\0' && think == 0)
		g->out_tokens = 1;
	g->out_tokens += think;
	g->in_tokens = sim_tokens_of(g->input_bytes) + g->image_tokens;
}

int
sim_gen_read(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	const cJSON *root, *model, *v, *opts;
	int native = c->ep == SIM_EP_OLLAMA_CHAT, anth = c->protocol == SIM_ANTHROPIC;
	int resp = c->ep == SIM_EP_RESPONSES;
	struct gen_input in;

	memset(g, 0, sizeof *g);
	g->max_tokens = -1;
	g->root = cJSON_ParseWithLength(c->body != NULL ? c->body : "", c->body_len);
	root = g->root;
	if (sim_wire_check_request(c, root, r) != 0)
		return -1;
	model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (c->deployment != NULL)
		g->model = c->deployment;
	else if (cJSON_IsString(model) && *model->valuestring != '\0')
		g->model = model->valuestring;
	else
		g->model = c->model;
	v = cJSON_GetObjectItemCaseSensitive(root, "stream");
	g->stream = native ? !cJSON_IsFalse(v) : cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	g->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));
	opts = cJSON_GetObjectItemCaseSensitive(root, "options");
	if (native)
		g->max_tokens = json_long(opts, "num_predict", -1);
	else if (resp)
		g->max_tokens = json_long(root, "max_output_tokens", -1);
	else {
		g->max_tokens = json_long(root, "max_completion_tokens", -1);
		if (g->max_tokens < 0)
			g->max_tokens = json_long(root, "max_tokens", -1);
	}
	memset(&in, 0, sizeof in);
	buf_init(&in.all);
	gen_tools(g, cJSON_GetObjectItemCaseSensitive(root, "tools"), &in, resp);
	if (resp)
		gen_items(g, cJSON_GetObjectItemCaseSensitive(root, "input"),
		    cJSON_GetObjectItemCaseSensitive(root, "instructions"), &in);
	else
		gen_messages(g, cJSON_GetObjectItemCaseSensitive(root, "messages"),
		    anth ? cJSON_GetObjectItemCaseSensitive(root, "system") : NULL, &in);
	gen_choice(g, root, anth);
	gen_format(c, g, root);
	if (!resp) /* the Responses API has no stop sequences */
		gen_stops(g, root, anth, native);
	gen_reasoning(g, root, anth, c->protocol == SIM_MISTRAL, resp);
	gen_cache(c, g, &in);
	buf_free(&in.all);
	g->created = (int64_t)time(NULL);
	gen_decide_calls(c, g);
	gen_answer(c, g);
	if (anth) /* input_tokens leaves out what the cache read or wrote */
		g->in_tokens -= g->cache_read + g->cache_write + g->cache_write_1h;
	if (g->in_tokens < 1)
		g->in_tokens = 1;
	if (c->protocol == SIM_OLLAMA) {
		long ctx = json_long(opts, "num_ctx", SIM_OLLAMA_NUM_CTX);

		if (ctx > 0 && g->in_tokens > ctx) {
			g->in_tokens = ctx;
			g->num_ctx = ctx;
		}
	}
	return 0;
}

void
sim_gen_free(struct gen *g)
{
	cJSON_Delete(g->root);
	free(g->text);
	free(g->thinking_text);
	for (size_t i = 0; i < g->ncalls; i++)
		free(g->calls[i].args);
	free(g->calls);
	free(g->tools);
}
