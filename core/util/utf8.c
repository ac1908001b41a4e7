/*
 * utf8.c: strict UTF-8 validation and repair (utf8.h). One decoder, the
 * Unicode standard's table 3-7 of well-formed byte sequences: the second
 * byte's range depends on the first (E0: A0..BF, ED: 80..9F, F0: 90..BF,
 * F4: 80..8F), which is what rules out overlong forms and surrogates.
 */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "util/utf8.h"

/*
 * The length of the well-formed sequence at s (len bytes left), or 0 if it
 * is not one; then *sub is the length of its maximal subpart (the bytes one
 * U+FFFD replaces: at least 1).
 */
static size_t
utf8_seq(const unsigned char *s, size_t len, size_t *sub)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	*sub = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (i = 1; i < n; i++) {
		if (i >= len)
			return 0;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
		*sub = i + 1;
	}
	return n;
}

int
utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, sub;

	while (i < len) {
		/* ASCII runs, the common case, a byte at a time without the decoder. */
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(p + i, len - i, &sub)) == 0) {
			if (bad != NULL)
				*bad = i;
			return 0;
		}
		i += n;
	}
	return 1;
}

char *
utf8_repair(const char *s, size_t len, size_t *outlen, size_t *replaced)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;
	size_t i = 0, n, sub, count = 0;

	buf_init(&b);
	while (i < len) {
		if ((n = utf8_seq(p + i, len - i, &sub)) != 0) {
			buf_append(&b, s + i, n);
			i += n;
			continue;
		}
		buf_append(&b, "\xEF\xBF\xBD", 3);
		count++;
		i += sub;
	}
	if (outlen != NULL)
		*outlen = b.len;
	if (replaced != NULL)
		*replaced = count;
	if (b.data == NULL)
		return xstrdup("");
	return buf_detach(&b);
}
