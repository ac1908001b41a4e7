/*
 * bench_drill.c: issue 8's failover drill, timed. For each fault on the
 * primary: N requests at concurrency 16 (half streamed) with a 10 s deadline,
 * the client-visible failures, p50/p99, and how long the primary's breaker
 * took to open after the fault and to close after the fault was cleared
 * (probes every 2 s), and the requests answered after an attempt timed out
 * (a hang's fallback: how many, median and slowest, the limit the abandoned
 * attempt had). "bench_drill N static" runs with learned timeouts off
 * (today's rule before issue 19: half the time left); "bench_drill N MODE
 * PHASE" runs that phase alone, after a healthy run. Prints numbers; asserts
 * nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drill.h"
#include "util/util.h"

#define N_REQUESTS 320
#define CONCURRENCY 16

struct watch {
	struct router *r;
	volatile int stop;
	uint64_t t0_us;
	uint64_t open_us; /* first seen open, 0 if never */
};

static enum breaker_state
primary_state(struct router *r)
{
	struct router_snapshot s;
	enum breaker_state st;

	router_snapshot(r, &s);
	st = s.providers[0].breaker;
	router_snapshot_free(&s);
	return st;
}

static void *
watch_main(void *arg)
{
	struct watch *w = arg;
	struct timespec ts = {0, 5 * 1000 * 1000};

	while (!w->stop) {
		if (w->open_us == 0 && primary_state(w->r) == BREAKER_OPEN)
			w->open_us = clock_mono_us() - w->t0_us;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct testkit kit;
	struct router_opts ro;
	struct router *r;
	char *cause = NULL;
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : N_REQUESTS;
	int learn = !(argc > 2 && strcmp(argv[2], "static") == 0);
	const char *only = argc > 3 ? argv[3] : NULL;

	drill_kit(&kit, 10);
	kit.cfg.learn.enabled = learn;
	kit.cfg.breaker.failure_threshold = 5;
	kit.cfg.breaker.cooldown_ms = 30000;
	kit.cfg.breaker.probe_interval_ms = 2000;
	memset(&ro, 0, sizeof ro);
	ro.seed = 7;
	if ((r = router_new(&kit.cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "bench_drill: %s\n", cause);
		return 1;
	}
	printf("failover drill: %u requests per phase, c=%d, half streamed, 10 s deadline, "
	       "breaker 5 failures / 30 s, probes every 2 s, timeouts %s\n",
	    n, CONCURRENCY, learn ? "learned" : "static (half the time left)");
	printf("%-16s %5s %6s %6s %7s %6s %9s %9s %9s %10s %10s %5s %9s %9s %8s\n",
	    "fault on primary", "reqs", "failed", "broken", "silent", "prim%", "p50 ms", "p99 ms",
	    "max ms", "open ms", "closed ms", "t/o", "fb50 ms", "fbmax ms", "limit ms");
	if (only != NULL) {
		/* One phase: the primary's latency is learned from a healthy run first,
		 * as the earlier phases would have taught it. */
		struct drill_stats st;
		drill_run(r, n, CONCURRENCY, &st);
	}
	for (size_t i = 0; i < drill_n_phases; i++) {
		struct drill_stats st;
		struct watch w;
		pthread_t th;
		uint64_t t1, closed_us = 0;
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (only != NULL && strcmp(drill_phases[i].name, only) != 0)
			continue;
		memset(&w, 0, sizeof w);
		w.r = r;
		w.t0_us = clock_mono_us();
		testkit_control(&kit, 0, drill_phases[i].control);
		pthread_create(&th, NULL, watch_main, &w);
		drill_run(r, n, CONCURRENCY, &st);
		w.stop = 1;
		pthread_join(th, NULL);
		testkit_control(&kit, 0, "{\"fault\":\"none\",\"error_rate\":0,\"retry_after\":0}");
		t1 = clock_mono_us();
		while (primary_state(r) != BREAKER_CLOSED && clock_mono_us() - t1 < 60000000ULL)
			nanosleep(&ts, NULL);
		if (primary_state(r) == BREAKER_CLOSED)
			closed_us = clock_mono_us() - t1;
		printf("%-16s %5u %6u %6u %7u %5.0f%% %9.1f %9.1f %9.1f ", drill_phases[i].name,
		    st.requests, st.failed, st.streams_broken, st.silent_cuts,
		    100.0 * st.by_primary / (st.requests ? st.requests : 1), st.p50_us / 1e3,
		    st.p99_us / 1e3, st.max_us / 1e3);
		if (w.open_us)
			printf("%10.0f ", w.open_us / 1e3);
		else
			printf("%10s ", "-");
		if (!w.open_us)
			printf("%10s ", "-");
		else if (closed_us)
			printf("%10.0f ", closed_us / 1e3);
		else
			printf("%10s ", ">60000");
		if (st.after_timeout > 0)
			printf("%5u %9.1f %9.1f %8llu\n", st.after_timeout,
			    st.after_timeout_p50_us / 1e3, st.after_timeout_max_us / 1e3,
			    (unsigned long long)st.timeout_limit_ms);
		else
			printf("%5s %9s %9s %8s\n", "0", "-", "-", "-");
		if (st.first_failure[0] != '\0')
			printf("    first failure: %s\n", st.first_failure);
		fflush(stdout);
		router_reset_breaker(r, "primary", &cause);
	}
	router_free(r);
	testkit_free(&kit);
	/* The same drill the way an operator runs it: sims and `llmdeck serve`, curl clients. */
	fflush(stdout);
	if (argc <= 1 && system("sh tests/bench_drill_serve.sh") != 0)
		return 1;
	return 0;
}
