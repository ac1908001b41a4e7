/*
 * console_draw.c: the console's one screen, drawn from what the sources last
 * sent: the header (every target's figures together), the providers table
 * (console_table.c), the selected provider's latency and traffic, budget and
 * cache panels (console_panels.c), the event log, key hints, the message or
 * command line, the help overlay built from the command table and the
 * glossary, and the line that says a link to an attached process is down.
 */
#include "console/console.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "util/util.h"

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

void
draw_putf(int y, int x, int w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	draw_put(y, x, w, buf);
}

void
draw_fill(int y, int x, int w)
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

void
draw_fmt_us(char *out, size_t len, uint64_t us)
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

void
draw_fmt_usd(char *out, size_t len, double usd)
{
	if (usd < 10)
		snprintf(out, len, "$%.4f", usd);
	else
		snprintf(out, len, "$%.2f", usd);
}

static const char *const eighths[9] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char *const ascii_levels = " .:-=+*#@";

void
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

/* A piece of the header: its text, a shorter form, and how much it matters. */
struct hitem {
	char text[96];
	char brief[48]; /* "" : none */
	int prio;       /* 100: never dropped */
	int color;      /* a theme colour, or -1: the header's */
	int shown;
	int use_brief;
};

static struct hitem *hitem_add(struct hitem *v, size_t *n, int prio, int color, const char *brief,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct hitem *
hitem_add(struct hitem *v, size_t *n, int prio, int color, const char *brief, const char *fmt, ...)
{
	struct hitem *h = &v[(*n)++];
	va_list ap;

	memset(h, 0, sizeof *h);
	va_start(ap, fmt);
	vsnprintf(h->text, sizeof h->text, fmt, ap);
	va_end(ap);
	strlcpy_(h->brief, brief != NULL ? brief : "", sizeof h->brief);
	h->prio = prio;
	h->color = color;
	h->shown = 1;
	return h;
}

static int
header_width(const struct hitem *v, size_t n)
{
	int w = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].shown)
			w += draw_text_width(v[i].use_brief ? v[i].brief : v[i].text) + 2;
	return w;
}

/* Until it fits: the least important item first takes its brief form, then goes, before
 * the next one is touched (a clock goes before a figure is cut). */
static void
header_fit(struct hitem *v, size_t n, int avail)
{
	while (header_width(v, n) > avail) {
		int best = -1;
		for (size_t i = 0; i < n; i++)
			if (v[i].shown && v[i].prio < 100 && (best < 0 || v[i].prio < v[best].prio))
				best = (int)i;
		if (best < 0)
			return;
		if (!v[best].use_brief && v[best].brief[0] != '\0')
			v[best].use_brief = 1;
		else
			v[best].shown = 0;
	}
}

/* Who the console shows: DEMO, serving on HOST:PORT, the attached instance, or the fleet. */
static void
header_badge(struct console *c, struct hitem *v, size_t *n)
{
	size_t up = 0;

	for (size_t t = 0; t < c->n_targets; t++)
		up += c->targets[t].link.up;
	size_t draining = 0;

	for (size_t t = 0; t < c->n_targets; t++)
		draining += c->targets[t].link.up && c->targets[t].have_frame &&
		    c->targets[t].frame.inst.draining;
	if (c->attached && c->n_targets == 1)
		hitem_add(v, n, 100, up && !draining ? TC_DEMO : TC_MSG_ERROR, NULL, "%s %s",
		    !up            ? "LOST"
		        : draining ? "DRAINING"
		                   : "ATTACHED",
		    c->targets[0].label);
	else if (c->attached && draining > 0)
		hitem_add(v, n, 100, TC_MSG_ERROR, NULL, "FLEET %zu/%zu up, %zu draining", up,
		    c->n_targets, draining);
	else if (c->attached)
		hitem_add(v, n, 100, up == c->n_targets ? TC_DEMO : TC_MSG_ERROR, NULL,
		    "FLEET %zu/%zu up", up, c->n_targets);
	else if (c->demo_on)
		hitem_add(v, n, 100, TC_DEMO, NULL, "DEMO");
	/* A store that cannot take the ledger's rows: the answers are spooled, or refused. */
	for (size_t t = 0; t < c->n_targets; t++) {
		const struct source_instance *in = &c->targets[t].frame.inst;

		if (!c->targets[t].have_frame || in->store_status[0] == '\0' ||
		    strcmp(in->store_status, "ok") == 0)
			continue;
		hitem_add(v, n, 100, TC_MSG_ERROR, NULL, "STORE %s%s%s: %s",
		    strcmp(in->store_status, "spool_full") == 0 ? "SPOOL FULL" : "FAILING",
		    c->n_targets > 1 ? " " : "", c->n_targets > 1 ? c->targets[t].label : "",
		    in->store_reason);
		break;
	}
	if (c->serving[0] != '\0')
		hitem_add(v, n, 100, TC_DEMO, NULL, "serving on %s", c->serving);
}

static void
draw_header(struct console *c)
{
	const struct console_totals *T = &c->totals;
	struct hitem v[20];
	size_t n = 0;
	char clock[16], spend[32], b[48];
	time_t t = time(NULL);
	struct tm tm;
	int x = 1;

	localtime_r(&t, &tm);
	strftime(clock, sizeof clock, "%H:%M:%S", &tm);
	hitem_add(v, &n, 100, -1, NULL, "llmdeck");
	header_badge(c, v, &n);
	snprintf(b, sizeof b, "%s%s", c->paused ? "PAUSED" : "live", c->readonly ? " RO" : "");
	hitem_add(v, &n, 80, c->paused ? TC_MSG_ERROR : -1, b, "%s%s",
	    c->paused ? "PAUSED" : "live", c->readonly ? " read-only" : "");
	hitem_add(v, &n, 30, -1, NULL, "%s", clock);
	hitem_add(v, &n, 95, -1, NULL, "req/s %.1f", T->req_per_s);
	/* What clients got over the window: answered of every request but the cancelled
	 * (refusals and 503s count as not answered), and what they waited. */
	if (T->win_requests > T->win_cancelled) {
		uint64_t all = T->win_requests - T->win_cancelled;
		double ok = 100.0 * (double)(all - (T->win_failed < all ? T->win_failed : all)) /
		    (double)all;
		snprintf(b, sizeof b, "ok %.1f%%", ok);
		hitem_add(v, &n, 97, ok < 99.0 ? TC_MSG_ERROR : -1, b, "answered %.1f%%", ok);
	} else
		hitem_add(v, &n, 97, -1, "ok -", "answered -");
	{
		char p50[16], p99[16];
		draw_fmt_us(p50, sizeof p50, T->open_p50_us);
		draw_fmt_us(p99, sizeof p99, T->open_p99_us);
		snprintf(b, sizeof b, "p99 %s", p99);
		hitem_add(v, &n, 96, T->open_p99_us >= 1000000 ? TC_MSG_ERROR : -1, b,
		    "p50 %s p99 %s", p50, p99);
	}
	if (T->win_requests > 0) {
		snprintf(b, sizeof b, "fail %.1f%%",
		    100.0 * (double)T->win_failed / (double)T->win_requests);
		hitem_add(v, &n, 45, T->win_failed > 0 ? TC_MSG_ERROR : -1, b, "failed %.1f%%",
		    100.0 * (double)T->win_failed / (double)T->win_requests);
	} else
		hitem_add(v, &n, 45, -1, "fail -", "failed -");
	if (T->win_attempts > 0) {
		double pct = 100.0 * (double)T->win_attempts_failed / (double)T->win_attempts;
		snprintf(b, sizeof b, "att %.1f%%", pct);
		hitem_add(v, &n, 90, T->win_attempts_failed > 0 ? TC_EVENT_WARN : -1, b,
		    "attempts failed %.1f%%", pct);
	}
	if (T->hit_all >= 0) {
		snprintf(b, sizeof b, "hit %.0f%%", T->hit_all * 100);
		if (T->hit_cacheable >= 0)
			hitem_add(v, &n, 60, -1, b, "cache hit %.0f%% (%.0f%% cacheable)",
			    T->hit_all * 100, T->hit_cacheable * 100);
		else
			hitem_add(v, &n, 60, -1, b, "cache hit %.0f%%", T->hit_all * 100);
	}
	draw_fmt_usd(spend, sizeof spend, T->spend);
	hitem_add(v, &n, 40, -1, spend, "spend today %s", spend);
	snprintf(b, sizeof b, "fly %llu", (unsigned long long)T->in_flight);
	hitem_add(v, &n, 20, -1, b, "in flight %llu", (unsigned long long)T->in_flight);
	if (T->window_s > 0)
		hitem_add(v, &n, 35, TC_DIM, NULL, "(%ds)", T->window_s);
	header_fit(v, n, COLS - 1);

	attrset(color_attr(c, TC_HEADER));
	draw_fill(0, 0, COLS);
	for (size_t i = 0; i < n; i++) {
		const char *s = v[i].use_brief ? v[i].brief : v[i].text;
		int w = draw_text_width(s);
		if (!v[i].shown)
			continue;
		attrset(color_attr(c, v[i].color >= 0 ? (enum theme_color)v[i].color : TC_HEADER));
		if (v[i].color == TC_DEMO || (v[i].color == TC_MSG_ERROR && i < 3))
			draw_putf(0, x - 1, COLS - x + 1, " %s ", s);
		else
			draw_put(0, x, COLS - x, s);
		attrset(color_attr(c, TC_HEADER));
		x += w + 2;
	}
	attrset(color_attr(c, TC_NORMAL));
}

/* Links that are down, in one line: what, why, the next try, how old the picture is. */
static int
draw_links(struct console *c, int y)
{
	char line[512];
	size_t off = 0;
	uint64_t now = clock_mono_ms();

	for (size_t t = 0; t < c->n_targets && off < sizeof line; t++) {
		const struct console_target *tg = &c->targets[t];
		const struct source_link *l = &tg->link;
		long retry = l->retry_ms > now ? (long)((l->retry_ms - now + 999) / 1000) : 0;

		if (l->up)
			continue;
		if (l->stopped && strcmp(tg->label, tg->src->name) != 0 &&
		    strstr(tg->src->name, tg->label) == NULL)
			off += (size_t)snprintf(line + off, sizeof line - off, "%s%s (%s): %s",
			    off ? " | " : "", tg->label, tg->src->name, l->why);
		else if (l->stopped)
			off += (size_t)snprintf(line + off, sizeof line - off, "%s%s: %s",
			    off ? " | " : "", tg->src->name, l->why);
		else if (l->ever_up)
			off += (size_t)snprintf(line + off, sizeof line - off,
			    "%sconnection to %s lost (%s), retry in %lds, numbers %llds old: %s",
			    off ? " | " : "", tg->label, tg->src->name, retry,
			    (long long)((clock_wall_ms() - l->last_ok_ms) / 1000), l->why);
		else if (strcmp(l->why, "connecting") == 0)
			off += (size_t)snprintf(line + off, sizeof line - off, "%sconnecting to %s",
			    off ? " | " : "", tg->src->name);
		else
			off += (size_t)snprintf(line + off, sizeof line - off,
			    "%scannot reach %s, retry in %lds: %s", off ? " | " : "", tg->src->name,
			    retry, l->why);
	}
	if (off == 0)
		return 0;
	/* Wrapped, up to three lines: why a link is down is never cut. */
	{
		int n = draw_wrapped(y, -1, -1, 1, COLS - 2, line);
		if (n > 3)
			n = 3;
		attrset(color_attr(c, TC_MSG_ERROR));
		for (int i = 0; i < n; i++)
			draw_fill(y + i, 0, COLS);
		draw_wrapped(y, y - 1, y + n, 1, COLS - 2, line);
		attrset(color_attr(c, TC_NORMAL));
		return n;
	}
}

/* The events' instance column: in a fleet, or when some came from another process. */
static int
events_show_instance(struct console *c, size_t start, size_t end)
{
	const char *home = c->n_targets > 0 ? c->targets[0].frame.inst.id : "";

	if (c->n_targets > 1)
		return 1;
	for (size_t i = start; i < end; i++)
		if (c->events[i].instance[0] != '\0' && strcmp(c->events[i].instance, home) != 0)
			return 1;
	return 0;
}

static void
draw_events(struct console *c, int y, int h)
{
	int rows = h - 2, iw = COLS - 4, fleet;
	size_t end, start;
	char title[192];

	size_t *idx = xcalloc(c->n_events + 1, sizeof *idx), n = event_indices(c, idx);
	char f[128];

	event_filter_words(c, f, sizeof f);
	if (c->event_scroll > (int)n)
		c->event_scroll = n > 0 ? (int)n - 1 : 0;
	snprintf(title, sizeof title, "Events%s%s%s%s (E all%s)", f[0] ? " [" : "", f,
	    f[0] ? "]" : "", c->event_scroll > 0 ? ", back" : "", f[0] ? ", / off" : ", / filter");
	draw_box(c, y, 0, h, COLS, title);
	if (rows <= 0) {
		free(idx);
		return;
	}
	end = n > (size_t)c->event_scroll ? n - (size_t)c->event_scroll : 0;
	start = end > (size_t)rows ? end - (size_t)rows : 0;
	fleet = c->n_targets > 1;
	for (size_t i = start; i < end && !fleet; i++)
		fleet = events_show_instance(c, idx[i], idx[i] + 1);
	for (size_t i = start; i < end; i++)
		draw_event_line(c, y + 1 + (int)(i - start), 2, iw, &c->events[idx[i]], fleet);
	free(idx);
	attrset(color_attr(c, TC_NORMAL));
}

/* Is this command usable here? (--readonly hides actions; attached hides prompts) */
int
cmd_available(struct console *c, const struct console_cmd *cmd)
{
	if (c->readonly && !(cmd->flags & CMD_READONLY_OK))
		return 0;
	if ((cmd->flags & CMD_EMBEDDED) && c->router == NULL)
		return 0;
	return 1;
}

/* The hint line: keys and names, straight from the command table. When the names do not
 * all fit, help keeps its name and the rest show their keys alone (? names them): every
 * key stays on the line. */
static void
draw_hints(struct console *c, int y)
{
	/* By key: a key with no command (yet) is left out. */
	static const int shown[] = {'?', ':', 'f', 'e', 'd', 'r', 'P', 'w', '+', '-', 'u', 'p', 'R',
	    'K', 'D', 'F', '/', 'E', 't', ' ', 'q'};
	int x = 0, full = 0, keys_only;
	char kb[8];

	for (size_t i = 0; i < nitems(shown); i++) {
		const struct console_cmd *cmd = cmd_by_key(shown[i]);
		if (cmd != NULL && cmd_available(c, cmd))
			full += (int)strlen(cmd_key_name(cmd->key, kb, sizeof kb)) +
			    (int)strlen(cmd->name) + 3;
	}
	keys_only = full > COLS;
	attrset(color_attr(c, TC_HINT));
	draw_fill(y, 0, COLS);
	for (size_t i = 0; i < nitems(shown); i++) {
		const struct console_cmd *cmd = cmd_by_key(shown[i]);
		if (cmd == NULL || !cmd_available(c, cmd))
			continue;
		const char *k = cmd_key_name(cmd->key, kb, sizeof kb);
		int named =
		    !keys_only || strcmp(cmd->name, "help") == 0 || strcmp(cmd->name, "quit") == 0;
		int need = (int)strlen(k) + (named ? (int)strlen(cmd->name) + 3 : 1);
		if (x + need > COLS)
			break;
		attrset(color_attr(c, TC_KEY));
		draw_putf(y, x, COLS - x, "%s", k);
		attrset(color_attr(c, TC_HINT));
		if (named)
			draw_putf(y, x + (int)strlen(k), COLS - x, " %s ", cmd->name);
		x += need;
		if (keys_only && strcmp(cmd->name, "help") == 0 && x + 6 < COLS) {
			draw_putf(y, x, COLS - x, "keys:");
			x += 6;
		}
	}
	attrset(color_attr(c, TC_NORMAL));
}

static void
draw_bottom(struct console *c, int y)
{
	attrset(color_attr(c, TC_NORMAL));
	draw_fill(y, 0, COLS);
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
	if (c->mode == MODE_CONFIRM && draw_text_width(c->message) > COLS) {
		/* A long question takes the hint line too, and the lines above if it needs
		 * them (up to four): none of it is cut. */
		int lines = draw_wrapped(0, 0, 0, 0, COLS, c->message), top;
		lines = lines < 2 ? 2 : lines > 4 ? 4 : lines;
		top = y + 1 - lines;
		attrset(color_attr(c, TC_MSG_ERROR));
		for (int r = top; r <= y; r++)
			draw_fill(r, 0, COLS);
		draw_wrapped(top, top - 1, y + 1, 0, COLS, c->message);
		attrset(color_attr(c, TC_NORMAL));
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

int
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
	return n > 0 ? n : 1;
}

/* The help overlay: every usable entry of the command table, then the glossary. */
static void
draw_help(struct console *c)
{
	int w = COLS - 4 > 136 ? 136 : COLS - 4, h = LINES - 4, x = (COLS - w) / 2, y = 2;
	int rows = h - 2, line = 0, uw = 0, hx, total;
	char k1[8], k2[8], keys[32], usage[64];
	char *tail;

	attrset(color_attr(c, TC_NORMAL));
	for (int r = y; r < y + h; r++)
		draw_fill(r, x, w);
	/* The usage column is as wide as the longest usage, so none is cut. */
	for (size_t i = 0; i < console_ncmds; i++) {
		cmd_usage(&console_cmds[i], usage, sizeof usage);
		if ((int)strlen(usage) > uw)
			uw = (int)strlen(usage);
	}
	if (uw > w / 3)
		uw = w / 3;
	hx = x + 13 + uw + 2;
	for (size_t i = 0; i < console_ncmds; i++) {
		const struct console_cmd *cmd = &console_cmds[i];
		int row = y + 1 + line - c->help_scroll, ulen;
		char *text;
		if (!cmd_available(c, cmd))
			continue;
		snprintf(keys, sizeof keys, "%s%s%s", cmd_key_name(cmd->key, k1, sizeof k1),
		    cmd->key2 != 0 ? " " : "", cmd_key_name(cmd->key2, k2, sizeof k2));
		cmd_usage(cmd, usage, sizeof usage);
		ulen = (int)strlen(usage);
		if (row > y && row < y + h - 1) {
			attrset(color_attr(c, TC_KEY));
			draw_putf(row, x + 2, 10, "%-10s", keys);
			attrset(color_attr(c, TC_CMDLINE));
			draw_putf(row, x + 13, w - 15, "%s", usage);
		}
		/* A usage wider than its column puts the help on the lines under it. */
		if (ulen > uw)
			line++;
		attrset(color_attr(c, TC_NORMAL));
		text = xasprintf("%s%s%s%s%s", cmd->help, cmd->alias != NULL ? " (alias :" : "",
		    cmd->alias != NULL ? cmd->alias : "", cmd->alias != NULL ? ")" : "",
		    (cmd->flags & CMD_CONFIRM) ? " [confirms]" : "");
		line += draw_wrapped(y + 1 + line - c->help_scroll, y, y + h - 1, hx,
		    x + w - 2 - hx, text);
		free(text);
	}
	line++;
	attrset(color_attr(c, TC_DIM));
	tail = xasprintf("%s NAME defaults to the selected provider%s.%s", prompt_keys_help,
	    c->n_targets > 1 ? "; NAME@INSTANCE names one instance's, NAME alone every instance's"
	                     : "",
	    c->readonly ? " Read-only: the actions are hidden and refused." : "");
	line += draw_wrapped(y + 1 + line - c->help_scroll, y, y + h - 1, x + 2, w - 4, tail);
	free(tail);
	line += draw_glossary(c, y + 1 + line - c->help_scroll, y, y + h - 1, x + 2, w - 4);
	total = line + 1;
	if (c->help_scroll > total - rows) {
		c->help_scroll = total - rows > 0 ? total - rows : 0;
		draw_help(c); /* again, clamped */
		return;
	}
	/* The title says how to leave; a narrow box gets the short one, never a cut one. */
	draw_box(c, y, x, h, w,
	    total <= rows ? "Keys, commands and glossary (any key closes)"
	        : w >= 90 ? "Keys, commands and glossary (Up/Down PgUp/PgDn scroll, any other key "
	                    "closes)"
	                  : "Keys and glossary (Up/Down PgUp/PgDn, other keys close)");
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

/* Rows the panels under the table need at least. */
#define LOWER_MIN 11

void
draw_screen(struct console *c)
{
	int ty, th, my, mh, eh, lw, bh, avail;

	if (COLS < CONSOLE_MIN_W || LINES < CONSOLE_MIN_H) {
		draw_too_small(c);
		refresh();
		return;
	}
	erase();
	curs_set(c->mode == MODE_CMDLINE || c->mode == MODE_PROMPT ? 1 : 0);
	draw_header(c);
	ty = 1 + draw_fleet_line(c, 1);
	ty += draw_links(c, ty);
	ty += draw_outages(c, ty, 2);
	avail = LINES - 2 - ty;
	th = (int)c->n_rows + 3;
	if (th > avail - LOWER_MIN)
		th = avail - LOWER_MIN;
	if (th < 4)
		th = 4;
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
		bh = mh > 14 ? 8 : mh / 2 + 1;
		draw_latency(c, my, 0, mh, lw);
		draw_budget(c, my, lw, bh, COLS - lw);
		draw_cache(c, my + bh, lw, mh - bh, COLS - lw);
		draw_events(c, my + mh, eh);
	}
	draw_hints(c, LINES - 2);
	if (c->mode == MODE_HELP)
		draw_help(c);
	if (c->mode == MODE_EVENTS)
		draw_event_view(c);
	if (c->mode == MODE_INSTANCES)
		draw_instances(c);
	if (c->mode == MODE_REQUESTS)
		draw_requests(c);
	if (c->mode == MODE_KEYS)
		draw_keys(c);
	draw_bottom(c, LINES - 1);
	if (c->mode == MODE_PROMPT && c->message[0] == '\0')
		prompt_draw(c, -1, 0, 0, 0); /* puts the cursor back in the editor */
	refresh();
}
