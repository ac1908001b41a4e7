/*
 * cli_report.c: `llmdeck report --by key|team|model|provider [--from DAY --to
 * DAY] [--json|--csv]`: the ledger's requests, tokens and cost over whole
 * days in the budget's timezone (today unless told), grouped, with a totals
 * row (ledger_groups). Keys are shown by name and id; rows sent with no key
 * (or no team) are "(none)".
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "llmdeck.h"
#include "store/keys.h"
#include "store/ledger.h"
#include "store/store.h"
#include "util/util.h"

static void
report_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck report [--by key|team|model|provider] [--from YYYY-MM-DD]\n"
	    "                      [--to YYYY-MM-DD] [--json|--csv] [--db PATH|URL] [--config "
	    "FILE]\n"
	    "Requests, errors, tokens and cost from the ledger, grouped (default --by model),\n"
	    "over whole days in the budget's timezone from --from to --to, both included\n"
	    "(default: today), with a totals row.\n");
}

int
llmdeck_day_bounds(const char *tz, const char *day, int64_t *start, int64_t *end)
{
	struct tm tm;
	int y, m, d, n = 0;
	char name[16];

	if (sscanf(day, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || day[n] != '\0' ||
	    strlen(day) != 10)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	if (store_day_bounds(tz, (int64_t)timegm(&tm) * 1000, start, end, name) != 0 ||
	    strcmp(name, day) != 0) /* 2025-02-30 would be March */
		return -1;
	return 0;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void
csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

struct report_row {
	char name[LIMIT_ALIAS_SIZE + LIMIT_NAME_SIZE + 8];
	const struct ledger_group *g;
};

static int
report_print(int by, const char *by_name, const char *from, const char *to, int json, int csv,
    struct report_row *rows, int n, const struct ledger_group *tot)
{
	if (json) {
		cJSON *o = cJSON_CreateObject(), *a, *r;
		char *t;

		cJSON_AddStringToObject(o, "by", by_name);
		cJSON_AddStringToObject(o, "from", from);
		cJSON_AddStringToObject(o, "to", to);
		a = cJSON_AddArrayToObject(o, "rows");
		for (int i = 0; i <= n; i++) {
			const struct ledger_group *g = i < n ? rows[i].g : tot;

			r = i < n ? cJSON_CreateObject() : cJSON_AddObjectToObject(o, "total");
			if (i < n) {
				cJSON_AddStringToObject(r, "name", rows[i].name);
				if (by == LEDGER_BY_KEY)
					cJSON_AddStringToObject(r, "key_id", g->name);
				cJSON_AddItemToArray(a, r);
			}
			cJSON_AddNumberToObject(r, "requests", (double)g->requests);
			cJSON_AddNumberToObject(r, "errors", (double)g->errors);
			cJSON_AddNumberToObject(r, "cache_hits", (double)g->cache_hits);
			cJSON_AddNumberToObject(r, "input_tokens", (double)g->input_tokens);
			cJSON_AddNumberToObject(r, "output_tokens", (double)g->output_tokens);
			cJSON_AddNumberToObject(r, "cost_usd", g->cost_usd);
			cJSON_AddBoolToObject(r, "unpriced", g->unpriced);
		}
		t = cJSON_Print(o);
		printf("%s\n", t);
		free(t);
		cJSON_Delete(o);
		return 0;
	}
	if (csv) {
		printf("%s,requests,errors,cache_hits,input_tokens,output_tokens,cost_usd\n",
		    by_name);
		for (int i = 0; i <= n; i++) {
			const struct ledger_group *g = i < n ? rows[i].g : tot;

			csv_field(i < n ? rows[i].name : "total");
			printf(",%lld,%lld,%lld,%lld,%lld,%.6f\n", (long long)g->requests,
			    (long long)g->errors, (long long)g->cache_hits,
			    (long long)g->input_tokens, (long long)g->output_tokens, g->cost_usd);
		}
		return 0;
	}
	printf("%s to %s, by %s\n", from, to, by_name);
	printf("%-36s %9s %7s %12s %12s %12s\n", by_name[0] == 'k' ? "KEY" : by_name, "REQUESTS",
	    "ERRORS", "INPUT", "OUTPUT", "COST USD");
	for (int i = 0; i <= n; i++) {
		const struct ledger_group *g = i < n ? rows[i].g : tot;

		printf("%-36.36s %9lld %7lld %12lld %12lld %12.6f%s\n",
		    i < n ? rows[i].name : "total", (long long)g->requests, (long long)g->errors,
		    (long long)g->input_tokens, (long long)g->output_tokens, g->cost_usd,
		    g->unpriced ? " +unpriced" : "");
	}
	return 0;
}

int
cli_report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"by", required_argument, NULL, 'b'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"csv", no_argument, NULL, 'v'},
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const by_names[] = {"provider", "model", "key", "team"};
	const char *config_path = NULL, *db_path = NULL, *from = NULL, *to = NULL,
	           *by_arg = "model", *tz;
	struct config cfg;
	struct store *s = NULL;
	struct ledger_group *gs = NULL, tot;
	struct report_row *rows = NULL;
	struct store_key *ks = NULL;
	char *cause = NULL, today[16];
	int64_t from_ms, to_ms, x;
	int ch, rc = EXIT_USAGE, json = 0, csv = 0, by = -1, n, nk = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "b:f:t:jvc:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': by_arg = optarg; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'j': json = 1; break;
		case 'v': csv = 1; break;
		case 'c': config_path = optarg; break;
		case 'd': db_path = optarg; break;
		case 'h': report_usage(stdout); return 0;
		default: report_usage(stderr); return EXIT_USAGE;
		}
	}
	for (int i = 0; i < (int)nitems(by_names); i++)
		if (strcmp(by_arg, by_names[i]) == 0)
			by = i;
	if (by < 0) {
		fprintf(stderr,
		    "llmdeck report: --by \"%s\": expected key, team, model or provider\n", by_arg);
		return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck report: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (json && csv) {
		fprintf(stderr, "llmdeck report: --json and --csv: choose one\n");
		return EXIT_USAGE;
	}
	config_init(&cfg);
	if (config_load_unchecked(&cfg, config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck report: %s\n", cause);
		goto out;
	}
	tz = cfg.budget.timezone != NULL ? cfg.budget.timezone : "UTC";
	if (store_open(&s, db_path != NULL ? db_path : cfg.store.url, &cause) != 0) {
		fprintf(stderr, "llmdeck report: %s\n", cause);
		goto out;
	}
	if (store_day_bounds(tz, store_now_ms(s), &from_ms, &to_ms, today) != 0) {
		fprintf(stderr, "llmdeck report: timezone \"%s\" unknown\n", tz);
		goto out;
	}
	if (from == NULL)
		from = to != NULL ? to : today;
	if (to == NULL)
		to = from;
	if (llmdeck_day_bounds(tz, from, &from_ms, &x) != 0) {
		fprintf(stderr, "llmdeck report: --from %s is not a day (YYYY-MM-DD)\n", from);
		goto out;
	}
	if (llmdeck_day_bounds(tz, to, &x, &to_ms) != 0) {
		fprintf(stderr, "llmdeck report: --to %s is not a day (YYYY-MM-DD)\n", to);
		goto out;
	}
	if (to_ms <= from_ms) {
		fprintf(stderr, "llmdeck report: --to %s is before --from %s\n", to, from);
		goto out;
	}
	rc = EXIT_FAILED;
	if ((n = ledger_groups(s, from_ms, to_ms, by, &gs, &cause)) < 0) {
		fprintf(stderr, "llmdeck report: %s\n", cause);
		goto out;
	}
	if (by == LEDGER_BY_KEY && (nk = keys_list(s, &ks, &cause)) < 0) {
		fprintf(stderr, "llmdeck report: %s\n", cause);
		goto out;
	}
	memset(&tot, 0, sizeof tot);
	rows = xcalloc((size_t)n + 1, sizeof *rows);
	for (int i = 0; i < n; i++) {
		const struct ledger_group *g = &gs[i];

		rows[i].g = g;
		snprintf(rows[i].name, sizeof rows[i].name, "%s",
		    g->name[0] != '\0' ? g->name : "(none)");
		for (int k = 0; k < nk && g->name[0] != '\0'; k++)
			if (strcmp(ks[k].id, g->name) == 0)
				snprintf(rows[i].name, sizeof rows[i].name, "%s (%s)", ks[k].name,
				    ks[k].id);
		tot.requests += g->requests;
		tot.errors += g->errors;
		tot.cache_hits += g->cache_hits;
		tot.input_tokens += g->input_tokens;
		tot.output_tokens += g->output_tokens;
		tot.cost_usd += g->cost_usd;
		tot.unpriced |= g->unpriced;
	}
	rc = report_print(by, by_names[by], from, to, json, csv, rows, n, &tot);
out:
	free(rows);
	free(gs);
	free(ks);
	free(cause);
	store_close(s);
	config_free(&cfg);
	return rc;
}
