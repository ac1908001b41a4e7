/*
 * pg_testutil.h: a throwaway PostgreSQL cluster for the store's tests: initdb
 * into a temporary directory, pg_ctl start on a Unix socket in it (no TCP),
 * as an unprivileged user when the tests run as root, and stop and remove it
 * at the end. No test needs a server the suite did not start.
 */
#ifndef LLMDECK_PG_TESTUTIL_H
#define LLMDECK_PG_TESTUTIL_H

struct pgtest;

/*
 * Start a cluster (initdb, pg_ctl start -w: bounded, it returns once the
 * server accepts connections). NULL with *why set (caller frees) when
 * PostgreSQL's server binaries are missing or it cannot start: the caller
 * passes why to testkit_missing (a failure under CI=true, else a skip).
 * $LLMDECK_PG_BINDIR overrides where the binaries are looked for
 * (/usr/lib/postgresql/NN/bin, the newest).
 */
struct pgtest *pgtest_start(char **why);
/* Stop the server (immediate) and remove its directory. NULL is a no-op. */
void pgtest_stop(struct pgtest *);
/* pg_ctl restart -m fast: every connection is dropped, the server is back when
 * it returns. The milliseconds it took, or -1 if it failed. */
long pgtest_restart(struct pgtest *);
/* Stop the server (fast: connections are cut) keeping its data, and start it
 * again on the same socket: a server lost for a while. 0 or -1. */
int pgtest_pause(struct pgtest *);
int pgtest_resume(struct pgtest *);
/* A fresh, empty database in the cluster: its postgresql:// URL (caller frees), or
 * NULL. */
char *pgtest_new_db(struct pgtest *);

#endif
