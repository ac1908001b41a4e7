/*
 * llmdeck.c: what the commands (the subcommands and the console) share and
 * the library must not do for them: the process's signals and limits, and the
 * database opened as the config asks.
 */
#include "llmdeck.h"

#include "store/cache.h"
#include "store/ledger.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

/* A gateway or a simulated provider holds a descriptor per client: take all we may. */
long
llmdeck_raise_fd_limit(void)
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
llmdeck_serve_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
	llmdeck_raise_fd_limit();
}

int
llmdeck_open_store(struct store **st, const char *path, const struct config *cfg, char **cause)
{
	/* --db wins; else the config's "store": {"url"}; else the SQLite default. */
	if (path == NULL && cfg != NULL)
		path = cfg->store.url;
	if (store_open(st, path, cause) != 0)
		return -1;
	if (ledger_set_durability(*st, cfg->ledger.durability, cause) != 0) {
		store_close(*st);
		*st = NULL;
		return -1;
	}
	ledger_set_spool_max(*st, cfg->ledger.spool_max_rows);
	/* cache.url: flush and stats (console, status) see the Redis cache. */
	cache_set_url(*st, cfg->cache.url);
	return 0;
}
