/*
 * router_admin.c: operator calls (enable, disable, drain, priority, weight,
 * breaker reset, clear overrides) and their overrides, persisted in the
 * database so that they survive a restart. Each call writes an event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_limits.h"
#include "router_priv.h"
#include "store.h"

/* Lock the router and find a provider by name; on failure unlock and fill cause. */
struct provider *
provider_lock(struct router *r, const char *name, char **cause)
{
	int idx;

	pthread_mutex_lock(&r->mu);
	if ((idx = provider_index(r, name)) < 0) {
		pthread_mutex_unlock(&r->mu);
		*cause = xasprintf("unknown provider \"%s\"", name);
		return NULL;
	}
	return &r->providers[idx];
}

void
override_apply(void *arg, const char *name, const char *field, const char *value)
{
	struct router *r = arg;
	int idx = provider_index(r, name);
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
}

/* Setup and teardown. */

int
router_set_admin(struct router *r, const char *name, enum provider_admin a, char **cause)
{
	struct provider *p;
	enum provider_admin before;

	if ((p = provider_lock(r, name, cause)) == NULL)
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
	if ((p = provider_lock(r, name, cause)) == NULL)
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
	if ((p = provider_lock(r, name, cause)) == NULL)
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

	if ((p = provider_lock(r, name, cause)) == NULL)
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
	event_add(r->events, EV_OPERATOR, name, "operator: overrides of %s reset to the config",
	    name != NULL ? name : "every provider");
	return 0;
}
