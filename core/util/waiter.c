/* waiter.c: a one-shot rendezvous (see waiter.h). */
#include "util/waiter.h"

void
waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done = 0;
	w->rc = -1;
	w->ptr = NULL;
}

void
waiter_done(struct waiter *w, int rc, void *ptr)
{
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->ptr = ptr;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
waiter_done_rc(void *arg, int rc)
{
	waiter_done(arg, rc, NULL);
}

int
waiter_wait(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	return w->rc;
}
