/*
 * cli_common.c: what the commands (the subcommands and the console) share and
 * the library must not do for them: the process's signals and limits.
 */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

/* A gateway or a simulated provider holds a descriptor per client: take all we may. */
long
cli_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	return (long)rl.rlim_cur;
}

void
cli_serve_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_raise_fd_limit();
}
