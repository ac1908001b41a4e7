/*
 * console_keys.c: the keys view (K or :keys): teams and client keys, with
 * what each spent today, its burn (over the last 5 and 60 minutes, per
 * hour), its share of today's keyed requests, its 429s (refused today), the
 * budget it has left today and this month, and its state (live, revoked,
 * expired). s cycles the column the rows are sorted by; j/k scroll.
 *
 * Embedded, a worker thread of the view reads the store (keys_list,
 * teams_list, keys_scope_spend) at most every KV_FETCH_MS while the view is
 * open: those calls may block on the database, so never on the UI thread.
 * Attached, the selected instance's admin API (GET /admin/v1/keys and
 * /admin/v1/teams, which carry the spend figures) through the source's call
 * op.
 *
 * Not done: Enter on a team does not filter the provider table, whose rows
 * carry no per-team figures (the router keeps none per provider and team).
 *
 * Threads: the UI thread owns struct keyview but for what its mutex guards,
 * which the worker thread (embedded) or the engine thread (attached) fill
 * before waking the UI thread.
 */
#include "console/console.h"
/* Before curses.h, which has a KEY_OPEN of its own. */
#include "store/keys.h"

#include <cjson/cJSON.h>
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define KV_FETCH_MS 2000
#define KV_TIMEOUT_MS 5000

/* One team or key, as drawn. */
struct kv_row {
	int team; /* 1: a team (its TEAM column counts its keys) */
	char name[LIMIT_NAME_SIZE];
	char team_name[LIMIT_NAME_SIZE];
	char state[16]; /* live, revoked, expired; "" for a team */
	int n_keys;     /* a team's live keys (counted when drawn) */
	int have_spend; /* 0: the figures could not be read */
	double day_usd, month_usd, burn5, burn60;
	int64_t requests, refused;
	double day_budget, month_budget; /* 0: none */
};

/* The rows of one list (keys, or teams). */
struct kv_list {
	struct kv_row *rows;
	size_t n;
};

enum kv_sort { KS_TODAY, KS_BURN, KS_SHARE, KS_REFUSED, KS_LEFT, KS_NAME, KS__COUNT };
static const char *const kv_sort_names[KS__COUNT] = {
    "today", "burn", "share", "429s", "left today", "name"};

struct keyview {
	struct console *c;
	/* UI thread. */
	size_t target;
	enum kv_sort sort;
	int scroll;
	uint64_t next_ms;

	pthread_mutex_t mu; /* the rest, shared with the worker or the engine thread */
	pthread_cond_t cv;
	pthread_t worker;
	int worker_on, stop, want; /* the worker reads when want is set */
	uint64_t gen;              /* answers of an older generation (another target) are dropped */
	int changed;
	int keys_busy, teams_busy;
	struct kv_list keys, teams;
	int have_keys, have_teams;
	char why[256]; /* the last read's failure, "" none */
};

enum kv_kind { KVK_KEYS, KVK_TEAMS };
struct kv_call {
	struct keyview *v;
	enum kv_kind kind;
	uint64_t gen;
};

static void
kv_list_free(struct kv_list *l)
{
	free(l->rows);
	l->rows = NULL;
	l->n = 0;
}

static struct keyview *
keyview_get(struct console *c)
{
	struct keyview *v = c->keyview;

	if (v != NULL)
		return v;
	v = c->keyview = xcalloc(1, sizeof *v);
	v->c = c;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	return v;
}

void
keyview_free(struct keyview *v)
{
	if (v == NULL)
		return;
	if (v->worker_on) {
		pthread_mutex_lock(&v->mu);
		v->stop = 1;
		pthread_cond_signal(&v->cv);
		pthread_mutex_unlock(&v->mu);
		pthread_join(v->worker, NULL);
	}
	kv_list_free(&v->keys);
	kv_list_free(&v->teams);
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* ---- embedded: the store, on the view's worker thread ---- */

static void
kv_spend(struct store *s, const char *scope, const char *tz, struct kv_row *r)
{
	struct scope_spend sp;
	char *cause = NULL;

	if (keys_scope_spend(s, scope, tz, &sp, &cause) != 0) {
		free(cause);
		return;
	}
	r->have_spend = 1;
	r->day_usd = sp.day_usd;
	r->month_usd = sp.month_usd;
	r->burn5 = sp.burn_5m_per_hour;
	r->burn60 = sp.burn_60m_per_hour;
	r->requests = sp.requests_day;
	r->refused = sp.refused_day;
}

/* Read every key and team and what each spent: 0, or -1 with why. */
static int
kv_read_store(struct store *s, const char *tz, struct kv_list *keys, struct kv_list *teams,
    char *why, size_t len)
{
	struct store_key *ks = NULL;
	struct store_team *ts = NULL;
	char *cause = NULL, scope[LIMIT_NAME_SIZE + 8];
	int nk, nt;
	int64_t now = clock_wall_ms();

	if ((nk = keys_list(s, &ks, &cause)) < 0 || (nt = teams_list(s, &ts, &cause)) < 0) {
		snprintf(why, len, "%s", cause != NULL ? cause : "the store failed");
		free(cause);
		free(ks);
		return -1;
	}
	keys->rows = xcalloc((size_t)nk + 1, sizeof *keys->rows);
	teams->rows = xcalloc((size_t)nt + 1, sizeof *teams->rows);
	for (int i = 0; i < nt; i++) {
		struct kv_row *r = &teams->rows[teams->n++];

		r->team = 1;
		strlcpy_(r->name, ts[i].name, sizeof r->name);
		r->day_budget = ts[i].lim.day_usd;
		r->month_budget = ts[i].lim.month_usd;
		snprintf(scope, sizeof scope, "team:%s", ts[i].name);
		kv_spend(s, scope, tz, r);
	}
	for (int i = 0; i < nk; i++) {
		struct kv_row *r = &keys->rows[keys->n++];
		const struct store_key *k = &ks[i];

		strlcpy_(r->name, k->name, sizeof r->name);
		strlcpy_(r->team_name, k->team, sizeof r->team_name);
		strlcpy_(r->state,
		    k->revoked_ms != 0                               ? "revoked"
		        : k->expires_ms != 0 && k->expires_ms <= now ? "expired"
		                                                     : "live",
		    sizeof r->state);
		r->day_budget = k->lim.day_usd;
		r->month_budget = k->lim.month_usd;
		snprintf(scope, sizeof scope, "key:%s", k->id);
		kv_spend(s, scope, tz, r);
	}
	free(ks);
	free(ts);
	return 0;
}

static void *
kv_worker(void *arg)
{
	struct keyview *v = arg;
	struct console *c = v->c;
	const char *tz = c->cfg.budget.timezone != NULL ? c->cfg.budget.timezone : "UTC";

	pthread_mutex_lock(&v->mu);
	for (;;) {
		struct kv_list keys = {0}, teams = {0};
		char why[256] = "";
		int rc;

		while (!v->stop && !v->want)
			pthread_cond_wait(&v->cv, &v->mu);
		if (v->stop)
			break;
		v->want = 0;
		pthread_mutex_unlock(&v->mu);
		rc = kv_read_store(c->store, tz, &keys, &teams, why, sizeof why);
		pthread_mutex_lock(&v->mu);
		if (rc == 0) {
			kv_list_free(&v->keys);
			kv_list_free(&v->teams);
			v->keys = keys;
			v->teams = teams;
			v->have_keys = v->have_teams = 1;
			v->why[0] = '\0';
		} else {
			snprintf(v->why, sizeof v->why, "%s", why);
		}
		v->changed = 1;
		pthread_mutex_unlock(&v->mu);
		console_wake(c);
		pthread_mutex_lock(&v->mu);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* ---- attached: the admin API's JSON ---- */

static double
jnum(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

static void
jstr(const cJSON *o, const char *k, char *out, size_t len)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	out[0] = '\0';
	if (cJSON_IsString(x))
		strlcpy_(out, x->valuestring, len);
}

/* {"keys":[...]} or {"teams":[...]} into rows: 0, or -1 if it is not that. */
static int
kv_parse(const char *body, size_t len, enum kv_kind kind, struct kv_list *out)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *a, *it;

	memset(out, 0, sizeof *out);
	a = cJSON_GetObjectItemCaseSensitive(root, kind == KVK_KEYS ? "keys" : "teams");
	if (!cJSON_IsArray(a)) {
		cJSON_Delete(root);
		return -1;
	}
	out->rows = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *out->rows);
	cJSON_ArrayForEach(it, a)
	{
		struct kv_row *r = &out->rows[out->n++];
		const cJSON *lim = cJSON_GetObjectItemCaseSensitive(it, "limits");
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "spend");

		r->team = kind == KVK_TEAMS;
		jstr(it, "name", r->name, sizeof r->name);
		if (!r->team) {
			jstr(it, "team", r->team_name, sizeof r->team_name);
			jstr(it, "state", r->state, sizeof r->state);
		}
		r->day_budget = jnum(lim, "budget_day_usd");
		r->month_budget = jnum(lim, "budget_month_usd");
		if (cJSON_IsObject(sp)) {
			r->have_spend = 1;
			r->day_usd = jnum(sp, "day_usd");
			r->month_usd = jnum(sp, "month_usd");
			r->burn5 = jnum(sp, "burn_5m_usd_per_hour");
			r->burn60 = jnum(sp, "burn_60m_usd_per_hour");
			r->requests = (int64_t)jnum(sp, "requests_day");
			r->refused = (int64_t)jnum(sp, "refused_day");
		}
	}
	cJSON_Delete(root);
	return 0;
}

/* Engine thread: a list came back. */
static void
kv_fetched(void *arg, long status, const char *body, size_t len, const char *why)
{
	struct kv_call *k = arg;
	struct keyview *v = k->v;
	struct kv_list l = {0};
	int ok = status == 200 && kv_parse(body, len, k->kind, &l) == 0;

	pthread_mutex_lock(&v->mu);
	if (k->kind == KVK_KEYS)
		v->keys_busy = 0;
	else
		v->teams_busy = 0;
	if (k->gen == v->gen) {
		if (ok) {
			struct kv_list *dst = k->kind == KVK_KEYS ? &v->keys : &v->teams;

			kv_list_free(dst);
			*dst = l;
			memset(&l, 0, sizeof l);
			*(k->kind == KVK_KEYS ? &v->have_keys : &v->have_teams) = 1;
			v->why[0] = '\0';
		} else {
			snprintf(v->why, sizeof v->why, "%s",
			    why[0] != '\0' ? why : "the answer is not the admin API's JSON");
		}
		v->changed = 1;
	}
	pthread_mutex_unlock(&v->mu);
	kv_list_free(&l);
	free(k);
	console_wake(v->c);
}

static void
kv_call(struct keyview *v, struct console_target *tg, enum kv_kind kind)
{
	struct source_call cb;
	struct kv_call *k = xcalloc(1, sizeof *k);

	k->v = v;
	k->kind = kind;
	pthread_mutex_lock(&v->mu);
	k->gen = v->gen;
	pthread_mutex_unlock(&v->mu);
	memset(&cb, 0, sizeof cb);
	cb.done = kv_fetched;
	cb.arg = k;
	tg->src->ops->call(tg->src, "GET", kind == KVK_KEYS ? "/admin/v1/keys" : "/admin/v1/teams",
	    NULL, KV_TIMEOUT_MS, &cb);
}

/* Ask for fresh figures: the worker (embedded) or the admin API (attached). */
static void
kv_fetch(struct console *c, struct keyview *v)
{
	struct console_target *tg = console_target_at(c, &v->target);
	int keys = 0, teams = 0;

	if (tg == NULL)
		return;
	if (tg->src->ops->call == NULL) {
		pthread_mutex_lock(&v->mu);
		if (c->store == NULL) {
			snprintf(v->why, sizeof v->why, "no database: keys live in the store");
			v->changed = 1;
		} else {
			if (!v->worker_on) {
				if (pthread_create(&v->worker, NULL, kv_worker, v) == 0)
					v->worker_on = 1;
				else
					snprintf(v->why, sizeof v->why,
					    "could not start the reader thread");
			}
			v->want = 1;
			pthread_cond_signal(&v->cv);
		}
		pthread_mutex_unlock(&v->mu);
		return;
	}
	pthread_mutex_lock(&v->mu);
	if (!v->keys_busy)
		keys = v->keys_busy = 1;
	if (!v->teams_busy)
		teams = v->teams_busy = 1;
	pthread_mutex_unlock(&v->mu);
	if (keys)
		kv_call(v, tg, KVK_KEYS);
	if (teams)
		kv_call(v, tg, KVK_TEAMS);
}

void
keyview_open(struct console *c)
{
	struct keyview *v = keyview_get(c);
	struct console_target *sel = console_selected_target(c);
	size_t t = sel != NULL ? (size_t)(sel - c->targets) : 0;

	pthread_mutex_lock(&v->mu);
	if (t != v->target) {
		v->gen++;
		v->have_keys = v->have_teams = 0;
	}
	v->why[0] = '\0';
	pthread_mutex_unlock(&v->mu);
	v->target = t;
	v->scroll = 0;
	v->next_ms = clock_mono_ms() + KV_FETCH_MS;
	c->mode = MODE_KEYS;
	c->dirty = 1;
	kv_fetch(c, v);
}

int
keyview_poll(struct console *c)
{
	struct keyview *v = c->keyview;
	int changed;

	if (v == NULL)
		return 0;
	if (c->mode == MODE_KEYS && !c->paused && clock_mono_ms() >= v->next_ms) {
		v->next_ms = clock_mono_ms() + KV_FETCH_MS;
		kv_fetch(c, v);
	}
	pthread_mutex_lock(&v->mu);
	changed = v->changed;
	v->changed = 0;
	pthread_mutex_unlock(&v->mu);
	return changed;
}

void
keyview_key(struct console *c, int is_key, unsigned int ch)
{
	struct keyview *v = keyview_get(c);

	c->dirty = 1;
	if (!is_key && ch == ':') {
		cmd_run_line(c, "command", 0);
	} else if (!is_key && ch == 's') {
		v->sort = (enum kv_sort)((v->sort + 1) % KS__COUNT);
		console_message(c, 0, "keys sorted by %s", kv_sort_names[v->sort]);
	} else if ((is_key && ch == KEY_DOWN) || (!is_key && ch == 'j')) {
		v->scroll++;
	} else if ((is_key && ch == KEY_UP) || (!is_key && ch == 'k')) {
		if (v->scroll > 0)
			v->scroll--;
	} else if (!is_key && (ch == 27 || ch == 'q' || ch == 'K')) {
		c->mode = MODE_DASHBOARD;
	}
}

/* ---- drawing ---- */

/* Money in at most width columns (width >= 5): $0.12, $1.23, $12.3, $123, $1.2k, $12k. */
static void
kv_money(char *out, size_t len, double usd, int width)
{
	if (usd < 0)
		usd = 0;
	if (width >= 7 && usd < 1000)
		snprintf(out, len, "$%.2f", usd);
	else if (usd < 10)
		snprintf(out, len, "$%.2f", usd);
	else if (usd < 100)
		snprintf(out, len, "$%.1f", usd);
	else if (usd < 1000)
		snprintf(out, len, "$%.0f", usd);
	else if (usd < 10000)
		snprintf(out, len, "$%.1fk", usd / 1e3);
	else if (usd < 1e6)
		snprintf(out, len, "$%.0fk", usd / 1e3);
	else
		snprintf(out, len, "$%.0fM", usd / 1e6);
}

/* A count in at most 4 columns: 999, 9999, 12k, 1.2M. */
static void
kv_count(char *out, size_t len, int64_t n)
{
	if (n < 10000)
		snprintf(out, len, "%lld", (long long)n);
	else if (n < 1000000)
		snprintf(out, len, "%lldk", (long long)(n / 1000));
	else
		snprintf(out, len, "%.1fM", (double)n / 1e6);
}

/* What is left of a budget (0: none, "-"). */
static void
kv_left(char *out, size_t len, double budget, double spent, int have)
{
	if (budget <= 0)
		snprintf(out, len, "-");
	else if (!have)
		snprintf(out, len, "?");
	else
		kv_money(out, len, budget - spent, 8);
}

static int64_t kv_total; /* the sort's share denominator (UI thread only) */
static enum kv_sort kv_sorting;

static double
kv_left_day(const struct kv_row *r)
{
	return r->day_budget > 0 ? r->day_budget - r->day_usd : 1e300;
}

/* Biggest first for figures; least left first; names A to Z. */
static int
kv_cmp(const void *pa, const void *pb)
{
	const struct kv_row *a = pa, *b = pb;
	double x = 0, y = 0;

	switch (kv_sorting) {
	case KS_TODAY: x = b->day_usd, y = a->day_usd; break;
	case KS_BURN: x = b->burn60, y = a->burn60; break;
	case KS_SHARE: x = (double)b->requests, y = (double)a->requests; break;
	case KS_REFUSED: x = (double)b->refused, y = (double)a->refused; break;
	case KS_LEFT: x = kv_left_day(a), y = kv_left_day(b); break;
	case KS_NAME:
	case KS__COUNT: break;
	}
	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* NAME 12 TEAM 8 TODAY 7 BURN 11 SHARE 5 429s 4 LEFT/DAY 8 LEFT/MON 8 STATE 7: 78 columns. */
#define KV_FMT "%-12.12s %-8.8s %7s %11s %5s %4s %8s %8s %-7s"

static void
kv_draw_row(struct console *c, int y, const struct kv_row *r)
{
	char team[LIMIT_NAME_SIZE + 8], today[32], b5[32], b60[32], burn[72], share[32],
	    refused[32], lday[32], lmon[32];

	if (r->team)
		snprintf(team, sizeof team, "%d key%s", r->n_keys, r->n_keys == 1 ? "" : "s");
	else
		snprintf(team, sizeof team, "%s", r->team_name[0] ? r->team_name : "-");
	if (r->have_spend) {
		kv_money(today, sizeof today, r->day_usd, 7);
		kv_money(b5, sizeof b5, r->burn5, 5);
		kv_money(b60, sizeof b60, r->burn60, 5);
		snprintf(burn, sizeof burn, "%s/%s", b5, b60);
		if (kv_total > 0)
			snprintf(share, sizeof share, "%.0f%%",
			    100.0 * (double)r->requests / (double)kv_total);
		else
			snprintf(share, sizeof share, "-");
		kv_count(refused, sizeof refused, r->refused);
	} else {
		snprintf(today, sizeof today, "?");
		snprintf(burn, sizeof burn, "?");
		snprintf(share, sizeof share, "?");
		snprintf(refused, sizeof refused, "?");
	}
	kv_left(lday, sizeof lday, r->day_budget, r->day_usd, r->have_spend);
	kv_left(lmon, sizeof lmon, r->month_budget, r->month_usd, r->have_spend);
	if (strcmp(r->state, "live") != 0 && r->state[0] != '\0')
		attrset(color_attr(c, TC_MSG_ERROR));
	else if (r->have_spend && r->day_budget > 0 && r->day_usd >= r->day_budget)
		attrset(color_attr(c, TC_MSG_ERROR));
	draw_putf(y, 1, COLS - 2, KV_FMT, r->name, team, today, burn, share, refused, lday, lmon,
	    r->team ? "" : r->state);
	attrset(color_attr(c, TC_NORMAL));
}

void
draw_keys(struct console *c)
{
	struct keyview *v = keyview_get(c);
	struct console_target *tg = console_target_at(c, &v->target);
	const char *where = tg != NULL ? tg->label : "?";
	struct kv_list keys = {0}, teams = {0};
	int top = 1, bottom = LINES - 2, y, have, lines, room, skip;
	char why[256];

	for (int r = 1; r < LINES - 1; r++)
		draw_fill(r, 0, COLS);
	/* A copy, sorted, so the lock is not held while drawing. */
	pthread_mutex_lock(&v->mu);
	have = v->have_keys || v->have_teams;
	snprintf(why, sizeof why, "%s", v->why);
	keys.rows = xcalloc(v->keys.n + 1, sizeof *keys.rows);
	teams.rows = xcalloc(v->teams.n + 1, sizeof *teams.rows);
	if (v->keys.n > 0) /* rows is NULL before the first read: memcpy must not see it */
		memcpy(keys.rows, v->keys.rows, v->keys.n * sizeof *keys.rows);
	if (v->teams.n > 0)
		memcpy(teams.rows, v->teams.rows, v->teams.n * sizeof *teams.rows);
	keys.n = v->keys.n;
	teams.n = v->teams.n;
	pthread_mutex_unlock(&v->mu);
	kv_total = 0;
	for (size_t i = 0; i < keys.n; i++) {
		kv_total += keys.rows[i].requests;
		for (size_t k = 0; k < teams.n; k++)
			teams.rows[k].n_keys += strcmp(keys.rows[i].state, "live") == 0 &&
			    strcmp(keys.rows[i].team_name, teams.rows[k].name) == 0;
	}
	kv_sorting = v->sort;
	qsort(keys.rows, keys.n, sizeof *keys.rows, kv_cmp);
	qsort(teams.rows, teams.n, sizeof *teams.rows, kv_cmp);

	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	draw_putf(top, 1, COLS - 2, "Keys on %.24s, sorted by %s (s: next, Esc: back)", where,
	    kv_sort_names[v->sort]);
	attrset(color_attr(c, TC_NORMAL));
	y = top + 1;
	if (why[0] != '\0') {
		attrset(color_attr(c, TC_MSG_ERROR));
		draw_putf(y++, 1, COLS - 2, "%s", why);
		attrset(color_attr(c, TC_NORMAL));
	}
	if (!have) {
		draw_put(y, 1, COLS - 2, why[0] != '\0' ? "" : "reading...");
		goto out;
	}
	/* Teams, then keys, scrolled together. */
	lines = (int)teams.n + (int)keys.n + 4;
	room = bottom - y;
	if (v->scroll > lines - room)
		v->scroll = lines - room > 0 ? lines - room : 0;
	skip = v->scroll;
	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	draw_putf(y++, 1, COLS - 2, KV_FMT, "TEAM", "KEYS", "TODAY", "BURN 5m/60m", "SHARE", "429s",
	    "LEFT/DAY", "LEFT/MON", "");
	attrset(color_attr(c, TC_NORMAL));
	if (teams.n == 0 && skip == 0 && y < bottom)
		draw_put(y++, 1, COLS - 2, "no teams");
	for (size_t i = 0; i < teams.n && y < bottom; i++) {
		if (skip > 0) {
			skip--;
			continue;
		}
		kv_draw_row(c, y++, &teams.rows[i]);
	}
	if (y < bottom && skip == 0)
		y++;
	else if (skip > 0)
		skip--;
	if (y < bottom) {
		attrset(color_attr(c, TC_TITLE) | A_BOLD);
		draw_putf(y++, 1, COLS - 2, KV_FMT, "KEY", "TEAM", "TODAY", "BURN 5m/60m", "SHARE",
		    "429s", "LEFT/DAY", "LEFT/MON", "STATE");
		attrset(color_attr(c, TC_NORMAL));
	}
	if (keys.n == 0 && y < bottom)
		draw_put(y++, 1, COLS - 2,
		    "no keys: requests need none (llmdeck keys create --name NAME)");
	for (size_t i = 0; i < keys.n && y < bottom; i++) {
		if (skip > 0) {
			skip--;
			continue;
		}
		kv_draw_row(c, y++, &keys.rows[i]);
	}
out:
	kv_list_free(&keys);
	kv_list_free(&teams);
}
