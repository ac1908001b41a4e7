/* harness.c: what every harness shares (see fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int fuzz_refused;

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	abort();
}

char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);

	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

void
fuzz_check_message(const char *msg, size_t cap)
{
	FUZZ_CHECK(msg != NULL);
	FUZZ_CHECK(memchr(msg, '\0', cap) != NULL);
	FUZZ_CHECK(msg[0] != '\0');
	FUZZ_CHECK(strchr(msg, '\n') == NULL);
}

void
fuzz_chunks_take(struct fuzz_chunks *c, const uint8_t **data, size_t *size)
{
	size_t n = *size > 0 ? (*data)[0] & 15 : 0;

	memset(c, 0, sizeof *c);
	if (*size == 0)
		return;
	if (n > *size - 1)
		n = *size - 1;
	c->sizes = *data + 1;
	c->n = n;
	*data += 1 + n;
	*size -= 1 + n;
}

size_t
fuzz_chunks_next(struct fuzz_chunks *c, size_t left)
{
	size_t len;

	if (c->n == 0)
		return left;
	len = (size_t)c->sizes[c->next++ % c->n] + 1;
	return len < left ? len : left;
}
