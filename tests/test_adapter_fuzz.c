/*
 * test_adapter_fuzz.c: random bytes and random cuts and mutations of the
 * recordings through every parser and stream decoder. Fixed seeds and bounded
 * iterations; the only requirement is no crash (run it under ASan and UBSan)
 * and a verdict that is one of the documented ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "provider/adapter_priv.h"
#include "adapter_testutil.h"
#include "provider/sse.h"

#define ITERATIONS 3000

static const struct adapter *const adapters[] = {&adapter_anthropic, &adapter_openai,
    &adapter_azure, &adapter_ollama, &adapter_openai_responses, &adapter_azure_responses};

static const char *const recordings[] = {"anthropic_basic_stream.sse",
    "openai_recorded_stream_include_usage.sse", "anthropic_recorded_200.json",
    "anthropic_recorded_429_then_stream.json", "anthropic_documented_tool_use.json",
    "anthropic_documented_thinking_tool_stream.sse", "openai_documented_tool_calls_stream.sse",
    "openai_documented_tool_calls.json", "mistral_documented_magistral.json",
    "mistral_documented_magistral_stream.sse", "ollama_documented_chat_tools.json",
    "ollama_documented_chat_stream.ndjson"};

/* Bytes that matter to the parsers, so mutations hit interesting paths. */
static const char alphabet[] =
    "{}[]\":,\\ \n\r\tdata:event:errorchoicesdelta0123456789-.etrufn\x00\xff\xc3";

struct corpus {
	char *data[nitems(recordings) + 6];
	size_t len[nitems(recordings) + 6];
	size_t n;
};

static void
corpus_add(struct corpus *c, const char *s, size_t len)
{
	c->data[c->n] = xmalloc(len + 1);
	memcpy(c->data[c->n], s, len);
	c->data[c->n][len] = '\0';
	c->len[c->n] = len;
	c->n++;
}

static void
corpus_load(struct corpus *c)
{
	static const char *const extra[] = {
	    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"message\":{\"content\":\"hi\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":1}}}",
	    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
	    "\"Overloaded\"}}",
	    "{\"detail\":[{\"type\":\"extra_forbidden\",\"loc\":[\"body\",3],\"msg\":\"no\"}]}",
	    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}\n\n"
	    "data: {\"error\":{\"code\":429,\"message\":\"Please retry after 5 seconds\"}}\n\n",
	    "{\"error\":\"bare\"}",
	    "<html><body>502</body></html>",
	};
	size_t len;
	char *s;

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < nitems(recordings); i++) {
		s = adtest_read(recordings[i], &len);
		assert_non_null(s);
		corpus_add(c, s, len);
		free(s);
	}
	for (size_t i = 0; i < nitems(extra); i++)
		corpus_add(c, extra[i], strlen(extra[i]));
}

static void
corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->data[i]);
}

static size_t
below(struct rng *r, size_t n)
{
	return n == 0 ? 0 : (size_t)(rng_next(r) % n);
}

/* A random input: pure noise, a cut of a corpus entry, or a mutated one. */
static char *
make_input(struct rng *r, const struct corpus *c, size_t *len)
{
	size_t k = below(r, c->n), n, i, m;
	char *s;

	switch (below(r, 4)) {
	case 0:
		n = below(r, 512);
		s = xmalloc(n + 1);
		for (i = 0; i < n; i++)
			s[i] =
			    (char)(below(r, 2) ? rng_next(r)
			                       : (uint64_t)alphabet[below(r, sizeof alphabet - 1)]);
		break;
	case 1: /* a prefix */
		n = below(r, c->len[k] + 1);
		s = xmalloc(n + 1);
		memcpy(s, c->data[k], n);
		break;
	case 2: /* a middle slice */
		i = below(r, c->len[k] + 1);
		n = below(r, c->len[k] - i + 1);
		s = xmalloc(n + 1);
		memcpy(s, c->data[k] + i, n);
		break;
	default: /* mutations */
		n = c->len[k];
		s = xmalloc(n + 1);
		memcpy(s, c->data[k], n);
		m = 1 + below(r, 8);
		for (i = 0; i < m && n > 0; i++) {
			size_t at = below(r, n);
			switch (below(r, 3)) {
			case 0: s[at] = alphabet[below(r, sizeof alphabet - 1)]; break;
			case 1: s[at] = (char)rng_next(r); break;
			default: /* delete a run */
			{
				size_t del = below(r, n - at + 1);
				memmove(s + at, s + at + del, n - at - del);
				n -= del;
			}
			}
		}
	}
	s[n] = '\0';
	*len = n;
	return s;
}

static void
null_delta(void *arg, const struct llm_delta *d)
{
	size_t *total = arg;

	/* Touch every byte so ASan sees a bad pointer. */
	for (size_t i = 0; i < d->len; i++)
		*total += (unsigned char)d->text[i] != 0;
	if (d->type == LLM_DELTA_TOOL_CALL_START)
		*total += strlen(d->id) + strlen(d->name);
}

static int
null_event(void *arg, const char *event, const char *data, size_t len)
{
	size_t *total = arg;

	*total += strlen(event) + len + (data[len] == '\0');
	return 0;
}

static void
check_error(const struct llm_error *err)
{
	assert_true(err->cls > LLM_OK && err->cls < LLM_ERR__COUNT);
	assert_non_null(memchr(err->message, '\0', sizeof err->message));
	assert_non_null(memchr(err->type, '\0', sizeof err->type));
	assert_null(strchr(err->message, '\n'));
}

static void
test_fuzz_parse_response(void **state)
{
	struct corpus c;
	struct rng r;
	struct llm_response out;
	struct llm_error err;
	size_t len;
	char *s;

	(void)state;
	corpus_load(&c);
	rng_seed(&r, 0x5eed0001);
	for (int it = 0; it < ITERATIONS; it++) {
		s = make_input(&r, &c, &len);
		for (size_t a = 0; a < nitems(adapters); a++) {
			llm_response_init(&out);
			if (adapters[a]->parse_response(s, len, &out, &err) == 0)
				assert_non_null(out.content);
			else {
				check_error(&err);
				assert_int_equal(err.cls, LLM_ERR_MALFORMED);
			}
			llm_response_free(&out);
		}
		free(s);
	}
	corpus_free(&c);
}

static void
test_fuzz_classify(void **state)
{
	static const int statuses[] = {0, 200, 400, 401, 402, 403, 404, 408, 409, 413, 418, 422,
	    429, 500, 502, 503, 504, 529, 599, 999, -1};
	static const char *const hnames[] = {"retry-after", "retry-after-ms", "x-should-retry"};
	struct http_headers h = {0};
	struct corpus c;
	struct rng r;
	struct llm_error err;
	size_t len, vlen;
	char *s, *v;

	(void)state;
	corpus_load(&c);
	rng_seed(&r, 0x5eed0002);
	for (int it = 0; it < ITERATIONS; it++) {
		s = make_input(&r, &c, &len);
		for (size_t i = 0; i < nitems(hnames); i++) {
			if (below(&r, 2) == 0)
				continue;
			v = make_input(&r, &c, &vlen);
			if (vlen > 40)
				v[40] = '\0';
			adtest_headers_add(&h, hnames[i], v);
			free(v);
		}
		for (size_t a = 0; a < nitems(adapters); a++) {
			adapters[a]->classify_error(statuses[below(&r, nitems(statuses))], &h, s,
			    len, &err);
			check_error(&err);
			assert_true(err.retry_after_ms >= -1);
		}
		adtest_headers_free(&h);
		free(s);
	}
	corpus_free(&c);
}

static void
test_fuzz_streams(void **state)
{
	struct corpus c;
	struct rng r;
	struct llm_response acc;
	struct llm_error err;
	struct adapter_stream *st;
	size_t len, off, n, total = 0;
	int rc, frc;
	char *s;

	(void)state;
	corpus_load(&c);
	rng_seed(&r, 0x5eed0003);
	for (int it = 0; it < ITERATIONS; it++) {
		s = make_input(&r, &c, &len);
		for (size_t a = 0; a < nitems(adapters); a++) {
			st = adapters[a]->stream_new();
			llm_response_init(&acc);
			llm_error_clear(&err);
			rc = 0;
			for (off = 0; off < len; off += n) {
				n = 1 + below(&r, 64);
				if (n > len - off)
					n = len - off;
				rc = adapters[a]->stream_feed(st, s + off, n, null_delta, &total,
				    &acc, &err);
				assert_true(rc >= -1 && rc <= 1);
				if (rc == -1)
					check_error(&err);
				/* Feeding on after the verdict is harmless and repeats it. */
				if (rc != 0 && below(&r, 4) == 0) {
					frc = adapters[a]->stream_feed(st, s, len, null_delta,
					    &total, &acc, &err);
					assert_int_equal(frc, rc);
				}
				if (rc != 0)
					break;
			}
			frc = adapters[a]->stream_finish(st, &acc, &err);
			assert_true(frc == 0 || frc == -1);
			if (frc == -1)
				check_error(&err);
			if (rc == 1)
				assert_int_equal(frc, 0);
			if (frc == 0)
				assert_non_null(acc.content);
			adapters[a]->stream_free(st);
			llm_response_free(&acc);
		}
		free(s);
	}
	corpus_free(&c);
}

static void
test_fuzz_sse(void **state)
{
	struct corpus c;
	struct rng r;
	struct sse_parser *p;
	size_t len, off, n, total = 0;
	char *s;

	(void)state;
	corpus_load(&c);
	rng_seed(&r, 0x5eed0004);
	for (int it = 0; it < ITERATIONS * 2; it++) {
		s = make_input(&r, &c, &len);
		p = sse_new();
		for (off = 0; off < len; off += n) {
			n = 1 + below(&r, 32);
			if (n > len - off)
				n = len - off;
			assert_int_equal(sse_feed(p, s + off, n, null_event, &total), 0);
		}
		assert_int_equal(sse_finish(p, null_event, &total), 0);
		sse_free(p);
		free(s);
	}
	corpus_free(&c);
}

static void
test_fuzz_retry_after(void **state)
{
	struct corpus c;
	struct rng r;
	size_t len;
	char *s;

	(void)state;
	corpus_load(&c);
	rng_seed(&r, 0x5eed0005);
	for (int it = 0; it < ITERATIONS; it++) {
		s = make_input(&r, &c, &len);
		assert_true(adapter_parse_retry_after(s, 0) >= -1);
		assert_true(adapter_parse_http_date(s) >= -1);
		free(s);
	}
	corpus_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fuzz_parse_response),
	    cmocka_unit_test(test_fuzz_classify),
	    cmocka_unit_test(test_fuzz_streams),
	    cmocka_unit_test(test_fuzz_sse),
	    cmocka_unit_test(test_fuzz_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
