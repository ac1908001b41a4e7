/*
 * sim_client.c: the client of a simulated provider's control endpoint, for a
 * process that drives a sim it did not start (the console's drills against
 * `llmdeck sim` or another process's demo). A blocking libcurl call: run it
 * off any thread that must stay responsive.
 */
#include "sim/sim.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/util.h"

static size_t
sim_client_discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr, (void)arg;
	return size * n;
}

int
sim_control_remote(const char *base_url, const char *json, long timeout_ms, char **cause)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *url = xasprintf("%s/_sim/control", base_url);
	long status = 0;
	CURLcode rc;
	int ret = -1;

	if (h == NULL || hdr == NULL)
		fatal("sim: out of memory for a control request");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sim_client_discard);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		*cause = xasprintf("POST %s: %s (is it a simulated provider?)", url,
		    curl_easy_strerror(rc));
	else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			ret = 0;
		else
			*cause =
			    xasprintf("POST %s: HTTP %ld (not a simulated provider?)", url, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(url);
	return ret;
}
