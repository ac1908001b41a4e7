/*
 * utf8.h: strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Clients' bodies are validated (an invalid one is refused);
 * providers' answers are repaired (each bad sequence becomes U+FFFD).
 */
#ifndef LLMDECK_UTF8_H
#define LLMDECK_UTF8_H

#include <stddef.h>

/* Is s[0..len) valid UTF-8? If not and bad is not NULL, *bad is the offset
 * of the first byte of the first invalid sequence. */
int utf8_valid(const char *s, size_t len, size_t *bad);

/* s[0..len) with every invalid sequence replaced by U+FFFD (the "maximal
 * subpart" rule, as browsers and ICU do), NUL-terminated, its length in *outlen
 * (may be NULL); caller frees. *replaced (may be NULL): how many were. */
char *utf8_repair(const char *s, size_t len, size_t *outlen, size_t *replaced);

#endif
