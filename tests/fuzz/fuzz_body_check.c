/*
 * fuzz_body_check.c: what the gateway checks of a client's body before any
 * parse (gw_body_check): strict UTF-8 (util/utf8.c) and the walker that finds
 * the path of a string holding \u0000 or a bad byte (gw_json_nul_path). The
 * input is the body. Properties: repair always gives valid UTF-8 and leaves
 * valid input unchanged; a body refused names a field that is one line, or
 * none; a NUL found means the input holds the escape; a body taken is UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "gateway/gateway_priv.h"
#include "gateway/gateway_wire.h"
#include "util/utf8.h"
#include "util/util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char path[GW_PATH], *fixed;
	size_t bad = 0, fixed_len, replaced;
	struct gw_bad why;
	int valid = utf8_valid(s, size, &bad);

	FUZZ_CHECK(valid || bad < size);
	fixed = utf8_repair(s, size, &fixed_len, &replaced);
	FUZZ_CHECK(utf8_valid(fixed, fixed_len, NULL));
	FUZZ_CHECK(fixed[fixed_len] == '\0');
	FUZZ_CHECK(valid == (replaced == 0));
	if (valid)
		FUZZ_CHECK(fixed_len == size && memcmp(fixed, s, size) == 0);
	free(fixed);

	if (gw_json_nul_path(s, size, path, sizeof path)) {
		FUZZ_CHECK(memmem(s, size, "\\u0000", 6) != NULL);
		FUZZ_CHECK(strlen(path) < sizeof path);
	}
	memset(&why, 0, sizeof why);
	fuzz_refused = gw_body_check(s, size, &why) != 0;
	if (fuzz_refused) {
		fuzz_check_message(why.message, sizeof why.message);
		FUZZ_CHECK(strlen(why.param) < sizeof why.param);
	} else {
		FUZZ_CHECK(valid);
	}
	return 0;
}
