/*
 * console_draw.c: the console's one screen, drawn from the last router
 * snapshot and store figures: header, providers table, latency histogram and
 * sparkline, budget and cache panels, event log, key hints, the message or
 * command line, and the help overlay built from the command table.
 */
#include "console.h"

#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "util.h"

/* Display width of a UTF-8 string. */
int
draw_text_width(const char *s)
{
	mbstate_t ps;
	wchar_t wc;
	size_t n;
	int w = 0, cw;

	memset(&ps, 0, sizeof ps);
	while (*s != '\0') {
		n = mbrtowc(&wc, s, MB_CUR_MAX, &ps);
		if (n == (size_t)-1 || n == (size_t)-2) {
			memset(&ps, 0, sizeof ps);
			n = 1;
			wc = '?';
		}
		cw = wcwidth(wc);
		w += cw > 0 ? cw : 0;
		s += n;
	}
	return w;
}

/* Put s at (y, x), clipped to w columns. */
void
draw_put(int y, int x, int w, const char *s)
{
	mbstate_t ps;
	wchar_t wc;
	size_t n, bytes = 0;
	int used = 0, cw;

	if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
		return;
	memset(&ps, 0, sizeof ps);
	while (s[bytes] != '\0') {
		n = mbrtowc(&wc, s + bytes, MB_CUR_MAX, &ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
			break;
		cw = wcwidth(wc);
		if (cw < 0)
			cw = 0;
		if (used + cw > w)
			break;
		used += cw;
		bytes += n;
	}
	mvaddnstr(y, x, s, (int)bytes);
}

static void
draw_putf(int y, int x, int w, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
draw_putf(int y, int x, int w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	draw_put(y, x, w, buf);
}

static void
fill_line(int y, int x, int w)
{
	for (int i = 0; i < w && x + i < COLS; i++)
		mvaddch(y, x + i, ' ');
}

void
draw_box(struct console *c, int y, int x, int h, int w, const char *title)
{
	if (h < 2 || w < 2)
		return;
	attrset(color_attr(c, TC_BORDER));
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
	if (title != NULL) {
		attrset(color_attr(c, TC_TITLE));
		draw_putf(y, x + 2, w - 4, " %s ", title);
	}
	attrset(color_attr(c, TC_NORMAL));
}

static void
fmt_us(char *out, size_t len, uint64_t us)
{
	if (us == 0)
		snprintf(out, len, "-");
	else if (us < 1000)
		snprintf(out, len, "%lluus", (unsigned long long)us);
	else if (us < 10000000)
		snprintf(out, len, us < 1000000 ? "%.0fms" : "%.2fs",
		    us < 1000000 ? (double)us / 1000.0 : (double)us / 1e6);
	else
		snprintf(out, len, "%.1fs", (double)us / 1e6);
}

static void
fmt_usd(char *out, size_t len, double usd)
{
	if (usd < 10)
		snprintf(out, len, "$%.4f", usd);
	else
		snprintf(out, len, "$%.2f", usd);
}

static double
spent_today(struct console *c)
{
	double s = c->have_budget ? c->budget.spent_usd : 0;

	return c->have_snap && c->snap.cost_usd > s ? c->snap.cost_usd : s;
}

static void
draw_header(struct console *c)
{
	char clock[16], spend[32], buf[512];
	time_t t = time(NULL);
	struct tm tm;
	double hit = 0;
	int x = 0;

	localtime_r(&t, &tm);
	strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	if (c->have_cache && c->cache.hits + c->cache.misses > 0)
		hit = (double)c->cache.hits / (double)(c->cache.hits + c->cache.misses);
	fmt_usd(spend, sizeof spend, spent_today(c));
	attrset(color_attr(c, TC_HEADER));
	fill_line(0, 0, COLS);
	draw_put(0, 1, COLS - 1, "llmdeck");
	x = 9;
	if (c->demo_on) {
		attrset(color_attr(c, TC_DEMO));
		draw_put(0, x, COLS - x, " DEMO ");
		x += 7;
		attrset(color_attr(c, TC_HEADER));
	}
	snprintf(buf, sizeof buf,
	    "%s%s  %s  req/s %.1f  errors %.1f%%  cache hit %.0f%%  "
	    "spend today %s  in flight %llu",
	    c->paused ? "PAUSED" : "live", c->readonly ? " read-only" : "", clock, c->req_per_s,
	    c->err_rate * 100.0, hit * 100.0, spend,
	    c->have_snap ? (unsigned long long)c->snap.in_flight : 0ULL);
	draw_put(0, x, COLS - x - 1, buf);
	attrset(color_attr(c, TC_NORMAL));
}

/* A provider's state in words and its colour: breaker detail and cooldown left. */
static enum theme_color
provider_state(const struct provider_snapshot *p, char *out, size_t len)
{
	switch (p->admin) {
	case ADMIN_DISABLED: snprintf(out, len, "disabled"); return TC_DISABLED;
	case ADMIN_DRAINED: snprintf(out, len, "drained"); return TC_DRAINED;
	case ADMIN_MISCONFIGURED:
		snprintf(out, len, "misconfigured (auth)");
		return TC_PROVIDER_DOWN;
	case ADMIN_ENABLED: break;
	}
	switch (p->breaker) {
	case BREAKER_OPEN:
		snprintf(out, len, "OPEN %llus (%d fails)",
		    (unsigned long long)(p->cooldown_left_ms + 999) / 1000,
		    p->consecutive_failures);
		return TC_BREAKER_OPEN;
	case BREAKER_HALF_OPEN:
		snprintf(out, len, "half-open probing");
		return TC_PROVIDER_HALF_OPEN;
	case BREAKER_CLOSED: break;
	}
	if (p->cooldown_left_ms > 0) {
		snprintf(out, len, "backoff %llus",
		    (unsigned long long)(p->cooldown_left_ms + 999) / 1000);
		return TC_PROVIDER_HALF_OPEN;
	}
	if (p->consecutive_failures > 0) {
		snprintf(out, len, "up (%d fails)", p->consecutive_failures);
		return TC_PROVIDER_HALF_OPEN;
	}
	snprintf(out, len, p->usable ? "up" : "up (rate-limited)");
	return p->usable ? TC_PROVIDER_UP : TC_PROVIDER_HALF_OPEN;
}

enum col_id {
	COL_NAME,
	COL_KIND,
	COL_STATE,
	COL_PRIO,
	COL_WEIGHT,
	COL_SHARE,
	COL_RL,
	COL_P50,
	COL_P95,
	COL_P99,
	COL_ERR,
	COL_COST,
	COL_REQS,
	COL_FLIGHT,
	COL__COUNT
};

static const struct {
	const char *title;
	int width;
	int keep; /* higher survives narrower terminals */
} cols[COL__COUNT] = {
    [COL_NAME] = {"PROVIDER", 12, 9},
    [COL_KIND] = {"KIND", 9, 2},
    [COL_STATE] = {"STATE", 21, 9},
    [COL_PRIO] = {"PRIO", 5, 8},
    [COL_WEIGHT] = {"WEIGHT", 7, 8},
    [COL_SHARE] = {"SHARE", 6, 7},
    [COL_RL] = {"RATE", 6, 3},
    [COL_P50] = {"P50", 7, 6},
    [COL_P95] = {"P95", 7, 5},
    [COL_P99] = {"P99", 7, 6},
    [COL_ERR] = {"ERR%", 6, 7},
    [COL_COST] = {"COST", 9, 6},
    [COL_REQS] = {"REQS", 7, 4},
    [COL_FLIGHT] = {"FLY", 4, 1},
};

/* One cell of the providers table: its text in cell and the attribute to draw it with. */
static int
provider_cell(struct console *c, const struct provider_snapshot *p, int col, int sel, int base,
    char *cell, size_t len)
{
	const struct provider_conf *pc = config_provider(&c->cfg, p->name);
	char state[64];
	int over = 0;

	cell[0] = '\0';
	switch (col) {
	case COL_NAME: snprintf(cell, len, "%s%s", sel ? ">" : " ", p->name); break;
	case COL_KIND: snprintf(cell, len, "%s", p->kind); break;
	case COL_STATE:
		base = color_attr(c, provider_state(p, state, sizeof state)) | (sel ? A_BOLD : 0);
		snprintf(cell, len, "%s", state);
		break;
	case COL_PRIO:
		over = pc != NULL && pc->priority != p->priority;
		snprintf(cell, len, "%d%s", p->priority, over ? "*" : " ");
		break;
	case COL_WEIGHT:
		over = pc != NULL && fabs(pc->weight - p->weight) > 1e-9;
		snprintf(cell, len, "%.2f%s", p->weight, over ? "*" : " ");
		break;
	case COL_SHARE: snprintf(cell, len, "%.0f%%", p->share * 100); break;
	case COL_RL:
		if (p->rate_limit_rpm > 0)
			snprintf(cell, len, "%.0f%%", p->rpm_usage * 100);
		else
			snprintf(cell, len, "-");
		break;
	case COL_P50:
	case COL_P95:
	case COL_P99:
		fmt_us(cell, len,
		    hist_quantile(&p->latency,
		        col == COL_P50       ? 0.5
		            : col == COL_P95 ? 0.95
		                             : 0.99));
		break;
	case COL_ERR:
		snprintf(cell, len, "%.1f",
		    p->requests > 0 ? 100.0 * (double)p->errors / (double)p->requests : 0.0);
		break;
	case COL_COST: fmt_usd(cell, len, p->cost_usd); break;
	case COL_REQS: snprintf(cell, len, "%llu", (unsigned long long)p->requests); break;
	case COL_FLIGHT: snprintf(cell, len, "%llu", (unsigned long long)p->in_flight); break;
	}
	return over ? color_attr(c, TC_OVERRIDDEN) : base;
}

/* Which columns fit in the terminal's width: the least needed go first. */
static void
provider_columns(int shown[COL__COUNT])
{
	int total = 2;

	for (int i = 0; i < COL__COUNT; i++) {
		shown[i] = 1;
		total += cols[i].width + 1;
	}
	for (int keep = 1; total > COLS - 2 && keep < 10; keep++)
		for (int i = 0; i < COL__COUNT; i++)
			if (shown[i] && cols[i].keep == keep && total > COLS - 2) {
				shown[i] = 0;
				total -= cols[i].width + 1;
			}
}

/* A row of the table: names and states left-aligned, numbers right-aligned. */
static void
provider_put(int row, int *x, int col, const char *text)
{
	int w = cols[col].width;

	if (col <= COL_STATE)
		draw_putf(row, *x, w, "%s", text);
	else
		draw_putf(row, *x, w, "%*s", w, text);
	*x += w + 1;
}

static void
draw_providers(struct console *c, int y, int h)
{
	const struct router_snapshot *s = &c->snap;
	int shown[COL__COUNT], x;
	char cell[160];

	draw_box(c, y, 0, h, COLS, "Providers  (* overridden)");
	provider_columns(shown);
	attrset(color_attr(c, TC_DIM) | A_BOLD);
	x = 2;
	for (int i = 0; i < COL__COUNT; i++)
		if (shown[i])
			provider_put(y + 1, &x, i, cols[i].title);
	c->table_y = y + 2;
	for (size_t r = 0; r < s->n_providers && (int)r < h - 3; r++) {
		const struct provider_snapshot *p = &s->providers[r];
		int row = y + 2 + (int)r, sel = r == c->selected;
		int base = sel ? color_attr(c, TC_SELECTED) : color_attr(c, TC_NORMAL);

		attrset(base);
		fill_line(row, 1, COLS - 2);
		x = 2;
		for (int i = 0; i < COL__COUNT; i++) {
			if (!shown[i])
				continue;
			attrset(provider_cell(c, p, i, sel, base, cell, sizeof cell));
			provider_put(row, &x, i, cell);
		}
	}
	attrset(color_attr(c, TC_NORMAL));
}

static const char *const eighths[9] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char *const ascii_levels = " .:-=+*#@";

static void
draw_level(struct console *c, int y, int x, int level)
{
	if (level < 0)
		level = 0;
	if (level > 8)
		level = 8;
	if (c->utf8)
		mvaddstr(y, x, eighths[level]);
	else
		mvaddch(y, x, (chtype)(unsigned char)ascii_levels[level]);
}

/* The histogram's buckets folded onto ncol columns of a log scale from lo over span;
 * returns the largest column. */
static uint64_t
latency_columns(const struct histogram *hg, double lo, double span, int ncol, uint64_t *colv)
{
	uint64_t maxv = 0;

	memset(colv, 0, (size_t)ncol * sizeof *colv);
	for (int k = 0; k < HIST_BUCKETS; k++) {
		uint64_t blo, bhi;
		int col;

		if (hg->counts[k] == 0)
			continue;
		hist_bucket_range(k, &blo, &bhi);
		col = (int)(log(((double)blo + (double)bhi) / 2 / lo) / span * ncol);
		col = col < 0 ? 0 : col >= ncol ? ncol - 1 : col;
		colv[col] += hg->counts[k];
		if (colv[col] > maxv)
			maxv = colv[col];
	}
	return maxv;
}

/* Bars of bh rows at (y, lx), in eighths of a cell. */
static void
latency_bars(struct console *c, int y, int lx, int bh, const uint64_t *colv, int ncol,
    uint64_t maxv)
{
	attrset(color_attr(c, TC_HIST_BAR));
	for (int col = 0; col < ncol && maxv > 0; col++) {
		int eighth = (int)((double)colv[col] * bh * 8 / (double)maxv + 0.5);

		if (colv[col] > 0 && eighth == 0)
			eighth = 1;
		for (int r = 0; r < bh; r++) {
			int lvl = eighth - (bh - 1 - r) * 8;

			if (lvl > 0)
				draw_level(c, y + 1 + r, lx + col, lvl);
		}
	}
}

/* Quantile markers under the bars and their values below. */
static void
latency_quantiles(struct console *c, const struct histogram *hg, int y, int lx, int iw, int bh,
    double lo, double span, int ncol)
{
	static const double qs[3] = {0.5, 0.95, 0.99};
	char a[32], b[32], d[32];

	attrset(color_attr(c, TC_QUANTILE));
	if (hg->total == 0)
		return;
	for (int i = 0; i < 3; i++) {
		double v = (double)hist_quantile(hg, qs[i]);
		int col = (int)(log(v / lo) / span * ncol);

		col = col < 0 ? 0 : col >= ncol ? ncol - 1 : col;
		mvaddstr(y + 1 + bh, lx + col, c->utf8 ? "▲" : "^");
	}
	fmt_us(a, sizeof a, hist_quantile(hg, 0.5));
	fmt_us(b, sizeof b, hist_quantile(hg, 0.95));
	fmt_us(d, sizeof d, hist_quantile(hg, 0.99));
	draw_putf(y + 3 + bh, lx, iw, "%s p50 %s  p95 %s  p99 %s  mean %.0fms  n=%llu",
	    c->utf8 ? "▲" : "^", a, b, d, hist_mean(hg) / 1000.0, (unsigned long long)hg->total);
}

/* A sparkline of the last latencies on row y. */
static void
latency_recent(struct console *c, const struct provider_snapshot *p, int y, int lx, int iw)
{
	uint32_t mx = 1, mn = UINT32_MAX;
	int sx = lx + 7, n = (int)p->n_recent;

	attrset(color_attr(c, TC_NORMAL));
	draw_put(y, lx, iw, "recent");
	if (p->n_recent == 0)
		return;
	if (n > iw - 24)
		n = iw - 24;
	for (int i = (int)p->n_recent - n; i < (int)p->n_recent; i++) {
		mx = p->recent_ms[i] > mx ? p->recent_ms[i] : mx;
		mn = p->recent_ms[i] < mn ? p->recent_ms[i] : mn;
	}
	attrset(color_attr(c, TC_SPARK));
	for (int i = 0; i < n; i++) {
		uint32_t v = p->recent_ms[(int)p->n_recent - n + i];

		draw_level(c, y, sx + i, 1 + (int)((double)v * 7 / mx + 0.5));
	}
	attrset(color_attr(c, TC_DIM));
	draw_putf(y, sx + n + 1, iw - n - 8, "%u..%ums", mn, mx);
}

static void
draw_latency(struct console *c, int y, int x, int h, int w)
{
	const struct provider_snapshot *p = console_selected(c);
	const struct histogram *hg;
	char title[128], a[32];
	int iw = w - 4, bh = h - 6, ncol, lx = x + 2;
	double lo, hi, span;
	uint64_t colv[512], maxv;

	snprintf(title, sizeof title, "Latency: %s", p != NULL ? p->name : "-");
	draw_box(c, y, x, h, w, title);
	if (p == NULL || iw < 20 || bh < 1)
		return;
	hg = &p->latency;
	if (hg->total == 0) {
		attrset(color_attr(c, TC_DIM));
		draw_put(y + 1 + bh / 2, lx, iw, "no successful requests yet");
		attrset(color_attr(c, TC_NORMAL));
	}
	ncol = iw < 512 ? iw : 512;
	/* Log scale over whole decades around the data, at least 1 ms to 10 s. */
	lo = 1000;
	hi = 1e7;
	if (hg->total > 0) {
		while (lo > 1 && (double)hg->min_us < lo)
			lo /= 10;
		while ((double)hg->max_us >= hi)
			hi *= 10;
	}
	span = log(hi / lo);
	maxv = latency_columns(hg, lo, span, ncol, colv);
	latency_bars(c, y, lx, bh, colv, ncol, maxv);
	latency_quantiles(c, hg, y, lx, iw, bh, lo, span, ncol);
	/* Decade labels. */
	attrset(color_attr(c, TC_DIM));
	for (double v = lo; v <= hi * 1.001; v *= 10) {
		int col = (int)(log(v / lo) / span * ncol + 0.5);

		fmt_us(a, sizeof a, (uint64_t)v);
		if (col + (int)strlen(a) > ncol)
			col = ncol - (int)strlen(a);
		draw_put(y + 2 + bh, lx + col, iw - col, a);
	}
	latency_recent(c, p, y + 4 + bh, lx, iw);
	attrset(color_attr(c, TC_NORMAL));
}

static void
draw_budget(struct console *c, int y, int x, int h, int w)
{
	const struct budget_conf *bc = &c->cfg.budget;
	double spent = spent_today(c), frac, burn, proj, left_h;
	char s1[32], s2[32], s3[32];
	int iw = w - 4, bw, fill, row = y + 1;
	enum theme_color tc;
	time_t t = time(NULL);
	struct tm tm;

	draw_box(c, y, x, h, w, "Budget today");
	if (h < 3)
		return;
	if (c->store == NULL) {
		attrset(color_attr(c, TC_DIM));
		draw_putf(row++, x + 2, iw, "no database: %s",
		    c->store_error != NULL ? c->store_error : "");
		attrset(color_attr(c, TC_NORMAL));
		if (bc->daily_usd <= 0)
			return;
	}
	fmt_usd(s1, sizeof s1, spent);
	if (bc->daily_usd <= 0) {
		draw_putf(row, x + 2, iw, "spent %s; no daily budget set", s1);
		return;
	}
	fmt_usd(s2, sizeof s2, bc->daily_usd);
	frac = spent / bc->daily_usd;
	tc = frac >= 1                    ? TC_BUDGET_OVER
	    : frac >= bc->alert_threshold ? TC_BUDGET_WARN
	                                  : TC_BUDGET_OK;
	draw_putf(row++, x + 2, iw, "spent %s of %s (%.1f%%)", s1, s2, frac * 100);
	bw = iw - 2;
	if (row < y + h - 1 && bw > 4) {
		fill = (int)(frac * bw + 0.5);
		fill = fill > bw ? bw : fill;
		mvaddstr(row, x + 2, "[");
		attrset(color_attr(c, tc));
		for (int i = 0; i < bw; i++) {
			int mark = i == (int)(bc->alert_threshold * bw);
			if (i < fill)
				mvaddstr(row, x + 3 + i, c->utf8 ? "█" : "#");
			else if (mark) {
				attrset(color_attr(c, TC_BUDGET_WARN));
				mvaddstr(row, x + 3 + i, "|");
				attrset(color_attr(c, tc));
			} else
				mvaddstr(row, x + 3 + i, c->utf8 ? "░" : ".");
		}
		attrset(color_attr(c, TC_NORMAL));
		mvaddstr(row++, x + 3 + bw, "]");
	}
	localtime_r(&t, &tm);
	left_h = 24.0 - tm.tm_hour - tm.tm_min / 60.0;
	burn = c->have_budget && c->budget.burn_60m_per_hour > 0 ? c->budget.burn_60m_per_hour
	                                                         : c->burn_per_hour;
	proj = c->have_budget && c->budget.projected_usd > spent ? c->budget.projected_usd
	                                                         : spent + burn * left_h;
	fmt_usd(s1, sizeof s1, burn);
	fmt_usd(s3, sizeof s3, proj);
	if (row < y + h - 1) {
		draw_putf(row, x + 2, iw, "burn %s/h  projected %s by day end", s1, s3);
		if (proj > bc->daily_usd) {
			attrset(color_attr(c, TC_BUDGET_WARN));
			draw_put(row, x + 2 + draw_text_width(s1) + draw_text_width(s3) + 32,
			    iw - 40, "over!");
			attrset(color_attr(c, TC_NORMAL));
		}
		row++;
	}
	if (row < y + h - 1)
		draw_putf(row++, x + 2, iw, "alert at %.0f%%%s  hard stop %s",
		    bc->alert_threshold * 100,
		    c->have_budget && c->budget.alert_crossed ? " (crossed)" : "",
		    bc->hard_stop ? "on" : "off");
	if (row < y + h - 1) {
		int pressure = c->have_budget
		    ? c->budget.under_pressure
		    : bc->daily_usd - spent < bc->pressure * bc->daily_usd;
		if (pressure && bc->n_ladder > 0) {
			attrset(color_attr(c, TC_BUDGET_WARN));
			draw_putf(row++, x + 2, iw, "downgrade in force: %s -> %s%s",
			    bc->ladder[0].from, bc->ladder[0].to, bc->n_ladder > 1 ? " ..." : "");
			attrset(color_attr(c, TC_NORMAL));
		} else
			draw_putf(row++, x + 2, iw, "downgrade: none (starts below %.0f%% left)",
			    bc->pressure * 100);
	}
}

static void
draw_cache(struct console *c, int y, int x, int h, int w)
{
	int iw = w - 4, row = y + 1;
	double rate = 0;

	draw_box(c, y, x, h, w, "Cache");
	if (h < 3)
		return;
	if (!c->have_cache) {
		attrset(color_attr(c, TC_DIM));
		draw_put(row, x + 2, iw, c->store == NULL ? "no database" : "no figures yet");
		attrset(color_attr(c, TC_NORMAL));
		return;
	}
	if (c->cache.hits + c->cache.misses > 0)
		rate = (double)c->cache.hits / (double)(c->cache.hits + c->cache.misses);
	draw_putf(row++, x + 2, iw, "entries %lld  TTL %ds  %s", (long long)c->cache.entries,
	    c->cfg.cache.ttl_seconds, c->cfg.cache.enabled ? "enabled" : "DISABLED");
	if (row < y + h - 1)
		draw_putf(row++, x + 2, iw, "hits %lld  misses %lld  hit rate %.1f%%",
		    (long long)c->cache.hits, (long long)c->cache.misses, rate * 100);
	if (row < y + h - 1)
		draw_putf(row++, x + 2, iw, "cached when temperature <= %.2f",
		    c->cfg.cache.max_temperature);
}

static enum theme_color
event_color(enum event_kind k)
{
	switch (k) {
	case EV_OPERATOR: return TC_EVENT_OPERATOR;
	case EV_FAILOVER:
	case EV_BREAKER:
	case EV_BUDGET:
	case EV_PROVIDER: return TC_EVENT_WARN;
	case EV_ERROR: return TC_EVENT_ERROR;
	default: return TC_EVENT_INFO;
	}
}

static void
draw_events(struct console *c, int y, int h)
{
	int rows = h - 2, iw = COLS - 4;
	size_t end, start;
	char title[64];

	if (c->event_scroll > 0)
		snprintf(title, sizeof title, "Events (%d back; ] forward)", c->event_scroll);
	else
		snprintf(title, sizeof title, "Events");
	draw_box(c, y, 0, h, COLS, title);
	if (rows <= 0)
		return;
	end = c->n_events > (size_t)c->event_scroll ? c->n_events - (size_t)c->event_scroll : 0;
	start = end > (size_t)rows ? end - (size_t)rows : 0;
	for (size_t i = start; i < end; i++) {
		const struct event *ev = &c->events[i];
		time_t t = (time_t)(ev->time_ms / 1000);
		struct tm tm;
		char ts[16];
		localtime_r(&t, &tm);
		strftime(ts, sizeof ts, "%H:%M:%S", &tm);
		attrset(color_attr(c, event_color(ev->kind)));
		draw_putf(y + 1 + (int)(i - start), 2, iw, "%s %-8s %-10s %s", ts,
		    event_kind_name(ev->kind), ev->provider, ev->message);
	}
	attrset(color_attr(c, TC_NORMAL));
}

/* The hint line: keys and names, straight from the command table. */
static void
draw_hints(struct console *c, int y)
{
	static const char *const shown[] = {"help", "command", "failover", "enable", "disable",
	    "reset", "weight", "raise", "lower", "prompt", "drill", "flush", "theme", "pause",
	    "quit"};
	int x = 0;
	char kb[8];

	attrset(color_attr(c, TC_HINT));
	fill_line(y, 0, COLS);
	for (size_t i = 0; i < nitems(shown); i++) {
		const struct console_cmd *cmd = cmd_find(shown[i]);
		const char *k = cmd_key_name(cmd->key, kb, sizeof kb);
		int need = (int)strlen(k) + (int)strlen(cmd->name) + 3;
		if (x + need > COLS)
			break;
		attrset(color_attr(c, TC_KEY));
		draw_putf(y, x, COLS - x, "%s", k);
		attrset(color_attr(c, TC_HINT));
		draw_putf(y, x + (int)strlen(k), COLS - x, " %s ", cmd->name);
		x += need;
	}
	attrset(color_attr(c, TC_NORMAL));
}

static void
draw_bottom(struct console *c, int y)
{
	attrset(color_attr(c, TC_NORMAL));
	fill_line(y, 0, COLS);
	if (c->mode == MODE_CMDLINE) {
		attrset(color_attr(c, TC_CMDLINE));
		draw_putf(y, 0, COLS, ":%s", c->cmdline);
		if (c->message[0] != '\0' && draw_text_width(c->cmdline) + 4 < COLS / 2) {
			attrset(color_attr(c, c->message_error ? TC_MSG_ERROR : TC_DIM));
			draw_put(y, COLS / 2, COLS / 2, c->message);
		}
		attrset(color_attr(c, TC_NORMAL));
		move(y, 1 + draw_text_width(c->cmdline));
		return;
	}
	if (c->message[0] != '\0') {
		attrset(color_attr(c,
		    c->mode == MODE_CONFIRM ? TC_CMDLINE
		        : c->message_error  ? TC_MSG_ERROR
		                            : TC_MSG_OK));
		draw_put(y, 0, COLS, c->message);
	}
	attrset(color_attr(c, TC_NORMAL));
}

/* ":name args" of a command, as the help and the usage errors show it. */
static void
cmd_usage(const struct console_cmd *cmd, char *out, size_t len)
{
	snprintf(out, len, ":%s%s%s", cmd->name, cmd->args[0] ? " " : "", cmd->args);
}

/*
 * Word-wrap text into lines of at most width columns, drawing those that fall
 * inside the window; returns how many lines it took.
 */
static int
draw_wrapped(int first_row, int top, int bottom, int x, int width, const char *text)
{
	const char *p = text;
	int n = 0;

	while (*p != '\0') {
		int len = (int)strlen(p), cut = len;
		if (len > width) {
			cut = width;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = width;
		}
		if (first_row + n > top && first_row + n < bottom)
			draw_putf(first_row + n, x, width, "%.*s", cut, p);
		n++;
		p += cut;
		while (*p == ' ')
			p++;
	}
	return n;
}

/* The help overlay: every entry of the command table. */
static void
draw_help(struct console *c)
{
	int w = COLS - 4 > 136 ? 136 : COLS - 4, h = LINES - 4, x = (COLS - w) / 2, y = 2;
	int rows = h - 2, total = (int)console_ncmds + 6, line = 0, uw = 0, hx;
	char k1[8], k2[8], keys[32], usage[64];
	char *tail;

	if (c->help_scroll > total - rows)
		c->help_scroll = total - rows > 0 ? total - rows : 0;
	attrset(color_attr(c, TC_NORMAL));
	for (int r = y; r < y + h; r++)
		fill_line(r, x, w);
	draw_box(c, y, x, h, w, "Keys and commands (Up/Down scroll, any other key closes)");
	/* The usage column is as wide as the longest usage, so none is cut. */
	for (size_t i = 0; i < console_ncmds; i++) {
		cmd_usage(&console_cmds[i], usage, sizeof usage);
		if ((int)strlen(usage) > uw)
			uw = (int)strlen(usage);
	}
	if (uw > w / 3)
		uw = w / 3;
	hx = x + 13 + uw + 2;
	for (size_t i = 0; i < console_ncmds; i++, line++) {
		const struct console_cmd *cmd = &console_cmds[i];
		int row = y + 1 + line - c->help_scroll;
		if (row <= y || row >= y + h - 1)
			continue;
		snprintf(keys, sizeof keys, "%s%s%s", cmd_key_name(cmd->key, k1, sizeof k1),
		    cmd->key2 != 0 ? " " : "", cmd_key_name(cmd->key2, k2, sizeof k2));
		cmd_usage(cmd, usage, sizeof usage);
		attrset(color_attr(c, TC_KEY));
		draw_putf(row, x + 2, 10, "%-10s", keys);
		attrset(color_attr(c, TC_CMDLINE));
		draw_putf(row, x + 13, uw, "%s", usage);
		attrset(color_attr(c, TC_NORMAL));
		draw_putf(row, hx, x + w - 2 - hx, "%s%s%s%s%s", cmd->help,
		    cmd->alias != NULL ? " (alias :" : "", cmd->alias != NULL ? cmd->alias : "",
		    cmd->alias != NULL ? ")" : "", (cmd->flags & CMD_CONFIRM) ? " [confirms]" : "");
	}
	line++;
	attrset(color_attr(c, TC_DIM));
	tail = xasprintf("%s NAME defaults to the selected provider.%s", prompt_keys_help,
	    c->readonly ? " Read-only: only commands marked safe run." : "");
	draw_wrapped(y + 1 + line - c->help_scroll, y, y + h - 1, x + 2, w - 4, tail);
	free(tail);
	attrset(color_attr(c, TC_NORMAL));
}

static void
draw_too_small(struct console *c)
{
	char need[64], have[64];

	attrset(color_attr(c, TC_NORMAL));
	erase();
	snprintf(need, sizeof need, "(need %dx%d)", CONSOLE_MIN_W, CONSOLE_MIN_H);
	snprintf(have, sizeof have, "now %dx%d", COLS, LINES);
	attrset(color_attr(c, TC_MSG_ERROR));
	draw_put(LINES / 2 - 1, 0, COLS, "terminal too small");
	attrset(color_attr(c, TC_NORMAL));
	draw_put(LINES / 2, 0, COLS, need);
	draw_put(LINES / 2 + 1, 0, COLS, have);
}

void
draw_screen(struct console *c)
{
	int n = c->have_snap ? (int)c->snap.n_providers : 0;
	int ty = 1, th = n + 3, my, mh, eh, lw;

	if (COLS < CONSOLE_MIN_W || LINES < CONSOLE_MIN_H) {
		draw_too_small(c);
		refresh();
		return;
	}
	erase();
	curs_set(c->mode == MODE_CMDLINE || c->mode == MODE_PROMPT ? 1 : 0);
	draw_header(c);
	draw_providers(c, ty, th);
	my = ty + th;
	eh = (LINES - 2 - my) * 35 / 100;
	if (eh < 4)
		eh = 4;
	mh = LINES - 2 - my - eh;
	if (c->mode == MODE_PROMPT) {
		prompt_draw(c, my, 0, LINES - 2 - my, COLS);
	} else {
		lw = COLS * 55 / 100;
		draw_latency(c, my, 0, mh, lw);
		draw_budget(c, my, lw, mh > 14 ? 8 : mh / 2 + 1, COLS - lw);
		draw_cache(c, my + (mh > 14 ? 8 : mh / 2 + 1), lw, mh - (mh > 14 ? 8 : mh / 2 + 1),
		    COLS - lw);
		draw_events(c, my + mh, eh);
	}
	draw_hints(c, LINES - 2);
	if (c->mode == MODE_HELP)
		draw_help(c);
	draw_bottom(c, LINES - 1);
	if (c->mode == MODE_PROMPT && c->message[0] == '\0')
		prompt_draw(c, -1, 0, 0, 0); /* puts the cursor back in the editor */
	refresh();
}
