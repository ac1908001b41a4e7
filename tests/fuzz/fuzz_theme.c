/*
 * fuzz_theme.c: the console's theme file parser (tui/console/theme.c, which
 * has no curses in it and is compiled in here, as tests/test_console_theme.c
 * does). Refused: one line naming the file. Taken: every colour is the
 * terminal's, a palette index or an RGB value, attributes are known ones, and
 * each downgrades to a colour the terminal has.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../tui/console/theme.c"

#define ORIGIN "fuzz.theme"
#define ALL_ATTRS (THEME_BOLD | THEME_DIM | THEME_UNDERLINE | THEME_REVERSE | THEME_ITALIC)

static void
check_color(int32_t c)
{
	static const int depths[] = {0, 8, 16, 256};

	FUZZ_CHECK(c == THEME_DEFAULT || (c >= 0 && c <= 255) || (c & ~0xffffff) == THEME_RGB);
	for (size_t i = 0; i < nitems(depths); i++) {
		int d = theme_downgrade(c, depths[i]);
		FUZZ_CHECK(d == THEME_DEFAULT || (d >= 0 && d < depths[i]));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *cause = NULL;
	struct theme t;

	theme_default(&t);
	if (theme_parse(&t, text, ORIGIN, &cause) != 0) {
		fuzz_check_message(cause, strlen(cause != NULL ? cause : "") + 1);
		FUZZ_CHECK(strncmp(cause, ORIGIN ":", strlen(ORIGIN) + 1) == 0);
		free(cause);
		fuzz_refused = 1;
	} else {
		FUZZ_CHECK(cause == NULL);
		for (int i = 0; i < TC__COUNT; i++) {
			check_color(t.styles[i].fg);
			check_color(t.styles[i].bg);
			FUZZ_CHECK((t.styles[i].attrs & ~(unsigned)ALL_ATTRS) == 0);
		}
		fuzz_refused = 0;
	}
	free(text);
	return 0;
}
