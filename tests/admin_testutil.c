/* admin_testutil.c: see admin_testutil.h. */
#include "admin_testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	buf_append(arg, p, sz * n);
	return sz * n;
}

void
hreq(struct hreply *r, const char *method, const char *url, const char *body, const char *auth)
{
	const char *headers[3] = {NULL, NULL, NULL};
	char *bearer = NULL;
	int n = 0;

	if (body != NULL)
		headers[n++] = "Content-Type: application/json";
	if (auth != NULL) {
		bearer = xasprintf("Authorization: Bearer %s", auth);
		headers[n++] = bearer;
	}
	hreq_headers(r, method, url, body, headers);
	free(bearer);
}

void
hreq_headers(struct hreply *r, const char *method, const char *url, const char *body,
    const char *const headers[])
{
	struct curl_slist *h = NULL;
	char sock[256], full[512];
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof *r);
	r->status = -1;
	buf_init(&r->body);
	buf_init(&r->headers);
	if (strncmp(url, "unix:", 5) == 0) {
		const char *colon = strchr(url + 5, ':');

		assert_non_null(colon);
		snprintf(sock, sizeof sock, "%.*s", (int)(colon - url - 5), url + 5);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
		snprintf(full, sizeof full, "http://localhost%s", colon + 1);
	} else {
		snprintf(full, sizeof full, "%s", url);
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* curl's own Content-Type for a body (a form) goes unless one is given. */
	h = curl_slist_append(h, "Expect:");
	for (; headers != NULL && *headers != NULL; headers++)
		h = curl_slist_append(h, *headers);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	buf_append(&r->body, "", 0);
	buf_append(&r->headers, "", 0);
	r->json = cJSON_Parse(r->body.data);
}

void
hreply_free(struct hreply *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof *r);
}

cJSON *
jget(const cJSON *o, const char *path)
{
	char key[128];

	while (o != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t n = dot != NULL ? (size_t)(dot - path) : strlen(path);

		snprintf(key, sizeof key, "%.*s", (int)n, path);
		o = key[0] >= '0' && key[0] <= '9' ? cJSON_GetArrayItem(o, atoi(key))
		                                   : cJSON_GetObjectItemCaseSensitive(o, key);
		path += n + (dot != NULL);
	}
	return (cJSON *)o;
}

double
jnum(const cJSON *o, const char *path)
{
	cJSON *v = jget(o, path);

	if (!cJSON_IsNumber(v))
		fail_msg("%s: not a number", path);
	return v->valuedouble;
}

const char *
jstr(const cJSON *o, const char *path)
{
	cJSON *v = jget(o, path);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

char *
slurp(const char *path)
{
	char *cause = NULL, *text;
	size_t len;

	if ((text = read_file(path, 1 << 24, &len, &cause)) == NULL)
		fail_msg("%s", cause);
	return text;
}

pid_t
spawn_serve(const char *const args[], const char *err_path, char *url, size_t urllen)
{
	const char *bin = getenv("LLMDECK") != NULL ? getenv("LLMDECK") : "build/llmdeck";
	char line[512];
	int fds[2];
	pid_t pid;
	FILE *f;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		if (err_path != NULL && freopen(err_path, "w", stderr) == NULL)
			_exit(126);
		execv(bin, (char *const *)args);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	url[0] = '\0';
	while (fgets(line, sizeof line, f) != NULL) {
		char *at = strstr(line, "listening on ");
		if (at != NULL) {
			at += strlen("listening on ");
			at[strcspn(at, "\r\n")] = '\0';
			snprintf(url, urllen, "%s", at);
			break;
		}
	}
	/* The rest of its output is not read: a child writing more would block, so
	 * it goes nowhere once this end is closed (the access log goes to a file). */
	fclose(f);
	if (url[0] == '\0')
		fail_msg("%s serve did not say where it listens", bin);
	return pid;
}

int
wait_exit(pid_t pid, long ms)
{
	int status;

	for (long waited = 0; waited <= ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("pid %ld did not exit within %ld ms", (long)pid, ms);
	return -1;
}
