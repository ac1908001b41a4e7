/*
 * cmd_serve.c: `llmdeck serve`, the router as an HTTP gateway, headless.
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

int
cli_serve_main(int argc, char **argv)
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
	struct gateway_opts go;
	struct router_opts ro;
	struct config cfg;
	struct router *r;
	struct gateway *gw;
	struct store *st = NULL;
	const char *config_path = NULL, *db = NULL;
	char *cause = NULL;
	sigset_t set;
	long l;
	int ch, sig, no_db = 0;

	gateway_opts_init(&go);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:c:d:Ne:rm:t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': go.listen = optarg; break;
		case 'c': config_path = optarg; break;
		case 'd': db = optarg; break;
		case 'N': no_db = 1; break;
		case 'e': go.token_env = optarg; break;
		case 'r': go.require_token = 1; break;
		case 'm':
			if (parse_long(optarg, 1, 1L << 30, &l) != 0) {
				fprintf(stderr,
				    "llmdeck serve: --max-body: expected bytes 1..2^30, "
				    "got \"%s\"\n",
				    optarg);
				return EXIT_USAGE;
			}
			go.max_body = (size_t)l;
			break;
		case 't':
			if (parse_long(optarg, 1, 64, &l) != 0) {
				fprintf(stderr,
				    "llmdeck serve: --threads: expected 1..64, got \"%s\"\n",
				    optarg);
				return EXIT_USAGE;
			}
			go.threads = (int)l;
			break;
		case 'h': serve_usage(stdout); return 0;
		default: serve_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "llmdeck serve: unexpected argument \"%s\"\n", argv[optind]);
		serve_usage(stderr);
		return EXIT_USAGE;
	}

	config_init(&cfg);
	if (config_load(&cfg, config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (!no_db && store_open(&st, db, &cause) != 0) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return EXIT_FAILED;
	}
	go.store = st;

	/* Block the signals before any thread starts so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_raise_fd_limit(); /* a descriptor per waiting client */

	memset(&ro, 0, sizeof ro);
	ro.store = st; /* every answer ledgered, the budget and cache shared */
	if ((r = router_new(&cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		if (st != NULL)
			store_close(st);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if ((gw = gateway_start(r, &go, &cause)) == NULL) {
		fprintf(stderr, "llmdeck serve: %s\n", cause);
		free(cause);
		router_free(r);
		if (st != NULL)
			store_close(st);
		config_free(&cfg);
		return EXIT_FAILED;
	}
	printf("llmdeck gateway listening on %s\n", gateway_url(gw));
	fflush(stdout);
	sigwait(&set, &sig);
	gateway_stop(gw);
	router_free(r);
	if (st != NULL)
		store_close(st);
	config_free(&cfg);
	return 0;
}
