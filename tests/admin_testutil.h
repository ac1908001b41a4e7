/*
 * admin_testutil.h: what the admin API and `serve` tests share: one HTTP
 * request (TCP or a Unix socket) with its status, body and JSON, a dotted
 * path into the JSON, a bounded poll, and the llmdeck binary as a child.
 */
#ifndef LLMDECK_ADMIN_TESTUTIL_H
#define LLMDECK_ADMIN_TESTUTIL_H

#include <sys/types.h>

#include <cjson/cJSON.h>
#include <stdint.h>

#include "util/util.h"

struct hreply {
	long status; /* -1: no response */
	struct buf body;
	struct buf headers; /* the response's header lines, as received */
	cJSON *json;        /* NULL if the body is not JSON */
};

/*
 * method url [body]: url is "http://..." or "unix:SOCKET:/path" (the path
 * sent over the Unix socket). auth: a bearer token or NULL. 20 s at most.
 */
void hreq(struct hreply *, const char *method, const char *url, const char *body, const char *auth);
/* The same with the request's header lines as given (NULL-terminated; "Name:" removes
 * one curl would add): no Content-Type or Authorization unless listed. */
void hreq_headers(struct hreply *, const char *method, const char *url, const char *body,
    const char *const headers[]);
void hreply_free(struct hreply *);

/* The item at "a.b.0.c" (array indices as numbers), or NULL. */
cJSON *jget(const cJSON *, const char *path);
/* Its number (a missing item fails the test), its string (or NULL). */
double jnum(const cJSON *, const char *path);
const char *jstr(const cJSON *, const char *path);

/* Sleep ms milliseconds (polls only: nothing to wait on across processes). */
void sleep_ms(long ms);

/* A file's whole contents (the test fails if it cannot be read). */
char *slurp(const char *path);

/*
 * Start the llmdeck binary ($LLMDECK, else build/llmdeck) with args (argv[0]
 * included, NULL-terminated), stdout to a pipe and stderr to err_path (NULL:
 * inherited). Waits for the line holding "listening on " and copies its URL
 * to url. Returns the pid.
 */
pid_t spawn_serve(const char *const args[], const char *err_path, char *url, size_t urllen);
/* Wait for pid to exit, at most ms milliseconds (then SIGKILL and fail); its exit status. */
int wait_exit(pid_t pid, long ms);

#endif
