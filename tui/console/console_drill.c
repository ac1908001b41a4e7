/*
 * console_drill.c: fault drills. A drill is a POST of JSON to a simulated
 * provider's /_sim/control (sim_control_remote); it runs on the drill's work
 * queue so a slow or dead sim never freezes the screen, and the outcome comes
 * back to the UI thread through a done list and the console's wake-up pipe.
 */
#include "console/console.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/util.h"
#include "util/workq.h"

static const struct {
	const char *name;
	const char *json;
	const char *what;
} drills[] = {
    {"500", "{\"fault\":\"none\",\"error_rate\":1,\"error_status\":500}", "every request 500"},
    {"429", "{\"fault\":\"none\",\"error_rate\":1,\"error_status\":429,\"retry_after\":5}",
        "429 storm with retry-after 5 s"},
    {"529", "{\"fault\":\"none\",\"error_rate\":1,\"error_status\":529}", "529 overloaded"},
    {"slow", "{\"fault\":\"slow\",\"error_rate\":0}", "slow (latency x10)"},
    {"hang", "{\"fault\":\"hang\",\"error_rate\":0}", "hang (never answers)"},
    {"down", "{\"fault\":\"down\",\"error_rate\":0}", "down (connections closed)"},
    {"none", "{\"fault\":\"none\",\"error_rate\":0}", "cleared"},
};

const char *const drill_names[] = {"500", "429", "529", "slow", "hang", "down", "none", NULL};

struct drill_job {
	struct drill_job *next;
	struct drill *d;
	char provider[LIMIT_NAME_SIZE];
	char url[320];
	const char *json;
	const char *name;
	const char *what;
	int ok;
	char error[640];
};

struct drill {
	struct console *c;
	struct workq *q;    /* runs the POSTs, one at a time */
	pthread_mutex_t mu; /* guards done */
	struct drill_job *done;
};

static void
job_push(struct drill_job **list, struct drill_job *j)
{
	j->next = NULL;
	while (*list != NULL)
		list = &(*list)->next;
	*list = j;
}

/* On the drill's worker: the POST, then the outcome to the UI thread. */
static void
drill_run(void *arg)
{
	struct drill_job *j = arg;
	struct drill *d = j->d;
	char *cause = NULL;

	if (sim_control_remote(j->url, j->json, 5000, &cause) == 0)
		j->ok = 1;
	else
		strlcpy_(j->error, cause, sizeof j->error);
	free(cause);
	pthread_mutex_lock(&d->mu);
	job_push(&d->done, j);
	console_wake(d->c);
	pthread_mutex_unlock(&d->mu);
}

struct drill *
drill_start(struct console *c)
{
	struct drill *d = xcalloc(1, sizeof *d);

	d->c = c;
	pthread_mutex_init(&d->mu, NULL);
	d->q = workq_start("console-drill");
	return d;
}

static void
jobs_free(struct drill_job *j)
{
	while (j != NULL) {
		struct drill_job *next = j->next;
		free(j);
		j = next;
	}
}

/* Drills not started yet are dropped: quitting never waits for more than the one running. */
void
drill_stop(struct drill *d)
{
	workq_stop(d->q, free);
	jobs_free(d->done);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int
drill_post(struct drill *d, const char *provider, const char *base_url, const char *fault,
    char **cause)
{
	struct drill_job *j;
	size_t i;

	for (i = 0; i < nitems(drills); i++)
		if (strcmp(drills[i].name, fault) == 0 ||
		    (strcmp(fault, "clear") == 0 && strcmp(drills[i].name, "none") == 0))
			break;
	if (i == nitems(drills)) {
		*cause = xasprintf("drill: unknown fault \"%s\" (500, 429, 529, slow, hang, down, "
		                   "none)",
		    fault);
		return -1;
	}
	j = xcalloc(1, sizeof *j);
	j->d = d;
	strlcpy_(j->provider, provider, sizeof j->provider);
	strlcpy_(j->url, base_url, sizeof j->url);
	j->json = drills[i].json;
	j->name = drills[i].name;
	j->what = drills[i].what;
	workq_push(d->q, drill_run, j);
	return 0;
}

int
drill_poll(struct console *c)
{
	struct drill *d = c->drill;
	struct drill_job *list, *j;

	pthread_mutex_lock(&d->mu);
	list = d->done;
	d->done = NULL;
	pthread_mutex_unlock(&d->mu);
	if (list == NULL)
		return 0;
	for (j = list; j != NULL; j = j->next) {
		if (j->ok) {
			console_drill_mark(c, j->url, j->name);
			console_event(c, EV_OPERATOR, j->provider, "operator: drill %s on %s: %s",
			    j->name, j->provider, j->what);
			console_message(c, 0, "drill on %s: %s", j->provider, j->what);
		} else {
			console_event(c, EV_ERROR, j->provider, "drill %s failed: %s", j->name,
			    j->error);
			console_message(c, 1, "drill on %s failed: %s", j->provider, j->error);
		}
	}
	jobs_free(list);
	return 1;
}
