/* adapter_testutil.c: helpers for the adapter and SSE tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "adapter_testutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *
adtest_read(const char *name, size_t *len)
{
	const char *dirs[] = {getenv("LLMDECK_TESTDATA"), "tests/data/recorded",
	    "../tests/data/recorded", "../../tests/data/recorded"};
	struct buf b;
	char *path, chunk[4096];
	size_t n;
	FILE *f;

	for (size_t i = 0; i < nitems(dirs); i++) {
		if (dirs[i] == NULL)
			continue;
		path = xasprintf("%s/%s", dirs[i], name);
		f = fopen(path, "rb");
		free(path);
		if (f == NULL)
			continue;
		buf_init(&b);
		while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
			buf_append(&b, chunk, n);
		fclose(f);
		*len = b.len;
		return buf_detach(&b);
	}
	return NULL;
}

/* Text deltas onto r->text; every delta onto r->trace as one line:
 * "text P: ...", "thinking P: ...", "signature P: ...", "redacted P: ...",
 * "reasoning P ID: ENCRYPTED", "call P #I ID NAME", "args P #I: ..." (P the part, I the tool call index). */
static void
adtest_delta(void *arg, const struct llm_delta *d)
{
	struct adtest_stream *r = arg;

	switch (d->type) {
	case LLM_DELTA_TEXT:
		buf_append(&r->text, d->text, d->len);
		r->n_deltas++;
		buf_printf(&r->trace, "text %zu: %.*s\n", d->part, (int)d->len, d->text);
		break;
	case LLM_DELTA_THINKING:
		buf_printf(&r->trace, "thinking %zu: %.*s\n", d->part, (int)d->len, d->text);
		break;
	case LLM_DELTA_THINKING_SIGNATURE:
		buf_printf(&r->trace, "signature %zu: %.*s\n", d->part, (int)d->len, d->text);
		break;
	case LLM_DELTA_REDACTED_THINKING:
		buf_printf(&r->trace, "redacted %zu: %.*s\n", d->part, (int)d->len, d->text);
		break;
	case LLM_DELTA_REASONING_DONE:
		buf_printf(&r->trace, "reasoning %zu %s: %.*s\n", d->part, d->id, (int)d->len,
		    d->text);
		break;
	case LLM_DELTA_TOOL_CALL_START:
		buf_printf(&r->trace, "call %zu #%d %s %s\n", d->part, d->index, d->id, d->name);
		break;
	case LLM_DELTA_TOOL_CALL_ARGS:
		buf_printf(&r->trace, "args %zu #%d: %.*s\n", d->part, d->index, (int)d->len,
		    d->text);
		break;
	}
}

void
adtest_run_stream(const struct adapter *a, const char *data, size_t len, size_t chunk,
    struct adtest_stream *r)
{
	struct adapter_stream *s = a->stream_new();
	size_t off = 0, n;

	memset(r, 0, sizeof *r);
	buf_init(&r->text);
	buf_puts(&r->text, "");
	buf_init(&r->trace);
	buf_puts(&r->trace, "");
	llm_response_init(&r->acc);
	llm_error_clear(&r->err);
	r->finish_rc = 2;
	r->stopped_at = -1;
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		r->feed_rc = a->stream_feed(s, data + off, n, adtest_delta, r, &r->acc, &r->err);
		off += n;
		if (r->feed_rc != 0) {
			r->stopped_at = (int)off;
			break;
		}
	}
	if (r->feed_rc == 0)
		r->finish_rc = a->stream_finish(s, &r->acc, &r->err);
	a->stream_free(s);
}

void
adtest_stream_free(struct adtest_stream *r)
{
	buf_free(&r->text);
	buf_free(&r->trace);
	llm_response_free(&r->acc);
}

cJSON *
adtest_build(const struct adapter *a, const struct provider_conf *c, const char *model,
    const struct llm_request *r, int stream, struct adapter_http *h)
{
	return adtest_build_m(a, c, NULL, model, r, stream, h);
}

cJSON *
adtest_build_m(const struct adapter *a, const struct provider_conf *c, const struct model_conf *m,
    const char *model, const struct llm_request *r, int stream, struct adapter_http *h)
{
	char *cause = NULL;
	cJSON *body;

	if (a->build_request(c, m, model, r, stream, h, &cause) != 0)
		fail_msg("build_request: %s", cause);
	assert_null(cause);
	body = cJSON_ParseWithLength(h->body, h->body_len);
	assert_non_null(body);
	assert_int_equal(strlen(h->body), h->body_len);
	return body;
}

void
adtest_expect_malformed(const struct adapter *a, const char *body, const char *msg, size_t i)
{
	struct llm_response out;
	struct llm_error err;

	llm_response_init(&out);
	assert_int_equal(a->parse_response(body, strlen(body), &out, &err), -1);
	assert_int_equal(err.cls, LLM_ERR_MALFORMED);
	if (strstr(err.message, msg) == NULL)
		fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, msg);
	assert_null(out.content);
	llm_response_free(&out);
}

const char *
adtest_header(const struct adapter_http *h, const char *name)
{
	size_t n = strlen(name);
	const char *v;

	for (size_t i = 0; i < h->n_headers; i++) {
		if (strncasecmp(h->headers[i], name, n) != 0 || h->headers[i][n] != ':')
			continue;
		v = h->headers[i] + n + 1;
		while (*v == ' ')
			v++;
		return v;
	}
	return NULL;
}

struct provider_conf
adtest_conf(enum provider_kind kind, enum provider_flavor flavor, const char *base_url,
    const char *api_key)
{
	struct provider_conf c;

	memset(&c, 0, sizeof c);
	c.name = (char *)"test";
	c.kind = kind;
	c.flavor = flavor;
	c.base_url = (char *)base_url;
	c.api_key = (char *)api_key;
	c.priority = 1;
	c.weight = 1.0;
	c.timeout_seconds = 60;
	c.max_retries = 2;
	c.tls_verify = 1;
	c.enabled = 1;
	return c;
}

void
adtest_headers_add(struct http_headers *h, const char *name, const char *value)
{
	h->v = xreallocarray(h->v, h->n + 1, sizeof *h->v);
	h->v[h->n].name = xstrdup(name);
	h->v[h->n].value = xstrdup(value);
	h->n++;
}

void
adtest_headers_free(struct http_headers *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

const cJSON *
adtest_at(const cJSON *j, const char *path)
{
	char *copy = xstrdup(path), *save = NULL, *key;
	const cJSON *cur = j;

	for (key = strtok_r(copy, ".", &save); key != NULL && cur != NULL;
	     key = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(cur))
			cur = cJSON_GetArrayItem(cur, atoi(key));
		else
			cur = cJSON_GetObjectItemCaseSensitive(cur, key);
	}
	free(copy);
	return cur;
}

const char *
adtest_str(const cJSON *j, const char *path)
{
	const cJSON *v = adtest_at(j, path);

	if (!cJSON_IsString(v))
		fail_msg("no string at %s", path);
	return v->valuestring;
}

double
adtest_num(const cJSON *j, const char *path)
{
	const cJSON *v = adtest_at(j, path);

	if (!cJSON_IsNumber(v))
		fail_msg("no number at %s", path);
	return v->valuedouble;
}

void
adtest_check(const struct adapter *a, const struct provider_conf *c, const struct model_conf *m,
    const char *model, const struct llm_request *r, const char *param, int i)
{
	struct llm_error why;
	int rc = a->check_request(c, m, model, r, &why);

	if (param == NULL) {
		if (rc != 0)
			fail_msg("case %d: refused %s: %s", i, why.param, why.message);
		return;
	}
	if (rc == 0)
		fail_msg("case %d: accepted, expected a refusal of %s", i, param);
	assert_int_equal(why.cls, LLM_ERR_BAD_REQUEST);
	if (strcmp(why.param, param) != 0)
		fail_msg("case %d: refused %s (%s), expected %s", i, why.param, why.message, param);
	assert_true(why.message[0] != '\0');
}

void
adtest_request(struct llm_request *r, const char *text)
{
	llm_request_init(r);
	llm_request_add_message(r, LLM_ROLE_USER, text);
}

void
adtest_add_tool_call(struct llm_message *m, const char *id, const char *name, const char *args)
{
	struct llm_part *p = llm_message_add_part(m, LLM_PART_TOOL_CALL);

	p->id = xstrdup(id);
	p->name = xstrdup(name);
	p->arguments = xstrdup(args);
}

void
adtest_add_tool_result(struct llm_message *m, const char *id, const char *text, int is_error)
{
	struct llm_part *p = llm_message_add_part(m, LLM_PART_TOOL_RESULT);

	p->id = xstrdup(id);
	p->is_error = is_error;
	p->parts = xcalloc(1, sizeof *p->parts);
	p->n_parts = 1;
	p->parts[0].type = LLM_PART_TEXT;
	p->parts[0].text = xstrdup(text);
}
