/* budget.c: reservations, today's spend, alerts, burn rate and the cost optimizer. */
#include "budget.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_priv.h"
#include "util.h"

#define BUDGET_DEFAULT_THRESHOLD 0.8

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

/* A reservation's owner is alive if it is us or kill(pid, 0) finds it. */
static int
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

/* Delete stale reservations (too old, or of dead processes); inside a write transaction. */
static int
budget_clean(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st, *del;
	int rc;

	if (store_exec_int64(db, "DELETE FROM reservations WHERE time_ms < ?",
	        now - BUDGET_RESERVATION_TTL_MS) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT pid FROM reservations", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "DELETE FROM reservations WHERE pid = ?", -1, &del, NULL) !=
	    SQLITE_OK) {
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

static double
budget_threshold(const struct budget_conf *c)
{
	return c->alert_threshold > 0 ? c->alert_threshold : BUDGET_DEFAULT_THRESHOLD;
}

/* The once-a-day alert: budget_alerts' primary key makes it once across processes too. */
static int
budget_alert(sqlite3 *db, const struct budget_conf *c, const char *day, double spent, int64_t now)
{
	sqlite3_stmt *st;
	char *msg;
	int rc;

	if (c->daily_usd <= 0 || spent < budget_threshold(c) * c->daily_usd)
		return 0;
	if (sqlite3_prepare_v2(db,
	        "INSERT OR IGNORE INTO budget_alerts(day, time_ms) "
	        "VALUES (?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(db) == 0)
		return 0;
	msg = xasprintf("daily budget alert: spent $%.4f of $%.2f (%.0f%%, threshold %.0f%%) "
	                "on %s",
	    spent, c->daily_usd, 100 * spent / c->daily_usd, 100 * budget_threshold(c), day);
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

int
budget_reserve(struct store *s, const struct budget_conf *c, double upper_usd,
    int64_t *reservation_id, char **cause)
{
	int64_t now, start, end;
	double spent, reserved;
	sqlite3_stmt *st;
	char day[16];
	sqlite3 *db;
	int err = 0, rc;

	*reservation_id = 0;
	if (c == NULL || c->daily_usd <= 0)
		return 0;
	if (upper_usd < 0)
		upper_usd = 0;
	now = store_now_ms(s);
	if (budget_today(s, c, now, &start, &end, day, cause) != 0)
		return -1;
	if ((db = store_write_begin(s, "budget: cannot reserve", cause)) == NULL)
		return -1;
	if (budget_clean(db, now) != 0)
		goto fail;
	spent = budget_spent_between(db, start, end, &err);
	reserved = budget_reserved(db, now, &err);
	if (err || budget_alert(db, c, day, spent, now) != 0)
		goto fail;
	if (c->hard_stop &&
	    (spent + reserved + upper_usd > c->daily_usd || spent + reserved >= c->daily_usd)) {
		store_write_commit(s, db, NULL, NULL); /* the alert and the cleaning */
		*cause = xasprintf("daily budget $%.2f: spent $%.4f, reserved $%.4f, this "
		                   "request needs up to $%.4f",
		    c->daily_usd, spent, reserved, upper_usd);
		return 1;
	}
	if (sqlite3_prepare_v2(db,
	        "INSERT INTO reservations(pid, time_ms, amount_usd) "
	        "VALUES (?, ?, ?)",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, (int64_t)getpid());
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_double(st, 3, upper_usd);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	*reservation_id = sqlite3_last_insert_rowid(db);
	if (store_write_commit(s, db, "budget: cannot reserve", cause) != 0) {
		*reservation_id = 0;
		return -1;
	}
	return 0;
fail:
	*cause = store_error(s, db, "budget: cannot reserve");
	*reservation_id = 0;
	store_write_rollback(s, db);
	return -1;
}

void
budget_release(struct store *s, int64_t reservation_id)
{
	sqlite3 *db;

	if (reservation_id == 0)
		return;
	db = store_lock(s);
	store_exec_int64(db, "DELETE FROM reservations WHERE id = ?", reservation_id);
	store_unlock(s);
}

int
budget_get_status(struct store *s, const struct budget_conf *c, struct budget_status *bs,
    char **cause)
{
	int64_t now, start, end;
	sqlite3 *db;
	int err = 0, need_alert = 0;

	memset(bs, 0, sizeof *bs);
	now = store_now_ms(s);
	if (budget_today(s, c, now, &start, &end, bs->day, cause) != 0)
		return -1;
	bs->budget_usd = c->daily_usd > 0 ? c->daily_usd : 0;
	bs->alert_threshold = budget_threshold(c);
	db = store_lock(s);
	/* One read transaction: spent and reserved come from the same snapshot. */
	if (store_exec(db, "BEGIN") != 0) {
		*cause = store_error(s, db, "budget: cannot read");
		store_unlock(s);
		return -1;
	}
	bs->spent_usd = budget_spent_between(db, start, end, &err);
	bs->reserved_usd = budget_reserved(db, now, &err);
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
