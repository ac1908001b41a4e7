/*
 * gateway_keys.c: client keys at the gateway (store/keys.h): which key a
 * request presents and what it may do, the seed's quality and complexity a
 * client states, the per-team counters of /metrics, and the admin API's
 * keys and teams (/admin/v1/keys, /admin/v1/teams).
 *
 * Auth (gw_keys_admit, for every API endpoint but /metrics): the secret
 * comes from "Authorization: Bearer S" or else "x-api-key: S"
 * (gw_key_presented) and goes to keyring_check on the current router's
 * keyring, which never touches the database. While no key exists on the
 * database (KEY_OPEN, or no store at all) the shared LLMDECK_GATEWAY_TOKEN
 * rules are as before. Once one exists every request needs a live key, and
 * the shared token no longer admits API requests (it still opens /metrics):
 * a request without a valid key is a 401 in its API's error shape naming the
 * verdict (missing, unknown, revoked, expired), never echoing what was sent.
 *
 * Team counters (struct gw_teams) are counted when a request's connection
 * completes: at most GW_TEAMS_MAX teams by name, the rest as "other"; ""
 * is requests with no team.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router/events.h"
#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "store/keys.h"
#include "store/store.h"

/* router.h's, until the router has it (h-keycore). */

/* ---- what a request presents ---- */

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

int
gw_key_presented(const char *authorization, const char *x_api_key, const char **secret, size_t *len)
{
	const char *s = NULL;
	size_t n;

	if (authorization != NULL && strncasecmp(authorization, "Bearer", 6) == 0 &&
	    is_space(authorization[6])) {
		s = authorization + 7;
	} else if (x_api_key != NULL) {
		s = x_api_key;
	}
	if (s == NULL) {
		*secret = NULL;
		*len = 0;
		return 0;
	}
	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*secret = s;
	*len = n;
	return 1;
}

int
gw_hint_check(const char *what, const char *value)
{
	static const char *const quality[] = {"high", "standard", "low", NULL};
	static const char *const complexity[] = {"complex", "simple", NULL};
	const char *const *ok = strstr(what, "quality") != NULL ? quality : complexity;

	for (int i = 0; ok[i] != NULL; i++)
		if (strcmp(value, ok[i]) == 0)
			return 0;
	return -1;
}

/* One hint: the header's value, else metadata's; -1 with bad on a value not allowed. */
static int
hint_take(struct gw_req *q, const cJSON *meta, const char *header, const char *meta_key, char **out,
    struct gw_bad *bad)
{
	const char *v = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, header);
	const char *where = header;
	const cJSON *m;

	if (v == NULL && *out != NULL) { /* the parser took it from metadata (Anthropic's) */
		v = *out;
		where = meta_key;
	} else if (v == NULL && meta != NULL &&
	    (m = cJSON_GetObjectItemCaseSensitive(meta, meta_key)) != NULL && cJSON_IsString(m)) {
		v = m->valuestring;
		where = meta_key;
	}
	if (v == NULL)
		return 0;
	if (gw_hint_check(header, v) != 0) {
		snprintf(bad->message, sizeof bad->message, "%s%s: expected %s, got \"%.32s\"",
		    where == header ? "header " : "metadata.", where,
		    strstr(header, "quality") != NULL ? "high, standard or low"
		                                      : "complex or simple",
		    v);
		str_oneline(bad->message);
		snprintf(bad->param, sizeof bad->param, "%s%s", where == header ? "" : "metadata.",
		    where);
		return -1;
	}
	if (v != *out) {
		free(*out);
		*out = xstrdup(v);
	}
	return 0;
}

void
gw_keys_caller(struct llm_request *req, const char *key_id, const char *team)
{
	if (key_id != NULL && key_id[0] != '\0') {
		free(req->key_id);
		req->key_id = xstrdup(key_id);
	}
	if (team != NULL && team[0] != '\0') {
		free(req->team);
		req->team = xstrdup(team);
	}
}

int
gw_keys_request(struct gw_req *q, struct llm_request *req, struct gw_bad *bad)
{
	cJSON *meta = req->metadata != NULL ? cJSON_Parse(req->metadata) : NULL;
	int rc;

	gw_keys_caller(req, q->key_id, q->team);
	rc = hint_take(q, meta, "x-llmdeck-quality", "llmdeck_quality", &req->quality, bad);
	if (rc == 0)
		rc = hint_take(q, meta, "x-llmdeck-complexity", "llmdeck_complexity",
		    &req->complexity, bad);
	cJSON_Delete(meta);
	return rc;
}

/* ---- auth ---- */

/* The shared token's rule (LLMDECK_GATEWAY_TOKEN, compared in constant time). */
static int
shared_token_ok(struct gw_req *q, const char *given, size_t len)
{
	char tok[16384];

	if (q->gw->token == NULL)
		return 1;
	if (given == NULL || len >= sizeof tok)
		return 0;
	memcpy(tok, given, len);
	tok[len] = '\0';
	return gw_token_equal(q->gw->token, tok);
}

static const char *
verdict_message(enum key_verdict v)
{
	switch (v) {
	case KEY_MISSING:
		return "missing API key: this gateway requires a client key (Authorization: "
		       "Bearer llmd-... or x-api-key: llmd-...)";
	case KEY_REVOKED: return "the API key was revoked";
	case KEY_EXPIRED: return "the API key expired";
	case KEY_UNKNOWN:
	default:
		return "unknown API key: no key has this secret (a wrong key, or a rotated one "
		       "past "
		       "its grace)";
	}
}

/* A 401 in the request's API's shape: for a key, OpenAI's is as OpenAI words a bad key
 * (invalid_request_error, code invalid_api_key); for the shared token, as before. */
static enum MHD_Result
refuse(struct gw_req *q, const char *message, int key)
{
	char *body;

	pthread_mutex_lock(&q->gw->mu);
	q->gw->auth_failures++;
	pthread_mutex_unlock(&q->gw->mu);
	if (q->api == GW_ANTHROPIC || !key) {
		body = gw_error_body(q->api, 401, LLM_OK, message, NULL);
	} else {
		cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "message", message);
		cJSON_AddStringToObject(e, "type", "invalid_request_error");
		cJSON_AddNullToObject(e, "param");
		cJSON_AddStringToObject(e, "code", "invalid_api_key");
		body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	return gw_reply_result(q, 401, "application/json", body, NULL, -1, 0);
}

int
gw_keys_admit(struct gw_req *q, enum MHD_Result *ret)
{
	struct gateway *gw = q->gw;
	const char *secret;
	size_t len;
	struct gw_router *gr;
	struct keyring *kr;
	struct key_auth ka;
	enum key_verdict v = KEY_OPEN;

	gw_key_presented(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization"),
	    MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "x-api-key"), &secret, &len);
	if (q->ep != GW_EP_METRICS) {
		gr = gw_router_get(gw);
		kr = router_keyring(gr->router);
		if (kr != NULL) {
			memset(&ka, 0, sizeof ka);
			v = keyring_check(kr, secret, len,
			    gw->store != NULL ? store_now_ms(gw->store) : clock_wall_ms(), &ka);
		}
		gw_router_put(gw, gr);
	}
	if (v == KEY_OK) {
		strlcpy_(q->key_id, ka.id, sizeof q->key_id);
		strlcpy_(q->key_name, ka.name, sizeof q->key_name);
		strlcpy_(q->team, ka.team, sizeof q->team);
		return 1;
	}
	if (v == KEY_OPEN) {
		if (shared_token_ok(q, secret, len))
			return 1;
		*ret = refuse(q,
		    "missing or wrong bearer token (Authorization: Bearer T or "
		    "x-api-key: T)",
		    0);
		return 0;
	}
	*ret = refuse(q, verdict_message(v), 1);
	return 0;
}

/* ---- per-team counters ---- */

#define GW_TEAMS_MAX 256

enum { TEAM_OK, TEAM_ERROR, TEAM_REFUSED, TEAM__OUTCOMES };
enum { REASON_BUDGET, REASON_RATE_LIMIT, REASON_FORBIDDEN, REASON__COUNT };
static const char *const outcome_names[TEAM__OUTCOMES] = {"ok", "error", "refused"};
static const char *const reason_names[REASON__COUNT] = {"budget", "rate_limit", "forbidden"};

struct gw_team_count {
	char name[LIMIT_NAME_SIZE];
	uint64_t requests[TEAM__OUTCOMES];
	uint64_t refused[REASON__COUNT];
	double cost_usd;
};

/* Owned by the gateway; every field under mu (a leaf lock: nothing is taken inside it). */
struct gw_teams {
	pthread_mutex_t mu;
	size_t n; /* [0] is "" (no team); past GW_TEAMS_MAX - 1 named, the last is "other" */
	struct gw_team_count t[GW_TEAMS_MAX + 1];
};

void
gw_keys_setup(struct gateway *gw)
{
	gw->teams = xcalloc(1, sizeof *gw->teams);
	pthread_mutex_init(&gw->teams->mu, NULL);
	gw->teams->n = 1; /* "" */
}

void
gw_keys_free(struct gateway *gw)
{
	if (gw->teams == NULL)
		return;
	pthread_mutex_destroy(&gw->teams->mu);
	free(gw->teams);
	gw->teams = NULL;
}

/* The slot of team name, made if new; with mu held. */
static struct gw_team_count *
team_slot(struct gw_teams *ts, const char *name)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return &ts->t[i];
	if (ts->n == GW_TEAMS_MAX) {
		/* The table is full: "other", the last slot. */
		if (strcmp(ts->t[GW_TEAMS_MAX].name, "other") != 0)
			strlcpy_(ts->t[GW_TEAMS_MAX].name, "other", LIMIT_NAME_SIZE);
		return &ts->t[GW_TEAMS_MAX];
	}
	strlcpy_(ts->t[ts->n].name, name, LIMIT_NAME_SIZE);
	return &ts->t[ts->n++];
}

void
gw_keys_count(struct gw_req *q)
{
	struct gw_teams *ts = q->gw->teams;
	struct gw_team_count *c;
	enum llm_errclass cls = LLM_OK;
	double cost = 0;
	int outcome, reason = -1, status;

	pthread_mutex_lock(&q->gw->mu);
	status = q->status;
	if (q->finished && q->res != NULL) {
		cls = q->res->cls;
		cost = q->res->cost_usd;
	}
	pthread_mutex_unlock(&q->gw->mu);
	if (ts == NULL || status == 0)
		return;
	if (status == 200 && cls == LLM_OK) {
		outcome = TEAM_OK;
	} else if (status == 429 || status == 403) {
		outcome = TEAM_REFUSED;
		reason = cls == LLM_ERR_BUDGET ? REASON_BUDGET
		    : status == 403            ? REASON_FORBIDDEN
		                               : REASON_RATE_LIMIT;
	} else {
		outcome = TEAM_ERROR;
	}
	pthread_mutex_lock(&ts->mu);
	c = team_slot(ts, q->team);
	c->requests[outcome]++;
	if (reason >= 0)
		c->refused[reason]++;
	if (isfinite(cost) && cost > 0)
		c->cost_usd += cost;
	pthread_mutex_unlock(&ts->mu);
}

void
gw_keys_metrics(struct gateway *gw, struct buf *b)
{
	struct gw_teams *ts = gw->teams;
	struct gw_team_count *copy;
	size_t n;

	if (ts == NULL)
		return;
	copy = xmalloc(sizeof ts->t);
	pthread_mutex_lock(&ts->mu);
	n = ts->n;
	memcpy(copy, ts->t, sizeof ts->t);
	pthread_mutex_unlock(&ts->mu);
	if (copy[GW_TEAMS_MAX].name[0] != '\0')
		copy[n++] = copy[GW_TEAMS_MAX];
	buf_puts(b,
	    "# HELP llmdeck_team_requests_total Model requests finished, by the client "
	    "key's team (\"\": none) and outcome.\n"
	    "# TYPE llmdeck_team_requests_total counter\n");
	for (size_t i = 0; i < n; i++)
		for (int o = 0; o < TEAM__OUTCOMES; o++) {
			buf_puts(b, "llmdeck_team_requests_total{team=\"");
			gw_metrics_label(b, copy[i].name);
			buf_printf(b, "\",outcome=\"%s\"} %llu\n", outcome_names[o],
			    (unsigned long long)copy[i].requests[o]);
		}
	buf_puts(b,
	    "# HELP llmdeck_team_cost_usd_total What the team's requests cost, in US "
	    "dollars.\n"
	    "# TYPE llmdeck_team_cost_usd_total counter\n");
	for (size_t i = 0; i < n; i++) {
		buf_puts(b, "llmdeck_team_cost_usd_total{team=\"");
		gw_metrics_label(b, copy[i].name);
		buf_printf(b, "\"} %.6f\n", copy[i].cost_usd);
	}
	buf_puts(b,
	    "# HELP llmdeck_team_refused_total Requests refused for a key's or team's "
	    "limit (budget, rate_limit, forbidden model), by team.\n"
	    "# TYPE llmdeck_team_refused_total counter\n");
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < REASON__COUNT; r++) {
			buf_puts(b, "llmdeck_team_refused_total{team=\"");
			gw_metrics_label(b, copy[i].name);
			buf_printf(b, "\",reason=\"%s\"} %llu\n", reason_names[r],
			    (unsigned long long)copy[i].refused[r]);
		}
	free(copy);
}

/* ---- the admin API: /admin/v1/keys, /admin/v1/teams ---- */

static const char *
key_state(const struct store_key *k, int64_t now_ms)
{
	if (k->revoked_ms != 0)
		return "revoked";
	if (k->expires_ms != 0 && k->expires_ms <= now_ms)
		return "expired";
	return "live";
}

static cJSON *
limits_json(const struct spend_limits *lim)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "models");
	const char *p = lim->models, *c;

	cJSON_AddNumberToObject(o, "budget_day_usd", lim->day_usd);
	cJSON_AddNumberToObject(o, "budget_month_usd", lim->month_usd);
	cJSON_AddNumberToObject(o, "rpm", lim->rpm);
	cJSON_AddNumberToObject(o, "tpm", lim->tpm);
	while (*p != '\0') {
		char m[LIMIT_ALIAS_SIZE];
		size_t n;

		c = strchr(p, ',');
		n = c != NULL ? (size_t)(c - p) : strlen(p);
		if (n > 0 && n < sizeof m) {
			memcpy(m, p, n);
			m[n] = '\0';
			cJSON_AddItemToArray(a, cJSON_CreateString(m));
		}
		p += n + (c != NULL);
	}
	cJSON_AddNumberToObject(o, "alert_threshold", lim->alert_threshold);
	return o;
}

static cJSON *
spend_json(struct store *s, const char *scope, const char *tz)
{
	struct scope_spend sp;
	char *cause = NULL;
	cJSON *o;

	memset(&sp, 0, sizeof sp);
	if (keys_scope_spend(s, scope, tz, &sp, &cause) != 0) {
		free(cause);
		return cJSON_CreateNull();
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "day_usd", sp.day_usd);
	cJSON_AddNumberToObject(o, "month_usd", sp.month_usd);
	cJSON_AddNumberToObject(o, "burn_5m_usd_per_hour", sp.burn_5m_per_hour);
	cJSON_AddNumberToObject(o, "burn_60m_usd_per_hour", sp.burn_60m_per_hour);
	cJSON_AddNumberToObject(o, "requests_day", (double)sp.requests_day);
	cJSON_AddNumberToObject(o, "refused_day", (double)sp.refused_day);
	return o;
}

struct cJSON *
gateway_key_json(struct store *s, const struct store_key *k, const char *tz, int64_t now_ms)
{
	cJSON *o = cJSON_CreateObject();
	char scope[KEY_ID_SIZE + 8];

	cJSON_AddStringToObject(o, "id", k->id);
	cJSON_AddStringToObject(o, "name", k->name);
	cJSON_AddStringToObject(o, "team", k->team);
	cJSON_AddStringToObject(o, "prefix", k->prefix);
	cJSON_AddStringToObject(o, "state", key_state(k, now_ms));
	cJSON_AddNumberToObject(o, "created_ms", (double)k->created_ms);
	cJSON_AddNumberToObject(o, "expires_ms", (double)k->expires_ms);
	cJSON_AddNumberToObject(o, "revoked_ms", (double)k->revoked_ms);
	cJSON_AddNumberToObject(o, "rotated_ms", (double)k->rotated_ms);
	cJSON_AddNumberToObject(o, "grace_until_ms", (double)k->grace_until_ms);
	cJSON_AddNumberToObject(o, "last_used_ms", (double)k->last_used_ms);
	cJSON_AddItemToObject(o, "limits", limits_json(&k->lim));
	snprintf(scope, sizeof scope, "key:%s", k->id);
	cJSON_AddItemToObject(o, "spend",
	    s != NULL ? spend_json(s, scope, tz) : cJSON_CreateNull());
	return o;
}

struct cJSON *
gateway_team_json(struct store *s, const struct store_team *t, const char *tz)
{
	cJSON *o = cJSON_CreateObject();
	char scope[LIMIT_NAME_SIZE + 8];

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddNumberToObject(o, "created_ms", (double)t->created_ms);
	cJSON_AddItemToObject(o, "limits", limits_json(&t->lim));
	snprintf(scope, sizeof scope, "team:%s", t->name);
	cJSON_AddItemToObject(o, "spend",
	    s != NULL ? spend_json(s, scope, tz) : cJSON_CreateNull());
	return o;
}

static int
gw_limits_field(const cJSON *it, struct spend_limits *lim, char *why, size_t len)
{
	const char *k = it->string;

	if (strcmp(k, "budget_day_usd") == 0 || strcmp(k, "budget_month_usd") == 0) {
		if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1e9) {
			snprintf(why, len, "%s: expected a number of US dollars, 0 or more", k);
			return -1;
		}
		*(k[7] == 'd' ? &lim->day_usd : &lim->month_usd) = it->valuedouble;
		return 1;
	}
	if (strcmp(k, "rpm") == 0 || strcmp(k, "tpm") == 0) {
		if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long long)it->valuedouble ||
		    it->valuedouble < 0 || it->valuedouble > 1e9) {
			snprintf(why, len, "%s: expected a whole number, 0 (no limit) or more", k);
			return -1;
		}
		*(k[0] == 'r' ? &lim->rpm : &lim->tpm) = (int)it->valuedouble;
		return 1;
	}
	if (strcmp(k, "alert_threshold") == 0) {
		if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0) || it->valuedouble > 1) {
			snprintf(why, len, "alert_threshold: expected a fraction 0..1");
			return -1;
		}
		lim->alert_threshold = it->valuedouble;
		return 1;
	}
	if (strcmp(k, "models") == 0) {
		const cJSON *m;
		struct buf b;

		if (cJSON_IsString(it)) {
			if (strlen(it->valuestring) >= sizeof lim->models) {
				snprintf(why, len, "models: longer than %zu characters",
				    sizeof lim->models - 1);
				return -1;
			}
			strlcpy_(lim->models, it->valuestring, sizeof lim->models);
			return 1;
		}
		if (!cJSON_IsArray(it)) {
			snprintf(why, len, "models: expected an array of model aliases");
			return -1;
		}
		buf_init(&b);
		cJSON_ArrayForEach(m, it)
		{
			if (!cJSON_IsString(m) || m->valuestring[0] == '\0' ||
			    strchr(m->valuestring, ',') != NULL) {
				snprintf(why, len, "models: expected an array of model aliases");
				buf_free(&b);
				return -1;
			}
			buf_printf(&b, "%s%s", b.len > 0 ? "," : "", m->valuestring);
		}
		if (b.len >= sizeof lim->models) {
			snprintf(why, len, "models: longer than %zu characters",
			    sizeof lim->models - 1);
			buf_free(&b);
			return -1;
		}
		strlcpy_(lim->models, b.len > 0 ? b.data : "", sizeof lim->models);
		buf_free(&b);
		return 1;
	}
	return 0;
}

int
gateway_key_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LIMIT_NAME_LEN)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* A key's fields from a create or update body into k (which holds the old ones). 0, or -1. */
static int
key_from_body(struct gw_req *q, struct store_key *k, int create, int64_t now_ms, char *why,
    size_t len)
{
	cJSON *o = cJSON_ParseWithLength(q->body.data != NULL ? q->body.data : "", q->body.len),
	      *it;
	int rc = 0;

	if (!cJSON_IsObject(o)) {
		snprintf(why, len, "the body must be a JSON object");
		cJSON_Delete(o);
		return -1;
	}
	cJSON_ArrayForEach(it, o)
	{
		int r = gw_limits_field(it, &k->lim, why, len);

		if (r < 0) {
			rc = -1;
			break;
		}
		if (r > 0)
			continue;
		if (strcmp(it->string, "name") == 0 && create) {
			if (!cJSON_IsString(it) || !gateway_key_name_ok(it->valuestring)) {
				snprintf(why, len, "name: expected 1 to %d of A-Z a-z 0-9 . _ -",
				    LIMIT_NAME_LEN);
				rc = -1;
				break;
			}
			strlcpy_(k->name, it->valuestring, sizeof k->name);
		} else if (strcmp(it->string, "team") == 0) {
			if (!cJSON_IsString(it) ||
			    (it->valuestring[0] != '\0' && !gateway_key_name_ok(it->valuestring))) {
				snprintf(why, len, "team: expected 1 to %d of A-Z a-z 0-9 . _ -",
				    LIMIT_NAME_LEN);
				rc = -1;
				break;
			}
			strlcpy_(k->team, it->valuestring, sizeof k->team);
		} else if (strcmp(it->string, "expires_s") == 0) {
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e10) {
				snprintf(why, len,
				    "expires_s: expected seconds from now, 0 (never) or more");
				rc = -1;
				break;
			}
			k->expires_ms =
			    it->valuedouble > 0 ? now_ms + (int64_t)(it->valuedouble * 1000) : 0;
		} else {
			snprintf(why, len,
			    "unknown field \"%.64s\" (name, team, budget_day_usd, "
			    "budget_month_usd, "
			    "rpm, tpm, models, alert_threshold, expires_s)",
			    it->string);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && create && k->name[0] == '\0') {
		snprintf(why, len, "name: required");
		rc = -1;
	}
	cJSON_Delete(o);
	return rc;
}

/* The admin API's request context: the current router (events, config) and the clock. */
struct kctx {
	struct gw_req *q;
	struct gw_router *gr;
	struct store *s;
	const char *tz;
	int64_t now_ms;
};

static enum MHD_Result
kreply(struct kctx *c, int status, cJSON *o)
{
	gw_router_put(c->q->gw, c->gr);
	return gw_reply_json(c->q, status, o);
}

static enum MHD_Result
    PRINTFLIKE(4, 5) kerror(struct kctx *c, int status, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	gw_router_put(c->q->gw, c->gr);
	return gw_admin_error(c->q, status, type, "%s", msg);
}

/* A store error's reply (takes cause). */
static enum MHD_Result
kstore_error(struct kctx *c, int status, char *cause)
{
	enum MHD_Result r = kerror(c, status, status == 409 ? "conflict" : "invalid_request_error",
	    "%s", cause != NULL ? cause : "the database failed");

	free(cause);
	return r;
}

/* An operator event naming the key by its name and prefix, never its secret; and this
 * process's keyring reread at once (the others within KEYRING_REFRESH_MS): a key revoked
 * here is refused here from the answer on. */
static void
kevent(struct kctx *c, const char *name, const char *prefix, const char *what)
{
	keyring_refresh(router_keyring(c->gr->router), 0);
	event_add(router_events(c->gr->router), EV_OPERATOR, NULL, "admin %s: key %s (%s) %s",
	    c->q->gw->instance, name, prefix, what);
}

static enum MHD_Result
keys_list_reply(struct kctx *c)
{
	struct store_key *ks = NULL;
	char *cause = NULL;
	cJSON *o, *a;
	int n;

	if ((n = keys_list(c->s, &ks, &cause)) < 0)
		return kstore_error(c, 500, cause);
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "keys");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, gateway_key_json(c->s, &ks[i], c->tz, c->now_ms));
	free(ks);
	return kreply(c, 200, o);
}

static enum MHD_Result
keys_create_reply(struct kctx *c)
{
	struct store_key in, out;
	char secret[KEY_SECRET_SIZE], why[256], *cause = NULL;
	cJSON *o;

	memset(&in, 0, sizeof in);
	if (key_from_body(c->q, &in, 1, c->now_ms, why, sizeof why) != 0)
		return kerror(c, 400, "invalid_request_error", "%s", why);
	if (keys_create(c->s, &in, secret, &out, &cause) != 0)
		return kstore_error(c, 400, cause);
	kevent(c, out.name, out.prefix, "created");
	o = gateway_key_json(c->s, &out, c->tz, c->now_ms);
	/* The only time the secret is ever shown. */
	cJSON_AddStringToObject(o, "secret", secret);
	explicit_bzero(secret, sizeof secret);
	return kreply(c, 201, o);
}

static enum MHD_Result
key_one(struct kctx *c, const char *id, const char *action, int get, int post, int patch)
{
	struct store_key k;
	char secret[KEY_SECRET_SIZE], why[256], *cause = NULL;
	int rc;
	cJSON *o;

	if ((rc = keys_find(c->s, id, &k, &cause)) != 0)
		return rc > 0 ? kerror(c, 404, "not_found", "no key \"%.64s\"", id)
		              : kstore_error(c, 500, cause);
	if (action == NULL && get)
		return kreply(c, 200, gateway_key_json(c->s, &k, c->tz, c->now_ms));
	if (action == NULL && (post || patch)) {
		if (key_from_body(c->q, &k, 0, c->now_ms, why, sizeof why) != 0)
			return kerror(c, 400, "invalid_request_error", "%s", why);
		if ((rc = keys_update(c->s, k.id, &k, &cause)) != 0)
			return rc > 0 ? kerror(c, 404, "not_found", "no key \"%.64s\"", id)
			              : kstore_error(c, 400, cause);
		kevent(c, k.name, k.prefix, "updated");
		if (keys_find(c->s, k.id, &k, &cause) != 0)
			free(cause);
		return kreply(c, 200, gateway_key_json(c->s, &k, c->tz, c->now_ms));
	}
	if (action == NULL)
		return kerror(c, 405, "invalid_request_error", "%s %s: use GET, PATCH or POST",
		    c->q->method, c->q->path);
	if (!post)
		return kerror(c, 405, "invalid_request_error", "%s %s: use POST", c->q->method,
		    c->q->path);
	if (strcmp(action, "revoke") == 0) {
		if ((rc = keys_revoke(c->s, k.id, &cause)) != 0)
			return rc > 0 ? kerror(c, 404, "not_found", "no key \"%.64s\"", id)
			              : kstore_error(c, 500, cause);
		kevent(c, k.name, k.prefix, "revoked");
		if (keys_find(c->s, k.id, &k, &cause) != 0)
			free(cause);
		return kreply(c, 200, gateway_key_json(c->s, &k, c->tz, c->now_ms));
	}
	if (strcmp(action, "rotate") == 0) {
		int64_t grace_ms = KEY_ROTATE_GRACE_DEFAULT_MS;
		cJSON *b = c->q->body.len > 0
		    ? cJSON_ParseWithLength(c->q->body.data, c->q->body.len)
		    : cJSON_CreateObject(),
		      *g;

		if (!cJSON_IsObject(b)) {
			cJSON_Delete(b);
			return kerror(c, 400, "invalid_request_error",
			    "the body must be a JSON object: {\"grace_s\": N}");
		}
		g = cJSON_GetObjectItemCaseSensitive(b, "grace_s");
		if (g != NULL &&
		    (!cJSON_IsNumber(g) || g->valuedouble < 0 || g->valuedouble > 1e8)) {
			cJSON_Delete(b);
			return kerror(c, 400, "invalid_request_error",
			    "grace_s: expected seconds the old secret keeps working, 0 or more");
		}
		if (g != NULL)
			grace_ms = (int64_t)(g->valuedouble * 1000);
		cJSON_Delete(b);
		if ((rc = keys_rotate(c->s, k.id, grace_ms, secret, &k, &cause)) != 0)
			return rc > 0 ? kerror(c, 404, "not_found", "no key \"%.64s\"", id)
			              : kstore_error(c, 400, cause);
		kevent(c, k.name, k.prefix, "rotated");
		o = gateway_key_json(c->s, &k, c->tz, c->now_ms);
		cJSON_AddStringToObject(o, "secret", secret);
		explicit_bzero(secret, sizeof secret);
		return kreply(c, 200, o);
	}
	return kerror(c, 404, "not_found", "no such key action \"%.32s\" (revoke, rotate)", action);
}

static enum MHD_Result
teams_reply(struct kctx *c, const char *name, int get, int put)
{
	struct store_team t, *ts = NULL;
	char why[256], *cause = NULL;
	cJSON *o, *a, *b, *it;
	int n, rc;

	if (name == NULL) {
		if (!get)
			return kerror(c, 405, "invalid_request_error", "%s %s: use GET",
			    c->q->method, c->q->path);
		if ((n = teams_list(c->s, &ts, &cause)) < 0)
			return kstore_error(c, 500, cause);
		o = cJSON_CreateObject();
		a = cJSON_AddArrayToObject(o, "teams");
		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(a, gateway_team_json(c->s, &ts[i], c->tz));
		free(ts);
		return kreply(c, 200, o);
	}
	if (!gateway_key_name_ok(name))
		return kerror(c, 400, "invalid_request_error",
		    "team name: expected 1 to %d of A-Z a-z 0-9 . _ -", LIMIT_NAME_LEN);
	memset(&t, 0, sizeof t);
	rc = teams_find(c->s, name, &t, &cause);
	if (rc < 0)
		return kstore_error(c, 500, cause);
	if (get) {
		if (rc > 0)
			return kerror(c, 404, "not_found", "no team \"%s\"", name);
		return kreply(c, 200, gateway_team_json(c->s, &t, c->tz));
	}
	if (strcmp(c->q->method, "DELETE") == 0) {
		if ((rc = teams_delete(c->s, name, &cause)) != 0)
			return rc > 0 ? kerror(c, 404, "not_found", "no team \"%s\"", name)
			              : kstore_error(c, 409, cause);
		event_add(router_events(c->gr->router), EV_OPERATOR, NULL,
		    "admin %s: team %s deleted", c->q->gw->instance, name);
		o = cJSON_CreateObject();
		cJSON_AddBoolToObject(o, "deleted", 1);
		return kreply(c, 200, o);
	}
	if (!put)
		return kerror(c, 405, "invalid_request_error", "%s %s: use GET, PUT or DELETE",
		    c->q->method, c->q->path);
	if (rc > 0) {
		memset(&t, 0, sizeof t);
		strlcpy_(t.name, name, sizeof t.name);
	}
	b = cJSON_ParseWithLength(c->q->body.data != NULL ? c->q->body.data : "", c->q->body.len);
	if (!cJSON_IsObject(b)) {
		cJSON_Delete(b);
		return kerror(c, 400, "invalid_request_error", "the body must be a JSON object");
	}
	cJSON_ArrayForEach(it, b)
	{
		int r = gw_limits_field(it, &t.lim, why, sizeof why);

		if (r == 0)
			snprintf(why, sizeof why,
			    "unknown field \"%.64s\" (budget_day_usd, budget_month_usd, rpm, tpm, "
			    "models, alert_threshold)",
			    it->string);
		if (r <= 0) {
			cJSON_Delete(b);
			return kerror(c, 400, "invalid_request_error", "%s", why);
		}
	}
	cJSON_Delete(b);
	if (teams_put(c->s, &t, &cause) != 0)
		return kstore_error(c, 400, cause);
	event_add(router_events(c->gr->router), EV_OPERATOR, NULL, "admin %s: team %s set",
	    c->q->gw->instance, name);
	if (teams_find(c->s, name, &t, &cause) != 0)
		free(cause);
	return kreply(c, 200, gateway_team_json(c->s, &t, c->tz));
}

enum MHD_Result
gw_admin_keys(struct gw_req *q, const char *rest)
{
	struct kctx c;
	const char *m = q->method, *slash, *tz;
	int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0,
	    patch = strcmp(m, "PATCH") == 0, put = strcmp(m, "PUT") == 0;
	char id[LIMIT_NAME_SIZE];
	size_t n;

	memset(&c, 0, sizeof c);
	c.q = q;
	c.gr = gw_router_get(q->gw);
	c.s = q->gw->store;
	if (c.s == NULL)
		return kerror(&c, 400, "invalid_request_error",
		    "this instance has no database, so no client keys or teams");
	tz = router_config(c.gr->router)->budget.timezone;
	c.tz = tz != NULL ? tz : "UTC";
	c.now_ms = store_now_ms(c.s);
	if (strncmp(rest, "teams", 5) == 0) {
		if (rest[5] == '\0')
			return teams_reply(&c, NULL, get, put);
		return teams_reply(&c, rest + 6, get, put || post || patch);
	}
	/* keys */
	if (rest[4] == '\0') {
		if (get)
			return keys_list_reply(&c);
		if (post)
			return keys_create_reply(&c);
		return kerror(&c, 405, "invalid_request_error", "%s %s: use GET or POST", m,
		    q->path);
	}
	rest += 5;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n >= sizeof id)
		return kerror(&c, 404, "not_found", "no key named in the path");
	memcpy(id, rest, n);
	id[n] = '\0';
	return key_one(&c, id, slash != NULL ? slash + 1 : NULL, get, post, patch || put);
}
