/*
 * console_instances.c: the routing processes as they are. In a fleet, a line
 * under the header gives each instance's own client figures (answered, p99);
 * :instances shows each one's state (draining, lost, token rejected), pid,
 * host, version, uptime, config hash (drift marked), admin address and what
 * its clients get, full screen.
 */
#include "console/console.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

const char *
instance_state(struct console *c, size_t t)
{
	const struct console_target *tg = &c->targets[t];

	if (tg->link.stopped)
		return "401";
	if (!tg->link.up)
		return tg->link.ever_up ? "LOST" : "down";
	if (tg->have_frame && tg->frame.inst.draining)
		return "draining";
	/* Its ledger's rows go to the spool, or (full) paid requests are refused. */
	if (tg->have_frame && strcmp(tg->frame.inst.store_status, "failing") == 0)
		return "store-failing";
	if (tg->have_frame && strcmp(tg->frame.inst.store_status, "spool_full") == 0)
		return "spool-full";
	return "up";
}

int
instance_drifted(struct console *c, size_t t)
{
	const char *h = c->targets[t].frame.inst.config_hash;
	size_t same = 0, known = 0;

	if (!c->targets[t].have_frame || h[0] == '\0')
		return 0;
	for (size_t i = 0; i < c->n_targets; i++) {
		const char *o = c->targets[i].frame.inst.config_hash;
		if (!c->targets[i].have_frame || o[0] == '\0')
			continue;
		known++;
		same += strcmp(o, h) == 0;
	}
	/* Drifted: fewer run this config than run another (a tie marks both). */
	return known > 1 && same * 2 <= known;
}

/* Answered of the window's requests (cancelled left out), or -1 with none. */
static double
instance_answered(const struct router_snapshot *s)
{
	uint64_t all =
	    s->window.requests > s->window_cancelled ? s->window.requests - s->window_cancelled : 0;

	if (all == 0)
		return -1;
	return 100.0 * (double)(all - (s->window.errors < all ? s->window.errors : all)) /
	    (double)all;
}

static void
fmt_answered(char *out, size_t len, double a)
{
	if (a < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", a);
}

static void
fmt_uptime(char *out, size_t len, int64_t started_ms)
{
	int64_t s = started_ms > 0 ? (clock_wall_ms() - started_ms) / 1000 : -1;

	if (s < 0)
		snprintf(out, len, "?");
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(out, len, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

int
draw_fleet_line(struct console *c, int y)
{
	char line[1024], a[16], p99[16];
	size_t off = 0;

	if (c->n_targets < 2)
		return 0;
	for (size_t t = 0; t < c->n_targets && off < sizeof line; t++) {
		const struct console_target *tg = &c->targets[t];
		const char *st = instance_state(c, t);

		fmt_answered(a, sizeof a, tg->have_frame ? instance_answered(&tg->frame.snap) : -1);
		draw_fmt_us(p99, sizeof p99, tg->have_frame ? tg->frame.snap.open_p99_us : 0);
		off += (size_t)snprintf(line + off, sizeof line - off, "%s%s%s%s%s %s p99 %s",
		    off ? " | " : "", tg->label, strcmp(st, "up") != 0 ? " " : "",
		    strcmp(st, "up") != 0 ? st : "", instance_drifted(c, t) ? " DRIFT" : "", a,
		    p99);
	}
	attrset(color_attr(c, TC_DIM));
	draw_fill(y, 0, COLS);
	draw_put(y, 1, COLS - 2, line);
	attrset(color_attr(c, TC_NORMAL));
	return 1;
}

void
draw_instances(struct console *c)
{
	int row = 2, bottom = LINES - 2;

	for (int r = 1; r < LINES - 1; r++)
		draw_fill(r, 0, COLS);
	draw_box(c, 1, 0, LINES - 2, COLS, "Instances (any key closes)");
	for (size_t t = 0; t < c->n_targets && row < bottom; t++) {
		const struct console_target *tg = &c->targets[t];
		const struct source_instance *in = &tg->frame.inst;
		const struct router_snapshot *s = &tg->frame.snap;
		const char *st = instance_state(c, t);
		char up[32], a[16], p50[16], p99[16], *text;
		int drift = instance_drifted(c, t);
		int store_bad = strcmp(st, "store-failing") == 0 || strcmp(st, "spool-full") == 0;

		fmt_uptime(up, sizeof up, tg->have_frame ? in->started_ms : -1);
		fmt_answered(a, sizeof a, tg->have_frame ? instance_answered(s) : -1);
		draw_fmt_us(p50, sizeof p50, tg->have_frame ? s->open_p50_us : 0);
		draw_fmt_us(p99, sizeof p99, tg->have_frame ? s->open_p99_us : 0);
		attrset(color_attr(c,
		            strcmp(st, "up") == 0             ? TC_PROVIDER_UP
		                : strcmp(st, "draining") == 0 ? TC_PROVIDER_HALF_OPEN
		                                              : TC_PROVIDER_DOWN) |
		    A_BOLD);
		draw_putf(row, 2, COLS - 4, "%-12s %s", tg->label, st);
		attrset(color_attr(c, TC_NORMAL));
		row++;
		text = xasprintf("pid %ld  host %s  version %s  up %s  config %s%s  admin %s%s%s  "
		                 "answered %s  p50 %s  p99 %s  in flight %llu%s%s%s%s",
		    in->pid, in->host[0] ? in->host : "?", in->version[0] ? in->version : "?", up,
		    in->config_hash[0] ? in->config_hash : "?",
		    drift ? " DRIFT (differs from the "
		            "others)"
		          : "",
		    tg->src->name,
		    in->socket[0] && strcmp(in->socket, tg->src->name) != 0 ? " socket " : "",
		    in->socket[0] && strcmp(in->socket, tg->src->name) != 0 ? in->socket : "", a,
		    p50, p99, (unsigned long long)s->in_flight, tg->link.up ? "" : "; ",
		    tg->link.up ? "" : tg->link.why, store_bad ? "  store: " : "",
		    store_bad ? in->store_reason : "");
		if (drift)
			attrset(color_attr(c, TC_MSG_ERROR));
		row += draw_wrapped(row, 1, bottom, 4, COLS - 6, text);
		attrset(color_attr(c, TC_NORMAL));
		free(text);
	}
}
