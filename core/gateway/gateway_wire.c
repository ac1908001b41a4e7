/*
 * gateway_wire.c: what the client formats (OpenAI Chat Completions,
 * Anthropic Messages, OpenAI Responses) share: the parsers' skeleton and
 * value checks (see gateway_wire.h), model names, usage as each API counts
 * it, the stream entry points, error bodies, and the client API table
 * (gw_api_ops) that gateway.c calls through. Each format's own fields,
 * answers and stream events are in gateway_wire_openai.c,
 * gateway_wire_anthropic.c and gateway_wire_responses.c.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway_wire.h"
#include "util/utf8.h"
#include "store/pricing.h"

/* The message echoes the client's bytes (a role, a part's type): kept to one line. */
int
gw_bad_set(struct gw_bad *bad, const char *param, const char *fmt, ...)
{
	va_list ap;

	snprintf(bad->param, sizeof bad->param, "%s", param != NULL ? param : "");
	va_start(ap, fmt);
	vsnprintf(bad->message, sizeof bad->message, fmt, ap);
	va_end(ap);
	str_oneline(bad->message);
	str_oneline(bad->param);
	return -1;
}

void
gw_path(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, GW_PATH, fmt, ap);
	va_end(ap);
}

void
gw_ask_drop(struct gw_ask *ask, const char *label)
{
	for (int i = 0; i < ask->n_dropped; i++)
		if (strcmp(ask->dropped[i], label) == 0)
			return;
	if (ask->n_dropped == GW_DROPPED_PER_REQUEST)
		return;
	strlcpy_(ask->dropped[ask->n_dropped++], label, GW_DROPPED_FIELD);
}

void
gw_ask_free(struct gw_ask *ask)
{
	free(ask->previous_response_id);
	free(ask->echo);
	ask->previous_response_id = NULL;
	ask->echo = NULL;
}

void
gw_json_escape(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t n = 0;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(out, s + start, i - start);
		start = i + 1;
		esc[n++] = '\\';
		switch (c) {
		case '"': esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; break;
		case '\n': esc[n++] = 'n'; break;
		case '\r': esc[n++] = 'r'; break;
		case '\t': esc[n++] = 't'; break;
		default:
			esc[n++] = 'u';
			esc[n++] = '0';
			esc[n++] = '0';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
			break;
		}
		buf_append(out, esc, n);
	}
	buf_append(out, s + start, len - start);
}

char *
gw_json_text(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v), *copy;

	if (s == NULL)
		fatal("out of memory printing JSON");
	copy = xstrdup(s);
	cJSON_free(s);
	return copy;
}

/* ---- value checks ---- */

int
gw_want_number(struct gw_parse *p, const cJSON *v, const char *path, double lo, double hi,
    double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return gw_bad_set(p->bad, path, "%s: expected a number", path);
	if (v->valuedouble < lo || v->valuedouble > hi)
		return gw_bad_set(p->bad, path, "%s: %g is out of range [%g, %g]", path,
		    v->valuedouble, lo, hi);
	*out = v->valuedouble;
	return 0;
}

int
gw_want_int(struct gw_parse *p, const cJSON *v, const char *path, double lo, double hi,
    int64_t *out)
{
	double d;

	if (gw_want_number(p, v, path, lo, hi, &d) != 0)
		return -1;
	if (d != floor(d))
		return gw_bad_set(p->bad, path, "%s: expected an integer", path);
	*out = (int64_t)d;
	return 0;
}

int
gw_want_bool(struct gw_parse *p, const cJSON *v, const char *path, int *out)
{
	if (!cJSON_IsBool(v))
		return gw_bad_set(p->bad, path, "%s: expected true or false", path);
	*out = cJSON_IsTrue(v);
	return 0;
}

int
gw_want_string(struct gw_parse *p, const cJSON *v, const char *path, const char **out)
{
	if (!cJSON_IsString(v))
		return gw_bad_set(p->bad, path, "%s: expected a string", path);
	*out = v->valuestring;
	return 0;
}

int
gw_want_object(struct gw_parse *p, const cJSON *v, const char *path)
{
	if (!cJSON_IsObject(v))
		return gw_bad_set(p->bad, path, "%s: expected an object", path);
	return 0;
}

int
gw_known_keys(struct gw_parse *p, const cJSON *o, const char *path, const char *const *keys)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, o)
	{
		const char *const *k;

		for (k = keys; *k != NULL; k++)
			if (e->string != NULL && strcmp(e->string, *k) == 0)
				break;
		if (*k == NULL)
			return gw_bad_set(p->bad, path, "%s.%s: not supported by the gateway", path,
			    e->string != NULL ? e->string : "");
	}
	return 0;
}

int
gw_type_of(struct gw_parse *p, const cJSON *o, const char *path, const char **type)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");

	if (!cJSON_IsObject(o))
		return gw_bad_set(p->bad, path, "%s: expected an object", path);
	if (!cJSON_IsString(t))
		return gw_bad_set(p->bad, path, "%s.type: expected a string", path);
	*type = t->valuestring;
	return 0;
}

/* ---- fields both formats spell alike ---- */

int
gw_parse_stops(struct gw_parse *p, const cJSON *v, const char *path, int one_ok)
{
	struct llm_request *req = p->req;
	const cJSON *s;
	size_t n = 0;

	if (one_ok && cJSON_IsString(v)) {
		req->stop = xcalloc(1, sizeof *req->stop);
		req->stop[0] = xstrdup(v->valuestring);
		req->n_stop = 1;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return gw_bad_set(p->bad, path,
		    one_ok ? "%s: expected a string or an array of strings"
		           : "%s: expected an array of strings",
		    path);
	req->stop = xcalloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *req->stop);
	cJSON_ArrayForEach(s, v)
	{
		if (!cJSON_IsString(s))
			return gw_bad_set(p->bad, path, "%s[%zu]: expected a string", path, n);
		req->stop[n++] = xstrdup(s->valuestring);
		req->n_stop = n;
	}
	return 0;
}

void
gw_system_append(struct llm_request *req, const char *text)
{
	char *s;

	if (req->system == NULL) {
		req->system = xstrdup(text);
		return;
	}
	s = xasprintf("%s\n\n%s", req->system, text);
	free(req->system);
	req->system = s;
}

int
gw_parse_temperature(struct gw_parse *p, const cJSON *v, double hi)
{
	if (gw_want_number(p, v, "temperature", 0, hi, &p->req->temperature) != 0)
		return -1;
	p->req->has_temperature = 1;
	return 0;
}

int
gw_parse_top_p(struct gw_parse *p, const cJSON *v)
{
	if (gw_want_number(p, v, "top_p", 0, 1, &p->req->top_p) != 0)
		return -1;
	p->req->has_top_p = 1;
	return 0;
}

int
gw_parse_tool_choice_word(struct gw_parse *p, const char *word)
{
	if (strcmp(word, "none") == 0)
		p->req->tool_choice = LLM_TOOL_CHOICE_NONE;
	else if (strcmp(word, "auto") == 0)
		p->req->tool_choice = LLM_TOOL_CHOICE_AUTO;
	else if (strcmp(word, "required") == 0)
		p->req->tool_choice = LLM_TOOL_CHOICE_ANY;
	else
		return gw_bad_set(p->bad, "tool_choice",
		    "tool_choice: \"%s\" is not one of none, auto, required", word);
	return 0;
}

int
gw_parse_user(struct gw_parse *p, const cJSON *v)
{
	const char *s = NULL;

	if (gw_want_string(p, v, "user", &s) != 0)
		return -1;
	p->req->user = xstrdup(s);
	return 0;
}

int
gw_parse_metadata(struct gw_parse *p, const cJSON *v)
{
	const cJSON *e;

	if (gw_want_object(p, v, "metadata") != 0)
		return -1;
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e))
			return gw_bad_set(p->bad, "metadata", "metadata.%s: expected a string",
			    e->string != NULL ? e->string : "");
	}
	p->req->metadata = gw_json_text(v);
	return 0;
}

void
gw_passthrough_soft(struct gw_parse *p, const char *key, const cJSON *v)
{
	if (p->soft == NULL)
		p->soft = cJSON_CreateObject();
	cJSON_AddItemToObject(p->soft, key, cJSON_Duplicate(v, 1));
}

void
gw_passthrough(struct gw_parse *p, const char *key, const cJSON *v)
{
	if (p->extra == NULL)
		p->extra = cJSON_CreateObject();
	cJSON_AddItemToObject(p->extra, key, cJSON_Duplicate(v, 1));
}

/* ---- the skeleton ---- */

/* One level of a JSON value being walked: an object (its current key) or an array. */
struct nul_frame {
	int array;
	size_t index;
	const char *key; /* in the body, escaped as sent; NULL before the first */
	size_t key_len;
};
#define NUL_DEPTH 32

/* The path of the frames (keys and indices), into path. */
static void
nul_path(const struct nul_frame *f, int depth, char *path, size_t len)
{
	size_t at = 0;
	int n;

	path[0] = '\0';
	for (int i = 0; i < depth && i < NUL_DEPTH && at < len; i++) {
		if (f[i].array)
			n = snprintf(path + at, len - at, "[%zu]", f[i].index);
		else if (f[i].key != NULL)
			n = snprintf(path + at, len - at, "%s%.*s", at > 0 ? "." : "",
			    (int)f[i].key_len, f[i].key);
		else
			n = 0;
		if (n < 0)
			break;
		at += (size_t)n;
	}
}

/*
 * Walk the JSON text's strings keeping their path: stop at the first string
 * holding the escape \u0000 (at == SIZE_MAX) or the one the byte at falls in.
 */
static int
json_walk(const char *s, size_t len, size_t at, char *path, size_t pathlen)
{
	struct nul_frame f[NUL_DEPTH];
	int depth = 0, expect_key = 0, nul;
	size_t i = 0, start;

	while (i < len) {
		switch (s[i]) {
		case '{':
		case '[':
			if (depth < NUL_DEPTH) {
				memset(&f[depth], 0, sizeof f[depth]);
				f[depth].array = s[i] == '[';
			}
			depth++;
			expect_key = s[i] == '{';
			i++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			expect_key = 0;
			i++;
			break;
		case ',':
			if (depth > 0 && depth <= NUL_DEPTH && f[depth - 1].array)
				f[depth - 1].index++;
			expect_key = depth > 0 && depth <= NUL_DEPTH && !f[depth - 1].array;
			i++;
			break;
		case ':':
			expect_key = 0;
			i++;
			break;
		case '"':
			start = ++i;
			nul = 0;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len) {
					if (s[i + 1] == 'u' && i + 5 < len &&
					    memcmp(s + i + 2, "0000", 4) == 0)
						nul = 1;
					i += 2;
				} else {
					i++;
				}
			}
			if (expect_key && depth > 0 && depth <= NUL_DEPTH) {
				f[depth - 1].key = s + start;
				f[depth - 1].key_len = i - start;
			}
			if (at == SIZE_MAX ? nul : start <= at && at <= i) {
				nul_path(f, depth, path, pathlen);
				return 1;
			}
			i++;
			break;
		default: i++; break;
		}
	}
	return 0;
}

int
gw_json_nul_path(const char *s, size_t len, char *path, size_t pathlen)
{
	return json_walk(s, len, SIZE_MAX, path, pathlen);
}

int
gw_body_check(const char *body, size_t len, struct gw_bad *bad)
{
	char path[GW_PATH];
	size_t at;

	path[0] = '\0';
	if (!utf8_valid(body, len, &at)) {
		if (json_walk(body, len, at, path, sizeof path) && path[0] != '\0')
			return gw_bad_set(bad, path, "%s: not valid UTF-8 (byte %zu of the body)",
			    path, at);
		return gw_bad_set(bad, NULL, "the request body is not valid UTF-8 (byte %zu)", at);
	}
	/* cJSON would cut the string there: its bytes would not be the client's. */
	if (gw_json_nul_path(body, len, path, sizeof path))
		return gw_bad_set(bad, path,
		    "%s: a string holds \\u0000 (NUL), which the gateway does not carry",
		    path[0] != '\0' ? path : "the body");
	return 0;
}

static cJSON *
parse_object(const char *body, size_t len, struct gw_bad *bad)
{
	const char *end = NULL;
	cJSON *root;

	if (len == 0) {
		gw_bad_set(bad, NULL, "the request body is empty: expected a JSON object");
		return NULL;
	}
	if (gw_body_check(body, len, bad) != 0)
		return NULL;
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL) {
		const char *at = cJSON_GetErrorPtr();
		long off = at != NULL && at >= body && at <= body + len ? (long)(at - body) : -1;
		gw_bad_set(bad, NULL, "the request body is not valid JSON (near byte %ld)", off);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		gw_bad_set(bad, NULL, "the request body must be a JSON object");
		return NULL;
	}
	for (; end != NULL && end < body + len; end++)
		if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
			cJSON_Delete(root);
			gw_bad_set(bad, NULL,
			    "the request body has bytes after its JSON object (byte %ld)",
			    (long)(end - body));
			return NULL;
		}
	return root;
}

static int
parse_model(const cJSON *root, struct gw_ask *ask, struct gw_bad *bad)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");

	if (m == NULL)
		return gw_bad_set(bad, "model", "model: required (a model alias or a route name)");
	if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
		return gw_bad_set(bad, "model", "model: expected a non-empty string");
	if (strlen(m->valuestring) >= sizeof ask->model)
		return gw_bad_set(bad, "model", "model: too long");
	snprintf(ask->model, sizeof ask->model, "%s", m->valuestring);
	return 0;
}

/* A key given twice: JSON parsers disagree on which one wins, so neither does. */
static int
duplicate_key(const cJSON *root, const cJSON *e)
{
	for (const cJSON *o = root->child; o != NULL && o != e; o = o->next)
		if (o->string != NULL && strcmp(o->string, e->string) == 0)
			return 1;
	return 0;
}

int
gw_parse_format(const struct gw_format *f, const char *body, size_t len, struct llm_request *req,
    struct gw_ask *ask, struct gw_bad *bad)
{
	struct gw_parse p;
	const cJSON *e, *need;
	cJSON *root;
	int rc = -1;

	memset(ask, 0, sizeof *ask);
	memset(&p, 0, sizeof p);
	if ((root = parse_object(body, len, bad)) == NULL)
		return -1;
	p.req = req;
	p.ask = ask;
	p.bad = bad;
	p.root = root;
	p.api = f->api;
	p.count_tokens = f->count_tokens;
	p.body = body;
	p.body_len = len;
	if (parse_model(root, ask, bad) != 0)
		goto out;
	cJSON_ArrayForEach(e, root)
	{
		size_t i;

		if (e->string == NULL || strcmp(e->string, "model") == 0)
			continue;
		if (duplicate_key(root, e)) {
			gw_bad_set(bad, e->string, "%s: given twice", e->string);
			goto out;
		}
		/* null is JSON's "not given" for every optional field. */
		if (cJSON_IsNull(e))
			continue;
		for (i = 0; i < f->n_fields; i++)
			if (strcmp(f->fields[i].key, e->string) == 0)
				break;
		if (i < f->n_fields) {
			if (f->fields[i].parse(&p, e) != 0)
				goto out;
		} else if (f->unknown != NULL) {
			if (f->unknown(&p, e) != 0)
				goto out;
		} else {
			gw_passthrough(&p, e->string, e);
		}
	}
	need = cJSON_GetObjectItemCaseSensitive(root, f->required);
	if (need == NULL || cJSON_IsNull(need)) {
		gw_bad_set(bad, f->required, "%s: required (%s)", f->required, f->required_what);
		goto out;
	}
	if (f->finish != NULL && f->finish(&p) != 0)
		goto out;
	if (p.extra != NULL) {
		req->passthrough = gw_json_text(p.extra);
		req->passthrough_api = f->api;
	}
	if (p.soft != NULL) {
		req->passthrough_soft = gw_json_text(p.soft);
		req->passthrough_api = f->api;
	}
	ask->input_estimate = pricing_input_estimate(req);
	rc = 0;
out:
	cJSON_Delete(p.soft);
	cJSON_Delete(p.extra);
	cJSON_Delete(root);
	return rc;
}

int
gw_parse_body(const char *body, size_t len, enum llm_api api, int count_tokens,
    const struct gw_field *fields, size_t n, int (*finish)(struct gw_parse *),
    struct llm_request *req, struct gw_ask *ask, struct gw_bad *bad)
{
	const struct gw_format f = {
	    .api = api,
	    .count_tokens = count_tokens,
	    .fields = fields,
	    .n_fields = n,
	    .required = "messages",
	    .required_what = "an array of messages",
	    .finish = finish,
	};

	return gw_parse_format(&f, body, len, req, ask, bad);
}

/* Does the provider speak the client's API, so that its passthrough fields reach it? */
static int
takes_passthrough(const struct provider_conf *p, enum llm_api api)
{
	if (api == LLM_API_ANTHROPIC)
		return p->kind == PROVIDER_ANTHROPIC;
	/* Ollama's native /api/chat is not Chat Completions. */
	return p->kind == PROVIDER_AZURE ||
	    (p->kind == PROVIDER_OPENAI && p->flavor != FLAVOR_OLLAMA);
}

static int
named(const struct route_conf *route, const char *provider)
{
	if (route->primary != NULL && strcmp(route->primary, provider) == 0)
		return 1;
	for (size_t k = 0; k < route->n_fallback; k++)
		if (strcmp(route->fallback[k], provider) == 0)
			return 1;
	return 0;
}

/*
 * Fields only a provider of the client's kind takes, on a model no such
 * provider serves: refused here, naming the first, rather than sent nowhere.
 * (Where both kinds serve it, each adapter's check decides.)
 */
static int
passthrough_check(const struct config *cfg, const struct llm_request *req, struct gw_bad *bad)
{
	const struct route_conf *route = req->route != NULL ? config_route(cfg, req->route) : NULL;
	cJSON *extra;
	int any = 0;

	if (req->passthrough == NULL)
		return 0;
	for (size_t i = 0; i < cfg->n_providers && !any; i++) {
		const struct provider_conf *p = &cfg->providers[i];
		int serves = route != NULL ? named(route, p->name) : req->model == NULL;

		for (size_t j = 0; !serves && req->model != NULL && j < p->n_models; j++)
			serves = strcmp(p->models[j], req->model) == 0;
		any = serves && takes_passthrough(p, req->passthrough_api);
	}
	if (any)
		return 0;
	extra = cJSON_Parse(req->passthrough);
	gw_bad_set(bad, extra != NULL && extra->child != NULL ? extra->child->string : "",
	    "%s: only %s providers take it, and none serves %s",
	    extra != NULL && extra->child != NULL ? extra->child->string : "a field",
	    req->passthrough_api == LLM_API_ANTHROPIC ? "Anthropic" : "OpenAI-compatible",
	    req->route != NULL ? req->route : req->model);
	cJSON_Delete(extra);
	return -1;
}

int
gw_resolve_model(const struct config *cfg, const char *name, struct llm_request *req,
    struct gw_bad *bad)
{
	if (config_route(cfg, name) != NULL)
		req->route = xstrdup(name);
	else if (config_model(cfg, name) != NULL)
		req->model = xstrdup(name);
	for (size_t i = 0; i < cfg->n_providers && req->route == NULL && req->model == NULL; i++)
		for (size_t j = 0; j < cfg->providers[i].n_models; j++)
			if (strcmp(cfg->providers[i].models[j], name) == 0) {
				req->model = xstrdup(name);
				break;
			}
	for (size_t i = 0; i < cfg->n_models && req->route == NULL && req->model == NULL; i++)
		if (cfg->models[i].id != NULL && strcmp(cfg->models[i].id, name) == 0)
			req->model = xstrdup(cfg->models[i].alias);
	if (req->route == NULL && req->model == NULL)
		return gw_bad_set(bad, "model",
		    "model: \"%s\" is neither a model alias nor a route "
		    "(GET /v1/models lists them)",
		    name);
	return passthrough_check(cfg, req, bad);
}

/* ---- usage ---- */

/* OpenAI: prompt_tokens counts every input token, cached ones included. */
void
gw_usage_openai(struct buf *out, const struct llm_usage *u)
{
	buf_printf(out,
	    "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":%lld,\"audio_tokens\":0},"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":%lld,\"audio_tokens\":0,"
	    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}",
	    (long long)u->input_tokens, (long long)u->output_tokens,
	    (long long)(u->input_tokens + u->output_tokens), (long long)u->cache_read_tokens,
	    (long long)u->reasoning_tokens);
}

/* Anthropic: input_tokens excludes the tokens read from and written to the cache. */
void
gw_usage_anthropic(struct buf *out, const struct llm_usage *u)
{
	int64_t in = u->input_tokens - u->cache_read_tokens - u->cache_write_tokens;
	int64_t w1h = u->cache_write_1h_tokens;

	if (in < 0)
		in = 0;
	if (w1h > u->cache_write_tokens)
		w1h = u->cache_write_tokens;
	buf_printf(out,
	    "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"
	    "\"cache_read_input_tokens\":%lld,\"cache_creation\":{\"ephemeral_5m_input_tokens\":"
	    "%lld,\"ephemeral_1h_input_tokens\":%lld},\"output_tokens\":%lld",
	    (long long)in, (long long)u->cache_write_tokens, (long long)u->cache_read_tokens,
	    (long long)(u->cache_write_tokens - w1h), (long long)w1h, (long long)u->output_tokens);
	if (u->reasoning_tokens > 0)
		buf_printf(out, ",\"output_tokens_details\":{\"thinking_tokens\":%lld}",
		    (long long)u->reasoning_tokens);
	buf_puts(out, "}");
}

/* ---- streams ---- */

/* The opening chunk or events, once. */
static void
stream_open(struct gw_stream *st, struct buf *out)
{
	if (st->opened)
		return;
	st->opened = 1;
	gw_api_ops(st->api)->stream_open(st, out);
}

void
gw_stream_typed(struct gw_stream *st, struct buf *out, const struct llm_delta *d)
{
	stream_open(st, out);
	st->delivered = 1;
	gw_api_ops(st->api)->stream_typed(st, out, d);
}

struct replay_to {
	struct gw_stream *st;
	struct buf *out;
};

static void
replay_one(void *arg, const struct llm_delta *d)
{
	struct replay_to *t = arg;

	gw_stream_typed(t->st, t->out, d);
}

void
gw_stream_close(struct gw_stream *st, struct buf *out, const struct router_result *res)
{
	struct replay_to t = {st, out};

	stream_open(st, out);
	/* Nothing streamed (a cached answer the router did not replay): the whole answer now. */
	if (!st->delivered)
		llm_response_replay(&res->resp, replay_one, &t);
	gw_api_ops(st->api)->stream_close(st, out, res);
}

void
gw_stream_free(struct gw_stream *st)
{
	buf_free(&st->acc);
	buf_free(&st->sig);
	free(st->item_id);
	free(st->call_id);
	free(st->call_name);
	st->item_id = st->call_id = st->call_name = NULL;
}

/* ---- errors ---- */

int
gw_error_status(enum llm_errclass cls)
{
	switch (cls) {
	case LLM_ERR_BAD_REQUEST: return 400;
	case LLM_ERR_FORBIDDEN: return 403;
	case LLM_ERR_RATE_LIMIT: return 429;
	case LLM_ERR_BUDGET: return 429;
	case LLM_ERR_OVERLOADED: return 503;
	case LLM_ERR_NO_PROVIDER: return 503;
	case LLM_ERR_CANCELLED: return 503;
	case LLM_ERR_TIMEOUT: return 504;
	case LLM_ERR_INTERNAL: return 500;
	case LLM_ERR_SERVER:
	case LLM_ERR_CONNECT:
	case LLM_ERR_MALFORMED:
	case LLM_ERR_AUTH:
	case LLM_ERR_QUOTA:
	case LLM_ERR_NOT_FOUND:
	case LLM_ERR_STREAM:
	default: return 502;
	}
}

int
gw_result_status(const struct router_result *res)
{
	/* Refused at admission for the client's own key (revoked since the gateway checked
	 * it): no attempt went out, so it is not a provider's 401. */
	if (res->cls == LLM_ERR_AUTH && res->n_attempts == 0 && res->err.status == 401)
		return 401;
	return gw_error_status(res->cls);
}

/* OpenAI's error type for a status and class. */
static const char *
openai_error_type(int status, enum llm_errclass cls)
{
	if (cls == LLM_ERR_BUDGET)
		return "budget_exceeded";
	switch (status) {
	case 400:
	case 404:
	case 405:
	case 413:
	case 415:
	case 431: return "invalid_request_error";
	case 401: return "authentication_error";
	case 429: return "rate_limit_exceeded";
	case 503: return cls == LLM_ERR_OVERLOADED ? "overloaded" : "service_unavailable";
	case 504: return "timeout";
	default: return "upstream_error";
	}
}

/* Anthropic's. */
static const char *
anthropic_error_type(int status, enum llm_errclass cls)
{
	if (cls == LLM_ERR_BUDGET)
		return "budget_exceeded";
	switch (status) {
	case 400:
	case 405:
	case 415:
	case 431: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503: return cls == LLM_ERR_OVERLOADED ? "overloaded_error" : "api_error";
	case 504: return "timeout_error";
	default: return "api_error";
	}
}

char *
gw_error_body_openai(int status, enum llm_errclass cls, const char *message, const char *param)
{
	cJSON *o = cJSON_CreateObject(), *e;
	char *s;

	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", openai_error_type(status, cls));
	if (param != NULL && param[0] != '\0')
		cJSON_AddStringToObject(e, "param", param);
	else
		cJSON_AddNullToObject(e, "param");
	if (cls != LLM_OK)
		cJSON_AddStringToObject(e, "code",
		    cls == LLM_ERR_BUDGET ? "budget_exceeded" : llm_errclass_name(cls));
	else
		cJSON_AddNullToObject(e, "code");
	s = gw_json_text(o);
	cJSON_Delete(o);
	return s;
}

/* Anthropic's errors have no param: the message names the field. */
static char *
anthropic_error_body(int status, enum llm_errclass cls, const char *message, const char *param)
{
	cJSON *o = cJSON_CreateObject(), *e;
	char *s;

	(void)param;
	cJSON_AddStringToObject(o, "type", "error");
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "type", anthropic_error_type(status, cls));
	cJSON_AddStringToObject(e, "message", message);
	s = gw_json_text(o);
	cJSON_Delete(o);
	return s;
}

char *
gw_error_body(enum gw_api api, int status, enum llm_errclass cls, const char *message,
    const char *param)
{
	return gw_api_ops(api)->error_body(status, cls, message, param);
}

void
gw_stream_error(struct gw_stream *st, struct buf *out, int status, enum llm_errclass cls,
    const char *message)
{
	gw_api_ops(st->api)->stream_error(st, out, status, cls, message);
}

/* Chat Completions: the error object as a data line of its own. */
static void
openai_stream_error(struct gw_stream *st, struct buf *out, int status, enum llm_errclass cls,
    const char *message)
{
	char *body = gw_error_body_openai(status, cls, message, NULL);

	(void)st;
	buf_printf(out, "data: %s\n\n", body);
	free(body);
}

/* Messages: an error event. */
static void
anthropic_stream_error(struct gw_stream *st, struct buf *out, int status, enum llm_errclass cls,
    const char *message)
{
	char *body = anthropic_error_body(status, cls, message, NULL);

	(void)st;
	buf_printf(out, "event: error\ndata: %s\n\n", body);
	free(body);
}

/* ---- the client API table ---- */

static char *
openai_answer(const struct router_result *res, const struct gw_stream *st)
{
	return gw_openai_answer(res, st->id, st->model, st->created);
}

static char *
anthropic_answer(const struct router_result *res, const struct gw_stream *st)
{
	return gw_anthropic_answer(res, st->id, st->model);
}

static const struct gw_api_ops api_table[GW_API__COUNT] = {
    [GW_OPENAI] =
        {
            .name = "openai",
            .id_prefix = "chatcmpl-",
            .parse = gw_parse_openai,
            .answer = openai_answer,
            .stream_open = gw_openai_stream_open,
            .stream_typed = gw_openai_stream_typed,
            .stream_close = gw_openai_stream_close,
            .stream_error = openai_stream_error,
            .error_body = gw_error_body_openai,
        },
    [GW_ANTHROPIC] =
        {
            .name = "anthropic",
            .id_prefix = "msg_",
            .parse = gw_parse_anthropic,
            .answer = anthropic_answer,
            .stream_open = gw_anthropic_stream_open,
            .stream_typed = gw_anthropic_stream_typed,
            .stream_close = gw_anthropic_stream_close,
            .stream_error = anthropic_stream_error,
            .error_body = anthropic_error_body,
        },
    [GW_RESPONSES] =
        {
            .name = "responses",
            .id_prefix = "resp_",
            .parse = gw_parse_responses,
            .answer = gw_responses_answer,
            .stream_open = gw_responses_stream_open,
            .stream_typed = gw_responses_stream_typed,
            .stream_close = gw_responses_stream_close,
            .stream_error = gw_responses_stream_error,
            .error_body = gw_error_body_openai,
            .stored = 1,
        },
};

const struct gw_api_ops *
gw_api_ops(enum gw_api api)
{
	return (unsigned)api < GW_API__COUNT ? &api_table[api] : &api_table[GW_OPENAI];
}
