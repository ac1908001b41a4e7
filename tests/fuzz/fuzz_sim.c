/*
 * fuzz_sim.c: the simulated providers' request handling (core/sim): the
 * request body parser behind every generation endpoint (sim_wire_answer) and
 * the control endpoint's JSON (sim_control).
 *
 * Byte 0 with its high bit set: the rest is a POST /_sim/control body. Then
 * a refusal must leave the settings as they were. Otherwise byte 0 picks a
 * protocol and one of its endpoints (routes[]), byte 1 the quota flag (bit 0)
 * and retry-after (the rest), and the rest is the request body. The reply must be a
 * real HTTP status with its headers and body or chunks; a 200 must be an
 * answer the matching adapter reads in full, whole or streamed, and an error
 * one it classifies.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "provider/adapter.h"
#include "fuzz.h"
#include "sim/sim.h"
#include "sim/sim_wire.h"
#include "util/util.h"

/* What sim_route() in sim.c makes of the URLs each protocol serves. */
static const struct {
	enum sim_protocol protocol;
	enum sim_endpoint ep;
	const char *deployment;
} routes[] = {
    {SIM_ANTHROPIC, SIM_EP_MESSAGES, NULL},
    {SIM_ANTHROPIC, SIM_EP_MODELS, NULL},
    {SIM_ANTHROPIC, SIM_EP_NONE, NULL},
    {SIM_OPENAI, SIM_EP_CHAT, NULL},
    {SIM_OPENAI, SIM_EP_MODELS, NULL},
    {SIM_OPENAI, SIM_EP_HEALTH, NULL},
    {SIM_OPENAI, SIM_EP_NONE, NULL},
    {SIM_AZURE, SIM_EP_CHAT, NULL},
    {SIM_AZURE, SIM_EP_CHAT, "gpt-4o-deployment"},
    {SIM_AZURE, SIM_EP_MODELS, NULL},
    {SIM_AZURE, SIM_EP_NONE, NULL},
    {SIM_MISTRAL, SIM_EP_CHAT, NULL},
    {SIM_MISTRAL, SIM_EP_MODELS, NULL},
    {SIM_MISTRAL, SIM_EP_NONE, NULL},
    {SIM_OLLAMA, SIM_EP_CHAT, NULL},
    {SIM_OLLAMA, SIM_EP_OLLAMA_CHAT, NULL},
    {SIM_OLLAMA, SIM_EP_OLLAMA_VERSION, NULL},
    {SIM_OLLAMA, SIM_EP_OLLAMA_TAGS, NULL},
    {SIM_OLLAMA, SIM_EP_MODELS, NULL},
    {SIM_OLLAMA, SIM_EP_OLLAMA_ROOT, NULL},
    {SIM_OPENAI, SIM_EP_RESPONSES, NULL},
    {SIM_AZURE, SIM_EP_RESPONSES, NULL},
    {SIM_OLLAMA, SIM_EP_NONE, NULL},
};

static void
null_delta(void *arg, const struct llm_delta *d)
{
	(void)arg;
	FUZZ_CHECK(d->len > 0 || d->type == LLM_DELTA_TOOL_CALL_START ||
	    d->type == LLM_DELTA_REASONING_DONE);
}

/* The adapter that talks to protocol p (Ollama's own API has none). */
static const struct adapter *
adapter_of(const struct sim_call *c)
{
	if (c->ep == SIM_EP_OLLAMA_CHAT)
		return NULL;
	if (c->ep == SIM_EP_RESPONSES)
		return c->protocol == SIM_AZURE ? &adapter_azure_responses : &adapter_openai_responses;
	if (c->protocol == SIM_ANTHROPIC)
		return &adapter_anthropic;
	return c->protocol == SIM_AZURE ? &adapter_azure : &adapter_openai;
}

/* A 200 generation answer as the router's adapter reads it. */
static void
read_answer(const struct adapter *a, const struct sim_reply *r)
{
	struct llm_response resp;
	struct llm_error err;

	llm_response_init(&resp);
	if (!r->stream) {
		FUZZ_CHECK(a->parse_response(r->body, r->len, &resp, &err) == 0);
	} else {
		struct adapter_stream *st = a->stream_new();
		int rc = 0;

		for (size_t i = 0; i < r->nchunks && rc == 0; i++)
			rc = a->stream_feed(st, r->chunks[i].data, r->chunks[i].len, null_delta,
			    NULL, &resp, &err);
		FUZZ_CHECK(rc == 1);
		FUZZ_CHECK(a->stream_finish(st, &resp, &err) == 0);
		a->stream_free(st);
	}
	FUZZ_CHECK(resp.content != NULL);
	llm_response_free(&resp);
}

static void
answer_mode(const uint8_t *data, size_t size)
{
	struct sim_call c;
	struct sim_reply r;
	struct llm_error err;
	const struct adapter *a;
	uint8_t b0 = size > 0 ? data[0] : 0, b1 = size > 1 ? data[1] : 0;

	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	c.protocol = routes[b0 % nitems(routes)].protocol;
	c.ep = routes[b0 % nitems(routes)].ep;
	c.deployment = routes[b0 % nitems(routes)].deployment;
	c.name = "sim";
	c.model = "sim-model";
	c.quota = b1 & 1;
	c.retry_after_s = b1 >> 1;
	c.idseed = 42;
	c.reqno = b1;
	c.body = size > 2 ? (const char *)data + 2 : "";
	c.body_len = size > 2 ? size - 2 : 0;
	sim_wire_answer(&c, &r);
	FUZZ_CHECK(r.status >= 100 && r.status <= 599);
	for (size_t i = 0; i < r.nhdr; i++)
		FUZZ_CHECK(r.hdr[i].name != NULL && r.hdr[i].value != NULL);
	if (r.stream) {
		FUZZ_CHECK(r.nchunks > 0 && r.ndeltas <= r.nchunks);
		for (size_t i = 0; i < r.nchunks; i++)
			FUZZ_CHECK(r.chunks[i].data != NULL && r.chunks[i].len > 0);
	} else
		FUZZ_CHECK(r.body != NULL && strlen(r.body) == r.len);
	fuzz_refused = r.status != 200;
	a = adapter_of(&c);
	if (a != NULL && (c.ep == SIM_EP_CHAT || c.ep == SIM_EP_MESSAGES || c.ep == SIM_EP_RESPONSES)) {
		if (r.status == 200)
			read_answer(a, &r);
		else {
			FUZZ_CHECK(!r.stream);
			a->classify_error(r.status, NULL, r.body, r.len, &err);
			FUZZ_CHECK(err.cls > LLM_OK && err.cls < LLM_ERR__COUNT);
		}
	}
	sim_reply_free(&r);
}

static struct sim *sim;
static char *reset; /* the control body that puts the sim back as it started */

static void
sim_end(void)
{
	sim_stop(sim);
	free(reset);
}

static void
sim_begin(void)
{
	struct sim_opts so;
	char *cause = NULL, *settings;
	cJSON *o, *model;

	sim_opts_init(&so);
	so.threads = 1;
	sim = sim_start(&so, &cause);
	FUZZ_CHECK(sim != NULL);
	settings = sim_settings_json(sim);
	o = cJSON_Parse(settings);
	model = cJSON_GetObjectItemCaseSensitive(o, "model");
	FUZZ_CHECK(cJSON_IsString(model));
	reset = xasprintf("{\"error_rate\":0,\"error_status\":429,\"retry_after\":0,"
	                  "\"quota\":false,\"fault\":\"none\",\"latency_ms\":0,\"jitter_ms\":0,"
	                  "\"token_delay_ms\":0,\"key\":\"\",\"seed\":1,\"model\":\"%s\"}",
	    model->valuestring);
	cJSON_Delete(o);
	free(settings);
	atexit(sim_end);
}

static void
control_mode(const uint8_t *data, size_t size)
{
	char *json = fuzz_cstr(data, size), *cause = NULL, *before, *after;

	if (sim == NULL)
		sim_begin();
	before = sim_settings_json(sim);
	if (sim_control(sim, json, &cause) != 0) {
		fuzz_check_message(cause, strlen(cause != NULL ? cause : "") + 1);
		after = sim_settings_json(sim);
		FUZZ_CHECK(strcmp(before, after) == 0);
		free(after);
		free(cause);
		fuzz_refused = 1;
	} else
		fuzz_refused = 0;
	/* Back to the defaults for the next input. */
	FUZZ_CHECK(sim_control(sim, reset, &cause) == 0);
	free(before);
	free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && (data[0] & 0x80))
		control_mode(data + 1, size - 1);
	else
		answer_mode(data, size);
	return 0;
}
