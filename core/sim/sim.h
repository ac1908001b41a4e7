/*
 * sim.h: simulated LLM provider servers speaking each provider's real wire
 * protocol (Anthropic, OpenAI, Azure OpenAI, Mistral, Ollama), with injected
 * latency, errors and faults. Used by tests, benchmarks, `llmdeck sim` and the
 * console's demo.
 *
 * A sim runs on libmicrohttpd with a couple of internal threads. Latency and
 * token pacing never sleep in a handler: connections are suspended and resumed
 * from a timer thread, so one sim holds thousands of slow requests at once.
 *
 * Endpoints:
 *   anthropic  POST /v1/messages, GET /v1/models                 (x-api-key)
 *   openai     POST /v1/chat/completions, POST /v1/responses, POST /v1/embeddings,
 *              GET /v1/models, GET /health                       (Bearer)
 *   mistral    POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models (Bearer)
 *   azure      POST /openai/deployments/{dep}/chat/completions?api-version=V,
 *              POST /openai/deployments/{dep}/embeddings?api-version=V,
 *              POST /openai/v1/chat/completions, /openai/v1/embeddings,
 *              POST /openai/v1/responses, /openai/responses?api-version=V,
 *              GET /openai/models                                (api-key)
 *   ollama     POST /v1/chat/completions, /v1/embeddings, /api/chat, /api/embed,
 *              /api/embeddings; GET /api/version, /api/tags, /v1/models, /
 *              (no key: one given is ignored, like Ollama)
 *   all        GET|POST /_sim/control, GET /_sim/stats: no auth, answer even
 *              while the sim is "down".
 *
 * The model behind them (sim_gen.c) calls tools (forced by tool_choice, or
 * named in the last user message) with arguments built from their JSON Schema,
 * answers in text after a tool result, honours response_format (text.format in
 * the Responses API, whose reasoning items it issues and checks; Anthropic's
 * output_config.format; Anthropic system messages among the messages), stop
 * sequences, images, Anthropic thinking and prompt caching, and reports
 * reasoning tokens for reasoning models; sim_wire_check.c refuses what each
 * API refuses, with its error body.
 */
#ifndef LLMDECK_SIM_H
#define LLMDECK_SIM_H

#include <stddef.h>
#include <stdint.h>

enum sim_protocol { SIM_ANTHROPIC, SIM_OPENAI, SIM_AZURE, SIM_MISTRAL, SIM_OLLAMA };

/*
 * hang:      never answer (the connection stays open until the client gives up
 *            or the sim stops).
 * slow:      latency x10, at least 2 s.
 * drop:      close the connection without a response.
 * malformed: 200 with a body that is not valid JSON (or a broken stream event).
 * truncated: Content-Length larger than what is sent, then close (streams are
 *            cut in the middle).
 * down:      provider endpoints close every connection at once; /_sim/ works.
 * midstream: streams send half their deltas, then the provider's error event,
 *            then close; non-stream answers are truncated.
 */
enum sim_fault {
	SIM_FAULT_NONE,
	SIM_FAULT_HANG,
	SIM_FAULT_SLOW,
	SIM_FAULT_DROP,
	SIM_FAULT_MALFORMED,
	SIM_FAULT_TRUNCATED,
	SIM_FAULT_DOWN,
	SIM_FAULT_MIDSTREAM,
};

struct sim_opts {
	char name[64]; /* appears in answers: "[NAME] You asked: ..." */
	enum sim_protocol protocol;
	char host[64];      /* default 127.0.0.1 */
	int port;           /* 0: ephemeral, read it back with sim_port() */
	char key[128];      /* empty: no auth check */
	int latency_ms;     /* before the answer (or the first stream byte) */
	int jitter_ms;      /* plus uniform [0, jitter_ms) */
	int token_delay_ms; /* between stream deltas */
	double error_rate;  /* fraction of provider requests answered error_status */
	int error_status;   /* 400, 401, 429, 500, 503, 529 ...; default 429 */
	int retry_after_s;  /* > 0: retry-after header on 429 and 5xx */
	int quota;          /* openai 429 as insufficient_quota */
	enum sim_fault fault;
	uint64_t seed;    /* for error_rate, jitter and ids */
	char model[128];  /* reported when the request has none */
	int allow_remote; /* allow listening on a non-loopback address */
	int threads;      /* MHD worker threads, default 2 */
	/* HTTPS: a PEM certificate and its key (files); both empty: plain HTTP. */
	char tls_cert_file[256];
	char tls_key_file[256];
};

struct sim;

/* Defaults: protocol openai, 127.0.0.1:0, no key, no latency, no faults. */
void sim_opts_init(struct sim_opts *);

/*
 * Parse the command-line flags of `llmdeck sim` (argv holds only the flags,
 * no program name): --protocol --listen --name --key --latency-ms --jitter-ms
 * --token-delay-ms --error-rate --error-status --retry-after --quota --fault
 * --seed --model --threads --allow-remote. Returns 0, or -1 with *cause set.
 */
int sim_opts_parse_args(struct sim_opts *, int argc, char **argv, char **cause);

/*
 * Load {"sims":[{"name":..,"protocol":..,"listen":"127.0.0.1:0",...}]} where
 * the other keys are the flags' names with '_' (latency_ms, error_rate, ...).
 * *out is an array of *n options (caller frees). Returns 0 or -1 with *cause.
 */
int sim_config_load(const char *path, struct sim_opts **out, size_t *n, char **cause);

/* Names: "anthropic"... and "none", "hang"...; parse returns -1 if unknown. */
const char *sim_protocol_name(enum sim_protocol);
int sim_protocol_parse(const char *, enum sim_protocol *);
const char *sim_fault_name(enum sim_fault);
int sim_fault_parse(const char *, enum sim_fault *);

/* Check the options sim_start() would refuse (bad or non-loopback address). */
int sim_opts_check(const struct sim_opts *, char **cause);

/* Start listening; NULL with *cause set on failure. */
struct sim *sim_start(const struct sim_opts *, char **cause);
int sim_port(const struct sim *);
const char *sim_name(const struct sim *);
/* "http://127.0.0.1:PORT" */
const char *sim_url(const struct sim *);

/*
 * Change settings at run time, exactly like POST /_sim/control: a JSON object
 * with any of error_rate, error_status, retry_after, quota, fault, latency_ms,
 * jitter_ms, token_delay_ms, seed, key, model. Returns 0 or -1 with *cause.
 */
int sim_control(struct sim *, const char *json, char **cause);
/* The current settings as a JSON object (caller frees). */
char *sim_settings_json(struct sim *);
/*
 * The same for a sim in another process (or one only known by its URL): POST
 * json to base_url/_sim/control, waiting up to timeout_ms. Blocks; sim_client.c.
 * Returns 0 on HTTP 200, or -1 with *cause ("POST URL: what went wrong").
 */
int sim_control_remote(const char *base_url, const char *json, long timeout_ms, char **cause);

struct sim_stats {
	uint64_t requests;        /* provider requests (not /_sim/) */
	uint64_t answered;        /* got a whole HTTP response, any status */
	uint64_t errors_injected; /* by error_rate */
	uint64_t faults_injected; /* by fault */
	uint64_t streams;         /* streamed answers started */
	uint64_t auth_failures;
};
void sim_get_stats(struct sim *, struct sim_stats *);

/* Stop: close every connection (hung ones too), join the threads, free. */
void sim_stop(struct sim *);

#endif
