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

#include "budget.h"
#include "cache.h"
#include "config.h"
#include "events.h"
#include "router.h"
#include "theme.h"

struct store;
struct demo;
struct drill;
struct prompt;
struct console;

/* Command flags. */
#define CMD_DESTRUCTIVE 0x01 /* changes where traffic goes or drops data */
#define CMD_CONFIRM 0x02     /* ask y/n first */
#define CMD_READONLY_OK 0x04 /* allowed under --readonly */
#define CMD_PROVIDER 0x08    /* first argument: a provider, default the selected one */
#define CMD_ASK_ARGS 0x10    /* its key opens the command line to type the arguments */

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
};

#define CONSOLE_EVENTS 256
#define CONSOLE_MIN_W 80
#define CONSOLE_MIN_H 24
#define CONSOLE_RATE_SAMPLES 16

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

	struct config cfg;
	struct router *router;
	struct store *store;
	char *store_error;
	struct demo *demo;
	struct drill *drill;
	struct prompt *prompt;
	int wake[2]; /* workers write a byte to wake[1] */

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
	struct router_snapshot snap;
	int have_snap;
	uint64_t signature; /* of what was last drawn */
	struct budget_status budget;
	int have_budget;
	struct cache_stats cache;
	int have_cache;
	uint64_t next_store_ms;
	struct event events[CONSOLE_EVENTS];
	size_t n_events;
	int event_scroll; /* lines up from the newest */
	size_t selected;
	int table_y; /* screen row of the first provider, for clicks */
	int help_scroll;

	/* Rates over the last few refreshes. */
	struct {
		uint64_t t_ms;
		uint64_t requests;
		uint64_t failed;
		uint64_t attempts;
		uint64_t errors;
		double cost;
	} rate[CONSOLE_RATE_SAMPLES];
	size_t n_rate;
	double req_per_s;
	double err_rate;
	double burn_per_hour;

	/* The command line and confirmations. */
	char cmdline[512];
	size_t cmdlen;
	char confirm_line[512]; /* the command waiting for y/n */
	char message[512];
	int message_error;
	uint64_t message_ms;
};

/* console.c */
void console_message(struct console *, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void console_wake(struct console *);
/* Record an operator action the core does not record itself. */
void console_event(struct console *, enum event_kind, const char *provider, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const struct provider_snapshot *console_selected(struct console *);
void console_refresh(struct console *);
int console_set_theme(struct console *, const char *name, char **cause);

/* console_cmd.c */
const struct console_cmd *cmd_find(const char *name);
const struct console_cmd *cmd_by_key(int key);
/* Run a command line ("weight openai 0.5"); confirmations are asked first. */
void cmd_run_line(struct console *, const char *line, int confirmed);
/* Complete the word under the end of line; returns 1 if it changed. */
int cmd_complete(struct console *, char *line, size_t size);
/* "f" or "Enter" or "Up": what the help shows for a key. */
const char *cmd_key_name(int key, char *buf, size_t len);

/* console_draw.c */
void draw_screen(struct console *);
void draw_put(int y, int x, int w, const char *s);
int draw_text_width(const char *s);
void draw_box(struct console *, int y, int x, int h, int w, const char *title);

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
