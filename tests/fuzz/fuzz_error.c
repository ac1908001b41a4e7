/*
 * fuzz_error.c: every adapter's classifier of a non-2xx answer: status,
 * headers (retry-after, retry-after-ms, x-should-retry, request ids) and body.
 * Input: two bytes of status (big-endian, modulo 1000), then header lines
 * "name: value" up to an empty line, then the body. The verdict must be a
 * real error class with a one-line message, the status kept, a retry delay
 * of -1 or more, and a class the router must not retry never retryable.
 */
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "provider/http.h"
#include "util/util.h"

static const struct adapter *const adapters[] = {
    &adapter_anthropic, &adapter_openai, &adapter_azure};

/* Header lines up to the first empty line (or the end) into h; returns the bytes used. */
static size_t
read_headers(const char *s, size_t len, struct http_headers *h)
{
	size_t at = 0;

	while (at < len) {
		const char *line = s + at, *nl = memchr(line, '\n', len - at), *colon;
		size_t n = nl != NULL ? (size_t)(nl - line) : len - at;
		char *name, *value;

		at += n + (nl != NULL);
		if (n == 0)
			break;
		if ((colon = memchr(line, ':', n)) == NULL)
			continue;
		name = xstrndup(line, (size_t)(colon - line));
		value = xstrndup(colon + 1, n - (size_t)(colon - line) - 1);
		http_headers_add(h, name, value[0] == ' ' ? value + 1 : value);
		free(name);
		free(value);
	}
	return at;
}

/* The first request id header's value, as the adapters should read it. */
static const char *
request_id(const struct http_headers *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, "request-id") == 0 ||
		    strcmp(h->v[i].name, "x-request-id") == 0 ||
		    strcmp(h->v[i].name, "apim-request-id") == 0)
			return h->v[i].value;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_headers h = {0};
	struct llm_error err;
	struct llm_response resp;
	const char *body;
	size_t used, len;
	int status;

	if (size < 2) {
		fuzz_refused = 0;
		return 0;
	}
	status = ((data[0] << 8) | data[1]) % 1000;
	used = read_headers((const char *)data + 2, size - 2, &h);
	body = (const char *)data + 2 + used;
	len = size - 2 - used;
	for (size_t i = 0; i < nitems(adapters); i++) {
		memset(&err, 0x5a, sizeof err);
		adapters[i]->classify_error(status, &h, body, len, &err);
		FUZZ_CHECK(err.cls > LLM_OK && err.cls < LLM_ERR__COUNT);
		FUZZ_CHECK(err.status == status);
		FUZZ_CHECK(err.retry_after_ms >= -1);
		FUZZ_CHECK(err.should_retry >= -1 && err.should_retry <= 1);
		FUZZ_CHECK(err.retryable == 0 || err.retryable == 1);
		FUZZ_CHECK(!err.retryable || llm_errclass_retryable(err.cls));
		FUZZ_CHECK(memchr(err.type, '\0', sizeof err.type) != NULL);
		fuzz_check_message(err.message, sizeof err.message);
	}
	llm_response_init(&resp);
	adapter_read_request_id(&h, &resp);
	FUZZ_CHECK((resp.request_id != NULL) == (request_id(&h) != NULL));
	FUZZ_CHECK(resp.request_id == NULL || strcmp(resp.request_id, request_id(&h)) == 0);
	llm_response_free(&resp);
	http_headers_free(&h);
	fuzz_refused = 0;
	return 0;
}
