/*
 * test_console_theme.c: theme files: parsing, errors naming the line, every
 * shipped theme loads, and colour depth downgrades. theme.c has no curses in
 * it, so it is compiled into this test directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../tui/console/theme.c"

static void
test_parse_forms(void **state)
{
	struct theme t;
	char *cause = NULL;

	(void)state;
	theme_default(&t);
	assert_int_equal(theme_parse(&t,
	                     "# comment\n\n  provider_up = #00ff00 bold\r\n"
	                     "breaker_open = red black underline reverse\nkey = 208 default\n"
	                     "dim = color244\nnormal = default default\n",
	                     "x", &cause),
	    0);
	assert_int_equal(t.styles[TC_PROVIDER_UP].fg, THEME_RGB | 0x00ff00);
	assert_int_equal(t.styles[TC_PROVIDER_UP].bg, THEME_DEFAULT);
	assert_int_equal(t.styles[TC_PROVIDER_UP].attrs, THEME_BOLD);
	assert_int_equal(t.styles[TC_BREAKER_OPEN].fg, 1);
	assert_int_equal(t.styles[TC_BREAKER_OPEN].bg, 0);
	assert_int_equal(t.styles[TC_BREAKER_OPEN].attrs, THEME_UNDERLINE | THEME_REVERSE);
	assert_int_equal(t.styles[TC_KEY].fg, 208);
	assert_int_equal(t.styles[TC_DIM].fg, 244);
	/* Names left out keep the default theme's style. */
	{
		struct theme d;
		theme_default(&d);
		assert_memory_equal(&t.styles[TC_BUDGET_WARN], &d.styles[TC_BUDGET_WARN],
		    sizeof d.styles[0]);
	}
}

static void
check_error(const char *text, const char *want)
{
	struct theme t;
	char *cause = NULL;

	theme_default(&t);
	assert_int_equal(theme_parse(&t, text, "my.theme", &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", cause, want);
	free(cause);
}

static void
test_errors_name_the_line(void **state)
{
	(void)state;
	check_error("normal = default\nprovider_up = #12345\n", "my.theme:2:");
	check_error("\n\n\nnosuch = red\n", "my.theme:4: unknown name \"nosuch\"");
	check_error("provider_up red\n", "my.theme:1: expected");
	check_error("provider_up = red blink\n", "\"blink\" is neither");
	check_error("provider_up = 256\n", "\"256\"");
	check_error("a b = red\n", "my.theme:1: expected one name");
	check_error("provider_up = red green blue\n", "\"blue\"");
}

static void
test_load_file_falls_back(void **state)
{
	struct theme t, d;
	char path[] = "/tmp/llmdeck-theme-XXXXXX";
	char *cause = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_true(write(fd, "provider_up = blue\nbudget_warn = #xyzxyz\n", 42) == 42);
	close(fd);
	assert_int_equal(theme_load_file(&t, path, "broken", &cause), -1);
	assert_non_null(strstr(cause, ":2:"));
	assert_non_null(strstr(cause, path));
	free(cause);
	theme_default(&d);
	assert_memory_equal(&t, &d, sizeof t); /* the default is used */
	unlink(path);
	cause = NULL;
	assert_int_equal(theme_load_file(&t, "/nonexistent/x.theme", "x", &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/x.theme"));
	free(cause);
}

static void
test_shipped_themes_load(void **state)
{
	static const char *const want[] = {
	    "default", "light", "solarized-dark", "high-contrast", "monochrome"};
	char **names;
	size_t n;

	(void)state;
	setenv("LLMDECK_THEMES", "themes", 1);
	n = theme_list(&names);
	for (size_t w = 0; w < nitems(want); w++) {
		int found = 0;
		for (size_t i = 0; i < n; i++)
			found |= strcmp(names[i], want[w]) == 0;
		if (!found)
			fail_msg("theme %s missing from themes/", want[w]);
	}
	for (size_t i = 0; i < n; i++) {
		struct theme t;
		char *path = theme_path(names[i]), *cause = NULL;
		if (theme_load_file(&t, path, names[i], &cause) != 0)
			fail_msg("%s", cause);
		assert_string_equal(t.name, names[i]);
		free(path);
		free(names[i]);
	}
	free(names);
	/* The monochrome theme has no colour at all. */
	{
		struct theme t;
		char *path = theme_path("monochrome"), *cause = NULL;
		assert_int_equal(theme_load_file(&t, path, "monochrome", &cause), 0);
		for (int i = 0; i < TC__COUNT; i++) {
			assert_int_equal(t.styles[i].fg, THEME_DEFAULT);
			assert_int_equal(t.styles[i].bg, THEME_DEFAULT);
		}
		free(path);
	}
}

static void
test_downgrade(void **state)
{
	(void)state;
	assert_int_equal(theme_downgrade(THEME_DEFAULT, 256), THEME_DEFAULT);
	assert_int_equal(theme_downgrade(THEME_RGB | 0xff0000, 0), THEME_DEFAULT);
	/* Exact cube and grey entries. */
	assert_int_equal(theme_downgrade(THEME_RGB | 0xff0000, 256), 196);
	assert_int_equal(theme_downgrade(THEME_RGB | 0x5fd75f, 256), 77);
	assert_int_equal(theme_downgrade(THEME_RGB | 0x080808, 256), 232);
	/* 16 and 8 colours: the nearest ANSI colour. */
	assert_int_equal(theme_downgrade(THEME_RGB | 0xff0000, 16), 9);
	assert_int_equal(theme_downgrade(THEME_RGB | 0xee0000, 8), 1);
	assert_int_equal(theme_downgrade(THEME_RGB | 0x000000, 8), 0);
	assert_int_equal(theme_downgrade(THEME_RGB | 0xffffff, 16), 15);
	/* Palette numbers pass when the terminal has them, else downgrade. */
	assert_int_equal(theme_downgrade(208, 256), 208);
	assert_int_equal(theme_downgrade(12, 16), 12);
	assert_true(theme_downgrade(196, 16) == 9 || theme_downgrade(196, 16) == 1);
	assert_true(theme_downgrade(12, 8) < 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_errors_name_the_line),
	    cmocka_unit_test(test_load_file_falls_back),
	    cmocka_unit_test(test_shipped_themes_load),
	    cmocka_unit_test(test_downgrade),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
