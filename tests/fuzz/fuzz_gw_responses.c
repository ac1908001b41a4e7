/* fuzz_gw_responses.c: the gateway's OpenAI Responses request parser (see gateway_check.c). */
#include "fuzz.h"
#include "gateway/gateway_priv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_gateway(gw_parse_responses, GW_RESPONSES, data, size);
	return 0;
}
