/*
 * cli_serve.c: `llmdeck serve`, the router as an HTTP gateway, headless.
 * Exit codes: 0 stopped by SIGINT or SIGTERM, 1 could not start, 2 usage or
 * config error.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gateway.h"
#include "cli.h"
#include "router.h"
#include "store.h"
#include "util.h"

static void
serve_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck serve [--listen HOST:PORT] [--config F] [--db F | --no-db] [--threads "
	    "N]\n"
	    "                     [--max-body BYTES] [--token-env VAR] [--require-token]\n"
	    "Serve the router over HTTP until SIGINT or SIGTERM: POST /v1/chat/completions\n"
	    "(OpenAI), POST /v1/messages (Anthropic), GET /v1/models, /health, /ready, /metrics.\n"
	    "Prints \"llmdeck gateway listening on http://HOST:PORT\" (port 0 picks one).\n"
	    "  --listen HOST:PORT  default %s; a non-loopback address needs a token\n"
	    "  --config F          config file (else $LLMDECK_CONFIG, the XDG file, the env)\n"
	    "  --db F              the database: ledger, budget, cache, events, overrides\n"
	    "                      (default $XDG_STATE_HOME/llmdeck/llmdeck.db)\n"
	    "  --no-db             no database: no ledger, no budget, no cache (benchmarks)\n"
	    "  --token-env VAR     variable holding the bearer token (default %s);\n"
	    "                      when set, clients must send it, on any address\n"
	    "  --require-token     refuse to start without the token even on loopback\n"
	    "  --max-body BYTES    request body limit (default %d)\n"
	    "  --threads N         HTTP polling threads (default 1)\n"
	    "Exit codes: 0 stopped by a signal, 1 could not start, 2 usage or config error.\n",
	    GATEWAY_DEFAULT_LISTEN, GATEWAY_DEFAULT_TOKEN_ENV, GATEWAY_DEFAULT_MAX_BODY);
}

struct serve {
	struct gateway_opts go;
	const char *config_path, *db;
	int no_db;
};

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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc;

	gateway_opts_init(&s->go);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:c:d:Ne:rm:t:h", longopts, NULL)) != -1) {
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
	return 0;
}

/* Router and gateway until a signal; the exit code. */
static int
serve_run(struct serve *s, struct config *cfg, struct store *st)
{
	struct router_opts ro;
	struct gateway *gw;
	struct router *r;
	char *cause = NULL;
	sigset_t set;
	int sig;

	s->go.store = st;
	cli_serve_signals(&set);
	memset(&ro, 0, sizeof ro);
	ro.store = st; /* every answer ledgered, the budget and cache shared */
	if ((r = router_new(cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		return EXIT_USAGE;
	}
	if ((gw = gateway_start(r, &s->go, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		router_free(r);
		return EXIT_FAILED;
	}
	printf("llmdeck gateway listening on %s\n", gateway_url(gw));
	fflush(stdout);
	sigwait(&set, &sig);
	gateway_stop(gw);
	router_free(r);
	return 0;
}

int
cli_serve_main(int argc, char **argv)
{
	struct store *st = NULL;
	struct config cfg;
	struct serve s;
	char *cause = NULL;
	int rc;

	memset(&s, 0, sizeof s);
	if ((rc = serve_parse(&s, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	config_init(&cfg);
	if (config_load(&cfg, s.config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (!s.no_db && store_open(&st, s.db, &cause) != 0) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return EXIT_FAILED;
	}
	rc = serve_run(&s, &cfg, st);
	store_close(st);
	config_free(&cfg);
	return rc;
}
