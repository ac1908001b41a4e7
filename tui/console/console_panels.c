/*
 * console_panels.c: the panels under the providers table, for the selected
 * row: its latency over the window (a log-scale histogram with p50/p95/p99
 * marks, totals since start apart), its traffic and errors per second as
 * sparklines, its last health probe; and its process's budget and cache.
 */
#include "console/console.h"

#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

/* A count in at most 4 characters: 999, 1.2k, 12k, 1.2M. */
static void
fmt_count(char *out, size_t len, unsigned long long n)
{
	if (n < 1000)
		snprintf(out, len, "%llu", n);
	else if (n < 10000)
		snprintf(out, len, "%.1fk", (double)n / 1e3);
	else if (n < 1000000)
		snprintf(out, len, "%lluk", n / 1000);
	else
		snprintf(out, len, "%.1fM", (double)n / 1e6);
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
				draw_level(c, y + 1 + r, lx + col, lvl > 8 ? 8 : lvl);
		}
	}
}

/* p50/p95/p99 of the window: marks under the bars (row y) and their values (row vy). */
static void
latency_quantiles(struct console *c, const struct provider_snapshot *p, int y, int vy, int lx,
    int iw, double lo, double span, int ncol)
{
	const uint64_t qv[3] = {p->window.p50_us, p->window.p95_us, p->window.p99_us};
	char a[32], b[32], d[32];

	attrset(color_attr(c, TC_QUANTILE));
	for (int i = 0; i < 3; i++) {
		int col;

		if (qv[i] == 0)
			continue;
		col = (int)(log((double)qv[i] / lo) / span * ncol);
		col = col < 0 ? 0 : col >= ncol ? ncol - 1 : col;
		mvaddstr(y, lx + col, c->utf8 ? "▲" : "^");
	}
	draw_fmt_us(a, sizeof a, qv[0]);
	draw_fmt_us(b, sizeof b, qv[1]);
	draw_fmt_us(d, sizeof d, qv[2]);
	{
		/* Narrow: spaces and words that say nothing go first, then the counts shorten;
		 * no label is cut. */
		unsigned long long okn = p->window.requests - p->window.errors,
		                   errn = p->window.errors;
		char ok[16], er[16], line[160];
		const char *m = c->utf8 ? "▲" : "^";

		snprintf(line, sizeof line,
		    "%s p50 %s  p95 %s  p99 %s  ok %llu err %llu  (last %ds)", m, a, b, d, okn,
		    errn, SOURCE_WINDOW_S);
		if (draw_text_width(line) > iw)
			snprintf(line, sizeof line, "%s p50 %s p95 %s p99 %s ok %llu err %llu", m,
			    a, b, d, okn, errn);
		if (draw_text_width(line) > iw) {
			fmt_count(ok, sizeof ok, okn);
			fmt_count(er, sizeof er, errn);
			snprintf(line, sizeof line, "p50 %s p95 %s p99 %s ok %s err %s", a, b, d,
			    ok, er);
		}
		if (draw_text_width(line) > iw)
			snprintf(line, sizeof line, "p50/95/99 %s/%s/%s ok %s err %s", a, b, d, ok,
			    er);
		draw_put(vy, lx, iw, line);
	}
}

/* Totals since the process started, apart from the window's. */
static void
latency_totals(struct console *c, const struct provider_snapshot *p,
    const struct source_provider_extra *x, int y, int lx, int iw)
{
	char a[32], b[32], d[32];

	draw_fmt_us(a, sizeof a, x->p50_us);
	draw_fmt_us(b, sizeof b, x->p95_us);
	draw_fmt_us(d, sizeof d, x->p99_us);
	attrset(color_attr(c, TC_DIM));
	draw_putf(y, lx, iw, "since start: p50 %s  p95 %s  p99 %s  %llu attempts, %.1f%% failed", a,
	    b, d, (unsigned long long)p->requests,
	    p->requests > 0 ? 100.0 * (double)p->errors / (double)p->requests : 0.0);
	attrset(color_attr(c, TC_NORMAL));
}

/* "req/s" or "errors" and the selected provider's sparkline over the window. */
static void
latency_spark(struct console *c, const struct provider_snapshot *p, int window_s, int errors, int y,
    int lx, int iw)
{
	int n = iw - 18;
	uint32_t max;
	uint64_t total = 0;

	attrset(color_attr(c, TC_NORMAL));
	draw_put(y, lx, 7, errors ? "errors" : "req/s");
	if (n > window_s)
		n = window_s;
	if (n < 4 || window_s <= 0)
		return;
	/* The selected provider's own scale: its shape matters here, not its share. */
	{
		uint32_t req[ROUTER_WINDOW_MAX], err[ROUTER_WINDOW_MAX];
		memset(req, 0, sizeof req);
		memset(err, 0, sizeof err);
		for (int s = 0; s < window_s; s++) {
			int k = (int)((long)s * n / window_s);
			req[k] += p->window.series_requests[s];
			err[k] += p->window.series_errors[s];
			total += errors ? p->window.series_errors[s] : p->window.series_requests[s];
		}
		max = 0;
		for (int k = 0; k < n; k++)
			max = (errors ? err[k] : req[k]) > max ? (errors ? err[k] : req[k]) : max;
	}
	draw_spark(c, y, lx + 7, &p->window, window_s, n, max, errors);
	attrset(color_attr(c, TC_DIM));
	draw_putf(y, lx + 8 + n, iw - n - 8, "%.1f/s", (double)total / window_s);
	attrset(color_attr(c, TC_NORMAL));
}

/* The last health probe: its result, latency and age (or the key that is missing). */
static void
latency_probe(struct console *c, const struct provider_snapshot *p,
    const struct source_provider_extra *x, int y, int lx, int iw)
{
	int64_t age;

	if (x->no_key[0] != '\0') {
		attrset(color_attr(c, TC_PROVIDER_DOWN));
		draw_putf(y, lx, iw, "no key: %s is not set, so every request is refused",
		    x->no_key);
		attrset(color_attr(c, TC_NORMAL));
		return;
	}
	if (p->last_probe_ms == 0) {
		attrset(color_attr(c, TC_DIM));
		draw_put(y, lx, iw, "probe: none yet (P sends one)");
		attrset(color_attr(c, TC_NORMAL));
		return;
	}
	age = (clock_wall_ms() - p->last_probe_ms) / 1000;
	attrset(color_attr(c, p->last_probe_ok ? TC_PROVIDER_UP : TC_PROVIDER_DOWN));
	if (p->last_probe_ok)
		draw_putf(y, lx, iw, "probe: ok in %.0f ms, %llds ago",
		    (double)p->last_probe_latency_us / 1000.0, (long long)(age < 0 ? 0 : age));
	else
		draw_putf(y, lx, iw, "probe: FAILED %llds ago", (long long)(age < 0 ? 0 : age));
	attrset(color_attr(c, TC_NORMAL));
}

void
draw_latency(struct console *c, int y, int x, int h, int w)
{
	const struct provider_snapshot *p = console_selected(c);
	struct console_target *t = console_selected_target(c);
	const struct histogram *hg;
	char title[160], a[32];
	int iw = w - 4, inner = h - 2, lx = x + 2, ncol, opt, bh, row, window_s;
	double lo, hi, span;
	uint64_t colv[512], maxv;

	if (p == NULL) {
		draw_box(c, y, x, h, w, "Latency");
		return;
	}
	snprintf(title, sizeof title, "Latency: %s%s%s (last %ds)", p->name,
	    c->n_targets > 1 ? "@" : "", c->n_targets > 1 ? t->label : "", t->frame.snap.window_s);
	draw_box(c, y, x, h, w, title);
	window_s = t->frame.snap.window_s;
	/* Bars, their marks, the decades and the quantiles; then, as room allows: req/s,
	 * the probe, the totals, errors. */
	opt = inner - 5;
	opt = opt < 0 ? 0 : opt > 4 ? 4 : opt;
	bh = inner - 3 - opt;
	if (iw < 20 || bh < 1)
		return;
	hg = &p->window.latency;
	if (hg->total == 0) {
		attrset(color_attr(c, TC_DIM));
		draw_put(y + 1 + bh / 2, lx, iw,
		    p->requests > 0 ? "no successful attempt in the window"
		                    : "no successful requests yet");
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
	latency_quantiles(c, p, y + 1 + bh, y + 3 + bh, lx, iw, lo, span, ncol);
	attrset(color_attr(c, TC_DIM));
	for (double v = lo, end = -1; v <= hi * 1.001; v *= 10) {
		int col = (int)(log(v / lo) / span * ncol + 0.5);

		draw_fmt_us(a, sizeof a, (uint64_t)v);
		if (col + (int)strlen(a) > ncol)
			col = ncol - (int)strlen(a);
		if (col <= end)
			continue; /* no room for this decade's label */
		draw_put(y + 2 + bh, lx + col, iw - col, a);
		end = col + (int)strlen(a);
	}
	attrset(color_attr(c, TC_NORMAL));
	row = y + 4 + bh;
	if (opt >= 1)
		latency_spark(c, p, window_s, 0, row++, lx, iw);
	if (opt >= 2)
		latency_probe(c, p, &t->frame.extra[c->rows[c->selected].p], row++, lx, iw);
	if (opt >= 3)
		latency_totals(c, p, &t->frame.extra[c->rows[c->selected].p], row++, lx, iw);
	if (opt >= 4)
		latency_spark(c, p, window_s, 1, row++, lx, iw);
	attrset(color_attr(c, TC_NORMAL));
}

/* The budget bar: spent over budget, the alert threshold marked. */
static void
budget_bar(struct console *c, const struct source_budget *b, double frac, enum theme_color tc,
    int row, int x, int bw)
{
	int fill = (int)(frac * bw + 0.5);

	fill = fill > bw ? bw : fill;
	mvaddstr(row, x, "[");
	attrset(color_attr(c, tc));
	for (int i = 0; i < bw; i++) {
		int mark = i == (int)(b->alert_threshold * bw);
		if (i < fill)
			mvaddstr(row, x + 1 + i, c->utf8 ? "█" : "#");
		else if (mark) {
			attrset(color_attr(c, TC_BUDGET_WARN));
			mvaddstr(row, x + 1 + i, "|");
			attrset(color_attr(c, tc));
		} else
			mvaddstr(row, x + 1 + i, c->utf8 ? "░" : ".");
	}
	attrset(color_attr(c, TC_NORMAL));
	mvaddstr(row, x + 1 + bw, "]");
}

void
draw_budget(struct console *c, int y, int x, int h, int w)
{
	struct console_target *t = console_selected_target(c);
	const struct source_budget *b = t != NULL ? &t->frame.budget : NULL;
	char s1[32], s2[32], s3[32], title[96];
	int iw = w - 4, row = y + 1;
	double frac;
	enum theme_color tc;

	snprintf(title, sizeof title, "Budget today%s%s", c->n_targets > 1 ? ": " : "",
	    c->n_targets > 1 && t != NULL ? t->label : "");
	draw_box(c, y, x, h, w, title);
	if (h < 3 || b == NULL)
		return;
	if (!b->present) {
		attrset(color_attr(c, TC_DIM));
		draw_put(row, x + 2, iw,
		    t->have_frame ? "no figures: the process has no database" : "no figures yet");
		attrset(color_attr(c, TC_NORMAL));
		return;
	}
	draw_fmt_usd(s1, sizeof s1, b->spent_usd);
	if (b->daily_usd <= 0) {
		/* Narrow (80x24): on two lines rather than cut. */
		if ((int)strlen(s1) + 28 <= iw)
			draw_putf(row, x + 2, iw, "spent %s; no daily budget set", s1);
		else {
			draw_putf(row++, x + 2, iw, "spent %s", s1);
			if (row < y + h - 1)
				draw_put(row, x + 2, iw, "no daily budget set");
		}
		return;
	}
	draw_fmt_usd(s2, sizeof s2, b->daily_usd);
	frac = b->spent_usd / b->daily_usd;
	tc = frac >= 1                   ? TC_BUDGET_OVER
	    : frac >= b->alert_threshold ? TC_BUDGET_WARN
	                                 : TC_BUDGET_OK;
	draw_putf(row++, x + 2, iw, "spent %s of %s (%.1f%%)", s1, s2, frac * 100);
	if (row < y + h - 1 && iw > 6)
		budget_bar(c, b, frac, tc, row++, x + 2, iw - 2);
	{
		/* Burn over 5 and 60 minutes, each labelled; the day's end projected from the
		 * faster while it is higher (the gateway projects from the 60-minute one). */
		double b5 = b->burn_5m_per_hour, b60 = b->burn_per_hour, proj = b->projected_usd;
		int fast = b5 > b60 && b60 > 0;

		if (fast)
			proj = b->spent_usd + (b->projected_usd - b->spent_usd) * b5 / b60;
		draw_fmt_usd(s3, sizeof s3, proj);
		draw_fmt_usd(s1, sizeof s1, b60);
		if (row < y + h - 1 && b5 >= 0) {
			draw_fmt_usd(s2, sizeof s2, b5);
			draw_putf(row++, x + 2, iw, "burn 5m %s/h  60m %s/h", s2, s1);
		} else if (row < y + h - 1)
			draw_putf(row++, x + 2, iw, "burn 60m %s/h", s1);
		if (row < y + h - 1) {
			int over = proj > b->daily_usd;
			if (over)
				attrset(color_attr(c, TC_BUDGET_WARN));
			draw_putf(row++, x + 2, iw, "day end %s at %s rate%s", s3,
			    fast ? "5m" : "60m", over ? " OVER" : "");
			attrset(color_attr(c, TC_NORMAL));
		}
	}
	if (row < y + h - 1)
		draw_putf(row++, x + 2, iw, "alert at %.0f%%%s  hard stop %s",
		    b->alert_threshold * 100, b->alert_crossed ? " (crossed)" : "",
		    b->hard_stop < 0   ? "?"
		        : b->hard_stop ? "on"
		                       : "off");
	if (row < y + h - 1) {
		if (b->under_pressure && b->downgrade[0] != '\0') {
			attrset(color_attr(c, TC_BUDGET_WARN));
			draw_putf(row++, x + 2, iw, "downgrade in force: %s", b->downgrade);
			attrset(color_attr(c, TC_NORMAL));
		} else if (b->pressure >= 0)
			draw_putf(row++, x + 2, iw, "downgrade: none (starts below %.0f%% left)",
			    b->pressure * 100);
	}
}

void
draw_cache(struct console *c, int y, int x, int h, int w)
{
	struct console_target *t = console_selected_target(c);
	const struct source_cache *k = t != NULL ? &t->frame.cache : NULL;
	int iw = w - 4, row = y + 1;
	char title[96];

	snprintf(title, sizeof title, "Cache%s%s", c->n_targets > 1 ? ": " : "",
	    c->n_targets > 1 && t != NULL ? t->label : "");
	draw_box(c, y, x, h, w, title);
	if (h < 3 || k == NULL)
		return;
	if (!k->present) {
		attrset(color_attr(c, TC_DIM));
		draw_put(row, x + 2, iw,
		    t->have_frame ? "no figures: the process has no database" : "no figures yet");
		attrset(color_attr(c, TC_NORMAL));
		return;
	}
	if (k->ttl_seconds > 0)
		draw_putf(row++, x + 2, iw, "entries %lld  TTL %ds  %s", (long long)k->entries,
		    k->ttl_seconds, k->enabled ? "enabled" : "DISABLED");
	else
		draw_putf(row++, x + 2, iw, "entries %lld  %s", (long long)k->entries,
		    k->enabled ? "enabled" : "DISABLED");
	if (row < y + h - 1) {
		if (k->hit_rate_all >= 0)
			draw_putf(row++, x + 2, iw, "hit rate %.1f%% of all requests",
			    k->hit_rate_all * 100);
		else
			draw_put(row++, x + 2, iw, "hit rate -: no requests yet");
	}
	if (row < y + h - 1 && k->hit_rate_cacheable >= 0)
		draw_putf(row++, x + 2, iw, "%.1f%% of cacheable ones (hits %lld, misses %lld)",
		    k->hit_rate_cacheable * 100, (long long)k->hits, (long long)k->misses);
	else if (row < y + h - 1)
		draw_put(row++, x + 2, iw, "no cacheable request yet (temperature too high?)");
	if (row < y + h - 1 && k->max_temperature >= 0)
		draw_putf(row++, x + 2, iw, "cacheable: temperature <= %.2f", k->max_temperature);
}
