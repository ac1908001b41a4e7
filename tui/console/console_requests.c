/*
 * console_requests.c: the live request view (R or :requests), like top, and
 * test prompts through an attached gateway (:prompt TEXT when attached).
 *
 * The view lists the selected instance's requests in flight, oldest first
 * (key or team, model, provider of the current attempt, attempt number,
 * elapsed time, deltas streamed), then the last finished ones; Enter on one
 * shows its attempts (provider, status, error, latency, hedge, cost), Esc
 * goes back. Embedded, it reads the router (router_requests); attached, the
 * admin API (GET /admin/v1/requests, /requests/ID) through the source's call
 * op, refreshed while the view is open.
 *
 * Attached, :prompt [--provider NAME] TEXT posts /admin/v1/prompt on the
 * selected instance and shows its streamed answer with who answered, the
 * attempts, latency, cost and cache. Embedded, :prompt opens the prompt panel
 * (console_prompt.c).
 *
 * Threads: the UI thread owns struct reqview but for what its mutex guards,
 * which the engine thread's callbacks fill before waking the UI thread.
 */
#include "console/console.h"

#include <cjson/cJSON.h>
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define RV_LIMIT 50
#define RV_FETCH_MS 500
#define RV_TIMEOUT_MS 5000
#define RV_PROMPT_TIMEOUT_MS 300000

enum rv_screen { RV_LIST, RV_DETAIL, RV_ANSWER };
enum rv_kind { RVK_LIST, RVK_DETAIL, RVK_PROMPT };

struct reqview {
	struct console *c;
	/* UI thread. */
	enum rv_screen screen;
	size_t target; /* the instance shown */
	int cursor;    /* a row of in_flight then recent */
	uint64_t detail_id;
	uint64_t next_ms; /* the next fetch */
	char prompt_text[256];
	char prompt_pin[LIMIT_NAME_SIZE];
	char prompt_where[64];

	pthread_mutex_t mu; /* the rest, shared with the engine thread */
	uint64_t gen;       /* answers of an older generation (another target) are dropped */
	int changed;
	int list_busy, detail_busy;
	struct router_requests list;
	int have_list;
	struct router_request_detail detail;
	int have_detail;
	char why[256]; /* the last fetch's failure, "" none */
	/* The attached test prompt. */
	uint64_t prompt_gen;
	int prompt_busy;
	struct buf sse;    /* bytes of the stream not yet split into frames */
	struct buf answer; /* the text so far */
	char summary[512];
	int prompt_failed;
	char attempts[8][256];
	int n_attempts;
};

struct rv_call {
	struct reqview *v;
	enum rv_kind kind;
	uint64_t gen;
};

static struct reqview *
reqview_get(struct console *c)
{
	struct reqview *v = c->reqview;

	if (v != NULL)
		return v;
	v = c->reqview = xcalloc(1, sizeof *v);
	v->c = c;
	pthread_mutex_init(&v->mu, NULL);
	buf_init(&v->sse);
	buf_init(&v->answer);
	return v;
}

void
reqview_free(struct reqview *v)
{
	if (v == NULL)
		return;
	router_requests_free(&v->list);
	router_request_detail_free(&v->detail);
	buf_free(&v->sse);
	buf_free(&v->answer);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

/* ---- the admin API's JSON into the router's types ---- */

static void
jcopy(const cJSON *o, const char *k, char *out, size_t len)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	out[0] = '\0';
	if (cJSON_IsString(x))
		strlcpy_(out, x->valuestring, len);
}

static double
jnumber(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

static int
jbool(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static enum llm_errclass
errclass_named(const char *name)
{
	for (int i = 0; i < LLM_ERR__COUNT; i++)
		if (strcmp(llm_errclass_name((enum llm_errclass)i), name) == 0)
			return (enum llm_errclass)i;
	return LLM_ERR_INTERNAL;
}

static void
info_from_json(const cJSON *o, struct router_request_info *in)
{
	char state[16], cls[32];

	memset(in, 0, sizeof *in);
	in->id = (uint64_t)jnumber(o, "id");
	jcopy(o, "key_id", in->key_id, sizeof in->key_id);
	jcopy(o, "team", in->team, sizeof in->team);
	jcopy(o, "model", in->model, sizeof in->model);
	jcopy(o, "route", in->route, sizeof in->route);
	jcopy(o, "provider", in->provider, sizeof in->provider);
	in->attempts = (int)jnumber(o, "attempts");
	in->hedging = jbool(o, "hedging");
	in->stream = jbool(o, "stream");
	in->operator_test = jbool(o, "operator_test");
	in->elapsed_us = (uint64_t)(jnumber(o, "elapsed_ms") * 1000.0);
	in->deltas = (uint64_t)jnumber(o, "deltas");
	jcopy(o, "state", state, sizeof state);
	in->done = strcmp(state, "in_flight") != 0;
	jcopy(o, "error_class", cls, sizeof cls);
	in->cls = strcmp(state, "ok") == 0    ? LLM_OK
	    : cls[0] != '\0'                  ? errclass_named(cls)
	    : strcmp(state, "cancelled") == 0 ? LLM_ERR_CANCELLED
	                                      : LLM_ERR_INTERNAL;
	in->status = (int)jnumber(o, "status");
	in->unpriced = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "cost_usd"));
	in->cost_usd = jnumber(o, "cost_usd");
	in->cached = jbool(o, "cached");
	in->finished_ms = (int64_t)jnumber(o, "finished_ms");
	jcopy(o, "error", in->error, sizeof in->error);
}

static int
list_from_json(const char *body, size_t len, struct router_requests *out)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *a, *it;
	size_t n;

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	out->total_in_flight = (size_t)jnumber(root, "in_flight_total");
	a = cJSON_GetObjectItemCaseSensitive(root, "in_flight");
	n = (size_t)cJSON_GetArraySize(a);
	out->in_flight = xcalloc(n + 1, sizeof *out->in_flight);
	cJSON_ArrayForEach(it, a) info_from_json(it, &out->in_flight[out->n_in_flight++]);
	a = cJSON_GetObjectItemCaseSensitive(root, "recent");
	n = (size_t)cJSON_GetArraySize(a);
	out->recent = xcalloc(n + 1, sizeof *out->recent);
	cJSON_ArrayForEach(it, a) info_from_json(it, &out->recent[out->n_recent++]);
	cJSON_Delete(root);
	return 0;
}

static int
detail_from_json(const char *body, size_t len, struct router_request_detail *out)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *a, *it;
	char cls[32];

	memset(out, 0, sizeof *out);
	if (!cJSON_IsObject(root) || !cJSON_IsObject(cJSON_GetObjectItem(root, "request"))) {
		cJSON_Delete(root);
		return -1;
	}
	info_from_json(cJSON_GetObjectItem(root, "request"), &out->info);
	a = cJSON_GetObjectItemCaseSensitive(root, "attempts");
	out->attempts = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *out->attempts);
	cJSON_ArrayForEach(it, a)
	{
		struct router_request_attempt *at = &out->attempts[out->n_attempts++];

		jcopy(it, "provider", at->provider, sizeof at->provider);
		jcopy(it, "model", at->model, sizeof at->model);
		at->in_flight = jbool(it, "in_flight");
		at->hedge = jbool(it, "hedge");
		at->status = (int)jnumber(it, "status");
		jcopy(it, "error_class", cls, sizeof cls);
		at->cls = cls[0] != '\0' ? errclass_named(cls) : LLM_OK;
		jcopy(it, "error", at->error, sizeof at->error);
		at->latency_us = (uint64_t)(jnumber(it, "latency_ms") * 1000.0);
		at->cost_usd = jnumber(it, "cost_usd");
	}
	cJSON_Delete(root);
	return 0;
}

/* ---- fetching ---- */

/* Engine thread: a list or a detail came back. */
static void
rv_fetched(void *arg, long status, const char *body, size_t len, const char *why)
{
	struct rv_call *k = arg;
	struct reqview *v = k->v;
	struct router_requests rq;
	struct router_request_detail d;
	int ok = 0;

	memset(&rq, 0, sizeof rq);
	memset(&d, 0, sizeof d);
	if (status == 200)
		ok = k->kind == RVK_LIST ? list_from_json(body, len, &rq) == 0
		                         : detail_from_json(body, len, &d) == 0;
	pthread_mutex_lock(&v->mu);
	if (k->kind == RVK_LIST)
		v->list_busy = 0;
	else
		v->detail_busy = 0;
	if (k->gen == v->gen) {
		if (ok && k->kind == RVK_LIST) {
			router_requests_free(&v->list);
			v->list = rq;
			v->have_list = 1;
			memset(&rq, 0, sizeof rq);
		} else if (ok) {
			router_request_detail_free(&v->detail);
			v->detail = d;
			v->have_detail = 1;
			memset(&d, 0, sizeof d);
		}
		if (!ok)
			snprintf(v->why, sizeof v->why, "%s",
			    why[0] != '\0' ? why : "the answer is not the admin API's JSON");
		else
			v->why[0] = '\0';
		v->changed = 1;
	}
	pthread_mutex_unlock(&v->mu);
	router_requests_free(&rq);
	router_request_detail_free(&d);
	free(k);
	console_wake(v->c);
}

/* Ask for fresh data for the screen shown (embedded: at once). */
static void
rv_fetch(struct console *c, struct reqview *v)
{
	struct console_target *tg = console_target_at(c, &v->target);
	struct source_call cb;
	struct rv_call *k;
	char path[96];
	int list = 0, detail = 0;

	if (tg == NULL)
		return;
	if (tg->src->ops->call == NULL && c->router != NULL) {
		pthread_mutex_lock(&v->mu);
		router_requests_free(&v->list);
		router_requests(c->router, RV_LIMIT, &v->list);
		v->have_list = 1;
		if (v->screen == RV_DETAIL) {
			router_request_detail_free(&v->detail);
			v->have_detail =
			    router_request_detail(c->router, v->detail_id, &v->detail) == 0;
			if (!v->have_detail)
				snprintf(v->why, sizeof v->why,
				    "request %llu is gone from the last %d",
				    (unsigned long long)v->detail_id, ROUTER_REQUESTS_RECENT);
		}
		v->changed = 1;
		pthread_mutex_unlock(&v->mu);
		return;
	}
	if (tg->src->ops->call == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	if (v->screen == RV_LIST && !v->list_busy)
		list = v->list_busy = 1;
	if (v->screen == RV_DETAIL && !v->detail_busy)
		detail = v->detail_busy = 1;
	pthread_mutex_unlock(&v->mu);
	memset(&cb, 0, sizeof cb);
	cb.done = rv_fetched;
	if (list || detail) {
		k = xcalloc(1, sizeof *k);
		k->v = v;
		k->kind = list ? RVK_LIST : RVK_DETAIL;
		pthread_mutex_lock(&v->mu);
		k->gen = v->gen;
		pthread_mutex_unlock(&v->mu);
		cb.arg = k;
		if (list)
			snprintf(path, sizeof path, "/admin/v1/requests?limit=%d", RV_LIMIT);
		else
			snprintf(path, sizeof path, "/admin/v1/requests/%llu",
			    (unsigned long long)v->detail_id);
		tg->src->ops->call(tg->src, "GET", path, NULL, RV_TIMEOUT_MS, &cb);
	}
}

void
reqview_open(struct console *c)
{
	struct reqview *v = reqview_get(c);
	struct console_target *sel = console_selected_target(c);

	if (sel != NULL)
		v->target = (size_t)(sel - c->targets);
	pthread_mutex_lock(&v->mu);
	v->gen++;
	v->have_list = 0;
	v->why[0] = '\0';
	pthread_mutex_unlock(&v->mu);
	v->screen = RV_LIST;
	v->cursor = 0;
	v->next_ms = 0;
	c->mode = MODE_REQUESTS;
	c->dirty = 1;
	rv_fetch(c, v);
}

int
reqview_poll(struct console *c)
{
	struct reqview *v = c->reqview;
	int changed;

	if (v == NULL)
		return 0;
	if (c->mode == MODE_REQUESTS && v->screen != RV_ANSWER && !c->paused &&
	    clock_mono_ms() >= v->next_ms) {
		v->next_ms = clock_mono_ms() + RV_FETCH_MS;
		rv_fetch(c, v);
	}
	pthread_mutex_lock(&v->mu);
	changed = v->changed;
	v->changed = 0;
	pthread_mutex_unlock(&v->mu);
	return changed;
}

/* The id of the row under the cursor, 0 none (v->mu held). */
static uint64_t
rv_cursor_id(struct reqview *v)
{
	size_t i = (size_t)v->cursor;

	if (i < v->list.n_in_flight)
		return v->list.in_flight[i].id;
	i -= v->list.n_in_flight;
	return i < v->list.n_recent ? v->list.recent[i].id : 0;
}

void
reqview_key(struct console *c, int is_key, unsigned int ch)
{
	struct reqview *v = reqview_get(c);
	int rows;
	uint64_t id;

	c->dirty = 1;
	if (!is_key && ch == ':') {
		cmd_run_line(c, "command", 0);
		return;
	}
	if (!is_key && ch == 27) {
		if (v->screen == RV_DETAIL) {
			v->screen = RV_LIST;
			v->next_ms = 0;
		} else {
			c->mode = MODE_DASHBOARD;
		}
		return;
	}
	if (v->screen == RV_ANSWER) {
		if (!is_key && ch == 'R')
			reqview_open(c);
		else if (!is_key && ch == 'q')
			c->mode = MODE_DASHBOARD;
		return;
	}
	if (v->screen == RV_DETAIL) {
		if (!is_key && ch == 'q')
			c->mode = MODE_DASHBOARD;
		return;
	}
	pthread_mutex_lock(&v->mu);
	rows = (int)(v->list.n_in_flight + v->list.n_recent);
	if ((is_key && ch == KEY_DOWN) || (!is_key && ch == 'j'))
		v->cursor++;
	else if ((is_key && ch == KEY_UP) || (!is_key && ch == 'k'))
		v->cursor--;
	if (v->cursor >= rows)
		v->cursor = rows - 1;
	if (v->cursor < 0)
		v->cursor = 0;
	id = rv_cursor_id(v);
	pthread_mutex_unlock(&v->mu);
	if ((!is_key && (ch == '\r' || ch == '\n')) || (is_key && ch == KEY_ENTER)) {
		if (id == 0) {
			console_message(c, 1, "no request here to show");
			return;
		}
		pthread_mutex_lock(&v->mu);
		v->have_detail = 0;
		v->why[0] = '\0';
		pthread_mutex_unlock(&v->mu);
		v->detail_id = id;
		v->screen = RV_DETAIL;
		v->next_ms = 0;
		rv_fetch(c, v);
	} else if (!is_key && (ch == 'q' || ch == 'R')) {
		c->mode = MODE_DASHBOARD;
	}
}

/* ---- drawing ---- */

/* A count in at most 5 columns: 999, 12.3k, 123k, 1.2M. */
static void
fmt_count(char *out, size_t len, uint64_t n)
{
	if (n < 10000)
		snprintf(out, len, "%llu", (unsigned long long)n);
	else if (n < 1000000)
		snprintf(out, len, "%.*fk", n < 100000 ? 1 : 0, (double)n / 1e3);
	else
		snprintf(out, len, "%.1fM", (double)n / 1e6);
}

static const char *
outcome_word(const struct router_request_info *in)
{
	if (in->cls == LLM_OK)
		return "ok";
	if (in->cls == LLM_ERR_CANCELLED)
		return "cancelled";
	return llm_errclass_name(in->cls);
}

static void
fmt_who(char *out, size_t len, const struct router_request_info *in)
{
	snprintf(out, len, "%s%s%s%s", in->operator_test ? "[test] " : "",
	    in->key_id[0] != '\0' ? in->key_id : "",
	    in->key_id[0] != '\0' && in->team[0] ? "/" : "", in->team);
	if (out[0] == '\0')
		snprintf(out, len, "-");
}

/* Columns: ID 7, TIME 7, MODEL 16, PROVIDER 12, then per list; WHO or COST the rest. */
static void
draw_row(struct console *c, int y, int w, const struct router_request_info *in, int selected)
{
	char t[16], n[16], who[96], cost[24], res[40];
	int x = 2;

	draw_fmt_us(t, sizeof t, in->elapsed_us);
	attrset(color_attr(c, selected ? TC_SELECTED : TC_NORMAL));
	draw_fill(y, 1, w - 2);
	if (selected)
		draw_put(y, 1, 1, ">"); /* seen without colours too */
	if (!in->done) {
		fmt_count(n, sizeof n, in->deltas);
		fmt_who(who, sizeof who, in);
		draw_putf(y, x, w - 4, "%-7llu %7s %-16.16s %-12.12s %2d%s %5s  %s",
		    (unsigned long long)in->id, t, in->model, in->provider[0] ? in->provider : "-",
		    in->attempts, in->hedging ? "h" : " ", in->stream ? n : "-", who);
	} else {
		if (in->unpriced)
			snprintf(cost, sizeof cost, "unpriced");
		else
			draw_fmt_usd(cost, sizeof cost, in->cost_usd);
		if (in->status != 0)
			snprintf(res, sizeof res, "%s %d", outcome_word(in), in->status);
		else
			snprintf(res, sizeof res, "%s", outcome_word(in));
		if (in->cls != LLM_OK && !selected)
			attrset(color_attr(c, TC_MSG_ERROR));
		draw_putf(y, x, w - 4, "%-7llu %7s %-16.16s %-12.12s %-13.13s %9s %s%s",
		    (unsigned long long)in->id, t, in->model, in->provider[0] ? in->provider : "-",
		    res, cost, in->cached ? "hit" : "miss", in->operator_test ? " [test]" : "");
	}
	attrset(color_attr(c, TC_NORMAL));
}

static void
draw_list(struct console *c, struct reqview *v, int top, int bottom)
{
	int y = top, w = COLS, i = 0, rows;
	int cursor;

	rows = (int)(v->list.n_in_flight + v->list.n_recent);
	cursor = v->cursor < rows ? v->cursor : rows - 1;
	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	draw_putf(y++, 2, w - 4, "In flight: %zu%s", v->list.total_in_flight,
	    v->list.total_in_flight > v->list.n_in_flight ? " (the oldest shown)"
	                                                  : ", oldest first");
	draw_putf(y++, 2, w - 4, "%-7s %7s %-16s %-12s %3s %5s  %s", "ID", "AGE", "MODEL",
	    "PROVIDER", "TRY", "TOK", "KEY/TEAM");
	attrset(color_attr(c, TC_NORMAL));
	/* Half the room for each list, more for in flight when recent is short. */
	for (size_t k = 0; k < v->list.n_in_flight && y < top + (bottom - top) / 2; k++, i++)
		draw_row(c, y++, w, &v->list.in_flight[k], i == cursor);
	i = (int)v->list.n_in_flight;
	if (v->list.n_in_flight == 0)
		draw_put(y++, 4, w - 6, "nothing in flight");
	y++;
	if (y + 2 >= bottom)
		return;
	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	draw_putf(y++, 2, w - 4, "Recent: %zu, newest first", v->list.n_recent);
	draw_putf(y++, 2, w - 4, "%-7s %7s %-16s %-12s %-13s %9s %s", "ID", "TIME", "MODEL",
	    "PROVIDER", "RESULT", "COST", "CACHE");
	attrset(color_attr(c, TC_NORMAL));
	{
		/* Keep the cursor's row on screen. */
		int room = bottom - y, skip = 0;

		if (cursor >= i && cursor - i >= room)
			skip = cursor - i - room + 1;
		for (size_t k = (size_t)skip; k < v->list.n_recent && y < bottom; k++)
			draw_row(c, y++, w, &v->list.recent[k], (int)k + i == cursor);
	}
	if (v->list.n_recent == 0 && y < bottom)
		draw_put(y, 4, w - 6, "none finished yet");
}

static void
draw_detail(struct console *c, struct reqview *v, int top, int bottom)
{
	const struct router_request_detail *d = &v->detail;
	const struct router_request_info *in = &d->info;
	char t[16], cost[24], who[96], *line;
	int y = top, w = COLS;

	if (!v->have_detail) {
		draw_putf(y, 2, w - 4, "request %llu: %s", (unsigned long long)v->detail_id,
		    v->why[0] != '\0' ? v->why : "asking...");
		return;
	}
	draw_fmt_us(t, sizeof t, in->elapsed_us);
	if (in->unpriced)
		snprintf(cost, sizeof cost, "unpriced");
	else
		draw_fmt_usd(cost, sizeof cost, in->cost_usd);
	fmt_who(who, sizeof who, in);
	attrset(color_attr(c, in->done && in->cls != LLM_OK ? TC_MSG_ERROR : TC_TITLE) | A_BOLD);
	if (!in->done)
		line = xasprintf("request %llu: in flight for %s, attempt %d%s",
		    (unsigned long long)in->id, t, in->attempts,
		    in->hedging ? " (a hedge races it)" : "");
	else
		line = xasprintf("request %llu: %s%s%s in %s, cost %s, cache %s",
		    (unsigned long long)in->id, outcome_word(in), in->provider[0] ? " by " : "",
		    in->provider, t, cost, in->cached ? "hit" : "miss");
	y += draw_wrapped(y, top - 1, bottom, 2, w - 4, line);
	free(line);
	attrset(color_attr(c, TC_NORMAL));
	line = xasprintf("model %s  route %s  key/team %s  stream %s  deltas %llu",
	    in->model[0] ? in->model : "-", in->route[0] ? in->route : "-", who,
	    in->stream ? "yes" : "no", (unsigned long long)in->deltas);
	y += draw_wrapped(y, top - 1, bottom, 2, w - 4, line);
	free(line);
	if (in->error[0] != '\0') {
		attrset(color_attr(c, TC_MSG_ERROR));
		line = xasprintf("error: %s", in->error);
		y += draw_wrapped(y, top - 1, bottom, 2, w - 4, line);
		free(line);
		attrset(color_attr(c, TC_NORMAL));
	}
	y++;
	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	draw_putf(y++, 2, w - 4, "Attempts: %zu", d->n_attempts);
	attrset(color_attr(c, TC_NORMAL));
	for (size_t i = 0; i < d->n_attempts && y < bottom; i++) {
		const struct router_request_attempt *a = &d->attempts[i];
		char st[16] = "", lat[16];

		draw_fmt_us(lat, sizeof lat, a->latency_us);
		if (a->status != 0)
			snprintf(st, sizeof st, " HTTP %d", a->status);
		draw_fmt_usd(cost, sizeof cost, a->cost_usd);
		if (a->in_flight)
			line = xasprintf("%zu. %s (%s)%s in flight for %s", i + 1, a->provider,
			    a->model, a->hedge ? " hedge," : "", lat);
		else if (a->cls == LLM_OK)
			line = xasprintf("%zu. %s (%s)%s ok%s in %s, %s", i + 1, a->provider,
			    a->model, a->hedge ? " hedge," : "", st, lat, cost);
		else
			line = xasprintf("%zu. %s (%s)%s %s%s after %s, %s: %s", i + 1, a->provider,
			    a->model, a->hedge ? " hedge," : "", llm_errclass_name(a->cls), st, lat,
			    cost, a->error[0] ? a->error : "-");
		if (!a->in_flight && a->cls != LLM_OK)
			attrset(color_attr(c, TC_MSG_ERROR));
		y += draw_wrapped(y, top - 1, bottom, 2, w - 4, line);
		attrset(color_attr(c, TC_NORMAL));
		free(line);
	}
}

static void
draw_answer(struct console *c, struct reqview *v, int top, int bottom)
{
	int y = top, w = COLS, n;
	char *line;

	attrset(color_attr(c, TC_TITLE) | A_BOLD);
	line = xasprintf("on %s%s%s: %s", v->prompt_where, v->prompt_pin[0] ? ", pinned to " : "",
	    v->prompt_pin, v->prompt_text);
	y += draw_wrapped(y, top - 1, bottom, 2, w - 4, line);
	free(line);
	attrset(color_attr(c, TC_NORMAL));
	y++;
	/* The summary and attempts at the bottom; the answer's end above them. */
	n = v->summary[0] != '\0' ? 2 + v->n_attempts : 1;
	if (v->answer.len > 0) {
		int need = draw_wrapped(-10000, -10000, -9999, 2, w - 4, v->answer.data);
		int room = bottom - n - y;

		draw_wrapped(y - (need > room ? need - room : 0), y - 1, bottom - n, 2, w - 4,
		    v->answer.data);
	} else if (v->prompt_busy) {
		draw_put(y, 2, w - 4, "waiting for the first token...");
	}
	y = bottom - n;
	if (v->summary[0] == '\0') {
		draw_put(y, 2, w - 4, v->prompt_busy ? "streaming..." : "");
		return;
	}
	attrset(color_attr(c, v->prompt_failed ? TC_MSG_ERROR : TC_PROVIDER_UP) | A_BOLD);
	draw_put(y++, 2, w - 4, v->summary);
	attrset(color_attr(c, TC_NORMAL));
	for (int i = 0; i < v->n_attempts && y < bottom; i++)
		draw_put(y++, 4, w - 6, v->attempts[i]);
}

void
draw_requests(struct console *c)
{
	struct reqview *v = reqview_get(c);
	struct console_target *tg = console_target_at(c, &v->target);
	const char *where = tg != NULL ? tg->label : "?";
	char title[160];
	int top = 2, bottom = LINES - 2;

	for (int r = 1; r < LINES - 1; r++)
		draw_fill(r, 0, COLS);
	if (v->screen == RV_ANSWER)
		snprintf(title, sizeof title, "Test prompt (Esc closes, R requests)");
	else if (v->screen == RV_DETAIL)
		snprintf(title, sizeof title, "Request %llu on %.40s (Esc back)",
		    (unsigned long long)v->detail_id, where);
	else
		snprintf(title, sizeof title, "Requests on %.40s (Enter detail, Esc close)", where);
	draw_box(c, 1, 0, LINES - 2, COLS, title);
	pthread_mutex_lock(&v->mu);
	if (v->screen == RV_ANSWER)
		draw_answer(c, v, top, bottom);
	else if (v->screen == RV_DETAIL)
		draw_detail(c, v, top, bottom);
	else if (!v->have_list)
		draw_putf(top, 2, COLS - 4, "%s", v->why[0] != '\0' ? v->why : "asking...");
	else
		draw_list(c, v, top, bottom);
	if (v->screen == RV_LIST && v->have_list && v->why[0] != '\0') {
		attrset(color_attr(c, TC_MSG_ERROR));
		draw_putf(bottom - 1, 2, COLS - 4, "stale: %s", v->why);
		attrset(color_attr(c, TC_NORMAL));
	}
	pthread_mutex_unlock(&v->mu);
}

/* ---- :prompt through an attached gateway ---- */

/* A done frame's record into the summary and attempt lines (v->mu held). */
static void
prompt_record(struct reqview *v, const char *json, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(json, len);
	const cJSON *a, *it;
	char prov[LIMIT_NAME_SIZE], model[LIMIT_ALIAS_SIZE], cost[24];

	if (!cJSON_IsObject(o)) {
		snprintf(v->summary, sizeof v->summary, "FAILED: the gateway's record is not JSON");
		v->prompt_failed = 1;
		cJSON_Delete(o);
		return;
	}
	jcopy(o, "provider", prov, sizeof prov);
	jcopy(o, "model", model, sizeof model);
	if (cJSON_IsNull(cJSON_GetObjectItem(o, "cost_usd")))
		snprintf(cost, sizeof cost, "unpriced");
	else
		draw_fmt_usd(cost, sizeof cost, jnumber(o, "cost_usd"));
	v->prompt_failed = !jbool(o, "ok");
	if (!v->prompt_failed) {
		snprintf(v->summary, sizeof v->summary,
		    "answered by %s (%s) in %.0f ms, cost %s, cache %s, tokens %.0f in / %.0f out",
		    prov, model, jnumber(o, "latency_ms"), cost,
		    jbool(o, "cached") ? "hit" : "miss",
		    jnumber(cJSON_GetObjectItem(o, "usage"), "input_tokens"),
		    jnumber(cJSON_GetObjectItem(o, "usage"), "output_tokens"));
	} else {
		const cJSON *e = cJSON_GetObjectItem(o, "error");
		char cls[32], msg[256];

		jcopy(e, "class", cls, sizeof cls);
		jcopy(e, "message", msg, sizeof msg);
		snprintf(v->summary, sizeof v->summary, "FAILED in %.0f ms: %s: %s",
		    jnumber(o, "latency_ms"), cls, msg);
	}
	v->n_attempts = 0;
	a = cJSON_GetObjectItem(o, "attempts");
	cJSON_ArrayForEach(it, a)
	{
		char p[LIMIT_NAME_SIZE], m[LIMIT_ALIAS_SIZE], c[32], err[160];

		if (v->n_attempts >= (int)nitems(v->attempts))
			break;
		jcopy(it, "provider", p, sizeof p);
		jcopy(it, "model", m, sizeof m);
		jcopy(it, "error_class", c, sizeof c);
		jcopy(it, "error", err, sizeof err);
		/* A line longer than the row ends in "..." (the detail view has one row each). */
		if (snprintf(v->attempts[v->n_attempts], sizeof v->attempts[0],
		        "attempt %d: %s (%s) %s HTTP %.0f, %.0f ms%s%s%s", v->n_attempts + 1, p, m,
		        c[0] ? c : "ok", jnumber(it, "status"), jnumber(it, "latency_ms"),
		        jbool(it, "hedge") ? ", hedge" : "", err[0] ? ": " : "",
		        err) >= (int)sizeof v->attempts[0])
			memcpy(v->attempts[v->n_attempts] + sizeof v->attempts[0] - 4, "...", 4);
		v->n_attempts++;
	}
	cJSON_Delete(o);
}

/* Split what came into SSE frames (v->mu held). */
static void
prompt_frames(struct reqview *v)
{
	char *end;

	while (v->sse.len > 0 && (end = strstr(v->sse.data, "\n\n")) != NULL) {
		size_t n = (size_t)(end - v->sse.data) + 2;
		char *data = strstr(v->sse.data, "data: ");

		if (data != NULL && data < end) {
			data += 6;
			if (strncmp(v->sse.data, "event: delta", 12) == 0) {
				cJSON *o = cJSON_ParseWithLength(data, (size_t)(end - data));
				const cJSON *t = cJSON_GetObjectItem(o, "text");

				if (cJSON_IsString(t))
					buf_puts(&v->answer, t->valuestring);
				cJSON_Delete(o);
			} else if (strncmp(v->sse.data, "event: done", 11) == 0) {
				prompt_record(v, data, (size_t)(end - data));
			}
		}
		memmove(v->sse.data, v->sse.data + n, v->sse.len - n + 1);
		v->sse.len -= n;
	}
}

static void
prompt_data(void *arg, const char *bytes, size_t len)
{
	struct rv_call *k = arg;
	struct reqview *v = k->v;

	pthread_mutex_lock(&v->mu);
	if (k->gen == v->prompt_gen) {
		buf_append(&v->sse, bytes, len);
		prompt_frames(v);
		v->changed = 1;
	}
	pthread_mutex_unlock(&v->mu);
	console_wake(v->c);
}

static void
prompt_end(void *arg, long status, const char *body, size_t len, const char *why)
{
	struct rv_call *k = arg;
	struct reqview *v = k->v;
	char *msg = NULL;

	(void)body, (void)len; /* the body went to prompt_data */
	pthread_mutex_lock(&v->mu);
	if (status >= 400 && v->sse.len > 0) /* an error's JSON: no frame took it */
		msg = source_parse_error(v->sse.data, v->sse.len);
	if (k->gen == v->prompt_gen) {
		v->prompt_busy = 0;
		if (v->summary[0] == '\0') {
			v->prompt_failed = 1;
			snprintf(v->summary, sizeof v->summary, "FAILED: %s",
			    msg != NULL      ? msg
			        : why[0]     ? why
			        : status > 0 ? "the stream ended without a record"
			                     : "no answer");
		}
		v->changed = 1;
	}
	pthread_mutex_unlock(&v->mu);
	free(msg);
	free(k);
	console_wake(v->c);
}

static void
json_string(struct buf *b, const char *s)
{
	cJSON *x = cJSON_CreateString(s);
	char *j = cJSON_PrintUnformatted(x);

	buf_puts(b, j);
	free(j);
	cJSON_Delete(x);
}

int
reqview_prompt(struct console *c, int argc, char **argv, char **cause)
{
	struct reqview *v = reqview_get(c);
	struct console_target *tg = console_selected_target(c);
	struct source_call cb;
	struct rv_call *k;
	struct buf text, body;
	const char *pin = NULL;
	int i = 1;

	if (tg == NULL && c->n_targets > 0)
		tg = &c->targets[0];
	if (tg == NULL || tg->src->ops->call == NULL) {
		*cause = xasprintf("prompt: no attached instance to send it to");
		return -1;
	}
	if (i < argc && strcmp(argv[i], "--provider") == 0) {
		if (i + 1 >= argc) {
			*cause = xasprintf("prompt: --provider needs a provider's name");
			return -1;
		}
		pin = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		*cause =
		    xasprintf("usage: :prompt [--provider NAME] TEXT (sent through %s)", tg->label);
		return -1;
	}
	buf_init(&text);
	for (; i < argc; i++)
		buf_printf(&text, "%s%s", text.len > 0 ? " " : "", argv[i]);
	buf_init(&body);
	buf_puts(&body, "{\"prompt\":");
	json_string(&body, text.data);
	if (pin != NULL) {
		buf_puts(&body, ",\"provider\":");
		json_string(&body, pin);
	}
	buf_puts(&body, "}");
	snprintf(v->prompt_text, sizeof v->prompt_text, "%s", text.data);
	snprintf(v->prompt_pin, sizeof v->prompt_pin, "%s", pin != NULL ? pin : "");
	snprintf(v->prompt_where, sizeof v->prompt_where, "%s", tg->label);
	buf_free(&text);
	k = xcalloc(1, sizeof *k);
	k->v = v;
	k->kind = RVK_PROMPT;
	pthread_mutex_lock(&v->mu);
	k->gen = ++v->prompt_gen;
	v->prompt_busy = 1;
	v->have_list = 0;
	v->summary[0] = '\0';
	v->prompt_failed = 0;
	v->n_attempts = 0;
	buf_reset(&v->sse);
	buf_reset(&v->answer);
	pthread_mutex_unlock(&v->mu);
	memset(&cb, 0, sizeof cb);
	cb.data = prompt_data;
	cb.done = prompt_end;
	cb.arg = k;
	tg->src->ops->call(tg->src, "POST", "/admin/v1/prompt", body.data, RV_PROMPT_TIMEOUT_MS,
	    &cb);
	buf_free(&body);
	v->screen = RV_ANSWER;
	c->mode = MODE_REQUESTS;
	c->dirty = 1;
	console_message(c, 0, "test prompt sent through %s", tg->label);
	return 0;
}
