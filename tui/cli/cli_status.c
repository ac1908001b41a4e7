/*
 * cli_status.c: `llmdeck status [--config F] [--db F|URL] [--json]`: today's spend
 * and budget, per-provider and per-model requests, errors and cost, the cache
 * and the last events, read from the database (several processes may share it).
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/budget.h"
#include "store/cache.h"
#include "config/config.h"
#include "store/ledger.h"
#include "llmdeck.h"
#include "store/store.h"
#include "util/util.h"

#define STATUS_EVENTS 20

struct status {
	struct budget_status budget;
	const char *timezone;
	struct ledger_group *providers;
	int n_providers;
	struct ledger_group *models;
	int n_models;
	struct cache_stats cache;
	struct store_event events[STATUS_EVENTS];
	int n_events;
};

static void
status_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck status [--config FILE] [--db FILE|URL] [--json]\n"
	    "Today's spend and budget, requests, errors and cost per provider and model,\n"
	    "the response cache and the last %d events, from the database\n"
	    "(--db: a file or a postgres:// URL, else the config's store.url, else\n"
	    "$XDG_STATE_HOME/llmdeck/llmdeck.db).\n"
	    "Exit codes: 0 ok, 2 usage, config or database error.\n",
	    STATUS_EVENTS);
}

static void
status_time(int64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *
status_groups_json(const struct ledger_group *g, int n)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", g[i].name);
		cJSON_AddNumberToObject(o, "requests", (double)g[i].requests);
		cJSON_AddNumberToObject(o, "errors", (double)g[i].errors);
		cJSON_AddNumberToObject(o, "cache_hits", (double)g[i].cache_hits);
		cJSON_AddNumberToObject(o, "input_tokens", (double)g[i].input_tokens);
		cJSON_AddNumberToObject(o, "output_tokens", (double)g[i].output_tokens);
		cJSON_AddNumberToObject(o, "cost_usd", g[i].cost_usd);
		cJSON_AddBoolToObject(o, "unpriced", g[i].unpriced);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static void
status_print_json(const struct status *st, const char *db)
{
	const struct budget_status *b = &st->budget;
	cJSON *o = cJSON_CreateObject(), *c, *ev;
	char when[32], *text;

	cJSON_AddStringToObject(o, "db", db);
	cJSON_AddStringToObject(o, "day", b->day);
	cJSON_AddStringToObject(o, "timezone", st->timezone);
	cJSON_AddNumberToObject(o, "budget_usd", b->budget_usd);
	cJSON_AddNumberToObject(o, "spent_usd", b->spent_usd);
	cJSON_AddNumberToObject(o, "reserved_usd", b->reserved_usd);
	cJSON_AddNumberToObject(o, "alert_threshold", b->alert_threshold);
	cJSON_AddBoolToObject(o, "alert_crossed", b->alert_crossed);
	cJSON_AddNumberToObject(o, "burn_5m_per_hour", b->burn_5m_per_hour);
	cJSON_AddNumberToObject(o, "burn_60m_per_hour", b->burn_60m_per_hour);
	cJSON_AddNumberToObject(o, "projected_usd", b->projected_usd);
	cJSON_AddBoolToObject(o, "under_pressure", b->under_pressure);
	cJSON_AddItemToObject(o, "providers", status_groups_json(st->providers, st->n_providers));
	cJSON_AddItemToObject(o, "models", status_groups_json(st->models, st->n_models));
	c = cJSON_AddObjectToObject(o, "cache");
	cJSON_AddNumberToObject(c, "entries", (double)st->cache.entries);
	cJSON_AddNumberToObject(c, "hits", (double)st->cache.hits);
	cJSON_AddNumberToObject(c, "misses", (double)st->cache.misses);
	cJSON_AddNumberToObject(c, "ttl_seconds", st->cache.ttl_seconds);
	ev = cJSON_AddArrayToObject(o, "events");
	for (int i = 0; i < st->n_events; i++) {
		cJSON *e = cJSON_CreateObject();

		status_time(st->events[i].time_ms, when, sizeof when);
		cJSON_AddStringToObject(e, "time", when);
		cJSON_AddNumberToObject(e, "time_ms", (double)st->events[i].time_ms);
		cJSON_AddStringToObject(e, "kind", st->events[i].kind);
		cJSON_AddStringToObject(e, "provider", st->events[i].provider);
		cJSON_AddStringToObject(e, "message", st->events[i].message);
		cJSON_AddItemToArray(ev, e);
	}
	text = cJSON_Print(o);
	if (text == NULL)
		fatal("status: out of memory printing JSON");
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

static void
status_print_groups(const char *title, const struct ledger_group *g, int n)
{
	printf("\n%-24s %9s %7s %6s %12s\n", title, "requests", "errors", "cached", "cost");
	if (n == 0)
		printf("  (none today)\n");
	for (int i = 0; i < n; i++) {
		char cost[32];

		snprintf(cost, sizeof cost, "$%.4f", g[i].cost_usd);
		printf("  %-22s %9lld %7lld %6lld %12s%s\n", g[i].name[0] != '\0' ? g[i].name : "-",
		    (long long)g[i].requests, (long long)g[i].errors, (long long)g[i].cache_hits,
		    cost, g[i].unpriced ? " +unpriced" : "");
	}
}

static void
status_print_text(const struct status *st, const char *db)
{
	const struct budget_status *b = &st->budget;
	int64_t lookups = st->cache.hits + st->cache.misses;
	char when[32];

	printf("database  %s\n", db);
	printf("day       %s (%s)\n", b->day, st->timezone);
	if (b->budget_usd > 0)
		printf("spent     $%.4f of $%.2f (%.1f%%), reserved $%.4f, alert at %.0f%%%s\n",
		    b->spent_usd, b->budget_usd, 100 * b->spent_usd / b->budget_usd,
		    b->reserved_usd, 100 * b->alert_threshold,
		    b->alert_crossed ? " (crossed)" : "");
	else
		printf("spent     $%.4f, no daily budget, reserved $%.4f\n", b->spent_usd,
		    b->reserved_usd);
	printf("burn      $%.4f/h over 5 min, $%.4f/h over 60 min; projected $%.4f by the "
	       "day's end%s\n",
	    b->burn_5m_per_hour, b->burn_60m_per_hour, b->projected_usd,
	    b->under_pressure ? "; under budget pressure" : "");
	status_print_groups("providers", st->providers, st->n_providers);
	status_print_groups("models", st->models, st->n_models);
	printf("\ncache     %lld entries, %lld hits, %lld misses", (long long)st->cache.entries,
	    (long long)st->cache.hits, (long long)st->cache.misses);
	if (lookups > 0)
		printf(" (hit rate %.1f%%)", 100.0 * (double)st->cache.hits / (double)lookups);
	if (st->cache.ttl_seconds > 0)
		printf(", ttl %ds", st->cache.ttl_seconds);
	printf("\n\nevents (last %d)\n", STATUS_EVENTS);
	if (st->n_events == 0)
		printf("  (none)\n");
	for (int i = 0; i < st->n_events; i++) {
		status_time(st->events[i].time_ms, when, sizeof when);
		printf("  %s %-9s %s%s%s\n", when, st->events[i].kind, st->events[i].provider,
		    st->events[i].provider[0] != '\0' ? ": " : "", st->events[i].message);
	}
}

int
cli_status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *db_path = NULL;
	struct status st;
	struct config cfg;
	struct store *s = NULL;
	char *cause = NULL;
	int64_t now;
	int ch, json = 0, rc = EXIT_USAGE;
	struct stat sb;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'd': db_path = optarg; break;
		case 'j': json = 1; break;
		case 'h': status_usage(stdout); return 0;
		default: status_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck status: unexpected argument \"%s\"\n", argv[optind]);
		status_usage(stderr);
		return EXIT_USAGE;
	}

	config_init(&cfg);
	if (config_load_unchecked(&cfg, config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck status: %s\n", cause);
		goto out;
	}
	/* status reads: a --db that does not exist is a typo, not a new database */
	if (db_path == NULL)
		db_path = cfg.store.url;
	if (db_path != NULL && !store_is_url(db_path) && stat(db_path, &sb) != 0) {
		fprintf(stderr, "llmdeck status: no database at %s\n", db_path);
		goto out;
	}
	if (store_open(&s, db_path, &cause) != 0) {
		fprintf(stderr, "llmdeck status: %s\n", cause);
		goto out;
	}
	memset(&st, 0, sizeof st);
	st.timezone = cfg.budget.timezone != NULL ? cfg.budget.timezone : "UTC";
	if (budget_get_status(s, &cfg.budget, &st.budget, &cause) != 0) {
		fprintf(stderr, "llmdeck status: %s\n", cause);
		goto out;
	}
	{
		int64_t start, end;
		char day[16];

		now = store_now_ms(s);
		store_day_bounds(cfg.budget.timezone, now, &start, &end, day);
		st.n_providers = ledger_groups(s, start, end, 0, &st.providers, &cause);
		if (st.n_providers >= 0)
			st.n_models = ledger_groups(s, start, end, 1, &st.models, &cause);
		if (st.n_providers < 0 || st.n_models < 0) {
			fprintf(stderr, "llmdeck status: %s\n", cause);
			goto out_free;
		}
	}
	if (cache_get_stats(s, &st.cache) != 0 ||
	    (st.n_events = store_events_last(s, st.events, STATUS_EVENTS)) < 0) {
		fprintf(stderr, "llmdeck status: %s: cannot read the cache or the events\n",
		    store_path(s));
		goto out_free;
	}
	st.cache.ttl_seconds = cfg.cache.ttl_seconds;
	if (json)
		status_print_json(&st, store_path(s));
	else
		status_print_text(&st, store_path(s));
	rc = 0;
out_free:
	free(st.providers);
	free(st.models);
out:
	free(cause);
	store_close(s);
	config_free(&cfg);
	return rc;
}
