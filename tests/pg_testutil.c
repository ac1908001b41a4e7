/*
 * pg_testutil.c: the throwaway PostgreSQL cluster (pg_testutil.h).
 */
#include "pg_testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

struct pgtest {
	char *dir;    /* the cluster's data, its socket and its log, below it */
	char *bindir; /* initdb and pg_ctl */
	char *runas;  /* "runuser -u USER -- " when root, else "" */
	int next_db;
};

/* The newest /usr/lib/postgresql/NN/bin that has initdb, or $LLMDECK_PG_BINDIR. */
static char *
pgtest_bindir(void)
{
	const char *env = getenv("LLMDECK_PG_BINDIR");
	char *best = NULL, *p;
	int best_v = 0;
	struct dirent *e;
	DIR *d;

	if (env != NULL && *env != '\0') {
		p = xasprintf("%s/initdb", env);
		if (access(p, X_OK) == 0) {
			free(p);
			return xstrdup(env);
		}
		free(p);
		return NULL;
	}
	if ((d = opendir("/usr/lib/postgresql")) == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		int v = atoi(e->d_name);

		if (v <= best_v)
			continue;
		p = xasprintf("/usr/lib/postgresql/%s/bin/initdb", e->d_name);
		if (access(p, X_OK) == 0) {
			free(best);
			best = xasprintf("/usr/lib/postgresql/%s/bin", e->d_name);
			best_v = v;
		}
		free(p);
	}
	closedir(d);
	return best;
}

static int
pgtest_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

/* Run a shell command; 0 if it exited 0. */
static int
pgtest_sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

struct pgtest *
pgtest_start(char **why)
{
	char tmpl[] = "/tmp/llmdeck-pg-XXXXXX";
	struct pgtest *t;
	char *cmd;

	*why = NULL;
	char *bindir = pgtest_bindir();
	if (bindir == NULL) {
		*why = xasprintf("PostgreSQL server (initdb, pg_ctl: Debian's postgresql)");
		return NULL;
	}
	if (mkdtemp(tmpl) == NULL) {
		free(bindir);
		*why = xasprintf("PostgreSQL: cannot make a temporary directory");
		return NULL;
	}
	t = xcalloc(1, sizeof *t);
	t->dir = xstrdup(tmpl);
	t->bindir = bindir;
	/* PostgreSQL refuses to run as root: the cluster belongs to an unprivileged user. */
	if (geteuid() == 0) {
		const char *user = getpwnam("postgres") != NULL ? "postgres" : "nobody";
		struct passwd *pw = getpwnam(user);

		if (pw == NULL || chown(t->dir, pw->pw_uid, pw->pw_gid) != 0) {
			*why = xasprintf("PostgreSQL: no unprivileged user to run it as");
			pgtest_stop(t);
			return NULL;
		}
		t->runas = xasprintf("runuser -u %s -- ", user);
	} else
		t->runas = xstrdup("");
	cmd = xasprintf("%s%s/initdb -D %s/data -U llmdeck -A trust -E UTF8 --no-sync "
	                ">%s/initdb.log 2>&1",
	    t->runas, t->bindir, t->dir, t->dir);
	if (pgtest_sh(cmd) != 0) {
		*why = xasprintf("PostgreSQL: initdb failed (see %s/initdb.log)", t->dir);
		free(cmd);
		free(t->runas);
		t->runas = NULL; /* keep the log */
		return NULL;
	}
	free(cmd);
	if (pgtest_resume(t) != 0) {
		*why =
		    xasprintf("PostgreSQL: pg_ctl start failed (see %s/data/server.log)", t->dir);
		pgtest_stop(t);
		return NULL;
	}
	return t;
}

int
pgtest_resume(struct pgtest *t)
{
	/* -w: pg_ctl polls until the server accepts connections, at most -t seconds. */
	char *cmd = xasprintf("%s%s/pg_ctl -D %s/data -l %s/data/server.log -w -t 30 -o \"-k %s -c "
	                      "listen_addresses='' -c fsync=off -c max_connections=64\" start "
	                      ">/dev/null 2>&1",
	    t->runas, t->bindir, t->dir, t->dir, t->dir);
	int rc = pgtest_sh(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

int
pgtest_pause(struct pgtest *t)
{
	char *cmd = xasprintf("%s%s/pg_ctl -D %s/data -m fast -w stop >/dev/null 2>&1", t->runas,
	    t->bindir, t->dir);
	int rc = pgtest_sh(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

void
pgtest_stop(struct pgtest *t)
{
	char *cmd;

	if (t == NULL)
		return;
	if (t->runas != NULL) {
		cmd = xasprintf("%s%s/pg_ctl -D %s/data -m immediate -w stop >/dev/null 2>&1",
		    t->runas, t->bindir, t->dir);
		pgtest_sh(cmd);
		free(cmd);
		nftw(t->dir, pgtest_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(t->runas);
	free(t->bindir);
	free(t->dir);
	free(t);
}

long
pgtest_restart(struct pgtest *t)
{
	uint64_t t0 = clock_mono_ms();
	char *cmd;
	int rc;

	if (t == NULL || t->runas == NULL)
		return -1;
	/* The options it was started with are kept in postmaster.opts. */
	cmd = xasprintf("%s%s/pg_ctl -D %s/data -l %s/data/server.log -m fast -w -t 30 restart "
	                ">/dev/null 2>&1",
	    t->runas, t->bindir, t->dir, t->dir);
	rc = pgtest_sh(cmd);
	free(cmd);
	return rc == 0 ? (long)(clock_mono_ms() - t0) : -1;
}

char *
pgtest_new_db(struct pgtest *t)
{
	char *admin = xasprintf("postgresql:///postgres?host=%s&user=llmdeck", t->dir);
	char *name = xasprintf("t%d_%d", (int)getpid(), ++t->next_db);
	char *sql = xasprintf("CREATE DATABASE %s", name);
	char *url = NULL;
	PGconn *c = PQconnectdb(admin);
	PGresult *r;

	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			url = xasprintf("postgresql:///%s?host=%s&user=llmdeck", name, t->dir);
		PQclear(r);
	}
	PQfinish(c);
	free(admin);
	free(name);
	free(sql);
	return url;
}
