/*
 * config_limits.h: the ranges an operator may give a provider's priority and
 * weight, in the config file, through the router's operator calls, in the
 * console and through the admin API. One definition, so a value one of them
 * accepts (a configured priority of 5000, say) the others accept too. Both ends
 * are inclusive.
 */
#ifndef LLMDECK_CONFIG_LIMITS_H
#define LLMDECK_CONFIG_LIMITS_H

#include <limits.h>

/* Lower is preferred; the whole non-negative int range, as the config file always allowed. */
#define LIMIT_PRIORITY_MIN 0
#define LIMIT_PRIORITY_MAX INT_MAX

/* A share within a priority: relative, so only its ratio to the others matters; bounded so
 * that a sum of weights stays finite and a weight never rounds to nothing. */
#define LIMIT_WEIGHT_MIN 0.001
#define LIMIT_WEIGHT_MAX 1000.0

/* A model's max_output_tokens and an Ollama provider's num_ctx: positive, and far above any
 * model's today, yet small enough for an int and for the budget's arithmetic. */
#define LIMIT_MAX_OUTPUT_TOKENS 100000000
#define LIMIT_NUM_CTX_MAX 100000000

/* A provider or route name is 1 to LIMIT_NAME_LEN characters, a model alias 1 to
 * LIMIT_ALIAS_LEN: the config's checks and every fixed array that holds one (sized
 * LIMIT_NAME_SIZE / LIMIT_ALIAS_SIZE, the terminating NUL included) use these, so a
 * name the config accepts is never cut short where it is kept. */
#define LIMIT_NAME_LEN 64
#define LIMIT_NAME_SIZE (LIMIT_NAME_LEN + 1)
#define LIMIT_ALIAS_LEN 128
#define LIMIT_ALIAS_SIZE (LIMIT_ALIAS_LEN + 1)

#endif
