/*
 * cli_serve.c: `llmdeck serve`, the router as an HTTP gateway, headless, run
 * the way a service is:
 *
 *   SIGHUP           reopen the access log (after logrotate moved it), and
 *                    reload the config: the new file is loaded and validated
 *                    and a new router built on it; only then does the gateway
 *                    send new requests to it, while the old router finishes its
 *                    own and is freed once nothing uses it. A bad file changes
 *                    nothing (an error event and a line on stderr say why).
 *                    Overrides come back from the database; counters, windows
 *                    and breakers start afresh; events and their ids go on.
 *                    POST /admin/v1/reload does the same.
 *   SIGTERM, SIGINT  drain: new LLM requests get 503 and /ready says 503, the
 *                    ones in flight are answered (up to --drain-seconds), then
 *                    the process exits 0.
 *
 * The three signals are blocked before any thread starts and taken by
 * sigtimedwait on the main thread, which also frees retired routers.
 * Exit codes: 0 stopped by SIGINT or SIGTERM, 1 could not start, 2 usage or
 * config error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llmdeck.h"
#include "config/config.h"
#include "router/events.h"
#include "gateway/gateway.h"
#include "provider/http.h"
#include "router/router.h"
#include "store/store.h"
#include "util/util.h"

#define SERVE_DRAIN_DEFAULT 30

static void
serve_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck serve [--listen HOST:PORT] [--config F] [--db F|URL | --no-db]\n"
	    "                     [--instance NAME] [--no-socket] [--access-log FILE|-]\n"
	    "                     [--drain-seconds N] [--threads N] [--max-body BYTES]\n"
	    "                     [--token-env VAR] [--require-token]\n"
	    "                     [--max-connections N] [--max-connections-per-ip N]\n"
	    "                     [--idle-timeout SECONDS] [--access-log-max-mb N]\n"
	    "Serve the router over HTTP: POST /v1/chat/completions (OpenAI),\n"
	    "POST /v1/messages (Anthropic), GET /v1/models, /health, /ready, /metrics and\n"
	    "the admin API under /admin/v1/, on HOST:PORT and on a Unix socket. Prints\n"
	    "\"llmdeck gateway listening on http://HOST:PORT\" (port 0 picks one).\n"
	    "SIGHUP reloads the config (a bad file keeps the old one); SIGTERM or SIGINT\n"
	    "stops taking requests, answers those in flight, then exits.\n"
	    "  --listen HOST:PORT   default %s; a non-loopback address needs a\n"
	    "                       token\n"
	    "  --config F           config file (else $LLMDECK_CONFIG, the XDG file, the env)\n"
	    "  --db F|URL           the database: ledger, budget, cache, events, overrides,\n"
	    "                       shared with every process using it: a SQLite file, or\n"
	    "                       a postgres:// URL for a fleet across hosts (password in\n"
	    "                       PGPASSWORD or ~/.pgpass); default the config's\n"
	    "                       store.url, else $XDG_STATE_HOME/llmdeck/llmdeck.db\n"
	    "  --no-db              no database: no ledger, no budget, no cache (benchmarks)\n"
	    "  --instance NAME      this process's name in events, `llmdeck ls` and the\n"
	    "                       admin API (default HOST-PID)\n"
	    "  --no-socket          no Unix socket ($XDG_RUNTIME_DIR/llmdeck/NAME.sock)\n"
	    "  --access-log FILE|-  one JSON line per LLM request (time, instance, id,\n"
	    "                       model, provider, status, attempts, latency, tokens,\n"
	    "                       cost), appended (0600); past --access-log-max-mb it\n"
	    "                       becomes FILE.1 and a new FILE starts; SIGHUP reopens\n"
	    "                       it; refused requests (4xx before auth or parse) at\n"
	    "                       most %d a second, the rest counted in one line\n"
	    "  --access-log-max-mb N  rotate the access log past N MiB (default %ld)\n"
	    "  --drain-seconds N    on SIGTERM, how long to wait for requests in flight\n"
	    "                       (default %d)\n"
	    "  --token-env VAR      variable holding the bearer token (default\n"
	    "                       %s); when set, clients must send it\n"
	    "  --require-token      refuse to start without the token even on loopback\n"
	    "  --max-body BYTES     request body limit (default %d)\n"
	    "  --threads N          HTTP polling threads (default 1)\n"
	    "  --max-connections N  TCP connections at once (default: what the descriptor\n"
	    "                       limit allows, (RLIMIT_NOFILE - %d) / 2; more wait in\n"
	    "                       the backlog)\n"
	    "  --max-connections-per-ip N  per client address (default %d; 0: no limit)\n"
	    "  --idle-timeout SECONDS  close a connection idle this long (default %d)\n"
	    "The admin API takes the bearer token in %s over TCP when that is set;\n"
	    "without it, it is read-only on loopback (no web page: no Origin, a loopback\n"
	    "Host). The Unix socket may do everything with no token.\n"
	    "Exit codes: 0 stopped by a signal, 1 could not start, 2 usage or config error.\n",
	    GATEWAY_DEFAULT_LISTEN, GATEWAY_DEFAULT_REFUSED_PER_SECOND,
	    GATEWAY_DEFAULT_LOG_MAX / (1024 * 1024), SERVE_DRAIN_DEFAULT, GATEWAY_DEFAULT_TOKEN_ENV,
	    GATEWAY_DEFAULT_MAX_BODY, GATEWAY_FD_RESERVE + GATEWAY_LOCAL_CONNECTIONS,
	    GATEWAY_DEFAULT_PER_IP, GATEWAY_DEFAULT_IDLE_SECONDS, GATEWAY_ADMIN_TOKEN_ENV);
}

struct serve {
	struct gateway_opts go;
	const char *config_path, *db, *access_log;
	int no_db, no_socket;
	long drain_s;
	char instance[64];

	/* Running. */
	struct store *st;
	struct http_engine *engine; /* shared by every router a reload builds */
	struct gateway *gw;
	pthread_mutex_t reload_mu; /* SIGHUP (main thread) and POST /admin/v1/reload */
	struct router *router;     /* the current one, under reload_mu */
};

/* An instance name fit for a file name: letters, digits, '.', '-', '_'. */
static int
instance_ok(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) > 40)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* One option; 0, 1 for --help, -1 for a bad value (its message printed), -2 for usage. */
static int
serve_option(struct serve *s, int ch, const char *arg)
{
	long l;

	switch (ch) {
	case 'l': s->go.listen = arg; return 0;
	case 'c': s->config_path = arg; return 0;
	case 'd': s->db = arg; return 0;
	case 'N': s->no_db = 1; return 0;
	case 'e': s->go.token_env = arg; return 0;
	case 'r': s->go.require_token = 1; return 0;
	case 'S': s->no_socket = 1; return 0;
	case 'a': s->access_log = arg; return 0;
	case 'i':
		if (!instance_ok(arg)) {
			fprintf(stderr,
			    "llmdeck serve: --instance: expected up to 40 letters, digits, '.', "
			    "'-' "
			    "or '_', got \"%s\"\n",
			    arg);
			return -1;
		}
		strlcpy_(s->instance, arg, sizeof s->instance);
		return 0;
	case 'D':
		if (parse_long(arg, 0, 3600, &s->drain_s) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --drain-seconds: expected 0..3600, got \"%s\"\n", arg);
			return -1;
		}
		return 0;
	case 'm':
		if (parse_long(arg, 1, 1L << 30, &l) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --max-body: expected bytes 1..2^30, got \"%s\"\n", arg);
			return -1;
		}
		s->go.max_body = (size_t)l;
		return 0;
	case 't':
		if (parse_long(arg, 1, 64, &l) != 0) {
			fprintf(stderr, "llmdeck serve: --threads: expected 1..64, got \"%s\"\n",
			    arg);
			return -1;
		}
		s->go.threads = (int)l;
		return 0;
	case 'C': {
		unsigned long fds;
		unsigned most = gateway_max_connections(&fds);

		if (parse_long(arg, 1, (long)most, &l) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --max-connections: expected 1..%u (the descriptor "
			    "limit "
			    "is %lu: raise it with ulimit -n for more), got \"%s\"\n",
			    most, fds, arg);
			return -1;
		}
		s->go.max_connections = (unsigned)l;
		return 0;
	}
	case 'P':
		if (parse_long(arg, 0, 1000000, &l) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --max-connections-per-ip: expected 0 (no limit) to "
			    "1000000, got \"%s\"\n",
			    arg);
			return -1;
		}
		s->go.per_ip_limit = l == 0 ? -1 : (int)l;
		return 0;
	case 'I':
		if (parse_long(arg, 1, 3600, &l) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --idle-timeout: expected seconds 1..3600, got \"%s\"\n",
			    arg);
			return -1;
		}
		s->go.idle_seconds = (unsigned)l;
		return 0;
	case 'L':
		if (parse_long(arg, 1, 1L << 20, &l) != 0) {
			fprintf(stderr,
			    "llmdeck serve: --access-log-max-mb: expected MiB 1..1048576, got "
			    "\"%s\"\n",
			    arg);
			return -1;
		}
		s->go.access_log_max = (size_t)l * 1024 * 1024;
		return 0;
	case 'h': return 1;
	default: return -2;
	}
}

/* The command line into s: 0, or the exit code to return now. */
static int
serve_parse(struct serve *s, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"no-db", no_argument, NULL, 'N'},
	    {"token-env", required_argument, NULL, 'e'},
	    {"require-token", no_argument, NULL, 'r'},
	    {"max-body", required_argument, NULL, 'm'},
	    {"threads", required_argument, NULL, 't'},
	    {"instance", required_argument, NULL, 'i'},
	    {"no-socket", no_argument, NULL, 'S'},
	    {"access-log", required_argument, NULL, 'a'},
	    {"drain-seconds", required_argument, NULL, 'D'},
	    {"max-connections", required_argument, NULL, 'C'},
	    {"max-connections-per-ip", required_argument, NULL, 'P'},
	    {"idle-timeout", required_argument, NULL, 'I'},
	    {"access-log-max-mb", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc;

	gateway_opts_init(&s->go);
	s->drain_s = SERVE_DRAIN_DEFAULT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:c:d:Ne:rm:t:i:Sa:D:C:P:I:L:h", longopts, NULL)) !=
	    -1) {
		if ((rc = serve_option(s, ch, optarg)) == 0)
			continue;
		if (rc != -1)
			serve_usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? -1 : EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck serve: unexpected argument \"%s\"\n", argv[optind]);
		serve_usage(stderr);
		return EXIT_USAGE;
	}
	if (s->instance[0] == '\0')
		gateway_default_instance(s->instance, sizeof s->instance);
	return 0;
}

/* The config file as it is now, validated; NULL with *cause. */
static struct config *
serve_config(struct serve *s, char **cause)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);

	config_init(cfg);
	if (config_load(cfg, s->config_path, cause) != 0) {
		config_free(cfg);
		free(cfg);
		return NULL;
	}
	return cfg;
}

/* A router on cfg (which it keeps, and serve_router_free frees); NULL with *cause
 * (cfg freed). */
static struct router *
serve_router(struct serve *s, struct config *cfg, char **cause)
{
	struct router_opts ro;
	struct router *r;

	memset(&ro, 0, sizeof ro);
	ro.store = s->st; /* every answer ledgered, the budget, cache and overrides shared */
	ro.engine = s->engine;
	if ((r = router_new(cfg, &ro, cause)) == NULL) {
		config_free(cfg);
		free(cfg);
	}
	return r;
}

/* A router and the config it was built on. */
static void
serve_router_free(struct router *r)
{
	struct config *cfg;

	if (r == NULL)
		return;
	cfg = (struct config *)router_config(r);
	router_free(r);
	config_free(cfg);
	free(cfg);
}

/* SIGHUP or POST /admin/v1/reload: 0, or -1 with *cause (the old router stays). */
static int
serve_reload(void *arg, char **cause)
{
	struct serve *s = arg;
	struct config *cfg;
	struct router *r;
	char *why = NULL;
	size_t was;

	pthread_mutex_lock(&s->reload_mu);
	if ((cfg = serve_config(s, &why)) == NULL || (r = serve_router(s, cfg, &why)) == NULL) {
		event_add(router_events(s->router), EV_ERROR, NULL,
		    "reload refused, the old config stays: %s", why);
		fprintf(stderr, "llmdeck serve: reload refused, the old config stays: %s\n", why);
		*cause = why;
		pthread_mutex_unlock(&s->reload_mu);
		return -1;
	}
	was = router_config(s->router)->n_providers;
	gateway_set_router(s->gw, r);
	s->router = r;
	event_add(router_events(r), EV_INFO, NULL,
	    "config reloaded from %s: %zu providers (was %zu)",
	    router_config(r)->path != NULL ? router_config(r)->path : "the environment",
	    router_config(r)->n_providers, was);
	fprintf(stderr, "llmdeck serve: config reloaded (%zu providers)\n",
	    router_config(r)->n_providers);
	pthread_mutex_unlock(&s->reload_mu);
	return 0;
}

/* Free the routers a reload set aside that nothing uses any more. */
static void
serve_reap(struct serve *s)
{
	struct router *r;

	while ((r = gateway_retired_router(s->gw)) != NULL)
		serve_router_free(r);
}

/* Serve until SIGINT or SIGTERM, reloading on SIGHUP; the signal that ended it. */
static int
serve_loop(struct serve *s, const sigset_t *set)
{
	struct timespec tick = {1, 0};
	char *cause = NULL;
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGHUP) {
			if (serve_reload(s, &cause) != 0)
				free(cause);
			cause = NULL;
			/* After logrotate moved it: a new file at the same path. */
			if (gateway_reopen_access_log(s->gw, &cause) != 0) {
				fprintf(stderr, "llmdeck serve: %s\n", cause);
				free(cause);
			}
			cause = NULL;
		} else if (sig == SIGINT || sig == SIGTERM) {
			return sig;
		}
		serve_reap(s);
	}
}

/* Stop taking requests, answer those in flight, stop. */
static void
serve_drain(struct serve *s, int sig)
{
	int left;

	fprintf(stderr, "llmdeck serve: %s: draining (up to %ld s for requests in flight)\n",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", s->drain_s);
	left = gateway_drain(s->gw, (int)s->drain_s * 1000);
	if (left > 0)
		fprintf(stderr, "llmdeck serve: %d requests still in flight after %ld s: cut off\n",
		    left, s->drain_s);
	else
		fprintf(stderr, "llmdeck serve: drained; exiting\n");
	gateway_close(s->gw);
	/* Retired routers whose requests outlived the drain are left to the exit. */
	serve_reap(s);
	gateway_stop(s->gw);
	serve_router_free(s->router);
}

/* Router (on cfg, which it takes) and gateway until a signal; the exit code. */
static int
serve_run(struct serve *s, struct config *cfg, const sigset_t *set)
{
	char *cause = NULL, *config_abs = NULL;
	FILE *log = NULL;

	/* A file is the gateway's to open, rotate and reopen; "-" is stdout. */
	if (s->access_log != NULL && strcmp(s->access_log, "-") == 0)
		log = stdout;
	else if (s->access_log != NULL)
		s->go.access_log_path = s->access_log;
	s->engine = http_engine_new(NULL);
	if ((s->router = serve_router(s, cfg, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		http_engine_free(s->engine);
		return EXIT_USAGE;
	}
	s->go.store = s->st;
	s->go.instance = s->instance;
	s->go.version = LLMDECK_VERSION;
	/* Absolute in the snapshot and the instance file: read from elsewhere. */
	if (router_config(s->router)->path != NULL)
		config_abs = realpath(router_config(s->router)->path, NULL);
	s->go.config_path = config_abs != NULL ? config_abs : router_config(s->router)->path;
	s->go.local_socket = !s->no_socket;
	s->go.access_log = log;
	s->go.reload = serve_reload;
	s->go.reload_arg = s;
	s->gw = gateway_start(s->router, &s->go, &cause);
	free(config_abs); /* the gateway keeps its own copy */
	if (s->gw == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		serve_router_free(s->router);
		http_engine_free(s->engine);
		return EXIT_FAILED;
	}
	printf("llmdeck gateway listening on %s\n", gateway_url(s->gw));
	if (gateway_socket_path(s->gw) != NULL)
		printf("llmdeck instance %s, admin socket %s\n", s->instance,
		    gateway_socket_path(s->gw));
	fflush(stdout);
	serve_drain(s, serve_loop(s, set));
	http_engine_free(s->engine);
	return 0;
}

int
cli_serve_main(int argc, char **argv)
{
	struct serve s;
	struct config *cfg;
	sigset_t set;
	char *cause = NULL;
	int rc;

	memset(&s, 0, sizeof s);
	if ((rc = serve_parse(&s, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	/* Before any thread (the store's writer first): only sigtimedwait sees them. */
	llmdeck_serve_signals(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((cfg = serve_config(&s, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		return EXIT_USAGE;
	}
	if (!s.no_db) {
		if (llmdeck_open_store(&s.st, s.db, cfg, &cause) != 0) {
			fprintf(stderr, "llmdeck serve: %s\n", cause);
			free(cause);
			config_free(cfg);
			free(cfg);
			return EXIT_FAILED;
		}
		store_set_instance(s.st, s.instance);
	}
	pthread_mutex_init(&s.reload_mu, NULL);
	rc = serve_run(&s, cfg, &set);
	pthread_mutex_destroy(&s.reload_mu);
	store_close(s.st);
	return rc;
}
