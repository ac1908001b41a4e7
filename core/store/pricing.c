/* pricing.c: cost from usage, and the upper bound reserved before dispatch. */
#include "store/pricing.h"

#include <string.h>

#define PRICING_PER_MESSAGE 8
#define PRICING_PER_REQUEST 16

static int
pricing_unpriced(const struct model_conf *m)
{
	return m == NULL || m->input_per_mtok < 0 || m->output_per_mtok < 0;
}

/* A rate, or the fallback when it is not set (< 0). */
static double
pricing_rate(double rate, double fallback)
{
	return rate >= 0 ? rate : fallback;
}

static int64_t
pricing_clamp(int64_t n, int64_t max)
{
	if (n < 0)
		return 0;
	return n > max ? max : n;
}

double
pricing_cost(const struct model_conf *m, const struct llm_usage *u, int *unpriced)
{
	double read_price, write_price, write_1h_price;
	int64_t input, cached, written, written_1h, fresh;

	if (unpriced != NULL)
		*unpriced = pricing_unpriced(m);
	if (pricing_unpriced(m) || u == NULL)
		return 0;
	read_price = pricing_rate(m->cache_read_per_mtok, m->input_per_mtok);
	write_price = pricing_rate(m->cache_write_per_mtok, m->input_per_mtok);
	write_1h_price = pricing_rate(m->cache_write_1h_per_mtok, write_price);
	/* Each part no larger than what is left of the input: a provider's odd counts
	 * never price negative nor above what was sent. */
	input = u->input_tokens > 0 ? u->input_tokens : 0;
	cached = pricing_clamp(u->cache_read_tokens, input);
	written = pricing_clamp(u->cache_write_tokens, input - cached);
	written_1h = pricing_clamp(u->cache_write_1h_tokens, written);
	fresh = input - cached - written;
	return ((double)fresh * m->input_per_mtok + (double)cached * read_price +
	           (double)(written - written_1h) * write_price +
	           (double)written_1h * write_1h_price +
	           (double)(u->output_tokens > 0 ? u->output_tokens : 0) * m->output_per_mtok) /
	    1e6;
}

static size_t
pricing_len(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Bytes of text in parts (recursively: a tool result's content) and their images. */
static void
pricing_parts(const struct llm_part *parts, size_t n, size_t *bytes, int64_t *images)
{
	for (size_t i = 0; i < n; i++) {
		const struct llm_part *p = &parts[i];

		if (p->type == LLM_PART_IMAGE) {
			(*images)++;
			continue;
		}
		/* Redacted thinking is opaque data, not tokens: counted like text all the same
		 * (an upper bound). */
		*bytes += pricing_len(p->text) + pricing_len(p->name) + pricing_len(p->arguments) +
		    pricing_len(p->id) + pricing_len(p->data);
		pricing_parts(p->parts, p->n_parts, bytes, images);
	}
}

int64_t
pricing_input_estimate(const struct llm_request *r)
{
	size_t bytes = pricing_len(r->system);
	int64_t images = 0;

	for (size_t i = 0; i < r->n_messages; i++)
		pricing_parts(r->messages[i].parts, r->messages[i].n_parts, &bytes, &images);
	for (size_t i = 0; i < r->n_tools; i++)
		bytes += pricing_len(r->tools[i].name) + pricing_len(r->tools[i].description) +
		    pricing_len(r->tools[i].parameters);
	bytes += pricing_len(r->response_format.schema);
	for (size_t i = 0; i < r->n_stop; i++)
		bytes += pricing_len(r->stop[i]);
	return (int64_t)((bytes + 3) / 4) + (int64_t)r->n_messages * PRICING_PER_MESSAGE +
	    images * PRICING_PER_IMAGE + PRICING_PER_REQUEST;
}

int64_t
pricing_max_output(const struct model_conf *m, const struct llm_request *r)
{
	if (r != NULL && r->max_tokens > 0)
		return r->max_tokens;
	if (m != NULL && m->max_output_tokens > 0)
		return m->max_output_tokens;
	return LLM_MAX_OUTPUT_FALLBACK;
}

static int
pricing_parts_cache(const struct llm_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (parts[i].cache != LLM_CACHE_NONE ||
		    pricing_parts_cache(parts[i].parts, parts[i].n_parts))
			return 1;
	return 0;
}

/* Does the request ask for a prompt-cache write anywhere? */
static int
pricing_cache_marks(const struct llm_request *r)
{
	if (r->system_cache != LLM_CACHE_NONE)
		return 1;
	for (size_t i = 0; i < r->n_tools; i++)
		if (r->tools[i].cache != LLM_CACHE_NONE)
			return 1;
	for (size_t i = 0; i < r->n_messages; i++)
		if (pricing_parts_cache(r->messages[i].parts, r->messages[i].n_parts))
			return 1;
	return 0;
}

double
pricing_upper_bound(const struct model_conf *m, const struct llm_request *r)
{
	double in;

	if (pricing_unpriced(m) || r == NULL)
		return 0;
	in = m->input_per_mtok;
	/* Only a request with cache breakpoints can write to the prompt cache. */
	if (pricing_cache_marks(r)) {
		if (m->cache_write_per_mtok > in)
			in = m->cache_write_per_mtok;
		if (m->cache_write_1h_per_mtok > in)
			in = m->cache_write_1h_per_mtok;
	}
	return ((double)pricing_input_estimate(r) * in +
	           (double)pricing_max_output(m, r) * m->output_per_mtok) /
	    1e6;
}
