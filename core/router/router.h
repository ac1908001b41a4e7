/*
 * router.h: the embedded multi-provider router.
 *
 * Selection follows the seed: among usable providers (enabled, not drained,
 * breaker allowing, under its rate limits, serving the model) take the lowest
 * priority number, then pick by weighted random inside it. Routes map a name to
 * a primary and ordered fallbacks; model aliases map to each provider's ids.
 * A retryable error is retried on the same provider with exponential backoff
 * and full jitter inside the request's deadline, then the request fails over;
 * a request error (400, 413, 422) returns at once. Every attempt is recorded.
 *
 * router_submit() never blocks (no SQLite, no network: it copies the request
 * and queues it), so an event loop may call it. Deltas and done both run on
 * the HTTP engine's thread (done after the ledger row is committed when there
 * is a store), and must not block.
 * router_generate() is a blocking wrapper. Operator calls and snapshots are
 * safe from any thread. See router.c's head for the whole thread model.
 *
 * Besides chat, the router serves the other operations a provider may have
 * (router_submit_op): embeddings and count_tokens go through the same
 * selection, breaker, rate limits, retries, failover, hedging, cancel,
 * events, metrics, ledger and budget, on the providers that speak them.
 */
#ifndef LLMDECK_ROUTER_H
#define LLMDECK_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "provider/adapter_embed.h"
#include "router/breaker.h"
#include "config/config.h"
#include "router/events.h"
#include "router/histogram.h"
#include "provider/llm.h"
#include "store/store.h"

struct router;
struct http_engine;

struct router_attempt {
	char provider[LIMIT_NAME_SIZE];
	char model[LIMIT_ALIAS_SIZE];
	int status;            /* HTTP status, 0 if none */
	enum llm_errclass cls; /* LLM_OK for the successful one */
	char error[512];       /* one line, empty when ok */
	int hedge;             /* sent as a hedge while another attempt was running */
	int skipped;           /* not sent: the provider cannot honour a field of the request
				* (error says which and why, cls is LLM_ERR_BAD_REQUEST) */
	uint64_t latency_us;
	uint64_t limit_ms; /* the time it had to answer (a stream: to its first token) */
	int limit_learned; /* that time was learned from the provider's latency */
};

/* What a request asks of a provider. */
enum router_op {
	ROUTER_OP_CHAT,         /* router_submit: a chat turn */
	ROUTER_OP_EMBEDDINGS,   /* vectors for inputs (adapter_embed_for) */
	ROUTER_OP_COUNT_TOKENS, /* a Messages request's input tokens (adapter_count_for): no
				 * spend, no ledger row, no budget */
};

struct router_result {
	enum router_op op;
	enum llm_errclass cls; /* LLM_OK: answered */
	struct llm_error err;  /* the final error when not answered */
	struct llm_response resp;
	char provider[LIMIT_NAME_SIZE]; /* who answered */
	char model[LIMIT_ALIAS_SIZE];   /* alias used */
	char route[LIMIT_NAME_SIZE];
	double cost_usd;
	int unpriced; /* the model has no price: cost unknown, not zero */
	int cached;
	int usage_estimated;   /* cancelled before the provider reported usage: estimated */
	double hedge_cost_usd; /* part of cost_usd spent on hedges that lost */
	uint64_t latency_us;   /* submit to done */
	struct router_attempt *attempts;
	size_t n_attempts;
	struct embed_response embed; /* ROUTER_OP_EMBEDDINGS: a vector per input (tokens in
				      * resp.usage) */
	int64_t counted_tokens;      /* ROUTER_OP_COUNT_TOKENS: the provider's count */
};
void router_result_free(struct router_result *);

/* Exactly once per submitted request; the callee owns res (router_result_free). */
typedef void (*router_done_cb)(void *arg, struct router_result *res);

struct router_opts {
	uint64_t seed;              /* RNG seed for selection and jitter; 0: from the clock */
	struct http_engine *engine; /* shared engine, or NULL: the router starts its own */
	/* Test clock: monotonic milliseconds; NULL: the real one. */
	uint64_t (*now_ms)(void *);
	void *now_arg;
	int no_probes;          /* no active health probes */
	double backoff_base_ms; /* default 500 (the SDKs' 0.5 s) */
	double backoff_max_ms;  /* default 8000 */
	/* The database for the ledger, budget, cache, persistent events and operator
	 * overrides; NULL: none of those (metrics and the in-memory ring only). */
	struct store *store;
};

struct router *router_new(const struct config *, const struct router_opts *, char **cause);
void router_free(struct router *);
/* The router's keyring (store/keys.h: the gateway authenticates requests with it), refreshed
 * by the router's worker every KEYRING_REFRESH_MS; NULL without a store. */
struct keyring;
struct keyring *router_keyring(struct router *);

/* Submit a request (copied). deltas (NULL: none) gets a streamed request's typed
 * deltas (text, thinking, tool calls: llm.h) on the engine thread; a whole
 * answer to a streamed request (cached, or not streamed by the provider) comes
 * as the deltas a stream of it would have given. done is always called exactly
 * once. Returns the request's id (> 0) for router_cancel(). */
uint64_t router_submit(struct router *, const struct llm_request *, llm_delta_cb deltas,
    router_done_cb done, void *arg);
/* The caller is gone: abort the request's transfers at once; done still comes,
 * with LLM_ERR_CANCELLED, and the ledger row says "cancelled" with the usage
 * so far. Safe from any thread; a finished or unknown id is ignored. */
void router_cancel(struct router *, uint64_t id);
/* An operation other than chat. req names the model (or route, or provider)
 * and the deadline, and for count_tokens is the Messages request; embed and
 * n_inputs are the embeddings' inputs. */
struct router_op_request {
	enum router_op op;
	const struct llm_request *req;
	struct embed_request embed;
	size_t n_inputs;
};
/* Submit it (copied): never blocks, like router_submit; done is called exactly
 * once on the engine thread, after the ledger row when it has one; the request
 * may be cancelled with router_cancel. Returns its id. */
uint64_t
router_submit_op(struct router *, const struct router_op_request *, router_done_cb done, void *arg);

/* Blocking wrapper over router_submit. Fills out (free with router_result_free).
 * Returns 0 if answered, -1 otherwise. */
int router_generate(struct router *, const struct llm_request *, llm_delta_cb deltas, void *arg,
    struct router_result *out);

/* Operator states, on top of the breaker. */
enum provider_admin {
	ADMIN_ENABLED,
	ADMIN_DISABLED,
	ADMIN_DRAINED,       /* failover by hand: no new traffic, in-flight finishes */
	ADMIN_MISCONFIGURED, /* 401/403 seen: out until an operator re-enables it */
};
const char *provider_admin_name(enum provider_admin);

/*
 * Operator calls: 0 ok, -1 unknown provider or bad value (cause filled). Each writes an
 * event. With a store, set and clear are stored and apply on every instance on the
 * database; provider "NAME@INSTANCE" is an override for that instance only (stored with
 * its id: another instance applies it, this one does not unless it is that one), which
 * wins over a fleet-wide one of the same field there.
 */
int router_set_admin(struct router *, const char *provider, enum provider_admin, char **cause);
int router_set_priority(struct router *, const char *provider, int priority, char **cause);
int router_set_weight(struct router *, const char *provider, double weight, char **cause);
int router_reset_breaker(struct router *, const char *provider, char **cause);
/* Drop the operator's overrides (and drills) of a provider (NULL: all; "NAME@INSTANCE":
 * that instance's own only) and go back to the config's priority, weight and state. */
int router_clear_overrides(struct router *, const char *provider, char **cause);
/* Run an active health probe now. */
int router_probe(struct router *, const char *provider, char **cause);
/*
 * A fault drill (router_drill.c): for duration_s seconds (1..ROUTER_DRILL_MAX_S) a share
 * rate (0..1] of the provider's attempts fail inside the router: fault "500", "429",
 * "503", "529" (that status, the provider never asked), "hang" (no answer until the
 * attempt's limit), "malformed" (an unparseable answer), "slow" (sent delay_ms late:
 * its first token or answer that late; 0: ROUTER_DRILL_SLOW_MS) or "drop" (the
 * connection broken after the stream's first token, or before a whole answer); "none"
 * stops it. who (or NULL) is named in the event. provider may be "NAME@INSTANCE":
 * that instance only. With a store the drill is stored, and every instance on the
 * database (or the one named) runs it and ends it by itself.
 */
#define ROUTER_DRILL_MAX_S 3600
#define ROUTER_DRILL_SLOW_MS 2000
struct router_drill_opts {
	const char *fault;
	double rate;
	int duration_s;
	int delay_ms;
	const char *who;
};
int
router_drill(struct router *, const char *provider, const struct router_drill_opts *, char **cause);

/* Seconds of history the windowed numbers cover (the admin API's window_seconds). */
#define ROUTER_WINDOW_DEFAULT 60
#define ROUTER_WINDOW_MAX 120

/* The last window_s seconds of one provider (or of the whole router). */
struct window_stats {
	uint64_t requests; /* attempts sent (router: requests finished) */
	uint64_t errors;   /* failed attempts (router: failed requests) */
	double share;      /* of all attempts in the window, 0..1 (providers only) */
	uint64_t p50_us, p95_us, p99_us;
	struct histogram latency; /* successful attempts in the window */
	/* Per second, oldest first, window_s entries: for sparklines. */
	uint32_t series_requests[ROUTER_WINDOW_MAX];
	uint32_t series_errors[ROUTER_WINDOW_MAX];
};

struct provider_snapshot {
	char name[LIMIT_NAME_SIZE];
	char kind[16];
	char base_url[256];
	enum provider_admin admin;
	enum breaker_state breaker;
	uint64_t cooldown_left_ms;
	int consecutive_failures;
	int priority;
	double weight;
	int priority_overridden; /* set by an operator, persisted */
	int weight_overridden;
	int admin_overridden;
	/* Of those, set by a row for this instance only (NAME@INSTANCE), not fleet-wide. */
	int priority_scoped, weight_scoped, admin_scoped;
	int usable;       /* would be selected from now */
	double share;     /* fraction of all requests sent here (0..1) */
	double rpm_usage; /* 0..1 of the rate limit */
	double tpm_usage;
	int rate_limit_rpm;
	int rate_limit_tpm;
	uint64_t requests; /* attempts sent */
	uint64_t successes;
	uint64_t errors;
	uint64_t errors_by_class[LLM_ERR__COUNT];
	uint64_t in_flight;
	uint64_t input_tokens;
	uint64_t output_tokens;
	double cost_usd;
	struct histogram latency; /* successful attempts, microseconds */
	uint32_t recent_ms[64];   /* the last 64 latencies (ring order, oldest first) */
	size_t n_recent;
	struct window_stats window; /* filled when router_snapshot's window_s > 0 */
	int64_t last_probe_ms;      /* wall time of the last probe, 0 if none */
	int last_probe_ok;
	uint64_t last_probe_latency_us;
	/* What its latency over the last minute teaches (learned.h), for whole
	 * answers and for streams' first tokens: the timeout in force (0: too few
	 * samples, the configured rule), the "auto" hedge delay (0: none yet), the
	 * samples, and the peak EWMA latency balancing weighs. */
	uint64_t learned_timeout_ms, learned_first_token_timeout_ms;
	uint64_t learned_hedge_ms, learned_first_token_hedge_ms;
	uint32_t learned_samples, learned_first_token_samples;
	double latency_ewma_ms;
	/* Attempts whose transfer is out: the oldest one's age, and how many are older than
	 * this provider's usual p99 (slow_after_us: of its successful attempts, at least
	 * ROUTER_SLOW_MIN_MS; with none yet, the router's answered requests' p99, or
	 * ROUTER_SLOW_NONE_MS). A hang shows here first. */
	uint64_t in_flight_oldest_us;
	uint32_t in_flight_slow;
	uint64_t slow_after_us;
	/* A drill on it (router_drill): the fault ("" none), the share of attempts, time left,
	 * slow's delay, who started it, and whether it is for this instance only. */
	char drill[16];
	double drill_rate;
	uint64_t drill_left_ms;
	int drill_delay_ms;
	char drill_by[64];
	int drill_scoped;
};

/* In-flight attempts older than their provider's p99 are slow; the floor, and the
 * threshold when a provider has no successful attempt yet. */
#define ROUTER_SLOW_MIN_MS 250
#define ROUTER_SLOW_NONE_MS 10000

struct router_snapshot {
	int64_t time_ms;
	struct provider_snapshot *providers;
	size_t n_providers;
	uint64_t requests; /* router_submit calls finished */
	uint64_t answered;
	uint64_t failed;
	uint64_t cancelled; /* callers that left */
	uint64_t failovers;
	uint64_t hedges;        /* hedge attempts sent */
	uint64_t hedges_won;    /* answers that came from the hedge */
	uint64_t admitted_fast; /* requests admitted without the worker (no database needed) */
	uint64_t attempts;      /* attempts sent */
	uint64_t attempts_failed;
	int window_s;               /* the window below covers this many seconds */
	struct window_stats window; /* requests (not attempts): finished, failed, latency */
	uint64_t window_attempts_failed;
	uint64_t window_cancelled;
	/* What clients wait: answered requests of the window (retries, failovers and
	 * queueing included) and the requests still waiting, by their age now. */
	uint64_t open_p50_us, open_p99_us;
	uint64_t in_flight_oldest_us; /* the oldest request still waiting */
	uint64_t cache_hits;
	uint64_t in_flight;
	double cost_usd;
	struct histogram latency; /* end to end, answered requests */
	/* The HTTP engine's connection reuse (its http_stats): transfers, connections
	 * opened, TLS handshakes, transfers over HTTP/2. */
	uint64_t upstream_transfers, upstream_connections, upstream_tls_handshakes,
	    upstream_http2_transfers;
	/* The ledger's store (store_health): has_store 0 without one. store.failing:
	 * rows go to the spool; store.spool_full: paid requests are refused. */
	int has_store;
	struct store_health store;
};

/* A consistent copy; never holds a lock after it returns. s is all output:
 * its windowed numbers (struct window_stats) are empty. */
void router_snapshot(struct router *, struct router_snapshot *);
/* The same, with the windowed numbers over the last window_s seconds
 * (1..ROUTER_WINDOW_MAX, clamped; 0: none). */
void router_snapshot_window(struct router *, struct router_snapshot *, int window_s);
void router_snapshot_free(struct router_snapshot *);
/* A request refused before it reached the router (a draining gateway's 503): counted
 * as a failed request in the window, so what clients get includes it; not in the
 * totals, which are the router's own. */
void router_count_refused(struct router *, enum llm_errclass);

struct event_ring *router_events(struct router *);
const struct config *router_config(struct router *);
struct http_engine *router_engine(struct router *);

/*
 * The live request view (router_requests.c), like top: the requests in flight,
 * oldest first, and a ring of the last ROUTER_REQUESTS_RECENT finished ones with
 * their attempts. Copied under the router's lock, bounded; any thread.
 */
#define ROUTER_REQUESTS_RECENT 256
#define ROUTER_REQUEST_ATTEMPTS 16 /* attempts kept per request (the first ones) */

struct router_request_info {
	uint64_t id;
	char key_id[24];                /* the client key's id, "" unknown */
	char team[LIMIT_NAME_SIZE];     /* its team, "" none */
	char model[LIMIT_ALIAS_SIZE];   /* the current attempt's alias, else as asked */
	char route[LIMIT_NAME_SIZE];    /* "" none */
	char provider[LIMIT_NAME_SIZE]; /* in flight: the current attempt's; done: who
					 * answered, else the last tried ("" none) */
	int attempts;                   /* attempts started so far (hedges included) */
	int hedging;                    /* in flight: two attempts race */
	int stream;
	int operator_test;   /* an operator's test prompt (kept out of client figures) */
	uint64_t elapsed_us; /* in flight: since submit; done: its latency */
	uint64_t deltas;     /* stream deltas handed to the caller so far */
	/* Finished ones only. */
	int done;
	enum llm_errclass cls;
	int status; /* the last attempt's HTTP status, 0 none */
	double cost_usd;
	int unpriced;
	int cached;
	int64_t finished_ms; /* wall clock */
	char error[160];     /* one line, "" when answered */
};

/* One attempt of a request: ended, or still in flight (latency: its age). */
struct router_request_attempt {
	char provider[LIMIT_NAME_SIZE];
	char model[LIMIT_ALIAS_SIZE];
	int in_flight;
	int hedge;
	int status; /* HTTP status, 0 if none */
	enum llm_errclass cls;
	char error[256];
	uint64_t latency_us;
	double cost_usd;
};

struct router_requests {
	struct router_request_info *in_flight; /* oldest first */
	size_t n_in_flight;
	size_t total_in_flight; /* how many there are (n_in_flight is up to the limit) */
	struct router_request_info *recent; /* newest first */
	size_t n_recent;
};
/* Up to limit in-flight and limit recent requests (0: the defaults, 50 each). */
void router_requests(struct router *, size_t limit, struct router_requests *out);
void router_requests_free(struct router_requests *);

struct router_request_detail {
	struct router_request_info info;
	struct router_request_attempt *attempts;
	size_t n_attempts;
};
/* Request id, in flight or among the recent ones: 0, or -1 (not known, or gone
 * from the ring). */
int router_request_detail(struct router *, uint64_t id, struct router_request_detail *out);
void router_request_detail_free(struct router_request_detail *);

#endif
