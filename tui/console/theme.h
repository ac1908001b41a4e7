/*
 * theme.h: colours by meaning, read from theme files.
 *
 * A theme file has one "name = FG [BG] [ATTR...]" per line, "#" comment lines
 * and blank lines. FG and BG are "#rrggbb", "default", a colour name (red,
 * bright-blue, grey...) or a palette number 0..255; ATTR is bold, dim,
 * underline, reverse, italic or normal. Names not given keep the default
 * theme's style. Parsing knows nothing of curses: the console downgrades the
 * colours to what the terminal has at draw time (theme_downgrade()).
 */
#ifndef LLMDECK_THEME_H
#define LLMDECK_THEME_H

#include <stddef.h>
#include <stdint.h>

enum theme_color {
	TC_NORMAL,
	TC_HEADER,
	TC_DEMO,
	TC_BORDER,
	TC_TITLE,
	TC_SELECTED,
	TC_PROVIDER_UP,
	TC_PROVIDER_DOWN,
	TC_PROVIDER_HALF_OPEN,
	TC_BREAKER_OPEN,
	TC_DRAINED,
	TC_DISABLED,
	TC_OVERRIDDEN,
	TC_BUDGET_OK,
	TC_BUDGET_WARN,
	TC_BUDGET_OVER,
	TC_HIST_BAR,
	TC_QUANTILE,
	TC_SPARK,
	TC_EVENT_INFO,
	TC_EVENT_OPERATOR,
	TC_EVENT_WARN,
	TC_EVENT_ERROR,
	TC_KEY,
	TC_HINT,
	TC_CMDLINE,
	TC_MSG_OK,
	TC_MSG_ERROR,
	TC_DIM,
	TC_ANSWER,
	TC__COUNT
};

#define THEME_DEFAULT (-1)  /* the terminal's own colour */
#define THEME_RGB 0x1000000 /* flag: the low 24 bits are 0xrrggbb */

#define THEME_BOLD 0x01
#define THEME_DIM 0x02
#define THEME_UNDERLINE 0x04
#define THEME_REVERSE 0x08
#define THEME_ITALIC 0x10

struct theme_style {
	int32_t fg; /* THEME_DEFAULT, 0..255, or THEME_RGB | 0xrrggbb */
	int32_t bg;
	unsigned attrs;
};

struct theme {
	char name[64];
	struct theme_style styles[TC__COUNT];
};

const char *theme_color_name(enum theme_color);
/* The built-in dark theme (also what a file leaves out). */
void theme_default(struct theme *);
/* Parse a theme's text over t; origin names it in errors ("themes/x.theme:3: ..."). */
int theme_parse(struct theme *, const char *text, const char *origin, char **cause);
/* Load a file: the default theme, then the file over it. On error t is the default. */
int theme_load_file(struct theme *, const char *path, const char *name, char **cause);

/* The directory holding the theme files: $LLMDECK_THEMES, ./themes, or next to the binary. */
const char *theme_dir(void);
/* NAME (a path if it holds a '/') to a file path; the caller frees. */
char *theme_path(const char *name);
/* Theme names found in theme_dir(), sorted; free each and the array. */
size_t theme_list(char ***names);
/* 1 if theme_dir() has a theme of that name. */
int theme_known(const char *name);
/* "default, light, ..." for messages; the caller frees. */
char *theme_names_joined(void);

/* A colour for a terminal of depth colours (8, 16, 256): a palette index or THEME_DEFAULT. */
int theme_downgrade(int32_t color, int depth);

#endif
