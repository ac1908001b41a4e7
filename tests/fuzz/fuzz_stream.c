/*
 * fuzz_stream.c: every adapter's stream decoder (Anthropic Messages events;
 * OpenAI chunks, shared by its flavours and Azure), fed in the chunks the
 * input's head asks for (fuzz_chunks) and then whole. Both feeds must reach
 * the same verdict, text, usage, stop reason, ids and error; the deltas
 * handed to the callback must add up to the content (see run()); a stream
 * that ended properly finishes with 0 and content; no token count is
 * negative; every error has a real class and a one-line message.
 * fuzz_refused is 1 when every decoder failed the stream.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "util/util.h"

static const struct adapter *const adapters[] = {
    &adapter_anthropic, &adapter_openai, &adapter_azure};

struct outcome {
	int feed_rc, finish_rc;
	struct buf deltas;
	struct llm_response acc;
	struct llm_error err;
};

/* Text deltas gathered (they must add up to the content); the others checked. */
static void
on_delta(void *arg, const struct llm_delta *d)
{
	struct buf *b = arg;

	if (d->type == LLM_DELTA_TOOL_CALL_START) {
		FUZZ_CHECK(d->id != NULL && d->name != NULL);
		return;
	}
	FUZZ_CHECK(d->len > 0);
	if (d->type == LLM_DELTA_TEXT)
		buf_append(b, d->text, d->len);
}

static void
check_error(const struct llm_error *err)
{
	FUZZ_CHECK(err->cls > LLM_OK && err->cls < LLM_ERR__COUNT);
	FUZZ_CHECK(memchr(err->type, '\0', sizeof err->type) != NULL);
	fuzz_check_message(err->message, sizeof err->message);
}

static void
run(const struct adapter *a, const uint8_t *data, size_t size, struct fuzz_chunks *c,
    struct outcome *o)
{
	struct adapter_stream *st = a->stream_new();
	const char *content;
	size_t off = 0, n;

	memset(o, 0, sizeof *o);
	buf_init(&o->deltas);
	buf_puts(&o->deltas, "");
	llm_response_init(&o->acc);
	llm_error_clear(&o->err);
	while (off < size && o->feed_rc == 0) {
		n = fuzz_chunks_next(c, size - off);
		o->feed_rc = a->stream_feed(st, (const char *)data + off, n, on_delta, &o->deltas,
		    &o->acc, &o->err);
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
	FUZZ_CHECK(o->acc.usage.input_tokens >= 0 && o->acc.usage.output_tokens >= 0);
	FUZZ_CHECK(o->acc.usage.cache_read_tokens >= 0 && o->acc.usage.cache_write_tokens >= 0);
	/* The deltas add up to the content. stream_finish() has no callback: the text of
	 * a last event it dispatches reaches only the content, and then the stream has
	 * been cut (no proper end can carry text), so the answer is an error anyway. */
	content = o->acc.content != NULL ? o->acc.content : "";
	FUZZ_CHECK(strncmp(o->deltas.data, content, o->deltas.len) == 0);
	FUZZ_CHECK(strcmp(o->deltas.data, content) == 0 || o->finish_rc == -1);
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
	buf_free(&o->deltas);
	llm_response_free(&o->acc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunks chunks, whole = {0};
	struct outcome x, y;
	int refused = 0;

	fuzz_chunks_take(&chunks, &data, &size);
	for (size_t i = 0; i < nitems(adapters); i++) {
		chunks.next = 0;
		run(adapters[i], data, size, &chunks, &x);
		run(adapters[i], data, size, &whole, &y);
		FUZZ_CHECK(x.feed_rc == y.feed_rc && x.finish_rc == y.finish_rc);
		FUZZ_CHECK(same_string(x.acc.content, y.acc.content));
		FUZZ_CHECK(same_string(x.acc.id, y.acc.id));
		FUZZ_CHECK(same_string(x.acc.model, y.acc.model));
		FUZZ_CHECK(same_string(x.acc.stop_raw, y.acc.stop_raw));
		FUZZ_CHECK(x.acc.stop == y.acc.stop);
		FUZZ_CHECK(memcmp(&x.acc.usage, &y.acc.usage, sizeof x.acc.usage) == 0);
		if (x.finish_rc != 0) {
			FUZZ_CHECK(x.err.cls == y.err.cls);
			FUZZ_CHECK(strcmp(x.err.message, y.err.message) == 0);
			refused++;
		}
		outcome_free(&x);
		outcome_free(&y);
	}
	fuzz_refused = refused == (int)nitems(adapters);
	return 0;
}
