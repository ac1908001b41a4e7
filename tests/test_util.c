/* test_util.c: the small things (util.h): HOST:PORT parsing, number parsing, buffers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static void
test_hostport(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		int port;
	} cases[] = {
	    {"127.0.0.1:8080", 0, "127.0.0.1", 8080},
	    {"localhost:0", 0, "localhost", 0},
	    {"[::1]:65535", 0, "::1", 65535},
	    {"::1:80", 0, "::1", 80}, /* the last colon splits */
	    {"0.0.0.0:443", 0, "0.0.0.0", 443},
	    {"host", HOSTPORT_SYNTAX, NULL, 0},
	    {":80", HOSTPORT_SYNTAX, NULL, 0},
	    {"[::1]", HOSTPORT_SYNTAX, NULL, 0},
	    {"[::1:80", HOSTPORT_SYNTAX, NULL, 0},
	    {"[]:80", HOSTPORT_HOST, NULL, 0},
	    {"a-very-long-host-name-that-does-not-fit.example:1", HOSTPORT_HOST, NULL, 0},
	    {"host:", HOSTPORT_PORT, NULL, 0},
	    {"host:65536", HOSTPORT_PORT, NULL, 0},
	    {"host:-1", HOSTPORT_PORT, NULL, 0},
	    {"host:80x", HOSTPORT_PORT, NULL, 0},
	    {"host:99999999999999999999", HOSTPORT_PORT, NULL, 0},
	};
	char host[32];
	int port;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		strcpy(host, "untouched");
		port = -7;
		print_message("%s\n", cases[i].in);
		assert_int_equal(hostport_parse(cases[i].in, host, sizeof host, &port),
		    cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_string_equal(host, "untouched");
			assert_int_equal(port, -7);
		}
	}
}

static void
test_parse_numbers(void **state)
{
	double d;
	long l;

	(void)state;
	assert_int_equal(parse_double("0.5", 0, 1, &d), 0);
	assert_true(d == 0.5);
	assert_int_equal(parse_double(" 0.5", 0, 1, &d), -1);
	assert_int_equal(parse_double("inf", 0, 1e300, &d), -1);
	assert_int_equal(parse_double("2", 0, 1, &d), -1);
	assert_int_equal(parse_long("42", 0, 100, &l), 0);
	assert_int_equal(l, 42);
	assert_int_equal(parse_long("42x", 0, 100, &l), -1);
	assert_int_equal(parse_long("", 0, 100, &l), -1);
}

static void
test_buf(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_puts(&b, "abc");
	buf_append(&b, "def", 2);
	s = buf_detach(&b);
	assert_string_equal(s, "abcde");
	assert_int_equal(b.len, 0);
	free(s);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
