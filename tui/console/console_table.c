/*
 * console_table.c: the providers table. One row per provider of every target
 * (an INSTANCE column when several are attached); share, error rate and
 * p50/p95/p99 over the sliding window, requests and cost since start, markers
 * for drained, disabled, overridden and drilled providers, and a sparkline of
 * requests per second (errors in their colour) on terminals wide enough. The
 * columns' table holds their help too: the "?" glossary is drawn from it.
 */
#include "console/console.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

enum col_id {
	COL_INST,
	COL_NAME,
	COL_MARK,
	COL_STATE,
	COL_PRIO,
	COL_WEIGHT,
	COL_SHARE,
	COL_ERR,
	COL_P50,
	COL_P95,
	COL_P99,
	COL_RL,
	COL_REQS,
	COL_COST,
	COL_FLIGHT,
	COL_KIND,
	COL_TRAFFIC,
	COL__COUNT
};

static const struct col {
	const char *title;
	int width; /* as wide as the terminal allows */
	int min;   /* squeezed to this before columns are dropped */
	int max;   /* grown to this with room to spare (0: width) */
	int keep;  /* higher survives narrower terminals */
	const char *help;
} cols[COL__COUNT] = {
    [COL_INST] = {"INSTANCE", 8, 4, 14, 10, "the attached process the row belongs to (fleet view)"},
    [COL_NAME] = {"PROVIDER", 11, 9, 16, 10, "the provider's name; > marks the selected row"},
    [COL_MARK] = {"MRK", 3, 3, 0, 10,
        "markers: D drained, X disabled, M misconfigured, K no API key, * an operator "
        "override (state, priority or weight) on every instance on the database, @ one for this "
        "instance only (NAME@INSTANCE), ! a fault drill (this console's on a sim, or one in "
        "the attached gateway)"},
    [COL_STATE] = {"STATE", 13, 9, 30, 9, "operator state, else the circuit breaker (see States)"},
    [COL_PRIO] = {"PRIO", 4, 4, 0, 8,
        "priority: the lowest number among usable providers takes the traffic; * overridden"},
    [COL_WEIGHT] = {"WEIGHT", 6, 6, 0, 7, "share of traffic within its priority; * overridden"},
    [COL_SHARE] = {"SHARE", 5, 5, 0, 8,
        "of all attempts sent in the window, the part sent here (- : no traffic at all)"},
    [COL_ERR] = {"ERR%", 5, 5, 0, 8,
        "failed attempts / attempts sent here, in the window (- : none sent)"},
    [COL_P50] = {"P50", 5, 5, 0, 9, "median latency of the successful attempts in the window"},
    [COL_P95] = {"P95", 5, 5, 0, 9, "95th percentile latency in the window"},
    [COL_P99] = {"P99", 5, 5, 0, 9, "99th percentile latency in the window"},
    [COL_RL] = {"RATE", 5, 5, 0, 4, "use of the requests-per-minute limit now (- : no limit)"},
    [COL_REQS] = {"REQS", 7, 7, 0, 5, "attempts sent since the process started (total)"},
    [COL_COST] = {"COST", 8, 8, 0, 6, "spend on this provider since the process started"},
    [COL_FLIGHT] = {"FLY", 4, 4, 0, 1, "attempts in flight now"},
    [COL_KIND] = {"KIND", 9, 9, 0, 2, "the API it speaks (anthropic, openai, azure, mistral...)"},
    [COL_TRAFFIC] = {"REQ/S", 20, 20, 60, 3,
        "requests per second over the window, oldest left; red cells had errors"},
};

/* Words the STATE column uses, for the glossary. */
static const struct {
	const char *word;
	const char *help;
} states[] = {
    {"up", "closed breaker: takes traffic"},
    {"up (N fails)", "closed, but the last N attempts failed; N in a row opens it"},
    {"drill F Ns",
        "a drill in the attached gateway: fault F on a share of its attempts, N s "
        "left (marked ! too; narrow, \"F Ns\" or \"F Nm\"); every console attached sees it"},
    {"slow N (Ms)",
        "N attempts in flight longer than its usual p99 (at least 250 ms), the "
        "oldest M s: a hang shows here before any attempt fails"},
    {"rate-limited", "at its requests- or tokens-per-minute limit: skipped until it refills"},
    {"backoff Ns", "a retry-after from the provider: skipped for N s"},
    {"OPEN Ns", "breaker open after repeated failures: no traffic; a probe in N s"},
    {"half-open", "a trial request decides whether it closes again"},
    {"drained", "failed over by an operator: no new traffic, in-flight requests finish"},
    {"disabled", "turned off by an operator (or the config)"},
    {"misconfigured", "401/403 seen: out until an operator enables it"},
    {"no key: VAR", "its API key variable is not set: every request would be refused"},
    {"stale", "the attached process does not answer: its last known numbers"},
};

/* The header's figures, for the glossary. */
static const struct {
	const char *word;
	const char *help;
} header_words[] = {
    {"req/s", "requests finished per second over the window (60 s, shown as (60s))"},
    {"answered",
        "what clients got: answered / requests finished (refusals and 503s count as "
        "not answered; callers that left are left out), in the window"},
    {"p50 p99",
        "request latency as clients wait it, in the window: queueing, retries and "
        "failovers included, and requests still waiting counted at their age now; "
        "the worst instance's in a fleet"},
    {"failed", "requests that failed (every provider tried) / requests finished, in the window"},
    {"att", "failed attempts / attempts, in the window: retries and failovers hide these"},
    {"hit", "cache hits / all requests; (N% cacheable): of requests the cache may answer"},
    {"spend", "today's spend from the ledger (per database)"},
    {"DRAINING",
        "the attached process got SIGTERM: it refuses new requests and finishes the "
        "ones in flight"},
    {"fleet line",
        "in a fleet, under the header: each instance's answered and p99; DRIFT: it "
        "runs another config than the others (:instances has the hashes)"},
    {"red banner",
        "no usable provider for model M: every request for M fails (503) until one "
        "is back; it says why each is out (drained, disabled, breaker open, limits)"},
    {"burn 5m / 60m", "budget panel: spend over the last 5 and the last 60 minutes, per hour"},
    {"day end",
        "budget panel: spent + burn x hours left today, at the 5m rate while it is "
        "higher than the 60m one (else the 60m), as labelled"},
    {"fly", "requests in flight now"},
};

/* A provider's state in words and its colour; narrow: the short form. */
static enum theme_color
provider_state(const struct provider_snapshot *p, const struct source_provider_extra *x, int stale,
    int narrow, char *out, size_t len)
{
	if (stale) {
		snprintf(out, len, "stale");
		return TC_DIM;
	}
	switch (p->admin) {
	case ADMIN_DISABLED: snprintf(out, len, "disabled"); return TC_DISABLED;
	case ADMIN_DRAINED: snprintf(out, len, "drained"); return TC_DRAINED;
	case ADMIN_MISCONFIGURED:
		snprintf(out, len, narrow ? "misconfigured" : "misconfigured (auth)");
		return TC_PROVIDER_DOWN;
	case ADMIN_ENABLED: break;
	}
	if (x != NULL && x->no_key[0] != '\0') {
		snprintf(out, len, "no key: %s", x->no_key);
		return TC_PROVIDER_DOWN;
	}
	switch (p->breaker) {
	case BREAKER_OPEN:
		snprintf(out, len, narrow ? "OPEN %llus" : "OPEN %llus (%d fails)",
		    (unsigned long long)(p->cooldown_left_ms + 999) / 1000,
		    p->consecutive_failures);
		return TC_BREAKER_OPEN;
	case BREAKER_HALF_OPEN:
		snprintf(out, len, narrow ? "half-open" : "half-open probing");
		return TC_PROVIDER_HALF_OPEN;
	case BREAKER_CLOSED: break;
	}
	if (p->cooldown_left_ms > 0) {
		snprintf(out, len, "backoff %llus",
		    (unsigned long long)(p->cooldown_left_ms + 999) / 1000);
		return TC_PROVIDER_HALF_OPEN;
	}
	if (p->drill[0] != '\0') {
		/* A drill in the gateway: its fault and the time it has left. Narrow (80x24):
		 * the fault and a shorter time, the ! marker saying it is a drill. */
		unsigned long long left = (unsigned long long)(p->drill_left_ms + 999) / 1000;
		if (!narrow)
			snprintf(out, len, "drill %s %llus (%.0f%%)", p->drill, left,
			    p->drill_rate * 100);
		else if (left < 100)
			snprintf(out, len, "%s %llus", p->drill, left);
		else
			snprintf(out, len, "%s %llum", p->drill, (left + 59) / 60);
		return TC_PROVIDER_HALF_OPEN;
	}
	if (p->in_flight_slow > 0) {
		snprintf(out, len, "slow %u (%.0fs)", p->in_flight_slow,
		    (double)p->in_flight_oldest_us / 1e6);
		if (narrow)
			snprintf(out, len, "slow %u", p->in_flight_slow);
		return TC_PROVIDER_HALF_OPEN;
	}
	if (p->consecutive_failures > 0) {
		snprintf(out, len, narrow ? "up %d fails" : "up (%d fails)",
		    p->consecutive_failures);
		return TC_PROVIDER_HALF_OPEN;
	}
	snprintf(out, len, p->usable ? "up" : "rate-limited");
	return p->usable ? TC_PROVIDER_UP : TC_PROVIDER_HALF_OPEN;
}

/* The markers of a row: drained/disabled/misconfigured/no key, override, drill. */
static void
provider_marks(struct console *c, const struct provider_snapshot *p,
    const struct source_provider_extra *x, char out[4])
{
	out[0] = p->admin == ADMIN_DRAINED      ? 'D'
	    : p->admin == ADMIN_DISABLED        ? 'X'
	    : p->admin == ADMIN_MISCONFIGURED   ? 'M'
	    : x != NULL && x->no_key[0] != '\0' ? 'K'
	                                        : ' ';
	/* @: an override (or drill) for this instance only, not fleet-wide. */
	out[1] = p->priority_scoped || p->weight_scoped || p->admin_scoped ||
	        (p->drill[0] != '\0' && p->drill_scoped)
	    ? '@'
	    : p->priority_overridden || p->weight_overridden || p->admin_overridden ? '*'
	                                                                            : ' ';
	out[2] = console_drill_on(c, p) != NULL || p->drill[0] != '\0' ? '!' : ' ';
	out[3] = '\0';
}

/* The quantile of the window, or "-" when nothing succeeded in it. */
static void
window_quantile(const struct provider_snapshot *p, int col, char *cell, size_t len)
{
	uint64_t us = col == COL_P50 ? p->window.p50_us
	    : col == COL_P95         ? p->window.p95_us
	                             : p->window.p99_us;

	draw_fmt_us(cell, len, us);
}

struct table_ctx {
	struct console *c;
	int shown[COL__COUNT];
	int width[COL__COUNT];
	uint32_t spark_max; /* requests in the busiest sparkline cell of any row */
	int spark_cells;
	uint64_t win_attempts; /* every provider's attempts in the window, per target */
};

/* One cell's text, and the attribute to draw it with. */
static int
provider_cell(struct table_ctx *tc, size_t row, int col, int base, char *cell, size_t len)
{
	struct console *c = tc->c;
	const struct console_row *r = &c->rows[row];
	const struct console_target *t = &c->targets[r->t];
	const struct provider_snapshot *p = &t->frame.snap.providers[r->p];
	const struct source_provider_extra *x = &t->frame.extra[r->p];
	int sel = row == c->selected, stale = !t->link.up;
	char state[96];
	enum theme_color color;

	cell[0] = '\0';
	switch (col) {
	case COL_INST: snprintf(cell, len, "%s", t->label); break;
	case COL_NAME: snprintf(cell, len, "%s%s", sel ? ">" : " ", p->name); break;
	case COL_MARK:
		provider_marks(c, p, x, cell);
		if (cell[0] != ' ' || cell[1] != ' ' || cell[2] != ' ')
			return color_attr(c, cell[2] == '!' ? TC_BREAKER_OPEN : TC_OVERRIDDEN) |
			    (sel ? A_BOLD : 0);
		break;
	case COL_STATE:
		color = provider_state(p, x, stale, tc->width[COL_STATE] < 18, state, sizeof state);
		snprintf(cell, len, "%s", state);
		return color_attr(c, color) | (sel ? A_BOLD : 0);
	case COL_PRIO:
		snprintf(cell, len, "%d%s", p->priority, p->priority_overridden ? "*" : " ");
		return p->priority_overridden ? color_attr(c, TC_OVERRIDDEN) : base;
	case COL_WEIGHT:
		snprintf(cell, len, "%.2f%s", p->weight, p->weight_overridden ? "*" : " ");
		return p->weight_overridden ? color_attr(c, TC_OVERRIDDEN) : base;
	case COL_SHARE:
		if (t->frame.snap.window_s > 0) {
			uint64_t all = 0;
			for (size_t i = 0; i < t->frame.snap.n_providers; i++)
				all += t->frame.snap.providers[i].window.requests;
			if (all > 0)
				snprintf(cell, len, "%.0f%%", p->window.share * 100);
			else
				snprintf(cell, len, "-");
		} else
			snprintf(cell, len, "-");
		break;
	case COL_ERR:
		if (p->window.requests > 0)
			snprintf(cell, len, "%.1f",
			    100.0 * (double)p->window.errors / (double)p->window.requests);
		else
			snprintf(cell, len, "-");
		if (p->window.errors > 0 && !stale)
			return color_attr(c, TC_EVENT_ERROR) | (sel ? A_BOLD : 0);
		break;
	case COL_P50:
	case COL_P95:
	case COL_P99: window_quantile(p, col, cell, len); break;
	case COL_RL:
		if (p->rate_limit_rpm > 0)
			snprintf(cell, len, "%.0f%%", p->rpm_usage * 100);
		else
			snprintf(cell, len, "-");
		break;
	case COL_REQS: snprintf(cell, len, "%llu", (unsigned long long)p->requests); break;
	case COL_COST: draw_fmt_usd(cell, len, p->cost_usd); break;
	case COL_FLIGHT: snprintf(cell, len, "%llu", (unsigned long long)p->in_flight); break;
	case COL_KIND: snprintf(cell, len, "%s", p->kind); break;
	case COL_TRAFFIC: break;
	}
	return stale ? color_attr(c, TC_DIM) : base;
}

/* Drop the columns of this keep, rightmost first, while too wide; returns the width freed. */
static int
table_drop(struct table_ctx *tc, int keep, int total, int avail)
{
	int freed = 0;

	for (int i = COL__COUNT - 1; i >= 0 && total - freed > avail; i--)
		if (tc->shown[i] && cols[i].keep == keep) {
			tc->shown[i] = 0;
			freed += tc->width[i] + 1;
		}
	return freed;
}

/* Which columns fit, and how wide: squeeze, then drop the least needed, then share
 * what is left (state first, then the sparkline, then names). */
static void
table_layout(struct table_ctx *tc)
{
	int avail = COLS - 3, total = 0, longest = 0;
	char state[96];

	/* STATE as wide as its longest text ("no key: OPENAI_API_KEY"), names and
	 * instances as their longest, within their bounds. */
	int name = 0, inst = 0;
	for (size_t r = 0; r < tc->c->n_rows; r++) {
		const struct console_target *t = &tc->c->targets[tc->c->rows[r].t];
		const struct provider_snapshot *p = &t->frame.snap.providers[tc->c->rows[r].p];
		int len;
		provider_state(p, &t->frame.extra[tc->c->rows[r].p], !t->link.up, 0, state,
		    sizeof state);
		len = draw_text_width(state);
		longest = len > longest ? len : longest;
		len = draw_text_width(p->name) + 1;
		name = len > name ? len : name;
		len = draw_text_width(t->label);
		inst = len > inst ? len : inst;
	}
	for (int i = 0; i < COL__COUNT; i++) {
		tc->shown[i] = i != COL_INST || tc->c->n_targets > 1;
		tc->width[i] = cols[i].width;
		if (i == COL_STATE && longest > tc->width[i])
			tc->width[i] = longest < cols[i].max ? longest : cols[i].max;
		if (i == COL_NAME && name > 0)
			tc->width[i] = name < cols[i].min ? cols[i].min
			    : name > cols[i].max          ? cols[i].max
			                                  : name;
		if (i == COL_INST && inst > 0)
			tc->width[i] = inst < cols[i].min ? cols[i].min
			    : inst > cols[i].max          ? cols[i].max
			                                  : inst;
		if (tc->shown[i])
			total += tc->width[i] + 1;
	}
	/* The optional columns go first, then the kept ones squeeze, then they go too. */
	static const int squeeze[] = {COL_STATE, COL_NAME, COL_INST};

	for (int keep = 1; total > avail && keep < 7; keep++)
		total -= table_drop(tc, keep, total, avail);
	for (size_t k = 0; k < nitems(squeeze) && total > avail; k++) {
		int i = squeeze[k];
		if (tc->shown[i] && tc->width[i] > cols[i].min) {
			int cut = tc->width[i] - cols[i].min;
			cut = cut > total - avail ? total - avail : cut;
			tc->width[i] -= cut;
			total -= cut;
		}
	}
	for (int keep = 7; total > avail && keep <= 10; keep++)
		total -= table_drop(tc, keep, total, avail);
	{
		static const int grow[] = {COL_STATE, COL_TRAFFIC};
		for (size_t g = 0; g < nitems(grow); g++) {
			int i = grow[g], room = avail - total, max = cols[i].max;
			if (i == COL_TRAFFIC && max > ROUTER_WINDOW_MAX)
				max = ROUTER_WINDOW_MAX;
			/* STATE no wider than its longest text: the rest is the sparkline's. */
			if (i == COL_STATE && max > longest)
				max = longest;
			if (!tc->shown[i] || room <= 0 || max <= tc->width[i])
				continue;
			room = room < max - tc->width[i] ? room : max - tc->width[i];
			tc->width[i] += room;
			total += room;
		}
	}
}

/* Sparkline cells: the window folded onto ncell cells; cell k sums its seconds. */
static void
spark_cells(const struct window_stats *w, int window_s, int ncell, uint32_t *req, uint32_t *err)
{
	memset(req, 0, sizeof(uint32_t) * (size_t)ncell);
	memset(err, 0, sizeof(uint32_t) * (size_t)ncell);
	if (window_s <= 0)
		return;
	for (int s = 0; s < window_s; s++) {
		int k = (int)((long)s * ncell / window_s);
		req[k] += w->series_requests[s];
		err[k] += w->series_errors[s];
	}
}

void
draw_spark(struct console *c, int y, int x, const struct window_stats *w, int window_s, int ncell,
    uint32_t max, int errors_only)
{
	uint32_t req[ROUTER_WINDOW_MAX], err[ROUTER_WINDOW_MAX];

	if (ncell > ROUTER_WINDOW_MAX)
		ncell = ROUTER_WINDOW_MAX;
	if (ncell > window_s && window_s > 0)
		ncell = window_s;
	if (ncell <= 0)
		return;
	spark_cells(w, window_s, ncell, req, err);
	for (int k = 0; k < ncell; k++) {
		uint32_t v = errors_only ? err[k] : req[k];
		int level = max > 0 && v > 0 ? 1 + (int)((double)v * 7 / max + 0.5) : 0;

		attrset(color_attr(c, err[k] > 0 ? TC_EVENT_ERROR : TC_SPARK));
		if (!c->utf8 && err[k] > 0 && err[k] * 2 >= req[k] && !errors_only)
			mvaddch(y, x + k, '!');
		else
			draw_level(c, y, x + k, level > 8 ? 8 : level);
	}
	attrset(color_attr(c, TC_NORMAL));
}

/* The busiest cell of every row's sparkline at ncell cells. */
uint32_t
draw_spark_max(struct console *c, int ncell, int errors_only)
{
	uint32_t req[ROUTER_WINDOW_MAX], err[ROUTER_WINDOW_MAX], max = 0;

	if (ncell > ROUTER_WINDOW_MAX)
		ncell = ROUTER_WINDOW_MAX;
	for (size_t i = 0; i < c->n_rows; i++) {
		const struct console_target *t = &c->targets[c->rows[i].t];
		int ws = t->frame.snap.window_s, n = ncell > ws ? ws : ncell;

		if (n <= 0)
			continue;
		spark_cells(&t->frame.snap.providers[c->rows[i].p].window, ws, n, req, err);
		for (int k = 0; k < n; k++) {
			uint32_t v = errors_only ? err[k] : req[k];
			max = v > max ? v : max;
		}
	}
	return max;
}

/* A cell of text: names and states left-aligned, numbers right-aligned. */
static void
table_put(struct table_ctx *tc, int row, int *x, int col, const char *text)
{
	int w = tc->width[col];

	if (col <= COL_STATE || col == COL_KIND || col == COL_TRAFFIC)
		draw_putf(row, *x, w, "%s", text);
	else
		draw_putf(row, *x, w, "%*s", w, text);
	*x += w + 1;
}

/* The rows that fit in rows_h lines, the selected one among them. */
static void
table_scroll(struct console *c, int rows_h)
{
	if (rows_h <= 0)
		return;
	if (c->selected < c->table_top)
		c->table_top = c->selected;
	if (c->selected >= c->table_top + (size_t)rows_h)
		c->table_top = c->selected - (size_t)rows_h + 1;
	if (c->table_top + (size_t)rows_h > c->n_rows)
		c->table_top = c->n_rows > (size_t)rows_h ? c->n_rows - (size_t)rows_h : 0;
}

void
draw_providers(struct console *c, int y, int h)
{
	struct table_ctx tc;
	char cell[160], title[160];
	int x, rows_h = h - 3, ws = 0;

	memset(&tc, 0, sizeof tc);
	tc.c = c;
	for (size_t t = 0; t < c->n_targets; t++)
		ws =
		    c->targets[t].frame.snap.window_s > ws ? c->targets[t].frame.snap.window_s : ws;
	table_layout(&tc);
	table_scroll(c, rows_h);
	if (c->n_rows > (size_t)rows_h && rows_h > 0)
		snprintf(title, sizeof title,
		    "Providers %zu-%zu of %zu  (window %ds; REQS COST: totals)", c->table_top + 1,
		    c->table_top + (size_t)rows_h, c->n_rows, ws);
	else
		snprintf(title, sizeof title,
		    "Providers  (SHARE ERR%% P50-P99: last %ds; REQS COST: since start)", ws);
	draw_box(c, y, 0, h, COLS, title);
	if (tc.shown[COL_TRAFFIC])
		tc.spark_max = draw_spark_max(c, tc.width[COL_TRAFFIC], 0);
	attrset(color_attr(c, TC_DIM) | A_BOLD);
	x = 2;
	for (int i = 0; i < COL__COUNT; i++)
		if (tc.shown[i]) {
			if (i == COL_TRAFFIC) {
				/* The busiest cell, per second (a cell may hold several). */
				int cells = tc.width[i] < ws ? tc.width[i] : ws;
				double per = cells > 0 ? (double)ws / cells : 1;
				snprintf(cell, sizeof cell, "REQ/S %ds max %.1f", ws,
				    (double)tc.spark_max / (per > 0 ? per : 1));
			}
			table_put(&tc, y + 1, &x, i,
			    i == COL_TRAFFIC ? cell
			        : i == COL_INST && tc.width[i] < (int)strlen(cols[i].title)
			        ? "INST"
			        : cols[i].title);
		}
	c->table_y = y + 2;
	for (size_t r = c->table_top; r < c->n_rows && (int)(r - c->table_top) < rows_h; r++) {
		int row = y + 2 + (int)(r - c->table_top), sel = r == c->selected;
		int base = sel ? color_attr(c, TC_SELECTED) : color_attr(c, TC_NORMAL);
		const struct console_target *t = &c->targets[c->rows[r].t];

		attrset(base);
		draw_fill(row, 1, COLS - 2);
		x = 2;
		for (int i = 0; i < COL__COUNT; i++) {
			if (!tc.shown[i])
				continue;
			if (i == COL_TRAFFIC) {
				draw_spark(c, row, x, &t->frame.snap.providers[c->rows[r].p].window,
				    t->frame.snap.window_s, tc.width[i], tc.spark_max, 0);
				x += tc.width[i] + 1;
				continue;
			}
			attrset(provider_cell(&tc, r, i, base, cell, sizeof cell));
			table_put(&tc, row, &x, i, cell);
		}
	}
	attrset(color_attr(c, TC_NORMAL));
}

/* The glossary for "?": every column, state and header figure. Returns the lines
 * it took from row on (drawn where they fall between top and bottom). */
int
draw_glossary(struct console *c, int row, int top, int bottom, int x, int w)
{
	int n = 0, tw = 14;
	char term[64];

	(void)c;
	for (int part = 0; part < 3; part++) {
		static const char *const heads[] = {
		    "Columns (the providers table)", "States (the STATE column)", "Header"};
		size_t count = part == 0 ? COL__COUNT
		    : part == 1          ? nitems(states)
		                         : nitems(header_words);

		n++;
		if (row + n > top && row + n < bottom) {
			attrset(color_attr(c, TC_TITLE));
			draw_put(row + n, x, w, heads[part]);
		}
		n++;
		for (size_t i = 0; i < count; i++) {
			const char *word = part == 0 ? cols[i].title
			    : part == 1              ? states[i].word
			                             : header_words[i].word;
			const char *help = part == 0 ? cols[i].help
			    : part == 1              ? states[i].help
			                             : header_words[i].help;
			snprintf(term, sizeof term, "%s", word);
			if (row + n > top && row + n < bottom) {
				attrset(color_attr(c, TC_KEY));
				draw_putf(row + n, x, tw, "%-*s", tw, term);
			}
			attrset(color_attr(c, TC_NORMAL));
			n += draw_wrapped(row + n, top, bottom, x + tw + 1, w - tw - 1, help);
		}
	}
	attrset(color_attr(c, TC_NORMAL));
	return n;
}
