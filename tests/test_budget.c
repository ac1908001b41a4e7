/*
 * test_budget.c: leases and reservations under thread and process races, lease
 * sizing, renewal, expiry, return and the fallback near the limit, rollover,
 * alerts (from the ledger's commit too), burn, ladder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/ledger.h"
#include "store/store.h"
#include "store/store_priv.h"
#include "store_testutil.h"
#include "util/util.h"

/* 2025-03-30 12:00:00 UTC */
#define NOON STTEST_NOON
#define MIN_MS 60000LL
#define EPS 1e-9

static struct budget_conf
conf(double daily)
{
	struct budget_conf c;

	memset(&c, 0, sizeof c);
	c.daily_usd = daily;
	c.alert_threshold = 0.8;
	c.hard_stop = 1;
	c.timezone = (char *)"UTC";
	c.pressure = 0.2;
	return c;
}

static void
spend(struct store *s, int64_t time_ms, double cost, int64_t resv)
{
	struct ledger_row r;
	char *cause = NULL;

	memset(&r, 0, sizeof r);
	r.time_ms = time_ms;
	strlcpy_(r.provider, "anthropic", sizeof r.provider);
	strlcpy_(r.model, "claude-sonnet", sizeof r.model);
	strlcpy_(r.outcome, "ok", sizeof r.outcome);
	r.cost_usd = cost;
	r.attempts = 1;
	assert_int_equal(ledger_record(s, &r, resv, &cause), 0);
}

static void
test_no_budget(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(0);
	struct budget_status st;
	char *cause = NULL;
	int64_t id = 99;

	spend(f->s, NOON, 1000, 0);
	assert_int_equal(budget_reserve(f->s, &c, 1e6, &id, &cause), 0);
	assert_int_equal(id, 0);
	budget_release(f->s, id);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.budget_usd == 0);
	assert_true(st.spent_usd == 1000);
	assert_int_equal(st.alert_crossed, 0);
	assert_int_equal(st.under_pressure, 0);
}

static void
test_reserve_refuse_release(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	char *cause = NULL;
	int64_t a, b;

	spend(f->s, NOON - MIN_MS, 0.5, 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.3, &a, &cause), 0);
	assert_true(a > 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.3, &b, &cause), 1);
	assert_int_equal(b, 0);
	assert_string_equal(cause,
	    "daily budget $1.00: spent $0.5000, reserved $0.3000, this "
	    "request needs up to $0.3000");
	free(cause);
	cause = NULL;
	budget_release(f->s, a);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.reserved_usd == 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.3, &b, &cause), 0);
	budget_release(f->s, b);

	/* exhausted: even a request of unknown (0) cost is refused */
	spend(f->s, NOON, 0.5, 0);
	assert_int_equal(budget_reserve(f->s, &c, 0, &b, &cause), 1);
	free(cause);
	cause = NULL;
	/* hard_stop off: never refused, still reserved */
	c.hard_stop = 0;
	assert_int_equal(budget_reserve(f->s, &c, 5, &b, &cause), 0);
	assert_true(b > 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.reserved_usd == 5);
	budget_release(f->s, b);
}

static void
test_bad_timezone(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	char *cause = NULL;
	int64_t id;

	c.timezone = (char *)"Mars/Olympus";
	assert_int_equal(budget_reserve(f->s, &c, 0.1, &id, &cause), -1);
	assert_non_null(strstr(cause, "Mars/Olympus"));
	free(cause);
	cause = NULL;
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), -1);
	free(cause);
}

/* The race: many reservers against a nearly spent budget, and a watcher of the invariant. */
struct race {
	struct store *s;
	struct budget_conf c;
	atomic_int stop;
	atomic_int granted, refused, errors;
	double worst; /* the watcher's largest spent + reserved + leased seen */
	int seed;
};

static void *
race_reserver(void *arg)
{
	struct race *r = arg;
	struct rng rng;
	int my_refusals = 0;

	rng_seed(&rng,
	    (uint64_t)atomic_fetch_add(&r->granted, 0) * 7919 + (uint64_t)getpid() +
	        (uint64_t)(uintptr_t)&rng);
	while (my_refusals < 20) {
		double upper = 0.001 + rng_double(&rng) * 0.02;
		char *cause = NULL;
		int64_t id;
		int rc = budget_reserve(r->s, &r->c, upper, &id, &cause);

		free(cause);
		if (rc == 1) {
			atomic_fetch_add(&r->refused, 1);
			my_refusals++;
			continue;
		}
		if (rc != 0) {
			atomic_fetch_add(&r->errors, 1);
			break;
		}
		atomic_fetch_add(&r->granted, 1);
		if (rng_next(&rng) % 8 == 0)
			budget_release(r->s, id); /* failed before any row */
		else {
			struct ledger_row row;

			memset(&row, 0, sizeof row);
			strlcpy_(row.provider, "p", sizeof row.provider);
			strlcpy_(row.model, "m", sizeof row.model);
			strlcpy_(row.outcome, "ok", sizeof row.outcome);
			row.cost_usd = upper * (0.5 + rng_double(&rng) / 2);
			if (ledger_record(r->s, &row, id, &cause) != 0) {
				atomic_fetch_add(&r->errors, 1);
				free(cause);
			}
		}
	}
	return NULL;
}

static void *
race_watcher(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		struct budget_status st;
		char *cause = NULL;

		if (budget_get_status(r->s, &r->c, &st, &cause) != 0) {
			atomic_fetch_add(&r->errors, 1);
			free(cause);
			continue;
		}
		if (st.spent_usd + st.reserved_usd + st.leased_usd > r->worst)
			r->worst = st.spent_usd + st.reserved_usd + st.leased_usd;
	}
	return NULL;
}

#define RACERS 64

/*
 * The other processes of the process races: this binary run again with --child
 * (fork then exec: a process with threads, the store's writer among them, must
 * not go on without exec after fork, and ThreadSanitizer refuses to).
 */
static pid_t
spawn_child(const char *mode, const char *path, double daily)
{
	char amount[32];
	pid_t pid;

	snprintf(amount, sizeof amount, "%.17g", daily);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_budget", "--child", mode, path, amount, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * race: 16 threads reserving and spending; reserve-and-die: exit holding a
 * reservation row; lease-and-die: exit holding a lease (and a request in it).
 */
static int
child_main(const char *mode, const char *path, double daily)
{
	struct budget_conf c = conf(daily);
	char *cause = NULL;
	struct store *s;
	struct race cr;
	pthread_t th[16];
	int64_t id;

	if (store_open(&s, path, &cause) != 0)
		return 2;
	if (strcmp(mode, "reserve-and-die") == 0)
		_exit(budget_reserve(s, &c, 0.9, &id, &cause) == 0 && id > 0 ? 0 : 1);
	if (strcmp(mode, "lease-and-die") == 0)
		_exit(budget_reserve(s, &c, 0.01, &id, &cause) == 0 && id < 0 ? 0 : 1);
	memset(&cr, 0, sizeof cr);
	cr.s = s;
	cr.c = c;
	for (int i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, race_reserver, &cr);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	store_close(s);
	return atomic_load(&cr.errors) == 0 ? 0 : 1;
}

/* RACERS threads on the fixture's store against daily, prespent of it already spent. */
static void
thread_race(struct sttest_store *f, double daily, double prespent)
{
	struct race r;
	pthread_t th[RACERS], w;
	struct budget_status st;
	char *cause = NULL;

	store_set_clock(f->s, NULL, NULL); /* real time: ledger rows land "now" */
	memset(&r, 0, sizeof r);
	r.s = f->s;
	r.c = conf(daily);
	if (prespent > 0)
		spend(f->s, 0 /* now */, prespent, 0);
	pthread_create(&w, NULL, race_watcher, &r);
	for (int i = 0; i < RACERS; i++)
		pthread_create(&th[i], NULL, race_reserver, &r);
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&r.stop, 1);
	pthread_join(w, NULL);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_true(atomic_load(&r.granted) > 0);
	assert_true(atomic_load(&r.refused) >= RACERS * 20);
	assert_true(r.worst <= daily + EPS);
	assert_int_equal(budget_get_status(f->s, &r.c, &st, &cause), 0);
	assert_true(st.spent_usd <= daily + EPS);
	assert_true(st.spent_usd > prespent);
	assert_true(st.spent_usd + st.leased_usd <= daily + EPS);
	assert_true(st.reserved_usd == 0);
	assert_true(st.lease_in_flight_usd == 0);
	print_message("%d threads from $%.2f: %d granted, %d refused, worst "
	              "spent+reserved+leased $%.6f, final spent $%.6f of $%.2f\n",
	    RACERS, prespent, atomic_load(&r.granted), atomic_load(&r.refused), r.worst,
	    st.spent_usd, daily);
}

/* Near the limit from the start: mostly reservation rows. */
static void
test_64_threads_never_overrun(void **state)
{
	thread_race(*state, 1.0, 0.9);
}

/* From nothing spent: leases first, reservation rows at the end. */
static void
test_64_threads_leases_never_overrun(void **state)
{
	thread_race(*state, 0.5, 0);
}

/* kids processes of 16 racing threads each, and this one watching (I). */
static void
process_race(struct sttest_store *f, int kids, double daily)
{
	struct budget_conf c = conf(daily);
	struct budget_status st;
	char *cause = NULL;
	pid_t pids[8];
	struct race r;
	pthread_t w;

	assert_true(kids <= 8);
	/* the fixture's store stays in the parent; children open their own */
	store_set_clock(f->s, NULL, NULL);
	for (int k = 0; k < kids; k++)
		pids[k] = spawn_child("race", f->path, c.daily_usd);
	memset(&r, 0, sizeof r);
	r.s = f->s;
	r.c = c;
	pthread_create(&w, NULL, race_watcher, &r);
	for (int k = 0; k < kids; k++) {
		int status;

		assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	atomic_store(&r.stop, 1);
	pthread_join(w, NULL);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_true(r.worst <= daily + EPS);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.spent_usd <= daily + EPS);
	assert_true(st.spent_usd > daily * 0.9);
	assert_true(st.reserved_usd == 0);
	assert_true(st.leased_usd == 0); /* every child returned its lease as it closed */
	print_message("%d processes: worst spent+reserved+leased $%.6f, final spent $%.6f of "
	              "$%.2f\n",
	    kids, r.worst, st.spent_usd, daily);
}

static void
test_two_processes_never_overrun(void **state)
{
	process_race(*state, 2, 2.0);
}

static void
test_four_processes_never_overrun(void **state)
{
	process_race(*state, 4, 1.0);
}

static void
test_day_rollover(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	char *cause = NULL;
	int64_t id;
	/* 2025-03-30 23:59:00 UTC */
	int64_t late = NOON + 12 * 60 * MIN_MS - MIN_MS;

	atomic_store(&f->now, late);
	spend(f->s, 0, 0.95, 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.2, &id, &cause), 1);
	free(cause);
	cause = NULL;
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_string_equal(st.day, "2025-03-30");
	assert_true(fabs(st.spent_usd - 0.95) < EPS);

	atomic_store(&f->now, late + 90000); /* 00:00:30 the next day */
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_string_equal(st.day, "2025-03-31");
	assert_true(st.spent_usd == 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.2, &id, &cause), 0);
	budget_release(f->s, id);

	/* the same instants in +02:00: 23:59 UTC is already the 31st there */
	c.timezone = (char *)"+02:00";
	atomic_store(&f->now, late);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_string_equal(st.day, "2025-03-31");
	assert_true(fabs(st.spent_usd - 0.95) < EPS);
	/* 21:59 UTC is 23:59 on the 30th there; the 0.95 row is tomorrow's */
	atomic_store(&f->now, late - 2 * 60 * MIN_MS);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_string_equal(st.day, "2025-03-30");
	assert_true(st.spent_usd == 0);

	/* spent-today is rebuilt from the ledger after a restart */
	store_close(f->s);
	assert_int_equal(store_open(&f->s, f->path, &cause), 0);
	store_set_clock(f->s, sttest_clock, f);
	c.timezone = NULL;
	atomic_store(&f->now, late);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.spent_usd - 0.95) < EPS);
}

static int
count_budget_events(struct store *s)
{
	struct store_event ev[64];
	int n = store_events_last(s, ev, 64), k = 0;

	for (int i = 0; i < n; i++)
		if (strcmp(ev[i].kind, "budget") == 0)
			k++;
	return k;
}

static void
test_alert_once_per_day(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	struct store_event ev[4];
	char *cause = NULL;
	int64_t id;

	c.alert_threshold = 0.5;
	spend(f->s, 0, 0.4, 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_int_equal(st.alert_crossed, 0);
	assert_int_equal(count_budget_events(f->s), 0);
	spend(f->s, 0, 0.2, 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.01, &id, &cause), 0);
	budget_release(f->s, id);
	assert_int_equal(count_budget_events(f->s), 1);
	assert_int_equal(store_events_last(f->s, ev, 1), 1);
	assert_non_null(strstr(ev[0].message, "daily budget alert"));
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_int_equal(st.alert_crossed, 1);
	spend(f->s, 0, 0.1, 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.01, &id, &cause), 0);
	budget_release(f->s, id);
	assert_int_equal(count_budget_events(f->s), 1);
	/* a new day, a new alert */
	atomic_store(&f->now, NOON + 24 * 60 * MIN_MS);
	spend(f->s, 0, 0.6, 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_int_equal(count_budget_events(f->s), 2);
}

static void
test_stale_reservations(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	char *cause = NULL;
	int64_t id;
	pid_t pid;
	int status;

	/* too old: ignored, then cleaned */
	assert_int_equal(budget_reserve(f->s, &c, 0.9, &id, &cause), 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.2, &id, &cause), 1);
	free(cause);
	cause = NULL;
	atomic_store(&f->now, NOON + 16 * MIN_MS);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.reserved_usd == 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.2, &id, &cause), 0);
	budget_release(f->s, id);

	/* held by a process that died: ignored */
	store_set_clock(f->s, NULL, NULL);
	pid = spawn_child("reserve-and-die", f->path, c.daily_usd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.reserved_usd == 0);
	assert_int_equal(budget_reserve(f->s, &c, 0.9, &id, &cause), 0);
	budget_release(f->s, id);
}

/* Leases: what the database holds, and the caller connection's write transactions. */
static double
lease_sum(struct sttest_store *f)
{
	return sttest_sql_double(f->path, "SELECT TOTAL(amount_usd) FROM budget_leases");
}

static int64_t
lease_rows(struct sttest_store *f)
{
	return sttest_sql_int64(f->path, "SELECT COUNT(*) FROM budget_leases");
}

static uint64_t
caller_commits(struct store *s)
{
	uint64_t caller, writer;

	store_commits(s, &caller, &writer);
	return caller;
}

static int64_t
reserve_ok(struct store *s, const struct budget_conf *c, double upper)
{
	char *cause = NULL;
	int64_t id = 0;

	if (budget_reserve(s, c, upper, &id, &cause) != 0)
		fail_msg("budget_reserve: %s", cause != NULL ? cause : "refused");
	return id;
}

/*
 * Sizing: the first lease is a few upper bounds (or a ten-thousandth of the
 * budget); requests then reserve in memory, no write; a lease used up at once
 * doubles; then BUDGET_LEASE_SECONDS (5) of the recent spend; at most half of
 * what is free.
 */
static void
test_lease_sizing(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(100);
	struct budget_status st;
	char *cause = NULL;
	int64_t ids[16];
	uint64_t commits;

	ids[0] = reserve_ok(f->s, &c, 0.01);
	assert_true(ids[0] < 0);
	assert_int_equal(lease_rows(f), 1);
	assert_true(fabs(lease_sum(f) - 0.04) < EPS); /* 4 upper bounds */
	commits = caller_commits(f->s);
	for (int i = 1; i < 4; i++)
		assert_true((ids[i] = reserve_ok(f->s, &c, 0.01)) < 0);
	assert_int_equal(caller_commits(f->s), commits); /* in memory */
	ids[4] = reserve_ok(f->s, &c, 0.01);             /* used up at once: doubled */
	assert_int_equal(caller_commits(f->s), commits + 1);
	assert_true(fabs(lease_sum(f) - (0.04 + 0.08)) < EPS);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.leased_usd - 0.12) < EPS);
	assert_true(fabs(st.lease_in_flight_usd - 0.05) < EPS);
	assert_true(st.reserved_usd == 0 && st.spent_usd == 0);
	for (int i = 0; i < 5; i++)
		budget_release(f->s, ids[i]);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.lease_in_flight_usd == 0);
	assert_true(fabs(st.leased_usd - 0.12) < EPS); /* released in memory, still leased */

	/* $0.12 spent through the lease in one second: the next lease is 5 s of that */
	for (int i = 0; i < 12; i++)
		spend(f->s, 0, 0.01, reserve_ok(f->s, &c, 0.01));
	assert_true(fabs(lease_sum(f)) < EPS);
	atomic_fetch_add(&f->now, 1000);
	assert_true(reserve_ok(f->s, &c, 0.01) < 0);
	assert_true(fabs(lease_sum(f) - 0.6) < EPS);

	/* near the end, a lease takes at most half of what is free */
	spend(f->s, 0, 99.5, 0);
	atomic_fetch_add(&f->now, BUDGET_LEASE_TTL_MS / 2); /* time to renew */
	assert_true(reserve_ok(f->s, &c, 0.01) < 0);
	/* free: 100 - 99.62 spent; the lease keeps 0.01 in flight and takes half the rest */
	assert_true(fabs(lease_sum(f) - (0.01 + (100 - 99.62 - 0.01) / 2 + 0.0)) < 1e-6);
}

/* A lease's requests settle in memory and in the ledger's commit: spent + leased stays put. */
static void
test_lease_settle_moves_cost(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(10);
	struct budget_status st;
	char *cause = NULL;
	int64_t a, b, d;
	double leased;

	a = reserve_ok(f->s, &c, 0.01);
	b = reserve_ok(f->s, &c, 0.01);
	d = reserve_ok(f->s, &c, 0.01);
	assert_true(a < 0 && b < 0 && d < 0 && a != b && b != d);
	leased = lease_sum(f);
	spend(f->s, 0, 0.004, a);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.spent_usd - 0.004) < EPS);
	assert_true(fabs(st.leased_usd - (leased - 0.004)) < EPS);
	assert_true(fabs(st.lease_in_flight_usd - 0.02) < EPS);
	budget_release(f->s, b);
	budget_release(f->s, b); /* twice: ignored */
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.lease_in_flight_usd - 0.01) < EPS);
	spend(f->s, 0, 0.01, d);
	spend(f->s, 0, 0.01, d); /* settled already: the row is spend, the lease is not charged */
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.spent_usd - 0.024) < EPS);
	assert_true(fabs(st.leased_usd - (leased - 0.014)) < EPS);
	assert_true(st.lease_in_flight_usd == 0);
}

/* Leases held by nobody: store_close returns the handle's. */
static void
test_lease_returned_on_close(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(10);
	char *cause = NULL;

	assert_true(reserve_ok(f->s, &c, 0.01) < 0);
	assert_int_equal(lease_rows(f), 1);
	store_close(f->s);
	assert_int_equal(lease_rows(f), 0);
	assert_int_equal(store_open(&f->s, f->path, &cause), 0);
	store_set_clock(f->s, sttest_clock, f);
}

/*
 * Expiry: a dead process's lease counts until it expires, then frees; a live
 * one's counts past expiry (a long request in flight) until the reservations'
 * TTL.
 */
static void
test_lease_expiry(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(100);
	struct budget_status st;
	struct store *g;
	char *cause = NULL;
	int64_t t0;
	pid_t pid;
	int status;

	/* the child runs on the real clock */
	pid = spawn_child("lease-and-die", f->path, c.daily_usd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t0 = clock_wall_ms();
	atomic_store(&f->now, t0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.leased_usd - 0.04) < EPS);
	atomic_store(&f->now, t0 + BUDGET_LEASE_TTL_MS + 1000);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.leased_usd == 0);
	assert_int_equal(lease_rows(f), 1);
	assert_true(reserve_ok(f->s, &c, 0.01) < 0); /* cleans it, leases its own */
	assert_int_equal(lease_rows(f), 1);
	assert_true(fabs(lease_sum(f) - 0.04) < EPS);

	/* a second handle in this live process */
	assert_int_equal(store_open(&g, f->path, &cause), 0);
	store_set_clock(g, sttest_clock, f);
	assert_true(reserve_ok(g, &c, 0.02) < 0);
	assert_true(fabs(lease_sum(f) - 0.12) < EPS);
	atomic_fetch_add(&f->now, BUDGET_LEASE_TTL_MS + 1000);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.leased_usd - 0.12) < EPS);
	atomic_fetch_add(&f->now, BUDGET_RESERVATION_TTL_MS);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(st.leased_usd == 0);
	store_close(g);
}

/* Renewed past half its life, re-sized on a new day; requests in flight stay covered. */
static void
test_lease_renewal_and_day_change(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(100);
	struct budget_status st;
	char *cause = NULL;
	int64_t late = NOON + 12 * 60 * MIN_MS - 2 * MIN_MS; /* 23:58 */
	uint64_t commits;
	int64_t a;

	atomic_store(&f->now, late);
	a = reserve_ok(f->s, &c, 0.01);
	assert_int_equal(sttest_sql_int64(f->path, "SELECT expires_ms FROM budget_leases"),
	    late + BUDGET_LEASE_TTL_MS);
	commits = caller_commits(f->s);
	atomic_store(&f->now, late + BUDGET_LEASE_TTL_MS / 2 - 1);
	budget_release(f->s, reserve_ok(f->s, &c, 0.01));
	assert_int_equal(caller_commits(f->s), commits);
	atomic_store(&f->now, late + BUDGET_LEASE_TTL_MS / 2);
	budget_release(f->s, reserve_ok(f->s, &c, 0.01));
	assert_int_equal(caller_commits(f->s), commits + 1);
	assert_int_equal(sttest_sql_int64(f->path, "SELECT expires_ms FROM budget_leases"),
	    late + BUDGET_LEASE_TTL_MS / 2 + BUDGET_LEASE_TTL_MS);

	/* 00:00:30 the next day: a new grant, the request of 23:58 still covered */
	atomic_store(&f->now, late + 2 * MIN_MS + 30000);
	budget_release(f->s, reserve_ok(f->s, &c, 0.01));
	assert_int_equal(caller_commits(f->s), commits + 2);
	assert_int_equal(sttest_sql_int64(f->path, "SELECT granted_ms FROM budget_leases"),
	    late + 2 * MIN_MS + 30000);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_string_equal(st.day, "2025-03-31");
	assert_true(fabs(st.lease_in_flight_usd - 0.01) < EPS);
	assert_true(st.leased_usd >= 0.01);
	spend(f->s, 0, 0.01, a);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.spent_usd - 0.01) < EPS);
}

/* Near the limit the lease is returned and each request takes a reservation row. */
static void
test_lease_near_limit_fallback(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(1.0);
	struct budget_status st;
	struct store *g;
	char *cause = NULL;
	int64_t a, b;

	a = reserve_ok(f->s, &c, 0.01);
	assert_true(a < 0);
	assert_true(fabs(lease_sum(f) - 0.04) < EPS);
	budget_release(f->s, a);
	/* another process spends: 0.1 left, under 16 upper bounds of 0.01 */
	assert_int_equal(store_open(&g, f->path, &cause), 0);
	store_set_clock(g, sttest_clock, f);
	spend(g, 0, 0.9, 0);
	store_close(g);
	/* the lease still has room until its renewal */
	budget_release(f->s, reserve_ok(f->s, &c, 0.01));
	atomic_fetch_add(&f->now, BUDGET_LEASE_TTL_MS / 2);
	a = reserve_ok(f->s, &c, 0.01);
	assert_true(a > 0);
	assert_int_equal(lease_rows(f), 0);
	b = reserve_ok(f->s, &c, 0.05);
	assert_true(b > 0);
	assert_int_equal(sttest_sql_int64(f->path, "SELECT COUNT(*) FROM reservations"), 2);
	assert_int_equal(budget_reserve(f->s, &c, 0.05, &b, &cause), 1);
	assert_string_equal(cause,
	    "daily budget $1.00: spent $0.9000, reserved $0.0600, this request needs up to "
	    "$0.0500");
	free(cause);
	cause = NULL;
	spend(f->s, 0, 0.005, a);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.reserved_usd - 0.05) < EPS);
	assert_true(st.leased_usd == 0);
	/* unpriced requests (upper bound 0) too, until it is spent */
	assert_true(reserve_ok(f->s, &c, 0) != 0);
}

/* The ledger's commit writes the day's alert when this handle's spend crosses it. */
static void
test_alert_from_ledger_commit(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(100);
	int64_t id;

	c.alert_threshold = 0.5;
	spend(f->s, 0, 49.5, 0);
	id = reserve_ok(f->s, &c, 0.5);
	assert_true(id < 0);
	assert_int_equal(count_budget_events(f->s), 0);
	spend(f->s, 0, 0.5, id); /* 50.0: no budget call in between */
	assert_int_equal(count_budget_events(f->s), 1);
	id = reserve_ok(f->s, &c, 0.5);
	spend(f->s, 0, 0.5, id);
	assert_int_equal(count_budget_events(f->s), 1);
}

static void
test_burn_and_projection(void **state)
{
	struct sttest_store *f = *state;
	struct budget_conf c = conf(10.0);
	struct budget_status st;
	char *cause = NULL;

	spend(f->s, NOON - 2 * MIN_MS, 0.1, 0);
	spend(f->s, NOON - 30 * MIN_MS, 0.2, 0);
	spend(f->s, NOON - 3 * 60 * MIN_MS, 0.5, 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_true(fabs(st.spent_usd - 0.8) < EPS);
	assert_true(fabs(st.burn_5m_per_hour - 1.2) < EPS);
	assert_true(fabs(st.burn_60m_per_hour - 0.3) < EPS);
	assert_true(fabs(st.projected_usd - (0.8 + 0.3 * 12)) < EPS);
	assert_int_equal(st.under_pressure, 0);
	spend(f->s, NOON - MIN_MS, 7.5, 0);
	assert_int_equal(budget_get_status(f->s, &c, &st, &cause), 0);
	assert_int_equal(st.under_pressure, 1);
	assert_int_equal(st.alert_crossed, 1);
}

static void
test_choose_model(void **state)
{
	struct budget_conf c = conf(10.0);
	struct downgrade_step ladder[] = {{(char *)"claude-sonnet", (char *)"claude-haiku"},
	    {(char *)"gpt-4o", (char *)"gpt-4o-mini"}};
	struct budget_status calm, tight;
	char why[256];

	(void)state;
	c.ladder = ladder;
	c.n_ladder = 2;
	c.tier_high_complex = (char *)"claude-opus";
	c.tier_high = (char *)"claude-sonnet";
	c.tier_standard = (char *)"claude-sonnet";
	c.tier_low = (char *)"claude-haiku";
	memset(&calm, 0, sizeof calm);
	tight = calm;
	tight.under_pressure = 1;
	tight.spent_usd = 9;
	tight.budget_usd = 10;

	assert_string_equal(budget_choose_model(&c, &calm, "gpt-4o", "high", "complex", why,
	                        sizeof why),
	    "claude-opus");
	assert_string_equal(budget_choose_model(&c, &tight, "gpt-4o", "high", "simple", why,
	                        sizeof why),
	    "claude-sonnet");
	assert_non_null(strstr(why, "never downgraded"));
	assert_string_equal(budget_choose_model(&c, &calm, NULL, "standard", NULL, why, sizeof why),
	    "claude-sonnet");
	assert_string_equal(budget_choose_model(&c, &tight, NULL, "standard", NULL, why,
	                        sizeof why),
	    "claude-haiku");
	assert_non_null(strstr(why, "pressure"));
	assert_string_equal(budget_choose_model(&c, &calm, "gpt-4o", "low", NULL, why, sizeof why),
	    "claude-haiku");
	/* no quality: the request's alias, one ladder step down under pressure */
	assert_string_equal(budget_choose_model(&c, &calm, "gpt-4o", NULL, NULL, why, sizeof why),
	    "gpt-4o");
	assert_string_equal(why, "gpt-4o as requested");
	assert_string_equal(budget_choose_model(&c, &tight, "gpt-4o", NULL, NULL, why, sizeof why),
	    "gpt-4o-mini");
	assert_non_null(strstr(why, "gpt-4o -> gpt-4o-mini"));
	assert_string_equal(budget_choose_model(&c, &tight, "claude-haiku", NULL, NULL, why,
	                        sizeof why),
	    "claude-haiku");
	assert_null(budget_choose_model(&c, &tight, NULL, NULL, NULL, why, sizeof why));
	assert_string_equal(budget_choose_model(&c, NULL, "gpt-4o", "bogus", NULL, why, sizeof why),
	    "gpt-4o");
	assert_non_null(strstr(why, "unknown quality"));
	/* tiers unset: nothing applies */
	c.tier_low = NULL;
	assert_string_equal(budget_choose_model(&c, &calm, "gpt-4o", "low", NULL, why, sizeof why),
	    "gpt-4o");
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2], argv[3], atof(argv[4]));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_budget, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_reserve_refuse_release, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_bad_timezone, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_64_threads_never_overrun, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_64_threads_leases_never_overrun,
	        sttest_setup_store, sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_two_processes_never_overrun, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_four_processes_never_overrun, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_day_rollover, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_alert_once_per_day, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_stale_reservations, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_sizing, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_settle_moves_cost, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_returned_on_close, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_expiry, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_renewal_and_day_change, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_lease_near_limit_fallback, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_alert_from_ledger_commit, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test_setup_teardown(test_burn_and_projection, sttest_setup_store,
	        sttest_teardown_store),
	    cmocka_unit_test(test_choose_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
