/*
 * sse.h: an incremental server-sent events parser (the WHATWG event-stream
 * format). Feed it the body in whatever chunks the network hands over; it
 * calls back once per complete event with the event name ("message" when the
 * server sent none) and the data lines joined by '\n'. Lines may end in \n,
 * \r\n or \r, split anywhere across chunks; lines starting with ':' are
 * comments; a leading UTF-8 BOM is skipped; id and retry fields are ignored.
 */
#ifndef LLMDECK_SSE_H
#define LLMDECK_SSE_H

#include <stddef.h>

/* Largest event (data plus the line being read) the parser will hold. */
#define SSE_MAX_EVENT (8u * 1024 * 1024)

struct sse_parser;

/*
 * Called per event. data is NUL-terminated (data_len excludes the NUL) and valid
 * only during the call. Return 0 to go on; anything else stops the parser, and
 * sse_feed() / sse_finish() return that value.
 */
typedef int (*sse_event_cb)(void *arg, const char *event, const char *data, size_t data_len);

struct sse_parser *sse_new(void);
void sse_free(struct sse_parser *);

/*
 * Feed len bytes. Returns 0, the first non-zero value of the callback, or -1
 * (sse_error() says why) if an event grew beyond SSE_MAX_EVENT or its name
 * holds a NUL byte. Once stopped the parser ignores further input and
 * returns the same value.
 */
int sse_feed(struct sse_parser *, const char *data, size_t len, sse_event_cb, void *arg);

/*
 * The stream ended: an unterminated last line is taken as a line and a pending
 * event is dispatched. The spec discards such an event, but real providers end
 * streams without the final blank line (see tests/data/recorded). Same returns
 * as sse_feed().
 */
int sse_finish(struct sse_parser *, sse_event_cb, void *arg);

/* Why sse_feed() returned -1 on its own account, or NULL. */
const char *sse_error(const struct sse_parser *);

/* Number of events dispatched so far. */
size_t sse_events(const struct sse_parser *);

#endif
