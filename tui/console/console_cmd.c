/*
 * console_cmd.c: the console's one command table. Keys, the ":" command line,
 * Tab completion, confirmations, --readonly refusals and the "?" help overlay
 * are all driven by console_cmds[]; help text lives only here.
 */
#include "console.h"

#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_limits.h"
#include "store.h"
#include "util.h"

#define MAX_ARGS 8

static const struct provider_snapshot *
snap_provider(struct console *c, const char *name, size_t *idx)
{
	for (size_t i = 0; c->have_snap && i < c->snap.n_providers; i++)
		if (strcmp(c->snap.providers[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->snap.providers[i];
		}
	return NULL;
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
	return 0;
}

static int
exec_move(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)cause;
	if (!c->have_snap || c->snap.n_providers == 0)
		return 0;
	if (strcmp(argv[0], "down") == 0 && c->selected + 1 < c->snap.n_providers)
		c->selected++;
	else if (strcmp(argv[0], "up") == 0 && c->selected > 0)
		c->selected--;
	return 0;
}

static int
exec_select(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)cause;
	snap_provider(c, argv[1], &c->selected);
	return 0;
}

static int
exec_admin(struct console *c, int argc, char **argv, char **cause)
{
	enum provider_admin a = ADMIN_ENABLED;
	const char *what = "enabled: it takes traffic again";

	(void)argc;
	if (strcmp(argv[0], "failover") == 0) {
		a = ADMIN_DRAINED;
		what = "drained: new traffic goes to the next provider";
	} else if (strcmp(argv[0], "disable") == 0) {
		a = ADMIN_DISABLED;
		what = "disabled";
	}
	if (router_set_admin(c->router, argv[1], a, cause) != 0)
		return -1;
	console_message(c, 0, "%s %s", argv[1], what);
	return 0;
}

static int
exec_reset(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc;
	if (router_reset_breaker(c->router, argv[1], cause) != 0)
		return -1;
	console_message(c, 0, "%s: breaker reset to closed", argv[1]);
	return 0;
}

static int
exec_clear(struct console *c, int argc, char **argv, char **cause)
{
	const struct provider_snapshot *sel = console_selected(c);
	const char *name = argc >= 2 ? argv[1] : sel != NULL ? sel->name : NULL;

	if (name != NULL && strcmp(name, "all") == 0)
		name = NULL;
	if (router_clear_overrides(c->router, name, cause) != 0)
		return -1;
	console_message(c, 0, "overrides of %s reset to the config",
	    name != NULL ? name : "every provider");
	return 0;
}

static int
exec_probe(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc;
	if (router_probe(c->router, argv[1], cause) != 0)
		return -1;
	console_message(c, 0, "%s: health probe sent", argv[1]);
	return 0;
}

static int
exec_priority(struct console *c, int argc, char **argv, char **cause)
{
	const struct provider_snapshot *p = snap_provider(c, argv[1], NULL);
	long prio;

	(void)argc;
	if (strcmp(argv[0], "priority") == 0) {
		if (parse_long(argv[2], LIMIT_PRIORITY_MIN, LIMIT_PRIORITY_MAX, &prio) != 0) {
			*cause = xasprintf("priority: expected an integer %d..%d, got \"%s\"",
			    LIMIT_PRIORITY_MIN, LIMIT_PRIORITY_MAX, argv[2]);
			return -1;
		}
	} else if (strcmp(argv[0], "raise") == 0)
		prio = p->priority > LIMIT_PRIORITY_MIN ? p->priority - 1 : LIMIT_PRIORITY_MIN;
	else
		prio = p->priority < LIMIT_PRIORITY_MAX ? p->priority + 1 : LIMIT_PRIORITY_MAX;
	if (router_set_priority(c->router, argv[1], (int)prio, cause) != 0)
		return -1;
	console_message(c, 0, "%s: priority %d -> %ld (lower is preferred)", argv[1], p->priority,
	    prio);
	return 0;
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
	if (router_set_weight(c->router, argv[1], w, cause) != 0)
		return -1;
	console_message(c, 0, "%s: weight %g", argv[1], w);
	return 0;
}

static int
exec_flush(struct console *c, int argc, char **argv, char **cause)
{
	int n;

	(void)argc, (void)argv;
	if (c->store == NULL) {
		*cause = xasprintf("flush: no database (%s)",
		    c->store_error != NULL ? c->store_error : "not open");
		return -1;
	}
	if ((n = cache_flush(c->store)) < 0) {
		*cause = xasprintf("flush: the cache could not be flushed");
		return -1;
	}
	c->next_store_ms = 0;
	console_event(c, EV_OPERATOR, NULL, "operator: cache flushed (%d entries removed)", n);
	console_message(c, 0, "cache flushed: %d entries removed", n);
	return 0;
}

static int
exec_drill(struct console *c, int argc, char **argv, char **cause)
{
	const struct provider_snapshot *p = snap_provider(c, argv[1], NULL);

	(void)argc;
	if (drill_post(c->drill, p->name, p->base_url, argv[2], cause) != 0)
		return -1;
	console_message(c, 0, "%s: drill \"%s\" sent", p->name, argv[2]);
	return 0;
}

static int
exec_prompt(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	prompt_open(c);
	return 0;
}

static int
exec_theme(struct console *c, int argc, char **argv, char **cause)
{
	char **names, *name;
	size_t n = theme_list(&names), i;
	int rc;

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
	else {
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

static int
exec_quit(struct console *c, int argc, char **argv, char **cause)
{
	(void)argc, (void)argv, (void)cause;
	c->quit = 1;
	return 0;
}

#define RO CMD_READONLY_OK
#define PROV CMD_PROVIDER

const struct console_cmd console_cmds[] = {
    {"help", NULL, '?', KEY_F(1), "", "show every key and command (this screen)", RO, 0, exec_help},
    {"command", NULL, ':', 0, "", "open the command line; Tab completes names", RO, 0,
        exec_command},
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
    {"probe", NULL, 'P', 0, "[NAME]", "send a health probe to a provider now", PROV, 0, exec_probe},
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
        CMD_DESTRUCTIVE | CMD_CONFIRM, 0, exec_clear},
    {"flush", NULL, 'F', 0, "", "flush the response cache", CMD_DESTRUCTIVE | CMD_CONFIRM, 0,
        exec_flush},
    {"drill", NULL, 'D', 0, "NAME FAULT",
        "fault drill on a simulated provider: 500 429 529 slow hang down none", PROV | CMD_ASK_ARGS,
        1, exec_drill},
    {"prompt", NULL, 'p', 0, "", "send a test prompt (route, provider, model, temperature)", 0, 0,
        exec_prompt},
    {"theme", NULL, 't', 0, "[NAME]", "switch the theme; no name: the next one", RO, 0, exec_theme},
    {"pause", NULL, ' ', 0, "", "pause or resume the display", RO, 0, exec_pause},
    {"refresh", NULL, 0, 0, "MS", "set the refresh period (100..10000 ms)", RO, 1, exec_refresh},
    {"log-up", NULL, KEY_PPAGE, '[', "", "scroll the event log back", RO, 0, exec_log},
    {"log-down", NULL, KEY_NPAGE, ']', "", "scroll the event log forward", RO, 0, exec_log},
    {"quit", "q", 'q', 0, "", "leave the console", RO, 0, exec_quit},
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
	for (size_t i = 0; c->have_snap && i < c->snap.n_providers && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? ", " : "",
		    c->snap.providers[i].name);
}

void
cmd_run_line(struct console *c, const char *line, int confirmed)
{
	const struct console_cmd *cmd;
	char *copy = xstrdup(line), *argv[MAX_ARGS + 2], *save = NULL, *w, *cause = NULL;
	char names[512];
	const struct provider_snapshot *sel;
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
	if (cmd->flags & CMD_PROVIDER) {
		/* No provider given (":weight 0.5" too): the selected one. */
		if (argc < 2 ||
		    (snap_provider(c, argv[1], NULL) == NULL && cmd->min_args > 0 &&
		        argc == 1 + cmd->min_args)) {
			if ((sel = console_selected(c)) == NULL) {
				console_message(c, 1, "%s: no provider selected", cmd->name);
				goto out;
			}
			memmove(argv + 2, argv + 1, sizeof argv[0] * (size_t)argc);
			argv[1] = (char *)sel->name;
			argc++;
		}
		if (snap_provider(c, argv[1], NULL) == NULL) {
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
	if ((cmd->flags & CMD_CONFIRM) && !confirmed) {
		size_t off = 0;
		for (int i = 0; i < argc && off < sizeof c->confirm_line; i++)
			off += (size_t)snprintf(c->confirm_line + off, sizeof c->confirm_line - off,
			    "%s%s", i ? " " : "", argv[i]);
		c->mode = MODE_CONFIRM;
		console_message(c, 0, "%s: %s? (y/n)", c->confirm_line, cmd->help);
		goto out;
	}
	if (cmd->exec(c, argc, argv, &cause) != 0) {
		console_message(c, 1, "%s", cause != NULL ? cause : "failed");
		free(cause);
		goto out;
	}
	if (c->mode != MODE_CMDLINE && c->mode != MODE_CONFIRM)
		c->confirm_line[0] = '\0';
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
		for (size_t i = 0; c->have_snap && i < c->snap.n_providers; i++) {
			v = xreallocarray(v, nv + 1, sizeof *v);
			v[nv++] = xstrdup(c->snap.providers[i].name);
		}
	} else if (cmd != NULL && strcmp(cmd->name, "theme") == 0 && n == 1)
		nv = theme_list(&v);
	else if (cmd != NULL && strcmp(cmd->name, "drill") == 0 && n == 2) {
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
