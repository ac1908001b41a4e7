/* theme.c: theme files: parsing, lookup, and colour depth downgrade. */
#include "console/theme.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

static const char *const color_names[TC__COUNT] = {
    [TC_NORMAL] = "normal",
    [TC_HEADER] = "header",
    [TC_DEMO] = "demo_badge",
    [TC_BORDER] = "border",
    [TC_TITLE] = "title",
    [TC_SELECTED] = "selected",
    [TC_PROVIDER_UP] = "provider_up",
    [TC_PROVIDER_DOWN] = "provider_down",
    [TC_PROVIDER_HALF_OPEN] = "provider_half_open",
    [TC_BREAKER_OPEN] = "breaker_open",
    [TC_DRAINED] = "provider_drained",
    [TC_DISABLED] = "provider_disabled",
    [TC_OVERRIDDEN] = "overridden",
    [TC_BUDGET_OK] = "budget_ok",
    [TC_BUDGET_WARN] = "budget_warn",
    [TC_BUDGET_OVER] = "budget_over",
    [TC_HIST_BAR] = "histogram",
    [TC_QUANTILE] = "quantile",
    [TC_SPARK] = "sparkline",
    [TC_EVENT_INFO] = "event_info",
    [TC_EVENT_OPERATOR] = "event_operator",
    [TC_EVENT_WARN] = "event_warn",
    [TC_EVENT_ERROR] = "event_error",
    [TC_KEY] = "key",
    [TC_HINT] = "hint",
    [TC_CMDLINE] = "command_line",
    [TC_MSG_OK] = "message_ok",
    [TC_MSG_ERROR] = "message_error",
    [TC_DIM] = "dim",
    [TC_ANSWER] = "answer",
};

/* The 16 ANSI colours as xterm draws them, for names and for downgrades. */
static const struct {
	const char *name;
	uint32_t rgb;
} ansi[16] = {
    {"black", 0x000000},
    {"red", 0xcd0000},
    {"green", 0x00cd00},
    {"yellow", 0xcdcd00},
    {"blue", 0x0000ee},
    {"magenta", 0xcd00cd},
    {"cyan", 0x00cdcd},
    {"white", 0xe5e5e5},
    {"bright-black", 0x7f7f7f},
    {"bright-red", 0xff0000},
    {"bright-green", 0x00ff00},
    {"bright-yellow", 0xffff00},
    {"bright-blue", 0x5c5cff},
    {"bright-magenta", 0xff00ff},
    {"bright-cyan", 0x00ffff},
    {"bright-white", 0xffffff},
};

static const struct {
	const char *name;
	unsigned attr;
} attr_names[] = {
    {"bold", THEME_BOLD},
    {"dim", THEME_DIM},
    {"underline", THEME_UNDERLINE},
    {"reverse", THEME_REVERSE},
    {"italic", THEME_ITALIC},
    {"normal", 0},
};

const char *
theme_color_name(enum theme_color c)
{
	if ((size_t)c < TC__COUNT)
		return color_names[c];
	return "?";
}

#define RGB(x) (THEME_RGB | (x))

void
theme_default(struct theme *t)
{
	static const struct theme_style dark[TC__COUNT] = {
	    [TC_NORMAL] = {THEME_DEFAULT, THEME_DEFAULT, 0},
	    [TC_HEADER] = {RGB(0xe0e0e0), RGB(0x1f3a5f), THEME_BOLD},
	    [TC_DEMO] = {RGB(0x000000), RGB(0xffb000), THEME_BOLD},
	    [TC_BORDER] = {RGB(0x5f6f7f), THEME_DEFAULT, 0},
	    [TC_TITLE] = {RGB(0x87afff), THEME_DEFAULT, THEME_BOLD},
	    [TC_SELECTED] = {RGB(0xffffff), RGB(0x3a3a5a), THEME_BOLD},
	    [TC_PROVIDER_UP] = {RGB(0x5fd75f), THEME_DEFAULT, 0},
	    [TC_PROVIDER_DOWN] = {RGB(0xff5f5f), THEME_DEFAULT, THEME_BOLD},
	    [TC_PROVIDER_HALF_OPEN] = {RGB(0xffd75f), THEME_DEFAULT, 0},
	    [TC_BREAKER_OPEN] = {RGB(0xff5f5f), THEME_DEFAULT, THEME_BOLD},
	    [TC_DRAINED] = {RGB(0x5fafff), THEME_DEFAULT, 0},
	    [TC_DISABLED] = {RGB(0x8a8a8a), THEME_DEFAULT, 0},
	    [TC_OVERRIDDEN] = {RGB(0xd787ff), THEME_DEFAULT, THEME_BOLD},
	    [TC_BUDGET_OK] = {RGB(0x5fd75f), THEME_DEFAULT, 0},
	    [TC_BUDGET_WARN] = {RGB(0xffd75f), THEME_DEFAULT, THEME_BOLD},
	    [TC_BUDGET_OVER] = {RGB(0xff5f5f), THEME_DEFAULT, THEME_BOLD},
	    [TC_HIST_BAR] = {RGB(0x5fafd7), THEME_DEFAULT, 0},
	    [TC_QUANTILE] = {RGB(0xffaf5f), THEME_DEFAULT, THEME_BOLD},
	    [TC_SPARK] = {RGB(0x87d7af), THEME_DEFAULT, 0},
	    [TC_EVENT_INFO] = {RGB(0xbcbcbc), THEME_DEFAULT, 0},
	    [TC_EVENT_OPERATOR] = {RGB(0xd787ff), THEME_DEFAULT, 0},
	    [TC_EVENT_WARN] = {RGB(0xffd75f), THEME_DEFAULT, 0},
	    [TC_EVENT_ERROR] = {RGB(0xff5f5f), THEME_DEFAULT, 0},
	    [TC_KEY] = {RGB(0x000000), RGB(0x87afd7), 0},
	    [TC_HINT] = {RGB(0xbcbcbc), THEME_DEFAULT, 0},
	    [TC_CMDLINE] = {RGB(0xffffff), THEME_DEFAULT, THEME_BOLD},
	    [TC_MSG_OK] = {RGB(0x5fd75f), THEME_DEFAULT, 0},
	    [TC_MSG_ERROR] = {RGB(0xffffff), RGB(0xaf0000), THEME_BOLD},
	    [TC_DIM] = {RGB(0x808080), THEME_DEFAULT, 0},
	    [TC_ANSWER] = {RGB(0xffffd7), THEME_DEFAULT, 0},
	};

	memset(t, 0, sizeof *t);
	strlcpy_(t->name, "default", sizeof t->name);
	memcpy(t->styles, dark, sizeof t->styles);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One colour word to a value; -2 if it is not a colour. */
static int32_t
parse_color(const char *w)
{
	char *end;
	long n;

	if (w[0] == '#') {
		uint32_t v = 0;
		if (strlen(w) != 7)
			return -2;
		for (int i = 1; i < 7; i++) {
			if (hexval((unsigned char)w[i]) < 0)
				return -2;
			v = v << 4 | (uint32_t)hexval((unsigned char)w[i]);
		}
		return (int32_t)(THEME_RGB | v);
	}
	if (strcmp(w, "default") == 0 || strcmp(w, "none") == 0)
		return THEME_DEFAULT;
	if (strcmp(w, "grey") == 0 || strcmp(w, "gray") == 0)
		return 8;
	for (int i = 0; i < 16; i++)
		if (strcmp(w, ansi[i].name) == 0)
			return i;
	if (strncmp(w, "color", 5) == 0)
		w += 5;
	if (w[0] >= '0' && w[0] <= '9') {
		n = strtol(w, &end, 10);
		if (*end == '\0' && n >= 0 && n <= 255)
			return (int32_t)n;
	}
	return -2;
}

static int
parse_attr(const char *w, unsigned *attr)
{
	for (size_t i = 0; i < nitems(attr_names); i++)
		if (strcmp(w, attr_names[i].name) == 0) {
			*attr = attr_names[i].attr;
			return 0;
		}
	return -1;
}

static int
parse_line(struct theme *t, char *line, const char *origin, int lineno, char **cause)
{
	char *eq, *name, *w, *save = NULL;
	struct theme_style st = {THEME_DEFAULT, THEME_DEFAULT, 0};
	int ncolors = 0, idx = -1;
	unsigned a;

	eq = strchr(line, '=');
	if (eq == NULL) {
		*cause = xasprintf("%s:%d: expected \"name = colour [background] [attributes]\"",
		    origin, lineno);
		return -1;
	}
	*eq = '\0';
	name = strtok_r(line, " \t", &save);
	if (name == NULL || strtok_r(NULL, " \t", &save) != NULL) {
		*cause = xasprintf("%s:%d: expected one name before \"=\"", origin, lineno);
		return -1;
	}
	for (int i = 0; i < TC__COUNT; i++)
		if (strcmp(name, color_names[i]) == 0)
			idx = i;
	if (idx < 0) {
		*cause = xasprintf("%s:%d: unknown name \"%s\" (see themes/default.theme)", origin,
		    lineno, name);
		return -1;
	}
	save = NULL;
	for (w = strtok_r(eq + 1, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		int32_t c = parse_color(w);
		if (c != -2 && ncolors < 2) {
			if (ncolors++ == 0)
				st.fg = c;
			else
				st.bg = c;
			continue;
		}
		if (parse_attr(w, &a) == 0) {
			st.attrs |= a;
			continue;
		}
		*cause = xasprintf("%s:%d: %s: \"%s\" is neither a colour nor an attribute", origin,
		    lineno, name, w);
		return -1;
	}
	t->styles[idx] = st;
	return 0;
}

int
theme_parse(struct theme *t, const char *text, const char *origin, char **cause)
{
	const char *p = text, *nl;
	int lineno = 0;

	while (*p != '\0') {
		size_t len;
		char *line, *s, *e;
		int rc = 0;

		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		lineno++;
		line = xstrndup(p, len);
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (*s != '\0' && *s != '#')
			rc = parse_line(t, s, origin, lineno, cause);
		free(line);
		if (rc != 0)
			return -1;
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

int
theme_load_file(struct theme *t, const char *path, const char *name, char **cause)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f;
	int rc;

	theme_default(t);
	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("theme %s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	if (b.data == NULL)
		buf_puts(&b, "");
	rc = theme_parse(t, b.data, path, cause);
	buf_free(&b);
	if (rc != 0) {
		theme_default(t);
		return -1;
	}
	strlcpy_(t->name, name, sizeof t->name);
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

const char *
theme_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX], *slash;
	const char *env = getenv("LLMDECK_THEMES");
	ssize_t n;

	if (env != NULL && *env != '\0')
		return env;
	if (is_dir("themes"))
		return "themes";
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		/* build/llmdeck -> themes beside build/; installed: ../share/llmdeck/themes */
		for (int up = 0; up < 2; up++) {
			if ((slash = strrchr(exe, '/')) == NULL)
				break;
			*slash = '\0';
			snprintf(dir, sizeof dir, "%s/themes", exe);
			if (is_dir(dir))
				return dir;
			snprintf(dir, sizeof dir, "%s/share/llmdeck/themes", exe);
			if (is_dir(dir))
				return dir;
		}
	}
	return "themes";
}

char *
theme_path(const char *name)
{
	if (strchr(name, '/') != NULL)
		return xstrdup(name);
	return xasprintf("%s/%s.theme", theme_dir(), name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
theme_list(char ***names)
{
	DIR *d = opendir(theme_dir());
	struct dirent *de;
	size_t n = 0;

	*names = NULL;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".theme") != 0)
			continue;
		*names = xreallocarray(*names, n + 1, sizeof **names);
		(*names)[n++] = xstrndup(de->d_name, len - 6);
	}
	closedir(d);
	if (n > 0)
		qsort(*names, n, sizeof **names, cmp_str);
	return n;
}

static uint32_t
dist2(uint32_t a, uint32_t b)
{
	int dr = (int)(a >> 16 & 0xff) - (int)(b >> 16 & 0xff);
	int dg = (int)(a >> 8 & 0xff) - (int)(b >> 8 & 0xff);
	int db = (int)(a & 0xff) - (int)(b & 0xff);

	return (uint32_t)(dr * dr * 3 + dg * dg * 4 + db * db * 2);
}

/* xterm's 256-colour palette entry i as rgb. */
static uint32_t
palette_rgb(int i)
{
	static const int steps[6] = {0, 95, 135, 175, 215, 255};

	if (i < 16)
		return ansi[i].rgb;
	if (i < 232) {
		i -= 16;
		return (uint32_t)(steps[i / 36] << 16 | steps[i / 6 % 6] << 8 | steps[i % 6]);
	}
	i = 8 + (i - 232) * 10;
	return (uint32_t)(i << 16 | i << 8 | i);
}

int
theme_downgrade(int32_t color, int depth)
{
	uint32_t rgb;
	int best, from, to;

	if (color == THEME_DEFAULT || depth < 8)
		return THEME_DEFAULT;
	if (!(color & THEME_RGB)) {
		if (color < depth)
			return color;
		rgb = palette_rgb(color);
	} else
		rgb = (uint32_t)color & 0xffffff;
	/* 256: search the cube and the grey ramp only; 16 / 8: the ANSI colours. */
	from = depth >= 256 ? 16 : 0;
	to = depth >= 256 ? 256 : depth >= 16 ? 16 : 8;
	best = from;
	for (int i = from + 1; i < to; i++)
		if (dist2(rgb, palette_rgb(i)) < dist2(rgb, palette_rgb(best)))
			best = i;
	return best;
}

int
theme_known(const char *name)
{
	char **names;
	size_t n = theme_list(&names);
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		found |= strcmp(names[i], name) == 0;
		free(names[i]);
	}
	free(names);
	return found;
}

char *
theme_names_joined(void)
{
	char **names;
	size_t n = theme_list(&names);
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
		free(names[i]);
	}
	free(names);
	if (n == 0)
		buf_printf(&b, "none in %s", theme_dir());
	return buf_detach(&b);
}
