/*
 * test_learned.c: learned.c on its own, on a clock of its own: the quantiles
 * of the last minute's samples, the learned timeout and hedge delay with their
 * floors and minimum sample count, and the peak EWMA (a slower sample believed
 * at once, a faster one halfway, decay toward zero while idle).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "config/config.h"
#include "router/learned.h"
#include "util/util.h"

static void
test_quantiles_timeout_and_hedge(void **state)
{
	struct learned *l = xcalloc(1, sizeof *l);
	struct learn_conf c = {1, 3, 1000, 20, 50};
	uint64_t now = 5000000, p95, p99;

	(void)state;
	assert_int_equal(learned_quantiles(l, now, &p95, &p99), 0);
	assert_int_equal(learned_timeout_ms(l, &c, now), 0);
	assert_int_equal(learned_hedge_ms(l, &c, now), 0);
	/* 10, 20 ... 190 ms: too few for the default 20. */
	for (int i = 1; i < 20; i++)
		learned_record(l, now, (uint64_t)i * 10000);
	assert_int_equal(learned_timeout_ms(l, &c, now), 0);
	learned_record(l, now, 200000);
	assert_int_equal(learned_quantiles(l, now, &p95, &p99), 20);
	assert_int_equal(p95, 190000);
	assert_int_equal(p99, 200000);
	assert_int_equal(learned_timeout_ms(l, &c, now), 1000); /* 600 ms: the floor */
	c.floor_ms = 100;
	assert_int_equal(learned_timeout_ms(l, &c, now), 600);
	assert_int_equal(learned_hedge_ms(l, &c, now), 190);
	c.hedge_min_ms = 500;
	assert_int_equal(learned_hedge_ms(l, &c, now), 500);
	c.enabled = 0;
	assert_int_equal(learned_timeout_ms(l, &c, now), 0);
	c.enabled = 1;
	/* A minute later they have left the window (seen within a second). */
	assert_int_equal(learned_quantiles(l, now + LEARNED_WINDOW_S * 1000, NULL, NULL), 20);
	assert_int_equal(learned_quantiles(l, now + LEARNED_WINDOW_S * 1000 + 1000, NULL, NULL), 0);
	assert_int_equal(learned_timeout_ms(l, &c, now + 61000), 0);
	free(l);
}

/* The ring keeps the latest LEARN_MAX_SAMPLES; a new sample is seen at once
 * while the window holds few, and within 100 ms (or 16 samples) when it holds many. */
static void
test_the_ring_keeps_the_latest(void **state)
{
	struct learned *l = xcalloc(1, sizeof *l);
	uint64_t now = 1000, p99;

	(void)state;
	for (int i = 0; i < LEARN_MAX_SAMPLES; i++)
		learned_record(l, now, 900000);
	for (int i = 0; i < LEARN_MAX_SAMPLES; i++)
		learned_record(l, now, 1000);
	assert_int_equal(learned_quantiles(l, now, NULL, &p99), LEARN_MAX_SAMPLES);
	assert_int_equal(p99, 1000);
	for (int i = 0; i < 4; i++)
		learned_record(l, now, 5000000);
	learned_quantiles(l, now, NULL, &p99);
	assert_int_equal(p99, 1000); /* cached: 4 samples, 0 ms since */
	learned_quantiles(l, now + 100, NULL, &p99);
	assert_int_equal(p99, 5000000);
	free(l);
}

static void
test_peak_ewma(void **state)
{
	struct learned *l = xcalloc(1, sizeof *l);
	uint64_t now = 1000000;

	(void)state;
	assert_true(learned_ewma_us(l, now) == 0);
	learned_record(l, now, 20000);
	assert_true(learned_ewma_us(l, now) == 20000);
	learned_record(l, now, 200000); /* slower: at once */
	assert_true(learned_ewma_us(l, now) == 200000);
	learned_record(l, now, 20000); /* faster: halfway */
	assert_true(learned_ewma_us(l, now) == 110000);
	/* Idle, it decays toward zero with a 10 s time constant. */
	assert_true(fabs(learned_ewma_us(l, now + LEARNED_DECAY_MS) - 110000 / M_E) < 1);
	learned_record(l, now + 3 * LEARNED_DECAY_MS, 20000);
	assert_true(learned_ewma_us(l, now + 3 * LEARNED_DECAY_MS) == 20000);
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quantiles_timeout_and_hedge),
	    cmocka_unit_test(test_the_ring_keeps_the_latest),
	    cmocka_unit_test(test_peak_ewma),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
