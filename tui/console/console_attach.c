/*
 * console_attach.c: `llmdeck attach [URL|SOCKET ...]`: the console on routing
 * processes that run elsewhere (llmdeck serve, or a console serving with
 * --listen), through their admin API. With no target it attaches to every
 * live local instance (their Unix sockets in the runtime directory, as
 * `llmdeck ls` lists them), or with --db to every live instance in the
 * database's instance registry (a fleet on PostgreSQL, on any host, through
 * their admin URLs); several targets make a fleet view. Every action
 * goes to the process through the API; a process that stops answering stays
 * on screen, marked, and is retried with backoff.
 */
#include "console/console.h"

#include <curl/curl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llmdeck.h"
#include "gateway/gateway.h"
#include "store/store.h"
#include "util/util.h"

static void
attach_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck attach [--db F|URL] [--theme NAME] [--no-color] [--readonly]\n"
	    "                      [URL|SOCKET ...]\n"
	    "The console on running llmdeck processes (llmdeck serve, or llmdeck --listen),\n"
	    "through their admin API: every action is applied there, live.\n"
	    "  URL             http://HOST:PORT (or HOST:PORT) of a process's HTTP port\n"
	    "  SOCKET          the path of a process's Unix socket\n"
	    "                  (none: every live local instance, as llmdeck ls lists them;\n"
	    "                  several: a fleet view with an INSTANCE column)\n"
	    "  --db F|URL      every live instance in this database's registry (a\n"
	    "                  postgres:// URL: the fleet on every host), by admin URL\n"
	    "  --theme NAME    a theme from themes/ or a path to a theme file\n"
	    "  --no-color      no colours (also when NO_COLOR is set)\n"
	    "  --readonly      show everything, hide and refuse every action\n"
	    "The bearer token in $%s is sent when set. Exit codes: 0 quit, 1 no instance\n"
	    "to attach to, 2 usage error.\n",
	    GATEWAY_ADMIN_TOKEN_ENV);
}

/* Options into c (and *db); the first target's index in argv, or -1 when done (help),
 * -2 on a usage error (printed). */
static int
attach_parse(struct console *c, int argc, char **argv, const char **db)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"theme", required_argument, NULL, 't'},
	    {"no-color", no_argument, NULL, 'n'},
	    {"readonly", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "t:nRh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': *db = optarg; break;
		case 't': c->theme_name = optarg; break;
		case 'n': c->no_color = 1; break;
		case 'R': c->readonly = 1; break;
		case 'h': attach_usage(stdout); return -1;
		default: attach_usage(stderr); return -2;
		}
	}
	if (console_check_theme(c->theme_name) != 0)
		return -2;
	return optind;
}

/* Every live local instance as a target; how many. */
static size_t
attach_local(struct console *c, const char *token)
{
	struct gateway_instance *v = NULL;
	size_t n = 0;
	char *cause = NULL;

	if (gateway_instances(&v, &n, &cause) != 0) {
		fprintf(stderr, "llmdeck attach: %s\n", cause);
		free(cause);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		console_add_target(c, console_remote(c, v[i].socket, token));
		strlcpy_(c->targets[c->n_targets - 1].label, v[i].id, sizeof c->targets[0].label);
	}
	free(v);
	return n;
}

/* Every live instance in db's registry, by its admin URL; how many. */
static size_t
attach_db(struct console *c, const char *db, const char *token)
{
	struct store_instance *v = NULL;
	struct store *s;
	char *cause = NULL;
	size_t live = 0;
	int n;

	if (store_open(&s, db, &cause) != 0) {
		fprintf(stderr, "llmdeck attach: %s\n", cause);
		free(cause);
		return 0;
	}
	n = store_instances(s, &v);
	store_close(s);
	for (int i = 0; i < n; i++) {
		if (v[i].gone || v[i].admin_url[0] == '\0')
			continue;
		console_add_target(c, console_remote(c, v[i].admin_url, token));
		strlcpy_(c->targets[c->n_targets - 1].label, v[i].id, sizeof c->targets[0].label);
		live++;
	}
	free(v);
	return live;
}

int
console_attach_main(int argc, char **argv)
{
	struct console *c = console_new();
	const char *token = getenv(GATEWAY_ADMIN_TOKEN_ENV), *db = NULL;
	int first, rc;

	if ((first = attach_parse(c, argc, argv, &db)) < 0) {
		console_free(c);
		free(c);
		return first == -1 ? 0 : EXIT_USAGE;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "llmdeck attach: the console needs a terminal; try 'llmdeck ls'\n");
		console_free(c);
		free(c);
		return EXIT_USAGE;
	}
	setlocale(LC_ALL, "");
	c->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	c->attached = 1;
	if (token != NULL && *token == '\0')
		token = NULL;
	for (int i = first; i < argc; i++)
		console_add_target(c, console_remote(c, argv[i], token));
	if (db != NULL && attach_db(c, db, token) == 0) {
		fprintf(stderr, "llmdeck attach: no live instance in %s's registry\n", db);
		rc = EXIT_FAILED;
		goto out;
	}
	if (first == argc && db == NULL && attach_local(c, token) == 0) {
		fprintf(stderr,
		    "llmdeck attach: no live local instance (start one with 'llmdeck serve', or "
		    "give URL|SOCKET)\n");
		rc = EXIT_FAILED;
		goto out;
	}
	rc = console_ui(c);
out:
	console_free(c);
	free(c);
	curl_global_cleanup();
	return rc;
}
