/*
 * test_node_clients.c: runs the scripts in tests/node, the official OpenAI,
 * Anthropic, Mistral and Ollama clients, unchanged, against each `llmdeck sim`
 * directly (sim_clients.mjs) and against `llmdeck serve` in front of
 * `llmdeck sim` (gateway_clients.mjs); the agent frameworks (OpenAI Agents SDK,
 * Vercel AI SDK, LangChain) and the Responses API against `llmdeck serve` in
 * front of an OpenAI, Anthropic, Mistral and Ollama sim (agent_clients.mjs);
 * the Codex CLI and Claude Code if installed (cli_clients.mjs, else it skips).
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

/* The packages of tests/node/package.json the scripts import. */
static const char *const node_packages[] = {
    "openai",
    "@anthropic-ai/sdk",
    "@mistralai/mistralai",
    "ollama",
    "@openai/agents",
    "ai",
    "@ai-sdk/openai",
    "@ai-sdk/anthropic",
    "@langchain/openai",
    "@langchain/core",
    "zod",
};

/* Runs one script under tests/node and asserts it exits 0; skips without Node. */
static void
node_run_script(const char *script, int seconds)
{
	const char *bin = getenv("LLMDECK");
	char cmd[1024], path[256], state[] = "/tmp/llmdeck-node-XXXXXX";
	size_t i;
	int rc;

	for (i = 0; i < sizeof node_packages / sizeof node_packages[0]; i++) {
		snprintf(path, sizeof path, "tests/node/node_modules/%s", node_packages[i]);
		if (access(path, F_OK) != 0)
			testkit_missing("tests/node/node_modules (cd tests/node && npm ci)");
	}
	if (system("node --version >/dev/null 2>&1") != 0)
		testkit_missing("node (cd tests/node && npm ci)");
	/* llmdeck serve keeps its database in the state directory: a fresh one. */
	if (mkdtemp(state) == NULL)
		fail_msg("mkdtemp: %s", state);
	snprintf(cmd, sizeof cmd,
	    "XDG_STATE_HOME=%s LLMDECK=%s timeout %d node tests/node/%s; "
	    "rc=$?; rm -rf %s; exit $rc",
	    state, bin != NULL ? bin : "build/llmdeck", seconds, script, state);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

static void
test_official_sdks_accept_the_sims(void **state)
{
	(void)state;
	node_run_script("sim_clients.mjs", 120);
}

static void
test_official_sdks_through_the_gateway(void **state)
{
	(void)state;
	node_run_script("gateway_clients.mjs", 120);
}

static void
test_agent_frameworks_through_the_gateway(void **state)
{
	(void)state;
	node_run_script("agent_clients.mjs", 240);
}

/* The Codex CLI and Claude Code, when installed (not in package.json: large); else SKIP, exit 0. */
static void
test_coding_agent_clis_through_the_gateway(void **state)
{
	(void)state;
	node_run_script("cli_clients.mjs", 300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_official_sdks_accept_the_sims),
	    cmocka_unit_test(test_official_sdks_through_the_gateway),
	    cmocka_unit_test(test_agent_frameworks_through_the_gateway),
	    cmocka_unit_test(test_coding_agent_clis_through_the_gateway),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
