/*
 * cli_ledger.c: `llmdeck ledger prune --before DATE`: delete the ledger's
 * rows from before a past day, in batches (ledger_prune), on either backend.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "llmdeck.h"
#include "store/ledger.h"
#include "store/store.h"

static void
ledger_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck ledger prune --before YYYY-MM-DD [--db PATH|URL] [--config FILE]\n"
	    "Deletes the ledger's rows from before DATE (a day in the budget's timezone,\n"
	    "before today: today's rows are the budget's), %d rows per transaction so\n"
	    "writers never wait long, and prints how many went.\n",
	    LEDGER_PRUNE_BATCH);
}

static int
ledger_prune_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"before", required_argument, NULL, 'b'},
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *db_path = NULL, *before = NULL, *tz;
	struct config cfg;
	struct store *s = NULL;
	char *cause = NULL, today[16];
	int64_t start, start_end, today_start, today_end, deleted = 0;
	int ch, rc = EXIT_USAGE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "b:c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': before = optarg; break;
		case 'c': config_path = optarg; break;
		case 'd': db_path = optarg; break;
		case 'h': ledger_usage(stdout); return 0;
		default: ledger_usage(stderr); return EXIT_USAGE;
		}
	}
	if (before == NULL || optind != argc) {
		ledger_usage(stderr);
		return EXIT_USAGE;
	}
	config_init(&cfg);
	if (config_load_unchecked(&cfg, config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck ledger prune: %s\n", cause);
		goto out;
	}
	tz = cfg.budget.timezone != NULL ? cfg.budget.timezone : "UTC";
	if (llmdeck_day_bounds(tz, before, &start, &start_end) != 0) {
		fprintf(stderr, "llmdeck ledger prune: --before %s is not a day (YYYY-MM-DD)\n",
		    before);
		goto out;
	}
	if (db_path == NULL)
		db_path = cfg.store.url;
	if (store_open(&s, db_path, &cause) != 0) {
		fprintf(stderr, "llmdeck ledger prune: %s\n", cause);
		rc = EXIT_FAILED;
		goto out;
	}
	if (store_day_bounds(tz, store_now_ms(s), &today_start, &today_end, today) != 0 ||
	    start >= today_start) {
		fprintf(stderr,
		    "llmdeck ledger prune: --before %s is not before today (%s, %s): today's rows "
		    "are the budget's\n",
		    before, today, tz);
		goto out;
	}
	rc = EXIT_FAILED;
	if (ledger_prune(s, start, &deleted, &cause) != 0) {
		fprintf(stderr, "llmdeck ledger prune: %s (%lld rows deleted before it)\n", cause,
		    (long long)deleted);
		goto out;
	}
	printf("%lld ledger rows before %s deleted\n", (long long)deleted, before);
	rc = 0;
out:
	free(cause);
	store_close(s);
	config_free(&cfg);
	return rc;
}

int
cli_ledger_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "prune") == 0)
		return ledger_prune_main(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		ledger_usage(stdout);
		return 0;
	}
	ledger_usage(stderr);
	return EXIT_USAGE;
}
