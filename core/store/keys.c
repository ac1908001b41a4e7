/*
 * keys.c: client keys and teams (keys.h): secrets and their hashes, the
 * keyring a process authenticates with, the scoped budgets, and SQLite's
 * halves of their backend operations (PostgreSQL's are in store_pg.c).
 *
 * A secret is "llmd-" + base64url of 32 bytes from RAND_bytes; the store keeps
 * its SHA-256 (hex) and its first KEY_PREFIX_SIZE - 1 characters, never the
 * secret. A key's id is "k-" + 12 hex digits. Every change to a key or a team
 * moves keys_version in the same transaction, and a keyring rereads everything
 * when it moved.
 *
 * "Keys exist" (keyring_active, the gateway then requires one) means some key
 * row exists, revoked and expired ones included: once an operator has made a
 * key the gateway never falls open again by itself (revoking the last key
 * locks every client out rather than letting every client in; keys are
 * never deleted, so reopening takes a new database or an explicit setting).
 *
 * Scoped budgets follow budget.c's invariant (I) per scope and window, without
 * leases: for a key, a team or the global month,
 *
 *     spent(window) + live scope reservations + upper <= budget
 *
 * is checked inside one transaction serialised with every other reservation
 * and with every ledger batch that settles one (SQLite's BEGIN IMMEDIATE,
 * PostgreSQL's budget advisory lock), which inserts a reservation row per
 * scope; the ledger row's transaction deletes its rows (ledger_row.scope_res)
 * and adds its cost to the scope's 15-minute buckets (scope_spend), so the
 * left side never grows past what was checked. A reservation counts for
 * BUDGET_RESERVATION_TTL_MS, and (SQLite) while its process lives.
 */
#include "store/keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/budget.h"
#include "store/store_priv.h"
#include "util/util.h"

/* Secrets, ids and hashes. */

static int
keys_random(unsigned char *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

static int
keys_new_secret(char secret[KEY_SECRET_SIZE])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	size_t n = strlen(KEY_SECRET_PREFIX);

	if (keys_random(raw, 32) != 0)
		return -1;
	raw[32] = 0;
	memcpy(secret, KEY_SECRET_PREFIX, n);
	/* 32 bytes: ten whole groups of three, then two bytes (three characters). */
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    (i + 2 < 33 ? raw[i + 2] : 0);
		int chars = i + 3 <= 32 ? 4 : 3;

		for (int k = 0; k < chars; k++)
			secret[n++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	secret[n] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

static int
keys_new_id(char id[KEY_ID_SIZE])
{
	unsigned char raw[6];

	if (keys_random(raw, sizeof raw) != 0)
		return -1;
	snprintf(id, KEY_ID_SIZE, "k-%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3],
	    raw[4], raw[5]);
	return 0;
}

static int
keys_hash(const char *secret, size_t len, char hex[KEY_HASH_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A key or team name: 1 to LIMIT_NAME_LEN of [A-Za-z0-9._-], not starting with "k-" for keys
 * (an id's shape). NULL, or a one-line cause. */
static char *
keys_bad_name(const char *what, const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0)
		return xasprintf("%s name: empty", what);
	if (n > LIMIT_NAME_LEN)
		return xasprintf("%s name: longer than %d characters", what, LIMIT_NAME_LEN);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-'))
			return xasprintf("%s name \"%s\": only letters, digits, '.', '_' and '-'",
			    what, name);
	}
	return NULL;
}

static char *
keys_bad_limits(const char *what, const struct spend_limits *l)
{
	if (!(l->day_usd >= 0) || !(l->month_usd >= 0) || l->day_usd > 1e9 || l->month_usd > 1e9)
		return xasprintf("%s budget: must be between 0 and 1e9 USD", what);
	if (l->rpm < 0 || l->tpm < 0)
		return xasprintf("%s rpm/tpm: must not be negative", what);
	if (!(l->alert_threshold >= 0) || l->alert_threshold > 1)
		return xasprintf("%s alert threshold: must be between 0 and 1", what);
	return NULL;
}

const char *
key_verdict_name(enum key_verdict v)
{
	switch (v) {
	case KEY_OK: return "ok";
	case KEY_OPEN: return "open";
	case KEY_MISSING: return "missing";
	case KEY_UNKNOWN: return "unknown";
	case KEY_REVOKED: return "revoked";
	case KEY_EXPIRED: return "expired";
	}
	return "unknown";
}

int
spend_limits_allow_model(const struct spend_limits *l, const char *alias)
{
	const char *p = l->models;
	size_t n = alias != NULL ? strlen(alias) : 0;

	if (p[0] == '\0')
		return 1;
	if (n == 0)
		return 0;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == n && memcmp(p, alias, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/* Keys and teams. */

static int
keys_rows(struct store *s, struct key_row **keys, int *n_keys, struct store_team **teams,
    int *n_teams, int64_t *version, char **cause)
{
	struct store_team *t = NULL;
	int nt = 0;
	int64_t v = 0;
	int rc;

	*keys = NULL;
	*n_keys = 0;
	rc = store_backend_of(s)->keys_rows(s, keys, n_keys, teams != NULL ? teams : &t,
	    n_teams != NULL ? n_teams : &nt, version != NULL ? version : &v, cause);
	free(t);
	return rc;
}

/* The key whose id is which, else the live key named which, else the last revoked one. */
static struct key_row *
keys_pick(struct key_row *v, int n, const char *which)
{
	struct key_row *named = NULL;

	if (which == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].k.id, which) == 0)
			return &v[i];
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i].k.name, which) != 0)
			continue;
		if (v[i].k.revoked_ms == 0)
			return &v[i];
		if (named == NULL || v[i].k.revoked_ms > named->k.revoked_ms)
			named = &v[i];
	}
	return named;
}

/* Find which into *row: 0, 1 none, -1 with *cause. */
static int
keys_get(struct store *s, const char *which, struct key_row *row, char **cause)
{
	struct key_row *v, *k;
	int n;

	if (keys_rows(s, &v, &n, NULL, NULL, NULL, cause) != 0)
		return -1;
	k = keys_pick(v, n, which);
	if (k != NULL)
		*row = *k;
	free(v);
	return k != NULL ? 0 : 1;
}

int
keys_create(struct store *s, const struct store_key *in, char secret[KEY_SECRET_SIZE],
    struct store_key *out, char **cause)
{
	struct key_row row;
	int rc;

	secret[0] = '\0';
	if ((*cause = keys_bad_name("key", in->name)) != NULL ||
	    (in->team[0] != '\0' && (*cause = keys_bad_name("team", in->team)) != NULL) ||
	    (*cause = keys_bad_limits("key", &in->lim)) != NULL)
		return -1;
	if (strncmp(in->name, "k-", 2) == 0) {
		*cause = xasprintf("key name \"%s\": \"k-\" begins key ids", in->name);
		return -1;
	}
	memset(&row, 0, sizeof row);
	strlcpy_(row.k.name, in->name, sizeof row.k.name);
	strlcpy_(row.k.team, in->team, sizeof row.k.team);
	row.k.expires_ms = in->expires_ms > 0 ? in->expires_ms : 0;
	row.k.lim = in->lim;
	row.k.lim.models[sizeof row.k.lim.models - 1] = '\0';
	row.k.created_ms = store_now_ms(s);
	if (keys_new_id(row.k.id) != 0 || keys_new_secret(secret) != 0 ||
	    keys_hash(secret, strlen(secret), row.hash) != 0) {
		secret[0] = '\0';
		*cause = xasprintf("keys: no random bytes or no SHA-256 from OpenSSL");
		return -1;
	}
	strlcpy_(row.k.prefix, secret, sizeof row.k.prefix);
	rc = store_backend_of(s)->key_write(s, &row, 1, cause);
	if (rc == 1)
		*cause = xasprintf("key name \"%s\" is in use by a live key", in->name);
	if (rc != 0) {
		OPENSSL_cleanse(secret, KEY_SECRET_SIZE);
		secret[0] = '\0';
		return -1;
	}
	if (out != NULL)
		*out = row.k;
	return 0;
}

static int
keys_by_name(const void *a, const void *b)
{
	const struct store_key *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if ((x->revoked_ms == 0) != (y->revoked_ms == 0))
		return x->revoked_ms == 0 ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
keys_list(struct store *s, struct store_key **out, char **cause)
{
	struct key_row *v;
	int n;

	*out = NULL;
	if (keys_rows(s, &v, &n, NULL, NULL, NULL, cause) != 0)
		return -1;
	if (n > 0) {
		*out = xcalloc((size_t)n, sizeof **out);
		for (int i = 0; i < n; i++)
			(*out)[i] = v[i].k;
		qsort(*out, (size_t)n, sizeof **out, keys_by_name);
	}
	free(v);
	return n;
}

int
keys_find(struct store *s, const char *which, struct store_key *out, char **cause)
{
	struct key_row row;
	int rc = keys_get(s, which, &row, cause);

	if (rc == 0 && out != NULL)
		*out = row.k;
	return rc;
}

int
keys_revoke(struct store *s, const char *which, char **cause)
{
	struct key_row row;
	int rc = keys_get(s, which, &row, cause);

	if (rc != 0)
		return rc;
	if (row.k.revoked_ms != 0)
		return 0;
	row.k.revoked_ms = store_now_ms(s);
	if (row.k.revoked_ms <= 0)
		row.k.revoked_ms = 1;
	rc = store_backend_of(s)->key_write(s, &row, 0, cause);
	return rc == 0 ? 0 : rc == 1 ? 1 : -1;
}

int
keys_rotate(struct store *s, const char *which, int64_t grace_ms, char secret[KEY_SECRET_SIZE],
    struct store_key *out, char **cause)
{
	struct key_row row;
	int64_t now = store_now_ms(s);
	int rc = keys_get(s, which, &row, cause);

	secret[0] = '\0';
	if (rc != 0)
		return rc;
	if (row.k.revoked_ms != 0) {
		*cause =
		    xasprintf("key %s (%s) is revoked: create a new one", row.k.name, row.k.id);
		return -1;
	}
	if (grace_ms > 0) {
		strlcpy_(row.old_hash, row.hash, sizeof row.old_hash);
		row.k.grace_until_ms = now + grace_ms;
	} else {
		row.old_hash[0] = '\0';
		row.k.grace_until_ms = 0;
	}
	if (keys_new_secret(secret) != 0 || keys_hash(secret, strlen(secret), row.hash) != 0) {
		secret[0] = '\0';
		*cause = xasprintf("keys: no random bytes or no SHA-256 from OpenSSL");
		return -1;
	}
	strlcpy_(row.k.prefix, secret, sizeof row.k.prefix);
	row.k.rotated_ms = now;
	rc = store_backend_of(s)->key_write(s, &row, 0, cause);
	if (rc != 0) {
		OPENSSL_cleanse(secret, KEY_SECRET_SIZE);
		secret[0] = '\0';
		return rc == 1 ? 1 : -1;
	}
	if (out != NULL)
		*out = row.k;
	return 0;
}

int
keys_update(struct store *s, const char *which, const struct store_key *in, char **cause)
{
	struct key_row row;
	int rc;

	if ((in->team[0] != '\0' && (*cause = keys_bad_name("team", in->team)) != NULL) ||
	    (*cause = keys_bad_limits("key", &in->lim)) != NULL)
		return -1;
	if ((rc = keys_get(s, which, &row, cause)) != 0)
		return rc;
	strlcpy_(row.k.team, in->team, sizeof row.k.team);
	row.k.expires_ms = in->expires_ms > 0 ? in->expires_ms : 0;
	row.k.lim = in->lim;
	row.k.lim.models[sizeof row.k.lim.models - 1] = '\0';
	rc = store_backend_of(s)->key_write(s, &row, 0, cause);
	return rc == 0 ? 0 : rc == 1 ? 1 : -1;
}

int
teams_put(struct store *s, const struct store_team *t, char **cause)
{
	struct store_team w = *t;

	if ((*cause = keys_bad_name("team", t->name)) != NULL ||
	    (*cause = keys_bad_limits("team", &t->lim)) != NULL)
		return -1;
	w.lim.models[sizeof w.lim.models - 1] = '\0';
	if (w.created_ms <= 0)
		w.created_ms = store_now_ms(s);
	return store_backend_of(s)->team_write(s, &w, 0, cause) == 0 ? 0 : -1;
}

int
teams_list(struct store *s, struct store_team **out, char **cause)
{
	struct key_row *v;
	int n, nt;

	*out = NULL;
	if (keys_rows(s, &v, &n, out, &nt, NULL, cause) != 0)
		return -1;
	free(v);
	return nt;
}

int
teams_find(struct store *s, const char *name, struct store_team *out, char **cause)
{
	struct store_team *t;
	int n = teams_list(s, &t, cause), rc = 1;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0) {
			if (out != NULL)
				*out = t[i];
			rc = 0;
			break;
		}
	free(t);
	return rc;
}

int
teams_delete(struct store *s, const char *name, char **cause)
{
	struct store_team t;
	int rc;

	memset(&t, 0, sizeof t);
	strlcpy_(t.name, name != NULL ? name : "", sizeof t.name);
	rc = store_backend_of(s)->team_write(s, &t, 1, cause);
	if (rc == 2)
		*cause = xasprintf("team %s still has live keys: revoke them or move them first",
		    t.name);
	return rc == 2 ? -1 : rc;
}

int
keys_version(struct store *s, int64_t *version)
{
	return store_backend_of(s)->keys_version(s, version);
}

/* Windows and scoped budgets. */

/* The day and the month containing now in tz: bounds[0..1] the day, [2..3] the month. */
static int
keys_windows(struct store *s, const char *tz, int64_t now, int64_t bounds[4], char **cause)
{
	char day[16];
	int64_t a, b, t;
	int guard;

	if (store_today(s, tz, now, &bounds[0], &bounds[1], day) != 0) {
		*cause = xasprintf("budget: unknown timezone \"%s\"", tz != NULL ? tz : "");
		return -1;
	}
	/* Back to the 1st, forward to the next 1st (a day at a time: at most 31 each way). */
	a = bounds[0];
	for (guard = 0; strcmp(day + 8, "01") != 0 && guard < 32; guard++) {
		t = a - 1;
		store_today(s, tz, t, &a, &b, day);
	}
	bounds[2] = a;
	t = bounds[1];
	for (guard = 0; guard < 32; guard++) {
		store_today(s, tz, t, &a, &b, day);
		if (strcmp(day + 8, "01") == 0)
			break;
		t = b;
	}
	bounds[3] = a;
	return 0;
}

void
scope_grant_decide(struct scope_grant *g)
{
	double held = g->reserved + g->upper;

	g->refused = 0;
	if (g->day_usd > 0 &&
	    (g->spent_day + held > g->day_usd || g->spent_day + g->reserved >= g->day_usd))
		g->refused = 1;
	else if (g->month_usd > 0 &&
	    (g->spent_month + held > g->month_usd || g->spent_month + g->reserved >= g->month_usd))
		g->refused = 2;
}

int
budget_scopes_reserve(struct store *s, int n, const struct budget_scope *sc, const char *tz,
    double upper_usd, int64_t *ids, char **cause)
{
	struct scope_grant g[BUDGET_SCOPES_MAX];
	int64_t now, bounds[4], a, b;
	int m = 0, idx[BUDGET_SCOPES_MAX];

	for (int i = 0; i < n; i++)
		ids[i] = 0;
	if (n > BUDGET_SCOPES_MAX)
		n = BUDGET_SCOPES_MAX;
	if (!(upper_usd >= 0))
		upper_usd = 0;
	now = store_now_ms(s);
	for (int i = 0; i < n; i++) {
		if (sc[i].lim == NULL || (sc[i].lim->day_usd <= 0 && sc[i].lim->month_usd <= 0))
			continue;
		if (m == 0 && keys_windows(s, tz, now, bounds, cause) != 0)
			return -1;
		memset(&g[m], 0, sizeof g[m]);
		if (m == 0)
			store_today(s, tz, now, &a, &b, g[0].day);
		else
			memcpy(g[m].day, g[0].day, sizeof g[m].day);
		g[m].alert_threshold = sc[i].lim->alert_threshold;
		g[m].label = sc[i].label != NULL ? sc[i].label : sc[i].scope;
		{
			/* Through a copy: GCC's -Wrestrict (at -O1) sees g[m] on both sides. */
			char akey[sizeof g[m].alert_key];

			snprintf(akey, sizeof akey, "%s %s", g[m].day, sc[i].scope);
			memcpy(g[m].alert_key, akey, sizeof akey);
		}
		g[m].scope = sc[i].scope;
		g[m].day_usd = sc[i].lim->day_usd;
		g[m].month_usd = sc[i].lim->month_usd;
		g[m].upper = upper_usd;
		g[m].now = now;
		g[m].day_start = bounds[0];
		g[m].day_end = bounds[1];
		g[m].month_start = bounds[2];
		g[m].month_end = bounds[3];
		idx[m++] = i;
	}
	if (m == 0)
		return 0;
	if (store_backend_of(s)->scope_reserve(s, g, m, cause) != 0)
		return -1;
	for (int k = 0; k < m; k++) {
		const struct scope_grant *x = &g[k];
		const char *label = sc[idx[k]].label != NULL ? sc[idx[k]].label : x->scope;

		if (!x->refused)
			continue;
		for (int i = 0; i < n; i++)
			ids[i] = 0;
		*cause = xasprintf("%s's %s budget $%.2f: spent $%.4f, reserved $%.4f, this "
		                   "request needs up to $%.4f",
		    label, x->refused == 1 ? "daily" : "monthly",
		    x->refused == 1 ? x->day_usd : x->month_usd,
		    x->refused == 1 ? x->spent_day : x->spent_month, x->reserved, x->upper);
		return 1;
	}
	for (int k = 0; k < m; k++)
		ids[idx[k]] = g[k].reservation_id;
	return 0;
}

int
budget_scope_reserve(struct store *s, const char *scope, const char *label,
    const struct spend_limits *lim, const char *tz, double upper_usd, int64_t *reservation_id,
    char **cause)
{
	struct budget_scope sc = {.scope = scope, .label = label, .lim = lim};

	return budget_scopes_reserve(s, 1, &sc, tz, upper_usd, reservation_id, cause);
}

void
budget_scope_release(struct store *s, int64_t reservation_id)
{
	if (s != NULL && reservation_id > 0)
		store_backend_of(s)->scope_unreserve(s, reservation_id);
}

int
keys_scope_spend(struct store *s, const char *scope, const char *tz, struct scope_spend *out,
    char **cause)
{
	int64_t now = store_now_ms(s), bounds[4];

	memset(out, 0, sizeof *out);
	if (scope == NULL ||
	    (strncmp(scope, "key:", 4) != 0 && strncmp(scope, "team:", 5) != 0 &&
	        strcmp(scope, "global") != 0)) {
		*cause = xasprintf("scope \"%s\": not key:ID, team:NAME or global",
		    scope != NULL ? scope : "");
		return -1;
	}
	if (keys_windows(s, tz, now, bounds, cause) != 0)
		return -1;
	return store_backend_of(s)->scope_spend(s, scope, bounds, now, out, cause);
}

/* The keyring. */

struct kr_key {
	struct key_row r;
	_Atomic int64_t used; /* the last use keyring_check saw */
	int64_t flushed;      /* the last use written (keyring_refresh's, under refresh_mu) */
};

struct kr_idx {
	const char *hash;
	int key;
	int old; /* the secret before the last rotation */
};

/*
 * Thread-safe: lk (a rwlock) guards keys, teams and idx and the counts; keyring_check and
 * keyring_limits take it shared, a refresh's swap exclusively. refresh_mu serialises
 * refreshes (the worker's tick, a forced one) and guards version, loaded and the
 * kr_key.flushed fields. Lock order: refresh_mu, then lk; no store call under lk.
 */
struct keyring {
	struct store *s;
	pthread_rwlock_t lk;
	pthread_mutex_t refresh_mu;
	struct kr_key *keys;
	int n_keys;
	struct store_team *teams;
	int n_teams;
	struct kr_idx *idx;
	int n_idx;
	int active;
	int64_t version;
	int loaded;
};

static int
kr_idx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kr_idx *)a)->hash, ((const struct kr_idx *)b)->hash);
}

struct keyring *
keyring_new(struct store *s)
{
	struct keyring *kr = xcalloc(1, sizeof *kr);

	kr->s = s;
	pthread_rwlock_init(&kr->lk, NULL);
	pthread_mutex_init(&kr->refresh_mu, NULL);
	/* Until a first read succeeds, fail closed: keys may exist. */
	kr->active = 1;
	keyring_refresh(kr, 1);
	return kr;
}

/* Under refresh_mu: the last uses noted since the last flush, written in one transaction. */
static void
keyring_flush(struct keyring *kr)
{
	struct key_touch *t = NULL;
	int n = 0;

	pthread_rwlock_rdlock(&kr->lk);
	for (int i = 0; i < kr->n_keys; i++) {
		int64_t u = atomic_load(&kr->keys[i].used);

		if (u <= kr->keys[i].flushed)
			continue;
		t = xreallocarray(t, (size_t)n + 1, sizeof *t);
		strlcpy_(t[n].id, kr->keys[i].r.k.id, sizeof t[n].id);
		t[n++].last_used_ms = u;
		kr->keys[i].flushed = u;
	}
	pthread_rwlock_unlock(&kr->lk);
	if (n > 0)
		store_backend_of(kr->s)->keys_touch(kr->s, t, n);
	free(t);
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	pthread_mutex_lock(&kr->refresh_mu);
	if (kr->s != NULL)
		keyring_flush(kr);
	pthread_mutex_unlock(&kr->refresh_mu);
	free(kr->keys);
	free(kr->teams);
	free(kr->idx);
	pthread_rwlock_destroy(&kr->lk);
	pthread_mutex_destroy(&kr->refresh_mu);
	free(kr);
}

int
keyring_refresh(struct keyring *kr, int force)
{
	struct key_row *v = NULL;
	struct store_team *t = NULL;
	struct kr_key *nk, *ok;
	struct kr_idx *idx;
	int n = 0, nt = 0, ni = 0, active = 0, on;
	int64_t version = 0;
	char *cause = NULL;

	if (kr == NULL || kr->s == NULL)
		return -1;
	pthread_mutex_lock(&kr->refresh_mu);
	keyring_flush(kr);
	if (!force && kr->loaded &&
	    (store_backend_of(kr->s)->keys_version(kr->s, &version) != 0 ||
	        version == kr->version)) {
		pthread_mutex_unlock(&kr->refresh_mu);
		return 0;
	}
	if (keys_rows(kr->s, &v, &n, &t, &nt, &version, &cause) != 0) {
		free(cause);
		pthread_mutex_unlock(&kr->refresh_mu);
		return -1;
	}
	nk = n > 0 ? xcalloc((size_t)n, sizeof *nk) : NULL;
	idx = n > 0 ? xcalloc((size_t)n * 2, sizeof *idx) : NULL;
	for (int i = 0; i < n; i++) {
		nk[i].r = v[i];
		atomic_init(&nk[i].used, v[i].k.last_used_ms);
		nk[i].flushed = v[i].k.last_used_ms;
		active = 1;
	}
	for (int i = 0; i < n; i++) {
		idx[ni++] = (struct kr_idx){.hash = nk[i].r.hash, .key = i};
		if (nk[i].r.old_hash[0] != '\0')
			idx[ni++] = (struct kr_idx){.hash = nk[i].r.old_hash, .key = i, .old = 1};
	}
	if (ni > 1)
		qsort(idx, (size_t)ni, sizeof *idx, kr_idx_cmp);
	free(v);
	pthread_rwlock_wrlock(&kr->lk);
	/* Uses noted since the flush above carry over. */
	ok = kr->keys;
	on = kr->n_keys;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < on; j++)
			if (strcmp(nk[i].r.k.id, ok[j].r.k.id) == 0) {
				int64_t u = atomic_load(&ok[j].used);

				if (u > atomic_load(&nk[i].used))
					atomic_store(&nk[i].used, u);
				if (ok[j].flushed > nk[i].flushed)
					nk[i].flushed = ok[j].flushed;
				break;
			}
	kr->keys = nk;
	kr->n_keys = n;
	free(kr->teams);
	kr->teams = t;
	kr->n_teams = nt;
	free(kr->idx);
	kr->idx = idx;
	kr->n_idx = ni;
	kr->active = active;
	pthread_rwlock_unlock(&kr->lk);
	free(ok);
	kr->version = version;
	kr->loaded = 1;
	pthread_mutex_unlock(&kr->refresh_mu);
	return 0;
}

/* Under lk: the auth of key i (its team's limits too). */
static void
keyring_auth(struct keyring *kr, int i, struct key_auth *out)
{
	const struct store_key *k = &kr->keys[i].r.k;

	memset(out, 0, sizeof *out);
	strlcpy_(out->id, k->id, sizeof out->id);
	strlcpy_(out->name, k->name, sizeof out->name);
	strlcpy_(out->team, k->team, sizeof out->team);
	out->key_lim = k->lim;
	if (k->team[0] == '\0')
		return;
	for (int t = 0; t < kr->n_teams; t++)
		if (strcmp(kr->teams[t].name, k->team) == 0) {
			out->team_lim = kr->teams[t].lim;
			break;
		}
}

enum key_verdict
keyring_check(struct keyring *kr, const char *secret, size_t len, int64_t now_ms,
    struct key_auth *out)
{
	char hex[KEY_HASH_SIZE];
	struct kr_idx want, *hit;
	enum key_verdict v;
	const struct kr_key *k;

	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (kr == NULL)
		return KEY_OPEN;
	if (secret != NULL && len > 0 && keys_hash(secret, len, hex) != 0)
		return KEY_UNKNOWN;
	pthread_rwlock_rdlock(&kr->lk);
	if (!kr->active) {
		pthread_rwlock_unlock(&kr->lk);
		return KEY_OPEN;
	}
	if (secret == NULL || len == 0) {
		pthread_rwlock_unlock(&kr->lk);
		return KEY_MISSING;
	}
	want.hash = hex;
	hit = kr->n_idx > 0
	    ? bsearch(&want, kr->idx, (size_t)kr->n_idx, sizeof *kr->idx, kr_idx_cmp)
	    : NULL;
	if (hit == NULL) {
		pthread_rwlock_unlock(&kr->lk);
		return KEY_UNKNOWN;
	}
	k = &kr->keys[hit->key];
	if (k->r.k.revoked_ms != 0)
		v = KEY_REVOKED;
	else if (hit->old && now_ms >= k->r.k.grace_until_ms)
		v = KEY_UNKNOWN;
	else if (k->r.k.expires_ms != 0 && now_ms >= k->r.k.expires_ms)
		v = KEY_EXPIRED;
	else
		v = KEY_OK;
	if (v == KEY_OK) {
		atomic_store(&kr->keys[hit->key].used, now_ms);
		if (out != NULL)
			keyring_auth(kr, hit->key, out);
	}
	pthread_rwlock_unlock(&kr->lk);
	return v;
}

int
keyring_limits(struct keyring *kr, const char *key_id, struct key_auth *out)
{
	int64_t now;
	int rc = -1;

	if (kr == NULL || key_id == NULL)
		return -1;
	now = store_now_ms(kr->s);
	pthread_rwlock_rdlock(&kr->lk);
	for (int i = 0; i < kr->n_keys; i++) {
		const struct store_key *k = &kr->keys[i].r.k;

		if (strcmp(k->id, key_id) != 0)
			continue;
		if (k->revoked_ms == 0 && (k->expires_ms == 0 || now < k->expires_ms)) {
			if (out != NULL)
				keyring_auth(kr, i, out);
			rc = 0;
		}
		break;
	}
	pthread_rwlock_unlock(&kr->lk);
	return rc;
}

int
keyring_active(struct keyring *kr)
{
	int a;

	if (kr == NULL)
		return 0;
	pthread_rwlock_rdlock(&kr->lk);
	a = kr->active;
	pthread_rwlock_unlock(&kr->lk);
	return a;
}

/* SQLite's halves. */

#define KEYS_SQLITE_LIM_COLS "day_usd, month_usd, rpm, tpm, models, alert_threshold"

static void
keys_sqlite_lim(sqlite3_stmt *st, int col, struct spend_limits *l)
{
	l->day_usd = sqlite3_column_double(st, col);
	l->month_usd = sqlite3_column_double(st, col + 1);
	l->rpm = sqlite3_column_int(st, col + 2);
	l->tpm = sqlite3_column_int(st, col + 3);
	store_copy_text(l->models, sizeof l->models, st, col + 4);
	l->alert_threshold = sqlite3_column_double(st, col + 5);
}

static void
keys_sqlite_bind_lim(sqlite3_stmt *st, int col, const struct spend_limits *l)
{
	sqlite3_bind_double(st, col, l->day_usd);
	sqlite3_bind_double(st, col + 1, l->month_usd);
	sqlite3_bind_int(st, col + 2, l->rpm);
	sqlite3_bind_int(st, col + 3, l->tpm);
	sqlite3_bind_text(st, col + 4, l->models, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, col + 5, l->alert_threshold);
}

int
keys_sqlite_rows(struct store *s, struct key_row **keys, int *n_keys, struct store_team **teams,
    int *n_teams, int64_t *version, char **cause)
{
	sqlite3 *db = store_lock(s);
	sqlite3_stmt *st = NULL;
	struct key_row *v = NULL;
	struct store_team *t = NULL;
	int n = 0, nt = 0, rc;

	*keys = NULL;
	*teams = NULL;
	*n_keys = *n_teams = 0;
	if (store_exec(db, "BEGIN") != 0)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT version FROM keys_meta", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	*version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db,
	        "SELECT id, name, team, prefix, hash, old_hash, grace_until_ms, created_ms, "
	        "expires_ms, revoked_ms, rotated_ms, last_used_ms, " KEYS_SQLITE_LIM_COLS
	        " FROM keys ORDER BY name, revoked_ms, id",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct key_row *r;

		v = xreallocarray(v, (size_t)n + 1, sizeof *v);
		r = &v[n++];
		memset(r, 0, sizeof *r);
		store_copy_text(r->k.id, sizeof r->k.id, st, 0);
		store_copy_text(r->k.name, sizeof r->k.name, st, 1);
		store_copy_text(r->k.team, sizeof r->k.team, st, 2);
		store_copy_text(r->k.prefix, sizeof r->k.prefix, st, 3);
		store_copy_text(r->hash, sizeof r->hash, st, 4);
		store_copy_text(r->old_hash, sizeof r->old_hash, st, 5);
		r->k.grace_until_ms = sqlite3_column_int64(st, 6);
		r->k.created_ms = sqlite3_column_int64(st, 7);
		r->k.expires_ms = sqlite3_column_int64(st, 8);
		r->k.revoked_ms = sqlite3_column_int64(st, 9);
		r->k.rotated_ms = sqlite3_column_int64(st, 10);
		r->k.last_used_ms = sqlite3_column_int64(st, 11);
		keys_sqlite_lim(st, 12, &r->k.lim);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	if (sqlite3_prepare_v2(db,
	        "SELECT name, created_ms, " KEYS_SQLITE_LIM_COLS " FROM teams ORDER BY name", -1,
	        &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = xreallocarray(t, (size_t)nt + 1, sizeof *t);
		memset(&t[nt], 0, sizeof t[nt]);
		store_copy_text(t[nt].name, sizeof t[nt].name, st, 0);
		t[nt].created_ms = sqlite3_column_int64(st, 1);
		keys_sqlite_lim(st, 2, &t[nt].lim);
		nt++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	store_exec(db, "COMMIT");
	store_unlock(s);
	*keys = v;
	*n_keys = n;
	*teams = t;
	*n_teams = nt;
	return 0;
fail:
	*cause = store_error(s, db, "keys: cannot read");
	sqlite3_finalize(st);
	store_exec(db, "ROLLBACK");
	store_unlock(s);
	free(v);
	free(t);
	return -1;
}

static int
keys_sqlite_bump(sqlite3 *db)
{
	return store_exec(db, "UPDATE keys_meta SET version = version + 1");
}

int
keys_sqlite_write(struct store *s, const struct key_row *r, int insert, char **cause)
{
	const char *what = "keys: cannot write";
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	if ((db = store_write_begin(s, what, cause)) == NULL)
		return -1;
	if (r->k.team[0] != '\0') {
		if (sqlite3_prepare_v2(db,
		        "INSERT OR IGNORE INTO teams(name, created_ms) VALUES (?, ?)", -1, &st,
		        NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, r->k.team, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->k.created_ms);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (sqlite3_prepare_v2(db,
	        insert ? "INSERT INTO keys(name, team, prefix, hash, old_hash, grace_until_ms, "
	                 "created_ms, expires_ms, revoked_ms, rotated_ms, last_used_ms, "
	                 "day_usd, month_usd, rpm, tpm, models, alert_threshold, id) VALUES "
	                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	               : "UPDATE keys SET name = ?, team = ?, prefix = ?, hash = ?, old_hash = ?, "
	                 "grace_until_ms = ?, created_ms = ?, expires_ms = ?, revoked_ms = ?, "
	                 "rotated_ms = ?, last_used_ms = MAX(last_used_ms, ?), day_usd = ?, "
	                 "month_usd = ?, rpm = ?, tpm = ?, models = ?, alert_threshold = ? "
	                 "WHERE id = ?",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, r->k.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->k.team, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->k.prefix, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->old_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->k.grace_until_ms);
	sqlite3_bind_int64(st, 7, r->k.created_ms);
	sqlite3_bind_int64(st, 8, r->k.expires_ms);
	sqlite3_bind_int64(st, 9, r->k.revoked_ms);
	sqlite3_bind_int64(st, 10, r->k.rotated_ms);
	sqlite3_bind_int64(st, 11, r->k.last_used_ms);
	keys_sqlite_bind_lim(st, 12, &r->k.lim);
	sqlite3_bind_text(st, 18, r->k.id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		store_write_rollback(s, db);
		return 1;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	if (!insert && sqlite3_changes(db) == 0) {
		store_write_rollback(s, db);
		return 1;
	}
	if (keys_sqlite_bump(db) != 0)
		goto fail;
	return store_write_commit(s, db, what, cause);
fail:
	*cause = store_error(s, db, what);
	store_write_rollback(s, db);
	return -1;
}

int
teams_sqlite_write(struct store *s, const struct store_team *t, int del, char **cause)
{
	const char *what = "teams: cannot write";
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	if ((db = store_write_begin(s, what, cause)) == NULL)
		return -1;
	if (del) {
		if (sqlite3_prepare_v2(db,
		        "SELECT COUNT(*) FROM keys WHERE team = ? AND revoked_ms = 0", -1, &st,
		        NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
		sqlite3_finalize(st);
		if (rc != 0) {
			if (rc < 0)
				goto fail;
			store_write_rollback(s, db);
			return 2;
		}
		if (store_exec_text(db, "DELETE FROM teams WHERE name = ?", t->name) != 0)
			goto fail;
		if (sqlite3_changes(db) == 0) {
			store_write_rollback(s, db);
			return 1;
		}
	} else {
		if (sqlite3_prepare_v2(db,
		        "INSERT INTO teams(name, created_ms, " KEYS_SQLITE_LIM_COLS
		        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
		        "day_usd = excluded.day_usd, month_usd = excluded.month_usd, rpm = "
		        "excluded.rpm, tpm = excluded.tpm, models = excluded.models, "
		        "alert_threshold = excluded.alert_threshold",
		        -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t->created_ms);
		keys_sqlite_bind_lim(st, 3, &t->lim);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (keys_sqlite_bump(db) != 0)
		goto fail;
	return store_write_commit(s, db, what, cause);
fail:
	*cause = store_error(s, db, what);
	store_write_rollback(s, db);
	return -1;
}

int
keys_sqlite_version(struct store *s, int64_t *version)
{
	sqlite3 *db = store_lock(s);
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT version FROM keys_meta", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*version = sqlite3_column_int64(st, 0);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	store_unlock(s);
	return rc;
}

int
keys_sqlite_touch(struct store *s, const struct key_touch *t, int n)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc = 0;

	if ((db = store_write_begin(s, "keys: cannot note a use", NULL)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(db,
	        "UPDATE keys SET last_used_ms = MAX(last_used_ms, ?) WHERE id = ?", -1, &st,
	        NULL) != SQLITE_OK) {
		store_write_rollback(s, db);
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, t[i].last_used_ms);
		sqlite3_bind_text(st, 2, t[i].id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = -1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc != 0) {
		store_write_rollback(s, db);
		return -1;
	}
	return store_write_commit(s, db, "keys: cannot note a use", NULL);
}

/* The ledger's column and value for a scope's fallback sum (a window not on 15-minute buckets). */
static const char *
scope_ledger_where(const char *scope, const char **value)
{
	if (strncmp(scope, "key:", 4) == 0) {
		*value = scope + 4;
		return "key_id = ?3";
	}
	if (strncmp(scope, "team:", 5) == 0) {
		*value = scope + 5;
		return "team = ?3";
	}
	*value = "";
	return "?3 = ?3";
}

/* What scope spent in [from, to): its buckets when the window is aligned to them. */
static double
scope_sqlite_spent(sqlite3 *db, const char *scope, int64_t from, int64_t to, int *err)
{
	sqlite3_stmt *st;
	const char *value;
	char sql[200];
	double v = 0;

	if (from >= 0 && from % STORE_BUCKET_MS == 0 && to % STORE_BUCKET_MS == 0) {
		if (strcmp(scope, "global") == 0)
			snprintf(sql, sizeof sql,
			    "SELECT TOTAL(cost_usd) FROM spend_buckets WHERE bucket >= ?1 AND "
			    "bucket "
			    "< ?2 AND ?3 = ?3");
		else
			snprintf(sql, sizeof sql,
			    "SELECT TOTAL(cost_usd) FROM scope_spend WHERE scope = ?3 AND bucket "
			    ">= ?1 "
			    "AND bucket < ?2");
		value = scope;
		from /= STORE_BUCKET_MS;
		to /= STORE_BUCKET_MS;
	} else {
		const char *w = scope_ledger_where(scope, &value);

		snprintf(sql, sizeof sql,
		    "SELECT TOTAL(cost_usd) FROM ledger WHERE time_ms >= ?1 AND time_ms < ?2 AND "
		    "%s",
		    w);
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*err = 1;
		return 0;
	}
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	else
		*err = 1;
	sqlite3_finalize(st);
	return v;
}

int
scope_sqlite_reserve(struct store *s, struct scope_grant *g, int n, char **cause)
{
	const char *what = "budget: cannot reserve";
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int err = 0, refused = 0;

	if ((db = store_write_begin(s, what, cause)) == NULL)
		return -1;
	if (budget_reservations_clean(db, 1, g[0].now) != 0)
		goto fail;
	if (sqlite3_prepare_v2(db,
	        "SELECT TOTAL(amount_usd) FROM scope_reservations WHERE scope = ? AND time_ms >= ?",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		struct scope_grant *x = &g[i];

		x->spent_day = x->day_usd > 0
		    ? scope_sqlite_spent(db, x->scope, x->day_start, x->day_end, &err)
		    : 0;
		x->spent_month = x->month_usd > 0
		    ? scope_sqlite_spent(db, x->scope, x->month_start, x->month_end, &err)
		    : 0;
		sqlite3_bind_text(st, 1, x->scope, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, x->now - BUDGET_RESERVATION_TTL_MS);
		if (sqlite3_step(st) == SQLITE_ROW)
			x->reserved = sqlite3_column_double(st, 0);
		else
			err = 1;
		sqlite3_reset(st);
		if (err)
			goto fail;
		scope_grant_decide(x);
		refused |= x->refused;
		/* The scope's once-a-day alert, as the global budget's (budget.c). */
		if (x->day_usd > 0 && x->alert_threshold > 0 &&
		    budget_alert_once(db, x->alert_key, x->day, x->label, x->day_usd,
		        x->alert_threshold, x->spent_day, x->now) != 0)
			goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (refused) {
		store_write_commit(s, db, what, NULL); /* the clean-up stays */
		return 0;
	}
	if (sqlite3_prepare_v2(db,
	        "INSERT INTO scope_reservations(scope, pid, time_ms, amount_usd) VALUES (?, ?, ?, "
	        "?)",
	        -1, &st, NULL) != SQLITE_OK)
		goto fail;
	for (int i = 0; i < n; i++) {
		sqlite3_bind_text(st, 1, g[i].scope, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)getpid());
		sqlite3_bind_int64(st, 3, g[i].now);
		sqlite3_bind_double(st, 4, g[i].upper);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		g[i].reservation_id = sqlite3_last_insert_rowid(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (store_write_commit(s, db, what, cause) != 0) {
		for (int i = 0; i < n; i++)
			g[i].reservation_id = 0;
		return -1;
	}
	return 0;
fail:
	*cause = store_error(s, db, what);
	sqlite3_finalize(st);
	store_write_rollback(s, db);
	for (int i = 0; i < n; i++)
		g[i].reservation_id = 0;
	return -1;
}

void
scope_sqlite_unreserve(struct store *s, int64_t reservation_id)
{
	sqlite3 *db = store_lock(s);

	store_exec_int64(db, "DELETE FROM scope_reservations WHERE id = ?", reservation_id);
	store_unlock(s);
}

int
scope_sqlite_spend(struct store *s, const char *scope, const int64_t b[4], int64_t now,
    struct scope_spend *out, char **cause)
{
	sqlite3 *db = store_lock(s);
	sqlite3_stmt *st = NULL;
	const char *value, *w = scope_ledger_where(scope, &value);
	char sql[300];
	int err = 0;

	if (store_exec(db, "BEGIN") != 0)
		goto fail;
	out->day_usd = scope_sqlite_spent(db, scope, b[0], b[1], &err);
	out->month_usd = scope_sqlite_spent(db, scope, b[2], b[3], &err);
	if (err)
		goto fail;
	snprintf(sql, sizeof sql,
	    "SELECT TOTAL(CASE WHEN time_ms >= ?4 THEN cost_usd ELSE 0 END), TOTAL(cost_usd), "
	    "COUNT(CASE WHEN time_ms >= ?1 THEN 1 END), "
	    "COUNT(CASE WHEN time_ms >= ?1 AND outcome = 'refused' THEN 1 END) "
	    "FROM ledger WHERE time_ms >= MIN(?1, ?5) AND time_ms < ?2 AND %s",
	    w);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, b[0]);
	sqlite3_bind_int64(st, 2, now + 1 > b[1] ? now + 1 : b[1]);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now - 5 * 60000);
	sqlite3_bind_int64(st, 5, now - 60 * 60000);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	out->burn_5m_per_hour = sqlite3_column_double(st, 0) * 12;
	out->requests_day = sqlite3_column_int64(st, 2);
	out->refused_day = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	st = NULL;
	/* The last hour's spend (the query above stops at the day's start or the hour's). */
	snprintf(sql, sizeof sql,
	    "SELECT TOTAL(cost_usd) FROM ledger WHERE time_ms >= ?1 AND time_ms <= ?2 AND %s", w);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, now - 60 * 60000);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	out->burn_60m_per_hour = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	store_exec(db, "COMMIT");
	store_unlock(s);
	return 0;
fail:
	*cause = store_error(s, db, "keys: cannot read spend");
	sqlite3_finalize(st);
	store_exec(db, "ROLLBACK");
	store_unlock(s);
	return -1;
}

int
scope_sqlite_settle(sqlite3 *db, const struct ledger_row *r, int settle_reservations)
{
	sqlite3_stmt *st;
	char scope[LIMIT_NAME_SIZE + 8];
	int refused = strcmp(r->outcome, "refused") == 0, rc;

	for (int k = 0; k < 2; k++) {
		const char *v = k == 0 ? r->key_id : r->team;

		if (v[0] == '\0')
			continue;
		snprintf(scope, sizeof scope, "%s%s", k == 0 ? "key:" : "team:", v);
		st = store_stmt(db,
		    "INSERT INTO scope_spend(scope, bucket, cost_usd, requests, refused) "
		    "VALUES (?, ?, ?, 1, ?) ON CONFLICT(scope, bucket) DO UPDATE SET "
		    "cost_usd = cost_usd + excluded.cost_usd, requests = requests + 1, "
		    "refused = refused + excluded.refused");
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->time_ms / STORE_BUCKET_MS);
		sqlite3_bind_double(st, 3, r->cost_usd);
		sqlite3_bind_int(st, 4, refused);
		rc = sqlite3_step(st);
		store_stmt_done(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	if (!settle_reservations)
		return 0;
	for (int k = 0; k < LEDGER_SCOPES; k++)
		if (r->scope_res[k] > 0 &&
		    store_exec_int64(db, "DELETE FROM scope_reservations WHERE id = ?",
		        r->scope_res[k]) != 0)
			return -1;
	return 0;
}
