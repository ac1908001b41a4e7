/*
 * budget.h: the daily budget, enforced under concurrency.
 *
 * Before dispatch a request reserves an upper bound of its cost
 * (pricing_upper_bound); its ledger row settles the reservation in the same
 * transaction (ledger_record_async with the reservation id), or
 * budget_release drops it when the request ends without a row.
 *
 * Most reservations cost no database write: each store handle leases a slice
 * of what remains of today's budget (one write transaction per lease, sized
 * by the handle's recent spend) and reserves and settles requests in
 * memory against it; the ledger row's transaction moves the request's cost
 * from the lease to spent. Near the end of the budget the leases shrink to
 * nothing and each request reserves a row of its own, under BEGIN IMMEDIATE.
 * Either way the check is atomic across threads and across processes sharing
 * the database, and the day's spend never exceeds its budget (budget.c says
 * why). Spent-today is the sum of today's ledger rows, so it survives
 * restarts; a lease is returned by store_close, and one whose process died
 * frees when it expires.
 *
 * "Today" is the day in budget_conf.timezone: "UTC" (default), a fixed
 * offset such as "+02:00", or an IANA name (see store_day_bounds()).
 */
#ifndef LLMDECK_BUDGET_H
#define LLMDECK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct store;

/* A reservation older than this, or held by a process that is gone, is ignored and deleted. */
#define BUDGET_RESERVATION_TTL_MS (15 * 60 * 1000)
/*
 * A lease counts against the budget until it expires; its owner renews it
 * after half of this while in use. Past expiry it still counts while its
 * process is alive, for BUDGET_RESERVATION_TTL_MS more (a long request in
 * flight); a dead process's lease frees when it expires.
 */
#define BUDGET_LEASE_TTL_MS (2 * 60 * 1000)

struct budget_status {
	char day[16];               /* "YYYY-MM-DD" in the budget's timezone */
	double budget_usd;          /* 0: no budget */
	double spent_usd;           /* today's ledger rows */
	double reserved_usd;        /* live reservation rows (requests near the limit) */
	double leased_usd;          /* live leases, every process's: set aside, not spent */
	double lease_in_flight_usd; /* of leased_usd, this handle's requests in flight */
	double alert_threshold;     /* fraction */
	int alert_crossed;          /* spent >= threshold * budget */
	double burn_5m_per_hour;    /* spend over the last 5 minutes, per hour */
	double burn_60m_per_hour;   /* spend over the last 60 minutes, per hour */
	double projected_usd;       /* spent + burn_60m_per_hour * hours left today */
	int under_pressure;         /* budget - spent < pressure * budget */
};

/*
 * Reserve upper_usd against today's budget. Returns 0 reserved
 * (*reservation_id set: < 0 in this handle's lease, > 0 a reservation row, 0
 * when daily_usd is 0, i.e. no budget), 1 refused (*cause: "daily budget $X:
 * spent $Y, reserved $Z[, leased $L], this request needs up to $W"), -1 error
 * (*cause). With hard_stop 0 nothing is refused: the reservation is taken
 * anyway and 0 returned. Whenever it reads the database (a lease granted or
 * renewed, a reservation row) it also writes the once-a-day "budget" alert
 * event if spend has crossed the threshold; the ledger's commit writes it too
 * when this handle's own spend crosses it.
 */
int budget_reserve(struct store *, const struct budget_conf *, double upper_usd,
    int64_t *reservation_id, char **cause);
/*
 * budget_reserve without waiting: 0 reserved from this handle's lease in
 * memory (*reservation_id set; 0 with no budget), 2 when only budget_reserve
 * can tell (no lease, or it needs a grant or a renewal, or another thread is
 * taking one: nothing is taken). Never touches the database nor waits on a
 * lock held across one, so an event loop may call it.
 */
int budget_try_reserve(struct store *, const struct budget_conf *, double upper_usd,
    int64_t *reservation_id);
/* Drop a reservation whose request ended without a ledger row. 0 is a no-op. */
void budget_release(struct store *, int64_t reservation_id);

/* Tests and benches: 0 turns leases off for this handle (a reservation row per
 * request, as near the limit); 1, the default, on. */
void budget_set_leases(struct store *, int on);

/*
 * Today's figures in one consistent read. Writes the once-a-day alert event
 * (kind "budget") if spend has crossed the threshold. 0, or -1 with *cause.
 */
int
budget_get_status(struct store *, const struct budget_conf *, struct budget_status *, char **cause);

/* The cheaper alias one step down the ladder from alias, or NULL if none. */
const char *budget_ladder_step(const struct budget_conf *, const char *alias);

/*
 * The seed's CostOptimizer, configurable through budget_conf's tiers and
 * ladder. quality "high": tier_high_complex for complexity "complex", else
 * tier_high, never downgraded. "standard": tier_standard, or tier_low under
 * pressure. "low": tier_low. No (or an unknown) quality: the requested alias,
 * one step down the ladder under pressure. st may be NULL (no pressure).
 * Returns the requested alias unchanged when nothing applies, and writes a
 * one-line reason into why.
 */
const char *budget_choose_model(const struct budget_conf *, const struct budget_status *,
    const char *requested_alias, const char *quality, const char *complexity, char *why,
    size_t whylen);

#endif
