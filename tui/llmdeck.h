/*
 * llmdeck.h: the llmdeck program: its version, exit codes and subcommands (each
 * returns the exit code), and what the commands (tui/cli and the console in
 * tui/console) share that the library must not do for them (llmdeck.c).
 */
#ifndef LLMDECK_PROGRAM_H
#define LLMDECK_PROGRAM_H

#include <signal.h>
#include <stdint.h>

#define LLMDECK_VERSION "0.1.0"

/* Exit codes, documented in README.md. */
#define EXIT_ANSWERED 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_BUDGET 3

int cli_ask_main(int argc, char **argv);
int cli_sim_main(int argc, char **argv);
int console_main(int argc, char **argv);
int console_attach_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
int cli_ls_main(int argc, char **argv);
int cli_ledger_main(int argc, char **argv);
int cli_keys_main(int argc, char **argv);
int cli_teams_main(int argc, char **argv);
int cli_report_main(int argc, char **argv);
/* The first millisecond of day ("YYYY-MM-DD") in tz and the first of the next (cli_report.c):
 * 0, or -1 if it is no day. */
int llmdeck_day_bounds(const char *tz, const char *day, int64_t *start, int64_t *end);

/* Raise RLIMIT_NOFILE's soft limit to its hard limit, for commands that serve many
 * connections (serve, sim, the console's --listen and --demo); the new soft limit or -1. */
long llmdeck_raise_fd_limit(void);
/* store_open, then the config's ledger durability ("ledger": {"durability"}).
 * 0, or -1 with *cause (nothing left open). */
struct store;
struct config;
int llmdeck_open_store(struct store **, const char *path, const struct config *, char **cause);
/*
 * For a command that serves until SIGINT or SIGTERM: block both (call before any
 * thread starts, so only sigwait(set) sees them), ignore SIGPIPE, raise the file
 * limit.
 */
void llmdeck_serve_signals(sigset_t *set);

#endif
