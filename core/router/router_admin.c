/*
 * router_admin.c: operator calls (enable, disable, drain, priority, weight,
 * breaker reset, clear overrides) and their overrides, persisted in the
 * database so that they survive a restart. Each call writes an event.
 *
 * Processes sharing the database share their overrides and events: every
 * SYNC_INTERVAL_MS the router's worker asks SQLite whether anything was
 * committed since it last looked (PRAGMA data_version, one cheap read); if
 * so it reads the override table and applies what changed since its last
 * read (a row that appeared or changed sets the field, a row that went away
 * puts the config's value back), and imports the events other instances
 * wrote into the ring, tagged with their instance. Only changes are applied,
 * so a provider this router found misconfigured stays out even though an
 * old "enabled" row sits in the table. The poll is an engine timer that
 * queues a job on the worker: SQLite never runs on the engine thread, nor
 * with r->mu held; the timer or job out counts as active, so router_free
 * waits for it (or cancels the timer). A store that can tell at once
 * (PostgreSQL's NOTIFY: store_set_change_hook) brings the next poll forward
 * to now, so a drain typed on one instance reaches the others in
 * milliseconds, not a poll interval.
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

void
rt_override_apply(void *arg, const char *name, const char *field, const char *value)
{
	struct router *r = arg;
	int idx = rt_provider_index(r, name);
	struct provider *p;

	if (idx < 0)
		return;
	p = &r->providers[idx];
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
	}
}

/* A field whose override row went away: back to the config's value. r->mu held. */
static void
override_revert_locked(struct provider *p, const char *field)
{
	if (strcmp(field, "priority") == 0) {
		p->priority = p->conf->priority;
		p->priority_overridden = 0;
	} else if (strcmp(field, "weight") == 0) {
		p->weight = p->conf->weight;
		p->weight_overridden = 0;
	} else if (strcmp(field, "admin") == 0 && p->admin_overridden) {
		p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->admin_overridden = 0;
	}
}

static void
override_save(struct router *r, const char *name, const char *field, const char *fmt, ...)
{
	char value[64];
	va_list ap;

	if (r->store == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	if (store_override_set(r->store, name, field, value) != 0)
		event_add(r->events, EV_ERROR, name, "could not save the %s override", field);
	else
		sync_note_local(r, name, field, value);
}

/* Setup and teardown. */

int
router_set_admin(struct router *r, const char *name, enum provider_admin a, char **cause)
{
	struct provider *p;
	enum provider_admin before;

	if ((p = rt_provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->admin;
	p->admin = a;
	p->admin_overridden = a != ADMIN_MISCONFIGURED;
	if (a == ADMIN_ENABLED)
		p->blocked_until_ms = 0;
	pthread_mutex_unlock(&r->mu);
	if (a != ADMIN_MISCONFIGURED)
		override_save(r, name, "admin", "%s", provider_admin_name(a));
	if (a == ADMIN_DRAINED)
		event_add(r->events, EV_OPERATOR, name,
		    "operator: failover: %s drained (was %s); "
		    "new traffic goes to the next provider",
		    name, provider_admin_name(before));
	else
		event_add(r->events, EV_OPERATOR, name, "operator: %s %s -> %s", name,
		    provider_admin_name(before), provider_admin_name(a));
	return 0;
}

int
router_set_priority(struct router *r, const char *name, int priority, char **cause)
{
	struct provider *p;
	int before;

	if (priority < LIMIT_PRIORITY_MIN || priority > LIMIT_PRIORITY_MAX) {
		*cause = xasprintf("priority %d out of range %d..%d", priority, LIMIT_PRIORITY_MIN,
		    LIMIT_PRIORITY_MAX);
		return -1;
	}
	if ((p = rt_provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->priority;
	p->priority = priority;
	p->priority_overridden = 1;
	pthread_mutex_unlock(&r->mu);
	override_save(r, name, "priority", "%d", priority);
	event_add(r->events, EV_OPERATOR, name, "operator: %s priority %d -> %d", name, before,
	    priority);
	return 0;
}

int
router_set_weight(struct router *r, const char *name, double weight, char **cause)
{
	struct provider *p;
	double before;

	if (!(weight >= LIMIT_WEIGHT_MIN && weight <= LIMIT_WEIGHT_MAX)) {
		*cause = xasprintf("weight %g out of range %g..%g", weight, LIMIT_WEIGHT_MIN,
		    LIMIT_WEIGHT_MAX);
		return -1;
	}
	if ((p = rt_provider_lock(r, name, cause)) == NULL)
		return -1;
	before = p->weight;
	p->weight = weight;
	p->weight_overridden = 1;
	pthread_mutex_unlock(&r->mu);
	override_save(r, name, "weight", "%g", weight);
	event_add(r->events, EV_OPERATOR, name, "operator: %s weight %.2f -> %.2f", name, before,
	    weight);
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
router_clear_overrides(struct router *r, const char *name, char **cause)
{
	int found = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		if (name != NULL && strcmp(p->conf->name, name) != 0)
			continue;
		found = 1;
		p->priority = p->conf->priority;
		p->weight = p->conf->weight;
		if (p->admin_overridden)
			p->admin = p->conf->enabled ? ADMIN_ENABLED : ADMIN_DISABLED;
		p->priority_overridden = p->weight_overridden = p->admin_overridden = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (!found) {
		*cause = xasprintf("unknown provider \"%s\"", name);
		return -1;
	}
	if (r->store != NULL && store_override_clear(r->store, name) != 0) {
		*cause = xstrdup("could not clear the overrides in the database");
		return -1;
	}
	if (r->store != NULL)
		sync_note_local(r, name, NULL, NULL);
	event_add(r->events, EV_OPERATOR, name, "operator: overrides of %s reset to the config",
	    name != NULL ? name : "every provider");
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

/* Apply what changed between the rows last seen and now: a row set again (a new
 * row id) counts as a change even with the same value. r->mu held. */
static void
sync_apply_locked(struct router *r, const char *seen, const char *now)
{
	static const char *const fields[] = {"priority", "weight", "admin"};

	for (size_t i = 0; i < r->n_providers; i++) {
		struct provider *p = &r->providers[i];
		for (size_t f = 0; f < nitems(fields); f++) {
			char was[96], is[96], *tab;
			int had = sync_row(seen, p->conf->name, fields[f], was, sizeof was);
			int has = sync_row(now, p->conf->name, fields[f], is, sizeof is);

			if (had == has && (!has || strcmp(was, is) == 0))
				continue;
			if (!has) {
				override_revert_locked(p, fields[f]);
				continue;
			}
			if ((tab = strchr(is, '\t')) != NULL)
				*tab = '\0'; /* the value without its row id */
			rt_override_apply(r, p->conf->name, fields[f], is);
			if (strcmp(fields[f], "admin") == 0 && p->admin == ADMIN_ENABLED)
				p->blocked_until_ms = 0;
		}
	}
}

/* Worker: the override rows, and what changed in them since the last read. */
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

/* Worker: other instances' events since the last one looked at, into the ring. */
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

/* Worker: the rows last seen, as they are after this router's own write. A row
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
	workq_push(r->wq, job_sync_note, n);
}

/* The poll is over for good; r->mu held. r->sync_seen belongs to the worker
 * (a queued job_sync_note may still read it): router_free frees it once the
 * worker has stopped (rt_sync_free). */
static void
sync_release_locked(struct router *r)
{
	r->sync_pending = 0;
	if (--r->active == 0)
		pthread_cond_broadcast(&r->idle);
}

static void on_sync_timer(void *arg);

/* Worker: one poll, then the next one's timer. */
static void
job_sync(void *arg)
{
	struct router *r = arg;
	int64_t version;
	int closing;

	pthread_mutex_lock(&r->mu);
	closing = r->closing;
	pthread_mutex_unlock(&r->mu);
	if (!closing) {
		rt_limits_refill(r);
		rt_keys_tick(r);
	}
	if (!closing && store_data_version(r->store, &version) == 0 && version != r->sync_version) {
		r->sync_version = version;
		sync_overrides(r);
		sync_import_events(r);
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

/* Engine thread: SQLite is the worker's business. */
static void
on_sync_timer(void *arg)
{
	struct router *r = arg;

	pthread_mutex_lock(&r->mu);
	r->sync_timer = 0;
	pthread_mutex_unlock(&r->mu);
	workq_push(r->wq, job_sync, r);
}

void
rt_sync_start(struct router *r)
{
	int64_t last;

	if (r->store == NULL)
		return;
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

/* After the worker has stopped: what the poll kept. */
void
rt_sync_free(struct router *r)
{
	free(r->sync_seen);
	r->sync_seen = NULL;
}
