/*
 * router_op.c: the operations beside chat, one const table each
 * (router_priv.h's struct rt_op_kind). Each reaches the provider's own
 * table for it (adapter_embed.h): which providers speak the operation, what
 * they refuse, the request on the wire and the answer. Everything else
 * (selection, breaker, rate limits, retries, failover, hedging, cancel,
 * events, metrics, ledger, budget) is the chat path's, in router.c.
 */
#include <stdlib.h>
#include <string.h>

#include "router/router_priv.h"

/* ---- embeddings ---- */

static int
embed_serves(const struct provider_conf *conf)
{
	return adapter_embed_for(conf) != NULL;
}

static int
embed_check(const struct rreq *q, const struct provider *p, struct llm_error *why)
{
	return adapter_embed_for(p->conf)->check(p->conf, &q->embed, why);
}

static int
embed_build(const struct rreq *q, const struct provider *p, const char *alias,
    struct adapter_http *out, char **cause)
{
	return adapter_embed_for(p->conf)->build(p->conf, rt_model_id_for(q->r, alias), &q->embed,
	    out, cause);
}

static int
embed_parse(struct attempt *a, const char *body, size_t len, struct llm_error *err)
{
	const struct provider_conf *conf = a->q->r->providers[a->idx].conf;

	if (adapter_embed_for(conf)->parse(body, len, a->q->n_inputs, &a->embed, err) != 0)
		return -1;
	a->acc.usage.input_tokens = a->embed.input_tokens;
	return 0;
}

/* The inputs' JSON, four bytes a token, and a little for each input. */
static int64_t
embed_input_estimate(const struct rreq *q)
{
	return (int64_t)(strlen(q->embed.input) + 3) / 4 + 16 * (int64_t)q->n_inputs;
}

static const struct rt_op_kind op_embeddings = {
    .op = ROUTER_OP_EMBEDDINGS,
    .name = "embeddings",
    .unserved = "an embeddings API (OpenAI, Azure, Mistral, vLLM, llama.cpp and Ollama have)",
    .spends = 1,
    .serves = embed_serves,
    .check = embed_check,
    .build = embed_build,
    .parse = embed_parse,
    .input_estimate = embed_input_estimate,
};

/* ---- count_tokens ---- */

static int
count_serves(const struct provider_conf *conf)
{
	return adapter_count_for(conf) != NULL;
}

static int
count_check(const struct rreq *q, const struct provider *p, struct llm_error *why)
{
	(void)q;
	(void)p;
	llm_error_clear(why);
	return 0;
}

static int
count_build(const struct rreq *q, const struct provider *p, const char *alias,
    struct adapter_http *out, char **cause)
{
	return adapter_count_for(p->conf)->build(p->conf, config_model(q->r->cfg, alias),
	    rt_model_id_for(q->r, alias), &q->req, out, cause);
}

static int
count_parse(struct attempt *a, const char *body, size_t len, struct llm_error *err)
{
	const struct provider_conf *conf = a->q->r->providers[a->idx].conf;

	return adapter_count_for(conf)->parse(body, len, &a->counted_tokens, err);
}

/* Counting runs no model: nothing for the token limits. */
static int64_t
count_input_estimate(const struct rreq *q)
{
	(void)q;
	return 0;
}

static const struct rt_op_kind op_count_tokens = {
    .op = ROUTER_OP_COUNT_TOKENS,
    .name = "count_tokens",
    .unserved = "a count_tokens API (Anthropic has)",
    .spends = 0,
    .serves = count_serves,
    .check = count_check,
    .build = count_build,
    .parse = count_parse,
    .input_estimate = count_input_estimate,
};

const struct rt_op_kind *
rt_op_kind(enum router_op op)
{
	switch (op) {
	case ROUTER_OP_EMBEDDINGS: return &op_embeddings;
	case ROUTER_OP_COUNT_TOKENS: return &op_count_tokens;
	case ROUTER_OP_CHAT: break;
	}
	return NULL;
}
