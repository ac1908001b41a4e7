/*
 * bench_store.c: what the store costs a request. ledger_record throughput and
 * latency (p50/p99) from 1 and 64 threads (group commit, writer at
 * synchronous=FULL); a request's budget work (budget_reserve, then its ledger
 * row settling the reservation) from 1 and 16 threads, with a reservation row
 * per request and with the handle's lease, and the SQLite write transactions
 * it took per 1,000 requests; cache_get hit latency. Prints
 * numbers; asserts nothing about time. The database lives in $TMPDIR (or /tmp):
 * on tmpfs fsync is free, so say where it ran. Then the ledger and budget
 * figures again on PostgreSQL, on a throwaway cluster of its own
 * (pg_testutil.h: a Unix socket, fsync off), when PostgreSQL is installed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/cache.h"
#include "store/ledger.h"
#include "store/store.h"
#include "pg_testutil.h"
#include "store/store_priv.h"
#include "util/util.h"

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *what, uint64_t *lat, size_t n, uint64_t wall_us)
{
	qsort(lat, n, sizeof *lat, cmp_u64);
	printf("%-34s %8zu ops %10.0f ops/s   p50 %7.1f us   p99 %8.1f us\n", what, n,
	    (double)n * 1e6 / (double)(wall_us ? wall_us : 1), (double)lat[n / 2],
	    (double)lat[n * 99 / 100]);
}

struct worker {
	struct store *s;
	uint64_t *lat;
	size_t n;
};

static void *
ledger_worker(void *arg)
{
	struct worker *w = arg;
	struct ledger_row r;
	char *cause = NULL;

	memset(&r, 0, sizeof r);
	strlcpy_(r.provider, "anthropic", sizeof r.provider);
	strlcpy_(r.model, "claude-sonnet", sizeof r.model);
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.cost_usd = 0.0002;
	for (size_t i = 0; i < w->n; i++) {
		uint64_t t0 = clock_mono_us();

		if (ledger_record(w->s, &r, 0, &cause) != 0)
			fatal("bench: %s", cause);
		w->lat[i] = clock_mono_us() - t0;
	}
	return NULL;
}

static void
bench_ledger(struct store *s, int threads, size_t per_thread)
{
	struct worker *w = xcalloc((size_t)threads, sizeof *w);
	pthread_t *th = xcalloc((size_t)threads, sizeof *th);
	uint64_t *all = xcalloc((size_t)threads * per_thread, sizeof *all), t0;
	char what[64];

	t0 = clock_mono_us();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){s, all + (size_t)i * per_thread, per_thread};
		pthread_create(&th[i], NULL, ledger_worker, &w[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	snprintf(what, sizeof what, "ledger_record, %d thread%s", threads, threads > 1 ? "s" : "");
	report(what, all, (size_t)threads * per_thread, clock_mono_us() - t0);
	free(all);
	free(th);
	free(w);
}

struct budget_worker {
	struct store *s;
	const struct budget_conf *bc;
	size_t n;
};

/* A request's budget work: reserve its upper bound, then its ledger row settles it. */
static void *
budget_worker(void *arg)
{
	struct budget_worker *w = arg;
	struct ledger_row r;
	char *cause = NULL;

	memset(&r, 0, sizeof r);
	strlcpy_(r.provider, "anthropic", sizeof r.provider);
	strlcpy_(r.model, "claude-sonnet", sizeof r.model);
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.cost_usd = 0.0002;
	for (size_t i = 0; i < w->n; i++) {
		int64_t id;

		if (budget_reserve(w->s, w->bc, 0.01, &id, &cause) != 0)
			fatal("bench: %s", cause);
		if (ledger_record(w->s, &r, id, &cause) != 0)
			fatal("bench: %s", cause);
	}
	return NULL;
}

/* On a handle of its own, so each run starts with no lease and returns its own at the end. */
static void
bench_budget(const char *path, const struct budget_conf *bc, int threads, size_t per_thread,
    int leases)
{
	struct budget_worker *w = xcalloc((size_t)threads, sizeof *w);
	pthread_t *th = xcalloc((size_t)threads, sizeof *th);
	uint64_t c0, w0, c1, w1, t0, us;
	size_t n = (size_t)threads * per_thread;
	char what[64], *cause = NULL;
	struct store *s;

	if (store_open(&s, path, &cause) != 0)
		fatal("bench: %s", cause);
	budget_set_leases(s, leases);
	store_commits(s, &c0, &w0);
	t0 = clock_mono_us();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct budget_worker){s, bc, per_thread};
		pthread_create(&th[i], NULL, budget_worker, &w[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	us = clock_mono_us() - t0;
	store_commits(s, &c1, &w1);
	store_close(s);
	snprintf(what, sizeof what, "reserve+settle, %d thread%s, %s", threads,
	    threads > 1 ? "s" : "", leases ? "leases" : "a row each");
	printf("%-42s %6zu ops %8.0f ops/s   write txns per 1000: %6.1f budget + %6.1f "
	       "ledger = %6.1f\n",
	    what, n, (double)n * 1e6 / (double)(us ? us : 1), (double)(c1 - c0) * 1000 / (double)n,
	    (double)(w1 - w0) * 1000 / (double)n, (double)(c1 - c0 + w1 - w0) * 1000 / (double)n);
	free(th);
	free(w);
}

/* The ledger's and the budget's figures on PostgreSQL (same requests, same threads). */
static void
bench_postgres(const struct budget_conf *bc)
{
	struct pgtest *pg;
	struct store *s;
	char *why = NULL, *url, *cause = NULL;

	if ((pg = pgtest_start(&why)) == NULL) {
		printf("postgres: skipped (%s)\n", why);
		free(why);
		return;
	}
	if ((url = pgtest_new_db(pg)) == NULL || store_open(&s, url, &cause) != 0)
		fatal("bench: postgres: %s", cause != NULL ? cause : "no database");
	printf("database postgres (a throwaway cluster on a Unix socket, fsync off)\n");
	bench_ledger(s, 1, 2000);
	bench_ledger(s, 64, 200);
	store_close(s);
	for (int leases = 0; leases <= 1; leases++) {
		bench_budget(url, bc, 1, 2000, leases);
		bench_budget(url, bc, 16, 250, leases);
	}
	free(url);
	pgtest_stop(pg);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/llmdeck-bench-XXXXXX", tmp != NULL ? tmp : "/tmp");
	struct budget_conf bc;
	struct cache_conf cc = {
	    .enabled = 1, .ttl_seconds = 3600, .max_temperature = 0.3, .max_entries = 10000};
	struct llm_response resp, out;
	struct store *s;
	char *path, *cause = NULL, key[65];
	uint64_t *lat, t0;
	size_t n = 2000;

	if (mkdtemp(dir) == NULL)
		fatal("bench: mkdtemp %s", dir);
	path = xasprintf("%s/bench.db", dir);
	if (store_open(&s, path, &cause) != 0)
		fatal("bench: %s", cause);
	printf("database %s\n", path);

	bench_ledger(s, 1, 2000);
	bench_ledger(s, 64, 200);

	memset(&bc, 0, sizeof bc);
	/* A budget a day of these requests would use: leases sized by the rate, not by the budget. */
	bc.daily_usd = 100;
	bc.alert_threshold = 0.8;
	bc.hard_stop = 1;
	lat = xcalloc(n, sizeof *lat);
	t0 = clock_mono_us();
	for (size_t i = 0; i < n; i++) {
		uint64_t t = clock_mono_us();
		int64_t id;

		if (budget_reserve(s, &bc, 0.01, &id, &cause) != 0)
			fatal("bench: %s", cause);
		lat[i] = clock_mono_us() - t;
		budget_release(s, id);
	}
	report("budget_reserve + release, lease", lat, n, clock_mono_us() - t0);
	for (int leases = 0; leases <= 1; leases++) {
		bench_budget(path, &bc, 1, 2000, leases);
		bench_budget(path, &bc, 16, 250, leases);
	}

	llm_response_init(&resp);
	resp.content = xstrdup("The answer is 4.");
	resp.model = xstrdup("claude-sonnet-4-20250514");
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "%064d", i);
		if (cache_put(s, &cc, key, "anthropic", "claude-sonnet", &resp) != 0)
			fatal("bench: cache_put");
	}
	t0 = clock_mono_us();
	for (size_t i = 0; i < n; i++) {
		uint64_t t = clock_mono_us();

		snprintf(key, sizeof key, "%064zu", i % 1000);
		if (cache_get(s, &cc, key, &out, NULL, NULL) != 1)
			fatal("bench: cache miss");
		lat[i] = clock_mono_us() - t;
		llm_response_free(&out);
	}
	report("cache_get hit (1000 entries)", lat, n, clock_mono_us() - t0);
	{
		struct llm_request r;

		llm_request_init(&r);
		llm_request_add_message(&r, LLM_ROLE_USER, "What is 2+2?");
		r.has_temperature = 1;
		t0 = clock_mono_us();
		for (size_t i = 0; i < n; i++) {
			uint64_t t = clock_mono_us();

			cache_key(&r, "claude-sonnet", key);
			lat[i] = clock_mono_us() - t;
		}
		report("cache_key (SHA-256 canonical)", lat, n, clock_mono_us() - t0);
		llm_request_free(&r);
	}
	llm_response_free(&resp);
	free(lat);
	store_close(s);
	unlink(path);
	{
		char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);

		unlink(wal);
		unlink(shm);
		free(wal);
		free(shm);
	}
	rmdir(dir);
	free(path);
	free(dir);
	bench_postgres(&bc);
	return 0;
}
