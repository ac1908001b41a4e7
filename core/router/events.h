/*
 * events.h: an in-memory ring of recent events (failovers, breaker
 * transitions, operator actions, budget alerts). Thread-safe. When full, the
 * oldest event is dropped; every event has a sequence number so readers can
 * ask for what is new since the last one they saw. Events other processes
 * sharing the database wrote are imported into it, tagged with their
 * instance.
 */
#ifndef LLMDECK_EVENTS_H
#define LLMDECK_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config_limits.h"

enum event_kind {
	EV_INFO,
	EV_FAILOVER,
	EV_BREAKER,
	EV_OPERATOR,
	EV_BUDGET,
	EV_PROVIDER, /* misconfigured, probe results */
	EV_CACHE,
	EV_ERROR,
	EV__COUNT
};
const char *event_kind_name(enum event_kind);
/* The kind named name (event_kind_name's inverse); EV_INFO for any other word. */
enum event_kind event_kind_from_name(const char *name);

struct event {
	uint64_t seq;
	int64_t time_ms; /* wall clock */
	enum event_kind kind;
	char provider[LIMIT_NAME_SIZE]; /* may be empty */
	char message[256];
	char instance[64]; /* imported from another process: its instance id; "" for this one */
};

struct event_ring;

struct event_ring *event_ring_new(size_t capacity);
void event_ring_free(struct event_ring *);
/* Add an event; returns its sequence number. Also calls the sink, if set. */
uint64_t event_add(struct event_ring *, enum event_kind, const char *provider, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add another process's event as it was (its time and instance), without calling
 * the sink (it is in the database already); returns its sequence number. */
uint64_t event_import(struct event_ring *, int64_t time_ms, enum event_kind, const char *provider,
    const char *message, const char *instance);
/* Copy up to max events with seq > after, oldest first; returns how many. */
size_t event_since(struct event_ring *, uint64_t after, struct event *out, size_t max);
/* Copy the last max events, oldest first; returns how many. */
size_t event_last(struct event_ring *, struct event *out, size_t max);
uint64_t event_last_seq(struct event_ring *);
/* A sink called (under no lock of the caller's) for every event, e.g. the store. */
void
event_ring_set_sink(struct event_ring *, void (*sink)(void *, const struct event *), void *arg);
/* A watcher called after every event added or imported, e.g. to wake streams
 * waiting for events; NULL: none. It runs with the ring's lock held (so after
 * this returns the old one is never called again): quick, and not reading the ring. */
void event_ring_set_watch(struct event_ring *, void (*watch)(void *), void *arg);
/*
 * Carry src's events and sequence numbers over into dst (a new router's ring
 * replacing src's at a reload): dst then holds src's events, then its own
 * renumbered after them, so readers' "since seq" goes on working.
 */
void event_ring_continue(struct event_ring *dst, struct event_ring *src);

#endif
