/*
 * router_keys.c: a request's client key at admission (store/keys.h).
 *
 * A request carrying req.key_id (the gateway authenticated it) is checked on
 * the router's worker, where admission runs: the key must still be valid in
 * the router's keyring (a revocation since the gateway's check refuses it:
 * LLM_ERR_AUTH, status 401); its model must be in the key's and the team's
 * allow-lists (LLM_ERR_FORBIDDEN, 403, naming the model); it must fit the
 * key's and the team's RPM and TPM, held across processes by store/limits.h's
 * per-minute allowances under the scope's name ("key:k-...", "team:ml"), a
 * lease per scope spent in memory and topped up from the store when it runs
 * dry (LLM_ERR_RATE_LIMIT, 429, retry-after the next minute); and after the
 * cache lookup, its upper bound must fit the key's, the team's and the global
 * month's budgets (budget_scopes_reserve, all or none: LLM_ERR_BUDGET). The
 * reservations ride in the ledger row (ledger_row.scope_res), which settles
 * them; a request that ends with no row releases them.
 *
 * Threads: the keyring is thread-safe; the rate leases (r->key_rates) are the
 * worker's alone (admission and the tick both run there), freed after it stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"
#include "store/budget.h"
#include "store/keys.h"
#include "store/limits.h"
#include "store/store.h"
#include "util/workq.h"

/* A scope's RPM/TPM leases; unused for this long, an entry is dropped (its minute is gone). */
#define KEY_RATE_IDLE_MS (3 * 60 * 1000)
/* The live instances are counted again after this (limits_slice's share). */
#define KEY_RATE_COUNT_MS 5000

struct key_rate {
	char scope[LIMIT_NAME_SIZE + 8];
	struct rate_lease rpm, tpm;
	int rpm_limit, tpm_limit;
	int64_t seen_ms;
};

static const struct spend_limits keys_no_limits;

struct keyring *
router_keyring(struct router *r)
{
	return r != NULL ? r->keyring : NULL;
}

void
rt_keys_new(struct router *r)
{
	if (r->store != NULL)
		r->keyring = keyring_new(r->store);
}

static struct key_rate *
key_rate_of(struct router *r, const char *scope, int64_t now)
{
	struct key_rate *k;

	for (size_t i = 0; i < r->n_key_rates; i++)
		if (strcmp(r->key_rates[i].scope, scope) == 0) {
			r->key_rates[i].seen_ms = now;
			return &r->key_rates[i];
		}
	r->key_rates = xreallocarray(r->key_rates, r->n_key_rates + 1, sizeof *r->key_rates);
	k = &r->key_rates[r->n_key_rates++];
	memset(k, 0, sizeof *k);
	strlcpy_(k->scope, scope, sizeof k->scope);
	rate_lease_init(&k->rpm);
	rate_lease_init(&k->tpm);
	k->seen_ms = now;
	return k;
}

/* Take n of a scope's kind for now's minute: from the lease, else a slice from the store. */
static int
key_rate_take(struct router *r, struct key_rate *k, struct rate_lease *l, const char *kind,
    int limit, double n, int64_t now)
{
	double want, granted = 0;
	char *cause = NULL;

	if (limit <= 0)
		return 1;
	rate_lease_roll(l, now);
	if (rate_lease_take(l, n, now, 1))
		return 1;
	if (r->key_rate_counted == 0 || now - r->key_rate_counted >= KEY_RATE_COUNT_MS ||
	    now < r->key_rate_counted) {
		r->key_rate_live = limits_live_instances(r->store);
		r->key_rate_counted = now;
	}
	l->slice = limits_slice(limit, r->key_rate_live);
	want = l->slice - l->held;
	if (want < n - l->held)
		want = n - l->held;
	if (limits_take(r->store, k->scope, kind, now / 60000, limit, want, &granted, &cause) !=
	    0) {
		free(cause); /* the store unreachable: the lease is all there is */
		return 0;
	}
	rate_lease_add(l, now / 60000, granted);
	return rate_lease_take(l, n, now, 1);
}

/* A model outside an allow-list: 403 naming it and who may not use it. */
static int
keys_forbid(struct rreq *q, const char *model, const char *label, const char *models)
{
	llm_error_set(&q->last_err, LLM_ERR_FORBIDDEN, 403,
	    "model \"%s\" is not allowed for %s (allowed: %s)", model[0] ? model : "(none)", label,
	    models);
	q->refused_at_admission = 1;
	return 1;
}

/* One scope's RPM and TPM; 0 fits, 1 refused (q's error set). */
static int
keys_rate(struct rreq *q, const char *scope, const char *label, const struct spend_limits *lim,
    double tokens, int64_t now)
{
	struct router *r = q->r;
	struct key_rate *k;

	if (lim->rpm <= 0 && lim->tpm <= 0)
		return 0;
	k = key_rate_of(r, scope, now);
	k->rpm_limit = lim->rpm;
	k->tpm_limit = lim->tpm;
	if (!key_rate_take(r, k, &k->rpm, "rpm", lim->rpm, 1, now)) {
		llm_error_set(&q->last_err, LLM_ERR_RATE_LIMIT, 429,
		    "%s's rate limit of %d requests per minute is spent; retry after the minute",
		    label, lim->rpm);
	} else if (!key_rate_take(r, k, &k->tpm, "tpm", lim->tpm, tokens, now)) {
		if (lim->rpm > 0)
			rate_lease_refund(&k->rpm, 1, now);
		llm_error_set(&q->last_err, LLM_ERR_RATE_LIMIT, 429,
		    "%s's rate limit of %d tokens per minute is spent (this request: about %.0f); "
		    "retry after the minute",
		    label, lim->tpm, tokens);
	} else {
		return 0;
	}
	q->last_err.retry_after_ms = 60000 - now % 60000;
	q->refused_at_admission = 1;
	return 1;
}

int
rt_keys_check(struct rreq *q)
{
	struct router *r = q->r;
	struct key_auth a;
	char klabel[LIMIT_NAME_SIZE + 8], tlabel[LIMIT_NAME_SIZE + 8];
	char kscope[KEY_ID_SIZE + 8], tscope[LIMIT_NAME_SIZE + 8];
	const char *model = q->req.model != NULL ? q->req.model : "";
	int64_t now;
	double tokens;

	if (q->req.key_id == NULL || q->req.key_id[0] == '\0' || r->keyring == NULL)
		return 0;
	if (keyring_limits(r->keyring, q->req.key_id, &a) != 0) {
		llm_error_set(&q->last_err, LLM_ERR_AUTH, 401, "key %s is revoked or expired",
		    q->req.key_id);
		q->refused_at_admission = 1;
		return 1;
	}
	/* The team is the key's as stored, whatever the caller said. */
	free(q->req.team);
	q->req.team = a.team[0] != '\0' ? xstrdup(a.team) : NULL;
	snprintf(klabel, sizeof klabel, "key %s", a.name);
	snprintf(tlabel, sizeof tlabel, "team %s", a.team);
	if (!spend_limits_allow_model(&a.key_lim, model))
		return keys_forbid(q, model, klabel, a.key_lim.models);
	if (a.team[0] != '\0' && !spend_limits_allow_model(&a.team_lim, model))
		return keys_forbid(q, model, tlabel, a.team_lim.models);
	now = store_now_ms(r->store);
	tokens = (double)rreq_input_estimate(q);
	snprintf(kscope, sizeof kscope, "key:%s", a.id);
	snprintf(tscope, sizeof tscope, "team:%s", a.team);
	if (keys_rate(q, kscope, klabel, &a.key_lim, tokens, now) != 0)
		return 1;
	if (a.team[0] != '\0' && keys_rate(q, tscope, tlabel, &a.team_lim, tokens, now) != 0)
		return 1;
	return 0;
}

/* Nothing of the lim's needs the worker: no rate to count, no budget to reserve. */
static int
keys_lim_free(const struct spend_limits *lim)
{
	return lim->rpm <= 0 && lim->tpm <= 0 && lim->day_usd <= 0 && lim->month_usd <= 0;
}

int
rt_keys_fast(struct rreq *q)
{
	struct router *r = q->r;
	const char *model = q->req.model != NULL ? q->req.model : "";
	struct key_auth a;

	if (r->keyring == NULL || keyring_limits(r->keyring, q->req.key_id, &a) != 0)
		return 0;
	if (!keys_lim_free(&a.key_lim) || !spend_limits_allow_model(&a.key_lim, model))
		return 0;
	if (a.team[0] != '\0' &&
	    (!keys_lim_free(&a.team_lim) || !spend_limits_allow_model(&a.team_lim, model)))
		return 0;
	free(q->req.team);
	q->req.team = a.team[0] != '\0' ? xstrdup(a.team) : NULL;
	return 1;
}

int
rt_keys_team_status(struct rreq *q, struct budget_status *st, char *label, size_t labellen)
{
	struct router *r = q->r;
	const struct budget_conf *bc = &r->cfg->budget;
	struct scope_spend sp;
	struct key_auth a;
	char scope[LIMIT_NAME_SIZE + 8], *cause = NULL;
	double win_budget[2], win_spent[2], best = 0;
	const char *names[2] = {"daily", "monthly"};
	int pick = -1;

	memset(st, 0, sizeof *st);
	if (labellen > 0)
		label[0] = '\0';
	if (q->req.key_id == NULL || q->req.key_id[0] == '\0' || r->keyring == NULL ||
	    keyring_limits(r->keyring, q->req.key_id, &a) != 0 || a.team[0] == '\0' ||
	    (a.team_lim.day_usd <= 0 && a.team_lim.month_usd <= 0))
		return 0;
	snprintf(scope, sizeof scope, "team:%s", a.team);
	if (keys_scope_spend(r->store, scope, bc->timezone, &sp, &cause) != 0) {
		free(cause);
		return 0;
	}
	win_budget[0] = a.team_lim.day_usd;
	win_spent[0] = sp.day_usd;
	win_budget[1] = a.team_lim.month_usd;
	win_spent[1] = sp.month_usd;
	/* The window with the smaller share left is the team's stricter one. */
	for (int i = 0; i < 2; i++) {
		double left;

		if (win_budget[i] <= 0)
			continue;
		left = (win_budget[i] - win_spent[i]) / win_budget[i];
		if (pick < 0 || left < best) {
			pick = i;
			best = left;
		}
	}
	st->budget_usd = win_budget[pick];
	st->spent_usd = win_spent[pick];
	st->burn_5m_per_hour = sp.burn_5m_per_hour;
	st->burn_60m_per_hour = sp.burn_60m_per_hour;
	st->under_pressure = st->budget_usd - st->spent_usd < bc->pressure * st->budget_usd;
	snprintf(label, labellen, "team %s's %s budget", a.team, names[pick]);
	return 1;
}

int
rt_keys_reserve(struct rreq *q, double upper_usd)
{
	struct router *r = q->r;
	const struct budget_conf *bc = &r->cfg->budget;
	struct budget_scope sc[LEDGER_SCOPES];
	struct spend_limits global;
	struct key_auth a;
	char klabel[LIMIT_NAME_SIZE + 8], tlabel[LIMIT_NAME_SIZE + 8];
	char kscope[KEY_ID_SIZE + 8], tscope[LIMIT_NAME_SIZE + 8];
	char *cause = NULL;
	int n = 0, rc, keyed;

	keyed = q->req.key_id != NULL && q->req.key_id[0] != '\0' && r->keyring != NULL &&
	    keyring_limits(r->keyring, q->req.key_id, &a) == 0;
	memset(sc, 0, sizeof sc);
	memset(&global, 0, sizeof global);
	if (keyed) {
		snprintf(kscope, sizeof kscope, "key:%s", a.id);
		snprintf(klabel, sizeof klabel, "key %s", a.name);
		sc[n++] = (struct budget_scope){kscope, klabel, &a.key_lim};
		if (a.team[0] != '\0') {
			/* A team's alert: its own threshold, else the global one. */
			if (a.team_lim.alert_threshold <= 0)
				a.team_lim.alert_threshold =
				    bc->alert_threshold > 0 ? bc->alert_threshold : 0.8;
			snprintf(tscope, sizeof tscope, "team:%s", a.team);
			snprintf(tlabel, sizeof tlabel, "team %s", a.team);
			sc[n] = (struct budget_scope){tscope, tlabel, &a.team_lim};
		}
		n = 2;
	} else {
		n = 2; /* slots 0 and 1 stay the key's and the team's, empty */
	}
	if (bc->monthly_usd > 0) {
		global.month_usd = bc->monthly_usd;
		sc[n++] = (struct budget_scope){"global", "the global", &global};
	}
	for (int i = 0; i < n; i++)
		if (sc[i].lim == NULL)
			sc[i].lim = &keys_no_limits;
	rc = budget_scopes_reserve(r->store, n, sc, bc->timezone, upper_usd, q->scope_res, &cause);
	if (rc == 0)
		return 0;
	q->refused_at_admission = rc == 1;
	llm_error_set(&q->last_err, rc == 1 ? LLM_ERR_BUDGET : LLM_ERR_INTERNAL, 0, "%s",
	    cause != NULL ? cause : "budget check failed");
	free(cause);
	return 1;
}

struct keys_release {
	struct store *store;
	int64_t ids[LEDGER_SCOPES];
};

/* Worker: the store's part of rt_keys_release. */
static void
job_keys_release(void *arg)
{
	struct keys_release *x = arg;

	for (int k = 0; k < LEDGER_SCOPES; k++)
		budget_scope_release(x->store, x->ids[k]);
	free(x);
}

void
rt_keys_release(struct rreq *q)
{
	struct keys_release *x;
	int any = 0;

	for (int k = 0; k < LEDGER_SCOPES; k++)
		any |= q->scope_res[k] != 0;
	if (!any || q->r->store == NULL)
		return;
	/* The engine thread never waits on the database: the worker deletes the rows. */
	x = xcalloc(1, sizeof *x);
	x->store = q->r->store;
	memcpy(x->ids, q->scope_res, sizeof x->ids);
	memset(q->scope_res, 0, sizeof q->scope_res);
	workq_push(q->r->wq, job_keys_release, x);
}

void
rt_keys_tick(struct router *r)
{
	int64_t now;
	size_t j = 0;

	if (r->keyring == NULL)
		return;
	keyring_refresh(r->keyring, 0);
	now = store_now_ms(r->store);
	for (size_t i = 0; i < r->n_key_rates; i++) {
		if (now - r->key_rates[i].seen_ms > KEY_RATE_IDLE_MS)
			continue;
		r->key_rates[j++] = r->key_rates[i];
	}
	r->n_key_rates = j;
}

void
rt_keys_free(struct router *r)
{
	int64_t now;

	if (r->store != NULL && r->n_key_rates > 0) {
		now = store_now_ms(r->store);
		/* What the leases hold of this minute goes back to the fleet. */
		for (size_t i = 0; i < r->n_key_rates; i++) {
			struct key_rate *k = &r->key_rates[i];
			struct rate_lease *ls[2] = {&k->rpm, &k->tpm};
			const char *kinds[2] = {"rpm", "tpm"};
			int limits[2] = {k->rpm_limit, k->tpm_limit};

			for (int m = 0; m < 2; m++) {
				double g;
				char *cause = NULL;

				rate_lease_roll(ls[m], now);
				if (limits[m] > 0 && ls[m]->held >= 1 &&
				    limits_take(r->store, k->scope, kinds[m], ls[m]->minute,
				        limits[m], -ls[m]->held, &g, &cause) != 0)
					free(cause);
			}
		}
	}
	free(r->key_rates);
	r->key_rates = NULL;
	r->n_key_rates = 0;
	keyring_free(r->keyring);
	r->keyring = NULL;
}
