/* test_events.c: the event ring: order, wrap-around, truncation, threads, sink. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/events.h"
#include "util/util.h"

/* 1 if s is well-formed UTF-8 (structure only, enough for truncation). */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int need, i;

	while (*p != '\0') {
		if (*p < 0x80)
			need = 0;
		else if (*p >= 0xf0)
			need = 3;
		else if (*p >= 0xe0)
			need = 2;
		else if (*p >= 0xc0)
			need = 1;
		else
			return 0;
		p++;
		for (i = 0; i < need; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void
test_kind_names(void **state)
{
	int k;

	(void)state;
	assert_string_equal(event_kind_name(EV_INFO), "info");
	assert_string_equal(event_kind_name(EV_FAILOVER), "failover");
	assert_string_equal(event_kind_name(EV_BREAKER), "breaker");
	assert_string_equal(event_kind_name(EV_ERROR), "error");
	for (k = 0; k < EV__COUNT; k++) {
		assert_non_null(event_kind_name((enum event_kind)k));
		assert_string_not_equal(event_kind_name((enum event_kind)k), "unknown");
	}
	assert_string_equal(event_kind_name(EV__COUNT), "unknown");
	assert_string_equal(event_kind_name((enum event_kind) - 1), "unknown");
}

static void
test_basic(void **state)
{
	struct event_ring *r = event_ring_new(8);
	struct event out[8];
	int64_t before, after;

	(void)state;
	assert_int_equal(event_last_seq(r), 0);
	assert_int_equal(event_last(r, out, 8), 0);
	assert_int_equal(event_since(r, 0, out, 8), 0);

	before = clock_wall_ms();
	assert_int_equal(event_add(r, EV_BREAKER, "openai", "breaker %s -> %s", "closed", "open"),
	    1);
	assert_int_equal(event_add(r, EV_OPERATOR, NULL, "drained %d", 3), 2);
	assert_int_equal(event_add(r, EV_INFO, "", "plain"), 3);
	after = clock_wall_ms();
	assert_int_equal(event_last_seq(r), 3);

	assert_int_equal(event_last(r, out, 8), 3);
	assert_int_equal(out[0].seq, 1);
	assert_int_equal(out[0].kind, EV_BREAKER);
	assert_string_equal(out[0].provider, "openai");
	assert_string_equal(out[0].message, "breaker closed -> open");
	assert_true(out[0].time_ms >= before && out[0].time_ms <= after);
	assert_int_equal(out[1].seq, 2);
	assert_string_equal(out[1].provider, "");
	assert_string_equal(out[1].message, "drained 3");
	assert_int_equal(out[2].seq, 3);
	assert_true(out[2].time_ms >= out[0].time_ms);

	assert_int_equal(event_since(r, 1, out, 8), 2);
	assert_int_equal(out[0].seq, 2);
	assert_int_equal(out[1].seq, 3);
	assert_int_equal(event_since(r, 3, out, 8), 0);
	assert_int_equal(event_since(r, 1000, out, 8), 0);
	assert_int_equal(event_since(r, 0, out, 0), 0);
	assert_int_equal(event_last(r, out, 0), 0);
	event_ring_free(r);
	event_ring_free(NULL);
}

static void
test_wrap(void **state)
{
	struct event_ring *r = event_ring_new(4);
	struct event out[16];
	size_t n, i;

	(void)state;
	for (i = 1; i <= 10; i++)
		assert_int_equal(event_add(r, EV_INFO, "p", "event %zu", i), i);

	n = event_last(r, out, 16);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		char want[32];

		assert_int_equal(out[i].seq, 7 + i);
		snprintf(want, sizeof want, "event %zu", 7 + i);
		assert_string_equal(out[i].message, want);
	}
	n = event_last(r, out, 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 9);
	assert_int_equal(out[1].seq, 10);

	/* A reader who fell behind gets what is still there, oldest first. */
	n = event_since(r, 2, out, 16);
	assert_int_equal(n, 4);
	assert_int_equal(out[0].seq, 7);
	assert_int_equal(out[3].seq, 10);
	assert_string_equal(out[3].message, "event 10");
	/* ... and a limited read gives the oldest ones, to be continued. */
	n = event_since(r, 0, out, 3);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].seq, 7);
	assert_int_equal(out[2].seq, 9);
	n = event_since(r, out[2].seq, out, 3);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].seq, 10);
	n = event_since(r, 8, out, 16);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 9);
	event_ring_free(r);
}

static void
test_capacity_zero(void **state)
{
	struct event_ring *r = event_ring_new(0);
	struct event out[4];

	(void)state;
	event_add(r, EV_INFO, NULL, "a");
	event_add(r, EV_INFO, NULL, "b");
	assert_int_equal(event_last(r, out, 4), 1);
	assert_int_equal(out[0].seq, 2);
	assert_string_equal(out[0].message, "b");
	event_ring_free(r);
}

static void
test_truncation(void **state)
{
	struct event_ring *r = event_ring_new(4);
	struct event out[1];
	char big[1024], prov[200];
	const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\xa5"};
	size_t c, shift, len;

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(prov, 'p', sizeof prov - 1);
	prov[sizeof prov - 1] = '\0';
	event_add(r, EV_ERROR, prov, "%s", big);
	assert_int_equal(event_last(r, out, 1), 1);
	assert_int_equal(strlen(out[0].provider), sizeof out[0].provider - 1);
	assert_int_equal(strlen(out[0].message), sizeof out[0].message - 1);
	assert_memory_equal(out[0].message, big, sizeof out[0].message - 1);

	/* Multi-byte characters at every alignment are cut whole. */
	for (c = 0; c < nitems(chars); c++) {
		for (shift = 0; shift < 4; shift++) {
			char s[600] = "";

			memset(s, 'a', shift);
			s[shift] = '\0';
			while (strlen(s) + 4 < sizeof s)
				strcat(s, chars[c]);
			event_add(r, EV_INFO, s, "%s", s);
			assert_int_equal(event_last(r, out, 1), 1);
			assert_true(utf8_valid(out[0].message));
			assert_true(utf8_valid(out[0].provider));
			len = strlen(out[0].message);
			assert_true(len <= sizeof out[0].message - 1);
			assert_true(len > sizeof out[0].message - 1 - 4);
			assert_memory_equal(out[0].message, s, len);
			len = strlen(out[0].provider);
			assert_true(len > sizeof out[0].provider - 1 - 4);
			assert_memory_equal(out[0].provider, s, len);
		}
	}
	event_ring_free(r);
}

/* A sink that collects seqs and, by reading the ring, proves no lock is held. */
struct collector {
	pthread_mutex_t lock;
	struct event_ring *ring;
	unsigned char *seen;
	size_t nseen;
	size_t calls;
	int dup;
};

static void
collector_sink(void *arg, const struct event *ev)
{
	struct collector *c = arg;
	struct event last[1];

	if (c->ring != NULL) {
		assert_true(event_last_seq(c->ring) >= ev->seq);
		assert_int_equal(event_last(c->ring, last, 1), 1);
	}
	pthread_mutex_lock(&c->lock);
	c->calls++;
	if (ev->seq == 0 || ev->seq > c->nseen || c->seen[ev->seq - 1])
		c->dup = 1;
	else
		c->seen[ev->seq - 1] = 1;
	pthread_mutex_unlock(&c->lock);
}

static void
test_sink(void **state)
{
	struct event_ring *r = event_ring_new(2);
	struct collector c;
	struct event out[2];
	size_t i;

	(void)state;
	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.lock, NULL);
	c.ring = r;
	c.nseen = 16;
	c.seen = xcalloc(c.nseen, 1);
	event_add(r, EV_INFO, NULL, "before the sink");
	event_ring_set_sink(r, collector_sink, &c);
	for (i = 0; i < 5; i++)
		event_add(r, EV_CACHE, "x", "with sink %zu", i);
	assert_int_equal(c.calls, 5);
	assert_int_equal(c.dup, 0);
	assert_int_equal(c.seen[0], 0);
	for (i = 1; i < 6; i++)
		assert_int_equal(c.seen[i], 1);
	event_ring_set_sink(r, NULL, NULL);
	event_add(r, EV_INFO, NULL, "after");
	assert_int_equal(c.calls, 5);
	assert_int_equal(event_last(r, out, 2), 2);
	assert_int_equal(out[1].seq, 7);
	free(c.seen);
	pthread_mutex_destroy(&c.lock);
	event_ring_free(r);
}

#define WRITERS 4
#define PER_WRITER 10000

struct writer {
	struct event_ring *ring;
	int id;
	uint64_t *seqs;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	int i;

	for (i = 0; i < PER_WRITER; i++)
		w->seqs[i] = event_add(w->ring, EV_INFO, "w", "writer %d event %d", w->id, i);
	return NULL;
}

struct reader {
	struct event_ring *ring;
	volatile int *stop;
	int bad;
	uint64_t last;
};

/* Reads as it goes: every batch is contiguous and newer than the last. */
static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	struct event out[64];
	size_t n, i;

	for (;;) {
		int done = __atomic_load_n(rd->stop, __ATOMIC_ACQUIRE);

		n = event_since(rd->ring, rd->last, out, nitems(out));
		for (i = 0; i < n; i++) {
			if (out[i].seq <= rd->last || (i > 0 && out[i].seq != out[i - 1].seq + 1))
				rd->bad = 1;
			if (strncmp(out[i].message, "writer ", 7) != 0)
				rd->bad = 1;
		}
		if (n > 0)
			rd->last = out[n - 1].seq;
		if (done && n == 0)
			break;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct event_ring *r = event_ring_new(256);
	struct writer w[WRITERS];
	pthread_t wt[WRITERS], rt;
	struct reader rd;
	struct collector c;
	unsigned char *got;
	volatile int stop = 0;
	size_t i, j;

	(void)state;
	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.lock, NULL);
	c.nseen = WRITERS * PER_WRITER;
	c.seen = xcalloc(c.nseen, 1);
	event_ring_set_sink(r, collector_sink, &c);

	memset(&rd, 0, sizeof rd);
	rd.ring = r;
	rd.stop = &stop;
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &rd), 0);
	for (i = 0; i < WRITERS; i++) {
		w[i].ring = r;
		w[i].id = (int)i;
		w[i].seqs = xcalloc(PER_WRITER, sizeof *w[i].seqs);
		assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_join(wt[i], NULL), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(rt, NULL), 0);

	/* Seqs are unique and exactly 1..N; each writer's are increasing. */
	got = xcalloc(c.nseen, 1);
	for (i = 0; i < WRITERS; i++) {
		for (j = 0; j < PER_WRITER; j++) {
			uint64_t s = w[i].seqs[j];

			assert_true(s >= 1 && s <= c.nseen);
			assert_int_equal(got[s - 1], 0);
			got[s - 1] = 1;
			if (j > 0)
				assert_true(s > w[i].seqs[j - 1]);
		}
		free(w[i].seqs);
	}
	for (i = 0; i < c.nseen; i++)
		assert_int_equal(got[i], 1);
	assert_int_equal(event_last_seq(r), c.nseen);

	/* The sink saw every event once. */
	assert_int_equal(c.calls, c.nseen);
	assert_int_equal(c.dup, 0);
	assert_memory_equal(c.seen, got, c.nseen);

	/* The reader saw well-formed, ordered batches up to the end. */
	assert_int_equal(rd.bad, 0);
	assert_int_equal(rd.last, c.nseen);

	free(got);
	free(c.seen);
	pthread_mutex_destroy(&c.lock);
	event_ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_wrap),
	    cmocka_unit_test(test_capacity_zero),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_sink),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
