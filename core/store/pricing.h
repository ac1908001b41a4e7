/*
 * pricing.h: the cost of a request from the pricing table (struct model_conf,
 * USD per million tokens; the defaults and their sources live in the config).
 * A model without a price is unpriced: its cost is unknown, reported as such,
 * never as free.
 */
#ifndef LLMDECK_PRICING_H
#define LLMDECK_PRICING_H

#include "config/config.h"
#include "provider/llm.h"

/*
 * The cost in USD of usage on model. usage->input_tokens counts all input
 * tokens including cache reads and writes (OpenAI's convention: prompt_tokens
 * includes cached_tokens); cache reads are charged at cache_read_per_mtok,
 * 5-minute cache writes at cache_write_per_mtok and 1-hour ones at
 * cache_write_1h_per_mtok (each: the input price when < 0; the 1-hour rate
 * falls back to the 5-minute one), the rest at input_per_mtok. Output tokens,
 * reasoning included, at output_per_mtok. A NULL model or a negative input or
 * output price: returns 0 and sets *unpriced to 1; otherwise *unpriced is 0.
 * unpriced may be NULL.
 */
double pricing_cost(const struct model_conf *, const struct llm_usage *, int *unpriced);

/*
 * The most a request can cost, reserved against the budget before dispatch:
 * estimated input tokens (pricing_input_estimate) at the dearest input rate
 * (a cache write may cost more than a plain input token) plus
 * pricing_max_output at the output price. Unpriced: 0.
 */
double pricing_upper_bound(const struct model_conf *, const struct llm_request *);

/*
 * The output tokens a request may use on model m (NULL: not configured): its
 * max_tokens, else the model's max_output_tokens, else LLM_MAX_OUTPUT_FALLBACK.
 * The budget's reservation and the rate limiter's estimate both use it.
 */
int64_t pricing_max_output(const struct model_conf *m, const struct llm_request *);

/*
 * Input tokens estimated from the request: one token per 4 bytes of all text
 * (system, message parts, tool calls and results, tools and their schemas,
 * the response format's schema, stop sequences), rounded up, plus 8 per
 * message, PRICING_PER_IMAGE per image (Anthropic's documented ceiling for an
 * image it does not scale down, ~1600) and 16 for the request.
 */
#define PRICING_PER_IMAGE 1600
int64_t pricing_input_estimate(const struct llm_request *);

#endif
