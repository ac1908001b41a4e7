/*
 * console_color.c: a theme on the terminal. Colours are downgraded to what the
 * terminal has when the theme is applied: 24-bit (palette entries redefined
 * with init_extended_color), the 256-colour cube, the 16 or 8 ANSI colours, or
 * none (NO_COLOR, --no-color, a terminal without colours): then attributes
 * carry the meaning and a style that relied on its background is reversed.
 */
#include "console/console.h"

#include <curses.h>
#include <string.h>

static int pair_attr[TC__COUNT];

static attr_t
style_attrs(unsigned a)
{
	attr_t r = A_NORMAL;

	if (a & THEME_BOLD)
		r |= A_BOLD;
	if (a & THEME_DIM)
		r |= A_DIM;
	if (a & THEME_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & THEME_REVERSE)
		r |= A_REVERSE;
	if (a & THEME_ITALIC)
		r |= A_ITALIC;
	return r;
}

/* A theme colour to a curses colour number at the console's depth. */
static int
color_number(struct console *c, int32_t color, int *next_slot)
{
	if (color == THEME_DEFAULT)
		return -1;
	if (c->color_depth == 24 && (color & THEME_RGB) && *next_slot < COLORS) {
		int r = (color >> 16) & 0xff, g = (color >> 8) & 0xff, b = color & 0xff;
		int slot = (*next_slot)++;
		init_extended_color(slot, r * 1000 / 255, g * 1000 / 255, b * 1000 / 255);
		return slot;
	}
	return theme_downgrade(color, c->color_depth == 24 ? 256 : c->color_depth);
}

void
color_setup(struct console *c)
{
	const struct theme_style *normal = &c->theme.styles[TC_NORMAL];
	int slot = 16;

	if (c->color_depth <= 0) {
		for (int i = 0; i < TC__COUNT; i++) {
			const struct theme_style *st = &c->theme.styles[i];
			pair_attr[i] = (int)style_attrs(st->attrs);
			if (st->bg != THEME_DEFAULT && st->bg != normal->bg && i != TC_NORMAL)
				pair_attr[i] |= (int)A_REVERSE;
		}
		pair_attr[TC_SELECTED] |= (int)A_REVERSE;
		bkgdset(' ');
		return;
	}
	start_color();
	use_default_colors();
	for (int i = 0; i < TC__COUNT; i++) {
		const struct theme_style *st = &c->theme.styles[i];
		int32_t fg = st->fg == THEME_DEFAULT ? normal->fg : st->fg;
		int32_t bg = st->bg == THEME_DEFAULT ? normal->bg : st->bg;
		init_extended_pair(i + 1, color_number(c, fg, &slot), color_number(c, bg, &slot));
		pair_attr[i] = (int)(COLOR_PAIR(i + 1) | style_attrs(st->attrs));
	}
	bkgdset(' ' | (chtype)pair_attr[TC_NORMAL]);
}

int
color_attr(struct console *c, enum theme_color tc)
{
	(void)c;
	if ((size_t)tc >= TC__COUNT)
		return A_NORMAL;
	return pair_attr[tc];
}
