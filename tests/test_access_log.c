/*
 * test_access_log.c: the access log is bounded. Refused requests (401 before
 * auth, 404, 415: nothing routed) are logged at most N a second and the rest
 * counted in one summary line; the file becomes PATH.1 past its cap and a new
 * one starts; gateway_reopen_access_log (SIGHUP) follows logrotate's move.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/util.h"

#define TOKEN_ENV "LLMDECK_ALOG_TOKEN"
#define CHAT "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

struct fixture {
	struct testkit kit;
	char dir[64];
	char path[128];
	struct router *r;
	struct gateway *gw;
	char url[256];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct router_opts ro;
	struct gateway_opts go;
	char *cause = NULL;

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-alog-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/access.log", f->dir);
	setenv(TOKEN_ENV, "alog-token", 1);
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.token_env = TOKEN_ENV;
	go.access_log_path = f->path;
	go.access_log_max = 4096;
	go.refused_per_second = 5;
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->url, sizeof f->url, "%s/v1/chat/completions", gateway_url(f->gw));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	gateway_stop(f->gw);
	router_free(f->r);
	testkit_free(&f->kit);
	unsetenv(TOKEN_ENV);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static long
post(struct fixture *f, const char *token)
{
	struct hreply r;
	long status;

	hreq(&r, "POST", f->url, CHAT, token);
	status = r.status;
	hreply_free(&r);
	return status;
}

/* Lines of the file (0 if it is not there); refused: those with "error":"refused";
 * summed: the refused_not_logged counts. */
static int
count_lines(const char *path, int *refused, long *summed)
{
	char line[4096];
	FILE *fp = fopen(path, "r");
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL) {
		cJSON *o = cJSON_Parse(line), *v;

		assert_non_null(o); /* every line is JSON */
		n++;
		if (refused != NULL && cJSON_IsString(v = cJSON_GetObjectItem(o, "error")) &&
		    strcmp(v->valuestring, "refused") == 0)
			(*refused)++;
		if (summed != NULL &&
		    cJSON_IsNumber(v = cJSON_GetObjectItem(o, "refused_not_logged")))
			*summed += (long)v->valuedouble;
		cJSON_Delete(o);
	}
	fclose(fp);
	return n;
}

static void
test_refusals_are_sampled_and_the_rest_counted(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = clock_mono_ms(), secs;
	int refused = 0;
	long summed = 0;
	struct stat st;

	for (int i = 0; i < 60; i++)
		assert_int_equal(post(f, NULL), 401);
	secs = (clock_mono_ms() - t0) / 1000 + 1;
	sleep_ms(2200); /* the ticker writes the summary once its second is over */
	count_lines(f->path, &refused, &summed);
	print_message("60 refused in %llu s: %d logged, %ld counted\n", (unsigned long long)secs,
	    refused, summed);
	assert_true((uint64_t)refused <= 5 * (secs + 1));
	assert_int_equal(refused + summed, 60);
	assert_true(summed > 0);
	/* A routed request is always logged. */
	assert_int_equal(post(f, "alog-token"), 200);
	refused = 0;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_the_log_rotates_past_its_cap_and_reopens(void **state)
{
	struct fixture *f = *state;
	char old[160], moved[160];
	struct stat st;
	char *cause = NULL;

	snprintf(old, sizeof old, "%s.1", f->path);
	for (int i = 0; i < 40; i++)
		assert_int_equal(post(f, "alog-token"), 200);
	sleep_ms(200);
	assert_int_equal(stat(old, &st), 0);
	assert_true(st.st_size <= 4096);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size <= 4096);
	assert_true(count_lines(f->path, NULL, NULL) > 0);

	/* logrotate moves it, then SIGHUP: the next line goes to a new file. */
	snprintf(moved, sizeof moved, "%s/moved.log", f->dir);
	assert_int_equal(rename(f->path, moved), 0);
	assert_int_equal(gateway_reopen_access_log(f->gw, &cause), 0);
	assert_int_equal(post(f, "alog-token"), 200);
	sleep_ms(200);
	assert_int_equal(count_lines(f->path, NULL, NULL), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refusals_are_sampled_and_the_rest_counted, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_the_log_rotates_past_its_cap_and_reopens, setup,
	        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
