/*
 * tmux_testutil.h: what the console tests share: the real binary run in a
 * tmux server of the test's own (-L socket), keys sent with send-keys, and
 * the screen polled with capture-pane until a text (or a pattern) shows or
 * goes, always within a bound.
 */
#ifndef LLMDECK_TMUX_TESTUTIL_H
#define LLMDECK_TMUX_TESTUTIL_H

#include "util/util.h"

/* The longest a screen is waited for. */
#define TMUX_WAIT_MS 15000

struct tmux {
	char sock[64]; /* the tmux server's -L name */
	char dir[64];  /* a scratch directory, removed by tmux_free */
};

/* 1 if tmux runs here. */
int tmux_have(void);
/* A fixture with its own server name and a fresh /tmp/llmdeck-<what>-XXXXXX. */
struct tmux *tmux_new(const char *what);
/* Kill the server, remove the directory, free. NULL is a no-op. */
void tmux_free(struct tmux *);

/* The llmdeck binary: $LLMDECK, else build/llmdeck. */
const char *tmux_llmdeck(void);
/* Run argv, stdout into out (may be NULL); the exit status, -1 if it died. */
int tmux_run(const char *const argv[], struct buf *out);

/* A session "t" of w x h running the shell command cmd. Fails the test if tmux does. */
void tmux_start(struct tmux *, int w, int h, const char *cmd);
/* The screen as text (caller frees). */
char *tmux_capture(struct tmux *);
/* Poll until needle is on screen (absent: until it is gone); 0 and the last screen
 * printed if it never happens. */
int tmux_wait(struct tmux *, const char *needle, int absent);
/* Poll until a line matches the extended regular expression. */
int tmux_wait_regex(struct tmux *, const char *pattern);
/* send-keys: literal text, or a key name ("Enter", "Up", "C-u"). */
void tmux_keys(struct tmux *, int literal, const char *k);
/* Any other tmux command on the server (up to five arguments, NULL-terminated). */
void
tmux_cmd(struct tmux *, const char *a, const char *b, const char *c, const char *d, const char *e);

#endif
