/*
 * pricing.h: the cost of a request from the pricing table (struct model_conf,
 * USD per million tokens; the defaults and their sources live in the config).
 * A model without a price is unpriced: its cost is unknown, reported as such,
 * never as free.
 */
#ifndef LLMDECK_PRICING_H
#define LLMDECK_PRICING_H

#include "config.h"
#include "llm.h"

/*
 * The cost in USD of usage on model. usage->input_tokens counts all input
 * tokens including cache_read_tokens (OpenAI's convention: prompt_tokens
 * includes cached_tokens); the cached part is charged at cache_read_per_mtok
 * (input price when that is < 0), the rest at input_per_mtok. A NULL model or
 * a negative input or output price: returns 0 and sets *unpriced to 1;
 * otherwise *unpriced is 0. unpriced may be NULL.
 */
double pricing_cost(const struct model_conf *, const struct llm_usage *, int *unpriced);

/*
 * The most a request can cost, reserved against the budget before dispatch:
 * estimated input tokens (pricing_input_estimate) at the input price plus
 * max_tokens (effective: 1024 when unset) at the output price. Unpriced: 0.
 */
double pricing_upper_bound(const struct model_conf *, const struct llm_request *);

/*
 * Input tokens estimated from the request: one token per 4
 * bytes of all text (system, messages, tools, stop sequences), rounded up,
 * plus 8 per message and 16 for the request.
 */
int64_t pricing_input_estimate(const struct llm_request *);

#endif
