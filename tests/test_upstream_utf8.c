/*
 * test_upstream_utf8.c: a provider that answers bytes that are not UTF-8.
 * A tiny loopback server in place of the provider answers a chat completion
 * (whole, or streamed) whose text holds invalid sequences; the client gets
 * valid UTF-8 with U+FFFD where they were, and
 * llmdeck_upstream_invalid_utf8_total counts the answers repaired.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_testutil.h"
#include "config/config.h"
#include "gateway/gateway.h"
#include "provider/llm.h"
#include "router/router.h"
#include "sim/sim.h"
#include "testkit.h"
#include "util/utf8.h"
#include "util/util.h"

/* "caf\xc3\xa9" is fine; \xff, a lone \xc3 and an encoded surrogate are not. */
#define BAD_TEXT "caf\xc3\xa9 \xff ok \xc3 x \xed\xa0\x80!"
#define FIXED_TEXT \
	"caf\xc3\xa9 \xef\xbf\xbd ok \xef\xbf\xbd x \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!"

static const char whole[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"test-model\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" BAD_TEXT
    "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,"
    "\"total_tokens\":3}}";
static const char streamed[] =
    "data: "
    "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"test-model\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"" BAD_TEXT
    "\"},\"finish_reason\":null}]}\n\n"
    "data: "
    "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"test-model\","
    "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

struct bad_req {
	struct buf body;
};

static enum MHD_Result
bad_provider(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	struct bad_req *q = *con_cls;
	struct MHD_Response *resp;
	int stream;
	enum MHD_Result rc;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	if (q == NULL) {
		q = xcalloc(1, sizeof *q);
		buf_init(&q->body);
		*con_cls = q;
		return MHD_YES;
	}
	if (*size > 0) {
		buf_append(&q->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	stream = q->body.data != NULL && strstr(q->body.data, "\"stream\":true") != NULL;
	resp = MHD_create_response_from_buffer(stream ? strlen(streamed) : strlen(whole),
	    (void *)(stream ? streamed : whole), MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type",
	    stream ? "text/event-stream" : "application/json");
	rc = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void
bad_done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct bad_req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q != NULL) {
		buf_free(&q->body);
		free(q);
		*con_cls = NULL;
	}
}

static void
test_invalid_utf8_from_a_provider_is_repaired_and_counted(void **state)
{
	struct testkit kit;
	struct router_opts ro;
	struct gateway_opts go;
	struct provider_conf *p;
	struct MHD_Daemon *d;
	struct router *r;
	struct gateway *gw;
	struct hreply rep;
	char *cause = NULL, url[256], dir[64] = "/tmp/llmdeck-utf8-XXXXXX", run[96];
	const union MHD_DaemonInfo *di;
	uint64_t before = llm_invalid_utf8_total();
	const char *content;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(run, sizeof run, "%s/run", dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
	    bad_provider, NULL, MHD_OPTION_NOTIFY_COMPLETED, bad_done, NULL, MHD_OPTION_END);
	assert_non_null(d);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	testkit_init(&kit);
	p = testkit_add_provider(&kit, "bad", SIM_OPENAI, 1, 1);
	free(p->base_url);
	p->base_url = xasprintf("http://127.0.0.1:%u", (unsigned)di->port);
	p->max_retries = 0;
	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	r = router_new(&kit.cfg, &ro, &cause);
	assert_non_null(r);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	gw = gateway_start(r, &go, &cause);
	assert_non_null(gw);

	snprintf(url, sizeof url, "%s/v1/chat/completions", gateway_url(gw));
	hreq(&rep, "POST", url,
	    "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    NULL);
	assert_int_equal(rep.status, 200);
	assert_true(utf8_valid(rep.body.data, rep.body.len, NULL));
	content = jstr(rep.json, "choices.0.message.content");
	assert_non_null(content);
	assert_string_equal(content, FIXED_TEXT);
	hreply_free(&rep);
	assert_true(llm_invalid_utf8_total() >= before + 1);

	/* Streamed: every event the client gets is UTF-8, the text repaired. */
	before = llm_invalid_utf8_total();
	hreq(&rep, "POST", url,
	    "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}",
	    NULL);
	assert_int_equal(rep.status, 200);
	assert_true(utf8_valid(rep.body.data, rep.body.len, NULL));
	assert_non_null(strstr(rep.body.data, "\\ufffd") != NULL
	        ? rep.body.data
	        : strstr(rep.body.data, "\xef\xbf\xbd"));
	hreply_free(&rep);
	assert_true(llm_invalid_utf8_total() >= before + 1);

	/* The metric. */
	snprintf(url, sizeof url, "%s/metrics", gateway_url(gw));
	hreq(&rep, "GET", url, NULL, NULL);
	assert_non_null(strstr(rep.body.data, "llmdeck_upstream_invalid_utf8_total "));
	hreply_free(&rep);

	gateway_stop(gw);
	router_free(r);
	testkit_free(&kit);
	MHD_stop_daemon(d);
	snprintf(url, sizeof url, "rm -rf %s", dir);
	assert_int_equal(system(url), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invalid_utf8_from_a_provider_is_repaired_and_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
