/*
 * responses.h: stored Responses API responses (`store: true`, OpenAI's
 * default), so that `previous_response_id` works whichever provider answered,
 * and GET / DELETE /v1/responses/{id} and its input_items can be served.
 *
 * A stored entry is one JSON text the gateway writes and reads back:
 * {"input": [items], "response": {the Response object}}, with "owner": the
 * client key's id when a key stored it (the gateway checks it on every read:
 * gateway_stored.c; the store never looks inside). It lives for the
 * configured TTL ("responses": {"ttl_seconds": N}, default 30 days, as OpenAI
 * keeps them). With a database every process on it reads what any other
 * stored; without one (--no-db) the entries live in this process's memory,
 * the newest RESP_STORE_MEMORY_MAX of them.
 *
 * Threads: resp_store_put never blocks (the row is committed by the store's
 * writer thread, in the ledger's group commit, and done runs there after the
 * commit); get and delete run on the caller's thread and may wait on SQLite:
 * not for the HTTP engine's thread. A handle is safe from any thread.
 */
#ifndef LLMDECK_RESPONSES_H
#define LLMDECK_RESPONSES_H

#include <stdint.h>

struct store;
struct resp_store;

#define RESP_STORE_TTL_DEFAULT (30 * 86400)
#define RESP_STORE_MEMORY_MAX 4096
/* A response id: "resp_" and hex digits, at most this long. */
#define RESP_STORE_ID_MAX 64

/* s NULL: in memory. ttl_seconds <= 0: the default. */
struct resp_store *resp_store_new(struct store *s, int ttl_seconds);
void resp_store_free(struct resp_store *);

/*
 * Keep json under id (both copied), replacing an entry of that id. done (may
 * be NULL) gets 0 once it is committed, -1 if it could not be, on the writer
 * thread (or at once in memory); it must not block.
 */
void resp_store_put(struct resp_store *, const char *id, const char *json,
    void (*done)(void *arg, int rc), void *arg);
/* The stored JSON (caller frees), or NULL: absent, expired or deleted. *err
 * (may be NULL) is set to 1 when the store could not be read (not the same as
 * absent). */
char *resp_store_get(struct resp_store *, const char *id, int *err);
/* 1 deleted, 0 no such entry, -1 the store failed. */
int resp_store_delete(struct resp_store *, const char *id);

#endif
