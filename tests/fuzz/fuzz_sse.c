/*
 * fuzz_sse.c: the SSE decoder (core/provider/sse.c). The input is fed in the
 * chunks its head asks for (fuzz_chunks), then once whole: both feeds must
 * hand over the same events, byte for byte, with the same verdict; every
 * event's data is NUL-terminated at its length and every name is non-empty.
 * A callback that stops the parser (after the event count the first byte's
 * high bits choose) must stop it for good.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "provider/sse.h"
#include "util/util.h"

struct events {
	struct buf log; /* name, NUL, 8-byte length, data: per event */
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static int
on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct events *ev = arg;
	uint64_t n = len;

	FUZZ_CHECK(event != NULL && event[0] != '\0');
	FUZZ_CHECK(data != NULL && data[len] == '\0');
	buf_append(&ev->log, event, strlen(event) + 1);
	buf_append(&ev->log, &n, sizeof n);
	buf_append(&ev->log, data, len);
	ev->n++;
	return ev->stop_after != 0 && ev->n == ev->stop_after ? 7 : 0;
}

/* Feed data in the chunks c asks for, then finish; the last verdict. */
static int
run(const uint8_t *data, size_t size, struct fuzz_chunks *c, struct events *ev, size_t *nev)
{
	struct sse_parser *p = sse_new();
	size_t off = 0, n;
	int rc = 0, again;

	while (off < size && rc == 0) {
		n = fuzz_chunks_next(c, size - off);
		rc = sse_feed(p, (const char *)data + off, n, on_event, ev);
		FUZZ_CHECK(rc == 0 || rc == 7 || rc == -1);
		FUZZ_CHECK(rc != -1 || sse_error(p) != NULL);
		off += n;
	}
	if (rc == 0)
		rc = sse_finish(p, on_event, ev);
	/* Stopped: it stays stopped, with the same value, and hands over nothing more. */
	if (rc != 0) {
		size_t before = ev->n;

		again = sse_feed(p, "data: x\n\n", 9, on_event, ev);
		FUZZ_CHECK(again == rc);
		FUZZ_CHECK(sse_finish(p, on_event, ev) == rc);
		FUZZ_CHECK(ev->n == before);
	}
	*nev = sse_events(p);
	sse_free(p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunks chunks, whole = {0};
	struct events a, b;
	size_t na, nb, stop_after = size > 0 ? data[0] >> 4 : 0;
	int ra, rb;

	fuzz_chunks_take(&chunks, &data, &size);
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	buf_init(&a.log);
	buf_init(&b.log);
	a.stop_after = b.stop_after = stop_after;
	ra = run(data, size, &chunks, &a, &na);
	rb = run(data, size, &whole, &b, &nb);
	FUZZ_CHECK(ra == rb);
	FUZZ_CHECK(na == nb && a.n == b.n && na == a.n);
	FUZZ_CHECK(a.log.len == b.log.len);
	FUZZ_CHECK(a.log.len == 0 || memcmp(a.log.data, b.log.data, a.log.len) == 0);
	fuzz_refused = ra == -1;
	buf_free(&a.log);
	buf_free(&b.log);
	return 0;
}
