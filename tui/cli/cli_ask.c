/*
 * cmd_ask.c: `llmdeck ask`, one prompt through the router, headless.
 * Exit codes: 0 answered, 1 every attempt failed, 2 usage or config error,
 * 3 refused by the budget.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cli.h"
#include "router.h"
#include "store.h"
#include "util.h"

static void
ask_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck ask [--config F] [--db F] [--route R] [--provider P] [--model M]\n"
	    "                   [--temperature T] [--max-tokens N] [--system S] [--timeout SEC]\n"
	    "                   [--quality high|standard|low] [--complexity complex|simple]\n"
	    "                   [--stream] [--json] [--no-cache] [--seed N] PROMPT|-\n"
	    "Sends one prompt through the router. PROMPT - reads it from standard input.\n"
	    "  --stream   print the answer as it arrives\n"
	    "  --json     print one JSON object: content, provider, model, latency_ms,\n"
	    "             input_tokens, output_tokens, cost_usd, cached, attempts\n"
	    "  --db F     the database (ledger, budget, cache); default\n"
	    "             $XDG_STATE_HOME/llmdeck/llmdeck.db\n"
	    "Exit codes: 0 answered, 1 every attempt failed, 2 usage or config error,\n"
	    "3 refused by the budget.\n");
}

static char *
read_stdin(void)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		buf_append(&b, chunk, n);
	return buf_detach(&b);
}

static void
print_delta(void *arg, const char *text, size_t len)
{
	(void)arg;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
}

static void
print_json(const struct router_result *res)
{
	cJSON *o = cJSON_CreateObject(), *atts;
	char *s;

	if (res->cls == LLM_OK)
		cJSON_AddStringToObject(o, "content",
		    res->resp.content != NULL ? res->resp.content : "");
	else
		cJSON_AddNullToObject(o, "content");
	cJSON_AddStringToObject(o, "provider", res->provider);
	cJSON_AddStringToObject(o, "model", res->model);
	if (res->resp.model != NULL)
		cJSON_AddStringToObject(o, "model_id", res->resp.model);
	if (res->route[0] != '\0')
		cJSON_AddStringToObject(o, "route", res->route);
	cJSON_AddNumberToObject(o, "latency_ms", (double)res->latency_us / 1000.0);
	cJSON_AddNumberToObject(o, "input_tokens", (double)res->resp.usage.input_tokens);
	cJSON_AddNumberToObject(o, "output_tokens", (double)res->resp.usage.output_tokens);
	if (res->unpriced)
		cJSON_AddNullToObject(o, "cost_usd");
	else
		cJSON_AddNumberToObject(o, "cost_usd", res->cost_usd);
	cJSON_AddBoolToObject(o, "unpriced", res->unpriced);
	cJSON_AddBoolToObject(o, "cached", res->cached);
	if (res->cls == LLM_OK)
		cJSON_AddStringToObject(o, "stop_reason", llm_stop_name(res->resp.stop));
	atts = cJSON_AddArrayToObject(o, "attempts");
	for (size_t i = 0; i < res->n_attempts; i++) {
		const struct router_attempt *a = &res->attempts[i];
		cJSON *ao = cJSON_CreateObject();
		cJSON_AddStringToObject(ao, "provider", a->provider);
		cJSON_AddStringToObject(ao, "model", a->model);
		cJSON_AddNumberToObject(ao, "status", a->status);
		if (a->cls == LLM_OK)
			cJSON_AddNullToObject(ao, "error");
		else
			cJSON_AddStringToObject(ao, "error", a->error);
		cJSON_AddStringToObject(ao, "error_class", llm_errclass_name(a->cls));
		cJSON_AddNumberToObject(ao, "latency_ms", (double)a->latency_us / 1000.0);
		cJSON_AddItemToArray(atts, ao);
	}
	if (res->cls != LLM_OK) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "class", llm_errclass_name(res->cls));
		cJSON_AddStringToObject(e, "message", res->err.message);
	}
	s = cJSON_PrintUnformatted(o);
	puts(s);
	free(s);
	cJSON_Delete(o);
}

static void
print_failure(const struct router_result *res)
{
	for (size_t i = 0; i < res->n_attempts; i++) {
		const struct router_attempt *a = &res->attempts[i];
		fprintf(stderr, "llmdeck ask: attempt %zu: %s (%s): ", i + 1, a->provider,
		    a->model);
		if (a->status != 0)
			fprintf(stderr, "HTTP %d ", a->status);
		fprintf(stderr, "%s: %s (%.0f ms)\n", llm_errclass_name(a->cls), a->error,
		    (double)a->latency_us / 1000.0);
	}
	fprintf(stderr, "llmdeck ask: %s: %s\n", llm_errclass_name(res->cls), res->err.message);
}

int
cli_ask_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"db", required_argument, NULL, 'd'},
	    {"quality", required_argument, NULL, 'q'},
	    {"complexity", required_argument, NULL, 'X'},
	    {"route", required_argument, NULL, 'r'},
	    {"provider", required_argument, NULL, 'p'},
	    {"model", required_argument, NULL, 'm'},
	    {"temperature", required_argument, NULL, 't'},
	    {"max-tokens", required_argument, NULL, 'n'},
	    {"system", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"seed", required_argument, NULL, 'S'},
	    {"stream", no_argument, NULL, 'x'},
	    {"json", no_argument, NULL, 'j'},
	    {"no-cache", no_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct llm_request req;
	struct router_opts ro;
	struct router_result res;
	struct config cfg;
	struct router *r;
	const char *config_path = NULL, *db_path = NULL;
	struct store *store = NULL;
	char *prompt, *cause = NULL;
	int ch, json = 0, rc;
	double d;
	long l;

	llm_request_init(&req);
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:q:X:r:p:m:t:n:s:T:S:xjNh", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'd': db_path = optarg; break;
		case 'q':
			if (strcmp(optarg, "high") != 0 && strcmp(optarg, "standard") != 0 &&
			    strcmp(optarg, "low") != 0) {
				fprintf(stderr,
				    "llmdeck ask: --quality: expected high, standard or "
				    "low, got \"%s\"\n",
				    optarg);
				goto usage;
			}
			free(req.quality);
			req.quality = xstrdup(optarg);
			break;
		case 'X':
			free(req.complexity);
			req.complexity = xstrdup(optarg);
			break;
		case 'r':
			free(req.route);
			req.route = xstrdup(optarg);
			break;
		case 'p':
			free(req.provider);
			req.provider = xstrdup(optarg);
			break;
		case 'm':
			free(req.model);
			req.model = xstrdup(optarg);
			break;
		case 's':
			free(req.system);
			req.system = xstrdup(optarg);
			break;
		case 'x': req.stream = 1; break;
		case 'j': json = 1; break;
		case 'N': req.no_cache = 1; break;
		case 't':
			if (parse_double(optarg, 0, 2, &d) != 0) {
				fprintf(stderr,
				    "llmdeck ask: --temperature: expected a number 0..2, "
				    "got \"%s\"\n",
				    optarg);
				goto usage;
			}
			req.temperature = d;
			req.has_temperature = 1;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000, &l) != 0) {
				fprintf(stderr,
				    "llmdeck ask: --max-tokens: expected an integer "
				    "1..1000000, got \"%s\"\n",
				    optarg);
				goto usage;
			}
			req.max_tokens = (int)l;
			break;
		case 'T':
			if (parse_double(optarg, 0.001, 86400, &d) != 0) {
				fprintf(stderr,
				    "llmdeck ask: --timeout: expected seconds > 0, got "
				    "\"%s\"\n",
				    optarg);
				goto usage;
			}
			req.timeout_ms = (int)(d * 1000);
			break;
		case 'S':
			if (parse_long(optarg, 0, 0x7fffffffL, &l) != 0) {
				fprintf(stderr, "llmdeck ask: --seed: expected an integer\n");
				goto usage;
			}
			ro.seed = (uint64_t)l;
			break;
		case 'h':
			ask_usage(stdout);
			llm_request_free(&req);
			return 0;
		default: goto usage;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "llmdeck ask: expected one PROMPT (or - for standard input)\n");
		goto usage;
	}
	prompt = strcmp(argv[optind], "-") == 0 ? read_stdin() : xstrdup(argv[optind]);
	if (prompt[strspn(prompt, " \t\r\n")] == '\0') {
		fprintf(stderr, "llmdeck ask: the prompt is empty\n");
		free(prompt);
		goto usage;
	}
	llm_request_add_message(&req, LLM_ROLE_USER, prompt);
	free(prompt);

	config_init(&cfg);
	if (config_load(&cfg, config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck ask: %s\n", cause);
		free(cause);
		config_free(&cfg);
		llm_request_free(&req);
		return EXIT_USAGE;
	}
	if (req.route != NULL && config_route(&cfg, req.route) == NULL)
		cause = xasprintf("--route: no route \"%s\" in the config", req.route);
	else if (req.provider != NULL && config_provider(&cfg, req.provider) == NULL)
		cause = xasprintf("--provider: no provider \"%s\" in the config", req.provider);
	if (cause == NULL && store_open(&store, db_path, &cause) == 0)
		ro.store = store;
	if (cause != NULL || (r = router_new(&cfg, &ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck ask: %s\n", cause);
		free(cause);
		if (store != NULL)
			store_close(store);
		config_free(&cfg);
		llm_request_free(&req);
		return EXIT_USAGE;
	}

	router_generate(r, &req, req.stream && !json ? print_delta : NULL, NULL, &res);
	if (json)
		print_json(&res);
	else if (res.cls == LLM_OK && !req.stream)
		printf("%s\n", res.resp.content != NULL ? res.resp.content : "");
	else if (res.cls == LLM_OK)
		putchar('\n');
	if (res.cls != LLM_OK)
		print_failure(&res);
	switch (res.cls) {
	case LLM_OK: rc = EXIT_ANSWERED; break;
	case LLM_ERR_BUDGET: rc = EXIT_BUDGET; break;
	default: rc = EXIT_FAILED; break;
	}
	router_result_free(&res);
	router_free(r);
	store_close(store);
	config_free(&cfg);
	llm_request_free(&req);
	return rc;

usage:
	ask_usage(stderr);
	llm_request_free(&req);
	return EXIT_USAGE;
}
