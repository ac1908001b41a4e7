/*
 * cli_ask.c: `llmdeck ask`, one prompt through the router, headless.
 * Exit codes: 0 answered, 1 every attempt failed, 2 usage or config error,
 * 3 refused by the budget.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "llmdeck.h"
#include "router/router.h"
#include "store/store.h"
#include "util/util.h"

static void
ask_usage(FILE *f)
{
	fprintf(f,
	    "usage: llmdeck ask [--config F] [--db F|URL] [--route R] [--provider P] [--model M]\n"
	    "                   [--temperature T] [--max-tokens N] [--system S] [--timeout SEC]\n"
	    "                   [--quality high|standard|low] [--complexity complex|simple]\n"
	    "                   [--stream] [--json] [--no-cache] [--seed N] PROMPT|-\n"
	    "Sends one prompt through the router. PROMPT - reads it from standard input.\n"
	    "  --stream   print the answer as it arrives\n"
	    "  --json     print one JSON object: content, provider, model, latency_ms,\n"
	    "             input_tokens, output_tokens, cost_usd, cached, attempts\n"
	    "  --db F|URL the database (ledger, budget, cache): a SQLite file, or a\n"
	    "             postgres:// URL; default the config's store.url, else\n"
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
print_delta(void *arg, const struct llm_delta *d)
{
	(void)arg;
	if (d->type != LLM_DELTA_TEXT)
		return;
	fwrite(d->text, 1, d->len, stdout);
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

struct ask {
	struct llm_request req;
	struct router_opts ro;
	const char *config_path, *db_path;
	int json;
};

/* A string option's value, replacing an earlier one. */
static void
ask_set(char **slot, const char *arg)
{
	free(*slot);
	*slot = xstrdup(arg);
}

/* One option with a value that must parse; 0, or -1 with the message printed. */
static int
ask_number(struct ask *a, int ch, const char *arg)
{
	double d;
	long l;

	switch (ch) {
	case 't':
		if (parse_double(arg, 0, 2, &d) != 0) {
			fprintf(stderr,
			    "llmdeck ask: --temperature: expected a number 0..2, got \"%s\"\n",
			    arg);
			return -1;
		}
		a->req.temperature = d;
		a->req.has_temperature = 1;
		return 0;
	case 'n':
		if (parse_long(arg, 1, 1000000, &l) != 0) {
			fprintf(stderr,
			    "llmdeck ask: --max-tokens: expected an integer 1..1000000, got "
			    "\"%s\"\n",
			    arg);
			return -1;
		}
		a->req.max_tokens = (int)l;
		return 0;
	case 'T':
		if (parse_double(arg, 0.001, 86400, &d) != 0) {
			fprintf(stderr,
			    "llmdeck ask: --timeout: expected seconds > 0, got \"%s\"\n", arg);
			return -1;
		}
		a->req.timeout_ms = (int)(d * 1000);
		return 0;
	case 'S':
		if (parse_long(arg, 0, 0x7fffffffL, &l) != 0) {
			fprintf(stderr, "llmdeck ask: --seed: expected an integer\n");
			return -1;
		}
		a->ro.seed = (uint64_t)l;
		return 0;
	}
	return -1;
}

/* One option; 0, 1 for --help, or -1 for a usage error (its message printed). */
static int
ask_option(struct ask *a, int ch, const char *arg)
{
	switch (ch) {
	case 'c': a->config_path = arg; return 0;
	case 'd': a->db_path = arg; return 0;
	case 'q':
		if (strcmp(arg, "high") != 0 && strcmp(arg, "standard") != 0 &&
		    strcmp(arg, "low") != 0) {
			fprintf(stderr,
			    "llmdeck ask: --quality: expected high, standard or low, got \"%s\"\n",
			    arg);
			return -1;
		}
		ask_set(&a->req.quality, arg);
		return 0;
	case 'X': ask_set(&a->req.complexity, arg); return 0;
	case 'r': ask_set(&a->req.route, arg); return 0;
	case 'p': ask_set(&a->req.provider, arg); return 0;
	case 'm': ask_set(&a->req.model, arg); return 0;
	case 's': ask_set(&a->req.system, arg); return 0;
	case 'x': a->req.stream = 1; return 0;
	case 'j': a->json = 1; return 0;
	case 'N': a->req.no_cache = 1; return 0;
	case 't':
	case 'n':
	case 'T':
	case 'S': return ask_number(a, ch, arg);
	case 'h': return 1;
	default: return -1;
	}
}

/* The command line and the prompt into a; 0, 1 for --help, or -1 for a usage error. */
static int
ask_parse(struct ask *a, int argc, char **argv)
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
	char *prompt;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:q:X:r:p:m:t:n:s:T:S:xjNh", longopts, NULL)) != -1)
		if ((rc = ask_option(a, ch, optarg)) != 0)
			return rc;
	if (optind != argc - 1) {
		fprintf(stderr, "llmdeck ask: expected one PROMPT (or - for standard input)\n");
		return -1;
	}
	prompt = strcmp(argv[optind], "-") == 0 ? read_stdin() : xstrdup(argv[optind]);
	if (prompt[strspn(prompt, " \t\r\n")] == '\0') {
		fprintf(stderr, "llmdeck ask: the prompt is empty\n");
		free(prompt);
		return -1;
	}
	llm_request_add_message(&a->req, LLM_ROLE_USER, prompt);
	free(prompt);
	return 0;
}

/* The config, the database and the router; NULL with the message printed. */
static struct router *
ask_open(struct ask *a, struct config *cfg, struct store **store)
{
	struct router *r = NULL;
	char *cause = NULL;

	if (config_load(cfg, a->config_path, &cause) != 0) {
		fprintf(stderr, "llmdeck ask: %s\n", cause);
		free(cause);
		return NULL;
	}
	if (a->req.route != NULL && config_route(cfg, a->req.route) == NULL)
		cause = xasprintf("--route: no route \"%s\" in the config", a->req.route);
	else if (a->req.provider != NULL && config_provider(cfg, a->req.provider) == NULL)
		cause = xasprintf("--provider: no provider \"%s\" in the config", a->req.provider);
	if (cause == NULL && llmdeck_open_store(store, a->db_path, cfg, &cause) == 0)
		a->ro.store = *store;
	if (cause != NULL || (r = router_new(cfg, &a->ro, &cause)) == NULL) {
		fprintf(stderr, "llmdeck ask: %s\n", cause);
		free(cause);
		return NULL;
	}
	return r;
}

/* The answer (or the failure) as asked; returns the exit code. */
static int
ask_report(const struct ask *a, const struct router_result *res)
{
	if (a->json)
		print_json(res);
	else if (res->cls == LLM_OK && !a->req.stream)
		printf("%s\n", res->resp.content != NULL ? res->resp.content : "");
	else if (res->cls == LLM_OK)
		putchar('\n');
	if (res->cls != LLM_OK)
		print_failure(res);
	switch (res->cls) {
	case LLM_OK: return EXIT_ANSWERED;
	case LLM_ERR_BUDGET: return EXIT_BUDGET;
	default: return EXIT_FAILED;
	}
}

int
cli_ask_main(int argc, char **argv)
{
	struct router_result res;
	struct store *store = NULL;
	struct router *r;
	struct config cfg;
	struct ask a;
	int rc;

	memset(&a, 0, sizeof a);
	llm_request_init(&a.req);
	a.ro.no_probes = 1;
	if ((rc = ask_parse(&a, argc, argv)) != 0) {
		ask_usage(rc > 0 ? stdout : stderr);
		llm_request_free(&a.req);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	config_init(&cfg);
	if ((r = ask_open(&a, &cfg, &store)) == NULL) {
		store_close(store);
		config_free(&cfg);
		llm_request_free(&a.req);
		return EXIT_USAGE;
	}
	router_generate(r, &a.req, a.req.stream && !a.json ? print_delta : NULL, NULL, &res);
	rc = ask_report(&a, &res);
	router_result_free(&res);
	router_free(r);
	store_close(store);
	config_free(&cfg);
	llm_request_free(&a.req);
	return rc;
}
