/*
 * test_console.c: the console driven in tmux. Each test starts the real binary
 * (--demo, its own database) in a tmux server of its own (-L socket), sends
 * keys and polls capture-pane until the expected text appears, bounded.
 * Without tmux: skipped (run-tests.sh says SKIP), a failure under CI=true.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "testkit.h"
#include "tmux_testutil.h"
#include "util/util.h"

struct tm_fixture {
	struct tmux *t;
	const char *dir; /* the test's scratch directory (t's) */
	char db[160];
};

/* Start the console with extra flags (env: assignments before it, "" if none), in a
 * window of w x h; waits for the dashboard if asked. */
static void
start_env(struct tm_fixture *f, const char *env, const char *flags, int w, int h,
    int wait_dashboard)
{
	char *cmd = xasprintf("LANG=C.UTF-8 %s %s --db %s %s; echo EXIT=$?; sleep 120", env,
	    tmux_llmdeck(), f->db, flags);

	tmux_start(f->t, w, h, cmd);
	free(cmd);
	if (wait_dashboard)
		assert_true(tmux_wait(f->t, "Providers", 0));
}

/* Start the demo console with extra flags at 140x45; waits for the dashboard. */
static void
start(struct tm_fixture *f, const char *flags, int wait_dashboard)
{
	char *all = xasprintf("--demo %s", flags);

	start_env(f, "", all, 140, 45, wait_dashboard);
	free(all);
}

static int
setup(void **state)
{
	struct tm_fixture *f;

	if (!tmux_have()) {
		*state = NULL; /* each test then says testkit_missing("tmux") */
		return 0;
	}
	f = xcalloc(1, sizeof *f);
	f->t = tmux_new("console");
	f->dir = f->t->dir;
	snprintf(f->db, sizeof f->db, "%s/test.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct tm_fixture *f = *state;

	if (f == NULL)
		return 0;
	tmux_free(f->t);
	free(f);
	return 0;
}

#define NEED_TMUX(f) \
	do { \
		if ((f) == NULL) \
			testkit_missing("tmux"); \
	} while (0)

static void
test_dashboard(void **state)
{
	struct tm_fixture *f = *state;
	static const char *const names[] = {"anthropic", "openai", "azure", "mistral", "llama"};

	NEED_TMUX(f);
	start(f, "", 1);
	assert_true(tmux_wait(f->t, "DEMO", 0));
	for (size_t i = 0; i < 5; i++)
		assert_true(tmux_wait(f->t, names[i], 0));
	assert_true(tmux_wait(f->t, "Budget today", 0));
	/* Burn over 5 and 60 minutes, each labelled, and which one the day's end uses. */
	assert_true(tmux_wait_regex(f->t, "burn 5m \\$[0-9.]+/h  60m \\$[0-9.]+/h"));
	assert_true(tmux_wait_regex(f->t, "day end \\$[0-9.]+ at (5m|60m) rate"));
	assert_true(tmux_wait(f->t, "Cache", 0));
	assert_true(tmux_wait(f->t, "Events", 0));
	assert_true(tmux_wait(f->t, "Latency: anthropic", 0));
	/* Live traffic: a p50 shows up for the first provider. */
	assert_true(tmux_wait(f->t, "p50 ", 0));
}

static void
test_help_lists_every_command(void **state)
{
	struct tm_fixture *f = *state;
	const char *argv[] = {tmux_llmdeck(), "--demo", "--commands", NULL};
	struct buf out;
	char *line, *save = NULL;
	int n = 0;

	NEED_TMUX(f);
	buf_init(&out);
	assert_int_equal(tmux_run(argv, &out), 0);
	buf_puts(&out, "");
	/* Tall enough for every command at once (the glossary follows them). */
	start_env(f, "", "--demo", 140, 60, 1);
	tmux_keys(f->t, 0, "?");
	assert_true(tmux_wait(f->t, "Keys, commands", 0));
	for (line = strtok_r(out.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], *needle;
		if (sscanf(line, "%63s", name) != 1)
			continue;
		needle = xasprintf(":%s", name);
		assert_true(tmux_wait(f->t, needle, 0));
		free(needle);
		n++;
	}
	assert_true(n >= 20);
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "Keys, commands", 1));
	buf_free(&out);
}

static void
test_weight_changes_table_and_logs(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 1, ":weight openai 0.5");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "0.50*", 0));
	assert_true(tmux_wait(f->t, "openai weight 3.00 -> 0.50", 0));
	/* A bad value is refused with a message, nothing changes. */
	tmux_keys(f->t, 1, ":weight openai lots");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "expected a number", 0));
	/* Tab completes commands and provider names. */
	tmux_keys(f->t, 1, ":prio");
	tmux_keys(f->t, 0, "Tab");
	tmux_keys(f->t, 1, "mis");
	tmux_keys(f->t, 0, "Tab");
	tmux_keys(f->t, 1, "3");
	assert_true(tmux_wait(f->t, ":priority mistral 3", 0));
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "mistral priority 1 -> 3", 0));
	/* The config's range (config_limits.h), not a narrower one: 5000 can be set and raised. */
	tmux_keys(f->t, 1, ":priority mistral 5000");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "mistral priority 3 -> 5000", 0));
	tmux_keys(f->t, 1, ":raise mistral");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "mistral priority 5000 -> 4999", 0));
}

static void
test_failover_then_prompt_elsewhere(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "", 1);
	/* anthropic alone serves claude-sonnet: its name is typed, not a y. */
	tmux_keys(f->t, 0, "f");
	assert_true(tmux_wait(f->t, "Type anthropic and Enter", 0));
	tmux_keys(f->t, 1, "anthropic");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "anthropic drained", 0));
	assert_true(tmux_wait(f->t, "operator: failover: anthropic drained", 0));
	tmux_keys(f->t, 0, "p");
	assert_true(tmux_wait(f->t, "Test prompt", 0));
	tmux_keys(f->t, 1, "Which provider answers? é ✓");
	tmux_keys(f->t, 0, "C-d");
	assert_true(tmux_wait(f->t, "answered by ", 0));
	s = tmux_capture(f->t);
	assert_null(strstr(s, "answered by anthropic"));
	assert_non_null(strstr(s, "attempt 1: "));
	assert_non_null(strstr(s, "You asked: Which provider answers? é ✓"));
	free(s);
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "Latency:", 0));
}

static void
test_enable_disable(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "j");
	assert_true(tmux_wait(f->t, ">openai", 0));
	/* openai alone serves gpt-4o-mini: disabling it wants its name. */
	tmux_keys(f->t, 0, "d");
	assert_true(tmux_wait(f->t, "leaves no usable provider for gpt-4o-mini", 0));
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "cancelled", 0));
	tmux_keys(f->t, 0, "d");
	assert_true(tmux_wait(f->t, "Type openai and Enter", 0));
	tmux_keys(f->t, 1, "openai");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "openai disabled", 0));
	assert_true(tmux_wait(f->t, "no usable provider for model gpt-4o-mini: openai disabled",
	    0));
	assert_true(tmux_wait(f->t, "operator: openai enabled -> disabled", 0));
	tmux_keys(f->t, 1, ":enable openai");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "operator: openai disabled -> enabled", 0));
}

static void
test_flush_empties_cache(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--demo-rate 40", 1);
	assert_true(tmux_wait(f->t, "entries 0 ", 1)); /* the load fills the cache */
	tmux_keys(f->t, 0, "F");
	assert_true(tmux_wait(f->t, "(y/n)", 0));
	tmux_keys(f->t, 0, "y");
	assert_true(tmux_wait(f->t, "operator: cache flushed", 0));
	assert_true(tmux_wait(f->t, "cache flushed:", 0));
}

static void
test_tiny_terminal(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_cmd(f->t, "resize-window", "-t", "t", "-x", "30");
	tmux_cmd(f->t, "resize-window", "-t", "t", "-y", "8");
	assert_true(tmux_wait(f->t, "terminal too small", 0));
	assert_true(tmux_wait(f->t, "(need 80x24)", 0));
	tmux_cmd(f->t, "resize-window", "-t", "t", "-x", "140");
	tmux_cmd(f->t, "resize-window", "-t", "t", "-y", "45");
	assert_true(tmux_wait(f->t, "Providers", 0));
	assert_true(tmux_wait(f->t, "terminal too small", 1));
}

/* At 80x24 nothing the README promises is cut: the footer has every key, help wraps,
 * the latency line keeps its labels. */
static void
test_80x24_whole_lines(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start_env(f, "", "--demo", 80, 24, 1);
	/* R the request view, K the keys view (when the console has one): every key, and
	 * the line ends whole. */
	assert_true(tmux_wait_regex(f->t,
	    "^\\? help  keys: : f e d r P w \\+ - u p R (K )?D F / E t Space q quit *$"));
	assert_true(tmux_wait_regex(f->t, "p50[ /].* ok [0-9.kM]+ err [0-9.kM]+ "));
	assert_true(tmux_wait_regex(f->t, "answered [0-9.]+%  p50 [^ ]+ p99 "));
	tmux_keys(f->t, 0, "?");
	assert_true(tmux_wait(f->t, "Keys and glossary (Up/Down PgUp/PgDn, other keys close)", 0));
	assert_true(tmux_wait(f->t, "show every key and command, and", 0));
	assert_true(tmux_wait_regex(f->t, "what each column and state means +│"));
	assert_true(tmux_wait(f->t, "(this screen)", 0));
	/* Further down, the request view's entry, wrapped whole: page until it shows. */
	{
		regex_t re;
		int found = 0;
		assert_int_equal(regcomp(&re, "R +:requests +the live request view: requests in +│",
		                     REG_EXTENDED | REG_NOSUB),
		    0);
		char *was = tmux_capture(f->t);
		for (int i = 0; i < 15 && !found; i++) {
			char *s = NULL;
			tmux_keys(f->t, 0, "NPage");
			/* The page drawn: the screen changes (at the end it does not, 2 s). */
			for (int k = 0; k < 40; k++) {
				free(s);
				s = tmux_capture(f->t);
				if (strcmp(s, was) != 0)
					break;
				usleep(50 * 1000);
			}
			found = regexec(&re, s, 0, NULL, 0) == 0;
			free(was);
			was = s;
		}
		free(was);
		regfree(&re);
		assert_true(found);
	}
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "Keys and glossary", 1));
}

static void
test_quit_restores_terminal(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "q");
	assert_true(tmux_wait(f->t, "EXIT=", 0));
	s = tmux_capture(f->t);
	assert_non_null(strstr(s, "EXIT=0"));
	assert_null(strstr(s, "Providers")); /* the alternate screen is gone */
	free(s);
}

static void
test_readonly_refuses(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "--readonly", 1);
	assert_true(tmux_wait(f->t, "read-only", 0));
	tmux_keys(f->t, 0, "f");
	assert_true(tmux_wait(f->t, "read-only: \"failover\" refused", 0));
	tmux_keys(f->t, 1, ":weight openai 0.5");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "read-only: \"weight\" refused", 0));
	tmux_keys(f->t, 0, "p");
	assert_true(tmux_wait(f->t, "read-only: \"prompt\" refused", 0));
	s = tmux_capture(f->t);
	assert_null(strstr(s, "0.50*"));
	assert_null(strstr(s, "drained"));
	free(s);
	tmux_keys(f->t, 0, "?"); /* looking is allowed */
	assert_true(tmux_wait(f->t, "Keys, commands", 0));
}

static void
test_broken_theme_names_line(void **state)
{
	struct tm_fixture *f = *state;
	char path[160], *flags;
	FILE *fp;

	NEED_TMUX(f);
	snprintf(path, sizeof path, "%s/broken.theme", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("# a broken theme\nprovider_up = #00ff00 bold\nbreaker_open = #zzzzzz\n", fp);
	fclose(fp);
	flags = xasprintf("--theme %s", path);
	start(f, flags, 1);
	free(flags);
	assert_true(tmux_wait(f->t, "broken.theme:3:", 0));
	assert_true(tmux_wait(f->t, "using the default theme", 0));
	/* Live switch to a good one, then to a missing one. */
	tmux_keys(f->t, 1, ":theme light");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "theme light", 0));
	tmux_keys(f->t, 1, ":theme nosuch");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "no theme \"nosuch\" (themes: ", 0));
}

static void
test_drill(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--demo-rate 20", 1);
	tmux_keys(f->t, 1, ":drill mistral down");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "drill down on mistral", 0));
	tmux_keys(f->t, 1, ":drill mistral none");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "drill none on mistral", 0));
	tmux_keys(f->t, 1, ":drill mistral nonsense");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "unknown fault", 0));
}

static void
test_demo_creates_its_database_in_a_fresh_state_dir(void **state)
{
	struct tm_fixture *f = *state;
	char *cmd, *db;
	struct stat st;

	NEED_TMUX(f);
	cmd = xasprintf("XDG_STATE_HOME=%s/fresh/state LANG=C.UTF-8 %s --demo; echo EXIT=$?; "
	                "sleep 120",
	    f->dir, tmux_llmdeck());
	tmux_start(f->t, 140, 45, cmd);
	free(cmd);
	assert_true(tmux_wait(f->t, "Providers", 0));
	assert_true(tmux_wait(f->t, "spent $", 0));
	assert_true(tmux_wait(f->t, "no database", 1));
	db = xasprintf("%s/fresh/state/llmdeck/demo.db", f->dir);
	assert_int_equal(stat(db, &st), 0);
	free(db);
	tmux_keys(f->t, 1, "q");
	assert_true(tmux_wait(f->t, "EXIT=0", 0));
}

/* A loopback port nobody listens on right now. */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
test_listen_serves_applications_through_the_console_router(void **state)
{
	struct tm_fixture *f = *state;
	char flags[64], url[96], want[96];
	struct buf body;
	long status = 0;
	int port;

	NEED_TMUX(f);
	port = free_port();
	snprintf(flags, sizeof flags, "--listen 127.0.0.1:%d", port);
	start(f, flags, 1);
	snprintf(want, sizeof want, "gateway listening on http://127.0.0.1:%d", port);
	assert_true(tmux_wait(f->t, want, 0));

	/* An application's request, pinned to the console's mistral provider. */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
	status = testkit_post_json(url,
	    "{\"model\":\"mistral-large\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"ping from an application\"}]}",
	    &body);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body.data, "ping from an application"));
	assert_non_null(strstr(body.data, "[mistral]"));
	buf_free(&body);
	/* The header says it serves; quitting stops the gateway, so it asks first. */
	snprintf(want, sizeof want, "serving on 127.0.0.1:%d", port);
	assert_true(tmux_wait(f->t, want, 0));
	tmux_keys(f->t, 1, "q");
	assert_true(tmux_wait(f->t, "this stops the gateway serving on", 0));
	tmux_keys(f->t, 1, "n");
	assert_true(tmux_wait(f->t, "cancelled: quit", 0));
	tmux_keys(f->t, 1, "q");
	assert_true(tmux_wait(f->t, "(y/n)", 0));
	tmux_keys(f->t, 1, "y");
	assert_true(tmux_wait(f->t, "EXIT=0", 0));
}

/* "?" explains every column, state and header figure, not only the keys. */
static void
test_help_has_a_glossary(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "?");
	assert_true(tmux_wait(f->t, "Keys, commands", 0));
	tmux_keys(f->t, 0, "NPage");
	tmux_keys(f->t, 0, "NPage");
	assert_true(tmux_wait(f->t, "Columns (the providers table)", 0));
	tmux_keys(f->t, 0, "NPage");
	tmux_keys(f->t, 0, "NPage");
	tmux_keys(f->t, 0, "NPage");
	assert_true(tmux_wait(f->t, "States (the STATE column)", 0));
	assert_true(tmux_wait(f->t, "half-open", 0));
	tmux_keys(f->t, 0, "NPage");
	tmux_keys(f->t, 0, "NPage");
	assert_true(tmux_wait(f->t, "failed attempts / attempts, in the window", 0));
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "Keys, commands", 1));
}

/* A drained provider is marked on its row; clearing its overrides asks, naming it. */
static void
test_markers_and_confirmations_name_the_target(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "f");
	assert_true(tmux_wait(f->t,
	    "failover anthropic leaves no usable provider for claude-sonnet; claude-haiku", 0));
	tmux_keys(f->t, 1, "anthropic");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait_regex(f->t, ">anthropic +D\\* +drained"));
	assert_true(tmux_wait(f->t, "no usable provider for model claude-sonnet: anthropic drained",
	    0));
	tmux_keys(f->t, 0, "U");
	assert_true(tmux_wait(f->t, "clear-overrides anthropic: drop", 0));
	tmux_keys(f->t, 0, "y");
	assert_true(tmux_wait(f->t, "overrides of anthropic reset to the config", 0));
	assert_true(tmux_wait_regex(f->t, ">anthropic +up"));
	/* A drill this console started marks the row too, until it is cleared. */
	tmux_keys(f->t, 1, ":drill mistral 500");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait_regex(f->t, " mistral +!"));
	tmux_keys(f->t, 1, ":drill mistral none");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait_regex(f->t, " mistral +(up|OPEN|half)"));
}

/* A probe's result shows: as a message, and in the latency panel with its age. */
static void
test_probe_result_shows(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "P");
	assert_true(tmux_wait(f->t, "anthropic: health probe sent", 0));
	assert_true(tmux_wait(f->t, "anthropic: probe ok in ", 0));
	assert_true(tmux_wait_regex(f->t, "probe: ok in [0-9]+ ms, [0-9]+s ago"));
}

/* Probe results in a row fold into one line; the filter keeps one kind (or text); the
 * full-screen view shows the log with its filter. */
static void
test_events_fold_and_filter(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 0, "P");
	assert_true(tmux_wait(f->t, "anthropic: probe ok in ", 0));
	tmux_keys(f->t, 0, "j");
	tmux_keys(f->t, 0, "P");
	assert_true(tmux_wait(f->t, "openai: probe ok in ", 0));
	tmux_keys(f->t, 0, "j");
	tmux_keys(f->t, 0, "P");
	assert_true(tmux_wait(f->t, "azure: probe ok in ", 0));
	assert_true(tmux_wait_regex(f->t, "probes ok x3 \\(last: azure ok in [0-9]+ ms\\)"));
	/* An operator's action, then only those. */
	tmux_keys(f->t, 1, ":weight mistral 2");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait_regex(f->t, ">operator +mistral"));
	tmux_keys(f->t, 0, "/");
	tmux_keys(f->t, 1, "operator");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "Events [kind operator]", 0));
	assert_true(tmux_wait(f->t, "probes ok x3", 1));
	assert_true(tmux_wait_regex(f->t, ">operator +mistral"));
	/* By text. */
	tmux_keys(f->t, 1, ":filter azure");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "Events [text azure]", 0));
	assert_true(tmux_wait(f->t, "probes ok x3", 0));
	tmux_keys(f->t, 1, ":filter off");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "event filter off", 0));
	/* The whole log, full screen. */
	tmux_keys(f->t, 0, "E");
	assert_true(tmux_wait_regex(f->t, "Events [0-9]+-[0-9]+ of [0-9]+ \\(Up/Down"));
	tmux_keys(f->t, 0, "Escape");
	assert_true(tmux_wait(f->t, "Latency:", 0));
	/* u takes the weight back to what it was, and says so. */
	tmux_keys(f->t, 0, "u");
	assert_true(tmux_wait(f->t, "undo weight mistral: back to weight", 0));
	assert_true(tmux_wait_regex(f->t, " mistral +\\* +up +1 +1\\.00\\*"));
}

/* The header's error rate is failed requests; failed attempts are apart. A provider
 * that fails every attempt, with failover on, fails no request. */
static void
test_header_counts_failed_requests_not_attempts(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--demo-rate 20", 1);
	assert_true(tmux_wait(f->t, "last 60s", 0));
	tmux_keys(f->t, 1, ":drill anthropic 500");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "drill on anthropic: every request 500", 0));
	assert_true(tmux_wait_regex(f->t, "attempts failed [0-9]*[1-9][0-9]*\\.[0-9]%"));
	assert_true(tmux_wait(f->t, "failed 0.0%", 0));
	/* The window's error rate on its row, the total since start in the panel. */
	assert_true(tmux_wait_regex(f->t, ">anthropic .* [1-9][0-9]*\\.[0-9] "));
	assert_true(tmux_wait_regex(f->t, "since start: .* attempts, [1-9][0-9]*\\.[0-9]% failed"));
}

/* The command line remembers: Up brings the last line back, Down goes forward. */
static void
test_cmdline_history(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_keys(f->t, 1, ":weight openai 0.5");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "openai: weight 0.5", 0));
	tmux_keys(f->t, 1, ":refresh 400");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "refresh every 400 ms", 0));
	tmux_keys(f->t, 1, ":");
	tmux_keys(f->t, 0, "Up");
	assert_true(tmux_wait(f->t, ":refresh 400", 0));
	tmux_keys(f->t, 0, "Up");
	assert_true(tmux_wait(f->t, ":weight openai 0.5", 0));
	tmux_keys(f->t, 0, "Down");
	assert_true(tmux_wait(f->t, ":refresh 400", 0));
	tmux_keys(f->t, 0, "C-u");
	tmux_keys(f->t, 1, "weight openai 2");
	tmux_keys(f->t, 0, "Enter");
	assert_true(tmux_wait(f->t, "openai: weight 2", 0));
}

/* --readonly hides the action keys (hints and help), not only refuses them. */
static void
test_readonly_hides_actions(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "--readonly", 1);
	assert_true(tmux_wait(f->t, "? help", 0));
	s = tmux_capture(f->t);
	assert_null(strstr(s, "f failover"));
	assert_null(strstr(s, "F flush"));
	free(s);
	tmux_keys(f->t, 0, "?");
	assert_true(tmux_wait(f->t, ":pause", 0));
	s = tmux_capture(f->t);
	assert_null(strstr(s, ":failover"));
	assert_null(strstr(s, ":weight"));
	assert_non_null(strstr(s, ":theme"));
	free(s);
}

/* --theme with a name that is not there lists the ones that are. */
static void
test_unknown_theme_lists_themes(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--theme nosuch", 0);
	assert_true(tmux_wait(f->t, "EXIT=2", 0));
	assert_true(tmux_wait(f->t, "no theme \"nosuch\" (themes: ", 0));
	assert_true(tmux_wait(f->t, "monochrome", 0));
}

/* Under NO_COLOR, t says why nothing changes. */
static void
test_no_color_turns_themes_off(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start_env(f, "NO_COLOR=1", "--demo", 140, 45, 1);
	tmux_keys(f->t, 0, "t");
	assert_true(tmux_wait(f->t, "themes are off: NO_COLOR is set", 0));
}

/* A database that is not one is refused, as every command refuses it. */
static void
test_corrupt_database_refused(void **state)
{
	struct tm_fixture *f = *state;
	FILE *fp = fopen(f->db, "w");

	NEED_TMUX(f);
	assert_non_null(fp);
	for (int i = 0; i < 512; i++)
		fputs("not a database at all\n", fp);
	fclose(fp);
	start(f, "", 0);
	assert_true(tmux_wait(f->t, "EXIT=1", 0));
	assert_true(tmux_wait(f->t, "is corrupt or not an llmdeck database", 0));
}

/* A provider whose key variable is unset says so from the start. */
static void
test_provider_without_key(void **state)
{
	struct tm_fixture *f = *state;
	char path[160], *flags;
	FILE *fp;

	NEED_TMUX(f);
	snprintf(path, sizeof path, "%s/config.json", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("{\"providers\":[{\"name\":\"keyless\",\"kind\":\"openai\","
	      "\"base_url\":\"http://127.0.0.1:9\",\"api_key_env\":\"LLMDECK_TEST_UNSET_KEY\","
	      "\"models\":[\"gpt-4o\"]},"
	      "{\"name\":\"local\",\"kind\":\"openai\",\"flavor\":\"ollama\","
	      "\"base_url\":\"http://127.0.0.1:9\",\"api_key_env\":null,\"models\":[\"gpt-4o\"]}]}",
	    fp);
	fclose(fp);
	flags = xasprintf("--config %s", path);
	start_env(f, "env -u LLMDECK_TEST_UNSET_KEY", flags, 140, 45, 1);
	free(flags);
	assert_true(tmux_wait_regex(f->t, "keyless +K +no key: LLMDECK_TEST_UNSET_KEY"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dashboard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help_lists_every_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weight_changes_table_and_logs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failover_then_prompt_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_disable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_empties_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tiny_terminal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_80x24_whole_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quit_restores_terminal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_theme_names_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_demo_creates_its_database_in_a_fresh_state_dir,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_listen_serves_applications_through_the_console_router, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_help_has_a_glossary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_markers_and_confirmations_name_the_target, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_probe_result_shows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_counts_failed_requests_not_attempts, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_cmdline_history, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_hides_actions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_theme_lists_themes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_color_turns_themes_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_database_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_provider_without_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_fold_and_filter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
