/*
 * testkit.h: the fixture the router and gateway tests share: a config whose
 * providers are simulated providers started in-process on ephemeral loopback
 * ports, each serving the alias "test-model" (priced 1 / 2 USD per million).
 */
#ifndef LLMDECK_TESTKIT_H
#define LLMDECK_TESTKIT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "router/router.h"
#include "sim/sim.h"
#include "util/util.h"

#define TESTKIT_MAX_SIMS 8

struct testkit {
	struct config cfg;
	struct sim *sims[TESTKIT_MAX_SIMS];
	size_t n;
};

/* Defaults plus the "test-model" price; breaker 3 failures / 30 s / 1 trial, no probes. */
void testkit_init(struct testkit *);
/* Stop the sims and free the config. */
void testkit_free(struct testkit *);
/* Start a sim (key "test-key-NAME") and add a provider for it: 10 s timeout, 1 retry. */
struct provider_conf *testkit_add_provider(struct testkit *, const char *name, enum sim_protocol,
    int priority, double weight);
/* A route: primary, and fallback if not NULL. */
void
testkit_add_route(struct testkit *, const char *name, const char *primary, const char *fallback);
/* sim_control on sim i; aborts the test binary if the sim refuses. */
void testkit_control(struct testkit *, size_t i, const char *json);
/*
 * A router on the kit's config as the router tests run it: seed 1234, no
 * probes, backoff from 1 ms to 4 s. With clock not NULL, the router's clock is
 * *clock (milliseconds, read atomically), set to 1,000,000 here. Fails the
 * test if the router cannot start.
 */
struct router *testkit_router(struct testkit *, uint64_t *clock);

/* Provider requests sim i has received. */
uint64_t testkit_sim_requests(struct testkit *, size_t i);

/*
 * A dependency this test needs is missing (tmux, node and the SDKs, tzdata):
 * under CI=true that fails the test (CI installs every dependency: .ci/deps);
 * elsewhere the test is skipped, and a binary whose every test skipped is
 * reported SKIP by run-tests.sh, never PASS. Does not return.
 */
void testkit_missing(const char *what) __attribute__((noreturn));

/* Raise RLIMIT_NOFILE's soft limit to its hard limit, as the commands do (the library
 * never does: this is tui/llmdeck.c's llmdeck_raise_fd_limit); the new soft limit or -1.
 * testkit_init calls it. */
long testkit_raise_fd_limit(void);

/* POST json to url (20 s at most); the body lands in out (initialised here).
 * Returns the HTTP status, or -1 if no response came. */
long testkit_post_json(const char *url, const char *json, struct buf *out);

#endif
