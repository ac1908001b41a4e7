/*
 * sim_testutil.c: what the simulator tests share: a sim started on loopback,
 * blocking requests with libcurl, header lookup, JSON paths and SSE data lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/sim.h"
#include "sim_testutil.h"
#include "util/util.h"

size_t
simtest_collect(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

void
simtest_resp_free(struct simtest_resp *r)
{
	buf_free(&r->body);
	buf_free(&r->hdrs);
}

/* One blocking request; hdrs is NULL-terminated "Name: value" lines. */
void
simtest_http(const char *method, const char *url, const char **hdrs, const char *body,
    long timeout_ms, struct simtest_resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *sl = NULL;

	memset(r, 0, sizeof *r);
	buf_init(&r->body);
	buf_init(&r->hdrs);
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
		sl = curl_slist_append(sl, hdrs[i]);
	sl = curl_slist_append(sl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, simtest_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, simtest_collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(sl);
}

/* A response header's value (case-insensitive name) into out, or NULL. */
const char *
simtest_header(struct simtest_resp *r, const char *name, char *out, size_t outsz)
{
	const char *p = r->hdrs.data;
	size_t nl = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *e = strstr(p, "\r\n");

		if (e == NULL)
			break;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(out, outsz, "%.*s", (int)(e - v), v);
			return out;
		}
		p = e + 2;
	}
	return NULL;
}

struct sim *
simtest_start(enum sim_protocol p, const char *key, const char *extra_json)
{
	struct sim_opts o;
	struct sim *s;
	char *cause = NULL;

	sim_opts_init(&o);
	o.protocol = p;
	o.seed = 42;
	if (key != NULL)
		strlcpy_(o.key, key, sizeof o.key);
	s = sim_start(&o, &cause);
	if (s == NULL)
		fail_msg("sim_start: %s", cause);
	assert_true(sim_port(s) > 0);
	if (extra_json != NULL) {
		if (sim_control(s, extra_json, &cause) != 0)
			fail_msg("sim_control: %s", cause);
	}
	return s;
}

char *
simtest_url(struct sim *s, const char *path)
{
	return xasprintf("%s%s", sim_url(s), path);
}

cJSON *
simtest_parse(struct simtest_resp *r)
{
	cJSON *j = cJSON_Parse(r->body.data != NULL ? r->body.data : "");

	if (j == NULL)
		fail_msg("not JSON: %s", r->body.data);
	return j;
}

/* The value at a dotted path ("content.0.text": numbers index arrays), or NULL. */
const cJSON *
simtest_jpath(const cJSON *j, const char *path)
{
	char key[64];
	const char *p = path, *dot;
	const cJSON *v = j;

	while (v != NULL && *p != '\0') {
		dot = strchr(p, '.');
		snprintf(key, sizeof key, "%.*s", (int)(dot ? dot - p : (long)strlen(p)), p);
		if (cJSON_IsArray(v))
			v = cJSON_GetArrayItem(v, atoi(key));
		else
			v = cJSON_GetObjectItemCaseSensitive(v, key);
		p = dot ? dot + 1 : p + strlen(p);
	}
	return v;
}

const char *
simtest_jstr(const cJSON *j, const char *path)
{
	const cJSON *v = simtest_jpath(j, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double
simtest_jnum(const cJSON *j, const char *path)
{
	const cJSON *v = simtest_jpath(j, path);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const char *simtest_anth_hdrs[] = {"x-api-key: sk-ant-test", "anthropic-version: 2023-06-01",
    "content-type: application/json", NULL};
const char *simtest_oai_hdrs[] = {
    "Authorization: Bearer sk-test-1234", "content-type: application/json", NULL};
const char *simtest_az_hdrs[] = {"api-key: az-key", "content-type: application/json", NULL};

/* POST body to the sim's path: the status must be want; the answer parsed (NULL if not JSON). */
cJSON *
simtest_post(struct sim *s, const char *path, const char **hdrs, const char *body, long want,
    struct simtest_resp *r)
{
	char *u = simtest_url(s, path);

	simtest_http("POST", u, hdrs, body, 0, r);
	free(u);
	assert_int_equal(r->rc, CURLE_OK);
	if (r->status != want)
		fail_msg("POST %s: status %ld, want %ld: %s", path, r->status, want,
		    r->body.data != NULL ? r->body.data : "");
	return cJSON_Parse(r->body.data != NULL ? r->body.data : "");
}

/* The JSON of each "data: " line of an OpenAI stream, in order, until [DONE]. */
cJSON *
simtest_sse_datas(const char *body)
{
	cJSON *all = cJSON_CreateArray(), *j;
	const char *p = body, *e;
	char *d;

	while ((p = strstr(p, "data: ")) != NULL) {
		e = strstr(p, "\n\n");
		assert_non_null(e);
		d = xstrndup(p + 6, (size_t)(e - p - 6));
		if (strcmp(d, "[DONE]") != 0) {
			j = cJSON_Parse(d);
			if (j == NULL)
				fail_msg("not JSON: %s", d);
			cJSON_AddItemToArray(all, j);
		}
		free(d);
		p = e + 2;
	}
	return all;
}
