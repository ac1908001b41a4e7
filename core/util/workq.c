/*
 * workq.c: one worker thread and a FIFO of jobs under one mutex; the worker
 * sleeps on a condition variable while the queue is empty. See workq.h.
 */
#include "util/workq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "util/waiter.h"

struct workq_job {
	struct workq_job *next;
	void (*fn)(void *);
	void (*batch)(void **, size_t);
	void *arg;
};

struct workq {
	pthread_t thread;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* a job was queued, or stopping */
	struct workq_job *head, **tail;
	int stopping;
};

/* Take the head job, and for a batch job the batch jobs of the same function behind it. */
static struct workq_job *
workq_take(struct workq *q, void **args, size_t *n)
{
	struct workq_job *j = q->head, *k;

	q->head = j->next;
	*n = 0;
	if (j->batch != NULL) {
		args[(*n)++] = j->arg;
		while ((k = q->head) != NULL && k->batch == j->batch && *n < WORKQ_BATCH_MAX) {
			args[(*n)++] = k->arg;
			q->head = k->next;
			free(k);
		}
	}
	if (q->head == NULL)
		q->tail = &q->head;
	return j;
}

static void *
workq_main(void *arg)
{
	struct workq *q = arg;
	void **args = xreallocarray(NULL, WORKQ_BATCH_MAX, sizeof *args);
	struct workq_job *j;
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->head == NULL)
			break;
		j = workq_take(q, args, &n);
		pthread_mutex_unlock(&q->mu);
		if (j->batch != NULL)
			j->batch(args, n);
		else
			j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	free(args);
	return NULL;
}

struct workq *
workq_start(const char *name)
{
	struct workq *q = xcalloc(1, sizeof *q);
	char short_name[16];

	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->tail = &q->head;
	if (pthread_create(&q->thread, NULL, workq_main, q) != 0)
		fatal("workq: cannot start thread %s", name);
	strlcpy_(short_name, name, sizeof short_name);
	pthread_setname_np(q->thread, short_name);
	return q;
}

static void
workq_append(struct workq *q, struct workq_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&q->mu);
	*q->tail = j;
	q->tail = &j->next;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
workq_push(struct workq *q, void (*fn)(void *), void *arg)
{
	struct workq_job *j = xcalloc(1, sizeof *j);

	j->fn = fn;
	j->arg = arg;
	workq_append(q, j);
}

void
workq_push_batch(struct workq *q, void (*fn)(void **, size_t), void *arg)
{
	struct workq_job *j = xcalloc(1, sizeof *j);

	j->batch = fn;
	j->arg = arg;
	workq_append(q, j);
}

static void
workq_mark_reached(void *arg)
{
	waiter_done(arg, 0, NULL);
}

void
workq_drain(struct workq *q)
{
	struct waiter w;

	waiter_init(&w);
	workq_push(q, workq_mark_reached, &w);
	waiter_wait(&w);
}

void
workq_stop(struct workq *q, void (*drop)(void *))
{
	struct workq_job *left = NULL, *j;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	if (drop != NULL) {
		left = q->head;
		q->head = NULL;
		q->tail = &q->head;
	}
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	while ((j = left) != NULL) {
		left = j->next;
		drop(j->arg);
		free(j);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
