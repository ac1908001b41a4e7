/*
 * test_gateway_limits.c: a gateway that survives hostile clients. The
 * connection limit comes from the descriptor limit; one address holds at
 * most per_ip_limit connections; an idle connection is closed after
 * idle_seconds; the Unix socket has a daemon of its own and answers while
 * the TCP port is full; an 8 KiB bearer token fits the header budget (431
 * only well past it). Over loopback, the gateway in-process, one sim.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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

#define TOKEN_ENV "LLMDECK_LIMITS_TOKEN"

struct fixture {
	struct testkit kit;
	char dir[64];
	struct router *r;
	struct gateway *gw;
	char base[128];
	char socket[160];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char run[128];

	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-limits-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(run, sizeof run, "%s/run", f->dir);
	mkdir(run, 0700);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv(TOKEN_ENV);
	testkit_init(&f->kit);
	testkit_add_provider(&f->kit, "gpt", SIM_OPENAI, 1, 1);
	*state = f;
	return 0;
}

static void
start(struct fixture *f, unsigned max_conn, int per_ip, unsigned idle)
{
	struct router_opts ro;
	struct gateway_opts go;
	char *cause = NULL;

	memset(&ro, 0, sizeof ro);
	ro.no_probes = 1;
	if ((f->r = router_new(&f->kit.cfg, &ro, &cause)) == NULL)
		fail_msg("router_new: %s", cause);
	gateway_opts_init(&go);
	go.listen = "127.0.0.1:0";
	go.instance = "limits";
	go.local_socket = 1;
	go.token_env = TOKEN_ENV;
	go.max_connections = max_conn;
	go.per_ip_limit = per_ip;
	go.idle_seconds = idle;
	if ((f->gw = gateway_start(f->r, &go, &cause)) == NULL)
		fail_msg("gateway_start: %s", cause);
	snprintf(f->base, sizeof f->base, "%s", gateway_url(f->gw));
	snprintf(f->socket, sizeof f->socket, "unix:%s:", gateway_socket_path(f->gw));
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

/* A TCP connection to the gateway that sends nothing. */
static int
idle_conn(struct fixture *f)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)gateway_port(f->gw));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

/* Does the peer close fd within ms? */
static int
closed_within(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c;

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(fd, &c, 1) <= 0;
}

static long
health(const char *base)
{
	struct hreply r;
	char url[256];
	long status;

	snprintf(url, sizeof url, "%s/health", base);
	hreq(&r, "GET", url, NULL, NULL);
	status = r.status;
	hreply_free(&r);
	return status;
}

static void
test_an_idle_connection_is_closed_after_idle_seconds(void **state)
{
	struct fixture *f = *state;
	uint64_t t0;
	int fd;

	start(f, 0, 0, 1);
	t0 = clock_mono_ms();
	fd = idle_conn(f);
	assert_true(closed_within(fd, 5000));
	/* libmicrohttpd checks timeouts about once a second. */
	assert_true(clock_mono_ms() - t0 >= 900);
	close(fd);
	assert_int_equal(health(f->base), 200);
}

static void
test_one_address_holds_at_most_per_ip_limit(void **state)
{
	struct fixture *f = *state;
	int fds[3];

	start(f, 0, 3, 30);
	for (int i = 0; i < 3; i++)
		fds[i] = idle_conn(f);
	sleep_ms(200);
	/* The fourth is accepted and closed at once. */
	assert_int_not_equal(health(f->base), 200);
	close(fds[0]);
	sleep_ms(200);
	assert_int_equal(health(f->base), 200);
	close(fds[1]);
	close(fds[2]);
}

/* A full TCP port: new clients wait in the backlog; the socket answers at once. */
static void
test_the_socket_answers_while_the_port_is_full(void **state)
{
	struct fixture *f = *state;
	struct hreply r;
	char url[256];
	int fds[4];
	uint64_t t0;

	start(f, 4, -1, 30);
	for (int i = 0; i < 4; i++)
		fds[i] = idle_conn(f);
	sleep_ms(200);
	t0 = clock_mono_ms();
	snprintf(url, sizeof url, "%s/admin/v1/snapshot", f->socket);
	hreq(&r, "GET", url, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_true(clock_mono_ms() - t0 < 2000);
	hreply_free(&r);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	sleep_ms(200);
	assert_int_equal(health(f->base), 200);
}

/* A proxy's long bearer token: 8 KiB fits; 20 KiB of headers is a 431. */
static void
test_an_8_kib_bearer_token_fits(void **state)
{
	struct fixture *f = *state;
	char *token = xmalloc(8193), *big = xmalloc(20001), *auth, *hdr;
	const char *h[3];
	struct hreply r;
	char url[256];

	memset(token, 'T', 8192);
	token[8192] = '\0';
	setenv(TOKEN_ENV, token, 1);
	start(f, 0, 0, 0);
	snprintf(url, sizeof url, "%s/v1/models", f->base);
	hreq(&r, "GET", url, NULL, token);
	assert_int_equal(r.status, 200);
	hreply_free(&r);
	hreq(&r, "GET", url, NULL, "wrong");
	assert_int_equal(r.status, 401);
	hreply_free(&r);
	memset(big, 'x', 20000);
	big[20000] = '\0';
	auth = xasprintf("Authorization: Bearer %s", token);
	hdr = xasprintf("X-Big: %s", big);
	h[0] = auth;
	h[1] = hdr;
	h[2] = NULL;
	hreq_headers(&r, "GET", url, NULL, h);
	assert_int_equal(r.status, 431);
	hreply_free(&r);
	free(auth);
	free(hdr);
	free(big);
	free(token);
}

static void
test_the_limit_comes_from_the_descriptor_limit(void **state)
{
	struct rlimit was, rl;
	unsigned long fds;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	rl.rlim_cur = was.rlim_max < 1000 ? was.rlim_max : 1000;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == 1000) {
		assert_int_equal(gateway_max_connections(&fds), (1000 - 256 - 64) / 2);
		assert_int_equal(fds, 1000);
	}
	rl.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(gateway_max_connections(NULL), 16);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_an_idle_connection_is_closed_after_idle_seconds,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_address_holds_at_most_per_ip_limit, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_the_socket_answers_while_the_port_is_full, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_an_8_kib_bearer_token_fits, setup, teardown),
	    cmocka_unit_test(test_the_limit_comes_from_the_descriptor_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
