/*
 * adapter_testutil.h: helpers for the adapter and SSE tests: recorded files,
 * chunked stream feeding, header lookup, hand-built confs and headers.
 */
#ifndef LLMDECK_ADAPTER_TESTUTIL_H
#define LLMDECK_ADAPTER_TESTUTIL_H

#include <stddef.h>

#include "provider/adapter.h"
#include "util/util.h"

/* A recorded file from tests/data/recorded ($LLMDECK_TESTDATA overrides); NULL if absent. */
char *adtest_read(const char *name, size_t *len);

/* What a stream decoder made of some bytes. */
struct adtest_stream {
	int feed_rc;      /* last stream_feed return */
	int finish_rc;    /* stream_finish return (2: not called) */
	int stopped_at;   /* bytes fed when feed first returned non-zero, -1 if never */
	struct buf text;  /* the text deltas, concatenated */
	int n_deltas;     /* text deltas */
	struct buf trace; /* every typed delta, a line each (adapter_testutil.c) */
	struct llm_response acc;
	struct llm_error err;
};
/* Feed len bytes in chunks of chunk (0: all at once), then finish if feeding returned 0. */
void adtest_run_stream(const struct adapter *, const char *data, size_t len, size_t chunk,
    struct adtest_stream *);
void adtest_stream_free(struct adtest_stream *);

/* a->build_request, asserted to succeed with a body that is one JSON value; the parsed body. */
struct cJSON *adtest_build(const struct adapter *a, const struct provider_conf *, const char *model,
    const struct llm_request *, int stream, struct adapter_http *);
/* The same on model m (its max_output_tokens). */
struct cJSON *
adtest_build_m(const struct adapter *a, const struct provider_conf *, const struct model_conf *m,
    const char *model, const struct llm_request *, int stream, struct adapter_http *);
/* a->parse_response on body, asserted to fail as LLM_ERR_MALFORMED with msg in the
 * message and no content; i numbers the case in the failure message. */
void adtest_expect_malformed(const struct adapter *a, const char *body, const char *msg, size_t i);

/* The value at a dotted path ("messages.1.content.0.type": keys and array
 * indexes) in j, or NULL. */
const struct cJSON *adtest_at(const struct cJSON *j, const char *path);
/* The string at path, asserted to be there. */
const char *adtest_str(const struct cJSON *j, const char *path);
/* The number at path, asserted to be there. */
double adtest_num(const struct cJSON *j, const char *path);

/* a->check_request: param NULL asserts it accepts; else that it refuses with that param
 * (and LLM_ERR_BAD_REQUEST). i numbers the case in the failure message. */
void adtest_check(const struct adapter *a, const struct provider_conf *, const struct model_conf *m,
    const char *model, const struct llm_request *, const char *param, int i);

/* A request with one user message, text copied. */
void adtest_request(struct llm_request *, const char *text);
/* A tool call part on an assistant message (strings copied). */
void adtest_add_tool_call(struct llm_message *, const char *id, const char *name, const char *args);
/* A tool result part with one text part on a user message. */
void adtest_add_tool_result(struct llm_message *, const char *id, const char *text, int is_error);

/* Value of header name in a built request (case-insensitive), or NULL. */
const char *adtest_header(const struct adapter_http *, const char *name);

/* A provider conf by hand (strings are not copied: keep them alive). */
struct provider_conf
adtest_conf(enum provider_kind, enum provider_flavor, const char *base_url, const char *api_key);

/* Response headers by hand. */
void adtest_headers_add(struct http_headers *, const char *name, const char *value);
void adtest_headers_free(struct http_headers *);

#endif
