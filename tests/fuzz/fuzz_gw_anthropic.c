/* fuzz_gw_anthropic.c: the gateway's Anthropic Messages request parser (see gateway_check.c). */
#include "fuzz.h"
#include "gateway/gateway_priv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_gateway(gw_parse_anthropic, GW_ANTHROPIC, data, size);
	return 0;
}
