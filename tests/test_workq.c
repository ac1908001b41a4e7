/*
 * test_workq.c: the work queue: jobs in order on one named thread, batch jobs
 * coalesced behind a busy worker (group commit), follow-up jobs pushed by a
 * job, drain, and stop that either runs or drops what is still queued.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"
#include "util/workq.h"

/* What the jobs saw, under mu. */
struct log {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int order[4096];
	size_t n;
	size_t batches[64]; /* sizes of the batch calls */
	size_t n_batches;
	int gate_open;
	char thread_name[16];
};

static struct log lg;

static void
log_reset(void)
{
	memset(&lg, 0, sizeof lg);
	pthread_mutex_init(&lg.mu, NULL);
	pthread_cond_init(&lg.cv, NULL);
}

static void
record(void *arg)
{
	pthread_mutex_lock(&lg.mu);
	lg.order[lg.n++] = (int)(intptr_t)arg;
	pthread_getname_np(pthread_self(), lg.thread_name, sizeof lg.thread_name);
	pthread_mutex_unlock(&lg.mu);
}

static void
record_batch(void **args, size_t n)
{
	pthread_mutex_lock(&lg.mu);
	lg.batches[lg.n_batches++] = n;
	for (size_t i = 0; i < n; i++)
		lg.order[lg.n++] = (int)(intptr_t)args[i];
	pthread_mutex_unlock(&lg.mu);
}

/* Holds the worker until the test opens the gate. */
static void
gate(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lg.mu);
	while (!lg.gate_open)
		pthread_cond_wait(&lg.cv, &lg.mu);
	pthread_mutex_unlock(&lg.mu);
}

static void
open_gate(void)
{
	pthread_mutex_lock(&lg.mu);
	lg.gate_open = 1;
	pthread_cond_broadcast(&lg.cv);
	pthread_mutex_unlock(&lg.mu);
}

static void
test_jobs_run_in_order_on_the_named_thread(void **state)
{
	struct workq *q;

	(void)state;
	log_reset();
	q = workq_start("test-queue-with-a-long-name");
	for (int i = 0; i < 1000; i++)
		workq_push(q, record, (void *)(intptr_t)i);
	workq_drain(q);
	assert_int_equal(lg.n, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(lg.order[i], i);
	assert_string_equal(lg.thread_name, "test-queue-with");
	workq_stop(q, NULL);
}

/* While the worker is busy, batch jobs pile up and then arrive in one call. */
static void
test_batch_jobs_queued_behind_a_busy_worker_come_together(void **state)
{
	struct workq *q;

	(void)state;
	log_reset();
	q = workq_start("test-batch");
	workq_push(q, gate, NULL);
	for (int i = 0; i < 10; i++)
		workq_push_batch(q, record_batch, (void *)(intptr_t)i);
	workq_push(q, record, (void *)(intptr_t)10); /* a plain job ends the batch */
	for (int i = 11; i < 14; i++)
		workq_push_batch(q, record_batch, (void *)(intptr_t)i);
	open_gate();
	workq_drain(q);
	assert_int_equal(lg.n_batches, 2);
	assert_int_equal(lg.batches[0], 10);
	assert_int_equal(lg.batches[1], 3);
	assert_int_equal(lg.n, 14);
	for (int i = 0; i < 14; i++)
		assert_int_equal(lg.order[i], i);
	workq_stop(q, NULL);
}

static void
test_a_batch_is_at_most_the_maximum(void **state)
{
	struct workq *q;
	int n = WORKQ_BATCH_MAX + 5;

	(void)state;
	log_reset();
	q = workq_start("test-max");
	workq_push(q, gate, NULL);
	for (int i = 0; i < n; i++)
		workq_push_batch(q, record_batch, (void *)(intptr_t)i);
	open_gate();
	workq_drain(q);
	assert_int_equal(lg.n_batches, 2);
	assert_int_equal(lg.batches[0], WORKQ_BATCH_MAX);
	assert_int_equal(lg.batches[1], 5);
	workq_stop(q, NULL);
}

static struct workq *self_q;

static void
push_follow_up(void *arg)
{
	record(arg);
	if ((intptr_t)arg < 5)
		workq_push(self_q, push_follow_up, (void *)((intptr_t)arg + 1));
}

/* stop without drop runs what is queued, and what those jobs queue. */
static void
test_stop_runs_everything_queued_and_follow_ups(void **state)
{
	(void)state;
	log_reset();
	self_q = workq_start("test-follow");
	workq_push(self_q, gate, NULL);
	workq_push(self_q, push_follow_up, (void *)(intptr_t)0);
	open_gate();
	workq_stop(self_q, NULL);
	assert_int_equal(lg.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(lg.order[i], i);
}

static size_t dropped;

static void
drop(void *arg)
{
	(void)arg;
	dropped++;
}

static void *
open_gate_later(void *arg)
{
	(void)arg;
	usleep(50000);
	open_gate();
	return NULL;
}

/* stop with drop waits for the job in progress, and runs none of the ones behind it. */
static void
test_stop_with_drop_skips_what_has_not_started(void **state)
{
	struct workq *q;
	pthread_t opener;

	(void)state;
	log_reset();
	dropped = 0;
	q = workq_start("test-drop");
	workq_push(q, gate, NULL);
	for (int i = 0; i < 7; i++)
		workq_push(q, record, (void *)(intptr_t)i);
	workq_push_batch(q, record_batch, NULL);
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, NULL), 0);
	workq_stop(q, drop); /* the gate is still closed: nothing behind it has run */
	pthread_join(opener, NULL);
	assert_int_equal(lg.n, 0);
	assert_true(dropped == 8 || dropped == 9); /* 9: the gate itself had not started */
	workq_stop(NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jobs_run_in_order_on_the_named_thread),
	    cmocka_unit_test(test_batch_jobs_queued_behind_a_busy_worker_come_together),
	    cmocka_unit_test(test_a_batch_is_at_most_the_maximum),
	    cmocka_unit_test(test_stop_runs_everything_queued_and_follow_ups),
	    cmocka_unit_test(test_stop_with_drop_skips_what_has_not_started),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
