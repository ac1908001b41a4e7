/* testkit.c: the shared router/gateway test fixture (see testkit.h). */
#include "testkit.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* What the library leaves to the commands (the file limit): the commands' own code. */
#include "llmdeck.c"

void
testkit_missing(const char *what)
{
	const char *ci = getenv("CI");

	if (ci != NULL && strcmp(ci, "true") == 0)
		fail_msg("missing under CI=true (.ci/deps installs it): %s", what);
	print_message("SKIP: %s\n", what);
	skip();
	abort(); /* skip() does not return; the compiler does not know */
}

long
testkit_raise_fd_limit(void)
{
	return llmdeck_raise_fd_limit();
}

static uint64_t
testkit_clock(void *arg)
{
	return __atomic_load_n((uint64_t *)arg, __ATOMIC_SEQ_CST);
}

struct router *
testkit_router(struct testkit *k, uint64_t *clock)
{
	struct router_opts ro;
	struct router *r;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.seed = 1234;
	ro.no_probes = 1;
	ro.backoff_base_ms = 1;
	ro.backoff_max_ms = 4000;
	if (clock != NULL) {
		__atomic_store_n(clock, 1000000, __ATOMIC_SEQ_CST);
		ro.now_ms = testkit_clock;
		ro.now_arg = clock;
	}
	if ((r = router_new(&k->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	return r;
}

void
testkit_init(struct testkit *k)
{
	struct model_conf *m;

	testkit_raise_fd_limit();
	memset(k, 0, sizeof *k);
	config_init(&k->cfg);
	k->cfg.models = xreallocarray(k->cfg.models, k->cfg.n_models + 1, sizeof *k->cfg.models);
	m = &k->cfg.models[k->cfg.n_models++];
	memset(m, 0, sizeof *m);
	m->alias = xstrdup("test-model");
	m->id = xstrdup("test-model-id");
	m->input_per_mtok = 1.0;
	m->output_per_mtok = 2.0;
	m->cache_read_per_mtok = -1;
	m->context_tokens = 100000;
	m->source = xstrdup("test");
	k->cfg.breaker.failure_threshold = 3;
	k->cfg.breaker.cooldown_ms = 30000;
	k->cfg.breaker.half_open_max = 1;
	k->cfg.breaker.probe_interval_ms = 0;
}

void
testkit_free(struct testkit *k)
{
	for (size_t i = 0; i < k->n; i++)
		sim_stop(k->sims[i]);
	config_free(&k->cfg);
	memset(k, 0, sizeof *k);
}

struct provider_conf *
testkit_add_provider(struct testkit *k, const char *name, enum sim_protocol proto, int priority,
    double weight)
{
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	if (k->n == TESTKIT_MAX_SIMS)
		fatal("testkit: more than %d sims", TESTKIT_MAX_SIMS);
	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "%s", name);
	so.protocol = proto;
	snprintf(so.key, sizeof so.key, "test-key-%s", name);
	so.seed = 42;
	if ((k->sims[k->n] = sim_start(&so, &cause)) == NULL)
		fatal("testkit: sim_start %s: %s", name, cause);

	k->cfg.providers =
	    xreallocarray(k->cfg.providers, k->cfg.n_providers + 1, sizeof *k->cfg.providers);
	p = &k->cfg.providers[k->cfg.n_providers++];
	memset(p, 0, sizeof *p);
	p->name = xstrdup(name);
	p->kind = proto == SIM_ANTHROPIC ? PROVIDER_ANTHROPIC
	    : proto == SIM_AZURE         ? PROVIDER_AZURE
	                                 : PROVIDER_OPENAI;
	p->flavor = proto == SIM_MISTRAL ? FLAVOR_MISTRAL
	    : proto == SIM_OLLAMA        ? FLAVOR_OLLAMA
	                                 : FLAVOR_OPENAI;
	p->base_url = xstrdup(sim_url(k->sims[k->n]));
	p->api_key = xasprintf("test-key-%s", name);
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("test-model");
	p->n_models = 1;
	p->priority = priority;
	p->weight = weight;
	p->timeout_seconds = 10;
	p->max_retries = 1;
	p->api_version = xstrdup("2024-10-21");
	p->tls_verify = 1;
	p->enabled = 1;
	k->n++;
	return p;
}

void
testkit_add_route(struct testkit *k, const char *name, const char *primary, const char *fallback)
{
	struct route_conf *rt;

	k->cfg.routes = xreallocarray(k->cfg.routes, k->cfg.n_routes + 1, sizeof *k->cfg.routes);
	rt = &k->cfg.routes[k->cfg.n_routes++];
	memset(rt, 0, sizeof *rt);
	rt->name = xstrdup(name);
	rt->primary = xstrdup(primary);
	if (fallback != NULL) {
		rt->fallback = xcalloc(1, sizeof *rt->fallback);
		rt->fallback[0] = xstrdup(fallback);
		rt->n_fallback = 1;
	}
}

void
testkit_control(struct testkit *k, size_t i, const char *json)
{
	char *cause = NULL;

	if (sim_control(k->sims[i], json, &cause) != 0)
		fatal("testkit: sim_control %s: %s", json, cause);
}

uint64_t
testkit_sim_requests(struct testkit *k, size_t i)
{
	struct sim_stats st;

	sim_get_stats(k->sims[i], &st);
	return st.requests;
}

static size_t
testkit_collect(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

long
testkit_post_json(const char *url, const char *json, struct buf *out)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	long status = -1;

	buf_init(out);
	buf_puts(out, "");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, testkit_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return status;
}
