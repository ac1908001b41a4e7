/* tmux_testutil.c: the console driven in tmux (tmux_testutil.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmux_testutil.h"

const char *
tmux_llmdeck(void)
{
	const char *b = getenv("LLMDECK");

	return b != NULL && *b != '\0' ? b : "build/llmdeck";
}

int
tmux_run(const char *const argv[], struct buf *out)
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

int
tmux_have(void)
{
	const char *argv[] = {"tmux", "-V", NULL};

	return tmux_run(argv, NULL) == 0;
}

struct tmux *
tmux_new(const char *what)
{
	static int n;
	struct tmux *t = xcalloc(1, sizeof *t);

	snprintf(t->sock, sizeof t->sock, "llmdeck-%s-%ld-%d", what, (long)getpid(), n++);
	snprintf(t->dir, sizeof t->dir, "/tmp/llmdeck-%s-XXXXXX", what);
	if (mkdtemp(t->dir) == NULL)
		fail_msg("mkdtemp %s", t->dir);
	return t;
}

void
tmux_free(struct tmux *t)
{
	char *rm;

	if (t == NULL)
		return;
	tmux_cmd(t, "kill-server", NULL, NULL, NULL, NULL);
	rm = xasprintf("rm -rf '%s'", t->dir);
	if (system(rm) != 0)
		print_error("could not remove %s\n", t->dir);
	free(rm);
	free(t);
}

void
tmux_start(struct tmux *t, int w, int h, const char *cmd)
{
	char ws[16], hs[16];
	const char *argv[] = {"tmux", "-L", t->sock, "-f", "/dev/null", "new-session", "-d", "-s",
	    "t", "-x", ws, "-y", hs, cmd, NULL};

	snprintf(ws, sizeof ws, "%d", w);
	snprintf(hs, sizeof hs, "%d", h);
	assert_int_equal(tmux_run(argv, NULL), 0);
}

char *
tmux_capture(struct tmux *t)
{
	const char *argv[] = {"tmux", "-L", t->sock, "capture-pane", "-p", "-t", "t", NULL};
	struct buf b;

	buf_init(&b);
	tmux_run(argv, &b);
	buf_puts(&b, "");
	return buf_detach(&b);
}

int
tmux_wait(struct tmux *t, const char *needle, int absent)
{
	uint64_t end = clock_mono_ms() + TMUX_WAIT_MS;
	char *s = NULL;

	while (clock_mono_ms() < end) {
		free(s);
		s = tmux_capture(t);
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

int
tmux_wait_regex(struct tmux *t, const char *pattern)
{
	uint64_t end = clock_mono_ms() + TMUX_WAIT_MS;
	regex_t re;
	char *s = NULL;
	int found = 0;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	while (!found && clock_mono_ms() < end) {
		free(s);
		s = tmux_capture(t);
		found = regexec(&re, s, 0, NULL, 0) == 0;
		if (!found)
			usleep(100 * 1000);
	}
	if (!found)
		print_error("screen never matched /%s/; last screen:\n%s\n", pattern, s);
	regfree(&re);
	free(s);
	return found;
}

void
tmux_keys(struct tmux *t, int literal, const char *k)
{
	const char *argv[] = {"tmux", "-L", t->sock, "send-keys", "-t", "t", literal ? "-l" : k,
	    literal ? k : NULL, NULL};

	assert_int_equal(tmux_run(argv, NULL), 0);
}

void
tmux_cmd(struct tmux *t, const char *a, const char *b, const char *c, const char *d, const char *e)
{
	const char *argv[] = {"tmux", "-L", t->sock, a, b, c, d, e, NULL};

	tmux_run(argv, NULL);
}
