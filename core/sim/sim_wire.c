/* sim_wire.c: what the simulated providers say when they answer: bodies, headers, streams.
 * Refusals (errors of every kind) are sim_wire_error.c. */
#include "sim/sim_gen.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
sim_reply_free(struct sim_reply *r)
{
	for (size_t i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	free(r->hdr);
	free(r->body);
	for (size_t i = 0; i < r->nchunks; i++)
		free(r->chunks[i].data);
	free(r->chunks);
	memset(r, 0, sizeof *r);
}

void
sim_reply_header(struct sim_reply *r, const char *name, const char *value)
{
	r->hdr = xreallocarray(r->hdr, r->nhdr + 1, sizeof *r->hdr);
	r->hdr[r->nhdr].name = xstrdup(name);
	r->hdr[r->nhdr].value = xstrdup(value);
	r->nhdr++;
}

void
sim_reply_chunk(struct sim_reply *r, int delta, const char *fmt, ...)
{
	va_list ap;
	struct sim_chunk *c;

	r->chunks = xreallocarray(r->chunks, r->nchunks + 1, sizeof *r->chunks);
	c = &r->chunks[r->nchunks++];
	va_start(ap, fmt);
	c->data = xvasprintf(fmt, ap);
	va_end(ap);
	c->len = strlen(c->data);
	c->delta = delta;
	if (delta)
		r->ndeltas++;
}

/* j printed unformatted, in our allocator's memory. */
static char *
json_print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	char *out;

	if (s == NULL)
		fatal("cJSON_PrintUnformatted failed");
	out = xstrdup(s);
	cJSON_free(s);
	return out;
}

void
sim_wire_reply_json(struct sim_reply *r, int status, cJSON *j)
{
	r->status = status;
	free(r->body);
	r->body = json_print(j);
	r->len = strlen(r->body);
	cJSON_Delete(j);
}

void
sim_wire_chunk_json(struct sim_reply *r, int delta, const char *before, cJSON *j, const char *after)
{
	char *s = json_print(j);

	sim_reply_chunk(r, delta, "%s%s%s", before, s, after);
	free(s);
	cJSON_Delete(j);
}

uint64_t
sim_wire_mix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
sim_wire_make_id(const struct sim_call *c, int salt, const char *prefix, const char *alphabet,
    size_t n, char *out, size_t outsz)
{
	uint64_t x = c->idseed ^ ((uint64_t)salt * 0x100000001b3ULL);
	size_t al = strlen(alphabet), p;

	p = strlcpy_(out, prefix, outsz);
	for (size_t i = 0; i < n && p + 1 < outsz; i++)
		out[p++] = alphabet[sim_wire_mix64(&x) % al];
	out[p < outsz ? p : outsz - 1] = '\0';
}

const char SIM_WIRE_B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const char SIM_WIRE_HEX[] = "0123456789abcdef";

static void
make_uuid(const struct sim_call *c, int salt, char *out, size_t outsz)
{
	char h[33];

	sim_wire_make_id(c, salt, "", SIM_WIRE_HEX, 32, h, sizeof h);
	snprintf(out, outsz, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

static void
rfc3339(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t
sim_wire_next_token(const char *s, size_t at, size_t len)
{
	size_t e = at;

	while (e < len && s[e] == ' ')
		e++;
	while (e < len && s[e] != ' ')
		e++;
	return e;
}

size_t
sim_wire_next_piece(const char *s, size_t at, size_t len)
{
	size_t e = at + 12 < len ? at + 12 : len;

	while (e < len && ((unsigned char)s[e] & 0xc0) == 0x80)
		e++;
	return e;
}

/* ---- headers ---- */

void
sim_wire_common_headers(const struct sim_call *c, struct sim_reply *r)
{
	char v[128], id[64];
	long rem = 4000 - 1 - (long)(c->reqno % 4000);

	switch (c->protocol) {
	case SIM_ANTHROPIC:
		sim_wire_make_id(c, 1, "req_011C", SIM_WIRE_B62, 20, id, sizeof id);
		sim_reply_header(r, "request-id", id);
		sim_reply_header(r, "anthropic-organization-id",
		    "5576611f-a1ee-427c-9800-298d9579899c");
		rfc3339(time(NULL) + 60, v, sizeof v);
		sim_reply_header(r, "anthropic-ratelimit-requests-limit", "4000");
		snprintf(id, sizeof id, "%ld", rem);
		sim_reply_header(r, "anthropic-ratelimit-requests-remaining", id);
		sim_reply_header(r, "anthropic-ratelimit-requests-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-tokens-limit", "400000");
		sim_reply_header(r, "anthropic-ratelimit-tokens-remaining", "399000");
		sim_reply_header(r, "anthropic-ratelimit-tokens-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-limit", "400000");
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-remaining", "399000");
		sim_reply_header(r, "anthropic-ratelimit-input-tokens-reset", v);
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-limit", "80000");
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-remaining", "80000");
		sim_reply_header(r, "anthropic-ratelimit-output-tokens-reset", v);
		break;
	case SIM_OPENAI:
		sim_wire_make_id(c, 1, "req_", SIM_WIRE_HEX, 32, id, sizeof id);
		sim_reply_header(r, "x-request-id", id);
		sim_reply_header(r, "openai-organization", "user-llmdeck-sim");
		sim_reply_header(r, "openai-processing-ms", "1");
		sim_reply_header(r, "openai-version", "2020-10-01");
		sim_reply_header(r, "x-ratelimit-limit-requests", "4000");
		sim_reply_header(r, "x-ratelimit-limit-tokens", "4000000");
		snprintf(v, sizeof v, "%ld", rem);
		sim_reply_header(r, "x-ratelimit-remaining-requests", v);
		sim_reply_header(r, "x-ratelimit-remaining-tokens", "3999000");
		sim_reply_header(r, "x-ratelimit-reset-requests", "15ms");
		sim_reply_header(r, "x-ratelimit-reset-tokens", "0s");
		break;
	case SIM_AZURE:
		make_uuid(c, 1, id, sizeof id);
		sim_reply_header(r, "apim-request-id", id);
		sim_reply_header(r, "x-request-id", id);
		sim_reply_header(r, "x-ms-region", "Sim Central");
		sim_reply_header(r, "x-ratelimit-limit-requests", "1000");
		sim_reply_header(r, "x-ratelimit-limit-tokens", "1000000");
		snprintf(v, sizeof v, "%ld", rem % 1000);
		sim_reply_header(r, "x-ratelimit-remaining-requests", v);
		sim_reply_header(r, "x-ratelimit-remaining-tokens", "999000");
		sim_reply_header(r, "x-ratelimit-reset-requests", "60s");
		sim_reply_header(r, "x-ratelimit-reset-tokens", "60s");
		break;
	case SIM_MISTRAL:
		make_uuid(c, 1, id, sizeof id);
		sim_reply_header(r, "mistral-correlation-id", id);
		sim_wire_make_id(c, 2, "", SIM_WIRE_HEX, 32, id, sizeof id);
		sim_reply_header(r, "x-kong-request-id", id);
		sim_reply_header(r, "ratelimitbysize-limit", "500000");
		sim_reply_header(r, "ratelimitbysize-remaining", "499000");
		sim_reply_header(r, "ratelimitbysize-reset", "60");
		sim_reply_header(r, "x-ratelimitbysize-limit-minute", "500000");
		sim_reply_header(r, "x-ratelimitbysize-remaining-minute", "499000");
		break;
	case SIM_OLLAMA: break;
	}
}

void
sim_wire_content_type_json(const struct sim_call *c, struct sim_reply *r)
{
	if (c->protocol == SIM_OLLAMA && c->ep != SIM_EP_CHAT && c->ep != SIM_EP_EMBEDDINGS)
		sim_reply_header(r, "content-type", "application/json; charset=utf-8");
	else
		sim_reply_header(r, "content-type", "application/json");
}

/* ---- anthropic ---- */

static cJSON *
anth_usage(const struct gen *g, int with_output)
{
	cJSON *u = cJSON_CreateObject(), *cc;

	cJSON_AddNumberToObject(u, "input_tokens", (double)g->in_tokens);
	cJSON_AddNumberToObject(u, "cache_creation_input_tokens",
	    (double)(g->cache_write + g->cache_write_1h));
	cJSON_AddNumberToObject(u, "cache_read_input_tokens", (double)g->cache_read);
	cc = cJSON_AddObjectToObject(u, "cache_creation");
	cJSON_AddNumberToObject(cc, "ephemeral_5m_input_tokens", (double)g->cache_write);
	cJSON_AddNumberToObject(cc, "ephemeral_1h_input_tokens", (double)g->cache_write_1h);
	cJSON_AddNumberToObject(u, "output_tokens", with_output ? (double)g->out_tokens : 1);
	cJSON_AddStringToObject(u, "service_tier", "standard");
	return u;
}

/* A block's deltas: text split into words, JSON into pieces of about 12 bytes. */
static void
anth_deltas(struct sim_reply *r, int index, const char *type, const char *field, const char *text,
    int words)
{
	size_t len = strlen(text), at, e;
	cJSON *j, *d;
	char *s;

	for (at = 0; at < len; at = e) {
		if (words)
			e = sim_wire_next_token(text, at, len);
		else
			e = sim_wire_next_piece(text, at, len);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "type", "content_block_delta");
		cJSON_AddNumberToObject(j, "index", index);
		d = cJSON_AddObjectToObject(j, "delta");
		cJSON_AddStringToObject(d, "type", type);
		s = xstrndup(text + at, e - at);
		cJSON_AddStringToObject(d, field, s);
		free(s);
		sim_wire_chunk_json(r, 1, "event: content_block_delta\ndata: ", j, "\n\n");
	}
}

static void
anth_block_stop(struct sim_reply *r, int index)
{
	sim_reply_chunk(r, 0,
	    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
	    "\"index\":%d}\n\n",
	    index);
}

/* The content blocks of a whole message: thinking, text, tool_use. */
static cJSON *
anth_content(const struct gen *g)
{
	cJSON *content = cJSON_CreateArray(), *block, *in;

	if (g->thinking) {
		block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "thinking");
		cJSON_AddStringToObject(block, "thinking", g->thinking_text);
		cJSON_AddStringToObject(block, "signature", g->signature);
		cJSON_AddItemToArray(content, block);
	}
	if (g->ncalls == 0) {
		block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "text");
		cJSON_AddStringToObject(block, "text", g->text);
		cJSON_AddItemToArray(content, block);
	}
	for (size_t i = 0; i < g->ncalls; i++) {
		block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "tool_use");
		cJSON_AddStringToObject(block, "id", g->calls[i].id);
		cJSON_AddStringToObject(block, "name", g->calls[i].name);
		in = cJSON_Parse(g->calls[i].args);
		cJSON_AddItemToObject(block, "input", in != NULL ? in : cJSON_CreateObject());
		cJSON_AddItemToArray(content, block);
	}
	return content;
}

/* A whole (not streamed) Messages answer. */
static void
anth_answer_whole(const struct sim_call *c, struct gen *g, const char *stop, struct sim_reply *r)
{
	cJSON *j;

	sim_wire_content_type_json(c, r);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "model", g->model);
	cJSON_AddStringToObject(j, "id", g->id);
	cJSON_AddStringToObject(j, "type", "message");
	cJSON_AddStringToObject(j, "role", "assistant");
	cJSON_AddItemToObject(j, "content", anth_content(g));
	cJSON_AddStringToObject(j, "stop_reason", stop);
	if (g->stopped != NULL && !g->cut)
		cJSON_AddStringToObject(j, "stop_sequence", g->stopped);
	else
		cJSON_AddNullToObject(j, "stop_sequence");
	cJSON_AddItemToObject(j, "usage", anth_usage(g, 1));
	sim_wire_reply_json(r, 200, j);
}

/* The thinking block of a stream, at index: start, ping, deltas, signature, stop. */
static void
anth_stream_thinking(struct gen *g, int index, struct sim_reply *r)
{
	cJSON *j, *d;

	sim_reply_chunk(r, 0,
	    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
	    "\"index\":%d,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\","
	    "\"signature\":\"\"}}\n\n",
	    index);
	sim_reply_chunk(r, 0, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
	anth_deltas(r, index, "thinking_delta", "thinking", g->thinking_text, 1);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "content_block_delta");
	cJSON_AddNumberToObject(j, "index", index);
	d = cJSON_AddObjectToObject(j, "delta");
	cJSON_AddStringToObject(d, "type", "signature_delta");
	cJSON_AddStringToObject(d, "signature", g->signature);
	sim_wire_chunk_json(r, 0, "event: content_block_delta\ndata: ", j, "\n\n");
	anth_block_stop(r, index);
}

/* Tool call i of a stream as the tool_use block at index. */
static void
anth_stream_tool_use(struct gen *g, size_t i, int index, struct sim_reply *r)
{
	cJSON *j, *cb;

	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "content_block_start");
	cJSON_AddNumberToObject(j, "index", index);
	cb = cJSON_AddObjectToObject(j, "content_block");
	cJSON_AddStringToObject(cb, "type", "tool_use");
	cJSON_AddStringToObject(cb, "id", g->calls[i].id);
	cJSON_AddStringToObject(cb, "name", g->calls[i].name);
	cJSON_AddObjectToObject(cb, "input");
	sim_wire_chunk_json(r, 0, "event: content_block_start\ndata: ", j, "\n\n");
	if (index == 0)
		sim_reply_chunk(r, 0, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
	/* the API opens with an empty partial_json, then the arguments in pieces */
	sim_reply_chunk(r, 0,
	    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	    "\"index\":%d,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}"
	    "\n\n",
	    index);
	anth_deltas(r, index, "input_json_delta", "partial_json", g->calls[i].args, 0);
	anth_block_stop(r, index);
}

/* A stream's end: message_delta with the stop reason and usage, then message_stop. */
static void
anth_stream_end(struct gen *g, const char *stop, struct sim_reply *r)
{
	cJSON *j, *d, *u;

	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "message_delta");
	d = cJSON_AddObjectToObject(j, "delta");
	cJSON_AddStringToObject(d, "stop_reason", stop);
	if (g->stopped != NULL && !g->cut)
		cJSON_AddStringToObject(d, "stop_sequence", g->stopped);
	else
		cJSON_AddNullToObject(d, "stop_sequence");
	u = cJSON_AddObjectToObject(j, "usage");
	cJSON_AddNumberToObject(u, "input_tokens", (double)g->in_tokens);
	cJSON_AddNumberToObject(u, "cache_creation_input_tokens",
	    (double)(g->cache_write + g->cache_write_1h));
	cJSON_AddNumberToObject(u, "cache_read_input_tokens", (double)g->cache_read);
	cJSON_AddNumberToObject(u, "output_tokens", (double)g->out_tokens);
	sim_wire_chunk_json(r, 0, "event: message_delta\ndata: ", j, "\n\n");
	sim_reply_chunk(r, 0, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void
anth_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j, *m;
	const char *stop = g->cut ? "max_tokens"
	    : g->ncalls > 0       ? "tool_use"
	    : g->stopped != NULL  ? "stop_sequence"
	                          : "end_turn";
	int index = 0;

	sim_wire_make_id(c, 3, "msg_01", SIM_WIRE_B62, 22, g->id, sizeof g->id);
	r->status = 200;
	sim_wire_common_headers(c, r);
	if (!g->stream) {
		anth_answer_whole(c, g, stop, r);
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type", "text/event-stream; charset=utf-8");
	sim_reply_header(r, "cache-control", "no-cache");
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "message_start");
	m = cJSON_AddObjectToObject(j, "message");
	cJSON_AddStringToObject(m, "model", g->model);
	cJSON_AddStringToObject(m, "id", g->id);
	cJSON_AddStringToObject(m, "type", "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddArrayToObject(m, "content");
	cJSON_AddNullToObject(m, "stop_reason");
	cJSON_AddNullToObject(m, "stop_sequence");
	cJSON_AddItemToObject(m, "usage", anth_usage(g, 0));
	sim_wire_chunk_json(r, 0, "event: message_start\ndata: ", j, "\n\n");
	if (g->thinking)
		anth_stream_thinking(g, index++, r);
	if (g->ncalls == 0) {
		sim_reply_chunk(r, 0,
		    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
		    "\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		    index);
		if (index == 0)
			sim_reply_chunk(r, 0, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
		anth_deltas(r, index, "text_delta", "text", g->text, 1);
		anth_block_stop(r, index++);
	}
	for (size_t i = 0; i < g->ncalls; i++, index++)
		anth_stream_tool_use(g, i, index, r);
	anth_stream_end(g, stop, r);
}

/* ---- openai, azure, mistral, ollama's /v1 ---- */

static cJSON *
oai_usage(const struct sim_call *c, const struct gen *g)
{
	cJSON *u = cJSON_CreateObject(), *d;

	cJSON_AddNumberToObject(u, "prompt_tokens", (double)g->in_tokens);
	if (c->protocol == SIM_MISTRAL) {
		cJSON_AddNumberToObject(u, "total_tokens", (double)(g->in_tokens + g->out_tokens));
		cJSON_AddNumberToObject(u, "completion_tokens", (double)g->out_tokens);
		return u;
	}
	cJSON_AddNumberToObject(u, "completion_tokens", (double)g->out_tokens);
	cJSON_AddNumberToObject(u, "total_tokens", (double)(g->in_tokens + g->out_tokens));
	if (c->protocol == SIM_OLLAMA)
		return u;
	d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
	cJSON_AddNumberToObject(d, "cached_tokens", (double)g->cache_read);
	cJSON_AddNumberToObject(d, "audio_tokens", 0);
	d = cJSON_AddObjectToObject(u, "completion_tokens_details");
	cJSON_AddNumberToObject(d, "reasoning_tokens", (double)g->reasoning_tokens);
	cJSON_AddNumberToObject(d, "audio_tokens", 0);
	cJSON_AddNumberToObject(d, "accepted_prediction_tokens", 0);
	cJSON_AddNumberToObject(d, "rejected_prediction_tokens", 0);
	return u;
}

static cJSON *
azure_filters(int prompt)
{
	static const char *cats[] = {"hate", "self_harm", "sexual", "violence"};
	cJSON *f = cJSON_CreateObject(), *x;

	for (size_t i = 0; i < nitems(cats); i++) {
		x = cJSON_AddObjectToObject(f, cats[i]);
		cJSON_AddFalseToObject(x, "filtered");
		cJSON_AddStringToObject(x, "severity", "safe");
	}
	if (prompt) {
		x = cJSON_AddObjectToObject(f, "jailbreak");
		cJSON_AddFalseToObject(x, "filtered");
		cJSON_AddFalseToObject(x, "detected");
	}
	return f;
}

static cJSON *
azure_prompt_filter_results(void)
{
	cJSON *a = cJSON_CreateArray(), *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "prompt_index", 0);
	cJSON_AddItemToObject(p, "content_filter_results", azure_filters(1));
	cJSON_AddItemToArray(a, p);
	return a;
}

/* The head of a chat.completion(.chunk) object. */
static cJSON *
oai_head(const struct sim_call *c, const struct gen *g, const char *object)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "id", g->id);
	cJSON_AddStringToObject(j, "object", object);
	cJSON_AddNumberToObject(j, "created", (double)g->created);
	cJSON_AddStringToObject(j, "model", g->model);
	if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE)
		cJSON_AddStringToObject(j, "system_fingerprint", "fp_5050236cbd");
	else if (c->protocol == SIM_OLLAMA)
		cJSON_AddStringToObject(j, "system_fingerprint", "fp_ollama");
	return j;
}

/* One stream chunk: delta text (NULL for none), role, finish reason. */
static void
oai_chunk_calls(const struct sim_call *c, const struct gen *g, struct sim_reply *r, int delta,
    const char *text, int role, const char *finish, int with_usage, cJSON *calls)
{
	cJSON *j = oai_head(c, g, "chat.completion.chunk"), *ch, *choice, *d;

	ch = cJSON_AddArrayToObject(j, "choices");
	choice = cJSON_CreateObject();
	cJSON_AddItemToArray(ch, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	d = cJSON_AddObjectToObject(choice, "delta");
	if (role)
		cJSON_AddStringToObject(d, "role", "assistant");
	if (text != NULL)
		cJSON_AddStringToObject(d, "content", text);
	else if (role && calls != NULL)
		cJSON_AddNullToObject(d, "content");
	if (calls != NULL)
		cJSON_AddItemToObject(d, "tool_calls", calls);
	if (role && c->protocol != SIM_MISTRAL && c->protocol != SIM_OLLAMA)
		cJSON_AddNullToObject(d, "refusal");
	if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE)
		cJSON_AddNullToObject(choice, "logprobs");
	if (finish != NULL)
		cJSON_AddStringToObject(choice, "finish_reason", finish);
	else
		cJSON_AddNullToObject(choice, "finish_reason");
	if (c->protocol == SIM_AZURE)
		cJSON_AddItemToObject(choice, "content_filter_results",
		    finish != NULL || role ? cJSON_CreateObject() : azure_filters(0));
	if (with_usage)
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
	sim_wire_chunk_json(r, delta, "data: ", j, "\n\n");
}

/* One stream chunk: delta text (NULL for none), role, finish reason. */
static void
oai_chunk(const struct sim_call *c, const struct gen *g, struct sim_reply *r, int delta,
    const char *text, int role, const char *finish, int with_usage)
{
	oai_chunk_calls(c, g, r, delta, text, role, finish, with_usage, NULL);
}

/*
 * Magistral's content: an array of chunks, its thinking first
 * ({"type":"thinking","thinking":[{"type":"text","text":...}]}), then the text
 * (left out when text is NULL).
 */
static cJSON *
mistral_thinking_content(const struct gen *g, const char *text)
{
	cJSON *a = cJSON_CreateArray(), *t, *inner, *x;

	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "thinking");
	inner = cJSON_AddArrayToObject(t, "thinking");
	x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "type", "text");
	cJSON_AddStringToObject(x, "text", g->thinking_text);
	cJSON_AddItemToArray(inner, x);
	cJSON_AddItemToArray(a, t);
	if (text != NULL) {
		x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "type", "text");
		cJSON_AddStringToObject(x, "text", text);
		cJSON_AddItemToArray(a, x);
	}
	return a;
}

/* The streamed thinking chunk: delta.content is the array with only the thinking. */
static void
mistral_thinking_chunk(const struct sim_call *c, const struct gen *g, struct sim_reply *r)
{
	cJSON *j = oai_head(c, g, "chat.completion.chunk"), *ch, *choice, *d;

	ch = cJSON_AddArrayToObject(j, "choices");
	choice = cJSON_CreateObject();
	cJSON_AddItemToArray(ch, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	d = cJSON_AddObjectToObject(choice, "delta");
	cJSON_AddItemToObject(d, "content", mistral_thinking_content(g, NULL));
	cJSON_AddNullToObject(choice, "finish_reason");
	sim_wire_chunk_json(r, 1, "data: ", j, "\n\n");
}

/* A tool call as it appears in a message or a stream delta (arguments NULL: leave out). */
static cJSON *
oai_call(const struct sim_call *c, const struct sim_tool_call *k, int index, int head,
    const char *args)
{
	cJSON *o = cJSON_CreateObject(), *f;

	if (index >= 0 && c->protocol != SIM_MISTRAL)
		cJSON_AddNumberToObject(o, "index", index);
	if (head) {
		cJSON_AddStringToObject(o, "id", k->id);
		if (c->protocol != SIM_MISTRAL)
			cJSON_AddStringToObject(o, "type", "function");
	}
	f = cJSON_AddObjectToObject(o, "function");
	if (head)
		cJSON_AddStringToObject(f, "name", k->name);
	if (args != NULL)
		cJSON_AddStringToObject(f, "arguments", args);
	if (index >= 0 && c->protocol == SIM_MISTRAL)
		cJSON_AddNumberToObject(o, "index", index);
	return o;
}

static cJSON *
oai_calls_array(const struct sim_call *c, const struct gen *g, int with_index)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < g->ncalls; i++)
		cJSON_AddItemToArray(a,
		    oai_call(c, &g->calls[i], with_index ? (int)i : -1, 1, g->calls[i].args));
	return a;
}

/*
 * Streamed tool calls. OpenAI and Azure: the first chunk of each call has its
 * index, id and name with empty arguments, then the arguments come in pieces;
 * Mistral and Ollama send each call whole in one chunk.
 */
static void
oai_stream_calls(const struct sim_call *c, const struct gen *g, struct sim_reply *r)
{
	cJSON *a;
	size_t len, at, e;
	char *piece;

	if (c->protocol == SIM_MISTRAL || c->protocol == SIM_OLLAMA) {
		oai_chunk_calls(c, g, r, 1, c->protocol == SIM_MISTRAL ? "" : NULL, 0, NULL, 0,
		    oai_calls_array(c, g, 1));
		return;
	}
	for (size_t i = 0; i < g->ncalls; i++) {
		a = cJSON_CreateArray();
		cJSON_AddItemToArray(a, oai_call(c, &g->calls[i], (int)i, 1, ""));
		oai_chunk_calls(c, g, r, 0, NULL, i == 0, NULL, 0, a);
		len = strlen(g->calls[i].args);
		for (at = 0; at < len; at = e) {
			e = sim_wire_next_piece(g->calls[i].args, at, len);
			piece = xstrndup(g->calls[i].args + at, e - at);
			a = cJSON_CreateArray();
			cJSON_AddItemToArray(a, oai_call(c, &g->calls[i], (int)i, 0, piece));
			oai_chunk_calls(c, g, r, 1, NULL, 0, NULL, 0, a);
			free(piece);
		}
	}
}

static void
oai_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j, *ch, *choice, *m;
	const char *finish = g->cut ? "length" : g->ncalls > 0 ? "tool_calls" : "stop";
	size_t len = strlen(g->text), at, e;
	char *s;

	if (c->protocol == SIM_MISTRAL)
		sim_wire_make_id(c, 3, "", SIM_WIRE_HEX, 32, g->id, sizeof g->id);
	else if (c->protocol == SIM_OLLAMA)
		snprintf(g->id, sizeof g->id, "chatcmpl-%u", (unsigned)(c->idseed % 1000));
	else
		sim_wire_make_id(c, 3, "chatcmpl-", SIM_WIRE_B62, 29, g->id, sizeof g->id);
	r->status = 200;
	sim_wire_common_headers(c, r);
	if (!g->stream) {
		sim_wire_content_type_json(c, r);
		j = oai_head(c, g, "chat.completion");
		ch = cJSON_AddArrayToObject(j, "choices");
		choice = cJSON_CreateObject();
		cJSON_AddItemToArray(ch, choice);
		cJSON_AddNumberToObject(choice, "index", 0);
		m = cJSON_AddObjectToObject(choice, "message");
		cJSON_AddStringToObject(m, "role", "assistant");
		if (c->protocol == SIM_MISTRAL && g->ncalls == 0)
			cJSON_AddNullToObject(m, "tool_calls");
		else if (c->protocol == SIM_MISTRAL)
			cJSON_AddItemToObject(m, "tool_calls", oai_calls_array(c, g, 1));
		if (g->ncalls > 0 && (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE))
			cJSON_AddNullToObject(m, "content");
		else if (g->thinking)
			cJSON_AddItemToObject(m, "content", mistral_thinking_content(g, g->text));
		else
			cJSON_AddStringToObject(m, "content", g->text);
		if (g->ncalls > 0 && c->protocol != SIM_MISTRAL)
			cJSON_AddItemToObject(m, "tool_calls", oai_calls_array(c, g, 0));
		if (c->protocol == SIM_OPENAI || c->protocol == SIM_AZURE) {
			cJSON_AddNullToObject(m, "refusal");
			cJSON_AddArrayToObject(m, "annotations");
			cJSON_AddNullToObject(choice, "logprobs");
		}
		cJSON_AddStringToObject(choice, "finish_reason", finish);
		if (c->protocol == SIM_AZURE)
			cJSON_AddItemToObject(choice, "content_filter_results", azure_filters(0));
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
		if (c->protocol == SIM_OPENAI)
			cJSON_AddStringToObject(j, "service_tier", "default");
		if (c->protocol == SIM_AZURE)
			cJSON_AddItemToObject(j, "prompt_filter_results",
			    azure_prompt_filter_results());
		sim_wire_reply_json(r, 200, j);
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type",
	    c->protocol == SIM_OLLAMA ? "text/event-stream" : "text/event-stream; charset=utf-8");
	sim_reply_header(r, "cache-control", "no-cache");
	if (c->protocol == SIM_AZURE) {
		j = cJSON_CreateObject();
		cJSON_AddArrayToObject(j, "choices");
		cJSON_AddNumberToObject(j, "created", 0);
		cJSON_AddStringToObject(j, "id", "");
		cJSON_AddStringToObject(j, "model", "");
		cJSON_AddStringToObject(j, "object", "");
		cJSON_AddItemToObject(j, "prompt_filter_results", azure_prompt_filter_results());
		sim_wire_chunk_json(r, 0, "data: ", j, "\n\n");
	}
	if (g->ncalls == 0 || c->protocol == SIM_MISTRAL || c->protocol == SIM_OLLAMA)
		oai_chunk(c, g, r, 0, "", 1, NULL, 0);
	if (g->thinking) /* Magistral: the thinking chunk first, then text */
		mistral_thinking_chunk(c, g, r);
	for (at = 0; at < len; at = e) {
		e = sim_wire_next_token(g->text, at, len);
		s = xstrndup(g->text + at, e - at);
		oai_chunk(c, g, r, 1, s, 0, NULL, 0);
		free(s);
	}
	if (g->ncalls > 0)
		oai_stream_calls(c, g, r);
	if (c->protocol == SIM_MISTRAL)
		oai_chunk(c, g, r, 0, "", 0, finish, 1);
	else
		oai_chunk(c, g, r, 0, NULL, 0, finish, 0);
	if (g->include_usage && c->protocol != SIM_MISTRAL) {
		j = oai_head(c, g, "chat.completion.chunk");
		cJSON_AddArrayToObject(j, "choices");
		cJSON_AddItemToObject(j, "usage", oai_usage(c, g));
		sim_wire_chunk_json(r, 0, "data: ", j, "\n\n");
	}
	sim_reply_chunk(r, 0, "data: [DONE]\n\n");
}

/* ---- ollama native ---- */

static void
ollama_time(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	char b[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%09ldZ", b, ts.tv_nsec);
}

/* Ollama's tool calls: arguments as an object, not a string. */
static cJSON *
ollama_calls(const struct gen *g)
{
	cJSON *a = cJSON_CreateArray(), *o, *f, *args;

	for (size_t i = 0; i < g->ncalls; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", g->calls[i].id);
		f = cJSON_AddObjectToObject(o, "function");
		cJSON_AddNumberToObject(f, "index", (double)i);
		cJSON_AddStringToObject(f, "name", g->calls[i].name);
		args = cJSON_Parse(g->calls[i].args);
		cJSON_AddItemToObject(f, "arguments", args != NULL ? args : cJSON_CreateObject());
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *
ollama_obj(const struct gen *g, const char *text, int done, int calls)
{
	cJSON *j = cJSON_CreateObject(), *m;
	char t[64];

	ollama_time(t, sizeof t);
	cJSON_AddStringToObject(j, "model", g->model);
	cJSON_AddStringToObject(j, "created_at", t);
	m = cJSON_AddObjectToObject(j, "message");
	cJSON_AddStringToObject(m, "role", "assistant");
	cJSON_AddStringToObject(m, "content", text);
	if (calls && g->ncalls > 0)
		cJSON_AddItemToObject(m, "tool_calls", ollama_calls(g));
	if (done) {
		cJSON_AddStringToObject(j, "done_reason", g->cut ? "length" : "stop");
		cJSON_AddTrueToObject(j, "done");
		cJSON_AddNumberToObject(j, "total_duration", 5043500667.0);
		cJSON_AddNumberToObject(j, "load_duration", 5025959.0);
		cJSON_AddNumberToObject(j, "prompt_eval_count", (double)g->in_tokens);
		cJSON_AddNumberToObject(j, "prompt_eval_duration", 325953000.0);
		cJSON_AddNumberToObject(j, "eval_count", (double)g->out_tokens);
		cJSON_AddNumberToObject(j, "eval_duration", 4709213000.0);
	} else
		cJSON_AddFalseToObject(j, "done");
	return j;
}

static void
ollama_answer(const struct sim_call *c, struct gen *g, struct sim_reply *r)
{
	cJSON *j;
	size_t len = strlen(g->text), at, e;
	char *tok;

	r->status = 200;
	if (!g->stream) {
		sim_wire_content_type_json(c, r);
		sim_wire_reply_json(r, 200, ollama_obj(g, g->text, 1, 1));
		return;
	}
	r->stream = 1;
	sim_reply_header(r, "content-type", "application/x-ndjson");
	for (at = 0; at < len; at = e) {
		e = sim_wire_next_token(g->text, at, len);
		tok = xstrndup(g->text + at, e - at);
		j = ollama_obj(g, tok, 0, 0);
		sim_wire_chunk_json(r, 1, "", j, "\n");
		free(tok);
	}
	if (g->ncalls > 0)
		sim_wire_chunk_json(r, 1, "", ollama_obj(g, "", 0, 1), "\n");
	j = ollama_obj(g, "", 1, 0);
	sim_wire_chunk_json(r, 0, "", j, "\n");
}

/* ---- models, health ---- */

static void
models_answer(const struct sim_call *c, struct sim_reply *r)
{
	cJSON *j = cJSON_CreateObject(), *d, *m, *det;
	char t[64];

	r->status = 200;
	sim_wire_common_headers(c, r);
	sim_wire_content_type_json(c, r);
	switch (c->ep) {
	case SIM_EP_OLLAMA_VERSION: cJSON_AddStringToObject(j, "version", "0.5.7"); break;
	case SIM_EP_OLLAMA_TAGS:
		d = cJSON_AddArrayToObject(j, "models");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(d, m);
		cJSON_AddStringToObject(m, "name", c->model);
		cJSON_AddStringToObject(m, "model", c->model);
		cJSON_AddStringToObject(m, "modified_at", "2025-01-01T00:00:00.000000000Z");
		cJSON_AddNumberToObject(m, "size", 2019393189.0);
		cJSON_AddStringToObject(m, "digest",
		    "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72");
		det = cJSON_AddObjectToObject(m, "details");
		cJSON_AddStringToObject(det, "format", "gguf");
		cJSON_AddStringToObject(det, "family", "llama");
		cJSON_AddStringToObject(det, "parameter_size", "3.2B");
		cJSON_AddStringToObject(det, "quantization_level", "Q4_K_M");
		break;
	default:
		if (c->protocol == SIM_ANTHROPIC) {
			rfc3339(1740000000, t, sizeof t);
			d = cJSON_AddArrayToObject(j, "data");
			m = cJSON_CreateObject();
			cJSON_AddItemToArray(d, m);
			cJSON_AddStringToObject(m, "type", "model");
			cJSON_AddStringToObject(m, "id", c->model);
			cJSON_AddStringToObject(m, "display_name", c->model);
			cJSON_AddStringToObject(m, "created_at", t);
			cJSON_AddFalseToObject(j, "has_more");
			cJSON_AddStringToObject(j, "first_id", c->model);
			cJSON_AddStringToObject(j, "last_id", c->model);
			break;
		}
		cJSON_AddStringToObject(j, "object", "list");
		d = cJSON_AddArrayToObject(j, "data");
		m = cJSON_CreateObject();
		cJSON_AddItemToArray(d, m);
		cJSON_AddStringToObject(m, "id", c->model);
		cJSON_AddStringToObject(m, "object", "model");
		cJSON_AddNumberToObject(m, "created", 1715367049);
		cJSON_AddStringToObject(m, "owned_by",
		    c->protocol == SIM_MISTRAL      ? "mistralai"
		        : c->protocol == SIM_OLLAMA ? "library"
		                                    : "system");
		break;
	}
	sim_wire_reply_json(r, 200, j);
}

void
sim_wire_answer(const struct sim_call *c, struct sim_reply *r)
{
	struct gen g;

	switch (c->ep) {
	case SIM_EP_HEALTH:
		r->status = 200;
		r->body = xstrdup("");
		return;
	case SIM_EP_OLLAMA_ROOT:
		r->status = 200;
		sim_reply_header(r, "content-type", "text/plain; charset=utf-8");
		r->body = xstrdup("Ollama is running");
		r->len = strlen(r->body);
		return;
	case SIM_EP_MODELS:
	case SIM_EP_OLLAMA_VERSION:
	case SIM_EP_OLLAMA_TAGS: models_answer(c, r); return;
	case SIM_EP_MESSAGES:
	case SIM_EP_CHAT:
	case SIM_EP_OLLAMA_CHAT: break;
	case SIM_EP_EMBEDDINGS:
	case SIM_EP_OLLAMA_EMBED: sim_wire_embeddings(c, r); return;
	case SIM_EP_RESPONSES: sim_wire_responses(c, r); return;
	case SIM_EP_NONE: sim_wire_not_found(c, "", r); return;
	}
	if (sim_gen_read(c, &g, r) != 0) {
		sim_gen_free(&g);
		return;
	}
	if (c->ep == SIM_EP_MESSAGES)
		anth_answer(c, &g, r);
	else if (c->ep == SIM_EP_OLLAMA_CHAT)
		ollama_answer(c, &g, r);
	else
		oai_answer(c, &g, r);
	sim_gen_free(&g);
}

void
sim_wire_malformed(const struct sim_call *c, int stream, struct sim_reply *r)
{
	r->status = 200;
	sim_wire_common_headers(c, r);
	if (stream) {
		r->stream = 1;
		if (c->ep == SIM_EP_OLLAMA_CHAT) {
			sim_reply_header(r, "content-type", "application/x-ndjson");
			sim_reply_chunk(r, 0, "{\"model\":\"%s\",\"message\":{\"role\":\"assis\n",
			    c->model);
			return;
		}
		sim_reply_header(r, "content-type", "text/event-stream; charset=utf-8");
		if (c->ep == SIM_EP_RESPONSES)
			sim_reply_chunk(r, 0,
			    "event: response.created\ndata: {\"type\":\"response.created\","
			    "\"response\":{\"id\":\"resp_x\",\"output\":[\n\n");
		else if (c->ep == SIM_EP_MESSAGES)
			sim_reply_chunk(r, 0,
			    "event: message_start\ndata: {\"type\":\"message_start"
			    "\",\"message\":{\"id\":\"msg_01\",\"content\":[\n\n");
		else
			sim_reply_chunk(r, 0,
			    "data: {\"id\":\"chatcmpl-x\",\"object\":\"chat."
			    "completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"\n\n"
			    "data: [DONE]\n\n");
		return;
	}
	sim_wire_content_type_json(c, r);
	if (c->ep == SIM_EP_MESSAGES)
		r->body = xstrdup("{\"model\":\"sim\",\"id\":\"msg_01\",\"type\":\"message\","
		                  "\"content\":[{\"type\":\"text\",\"text\":\"Hel");
	else if (c->ep == SIM_EP_RESPONSES)
		r->body = xstrdup("{\"id\":\"resp_x\",\"object\":\"response\",\"output\":[{"
		                  "\"type\":\"message\",\"content\":[{\"type\":\"output_te");
	else if (c->ep == SIM_EP_OLLAMA_CHAT)
		r->body = xstrdup("{\"model\":\"sim\",\"message\":{\"role\":\"assistant\",\"con");
	else
		r->body = xstrdup("{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion\","
		                  "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assist");
	r->len = strlen(r->body);
}
