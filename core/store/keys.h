/*
 * keys.h: client keys and teams: who may spend, how much, on what, and who
 * spent it.
 *
 * A key is a secret the client sends (`Authorization: Bearer llmd-...` or
 * `x-api-key: llmd-...`). Its secret is printed once, by keys_create or
 * keys_rotate; the store keeps only its SHA-256 (hex) and a short prefix for
 * display. A key may belong to a team; a key and a team may each have a
 * daily and a monthly budget, RPM and TPM limits and a model allow-list
 * (struct spend_limits). A request must fit its key's, its team's and the
 * global budget.
 *
 * Keys and teams live in the store (both backends: SQLite's tables, and
 * PostgreSQL's with a NOTIFY on every change). Every change moves
 * keys_version, so a process notices a revocation at its next refresh
 * (struct keyring, at most KEYRING_REFRESH_MS later). A key's spend is the
 * sum of its ledger rows (ledger_row.key_id), as the global budget's is.
 *
 * Thread-safety: every keys_* and teams_* call is a store call (any thread,
 * may block on the database). keyring_check never touches the database.
 */
#ifndef LLMDECK_KEYS_H
#define LLMDECK_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config_limits.h"

struct store;

#define KEY_SECRET_PREFIX "llmd-"
/* "llmd-" + 43 base64url characters (256 bits) + NUL, with room. */
#define KEY_SECRET_SIZE 64
/* "k-" + 12 hex digits: stable, shown, written in the ledger and the admin API's paths. */
#define KEY_ID_SIZE 24
/* The secret's first characters kept for display: "llmd-AbCdEfG". */
#define KEY_PREFIX_SIZE 16
/* A model allow-list: comma-separated aliases ("claude-sonnet,gpt-4o"); "" allows all. */
#define KEY_MODELS_SIZE 512
/* What keys_rotate leaves the old secret working for, unless told. */
#define KEY_ROTATE_GRACE_DEFAULT_MS (24LL * 3600 * 1000)
/* A keyring reads keys_version at most this often: a revocation reaches every
 * process on the database within about this (the issue asks 1 s). */
#define KEYRING_REFRESH_MS 250

/* What a key or a team may spend and use. Zero (or "") is "no limit of this kind". */
struct spend_limits {
	double day_usd;               /* a day in the global budget's timezone */
	double month_usd;             /* a calendar month in that timezone */
	int rpm, tpm;                 /* per minute, across every process on the database */
	char models[KEY_MODELS_SIZE]; /* allow-list of aliases, comma-separated; "": all */
	double alert_threshold;       /* fraction of day_usd for the alert; 0: the global one */
};

struct store_key {
	char id[KEY_ID_SIZE];
	char name[LIMIT_NAME_SIZE]; /* unique among keys not revoked */
	char team[LIMIT_NAME_SIZE]; /* "": none */
	char prefix[KEY_PREFIX_SIZE];
	int64_t created_ms;
	int64_t expires_ms;     /* 0: never */
	int64_t revoked_ms;     /* 0: live */
	int64_t rotated_ms;     /* the last rotation, 0: never */
	int64_t grace_until_ms; /* the secret before the last rotation works until then */
	int64_t last_used_ms;   /* as of the last keyring flush; 0: never */
	struct spend_limits lim;
};

struct store_team {
	char name[LIMIT_NAME_SIZE];
	int64_t created_ms;
	struct spend_limits lim;
};

/*
 * Create a key from in's name, team, expires_ms and lim (the rest is made):
 * secret gets the new secret (print it once, never store or log it), out the
 * key as stored. A team named that does not exist yet is created with no
 * limits. 0, or -1 with *cause (one line: a name in use, a bad name, the
 * store).
 */
int keys_create(struct store *, const struct store_key *in, char secret[KEY_SECRET_SIZE],
    struct store_key *out, char **cause);
/* Every key, revoked ones included, by name: the count with *out set (caller frees), or -1
 * with *cause. */
int keys_list(struct store *, struct store_key **out, char **cause);
/* The key whose id or name (a live key's, before a revoked one's) is which: 0 found, 1 none,
 * -1 with *cause. */
int keys_find(struct store *, const char *which, struct store_key *out, char **cause);
/* Revoke at once (its secrets, old and new, stop working). 0, 1 none, -1 with *cause. */
int keys_revoke(struct store *, const char *which, char **cause);
/* A new secret for the key; the current one keeps working for grace_ms (0: none, at once
 * revoked). 0 with secret and out set, 1 none, -1 with *cause. */
int keys_rotate(struct store *, const char *which, int64_t grace_ms, char secret[KEY_SECRET_SIZE],
    struct store_key *out, char **cause);
/* Replace a key's limits, team or expiry (the fields of in other than id, name, secret).
 * 0, 1 none, -1 with *cause. */
int keys_update(struct store *, const char *which, const struct store_key *in, char **cause);

/* Create or replace a team's limits. 0, or -1 with *cause. */
int teams_put(struct store *, const struct store_team *, char **cause);
int teams_list(struct store *, struct store_team **out, char **cause);
int teams_find(struct store *, const char *name, struct store_team *out, char **cause);
/* Delete a team with no live key. 0, 1 none, -1 with *cause (keys still in it). */
int teams_delete(struct store *, const char *name, char **cause);

/* A number that moves whenever a key or team changes, in any process on the database. */
int keys_version(struct store *, int64_t *version);

/* What a scope (a key or a team) spent, from the ledger: today and this month in the
 * timezone tz, and over the last 5 and 60 minutes per hour (burn); requests and 429s
 * (refusals for a limit) today. scope: "key:ID" or "team:NAME". 0, or -1 with *cause. */
struct scope_spend {
	double day_usd, month_usd;
	double burn_5m_per_hour, burn_60m_per_hour;
	int64_t requests_day, refused_day;
};
int keys_scope_spend(struct store *, const char *scope, const char *tz, struct scope_spend *,
    char **cause);

/*
 * The budgets of a key and of a team, with the global budget's discipline
 * (budget.c's invariant (I), one per scope and window: spent + reserved <=
 * budget, checked in the transaction that reserves, on every process on the
 * database). Reserve upper_usd against scope's day and month budgets in lim
 * (both 0: nothing to do, *reservation_id 0). 0 reserved (*reservation_id set,
 * settled by the ledger row that carries it in ledger_row.scope_res, or
 * dropped by budget_scope_release), 1 refused (*cause: "key NAME's daily
 * budget $X: spent $Y, reserved $Z, this request needs up to $W"), -1 error
 * (*cause). label names the scope in the cause ("key ci-bot", "team ml").
 */
int budget_scope_reserve(struct store *, const char *scope, const char *label,
    const struct spend_limits *lim, const char *tz, double upper_usd, int64_t *reservation_id,
    char **cause);
void budget_scope_release(struct store *, int64_t reservation_id);
/*
 * Several scopes at once, all or none, in one transaction (the router's key, team and
 * global month): ids[i] set for each scope whose lim has a budget (0 for the others).
 * Returns as budget_scope_reserve (1: the first scope refused named in *cause, no id set).
 * A scope "global" is the global budget: its spend is every ledger row's.
 */
#define BUDGET_SCOPES_MAX 4
struct budget_scope {
	const char *scope; /* "key:ID", "team:NAME", "global" */
	const char *label; /* "key ci-bot", "team ml", "the global" */
	const struct spend_limits *lim;
};
int budget_scopes_reserve(struct store *, int n, const struct budget_scope *, const char *tz,
    double upper_usd, int64_t *ids, char **cause);

/*
 * A process's view of the keys for authenticating requests: the keys and
 * teams in memory, looked up by the secret's SHA-256, refreshed from the
 * store when keys_version moved (keyring_refresh, from a periodic tick every
 * KEYRING_REFRESH_MS; never from keyring_check). Thread-safe (a rwlock).
 * Owned by the router (router_keyring), which refreshes it on its worker's
 * tick and flushes each key's last use to the store.
 */
struct keyring;
struct keyring *keyring_new(struct store *);
void keyring_free(struct keyring *);
/* Reread the keys if keys_version moved (or force); write the last uses seen since. 0 or -1. */
int keyring_refresh(struct keyring *, int force);

enum key_verdict {
	KEY_OK,      /* a live key: out filled */
	KEY_OPEN,    /* no key was ever made on the database: requests need none */
	KEY_MISSING, /* keys exist and the request sent none */
	KEY_UNKNOWN, /* no key has this secret (or a rotated-out one past its grace) */
	KEY_REVOKED,
	KEY_EXPIRED,
};
const char *key_verdict_name(enum key_verdict);

/* What a request authenticated as: its key, and the key's and team's limits. */
struct key_auth {
	char id[KEY_ID_SIZE];
	char name[LIMIT_NAME_SIZE];
	char team[LIMIT_NAME_SIZE];
	struct spend_limits key_lim;
	struct spend_limits team_lim; /* zeros when no team */
};
/* Check a presented secret (secret NULL or len 0: none was sent) at now_ms, and note the
 * key's use. Never blocks on the database. */
enum key_verdict keyring_check(struct keyring *, const char *secret, size_t len, int64_t now_ms,
    struct key_auth *out);
/* The limits of key id as last read (router enforcement): 0 found, -1 not (revoked since). */
int keyring_limits(struct keyring *, const char *key_id, struct key_auth *out);
/* 1 when at least one key exists, revoked and expired ones included (the gateway then
 * requires one; revoking the last key never opens it again). Also 1 before the keyring
 * could first read the store (fail closed). */
int keyring_active(struct keyring *);

/* 1 when alias is allowed by models (a comma-separated allow-list, "" allowing all). */
int spend_limits_allow_model(const struct spend_limits *, const char *alias);

#endif
