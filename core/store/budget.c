/*
 * budget.c: the daily budget: leases and reservations, today's spend, alerts,
 * burn rate and the cost optimizer.
 *
 * Why the day's spend never exceeds its budget B, across threads and across
 * processes sharing the database. Every term of
 *
 *     spent(today) + reservations + leases <= B                         (I)
 *
 * is in the database: spent is the sum of today's ledger rows (their
 * spend_buckets), reservations the live rows of `reservations` (a request's
 * upper bound, taken near the limit), leases the amount_usd of every live row
 * of `budget_leases` (a store handle's slice: its requests in flight and the
 * next ones). (I) holds because:
 *
 *  1. Only one transaction makes the left side grow, budget_grant, and it
 *     checks (I) on what it read inside the same BEGIN IMMEDIATE transaction
 *     (SQLite's write lock serialises it with every other writer, in every
 *     process): it grows this handle's lease only by what (I) leaves, or
 *     inserts a reservation row only if the request's upper bound fits.
 *  2. A ledger row settles its reservation in the row's own transaction (the
 *     group commit, ledger.c): a lease reservation's cost moves from the
 *     lease to spent (budget_batch_apply: amount_usd - cost, the sum does not
 *     change); a reservation row is deleted as the cost lands (the sum
 *     changes by cost - upper bound <= 0).
 *  3. In memory a handle lets a request take only what its lease still holds
 *     (amount - reserved >= upper, under lease->mu), and its amount is never
 *     more than the row's amount_usd will be once the writer's pending
 *     charges commit (struct budget_lease). So the costs charged to a lease
 *     never exceed what (I) allowed it, and its row never goes below zero.
 *  4. A lease stops counting when its owner returns it (store_close, a
 *     resize), or once it expired and its process is gone: no row can come
 *     from it any more, a dead process's requests died with it. Its owner
 *     renews it while in use.
 *  5. At midnight spent(today) starts again from 0 while leases and
 *     reservations carry over: (I) only gets easier.
 *  6. A charge is never given back. When its row's transaction does not
 *     commit the row goes to the ledger's spool (ledger.c) and its cost stays
 *     out of the lease in memory, counted as spooled: the lease's row keeps
 *     amount_usd for it, so (I) still counts it, until the spool's replay
 *     moves it from the row to spent in one transaction, as in 2. A backend
 *     without a spool fails the row instead, its answer is withheld, and its
 *     charge goes back into the lease (both backends have one: PostgreSQL's
 *     is under the state directory).
 * What can still overrun: a request costing more than the upper bound it
 * reserved (the settle clamps its lease at 0 and spent takes the rest), a row
 * ledgered with no reservation, a spooled row whose process died before the
 * replay (its lease frees, the row lands when the next process opens the
 * spool) or whose reservation row outlived its TTL, a request still in flight
 * BUDGET_RESERVATION_TTL_MS after its lease expired, and a pid check fooled
 * by pid namespaces (budget_pid_alive).
 *
 * Threads: admission (budget_reserve, on the router's worker) and the ledger's
 * settlement (budget_batch_*, on the store's writer) share the lease. Lock
 * order: lease->mu, then the store's caller-connection mutex, then SQLite's
 * write lock; lease->pmu and the store's small-cache mutex (store_today) are
 * leaves. The writer takes lease->mu only outside its transactions (before
 * BEGIN, and after COMMIT only if a row failed), so a reserver holding
 * lease->mu while it waits for the write lock never waits for the writer.
 */
#include "store/budget.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_priv.h"
#include "util/util.h"

#define BUDGET_DEFAULT_THRESHOLD 0.8
/* A lease is sized for this many seconds of the handle's recent spend ... */
#define BUDGET_LEASE_SECONDS 5.0
/* ... and at least this many upper bounds of the request asking ... */
#define BUDGET_LEASE_MIN_REQUESTS 4
/* ... or this fraction of the day's budget, so unpriced (0) requests lease too. */
#define BUDGET_LEASE_MIN_FRACTION 1e-4
/* With fewer upper bounds than this free for it, a handle takes no lease: a row per request. */
#define BUDGET_LEASE_NEAR_REQUESTS 16
/* A lease takes at most this share of what is free, leaving the rest to other handles. */
#define BUDGET_LEASE_SHARE 0.5
/* A lease reservation's id: -((seq << BUDGET_SLOT_BITS) | slot). */
#define BUDGET_SLOT_BITS 24
#define BUDGET_SLOT_NONE UINT32_MAX

/* A request's reservation in memory: in use while seq != 0. */
struct budget_slot {
	double upper;
	uint64_t seq;
	uint32_t next_free;
};

/*
 * A store handle's lease (store_budget_state), under mu but for pending and
 * n_pending, under pmu (a leaf lock, so the writer settling a committed batch
 * never waits for a reserver holding mu across a transaction).
 *
 * amount is what the lease holds for this handle's requests, in flight
 * (reserved) and to come: it never exceeds the row's amount_usd minus the
 * charges the writer took out of it (pending) whose UPDATE has not committed
 * yet. A grant writes the row's amount_usd no higher than it was unless (I)
 * allows the growth, never below reserved plus pending, and sets amount to
 * that minus pending: a charge that had already committed (still in pending
 * until the writer says so) leaves budget idle in the row until the next
 * grant, never budget counted twice.
 */
struct budget_lease {
	pthread_mutex_t mu, pmu;
	char instance[20];
	int disabled;    /* budget_set_leases(s, 0) */
	int64_t row;     /* budget_leases.id, 0: none */
	double amount;   /* see above */
	double reserved; /* upper bounds of the requests in flight on the lease */
	size_t n_reserved;
	double pending; /* under pmu: costs taken out of amount whose UPDATE has not committed */
	int n_pending;  /* under pmu: batches of them */
	double spooled; /* under pmu: costs taken out of amount whose rows are in the spool */
	int64_t granted_ms, renew_ms;
	double last_extra; /* what the last grant gave beyond reserved */
	char day[16];      /* the day it was sized for, under the conf below */
	double daily_usd;
	int hard_stop;
	/* Sizing: the costs settled from the lease since rate_since_ms, and their smoothed
	 * rate per second (the requests in flight are covered apart: reserved). */
	int64_t rate_since_ms;
	double spend_sum, rate;
	/* The writer's alert: the threshold's conf, spent today at the last grant plus this
	 * handle's settled costs since, and the day whose alert is known written. */
	double alert_threshold;
	char tz[72];
	double spent_hint;
	char alert_day[16];
	struct budget_slot *slots;
	uint32_t n_slots, free_slot;
	uint64_t seq;
};

static void *
budget_lease_create(void)
{
	struct budget_lease *l = xcalloc(1, sizeof *l);
	struct rng rng;

	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->pmu, NULL);
	rng_seed(&rng, clock_mono_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)l);
	snprintf(l->instance, sizeof l->instance, "%016llx", (unsigned long long)rng_next(&rng));
	l->free_slot = BUDGET_SLOT_NONE;
	return l;
}

/* store_close: return the lease (its in-flight requests are over: the writer has stopped). */
static void
budget_lease_release(struct store *s, void *arg)
{
	struct budget_lease *l = arg;

	if (l->row != 0)
		store_backend_of(s)->budget_lease_return(s, l->row);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->pmu);
	free(l->slots);
	free(l);
}

void
budget_sqlite_lease_return(struct store *s, int64_t row)
{
	sqlite3 *db = store_lock(s);

	store_exec_int64(db, "DELETE FROM budget_leases WHERE id = ?", row);
	store_unlock(s);
}

static struct budget_lease *
budget_lease_of(struct store *s)
{
	return store_budget_state(s, budget_lease_create, budget_lease_release);
}

void
budget_set_leases(struct store *s, int on)
{
	struct budget_lease *l = budget_lease_of(s);

	pthread_mutex_lock(&l->mu);
	l->disabled = !on;
	pthread_mutex_unlock(&l->mu);
}

/* A slot for a request's upper bound; its id, or 0 if BUDGET_SLOT_BITS are all in use. */
static int64_t
budget_slot_take(struct budget_lease *l, double upper)
{
	struct budget_slot *sl;
	uint32_t i;

	if (l->free_slot == BUDGET_SLOT_NONE) {
		uint32_t n = l->n_slots != 0 ? l->n_slots * 2 : 64;

		if (l->n_slots >= (1u << BUDGET_SLOT_BITS))
			return 0;
		if (n > (1u << BUDGET_SLOT_BITS))
			n = 1u << BUDGET_SLOT_BITS;
		l->slots = xreallocarray(l->slots, n, sizeof *l->slots);
		for (i = n; i > l->n_slots; i--) {
			l->slots[i - 1].seq = 0;
			l->slots[i - 1].next_free = l->free_slot;
			l->free_slot = i - 1;
		}
		l->n_slots = n;
	}
	i = l->free_slot;
	sl = &l->slots[i];
	l->free_slot = sl->next_free;
	l->seq = l->seq % (((uint64_t)1 << (62 - BUDGET_SLOT_BITS)) - 1) + 1;
	sl->seq = l->seq;
	sl->upper = upper;
	l->reserved += upper;
	l->n_reserved++;
	return -(int64_t)((sl->seq << BUDGET_SLOT_BITS) | i);
}

/* Free id's slot; its upper bound into *upper. 0, or -1 if id is no live reservation here. */
static int
budget_slot_free(struct budget_lease *l, int64_t id, double *upper)
{
	uint64_t v = (uint64_t)(-id);
	uint32_t i = (uint32_t)(v & ((1u << BUDGET_SLOT_BITS) - 1));
	struct budget_slot *sl;

	if (id >= 0 || i >= l->n_slots || l->slots[i].seq != v >> BUDGET_SLOT_BITS)
		return -1;
	sl = &l->slots[i];
	*upper = sl->upper;
	sl->seq = 0;
	sl->next_free = l->free_slot;
	l->free_slot = i;
	/* Sums of doubles drift: exactly 0 once nothing is in flight. */
	l->reserved = --l->n_reserved > 0 ? l->reserved - sl->upper : 0;
	return 0;
}

static int
budget_today(struct store *s, const struct budget_conf *c, int64_t now, int64_t *start,
    int64_t *end, char day[16], char **cause)
{
	if (store_today(s, c->timezone, now, start, end, day) != 0) {
		*cause = xasprintf("budget: unknown timezone \"%s\" (use UTC, an offset like "
		                   "+02:00 or an IANA name)",
		    c->timezone != NULL ? c->timezone : "");
		return -1;
	}
	return 0;
}

static double
budget_sum(sqlite3 *db, const char *sql, int64_t a, int64_t b, int *err)
{
	double v = 0;

	if (store_select_double(db, sql, a, b, &v) != 0)
		*err = 1;
	return v;
}

/* From the 15-minute buckets when the window is aligned to them (a day is), else the ledger. */
static double
budget_spent_between(sqlite3 *db, int64_t from, int64_t to, int *err)
{
	if (from >= 0 && from % STORE_BUCKET_MS == 0 && to % STORE_BUCKET_MS == 0)
		return budget_sum(db,
		    "SELECT TOTAL(cost_usd) FROM spend_buckets WHERE "
		    "bucket >= ? AND bucket < ?",
		    from / STORE_BUCKET_MS, to / STORE_BUCKET_MS, err);
	return budget_sum(db, STORE_SQL_LEDGER_SPENT, from, to, err);
}

int
budget_pid_alive(int64_t pid)
{
	if (pid == (int64_t)getpid())
		return 1;
	if (pid <= 0 || pid > 0x7fffffff)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* Live reservations: younger than the TTL and held by a live process. */
static double
budget_reserved(sqlite3 *db, int64_t now, int *err)
{
	sqlite3_stmt *st;
	double v = 0;
	int rc;

	if (sqlite3_prepare_v2(db,
	        "SELECT pid, TOTAL(amount_usd) FROM reservations WHERE "
	        "time_ms >= ? GROUP BY pid",
	        -1, &st, NULL) != SQLITE_OK) {
		*err = 1;
		return 0;
	}
	sqlite3_bind_int64(st, 1, now - BUDGET_RESERVATION_TTL_MS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (budget_pid_alive(sqlite3_column_int64(st, 0)))
			v += sqlite3_column_double(st, 1);
	if (rc != SQLITE_DONE)
		*err = 1;
	sqlite3_finalize(st);
	return v;
}

/* A lease counts until it expires, then while its process lives, for the reservations' TTL. */
static int
budget_lease_live(int64_t pid, int64_t expires_ms, int64_t now)
{
	if (expires_ms > now)
		return 1;
	return expires_ms > now - BUDGET_RESERVATION_TTL_MS && budget_pid_alive(pid);
}

/* Live leases but row mine (0: none); *mine_amount: mine's, -1 if it is gone. */
static double
budget_leased(sqlite3 *db, int64_t now, int64_t mine, double *mine_amount, int *err)
{
	sqlite3_stmt *st;
	double v = 0;
	int rc;

	if (mine_amount != NULL)
		*mine_amount = -1;
	if (sqlite3_prepare_v2(db, "SELECT id, pid, amount_usd, expires_ms FROM budget_leases", -1,
	        &st, NULL) != SQLITE_OK) {
		*err = 1;
		return 0;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!budget_lease_live(sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 3),
		        now))
			continue;
		if (mine != 0 && sqlite3_column_int64(st, 0) == mine) {
			if (mine_amount != NULL)
				*mine_amount = sqlite3_column_double(st, 2);
			continue;
		}
		v += sqlite3_column_double(st, 2);
	}
	if (rc != SQLITE_DONE)
		*err = 1;
	sqlite3_finalize(st);
	return v;
}

int
budget_reservations_clean(sqlite3 *db, int scoped, int64_t now)
{
	static const char *const sql[2][3] = {
	    {"DELETE FROM reservations WHERE time_ms < ?", "SELECT DISTINCT pid FROM reservations",
	        "DELETE FROM reservations WHERE pid = ?"},
	    {"DELETE FROM scope_reservations WHERE time_ms < ?",
	        "SELECT DISTINCT pid FROM scope_reservations",
	        "DELETE FROM scope_reservations WHERE pid = ?"},
	};
	const char *const *q = sql[scoped != 0];
	sqlite3_stmt *st, *del;
	int rc;

	if (store_exec_int64(db, q[0], now - BUDGET_RESERVATION_TTL_MS) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, q[1], -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, q[2], -1, &del, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t pid = sqlite3_column_int64(st, 0);

		if (budget_pid_alive(pid))
			continue;
		sqlite3_bind_int64(del, 1, pid);
		sqlite3_step(del);
		sqlite3_reset(del);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Delete what no longer counts: stale reservations, dead leases; inside a write transaction. */
static int
budget_clean(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st, *del;
	int rc;

	if (budget_reservations_clean(db, 0, now) != 0)
		return -1;
	/* Leases past expiry: the dead ones go (the rare row: no index, few leases). */
	if (sqlite3_prepare_v2(db,
	        "SELECT id, pid, expires_ms FROM budget_leases WHERE expires_ms <= ?", -1, &st,
	        NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "DELETE FROM budget_leases WHERE id = ?", -1, &del, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (budget_lease_live(sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
		        now))
			continue;
		sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
		sqlite3_step(del);
		sqlite3_reset(del);
	}
	sqlite3_finalize(del);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static double
budget_threshold(const struct budget_conf *c)
{
	return c->alert_threshold > 0 ? c->alert_threshold : BUDGET_DEFAULT_THRESHOLD;
}

/* The once-a-day alert: budget_alerts' primary key makes it once across processes too. */
static int
budget_alert(sqlite3 *db, const struct budget_conf *c, const char *day, double spent, int64_t now)
{
	return budget_alert_once(db, day, day, NULL, c->daily_usd, budget_threshold(c), spent, now);
}

int
budget_alert_once(sqlite3 *db, const char *key, const char *day, const char *who, double daily_usd,
    double threshold, double spent, int64_t now)
{
	sqlite3_stmt *st;
	char *msg;
	int rc;

	if (daily_usd <= 0 || threshold <= 0 || spent < threshold * daily_usd)
		return 0;
	if (sqlite3_prepare_v2(db,
	        "INSERT OR IGNORE INTO budget_alerts(day, time_ms) "
	        "VALUES (?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(db) == 0)
		return 0;
	msg = xasprintf("%s%sdaily budget alert: spent $%.4f of $%.2f (%.0f%%, threshold %.0f%%) "
	                "on %s",
	    who != NULL ? who : "", who != NULL ? "'s " : "", spent, daily_usd,
	    100 * spent / daily_usd, 100 * threshold, day);
	rc = store_event_insert(db, now, "budget", NULL, msg);
	free(msg);
	return rc;
}

static int
budget_alert_written(sqlite3 *db, const char *day)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM budget_alerts WHERE day = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* The fast path, under l->mu: upper into the lease, no database. 1 taken (*id set), or 0. */
static int
budget_lease_take(struct budget_lease *l, const struct budget_conf *c, double upper,
    const char *day, int64_t now, int64_t *id)
{
	double room = l->amount - l->reserved;

	if (l->disabled || l->row == 0 || now >= l->renew_ms || strcmp(day, l->day) != 0 ||
	    c->daily_usd != l->daily_usd || (c->hard_stop != 0) != l->hard_stop || room < upper ||
	    room <= 0)
		return 0;
	return (*id = budget_slot_take(l, upper)) != 0;
}

/* The handle's spend per second from its lease, smoothed from grant to grant. */
static void
budget_rate_update(struct budget_lease *l, int64_t now)
{
	int64_t elapsed = now - l->rate_since_ms;
	double rate;

	if (l->rate_since_ms == 0 || elapsed < 0) {
		l->rate_since_ms = now;
		l->spend_sum = 0;
		return;
	}
	if (elapsed < 250)
		return;
	rate = l->spend_sum * 1000.0 / (double)elapsed;
	l->rate = l->rate > 0 ? (l->rate + rate) / 2 : rate;
	l->spend_sum = 0;
	l->rate_since_ms = now;
}

/*
 * What a grant gives the lease beyond its requests in flight, out of avail
 * (what (I) leaves it beyond them): BUDGET_LEASE_SECONDS of the recent spend
 * (each request takes its upper bound and gives back all but its cost when it
 * settles, so the lease runs down at the spend rate), at least a few of this
 * request's upper bound, doubled when the last one ran out at once (a burst,
 * or more requests in flight), at most a share of avail; 0 near the limit (or
 * with leases off): a reservation row instead.
 */
static double
budget_lease_size(const struct budget_lease *l, const struct budget_conf *c, double upper,
    double avail, int64_t now)
{
	double want = BUDGET_LEASE_MIN_REQUESTS * upper, extra;

	if (l->disabled || avail <= 0 || avail < BUDGET_LEASE_NEAR_REQUESTS * upper ||
	    (l->free_slot == BUDGET_SLOT_NONE && l->n_slots >= (1u << BUDGET_SLOT_BITS)))
		return 0;
	if (l->rate * BUDGET_LEASE_SECONDS > want)
		want = l->rate * BUDGET_LEASE_SECONDS;
	if (c->daily_usd * BUDGET_LEASE_MIN_FRACTION > want)
		want = c->daily_usd * BUDGET_LEASE_MIN_FRACTION;
	/* Used up soon after it was granted: the rate lags a burst, so double the lease. */
	if (l->row != 0 && l->amount - l->reserved < upper &&
	    now - l->granted_ms < (int64_t)(BUDGET_LEASE_SECONDS * 1000 / 2) &&
	    2 * l->last_extra > want)
		want = 2 * l->last_extra;
	extra = avail * BUDGET_LEASE_SHARE < want ? avail * BUDGET_LEASE_SHARE : want;
	return extra >= upper && extra > 0 ? extra : 0;
}

/* This handle's lease row at amount (0: deleted); *row: its id afterwards. 0 or -1. */
static int
budget_lease_write(sqlite3 *db, int64_t mine, const char *owner, int found, double amount,
    int64_t now, int64_t *row)
{
	sqlite3_stmt *st;
	int rc;

	*row = found ? mine : 0;
	if (amount <= 0) {
		*row = 0;
		return found ? store_exec_int64(db, "DELETE FROM budget_leases WHERE id = ?", mine)
		             : 0;
	}
	if (sqlite3_prepare_v2(db,
	        found ? "UPDATE budget_leases SET amount_usd = ?1, granted_ms = ?2, expires_ms = "
	                "?3 WHERE id = ?4"
	              : "INSERT INTO budget_leases(amount_usd, granted_ms, expires_ms, "
	                "instance, pid) VALUES (?1, ?2, ?3, ?4, ?5)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_double(st, 1, amount);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now + BUDGET_LEASE_TTL_MS);
	if (found)
		sqlite3_bind_int64(st, 4, mine);
	else {
		sqlite3_bind_text(st, 4, owner, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)getpid());
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (!found)
		*row = sqlite3_last_insert_rowid(db);
	return 0;
}

/* A reservation row of upper_usd; its id, or 0 on failure. */
static int64_t
budget_reservation_insert(sqlite3 *db, double upper, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
	        "INSERT INTO reservations(pid, time_ms, amount_usd) "
	        "VALUES (?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (int64_t)getpid());
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_double(st, 3, upper);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(db) : 0;
}

/* After a grant committed: the lease as written, sized for this day and conf. */
static void
budget_lease_granted(struct budget_lease *l, const struct budget_conf *c, int64_t row,
    double amount, double extra, double spent, int64_t now, const char *day)
{
	const char *tz = c->timezone != NULL ? c->timezone : "UTC";

	l->row = row;
	l->amount = amount;
	l->last_extra = extra;
	l->granted_ms = now;
	l->renew_ms = now + BUDGET_LEASE_TTL_MS / 2;
	strlcpy_(l->day, day, sizeof l->day);
	l->daily_usd = c->daily_usd;
	l->hard_stop = c->hard_stop != 0;
	l->alert_threshold = budget_threshold(c);
	/* A zone name too long to keep: no alert from the writer, the grants still write it. */
	if (strlen(tz) < sizeof l->tz)
		strlcpy_(l->tz, tz, sizeof l->tz);
	else
		l->tz[0] = '\0';
	l->spent_hint = spent;
	if (spent >= l->alert_threshold * c->daily_usd)
		strlcpy_(l->alert_day, day, sizeof l->alert_day);
}

/* What budget_grant_decide worked out, for budget_grant after the commit. */
struct budget_grant_ctx {
	struct budget_lease *l;
	double pending, base, extra;
	int refused;
};

/*
 * Inside the backend's grant transaction, under l->mu, with the terms of (I)
 * read: size this handle's lease (returning what it no longer needs), and near
 * the limit reserve upper in a row of its own, or refuse.
 */
static void
budget_grant_decide(struct budget_grant *g)
{
	struct budget_grant_ctx *x = g->arg;
	struct budget_lease *l = x->l;
	const struct budget_conf *c = g->conf;
	double free_usd = c->daily_usd - g->spent - g->rows - g->others, total;

	budget_rate_update(l, g->now);
	/* No batch is collected while we hold mu, none commits while we hold the write lock. */
	pthread_mutex_lock(&l->pmu);
	x->pending = l->pending + l->spooled;
	pthread_mutex_unlock(&l->pmu);
	/*
	 * What the row keeps: the requests in flight and the uncommitted charges
	 * (pending, or less: some may have committed already), never more than it
	 * holds: a row only grows by what (I) allows. A lost row (mine < 0) is
	 * re-made for its requests in flight if (I) allows.
	 */
	x->base = l->reserved + x->pending;
	if (g->mine >= 0 && g->mine < x->base)
		x->base = g->mine;
	else if (g->mine < 0 && x->base > free_usd)
		x->base = free_usd > 0 ? free_usd : 0;
	x->extra = budget_lease_size(l, c, g->upper, free_usd - x->base, g->now);
	g->amount = x->base + x->extra;
	g->reserve = 0;
	if (x->extra == 0) {
		total = g->spent + g->rows + g->others + x->base;
		if (c->hard_stop && (total + g->upper > c->daily_usd || total >= c->daily_usd))
			x->refused = 1;
		else
			g->reserve = 1;
	}
}

/*
 * SQLite's grant: one write transaction (BEGIN IMMEDIATE: SQLite's write lock
 * serialises it with every writer in every process): clean, read the terms of
 * (I), write the alert, decide, write the lease row and the reservation row.
 */
int
budget_sqlite_grant(struct store *s, struct budget_grant *g, char **cause)
{
	int err = 0;
	sqlite3 *db;

	if ((db = store_write_begin(s, "budget: cannot reserve", cause)) == NULL)
		return -1;
	if (budget_clean(db, g->now) != 0)
		goto fail;
	g->spent = budget_spent_between(db, g->day_start, g->day_end, &err);
	g->rows = budget_reserved(db, g->now, &err);
	g->others = budget_leased(db, g->now, g->row, &g->mine, &err);
	if (err || budget_alert(db, g->conf, g->day, g->spent, g->now) != 0)
		goto fail;
	g->decide(g);
	if (budget_lease_write(db, g->row, g->owner, g->mine >= 0, g->amount, g->now,
	        &g->new_row) != 0)
		goto fail;
	if (g->reserve &&
	    (g->reservation_id = budget_reservation_insert(db, g->upper, g->now)) == 0)
		goto fail;
	return store_write_commit(s, db, "budget: cannot reserve", cause);
fail:
	*cause = store_error(s, db, "budget: cannot reserve");
	store_write_rollback(s, db);
	return -1;
}

/*
 * The slow path, under l->mu, in one transaction of the backend's: clean, read
 * the terms of (I), write the alert, size this handle's lease (returning what
 * it no longer needs), then reserve upper in it, or near the limit in a
 * reservation row. 0 reserved, 1 refused, -1 error.
 */
static int
budget_grant(struct store *s, struct budget_lease *l, const struct budget_conf *c, double upper,
    int64_t now, const int64_t day_bounds[2], const char *day, int64_t *id, char **cause)
{
	struct budget_grant_ctx x = {.l = l};
	struct budget_grant g = {.conf = c,
	    .upper = upper,
	    .now = now,
	    .day_start = day_bounds[0],
	    .day_end = day_bounds[1],
	    .day = day,
	    .row = l->row,
	    .owner = l->instance,
	    .decide = budget_grant_decide,
	    .arg = &x};

	*id = 0;
	if (store_backend_of(s)->budget_grant(s, &g, cause) != 0)
		return -1;
	budget_lease_granted(l, c, g.new_row, x.base + x.extra - x.pending, x.extra, g.spent, now,
	    day);
	if (x.extra > 0)
		*id = budget_slot_take(l, upper);
	else if (!x.refused)
		*id = g.reservation_id;
	if (!x.refused)
		return 0;
	if (g.others + x.base > 0)
		*cause = xasprintf("daily budget $%.2f: spent $%.4f, reserved $%.4f, leased "
		                   "$%.4f, this request needs up to $%.4f",
		    c->daily_usd, g.spent, g.rows, g.others + x.base, upper);
	else
		*cause = xasprintf("daily budget $%.2f: spent $%.4f, reserved $%.4f, this "
		                   "request needs up to $%.4f",
		    c->daily_usd, g.spent, g.rows, upper);
	return 1;
}

/*
 * budget_reserve (wait 1) and budget_try_reserve (wait 0): the same steps, but
 * without waiting a reserver neither waits for the lease's lock (its holder
 * may be in a grant's transaction) nor takes a grant: 2 where either was
 * needed, or where today could not be told (*cause then set).
 */
static int
budget_reserve_how(struct store *s, const struct budget_conf *c, double upper_usd,
    int64_t *reservation_id, char **cause, int wait)
{
	int64_t now, bounds[2];
	struct budget_lease *l;
	char day[16];
	int rc = 2;

	*reservation_id = 0;
	if (c == NULL || c->daily_usd <= 0)
		return 0;
	if (!(upper_usd >= 0)) /* NaN too */
		upper_usd = 0;
	now = store_now_ms(s);
	if (budget_today(s, c, now, &bounds[0], &bounds[1], day, cause) != 0)
		return wait ? -1 : 2;
	l = budget_lease_of(s);
	if (wait)
		pthread_mutex_lock(&l->mu);
	else if (pthread_mutex_trylock(&l->mu) != 0)
		return 2;
	if (budget_lease_take(l, c, upper_usd, day, now, reservation_id))
		rc = 0;
	else if (wait)
		rc = budget_grant(s, l, c, upper_usd, now, bounds, day, reservation_id, cause);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int
budget_reserve(struct store *s, const struct budget_conf *c, double upper_usd,
    int64_t *reservation_id, char **cause)
{
	return budget_reserve_how(s, c, upper_usd, reservation_id, cause, 1);
}

int
budget_try_reserve(struct store *s, const struct budget_conf *c, double upper_usd,
    int64_t *reservation_id)
{
	char *cause = NULL;
	int rc = budget_reserve_how(s, c, upper_usd, reservation_id, &cause, 0);

	free(cause);
	return rc;
}

void
budget_release(struct store *s, int64_t reservation_id)
{
	struct budget_lease *l;
	double upper;

	if (reservation_id == 0)
		return;
	if (reservation_id < 0) {
		if ((l = store_budget_state(s, NULL, NULL)) == NULL)
			return;
		pthread_mutex_lock(&l->mu);
		budget_slot_free(l, reservation_id, &upper);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	store_backend_of(s)->budget_unreserve(s, reservation_id);
}

void
budget_sqlite_unreserve(struct store *s, int64_t reservation_id)
{
	sqlite3 *db = store_lock(s);

	store_exec_int64(db, "DELETE FROM reservations WHERE id = ?", reservation_id);
	store_unlock(s);
}

/* The ledger's side: settling a batch's lease reservations (store_priv.h). */

void
budget_batch_begin(struct store *s, struct budget_batch *b)
{
	memset(b, 0, sizeof *b);
	b->lease = store_budget_state(s, NULL, NULL);
	if (b->lease == NULL)
		return;
	pthread_mutex_lock(&b->lease->mu);
	b->row = b->lease->row;
}

double
budget_batch_take(struct budget_batch *b, int64_t reservation_id, double cost_usd)
{
	double upper;

	if (b->lease == NULL || reservation_id >= 0 ||
	    budget_slot_free(b->lease, reservation_id, &upper) != 0 || !(cost_usd > 0))
		return 0;
	b->charged += cost_usd;
	return cost_usd;
}

void
budget_batch_ready(struct store *s, struct budget_batch *b)
{
	struct budget_lease *l = b->lease;

	if (l == NULL)
		return;
	if (b->charged > 0) {
		l->amount -= b->charged;
		pthread_mutex_lock(&l->pmu);
		l->pending += b->charged;
		l->n_pending++;
		pthread_mutex_unlock(&l->pmu);
		l->spend_sum += b->charged;
		l->spent_hint += b->charged;
		/* This handle's spend crossed the alert threshold: the batch writes the alert. */
		if (l->daily_usd > 0 && l->tz[0] != '\0' &&
		    l->spent_hint >= l->alert_threshold * l->daily_usd) {
			b->now = store_now_ms(s);
			if (store_today(s, l->tz, b->now, &b->day_start, &b->day_end, b->day) ==
			        0 &&
			    strcmp(b->day, l->alert_day) != 0) {
				b->alert = 1;
				b->conf.daily_usd = l->daily_usd;
				b->conf.alert_threshold = l->alert_threshold;
			}
		}
	}
	pthread_mutex_unlock(&l->mu);
}

void
budget_batch_replay(struct budget_batch *b)
{
	if (b->lease == NULL)
		return;
	pthread_mutex_lock(&b->lease->pmu);
	b->replayed = b->lease->spooled;
	pthread_mutex_unlock(&b->lease->pmu);
}

void
budget_batch_fail(struct budget_batch *b, double charged)
{
	b->failed += charged;
}

int
budget_batch_apply(sqlite3 *db, struct budget_batch *b)
{
	double cost = b->charged - b->failed + b->replayed;
	sqlite3_stmt *st;
	int rc, err = 0;

	if (b->lease == NULL)
		return 0;
	if (cost > 0 && b->row != 0) {
		st = store_stmt(db,
		    "UPDATE budget_leases SET amount_usd = MAX(amount_usd - ?, 0) WHERE id = ?");
		if (st == NULL)
			return -1;
		sqlite3_bind_double(st, 1, cost);
		sqlite3_bind_int64(st, 2, b->row);
		rc = sqlite3_step(st);
		store_stmt_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	/* The alert must not cost the rows their commit: its own savepoint. */
	if (b->alert && store_exec(db, "SAVEPOINT alert") == 0) {
		b->spent_read = budget_spent_between(db, b->day_start, b->day_end, &err);
		if (err || budget_alert(db, &b->conf, b->day, b->spent_read, b->now) != 0) {
			b->alert = 0;
			store_exec(db, "ROLLBACK TO alert");
		}
		store_exec(db, "RELEASE alert");
	}
	return 0;
}

void
budget_batch_end(struct budget_batch *b, int committed, int spooled)
{
	struct budget_lease *l = b->lease;
	/* The charges whose UPDATE did not commit: their rows are spooled (or lost). */
	double unsettled = committed ? b->failed : b->charged;
	/* Without a spool those rows failed: their charges go back into the lease. */
	int back = !spooled && unsettled > 0, locked = (committed && b->alert) || back;

	if (l == NULL || (b->charged <= 0 && b->replayed <= 0))
		return;
	/* The common case takes pmu only: a reserver may hold mu across a transaction. */
	if (locked)
		pthread_mutex_lock(&l->mu);
	pthread_mutex_lock(&l->pmu);
	if (b->charged > 0)
		l->pending = --l->n_pending > 0 ? l->pending - b->charged : 0;
	if (committed)
		l->spooled -= b->replayed;
	if (spooled)
		l->spooled += unsettled;
	if (l->spooled < 1e-12) /* sums of doubles drift: 0 once the spool is replayed */
		l->spooled = 0;
	pthread_mutex_unlock(&l->pmu);
	if (!locked)
		return;
	if (back) {
		l->amount += unsettled;
		l->spent_hint -= unsettled;
	}
	if (committed && b->alert) {
		l->spent_hint = b->spent_read;
		if (b->spent_read >= b->conf.alert_threshold * b->conf.daily_usd)
			strlcpy_(l->alert_day, b->day, sizeof l->alert_day);
	}
	pthread_mutex_unlock(&l->mu);
}

/* SQLite's read of today's figures: one read transaction, then the alert if due. */
int
budget_sqlite_read(struct store *s, const struct budget_conf *c, int64_t now, int64_t start,
    int64_t end, struct budget_status *bs, char **cause)
{
	sqlite3 *db;
	int err = 0, need_alert = 0;

	db = store_lock(s);
	/* One read transaction: spent, reserved and leased come from the same snapshot. */
	if (store_exec(db, "BEGIN") != 0) {
		*cause = store_error(s, db, "budget: cannot read");
		store_unlock(s);
		return -1;
	}
	bs->spent_usd = budget_spent_between(db, start, end, &err);
	bs->reserved_usd = budget_reserved(db, now, &err);
	bs->leased_usd = budget_leased(db, now, 0, NULL, &err);
	bs->burn_5m_per_hour = budget_spent_between(db, now - 5 * 60000, now + 1, &err) * 12;
	bs->burn_60m_per_hour = budget_spent_between(db, now - 60 * 60000, now + 1, &err);
	if (bs->budget_usd > 0 && bs->spent_usd >= bs->alert_threshold * bs->budget_usd)
		need_alert = !budget_alert_written(db, bs->day);
	store_exec(db, "COMMIT");
	if (err) {
		*cause = store_error(s, db, "budget: cannot read");
		store_unlock(s);
		return -1;
	}
	store_unlock(s);
	/* The alert is once a day by its primary key, so another writer in between is harmless. */
	if (need_alert && (db = store_write_begin(s, NULL, NULL)) != NULL) {
		if (budget_alert(db, c, bs->day, bs->spent_usd, now) == 0)
			store_write_commit(s, db, NULL, NULL);
		else
			store_write_rollback(s, db);
	}
	return 0;
}

int
budget_get_status(struct store *s, const struct budget_conf *c, struct budget_status *bs,
    char **cause)
{
	int64_t now, start, end;
	struct budget_lease *l;

	memset(bs, 0, sizeof *bs);
	now = store_now_ms(s);
	if (budget_today(s, c, now, &start, &end, bs->day, cause) != 0)
		return -1;
	bs->budget_usd = c->daily_usd > 0 ? c->daily_usd : 0;
	bs->alert_threshold = budget_threshold(c);
	if (store_backend_of(s)->budget_read(s, c, now, start, end, bs, cause) != 0)
		return -1;
	if ((l = store_budget_state(s, NULL, NULL)) != NULL) {
		pthread_mutex_lock(&l->mu);
		bs->lease_in_flight_usd = l->reserved;
		pthread_mutex_unlock(&l->mu);
	}
	bs->alert_crossed =
	    bs->budget_usd > 0 && bs->spent_usd >= bs->alert_threshold * bs->budget_usd;
	bs->projected_usd = bs->spent_usd + bs->burn_60m_per_hour * (double)(end - now) / 3.6e6;
	bs->under_pressure =
	    bs->budget_usd > 0 && bs->budget_usd - bs->spent_usd < c->pressure * bs->budget_usd;
	return 0;
}

const char *
budget_ladder_step(const struct budget_conf *c, const char *alias)
{
	if (alias == NULL)
		return NULL;
	for (size_t i = 0; i < c->n_ladder; i++)
		if (c->ladder[i].from != NULL && strcmp(c->ladder[i].from, alias) == 0)
			return c->ladder[i].to;
	return NULL;
}

const char *
budget_choose_model(const struct budget_conf *c, const struct budget_status *st,
    const char *requested, const char *quality, const char *complexity, char *why, size_t whylen)
{
	int pressure = st != NULL && st->under_pressure;
	const char *pick = NULL, *step;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (c == NULL)
		return requested;
	if (quality != NULL && strcmp(quality, "high") == 0) {
		int complex = complexity != NULL && strcmp(complexity, "complex") == 0;

		pick = complex ? c->tier_high_complex : c->tier_high;
		if (pick != NULL) {
			snprintf(why, whylen, "quality high%s: %s, never downgraded",
			    complex ? ", complex task" : "", pick);
			return pick;
		}
	} else if (quality != NULL && strcmp(quality, "standard") == 0) {
		pick = pressure ? c->tier_low : c->tier_standard;
		if (pick != NULL) {
			snprintf(why, whylen,
			    pressure ? "quality standard under budget "
			               "pressure: cheaper %s"
			             : "quality standard: %s",
			    pick);
			return pick;
		}
	} else if (quality != NULL && strcmp(quality, "low") == 0) {
		if (c->tier_low != NULL) {
			snprintf(why, whylen, "quality low: %s", c->tier_low);
			return c->tier_low;
		}
	}
	if (pressure && (step = budget_ladder_step(c, requested)) != NULL) {
		snprintf(why, whylen, "budget pressure (spent $%.2f of $%.2f): %s -> %s",
		    st->spent_usd, st->budget_usd, requested, step);
		return step;
	}
	if (quality != NULL && strcmp(quality, "high") != 0 && strcmp(quality, "standard") != 0 &&
	    strcmp(quality, "low") != 0)
		snprintf(why, whylen, "unknown quality \"%s\" ignored: %s as requested", quality,
		    requested != NULL ? requested : "default model");
	else
		snprintf(why, whylen, "%s as requested",
		    requested != NULL ? requested : "default model");
	return requested;
}
