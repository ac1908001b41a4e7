/*
 * gateway_embed.c: the two endpoints that are not chat.
 *
 * POST /v1/embeddings (OpenAI's shape): the model names an alias (or a
 * route); the providers whose models list it and whose kind has an
 * embeddings API (adapter_embed.h) are tried in the router's order (usable
 * ones by priority, then weight), failing over on what chat fails over on;
 * the usage is priced and ledgered, and the day's budget checked, as for
 * chat. Vectors come back as floats or, as the openai client asks by default,
 * base64 of little-endian float32.
 *
 * POST /v1/messages/count_tokens (Anthropic's shape): forwarded to an
 * Anthropic provider serving the model; when none does, or it cannot answer
 * (a 404 or 5xx, no connection), the gateway's own estimate (pricing.h's),
 * labelled with the header x-llmdeck-estimate: true.
 *
 * Both answer through a callback, exactly once: at once for a refusal, else
 * on the router's HTTP engine thread (or the ledger's writer, after the row
 * is committed).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_embed.h"
#include "budget.h"
#include "gateway_wire.h"
#include "ledger.h"
#include "pricing.h"
#include "store.h"

#define EMBED_INPUTS_MAX 2048
#define EMBED_MAX_CANDIDATES 32

void
gw_answer_free(struct gw_answer *a)
{
	if (a == NULL)
		return;
	free(a->body);
	free(a);
}

static struct gw_answer *
answer_new(void)
{
	struct gw_answer *a = xcalloc(1, sizeof *a);

	a->retry_after_s = -1;
	return a;
}

static struct gw_answer *
answer_error(enum gw_api api, int status, enum llm_errclass cls, const char *message,
    const char *param)
{
	struct gw_answer *a = answer_new();

	a->status = status;
	a->cls = cls;
	a->body = gw_error_body(api, status, cls, message, param);
	if (cls == LLM_ERR_RATE_LIMIT || cls == LLM_ERR_NO_PROVIDER || cls == LLM_ERR_OVERLOADED)
		a->retry_after_s = 1;
	return a;
}

/* ---- candidates: the router's order ---- */

struct candidate {
	const struct provider_conf *conf;
	const char *alias;
	int priority;
	double weight;
};

static int
candidate_cmp(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return 0;
}

/* The provider's own copy of alias (the config outlives the request), or NULL. */
static const char *
serves(const struct provider_conf *p, const char *alias)
{
	for (size_t j = 0; j < p->n_models; j++)
		if (strcmp(p->models[j], alias) == 0)
			return p->models[j];
	return NULL;
}

/*
 * The providers to try for req (a model alias or a route), usable now, in
 * the order the router would pick them; keep(conf) filters by kind. Returns
 * how many; *known says how many would have served it if usable.
 */
static size_t
candidates(struct router *r, const struct llm_request *req,
    int (*keep)(const struct provider_conf *), struct candidate *out, size_t max, size_t *known)
{
	const struct config *cfg = router_config(r);
	const struct route_conf *route = req->route != NULL ? config_route(cfg, req->route) : NULL;
	struct router_snapshot s;
	size_t n = 0;

	*known = 0;
	memset(&s, 0, sizeof s);
	router_snapshot(r, &s);
	for (size_t i = 0; i < cfg->n_providers && n < max; i++) {
		const struct provider_conf *p = &cfg->providers[i];
		const char *alias = req->model;
		int rank = 0;

		if (route != NULL) {
			if (route->primary != NULL && strcmp(route->primary, p->name) == 0)
				rank = 0;
			else {
				rank = -1;
				for (size_t k = 0; k < route->n_fallback; k++)
					if (strcmp(route->fallback[k], p->name) == 0)
						rank = (int)k + 1;
				if (rank < 0)
					continue;
			}
			alias = route->model != NULL ? route->model
			                             : (p->n_models > 0 ? p->models[0] : NULL);
		}
		if (alias == NULL || (alias = serves(p, alias)) == NULL || !keep(p))
			continue;
		(*known)++;
		for (size_t k = 0; k < s.n_providers; k++) {
			if (strcmp(s.providers[k].name, p->name) != 0 || !s.providers[k].usable)
				continue;
			out[n].conf = p;
			out[n].alias = alias;
			out[n].priority = route != NULL ? rank : s.providers[k].priority;
			out[n].weight = s.providers[k].weight;
			n++;
		}
	}
	router_snapshot_free(&s);
	qsort(out, n, sizeof *out, candidate_cmp);
	return n;
}

static const char *
model_id_of(const struct config *cfg, const char *alias)
{
	const struct model_conf *m = config_model(cfg, alias);

	return m != NULL && m->id != NULL ? m->id : alias;
}

/* ---- embeddings ---- */

struct embed_job {
	struct router *r;
	gw_answer_cb done;
	void *arg;
	char model[128]; /* as the client named it */
	char route[64];  /* the route it named, or "" */
	char *input;     /* JSON */
	size_t n_inputs;
	int64_t dimensions;
	char *user;
	int base64;
	struct candidate cand[EMBED_MAX_CANDIDATES];
	size_t n_cand, next;
	struct llm_error last;
	struct buf attempts;
	int n_attempts;
	uint64_t start_us;
	int64_t reservation;
	struct gw_answer *ans;
	struct embed_response resp;
	const struct candidate *winner;
};

static void
embed_job_free(struct embed_job *j)
{
	free(j->input);
	free(j->user);
	buf_free(&j->attempts);
	embed_response_free(&j->resp);
	free(j);
}

static void
embed_deliver(struct embed_job *j)
{
	struct gw_answer *a = j->ans;

	snprintf(a->attempts, sizeof a->attempts, "%d%s", j->n_attempts,
	    j->attempts.data != NULL ? j->attempts.data : "");
	j->done(j->arg, a);
	embed_job_free(j);
}

static void
embed_committed(void *arg, int rc)
{
	(void)rc;
	embed_deliver(arg);
}

/* Base64 of the vector as little-endian float32 (what encoding_format "base64" means). */
static void
vector_base64(struct buf *out, const struct embed_vector *v)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = v->n * 4;
	unsigned char *b = xmalloc(n + 1);

	for (size_t i = 0; i < v->n; i++) {
		float f = (float)v->v[i];
		uint32_t u;

		memcpy(&u, &f, 4);
		b[4 * i] = (unsigned char)u;
		b[4 * i + 1] = (unsigned char)(u >> 8);
		b[4 * i + 2] = (unsigned char)(u >> 16);
		b[4 * i + 3] = (unsigned char)(u >> 24);
	}
	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)b[i] << 16;
		char q[4];

		if (i + 1 < n)
			x |= (uint32_t)b[i + 1] << 8;
		if (i + 2 < n)
			x |= b[i + 2];
		q[0] = al[(x >> 18) & 63];
		q[1] = al[(x >> 12) & 63];
		q[2] = i + 1 < n ? al[(x >> 6) & 63] : '=';
		q[3] = i + 2 < n ? al[x & 63] : '=';
		buf_append(out, q, 4);
	}
	free(b);
}

static char *
embed_body(const struct embed_job *j)
{
	struct buf out;

	buf_init(&out);
	buf_puts(&out, "{\"object\":\"list\",\"data\":[");
	for (size_t i = 0; i < j->resp.n_vectors; i++) {
		const struct embed_vector *v = &j->resp.vectors[i];

		buf_printf(&out,
		    "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i > 0 ? "," : "",
		    i);
		if (j->base64) {
			buf_puts(&out, "\"");
			vector_base64(&out, v);
			buf_puts(&out, "\"");
		} else {
			buf_puts(&out, "[");
			for (size_t k = 0; k < v->n; k++)
				buf_printf(&out, "%s%.9g", k > 0 ? "," : "",
				    isfinite(v->v[k]) ? v->v[k] : 0.0);
			buf_puts(&out, "]");
		}
		buf_puts(&out, "}");
	}
	buf_puts(&out, "],\"model\":\"");
	gw_json_escape(&out, j->model, strlen(j->model));
	buf_printf(&out, "\",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
	    (long long)j->resp.input_tokens, (long long)j->resp.input_tokens);
	return buf_detach(&out);
}

/* The answer is in (or every candidate failed): price it, ledger it, deliver. */
static void
embed_finish(struct embed_job *j, int ok)
{
	const struct config *cfg = router_config(j->r);
	struct store *st = router_store(j->r);
	struct ledger_row row;
	struct llm_usage u;
	int unpriced = 0;
	double cost = 0;

	if (!ok) {
		int status = gw_error_status(j->last.cls);

		if (j->last.status == 400 || j->last.status == 422)
			status = 400;
		j->ans =
		    answer_error(GW_OPENAI, status, j->last.cls, j->last.message, j->last.param);
		if (st != NULL && j->reservation != 0)
			budget_release(st, j->reservation);
		embed_deliver(j);
		return;
	}
	memset(&u, 0, sizeof u);
	u.input_tokens = j->resp.input_tokens;
	cost = router_cost(cfg, j->winner->alias, &u, &unpriced);
	j->ans = answer_new();
	j->ans->status = 200;
	j->ans->body = embed_body(j);
	strlcpy_(j->ans->provider, j->winner->conf->name, sizeof j->ans->provider);
	if (unpriced)
		snprintf(j->ans->cost, sizeof j->ans->cost, "unpriced");
	else
		snprintf(j->ans->cost, sizeof j->ans->cost, "%.6f", cost);
	if (st == NULL) {
		embed_deliver(j);
		return;
	}
	memset(&row, 0, sizeof row);
	strlcpy_(row.route, j->route, sizeof row.route);
	strlcpy_(row.provider, j->winner->conf->name, sizeof row.provider);
	strlcpy_(row.model, j->winner->alias, sizeof row.model);
	row.input_tokens = u.input_tokens;
	row.cost_usd = cost;
	row.unpriced = unpriced;
	row.latency_us = clock_mono_us() - j->start_us;
	strlcpy_(row.outcome, "ok", sizeof row.outcome);
	row.attempts = j->n_attempts;
	ledger_record_async(st, &row, j->reservation, embed_committed, j);
}

static void embed_next(struct embed_job *j);

static void
embed_note(struct embed_job *j, const struct candidate *c, const char *how)
{
	buf_printf(&j->attempts, "%s%s:%s", j->n_attempts == 0 ? " " : ",", c->conf->name, how);
	j->n_attempts++;
}

struct embed_try {
	struct embed_job *j;
	const struct candidate *c;
};

static void
embed_http_done(void *arg, const struct http_result *res)
{
	struct embed_try *t = arg;
	struct embed_job *j = t->j;
	const struct candidate *c = t->c;
	const struct adapter *ad = adapter_for_provider(c->conf);

	free(t);
	llm_error_clear(&j->last);
	if (res->err == HTTP_ERR_ABORTED) {
		/* The engine is stopping (the router is being freed): no next provider. */
		llm_error_set(&j->last, LLM_ERR_CANCELLED, 0, "%s: %s", c->conf->name, res->errmsg);
		embed_note(j, c, llm_errclass_name(j->last.cls));
		embed_finish(j, 0);
		return;
	}
	if (res->err != HTTP_OK) {
		llm_error_set(&j->last,
		    res->err == HTTP_ERR_TIMEOUT ? LLM_ERR_TIMEOUT : LLM_ERR_CONNECT, 0, "%s: %s",
		    c->conf->name, res->errmsg);
	} else if (res->status < 200 || res->status > 299) {
		ad->classify_error(res->status, &res->headers, res->body, res->body_len, &j->last);
		j->last.status = res->status;
	} else if (adapter_embed_for(c->conf)->parse(res->body, res->body_len, j->n_inputs,
	               &j->resp, &j->last) == 0) {
		embed_note(j, c, "ok");
		j->winner = c;
		embed_finish(j, 1);
		return;
	}
	embed_note(j, c, llm_errclass_name(j->last.cls));
	/* The request itself is wrong: every provider would say so. */
	if (j->last.cls == LLM_ERR_BAD_REQUEST) {
		embed_finish(j, 0);
		return;
	}
	embed_next(j);
}

static void
embed_next(struct embed_job *j)
{
	while (j->next < j->n_cand) {
		const struct candidate *c = &j->cand[j->next++];
		const struct adapter_embed *ae = adapter_embed_for(c->conf);
		struct embed_request er = {j->input, j->dimensions, j->user};
		struct adapter_http http;
		struct http_request hr;
		struct embed_try *t;
		char *cause = NULL;

		if (ae->build(c->conf, model_id_of(router_config(j->r), c->alias), &er, &http,
		        &cause) != 0) {
			llm_error_set(&j->last, LLM_ERR_INTERNAL, 0, "%s", cause);
			free(cause);
			embed_note(j, c, "internal");
			continue;
		}
		memset(&hr, 0, sizeof hr);
		hr.method = http.method;
		hr.url = http.url;
		hr.headers = (const char *const *)http.headers;
		hr.n_headers = http.n_headers;
		hr.body = http.body;
		hr.body_len = http.body_len;
		hr.timeout_ms =
		    (int)(c->conf->timeout_seconds > 0 ? c->conf->timeout_seconds * 1000 : 60000);
		hr.ca_file = c->conf->ca_file;
		hr.insecure = !c->conf->tls_verify;
		hr.on_done = embed_http_done;
		t = xmalloc(sizeof *t);
		t->j = j;
		t->c = c;
		hr.arg = t;
		http_submit(router_engine(j->r), &hr);
		adapter_http_free(&http);
		return;
	}
	if (j->n_attempts == 0)
		llm_error_set(&j->last, LLM_ERR_NO_PROVIDER, 0,
		    "no provider serving %s can take embeddings now", j->model);
	embed_finish(j, 0);
}

static int
has_embeddings(const struct provider_conf *p)
{
	return p->enabled && adapter_embed_for(p) != NULL;
}

/* input: a non-empty string, or a non-empty array of them, of token ids, or of arrays of ids. */
static int
embed_inputs(const cJSON *in, size_t *n, struct gw_bad *bad)
{
	const cJSON *e;
	int ints = 0, others = 0;

	if (cJSON_IsString(in)) {
		*n = 1;
		return 0;
	}
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0 ||
	    cJSON_GetArraySize(in) > EMBED_INPUTS_MAX)
		return gw_bad_set(bad, "input",
		    "input: expected a string or a non-empty array (of strings, token ids or "
		    "arrays of token ids) of at most %d",
		    EMBED_INPUTS_MAX);
	cJSON_ArrayForEach(e, in)
	{
		const cJSON *t;

		if (cJSON_IsNumber(e)) {
			ints++;
			continue;
		}
		others++;
		if (cJSON_IsString(e))
			continue;
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
			return gw_bad_set(bad, "input",
			    "input[%d]: expected a string or an array of token ids", others - 1);
		cJSON_ArrayForEach(t, e)
		{
			if (!cJSON_IsNumber(t))
				return gw_bad_set(bad, "input",
				    "input: token ids must be integers");
		}
	}
	if (ints > 0 && others > 0)
		return gw_bad_set(bad, "input", "input: token ids and texts cannot be mixed");
	*n = ints > 0 ? 1 : (size_t)others;
	return 0;
}

/* Every field of the body is one the endpoint knows. */
static int
embed_known_fields(const cJSON *root, struct gw_bad *bad)
{
	static const char *const known[] = {
	    "model", "input", "encoding_format", "dimensions", "user", NULL};
	const cJSON *v;

	cJSON_ArrayForEach(v, root)
	{
		const char *const *k;

		for (k = known; *k != NULL && strcmp(*k, v->string) != 0; k++)
			;
		if (*k == NULL)
			return gw_bad_set(bad, v->string,
			    "%s: not supported by the embeddings endpoint", v->string);
	}
	return 0;
}

/* The options: encoding_format, dimensions, user. */
static int
embed_options(struct embed_job *j, const cJSON *root, struct llm_request *req, struct gw_bad *bad)
{
	struct gw_ask ask;
	struct gw_parse p;
	const cJSON *v;

	memset(&p, 0, sizeof p);
	p.bad = bad;
	p.ask = &ask;
	p.req = req;
	v = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "float") != 0 && strcmp(v->valuestring, "base64") != 0))
			return gw_bad_set(bad, "encoding_format",
			    "encoding_format: expected \"float\" or \"base64\"");
		j->base64 = strcmp(v->valuestring, "base64") == 0;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
	if (v != NULL && !cJSON_IsNull(v) &&
	    gw_want_int(&p, v, "dimensions", 1, 65536, &j->dimensions) != 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "user");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return gw_bad_set(bad, "user", "user: expected a string");
		j->user = xstrdup(v->valuestring);
	}
	return 0;
}

/* The body into the job (model, route, input) and req (the resolved model). 0, or -1 with bad. */
static int
embed_parse(struct embed_job *j, const cJSON *root, const struct config *cfg,
    struct llm_request *req, struct gw_bad *bad)
{
	const cJSON *v;

	if (!cJSON_IsObject(root))
		return gw_bad_set(bad, NULL, "the request body must be a JSON object");
	if (embed_known_fields(root, bad) != 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' ||
	    strlen(v->valuestring) >= sizeof j->model)
		return gw_bad_set(bad, "model", "model: required (a model alias or a route name)");
	strlcpy_(j->model, v->valuestring, sizeof j->model);
	if (gw_resolve_model(cfg, j->model, req, bad) != 0)
		return -1;
	if (req->route != NULL)
		strlcpy_(j->route, req->route, sizeof j->route);
	v = cJSON_GetObjectItemCaseSensitive(root, "input");
	if (v == NULL)
		return gw_bad_set(bad, "input", "input: required");
	if (embed_inputs(v, &j->n_inputs, bad) != 0)
		return -1;
	j->input = gw_json_text(v);
	return embed_options(j, root, req, bad);
}

/* The providers that can answer, in order; a provider that cannot take a field is
 * left out, and if that leaves none the field is refused. 0, or -1 with bad. */
static int
embed_pick(struct embed_job *j, const struct llm_request *req, struct gw_bad *bad)
{
	struct embed_request er;
	struct llm_error why;
	size_t known_n, k = 0;

	j->n_cand = candidates(j->r, req, has_embeddings, j->cand, nitems(j->cand), &known_n);
	if (known_n == 0)
		return gw_bad_set(bad, "model",
		    "model: no provider serving \"%s\" has an embeddings API (OpenAI, Azure, "
		    "Mistral, "
		    "vLLM, llama.cpp and Ollama have)",
		    j->model);
	er = (struct embed_request){j->input, j->dimensions, j->user};
	llm_error_clear(&why);
	for (size_t i = 0; i < j->n_cand; i++)
		if (adapter_embed_for(j->cand[i].conf)->check(j->cand[i].conf, &er, &why) == 0)
			j->cand[k++] = j->cand[i];
	if (k == 0 && j->n_cand > 0)
		return gw_bad_set(bad, why.param, "no provider for %s can honour %s: %s", j->model,
		    why.param[0] != '\0' ? why.param : "the request", why.message);
	j->n_cand = k;
	return 0;
}

/* Reserve the dearest candidate's cost against the daily budget: NULL, or the refusal. */
static struct gw_answer *
embed_reserve(struct embed_job *j, const struct config *cfg, struct store *st)
{
	struct gw_answer *a;
	struct llm_usage u;
	int unpriced = 0, rc;
	double most = 0;
	char *cause = NULL;

	if (st == NULL || !(cfg->budget.daily_usd > 0))
		return NULL;
	memset(&u, 0, sizeof u);
	u.input_tokens = (int64_t)(strlen(j->input) + 3) / 4 + 16;
	for (size_t i = 0; i < j->n_cand; i++) {
		double c = router_cost(cfg, j->cand[i].alias, &u, &unpriced);
		if (c > most)
			most = c;
	}
	rc = budget_reserve(st, &cfg->budget, most, &j->reservation, &cause);
	if (rc == 0)
		return NULL;
	a = answer_error(GW_OPENAI, rc == 1 ? 429 : 500,
	    rc == 1 ? LLM_ERR_BUDGET : LLM_ERR_INTERNAL,
	    cause != NULL ? cause : "budget check failed", NULL);
	free(cause);
	return a;
}

void
gw_embeddings(struct router *r, const char *body, size_t len, gw_answer_cb done, void *arg)
{
	const struct config *cfg = router_config(r);
	struct llm_request req;
	struct embed_job *j;
	struct gw_answer *a;
	struct gw_bad bad;
	cJSON *root;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	j = xcalloc(1, sizeof *j);
	buf_init(&j->attempts);
	j->r = r;
	j->done = done;
	j->arg = arg;
	j->start_us = clock_mono_us();
	root = cJSON_ParseWithLength(body, len);
	if (embed_parse(j, root, cfg, &req, &bad) != 0 || embed_pick(j, &req, &bad) != 0)
		a = answer_error(GW_OPENAI, 400, LLM_ERR_BAD_REQUEST, bad.message, bad.param);
	else
		a = embed_reserve(j, cfg, router_store(r));
	cJSON_Delete(root);
	llm_request_free(&req);
	if (a != NULL) {
		embed_job_free(j);
		done(arg, a);
		return;
	}
	embed_next(j);
}

/* ---- count_tokens ---- */

struct count_job {
	gw_answer_cb done;
	void *arg;
	int64_t estimate;
	char provider[64];
};

static struct gw_answer *
count_estimate(int64_t n)
{
	struct gw_answer *a = answer_new();

	a->status = 200;
	a->estimate = 1;
	a->body = xasprintf("{\"input_tokens\":%lld}", (long long)n);
	return a;
}

static void
count_http_done(void *arg, const struct http_result *res)
{
	struct count_job *j = arg;
	struct gw_answer *a = NULL;
	cJSON *root;
	int64_t n;

	if (res->err == HTTP_OK && res->status >= 200 && res->status <= 299) {
		root = cJSON_ParseWithLength(res->body, res->body_len);
		n = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "input_tokens"))
		    ? (int64_t)cJSON_GetObjectItemCaseSensitive(root, "input_tokens")->valuedouble
		    : -1;
		cJSON_Delete(root);
		if (n >= 0) {
			a = answer_new();
			a->status = 200;
			a->body = xasprintf("{\"input_tokens\":%lld}", (long long)n);
			strlcpy_(a->provider, j->provider, sizeof a->provider);
		}
	} else if (res->err == HTTP_OK &&
	    (res->status == 400 || res->status == 413 || res->status == 422)) {
		/* The request is wrong: say so rather than estimate it. */
		struct llm_error e;

		llm_error_clear(&e);
		adapter_anthropic.classify_error(res->status, &res->headers, res->body,
		    res->body_len, &e);
		a = answer_error(GW_ANTHROPIC, res->status == 413 ? 413 : 400, LLM_ERR_BAD_REQUEST,
		    e.message, NULL);
		strlcpy_(a->provider, j->provider, sizeof a->provider);
	}
	if (a == NULL)
		a = count_estimate(j->estimate);
	j->done(j->arg, a);
	free(j);
}

static int
is_anthropic(const struct provider_conf *p)
{
	return p->enabled && p->kind == PROVIDER_ANTHROPIC;
}

/* What count_tokens takes of a Messages body (the API refuses the rest). */
static void
count_body_trim(cJSON *root, const struct llm_request *req)
{
	static const char *const keep[] = {"model", "messages", "system", "tools", "tool_choice",
	    "thinking", "output_config", NULL};
	cJSON *extra = req->passthrough != NULL ? cJSON_Parse(req->passthrough) : NULL;
	cJSON *e = root->child, *next;

	for (; e != NULL; e = next) {
		const char *const *k;

		next = e->next;
		for (k = keep; *k != NULL; k++)
			if (strcmp(*k, e->string) == 0)
				break;
		if (*k == NULL && cJSON_GetObjectItemCaseSensitive(extra, e->string) == NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(root, e->string);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "max_tokens");
	cJSON_Delete(extra);
}

void
gw_count_tokens(struct router *r, const char *body, size_t len, gw_answer_cb done, void *arg)
{
	const struct config *cfg = router_config(r);
	struct candidate cand[EMBED_MAX_CANDIDATES];
	struct llm_request req;
	struct adapter_http http;
	struct http_request hr;
	struct count_job *j;
	struct gw_ask ask;
	struct gw_bad bad;
	size_t n, known_n;
	char *cause = NULL, *url, *extra;
	cJSON *root;

	memset(&bad, 0, sizeof bad);
	llm_request_init(&req);
	if (gw_parse_anthropic_count(body, len, &req, &ask, &bad) != 0) {
		llm_request_free(&req);
		done(arg, answer_error(GW_ANTHROPIC, 400, LLM_ERR_BAD_REQUEST, bad.message, NULL));
		return;
	}
	/* Anthropic-only fields are for the provider that counts, or for nobody (an estimate). */
	extra = req.passthrough;
	req.passthrough = NULL;
	if (gw_resolve_model(cfg, ask.model, &req, &bad) != 0) {
		free(extra);
		llm_request_free(&req);
		done(arg, answer_error(GW_ANTHROPIC, 400, LLM_ERR_BAD_REQUEST, bad.message, NULL));
		return;
	}
	req.passthrough = extra;
	n = candidates(r, &req, is_anthropic, cand, nitems(cand), &known_n);
	if (n == 0 ||
	    adapter_anthropic.build_request(cand[0].conf, config_model(cfg, cand[0].alias),
	        model_id_of(cfg, cand[0].alias), &req, 0, &http, &cause) != 0) {
		free(cause);
		done(arg, count_estimate(ask.input_estimate));
		llm_request_free(&req);
		return;
	}
	root = cJSON_ParseWithLength(http.body, http.body_len);
	if (root != NULL) {
		count_body_trim(root, &req);
		free(http.body);
		http.body = gw_json_text(root);
		http.body_len = strlen(http.body);
		cJSON_Delete(root);
	}
	url = xasprintf("%s/count_tokens", http.url);
	j = xcalloc(1, sizeof *j);
	j->done = done;
	j->arg = arg;
	j->estimate = ask.input_estimate;
	strlcpy_(j->provider, cand[0].conf->name, sizeof j->provider);
	memset(&hr, 0, sizeof hr);
	hr.method = "POST";
	hr.url = url;
	hr.headers = (const char *const *)http.headers;
	hr.n_headers = http.n_headers;
	hr.body = http.body;
	hr.body_len = http.body_len;
	hr.timeout_ms =
	    (int)(cand[0].conf->timeout_seconds > 0 ? cand[0].conf->timeout_seconds * 1000 : 60000);
	hr.ca_file = cand[0].conf->ca_file;
	hr.insecure = !cand[0].conf->tls_verify;
	hr.on_done = count_http_done;
	hr.arg = j;
	http_submit(router_engine(r), &hr);
	free(url);
	adapter_http_free(&http);
	llm_request_free(&req);
}
