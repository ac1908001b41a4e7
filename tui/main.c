/* main.c: llmdeck's entry point; dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct subcommand {
	const char *name;
	int (*main)(int, char **);
	const char *summary;
} subcommands[] = {
    {"ask", cli_ask_main, "send one prompt through the router"},
    {"sim", cli_sim_main, "run simulated provider servers"},
    {"status", cli_status_main, "today's spend, budget, cache and events from the database"},
    {"serve", cli_serve_main, "the router as an OpenAI-compatible HTTP gateway"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: llmdeck [--config FILE] [--demo] [options]   the console\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(f, "       llmdeck %-4s ...   %s\n", subcommands[i].name,
		    subcommands[i].summary);
	fprintf(f,
	    "       llmdeck --version\n"
	    "Each subcommand takes --help. Exit codes: 0 ok, 1 failed, 2 usage or config "
	    "error, 3 refused by the budget.\n");
}

int
main(int argc, char **argv)
{
	if (argc > 1) {
		for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
			if (strcmp(argv[1], subcommands[i].name) == 0)
				return subcommands[i].main(argc - 1, argv + 1);
		if (strcmp(argv[1], "--version") == 0) {
			printf("llmdeck %s\n", LLMDECK_VERSION);
			return 0;
		}
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	}
	return console_main(argc, argv);
}
