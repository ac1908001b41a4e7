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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "testkit.h"
#include "util.h"

#define WAIT_MS 15000

struct tm_fixture {
	char sock[64];
	char dir[64];
	char db[128];
};

static const char *
llmdeck_bin(void)
{
	const char *b = getenv("LLMDECK");

	return b != NULL && *b != '\0' ? b : "build/llmdeck";
}

/* Run argv, capture stdout into out (may be NULL); returns the exit status. */
static int
run(const char *const argv[], struct buf *out)
{
	int fd[2], status;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	if (pipe(fd) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	while ((n = read(fd[0], chunk, sizeof chunk)) > 0)
		if (out != NULL)
			buf_append(out, chunk, (size_t)n);
	close(fd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
have_tmux(void)
{
	const char *argv[] = {"tmux", "-V", NULL};

	return run(argv, NULL) == 0;
}

static char *
capture(struct tm_fixture *f)
{
	const char *argv[] = {"tmux", "-L", f->sock, "capture-pane", "-p", "-t", "t", NULL};
	struct buf b;

	buf_init(&b);
	run(argv, &b);
	buf_puts(&b, "");
	return buf_detach(&b);
}

/* Poll the screen until needle shows (or, with absent, until it is gone). */
static int
wait_screen(struct tm_fixture *f, const char *needle, int absent)
{
	uint64_t end = clock_mono_ms() + WAIT_MS;
	char *s = NULL;

	while (clock_mono_ms() < end) {
		free(s);
		s = capture(f);
		if ((strstr(s, needle) != NULL) != absent) {
			free(s);
			return 1;
		}
		usleep(100 * 1000);
	}
	print_error("screen never %s \"%s\"; last screen:\n%s\n", absent ? "lost" : "showed",
	    needle, s);
	free(s);
	return 0;
}

static void
keys(struct tm_fixture *f, int literal, const char *k)
{
	const char *argv[] = {"tmux", "-L", f->sock, "send-keys", "-t", "t", literal ? "-l" : k,
	    literal ? k : NULL, NULL};

	assert_int_equal(run(argv, NULL), 0);
}

static void
tmux_cmd(struct tm_fixture *f, const char *a, const char *b, const char *c, const char *d,
    const char *e)
{
	const char *argv[] = {"tmux", "-L", f->sock, a, b, c, d, e, NULL};

	run(argv, NULL);
}

/* Start the console with extra flags; waits for the dashboard. */
static void
start(struct tm_fixture *f, const char *flags, int wait_dashboard)
{
	char *cmd = xasprintf("LANG=C.UTF-8 %s --demo --db %s %s; echo EXIT=$?; sleep 120",
	    llmdeck_bin(), f->db, flags);
	const char *argv[] = {"tmux", "-L", f->sock, "-f", "/dev/null", "new-session", "-d", "-s",
	    "t", "-x", "140", "-y", "45", cmd, NULL};

	assert_int_equal(run(argv, NULL), 0);
	free(cmd);
	if (wait_dashboard)
		assert_true(wait_screen(f, "Providers", 0));
}

static int
setup(void **state)
{
	static int n;
	struct tm_fixture *f;

	if (!have_tmux()) {
		*state = NULL; /* each test then says testkit_missing("tmux") */
		return 0;
	}
	f = xcalloc(1, sizeof *f);
	snprintf(f->sock, sizeof f->sock, "llmdeck-test-%ld-%d", (long)getpid(), n++);
	snprintf(f->dir, sizeof f->dir, "/tmp/llmdeck-console-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof f->db, "%s/test.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct tm_fixture *f = *state;
	char *rm;

	if (f == NULL)
		return 0;
	tmux_cmd(f, "kill-server", NULL, NULL, NULL, NULL);
	rm = xasprintf("rm -rf '%s'", f->dir);
	if (system(rm) != 0)
		print_error("could not remove %s\n", f->dir);
	free(rm);
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
	assert_true(wait_screen(f, "DEMO", 0));
	for (size_t i = 0; i < 5; i++)
		assert_true(wait_screen(f, names[i], 0));
	assert_true(wait_screen(f, "Budget today", 0));
	assert_true(wait_screen(f, "Cache", 0));
	assert_true(wait_screen(f, "Events", 0));
	assert_true(wait_screen(f, "Latency: anthropic", 0));
	/* Live traffic: a p50 shows up for the first provider. */
	assert_true(wait_screen(f, "p50 ", 0));
}

static void
test_help_lists_every_command(void **state)
{
	struct tm_fixture *f = *state;
	const char *argv[] = {llmdeck_bin(), "--demo", "--commands", NULL};
	struct buf out;
	char *line, *save = NULL;
	int n = 0;

	NEED_TMUX(f);
	buf_init(&out);
	assert_int_equal(run(argv, &out), 0);
	buf_puts(&out, "");
	start(f, "", 1);
	keys(f, 0, "?");
	assert_true(wait_screen(f, "Keys and commands", 0));
	for (line = strtok_r(out.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], *needle;
		if (sscanf(line, "%63s", name) != 1)
			continue;
		needle = xasprintf(":%s", name);
		assert_true(wait_screen(f, needle, 0));
		free(needle);
		n++;
	}
	assert_true(n >= 20);
	keys(f, 0, "Escape");
	assert_true(wait_screen(f, "Keys and commands", 1));
	buf_free(&out);
}

static void
test_weight_changes_table_and_logs(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	keys(f, 1, ":weight openai 0.5");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "0.50*", 0));
	assert_true(wait_screen(f, "openai weight 3.00 -> 0.50", 0));
	/* A bad value is refused with a message, nothing changes. */
	keys(f, 1, ":weight openai lots");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "expected a number", 0));
	/* Tab completes commands and provider names. */
	keys(f, 1, ":prio");
	keys(f, 0, "Tab");
	keys(f, 1, "mis");
	keys(f, 0, "Tab");
	keys(f, 1, "3");
	assert_true(wait_screen(f, ":priority mistral 3", 0));
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "mistral priority 1 -> 3", 0));
	/* The config's range (config_limits.h), not a narrower one: 5000 can be set and raised. */
	keys(f, 1, ":priority mistral 5000");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "mistral priority 3 -> 5000", 0));
	keys(f, 1, ":raise mistral");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "mistral priority 5000 -> 4999", 0));
}

static void
test_failover_then_prompt_elsewhere(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "", 1);
	keys(f, 0, "f");
	assert_true(wait_screen(f, "(y/n)", 0));
	keys(f, 0, "y");
	assert_true(wait_screen(f, "anthropic drained", 0));
	assert_true(wait_screen(f, "operator: failover: anthropic drained", 0));
	keys(f, 0, "p");
	assert_true(wait_screen(f, "Test prompt", 0));
	keys(f, 1, "Which provider answers? é ✓");
	keys(f, 0, "C-d");
	assert_true(wait_screen(f, "answered by ", 0));
	s = capture(f);
	assert_null(strstr(s, "answered by anthropic"));
	assert_non_null(strstr(s, "attempt 1: "));
	assert_non_null(strstr(s, "You asked: Which provider answers? é ✓"));
	free(s);
	keys(f, 0, "Escape");
	assert_true(wait_screen(f, "Latency:", 0));
}

static void
test_enable_disable(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	keys(f, 0, "j");
	assert_true(wait_screen(f, ">openai", 0));
	keys(f, 0, "d");
	assert_true(wait_screen(f, "(y/n)", 0));
	keys(f, 0, "n");
	assert_true(wait_screen(f, "cancelled", 0));
	keys(f, 0, "d");
	assert_true(wait_screen(f, "(y/n)", 0));
	keys(f, 0, "y");
	assert_true(wait_screen(f, "openai disabled", 0));
	assert_true(wait_screen(f, "operator: openai enabled -> disabled", 0));
	keys(f, 1, ":enable openai");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "operator: openai disabled -> enabled", 0));
}

static void
test_flush_empties_cache(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--demo-rate 40", 1);
	assert_true(wait_screen(f, "entries 0 ", 1)); /* the load fills the cache */
	keys(f, 0, "F");
	assert_true(wait_screen(f, "(y/n)", 0));
	keys(f, 0, "y");
	assert_true(wait_screen(f, "operator: cache flushed", 0));
	assert_true(wait_screen(f, "cache flushed:", 0));
}

static void
test_tiny_terminal(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "", 1);
	tmux_cmd(f, "resize-window", "-t", "t", "-x", "30");
	tmux_cmd(f, "resize-window", "-t", "t", "-y", "8");
	assert_true(wait_screen(f, "terminal too small", 0));
	assert_true(wait_screen(f, "(need 80x24)", 0));
	tmux_cmd(f, "resize-window", "-t", "t", "-x", "140");
	tmux_cmd(f, "resize-window", "-t", "t", "-y", "45");
	assert_true(wait_screen(f, "Providers", 0));
	assert_true(wait_screen(f, "terminal too small", 1));
}

static void
test_quit_restores_terminal(void **state)
{
	struct tm_fixture *f = *state;
	char *s;

	NEED_TMUX(f);
	start(f, "", 1);
	keys(f, 0, "q");
	assert_true(wait_screen(f, "EXIT=", 0));
	s = capture(f);
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
	assert_true(wait_screen(f, "read-only", 0));
	keys(f, 0, "f");
	assert_true(wait_screen(f, "read-only: \"failover\" refused", 0));
	keys(f, 1, ":weight openai 0.5");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "read-only: \"weight\" refused", 0));
	keys(f, 0, "p");
	assert_true(wait_screen(f, "read-only: \"prompt\" refused", 0));
	s = capture(f);
	assert_null(strstr(s, "0.50*"));
	assert_null(strstr(s, "drained"));
	free(s);
	keys(f, 0, "?"); /* looking is allowed */
	assert_true(wait_screen(f, "Keys and commands", 0));
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
	assert_true(wait_screen(f, "broken.theme:3:", 0));
	assert_true(wait_screen(f, "using the default theme", 0));
	/* Live switch to a good one, then to a missing one. */
	keys(f, 1, ":theme light");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "theme light", 0));
	keys(f, 1, ":theme nosuch");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "nosuch.theme", 0));
}

static void
test_drill(void **state)
{
	struct tm_fixture *f = *state;

	NEED_TMUX(f);
	start(f, "--demo-rate 20", 1);
	keys(f, 1, ":drill mistral down");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "drill down on mistral", 0));
	keys(f, 1, ":drill mistral none");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "drill none on mistral", 0));
	keys(f, 1, ":drill mistral nonsense");
	keys(f, 0, "Enter");
	assert_true(wait_screen(f, "unknown fault", 0));
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
	    f->dir, llmdeck_bin());
	{
		const char *argv[] = {"tmux", "-L", f->sock, "-f", "/dev/null", "new-session", "-d",
		    "-s", "t", "-x", "140", "-y", "45", cmd, NULL};
		assert_int_equal(run(argv, NULL), 0);
	}
	free(cmd);
	assert_true(wait_screen(f, "Providers", 0));
	assert_true(wait_screen(f, "spent $", 0));
	assert_true(wait_screen(f, "no database", 1));
	db = xasprintf("%s/fresh/state/llmdeck/demo.db", f->dir);
	assert_int_equal(stat(db, &st), 0);
	free(db);
	keys(f, 1, "q");
	assert_true(wait_screen(f, "EXIT=0", 0));
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
	assert_true(wait_screen(f, want, 0));

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
	keys(f, 1, "q");
	assert_true(wait_screen(f, "EXIT=0", 0));
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
	    cmocka_unit_test_setup_teardown(test_quit_restores_terminal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_theme_names_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_demo_creates_its_database_in_a_fresh_state_dir,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_listen_serves_applications_through_the_console_router, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
