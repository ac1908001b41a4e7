/*
 * waiter.h: a one-shot rendezvous, the blocking face of an asynchronous call:
 * one thread waits until another says done, with an int result and a pointer.
 * ledger_record, cache_put, router_generate and workq_drain are built on it.
 *
 *	struct waiter w;
 *	waiter_init(&w);
 *	ledger_record_async(s, row, id, waiter_done_rc, &w);
 *	rc = waiter_wait(&w);
 */
#ifndef LLMDECK_WAITER_H
#define LLMDECK_WAITER_H

#include <pthread.h>

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int rc;
	void *ptr;
};

void waiter_init(struct waiter *);
/* Any thread, once: wake the waiter with rc and ptr. */
void waiter_done(struct waiter *, int rc, void *ptr);
/* The same as a done(arg, rc) callback. */
void waiter_done_rc(void *arg, int rc);
/* Block until done; returns rc (ptr is in w->ptr). The waiter is then spent. */
int waiter_wait(struct waiter *);

#endif
