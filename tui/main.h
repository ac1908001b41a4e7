/* main.h: the subcommands of the llmdeck binary. Each returns the exit code. */
#ifndef LLMDECK_MAIN_H
#define LLMDECK_MAIN_H

#define LLMDECK_VERSION "0.1.0"

/* Exit codes, documented in README.md. */
#define EXIT_ANSWERED 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_BUDGET 3

int cmd_ask_main(int argc, char **argv);
int cmd_sim_main(int argc, char **argv);
int cmd_console_main(int argc, char **argv);
int cmd_status_main(int argc, char **argv);
int cmd_serve_main(int argc, char **argv);

#endif
