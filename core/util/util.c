/*
 * util.c: allocation that aborts on failure, string helpers, number parsing and
 * the file limit. Buffers are buf.c, clocks clock.c, the generator rng.c, time
 * zones tz.c, the work queue workq.c; util.h declares the first four.
 */
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("llmdeck: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		fatal("out of memory reallocating %zu bytes", n);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatal("allocation overflow: %zu x %zu", n, size);
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory formatting a string");
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t
strlcpy_(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n > 0) {
		size_t c = len < n - 1 ? len : n - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return len;
}

int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;

	if (isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && isfinite(*out) && *out >= lo && *out <= hi
	    ? 0
	    : -1;
}

int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;

	if (isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

int
hostport_parse(const char *s, char *host, size_t hostlen, int *port)
{
	const char *end_host, *p;
	char *end;
	size_t n;
	long v;

	if (s[0] == '[') {
		if ((end_host = strstr(s, "]:")) == NULL)
			return HOSTPORT_SYNTAX;
		s++;
		p = end_host + 2;
	} else {
		if ((end_host = strrchr(s, ':')) == NULL || end_host == s)
			return HOSTPORT_SYNTAX;
		p = end_host + 1;
	}
	n = (size_t)(end_host - s);
	if (n == 0 || n >= hostlen)
		return HOSTPORT_HOST;
	errno = 0;
	v = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 65535)
		return HOSTPORT_PORT;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (int)v;
	return 0;
}

char *
str_oneline(char *s)
{
	for (unsigned char *p = (unsigned char *)s; p != NULL && *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/* A character of a key or token (a masked one's '*' included). */
static int
key_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '*';
}

/* The length of the key at p ('.' inside it, not at its end). */
static size_t
key_len(const char *p)
{
	size_t n = 0;

	while (key_char((unsigned char)p[n]) || (p[n] == '.' && key_char((unsigned char)p[n + 1])))
		n++;
	return n;
}

size_t
str_scrub_keys(char *s)
{
	char *r = s, *w = s;
	unsigned char prev = 0;
	size_t count = 0, n, skip, m;
	const char *repl;

	while (s != NULL && *r != '\0') {
		repl = NULL;
		skip = 0;
		if (!key_char(prev)) {
			if ((strncmp(r, "sk-", 3) == 0 || strncmp(r, "sk_", 3) == 0) &&
			    (n = key_len(r + 3)) >= 3) {
				repl = "sk-***";
				skip = 3 + n;
			} else if (strncasecmp(r, "Bearer ", 7) == 0 &&
			    (n = strcspn(r + 7, " \t\"',;")) >= 3) {
				repl = "Bearer ***";
				skip = 7 + n;
			} else if (strncmp(r, "AIza", 4) == 0 && (n = key_len(r + 4)) >= 10) {
				repl = "AIza***";
				skip = 4 + n;
			} else if ((n = key_len(r)) > 3 && memmem(r, n, "***", 3) != NULL) {
				repl =
				    "***"; /* a key masked by its provider: sk-o****5678, AKIA****WXYZ */
				skip = n;
			}
		}
		if (repl == NULL) {
			prev = (unsigned char)*r;
			*w++ = *r++;
			continue;
		}
		/* Never longer than what it replaces, so in place is safe. */
		m = strlen(repl);
		memcpy(w, repl, m);
		w += m;
		prev = (unsigned char)r[skip - 1];
		r += skip;
		count++;
	}
	if (s != NULL)
		*w = '\0';
	return count;
}

long
fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

char *
read_file(const char *path, size_t max, size_t *len, char **cause)
{
	FILE *f;
	struct buf b;
	char chunk[8192];
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b);
	buf_append(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > max) {
			fclose(f);
			buf_free(&b);
			*cause = xasprintf("%s: file is larger than %zu bytes", path, max);
			return NULL;
		}
		buf_append(&b, chunk, n);
	}
	if (ferror(f)) {
		*cause = xasprintf("%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	*len = b.len;
	return buf_detach(&b);
}
