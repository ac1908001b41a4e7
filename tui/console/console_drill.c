/*
 * console_drill.c: fault drills. A drill is a POST of JSON to a simulated
 * provider's /_sim/control; it runs on a worker thread with libcurl so a slow
 * or dead sim never freezes the screen, and the outcome comes back to the UI
 * thread through a queue and the console's wake-up pipe.
 */
#include "console.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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
	char provider[64];
	char url[320];
	const char *json;
	const char *name;
	const char *what;
	int ok;
	char error[640];
};

struct drill {
	struct console *c;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct drill_job *todo, *done;
};

static void
job_push(struct drill_job **list, struct drill_job *j)
{
	j->next = NULL;
	while (*list != NULL)
		list = &(*list)->next;
	*list = j;
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr, (void)arg;
	return size * n;
}

static void
drill_run(struct drill_job *j)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->json);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		snprintf(j->error, sizeof j->error, "POST %s: %s (is it a simulated provider?)",
		    j->url, curl_easy_strerror(rc));
	else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			j->ok = 1;
		else
			snprintf(j->error, sizeof j->error,
			    "POST %s: HTTP %ld (not a simulated "
			    "provider?)",
			    j->url, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
}

static void *
drill_main(void *arg)
{
	struct drill *d = arg;
	struct drill_job *j;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->stop && d->todo == NULL)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->stop)
			break;
		j = d->todo;
		d->todo = j->next;
		pthread_mutex_unlock(&d->mu);
		drill_run(j);
		pthread_mutex_lock(&d->mu);
		job_push(&d->done, j);
		console_wake(d->c);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct drill *
drill_start(struct console *c)
{
	struct drill *d = xcalloc(1, sizeof *d);

	d->c = c;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->thread, NULL, drill_main, d) != 0)
		fatal("drill: pthread_create failed");
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

void
drill_stop(struct drill *d)
{
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	jobs_free(d->todo);
	jobs_free(d->done);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
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
	strlcpy_(j->provider, provider, sizeof j->provider);
	snprintf(j->url, sizeof j->url, "%s/_sim/control", base_url);
	j->json = drills[i].json;
	j->name = drills[i].name;
	j->what = drills[i].what;
	pthread_mutex_lock(&d->mu);
	job_push(&d->todo, j);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
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
