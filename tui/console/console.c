/*
 * console.c: `llmdeck` with no subcommand: the operations console. Options,
 * setup of the router, store and demo, and the UI thread's loop: it blocks in
 * poll() on the terminal and a wake-up pipe, handles keys at once, polls its
 * sources (console_source.h: the embedded router, or the processes `llmdeck
 * attach` reaches) every refresh period, takes what they sent back whenever
 * it is woken, and redraws only when what is shown changed.
 */
#include "console/console.h"
#include "gateway/gateway.h"

#include <curl/curl.h>
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llmdeck.h"
#include "provider/http.h"
#include "store/store.h"
#include "util/util.h"

static void
console_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck [--config F] [--db F|URL] [--demo] [--demo-rate N] [--theme NAME]\n"
	    "               [--no-color] [--readonly] [--listen HOST:PORT]\n"
	    "The operations console on the configured providers.\n"
	    "  --config F      the config file (else $LLMDECK_CONFIG, the XDG path, the\n"
	    "                  environment's keys)\n"
	    "  --db F|URL      the database, a file or a postgres:// URL (default the\n"
	    "                  config's store.url, else $XDG_STATE_HOME/llmdeck/llmdeck.db;\n"
	    "                  demo.db beside it with --demo)\n"
	    "  --demo          five simulated providers in-process and a steady load\n"
	    "  --demo-rate N   demo requests per second (default 5)\n"
	    "  --theme NAME    a theme from themes/ (default, light, solarized-dark,\n"
	    "                  high-contrast, monochrome) or a path to a theme file\n"
	    "  --no-color      no colours (also when NO_COLOR is set)\n"
	    "  --readonly      show everything, refuse every action\n"
	    "  --listen H:P    serve the OpenAI/Anthropic-compatible gateway on H:P from the\n"
	    "                  console's router, so the console shows the applications' traffic\n"
	    "  --commands      print the console's keys and commands and exit\n"
	    "Inside, press ? for every key, command, column and state. `llmdeck attach` is\n"
	    "the same console on running processes (serve, or a console with --listen).\n"
	    "Exit codes: 0 quit, 1 the database or the port could not be opened, 2 usage or\n"
	    "config error.\n");
}

/* The command table as text: one line per command, for docs and tests. */
static void
print_commands(void)
{
	char k1[8], k2[8];

	for (size_t i = 0; i < console_ncmds; i++) {
		const struct console_cmd *cmd = &console_cmds[i];
		printf("%-16s %-6s %-6s %-12s %s%s\n", cmd->name,
		    cmd_key_name(cmd->key, k1, sizeof k1), cmd_key_name(cmd->key2, k2, sizeof k2),
		    cmd->args, cmd->help, (cmd->flags & CMD_CONFIRM) ? " [confirms]" : "");
	}
}

void
console_message(struct console *c, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
	c->message_error = error;
	c->message_ms = clock_mono_ms();
	c->dirty = 1;
}

void
console_wake(struct console *c)
{
	ssize_t n;

	n = write(c->wake[1], "", 1);
	(void)n; /* a full pipe already wakes the loop */
}

/* An event into the console's log, in time order, unless it is there already
 * (attached processes that share a database report each other's events). */
static void
console_event_insert(struct console *c, const struct event *ev, const char *instance)
{
	size_t at;

	for (size_t i = c->n_events; i-- > 0;) {
		const struct console_event *e = &c->events[i];
		if (e->ev.time_ms < ev->time_ms - 5000)
			break;
		if (e->ev.time_ms == ev->time_ms && e->ev.kind == ev->kind &&
		    strcmp(e->instance, instance) == 0 &&
		    strcmp(e->ev.provider, ev->provider) == 0 &&
		    strcmp(e->ev.message, ev->message) == 0)
			return;
	}
	if ((c->n_events == 0 || ev->time_ms >= c->events[c->n_events - 1].ev.time_ms) &&
	    event_fold(c, ev, instance))
		return;
	if (c->n_events == CONSOLE_EVENTS) {
		if (ev->time_ms < c->events[0].ev.time_ms)
			return;
		memmove(c->events, c->events + 1, sizeof c->events[0] * (CONSOLE_EVENTS - 1));
		c->n_events--;
	}
	at = c->n_events;
	while (at > 0 && c->events[at - 1].ev.time_ms > ev->time_ms)
		at--;
	memmove(c->events + at + 1, c->events + at, sizeof c->events[0] * (c->n_events - at));
	c->events[at].ev = *ev;
	c->events[at].fold = 0;
	strlcpy_(c->events[at].instance, instance, sizeof c->events[at].instance);
	c->n_events++;
	c->dirty = 1;
}

void
console_event(struct console *c, enum event_kind kind, const char *provider, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	struct event ev;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->router != NULL) {
		event_add(router_events(c->router), kind, provider, "%s", msg);
		console_collect(c);
		return;
	}
	/* Attached: the console's own actions (drills) are logged here only. */
	memset(&ev, 0, sizeof ev);
	ev.time_ms = clock_wall_ms();
	ev.kind = kind;
	strlcpy_(ev.provider, provider != NULL ? provider : "", sizeof ev.provider);
	strlcpy_(ev.message, msg, sizeof ev.message);
	console_event_insert(c, &ev, "console");
}

const struct provider_snapshot *
console_selected(struct console *c)
{
	const struct console_row *r;

	if (c->n_rows == 0)
		return NULL;
	if (c->selected >= c->n_rows)
		c->selected = c->n_rows - 1;
	r = &c->rows[c->selected];
	return &c->targets[r->t].frame.snap.providers[r->p];
}

struct console_target *
console_target_at(struct console *c, size_t *t)
{
	if (c->n_targets == 0)
		return NULL;
	if (*t >= c->n_targets)
		*t = 0;
	return &c->targets[*t];
}

struct console_target *
console_selected_target(struct console *c)
{
	if (c->n_rows == 0)
		return c->n_targets > 0 ? &c->targets[0] : NULL;
	if (c->selected >= c->n_rows)
		c->selected = c->n_rows - 1;
	return &c->targets[c->rows[c->selected].t];
}

const struct provider_snapshot *
console_target_provider(struct console *c, size_t t, const char *name)
{
	const struct console_target *tg = &c->targets[t];

	for (size_t i = 0; tg->have_frame && i < tg->frame.snap.n_providers; i++)
		if (strcmp(tg->frame.snap.providers[i].name, name) == 0)
			return &tg->frame.snap.providers[i];
	return NULL;
}

size_t
console_resolve(struct console *c, const char *arg, size_t *ts, size_t max, char *buf, size_t len)
{
	char *at;
	size_t n = 0;

	strlcpy_(buf, arg, len);
	if ((at = strrchr(buf, '@')) != NULL)
		*at++ = '\0';
	for (size_t t = 0; t < c->n_targets && n < max; t++) {
		const struct console_target *tg = &c->targets[t];
		char idx[24];

		snprintf(idx, sizeof idx, "#%zu", t + 1);
		if (at != NULL && strcmp(at, tg->label) != 0 && strcmp(at, tg->src->name) != 0 &&
		    strcmp(at, idx) != 0)
			continue;
		if (console_target_provider(c, t, buf) != NULL)
			ts[n++] = t;
	}
	return n;
}

size_t
console_once_per_store(struct console *c, size_t *ts, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		const struct console_target *tg = &c->targets[ts[i]];
		const char *id = tg->have_frame ? tg->frame.inst.store_id : "";
		size_t k;

		for (k = 0; id[0] != '\0' && k < kept; k++)
			if (c->targets[ts[k]].have_frame &&
			    strcmp(c->targets[ts[k]].frame.inst.store_id, id) == 0)
				break;
		if (id[0] == '\0' || k == kept)
			ts[kept++] = ts[i];
		else if (!c->targets[ts[k]].link.up && tg->link.up)
			ts[k] = ts[i]; /* the same database through one that answers */
	}
	return kept;
}

void
console_drill_mark(struct console *c, const char *base_url, const char *fault)
{
	size_t i;

	for (i = 0; i < c->n_drills; i++)
		if (strcmp(c->drills[i].base_url, base_url) == 0)
			break;
	if (strcmp(fault, "none") == 0) {
		if (i < c->n_drills) {
			memmove(c->drills + i, c->drills + i + 1,
			    sizeof c->drills[0] * (c->n_drills - i - 1));
			c->n_drills--;
		}
		return;
	}
	if (i == c->n_drills) {
		if (c->n_drills == CONSOLE_DRILLS)
			return;
		c->n_drills++;
	}
	strlcpy_(c->drills[i].base_url, base_url, sizeof c->drills[i].base_url);
	strlcpy_(c->drills[i].fault, fault, sizeof c->drills[i].fault);
}

const char *
console_drill_on(struct console *c, const struct provider_snapshot *p)
{
	for (size_t i = 0; i < c->n_drills; i++)
		if (strcmp(c->drills[i].base_url, p->base_url) == 0)
			return c->drills[i].fault;
	return NULL;
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0x100000001b3ULL;
}

static uint64_t
dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof u);
	return u;
}

static uint64_t
mix_str(uint64_t h, const char *s)
{
	while (*s != '\0')
		h = mix(h, (unsigned char)*s++);
	return h;
}

/* A digest of everything the screen shows, so an idle console does not redraw. */
static uint64_t
console_signature(struct console *c)
{
	uint64_t h = 1469598103934665603ULL;

	h = mix(h, (uint64_t)(clock_wall_ms() / 1000));
	for (size_t t = 0; t < c->n_targets; t++) {
		const struct console_target *tg = &c->targets[t];
		const struct router_snapshot *s = &tg->frame.snap;

		h = mix(h, (uint64_t)tg->link.up << 1 | (uint64_t)tg->have_frame);
		h = mix_str(h, tg->link.why);
		h = mix_str(h, tg->label);
		h = mix(h, (uint64_t)s->time_ms);
		h = mix(h, s->requests);
		h = mix(h, s->in_flight);
		for (size_t i = 0; i < s->n_providers; i++) {
			const struct provider_snapshot *p = &s->providers[i];
			h = mix(h,
			    (uint64_t)p->admin << 8 | (uint64_t)p->breaker << 4 |
			        (uint64_t)p->usable);
			h = mix(h, (uint64_t)p->priority);
			h = mix(h, dbits(p->weight));
			h = mix(h, p->requests);
			h = mix(h, p->errors);
			h = mix(h, p->in_flight);
			h = mix(h, p->cooldown_left_ms / 1000);
			h = mix(h, (uint64_t)p->last_probe_ms);
		}
		h = mix(h, dbits(tg->frame.budget.spent_usd));
		h = mix(h, (uint64_t)tg->frame.cache.entries);
		h = mix(h, (uint64_t)tg->frame.cache.hits);
		h = mix(h, (uint64_t)tg->frame.cache.misses);
	}
	h = mix(h, c->n_events > 0 ? (uint64_t)c->events[c->n_events - 1].ev.time_ms : 0);
	h = mix(h, c->n_events);
	h = mix(h, c->n_drills);
	return h;
}

/* Requests finished per second over the window, the one `failed` is over too. */
static double
series_rate(const struct router_snapshot *s)
{
	return s->window_s > 0 ? (double)s->window.requests / (double)s->window_s : 0;
}

/* The header's figures over every target with a picture (a lost one's are stale:
 * left out of the rates). Spend is summed once per database. */
static void
console_totals(struct console *c)
{
	struct console_totals *T = &c->totals;
	double hit_num = 0, hit_den = 0, cost = 0;
	uint64_t hits = 0, lookups = 0;
	const char *dbs[64];
	size_t ndb = 0;
	int have_budget = 0;

	memset(T, 0, sizeof *T);
	T->hit_all = T->hit_cacheable = -1;
	for (size_t t = 0; t < c->n_targets; t++) {
		const struct console_target *tg = &c->targets[t];
		const struct source_frame *f = &tg->frame;
		const struct router_snapshot *s = &f->snap;
		int seen = 0;

		if (!tg->have_frame)
			continue;
		cost += s->cost_usd;
		if (f->budget.present) {
			for (size_t i = 0; i < ndb; i++)
				seen |= strcmp(dbs[i], f->inst.database) == 0;
			if (!seen) {
				if (!have_budget)
					T->spend = 0;
				have_budget = 1;
				T->spend += f->budget.spent_usd;
				if (ndb < nitems(dbs))
					dbs[ndb++] = f->inst.database;
			}
		}
		if (!tg->link.up)
			continue;
		T->n_up++;
		T->window_s = s->window_s > T->window_s ? s->window_s : T->window_s;
		T->req_per_s += series_rate(s);
		T->win_requests += s->window.requests;
		T->win_failed += s->window.errors;
		T->win_cancelled += s->window_cancelled;
		if (s->open_p50_us > T->open_p50_us)
			T->open_p50_us = s->open_p50_us;
		if (s->open_p99_us > T->open_p99_us)
			T->open_p99_us = s->open_p99_us;
		for (size_t i = 0; i < s->n_providers; i++) {
			T->win_attempts += s->providers[i].window.requests;
			T->win_attempts_failed += s->providers[i].window.errors;
		}
		T->in_flight += s->in_flight;
		if (f->cache.hit_rate_all >= 0) {
			hit_num += f->cache.hit_rate_all * (double)s->requests;
			hit_den += (double)s->requests;
		}
		if (f->cache.present && f->cache.hits + f->cache.misses > 0) {
			hits += (uint64_t)f->cache.hits;
			lookups += (uint64_t)(f->cache.hits + f->cache.misses);
		}
	}
	if (!have_budget)
		T->spend = cost;
	if (hit_den > 0)
		T->hit_all = hit_num / hit_den;
	if (lookups > 0)
		T->hit_cacheable = (double)hits / (double)lookups;
}

/* The table's rows, keeping the selected provider selected. */
static void
console_rows(struct console *c)
{
	size_t n = 0, sel_t = (size_t)-1, k = 0;
	char sel_name[LIMIT_NAME_SIZE] = "";

	if (c->n_rows > 0 && c->selected < c->n_rows) {
		const struct console_row *r = &c->rows[c->selected];
		sel_t = r->t;
		strlcpy_(sel_name, c->targets[r->t].frame.snap.providers[r->p].name,
		    sizeof sel_name);
	}
	for (size_t t = 0; t < c->n_targets; t++)
		if (c->targets[t].have_frame)
			n += c->targets[t].frame.snap.n_providers;
	c->rows = xreallocarray(c->rows, n + 1, sizeof *c->rows);
	for (size_t t = 0; t < c->n_targets; t++)
		for (size_t p = 0;
		     c->targets[t].have_frame && p < c->targets[t].frame.snap.n_providers; p++) {
			if (t == sel_t &&
			    strcmp(c->targets[t].frame.snap.providers[p].name, sel_name) == 0)
				c->selected = k;
			c->rows[k].t = t;
			c->rows[k++].p = p;
		}
	c->n_rows = n;
	if (c->selected >= n)
		c->selected = n > 0 ? n - 1 : 0;
}

/* A label for target t: its instance's id, unless another target has the same one. */
static void
target_label(struct console *c, size_t t)
{
	struct console_target *tg = &c->targets[t];
	const char *id = tg->frame.inst.id;

	if (!tg->have_frame || id[0] == '\0')
		return;
	for (size_t i = 0; i < c->n_targets; i++)
		if (i != t && strcmp(c->targets[i].label, id) == 0) {
			snprintf(tg->label, sizeof tg->label, "#%zu", t + 1);
			return;
		}
	strlcpy_(tg->label, id, sizeof tg->label);
}

/* A probe asked for has a result in target t's new frame: say it. */
static void
console_probe_results(struct console *c, size_t t)
{
	for (size_t i = 0; i < c->n_probes;) {
		const struct provider_snapshot *p;

		if (c->probes[i].t != t ||
		    (p = console_target_provider(c, t, c->probes[i].provider)) == NULL ||
		    p->last_probe_ms == c->probes[i].before_ms || p->last_probe_ms == 0) {
			i++;
			continue;
		}
		if (p->last_probe_ok)
			console_message(c, 0, "%s%s%s: probe ok in %.0f ms", p->name,
			    c->n_targets > 1 ? "@" : "",
			    c->n_targets > 1 ? c->targets[t].label : "",
			    (double)p->last_probe_latency_us / 1000.0);
		else
			console_message(c, 1, "%s%s%s: probe FAILED", p->name,
			    c->n_targets > 1 ? "@" : "",
			    c->n_targets > 1 ? c->targets[t].label : "");
		memmove(c->probes + i, c->probes + i + 1,
		    sizeof c->probes[0] * (c->n_probes - i - 1));
		c->n_probes--;
	}
}

/* Actions' outcomes as the message line: one per target, joined. */
static void
console_results(struct console *c)
{
	struct source_result res[16];
	char line[512] = "";
	size_t off = 0;
	int error = 0;

	for (size_t t = 0; t < c->n_targets; t++) {
		struct console_target *tg = &c->targets[t];
		size_t n = tg->src->ops->results(tg->src, res, nitems(res));

		for (size_t i = 0; i < n && off < sizeof line; i++) {
			off += (size_t)snprintf(line + off, sizeof line - off, "%s%s%s%s",
			    off > 0 ? "; " : "", c->n_targets > 1 ? tg->label : "",
			    c->n_targets > 1 ? ": " : "", res[i].text);
			error |= !res[i].ok;
		}
	}
	if (off == 0)
		return;
	/* Outcomes of one action on several instances arrive apart: keep them together. */
	if (clock_mono_ms() - c->results_ms < 2000 && c->message[0] != '\0' && !c->message_error &&
	    !error && strlen(c->message) + off + 2 < sizeof c->message) {
		char prev[sizeof c->message];
		strlcpy_(prev, c->message, sizeof prev);
		console_message(c, 0, "%s; %s", prev, line);
	} else
		console_message(c, error, "%s", line);
	c->results_ms = clock_mono_ms();
}

void
console_collect(struct console *c)
{
	struct source_event ev[64];
	int changed = 0;
	uint64_t sig;

	for (size_t t = 0; t < c->n_targets; t++) {
		struct console_target *tg = &c->targets[t];
		struct source_link was = tg->link;
		size_t n;

		tg->src->ops->link(tg->src, &tg->link);
		if (was.up != tg->link.up || strcmp(was.why, tg->link.why) != 0)
			changed = 1;
		if (!c->paused && tg->src->ops->take(tg->src, &tg->frame)) {
			tg->have_frame = 1;
			target_label(c, t);
			console_probe_results(c, t);
			changed = 1;
		}
		while ((n = tg->src->ops->events(tg->src, ev, nitems(ev))) > 0) {
			for (size_t i = 0; i < n; i++)
				console_event_insert(c, &ev[i].ev,
				    ev[i].instance[0] != '\0' ? ev[i].instance
				        : c->n_targets > 1    ? tg->label
				                              : "");
			if (n < nitems(ev))
				break;
		}
	}
	console_results(c);
	if (changed) {
		console_rows(c);
		console_totals(c);
	}
	sig = console_signature(c);
	if (sig != c->signature) {
		c->signature = sig;
		c->dirty = 1;
	}
}

void
console_refresh(struct console *c)
{
	for (size_t t = 0; !c->paused && t < c->n_targets; t++)
		c->targets[t].src->ops->poll(c->targets[t].src);
	console_collect(c);
}

int
console_set_theme(struct console *c, const char *name, char **cause)
{
	char *path = theme_path(name);
	struct theme t;
	int rc;

	rc = theme_load_file(&t, path, name, cause);
	free(path);
	c->theme = t; /* on error: the default */
	if (c->color_depth >= 0 && !isendwin())
		color_setup(c);
	c->dirty = 1;
	return rc;
}

/* The provider row under a mouse click, if any. */
static void
console_click(struct console *c)
{
	MEVENT me;
	size_t row;

	if (getmouse(&me) != OK)
		return;
	if (!(me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED)))
		return;
	if (me.y < c->table_y)
		return;
	row = c->table_top + (size_t)(me.y - c->table_y);
	if (row < c->n_rows) {
		c->selected = row;
		c->dirty = 1;
	}
}

/* The selected provider as a command argument: "NAME", "NAME@INSTANCE" in a fleet. */
static void
console_selected_arg(struct console *c, char *out, size_t len)
{
	const struct provider_snapshot *p = console_selected(c);

	out[0] = '\0';
	if (p != NULL)
		snprintf(out, len, c->n_targets > 1 ? "%s@%s" : "%s", p->name,
		    console_selected_target(c)->label);
}

static void
dashboard_key(struct console *c, int is_key, wint_t ch)
{
	const struct console_cmd *cmd;
	char sel[192];
	int key = (int)ch;

	if (is_key && ch == KEY_MOUSE) {
		console_click(c);
		return;
	}
	if (!is_key && ch == 27)
		return;
	if (!is_key && (ch == '\r' || ch == '\n'))
		key = '\n';
	if ((cmd = cmd_by_key(key)) == NULL) {
		if (!is_key && ch < 128 && ch > 32)
			console_message(c, 1, "no command on key '%c'; ? lists them", (int)ch);
		return;
	}
	c->message[0] = '\0';
	if (cmd->flags & CMD_ASK_ARGS) {
		console_selected_arg(c, sel, sizeof sel);
		snprintf(c->cmdline, sizeof c->cmdline, "%s%s%s", cmd->name,
		    (cmd->flags & CMD_PROVIDER) && sel[0] != '\0' ? " " : "",
		    (cmd->flags & CMD_PROVIDER) ? sel : "");
		c->cmdlen = strlen(c->cmdline);
		if (c->cmdlen + 1 < sizeof c->cmdline) {
			c->cmdline[c->cmdlen++] = ' ';
			c->cmdline[c->cmdlen] = '\0';
		}
		c->history_pos = c->n_history;
		c->mode = MODE_CMDLINE;
		c->dirty = 1;
		return;
	}
	/* A key acts on the selected row only (in a fleet: that instance). */
	if ((cmd->flags & CMD_PROVIDER) && c->n_targets > 1) {
		console_selected_arg(c, sel, sizeof sel);
		if (sel[0] != '\0') {
			char *line = xasprintf("%s %s", cmd->name, sel);
			cmd_run_line(c, line, 0);
			free(line);
			return;
		}
	}
	cmd_run_line(c, cmd->name, 0);
}

/* A confirmation that wants the provider's name typed: Enter checks it, Esc cancels. */
static void
confirm_name_key(struct console *c, int is_key, wint_t ch)
{
	size_t n = strlen(c->confirm_typed);

	if ((!is_key && (ch == '\r' || ch == '\n')) || (is_key && ch == KEY_ENTER)) {
		c->mode = MODE_DASHBOARD;
		if (strcmp(c->confirm_typed, c->confirm_name) == 0) {
			c->confirm_name[0] = '\0';
			cmd_run_line(c, c->confirm_line, 1);
		} else {
			console_message(c, 0, "cancelled: %s (typed \"%s\", not \"%s\")",
			    c->confirm_line, c->confirm_typed, c->confirm_name);
			c->confirm_name[0] = '\0';
		}
		return;
	}
	if (!is_key && ch == 27) {
		c->mode = MODE_DASHBOARD;
		c->confirm_name[0] = '\0';
		console_message(c, 0, "cancelled: %s", c->confirm_line);
		return;
	}
	if ((is_key && ch == KEY_BACKSPACE) || (!is_key && (ch == 127 || ch == 8))) {
		if (n > 0)
			c->confirm_typed[n - 1] = '\0';
	} else if (!is_key && ch >= 32 && ch < 127 && n + 1 < sizeof c->confirm_typed) {
		c->confirm_typed[n] = (char)ch;
		c->confirm_typed[n + 1] = '\0';
	}
	console_message(c, 1, "%s%s", c->confirm_what, c->confirm_typed);
}

static void
console_key(struct console *c, int is_key, wint_t ch)
{
	if (is_key && ch == KEY_RESIZE) {
		clearok(curscr, TRUE);
		c->dirty = 1;
		return;
	}
	switch (c->mode) {
	case MODE_DASHBOARD: dashboard_key(c, is_key, ch); break;
	case MODE_HELP:
		if (is_key && (ch == KEY_DOWN || ch == KEY_NPAGE))
			c->help_scroll += ch == KEY_NPAGE ? 10 : 1;
		else if (is_key && (ch == KEY_UP || ch == KEY_PPAGE))
			c->help_scroll -= ch == KEY_PPAGE ? 10 : 1;
		else if (!is_key && (ch == 'j' || ch == 'k'))
			c->help_scroll += ch == 'j' ? 1 : -1;
		else
			c->mode = MODE_DASHBOARD;
		if (c->help_scroll < 0)
			c->help_scroll = 0;
		c->dirty = 1;
		break;
	case MODE_CMDLINE: cmdline_key(c, is_key, ch); break;
	case MODE_INSTANCES:
		c->mode = MODE_DASHBOARD;
		c->dirty = 1;
		break;
	case MODE_EVENTS:
		if (is_key && (ch == KEY_UP || ch == KEY_PPAGE))
			c->event_view_scroll += ch == KEY_PPAGE ? LINES - 5 : 1;
		else if (is_key && (ch == KEY_DOWN || ch == KEY_NPAGE))
			c->event_view_scroll -= ch == KEY_NPAGE ? LINES - 5 : 1;
		else if (!is_key && (ch == 'k' || ch == 'j'))
			c->event_view_scroll += ch == 'k' ? 1 : -1;
		else if (!is_key && ch == '/')
			dashboard_key(c, is_key, ch);
		else
			c->mode = MODE_DASHBOARD;
		if (c->event_view_scroll < 0)
			c->event_view_scroll = 0;
		c->dirty = 1;
		break;
	case MODE_CONFIRM:
		if (c->confirm_name[0] != '\0') {
			confirm_name_key(c, is_key, ch);
			break;
		}
		c->mode = MODE_DASHBOARD;
		if (!is_key && (ch == 'y' || ch == 'Y'))
			cmd_run_line(c, c->confirm_line, 1);
		else
			console_message(c, 0, "cancelled: %s", c->confirm_line);
		break;
	case MODE_REQUESTS: reqview_key(c, is_key, ch); break;
	case MODE_KEYS: keyview_key(c, is_key, ch); break;
	case MODE_PROMPT:
		if (!is_key && ch == 27) {
			wint_t next;
			/* Alt-Enter arrives as ESC then Enter; ESC alone closes. */
			if (get_wch(&next) == OK) {
				if (next == '\r' || next == '\n') {
					prompt_key(c, 1, KEY_SEND);
					break;
				}
				unget_wch(next);
			}
		}
		prompt_key(c, is_key, ch);
		break;
	}
}

static void
console_input(struct console *c)
{
	wint_t ch;
	int rc;

	while ((rc = get_wch(&ch)) != ERR) {
		console_key(c, rc == KEY_CODE_YES, ch);
		if (c->quit)
			break;
	}
}

static int
wake_setup(struct console *c)
{
	if (pipe(c->wake) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(c->wake[i], F_SETFL, fcntl(c->wake[i], F_GETFL) | O_NONBLOCK);
		fcntl(c->wake[i], F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

/* Why colours are off, or NULL if they are not. */
static const char *
console_no_color(struct console *c)
{
	const char *nc = getenv("NO_COLOR");

	if (c->no_color)
		return "--no-color";
	if (nc != NULL && *nc != '\0')
		return "NO_COLOR is set";
	return NULL;
}

/* 24-bit when the terminal says so, else what curses reports; 0 for none. */
static int
console_depth(struct console *c)
{
	const char *ct = getenv("COLORTERM");

	if (console_no_color(c) != NULL || !has_colors())
		return 0;
	start_color(); /* COLORS is known only after this */
	if (ct != NULL && (strcmp(ct, "truecolor") == 0 || strcmp(ct, "24bit") == 0) &&
	    COLORS >= 256 && can_change_color())
		return 24;
	if (COLORS >= 256)
		return 256;
	if (COLORS >= 16)
		return 16;
	return COLORS >= 8 ? 8 : 0;
}

static void
console_loop(struct console *c)
{
	struct pollfd pfd[2];
	char drain[256];

	console_refresh(c);
	c->next_refresh_ms = clock_mono_ms() + (uint64_t)c->refresh_ms;
	c->dirty = 1;
	while (!c->quit) {
		uint64_t now = clock_mono_ms();
		int timeout;

		if (c->dirty) {
			draw_screen(c);
			c->dirty = 0;
		}
		timeout = now >= c->next_refresh_ms ? 0 : (int)(c->next_refresh_ms - now);
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		/* A resize interrupts poll(); curses reports it as KEY_RESIZE. */
		console_input(c);
		if (pfd[1].revents & POLLIN) {
			while (read(c->wake[0], drain, sizeof drain) > 0)
				;
			console_collect(c);
		}
		if (c->prompt != NULL && prompt_poll(c))
			c->dirty = 1;
		if (drill_poll(c))
			c->dirty = 1;
		if (reqview_poll(c))
			c->dirty = 1;
		if (keyview_poll(c))
			c->dirty = 1;
		if (c->message[0] != '\0' && !c->message_error && c->mode != MODE_CONFIRM &&
		    clock_mono_ms() - c->message_ms > 8000) {
			c->message[0] = '\0';
			c->dirty = 1;
		}
		if (clock_mono_ms() >= c->next_refresh_ms) {
			console_refresh(c);
			c->next_refresh_ms = clock_mono_ms() + (uint64_t)c->refresh_ms;
		}
	}
}

static void
console_wake_cb(void *arg)
{
	console_wake(arg);
}

/* Add a target (the console owns the source). */
void
console_add_target(struct console *c, struct source *src)
{
	struct console_target *t;

	c->targets = xreallocarray(c->targets, c->n_targets + 1, sizeof *c->targets);
	t = &c->targets[c->n_targets++];
	memset(t, 0, sizeof *t);
	t->src = src;
	strlcpy_(t->label, src->name, sizeof t->label);
	/* A socket path or URL is long: its last part is enough until the id is known. */
	if (strchr(src->name, '/') != NULL) {
		const char *b = strrchr(src->name, '/') + 1;
		if (*b != '\0')
			strlcpy_(t->label, b, sizeof t->label);
	}
	src->ops->link(src, &t->link);
}

struct source *
console_remote(struct console *c, const char *target, const char *token)
{
	if (c->engine == NULL)
		c->engine = http_engine_new(NULL);
	return source_remote_new(target, token, c->engine, console_wake_cb, c);
}

void
console_free(struct console *c)
{
	if (c->gateway != NULL)
		gateway_stop(c->gateway); /* applications first: no new requests */
	if (c->demo != NULL)
		demo_load_stop(c->demo); /* the load first: no new requests */
	/* No transfer calls a remote source back once its engine is gone. */
	if (c->engine != NULL)
		http_engine_free(c->engine);
	for (size_t t = 0; t < c->n_targets; t++) {
		c->targets[t].src->ops->free(c->targets[t].src);
		source_frame_free(&c->targets[t].frame);
	}
	free(c->targets);
	free(c->rows);
	if (c->router != NULL)
		router_free(c->router); /* every done callback has run */
	if (c->prompt != NULL)
		prompt_free(c->prompt);
	reqview_free(c->reqview); /* after the engine: no call can come back */
	keyview_free(c->keyview); /* and before the store: its reader stops */
	if (c->drill != NULL)
		drill_stop(c->drill);
	if (c->demo != NULL)
		demo_stop(c->demo);
	if (c->store != NULL)
		store_close(c->store);
	config_free(&c->cfg);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
}

/* The command line into c and *listen: 0, 1 when done (--help, --commands), -1 on a usage
 * error (its message printed). */
static int
console_parse(struct console *c, int argc, char **argv, const char **listen)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'b'},
	    {"demo", no_argument, NULL, 'd'},
	    {"demo-rate", required_argument, NULL, 'r'},
	    {"theme", required_argument, NULL, 't'},
	    {"no-color", no_argument, NULL, 'n'},
	    {"readonly", no_argument, NULL, 'R'},
	    {"listen", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"commands", no_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:b:dr:t:nRl:hC", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': c->config_path = optarg; break;
		case 'b': c->db_path = optarg; break;
		case 'd': c->demo_on = 1; break;
		case 't': c->theme_name = optarg; break;
		case 'n': c->no_color = 1; break;
		case 'R': c->readonly = 1; break;
		case 'l': *listen = optarg; break;
		case 'r':
			if (parse_double(optarg, 0, 1000, &c->demo_rate) != 0) {
				fprintf(stderr,
				    "llmdeck: --demo-rate: expected requests per second 0..1000, "
				    "got \"%s\"\n",
				    optarg);
				console_usage(stderr);
				return -1;
			}
			break;
		case 'h': console_usage(stdout); return 1;
		case 'C': print_commands(); return 1;
		default: console_usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck: unexpected argument \"%s\"\n", argv[optind]);
		console_usage(stderr);
		return -1;
	}
	return console_check_theme(c->theme_name);
}

/* --theme NAME: a name the themes directory does not have is a usage error that
 * lists the ones it has (a path is read later: its errors name the line). */
int
console_check_theme(const char *name)
{
	char *list;

	/* "default" is built in: it needs no file. */
	if (strchr(name, '/') != NULL || strcmp(name, "default") == 0 || theme_known(name))
		return 0;
	list = theme_names_joined();
	fprintf(stderr, "llmdeck: --theme: no theme \"%s\" (themes: %s; or give a file's path)\n",
	    name, list);
	free(list);
	return -1;
}

/* Config (or the demo), store, router and the --listen gateway: 0, or the exit code with
 * the message printed. A database that cannot be opened is refused, as every command
 * refuses it. */
static int
console_open(struct console *c, const char *listen, char **dbpath)
{
	struct router_opts ro;
	char *cause = NULL;
	int rc = EXIT_USAGE;

	if (c->demo_on)
		c->demo = demo_start(&c->cfg, &cause);
	if (c->demo_on ? c->demo == NULL : config_load(&c->cfg, c->config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck: %s\n", cause);
		goto out;
	}
	if (c->cfg.n_providers == 0) {
		fprintf(stderr,
		    "llmdeck: no providers: set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
		    "give --config FILE, or try llmdeck --demo\n");
		goto out;
	}
	/* The demo's database is demo.db beside the real one: demo spend never mixes in. */
	if ((c->db_path == NULL && c->demo_on &&
	        (c->db_path = *dbpath = store_state_path("demo.db", &cause)) == NULL) ||
	    llmdeck_open_store(&c->store, c->db_path, &c->cfg, &cause) != 0) {
		fprintf(stderr, "llmdeck: %s\n", cause);
		c->store = NULL;
		rc = EXIT_FAILED;
		goto out;
	}
	memset(&ro, 0, sizeof ro);
	ro.store = c->store; /* ledger, budget, cache, events, overrides */
	if ((c->router = router_new(&c->cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck: %s\n", cause);
		goto out;
	}
	if (listen != NULL) {
		struct gateway_opts go;
		const char *url;

		gateway_opts_init(&go);
		go.listen = listen;
		go.store = c->store;
		/* Attachable like serve: the admin API, and the Unix socket `attach` finds. */
		go.local_socket = 1;
		go.version = LLMDECK_VERSION;
		go.config_path = c->cfg.path;
		if ((c->gateway = gateway_start(c->router, &go, &cause)) == NULL) {
			fprintf(stderr, "llmdeck: --listen: %s\n", cause);
			rc = EXIT_FAILED;
			goto out;
		}
		url = gateway_url(c->gateway);
		strlcpy_(c->serving, strncmp(url, "http://", 7) == 0 ? url + 7 : url,
		    sizeof c->serving);
		event_add(router_events(c->router), EV_INFO, NULL, "gateway listening on %s", url);
	}
	console_add_target(c,
	    source_local_new(c->router, c->store, &c->cfg,
	        c->gateway != NULL ? gateway_url(c->gateway) : NULL,
	        c->gateway != NULL ? gateway_instance(c->gateway) : NULL));
	rc = 0;
out:
	free(cause);
	return rc;
}

/* curses on, colours by the terminal's depth, and the first message. */
static void
console_screen_start(struct console *c, const char *theme_error)
{
	if (getenv("ESCDELAY") == NULL)
		set_escdelay(25);
	initscr();
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	c->mouse = mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL) != 0;
	mouseinterval(0);
	c->color_depth = console_depth(c);
	color_setup(c);
	if (theme_error != NULL)
		console_message(c, 1, "%s; using the default theme", theme_error);
	else if (c->gateway != NULL)
		console_message(c, 0, "serving on %s: applications can send requests here",
		    c->serving);
	else if (c->readonly)
		console_message(c, 0, "read-only: actions are refused");
}

/* The UI on the targets already added: wake-up pipe, theme, drills, curses and the
 * loop until quit. 0, or an exit code with the message printed. */
int
console_ui(struct console *c)
{
	char *theme_error = NULL;

	if (c->wake[0] < 0 && wake_setup(c) != 0) {
		fprintf(stderr, "llmdeck: pipe: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	if (console_set_theme(c, c->theme_name, &theme_error) != 0)
		c->theme_name = "default";
	c->drill = drill_start(c);
	console_screen_start(c, theme_error);
	free(theme_error);
	console_loop(c);
	endwin();
	return 0;
}

struct console *
console_new(void)
{
	struct console *c = xcalloc(1, sizeof *c);

	c->wake[0] = c->wake[1] = -1;
	c->demo_rate = 5;
	c->refresh_ms = 500;
	c->color_depth = -1;
	c->theme_name = "default";
	config_init(&c->cfg);
	return c;
}

int
console_main(int argc, char **argv)
{
	struct console *c;
	char *dbpath = NULL;
	const char *listen = NULL;
	int rc;

	c = console_new();
	if ((rc = console_parse(c, argc, argv, &listen)) != 0) {
		config_free(&c->cfg);
		free(c);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr,
		    "llmdeck: the console needs a terminal; try 'llmdeck ask' or "
		    "'llmdeck status'\n");
		config_free(&c->cfg);
		free(c);
		return EXIT_USAGE;
	}

	setlocale(LC_ALL, "");
	c->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	if (c->demo_on || listen != NULL)
		llmdeck_raise_fd_limit(); /* the demo's simulated providers, the gateway's clients */
	if ((rc = console_open(c, listen, &dbpath)) != 0)
		goto out;
	if (wake_setup(c) != 0) {
		fprintf(stderr, "llmdeck: pipe: %s\n", strerror(errno));
		rc = EXIT_FAILED;
		goto out;
	}
	c->prompt = prompt_new(c);
	event_add(router_events(c->router), EV_INFO, NULL, "console started%s%s",
	    c->demo_on ? " (demo)" : "", c->readonly ? " read-only" : "");
	if (c->demo != NULL)
		demo_load_start(c->demo, c->router, c->demo_rate);
	rc = console_ui(c);
out:
	console_free(c);
	free(dbpath);
	free(c);
	curl_global_cleanup();
	return rc;
}
