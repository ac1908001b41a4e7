/*
 * fuzz.h: what the libFuzzer harnesses in tests/fuzz share. Each fuzz_NAME.c
 * defines LLVMFuzzerTestOneInput for one parser; `make fuzz` links it with
 * libFuzzer, and `make test` links it with replay.c, which runs every file of
 * tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME through it.
 *
 * A harness checks properties, not only the absence of crashes: a property
 * that does not hold calls fuzz_fail(), which aborts (libFuzzer saves the
 * input as a crash; the replay fails).
 */
#ifndef LLMDECK_FUZZ_H
#define LLMDECK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Set by the harness to 1 when the parser under test refused the input (an
 * error return), 0 when it took it. The replay checks regress files by name:
 * NAME.reject must be refused, NAME.accept taken.
 */
extern int fuzz_refused;

void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

/* A NUL-terminated copy of the input (caller frees). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* What every refusal message must be: terminated within cap, non-empty, one line. */
void fuzz_check_message(const char *msg, size_t cap);

/*
 * How a stream is cut into chunks, read from the head of the input: byte 0's
 * low four bits give n, the next n bytes the chunk sizes (each byte + 1), used
 * in turn. n = 0: one chunk. The rest of the input is the stream.
 */
struct fuzz_chunks {
	const uint8_t *sizes;
	size_t n;
	size_t next;
};
void fuzz_chunks_take(struct fuzz_chunks *, const uint8_t **data, size_t *size);
/* The next chunk's length for left bytes still to feed (1..left). */
size_t fuzz_chunks_next(struct fuzz_chunks *, size_t left);

/*
 * The gateway harnesses (gateway_check.c): parse is gw_parse_openai,
 * gw_parse_anthropic or gw_parse_responses, api the matching enum gw_api.
 */
struct llm_request;
struct gw_ask;
struct gw_bad;
typedef int (*fuzz_gw_parse)(const char *, size_t, struct llm_request *, struct gw_ask *,
    struct gw_bad *);
void fuzz_gateway(fuzz_gw_parse parse, int api, const uint8_t *data, size_t size);

#endif
