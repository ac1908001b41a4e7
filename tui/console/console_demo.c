/*
 * console_demo.c: `llmdeck --demo`: five simulated providers started in this
 * process (an Anthropic, an OpenAI, an Azure OpenAI, a Mistral and a
 * self-hosted Llama on Ollama) with their own latency spreads, a config built
 * for them in code, and a steady synthetic load from a thread of its own.
 */
#include "console/console.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim.h"
#include "util/util.h"

#define DEMO_MAX_IN_FLIGHT 200

static const struct demo_spec {
	const char *name;
	enum sim_protocol protocol;
	enum provider_kind kind;
	enum provider_flavor flavor;
	const char *models[2];
	int latency_ms;
	int jitter_ms;
	int token_delay_ms;
	int priority;
	double weight;
	int rpm;
} specs[] = {
    {"anthropic", SIM_ANTHROPIC, PROVIDER_ANTHROPIC, FLAVOR_OPENAI,
        {"claude-sonnet", "claude-haiku"}, 650, 900, 12, 1, 3, 600},
    {"openai", SIM_OPENAI, PROVIDER_OPENAI, FLAVOR_OPENAI, {"gpt-4o", "gpt-4o-mini"}, 450, 700, 10,
        1, 3, 600},
    {"azure", SIM_AZURE, PROVIDER_AZURE, FLAVOR_OPENAI, {"gpt-4o", NULL}, 550, 1100, 12, 1, 2, 300},
    {"mistral", SIM_MISTRAL, PROVIDER_OPENAI, FLAVOR_MISTRAL, {"mistral-large", "mistral-small"},
        350, 500, 8, 1, 1, 0},
    {"llama", SIM_OLLAMA, PROVIDER_OPENAI, FLAVOR_OLLAMA, {"llama", NULL}, 180, 1600, 20, 2, 1, 0},
};

static const char *const demo_prompts[] = {
    "Summarise the incident report in three bullet points.",
    "Translate 'the deployment is green' into French.",
    "Write a haiku about circuit breakers.",
    "What is the capital of Australia?",
    "Explain exponential backoff with jitter in two sentences.",
    "Classify this ticket: 'cannot log in after password reset'.",
    "Give me a regex for an ISO 8601 date.",
    "Draft a polite reminder about the overdue invoice.",
    "List three risks of a single LLM provider.",
    "Rewrite this sentence in plain English: 'we leverage synergies'.",
    "Extract the city from: 'Ship to 12 Rue de Rivoli, Paris'.",
    "Is 2027 a prime number?",
};

struct demo {
	struct sim *sims[nitems(specs)];
	size_t n;
	struct router *router;
	double rate;
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	size_t in_flight;
};

struct demo *
demo_start(struct config *cfg, char **cause)
{
	struct demo *d = xcalloc(1, sizeof *d);

	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	for (size_t i = 0; i < nitems(specs); i++) {
		const struct demo_spec *sp = &specs[i];
		struct provider_conf *p;
		struct sim_opts so;

		sim_opts_init(&so);
		snprintf(so.name, sizeof so.name, "%s", sp->name);
		so.protocol = sp->protocol;
		snprintf(so.key, sizeof so.key, "demo-key-%s", sp->name);
		so.latency_ms = sp->latency_ms;
		so.jitter_ms = sp->jitter_ms;
		so.token_delay_ms = sp->token_delay_ms;
		so.seed = 1000 + i;
		if ((d->sims[d->n] = sim_start(&so, cause)) == NULL) {
			char *why = *cause;
			*cause = xasprintf("demo: sim %s: %s", sp->name, why);
			free(why);
			demo_stop(d);
			return NULL;
		}
		cfg->providers =
		    xreallocarray(cfg->providers, cfg->n_providers + 1, sizeof *cfg->providers);
		p = &cfg->providers[cfg->n_providers++];
		memset(p, 0, sizeof *p);
		p->name = xstrdup(sp->name);
		p->kind = sp->kind;
		p->flavor = sp->flavor;
		p->base_url = xstrdup(sim_url(d->sims[d->n]));
		p->api_key = xasprintf("demo-key-%s", sp->name);
		p->n_models = sp->models[1] != NULL ? 2 : 1;
		p->models = xcalloc(p->n_models, sizeof *p->models);
		for (size_t k = 0; k < p->n_models; k++)
			p->models[k] = xstrdup(sp->models[k]);
		p->priority = sp->priority;
		p->weight = sp->weight;
		p->timeout_seconds = 15;
		p->max_retries = 1;
		p->rate_limit_rpm = sp->rpm;
		p->api_version = xstrdup("2024-10-21");
		p->tls_verify = 1;
		p->enabled = 1;
		d->n++;
	}
	cfg->budget.daily_usd = 20;
	cfg->budget.alert_threshold = 0.8;
	cfg->breaker.failure_threshold = 5;
	cfg->breaker.cooldown_ms = 15000;
	cfg->breaker.probe_interval_ms = 5000;
	config_add_default_routes(cfg);
	if (config_validate(cfg, cause) != 0) {
		char *why = *cause;
		*cause = xasprintf("demo: config: %s", why);
		free(why);
		demo_stop(d);
		return NULL;
	}
	return d;
}

static void
demo_done(void *arg, struct router_result *res)
{
	struct demo *d = arg;

	router_result_free(res);
	free(res);
	pthread_mutex_lock(&d->mu);
	d->in_flight--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Poisson arrivals at d->rate per second, capped in flight so a hang drill cannot pile up. */
static void *
demo_load(void *arg)
{
	struct demo *d = arg;
	struct rng rng;
	struct timespec ts;

	rng_seed(&rng, (uint64_t)clock_wall_ms());
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		double gap = -log(1.0 - rng_double(&rng)) / d->rate;
		int64_t ns;

		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (int64_t)ts.tv_nsec + (int64_t)(gap * 1e9);
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) != ETIMEDOUT)
			;
		if (d->stop)
			break;
		if (d->in_flight >= DEMO_MAX_IN_FLIGHT)
			continue;
		d->in_flight++;
		pthread_mutex_unlock(&d->mu);
		{
			struct llm_request req;
			double u = rng_double(&rng);
			llm_request_init(&req);
			llm_request_add_message(&req, LLM_ROLE_USER,
			    demo_prompts[rng_next(&rng) % nitems(demo_prompts)]);
			req.has_temperature = 1;
			req.temperature = u < 0.35 ? 0 : 0.7; /* some are cacheable */
			req.max_tokens = 256;
			if (u > 0.85)
				req.route = xstrdup("LSR");
			req.stream = u > 0.6 && u < 0.8;
			router_submit(d->router, &req, NULL, demo_done, d);
			llm_request_free(&req);
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

void
demo_load_start(struct demo *d, struct router *r, double rate)
{
	d->router = r;
	d->rate = rate;
	if (rate <= 0)
		return;
	if (pthread_create(&d->thread, NULL, demo_load, d) == 0)
		d->running = 1;
}

void
demo_load_stop(struct demo *d)
{
	if (!d->running)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	d->running = 0;
}

void
demo_stop(struct demo *d)
{
	if (d == NULL)
		return;
	demo_load_stop(d);
	for (size_t i = 0; i < d->n; i++)
		sim_stop(d->sims[i]);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}
