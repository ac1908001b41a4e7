/* cli_sim.c: `llmdeck sim`, simulated provider servers in the foreground. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmdeck.h"
#include "sim/sim.h"
#include "util/util.h"

static void
sim_usage(FILE *f)
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

/* --config FILE and --allow-remote out of argv, the other arguments into rest.
 * 0, 1 for --help, or -1 (message printed). */
static int
sim_split_args(int argc, char **argv, const char **config, int *allow_remote, char **rest,
    int *nrest)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
			if (argv[i][8] == '=')
				*config = argv[i] + 9;
			else if (i + 1 < argc)
				*config = argv[++i];
			else {
				fprintf(stderr, "llmdeck sim: option --config needs a value\n");
				return -1;
			}
			continue;
		}
		if (strcmp(argv[i], "--allow-remote") == 0)
			*allow_remote = 1;
		rest[(*nrest)++] = argv[i];
	}
	return 0;
}

/* The sims the command line asks for: from --config, or one from the options.
 * 0 with *v (n of them), 1 for --help, or -1 (message printed). */
static int
sim_parse(int argc, char **argv, struct sim_opts **v, size_t *n, int *from_config)
{
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest), *cause = NULL;
	const char *config = NULL;
	int nrest = 0, allow_remote = 0, rc;
	struct sim_opts one;

	if ((rc = sim_split_args(argc, argv, &config, &allow_remote, rest, &nrest)) != 0)
		goto out;
	*from_config = config != NULL;
	rc = -1;
	if (config != NULL && nrest > allow_remote)
		fprintf(stderr,
		    "llmdeck sim: --config takes no other options than --allow-remote\n");
	else if (config != NULL && sim_config_load(config, v, n, &cause) != 0)
		fprintf(stderr, "llmdeck sim: %s\n", cause);
	else if (config != NULL) {
		for (size_t i = 0; i < *n; i++)
			(*v)[i].allow_remote |= allow_remote;
		rc = 0;
	} else {
		sim_opts_init(&one);
		if (sim_opts_parse_args(&one, nrest, rest, &cause) != 0)
			fprintf(stderr, "llmdeck sim: %s (see llmdeck sim --help)\n", cause);
		else {
			*v = xmalloc(sizeof **v);
			(*v)[0] = one;
			*n = 1;
			rc = 0;
		}
	}
	free(cause);
out:
	free(rest);
	return rc;
}

int
cli_sim_main(int argc, char **argv)
{
	struct sim_opts *v = NULL;
	struct sim **sims;
	char *cause = NULL;
	int sig, rc, from_config = 0;
	size_t n = 0, started = 0;
	sigset_t set;

	if ((rc = sim_parse(argc, argv, &v, &n, &from_config)) != 0) {
		if (rc > 0)
			sim_usage(stdout);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		if (sim_opts_check(&v[i], &cause) != 0) {
			fprintf(stderr, "llmdeck sim: %s%s%s\n", from_config ? v[i].name : "",
			    from_config ? ": " : "", cause);
			free(cause);
			free(v);
			return EXIT_USAGE;
		}
	}
	llmdeck_serve_signals(
	    &set); /* before sim_start sizes its connection limit on the fd limit */
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
