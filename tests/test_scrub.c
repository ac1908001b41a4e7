/*
 * test_scrub.c: a key never travels back. Providers quote the key they were
 * sent in their errors ("Incorrect API key provided: sk-o****5678"), masked
 * or whole; str_scrub_keys removes it where every provider message becomes
 * an llm_error message (adapter_error.c, llm_error_set) and in events, so
 * neither a client nor the event log sees a fragment. Unit cases, then a
 * gateway in front of a sim that refuses the key it is given.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "router/events.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

static void
test_scrub_cases(void **state)
{
	static const struct {
		const char *in, *out;
		size_t n;
	} cases[] = {
	    {"Incorrect API key provided: sk-o****5678. You can find your API key at "
	     "https://platform.openai.com/account/api-keys.",
	        "Incorrect API key provided: sk-***. You can find your API key at "
	        "https://platform.openai.com/account/api-keys.",
	        1},
	    {"key sk-proj-AbCdEf0123456789xyz rejected", "key sk-*** rejected", 1},
	    {"key sk-ant-api03-abc_DEF-123 rejected", "key sk-*** rejected", 1},
	    {"got Authorization: Bearer eyJhbGciOi.J9.sig, refused",
	        "got Authorization: Bearer ***, refused", 1},
	    {"bearer abc", "Bearer ***", 1},
	    {"API key AIzaSyA-1234567890abcdef not valid", "API key AIza*** not valid", 1},
	    {"Incorrect API key provided: test****-gpt.", "Incorrect API key provided: ***.", 1},
	    {"AKIA****WXYZ and sk-a****b", "*** and sk-***", 2},
	    /* Not keys. */
	    {"the task-runner's disk-space is low", "the task-runner's disk-space is low", 0},
	    {"sk- is a prefix; sk-ab too short", "sk- is a prefix; sk-ab too short", 0},
	    {"rate *** limited", "rate *** limited", 0},
	    {"", "", 0},
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		snprintf(buf, sizeof buf, "%s", cases[i].in);
		assert_int_equal(str_scrub_keys(buf), cases[i].n);
		assert_string_equal(buf, cases[i].out);
	}
	assert_int_equal(str_scrub_keys(NULL), 0);
}

/* The sim expects another key: its 401 quotes ours, masked; the client and the
 * events never see it. */
static void
test_an_upstream_error_reaches_the_client_without_the_key(void **state)
{
	struct testkit kit;
	struct router_opts ro;
	struct gateway_opts go;
	struct router *r;
	struct gateway *gw;
	struct event evs[64];
	struct hreply rep;
	char *cause = NULL, url[256], dir[64] = "/tmp/llmdeck-scrub-XXXXXX", run[96];
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(run, sizeof run, "%s/run", dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	testkit_init(&kit);
	testkit_add_provider(&kit, "gpt", SIM_OPENAI, 1, 1)->max_retries = 0;
	testkit_control(&kit, 0, "{\"key\":\"the-key-the-sim-wants\"}");
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	r = router_new(&kit.cfg, &ro, &cause);
	assert_non_null(r);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	gw = gateway_start(r, &go, &cause);
	assert_non_null(gw);
	snprintf(url, sizeof url, "%s/v1/chat/completions", gateway_url(gw));
	hreq(&rep, "POST", url,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    NULL);
	assert_int_not_equal(rep.status, 200);
	assert_non_null(rep.body.data);
	/* The sim said "test****-gpt" (the key is test-key-gpt). */
	assert_null(strstr(rep.body.data, "****"));
	assert_null(strstr(rep.body.data, "-gpt."));
	assert_non_null(strstr(rep.body.data, "Incorrect API key provided: ***"));
	hreply_free(&rep);
	n = event_last(router_events(r), evs, nitems(evs));
	for (size_t i = 0; i < n; i++) {
		assert_null(strstr(evs[i].message, "****"));
		assert_null(strstr(evs[i].message, "test-key"));
	}
	gateway_stop(gw);
	router_free(r);
	testkit_free(&kit);
	snprintf(url, sizeof url, "rm -rf %s", dir);
	assert_int_equal(system(url), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scrub_cases),
	    cmocka_unit_test(test_an_upstream_error_reaches_the_client_without_the_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
