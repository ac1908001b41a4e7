/*
 * test_node_clients.c: runs the scripts in tests/node, the official OpenAI,
 * Anthropic, Mistral and Ollama clients, unchanged, against each `llmdeck sim`
 * directly (sim_clients.mjs) and against `llmdeck serve` in front of
 * `llmdeck sim` (gateway_clients.mjs).
 * Without Node or the npm packages: skipped (run-tests.sh says SKIP), and a
 * failure under CI=true; .ci/deps installs them (cd tests/node && npm ci).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testkit.h"

/* Runs one script under tests/node and asserts it exits 0; skips without Node. */
static void
node_run_script(const char *script)
{
	const char *bin = getenv("LLMDECK");
	char cmd[1024], state[] = "/tmp/llmdeck-node-XXXXXX";
	int rc;

	if (access("tests/node/node_modules/openai", F_OK) != 0 ||
	    access("tests/node/node_modules/@anthropic-ai/sdk", F_OK) != 0 ||
	    access("tests/node/node_modules/@mistralai/mistralai", F_OK) != 0 ||
	    access("tests/node/node_modules/ollama", F_OK) != 0 ||
	    system("node --version >/dev/null 2>&1") != 0)
		testkit_missing("node or tests/node/node_modules (cd tests/node && npm ci)");
	/* llmdeck serve keeps its database in the state directory: a fresh one. */
	if (mkdtemp(state) == NULL)
		fail_msg("mkdtemp: %s", state);
	snprintf(cmd, sizeof cmd,
	    "XDG_STATE_HOME=%s LLMDECK=%s timeout 120 node tests/node/%s; "
	    "rc=$?; rm -rf %s; exit $rc",
	    state, bin != NULL ? bin : "build/llmdeck", script, state);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

static void
test_official_sdks_accept_the_sims(void **state)
{
	(void)state;
	node_run_script("sim_clients.mjs");
}

static void
test_official_sdks_through_the_gateway(void **state)
{
	(void)state;
	node_run_script("gateway_clients.mjs");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_official_sdks_accept_the_sims),
	    cmocka_unit_test(test_official_sdks_through_the_gateway),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
