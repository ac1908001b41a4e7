/*
 * budget.h: the daily budget, enforced under concurrency.
 *
 * Before dispatch a request reserves an upper bound of its cost
 * (pricing_upper_bound); its ledger row settles the reservation in the same
 * transaction (ledger_record_async with the reservation id), or
 * budget_release drops it when the request ends without a row. Reservations
 * are rows in the store taken under BEGIN IMMEDIATE, so the check-and-reserve
 * is atomic across threads and across processes sharing the database.
 * Spent-today is the sum of today's ledger rows, so it survives restarts.
 *
 * "Today" is the day in budget_conf.timezone: "UTC" (default), a fixed
 * offset such as "+02:00", or an IANA name (see store_day_bounds()).
 */
#ifndef LLMDECK_BUDGET_H
#define LLMDECK_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct store;

/* A reservation older than this, or held by a process that is gone, is ignored and deleted. */
#define BUDGET_RESERVATION_TTL_MS (15 * 60 * 1000)

struct budget_status {
	char day[16];             /* "YYYY-MM-DD" in the budget's timezone */
	double budget_usd;        /* 0: no budget */
	double spent_usd;         /* today's ledger rows */
	double reserved_usd;      /* live reservations */
	double alert_threshold;   /* fraction */
	int alert_crossed;        /* spent >= threshold * budget */
	double burn_5m_per_hour;  /* spend over the last 5 minutes, per hour */
	double burn_60m_per_hour; /* spend over the last 60 minutes, per hour */
	double projected_usd;     /* spent + burn_60m_per_hour * hours left today */
	int under_pressure;       /* budget - spent < pressure * budget */
};

/*
 * Reserve upper_usd against today's budget. Returns 0 reserved
 * (*reservation_id set; 0 when daily_usd is 0, i.e. no budget), 1 refused
 * (*cause: "daily budget $X: spent $Y, reserved $Z, this request needs up to
 * $W"), -1 error (*cause). With hard_stop 0 nothing is refused: the
 * reservation is taken anyway and 0 returned. Also writes the once-a-day
 * "budget" alert event when spend has crossed the threshold.
 */
int budget_reserve(struct store *, const struct budget_conf *, double upper_usd,
    int64_t *reservation_id, char **cause);
/* Drop a reservation whose request ended without a ledger row. 0 is a no-op. */
void budget_release(struct store *, int64_t reservation_id);

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
