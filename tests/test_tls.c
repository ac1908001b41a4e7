/*
 * test_tls.c: real providers speak TLS. A simulated provider over HTTPS with
 * a throwaway certificate (tlskit): answers through the router when the
 * provider trusts it ("ca_file"), connections and TLS sessions reused (the
 * handshake count stays near the number of connections, not the requests),
 * refused when it does not, and accepted by an explicit "tls_verify": false.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "provider/http.h"
#include "router/router.h"
#include "sim/sim.h"
#include "tlskit.h"
#include "util/util.h"

struct fixture {
	char dir[64];
	struct tlskit tls;
	struct sim *sim;
	struct config cfg;
	struct router *r;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct sim_opts so;
	struct provider_conf *p;
	char *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-tls-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	tlskit_make(&f->tls, f->dir);
	sim_opts_init(&so);
	snprintf(so.name, sizeof so.name, "tls");
	so.protocol = SIM_OPENAI;
	snprintf(so.tls_cert_file, sizeof so.tls_cert_file, "%s", f->tls.cert_file);
	snprintf(so.tls_key_file, sizeof so.tls_key_file, "%s", f->tls.key_file);
	if ((f->sim = sim_start(&so, &cause)) == NULL)
		fail_msg("sim_start: %s", cause);
	config_init(&f->cfg);
	f->cfg.breaker.probe_interval_ms = 0;
	f->cfg.providers = xcalloc(1, sizeof *f->cfg.providers);
	f->cfg.n_providers = 1;
	p = &f->cfg.providers[0];
	p->name = xstrdup("secure");
	p->kind = PROVIDER_OPENAI;
	p->base_url = xstrdup(sim_url(f->sim));
	p->models = xcalloc(1, sizeof *p->models);
	p->models[0] = xstrdup("m");
	p->n_models = 1;
	p->priority = 1;
	p->weight = 1;
	p->timeout_seconds = 10;
	p->tls_verify = 1;
	p->enabled = 1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[96];

	router_free(f->r);
	sim_stop(f->sim);
	config_free(&f->cfg);
	tlskit_free(&f->tls);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static void
start(struct fixture *f)
{
	struct router_opts ro;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	if ((f->r = router_new(&f->cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
}

static enum llm_errclass
ask(struct fixture *f, int stream, char *err, size_t errlen)
{
	struct llm_request req;
	struct router_result res;
	enum llm_errclass cls;

	llm_request_init(&req);
	llm_request_add_message(&req, LLM_ROLE_USER, "over TLS");
	req.stream = stream;
	router_generate(f->r, &req, NULL, NULL, &res);
	cls = res.cls;
	if (cls == LLM_OK && strstr(res.resp.content, "[tls]") == NULL)
		fail_msg("an answer that is not the sim's: %s", res.resp.content);
	if (err != NULL)
		snprintf(err, errlen, "%s", res.n_attempts > 0 ? res.attempts[0].error : "");
	router_result_free(&res);
	llm_request_free(&req);
	return cls;
}

static void
test_https_with_the_providers_ca_reuses_sessions(void **state)
{
	struct fixture *f = *state;
	struct http_stats st;

	assert_true(strncmp(sim_url(f->sim), "https://", 8) == 0);
	f->cfg.providers[0].ca_file = xstrdup(f->tls.cert_file);
	start(f);
	for (int i = 0; i < 40; i++)
		assert_int_equal(ask(f, i % 2, NULL, 0), LLM_OK);
	http_get_stats(router_engine(f->r), &st);
	assert_int_equal(st.transfers, 40);
	/* One request at a time: one connection, one handshake, reused 39 times. */
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.tls_handshakes, 1);
}

static void
test_untrusted_certificate_is_refused(void **state)
{
	struct fixture *f = *state;
	char err[512];

	start(f);
	assert_int_not_equal(ask(f, 0, err, sizeof err), LLM_OK);
	assert_non_null(strstr(err, "certificate"));
}

static void
test_explicit_tls_verify_false_is_honoured(void **state)
{
	struct fixture *f = *state;

	f->cfg.providers[0].tls_verify = 0;
	start(f);
	assert_int_equal(ask(f, 0, NULL, 0), LLM_OK);
}

static void
test_sim_refuses_half_a_tls_identity(void **state)
{
	struct fixture *f = *state;
	struct sim_opts so;
	char *cause = NULL;

	sim_opts_init(&so);
	snprintf(so.tls_cert_file, sizeof so.tls_cert_file, "%s", f->tls.cert_file);
	assert_null(sim_start(&so, &cause));
	assert_non_null(strstr(cause, "--tls-key"));
	free(cause);
	cause = NULL;
	snprintf(so.tls_key_file, sizeof so.tls_key_file, "%s/nope.pem", f->dir);
	assert_null(sim_start(&so, &cause));
	assert_non_null(strstr(cause, "nope.pem: cannot open"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_https_with_the_providers_ca_reuses_sessions, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_certificate_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explicit_tls_verify_false_is_honoured, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_sim_refuses_half_a_tls_identity, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
