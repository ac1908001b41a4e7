/* pricing.c: cost from usage, and the upper bound reserved before dispatch. */
#include "pricing.h"

#include <string.h>

#define PRICING_PER_MESSAGE 8
#define PRICING_PER_REQUEST 16

static int
pricing_unpriced(const struct model_conf *m)
{
	return m == NULL || m->input_per_mtok < 0 || m->output_per_mtok < 0;
}

double
pricing_cost(const struct model_conf *m, const struct llm_usage *u, int *unpriced)
{
	double cached_price;
	int64_t cached, fresh;

	if (unpriced != NULL)
		*unpriced = pricing_unpriced(m);
	if (pricing_unpriced(m) || u == NULL)
		return 0;
	cached_price = m->cache_read_per_mtok >= 0 ? m->cache_read_per_mtok : m->input_per_mtok;
	cached = u->cache_read_tokens > 0 ? u->cache_read_tokens : 0;
	if (cached > u->input_tokens)
		cached = u->input_tokens > 0 ? u->input_tokens : 0;
	fresh = u->input_tokens - cached;
	if (fresh < 0)
		fresh = 0;
	return ((double)fresh * m->input_per_mtok + (double)cached * cached_price +
	           (double)(u->output_tokens > 0 ? u->output_tokens : 0) * m->output_per_mtok) /
	    1e6;
}

static size_t
pricing_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

int64_t
pricing_input_estimate(const struct llm_request *r)
{
	size_t bytes = pricing_len(r->system) + pricing_len(r->tools_json);

	for (size_t i = 0; i < r->n_messages; i++)
		bytes += pricing_len(r->messages[i].content);
	for (size_t i = 0; i < r->n_stop; i++)
		bytes += pricing_len(r->stop[i]);
	return (int64_t)((bytes + 3) / 4) + (int64_t)r->n_messages * PRICING_PER_MESSAGE +
	    PRICING_PER_REQUEST;
}

double
pricing_upper_bound(const struct model_conf *m, const struct llm_request *r)
{
	if (pricing_unpriced(m) || r == NULL)
		return 0;
	return ((double)pricing_input_estimate(r) * m->input_per_mtok +
	           (double)llm_request_max_tokens(r) * m->output_per_mtok) /
	    1e6;
}
