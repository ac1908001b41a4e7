/*
 * cli_common.c: what the commands (the subcommands and the console) share and
 * the library must not do for them: changing the process's own limits.
 */
#include "cli.h"

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
