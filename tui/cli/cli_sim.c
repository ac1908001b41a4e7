/* cmd_sim.c: `llmdeck sim`, simulated provider servers in the foreground. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sim.h"
#include "util.h"

static void
cmd_sim_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck sim --protocol P --listen HOST:PORT [options]\n"
	    "       llmdeck sim --config FILE [--allow-remote]\n"
	    "Run simulated LLM provider servers until SIGINT or SIGTERM. One line per sim is\n"
	    "printed: \"sim NAME PROTOCOL listening on http://HOST:PORT\" (port 0 picks one).\n"
	    "  --protocol P          anthropic, openai, azure, mistral or ollama\n"
	    "  --listen HOST:PORT    default 127.0.0.1:0; loopback only unless --allow-remote\n"
	    "  --name NAME           shown in answers (default PROTOCOL-sim)\n"
	    "  --key K               require this API key in the provider's auth header\n"
	    "  --model M             model reported when the request names none\n"
	    "  --latency-ms N        delay before each answer\n"
	    "  --jitter-ms N         plus a random 0..N ms\n"
	    "  --token-delay-ms N    delay between streamed tokens\n"
	    "  --error-rate R        fraction 0..1 of requests answered with --error-status\n"
	    "  --error-status S      400, 401, 429, 500, 503, 529 ... (default 429)\n"
	    "  --retry-after S       send retry-after: S on 429 and 5xx errors\n"
	    "  --quota               openai 429s are insufficient_quota\n"
	    "  --fault F             none, hang, slow, drop, malformed, truncated, down, "
	    "midstream\n"
	    "  --seed N              seed for the error rate, jitter and ids\n"
	    "  --threads N           server threads (default 2)\n"
	    "  --config FILE         {\"sims\":[{\"name\":..,\"protocol\":..,\"listen\":..,"
	    "\"latency_ms\":..}]}\n"
	    "At run time: POST /_sim/control {\"fault\":\"down\"}, {\"error_rate\":0.3,"
	    "\"error_status\":529} ...;\nGET /_sim/control and GET /_sim/stats show the state.\n"
	    "Exit codes: 0 stopped by a signal, 1 could not start, 2 usage error.\n");
}

int
cli_sim_main(int argc, char **argv)
{
	struct sim_opts *v = NULL, one;
	struct sim **sims;
	const char *config = NULL;
	char **rest, *cause = NULL;
	int nrest = 0, allow_remote = 0, sig, rc = 0;
	size_t n = 0, started = 0;
	sigset_t set;

	rest = xcalloc((size_t)argc + 1, sizeof *rest);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_sim_usage(stdout);
			free(rest);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
			if (argv[i][8] == '=')
				config = argv[i] + 9;
			else if (i + 1 < argc)
				config = argv[++i];
			else {
				fprintf(stderr, "llmdeck sim: option --config needs a value\n");
				free(rest);
				return EXIT_USAGE;
			}
			continue;
		}
		if (strcmp(argv[i], "--allow-remote") == 0)
			allow_remote = 1;
		rest[nrest++] = argv[i];
	}
	if (config != NULL) {
		if (nrest > allow_remote) {
			fprintf(stderr,
			    "llmdeck sim: --config takes no other options than "
			    "--allow-remote\n");
			free(rest);
			return EXIT_USAGE;
		}
		if (sim_config_load(config, &v, &n, &cause) != 0) {
			fprintf(stderr, "llmdeck sim: %s\n", cause);
			free(cause);
			free(rest);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < n; i++)
			v[i].allow_remote |= allow_remote;
	} else {
		sim_opts_init(&one);
		if (sim_opts_parse_args(&one, nrest, rest, &cause) != 0) {
			fprintf(stderr, "llmdeck sim: %s (see llmdeck sim --help)\n", cause);
			free(cause);
			free(rest);
			return EXIT_USAGE;
		}
		v = xmalloc(sizeof *v);
		v[0] = one;
		n = 1;
	}
	free(rest);
	for (size_t i = 0; i < n; i++) {
		if (sim_opts_check(&v[i], &cause) != 0) {
			fprintf(stderr, "llmdeck sim: %s%s%s\n", config != NULL ? v[i].name : "",
			    config != NULL ? ": " : "", cause);
			free(cause);
			free(v);
			return EXIT_USAGE;
		}
	}

	/* Block the signals before any thread starts so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	cli_raise_fd_limit(); /* before sim_start sizes its connection limit on it */

	sims = xcalloc(n, sizeof *sims);
	for (started = 0; started < n; started++) {
		sims[started] = sim_start(&v[started], &cause);
		if (sims[started] == NULL) {
			fprintf(stderr, "llmdeck sim: %s\n", cause);
			free(cause);
			rc = EXIT_FAILED;
			break;
		}
		printf("sim %s %s listening on %s\n", sim_name(sims[started]),
		    sim_protocol_name(v[started].protocol), sim_url(sims[started]));
		fflush(stdout);
	}
	if (rc == 0)
		sigwait(&set, &sig);
	for (size_t i = 0; i < started; i++)
		sim_stop(sims[i]);
	free(sims);
	free(v);
	return rc;
}
