/*
 * router_admin.c: operator calls (enable, disable, drain, priority, weight,
 * breaker reset, clear overrides) and their overrides, persisted in the
 * database so that they survive a restart. Each call writes an event.
 *
 * Processes sharing the database share their overrides and events: every
 * SYNC_INTERVAL_MS the router's sync thread asks SQLite whether anything was
 * committed since it last looked (PRAGMA data_version, one cheap read); if
 * so it reads the override table and applies what changed since its last
 * read (a row that appeared or changed sets the field, a row that went away
 * puts the config's value back), and imports the events other instances
 * wrote into the ring, tagged with their instance. Only changes are applied,
 * so a provider this router found misconfigured stays out even though an
 * old "enabled" row sits in the table. The poll is an engine timer that
 * queues a job on the sync thread (r->sync_wq, its own, so a drain never
 * waits behind the admissions queued on the worker under load): SQLite never
 * runs on the engine thread, nor with r->mu held; the timer or job out counts as active, so router_free
 * waits for it (or cancels the timer). A store that can tell at once
 * (PostgreSQL's NOTIFY: store_set_change_hook) brings the next poll forward
 * to now, so a drain typed on one instance reaches the others in
 * milliseconds, not a poll interval.
 *
 * Scope: a row is fleet-wide (instance "") or for one instance (stored with its
 * id; rows name it "NAME@INSTANCE"); an instance applies its own rows and the
 * fleet-wide ones, its own winning field by field. A target "NAME@INSTANCE" in
 * the calls below stores such a row (and changes this router only if it is that
 * instance). Drills are rows too (field "drill", router_drill.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_limits.h"
#include "router/router_priv.h"
#include "store/store.h"
#include "util/workq.h"

#define SYNC_INTERVAL_MS 250
/* Events read from the database per query. */
#define SYNC_EVENTS_BATCH 64

static void
sync_note_local(struct router *, const char *provider, const char *field, const char *value);
static void job_sync_reread(void *arg);

/* Lock the router and find a provider by name; on failure unlock and fill cause. */
struct provider *
rt_provider_lock(struct router *r, const char *name, char **cause)
{
	int idx;

	pthread_mutex_lock(&r->mu);
	if ((idx = rt_provider_index(r, name)) < 0) {
		pthread_mutex_unlock(&r->mu);
		*cause = xasprintf("unknown provider \"%s\"", name);
		return NULL;
	}
	return &r->providers[idx];
}

/* This router's instance id ("" without a store or an id). */
static const char *
sync_me(struct router *r)
{
	return r->store != NULL ? store_instance(r->store) : "";
}

/* A target "NAME" or "NAME@INSTANCE" into name and inst ("" fleet-wide). */
static void
scope_split(const char *target, char name[LIMIT_NAME_SIZE + 1], char inst[64])
{
	const char *at = strchr(target, '@');

	snprintf(name, LIMIT_NAME_SIZE + 1, "%.*s",
	    at != NULL ? (int)(at - target) : (int)strlen(target), target);
	snprintf(inst, 64, "%s", at != NULL ? at + 1 : "");
}

/*
 * An operator call's target, locked: its provider (NULL, unlocked, cause filled if
 * unknown or out of reach). *local: the call changes this router too (fleet-wide, or
 * for this very instance); *scoped: for one instance only.
 */
static struct provider *
scope_lock(struct router *r, const char *target, int *local, int *scoped, char inst[64],
    char **cause)
{
	char name[LIMIT_NAME_SIZE + 1];

	scope_split(target, name, inst);
	*scoped = inst[0] != '\0';
	*local = !*scoped || strcmp(inst, sync_me(r)) == 0;
	if (*scoped && !*local && r->store == NULL) {
		*cause = xasprintf("no database to carry an override to instance \"%s\"", inst);
		return NULL;
	}
	return rt_provider_lock(r, name, cause);
}

/* " on INSTANCE only", or with a store " on every instance", for events. */
static const char *
scope_words(struct router *r, const char *inst, char *buf, size_t len)
{
	if (inst[0] != '\0')
		snprintf(buf, len, " on %s only", inst);
	else
		snprintf(buf, len, "%s", r->store != NULL ? " on every instance" : "");
	return buf;
}

/* The scoped flag of p's field, or NULL for a field that has none. */
static int *
field_scoped(struct provider *p, const char *field)
{
	if (strcmp(field, "priority") == 0)
		return &p->priority_scoped;
	if (strcmp(field, "weight") == 0)
		return &p->weight_scoped;
	if (strcmp(field, "admin") == 0)
		return &p->admin_scoped;
	return NULL;
}

/* Is field of provider idx set here by a row for this instance only? r->mu held. */
static int
field_is_scoped(struct router *r, int idx, const char *field)
{
	int *sc;

	if (strcmp(field, "drill") == 0)
		return rt_drill_scoped_locked(r, idx);
	sc = field_scoped(&r->providers[idx], field);
	return sc != NULL && *sc;
}

/* Apply a stored value of field to provider idx (r->mu held, or setup). */
static void
override_field_locked(struct router *r, int idx, const char *field, const char *value, int scoped)
{
	struct provider *p = &r->providers[idx];
	int *sc = field_scoped(p, field);

	if (strcmp(field, "priority") == 0) {
		p->priority = atoi(value);
		p->priority_overridden = 1;
	} else if (strcmp(field, "weight") == 0) {
		p->weight = atof(value);
		p->weight_overridden = 1;
	} else if (strcmp(field, "admin") == 0) {
		if (strcmp(value, "disabled") == 0)
			p->admin = ADMIN_DISABLED;
		else if (strcmp(value, "drained") == 0)
			p->admin = ADMIN_DRAINED;
		else
			p->admin = ADMIN_ENABLED;
		p->admin_overridden = 1;
	} else if (strcmp(field, "drill") == 0) {
		rt_drill_apply_locked(r, idx, value, scoped);
	}
	if (sc != NULL)
		*sc = scoped;
}

/* A stored row at setup (store_overrides): "NAME@INSTANCE" rows are for that instance
 * only, and win over the fleet-wide row of the same field. */
void
rt_override_apply(void *arg, const char *target, const char *field, const char *value)
{
	struct router *r = arg;
	char name[LIMIT_NAME_SIZE + 1], inst[64];
	int idx;

	scope_split(target, name, inst);
	if ((idx = rt_provider_index(r, name)) < 0)
		return;
	if (inst[0] != '\0' && strcmp(inst, sync_me(r)) != 0)
		return; /* another instance's */
	if (inst[0] == '\0' && field_is_scoped(r, idx, field))
		return;
	override_field_locked(r, idx, field, value, inst[0] != '\0');
}

/* A field whose override row went away: back to the config's value. r->mu held. */
static void
override_revert_locked(struct router *r, int idx, const char *field)
{
	struct provider *p = &r->providers[idx];
	int *sc = field_scoped(p, field);

	if (strcmp(field, "priority") == 0) {
		p->priority = p->conf->priority;
		p->priority_overridden = 0;
	} else if (strcmp(field, "weight") == 0) {
		p->weight = p->conf->weight;
		p->weight_overridden = 0;
	} else if (strcmp(field, "admin") == 0 && p->admin_overridden) {
		p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->admin_overridden = 0;
	} else if (strcmp(field, "drill") == 0) {
		rt_drill_apply_locked(r, idx, "none", 0);
	}
	if (sc != NULL)
		*sc = 0;
}

int
rt_override_store(struct router *r, const char *target, const char *field, const char *value)
{
	char name[LIMIT_NAME_SIZE + 1], inst[64];

	if (r->store == NULL)
		return 0;
	scope_split(target, name, inst);
	if (store_override_set_for(r->store, name, inst, field, value) != 0) {
		event_add(r->events, EV_ERROR, name, "could not save the %s override", field);
		return -1;
	}
	sync_note_local(r, target, field, value);
	return 0;
}

static void
override_save(struct router *r, const char *target, const char *field, const char *fmt, ...)
{
	char value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	rt_override_store(r, target, field, value);
}

/* Setup and teardown. */

int
router_set_admin(struct router *r, const char *target, enum provider_admin a, char **cause)
{
	struct provider *p;
	enum provider_admin before;
	char inst[64], words[96];
	int local, scoped;

	if ((p = scope_lock(r, target, &local, &scoped, inst, cause)) == NULL)
		return -1;
	before = p->admin;
	/* A fleet-wide call leaves this instance's own override of the field alone. */
	if (local && (scoped || !p->admin_scoped)) {
		p->admin = a;
		p->admin_overridden = a != ADMIN_MISCONFIGURED;
		p->admin_scoped = scoped && a != ADMIN_MISCONFIGURED;
		if (a == ADMIN_ENABLED)
			p->blocked_until_ms = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (a != ADMIN_MISCONFIGURED)
		override_save(r, target, "admin", "%s", provider_admin_name(a));
	scope_words(r, inst, words, sizeof words);
	if (a == ADMIN_DRAINED)
		event_add(r->events, EV_OPERATOR, p->conf->name,
		    "operator: failover: %s drained%s (was %s); "
		    "new traffic goes to the next provider",
		    p->conf->name, words, provider_admin_name(before));
	else
		event_add(r->events, EV_OPERATOR, p->conf->name, "operator: %s %s -> %s%s",
		    p->conf->name, provider_admin_name(before), provider_admin_name(a), words);
	return 0;
}

int
router_set_priority(struct router *r, const char *target, int priority, char **cause)
{
	struct provider *p;
	int before, local, scoped;
	char inst[64], words[96];

	if (priority < LIMIT_PRIORITY_MIN || priority > LIMIT_PRIORITY_MAX) {
		*cause = xasprintf("priority %d out of range %d..%d", priority, LIMIT_PRIORITY_MIN,
		    LIMIT_PRIORITY_MAX);
		return -1;
	}
	if ((p = scope_lock(r, target, &local, &scoped, inst, cause)) == NULL)
		return -1;
	before = p->priority;
	if (local && (scoped || !p->priority_scoped)) {
		p->priority = priority;
		p->priority_overridden = 1;
		p->priority_scoped = scoped;
	}
	pthread_mutex_unlock(&r->mu);
	override_save(r, target, "priority", "%d", priority);
	event_add(r->events, EV_OPERATOR, p->conf->name, "operator: %s priority %d -> %d%s",
	    p->conf->name, before, priority, scope_words(r, inst, words, sizeof words));
	return 0;
}

int
router_set_weight(struct router *r, const char *target, double weight, char **cause)
{
	struct provider *p;
	double before;
	int local, scoped;
	char inst[64], words[96];

	if (!(weight >= LIMIT_WEIGHT_MIN && weight <= LIMIT_WEIGHT_MAX)) {
		*cause = xasprintf("weight %g out of range %g..%g", weight, LIMIT_WEIGHT_MIN,
		    LIMIT_WEIGHT_MAX);
		return -1;
	}
	if ((p = scope_lock(r, target, &local, &scoped, inst, cause)) == NULL)
		return -1;
	before = p->weight;
	if (local && (scoped || !p->weight_scoped)) {
		p->weight = weight;
		p->weight_overridden = 1;
		p->weight_scoped = scoped;
	}
	pthread_mutex_unlock(&r->mu);
	override_save(r, target, "weight", "%g", weight);
	event_add(r->events, EV_OPERATOR, p->conf->name, "operator: %s weight %.2f -> %.2f%s",
	    p->conf->name, before, weight, scope_words(r, inst, words, sizeof words));
	return 0;
}

int
router_reset_breaker(struct router *r, const char *name, char **cause)
{
	struct provider *p;
	enum breaker_state before;

	if ((p = rt_provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->breaker.state;
	breaker_reset(&p->breaker);
	p->blocked_until_ms = 0;
	pthread_mutex_unlock(&r->mu);
	event_add(r->events, EV_OPERATOR, name, "operator: %s breaker reset (was %s)", name,
	    breaker_state_name(before));
	return 0;
}

int
router_clear_overrides(struct router *r, const char *target, char **cause)
{
	static const char *const fields[] = {"priority", "weight", "admin", "drill"};
	char name[LIMIT_NAME_SIZE + 1] = "", inst[64] = "", words[96];
	int found = 0, local = 1;

	if (target != NULL) {
		scope_split(target, name, inst);
		local = inst[0] == '\0' || strcmp(inst, sync_me(r)) == 0;
		if (!local && r->store == NULL) {
			*cause =
			    xasprintf("no database to carry an override to instance \"%s\"", inst);
			return -1;
		}
	}
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_providers; i++) {
		if (target != NULL && strcmp(r->providers[i].conf->name, name) != 0)
			continue;
		found = 1;
		for (size_t f = 0; local && f < nitems(fields); f++)
			if (inst[0] == '\0' || field_is_scoped(r, (int)i, fields[f]))
				override_revert_locked(r, (int)i, fields[f]);
	}
	pthread_mutex_unlock(&r->mu);
	if (!found) {
		*cause = xasprintf("unknown provider \"%s\"", name);
		return -1;
	}
	if (r->store != NULL &&
	    store_override_clear_for(r->store, target != NULL ? name : NULL,
	        inst[0] != '\0' ? inst : NULL) != 0) {
		*cause = xstrdup("could not clear the overrides in the database");
		return -1;
	}
	/* What is left (the fleet-wide rows under a cleared instance's own) applies again. */
	if (r->store != NULL)
		workq_push(r->sync_wq, job_sync_reread, r);
	event_add(r->events, EV_OPERATOR, target != NULL ? name : NULL,
	    "operator: overrides of %s reset to the config%s",
	    target != NULL ? name : "every provider", scope_words(r, inst, words, sizeof words));
	return 0;
}

/* Sharing the database with other processes (see the head of this file). */

/* The override rows now, each with its row id (store_override_rows); NULL if they
 * cannot be read. Caller frees. */
static char *
sync_read_rows(struct router *r)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "");
	if (store_override_rows(r->store, &b) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* The "value\tROWID" of (provider, field) in rows into out; 1 if there is such a row. */
static int
sync_row(const char *rows, const char *provider, const char *field, char *out, size_t len)
{
	size_t np = strlen(provider), nf = strlen(field);

	for (const char *line = rows; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		if (strncmp(line, provider, np) == 0 && line[np] == '\t' &&
		    strncmp(line + np + 1, field, nf) == 0 && line[np + 1 + nf] == '\t') {
			const char *v = line + np + nf + 2;
			size_t n = eol != NULL ? (size_t)(eol - v) : strlen(v);
			snprintf(out, len, "%.*s", (int)n, v);
			return 1;
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return 0;
}

/* The row that rules field of provider name here, "S" (this instance's own) or "F"
 * (fleet-wide) then "value\tROWID", into out; 1 if there is one. */
static int
sync_effective(const char *rows, const char *name, const char *me, const char *field, char *out,
    size_t len)
{
	char target[LIMIT_NAME_SIZE + 72];

	if (me[0] != '\0') {
		snprintf(target, sizeof target, "%s@%s", name, me);
		if (sync_row(rows, target, field, out + 1, len - 1)) {
			out[0] = 'S';
			return 1;
		}
	}
	if (sync_row(rows, name, field, out + 1, len - 1)) {
		out[0] = 'F';
		return 1;
	}
	return 0;
}

/* Apply what changed between the rows last seen and now: a row set again (a new
 * row id) counts as a change even with the same value; so does a field moving
 * between this instance's own row and the fleet-wide one. r->mu held. */
static void
sync_apply_locked(struct router *r, const char *seen, const char *now)
{
	static const char *const fields[] = {"priority", "weight", "admin", "drill"};
	const char *me = sync_me(r);

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		for (size_t f = 0; f < nitems(fields); f++) {
			char was[224], is[224], *tab;
			int had =
			    sync_effective(seen, p->conf->name, me, fields[f], was, sizeof was);
			int has = sync_effective(now, p->conf->name, me, fields[f], is, sizeof is);

			if (had == has && (!has || strcmp(was, is) == 0))
				continue;
			if (!has) {
				override_revert_locked(r, (int)i, fields[f]);
				continue;
			}
			if ((tab = strrchr(is, '\t')) != NULL)
				*tab = '\0'; /* the value without its row id */
			override_field_locked(r, (int)i, fields[f], is + 1, is[0] == 'S');
			if (strcmp(fields[f], "admin") == 0 && p->admin == ADMIN_ENABLED)
				p->blocked_until_ms = 0;
		}
	}
}

/* Sync thread: the override rows, and what changed in them since the last read. */
static void
sync_overrides(struct router *r)
{
	char *rows = sync_read_rows(r);

	if (rows == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	sync_apply_locked(r, r->sync_seen != NULL ? r->sync_seen : "", rows);
	pthread_mutex_unlock(&r->mu);
	free(r->sync_seen);
	r->sync_seen = rows;
}

/* Sync thread: after a clear, every row read and applied afresh (as at setup), so the
 * fleet-wide rows under a cleared instance's own rule again. */
static void
job_sync_reread(void *arg)
{
	struct router *r = arg;
	int pending;

	pthread_mutex_lock(&r->mu);
	pending = r->sync_pending;
	pthread_mutex_unlock(&r->mu);
	if (!pending)
		return;
	free(r->sync_seen);
	r->sync_seen = NULL;
	sync_overrides(r);
}

/* Sync thread: other instances' events since the last one looked at, into the ring. */
static void
sync_import_events(struct router *r)
{
	struct store_event ev[SYNC_EVENTS_BATCH];
	const char *me = store_instance(r->store);
	int n;

	do {
		n = store_events_after(r->store, r->sync_event_id, ev, (int)nitems(ev));
		for (int i = 0; i < n; i++) {
			r->sync_event_id = ev[i].id;
			/* Ours (or, when we have no id, possibly ours): the ring has them. */
			if (strcmp(ev[i].instance, me) == 0)
				continue;
			event_import(r->events, ev[i].time_ms, event_kind_from_name(ev[i].kind),
			    ev[i].provider, ev[i].message,
			    ev[i].instance[0] != '\0' ? ev[i].instance : "unknown");
		}
	} while (n == (int)nitems(ev));
}

/* What this router just wrote to the override table (its own writes do not
 * change its data_version): a row set (value) or rows removed (value NULL; field
 * NULL: every field; provider NULL: every provider). */
struct sync_note {
	struct router *r;
	char *provider, *field, *value;
};

/* Sync thread: the rows last seen, as they are after this router's own write. A row
 * it set is noted with row id "?", so the next read (which has the real id)
 * applies it once more, which changes nothing. */
static void
job_sync_note(void *arg)
{
	struct sync_note *n = arg;
	struct router *r = n->r;
	struct buf b;
	int pending;

	pthread_mutex_lock(&r->mu);
	pending = r->sync_pending;
	pthread_mutex_unlock(&r->mu);
	if (pending) {
		size_t np = n->provider != NULL ? strlen(n->provider) : 0;
		size_t nf = n->field != NULL ? strlen(n->field) : 0;

		buf_init(&b);
		buf_puts(&b, "");
		for (const char *line = r->sync_seen != NULL ? r->sync_seen : "", *eol;
		     *line != '\0'; line = eol + 1) {
			int match = n->provider == NULL ||
			    (strncmp(line, n->provider, np) == 0 && line[np] == '\t' &&
			        (n->field == NULL ||
			            (strncmp(line + np + 1, n->field, nf) == 0 &&
			                line[np + 1 + nf] == '\t')));
			if ((eol = strchr(line, '\n')) == NULL)
				break;
			if (!match)
				buf_append(&b, line, (size_t)(eol - line) + 1);
		}
		if (n->value != NULL)
			buf_printf(&b, "%s\t%s\t%s\t?\n", n->provider, n->field, n->value);
		free(r->sync_seen);
		r->sync_seen = buf_detach(&b);
	}
	free(n->provider);
	free(n->field);
	free(n->value);
	free(n);
}

static void
sync_note_local(struct router *r, const char *provider, const char *field, const char *value)
{
	struct sync_note *n = xcalloc(1, sizeof *n);

	n->r = r;
	n->provider = provider != NULL ? xstrdup(provider) : NULL;
	n->field = field != NULL ? xstrdup(field) : NULL;
	n->value = value != NULL ? xstrdup(value) : NULL;
	workq_push(r->sync_wq, job_sync_note, n);
}

/* The poll is over for good; r->mu held. r->sync_seen belongs to the sync thread
 * (a queued job_sync_note may still read it): router_free frees it once the
 * sync thread has stopped (rt_sync_free). */
static void
sync_release_locked(struct router *r)
{
	r->sync_pending = 0;
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
}

static void on_sync_timer(void *arg);

/* Sync thread: one poll, then the next one's timer. */
static void
job_sync(void *arg)
{
	struct router *r = arg;
	int64_t version;
	int closing;

	pthread_mutex_lock(&r->mu);
	closing = r->closing;
	pthread_mutex_unlock(&r->mu);
	/* Overrides first: a drain is what an operator waits for. */
	if (!closing && store_data_version(r->store, &version) == 0 && version != r->sync_version) {
		r->sync_version = version;
		sync_overrides(r);
		sync_import_events(r);
	}
	if (!closing) {
		rt_limits_refill(r);
		rt_keys_tick(r);
	}
	pthread_mutex_lock(&r->mu);
	if (r->closing)
		sync_release_locked(r);
	else
		r->sync_timer = http_call_later(r->engine, r->sync_kick ? 0 : SYNC_INTERVAL_MS,
		    on_sync_timer, r);
	r->sync_kick = 0;
	pthread_mutex_unlock(&r->mu);
}

/* The store's change hook (a thread of the store's): poll now, not at the next tick. */
static void
on_store_change(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->mu);
	if (!r->closing && r->sync_timer != 0 && http_cancel_timer(r->engine, r->sync_timer))
		r->sync_timer = http_call_later(r->engine, 0, on_sync_timer, r);
	else
		r->sync_kick = 1; /* a poll is under way: the next one follows at once */
	pthread_mutex_unlock(&r->mu);
}

void
rt_sync_unhook(struct router *r)
{
	if (r->store != NULL)
		store_set_change_hook(r->store, NULL, r);
}

/* Engine thread: SQLite is the sync thread's business. */
static void
on_sync_timer(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->mu);
	r->sync_timer = 0;
	pthread_mutex_unlock(&r->mu);
	workq_push(r->sync_wq, job_sync, r);
}

void
rt_sync_start(struct router *r)
{
	int64_t last;

	if (r->store == NULL)
		return;
	r->sync_wq = workq_start("router-sync");
	if (store_data_version(r->store, &r->sync_version) != 0)
		r->sync_version = -1;
	last = store_events_last_id(r->store);
	r->sync_event_id = last > 0 ? last : 0;
	r->sync_seen = sync_read_rows(r);
	rt_limits_refill(r); /* the first leases, before any traffic */
	pthread_mutex_lock(&r->mu);
	r->sync_pending = 1;
	r->active++;
	r->sync_timer = http_call_later(r->engine, SYNC_INTERVAL_MS, on_sync_timer, r);
	pthread_mutex_unlock(&r->mu);
	store_set_change_hook(r->store, on_store_change, r);
}

void
rt_sync_stop_locked(struct router *r)
{
	if (r->sync_timer != 0 && http_cancel_timer(r->engine, r->sync_timer)) {
		r->sync_timer = 0;
		sync_release_locked(r);
	}
}

/* Once the poll is over for good: its thread (the notes still queued run first), and
 * what the poll kept. */
void
rt_sync_free(struct router *r)
{
	if (r->sync_wq != NULL)
		workq_stop(r->sync_wq, NULL);
	r->sync_wq = NULL;
	free(r->sync_seen);
	r->sync_seen = NULL;
}
