/*
 * fuzz_response.c: every adapter's parser of a whole (2xx, non-streamed)
 * answer: Anthropic, OpenAI (and its flavours, which share the parser) and
 * Azure. Taken: there is content and no token count is negative. Refused:
 * LLM_ERR_MALFORMED with a one-line message. fuzz_refused is 1 when every
 * adapter refused the input.
 */
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "util/util.h"

static const struct adapter *const adapters[] = {
    &adapter_anthropic, &adapter_openai, &adapter_azure};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llm_response out;
	struct llm_error err;
	int refused = 0;

	for (size_t i = 0; i < nitems(adapters); i++) {
		llm_response_init(&out);
		if (adapters[i]->parse_response((const char *)data, size, &out, &err) == 0) {
			FUZZ_CHECK(out.content != NULL);
			FUZZ_CHECK(out.stop >= LLM_STOP_NONE && out.stop <= LLM_STOP_OTHER);
			FUZZ_CHECK(out.usage.input_tokens >= 0 && out.usage.output_tokens >= 0);
			FUZZ_CHECK(out.usage.cache_read_tokens >= 0 &&
			    out.usage.cache_write_tokens >= 0);
		} else {
			FUZZ_CHECK(err.cls == LLM_ERR_MALFORMED);
			fuzz_check_message(err.message, sizeof err.message);
			FUZZ_CHECK(memchr(err.type, '\0', sizeof err.type) != NULL);
			refused++;
		}
		llm_response_free(&out);
	}
	fuzz_refused = refused == (int)nitems(adapters);
	return 0;
}
