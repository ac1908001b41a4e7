/*
 * console.h: the operations console's shared state, split by screen part:
 * console.c (options, main loop, input), console_cmd.c (the command table),
 * console_draw.c (panels), console_prompt.c (test prompts), console_color.c
 * (themes on the terminal), console_demo.c (simulated providers and load),
 * console_drill.c (fault drills over HTTP, off the UI thread).
 */
#ifndef LLMDECK_CONSOLE_H
#define LLMDECK_CONSOLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store/budget.h"
#include "store/cache.h"
#include "config/config.h"
#include "router/events.h"
#include "console/console_source.h"
#include "router/router.h"
#include "console/theme.h"

struct store;
struct gateway;
struct http_engine;
struct demo;
struct drill;
struct prompt;
struct console;

/* Command flags. */
#define CMD_DESTRUCTIVE 0x01       /* changes where traffic goes or drops data */
#define CMD_CONFIRM 0x02           /* ask y/n first */
#define CMD_READONLY_OK 0x04       /* allowed under --readonly */
#define CMD_PROVIDER 0x08          /* first argument: a provider, default the selected one */
#define CMD_ASK_ARGS 0x10          /* its key opens the command line to type the arguments */
#define CMD_CONFIRM_SERVING 0x20   /* ask y/n first when the console serves (--listen) */
#define CMD_EMBEDDED 0x40          /* needs the router in this process (not when attached) */
#define CMD_ALL_OK 0x80            /* its provider may be "all" */
#define CMD_CONFIRM_ATTACHED 0x100 /* ask y/n first when attached (it acts on production) */

struct console_cmd {
	const char *name;
	const char *alias; /* or NULL */
	int key;           /* 0: command line only */
	int key2;          /* a second key (arrows), 0 if none */
	const char *args;  /* usage of the arguments, "" if none */
	const char *help;  /* one line */
	int flags;
	int min_args; /* after the provider, if CMD_PROVIDER */
	/* argv[0] is the command's name; with CMD_PROVIDER argv[1] is the provider. */
	int (*exec)(struct console *, int argc, char **argv, char **cause);
};

extern const struct console_cmd console_cmds[];
extern const size_t console_ncmds;

enum console_mode {
	MODE_DASHBOARD,
	MODE_HELP,
	MODE_CMDLINE,
	MODE_CONFIRM,
	MODE_PROMPT,
	MODE_EVENTS,    /* the full-screen event log */
	MODE_INSTANCES, /* the instances, one block each */
	MODE_REQUESTS,  /* the live request view, or an attached test prompt's answer */
	MODE_KEYS,      /* teams and keys: spend, burn, share, 429s, budget left */
};

#define CONSOLE_EVENTS 1024
#define CONSOLE_MIN_W 80
#define CONSOLE_MIN_H 24
#define CONSOLE_HISTORY 32
#define CONSOLE_DRILLS 32
#define CONSOLE_PROBES 16
#define CONSOLE_UNDO 32

/* An override this console made, with what it replaced (console_outage.c). */
struct console_undo {
	unsigned batch; /* entries of one action share it */
	char arg[192];  /* "NAME" or "NAME@INSTANCE" */
	int scoped;     /* the action was for that instance only (NAME@INSTANCE typed) */
	enum source_action action;
	enum provider_admin admin; /* before */
	int priority;
	double weight;
};

/* One routing process on screen: the embedded router, or an attached one. */
struct console_target {
	struct source *src;
	char label[64]; /* the instance's id once known, else the target as given */
	struct source_frame frame;
	int have_frame;
	struct source_link link;
};

/* A row of the providers table: provider p of target t. */
struct console_row {
	size_t t;
	size_t p;
};

/* An event and the instance it came from. */
struct console_event {
	struct event ev;
	char instance[64];
	unsigned fold; /* > 1: this many probe results folded into the line */
};

/* The header's numbers over every target with a picture. */
struct console_totals {
	double req_per_s;      /* requests finished per second over the window */
	uint64_t win_requests; /* requests finished in the window */
	uint64_t win_failed;   /* of them, failed */
	uint64_t win_attempts; /* attempts sent in the window */
	uint64_t win_attempts_failed;
	double hit_all;       /* cache hits of all requests; < 0 unknown */
	double hit_cacheable; /* of cacheable requests; < 0 unknown */
	double spend;         /* today */
	uint64_t in_flight;
	uint64_t win_cancelled; /* callers that left, in the window: neither answered nor failed */
	uint64_t open_p50_us;   /* request latency incl. the waiting (the worst target's) */
	uint64_t open_p99_us;
	size_t n_up; /* targets whose link is up */
	int window_s;
};

struct console {
	struct gateway *gateway; /* --listen: the HTTP gateway on the console's router */
	/* Options. */
	const char *config_path;
	const char *db_path;
	int demo_on;
	double demo_rate;
	const char *theme_name;
	int no_color;
	int readonly;
	int attached; /* llmdeck attach: every target is a remote source */

	/* The embedded router (NULL when attached). */
	struct config cfg;
	struct router *router;
	struct store *store;
	struct demo *demo;
	struct drill *drill;
	struct prompt *prompt;
	struct reqview *reqview;    /* console_requests.c, made on first use */
	struct keyview *keyview;    /* console_keys.c, made on first use */
	char serving[128];          /* "HOST:PORT" the gateway serves on, or "" */
	struct http_engine *engine; /* the remote sources' transfers (attached) */
	int wake[2];                /* workers write a byte to wake[1] */

	/* What is drawn: the targets, and the table's rows over them. */
	struct console_target *targets;
	size_t n_targets;
	struct console_row *rows;
	size_t n_rows;
	struct console_totals totals;

	/* The terminal. */
	int utf8;
	int color_depth; /* 0 mono, 8, 16, 256, 24 (true colour) */
	struct theme theme;
	int mouse;

	/* What is on screen. */
	enum console_mode mode;
	int quit;
	int paused;
	int dirty;
	int refresh_ms;
	uint64_t next_refresh_ms;
	uint64_t signature; /* of what was last drawn */
	struct console_event events[CONSOLE_EVENTS];
	size_t n_events;
	int event_scroll;      /* lines up from the newest */
	int event_view_scroll; /* the full-screen log's, lines up from the newest */
	char event_class[16];  /* the log's filter by class ("probe" ...), "" none */
	char event_text[64];   /* and by text, "" none */
	size_t selected;       /* a row */
	int table_y;           /* screen row of the first provider row shown, for clicks */
	size_t table_top;      /* the first row shown when they do not all fit */
	int help_scroll;

	/* Drills this console started that are still on, by upstream URL. */
	struct {
		char base_url[256];
		char fault[16];
	} drills[CONSOLE_DRILLS];
	size_t n_drills;
	/* Probes asked for, to report their result when it shows. */
	struct {
		size_t t;
		char provider[LIMIT_NAME_SIZE];
		int64_t before_ms; /* last_probe_ms when asked */
	} probes[CONSOLE_PROBES];
	size_t n_probes;

	/* The command line, its history, and confirmations. */
	char cmdline[512];
	size_t cmdlen;
	char history[CONSOLE_HISTORY][512]; /* oldest first */
	size_t n_history;
	size_t history_pos; /* == n_history: the line being typed */
	char history_draft[512];
	char confirm_line[512]; /* the command waiting for y/n */
	char confirm_name[128]; /* not "": the name to type to confirm (it strands a model) */
	char confirm_typed[128];
	char confirm_what[512]; /* the question, before what was typed */
	struct console_undo undo[CONSOLE_UNDO];
	size_t n_undo;
	unsigned undo_batch;
	char message[512];
	int message_error;
	uint64_t message_ms;
	uint64_t results_ms; /* when actions' outcomes last set the message */
};

/* console.c */
struct console *console_new(void);
void console_free(struct console *);
/* Add a target; the console owns the source. */
void console_add_target(struct console *, struct source *);
/* A remote source on the console's HTTP engine (started on first use), waking the UI. */
struct source *console_remote(struct console *, const char *target, const char *token);
/* The screen on the targets added: curses, the loop until quit; 0 or an exit code. */
int console_ui(struct console *);
/* --theme NAME: 0, or -1 with the themes listed on stderr. */
int console_check_theme(const char *name);
void console_message(struct console *, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void console_wake(struct console *);
/* Record an operator action the core does not record itself. */
void console_event(struct console *, enum event_kind, const char *provider, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The selected row's provider and target (NULL: no rows). */
const struct provider_snapshot *console_selected(struct console *);
struct console_target *console_selected_target(struct console *);
/* A view's target *t (back to the first when it is gone), or NULL with none. */
struct console_target *console_target_at(struct console *, size_t *t);
/* Poll the sources and take what came back. */
void console_refresh(struct console *);
void console_collect(struct console *);
/* Targets a provider argument names: "NAME" (every target that has it) or
 * "NAME@INSTANCE". Fills ts (up to max) and returns how many; *name gets the bare
 * name (inside arg's copy in buf). */
size_t
console_resolve(struct console *, const char *arg, size_t *ts, size_t max, char *buf, size_t len);
/* The provider named name in target t, or NULL. */
const struct provider_snapshot *
console_target_provider(struct console *, size_t t, const char *name);
/* A fleet-wide override is one row in the database every instance on it reads: of
 * targets ts, keep one per database (the first that answers; those that report none
 * stay). Returns how many are left, in order. */
size_t console_once_per_store(struct console *, size_t *ts, size_t n);
/* A drill this console started on base_url (fault "none" ends it). */
void console_drill_mark(struct console *, const char *base_url, const char *fault);
/* The drill on provider p's upstream, or NULL. */
const char *console_drill_on(struct console *, const struct provider_snapshot *p);
int console_set_theme(struct console *, const char *name, char **cause);

/* console_cmd.c */
const struct console_cmd *cmd_find(const char *name);
const struct console_cmd *cmd_by_key(int key);
/* Run a command line ("weight openai 0.5"); confirmations are asked first. */
void cmd_run_line(struct console *, const char *line, int confirmed);
/* Complete the word under the end of line; returns 1 if it changed. */
int cmd_complete(struct console *, char *line, size_t size);
/* A key on the : line (history, completion, editing). */
void cmdline_key(struct console *, int is_key, unsigned int ch);
/* "f" or "Enter" or "Up": what the help shows for a key. */
const char *cmd_key_name(int key, char *buf, size_t len);

/* console_draw.c */
void draw_screen(struct console *);
void draw_put(int y, int x, int w, const char *s);
void draw_putf(int y, int x, int w, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void draw_fill(int y, int x, int w);
int draw_text_width(const char *s);
void draw_box(struct console *, int y, int x, int h, int w, const char *title);
/* A level 0..8 in eighths of a cell (block characters, or ASCII). */
void draw_level(struct console *, int y, int x, int level);
void draw_fmt_us(char *out, size_t len, uint64_t us);
void draw_fmt_usd(char *out, size_t len, double usd);
/* Word-wrap text at width columns, drawing the lines that fall strictly between top
 * and bottom; returns how many lines it took. */
int draw_wrapped(int first_row, int top, int bottom, int x, int width, const char *text);
/* Is the command usable here (--readonly hides actions, attached hides prompts)? */
int cmd_available(struct console *, const struct console_cmd *);

/* console_table.c */
void draw_providers(struct console *, int y, int h);
/* A sparkline of a window's requests (errors_only: errors) on ncell cells scaled to
 * max per cell; cells with errors in the error colour. */
void draw_spark(struct console *, int y, int x, const struct window_stats *, int window_s,
    int ncell, uint32_t max, int errors_only);
uint32_t draw_spark_max(struct console *, int ncell, int errors_only);
/* The glossary of columns, states and header figures; returns the lines it took. */
int draw_glossary(struct console *, int row, int top, int bottom, int x, int w);

/* console_panels.c */
void draw_latency(struct console *, int y, int x, int h, int w);
void draw_budget(struct console *, int y, int x, int h, int w);
void draw_cache(struct console *, int y, int x, int h, int w);

/* console_events.c */
/* The classes the filter knows, NULL-terminated. */
extern const char *const event_classes[];
const char *event_class(const struct console_event *);
/* Fold a probe result into the last line if it repeats it; 1 if folded. */
int event_fold(struct console *, const struct event *, const char *instance);
int event_shown(struct console *, const struct console_event *);
/* Indices of the events the filter lets through (out: n_events of room). */
size_t event_indices(struct console *, size_t *out);
void event_filter_words(struct console *, char *out, size_t len);
void
draw_event_line(struct console *, int y, int x, int w, const struct console_event *, int fleet);
void draw_event_view(struct console *);

/* console_instances.c */
/* An instance's state in a word: up, draining, store-failing, spool-full, LOST, 401. */
const char *instance_state(struct console *, size_t t);
/* Does target t run another config than most of the fleet? */
int instance_drifted(struct console *, size_t t);
void draw_instances(struct console *);
/* In a fleet, each instance's answered and p99 on one line at y; 1 if drawn. */
int draw_fleet_line(struct console *, int y);

/* console_outage.c */
/* Would taking the provider arg names out of traffic leave a model with no usable
 * provider? The models it strands ("M", ...) in models; returns how many. */
int outage_if_removed(struct console *, const char *arg, char *models, size_t len);
/* The no-usable-provider banners from row y, at most max; returns the lines drawn. */
int draw_outages(struct console *, int y, int max);
/* Remember what an action on arg is about to replace, for undo_last. */
void undo_remember(struct console *, const char *arg, enum source_action);
/* Put back what this console's last override replaced (an operator event says so). */
int undo_last(struct console *, char **cause);

/* console_color.c */
void color_setup(struct console *);
int color_attr(struct console *, enum theme_color);

/* console_prompt.c */
struct prompt *prompt_new(struct console *);
void prompt_free(struct prompt *);
void prompt_open(struct console *);
/* A key in the prompt panel (wide character or KEY_*). */
void prompt_key(struct console *, int is_key, unsigned int ch);
/* Take what the engine thread posted; 1 if something changed. */
int prompt_poll(struct console *);
void prompt_draw(struct console *, int y, int x, int h, int w);
extern const char *const prompt_keys_help;

/* console_requests.c: the live request view; a test prompt through an attached
 * gateway (:prompt [--provider NAME] TEXT on the selected instance). */
struct reqview;
void reqview_open(struct console *);
void reqview_free(struct reqview *);
void reqview_key(struct console *, int is_key, unsigned int ch);
/* Fetch while the view is open, take what came; 1 if something changed. */
int reqview_poll(struct console *);
void draw_requests(struct console *);
int reqview_prompt(struct console *, int argc, char **argv, char **cause);

/* console_keys.c: teams and keys (K or :keys), sorted by a column s cycles. */
struct keyview;
void keyview_open(struct console *);
/* Stops its reader thread: before the store is closed, after the engine is freed. */
void keyview_free(struct keyview *);
void keyview_key(struct console *, int is_key, unsigned int ch);
/* Fetch while the view is open (every 2 s), take what came; 1 if something changed. */
int keyview_poll(struct console *);
void draw_keys(struct console *);

/* console_demo.c */
/* Start the simulated providers and fill cfg; -1 with *cause. */
struct demo *demo_start(struct config *, char **cause);
/* Start the synthetic load once the router exists. */
void demo_load_start(struct demo *, struct router *, double rate);
void demo_load_stop(struct demo *);
/* Stop the sims (after the router is freed) and free. */
void demo_stop(struct demo *);

/* console_drill.c */
struct drill *drill_start(struct console *);
void drill_stop(struct drill *);
/* Queue a fault for provider's base URL; results come back as messages and events. */
int drill_post(struct drill *, const char *provider, const char *base_url, const char *fault,
    char **cause);
/* Names of the drills, NULL-terminated, for help and completion. */
extern const char *const drill_names[];
/* Deliver finished drills to the UI (on the UI thread); 1 if any. */
int drill_poll(struct console *);

#endif
