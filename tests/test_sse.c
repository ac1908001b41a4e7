/* test_sse.c: the incremental SSE parser, fed in every kind of chunking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "adapter_testutil.h"
#include "provider/sse.h"
#include "util/util.h"

struct events {
	char *name[64];
	char *data[64];
	size_t len[64];
	int n;
	int stop_at; /* return stop_value on this event number (1-based), 0: never */
	int stop_value;
};

static int
collect(void *arg, const char *event, const char *data, size_t len)
{
	struct events *ev = arg;

	assert_true(ev->n < 64);
	assert_int_equal(data[len], '\0');
	ev->name[ev->n] = xstrdup(event);
	ev->data[ev->n] = xmalloc(len + 1);
	memcpy(ev->data[ev->n], data, len + 1);
	ev->len[ev->n] = len;
	ev->n++;
	if (ev->stop_at != 0 && ev->n == ev->stop_at)
		return ev->stop_value;
	return 0;
}

static void
events_free(struct events *ev)
{
	for (int i = 0; i < ev->n; i++) {
		free(ev->name[i]);
		free(ev->data[i]);
	}
	memset(ev, 0, sizeof *ev);
}

/* Parse s in chunks of chunk bytes (0: whole), then finish. Returns the last rc. */
static int
parse(const char *s, size_t len, size_t chunk, struct events *ev, int finish)
{
	struct sse_parser *p = sse_new();
	size_t off = 0, n;
	int rc = 0;

	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	while (off < len && rc == 0) {
		n = len - off < chunk ? len - off : chunk;
		rc = sse_feed(p, s + off, n, collect, ev);
		off += n;
	}
	if (rc == 0 && finish)
		rc = sse_finish(p, collect, ev);
	sse_free(p);
	return rc;
}

static void
expect(const struct events *ev, int i, const char *name, const char *data)
{
	assert_true(i < ev->n);
	assert_string_equal(ev->name[i], name);
	assert_string_equal(ev->data[i], data);
	assert_int_equal(ev->len[i], strlen(data));
}

static void
test_sse_basic_lf(void **state)
{
	const char *s = "event: a\ndata: one\n\ndata: two\n\n";
	struct events ev = {0};

	(void)state;
	assert_int_equal(parse(s, strlen(s), 0, &ev, 0), 0);
	assert_int_equal(ev.n, 2);
	expect(&ev, 0, "a", "one");
	expect(&ev, 1, "message", "two");
	events_free(&ev);
}

static void
test_sse_crlf_and_cr(void **state)
{
	const char *crlf = "event: a\r\ndata: one\r\n\r\ndata: two\r\n\r\n";
	const char *cr = "event: a\rdata: one\r\rdata: two\r\r";
	struct events ev = {0};

	(void)state;
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		assert_int_equal(parse(crlf, strlen(crlf), chunk, &ev, 0), 0);
		assert_int_equal(ev.n, 2);
		expect(&ev, 0, "a", "one");
		expect(&ev, 1, "message", "two");
		events_free(&ev);
		assert_int_equal(parse(cr, strlen(cr), chunk, &ev, 0), 0);
		assert_int_equal(ev.n, 2);
		expect(&ev, 0, "a", "one");
		expect(&ev, 1, "message", "two");
		events_free(&ev);
	}
}

static void
test_sse_multiline_data(void **state)
{
	const char *s = "data: line1\ndata: line2\ndata:\ndata:  indented\n\n";
	struct events ev = {0};

	(void)state;
	assert_int_equal(parse(s, strlen(s), 0, &ev, 0), 0);
	assert_int_equal(ev.n, 1);
	/* One leading space is stripped, not two; an empty data line adds an empty line. */
	expect(&ev, 0, "message", "line1\nline2\n\n indented");
	events_free(&ev);
}

static void
test_sse_comments_and_fields(void **state)
{
	const char *s = ": this is a comment\n:another\nid: 7\nretry: 1000\nfoo: bar\n"
	                "event: x\ndata: payload\n\n"
	                ": keepalive\n\n"
	                "event: nodata\n\n"
	                "data\n\n"
	                "data:no-space\n\n";
	struct events ev = {0};

	(void)state;
	assert_int_equal(parse(s, strlen(s), 0, &ev, 0), 0);
	assert_int_equal(ev.n, 3);
	expect(&ev, 0, "x", "payload");
	/* An event without data is not dispatched, and its name does not leak onward. */
	expect(&ev, 1, "message", "");
	expect(&ev, 2, "message", "no-space");
	events_free(&ev);
}

static void
test_sse_bom(void **state)
{
	const char *s = "\xef\xbb\xbf"
	                "data: x\n\n";
	struct events ev = {0};

	(void)state;
	assert_int_equal(parse(s, strlen(s), 1, &ev, 0), 0);
	assert_int_equal(ev.n, 1);
	expect(&ev, 0, "message", "x");
	events_free(&ev);
}

/* Every split point of a stream with every line-end style gives the same events. */
static void
test_sse_every_split(void **state)
{
	const char *s = ": hi\r\nevent: start\r\ndata: {\"a\":1}\r\n\r\nevent: delta\n"
	                "data: x\ndata: y\n\n\rdata: z\r\r\nevent: end\rdata: [DONE]\r\r";
	size_t len = strlen(s);
	struct events ev = {0};

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct sse_parser *p = sse_new();
		assert_int_equal(sse_feed(p, s, cut, collect, &ev), 0);
		assert_int_equal(sse_feed(p, s + cut, len - cut, collect, &ev), 0);
		assert_int_equal(sse_finish(p, collect, &ev), 0);
		sse_free(p);
		assert_int_equal(ev.n, 4);
		expect(&ev, 0, "start", "{\"a\":1}");
		expect(&ev, 1, "delta", "x\ny");
		expect(&ev, 2, "message", "z");
		expect(&ev, 3, "end", "[DONE]");
		events_free(&ev);
	}
	for (size_t chunk = 1; chunk <= 9; chunk++) {
		assert_int_equal(parse(s, len, chunk, &ev, 1), 0);
		assert_int_equal(ev.n, 4);
		expect(&ev, 3, "end", "[DONE]");
		events_free(&ev);
	}
}

/* A \r at a chunk's end and \n at the next one's start are one line end, not two. */
static void
test_sse_cr_lf_across_chunks(void **state)
{
	struct sse_parser *p = sse_new();
	struct events ev = {0};

	(void)state;
	assert_int_equal(sse_feed(p, "data: a\r", 8, collect, &ev), 0);
	assert_int_equal(sse_feed(p, "\n", 1, collect, &ev), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(sse_feed(p, "data: b\r", 8, collect, &ev), 0);
	assert_int_equal(sse_feed(p, "\n\r", 2, collect, &ev), 0);
	assert_int_equal(sse_feed(p, "\n", 1, collect, &ev), 0);
	assert_int_equal(ev.n, 1);
	expect(&ev, 0, "message", "a\nb");
	sse_free(p);
	events_free(&ev);
}

static void
test_sse_finish_flushes_unterminated(void **state)
{
	struct sse_parser *p = sse_new();
	struct events ev = {0};

	(void)state;
	const char *s = "event: last\ndata: {\"type\":\"x\"}";

	assert_int_equal(sse_feed(p, s, strlen(s), collect, &ev), 0);
	assert_int_equal(ev.n, 0);
	assert_int_equal(sse_finish(p, collect, &ev), 0);
	assert_int_equal(ev.n, 1);
	expect(&ev, 0, "last", "{\"type\":\"x\"}");
	assert_int_equal(sse_events(p), 1);
	sse_free(p);
	events_free(&ev);

	/* Nothing pending: finish does nothing. */
	p = sse_new();
	assert_int_equal(sse_feed(p, "data: a\n\n: c\n", 13, collect, &ev), 0);
	assert_int_equal(sse_finish(p, collect, &ev), 0);
	assert_int_equal(ev.n, 1);
	sse_free(p);
	events_free(&ev);
}

static void
test_sse_callback_stops(void **state)
{
	const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct sse_parser *p = sse_new();
	struct events ev = {0};

	(void)state;
	ev.stop_at = 2;
	ev.stop_value = 7;
	assert_int_equal(sse_feed(p, s, strlen(s), collect, &ev), 7);
	assert_int_equal(ev.n, 2);
	/* Stopped: further input is ignored and the verdict repeats. */
	assert_int_equal(sse_feed(p, s, strlen(s), collect, &ev), 7);
	assert_int_equal(sse_finish(p, collect, &ev), 7);
	assert_int_equal(ev.n, 2);
	assert_null(sse_error(p));
	sse_free(p);
	events_free(&ev);
}

static void
test_sse_too_large(void **state)
{
	struct sse_parser *p = sse_new();
	struct events ev = {0};
	size_t n = 1024 * 1024;
	char *big = xmalloc(n);
	int rc = 0;

	(void)state;
	memset(big, 'x', n);
	rc = sse_feed(p, "data: ", 6, collect, &ev);
	for (int i = 0; i < 12 && rc == 0; i++)
		rc = sse_feed(p, big, n, collect, &ev);
	assert_int_equal(rc, -1);
	assert_non_null(sse_error(p));
	assert_int_equal(ev.n, 0);
	free(big);
	sse_free(p);
}

static void
test_sse_embedded_nul(void **state)
{
	const char s[] = "data: a\0b\n\n";
	struct events ev = {0};

	(void)state;
	assert_int_equal(parse(s, sizeof s - 1, 1, &ev, 0), 0);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.len[0], 3);
	assert_memory_equal(ev.data[0], "a\0b", 3);
	events_free(&ev);
}

/* The recording ends without a final newline: finish still delivers message_stop. */
static void
test_sse_recorded_anthropic(void **state)
{
	static const char *const names[] = {"message_start", "content_block_start", "ping",
	    "content_block_delta", "content_block_delta", "content_block_delta",
	    "content_block_stop", "message_delta", "message_stop"};
	struct events ev = {0};
	size_t len, chunks[] = {1, 7, 0};
	char *s = adtest_read("anthropic_basic_stream.sse", &len);

	(void)state;
	assert_non_null(s);
	for (size_t c = 0; c < nitems(chunks); c++) {
		assert_int_equal(parse(s, len, chunks[c], &ev, 1), 0);
		assert_int_equal(ev.n, (int)nitems(names));
		for (int i = 0; i < ev.n; i++)
			assert_string_equal(ev.name[i], names[i]);
		expect(&ev, 8, "message_stop", "{\"type\":\"message_stop\"}");
		events_free(&ev);
	}
	free(s);
}

static void
test_sse_recorded_openai(void **state)
{
	struct events ev = {0};
	size_t len, chunks[] = {1, 7, 0};
	char *s = adtest_read("openai_recorded_stream_include_usage.sse", &len);

	(void)state;
	assert_non_null(s);
	for (size_t c = 0; c < nitems(chunks); c++) {
		assert_int_equal(parse(s, len, chunks[c], &ev, 1), 0);
		assert_int_equal(ev.n, 34);
		for (int i = 0; i < ev.n; i++)
			assert_string_equal(ev.name[i], "message");
		expect(&ev, 33, "message", "[DONE]");
		events_free(&ev);
	}
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sse_basic_lf),
	    cmocka_unit_test(test_sse_crlf_and_cr),
	    cmocka_unit_test(test_sse_multiline_data),
	    cmocka_unit_test(test_sse_comments_and_fields),
	    cmocka_unit_test(test_sse_bom),
	    cmocka_unit_test(test_sse_every_split),
	    cmocka_unit_test(test_sse_cr_lf_across_chunks),
	    cmocka_unit_test(test_sse_finish_flushes_unterminated),
	    cmocka_unit_test(test_sse_callback_stops),
	    cmocka_unit_test(test_sse_too_large),
	    cmocka_unit_test(test_sse_embedded_nul),
	    cmocka_unit_test(test_sse_recorded_anthropic),
	    cmocka_unit_test(test_sse_recorded_openai),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
