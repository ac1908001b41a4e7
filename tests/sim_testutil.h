/*
 * sim_testutil.h: helpers for the simulator tests (test_sim*.c): start a sim on
 * loopback, make blocking requests, read headers, JSON values and SSE lines.
 */
#ifndef LLMDECK_SIM_TESTUTIL_H
#define LLMDECK_SIM_TESTUTIL_H

#include <curl/curl.h>

#include "sim/sim.h"
#include "util/util.h"

struct cJSON;

/* A whole HTTP answer. */
struct simtest_resp {
	CURLcode rc;
	long status;
	struct buf body;
	struct buf hdrs;
};

void simtest_resp_free(struct simtest_resp *);
/* A libcurl write (and header) function appending to the struct buf at arg. */
size_t simtest_collect(char *p, size_t size, size_t n, void *arg);
/* One blocking request; hdrs is NULL-terminated "Name: value" lines; timeout_ms 0: 10 s. */
void simtest_http(const char *method, const char *url, const char **hdrs, const char *body,
    long timeout_ms, struct simtest_resp *);
/* A response header's value (case-insensitive name) into out, or NULL. */
const char *simtest_header(struct simtest_resp *, const char *name, char *out, size_t outsz);
/* A sim of protocol p on 127.0.0.1, seed 42, with key (NULL: none) and control JSON applied. */
struct sim *simtest_start(enum sim_protocol p, const char *key, const char *extra_json);
/* The sim's URL with path (caller frees). */
char *simtest_url(struct sim *, const char *path);
/* The body as JSON; fails the test if it is not. */
struct cJSON *simtest_parse(struct simtest_resp *);
/* The value at a dotted path ("content.0.text": numbers index arrays), or NULL. */
const struct cJSON *simtest_jpath(const struct cJSON *, const char *path);
const char *simtest_jstr(const struct cJSON *, const char *path);
/* The number at path, -1 if none. */
double simtest_jnum(const struct cJSON *, const char *path);
/* POST body to the sim's path: the status must be want; the answer parsed (NULL if not JSON). */
struct cJSON *simtest_post(struct sim *, const char *path, const char **hdrs, const char *body,
    long want, struct simtest_resp *);
/* The JSON of each "data: " line of an SSE body, in order ([DONE] left out). */
struct cJSON *simtest_sse_datas(const char *body);

/* Request headers with the keys the tests' sims take. */
extern const char *simtest_anth_hdrs[];
extern const char *simtest_oai_hdrs[];
extern const char *simtest_az_hdrs[];

#endif
