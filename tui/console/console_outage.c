/*
 * console_outage.c: no silent outage. A model whose providers are all unusable
 * (drained, disabled, breakers open, at their limits) gets a banner under the
 * header saying why; an action that would leave a model so needs the provider's
 * name typed, not a y; and "u" takes back the last override this console made.
 */
#include "console/console.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Does the provider (extra x) serve model m? Unknown models: one group, "*". */
static int
serves(const struct source_provider_extra *x, const char *m)
{
	const char *s = x != NULL ? x->models : "";
	size_t n = strlen(m);

	if (*s == '\0' || strcmp(m, "*") == 0)
		return *s == '\0' && strcmp(m, "*") == 0;
	while (*s != '\0') {
		const char *e = strchr(s, ' ');
		size_t len = e != NULL ? (size_t)(e - s) : strlen(s);
		if (len == n && strncmp(s, m, n) == 0)
			return 1;
		s += len;
		while (*s == ' ')
			s++;
	}
	return 0;
}

/* Why a provider is not usable, in a word or two. */
static const char *
unusable_why(const struct provider_snapshot *p, const struct source_provider_extra *x)
{
	if (p->admin != ADMIN_ENABLED)
		return provider_admin_name(p->admin);
	if (x != NULL && x->no_key[0] != '\0')
		return "no key";
	if (p->breaker == BREAKER_OPEN)
		return "breaker open";
	if (p->breaker == BREAKER_HALF_OPEN)
		return "half-open";
	if (p->cooldown_left_ms > 0)
		return "backing off";
	return "at its limits";
}

/* Is provider i usable now, not counting `without` (a name, or NULL)? */
static int
usable(const struct source_frame *f, size_t i, const char *without)
{
	const struct provider_snapshot *p = &f->snap.providers[i];

	if (without != NULL && strcmp(p->name, without) == 0)
		return 0;
	return p->usable && p->admin == ADMIN_ENABLED &&
	    (f->extra == NULL || f->extra[i].no_key[0] == '\0');
}

/* Each model of frame f once: calls fn(model) for "*" when models are unknown. */
static size_t
frame_models(const struct source_frame *f, char models[][LIMIT_ALIAS_SIZE], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < f->snap.n_providers; i++) {
		const char *s = f->extra != NULL ? f->extra[i].models : "";
		char word[LIMIT_ALIAS_SIZE];

		if (*s == '\0')
			s = "*";
		while (*s != '\0' && n < max) {
			size_t len = strcspn(s, " ");
			int dup = 0;
			snprintf(word, sizeof word, "%.*s", (int)len, s);
			for (size_t k = 0; k < n && !dup; k++)
				dup = strcmp(models[k], word) == 0;
			if (!dup)
				strlcpy_(models[n++], word, sizeof models[0]);
			s += len;
			while (*s == ' ')
				s++;
		}
	}
	return n;
}

/* Models of target t with no usable provider (not counting `without`), as
 * "M: a drained, b breaker open; M2: ..." into out; returns how many. only: a model
 * that provider `only` serves (NULL: any). */
static size_t
outages(struct console *c, size_t t, const char *without, char *out, size_t len)
{
	const struct source_frame *f = &c->targets[t].frame;
	char models[32][LIMIT_ALIAS_SIZE];
	size_t nm, found = 0, off = 0;

	out[0] = '\0';
	if (!c->targets[t].have_frame || !c->targets[t].link.up)
		return 0;
	nm = frame_models(f, models, nitems(models));
	for (size_t m = 0; m < nm; m++) {
		int any = 0, served_by_without = without == NULL, n = 0;

		for (size_t i = 0; i < f->snap.n_providers; i++) {
			const struct source_provider_extra *x =
			    f->extra != NULL ? &f->extra[i] : NULL;
			if (!serves(x, models[m]))
				continue;
			if (without != NULL && strcmp(f->snap.providers[i].name, without) == 0)
				served_by_without = 1;
			any |= usable(f, i, without);
		}
		if (any || !served_by_without)
			continue;
		/* Without: only the models the action would strand, not those already down. */
		if (without != NULL) {
			int before = 0;
			for (size_t i = 0; i < f->snap.n_providers; i++)
				if (serves(f->extra != NULL ? &f->extra[i] : NULL, models[m]))
					before |= usable(f, i, NULL);
			if (!before)
				continue;
		}
		found++;
		off += (size_t)snprintf(out + off, off < len ? len - off : 0, "%s%s%s",
		    off ? "; " : "", strcmp(models[m], "*") == 0 ? "any model" : models[m],
		    without != NULL ? "" : ":");
		for (size_t i = 0; without == NULL && i < f->snap.n_providers && off < len; i++) {
			const struct source_provider_extra *x =
			    f->extra != NULL ? &f->extra[i] : NULL;
			if (!serves(x, models[m]))
				continue;
			off += (size_t)snprintf(out + off, len - off, "%s %s %s", n++ ? "," : "",
			    f->snap.providers[i].name, unusable_why(&f->snap.providers[i], x));
		}
		if (off >= len)
			break;
	}
	return found;
}

int
outage_if_removed(struct console *c, const char *arg, char *models, size_t len)
{
	size_t ts[64], n, off = 0, total = 0;
	char name[128], one[512];

	models[0] = '\0';
	if (arg == NULL || strcmp(arg, "all") == 0)
		return 0;
	n = console_resolve(c, arg, ts, nitems(ts), name, sizeof name);
	for (size_t i = 0; i < n; i++) {
		size_t k = outages(c, ts[i], name, one, sizeof one);
		if (k == 0)
			continue;
		total += k;
		if (strstr(models, one) == NULL && off < len)
			off +=
			    (size_t)snprintf(models + off, len - off, "%s%s", off ? ", " : "", one);
	}
	return (int)total;
}

int
draw_outages(struct console *c, int y, int max)
{
	int lines = 0;

	for (size_t t = 0; t < c->n_targets && lines < max; t++) {
		char why[1024];

		if (outages(c, t, NULL, why, sizeof why) == 0)
			continue;
		attrset(color_attr(c, TC_MSG_ERROR) | A_BOLD);
		draw_fill(y + lines, 0, COLS);
		if (c->n_targets > 1)
			draw_putf(y + lines, 1, COLS - 2, "no usable provider on %s for model %s",
			    c->targets[t].label, why);
		else
			draw_putf(y + lines, 1, COLS - 2, "no usable provider for model %s", why);
		lines++;
	}
	attrset(color_attr(c, TC_NORMAL));
	return lines;
}

/* ---- undo ---- */

/* What an override was before the action, to put it back. */
void
undo_remember(struct console *c, const char *arg, enum source_action a)
{
	size_t ts[64], n;
	char name[128];

	if (arg == NULL || strcmp(arg, "all") == 0 || a == SA_PROBE || a == SA_FLUSH ||
	    a == SA_RESET || a == SA_CLEAR_OVERRIDES)
		return;
	n = console_resolve(c, arg, ts, nitems(ts), name, sizeof name);
	for (size_t i = 0; i < n; i++) {
		const struct provider_snapshot *p = console_target_provider(c, ts[i], name);
		struct console_undo *u;

		if (p == NULL)
			continue;
		if (c->n_undo == CONSOLE_UNDO) {
			memmove(c->undo, c->undo + 1, sizeof c->undo[0] * (CONSOLE_UNDO - 1));
			c->n_undo--;
		}
		u = &c->undo[c->n_undo++];
		memset(u, 0, sizeof *u);
		u->batch = c->undo_batch;
		snprintf(u->arg, sizeof u->arg, "%s@%s", name, c->targets[ts[i]].label);
		if (c->n_targets <= 1)
			snprintf(u->arg, sizeof u->arg, "%s", name);
		u->scoped = strchr(arg, '@') != NULL;
		u->action = a;
		u->admin = p->admin;
		u->priority = p->priority;
		u->weight = p->weight;
	}
	c->undo_batch++;
}

/* Put back what the last action changed: one entry per instance it reached. */
int
undo_last(struct console *c, char **cause)
{
	unsigned batch;
	int sent = 0;
	size_t fleet[CONSOLE_UNDO + 1], n_fleet = 0; /* targets a fleet-wide one went through */

	if (c->n_undo == 0) {
		*cause =
		    xstrdup("undo: nothing to undo (u takes back this console's last override)");
		return -1;
	}
	batch = c->undo[c->n_undo - 1].batch;
	while (c->n_undo > 0 && c->undo[c->n_undo - 1].batch == batch) {
		struct console_undo *u = &c->undo[--c->n_undo];
		size_t ts[1];
		char name[128], target[200], *why = NULL;
		enum source_action back;
		double v = 0;
		const char *what;

		if (console_resolve(c, u->arg, ts, 1, name, sizeof name) == 0)
			continue;
		/* As it was done: for that instance only, or once per database for all. */
		if (u->scoped)
			snprintf(target, sizeof target, "%s@%s", name, c->targets[ts[0]].label);
		else {
			snprintf(target, sizeof target, "%s", name);
			fleet[n_fleet] = ts[0];
			if (console_once_per_store(c, fleet, n_fleet + 1) == n_fleet) {
				sent++; /* its database already has it back */
				continue;
			}
			n_fleet++;
		}
		switch (u->action) {
		case SA_PRIORITY:
			back = SA_PRIORITY;
			v = u->priority;
			what = "priority";
			break;
		case SA_WEIGHT:
			back = SA_WEIGHT;
			v = u->weight;
			what = "weight";
			break;
		default:
			/* The state it had, set again (not clear-overrides: that would drop the
			 * provider's other overrides too). */
			back = u->admin == ADMIN_DRAINED ? SA_DRAIN
			    : u->admin == ADMIN_DISABLED ? SA_DISABLE
			                                 : SA_ENABLE;
			what = provider_admin_name(u->admin);
			break;
		}
		if (c->targets[ts[0]].src->ops->act(c->targets[ts[0]].src, back, target, v, &why) !=
		    0) {
			free(*cause);
			*cause = xasprintf("undo: %s", why);
			free(why);
			continue;
		}
		sent++;
		console_event(c, EV_OPERATOR, name, "undo %s %s: back to %s",
		    source_action_name(u->action), target, what);
	}
	console_collect(c);
	return sent > 0 ? 0 : -1;
}
