/*
 * workq.h: one worker thread and its queue, the one mechanism for work a
 * thread must hand off rather than do itself: the store's writer (the ledger's
 * group commit), the router's worker (SQLite writes the engine thread must not
 * wait for), the console's background jobs (drills). tmux's job queue, small.
 *
 * Jobs run on the queue's thread one at a time, in the order they were pushed.
 * A batch job (workq_push_batch) is run together with the batch jobs of the same
 * function queued right behind it, in one call: a writer commits everything that
 * piled up during its last commit in one transaction (group commit). Nothing here
 * wakes anyone when a job finishes: a job that has a result delivers it itself
 * (a callback, a done list and a wake-up pipe, a condition variable).
 *
 * Thread safety: workq_push and workq_push_batch may be called from any thread,
 * the worker included (a job may queue a follow-up). workq_drain and workq_stop
 * must not be called from the worker.
 */
#ifndef LLMDECK_WORKQ_H
#define LLMDECK_WORKQ_H

#include <stddef.h>

struct workq;

/* The most batch jobs handed to one call. */
#define WORKQ_BATCH_MAX 1024

/*
 * Start the thread. name (up to 15 characters are kept) names it for ps, gdb and
 * sanitizer reports: "store-writer", "router-worker". Aborts if no thread can
 * be started, like an allocation failure.
 */
struct workq *workq_start(const char *name);

/* Run fn(arg) on the worker, after everything queued before it. */
void workq_push(struct workq *, void (*fn)(void *arg), void *arg);

/* Run fn(args, n) on the worker with this arg and those of the batch jobs of the
 * same fn queued directly behind it (n <= WORKQ_BATCH_MAX), in push order. */
void workq_push_batch(struct workq *, void (*fn)(void **args, size_t n), void *arg);

/* Wait until every job pushed before this call has run. */
void workq_drain(struct workq *);

/*
 * Stop and free. drop NULL: every queued job still runs, including jobs they
 * push, then the thread ends. Otherwise jobs not yet started are not run:
 * drop(arg) is called for each instead (on the caller's thread), to free it;
 * a job already running is waited for. NULL is a no-op.
 */
void workq_stop(struct workq *, void (*drop)(void *arg));

#endif
