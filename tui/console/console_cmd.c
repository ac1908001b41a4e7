/*
 * console_cmd.c: the console's one command table. Keys, the ":" command line,
 * Tab completion, confirmations, --readonly refusals and the "?" help overlay
 * are all driven by console_cmds[]; help text lives only here.
 */
#include "console/console.h"

#include <curses.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "config/config_limits.h"
#include "util/util.h"

#define MAX_ARGS 64 /* :prompt TEXT takes a word each */

/* The selected row's provider as an argument: "NAME", or "NAME@INSTANCE" in a fleet. */
static void
selected_arg(struct console *c, char *out, size_t len)
{
	const struct provider_snapshot *p = console_selected(c);
	struct console_target *t = console_selected_target(c);

	out[0] = '\0';
	if (p == NULL)
		return;
	if (c->n_targets > 1)
		snprintf(out, len, "%s@%s", p->name, t->label);
	else
		snprintf(out, len, "%s", p->name);
}

static int
exec_help(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->mode = MODE_HELP;
	c->help_scroll = 0;
	return 0;
}

static int
exec_command(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->mode = MODE_CMDLINE;
	c->cmdline[0] = '\0';
	c->cmdlen = 0;
	c->history_pos = c->n_history;
	return 0;
}

static int
exec_move(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)cause;
	if (c->n_rows == 0)
		return 0;
	if (strcmp(argv[0], "down") == 0 && c->selected + 1 < c->n_rows)
		c->selected++;
	else if (strcmp(argv[0], "up") == 0 && c->selected > 0)
		c->selected--;
	return 0;
}

static int
exec_select(struct console *c, int argc, char **argv, char **cause)
{
	size_t ts[1];
	char name[128];

	(void)argc, (void)cause;
	if (console_resolve(c, argv[1], ts, 1, name, sizeof name) == 0)
		return 0;
	for (size_t i = 0; i < c->n_rows; i++)
		if (c->rows[i].t == ts[0] &&
		    strcmp(c->targets[ts[0]].frame.snap.providers[c->rows[i].p].name, name) == 0)
			c->selected = i;
	return 0;
}

/*
 * An action on every target arg names (a provider, "NAME@INSTANCE", or "all"
 * for every provider of every target). delta != 0: the priority moves by delta
 * from each target's own. Outcomes come back as messages (console_collect).
 */
static int
console_act(struct console *c, const char *arg, enum source_action a, double value, int delta,
    char **cause)
{
	size_t ts[64], n, sent = 0;
	char name[128], *why = NULL;

	if (arg == NULL || strcmp(arg, "all") == 0) {
		n = c->n_targets < nitems(ts) ? c->n_targets : nitems(ts);
		for (size_t i = 0; i < n; i++)
			ts[i] = i;
		name[0] = '\0';
	} else if ((n = console_resolve(c, arg, ts, nitems(ts), name, sizeof name)) == 0) {
		*cause = xasprintf("%s: no provider \"%s\"", source_action_name(a), arg);
		return -1;
	}
	undo_remember(c, arg, a);
	/* Stored for every instance on the database: sent once per database (a breaker
	 * reset and a probe are each instance's own). */
	if (strchr(arg != NULL ? arg : "", '@') == NULL && a != SA_RESET && a != SA_PROBE)
		n = console_once_per_store(c, ts, n);
	for (size_t i = 0; i < n; i++) {
		struct console_target *t = &c->targets[ts[i]];
		const struct provider_snapshot *p = console_target_provider(c, ts[i], name);
		double v = value;

		if (delta != 0 && p != NULL) {
			long prio = (long)p->priority + delta;
			v = prio < LIMIT_PRIORITY_MIN   ? LIMIT_PRIORITY_MIN
			    : prio > LIMIT_PRIORITY_MAX ? LIMIT_PRIORITY_MAX
			                                : (double)prio;
		}
		/* NAME@INSTANCE: stored for that instance only, as the gateway's NAME@ID. */
		char target[200];
		if (strchr(arg != NULL ? arg : "", '@') != NULL && a != SA_RESET && a != SA_PROBE)
			snprintf(target, sizeof target, "%s@%s", name, t->label);
		else
			snprintf(target, sizeof target, "%s", name);
		if (t->src->ops->act(t->src, a, target, v, &why) != 0) {
			free(*cause);
			*cause =
			    c->n_targets > 1 ? xasprintf("%s: %s", t->label, why) : xstrdup(why);
			free(why);
			why = NULL;
			continue;
		}
		sent++;
		if (a == SA_PROBE && p != NULL && c->n_probes < CONSOLE_PROBES) {
			c->probes[c->n_probes].t = ts[i];
			strlcpy_(c->probes[c->n_probes].provider, name,
			    sizeof c->probes[0].provider);
			c->probes[c->n_probes].before_ms = p->last_probe_ms;
			c->n_probes++;
		}
	}
	console_collect(c);
	return sent > 0 ? 0 : -1;
}

static int
exec_admin(struct console *c, int argc, char **argv, char **cause)
{
	enum source_action a = SA_ENABLE;

	(void)argc;
	if (strcmp(argv[0], "failover") == 0)
		a = SA_DRAIN;
	else if (strcmp(argv[0], "disable") == 0)
		a = SA_DISABLE;
	return console_act(c, argv[1], a, 0, 0, cause);
}

static int
exec_reset(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc;
	return console_act(c, argv[1], SA_RESET, 0, 0, cause);
}

static int
exec_clear(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc;
	return console_act(c, argv[1], SA_CLEAR_OVERRIDES, 0, 0, cause);
}

static int
exec_probe(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc;
	return console_act(c, argv[1], SA_PROBE, 0, 0, cause);
}

static int
exec_priority(struct console *c, int argc, char **argv, char **cause)
{
	long prio;

	(void)argc;
	if (strcmp(argv[0], "priority") == 0) {
		if (parse_long(argv[2], LIMIT_PRIORITY_MIN, LIMIT_PRIORITY_MAX, &prio) != 0) {
			*cause = xasprintf("priority: expected an integer %d..%d, got \"%s\"",
			    LIMIT_PRIORITY_MIN, LIMIT_PRIORITY_MAX, argv[2]);
			return -1;
		}
		return console_act(c, argv[1], SA_PRIORITY, (double)prio, 0, cause);
	}
	return console_act(c, argv[1], SA_PRIORITY, 0, strcmp(argv[0], "raise") == 0 ? -1 : 1,
	    cause);
}

static int
exec_weight(struct console *c, int argc, char **argv, char **cause)
{
	double w;

	(void)argc;
	if (parse_double(argv[2], LIMIT_WEIGHT_MIN, LIMIT_WEIGHT_MAX, &w) != 0) {
		*cause = xasprintf("weight: expected a number %g..%g, got \"%s\"", LIMIT_WEIGHT_MIN,
		    LIMIT_WEIGHT_MAX, argv[2]);
		return -1;
	}
	return console_act(c, argv[1], SA_WEIGHT, w, 0, cause);
}

static int
exec_flush(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv;
	return console_act(c, NULL, SA_FLUSH, 0, 0, cause);
}

/* Attached: the drill runs inside each gateway's router (POST .../drill), for real
 * providers too: NAME FAULT [RATE] [SECONDS] (RATE default 1, SECONDS default 60). */
static int
exec_drill_gateway(struct console *c, int argc, char **argv, char **cause)
{
	size_t ts[64], n, sent = 0;
	char name[128], *why = NULL;
	double rate = 1;
	long secs = 60;

	if (argc >= 4 && parse_double(argv[3], 0.01, 1, &rate) != 0) {
		*cause =
		    xasprintf("drill: RATE is a share of attempts 0.01..1, got \"%s\"", argv[3]);
		return -1;
	}
	if (argc >= 5 && parse_long(argv[4], 1, 3600, &secs) != 0) {
		*cause = xasprintf("drill: SECONDS is 1..3600, got \"%s\"", argv[4]);
		return -1;
	}
	if ((n = console_resolve(c, argv[1], ts, nitems(ts), name, sizeof name)) == 0) {
		*cause = xasprintf("drill: no provider \"%s\"", argv[1]);
		return -1;
	}
	if (strchr(argv[1], '@') == NULL)
		n = console_once_per_store(c, ts, n); /* one drill row per database */
	for (size_t i = 0; i < n; i++) {
		struct source *src = c->targets[ts[i]].src;
		char target[200];
		if (strchr(argv[1], '@') != NULL)
			snprintf(target, sizeof target, "%s@%s", name, c->targets[ts[i]].label);
		else
			snprintf(target, sizeof target, "%s", name);
		if (src->ops->drill == NULL ||
		    src->ops->drill(src, target, argv[2], rate, (int)secs, &why) != 0) {
			free(*cause);
			*cause =
			    why != NULL ? why : xasprintf("drill: not offered by %s", src->name);
			why = NULL;
			continue;
		}
		sent++;
	}
	console_collect(c);
	return sent > 0 ? 0 : -1;
}

static int
exec_drill(struct console *c, int argc, char **argv, char **cause)
{
	size_t ts[1];
	char name[128];
	const struct provider_snapshot *p;

	if (c->router == NULL)
		return exec_drill_gateway(c, argc, argv, cause);
	if (console_resolve(c, argv[1], ts, 1, name, sizeof name) == 0 ||
	    (p = console_target_provider(c, ts[0], name)) == NULL) {
		*cause = xasprintf("drill: no provider \"%s\"", argv[1]);
		return -1;
	}
	if (drill_post(c->drill, p->name, p->base_url, argv[2], cause) != 0)
		return -1;
	console_message(c, 0, "%s: drill \"%s\" sent", p->name, argv[2]);
	return 0;
}

static int
exec_prompt(struct console *c, int argc, char **argv, char **cause)
{
	if (c->router != NULL) {
		prompt_open(c);
		return 0;
	}
	/* Attached: through the selected instance's admin API (console_requests.c). */
	if (argc < 2) {
		snprintf(c->cmdline, sizeof c->cmdline, "prompt ");
		c->cmdlen = strlen(c->cmdline);
		c->history_pos = c->n_history;
		c->mode = MODE_CMDLINE;
		c->dirty = 1;
		return 0;
	}
	return reqview_prompt(c, argc, argv, cause);
}

static int
exec_keys(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	keyview_open(c);
	return 0;
}

static int
exec_requests(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	reqview_open(c);
	return 0;
}

static int
exec_theme(struct console *c, int argc, char **argv, char **cause)
{
	char **names, *name;
	size_t n, i;
	int rc;

	if (c->color_depth == 0) {
		const char *nc = getenv("NO_COLOR");
		*cause = xasprintf("themes are off: %s",
		    c->no_color                     ? "the console was started with --no-color"
		        : nc != NULL && *nc != '\0' ? "NO_COLOR is set"
		                                    : "the terminal has no colours");
		return -1;
	}
	n = theme_list(&names);
	if (argc >= 2)
		name = xstrdup(argv[1]);
	else {
		/* No name: the next theme in the directory. */
		for (i = 0; i < n; i++)
			if (strcmp(names[i], c->theme.name) == 0)
				break;
		name = xstrdup(n == 0 ? "default" : names[i >= n ? 0 : (i + 1) % n]);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	rc = console_set_theme(c, name, cause);
	if (rc == 0)
		console_message(c, 0, "theme %s", name);
	else if (strchr(name, '/') == NULL && !theme_known(name)) {
		char *list = theme_names_joined();
		free(*cause);
		*cause =
		    xasprintf("no theme \"%s\" (themes: %s); using the default theme", name, list);
		free(list);
	} else {
		char *why = *cause;
		*cause = xasprintf("%s; using the default theme", why);
		free(why);
	}
	free(name);
	return rc;
}

static int
exec_pause(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->paused = !c->paused;
	console_message(c, 0, c->paused ? "display paused (Space resumes)" : "display resumed");
	return 0;
}

static int
exec_refresh(struct console *c, int argc, char **argv, char **cause)
{
	long ms;

	(void)argc;
	if (parse_long(argv[1], 100, 10000, &ms) != 0) {
		*cause =
		    xasprintf("refresh: expected milliseconds 100..10000, got \"%s\"", argv[1]);
		return -1;
	}
	c->refresh_ms = (int)ms;
	c->next_refresh_ms = 0;
	console_message(c, 0, "refresh every %ld ms", ms);
	return 0;
}

static int
exec_log(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)cause;
	c->event_scroll += strcmp(argv[0], "log-up") == 0 ? 5 : -5;
	if (c->event_scroll < 0)
		c->event_scroll = 0;
	if ((size_t)c->event_scroll >= c->n_events)
		c->event_scroll = c->n_events > 0 ? (int)c->n_events - 1 : 0;
	return 0;
}

/* :filter TEXT, :filter KIND (operator, breaker, ...), :filter off. */
static int
exec_filter(struct console *c, int argc, char **argv, char **cause)
{
	char f[128];

	(void)cause;
	c->event_scroll = c->event_view_scroll = 0;
	if (argc < 2 || strcmp(argv[1], "off") == 0) {
		c->event_class[0] = c->event_text[0] = '\0';
		console_message(c, 0, "event filter off");
		return 0;
	}
	for (size_t i = 0; event_classes[i] != NULL; i++)
		if (argc == 2 && strcmp(argv[1], event_classes[i]) == 0) {
			strlcpy_(c->event_class, argv[1], sizeof c->event_class);
			console_message(c, 0, "events: only %s (:filter off shows all)", argv[1]);
			return 0;
		}
	c->event_text[0] = c->event_class[0] = '\0';
	for (int i = 1; i < argc; i++) {
		size_t n = strlen(c->event_text);
		snprintf(c->event_text + n, sizeof c->event_text - n, "%s%s", i > 1 ? " " : "",
		    argv[i]);
	}
	event_filter_words(c, f, sizeof f);
	console_message(c, 0, "events: %s (:filter off shows all)", f);
	return 0;
}

static int
exec_events(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->mode = MODE_EVENTS;
	c->event_view_scroll = 0;
	return 0;
}

/* :token T: a new admin token for every attached instance (none: unset it). */
static int
exec_token(struct console *c, int argc, char **argv, char **cause)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_targets; i++)
		if (c->targets[i].src->ops->set_token != NULL) {
			c->targets[i].src->ops->set_token(c->targets[i].src,
			    argc >= 2 ? argv[1] : NULL);
			n++;
		}
	if (n == 0) {
		*cause = xstrdup("token: only an attached console sends one");
		return -1;
	}
	console_message(c, 0, "admin token %s for %zu instance%s; trying now",
	    argc >= 2 ? "set" : "unset", n, n == 1 ? "" : "s");
	return 0;
}

static int
exec_undo(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv;
	return undo_last(c, cause);
}

static int
exec_quit(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->quit = 1;
	return 0;
}

static int
exec_instances(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->mode = MODE_INSTANCES;
	return 0;
}

#define RO CMD_READONLY_OK
#define PROV CMD_PROVIDER

const struct console_cmd console_cmds[] = {
    {"help", NULL, '?', KEY_F(1), "",
        "show every key and command, and what each column and state means (this screen)", RO, 0,
        exec_help},
    {"command", NULL, ':', 0, "", "open the command line; Tab completes names, Up/Down history", RO,
        0, exec_command},
    {"down", NULL, 'j', KEY_DOWN, "", "select the next provider (or click a row)", RO, 0,
        exec_move},
    {"up", NULL, 'k', KEY_UP, "", "select the previous provider", RO, 0, exec_move},
    {"select", NULL, 0, 0, "NAME", "select a provider by name", RO | PROV, 0, exec_select},
    {"failover", "drain", 'f', 0, "[NAME]",
        "drain a provider: new traffic moves to the next one at once",
        CMD_DESTRUCTIVE | CMD_CONFIRM | PROV, 0, exec_admin},
    {"enable", NULL, 'e', 0, "[NAME]", "enable a provider (also ends a drain)", PROV, 0,
        exec_admin},
    {"disable", NULL, 'd', 0, "[NAME]", "disable a provider: no traffic until enabled",
        CMD_DESTRUCTIVE | CMD_CONFIRM | PROV, 0, exec_admin},
    {"reset", NULL, 'r', 0, "[NAME]", "reset a provider's circuit breaker to closed", PROV, 0,
        exec_reset},
    {"probe", NULL, 'P', 0, "[NAME]", "send a health probe to a provider now; its result shows",
        PROV, 0, exec_probe},
    {"priority", "prio", 0, 0, "NAME N", "set a provider's priority (lower is preferred)", PROV, 1,
        exec_priority},
    {"raise", NULL, '+', 0, "[NAME]", "raise a provider's priority (number - 1)", PROV, 0,
        exec_priority},
    {"lower", NULL, '-', 0, "[NAME]", "lower a provider's priority (number + 1)", PROV, 0,
        exec_priority},
    {"weight", NULL, 'w', 0, "NAME W", "set a provider's weight within its priority",
        PROV | CMD_ASK_ARGS, 1, exec_weight},
    {"clear-overrides", "unset", 'U', 0, "[NAME|all]",
        "drop a provider's saved overrides: back to the config's values",
        CMD_DESTRUCTIVE | CMD_CONFIRM | PROV | CMD_ALL_OK, 0, exec_clear},
    {"undo", NULL, 'u', 0, "",
        "take back this console's last override (state, priority or weight), as it was before", 0,
        0, exec_undo},
    {"flush", NULL, 'F', 0, "", "flush the response cache", CMD_DESTRUCTIVE | CMD_CONFIRM, 0,
        exec_flush},
    {"drill", NULL, 'D', 0, "NAME FAULT [RATE] [SECONDS]",
        "fault drill: embedded, on a simulated provider (500 429 529 slow hang down none); "
        "attached, inside the gateways for any provider (500 429 503 529 hang slow drop malformed "
        "none; RATE 0..1, default 1; SECONDS default 60), on every instance on the database, or "
        "NAME@INSTANCE on that one only",
        PROV | CMD_ASK_ARGS | CMD_CONFIRM_ATTACHED, 1, exec_drill},
    {"prompt", NULL, 'p', 0, "[--provider NAME] [TEXT]",
        "send a test prompt: embedded, a panel (route, provider, model, temperature); attached, "
        "TEXT through the selected instance (kept out of client figures), answer with who "
        "answered, attempts, latency, cost, cache",
        0, 0, exec_prompt},
    {"requests", NULL, 'R', 0, "",
        "the live request view: requests in flight (oldest first) and recent ones; Enter shows "
        "one's attempts, timings, errors and cost",
        RO, 0, exec_requests},
    {"keys", NULL, 'K', 0, "",
        "teams and keys: spend today, burn, share, 429s, budget left, state; s sorts", RO, 0,
        exec_keys},
    {"token", NULL, 0, 0, "[TOKEN]",
        "the admin token sent to attached instances (after a 401); none: send none", RO, 0,
        exec_token},
    {"instances", NULL, 0, 0, "",
        "the instances: state (draining too), pid, host, version, uptime, config (drift marked), "
        "admin address, and what their clients get",
        RO, 0, exec_instances},
    {"theme", NULL, 't', 0, "[NAME]", "switch the theme; no name: the next one", RO, 0, exec_theme},
    {"pause", NULL, ' ', 0, "", "pause or resume the display", RO, 0, exec_pause},
    {"refresh", NULL, 0, 0, "MS", "set the refresh period (100..10000 ms)", RO, 1, exec_refresh},
    {"filter", NULL, '/', 0, "[TEXT|KIND|off]",
        "filter the event log: by text, or by kind (operator breaker failover drill probe "
        "budget); off shows all",
        RO | CMD_ASK_ARGS, 0, exec_filter},
    {"events", NULL, 'E', 0, "", "the event log full screen, with the history that does not fit",
        RO, 0, exec_events},
    {"log-up", NULL, KEY_PPAGE, '[', "", "scroll the event log back", RO, 0, exec_log},
    {"log-down", NULL, KEY_NPAGE, ']', "", "scroll the event log forward", RO, 0, exec_log},
    {"quit", "q", 'q', 0, "", "leave the console", RO | CMD_CONFIRM_SERVING, 0, exec_quit},
};
const size_t console_ncmds = nitems(console_cmds);

const struct console_cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < console_ncmds; i++)
		if (strcmp(console_cmds[i].name, name) == 0 ||
		    (console_cmds[i].alias != NULL && strcmp(console_cmds[i].alias, name) == 0))
			return &console_cmds[i];
	return NULL;
}

const struct console_cmd *
cmd_by_key(int key)
{
	for (size_t i = 0; i < console_ncmds; i++)
		if (key != 0 && (console_cmds[i].key == key || console_cmds[i].key2 == key))
			return &console_cmds[i];
	return NULL;
}

const char *
cmd_key_name(int key, char *buf, size_t len)
{
	switch (key) {
	case 0: return "";
	case KEY_UP: return "Up";
	case KEY_DOWN: return "Down";
	case KEY_PPAGE: return "PgUp";
	case KEY_NPAGE: return "PgDn";
	case KEY_F(1): return "F1";
	case ' ': return "Space";
	case '\n': return "Enter";
	}
	snprintf(buf, len, "%c", key);
	return buf;
}

static void
provider_names(struct console *c, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < c->n_rows && off < len; i++) {
		const struct console_row *r = &c->rows[i];
		const char *name = c->targets[r->t].frame.snap.providers[r->p].name;
		int dup = 0;
		for (size_t k = 0; k < i && !dup; k++)
			dup =
			    strcmp(c->targets[c->rows[k].t].frame.snap.providers[c->rows[k].p].name,
			        name) == 0;
		if (!dup)
			off +=
			    (size_t)snprintf(out + off, len - off, "%s%s", off ? ", " : "", name);
	}
}

/* Where an action lands, for its confirmation: "" with one embedded router, else
 * " on INSTANCE only" for NAME@INSTANCE (stored for that instance alone), or
 * " on every instance" (every one on the database): an override is stored
 * in the database every instance on it shares. */
static void
confirm_where(struct console *c, const struct console_cmd *cmd, const char *arg, char *out,
    size_t len)
{
	size_t ts[64], n = c->n_targets < nitems(ts) ? c->n_targets : nitems(ts), off;
	char name[128];

	out[0] = '\0';
	if (!c->attached && c->n_targets <= 1)
		return;
	if ((cmd->flags & CMD_PROVIDER) && arg != NULL && strcmp(arg, "all") != 0)
		n = console_resolve(c, arg, ts, nitems(ts), name, sizeof name);
	else
		for (size_t i = 0; i < n; i++)
			ts[i] = i;
	if (arg != NULL && strchr(arg, '@') != NULL && (cmd->flags & CMD_PROVIDER) &&
	    strcmp(cmd->name, "probe") != 0 && strcmp(cmd->name, "reset") != 0) {
		off = (size_t)snprintf(out, len, " on");
		for (size_t i = 0; i < n && off < len; i++)
			off += (size_t)snprintf(out + off, len - off, "%s %s", i ? "," : "",
			    c->targets[ts[i]].label);
		if (off < len)
			snprintf(out + off, len - off, " only");
		return;
	}
	if (!(cmd->flags & CMD_PROVIDER) || strcmp(cmd->name, "probe") == 0 ||
	    strcmp(cmd->name, "reset") == 0) {
		if (strcmp(cmd->name, "flush") == 0) /* a database's cache, flushed once */
			n = console_once_per_store(c, ts, n);
		off = (size_t)snprintf(out, len, " on");
		for (size_t i = 0; i < n && off < len; i++)
			off += (size_t)snprintf(out + off, len - off, "%s %s", i ? "," : "",
			    c->targets[ts[i]].label);
		return;
	}
	/* Stored once per database, through one instance on it, for all of them. */
	size_t all = n;
	n = console_once_per_store(c, ts, n);
	if (n == all) {
		snprintf(out, len, " on every instance");
		return;
	}
	off = (size_t)snprintf(out, len, " on every instance on %s (sent once, via",
	    n > 1 ? "their databases" : "the database");
	for (size_t i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s %s", i ? "," : "",
		    c->targets[ts[i]].label);
	if (off < len)
		snprintf(out + off, len - off, ")");
}

/* What a drill in the gateways will do, plainly, for its confirmation:
 * NAME FAULT [RATE] [SECONDS]. */
static void
drill_words(int argc, char **argv, char *out, size_t len)
{
	static const struct {
		const char *fault, *words;
	} faults[] = {
	    {"hang", "hang (no answer until their timeout)"},
	    {"slow", "start late"},
	    {"drop", "have their stream cut"},
	    {"malformed", "get an unreadable answer"},
	};
	const char *f = argv[2], *how = NULL;
	char status[32];
	double rate = 1;
	long secs = 60;

	if (strcmp(f, "none") == 0 || strcmp(f, "clear") == 0) {
		snprintf(out, len, "stop the drill on %s", argv[1]);
		return;
	}
	if (argc >= 4)
		parse_double(argv[3], 0.01, 1, &rate);
	if (argc >= 5)
		parse_long(argv[4], 1, 3600, &secs);
	for (size_t i = 0; i < nitems(faults); i++)
		if (strcmp(f, faults[i].fault) == 0)
			how = faults[i].words;
	if (how == NULL) {
		snprintf(status, sizeof status, "fail with %.8s", f);
		how = status;
	}
	snprintf(out, len, "%.0f%% of %s's attempts %s for %ld s (made in the gateway)", rate * 100,
	    argv[1], how, secs);
}

/* Ask y/n for a command; the question names what it acts on. */
static void
confirm_ask(struct console *c, const struct console_cmd *cmd, int argc, char **argv)
{
	char where[256];
	size_t off = 0;

	for (int i = 0; i < argc && off < sizeof c->confirm_line; i++)
		off += (size_t)snprintf(c->confirm_line + off, sizeof c->confirm_line - off, "%s%s",
		    i ? " " : "", argv[i]);
	c->mode = MODE_CONFIRM;
	if (strcmp(cmd->name, "quit") == 0) {
		console_message(c, 0, "quit: this stops the gateway serving on %s? (y/n)",
		    c->serving);
		return;
	}
	confirm_where(c, cmd, argc >= 2 ? argv[1] : NULL, where, sizeof where);
	if ((cmd->flags & CMD_PROVIDER) && argc >= 2 && strcmp(argv[1], "all") == 0)
		snprintf(where + strlen(where), sizeof where - strlen(where), "%s",
		    " (every provider)");
	c->confirm_name[0] = c->confirm_typed[0] = '\0';
	if ((strcmp(cmd->name, "failover") == 0 || strcmp(cmd->name, "disable") == 0) &&
	    argc >= 2) {
		char models[256], name[128];
		size_t ts[1];
		if (outage_if_removed(c, argv[1], models, sizeof models) > 0 &&
		    console_resolve(c, argv[1], ts, 1, name, sizeof name) > 0) {
			/* The last usable provider of a model: a y is too easy. */
			strlcpy_(c->confirm_name, name, sizeof c->confirm_name);
			char *q = xasprintf("%s%s leaves no usable provider for %s: every "
			                    "request for it will FAIL (503). Type %s and Enter to "
			                    "confirm, Esc cancels: ",
			    c->confirm_line, where, models, name);
			strlcpy_(c->confirm_what, q, sizeof c->confirm_what);
			free(q);
			console_message(c, 1, "%s", c->confirm_what);
			return;
		}
	}
	if (strcmp(cmd->name, "drill") == 0 && argc >= 3) {
		char what[160];
		drill_words(argc, argv, what, sizeof what);
		console_message(c, 0, "%s%s: %s? (y/n)", c->confirm_line, where, what);
		return;
	}
	console_message(c, 0, "%s%s: %s? (y/n)", c->confirm_line, where, cmd->help);
}

void
cmd_run_line(struct console *c, const char *line, int confirmed)
{
	const struct console_cmd *cmd;
	char *copy = xstrdup(line), *argv[MAX_ARGS + 2], *save = NULL, *w, *cause = NULL;
	char names[512], sel[192], name[128];
	size_t ts[1];
	int argc = 0, nargs;

	while (*copy == ':')
		memmove(copy, copy + 1, strlen(copy));
	for (w = strtok_r(copy, " \t", &save); w != NULL && argc < MAX_ARGS;
	     w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (argc == 0)
		goto out;
	if ((cmd = cmd_find(argv[0])) == NULL) {
		console_message(c, 1, "unknown command \"%s\" (? lists every command)", argv[0]);
		goto out;
	}
	argv[0] = (char *)cmd->name;
	if (c->readonly && !(cmd->flags & CMD_READONLY_OK)) {
		console_message(c, 1,
		    "read-only: \"%s\" refused (the console was started with "
		    "--readonly)",
		    cmd->name);
		goto out;
	}
	if ((cmd->flags & CMD_EMBEDDED) && c->router == NULL) {
		console_message(c, 1,
		    "%s: needs the router inside the console; attached, send requests to the "
		    "gateway itself",
		    cmd->name);
		goto out;
	}
	if (cmd->flags & CMD_PROVIDER) {
		int known = argc >= 2 &&
		    ((strcmp(argv[1], "all") == 0 && (cmd->flags & CMD_ALL_OK)) ||
		        console_resolve(c, argv[1], ts, 1, name, sizeof name) > 0);
		/* No provider given (":weight 0.5" too): the selected one. */
		if (argc < 2 || (!known && cmd->min_args > 0 && argc == 1 + cmd->min_args)) {
			selected_arg(c, sel, sizeof sel);
			if (sel[0] == '\0') {
				console_message(c, 1, "%s: no provider selected", cmd->name);
				goto out;
			}
			memmove(argv + 2, argv + 1, sizeof argv[0] * (size_t)argc);
			argv[1] = sel;
			argc++;
			known = 1;
		}
		if (!known) {
			provider_names(c, names, sizeof names);
			console_message(c, 1, "%s: no provider \"%s\" (providers: %s)", cmd->name,
			    argv[1], names);
			goto out;
		}
	}
	nargs = argc - 1 - ((cmd->flags & CMD_PROVIDER) ? 1 : 0);
	if (nargs < cmd->min_args) {
		console_message(c, 1, "usage: :%s %s", cmd->name, cmd->args);
		goto out;
	}
	if (!confirmed &&
	    ((cmd->flags & CMD_CONFIRM) ||
	        ((cmd->flags & CMD_CONFIRM_SERVING) && c->serving[0] != '\0') ||
	        ((cmd->flags & CMD_CONFIRM_ATTACHED) && c->attached))) {
		confirm_ask(c, cmd, argc, argv);
		goto out;
	}
	if (cmd->exec(c, argc, argv, &cause) != 0) {
		console_message(c, 1, "%s", cause != NULL ? cause : "failed");
		free(cause);
		goto out;
	}
	if (c->mode != MODE_CMDLINE && c->mode != MODE_CONFIRM)
		c->confirm_line[0] = '\0';
	/* What the command changed shows at once (an attached process's, when it answers). */
	console_refresh(c);
	c->dirty = 1;
out:
	free(copy);
}

/* Candidates for word number n of a command line whose first word is first. */
static size_t
complete_candidates(struct console *c, const char *first, int n, char ***out)
{
	const struct console_cmd *cmd = n > 0 ? cmd_find(first) : NULL;
	char **v = NULL;
	size_t nv = 0;

	if (n == 0) {
		for (size_t i = 0; i < console_ncmds; i++) {
			v = xreallocarray(v, nv + 1, sizeof *v);
			v[nv++] = xstrdup(console_cmds[i].name);
		}
	} else if (cmd != NULL && (cmd->flags & CMD_PROVIDER) && n == 1) {
		for (size_t i = 0; i < c->n_rows; i++) {
			const struct console_row *r = &c->rows[i];
			const char *name = c->targets[r->t].frame.snap.providers[r->p].name;
			int dup = 0;
			for (size_t k = 0; k < nv && !dup; k++)
				dup = strcmp(v[k], name) == 0;
			if (!dup) {
				v = xreallocarray(v, nv + 1, sizeof *v);
				v[nv++] = xstrdup(name);
			}
			if (c->n_targets > 1) {
				v = xreallocarray(v, nv + 1, sizeof *v);
				v[nv++] = xasprintf("%s@%s", name, c->targets[r->t].label);
			}
		}
		if (cmd->flags & CMD_ALL_OK) {
			v = xreallocarray(v, nv + 1, sizeof *v);
			v[nv++] = xstrdup("all");
		}
	} else if (cmd != NULL && strcmp(cmd->name, "theme") == 0 && n == 1)
		nv = theme_list(&v);
	else if (cmd != NULL && strcmp(cmd->name, "filter") == 0 && n == 1) {
		for (size_t i = 0; event_classes[i] != NULL; i++) {
			v = xreallocarray(v, nv + 1, sizeof *v);
			v[nv++] = xstrdup(event_classes[i]);
		}
		v = xreallocarray(v, nv + 1, sizeof *v);
		v[nv++] = xstrdup("off");
	} else if (cmd != NULL && strcmp(cmd->name, "drill") == 0 && n == 2) {
		for (size_t i = 0; drill_names[i] != NULL; i++) {
			v = xreallocarray(v, nv + 1, sizeof *v);
			v[nv++] = xstrdup(drill_names[i]);
		}
	}
	*out = v;
	return nv;
}

int
cmd_complete(struct console *c, char *line, size_t size)
{
	char first[64] = "", *word, **cand, list[400];
	size_t ncand, nmatch = 0, common = 0, wlen, off = 0;
	const char *match = NULL;
	int n = 0, changed = 0;

	/* Which word is being typed, and the first word. */
	word = line;
	for (char *p = line; *p != '\0'; p++)
		if (*p == ' ' && p[1] != ' ' && p[1] != '\0') {
			if (n == 0)
				snprintf(first, sizeof first, "%.*s", (int)(p - line), line);
			n++;
			word = p + 1;
		} else if (*p == ' ' && p[1] == '\0') {
			if (n == 0)
				snprintf(first, sizeof first, "%.*s", (int)(p - line), line);
			n++;
			word = p + 1;
		}
	if (n == 0 && *line == ':')
		word = line + 1;
	wlen = strlen(word);
	ncand = complete_candidates(c, first[0] == ':' ? first + 1 : first, n, &cand);
	list[0] = '\0';
	for (size_t i = 0; i < ncand; i++) {
		if (strncmp(cand[i], word, wlen) != 0)
			continue;
		if (nmatch++ == 0) {
			match = cand[i];
			common = strlen(cand[i]);
		} else {
			size_t k = 0;
			while (k < common && match[k] == cand[i][k])
				k++;
			common = k;
		}
		if (off < sizeof list)
			off += (size_t)snprintf(list + off, sizeof list - off, "%s ", cand[i]);
	}
	if (nmatch >= 1 && common > wlen && (size_t)(word - line) + common + 2 < size) {
		memcpy(word, match, common);
		word[common] = '\0';
		changed = 1;
	}
	if (nmatch == 1 && (size_t)(word - line) + common + 2 < size) {
		strcat(word, " ");
		changed = 1;
	} else if (nmatch > 1)
		console_message(c, 0, "%s", list);
	else if (nmatch == 0)
		console_message(c, 1, "no completion for \"%s\"", word);
	for (size_t i = 0; i < ncand; i++)
		free(cand[i]);
	free(cand);
	return changed;
}

/* The : line. */

/* A line typed on the command line, for Up/Down (no repeats in a row). */
static void
history_add(struct console *c, const char *line)
{
	/* A token is a secret: it is not kept for Up to show. */
	if (line[0] == '\0' || strncmp(line, "token ", 6) == 0 ||
	    (c->n_history > 0 && strcmp(c->history[c->n_history - 1], line) == 0))
		goto out;
	if (c->n_history == CONSOLE_HISTORY) {
		memmove(c->history, c->history + 1, sizeof c->history[0] * (CONSOLE_HISTORY - 1));
		c->n_history--;
	}
	strlcpy_(c->history[c->n_history++], line, sizeof c->history[0]);
out:
	c->history_pos = c->n_history;
}

/* Up (dir -1) or Down (+1) through the history; the line being typed is kept. */
static void
history_move(struct console *c, int dir)
{
	if (dir < 0 && c->history_pos == 0)
		return;
	if (dir > 0 && c->history_pos >= c->n_history)
		return;
	if (c->history_pos == c->n_history)
		strlcpy_(c->history_draft, c->cmdline, sizeof c->history_draft);
	c->history_pos = dir < 0 ? c->history_pos - 1 : c->history_pos + 1;
	strlcpy_(c->cmdline,
	    c->history_pos == c->n_history ? c->history_draft : c->history[c->history_pos],
	    sizeof c->cmdline);
	c->cmdlen = strlen(c->cmdline);
}

/* A key while the : line is open: editing, Tab completion, Up/Down history, Enter. */
void
cmdline_key(struct console *c, int is_key, unsigned int ch)
{
	if (is_key && ch == KEY_BACKSPACE)
		ch = 127, is_key = 0;
	if (is_key) {
		if (ch == KEY_ENTER)
			ch = '\n', is_key = 0;
		else if (ch == KEY_UP || ch == KEY_DOWN) {
			history_move(c, ch == KEY_UP ? -1 : 1);
			c->dirty = 1;
			return;
		} else
			return;
	}
	switch (ch) {
	case 27:
		c->mode = MODE_DASHBOARD;
		c->message[0] = '\0';
		break;
	case '\n':
	case '\r':
		c->mode = MODE_DASHBOARD;
		c->cmdline[c->cmdlen] = '\0';
		history_add(c, c->cmdline);
		cmd_run_line(c, c->cmdline, 0);
		break;
	case '\t':
		cmd_complete(c, c->cmdline, sizeof c->cmdline);
		c->cmdlen = strlen(c->cmdline);
		break;
	case 127:
	case 8:
		/* Back over one UTF-8 character. */
		while (c->cmdlen > 0 && ((unsigned char)c->cmdline[--c->cmdlen] & 0xc0) == 0x80)
			;
		c->cmdline[c->cmdlen] = '\0';
		if (c->cmdlen == 0)
			c->mode = MODE_DASHBOARD;
		break;
	case 21: /* ^U */
		c->cmdlen = 0;
		c->cmdline[0] = '\0';
		break;
	default:
		if (ch >= 32) {
			char mb[MB_LEN_MAX];
			mbstate_t ps;
			size_t n;
			memset(&ps, 0, sizeof ps);
			n = wcrtomb(mb, (wchar_t)ch, &ps);
			if (n != (size_t)-1 && c->cmdlen + n < sizeof c->cmdline) {
				memcpy(c->cmdline + c->cmdlen, mb, n);
				c->cmdlen += n;
				c->cmdline[c->cmdlen] = '\0';
			}
		}
		break;
	}
	c->dirty = 1;
}
