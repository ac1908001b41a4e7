/*
 * fuzz_key_header.c: which secret a client presents (gw_key_presented, from
 * the Authorization and x-api-key headers) and the seed's hints
 * (gw_hint_check). The input is the Authorization header's value, a NUL
 * byte, then x-api-key's (no NUL: no x-api-key; an empty input: neither).
 * Properties: a secret found lies inside the header it came from, with no
 * blank at either end; Authorization wins when it says Bearer; nothing is
 * found when neither header gives one; a hint taken is one of its values.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gateway/gateway_priv.h"

static int
inside(const char *s, const char *h)
{
	return h != NULL && s >= h && s <= h + strlen(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = xmalloc(size + 2), *auth = NULL, *xkey = NULL, *nul;
	const char *secret;
	size_t len;
	int found, bearer;

	memcpy(in, data, size);
	in[size] = in[size + 1] = '\0';
	if (size > 0) {
		auth = in;
		nul = memchr(in, '\0', size);
		if (nul != NULL && (size_t)(nul - in) < size)
			xkey = nul + 1;
	}
	found = gw_key_presented(auth, xkey, &secret, &len);
	bearer = auth != NULL && strncasecmp(auth, "Bearer", 6) == 0 &&
	    (auth[6] == ' ' || auth[6] == '\t');
	fuzz_refused = !found;
	if (!found) {
		FUZZ_CHECK(!bearer && xkey == NULL);
		FUZZ_CHECK(secret == NULL && len == 0);
	} else {
		FUZZ_CHECK(bearer ? inside(secret, auth) : inside(secret, xkey));
		FUZZ_CHECK(len <= strlen(secret));
		if (len > 0) {
			FUZZ_CHECK(secret[0] != ' ' && secret[0] != '\t');
			FUZZ_CHECK(secret[len - 1] != ' ' && secret[len - 1] != '\t');
		}
	}
	if (auth != NULL && gw_hint_check("x-llmdeck-quality", auth) == 0)
		FUZZ_CHECK(strcmp(auth, "high") == 0 || strcmp(auth, "standard") == 0 ||
		    strcmp(auth, "low") == 0);
	if (auth != NULL && gw_hint_check("x-llmdeck-complexity", auth) == 0)
		FUZZ_CHECK(strcmp(auth, "complex") == 0 || strcmp(auth, "simple") == 0);
	free(in);
	return 0;
}
