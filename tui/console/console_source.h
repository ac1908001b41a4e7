/*
 * console_source.h: what the console draws comes from a source, and every
 * action goes back through it. Two kinds, one interface (tmux's clients and
 * server, k9s on a cluster):
 *
 *   local   the router inside this process (`llmdeck`, `--demo`, `--listen`):
 *           snapshots and operator calls are direct core calls;
 *   remote  a routing process reached through its admin API (`llmdeck attach`):
 *           GET /admin/v1/snapshot and /admin/v1/events, POST or PATCH for
 *           actions, over TCP or a Unix socket, on the HTTP engine's thread.
 *
 * Every call below is made on the console's UI thread and never blocks on the
 * network: a remote source's requests run on the engine thread and post their
 * results under the source's lock, then call the wake function so the UI
 * thread comes to take them. A source never draws and knows nothing of curses.
 */
#ifndef LLMDECK_CONSOLE_SOURCE_H
#define LLMDECK_CONSOLE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "router/events.h"
#include "router/router.h"

struct http_engine;
struct router;
struct store;
struct config;

/* The window the console asks for: share, error rate and latency over it. */
#define SOURCE_WINDOW_S 60

/* The routing process behind a source. */
struct source_instance {
	char id[64];
	long pid;
	char host[128];
	char version[32];
	int64_t started_ms; /* wall clock, 0 if unknown */
	char config[256];
	char database[256];
	char listen[128];     /* "http://127.0.0.1:8088", "" when it does not serve */
	char socket[256];     /* its admin Unix socket, or "" */
	char config_hash[20]; /* of the routing config it runs ("" unknown): drift shows */
	int draining;
	/* Its ledger's store: "" (none, or not reported), "ok", "failing" (rows go to
	 * the spool), "spool_full" (paid requests refused); the reason when not ok. */
	char store_status[16];
	char store_reason[160];
	/* Which database ("" none or not reported): the same on every instance sharing it,
	 * so a fleet-wide override is sent once per database. */
	char store_id[32];
};

/* The response cache, as the process reports it. */
struct source_cache {
	int present; /* 0: no database, or not reported */
	int enabled;
	int64_t entries;
	int64_t hits;
	int64_t misses;
	double hit_rate_all;       /* cache hits / every request; < 0 unknown */
	double hit_rate_cacheable; /* hits / (hits + misses): of cacheable requests; < 0 unknown */
	int ttl_seconds;           /* 0: unknown */
	double max_temperature;    /* < 0: unknown */
};

/* Today's budget. */
struct source_budget {
	int present;      /* 0: no database, or not reported */
	double daily_usd; /* 0: no daily budget */
	double spent_usd;
	double alert_threshold; /* fraction */
	int alert_crossed;
	int hard_stop;           /* 1, 0, or -1 unknown */
	double burn_per_hour;    /* spend over the last 60 minutes, per hour */
	double burn_5m_per_hour; /* over the last 5 minutes, per hour; < 0 unknown */
	double projected_usd;
	int under_pressure;
	double pressure;     /* fraction left below which downgrades start; < 0 unknown */
	char downgrade[128]; /* the first downgrade step, "from -> to", or "" */
};

/* Per provider, what struct provider_snapshot does not carry. */
struct source_provider_extra {
	char no_key[64];  /* the API key's variable when it is unset, else "" */
	char models[256]; /* the model aliases it serves, space-separated ("" unknown) */
	/* Totals since start (provider_snapshot.window has the windowed ones). */
	uint64_t p50_us, p95_us, p99_us;
};

/* One picture of a routing process. */
struct source_frame {
	struct source_instance inst;
	struct router_snapshot snap; /* snap.window_s > 0: the windowed numbers are filled */
	struct source_provider_extra *extra; /* snap.n_providers of them */
	struct source_budget budget;
	struct source_cache cache;
	char store_error[256]; /* why there is no database, or "" */
};

void source_frame_free(struct source_frame *);

/* An event with the instance it came from ("" if the source's own). */
struct source_event {
	struct event ev;
	char instance[64];
};

enum source_action {
	SA_DRAIN,
	SA_ENABLE,
	SA_DISABLE,
	SA_RESET,
	SA_PROBE,
	SA_CLEAR_OVERRIDES, /* provider "" or NULL: every provider */
	SA_PRIORITY,
	SA_WEIGHT,
	SA_FLUSH,
	SA_DRILL, /* through the drill op */
	SA__COUNT
};
/* "drain", "enable" ...: the admin API's word for it. */
const char *source_action_name(enum source_action);

/* An action's outcome, for the UI. */
struct source_result {
	enum source_action action;
	char provider[64];
	int ok;
	char text[512]; /* ok: what changed; else why it was refused or failed */
};

/* The connection to a source. A local source is always up. */
struct source_link {
	int up;             /* the last request got an answer */
	int ever_up;        /* some request ever did */
	char why[256];      /* when down: the last error */
	uint64_t retry_ms;  /* when down: the next try, monotonic */
	int64_t last_ok_ms; /* wall clock of the last good snapshot, 0 if none */
	int stopped;        /* not retrying until something changes (a rejected token) */
};

struct source;

/* A raw admin API call's callbacks (engine thread): data (NULL: the body is whole in
 * done) gets the body as it comes; done once, always: status -1 with why when no answer
 * came, else the status, the body (if data did not take it) and why for a non-2xx. */
struct source_call {
	void (*data)(void *arg, const char *bytes, size_t len);
	void (*done)(void *arg, long status, const char *body, size_t len, const char *why);
	void *arg;
};

struct source_ops {
	const char *kind; /* "local", "remote" */
	/* Ask for fresh data (a remote one sends its requests if none is out). */
	void (*poll)(struct source *);
	/* The newest frame if one came since the last take: 1 and *out replaced (the
	 * old one freed), else 0 and *out untouched. */
	int (*take)(struct source *, struct source_frame *out);
	/* New events since the last call, oldest first; returns how many (<= max). */
	size_t (*events)(struct source *, struct source_event *out, size_t max);
	/* Start an action. 0: under way (its result comes through results), -1: refused
	 * at once with *cause. value: the priority or the weight. */
	int (*act)(struct source *, enum source_action, const char *provider, double value,
	    char **cause);
	/* Finished actions, oldest first; returns how many (<= max). */
	size_t (*results)(struct source *, struct source_result *out, size_t max);
	void (*link)(struct source *, struct source_link *out);
	void (*free)(struct source *);
	/* A new bearer token (NULL: none), tried at once; NULL op: the source has none. */
	void (*set_token)(struct source *, const char *token);
	/* A fault drill in the process's router (POST .../drill): rate of the provider's
	 * attempts fail as fault for duration_s; "none" stops. Like act: 0 under way (the
	 * result comes through results), -1 refused with *cause. NULL op: not offered. */
	int (*drill)(struct source *, const char *provider, const char *fault, double rate,
	    int duration_s, char **cause);
	/* A request to the process's admin API (path "/admin/v1/..."; body JSON or NULL),
	 * answered through cb (console_requests.c: the request view, test prompts). NULL
	 * op: a local source, whose router the console calls itself. */
	void (*call)(struct source *, const char *method, const char *path, const char *body,
	    int timeout_ms, const struct source_call *cb);
};

struct source {
	const struct source_ops *ops;
	char name[128]; /* the target as given: "local", a URL, a socket path */
};

/* The embedded router (which outlives the source); store may be NULL; listen: the
 * URL the console serves on (--listen) and instance its id there, or NULL. */
struct source *source_local_new(struct router *, struct store *, const struct config *,
    const char *listen, const char *instance);

/*
 * A routing process's admin API. target: "http://HOST:PORT" (https too),
 * "HOST:PORT", or a Unix socket's path (anything holding a '/' that is not a
 * URL). token: the bearer token (NULL: none). Requests go through engine, which
 * must outlive the source and be freed before it. wake(arg) is called from the
 * engine thread whenever something arrives.
 */
struct source *source_remote_new(const char *target, const char *token, struct http_engine *engine,
    void (*wake)(void *), void *wake_arg);

/* JSON of the admin API into the console's types (console_source_json.c; no I/O). */
int source_parse_snapshot(const char *json, size_t len, struct source_frame *out, char **cause);
/* Events and the "last" id; *events (free it) gets *n of them. */
int source_parse_events(const char *json, size_t len, struct source_event **events, size_t *n,
    uint64_t *last, char **cause);
/* The message of a {"error":{"type","message"}} body, or NULL; the caller frees. */
char *source_parse_error(const char *json, size_t len);

#endif
