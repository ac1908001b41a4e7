/*
 * console_events.c: the event log as an operator uses it. Repeated probe
 * results fold into one line ("probes ok x6"); a filter by text or by class
 * (operator, breaker, failover, drill, probe, budget) applies to the panel and
 * to the full-screen view; operator actions are drawn bold with a mark.
 */
#include "console/console.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/util.h"

const char *const event_classes[] = {
    "operator", "breaker", "failover", "drill", "probe", "budget", NULL};

/* A probe's result: 1 ok, 2 failed, 0 not a probe. */
static int
probe_result(const struct event *ev)
{
	if (ev->kind != EV_PROVIDER)
		return 0;
	if (strncmp(ev->message, "probe ok", 8) == 0 || strncmp(ev->message, "probes ok", 9) == 0)
		return 1;
	if (strncmp(ev->message, "probe failed", 12) == 0 ||
	    strncmp(ev->message, "probes failed", 13) == 0)
		return 2;
	return 0;
}

const char *
event_class(const struct console_event *e)
{
	if (probe_result(&e->ev) != 0)
		return "probe";
	if (strstr(e->ev.message, "drill") != NULL)
		return "drill";
	switch (e->ev.kind) {
	case EV_OPERATOR: return "operator";
	case EV_BREAKER: return "breaker";
	case EV_FAILOVER: return "failover";
	case EV_BUDGET: return "budget";
	default: return event_kind_name(e->ev.kind);
	}
}

int
event_fold(struct console *c, const struct event *ev, const char *instance)
{
	struct console_event *last;
	int r = probe_result(ev);

	if (r == 0 || c->n_events == 0)
		return 0;
	last = &c->events[c->n_events - 1];
	if (probe_result(&last->ev) != r || strcmp(last->instance, instance) != 0 ||
	    ev->time_ms < last->ev.time_ms)
		return 0;
	/* Failures fold per provider only: which one fails matters. */
	if (r == 2 && strcmp(last->ev.provider, ev->provider) != 0)
		return 0;
	last->fold = last->fold > 0 ? last->fold + 1 : 2;
	last->ev.time_ms = ev->time_ms;
	snprintf(last->ev.message, sizeof last->ev.message, "probes %s x%u (last: %s %s)",
	    r == 1 ? "ok" : "failed", last->fold, ev->provider, ev->message + (r == 1 ? 6 : 13));
	if (r == 1)
		last->ev.provider[0] = '\0';
	c->dirty = 1;
	return 1;
}

int
event_shown(struct console *c, const struct console_event *e)
{
	if (c->event_class[0] != '\0' && strcmp(event_class(e), c->event_class) != 0)
		return 0;
	if (c->event_text[0] != '\0' && strcasestr(e->ev.message, c->event_text) == NULL &&
	    strcasestr(e->ev.provider, c->event_text) == NULL &&
	    strcasestr(e->instance, c->event_text) == NULL)
		return 0;
	return 1;
}

size_t
event_indices(struct console *c, size_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_events; i++)
		if (event_shown(c, &c->events[i]))
			out[n++] = i;
	return n;
}

void
event_filter_words(struct console *c, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s%s%s", c->event_class[0] ? "kind " : "", c->event_class,
	    c->event_class[0] && c->event_text[0] ? ", " : "", c->event_text[0] ? "text " : "",
	    c->event_text);
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

void
draw_event_line(struct console *c, int y, int x, int w, const struct console_event *e, int fleet)
{
	time_t t = (time_t)(e->ev.time_ms / 1000);
	struct tm tm;
	char ts[16];
	int op = e->ev.kind == EV_OPERATOR;

	localtime_r(&t, &tm);
	strftime(ts, sizeof ts, "%H:%M:%S", &tm);
	/* An operator's action stands out: bold, marked. */
	attrset(color_attr(c, event_color(e->ev.kind)) | (op ? A_BOLD : 0));
	if (fleet)
		draw_putf(y, x, w, "%s%c%-8.8s %-8s %-10s %s", ts, op ? '>' : ' ', e->instance,
		    event_class(e), e->ev.provider, e->ev.message);
	else
		draw_putf(y, x, w, "%s%c%-8s %-10s %s", ts, op ? '>' : ' ', event_class(e),
		    e->ev.provider, e->ev.message);
	attrset(color_attr(c, TC_NORMAL));
}

/* The full-screen log: every event kept that the filter lets through, newest last. */
void
draw_event_view(struct console *c)
{
	size_t *idx = xcalloc(c->n_events + 1, sizeof *idx), n = event_indices(c, idx);
	int rows = LINES - 4, fleet = c->n_targets > 1;
	size_t end, start;
	char title[256], f[128];

	for (size_t i = 0; i < n && !fleet; i++)
		fleet = c->events[idx[i]].instance[0] != '\0' && c->n_targets > 0 &&
		    strcmp(c->events[idx[i]].instance, c->targets[0].frame.inst.id) != 0;
	if (c->event_view_scroll > (int)n - rows)
		c->event_view_scroll = (int)n - rows > 0 ? (int)n - rows : 0;
	end = n - (size_t)c->event_view_scroll;
	start = end > (size_t)rows ? end - (size_t)rows : 0;
	event_filter_words(c, f, sizeof f);
	snprintf(title, sizeof title,
	    "Events %zu-%zu of %zu%s%s%s (Up/Down PgUp/PgDn, / filter, Esc)", n > 0 ? start + 1 : 0,
	    end, n, f[0] ? " [" : "", f, f[0] ? "]" : "");
	for (int r = 1; r < LINES - 1; r++)
		draw_fill(r, 0, COLS);
	draw_box(c, 1, 0, LINES - 2, COLS, title);
	for (size_t i = start; i < end; i++)
		draw_event_line(c, 2 + (int)(i - start), 2, COLS - 4, &c->events[idx[i]], fleet);
	free(idx);
}
