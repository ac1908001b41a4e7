/* fuzz_gw_openai.c: the gateway's OpenAI Chat Completions request parser (see gateway_check.c). */
#include "fuzz.h"
#include "gateway/gateway_priv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_gateway(gw_parse_openai, GW_OPENAI, data, size);
	return 0;
}
