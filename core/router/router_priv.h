/*
 * router_priv.h: the router's insides, shared by its files:
 *   router.c          a request's life cycle, top to bottom: submit, admit,
 *                     attempts, watchdogs, hedges, retries, failover,
 *                     cancellation, finish, ledger; setup and teardown
 *   router_provider.c provider state: selection, taking an attempt, settling it
 *   router_probe.c    active health probes
 *   router_admin.c    operator calls and their persisted overrides
 *   router_snapshot.c snapshots for the console, /metrics and the admin API
 *   router_op.c       the operations beside chat: one table each (embeddings,
 *                     count_tokens) that the attempt machinery calls instead
 *                     of the chat adapter's build and parse
 *   router_requests.c the live request view: each request's picture for
 *                     other threads, and the ring of recent finished ones
 *
 * Threads and locks (see router.c's head for the whole story):
 *   - r->mu guards every struct provider, the router's counters, r->live and
 *     each attempt's http_id / each request's timer_id (router_free reads them).
 *   - A struct rreq and its struct attempts belong to the engine thread (the
 *     HTTP engine's loop) from the moment router_submit() hands them over
 *     until rreq_finish(); after that to whichever thread delivers the result.
 *   - The router's worker (r->wq, thread "router-worker") admits requests
 *     (cache lookup, budget) and persists events; results are delivered on
 *     the engine thread (done callbacks always run there).
 *   - Lock order: r->mu before the event ring's lock; the engine's and the
 *     work queue's locks are leaves.
 */
#ifndef LLMDECK_ROUTER_PRIV_H
#define LLMDECK_ROUTER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "provider/adapter.h"
#include "provider/http.h"
#include "router/ratelimit.h"
#include "store/ledger.h"
#include "router/router.h"
#include "util/util.h"
#include "router/window.h"
#include "router/learned.h"

#define RECENT_N 64
#define MAX_ATTEMPTS 32
#define MAX_LIVE_ATTEMPTS 2 /* the attempt and its hedge */

/* Under r->mu. */
struct provider {
	const struct provider_conf *conf;
	const struct adapter *adapter;
	enum provider_admin admin;
	int priority;
	double weight;
	int priority_overridden;
	int weight_overridden;
	int admin_overridden;
	/* Of those, set by a row for this instance only (NAME@INSTANCE, router_admin.c). */
	int priority_scoped;
	int weight_scoped;
	int admin_scoped;
	struct breaker breaker;
	struct token_bucket rpm;
	struct token_bucket tpm;
	/* With a store the limits are the fleet's (store/limits.h): fleet is the
	 * store, and the leases of its per-minute allowances replace the buckets;
	 * NULL (--no-db): the local buckets. */
	struct store *fleet;
	struct rate_lease rpm_lease;
	struct rate_lease tpm_lease;
	uint64_t blocked_until_ms; /* retry-after told us to stay away until then */

	uint64_t requests;
	uint64_t successes;
	uint64_t errors;
	uint64_t errors_by_class[LLM_ERR__COUNT];
	uint64_t in_flight;
	uint64_t input_tokens;
	uint64_t output_tokens;
	double cost_usd;
	struct histogram latency;
	uint32_t recent[RECENT_N];
	size_t recent_next;
	size_t n_recent;

	int64_t last_probe_ms;
	int last_probe_ok;
	uint64_t last_probe_latency_us;
	uint64_t probe_http; /* probe transfer in flight, 0 if none */
	int probe_is_trial;  /* the probe holds a half-open trial slot */
	uint64_t probe_started_us;

	struct window window; /* the last ROUTER_WINDOW_MAX seconds of its attempts */
	/* Chat attempts' time to answer: [0] whole answers, [1] streams' first tokens
	 * (learned.h): the learned timeout, the "auto" hedge, latency balancing. */
	struct learned learned[2];
};

struct rreq;
struct attempt;

/*
 * An operation other than chat (curl's Curl_handler: one table per protocol).
 * The request's life is chat's; only what goes on the wire and what comes
 * back differ. Errors are classified by the provider's chat adapter.
 */
struct rt_op_kind {
	enum router_op op;
	const char *name;     /* "embeddings", "count_tokens": in messages */
	const char *unserved; /* "no provider serving M has " this */
	int spends;           /* priced, ledgered and held to the budget */
	int (*serves)(const struct provider_conf *);
	/* Can p take this request? 0, or -1 with why (param: the field). */
	int (*check)(const struct rreq *, const struct provider *, struct llm_error *why);
	int (*build)(const struct rreq *, const struct provider *, const char *alias,
	    struct adapter_http *out, char **cause);
	/* A 2xx body into a->acc (usage) and a's op result: 0, or -1 with err. */
	int (*parse)(struct attempt *, const char *body, size_t len, struct llm_error *err);
	/* Input tokens for rate limits and the budget, before the provider counts. */
	int64_t (*input_estimate)(const struct rreq *);
};
/* The table of op, NULL for chat (the adapter's own build and parse). */
const struct rt_op_kind *rt_op_kind(enum router_op);

struct router {
	pthread_mutex_t mu;
	pthread_cond_t idle;
	const struct config *cfg;
	struct router_opts opts;
	struct provider *providers;
	size_t n_providers;
	struct http_engine *engine;
	int own_engine;
	struct event_ring *events;
	struct rng rng;
	struct store *store;
	/* The fleet's limits (rt_limits_refill, worker): live instances, when last counted. */
	int limits_live;
	int64_t limits_counted_ms;
	/* Client keys (router_keys.c): the keyring (thread-safe itself; made with the
	 * router when it has a store, refreshed by the worker's tick, freed by
	 * router_free), and the per-key and per-team RPM/TPM leases, the worker's alone. */
	struct keyring *keyring;
	struct key_rate *key_rates;
	size_t n_key_rates;
	int key_rate_live; /* live instances, counted at most every 5 s (worker) */
	int64_t key_rate_counted;
	/* The store_health changes already said as events (rt_store_watch). */
	_Atomic uint64_t store_changes_seen;
	_Atomic unsigned cache_changes_seen; /* cache_health's changes, for one event each */

	struct workq *wq; /* "router-worker": admission, cache writes, events, delivery */
	/* The database sync's own thread (router_admin.c: the override poll, its notes, the
	 * fleet's limit leases), so an override never waits behind the admissions queued on
	 * wq under load; NULL without a store. */
	struct workq *sync_wq;

	int closing;
	size_t active;     /* live requests and probes */
	struct rreq *live; /* requests between submit and finish */
	uint64_t next_id;  /* request ids */
	uint64_t probe_timer;

	uint64_t requests;
	uint64_t answered;
	uint64_t failed;
	uint64_t cancelled;
	uint64_t failovers;
	uint64_t hedges;
	uint64_t hedges_won;
	_Atomic uint64_t admitted_fast; /* admitted on the caller's thread (rreq_admit_fast) */
	uint64_t cache_hits;
	uint64_t in_flight;
	double cost_usd;
	struct histogram latency;
	uint64_t total_attempts;
	struct window window;    /* the last ROUTER_WINDOW_MAX seconds of finished requests */
	struct attempt *flying;  /* attempts whose transfer is out (router_snapshot.c), under mu */
	struct rt_drill *drills; /* per provider (router_drill.c), under mu; NULL: none yet */
	struct rt_reqring *finished; /* the last finished requests (router_requests.c), under mu */

	/* Sharing the database with other processes (router_admin.c): a poll of
	 * PRAGMA data_version on the worker, driven by an engine timer. */
	uint64_t sync_timer;   /* the next poll's timer, 0 if none */
	int sync_pending;      /* a timer or a poll job is out: router_free waits for it */
	int sync_kick;         /* the store said something changed during a poll: poll again now */
	int64_t sync_version;  /* the data_version last seen (worker) */
	int64_t sync_event_id; /* the last event row looked at (worker) */
	char *sync_seen;       /* the override rows last read (worker) */
};

/* One attempt on one provider. Engine thread; http_id under r->mu. */
struct attempt {
	struct rreq *q;
	int idx; /* provider index */
	char alias[LIMIT_ALIAS_SIZE];
	int hedge;                           /* sent as a hedge of another attempt */
	size_t slot;                         /* its entry in q->attempts */
	uint64_t http_id;                    /* 0 once done */
	struct attempt *fly_next, *fly_prev; /* on r->flying while http_id != 0, under r->mu */
	uint64_t watch_id;                   /* watchdog timer, 0 if none */
	uint64_t start_us;
	uint64_t give_up_us; /* no answer (or first token) by then: abandon */
	uint64_t learned_ms; /* the provider's learned timeout when it started, 0 none */
	int limit_learned;   /* give_up_us came from learned_ms */
	uint64_t hedge_ms;   /* hedge after this long without an answer; 0 never */
	uint64_t first_us;   /* a stream's first token after this long, 0 not yet */
	uint64_t last_byte_us;
	int answered;  /* a whole answer, or for a stream the first token, arrived */
	int abandoned; /* the watchdog gave up on it: its abort is a timeout */
	int squeezed;  /* its time was cut short by the request's deadline */
	int lost;      /* another attempt won: its abort is not an error */
	double tpm_reserved;
	int status;
	const struct adapter *ad; /* adapter_for_request's for this provider */
	struct adapter_stream *stream;
	struct llm_response acc;
	struct llm_error *serr; /* stream decoder error, with the stream only */
	int stream_failed;
	struct buf errbody;
	struct adapter_http ah;
	size_t delivered_bytes;      /* text handed to the caller from this attempt */
	struct embed_response embed; /* the op's answer (router_op.c) */
	int64_t counted_tokens;
	int viewed; /* counted as flying in q->view (router_requests.c), under r->mu */
};

/*
 * A request as other threads see it (router_requests.c): under r->mu, except
 * deltas (atomic: counted on the engine thread per delta, without the lock).
 */
struct rt_reqview {
	char model[LIMIT_ALIAS_SIZE];         /* as asked, then the current attempt's alias */
	int provider;                         /* the current attempt's provider index, -1 none */
	int attempts;                         /* started */
	int flying;                           /* attempts out now */
	struct router_request_attempt *ended; /* the first ROUTER_REQUEST_ATTEMPTS that ended */
	size_t n_ended;
	int finished; /* in the ring now: nothing more is recorded */
	_Atomic uint64_t deltas;
};

/* A request. Engine thread from submit to finish (see above). */
struct rreq {
	struct router *r;
	uint64_t id;
	struct rreq *next; /* on r->live */
	struct rreq *prev;
	struct llm_request req;
	const struct rt_op_kind *op; /* NULL: chat */
	struct embed_request embed;  /* ROUTER_OP_EMBEDDINGS: owned copies */
	size_t n_inputs;
	struct embed_response embed_resp; /* the winner's op answer */
	int64_t counted_tokens;
	llm_delta_cb typed; /* every typed delta, or NULL */
	router_done_cb done;
	void *arg;
	struct router_result *res; /* made at finish: nothing to hold while waiting */
	struct router_attempt *attempts;
	size_t n_attempts;
	double cost_usd;
	int unpriced;
	int cached;
	char *cached_provider; /* who answered a cached request originally */

	int64_t reservation; /* budget reservation, 0 if none */
	/* The key's, team's and global month's reservations (router_keys.c), settled by the
	 * row; refused_at_admission: the key's checks refused it (outcome "refused"). */
	int64_t scope_res[LEDGER_SCOPES];
	int refused_at_admission;
	int cacheable;
	char cache_key[65];
	uint64_t start_us;
	uint64_t deadline_ms; /* on the router's clock */
	const struct route_conf *route;
	int raw_model;
	/* Per provider: can it honour every field of the request (adapter check_request,
	 * asked once, at start)? 1 yes; -1 no; -2 no, and the skip is in attempts. */
	signed char *capable;
	struct llm_error *refusals; /* per provider: why not, where capable < 0 */
	size_t n_skipped;           /* entries of attempts that are such skips */
	int tried[MAX_ATTEMPTS];    /* provider indices already given up on */
	size_t n_tried;
	int hedge_after_ms;   /* 0: no hedging; CONFIG_HEDGE_AUTO: each provider's p95 */
	enum balance balance; /* the route's, else the config's */

	char alias[LIMIT_ALIAS_SIZE]; /* the winner's alias */
	int usage_estimated;          /* a cancelled request's usage is an estimate */
	int cur;                      /* provider of the latest attempt, -1 none */
	int retries_here;             /* retries spent on cur */
	uint64_t timer_id;            /* retry backoff timer, under r->mu */
	struct attempt *live[MAX_LIVE_ATTEMPTS];
	size_t n_live;
	struct attempt *winner;    /* the attempt whose answer the caller gets */
	struct ledger_row *losers; /* rows for hedges that lost, with their usage */
	size_t n_losers;
	int delivered;      /* text already handed to the caller */
	int cancel;         /* router_cancel() or a closing router: stop everything */
	int started;        /* on the engine thread (under r->mu) */
	int cancel_pending; /* cancelled during admission (under r->mu) */
	int finishing;      /* decided; waiting for the other attempts to end */
	enum llm_errclass outcome;
	struct llm_response acc; /* the winner's answer, or a cached one */
	struct llm_error last_err;
	struct rt_reqview view; /* under r->mu (router_requests.c) */
};

uint64_t rt_now(struct router *);
/* Cost of usage on a model alias; sets *unpriced when the model has no price. */
double
rt_cost(const struct config *, const char *model_alias, const struct llm_usage *, int *unpriced);

/* router_attempt.c: an attempt's transfer callbacks (engine thread). */
void rt_reserve_attempt(struct rreq *, struct attempt *);
void rt_record_attempt(struct rreq *, struct attempt *, enum llm_errclass, const char *error,
    uint64_t latency_us);
void attempt_free(struct attempt *);
void rreq_unlink_attempt(struct rreq *, struct attempt *);
void rreq_abort_others(struct rreq *, struct attempt *keep);
void rt_on_stream_delta(void *arg, const struct llm_delta *);
void rt_on_http_headers(void *arg, int status, const struct http_headers *);
int rt_on_http_data(void *arg, const char *data, size_t len);
void attempt_classify(struct attempt *, const struct http_result *, struct llm_error *);
int attempt_usage(struct attempt *, struct llm_usage *);

/* router.c: what the attempt callbacks and router_free need of the life cycle. */
void attempt_watch(struct attempt *);
void rt_on_retry_timer(void *arg);

/* router_provider.c; "locked" functions want r->mu held. */
int rt_provider_index(struct router *, const char *name);
int rt_provider_serves(const struct provider *, const char *alias);
int rt_alias_known(struct router *, const char *alias);
const char *rt_alias_for(const struct rreq *, const struct provider *);
const char *rt_model_id_for(struct router *, const char *alias);
int64_t rt_request_max_output(const struct rreq *, const struct provider *);
double rt_estimate_tokens(const struct rreq *, const struct provider *);
int rt_provider_usable(struct provider *, double tokens, uint64_t now);
/* Worker (and setup, before traffic): top up each provider's leases of the fleet's
 * per-minute allowances (router_provider.c); a no-op without a store. */
void rt_limits_refill(struct router *);
/* Client keys (router_keys.c). Worker: rt_keys_check before the cache (the key still
 * valid, its model allowed, its and its team's RPM/TPM), rt_keys_reserve after it (the
 * key's, team's and global month's budgets for upper); 0 to go on, 1 refused (q's
 * error set). rt_keys_tick: the keyring's refresh and its last uses. rt_keys_release:
 * a request that ends with no row drops its scope reservations. rt_keys_new /
 * rt_keys_free: with the router (free after the worker has stopped). */
int rt_keys_check(struct rreq *);
/* Any thread: 1 when the request's key asks nothing of the worker (still valid, its model
 * allowed, no RPM/TPM and no budget on it or its team), its team set from the key; 0 when
 * rt_keys_check and rt_keys_reserve must run (they refuse or admit it). */
int rt_keys_fast(struct rreq *);
int rt_keys_reserve(struct rreq *, double upper_usd);
/* Worker: the request's team's budget standing for the cost optimizer: 1 with *st set
 * (spent and budget of the team's day or month window, whichever has less left, and
 * under_pressure as the global budget's: remaining < pressure * budget) and label
 * naming it ("team ml's daily budget"); 0 when its key has no team with a budget, or its spend cannot be
 * read (then the global budget alone decides). */
struct budget_status;
int rt_keys_team_status(struct rreq *, struct budget_status *st, char *label, size_t labellen);
void rt_keys_tick(struct router *);
void rt_keys_release(struct rreq *);
void rt_keys_new(struct router *);
void rt_keys_free(struct router *);
/* After the worker has stopped: what the leases hold of this minute goes back. */
void rt_limits_return(struct router *);
int rreq_tried(const struct rreq *, int idx);
/* Ask every provider whether it can honour q's request (engine thread, no lock). */
void rreq_check_capabilities(struct rreq *);
int rt_provider_capable(const struct rreq *, int idx);
/* An op request: does a provider it may go to speak the op at all? */
int rreq_op_served(const struct rreq *);
/* The request's input tokens before a provider counts them. */
int64_t rreq_input_estimate(const struct rreq *);
/* Nothing could honour the request: the 400 naming the field, in q->last_err; 1 if so. */
int rreq_refused(struct rreq *);
int rt_select_provider_locked(struct rreq *, uint64_t now);
int rt_provider_take_locked(struct provider *, struct attempt *, uint64_t now);
void rt_provider_settle_locked(struct router *, struct provider *, enum llm_errclass,
    const struct llm_error *, uint64_t latency_us, uint64_t now);
void
rt_breaker_event(struct router *, struct provider *, enum breaker_state before, const char *why);

/* router_probe.c */
void rt_probe_schedule(struct router *);

/* router_admin.c */
struct provider *rt_provider_lock(struct router *, const char *name, char **cause);
void rt_override_apply(void *arg, const char *name, const char *field, const char *value);
/* Start polling the database for other processes' overrides and events (no-op
 * without a store); router_free stops it, with r->mu held, and waits for it. */
void rt_sync_start(struct router *);
void rt_sync_stop_locked(struct router *);
/* Before router_free takes r->mu: the store's change hook off (it takes r->mu). */
void rt_sync_unhook(struct router *);
void rt_sync_free(struct router *);

/* router_snapshot.c: a finished request in the router's window (r->mu held). */
/*
 * Any thread, r->mu not held: the store's health into h (zeroed without a
 * store), and an event the first time a change of it is seen. Returns 1 when
 * the ledger refuses paid requests (its spool is full).
 */
struct store_health;
int rt_store_watch(struct router *, struct store_health *h);
void rt_window_record_request_locked(struct router *, enum llm_errclass, uint64_t latency_us);
/* An attempt's transfer went out / came back (r->mu held): the snapshot's in-flight ages. */
void rt_flying_add_locked(struct router *, struct attempt *);
void rt_flying_remove_locked(struct router *, struct attempt *);

/* router_drill.c (r->mu held): send hr, or if a drill picks this attempt make up its end
 * (on the engine thread, through hr's on_done) and return a made-up transfer id. */
uint64_t rt_drill_submit_locked(struct router *, struct attempt *, const struct http_request *);
void rt_drill_snapshot_locked(struct router *, struct router_snapshot *, uint64_t now);
/* router_drill.c (r->mu held): provider idx's drill as its stored row's value says
 * ("FAULT RATE START_MS END_MS DELAY_MS WHO"; stopped or over: none), scoped if the
 * row is for this instance only; and whether its drill now is such a one. */
void rt_drill_apply_locked(struct router *, int idx, const char *value, int scoped);
int rt_drill_scoped_locked(struct router *, int idx);
/* router_admin.c: store target's ("NAME" or "NAME@INSTANCE") override of field, and
 * note it as this router's own write. 0, or -1 (an error event said so). */
int rt_override_store(struct router *, const char *target, const char *field, const char *value);

/* router_requests.c: the live request view's hooks. "locked": r->mu held. */
void rt_reqview_submit_locked(struct rreq *);
void rt_reqview_attempt_locked(struct rreq *, struct attempt *);
/* An attempt ended (r->mu not held): its line in the request's detail. */
void rt_reqview_attempt_ended(struct rreq *, struct attempt *, enum llm_errclass, const char *error,
    uint64_t latency_us, double cost_usd);
/* The request finished with res: into the ring of recent ones, its view freed. */
void rt_reqview_finish_locked(struct rreq *, const struct router_result *);
void rt_requests_free(struct router *);

#endif
