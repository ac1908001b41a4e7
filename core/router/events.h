/*
 * events.h: an in-memory ring of recent events (failovers, breaker
 * transitions, operator actions, budget alerts). Thread-safe. When full, the
 * oldest event is dropped; every event has a sequence number so readers can
 * ask for what is new since the last one they saw.
 */
#ifndef LLMDECK_EVENTS_H
#define LLMDECK_EVENTS_H

#include <stddef.h>
#include <stdint.h>

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

struct event {
	uint64_t seq;
	int64_t time_ms; /* wall clock */
	enum event_kind kind;
	char provider[64]; /* may be empty */
	char message[256];
};

struct event_ring;

struct event_ring *event_ring_new(size_t capacity);
void event_ring_free(struct event_ring *);
/* Add an event; returns its sequence number. Also calls the sink, if set. */
uint64_t event_add(struct event_ring *, enum event_kind, const char *provider, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Copy up to max events with seq > after, oldest first; returns how many. */
size_t event_since(struct event_ring *, uint64_t after, struct event *out, size_t max);
/* Copy the last max events, oldest first; returns how many. */
size_t event_last(struct event_ring *, struct event *out, size_t max);
uint64_t event_last_seq(struct event_ring *);
/* A sink called (under no lock of the caller's) for every event, e.g. the store. */
void
event_ring_set_sink(struct event_ring *, void (*sink)(void *, const struct event *), void *arg);

#endif
