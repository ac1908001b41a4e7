/* test_util.c: the small things (util.h): HOST:PORT parsing, number parsing, buffers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
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
	/* A result longer than the room there is is formatted again into a grown buffer;
	 * one that exactly fills it, or stops a byte short, is whole too. */
	for (size_t n = 0; n < 300; n++) {
		char *big = xcalloc(n + 1, 1);

		memset(big, 'x', n);
		buf_reset(&b);
		buf_puts(&b, "ab");
		buf_printf(&b, "<%s>%d", big, 7);
		assert_int_equal(b.len, n + 5);
		assert_int_equal(b.data[0], 'a');
		assert_int_equal(b.data[2], '<');
		assert_int_equal(b.data[n + 3], '>');
		assert_int_equal(b.data[n + 4], '7');
		assert_int_equal(b.data[b.len], '\0');
		free(big);
	}
	buf_free(&b);
}

/* Strict UTF-8: the bad offset, and the repair's U+FFFD per maximal subpart. */
static void
test_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		int valid;
		size_t bad;
		const char *repaired;
		size_t replaced;
	} cases[] = {
	    {"", 0, 1, 0, "", 0}, {"plain ascii", 11, 1, 0, "plain ascii", 0},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 1, 0,
	        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0},
	    {"a\xff"
	     "b",
	        3, 0, 1,
	        "a\xef\xbf\xbd"
	        "b",
	        1},
	    {"\xc0\xaf", 2, 0, 0, "\xef\xbf\xbd\xef\xbf\xbd", 2},                 /* overlong '/' */
	    {"\xed\xa0\x80", 3, 0, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4, 0, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	        4},                                     /* > U+10FFFF */
	    {"x\xe2\x82", 3, 0, 1, "x\xef\xbf\xbd", 1}, /* cut short: one */
	    {"\xe2\x82"
	     "A",
	        3, 0, 0,
	        "\xef\xbf\xbd"
	        "A",
	        1},
	    {"a\0b", 3, 1, 0, "a\0b", 0}, /* NUL is valid UTF-8 */
	};
	size_t bad, outlen, replaced;
	char *out;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		print_message("case %zu\n", i);
		bad = 99;
		assert_int_equal(utf8_valid(cases[i].in, cases[i].len, &bad), cases[i].valid);
		if (!cases[i].valid)
			assert_int_equal(bad, cases[i].bad);
		out = utf8_repair(cases[i].in, cases[i].len, &outlen, &replaced);
		assert_int_equal(outlen,
		    strlen(cases[i].repaired) + (i == nitems(cases) - 1 ? 2 : 0));
		assert_memory_equal(out, cases[i].repaired, outlen);
		assert_int_equal(replaced, cases[i].replaced);
		assert_true(utf8_valid(out, outlen, NULL));
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
