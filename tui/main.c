/* main.c: llmdeck's entry point; dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "llmdeck.h"

static const struct subcommand {
	const char *name;
	int (*main)(int, char **);
	const char *summary;
} subcommands[] = {
    {"ask", cli_ask_main, "send one prompt through the router"},
    {"sim", cli_sim_main, "run simulated provider servers"},
    {"status", cli_status_main, "today's spend, budget, cache and events from the database"},
    {"serve", cli_serve_main, "the router as an OpenAI-compatible HTTP gateway"},
    {"ledger", cli_ledger_main, "the ledger's upkeep: prune --before DATE deletes old rows"},
    {"keys", cli_keys_main, "client keys: create, ls, show, revoke, rotate, update"},
    {"teams", cli_teams_main, "teams' budgets and limits: set, ls, show, rm"},
    {"report", cli_report_main, "spend by key, team, model or provider over days"},
    {"ls", cli_ls_main, "list the llmdeck instances running here (like tmux ls)"},
    {"attach", console_attach_main, "the console on running instances (URL, socket, or all local)"},
};

/* llmdeck --help: the console's options (its own --help, so they are written
 * once), then the subcommands. */
static void
usage(void)
{
	static char name[] = "llmdeck", opt[] = "--help";
	char *help[] = {name, opt, NULL};

	console_main(2, help);
	printf("\nSubcommands, each with its --help:\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		printf("  llmdeck %-6s ...  %s\n", subcommands[i].name, subcommands[i].summary);
	printf("  llmdeck --version\n"
	       "Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 refused by the budget.\n"
	       "man llmdeck has them all, with the files and the environment.\n");
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
			usage();
			return 0;
		}
	}
	return console_main(argc, argv);
}
