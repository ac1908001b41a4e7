/*
 * events.c: a mutex-protected ring of recent events (see events.h).
 *
 * The event with sequence number seq lives in slot (seq - 1) % capacity, so
 * the ring holds seqs [last - count + 1, last] and needs no head index.
 * The sink is called after the lock is dropped, so it may take its own locks
 * or read the ring; with several writers it may see events out of seq order.
 * The watcher is called with the lock held, so that once event_ring_set_watch
 * returns the old watcher is never called again: it must be quick, must not
 * touch the ring, and its locks come after the ring's.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/events.h"
#include "util/util.h"

struct event_ring {
	pthread_mutex_t lock;
	struct event *slots;
	size_t capacity;
	size_t count;
	uint64_t last_seq;
	void (*sink)(void *, const struct event *);
	void *sink_arg;
	void (*watch)(void *);
	void *watch_arg;
};

static const char *const event_kind_names[EV__COUNT] = {
    [EV_INFO] = "info",
    [EV_FAILOVER] = "failover",
    [EV_BREAKER] = "breaker",
    [EV_OPERATOR] = "operator",
    [EV_BUDGET] = "budget",
    [EV_PROVIDER] = "provider",
    [EV_CACHE] = "cache",
    [EV_ERROR] = "error",
};

const char *
event_kind_name(enum event_kind kind)
{
	if ((int)kind < 0 || kind >= EV__COUNT)
		return "unknown";
	return event_kind_names[kind];
}

enum event_kind
event_kind_from_name(const char *name)
{
	for (int k = 0; k < EV__COUNT; k++)
		if (name != NULL && strcmp(event_kind_names[k], name) == 0)
			return (enum event_kind)k;
	return EV_INFO;
}

struct event_ring *
event_ring_new(size_t capacity)
{
	struct event_ring *r = xcalloc(1, sizeof *r);

	if (capacity == 0)
		capacity = 1;
	r->slots = xcalloc(capacity, sizeof *r->slots);
	r->capacity = capacity;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void
event_ring_free(struct event_ring *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r);
}

/* A string cut to fit must not end in half a UTF-8 character. */
static void
event_trim_utf8(char *s)
{
	size_t len = strlen(s), j = len, need;
	unsigned char lead;

	while (j > 0 && len - j < 3 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
		j--;
	if (j == 0)
		return;
	lead = (unsigned char)s[j - 1];
	if (lead < 0xc0)
		return; /* ASCII, or stray continuation bytes: leave them */
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (len - (j - 1) < need)
		s[j - 1] = '\0';
}

/* Put ev in the ring with the next sequence number; with the lock held. */
static void
event_put_locked(struct event_ring *r, struct event *ev)
{
	ev->seq = ++r->last_seq;
	r->slots[(ev->seq - 1) % r->capacity] = *ev;
	if (r->count < r->capacity)
		r->count++;
}

uint64_t
event_add(struct event_ring *r, enum event_kind kind, const char *provider, const char *fmt, ...)
{
	struct event ev;
	void (*sink)(void *, const struct event *);
	void *sink_arg;
	va_list ap;
	int n;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	if (provider != NULL &&
	    strlcpy_(ev.provider, provider, sizeof ev.provider) >= sizeof ev.provider)
		event_trim_utf8(ev.provider);
	va_start(ap, fmt);
	n = vsnprintf(ev.message, sizeof ev.message, fmt, ap);
	va_end(ap);
	if (n < 0)
		ev.message[0] = '\0';
	else if ((size_t)n >= sizeof ev.message)
		event_trim_utf8(ev.message);
	str_scrub_keys(ev.message); /* an upstream error quoted in an event */

	pthread_mutex_lock(&r->lock);
	ev.time_ms = clock_wall_ms();
	event_put_locked(r, &ev);
	sink = r->sink;
	sink_arg = r->sink_arg;
	if (r->watch != NULL)
		r->watch(r->watch_arg);
	pthread_mutex_unlock(&r->lock);

	if (sink != NULL)
		sink(sink_arg, &ev);
	return ev.seq;
}

uint64_t
event_import(struct event_ring *r, int64_t time_ms, enum event_kind kind, const char *provider,
    const char *message, const char *instance)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.time_ms = time_ms;
	if (provider != NULL &&
	    strlcpy_(ev.provider, provider, sizeof ev.provider) >= sizeof ev.provider)
		event_trim_utf8(ev.provider);
	if (message != NULL &&
	    strlcpy_(ev.message, message, sizeof ev.message) >= sizeof ev.message)
		event_trim_utf8(ev.message);
	if (instance != NULL &&
	    strlcpy_(ev.instance, instance, sizeof ev.instance) >= sizeof ev.instance)
		event_trim_utf8(ev.instance);
	pthread_mutex_lock(&r->lock);
	event_put_locked(r, &ev);
	if (r->watch != NULL)
		r->watch(r->watch_arg);
	pthread_mutex_unlock(&r->lock);
	return ev.seq;
}

/* Copy seqs first..first+n-1, which the caller checked are in the ring. */
static void
event_copy(struct event_ring *r, uint64_t first, struct event *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = r->slots[(first + i - 1) % r->capacity];
}

size_t
event_since(struct event_ring *r, uint64_t after, struct event *out, size_t max)
{
	uint64_t oldest, first;
	size_t n;

	pthread_mutex_lock(&r->lock);
	oldest = r->last_seq - r->count + 1;
	first = after + 1 > oldest ? after + 1 : oldest;
	if (after >= r->last_seq || max == 0) {
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	n = r->last_seq - first + 1 < max ? (size_t)(r->last_seq - first + 1) : max;
	event_copy(r, first, out, n);
	pthread_mutex_unlock(&r->lock);
	return n;
}

size_t
event_last(struct event_ring *r, struct event *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->count < max ? r->count : max;
	event_copy(r, r->last_seq - n + 1, out, n);
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t
event_last_seq(struct event_ring *r)
{
	uint64_t seq;

	pthread_mutex_lock(&r->lock);
	seq = r->last_seq;
	pthread_mutex_unlock(&r->lock);
	return seq;
}

void
event_ring_set_sink(struct event_ring *r, void (*sink)(void *, const struct event *), void *arg)
{
	pthread_mutex_lock(&r->lock);
	r->sink = sink;
	r->sink_arg = arg;
	pthread_mutex_unlock(&r->lock);
}

void
event_ring_set_watch(struct event_ring *r, void (*watch)(void *), void *arg)
{
	pthread_mutex_lock(&r->lock);
	r->watch = watch;
	r->watch_arg = arg;
	pthread_mutex_unlock(&r->lock);
}

void
event_ring_continue(struct event_ring *dst, struct event_ring *src)
{
	struct event *old, *mine;
	size_t n_old, n_mine, first;
	uint64_t src_last;

	old = xcalloc(src->capacity, sizeof *old);
	n_old = event_last(src, old, src->capacity);
	src_last = event_last_seq(src);
	pthread_mutex_lock(&dst->lock);
	n_mine = dst->count;
	mine = xcalloc(n_mine + 1, sizeof *mine);
	event_copy(dst, dst->last_seq - n_mine + 1, mine, n_mine);
	/* src's events keep their numbers (they are contiguous), then dst's own follow. */
	first = n_old > dst->capacity ? n_old - dst->capacity : 0;
	dst->count = 0;
	dst->last_seq = first < n_old ? old[first].seq - 1 : src_last;
	for (size_t i = first; i < n_old; i++)
		event_put_locked(dst, &old[i]);
	if (dst->last_seq < src_last)
		dst->last_seq = src_last;
	for (size_t i = 0; i < n_mine; i++)
		event_put_locked(dst, &mine[i]);
	pthread_mutex_unlock(&dst->lock);
	free(old);
	free(mine);
}
