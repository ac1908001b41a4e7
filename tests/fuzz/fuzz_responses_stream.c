/*
 * fuzz_responses_stream.c: the Responses API adapter's stream decoder and its
 * parser of a whole answer (adapter_openai_responses; Azure's shares both).
 * The input's head says how to cut the stream (fuzz_chunks); the rest is fed
 * in those chunks and then whole, and is also parsed as a whole answer.
 * Stream: both feeds reach the same verdict, content, trace of deltas, usage,
 * stop, ids and error; text deltas add up to the content; a stream that ended
 * properly finishes with 0; every delta is well formed (a tool call start has
 * an id and a name, its index counts the calls; a reasoning done has an id).
 * Parse: taken, there is content and no negative count; refused,
 * LLM_ERR_MALFORMED with a one-line message. fuzz_refused is 1 when both the
 * stream and the parser refused the input.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "util/util.h"

struct outcome {
	int feed_rc, finish_rc;
	int n_calls;
	struct buf text;  /* text deltas */
	struct buf trace; /* every delta */
	struct llm_response acc;
	struct llm_error err;
};

static void
on_delta(void *arg, const struct llm_delta *d)
{
	struct outcome *o = arg;

	buf_printf(&o->trace, "%d %zu %d ", (int)d->type, d->part, d->index);
	switch (d->type) {
	case LLM_DELTA_TOOL_CALL_START:
		FUZZ_CHECK(d->id != NULL && d->name != NULL);
		FUZZ_CHECK(d->index == o->n_calls);
		o->n_calls++;
		buf_printf(&o->trace, "%s %s\n", d->id, d->name);
		return;
	case LLM_DELTA_REASONING_DONE:
		FUZZ_CHECK(d->id != NULL && d->text != NULL && strlen(d->text) == d->len);
		buf_printf(&o->trace, "%s ", d->id);
		break;
	case LLM_DELTA_TEXT:
	case LLM_DELTA_THINKING:
	case LLM_DELTA_THINKING_SIGNATURE:
	case LLM_DELTA_REDACTED_THINKING:
	case LLM_DELTA_TOOL_CALL_ARGS: FUZZ_CHECK(d->len > 0); break;
	}
	if (d->type == LLM_DELTA_TEXT)
		buf_append(&o->text, d->text, d->len);
	buf_append(&o->trace, d->text, d->len);
	buf_puts(&o->trace, "\n");
}

static void
check_error(const struct llm_error *err)
{
	FUZZ_CHECK(err->cls > LLM_OK && err->cls < LLM_ERR__COUNT);
	FUZZ_CHECK(memchr(err->type, '\0', sizeof err->type) != NULL);
	fuzz_check_message(err->message, sizeof err->message);
}

static void
check_usage(const struct llm_usage *u)
{
	FUZZ_CHECK(u->input_tokens >= 0 && u->output_tokens >= 0);
	FUZZ_CHECK(u->cache_read_tokens >= 0 && u->cache_write_tokens >= 0);
	FUZZ_CHECK(u->reasoning_tokens >= 0);
}

static void
run(const struct adapter *a, const uint8_t *data, size_t size, struct fuzz_chunks *c,
    struct outcome *o)
{
	struct adapter_stream *st = a->stream_new();
	const char *content;
	size_t off = 0, n;

	memset(o, 0, sizeof *o);
	buf_init(&o->text);
	buf_puts(&o->text, "");
	buf_init(&o->trace);
	buf_puts(&o->trace, "");
	llm_response_init(&o->acc);
	llm_error_clear(&o->err);
	while (off < size && o->feed_rc == 0) {
		n = fuzz_chunks_next(c, size - off);
		o->feed_rc =
		    a->stream_feed(st, (const char *)data + off, n, on_delta, o, &o->acc, &o->err);
		FUZZ_CHECK(o->feed_rc >= -1 && o->feed_rc <= 1);
		off += n;
	}
	if (o->feed_rc == -1)
		check_error(&o->err);
	o->finish_rc = a->stream_finish(st, &o->acc, &o->err);
	FUZZ_CHECK(o->finish_rc == 0 || o->finish_rc == -1);
	if (o->feed_rc == 1)
		FUZZ_CHECK(o->finish_rc == 0);
	if (o->feed_rc == -1)
		FUZZ_CHECK(o->finish_rc == -1);
	if (o->finish_rc == 0)
		FUZZ_CHECK(o->acc.content != NULL);
	else
		check_error(&o->err);
	check_usage(&o->acc.usage);
	FUZZ_CHECK(o->acc.stop >= LLM_STOP_NONE && o->acc.stop <= LLM_STOP_OTHER);
	/* A call started by the event stream_finish() dispatches has no delta (no
	 * callback there), but then the stream was cut. */
	if (o->finish_rc == 0)
		FUZZ_CHECK(llm_response_tool_calls(&o->acc) == (size_t)o->n_calls);
	content = o->acc.content != NULL ? o->acc.content : "";
	FUZZ_CHECK(strncmp(o->text.data, content, o->text.len) == 0);
	FUZZ_CHECK(strcmp(o->text.data, content) == 0 || o->finish_rc == -1);
	a->stream_free(st);
}

static int
same_string(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void
outcome_free(struct outcome *o)
{
	buf_free(&o->text);
	buf_free(&o->trace);
	llm_response_free(&o->acc);
}

/* The parser of a whole answer; 1 if it refused. */
static int
parse(const struct adapter *a, const uint8_t *data, size_t size)
{
	struct llm_response out;
	struct llm_error err;
	int refused = 0;

	llm_response_init(&out);
	if (a->parse_response((const char *)data, size, &out, &err) == 0) {
		FUZZ_CHECK(out.content != NULL);
		FUZZ_CHECK(out.stop >= LLM_STOP_NONE && out.stop <= LLM_STOP_OTHER);
		check_usage(&out.usage);
		for (size_t i = 0; i < out.n_parts; i++) {
			if (out.parts[i].type == LLM_PART_TOOL_CALL)
				FUZZ_CHECK(out.parts[i].id != NULL && out.parts[i].name != NULL &&
				    out.parts[i].arguments != NULL);
			if (out.parts[i].type == LLM_PART_REASONING)
				FUZZ_CHECK(out.parts[i].id != NULL && out.parts[i].text != NULL &&
				    out.parts[i].data != NULL);
		}
	} else {
		FUZZ_CHECK(err.cls == LLM_ERR_MALFORMED);
		fuzz_check_message(err.message, sizeof err.message);
		FUZZ_CHECK(memchr(err.type, '\0', sizeof err.type) != NULL);
		FUZZ_CHECK(out.n_parts == 0 && out.content == NULL);
		refused = 1;
	}
	llm_response_free(&out);
	return refused;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct adapter *a = &adapter_openai_responses;
	struct fuzz_chunks chunks, whole = {0};
	struct outcome x, y;
	int refused;

	fuzz_chunks_take(&chunks, &data, &size);
	run(a, data, size, &chunks, &x);
	run(a, data, size, &whole, &y);
	FUZZ_CHECK(x.feed_rc == y.feed_rc && x.finish_rc == y.finish_rc);
	FUZZ_CHECK(same_string(x.acc.content, y.acc.content));
	FUZZ_CHECK(same_string(x.acc.id, y.acc.id));
	FUZZ_CHECK(same_string(x.acc.model, y.acc.model));
	FUZZ_CHECK(same_string(x.acc.stop_raw, y.acc.stop_raw));
	FUZZ_CHECK(x.acc.stop == y.acc.stop);
	FUZZ_CHECK(memcmp(&x.acc.usage, &y.acc.usage, sizeof x.acc.usage) == 0);
	FUZZ_CHECK(x.trace.len == y.trace.len &&
	    memcmp(x.trace.data, y.trace.data, x.trace.len) == 0);
	refused = x.finish_rc != 0;
	if (refused) {
		FUZZ_CHECK(x.err.cls == y.err.cls);
		FUZZ_CHECK(strcmp(x.err.message, y.err.message) == 0);
	}
	outcome_free(&x);
	outcome_free(&y);
	refused &= parse(a, data, size);
	fuzz_refused = refused;
	return 0;
}
