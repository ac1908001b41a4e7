/* test_breaker.c: every breaker transition, driven by explicit times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "router/breaker.h"

/* Drive a fresh breaker (threshold 3, cooldown 1000, 1 trial) open at t. */
static void
open_at(struct breaker *b, uint64_t t)
{
	breaker_init(b, 3, 1000, 1);
	assert_int_equal(breaker_on_failure(b, t), 0);
	assert_int_equal(breaker_on_failure(b, t), 0);
	assert_int_equal(breaker_on_failure(b, t), 1);
	assert_int_equal(b->state, BREAKER_OPEN);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half-open");
	assert_string_equal(breaker_state_name((enum breaker_state)42), "unknown");
}

static void
test_init(void **state)
{
	struct breaker b;

	(void)state;
	memset(&b, 0xff, sizeof b);
	breaker_init(&b, 5, 30000, 2);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.failure_threshold, 5);
	assert_int_equal(b.base_cooldown_ms, 30000);
	assert_int_equal(b.cooldown_ms, 30000);
	assert_int_equal(b.half_open_max, 2);
	assert_int_equal(b.consecutive_failures, 0);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.transitions, 0);
	assert_int_equal(breaker_would_allow(&b, 0), 1);
	assert_int_equal(breaker_cooldown_left_ms(&b, 0), 0);

	/* Nonsense parameters are clamped to something usable. */
	breaker_init(&b, 0, -5, 0);
	assert_int_equal(b.failure_threshold, 1);
	assert_int_equal(b.base_cooldown_ms, 0);
	assert_int_equal(b.half_open_max, 1);
}

static void
test_threshold_opens(void **state)
{
	struct breaker b;
	int i;

	(void)state;
	breaker_init(&b, 3, 1000, 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(breaker_acquire(&b, 100), 1);
		assert_int_equal(breaker_on_failure(&b, 100), 0);
		assert_int_equal(b.state, BREAKER_CLOSED);
	}
	assert_int_equal(b.consecutive_failures, 2);
	assert_int_equal(breaker_acquire(&b, 100), 1);
	assert_int_equal(breaker_on_failure(&b, 150), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opened_at_ms, 150);
	assert_int_equal(b.transitions, 1);
	assert_int_equal(b.cooldown_ms, 1000);
	assert_int_equal(breaker_would_allow(&b, 150), 0);
	assert_int_equal(breaker_acquire(&b, 150), 0);
	assert_int_equal(breaker_cooldown_left_ms(&b, 150), 1000);
	assert_int_equal(breaker_cooldown_left_ms(&b, 1149), 1);
	assert_int_equal(breaker_cooldown_left_ms(&b, 1150), 0);
}

static void
test_success_resets_count(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 3, 1000, 1);
	breaker_on_failure(&b, 0);
	breaker_on_failure(&b, 0);
	assert_int_equal(breaker_on_success(&b, 0), 0);
	assert_int_equal(b.consecutive_failures, 0);
	breaker_on_failure(&b, 0);
	breaker_on_failure(&b, 0);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(breaker_on_failure(&b, 0), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
}

static void
test_open_to_half_open_lazily(void **state)
{
	struct breaker b;

	(void)state;
	open_at(&b, 1000);
	assert_int_equal(breaker_would_allow(&b, 1999), 0);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.transitions, 1);
	/* Exactly at the end of the cooldown it goes half-open. */
	assert_int_equal(breaker_would_allow(&b, 2000), 1);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(b.transitions, 2);
	assert_int_equal(b.trials_in_flight, 0); /* would_allow takes no slot */
	assert_int_equal(breaker_cooldown_left_ms(&b, 2000), 0);

	/* Same through acquire, which takes the slot. */
	open_at(&b, 1000);
	assert_int_equal(breaker_acquire(&b, 1999), 0);
	assert_int_equal(breaker_acquire(&b, 2500), 1);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(b.trials_in_flight, 1);
}

static void
test_half_open_trial_limit(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 1, 500, 2);
	breaker_on_failure(&b, 0);
	assert_int_equal(breaker_acquire(&b, 500), 1);
	assert_int_equal(breaker_acquire(&b, 500), 1);
	assert_int_equal(b.trials_in_flight, 2);
	assert_int_equal(breaker_would_allow(&b, 500), 0);
	assert_int_equal(breaker_acquire(&b, 501), 0);
	assert_int_equal(b.trials_in_flight, 2);

	/* A cancelled trial gives its slot back. */
	breaker_release(&b);
	assert_int_equal(b.trials_in_flight, 1);
	assert_int_equal(breaker_would_allow(&b, 502), 1);
	assert_int_equal(breaker_acquire(&b, 502), 1);
	assert_int_equal(breaker_acquire(&b, 502), 0);

	/* Release never goes below zero. */
	breaker_release(&b);
	breaker_release(&b);
	breaker_release(&b);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
}

static void
test_trial_success_closes(void **state)
{
	struct breaker b;

	(void)state;
	open_at(&b, 0);
	/* Grow the cooldown first so we can see it reset to base. */
	assert_int_equal(breaker_acquire(&b, 1000), 1);
	assert_int_equal(breaker_on_failure(&b, 1000), 1);
	assert_int_equal(b.cooldown_ms, 2000);
	assert_int_equal(breaker_acquire(&b, 3000), 1);
	assert_int_equal(breaker_on_success(&b, 3100), 1);
	assert_int_equal(b.state, BREAKER_CLOSED);
	/* The grown cooldown survives the close: a flapping provider keeps its pause. */
	assert_int_equal(b.cooldown_ms, 2000);
	assert_int_equal(b.consecutive_failures, 0);
	assert_int_equal(b.trials_in_flight, 0);
	/* open, half-open, open, half-open, closed */
	assert_int_equal(b.transitions, 5);
	assert_int_equal(breaker_would_allow(&b, 3100), 1);

	/* And the threshold counts from zero again; reopened soon, still 2000. */
	assert_int_equal(breaker_on_failure(&b, 3200), 0);
	assert_int_equal(breaker_on_failure(&b, 3200), 0);
	assert_int_equal(breaker_on_failure(&b, 3200), 1);
	assert_int_equal(b.cooldown_ms, 2000);
	assert_int_equal(breaker_cooldown_left_ms(&b, 3200), 2000);
}

/* Closed for BREAKER_STABLE_X x base: the growth is forgotten at the next open. */
static void
test_growth_resets_once_stable(void **state)
{
	struct breaker b;
	uint64_t closed;

	(void)state;
	open_at(&b, 0);
	breaker_acquire(&b, 1000);
	breaker_on_failure(&b, 1000); /* 2000 */
	breaker_acquire(&b, 3000);
	breaker_on_failure(&b, 3000); /* 4000 */
	assert_int_equal(b.cooldown_ms, 4000);
	breaker_acquire(&b, 7000);
	assert_int_equal(breaker_on_success(&b, 7000), 1);
	closed = 7000;
	for (int i = 0; i < 3; i++)
		breaker_on_failure(&b, closed + 1000 * BREAKER_STABLE_X);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.cooldown_ms, 1000);
}

/* A successful probe closes an open breaker at once, cooldown or not. */
static void
test_recover_closes_at_once(void **state)
{
	struct breaker b;

	(void)state;
	open_at(&b, 0);
	assert_true(breaker_cooldown_left_ms(&b, 100) > 0);
	assert_int_equal(breaker_recover(&b, 100), 1);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(breaker_would_allow(&b, 100), 1);
	assert_int_equal(b.consecutive_failures, 0);
	assert_int_equal(breaker_recover(&b, 200), 0);
}

static void
test_cooldown_growth_and_cap(void **state)
{
	struct breaker b;
	uint64_t t = 0;
	const int want[] = {2000, 4000, 8000, 8000, 8000};
	size_t i;

	(void)state;
	open_at(&b, t);
	assert_int_equal(b.cooldown_ms, 1000);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		t += (uint64_t)b.cooldown_ms;
		assert_int_equal(breaker_acquire(&b, t - 1), 0);
		assert_int_equal(breaker_acquire(&b, t), 1);
		assert_int_equal(b.state, BREAKER_HALF_OPEN);
		assert_int_equal(breaker_on_failure(&b, t), 1);
		assert_int_equal(b.state, BREAKER_OPEN);
		assert_int_equal(b.opened_at_ms, t);
		assert_int_equal(b.cooldown_ms, want[i]);
		assert_int_equal(breaker_cooldown_left_ms(&b, t), (uint64_t)want[i]);
		assert_int_equal(b.trials_in_flight, 0);
	}
	assert_int_equal(b.transitions, 1 + 2 * 5);
}

static void
test_cooldown_cap_no_overflow(void **state)
{
	struct breaker b;
	int i;

	(void)state;
	breaker_init(&b, 1, 1000000000, 1); /* 8x base overflows int */
	breaker_on_failure(&b, 0);
	for (i = 0; i < 5; i++) {
		breaker_acquire(&b, UINT64_C(1) << 40);
		assert_int_equal(b.state, BREAKER_HALF_OPEN);
		breaker_on_failure(&b, 0);
		assert_true(b.cooldown_ms >= 1000000000);
	}
}

/* Results of requests acquired before a state change must not corrupt it. */
static void
test_stale_results(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 2, 1000, 1);
	/* Three requests go out while closed. */
	assert_int_equal(breaker_acquire(&b, 0), 1);
	assert_int_equal(breaker_acquire(&b, 0), 1);
	assert_int_equal(breaker_acquire(&b, 0), 1);
	breaker_on_failure(&b, 10);
	assert_int_equal(breaker_on_failure(&b, 10), 1);
	assert_int_equal(b.state, BREAKER_OPEN);

	/* The third reports late, while open: nothing changes. */
	assert_int_equal(breaker_on_success(&b, 20), 0);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opened_at_ms, 10);
	assert_int_equal(b.transitions, 1);
	assert_int_equal(breaker_on_failure(&b, 500), 0);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opened_at_ms, 10); /* cooldown not extended */
	assert_int_equal(b.cooldown_ms, 1000);
	assert_int_equal(b.transitions, 1);
	breaker_release(&b);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.state, BREAKER_OPEN);

	/* Half-open: one trial goes out, the limit holds. */
	assert_int_equal(breaker_acquire(&b, 1010), 1);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(breaker_acquire(&b, 1010), 0);
	assert_int_equal(b.trials_in_flight, 1);

	/* After reopen by the trial, the counts are clean. */
	assert_int_equal(breaker_on_failure(&b, 1020), 1);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(breaker_on_success(&b, 1030), 0);
	assert_int_equal(breaker_on_failure(&b, 1030), 0);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opened_at_ms, 1020);
	assert_int_equal(b.cooldown_ms, 2000);

	/* A success after close does not disturb the closed state. */
	assert_int_equal(breaker_acquire(&b, 3020), 1);
	assert_int_equal(breaker_acquire(&b, 3020), 0);
	assert_int_equal(breaker_on_success(&b, 3030), 1);
	assert_int_equal(breaker_on_success(&b, 3030), 0);
	breaker_release(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.consecutive_failures, 0);
}

static void
test_release_outside_half_open(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 1, 100, 1);
	breaker_release(&b);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.state, BREAKER_CLOSED);
}

static void
test_trip(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 5, 1000, 1);
	assert_int_equal(breaker_trip(&b, 50), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opened_at_ms, 50);
	assert_int_equal(b.cooldown_ms, 1000);
	assert_int_equal(b.transitions, 1);

	/* Already open: no change, cooldown kept. */
	assert_int_equal(breaker_trip(&b, 500), 0);
	assert_int_equal(b.opened_at_ms, 50);
	assert_int_equal(b.transitions, 1);

	/* From half-open it acts as a failed trial. */
	assert_int_equal(breaker_would_allow(&b, 1050), 1);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(breaker_trip(&b, 1060), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.cooldown_ms, 2000);
	assert_int_equal(b.opened_at_ms, 1060);
	assert_int_equal(b.transitions, 3);
}

static void
test_reset(void **state)
{
	struct breaker b;

	(void)state;
	open_at(&b, 0);
	breaker_acquire(&b, 1000);
	breaker_on_failure(&b, 1000);
	assert_int_equal(b.cooldown_ms, 2000);
	breaker_reset(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.cooldown_ms, 1000);
	assert_int_equal(b.consecutive_failures, 0);
	assert_int_equal(b.trials_in_flight, 0);
	assert_int_equal(b.transitions, 4);
	assert_int_equal(breaker_would_allow(&b, 1001), 1);
	assert_int_equal(breaker_cooldown_left_ms(&b, 1001), 0);

	/* Resetting a closed breaker clears the count but is no transition. */
	breaker_on_failure(&b, 1002);
	breaker_reset(&b);
	assert_int_equal(b.consecutive_failures, 0);
	assert_int_equal(b.transitions, 4);
}

static void
test_zero_cooldown(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b, 1, 0, 1);
	assert_int_equal(breaker_on_failure(&b, 7), 1);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(breaker_cooldown_left_ms(&b, 7), 0);
	assert_int_equal(breaker_acquire(&b, 7), 1);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(breaker_on_failure(&b, 7), 1);
	assert_int_equal(b.cooldown_ms, 0);
}

static void
test_clock_before_open(void **state)
{
	struct breaker b;

	(void)state;
	open_at(&b, 5000);
	/* A time before opened_at must not underflow into "cooldown over". */
	assert_int_equal(breaker_cooldown_left_ms(&b, 10), 1000);
	assert_int_equal(breaker_would_allow(&b, 10), 0);
	assert_int_equal(b.state, BREAKER_OPEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_threshold_opens),
	    cmocka_unit_test(test_success_resets_count),
	    cmocka_unit_test(test_open_to_half_open_lazily),
	    cmocka_unit_test(test_half_open_trial_limit),
	    cmocka_unit_test(test_trial_success_closes),
	    cmocka_unit_test(test_growth_resets_once_stable),
	    cmocka_unit_test(test_recover_closes_at_once),
	    cmocka_unit_test(test_cooldown_growth_and_cap),
	    cmocka_unit_test(test_cooldown_cap_no_overflow),
	    cmocka_unit_test(test_stale_results),
	    cmocka_unit_test(test_release_outside_half_open),
	    cmocka_unit_test(test_trip),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_zero_cooldown),
	    cmocka_unit_test(test_clock_before_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
